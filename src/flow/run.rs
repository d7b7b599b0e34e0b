//! Running a flow to completion: collect, for_each, into a sink, or on a spawned task.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_util::future::poll_fn;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Flow;
use crate::checkpoint::Participant;
use crate::error::panic_message;
use crate::metrics::OperatorCounters;
use crate::sink::Sink;
use crate::{Control, Error, Message};

/// How many items a flow hands to a [`Sink`] at most in one call.
pub(crate) const SINK_BATCH: usize = 1024;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Runs the flow to its end and collects its items.
    ///
    /// # Errors
    ///
    /// Returns the pipeline's error if it fails; the items collected so far are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let set = Flow::from_iter([2, 1, 2]).collect::<std::collections::BTreeSet<_>>().await?;
    /// assert_eq!(set.into_iter().collect::<Vec<_>>(), [1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn collect<C>(self) -> Result<C, Error>
    where
        C: Default + Extend<T>,
    {
        let mut out = C::default();
        self.for_each(|item| out.extend(Some(item))).await?;
        Ok(out)
    }

    /// Runs the flow to its end, calling `f` with every item.
    ///
    /// # Errors
    ///
    /// Returns the pipeline's error if it fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let mut sum = 0;
    /// Flow::from_iter(1..=4).for_each(|x| sum += x).await?;
    /// assert_eq!(sum, 10);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn for_each<F>(self, mut f: F) -> Result<(), Error>
    where
        F: FnMut(T),
    {
        let participant = self.output_participant(None, "for_each");
        let mut stream = pin!(self.stream);
        // One poll takes every item that is ready, without a trip through the async machinery
        // per item.
        poll_fn(|cx| loop {
            match ready!(stream.as_mut().poll_next(cx)) {
                Some(Message::Data(item)) => f(item),
                Some(Message::Control(Control::Failed(error))) => return Poll::Ready(Err(*error)),
                Some(Message::Control(control)) => {
                    if let Some(participant) = &participant {
                        participant.on_delivered(&control);
                    }
                    if let Control::End = control {
                        return Poll::Ready(Ok(()));
                    }
                }
                None => return Poll::Ready(Ok(())),
            }
        })
        .await
    }

    /// Runs the flow to its end, writing its items to `sink` in batches, and returns the sink.
    ///
    /// Items are handed over in batches of up to 1024, and a partial batch as soon as the flow has
    /// nothing ready, so a slow input does not hold items back. The sink is flushed at every
    /// checkpoint barrier and closed at the end of input.
    ///
    /// The sink registers in the flow's [metrics](crate::metrics) as `"send_to-{n}"` when this is
    /// called: its items in are the items handed to [`Sink::write`], and its latency the time each
    /// `write` took.
    ///
    /// # Errors
    ///
    /// Returns the sink's error, or the pipeline's error if it fails (after writing the items
    /// that came before the failure; the sink is not closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{sink, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let collected = Flow::from_iter(0..3).send_to(sink::Collect::new()).await?;
    /// assert_eq!(collected.into_inner(), [0, 1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_to<K>(self, sink: K) -> impl Future<Output = Result<K, Error>>
    where
        K: Sink<T>,
        T: Send + 'static,
    {
        // Registered now rather than at the first poll, so that it shows in a snapshot taken
        // right after `spawn`.
        let counters = self.metrics.register("send_to");
        let participant = self.output_participant(Some(Arc::clone(&counters)), "send_to");
        self.write_all(sink, counters, participant)
    }

    async fn write_all<K>(
        self,
        mut sink: K,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
    ) -> Result<K, Error>
    where
        K: Sink<T>,
        T: Send + 'static,
    {
        let mut stream = pin!(self.stream);
        let mut batch = Vec::with_capacity(SINK_BATCH);
        loop {
            let next = if batch.is_empty() {
                stream.next().await
            } else {
                match poll_fn(|cx| Poll::Ready(stream.as_mut().poll_next(cx))).await {
                    Poll::Ready(next) => next,
                    Poll::Pending => {
                        write(&mut sink, &mut batch, &counters).await?;
                        continue;
                    }
                }
            };
            match next {
                Some(Message::Data(item)) => {
                    batch.push(item);
                    if batch.len() >= SINK_BATCH {
                        write(&mut sink, &mut batch, &counters).await?;
                    }
                }
                Some(Message::Control(Control::Barrier(barrier))) => {
                    write(&mut sink, &mut batch, &counters).await?;
                    sink.flush().await?;
                    // Everything before the barrier is in the sink: at-least-once.
                    if let Some(participant) = &participant {
                        participant.on_delivered(&Control::Barrier(barrier));
                    }
                }
                Some(Message::Control(Control::Failed(error))) => {
                    write(&mut sink, &mut batch, &counters).await?;
                    return Err(*error);
                }
                end @ (Some(Message::Control(Control::End)) | None) => {
                    write(&mut sink, &mut batch, &counters).await?;
                    sink.close().await?;
                    if let (Some(participant), Some(_)) = (&participant, end) {
                        participant.on_delivered(&Control::End);
                    }
                    return Ok(sink);
                }
                Some(Message::Control(_)) => {}
            }
        }
    }

    /// Runs the flow on a new tokio task, writing its items to `sink`.
    ///
    /// The returned [`FlowTask`] resolves to the sink once the flow ends. A panic on the task is
    /// caught and returned as [`Error::Panicked`]; it never brings down the host service.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{sink, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let task = Flow::from_iter(0..3).map(|x| x + 1).spawn(sink::Collect::new());
    /// assert_eq!(task.await?.into_inner(), [1, 2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<K>(self, sink: K) -> FlowTask<K>
    where
        S: Send + 'static,
        K: Sink<T> + 'static,
        T: Send + 'static,
    {
        FlowTask {
            handle: tokio::spawn(self.send_to(sink)),
        }
    }
}

/// Writes `batch` to `sink`, counting its items and the time the write took.
async fn write<K, T>(
    sink: &mut K,
    batch: &mut Vec<T>,
    counters: &OperatorCounters,
) -> Result<(), Error>
where
    K: Sink<T>,
    T: Send + 'static,
{
    if batch.is_empty() {
        return Ok(());
    }
    let items = batch.len() as u64;
    let started = Instant::now();
    let result = sink.write(batch).await;
    counters.record_latency(started.elapsed(), 1);
    counters.add_in(items);
    batch.clear();
    result.map_err(Error::from)
}

/// A flow running on its own tokio task, created by [`Flow::spawn`].
///
/// Await it for the sink (or the error). Dropping it lets the flow run on; [`FlowTask::abort`]
/// stops it.
///
/// # Cancel safety
///
/// Awaiting a `FlowTask` in `tokio::select!` is cancel safe: the flow keeps running.
#[derive(Debug)]
#[must_use = "dropping a FlowTask detaches the flow; await it to see its result"]
pub struct FlowTask<K> {
    handle: JoinHandle<Result<K, Error>>,
}

impl<K> FlowTask<K> {
    /// Stops the flow at its next await point. Awaiting the task afterwards returns an error.
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// Returns `true` once the flow has ended, failed or been aborted.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl<K> Future for FlowTask<K> {
    type Output = Result<K, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|joined| match joined {
                Ok(result) => result,
                Err(err) if err.is_panic() => Err(Error::Panicked {
                    message: panic_message(err.into_panic()),
                }),
                Err(_) => Err(Error::Aborted),
            })
    }
}
