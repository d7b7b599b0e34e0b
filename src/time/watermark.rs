//! Watermark strategies: how a flow's event time advances.

use std::fmt;
use std::time::Duration;

use super::timestamp::duration_millis;
use super::Timestamp;

/// Generates watermarks from the timestamps of the events a source sees.
///
/// Implement it for a custom strategy; the built-ins are [`WatermarkStrategy::monotonic`] and
/// [`WatermarkStrategy::bounded_out_of_orderness`]. A generator may return any value; the operator
/// that drives it never lets the emitted watermark go backwards.
///
/// # Examples
///
/// A watermark that trails the newest event by a fixed number of events' worth of time:
///
/// ```
/// use rheoflow::time::{WatermarkGenerator, WatermarkStrategy};
/// use rheoflow::Timestamp;
///
/// #[derive(Debug)]
/// struct Punctuated;
///
/// impl WatermarkGenerator for Punctuated {
///     fn on_event(&mut self, timestamp: Timestamp) -> Option<Timestamp> {
///         // Only events at whole seconds advance the watermark.
///         (timestamp.millis() % 1_000 == 0).then(|| timestamp.saturating_sub_millis(1))
///     }
/// }
///
/// let strategy = WatermarkStrategy::custom(Punctuated);
/// # let _ = strategy;
/// ```
pub trait WatermarkGenerator: fmt::Debug {
    /// Sees the timestamp of one event; returns the watermark that holds after it, if any.
    fn on_event(&mut self, timestamp: Timestamp) -> Option<Timestamp>;
}

/// Bounded out-of-orderness: the watermark trails the largest timestamp seen by a fixed bound.
///
/// After seeing a largest timestamp `max`, the watermark is `max − bound − 1`: events up to `bound`
/// older than the newest one are still on time.
#[derive(Debug, Clone, Copy)]
pub struct BoundedOutOfOrderness {
    bound_millis: i64,
    max_seen: Option<Timestamp>,
}

impl BoundedOutOfOrderness {
    /// Creates the generator for `bound`.
    pub fn new(bound: Duration) -> Self {
        BoundedOutOfOrderness {
            bound_millis: duration_millis(bound),
            max_seen: None,
        }
    }
}

impl WatermarkGenerator for BoundedOutOfOrderness {
    #[inline]
    fn on_event(&mut self, timestamp: Timestamp) -> Option<Timestamp> {
        match self.max_seen {
            Some(max) if max >= timestamp => None,
            _ => {
                self.max_seen = Some(timestamp);
                Some(
                    timestamp
                        .saturating_sub_millis(self.bound_millis)
                        .saturating_sub_millis(1),
                )
            }
        }
    }
}

/// How a flow derives watermarks from its events, and what it does when its input is idle.
///
/// # Examples
///
/// ```
/// use rheoflow::time::WatermarkStrategy;
/// use std::time::Duration;
///
/// let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::from_secs(5))
///     .with_idleness(Duration::from_secs(60));
/// assert_eq!(strategy.idle_timeout(), Some(Duration::from_secs(60)));
/// ```
#[derive(Debug)]
pub struct WatermarkStrategy<G = BoundedOutOfOrderness> {
    pub(crate) generator: G,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) wall_clock: Option<WallClock>,
}

/// Wall-clock progression: the watermark also advances with processing time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    pub(crate) lag: Duration,
    pub(crate) period: Duration,
}

impl WatermarkStrategy<BoundedOutOfOrderness> {
    /// Timestamps only grow: the watermark is the largest timestamp seen minus one.
    pub fn monotonic() -> Self {
        WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO)
    }

    /// Events arrive at most `bound` late: the watermark is the largest timestamp seen minus
    /// `bound` minus one.
    pub fn bounded_out_of_orderness(bound: Duration) -> Self {
        WatermarkStrategy::custom(BoundedOutOfOrderness::new(bound))
    }
}

impl<G: WatermarkGenerator> WatermarkStrategy<G> {
    /// A strategy driven by a custom generator.
    pub fn custom(generator: G) -> Self {
        WatermarkStrategy {
            generator,
            idle_timeout: None,
            wall_clock: None,
        }
    }

    /// Marks the input idle after `timeout` of processing time without events, so that an idle
    /// input does not hold back the watermark of an operator with several inputs. The input is
    /// active again with its next event.
    ///
    /// # Panics
    ///
    /// Panics if `timeout` is zero.
    #[track_caller]
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "idleness timeout must be greater than zero"
        );
        self.idle_timeout = Some(timeout);
        self
    }

    /// Also advances the watermark with processing time: every `period`, the watermark becomes at
    /// least `now − lag`, even when no events arrive.
    ///
    /// Use it for sources whose event time follows the wall clock, so that windows close on time
    /// when traffic stops.
    ///
    /// # Panics
    ///
    /// Panics if `period` is zero.
    #[track_caller]
    pub fn with_wall_clock(mut self, lag: Duration, period: Duration) -> Self {
        assert!(
            !period.is_zero(),
            "wall-clock period must be greater than zero"
        );
        self.wall_clock = Some(WallClock { lag, period });
        self
    }

    /// The idleness timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
}
