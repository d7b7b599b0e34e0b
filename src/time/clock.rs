use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::timestamp::duration_millis;
use super::Timestamp;

/// The processing-time clock: wall-clock milliseconds that advance with tokio's clock.
///
/// A clock reads the system time once, when it is created, and from then on advances with
/// [`tokio::time::Instant`]. Under `tokio::time::pause()` it stands still until the test advances
/// it, which makes processing-time operators deterministic in tests.
///
/// # Examples
///
/// ```
/// use rheoflow::time::Clock;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let clock = Clock::new();
/// let before = clock.now();
/// tokio::time::advance(Duration::from_millis(250)).await;
/// assert_eq!(clock.now().millis() - before.millis(), 250);
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    origin_time: Timestamp,
}

impl Clock {
    /// Creates a clock that starts at the current system time.
    pub fn new() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(duration_millis)
            .unwrap_or(0);
        Clock::starting_at(Timestamp::from_millis(since_epoch))
    }

    /// Creates a clock that reads `start` now and advances with tokio's clock.
    pub fn starting_at(start: Timestamp) -> Self {
        Clock {
            origin: Instant::now(),
            origin_time: start,
        }
    }

    /// The current processing time.
    #[inline]
    pub fn now(&self) -> Timestamp {
        self.origin_time + self.origin.elapsed()
    }

    /// The tokio instant at which the processing time reads `time` (the origin if `time` is
    /// earlier).
    pub(crate) fn instant_at(&self, time: Timestamp) -> Instant {
        self.origin + time.duration_since(self.origin_time)
    }

    /// The processing time at tokio instant `instant`.
    #[inline]
    pub fn at(&self, instant: Instant) -> Timestamp {
        self.origin_time + instant.saturating_duration_since(self.origin)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
