//! Window state stays bounded: it is freed once the watermark passes a window's end plus the
//! allowed lateness, nothing is left after the end of input, and on a long ordered input results
//! come out as soon as their window closes, with a bounded number of windows open.
//!
//! State is observed through the operator's `Debug` output (`open_slices` of tumbling and sliding
//! windows, `keys` of sessions, count and global windows) and through `inspect` counters.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rheoflow::aggregate::Count;
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{CountWindows, GlobalWindow, Session, Sliding, Trigger, Tumbling};
use rheoflow::{Control, Flow, Message, Timestamp};

use support::{barrier, data, end, messages, watermark};

const MS: Duration = Duration::from_millis(1);

fn ts(t: &i64) -> Timestamp {
    Timestamp::from_millis(*t)
}

/// The window state a window operator holds, read from its `Debug` output.
fn held<S: std::fmt::Debug>(operator: &S) -> usize {
    let debug = format!("{operator:?}");
    let state = &debug[debug
        .rfind("state: ")
        .expect("the operator shows its state")..];
    let label = ["open_slices: ", "keys: "]
        .into_iter()
        .find(|label| state.contains(label))
        .expect("the state shows its size");
    let at = state.find(label).unwrap() + label.len();
    let digits: String = state[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a number")
}

/// Runs `operator` to its end, calling `seen` with the state it holds after every message.
async fn run_observed<S, T>(operator: S, mut seen: impl FnMut(&Message<T>, usize))
where
    S: Stream<Item = Message<T>> + std::fmt::Debug,
{
    let mut operator = std::pin::pin!(operator);
    while let Some(message) = operator.next().await {
        seen(&message, held(&*operator));
    }
}

/// The most state `operator` held, and what it held when the end came out.
async fn held_at_the_end<S, T>(operator: S) -> (usize, usize)
where
    S: Stream<Item = Message<T>> + std::fmt::Debug,
{
    let (mut max, mut last) = (0, usize::MAX);
    run_observed(operator, |message, held| {
        max = max.max(held);
        if let Message::Control(Control::End) = message {
            last = held;
        }
    })
    .await;
    (max, last)
}

/// Items at `0..n`, each followed by a barrier (so that the state is observed as it grows),
/// then the end.
fn input(n: i64) -> Vec<Message<i64>> {
    (0..n)
        .flat_map(|t| [data(t), barrier(t as u64)])
        .chain([end()])
        .collect()
}

#[tokio::test]
async fn no_window_state_remains_after_the_end_of_input() {
    let keyed = || messages(input(50)).key_by(|t: &i64| t % 3);
    let tumbling = keyed()
        .window(Tumbling::of(10 * MS), ts)
        .allowed_lateness(Duration::from_secs(60))
        .aggregate(Count);
    let sliding = keyed()
        .window(Sliding::of(10 * MS, 3 * MS), ts)
        .allowed_lateness(Duration::from_secs(60))
        .aggregate(Count);
    let sessions = keyed()
        .window(Session::with_gap(4 * MS), ts)
        .allowed_lateness(Duration::from_secs(60))
        .aggregate(Count);
    let count = keyed()
        .count_window(CountWindows::sliding(4, 3))
        .aggregate(Count);
    let global = keyed()
        .global_window(GlobalWindow::with_trigger(Trigger::count(4)))
        .aggregate(Count);
    for (name, (max, last)) in [
        ("tumbling", held_at_the_end(tumbling.into_messages()).await),
        ("sliding", held_at_the_end(sliding.into_messages()).await),
        ("sessions", held_at_the_end(sessions.into_messages()).await),
        ("count", held_at_the_end(count.into_messages()).await),
        ("global", held_at_the_end(global.into_messages()).await),
    ] {
        assert!(max > 0, "{name}: the state was observed");
        assert_eq!(last, 0, "{name}: state left after the end");
    }
}

/// State lives until the watermark reaches `end − 1 + lateness`, and not longer.
#[tokio::test]
async fn window_state_is_freed_when_the_watermark_passes_the_lateness() {
    // A barrier after each watermark, so that the state is observed between them.
    let input = || {
        vec![
            data(3),
            data(5),
            watermark(9),
            barrier(1),
            watermark(13),
            barrier(2),
            watermark(14),
            barrier(3),
            end(),
        ]
    };
    let keyed = || messages(input()).key_by(|_: &i64| ());
    let tumbling = keyed()
        .window(Tumbling::of(10 * MS), ts)
        .allowed_lateness(5 * MS)
        .aggregate(Count);
    assert_eq!(barrier_states(tumbling.into_messages()).await, [1, 1, 0]);
    let sessions = keyed()
        .window(Session::with_gap(5 * MS), ts)
        .allowed_lateness(5 * MS)
        .aggregate(Count);
    // The session [3, 10) is freed at 9 + 5.
    assert_eq!(barrier_states(sessions.into_messages()).await, [1, 1, 0]);
}

/// The state held as each barrier comes out.
async fn barrier_states<S, T>(operator: S) -> Vec<usize>
where
    S: Stream<Item = Message<T>> + std::fmt::Debug,
{
    let mut states = Vec::new();
    run_observed(operator, |message, held| {
        if let Message::Control(Control::Barrier(_)) = message {
            states.push(held);
        }
    })
    .await;
    states
}

/// A long ordered input over many windows: every result comes out as soon as the item that
/// closed its window is read (before any later item), and few windows are open at any time.
#[tokio::test]
async fn open_windows_stay_bounded_on_a_long_ordered_input() {
    const N: i64 = 20_000;
    async fn check<S>(name: &str, operator: S, read: Rc<Cell<i64>>, bound: usize)
    where
        S: Stream<Item = Message<rheoflow::window::WindowResult<i64, u64>>> + std::fmt::Debug,
    {
        let mut results = 0;
        let mut max_held = 0;
        run_observed(operator, |message, held| {
            max_held = max_held.max(held);
            if let Message::Data(r) = message {
                results += 1;
                if r.window.end().millis() < N {
                    // The item at `end` moved the watermark to `end − 1` and closed it.
                    assert_eq!(read.get(), r.window.end().millis(), "{name}: {r:?}");
                }
            }
        })
        .await;
        assert!(results >= 800, "{name}: {results} results");
        assert!(max_held <= bound, "{name}: {max_held} open");
    }
    let source = |read: Rc<Cell<i64>>| {
        Flow::from_iter(0..N)
            .watermarks(ts, WatermarkStrategy::monotonic())
            .inspect(move |t| read.set(*t))
            .key_by(|t| t % 4)
    };
    let read = Rc::new(Cell::new(0));
    let tumbling = source(read.clone())
        .window(Tumbling::of(100 * MS), ts)
        .aggregate(Count);
    check("tumbling", tumbling.into_messages(), read, 2).await;
    let read = Rc::new(Cell::new(0));
    let sliding = source(read.clone())
        .window(Sliding::of(300 * MS, 100 * MS), ts)
        .allowed_lateness(50 * MS)
        .aggregate(Count);
    check("sliding", sliding.into_messages(), read, 4).await;
    let read = Rc::new(Cell::new(0));
    // Sessions of 10 items, then a pause: `t % 20 < 10` only.
    let sessions = Flow::from_iter((0..N).filter(|t| t % 20 < 10))
        .watermarks(ts, WatermarkStrategy::monotonic())
        .inspect({
            let read = read.clone();
            move |t| read.set(*t)
        })
        .key_by(|t| t % 4)
        .window(Session::with_gap(5 * MS), ts)
        .aggregate(Count);
    let mut max_held = 0;
    let mut results = 0i64;
    run_observed(sessions.into_messages(), |message, held| {
        max_held = max_held.max(held);
        if let Message::Data(r) = message {
            results += 1;
            // Every session of a burst closes when the first item of the next one is read.
            let next_burst = (r.window.start().millis() / 20 + 1) * 20;
            if next_burst < N {
                assert_eq!(read.get(), next_burst, "{r:?}");
            }
        }
    })
    .await;
    // One session per key and burst.
    assert_eq!(results, 4 * N / 20);
    assert!(max_held <= 4, "sessions: {max_held} keys");
}
