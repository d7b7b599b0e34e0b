//! The keyed window workload shared by `benches/windows.rs` and `examples/windows_throughput.rs`.
//!
//! 20M events, 10k keys, event time advancing 1 ms per event, a watermark after every event
//! (monotonic), count/sum/min/max per window and key, every result consumed with `black_box`.
//! Besides the flow and the hand-written loops, `state_tumbling` drives the flow's window state
//! directly, to split the flow's cost between the state and the rest of the flow.
//! Tumbling: 1 s windows. Sliding: 1 s windows every 250 ms. The hand-written baselines use the
//! same hasher as the library (FxHash), so the ratio measures the framework, not the hash.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use futures::executor::block_on;
use rheoflow::aggregate::{Count, Max, Min, Sum};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{Sliding, Tumbling};
use rheoflow::{Flow, Timestamp};
use rustc_hash::FxHashMap;

pub(crate) const EVENTS: u64 = 20_000_000;
pub(crate) const KEYS: u64 = 10_000;
pub(crate) const WINDOW_MS: i64 = 1_000;
pub(crate) const SLIDE_MS: i64 = 250;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    pub(crate) key: u32,
    pub(crate) ts: i64,
    pub(crate) value: i64,
}

/// The `i`-th event: keys spread by a multiplicative hash, time advancing 1 ms per event.
#[inline]
pub(crate) fn event(i: u64) -> Event {
    Event {
        key: (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32 % KEYS as u32,
        ts: i as i64,
        value: (i % 1_000) as i64,
    }
}

pub(crate) type Stats = (u64, i64, Option<i64>, Option<i64>);

pub(crate) fn stats_add(acc: &mut Stats, value: i64) {
    acc.0 += 1;
    acc.1 += value;
    acc.2 = Some(acc.2.map_or(value, |m| m.min(value)));
    acc.3 = Some(acc.3.map_or(value, |m| m.max(value)));
}

#[allow(clippy::type_complexity)]
pub(crate) fn aggregator() -> (
    Count,
    Sum<impl Fn(&Event) -> i64 + Copy>,
    Min<impl Fn(&Event) -> i64 + Copy>,
    Max<impl Fn(&Event) -> i64 + Copy>,
) {
    let value = |e: &Event| e.value;
    (Count, Sum::of(value), Min::of(value), Max::of(value))
}

/// The tumbling workload through `Flow` on the calling thread.
pub(crate) fn flow_tumbling(n: u64) -> u64 {
    block_on(tumbling_one_task(n))
}

/// The tumbling workload on the window state alone, without a flow: the state `Flow` builds
/// for these windows, given each event and then its watermark directly, its results taken from
/// the queue it fills. The gap between this and the hand-written loop is the state's; the gap
/// between `flow_tumbling` and this is the flow's (messages, operators, result hand-off).
pub(crate) fn state_tumbling(n: u64) -> u64 {
    use rheoflow::keyed::BuildState;
    use rheoflow::window::{EmitPolicy, WindowState};

    let mut state = <Tumbling as BuildState<u32, Event, StatsWindow>>::build(
        Tumbling::of(Duration::from_millis(WINDOW_MS as u64)),
        0,
        EmitPolicy::default(),
        StatsWindow,
    );
    let mut out = VecDeque::new();
    let mut fired = 0u64;
    let mut drain = |out: &mut VecDeque<_>| {
        while let Some(result) = out.pop_front() {
            black_box(&result);
            fired += 1;
        }
    };
    for i in 0..n {
        let e = event(i);
        let ts = Timestamp::from_millis(e.ts);
        if state.add(e.key, ts, e, &mut out).is_err() {
            unreachable!("the watermark trails every event");
        }
        state.advance(ts.saturating_sub_millis(1), &mut out);
        drain(&mut out);
    }
    state.finish(&mut out);
    drain(&mut out);
    fired
}

/// Count/sum/min/max of an event's value as a window function, for [`state_tumbling`]: what
/// `aggregate(aggregator())` computes.
struct StatsWindow;

impl rheoflow::window::WindowFn<u32, rheoflow::window::TimeWindow, Event> for StatsWindow {
    type Acc = Stats;
    type Output = Stats;

    fn create(&self) -> Stats {
        (0, 0, None, None)
    }

    #[inline]
    fn add(&self, acc: &mut Stats, item: Event) {
        stats_add(acc, item.value);
    }

    fn merge(&self, acc: &mut Stats, other: &Stats) {
        rheoflow::aggregate::Aggregator::merge(&Scored, acc, other);
    }

    #[inline]
    fn result(&self, _key: &u32, _window: &rheoflow::window::TimeWindow, acc: &Stats) -> Stats {
        *acc
    }
}

pub(crate) fn hand_tumbling(n: u64) -> u64 {
    hand_tumbling_with::<rustc_hash::FxBuildHasher>(n)
}

/// The tumbling baseline with the standard library's `HashMap` (SipHash), as most hand-written
/// code would use it.
pub(crate) fn hand_tumbling_std(n: u64) -> u64 {
    hand_tumbling_with::<std::collections::hash_map::RandomState>(n)
}

/// Tumbling windows the direct way, on a `HashMap` with hasher `H`.
fn hand_tumbling_with<H: std::hash::BuildHasher + Default>(n: u64) -> u64 {
    let mut fired = 0u64;
    let mut window: std::collections::HashMap<u32, Stats, H> = std::collections::HashMap::default();
    let mut window_end = i64::MIN;
    let mut window_start = 0;
    for i in 0..n {
        let e = event(i);
        if e.ts >= window_end {
            for (key, stats) in window.drain() {
                black_box((key, window_start, window_end, stats));
                fired += 1;
            }
            window_start = e.ts - e.ts.rem_euclid(WINDOW_MS);
            window_end = window_start + WINDOW_MS;
        }
        stats_add(window.entry(e.key).or_insert((0, 0, None, None)), e.value);
    }
    for (key, stats) in window.drain() {
        black_box((key, window_start, window_end, stats));
        fired += 1;
    }
    fired
}

pub(crate) fn flow_sliding(n: u64) -> u64 {
    let ts = |e: &Event| Timestamp::from_millis(e.ts);
    let mut fired = 0u64;
    block_on(
        Flow::from_iter((0..n).map(event))
            .watermarks(ts, WatermarkStrategy::monotonic())
            .key_by(|e| e.key)
            .window(
                Sliding::of(
                    Duration::from_millis(WINDOW_MS as u64),
                    Duration::from_millis(SLIDE_MS as u64),
                ),
                ts,
            )
            .aggregate(aggregator())
            .for_each(|r| {
                black_box(&r);
                fired += 1;
            }),
    )
    .expect("the flow does not fail");
    fired
}

/// Sliding windows the direct way: every event updates each of the windows it belongs to.
pub(crate) fn hand_sliding(n: u64) -> u64 {
    let per_event = (WINDOW_MS / SLIDE_MS) as usize;
    let mut fired = 0u64;
    // Open windows by start, oldest first.
    let mut windows: VecDeque<(i64, FxHashMap<u32, Stats>)> = VecDeque::new();
    let mut emit = |start: i64, window: &mut FxHashMap<u32, Stats>| {
        for (key, stats) in window.drain() {
            black_box((key, start, start + WINDOW_MS, stats));
            fired += 1;
        }
    };
    for i in 0..n {
        let e = event(i);
        // Close the windows that end at or before this event (the watermark is ts - 1).
        while let Some((start, _)) = windows.front() {
            if start + WINDOW_MS - 1 > e.ts - 1 {
                break;
            }
            let (start, mut window) = windows.pop_front().expect("checked above");
            emit(start, &mut window);
        }
        let last_start = e.ts - e.ts.rem_euclid(SLIDE_MS);
        while windows.back().is_none_or(|(start, _)| *start < last_start) {
            let next = windows
                .back()
                .map_or(last_start - (per_event as i64 - 1) * SLIDE_MS, |(s, _)| {
                    s + SLIDE_MS
                });
            windows.push_back((next, FxHashMap::default()));
        }
        for (start, window) in windows.iter_mut() {
            if *start <= e.ts && e.ts < *start + WINDOW_MS {
                stats_add(window.entry(e.key).or_insert((0, 0, None, None)), e.value);
            }
        }
    }
    while let Some((start, mut window)) = windows.pop_front() {
        emit(start, &mut window);
    }
    fired
}

/// Defines `async fn $one_task(n) -> u64` and `async fn $partitioned(n, partitions) -> u64`:
/// the tumbling workload over events `0..n` with aggregator `$aggregator`, on one task or with
/// the keyed part partitioned over `partitions` tasks, returning the number of results.
///
/// Each variant is an `async fn` of its own, spawned as it is: the same flow built inside a
/// larger future (one holding both variants, or an `async` block capturing the closures) ran
/// about 30% slower on one task, a cost of that future's code, not of the flow.
macro_rules! tumbling_tasks {
    ($one_task:ident, $partitioned:ident, $aggregator:expr) => {
        async fn $one_task(n: u64) -> u64 {
            let ts = |e: &Event| Timestamp::from_millis(e.ts);
            let mut fired = 0u64;
            Flow::from_iter((0..n).map(event))
                .watermarks(ts, WatermarkStrategy::monotonic())
                .key_by(|e| e.key)
                .window(Tumbling::of(Duration::from_millis(WINDOW_MS as u64)), ts)
                .aggregate($aggregator)
                .for_each(|r| {
                    black_box(&r);
                    fired += 1;
                })
                .await
                .expect("the flow does not fail");
            fired
        }

        async fn $partitioned(n: u64, partitions: usize) -> u64 {
            let ts = |e: &Event| Timestamp::from_millis(e.ts);
            let window = Tumbling::of(Duration::from_millis(WINDOW_MS as u64));
            let config = rheoflow::channel::StageConfig::with_capacity(1 << 16)
                .and_then(|c| c.batch_size(4_096))
                .expect("valid");
            let mut fired = 0u64;
            Flow::from_iter((0..n).map(event))
                .watermarks(ts, WatermarkStrategy::monotonic())
                .key_by(|e| e.key)
                .parallel(partitions, config, move |keyed| {
                    keyed.window(window, ts).aggregate($aggregator)
                })
                .expect("valid partitions")
                .for_each(|r| {
                    black_box(&r);
                    fired += 1;
                })
                .await
                .expect("the flow does not fail");
            fired
        }
    };
}

tumbling_tasks!(tumbling_one_task, tumbling_partitioned, aggregator());
tumbling_tasks!(heavy_one_task, heavy_partitioned, Scored);

/// The tumbling workload as a task of a multi-threaded runtime: one task (`partitions == 0`), or
/// the keyed part partitioned over `partitions` tasks.
pub(crate) async fn flow_tumbling_on(n: u64, partitions: usize) -> u64 {
    let task = match partitions {
        0 => tokio::spawn(tumbling_one_task(n)),
        _ => tokio::spawn(tumbling_partitioned(n, partitions)),
    };
    task.await.expect("the flow task does not panic")
}

/// Rounds of the integer mix in [`score`]: enough CPU work per event (a few hundred cycles) that
/// it dominates over routing an event to its partition.
pub(crate) const SCORE_ROUNDS: u32 = 200;

/// A deterministic CPU-bound enrichment of an event: `SCORE_ROUNDS` rounds of a cheap integer
/// mix seeded from the event; the event comes back with `value` replaced by the mix, mod 1000.
#[inline]
pub(crate) fn score(e: &Event) -> Event {
    let mut x = (e.ts as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (u64::from(e.key) << 32)
        ^ e.value as u64
        ^ 1;
    for _ in 0..SCORE_ROUNDS {
        x = x.rotate_left(5) ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    Event {
        value: (x % 1_000) as i64,
        ..*e
    }
}

/// Count/sum/min/max of the [`score`]d value of each event, one `score` per event.
///
/// A `KeyedFlow` has no `map`, so the enrichment happens in the keyed part this way: in the
/// window's aggregator, which runs inside each partition (or the single task).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored;

impl rheoflow::aggregate::Aggregator<Event> for Scored {
    type Acc = Stats;
    type Output = Stats;

    fn create(&self) -> Stats {
        (0, 0, None, None)
    }

    fn add(&self, acc: &mut Stats, item: &Event) {
        stats_add(acc, score(item).value);
    }

    fn merge(&self, acc: &mut Stats, other: &Stats) {
        acc.0 += other.0;
        acc.1 += other.1;
        acc.2 = match (acc.2, other.2) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        acc.3 = match (acc.3, other.3) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn result(&self, acc: &Stats) -> Stats {
        *acc
    }
}

/// [`flow_tumbling_on`] with real per-event CPU work in the keyed part: every event is
/// [`score`]d before it is aggregated, inside the partition it is routed to (or on the single
/// task when `partitions == 0`).
pub(crate) async fn flow_tumbling_heavy_on(n: u64, partitions: usize) -> u64 {
    let task = match partitions {
        0 => tokio::spawn(heavy_one_task(n)),
        _ => tokio::spawn(heavy_partitioned(n, partitions)),
    };
    task.await.expect("the flow task does not panic")
}
