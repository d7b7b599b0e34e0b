//! Per-operator metrics, readable from the host service at any time.
//!
//! Every flow carries a [`Metrics`] registry. Operators that drop or divert items register
//! themselves under a stable name (`"deadline-2"` by default, or the name given with
//! [`Flow::name`](crate::Flow::name)) and count every item they do not pass on, by
//! [`DropReason`]. Nothing is ever lost silently: what an operator drops shows up here.
//!
//! # Examples
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
//! assert_eq!(snapshot.operator("parse").unwrap().dropped(DropReason::Skipped), 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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
}

impl DropReason {
    /// Every reason, in a stable order.
    pub const ALL: [DropReason; 9] = [
        DropReason::Stale,
        DropReason::Skipped,
        DropReason::DeadLettered,
        DropReason::Failed,
        DropReason::Late,
        DropReason::LateOutput,
        DropReason::OutsideWindows,
        DropReason::OverflowOldest,
        DropReason::OverflowNewest,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Stale => "stale",
            DropReason::Skipped => "skipped",
            DropReason::DeadLettered => "dead_lettered",
            DropReason::Failed => "failed",
            DropReason::Late => "late",
            DropReason::LateOutput => "late_output",
            DropReason::OutsideWindows => "outside_windows",
            DropReason::OverflowOldest => "overflow_oldest",
            DropReason::OverflowNewest => "overflow_newest",
        })
    }
}

/// The registry of a flow's operator metrics; cheap to clone, shared by every clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    operators: Vec<Registered>,
    /// The registries of flows merged into this one (by `union`), read before its own operators.
    upstream: Vec<Metrics>,
}

#[derive(Debug)]
struct Registered {
    name: String,
    counters: Arc<OperatorCounters>,
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
        let counters = Arc::new(OperatorCounters::default());
        let name = format!("{method}-{}", operators.len());
        operators.push(Registered {
            name,
            counters: Arc::clone(&counters),
        });
        counters
    }

    /// Renames the operator registered last. Returns `false` if none was registered.
    pub(crate) fn rename_last(&self, name: String) -> bool {
        match self.lock().operators.last_mut() {
            Some(last) => {
                last.name = name;
                true
            }
            None => false,
        }
    }

    /// Reads every operator's counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut operators = Vec::new();
        self.collect_into(&mut operators);
        MetricsSnapshot { operators }
    }

    fn collect_into(&self, out: &mut Vec<OperatorSnapshot>) {
        let registry = self.lock();
        for upstream in &registry.upstream {
            upstream.collect_into(out);
        }
        out.extend(registry.operators.iter().map(|op| OperatorSnapshot {
            name: op.name.clone(),
            dropped: DropReason::ALL.map(|reason| op.counters.dropped_count(reason)),
        }));
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
}

/// The live counters of one operator.
#[derive(Debug, Default)]
pub(crate) struct OperatorCounters {
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl OperatorCounters {
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
}

/// A point-in-time copy of a flow's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    operators: Vec<OperatorSnapshot>,
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
}

/// A point-in-time copy of one operator's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSnapshot {
    name: String,
    dropped: [u64; DropReason::ALL.len()],
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
}
