use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::fan_out::{outputs, Output, Outputs};
use crate::channel::queue::Queue;
use crate::channel::StageConfig;
use crate::metrics::{DropReason, OperatorCounters};
use crate::Message;

/// The stream of one subscriber of [`Flow::broadcast`](crate::Flow::broadcast): every data item
/// of the upstream flow, shared by [`Arc`], and every control message, in order.
///
/// The first poll of any subscriber starts the upstream task. Dropping a subscriber stops its
/// deliveries (it no longer holds the others back); dropping the last one stops the upstream task.
#[must_use = "streams do nothing unless polled"]
pub struct Broadcast<T> {
    output: Output<Arc<T>>,
}

impl<T> Broadcast<T> {
    /// The `subscribers` outputs of a broadcast of `upstream`, one queue each, drops counted as
    /// [`DropReason::SlowSubscriber`].
    pub(crate) fn subscribers<S>(
        upstream: S,
        subscribers: usize,
        config: StageConfig,
        counters: Arc<OperatorCounters>,
    ) -> Vec<Self>
    where
        S: Stream<Item = Message<T>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        let queues = (0..subscribers)
            .map(|_| {
                let queue = Queue::new(config.capacity, config.overflow, Arc::clone(&counters));
                Arc::new(queue.counting_drops_as(DropReason::SlowSubscriber))
            })
            .collect();
        let share = |item: T, outputs: &mut Outputs<Arc<T>>| {
            // Wrapped once; every subscriber gets a clone of the `Arc`.
            let item = Arc::new(item);
            let mut longest = 0;
            for at in 0..outputs.len() {
                if outputs.is_open(at) {
                    longest = longest.max(outputs.push_data(at, Arc::clone(&item)));
                }
            }
            Ok(longest)
        };
        outputs(upstream, config, queues, false, share)
            .into_iter()
            .map(|output| Broadcast { output })
            .collect()
    }
}

impl<T> Stream for Broadcast<T> {
    type Item = Message<Arc<T>>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<Arc<T>>>> {
        self.output.poll_message(cx)
    }
}

impl<T> fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("output", &self.output)
            .finish()
    }
}
