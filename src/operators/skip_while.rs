use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::skip_while`](crate::Flow::skip_while).
    #[must_use = "streams do nothing unless polled"]
    pub struct SkipWhile<S, P> {
        #[pin]
        stream: S,
        predicate: P,
        skipping: bool,
    }
}

impl<S, P> SkipWhile<S, P> {
    pub(crate) fn new(stream: S, predicate: P) -> Self {
        SkipWhile {
            stream,
            predicate,
            skipping: true,
        }
    }
}

impl<S, P, T> Stream for SkipWhile<S, P>
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
                Some(Message::Data(item)) if *this.skipping => {
                    if !(this.predicate)(&item) {
                        *this.skipping = false;
                        return Poll::Ready(Some(Message::Data(item)));
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.skipping {
            (0, self.stream.size_hint().1)
        } else {
            self.stream.size_hint()
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for SkipWhile<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkipWhile")
            .field("stream", &self.stream)
            .field("skipping", &self.skipping)
            .finish()
    }
}
