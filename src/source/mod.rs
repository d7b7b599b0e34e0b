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
