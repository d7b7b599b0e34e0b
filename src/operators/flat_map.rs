use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::flat_map`](crate::Flow::flat_map).
    #[must_use = "streams do nothing unless polled"]
    pub struct FlatMap<S, F, I> {
        #[pin]
        stream: S,
        f: F,
        current: Option<I>,
    }
}

impl<S, F, I> FlatMap<S, F, I> {
    pub(crate) fn new(stream: S, f: F) -> Self {
        FlatMap {
            stream,
            f,
            current: None,
        }
    }
}

impl<S, F, T, I> Stream for FlatMap<S, F, I::IntoIter>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(T) -> I,
    I: IntoIterator,
{
    type Item = Message<I::Item>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(current) = this.current.as_mut() {
                match current.next() {
                    Some(item) => return Poll::Ready(Some(Message::Data(item))),
                    None => *this.current = None,
                }
            }
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(Message::Data(item)) => *this.current = Some((this.f)(item).into_iter()),
                Some(Message::Control(control)) => {
                    return Poll::Ready(Some(Message::Control(control)))
                }
                None => return Poll::Ready(None),
            }
        }
    }
}

impl<S: fmt::Debug, F, I> fmt::Debug for FlatMap<S, F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlatMap")
            .field("stream", &self.stream)
            .finish()
    }
}
