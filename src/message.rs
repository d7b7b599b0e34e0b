//! The in-band envelope that flows between operators.
//!
//! Every operator of a [`Flow`](crate::Flow) is a `Stream<Item = Message<T>>`. Besides data items,
//! the stream carries control messages in band: watermarks, checkpoint barriers, the end of input
//! and a terminal failure. Operators transform data and forward every control message untouched and
//! in order, so a watermark never overtakes the data that was before it.

use crate::time::Timestamp;
use crate::Error;

/// One item of a flow: a data item or a control message.
///
/// # Examples
///
/// ```
/// use rheoflow::{Control, Message};
///
/// let data: Message<u32> = Message::Data(7);
/// assert_eq!(data.as_data(), Some(&7));
///
/// let end: Message<u32> = Message::Control(Control::End);
/// assert!(end.is_control());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Message<T> {
    /// A data item.
    Data(T),
    /// A control message, forwarded by every operator in order.
    Control(Control),
}

impl<T> Message<T> {
    /// Returns the data item, or `None` for a control message.
    #[inline]
    pub fn as_data(&self) -> Option<&T> {
        match self {
            Message::Data(item) => Some(item),
            Message::Control(_) => None,
        }
    }

    /// Consumes the message and returns the data item, or `None` for a control message.
    #[inline]
    pub fn into_data(self) -> Option<T> {
        match self {
            Message::Data(item) => Some(item),
            Message::Control(_) => None,
        }
    }

    /// Returns `true` for a control message.
    #[inline]
    pub fn is_control(&self) -> bool {
        matches!(self, Message::Control(_))
    }

    /// Maps the data item with `f` and forwards a control message unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Message;
    ///
    /// assert_eq!(Message::Data(2).map(|x| x * 10), Message::Data(20));
    /// ```
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Message<U> {
        match self {
            Message::Data(item) => Message::Data(f(item)),
            Message::Control(control) => Message::Control(control),
        }
    }
}

impl<T> From<Control> for Message<T> {
    #[inline]
    fn from(control: Control) -> Self {
        Message::Control(control)
    }
}

/// A control message: everything in a flow that is not data.
///
/// Control messages are never dropped, never reordered past data and never lost at a channel
/// boundary, whatever the overflow strategy.
///
/// # Examples
///
/// ```
/// use rheoflow::{Control, Timestamp};
///
/// let watermark = Control::Watermark(Timestamp::from_millis(1_000));
/// assert!(!watermark.is_terminal());
/// assert!(Control::End.is_terminal());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Control {
    /// No more events with a timestamp at or before this one will follow.
    Watermark(Timestamp),
    /// The input is idle: it sends no events for now, so operators with several inputs leave it
    /// out of their watermark until it sends a watermark or an event again.
    Idle,
    /// A checkpoint barrier: every operator snapshots its state when it sees it, then forwards it.
    Barrier(Barrier),
    /// The input ended normally. Operators flush what they hold (windows fire) and forward it.
    /// Nothing follows it.
    End,
    /// The pipeline failed. Operators forward it without flushing. Nothing follows it.
    Failed(Box<Error>),
}

/// Two failures are equal when their errors read the same.
impl PartialEq for Control {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Control::Watermark(a), Control::Watermark(b)) => a == b,
            (Control::Barrier(a), Control::Barrier(b)) => a == b,
            (Control::End, Control::End) | (Control::Idle, Control::Idle) => true,
            (Control::Failed(a), Control::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Control {
    /// Returns `true` for [`Control::End`] and [`Control::Failed`], after which nothing follows.
    #[inline]
    pub fn is_terminal(&self) -> bool {
        matches!(self, Control::End | Control::Failed(_))
    }
}

/// A checkpoint barrier, injected by sources and aligned by operators with several inputs.
///
/// # Examples
///
/// ```
/// use rheoflow::{Barrier, Timestamp};
///
/// let barrier = Barrier::new(3, Timestamp::from_millis(0));
/// assert_eq!(barrier.checkpoint_id(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Barrier {
    checkpoint_id: u64,
    timestamp: Timestamp,
}

impl Barrier {
    /// Creates the barrier of checkpoint `checkpoint_id`, triggered at `timestamp` (processing time).
    pub fn new(checkpoint_id: u64, timestamp: Timestamp) -> Self {
        Barrier {
            checkpoint_id,
            timestamp,
        }
    }

    /// The id of the checkpoint this barrier belongs to; ids grow with every checkpoint.
    pub fn checkpoint_id(&self) -> u64 {
        self.checkpoint_id
    }

    /// When the checkpoint was triggered, in processing time.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
}
