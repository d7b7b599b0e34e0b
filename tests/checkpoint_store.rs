//! The checkpoint stores: round trips, retention, and detection of every kind of damage.

use rheoflow::checkpoint::{
    Checkpoint, CheckpointError, CheckpointId, CheckpointStore, CorruptReason, DirectoryStore,
    MemoryStore,
};
use support::TempDir;

mod support;

/// The committed version-1 file; later format versions must keep reading it.
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/checkpoint-v1.rfc"
);

fn id(n: u64) -> CheckpointId {
    CheckpointId::new(n)
}

/// A checkpoint with deterministic contents, about `blob_len` bytes of state per operator.
fn checkpoint(n: u64, blob_len: usize) -> Checkpoint {
    let mut checkpoint = Checkpoint::new(id(n)).with_created_at_ms(1_700_000_000_000 + n);
    checkpoint.insert("source", n.to_le_bytes().to_vec());
    checkpoint.insert(
        "window-sum",
        (0..blob_len).map(|i| (i as u64 * 31 + n) as u8).collect(),
    );
    checkpoint.insert("empty", Vec::new());
    checkpoint
}

/// The checkpoint stored in the fixture.
fn fixture_checkpoint() -> Checkpoint {
    let mut checkpoint = Checkpoint::new(id(7)).with_created_at_ms(1_700_000_000_007);
    checkpoint.insert("source", 1234u64.to_le_bytes().to_vec());
    checkpoint.insert("window-sum", b"{\"sum\":42}".to_vec());
    checkpoint.insert("empty", Vec::new());
    checkpoint
}

/// A small deterministic generator for the random bit flips.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Asserts that `result` is a typed detection of damage, never a restored checkpoint.
#[track_caller]
fn assert_detected(result: Result<Checkpoint, CheckpointError>, what: &str) {
    match result {
        Err(CheckpointError::Corrupt { id: found, .. }) => assert_eq!(found, id(1), "{what}"),
        Err(CheckpointError::UnsupportedVersion { .. }) => {
            panic!("{what}: damage read as a newer version")
        }
        Err(err) => panic!("{what}: unexpected error {err}"),
        Ok(checkpoint) => panic!("{what}: restored {checkpoint:?}"),
    }
}

#[tokio::test]
async fn directory_round_trip() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("round-trip");
    let mut store = DirectoryStore::open(dir.path()).await?;
    assert!(store.latest().await?.is_none());
    assert!(store.list().await?.is_empty());

    let first = checkpoint(1, 100);
    store.save(&first).await?;
    assert_eq!(store.latest().await?, Some(first.clone()));
    assert_eq!(store.load(id(1)).await?, first);

    let second = checkpoint(2, 1000);
    store.save(&second).await?;
    // A fresh store over the same directory reads the same.
    let reopened = DirectoryStore::open(dir.path()).await?;
    assert_eq!(reopened.latest().await?, Some(second));
    assert_eq!(reopened.list().await?, [id(1), id(2)]);
    Ok(())
}

#[tokio::test]
async fn memory_round_trip_and_keep_last() -> Result<(), rheoflow::Error> {
    let mut store = MemoryStore::new();
    assert!(store.latest().await?.is_none());
    for n in 1..=5 {
        store.save(&checkpoint(n, 10)).await?;
        assert_eq!(store.latest().await?, Some(checkpoint(n, 10)));
    }
    assert_eq!(store.list().await?, [id(3), id(4), id(5)]);

    let mut store = MemoryStore::new().keep_last(1);
    store.save(&checkpoint(1, 10)).await?;
    store.save(&checkpoint(2, 10)).await?;
    assert_eq!(store.list().await?, [id(2)]);
    Ok(())
}

#[tokio::test]
async fn directory_keeps_last_k() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("keep-last");
    let mut store = DirectoryStore::open(dir.path()).await?;
    for n in 1..=6 {
        store.save(&checkpoint(n, 10)).await?;
    }
    assert_eq!(store.list().await?, [id(4), id(5), id(6)]);
    let files = std::fs::read_dir(dir.path())?.count();
    assert_eq!(files, 3, "old files and temporary files are gone");

    let mut store = store.keep_last(2);
    store.save(&checkpoint(7, 10)).await?;
    assert_eq!(store.list().await?, [id(6), id(7)]);
    assert_eq!(store.latest().await?, Some(checkpoint(7, 10)));
    Ok(())
}

#[test]
#[should_panic(expected = "keep_last must be greater than zero")]
fn keep_last_zero_panics() {
    let _ = MemoryStore::new().keep_last(0);
}

#[tokio::test]
async fn latest_skips_a_corrupt_newest() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("skip-corrupt");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 50)).await?;
    store.save(&checkpoint(2, 50)).await?;
    store.save(&checkpoint(3, 50)).await?;

    // Damage the newest: one flipped byte in its payload.
    let path = store.path_of(id(3));
    let mut bytes = std::fs::read(&path)?;
    bytes[40] ^= 0xff;
    std::fs::write(&path, &bytes)?;
    assert_eq!(store.latest().await?, Some(checkpoint(2, 50)));

    // And the one before: truncated.
    let path = store.path_of(id(2));
    let bytes = std::fs::read(&path)?;
    std::fs::write(&path, &bytes[..bytes.len() / 2])?;
    assert_eq!(store.latest().await?, Some(checkpoint(1, 50)));

    // With none left intact, the newest's error.
    std::fs::write(store.path_of(id(1)), b"garbage")?;
    match store.latest().await {
        Err(CheckpointError::Corrupt {
            id: found,
            reason: CorruptReason::ChecksumMismatch { .. },
        }) => assert_eq!(found, id(3)),
        other => panic!("expected the newest checkpoint's error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn truncation_at_every_offset_is_detected() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("truncation");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 40)).await?;
    let path = store.path_of(id(1));
    let full = std::fs::read(&path)?;
    assert!(full.len() > 100);

    for len in 0..full.len() {
        std::fs::write(&path, &full[..len])?;
        assert_detected(
            store.load(id(1)).await,
            &format!("truncated to {len} bytes"),
        );
    }
    // Extended files are as damaged as truncated ones.
    let mut extended = full.clone();
    extended.push(0);
    std::fs::write(&path, &extended)?;
    assert_detected(store.load(id(1)).await, "extended by one byte");

    // A truncated newest checkpoint falls back to the previous one, at any offset.
    std::fs::write(&path, &full)?;
    store.save(&checkpoint(2, 40)).await?;
    let newest = store.path_of(id(2));
    let full = std::fs::read(&newest)?;
    for len in 0..full.len() {
        std::fs::write(&newest, &full[..len])?;
        assert_eq!(
            store.latest().await?,
            Some(checkpoint(1, 40)),
            "truncated to {len}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn every_single_bit_flip_of_a_small_file_is_detected() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("bit-flips-small");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 16)).await?;
    let path = store.path_of(id(1));
    let original = std::fs::read(&path)?;

    let mut flips = 0;
    for byte in 0..original.len() {
        for bit in 0..8 {
            let mut bytes = original.clone();
            bytes[byte] ^= 1 << bit;
            std::fs::write(&path, &bytes)?;
            assert_detected(
                store.load(id(1)).await,
                &format!("bit {bit} of byte {byte}"),
            );
            flips += 1;
        }
    }
    assert!(flips >= 1000, "only {flips} flips");
    Ok(())
}

#[tokio::test]
async fn seeded_random_bit_flips_of_a_larger_file_are_detected() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("bit-flips-random");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 4096)).await?;
    let path = store.path_of(id(1));
    let original = std::fs::read(&path)?;
    let bits = original.len() as u64 * 8;

    let mut rng = XorShift(0x5eed_cafe_f00d_beef);
    for _ in 0..5000 {
        let bit = rng.next() % bits;
        let mut bytes = original.clone();
        bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
        std::fs::write(&path, &bytes)?;
        assert_detected(store.load(id(1)).await, &format!("bit {bit}"));
    }
    Ok(())
}

#[tokio::test]
async fn leftover_temp_file_is_ignored() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("leftover-temp");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 10)).await?;

    // A crash while writing checkpoint 2: the temporary file was never renamed.
    let temp = dir.path().join("chk-00000000000000000002.rfc.tmp");
    let partial = std::fs::read(store.path_of(id(1)))?;
    std::fs::write(&temp, &partial[..partial.len() / 2])?;
    std::fs::write(dir.path().join("notes.txt"), b"not a checkpoint")?;

    let store = DirectoryStore::open(dir.path()).await?;
    assert_eq!(store.list().await?, [id(1)]);
    assert_eq!(store.latest().await?, Some(checkpoint(1, 10)));

    // Saving checkpoint 2 for real replaces the leftover.
    let mut store = store;
    store.save(&checkpoint(2, 10)).await?;
    assert!(!temp.exists());
    assert_eq!(store.latest().await?, Some(checkpoint(2, 10)));
    Ok(())
}

#[tokio::test]
async fn newer_format_version_is_a_typed_error() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("version");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 10)).await?;
    store.save(&checkpoint(2, 10)).await?;

    // Rewrite checkpoint 2 as an intact file of version 2, with a valid checksum.
    let path = store.path_of(id(2));
    let mut bytes = std::fs::read(&path)?;
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let body = bytes.len() - 4;
    let crc = crc32(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes)?;

    for result in [
        store.load(id(2)).await,
        store.latest().await.map(Option::unwrap),
    ] {
        match result {
            Err(CheckpointError::UnsupportedVersion {
                id: found,
                version: 2,
                supported: 1,
            }) => assert_eq!(found, id(2)),
            other => panic!("expected an unsupported version, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn payload_of_another_checkpoint_is_detected() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("renamed");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&checkpoint(1, 10)).await?;
    std::fs::copy(store.path_of(id(1)), store.path_of(id(9)))?;
    match store.load(id(9)).await {
        Err(CheckpointError::Corrupt {
            reason: CorruptReason::IdMismatch { found },
            ..
        }) => assert_eq!(found, id(1)),
        other => panic!("expected an id mismatch, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn version_1_fixture_restores() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("fixture");
    let store = DirectoryStore::open(dir.path()).await?;
    std::fs::copy(FIXTURE, store.path_of(id(7)))?;

    let restored = store.latest().await?.expect("the fixture is a checkpoint");
    assert_eq!(restored, fixture_checkpoint());
    assert_eq!(restored.format_version(), 1);
    assert_eq!(restored.created_at_ms(), 1_700_000_000_007);
    Ok(())
}

/// Writes the version-1 fixture. Run once, then commit the file:
/// `cargo test --test checkpoint_store -- --ignored write_v1_fixture`.
#[tokio::test]
#[ignore = "writes tests/fixtures/checkpoint-v1.rfc; run by hand only"]
async fn write_v1_fixture() -> Result<(), rheoflow::Error> {
    let dir = TempDir::new("write-fixture");
    let mut store = DirectoryStore::open(dir.path()).await?;
    store.save(&fixture_checkpoint()).await?;
    std::fs::copy(store.path_of(id(7)), FIXTURE)?;
    Ok(())
}

/// CRC-32 (IEEE), bit by bit: an independent check of the format's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}
