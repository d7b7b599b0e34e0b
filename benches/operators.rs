//! Stateless operator throughput: a `Flow` chain against the same chain written with
//! `futures::StreamExt` and against a plain `for` loop, over 10M `u64`s in the same run.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::executor::block_on;
use futures::StreamExt;
use rheoflow::Flow;

/// Items per iteration.
const N: u64 = 10_000_000;

fn flow_chain(n: u64) -> u64 {
    let mut sum = 0u64;
    block_on(
        Flow::from_iter(0..n)
            .map(|x: u64| x.wrapping_mul(3))
            .filter(|x| x % 5 != 0)
            .for_each(|x| sum = sum.wrapping_add(x)),
    )
    .expect("the flow does not fail");
    sum
}

fn stream_ext_chain(n: u64) -> u64 {
    let mut sum = 0u64;
    block_on(
        futures::stream::iter(0..n)
            .map(|x: u64| x.wrapping_mul(3))
            .filter(|x| futures::future::ready(x % 5 != 0))
            .for_each(|x| {
                sum = sum.wrapping_add(x);
                futures::future::ready(())
            }),
    );
    sum
}

fn plain_loop(n: u64) -> u64 {
    let mut sum = 0u64;
    for x in 0..n {
        let x = x.wrapping_mul(3);
        if x % 5 != 0 {
            sum = sum.wrapping_add(x);
        }
    }
    sum
}

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
