//! Stateless operator throughput: a `Flow` chain against the same chain written with
//! `futures::StreamExt` and against a plain `for` loop, over 10M `u64`s in the same run.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "support/operators_workload.rs"]
mod workload;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workload::{flow_chain, plain_loop, stream_ext_chain};

/// Items per iteration.
const N: u64 = 10_000_000;

fn stateless_chain(c: &mut Criterion) {
    assert_eq!(flow_chain(1_000), plain_loop(1_000));
    assert_eq!(stream_ext_chain(1_000), plain_loop(1_000));

    let mut group = c.benchmark_group("map_filter_10M");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.bench_function("flow", |b| b.iter(|| black_box(flow_chain(black_box(N)))));
    group.bench_function("stream_ext", |b| {
        b.iter(|| black_box(stream_ext_chain(black_box(N))))
    });
    group.bench_function("for_loop", |b| {
        b.iter(|| black_box(plain_loop(black_box(N))))
    });
    group.finish();
}

criterion_group!(benches, stateless_chain);
criterion_main!(benches);
