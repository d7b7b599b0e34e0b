//! Aggregators: incremental computations over the items of a window or a key.
//!
//! An [`Aggregator`] follows Flink's `AggregateFunction`: it creates an accumulator, adds items to
//! it one at a time, merges two accumulators (when session windows merge, or when a sliding
//! window combines the partial aggregates of its slices), and reads a result. Only the
//! accumulator is kept per window and key, never the items.
//!
//! Built-ins: [`Count`], [`Sum`], [`Min`], [`Max`], [`Mean`], [`First`], [`Last`],
//! [`Collect`]; tuples of up to eight aggregators are aggregators too, computing all of them in
//! one pass.
//!
//! # Examples
//!
//! ```
//! use rheoflow::aggregate::{Aggregator, Count, Max, Mean};
//!
//! let stats = (Count, Max::of(|t: &f64| *t), Mean::of(|t: &f64| *t));
//! let mut acc = stats.create();
//! for t in [3.0, 5.0, 4.0] {
//!     stats.add(&mut acc, &t);
//! }
//! assert_eq!(stats.result(&acc), (3, Some(5.0), Some(4.0)));
//! ```

mod builtin;
mod numeric;
mod tuple;

pub use builtin::{Collect, Count, First, Last, Max, Mean, Min, Sum};
pub use numeric::Numeric;

/// An incremental aggregation over items of type `T`.
///
/// `merge` must be consistent with `add`: adding items to two accumulators and merging them gives
/// the same result as adding all the items to one. The property tests check the built-ins against
/// this law.
pub trait Aggregator<T> {
    /// The running state kept per window and key.
    type Acc;
    /// The result read from an accumulator.
    type Output;

    /// Creates an empty accumulator.
    fn create(&self) -> Self::Acc;

    /// Adds one item.
    fn add(&self, acc: &mut Self::Acc, item: &T);

    /// Merges `other` into `acc`; `other` holds items that came after those of `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc);

    /// Reads the result. The accumulator stays usable: a window that re-fires reads it again.
    fn result(&self, acc: &Self::Acc) -> Self::Output;
}
