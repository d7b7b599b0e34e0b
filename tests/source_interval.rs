//! The interval source under paused time: the first tick at once, then one per period, and a
//! slow consumer delays the ticks instead of getting a burst.

use std::time::Duration;

use futures::{poll, StreamExt};
use rheoflow::{source, Message, Timestamp};
use tokio::time::Instant;

fn millis(tick: Option<Message<Timestamp>>) -> i64 {
    match tick {
        Some(Message::Data(at)) => at.millis(),
        other => panic!("expected a tick, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn ticks_at_once_then_every_period() {
    let mut ticks = source::interval(Duration::from_millis(100))
        .expect("a valid period")
        .into_messages();
    let start = Instant::now();

    let first = millis(ticks.next().await);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the first tick fires at once"
    );
    for n in 1..=4 {
        assert_eq!(millis(ticks.next().await) - first, 100 * n);
    }
    assert_eq!(start.elapsed(), Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn a_late_consumer_delays_the_following_ticks() {
    let mut ticks = source::interval(Duration::from_millis(100))
        .expect("a valid period")
        .into_messages();
    let first = millis(ticks.next().await);

    assert!(poll!(ticks.next()).is_pending());
    tokio::time::advance(Duration::from_millis(350)).await;
    assert_eq!(millis(ticks.next().await) - first, 350);
    // Not a burst at 400 to catch up: the next tick is a full period later.
    assert!(poll!(ticks.next()).is_pending());
    assert_eq!(millis(ticks.next().await) - first, 450);
}

#[tokio::test(start_paused = true)]
async fn the_flow_composes_with_operators() {
    let flow = source::interval(Duration::from_secs(1)).expect("a valid period");
    let ticks: Vec<_> = flow
        .map(|at| at.millis())
        .into_stream()
        .take(3)
        .collect()
        .await;
    assert_eq!(ticks[2] - ticks[0], 2_000);
}

#[test]
fn zero_period_is_a_config_error() {
    let err = source::interval(Duration::ZERO).expect_err("zero period");
    assert_eq!(err.parameter(), "interval period");
}

#[test]
fn the_interval_source_is_send_sync_and_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<source::IntervalSource>();
}
