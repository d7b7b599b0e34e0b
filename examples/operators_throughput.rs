//! Times a `map → filter` chain over 10M `u64`s three ways — a `Flow`, the same chain with
//! `futures::StreamExt`, and a plain `for` loop — and prints events per second and the ratios.
//!
//! Run it in release mode: `cargo run --release --example operators_throughput`.

use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../benches/support/operators_workload.rs"]
mod workload;

use workload::{flow_chain, plain_loop, stream_ext_chain};

const N: u64 = 10_000_000;
const RUNS: usize = 5;

/// The best of `RUNS` timings of `f` over `N` items.
fn best_of(f: fn(u64) -> u64) -> Duration {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(f(black_box(N)));
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    assert_eq!(flow_chain(1_000), plain_loop(1_000));
    assert_eq!(stream_ext_chain(1_000), plain_loop(1_000));

    let flow = best_of(flow_chain);
    let stream_ext = best_of(stream_ext_chain);
    let for_loop = best_of(plain_loop);

    let rate = |d: Duration| N as f64 / d.as_secs_f64();
    println!("map → filter over {N} u64s, best of {RUNS} runs");
    for (name, d) in [
        ("flow", flow),
        ("stream_ext", stream_ext),
        ("for_loop", for_loop),
    ] {
        println!(
            "  {name:<11} {:>8.2} ms  {:>8.1} M events/s",
            d.as_secs_f64() * 1e3,
            rate(d) / 1e6
        );
    }
    println!("  flow / stream_ext: {:.3}×", rate(flow) / rate(stream_ext));
    println!("  flow / for_loop:   {:.3}×", rate(flow) / rate(for_loop));
}
