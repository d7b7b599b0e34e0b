use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::task::JoinHandle;

use super::fan_in::FanIn;
use super::stage::Receiver;
use crate::metrics::OperatorCounters;
use crate::{Control, Message};

/// Starts the tasks of a parallel flow: one per partition (the partitioner starts with the first
/// partition that reads its input).
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
            if let Some(control) = this.fan_in.take_pending() {
                return Poll::Ready(Some(control));
            }
            if this.fan_in.is_done() {
                return Poll::Ready(None);
            }
            if this.streak >= STREAK {
                // Enough from this partition in a row: the next one goes first.
                this.next = wrap(this.next + 1, partitions);
                this.streak = 0;
            }
            // The common case: the partition being read holds a data item in the batch it
            // took last. It goes out at once, with no lock and no look at the others.
            if !this.fan_in.has_ended(this.next) {
                if let Some(item) = this.outputs[this.next].take_data() {
                    this.streak += 1;
                    let data = Some(Message::Data(item));
                    return Poll::Ready(this.fan_in.on_message(this.next, data));
                }
            }
            let mut waiting = 0;
            for offset in 0..partitions {
                let input = wrap(this.next + offset, partitions);
                if this.fan_in.has_ended(input) {
                    waiting += 1;
                    continue;
                }
                match this.outputs[input].poll_message(cx) {
                    Poll::Pending => waiting += 1,
                    Poll::Ready(message) => {
                        // Stay with the partition that had something: its batch is in hand.
                        if input == this.next {
                            this.streak += 1;
                        } else {
                            this.next = input;
                            this.streak = 0;
                        }
                        if let Some(out) = this.fan_in.on_message(input, message) {
                            if let Message::Control(Control::Watermark(watermark)) = &out {
                                this.counters.set_watermark(*watermark);
                            }
                            return Poll::Ready(Some(out));
                        }
                        break;
                    }
                }
            }
            if waiting == partitions {
                return Poll::Pending;
            }
        }
    }
}

/// `index` brought back into `0..len`, for an `index` below `2 * len`.
#[inline]
fn wrap(index: usize, len: usize) -> usize {
    if index >= len {
        index - len
    } else {
        index
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
