use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::FuturesUnordered;
use pin_project_lite::pin_project;

use super::map_async::AsyncMap;
use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::map_async_unordered`](crate::Flow::map_async_unordered).
    #[must_use = "streams do nothing unless polled"]
    pub struct MapAsyncUnordered<S, F, Fut> {
        #[pin]
        inner: AsyncMap<S, F, FuturesUnordered<Fut>>,
    }
}

impl<S, F, Fut> MapAsyncUnordered<S, F, Fut> {
    pub(crate) fn new(stream: S, limit: usize, f: F) -> Self {
        MapAsyncUnordered {
            inner: AsyncMap::new(stream, limit, f, FuturesUnordered::new()),
        }
    }
}

impl<S, F, Fut, T> Stream for MapAsyncUnordered<S, F, Fut>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(T) -> Fut,
    Fut: Future,
{
    type Item = Message<Fut::Output>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().inner.poll_next(cx)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S: fmt::Debug, F, Fut: Future> fmt::Debug for MapAsyncUnordered<S, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug::<Fut>("MapAsyncUnordered", f)
    }
}
