use std::time::Duration;

/// When a window emits results.
///
/// # Examples
///
/// ```
/// use rheoflow::window::EmitPolicy;
/// use std::time::Duration;
///
/// let policy = EmitPolicy::early_every(Duration::from_secs(10));
/// assert_ne!(policy, EmitPolicy::OnClose);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EmitPolicy {
    /// Once, when the window closes (the default), plus an update for each late item within the
    /// allowed lateness.
    #[default]
    OnClose,
    /// After every item, as an early result, then once when the window closes.
    OnUpdate,
    /// Early results every `n` items of a window and key, then once when the window closes.
    EarlyEveryCount(u64),
    /// Early results for every open window every interval of processing time, then once when the
    /// window closes.
    EarlyEvery(Duration),
}

impl EmitPolicy {
    /// Early results every `n` items of a window and key, then the final result.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    #[track_caller]
    pub fn early_every_count(n: u64) -> Self {
        assert!(n > 0, "early firing count must be greater than zero");
        EmitPolicy::EarlyEveryCount(n)
    }

    /// Early results every `interval` of processing time, then the final result.
    ///
    /// # Panics
    ///
    /// Panics if `interval` is zero.
    #[track_caller]
    pub fn early_every(interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "early firing interval must be greater than zero"
        );
        EmitPolicy::EarlyEvery(interval)
    }
}
