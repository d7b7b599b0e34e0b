//! The stage boundary workload shared by `benches/channels.rs` and
//! `examples/channels_throughput.rs`: `map` before the boundary, `filter` and a sum after it.

#![allow(dead_code)]

use rheoflow::channel::StageConfig;
use rheoflow::Flow;

pub(crate) const ITEMS: u64 = 50_000_000;

/// A two-worker multi-threaded runtime, as a service would run the flow.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime")
}

#[inline]
fn before(x: u64) -> u64 {
    x.wrapping_mul(3)
}

#[inline]
fn keep(x: &u64) -> bool {
    !x.is_multiple_of(5)
}

pub(crate) async fn stage_boundary(n: u64) -> u64 {
    let config = StageConfig::with_capacity(16 * 1_024)
        .and_then(|c| c.batch_size(1_024))
        .expect("a valid stage");
    let mut sum = 0u64;
    Flow::from_iter(0..n)
        .map(before)
        .stage(config)
        .filter(keep)
        .for_each(|x| sum = sum.wrapping_add(x))
        .await
        .expect("the flow does not fail");
    sum
}

pub(crate) async fn per_item_mpsc(n: u64) -> u64 {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16 * 1_024);
    let producer = tokio::spawn(async move {
        for x in 0..n {
            if tx.send(before(x)).await.is_err() {
                break;
            }
        }
    });
    let mut sum = 0u64;
    while let Some(x) = rx.recv().await {
        if keep(&x) {
            sum = sum.wrapping_add(x);
        }
    }
    producer.await.expect("the producer does not panic");
    sum
}

pub(crate) async fn no_boundary(n: u64) -> u64 {
    let mut sum = 0u64;
    Flow::from_iter(0..n)
        .map(before)
        .filter(keep)
        .for_each(|x| sum = sum.wrapping_add(x))
        .await
        .expect("the flow does not fail");
    sum
}
