//! `Metrics::publish` (cargo feature `metrics`): a snapshot written through the `metrics` facade,
//! read back with a recorder that keeps the last value of every counter and gauge.

#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};
use rheoflow::channel::{Overflow, StageConfig};
use rheoflow::{sink, Error, ErrorPolicy, Flow};

/// Every metric by name and sorted labels, `name{k=v,...}`, with its last value.
#[derive(Default)]
struct Values(Mutex<BTreeMap<String, f64>>);

struct Handle {
    key: String,
    values: Arc<Values>,
}

impl Handle {
    fn set(&self, value: f64) {
        self.values
            .0
            .lock()
            .unwrap()
            .insert(self.key.clone(), value);
    }
}

impl CounterFn for Handle {
    fn increment(&self, _: u64) {
        unreachable!("publish sets absolute values")
    }
    fn absolute(&self, value: u64) {
        self.set(value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, _: f64) {
        unreachable!("publish sets gauges")
    }
    fn decrement(&self, _: f64) {
        unreachable!("publish sets gauges")
    }
    fn set(&self, value: f64) {
        Handle::set(self, value);
    }
}

struct Keeper(Arc<Values>);

impl Keeper {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        labels.sort();
        Arc::new(Handle {
            key: format!("{}{{{}}}", key.name(), labels.join(",")),
            values: Arc::clone(&self.0),
        })
    }
}

impl Recorder for Keeper {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        unreachable!("publish writes no histogram")
    }
}

#[tokio::test(start_paused = true)]
async fn publish_writes_every_counter_and_gauge_with_labels() -> Result<(), Error> {
    let flow = Flow::from_iter(["1", "x", "3", "y", "5"])
        .try_map(|s: &&str| s.parse::<u64>(), ErrorPolicy::skip())
        .name("parse")
        .stage(StageConfig::with_capacity(8)?.overflow(Overflow::Block))
        .name("boundary")
        .map(|x| x * 10);
    let metrics = flow.metrics();
    let task = flow.spawn(sink::Collect::new());
    assert_eq!(task.await?.into_inner(), [10, 30, 50]);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let values = Arc::new(Values::default());
    let keeper = Keeper(Arc::clone(&values));
    metrics::with_local_recorder(&keeper, || metrics.publish());

    let values = values.0.lock().unwrap().clone();
    let get = |key: &str| values.get(key).copied();
    assert_eq!(get("rheoflow_items_in{operator=parse}"), Some(5.0));
    assert_eq!(get("rheoflow_items_out{operator=parse}"), Some(3.0));
    assert_eq!(
        get("rheoflow_dropped{operator=parse,reason=skipped}"),
        Some(2.0)
    );
    assert_eq!(get("rheoflow_items_in{operator=boundary}"), Some(3.0));
    assert_eq!(get("rheoflow_items_out{operator=boundary}"), Some(3.0));
    assert_eq!(get("rheoflow_queue_depth{operator=boundary}"), Some(0.0));
    assert_eq!(
        get("rheoflow_blocked_microseconds{operator=boundary}"),
        Some(0.0)
    );
    assert!(get("rheoflow_latency_seconds{operator=boundary,quantile=0.5}").is_some());
    assert!(get("rheoflow_latency_seconds{operator=boundary,quantile=0.999}").is_some());
    assert_eq!(get("rheoflow_items_in{operator=send_to-3}"), Some(3.0));
    // What does not apply is left out: no counts for `map`, no zero drops, no queue for `parse`.
    assert!(!values.keys().any(|key| key.contains("operator=map-2")));
    assert!(!values.keys().any(|key| key.contains("reason=late")));
    assert_eq!(get("rheoflow_queue_depth{operator=parse}"), None);
    assert_eq!(
        get("rheoflow_watermark_lag_seconds{operator=boundary}"),
        None
    );
    Ok(())
}
