use std::fmt;
use std::task::{Context, Poll};

use serde::ser::SerializeStruct;

use crate::channel::{side_output, SideOutput, SideOutputSource};
use crate::error::{ConfigError, RecordError};
use crate::Flow;

/// A failed record with its position and the error, as sent to a dead-letter output.
///
/// Serializes (for a JSON-lines dead-letter file) as
/// `{"index": .., "offset": .., "error": "..", "record": ..}`.
#[derive(Debug, Clone)]
pub struct DeadLetter<R> {
    record: R,
    index: u64,
    offset: Option<u64>,
    error: RecordError,
}

impl<R> DeadLetter<R> {
    /// Creates the dead letter of `record`, the `index`-th record (from 0) an operator saw, found
    /// at byte `offset` of its input if known.
    pub fn new(record: R, index: u64, offset: Option<u64>, error: RecordError) -> Self {
        DeadLetter {
            record,
            index,
            offset,
            error,
        }
    }

    /// The failed record as it was before the failing step.
    pub fn record(&self) -> &R {
        &self.record
    }

    /// Consumes the dead letter and returns the failed record.
    pub fn into_record(self) -> R {
        self.record
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
    pub fn error(&self) -> &RecordError {
        &self.error
    }

    pub(crate) fn into_error(self) -> RecordError {
        self.error
    }
}

impl<R: serde::Serialize> serde::Serialize for DeadLetter<R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("DeadLetter", 4)?;
        out.serialize_field("index", &self.index)?;
        out.serialize_field("offset", &self.offset)?;
        out.serialize_field("error", &self.error.to_string())?;
        out.serialize_field("record", &self.record)?;
        out.end()
    }
}

/// The bytes of a record exactly as they were read, before decoding.
///
/// Serializes as a string, with invalid UTF-8 replaced by `U+FFFD`; [`RawRecord::as_bytes`] keeps
/// the exact bytes.
///
/// # Examples
///
/// ```
/// use rheoflow::error_policy::RawRecord;
///
/// let raw = RawRecord::from(b"EWR,NA\n".to_vec());
/// assert_eq!(raw.to_string_lossy(), "EWR,NA\n");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RawRecord(Vec<u8>);

impl RawRecord {
    /// The exact bytes of the record.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The record as text, with invalid UTF-8 replaced by `U+FFFD`.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl From<Vec<u8>> for RawRecord {
    fn from(bytes: Vec<u8>) -> Self {
        RawRecord(bytes)
    }
}

impl fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl serde::Serialize for RawRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string_lossy())
    }
}

/// Creates a dead-letter output that holds at most `capacity` records in flight.
///
/// Returns the sender, to give to [`ErrorPolicy::dead_letter`](super::ErrorPolicy::dead_letter)
/// (clone it to share one output between several operators), and the dead-letter flow, which ends
/// with [`Control::End`](crate::Control::End) once every sender is dropped.
///
/// # Errors
///
/// A zero `capacity` is a [`ConfigError`].
///
/// # Backpressure
///
/// Bounded: an operator that fails a record waits for room. Consume the dead-letter flow beside
/// the main one.
///
/// # Examples
///
/// ```
/// use rheoflow::error_policy;
///
/// assert!(error_policy::channel::<String>(0).is_err());
/// let (_sender, _dead) = error_policy::channel::<String>(64).unwrap();
/// ```
#[allow(clippy::type_complexity)]
pub fn channel<R>(
    capacity: usize,
) -> Result<(DeadLetterSender<R>, Flow<DeadLetterSource<R>>), ConfigError>
where
    R: Send + 'static,
{
    if capacity == 0 {
        return Err(ConfigError::new(
            "dead-letter capacity",
            "greater than zero",
        ));
    }
    let (output, flow) = side_output(capacity)?;
    Ok((DeadLetterSender { output }, flow))
}

/// The sending side of a dead-letter output; clone it to share the output.
pub struct DeadLetterSender<R> {
    output: SideOutput<DeadLetter<R>>,
}

impl<R: Send + 'static> DeadLetterSender<R> {
    /// Moves `*slot` into the channel once there is room; `Err` if the output was dropped.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<DeadLetter<R>>,
    ) -> Poll<Result<(), ()>> {
        self.output.poll_send(cx, slot)
    }
}

impl<R> Clone for DeadLetterSender<R> {
    fn clone(&self) -> Self {
        DeadLetterSender {
            output: self.output.clone(),
        }
    }
}

impl<R> fmt::Debug for DeadLetterSender<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetterSender").finish_non_exhaustive()
    }
}

/// The dead-letter flow's source, created by [`channel`]: a side output of dead letters.
pub type DeadLetterSource<R> = SideOutputSource<DeadLetter<R>>;
