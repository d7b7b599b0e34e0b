use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::filter`](crate::Flow::filter).
    #[must_use = "streams do nothing unless polled"]
    pub struct Filter<S, P> {
        #[pin]
        stream: S,
        predicate: P,
    }
}

impl<S, P> Filter<S, P> {
    pub(crate) fn new(stream: S, predicate: P) -> Self {
        Filter { stream, predicate }
    }
}

impl<S, P, T> Stream for Filter<S, P>
where
    S: Stream<Item = Message<T>>,
    P: FnMut(&T) -> bool,
{
    type Item = Message<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        loop {
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(Message::Data(item)) => {
                    if (this.predicate)(&item) {
                        return Poll::Ready(Some(Message::Data(item)));
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}

impl<S: fmt::Debug, P> fmt::Debug for Filter<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("stream", &self.stream)
            .finish()
    }
}
