//! Retries with backoff and jitter, the circuit breaker, and the two together, under paused time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use rheoflow::resilience::{
    CallError, CircuitBreaker, CircuitBreakerBuilder, CircuitMetrics, CircuitOpen, CircuitPermit,
    CircuitState, Delays, Jitter, RetryError, RetryPolicy,
};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

/// What tokio's timer sleeps for `delay`: it rounds up to the millisecond.
fn timer(delay: Duration) -> Duration {
    Duration::from_millis(delay.as_nanos().div_ceil(1_000_000) as u64)
}

/// A call that records when each attempt started and fails its first `failures` attempts.
#[derive(Clone)]
struct Flaky {
    starts: Arc<Mutex<Vec<Instant>>>,
    failures: u32,
}

impl Flaky {
    fn new(failures: u32) -> Self {
        Flaky {
            starts: Arc::default(),
            failures,
        }
    }

    async fn call(&self) -> Result<u32, &'static str> {
        let attempt = {
            let mut starts = self.starts.lock().unwrap();
            starts.push(Instant::now());
            starts.len() as u32
        };
        if attempt <= self.failures {
            Err("flaky")
        } else {
            Ok(attempt)
        }
    }

    fn attempts(&self) -> u32 {
        self.starts.lock().unwrap().len() as u32
    }

    /// The pauses between consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        let starts = self.starts.lock().unwrap();
        starts.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .max_attempts(attempts)
        .unwrap()
        .initial_backoff(100 * MS)
        .multiplier(2.0)
        .unwrap()
        .max_backoff(Duration::from_secs(1))
}

// ---------------------------------------------------------------------------------------------
// Retry

#[tokio::test(start_paused = true)]
async fn succeeds_after_failures_with_exact_attempts() {
    let flaky = Flaky::new(3);
    let value = policy(5).call(|| flaky.call()).await.unwrap();
    assert_eq!(value, 4);
    assert_eq!(flaky.attempts(), 4);
}

#[tokio::test(start_paused = true)]
async fn first_success_makes_one_attempt_and_no_pause() {
    let flaky = Flaky::new(0);
    let start = Instant::now();
    assert_eq!(policy(5).call(|| flaky.call()).await, Ok(1));
    assert_eq!(flaky.attempts(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn exhausted_after_max_attempts_with_last_error() {
    let flaky = Flaky::new(u32::MAX);
    let err = policy(4).call(|| flaky.call()).await.unwrap_err();
    assert_eq!(
        err,
        RetryError::Exhausted {
            attempts: 4,
            last: "flaky"
        }
    );
    assert_eq!(err.attempts(), 4);
    assert_eq!(err.to_string(), "gave up after 4 attempts: flaky");
    assert_eq!(flaky.attempts(), 4);
}

#[tokio::test(start_paused = true)]
async fn one_attempt_never_retries() {
    let flaky = Flaky::new(u32::MAX);
    let err = policy(1).call(|| flaky.call()).await.unwrap_err();
    assert_eq!(err.to_string(), "gave up after 1 attempt: flaky");
    assert_eq!(flaky.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn pauses_match_delay_for_without_jitter() {
    let policy = policy(7);
    let flaky = Flaky::new(u32::MAX);
    let start = Instant::now();
    let _ = policy.call(|| flaky.call()).await;

    let expected: Vec<_> = (1..7).map(|n| policy.delay_for(n)).collect();
    assert_eq!(
        expected,
        [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
    );
    assert_eq!(flaky.gaps(), expected);
    assert_eq!(start.elapsed(), expected.iter().sum());
    assert_eq!(policy.delays().collect::<Vec<_>>(), expected);
}

#[test]
fn delay_for_caps_at_max_backoff() {
    let policy = RetryPolicy::new()
        .initial_backoff(Duration::from_secs(3))
        .max_backoff(Duration::from_secs(2));
    assert_eq!(policy.delay_for(0), Duration::ZERO);
    assert_eq!(policy.delay_for(1), Duration::from_secs(2));
    assert_eq!(policy.delay_for(u32::MAX), Duration::from_secs(2));

    let policy = RetryPolicy::new()
        .initial_backoff(Duration::from_secs(1))
        .multiplier(10.0)
        .unwrap()
        .max_backoff(Duration::MAX);
    assert_eq!(policy.delay_for(3), Duration::from_secs(100));
    // Saturates at about 584 years instead of overflowing.
    assert_eq!(
        policy.delay_for(1_000),
        Duration::from_nanos(u64::MAX),
        "saturates"
    );
}

#[test]
fn constant_backoff_with_multiplier_one() {
    let policy = RetryPolicy::new()
        .initial_backoff(250 * MS)
        .multiplier(1.0)
        .unwrap();
    assert_eq!(policy.delay_for(1), 250 * MS);
    assert_eq!(policy.delay_for(u32::MAX), 250 * MS);
}

#[tokio::test(start_paused = true)]
async fn full_jitter_is_bounded_and_deterministic_with_a_seed() {
    let policy = policy(8).jitter(Jitter::Full).with_seed(0xDEC0DE);
    let first = Flaky::new(u32::MAX);
    let _ = policy.call(|| first.call()).await;
    let second = Flaky::new(u32::MAX);
    let _ = policy.call(|| second.call()).await;

    let gaps = first.gaps();
    assert_eq!(gaps.len(), 7);
    assert_eq!(gaps, second.gaps(), "same seed, same pauses");
    assert_eq!(gaps, policy.delays().map(timer).collect::<Vec<_>>());
    for (n, gap) in (1..).zip(&gaps) {
        assert!(*gap <= policy.delay_for(n), "{gap:?} after attempt {n}");
    }
    let unjittered: Vec<_> = (1..8).map(|n| policy.delay_for(n)).collect();
    assert_ne!(gaps, unjittered, "the jitter changes something");

    let seeded: Vec<_> = policy.delays().collect();
    let other: Vec<_> = policy.clone().with_seed(1).delays().collect();
    assert_ne!(seeded, other, "another seed, other pauses");
}

#[tokio::test(start_paused = true)]
async fn equal_jitter_stays_in_upper_half() {
    let policy = policy(10).jitter(Jitter::Equal).with_seed(99);
    let flaky = Flaky::new(u32::MAX);
    let _ = policy.call(|| flaky.call()).await;
    let gaps = flaky.gaps();
    assert_eq!(gaps, policy.delays().map(timer).collect::<Vec<_>>());
    for (n, gap) in (1..).zip(&gaps) {
        let full = policy.delay_for(n);
        assert!(full / 2 <= *gap && *gap <= full, "{gap:?} vs {full:?}");
    }
}

#[test]
fn unseeded_jitter_varies_between_calls() {
    let policy = RetryPolicy::new()
        .max_attempts(20)
        .unwrap()
        .jitter(Jitter::Full);
    let a: Vec<_> = policy.delays().collect();
    let b: Vec<_> = policy.delays().collect();
    assert_ne!(a, b);
}

#[test]
fn jitter_over_many_seeds_stays_in_bounds() {
    for seed in 0..500 {
        let policy = RetryPolicy::new()
            .max_attempts(12)
            .unwrap()
            .initial_backoff(3 * MS)
            .max_backoff(2 * Duration::from_secs(1))
            .jitter(if seed % 2 == 0 {
                Jitter::Full
            } else {
                Jitter::Equal
            })
            .with_seed(seed);
        for (n, delay) in (1..).zip(policy.delays()) {
            let full = policy.delay_for(n);
            assert!(delay <= full);
            if seed % 2 == 1 {
                assert!(delay >= full / 2);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_counts_as_failure() {
    let attempts = AtomicU32::new(0);
    let policy = policy(3).attempt_timeout(50 * MS).unwrap();
    let start = Instant::now();
    let value = policy
        .call(|| async {
            // The first two attempts hang; the third answers at once.
            if attempts.fetch_add(1, Ordering::Relaxed) < 2 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok::<_, &str>("ok")
        })
        .await;
    assert_eq!(value, Ok("ok"));
    assert_eq!(attempts.load(Ordering::Relaxed), 3);
    // Two timeouts of 50 ms, then the pauses of 100 and 200 ms.
    assert_eq!(start.elapsed(), 400 * MS);
}

#[tokio::test(start_paused = true)]
async fn last_attempt_timing_out_is_timed_out() {
    let attempts = AtomicU32::new(0);
    let policy = policy(3).attempt_timeout(50 * MS).unwrap();
    let err = policy
        .call(|| async {
            // Fails with an error first, then hangs.
            if attempts.fetch_add(1, Ordering::Relaxed) == 0 {
                return Err("refused");
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err, RetryError::TimedOut { attempts: 3 });
    assert_eq!(err.clone().into_last(), None);
    assert_eq!(
        err.to_string(),
        "gave up after 3 attempts: the last attempt timed out"
    );
}

#[tokio::test(start_paused = true)]
async fn attempt_finishing_exactly_under_timeout_succeeds() {
    let policy = policy(1).attempt_timeout(50 * MS).unwrap();
    let result = policy
        .call(|| async {
            tokio::time::sleep(49 * MS).await;
            Ok::<_, ()>(1)
        })
        .await;
    assert_eq!(result, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn retry_if_stops_on_permanent_errors() {
    let attempts = AtomicU32::new(0);
    let policy = policy(5).retry_if(|code: &u16| *code >= 500);
    let err = policy
        .call(|| async {
            match attempts.fetch_add(1, Ordering::Relaxed) {
                0 => Err::<(), u16>(503),
                _ => Err(404),
            }
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RetryError::NotRetryable {
            attempts: 2,
            error: 404
        }
    );
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
}

#[test]
fn invalid_config_is_a_typed_error() {
    let err = RetryPolicy::new().max_attempts(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid retry max attempts: must be greater than zero"
    );
    assert!(RetryPolicy::new().multiplier(0.99).is_err());
    assert!(RetryPolicy::new().multiplier(f64::NAN).is_err());
    assert!(RetryPolicy::new().multiplier(f64::INFINITY).is_err());
    assert!(RetryPolicy::new().attempt_timeout(Duration::ZERO).is_err());
    assert!(CircuitBreaker::builder().failure_threshold(0).is_err());
    assert!(CircuitBreaker::builder().half_open_max_calls(0).is_err());
    assert!(CircuitBreaker::builder().success_threshold(0).is_err());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_stops_retrying() {
    let flaky = Flaky::new(u32::MAX);
    let policy = policy(10);
    let call = policy.call(|| flaky.call());
    let _ = tokio::time::timeout(150 * MS, call).await;
    // Attempts at 0 and 100 ms; the next would be at 300 ms.
    assert_eq!(flaky.attempts(), 2);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(flaky.attempts(), 2);
}

proptest! {
    #[test]
    fn delay_for_is_monotone_and_capped(
        initial_ms in 0u64..10_000,
        max_ms in 0u64..100_000,
        multiplier in 1.0f64..10.0,
        attempts in 1u32..64,
    ) {
        let policy = RetryPolicy::new()
            .max_attempts(attempts).unwrap()
            .initial_backoff(Duration::from_millis(initial_ms))
            .max_backoff(Duration::from_millis(max_ms))
            .multiplier(multiplier).unwrap();
        let cap = Duration::from_millis(max_ms);
        prop_assert_eq!(policy.delay_for(0), Duration::ZERO);
        prop_assert_eq!(policy.delay_for(1), Duration::from_millis(initial_ms.min(max_ms)));
        let mut previous = Duration::ZERO;
        for n in 1..=attempts + 8 {
            let delay = policy.delay_for(n);
            prop_assert!(delay >= previous, "delay_for({}) = {:?} < {:?}", n, delay, previous);
            prop_assert!(delay <= cap);
            previous = delay;
        }
        // A call sleeps exactly these delays.
        let delays: Vec<_> = policy.delays().collect();
        let expected: Vec<_> = (1..attempts).map(|n| policy.delay_for(n)).collect();
        prop_assert_eq!(delays, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker

fn breaker(failures: u32, reset: Duration) -> CircuitBreakerBuilder {
    CircuitBreaker::builder()
        .failure_threshold(failures)
        .unwrap()
        .reset_timeout(reset)
}

async fn fail(breaker: &CircuitBreaker) -> Result<(), CallError<&'static str>> {
    breaker.call(|| async { Err("down") }).await
}

async fn succeed(breaker: &CircuitBreaker) -> Result<(), CallError<&'static str>> {
    breaker.call(|| async { Ok(()) }).await
}

#[tokio::test(start_paused = true)]
async fn opens_after_exactly_threshold_consecutive_failures() {
    let breaker = breaker(3, Duration::from_secs(10)).build();
    for n in 1..3 {
        assert!(matches!(
            fail(&breaker).await,
            Err(CallError::Failed("down"))
        ));
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.metrics().consecutive_failures(), n);
    }
    fail(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics().times_opened(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_consecutive_failures() {
    let breaker = breaker(3, Duration::from_secs(10)).build();
    fail(&breaker).await.unwrap_err();
    fail(&breaker).await.unwrap_err();
    succeed(&breaker).await.unwrap();
    assert_eq!(breaker.metrics().consecutive_failures(), 0);
    fail(&breaker).await.unwrap_err();
    fail(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn rejects_while_open_without_calling() {
    let breaker = breaker(1, Duration::from_secs(10)).build();
    fail(&breaker).await.unwrap_err();

    let calls = AtomicU32::new(0);
    for _ in 0..4 {
        let result = breaker
            .call(|| async {
                calls.fetch_add(1, Ordering::Relaxed);
                Ok::<_, ()>(())
            })
            .await;
        let Err(CallError::Open(open)) = result else {
            panic!("expected a refusal, got {result:?}");
        };
        assert_eq!(open.retry_after(), Some(Duration::from_secs(10)));
    }
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert_eq!(breaker.metrics().rejected_calls(), 4);

    tokio::time::advance(Duration::from_secs(4)).await;
    let open = breaker.try_acquire().unwrap_err();
    assert_eq!(open.retry_after(), Some(Duration::from_secs(6)));
}

#[tokio::test(start_paused = true)]
async fn half_open_exactly_at_reset_timeout() {
    let breaker = breaker(1, Duration::from_secs(10)).build();
    fail(&breaker).await.unwrap_err();

    tokio::time::advance(Duration::from_secs(10) - MS).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(breaker.try_acquire().is_err());
    tokio::time::advance(MS).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn half_open_success_closes() {
    let breaker = breaker(2, Duration::from_secs(10)).build();
    fail(&breaker).await.unwrap_err();
    fail(&breaker).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(10)).await;

    succeed(&breaker).await.unwrap();
    let metrics = breaker.metrics();
    assert_eq!(metrics.state(), CircuitState::Closed);
    assert_eq!(metrics.consecutive_failures(), 0);
    assert_eq!(metrics.times_opened(), 1);
    // Closed again: it takes the full threshold to open it.
    fail(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_failure_reopens_with_timer_restarted() {
    let breaker = breaker(1, Duration::from_secs(10)).build();
    fail(&breaker).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    tokio::time::advance(Duration::from_secs(3)).await;
    fail(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics().times_opened(), 2);

    // The timer counts from the failed trial, not from the first opening.
    tokio::time::advance(Duration::from_secs(10) - MS).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    tokio::time::advance(MS).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn success_threshold_needs_several_trials() {
    let breaker = breaker(1, Duration::from_secs(1))
        .success_threshold(3)
        .unwrap()
        .build();
    fail(&breaker).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(1)).await;
    for _ in 0..2 {
        succeed(&breaker).await.unwrap();
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
    }
    succeed(&breaker).await.unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_max_calls_limits_concurrent_trials() {
    let breaker = breaker(1, Duration::from_secs(1))
        .half_open_max_calls(2)
        .unwrap()
        .success_threshold(2)
        .unwrap()
        .build();
    fail(&breaker).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(1)).await;

    let calls = Arc::new(AtomicU32::new(0));
    let slow_trial = |breaker: CircuitBreaker, calls: Arc<AtomicU32>| {
        tokio::spawn(async move {
            breaker
                .call(|| async {
                    calls.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(100 * MS).await;
                    Ok::<_, ()>(())
                })
                .await
        })
    };
    let first = slow_trial(breaker.clone(), calls.clone());
    let second = slow_trial(breaker.clone(), calls.clone());
    tokio::task::yield_now().await;
    assert_eq!(calls.load(Ordering::Relaxed), 2);

    // Both trial slots are taken.
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(refused.retry_after(), None);
    assert_eq!(breaker.metrics().rejected_calls(), 1);

    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_trial_gives_its_slot_back() {
    let breaker = breaker(1, Duration::from_secs(1)).build();
    fail(&breaker).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(1)).await;

    let permit = breaker.try_acquire().unwrap();
    assert!(permit.is_trial());
    assert!(breaker.try_acquire().is_err());
    drop(permit);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.try_acquire().unwrap().record_success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn stale_outcomes_do_not_count() {
    let breaker = breaker(2, Duration::from_secs(10)).build();
    // Three calls start while closed; two fail and open the breaker.
    let permits: Vec<CircuitPermit> = (0..3).map(|_| breaker.try_acquire().unwrap()).collect();
    let mut permits = permits.into_iter();
    permits.next().unwrap().record_failure();
    permits.next().unwrap().record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);

    // The third fails later: the open timer does not restart.
    tokio::time::advance(Duration::from_secs(5)).await;
    permits.next().unwrap().record_failure();
    let metrics = breaker.metrics();
    assert_eq!(metrics.times_opened(), 1);
    assert_eq!(metrics.consecutive_failures(), 2);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn metrics_count_every_transition_and_refusal() {
    let breaker = breaker(2, Duration::from_secs(1)).build();
    let expect = |state, failures, rejected, opened| {
        let metrics: CircuitMetrics = breaker.metrics();
        assert_eq!(
            (
                metrics.state(),
                metrics.consecutive_failures(),
                metrics.rejected_calls(),
                metrics.times_opened()
            ),
            (state, failures, rejected, opened)
        );
    };
    expect(CircuitState::Closed, 0, 0, 0);
    fail(&breaker).await.unwrap_err();
    fail(&breaker).await.unwrap_err();
    expect(CircuitState::Open, 2, 0, 1);
    succeed(&breaker).await.unwrap_err();
    succeed(&breaker).await.unwrap_err();
    expect(CircuitState::Open, 2, 2, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    fail(&breaker).await.unwrap_err();
    expect(CircuitState::Open, 3, 2, 2);
    tokio::time::advance(Duration::from_secs(1)).await;
    succeed(&breaker).await.unwrap();
    expect(CircuitState::Closed, 0, 2, 2);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_breaker() {
    let breaker = breaker(1, Duration::from_secs(1)).name("svc").build();
    let clone = breaker.clone();
    fail(&clone).await.unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(clone.name(), Some("svc"));
    assert!(format!("{breaker:?}").contains("Open"));
}

// ---------------------------------------------------------------------------------------------
// Retry with a breaker

#[tokio::test(start_paused = true)]
async fn retry_stops_when_its_failures_open_the_breaker() {
    let breaker = breaker(3, Duration::from_secs(30)).build();
    let flaky = Flaky::new(u32::MAX);
    let start = Instant::now();
    let err = policy(10)
        .call_with_breaker(&breaker, || flaky.call())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RetryError::CircuitOpen {
            attempts: 3,
            last: Some("flaky")
        }
    );
    assert_eq!(flaky.attempts(), 3);
    // No pause after the failure that opened the breaker.
    assert_eq!(start.elapsed(), 300 * MS);
    assert_eq!(err.to_string(), "circuit breaker open after 3 attempts");
}

#[tokio::test(start_paused = true)]
async fn retry_does_not_call_through_an_open_breaker() {
    let breaker = breaker(1, Duration::from_secs(30)).build();
    fail(&breaker).await.unwrap_err();
    let flaky = Flaky::new(0);
    let err = policy(5)
        .call_with_breaker(&breaker, || flaky.call())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RetryError::CircuitOpen {
            attempts: 0,
            last: None
        }
    );
    assert_eq!(flaky.attempts(), 0);
    assert_eq!(breaker.metrics().rejected_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_success_through_a_breaker_resets_it() {
    let breaker = breaker(5, Duration::from_secs(30)).build();
    let flaky = Flaky::new(2);
    let value = policy(5)
        .call_with_breaker(&breaker, || flaky.call())
        .await
        .unwrap();
    assert_eq!(value, 3);
    assert_eq!(breaker.metrics().consecutive_failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn retry_timeouts_count_as_breaker_failures() {
    let breaker = breaker(2, Duration::from_secs(30)).build();
    let policy = policy(5).attempt_timeout(10 * MS).unwrap();
    let err = policy
        .call_with_breaker(&breaker, || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, ()>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RetryError::CircuitOpen {
            attempts: 2,
            last: None
        }
    );
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn retry_probes_a_half_open_breaker_once() {
    let breaker = breaker(1, Duration::from_secs(1)).build();
    fail(&breaker).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(1)).await;

    // The trial fails and reopens the breaker: the retry stops there.
    let flaky = Flaky::new(u32::MAX);
    let err = policy(5)
        .call_with_breaker(&breaker, || flaky.call())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(flaky.attempts(), 1);
    assert_eq!(breaker.state(), CircuitState::Open);
}

// ---------------------------------------------------------------------------------------------
// Auto traits

fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}

#[test]
fn public_types_are_send_sync_unpin() {
    assert_send_sync_unpin::<RetryPolicy>();
    assert_send_sync_unpin::<RetryError<std::io::Error>>();
    assert_send_sync_unpin::<Delays>();
    assert_send_sync_unpin::<CircuitBreaker>();
    assert_send_sync_unpin::<CircuitPermit>();
    assert_send_sync_unpin::<CircuitOpen>();
    assert_send_sync_unpin::<CircuitMetrics>();
    assert_send_sync_unpin::<CallError<std::io::Error>>();
}

#[test]
fn retry_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let policy = RetryPolicy::new();
    let breaker = CircuitBreaker::default();
    assert_send(&policy.call(|| async { Ok::<_, std::io::Error>(()) }));
    assert_send(&policy.call_with_breaker(&breaker, || async { Ok::<_, std::io::Error>(()) }));
    assert_send(&breaker.call(|| async { Ok::<_, std::io::Error>(()) }));
}

#[test]
fn errors_are_std_errors() {
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<RetryError<std::io::Error>>();
    assert_error::<CallError<std::io::Error>>();
    assert_error::<CircuitOpen>();
}
