use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::fan_out::{outputs, Output, Outputs};
use crate::channel::queue::Queue;
use crate::channel::StageConfig;
use crate::error::{FailedRecord, RecordError};
use crate::metrics::OperatorCounters;
use crate::{Error, Message};

/// The stream of one output of [`Flow::route`](crate::Flow::route) or
/// [`Flow::split`](crate::Flow::split): the data items routed to it, in input order, and every
/// control message, in its place among them.
///
/// The first poll of any output starts the upstream task. Dropping an output discards what is
/// routed to it from then on; dropping the last one stops the upstream task.
#[must_use = "streams do nothing unless polled"]
pub struct Route<T> {
    output: Output<T>,
}

impl<T> Route<T> {
    /// The `outputs` outputs of a route of `upstream`, one queue each; `route` picks the output
    /// of each data item.
    pub(crate) fn outputs<S, F>(
        upstream: S,
        outputs_len: usize,
        config: StageConfig,
        counters: Arc<OperatorCounters>,
        mut route: F,
    ) -> Vec<Self>
    where
        S: Stream<Item = Message<T>> + Send + 'static,
        F: FnMut(&T) -> usize + Send + 'static,
        T: Send + 'static,
    {
        let queues = (0..outputs_len)
            .map(|_| {
                Arc::new(Queue::new(
                    config.capacity,
                    config.overflow,
                    Arc::clone(&counters),
                ))
            })
            .collect();
        // The position of the next data item among those routed, for the error of a bad index.
        let mut seen = 0u64;
        let send = move |item: T, outputs: &mut Outputs<T>| {
            let index = route(&item);
            let at = seen;
            seen += 1;
            if index >= outputs.len() {
                let cause = RecordError::failed(RouteError::new(index, outputs_len));
                return Err(Error::Record(FailedRecord::new(at, None, cause)));
            }
            // An output that was dropped wants nothing more.
            if !outputs.is_open(index) {
                return Ok(0);
            }
            Ok(outputs.push_data(index, item))
        };
        outputs(upstream, config, queues, false, send)
            .into_iter()
            .map(|output| Route { output })
            .collect()
    }

    /// The partitions of [`KeyedFlow::parallel`](crate::keyed::KeyedFlow::parallel): each item to
    /// the queue its key hashes to, every control message to all of them (runs of watermarks
    /// merged).
    pub(crate) fn partitioned<S, K, KF>(
        upstream: S,
        config: StageConfig,
        queues: Vec<Arc<Queue<T>>>,
        mut key: KF,
    ) -> Vec<Self>
    where
        S: Stream<Item = Message<T>> + Send + 'static,
        KF: FnMut(&T) -> K + Send + 'static,
        K: std::hash::Hash,
        T: Send + 'static,
    {
        let partitions = queues.len();
        let send = move |item: T, outputs: &mut Outputs<T>| {
            let index = partition_of(&key(&item), partitions);
            if !outputs.is_open(index) {
                return Ok(0);
            }
            Ok(outputs.push_data(index, item))
        };
        outputs(upstream, config, queues, true, send)
            .into_iter()
            .map(|output| Route { output })
            .collect()
    }
}

/// The partition of `key` among `partitions`.
#[inline]
fn partition_of<K: std::hash::Hash>(key: &K, partitions: usize) -> usize {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    key.hash(&mut hasher);
    // The high bits of FxHash mix best.
    let hash = (hasher.finish() >> 32) as usize;
    // The same partition as `%`, without a division for 2, 4, 8, ... partitions.
    if partitions.is_power_of_two() {
        hash & (partitions - 1)
    } else {
        hash % partitions
    }
}

impl<T> Stream for Route<T> {
    type Item = Message<T>;

    #[inline(always)]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        self.output.poll_message(cx)
    }
}

impl<T> fmt::Debug for Route<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("output", &self.output)
            .finish()
    }
}

/// A routing function chose an output that does not exist.
///
/// It fails the flow as the cause of a [`FailedRecord`](crate::error::FailedRecord) (through
/// [`RecordError::Failed`](crate::error::RecordError::Failed)), on every output.
///
/// # Examples
///
/// ```
/// use rheoflow::operators::RouteError;
///
/// let err = RouteError::new(3, 2);
/// assert_eq!(err.to_string(), "route chose output 3 of 2");
/// assert_eq!((err.index(), err.outputs()), (3, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("route chose output {index} of {outputs}")]
pub struct RouteError {
    index: usize,
    outputs: usize,
}

impl RouteError {
    /// The error of a routing function that chose output `index` (from 0) of `outputs`.
    pub fn new(index: usize, outputs: usize) -> Self {
        RouteError { index, outputs }
    }

    /// The output the routing function chose.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many outputs there are.
    pub fn outputs(&self) -> usize {
        self.outputs
    }
}

#[cfg(test)]
mod tests {
    use super::partition_of;

    /// Partitions must not move when the partition count is a power of two: a checkpoint of a
    /// parallel flow holds each partition's keys.
    #[test]
    fn partition_of_is_the_hash_modulo_the_partitions() {
        for partitions in 1..=17usize {
            for key in 0..2_000u64 {
                let hash = {
                    use std::hash::{Hash, Hasher};
                    let mut hasher = rustc_hash::FxHasher::default();
                    key.hash(&mut hasher);
                    (hasher.finish() >> 32) as usize
                };
                assert_eq!(partition_of(&key, partitions), hash % partitions);
            }
        }
    }
}
