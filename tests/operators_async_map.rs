//! Async operators: `map_async` (input order) and `map_async_unordered` (completion order), under
//! paused tokio time.

mod support;

use std::future::{ready, Ready};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rheoflow::operators::{MapAsync, MapAsyncUnordered};
use rheoflow::source::IterSource;
use rheoflow::{Control, Error, Flow, Message};
use tokio::time::{sleep, Instant};

use support::{barrier, data, end, failed, messages, output, timed_output, watermark};

/// Sleeps `ms` milliseconds, then returns `ms`.
async fn after(ms: u64) -> u64 {
    sleep(Duration::from_millis(ms)).await;
    ms
}

/// Counts the futures running at once and remembers the most.
#[derive(Clone, Default)]
struct Concurrency {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
}

impl Concurrency {
    /// Sleeps `ms` milliseconds while counted as running, then returns `ms`.
    fn run(&self, ms: u64) -> impl std::future::Future<Output = u64> {
        let this = self.clone();
        this.started.fetch_add(1, Ordering::SeqCst);
        async move {
            let running = this.now.fetch_add(1, Ordering::SeqCst) + 1;
            this.max.fetch_max(running, Ordering::SeqCst);
            sleep(Duration::from_millis(ms)).await;
            this.now.fetch_sub(1, Ordering::SeqCst);
            ms
        }
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

/// Delays that make futures finish out of order.
const DELAYS: [u64; 12] = [50, 10, 40, 20, 30, 0, 70, 5, 15, 60, 25, 1];

/// The data of `messages`, in order.
fn data_of<T: Clone>(messages: &[Message<T>]) -> Vec<T> {
    messages
        .iter()
        .filter_map(|m| m.as_data().cloned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// map_async (ordered)

#[tokio::test(start_paused = true)]
async fn map_async_keeps_input_order_when_futures_finish_out_of_order() {
    let out = Flow::from_iter(DELAYS)
        .map_async(4, after)
        .collect::<Vec<_>>()
        .await
        .expect("no failure");
    assert_eq!(out, DELAYS);
}

#[tokio::test(start_paused = true)]
async fn map_async_runs_futures_concurrently() {
    let start = Instant::now();
    let out = timed_output(start, Flow::from_iter([30, 10, 20]).map_async(3, after)).await;
    // All three run at once: the first finishes last and releases the others with it.
    assert_eq!(
        out,
        [(30, data(30)), (30, data(10)), (30, data(20)), (30, end())]
    );
}

#[tokio::test(start_paused = true)]
async fn map_async_never_exceeds_the_limit() {
    for limit in [1, 3, 5] {
        let counter = Concurrency::default();
        let c = counter.clone();
        let out = Flow::from_iter(DELAYS)
            .map_async(limit, move |ms| c.run(ms))
            .collect::<Vec<_>>()
            .await
            .expect("no failure");
        assert_eq!(out, DELAYS);
        assert_eq!(counter.max(), limit, "limit {limit}");
    }
}

#[tokio::test(start_paused = true)]
async fn map_async_passes_control_messages_after_the_items_before_them() {
    let input = messages(vec![
        data(30),
        data(10),
        watermark(5),
        data(1),
        barrier(1),
        data(20),
        data(2),
        end(),
    ]);
    let out = output(input.map_async(4, after)).await;
    assert_eq!(
        out,
        [
            data(30),
            data(10),
            watermark(5),
            data(1),
            barrier(1),
            data(20),
            data(2),
            end(),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn map_async_starts_nothing_behind_a_waiting_control_message() {
    let counter = Concurrency::default();
    let c = counter.clone();
    let input = messages(vec![
        data(30),
        data(10),
        watermark(5),
        data(1),
        data(2),
        end(),
    ]);
    let mut seen = Vec::new();
    let flow = input.map_async(8, move |ms| c.run(ms));
    let start = Instant::now();
    let mut stream = std::pin::pin!(flow.into_messages());
    while let Some(message) = futures::StreamExt::next(&mut stream).await {
        seen.push((start.elapsed().as_millis(), counter.started(), message));
    }
    assert_eq!(
        seen,
        [
            (30, 2, data(30)),
            (30, 2, data(10)),
            // The items behind the watermark start only once it is out.
            (30, 2, watermark(5)),
            (31, 4, data(1)),
            (32, 4, data(2)),
            (32, 4, end()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// map_async_unordered

#[tokio::test(start_paused = true)]
async fn map_async_unordered_emits_in_completion_order() {
    let start = Instant::now();
    let out = timed_output(
        start,
        Flow::from_iter([30, 10, 20]).map_async_unordered(3, after),
    )
    .await;
    assert_eq!(
        out,
        [(10, data(10)), (20, data(20)), (30, data(30)), (30, end())]
    );
}

#[tokio::test(start_paused = true)]
async fn map_async_unordered_never_exceeds_the_limit() {
    for limit in [1, 3, 5] {
        let counter = Concurrency::default();
        let c = counter.clone();
        let mut out = Flow::from_iter(DELAYS)
            .map_async_unordered(limit, move |ms| c.run(ms))
            .collect::<Vec<_>>()
            .await
            .expect("no failure");
        assert_eq!(counter.max(), limit, "limit {limit}");
        if limit == 1 {
            // One at a time is input order.
            assert_eq!(out, DELAYS);
        }
        out.sort_unstable();
        let mut expected = DELAYS;
        expected.sort_unstable();
        assert_eq!(out, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn map_async_unordered_refills_a_slot_as_soon_as_one_frees() {
    let start = Instant::now();
    let out = timed_output(
        start,
        Flow::from_iter([100, 10, 10, 10]).map_async_unordered(2, after),
    )
    .await;
    // The slow item keeps one slot; the fast ones pass through the other, one after another.
    assert_eq!(
        out,
        [
            (10, data(10)),
            (20, data(10)),
            (30, data(10)),
            (100, data(100)),
            (100, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn map_async_unordered_never_moves_an_item_across_a_control_message() {
    let counter = Concurrency::default();
    let c = counter.clone();
    let input = messages(vec![
        data(30),
        data(10),
        watermark(5),
        data(1),
        data(5),
        barrier(1),
        data(2),
        end(),
    ]);
    let flow = input.map_async_unordered(8, move |ms| c.run(ms));
    let start = Instant::now();
    let mut stream = std::pin::pin!(flow.into_messages());
    let mut seen = Vec::new();
    while let Some(message) = futures::StreamExt::next(&mut stream).await {
        seen.push((start.elapsed().as_millis(), counter.started(), message));
    }
    assert_eq!(
        seen,
        [
            // Completion order before the watermark...
            (10, 2, data(10)),
            (30, 2, data(30)),
            (30, 2, watermark(5)),
            // ...and after it: the fast item behind the watermark started only once it was out.
            (31, 4, data(1)),
            (35, 4, data(5)),
            (35, 4, barrier(1)),
            (37, 5, data(2)),
            (37, 5, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn map_async_unordered_random_delays_keep_segments_between_controls() {
    // Segments of items between watermarks come out as permutations of themselves.
    let mut input = Vec::new();
    let mut segments = Vec::new();
    for (n, chunk) in DELAYS.chunks(4).enumerate() {
        input.extend(chunk.iter().map(|&ms| data(ms)));
        input.push(watermark(n as i64));
        let mut sorted = chunk.to_vec();
        sorted.sort_unstable();
        segments.push(sorted);
    }
    input.push(end());
    let out = output(messages(input).map_async_unordered(3, after)).await;

    let mut found = Vec::new();
    let mut current = Vec::new();
    for message in &out {
        match message {
            Message::Data(ms) => current.push(*ms),
            Message::Control(Control::Watermark(_)) => {
                current.sort_unstable();
                found.push(std::mem::take(&mut current));
            }
            Message::Control(other) => assert_eq!(other, &Control::End),
        }
    }
    assert!(current.is_empty());
    assert_eq!(found, segments);
    assert_eq!(data_of(&out).len(), DELAYS.len());
}

// ---------------------------------------------------------------------------------------------
// both

#[tokio::test(start_paused = true)]
async fn async_maps_pass_a_failure_after_the_items_before_it_and_stop() {
    let input = || {
        messages(vec![
            data(20),
            data(10),
            failed(Error::Aborted),
            data(1),
            end(),
        ])
    };
    let ordered = output(input().map_async(4, after)).await;
    assert_eq!(ordered, [data(20), data(10), failed(Error::Aborted)]);
    let unordered = output(input().map_async_unordered(4, after)).await;
    assert_eq!(unordered, [data(10), data(20), failed(Error::Aborted)]);
}

#[tokio::test(start_paused = true)]
async fn async_maps_drain_in_flight_items_when_input_stops_without_end() {
    let ordered = output(messages(vec![data(20), data(10)]).map_async(4, after)).await;
    assert_eq!(ordered, [data(20), data(10)]);
    let unordered = output(messages(vec![data(20), data(10)]).map_async_unordered(4, after)).await;
    assert_eq!(unordered, [data(10), data(20)]);
}

#[tokio::test(start_paused = true)]
async fn async_maps_pass_controls_at_once_when_nothing_is_in_flight() {
    let input = || messages::<u64>(vec![watermark(1), barrier(2), end()]);
    assert_eq!(
        output(input().map_async(2, after)).await,
        [watermark(1), barrier(2), end()]
    );
    assert_eq!(
        output(input().map_async_unordered(2, after)).await,
        [watermark(1), barrier(2), end()]
    );
}

#[tokio::test(start_paused = true)]
async fn async_maps_report_a_size_hint() {
    let flow = Flow::from_iter(0..5u64).map_async(2, ready);
    // Five items and the end, one message out for each.
    assert_eq!(futures::Stream::size_hint(&flow), (6, Some(6)));
    let flow = Flow::from_iter(0..5u64).map_async_unordered(2, ready);
    assert_eq!(futures::Stream::size_hint(&flow), (6, Some(6)));
}

#[test]
#[should_panic(expected = "invalid map_async limit: must be greater than zero")]
fn map_async_rejects_a_zero_limit() {
    let _ = Flow::from_iter(0..3u64).map_async(0, after);
}

#[test]
#[should_panic(expected = "invalid map_async_unordered limit: must be greater than zero")]
fn map_async_unordered_rejects_a_zero_limit() {
    let _ = Flow::from_iter(0..3u64).map_async_unordered(0, after);
}

// ---------------------------------------------------------------------------------------------
// auto traits

fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}

type Src = IterSource<Range<u64>>;
type Call = fn(u64) -> Ready<u64>;

#[test]
fn async_maps_are_send_sync_unpin() {
    assert_send_sync_unpin::<MapAsync<Src, Call, Ready<u64>>>();
    assert_send_sync_unpin::<MapAsyncUnordered<Src, Call, Ready<u64>>>();
    assert_send_sync_unpin::<Flow<MapAsync<Src, Call, Ready<u64>>>>();
    assert_send_sync_unpin::<Flow<MapAsyncUnordered<Src, Call, Ready<u64>>>>();
}

#[test]
fn async_maps_debug_without_their_closure() {
    let flow = Flow::from_iter(0..3u64).map_async(2, ready);
    let text = format!("{flow:?}");
    assert!(
        text.contains("MapAsync") && text.contains("limit: 2"),
        "{text}"
    );
    let flow = Flow::from_iter(0..3u64).map_async_unordered(2, ready);
    let text = format!("{flow:?}");
    assert!(text.contains("MapAsyncUnordered"), "{text}");
}
