//! What every operator with several outputs shares: the upstream task that hands each message to
//! the queues of the outputs, and the output side that starts that task and reads its queue.
//!
//! [`Broadcast`](super::Broadcast) and [`Route`](super::Route) differ only in where a data item
//! goes (every output, shared by `Arc`, or exactly one); that choice is the `dispatch` closure
//! given to [`outputs`]. Control messages go to every output, in their place among the data;
//! the partitions of a parallel flow get watermarks lazily, each just before it needs one (see
//! [`outputs`]).

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
use crate::{Control, Error, Message, Timestamp};

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
    #[inline(always)]
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
/// `dispatch(item, outputs)` adds `item` to the batches of the outputs it goes to with
/// [`Outputs::push_data`], skipping those that are not open (dropped), and returns the length of
/// the longest batch it added to (the batches are handed over once one is full), or the error
/// that fails every output.
///
/// With `lazy_watermarks`, an output is handed the latest watermark only when it needs it: just
/// before its next data item, before any other control message, and when its batch is handed
/// over. Outputs that get a fraction of the data (partitions) then see exactly the watermarks
/// they would see if every one were sent to every output and each run of them merged into its
/// last, and the upstream task touches one batch per item instead of every batch per watermark.
pub(crate) fn outputs<S, T, U, D>(
    upstream: S,
    config: StageConfig,
    queues: Vec<Arc<Queue<U>>>,
    lazy_watermarks: bool,
    dispatch: D,
) -> Vec<Output<U>>
where
    S: Stream<Item = Message<T>> + Send + 'static,
    D: FnMut(T, &mut Outputs<U>) -> Result<usize, Error> + Send + 'static,
    T: Send + 'static,
    U: Send + 'static,
{
    let receivers: Vec<Receiver<U>> = queues
        .iter()
        .map(|queue| Receiver::new(Arc::clone(queue)))
        .collect();
    let launch: Launch =
        Box::new(move || tokio::spawn(run(upstream, queues, config, lazy_watermarks, dispatch)));
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
    lazy_watermarks: bool,
    dispatch: D,
) where
    S: Stream<Item = Message<T>>,
    D: FnMut(T, &mut Outputs<U>) -> Result<usize, Error>,
{
    let _close = CloseOnDrop(&queues);
    let pumped =
        AssertUnwindSafe(pump(upstream, &queues, config, lazy_watermarks, dispatch)).catch_unwind();
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
    lazy_watermarks: bool,
    mut dispatch: D,
) where
    S: Stream<Item = Message<T>>,
    D: FnMut(T, &mut Outputs<U>) -> Result<usize, Error>,
{
    let mut upstream = pin!(upstream);
    let mut outputs = Outputs {
        batches: queues
            .iter()
            .map(|queue| queue.empty_batch(config.batch_size))
            .collect(),
        open: vec![true; queues.len()],
        lazy: lazy_watermarks.then(|| LazyWatermarks {
            latest: Timestamp::MIN,
            handed: vec![Timestamp::MIN; queues.len()],
        }),
    };
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
            for (at, queue) in queues.iter().enumerate() {
                if !outputs.open[at] {
                    continue;
                }
                let full = outputs.batches[at].len() >= config.batch_size;
                if full || flush_all {
                    // A batch handed over carries the latest watermark.
                    outputs.catch_up(at);
                }
                let batch = &mut outputs.batches[at];
                if !(full || (flush_all && !batch.is_empty())) {
                    continue;
                }
                match queue.poll_flush(cx, batch) {
                    // The queue keeps the waker: it wakes this task when its output makes room.
                    Poll::Pending => blocked = true,
                    Poll::Ready(Flushed::Sent) => {}
                    Poll::Ready(Flushed::SentAndWoke) => woke = true,
                    Poll::Ready(Flushed::Closed) => outputs.open[at] = false,
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
                for batch in outputs.batches.iter_mut() {
                    batch.messages.clear();
                    batch.data = 0;
                }
                outputs.push_control(failure);
                ended = true;
                flush_all = true;
                continue;
            }
            if blocked {
                return Poll::Pending;
            }
            if !outputs.open.contains(&true) {
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
                    Poll::Ready(Some(Message::Data(item))) => match dispatch(item, &mut outputs) {
                        Ok(longest) if longest >= config.batch_size => return Pulled::More,
                        Ok(_) => {}
                        Err(error) => return Pulled::Failed(error),
                    },
                    Poll::Ready(Some(Message::Control(control))) => {
                        if let (Control::Watermark(watermark), Some(lazy)) =
                            (&control, outputs.lazy.as_mut())
                        {
                            lazy.latest = *watermark;
                            continue;
                        }
                        let terminal = control.is_terminal();
                        outputs.push_control(control);
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
                    if outputs.batches.iter().all(Batch::is_empty) && outputs.caught_up() {
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
                outputs.push_control(failure);
                ended = true;
                flush_all = true;
            }
        }
    })
    .await
}

/// The batches of a fan-out's outputs while the upstream task fills them.
pub(crate) struct Outputs<U> {
    batches: Vec<Batch<U>>,
    /// Outputs not dropped yet.
    open: Vec<bool>,
    /// With lazy watermarks: the latest one, and the last one each output was handed.
    lazy: Option<LazyWatermarks>,
}

struct LazyWatermarks {
    /// `Timestamp::MIN` until the first watermark: a watermark at `MIN` says nothing.
    latest: Timestamp,
    handed: Vec<Timestamp>,
}

impl<U> Outputs<U> {
    /// How many outputs there are.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether output `at` still wants items (it was not dropped).
    #[inline]
    pub(crate) fn is_open(&self, at: usize) -> bool {
        self.open[at]
    }

    /// Adds a data item to output `at`'s batch, after the latest watermark if that output was
    /// not handed it yet; returns the batch's length.
    #[inline(always)]
    pub(crate) fn push_data(&mut self, at: usize, item: U) -> usize {
        self.catch_up(at);
        let batch = &mut self.batches[at];
        batch.push_data(item);
        batch.len()
    }

    /// Hands output `at` the latest watermark, if it does not have it yet. Always inline: it is
    /// on the path of every routed item.
    #[inline(always)]
    fn catch_up(&mut self, at: usize) {
        if let Some(lazy) = self.lazy.as_mut() {
            if lazy.handed[at] != lazy.latest {
                lazy.handed[at] = lazy.latest;
                self.batches[at].push_watermark(lazy.latest);
            }
        }
    }

    /// Whether every open output was handed the latest watermark.
    fn caught_up(&self) -> bool {
        self.lazy.as_ref().is_none_or(|lazy| {
            (0..self.len()).all(|at| !self.open[at] || lazy.handed[at] == lazy.latest)
        })
    }

    /// Adds a control message to every open output's batch, each after the latest watermark.
    fn push_control(&mut self, control: Control) {
        for at in 0..self.len() {
            if !self.open[at] {
                continue;
            }
            self.catch_up(at);
            self.batches[at].push(Message::Control(control.clone()));
        }
    }
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
