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
        // The watermark to send after the item just sent (a `Copy` value: setting it per item
        // drops nothing).
        next_watermark: Option<Timestamp>,
        // The end of input follows the final watermark.
        end_next: bool,
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

#[derive(Debug)]
struct IdleTracker {
    timeout: Duration,
    last_event: Instant,
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
            next_watermark: None,
            end_next: false,
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

    /// The common cases inline (the watermark after an item, the next item), the rest in
    /// [`Watermarks::poll_general`], so that this small part inlines into the operator polling it.
    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let this = self.as_mut().project();
        if let Some(watermark) = this.next_watermark.take() {
            return Poll::Ready(Some(Message::Control(Control::Watermark(watermark))));
        }
        if !*this.restored || *this.ended || this.idle.is_some() {
            return self.poll_general(cx, None);
        }
        match this.stream.poll_next(cx) {
            Poll::Ready(Some(Message::Data(item))) => {
                let ts = (this.timestamp)(&item);
                if let Some(watermark) = this.generator.on_event(ts) {
                    if watermark > *this.current {
                        *this.current = watermark;
                        *this.next_watermark = Some(watermark);
                    }
                }
                Poll::Ready(Some(Message::Data(item)))
            }
            polled => self.poll_general(cx, Some(polled)),
        }
    }
}

impl<S, F, G, T> Watermarks<S, F, G>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(&T) -> Timestamp,
    G: WatermarkGenerator,
{
    /// Everything [`Stream::poll_next`] does not do inline: the restore on the first poll, idle
    /// inputs, control messages, the end of input and processing-time watermarks. `polled` is
    /// what the upstream part already returned in this poll, if anything.
    #[inline(never)]
    fn poll_general(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut polled: Option<Poll<Option<Message<T>>>>,
    ) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
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
                    return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(error)))));
                }
            }
        }
        if let Some(watermark) = this.next_watermark.take() {
            return Poll::Ready(Some(Message::Control(Control::Watermark(watermark))));
        }
        if *this.ended {
            let end = std::mem::take(this.end_next).then_some(Message::Control(Control::End));
            return Poll::Ready(end);
        }
        loop {
            let next = match polled.take() {
                Some(next) => next,
                None => this.stream.as_mut().poll_next(cx),
            };
            match next {
                Poll::Ready(Some(Message::Data(item))) => {
                    let ts = (this.timestamp)(&item);
                    if let Some(idle) = this.idle.as_mut() {
                        idle.last_event = Instant::now();
                        idle.idle = false;
                    }
                    if let Some(watermark) = this.generator.on_event(ts) {
                        if watermark > *this.current {
                            *this.current = watermark;
                            *this.next_watermark = Some(watermark);
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
                    if *this.current < Timestamp::MAX {
                        *this.current = Timestamp::MAX;
                        *this.end_next = true;
                        return Poll::Ready(Some(Message::Control(Control::Watermark(
                            Timestamp::MAX,
                        ))));
                    }
                    return Poll::Ready(Some(Message::Control(Control::End)));
                }
                Poll::Ready(Some(Message::Control(control))) => {
                    if let (Control::Barrier(barrier), Some(participant)) =
                        (&control, this.participant.as_ref())
                    {
                        participant.ack(barrier, snapshot(*this.current));
                    }
                    *this.ended = control.is_terminal();
                    return Poll::Ready(Some(Message::Control(control)));
                }
                Poll::Ready(None) => {
                    *this.ended = true;
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
