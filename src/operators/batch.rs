use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::timer::Timer;
use crate::{Control, Message};

/// The most items a batch preallocates room for, whatever its `max_size`: a huge `max_size` with
/// a slow input must not reserve memory it never fills.
const MAX_PREALLOCATED: usize = 1024;

pin_project! {
    /// The stream returned by [`Flow::batch`](crate::Flow::batch).
    #[must_use = "streams do nothing unless polled"]
    pub struct Batch<S, T> {
        #[pin]
        stream: S,
        // Armed with the first item of every batch.
        timer: Timer,
        items: Vec<T>,
        max_size: usize,
        timeout: Duration,
        // A control message that ended a batch, forwarded right after that batch.
        held: Option<Control>,
        done: bool,
    }
}

impl<S, T> Batch<S, T> {
    pub(crate) fn new(stream: S, max_size: usize, timeout: Duration) -> Self {
        Batch {
            stream,
            timer: Timer::default(),
            items: Vec::new(),
            max_size,
            timeout,
            held: None,
            done: false,
        }
    }
}

impl<S, T> Stream for Batch<S, T>
where
    S: Stream<Item = Message<T>>,
{
    type Item = Message<Vec<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<Vec<T>>>> {
        let mut this = self.project();
        if let Some(control) = this.held.take() {
            return Poll::Ready(Some(Message::Control(control)));
        }
        if *this.done {
            return Poll::Ready(None);
        }
        // A batch whose time is up closes before it takes anything more.
        if !this.items.is_empty() && this.timer.poll_fired(cx).is_ready() {
            return Poll::Ready(Some(Message::Data(std::mem::take(this.items))));
        }
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Data(item))) => {
                    if this.items.capacity() == 0 {
                        this.items
                            .reserve_exact((*this.max_size).min(MAX_PREALLOCATED));
                    }
                    this.items.push(item);
                    if this.items.len() >= *this.max_size {
                        return Poll::Ready(Some(Message::Data(std::mem::take(this.items))));
                    }
                    if this.items.len() == 1 {
                        let now = Instant::now();
                        this.timer.arm(Timer::deadline_after(now, *this.timeout));
                    }
                }
                Poll::Ready(Some(Message::Control(control))) => {
                    *this.done = control.is_terminal();
                    if this.items.is_empty() {
                        return Poll::Ready(Some(Message::Control(control)));
                    }
                    *this.held = Some(control);
                    return Poll::Ready(Some(Message::Data(std::mem::take(this.items))));
                }
                Poll::Ready(None) => {
                    // Cut off without `End`: the items already taken are still passed on.
                    *this.done = true;
                    if this.items.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Message::Data(std::mem::take(this.items))));
                }
                Poll::Pending => {
                    if !this.items.is_empty() && this.timer.poll_fired(cx).is_ready() {
                        return Poll::Ready(Some(Message::Data(std::mem::take(this.items))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Every message taken from upstream yields at most one message; a pending batch and a held
        // control message yield one each.
        let queued = usize::from(!self.items.is_empty()) + usize::from(self.held.is_some());
        if self.done {
            return (queued, Some(queued));
        }
        let (_, upper) = self.stream.size_hint();
        (queued, upper.and_then(|upper| upper.checked_add(queued)))
    }
}

impl<S: fmt::Debug, T> fmt::Debug for Batch<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("stream", &self.stream)
            .field("pending", &self.items.len())
            .field("max_size", &self.max_size)
            .field("timeout", &self.timeout)
            .field("held", &self.held)
            .field("done", &self.done)
            .finish()
    }
}
