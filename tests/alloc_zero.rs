//! Stateless chains allocate nothing per event: the number of allocations while a chain runs is
//! the same for a thousand items as for a million, and the JSON-lines sink allocates nothing per
//! item.
//!
//! The global allocator is `System` wrapped in a per-thread counter. It comes from the
//! `allocation-counter` dev-dependency (its `#[global_allocator]` is linked into this test binary
//! only), because a counting allocator needs `unsafe impl GlobalAlloc`, which this workspace
//! forbids. Counting per thread keeps the libtest threads out of the figures; every flow here runs
//! on a current-thread runtime, so all its allocations are on the measuring thread. The runtime
//! and the flow are built before the measured region.

use std::hint::black_box;

use rheoflow::sink::JsonLines;
use rheoflow::{ErrorPolicy, Flow, Sink};

/// The allocations (including reallocations) made on this thread while `run` runs.
fn allocations_during(run: impl FnOnce()) -> u64 {
    allocation_counter::measure(run).count_total
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// Runs the stateless chain over `n` items and returns the allocations made while it ran.
fn stateless_chain_allocations(n: u64) -> u64 {
    let rt = runtime();
    let mut sum = 0u64;
    let flow = Flow::from_iter(0..black_box(n))
        .map(|x| x.wrapping_mul(3))
        .filter(|x| x % 5 != 0)
        .filter_map(|x| (x % 7 != 0).then_some(x + 1))
        .inspect(|x| {
            black_box(x);
        })
        .scan(0u64, |count, x| {
            *count += 1;
            x ^ *count
        })
        .flat_map(|x| [x; 1])
        .flat_map(Some)
        .take_while(|_| true);
    let allocations = allocations_during(|| {
        rt.block_on(flow.for_each(|x| sum = sum.wrapping_add(x)))
            .expect("the flow does not fail");
    });
    black_box(sum);
    allocations
}

/// Runs `try_map` with the skip policy over `n` good items; returns the allocations made.
fn try_map_allocations(n: u64) -> u64 {
    let rt = runtime();
    let mut sum = 0i64;
    let flow = Flow::from_iter(0..black_box(n))
        .try_map(|x: &u64| u32::try_from(*x), ErrorPolicy::skip())
        .try_filter_map(
            |x: &u32| i32::try_from(*x).map(|x| Some(i64::from(x))),
            ErrorPolicy::skip(),
        );
    let allocations = allocations_during(|| {
        rt.block_on(flow.for_each(|x| sum = sum.wrapping_add(x)))
            .expect("the flow does not fail");
    });
    black_box(sum);
    allocations
}

/// Writes a batch of `n` numbers to a warmed-up JSON-lines sink; returns the allocations made.
fn json_lines_allocations(n: u64) -> u64 {
    let rt = runtime();
    let mut sink = JsonLines::new(tokio::io::sink());
    let numbers = |n: u64| (0..n).map(|x| x * 1_000_003).collect::<Vec<u64>>();
    // The first batch grows the reused buffer to the size of the largest batch.
    rt.block_on(sink.write(&mut numbers(4096)))
        .expect("writing to tokio::io::sink does not fail");
    let mut batch = numbers(n);
    allocations_during(|| {
        rt.block_on(sink.write(&mut batch))
            .expect("writing to tokio::io::sink does not fail");
    })
}

#[test]
fn the_counter_sees_allocations() {
    let allocations = allocations_during(|| {
        black_box(vec![1u8; 16]);
    });
    assert_eq!(allocations, 1);
}

#[test]
fn stateless_chain_allocates_nothing_per_event() {
    let small = stateless_chain_allocations(1_000);
    let large = stateless_chain_allocations(1_000_000);
    assert_eq!(
        small, large,
        "allocations grow with the input: {small} for 1k items, {large} for 1M"
    );
}

#[test]
fn try_map_with_skip_allocates_nothing_per_good_event() {
    let small = try_map_allocations(1_000);
    let large = try_map_allocations(1_000_000);
    assert_eq!(
        small, large,
        "allocations grow with the input: {small} for 1k items, {large} for 1M"
    );
}

#[test]
fn json_lines_allocates_nothing_per_item() {
    let small = json_lines_allocations(16);
    let large = json_lines_allocations(4096);
    assert_eq!(
        small, large,
        "allocations grow with the batch: {small} for 16 items, {large} for 4096"
    );
}
