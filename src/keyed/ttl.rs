//! State TTL: freeing the state of keys that saw no item for a while, without reading the clock
//! per item.

use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

/// How many calls of [`StateTtl::poll_sweep`] while items flow between two looks at the sweep
/// timer. A look costs about as much as reading the clock; a sweep then comes at most this many
/// items late.
const LOOK_EVERY: u32 = 1024;

/// Sweeps every `ttl` of processing time. A key used now gets the [mark](Self::mark) of the
/// sweeps done so far, and a sweep frees the keys whose mark says they were not used since the
/// sweep before: a key is freed once it saw no item for between `ttl` and twice `ttl`.
#[derive(Debug)]
pub(crate) struct StateTtl {
    sweep: Interval,
    sweeps: u64,
    countdown: u32,
}

impl StateTtl {
    /// Sweeps every `ttl`, the first one `ttl` from now.
    pub(crate) fn new(ttl: Duration) -> Self {
        let mut sweep = tokio::time::interval_at(Instant::now() + ttl, ttl);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        StateTtl {
            sweep,
            sweeps: 0,
            countdown: LOOK_EVERY,
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

    /// Whether a sweep is due now; the caller then frees the [stale](Self::is_stale) keys.
    ///
    /// While items flow (`waiting` false) it looks at the timer only every [`LOOK_EVERY`]
    /// calls. A caller about to wait for input calls it with `waiting` true: it then looks, so
    /// that the timer wakes the task for the next sweep.
    #[inline]
    pub(crate) fn poll_sweep(&mut self, cx: &mut Context<'_>, waiting: bool) -> bool {
        if !waiting {
            self.countdown -= 1;
            if self.countdown > 0 {
                return false;
            }
        }
        self.look(cx)
    }

    #[cold]
    #[inline(never)]
    fn look(&mut self, cx: &mut Context<'_>) -> bool {
        self.countdown = LOOK_EVERY;
        let before = self.sweeps;
        while self.sweep.poll_tick(cx).is_ready() {
            self.sweeps += 1;
        }
        self.sweeps > before
    }
}
