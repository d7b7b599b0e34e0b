use std::fmt;

use tokio::sync::mpsc;

use super::Sink;
use crate::error::SinkError;

/// A sink that sends every item into a bounded tokio [`mpsc`] channel.
///
/// Use it to hand a flow's output to another task of the host service: a request handler, a
/// writer task, or a second flow built with [`Flow::from_stream`](crate::Flow::from_stream) over
/// a `ReceiverStream`. The sender is dropped when the flow closes the sink at the end of input,
/// so the receiver sees the channel end (`recv` returns `None`) even while the returned sink is
/// still held, for example inside an unawaited [`FlowTask`](crate::FlowTask).
///
/// # Errors
///
/// If the receiver is dropped, [`Sink::write`] returns a [`SinkError`] wrapping
/// [`ChannelClosed`], which says how many items of the batch were not delivered. Items after the
/// failing batch are not written.
///
/// # Backpressure
///
/// True async backpressure: each item waits for room in the channel, so a slow receiver slows the
/// flow down instead of buffering without bound.
///
/// # Cancel safety
///
/// Dropping a pending `write` drops the items of the batch not yet sent; those sent stay sent.
/// [`Flow::send_to`](crate::Flow::send_to) never does this unless its own future is dropped.
///
/// # Examples
///
/// ```
/// use rheoflow::{sink, Flow};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let (tx, mut rx) = tokio::sync::mpsc::channel(4);
/// let task = Flow::from_iter(1..=10u32).map(|x| x * x).spawn(sink::Channel::new(tx));
///
/// let mut squares = Vec::new();
/// while let Some(square) = rx.recv().await {
///     squares.push(square);
/// }
/// task.await?;
/// assert_eq!(squares.len(), 10);
/// assert_eq!(squares[9], 100);
/// # Ok(())
/// # }
/// ```
pub struct Channel<T> {
    tx: Option<mpsc::Sender<T>>,
}

impl<T> Channel<T> {
    /// Creates a sink that sends into `tx`.
    pub fn new(tx: mpsc::Sender<T>) -> Self {
        Channel { tx: Some(tx) }
    }

    /// Returns `true` once the sink was closed or the receiver was dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.as_ref().is_none_or(mpsc::Sender::is_closed)
    }
}

impl<T> From<mpsc::Sender<T>> for Channel<T> {
    fn from(tx: mpsc::Sender<T>) -> Self {
        Channel::new(tx)
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[async_trait::async_trait]
impl<T: Send + 'static> Sink<T> for Channel<T> {
    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError> {
        let Some(tx) = &self.tx else {
            return Err(SinkError::new(ChannelClosed::new(batch.len())));
        };
        let mut items = batch.drain(..);
        while let Some(item) = items.next() {
            if tx.send(item).await.is_err() {
                return Err(SinkError::new(ChannelClosed::new(1 + items.len())));
            }
        }
        Ok(())
    }

    /// Drops the sender, so the receiver sees the end of the channel once it has read every item.
    async fn close(&mut self) -> Result<(), SinkError> {
        self.tx = None;
        Ok(())
    }
}

/// The receiver of a [`Channel`] sink was dropped before every item was delivered.
///
/// # Examples
///
/// ```
/// use rheoflow::{sink, Error, Flow};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (tx, rx) = tokio::sync::mpsc::channel::<u32>(8);
/// drop(rx);
/// let err = Flow::from_iter(0..3u32).send_to(sink::Channel::new(tx)).await.unwrap_err();
/// assert!(matches!(err, Error::Sink(_)));
/// assert_eq!(err.to_string(), "sink failed: channel receiver dropped: 3 items not delivered");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel receiver dropped: {undelivered} items not delivered")]
pub struct ChannelClosed {
    undelivered: usize,
}

impl ChannelClosed {
    /// Creates the error for a batch of which `undelivered` items were not sent.
    pub fn new(undelivered: usize) -> Self {
        ChannelClosed { undelivered }
    }

    /// How many items of the failing batch were not delivered.
    pub fn undelivered(&self) -> usize {
        self.undelivered
    }
}
