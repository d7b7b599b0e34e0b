//! Sinks: where a flow's items go.
//!
//! A [`Sink`] takes items in batches, asynchronously. Run a flow into one with
//! [`Flow::send_to`](crate::Flow::send_to) or [`Flow::spawn`](crate::Flow::spawn).
//!
//! Guarantees, worded like Flink's: the sinks run with [`Flow::send_to`](crate::Flow::send_to)
//! are at-least-once — after a failure and a replay from a checkpoint, items written since that
//! checkpoint are written again. A [two-phase-commit](TwoPhaseCommit) sink run with
//! [`Flow::send_exactly_once`](crate::Flow::send_exactly_once) is exactly-once end to end, given
//! a replayable source ([`Source::seek`](crate::source::Source::seek)): its output becomes
//! visible only once the checkpoint that covers it is complete, and recovery commits or discards
//! what a crash left pending. [`ExactlyOnceJsonLines`] is such a sink for JSON-lines files.

mod channel;
mod collect;
mod exactly_once;
mod for_each;
mod json_lines;
mod transactional;

pub use channel::{Channel, ChannelClosed};
pub use collect::Collect;
pub use exactly_once::{exactly_once_json_lines, ExactlyOnceJsonLines, PendingAppend};
pub use for_each::ForEach;
pub use json_lines::{stdout, JsonLines};
pub(crate) use transactional::run as run_exactly_once;
pub use transactional::TwoPhaseCommit;

use crate::error::SinkError;

/// A destination for a flow's items, written in batches.
///
/// The per-batch methods are `async` (through `async-trait`): one boxed future per batch, never
/// per item.
///
/// # Examples
///
/// A sink that sums what it receives:
///
/// ```
/// use rheoflow::error::SinkError;
/// use rheoflow::{Flow, Sink};
///
/// #[derive(Default)]
/// struct Sum(u64);
///
/// #[async_trait::async_trait]
/// impl Sink<u64> for Sum {
///     async fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), SinkError> {
///         self.0 += batch.iter().sum::<u64>();
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let sum = Flow::from_iter(1..=100u64).send_to(Sum::default()).await?;
/// assert_eq!(sum.0, 5050);
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait Sink<T: Send + 'static>: Send {
    /// Writes a batch of items, in order. The sink may drain `batch`; the caller clears it
    /// afterwards and reuses its allocation.
    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError>;

    /// Makes everything written so far durable or visible. Called at every checkpoint barrier.
    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Flushes and releases the sink at the end of input.
    async fn close(&mut self) -> Result<(), SinkError> {
        self.flush().await
    }
}
