use crate::error::ConfigError;

/// What a stage boundary does when its channel is full.
///
/// Whatever the strategy, control messages (watermarks, barriers, end of input) are never dropped
/// and never overtake data: only data items are dropped, and every drop is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait for room: true async backpressure (the default). The upstream task stops pulling
    /// input until the downstream side takes a batch.
    #[default]
    Block,
    /// Drop the oldest queued data items to make room (counted as
    /// [`DropReason::OverflowOldest`](crate::metrics::DropReason::OverflowOldest)).
    DropOldest,
    /// Drop the data items that do not fit (counted as
    /// [`DropReason::OverflowNewest`](crate::metrics::DropReason::OverflowNewest)).
    DropNewest,
    /// Fail the pipeline with [`Error::Overflow`](crate::Error::Overflow).
    Fail,
}

/// The configuration of a stage boundary: channel capacity, batch size and overflow strategy.
///
/// # Examples
///
/// ```
/// use rheoflow::channel::{Overflow, StageConfig};
///
/// let config = StageConfig::with_capacity(4_096)?.batch_size(256)?.overflow(Overflow::DropOldest);
/// assert_eq!(config.capacity(), 4_096);
/// assert!(StageConfig::with_capacity(0).is_err());
/// # Ok::<(), rheoflow::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageConfig {
    pub(crate) capacity: usize,
    pub(crate) batch_size: usize,
    pub(crate) overflow: Overflow,
}

impl StageConfig {
    /// The default batch size: items handed over per channel operation.
    pub const DEFAULT_BATCH_SIZE: usize = 512;

    /// A boundary whose channel holds at most `capacity` data items, batches of up to
    /// [`DEFAULT_BATCH_SIZE`](StageConfig::DEFAULT_BATCH_SIZE) (or `capacity` if smaller),
    /// blocking when full.
    ///
    /// # Errors
    ///
    /// A zero `capacity` is a [`ConfigError`].
    pub fn with_capacity(capacity: usize) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::new("stage capacity", "greater than zero"));
        }
        Ok(StageConfig {
            capacity,
            batch_size: Self::DEFAULT_BATCH_SIZE.min(capacity),
            overflow: Overflow::Block,
        })
    }

    /// Hands items over in batches of up to `batch_size`.
    ///
    /// # Errors
    ///
    /// A batch size of zero or above the capacity is a [`ConfigError`].
    pub fn batch_size(mut self, batch_size: usize) -> Result<Self, ConfigError> {
        if batch_size == 0 || batch_size > self.capacity {
            return Err(ConfigError::new(
                "stage batch size",
                "greater than zero and at most the capacity",
            ));
        }
        self.batch_size = batch_size;
        Ok(self)
    }

    /// Sets the overflow strategy.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The channel capacity in data items.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Default for StageConfig {
    /// A capacity of 8192 items in batches of 512, blocking when full.
    fn default() -> Self {
        StageConfig {
            capacity: 8_192,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            overflow: Overflow::Block,
        }
    }
}
