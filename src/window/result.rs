use std::fmt;

use crate::Timestamp;

/// A time window `[start, end)`.
///
/// # Examples
///
/// ```
/// use rheoflow::window::TimeWindow;
/// use rheoflow::Timestamp;
///
/// let w = TimeWindow::new(Timestamp::from_millis(0), Timestamp::from_millis(1_000));
/// assert_eq!(w.max_timestamp(), Timestamp::from_millis(999));
/// assert!(w.contains(Timestamp::from_millis(999)));
/// assert!(!w.contains(Timestamp::from_millis(1_000)));
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TimeWindow {
    start: Timestamp,
    end: Timestamp,
}

impl TimeWindow {
    /// Creates the window `[start, end)`.
    pub const fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeWindow { start, end }
    }

    /// Creates a window from exact bounds, clamping them to the range of [`Timestamp`].
    pub(crate) fn from_bounds(start: i128, end: i128) -> Self {
        TimeWindow {
            start: Timestamp::from_millis(clamp(start)),
            end: Timestamp::from_millis(clamp(end)),
        }
    }

    /// The first instant of the window.
    pub const fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the window.
    pub const fn end(&self) -> Timestamp {
        self.end
    }

    /// The last instant of the window, `end − 1`: the timestamp of its result, so that windows
    /// can be chained.
    pub const fn max_timestamp(&self) -> Timestamp {
        self.end.saturating_sub_millis(1)
    }

    /// Whether `timestamp` falls in `[start, end)`.
    pub fn contains(&self, timestamp: Timestamp) -> bool {
        self.start <= timestamp && timestamp < self.end
    }
}

pub(crate) fn clamp(value: i128) -> i64 {
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl fmt::Debug for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start.millis(), self.end.millis())
    }
}

/// A count window: the `sequence`-th firing of a key's count window, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CountWindow {
    /// The position of this firing among the key's firings, from 0.
    pub sequence: u64,
    /// How many items the window held.
    pub len: u64,
}

/// Why a window's result was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum Firing {
    /// An early, partial result, before the window closed (see [`EmitPolicy`](super::EmitPolicy)).
    Early,
    /// The window's first complete result: when the watermark passed its end, or at once for a
    /// window whose first item came late but within the allowed lateness.
    OnTime,
    /// An update of a result already emitted, caused by a late item within the allowed lateness
    /// or by a session merge that absorbed a fired session.
    Late,
}

/// The result of one window for one key.
///
/// # Examples
///
/// ```
/// use rheoflow::window::{Firing, TimeWindow, WindowResult};
/// use rheoflow::Timestamp;
///
/// let window = TimeWindow::new(Timestamp::from_millis(0), Timestamp::from_millis(60_000));
/// let result = WindowResult::new("EWR", window, 42u64, Firing::OnTime);
/// assert_eq!(result.timestamp(), Timestamp::from_millis(59_999));
/// assert!(!result.is_update());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult<K, V, W = TimeWindow> {
    /// The key.
    pub key: K,
    /// The window.
    pub window: W,
    /// The aggregated value.
    pub value: V,
    /// Why it was emitted.
    pub firing: Firing,
}

impl<K, V, W> WindowResult<K, V, W> {
    /// Creates a result.
    pub fn new(key: K, window: W, value: V, firing: Firing) -> Self {
        WindowResult {
            key,
            window,
            value,
            firing,
        }
    }

    /// Whether this result updates one emitted before ([`Firing::Late`]).
    pub fn is_update(&self) -> bool {
        self.firing == Firing::Late
    }
}

impl<K, V> WindowResult<K, V, TimeWindow> {
    /// The result's event time: the window's last instant, `end − 1`.
    pub fn timestamp(&self) -> Timestamp {
        self.window.max_timestamp()
    }
}
