//! The state a flow writes into a checkpoint keeps restoring: a version-1 checkpoint of a
//! windowed flow (source position, watermark, open windows, consumer) is kept as a fixture, and
//! a damaged operator state is a typed error, never a panic or a partial restore.

mod support;

use std::time::Duration;

use futures::StreamExt;
use rheoflow::aggregate::{Count, Sum};
use rheoflow::checkpoint::{
    Checkpoint, CheckpointError, CheckpointId, CheckpointStore, Checkpoints, DirectoryStore,
    MemoryStore, Trigger,
};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::Tumbling;
use rheoflow::{Error, Flow, Timestamp};
use support::TempDir;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/flow-windows-v1.rfc"
);

/// Key, event time (ms), value.
type Event = (String, i64, u64);
/// Key, window start, count, sum.
type Row = (String, i64, u64, u64);

fn input() -> Vec<Event> {
    (0..60i64)
        .map(|i| (format!("k{}", i % 3), i * 50, (i * 7 % 11) as u64))
        .collect()
}

/// The flow whose checkpoint the fixture holds; cut off after `cut` results if given.
async fn run(checkpoints: &Checkpoints, cut: Option<usize>) -> Result<Vec<Row>, Error> {
    let flow = Flow::from_iter(input())
        .checkpointed(checkpoints)
        .name("events")
        .watermarks(
            |e: &Event| Timestamp::from_millis(e.1),
            WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(100)),
        )
        .name("watermarks")
        .key_by(|e: &Event| e.0.clone())
        .window(Tumbling::of(Duration::from_millis(500)), |e: &Event| {
            Timestamp::from_millis(e.1)
        })
        .aggregate((Count, Sum::of(|e: &Event| e.2)))
        .name("windows")
        .map(|r| (r.key, r.window.start().millis(), r.value.0, r.value.1));
    match cut {
        Some(cut) => Ok(flow.into_stream().take(cut).collect().await),
        None => flow.collect().await,
    }
}

/// What the flow emits after restoring the fixture (taken after 25 events, at 1200 ms): the
/// windows from 1000 ms on, each counting every one of its events once.
fn expected_after_restore() -> Vec<Row> {
    let mut golden: Vec<Row> = Vec::new();
    for start in (1000..3000).step_by(500) {
        for key in 0..3 {
            let events: Vec<Event> = input()
                .into_iter()
                .filter(|e| e.0 == format!("k{key}") && (start..start + 500).contains(&e.1))
                .collect();
            let sum = events.iter().map(|e| e.2).sum();
            golden.push((format!("k{key}"), start, events.len() as u64, sum));
        }
    }
    golden.sort();
    golden
}

#[tokio::test]
async fn a_version_1_flow_checkpoint_restores_its_windows() -> Result<(), Error> {
    let dir = TempDir::new("flow-fixture");
    let store = DirectoryStore::open(dir.path()).await?;
    std::fs::copy(FIXTURE, store.path_of(CheckpointId::new(3)))?;
    let checkpoints = Checkpoints::open(store, Trigger::every_events(25)).await?;
    let restored = checkpoints.restored().expect("the fixture is a checkpoint");
    assert_eq!(restored.format_version(), 1);
    let ids: Vec<&str> = restored.state().keys().map(String::as_str).collect();
    assert_eq!(ids, ["events", "into_stream-4", "watermarks", "windows"]);

    let mut rows = run(&checkpoints, None).await?;
    rows.sort();
    assert_eq!(rows, expected_after_restore());
    Ok(())
}

/// Writes the fixture: the checkpoint after 25 events, taken while windows are open. Run once,
/// then commit the file: `cargo test --test checkpoint_format -- --ignored write_fixture`.
#[tokio::test]
#[ignore = "writes tests/fixtures/flow-windows-v1.rfc; run by hand only"]
async fn write_fixture() -> Result<(), Error> {
    let dir = TempDir::new("write-flow-fixture");
    let store = DirectoryStore::open(dir.path()).await?;
    let checkpoints = Checkpoints::open(store, Trigger::every_events(25)).await?;
    // Windows [0, 500), [500, 1000) and [1000, 1500) have fired by the 4th result after them.
    let _ = run(&checkpoints, Some(10)).await?;
    checkpoints.wait_idle().await;
    let reopened = DirectoryStore::open(dir.path()).await?;
    let latest = reopened.latest().await?.expect("a checkpoint completed");
    assert_eq!(latest.id(), CheckpointId::new(1));
    let mut store = DirectoryStore::open(dir.path()).await?;
    let fixture = Checkpoint::new(CheckpointId::new(3)).with_created_at_ms(1_700_000_000_000);
    let mut fixture = fixture;
    for (operator, state) in latest.state() {
        fixture.insert(operator.clone(), state.clone());
    }
    store.save(&fixture).await?;
    std::fs::copy(store.path_of(CheckpointId::new(3)), FIXTURE)?;
    Ok(())
}

#[tokio::test]
async fn a_damaged_operator_state_is_a_typed_error() -> Result<(), Error> {
    let store = MemoryStore::new();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(25)).await?;
    let _ = run(&checkpoints, Some(10)).await?;
    checkpoints.wait_idle().await;
    let good = store.latest().await?.expect("a checkpoint completed");
    for operator in ["events", "watermarks", "windows"] {
        let state = good.get(operator).expect("the operator has state");
        // Every truncation and a newer version: all typed errors.
        let mut damaged: Vec<Vec<u8>> = (0..state.len()).map(|len| state[..len].to_vec()).collect();
        let mut newer = state.to_vec();
        newer[..4].copy_from_slice(&99u32.to_le_bytes());
        damaged.push(newer);
        for bytes in damaged {
            let mut bad = Checkpoint::new(CheckpointId::new(good.id().get() + 1));
            for (id, blob) in good.state() {
                bad.insert(
                    id.clone(),
                    if id == operator {
                        bytes.clone()
                    } else {
                        blob.clone()
                    },
                );
            }
            let mut store = MemoryStore::new();
            store.save(&bad).await?;
            let checkpoints = Checkpoints::open(store, Trigger::every_events(25)).await?;
            match run(&checkpoints, None).await {
                Err(Error::Checkpoint(CheckpointError::State {
                    operator: failed, ..
                })) => {
                    assert_eq!(failed, operator)
                }
                // A truncated window state can still decode as a smaller valid one only if
                // the encoding allowed it; it must not.
                other => panic!("{operator} with {} bytes: {other:?}", bytes.len()),
            }
        }
    }
    Ok(())
}
