//! Graceful shutdown on a cancellation token.

use futures_core::Stream;
use tokio_util::sync::CancellationToken;

use super::Flow;
use crate::operators::{Shutdown, StopOn};
use crate::source::Source;
use crate::Message;

impl<S, T> Flow<S>
where
    S: Source + Stream<Item = Message<T>>,
{
    /// Stops the source when `token` is cancelled, for a graceful shutdown of the whole flow.
    ///
    /// Call it on the source, before any operator. When the token is cancelled the source stops
    /// taking input (a [`channel`](crate::source::channel) source closes: senders get their items
    /// back, and the items it already accepted still flow through), then the input ends as
    /// `shutdown` says: with [`Shutdown::Flush`] every operator flushes (windows fire, sinks
    /// close); with [`Shutdown::KeepState`] operators keep their state. Everything in flight
    /// downstream (stage queues, partitions) is drained in order, so no accepted item is lost,
    /// and every task of the flow ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{CancellationToken, Flow, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let token = CancellationToken::new();
    /// let (tx, source) = rheoflow::source::channel(16)?;
    /// let running = tokio::spawn(
    ///     source
    ///         .stop_on(token.clone(), Shutdown::Flush)
    ///         .map(|x: u32| x * 2)
    ///         .collect::<Vec<_>>(),
    /// );
    /// tx.send(1).await.ok();
    /// tx.send(2).await.ok();
    /// token.cancel();
    /// // Accepted before the shutdown: delivered. After it: handed back.
    /// assert_eq!(running.await.unwrap()?, [2, 4]);
    /// assert_eq!(tx.send(3).await.unwrap_err().into_inner(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stop_on(self, token: CancellationToken, shutdown: Shutdown) -> Flow<StopOn<S>> {
        self.chain("stop_on", |source, _| StopOn::new(source, token, shutdown))
    }
}
