use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::time::WatermarkTracker;
use crate::{Control, Message};

pin_project! {
    /// The stream returned by [`Flow::union`](crate::Flow::union).
    #[must_use = "streams do nothing unless polled"]
    pub struct Union<A, B> {
        #[pin]
        first: A,
        #[pin]
        second: B,
        tracker: WatermarkTracker,
        ended: [bool; 2],
        // Which input to poll first next time, so that neither starves the other.
        prefer_second: bool,
        done: bool,
    }
}

impl<A, B> Union<A, B> {
    pub(crate) fn new(first: A, second: B) -> Self {
        Union {
            first,
            second,
            tracker: WatermarkTracker::new(2),
            ended: [false; 2],
            prefer_second: false,
            done: false,
        }
    }
}

impl<A, B, T> Stream for Union<A, B>
where
    A: Stream<Item = Message<T>>,
    B: Stream<Item = Message<T>>,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            let mut pending = 0;
            let order = if *this.prefer_second { [1, 0] } else { [0, 1] };
            *this.prefer_second = !*this.prefer_second;
            for input in order {
                if this.ended[input] {
                    pending += 1;
                    continue;
                }
                let poll = if input == 0 {
                    this.first.as_mut().poll_next(cx)
                } else {
                    this.second.as_mut().poll_next(cx)
                };
                let message = match poll {
                    Poll::Pending => {
                        pending += 1;
                        continue;
                    }
                    Poll::Ready(message) => message,
                };
                let control = match message {
                    Some(Message::Data(item)) => {
                        this.tracker.activate(input);
                        return Poll::Ready(Some(Message::Data(item)));
                    }
                    Some(Message::Control(Control::Watermark(watermark))) => this
                        .tracker
                        .update(input, watermark)
                        .map(Control::Watermark),
                    Some(Message::Control(Control::Idle)) => {
                        let advanced = this.tracker.set_idle(input).map(Control::Watermark);
                        if advanced.is_none() && this.tracker.all_idle() {
                            Some(Control::Idle)
                        } else {
                            advanced
                        }
                    }
                    Some(Message::Control(Control::End)) | None => {
                        this.ended[input] = true;
                        if this.ended.iter().all(|ended| *ended) {
                            *this.done = true;
                            return Poll::Ready(Some(Message::Control(Control::End)));
                        }
                        this.tracker.end(input).map(Control::Watermark)
                    }
                    Some(Message::Control(Control::Failed(error))) => {
                        *this.done = true;
                        Some(Control::Failed(error))
                    }
                    // Barriers are aligned at multi-input operators once checkpoints exist;
                    // until then they pass through.
                    Some(Message::Control(control)) => Some(control),
                };
                if let Some(control) = control {
                    return Poll::Ready(Some(Message::Control(control)));
                }
            }
            if pending == 2 {
                return Poll::Pending;
            }
        }
    }
}

impl<A: fmt::Debug, B: fmt::Debug> fmt::Debug for Union<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Union")
            .field("first", &self.first)
            .field("second", &self.second)
            .field("watermark", &self.tracker.current())
            .finish()
    }
}
