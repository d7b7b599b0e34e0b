//! Two-phase-commit sinks: output that becomes visible only once the checkpoint that covers it
//! is complete, for end-to-end exactly-once flows.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use futures_core::Stream;
use futures_util::future::poll_fn;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::checkpoint::{
    self, CheckpointError, CheckpointId, Checkpoints, Participant, Progress, StateError,
};
use crate::error::SinkError;
use crate::metrics::OperatorCounters;
use crate::{Control, Error, Message};

/// The state version of the transactions a runner keeps in checkpoints.
const TRANSACTIONS_VERSION: u32 = 1;

/// A sink that writes in transactions and commits them in two phases, in step with the
/// checkpoints of its flow: the building block of end-to-end exactly-once output.
///
/// Run a flow into one with [`Flow::send_exactly_once`](crate::Flow::send_exactly_once). Items
/// go into the current transaction ([`write`](TwoPhaseCommit::write)). At each checkpoint
/// barrier the sink *pre-commits* it ([`pre_commit`](TwoPhaseCommit::pre_commit)): makes it
/// durable but not yet visible, starts the next one, and returns a
/// [`Pending`](TwoPhaseCommit::Pending) handle that goes into the checkpoint. Once the
/// checkpoint is complete — every operator's state is saved — the sink
/// [commits](TwoPhaseCommit::commit) it: makes it visible. After a crash the flow restores from
/// its last complete checkpoint, whose transactions may or may not have been committed yet: the
/// sink [recovers](TwoPhaseCommit::recover) by committing them (again), and discards whatever
/// later, uncompleted checkpoints left behind. Output is then visible exactly once, as in
/// Flink's `TwoPhaseCommitSinkFunction`.
///
/// Every method is called per batch or per checkpoint, never per item, and never concurrently.
/// [`ExactlyOnceJsonLines`](super::ExactlyOnceJsonLines) is the built-in implementation.
///
/// # Examples
///
/// A sink that stages each checkpoint's items and shows them once the checkpoint is complete
/// (staged in memory here; a real sink stages somewhere durable, such as a file or a database
/// transaction):
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::{Arc, Mutex};
///
/// use rheoflow::checkpoint::{CheckpointId, Checkpoints, MemoryStore, Trigger};
/// use rheoflow::error::SinkError;
/// use rheoflow::sink::TwoPhaseCommit;
/// use rheoflow::Flow;
///
/// #[derive(Default)]
/// struct Staged {
///     open: Vec<u64>,
///     staged: BTreeMap<u64, Vec<u64>>,
///     visible: Arc<Mutex<Vec<u64>>>,
/// }
///
/// #[async_trait::async_trait]
/// impl TwoPhaseCommit<u64> for Staged {
///     /// The checkpoint a staged batch belongs to.
///     type Pending = u64;
///
///     async fn recover(&mut self, committed: Vec<u64>) -> Result<(), SinkError> {
///         for checkpoint in committed {
///             self.commit(checkpoint).await?;
///         }
///         self.staged.clear();
///         Ok(())
///     }
///
///     async fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), SinkError> {
///         self.open.append(batch);
///         Ok(())
///     }
///
///     async fn pre_commit(&mut self, checkpoint: CheckpointId) -> Result<u64, SinkError> {
///         self.staged.insert(checkpoint.get(), std::mem::take(&mut self.open));
///         Ok(checkpoint.get())
///     }
///
///     async fn commit(&mut self, checkpoint: u64) -> Result<(), SinkError> {
///         // Idempotent: a batch already shown is no longer staged.
///         if let Some(items) = self.staged.remove(&checkpoint) {
///             self.visible.lock().unwrap().extend(items);
///         }
///         Ok(())
///     }
///
///     async fn abort(&mut self, checkpoint: u64) -> Result<(), SinkError> {
///         self.staged.remove(&checkpoint);
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let checkpoints = Checkpoints::open(MemoryStore::new(), Trigger::every_events(2)).await?;
/// let sink = Flow::from_iter(1..=5u64)
///     .checkpointed(&checkpoints)
///     .map(|x| x * 10)
///     .send_exactly_once(Staged::default())
///     .await?;
/// assert_eq!(*sink.visible.lock().unwrap(), [10, 20, 30, 40, 50]);
/// assert!(sink.staged.is_empty());
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait TwoPhaseCommit<T: Send + 'static>: Send {
    /// A pre-committed transaction: what [`commit`](TwoPhaseCommit::commit) needs to make it
    /// visible, even in another process after a crash. It is saved in checkpoints, so keep it
    /// small (a transaction id, a file name, offsets) and its serialized form stable.
    type Pending: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// Called once, before anything else, with the transactions pre-committed for the
    /// checkpoint the flow restores from (and before it), oldest first.
    ///
    /// Their checkpoint is complete, so each must be committed; some may have been committed
    /// before the crash already (commit is idempotent). The first is the last transaction
    /// committed before that checkpoint, if any, so that the sink knows where its committed
    /// output ends. Anything left behind by checkpoints
    /// after the restored one — pre-committed or open transactions — must be discarded: the
    /// flow replays their items. With no transactions (a fresh start: no checkpoint, or none
    /// with this sink's state), the sink starts from scratch.
    ///
    /// # Errors
    ///
    /// The flow fails with [`Error::Sink`] and writes nothing.
    async fn recover(&mut self, committed: Vec<Self::Pending>) -> Result<(), SinkError>;

    /// Writes a batch of items, in order, into the current transaction. The sink may drain
    /// `batch`; the caller clears it afterwards and reuses its allocation.
    ///
    /// # Errors
    ///
    /// The flow fails with [`Error::Sink`]; nothing of the current transaction is committed.
    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError>;

    /// Makes the current transaction durable but not visible, as the part of `checkpoint`, and
    /// starts the next one. Called at every checkpoint barrier, before the sink acknowledges
    /// it.
    ///
    /// # Errors
    ///
    /// The flow fails with [`Error::Sink`]; the checkpoint never completes.
    async fn pre_commit(&mut self, checkpoint: CheckpointId) -> Result<Self::Pending, SinkError>;

    /// Makes a pre-committed transaction visible, once its checkpoint (or a later one) is
    /// complete. Transactions are committed in the order they were pre-committed.
    ///
    /// Must be idempotent: after a crash, [`recover`](TwoPhaseCommit::recover) commits again
    /// the transactions of the restored checkpoint, which may have been committed already.
    ///
    /// # Errors
    ///
    /// The flow fails with [`Error::Sink`]; the transaction is committed on recovery.
    async fn commit(&mut self, pending: Self::Pending) -> Result<(), SinkError>;

    /// Discards a pre-committed transaction that no checkpoint will ever hold.
    ///
    /// The runner calls it only when it could not record the transaction in its checkpoint
    /// (its state failed to serialize) and the flow fails: a transaction already handed to a
    /// checkpoint is never aborted, since that checkpoint may still complete; recovery decides
    /// its fate.
    ///
    /// # Errors
    ///
    /// Logged; the flow fails with the error that caused the abort.
    async fn abort(&mut self, pending: Self::Pending) -> Result<(), SinkError>;
}

/// Runs `stream` into `sink` as a participant of the flow's checkpoints: recovers, writes in
/// batches of up to `batch_size`, pre-commits at each barrier and commits what each complete
/// checkpoint covers.
pub(crate) async fn run<S, T, K>(
    stream: S,
    mut sink: K,
    participant: Participant,
    counters: Arc<OperatorCounters>,
    batch_size: usize,
) -> Result<K, Error>
where
    S: Stream<Item = Message<T>>,
    T: Send + 'static,
    K: TwoPhaseCommit<T>,
{
    let mut runner = Runner {
        checkpoints: participant.checkpoints().clone(),
        progress: participant.checkpoints().subscribe(),
        participant,
        counters,
        last_committed: None,
        uncommitted: VecDeque::new(),
        last_barrier: None,
        dirty: false,
    };
    let restored = runner.restored()?;
    runner.last_committed = restored.last().cloned();
    sink.recover(restored.into_iter().map(|(_, pending)| pending).collect())
        .await?;

    let mut stream = pin!(stream);
    let mut batch = Vec::with_capacity(batch_size);
    let mut watching = true;
    loop {
        if !runner.uncommitted.is_empty() && runner.progress.has_changed().unwrap_or(false) {
            runner.commit_completed(&mut sink).await?;
        }
        let next = if batch.is_empty() {
            // Idle: commit as soon as a checkpoint completes, not at the next item.
            tokio::select! {
                biased;
                changed = runner.progress.changed(), if watching && !runner.uncommitted.is_empty() => {
                    // `changed` marked the new value seen: commit now, not at the loop's top.
                    watching = changed.is_ok();
                    if watching {
                        runner.commit_completed(&mut sink).await?;
                    }
                    continue;
                }
                next = stream.next() => next,
            }
        } else {
            match poll_fn(|cx| Poll::Ready(stream.as_mut().poll_next(cx))).await {
                Poll::Ready(next) => next,
                Poll::Pending => {
                    runner.write(&mut sink, &mut batch).await?;
                    continue;
                }
            }
        };
        match next {
            Some(Message::Data(item)) => {
                batch.push(item);
                if batch.len() >= batch_size {
                    runner.write(&mut sink, &mut batch).await?;
                }
            }
            Some(Message::Control(Control::Barrier(barrier))) => {
                runner.write(&mut sink, &mut batch).await?;
                let id = CheckpointId::new(barrier.checkpoint_id());
                if runner.last_barrier.is_some_and(|last| id <= last) {
                    continue;
                }
                let state = runner.pre_commit(&mut sink, id).await?;
                runner.participant.ack(&barrier, Ok(state));
            }
            Some(Message::Control(Control::End)) => {
                runner.write(&mut sink, &mut batch).await?;
                runner.end(&mut sink).await?;
                return Ok(sink);
            }
            // Nothing pending is committed: recovery commits what a complete checkpoint
            // holds, and the flow replays the rest.
            Some(Message::Control(Control::Failed(error))) => return Err(*error),
            None => return Err(Error::Aborted),
            Some(Message::Control(_)) => {}
        }
    }
}

/// The bookkeeping of [`run`].
struct Runner<P> {
    participant: Participant,
    checkpoints: Checkpoints,
    progress: watch::Receiver<Progress>,
    counters: Arc<OperatorCounters>,
    /// The transaction committed last, by checkpoint: kept in every checkpoint, so that
    /// recovery knows where the committed output ends.
    last_committed: Option<(u64, P)>,
    /// Pre-committed transactions not committed yet, oldest first, by checkpoint.
    uncommitted: VecDeque<(u64, P)>,
    last_barrier: Option<CheckpointId>,
    /// Items written since the last pre-commit.
    dirty: bool,
}

impl<P: Serialize + DeserializeOwned + Clone> Runner<P> {
    /// The transactions in the restored checkpoint, oldest first.
    fn restored(&self) -> Result<Vec<(u64, P)>, Error> {
        let Some(bytes) = self.participant.restored() else {
            if let Some(checkpoint) = self.checkpoints.restored() {
                tracing::warn!(
                    checkpoint = %checkpoint.id(),
                    operator = %self.participant.id(),
                    "the restored checkpoint holds no state for this sink: it starts afresh"
                );
            }
            return Ok(Vec::new());
        };
        let transactions: Vec<(u64, P)> = checkpoint::decode_current(TRANSACTIONS_VERSION, bytes)
            .map_err(|error| self.state_error(error))?;
        Ok(transactions)
    }

    /// The state of the sink in a checkpoint: the transaction committed last, then those not
    /// committed yet.
    fn state(&self) -> Result<Vec<u8>, Error> {
        let transactions: Vec<(u64, &P)> = self
            .last_committed
            .iter()
            .chain(&self.uncommitted)
            .map(|(id, pending)| (*id, pending))
            .collect();
        checkpoint::encode_versioned(TRANSACTIONS_VERSION, &transactions)
            .map_err(|error| self.state_error(error))
    }

    fn state_error(&self, error: StateError) -> Error {
        Error::Checkpoint(self.participant.state_error(error))
    }

    /// Writes `batch` into the current transaction, counting its items and the time it took.
    async fn write<T, K>(&mut self, sink: &mut K, batch: &mut Vec<T>) -> Result<(), Error>
    where
        T: Send + 'static,
        K: TwoPhaseCommit<T, Pending = P>,
    {
        if batch.is_empty() {
            return Ok(());
        }
        let items = batch.len() as u64;
        let started = Instant::now();
        let result = sink.write(batch).await;
        self.counters.record_latency(started.elapsed(), 1);
        self.counters.add_in(items);
        batch.clear();
        self.dirty = true;
        result.map_err(Error::from)
    }

    /// Pre-commits the current transaction for checkpoint `id` and returns the state to
    /// acknowledge it with: every transaction not committed yet.
    async fn pre_commit<T, K>(&mut self, sink: &mut K, id: CheckpointId) -> Result<Vec<u8>, Error>
    where
        T: Send + 'static,
        K: TwoPhaseCommit<T, Pending = P>,
    {
        let pending = sink.pre_commit(id).await?;
        self.uncommitted.push_back((id.get(), pending));
        self.last_barrier = Some(id);
        self.dirty = false;
        let state = self.state();
        if state.is_err() {
            // No checkpoint holds this transaction, and none after it will complete.
            if let Some((_, pending)) = self.uncommitted.pop_back() {
                if let Err(error) = sink.abort(pending).await {
                    tracing::warn!(checkpoint = %id, %error, "transaction not aborted");
                }
            }
        }
        state
    }

    /// Commits, in order, the transactions that complete checkpoints cover.
    async fn commit_completed<T, K>(&mut self, sink: &mut K) -> Result<(), Error>
    where
        T: Send + 'static,
        K: TwoPhaseCommit<T, Pending = P>,
    {
        let completed = self.progress.borrow_and_update().completed;
        self.commit_through(sink, completed.map_or(0, CheckpointId::get))
            .await
    }

    async fn commit_through<T, K>(&mut self, sink: &mut K, through: u64) -> Result<(), Error>
    where
        T: Send + 'static,
        K: TwoPhaseCommit<T, Pending = P>,
    {
        while self
            .uncommitted
            .front()
            .is_some_and(|(id, _)| *id <= through)
        {
            let (id, pending) = self.uncommitted.pop_front().expect("checked above");
            sink.commit(pending.clone()).await?;
            self.last_committed = Some((id, pending));
        }
        Ok(())
    }

    /// At the end of input: waits for the last checkpoint, committing as checkpoints complete,
    /// then commits everything.
    ///
    /// Items that came after the last barrier (what operators flush at the end of input) are
    /// pre-committed as one more transaction and committed once the last checkpoint is
    /// complete: a flow restored from that checkpoint produces them again, and recovery
    /// truncates what was committed after it.
    async fn end<T, K>(&mut self, sink: &mut K) -> Result<(), Error>
    where
        T: Send + 'static,
        K: TwoPhaseCommit<T, Pending = P>,
    {
        let last = self.last_barrier;
        if self.dirty {
            let after = last
                .or_else(|| self.checkpoints.completed())
                .map_or(0, CheckpointId::get);
            let pending = sink.pre_commit(CheckpointId::new(after + 1)).await?;
            self.uncommitted.push_back((after + 1, pending));
            self.dirty = false;
        }
        let state = self.state()?;
        if let Some(last) = last {
            loop {
                let (completed, failed) = {
                    let progress = self.progress.borrow_and_update();
                    (progress.completed, progress.failed.clone())
                };
                self.commit_through(sink, completed.map_or(0, CheckpointId::get))
                    .await?;
                if completed.is_some_and(|completed| completed >= last) {
                    break;
                }
                if let Some((failed, error)) = failed {
                    if failed >= last {
                        return Err(error.into());
                    }
                }
                if self.progress.changed().await.is_err() {
                    return Err(CheckpointError::Aborted {
                        id: last,
                        reason: "the checkpoint writer stopped".into(),
                    }
                    .into());
                }
            }
        }
        self.commit_through(sink, u64::MAX).await?;
        // Checkpoints taken from now on (by hand) hold the transactions, all committed.
        self.participant.finish(Ok(state));
        Ok(())
    }
}
