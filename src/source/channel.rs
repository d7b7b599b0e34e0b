use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::error::ConfigError;
use crate::metrics::OperatorCounters;
use crate::{Control, Flow, Message};

/// The most items a [`ChannelSource`] takes out of the channel in one go.
const MAX_BATCH: usize = 64;

/// Creates a bounded channel whose receiving side is a flow: push items into a flow from anywhere.
///
/// Use it to feed a flow from other tasks: an HTTP handler, a socket reader, a timer. Give a clone
/// of the [`Sender`] to each producer; the flow yields the items in the order the channel received
/// them, then [`Control::End`] once every sender is dropped.
///
/// The source registers in the flow's [metrics](crate::metrics) as `"channel-0"` (unless
/// renamed with [`Flow::name`]) and counts its items out, a batch at a time as it takes them out
/// of the channel.
///
/// # Errors
///
/// A zero `capacity` is a [`ConfigError`].
///
/// # Backpressure
///
/// The channel holds at most `capacity` items: [`Sender::send`] waits for room, without spinning,
/// and [`Sender::try_send`] fails with [`TrySendError::Full`]. To save work per item, the flow
/// takes up to `min(capacity, 64)` ready items out of the channel at once and hands them on one by
/// one, so at most `capacity + min(capacity, 64)` items are in flight between the senders and the
/// flow's consumer.
///
/// # Examples
///
/// ```
/// use rheoflow::source;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let (sender, flow) = source::channel::<u32>(16)?;
/// let producer = tokio::spawn(async move {
///     for i in 0..3 {
///         sender.send(i).await.expect("the flow is running");
///     }
///     // Dropping the last sender ends the flow.
/// });
///
/// let items = flow.map(|x| x * 10).collect::<Vec<_>>().await?;
/// assert_eq!(items, [0, 10, 20]);
/// producer.await.expect("producer did not panic");
/// # Ok(())
/// # }
/// ```
pub fn channel<T>(capacity: usize) -> Result<(Sender<T>, Flow<ChannelSource<T>>), ConfigError> {
    if capacity == 0 {
        return Err(ConfigError::new("channel capacity", "greater than zero"));
    }
    let (tx, rx) = mpsc::channel(capacity);
    let flow = Flow::from_source("channel", |counters| ChannelSource {
        rx,
        batch: Vec::new(),
        batch_limit: capacity.min(MAX_BATCH),
        ended: false,
        counters,
    });
    Ok((Sender { tx }, flow))
}

/// The sending side of a [`channel`] source; clone it to give one to each producer.
///
/// `Sender` is `Send + Sync + Clone` and does not borrow the flow, so it can live in other tasks,
/// in an axum handler's state, or behind an `Arc`.
pub struct Sender<T> {
    tx: mpsc::Sender<T>,
}

impl<T> Sender<T> {
    /// Sends `item` to the flow, waiting for room in the channel.
    ///
    /// # Errors
    ///
    /// Returns [`SendError`], which gives `item` back, if the flow was dropped.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before it completes (for example because another branch of
    /// `tokio::select!` won), the item was not sent, but it is dropped with the future. Keep a
    /// copy of the item if you need to retry it, or use [`Sender::try_send`], which never waits.
    ///
    /// # Backpressure
    ///
    /// Waits, without spinning, while the channel is full: a fast producer runs at the speed of
    /// the flow.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::source;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let (sender, flow) = source::channel(4)?;
    /// sender.send("hello").await.expect("the flow is alive");
    /// drop(flow);
    /// let err = sender.send("lost?").await.unwrap_err();
    /// assert_eq!(err.into_inner(), "lost?");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        self.tx.send(item).await.map_err(|err| SendError(err.0))
    }

    /// Sends `item` to the flow if the channel has room now, without waiting.
    ///
    /// Use it where waiting is not an option, for example to answer an HTTP request with
    /// "503 Service Unavailable" while the flow is saturated.
    ///
    /// # Errors
    ///
    /// Returns [`TrySendError::Full`] if the channel is full and [`TrySendError::Closed`] if the
    /// flow was dropped; both give `item` back.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::source::{self, TrySendError};
    ///
    /// # fn main() -> Result<(), rheoflow::Error> {
    /// let (sender, _flow) = source::channel(1)?;
    /// assert!(sender.try_send(1).is_ok());
    /// match sender.try_send(2) {
    ///     Err(TrySendError::Full(item)) => assert_eq!(item, 2),
    ///     other => panic!("expected a full channel, got {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.tx.try_send(item).map_err(|err| match err {
            mpsc::error::TrySendError::Full(item) => TrySendError::Full(item),
            mpsc::error::TrySendError::Closed(item) => TrySendError::Closed(item),
        })
    }

    /// Returns `true` once the flow was dropped: further sends fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::source;
    ///
    /// # fn main() -> Result<(), rheoflow::Error> {
    /// let (sender, flow) = source::channel::<u8>(1)?;
    /// assert!(!sender.is_closed());
    /// drop(flow);
    /// assert!(sender.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.tx.is_closed())
            .finish_non_exhaustive()
    }
}

/// The error of [`Sender::send`]: the flow was dropped. Gives the unsent item back.
///
/// # Examples
///
/// ```
/// use rheoflow::source::SendError;
///
/// let err = SendError::new(7);
/// assert_eq!(err.to_string(), "channel closed");
/// assert_eq!(err.into_inner(), 7);
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel closed")]
pub struct SendError<T>(T);

impl<T> SendError<T> {
    /// Creates the error for the unsent `item`.
    pub fn new(item: T) -> Self {
        SendError(item)
    }

    /// The item that was not sent.
    pub fn get_ref(&self) -> &T {
        &self.0
    }

    /// Consumes the error and returns the item that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError").finish_non_exhaustive()
    }
}

/// The error of [`Sender::try_send`]. Gives the unsent item back.
///
/// # Examples
///
/// ```
/// use rheoflow::source::TrySendError;
///
/// let err = TrySendError::Full("job");
/// assert_eq!(err.to_string(), "channel full");
/// assert!(err.is_full());
/// assert_eq!(err.into_inner(), "job");
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The channel was full; the item may go through later.
    #[error("channel full")]
    Full(T),
    /// The flow was dropped; no item will ever go through.
    #[error("channel closed")]
    Closed(T),
}

impl<T> TrySendError<T> {
    /// Returns `true` if the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Returns `true` if the flow was dropped.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }

    /// Consumes the error and returns the item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(item) | TrySendError::Closed(item) => item,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

/// The source of a [`channel`] flow: yields what the senders send, then [`Control::End`] once
/// every [`Sender`] is dropped.
#[must_use = "streams do nothing unless polled"]
pub struct ChannelSource<T> {
    rx: mpsc::Receiver<T>,
    /// Items taken out of the channel but not yet yielded, in reverse order (the next one last).
    batch: Vec<T>,
    batch_limit: usize,
    ended: bool,
    /// Items out are counted per batch taken from the channel.
    counters: Arc<OperatorCounters>,
}

impl<T> Unpin for ChannelSource<T> {}

impl<T> ChannelSource<T> {
    /// Closes the channel for senders; the items already sent are still delivered.
    pub(crate) fn close(&mut self) {
        self.rx.close();
    }
}

impl<T> Stream for ChannelSource<T> {
    type Item = Message<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(item) = this.batch.pop() {
            return Poll::Ready(Some(Message::Data(item)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        if ready!(this
            .rx
            .poll_recv_many(cx, &mut this.batch, this.batch_limit))
            == 0
        {
            this.ended = true;
            return Poll::Ready(Some(Message::Control(Control::End)));
        }
        this.counters.add_out(this.batch.len() as u64);
        this.batch.reverse();
        match this.batch.pop() {
            Some(item) => Poll::Ready(Some(Message::Data(item))),
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            (self.batch.len(), Some(self.batch.len()))
        } else {
            (self.batch.len(), None)
        }
    }
}

impl<T> fmt::Debug for ChannelSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSource")
            .field("batched", &self.batch.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
