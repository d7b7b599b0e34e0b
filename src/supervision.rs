//! Supervision: restarting a failed flow from its last complete checkpoint.
//!
//! [`supervise`] runs a flow built by a closure on its own task. When the flow fails — an error
//! or a panic anywhere in it — it waits as the [`RestartStrategy`] says and builds the flow
//! again. A flow that opens its [`Checkpoints`](crate::checkpoint::Checkpoints) on the same
//! store each time resumes from the newest complete checkpoint: its state is exactly-once, and
//! its input is read again from the checkpointed position.

use std::future::Future;
use std::time::Duration;

use crate::error::panic_message;
use crate::Error;

/// How [`supervise`] restarts a failed flow: the delay before each restart and how many
/// attempts it makes in all.
///
/// # Examples
///
/// ```
/// use rheoflow::supervision::RestartStrategy;
/// use std::time::Duration;
///
/// let backoff = RestartStrategy::exponential_backoff(
///     Duration::from_millis(100),
///     Duration::from_secs(1),
///     5,
/// );
/// assert_eq!(backoff.delay_before(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay_before(2), Duration::from_millis(200));
/// assert_eq!(backoff.delay_before(4), Duration::from_millis(800));
/// assert_eq!(backoff.delay_before(5), Duration::from_secs(1));
/// assert_eq!(backoff.max_attempts(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartStrategy {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    max_attempts: u32,
}

impl RestartStrategy {
    /// Runs the flow once: no restart.
    pub fn none() -> Self {
        RestartStrategy::fixed_delay(Duration::ZERO, 1)
    }

    /// Restarts after `delay` every time, making at most `max_attempts` runs in all (at least
    /// one).
    pub fn fixed_delay(delay: Duration, max_attempts: u32) -> Self {
        RestartStrategy {
            initial: delay,
            max: delay,
            multiplier: 1.0,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Restarts after `initial`, doubling the delay after each failure up to `max`, making at
    /// most `max_attempts` runs in all (at least one).
    pub fn exponential_backoff(initial: Duration, max: Duration, max_attempts: u32) -> Self {
        RestartStrategy {
            initial,
            max: max.max(initial),
            multiplier: 2.0,
            max_attempts: max_attempts.max(1),
        }
    }

    /// How many runs are made at most, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before restart number `restart` (from 1: the first restart, after the first
    /// failure).
    pub fn delay_before(&self, restart: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(restart.saturating_sub(1).min(1_000) as i32);
        let delay = self.initial.as_secs_f64() * factor;
        if delay >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(delay)
        }
    }
}

/// Runs the flow that `run` builds and runs, restarting it as `strategy` says when it fails.
///
/// `run` gets the attempt number (from 1). Each attempt runs on its own tokio task, so a panic
/// anywhere in the flow is caught and counts as a failure ([`Error::Panicked`]), like an error.
/// Each failure is logged with [`tracing::warn!`]. Delays use tokio's clock, so tests run under
/// paused time.
///
/// To resume where the failed run stopped, open the flow's
/// [`Checkpoints`](crate::checkpoint::Checkpoints) inside `run` on a store that outlives it:
/// each attempt then restores the newest complete checkpoint.
///
/// # Errors
///
/// The error of the last attempt when every attempt failed.
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`].
///
/// # Examples
///
/// A running count that fails once in the middle and resumes from its checkpoint: every word
/// is counted exactly once.
///
/// ```
/// use rheoflow::aggregate::Count;
/// use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger};
/// use rheoflow::supervision::{supervise, RestartStrategy};
/// use rheoflow::{ErrorPolicy, Flow};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let store = MemoryStore::new();
/// let failed_once = Arc::new(AtomicBool::new(false));
/// let strategy = RestartStrategy::fixed_delay(Duration::from_secs(1), 3);
/// let totals = supervise(strategy, |_attempt| {
///     let (store, failed_once) = (store.clone(), failed_once.clone());
///     async move {
///         let checkpoints = Checkpoints::open(store, Trigger::every_events(2)).await?;
///         Flow::from_iter(1..=6u64)
///             .checkpointed(&checkpoints)
///             .try_map(
///                 move |n: &u64| {
///                     if *n == 5 && !failed_once.swap(true, Ordering::SeqCst) {
///                         return Err(std::fmt::Error); // The fifth item fails once.
///                     }
///                     Ok(*n)
///                 },
///                 ErrorPolicy::fail(),
///             )
///             .key_by(|_| ())
///             .aggregate(Count)
///             .collect::<Vec<_>>()
///             .await
///     }
/// })
/// .await?;
/// // The restart resumed after the fourth item: it counts the fifth and the sixth.
/// assert_eq!(totals, [((), 5), ((), 6)]);
/// # Ok(())
/// # }
/// ```
pub async fn supervise<F, Fut, T>(strategy: RestartStrategy, mut run: F) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let mut attempt = 1;
    loop {
        let outcome = match tokio::spawn(run(attempt)).await {
            Ok(outcome) => outcome,
            Err(join) if join.is_panic() => Err(Error::Panicked {
                message: panic_message(join.into_panic()),
            }),
            Err(_) => Err(Error::Aborted),
        };
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if attempt >= strategy.max_attempts {
            tracing::warn!(attempt, %error, "flow failed; no attempts left");
            return Err(error);
        }
        let delay = strategy.delay_before(attempt);
        tracing::warn!(attempt, %error, ?delay, "flow failed; restarting");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}
