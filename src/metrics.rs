//! Per-operator metrics, readable from the host service at any time.
//!
//! Every flow carries a [`Metrics`] registry. Each operator registers itself under a stable name
//! (`"deadline-2"` by default, or the name given with [`Flow::name`](crate::Flow::name)), and
//! [`Metrics::snapshot`] copies every operator's counters, from any task or thread, while the
//! flow runs and after it ended. Reading a snapshot never blocks the flow: operators only touch
//! relaxed atomics.
//!
//! What an [`OperatorSnapshot`] holds:
//!
//! - **Dropped items, by [`DropReason`]**: every item an operator does not pass on. Nothing is
//!   ever lost silently.
//! - **Items in and out** ([`OperatorSnapshot::items_in`], [`OperatorSnapshot::items_out`]), for
//!   the operators where counting is cheap next to their work: sources (out: `csv`,
//!   `json_lines`, `channel`), stage boundaries and [`parallel`](crate::keyed::KeyedFlow::parallel)
//!   (in: handed to the queues, out: taken from them, both per batch), windows (in: data items,
//!   out: results, counted as windows fire), running aggregates and process functions (in: data
//!   items, out: results), fallible operators (in: items tried, out: items passed on) and sinks run with [`Flow::send_to`](crate::Flow::send_to)
//!   or [`Flow::spawn`](crate::Flow::spawn) (in: items written, registered as `"send_to-{n}"`).
//!   Operators that count item by item keep the count in a plain local integer and publish it
//!   every 256 items, at every control message other than a watermark, and whenever they wait
//!   for input, so a snapshot may lag a busy operator by up to 256 items.
//! - **Queue depth** ([`OperatorSnapshot::queue_depth`]): data items in a stage's queue, or in
//!   all the partition queues of a parallel flow, updated per batch.
//! - **Time blocked on backpressure** ([`OperatorSnapshot::blocked`]): how long producers waited
//!   on a full queue under [`Overflow::Block`](crate::channel::Overflow::Block), summed over the
//!   operator's producers, a wait still going on included; [`OperatorSnapshot::blocked_rate`]
//!   turns two snapshots into blocked seconds per second.
//! - **Latency** ([`OperatorSnapshot::latency`], p50/p99/p999): for stages and parallel flows,
//!   the time a batch spent queued, recorded once per batch and weighted by its data items; for
//!   sinks, the time each [`Sink::write`](crate::Sink::write) call took. The histogram is
//!   lock-free (see [`HistogramSnapshot`]).
//! - **Watermark lag** ([`OperatorSnapshot::watermark_lag`]): processing time minus the last
//!   watermark seen by a window, a process function, the consumer side of a stage or the merge of
//!   a parallel flow.
//!
//! The stateless operators (`map`, `filter`, `filter_map`, `flat_map`, `inspect`, `scan`,
//! `take_while`, `skip_while`) are not counted: they cost about a nanosecond per item, and a
//! counter would be a large part of it. To count the items at some point of a flow, put an
//! [`inspect`](crate::Flow::inspect) there that bumps your own counter.
//!
//! # Examples
//!
//! Read a snapshot after (or while) a flow runs:
//!
//! ```
//! use rheoflow::aggregate::Count;
//! use rheoflow::channel::StageConfig;
//! use rheoflow::window::Tumbling;
//! use rheoflow::{Flow, Timestamp};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let flow = Flow::from_iter(0..1_000i64)
//!     .stage(StageConfig::with_capacity(256)?)
//!     .name("hand-off")
//!     .key_by(|x| x % 4)
//!     .window(Tumbling::of(Duration::from_millis(100)), |x: &i64| {
//!         Timestamp::from_millis(*x)
//!     })
//!     .aggregate(Count)
//!     .name("counts");
//! let metrics = flow.metrics();
//! let results = flow.collect::<Vec<_>>().await?;
//!
//! let snapshot = metrics.snapshot();
//! let stage = snapshot.operator("hand-off").expect("registered");
//! assert_eq!((stage.items_in(), stage.items_out()), (1_000, 1_000));
//! assert_eq!(stage.queue_depth(), 0);
//! assert!(stage.latency_p99().is_some());
//!
//! let counts = snapshot.operator("counts").expect("registered");
//! assert_eq!(counts.items_in(), 1_000);
//! assert_eq!(counts.items_out(), results.len() as u64);
//! # Ok(())
//! # }
//! ```
//!
//! Items a fallible operator drops are counted by reason:
//!
//! ```
//! use rheoflow::{metrics::DropReason, ErrorPolicy, Flow};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let flow = Flow::from_iter(["1", "two", "3"])
//!     .try_map(|s: &&str| s.parse::<u32>(), ErrorPolicy::skip())
//!     .name("parse");
//! let metrics = flow.metrics();
//! assert_eq!(flow.collect::<Vec<_>>().await?, [1, 3]);
//!
//! let snapshot = metrics.snapshot();
//! let parse = snapshot.operator("parse").unwrap();
//! assert_eq!(parse.dropped(DropReason::Skipped), 1);
//! assert_eq!((parse.items_in(), parse.items_out()), (3, 2));
//! # Ok(())
//! # }
//! ```
//!
//! With the cargo feature `metrics`, `Metrics::publish` writes a snapshot through the
//! [`metrics`](https://docs.rs/metrics) facade, for a Prometheus or other exporter.

mod histogram;

pub use histogram::HistogramSnapshot;

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use self::histogram::Histogram;
use crate::time::{Clock, Timestamp};

/// Why an operator did not pass an item on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The item was older than the operator's deadline.
    Stale,
    /// The item failed and the error policy skipped it.
    Skipped,
    /// The item failed and was sent to a dead-letter output.
    DeadLettered,
    /// The item failed and the error policy failed the pipeline.
    Failed,
    /// The item was late for every window and there was no late-data output.
    Late,
    /// The item was late for every window and went to the late-data output.
    LateOutput,
    /// The item fell in the gap between two sliding windows (slide > size) and was not late.
    OutsideWindows,
    /// A full stage boundary dropped the item, the oldest queued, to make room.
    OverflowOldest,
    /// A full stage boundary had no room for the item.
    OverflowNewest,
    /// A broadcast subscriber's queue was full: that subscriber misses the item, the others
    /// still get it.
    SlowSubscriber,
}

impl DropReason {
    /// Every reason, in a stable order.
    pub const ALL: [DropReason; 10] = [
        DropReason::Stale,
        DropReason::Skipped,
        DropReason::DeadLettered,
        DropReason::Failed,
        DropReason::Late,
        DropReason::LateOutput,
        DropReason::OutsideWindows,
        DropReason::OverflowOldest,
        DropReason::OverflowNewest,
        DropReason::SlowSubscriber,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The reason's name as it appears in [`Display`](fmt::Display) and in published metrics.
    fn as_str(self) -> &'static str {
        match self {
            DropReason::Stale => "stale",
            DropReason::Skipped => "skipped",
            DropReason::DeadLettered => "dead_lettered",
            DropReason::Failed => "failed",
            DropReason::Late => "late",
            DropReason::LateOutput => "late_output",
            DropReason::OutsideWindows => "outside_windows",
            DropReason::OverflowOldest => "overflow_oldest",
            DropReason::OverflowNewest => "overflow_newest",
            DropReason::SlowSubscriber => "slow_subscriber",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registry of a flow's operator metrics; cheap to clone, shared by every clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    operators: Vec<Arc<OperatorCounters>>,
    /// The registries of flows merged into this one (by `union`), read before its own operators.
    upstream: Vec<Metrics>,
}

impl Metrics {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Registers an operator created by `method`, under the default name `"{method}-{n}"`.
    pub(crate) fn register(&self, method: &str) -> Arc<OperatorCounters> {
        let mut registry = self.lock();
        let operators = &mut registry.operators;
        let name = format!("{method}-{}", operators.len());
        let counters = Arc::new(OperatorCounters::new(name));
        operators.push(Arc::clone(&counters));
        counters
    }

    /// Renames the operator registered last. Returns `false` if none was registered.
    pub(crate) fn rename_last(&self, name: String) -> bool {
        match self.lock().operators.last() {
            Some(last) => {
                last.rename(name);
                true
            }
            None => false,
        }
    }

    /// Reads every operator's counters now.
    ///
    /// The snapshot also records when it was taken, for rates between two snapshots
    /// ([`OperatorSnapshot::blocked_rate`]) and for the watermark lag.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let taken = Instant::now();
        let processing_time = Clock::new().now();
        let mut operators = Vec::new();
        self.collect_into(&mut operators, taken, processing_time);
        MetricsSnapshot {
            operators,
            taken,
            processing_time,
        }
    }

    fn collect_into(
        &self,
        out: &mut Vec<OperatorSnapshot>,
        taken: Instant,
        processing_time: Timestamp,
    ) {
        let registry = self.lock();
        for upstream in &registry.upstream {
            upstream.collect_into(out, taken, processing_time);
        }
        out.extend(
            registry
                .operators
                .iter()
                .map(|op| op.snapshot(taken, processing_time)),
        );
    }

    /// Makes the operators of `other` (a flow merged into this one) part of this registry.
    pub(crate) fn adopt(&self, other: Metrics) {
        if !Arc::ptr_eq(&self.registry, &other.registry) {
            self.lock().upstream.push(other);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes a snapshot of every operator through the [`metrics`](https://docs.rs/metrics)
    /// facade, so that whatever recorder the host installed (a Prometheus exporter, say) serves
    /// them.
    ///
    /// Call it periodically, for example from a tokio interval task next to the flow; each call
    /// reads a [snapshot](Metrics::snapshot) and sets every metric to its current value. All
    /// metrics carry the label `operator` (the operator's name):
    ///
    /// | metric | kind | value |
    /// |---|---|---|
    /// | `rheoflow_items_in` | counter | [`OperatorSnapshot::items_in`] |
    /// | `rheoflow_items_out` | counter | [`OperatorSnapshot::items_out`] |
    /// | `rheoflow_dropped` | counter, label `reason` ([`DropReason`]'s `Display`) | [`OperatorSnapshot::dropped`] |
    /// | `rheoflow_queue_depth` | gauge | [`OperatorSnapshot::queue_depth`] |
    /// | `rheoflow_blocked_microseconds` | counter | [`OperatorSnapshot::blocked`] |
    /// | `rheoflow_latency_seconds` | gauge, label `quantile` (`0.5`, `0.99`, `0.999`) | [`OperatorSnapshot::latency`] |
    /// | `rheoflow_watermark_lag_seconds` | gauge | [`OperatorSnapshot::watermark_lag`] |
    ///
    /// A counter or gauge that does not apply to an operator (items of a stateless operator, the
    /// queue depth of an operator without a queue, a latency or a lag not yet seen) is left out
    /// rather than written as zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let flow = Flow::from_iter(0..10_000u64).stage(StageConfig::default());
    /// let metrics = flow.metrics();
    ///
    /// // Next to the flow, in the host service: publish every 10 seconds.
    /// let publisher = tokio::spawn(async move {
    ///     let mut every = tokio::time::interval(Duration::from_secs(10));
    ///     loop {
    ///         every.tick().await;
    ///         metrics.publish();
    ///     }
    /// });
    ///
    /// assert_eq!(flow.collect::<Vec<_>>().await?.len(), 10_000);
    /// publisher.abort();
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn publish(&self) {
        self.snapshot().publish();
    }
}

/// How many items an operator counts locally before it publishes them.
const PUBLISH_EVERY: u64 = 256;

/// The live counters of one operator.
pub(crate) struct OperatorCounters {
    name: Mutex<Arc<str>>,
    dropped: [AtomicU64; DropReason::ALL.len()],
    items_in: AtomicU64,
    items_out: AtomicU64,
    /// Data items queued, summed over the operator's queues.
    queue_depth: AtomicI64,
    /// How many queues count their depth here.
    queues: AtomicU32,
    /// Locked once per blocking episode (at its start and end) and by snapshots.
    blocked: Mutex<Blocked>,
    latency: OnceLock<Box<Histogram>>,
    /// The last watermark, `i64::MIN` (`Timestamp::MIN`) before any.
    watermark: AtomicI64,
}

impl OperatorCounters {
    fn new(name: String) -> Self {
        OperatorCounters {
            name: Mutex::new(name.into()),
            dropped: Default::default(),
            items_in: AtomicU64::new(0),
            items_out: AtomicU64::new(0),
            queue_depth: AtomicI64::new(0),
            queues: AtomicU32::new(0),
            blocked: Mutex::new(Blocked::default()),
            latency: OnceLock::new(),
            watermark: AtomicI64::new(i64::MIN),
        }
    }

    /// The operator's current name (for tracing spans and events).
    pub(crate) fn name(&self) -> Arc<str> {
        Arc::clone(&self.name.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn rename(&self, name: String) {
        *self.name.lock().unwrap_or_else(PoisonError::into_inner) = name.into();
    }

    #[inline]
    pub(crate) fn drop_one(&self, reason: DropReason) {
        self.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn drop_many(&self, reason: DropReason, count: u64) {
        if count > 0 {
            self.dropped[reason.index()].fetch_add(count, Ordering::Relaxed);
        }
    }

    pub(crate) fn dropped_count(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// Counts `count` items in (for per-batch counting; per item, use a [`Tally`]).
    #[inline]
    pub(crate) fn add_in(&self, count: u64) {
        if count > 0 {
            self.items_in.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// Counts `count` items out (for per-batch counting; per item, use a [`Tally`]).
    #[inline]
    pub(crate) fn add_out(&self, count: u64) {
        if count > 0 {
            self.items_out.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// A queue of this operator counts its depth here from now on.
    pub(crate) fn add_queue(&self) {
        self.queues.fetch_add(1, Ordering::Relaxed);
    }

    /// `delta` data items entered (positive) or left (negative) one of the operator's queues.
    #[inline]
    pub(crate) fn queue_depth_add(&self, delta: i64) {
        if delta != 0 {
            self.queue_depth.fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// A producer started waiting on a full queue at `since`.
    pub(crate) fn blocked_from(&self, since: Instant) {
        self.lock_blocked().waiting.push(since);
    }

    /// The producer that started waiting at `since` could go on at `now`.
    pub(crate) fn blocked_until(&self, since: Instant, now: Instant) {
        let mut blocked = self.lock_blocked();
        if let Some(at) = blocked.waiting.iter().position(|start| *start == since) {
            blocked.waiting.swap_remove(at);
        }
        blocked.done += now.saturating_duration_since(since);
    }

    fn lock_blocked(&self) -> std::sync::MutexGuard<'_, Blocked> {
        self.blocked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `weight` samples of `latency`.
    #[inline]
    pub(crate) fn record_latency(&self, latency: Duration, weight: u64) {
        if weight > 0 {
            self.latency
                .get_or_init(|| Box::new(Histogram::new()))
                .record(latency, weight);
        }
    }

    /// The operator handled `watermark`.
    #[inline]
    pub(crate) fn set_watermark(&self, watermark: Timestamp) {
        self.watermark.store(watermark.millis(), Ordering::Relaxed);
    }

    fn snapshot(&self, taken: Instant, processing_time: Timestamp) -> OperatorSnapshot {
        let watermark = self.watermark.load(Ordering::Relaxed);
        OperatorSnapshot {
            name: self.name().to_string(),
            dropped: DropReason::ALL.map(|reason| self.dropped_count(reason)),
            items_in: self.items_in.load(Ordering::Relaxed),
            items_out: self.items_out.load(Ordering::Relaxed),
            queue_depth: self.queue_depth.load(Ordering::Relaxed).max(0) as u64,
            has_queue: self.queues.load(Ordering::Relaxed) > 0,
            blocked: self.lock_blocked().until(taken),
            latency: self
                .latency
                .get()
                .map(|histogram| histogram.snapshot())
                .unwrap_or_default(),
            watermark: (watermark != i64::MIN).then_some(Timestamp::from_millis(watermark)),
            taken,
            processing_time,
        }
    }
}

/// The time an operator's producers spent blocked on backpressure.
#[derive(Debug, Default)]
struct Blocked {
    /// Blocking episodes that ended.
    done: Duration,
    /// When each producer that is blocked now started waiting.
    waiting: Vec<Instant>,
}

impl Blocked {
    /// The time blocked up to `now`, the episodes still going on included.
    fn until(&self, now: Instant) -> Duration {
        self.waiting.iter().fold(self.done, |sum, since| {
            sum + now.saturating_duration_since(*since)
        })
    }
}

impl fmt::Debug for OperatorCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorCounters")
            .field("name", &self.name())
            .field("items_in", &self.items_in)
            .field("items_out", &self.items_out)
            .field("queue_depth", &self.queue_depth)
            .finish_non_exhaustive()
    }
}

/// Items an operator counted but has not published yet: a plain count in the operator, so that
/// counting an item costs a decrement and a test, and the shared atomics are touched once every
/// [`PUBLISH_EVERY`] items.
///
/// The operator calls [`Tally::publish`] at every control message other than a watermark and
/// whenever it waits for input (and at the end), so that a snapshot of an idle or finished flow
/// is exact.
#[derive(Debug)]
pub(crate) struct Tally {
    /// Items in still to count before the next publish: counting down makes counting an item a
    /// decrement and a test for zero.
    in_left: u64,
    /// Items out counted since the last publish.
    items_out: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            in_left: PUBLISH_EVERY,
            items_out: 0,
        }
    }
}

impl Tally {
    #[inline]
    pub(crate) fn count_in(&mut self, counters: &OperatorCounters) {
        self.in_left -= 1;
        if self.in_left == 0 {
            self.publish_full(counters);
        }
    }

    #[inline]
    pub(crate) fn count_out(&mut self, counters: &OperatorCounters) {
        self.items_out += 1;
        if self.items_out >= PUBLISH_EVERY {
            self.publish_full(counters);
        }
    }

    /// Counts `count` items out at once.
    #[inline]
    pub(crate) fn count_out_many(&mut self, count: u64, counters: &OperatorCounters) {
        self.items_out += count;
        if self.items_out >= PUBLISH_EVERY {
            self.publish_full(counters);
        }
    }

    /// Counts one item in and one out (an operator with one output per input).
    #[inline]
    pub(crate) fn count_in_out(&mut self, counters: &OperatorCounters) {
        self.items_out += 1;
        self.count_in(counters);
    }

    #[cold]
    #[inline(never)]
    fn publish_full(&mut self, counters: &OperatorCounters) {
        self.publish(counters);
    }

    /// Publishes what was counted to the shared counters.
    #[inline]
    pub(crate) fn publish(&mut self, counters: &OperatorCounters) {
        if self.in_left < PUBLISH_EVERY {
            counters.add_in(PUBLISH_EVERY - self.in_left);
            self.in_left = PUBLISH_EVERY;
        }
        if self.items_out > 0 {
            counters.add_out(self.items_out);
            self.items_out = 0;
        }
    }
}

/// A point-in-time copy of a flow's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    operators: Vec<OperatorSnapshot>,
    taken: Instant,
    processing_time: Timestamp,
}

impl MetricsSnapshot {
    /// Every registered operator, in the order they were added to the flow.
    pub fn operators(&self) -> &[OperatorSnapshot] {
        &self.operators
    }

    /// The operator named `name`, if any.
    pub fn operator(&self, name: &str) -> Option<&OperatorSnapshot> {
        self.operators.iter().find(|op| op.name == name)
    }

    /// Items dropped for `reason`, summed over all operators.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.operators.iter().map(|op| op.dropped(reason)).sum()
    }

    /// The processing time ([`Clock::new().now()`](Clock::now)) when the snapshot was taken.
    pub fn processing_time(&self) -> Timestamp {
        self.processing_time
    }

    /// The time elapsed on tokio's clock from `earlier` to this snapshot (zero if `earlier` was
    /// taken after it).
    pub fn elapsed_since(&self, earlier: &MetricsSnapshot) -> Duration {
        self.taken.saturating_duration_since(earlier.taken)
    }

    #[cfg(feature = "metrics")]
    fn publish(&self) {
        for op in &self.operators {
            op.publish();
        }
    }
}

/// A point-in-time copy of one operator's counters.
///
/// See the [module docs](crate::metrics) for what each operator counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSnapshot {
    name: String,
    dropped: [u64; DropReason::ALL.len()],
    items_in: u64,
    items_out: u64,
    queue_depth: u64,
    has_queue: bool,
    blocked: Duration,
    latency: HistogramSnapshot,
    watermark: Option<Timestamp>,
    taken: Instant,
    processing_time: Timestamp,
}

impl OperatorSnapshot {
    /// The operator's stable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Items this operator dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Items this operator dropped for any reason.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Data items the operator took in: zero for sources and for operators that do not count
    /// them (the stateless ones).
    pub fn items_in(&self) -> u64 {
        self.items_in
    }

    /// Data items the operator passed on (for windows, running aggregates and process functions:
    /// results; a window counts its results when they fire): zero for sinks and for operators that
    /// do not count them.
    pub fn items_out(&self) -> u64 {
        self.items_out
    }

    /// Data items in the operator's queues (a stage's, or all the partition queues of a parallel
    /// flow) when the snapshot was taken, those the consumer holds included; zero for operators
    /// without a queue.
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth
    }

    /// The total time the operator's producers waited on a full queue under
    /// [`Overflow::Block`](crate::channel::Overflow::Block), up to the snapshot (a wait still
    /// going on included), summed over its producers (the partitioner and every partition, for a
    /// parallel flow).
    pub fn blocked(&self) -> Duration {
        self.blocked
    }

    /// Seconds blocked on backpressure per second, from the `earlier` snapshot of the same
    /// operator to this one: `0.0` never blocked, `1.0` always blocked (above 1 when several
    /// producers were blocked at once). `0.0` if no time elapsed between the two.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let flow = Flow::from_iter(0..100).stage(StageConfig::default()).name("boundary");
    /// let metrics = flow.metrics();
    /// let before = metrics.snapshot();
    /// flow.collect::<Vec<_>>().await?;
    /// tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    ///
    /// let after = metrics.snapshot();
    /// let [now, then] = [&after, &before].map(|s| s.operator("boundary").unwrap());
    /// assert_eq!(now.blocked_rate(then), 0.0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn blocked_rate(&self, earlier: &OperatorSnapshot) -> f64 {
        let elapsed = self.taken.saturating_duration_since(earlier.taken);
        if elapsed.is_zero() {
            return 0.0;
        }
        self.blocked.saturating_sub(earlier.blocked).as_secs_f64() / elapsed.as_secs_f64()
    }

    /// The operator's latency histogram: for stages and parallel flows the time batches spent
    /// queued (weighted by their data items), for sinks the time each write took. Empty for
    /// other operators.
    pub fn latency(&self) -> &HistogramSnapshot {
        &self.latency
    }

    /// The median latency, `None` if none was recorded. See [`HistogramSnapshot::quantile`].
    pub fn latency_p50(&self) -> Option<Duration> {
        self.latency.quantile(0.5)
    }

    /// The 99th percentile latency, `None` if none was recorded.
    pub fn latency_p99(&self) -> Option<Duration> {
        self.latency.quantile(0.99)
    }

    /// The 99.9th percentile latency, `None` if none was recorded.
    pub fn latency_p999(&self) -> Option<Duration> {
        self.latency.quantile(0.999)
    }

    /// The last watermark the operator handled, `None` before any (and for operators that do
    /// not track watermarks).
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
    }

    /// How far the operator's event time lags processing time: the processing time when the
    /// snapshot was taken minus the last watermark, zero if the watermark is ahead (as it is at
    /// the end of input); `None` before any watermark.
    pub fn watermark_lag(&self) -> Option<Duration> {
        self.watermark
            .map(|watermark| self.processing_time.duration_since(watermark))
    }

    #[cfg(feature = "metrics")]
    fn publish(&self) {
        let operator = || ("operator", self.name.clone());
        if self.items_in > 0 {
            metrics::counter!("rheoflow_items_in", &[operator()]).absolute(self.items_in);
        }
        if self.items_out > 0 {
            metrics::counter!("rheoflow_items_out", &[operator()]).absolute(self.items_out);
        }
        for reason in DropReason::ALL {
            let dropped = self.dropped(reason);
            if dropped > 0 {
                let labels = [operator(), ("reason", reason.as_str().to_owned())];
                metrics::counter!("rheoflow_dropped", &labels).absolute(dropped);
            }
        }
        if self.has_queue {
            metrics::gauge!("rheoflow_queue_depth", &[operator()]).set(self.queue_depth as f64);
            let micros = u64::try_from(self.blocked.as_micros()).unwrap_or(u64::MAX);
            metrics::counter!("rheoflow_blocked_microseconds", &[operator()]).absolute(micros);
        }
        for (quantile, label) in [(0.5, "0.5"), (0.99, "0.99"), (0.999, "0.999")] {
            if let Some(latency) = self.latency.quantile(quantile) {
                let labels = [operator(), ("quantile", label.to_owned())];
                metrics::gauge!("rheoflow_latency_seconds", &labels).set(latency.as_secs_f64());
            }
        }
        if let Some(lag) = self.watermark_lag() {
            metrics::gauge!("rheoflow_watermark_lag_seconds", &[operator()]).set(lag.as_secs_f64());
        }
    }
}
