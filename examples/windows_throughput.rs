//! Prints keyed window throughput: the tumbling and sliding window workloads of
//! `benches/windows.rs`, through `Flow` and hand-written, with the ratios: the median of five
//! rounds' ratios, each round running the variants back to back. For tumbling windows it also
//! runs the flow's window state alone, without the flow, to show how the flow's cost splits
//! between the state and the rest.
//!
//! `cargo run --release --example windows_throughput [EVENTS]`

#[path = "../benches/support/windows_workload.rs"]
mod workload;

#[path = "../benches/support/paired.rs"]
mod paired;

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
        workload::state_tumbling(100_000),
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
        Some("state-tumbling") => Some(workload::state_tumbling as fn(u64) -> u64),
        Some("flow-sliding") => Some(workload::flow_sliding as fn(u64) -> u64),
        _ => None,
    };
    if let Some(run) = alone {
        println!("{:.1}M events/s", best_of(3, n, run) / 1e6);
        return;
    }
    // Rounds of the variants back to back; ratios are per round (see paired.rs).
    let tumbling = paired::rounds_of(
        ROUNDS,
        n,
        &[
            workload::flow_tumbling,
            workload::hand_tumbling,
            workload::hand_tumbling_std,
            workload::state_tumbling,
        ],
    );
    println!("tumbling 1s, 10k keys, {ROUNDS} rounds:");
    println!(
        "  {}",
        tumbling.line("flow", 0, 1, "hand-written FxHashMap")
    );
    println!(
        "  {}",
        tumbling.line("flow", 0, 2, "hand-written std HashMap")
    );
    // Where the flow's time goes: its window state alone, and the rest of the flow.
    println!(
        "  {}",
        tumbling.line("window state alone", 3, 1, "hand-written FxHashMap")
    );
    println!("  {}", tumbling.line("flow", 0, 3, "window state alone"));
    let sliding = paired::rounds_of(ROUNDS, n, &[workload::flow_sliding, workload::hand_sliding]);
    println!("sliding 1s/250ms, 10k keys, {ROUNDS} rounds:");
    println!("  {}", sliding.line("flow", 0, 1, "hand-written"));
}

/// Rounds of each comparison.
const ROUNDS: usize = 5;
