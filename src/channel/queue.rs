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

use super::Overflow;
use crate::metrics::{DropReason, OperatorCounters};
use crate::Message;

/// A batch of messages and how many of them are data items.
#[derive(Debug)]
pub(crate) struct Batch<T> {
    pub(crate) messages: VecDeque<Message<T>>,
    pub(crate) data: usize,
}

impl<T> Batch<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Batch {
            messages: VecDeque::with_capacity(capacity),
            data: 0,
        }
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
    free: Vec<Batch<T>>,
    consumer: Option<Waker>,
    producer: Option<Waker>,
    consumer_gone: bool,
    producer_done: bool,
}

/// Keeps `cx`'s waker in `slot`, without cloning it again when it is already there.
#[inline]
fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The queue shared by both sides of a boundary.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    inner: Mutex<Inner<T>>,
    capacity: usize,
    overflow: Overflow,
    counters: Arc<OperatorCounters>,
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
        Queue {
            inner: Mutex::new(Inner {
                batches: VecDeque::new(),
                data: 0,
                free: Vec::new(),
                consumer: None,
                producer: None,
                consumer_gone: false,
                producer_done: false,
            }),
            capacity,
            overflow,
            counters,
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
        let mut inner = self.lock();
        if inner.consumer_gone {
            batch.messages.clear();
            batch.data = 0;
            return Poll::Ready(Flushed::Closed);
        }
        let over = (inner.data + batch.data).saturating_sub(self.capacity);
        if over > 0 {
            match self.overflow {
                // A batch always fits into an empty queue (the batch size is at most the capacity).
                Overflow::Block => {
                    register(&mut inner.producer, cx);
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
                    // What the consumer holds cannot be taken back: drop the oldest of this batch.
                    let from_batch = batch.drop_data(left, true);
                    self.count(DropReason::OverflowOldest, from_queue + from_batch);
                }
            }
        }
        inner.data += batch.data;
        let spare = inner
            .free
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(batch.len()));
        let full = std::mem::replace(batch, spare);
        if !full.is_empty() {
            inner.batches.push_back(full);
        }
        match inner.consumer.take() {
            Some(consumer) => {
                drop(inner);
                consumer.wake();
                Poll::Ready(Flushed::SentAndWoke)
            }
            None => Poll::Ready(Flushed::Sent),
        }
    }

    fn count(&self, reason: DropReason, dropped: usize) {
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
        finished.data = 0;
        match inner.batches.pop_front() {
            Some(next) => {
                let done = std::mem::replace(finished, next);
                inner.free.push(done);
                if let Some(producer) = inner.producer.take() {
                    drop(inner);
                    producer.wake();
                }
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

    /// The consumer is gone: the producer stops at its next flush.
    pub(crate) fn close_consumer(&self) {
        let mut inner = self.lock();
        inner.consumer_gone = true;
        inner.batches.clear();
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
