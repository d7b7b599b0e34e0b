use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::metrics::{DropReason, OperatorCounters};
use crate::time::{Clock, Timestamp};
use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::deadline`](crate::Flow::deadline).
    #[must_use = "streams do nothing unless polled"]
    pub struct Deadline<S, F> {
        #[pin]
        stream: S,
        timestamp: F,
        max_age: Duration,
        // `max_age` in whole milliseconds, the resolution of the clock.
        max_age_millis: i64,
        clock: Clock,
        counters: Arc<OperatorCounters>,
    }
}

impl<S, F> Deadline<S, F> {
    pub(crate) fn new(
        stream: S,
        max_age: Duration,
        timestamp: F,
        clock: Clock,
        counters: Arc<OperatorCounters>,
    ) -> Self {
        Deadline {
            stream,
            timestamp,
            max_age,
            max_age_millis: i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX),
            clock,
            counters,
        }
    }
}

impl<S, F, T> Stream for Deadline<S, F>
where
    S: Stream<Item = Message<T>>,
    F: FnMut(&T) -> Timestamp,
{
    type Item = Message<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        loop {
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(Message::Data(item)) => {
                    let oldest = this.clock.now().saturating_sub_millis(*this.max_age_millis);
                    if (this.timestamp)(&item) < oldest {
                        this.counters.drop_one(DropReason::Stale);
                    } else {
                        return Poll::Ready(Some(Message::Data(item)));
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}

impl<S: fmt::Debug, F> fmt::Debug for Deadline<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("stream", &self.stream)
            .field("max_age", &self.max_age)
            .field("clock", &self.clock)
            .finish()
    }
}
