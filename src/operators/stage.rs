use std::fmt;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::channel::queue::{Batch, CloseOnDrop, Flushed, Queue};
use crate::channel::StageConfig;
use crate::error::panic_message;
use crate::{Control, Error, Message};

/// How many full batches the upstream task hands over before it lets other tasks run.
const BATCHES_PER_TURN: u32 = 8;

/// The stream returned by [`Flow::stage`](crate::Flow::stage): the downstream side of a stage
/// boundary, whose upstream runs on its own tokio task.
#[must_use = "streams do nothing unless polled"]
pub struct Stage<S, T> {
    /// The upstream part, until the first poll spawns it.
    upstream: Option<S>,
    config: StageConfig,
    receiver: Receiver<T>,
    task: Option<JoinHandle<()>>,
}

impl<S, T> Stage<S, T> {
    pub(crate) fn new(upstream: S, config: StageConfig, queue: Arc<Queue<T>>) -> Self {
        Stage {
            upstream: Some(upstream),
            config,
            receiver: Receiver::new(queue),
            task: None,
        }
    }
}

impl<S, T> Unpin for Stage<S, T> {}

impl<S, T> Stream for Stage<S, T>
where
    S: Stream<Item = Message<T>> + Send + 'static,
    T: Send + 'static,
{
    type Item = Message<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let this = &mut *self;
        if let Some(upstream) = this.upstream.take() {
            let queue = &this.receiver.queue;
            let span = tracing::info_span!("stage", operator = %queue.counters().name());
            let producer = produce(upstream, Arc::clone(queue), this.config);
            this.task = Some(tokio::spawn(producer.instrument(span)));
        }
        this.receiver.poll_message(cx)
    }
}

impl<S, T> Drop for Stage<S, T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The downstream side of a stage queue: yields its messages, a batch at a time. Each partition
/// of [`KeyedFlow::parallel`](crate::keyed::KeyedFlow::parallel) starts from one.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Receiver<T> {
    pub(crate) queue: Arc<Queue<T>>,
    current: Batch<T>,
    ended: bool,
}

impl<T> Receiver<T> {
    pub(crate) fn new(queue: Arc<Queue<T>>) -> Self {
        Receiver {
            queue,
            current: Batch::with_capacity(0),
            ended: false,
        }
    }

    /// The next message if it is a data item already in hand: no lock, no control message.
    #[inline]
    pub(crate) fn take_data(&mut self) -> Option<T> {
        match self.current.messages.front() {
            Some(Message::Data(_)) => self.current.pop().and_then(Message::into_data),
            _ => None,
        }
    }

    /// The next message; `None` after a terminal message or once the producer is done.
    ///
    /// Inline up to the message in hand; taking the next batch is out of line.
    #[inline(always)]
    pub(crate) fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        match self.pop_in_hand() {
            Some(message) => Poll::Ready(Some(message)),
            None => self.poll_next_batch(cx),
        }
    }

    /// The next message of the batch in hand, a control message accounted for.
    #[inline(always)]
    fn pop_in_hand(&mut self) -> Option<Message<T>> {
        match self.current.pop()? {
            Message::Control(control) => Some(self.on_control(control)),
            data => Some(data),
        }
    }

    #[inline]
    fn on_control(&mut self, control: Control) -> Message<T> {
        if let Control::Watermark(watermark) = control {
            self.queue.note_watermark(watermark);
        }
        self.ended = control.is_terminal();
        if self.ended {
            // The last message: the batch's data items were all read.
            self.queue.release(&mut self.current);
        }
        Message::Control(control)
    }

    /// The current batch is read: the first message of the next one.
    #[inline(never)]
    fn poll_next_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            if ready!(self.queue.poll_next_batch(cx, &mut self.current)).is_none() {
                self.ended = true;
                return Poll::Ready(None);
            }
            // An empty batch: take the next one.
            if let Some(message) = self.pop_in_hand() {
                return Poll::Ready(Some(message));
            }
        }
    }
}

impl<T> Unpin for Receiver<T> {}

impl<T> Stream for Receiver<T> {
    type Item = Message<T>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        self.poll_message(cx)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.queue.close_consumer();
    }
}

impl<S, T> fmt::Debug for Stage<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("config", &self.config)
            .field("depth", &self.receiver.queue.depth())
            .field("ended", &self.receiver.ended)
            .finish()
    }
}

/// The upstream task: pulls the upstream part of the flow and hands its messages over in
/// batches. A panic upstream reaches the downstream side as [`Error::Panicked`].
pub(crate) async fn produce<S, T>(upstream: S, queue: Arc<Queue<T>>, config: StageConfig)
where
    S: Stream<Item = Message<T>>,
{
    let queues = [queue];
    let _close = CloseOnDrop(&queues);
    let queue = &queues[0];
    let run = AssertUnwindSafe(pump(upstream, queue, config)).catch_unwind();
    if let Err(panic) = run.await {
        let mut batch = Batch::with_capacity(1);
        batch.push(Message::Control(Control::Failed(Box::new(
            Error::Panicked {
                message: panic_message(panic),
            },
        ))));
        // A control message always fits; a gone consumer needs nothing.
        std::future::poll_fn(|cx| queue.poll_flush(cx, &mut batch).map(drop)).await;
    }
}

async fn pump<S, T>(upstream: S, queue: &Queue<T>, config: StageConfig)
where
    S: Stream<Item = Message<T>>,
{
    let mut upstream = pin!(upstream);
    let mut pump = Pump {
        batch: queue.empty_batch(config.batch_size),
        ended: false,
        turn: 0,
    };
    std::future::poll_fn(|cx| loop {
        // A panic upstream fails the flow after the messages already read, which are in the
        // batch: catching it around a poll's run of pulls rather than around the task keeps
        // them, and costs nothing per item.
        let pulled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            pump.poll(cx, upstream.as_mut(), queue, config)
        }));
        match pulled {
            Ok(poll) => return poll,
            Err(panic) => {
                pump.batch.push(Message::Control(Control::Failed(Box::new(
                    Error::Panicked {
                        message: panic_message(panic),
                    },
                ))));
                pump.ended = true;
            }
        }
    })
    .await
}

/// The upstream task's batch being filled and where it stands.
struct Pump<T> {
    batch: Batch<T>,
    ended: bool,
    /// Full batches handed over so far.
    turn: u32,
}

impl<T> Pump<T> {
    /// Pulls messages into the batch and hands it over when full, until the upstream part or the
    /// queue makes the task wait, or the task's turn is over.
    fn poll<S>(
        &mut self,
        cx: &mut Context<'_>,
        mut upstream: Pin<&mut S>,
        queue: &Queue<T>,
        config: StageConfig,
    ) -> Poll<()>
    where
        S: Stream<Item = Message<T>>,
    {
        let batch = &mut self.batch;
        loop {
            let full = batch.len() >= config.batch_size;
            if full || (self.ended && !batch.is_empty()) {
                match ready!(queue.poll_flush(cx, batch)) {
                    Flushed::Sent => {}
                    Flushed::SentAndWoke => {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Flushed::Closed => return Poll::Ready(()),
                    Flushed::Overflowed => {
                        overflowed(batch, config.capacity);
                        self.ended = true;
                        continue;
                    }
                }
                if full {
                    self.turn += 1;
                    if self.turn.is_multiple_of(BATCHES_PER_TURN) {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
            if self.ended {
                return Poll::Ready(());
            }
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Data(item))) => batch.push_data(item),
                Poll::Ready(Some(message)) => {
                    self.ended =
                        matches!(&message, Message::Control(control) if control.is_terminal());
                    batch.push(message);
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending if batch.is_empty() => return Poll::Pending,
                // Nothing more for now: hand over what there is rather than hold it back.
                Poll::Pending => match ready!(queue.poll_flush(cx, batch)) {
                    Flushed::Sent | Flushed::SentAndWoke => return Poll::Pending,
                    Flushed::Closed => return Poll::Ready(()),
                    Flushed::Overflowed => {
                        overflowed(batch, config.capacity);
                        self.ended = true;
                    }
                },
            }
        }
    }
}

/// [`Overflow::Fail`](crate::channel::Overflow::Fail): the pipeline fails here, with the batch
/// that did not fit replaced by the failure; nothing after it is read.
fn overflowed<T>(batch: &mut Batch<T>, capacity: usize) {
    batch.messages.clear();
    batch.data = 0;
    batch.push(Message::Control(Control::Failed(Box::new(
        Error::Overflow { capacity },
    ))));
}
