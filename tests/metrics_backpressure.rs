//! Queue depth, time blocked on backpressure and queue latency (DESIGN.md §8), under a paused
//! clock: a consumer that stops polling fills the queue, and the producer's wait shows as blocked
//! time, while it lasts and after.

use std::time::Duration;

use futures::StreamExt;
use rheoflow::channel::StageConfig;
use rheoflow::metrics::{Metrics, OperatorSnapshot};
use rheoflow::{Error, Flow, Message};

fn stage(metrics: &Metrics) -> OperatorSnapshot {
    metrics
        .snapshot()
        .operator("boundary")
        .expect("registered")
        .clone()
}

#[tokio::test(start_paused = true)]
async fn a_stalled_consumer_fills_the_queue_and_blocks_the_producer() -> Result<(), Error> {
    let flow = Flow::from_iter(0..1_000u64)
        .stage(StageConfig::with_capacity(64)?.batch_size(16)?)
        .name("boundary");
    let metrics = flow.metrics();
    let mut messages = flow.into_messages();
    let before = stage(&metrics);
    assert_eq!(before.queue_depth(), 0);
    assert_eq!(before.blocked(), Duration::ZERO);

    // The first poll starts the producer; then the consumer stops polling for a second.
    assert!(matches!(messages.next().await, Some(Message::Data(0))));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stalled = stage(&metrics);
    // Full: the capacity counts the batch the consumer holds.
    assert_eq!(stalled.queue_depth(), 64);
    assert_eq!(stalled.items_in(), 64);
    // The producer has waited the whole second, and still waits.
    assert_eq!(stalled.blocked(), Duration::from_secs(1));
    assert!((stalled.blocked_rate(&before) - 1.0).abs() < 1e-9);

    tokio::time::sleep(Duration::from_secs(2)).await;
    let longer = stage(&metrics);
    assert_eq!(longer.blocked(), Duration::from_secs(3));
    assert!((longer.blocked_rate(&stalled) - 1.0).abs() < 1e-9);

    // Draining ends the wait: the blocked time stops growing.
    let mut seen = 1;
    while let Some(message) = messages.next().await {
        seen += usize::from(matches!(message, Message::Data(_)));
    }
    assert_eq!(seen, 1_000);
    let drained = stage(&metrics);
    assert_eq!(drained.queue_depth(), 0);
    assert_eq!(drained.blocked(), Duration::from_secs(3));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = stage(&metrics);
    assert_eq!(idle.blocked(), Duration::from_secs(3));
    assert_eq!(idle.blocked_rate(&drained), 0.0);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_keeps_the_producer_blocked_most_of_the_time() -> Result<(), Error> {
    let flow = Flow::from_iter(0..400u64)
        .stage(StageConfig::with_capacity(32)?.batch_size(8)?)
        .name("boundary");
    let metrics = flow.metrics();
    let mut messages = flow.into_messages();
    let start = stage(&metrics);
    let mut peak_depth = 0;
    let mut consumed = 0u64;
    while let Some(message) = messages.next().await {
        if let Message::Data(_) = message {
            consumed += 1;
            // 10 ms per item: far slower than the producer.
            tokio::time::sleep(Duration::from_millis(10)).await;
            peak_depth = peak_depth.max(stage(&metrics).queue_depth());
        }
    }
    assert_eq!(consumed, 400);
    assert_eq!(peak_depth, 32);

    let end = stage(&metrics);
    // The producer is blocked except at the start and once the input is exhausted: at most the
    // last `capacity` items are consumed after it finished.
    let elapsed = Duration::from_millis(10 * 400);
    assert!(end.blocked() <= elapsed);
    assert!(
        end.blocked() >= elapsed - Duration::from_millis(10 * 40),
        "blocked {:?}",
        end.blocked()
    );
    let rate = end.blocked_rate(&start);
    assert!(rate > 0.85 && rate <= 1.0, "rate {rate}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn queue_latency_is_the_time_a_batch_waited_weighted_by_its_items() -> Result<(), Error> {
    // One batch of 4 items, taken after 250 ms.
    let flow = Flow::from_iter(0..4u64)
        .stage(StageConfig::with_capacity(16)?.batch_size(4)?)
        .name("boundary");
    let metrics = flow.metrics();
    let mut messages = flow.into_messages();
    // Start the producer without taking anything: a poll that finds the queue empty.
    let first = futures::poll!(messages.next());
    assert!(first.is_pending());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut items = 0;
    while let Some(message) = messages.next().await {
        items += usize::from(matches!(message, Message::Data(_)));
    }
    assert_eq!(items, 4);

    let latency = stage(&metrics).latency().clone();
    assert_eq!(latency.count(), 4);
    // 250 ms lies in the bucket 245 760..=262 143 µs.
    let p50 = latency.quantile(0.5).expect("recorded");
    assert!(p50 >= Duration::from_millis(250) && p50 <= Duration::from_micros(262_143));
    assert_eq!(latency.quantile(0.999), Some(p50));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_parallel_flow_reports_the_depth_of_its_partition_queues() -> Result<(), Error> {
    let flow = Flow::from_iter(0..2_000u64)
        .key_by(|x| x % 64)
        .parallel(2, StageConfig::with_capacity(16)?.batch_size(4)?, |keyed| {
            keyed.aggregate(rheoflow::aggregate::Count)
        })?
        .name("boundary");
    let metrics = flow.metrics();
    let mut messages = flow.into_messages();
    assert!(matches!(messages.next().await, Some(Message::Data(_))));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stalled = stage(&metrics);
    // The partitioner waits on a full input queue (16 items), whose partition waits on its full
    // output queue (16 more); the other partition's queues hold at most as much.
    let depth = stalled.queue_depth();
    assert!((2 * 16..=4 * 16).contains(&depth), "depth {depth}");
    // The partitioner and at least one partition have waited since the start.
    assert!(stalled.blocked() >= Duration::from_secs(2));

    while messages.next().await.is_some() {}
    let done = stage(&metrics);
    assert_eq!(done.queue_depth(), 0);
    assert_eq!((done.items_in(), done.items_out()), (2_000, 2_000));
    Ok(())
}
