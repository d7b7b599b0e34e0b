//! Running a checkpointed flow into a two-phase-commit sink, for exactly-once output.

use std::future::Future;
use std::sync::Arc;

use futures_core::Stream;

use super::run::SINK_BATCH;
use super::Flow;
use crate::error::ConfigError;
use crate::sink::{self, TwoPhaseCommit};
use crate::{Error, Message};

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Runs the checkpointed flow to its end into a [two-phase-commit](TwoPhaseCommit) sink,
    /// for end-to-end exactly-once output, and returns the sink.
    ///
    /// The sink takes part in the flow's checkpoints. Before anything else it
    /// [recovers](TwoPhaseCommit::recover) the transactions of the checkpoint the flow restores
    /// from. Items go into its current transaction in batches of up to 1024 (and a partial
    /// batch as soon as the flow has nothing ready). At each checkpoint barrier the sink
    /// [pre-commits](TwoPhaseCommit::pre_commit) the transaction and acknowledges the barrier
    /// with it; as soon as a checkpoint is complete — even while no items arrive — the
    /// transactions it covers are [committed](TwoPhaseCommit::commit), in order. At the end of
    /// input it waits for the final checkpoint and commits everything; items that came after
    /// the final barrier (what operators flush at the end of input) are committed once that
    /// checkpoint is complete too, since a flow restored from it produces them again.
    ///
    /// With a replayable source ([`Source::seek`](crate::source::Source::seek)) every item
    /// then becomes visible exactly once, whatever crashes and restarts happen in between.
    ///
    /// The sink registers in the flow's [metrics](crate::metrics) as
    /// `"send_exactly_once-{n}"` when this is called, which is also its stable id in
    /// checkpoints: its items in are the items handed to [`TwoPhaseCommit::write`], and its
    /// latency the time each `write` took.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`] when the flow is not [checkpointed](Flow::checkpointed).
    /// - The pipeline's error if it fails, and [`Error::Aborted`] if its input stops without
    ///   an end. Nothing pending is committed then: a flow restored from the last complete
    ///   checkpoint commits what that checkpoint holds, and replays the rest.
    /// - [`Error::Sink`] when the sink fails, and [`Error::Checkpoint`] when the sink's state
    ///   cannot be restored or the final checkpoint fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger};
    /// use rheoflow::{sink, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let path = std::env::temp_dir().join(format!("rheoflow-doc-send-eo-{}.jsonl", std::process::id()));
    /// let checkpoints = Checkpoints::open(MemoryStore::new(), Trigger::every_events(100)).await?;
    /// Flow::from_iter(0..1_000u32)
    ///     .checkpointed(&checkpoints)
    ///     .filter(|x| x % 10 == 0)
    ///     .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
    ///     .await?;
    /// let text = tokio::fs::read_to_string(&path).await?;
    /// assert_eq!(text.lines().count(), 100);
    ///
    /// // Without checkpoints, a two-phase-commit sink has nothing to commit on.
    /// let unchecked = Flow::from_iter(0..3u32)
    ///     .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
    ///     .await;
    /// assert!(matches!(unchecked, Err(rheoflow::Error::Config(_))));
    /// # tokio::fs::remove_file(&path).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_exactly_once<K>(self, sink: K) -> impl Future<Output = Result<K, Error>>
    where
        K: TwoPhaseCommit<T>,
        T: Send + 'static,
    {
        // Registered now rather than at the first poll, like every stateful operator, so that
        // no checkpoint completes without this sink.
        let counters = self.metrics.register("send_exactly_once");
        let participant = self
            .checkpointing()
            .map(|(checkpoints, scope)| checkpoints.register(Arc::clone(&counters), scope.clone()));
        let stream = self.stream;
        async move {
            let Some(participant) = participant else {
                return Err(ConfigError::new(
                    "input of an exactly-once sink",
                    "a checkpointed flow (Flow::checkpointed)",
                )
                .into());
            };
            sink::run_exactly_once(stream, sink, participant, counters, SINK_BATCH).await
        }
    }
}
