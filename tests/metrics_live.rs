//! Metrics are readable from another task while the flow runs (DESIGN.md §8): snapshots taken
//! concurrently see the counts grow, never go back, and end at the exact totals.

use std::time::Duration;

use rheoflow::aggregate::Count;
use rheoflow::channel::StageConfig;
use rheoflow::metrics::{Metrics, MetricsSnapshot};
use rheoflow::{sink, source, Error, Flow};

fn counts(snapshot: &MetricsSnapshot) -> [u64; 4] {
    let stage = snapshot.operator("boundary").expect("registered");
    let running = snapshot.operator("counts").expect("registered");
    [
        stage.items_in(),
        stage.items_out(),
        running.items_in(),
        running.items_out(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_from_another_task_see_the_flow_progress() -> Result<(), Error> {
    let n = 200_000u64;
    let flow = Flow::from_iter(0..n)
        .stage(StageConfig::with_capacity(1_024)?)
        .name("boundary")
        .key_by(|x| x % 100)
        .aggregate(Count)
        .name("counts");
    let metrics = flow.metrics();
    let task = flow.spawn(sink::Collect::new());

    let reader = {
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = [0; 4];
            loop {
                let snapshot = metrics.snapshot();
                let now = counts(&snapshot);
                for (now, last) in now.iter().zip(last) {
                    assert!(*now >= last, "counts never go back: {now} < {last}");
                }
                last = now;
                seen.push(now);
                if now[3] == n {
                    return seen;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
    };
    let results = task.await?.into_inner();
    assert_eq!(results.len() as u64, n);
    let seen = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the reader sees the end")
        .expect("the reader did not panic");

    assert_eq!(counts(&metrics.snapshot()), [n; 4]);
    assert!(seen.iter().all(|c| c.iter().all(|x| *x <= n)));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_idle_flow_shows_exact_counts() -> Result<(), Error> {
    // A channel source that stays open: the operators wait for input with counts below the
    // publishing period, and publish them when they wait.
    let (sender, flow) = source::channel::<u64>(64)?;
    let flow = flow
        .stage(StageConfig::default())
        .name("boundary")
        .key_by(|x| x % 3)
        .aggregate(Count)
        .name("counts");
    let metrics: Metrics = flow.metrics();
    let task = flow.spawn(sink::Collect::new());
    for i in 0..10 {
        sender.send(i).await.expect("the flow runs");
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let snapshot = metrics.snapshot();
    assert_eq!(counts(&snapshot), [10; 4]);
    assert_eq!(
        snapshot
            .operator("channel-0")
            .expect("registered")
            .items_out(),
        10
    );
    let sink = snapshot.operator("send_to-3").expect("registered");
    assert_eq!(sink.items_in(), 10);

    drop(sender);
    assert_eq!(task.await?.into_inner().len(), 10);
    Ok(())
}
