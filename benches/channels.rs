//! Stage boundary throughput: a 50M-item `map` → `filter` chain split by one stage boundary,
//! against the same chain with a per-item `tokio::sync::mpsc` hand-off and against no boundary,
//! in the same run, on a two-worker tokio runtime.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "support/channels_workload.rs"]
mod workload;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workload::{no_boundary, per_item_mpsc, runtime, stage_boundary, ITEMS};

fn boundaries(c: &mut Criterion) {
    let rt = runtime();
    let expected = rt.block_on(no_boundary(1_000_000));
    assert_eq!(rt.block_on(stage_boundary(1_000_000)), expected);
    assert_eq!(rt.block_on(per_item_mpsc(1_000_000)), expected);

    let mut group = c.benchmark_group("map_filter_50M_across_a_boundary");
    group.throughput(Throughput::Elements(ITEMS));
    group.sample_size(10);
    group.bench_function("stage_boundary", |b| {
        b.iter(|| rt.block_on(stage_boundary(black_box(ITEMS))))
    });
    group.bench_function("per_item_mpsc", |b| {
        b.iter(|| rt.block_on(per_item_mpsc(black_box(ITEMS))))
    });
    group.bench_function("no_boundary", |b| {
        b.iter(|| rt.block_on(no_boundary(black_box(ITEMS))))
    });
    group.finish();
}

criterion_group!(benches, boundaries);
criterion_main!(benches);
