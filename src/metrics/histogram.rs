//! A lock-free, log-linear latency histogram.
//!
//! Durations are recorded in whole microseconds into 256 buckets of [`AtomicU64`]: one bucket per
//! microsecond below 8 µs, then every power of two `[2^k, 2^(k+1))` split into 8 equal
//! sub-buckets, up to `2^34` µs (about 4.8 hours); longer durations land in the last bucket. A
//! bucket is at most 1/8 as wide as its lower bound, so a quantile read from the buckets is at
//! most 12.5 % above the true value. Recording is one relaxed `fetch_add`; nothing is ever locked.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two, as a number of bits.
const SUB_BITS: u32 = 3;
/// Sub-buckets per power of two.
const SUB: usize = 1 << SUB_BITS;
/// The number of buckets.
pub(crate) const BUCKETS: usize = 256;

/// The bucket of a duration of `micros` microseconds.
#[inline]
fn bucket_of(micros: u64) -> usize {
    if micros < SUB as u64 {
        return micros as usize;
    }
    // `k >= SUB_BITS`: the value lies in [2^k, 2^(k+1)).
    let k = 63 - micros.leading_zeros();
    let sub = (micros >> (k - SUB_BITS)) as usize & (SUB - 1);
    let index = (k - SUB_BITS + 1) as usize * SUB + sub;
    index.min(BUCKETS - 1)
}

/// The smallest and largest durations, in microseconds, that fall into bucket `index`. The last
/// bucket also holds everything longer than its upper bound.
fn bucket_bounds(index: usize) -> (u64, u64) {
    if index < SUB {
        return (index as u64, index as u64);
    }
    let (octave, sub) = (index / SUB, (index % SUB) as u64);
    let width = 1u64 << (octave - 1);
    let low = (SUB as u64 + sub) * width;
    (low, low + width - 1)
}

/// The live histogram of one operator.
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Records `weight` samples of `elapsed`.
    #[inline]
    pub(crate) fn record(&self, elapsed: Duration, weight: u64) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(micros)].fetch_add(weight, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot::from_buckets(buckets)
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.snapshot().count())
            .finish_non_exhaustive()
    }
}

/// A point-in-time copy of a latency histogram: how many samples fell into each bucket.
///
/// Quantiles are read from the buckets: [`HistogramSnapshot::quantile`] returns the upper bound of
/// the bucket that holds the quantile, which is never below the true value and at most 12.5 %
/// above it (durations are counted in whole microseconds; below 8 µs every microsecond has its
/// own bucket). See the [module docs](crate::metrics) for what each operator records.
///
/// # Examples
///
/// ```
/// use rheoflow::metrics::HistogramSnapshot;
///
/// let empty = HistogramSnapshot::default();
/// assert_eq!(empty.count(), 0);
/// assert_eq!(empty.quantile(0.5), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Empty when nothing was recorded; otherwise one count per bucket.
    buckets: Vec<u64>,
    count: u64,
}

impl HistogramSnapshot {
    fn from_buckets(buckets: Vec<u64>) -> Self {
        let count = buckets.iter().fold(0u64, |sum, n| sum.saturating_add(*n));
        if count == 0 {
            return HistogramSnapshot::default();
        }
        HistogramSnapshot { buckets, count }
    }

    /// How many samples were recorded (a batch weighted by its items counts as that many).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Returns `true` if no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The duration below or at which a fraction `q` of the samples lie (`q` is clamped to
    /// `0.0..=1.0`; `0.5` is the median), as the upper bound of the bucket holding it. `None` if
    /// no sample was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the sample sought, from 1.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (index, n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(*n);
            if seen >= rank {
                return Some(Duration::from_micros(bucket_bounds(index).1));
            }
        }
        // Unreachable: the counts add up to `count`.
        Some(Duration::from_micros(bucket_bounds(BUCKETS - 1).1))
    }

    /// The non-empty buckets, in increasing order, as `(upper bound, samples)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::metrics::HistogramSnapshot;
    ///
    /// assert_eq!(HistogramSnapshot::default().buckets().count(), 0);
    /// ```
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(index, n)| (Duration::from_micros(bucket_bounds(index).1), *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        let mut next = 0;
        for index in 0..BUCKETS {
            let (low, high) = bucket_bounds(index);
            assert_eq!(low, next, "bucket {index} starts where the last ended");
            assert!(high >= low);
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high), index);
            next = high + 1;
        }
        assert_eq!(next, 1 << 34);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn bucket_boundaries() {
        // One bucket per microsecond up to 15 µs.
        for v in 0..16 {
            assert_eq!(bucket_bounds(bucket_of(v)), (v, v));
        }
        // Then 8 sub-buckets per power of two.
        assert_eq!(bucket_bounds(bucket_of(16)), (16, 17));
        assert_eq!(bucket_bounds(bucket_of(17)), (16, 17));
        assert_eq!(bucket_bounds(bucket_of(31)), (30, 31));
        assert_eq!(bucket_bounds(bucket_of(32)), (32, 35));
        assert_eq!(bucket_bounds(bucket_of(1_000)), (960, 1_023));
        assert_eq!(bucket_bounds(bucket_of(1_023)), (960, 1_023));
        assert_eq!(bucket_bounds(bucket_of(1_024)), (1_024, 1_151));
        // An hour is covered.
        let hour = 3_600_000_000;
        let (low, high) = bucket_bounds(bucket_of(hour));
        assert!(low <= hour && hour <= high && bucket_of(hour) < BUCKETS - 1);
    }

    #[test]
    fn every_bucket_is_at_most_an_eighth_of_its_lower_bound_wide() {
        for index in SUB..BUCKETS {
            let (low, high) = bucket_bounds(index);
            assert!(
                (high - low + 1) * 8 <= low,
                "bucket {index}: {low}..={high}"
            );
        }
    }

    #[test]
    fn records_and_rounds_down_to_whole_microseconds() {
        let histogram = Histogram::new();
        histogram.record(Duration::from_nanos(999), 1);
        histogram.record(Duration::from_nanos(1_999), 2);
        histogram.record(Duration::MAX, 1);
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 4);
        let buckets: Vec<_> = snapshot.buckets().collect();
        assert_eq!(buckets[0], (micros(0), 1));
        assert_eq!(buckets[1], (micros(1), 2));
        assert_eq!(buckets[2], (micros((1 << 34) - 1), 1));
    }

    #[test]
    fn quantiles_of_known_samples() {
        let histogram = Histogram::new();
        // 1..=1000 µs, once each.
        for v in 1..=1_000 {
            histogram.record(micros(v), 1);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 1_000);
        // The 500th sample is 500 µs, in the bucket 480..=511.
        assert_eq!(snapshot.quantile(0.5), Some(micros(511)));
        // The 990th is 990 µs, in 960..=1023; so is the 999th.
        assert_eq!(snapshot.quantile(0.99), Some(micros(1_023)));
        assert_eq!(snapshot.quantile(0.999), Some(micros(1_023)));
        assert_eq!(snapshot.quantile(0.0), Some(micros(1)));
        assert_eq!(snapshot.quantile(1.0), Some(micros(1_023)));
        // Small values are exact.
        assert_eq!(snapshot.quantile(0.005), Some(micros(5)));
        // Every quantile is within 12.5 % above the true value.
        for q in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let truth = (q * 1_000.0f64).ceil();
            let read = snapshot.quantile(q).unwrap().as_micros() as f64;
            assert!(
                read >= truth && read <= truth * 1.125,
                "q {q}: {read} for {truth}"
            );
        }
    }

    #[test]
    fn weights_count_as_samples() {
        let histogram = Histogram::new();
        histogram.record(micros(10), 98);
        histogram.record(micros(5_000), 1);
        histogram.record(Duration::from_secs(2), 1);
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 100);
        assert_eq!(snapshot.quantile(0.5), Some(micros(10)));
        assert_eq!(snapshot.quantile(0.98), Some(micros(10)));
        // 5000 µs lies in 4608..=5119.
        assert_eq!(snapshot.quantile(0.99), Some(micros(5_119)));
        let p999 = snapshot.quantile(0.999).unwrap();
        assert!(p999 >= Duration::from_secs(2) && p999 <= Duration::from_millis(2_250));
    }

    #[test]
    fn empty_histograms_have_no_quantiles() {
        let snapshot = Histogram::new().snapshot();
        assert!(snapshot.is_empty());
        assert_eq!(snapshot.quantile(0.99), None);
        assert_eq!(snapshot, HistogramSnapshot::default());
    }
}
