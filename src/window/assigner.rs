//! Time window assigners and the slice ("pane") arithmetic behind them.

use std::time::Duration;

use crate::time::timestamp::duration_millis;

/// Fixed-size, non-overlapping event-time windows: `[start, start + size)` with
/// `start = ts − (ts − offset) mod size`.
///
/// # Examples
///
/// Daily windows that start at 05:00 UTC:
///
/// ```
/// use rheoflow::window::Tumbling;
/// use std::time::Duration;
///
/// let daily = Tumbling::of(Duration::from_secs(86_400)).with_offset(Duration::from_secs(5 * 3_600));
/// # let _ = daily;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tumbling {
    size: i64,
    offset: i64,
}

impl Tumbling {
    /// Windows of `size`, aligned to the epoch.
    ///
    /// # Panics
    ///
    /// Panics if `size` is under one millisecond.
    #[track_caller]
    pub fn of(size: Duration) -> Self {
        let size = duration_millis(size);
        assert!(size > 0, "tumbling window size must be at least 1ms");
        Tumbling { size, offset: 0 }
    }

    /// Shifts the windows' alignment by `offset` (taken modulo the size).
    pub fn with_offset(self, offset: Duration) -> Self {
        self.with_offset_millis(duration_millis(offset))
    }

    /// Shifts the windows' alignment by `offset` milliseconds, which may be negative (taken modulo
    /// the size).
    pub fn with_offset_millis(mut self, offset: i64) -> Self {
        self.offset = offset.rem_euclid(self.size);
        self
    }

    pub(crate) fn panes(self) -> TimeAssigner {
        TimeAssigner::new(self.size, self.size, self.offset)
    }
}

/// Fixed-size event-time windows starting every `slide`: each `[s, s + size)` with `s` aligned to
/// `slide` (plus an offset).
///
/// With `slide < size` windows overlap and an item belongs to several; with `slide > size` they
/// leave gaps, and items in a gap belong to no window (they are dropped and counted).
///
/// # Examples
///
/// ```
/// use rheoflow::window::Sliding;
/// use std::time::Duration;
///
/// let last_minute_every_10s = Sliding::of(Duration::from_secs(60), Duration::from_secs(10));
/// # let _ = last_minute_every_10s;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sliding {
    size: i64,
    slide: i64,
    offset: i64,
}

impl Sliding {
    /// Windows of `size` starting every `slide`, aligned to the epoch.
    ///
    /// # Panics
    ///
    /// Panics if `size` or `slide` is under one millisecond.
    #[track_caller]
    pub fn of(size: Duration, slide: Duration) -> Self {
        let (size, slide) = (duration_millis(size), duration_millis(slide));
        assert!(size > 0, "sliding window size must be at least 1ms");
        assert!(slide > 0, "sliding window slide must be at least 1ms");
        Sliding {
            size,
            slide,
            offset: 0,
        }
    }

    /// Shifts the windows' alignment by `offset` (taken modulo the slide).
    pub fn with_offset(self, offset: Duration) -> Self {
        self.with_offset_millis(duration_millis(offset))
    }

    /// Shifts the windows' alignment by `offset` milliseconds, which may be negative (taken modulo
    /// the slide).
    pub fn with_offset_millis(mut self, offset: i64) -> Self {
        self.offset = offset.rem_euclid(self.slide);
        self
    }

    pub(crate) fn panes(self) -> TimeAssigner {
        TimeAssigner::new(self.size, self.slide, self.offset)
    }
}

/// Per-key windows of activity: each item opens `[ts, ts + gap)`, and windows that overlap or
/// touch merge into their cover.
///
/// # Examples
///
/// ```
/// use rheoflow::window::Session;
/// use std::time::Duration;
///
/// let visits = Session::with_gap(Duration::from_secs(30 * 60));
/// # let _ = visits;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub(crate) gap: i64,
}

impl Session {
    /// Sessions that close after `gap` without items.
    ///
    /// # Panics
    ///
    /// Panics if `gap` is under one millisecond.
    #[track_caller]
    pub fn with_gap(gap: Duration) -> Self {
        let gap = duration_millis(gap);
        assert!(gap > 0, "session gap must be at least 1ms");
        Session { gap }
    }
}

/// Tumbling and sliding windows as slices: slice `n` is
/// `[offset + n·pane, offset + (n+1)·pane)` with `pane = gcd(size, slide)`, and window `m` covers
/// slices `[m·a, m·a + b)` with `a = slide / pane`, `b = size / pane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeAssigner {
    pub(crate) size: i64,
    pub(crate) slide: i64,
    pub(crate) offset: i64,
    pub(crate) pane: i64,
    pub(crate) a: i64,
    pub(crate) b: i64,
}

fn gcd(mut x: i64, mut y: i64) -> i64 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

impl TimeAssigner {
    fn new(size: i64, slide: i64, offset: i64) -> Self {
        let pane = gcd(size, slide);
        TimeAssigner {
            size,
            slide,
            offset,
            pane,
            a: slide / pane,
            b: size / pane,
        }
    }

    /// The slice that holds `ts`.
    #[inline]
    pub(crate) fn pane_of(&self, ts: i64) -> i128 {
        match ts.checked_sub(self.offset) {
            Some(d) => d.div_euclid(self.pane) as i128,
            None => (ts as i128 - self.offset as i128).div_euclid(self.pane as i128),
        }
    }

    /// The first instant of slice `n`.
    pub(crate) fn pane_start(&self, n: i128) -> i128 {
        self.offset as i128 + n * self.pane as i128
    }

    /// The windows that cover slice `n`: `lo..=hi`, empty (`lo > hi`) for a slice in a gap.
    #[inline]
    pub(crate) fn windows_of_pane(&self, n: i128) -> (i128, i128) {
        let (a, b) = (self.a as i128, self.b as i128);
        ((n - b + a).div_euclid(a), n.div_euclid(a))
    }

    /// The slices window `m` covers: `first..first + b`.
    pub(crate) fn panes_of_window(&self, m: i128) -> std::ops::Range<i128> {
        let first = m * self.a as i128;
        first..first + self.b as i128
    }

    /// The first instant of window `m`.
    pub(crate) fn window_start(&self, m: i128) -> i128 {
        self.offset as i128 + m * self.slide as i128
    }

    /// The last instant of window `m`, `end − 1`.
    #[inline]
    pub(crate) fn window_max(&self, m: i128) -> i128 {
        self.window_start(m) + self.size as i128 - 1
    }

    /// The first window still open under watermark `w`: the smallest `m` with `max(m) > w`.
    pub(crate) fn first_open(&self, w: i64) -> i128 {
        let slide = self.slide as i128;
        (w as i128 - self.offset as i128 - self.size as i128 + 1).div_euclid(slide) + 1
    }
}
