use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::ConfigError;
use crate::time::{Clock, Timestamp};
use crate::{Flow, Message};

/// Creates an endless flow that ticks every `period` and yields the processing time of each tick.
///
/// Use it to drive periodic work from a flow: polling an API, emitting heartbeats, or
/// triggering processing-time logic. The first tick fires as soon as the flow is first polled,
/// then one every `period`, read from tokio's clock through a [`Clock`], so tests control it with
/// `tokio::time::pause()` and `start_paused = true`. A consumer that falls behind delays the
/// following ticks (tokio's [`MissedTickBehavior::Delay`]): ticks are never fired in a burst to
/// catch up. The flow never ends on its own; stop it with `take_while`, `select!` or by dropping it.
///
/// # Errors
///
/// A zero `period` is a [`ConfigError`].
///
/// # Panics
///
/// Polling the flow outside a tokio runtime with the time driver enabled panics, as for any
/// tokio timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use rheoflow::source;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let ticks: Vec<_> = source::interval(Duration::from_secs(1))?
///     .into_stream()
///     .take(3)
///     .collect()
///     .await;
/// assert_eq!(ticks[1].millis() - ticks[0].millis(), 1_000);
/// assert_eq!(ticks[2].millis() - ticks[0].millis(), 2_000);
/// # Ok(())
/// # }
/// ```
pub fn interval(period: Duration) -> Result<Flow<IntervalSource>, ConfigError> {
    if period.is_zero() {
        return Err(ConfigError::new("interval period", "greater than zero"));
    }
    Ok(Flow::from_messages(IntervalSource {
        period,
        interval: None,
        clock: Clock::new(),
    }))
}

/// The source of an [`interval`] flow: the processing-time [`Timestamp`] of every tick, forever.
#[must_use = "streams do nothing unless polled"]
pub struct IntervalSource {
    period: Duration,
    /// Created on the first poll, so that the first tick fires then and not at construction.
    interval: Option<Interval>,
    clock: Clock,
}

impl Stream for IntervalSource {
    type Item = Message<Timestamp>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let period = this.period;
        let interval = this.interval.get_or_insert_with(|| {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        ready!(interval.poll_tick(cx));
        Poll::Ready(Some(Message::Data(this.clock.now())))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl fmt::Debug for IntervalSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntervalSource")
            .field("period", &self.period)
            .field("started", &self.interval.is_some())
            .finish_non_exhaustive()
    }
}
