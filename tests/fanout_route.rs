//! Route and split (`Flow::route`, `Flow::split`): each data item goes to exactly one output,
//! every control message to all of them.
//!
//! These tests pin down the contract (DESIGN.md §5):
//! - each output's messages are exactly the input with the data items routed elsewhere left out:
//!   per-output order is the input order, and every control message is in its place;
//! - under `Overflow::Block` the slowest output sets the pace, and the items routed to an output
//!   but not yet taken by it never exceed `capacity + batch size`;
//! - a dropped output holds nobody back; dropping every output stops the upstream task;
//! - zero outputs or a zero capacity is a typed error; a bad index or a panic in the routing
//!   function fails every output after the items before it.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use rheoflow::channel::StageConfig;
use rheoflow::error::RecordError;
use rheoflow::operators::{Route, RouteError};
use rheoflow::{Control, Error, Flow, Message};

use support::data;
use support::fanout::{drop_flag, fast, hesitant, interleaved, slow, yield_until, Input};

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

fn config(capacity: usize, batch_size: usize) -> StageConfig {
    StageConfig::with_capacity(capacity)
        .and_then(|config| config.batch_size(batch_size))
        .expect("a valid stage configuration")
}

/// What output `output` must get: the input with the data items routed elsewhere left out.
fn expected(input: &[Message<u64>], route: impl Fn(u64) -> usize, output: usize) -> Input {
    input
        .iter()
        .filter(|message| match message {
            Message::Data(x) => route(*x) == output,
            Message::Control(_) => true,
        })
        .cloned()
        .collect()
}

/// A routing function that scatters items unevenly: a multiplicative hash.
fn scatter(outputs: usize) -> impl Fn(u64) -> usize + Clone + Send + 'static {
    move |x| ((x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % outputs as u64) as usize
}

/// Reads `stream` to its end, yielding to the runtime `pause(i)` times after the `i`-th message.
async fn read_slowly<St>(stream: St, pause: impl Fn(usize) -> usize) -> Input
where
    St: Stream<Item = Message<u64>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while let Some(message) = stream.next().await {
        let pauses = pause(out.len());
        out.push(message);
        for _ in 0..pauses {
            tokio::task::yield_now().await;
        }
    }
    out
}

// 1. Each item to exactly one output, in order; control messages to all.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_item_reaches_exactly_one_output_in_order() {
    for &(capacity, batch) in SHAPES {
        for outputs in [1, 2, 3, 5] {
            for every in [0, 1, 7] {
                for hesitate in [0, 5] {
                    let input = interleaved(600, every);
                    let route = scatter(outputs);
                    let by = route.clone();
                    let flows = hesitant(input.clone(), hesitate)
                        .route(outputs, config(capacity, batch), move |x| by(*x))
                        .expect("a valid route");
                    assert_eq!(flows.len(), outputs);
                    let readers: Vec<_> = flows
                        .into_iter()
                        .enumerate()
                        .map(|(i, flow)| {
                            let pause = if i == 0 { slow } else { fast };
                            tokio::spawn(read_slowly(flow, pause))
                        })
                        .collect();
                    let mut seen = Vec::new();
                    for (i, reader) in readers.into_iter().enumerate() {
                        let output = reader.await.expect("the reader ends");
                        assert_eq!(
                            output,
                            expected(&input, &route, i),
                            "output {i} of {outputs}, capacity {capacity}, batch size {batch}, \
                             a control every {every} items, source pending every {hesitate}"
                        );
                        seen.extend(output.iter().filter_map(|m| m.as_data().copied()));
                    }
                    // Exactly once: every item, none twice.
                    seen.sort_unstable();
                    assert_eq!(seen, (0..600).collect::<Vec<_>>());
                }
            }
        }
    }
}

#[tokio::test]
async fn outputs_read_in_one_task_get_their_items() {
    for &(capacity, batch) in SHAPES {
        let input = interleaved(2_000, 3);
        let route = scatter(3);
        let by = route.clone();
        let flows = hesitant(input.clone(), 4)
            .route(3, config(capacity, batch), move |x| by(*x))
            .expect("a valid route");
        let mut flows = flows.into_iter();
        let (a, b, c) = (
            flows.next().unwrap(),
            flows.next().unwrap(),
            flows.next().unwrap(),
        );
        let outputs = tokio::join!(
            read_slowly(a, slow),
            read_slowly(b, fast),
            read_slowly(c, fast)
        );
        for (i, output) in [outputs.0, outputs.1, outputs.2].into_iter().enumerate() {
            assert_eq!(
                output,
                expected(&input, &route, i),
                "output {i}, capacity {capacity}, batch size {batch}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_separates_matching_items_and_copies_every_control() {
    for &(capacity, batch) in SHAPES {
        let input = interleaved(1_000, 4);
        let (matching, rest) =
            hesitant(input.clone(), 3).split(config(capacity, batch), |x| x % 3 == 0);
        let matching = tokio::spawn(read_slowly(matching, slow));
        let rest = read_slowly(rest, fast).await;
        let matching = matching.await.expect("the reader ends");
        let route = |x: u64| usize::from(!x.is_multiple_of(3));
        assert_eq!(matching, expected(&input, route, 0), "capacity {capacity}");
        assert_eq!(rest, expected(&input, route, 1), "capacity {capacity}");
    }
}

#[tokio::test]
async fn an_output_that_gets_no_data_still_sees_every_control_message() {
    let input = interleaved(300, 2);
    let flows = hesitant(input.clone(), 0)
        .route(2, config(4, 2), |_| 0)
        .expect("a valid route");
    let outputs = futures::future::join_all(flows.into_iter().map(|f| read_slowly(f, fast))).await;
    assert_eq!(outputs[0], input);
    assert_eq!(outputs[1], expected(&input, |_| 0, 1));
    assert!(outputs[1].iter().all(Message::is_control));
}

// 2. Backpressure.

/// Items routed alternately to a fast output (on its own task) and a slow one: the items routed to
/// the slow one but not yet taken by it stay within `capacity + batch` at every step.
async fn in_flight_to_the_slow_output(capacity: usize, batch: usize) -> usize {
    let n = 3_000u64;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let to_slow = |x: &u64| x % 2 == 1;
    let flows = Flow::from_iter(0..n)
        .inspect(move |x| {
            if to_slow(x) {
                counter.fetch_add(1, SeqCst);
            }
        })
        .route(2, config(capacity, batch), move |x| usize::from(to_slow(x)))
        .expect("a valid route");
    let mut flows = flows.into_iter();
    let (fast_one, slow_one) = (flows.next().unwrap(), flows.next().unwrap());
    let fast_reader = tokio::spawn(read_slowly(fast_one, fast));
    let mut slow_one = slow_one.into_messages();
    let mut consumed = 0usize;
    let mut peak = 0;
    let mut check = |consumed: usize| {
        let in_flight = pulled.load(SeqCst) - consumed;
        assert!(
            in_flight <= capacity + batch,
            "{in_flight} items in flight to the slow output after {consumed} taken, over \
             capacity {capacity} + batch size {batch}"
        );
        peak = peak.max(in_flight);
    };
    while let Some(message) = slow_one.next().await {
        if let Message::Data(x) = message {
            assert_eq!(x, 2 * consumed as u64 + 1);
            consumed += 1;
        }
        check(consumed);
        for _ in 0..slow(consumed) {
            tokio::task::yield_now().await;
            check(consumed);
        }
    }
    assert_eq!(consumed as u64, n / 2);
    let fast_output = fast_reader.await.expect("the fast reader ends");
    assert_eq!(fast_output.len() as u64, n / 2 + 1);
    peak
}

#[tokio::test]
async fn block_bounds_items_in_flight_to_each_output() {
    for &(capacity, batch) in SHAPES {
        let peak = in_flight_to_the_slow_output(capacity, batch).await;
        assert!(
            peak >= capacity.min(1_500),
            "capacity {capacity}, batch size {batch}: only {peak} items ever in flight"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_bounds_items_in_flight_in_parallel() {
    for &(capacity, batch) in SHAPES {
        in_flight_to_the_slow_output(capacity, batch).await;
    }
}

// 3. Dropped outputs.

#[tokio::test]
async fn a_dropped_output_does_not_block_the_others() {
    for &(capacity, batch) in SHAPES {
        let input = interleaved(3_000, 11);
        let route = scatter(3);
        let by = route.clone();
        let flows = hesitant(input.clone(), 7)
            .route(3, config(capacity, batch), move |x| by(*x))
            .expect("a valid route");
        let mut flows = flows.into_iter();
        let mut leaver = flows.next().unwrap().into_messages();
        let (b, c) = (flows.next().unwrap(), flows.next().unwrap());
        let leave = async move {
            for _ in 0..3 {
                leaver.next().await;
            }
        };
        let ((), b, c) = tokio::join!(leave, read_slowly(b, slow), read_slowly(c, fast));
        assert_eq!(b, expected(&input, &route, 1), "capacity {capacity}");
        assert_eq!(c, expected(&input, &route, 2), "capacity {capacity}");
    }
}

#[tokio::test]
async fn dropping_every_output_stops_the_upstream_task() {
    for &(capacity, batch) in SHAPES {
        // Never started.
        let (stopped, guard) = drop_flag();
        let (a, b) = Flow::from_iter(0u64..)
            .map(move |x| {
                let _owned = &guard;
                x
            })
            .split(config(capacity, batch), |x| x % 2 == 0);
        drop((a, b));
        assert!(stopped.load(SeqCst));

        // Running, from an endless source.
        let (stopped, guard) = drop_flag();
        let (a, b) = Flow::from_iter(0u64..)
            .map(move |x| {
                let _owned = &guard;
                x
            })
            .split(config(capacity, batch), |x| x % 2 == 0);
        let (mut a, mut b) = (a.into_messages(), b.into_messages());
        assert_eq!(a.next().await, Some(data(0)));
        assert_eq!(b.next().await, Some(data(1)));
        drop(a);
        assert!(!yield_until(100, || stopped.load(SeqCst)).await);
        drop(b);
        assert!(
            yield_until(10_000, || stopped.load(SeqCst)).await,
            "capacity {capacity}, batch size {batch}: the upstream task still runs"
        );
    }
}

/// Items routed to a dropped output are discarded, and an endless source whose items all go there
/// does not keep the upstream task running without a break: the test task, on the same thread,
/// still gets its turns.
#[tokio::test]
async fn items_for_a_dropped_output_are_discarded_without_starving_the_runtime() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let (stopped, guard) = drop_flag();
    let flows = Flow::from_iter(0u64..)
        .map(move |x| {
            let _owned = &guard;
            counter.fetch_add(1, SeqCst);
            x
        })
        .route(2, config(4, 2), |_| 0)
        .expect("a valid route");
    let mut flows = flows.into_iter();
    let (dropped, mut waiting) = (flows.next().unwrap(), flows.next().unwrap().into_messages());
    drop(dropped);
    assert!(futures::poll!(waiting.next()).is_pending());
    for _ in 0..20 {
        let before = pulled.load(SeqCst);
        tokio::task::yield_now().await;
        assert!(
            futures::poll!(waiting.next()).is_pending(),
            "no item is routed here"
        );
        assert!(pulled.load(SeqCst) >= before);
    }
    assert!(pulled.load(SeqCst) > 100, "the source is read meanwhile");
    drop(waiting);
    assert!(yield_until(10_000, || stopped.load(SeqCst)).await);
}

// 4. Failures and configuration errors.

#[tokio::test]
async fn an_index_out_of_range_fails_every_output_after_the_items_before_it() {
    let flows = Flow::from_iter(0u64..100)
        .route(2, config(8, 3), |x| {
            if *x == 30 {
                2
            } else {
                (*x % 2) as usize
            }
        })
        .expect("a valid route");
    let outputs = futures::future::join_all(flows.into_iter().map(|f| read_slowly(f, fast))).await;
    for (i, mut output) in outputs.into_iter().enumerate() {
        match output.pop() {
            Some(Message::Control(Control::Failed(error))) => match &*error {
                Error::Record(record) => {
                    assert_eq!(record.index(), 30);
                    assert!(matches!(record.cause(), RecordError::Failed(_)));
                    assert_eq!(
                        error.to_string(),
                        "record #30 failed: route chose output 2 of 2"
                    );
                }
                other => panic!("expected a record error, got {other:?}"),
            },
            other => panic!("expected a failure, got {other:?}"),
        }
        let before: Vec<u64> = (0..30).filter(|x| (x % 2) as usize == i).collect();
        assert_eq!(output, before.into_iter().map(data).collect::<Vec<_>>());
    }
    let err = RouteError::new(2, 2);
    assert_eq!((err.index(), err.outputs()), (2, 2));
}

#[tokio::test]
async fn a_panic_in_the_predicate_fails_both_outputs() {
    let (even, odd) = Flow::from_iter(0u64..100).split(config(8, 3), |x| {
        assert!(*x != 17, "boom at {x}");
        x % 2 == 0
    });
    let (even, odd) = tokio::join!(read_slowly(even, fast), read_slowly(odd, fast));
    for (parity, mut output) in [(0, even), (1, odd)] {
        match output.pop() {
            Some(Message::Control(Control::Failed(error))) => assert!(
                matches!(&*error, Error::Panicked { message } if message.contains("boom at 17")),
                "{error:?}"
            ),
            other => panic!("expected a failure, got {other:?}"),
        }
        let before: Vec<u64> = (0..17).filter(|x| x % 2 == parity).collect();
        assert_eq!(output, before.into_iter().map(data).collect::<Vec<_>>());
    }
}

#[test]
fn zero_outputs_or_capacity_is_a_config_error() {
    let err = Flow::from_iter(0..3u64)
        .route(0, StageConfig::default(), |_| 0)
        .expect_err("zero outputs");
    assert_eq!(err.parameter(), "route outputs");
    assert_eq!(
        err.to_string(),
        "invalid route outputs: must be greater than zero"
    );
    assert_eq!(
        StageConfig::with_capacity(0)
            .expect_err("zero capacity")
            .parameter(),
        "stage capacity"
    );
    fn build(outputs: usize, capacity: usize) -> Result<usize, Error> {
        let config = StageConfig::with_capacity(capacity)?;
        Ok(Flow::from_iter(0..3u64)
            .route(outputs, config, |_| 0)?
            .len())
    }
    assert!(matches!(build(0, 8), Err(Error::Config(_))));
    assert!(matches!(build(3, 0), Err(Error::Config(_))));
    assert_eq!(build(3, 8).expect("a valid route"), 3);
}

#[test]
fn route_is_send_sync_and_unpin() {
    fn assert_traits<T: Send + Sync + Unpin + std::fmt::Debug>() {}
    assert_traits::<Route<u64>>();
    assert_traits::<Route<String>>();
    assert_traits::<Flow<Route<Vec<u8>>>>();
}
