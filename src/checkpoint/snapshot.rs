//! Operator state as versioned, serializable values: the [`Snapshot`] trait and its encoding.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StateError;

/// Data a checkpoint can hold: serializable with serde and restorable without borrowing.
///
/// Keys, accumulators and the per-key state of process functions must be `Persist`, so that a
/// checkpoint can hold them; it is implemented for every `Serialize + DeserializeOwned` type.
/// Owned types (`String`, numbers, your own structs with `#[derive(Serialize, Deserialize)]`)
/// are; borrowed ones (`&str`) are not.
///
/// # Examples
///
/// ```
/// fn assert_persist<T: rheoflow::checkpoint::Persist>() {}
///
/// assert_persist::<String>();
/// assert_persist::<(u64, Vec<f64>)>();
/// ```
pub trait Persist: Serialize + DeserializeOwned {}

impl<T: Serialize + DeserializeOwned> Persist for T {}

/// An operator whose state can be saved in a checkpoint and restored from it.
///
/// The state is a serde value with a version. Bump [`Snapshot::VERSION`] whenever the shape of
/// [`Snapshot::State`] changes, and teach [`Snapshot::migrate`] to read the older versions:
/// a checkpoint written by an older build then restores into the new one. A version this build
/// cannot read is a typed [`StateError::IncompatibleVersion`], never a panic.
///
/// States are encoded with [`encode`] and decoded with [`decode`]: a version number, then the
/// state in a compact binary serde format.
///
/// # Examples
///
/// A counter whose state went from a bare number (version 1) to a struct (version 2):
///
/// ```
/// use rheoflow::checkpoint::{self, Snapshot, StateError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default)]
/// struct Counter {
///     seen: u64,
///     last: Option<String>,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// struct CounterState {
///     seen: u64,
///     last: Option<String>,
/// }
///
/// impl Snapshot for Counter {
///     type State = CounterState;
///     const VERSION: u32 = 2;
///
///     fn snapshot(&self) -> CounterState {
///         CounterState { seen: self.seen, last: self.last.clone() }
///     }
///
///     fn restore(&mut self, state: CounterState) {
///         self.seen = state.seen;
///         self.last = state.last;
///     }
///
///     fn migrate(version: u32, bytes: &[u8]) -> Result<CounterState, StateError> {
///         match version {
///             1 => Ok(CounterState { seen: checkpoint::decode_value(bytes)?, last: None }),
///             _ => Err(StateError::IncompatibleVersion { found: version, supported: 2 }),
///         }
///     }
/// }
///
/// # fn main() -> Result<(), StateError> {
/// let counter = Counter { seen: 3, last: Some("c".into()) };
/// let bytes = checkpoint::encode(&counter)?;
/// let mut restored = Counter::default();
/// checkpoint::decode(&mut restored, &bytes)?;
/// assert_eq!(restored.seen, 3);
///
/// // A version-1 state, written by an older build, migrates:
/// let old = checkpoint::encode_versioned(1, &41u64)?;
/// checkpoint::decode(&mut restored, &old)?;
/// assert_eq!((restored.seen, restored.last), (41, None));
/// # Ok(())
/// # }
/// ```
pub trait Snapshot {
    /// The state as it is saved.
    type State: Serialize + DeserializeOwned;

    /// The version of [`Snapshot::State`] this build writes.
    const VERSION: u32 = 1;

    /// The current state.
    fn snapshot(&self) -> Self::State;

    /// Replaces the state with `state`, read back from a checkpoint.
    fn restore(&mut self, state: Self::State);

    /// Reads a state written with an older `version`.
    ///
    /// # Errors
    ///
    /// The default knows no older version: [`StateError::IncompatibleVersion`].
    fn migrate(version: u32, bytes: &[u8]) -> Result<Self::State, StateError> {
        let _ = bytes;
        Err(StateError::IncompatibleVersion {
            found: version,
            supported: Self::VERSION,
        })
    }
}

/// Encodes the state of `operator` with its version.
///
/// # Errors
///
/// [`StateError::Encode`] when serde fails to serialize the state (a map with non-string keys
/// never does here; a `Serialize` impl that returns an error does).
pub fn encode<S: Snapshot + ?Sized>(operator: &S) -> Result<Vec<u8>, StateError> {
    encode_versioned(S::VERSION, &operator.snapshot())
}

/// Restores `operator` from bytes written by [`encode`], migrating an older version.
///
/// On error `operator` is left untouched: a state is restored whole or not at all.
///
/// # Errors
///
/// [`StateError::Decode`] for bytes that are not such a state, and
/// [`StateError::IncompatibleVersion`] for a version newer than [`Snapshot::VERSION`] or one
/// that [`Snapshot::migrate`] does not know.
pub fn decode<S: Snapshot + ?Sized>(operator: &mut S, bytes: &[u8]) -> Result<(), StateError> {
    let state = decode_versioned(S::VERSION, bytes, S::migrate)?;
    operator.restore(state);
    Ok(())
}

/// Encodes any serializable `value` as a state of `version`.
///
/// # Errors
///
/// [`StateError::Encode`] when `value` fails to serialize.
pub fn encode_versioned<T: Serialize + ?Sized>(
    version: u32,
    value: &T,
) -> Result<Vec<u8>, StateError> {
    let mut bytes = version.to_le_bytes().to_vec();
    postcard::to_io(value, &mut bytes).map_err(|err| StateError::Encode(err.to_string()))?;
    Ok(bytes)
}

/// Decodes a state written by [`encode_versioned`]: with `version`, or an older one through
/// `migrate`.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_versioned<T: DeserializeOwned>(
    version: u32,
    bytes: &[u8],
    migrate: impl FnOnce(u32, &[u8]) -> Result<T, StateError>,
) -> Result<T, StateError> {
    let (found, payload) = split_version(bytes)?;
    if found == version {
        decode_value(payload)
    } else if found < version {
        migrate(found, payload)
    } else {
        Err(StateError::IncompatibleVersion {
            found,
            supported: version,
        })
    }
}

/// Decodes a state written with exactly `version`: for operator states that have no older
/// version to migrate from.
pub(crate) fn decode_current<T: DeserializeOwned>(
    version: u32,
    bytes: &[u8],
) -> Result<T, StateError> {
    decode_versioned(version, bytes, |found, _| {
        Err(StateError::IncompatibleVersion {
            found,
            supported: version,
        })
    })
}

/// Decodes the payload of a state (the bytes after its version), for [`Snapshot::migrate`].
///
/// # Errors
///
/// [`StateError::Decode`] when the bytes are not a `T`, or hold more than one.
pub fn decode_value<T: DeserializeOwned>(payload: &[u8]) -> Result<T, StateError> {
    match postcard::take_from_bytes(payload) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(StateError::Decode(format!(
            "{} unexpected bytes after the state",
            rest.len()
        ))),
        Err(err) => Err(StateError::Decode(err.to_string())),
    }
}

fn split_version(bytes: &[u8]) -> Result<(u32, &[u8]), StateError> {
    match bytes.split_first_chunk::<4>() {
        Some((version, payload)) => Ok((u32::from_le_bytes(*version), payload)),
        None => Err(StateError::Decode(format!(
            "{} bytes is too short for a state",
            bytes.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_newer_versions() {
        let bytes = encode_versioned(2, &("a".to_string(), 7u64)).unwrap();
        let back: (String, u64) = decode_versioned(2, &bytes, |_, _| unreachable!()).unwrap();
        assert_eq!(back, ("a".to_string(), 7));
        let newer = decode_versioned::<(String, u64)>(1, &bytes, |_, _| unreachable!());
        assert_eq!(
            newer,
            Err(StateError::IncompatibleVersion {
                found: 2,
                supported: 1
            })
        );
    }

    #[test]
    fn truncated_or_trailing_bytes_are_errors() {
        let bytes = encode_versioned(1, &vec![1u64, 2, 3]).unwrap();
        for len in 0..bytes.len() {
            let result = decode_versioned::<Vec<u64>>(1, &bytes[..len], |_, _| unreachable!());
            assert!(result.is_err(), "prefix of {len} bytes decoded");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_versioned::<Vec<u64>>(1, &longer, |_, _| unreachable!()).is_err());
    }
}
