//! The resettable timer of the processing-time operators.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// How far away "never" is, for a deadline past what `Instant` can hold (as tokio does).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A tokio timer that is armed and re-armed in place.
///
/// The `Sleep` is created the first time the timer is armed, so that an operator can be built
/// outside a runtime, and boxed, so that the operator stays `Unpin`: one allocation per operator,
/// none per item or per arming.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timer {
    /// The instant `duration` from `now`, or a far future one if that is not representable.
    pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
        now.checked_add(duration)
            .unwrap_or_else(|| now + FAR_FUTURE)
    }

    /// Arms the timer to fire at `deadline`, unless it is armed for that instant already.
    pub(crate) fn arm(&mut self, deadline: Instant) {
        match &mut self.sleep {
            Some(sleep) if sleep.deadline() == deadline => {}
            Some(sleep) => sleep.as_mut().reset(deadline),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// Ready once the deadline it was last armed for has passed; registers the waker until then.
    ///
    /// A timer never armed is pending and registers nothing: poll only an armed timer.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// When an operator that polls a timer between messages looks at it: after every wait for
/// input (the timer may be what woke the task), and every [`LOOK_EVERY`] messages while
/// messages keep coming. Polling a tokio timer costs about as much as reading the clock and
/// takes from the task's cooperative budget, so polling it before every message slowed a keyed
/// process function with a timer set to about a third of its speed. A timer that comes due
/// while messages keep coming fires at most [`LOOK_EVERY`] messages late.
#[derive(Debug)]
pub(crate) struct LookEvery {
    countdown: u32,
    waited: bool,
}

/// Messages between two looks at a timer while messages keep coming.
pub(crate) const LOOK_EVERY: u32 = 1024;

impl Default for LookEvery {
    fn default() -> Self {
        LookEvery {
            countdown: LOOK_EVERY,
            // The first poll looks.
            waited: true,
        }
    }
}

impl LookEvery {
    /// Whether to look at the timer before the next message.
    #[inline]
    pub(crate) fn due(&mut self) -> bool {
        if self.waited {
            self.waited = false;
            self.countdown = LOOK_EVERY;
            return true;
        }
        self.countdown -= 1;
        if self.countdown == 0 {
            self.countdown = LOOK_EVERY;
            return true;
        }
        false
    }

    /// The operator is about to wait for input (having polled its timer, so that the timer
    /// wakes it): the next poll looks first.
    #[inline]
    pub(crate) fn waiting(&mut self) {
        self.waited = true;
    }
}
