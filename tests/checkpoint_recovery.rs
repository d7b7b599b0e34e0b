//! Recovery from checkpoints: a flow cut off at seeded points and restarted from its store
//! reaches the same state as an uninterrupted run. Window results are exactly-once in state:
//! each window's value counts every event once, whatever the cut.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use proptest::prelude::*;
use rheoflow::aggregate::{Count, Sum};
use rheoflow::channel::StageConfig;
use rheoflow::checkpoint::{CheckpointStore, Checkpoints, MemoryStore, Trigger};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::Tumbling;
use rheoflow::{Flow, Timestamp};

/// An event: key, event time in ms, value.
type Event = (u64, i64, u64);

/// One window result: key, window start, count, sum.
type Row = (u64, i64, u64, u64);

fn events(seed: u64, len: usize) -> Vec<Event> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..len)
        .map(|i| {
            let jitter = (next() % 40) as i64;
            (next() % 5, i as i64 * 10 + jitter, next() % 100)
        })
        .collect()
}

/// The windowed pipeline, checkpointed into `store`; cut off after `cut` results if given.
async fn run(store: MemoryStore, input: &[Event], cut: Option<usize>, parallel: bool) -> Vec<Row> {
    let checkpoints = Checkpoints::open(store, Trigger::every_events(7))
        .await
        .expect("the store is readable");
    let keyed = Flow::from_iter(input.to_vec())
        .checkpointed(&checkpoints)
        .name("events")
        .watermarks(
            |e: &Event| Timestamp::from_millis(e.1),
            WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(30)),
        )
        .name("watermarks")
        .key_by(|e: &Event| e.0);
    macro_rules! window {
        ($keyed:expr) => {
            $keyed
                .window(Tumbling::of(Duration::from_millis(100)), |e: &Event| {
                    Timestamp::from_millis(e.1)
                })
                .aggregate((Count, Sum::of(|e: &Event| e.2)))
                .name("windows")
                .map(|r| (r.key, r.window.start().millis(), r.value.0, r.value.1))
        };
    }
    let rows: Vec<Row> = if parallel {
        let flow = keyed
            .parallel(2, StageConfig::default(), |keyed| window!(keyed))
            .expect("two partitions")
            .name("partitions");
        collect(flow, cut).await
    } else {
        collect(window!(keyed), cut).await
    };
    checkpoints.wait_idle().await;
    rows
}

async fn collect<S>(flow: Flow<S>, cut: Option<usize>) -> Vec<Row>
where
    S: futures::Stream<Item = rheoflow::Message<Row>>,
{
    match cut {
        Some(cut) => flow.into_stream().take(cut).collect().await,
        None => flow.collect().await.expect("the flow runs"),
    }
}

/// Runs the pipeline cut off at each of `cuts` in turn, then to the end, on one store.
async fn run_with_cuts(input: &[Event], cuts: &[usize], parallel: bool) -> Vec<Vec<Row>> {
    let store = MemoryStore::new();
    let mut runs = Vec::new();
    for &cut in cuts {
        runs.push(run(store.clone(), input, Some(cut), parallel).await);
    }
    runs.push(run(store, input, None, parallel).await);
    runs
}

/// Checks that the runs together hold each golden row, with the golden value, and nothing
/// else: a window emitted twice (before a cut and again after the restart) has the same value.
fn check_exactly_once_state(golden: &[Row], runs: &[Vec<Row>]) {
    let golden: BTreeMap<(u64, i64), (u64, u64)> =
        golden.iter().map(|r| ((r.0, r.1), (r.2, r.3))).collect();
    let mut seen = BTreeMap::new();
    for row in runs.iter().flatten() {
        let value = (row.2, row.3);
        assert_eq!(
            golden.get(&(row.0, row.1)),
            Some(&value),
            "row {row:?} differs from the uninterrupted run"
        );
        seen.insert((row.0, row.1), value);
    }
    assert_eq!(seen, golden, "some window was lost");
}

#[tokio::test]
async fn a_flow_cut_off_at_seeded_points_resumes_with_exactly_once_state() {
    let input = events(7, 400);
    let golden = run(MemoryStore::new(), &input, None, false).await;
    assert!(golden.len() > 40);
    for seed in 0..24u64 {
        let mut cuts = Vec::new();
        let mut state = seed + 1;
        for _ in 0..(1 + seed % 3) {
            state = state
                .wrapping_mul(2862933555777941757)
                .wrapping_add(3037000493);
            cuts.push((state >> 33) as usize % (golden.len() / 2));
        }
        let runs = run_with_cuts(&input, &cuts, false).await;
        check_exactly_once_state(&golden, &runs);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_flow_aligns_barriers_and_resumes_with_exactly_once_state() {
    let input = events(11, 400);
    let mut golden = run(MemoryStore::new(), &input, None, false).await;
    golden.sort();
    let mut parallel = run(MemoryStore::new(), &input, None, true).await;
    parallel.sort();
    assert_eq!(parallel, golden, "partitioning changes nothing");
    for seed in 0..20u64 {
        let cut = (seed as usize * 7919) % (golden.len() / 2);
        let runs = run_with_cuts(&input, &[cut], true).await;
        check_exactly_once_state(&golden, &runs);
    }
}

#[tokio::test]
async fn a_checkpoint_holds_every_stateful_operator_under_its_stable_id() {
    let store = MemoryStore::new();
    let input = events(3, 50);
    let _ = run(store.clone(), &input, Some(1), false).await;
    let checkpoint = store
        .latest()
        .await
        .expect("the store is readable")
        .expect("a checkpoint completed");
    let ids: Vec<&str> = checkpoint.state().keys().map(String::as_str).collect();
    // The consumer at the end takes part too: a checkpoint completes once its barrier was
    // delivered.
    assert_eq!(ids, ["events", "into_stream-4", "watermarks", "windows"]);
}

#[tokio::test]
async fn running_aggregates_resume_from_their_counts() {
    let store = MemoryStore::new();
    let words: Vec<String> = "a b a c a b".split(' ').map(String::from).collect();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(2))
        .await
        .expect("the store is readable");
    // Cut off after four counts. The barrier after the fourth word was never delivered (the
    // consumer stopped first), so the last complete checkpoint is the one after the second.
    let first: Vec<(String, u64)> = Flow::from_iter(words.clone())
        .checkpointed(&checkpoints)
        .key_by(|w: &String| w.clone())
        .aggregate(Count)
        .into_stream()
        .take(4)
        .collect()
        .await;
    assert_eq!(first.last(), Some(&("c".to_string(), 1)));
    checkpoints.wait_idle().await;
    let checkpoints = Checkpoints::open(store, Trigger::every_events(2))
        .await
        .expect("the store is readable");
    let second = Flow::from_iter(words)
        .checkpointed(&checkpoints)
        .key_by(|w: &String| w.clone())
        .aggregate(Count)
        .collect::<Vec<_>>()
        .await
        .expect("the flow runs");
    // At-least-once output, exactly-once state: the third and fourth counts come again, and
    // every count goes on from the restored ones.
    let expected = [("a", 2), ("c", 1), ("a", 3), ("b", 2)].map(|(w, n)| (w.to_string(), n));
    assert_eq!(second, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any trigger interval and any cut: the state after recovery is the uninterrupted one.
    #[test]
    fn recovery_matches_the_uninterrupted_run(seed in 0u64..1000, cut in 0usize..30) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let input = events(seed, 120);
            let golden = run(MemoryStore::new(), &input, None, false).await;
            let runs = run_with_cuts(&input, &[cut.min(golden.len())], false).await;
            check_exactly_once_state(&golden, &runs);
        });
    }
}

/// A graceful shutdown that keeps state takes a savepoint: the restart resumes from it, and
/// the two runs together emit every window exactly once.
#[tokio::test]
async fn a_savepoint_on_graceful_shutdown_resumes_without_replay() {
    use rheoflow::{CancellationToken, Shutdown};

    let input = events(5, 300);
    let mut golden = run(MemoryStore::new(), &input, None, false).await;
    golden.sort();
    for stop_after in [1usize, 17, 150, 299] {
        let store = MemoryStore::new();
        let mut rows = Vec::new();
        for stop in [Some(stop_after), None] {
            let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(1_000))
                .await
                .expect("the store is readable");
            let token = CancellationToken::new();
            let mut seen = 0;
            let cancel = token.clone();
            let out: Vec<Row> = Flow::from_iter(input.clone())
                .checkpointed(&checkpoints)
                .stop_on(token, Shutdown::KeepState)
                .inspect(move |_| {
                    seen += 1;
                    if Some(seen) == stop {
                        cancel.cancel();
                    }
                })
                .watermarks(
                    |e: &Event| Timestamp::from_millis(e.1),
                    WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(30)),
                )
                .key_by(|e: &Event| e.0)
                .window(Tumbling::of(Duration::from_millis(100)), |e: &Event| {
                    Timestamp::from_millis(e.1)
                })
                .aggregate((Count, Sum::of(|e: &Event| e.2)))
                .map(|r| (r.key, r.window.start().millis(), r.value.0, r.value.1))
                .collect()
                .await
                .expect("the flow runs");
            checkpoints.wait_idle().await;
            rows.extend(out);
        }
        rows.sort();
        assert_eq!(rows, golden, "stopped after {stop_after} events");
    }
}

/// Two checkpointed sources merged by `union`: barriers align, and one checkpoint holds both
/// positions under their names. Left unnamed, both would be `checkpointed-0`: a typed error.
#[tokio::test]
async fn a_union_of_two_sources_aligns_barriers_and_needs_distinct_names() {
    use rheoflow::checkpoint::{CheckpointError, CheckpointId};

    let store = MemoryStore::new();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(10))
        .await
        .expect("the store is readable");
    let left = Flow::from_iter(0..100u64)
        .checkpointed(&checkpoints)
        .name("left");
    let right = Flow::from_iter(100..150u64)
        .checkpointed(&checkpoints)
        .name("right");
    let mut all: Vec<u64> = left.union(right).collect().await.expect("the flow runs");
    all.sort();
    assert_eq!(all, (0..150).collect::<Vec<_>>());
    checkpoints.wait_idle().await;
    let latest = store
        .latest()
        .await
        .expect("readable")
        .expect("a checkpoint");
    let ids: Vec<&str> = latest.state().keys().map(String::as_str).collect();
    assert!(ids.contains(&"left") && ids.contains(&"right"), "{ids:?}");

    let checkpoints = Checkpoints::open(MemoryStore::new(), Trigger::every_events(10))
        .await
        .expect("the store is readable");
    let left = Flow::from_iter(0..100u64).checkpointed(&checkpoints);
    let right = Flow::from_iter(100..150u64).checkpointed(&checkpoints);
    let _ = left.union(right).collect::<Vec<_>>().await;
    match checkpoints.wait_for(CheckpointId::new(1)).await {
        Err(CheckpointError::DuplicateOperator { operator }) => {
            assert_eq!(operator, "checkpointed-0")
        }
        other => panic!("expected a duplicate id, got {other:?}"),
    }
}
