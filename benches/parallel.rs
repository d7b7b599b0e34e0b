//! Keyed parallelism: the keyed tumbling-window workload of `benches/windows.rs` (1 s event-time
//! windows, 10k keys, count/sum/min/max per window and key) on one task (`one_task`) against
//! partitioned by key over 2 tasks with `KeyedFlow::parallel` (`two_partitions`), in the same
//! run, on a multi-threaded tokio runtime with 2 worker threads.
//!
//! - `tumbling_light_10k_keys`: the workload as is (10M events), little work per event, so the
//!   cost of routing events to the partitions and merging their results weighs heavily.
//! - `tumbling_heavy_per_event`: the same pipeline (2M events), with each event run through a
//!   CPU-bound enrichment (`score`, a few hundred cycles) inside the keyed part, so per-event
//!   work dominates over routing.
//!
//! Criterion reports throughput in elements (events) per second; the figure of interest is the
//! ratio `two_partitions / one_task` within each group (2.0 would be perfect scaling on 2
//! cores). After the groups, five rounds of both variants run back to back and the median
//! per-round ratio is printed: the figure to judge by (see `benches/support/paired.rs`). The
//! workload is in `benches/support/windows_workload.rs`.
//!
//! `cargo bench --bench parallel -- --warm-up-time 1 --measurement-time 5`

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "support/windows_workload.rs"]
mod workload;

#[path = "support/paired.rs"]
mod paired;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workload::{flow_tumbling_heavy_on, flow_tumbling_on, hand_tumbling};

/// Events per iteration of `tumbling_light_10k_keys`.
const LIGHT_EVENTS: u64 = 10_000_000;
/// Events per iteration of `tumbling_heavy_per_event`.
const HEAVY_EVENTS: u64 = 2_000_000;
/// Worker threads of the runtime: the cores of the machine the figures are taken on.
const WORKERS: usize = 2;
/// Partitions of the partitioned variants.
const PARTITIONS: usize = 2;

fn parallel(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a tokio runtime");

    // Both variants of each workload compute the same number of results (and as many as the
    // hand-written loop: the enrichment changes values, not keys or times).
    let expected = hand_tumbling(100_000);
    assert_eq!(rt.block_on(flow_tumbling_on(100_000, 0)), expected);
    assert_eq!(rt.block_on(flow_tumbling_on(100_000, PARTITIONS)), expected);
    assert_eq!(rt.block_on(flow_tumbling_heavy_on(100_000, 0)), expected);
    assert_eq!(
        rt.block_on(flow_tumbling_heavy_on(100_000, PARTITIONS)),
        expected
    );

    let mut group = c.benchmark_group("tumbling_light_10k_keys");
    group.throughput(Throughput::Elements(LIGHT_EVENTS));
    group.sample_size(10);
    group.bench_function("one_task", |b| {
        b.iter(|| rt.block_on(flow_tumbling_on(black_box(LIGHT_EVENTS), 0)))
    });
    group.bench_function("two_partitions", |b| {
        b.iter(|| rt.block_on(flow_tumbling_on(black_box(LIGHT_EVENTS), PARTITIONS)))
    });
    group.finish();

    let mut group = c.benchmark_group("tumbling_heavy_per_event");
    group.throughput(Throughput::Elements(HEAVY_EVENTS));
    group.sample_size(10);
    group.bench_function("one_task", |b| {
        b.iter(|| rt.block_on(flow_tumbling_heavy_on(black_box(HEAVY_EVENTS), 0)))
    });
    group.bench_function("two_partitions", |b| {
        b.iter(|| rt.block_on(flow_tumbling_heavy_on(black_box(HEAVY_EVENTS), PARTITIONS)))
    });
    group.finish();

    // The ratios to judge by: rounds of both variants back to back (the groups above measure
    // them a minute apart, while this machine's speed drifts).
    for (name, events, heavy) in [
        ("tumbling_light_10k_keys", LIGHT_EVENTS, false),
        ("tumbling_heavy_per_event", HEAVY_EVENTS, true),
    ] {
        let rounds = paired::rounds(PAIRED_ROUNDS, 2, |variant| {
            let partitions = [0, PARTITIONS][variant];
            paired::rate(events, || {
                let fired = if heavy {
                    rt.block_on(flow_tumbling_heavy_on(black_box(events), partitions))
                } else {
                    rt.block_on(flow_tumbling_on(black_box(events), partitions))
                };
                black_box(fired);
            })
        });
        println!("{name}, {PAIRED_ROUNDS} rounds back to back:");
        println!("  {}", rounds.line("two_partitions", 1, 0, "one_task"));
    }
}

/// Rounds of each group's variants run back to back after the criterion groups.
const PAIRED_ROUNDS: usize = 5;

criterion_group!(benches, parallel);
criterion_main!(benches);
