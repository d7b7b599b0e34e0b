use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use crate::error::ConfigError;
use crate::{Control, Flow, Message};

/// Creates a bounded side output holding at most `capacity` items in flight.
///
/// Returns the sending side, to hand to an operator (the late-data output of a window, say; clone
/// it to share one output between operators), and the side flow, which ends with
/// [`Control::End`] once every sender is dropped.
///
/// # Errors
///
/// A zero `capacity` is a [`ConfigError`].
///
/// # Backpressure
///
/// Bounded: an operator that sends to a full side output waits for room, so consume the side flow
/// beside the main one (`tokio::join!`, or a spawned task). An operator whose side output was
/// dropped counts what it would have sent instead.
///
/// # Examples
///
/// ```
/// use rheoflow::channel::side_output;
///
/// assert!(side_output::<u32>(0).is_err());
/// let (_late, _late_flow) = side_output::<u32>(128)?;
/// # Ok::<(), rheoflow::error::ConfigError>(())
/// ```
#[allow(clippy::type_complexity)]
pub fn side_output<T>(
    capacity: usize,
) -> Result<(SideOutput<T>, Flow<SideOutputSource<T>>), ConfigError>
where
    T: Send + 'static,
{
    if capacity == 0 {
        return Err(ConfigError::new(
            "side output capacity",
            "greater than zero",
        ));
    }
    let (tx, rx) = mpsc::channel(capacity);
    let sender = SideOutput {
        tx: PollSender::new(tx),
    };
    Ok((
        sender,
        Flow::from_messages(SideOutputSource { rx, ended: false }),
    ))
}

/// The sending side of a side output; clone it to share the output.
pub struct SideOutput<T> {
    tx: PollSender<T>,
}

impl<T: Send + 'static> SideOutput<T> {
    /// Moves `*slot` into the channel once there is room. `Err` (with the slot emptied) if the
    /// side flow was dropped.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<T>,
    ) -> Poll<Result<(), ()>> {
        if ready!(self.tx.poll_reserve(cx)).is_err() {
            slot.take();
            return Poll::Ready(Err(()));
        }
        match slot.take() {
            Some(item) => Poll::Ready(self.tx.send_item(item).map_err(|_| ())),
            None => {
                self.tx.abort_send();
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<T> Clone for SideOutput<T> {
    fn clone(&self) -> Self {
        SideOutput {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for SideOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SideOutput").finish_non_exhaustive()
    }
}

/// The source of a side flow, created by [`side_output`].
#[must_use = "streams do nothing unless polled"]
pub struct SideOutputSource<T> {
    rx: mpsc::Receiver<T>,
    ended: bool,
}

impl<T> Stream for SideOutputSource<T> {
    type Item = Message<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match ready!(self.rx.poll_recv(cx)) {
            Some(item) => Poll::Ready(Some(Message::Data(item))),
            None => {
                self.ended = true;
                Poll::Ready(Some(Message::Control(Control::End)))
            }
        }
    }
}

impl<T> fmt::Debug for SideOutputSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SideOutputSource")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
