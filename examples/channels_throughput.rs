//! Prints stage boundary throughput: the workload of `benches/channels.rs` across one stage
//! boundary, with a per-item `tokio::sync::mpsc` hand-off and with no boundary, and the ratios.
//!
//! `cargo run --release --example channels_throughput [ITEMS]`

#[path = "../benches/support/channels_workload.rs"]
mod workload;

use std::future::Future;
use std::time::Instant;

fn best_of<F: Future<Output = u64>>(
    rt: &tokio::runtime::Runtime,
    runs: usize,
    n: u64,
    f: impl Fn(u64) -> F,
) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(rt.block_on(f(n)));
        best = best.min(start.elapsed().as_secs_f64());
    }
    n as f64 / best
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(workload::ITEMS);
    let rt = workload::runtime();
    let stage = best_of(&rt, 3, n, workload::stage_boundary);
    let mpsc = best_of(&rt, 3, n, workload::per_item_mpsc);
    let none = best_of(&rt, 3, n, workload::no_boundary);
    println!(
        "stage boundary {:.1}M items/s, per-item mpsc {:.1}M items/s, no boundary {:.1}M items/s; \
         boundary/mpsc {:.1}x, boundary/none {:.2}",
        stage / 1e6,
        mpsc / 1e6,
        none / 1e6,
        stage / mpsc,
        stage / none
    );
}
