//! Processing-time operators: `batch`, `throttle` and `deadline`, under paused tokio time.

mod support;

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rheoflow::metrics::DropReason;
use rheoflow::operators::{Batch, Deadline, Throttle};
use rheoflow::source::IterSource;
use rheoflow::time::Clock;
use rheoflow::{Error, Flow, Timestamp};
use tokio::time::Instant;

use support::{barrier, data, end, failed, messages, output, scheduled, timed_output, watermark};

const MS: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------------------------
// batch

#[tokio::test(start_paused = true)]
async fn batch_emits_full_batches_and_the_rest_at_end() {
    let start = Instant::now();
    let out = timed_output(
        start,
        Flow::from_iter(0..7).batch(3, Duration::from_secs(1)),
    )
    .await;
    assert_eq!(
        out,
        [
            (0, data(vec![0, 1, 2])),
            (0, data(vec![3, 4, 5])),
            // The end flushes at once; it does not wait for the timeout.
            (0, data(vec![6])),
            (0, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn batch_times_out_exactly_timeout_after_its_first_item() {
    let start = Instant::now();
    let input = scheduled(
        start,
        vec![
            (10, data(1)),
            (30, data(2)),
            (60, data(3)),
            (250, data(4)),
            (260, data(5)),
            (1_000, end()),
        ],
    );
    let out = timed_output(start, input.batch(10, 100 * MS)).await;
    assert_eq!(
        out,
        [
            (110, data(vec![1, 2, 3])),
            // The timer restarts with the first item of the next batch.
            (350, data(vec![4, 5])),
            (1_000, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn batch_item_arriving_as_the_batch_times_out_starts_the_next_one() {
    let start = Instant::now();
    let input = scheduled(start, vec![(0, data('a')), (100, data('b')), (500, end())]);
    let out = timed_output(start, input.batch(10, 100 * MS)).await;
    assert_eq!(
        out,
        [(100, data(vec!['a'])), (200, data(vec!['b'])), (500, end())]
    );
}

#[tokio::test(start_paused = true)]
async fn batch_is_never_empty() {
    let start = Instant::now();
    let input = scheduled(
        start,
        vec![
            (0, data(1)),
            (500, watermark(5)),
            (700, barrier(1)),
            (1_000, end()),
        ],
    );
    let out = timed_output(start, input.batch(5, 100 * MS)).await;
    // One batch at its timeout; neither a later tick of the timer nor a control message with
    // nothing pending makes an empty one.
    assert_eq!(
        out,
        [
            (100, data(vec![1])),
            (500, watermark(5)),
            (700, barrier(1)),
            (1_000, end()),
        ]
    );

    let only_controls = messages::<u8>(vec![watermark(1), barrier(2), end()]);
    let out = output(only_controls.batch(3, 100 * MS)).await;
    assert_eq!(out, [watermark(1), barrier(2), end()]);
}

#[tokio::test(start_paused = true)]
async fn batch_control_messages_flush_the_pending_batch_first() {
    let start = Instant::now();
    let input = messages(vec![
        data(1),
        data(2),
        watermark(5),
        data(3),
        barrier(1),
        watermark(9),
        data(4),
        data(5),
        data(6),
        data(7),
        end(),
    ]);
    let out = timed_output(start, input.batch(3, Duration::from_secs(1))).await;
    let expected = [
        data(vec![1, 2]),
        watermark(5),
        data(vec![3]),
        barrier(1),
        watermark(9),
        data(vec![4, 5, 6]),
        data(vec![7]),
        end(),
    ];
    assert_eq!(
        out.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
        expected
    );
    // Nothing waited for the timeout.
    assert!(out.iter().all(|(at, _)| *at == 0));
}

#[tokio::test(start_paused = true)]
async fn batch_passes_a_failure_after_the_pending_batch_and_stops() {
    let input = messages(vec![
        data(1),
        data(2),
        failed(Error::Aborted),
        data(3),
        end(),
    ]);
    let out = output(input.batch(10, Duration::from_secs(1))).await;
    assert_eq!(out, [data(vec![1, 2]), failed(Error::Aborted)]);
}

#[tokio::test(start_paused = true)]
async fn batch_emits_the_pending_batch_when_input_stops_without_end() {
    let out = output(messages(vec![data(1), data(2)]).batch(10, Duration::from_secs(1))).await;
    assert_eq!(out, [data(vec![1, 2])]);
}

#[tokio::test(start_paused = true)]
async fn batch_yields_each_batch_when_it_is_full() {
    // One item every 30 ms: four fill a batch before its 100 ms timeout.
    let start = Instant::now();
    let input = scheduled(start, (0..10).map(|i| (i * 30, data(i))).collect());
    let mut batches = std::pin::pin!(input.batch(4, 100 * MS).into_stream());
    assert_eq!(batches.next().await, Some(vec![0, 1, 2, 3]));
    assert_eq!(start.elapsed(), 90 * MS);
    assert_eq!(batches.next().await, Some(vec![4, 5, 6, 7]));
    assert_eq!(start.elapsed(), 210 * MS);
    assert_eq!(batches.next().await, Some(vec![8, 9]));
    // The input ends right after item 9, at 270 ms.
    assert_eq!(start.elapsed(), 270 * MS);
    assert_eq!(batches.next().await, None);
}

#[test]
#[should_panic(expected = "invalid batch size: must be greater than zero")]
fn batch_rejects_a_zero_size() {
    let _ = Flow::from_iter(0..3).batch(0, Duration::from_secs(1));
}

#[test]
#[should_panic(expected = "invalid batch timeout: must be greater than zero")]
fn batch_rejects_a_zero_timeout() {
    let _ = Flow::from_iter(0..3).batch(3, Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------
// throttle

#[tokio::test(start_paused = true)]
async fn throttle_passes_a_burst_then_keeps_to_the_rate() {
    let start = Instant::now();
    let out = timed_output(start, Flow::from_iter(0..10).throttle(2, 100 * MS)).await;
    // A full bucket of two, then one token every 50 ms.
    let expected: Vec<_> = [0, 0, 50, 100, 150, 200, 250, 300, 350, 400]
        .into_iter()
        .zip(0..10)
        .map(|(at, item)| (at, data(item)))
        .chain([(400, end())])
        .collect();
    assert_eq!(out, expected);
}

#[tokio::test(start_paused = true)]
async fn throttle_does_not_count_control_messages() {
    let start = Instant::now();
    let input = messages(vec![
        data(0),
        watermark(1),
        data(1),
        watermark(2),
        barrier(1),
        data(2),
        data(3),
        end(),
    ]);
    let out = timed_output(start, input.throttle(1, 100 * MS)).await;
    // Four tokens for four items: the control messages took none, and each came right after
    // the item before it.
    assert_eq!(
        out,
        [
            (0, data(0)),
            (0, watermark(1)),
            (100, data(1)),
            (100, watermark(2)),
            (100, barrier(1)),
            (200, data(2)),
            (300, data(3)),
            (300, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttle_delays_control_messages_only_behind_waiting_data() {
    let start = Instant::now();
    let input = scheduled(
        start,
        vec![
            (0, data('a')),
            (10, watermark(1)),
            (20, data('b')),
            (30, watermark(2)),
            (40, end()),
        ],
    );
    let out = timed_output(start, input.throttle(1, Duration::from_secs(1))).await;
    assert_eq!(
        out,
        [
            (0, data('a')),
            // The bucket is empty, but a watermark needs no token.
            (10, watermark(1)),
            // 'b' waits for its token; what came after it waits behind it.
            (1_000, data('b')),
            (1_000, watermark(2)),
            (1_000, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttle_refills_up_to_one_burst_while_idle() {
    let start = Instant::now();
    let input = scheduled(
        start,
        vec![
            (0, data(0)),
            (0, data(1)),
            (0, data(2)),
            (10_000, data(3)),
            (10_000, data(4)),
            (10_000, data(5)),
            (10_000, end()),
        ],
    );
    let out = timed_output(start, input.throttle(2, Duration::from_secs(1))).await;
    assert_eq!(
        out,
        [
            (0, data(0)),
            (0, data(1)),
            (500, data(2)),
            // Ten idle seconds refill the bucket to two tokens, not twenty.
            (10_000, data(3)),
            (10_000, data(4)),
            (10_500, data(5)),
            (10_500, end()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttle_keeps_exact_time_when_the_period_does_not_divide() {
    let start = Instant::now();
    let out = timed_output(start, Flow::from_iter(0..303).throttle(3, 100 * MS)).await;
    // Three at once, then 300 more at 30 per second: the fractions of a token carry over.
    assert_eq!(out.len(), 304);
    assert_eq!(out[2].0, 0);
    assert_eq!(out[302], (10_000, data(302)));
    // A token every 33.3 ms: never two in the same millisecond after the burst.
    assert!(out[3..303].windows(2).all(|w| w[1].0 - w[0].0 >= 33));
}

#[tokio::test(start_paused = true)]
async fn throttle_does_not_pull_upstream_while_an_item_waits() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let input = futures::stream::iter(0..5).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let mut items = Flow::from_stream(input)
        .throttle(1, Duration::from_secs(1))
        .into_stream();
    assert_eq!(items.next().await, Some(0));
    assert_eq!(pulled.load(Ordering::SeqCst), 1);
    // Item 1 waits for its token; nothing behind it is taken meanwhile.
    let waited = tokio::time::timeout(500 * MS, items.next()).await;
    assert!(waited.is_err());
    assert_eq!(pulled.load(Ordering::SeqCst), 2);
    // The waiting item was kept and comes out when its token is due.
    assert_eq!(items.next().await, Some(1));
    assert_eq!(pulled.load(Ordering::SeqCst), 2);
}

#[test]
#[should_panic(expected = "invalid throttle max_items: must be greater than zero")]
fn throttle_rejects_zero_items() {
    let _ = Flow::from_iter(0..3).throttle(0, Duration::from_secs(1));
}

#[test]
#[should_panic(expected = "invalid throttle period: must be greater than zero")]
fn throttle_rejects_a_zero_period() {
    let _ = Flow::from_iter(0..3).throttle(1, Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------
// deadline

/// `now` shifted by `seconds` (negative: in the past).
fn at(now: Timestamp, seconds: i64) -> Timestamp {
    now.saturating_add_millis(seconds * 1_000)
}

#[tokio::test(start_paused = true)]
async fn deadline_drops_exactly_the_stale_items_and_counts_them() {
    // The operator reads its own clock; margins of a second keep the test independent of the
    // milliseconds the system time moves between the two reads.
    let now = Clock::new().now();
    let ages = [0, -60, -1, -11, -9, 5, -100, -3];
    let flow = Flow::from_iter(ages.map(|s| (s, at(now, s))))
        .deadline(Duration::from_secs(10), |(_, ts): &(i64, Timestamp)| *ts);
    let metrics = flow.metrics();
    let kept: Vec<i64> = flow
        .map(|(s, _)| s)
        .collect::<Vec<_>>()
        .await
        .expect("no failure");

    assert_eq!(kept, [0, -1, -9, 5, -3]);
    let snapshot = metrics.snapshot();
    let op = snapshot.operator("deadline-0").expect("registered");
    assert_eq!(op.dropped(DropReason::Stale), 3);
    assert_eq!(op.total_dropped(), 3);
    assert_eq!(snapshot.dropped(DropReason::Stale), 3);
}

#[tokio::test(start_paused = true)]
async fn deadline_ages_items_with_processing_time() {
    let start = Instant::now();
    let created = Clock::new().now();
    // Every item was created at `created`; they reach the operator later and later.
    let input = scheduled(
        start,
        vec![
            (0, data(0)),
            (4_000, data(1)),
            (8_000, data(2)),
            (12_000, data(3)),
            (12_000, end()),
        ],
    );
    let flow = input.deadline(Duration::from_secs(6), move |_: &i32| created);
    let metrics = flow.metrics();
    let out = timed_output(start, flow).await;

    assert_eq!(out, [(0, data(0)), (4_000, data(1)), (12_000, end())]);
    assert_eq!(metrics.snapshot().dropped(DropReason::Stale), 2);
}

#[tokio::test(start_paused = true)]
async fn deadline_passes_every_control_message_in_order() {
    let now = Clock::new().now();
    let stale = at(now, -60);
    let fresh = at(now, 0);
    let input = messages(vec![
        data(stale),
        watermark(1),
        data(fresh),
        data(stale),
        barrier(7),
        data(stale),
        end(),
    ]);
    let flow = input
        .deadline(Duration::from_secs(5), |ts: &Timestamp| *ts)
        .name("fresh");
    let metrics = flow.metrics();
    let out = output(flow).await;

    assert_eq!(out, [watermark(1), data(fresh), barrier(7), end()]);
    let snapshot = metrics.snapshot();
    assert_eq!(
        snapshot
            .operator("fresh")
            .map(|op| op.dropped(DropReason::Stale)),
        Some(3)
    );
}

#[tokio::test(start_paused = true)]
async fn deadline_keeps_future_items_and_saturates_a_huge_age() {
    let now = Clock::new().now();
    let long_ago = at(now, -1_000_000_000);
    let flow = Flow::from_iter([at(now, 3_600), Timestamp::MAX, long_ago, Timestamp::MIN])
        .deadline(Duration::MAX, |ts: &Timestamp| *ts);
    let metrics = flow.metrics();
    let out = flow.collect::<Vec<_>>().await.expect("no failure");
    // The oldest time allowed is `now - i64::MAX ms`, computed without overflow: only the very
    // first instant is older.
    assert_eq!(out, [at(now, 3_600), Timestamp::MAX, long_ago]);
    assert_eq!(metrics.snapshot().dropped(DropReason::Stale), 1);
}

#[test]
#[should_panic(expected = "invalid deadline max_age: must be greater than zero")]
fn deadline_rejects_a_zero_age() {
    let _ = Flow::from_iter([Timestamp::EPOCH]).deadline(Duration::ZERO, |ts: &Timestamp| *ts);
}

// ---------------------------------------------------------------------------------------------
// auto traits

fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}

type Src = IterSource<Range<u64>>;

#[test]
fn timed_operators_are_send_sync_unpin() {
    assert_send_sync_unpin::<Batch<Src, u64>>();
    assert_send_sync_unpin::<Throttle<Src>>();
    assert_send_sync_unpin::<Deadline<Src, fn(&u64) -> Timestamp>>();
    assert_send_sync_unpin::<Flow<Batch<Src, u64>>>();
    assert_send_sync_unpin::<Flow<Throttle<Src>>>();
    assert_send_sync_unpin::<Flow<Deadline<Src, fn(&u64) -> Timestamp>>>();
}

#[tokio::test(start_paused = true)]
async fn timed_operators_can_be_built_outside_a_runtime_and_debugged() {
    // Built (and formatted) on a thread with no runtime; polled inside one.
    let flow = std::thread::spawn(|| {
        let flow = Flow::from_iter(0..4u64)
            .batch(2, Duration::from_secs(1))
            .map(|batch| batch.len() as u64)
            .throttle(1, 10 * MS);
        let text = format!("{flow:?}");
        assert!(
            text.contains("Batch") && text.contains("Throttle"),
            "{text}"
        );
        flow
    })
    .join()
    .expect("no panic");
    assert_eq!(flow.collect::<Vec<_>>().await.expect("no failure"), [2, 2]);
}
