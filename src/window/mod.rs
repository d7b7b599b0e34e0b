//! Windows: finite slices of an unbounded, keyed flow.
//!
//! A window assigner says which windows an item belongs to:
//!
//! - [`Tumbling`]: fixed-size, non-overlapping time windows.
//! - [`Sliding`]: fixed-size time windows that start every `slide`; overlapping when
//!   `slide < size`, leaving gaps when `slide > size`.
//! - [`Session`]: per-key windows that close after a gap of inactivity; they merge as items arrive.
//! - [`CountWindows`]: every `n` items of a key (tumbling), or the last `n` every `step` (sliding).
//! - [`GlobalWindow`]: one window per key, fired by a [`Trigger`].
//!
//! Time windows are half-open `[start, end)` and follow Flink's semantics exactly: a window fires
//! when the watermark `W` reaches `end − 1`; with an allowed lateness `L`, a window is late once
//! `end − 1 + L ≤ W`, and its state is freed then. An item is added to each of its windows that is
//! not late; an item none of whose windows takes it is late (sent to the late output or counted).
//! A late item within the lateness re-fires its window as an update ([`Firing::Late`]). The end of
//! input fires every open window exactly once.
//!
//! Sliding windows are computed from slices ("panes") of `gcd(size, slide)`: every item updates
//! one slice, and a window's result merges the slices it covers, so an item costs the same
//! whatever the overlap. Order-sensitive functions therefore see a sliding window's items
//! slice by slice, in time order of the slices, and in arrival order within a slice: `First`,
//! `Last`, `Collect`, `reduce`, `fold` and `process` can differ from Flink, which keeps each
//! window's items in arrival order, when items arrive out of order across slices. Tumbling and
//! session windows keep arrival order.
//!
//! A window operator forwards watermarks lazily: consecutive watermarks with no result between
//! them reach downstream as the last of them (a watermark says "nothing at or before W follows",
//! so the later one implies the earlier). Results always precede the watermark that fired them,
//! and results that fire on an item follow the watermark that stood before it.
//!
//! Windows that would extend past [`Timestamp::MAX`](crate::Timestamp::MAX) or start before
//! [`Timestamp::MIN`](crate::Timestamp::MIN) report bounds clamped to that range.

mod assigner;
mod count;
mod emit;
mod function;
mod global;
mod panes;
mod result;
mod sessions;
mod slice;
mod state;

pub use assigner::{Session, Sliding, Tumbling};
pub use count::CountWindows;
pub use emit::EmitPolicy;
pub use global::{GlobalWindow, Trigger};
pub use result::{CountWindow, Firing, TimeWindow, WindowResult};

pub use count::CountState;
pub use function::{Aggregate, Fold, Process, Reduce};
pub use global::GlobalState;
pub use panes::PaneState;
pub use sessions::SessionState;
pub use state::{Placement, WindowFn, WindowState};
