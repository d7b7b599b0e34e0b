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
/// ([`Flow::stop_on`](crate::Flow::stop_on)).
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
}

impl<I: Iterator> Source for IterSource<I> {}
impl<St: Stream> Source for StreamSource<St> {}
impl Source for IntervalSource {}
impl<R, F> Source for FileSource<R, F> where FileSource<R, F>: Stream {}
impl<T> Source for crate::channel::SideOutputSource<T> {}

impl<T> Source for ChannelSource<T> {
    /// Closes the channel: senders get their items back from then on, and the items already
    /// accepted are still delivered before the end of input.
    fn stop(self: Pin<&mut Self>) -> bool {
        self.get_mut().close();
        true
    }
}
