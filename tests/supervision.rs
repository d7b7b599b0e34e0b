//! Supervision under paused time: restarts, delays and the errors that end them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rheoflow::supervision::{supervise, RestartStrategy};
use rheoflow::Error;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

/// Runs `supervise` with a job that fails `failures` times, recording when each attempt began.
async fn attempts(
    strategy: RestartStrategy,
    failures: u32,
    panic: bool,
) -> (Result<u32, Error>, Vec<Duration>) {
    let start = Instant::now();
    let started = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicU32::new(0));
    let result = supervise(strategy, |attempt| {
        let (started, calls) = (started.clone(), calls.clone());
        async move {
            started.lock().unwrap().push(start.elapsed());
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            assert_eq!(call, attempt, "attempts are numbered from 1");
            if call <= failures {
                if panic {
                    panic!("attempt {call} panics");
                }
                return Err(Error::Aborted);
            }
            Ok(call)
        }
    })
    .await;
    let started = started.lock().unwrap().clone();
    (result, started)
}

#[tokio::test(start_paused = true)]
async fn fixed_delay_restarts_after_exactly_the_delay() {
    let strategy = RestartStrategy::fixed_delay(250 * MS, 4);
    let (result, started) = attempts(strategy, 3, false).await;
    assert_eq!(result.unwrap(), 4);
    assert_eq!(started, [Duration::ZERO, 250 * MS, 500 * MS, 750 * MS]);
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_doubles_up_to_the_cap() {
    let strategy = RestartStrategy::exponential_backoff(100 * MS, 300 * MS, 5);
    let (result, started) = attempts(strategy, 4, false).await;
    assert_eq!(result.unwrap(), 5);
    // Delays 100, 200, 300 (capped), 300.
    assert_eq!(
        started,
        [Duration::ZERO, 100 * MS, 300 * MS, 600 * MS, 900 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_error_is_returned_when_attempts_run_out() {
    let strategy = RestartStrategy::fixed_delay(10 * MS, 3);
    let (result, started) = attempts(strategy, 10, false).await;
    assert!(matches!(result, Err(Error::Aborted)), "{result:?}");
    assert_eq!(started.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_panic_counts_as_a_failure_and_is_restarted() {
    let strategy = RestartStrategy::fixed_delay(10 * MS, 2);
    let (result, started) = attempts(strategy, 1, true).await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(started, [Duration::ZERO, 10 * MS]);
    let (result, _) = attempts(RestartStrategy::none(), 1, true).await;
    match result {
        Err(Error::Panicked { message }) => assert_eq!(message, "attempt 1 panics"),
        other => panic!("expected a panic, got {other:?}"),
    }
}
