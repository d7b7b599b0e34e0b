//! Retries with exponential backoff and jitter.

use std::fmt;
use std::future::Future;
use std::iter::FusedIterator;
use std::time::Duration;

use super::circuit_breaker::{CircuitBreaker, CircuitState};
use crate::error::ConfigError;

/// How a retry delay is randomized, so that many callers that failed together do not retry in
/// lockstep.
///
/// The jitter applies to the delay after [`RetryPolicy::max_backoff`] caps it, so a jittered
/// delay never exceeds the cap.
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{Jitter, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::new()
///     .max_attempts(4)?
///     .initial_backoff(Duration::from_millis(100))
///     .jitter(Jitter::Equal)
///     .with_seed(7);
/// for (retry, delay) in policy.delays().enumerate() {
///     let full = policy.delay_for(retry as u32 + 1);
///     assert!(full / 2 <= delay && delay <= full);
/// }
/// # Ok::<(), rheoflow::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// The exact exponential delay (the default).
    #[default]
    None,
    /// A delay drawn uniformly from `[0, delay]`: the most spread, as in AWS's "full jitter".
    Full,
    /// Half the delay plus a delay drawn uniformly from `[0, delay / 2]`: spread, but never much
    /// shorter than the exponential delay.
    Equal,
}

/// Decides which errors are worth another attempt; see [`RetryPolicy::retry_if`].
///
/// Implemented by [`AllErrors`] (the default: retry every error) and by every
/// `Fn(&E) -> bool`.
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{AllErrors, Retryable};
///
/// assert!(AllErrors.is_retryable(&"any error"));
/// let transient = |code: &u16| *code >= 500;
/// assert!(transient.is_retryable(&503));
/// assert!(!transient.is_retryable(&404));
/// ```
pub trait Retryable<E> {
    /// Returns `true` when `error` is worth another attempt.
    fn is_retryable(&self, error: &E) -> bool;
}

/// The default [`Retryable`]: every error is retried.
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{AllErrors, Retryable};
///
/// assert!(AllErrors.is_retryable(&std::fmt::Error));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllErrors;

impl<E> Retryable<E> for AllErrors {
    #[inline]
    fn is_retryable(&self, _error: &E) -> bool {
        true
    }
}

impl<E, F> Retryable<E> for F
where
    F: Fn(&E) -> bool,
{
    #[inline]
    fn is_retryable(&self, error: &E) -> bool {
        self(error)
    }
}

/// Why [`RetryPolicy::call`] gave up.
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{RetryError, RetryPolicy};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
/// let policy = RetryPolicy::new().max_attempts(2)?;
/// let err = policy.call(|| async { Err::<(), _>("unavailable") }).await.unwrap_err();
/// assert!(matches!(err, RetryError::Exhausted { attempts: 2, last: "unavailable" }));
/// assert_eq!(err.to_string(), "gave up after 2 attempts: unavailable");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError<E> {
    /// Every attempt failed; the last one failed with `last`.
    #[error("gave up after {attempts} {}: {last}", plural(*.attempts))]
    Exhausted {
        /// The attempts made, the first one included.
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last: E,
    },
    /// Every attempt failed and the last one ran past
    /// [`RetryPolicy::attempt_timeout`].
    #[error("gave up after {attempts} {}: the last attempt timed out", plural(*.attempts))]
    TimedOut {
        /// The attempts made, the first one included.
        attempts: u32,
    },
    /// An attempt failed with an error that [`RetryPolicy::retry_if`] does not retry.
    #[error("attempt {attempts} failed with an error not worth retrying: {error}")]
    NotRetryable {
        /// The attempts made, the failed one included.
        attempts: u32,
        /// The error.
        #[source]
        error: E,
    },
    /// The circuit breaker of [`RetryPolicy::call_with_breaker`] was open: the call stopped
    /// without trying again.
    #[error("circuit breaker open after {attempts} {}", plural(*.attempts))]
    CircuitOpen {
        /// The attempts made before the breaker refused one (0 when it refused the first).
        attempts: u32,
        /// The error of the last attempt, if one was made and did not time out.
        last: Option<E>,
    },
}

fn plural(attempts: u32) -> &'static str {
    if attempts == 1 {
        "attempt"
    } else {
        "attempts"
    }
}

impl<E> RetryError<E> {
    /// The attempts made, the first one included.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryError;
    ///
    /// let err = RetryError::<()>::TimedOut { attempts: 3 };
    /// assert_eq!(err.attempts(), 3);
    /// ```
    pub fn attempts(&self) -> u32 {
        match self {
            RetryError::Exhausted { attempts, .. }
            | RetryError::TimedOut { attempts }
            | RetryError::NotRetryable { attempts, .. }
            | RetryError::CircuitOpen { attempts, .. } => *attempts,
        }
    }

    /// The error of the last attempt, if it returned one (rather than timing out or being
    /// refused by the breaker).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryError;
    ///
    /// let err = RetryError::Exhausted { attempts: 3, last: "refused" };
    /// assert_eq!(err.into_last(), Some("refused"));
    /// ```
    pub fn into_last(self) -> Option<E> {
        match self {
            RetryError::Exhausted { last, .. } => Some(last),
            RetryError::NotRetryable { error, .. } => Some(error),
            RetryError::CircuitOpen { last, .. } => last,
            RetryError::TimedOut { .. } => None,
        }
    }
}

/// Retries a fallible async call with exponential backoff, optional jitter, a timeout per
/// attempt and, optionally, a [`CircuitBreaker`].
///
/// The pause after the `n`-th failed attempt is `initial_backoff * multiplier^(n - 1)`, capped at
/// `max_backoff` ([`RetryPolicy::delay_for`]), then randomized by the [`Jitter`]. Pauses are
/// `tokio::time::sleep`s, so under paused time (`start_paused = true`) tests are instant and
/// exact. Tokio's timer has a resolution of one millisecond: it rounds a pause up to the next
/// whole millisecond, which matters only for jittered or sub-millisecond delays.
///
/// The defaults: 3 attempts, 100 ms initial backoff doubling up to 10 s, no jitter, no attempt
/// timeout, every error retried.
///
/// A policy is plain configuration: clone it into every task that needs it. The type parameter
/// `R` is the [`Retryable`] predicate set with [`RetryPolicy::retry_if`].
///
/// # Examples
///
/// A call that succeeds on its third attempt:
///
/// ```
/// use rheoflow::resilience::RetryPolicy;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = RetryPolicy::new()
///     .max_attempts(5)?
///     .initial_backoff(Duration::from_millis(50))
///     .multiplier(2.0)?
///     .max_backoff(Duration::from_secs(1));
///
/// let calls = AtomicU32::new(0);
/// let start = tokio::time::Instant::now();
/// let value = policy
///     .call(|| async {
///         match calls.fetch_add(1, Ordering::Relaxed) {
///             0 | 1 => Err(std::io::Error::other("busy")),
///             _ => Ok(42),
///         }
///     })
///     .await?;
/// assert_eq!(value, 42);
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// // Paused after the first failure (50 ms) and the second (100 ms).
/// assert_eq!(start.elapsed(), Duration::from_millis(150));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RetryPolicy<R = AllErrors> {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    jitter: Jitter,
    seed: Option<u64>,
    attempt_timeout: Option<Duration>,
    retryable: R,
}

impl RetryPolicy {
    /// A policy with the defaults: 3 attempts, 100 ms initial backoff doubling up to 10 s, no
    /// jitter, no attempt timeout, every error retried.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new();
    /// assert_eq!(policy.get_max_attempts(), 3);
    /// assert_eq!(policy.delay_for(1), Duration::from_millis(100));
    /// assert_eq!(policy.delay_for(2), Duration::from_millis(200));
    /// ```
    pub fn new() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: Jitter::None,
            seed: None,
            attempt_timeout: None,
            retryable: AllErrors,
        }
    }
}

impl Default for RetryPolicy {
    /// The same as [`RetryPolicy::new`].
    fn default() -> Self {
        RetryPolicy::new()
    }
}

impl<R> RetryPolicy<R> {
    /// Makes at most `max_attempts` attempts in all, the first one included: `1` never retries.
    ///
    /// # Errors
    ///
    /// Zero is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::new().max_attempts(5)?.get_max_attempts(), 5);
    /// assert!(RetryPolicy::new().max_attempts(0).is_err());
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn max_attempts(mut self, max_attempts: u32) -> Result<Self, ConfigError> {
        if max_attempts == 0 {
            return Err(ConfigError::new("retry max attempts", "greater than zero"));
        }
        self.max_attempts = max_attempts;
        Ok(self)
    }

    /// Pauses `initial_backoff` after the first failed attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new().initial_backoff(Duration::from_millis(10));
    /// assert_eq!(policy.delay_for(1), Duration::from_millis(10));
    /// ```
    pub fn initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Never pauses longer than `max_backoff` between attempts, jitter included.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new()
    ///     .initial_backoff(Duration::from_secs(1))
    ///     .max_backoff(Duration::from_secs(3));
    /// assert_eq!(policy.delay_for(2), Duration::from_secs(2));
    /// assert_eq!(policy.delay_for(3), Duration::from_secs(3));
    /// assert_eq!(policy.delay_for(30), Duration::from_secs(3));
    /// ```
    pub fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Multiplies the pause by `multiplier` after every failed attempt; `1.0` keeps it constant.
    ///
    /// # Errors
    ///
    /// A multiplier below `1.0`, infinite or NaN is a [`ConfigError`]: the pauses never shrink.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new()
    ///     .initial_backoff(Duration::from_millis(100))
    ///     .multiplier(1.5)?;
    /// assert_eq!(policy.delay_for(3), Duration::from_millis(225));
    /// assert!(RetryPolicy::new().multiplier(0.5).is_err());
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn multiplier(mut self, multiplier: f64) -> Result<Self, ConfigError> {
        if !(multiplier.is_finite() && multiplier >= 1.0) {
            return Err(ConfigError::new(
                "retry multiplier",
                "finite and at least 1.0",
            ));
        }
        self.multiplier = multiplier;
        Ok(self)
    }

    /// Randomizes the pauses with `jitter`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{Jitter, RetryPolicy};
    ///
    /// let policy = RetryPolicy::new().max_attempts(10)?.jitter(Jitter::Full);
    /// for (retry, delay) in policy.delays().enumerate() {
    ///     assert!(delay <= policy.delay_for(retry as u32 + 1));
    /// }
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Draws the jitter from a pseudo-random generator seeded with `seed`, so that every call
    /// pauses as long as [`RetryPolicy::delays`] says (rounded up to the millisecond by tokio's
    /// timer).
    ///
    /// Meant for tests and reproducible runs: every call made with a seeded policy draws the same
    /// delays, so seeded callers retry in lockstep. Without a seed, every call draws its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{Jitter, RetryPolicy};
    ///
    /// let policy = RetryPolicy::new().max_attempts(6)?.jitter(Jitter::Full).with_seed(42);
    /// let first: Vec<_> = policy.delays().collect();
    /// assert_eq!(first, policy.delays().collect::<Vec<_>>());
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Gives up on an attempt that runs longer than `timeout` (with `tokio::time::timeout`,
    /// which drops the attempt's future) and counts it as a failed attempt.
    ///
    /// A timed-out attempt is always retried, whatever [`RetryPolicy::retry_if`] says. When the
    /// last attempt times out the call fails with [`RetryError::TimedOut`].
    ///
    /// # Errors
    ///
    /// A zero `timeout` is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{RetryError, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let policy = RetryPolicy::new()
    ///     .max_attempts(2)?
    ///     .attempt_timeout(Duration::from_millis(500))?;
    /// let result = policy
    ///     .call(|| async {
    ///         tokio::time::sleep(Duration::from_secs(5)).await;
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await;
    /// assert!(matches!(result, Err(RetryError::TimedOut { attempts: 2 })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::new(
                "retry attempt timeout",
                "greater than zero",
            ));
        }
        self.attempt_timeout = Some(timeout);
        Ok(self)
    }

    /// Retries only the errors for which `retryable` returns `true`; any other error ends the
    /// call at once with [`RetryError::NotRetryable`].
    ///
    /// `retryable` is any `Fn(&E) -> bool` (or a [`Retryable`] of your own). Timed-out attempts
    /// are always retried.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{RetryError, RetryPolicy};
    /// use std::io::{Error, ErrorKind};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let policy = RetryPolicy::new()
    ///     .max_attempts(5)?
    ///     .retry_if(|err: &Error| err.kind() == ErrorKind::TimedOut);
    /// let result = policy
    ///     .call(|| async { Err::<(), _>(Error::from(ErrorKind::NotFound)) })
    ///     .await;
    /// assert!(matches!(result, Err(RetryError::NotRetryable { attempts: 1, .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry_if<P>(self, retryable: P) -> RetryPolicy<P> {
        RetryPolicy {
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            multiplier: self.multiplier,
            jitter: self.jitter,
            seed: self.seed,
            attempt_timeout: self.attempt_timeout,
            retryable,
        }
    }

    /// The most attempts a call makes, the first one included.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::new().get_max_attempts(), 3);
    /// ```
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The pause after the `attempt`-th failed attempt (counted from 1), before jitter:
    /// `initial_backoff * multiplier^(attempt - 1)`, capped at `max_backoff`.
    ///
    /// `delay_for(0)` is zero: nothing waits before the first attempt. Without jitter, a call
    /// pauses exactly `delay_for(1)`, `delay_for(2)`, … between its attempts. The delay never
    /// decreases as `attempt` grows. It is computed by repeated multiplication, which stops as
    /// soon as the cap is reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new()
    ///     .initial_backoff(Duration::from_millis(100))
    ///     .multiplier(3.0)?
    ///     .max_backoff(Duration::from_secs(1));
    /// let delays: Vec<_> = (0..5).map(|n| policy.delay_for(n).as_millis()).collect();
    /// assert_eq!(delays, [0, 100, 300, 900, 1_000]);
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn delay_for(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let mut schedule = self.schedule();
        for _ in 1..attempt {
            if schedule.is_steady() {
                break;
            }
            schedule.advance();
        }
        schedule.current()
    }

    /// The pauses a call makes between its attempts, jitter included: `max_attempts - 1`
    /// delays.
    ///
    /// With a seed ([`RetryPolicy::with_seed`]) these are the pauses of every call (which
    /// tokio's timer rounds up to the millisecond); without one, each `delays()` draws fresh
    /// jitter, as each call does.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new()
    ///     .max_attempts(4)?
    ///     .initial_backoff(Duration::from_secs(1));
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_secs()).collect();
    /// assert_eq!(delays, [1, 2, 4]);
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn delays(&self) -> Delays {
        Delays {
            schedule: self.schedule(),
            jitter: self.jitter,
            rng: SplitMix64::new(self.seed.unwrap_or_else(random_seed)),
            remaining: self.max_attempts - 1,
        }
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            next: nanos(self.initial_backoff) as f64,
            max: nanos(self.max_backoff),
            multiplier: self.multiplier,
        }
    }

    /// Calls `f` until it succeeds, pausing between attempts, at most
    /// [`max_attempts`](RetryPolicy::max_attempts) times.
    ///
    /// `f` makes a fresh future for every attempt.
    ///
    /// # Errors
    ///
    /// - [`RetryError::Exhausted`]: every attempt failed; it holds the last error.
    /// - [`RetryError::TimedOut`]: every attempt failed and the last one timed out.
    /// - [`RetryError::NotRetryable`]: an attempt failed with an error that
    ///   [`retry_if`](RetryPolicy::retry_if) does not retry.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the attempt in flight, or the pause; no other attempt
    /// is made.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{RetryError, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let policy = RetryPolicy::new().max_attempts(3)?;
    /// let start = tokio::time::Instant::now();
    /// let err = policy.call(|| async { Err::<(), _>("down") }).await.unwrap_err();
    /// assert!(matches!(err, RetryError::Exhausted { attempts: 3, last: "down" }));
    /// assert_eq!(start.elapsed(), policy.delay_for(1) + policy.delay_for(2));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call<T, E, F, Fut>(&self, f: F) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        R: Retryable<E>,
    {
        self.run(None, f).await
    }

    /// Calls `f` as [`RetryPolicy::call`] does, each attempt through `breaker`.
    ///
    /// Every attempt asks the breaker first, and reports its outcome to it: a success, or a
    /// failure (an error, retryable or not, or a timeout). When the breaker refuses an attempt —
    /// it is open, or half-open with all its trial calls taken — the call stops at once with
    /// [`RetryError::CircuitOpen`]: retrying against an open breaker would only wait for a
    /// refusal. For the same reason, when a failure leaves the breaker open, the call stops
    /// without pausing first.
    ///
    /// # Errors
    ///
    /// Those of [`RetryPolicy::call`], and [`RetryError::CircuitOpen`] when the breaker refuses
    /// an attempt.
    ///
    /// # Cancel safety
    ///
    /// As for [`RetryPolicy::call`]. An attempt dropped in flight is reported to the breaker as
    /// neither a success nor a failure.
    ///
    /// # Examples
    ///
    /// The failures of one call open the breaker, which then refuses the next call without
    /// calling the service:
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState, RetryError, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(2)?
    ///     .reset_timeout(Duration::from_secs(30))
    ///     .build();
    /// let policy = RetryPolicy::new().max_attempts(5)?;
    ///
    /// let err = policy
    ///     .call_with_breaker(&breaker, || async { Err::<(), _>("down") })
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, RetryError::CircuitOpen { attempts: 2, last: Some("down") }));
    /// assert_eq!(breaker.state(), CircuitState::Open);
    ///
    /// let err = policy
    ///     .call_with_breaker(&breaker, || async { Ok::<_, &str>(()) })
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, RetryError::CircuitOpen { attempts: 0, last: None }));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call_with_breaker<T, E, F, Fut>(
        &self,
        breaker: &CircuitBreaker,
        f: F,
    ) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        R: Retryable<E>,
    {
        self.run(Some(breaker), f).await
    }

    async fn run<T, E, F, Fut>(
        &self,
        breaker: Option<&CircuitBreaker>,
        mut f: F,
    ) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        R: Retryable<E>,
    {
        let mut delays = self.delays();
        let mut attempts = 0;
        loop {
            let permit = match breaker.map(CircuitBreaker::try_acquire).transpose() {
                Ok(permit) => permit,
                Err(_) => {
                    return Err(RetryError::CircuitOpen {
                        attempts,
                        last: None,
                    })
                }
            };
            attempts += 1;
            let outcome = match self.attempt_timeout {
                Some(limit) => tokio::time::timeout(limit, f()).await.ok(),
                None => Some(f().await),
            };
            let last = match outcome {
                Some(Ok(value)) => {
                    if let Some(permit) = permit {
                        permit.record_success();
                    }
                    return Ok(value);
                }
                Some(Err(error)) => {
                    if let Some(permit) = permit {
                        permit.record_failure();
                    }
                    if !self.retryable.is_retryable(&error) {
                        return Err(RetryError::NotRetryable { attempts, error });
                    }
                    Some(error)
                }
                None => {
                    if let Some(permit) = permit {
                        permit.record_failure();
                    }
                    None
                }
            };
            if attempts >= self.max_attempts {
                return Err(match last {
                    Some(last) => RetryError::Exhausted { attempts, last },
                    None => RetryError::TimedOut { attempts },
                });
            }
            if breaker.is_some_and(|breaker| breaker.state() == CircuitState::Open) {
                return Err(RetryError::CircuitOpen { attempts, last });
            }
            let delay = delays.next().unwrap_or(Duration::ZERO);
            tracing::debug!(
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                timed_out = last.is_none(),
                "attempt failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

impl<R> fmt::Debug for RetryPolicy<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("multiplier", &self.multiplier)
            .field("jitter", &self.jitter)
            .field("seed", &self.seed)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish_non_exhaustive()
    }
}

/// The pauses between the attempts of a call, jitter included; see [`RetryPolicy::delays`].
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::RetryPolicy;
///
/// let delays = RetryPolicy::new().max_attempts(4)?.delays();
/// assert_eq!(delays.len(), 3);
/// # Ok::<(), rheoflow::error::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Delays {
    schedule: Schedule,
    jitter: Jitter,
    rng: SplitMix64,
    remaining: u32,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let delay = self.schedule.current();
        self.schedule.advance();
        let delay = match self.jitter {
            Jitter::None => delay,
            Jitter::Full => Duration::from_nanos(self.rng.up_to(nanos(delay))),
            Jitter::Equal => {
                let nanos = nanos(delay);
                let half = nanos / 2;
                Duration::from_nanos(nanos - half + self.rng.up_to(half))
            }
        };
        Some(delay)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.remaining as usize;
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Delays {}

impl FusedIterator for Delays {}

/// The exponential delays before jitter, in nanoseconds.
///
/// Repeated multiplication by a multiplier of at least 1 never decreases the delay (rounding to
/// nearest is monotone), so the schedule is non-decreasing by construction.
#[derive(Debug, Clone)]
struct Schedule {
    next: f64,
    max: u64,
    multiplier: f64,
}

impl Schedule {
    /// The delay at this point of the schedule.
    fn current(&self) -> Duration {
        let delay = if self.next >= self.max as f64 {
            self.max
        } else {
            (self.next as u64).min(self.max)
        };
        Duration::from_nanos(delay)
    }

    /// Moves to the next delay.
    fn advance(&mut self) {
        if !self.is_steady() {
            self.next *= self.multiplier;
        }
    }

    /// Returns `true` when [`Schedule::advance`] no longer changes the delay.
    fn is_steady(&self) -> bool {
        self.next >= self.max as f64 || self.next * self.multiplier == self.next
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// SplitMix64: a tiny, fast pseudo-random generator; plenty for jitter, not for secrets.
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number drawn uniformly from `[0, bound]` (with a bias below 2^-64 per value).
    fn up_to(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * (u128::from(bound) + 1)) >> 64) as u64
    }
}

/// A seed for a call without one: the process-wide random keys of `RandomState`, hashed with a
/// counter so that every call gets its own.
fn random_seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};

    static CALLS: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn up_to_stays_in_bounds() {
        let mut rng = SplitMix64::new(1);
        for bound in [0, 1, 2, 1_000, u64::MAX] {
            for _ in 0..1_000 {
                assert!(rng.up_to(bound) <= bound);
            }
        }
    }

    #[test]
    fn up_to_reaches_both_ends() {
        let mut rng = SplitMix64::new(3);
        let draws: Vec<_> = (0..1_000).map(|_| rng.up_to(1)).collect();
        assert!(draws.contains(&0) && draws.contains(&1));
    }
}
