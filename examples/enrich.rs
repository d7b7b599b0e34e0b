//! Enriching a stream of orders with an async call to a (simulated) price service, written as
//! an `async fn` with `#[processor]` and run with `Flow::process_async`, then keeping a
//! checkpointed ledger of the revenue per customer, a `#[processor]` struct.
//!
//! Each call goes through a `RetryPolicy` (transient failures are retried with backoff) and a
//! shared `CircuitBreaker`: during the service's outage the breaker opens, the orders that
//! arrive meanwhile fail at once instead of piling up retries against a dead service, and once
//! the breaker's reset timeout has passed a trial call finds the service back and closes it.
//!
//! The flow is checkpointed in a local directory every 3 orders. The first run stops after 8
//! orders, as a crash would; the second run restarts from the last checkpoint: the source skips
//! the orders it covered, the ledger's totals continue from its saved state, and the orders
//! read after that checkpoint are read (and priced) again. Each order is counted once in the
//! ledger.
//!
//! The runtime's clock is paused, so the example's seconds of simulated time run instantly.
//!
//! ```text
//! cargo run --example enrich
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use futures::StreamExt;
use rheoflow::checkpoint::{Checkpoints, DirectoryStore, Trigger};
use rheoflow::processor::{processor, Context};
use rheoflow::resilience::{CircuitBreaker, CircuitState, RetryError, RetryPolicy};
use rheoflow::{Flow, Message};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Orders in the input, one every 50 ms.
const ORDERS: u32 = 20;

/// The first run stops (as a crash would) once this many orders went through the ledger.
const CRASH_AFTER: usize = 8;

/// A checkpoint every this many orders read.
const CHECKPOINT_EVERY: u64 = 3;

/// The customers, who order in turn.
const CUSTOMERS: [&str; 4] = ["ada", "bob", "cy", "dee"];

/// An order to price.
#[derive(Debug, Clone, Copy)]
struct Order {
    id: u32,
    customer: &'static str,
    quantity: u32,
}

/// The input: the same orders on every run, so that a restart can skip those already counted.
fn orders() -> impl Iterator<Item = Order> {
    (1..=ORDERS).map(|id| Order {
        id,
        customer: CUSTOMERS[id as usize % CUSTOMERS.len()],
        quantity: id % 3 + 1,
    })
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
/// 300 ms to 600 ms.
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

/// An order and its total, in cents, or why it has none.
type Priced = (Order, Result<u64, RetryError<Unavailable>>);

/// Prices one order (its total, in cents), with retries, through the breaker.
#[processor(name = "enrich")]
async fn enrich(order: Order) -> Priced {
    let total = RETRY
        .call_with_breaker(&BREAKER, || unit_price(order))
        .await
        .map(|unit| unit * u64::from(order.quantity));
    (order, total)
}

/// The revenue per customer, in cents, and the orders counted: the state checkpointed under
/// the name `ledger`, and restored on restart.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Ledger {
    revenue: BTreeMap<String, u64>,
    orders: u32,
}

/// An order as the ledger counted it.
#[derive(Debug)]
struct Entry {
    order: Order,
    total: Result<u64, RetryError<Unavailable>>,
    /// The customer's revenue, this order included.
    revenue: u64,
    /// The orders counted, this one included.
    counted: u32,
}

#[processor(name = "ledger")]
impl Ledger {
    fn process(&mut self, priced: Priced, ctx: &mut Context<'_, Entry>) {
        let (order, total) = priced;
        let revenue = self.revenue.entry(order.customer.to_string()).or_default();
        // An order that could not be priced earns nothing (a real flow would retry it later).
        *revenue += total.as_ref().map_or(0, |cents| *cents);
        let revenue = *revenue;
        self.orders += 1;
        ctx.emit(Entry {
            order,
            total,
            revenue,
            counted: self.orders,
        });
    }
}

/// The flow over all the orders: a restart resumes after those its checkpoint covers.
fn pipeline(checkpoints: &Checkpoints) -> Flow<impl futures::Stream<Item = Message<Entry>>> {
    Flow::from_iter(orders())
        .checkpointed(checkpoints)
        .throttle(1, Duration::from_millis(50))
        .process_async(Enrich, 4)
        .process(Ledger::default())
}

/// Prints an entry; returns whether the order was priced and, if not, whether the open
/// breaker refused it.
fn print(entry: &Entry, note: &str) -> (bool, bool) {
    let Entry {
        order,
        total,
        revenue,
        counted,
    } = entry;
    let (id, customer) = (order.id, order.customer);
    let outcome = match total {
        Ok(cents) => format!("priced {cents} cents"),
        Err(error @ RetryError::CircuitOpen { .. }) => format!("failed fast, {error}"),
        Err(error) => error.to_string(),
    };
    println!(
        "  order {id:>2} {customer:<3} {outcome:<50} ledger: {customer:<3} {revenue:>4} cents, \
         {counted:>2} orders{note}"
    );
    (
        total.is_ok(),
        matches!(total, Err(RetryError::CircuitOpen { .. })),
    )
}

/// Each customer's revenue after `entries`, as the ledger counted it.
fn revenue<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> BTreeMap<&'static str, u64> {
    entries
        .into_iter()
        .map(|entry| (entry.order.customer, entry.revenue))
        .collect()
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), rheoflow::Error> {
    LazyLock::force(&START);
    let dir = std::env::temp_dir().join(format!("rheoflow-enrich-{}", std::process::id()));

    // First run: stops after CRASH_AFTER orders, as a crash would.
    let checkpoints = Checkpoints::open(
        DirectoryStore::open(&dir).await?,
        Trigger::every_events(CHECKPOINT_EVERY),
    )
    .await?;
    println!(
        "first run, a checkpoint every {CHECKPOINT_EVERY} orders in {}:",
        dir.display()
    );
    let first: Vec<Entry> = pipeline(&checkpoints)
        .into_stream()
        .take(CRASH_AFTER)
        .collect()
        .await;
    let (mut priced, mut refused) = (0, 0);
    for entry in &first {
        let (ok, open) = print(entry, "");
        priced += usize::from(ok);
        refused += usize::from(open);
    }
    checkpoints.wait_idle().await;
    println!(
        "  -- stopped after {CRASH_AFTER} orders, at {:?} --",
        START.elapsed()
    );

    // Second run: restores the ledger and the source's position from the newest checkpoint.
    let checkpoints = Checkpoints::open(
        DirectoryStore::open(&dir).await?,
        Trigger::every_events(CHECKPOINT_EVERY),
    )
    .await?;
    let restored_id = checkpoints
        .restored()
        .map(|checkpoint| checkpoint.id().get());
    let flow = pipeline(&checkpoints);
    let metrics = flow.metrics();
    let second = flow.collect::<Vec<_>>().await?;
    checkpoints.wait_idle().await;

    // The checkpoint covered the orders before the first one the second run read.
    let resumed_at = second.first().map_or(ORDERS + 1, |entry| entry.order.id);
    let covered: Vec<&Entry> = first.iter().filter(|e| e.order.id < resumed_at).collect();
    let restored = revenue(covered.iter().copied());
    println!(
        "restart from checkpoint {}: the ledger had counted orders 1 to {}, revenue {restored:?}",
        restored_id.map_or("none".to_string(), |id| id.to_string()),
        resumed_at - 1,
    );
    let read_before = first.last().map_or(0, |entry| entry.order.id);
    for entry in &second {
        let note = if entry.order.id <= read_before {
            "  (read again)"
        } else {
            ""
        };
        let (ok, open) = print(entry, note);
        priced += usize::from(ok);
        refused += usize::from(open);
    }
    let again = second.iter().filter(|e| e.order.id <= read_before).count();

    // Every order counted once: the restored state and the second run, whose first entry
    // continues the count and its customer's revenue.
    let last = second.last().expect("the second run counts orders");
    assert_eq!(last.counted, ORDERS);
    let first_after = &second[0];
    let cents = |entry: &Entry| entry.total.as_ref().map_or(0, |cents| *cents);
    assert_eq!(first_after.counted, resumed_at);
    assert_eq!(
        first_after.revenue,
        restored
            .get(first_after.order.customer)
            .copied()
            .unwrap_or(0)
            + cents(first_after)
    );
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in covered.iter().copied().chain(&second) {
        *expected.entry(entry.order.customer).or_default() += cents(entry);
    }
    assert_eq!(revenue(covered.iter().copied().chain(&second)), expected);
    println!(
        "revenue per customer {expected:?}: {} orders counted once each; {again} read again \
         after the restart (read after the checkpoint, before the stop)",
        last.counted
    );

    let breaker = BREAKER.metrics();
    println!(
        "{priced} priced and {refused} refused by the open breaker in the {} entries of both \
         runs; the breaker opened {} time(s), refused {} call(s), and is {:?} again after {:?} \
         of simulated time; operators {:?}",
        first.len() + second.len(),
        breaker.times_opened(),
        breaker.rejected_calls(),
        breaker.state(),
        START.elapsed(),
        metrics
            .snapshot()
            .operators()
            .iter()
            .map(|op| op.name().to_string())
            .collect::<Vec<_>>(),
    );
    println!(
        "{} answers from the service: the flaky ones were retried",
        CALLS.load(Ordering::Relaxed)
    );
    assert!(again >= 1);
    assert!(breaker.times_opened() >= 1 && refused >= 1);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(last.total.is_ok());

    tokio::fs::remove_dir_all(&dir)
        .await
        .map_err(|error| rheoflow::Error::Io(std::sync::Arc::new(error)))?;
    Ok(())
}
