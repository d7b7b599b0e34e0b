//! The cost of checkpointing: the keyed tumbling-window workload of `benches/windows.rs` (240M
//! events, 1 s event-time windows, count/sum/min/max per key), in one group, (a) without
//! checkpoints, (b) checkpointed every second of processing time to a `DirectoryStore` in a
//! temporary directory, (c) checkpointed every second to a `MemoryStore`.
//!
//! Each measured iteration is one whole run (about 4 s here), so that several checkpoints
//! happen inside it: the time covers the run and `Checkpoints::wait_idle` (the final
//! checkpoint made durable); opening the store and the coordinator, and counting the
//! checkpoints afterwards, are not timed. After each variant the number of checkpoints
//! completed per iteration is printed, and at least two periodic ones are asserted.
//!
//! Then it runs five rounds of the three variants back to back and prints, per store, the
//! median of each round's checkpointed throughput over that round's throughput without
//! checkpoints: the figure the 0.95× target is judged by, since the groups run minutes apart.
//!
//! `cargo bench --bench checkpoint -- --warm-up-time 1 --measurement-time 10`

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "support/windows_workload.rs"]
mod workload;

#[path = "support/checkpoint.rs"]
mod support;

#[path = "support/paired.rs"]
mod paired;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rheoflow::checkpoint::{CheckpointStore, Checkpoints, DirectoryStore, MemoryStore, Trigger};
use tokio::runtime::Runtime;

use support::{tumbling, tumbling_checkpointed, TimedStore, EVENTS};

/// What the checkpoints of one measured iteration were.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Checkpoints completed, the final one at the end of input excluded.
    periodic: u64,
    /// Checkpoints whose save finished before the flow did.
    saved_while_running: usize,
    /// The largest checkpoint's state, in bytes.
    max_state_bytes: usize,
}

/// Runs the workload once with checkpoints every second to `store`; returns the time of the run
/// and its checkpoints.
fn checkpointed<S>(rt: &Runtime, store: S) -> (Duration, Run)
where
    S: CheckpointStore + Clone + 'static,
{
    let store = TimedStore::new(store);
    let checkpoints = rt
        .block_on(Checkpoints::open(
            store.clone(),
            Trigger::every(Duration::from_secs(1)),
        ))
        .expect("the store opens");
    let start = Instant::now();
    let fired = rt.block_on(async {
        let fired = tumbling_checkpointed(black_box(EVENTS), &checkpoints).await;
        let ended = Instant::now();
        checkpoints.wait_idle().await;
        (fired, ended)
    });
    let elapsed = start.elapsed();
    let (fired, ended) = fired;
    black_box(fired);
    let completed = checkpoints
        .completed()
        .expect("checkpoints completed")
        .get();
    let saves = store.saves();
    assert!(saves.iter().all(|save| save.ok), "every save succeeds");
    assert_eq!(saves.len() as u64, completed, "one save per checkpoint");
    let run = Run {
        periodic: completed - 1,
        saved_while_running: saves.iter().filter(|save| save.finished < ended).count(),
        max_state_bytes: saves.iter().map(|save| save.state_bytes).max().unwrap_or(0),
    };
    (elapsed, run)
}

/// Runs `iters` iterations of `one`, recording their checkpoints in `runs`.
fn measure(iters: u64, runs: &mut Vec<Run>, mut one: impl FnMut() -> (Duration, Run)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (elapsed, run) = one();
        total += elapsed;
        runs.push(run);
    }
    total
}

/// Prints the checkpoints per iteration of a variant, and checks that several happened.
fn report(variant: &str, runs: &[Run]) {
    let periodic = runs.iter().map(|run| run.periodic);
    let (min, max) = (periodic.clone().min(), periodic.max());
    let during = runs.iter().map(|run| run.saved_while_running).min();
    let bytes = runs.iter().map(|run| run.max_state_bytes).max();
    println!(
        "{variant}: {} iterations, periodic checkpoints per iteration {}..={} \
         (+1 final), at least {} saved while the flow ran, largest state {} bytes",
        runs.len(),
        min.unwrap_or(0),
        max.unwrap_or(0),
        during.unwrap_or(0),
        bytes.unwrap_or(0),
    );
    assert!(
        runs.iter().all(|run| run.periodic >= 2),
        "{variant}: every iteration must take several checkpoints: {runs:?}"
    );
}

fn checkpoint(c: &mut Criterion) {
    let rt = support::runtime();
    assert_eq!(
        rt.block_on(tumbling(100_000)),
        workload::hand_tumbling(100_000)
    );

    let mut group = c.benchmark_group("tumbling_1s_10k_keys_240M_checkpoints_every_1s");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("no_checkpoints", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(rt.block_on(tumbling(black_box(EVENTS))));
            }
            start.elapsed()
        })
    });

    let mut runs = Vec::new();
    group.bench_function("directory_store", |b| {
        b.iter_custom(|iters| {
            measure(iters, &mut runs, || {
                let dir = support::temp_dir("bench-checkpoint");
                let store = rt
                    .block_on(DirectoryStore::open(&dir))
                    .expect("the directory opens");
                let result = checkpointed(&rt, store);
                std::fs::remove_dir_all(&dir).expect("the directory is removed");
                result
            })
        })
    });
    report("directory_store", &runs);

    let mut runs = Vec::new();
    group.bench_function("memory_store", |b| {
        b.iter_custom(|iters| measure(iters, &mut runs, || checkpointed(&rt, MemoryStore::new())))
    });
    report("memory_store", &runs);

    group.finish();

    // The groups above run one variant after the other, minutes apart, while this machine's
    // speed drifts: the ratio to judge by comes from rounds of the three variants back to back.
    let rounds = support::paired_rounds(&rt, EVENTS, PAIRED_ROUNDS);
    println!("checkpoints every 1 s vs none, {PAIRED_ROUNDS} rounds back to back:");
    rounds.print();
}

/// Rounds of the three variants run back to back after the criterion groups.
const PAIRED_ROUNDS: usize = 5;

criterion_group!(benches, checkpoint);
criterion_main!(benches);
