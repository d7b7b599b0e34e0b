//! Async operators: map with an async function, in order or in completion order, with a limit on
//! the futures in flight.

use std::future::Future;

use futures_core::Stream;

use super::Flow;
use crate::operators::{MapAsync, MapAsyncUnordered};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Transforms every item with an async function, running up to `limit` calls at once, and
    /// passes the results on in input order.
    ///
    /// Use it for I/O per item — a lookup, an enrichment call, a write — where waiting for each
    /// call before starting the next would waste time. It is Flink's ordered async I/O and works
    /// like [`StreamExt::buffered`](futures_util::StreamExt::buffered): a result that finishes
    /// early waits for those before it, and counts against `limit` until it is passed on, so at
    /// most `limit` results are held. When `limit` futures are in flight, nothing more is taken
    /// from upstream: the limit backpressures the input.
    ///
    /// Control messages keep their place: a watermark, barrier or end of input is passed on after
    /// the results of every item before it, and nothing behind it is taken from upstream (or
    /// started) until then. The futures run inside this operator's task, polled when the flow is
    /// polled; they are not spawned.
    ///
    /// Each item in flight costs one allocation (its task node in the queue of futures): that is
    /// the price of async concurrency, paid once per item, not per poll.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is zero.
    ///
    /// # Cancel safety
    ///
    /// The futures in flight are kept in the operator: dropping a `next()` future (in
    /// `tokio::select!`) neither cancels them nor loses their results. Dropping the flow cancels
    /// them.
    ///
    /// # Examples
    ///
    /// Calls that finish out of order, results in order:
    ///
    /// ```
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter([30u64, 10, 20])
    ///     .map_async(3, |ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         ms * 2
    ///     })
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(out, [60, 20, 40]);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn map_async<U, Fut, F>(self, limit: usize, f: F) -> Flow<MapAsync<S, F, Fut>>
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = U>,
    {
        assert!(
            limit > 0,
            "invalid map_async limit: must be greater than zero"
        );
        self.chain("map_async", |stream, _| MapAsync::new(stream, limit, f))
    }

    /// Transforms every item with an async function, running up to `limit` calls at once, and
    /// passes each result on as soon as it is ready.
    ///
    /// Use it instead of [`Flow::map_async`] when the order of items does not matter: a slow call
    /// does not hold back the results after it, so latency and throughput are better. When `limit`
    /// futures are in flight, nothing more is taken from upstream.
    ///
    /// Items never cross a control message, as in Flink's unordered async I/O: results come out in
    /// completion order between two control messages, but a watermark, barrier or end of input
    /// waits until the result of every item before it has been passed on, and nothing behind it
    /// is taken from upstream (or started) until then. So a watermark still means what it says
    /// downstream, and a barrier still cuts the flow in two consistent parts.
    ///
    /// Each item in flight costs one allocation (its task node in the set of futures): that is the
    /// price of async concurrency, paid once per item, not per poll.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is zero.
    ///
    /// # Cancel safety
    ///
    /// The futures in flight are kept in the operator: dropping a `next()` future (in
    /// `tokio::select!`) neither cancels them nor loses their results. Dropping the flow cancels
    /// them.
    ///
    /// # Examples
    ///
    /// Results in completion order, but never across the watermark:
    ///
    /// ```
    /// use futures::StreamExt;
    /// use rheoflow::{Control, Flow, Message, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let watermark = Control::Watermark(Timestamp::from_millis(100));
    /// let input = futures::stream::iter([
    ///     Message::Data(30u64),
    ///     Message::Data(10),
    ///     Message::Control(watermark.clone()),
    ///     Message::Data(5),
    ///     Message::Control(Control::End),
    /// ]);
    /// let out: Vec<_> = Flow::from_messages(input)
    ///     .map_async_unordered(4, |ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         ms
    ///     })
    ///     .into_messages()
    ///     .collect()
    ///     .await;
    /// assert_eq!(
    ///     out,
    ///     [
    ///         Message::Data(10),
    ///         Message::Data(30),
    ///         Message::Control(watermark),
    ///         Message::Data(5),
    ///         Message::Control(Control::End),
    ///     ]
    /// );
    /// # }
    /// ```
    #[track_caller]
    pub fn map_async_unordered<U, Fut, F>(
        self,
        limit: usize,
        f: F,
    ) -> Flow<MapAsyncUnordered<S, F, Fut>>
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = U>,
    {
        assert!(
            limit > 0,
            "invalid map_async_unordered limit: must be greater than zero"
        );
        self.chain("map_async_unordered", |stream, _| {
            MapAsyncUnordered::new(stream, limit, f)
        })
    }
}
