//! The errors of the checkpoint stores.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::CheckpointId;

/// A checkpoint could not be saved, listed or read back.
///
/// Cheap to clone, like [`Error`](crate::Error), which wraps it as
/// [`Error::Checkpoint`](crate::Error::Checkpoint).
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{CheckpointError, CheckpointId, CorruptReason};
///
/// let err = CheckpointError::Corrupt {
///     id: CheckpointId::new(7),
///     reason: CorruptReason::ChecksumMismatch { stored: 1, computed: 2 },
/// };
/// assert_eq!(
///     err.to_string(),
///     "checkpoint 7 is corrupt: checksum mismatch (stored 0x00000001, computed 0x00000002)"
/// );
/// let err: rheoflow::Error = err.into();
/// assert!(matches!(err, rheoflow::Error::Checkpoint(_)));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The stored checkpoint failed validation; nothing of it was restored.
    #[error("checkpoint {id} is corrupt: {reason}")]
    Corrupt {
        /// The checkpoint, as named by its file.
        id: CheckpointId,
        /// What failed validation.
        reason: CorruptReason,
    },
    /// The checkpoint is intact but was written in a format version this build cannot read,
    /// usually by a newer release.
    #[error("checkpoint {id} has unsupported format version {version} (supported: {supported})")]
    UnsupportedVersion {
        /// The checkpoint, as named by its file.
        id: CheckpointId,
        /// The version found in the file.
        version: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Reading or writing the store failed.
    #[error("checkpoint i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// An operator's state could not be written to or restored from a checkpoint.
    #[error("state of operator `{operator}`: {error}")]
    State {
        /// The stable id of the operator.
        operator: String,
        /// What went wrong.
        #[source]
        error: StateError,
    },
    /// Two operators of one flow have the same stable id, so their states would mix; name one
    /// of them with [`Flow::name`](crate::Flow::name).
    #[error("two operators have the stable id `{operator}`; give one of them another name")]
    DuplicateOperator {
        /// The id used twice.
        operator: String,
    },
    /// A checkpoint was given up before it completed; the previous complete one still stands.
    #[error("checkpoint {id} was aborted: {reason}")]
    Aborted {
        /// The checkpoint.
        id: CheckpointId,
        /// Why.
        reason: String,
    },
}

/// The state of one operator could not be encoded, decoded or migrated.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::StateError;
///
/// let err = StateError::IncompatibleVersion { found: 3, supported: 2 };
/// assert_eq!(err.to_string(), "state version 3 is not supported (this build reads up to 2)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Serializing the state failed.
    #[error("cannot encode state: {0}")]
    Encode(String),
    /// The bytes are not a state this operator wrote: truncated, or of another type.
    #[error("cannot decode state: {0}")]
    Decode(String),
    /// The state was written by a version this build cannot read: a newer one, or an older
    /// one without a migration.
    #[error("state version {found} is not supported (this build reads up to {supported})")]
    IncompatibleVersion {
        /// The version in the checkpoint.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A migration from an older version failed.
    #[error("cannot migrate state from version {from}: {reason}")]
    Migration {
        /// The version in the checkpoint.
        from: u32,
        /// Why.
        reason: String,
    },
}

impl CheckpointError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CheckpointError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

/// Why a stored checkpoint failed validation.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::CorruptReason;
///
/// let reason = CorruptReason::BadMagic;
/// assert_eq!(reason.to_string(), "not a checkpoint file (bad magic bytes)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The file is shorter than the fixed header and trailer.
    TooShort {
        /// The length of the file in bytes.
        len: u64,
    },
    /// The file does not start with the magic bytes.
    BadMagic,
    /// The payload length in the header does not match the length of the file (a truncated or
    /// extended file).
    LengthMismatch {
        /// The payload length stated in the header.
        declared: u64,
        /// The payload length the file actually holds.
        actual: u64,
    },
    /// The checksum stored in the file does not match its contents.
    ChecksumMismatch {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the contents.
        computed: u32,
    },
    /// The payload passed the checksum but does not decode.
    Malformed {
        /// What was wrong.
        what: &'static str,
    },
    /// The payload holds a different checkpoint than its file name says.
    IdMismatch {
        /// The id found in the payload.
        found: CheckpointId,
    },
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::TooShort { len } => write!(f, "file too short ({len} bytes)"),
            CorruptReason::BadMagic => f.write_str("not a checkpoint file (bad magic bytes)"),
            CorruptReason::LengthMismatch { declared, actual } => write!(
                f,
                "payload length mismatch (header says {declared} bytes, file holds {actual})"
            ),
            CorruptReason::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            CorruptReason::Malformed { what } => write!(f, "malformed payload: {what}"),
            CorruptReason::IdMismatch { found } => {
                write!(f, "payload holds checkpoint {found}")
            }
        }
    }
}
