//! User-defined operators: [`Processor`]s and [`AsyncProcessor`]s.

use futures_core::Stream;

use super::Flow;
use crate::checkpoint::Snapshot;
use crate::operators::{Process, ProcessAsync};
use crate::processor::{AsyncProcessor, Processor};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Runs a [`Processor`]: a user operator with its own state, any number of outputs per
    /// item, watermark and timer hooks.
    ///
    /// Write processors with the [`#[processor]`](macro@crate::processor::processor) macro, or
    /// by hand (see [`Processor`] for the order in which the hooks are called). The operator is
    /// named after [`Processor::NAME`] when the processor has one.
    ///
    /// In a [checkpointed](Flow::checkpointed) flow, the operator saves the processor's
    /// [`Snapshot`] and its pending timers at every barrier, and restores both when the flow
    /// restarts from a checkpoint, before [`open`](Processor::open). A state that cannot be
    /// restored (a version [`Snapshot::migrate`] does not know, damaged bytes) fails the flow
    /// with [`CheckpointError::State`](crate::checkpoint::CheckpointError::State) rather than
    /// start from nothing.
    ///
    /// # Examples
    ///
    /// A running maximum that emits each new record, and survives a restart:
    ///
    /// ```
    /// use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger};
    /// use rheoflow::processor::{processor, Context};
    /// use rheoflow::Flow;
    ///
    /// #[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
    /// struct Record {
    ///     best: Option<u32>,
    /// }
    ///
    /// #[processor(name = "record")]
    /// impl Record {
    ///     fn process(&mut self, item: u32, ctx: &mut Context<'_, u32>) {
    ///         if self.best.is_none_or(|best| item > best) {
    ///             self.best = Some(item);
    ///             ctx.emit(item);
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let store = MemoryStore::new();
    /// let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(2)).await?;
    /// let first = Flow::from_iter([3, 9])
    ///     .checkpointed(&checkpoints)
    ///     .process(Record::default())
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(first, [3, 9]);
    /// checkpoints.wait_idle().await;
    ///
    /// // A restart skips the items already read, and starts from the saved record, 9.
    /// let checkpoints = Checkpoints::open(store, Trigger::every_events(2)).await?;
    /// let second = Flow::from_iter([3, 9, 4, 12])
    ///     .checkpointed(&checkpoints)
    ///     .process(Record::default())
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(second, [12]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn process<P>(self, processor: P) -> Flow<Process<S, P>>
    where
        P: Processor<In = T> + Snapshot,
    {
        let flow = self.chain_stateful("process", |stream, counters, participant| {
            Process::new(stream, processor, counters, participant)
        });
        match P::NAME {
            Some(name) => flow.name(name),
            None => flow,
        }
    }

    /// Runs an [`AsyncProcessor`], with up to `limit` calls in flight, and passes the results
    /// on in input order.
    ///
    /// It runs like [`Flow::map_async`]: control messages keep their place, and when `limit`
    /// calls are in flight nothing more is taken from upstream. The operator is named after
    /// [`AsyncProcessor::NAME`] when the processor has one.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is zero.
    ///
    /// # Cancel safety
    ///
    /// As [`Flow::map_async`]: the calls in flight are kept in the operator, and dropping the
    /// flow cancels them.
    ///
    /// # Examples
    ///
    /// Calls that finish out of order, results in order:
    ///
    /// ```
    /// use rheoflow::processor::processor;
    /// use std::time::Duration;
    ///
    /// #[processor]
    /// async fn slow_square(ms: u64) -> u64 {
    ///     tokio::time::sleep(Duration::from_millis(ms)).await;
    ///     ms * ms
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = rheoflow::Flow::from_iter([30, 10, 20])
    ///     .process_async(SlowSquare, 3)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(out, [900, 100, 400]);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn process_async<P>(self, processor: P, limit: usize) -> Flow<ProcessAsync<S, P>>
    where
        P: AsyncProcessor<In = T>,
    {
        assert!(
            limit > 0,
            "invalid process_async limit: must be greater than zero"
        );
        let flow = self.chain("process_async", |stream, _| {
            ProcessAsync::new(stream, processor, limit)
        });
        match P::NAME {
            Some(name) => flow.name(name),
            None => flow,
        }
    }
}
