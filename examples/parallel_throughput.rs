//! Prints keyed parallel throughput: the tumbling window workload of `benches/windows.rs` on one
//! task and partitioned by key over 2..=N tasks, on a runtime with as many workers as cores.
//!
//! `cargo run --release --example parallel_throughput [EVENTS] [MAX_PARTITIONS] [alone]`

#[path = "../benches/support/windows_workload.rs"]
mod workload;

use std::time::Instant;

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
    let measure = |partitions: usize| {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            std::hint::black_box(rt.block_on(workload::flow_tumbling_on(n, partitions)));
            best = best.min(start.elapsed().as_secs_f64());
        }
        n as f64 / best
    };
    if args.next().as_deref() == Some("alone") {
        // For profiling the partitioned flow alone.
        println!("{:.1}M events/s", measure(max) / 1e6);
        return;
    }
    let single = measure(0);
    println!(
        "{cores} cores; tumbling 1s, 10k keys: one task {:.1}M events/s",
        single / 1e6
    );
    for partitions in 2..=max.max(2) {
        let parallel = measure(partitions);
        println!(
            "  {partitions} partitions: {:.1}M events/s, {:.2}x one task",
            parallel / 1e6,
            parallel / single
        );
    }
}
