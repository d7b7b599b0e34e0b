//! Watermark generation (`Flow::watermarks`): bounded out-of-orderness against a model, never
//! going backwards, the end of input, idleness and wall-clock progression under paused time, and
//! windows downstream firing exactly once.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use rheoflow::aggregate::Count;
use rheoflow::metrics::DropReason;
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{Firing, Tumbling};
use rheoflow::{source, Barrier, Control, Flow, Message, Timestamp};
use tokio::time::{sleep_until, Instant};

use support::{data, end, messages, output, timed_output, watermark};

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

#[derive(Debug, Clone)]
enum In {
    Item(i64),
    Watermark(i64),
    Idle,
    Barrier(u64),
}

fn timestamps() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -200i64..200,
        1 => (0i64..50).prop_map(|d| i64::MIN + d),
        1 => (0i64..50).prop_map(|d| i64::MAX - d),
        1 => any::<i64>(),
    ]
}

fn inputs() -> impl Strategy<Value = Vec<In>> {
    prop::collection::vec(
        prop_oneof![
            6 => timestamps().prop_map(In::Item),
            1 => timestamps().prop_map(In::Watermark),
            1 => Just(In::Idle),
            1 => any::<u64>().prop_map(In::Barrier),
        ],
        0..40,
    )
}

fn to_messages(input: &[In]) -> Vec<Message<i64>> {
    input
        .iter()
        .map(|m| match *m {
            In::Item(t) => data(t),
            In::Watermark(w) => watermark(w),
            In::Idle => Message::Control(Control::Idle),
            In::Barrier(id) => {
                Message::Control(Control::Barrier(Barrier::new(id, Timestamp::EPOCH)))
            }
        })
        .chain([end()])
        .collect()
}

/// Bounded out-of-orderness `bound`: after an item that raises the largest timestamp seen to
/// `max`, the watermark `max − bound − 1` follows it if it is higher than the last one. Upstream
/// watermarks and idleness are replaced; other control messages pass. The end of input brings
/// the watermark to `Timestamp::MAX`, then the end.
fn model(bound: i64, input: &[In]) -> Vec<Message<i64>> {
    let mut out = Vec::new();
    let mut current = i64::MIN;
    let mut max: Option<i64> = None;
    for m in input {
        match *m {
            In::Item(t) => {
                out.push(data(t));
                if max.is_none_or(|max| t > max) {
                    max = Some(t);
                    let w = (t as i128 - bound as i128 - 1).max(i64::MIN as i128) as i64;
                    if w > current {
                        current = w;
                        out.push(watermark(w));
                    }
                }
            }
            In::Watermark(_) | In::Idle => {}
            In::Barrier(id) => out.push(Message::Control(Control::Barrier(Barrier::new(
                id,
                Timestamp::EPOCH,
            )))),
        }
    }
    if current < i64::MAX {
        out.push(watermark(i64::MAX));
    }
    out.push(end());
    out
}

fn watermarks_of<T>(out: &[Message<T>]) -> Vec<i64> {
    support::controls(out)
        .into_iter()
        .filter_map(|c| match c {
            Control::Watermark(w) => Some(w.millis()),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bounded_out_of_orderness_matches_the_model(
        bound in prop_oneof![Just(0u64), 0u64..100, Just(u64::MAX)],
        input in inputs(),
    ) {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(bound));
        let out = block_on(output(messages(to_messages(&input)).watermarks(ts, strategy)));
        let bound = i64::try_from(bound).unwrap_or(i64::MAX);
        prop_assert_eq!(&out, &model(bound, &input));
        let watermarks = watermarks_of(&out);
        prop_assert!(
            watermarks.windows(2).all(|w| w[0] < w[1]),
            "watermarks never go backwards nor repeat: {:?}",
            watermarks
        );
    }

    /// With a bound larger than any disorder, no item is late, and every window fires exactly
    /// once, on time, with all its items (most of them at the end of input).
    #[test]
    fn every_window_fires_exactly_once(
        times in prop::collection::vec((0u8..3, 0i64..500), 0..60),
        size in 1u64..50,
        lateness in 0u64..100,
    ) {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(500));
        let flow = Flow::from_iter(times.clone())
            .watermarks(|t: &(u8, i64)| Timestamp::from_millis(t.1), strategy)
            .key_by(|t| t.0)
            .window(Tumbling::of(Duration::from_millis(size)), |t: &(u8, i64)| Timestamp::from_millis(t.1))
            .allowed_lateness(Duration::from_millis(lateness))
            .aggregate(Count);
        let results = block_on(flow.collect::<Vec<_>>()).expect("the flow runs");
        let mut expected: BTreeMap<(u8, i64), u64> = BTreeMap::new();
        for &(key, t) in &times {
            *expected.entry((key, t - t % size as i64)).or_default() += 1;
        }
        let mut got: BTreeMap<(u8, i64), u64> = BTreeMap::new();
        for r in &results {
            prop_assert_eq!(r.firing, Firing::OnTime);
            prop_assert_eq!(r.window.end().millis() - r.window.start().millis(), size as i64);
            let previous = got.insert((r.key, r.window.start().millis()), r.value);
            prop_assert!(previous.is_none(), "{:?} fired twice", r);
        }
        prop_assert_eq!(got, expected);
    }

    /// Whatever the disorder: no window fires on time twice, and every item is either counted in
    /// a window or counted late.
    #[test]
    fn items_are_counted_once_whatever_the_disorder(
        times in prop::collection::vec((0u8..3, -300i64..300), 0..60),
        bound in 0u64..40,
    ) {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(bound));
        let flow = Flow::from_iter(times.clone())
            .watermarks(|t: &(u8, i64)| Timestamp::from_millis(t.1), strategy)
            .key_by(|t| t.0)
            .window(Tumbling::of(25 * MS), |t: &(u8, i64)| Timestamp::from_millis(t.1))
            .aggregate(Count);
        let metrics = flow.metrics();
        let results = block_on(flow.collect::<Vec<_>>()).expect("the flow runs");
        let mut windows = std::collections::BTreeSet::new();
        for r in &results {
            prop_assert_eq!(r.firing, Firing::OnTime);
            prop_assert!(windows.insert((r.key, r.window)), "{:?} fired twice", r);
        }
        let counted: u64 = results.iter().map(|r| r.value).sum();
        let late = metrics.snapshot().dropped(DropReason::Late);
        prop_assert_eq!(counted + late, times.len() as u64);
    }
}

#[tokio::test]
async fn the_end_of_input_brings_the_watermark_to_max_then_ends() {
    let out =
        output(Flow::from_iter([5i64, 3, 9]).watermarks(ts, WatermarkStrategy::monotonic())).await;
    assert_eq!(
        out,
        [
            data(5),
            watermark(4),
            data(3),
            data(9),
            watermark(8),
            watermark(i64::MAX),
            end(),
        ]
    );
    // An empty input too.
    let out =
        output(Flow::from_iter(Vec::<i64>::new()).watermarks(ts, WatermarkStrategy::monotonic()))
            .await;
    assert_eq!(out, [watermark(i64::MAX), end()]);
}

#[tokio::test]
async fn bounded_out_of_orderness_trails_the_largest_timestamp_by_the_bound_and_one() {
    let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::from_secs(1));
    let out =
        output(Flow::from_iter([10_000i64, 9_000, 12_500, 11_000]).watermarks(ts, strategy)).await;
    assert_eq!(watermarks_of(&out), [8_999, 11_499, i64::MAX]);
}

#[tokio::test(start_paused = true)]
async fn an_input_without_items_for_the_timeout_is_marked_idle() {
    let start = Instant::now();
    let (tx, flow) = source::channel::<i64>(8).expect("capacity is not zero");
    let strategy = WatermarkStrategy::monotonic().with_idleness(100 * MS);
    let flow = flow.watermarks(ts, strategy);
    let feed = async move {
        tx.send(10).await.expect("the flow runs");
        sleep_until(start + 250 * MS).await;
        tx.send(20).await.expect("the flow runs");
        sleep_until(start + 400 * MS).await;
        drop(tx);
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    assert_eq!(
        out,
        [
            (0, data(10)),
            (0, watermark(9)),
            (100, Message::Control(Control::Idle)),
            // Active again with its next item; idle again 100ms after it.
            (250, data(20)),
            (250, watermark(19)),
            (350, Message::Control(Control::Idle)),
            (400, watermark(i64::MAX)),
            (400, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_input_is_marked_idle_a_timeout_after_its_last_item_not_its_first() {
    let start = Instant::now();
    let (tx, flow) = source::channel::<i64>(8).expect("capacity is not zero");
    let strategy = WatermarkStrategy::monotonic().with_idleness(100 * MS);
    let flow = flow.watermarks(ts, strategy);
    let feed = async move {
        // Items every 60ms keep the input active past several timeouts from the first one.
        for (at, item) in [(0, 10), (60, 20), (120, 30), (180, 40)] {
            sleep_until(start + at * MS).await;
            tx.send(item).await.expect("the flow runs");
        }
        sleep_until(start + 500 * MS).await;
        drop(tx);
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    let idle: Vec<u64> = out
        .iter()
        .filter(|(_, m)| *m == Message::Control(Control::Idle))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(idle, [280]);
}

fn system_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

#[tokio::test(start_paused = true)]
async fn the_wall_clock_advances_the_watermark_when_no_items_come() {
    let start = Instant::now();
    let before = system_millis();
    let (tx, flow) = source::channel::<i64>(8).expect("capacity is not zero");
    let strategy = WatermarkStrategy::monotonic().with_wall_clock(Duration::from_secs(1), 100 * MS);
    let flow = flow.watermarks(ts, strategy);
    let after = system_millis();
    let far = before + 1_000_000;
    let feed = async move {
        sleep_until(start + 350 * MS).await;
        // An item far ahead of the wall clock: its watermark wins from now on.
        tx.send(far).await.expect("the flow runs");
        sleep_until(start + 600 * MS).await;
        drop(tx);
    };
    let (out, ()) = tokio::join!(timed_output(start, flow), feed);
    let wall: Vec<(u64, i64)> = out
        .iter()
        .filter_map(|(at, m)| match m {
            Message::Control(Control::Watermark(w)) if *at < 350 => Some((*at, w.millis())),
            _ => None,
        })
        .collect();
    assert_eq!(
        wall.iter().map(|w| w.0).collect::<Vec<_>>(),
        [0, 100, 200, 300],
        "one watermark per period: {out:?}"
    );
    let origin = wall[0].1 + 1_000;
    assert!(
        (before..=after).contains(&origin),
        "the wall clock reads the system time: {origin} not in {before}..={after}"
    );
    for (at, w) in &wall {
        assert_eq!(*w, origin - 1_000 + *at as i64, "now − lag");
    }
    let rest: Vec<&(u64, Message<i64>)> = out.iter().filter(|(at, _)| *at >= 350).collect();
    assert_eq!(
        rest,
        [
            &(350, data(far)),
            &(350, watermark(far - 1)),
            &(600, watermark(i64::MAX)),
            &(600, end()),
        ]
    );
}
