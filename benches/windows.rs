//! Keyed window throughput: tumbling and sliding event-time windows through `Flow`, each against
//! a hand-written `FxHashMap` loop doing the same work, in the same run (the workload is in
//! `benches/support/windows_workload.rs`). After the criterion groups, five rounds of each
//! group's variants run back to back and the median per-round ratios are printed: the figures
//! to judge by (see `benches/support/paired.rs`).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "support/windows_workload.rs"]
mod workload;

#[path = "support/paired.rs"]
mod paired;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workload::{
    flow_sliding, flow_tumbling, hand_sliding, hand_tumbling, hand_tumbling_std, state_tumbling,
    EVENTS,
};

fn windows(c: &mut Criterion) {
    assert_eq!(flow_tumbling(100_000), hand_tumbling(100_000));
    assert_eq!(state_tumbling(100_000), hand_tumbling(100_000));
    assert_eq!(flow_sliding(100_000), hand_sliding(100_000));

    let mut group = c.benchmark_group("tumbling_1s_10k_keys_20M");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.bench_function("flow", |b| b.iter(|| flow_tumbling(black_box(EVENTS))));
    group.bench_function("hand_written", |b| {
        b.iter(|| hand_tumbling(black_box(EVENTS)))
    });
    group.bench_function("hand_written_std_hashmap", |b| {
        b.iter(|| hand_tumbling_std(black_box(EVENTS)))
    });
    group.finish();

    let mut group = c.benchmark_group("sliding_1s_250ms_10k_keys_20M");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.bench_function("flow", |b| b.iter(|| flow_sliding(black_box(EVENTS))));
    group.bench_function("hand_written", |b| {
        b.iter(|| hand_sliding(black_box(EVENTS)))
    });
    group.finish();

    // The ratios to judge by: rounds of each group's variants back to back (the groups above
    // measure them a minute apart, while this machine's speed drifts).
    let tumbling = paired::rounds_of(
        PAIRED_ROUNDS,
        EVENTS,
        &[
            flow_tumbling,
            hand_tumbling,
            hand_tumbling_std,
            state_tumbling,
        ],
    );
    println!("tumbling, {PAIRED_ROUNDS} rounds back to back:");
    println!("  {}", tumbling.line("flow", 0, 1, "hand_written"));
    println!(
        "  {}",
        tumbling.line("flow", 0, 2, "hand_written_std_hashmap")
    );
    // Where the flow's time goes: its window state alone, and the rest of the flow.
    println!(
        "  {}",
        tumbling.line("window state alone", 3, 1, "hand_written")
    );
    println!("  {}", tumbling.line("flow", 0, 3, "window state alone"));
    let sliding = paired::rounds_of(PAIRED_ROUNDS, EVENTS, &[flow_sliding, hand_sliding]);
    println!("sliding, {PAIRED_ROUNDS} rounds back to back:");
    println!("  {}", sliding.line("flow", 0, 1, "hand_written"));
}

/// Rounds of each group's variants run back to back after the criterion groups.
const PAIRED_ROUNDS: usize = 5;

criterion_group!(benches, windows);
criterion_main!(benches);
