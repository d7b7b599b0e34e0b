//! The bounded batch queue behind a stage boundary.
//!
//! One producer (the upstream task) hands over batches of messages; one consumer (the downstream
//! flow) takes them a batch at a time. The lock is taken once per batch, never per item, and
//! batch buffers travel back to the producer for reuse, so a boundary allocates nothing per
//! item. The capacity counts data items queued plus those the consumer still holds, so the items
//! in flight never exceed the capacity plus the producer's batch being filled.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::time::Instant;

use super::Overflow;
use crate::metrics::{DropReason, OperatorCounters};
use crate::{Message, Timestamp};

/// A batch of messages and how many of them are data items.
#[derive(Debug)]
pub(crate) struct Batch<T> {
    pub(crate) messages: VecDeque<Message<T>>,
    pub(crate) data: usize,
    /// When the batch was handed over, for the queue's latency histogram.
    flushed_at: Option<Instant>,
}

impl<T> Batch<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Batch {
            messages: VecDeque::with_capacity(capacity),
            data: 0,
            flushed_at: None,
        }
    }

    /// Appends a data item.
    #[inline]
    pub(crate) fn push_data(&mut self, item: T) {
        self.data += 1;
        self.messages.push_back(Message::Data(item));
    }

    #[inline]
    pub(crate) fn push(&mut self, message: Message<T>) {
        self.data += usize::from(!message.is_control());
        self.messages.push_back(message);
    }

    /// Appends a watermark, replacing a watermark that ends the batch: with no data between
    /// them, only the later one matters downstream.
    #[inline]
    pub(crate) fn push_watermark(&mut self, watermark: crate::Timestamp) {
        use crate::Control;
        if let Some(Message::Control(Control::Watermark(last))) = self.messages.back_mut() {
            *last = watermark;
        } else {
            self.messages
                .push_back(Message::Control(Control::Watermark(watermark)));
        }
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Message<T>> {
        self.messages.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Drops up to `count` data items, oldest first when `oldest`, keeping every control
    /// message. Returns how many were dropped.
    fn drop_data(&mut self, count: usize, oldest: bool) -> usize {
        let mut dropped = 0;
        let mut keep = |message: &Message<T>| {
            if dropped < count && !message.is_control() {
                dropped += 1;
                false
            } else {
                true
            }
        };
        if oldest {
            self.messages.retain(|m| keep(m));
        } else {
            // Newest first: walk from the back.
            let mut kept: VecDeque<Message<T>> = VecDeque::with_capacity(self.messages.len());
            while let Some(message) = self.messages.pop_back() {
                if keep(&message) {
                    kept.push_front(message);
                }
            }
            self.messages = kept;
        }
        self.data -= dropped;
        dropped
    }
}

#[derive(Debug)]
struct Inner<T> {
    batches: VecDeque<Batch<T>>,
    /// Data items queued plus those in the consumer's current batch.
    data: usize,
    /// Control messages queued. They are never dropped; under [`Overflow::Block`] a producer that
    /// would queue more than `capacity` of them waits, so a flood of control messages is bounded
    /// too. (The dropping strategies never make the producer wait, and keep every control
    /// message.)
    controls: usize,
    free: Vec<Batch<T>>,
    consumer: Option<Waker>,
    producer: Option<Waker>,
    consumer_gone: bool,
    producer_done: bool,
    /// When the producer started waiting on a full queue, while it waits.
    blocked_since: Option<Instant>,
}

/// Closes the producer side of its queues when dropped: when the producing task ends, and also
/// when it is cancelled (its runtime shuts down, or it is aborted), so that a consumer never waits
/// for a producer that is gone. (A consumer then sees the input stop without an end of input.)
pub(crate) struct CloseOnDrop<'a, T>(pub(crate) &'a [Arc<Queue<T>>]);

impl<T> Drop for CloseOnDrop<'_, T> {
    fn drop(&mut self) {
        for queue in self.0 {
            queue.close_producer();
        }
    }
}

/// Keeps `cx`'s waker in `slot`, without cloning it again when it is already there.
#[inline]
fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// What a queue counts for its operator, besides its depth, the time its producer is blocked and
/// the time batches spend in it (which every queue counts).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counting {
    /// Data items handed over count as the operator's items in.
    pub(crate) items_in: bool,
    /// Data items taken by the consumer count as the operator's items out.
    pub(crate) items_out: bool,
    /// Watermarks the consumer takes are the operator's watermark.
    pub(crate) watermark: bool,
}

impl Counting {
    /// A stage boundary, whose queue is the whole operator.
    pub(crate) const STAGE: Counting = Counting {
        items_in: true,
        items_out: true,
        watermark: true,
    };
}

/// The queue shared by both sides of a boundary.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    inner: Mutex<Inner<T>>,
    capacity: usize,
    overflow: Overflow,
    counters: Arc<OperatorCounters>,
    counting: Counting,
    /// Counts every drop under this reason instead of the overflow strategy's own (a broadcast's
    /// slow subscriber), when set.
    drop_reason: Option<DropReason>,
}

/// What a flush did with a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Queued.
    Sent,
    /// Queued, and the consumer, which was waiting for it, was woken. The producer should yield
    /// now: a task woken from a tokio worker runs on that worker after the waker's task, and only
    /// a yielding producer lets an idle worker take one of the two, so both sides run in
    /// parallel.
    SentAndWoke,
    /// The queue is full and the strategy is [`Overflow::Fail`]: nothing was queued.
    Overflowed,
    /// The consumer is gone; the batch was dropped.
    Closed,
}

impl<T> Queue<T> {
    pub(crate) fn new(
        capacity: usize,
        overflow: Overflow,
        counters: Arc<OperatorCounters>,
    ) -> Self {
        counters.add_queue();
        Queue {
            inner: Mutex::new(Inner {
                batches: VecDeque::new(),
                data: 0,
                controls: 0,
                free: Vec::new(),
                consumer: None,
                producer: None,
                consumer_gone: false,
                producer_done: false,
                blocked_since: None,
            }),
            capacity,
            overflow,
            counters,
            counting: Counting::default(),
            drop_reason: None,
        }
    }

    /// Counts every data item this queue drops under `reason` instead of the overflow
    /// strategy's own reason.
    pub(crate) fn counting_drops_as(mut self, reason: DropReason) -> Self {
        self.drop_reason = Some(reason);
        self
    }

    /// Counts items in and out and the watermark for the operator as `counting` says.
    pub(crate) fn counting(mut self, counting: Counting) -> Self {
        self.counting = counting;
        self
    }

    /// The counters of the queue's operator.
    pub(crate) fn counters(&self) -> &Arc<OperatorCounters> {
        &self.counters
    }

    /// The consumer took `watermark`.
    #[inline]
    pub(crate) fn note_watermark(&self, watermark: Timestamp) {
        if self.counting.watermark {
            self.counters.set_watermark(watermark);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty batch buffer, reused when one came back from the consumer.
    pub(crate) fn empty_batch(&self, capacity: usize) -> Batch<T> {
        self.lock()
            .free
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(capacity))
    }

    /// Hands `batch` over (leaving it empty for reuse), applying the overflow strategy when the
    /// queue is full. `Pending` (with the waker kept) only under [`Overflow::Block`].
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>, batch: &mut Batch<T>) -> Poll<Flushed> {
        // Read the clock before taking the lock: once per flush, for the latency histogram and
        // the time blocked.
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.consumer_gone {
            let blocked_since = inner.blocked_since.take();
            drop(inner);
            self.end_blocked(blocked_since, now);
            batch.messages.clear();
            batch.data = 0;
            return Poll::Ready(Flushed::Closed);
        }
        let (depth_before, handed) = (inner.data, batch.data);
        let controls = batch.len() - batch.data;
        if self.overflow == Overflow::Block
            && controls > 0
            && inner.controls > 0
            && inner.controls + controls > self.capacity
        {
            register(&mut inner.producer, cx);
            if inner.blocked_since.is_none() {
                inner.blocked_since = Some(now);
                self.counters.blocked_from(now);
            }
            return Poll::Pending;
        }
        let over = (inner.data + batch.data).saturating_sub(self.capacity);
        if over > 0 {
            match self.overflow {
                // A batch always fits into an empty queue (the batch size is at most the capacity).
                Overflow::Block => {
                    register(&mut inner.producer, cx);
                    // One blocking episode lasts until a flush goes through (or the consumer
                    // is gone).
                    if inner.blocked_since.is_none() {
                        inner.blocked_since = Some(now);
                        self.counters.blocked_from(now);
                    }
                    return Poll::Pending;
                }
                Overflow::Fail => return Poll::Ready(Flushed::Overflowed),
                Overflow::DropNewest => {
                    let dropped = batch.drop_data(over, false);
                    self.count(DropReason::OverflowNewest, dropped);
                }
                Overflow::DropOldest => {
                    let mut left = over;
                    for queued in inner.batches.iter_mut() {
                        if left == 0 {
                            break;
                        }
                        let dropped = queued.drop_data(left, true);
                        left -= dropped;
                    }
                    let from_queue = over - left;
                    inner.data -= from_queue;
                    // Batches left empty go back for reuse: kept in the queue, they would pile up
                    // without bound while the consumer stalls.
                    let Inner { batches, free, .. } = &mut *inner;
                    batches.retain_mut(|queued| {
                        if queued.is_empty() {
                            free.push(std::mem::replace(queued, Batch::with_capacity(0)));
                        }
                        !queued.is_empty()
                    });
                    // What the consumer holds cannot be taken back: drop the oldest of this batch.
                    let from_batch = batch.drop_data(left, true);
                    self.count(DropReason::OverflowOldest, from_queue + from_batch);
                }
            }
        }
        inner.data += batch.data;
        // Kept exact under the lock: the gauge sums the depths of all the operator's queues.
        self.counters
            .queue_depth_add(inner.data as i64 - depth_before as i64);
        let spare = inner
            .free
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(batch.len()));
        let mut full = std::mem::replace(batch, spare);
        if !full.is_empty() {
            full.flushed_at = Some(now);
            inner.controls += full.len() - full.data;
            inner.batches.push_back(full);
        }
        let blocked_since = inner.blocked_since.take();
        let consumer = inner.consumer.take();
        drop(inner);
        if self.counting.items_in {
            self.counters.add_in(handed as u64);
        }
        self.end_blocked(blocked_since, now);
        match consumer {
            Some(consumer) => {
                consumer.wake();
                Poll::Ready(Flushed::SentAndWoke)
            }
            None => Poll::Ready(Flushed::Sent),
        }
    }

    /// Ends the blocking episode that started at `since`, if any.
    #[inline]
    fn end_blocked(&self, since: Option<Instant>, now: Instant) {
        if let Some(since) = since {
            self.counters.blocked_until(since, now);
        }
    }

    fn count(&self, reason: DropReason, dropped: usize) {
        let reason = self.drop_reason.unwrap_or(reason);
        self.counters.drop_many(reason, dropped as u64);
    }

    /// The producer is done: no batch follows.
    pub(crate) fn close_producer(&self) {
        let mut inner = self.lock();
        inner.producer_done = true;
        if let Some(consumer) = inner.consumer.take() {
            drop(inner);
            consumer.wake();
        }
    }

    /// Gives back the consumer's finished batch and takes the next one. `Ready(None)` once the
    /// producer is done and everything was taken.
    pub(crate) fn poll_next_batch(
        &self,
        cx: &mut Context<'_>,
        finished: &mut Batch<T>,
    ) -> Poll<Option<()>> {
        let mut inner = self.lock();
        inner.data -= finished.data;
        self.counters.queue_depth_add(-(finished.data as i64));
        finished.data = 0;
        match inner.batches.pop_front() {
            Some(next) => {
                inner.controls -= next.len() - next.data;
                let done = std::mem::replace(finished, next);
                inner.free.push(done);
                let producer = inner.producer.take();
                drop(inner);
                if let Some(producer) = producer {
                    producer.wake();
                }
                self.took(finished);
                Poll::Ready(Some(()))
            }
            None if inner.producer_done => Poll::Ready(None),
            None => {
                register(&mut inner.consumer, cx);
                if let Some(producer) = inner.producer.take() {
                    drop(inner);
                    producer.wake();
                }
                Poll::Pending
            }
        }
    }

    /// Gives back the consumer's last batch once it has read a terminal message: no
    /// [`Queue::poll_next_batch`] follows to return it.
    pub(crate) fn release(&self, finished: &mut Batch<T>) {
        if finished.data > 0 {
            let mut inner = self.lock();
            inner.data -= finished.data;
            self.counters.queue_depth_add(-(finished.data as i64));
            finished.data = 0;
        }
    }

    /// Counts a batch the consumer took: its items out and the time it was queued, once per
    /// batch, weighted by its data items.
    #[inline]
    fn took(&self, batch: &Batch<T>) {
        let items = batch.data as u64;
        if self.counting.items_out {
            self.counters.add_out(items);
        }
        if let (Some(flushed_at), true) = (batch.flushed_at, items > 0) {
            let queued = Instant::now().saturating_duration_since(flushed_at);
            self.counters.record_latency(queued, items);
        }
    }

    /// The consumer is gone: the producer stops at its next flush.
    pub(crate) fn close_consumer(&self) {
        let mut inner = self.lock();
        inner.consumer_gone = true;
        inner.batches.clear();
        inner.controls = 0;
        // What was queued or held by the consumer is gone with it, and the producer is no
        // longer held back.
        self.counters.queue_depth_add(-(inner.data as i64));
        inner.data = 0;
        let blocked_since = inner.blocked_since.take();
        self.end_blocked(blocked_since, Instant::now());
        if let Some(producer) = inner.producer.take() {
            drop(inner);
            producer.wake();
        }
    }

    /// Data items queued or held by the consumer.
    pub(crate) fn depth(&self) -> usize {
        self.lock().data
    }
}
