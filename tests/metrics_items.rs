//! Items in and out per operator (DESIGN.md §8): the counts in a snapshot equal the numbers of
//! items that really went in and out, for sources, stages, parallel flows, windows, keyed
//! operators, fallible operators and sinks, above and below the publishing period of 256 items.

use std::time::Duration;

use rheoflow::aggregate::{Count, Sum};
use rheoflow::channel::{Overflow, StageConfig};
use rheoflow::keyed::{KeyedContext, KeyedProcessFunction};
use rheoflow::metrics::{DropReason, MetricsSnapshot, OperatorSnapshot};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::Tumbling;
use rheoflow::{sink, source, Error, ErrorPolicy, Flow, Timestamp};

fn op<'a>(snapshot: &'a MetricsSnapshot, name: &str) -> &'a OperatorSnapshot {
    snapshot
        .operator(name)
        .unwrap_or_else(|| panic!("{name} is registered in {:?}", snapshot.operators()))
}

#[tokio::test]
async fn a_window_pipeline_counts_items_in_and_results_out() -> Result<(), Error> {
    // 10 000 events 1 ms apart over 10 keys, and after every 1000th a late one at time 0.
    let mut events: Vec<(u64, i64)> = Vec::new();
    for i in 0..10_000i64 {
        events.push(((i % 10) as u64, i));
        if i % 1_000 == 999 {
            events.push((0, 0));
        }
    }
    let late = 10;
    let ts = |e: &(u64, i64)| Timestamp::from_millis(e.1);
    let flow = Flow::from_iter(events.clone())
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|e| e.0)
        .window(Tumbling::of(Duration::from_millis(100)), ts)
        .aggregate(Count)
        .name("counts");
    let metrics = flow.metrics();
    let results = flow.collect::<Vec<_>>().await?;

    // 100 windows, each with every key.
    assert_eq!(results.len(), 1_000);
    let snapshot = metrics.snapshot();
    let window = op(&snapshot, "counts");
    assert_eq!(window.items_in(), events.len() as u64);
    assert_eq!(window.items_out(), results.len() as u64);
    assert_eq!(window.dropped(DropReason::Late), late);
    assert_eq!(window.queue_depth(), 0);
    Ok(())
}

#[tokio::test]
async fn counts_below_the_publishing_period_are_exact_at_the_end() -> Result<(), Error> {
    let ts = |x: &i64| Timestamp::from_millis(*x);
    let flow = Flow::from_iter(0..7i64)
        .key_by(|x| x % 2)
        .window(Tumbling::of(Duration::from_millis(4)), ts)
        .aggregate(Count)
        .name("tiny");
    let metrics = flow.metrics();
    let results = flow.collect::<Vec<_>>().await?;
    let snapshot = metrics.snapshot();
    assert_eq!(op(&snapshot, "tiny").items_in(), 7);
    assert_eq!(op(&snapshot, "tiny").items_out(), results.len() as u64);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_counts_every_item_across_it() -> Result<(), Error> {
    let flow = Flow::from_iter(0..10_000u64)
        .stage(StageConfig::with_capacity(64)?.batch_size(16)?)
        .name("hand-off");
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?.len(), 10_000);

    let snapshot = metrics.snapshot();
    let stage = op(&snapshot, "hand-off");
    assert_eq!((stage.items_in(), stage.items_out()), (10_000, 10_000));
    assert_eq!(stage.queue_depth(), 0);
    assert_eq!(stage.total_dropped(), 0);
    // Every item was in a batch that was queued once.
    assert_eq!(stage.latency().count(), 10_000);
    assert!(stage.latency_p50().is_some());
    Ok(())
}

/// A dropping stage with a slow consumer: what went in either came out or was dropped.
#[tokio::test(start_paused = true)]
async fn a_dropping_stage_accounts_for_every_item() -> Result<(), Error> {
    for overflow in [Overflow::DropOldest, Overflow::DropNewest] {
        let flow = Flow::from_iter(0..2_000u64)
            .stage(
                StageConfig::with_capacity(32)?
                    .batch_size(8)?
                    .overflow(overflow),
            )
            .name("lossy")
            // A slow consumer: the producer overflows while it sleeps.
            .map_async(1, |x| async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                x
            });
        let metrics = flow.metrics();
        let out = flow.collect::<Vec<_>>().await?;

        let snapshot = metrics.snapshot();
        let stage = op(&snapshot, "lossy");
        assert_eq!(stage.items_in(), 2_000, "{overflow:?}");
        assert_eq!(stage.items_out(), out.len() as u64, "{overflow:?}");
        assert!(stage.total_dropped() > 0, "{overflow:?}");
        assert_eq!(
            stage.items_in(),
            stage.items_out() + stage.total_dropped(),
            "{overflow:?}"
        );
        assert_eq!(stage.queue_depth(), 0, "{overflow:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_flow_counts_items_routed_and_merged() -> Result<(), Error> {
    let n = 5_000u64;
    let flow = Flow::from_iter(0..n)
        .key_by(|x| x % 13)
        .parallel(
            4,
            StageConfig::with_capacity(128)?.batch_size(32)?,
            |keyed| keyed.aggregate(Count),
        )?
        .name("par");
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?.len(), n as usize);

    let snapshot = metrics.snapshot();
    let parallel = op(&snapshot, "par");
    assert_eq!((parallel.items_in(), parallel.items_out()), (n, n));
    assert_eq!(parallel.queue_depth(), 0);
    // Each partition's running aggregate counts its own share.
    let aggregates: Vec<_> = snapshot
        .operators()
        .iter()
        .filter(|op| op.name().starts_with("aggregate"))
        .collect();
    assert_eq!(aggregates.len(), 4);
    assert_eq!(aggregates.iter().map(|op| op.items_in()).sum::<u64>(), n);
    assert_eq!(aggregates.iter().map(|op| op.items_out()).sum::<u64>(), n);
    Ok(())
}

#[tokio::test]
async fn a_sink_counts_the_items_written_per_batch() -> Result<(), Error> {
    let flow = Flow::from_iter(0..2_500u32);
    let metrics = flow.metrics();
    let written = flow.send_to(sink::Collect::new()).await?;
    assert_eq!(written.into_inner().len(), 2_500);

    let snapshot = metrics.snapshot();
    let sink = op(&snapshot, "send_to-0");
    assert_eq!((sink.items_in(), sink.items_out()), (2_500, 0));
    // Batches of 1024, 1024 and 452: one latency sample per write.
    assert_eq!(sink.latency().count(), 3);
    Ok(())
}

#[tokio::test]
async fn a_spawned_flow_shows_its_sink_at_once() -> Result<(), Error> {
    let flow = Flow::from_iter(0..10u32).map(|x| x + 1);
    let metrics = flow.metrics();
    let task = flow.spawn(sink::Collect::new());
    assert!(metrics.snapshot().operator("send_to-1").is_some());
    assert_eq!(task.await?.into_inner().len(), 10);
    assert_eq!(op(&metrics.snapshot(), "send_to-1").items_in(), 10);
    Ok(())
}

#[tokio::test]
async fn a_file_source_counts_its_records_out() -> Result<(), Error> {
    let path =
        std::env::temp_dir().join(format!("rheoflow-metrics-items-{}.csv", std::process::id()));
    let mut text = String::from("id,qty\n");
    for i in 0..1_000 {
        if i % 100 == 7 {
            text.push_str("bad,row\n");
        } else {
            text.push_str(&format!("{i},{}\n", i % 5));
        }
    }
    tokio::fs::write(&path, text).await?;

    #[derive(serde::Deserialize)]
    struct Row {
        #[allow(dead_code)]
        id: u32,
        qty: u32,
    }
    let flow = source::csv_file::<Row>(&path)
        .await?
        .on_error(ErrorPolicy::skip())
        .into_flow();
    let metrics = flow.metrics();
    let rows = flow.map(|row| row.qty).collect::<Vec<_>>().await;
    tokio::fs::remove_file(&path).await?;
    let rows = rows?;

    assert_eq!(rows.len(), 990);
    let snapshot = metrics.snapshot();
    let csv = op(&snapshot, "csv-0");
    assert_eq!(csv.items_out(), 990);
    assert_eq!(csv.dropped(DropReason::Skipped), 10);
    Ok(())
}

#[tokio::test]
async fn a_json_lines_source_counts_its_records_out() -> Result<(), Error> {
    let input: Vec<u8> = (0..300)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let flow = source::json_lines::<u32, _>(&input[..]).into_flow();
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?.len(), 300);
    assert_eq!(op(&metrics.snapshot(), "json_lines-0").items_out(), 300);
    Ok(())
}

#[tokio::test]
async fn a_channel_source_counts_its_items_out() -> Result<(), Error> {
    let (sender, flow) = source::channel::<u32>(16)?;
    let metrics = flow.metrics();
    let producer = tokio::spawn(async move {
        for i in 0..300 {
            sender.send(i).await.expect("the flow is running");
        }
    });
    assert_eq!(flow.collect::<Vec<_>>().await?.len(), 300);
    producer.await.expect("the producer did not panic");
    assert_eq!(op(&metrics.snapshot(), "channel-0").items_out(), 300);
    Ok(())
}

#[tokio::test]
async fn fallible_operators_count_items_tried_and_passed() -> Result<(), Error> {
    let flow = Flow::from_iter(0..1_000u32)
        .try_map(
            |x: &u32| {
                if x.is_multiple_of(7) {
                    Err(std::fmt::Error)
                } else {
                    Ok(x * 2)
                }
            },
            ErrorPolicy::skip(),
        )
        .name("double")
        .try_filter_map(
            |x: &u32| Ok::<_, std::fmt::Error>(x.is_multiple_of(3).then_some(*x)),
            ErrorPolicy::skip(),
        )
        .name("thirds");
    let metrics = flow.metrics();
    let out = flow.collect::<Vec<_>>().await?;

    let failed = (0..1_000).filter(|x| x % 7 == 0).count() as u64;
    let snapshot = metrics.snapshot();
    let double = op(&snapshot, "double");
    assert_eq!(
        (double.items_in(), double.items_out()),
        (1_000, 1_000 - failed)
    );
    assert_eq!(double.dropped(DropReason::Skipped), failed);
    let thirds = op(&snapshot, "thirds");
    assert_eq!(thirds.items_in(), 1_000 - failed);
    assert_eq!(thirds.items_out(), out.len() as u64);
    Ok(())
}

#[tokio::test]
async fn running_aggregates_count_one_result_per_item() -> Result<(), Error> {
    let flow = Flow::from_iter(0..1_000u64)
        .key_by(|x| x % 10)
        .aggregate(Sum::of(|x: &u64| *x))
        .name("sums");
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?.len(), 1_000);
    let snapshot = metrics.snapshot();
    let sums = op(&snapshot, "sums");
    assert_eq!((sums.items_in(), sums.items_out()), (1_000, 1_000));
    Ok(())
}

/// Emits every item twice.
struct Twice;

impl KeyedProcessFunction<u64, u64> for Twice {
    type State = ();
    type Output = u64;

    fn process(&mut self, item: u64, ctx: &mut KeyedContext<'_, u64, (), u64>) {
        ctx.emit(item);
        ctx.emit(item);
    }
}

#[tokio::test]
async fn process_functions_count_items_in_and_outputs_out() -> Result<(), Error> {
    let flow = Flow::from_iter(0..600u64)
        .key_by(|x| x % 3)
        .process(Twice)
        .name("twice");
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?.len(), 1_200);
    let snapshot = metrics.snapshot();
    let twice = op(&snapshot, "twice");
    assert_eq!((twice.items_in(), twice.items_out()), (600, 1_200));
    Ok(())
}

#[tokio::test]
async fn stateless_operators_are_not_counted() -> Result<(), Error> {
    let flow = Flow::from_iter(0..100u64).map(|x| x + 1).name("plus");
    let metrics = flow.metrics();
    flow.collect::<Vec<_>>().await?;
    let snapshot = metrics.snapshot();
    let plus = op(&snapshot, "plus");
    assert_eq!((plus.items_in(), plus.items_out()), (0, 0));
    assert!(plus.latency().is_empty());
    assert_eq!(plus.watermark(), None);
    Ok(())
}
