use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::checkpoint::Participant;
use crate::{Control, Error, Message};

pin_project! {
    /// The stream returned by [`Flow::into_stream`](crate::Flow::into_stream): data items only.
    #[must_use = "streams do nothing unless polled"]
    pub struct IntoStream<S> {
        #[pin]
        stream: S,
        done: bool,
        // In a checkpointed flow: acknowledges each barrier as it passes the consumer.
        participant: Option<Participant>,
    }
}

impl<S> IntoStream<S> {
    pub(crate) fn new(stream: S, participant: Option<Participant>) -> Self {
        IntoStream {
            stream,
            done: false,
            participant,
        }
    }
}

impl<S, T> Stream for IntoStream<S>
where
    S: Stream<Item = Message<T>>,
{
    type Item = T;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut this = self.project();
        while !*this.done {
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(Message::Data(item)) => return Poll::Ready(Some(item)),
                Some(Message::Control(control)) => {
                    if let Some(participant) = this.participant.as_ref() {
                        participant.on_delivered(&control);
                    }
                    *this.done = control.is_terminal();
                }
                None => *this.done = true,
            }
        }
        Poll::Ready(None)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, self.stream.size_hint().1)
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for IntoStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoStream")
            .field("stream", &self.stream)
            .finish()
    }
}

pin_project! {
    /// The stream returned by [`Flow::into_try_stream`](crate::Flow::into_try_stream): data items,
    /// then the pipeline's error if it fails.
    #[must_use = "streams do nothing unless polled"]
    pub struct IntoTryStream<S> {
        #[pin]
        stream: S,
        done: bool,
        // In a checkpointed flow: acknowledges each barrier as it passes the consumer.
        participant: Option<Participant>,
    }
}

impl<S> IntoTryStream<S> {
    pub(crate) fn new(stream: S, participant: Option<Participant>) -> Self {
        IntoTryStream {
            stream,
            done: false,
            participant,
        }
    }
}

impl<S, T> Stream for IntoTryStream<S>
where
    S: Stream<Item = Message<T>>,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        let mut this = self.project();
        while !*this.done {
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(Message::Data(item)) => return Poll::Ready(Some(Ok(item))),
                Some(Message::Control(Control::Failed(error))) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(*error)));
                }
                Some(Message::Control(control)) => {
                    if let Some(participant) = this.participant.as_ref() {
                        participant.on_delivered(&control);
                    }
                    *this.done = control.is_terminal();
                }
                None => *this.done = true,
            }
        }
        Poll::Ready(None)
    }
}

impl<S: fmt::Debug> fmt::Debug for IntoTryStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoTryStream")
            .field("stream", &self.stream)
            .finish()
    }
}
