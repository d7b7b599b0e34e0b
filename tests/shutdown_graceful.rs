//! Graceful shutdown: stop the sources on a cancellation token, drain every channel, lose
//! nothing that was accepted, leave no task running.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rheoflow::aggregate::Count;
use rheoflow::channel::StageConfig;
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::Tumbling;
use rheoflow::{CancellationToken, Flow, Shutdown, Timestamp};

fn stage(capacity: usize, batch: usize) -> StageConfig {
    StageConfig::with_capacity(capacity)
        .and_then(|c| c.batch_size(batch))
        .unwrap()
}

/// Waits until `f` holds, yielding to the runtime (a guard of 10 s against a hang, never a
/// sleep).
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let wait = async {
        while !f() {
            tokio::task::yield_now().await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .is_err()
    {
        panic!("{what} never happened");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_accepted_is_lost_when_every_channel_is_full() {
    let baseline = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let token = CancellationToken::new();
    let (tx, source) = rheoflow::source::channel::<u64>(8).unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let received = Arc::new(Mutex::new(Vec::new()));

    // A sink that takes one item per permit: closed until we open it, so every channel fills.
    let consumer = {
        let (gate, received) = (Arc::clone(&gate), Arc::clone(&received));
        let flow = source
            .stop_on(token.clone(), Shutdown::Flush)
            .stage(stage(16, 4))
            .map(|x| x * 10)
            .stage(stage(16, 4))
            .map_async(1, move |x| {
                let gate = Arc::clone(&gate);
                async move {
                    gate.acquire().await.unwrap().forget();
                    x
                }
            });
        tokio::spawn(async move { flow.for_each(|x| received.lock().unwrap().push(x)).await })
    };

    // Producers send until the flow refuses; each remembers what was accepted.
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let mut producers = Vec::new();
    for p in 0..4u64 {
        let (tx, accepted, refused) = (tx.clone(), Arc::clone(&accepted), Arc::clone(&refused));
        producers.push(tokio::spawn(async move {
            for i in 0..1_000u64 {
                let item = p * 1_000_000 + i;
                match tx.send(item).await {
                    Ok(()) => accepted.lock().unwrap().push(item),
                    Err(err) => refused.lock().unwrap().push(err.into_inner()),
                }
            }
        }));
    }
    drop(tx);
    // Let everything fill up (the consumer takes nothing): the channel (8) and both stages
    // (16 + a batch each) hold items, and the producers wait.
    eventually("filling every channel", || {
        accepted.lock().unwrap().len() >= 40
    })
    .await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    token.cancel();
    gate.add_permits(1 << 20);
    for producer in producers {
        producer.await.unwrap();
    }
    consumer.await.unwrap().unwrap();

    let accepted: BTreeSet<u64> = accepted.lock().unwrap().iter().map(|x| x * 10).collect();
    let received_list = received.lock().unwrap().clone();
    let received: BTreeSet<u64> = received_list.iter().copied().collect();
    assert_eq!(received_list.len(), received.len(), "duplicates");
    assert_eq!(received, accepted, "lost or extra items");
    let refused = refused.lock().unwrap().len();
    assert_eq!(accepted.len() + refused, 4_000);
    assert!(refused > 0, "the shutdown came before any refusal");
    eventually("every task ending", || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            <= baseline
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_fires_open_windows_and_keep_state_does_not() {
    for (shutdown, expected) in [(Shutdown::Flush, 1), (Shutdown::KeepState, 0)] {
        let token = CancellationToken::new();
        let (tx, source) = rheoflow::source::channel::<i64>(8).unwrap();
        let ts = |t: &i64| Timestamp::from_millis(*t);
        let flow = source
            .stop_on(token.clone(), shutdown)
            .watermarks(ts, WatermarkStrategy::monotonic())
            .key_by(|_| ())
            .parallel(2, StageConfig::default(), move |keyed| {
                keyed
                    .window(Tumbling::of(Duration::from_secs(60)), ts)
                    .aggregate(Count)
            })
            .unwrap();
        let results = tokio::spawn(flow.collect::<Vec<_>>());
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        token.cancel();
        let results = results.await.unwrap().unwrap();
        assert_eq!(results.len(), expected, "{shutdown:?}");
        if expected == 1 {
            assert_eq!(results[0].value, 2);
        }
    }
}

#[tokio::test]
async fn a_source_that_cannot_drain_stops_at_once() {
    let token = CancellationToken::new();
    token.cancel();
    let items = Flow::from_iter(0..10)
        .stop_on(token, Shutdown::Flush)
        .collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(items.is_empty());
}
