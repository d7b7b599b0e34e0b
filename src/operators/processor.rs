use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::timer::Timer as Sleep;
use super::MapAsync;
use crate::checkpoint::{CheckpointError, Participant, Snapshot};
use crate::keyed::{TimeDomain, Timer};
use crate::metrics::{OperatorCounters, Tally};
use crate::processor::{self, AsyncProcessor, Processor, Timers};
use crate::time::{Clock, Timestamp};
use crate::{Control, Error, Message};

pin_project! {
    /// The stream returned by [`Flow::process`](crate::Flow::process).
    #[must_use = "streams do nothing unless polled"]
    pub struct Process<S, P>
    where
        P: Processor,
    {
        #[pin]
        stream: S,
        processor: P,
        participant: Option<Participant>,
        timers: Timers,
        out: VecDeque<P::Out>,
        pending: Option<Control>,
        phase: Phase,
        watermark: Timestamp,
        clock: Clock,
        sleep: Sleep,
        // The processing time the sleep is armed for, if armed.
        armed_for: Option<Timestamp>,
        counters: Arc<OperatorCounters>,
        // Items in and outputs out, published to `counters` every few hundred.
        tally: Tally,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not polled yet: restore, then open.
    Start,
    Running,
    /// A terminal control message was taken from upstream; nothing more is.
    Done,
}

impl<S, P: Processor> Process<S, P> {
    pub(crate) fn new(
        stream: S,
        processor: P,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
    ) -> Self {
        Process {
            stream,
            processor,
            participant,
            timers: Timers::default(),
            out: VecDeque::new(),
            pending: None,
            phase: Phase::Start,
            watermark: Timestamp::MIN,
            clock: Clock::new(),
            sleep: Sleep::default(),
            armed_for: None,
            counters,
            tally: Tally::default(),
        }
    }
}

/// Builds the context of one call into the processor.
macro_rules! context {
    ($this:ident) => {
        processor::Context {
            out: $this.out,
            timers: $this.timers,
            watermark: *$this.watermark,
            clock: $this.clock,
        }
    };
}

impl<S, P> Stream for Process<S, P>
where
    S: Stream<Item = Message<P::In>>,
    P: Processor + Snapshot,
{
    type Item = Message<P::Out>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(output) = this.out.pop_front() {
                this.tally.count_out(this.counters);
                return Poll::Ready(Some(Message::Data(output)));
            }
            if let Some(control) = this.pending.take() {
                if !matches!(control, Control::Watermark(_)) {
                    this.tally.publish(this.counters);
                }
                return Poll::Ready(Some(Message::Control(control)));
            }
            match *this.phase {
                Phase::Start => {
                    *this.phase = Phase::Running;
                    if let Some(participant) = this.participant {
                        if let Some(bytes) = participant.restored() {
                            match processor::state::decode(this.processor, bytes) {
                                Ok(timers) => *this.timers = timers,
                                Err(error) => {
                                    *this.phase = Phase::Done;
                                    let error = CheckpointError::State {
                                        operator: participant.id(),
                                        error,
                                    };
                                    *this.pending =
                                        Some(Control::Failed(Box::new(Error::from(error))));
                                    continue;
                                }
                            }
                        }
                    }
                    this.processor.open(&mut context!(this));
                    arm(this.clock, this.timers, this.sleep, this.armed_for);
                    continue;
                }
                Phase::Done => {
                    this.tally.publish(this.counters);
                    return Poll::Ready(None);
                }
                Phase::Running => {}
            }
            if this.armed_for.is_some() && this.sleep.poll_fired(cx).is_ready() {
                *this.armed_for = None;
                let now = this.clock.now();
                while let Some(at) = this.timers.pop_due(TimeDomain::ProcessingTime, now) {
                    let timer = Timer {
                        timestamp: at,
                        domain: TimeDomain::ProcessingTime,
                    };
                    this.processor.on_timer(timer, &mut context!(this));
                }
                arm(this.clock, this.timers, this.sleep, this.armed_for);
                continue;
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => {
                    this.tally.publish(this.counters);
                    return Poll::Pending;
                }
                Poll::Ready(Some(Message::Data(item))) => {
                    this.tally.count_in(this.counters);
                    this.processor.process(item, &mut context!(this));
                }
                Poll::Ready(Some(Message::Control(Control::Watermark(watermark)))) => {
                    if watermark > *this.watermark {
                        *this.watermark = watermark;
                        while let Some(at) = this.timers.pop_due(TimeDomain::EventTime, watermark)
                        {
                            let timer = Timer {
                                timestamp: at,
                                domain: TimeDomain::EventTime,
                            };
                            this.processor.on_timer(timer, &mut context!(this));
                        }
                        this.processor.on_watermark(watermark, &mut context!(this));
                        this.counters.set_watermark(watermark);
                    }
                    *this.pending = Some(Control::Watermark(watermark));
                }
                Poll::Ready(Some(Message::Control(Control::Barrier(barrier)))) => {
                    // The state after exactly the items before the barrier; their outputs are
                    // buffered, and go out before the barrier.
                    if let Some(participant) = this.participant {
                        participant.ack(
                            &barrier,
                            processor::state::encode(&*this.processor, this.timers),
                        );
                    }
                    *this.pending = Some(Control::Barrier(barrier));
                }
                Poll::Ready(Some(Message::Control(Control::End))) => {
                    this.processor.close(&mut context!(this));
                    this.timers.processing.clear();
                    if let Some(participant) = this.participant {
                        participant.finish(processor::state::encode(&*this.processor, this.timers));
                    }
                    *this.phase = Phase::Done;
                    *this.pending = Some(Control::End);
                }
                Poll::Ready(Some(Message::Control(control))) => {
                    if control.is_terminal() {
                        *this.phase = Phase::Done;
                    }
                    *this.pending = Some(control);
                }
                Poll::Ready(None) => *this.phase = Phase::Done,
            }
            // Timers set while handling the message may be earlier than the armed one.
            arm(this.clock, this.timers, this.sleep, this.armed_for);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.out.len(), None)
    }
}

/// Arms the sleep for the earliest processing-time timer, if that changed.
fn arm(clock: &Clock, timers: &Timers, sleep: &mut Sleep, armed_for: &mut Option<Timestamp>) {
    let Some(&at) = timers.processing.first() else {
        return;
    };
    if *armed_for != Some(at) {
        sleep.arm(clock.instant_at(at));
        *armed_for = Some(at);
    }
}

impl<S: fmt::Debug, P: Processor + fmt::Debug> fmt::Debug for Process<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("stream", &self.stream)
            .field("processor", &self.processor)
            .field("watermark", &self.watermark)
            .field("event_timers", &self.timers.event.len())
            .field("processing_timers", &self.timers.processing.len())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The stream returned by [`Flow::process_async`](crate::Flow::process_async).
    #[must_use = "streams do nothing unless polled"]
    pub struct ProcessAsync<S, P>
    where
        P: AsyncProcessor,
    {
        // The calls are started as the async map pulls items, so no more than its limit are.
        #[pin]
        inner: MapAsync<Calls<S, P>, fn(P::Future) -> P::Future, P::Future>,
    }
}

impl<S, P: AsyncProcessor> ProcessAsync<S, P> {
    pub(crate) fn new(stream: S, processor: P, limit: usize) -> Self {
        let calls = Calls { stream, processor };
        ProcessAsync {
            inner: MapAsync::new(calls, limit, identity::<P::Future>),
        }
    }
}

fn identity<T>(value: T) -> T {
    value
}

impl<S, P> Stream for ProcessAsync<S, P>
where
    S: Stream<Item = Message<P::In>>,
    P: AsyncProcessor,
{
    type Item = Message<P::Out>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().inner.poll_next(cx)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S: fmt::Debug, P: AsyncProcessor + fmt::Debug> fmt::Debug for ProcessAsync<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessAsync")
            .field("inner", &self.inner)
            .finish()
    }
}

pin_project! {
    /// Starts the processor's call for each item as it is pulled.
    #[derive(Debug)]
    pub(crate) struct Calls<S, P> {
        #[pin]
        stream: S,
        processor: P,
    }
}

impl<S, P> Stream for Calls<S, P>
where
    S: Stream<Item = Message<P::In>>,
    P: AsyncProcessor,
{
    type Item = Message<P::Future>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let processor = this.processor;
        this.stream
            .poll_next(cx)
            .map(|message| message.map(|message| message.map(|item| processor.call(item))))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

