use std::fmt;
use std::time::Duration;

/// A point in time: milliseconds since the Unix epoch.
///
/// Negative values are valid (before 1970). Arithmetic saturates at [`Timestamp::MIN`] and
/// [`Timestamp::MAX`]; it never wraps and never panics.
///
/// # Examples
///
/// ```
/// use rheoflow::Timestamp;
/// use std::time::Duration;
///
/// let t = Timestamp::from_millis(1_000);
/// assert_eq!(t + Duration::from_secs(1), Timestamp::from_millis(2_000));
/// assert_eq!(Timestamp::MAX + Duration::from_secs(1), Timestamp::MAX);
/// assert_eq!(t.millis(), 1_000);
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable time; the watermark before any input.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable time; the watermark at the end of input.
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Creates a timestamp from milliseconds since the Unix epoch.
    #[inline]
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    #[inline]
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Adds `millis`, saturating at the bounds.
    #[inline]
    pub const fn saturating_add_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// Subtracts `millis`, saturating at the bounds.
    #[inline]
    pub const fn saturating_sub_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_sub(millis))
    }

    /// The duration from `earlier` to `self`, or zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Timestamp;
    /// use std::time::Duration;
    ///
    /// let a = Timestamp::from_millis(-500);
    /// let b = Timestamp::from_millis(1_500);
    /// assert_eq!(b.duration_since(a), Duration::from_secs(2));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    #[inline]
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        match self.0.checked_sub(earlier.0) {
            Some(d) if d > 0 => Duration::from_millis(d as u64),
            Some(_) => Duration::ZERO,
            // The difference of two i64 overflows only when it is positive and above i64::MAX.
            None if self.0 > earlier.0 => {
                Duration::from_millis((self.0 as i128 - earlier.0 as i128) as u64)
            }
            None => Duration::ZERO,
        }
    }
}

/// Converts a duration to whole milliseconds, saturating at `i64::MAX`.
#[inline]
pub(crate) fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    #[inline]
    fn add(self, rhs: Duration) -> Timestamp {
        self.saturating_add_millis(duration_millis(rhs))
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;

    #[inline]
    fn sub(self, rhs: Duration) -> Timestamp {
        self.saturating_sub_millis(duration_millis(rhs))
    }
}

impl From<i64> for Timestamp {
    #[inline]
    fn from(millis: i64) -> Self {
        Timestamp(millis)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
