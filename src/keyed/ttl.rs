//! State TTL: freeing the state of keys that saw no item for a while, without reading the clock
//! per item.

use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::operators::timer::LookEvery;

/// Sweeps every `ttl` of processing time. A key used now gets the [mark](Self::mark) of the
/// sweeps done so far, and a sweep frees the keys whose mark says they were not used since the
/// sweep before: a key is freed once it saw no item for between `ttl` and twice `ttl`.
///
/// The sweep timer is looked at as [`LookEvery`] says (after every wait, and every 1,024 items
/// while items keep coming), so a sweep comes at most that many items late.
#[derive(Debug)]
pub(crate) struct StateTtl {
    sweep: Interval,
    sweeps: u64,
    look: LookEvery,
}

impl StateTtl {
    /// Sweeps every `ttl`, the first one `ttl` from now.
    pub(crate) fn new(ttl: Duration) -> Self {
        let mut sweep = tokio::time::interval_at(Instant::now() + ttl, ttl);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        StateTtl {
            sweep,
            sweeps: 0,
            look: LookEvery::default(),
        }
    }

    /// The mark of a key used now.
    #[inline]
    pub(crate) fn mark(&self) -> u64 {
        self.sweeps
    }

    /// Whether a key last used at `mark` is to be freed: it saw no item since the sweep before
    /// the last one.
    #[inline]
    pub(crate) fn is_stale(&self, mark: u64) -> bool {
        mark + 2 <= self.sweeps
    }

    /// Whether a sweep is due before the next item; the caller then frees the
    /// [stale](Self::is_stale) keys.
    #[inline]
    pub(crate) fn poll_sweep(&mut self, cx: &mut Context<'_>) -> bool {
        self.look.due() && self.poll_timer(cx)
    }

    /// [`poll_sweep`](Self::poll_sweep) for a caller about to wait for input: it always looks,
    /// so that the timer wakes the task for the next sweep.
    pub(crate) fn poll_sweep_before_wait(&mut self, cx: &mut Context<'_>) -> bool {
        self.look.waiting();
        self.poll_timer(cx)
    }

    #[cold]
    #[inline(never)]
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let before = self.sweeps;
        while self.sweep.poll_tick(cx).is_ready() {
            self.sweeps += 1;
        }
        self.sweeps > before
    }
}
