//! Keyed parallelism: a keyed flow partitioned by key across tasks and merged back.

use std::hash::Hash;
use std::sync::Arc;

use futures_core::Stream;
use tracing::Instrument;

use super::KeyedFlow;
use crate::channel::queue::{Counting, Queue};
use crate::channel::StageConfig;
use crate::checkpoint::Scope;
use crate::error::ConfigError;
use crate::operators::{produce, Launch, Parallel, Receiver, Route};
use crate::{Flow, Message};

impl<S, T, K, KF> KeyedFlow<S, KF>
where
    S: Stream<Item = Message<T>> + Send + 'static,
    KF: FnMut(&T) -> K + Clone + Send + 'static,
    K: Hash + Send + 'static,
    T: Send + 'static,
{
    /// Runs `pipeline` on `partitions` tasks, each with the keys that hash to it, and merges
    /// their outputs.
    ///
    /// The input is routed by key hash: all items of a key go to the same partition, in order,
    /// so per key the results and their order equal those of a single task. Watermarks, barriers
    /// and the end of input go to every partition; the merged watermark is the minimum over the
    /// partitions, and the merged flow ends once every partition has ended. Each partition and
    /// the merge run through stage queues configured by `config` (capacity, batch size,
    /// overflow), so memory stays bounded. On a multi-threaded runtime the partitions use all
    /// cores.
    ///
    /// `pipeline` is called once per partition with that partition's keyed flow.
    ///
    /// # Errors
    ///
    /// Zero `partitions` is a [`ConfigError`].
    ///
    /// # Panics
    ///
    /// The first poll panics outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let mut counts = Flow::from_iter(['a', 'b', 'a', 'c', 'a'])
    ///     .key_by(|c| *c)
    ///     .parallel(2, StageConfig::default(), |words| words.aggregate(Count))?
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// counts.sort();
    /// assert_eq!(counts, [('a', 1), ('a', 2), ('a', 3), ('b', 1), ('c', 1)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn parallel<F, S2, U>(
        self,
        partitions: usize,
        config: StageConfig,
        pipeline: F,
    ) -> Result<Flow<Parallel<U>>, ConfigError>
    where
        F: Fn(KeyedFlow<Route<T>, KF>) -> Flow<S2>,
        S2: Stream<Item = Message<U>> + Send + 'static,
        U: Send + 'static,
    {
        if partitions == 0 {
            return Err(ConfigError::new("partitions", "greater than zero"));
        }
        let (key, ttl) = (self.key, self.ttl);
        let metrics = self.flow.metrics();
        let checkpoints = self
            .flow
            .checkpointing()
            .map(|(checkpoints, _)| checkpoints.clone());
        Ok(self.flow.chain("parallel", |upstream, counters| {
            // Items in: routed to the partitions; items out: taken by the merge. The merge sets
            // the watermark.
            let (routed, merged) = (
                Counting {
                    items_in: true,
                    ..Counting::default()
                },
                Counting {
                    items_out: true,
                    ..Counting::default()
                },
            );
            let inputs: Vec<Arc<Queue<T>>> = (0..partitions)
                .map(|_| {
                    let queue = Queue::new(config.capacity, config.overflow, Arc::clone(&counters));
                    Arc::new(queue.counting(routed))
                })
                .collect();
            let outputs: Vec<Arc<Queue<U>>> = (0..partitions)
                .map(|_| {
                    let queue = Queue::new(config.capacity, config.overflow, Arc::clone(&counters));
                    Arc::new(queue.counting(merged))
                })
                .collect();
            let pipelines: Vec<S2> = Route::partitioned(upstream, config, inputs, key.clone())
                .into_iter()
                .enumerate()
                .map(|(index, partition)| {
                    // Each partition's operators checkpoint under the partition's own ids.
                    let scope = checkpoints.clone().map(|checkpoints| {
                        (checkpoints, Scope::partition(Arc::clone(&counters), index))
                    });
                    let keyed = KeyedFlow {
                        flow: Flow::from_messages(partition).with_checkpointing(scope),
                        key: key.clone(),
                        ttl,
                    };
                    let flow = pipeline(keyed);
                    metrics.adopt(flow.metrics());
                    flow.into_messages()
                })
                .collect();
            let receivers = outputs
                .iter()
                .map(|output| Receiver::new(Arc::clone(output)))
                .collect();
            let merge_counters = Arc::clone(&counters);
            let launch: Launch = Box::new(move || {
                let name = counters.name();
                let mut tasks = Vec::with_capacity(pipelines.len());
                for (index, (pipeline, output)) in pipelines.into_iter().zip(outputs).enumerate() {
                    let span =
                        tracing::info_span!("partition", operator = %name, partition = index);
                    tasks.push(tokio::spawn(
                        produce(pipeline, output, config).instrument(span),
                    ));
                }
                tasks
            });
            Parallel::new(launch, receivers, merge_counters)
        }))
    }
}
