//! What every operator with several outputs shares: the upstream task that hands each message to
//! the queues of the outputs, and the output side that starts that task and reads its queue.
//!
//! [`Broadcast`](super::Broadcast) and [`Route`](super::Route) differ only in where a data item
//! goes (every output, shared by `Arc`, or exactly one); that choice is the `dispatch` closure
//! given to [`outputs`]. Control messages go to every output, in their place among the data.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::FutureExt;
use tokio::task::JoinHandle;

use super::stage::Receiver;
use crate::channel::queue::{Batch, CloseOnDrop, Flushed, Queue};
use crate::channel::StageConfig;
use crate::error::panic_message;
use crate::{Control, Error, Message};

/// How many batches' worth of messages the upstream task reads in one poll at most before it lets
/// other tasks run, when nothing makes it wait (a dropping overflow strategy, or items routed to
/// dropped outputs).
const BATCHES_PER_TURN: usize = 8;

/// Starts the upstream task; taken by the first output polled.
type Launch = Box<dyn FnOnce() -> JoinHandle<()> + Send>;

/// The upstream task of a fan-out, shared by its outputs: started by the first output polled,
/// aborted when the last output is dropped.
struct Upstream {
    state: Mutex<State>,
}

struct State {
    launch: Option<Launch>,
    task: Option<JoinHandle<()>>,
}

impl Upstream {
    fn start(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(launch) = state.launch.take() {
            state.task = Some(launch());
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = state.task.take() {
            task.abort();
        }
    }
}

/// One output of a fan-out: reads its queue, and starts the shared upstream task when first
/// polled. Dropping it closes its queue (the upstream task stops handing it anything); dropping
/// the last one stops the upstream task.
pub(crate) struct Output<U> {
    receiver: Receiver<U>,
    upstream: Arc<Upstream>,
    started: bool,
}

impl<U> Output<U> {
    /// The next message of this output; `None` after a terminal message or once the upstream
    /// task is done.
    #[inline]
    pub(crate) fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message<U>>> {
        if !self.started {
            self.started = true;
            self.upstream.start();
        }
        self.receiver.poll_message(cx)
    }

    /// Data items queued for this output or held by it.
    pub(crate) fn depth(&self) -> usize {
        self.receiver.queue.depth()
    }
}

impl<U> fmt::Debug for Output<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("started", &self.started)
            .field("depth", &self.depth())
            .finish()
    }
}

/// Builds the outputs of a fan-out over `queues` (one per output, in order), whose upstream task
/// pulls `upstream` and hands each data item to `dispatch`, each control message to every output.
///
/// `dispatch(item, batches, open)` adds `item` to the batches of the outputs it goes to, skipping
/// those that are not `open` (dropped), and returns the length of the longest batch it added to
/// (the batches are handed over once one is full), or the error that fails every output.
///
/// With `coalesce_watermarks`, a watermark that follows another one in an output's batch, with no
/// data between them, replaces it: outputs that get a fraction of the data (partitions) then get
/// no run of watermarks, only the last of each.
pub(crate) fn outputs<S, T, U, D>(
    upstream: S,
    config: StageConfig,
    queues: Vec<Arc<Queue<U>>>,
    coalesce_watermarks: bool,
    dispatch: D,
) -> Vec<Output<U>>
where
    S: Stream<Item = Message<T>> + Send + 'static,
    D: FnMut(T, &mut [Batch<U>], &[bool]) -> Result<usize, Error> + Send + 'static,
    T: Send + 'static,
    U: Send + 'static,
{
    let receivers: Vec<Receiver<U>> = queues
        .iter()
        .map(|queue| Receiver::new(Arc::clone(queue)))
        .collect();
    let launch: Launch = Box::new(move || {
        tokio::spawn(run(upstream, queues, config, coalesce_watermarks, dispatch))
    });
    let upstream = Arc::new(Upstream {
        state: Mutex::new(State {
            launch: Some(launch),
            task: None,
        }),
    });
    receivers
        .into_iter()
        .map(|receiver| Output {
            receiver,
            upstream: Arc::clone(&upstream),
            started: false,
        })
        .collect()
}

/// The upstream task. A panic that escapes [`pump`] reaches every output as a failure.
async fn run<S, T, U, D>(
    upstream: S,
    queues: Vec<Arc<Queue<U>>>,
    config: StageConfig,
    coalesce_watermarks: bool,
    dispatch: D,
) where
    S: Stream<Item = Message<T>>,
    D: FnMut(T, &mut [Batch<U>], &[bool]) -> Result<usize, Error>,
{
    let _close = CloseOnDrop(&queues);
    let pumped = AssertUnwindSafe(pump(
        upstream,
        &queues,
        config,
        coalesce_watermarks,
        dispatch,
    ))
    .catch_unwind();
    if let Err(panic) = pumped.await {
        let failure = Control::Failed(Box::new(Error::Panicked {
            message: panic_message(panic),
        }));
        for queue in &queues {
            let mut batch = Batch::with_capacity(1);
            batch.push(Message::Control(failure.clone()));
            // A control message always fits; a gone output needs nothing.
            std::future::poll_fn(|cx| queue.poll_flush(cx, &mut batch).map(drop)).await;
        }
    }
}

/// Pulls `upstream` and hands its messages to the outputs' queues in batches, one batch per
/// output. A batch is handed over when full, when the input has nothing ready, and at the end.
///
/// Under [`Overflow::Block`](crate::channel::Overflow::Block) a full batch that an output's queue
/// cannot take yet stops the pulling until it can: the slowest output sets the pace. The batches
/// of the other outputs are still handed over, so they do not wait for data that was read.
async fn pump<S, T, U, D>(
    upstream: S,
    queues: &[Arc<Queue<U>>],
    config: StageConfig,
    coalesce_watermarks: bool,
    mut dispatch: D,
) where
    S: Stream<Item = Message<T>>,
    D: FnMut(T, &mut [Batch<U>], &[bool]) -> Result<usize, Error>,
{
    let mut upstream = pin!(upstream);
    let mut batches: Vec<Batch<U>> = queues
        .iter()
        .map(|queue| queue.empty_batch(config.batch_size))
        .collect();
    // Outputs not dropped yet.
    let mut open = vec![true; queues.len()];
    let mut ended = false;
    // Hand over every non-empty batch, not only full ones (input paused or ended).
    let mut flush_all = false;
    std::future::poll_fn(|cx| {
        let mut budget = BATCHES_PER_TURN.saturating_mul(config.batch_size);
        // The input had nothing ready in this poll, so it will wake the task when it has. Only
        // for this poll: a wake-up that comes later may be that very one.
        let mut input_pending = false;
        loop {
            let mut blocked = false;
            let mut woke = false;
            let mut overflowed = false;
            for (at, (queue, batch)) in queues.iter().zip(batches.iter_mut()).enumerate() {
                let full = batch.len() >= config.batch_size;
                if !open[at] || !(full || (flush_all && !batch.is_empty())) {
                    continue;
                }
                match queue.poll_flush(cx, batch) {
                    // The queue keeps the waker: it wakes this task when its output makes room.
                    Poll::Pending => blocked = true,
                    Poll::Ready(Flushed::Sent) => {}
                    Poll::Ready(Flushed::SentAndWoke) => woke = true,
                    Poll::Ready(Flushed::Closed) => open[at] = false,
                    Poll::Ready(Flushed::Overflowed) => {
                        overflowed = true;
                        break;
                    }
                }
            }
            if overflowed {
                // Overflow::Fail: every output fails; nothing after this is read.
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
            if blocked {
                return Poll::Pending;
            }
            if !open.contains(&true) {
                // Every output was dropped: nothing downstream wants more.
                return Poll::Ready(());
            }
            flush_all = false;
            if ended {
                return Poll::Ready(());
            }
            if woke {
                // Let an idle worker pick up this task or an output it woke (see `Flushed`).
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if input_pending {
                return Poll::Pending;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // Pull until a batch is full, the input pauses or ends, or the turn's budget is
            // spent. A panic upstream or in `dispatch` fails every output after the messages
            // already read, which are in the batches: catching it around the pulls rather than
            // around the task keeps them, at the cost of one catch per run of pulls.
            let pulled = std::panic::catch_unwind(AssertUnwindSafe(|| loop {
                if budget == 0 {
                    return Pulled::More;
                }
                budget -= 1;
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Message::Data(item))) => {
                        match dispatch(item, &mut batches, &open) {
                            Ok(longest) if longest >= config.batch_size => return Pulled::More,
                            Ok(_) => {}
                            Err(error) => return Pulled::Failed(error),
                        }
                    }
                    Poll::Ready(Some(Message::Control(control))) => {
                        let terminal = control.is_terminal();
                        for (batch, _) in batches.iter_mut().zip(&open).filter(|(_, open)| **open) {
                            match &control {
                                Control::Watermark(watermark) if coalesce_watermarks => {
                                    batch.push_watermark(*watermark)
                                }
                                control => batch.push(Message::Control(control.clone())),
                            }
                        }
                        if terminal {
                            return Pulled::Ended;
                        }
                    }
                    Poll::Ready(None) => return Pulled::Ended,
                    Poll::Pending => return Pulled::Paused,
                }
            }));
            let failure = match pulled {
                Ok(Pulled::More) => None,
                Ok(Pulled::Ended) => {
                    ended = true;
                    flush_all = true;
                    None
                }
                Ok(Pulled::Paused) => {
                    if batches.iter().all(Batch::is_empty) {
                        return Poll::Pending;
                    }
                    // Nothing more for now: hand over what there is rather than hold it back.
                    flush_all = true;
                    input_pending = true;
                    None
                }
                Ok(Pulled::Failed(error)) => Some(error),
                Err(panic) => Some(Error::Panicked {
                    message: panic_message(panic),
                }),
            };
            if let Some(error) = failure {
                let failure = Control::Failed(Box::new(error));
                for (batch, _) in batches.iter_mut().zip(&open).filter(|(_, open)| **open) {
                    batch.push(Message::Control(failure.clone()));
                }
                ended = true;
                flush_all = true;
            }
        }
    })
    .await
}

/// How a run of pulls in [`pump`] ended.
enum Pulled {
    /// A batch is full, or the turn's budget is spent: hand over, then go on.
    More,
    /// The input ended (a terminal message, or the stream stopped).
    Ended,
    /// The input has nothing ready; it wakes the task when it has.
    Paused,
    /// `dispatch` failed an item.
    Failed(Error),
}
