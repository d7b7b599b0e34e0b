use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::{Control, Message};

/// A source over an iterator, created by [`Flow::from_iter`](crate::Flow::from_iter).
///
/// Yields every item of the iterator, then [`Control::End`].
#[derive(Debug, Clone)]
#[must_use = "streams do nothing unless polled"]
pub struct IterSource<I> {
    iter: I,
    /// How many items were yielded (or skipped by a seek).
    taken: u64,
    ended: bool,
}

impl<I> IterSource<I> {
    pub(crate) fn new(iter: I) -> Self {
        IterSource {
            iter,
            taken: 0,
            ended: false,
        }
    }

    /// How many items were yielded: the position of the next one.
    pub(crate) fn position(&self) -> crate::source::Position {
        crate::source::Position::new(self.taken, self.taken)
    }
}

impl<I: Iterator> IterSource<I> {
    /// Skips items until `records` were taken in all.
    pub(crate) fn skip_to(&mut self, records: u64) {
        while self.taken < records {
            if self.iter.next().is_none() {
                break;
            }
            self.taken += 1;
        }
    }
}

impl<I> Unpin for IterSource<I> {}

impl<I: Iterator> Stream for IterSource<I> {
    type Item = Message<I::Item>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.iter.next() {
            Some(item) => {
                self.taken += 1;
                Poll::Ready(Some(Message::Data(item)))
            }
            None if self.ended => Poll::Ready(None),
            None => {
                self.ended = true;
                Poll::Ready(Some(Message::Control(Control::End)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            return (0, Some(0));
        }
        let (low, high) = self.iter.size_hint();
        (low.saturating_add(1), high.and_then(|h| h.checked_add(1)))
    }
}
