use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::checkpoint::{self, CheckpointError, Participant, Trigger};
use crate::source::{Position, Source};
use crate::time::Clock;
use crate::{Barrier, Control, Error, Message};

/// How many items pass between two looks at the clock, for a time-based trigger.
const CLOCK_EVERY: u32 = 128;

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
        // Items since the last barrier, for an event-count trigger.
        since_barrier: u64,
        // Items until the next look at the clock, for a time-based trigger.
        until_clock: u32,
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
            until_clock: CLOCK_EVERY,
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
        match *this.state {
            State::Start => {
                *this.state = State::Running;
                if let Err(error) = restore(this.source.as_mut(), this.participant) {
                    *this.state = State::Done;
                    return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(error)))));
                }
                if let Some(interval) = this.trigger.interval {
                    *this.deadline = Some(Box::pin(tokio::time::sleep(interval)));
                }
            }
            State::Running => {}
            State::Ending => {
                *this.state = State::Done;
                return Poll::Ready(Some(Message::Control(Control::End)));
            }
            State::Done => return Poll::Ready(None),
        }
        // A checkpoint triggered since the last barrier (by this source's trigger, another
        // source's, or by hand) goes out before the next item.
        let triggered = this.participant.checkpoints().triggered();
        if triggered > *this.injected {
            return Poll::Ready(Some(inject(
                this.source.as_ref(),
                this.participant,
                this.injected,
                triggered,
            )));
        }
        match this.source.as_mut().poll_next(cx) {
            Poll::Ready(Some(Message::Data(item))) => {
                *this.since_barrier += 1;
                if this
                    .trigger
                    .events
                    .is_some_and(|every| *this.since_barrier >= every)
                {
                    *this.since_barrier = 0;
                    this.participant.checkpoints().trigger();
                }
                if let Some(deadline) = this.deadline {
                    *this.until_clock -= 1;
                    if *this.until_clock == 0 {
                        *this.until_clock = CLOCK_EVERY;
                        if deadline.deadline() <= Instant::now() {
                            rearm(deadline.as_mut(), *this.trigger);
                            this.participant.checkpoints().trigger();
                        }
                    }
                }
                Poll::Ready(Some(Message::Data(item)))
            }
            Poll::Ready(Some(Message::Control(Control::End))) => {
                // The final checkpoint: sinks commit everything up to the end of input.
                let id = this.participant.checkpoints().trigger().get();
                let barrier = inject(this.source.as_ref(), this.participant, this.injected, id);
                this.participant
                    .finish(encode_position(this.source.as_ref().get_ref()));
                *this.state = State::Ending;
                Poll::Ready(Some(barrier))
            }
            Poll::Ready(Some(Message::Control(Control::Failed(error)))) => {
                *this.state = State::Done;
                Poll::Ready(Some(Message::Control(Control::Failed(error))))
            }
            Poll::Ready(Some(control)) => Poll::Ready(Some(control)),
            Poll::Ready(None) => {
                *this.state = State::Done;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(deadline) = this.deadline else {
                    return Poll::Pending;
                };
                if deadline.as_mut().poll(cx).is_ready() {
                    rearm(deadline.as_mut(), *this.trigger);
                    let id = this.participant.checkpoints().trigger().get();
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
    let Some(bytes) = participant.restored() else {
        return Ok(());
    };
    let position: Option<Position> =
        checkpoint::decode_versioned(POSITION_VERSION, bytes, |version, _| {
            Err(checkpoint::StateError::IncompatibleVersion {
                found: version,
                supported: POSITION_VERSION,
            })
        })
        .map_err(|error| CheckpointError::State {
            operator: participant.id(),
            error,
        })?;
    match position {
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
