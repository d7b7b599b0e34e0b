use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::{Control, Message};

pin_project! {
    /// A source over any stream, created by [`Flow::from_stream`](crate::Flow::from_stream).
    ///
    /// Yields every item of the stream, then [`Control::End`] when it ends.
    #[must_use = "streams do nothing unless polled"]
    pub struct StreamSource<St> {
        #[pin]
        stream: St,
        ended: bool,
    }
}

impl<St> StreamSource<St> {
    pub(crate) fn new(stream: St) -> Self {
        StreamSource {
            stream,
            ended: false,
        }
    }
}

impl<St: Stream> Stream for StreamSource<St> {
    type Item = Message<St::Item>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        match ready!(this.stream.poll_next(cx)) {
            Some(item) => Poll::Ready(Some(Message::Data(item))),
            None => {
                *this.ended = true;
                Poll::Ready(Some(Message::Control(Control::End)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            return (0, Some(0));
        }
        let (low, high) = self.stream.size_hint();
        (low.saturating_add(1), high.and_then(|h| h.checked_add(1)))
    }
}

impl<St: fmt::Debug> fmt::Debug for StreamSource<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSource")
            .field("stream", &self.stream)
            .field("ended", &self.ended)
            .finish()
    }
}
