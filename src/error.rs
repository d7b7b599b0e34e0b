//! The crate error type and the small concrete errors it wraps.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A boxed error from user code, shared so that errors can be cloned into several outputs.
pub type BoxError = Arc<dyn StdError + Send + Sync + 'static>;

/// The error of a pipeline.
///
/// Cheap to clone: errors travel in band (as [`Control::Failed`](crate::Control::Failed)) and may
/// reach several outputs.
///
/// # Examples
///
/// ```
/// use rheoflow::{ErrorPolicy, Flow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let result = Flow::from_iter(["1", "x", "3"])
///     .try_map(|s: &&str| s.parse::<u32>(), ErrorPolicy::fail())
///     .collect::<Vec<_>>()
///     .await;
/// let err = result.unwrap_err();
/// assert!(matches!(err, rheoflow::Error::Record(_)));
/// assert_eq!(err.to_string(), "record #1 failed: invalid digit found in string");
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record failed under the [`ErrorPolicy::fail`](crate::ErrorPolicy::fail) policy.
    #[error(transparent)]
    Record(#[from] FailedRecord),
    /// An operator or a source was configured with an invalid argument.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An I/O operation failed.
    #[error("i/o error: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// A sink failed to write.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A checkpoint could not be saved or restored.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// A stage boundary with [`Overflow::Fail`](crate::channel::Overflow::Fail) was full.
    #[error("stage boundary overflowed its capacity of {capacity} items")]
    Overflow {
        /// The boundary's capacity.
        capacity: usize,
    },
    /// A task running part of the flow was aborted before it ended.
    #[error("flow task aborted")]
    Aborted,
    /// A task running part of the flow panicked.
    #[error("task panicked: {message}")]
    Panicked {
        /// The panic message, when it was a string.
        message: String,
    },
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(Arc::new(err))
    }
}

/// A record that failed: where it was, and why.
///
/// # Examples
///
/// ```
/// use rheoflow::error::{FailedRecord, RecordError};
///
/// let failed = FailedRecord::new(4, Some(120), RecordError::Empty);
/// assert_eq!(failed.to_string(), "record #4 at byte 120 failed: empty record");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
pub struct FailedRecord {
    index: u64,
    offset: Option<u64>,
    #[source]
    cause: RecordError,
}

impl FailedRecord {
    /// Creates the failure of the `index`-th record (from 0), found at byte `offset` if known.
    pub fn new(index: u64, offset: Option<u64>, cause: RecordError) -> Self {
        FailedRecord {
            index,
            offset,
            cause,
        }
    }

    /// The position of the record among those the failing operator saw, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The byte offset of the record in its input, for records read from a file.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// Why the record failed.
    pub fn cause(&self) -> &RecordError {
        &self.cause
    }
}

impl fmt::Display for FailedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record #{}", self.index)?;
        if let Some(offset) = self.offset {
            write!(f, " at byte {offset}")?;
        }
        write!(f, " failed: {}", self.cause)
    }
}

/// Why one record failed.
///
/// # Examples
///
/// ```
/// use rheoflow::error::RecordError;
///
/// let err = RecordError::TooLong { limit: 1024 };
/// assert_eq!(err.to_string(), "record longer than 1024 bytes");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The record could not be decoded into the target type.
    #[error("{0}")]
    Decode(#[source] BoxError),
    /// The record was longer than the reader's limit; it was skipped without being buffered.
    #[error("record longer than {limit} bytes")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The record was an empty line.
    #[error("empty record")]
    Empty,
    /// A fallible user function returned an error.
    #[error("{0}")]
    Failed(#[source] BoxError),
    /// A user function panicked.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message, when it was a string.
        message: String,
    },
}

impl RecordError {
    /// Wraps a decode error.
    pub fn decode(err: impl StdError + Send + Sync + 'static) -> Self {
        RecordError::Decode(Arc::new(err))
    }

    /// Wraps the error of a fallible user function.
    pub fn failed(err: impl StdError + Send + Sync + 'static) -> Self {
        RecordError::Failed(Arc::new(err))
    }

    /// Makes the error of a caught panic.
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> Self {
        RecordError::Panicked {
            message: panic_message(payload),
        }
    }
}

/// An invalid argument, reported where the user configured the operator.
///
/// # Examples
///
/// ```
/// use rheoflow::error::ConfigError;
///
/// let err = ConfigError::new("batch size", "greater than zero");
/// assert_eq!(err.to_string(), "invalid batch size: must be greater than zero");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {parameter}: must be {requirement}")]
pub struct ConfigError {
    parameter: &'static str,
    requirement: &'static str,
}

impl ConfigError {
    /// Creates the error for `parameter`, which must satisfy `requirement`.
    pub const fn new(parameter: &'static str, requirement: &'static str) -> Self {
        ConfigError {
            parameter,
            requirement,
        }
    }

    /// The name of the invalid parameter.
    pub fn parameter(&self) -> &'static str {
        self.parameter
    }
}

/// A sink failed to write, flush or close.
///
/// # Examples
///
/// ```
/// use rheoflow::error::SinkError;
///
/// let err = SinkError::new(std::io::Error::other("disk full"));
/// assert_eq!(err.to_string(), "sink failed: disk full");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("sink failed: {source}")]
pub struct SinkError {
    source: BoxError,
}

impl SinkError {
    /// Wraps the error of a sink.
    pub fn new(err: impl StdError + Send + Sync + 'static) -> Self {
        SinkError {
            source: Arc::new(err),
        }
    }
}

impl From<std::io::Error> for SinkError {
    fn from(err: std::io::Error) -> Self {
        SinkError::new(err)
    }
}

impl From<serde_json::Error> for SinkError {
    fn from(err: serde_json::Error) -> Self {
        SinkError::new(err)
    }
}

/// The message of a panic payload, when it is a string.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "non-string panic payload".to_owned(),
        },
    }
}
