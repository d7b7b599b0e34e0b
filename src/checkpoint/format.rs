//! The binary file format of [`DirectoryStore`](super::DirectoryStore).
//!
//! A file is a frame, the same in every format version, around a versioned payload (integers
//! little-endian):
//!
//! ```text
//! magic     8 bytes   b"RHEOCHK\0"
//! version   u32       format version of the payload (1)
//! length    u64       payload length in bytes
//! payload   length bytes
//! crc       u32       CRC-32 (IEEE) of every byte before it
//! ```
//!
//! Payload of version 1:
//!
//! ```text
//! id          u64
//! created_at  u64     milliseconds since the Unix epoch
//! count       u64     number of state entries, in ascending name order
//! count times:
//!   name_len  u64, name (UTF-8, name_len bytes)
//!   blob_len  u64, blob (blob_len bytes)
//! ```
//!
//! Validation order: length of the frame, magic, payload length, checksum, then version, so
//! that a damaged file always reads as corrupt and an intact file of a newer version as
//! unsupported.

use std::collections::BTreeMap;

use super::{Checkpoint, CheckpointError, CheckpointId, CorruptReason, FORMAT_VERSION};

/// The magic bytes every checkpoint file starts with.
const MAGIC: &[u8; 8] = b"RHEOCHK\0";
/// Magic, version and payload length.
const HEADER_LEN: usize = 8 + 4 + 8;
/// The checksum.
const TRAILER_LEN: usize = 4;

/// Encodes `checkpoint` in the current format version.
pub(super) fn encode(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&checkpoint.id.get().to_le_bytes());
    payload.extend_from_slice(&checkpoint.created_at_ms.to_le_bytes());
    payload.extend_from_slice(&(checkpoint.state.len() as u64).to_le_bytes());
    for (name, blob) in &checkpoint.state {
        payload.extend_from_slice(&(name.len() as u64).to_le_bytes());
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        payload.extend_from_slice(blob);
    }

    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// Decodes and validates the file of checkpoint `id`: all of it, or an error.
pub(super) fn decode(id: CheckpointId, bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let corrupt = |reason| CheckpointError::Corrupt { id, reason };

    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt(CorruptReason::TooShort {
            len: bytes.len() as u64,
        }));
    }
    let mut header = Reader::new(&bytes[..HEADER_LEN]);
    if header.take(MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err(corrupt(CorruptReason::BadMagic));
    }
    let version = header.u32().unwrap_or_default();
    let declared = header.u64().unwrap_or_default();
    let actual = (bytes.len() - HEADER_LEN - TRAILER_LEN) as u64;
    if declared != actual {
        return Err(corrupt(CorruptReason::LengthMismatch { declared, actual }));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    let stored = Reader::new(trailer).u32().unwrap_or_default();
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(corrupt(CorruptReason::ChecksumMismatch {
            stored,
            computed,
        }));
    }
    if version != FORMAT_VERSION {
        return Err(CheckpointError::UnsupportedVersion {
            id,
            version,
            supported: FORMAT_VERSION,
        });
    }

    let checkpoint = decode_v1(&body[HEADER_LEN..])
        .map_err(|what| corrupt(CorruptReason::Malformed { what }))?;
    if checkpoint.id != id {
        return Err(corrupt(CorruptReason::IdMismatch {
            found: checkpoint.id,
        }));
    }
    Ok(checkpoint)
}

/// Decodes a version-1 payload.
fn decode_v1(payload: &[u8]) -> Result<Checkpoint, &'static str> {
    const TRUNCATED: &str = "truncated";
    let mut reader = Reader::new(payload);
    let id = CheckpointId::new(reader.u64().ok_or(TRUNCATED)?);
    let created_at_ms = reader.u64().ok_or(TRUNCATED)?;
    let count = reader.u64().ok_or(TRUNCATED)?;
    let mut state = BTreeMap::new();
    let mut previous: Option<&str> = None;
    for _ in 0..count {
        let name_len = reader.u64().ok_or(TRUNCATED)?;
        let name = reader
            .take(usize::try_from(name_len).map_err(|_| TRUNCATED)?)
            .ok_or(TRUNCATED)?;
        let name = std::str::from_utf8(name).map_err(|_| "state name is not UTF-8")?;
        if previous.is_some_and(|previous| previous >= name) {
            return Err("state names out of order");
        }
        previous = Some(name);
        let blob_len = reader.u64().ok_or(TRUNCATED)?;
        let blob = reader
            .take(usize::try_from(blob_len).map_err(|_| TRUNCATED)?)
            .ok_or(TRUNCATED)?;
        state.insert(name.to_owned(), blob.to_vec());
    }
    if !reader.rest().is_empty() {
        return Err("trailing bytes after the state entries");
    }
    Ok(Checkpoint {
        id,
        state,
        created_at_ms,
        format_version: 1,
    })
}

/// A bounds-checked cursor over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}
