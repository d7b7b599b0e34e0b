use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::inspect`](crate::Flow::inspect).
    #[must_use = "streams do nothing unless polled"]
    pub struct Inspect<S, F> {
        #[pin]
        stream: S,
        f: F,
    }
}

impl<S, F> Inspect<S, F> {
    pub(crate) fn new(stream: S, f: F) -> Self {
        Inspect { stream, f }
    }
}

impl<S, F, T> Stream for Inspect<S, F>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(&T),
{
    type Item = Message<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let this = self.project();
        let poll = this.stream.poll_next(cx);
        if let Poll::Ready(Some(Message::Data(item))) = &poll {
            (this.f)(item);
        }
        poll
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

impl<S: fmt::Debug, F> fmt::Debug for Inspect<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspect")
            .field("stream", &self.stream)
            .finish()
    }
}
