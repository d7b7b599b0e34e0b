//! Helpers shared by the tests of stage boundaries and fan-out: inputs whose every data item is
//! unique with control messages between them, checks of what went missing, sources that pause,
//! drop guards.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use rheoflow::{Control, Flow, Message};

use super::{barrier, data, end, watermark};

pub(crate) type Input = Vec<Message<u64>>;

/// Data items `0..n` with a control message after every `every`-th item (watermark, barrier and
/// idle in turn; none when `every` is 0), two control messages ahead of any data, then `End`.
pub(crate) fn interleaved(n: u64, every: u64) -> Input {
    let mut messages = Vec::new();
    if every > 0 {
        messages.push(watermark(-1));
        messages.push(barrier(0));
    }
    let mut controls = 0u64;
    for x in 0..n {
        messages.push(data(x));
        if every > 0 && (x + 1) % every == 0 {
            controls += 1;
            messages.push(match controls % 3 {
                0 => watermark(controls as i64),
                1 => barrier(controls),
                _ => Message::Control(Control::Idle),
            });
        }
    }
    messages.push(end());
    messages
}

/// The data items of `messages`, in order.
pub(crate) fn data_of(messages: &[Message<u64>]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|message| message.as_data().copied())
        .collect()
}

/// Checks that `output` is `input` with some data items left out, and nothing else changed: every
/// control message is there, nothing moved, nothing was added. Returns the data items left out.
pub(crate) fn left_out(input: &[Message<u64>], output: &[Message<u64>]) -> Vec<u64> {
    let mut missing = Vec::new();
    let mut out = output.iter().peekable();
    for (at, message) in input.iter().enumerate() {
        if out.peek() == Some(&message) {
            out.next();
            continue;
        }
        match message {
            Message::Data(x) => missing.push(*x),
            Message::Control(control) => panic!(
                "control message #{at} of the input ({control:?}) is missing or out of place; \
                 the output goes on with {:?}",
                out.peek()
            ),
        }
    }
    let rest: Vec<_> = out.collect();
    assert!(
        rest.is_empty(),
        "the output has messages that are not in the input, or out of order: {rest:?}"
    );
    missing
}

/// A flow over `input` whose source, before every `every`-th message (never when 0), returns
/// `Pending` once (waking itself): the upstream task then hands over partial batches.
pub(crate) fn hesitant(
    input: Input,
    every: usize,
) -> Flow<impl Stream<Item = Message<u64>> + Send + 'static> {
    Flow::from_messages(futures::stream::iter(input).enumerate().then(
        move |(i, message)| async move {
            if every > 0 && i % every == 0 {
                tokio::task::yield_now().await;
            }
            message
        },
    ))
}

pub(crate) fn fast(_: usize) -> usize {
    0
}

/// Slower than the source: a yield after every message, and now and then many.
pub(crate) fn slow(i: usize) -> usize {
    if i.is_multiple_of(61) {
        40
    } else {
        1 + i % 3
    }
}

/// Sets its flag when dropped: owned by a closure upstream of the broadcast, it tells when the
/// upstream part of the flow (and so its task) is gone.
pub(crate) struct SetOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

pub(crate) fn drop_flag() -> (Arc<AtomicBool>, SetOnDrop) {
    let flag = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(Arc::clone(&flag));
    (flag, guard)
}

/// Yields to the runtime until `done` holds, at most `limit` times; returns whether it held.
pub(crate) async fn yield_until(limit: usize, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..limit {
        if done() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    done()
}
