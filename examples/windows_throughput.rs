//! Prints keyed window throughput: the tumbling and sliding window workloads of
//! `benches/windows.rs`, through `Flow` and hand-written, with the ratios.
//!
//! `cargo run --release --example windows_throughput [EVENTS]`

#[path = "../benches/support/windows_workload.rs"]
mod workload;

use std::time::Instant;

fn best_of<F: FnMut(u64) -> u64>(runs: usize, n: u64, mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f(n));
        best = best.min(start.elapsed().as_secs_f64());
    }
    n as f64 / best
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(workload::EVENTS);
    assert_eq!(
        workload::flow_tumbling(100_000),
        workload::hand_tumbling(100_000)
    );
    assert_eq!(
        workload::flow_sliding(100_000),
        workload::hand_sliding(100_000)
    );
    // For profiling one side alone.
    let alone = match std::env::args().nth(2).as_deref() {
        Some("flow-tumbling") => Some(workload::flow_tumbling as fn(u64) -> u64),
        Some("hand-tumbling") => Some(workload::hand_tumbling as fn(u64) -> u64),
        Some("flow-sliding") => Some(workload::flow_sliding as fn(u64) -> u64),
        _ => None,
    };
    if let Some(run) = alone {
        println!("{:.1}M events/s", best_of(3, n, run) / 1e6);
        return;
    }
    let flow = best_of(3, n, workload::flow_tumbling);
    let hand = best_of(3, n, workload::hand_tumbling);
    let hand_std = best_of(3, n, workload::hand_tumbling_std);
    println!(
        "tumbling 1s, 10k keys: flow {:.1}M events/s, hand-written {:.1}M events/s (FxHashMap), \
         {:.1}M events/s (std HashMap); ratios {:.2} and {:.2}",
        flow / 1e6,
        hand / 1e6,
        hand_std / 1e6,
        flow / hand,
        flow / hand_std
    );
    let flow = best_of(3, n, workload::flow_sliding);
    let hand = best_of(3, n, workload::hand_sliding);
    println!(
        "sliding 1s/250ms, 10k keys: flow {:.1}M events/s, hand-written {:.1}M events/s, ratio {:.2}",
        flow / 1e6,
        hand / 1e6,
        flow / hand
    );
}
