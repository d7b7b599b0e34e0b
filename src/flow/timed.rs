//! Processing-time operators: batching by size or timeout, throttling, per-item deadlines.
//!
//! They read tokio's clock, so under `tokio::time::pause()` (or `start_paused = true`) they are
//! exact and deterministic, and a test runs them without waiting.

use std::time::Duration;

use futures_core::Stream;

use super::Flow;
use crate::operators::{Batch, Deadline, Throttle};
use crate::time::{Clock, Timestamp};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Groups items into batches of up to `max_size`, emitted when full or `timeout` after their
    /// first item, whichever comes first.
    ///
    /// Use it in front of anything that is cheaper per batch than per item: a database insert, a
    /// network call, a sink that writes in bulk. `max_size` bounds the batch (and the memory held);
    /// `timeout` bounds how long an item may wait for its batch to fill when input is slow. The
    /// timer starts with the first item of each batch, so an idle flow costs nothing and a batch
    /// is never empty.
    ///
    /// Control messages keep their place: a watermark, a barrier or the end of input first
    /// emits the pending batch (however small), then passes on. So a checkpoint barrier never
    /// leaves items behind in a batch, and the end of input flushes the last one. If the input
    /// stops without [`Control::End`](crate::Control::End), the pending batch is still emitted.
    ///
    /// Each batch is a new `Vec`, allocated when its first item arrives, with room for `max_size`
    /// items (at most 1024 preallocated): one allocation per batch, none per item.
    ///
    /// # Panics
    ///
    /// Panics if `max_size` is zero or `timeout` is zero. Polling the flow panics outside a tokio
    /// runtime with the time driver enabled, like [`tokio::time::sleep`].
    ///
    /// # Cancel safety
    ///
    /// The operator keeps the pending batch in itself: dropping a `next()` future (in
    /// `tokio::select!`) loses no item.
    ///
    /// # Examples
    ///
    /// Batches by size; the end of input flushes the rest:
    ///
    /// ```
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let batches = Flow::from_iter(1..=5)
    ///     .batch(2, Duration::from_secs(1))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(batches, [vec![1, 2], vec![3, 4], vec![5]]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// With a slow input, the timeout closes a batch 100 ms after its first item:
    ///
    /// ```
    /// use futures::StreamExt;
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    /// use tokio::time::{sleep, Instant};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let start = Instant::now();
    /// // One item every 40 ms.
    /// let slow = futures::stream::iter(0..5).then(|x| async move {
    ///     sleep(Duration::from_millis(40)).await;
    ///     x
    /// });
    /// let batches = Flow::from_stream(slow)
    ///     .batch(100, Duration::from_millis(100))
    ///     .into_stream();
    /// let mut batches = std::pin::pin!(batches);
    /// assert_eq!(batches.next().await, Some(vec![0, 1, 2]));
    /// assert_eq!(start.elapsed(), Duration::from_millis(140));
    /// assert_eq!(batches.next().await, Some(vec![3, 4]));
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn batch(self, max_size: usize, timeout: Duration) -> Flow<Batch<S, T>> {
        assert!(
            max_size > 0,
            "invalid batch size: must be greater than zero"
        );
        assert!(
            !timeout.is_zero(),
            "invalid batch timeout: must be greater than zero"
        );
        self.chain("batch", |stream, _| Batch::new(stream, max_size, timeout))
    }

    /// Limits the rate of data items to `max_items` per `per`, delaying items (never dropping
    /// them) to keep to it.
    ///
    /// Use it to stay within the rate limit of an API or to smooth the load on a downstream
    /// service. It is a token bucket: the bucket holds up to `max_items` tokens and starts full,
    /// refills continuously at `max_items` tokens per `per` (one every `per / max_items`), and
    /// every data item takes one token, waiting for it if the bucket is empty. So a quiet flow can
    /// pass a burst of up to `max_items` at once, and a busy one settles at `max_items` per
    /// `per`. Note what the burst allows: a window of length `per` that starts with a full bucket
    /// sees up to `2 * max_items - 1` items, the burst plus what refills meanwhile. Where a limit
    /// of `n` must hold over every such window, pass `(n + 1) / 2`.
    ///
    /// Control messages take no token and wait only for the data before them: a watermark behind
    /// a waiting item goes right after it, and one that arrives while no item waits passes at once.
    /// While an item waits, nothing more is taken from upstream, so order is kept and the wait
    /// backpressures the input.
    ///
    /// # Panics
    ///
    /// Panics if `max_items` is zero or `per` is zero. Polling the flow panics outside a tokio
    /// runtime with the time driver enabled, like [`tokio::time::sleep`].
    ///
    /// # Cancel safety
    ///
    /// A waiting item stays in the operator: dropping a `next()` future (in `tokio::select!`)
    /// loses nothing, and the token it waits for is not spent.
    ///
    /// # Examples
    ///
    /// Two items at once, then one every 500 ms:
    ///
    /// ```
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let start = Instant::now();
    /// let items = Flow::from_iter(0..6)
    ///     .throttle(2, Duration::from_secs(1))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(items, [0, 1, 2, 3, 4, 5]);
    /// assert_eq!(start.elapsed(), Duration::from_secs(2));
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn throttle(self, max_items: usize, per: Duration) -> Flow<Throttle<S>> {
        assert!(
            max_items > 0,
            "invalid throttle max_items: must be greater than zero"
        );
        assert!(
            !per.is_zero(),
            "invalid throttle period: must be greater than zero"
        );
        self.chain("throttle", |stream, _| {
            Throttle::new(stream, max_items, per)
        })
    }

    /// Drops items older than `max_age` in processing time, and counts them.
    ///
    /// Use it where an answer that comes too late is worthless — a quote, a sensor reading, a
    /// request whose caller has given up — so that a backlog drains fast instead of spending
    /// work on stale items. `timestamp` reads an item's time (when it was created or received);
    /// an item is dropped when that time is before `now - max_age`, where `now` is the
    /// processing-time [`Clock`] taken when this method is called (the system time then,
    /// advancing with tokio's clock). An item exactly `max_age` old passes. Times have
    /// millisecond resolution.
    ///
    /// Each dropped item is counted as [`DropReason::Stale`](crate::metrics::DropReason::Stale)
    /// on this operator's [metrics](Flow::metrics). Control messages always pass.
    ///
    /// # Panics
    ///
    /// Panics if `max_age` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{metrics::DropReason, time::Clock, Flow, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let now = Clock::new().now();
    /// let sent_at = [now, now - Duration::from_secs(60), now - Duration::from_secs(2)];
    ///
    /// let flow = Flow::from_iter(sent_at)
    ///     .deadline(Duration::from_secs(10), |sent: &Timestamp| *sent)
    ///     .name("fresh");
    /// let metrics = flow.metrics();
    /// let fresh = flow.collect::<Vec<_>>().await?;
    ///
    /// assert_eq!(fresh.len(), 2);
    /// assert_eq!(metrics.snapshot().operator("fresh").unwrap().dropped(DropReason::Stale), 1);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn deadline<F>(self, max_age: Duration, timestamp: F) -> Flow<Deadline<S, F>>
    where
        F: FnMut(&T) -> Timestamp,
    {
        assert!(
            !max_age.is_zero(),
            "invalid deadline max_age: must be greater than zero"
        );
        let clock = Clock::new();
        self.chain("deadline", |stream, counters| {
            Deadline::new(stream, max_age, timestamp, clock, counters)
        })
    }
}
