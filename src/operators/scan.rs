use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::scan`](crate::Flow::scan).
    #[must_use = "streams do nothing unless polled"]
    pub struct Scan<S, St, F> {
        #[pin]
        stream: S,
        state: St,
        f: F,
    }
}

impl<S, St, F> Scan<S, St, F> {
    pub(crate) fn new(stream: S, state: St, f: F) -> Self {
        Scan { stream, state, f }
    }
}

impl<S, St, F, T, U> Stream for Scan<S, St, F>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(&mut St, T) -> U,
{
    type Item = Message<U>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<U>>> {
        let this = self.project();
        let (state, f) = (this.state, this.f);
        this.stream
            .poll_next(cx)
            .map(|message| message.map(|message| message.map(|item| f(state, item))))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

impl<S: fmt::Debug, St: fmt::Debug, F> fmt::Debug for Scan<S, St, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scan")
            .field("stream", &self.stream)
            .field("state", &self.state)
            .finish()
    }
}
