//! [`MemoryStore`]: the last few checkpoints, in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{
    check_keep_last, Checkpoint, CheckpointError, CheckpointId, CheckpointStore, DEFAULT_KEEP_LAST,
};

/// A checkpoint store that keeps the last K checkpoints in memory.
///
/// Use it in tests, and for flows that restart within the same process. Nothing survives the
/// process; use [`DirectoryStore`](super::DirectoryStore) for that. Clones share the same
/// checkpoints, so a clone kept aside sees what a flow saved.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{Checkpoint, CheckpointId, CheckpointStore, MemoryStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let mut store = MemoryStore::new().keep_last(2);
/// for id in 1..=4 {
///     store.save(&Checkpoint::new(CheckpointId::new(id))).await?;
/// }
/// assert_eq!(store.list().await?, [CheckpointId::new(3), CheckpointId::new(4)]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemoryStore {
    checkpoints: Arc<Mutex<BTreeMap<CheckpointId, Checkpoint>>>,
    keep_last: usize,
}

impl MemoryStore {
    /// Creates an empty store that keeps the last [`DEFAULT_KEEP_LAST`] checkpoints.
    pub fn new() -> Self {
        MemoryStore {
            checkpoints: Arc::default(),
            keep_last: DEFAULT_KEEP_LAST,
        }
    }

    /// Keeps the last `keep_last` checkpoints (by id) instead of [`DEFAULT_KEEP_LAST`].
    ///
    /// # Panics
    ///
    /// Panics if `keep_last` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::checkpoint::MemoryStore;
    ///
    /// let store = MemoryStore::new().keep_last(10);
    /// # drop(store);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn keep_last(mut self, keep_last: usize) -> Self {
        self.keep_last = check_keep_last(keep_last);
        self
    }
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<CheckpointId, Checkpoint>> {
        self.checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

#[async_trait::async_trait]
impl CheckpointStore for MemoryStore {
    async fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let mut checkpoints = self.lock();
        checkpoints.insert(checkpoint.id(), checkpoint.clone());
        while checkpoints.len() > self.keep_last {
            checkpoints.pop_first();
        }
        Ok(())
    }

    async fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        Ok(self.lock().last_key_value().map(|(_, c)| c.clone()))
    }

    async fn list(&self) -> Result<Vec<CheckpointId>, CheckpointError> {
        Ok(self.lock().keys().copied().collect())
    }

    /// The shared checkpoints of this store and its clones.
    fn identity(&self) -> Option<String> {
        Some(format!("memory:{:p}", Arc::as_ptr(&self.checkpoints)))
    }
}
