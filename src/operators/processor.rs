use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::timer::{LookEvery, Timer as Sleep};
use super::MapAsync;
use crate::checkpoint::{Participant, Snapshot};
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
        core: Core<P>,
    }
}

/// Everything but the input: the processor, its timers and outputs, and the operator's place
/// in the checkpoints.
struct Core<P: Processor> {
    processor: P,
    participant: Option<Participant>,
    timers: Timers,
    // The outputs not passed on yet, but the first output of an item, which goes out at once:
    // an item with at most one output never touches the queue. The processor is called only
    // once the queue is empty.
    out: VecDeque<P::Out>,
    pending: Option<Control>,
    phase: Phase,
    watermark: Timestamp,
    clock: Clock,
    sleep: Sleep,
    // The processing time the sleep is armed for, if armed.
    armed_for: Option<Timestamp>,
    // When to look at the sleep between items.
    look: LookEvery,
    counters: Arc<OperatorCounters>,
    // Items in and outputs out, published to `counters` every few hundred.
    tally: Tally,
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
            core: Core {
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
                look: LookEvery::default(),
                counters,
                tally: Tally::default(),
            },
        }
    }
}

impl<P: Processor + Snapshot> Core<P> {
    /// Handles an item, once the outputs before it were passed on; returns its first output,
    /// if any, and queues the others.
    #[inline]
    fn process(&mut self, item: P::In) -> Option<P::Out> {
        debug_assert!(self.out.is_empty());
        // The first output in a local, which stays in registers, not in the queue.
        let mut first = None;
        let mut ctx = processor::Context {
            slot: &mut first,
            out: &mut self.out,
            timers: &mut self.timers,
            watermark: self.watermark,
            clock: &self.clock,
        };
        self.processor.process(item, &mut ctx);
        // A timer set by the call may be earlier than the armed one.
        self.arm();
        first
    }

    /// Makes `calls` into the processor, with one context, once the outputs before them were
    /// passed on; queues all their outputs, in order.
    #[inline]
    fn queued(&mut self, calls: impl FnOnce(&mut P, &mut processor::Context<'_, P::Out>)) {
        debug_assert!(self.out.is_empty());
        let mut first = None;
        let mut ctx = processor::Context {
            slot: &mut first,
            out: &mut self.out,
            timers: &mut self.timers,
            watermark: self.watermark,
            clock: &self.clock,
        };
        calls(&mut self.processor, &mut ctx);
        // The queue holds the outputs after the first.
        if let Some(first) = first {
            self.out.push_front(first);
        }
    }

    /// On the first poll: restores the state and timers from the checkpoint, then opens.
    #[cold]
    #[inline(never)]
    fn start(&mut self) {
        self.phase = Phase::Running;
        if let Some(participant) = &self.participant {
            match participant.restore(|bytes| processor::state::decode(&mut self.processor, bytes))
            {
                Ok(Some(timers)) => self.timers = timers,
                Ok(None) => {}
                Err(error) => {
                    self.phase = Phase::Done;
                    self.pending = Some(Control::Failed(Box::new(Error::from(error))));
                    return;
                }
            }
        }
        self.queued(|processor, ctx| processor.open(ctx));
        self.arm();
    }

    /// Fires the processing-time timers that are due.
    #[cold]
    #[inline(never)]
    fn fire_processing_timers(&mut self) {
        self.armed_for = None;
        let now = self.clock.now();
        self.queued(|processor, ctx| {
            while let Some(at) = ctx.timers.pop_due(TimeDomain::ProcessingTime, now) {
                let timer = Timer {
                    timestamp: at,
                    domain: TimeDomain::ProcessingTime,
                };
                processor.on_timer(timer, ctx);
            }
        });
        self.arm();
    }

    /// Handles a control message from upstream, which goes out after the outputs it causes.
    #[inline(never)]
    fn control(&mut self, control: Control) {
        match control {
            Control::Watermark(watermark) if watermark > self.watermark => {
                self.watermark = watermark;
                self.queued(|processor, ctx| {
                    while let Some(at) = ctx.timers.pop_due(TimeDomain::EventTime, watermark) {
                        let timer = Timer {
                            timestamp: at,
                            domain: TimeDomain::EventTime,
                        };
                        processor.on_timer(timer, ctx);
                    }
                    processor.on_watermark(watermark, ctx);
                });
                self.counters.set_watermark(watermark);
            }
            Control::Barrier(barrier) => {
                // The state after exactly the items before the barrier; their outputs are
                // buffered, and go out before the barrier.
                if let Some(participant) = &self.participant {
                    let state = processor::state::encode(&self.processor, &self.timers);
                    participant.ack(&barrier, state);
                }
            }
            Control::End => {
                self.queued(|processor, ctx| processor.close(ctx));
                self.timers.processing.clear();
                if let Some(participant) = &self.participant {
                    participant.finish(processor::state::encode(&self.processor, &self.timers));
                }
                self.phase = Phase::Done;
            }
            ref other if other.is_terminal() => self.phase = Phase::Done,
            _ => {}
        }
        self.pending = Some(control);
        self.arm();
    }

    /// Whether anything but the next item (or a look at the processing-time timer) is due:
    /// queued outputs, a control message, the start or the end.
    #[inline]
    fn busy(&self) -> bool {
        !self.out.is_empty() || self.pending.is_some() || self.phase != Phase::Running
    }

    /// Passes on the queued outputs then the control message after them, starts and ends;
    /// `None` once it is the next item's turn.
    #[inline(never)]
    fn poll_busy(&mut self) -> Option<Poll<Option<Message<P::Out>>>> {
        loop {
            if let Some(output) = self.out.pop_front() {
                self.tally.count_out(&self.counters);
                return Some(Poll::Ready(Some(Message::Data(output))));
            }
            if let Some(control) = self.pending.take() {
                if !matches!(control, Control::Watermark(_)) {
                    self.tally.publish(&self.counters);
                }
                return Some(Poll::Ready(Some(Message::Control(control))));
            }
            match self.phase {
                Phase::Running => {}
                Phase::Start => {
                    self.start();
                    continue;
                }
                Phase::Done => {
                    self.tally.publish(&self.counters);
                    return Some(Poll::Ready(None));
                }
            }
            return None;
        }
    }

    /// Arms the sleep for the earliest processing-time timer, if that changed.
    #[inline]
    fn arm(&mut self) {
        let Some(&at) = self.timers.processing.first() else {
            return;
        };
        if self.armed_for != Some(at) {
            self.sleep.arm(self.clock.instant_at(at));
            self.armed_for = Some(at);
        }
    }
}

impl<S, P> Stream for Process<S, P>
where
    S: Stream<Item = Message<P::In>>,
    P: Processor + Snapshot,
{
    type Item = Message<P::Out>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let core = this.core;
        loop {
            if core.busy() {
                if let Some(poll) = core.poll_busy() {
                    return poll;
                }
            }
            // A look at the processing-time timer: after every wait, and every few items.
            if core.armed_for.is_some() && core.look.due() && core.sleep.poll_fired(cx).is_ready() {
                core.fire_processing_timers();
                continue;
            }
            // The items, while they emit nothing and no timer is armed (with one, each item goes
            // back to the look above): nothing else is due in between. An item's first output
            // goes out at once, any others next.
            loop {
                match this.stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Message::Data(item))) => {
                        core.tally.count_in(&core.counters);
                        if let Some(output) = core.process(item) {
                            core.tally.count_out(&core.counters);
                            return Poll::Ready(Some(Message::Data(output)));
                        }
                        if core.armed_for.is_some() {
                            // A processing-time timer may be due before the next item.
                            break;
                        }
                    }
                    Poll::Ready(Some(Message::Control(control))) => {
                        core.control(control);
                        break;
                    }
                    Poll::Ready(None) => {
                        core.phase = Phase::Done;
                        break;
                    }
                    Poll::Pending => {
                        if core.armed_for.is_some() {
                            // Waiting for input: the timer must wake this task.
                            if core.sleep.poll_fired(cx).is_ready() {
                                core.fire_processing_timers();
                                break;
                            }
                            core.look.waiting();
                        }
                        core.tally.publish(&core.counters);
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.core.out.len(), None)
    }
}

impl<S: fmt::Debug, P: Processor + fmt::Debug> fmt::Debug for Process<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("stream", &self.stream)
            .field("processor", &self.core.processor)
            .field("watermark", &self.core.watermark)
            .field("event_timers", &self.core.timers.event.len())
            .field("processing_timers", &self.core.timers.processing.len())
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
