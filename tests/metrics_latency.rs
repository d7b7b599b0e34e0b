//! Latency quantiles (DESIGN.md §8) against known samples: a sink whose writes take known times
//! under a paused clock.

use std::time::Duration;

use futures::StreamExt;
use rheoflow::error::SinkError;
use rheoflow::{Error, Flow, Sink};

/// A sink whose `write` of a batch of one item `ms` takes `ms` milliseconds.
struct Slow;

#[async_trait::async_trait]
impl Sink<u64> for Slow {
    async fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), SinkError> {
        for ms in batch.drain(..) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(())
    }
}

/// Runs `samples` (in milliseconds) through the slow sink, one batch each.
async fn write_times(samples: Vec<u64>) -> Result<rheoflow::metrics::OperatorSnapshot, Error> {
    // A source that has nothing more after each item, so that each item is a batch of its own.
    let source = futures::stream::iter(samples).then(|ms| async move {
        tokio::task::yield_now().await;
        ms
    });
    let flow = Flow::from_stream(source);
    let metrics = flow.metrics();
    flow.send_to(Slow).await?;
    Ok(metrics
        .snapshot()
        .operator("send_to-0")
        .expect("registered")
        .clone())
}

#[tokio::test(start_paused = true)]
async fn sink_write_quantiles_match_known_samples() -> Result<(), Error> {
    // 1000 writes: 1 ms .. 1000 ms, shuffled by a fixed permutation.
    let samples: Vec<u64> = (0..1_000u64).map(|i| (i * 389) % 1_000 + 1).collect();
    let sink = write_times(samples).await?;

    assert_eq!(sink.items_in(), 1_000);
    let latency = sink.latency();
    assert_eq!(latency.count(), 1_000);
    // The 500th shortest write took 500 ms; read back as the upper bound of its bucket,
    // 491 520..=524 287 µs.
    assert_eq!(sink.latency_p50(), Some(Duration::from_micros(524_287)));
    // The 990th and 999th: 990 ms and 999 ms, both in 983 040..=1 048 575 µs.
    assert_eq!(sink.latency_p99(), Some(Duration::from_micros(1_048_575)));
    assert_eq!(sink.latency_p999(), Some(Duration::from_micros(1_048_575)));
    // Every quantile is at most 12.5 % above the truth, never below it.
    for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999] {
        let truth = Duration::from_millis((q * 1_000.0f64).ceil() as u64);
        let read = latency.quantile(q).expect("recorded");
        assert!(
            read >= truth && read.as_secs_f64() <= truth.as_secs_f64() * 1.125,
            "q {q}: read {read:?}, truth {truth:?}"
        );
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_few_slow_writes_show_in_the_tail_only() -> Result<(), Error> {
    // 997 writes of 2 ms, 3 of 5 s.
    let mut samples = vec![2u64; 997];
    samples.extend([5_000; 3]);
    let sink = write_times(samples).await?;

    // 2 ms lies in 1 920..=2 047 µs; 5 s in 4 718 592..=5 242 879 µs.
    assert_eq!(sink.latency_p50(), Some(Duration::from_micros(2_047)));
    assert_eq!(sink.latency_p99(), Some(Duration::from_micros(2_047)));
    assert_eq!(sink.latency_p999(), Some(Duration::from_micros(5_242_879)));
    let buckets: Vec<_> = sink.latency().buckets().collect();
    assert_eq!(
        buckets,
        [
            (Duration::from_micros(2_047), 997),
            (Duration::from_micros(5_242_879), 3)
        ]
    );
    Ok(())
}

#[tokio::test]
async fn no_latency_before_the_first_write() {
    let flow = Flow::from_iter(Vec::<u64>::new());
    let metrics = flow.metrics();
    flow.send_to(Slow).await.expect("no failure");
    let snapshot = metrics.snapshot();
    let sink = snapshot.operator("send_to-0").expect("registered");
    assert_eq!(sink.latency_p50(), None);
    assert_eq!(sink.latency_p999(), None);
    assert!(sink.latency().is_empty());
}
