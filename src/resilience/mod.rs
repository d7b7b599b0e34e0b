//! Resilience for async calls: retries with exponential backoff and jitter, and a circuit
//! breaker.
//!
//! - [`RetryPolicy`] calls an async function until it succeeds, pausing between attempts
//!   ([`RetryPolicy::delay_for`], randomized by a [`Jitter`]), with an optional timeout per
//!   attempt and a [`retry_if`](RetryPolicy::retry_if) predicate for the errors worth retrying.
//! - [`CircuitBreaker`] stops calling a service that keeps failing and probes it again after a
//!   while. Clones share one breaker, so every task calling the same service sees the same state.
//! - [`RetryPolicy::call_with_breaker`] puts each attempt through a breaker, and stops retrying as
//!   soon as the breaker is open.
//!
//! Pauses and breaker timeouts read tokio's clock, so tests under paused time
//! (`#[tokio::test(start_paused = true)]`) are instant and exact.
//!
//! # With a flow
//!
//! Both are plain async calls, so they go inside [`Flow::map_async`](crate::Flow::map_async)
//! (or [`map_async_unordered`](crate::Flow::map_async_unordered)). The step yields a `Result`;
//! a [`try_map`](crate::Flow::try_map) after it hands the items that still failed, after every
//! retry, to the flow's [`ErrorPolicy`](crate::ErrorPolicy) — here a dead-letter output:
//!
//! ```
//! use rheoflow::error_policy::{self, ErrorPolicy};
//! use rheoflow::resilience::{CircuitBreaker, RetryError, RetryPolicy};
//! use rheoflow::Flow;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! /// The error of the (pretend) remote service.
//! #[derive(Debug, Clone)]
//! struct Unavailable;
//!
//! impl std::fmt::Display for Unavailable {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("service unavailable")
//!     }
//! }
//!
//! impl std::error::Error for Unavailable {}
//!
//! /// Fails once for every item, and always for 13.
//! async fn lookup(id: u32, calls: &AtomicU32) -> Result<u32, Unavailable> {
//!     tokio::time::sleep(Duration::from_millis(5)).await;
//!     let first_try = calls.fetch_add(1, Ordering::Relaxed) % 2 == 0;
//!     if id == 13 || first_try {
//!         Err(Unavailable)
//!     } else {
//!         Ok(id * 10)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let policy = RetryPolicy::new()
//!     .max_attempts(3)?
//!     .initial_backoff(Duration::from_millis(20))
//!     .attempt_timeout(Duration::from_secs(1))?;
//! let breaker = CircuitBreaker::builder().failure_threshold(5)?.build();
//! let calls = Arc::new(AtomicU32::new(0));
//! let (dead_letters, dead) = error_policy::channel(16)?;
//!
//! let values = Flow::from_iter([1u32, 13, 2])
//!     .map_async(1, move |id| {
//!         let (policy, breaker, calls) = (policy.clone(), breaker.clone(), calls.clone());
//!         async move {
//!             policy
//!                 .call_with_breaker(&breaker, || lookup(id, &calls))
//!                 .await
//!         }
//!     })
//!     .try_map(
//!         |result: &Result<u32, RetryError<Unavailable>>| result.clone(),
//!         ErrorPolicy::dead_letter(dead_letters),
//!     )
//!     .collect::<Vec<_>>();
//! let (values, dead) = tokio::join!(values, dead.collect::<Vec<_>>());
//!
//! assert_eq!(values?, [10, 20]);
//! let dead = dead?;
//! assert_eq!(dead.len(), 1);
//! assert_eq!(dead[0].index(), 1);
//! assert_eq!(
//!     dead[0].error().to_string(),
//!     "gave up after 3 attempts: service unavailable"
//! );
//! # Ok(())
//! # }
//! ```

mod circuit_breaker;
mod retry;

pub use circuit_breaker::{
    CallError, CircuitBreaker, CircuitBreakerBuilder, CircuitMetrics, CircuitOpen, CircuitPermit,
    CircuitState,
};
pub use retry::{AllErrors, Delays, Jitter, RetryError, RetryPolicy, Retryable};
