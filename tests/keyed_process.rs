//! Keyed process functions: per-key state, event-time and processing-time timers, state TTL.

use std::time::Duration;

use futures::StreamExt;
use rheoflow::keyed::{KeyedContext, KeyedProcessFunction, TimeDomain, Timer};
use rheoflow::time::WatermarkStrategy;
use rheoflow::{Control, Flow, Message, Timestamp};

/// Counts items per key; on every item sets an event timer `delay` later, and emits
/// `(key, count, timer)` when a timer fires.
struct CountThenReport {
    delay: i64,
    domain: TimeDomain,
}

impl KeyedProcessFunction<char, (char, i64)> for CountThenReport {
    type State = u64;
    type Output = (char, u64, Timer);

    fn process(&mut self, item: (char, i64), ctx: &mut KeyedContext<'_, char, u64, Self::Output>) {
        *ctx.state() += 1;
        match self.domain {
            TimeDomain::EventTime => {
                ctx.set_event_timer(Timestamp::from_millis(item.1 + self.delay))
            }
            TimeDomain::ProcessingTime => {
                let at = ctx.processing_time().saturating_add_millis(self.delay);
                ctx.set_processing_timer(at)
            }
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyedContext<'_, char, u64, Self::Output>) {
        let key = *ctx.key();
        let count = *ctx.state();
        ctx.emit((key, count, timer));
    }
}

fn ts(e: &(char, i64)) -> Timestamp {
    Timestamp::from_millis(e.1)
}

#[tokio::test]
async fn event_timers_fire_in_time_order_before_the_watermark_passes_on() {
    let messages = Flow::from_iter([('a', 0), ('b', 3), ('a', 20)])
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|e| e.0)
        .process(CountThenReport {
            delay: 10,
            domain: TimeDomain::EventTime,
        })
        .into_messages()
        .collect::<Vec<_>>()
        .await;
    let fired: Vec<_> = messages
        .iter()
        .filter_map(|m| m.as_data())
        .map(|(k, n, t)| (*k, *n, t.timestamp.millis()))
        .collect();
    // The watermark 19 (after ('a', 20)) fires the timers at 10 and 13; the end fires 30.
    assert_eq!(fired, [('a', 2, 10), ('b', 1, 13), ('a', 2, 30)]);
    // Results of a watermark come before it.
    let position = |m: &Message<_>| messages.iter().position(|x| x == m).unwrap();
    let wm19 = Message::Control(Control::Watermark(Timestamp::from_millis(19)));
    assert!(position(&wm19) > 0);
    assert!(
        messages[..position(&wm19)]
            .iter()
            .filter(|m| m.as_data().is_some())
            .count()
            == 2
    );
}

#[tokio::test]
async fn setting_the_same_timer_twice_fires_it_once() {
    let fired = Flow::from_iter([('a', 0), ('a', 0), ('a', 0)])
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|e| e.0)
        .process(CountThenReport {
            delay: 5,
            domain: TimeDomain::EventTime,
        })
        .collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].1, 3);
}

/// Sets a timer per item and deletes the previous one: only the last timer fires.
struct Debounce;

impl KeyedProcessFunction<char, (char, i64)> for Debounce {
    type State = Option<Timestamp>;
    type Output = (char, i64);

    fn process(
        &mut self,
        item: (char, i64),
        ctx: &mut KeyedContext<'_, char, Self::State, Self::Output>,
    ) {
        if let Some(previous) = ctx.state().take() {
            ctx.delete_event_timer(previous);
        }
        let at = Timestamp::from_millis(item.1 + 100);
        ctx.set_event_timer(at);
        *ctx.state() = Some(at);
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut KeyedContext<'_, char, Self::State, Self::Output>,
    ) {
        let key = *ctx.key();
        ctx.clear_state();
        ctx.emit((key, timer.timestamp.millis()));
    }
}

#[tokio::test]
async fn deleted_timers_do_not_fire() {
    let fired = Flow::from_iter([('a', 0), ('a', 50), ('a', 90), ('b', 95), ('a', 500)])
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|e| e.0)
        .process(Debounce)
        .collect::<Vec<_>>()
        .await
        .unwrap();
    // ('a', 500) is handled with the watermark 94 that stood before it, so it deletes the timer
    // at 190 before the watermark it generates (499) could fire it.
    assert_eq!(fired, [('b', 195), ('a', 600)]);
}

#[tokio::test(start_paused = true)]
async fn processing_timers_fire_on_tokio_time() {
    let (tx, flow) = rheoflow::source::channel(16).unwrap();
    let out = flow
        .key_by(|e: &(char, i64)| e.0)
        .process(CountThenReport {
            delay: 1_000,
            domain: TimeDomain::ProcessingTime,
        })
        .into_stream();
    tokio::pin!(out);
    tx.send(('a', 0)).await.unwrap();
    tx.send(('a', 0)).await.unwrap();
    // Nothing fires before a second of processing time has passed.
    let early = tokio::time::timeout(Duration::from_millis(999), out.next()).await;
    assert!(early.is_err(), "fired early: {early:?}");
    let (key, count, timer) = out.next().await.unwrap();
    assert_eq!(
        (key, count, timer.domain),
        ('a', 2, TimeDomain::ProcessingTime)
    );
    drop(tx);
    // The second item's timer (same millisecond) was deduplicated.
    assert!(out.next().await.is_none());
}

/// Counts items per key and emits the running count.
struct RunningCount;

impl KeyedProcessFunction<char, char> for RunningCount {
    type State = u64;
    type Output = (char, u64);

    fn process(&mut self, item: char, ctx: &mut KeyedContext<'_, char, u64, (char, u64)>) {
        *ctx.state() += 1;
        let count = *ctx.state();
        ctx.emit((item, count));
    }
}

#[tokio::test(start_paused = true)]
async fn state_ttl_frees_idle_keys() {
    let (tx, flow) = rheoflow::source::channel(16).unwrap();
    let counts = flow
        .key_by(|c: &char| *c)
        .state_ttl(Duration::from_secs(10))
        .process(RunningCount)
        .collect::<Vec<_>>();
    let feed = async move {
        tx.send('a').await.unwrap();
        tx.send('b').await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        tx.send('b').await.unwrap();
        // 'a' has been idle for 25 s, 'b' for 20 s: both freed by now.
        tokio::time::sleep(Duration::from_secs(25)).await;
        tx.send('a').await.unwrap();
        tx.send('b').await.unwrap();
    };
    let (counts, ()) = tokio::join!(counts, feed);
    assert_eq!(
        counts.unwrap(),
        [('a', 1), ('b', 1), ('b', 2), ('a', 1), ('b', 1)]
    );
}

#[tokio::test(start_paused = true)]
async fn state_ttl_keeps_keys_in_use_and_frees_keys_idle_past_it() {
    let start = tokio::time::Instant::now();
    let (tx, flow) = rheoflow::source::channel(16).unwrap();
    let counts = flow
        .key_by(|c: &char| *c)
        .state_ttl(Duration::from_secs(10))
        .aggregate(rheoflow::aggregate::Count)
        .collect::<Vec<_>>();
    let feed = async move {
        // 'a' every 4 s for 40 s: never idle for the TTL. 'b' idle 9 s: kept. 'c' idle 25 s:
        // freed, and starts afresh.
        let mut sends: Vec<(u64, char)> = (0..=10).map(|i| (4 * i, 'a')).collect();
        sends.extend([(0, 'b'), (9, 'b'), (0, 'c'), (25, 'c')]);
        sends.sort_by_key(|&(at, c)| (at, c));
        for (at, c) in sends {
            tokio::time::sleep_until(start + Duration::from_secs(at)).await;
            tx.send(c).await.unwrap();
        }
    };
    let (counts, ()) = tokio::join!(counts, feed);
    let counts = counts.unwrap();
    let of = |key: char| -> Vec<u64> {
        counts
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|&(_, n)| n)
            .collect()
    };
    assert_eq!(of('a'), (1..=11).collect::<Vec<u64>>());
    assert_eq!(of('b'), [1, 2]);
    assert_eq!(of('c'), [1, 1]);
}
