use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::checkpoint::{self, Participant, Trigger};
use crate::source::{Position, Source};
use crate::time::Clock;
use crate::{Barrier, Control, Error, Message};

/// The most items between two looks at the triggers. A look reads the clock (about 25 ns here,
/// more with tokio's test clock), so looking every 128 items cost about 1% of a light flow's
/// throughput; every 1,024 it is about 0.1%. A source that is always ready then sends a
/// time-triggered barrier at most 1,024 items late, which is microseconds at the rates where it
/// matters; a source that waits for input looks at every wait.
const CLOCK_EVERY: u32 = 1024;

/// The state version of a source's position.
const POSITION_VERSION: u32 = 1;

pin_project! {
    /// The stream returned by [`Flow::checkpointed`](crate::Flow::checkpointed): a source that
    /// restores its position from the flow's checkpoint and injects checkpoint barriers.
    #[must_use = "streams do nothing unless polled"]
    pub struct Checkpointed<S> {
        #[pin]
        source: S,
        participant: Participant,
        trigger: Trigger,
        // The id of the last barrier injected.
        injected: u64,
        // Items since this source's last event-count checkpoint, as of the last look.
        since_barrier: u64,
        // Items until the next look at the triggers (event count, clock, checkpoints triggered
        // elsewhere), and how many items that look covers: one countdown per item is all the
        // item path pays. 0 also when the next poll must go through the checks first (a
        // barrier, a yield, a control message); the items left to count then wait in `resume`.
        countdown: u64,
        resume: u64,
        stride: u64,
        // The barrier to send before the next item.
        pending: Option<Barrier>,
        // A barrier just went out: yield once, so that the task saving checkpoints runs even
        // when this source is always ready (a current-thread runtime runs one task at a time,
        // and a woken task waits in the worker's LIFO slot, which no other worker steals).
        yield_next: bool,
        // The next time-based checkpoint; created on the first poll, inside the runtime.
        deadline: Option<Pin<Box<Sleep>>>,
        state: State,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not polled yet: the position is restored on the first poll.
    Start,
    Running,
    /// The final barrier went out; the end of input follows.
    Ending,
    Done,
}

impl<S> Checkpointed<S> {
    pub(crate) fn new(source: S, participant: Participant) -> Self {
        let trigger = participant.checkpoints().trigger_policy();
        let injected = participant.checkpoints().triggered();
        Checkpointed {
            source,
            participant,
            trigger,
            injected,
            since_barrier: 0,
            // The first poll goes through the checks (restoring the position), then counts.
            countdown: 0,
            resume: next_stride(trigger, 0),
            stride: next_stride(trigger, 0),
            pending: None,
            yield_next: false,
            deadline: None,
            state: State::Start,
        }
    }
}

impl<S, T> Stream for Checkpointed<S>
where
    S: Source<Item = Message<T>>,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        if *this.countdown == 0 {
            // The checks: a yield, the state, a barrier to send, and the triggers when the
            // countdown ran out. Every way out before the source's poll keeps the countdown at 0,
            // so the next poll goes through them again.
            if *this.yield_next {
                *this.yield_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match *this.state {
                State::Start => {
                    *this.state = State::Running;
                    if let Err(error) = restore(this.source.as_mut(), this.participant) {
                        *this.state = State::Done;
                        return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(
                            error,
                        )))));
                    }
                    if let Some(interval) = this.trigger.interval {
                        *this.deadline = Some(Box::pin(tokio::time::sleep(interval)));
                    }
                    *this.pending = due(this.source.as_ref(), this.participant, this.injected);
                }
                State::Running => {}
                State::Ending => {
                    *this.state = State::Done;
                    return Poll::Ready(Some(Message::Control(Control::End)));
                }
                State::Done => return Poll::Ready(None),
            }
            if *this.resume > 0 {
                *this.countdown = std::mem::take(this.resume);
            } else if this.pending.is_none() {
                // The countdown ran out: look at the triggers.
                *this.pending = look(
                    this.source.as_ref(),
                    this.participant,
                    *this.trigger,
                    this.deadline.as_mut(),
                    Counts {
                        injected: this.injected,
                        since_barrier: this.since_barrier,
                        stride: this.stride,
                    },
                );
                *this.countdown = *this.stride;
            }
            // A barrier decided on goes out before the next item.
            if let Some(barrier) = this.pending.take() {
                *this.resume = std::mem::take(this.countdown);
                *this.yield_next = true;
                return Poll::Ready(Some(Message::Control(Control::Barrier(barrier))));
            }
        }
        let polled = this.source.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Message::Data(_))) = polled {
            // The item path: one countdown, and the item passed on as it came.
            *this.countdown -= 1;
            return polled;
        }
        // Whatever else came, the next poll goes through the checks, and the countdown resumes
        // after them.
        *this.resume = std::mem::take(this.countdown);
        match polled {
            Poll::Ready(Some(Message::Data(item))) => Poll::Ready(Some(Message::Data(item))),
            Poll::Ready(Some(Message::Control(Control::End))) => {
                // The final checkpoint: sinks commit everything up to the end of input.
                let id = this.participant.checkpoints().trigger().get();
                let barrier = inject(this.source.as_ref(), this.participant, this.injected, id);
                this.participant
                    .finish(encode_position(this.source.as_ref().get_ref()));
                *this.state = State::Ending;
                *this.yield_next = true;
                Poll::Ready(Some(barrier))
            }
            Poll::Ready(Some(Message::Control(Control::Failed(error)))) => {
                *this.state = State::Done;
                Poll::Ready(Some(Message::Control(Control::Failed(error))))
            }
            Poll::Ready(Some(control)) => {
                *this.pending = due(this.source.as_ref(), this.participant, this.injected);
                Poll::Ready(Some(control))
            }
            Poll::Ready(None) => {
                *this.state = State::Done;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(barrier) = due(this.source.as_ref(), this.participant, this.injected) {
                    *this.yield_next = true;
                    return Poll::Ready(Some(Message::Control(Control::Barrier(barrier))));
                }
                let Some(deadline) = this.deadline else {
                    return Poll::Pending;
                };
                if deadline.as_mut().poll(cx).is_ready() {
                    rearm(deadline.as_mut(), *this.trigger);
                    let id = this.participant.checkpoints().trigger().get();
                    *this.yield_next = true;
                    return Poll::Ready(Some(inject(
                        this.source.as_ref(),
                        this.participant,
                        this.injected,
                        id,
                    )));
                }
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, _) = self.source.size_hint();
        (low, None)
    }
}

impl<S, T> Source for Checkpointed<S>
where
    S: Source<Item = Message<T>>,
{
    fn stop(self: Pin<&mut Self>) -> bool {
        self.project().source.stop()
    }

    /// A savepoint: the barrier of a final checkpoint, unless the final one already went out.
    fn on_shutdown(self: Pin<&mut Self>) -> Option<Message<T>> {
        let this = self.project();
        if *this.state != State::Running {
            return None;
        }
        // A barrier decided on but not sent yet is superseded by the savepoint.
        this.pending.take();
        let id = this.participant.checkpoints().trigger().get();
        Some(inject(
            this.source.as_ref(),
            this.participant,
            this.injected,
            id,
        ))
    }

    /// A checkpointed source reports its position to its checkpoints, not to an outer one.
    fn position(&self) -> Option<Position> {
        None
    }
}

/// Seeks the source to its position in the restored checkpoint, if any.
fn restore<S: Source>(source: Pin<&mut S>, participant: &Participant) -> Result<(), Error> {
    let restored: Option<Option<Position>> =
        participant.restore(|bytes| checkpoint::decode_current(POSITION_VERSION, bytes))?;
    match restored.flatten() {
        Some(position) => source.seek(position),
        None => Ok(()),
    }
}

fn encode_position<S: Source>(source: &S) -> Result<Vec<u8>, checkpoint::StateError> {
    checkpoint::encode_versioned(POSITION_VERSION, &source.position())
}

/// The barrier of checkpoint `id`, after acknowledging it with the source's position.
fn inject<S: Source, T>(
    source: Pin<&S>,
    participant: &Participant,
    injected: &mut u64,
    id: u64,
) -> Message<T> {
    *injected = id;
    let barrier = Barrier::new(id, Clock::new().now());
    participant.ack(&barrier, encode_position(source.get_ref()));
    Message::Control(Control::Barrier(barrier))
}

/// The counters [`look`] updates.
struct Counts<'a> {
    injected: &'a mut u64,
    since_barrier: &'a mut u64,
    stride: &'a mut u64,
}

/// How many items until the next look at the triggers, `since_barrier` items after the last
/// event-count checkpoint.
fn next_stride(trigger: Trigger, since_barrier: u64) -> u64 {
    let to_trigger = trigger.events.map_or(u64::from(CLOCK_EVERY), |every| {
        every.saturating_sub(since_barrier)
    });
    to_trigger.clamp(1, u64::from(CLOCK_EVERY))
}

/// Every few items: triggers this source's checkpoint when its event count or its interval is
/// reached, and returns the barrier of any checkpoint triggered since the last one (here or
/// elsewhere), to send before the next item.
#[cold]
#[inline(never)]
fn look<S: Source>(
    source: Pin<&S>,
    participant: &Participant,
    trigger: Trigger,
    deadline: Option<&mut Pin<Box<Sleep>>>,
    counts: Counts<'_>,
) -> Option<Barrier> {
    *counts.since_barrier += *counts.stride;
    if trigger
        .events
        .is_some_and(|every| *counts.since_barrier >= every)
    {
        *counts.since_barrier = 0;
        participant.checkpoints().trigger();
    }
    if let Some(deadline) = deadline {
        if deadline.deadline() <= Instant::now() {
            rearm(deadline.as_mut(), trigger);
            participant.checkpoints().trigger();
        }
    }
    *counts.stride = next_stride(trigger, *counts.since_barrier);
    due(source, participant, counts.injected)
}

/// The barrier of the newest triggered checkpoint, acknowledged with the source's position,
/// if one was triggered since the last barrier.
#[inline(never)]
fn due<S: Source>(
    source: Pin<&S>,
    participant: &Participant,
    injected: &mut u64,
) -> Option<Barrier> {
    let triggered = participant.checkpoints().triggered();
    if triggered <= *injected {
        return None;
    }
    *injected = triggered;
    let barrier = Barrier::new(triggered, Clock::new().now());
    participant.ack(&barrier, encode_position(source.get_ref()));
    Some(barrier)
}

fn rearm(deadline: Pin<&mut Sleep>, trigger: Trigger) {
    if let Some(interval) = trigger.interval {
        deadline.reset(Instant::now() + interval);
    }
}

impl<S: fmt::Debug> fmt::Debug for Checkpointed<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpointed")
            .field("source", &self.source)
            .field("participant", &self.participant)
            .field("injected", &self.injected)
            .finish_non_exhaustive()
    }
}
