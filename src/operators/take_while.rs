use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::{Control, Message};

pin_project! {
    /// The stream returned by [`Flow::take_while`](crate::Flow::take_while).
    #[must_use = "streams do nothing unless polled"]
    pub struct TakeWhile<S, P> {
        #[pin]
        stream: S,
        predicate: P,
        done: bool,
    }
}

impl<S, P> TakeWhile<S, P> {
    pub(crate) fn new(stream: S, predicate: P) -> Self {
        TakeWhile {
            stream,
            predicate,
            done: false,
        }
    }
}

impl<S, P, T> Stream for TakeWhile<S, P>
where
    S: Stream<Item = Message<T>>,
    P: FnMut(&T) -> bool,
{
    type Item = Message<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.stream.poll_next(cx) {
            Poll::Ready(Some(Message::Data(item))) => {
                if (this.predicate)(&item) {
                    Poll::Ready(Some(Message::Data(item)))
                } else {
                    // The input ends here for everything downstream: it flushes like at a real end.
                    *this.done = true;
                    Poll::Ready(Some(Message::Control(Control::End)))
                }
            }
            Poll::Ready(Some(Message::Control(control))) => {
                *this.done = control.is_terminal();
                Poll::Ready(Some(Message::Control(control)))
            }
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, self.stream.size_hint().1)
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for TakeWhile<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TakeWhile")
            .field("stream", &self.stream)
            .field("done", &self.done)
            .finish()
    }
}
