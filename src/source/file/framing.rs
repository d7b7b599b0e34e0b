//! Record framing: splits a buffered byte stream into records with their byte offsets, enforces
//! the record length limit without buffering what is over it, and hands each complete record to
//! its format for decoding.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncBufRead;

use crate::error::RecordError;
use crate::error_policy::RawRecord;

/// The most bytes of a too-long record kept for its dead letter.
pub(super) const RAW_PREFIX: usize = 1024;

/// How a record format finds the end of a record and decodes it.
pub(crate) trait Format {
    /// The decoded record.
    type Item;

    /// Scans `input`, the next bytes of the current record, and returns the index of the `\n`
    /// that ends the record if `input` holds it. State needed across calls (a CSV quote) is kept
    /// until the end is found, then reset for the next record.
    fn find_end(&mut self, input: &[u8]) -> Option<usize>;

    /// Decodes a complete, non-empty record without its line terminator. `Ok(None)` means the
    /// format consumed the record itself (a CSV header).
    fn decode(&mut self, record: &[u8]) -> Result<Option<Self::Item>, RecordError>;

    /// Whether the next record is a header that the format needs before it can decode anything.
    fn header_pending(&self) -> bool {
        false
    }

    /// Forgets what [`Format::find_end`] saw of the current record: the input moved (a seek)
    /// and the next byte starts a record.
    fn restart_record(&mut self) {}
}

/// A record read by the [`Framer`]: where it started and what became of it.
#[derive(Debug)]
pub(super) struct Frame<T> {
    /// The byte offset of the record's first byte.
    pub(super) offset: u64,
    pub(super) outcome: Outcome<T>,
}

#[derive(Debug)]
pub(super) enum Outcome<T> {
    /// The record decoded.
    Item(T),
    /// The format consumed the record (a header).
    Consumed,
    /// The record failed; `raw` holds its bytes as read, line terminator included (only a prefix
    /// for a too-long record).
    Bad { error: RecordError, raw: RawRecord },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records.
    Idle,
    /// `buf` holds the beginning of the current record.
    Partial,
    /// The current record is too long: `buf` holds its prefix, the rest is discarded as it comes.
    Discarding,
}

/// Splits records out of an [`AsyncBufRead`] and tracks byte offsets.
///
/// A record that lies whole in the reader's buffer (the common case) is decoded in place. One that
/// spans several reads is copied into `buf`, which never holds more than `limit + 2` bytes (the
/// record and its `\r\n`): past that, the record is known to be too long and its remaining bytes are
/// consumed and dropped as they arrive.
#[derive(Debug)]
pub(super) struct Framer {
    limit: usize,
    buf: Vec<u8>,
    state: State,
    /// The offset of the current record's first byte.
    start: u64,
    /// The offset of the first byte not consumed from the reader.
    pos: u64,
    /// The offset just after the last record finished.
    committed: u64,
}

impl Framer {
    pub(super) fn new(limit: usize) -> Self {
        Framer {
            limit,
            buf: Vec::new(),
            state: State::Idle,
            start: 0,
            pos: 0,
            committed: 0,
        }
    }

    /// The byte offset just after the last record finished (decoded or failed).
    pub(super) fn committed(&self) -> u64 {
        self.committed
    }

    /// The byte offset of the first byte not consumed from the reader.
    pub(super) fn consumed(&self) -> u64 {
        self.pos
    }

    /// Starts over at byte `offset`, between two records, after the reader was moved there:
    /// whatever was read of a record is dropped.
    pub(super) fn restart_at(&mut self, offset: u64) {
        self.reset();
        self.start = offset;
        self.pos = offset;
        self.committed = offset;
    }

    /// Reads the next record. `Ok(None)` at the end of input.
    pub(super) fn poll_frame<R, F>(
        &mut self,
        mut reader: Pin<&mut R>,
        cx: &mut Context<'_>,
        format: &mut F,
    ) -> Poll<io::Result<Option<Frame<F::Item>>>>
    where
        R: AsyncBufRead + ?Sized,
        F: Format,
    {
        loop {
            let available = ready!(reader.as_mut().poll_fill_buf(cx))?;
            if available.is_empty() {
                return Poll::Ready(Ok(self.finish(format)));
            }
            if self.state == State::Idle {
                self.start = self.pos;
            }
            let (frame, consumed) = match format.find_end(available) {
                Some(end) => (Some(self.complete(format, &available[..=end])), end + 1),
                None => {
                    self.extend(available);
                    (None, available.len())
                }
            };
            reader.as_mut().consume(consumed);
            self.pos += consumed as u64;
            if frame.is_some() {
                self.committed = self.pos;
                return Poll::Ready(Ok(frame));
            }
        }
    }

    /// Takes in `chunk`, more of the current record, whose end is not in sight yet.
    fn extend(&mut self, chunk: &[u8]) {
        match self.state {
            // Even if the record ends in `\r\n`, its content is over the limit already.
            State::Idle | State::Partial
                if self.buf.len() + chunk.len() > self.limit.saturating_add(1) =>
            {
                self.keep_prefix(chunk);
                self.state = State::Discarding;
            }
            State::Idle | State::Partial => {
                self.push(chunk);
                self.state = State::Partial;
            }
            State::Discarding => {}
        }
    }

    /// Finishes the current record with `tail`, its last bytes up to and including the `\n`.
    fn complete<F: Format>(&mut self, format: &mut F, tail: &[u8]) -> Frame<F::Item> {
        let outcome = match self.state {
            State::Idle => judge(self.limit, format, tail, strip_line_end(tail)),
            State::Partial if self.buf.len() + tail.len() > self.limit.saturating_add(2) => {
                self.keep_prefix(tail);
                too_long(self.limit, &self.buf)
            }
            State::Partial => {
                self.push(tail);
                judge(self.limit, format, &self.buf, strip_line_end(&self.buf))
            }
            State::Discarding => too_long(self.limit, &self.buf),
        };
        self.reset();
        Frame {
            offset: self.start,
            outcome,
        }
    }

    /// Finishes the last record at the end of input, if it lacks its final `\n`.
    fn finish<F: Format>(&mut self, format: &mut F) -> Option<Frame<F::Item>> {
        let outcome = match self.state {
            State::Idle => return None,
            State::Partial => judge(self.limit, format, &self.buf, &self.buf),
            State::Discarding => too_long(self.limit, &self.buf),
        };
        self.reset();
        self.committed = self.pos;
        Some(Frame {
            offset: self.start,
            outcome,
        })
    }

    /// Appends `bytes` to `buf`, growing it by doubling, but to no more than what a record within
    /// the limit needs (`limit + 2`, for its `\r\n`): a long record costs at most the limit, not
    /// twice the limit.
    fn push(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let most = self.limit.saturating_add(2);
            let doubled = needed.max(self.buf.capacity() * 2);
            // Where one more doubling would pass the limit, go to the limit at once.
            let cap = if doubled > most / 2 {
                most.max(needed)
            } else {
                doubled
            };
            self.buf.reserve_exact(cap - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Shortens `buf` to the prefix kept for a too-long record, topping it up from `more`.
    fn keep_prefix(&mut self, more: &[u8]) {
        let prefix = prefix_len(self.limit);
        self.buf.truncate(prefix);
        let missing = prefix - self.buf.len();
        self.buf.extend_from_slice(&more[..missing.min(more.len())]);
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.state = State::Idle;
    }
}

/// Decides what becomes of a complete record: `raw` as read, `content` without line terminator.
fn judge<F: Format>(limit: usize, format: &mut F, raw: &[u8], content: &[u8]) -> Outcome<F::Item> {
    let error = if content.len() > limit {
        return too_long(limit, raw);
    } else if content.is_empty() {
        RecordError::Empty
    } else {
        match format.decode(content) {
            Ok(Some(item)) => return Outcome::Item(item),
            Ok(None) => return Outcome::Consumed,
            Err(error) => error,
        }
    };
    Outcome::Bad {
        error,
        raw: RawRecord::from(raw.to_vec()),
    }
}

#[cold]
fn too_long<T>(limit: usize, raw: &[u8]) -> Outcome<T> {
    let prefix = &raw[..raw.len().min(prefix_len(limit))];
    Outcome::Bad {
        error: RecordError::TooLong { limit },
        raw: RawRecord::from(prefix.to_vec()),
    }
}

fn prefix_len(limit: usize) -> usize {
    limit.min(RAW_PREFIX)
}

/// Removes the `\n` or `\r\n` that ends `record`.
fn strip_line_end(record: &[u8]) -> &[u8] {
    match record {
        [rest @ .., b'\r', b'\n'] | [rest @ .., b'\n'] => rest,
        _ => record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_lf_and_crlf_only() {
        assert_eq!(strip_line_end(b"ab\r\n"), b"ab");
        assert_eq!(strip_line_end(b"ab\n"), b"ab");
        assert_eq!(strip_line_end(b"\r\n"), b"");
        assert_eq!(strip_line_end(b"ab\r"), b"ab\r");
        assert_eq!(strip_line_end(b"ab"), b"ab");
    }
}
