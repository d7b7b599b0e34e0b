use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Interval, Sleep};

use super::timer::LookEvery;
use crate::channel::SideOutput;
use crate::checkpoint::Participant;
use crate::metrics::{DropReason, OperatorCounters, Tally};
use crate::time::{Clock, Timestamp};
use crate::window::{Placement, WindowState};
use crate::{Control, Error, Message};

/// Where a window operator's items get their time.
#[derive(Debug)]
pub(crate) enum TimeMode<TF> {
    /// Event time from a timestamp extractor; windows fire on watermarks.
    Event(TF),
    /// Processing time on tokio's clock; windows fire on timers.
    Processing(Clock),
    /// No time: count and global windows.
    Untimed,
}

/// A timestamp extractor: any `FnMut(&T) -> Timestamp`, or [`NoTime`] for windows without event
/// time.
pub trait Stamp<T> {
    /// The event time of `item`.
    fn stamp(&mut self, item: &T) -> Timestamp;
}

impl<T, F: FnMut(&T) -> Timestamp> Stamp<T> for F {
    #[inline]
    fn stamp(&mut self, item: &T) -> Timestamp {
        self(item)
    }
}

/// The timestamp extractor of windows that do not use event time.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTime;

impl<T> Stamp<T> for NoTime {
    fn stamp(&mut self, _item: &T) -> Timestamp {
        Timestamp::MIN
    }
}

/// Late items: sent to the late output when there is one, else counted.
pub(crate) struct LateHandler<T> {
    output: Option<SideOutput<T>>,
    pending: Option<T>,
    counters: Arc<OperatorCounters>,
}

impl<T: Send + 'static> LateHandler<T> {
    pub(crate) fn new(output: Option<SideOutput<T>>, counters: Arc<OperatorCounters>) -> Self {
        LateHandler {
            output,
            pending: None,
            counters,
        }
    }

    /// Whether no late item waits for room.
    #[inline]
    fn is_ready(&self) -> bool {
        self.pending.is_none()
    }

    /// Sends the late item that waits for room, if any.
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.pending.is_none() {
            return Poll::Ready(());
        }
        self.poll_send(cx)
    }

    #[cold]
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(output) = self.output.as_mut() else {
            return Poll::Ready(());
        };
        match ready!(output.poll_send(cx, &mut self.pending)) {
            Ok(()) => self.counters.drop_one(DropReason::LateOutput),
            Err(()) => {
                self.output = None;
                self.counters.drop_one(DropReason::Late);
            }
        }
        Poll::Ready(())
    }

    #[cold]
    fn late(&mut self, item: T) {
        tracing::trace!(
            operator = %self.counters.name(),
            to_output = self.output.is_some(),
            "late item"
        );
        if self.output.is_some() {
            self.pending = Some(item);
        } else {
            self.counters.drop_one(DropReason::Late);
        }
    }
}

pin_project! {
    /// The stream returned by the window methods of a keyed flow, such as
    /// [`WindowedFlow::aggregate`](crate::keyed::WindowedFlow::aggregate).
    #[must_use = "streams do nothing unless polled"]
    pub struct KeyedWindow<S, KF, TF, St, T>
    where
        St: WindowState<T>,
    {
        #[pin]
        stream: S,
        key: KF,
        time: TimeMode<TF>,
        state: St,
        out: VecDeque<St::Output>,
        // The last watermark received, forwarded lazily: consecutive watermarks with no output
        // between them reach downstream as the last one.
        held: Option<Timestamp>,
        coalesced: u32,
        // The held watermark must go out before the results in `out` (they fired late, after it).
        watermark_first: bool,
        pending: Option<Control>,
        done: bool,
        late: LateHandler<T>,
        early: Option<Interval>,
        timer: Option<Pin<Box<Sleep>>>,
        armed: bool,
        // When to look at the early-firing ticker and the processing-time timer.
        look: LookEvery,
        counters: Arc<OperatorCounters>,
        // The operator's part in the flow's checkpoints; restored from on the first poll.
        participant: Option<Participant>,
        restored: bool,
        // Items in and results out (counted as they fire), published to `counters` every few
        // hundred.
        tally: Tally,
        _item: PhantomData<fn(T)>,
    }
}

impl<S, KF, TF, St, T> KeyedWindow<S, KF, TF, St, T>
where
    St: WindowState<T>,
{
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream: S,
        key: KF,
        time: TimeMode<TF>,
        state: St,
        late: LateHandler<T>,
        early: Option<std::time::Duration>,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
    ) -> Self {
        let early = early.map(|period| {
            let start = tokio::time::Instant::now() + period;
            let mut interval = tokio::time::interval_at(start, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        let armed = !matches!(time, TimeMode::Processing(_));
        KeyedWindow {
            stream,
            key,
            time,
            state,
            out: VecDeque::new(),
            held: None,
            coalesced: 0,
            watermark_first: false,
            pending: None,
            done: false,
            late,
            early,
            timer: None,
            // Only processing-time windows arm a timer.
            armed,
            look: LookEvery::default(),
            counters,
            participant,
            restored: false,
            tally: Tally::default(),
            _item: PhantomData,
        }
    }
}

impl<S, KF, TF, St, T, K> Stream for KeyedWindow<S, KF, TF, St, T>
where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
    TF: Stamp<T>,
    St: WindowState<T, Key = K>,
    T: Send + 'static,
{
    type Item = Message<St::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        // Whether this poll looked at the timers.
        let mut looked = false;
        if !*this.restored {
            *this.restored = true;
            if let Err(error) = restore(this.participant.as_ref(), this.state) {
                *this.done = true;
                return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(error)))));
            }
        }
        loop {
            if *this.watermark_first {
                *this.watermark_first = false;
                if let Some(watermark) = this.held.take() {
                    return Poll::Ready(Some(Message::Control(Control::Watermark(watermark))));
                }
            }
            if let Some(result) = this.out.pop_front() {
                return Poll::Ready(Some(Message::Data(result)));
            }
            if this.pending.is_some() || *this.done || *this.coalesced >= MAX_COALESCED {
                *this.coalesced = 0;
                if let Some(watermark) = this.held.take() {
                    return Poll::Ready(Some(Message::Control(Control::Watermark(watermark))));
                }
            }
            if let Some(control) = this.pending.take() {
                // After the results that came before it.
                this.tally.publish(this.counters);
                return Poll::Ready(Some(Message::Control(control)));
            }
            if *this.done {
                this.tally.publish(this.counters);
                return Poll::Ready(None);
            }
            ready!(this.late.poll_ready(cx));
            // The timers are looked at after every wait and every few messages, not before
            // every message: items advance processing-time windows themselves.
            let look = this.look.due();
            looked |= look;
            if let (true, Some(early)) = (look, this.early.as_mut()) {
                if early.poll_tick(cx).is_ready() {
                    this.state.fire_early(this.out);
                    fired(this.tally, this.counters, this.out.len(), "early");
                    *this.watermark_first = this.held.is_some();
                    continue;
                }
            }
            // Only an armed timer is polled: one that fired stays ready, and with no window left
            // to close it is not re-armed.
            if let (true, true, TimeMode::Processing(clock), Some(timer)) =
                (look, *this.armed, &*this.time, this.timer.as_mut())
            {
                if timer.as_mut().poll(cx).is_ready() {
                    *this.armed = false;
                    this.state
                        .advance(clock.now().saturating_sub_millis(1), this.out);
                    fired(this.tally, this.counters, this.out.len(), "timer");
                    *this.watermark_first = this.held.is_some();
                    arm(this.time, this.state, this.timer, this.armed);
                    continue;
                }
            }
            // The hot path: messages from upstream that fire nothing and need none of the checks
            // above are taken in a tight loop. Early firings and processing-time timers need
            // those checks after every message.
            let hot = this.early.is_none() && !matches!(this.time, TimeMode::Processing(_));
            loop {
                let message = match this.stream.as_mut().poll_next(cx) {
                    Poll::Ready(message) => message,
                    Poll::Pending => {
                        let timed = this.early.is_some()
                            || (*this.armed && matches!(this.time, TimeMode::Processing(_)));
                        if timed {
                            // The next poll looks at the timers first: one may wake this task.
                            this.look.waiting();
                            if !looked {
                                // Back to the checks, to look at (and register) the timers.
                                break;
                            }
                        }
                        this.tally.publish(this.counters);
                        // Nothing more for now: let the watermark through before waiting.
                        return match this.held.take() {
                            Some(watermark) => {
                                *this.coalesced = 0;
                                Poll::Ready(Some(Message::Control(Control::Watermark(watermark))))
                            }
                            None => Poll::Pending,
                        };
                    }
                };
                match message {
                    Some(Message::Data(item)) => {
                        this.tally.count_in(this.counters);
                        let key = (this.key)(&item);
                        let timestamp = match &mut *this.time {
                            TimeMode::Event(stamp) => stamp.stamp(&item),
                            TimeMode::Processing(clock) => {
                                let now = clock.now();
                                this.state.advance(now.saturating_sub_millis(1), this.out);
                                now
                            }
                            TimeMode::Untimed => Timestamp::MIN,
                        };
                        match this.state.add(key, timestamp, item, this.out) {
                            Ok(()) => {}
                            Err((Placement::Late, item)) => this.late.late(item),
                            Err((Placement::Gap, _)) => {
                                this.counters.drop_one(DropReason::OutsideWindows)
                            }
                        }
                        let results = this.out.len();
                        fired(this.tally, this.counters, results, "item");
                        // Results that fire on an item (late or early firings) follow the
                        // watermark that stood before it.
                        *this.watermark_first = results > 0 && this.held.is_some();
                        if !*this.armed {
                            arm(this.time, this.state, this.timer, this.armed);
                        }
                        if hot && results == 0 && this.late.is_ready() {
                            continue;
                        }
                    }
                    Some(Message::Control(Control::Watermark(watermark))) => {
                        if let TimeMode::Event(_) = this.time {
                            // Results fired by this watermark go out before it, so the one held
                            // until now can simply be replaced.
                            this.state.advance(watermark, this.out);
                            fired(this.tally, this.counters, this.out.len(), "watermark");
                        }
                        this.counters.set_watermark(watermark);
                        *this.held = Some(watermark);
                        *this.coalesced += 1;
                        if hot && this.out.is_empty() && *this.coalesced < MAX_COALESCED {
                            continue;
                        }
                    }
                    Some(Message::Control(Control::End)) => {
                        this.state.finish(this.out);
                        fired(this.tally, this.counters, this.out.len(), "end");
                        if let Some(participant) = this.participant {
                            participant.finish(this.state.snapshot());
                        }
                        *this.pending = Some(Control::End);
                        *this.done = true;
                    }
                    Some(Message::Control(Control::Barrier(barrier))) => {
                        // The state now holds exactly the items before the barrier.
                        if let Some(participant) = this.participant {
                            participant.ack(&barrier, this.state.snapshot());
                        }
                        *this.pending = Some(Control::Barrier(barrier));
                    }
                    Some(Message::Control(control)) => {
                        *this.done = control.is_terminal();
                        *this.pending = Some(control);
                    }
                    None => *this.done = true,
                }
                // Every other message, and one that fired or needs the checks above, goes
                // back to them.
                break;
            }
        }
    }
}

/// Restores the window state from the flow's checkpoint, if it holds one for this operator.
fn restore<T, St: WindowState<T>>(
    participant: Option<&Participant>,
    state: &mut St,
) -> Result<(), Error> {
    if let Some(participant) = participant {
        participant.restore(|bytes| state.restore(bytes))?;
    }
    Ok(())
}

/// Counts the `results` that just fired on `trigger` as items out, and emits a trace event for
/// them. Called after every item and watermark: only the check for zero is inline.
#[inline(always)]
fn fired(tally: &mut Tally, counters: &OperatorCounters, results: usize, trigger: &'static str) {
    if results > 0 {
        fired_some(tally, counters, results, trigger);
    }
}

#[cold]
#[inline(never)]
fn fired_some(
    tally: &mut Tally,
    counters: &OperatorCounters,
    results: usize,
    trigger: &'static str,
) {
    tally.count_out_many(results as u64, counters);
    // No formatting cost unless trace events are enabled.
    tracing::trace!(operator = %counters.name(), results, trigger, "windows fired");
}

/// How many watermarks a window operator merges at most before it forwards one.
const MAX_COALESCED: u32 = 256;

/// Arms the processing-time timer for the next window to close.
fn arm<TF, T, St: WindowState<T>>(
    time: &TimeMode<TF>,
    state: &St,
    timer: &mut Option<Pin<Box<Sleep>>>,
    armed: &mut bool,
) {
    let TimeMode::Processing(clock) = time else {
        return;
    };
    let Some(close) = state.next_close() else {
        return;
    };
    // A window closes when processing time passes its last instant.
    let deadline = clock.instant_at(close.saturating_add_millis(1));
    match timer {
        Some(timer) => timer.as_mut().reset(deadline),
        None => *timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
    }
    *armed = true;
}

impl<S: fmt::Debug, KF, TF, St, T> fmt::Debug for KeyedWindow<S, KF, TF, St, T>
where
    St: WindowState<T> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedWindow")
            .field("stream", &self.stream)
            .field("state", &self.state)
            .field("queued", &self.out.len())
            .finish()
    }
}
