//! Checkpointing a flow: barriers from its source, state from every stateful operator.

use super::Flow;
use crate::checkpoint::{Checkpoints, Scope};
use crate::operators::Checkpointed;
use crate::source::Source;

impl<S: Source> Flow<S> {
    /// Takes part in `checkpoints`: this source restores its position from the checkpoint the
    /// flow restores from and injects checkpoint barriers as the checkpoints' [trigger]
    /// says, and every stateful operator chained after it restores its state and snapshots
    /// it at each barrier.
    ///
    /// What a checkpoint holds is consistent, as in Flink: the source's position just before
    /// the barrier, and every operator's state after exactly the items before the barrier. At
    /// the end of input a final barrier goes out, so that two-phase-commit sinks commit
    /// everything.
    ///
    /// Guarantees: the state of every operator is exactly-once — after a restart, each item is
    /// counted once in it — when the source is replayable ([`Source::seek`]). Output is
    /// exactly-once with a two-phase-commit sink ([`sink::exactly_once`](crate::sink)), and
    /// at-least-once with any other sink: items between the last checkpoint and a crash are
    /// emitted again.
    ///
    /// Operators restore by their stable id, their [name](Flow::name): name the stateful
    /// operators of a flow you will change between restarts.
    ///
    /// [trigger]: crate::checkpoint::Trigger
    ///
    /// # Examples
    ///
    /// A running count per key that resumes after a restart: the first run reads three words
    /// and ends with a final checkpoint; the second run restores the counts and the source's
    /// position, so it reads only the fourth word.
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger};
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let store = MemoryStore::new();
    /// let words = ["a", "b", "a", "a"].map(String::from);
    ///
    /// let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(100)).await?;
    /// let first = Flow::from_iter(words[..3].to_vec())
    ///     .checkpointed(&checkpoints)
    ///     .key_by(|w: &String| w.clone())
    ///     .aggregate(Count)
    ///     .name("counts")
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(first.last(), Some(&("a".to_string(), 2)));
    /// checkpoints.wait_idle().await;
    ///
    /// let checkpoints = Checkpoints::open(store, Trigger::every_events(100)).await?;
    /// let second = Flow::from_iter(words.to_vec())
    ///     .checkpointed(&checkpoints)
    ///     .key_by(|w: &String| w.clone())
    ///     .aggregate(Count)
    ///     .name("counts")
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(second, [("a".to_string(), 3)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn checkpointed(self, checkpoints: &Checkpoints) -> Flow<Checkpointed<S>> {
        self.with_checkpointing(Some((checkpoints.clone(), Scope::default())))
            .chain_stateful("checkpointed", |source, _, participant| {
                let participant = participant.expect("the flow is checkpointed");
                Checkpointed::new(source, participant)
            })
    }
}
