//! Emit policies (early firings per item, per count, per interval of processing time), the global
//! window's timer trigger, and processing-time windows, under paused tokio time.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use rheoflow::aggregate::{Collect, Count};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{EmitPolicy, Firing, GlobalWindow, Session, Sliding, Trigger, Tumbling};
use rheoflow::{source, Flow, Message, Timestamp};
use tokio::time::{sleep_until, Instant};

use support::timed_output;

const MS: Duration = Duration::from_millis(1);

fn ts(t: &i64) -> Timestamp {
    Timestamp::from_millis(*t)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// The data items of a timed output.
fn timed_data<T>(out: Vec<(u64, Message<T>)>) -> Vec<(u64, T)> {
    out.into_iter()
        .filter_map(|(at, m)| m.into_data().map(|d| (at, d)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// On an ordered input, every window of every key emits early results (each after an item,
    /// or after every `n`-th item), then exactly one on-time result with all its items.
    #[test]
    fn early_firings_precede_one_on_time_result(
        steps in prop::collection::vec((0u8..3, 0i64..4), 0..60),
        every in prop::option::of(1u64..4),
        sliding in any::<bool>(),
    ) {
        let mut t = 0;
        let items: Vec<(u8, i64, u32)> = steps
            .iter()
            .enumerate()
            .map(|(i, &(key, dt))| {
                t += dt;
                (key, t, i as u32)
            })
            .collect();
        let policy = match every {
            Some(n) => EmitPolicy::early_every_count(n),
            None => EmitPolicy::OnUpdate,
        };
        let stamp = |e: &(u8, i64, u32)| Timestamp::from_millis(e.1);
        let keyed = Flow::from_iter(items.clone())
            .watermarks(stamp, WatermarkStrategy::monotonic())
            .key_by(|e| e.0);
        let collect = Collect::of(|e: &(u8, i64, u32)| e.2);
        let results = if sliding {
            let windows = Sliding::of(10 * MS, 4 * MS);
            block_on(keyed.window(windows, stamp).emit(policy).aggregate(collect).collect::<Vec<_>>())
        } else {
            let windows = Tumbling::of(10 * MS);
            block_on(keyed.window(windows, stamp).emit(policy).aggregate(collect).collect::<Vec<_>>())
        }
        .expect("the flow runs");
        let mut per_window: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for r in results {
            per_window.entry((r.key, r.window)).or_default().push((r.firing, r.value));
        }
        let mut expected_windows = 0;
        for (&(key, window), fired) in &per_window {
            let ids: Vec<u32> = items
                .iter()
                .filter(|e| e.0 == key && window.contains(Timestamp::from_millis(e.1)))
                .map(|e| e.2)
                .collect();
            let (last, early) = fired.split_last().expect("at least one result");
            prop_assert_eq!(last, &(Firing::OnTime, ids.clone()), "{:?}", window);
            // Early results after the k-th item for every k (that is a multiple of n).
            let n = every.unwrap_or(1) as usize;
            let expected_early: Vec<(Firing, Vec<u32>)> = (1..=ids.len())
                .filter(|k| k % n == 0)
                .map(|k| (Firing::Early, ids[..k].to_vec()))
                .collect();
            prop_assert_eq!(early, &expected_early[..], "{:?}", window);
            expected_windows += 1;
        }
        let mut windows = std::collections::BTreeSet::new();
        for e in &items {
            let t = e.1;
            if sliding {
                let last = t - t % 4;
                for s in [last, last - 4, last - 8] {
                    if s + 10 > t {
                        windows.insert((e.0, s));
                    }
                }
            } else {
                windows.insert((e.0, t - t % 10));
            }
        }
        prop_assert_eq!(expected_windows, windows.len());
    }
}

#[tokio::test(start_paused = true)]
async fn early_every_interval_fires_open_windows_then_on_time() {
    let start = Instant::now();
    let (tx, flow) = source::channel::<i64>(8).expect("capacity is not zero");
    let flow = flow
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|_| 0u8)
        .window(Tumbling::of(Duration::from_secs(1)), ts)
        .emit(EmitPolicy::early_every(100 * MS))
        .aggregate(Count)
        .map(|r| (r.window.start().millis(), r.value, r.firing));
    let feed = async move {
        tx.send(10).await.expect("the flow runs");
        sleep_until(start + 50 * MS).await;
        tx.send(20).await.expect("the flow runs");
        sleep_until(start + 150 * MS).await;
        tx.send(30).await.expect("the flow runs");
        sleep_until(start + 250 * MS).await;
        // Closes [0, 1000); the end of input closes [1000, 2000).
        tx.send(1_500).await.expect("the flow runs");
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    assert_eq!(
        timed_data(out),
        [
            (100, (0, 2, Firing::Early)),
            (200, (0, 3, Firing::Early)),
            (250, (0, 3, Firing::OnTime)),
            (250, (1_000, 1, Firing::OnTime)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn early_every_interval_fires_open_sessions() {
    let start = Instant::now();
    let (tx, flow) = source::channel::<i64>(8).expect("capacity is not zero");
    let flow = flow
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|_| 0u8)
        .window(Session::with_gap(100 * MS), ts)
        .emit(EmitPolicy::early_every(100 * MS))
        .aggregate(Count)
        .map(|r| {
            (
                r.window.start().millis(),
                r.window.end().millis(),
                r.value,
                r.firing,
            )
        });
    let feed = async move {
        tx.send(0).await.expect("the flow runs");
        tx.send(50).await.expect("the flow runs");
        sleep_until(start + 150 * MS).await;
        // Closes [0, 150) at watermark 499.
        tx.send(500).await.expect("the flow runs");
        sleep_until(start + 220 * MS).await;
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    assert_eq!(
        timed_data(out),
        [
            (100, (0, 150, 2, Firing::Early)),
            (150, (0, 150, 2, Firing::OnTime)),
            (200, (500, 600, 1, Firing::Early)),
            (220, (500, 600, 1, Firing::OnTime)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_global_window_with_a_timer_trigger_fires_keys_with_new_items() {
    let start = Instant::now();
    let (tx, flow) = source::channel::<&str>(8).expect("capacity is not zero");
    let flow = flow
        .key_by(|s| s.to_string())
        .global_window(GlobalWindow::with_trigger(Trigger::every(100 * MS)))
        .aggregate(Count)
        .map(|r| {
            assert_eq!(r.firing, Firing::OnTime);
            (r.key.leak() as &str, r.value)
        });
    let feed = async move {
        tx.send("a").await.expect("the flow runs");
        sleep_until(start + 30 * MS).await;
        tx.send("b").await.expect("the flow runs");
        sleep_until(start + 150 * MS).await;
        tx.send("a").await.expect("the flow runs");
        sleep_until(start + 330 * MS).await;
        tx.send("b").await.expect("the flow runs");
        // The end of input fires what changed since the last tick.
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    let mut out = timed_data(out);
    out.sort();
    assert_eq!(
        out,
        [
            (100, ("a", 1)),
            (100, ("b", 1)),
            (200, ("a", 2)),
            (330, ("b", 2)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_purging_timer_trigger_fires_the_items_since_the_last_firing() {
    let start = Instant::now();
    let (tx, flow) = source::channel::<i64>(8).expect("capacity is not zero");
    let flow = flow
        .key_by(|_| ())
        .global_window(GlobalWindow::with_trigger(
            Trigger::every(100 * MS).purging(),
        ))
        .aggregate(Collect::of(|x: &i64| *x))
        .map(|r| r.value);
    let feed = async move {
        for (at, x) in [(0, 1), (10, 2), (120, 3), (250, 4), (260, 5)] {
            sleep_until(start + at * MS).await;
            tx.send(x).await.expect("the flow runs");
        }
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    assert_eq!(
        timed_data(out),
        [(100, vec![1, 2]), (200, vec![3]), (260, vec![4, 5])]
    );
}

fn system_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// Items land in the window of their arrival on tokio's clock, and windows fire when processing
/// time passes their end. The clock starts at the system time, so the test aims its items at the
/// middle of windows, whatever the phase.
#[tokio::test(start_paused = true)]
async fn processing_time_windows_fire_when_time_passes_their_end() {
    let start = Instant::now();
    let before = system_millis();
    let (tx, flow) = source::channel::<&str>(8).expect("capacity is not zero");
    let flow = flow
        .key_by(|s| s.to_string())
        .window_processing_time(Tumbling::of(Duration::from_secs(1)))
        .aggregate(Count);
    let after = system_millis();
    assert!(after - before < 100, "the clock was read at once");
    // From `start`, the next window begins in `next` ms (± the few ms between before and after).
    let next = (1_000 - before.rem_euclid(1_000)) as u64;
    let schedule = [
        (next + 300, "a"),
        (next + 400, "b"),
        (next + 700, "a"),
        (next + 1_300, "a"),
        (next + 3_300, "b"),
    ];
    let feed = async move {
        for (at, key) in schedule {
            sleep_until(start + Duration::from_millis(at)).await;
            tx.send(key).await.expect("the flow runs");
        }
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    let results: Vec<_> = timed_data(out);
    assert_eq!(results.len(), 4, "{results:?}");
    // The clock's origin, read back from when the first window fired.
    let (at, first) = &results[0];
    let origin = first.window.end().millis() - *at as i64;
    assert!((before..=after).contains(&origin), "{origin}");
    // The end of input, then the first window's start, exactly.
    let end_at = next + 3_300;
    let next = (1_000 - origin.rem_euclid(1_000)) as u64;
    let mut got: Vec<(u64, &str, u64)> = Vec::new();
    for (at, r) in &results {
        assert_eq!(r.firing, Firing::OnTime);
        assert_eq!(r.window.start().millis().rem_euclid(1_000), 0);
        assert_eq!(r.window.end().millis() - r.window.start().millis(), 1_000);
        let window_start = (r.window.start().millis() - origin) as u64;
        if *at < end_at {
            // Fired by the timer at the window's end.
            assert_eq!(*at, window_start + 1_000, "{r:?}");
        } else {
            // The end of input fires the last one.
            assert_eq!(*at, end_at, "{r:?}");
        }
        got.push((window_start, r.key.as_str(), r.value));
    }
    got.sort();
    assert_eq!(
        got,
        [
            (next, "a", 2),
            (next, "b", 1),
            (next + 1_000, "a", 1),
            (next + 3_000, "b", 1)
        ]
    );
}

#[derive(Debug, Clone, Copy)]
enum ProcessingWindows {
    Tumbling,
    Sliding,
    Sessions,
}

/// `(emitted at, key, start, end, count)`, times relative to `start`.
type TimedRow = (u64, u8, i64, i64, u64);

/// Processing time in the model: item `i` arrives at `at` ms and gets the processing time
/// `origin + at`; windows are assigned as in event time with the watermark at `now − 1`, so no
/// item is late; a window fires when processing time reaches its end, or at the end of input.
fn processing_model(
    kind: ProcessingWindows,
    origin: i64,
    schedule: &[(u64, u8)],
    end_at: u64,
) -> Vec<TimedRow> {
    let mut windows: BTreeMap<(u8, i64, i64), u64> = BTreeMap::new();
    let mut sessions: BTreeMap<u8, Vec<(i64, i64, u64)>> = BTreeMap::new();
    for &(at, key) in schedule {
        let p = origin + at as i64;
        match kind {
            ProcessingWindows::Tumbling => {
                let s = p - p.rem_euclid(1_000);
                *windows.entry((key, s, s + 1_000)).or_default() += 1;
            }
            ProcessingWindows::Sliding => {
                let mut s = p - p.rem_euclid(300);
                while s > p - 1_000 {
                    *windows.entry((key, s, s + 1_000)).or_default() += 1;
                    s -= 300;
                }
            }
            ProcessingWindows::Sessions => {
                let list = sessions.entry(key).or_default();
                // Sessions close at `end − 1 ≤ now − 1`, so an item merges only into a session
                // that has not closed: the last one, if `p < end`.
                match list.last_mut() {
                    Some(last) if p < last.1 => {
                        last.1 = p + 250;
                        last.2 += 1;
                    }
                    _ => list.push((p, p + 250, 1)),
                }
            }
        }
    }
    for (key, list) in sessions {
        for (s, e, n) in list {
            windows.insert((key, s, e), n);
        }
    }
    let mut rows: Vec<TimedRow> = windows
        .into_iter()
        .map(|((key, s, e), n)| {
            let fires = ((e - origin) as u64).min(end_at);
            (fires, key, s - origin, e - origin, n)
        })
        .collect();
    rows.sort();
    rows
}

fn processing_run(kind: ProcessingWindows, schedule: &[(u64, u8)]) -> (Vec<TimedRow>, i64, i64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let start = Instant::now();
        let before = system_millis();
        let (tx, flow) = source::channel::<u8>(4).expect("capacity is not zero");
        let keyed = flow.key_by(|k| *k);
        let feed = {
            let schedule = schedule.to_vec();
            async move {
                for (at, key) in schedule {
                    sleep_until(start + Duration::from_millis(at)).await;
                    tx.send(key).await.expect("the flow runs");
                }
            }
        };
        let rows = |out: Vec<(u64, Message<rheoflow::window::WindowResult<u8, u64>>)>| {
            let mut rows: Vec<(u64, u8, i64, i64, u64)> = timed_data(out)
                .into_iter()
                .map(|(at, r)| {
                    assert_eq!(r.firing, Firing::OnTime);
                    (
                        at,
                        r.key,
                        r.window.start().millis(),
                        r.window.end().millis(),
                        r.value,
                    )
                })
                .collect();
            rows.sort();
            rows
        };
        let (out, ()) = match kind {
            ProcessingWindows::Tumbling => {
                let flow = keyed
                    .window_processing_time(Tumbling::of(Duration::from_secs(1)))
                    .aggregate(Count);
                tokio::join!(timed_output(start, flow), feed)
            }
            ProcessingWindows::Sliding => {
                let flow = keyed
                    .window_processing_time(Sliding::of(Duration::from_secs(1), 300 * MS))
                    .aggregate(Count);
                tokio::join!(timed_output(start, flow), feed)
            }
            ProcessingWindows::Sessions => {
                let flow = keyed
                    .window_processing_time(Session::with_gap(250 * MS))
                    .aggregate(Count);
                tokio::join!(timed_output(start, flow), feed)
            }
        };
        (rows(out), before, system_millis())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Items sent at chosen instants of paused time land in the windows of their arrival, and
    /// windows fire as processing time passes their end (the rest at the end of input).
    #[test]
    fn processing_time_windows_match_the_model(
        kind in prop_oneof![
            Just(ProcessingWindows::Tumbling),
            Just(ProcessingWindows::Sliding),
            Just(ProcessingWindows::Sessions),
        ],
        steps in prop::collection::vec((0u64..500, 0u8..3), 0..30),
    ) {
        let mut at = 0;
        let schedule: Vec<(u64, u8)> = steps
            .into_iter()
            .map(|(dt, key)| {
                at += dt;
                (at, key)
            })
            .collect();
        let end_at = schedule.last().map_or(0, |s| s.0);
        let (mut rows, before, after) = processing_run(kind, &schedule);
        // The clock starts at the system time, read between `before` and `after`.
        let origin = (before..=after)
            .find(|&origin| {
                let model = processing_model(kind, origin, &schedule, end_at);
                let relative: Vec<TimedRow> = rows
                    .iter()
                    .map(|&(at, key, s, e, n)| (at, key, s - origin, e - origin, n))
                    .collect();
                model == relative
            });
        if origin.is_none() {
            for row in &mut rows {
                row.2 -= before;
                row.3 -= before;
            }
            prop_assert_eq!(rows, processing_model(kind, before, &schedule, end_at));
        }
    }
}
