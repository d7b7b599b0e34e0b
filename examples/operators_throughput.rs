//! Times a `map → filter` chain over 10M `u64`s three ways — a `Flow`, the same chain with
//! `futures::StreamExt`, and a plain `for` loop — and prints events per second and the ratios.
//!
//! Run it in release mode: `cargo run --release --example operators_throughput`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::StreamExt;
use rheoflow::Flow;

const N: u64 = 10_000_000;
const RUNS: usize = 5;

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
