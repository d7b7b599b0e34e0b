//! Checkpoint stores: where the state of a flow is kept so that it can restart where it left off.
//!
//! A [`Checkpoint`] is one consistent snapshot of a flow: a [`CheckpointId`], the serialized
//! state of each stateful operator under its stable id, and a little metadata. A
//! [`CheckpointStore`] saves checkpoints and hands back the newest valid one on restart. It is
//! called once per checkpoint, never per event.
//!
//! Two stores ship with the crate:
//!
//! - [`MemoryStore`] keeps the last few checkpoints in memory: for tests, and for flows that
//!   only need to survive a restart of an operator, not of the process.
//! - [`DirectoryStore`], the embedded default, keeps one file per checkpoint in a local
//!   directory. Each file is written to a temporary file, flushed to disk, renamed into place
//!   and the directory flushed, so a crash leaves either the whole checkpoint or none of it. A
//!   checksum and a format version guard every file: restoring uses the newest intact
//!   checkpoint, falls back to the previous one when the newest is damaged, and otherwise
//!   returns a typed [`CheckpointError`] — never a panic, never a partial restore.
//!
//! # Examples
//!
//! ```
//! use rheoflow::checkpoint::{Checkpoint, CheckpointId, CheckpointStore, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let mut store = MemoryStore::new();
//! for id in 1..=5 {
//!     let mut checkpoint = Checkpoint::new(CheckpointId::new(id));
//!     checkpoint.insert("count", id.to_le_bytes().to_vec());
//!     store.save(&checkpoint).await?;
//! }
//!
//! let latest = store.latest().await?.expect("a checkpoint was saved");
//! assert_eq!(latest.id(), CheckpointId::new(5));
//! assert_eq!(latest.get("count"), Some(5u64.to_le_bytes().as_slice()));
//! // The store keeps the last three by default.
//! assert_eq!(store.list().await?.len(), 3);
//! # Ok(())
//! # }
//! ```

mod coordinator;
mod directory;
mod error;
mod format;
mod memory;
mod snapshot;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

pub use self::coordinator::{Checkpoints, Trigger};
pub(crate) use self::coordinator::{Participant, Progress, Scope};
pub use self::directory::DirectoryStore;
pub use self::error::{CheckpointError, CorruptReason, StateError};
pub use self::memory::MemoryStore;
pub(crate) use self::snapshot::decode_current;
pub use self::snapshot::{
    decode, decode_value, decode_versioned, encode, encode_versioned, Persist, Snapshot,
};

/// The format version that this build writes, and the newest it reads.
///
/// # Examples
///
/// ```
/// assert_eq!(rheoflow::checkpoint::FORMAT_VERSION, 1);
/// ```
pub const FORMAT_VERSION: u32 = 1;

/// How many checkpoints a store keeps unless told otherwise.
///
/// # Examples
///
/// ```
/// assert_eq!(rheoflow::checkpoint::DEFAULT_KEEP_LAST, 3);
/// ```
pub const DEFAULT_KEEP_LAST: usize = 3;

/// The id of a checkpoint: the number of the barrier that produced it.
///
/// Ids grow with every checkpoint, so the greatest id is the newest checkpoint.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::CheckpointId;
///
/// let id = CheckpointId::new(42);
/// assert_eq!(id.get(), 42);
/// assert!(CheckpointId::new(43) > id);
/// assert_eq!(id.to_string(), "42");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckpointId(u64);

impl CheckpointId {
    /// Creates the id `id`.
    pub const fn new(id: u64) -> Self {
        CheckpointId(id)
    }

    /// The id as a number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u64> for CheckpointId {
    fn from(id: u64) -> Self {
        CheckpointId(id)
    }
}

/// One consistent snapshot of a flow: the serialized state of each operator under its stable id,
/// with the checkpoint's id and metadata.
///
/// The store treats each state blob as opaque bytes; the operators serialize and version their
/// own state.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{Checkpoint, CheckpointId};
///
/// let mut checkpoint = Checkpoint::new(CheckpointId::new(1));
/// checkpoint.insert("source", b"offset=120".to_vec());
/// checkpoint.insert("window-sum", vec![0, 1, 2]);
///
/// assert_eq!(checkpoint.get("source"), Some(b"offset=120".as_slice()));
/// assert_eq!(checkpoint.state().len(), 2);
/// assert_eq!(checkpoint.format_version(), rheoflow::checkpoint::FORMAT_VERSION);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    id: CheckpointId,
    state: BTreeMap<String, Vec<u8>>,
    created_at_ms: u64,
    format_version: u32,
}

impl Checkpoint {
    /// Creates an empty checkpoint `id`, created now (by the system clock).
    pub fn new(id: CheckpointId) -> Self {
        let created_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            });
        Checkpoint {
            id,
            state: BTreeMap::new(),
            created_at_ms,
            format_version: FORMAT_VERSION,
        }
    }

    /// Sets the creation time, in milliseconds since the Unix epoch; for deterministic tests
    /// and for tools that rewrite checkpoints.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::checkpoint::{Checkpoint, CheckpointId};
    ///
    /// let checkpoint = Checkpoint::new(CheckpointId::new(1)).with_created_at_ms(1_700_000_000_000);
    /// assert_eq!(checkpoint.created_at_ms(), 1_700_000_000_000);
    /// ```
    #[must_use]
    pub fn with_created_at_ms(mut self, created_at_ms: u64) -> Self {
        self.created_at_ms = created_at_ms;
        self
    }

    /// Stores the serialized state of operator `operator`, returning its previous state if any.
    pub fn insert(&mut self, operator: impl Into<String>, state: Vec<u8>) -> Option<Vec<u8>> {
        self.state.insert(operator.into(), state)
    }

    /// The serialized state of operator `operator`.
    pub fn get(&self, operator: &str) -> Option<&[u8]> {
        self.state.get(operator).map(Vec::as_slice)
    }

    /// The serialized state of every operator, by operator id.
    pub fn state(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.state
    }

    /// Takes the state map out of the checkpoint.
    pub fn into_state(self) -> BTreeMap<String, Vec<u8>> {
        self.state
    }

    /// The id of the checkpoint.
    pub fn id(&self) -> CheckpointId {
        self.id
    }

    /// When the checkpoint was created, in milliseconds since the Unix epoch.
    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    /// The format version the checkpoint was read from; [`FORMAT_VERSION`] for a new one.
    pub fn format_version(&self) -> u32 {
        self.format_version
    }
}

/// Where checkpoints are saved and restored from.
///
/// Called once per checkpoint, never per event. Implement it to keep checkpoints elsewhere (an
/// object store, a database); [`MemoryStore`] and [`DirectoryStore`] ship with the crate.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{Checkpoint, CheckpointId, CheckpointStore, MemoryStore};
///
/// async fn restore(store: &dyn CheckpointStore) -> Result<u64, rheoflow::Error> {
///     let position = match store.latest().await? {
///         Some(checkpoint) => checkpoint.get("source").map_or(0, |bytes| bytes.len() as u64),
///         None => 0,
///     };
///     Ok(position)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let mut store = MemoryStore::new();
/// assert_eq!(restore(&store).await?, 0);
/// let mut checkpoint = Checkpoint::new(CheckpointId::new(1));
/// checkpoint.insert("source", vec![0; 3]);
/// store.save(&checkpoint).await?;
/// assert_eq!(restore(&store).await?, 3);
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Saves `checkpoint` durably, then forgets checkpoints beyond the store's retention.
    ///
    /// When this returns `Ok`, the checkpoint survives a crash of the process (and, for a
    /// durable store, of the machine).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] when the checkpoint could not be written; the previous
    /// checkpoints are then untouched.
    async fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;

    /// The newest complete and valid checkpoint, or `None` when the store holds none.
    ///
    /// When the newest checkpoint is corrupt or truncated, logs a warning with
    /// [`tracing::warn!`] and falls back to the previous valid one.
    ///
    /// # Errors
    ///
    /// The error of the newest checkpoint when none is valid,
    /// [`CheckpointError::UnsupportedVersion`] when a checkpoint was written by a newer format
    /// (restoring an older one would silently go back in time), and [`CheckpointError::Io`]
    /// when the store cannot be read.
    async fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError>;

    /// The ids of the checkpoints the store holds, oldest first.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] when the store cannot be read.
    async fn list(&self) -> Result<Vec<CheckpointId>, CheckpointError>;

    /// A name shared by every handle on the same storage (a directory's path), or `None`.
    ///
    /// A flow that opens [`Checkpoints`] on a store fences off the previous flow on the same
    /// storage (one that failed and is being restarted): a save of the previous flow still in
    /// progress finishes first, and the previous flow saves nothing afterwards, so it cannot
    /// publish a checkpoint newer than the one the new flow restored. The default, `None`,
    /// opts out.
    fn identity(&self) -> Option<String> {
        None
    }
}

/// Validates a retention count.
#[track_caller]
fn check_keep_last(keep_last: usize) -> usize {
    assert!(keep_last > 0, "keep_last must be greater than zero");
    keep_last
}
