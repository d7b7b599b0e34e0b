use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use futures_util::StreamExt;
use pin_project_lite::pin_project;

use crate::{Control, Message};

pin_project! {
    /// The stream returned by [`Flow::map_async`](crate::Flow::map_async).
    #[must_use = "streams do nothing unless polled"]
    pub struct MapAsync<S, F, Fut>
    where
        Fut: Future,
    {
        #[pin]
        inner: AsyncMap<S, F, FuturesOrdered<Fut>>,
    }
}

impl<S, F, Fut: Future> MapAsync<S, F, Fut> {
    pub(crate) fn new(stream: S, limit: usize, f: F) -> Self {
        MapAsync {
            inner: AsyncMap::new(stream, limit, f, FuturesOrdered::new()),
        }
    }
}

impl<S, F, Fut, T> Stream for MapAsync<S, F, Fut>
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

impl<S: fmt::Debug, F, Fut: Future> fmt::Debug for MapAsync<S, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug::<Fut>("MapAsync", f)
    }
}

/// The futures in flight of an async map: in input order or in completion order.
pub(crate) trait InFlight<Fut>: Stream + Unpin {
    /// Adds a future, the last in input order.
    fn push(&mut self, future: Fut);
    /// The futures in flight, and the finished outputs not yet passed on.
    fn len(&self) -> usize;
    /// Returns `true` when nothing is in flight.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<Fut: Future> InFlight<Fut> for FuturesOrdered<Fut> {
    #[inline]
    fn push(&mut self, future: Fut) {
        self.push_back(future);
    }

    #[inline]
    fn len(&self) -> usize {
        FuturesOrdered::len(self)
    }
}

impl<Fut: Future> InFlight<Fut> for FuturesUnordered<Fut> {
    #[inline]
    fn push(&mut self, future: Fut) {
        FuturesUnordered::push(self, future);
    }

    #[inline]
    fn len(&self) -> usize {
        FuturesUnordered::len(self)
    }
}

pin_project! {
    /// The poll logic shared by [`MapAsync`] and
    /// [`MapAsyncUnordered`](super::MapAsyncUnordered), generic over the queue of futures.
    ///
    /// Upstream is pulled while fewer than `limit` futures are in flight. A control message waits
    /// in `held` until every future before it has finished and its output has been passed on;
    /// meanwhile nothing more is pulled, so no item crosses a control message in either order.
    pub(crate) struct AsyncMap<S, F, Q> {
        #[pin]
        stream: S,
        f: F,
        in_flight: Q,
        limit: usize,
        held: Option<Control>,
        upstream_done: bool,
        done: bool,
    }
}

impl<S, F, Q> AsyncMap<S, F, Q> {
    pub(crate) fn new(stream: S, limit: usize, f: F, in_flight: Q) -> Self {
        AsyncMap {
            stream,
            f,
            in_flight,
            limit,
            held: None,
            upstream_done: false,
            done: false,
        }
    }

    /// Formats the operator as `name`, without its closure and its futures.
    pub(crate) fn debug<Fut>(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result
    where
        S: fmt::Debug,
        Q: InFlight<Fut>,
    {
        f.debug_struct(name)
            .field("stream", &self.stream)
            .field("in_flight", &self.in_flight.len())
            .field("limit", &self.limit)
            .field("held", &self.held)
            .field("done", &self.done)
            .finish()
    }
}

impl<S, F, Q, T, Fut> Stream for AsyncMap<S, F, Q>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(T) -> Fut,
    Fut: Future,
    Q: InFlight<Fut, Item = Fut::Output>,
{
    type Item = Message<Fut::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        // Fill the free slots, unless a control message waits for the items before it.
        while this.held.is_none() && !*this.upstream_done && this.in_flight.len() < *this.limit {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Data(item))) => this.in_flight.push((this.f)(item)),
                Poll::Ready(Some(Message::Control(control))) => {
                    if this.in_flight.is_empty() {
                        *this.done = control.is_terminal();
                        return Poll::Ready(Some(Message::Control(control)));
                    }
                    *this.held = Some(control);
                }
                Poll::Ready(None) => *this.upstream_done = true,
                Poll::Pending => break,
            }
        }
        match this.in_flight.poll_next_unpin(cx) {
            Poll::Ready(Some(output)) => Poll::Ready(Some(Message::Data(output))),
            // Nothing in flight: everything before a held control message has been passed on.
            Poll::Ready(None) => match this.held.take() {
                Some(control) => {
                    *this.done = control.is_terminal();
                    Poll::Ready(Some(Message::Control(control)))
                }
                None if *this.upstream_done => {
                    *this.done = true;
                    Poll::Ready(None)
                }
                // Upstream is pending and has registered the waker.
                None => Poll::Pending,
            },
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        // Every data item and control message gives exactly one message out.
        let queued = self.in_flight.len() + usize::from(self.held.is_some());
        if self.upstream_done {
            return (queued, Some(queued));
        }
        let (lower, upper) = self.stream.size_hint();
        (
            lower.saturating_add(queued),
            upper.and_then(|upper| upper.checked_add(queued)),
        )
    }
}
