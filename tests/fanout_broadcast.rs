//! Broadcast (`Flow::broadcast`): every subscriber gets every item, shared by `Arc`, and every
//! control message in its place.
//!
//! These tests pin down the contract (DESIGN.md §5):
//! - every subscriber sees exactly the input, data and control messages, in order, for any
//!   capacity, batch size and number of subscribers, however fast each reads;
//! - items are shared: each is wrapped in one `Arc` that every subscriber holds a clone of;
//! - under `Overflow::Block` the slowest subscriber sets the pace: the items read from the source
//!   but not yet taken by it never exceed `capacity + batch size`, and a blocked upstream task
//!   waits without spinning;
//! - the dropping strategies drop data only, never a control message, and count exactly the items
//!   that subscribers missed, as `DropReason::SlowSubscriber`;
//! - a dropped subscriber holds nobody back; dropping every subscriber stops the upstream task;
//! - zero subscribers or a zero capacity is a typed error; a panic upstream fails every
//!   subscriber.
//!
//! Inputs are data items `0..n` (each unique) with control messages between them, so a check can
//! tell exactly which items went missing and whether anything moved.

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rheoflow::channel::{Overflow, StageConfig};
use rheoflow::metrics::DropReason;
use rheoflow::operators::Broadcast;
use rheoflow::{Control, Error, Flow, Message};

use support::fanout::{
    data_of, drop_flag, fast, hesitant, interleaved, left_out, slow, yield_until, Input, SetOnDrop,
};
use support::{data, end};

/// `(capacity, batch size)` pairs: tiny, equal, coprime, batch of one, the default batch size.
const SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (2, 1),
    (3, 2),
    (4, 4),
    (7, 3),
    (16, 5),
    (64, 64),
    (1_000, 512),
];

const DROPPING: [Overflow; 2] = [Overflow::DropNewest, Overflow::DropOldest];

fn config(capacity: usize, batch_size: usize, overflow: Overflow) -> StageConfig {
    StageConfig::with_capacity(capacity)
        .and_then(|config| config.batch_size(batch_size))
        .expect("a valid stage configuration")
        .overflow(overflow)
}

/// Reads a subscriber to its end, unwrapping the shared items, yielding to the runtime
/// `pause(i)` times after the `i`-th message (from 0): a reader as slow as wanted.
async fn read_slowly<St>(stream: St, pause: impl Fn(usize) -> usize) -> Input
where
    St: Stream<Item = Message<Arc<u64>>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while let Some(message) = stream.next().await {
        let pauses = pause(out.len());
        out.push(message.map(|item| *item));
        for _ in 0..pauses {
            tokio::task::yield_now().await;
        }
    }
    out
}

/// `flow` with `guard` owned by a closure in it: the flag is set once the flow is dropped.
fn guarded<S>(flow: Flow<S>, guard: SetOnDrop) -> Flow<impl Stream<Item = Message<u64>> + Send>
where
    S: Stream<Item = Message<u64>> + Send,
{
    flow.map(move |x| {
        let _owned = &guard;
        x
    })
}

/// Runs `test` on a current-thread runtime with a paused clock, but fails instead of hanging if it
/// has not finished after `limit` of real time: a paused clock only moves when the runtime has
/// nothing to run, so a spinning task would stop it for good.
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

// 1. Every subscriber gets every message, in order; items are shared.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_every_message_in_order() {
    for &(capacity, batch) in SHAPES {
        for subscribers in [1, 2, 3] {
            for every in [0, 1, 7] {
                for hesitate in [0, 5] {
                    let input = interleaved(500, every);
                    let flows = hesitant(input.clone(), hesitate)
                        .broadcast(subscribers, config(capacity, batch, Overflow::Block))
                        .expect("a valid broadcast");
                    let metrics = flows[0].metrics();
                    // Each subscriber on its own task, at its own pace: the first is slow.
                    let readers: Vec<_> = flows
                        .into_iter()
                        .enumerate()
                        .map(|(i, flow)| {
                            let pause = if i == 0 { slow } else { fast };
                            tokio::spawn(read_slowly(flow, pause))
                        })
                        .collect();
                    for (i, reader) in readers.into_iter().enumerate() {
                        let output = reader.await.expect("the reader ends");
                        assert_eq!(
                            output, input,
                            "subscriber {i} of {subscribers}, capacity {capacity}, batch size \
                             {batch}, a control every {every} items, source pending every \
                             {hesitate}"
                        );
                    }
                    assert_eq!(metrics.snapshot().dropped(DropReason::SlowSubscriber), 0);
                }
            }
        }
    }
}

#[tokio::test]
async fn subscribers_read_in_one_task_get_everything() {
    for &(capacity, batch) in SHAPES {
        let input = interleaved(2_000, 3);
        let mut flows = hesitant(input.clone(), 4)
            .broadcast(2, config(capacity, batch, Overflow::Block))
            .expect("a valid broadcast")
            .into_iter();
        let (first, second) = (flows.next().unwrap(), flows.next().unwrap());
        let (first, second) = tokio::join!(read_slowly(first, slow), read_slowly(second, fast));
        assert_eq!(first, input, "capacity {capacity}, batch size {batch}");
        assert_eq!(second, input, "capacity {capacity}, batch size {batch}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_shared_by_arc_not_copied() {
    let words: Vec<String> = (0..1_000).map(|i| format!("word-{i}")).collect();
    let subscribers = 3;
    let flows = Flow::from_iter(words.clone())
        .broadcast(subscribers, config(16, 4, Overflow::Block))
        .expect("a valid broadcast");
    let readers: Vec<_> = flows
        .into_iter()
        .map(|flow| tokio::spawn(flow.into_messages().collect::<Vec<_>>()))
        .collect();
    let mut outputs = Vec::new();
    for reader in readers {
        outputs.push(reader.await.expect("the reader ends"));
    }
    for output in &outputs {
        assert_eq!(output.len(), words.len() + 1);
        assert_eq!(output.last(), Some(&end()));
    }
    for (i, word) in words.iter().enumerate() {
        let first = outputs[0][i].as_data().expect("a data item");
        assert_eq!(**first, *word);
        for output in &outputs[1..] {
            let item = output[i].as_data().expect("a data item");
            assert!(Arc::ptr_eq(first, item), "item {i} was copied");
        }
        // One `Arc` per item, held by the subscribers only: the upstream task kept none.
        assert_eq!(Arc::strong_count(first), subscribers);
    }
}

#[tokio::test]
async fn a_source_that_stops_without_end_ends_every_subscriber() {
    let mut input = interleaved(300, 4);
    input.pop();
    let flows = hesitant(input.clone(), 3)
        .broadcast(2, config(8, 3, Overflow::Block))
        .expect("a valid broadcast");
    let outputs = futures::future::join_all(flows.into_iter().map(|f| read_slowly(f, fast))).await;
    for output in outputs {
        assert_eq!(output, input);
    }
}

// 2. Backpressure: the slowest subscriber sets the pace.

/// Pulls `n` items through a blocking broadcast to a fast subscriber (on its own task) and a slow
/// one, checking at every step of the slow one that the items pulled from the source but not yet
/// taken by it stay within `capacity + batch`. Returns the most seen in flight.
async fn in_flight_peak(capacity: usize, batch: usize) -> usize {
    let n = 3_000u64;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let mut flows = Flow::from_iter(0..n)
        .inspect(move |_| {
            counter.fetch_add(1, SeqCst);
        })
        .broadcast(2, config(capacity, batch, Overflow::Block))
        .expect("a valid broadcast")
        .into_iter();
    let (fast_one, slow_one) = (flows.next().unwrap(), flows.next().unwrap());
    let fast_reader = tokio::spawn(read_slowly(fast_one, fast));
    let mut slow_one = slow_one.into_messages();
    let mut consumed = 0usize;
    let mut peak = 0;
    let mut check = |consumed: usize| {
        let in_flight = pulled
            .load(SeqCst)
            .checked_sub(consumed)
            .expect("an item is pulled before it is consumed");
        assert!(
            in_flight <= capacity + batch,
            "{in_flight} items in flight after {consumed} consumed by the slow subscriber, over \
             capacity {capacity} + batch size {batch}"
        );
        peak = peak.max(in_flight);
    };
    while let Some(message) = slow_one.next().await {
        match message {
            Message::Data(x) => {
                assert_eq!(*x, consumed as u64);
                consumed += 1;
            }
            Message::Control(Control::End) => {}
            other => panic!("unexpected {other:?}"),
        }
        check(consumed);
        for _ in 0..slow(consumed) {
            tokio::task::yield_now().await;
            check(consumed);
        }
    }
    assert_eq!(consumed as u64, n);
    let fast_output = fast_reader.await.expect("the fast reader ends");
    assert_eq!(data_of(&fast_output), (0..n).collect::<Vec<_>>());
    peak
}

#[tokio::test]
async fn block_bounds_items_in_flight_to_the_slowest_subscriber() {
    for &(capacity, batch) in SHAPES {
        let peak = in_flight_peak(capacity, batch).await;
        // The bound is reached, not just respected: the source runs ahead as far as allowed.
        assert!(
            peak >= capacity.min(3_000),
            "capacity {capacity}, batch size {batch}: only {peak} items ever in flight"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_bounds_items_in_flight_in_parallel() {
    for &(capacity, batch) in SHAPES {
        in_flight_peak(capacity, batch).await;
    }
}

/// While one subscriber does not poll, the upstream task pulls nothing once its queue is full, is
/// not polled (the runtime goes idle: the paused clock moves), and resumes when it reads again.
#[test]
fn a_blocked_upstream_task_waits_without_spinning() {
    paused_within(Duration::from_secs(60), || async {
        for &(capacity, batch) in SHAPES {
            let pulled = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&pulled);
            let mut flows = Flow::from_iter(0u64..)
                .inspect(move |_| {
                    counter.fetch_add(1, SeqCst);
                })
                .broadcast(2, config(capacity, batch, Overflow::Block))
                .expect("a valid broadcast")
                .into_iter();
            let mut stalled_one = flows.next().unwrap().into_messages();
            let mut reading_one = flows.next().unwrap().into_messages();
            assert_eq!(stalled_one.next().await, Some(data(Arc::new(0))));
            // The other subscriber reads what it can: as far as the stalled one lets it.
            let mut read = 0u64;
            loop {
                tokio::select! {
                    biased;
                    message = reading_one.next() => {
                        assert_eq!(message.and_then(Message::into_data).as_deref(), Some(&read));
                        read += 1;
                    }
                    // Only an idle runtime lets the paused clock jump ahead.
                    _ = tokio::time::sleep(Duration::from_secs(3_600)) => break,
                }
            }
            let stalled = pulled.load(SeqCst);
            assert!(
                stalled - 1 <= capacity + batch,
                "capacity {capacity}, batch size {batch}"
            );
            assert!(read as usize <= stalled);
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            assert_eq!(
                pulled.load(SeqCst),
                stalled,
                "the source is read while blocked"
            );

            // The other subscriber leaves (holding nobody back), the stalled one comes back:
            // everything arrives in order, and the source moves again.
            drop(reading_one);
            for x in 1..(stalled as u64 + 2 * batch as u64 + 10) {
                assert_eq!(stalled_one.next().await, Some(data(Arc::new(x))));
            }
            assert!(pulled.load(SeqCst) > stalled);
        }
    });
}

// 3. Dropping slow subscribers' items: exact counts, control messages kept.

/// A burst into two subscribers that do not read while it lasts: each keeps the first (or last)
/// `capacity` items, every control message in its place, and the drops are counted exactly.
#[tokio::test]
async fn a_burst_into_stalled_subscribers_keeps_the_first_or_last_items() {
    let n = 400u64;
    for overflow in DROPPING {
        for &(capacity, batch) in SHAPES {
            for every in [0, 1, 6] {
                let input = interleaved(n, every);
                let (finished, guard) = drop_flag();
                let flows = guarded(hesitant(input.clone(), 0), guard)
                    .broadcast(2, config(capacity, batch, overflow))
                    .expect("a valid broadcast");
                let metrics = flows[0].metrics();
                let mut subscribers: Vec<_> = flows.into_iter().map(Flow::into_messages).collect();
                // The first poll starts the upstream task; nothing is ready yet.
                assert!(futures::poll!(subscribers[0].next()).is_pending());
                assert!(yield_until(100_000, || finished.load(SeqCst)).await);

                let case = format!("{overflow:?}, capacity {capacity}, batch size {batch}");
                let kept = (capacity as u64).min(n);
                let expected: Vec<u64> = match overflow {
                    Overflow::DropNewest => (0..kept).collect(),
                    _ => (n - kept..n).collect(),
                };
                for subscriber in subscribers {
                    let output = read_slowly(subscriber, fast).await;
                    let missing = left_out(&input, &output);
                    assert_eq!(data_of(&output), expected, "{case}");
                    assert_eq!(missing.len() as u64, n - kept, "{case}");
                }
                let snapshot = metrics.snapshot();
                assert_eq!(
                    snapshot.dropped(DropReason::SlowSubscriber),
                    2 * (n - kept),
                    "{case}"
                );
                let all: u64 = snapshot
                    .operators()
                    .iter()
                    .map(|op| op.total_dropped())
                    .sum();
                assert_eq!(all, 2 * (n - kept), "{case}: only the broadcast drops");
            }
        }
    }
}

/// One subscriber keeps up, another is slower than the source throughout: the slow one misses
/// items, the fast one misses none (or some, if it too falls behind), and the count of drops is
/// exactly what they miss together; no control message is lost or moved.
async fn a_slow_subscriber_drops_exactly(overflow: Overflow, in_parallel: bool) {
    let n = 3_000u64;
    let mut dropped_in_all = 0;
    for &(capacity, batch) in SHAPES {
        for every in [1, 9] {
            let input = interleaved(n, every);
            let flows = hesitant(input.clone(), 4)
                .broadcast(2, config(capacity, batch, overflow))
                .expect("a valid broadcast");
            let metrics = flows[0].metrics();
            let mut flows = flows.into_iter();
            let (fast_one, slow_one) = (flows.next().unwrap(), flows.next().unwrap());
            let (fast_output, slow_output) = if in_parallel {
                let fast_reader = tokio::spawn(read_slowly(fast_one, fast));
                let slow_output = read_slowly(slow_one, slow).await;
                (fast_reader.await.expect("the reader ends"), slow_output)
            } else {
                tokio::join!(read_slowly(fast_one, fast), read_slowly(slow_one, slow))
            };
            let case = format!(
                "{overflow:?}, capacity {capacity}, batch size {batch}, a control every {every}"
            );
            let missed_by_fast = left_out(&input, &fast_output).len() as u64;
            let missed_by_slow = left_out(&input, &slow_output).len() as u64;
            assert_eq!(
                metrics.snapshot().dropped(DropReason::SlowSubscriber),
                missed_by_fast + missed_by_slow,
                "{case}"
            );
            if !in_parallel && capacity < 1_000 {
                assert!(
                    missed_by_slow > 0,
                    "{case}: the subscriber is slower, yet no drop"
                );
            }
            dropped_in_all += missed_by_slow;
        }
    }
    if !in_parallel {
        assert!(dropped_in_all > 0);
    }
}

#[tokio::test]
async fn drop_newest_counts_exactly_what_a_slow_subscriber_misses() {
    a_slow_subscriber_drops_exactly(Overflow::DropNewest, false).await;
}

#[tokio::test]
async fn drop_oldest_counts_exactly_what_a_slow_subscriber_misses() {
    a_slow_subscriber_drops_exactly(Overflow::DropOldest, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_counts_stay_exact_in_parallel() {
    for overflow in DROPPING {
        a_slow_subscriber_drops_exactly(overflow, true).await;
    }
}

/// Under a dropping strategy, a subscriber that never reads holds nobody back: the others get
/// everything of an input far larger than its queue.
#[tokio::test]
async fn a_stalled_subscriber_does_not_hold_a_dropping_broadcast_back() {
    for overflow in DROPPING {
        let input = interleaved(10_000, 10);
        let mut flows = hesitant(input.clone(), 0)
            .broadcast(2, config(8, 4, overflow))
            .expect("a valid broadcast")
            .into_iter();
        let (_stalled, reading) = (flows.next().unwrap(), flows.next().unwrap());
        let output = read_slowly(reading, fast).await;
        // The reader may fall behind too, so it may miss data, never a control message.
        left_out(&input, &output);
        assert_eq!(output.last(), Some(&end()));
    }
}

// 4. Dropped subscribers.

#[tokio::test]
async fn a_dropped_subscriber_does_not_block_the_others() {
    for &(capacity, batch) in SHAPES {
        let input = interleaved(5_000, 11);
        let flows = hesitant(input.clone(), 7)
            .broadcast(4, config(capacity, batch, Overflow::Block))
            .expect("a valid broadcast");
        let mut flows = flows.into_iter();
        // One is dropped before the upstream task starts, one after a few items.
        drop(flows.next());
        let mut early_leaver = flows.next().unwrap().into_messages();
        let (first, second) = (flows.next().unwrap(), flows.next().unwrap());
        let leaver = async move {
            for _ in 0..3 {
                early_leaver.next().await;
            }
        };
        let ((), first, second) =
            tokio::join!(leaver, read_slowly(first, slow), read_slowly(second, fast));
        assert_eq!(first, input, "capacity {capacity}, batch size {batch}");
        assert_eq!(second, input, "capacity {capacity}, batch size {batch}");
    }
}

#[tokio::test]
async fn dropping_every_subscriber_stops_the_upstream_task() {
    for &(capacity, batch) in SHAPES {
        // Never started: dropping the subscribers drops the upstream part at once.
        let (stopped, guard) = drop_flag();
        let flows = guarded(Flow::from_iter(0u64..), guard)
            .broadcast(2, config(capacity, batch, Overflow::Block))
            .expect("a valid broadcast");
        drop(flows);
        assert!(stopped.load(SeqCst));

        // Running, from an endless source, blocked on the full queue of a subscriber.
        let (stopped, guard) = drop_flag();
        let flows = guarded(Flow::from_iter(0u64..), guard)
            .broadcast(3, config(capacity, batch, Overflow::Block))
            .expect("a valid broadcast");
        let mut subscribers: Vec<_> = flows.into_iter().map(Flow::into_messages).collect();
        for subscriber in &mut subscribers {
            assert_eq!(subscriber.next().await, Some(data(Arc::new(0))));
        }
        let last = subscribers.pop().unwrap();
        drop(subscribers);
        assert!(
            !yield_until(100, || stopped.load(SeqCst)).await,
            "stopped too early"
        );
        drop(last);
        assert!(
            yield_until(10_000, || stopped.load(SeqCst)).await,
            "capacity {capacity}, batch size {batch}: the upstream task still runs"
        );
    }
}

#[tokio::test]
async fn dropping_every_subscriber_stops_an_upstream_that_waits_for_input() {
    let (stopped, guard) = drop_flag();
    let (sender, receiver) = futures::channel::mpsc::unbounded::<u64>();
    let flows = guarded(Flow::from_stream(receiver), guard)
        .broadcast(2, config(4, 2, Overflow::Block))
        .expect("a valid broadcast");
    let mut subscribers: Vec<_> = flows.into_iter().map(Flow::into_messages).collect();
    sender.unbounded_send(7).expect("the source is open");
    for subscriber in &mut subscribers {
        assert_eq!(subscriber.next().await, Some(data(Arc::new(7))));
    }
    // The upstream task now waits for input that never comes.
    assert!(!yield_until(100, || stopped.load(SeqCst)).await);
    drop(subscribers);
    assert!(yield_until(10_000, || stopped.load(SeqCst)).await);
    drop(sender);
}

// 5. Failures and configuration errors.

#[tokio::test]
async fn a_panic_upstream_fails_every_subscriber_after_the_items_before_it() {
    let flows = Flow::from_iter(0u64..100)
        .map(|x| {
            assert!(x != 42, "boom at {x}");
            x
        })
        .broadcast(3, config(8, 3, Overflow::Block))
        .expect("a valid broadcast");
    let outputs = futures::future::join_all(flows.into_iter().map(|f| read_slowly(f, fast))).await;
    for mut output in outputs {
        match output.pop() {
            Some(Message::Control(Control::Failed(error))) => {
                let panicked = matches!(
                    &*error,
                    Error::Panicked { message } if message.contains("boom at 42")
                );
                assert!(panicked, "{error:?}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(data_of(&output), (0..42).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn fail_ends_every_subscriber_with_an_overflow_error() {
    let input = interleaved(1_000, 5);
    let flows = hesitant(input.clone(), 0)
        .broadcast(2, config(16, 4, Overflow::Fail))
        .expect("a valid broadcast");
    let mut flows = flows.into_iter();
    let (reading, stalled) = (flows.next().unwrap(), flows.next().unwrap());
    let mut stalled = stalled.into_messages();
    assert!(futures::poll!(stalled.next()).is_pending());
    let output = read_slowly(reading, fast).await;
    assert_eq!(
        output.last(),
        Some(&support::failed(Error::Overflow { capacity: 16 }))
    );
    assert_eq!(output[..output.len() - 1], input[..output.len() - 1]);
    let output = read_slowly(stalled, fast).await;
    assert_eq!(
        output.last(),
        Some(&support::failed(Error::Overflow { capacity: 16 }))
    );
}

#[test]
fn zero_subscribers_or_capacity_is_a_config_error() {
    let err = Flow::from_iter(0..3u64)
        .broadcast(0, StageConfig::default())
        .expect_err("zero subscribers");
    assert_eq!(err.parameter(), "broadcast subscribers");
    assert_eq!(
        err.to_string(),
        "invalid broadcast subscribers: must be greater than zero"
    );
    let err = StageConfig::with_capacity(0).expect_err("zero capacity");
    assert_eq!(err.parameter(), "stage capacity");
    // Both reach an application as the crate's error, with `?`.
    fn build(subscribers: usize, capacity: usize) -> Result<usize, Error> {
        let config = StageConfig::with_capacity(capacity)?;
        Ok(Flow::from_iter(0..3u64)
            .broadcast(subscribers, config)?
            .len())
    }
    assert!(matches!(build(0, 8), Err(Error::Config(_))));
    assert!(matches!(build(2, 0), Err(Error::Config(_))));
    assert_eq!(build(2, 8).expect("a valid broadcast"), 2);
}

#[test]
fn broadcast_is_send_sync_and_unpin() {
    fn assert_traits<T: Send + Sync + Unpin + std::fmt::Debug>() {}
    assert_traits::<Broadcast<u64>>();
    assert_traits::<Broadcast<String>>();
    assert_traits::<Flow<Broadcast<Vec<u8>>>>();
}
