use std::fmt;

use super::{Aggregator, Numeric};

macro_rules! debug_skipping_closure {
    ($($name:ident),*) => {$(
        impl<F> fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    )*};
}

/// Counts items.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Count};
///
/// let mut acc = Aggregator::<&str>::create(&Count);
/// Count.add(&mut acc, &"a");
/// assert_eq!(Aggregator::<&str>::result(&Count, &acc), 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<T> Aggregator<T> for Count {
    type Acc = u64;
    type Output = u64;

    #[inline]
    fn create(&self) -> u64 {
        0
    }
    #[inline]
    fn add(&self, acc: &mut u64, _item: &T) {
        *acc += 1;
    }
    #[inline]
    fn merge(&self, acc: &mut u64, other: &u64) {
        *acc += other;
    }
    #[inline]
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// Sums a number read from each item; an empty sum is zero.
///
/// Integer sums saturate instead of overflowing, so a sum that saturates on the way may differ
/// depending on how accumulators were merged (sliding windows, sessions); floating-point sums
/// follow the usual rounding of the order of additions.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Sum};
///
/// let sum = Sum::of(|x: &(char, i64)| x.1);
/// let mut acc = sum.create();
/// sum.add(&mut acc, &('a', 2));
/// sum.add(&mut acc, &('b', 3));
/// assert_eq!(sum.result(&acc), 5);
/// ```
#[derive(Clone, Copy)]
pub struct Sum<F> {
    value: F,
}

impl<F> Sum<F> {
    /// Sums `value(item)` over the items.
    pub fn of(value: F) -> Self {
        Sum { value }
    }
}

impl<T, V: Numeric, F: Fn(&T) -> V> Aggregator<T> for Sum<F> {
    type Acc = V;
    type Output = V;

    #[inline]
    fn create(&self) -> V {
        V::ZERO
    }
    #[inline]
    fn add(&self, acc: &mut V, item: &T) {
        *acc = acc.add((self.value)(item));
    }
    #[inline]
    fn merge(&self, acc: &mut V, other: &V) {
        *acc = acc.add(*other);
    }
    #[inline]
    fn result(&self, acc: &V) -> V {
        *acc
    }
}

/// The smallest value read from the items; `None` before any item. NaN never wins.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Min};
///
/// let min = Min::of(|x: &f64| *x);
/// let mut acc = min.create();
/// for x in [2.0, f64::NAN, -1.0] {
///     min.add(&mut acc, &x);
/// }
/// assert_eq!(min.result(&acc), Some(-1.0));
/// ```
#[derive(Clone, Copy)]
pub struct Min<F> {
    value: F,
}

impl<F> Min<F> {
    /// The minimum of `value(item)` over the items.
    pub fn of(value: F) -> Self {
        Min { value }
    }
}

/// Keeps the better of `acc` and `candidate`; `replace(candidate, current)` says when to switch.
/// NaN (unordered even with itself) never starts a minimum or maximum, and never replaces one.
#[inline]
fn keep<V: PartialOrd + Copy>(acc: &mut Option<V>, candidate: V, replace: impl Fn(&V, &V) -> bool) {
    match acc {
        Some(current) if replace(&candidate, current) => *current = candidate,
        Some(_) => {}
        None if candidate.partial_cmp(&candidate).is_some() => *acc = Some(candidate),
        None => {}
    }
}

impl<T, V: PartialOrd + Copy, F: Fn(&T) -> V> Aggregator<T> for Min<F> {
    type Acc = Option<V>;
    type Output = Option<V>;

    #[inline]
    fn create(&self) -> Option<V> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<V>, item: &T) {
        keep(acc, (self.value)(item), |new, cur| new < cur);
    }
    #[inline]
    fn merge(&self, acc: &mut Option<V>, other: &Option<V>) {
        if let Some(other) = *other {
            keep(acc, other, |new, cur| new < cur);
        }
    }
    #[inline]
    fn result(&self, acc: &Option<V>) -> Option<V> {
        *acc
    }
}

/// The largest value read from the items; `None` before any item. NaN never wins.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Max};
///
/// let max = Max::of(|x: &i32| *x);
/// let mut acc = max.create();
/// max.add(&mut acc, &4);
/// max.add(&mut acc, &9);
/// assert_eq!(max.result(&acc), Some(9));
/// ```
#[derive(Clone, Copy)]
pub struct Max<F> {
    value: F,
}

impl<F> Max<F> {
    /// The maximum of `value(item)` over the items.
    pub fn of(value: F) -> Self {
        Max { value }
    }
}

impl<T, V: PartialOrd + Copy, F: Fn(&T) -> V> Aggregator<T> for Max<F> {
    type Acc = Option<V>;
    type Output = Option<V>;

    #[inline]
    fn create(&self) -> Option<V> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<V>, item: &T) {
        keep(acc, (self.value)(item), |new, cur| new > cur);
    }
    #[inline]
    fn merge(&self, acc: &mut Option<V>, other: &Option<V>) {
        if let Some(other) = *other {
            keep(acc, other, |new, cur| new > cur);
        }
    }
    #[inline]
    fn result(&self, acc: &Option<V>) -> Option<V> {
        *acc
    }
}

/// The arithmetic mean of a number read from each item, as `f64`; `None` before any item.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Mean};
///
/// let mean = Mean::of(|x: &u32| *x);
/// let mut acc = mean.create();
/// mean.add(&mut acc, &1);
/// mean.add(&mut acc, &2);
/// assert_eq!(mean.result(&acc), Some(1.5));
/// ```
#[derive(Clone, Copy)]
pub struct Mean<F> {
    value: F,
}

impl<F> Mean<F> {
    /// The mean of `value(item)` over the items.
    pub fn of(value: F) -> Self {
        Mean { value }
    }
}

impl<T, V: Numeric, F: Fn(&T) -> V> Aggregator<T> for Mean<F> {
    type Acc = (f64, u64);
    type Output = Option<f64>;

    #[inline]
    fn create(&self) -> (f64, u64) {
        (0.0, 0)
    }
    #[inline]
    fn add(&self, acc: &mut (f64, u64), item: &T) {
        acc.0 += (self.value)(item).to_f64();
        acc.1 += 1;
    }
    #[inline]
    fn merge(&self, acc: &mut (f64, u64), other: &(f64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    #[inline]
    fn result(&self, acc: &(f64, u64)) -> Option<f64> {
        (acc.1 > 0).then(|| acc.0 / acc.1 as f64)
    }
}

/// The value read from the first item added; `None` before any item.
///
/// When accumulators merge, the first of the earlier accumulator wins.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, First};
///
/// let first = First::of(|s: &&str| s.to_string());
/// let mut acc = first.create();
/// first.add(&mut acc, &"a");
/// first.add(&mut acc, &"b");
/// assert_eq!(first.result(&acc).as_deref(), Some("a"));
/// ```
#[derive(Clone, Copy)]
pub struct First<F> {
    value: F,
}

impl<F> First<F> {
    /// The first `value(item)`.
    pub fn of(value: F) -> Self {
        First { value }
    }
}

impl<T, V: Clone, F: Fn(&T) -> V> Aggregator<T> for First<F> {
    type Acc = Option<V>;
    type Output = Option<V>;

    #[inline]
    fn create(&self) -> Option<V> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<V>, item: &T) {
        if acc.is_none() {
            *acc = Some((self.value)(item));
        }
    }
    #[inline]
    fn merge(&self, acc: &mut Option<V>, other: &Option<V>) {
        if acc.is_none() {
            acc.clone_from(other);
        }
    }
    #[inline]
    fn result(&self, acc: &Option<V>) -> Option<V> {
        acc.clone()
    }
}

/// The value read from the last item added; `None` before any item.
///
/// When accumulators merge, the last of the later accumulator wins.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Last};
///
/// let last = Last::of(|x: &i32| *x);
/// let mut acc = last.create();
/// last.add(&mut acc, &1);
/// last.add(&mut acc, &2);
/// assert_eq!(last.result(&acc), Some(2));
/// ```
#[derive(Clone, Copy)]
pub struct Last<F> {
    value: F,
}

impl<F> Last<F> {
    /// The last `value(item)`.
    pub fn of(value: F) -> Self {
        Last { value }
    }
}

impl<T, V: Clone, F: Fn(&T) -> V> Aggregator<T> for Last<F> {
    type Acc = Option<V>;
    type Output = Option<V>;

    #[inline]
    fn create(&self) -> Option<V> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<V>, item: &T) {
        *acc = Some((self.value)(item));
    }
    #[inline]
    fn merge(&self, acc: &mut Option<V>, other: &Option<V>) {
        if other.is_some() {
            acc.clone_from(other);
        }
    }
    #[inline]
    fn result(&self, acc: &Option<V>) -> Option<V> {
        acc.clone()
    }
}

/// Collects a value read from every item, in the order added.
///
/// Memory grows with the window: prefer an incremental aggregator where one fits.
///
/// # Examples
///
/// ```
/// use rheoflow::aggregate::{Aggregator, Collect};
///
/// let names = Collect::of(|s: &&str| s.len());
/// let mut acc = names.create();
/// names.add(&mut acc, &"ab");
/// names.add(&mut acc, &"c");
/// assert_eq!(names.result(&acc), [2, 1]);
/// ```
#[derive(Clone, Copy)]
pub struct Collect<F> {
    value: F,
}

impl<F> Collect<F> {
    /// Collects `value(item)` for every item.
    pub fn of(value: F) -> Self {
        Collect { value }
    }
}

impl<T, V: Clone, F: Fn(&T) -> V> Aggregator<T> for Collect<F> {
    type Acc = Vec<V>;
    type Output = Vec<V>;

    #[inline]
    fn create(&self) -> Vec<V> {
        Vec::new()
    }
    #[inline]
    fn add(&self, acc: &mut Vec<V>, item: &T) {
        acc.push((self.value)(item));
    }
    #[inline]
    fn merge(&self, acc: &mut Vec<V>, other: &Vec<V>) {
        acc.extend_from_slice(other);
    }
    #[inline]
    fn result(&self, acc: &Vec<V>) -> Vec<V> {
        acc.clone()
    }
}

debug_skipping_closure!(Sum, Min, Max, Mean, First, Last, Collect);
