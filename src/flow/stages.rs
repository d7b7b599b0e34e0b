//! Stage boundaries: running part of a flow on its own task.

use std::sync::Arc;

use futures_core::Stream;

use super::Flow;
use crate::channel::queue::{Counting, Queue};
use crate::channel::StageConfig;
use crate::operators::Stage;
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Runs the flow so far on its own tokio task and hands its items to the rest of the flow
    /// through a bounded queue, in batches.
    ///
    /// Use it to put the parts of a pipeline on different cores (parsing on one, windows on
    /// another), or to decouple a bursty source from a slower consumer. The upstream task starts
    /// when the returned flow is first polled; dropping the returned flow stops it.
    ///
    /// A boundary costs little per item: the queue is locked once per batch, and batch buffers are
    /// reused, so nothing is allocated per item. Control messages cross it in order with the data,
    /// whatever the overflow strategy. A panic upstream reaches the downstream side as
    /// [`Error::Panicked`](crate::Error::Panicked).
    ///
    /// # Backpressure
    ///
    /// With [`Overflow::Block`](crate::channel::Overflow::Block) (the default) the upstream task
    /// waits, without spinning, while the queue holds `capacity` data items. Items in flight
    /// between the two sides never exceed the capacity plus one batch. The other strategies drop
    /// data items (counted in the flow's metrics) or fail the pipeline.
    ///
    /// # Panics
    ///
    /// The first poll panics outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let total: u64 = Flow::from_iter(0..10_000u64)
    ///     .map(|x| x * 2)
    ///     .stage(StageConfig::with_capacity(1_024)?)
    ///     .filter(|x| x % 3 == 0)
    ///     .collect::<Vec<_>>()
    ///     .await?
    ///     .into_iter()
    ///     .sum();
    /// assert_eq!(total, (0..10_000u64).map(|x| x * 2).filter(|x| x % 3 == 0).sum::<u64>());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stage(self, config: StageConfig) -> Flow<Stage<S, T>>
    where
        S: Send + 'static,
        T: Send + 'static,
    {
        self.chain("stage", |upstream, counters| {
            let queue =
                Queue::new(config.capacity, config.overflow, counters).counting(Counting::STAGE);
            Stage::new(upstream, config, Arc::new(queue))
        })
    }
}
