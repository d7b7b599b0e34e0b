//! A circuit breaker: stop calling a service that keeps failing, and probe it after a while.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ConfigError;

/// The state of a [`CircuitBreaker`].
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{CircuitBreaker, CircuitState};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(CircuitBreaker::default().state(), CircuitState::Closed);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Calls are refused at once, until the reset timeout has passed.
    Open,
    /// A limited number of trial calls go through: their successes close the breaker, a failure
    /// opens it again.
    HalfOpen,
}

/// The error of a call refused by an open (or saturated half-open) [`CircuitBreaker`].
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::CircuitBreaker;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(1)?
///     .reset_timeout(Duration::from_secs(10))
///     .build();
/// breaker.try_acquire().expect("closed").record_failure();
///
/// let refused = breaker.try_acquire().unwrap_err();
/// assert_eq!(refused.to_string(), "circuit breaker is open");
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(10)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is open")]
pub struct CircuitOpen {
    retry_after: Option<Duration>,
}

impl CircuitOpen {
    /// How long until the breaker lets a trial call through: `None` when it is half-open and
    /// its trial calls are all taken (the wait depends on how they end).
    ///
    /// Handy for a `Retry-After` header.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)?
    ///     .reset_timeout(Duration::from_secs(30))
    ///     .build();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// tokio::time::advance(Duration::from_secs(20)).await;
    /// let refused = breaker.try_acquire().unwrap_err();
    /// assert_eq!(refused.retry_after(), Some(Duration::from_secs(10)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// The error of [`CircuitBreaker::call`].
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{CallError, CircuitBreaker};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreaker::default();
/// let err = breaker.call(|| async { Err::<(), _>("refused") }).await.unwrap_err();
/// assert!(matches!(err, CallError::Failed("refused")));
/// assert_eq!(err.into_failed(), Some("refused"));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError<E> {
    /// The breaker refused the call; the function was not called.
    #[error(transparent)]
    Open(#[from] CircuitOpen),
    /// The function was called and failed.
    #[error("{0}")]
    Failed(#[source] E),
}

impl<E> CallError<E> {
    /// The error of the function, if it was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CallError;
    ///
    /// assert_eq!(CallError::Failed("timeout").into_failed(), Some("timeout"));
    /// ```
    pub fn into_failed(self) -> Option<E> {
        match self {
            CallError::Failed(err) => Some(err),
            CallError::Open(_) => None,
        }
    }
}

/// Counters and state of a [`CircuitBreaker`], copied at one instant by
/// [`CircuitBreaker::metrics`].
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{CircuitBreaker, CircuitState};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
/// let breaker = CircuitBreaker::builder().failure_threshold(1)?.build();
/// breaker.try_acquire().expect("closed").record_failure();
/// assert!(breaker.try_acquire().is_err());
///
/// let metrics = breaker.metrics();
/// assert_eq!(metrics.state(), CircuitState::Open);
/// assert_eq!(metrics.consecutive_failures(), 1);
/// assert_eq!(metrics.rejected_calls(), 1);
/// assert_eq!(metrics.times_opened(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitMetrics {
    state: CircuitState,
    consecutive_failures: u32,
    rejected_calls: u64,
    times_opened: u64,
}

impl CircuitMetrics {
    /// The state of the breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::default();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.metrics().state(), CircuitState::Closed);
    /// # }
    /// ```
    pub fn state(&self) -> CircuitState {
        self.state
    }

    /// The failures since the last success (or since the breaker closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::default();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.metrics().consecutive_failures(), 1);
    /// # }
    /// ```
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The calls refused since the breaker was made.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::default();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.metrics().rejected_calls(), 0);
    /// # }
    /// ```
    pub fn rejected_calls(&self) -> u64 {
        self.rejected_calls
    }

    /// How many times the breaker opened, reopening from half-open included.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::default();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.metrics().times_opened(), 0);
    /// # }
    /// ```
    pub fn times_opened(&self) -> u64 {
        self.times_opened
    }
}

/// The configuration of a [`CircuitBreaker`], from [`CircuitBreaker::builder`].
///
/// The defaults: open after 5 consecutive failures, half-open 30 s later, 1 trial call at a
/// time, closed again after 1 successful trial.
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::CircuitBreaker;
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::builder()
///     .name("payments")
///     .failure_threshold(3)?
///     .reset_timeout(Duration::from_secs(10))
///     .half_open_max_calls(2)?
///     .success_threshold(2)?
///     .build();
/// assert_eq!(breaker.name(), Some("payments"));
/// assert!(CircuitBreaker::builder().failure_threshold(0).is_err());
/// # Ok::<(), rheoflow::error::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct CircuitBreakerBuilder {
    name: Option<Cow<'static, str>>,
    failure_threshold: u32,
    reset_timeout: Duration,
    half_open_max_calls: u32,
    success_threshold: u32,
}

impl CircuitBreakerBuilder {
    /// Names the breaker in its `tracing` events.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().name(format!("shard-{}", 3)).build();
    /// assert_eq!(breaker.name(), Some("shard-3"));
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Opens the breaker after `failures` consecutive failed calls.
    ///
    /// # Errors
    ///
    /// Zero is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder().failure_threshold(2)?.build();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.state(), CircuitState::Closed);
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.state(), CircuitState::Open);
    /// # Ok(())
    /// # }
    /// ```
    pub fn failure_threshold(mut self, failures: u32) -> Result<Self, ConfigError> {
        if failures == 0 {
            return Err(ConfigError::new(
                "circuit breaker failure threshold",
                "greater than zero",
            ));
        }
        self.failure_threshold = failures;
        Ok(self)
    }

    /// Lets trial calls through (half-open) once the breaker has been open for `timeout`, by
    /// tokio's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)?
    ///     .reset_timeout(Duration::from_millis(250))
    ///     .build();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// tokio::time::sleep(Duration::from_millis(250)).await;
    /// assert_eq!(breaker.state(), CircuitState::HalfOpen);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reset_timeout(mut self, timeout: Duration) -> Self {
        self.reset_timeout = timeout;
        self
    }

    /// Lets at most `calls` trial calls run at once while half-open; others are refused.
    ///
    /// # Errors
    ///
    /// Zero is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)?
    ///     .reset_timeout(Duration::from_secs(1))
    ///     .half_open_max_calls(2)?
    ///     .build();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// tokio::time::advance(Duration::from_secs(1)).await;
    ///
    /// let trials = [breaker.try_acquire(), breaker.try_acquire()];
    /// assert!(trials.iter().all(Result::is_ok));
    /// assert!(breaker.try_acquire().is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn half_open_max_calls(mut self, calls: u32) -> Result<Self, ConfigError> {
        if calls == 0 {
            return Err(ConfigError::new(
                "circuit breaker half-open max calls",
                "greater than zero",
            ));
        }
        self.half_open_max_calls = calls;
        Ok(self)
    }

    /// Closes the breaker after `successes` successful trial calls while half-open.
    ///
    /// # Errors
    ///
    /// Zero is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)?
    ///     .reset_timeout(Duration::from_secs(1))
    ///     .success_threshold(2)?
    ///     .build();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// tokio::time::advance(Duration::from_secs(1)).await;
    ///
    /// breaker.try_acquire().expect("half-open").record_success();
    /// assert_eq!(breaker.state(), CircuitState::HalfOpen);
    /// breaker.try_acquire().expect("half-open").record_success();
    /// assert_eq!(breaker.state(), CircuitState::Closed);
    /// # Ok(())
    /// # }
    /// ```
    pub fn success_threshold(mut self, successes: u32) -> Result<Self, ConfigError> {
        if successes == 0 {
            return Err(ConfigError::new(
                "circuit breaker success threshold",
                "greater than zero",
            ));
        }
        self.success_threshold = successes;
        Ok(self)
    }

    /// Makes the breaker, closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(CircuitBreaker::builder().build().state(), CircuitState::Closed);
    /// # }
    /// ```
    pub fn build(self) -> CircuitBreaker {
        CircuitBreaker {
            shared: Arc::new(Shared {
                config: self,
                core: Mutex::new(Core {
                    state: Phase::Closed,
                    generation: 0,
                    consecutive_failures: 0,
                    rejected_calls: 0,
                    times_opened: 0,
                }),
            }),
        }
    }
}

impl Default for CircuitBreakerBuilder {
    fn default() -> Self {
        CircuitBreakerBuilder {
            name: None,
            failure_threshold: 5,
            reset_timeout: Duration::from_secs(30),
            half_open_max_calls: 1,
            success_threshold: 1,
        }
    }
}

/// Stops calling a service that keeps failing, and probes it again after a while.
///
/// - **Closed** (the start): calls go through. After
///   [`failure_threshold`](CircuitBreakerBuilder::failure_threshold) consecutive failures, it
///   opens.
/// - **Open**: calls are refused at once with [`CircuitOpen`], without calling anything. After
///   [`reset_timeout`](CircuitBreakerBuilder::reset_timeout) it becomes half-open; this happens
///   lazily, when the breaker is next used or asked its [`state`](CircuitBreaker::state).
/// - **Half-open**: up to [`half_open_max_calls`](CircuitBreakerBuilder::half_open_max_calls)
///   trial calls run at once; others are refused. After
///   [`success_threshold`](CircuitBreakerBuilder::success_threshold) successful trials it closes;
///   a failed trial opens it again, for a new `reset_timeout`.
///
/// Only the outcome of a call admitted in the current state counts: a call that started while
/// closed and ends after the breaker opened changes nothing, so a burst of failures in flight
/// does not restart the open timer. A call dropped before it reports (cancelled) counts as
/// neither, and gives its trial slot back.
///
/// Clones share one breaker: give a clone to every task that calls the same service. The state
/// sits behind a mutex taken briefly twice per call, never across an `.await`. Time is tokio's
/// clock, so paused-time tests are exact. Every change of state is a `tracing` event at `info`
/// level.
///
/// Use it alone with [`CircuitBreaker::call`] or [`CircuitBreaker::try_acquire`], or under a
/// [`RetryPolicy`](super::RetryPolicy) with
/// [`call_with_breaker`](super::RetryPolicy::call_with_breaker).
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::{CallError, CircuitBreaker, CircuitState};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(2)?
///     .reset_timeout(Duration::from_secs(5))
///     .build();
///
/// for _ in 0..2 {
///     let _ = breaker.call(|| async { Err::<(), _>("down") }).await;
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// let refused = breaker.call(|| async { Ok::<_, &str>(()) }).await;
/// assert!(matches!(refused, Err(CallError::Open(_))));
///
/// tokio::time::advance(Duration::from_secs(5)).await;
/// assert_eq!(breaker.state(), CircuitState::HalfOpen);
/// breaker.call(|| async { Ok::<_, &str>(()) }).await.expect("the trial call succeeds");
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    config: CircuitBreakerBuilder,
    core: Mutex<Core>,
}

struct Core {
    state: Phase,
    /// Bumped on every change of state; a permit only counts in the generation it came from.
    generation: u64,
    consecutive_failures: u32,
    rejected_calls: u64,
    times_opened: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

impl CircuitBreaker {
    /// Starts the configuration of a breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(10)?
    ///     .reset_timeout(Duration::from_secs(60))
    ///     .build();
    /// # Ok::<(), rheoflow::error::ConfigError>(())
    /// ```
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::default()
    }

    /// The name given with [`CircuitBreakerBuilder::name`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// assert_eq!(CircuitBreaker::builder().name("db").build().name(), Some("db"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.config.name.as_deref()
    }

    /// The current state; an open breaker whose reset timeout has passed is half-open.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::error::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)?
    ///     .reset_timeout(Duration::from_secs(1))
    ///     .build();
    /// breaker.try_acquire().expect("closed").record_failure();
    /// assert_eq!(breaker.state(), CircuitState::Open);
    /// tokio::time::advance(Duration::from_secs(1)).await;
    /// assert_eq!(breaker.state(), CircuitState::HalfOpen);
    /// # Ok(())
    /// # }
    /// ```
    pub fn state(&self) -> CircuitState {
        self.lock_current().state.public()
    }

    /// Copies the breaker's state and counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::{CircuitBreaker, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let metrics = CircuitBreaker::default().metrics();
    /// assert_eq!(metrics.state(), CircuitState::Closed);
    /// assert_eq!(metrics.times_opened(), 0);
    /// # }
    /// ```
    pub fn metrics(&self) -> CircuitMetrics {
        let core = self.lock_current();
        CircuitMetrics {
            state: core.state.public(),
            consecutive_failures: core.consecutive_failures,
            rejected_calls: core.rejected_calls,
            times_opened: core.times_opened,
        }
    }

    /// Asks to make a call: a permit to report its outcome with, or [`CircuitOpen`] when the
    /// breaker refuses it.
    ///
    /// Use it when the call is not one closure, for example when the outcome is known only
    /// after some processing. Dropping the permit without reporting counts as neither a
    /// success nor a failure.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] when the breaker is open, or half-open with all its trial calls taken;
    /// the refusal is counted in [`CircuitMetrics::rejected_calls`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::resilience::CircuitOpen> {
    /// let breaker = CircuitBreaker::default();
    /// let permit = breaker.try_acquire()?;
    /// let status = 503; // from the service
    /// if status < 500 {
    ///     permit.record_success();
    /// } else {
    ///     permit.record_failure();
    /// }
    /// assert_eq!(breaker.metrics().consecutive_failures(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_acquire(&self) -> Result<CircuitPermit, CircuitOpen> {
        let now = Instant::now();
        let mut guard = self.lock_current();
        let core = &mut *guard;
        let trial = match &mut core.state {
            Phase::Closed => false,
            Phase::Open { until } => {
                let retry_after = Some(until.saturating_duration_since(now));
                core.rejected_calls += 1;
                return Err(CircuitOpen { retry_after });
            }
            Phase::HalfOpen { in_flight, .. } => {
                if *in_flight >= self.shared.config.half_open_max_calls {
                    core.rejected_calls += 1;
                    return Err(CircuitOpen { retry_after: None });
                }
                *in_flight += 1;
                true
            }
        };
        Ok(CircuitPermit {
            breaker: self.clone(),
            generation: core.generation,
            trial,
            reported: false,
        })
    }

    /// Calls `f` unless the breaker refuses, and reports how the call ended.
    ///
    /// # Errors
    ///
    /// [`CallError::Open`] when the breaker refuses the call (`f` is not called), or
    /// [`CallError::Failed`] with the error of `f`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the call; it counts as neither a success nor a
    /// failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::resilience::CallError<std::io::Error>> {
    /// let breaker = CircuitBreaker::default();
    /// let n = breaker.call(|| async { Ok::<_, std::io::Error>(7) }).await?;
    /// assert_eq!(n, 7);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call<T, E, F, Fut>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        match f().await {
            Ok(value) => {
                permit.record_success();
                Ok(value)
            }
            Err(err) => {
                permit.record_failure();
                Err(CallError::Failed(err))
            }
        }
    }

    /// Locks the state, first moving an open breaker whose timeout has passed to half-open.
    fn lock_current(&self) -> MutexGuard<'_, Core> {
        // No code that can panic runs under the lock, so a poisoned lock holds a sound state.
        let mut core = self
            .shared
            .core
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Phase::Open { until } = core.state {
            if Instant::now() >= until {
                self.transition(
                    &mut core,
                    Phase::HalfOpen {
                        in_flight: 0,
                        successes: 0,
                    },
                );
            }
        }
        core
    }

    fn report(&self, generation: u64, trial: bool, success: bool) {
        let mut guard = self.lock_current();
        let core = &mut *guard;
        if core.generation != generation {
            return;
        }
        let config = &self.shared.config;
        if success {
            core.consecutive_failures = 0;
        } else {
            core.consecutive_failures = core.consecutive_failures.saturating_add(1);
        }
        match &mut core.state {
            Phase::Closed => {
                if !success && core.consecutive_failures >= config.failure_threshold {
                    self.open(core);
                }
            }
            Phase::HalfOpen {
                in_flight,
                successes,
            } => {
                debug_assert!(trial, "only trial permits share a half-open generation");
                *in_flight = in_flight.saturating_sub(1);
                if !success {
                    self.open(core);
                } else {
                    *successes += 1;
                    if *successes >= config.success_threshold {
                        self.transition(core, Phase::Closed);
                    }
                }
            }
            Phase::Open { .. } => {}
        }
    }

    /// A permit dropped unreported gives its trial slot back.
    fn release(&self, generation: u64) {
        let mut core = self.lock_current();
        if core.generation != generation {
            return;
        }
        if let Phase::HalfOpen { in_flight, .. } = &mut core.state {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    fn open(&self, core: &mut Core) {
        core.times_opened += 1;
        let until = Instant::now() + self.shared.config.reset_timeout;
        self.transition(core, Phase::Open { until });
    }

    fn transition(&self, core: &mut Core, to: Phase) {
        let from = core.state.public();
        core.state = to;
        core.generation += 1;
        tracing::info!(
            breaker = self.name().unwrap_or("unnamed"),
            from = ?from,
            to = ?to.public(),
            consecutive_failures = core.consecutive_failures,
            "circuit breaker changed state"
        );
    }
}

impl Default for CircuitBreaker {
    /// A breaker with the defaults of [`CircuitBreaker::builder`].
    fn default() -> Self {
        CircuitBreaker::builder().build()
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.shared.config)
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Phase {
    fn public(&self) -> CircuitState {
        match self {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

/// Leave from a [`CircuitBreaker`] to make one call; report how it ended with
/// [`record_success`](CircuitPermit::record_success) or
/// [`record_failure`](CircuitPermit::record_failure).
///
/// Dropping it unreported counts as neither, and gives a half-open trial slot back.
///
/// # Examples
///
/// ```
/// use rheoflow::resilience::CircuitBreaker;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::resilience::CircuitOpen> {
/// let breaker = CircuitBreaker::default();
/// breaker.try_acquire()?.record_success();
/// # Ok(())
/// # }
/// ```
#[must_use = "a permit should report how the call ended"]
pub struct CircuitPermit {
    breaker: CircuitBreaker,
    generation: u64,
    trial: bool,
    reported: bool,
}

impl CircuitPermit {
    /// Reports that the call succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::resilience::CircuitOpen> {
    /// let breaker = CircuitBreaker::default();
    /// breaker.try_acquire()?.record_success();
    /// assert_eq!(breaker.metrics().consecutive_failures(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn record_success(mut self) {
        self.reported = true;
        self.breaker.report(self.generation, self.trial, true);
    }

    /// Reports that the call failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::resilience::CircuitOpen> {
    /// let breaker = CircuitBreaker::default();
    /// breaker.try_acquire()?.record_failure();
    /// assert_eq!(breaker.metrics().consecutive_failures(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn record_failure(mut self) {
        self.reported = true;
        self.breaker.report(self.generation, self.trial, false);
    }

    /// Returns `true` for a trial call of a half-open breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::resilience::CircuitBreaker;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::resilience::CircuitOpen> {
    /// assert!(!CircuitBreaker::default().try_acquire()?.is_trial());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_trial(&self) -> bool {
        self.trial
    }
}

impl Drop for CircuitPermit {
    fn drop(&mut self) {
        if !self.reported && self.trial {
            self.breaker.release(self.generation);
        }
    }
}

impl fmt::Debug for CircuitPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitPermit")
            .field("breaker", &self.breaker.name())
            .field("generation", &self.generation)
            .field("trial", &self.trial)
            .finish()
    }
}
