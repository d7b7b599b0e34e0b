use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::fan_in::FanIn;
use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::union`](crate::Flow::union).
    #[must_use = "streams do nothing unless polled"]
    pub struct Union<A, B> {
        #[pin]
        first: A,
        #[pin]
        second: B,
        fan_in: FanIn,
        // Which input to poll first next time, so that neither starves the other.
        prefer_second: bool,
    }
}

impl<A, B> Union<A, B> {
    pub(crate) fn new(first: A, second: B) -> Self {
        Union {
            first,
            second,
            fan_in: FanIn::new(2),
            prefer_second: false,
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
        loop {
            if let Some(control) = this.fan_in.take_pending() {
                return Poll::Ready(Some(control));
            }
            if this.fan_in.is_done() {
                return Poll::Ready(None);
            }
            let mut pending = 0;
            let order = if *this.prefer_second { [1, 0] } else { [0, 1] };
            *this.prefer_second = !*this.prefer_second;
            for input in order {
                if this.fan_in.has_ended(input) {
                    pending += 1;
                    continue;
                }
                let poll = if input == 0 {
                    this.first.as_mut().poll_next(cx)
                } else {
                    this.second.as_mut().poll_next(cx)
                };
                match poll {
                    Poll::Pending => pending += 1,
                    Poll::Ready(message) => {
                        if let Some(out) = this.fan_in.on_message(input, message) {
                            return Poll::Ready(Some(out));
                        }
                    }
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
            .field("watermark", &self.fan_in.watermark())
            .finish()
    }
}
