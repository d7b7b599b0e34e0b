//! Watermark lag (DESIGN.md §8): processing time minus the last watermark an operator handled,
//! for windows, process functions and the consumer side of a stage.

use std::time::Duration;

use rheoflow::aggregate::Count;
use rheoflow::channel::StageConfig;
use rheoflow::keyed::{KeyedContext, KeyedProcessFunction};
use rheoflow::metrics::Metrics;
use rheoflow::time::{Clock, WatermarkStrategy};
use rheoflow::window::Tumbling;
use rheoflow::{sink, source, Error, Timestamp};

/// Passes items on.
struct Echo;

impl KeyedProcessFunction<u64, (u64, Timestamp)> for Echo {
    type State = ();
    type Output = u64;

    fn process(&mut self, item: (u64, Timestamp), ctx: &mut KeyedContext<'_, u64, (), u64>) {
        ctx.emit(item.0);
    }
}

fn lag(metrics: &Metrics, name: &str) -> Option<Duration> {
    metrics
        .snapshot()
        .operator(name)
        .expect("registered")
        .watermark_lag()
}

/// `lag` is about `expected`: the system time moves on between the test's reads of it.
fn assert_about(lag: Option<Duration>, expected: Duration) {
    let lag = lag.expect("a watermark was seen");
    assert!(
        lag >= expected && lag <= expected + Duration::from_secs(5),
        "lag {lag:?}, expected about {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn operators_report_how_far_their_watermark_lags() -> Result<(), Error> {
    let ts = |e: &(u64, Timestamp)| e.1;
    let (sender, flow) = source::channel::<(u64, Timestamp)>(16)?;
    let windows = flow
        .watermarks(ts, WatermarkStrategy::monotonic())
        .stage(StageConfig::default())
        .name("boundary")
        .key_by(|e| e.0)
        .window(Tumbling::of(Duration::from_secs(1)), ts)
        .aggregate(Count)
        .name("windows");
    let metrics = windows.metrics();
    let task = windows.spawn(sink::Collect::new());

    // Nothing yet: no lag to report.
    assert_eq!(lag(&metrics, "boundary"), None);
    assert_eq!(lag(&metrics, "windows"), None);

    // An event a minute old: the watermark is a minute (and a millisecond) behind.
    let now = Clock::new().now();
    sender
        .send((1, now - Duration::from_secs(60)))
        .await
        .expect("the flow runs");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_about(lag(&metrics, "boundary"), Duration::from_secs(60));
    assert_about(lag(&metrics, "windows"), Duration::from_secs(60));

    // A fresher one: the lag shrinks.
    sender
        .send((1, now - Duration::from_secs(10)))
        .await
        .expect("the flow runs");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_about(lag(&metrics, "boundary"), Duration::from_secs(10));
    assert_about(lag(&metrics, "windows"), Duration::from_secs(10));
    let watermark = metrics.snapshot().operator("windows").unwrap().watermark();
    assert_eq!(
        watermark,
        Some(now - Duration::from_secs(10) - Duration::from_millis(1))
    );

    // At the end the watermark jumps to the end of time: no lag.
    drop(sender);
    // Two windows, a count of one each.
    assert_eq!(task.await?.into_inner().len(), 2);
    assert_eq!(lag(&metrics, "boundary"), Some(Duration::ZERO));
    assert_eq!(lag(&metrics, "windows"), Some(Duration::ZERO));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn process_functions_report_their_watermark_lag() -> Result<(), Error> {
    let ts = |e: &(u64, Timestamp)| e.1;
    let (sender, flow) = source::channel::<(u64, Timestamp)>(16)?;
    let flow = flow
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|e| e.0)
        .process(Echo)
        .name("echo");
    let metrics = flow.metrics();
    let task = flow.spawn(sink::Collect::new());
    assert_eq!(lag(&metrics, "echo"), None);

    let now = Clock::new().now();
    sender
        .send((7, now - Duration::from_secs(30)))
        .await
        .expect("the flow runs");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_about(lag(&metrics, "echo"), Duration::from_secs(30));

    drop(sender);
    assert_eq!(task.await?.into_inner(), [7]);
    assert_eq!(lag(&metrics, "echo"), Some(Duration::ZERO));
    Ok(())
}
