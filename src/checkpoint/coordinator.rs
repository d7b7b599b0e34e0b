//! The checkpoint coordinator: triggers checkpoints, gathers every operator's state for each,
//! saves complete ones in order and tells two-phase-commit sinks when they may commit.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{Checkpoint, CheckpointError, CheckpointId, CheckpointStore, StateError};
use crate::metrics::OperatorCounters;
use crate::Barrier;

/// When the sources of a flow inject checkpoint barriers.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::Trigger;
/// use std::time::Duration;
///
/// let every_10k = Trigger::every_events(10_000);
/// let every_second = Trigger::every(Duration::from_secs(1));
/// assert_ne!(every_10k, every_second);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    pub(crate) events: Option<u64>,
    pub(crate) interval: Option<Duration>,
}

impl Trigger {
    /// A checkpoint after every `events` items read by a source (at least 1).
    pub fn every_events(events: u64) -> Self {
        Trigger {
            events: Some(events.max(1)),
            interval: None,
        }
    }

    /// A checkpoint every `interval` of processing time (tokio's clock), at least 1 ms.
    pub fn every(interval: Duration) -> Self {
        Trigger {
            events: None,
            interval: Some(interval.max(Duration::from_millis(1))),
        }
    }

    /// Only the final checkpoint at the end of input (and any asked for with
    /// [`Checkpoints::trigger`]).
    pub fn at_end() -> Self {
        Trigger {
            events: None,
            interval: None,
        }
    }
}

/// How far checkpointing has got: the newest complete checkpoint and the newest failure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    /// The newest checkpoint saved durably.
    pub(crate) completed: Option<CheckpointId>,
    /// The newest checkpoint that could not be taken or saved, with why.
    pub(crate) failed: Option<(CheckpointId, CheckpointError)>,
}

/// Checkpointing for one flow: its store, its trigger, and the checkpoint it restored from.
///
/// Create one with [`Checkpoints::open`], which reads the newest complete checkpoint from the
/// store, and hand it to the flow's source with
/// [`Flow::checkpointed`](crate::Flow::checkpointed). Every stateful operator chained after
/// that source then restores its state from that checkpoint (by its stable id: its
/// [name](crate::Flow::name)) and snapshots its state at every barrier. A checkpoint is
/// complete once every operator has acknowledged its barrier; it is then saved to the store, in
/// order, by a background task, and two-phase-commit sinks commit what they pre-committed for
/// it.
///
/// Cheap to clone; every clone is the same coordinator.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{CheckpointStore, Checkpoints, MemoryStore, Trigger};
/// use rheoflow::Flow;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let store = MemoryStore::new();
/// let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(2)).await?;
/// let total = Flow::from_iter(1..=5u64)
///     .checkpointed(&checkpoints)
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(total, [1, 2, 3, 4, 5]);
/// checkpoints.wait_idle().await;
/// // Barriers after items 2 and 4, and a final one at the end of input.
/// assert_eq!(store.latest().await?.map(|c| c.id().get()), Some(3));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Checkpoints {
    shared: Arc<Shared>,
}

struct Shared {
    trigger: Trigger,
    restored: Option<Checkpoint>,
    /// The newest checkpoint id triggered; sources inject a barrier for it when it passes theirs.
    triggered: AtomicU64,
    tracker: Mutex<Tracker>,
    writer: mpsc::UnboundedSender<Checkpoint>,
    progress: watch::Sender<Progress>,
}

#[derive(Default)]
struct Tracker {
    participants: Vec<Slot>,
    pending: BTreeMap<CheckpointId, Pending>,
    /// Checkpoints handed to the writer (complete) or given up, the newest.
    settled: Option<CheckpointId>,
    in_flight: usize,
}

struct Slot {
    /// The final state of a participant that reached the end of its input; used for every later
    /// checkpoint.
    finished: Option<(String, Vec<u8>)>,
}

impl Tracker {
    /// Checkpoint `id` is done with (complete or given up): acknowledgements for it and for
    /// older ones are ignored from now on, and older ones that never completed are forgotten.
    fn settle(&mut self, id: CheckpointId) {
        self.settled = Some(self.settled.map_or(id, |settled| settled.max(id)));
        self.pending.remove(&id);
        while self
            .pending
            .first_key_value()
            .is_some_and(|(&first, _)| first < id)
        {
            self.pending.pop_first();
        }
    }
}

#[derive(Default)]
struct Pending {
    states: BTreeMap<String, Vec<u8>>,
    acked: Vec<bool>,
}

impl Checkpoints {
    /// Opens checkpointing on `store`: reads the newest complete checkpoint to restore from, and
    /// starts the background task that saves new ones.
    ///
    /// # Errors
    ///
    /// The store's error when no checkpoint in it is readable (see
    /// [`CheckpointStore::latest`]); an empty store is not an error.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like [`tokio::spawn`].
    pub async fn open(
        store: impl CheckpointStore + 'static,
        trigger: Trigger,
    ) -> Result<Self, CheckpointError> {
        let fence = Fence::claim(store.identity()).await;
        let restored = store.latest().await?;
        let first = restored
            .as_ref()
            .map_or(0, |checkpoint| checkpoint.id().get());
        let (writer, queue) = mpsc::unbounded_channel();
        let (progress, _) = watch::channel(Progress {
            completed: restored.as_ref().map(Checkpoint::id),
            failed: None,
        });
        let shared = Arc::new(Shared {
            trigger,
            restored,
            triggered: AtomicU64::new(first),
            tracker: Mutex::new(Tracker {
                settled: (first > 0).then_some(CheckpointId::new(first)),
                ..Tracker::default()
            }),
            writer,
            progress,
        });
        tokio::spawn(write_checkpoints(
            Box::new(store),
            queue,
            shared.progress.clone(),
            Arc::downgrade(&shared),
            fence,
        ));
        Ok(Checkpoints { shared })
    }

    /// The checkpoint the flow restores from, if the store held one.
    pub fn restored(&self) -> Option<&Checkpoint> {
        self.shared.restored.as_ref()
    }

    /// When sources inject barriers.
    pub fn trigger_policy(&self) -> Trigger {
        self.shared.trigger
    }

    /// The newest checkpoint saved durably (or restored from).
    pub fn completed(&self) -> Option<CheckpointId> {
        self.shared.progress.borrow().completed
    }

    /// Asks for a checkpoint now: every checkpointed source injects its barrier within its next
    /// 128 items, or as soon as it has nothing to read. Returns the id of the new checkpoint.
    pub fn trigger(&self) -> CheckpointId {
        CheckpointId::new(self.shared.triggered.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// Waits until every complete checkpoint has been saved (or failed to save).
    ///
    /// A checkpoint that some operator has not acknowledged yet is not waited for: after a
    /// flow stopped or was cut off, it never will be.
    pub async fn wait_idle(&self) {
        let mut progress = self.shared.progress.subscribe();
        loop {
            if self.lock().in_flight == 0 {
                return;
            }
            if progress.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until checkpoint `id` (or a newer one) is saved.
    ///
    /// # Errors
    ///
    /// The reason checkpoint `id` was not saved (a store error, a state that would not
    /// serialize), when it failed.
    pub async fn wait_for(&self, id: CheckpointId) -> Result<(), CheckpointError> {
        let mut progress = self.shared.progress.subscribe();
        loop {
            {
                let now = progress.borrow_and_update();
                if now.completed.is_some_and(|done| done >= id) {
                    return Ok(());
                }
                if let Some((failed, error)) = &now.failed {
                    if *failed >= id {
                        return Err(error.clone());
                    }
                }
            }
            if progress.changed().await.is_err() {
                return Err(CheckpointError::Aborted {
                    id,
                    reason: "the checkpoint writer stopped".into(),
                });
            }
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Progress> {
        self.shared.progress.subscribe()
    }

    /// The newest triggered checkpoint id.
    #[inline]
    pub(crate) fn triggered(&self) -> u64 {
        self.shared.triggered.load(Ordering::Acquire)
    }

    /// Registers an operator that takes part in every checkpoint of this flow.
    pub(crate) fn register(&self, name: Arc<OperatorCounters>, scope: Scope) -> Participant {
        let mut tracker = self.lock();
        let index = tracker.participants.len();
        tracker.participants.push(Slot { finished: None });
        Participant {
            checkpoints: self.clone(),
            index,
            name,
            scope,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tracker> {
        self.shared
            .tracker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, id: CheckpointId, error: CheckpointError) {
        tracing::warn!(checkpoint = %id, %error, "checkpoint failed");
        self.shared.progress.send_modify(|progress| {
            if progress
                .failed
                .as_ref()
                .is_none_or(|(failed, _)| *failed < id)
            {
                progress.failed = Some((id, error));
            }
        });
    }

    /// Records `participant`'s state for checkpoint `id` (or its final state, for every
    /// checkpoint from now on), and hands every checkpoint this completes to the writer.
    fn record(&self, participant: &Participant, id: Option<CheckpointId>, state: Vec<u8>) {
        let operator = participant.id();
        let mut failures = Vec::new();
        let mut complete = Vec::new();
        {
            let mut tracker = self.lock();
            let count = tracker.participants.len();
            match id {
                Some(id) => {
                    if tracker.settled.is_some_and(|settled| id <= settled) {
                        return;
                    }
                    let pending = tracker.pending.entry(id).or_default();
                    pending.acked.resize(count, false);
                    pending.acked[participant.index] = true;
                    if pending.states.insert(operator.clone(), state).is_some() {
                        tracker.settle(id);
                        failures.push((id, CheckpointError::DuplicateOperator { operator }));
                    }
                }
                None => tracker.participants[participant.index].finished = Some((operator, state)),
            }
            // Complete, in order, every pending checkpoint all participants now answered.
            loop {
                let tracker = &mut *tracker;
                let Some((&id, first)) = tracker.pending.first_key_value() else {
                    break;
                };
                let all = tracker
                    .participants
                    .iter()
                    .enumerate()
                    .all(|(index, slot)| {
                        slot.finished.is_some() || first.acked.get(index).copied().unwrap_or(false)
                    });
                if !all {
                    break;
                }
                let mut pending = tracker.pending.pop_first().expect("entry exists").1;
                let mut duplicate = None;
                for (index, slot) in tracker.participants.iter().enumerate() {
                    let acked = pending.acked.get(index).copied().unwrap_or(false);
                    if let (Some((operator, state)), false) = (&slot.finished, acked) {
                        if pending
                            .states
                            .insert(operator.clone(), state.clone())
                            .is_some()
                        {
                            duplicate = Some(operator.clone());
                        }
                    }
                }
                tracker.settle(id);
                if let Some(operator) = duplicate {
                    failures.push((id, CheckpointError::DuplicateOperator { operator }));
                    continue;
                }
                tracker.in_flight += 1;
                let mut checkpoint = Checkpoint::new(id);
                for (operator, state) in pending.states {
                    checkpoint.insert(operator, state);
                }
                complete.push(checkpoint);
            }
        }
        for (id, error) in failures {
            self.fail(id, error);
        }
        for checkpoint in complete {
            if self.shared.writer.send(checkpoint).is_err() {
                self.lock().in_flight -= 1;
            }
        }
    }

    /// Gives up checkpoint `id`: an operator could not snapshot its state.
    fn decline(&self, id: CheckpointId, error: CheckpointError) {
        self.lock().settle(id);
        self.fail(id, error);
    }
}

impl fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tracker = self.lock();
        f.debug_struct("Checkpoints")
            .field("trigger", &self.shared.trigger)
            .field(
                "restored",
                &self.shared.restored.as_ref().map(Checkpoint::id),
            )
            .field("triggered", &self.triggered())
            .field("participants", &tracker.participants.len())
            .field("pending", &tracker.pending.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Saves complete checkpoints in order and publishes each as complete once it is durable.
async fn write_checkpoints(
    mut store: Box<dyn CheckpointStore>,
    mut queue: mpsc::UnboundedReceiver<Checkpoint>,
    progress: watch::Sender<Progress>,
    shared: Weak<Shared>,
    fence: Fence,
) {
    while let Some(checkpoint) = queue.recv().await {
        let id = checkpoint.id();
        let result = fence.save(&mut *store, &checkpoint).await;
        if let Some(shared) = shared.upgrade() {
            let mut tracker = shared
                .tracker
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            tracker.in_flight -= 1;
        }
        // Published after the count went down, so `wait_idle` sees both.
        progress.send_modify(|progress| match result {
            Ok(()) => {
                tracing::debug!(checkpoint = %id, "checkpoint complete");
                progress.completed = Some(id);
            }
            Err(error) => {
                tracing::warn!(checkpoint = %id, %error, "checkpoint could not be saved");
                progress.failed = Some((id, error));
            }
        });
    }
}

/// Which flow owns a storage: a flow opened on a store fences off the previous one on the same
/// storage, so that a failed flow's writer, still draining its queue while the flow restarts,
/// cannot save a checkpoint newer than the one the restart restored.
struct Fence {
    /// The storage's owner: the generation of the newest flow opened on it.
    owner: Option<Arc<tokio::sync::Mutex<u64>>>,
    generation: u64,
}

impl Fence {
    /// Becomes the owner of the storage named `identity`, after any save in progress.
    async fn claim(identity: Option<String>) -> Self {
        static OWNERS: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<u64>>>> =
            Mutex::new(BTreeMap::new());
        let Some(identity) = identity else {
            return Fence {
                owner: None,
                generation: 0,
            };
        };
        let owner = {
            let mut owners = OWNERS.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(owners.entry(identity).or_default())
        };
        let generation = {
            let mut current = owner.lock().await;
            *current += 1;
            *current
        };
        Fence {
            owner: Some(owner),
            generation,
        }
    }

    /// Saves `checkpoint` unless a newer flow owns the storage.
    async fn save(
        &self,
        store: &mut dyn CheckpointStore,
        checkpoint: &Checkpoint,
    ) -> Result<(), CheckpointError> {
        let Some(owner) = &self.owner else {
            return store.save(checkpoint).await;
        };
        let current = owner.lock().await;
        if *current != self.generation {
            return Err(CheckpointError::Aborted {
                id: checkpoint.id(),
                reason: "a newer flow opened the same checkpoint store".into(),
            });
        }
        let saved = store.save(checkpoint).await;
        drop(current);
        saved
    }
}

/// Where an operator sits in a partitioned flow, so that its stable id is unique.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    /// The partitioning operator and this partition's index.
    partition: Option<(Arc<OperatorCounters>, usize)>,
}

impl Scope {
    /// The scope of partition `index` of the operator `parallel`.
    pub(crate) fn partition(parallel: Arc<OperatorCounters>, index: usize) -> Self {
        Scope {
            partition: Some((parallel, index)),
        }
    }
}

/// An operator's part in the checkpoints of its flow: restores its state, and acknowledges
/// each barrier with its state.
pub(crate) struct Participant {
    checkpoints: Checkpoints,
    index: usize,
    name: Arc<OperatorCounters>,
    scope: Scope,
}

impl Participant {
    /// The operator's stable id: its name, after its partition's.
    pub(crate) fn id(&self) -> String {
        match &self.scope.partition {
            Some((parallel, index)) => format!("{}[{index}]/{}", parallel.name(), self.name.name()),
            None => self.name.name().to_string(),
        }
    }

    /// Decodes the operator's state in the checkpoint the flow restores from with `decode`;
    /// `None` when that checkpoint holds none for it.
    pub(crate) fn restore<T>(
        &self,
        decode: impl FnOnce(&[u8]) -> Result<T, StateError>,
    ) -> Result<Option<T>, CheckpointError> {
        self.restored()
            .map(decode)
            .transpose()
            .map_err(|error| self.state_error(error))
    }

    /// `error` in this operator's state, as a checkpoint error naming the operator.
    pub(crate) fn state_error(&self, error: StateError) -> CheckpointError {
        CheckpointError::State {
            operator: self.id(),
            error,
        }
    }

    /// The operator's state in the checkpoint the flow restores from.
    pub(crate) fn restored(&self) -> Option<&[u8]> {
        self.checkpoints
            .shared
            .restored
            .as_ref()
            .and_then(|checkpoint| checkpoint.get(&self.id()))
    }

    /// Acknowledges `barrier` with the operator's state as it was when the barrier arrived.
    pub(crate) fn ack(&self, barrier: &Barrier, state: Result<Vec<u8>, StateError>) {
        let id = CheckpointId::new(barrier.checkpoint_id());
        match state {
            Ok(state) => self.checkpoints.record(self, Some(id), state),
            Err(error) => self.checkpoints.decline(id, self.state_error(error)),
        }
    }

    /// The operator reached the end of its input: `state` stands for it in every later
    /// checkpoint.
    pub(crate) fn finish(&self, state: Result<Vec<u8>, StateError>) {
        match state {
            Ok(state) => self.checkpoints.record(self, None, state),
            Err(error) => tracing::warn!(operator = %self.id(), %error, "final state not saved"),
        }
    }

    /// For the consumer at the end of a flow, which holds no state: acknowledges a barrier (once
    /// everything before it was delivered) and finishes at the end of input. A checkpoint is
    /// complete only once its barrier got all the way through, so what came before it was
    /// delivered, not left in a queue.
    pub(crate) fn on_delivered(&self, control: &crate::Control) {
        match control {
            crate::Control::Barrier(barrier) => self.ack(barrier, Ok(Vec::new())),
            crate::Control::End => self.finish(Ok(Vec::new())),
            _ => {}
        }
    }

    pub(crate) fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }
}

impl fmt::Debug for Participant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Participant")
            .field("id", &self.id())
            .finish()
    }
}
