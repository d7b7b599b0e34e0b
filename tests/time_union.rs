//! Multi-input watermarks: the minimum over non-idle inputs, never backwards, ended inputs free.

use std::time::Duration;

use futures::StreamExt;
use rheoflow::time::{WatermarkStrategy, WatermarkTracker};
use rheoflow::{Control, Flow, Message, Timestamp};

fn ms(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
}

fn watermarks<T>(messages: &[Message<T>]) -> Vec<Timestamp> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Control(Control::Watermark(w)) => Some(*w),
            _ => None,
        })
        .collect()
}

#[test]
fn tracker_takes_the_minimum_of_active_inputs_and_never_regresses() {
    let mut tracker = WatermarkTracker::new(3);
    assert_eq!(tracker.update(0, ms(10)), None);
    assert_eq!(tracker.update(1, ms(20)), None);
    assert_eq!(tracker.update(2, ms(5)), Some(ms(5)));
    assert_eq!(tracker.update(2, ms(30)), Some(ms(10)));
    // An input's own watermark never goes back either.
    assert_eq!(tracker.update(0, ms(1)), None);
    assert_eq!(tracker.current(), ms(10));
    assert_eq!(tracker.set_idle(0), Some(ms(20)));
    // Back from idle below the combined watermark: the combined one stays.
    assert_eq!(tracker.update(0, ms(12)), None);
    assert_eq!(tracker.current(), ms(20));
    assert_eq!(tracker.end(0), None);
    assert_eq!(tracker.end(1), Some(ms(30)));
}

#[tokio::test]
async fn union_emits_the_minimum_watermark_of_its_inputs() {
    let strategy = || WatermarkStrategy::monotonic();
    let ts = |t: &i64| ms(*t);
    let fast = Flow::from_iter([100, 200, 300]).watermarks(ts, strategy());
    let slow = Flow::from_iter([10, 20]).watermarks(ts, strategy());
    let messages = fast.union(slow).into_messages().collect::<Vec<_>>().await;
    let marks = watermarks(&messages);
    assert!(
        marks.windows(2).all(|w| w[0] < w[1]),
        "regressed: {marks:?}"
    );
    // Until the slow input ends, the merged watermark is the slow input's.
    let before_max: Vec<_> = marks.iter().filter(|w| **w < Timestamp::MAX).collect();
    assert!(before_max.iter().all(|w| **w <= ms(299)));
    assert_eq!(marks.last(), Some(&Timestamp::MAX));
    assert_eq!(messages.last(), Some(&Message::Control(Control::End)));
    assert_eq!(messages.iter().filter(|m| m.as_data().is_some()).count(), 5);
    assert_eq!(
        messages
            .iter()
            .filter(|m| **m == Message::Control(Control::End))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_input_does_not_stall_the_watermark() {
    let ts = |t: &i64| ms(*t);
    let (busy_tx, busy) = rheoflow::source::channel(16).unwrap();
    let (_idle_tx, idle) = rheoflow::source::channel::<i64>(16).unwrap();
    let idleness = WatermarkStrategy::monotonic().with_idleness(Duration::from_secs(1));
    let merged = busy
        .watermarks(ts, WatermarkStrategy::monotonic())
        .union(idle.watermarks(ts, idleness))
        .into_messages();
    tokio::pin!(merged);
    busy_tx.send(1_000).await.unwrap();
    assert_eq!(merged.next().await, Some(Message::Data(1_000)));
    // The idle input has sent nothing: no watermark gets through yet.
    let stalled = tokio::time::timeout(Duration::from_millis(500), merged.next()).await;
    assert!(stalled.is_err(), "{stalled:?}");
    // After the idleness timeout the idle input stops holding the watermark back.
    let next = tokio::time::timeout(Duration::from_secs(2), merged.next())
        .await
        .unwrap();
    assert_eq!(next, Some(Message::Control(Control::Watermark(ms(999)))));
}
