//! A keyed window pipeline partitioned with `KeyedFlow::parallel` gives, per key, the same
//! results in the same order as the same pipeline on a single task: property tests over
//! out-of-order input with bounded out-of-orderness watermarks, allowed lateness (late updates
//! and dropped late items), tumbling and sliding windows, 1 to 4 partitions and stage configs
//! small enough that batches are handed over mid-stream.
//!
//! What a partition sees of the watermark decides which of its items are late; this is what the
//! partitioner's watermark routing must preserve.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use rheoflow::aggregate::{Count, Sum};
use rheoflow::channel::StageConfig;
use rheoflow::keyed::BuildState;
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{Aggregate, Sliding, TimeWindow, Tumbling, WindowResult};
use rheoflow::{Flow, Timestamp};

/// `(key, event time in ms, value)`.
type Event = (u8, i64, u64);

/// Per key: `(window start, window end, count, sum, is an update)`, in arrival order.
type PerKey = BTreeMap<u8, Vec<(i64, i64, u64, u64, bool)>>;

#[derive(Debug, Clone)]
struct Case {
    input: Vec<Event>,
    out_of_orderness: u64,
    lateness: u64,
    /// `(size, slide)` in ms; tumbling when equal.
    window: (u64, u64),
    partitions: usize,
    capacity: usize,
    batch: usize,
}

fn case() -> impl Strategy<Value = Case> {
    let steps = prop::collection::vec((0u8..6, -60i64..80, 0u64..100), 1..300);
    (
        steps,
        0u64..50,
        0u64..120,
        prop_oneof![
            (10u64..150).prop_map(|size| (size, size)),
            (10u64..150, 5u64..100).prop_map(|(size, slide)| (size, slide)),
        ],
        1usize..=4,
        1usize..64,
        1usize..8,
    )
        .prop_map(
            |(steps, out_of_orderness, lateness, window, partitions, capacity, batch)| {
                // A random walk of event time with jitter: out of order, some of it late.
                let mut clock = 0i64;
                let input = steps
                    .into_iter()
                    .map(|(key, jitter, value)| {
                        clock += jitter.max(0) / 4;
                        (key, clock + jitter.min(0), value)
                    })
                    .collect();
                Case {
                    input,
                    out_of_orderness,
                    lateness,
                    window,
                    partitions,
                    capacity: capacity.max(batch),
                    batch,
                }
            },
        )
}

fn per_key(results: Vec<WindowResult<u8, (u64, u64)>>) -> PerKey {
    let mut per_key = PerKey::new();
    for r in results {
        per_key.entry(r.key).or_default().push((
            r.window.start().millis(),
            r.window.end().millis(),
            r.value.0,
            r.value.1,
            r.is_update(),
        ));
    }
    per_key
}

type Agg = (Count, Sum<fn(&Event) -> u64>);

fn value(e: &Event) -> u64 {
    e.2
}

fn stamp(e: &Event) -> Timestamp {
    Timestamp::from_millis(e.1)
}

/// Runs the case's window pipeline with `assigner` on one task (`partitions == None`) or
/// partitioned.
async fn run<A>(case: &Case, assigner: A, partitions: Option<usize>) -> PerKey
where
    A: BuildState<u8, Event, Aggregate<Agg>, Window = TimeWindow> + Clone + Send + 'static,
    A::State: Send + 'static,
{
    let keyed = Flow::from_iter(case.input.clone())
        .watermarks(
            stamp,
            WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(
                case.out_of_orderness,
            )),
        )
        .key_by(|e: &Event| e.0);
    let lateness = Duration::from_millis(case.lateness);
    let aggregator: Agg = (Count, Sum::of(value as fn(&Event) -> u64));
    let results = match partitions {
        None => {
            keyed
                .window(assigner, stamp)
                .allowed_lateness(lateness)
                .aggregate(aggregator)
                .collect::<Vec<_>>()
                .await
        }
        Some(partitions) => {
            let config = StageConfig::with_capacity(case.capacity)
                .and_then(|c| c.batch_size(case.batch))
                .expect("a valid stage config");
            keyed
                .parallel(partitions, config, |keyed| {
                    keyed
                        .window(assigner.clone(), stamp)
                        .allowed_lateness(lateness)
                        .aggregate(aggregator)
                })
                .expect("at least one partition")
                .collect::<Vec<_>>()
                .await
        }
    };
    per_key(results.expect("the flow runs"))
}

/// Runs the case on one task and partitioned, with its window.
fn both(case: &Case) -> (PerKey, PerKey) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (size, slide) = case.window;
    let (size_d, slide_d) = (Duration::from_millis(size), Duration::from_millis(slide));
    runtime.block_on(async {
        if size == slide {
            let tumbling = Tumbling::of(size_d);
            (
                run(case, tumbling, None).await,
                run(case, tumbling, Some(case.partitions)).await,
            )
        } else {
            let sliding = Sliding::of(size_d, slide_d);
            (
                run(case, sliding, None).await,
                run(case, sliding, Some(case.partitions)).await,
            )
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn partitioned_results_equal_one_task_per_key(case in case()) {
        let (single, partitioned) = both(&case);
        prop_assert_eq!(partitioned, single);
    }
}
