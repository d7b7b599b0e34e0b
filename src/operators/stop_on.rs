use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::source::Source;
use crate::{Control, Message};

/// What a flow does with its state when it stops on a cancellation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shutdown {
    /// End the input: every operator flushes, so open windows fire and sinks close.
    Flush,
    /// Stop without ending the input: open windows keep their contents, for a final checkpoint
    /// to save; without one, they are dropped with the flow.
    KeepState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Draining,
    /// The source's last message (a savepoint barrier) went out; the input stops next.
    Closing,
    Done,
}

pin_project! {
    /// The stream returned by [`Flow::stop_on`](crate::Flow::stop_on).
    #[must_use = "streams do nothing unless polled"]
    pub struct StopOn<S> {
        #[pin]
        source: S,
        token: CancellationToken,
        cancelled: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
        shutdown: Shutdown,
        state: State,
    }
}

impl<S> StopOn<S> {
    pub(crate) fn new(source: S, token: CancellationToken, shutdown: Shutdown) -> Self {
        StopOn {
            source,
            token,
            cancelled: None,
            shutdown,
            state: State::Running,
        }
    }
}

impl<S, T> Stream for StopOn<S>
where
    S: Source + Stream<Item = Message<T>>,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        loop {
            match *this.state {
                State::Done => return Poll::Ready(None),
                State::Closing => return Poll::Ready(finish(this.state, *this.shutdown)),
                State::Running if this.token.is_cancelled() => {
                    if this.source.as_mut().stop() {
                        *this.state = State::Draining;
                    } else {
                        *this.state = State::Closing;
                        if let Some(last) = this.source.as_mut().on_shutdown() {
                            return Poll::Ready(Some(last));
                        }
                        continue;
                    }
                }
                State::Running | State::Draining => {}
            }
            match this.source.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Control(Control::End)))
                    if *this.state == State::Draining =>
                {
                    *this.state = State::Closing;
                    if let Some(last) = this.source.as_mut().on_shutdown() {
                        return Poll::Ready(Some(last));
                    }
                }
                Poll::Ready(Some(message)) => {
                    if let Message::Control(control) = &message {
                        if control.is_terminal() {
                            *this.state = State::Done;
                        }
                    }
                    return Poll::Ready(Some(message));
                }
                Poll::Ready(None) => {
                    *this.state = State::Done;
                    return Poll::Ready(None);
                }
                Poll::Pending if *this.state == State::Draining => return Poll::Pending,
                Poll::Pending => {
                    // Wake up when the token is cancelled while the source has nothing.
                    let token = this.token.clone();
                    let cancelled = this
                        .cancelled
                        .get_or_insert_with(|| Box::pin(token.cancelled_owned()));
                    if cancelled.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// Ends the flow as `shutdown` says.
fn finish<T>(state: &mut State, shutdown: Shutdown) -> Option<Message<T>> {
    *state = State::Done;
    match shutdown {
        Shutdown::Flush => Some(Message::Control(Control::End)),
        Shutdown::KeepState => None,
    }
}

impl<S: fmt::Debug> fmt::Debug for StopOn<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopOn")
            .field("source", &self.source)
            .field("shutdown", &self.shutdown)
            .field("state", &self.state)
            .finish()
    }
}
