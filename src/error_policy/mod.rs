//! Error policies: what happens to a record that fails.
//!
//! A record that fails to decode, a fallible operator ([`Flow::try_map`](crate::Flow::try_map) and
//! friends) that returns an error, or a user closure that panics, hands the failed record to the
//! [`ErrorPolicy`] chosen for that operator:
//!
//! - [`ErrorPolicy::skip`]: drop the record and count it ([`DropReason::Skipped`]).
//! - [`ErrorPolicy::dead_letter`]: send the record, its position and the error to a dead-letter
//!   output, itself a [`Flow`](crate::Flow) ([`DropReason::DeadLettered`]).
//! - [`ErrorPolicy::fail`]: stop the pipeline with a typed [`Error::Record`] that names the record
//!   ([`DropReason::Failed`]).
//!
//! Every failed record is counted in the operator's [metrics](crate::metrics), so nothing is lost
//! silently.
//!
//! A caught panic leaves the closure's captured state as the panic left it; the operator goes on
//! calling it. Panics can only be caught when the crate is built with `panic = "unwind"` (the
//! default).

mod dead_letter;

pub use dead_letter::{channel, DeadLetter, DeadLetterSender, DeadLetterSource, RawRecord};

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::{FailedRecord, RecordError};
use crate::metrics::{DropReason, OperatorCounters};
use crate::Error;

/// What to do with a record that fails; `R` is the type of the record kept for a dead letter.
///
/// # Examples
///
/// Send the lines that do not parse to a dead-letter flow, consumed beside the main one:
///
/// ```
/// use rheoflow::error_policy::{self, ErrorPolicy};
/// use rheoflow::Flow;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let (dead_letters, dead) = error_policy::channel(16)?;
/// let numbers = Flow::from_iter(["1", "2", "three"])
///     .try_map(|s: &&str| s.parse::<u32>(), ErrorPolicy::dead_letter(dead_letters))
///     .collect::<Vec<_>>();
/// let (numbers, dead) = tokio::join!(numbers, dead.collect::<Vec<_>>());
///
/// assert_eq!(numbers?, [1, 2]);
/// let dead = dead?;
/// assert_eq!(dead[0].record(), &"three");
/// assert_eq!(dead[0].index(), 2);
/// # Ok(())
/// # }
/// ```
pub struct ErrorPolicy<R> {
    action: Action<R>,
}

enum Action<R> {
    Skip,
    DeadLetter(DeadLetterSender<R>),
    Fail,
}

impl<R> ErrorPolicy<R> {
    /// Drops failed records and counts them as [`DropReason::Skipped`].
    pub fn skip() -> Self {
        ErrorPolicy {
            action: Action::Skip,
        }
    }

    /// Sends failed records to the dead-letter output behind `sender`, counted as
    /// [`DropReason::DeadLettered`].
    ///
    /// # Backpressure
    ///
    /// The dead-letter channel is bounded: when it is full, the operator waits until the
    /// dead-letter flow takes a record, so consume both flows at once (`tokio::join!`, or a
    /// spawned task). If the dead-letter flow is dropped, further failed records are counted as
    /// [`DropReason::Skipped`].
    pub fn dead_letter(sender: DeadLetterSender<R>) -> Self {
        ErrorPolicy {
            action: Action::DeadLetter(sender),
        }
    }

    /// Stops the pipeline at the first failed record with [`Error::Record`], counted as
    /// [`DropReason::Failed`].
    pub fn fail() -> Self {
        ErrorPolicy {
            action: Action::Fail,
        }
    }
}

impl<R> fmt::Debug for ErrorPolicy<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.action {
            Action::Skip => "ErrorPolicy::Skip",
            Action::DeadLetter(_) => "ErrorPolicy::DeadLetter",
            Action::Fail => "ErrorPolicy::Fail",
        })
    }
}

/// The per-operator side of a policy: applies it and holds a dead letter waiting for room.
pub(crate) struct PolicyHandler<R> {
    policy: ErrorPolicy<R>,
    counters: Arc<OperatorCounters>,
    pending: Option<DeadLetter<R>>,
}

impl<R: Send + 'static> PolicyHandler<R> {
    pub(crate) fn new(policy: ErrorPolicy<R>, counters: Arc<OperatorCounters>) -> Self {
        PolicyHandler {
            policy,
            counters,
            pending: None,
        }
    }

    /// The counters of the operator the policy belongs to.
    #[inline]
    pub(crate) fn counters(&self) -> &OperatorCounters {
        &self.counters
    }

    /// Sends the dead letter that waits for room, if any. Call before taking the next record.
    #[inline]
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.pending.is_none() {
            return Poll::Ready(());
        }
        let Action::DeadLetter(sender) = &mut self.policy.action else {
            return Poll::Ready(());
        };
        match sender.poll_send(cx, &mut self.pending) {
            Poll::Ready(Ok(())) => self.counters.drop_one(DropReason::DeadLettered),
            Poll::Ready(Err(())) => {
                tracing::warn!("dead-letter output dropped; counting the failed record as skipped");
                self.counters.drop_one(DropReason::Skipped);
            }
            Poll::Pending => return Poll::Pending,
        }
        Poll::Ready(())
    }

    /// Applies the policy to a failed record. Returns the pipeline's error under
    /// [`ErrorPolicy::fail`]; a dead letter is sent by the next [`PolicyHandler::poll_ready`].
    #[cold]
    pub(crate) fn fail(&mut self, dead: DeadLetter<R>) -> Option<Error> {
        match &self.policy.action {
            Action::Skip => {
                self.counters.drop_one(DropReason::Skipped);
                None
            }
            Action::DeadLetter(_) => {
                self.pending = Some(dead);
                None
            }
            Action::Fail => {
                self.counters.drop_one(DropReason::Failed);
                let (index, offset, error) = (dead.index(), dead.offset(), dead.into_error());
                Some(Error::Record(FailedRecord::new(index, offset, error)))
            }
        }
    }
}

impl<R> fmt::Debug for PolicyHandler<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyHandler")
            .field("policy", &self.policy)
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

/// Runs `f`, turning a panic into a [`RecordError::Panicked`].
#[inline]
pub(crate) fn catch_panic<U>(f: impl FnOnce() -> U) -> Result<U, RecordError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(RecordError::panicked)
}
