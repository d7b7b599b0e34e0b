//! Prints keyed parallel throughput: the tumbling window workload of `benches/windows.rs` on one
//! task and partitioned by key over 2..=N tasks, on a runtime with as many workers as cores,
//! both as is (light) and with a CPU-bound enrichment of each event in the keyed part (heavy,
//! a fifth of the events). Ratios are the median of five rounds' ratios, each round running the
//! variants back to back. Last, both workloads run on one thread, partitioned and not: the
//! ratio is how much work partitioning adds, which bounds what more cores can give.
//!
//! `cargo run --release --example parallel_throughput [EVENTS] [MAX_PARTITIONS] [alone|heavy-alone]`

#[path = "../benches/support/windows_workload.rs"]
mod workload;

#[path = "../benches/support/paired.rs"]
mod paired;

use std::time::Instant;

/// Rounds of each comparison.
const ROUNDS: usize = 5;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(workload::EVENTS);
    let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
    let max: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(cores);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .build()
        .expect("a tokio runtime");
    let expected = rt.block_on(workload::flow_tumbling_on(100_000, 0));
    assert_eq!(
        rt.block_on(workload::flow_tumbling_on(100_000, 2)),
        expected
    );
    assert_eq!(
        rt.block_on(workload::flow_tumbling_heavy_on(100_000, 2)),
        expected
    );
    let alone = args.next();
    if let Some(workload @ ("alone" | "heavy-alone")) = alone.as_deref() {
        // For profiling one variant alone: `max` partitions (0: one task).
        let start = Instant::now();
        std::hint::black_box(match workload {
            "alone" => rt.block_on(workload::flow_tumbling_on(n, max)),
            _ => rt.block_on(workload::flow_tumbling_heavy_on(n, max)),
        });
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!("{:.1}M events/s", rate / 1e6);
        return;
    }
    // Variant 0 is one task; variant v > 0 is v + 1 partitions.
    let partitions = |variant: usize| if variant == 0 { 0 } else { variant + 1 };
    let variants = max.max(2);
    println!("{cores} cores, tumbling 1s, 10k keys, {ROUNDS} rounds:");
    for (workload, events) in [("light", n), ("heavy", n / 5)] {
        let rounds = workload_rounds(&rt, workload, events, variants, partitions);
        println!(
            "  {workload}: one task {:.2}M events/s (median)",
            rounds.median(0) / 1e6
        );
        for variant in 1..variants {
            let name = format!("{} partitions", partitions(variant));
            println!("    {}", rounds.line(&name, variant, 0, "one task"));
        }
    }
    // The work a partitioned flow adds: 2 partitions against one task, both on one thread. With
    // N cores the partitioned flow can run at most N times this ratio faster than one task.
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    println!("2 partitions on a current-thread runtime (the whole flow's work on one core):");
    for (workload, events) in [("light", n), ("heavy", n / 5)] {
        let rounds = workload_rounds(&one_thread, workload, events, 2, |variant| 2 * variant);
        println!(
            "  {workload}: {}",
            rounds.line("2 partitions", 1, 0, "one task")
        );
    }
}

/// Rounds of the `"light"` or `"heavy"` workload over `events` events on `rt`, variant `v`
/// partitioned over `partitions(v)` tasks (0: one task).
fn workload_rounds(
    rt: &tokio::runtime::Runtime,
    workload: &str,
    events: u64,
    variants: usize,
    partitions: impl Fn(usize) -> usize,
) -> paired::Rounds {
    paired::rounds(ROUNDS, variants, |variant| {
        paired::rate(events, || {
            let partitions = partitions(variant);
            let fired = match workload {
                "light" => rt.block_on(workload::flow_tumbling_on(events, partitions)),
                _ => rt.block_on(workload::flow_tumbling_heavy_on(events, partitions)),
            };
            std::hint::black_box(fired);
        })
    })
}
