use std::fmt;
use std::hash::{Hash, Hasher};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use rustc_hash::FxHasher;
use tokio::task::JoinHandle;

use super::fan_in::FanIn;
use super::stage::Receiver;
use crate::channel::queue::{Batch, Flushed, Queue};
use crate::channel::StageConfig;
use crate::metrics::OperatorCounters;
use crate::{Control, Error, Message};

/// Starts the tasks of a parallel flow: the partitioner and one task per partition.
pub(crate) type Launch = Box<dyn FnOnce() -> Vec<JoinHandle<()>> + Send>;

/// The stream returned by [`KeyedFlow::parallel`](crate::keyed::KeyedFlow::parallel): the merged
/// outputs of the partitions.
#[must_use = "streams do nothing unless polled"]
pub struct Parallel<U> {
    launch: Option<Launch>,
    tasks: Vec<JoinHandle<()>>,
    outputs: Vec<Receiver<U>>,
    fan_in: FanIn,
    /// The partition polled first, kept while it has messages ready (they come in batches, and
    /// switching costs a lock), and moved on after `STREAK` messages so that none starves.
    next: usize,
    streak: usize,
    counters: Arc<OperatorCounters>,
}

/// How many messages the merge takes from one partition in a row at most.
const STREAK: usize = 1_024;

impl<U> Parallel<U> {
    pub(crate) fn new(
        launch: Launch,
        outputs: Vec<Receiver<U>>,
        counters: Arc<OperatorCounters>,
    ) -> Self {
        let partitions = outputs.len();
        Parallel {
            launch: Some(launch),
            tasks: Vec::new(),
            outputs,
            fan_in: FanIn::new(partitions),
            next: 0,
            streak: 0,
            counters,
        }
    }
}

impl<U> Unpin for Parallel<U> {}

impl<U> Stream for Parallel<U> {
    type Item = Message<U>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<U>>> {
        let this = &mut *self;
        if let Some(launch) = this.launch.take() {
            this.tasks = launch();
        }
        let partitions = this.outputs.len();
        loop {
            if this.fan_in.is_done() {
                return Poll::Ready(None);
            }
            let mut waiting = 0;
            for offset in 0..partitions {
                let input = (this.next + offset) % partitions;
                if this.fan_in.has_ended(input) {
                    waiting += 1;
                    continue;
                }
                match this.outputs[input].poll_message(cx) {
                    Poll::Pending => waiting += 1,
                    Poll::Ready(message) => {
                        let out = this.fan_in.on_message(input, message);
                        if let Some(out) = out {
                            if let Message::Control(Control::Watermark(watermark)) = &out {
                                this.counters.set_watermark(*watermark);
                            }
                            if input == this.next && this.streak < STREAK {
                                this.streak += 1;
                            } else {
                                this.next = (input + 1) % partitions;
                                this.streak = 0;
                            }
                            return Poll::Ready(Some(out));
                        }
                    }
                }
            }
            if waiting == partitions {
                return Poll::Pending;
            }
        }
    }
}

impl<U> Drop for Parallel<U> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl<U> fmt::Debug for Parallel<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parallel")
            .field("partitions", &self.outputs.len())
            .field("watermark", &self.fan_in.watermark())
            .finish()
    }
}

/// The partition of `key` among `partitions`.
#[inline]
pub(crate) fn partition_of<K: Hash>(key: &K, partitions: usize) -> usize {
    let mut hasher = FxHasher::default();
    key.hash(&mut hasher);
    // The high bits of FxHash mix best.
    ((hasher.finish() >> 32) as usize) % partitions
}

/// The partitioner task: routes each item to its key's partition and every control message to
/// all of them, in batches. A panic here reaches every partition as a failure.
pub(crate) async fn partition<S, T, K, KF>(
    upstream: S,
    key: KF,
    queues: Vec<Arc<Queue<T>>>,
    config: StageConfig,
) where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
    K: Hash,
{
    use futures_util::FutureExt;
    let run = std::panic::AssertUnwindSafe(route(upstream, key, &queues, config)).catch_unwind();
    if let Err(panic) = run.await {
        let failure = Control::Failed(Box::new(Error::Panicked {
            message: crate::error::panic_message(panic),
        }));
        for queue in &queues {
            let mut batch = Batch::with_capacity(1);
            batch.push(Message::Control(failure.clone()));
            std::future::poll_fn(|cx| queue.poll_flush(cx, &mut batch).map(drop)).await;
        }
    }
    for queue in &queues {
        queue.close_producer();
    }
}

async fn route<S, T, K, KF>(upstream: S, mut key: KF, queues: &[Arc<Queue<T>>], config: StageConfig)
where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
    K: Hash,
{
    let partitions = queues.len();
    let mut upstream = pin!(upstream);
    let mut batches: Vec<Batch<T>> = queues
        .iter()
        .map(|q| q.empty_batch(config.batch_size))
        .collect();
    let mut ended = false;
    // Hand over every non-empty batch, not only full ones (input paused or ended).
    let mut flush_all = false;
    std::future::poll_fn(|cx| {
        // Only for this poll: the source returned `Pending` (and holds this poll's waker) and
        // what it gave so far is being handed over. A later poll must ask the source again, or a
        // wake-up it sent meanwhile would be lost.
        let mut upstream_pending = false;
        loop {
            let mut overflowed = false;
            let mut woke = false;
            for (queue, batch) in queues.iter().zip(batches.iter_mut()) {
                if batch.len() >= config.batch_size || (flush_all && !batch.is_empty()) {
                    match ready!(queue.poll_flush(cx, batch)) {
                        Flushed::Sent => {}
                        Flushed::SentAndWoke => woke = true,
                        // The merged flow was dropped: nothing downstream wants more.
                        Flushed::Closed => return Poll::Ready(()),
                        Flushed::Overflowed => {
                            overflowed = true;
                            break;
                        }
                    }
                }
            }
            if overflowed {
                // Overflow::Fail: every partition fails; nothing after this is read.
                let failure = Control::Failed(Box::new(Error::Overflow {
                    capacity: config.capacity,
                }));
                for batch in batches.iter_mut() {
                    batch.messages.clear();
                    batch.data = 0;
                    batch.push(Message::Control(failure.clone()));
                }
                ended = true;
                flush_all = true;
                continue;
            }
            flush_all = false;
            if woke && !ended {
                // Let an idle worker pick up this task or the partition it woke (see `Flushed`).
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if ended {
                return Poll::Ready(());
            }
            if upstream_pending {
                return Poll::Pending;
            }
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Data(item))) => {
                    let target = partition_of(&key(&item), partitions);
                    batches[target].push(Message::Data(item));
                }
                Poll::Ready(Some(Message::Control(Control::Watermark(watermark)))) => {
                    for batch in batches.iter_mut() {
                        batch.push_watermark(watermark);
                    }
                }
                Poll::Ready(Some(Message::Control(control))) => {
                    ended = control.is_terminal();
                    flush_all = ended;
                    for batch in batches.iter_mut() {
                        batch.push(Message::Control(control.clone()));
                    }
                }
                Poll::Ready(None) => {
                    ended = true;
                    flush_all = true;
                }
                Poll::Pending => {
                    if batches.iter().all(Batch::is_empty) {
                        return Poll::Pending;
                    }
                    flush_all = true;
                    upstream_pending = true;
                }
            }
        }
    })
    .await
}
