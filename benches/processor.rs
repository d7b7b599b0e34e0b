//! Processor throughput: a stateful processor written with `#[processor]`, the same processor
//! written by hand against the `Processor` trait, and the same logic as a plain `for` loop,
//! over 10M `u64`s in the same run. The macro must cost nothing over the hand-written impl.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::executor::block_on;
use rheoflow::checkpoint::Snapshot;
use rheoflow::processor::{processor, Context, Processor};
use rheoflow::Flow;
use serde::{Deserialize, Serialize};

/// Items per iteration.
const N: u64 = 10_000_000;

/// The workload's input: a cheap hash of the index into 64 values, so runs repeat.
#[inline]
fn input(x: u64) -> u64 {
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) & 63
}

/// Emits `item ^ last` whenever the item differs from the previous one.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Changes {
    last: Option<u64>,
}

#[processor(name = "changes")]
impl Changes {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        if let Some(last) = self.last.replace(item) {
            if item != last {
                ctx.emit(item ^ last);
            }
        }
    }
}

/// [`Changes`], by hand.
#[derive(Default)]
struct HandChanges {
    last: Option<u64>,
}

impl Processor for HandChanges {
    type In = u64;
    type Out = u64;

    #[inline]
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        if let Some(last) = self.last.replace(item) {
            if item != last {
                ctx.emit(item ^ last);
            }
        }
    }
}

impl Snapshot for HandChanges {
    type State = Option<u64>;

    fn snapshot(&self) -> Option<u64> {
        self.last
    }

    fn restore(&mut self, last: Option<u64>) {
        self.last = last;
    }
}

fn run<P>(n: u64, processor: P) -> u64
where
    P: Processor<In = u64, Out = u64> + Snapshot,
{
    let mut sum = 0u64;
    block_on(
        Flow::from_iter((0..n).map(input))
            .process(processor)
            .for_each(|x| sum = sum.wrapping_add(x)),
    )
    .expect("the flow does not fail");
    sum
}

/// The same logic as a closure in `filter_map`: the cost of the flow without a processor.
fn filter_map(n: u64) -> u64 {
    let mut sum = 0u64;
    let mut last = None;
    block_on(
        Flow::from_iter((0..n).map(input))
            .filter_map(move |item| match last.replace(item) {
                Some(last) if item != last => Some(item ^ last),
                _ => None,
            })
            .for_each(|x| sum = sum.wrapping_add(x)),
    )
    .expect("the flow does not fail");
    sum
}

fn plain_loop(n: u64) -> u64 {
    let mut sum = 0u64;
    let mut last = None;
    for x in 0..n {
        let item = input(x);
        if let Some(last) = last.replace(item) {
            if item != last {
                sum = sum.wrapping_add(item ^ last);
            }
        }
    }
    sum
}

fn processors(c: &mut Criterion) {
    assert_eq!(run(10_000, Changes::default()), plain_loop(10_000));
    assert_eq!(run(10_000, HandChanges::default()), plain_loop(10_000));
    assert_eq!(filter_map(10_000), plain_loop(10_000));

    let mut group = c.benchmark_group("processor_changes_10M");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.bench_function("macro", |b| {
        b.iter(|| black_box(run(black_box(N), Changes::default())))
    });
    group.bench_function("by_hand", |b| {
        b.iter(|| black_box(run(black_box(N), HandChanges::default())))
    });
    group.bench_function("filter_map_closure", |b| {
        b.iter(|| black_box(filter_map(black_box(N))))
    });
    group.bench_function("for_loop", |b| {
        b.iter(|| black_box(plain_loop(black_box(N))))
    });
    group.finish();
}

criterion_group!(benches, processors);
criterion_main!(benches);
