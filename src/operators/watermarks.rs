use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use crate::checkpoint::{self, Participant, StateError};
use crate::time::{Clock, Timestamp, WatermarkGenerator, WatermarkStrategy};
use crate::{Control, Error, Message};

pin_project! {
    /// The stream returned by [`Flow::watermarks`](crate::Flow::watermarks).
    #[must_use = "streams do nothing unless polled"]
    pub struct Watermarks<S, F, G> {
        #[pin]
        stream: S,
        timestamp: F,
        generator: G,
        current: Timestamp,
        // The last item raised the watermark to `current`: it goes out next.
        watermark_due: bool,
        // The next poll goes through the checks first: not restored yet, a control message
        // pending, or ended. False while items flow, so that an item pays none of them.
        checks: bool,
        pending: Option<Control>,
        ended: bool,
        idle: Option<IdleTracker>,
        #[pin]
        idle_timer: Option<Sleep>,
        wall_clock: Option<WallClockTicker>,
        // The operator's part in the flow's checkpoints: the last watermark is its state.
        participant: Option<Participant>,
        restored: bool,
    }
}

/// When the input last had items, read from the clock only when it stops having them: an item
/// sets `seen`, and the first poll that finds the input waiting turns that into `last_event`.
/// While items keep coming, their exact times do not matter; once none comes, the last one
/// came just before that poll (in paused tokio time, at the same instant).
#[derive(Debug)]
struct IdleTracker {
    timeout: Duration,
    last_event: Instant,
    seen: bool,
    idle: bool,
}

#[derive(Debug)]
struct WallClockTicker {
    clock: Clock,
    lag: Duration,
    interval: Interval,
}

impl<S, F, G> Watermarks<S, F, G> {
    pub(crate) fn new(
        stream: S,
        timestamp: F,
        strategy: WatermarkStrategy<G>,
        participant: Option<Participant>,
    ) -> Self {
        let idle = strategy.idle_timeout.map(|timeout| IdleTracker {
            timeout,
            last_event: Instant::now(),
            seen: false,
            idle: false,
        });
        let idle_timer = idle
            .as_ref()
            .map(|idle| tokio::time::sleep_until(idle.last_event + idle.timeout));
        let wall_clock = strategy.wall_clock.map(|wall| {
            let mut interval = tokio::time::interval(wall.period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            WallClockTicker {
                clock: Clock::new(),
                lag: wall.lag,
                interval,
            }
        });
        Watermarks {
            stream,
            timestamp,
            generator: strategy.generator,
            current: Timestamp::MIN,
            watermark_due: false,
            checks: true,
            pending: None,
            ended: false,
            idle,
            idle_timer,
            wall_clock,
            participant,
            restored: false,
        }
    }
}

impl<S, F, G, T> Stream for Watermarks<S, F, G>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(&T) -> Timestamp,
    G: WatermarkGenerator,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        if *this.watermark_due {
            *this.watermark_due = false;
            return Poll::Ready(Some(Message::Control(Control::Watermark(*this.current))));
        }
        if *this.checks {
            if !*this.restored {
                *this.restored = true;
                match restore(this.participant.as_ref()) {
                    // The restored watermark goes out first: the generator never goes behind it.
                    Ok(Some(watermark)) if watermark > *this.current => {
                        *this.current = watermark;
                        return Poll::Ready(Some(Message::Control(Control::Watermark(watermark))));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        *this.ended = true;
                        return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(
                            error,
                        )))));
                    }
                }
            }
            if let Some(control) = this.pending.take() {
                return Poll::Ready(Some(Message::Control(control)));
            }
            if *this.ended {
                return Poll::Ready(None);
            }
            *this.checks = false;
        }
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Data(item))) => {
                    let ts = (this.timestamp)(&item);
                    if let Some(idle) = this.idle.as_mut() {
                        idle.seen = true;
                        idle.idle = false;
                    }
                    if let Some(watermark) = this.generator.on_event(ts) {
                        if watermark > *this.current {
                            *this.current = watermark;
                            *this.watermark_due = true;
                        }
                    }
                    return Poll::Ready(Some(Message::Data(item)));
                }
                // This operator defines event time from here on, as in Flink: watermarks from
                // upstream are replaced by the ones it generates.
                Poll::Ready(Some(Message::Control(Control::Watermark(_) | Control::Idle))) => {}
                Poll::Ready(Some(Message::Control(Control::End))) => {
                    if let Some(participant) = this.participant.as_ref() {
                        participant.finish(snapshot(Timestamp::MAX));
                    }
                    *this.ended = true;
                    *this.checks = true;
                    *this.pending = Some(Control::End);
                    if *this.current < Timestamp::MAX {
                        *this.current = Timestamp::MAX;
                        return Poll::Ready(Some(Message::Control(Control::Watermark(
                            Timestamp::MAX,
                        ))));
                    }
                    return Poll::Ready(this.pending.take().map(Message::Control));
                }
                Poll::Ready(Some(Message::Control(control))) => {
                    if let (Control::Barrier(barrier), Some(participant)) =
                        (&control, this.participant.as_ref())
                    {
                        participant.ack(barrier, snapshot(*this.current));
                    }
                    *this.ended = control.is_terminal();
                    *this.checks = *this.ended;
                    return Poll::Ready(Some(Message::Control(control)));
                }
                Poll::Ready(None) => {
                    *this.ended = true;
                    *this.checks = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        // Nothing from upstream: let processing time move the watermark or mark the input idle.
        if let Some(wall) = this.wall_clock.as_mut() {
            while wall.interval.poll_tick(cx).is_ready() {
                let watermark = wall.clock.now() - wall.lag;
                if watermark > *this.current {
                    *this.current = watermark;
                    return Poll::Ready(Some(Message::Control(Control::Watermark(watermark))));
                }
            }
        }
        if let (Some(idle), Some(mut timer)) =
            (this.idle.as_mut(), this.idle_timer.as_mut().as_pin_mut())
        {
            if idle.seen {
                idle.seen = false;
                idle.last_event = Instant::now();
            }
            while timer.as_mut().poll(cx).is_ready() {
                let deadline = idle.last_event + idle.timeout;
                if Instant::now() >= deadline {
                    // Re-arm far away; the next event re-arms it properly.
                    timer.as_mut().reset(Instant::now() + idle.timeout);
                    if !idle.idle {
                        idle.idle = true;
                        return Poll::Ready(Some(Message::Control(Control::Idle)));
                    }
                } else {
                    timer.as_mut().reset(deadline);
                }
            }
        }
        Poll::Pending
    }
}

/// The version of the state this build writes.
const STATE_VERSION: u32 = 1;

/// The state of the operator: the last watermark it sent. A custom generator's own state is
/// not kept; after a restore it starts afresh, but never sends a watermark behind this one.
fn snapshot(current: Timestamp) -> Result<Vec<u8>, StateError> {
    checkpoint::encode_versioned(STATE_VERSION, &current)
}

fn restore(participant: Option<&Participant>) -> Result<Option<Timestamp>, Error> {
    let Some(participant) = participant else {
        return Ok(None);
    };
    Ok(participant.restore(|bytes| checkpoint::decode_current(STATE_VERSION, bytes))?)
}

impl<S: fmt::Debug, F, G: fmt::Debug> fmt::Debug for Watermarks<S, F, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watermarks")
            .field("stream", &self.stream)
            .field("generator", &self.generator)
            .field("current", &self.current)
            .finish()
    }
}
