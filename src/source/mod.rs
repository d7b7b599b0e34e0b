//! Sources: where a flow's items come from.
//!
//! A source is a stream of [`Message`](crate::Message)s that ends its input with
//! [`Control::End`](crate::Control::End). Wrap one in a flow with
//! [`Flow::from_messages`](crate::Flow::from_messages), or use the shortcuts
//! [`Flow::from_iter`](crate::Flow::from_iter) and [`Flow::from_stream`](crate::Flow::from_stream).

mod channel;
mod file;
mod interval;
mod iter;
mod stream;

pub use channel::{channel, ChannelSource, SendError, Sender, TrySendError};
pub use file::{
    csv, csv_file, json_lines, json_lines_file, Csv, FieldCountError, FileSource,
    FileSourceBuilder, JsonLines, Position,
};
pub use interval::{interval, IntervalSource};
pub use iter::IterSource;
pub use stream::StreamSource;

use std::pin::Pin;

use futures_core::Stream;

/// A source: a stream of messages that can be asked to stop, for graceful shutdown
/// ([`Flow::stop_on`](crate::Flow::stop_on)), and that may be replayable, for checkpoints
/// ([`Flow::checkpointed`](crate::Flow::checkpointed)).
///
/// A *replayable* source reports its [`Position`] in its input and can [seek](Source::seek)
/// back to a position it reported: a checkpoint saves the position at its barrier, and a flow
/// restored from that checkpoint reads again from there, so nothing after the checkpoint is
/// lost. The iterator source ([`Flow::from_iter`](crate::Flow::from_iter), counting items; the
/// iterator must yield the same items again when the flow is rebuilt) and the file sources (by
/// byte offset) are replayable. A channel source is not: what was read after the last
/// checkpoint is gone with the process, and a flow over it is at-least-once at best.
///
/// # Examples
///
/// A source written by hand opts in with an empty impl (it then stops at once):
///
/// ```
/// use rheoflow::source::Source;
/// use rheoflow::{Message, Control};
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// struct Ticks(u64);
///
/// impl futures::Stream for Ticks {
///     type Item = Message<u64>;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Message<u64>>> {
///         self.0 += 1;
///         Poll::Ready(Some(Message::Data(self.0)))
///     }
/// }
///
/// impl Source for Ticks {}
/// ```
pub trait Source: Stream {
    /// Asks the source to stop taking new input. Returns `true` if it still yields what it has
    /// already accepted (a channel's buffered items) and then ends with
    /// [`Control::End`](crate::Control::End); `false` if it stops at once (what it has not read
    /// stays in its input: a file, an iterator).
    fn stop(self: Pin<&mut Self>) -> bool {
        false
    }

    /// Called by a graceful shutdown ([`Flow::stop_on`](crate::Flow::stop_on)) when the source
    /// will not be polled again: a last message to pass on before the input stops. A
    /// checkpointed source returns the barrier of a final checkpoint (a savepoint), so that
    /// with [`Shutdown::KeepState`](crate::Shutdown::KeepState) the state operators keep is
    /// saved and a restart resumes from it. The default returns `None`.
    fn on_shutdown(self: Pin<&mut Self>) -> Option<<Self as Stream>::Item> {
        None
    }

    /// Where the source is in its input: the position just after the last item it yielded.
    /// `None` (the default) for a source that cannot replay.
    fn position(&self) -> Option<Position> {
        None
    }

    /// Moves the source back (or forward) to `position`, one it reported earlier, before it is
    /// first polled.
    ///
    /// # Errors
    ///
    /// The default: a [`ConfigError`](crate::error::ConfigError), the source is not
    /// replayable. A replayable source fails with an I/O error when its input cannot seek.
    fn seek(self: Pin<&mut Self>, position: Position) -> Result<(), crate::Error> {
        let _ = position;
        Err(
            crate::error::ConfigError::new("source", "replayable to restore from a checkpoint")
                .into(),
        )
    }
}

impl<I: Iterator> Source for IterSource<I> {
    /// Counts the items yielded.
    fn position(&self) -> Option<Position> {
        Some(self.position())
    }

    /// Skips the items before `position` (which counts items), so the iterator must yield the
    /// same items as when the position was taken.
    fn seek(self: Pin<&mut Self>, position: Position) -> Result<(), crate::Error> {
        self.get_mut().skip_to(position.records());
        Ok(())
    }
}
impl<St: Stream> Source for StreamSource<St> {}
impl Source for IntervalSource {}
impl<T> Source for crate::channel::SideOutputSource<T> {}

impl<T> Source for ChannelSource<T> {
    /// Closes the channel: senders get their items back from then on, and the items already
    /// accepted are still delivered before the end of input.
    fn stop(self: Pin<&mut Self>) -> bool {
        self.get_mut().close();
        true
    }
}
