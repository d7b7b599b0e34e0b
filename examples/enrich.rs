//! Enriching a stream of orders with an async call to a (simulated) price service, written as
//! an `async fn` with `#[processor]` and run with `Flow::process_async`.
//!
//! Each call goes through a `RetryPolicy` (transient failures are retried with backoff) and a
//! shared `CircuitBreaker`: during the service's outage the breaker opens, the orders that
//! arrive meanwhile fail at once instead of piling up retries against a dead service, and once
//! the breaker's reset timeout has passed a trial call finds the service back and closes it.
//!
//! The runtime's clock is paused, so the example's seconds of simulated time run instantly.
//!
//! ```text
//! cargo run --example enrich
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use futures::StreamExt;
use rheoflow::processor::processor;
use rheoflow::resilience::{CircuitBreaker, CircuitState, RetryError, RetryPolicy};
use rheoflow::Flow;
use tokio::time::Instant;

/// An order to price.
#[derive(Debug, Clone, Copy)]
struct Order {
    id: u32,
    quantity: u32,
}

/// The price service's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unavailable {
    /// A one-off failure: worth retrying.
    Flaky,
    /// The service is down.
    Down,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailable::Flaky => "flaky response",
            Unavailable::Down => "service down",
        })
    }
}

impl std::error::Error for Unavailable {}

/// When the run started: the service is down from 300 ms to 600 ms after it.
static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Calls made to the service, to make every fifth one flaky.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// One service, one breaker: every call to it shares this one.
static BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::builder()
        .name("prices")
        .failure_threshold(3)
        .expect("a valid threshold")
        .reset_timeout(Duration::from_millis(100))
        .build()
});

/// Three attempts, 20 ms then 40 ms apart, each cut off after 100 ms.
static RETRY: LazyLock<RetryPolicy> = LazyLock::new(|| {
    RetryPolicy::new()
        .max_attempts(3)
        .and_then(|policy| policy.attempt_timeout(Duration::from_millis(100)))
        .expect("a valid policy")
        .initial_backoff(Duration::from_millis(20))
});

/// The simulated service: 10 ms per call, a flaky answer every fifth call, and down from
/// 300 ms to 700 ms.
async fn unit_price(order: Order) -> Result<u64, Unavailable> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    let elapsed = START.elapsed();
    if elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(600) {
        return Err(Unavailable::Down);
    }
    if CALLS.fetch_add(1, Ordering::Relaxed) % 5 == 4 {
        return Err(Unavailable::Flaky);
    }
    Ok(100 + u64::from(order.id % 7) * 25)
}

/// Prices one order (its total, in cents), with retries, through the breaker.
#[processor(name = "enrich")]
async fn enrich(order: Order) -> (Order, Result<u64, RetryError<Unavailable>>) {
    let total = RETRY
        .call_with_breaker(&BREAKER, || unit_price(order))
        .await
        .map(|unit| unit * u64::from(order.quantity));
    (order, total)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), rheoflow::Error> {
    LazyLock::force(&START);
    // An order every 50 ms, for a second.
    let orders = futures::stream::iter(1..=20).then(|id| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Order {
            id,
            quantity: id % 3 + 1,
        }
    });

    let flow = Flow::from_stream(orders).process_async(Enrich, 4);
    let metrics = flow.metrics();
    let results = flow.collect::<Vec<_>>().await?;

    let (mut priced, mut refused, mut gave_up) = (0, 0, 0);
    for (order, total) in &results {
        match total {
            Ok(cents) => {
                priced += 1;
                println!("order {:>2}: {cents:>4} cents", order.id);
            }
            Err(error @ RetryError::CircuitOpen { .. }) => {
                refused += 1;
                println!("order {:>2}: failed fast, {error}", order.id);
            }
            Err(error) => {
                gave_up += 1;
                println!("order {:>2}: {error}", order.id);
            }
        }
    }
    let breaker = BREAKER.metrics();
    println!(
        "{priced} priced, {refused} refused by the open breaker, {gave_up} failed after \
         retries; the breaker opened {} time(s), refused {} call(s), and is {:?} again after \
         {:?} of simulated time; operator `{}`",
        breaker.times_opened(),
        breaker.rejected_calls(),
        breaker.state(),
        START.elapsed(),
        metrics.snapshot().operators()[0].name(),
    );
    println!(
        "{} answers from the service for {priced} priced orders: the flaky ones were retried",
        CALLS.load(Ordering::Relaxed)
    );
    assert_eq!(results.len(), 20);
    assert!(breaker.times_opened() >= 1 && refused >= 1);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(results.last().is_some_and(|(_, total)| total.is_ok()));
    Ok(())
}
