//! Stage boundaries (`Flow::stage`): the upstream part of a flow runs on its own task and hands its
//! messages over through a bounded batch queue.
//!
//! These tests pin down the boundary's contract (DESIGN.md §5):
//! - under `Overflow::Block` every message crosses once and in order, control messages in their
//!   places among the data, for any capacity and batch size, through one stage or several;
//! - the items pulled from the source but not yet consumed never exceed `capacity + batch size`,
//!   and a blocked upstream task waits without spinning;
//! - `DropOldest` and `DropNewest` drop data only, from the documented end, never a control
//!   message, and count every dropped item exactly;
//! - `Overflow::Fail`, invalid settings and upstream panics are typed errors, not panics;
//! - dropping the downstream flow stops the upstream task;
//! - a stalled consumer does not make a boundary hold more memory, whatever the burst.
//!
//! Inputs are data items `0..n` (each unique) with control messages between them, so a check can
//! tell exactly which items went missing and whether anything moved.
//!
//! Memory is measured with the `allocation-counter` dev-dependency, whose per-thread counting
//! allocator becomes this test binary's global allocator; those tests run their flows on a
//! current-thread runtime so that every allocation is on the measuring thread. Reads are bounded
//! by a timeout that only a stuck boundary reaches, so a deadlock fails a test instead of hanging.

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use proptest::prelude::*;
use rheoflow::channel::{Overflow, StageConfig};
use rheoflow::metrics::{DropReason, Metrics};
use rheoflow::{Control, Error, Flow, Message};

use support::fanout::{data_of, drop_flag, fast, interleaved, left_out, slow, yield_until, Input};
use support::{barrier, data, end, watermark};

/// `(capacity, batch size)` pairs: tiny, equal, coprime, batch of one, the default batch size.
const SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (2, 1),
    (2, 2),
    (3, 2),
    (4, 4),
    (7, 3),
    (16, 1),
    (16, 5),
    (64, 64),
    (100, 7),
    (1_000, 512),
];

/// The overflow strategies that drop data, with the reason they count drops under.
const DROPPING: [(Overflow, DropReason); 2] = [
    (Overflow::DropNewest, DropReason::OverflowNewest),
    (Overflow::DropOldest, DropReason::OverflowOldest),
];

fn idle<T>() -> Message<T> {
    Message::Control(Control::Idle)
}

fn config(capacity: usize, batch_size: usize, overflow: Overflow) -> StageConfig {
    StageConfig::with_capacity(capacity)
        .and_then(|config| config.batch_size(batch_size))
        .expect("a valid stage configuration")
        .overflow(overflow)
}

/// The overflow drops counted by the flow's operators, for each reason.
fn overflow_drops(metrics: &Metrics) -> (u64, u64) {
    let snapshot = metrics.snapshot();
    (
        snapshot.dropped(DropReason::OverflowNewest),
        snapshot.dropped(DropReason::OverflowOldest),
    )
}

/// A flow over `input` whose source, before every `every`-th message (never when 0), returns
/// `Pending` once (waking itself): the upstream task then hands over a partial batch.
fn hesitant(input: Input, every: usize) -> Flow<impl Stream<Item = Message<u64>> + Send + 'static> {
    Flow::from_messages(futures::stream::iter(input).enumerate().then(
        move |(i, message)| async move {
            if every > 0 && i % every == 0 {
                tokio::task::yield_now().await;
            }
            message
        },
    ))
}

/// Runs `future`, or fails the test (rather than hanging it) if it has not finished after 30
/// seconds.
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("not done after 30 s: the stage boundary is stuck")
}

/// The next message of `stream`, or a failed test (rather than a hung one) if none comes for 30
/// seconds: the boundary is stuck. (Under a paused clock a stuck boundary fails at once.)
async fn next_of<St>(stream: &mut St) -> Option<St::Item>
where
    St: Stream + Unpin + ?Sized,
{
    tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("no message for 30 s: the stage boundary is stuck")
}

/// Reads `stream` to its end, yielding to the runtime `pause(i)` times after the `i`-th message
/// (from 0): a consumer as slow as wanted.
async fn read_slowly<St>(stream: St, pause: impl Fn(usize) -> usize) -> Input
where
    St: Stream<Item = Message<u64>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while let Some(message) = next_of(&mut stream).await {
        let pauses = pause(out.len());
        out.push(message);
        for _ in 0..pauses {
            tokio::task::yield_now().await;
        }
    }
    out
}

/// Tasks alive on the current runtime.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A runtime shared by the property tests.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a multi-thread runtime")
    })
}

/// Runs `test` on a current-thread runtime with a paused clock, like
/// `#[tokio::test(start_paused = true)]`, but fails instead of hanging if it has not finished
/// after `limit` of real time.
///
/// A paused clock only moves when the runtime has nothing to run, so a task that keeps waking
/// itself (spinning) stops it for good: a test that sleeps on the paused clock would hang.
fn paused_within<F>(limit: Duration, test: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let (done, finished) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime")
            .block_on(test());
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => runner.join().expect("the test thread ends"),
        // The test panicked: show its panic.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "the test did not finish within {limit:?}: the paused clock never advanced, so some \
             task never stopped running (a spinning upstream task?)"
        ),
    }
}

// 1. Order and completeness under `Overflow::Block`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_delivers_every_message_once_and_in_order() {
    for &(capacity, batch) in SHAPES {
        for every in [0, 1, 7] {
            for hesitate in [0, 5] {
                for (pace, pause) in [("fast", fast as fn(usize) -> usize), ("slow", slow)] {
                    let input = interleaved(600, every);
                    let flow = hesitant(input.clone(), hesitate).stage(config(
                        capacity,
                        batch,
                        Overflow::Block,
                    ));
                    let metrics = flow.metrics();
                    let output = read_slowly(flow, pause).await;
                    assert_eq!(
                        output, input,
                        "capacity {capacity}, batch size {batch}, a control every {every} \
                         items, source pending every {hesitate}, {pace} consumer"
                    );
                    assert_eq!(overflow_drops(&metrics), (0, 0));
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_and_capacity_only_configs_deliver_everything() {
    let configs = [
        StageConfig::default(),
        StageConfig::with_capacity(1).expect("capacity 1 is valid"),
        StageConfig::with_capacity(5).expect("capacity 5 is valid"),
        StageConfig::with_capacity(700).expect("capacity 700 is valid"),
        // A capacity that no count of items reaches: no arithmetic may overflow.
        StageConfig::with_capacity(usize::MAX).expect("any capacity above zero is valid"),
    ];
    for stage in configs {
        for pause in [fast as fn(usize) -> usize, slow] {
            let input = interleaved(20_000, 333);
            let output = read_slowly(hesitant(input.clone(), 0).stage(stage), pause).await;
            assert_eq!(output, input, "{stage:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_stops_without_end_ends_the_downstream_flow() {
    for &(capacity, batch) in SHAPES {
        let mut input = interleaved(300, 4);
        input.pop();
        let output = read_slowly(
            hesitant(input.clone(), 3).stage(config(capacity, batch, Overflow::Block)),
            fast,
        )
        .await;
        assert_eq!(output, input, "capacity {capacity}, batch size {batch}");
    }
}

#[tokio::test]
async fn an_input_of_only_control_messages_crosses_whole() {
    let mut input: Input = (0..200)
        .map(|i| match i % 3 {
            0 => watermark(i),
            1 => barrier(i as u64),
            _ => idle(),
        })
        .collect();
    input.push(end());
    for &(capacity, batch) in SHAPES {
        for overflow in [
            Overflow::Block,
            Overflow::DropNewest,
            Overflow::DropOldest,
            Overflow::Fail,
        ] {
            let flow = hesitant(input.clone(), 0).stage(config(capacity, batch, overflow));
            let metrics = flow.metrics();
            let output = read_slowly(flow, slow).await;
            assert_eq!(
                output, input,
                "capacity {capacity}, batch size {batch}, {overflow:?}"
            );
            assert_eq!(overflow_drops(&metrics), (0, 0));
        }
    }
}

/// A message kind drawn by the property tests: mostly data.
fn message_kinds() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..10, 0..300)
}

/// The messages for `kinds`: data items numbered in order, watermarks, barriers and idles, then
/// `End` when `ends`.
fn messages_of(kinds: &[u8], ends: bool) -> Input {
    let mut next = 0u64;
    let mut input: Input = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            7 => watermark(i as i64),
            8 => barrier(i as u64),
            9 => idle(),
            _ => {
                next += 1;
                data(next - 1)
            }
        })
        .collect();
    if ends {
        input.push(end());
    }
    input
}

/// A capacity and a batch size valid for it.
fn shape(max_capacity: usize) -> impl Strategy<Value = (usize, usize)> {
    (1..=max_capacity).prop_flat_map(|capacity| (Just(capacity), 1..=capacity))
}

proptest! {
    // A stuck boundary fails a case only after a 30 s timeout: shrink for two minutes at most.
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn block_delivers_any_input_whole_and_in_order(
        kinds in message_kinds(),
        ends in any::<bool>(),
        (capacity, batch) in shape(40),
        hesitate in 0usize..6,
        slowly in any::<bool>(),
    ) {
        let input = messages_of(&kinds, ends);
        let flow = hesitant(input.clone(), hesitate)
            .stage(config(capacity, batch, Overflow::Block));
        let metrics = flow.metrics();
        let pause = if slowly { slow } else { fast };
        let output = runtime().block_on(read_slowly(flow, pause));
        prop_assert_eq!(output, input);
        prop_assert_eq!(overflow_drops(&metrics), (0, 0));
    }

    #[test]
    fn three_chained_stages_deliver_any_input_whole_and_in_order(
        kinds in message_kinds(),
        shapes in prop::array::uniform3(shape(20)),
        hesitate in 0usize..6,
        slowly in any::<bool>(),
    ) {
        let input = messages_of(&kinds, true);
        let [first, second, third] = shapes.map(|(capacity, batch)| {
            config(capacity, batch, Overflow::Block)
        });
        let flow = hesitant(input.clone(), hesitate)
            .stage(first)
            .map(|x| x * 2)
            .stage(second)
            .map(|x| x + 1)
            .stage(third);
        let pause = if slowly { slow } else { fast };
        let output = runtime().block_on(read_slowly(flow, pause));
        let expected: Input = input.into_iter().map(|m| m.map(|x| x * 2 + 1)).collect();
        prop_assert_eq!(output, expected);
    }
}

/// A source that has nothing more for now does not hold back what it gave: a partial batch is
/// handed over at once, under every strategy.
#[tokio::test(start_paused = true)]
async fn a_partial_batch_is_not_held_back_while_the_source_waits() {
    for overflow in [
        Overflow::Block,
        Overflow::DropNewest,
        Overflow::DropOldest,
        Overflow::Fail,
    ] {
        for &(capacity, batch) in SHAPES {
            // No `End`: the source has nothing more for now, and never will.
            let mut input = interleaved(5, 2);
            input.pop();
            let source = futures::stream::iter(input.clone()).chain(futures::stream::pending());
            let mut stage = Flow::from_messages(source)
                .stage(config(capacity, batch, overflow))
                .into_messages();
            let mut output = Vec::new();
            while let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_secs(1), stage.next()).await
            {
                output.push(message);
            }
            let case = format!("{overflow:?}, capacity {capacity}, batch size {batch}");
            match overflow {
                // Five data items fit: nothing may be missing.
                _ if capacity >= 5 => assert_eq!(output, input, "{case}"),
                Overflow::Block => assert_eq!(output, input, "{case}"),
                Overflow::Fail => assert_eq!(
                    output.last(),
                    Some(&support::failed(Error::Overflow { capacity })),
                    "{case}"
                ),
                // Every control message arrives, the last ones included.
                _ => {
                    left_out(&input, &output);
                }
            }
        }
    }
}

// 2. Backpressure: bounded items in flight, and a blocked upstream task that does not spin.

/// Pulls `n` items through a blocking stage while the consumer pauses after each as `pause` says,
/// checking at every step (after every item and every pause) that the items pulled from the
/// source but not yet consumed stay within `capacity + batch`. Returns the most seen in flight.
async fn in_flight_peak(capacity: usize, batch: usize, pause: impl Fn(usize) -> usize) -> usize {
    let n = 3_000;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let mut stage = Flow::from_iter(0..n as u64)
        .inspect(move |_| {
            counter.fetch_add(1, SeqCst);
        })
        .stage(config(capacity, batch, Overflow::Block))
        .into_messages();
    let mut consumed = 0usize;
    let mut peak = 0;
    let mut check = |consumed: usize| {
        let in_flight = pulled
            .load(SeqCst)
            .checked_sub(consumed)
            .expect("an item is pulled before it is consumed");
        assert!(
            in_flight <= capacity + batch,
            "{in_flight} items in flight after {consumed} consumed, over capacity {capacity} + \
             batch size {batch}"
        );
        peak = peak.max(in_flight);
    };
    while let Some(message) = next_of(&mut stage).await {
        match message {
            Message::Data(x) => {
                assert_eq!(x, consumed as u64);
                consumed += 1;
            }
            Message::Control(Control::End) => {}
            other => panic!("unexpected {other:?}"),
        }
        check(consumed);
        for _ in 0..pause(consumed) {
            tokio::task::yield_now().await;
            check(consumed);
        }
    }
    assert_eq!(consumed, n);
    peak
}

#[tokio::test]
async fn items_in_flight_stay_within_capacity_plus_batch() {
    for &(capacity, batch) in SHAPES {
        let peak = in_flight_peak(capacity, batch, slow).await;
        // The bound is reached, not just respected: the source runs ahead as far as allowed.
        assert!(
            peak >= capacity,
            "capacity {capacity}, batch size {batch}: only {peak} items ever in flight"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_in_flight_stay_within_capacity_plus_batch_in_parallel() {
    for &(capacity, batch) in SHAPES {
        in_flight_peak(capacity, batch, slow).await;
        in_flight_peak(capacity, batch, fast).await;
    }
}

/// Yields until `counter` stops moving (it has kept its value for 50 yields in a row), at most
/// 100,000 times. Returns its value.
async fn settle(counter: &AtomicUsize) -> usize {
    let mut last = counter.load(SeqCst);
    let mut still = 0;
    for _ in 0..100_000 {
        tokio::task::yield_now().await;
        let now = counter.load(SeqCst);
        if now == last {
            still += 1;
            if still == 50 {
                return now;
            }
        } else {
            (last, still) = (now, 0);
        }
    }
    panic!("the counter never settled: the upstream task never stopped pulling");
}

/// While the consumer does not poll, the upstream task of a full blocking stage pulls nothing, is
/// not polled (the runtime goes idle: the paused clock moves) and resumes when the consumer does.
#[test]
fn a_blocked_upstream_task_waits_without_spinning() {
    paused_within(Duration::from_secs(60), || async {
        for &(capacity, batch) in SHAPES {
            let pulled = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&pulled);
            let mut stage = Flow::from_iter(0u64..)
                .inspect(move |_| {
                    counter.fetch_add(1, SeqCst);
                })
                .stage(config(capacity, batch, Overflow::Block))
                .into_messages();
            for x in 0..3 {
                assert_eq!(next_of(&mut stage).await, Some(data(x)));
            }
            let stalled = settle(&pulled).await;
            assert!(stalled - 3 <= capacity + batch);
            for _ in 0..200 {
                tokio::task::yield_now().await;
                assert_eq!(
                    pulled.load(SeqCst),
                    stalled,
                    "the source is read while blocked"
                );
            }
            // Only an idle runtime lets the paused clock jump an hour ahead.
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            assert_eq!(pulled.load(SeqCst), stalled);

            // The consumer comes back: everything arrives in order and the source moves again.
            for x in 3..(stalled as u64 + 2 * batch as u64 + 10) {
                assert_eq!(next_of(&mut stage).await, Some(data(x)));
            }
            assert!(pulled.load(SeqCst) > stalled);
        }
    });
}

/// The same with a source that has nothing ready now and then, so the upstream task blocks with a
/// partial batch: it must not poll the source again until the consumer makes room or the source
/// has more.
#[test]
fn an_upstream_task_blocked_on_a_partial_batch_waits_without_spinning() {
    paused_within(Duration::from_secs(60), || async {
        for &(capacity, batch) in SHAPES {
            let (sender, receiver) = futures::channel::mpsc::unbounded::<u64>();
            let polls = Arc::new(AtomicUsize::new(0));
            let pulled = Arc::new(AtomicUsize::new(0));
            let (poll_counter, pull_counter) = (Arc::clone(&polls), Arc::clone(&pulled));
            let mut receiver = receiver;
            let source = futures::stream::poll_fn(move |cx| {
                poll_counter.fetch_add(1, SeqCst);
                receiver.poll_next_unpin(cx)
            });
            let mut stage = Flow::from_stream(source)
                .inspect(move |_| {
                    pull_counter.fetch_add(1, SeqCst);
                })
                .stage(config(capacity, batch, Overflow::Block))
                .into_messages();
            let mut sent = 0u64;
            let mut send = |count: usize| {
                for _ in 0..count {
                    sender.unbounded_send(sent).expect("the source is open");
                    sent += 1;
                }
            };
            // Enough to fill the queue, and a partial batch more.
            send(capacity + batch / 2 + 1);
            assert_eq!(next_of(&mut stage).await, Some(data(0)));
            let stalled = settle(&polls).await;
            for _ in 0..200 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            assert_eq!(
                polls.load(SeqCst),
                stalled,
                "the source is polled while blocked"
            );

            // More input while blocked: it is read only as far as the bound allows.
            send(3 * (capacity + batch));
            settle(&pulled).await;
            assert!(pulled.load(SeqCst) - 1 <= capacity + batch);
            let polls_now = settle(&polls).await;
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            assert_eq!(polls.load(SeqCst), polls_now);

            drop(sender);
            let rest = read_slowly(&mut stage, fast).await;
            let mut expected: Input = (1..sent).map(data).collect();
            expected.push(end());
            assert_eq!(rest, expected, "capacity {capacity}, batch size {batch}");
        }
    });
}

// 3. The dropping strategies: exact counts, the documented end, control messages kept.

/// A burst of input into a consumer that does not poll at all while it lasts: `DropNewest` keeps
/// the first `capacity` data items, `DropOldest` the last `capacity`, every control message in its
/// place, and the count of dropped items is exact.
#[tokio::test]
async fn a_burst_into_a_stalled_consumer_keeps_the_first_or_last_items() {
    let n = 500u64;
    for (overflow, reason) in DROPPING {
        for &(capacity, batch) in SHAPES {
            for every in [0, 1, 6] {
                let input = interleaved(n, every);
                let (finished, guard) = drop_flag();
                let flow = hesitant(input.clone(), 0)
                    .map(move |x| {
                        let _owned = &guard;
                        x
                    })
                    .stage(config(capacity, batch, overflow));
                let metrics = flow.metrics();
                let mut stage = flow.into_messages();
                // The first poll starts the upstream task; nothing is ready yet.
                assert!(futures::poll!(stage.next()).is_pending());
                // The consumer stalls until the upstream task has read all its input.
                assert!(yield_until(100_000, || finished.load(SeqCst)).await);
                let output = read_slowly(&mut stage, fast).await;

                let case = format!("{overflow:?}, capacity {capacity}, batch size {batch}");
                let missing = left_out(&input, &output);
                let kept = (capacity as u64).min(n);
                let expected: Vec<u64> = match overflow {
                    Overflow::DropNewest => (0..kept).collect(),
                    _ => (n - kept..n).collect(),
                };
                assert_eq!(data_of(&output), expected, "{case}");
                assert_eq!(missing.len() as u64, n - kept, "{case}");
                assert_eq!(metrics.snapshot().dropped(reason), n - kept, "{case}");
                let all: u64 = metrics
                    .snapshot()
                    .operators()
                    .iter()
                    .map(|op| op.total_dropped())
                    .sum();
                assert_eq!(
                    all,
                    n - kept,
                    "{case}: only the stage drops, for one reason"
                );
            }
        }
    }
}

/// As above, but the consumer took some items before it stalled: the survivors are still a
/// prefix of the input (`DropNewest`), or a prefix (delivered before the stall, or held by the
/// consumer) and then the input's last items (`DropOldest`).
#[tokio::test]
async fn a_burst_after_some_items_drops_from_the_documented_end() {
    let n = 400u64;
    for (overflow, reason) in DROPPING {
        for &(capacity, batch) in SHAPES {
            for taken in [1, 2, 5] {
                let input = interleaved(n, 5);
                let (finished, guard) = drop_flag();
                let flow = hesitant(input.clone(), 0)
                    .map(move |x| {
                        let _owned = &guard;
                        x
                    })
                    .stage(config(capacity, batch, overflow));
                let metrics = flow.metrics();
                let mut stage = flow.into_messages();
                let mut output = Vec::new();
                // (A small queue may be flooded, and the flow over, before the consumer gets a
                // turn: it then takes what there is.)
                while data_of(&output).len() < taken {
                    match next_of(&mut stage).await {
                        Some(message) => output.push(message),
                        None => break,
                    }
                }
                assert!(yield_until(100_000, || finished.load(SeqCst)).await);
                output.extend(read_slowly(&mut stage, fast).await);

                let case = format!("{overflow:?}, capacity {capacity}, batch size {batch}");
                let missing = left_out(&input, &output);
                assert_eq!(
                    metrics.snapshot().dropped(reason),
                    missing.len() as u64,
                    "{case}"
                );
                if capacity + batch < 200 {
                    assert!(!missing.is_empty(), "{case}: the burst overflowed");
                }
                let kept = data_of(&output);
                let prefix = kept
                    .iter()
                    .enumerate()
                    .take_while(|(i, x)| *i as u64 == **x)
                    .count();
                match overflow {
                    Overflow::DropNewest => {
                        assert_eq!(prefix, kept.len(), "{case}: {kept:?} is not a prefix")
                    }
                    _ => {
                        let suffix = &kept[prefix..];
                        let from = n - suffix.len() as u64;
                        assert!(
                            suffix.iter().copied().eq(from..n),
                            "{case}: {kept:?} is not a prefix and a suffix"
                        );
                    }
                }
            }
        }
    }
}

/// A consumer slower than a fast source, throughout: the items missing downstream are exactly the
/// items counted as dropped, only data is dropped, and nothing is reordered.
async fn slow_consumer_drops_exactly(
    overflow: Overflow,
    reason: DropReason,
    runs_in_parallel: bool,
) {
    let n = 3_000u64;
    let mut dropped_in_all = 0;
    for &(capacity, batch) in SHAPES {
        for every in [1, 9] {
            for hesitate in [0, 4] {
                let input = interleaved(n, every);
                let flow =
                    hesitant(input.clone(), hesitate).stage(config(capacity, batch, overflow));
                let metrics = flow.metrics();
                let output = read_slowly(flow, slow).await;
                let missing = left_out(&input, &output);
                let case = format!(
                    "{overflow:?}, capacity {capacity}, batch size {batch}, a control every \
                     {every} items, source pending every {hesitate}"
                );
                let (newest, oldest) = overflow_drops(&metrics);
                assert_eq!(newest + oldest, missing.len() as u64, "{case}");
                assert_eq!(
                    metrics.snapshot().dropped(reason),
                    missing.len() as u64,
                    "{case}"
                );
                if !runs_in_parallel && capacity < 1_000 {
                    assert!(
                        !missing.is_empty(),
                        "{case}: the consumer is slower, yet no drop"
                    );
                }
                dropped_in_all += missing.len();
            }
        }
    }
    if !runs_in_parallel {
        assert!(dropped_in_all > 0);
    }
}

#[tokio::test]
async fn drop_newest_counts_exactly_what_a_slow_consumer_misses() {
    slow_consumer_drops_exactly(Overflow::DropNewest, DropReason::OverflowNewest, false).await;
}

#[tokio::test]
async fn drop_oldest_counts_exactly_what_a_slow_consumer_misses() {
    slow_consumer_drops_exactly(Overflow::DropOldest, DropReason::OverflowOldest, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_counts_stay_exact_in_parallel() {
    for (overflow, reason) in DROPPING {
        slow_consumer_drops_exactly(overflow, reason, true).await;
    }
}

/// Dropping stages chained: what goes missing at the end is what the stages counted, together.
#[tokio::test]
async fn chained_dropping_stages_count_every_missing_item() {
    let n = 5_000u64;
    for (first, second) in [
        (Overflow::DropNewest, Overflow::DropOldest),
        (Overflow::DropOldest, Overflow::DropNewest),
        (Overflow::Block, Overflow::DropOldest),
        (Overflow::DropNewest, Overflow::Block),
    ] {
        let input = interleaved(n, 4);
        let flow = hesitant(input.clone(), 7)
            .stage(config(16, 4, first))
            .map(|x| x)
            .stage(config(8, 3, second));
        let metrics = flow.metrics();
        let output = read_slowly(flow, slow).await;
        let missing = left_out(&input, &output);
        let (newest, oldest) = overflow_drops(&metrics);
        assert_eq!(
            newest + oldest,
            missing.len() as u64,
            "{first:?} then {second:?}"
        );
        assert!(!missing.is_empty());
    }
}

// 4. `Overflow::Fail`.

#[tokio::test]
async fn fail_ends_a_slow_flow_with_an_overflow_error() {
    let n = 10_000u64;
    for &(capacity, batch) in SHAPES {
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pulled);
        let flow = Flow::from_iter(0..n)
            .inspect(move |_| {
                counter.fetch_add(1, SeqCst);
            })
            .stage(config(capacity, batch, Overflow::Fail));
        // A consumer slower than the source: it yields after every item.
        let slowed = Flow::from_messages(flow.into_messages().then(|message| async {
            tokio::task::yield_now().await;
            message
        }));
        match within(slowed.collect::<Vec<_>>()).await {
            Err(Error::Overflow { capacity: reported }) => assert_eq!(reported, capacity),
            other => panic!("capacity {capacity}, batch size {batch}: {other:?}"),
        }
        assert!(
            pulled.load(SeqCst) < n as usize,
            "capacity {capacity}: the source was read to its end after the failure"
        );
    }
}

/// What comes out before the failure is a prefix of the input, control messages included, and the
/// failure is the last message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_delivers_a_prefix_then_the_error() {
    let n = 2_000u64;
    for &(capacity, batch) in SHAPES {
        let input = interleaved(n, 3);
        let (finished, guard) = drop_flag();
        let mut flow = hesitant(input.clone(), 0)
            .map(move |x| {
                let _owned = &guard;
                x
            })
            .stage(config(capacity, batch, Overflow::Fail));
        let mut output = Vec::new();
        if let std::task::Poll::Ready(Some(message)) = futures::poll!(flow.next()) {
            output.push(message);
        }
        // The consumer stalls until the upstream task has given up.
        tokio::time::timeout(Duration::from_secs(30), async {
            while !finished.load(SeqCst) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the upstream task stops after the overflow");
        output.extend(read_slowly(&mut flow, fast).await);

        let case = format!("capacity {capacity}, batch size {batch}");
        let failure = output.pop().expect("a failure");
        assert_eq!(
            failure,
            support::failed(Error::Overflow { capacity }),
            "{case}"
        );
        assert_eq!(output, input[..output.len()], "{case}");
        assert!(data_of(&output).len() <= capacity, "{case}");
    }
}

/// The capacity is exact: a stalled consumer and a burst of exactly `capacity` data items (with
/// any number of control messages, which take no room) do not fail; one item more does.
#[tokio::test]
async fn fail_triggers_exactly_one_item_past_the_capacity() {
    let n = 300u64;
    for batch in [1, 7, 150, 300] {
        for every in [0, 1] {
            for extra in [0, 1] {
                let input = interleaved(n + extra, every);
                let (finished, guard) = drop_flag();
                let flow = hesitant(input.clone(), 0)
                    .map(move |x| {
                        let _owned = &guard;
                        x
                    })
                    .stage(config(n as usize, batch, Overflow::Fail));
                let mut stage = flow.into_messages();
                assert!(futures::poll!(stage.next()).is_pending());
                assert!(yield_until(100_000, || finished.load(SeqCst)).await);
                let output = read_slowly(&mut stage, fast).await;
                let case = format!("capacity {n}, batch size {batch}, {} items", n + extra);
                if extra == 0 {
                    assert_eq!(output, input, "{case}");
                } else {
                    assert_eq!(
                        output.last(),
                        Some(&support::failed(Error::Overflow {
                            capacity: n as usize
                        })),
                        "{case}"
                    );
                }
            }
        }
    }
}

// 5. Degenerate settings are typed errors.

/// Builds a configuration the way an application would, with `?` into the crate's error.
fn stage_config(capacity: usize, batch_size: usize) -> Result<StageConfig, Error> {
    Ok(StageConfig::with_capacity(capacity)?.batch_size(batch_size)?)
}

#[test]
fn degenerate_settings_are_typed_errors() {
    let zero_capacity = StageConfig::with_capacity(0).expect_err("capacity 0 is invalid");
    assert_eq!(zero_capacity.parameter(), "stage capacity");
    assert_eq!(
        zero_capacity.to_string(),
        "invalid stage capacity: must be greater than zero"
    );

    let valid = StageConfig::with_capacity(8).expect("capacity 8 is valid");
    for batch_size in [0, 9, usize::MAX] {
        let err = valid
            .batch_size(batch_size)
            .expect_err("an invalid batch size");
        assert_eq!(
            err.parameter(),
            "stage batch size",
            "batch size {batch_size}"
        );
    }

    for (capacity, batch_size) in [(0, 1), (0, 0), (4, 0), (4, 5), (1, 2)] {
        assert!(
            matches!(stage_config(capacity, batch_size), Err(Error::Config(_))),
            "capacity {capacity}, batch size {batch_size}"
        );
    }
    for (capacity, batch_size) in [(1, 1), (8, 1), (8, 8), (usize::MAX, 512)] {
        let config = stage_config(capacity, batch_size).expect("a valid configuration");
        assert_eq!(config.capacity(), capacity);
    }
    assert_eq!(
        StageConfig::with_capacity(3).map(|c| c.capacity()),
        Ok(3),
        "a small capacity takes a batch size that fits"
    );
}

// 6. A panic upstream.

/// Keeps the expected "boom at …" panics of these tests out of the test output; every other panic
/// is reported as usual.
fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            if !message.is_some_and(|m| m.starts_with("boom at ")) {
                report(info);
            }
        }));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_upstream_arrives_as_an_error_after_every_earlier_item() {
    quiet_expected_panics();
    for &(capacity, batch) in SHAPES {
        let mut points = vec![0, 1, 2, batch - 1, batch, batch + 1, 2 * batch + 1];
        points.extend([capacity, capacity + batch + 1, 57]);
        for k in points {
            for pause in [fast as fn(usize) -> usize, slow] {
                let case = format!("capacity {capacity}, batch size {batch}, panic at {k}");
                let input = interleaved(k as u64 + 100, 4);
                let flow = hesitant(input.clone(), 0)
                    .map(move |x| {
                        if x == k as u64 {
                            panic!("boom at {x}");
                        }
                        x
                    })
                    .stage(config(capacity, batch, Overflow::Block));
                let mut output = read_slowly(flow, pause).await;
                let failure = output.pop().expect("a failure");
                assert_eq!(
                    failure,
                    support::failed(Error::Panicked {
                        message: format!("boom at {k}")
                    }),
                    "{case}"
                );
                // Everything before item k, control messages included, and nothing after it.
                let before = input
                    .iter()
                    .position(|m| m == &data(k as u64))
                    .expect("item k is in the input");
                assert_eq!(output, input[..before], "{case}");
            }
        }
    }
}

#[tokio::test]
async fn a_panic_upstream_fails_collect_with_its_message() {
    quiet_expected_panics();
    for &(capacity, batch) in SHAPES {
        let flow = Flow::from_iter(0..1_000u64)
            .map(|x| {
                if x == 321 {
                    panic!("boom at {x}");
                }
                x
            })
            .stage(config(capacity, batch, Overflow::Block));
        let result = within(flow.collect::<Vec<_>>()).await;
        match result {
            Err(Error::Panicked { message }) => assert_eq!(message, "boom at 321"),
            other => panic!("capacity {capacity}, batch size {batch}: {other:?}"),
        }
    }
}

// 7. Dropping the downstream flow stops the upstream task.

/// Where the downstream flow is dropped.
#[derive(Debug, Clone, Copy)]
enum DropPoint {
    /// Before it was ever polled: no task was started.
    Unpolled,
    /// After one poll, with nothing received.
    FirstPoll,
    /// After this many data items.
    After(usize),
}

const DROP_POINTS: [DropPoint; 5] = [
    DropPoint::Unpolled,
    DropPoint::FirstPoll,
    DropPoint::After(1),
    DropPoint::After(4),
    DropPoint::After(37),
];

/// The upstream source: endless, or a few items and then nothing, ever.
fn source(endless: bool) -> BoxStream<'static, u64> {
    if endless {
        futures::stream::iter(0u64..).boxed()
    } else {
        futures::stream::iter(0u64..40)
            .chain(futures::stream::pending())
            .boxed()
    }
}

/// A source of 40 items then nothing may not get 37 items through a dropping stage: the reader
/// would wait forever.
fn skip_point(endless: bool, overflow: Overflow, point: DropPoint) -> bool {
    matches!(point, DropPoint::After(k) if !endless && overflow != Overflow::Block && k > 4)
}

/// Builds `stages` stages (1 or 2) over `source(endless)`, each with a guard upstream of it, reads
/// up to `point` and drops the downstream flow. Returns the guards' flags.
async fn read_then_drop(
    stages: usize,
    endless: bool,
    overflow: Overflow,
    point: DropPoint,
) -> Vec<Arc<AtomicBool>> {
    let (first, guard) = drop_flag();
    let flow = Flow::from_stream(source(endless))
        .map(move |x| {
            let _owned = &guard;
            x
        })
        .stage(config(8, 3, overflow));
    let (second, guard) = drop_flag();
    let flow = flow.map(move |x| {
        let _owned = &guard;
        x
    });
    let mut flags = vec![first, second];
    let mut downstream: BoxStream<'static, Message<u64>> = if stages == 2 {
        flow.stage(config(4, 2, overflow)).into_messages().boxed()
    } else {
        // The second guard lives downstream: it goes with the flow.
        flags.pop();
        flow.into_messages().boxed()
    };
    match point {
        DropPoint::Unpolled => {}
        DropPoint::FirstPoll => {
            let _ = futures::poll!(downstream.next());
        }
        DropPoint::After(k) => {
            let mut received = 0;
            while received < k {
                match next_of(&mut downstream).await {
                    Some(Message::Data(x)) => {
                        if overflow == Overflow::Block {
                            assert_eq!(x, received as u64);
                        }
                        received += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    drop(downstream);
    flags
}

#[tokio::test]
async fn dropping_the_downstream_flow_stops_the_upstream_task() {
    for stages in [1, 2] {
        for endless in [true, false] {
            for overflow in [Overflow::Block, Overflow::DropNewest, Overflow::DropOldest] {
                for point in DROP_POINTS {
                    if skip_point(endless, overflow, point) {
                        continue;
                    }
                    let case =
                        format!("{stages} stage(s), endless {endless}, {overflow:?}, {point:?}");
                    let baseline = alive_tasks();
                    let flags = read_then_drop(stages, endless, overflow, point).await;
                    let stopped = yield_until(100, || {
                        flags.iter().all(|flag| flag.load(SeqCst)) && alive_tasks() == baseline
                    })
                    .await;
                    assert!(
                        stopped,
                        "{case}: upstream gone {:?}, {} tasks alive, {baseline} before",
                        flags.iter().map(|f| f.load(SeqCst)).collect::<Vec<_>>(),
                        alive_tasks()
                    );
                    if let DropPoint::Unpolled = point {
                        // Nothing was started: the upstream went with the flow, at once.
                        assert!(flags.iter().all(|flag| flag.load(SeqCst)));
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_downstream_flow_stops_the_upstream_task_in_parallel() {
    for stages in [1, 2] {
        for endless in [true, false] {
            for overflow in [Overflow::Block, Overflow::DropNewest, Overflow::DropOldest] {
                for point in DROP_POINTS {
                    if skip_point(endless, overflow, point) {
                        continue;
                    }
                    let case =
                        format!("{stages} stage(s), endless {endless}, {overflow:?}, {point:?}");
                    let baseline = alive_tasks();
                    let flags = read_then_drop(stages, endless, overflow, point).await;
                    // Another worker may be running the task right now: it stops when that poll
                    // returns. The timeout only bounds a failure; it is never waited out.
                    let stopped = tokio::time::timeout(Duration::from_secs(30), async {
                        while !(flags.iter().all(|flag| flag.load(SeqCst))
                            && alive_tasks() == baseline)
                        {
                            tokio::task::yield_now().await;
                        }
                    })
                    .await;
                    assert!(
                        stopped.is_ok(),
                        "{case}: upstream gone {:?}, {} tasks alive, {baseline} before",
                        flags.iter().map(|f| f.load(SeqCst)).collect::<Vec<_>>(),
                        alive_tasks()
                    );
                }
            }
        }
    }
}

// 8. Chained stages.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_stages_keep_order_and_completeness() {
    let chains = [
        [(1, 1), (1, 1), (1, 1)],
        [(2, 1), (7, 3), (3, 3)],
        [(64, 64), (1, 1), (16, 5)],
        [(1_000, 512), (4, 4), (100, 7)],
    ];
    for [a, b, c] in chains {
        for every in [0, 1, 5] {
            for (hesitate, pause) in [(0, fast as fn(usize) -> usize), (3, slow)] {
                let input = interleaved(2_000, every);
                let flow = hesitant(input.clone(), hesitate)
                    .stage(config(a.0, a.1, Overflow::Block))
                    .map(|x| x * 3)
                    .stage(config(b.0, b.1, Overflow::Block))
                    .filter(|x| x % 2 == 0)
                    .stage(config(c.0, c.1, Overflow::Block));
                let metrics = flow.metrics();
                let output = read_slowly(flow, pause).await;
                let expected: Input = input
                    .into_iter()
                    .map(|m| m.map(|x| x * 3))
                    .filter(|m| m.as_data().is_none_or(|x| x % 2 == 0))
                    .collect();
                assert_eq!(
                    output, expected,
                    "stages {a:?} {b:?} {c:?}, a control every {every}"
                );
                assert_eq!(overflow_drops(&metrics), (0, 0));
            }
        }
    }
}

// Memory: the dropping strategies keep a boundary bounded too.

/// The peak of memory held, in bytes, while a stage with `overflow` (capacity 64, batches of 16)
/// takes `n` items from a fast source into a consumer that does not poll at all meanwhile.
fn stalled_peak_bytes(overflow: Overflow, n: u64) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let (finished, guard) = drop_flag();
    let flow = Flow::from_iter(0..n)
        .map(move |x| {
            let _owned = &guard;
            x
        })
        .stage(config(64, 16, overflow));
    let metrics = flow.metrics();
    let mut stage = flow.into_messages();
    let measured = allocation_counter::measure(|| {
        runtime.block_on(async {
            assert!(futures::poll!(stage.next()).is_pending());
            assert!(yield_until(1_000_000, || finished.load(SeqCst)).await);
        })
    });
    let output: Input = runtime.block_on(stage.collect());
    assert_eq!(data_of(&output).len(), 64);
    let (newest, oldest) = overflow_drops(&metrics);
    assert_eq!(newest + oldest, n - 64);
    measured.bytes_max
}

#[test]
fn a_stalled_consumer_holds_no_more_memory_for_a_longer_burst() {
    for overflow in [Overflow::DropNewest, Overflow::DropOldest] {
        let short = stalled_peak_bytes(overflow, 1_000);
        let long = stalled_peak_bytes(overflow, 200_000);
        assert!(
            long <= short + 4_096,
            "{overflow:?}: {short} bytes at most for a burst of 1,000 items, {long} for 200,000"
        );
    }
}

/// The peak of memory held, in bytes, while a stage with `overflow` (capacity 64, batches of 16)
/// takes a source of `n` watermarks and no data into a consumer that does not poll meanwhile.
fn control_flood_peak_bytes(overflow: Overflow, n: i64) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let source = futures::stream::iter(0..n).map(move |at| {
        counter.fetch_add(1, SeqCst);
        watermark::<u64>(at)
    });
    let mut stage = Flow::from_messages(source)
        .stage(config(64, 16, overflow))
        .into_messages();
    allocation_counter::measure(|| {
        runtime.block_on(async {
            assert!(futures::poll!(stage.next()).is_pending());
            settle(&pulled).await;
        })
    })
    .bytes_max
}

/// A stalled consumer must not let the upstream task read a source of watermarks alone (or of
/// data filtered away upstream) to its end into memory: under `Overflow::Block` the queue counts
/// control messages too, so the producer waits.
#[test]
fn a_flood_of_control_messages_is_bounded_too() {
    // The dropping strategies never make the producer wait and keep every control message, so
    // only `Block` bounds a flood of them.
    let overflow = Overflow::Block;
    let short = control_flood_peak_bytes(overflow, 1_000);
    let long = control_flood_peak_bytes(overflow, 200_000);
    assert!(
        long <= short + 4_096,
        "{overflow:?}: {short} bytes at most for 1,000 watermarks, {long} for 200,000"
    );
}

/// The upstream task of a stage is cancelled with its runtime: the downstream side then sees
/// the input stop (no end of input) instead of waiting forever.
#[test]
fn a_cancelled_upstream_task_ends_the_downstream_side() {
    let upstream_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // An upstream that never ends: a source that is always pending after one item.
    let source = futures::stream::iter([1u64]).chain(futures::stream::pending());
    let mut stage = Flow::from_stream(source)
        .stage(config(16, 4, Overflow::Block))
        .into_messages();
    // The first poll spawns the upstream task on the runtime that polls it.
    let first = upstream_runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), stage.next()).await });
    assert_eq!(first.unwrap(), Some(Message::Data(1)));
    drop(upstream_runtime);
    let rest = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), stage.next()).await });
    assert_eq!(rest.expect("the downstream side waited forever"), None);
}
