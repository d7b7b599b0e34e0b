//! Sources that read records from files and other byte streams: CSV and JSON lines.

mod csv;
mod framing;
mod json_lines;

pub use self::csv::{Csv, FieldCountError};
pub use self::json_lines::JsonLines;

use std::fmt;
use std::io::{self, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;
use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncSeek, BufReader};

use self::framing::{Format, Frame, Framer, Outcome};
use crate::error::{ConfigError, FailedRecord};
use crate::error_policy::{DeadLetter, ErrorPolicy, PolicyHandler, RawRecord};
use crate::metrics::{DropReason, OperatorCounters, Tally};
use crate::source::Source;
use crate::{Control, Error, Flow, Message};

/// The size of the read buffer over the input.
const READ_BUFFER: usize = 64 * 1024;

/// The default [`FileSourceBuilder::max_record_len`]: 8 MiB.
const DEFAULT_MAX_RECORD_LEN: usize = 8 * 1024 * 1024;

/// Reads CSV rows from `reader`, decoding each into a `T` by header name.
///
/// Use it for CSV that does not come from a file on disk: standard input, a socket, an HTTP body,
/// or bytes in memory (`&[u8]`, [`std::io::Cursor`]). Configure the returned builder, then turn
/// it into a flow with [`FileSourceBuilder::into_flow`]. The first row is the header; see [`Csv`]
/// for the format and [`FileSource`] for offsets, limits and bad records.
///
/// # Examples
///
/// ```
/// use rheoflow::source;
///
/// #[derive(Debug, PartialEq, serde::Deserialize)]
/// struct Reading {
///     sensor: String,
///     celsius: f64,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let input: &[u8] = b"sensor;celsius\r\nnorth;21.5\r\n\"south; roof\";19\r\n";
/// let readings = source::csv::<Reading, _>(input)
///     .delimiter(b';')?
///     .into_flow()
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(readings[1], Reading { sensor: "south; roof".into(), celsius: 19.0 });
/// # Ok(())
/// # }
/// ```
pub fn csv<T, R>(reader: R) -> FileSourceBuilder<R, Csv<T>>
where
    T: DeserializeOwned,
    R: AsyncRead + Unpin,
{
    FileSourceBuilder::new(reader, Csv::new(b','), "csv")
}

/// Opens the CSV file at `path`, to read its rows into `T`s by header name.
///
/// The file is read as a stream through a 64 KiB buffer, never whole into memory. See [`csv`] for
/// readers that are not files. The source is [replayable](FileSourceBuilder::replayable): a
/// checkpointed flow over it resumes at the byte offset of its checkpoint.
///
/// # Errors
///
/// Returns the I/O error if the file cannot be opened.
///
/// # Cancel safety
///
/// Dropping the future before it completes abandons opening the file; nothing else is lost.
///
/// # Examples
///
/// ```
/// use rheoflow::source;
///
/// #[derive(serde::Deserialize)]
/// struct Trip {
///     from: String,
///     km: u32,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let path = std::env::temp_dir().join(format!("rheoflow-doc-csv-{}.csv", std::process::id()));
/// tokio::fs::write(&path, "from,km\nEWR,12\nJFK,31\n").await?;
///
/// let total: u32 = source::csv_file::<Trip>(&path)
///     .await?
///     .into_flow()
///     .map(|trip| trip.km)
///     .collect::<Vec<_>>()
///     .await?
///     .into_iter()
///     .sum();
/// assert_eq!(total, 43);
/// # tokio::fs::remove_file(&path).await?;
/// # Ok(())
/// # }
/// ```
pub async fn csv_file<T>(path: impl AsRef<Path>) -> io::Result<FileSourceBuilder<File, Csv<T>>>
where
    T: DeserializeOwned,
{
    Ok(csv(File::open(path).await?).replayable())
}

/// Reads JSON lines from `reader`, decoding each line into a `T`.
///
/// Use it for JSON lines that do not come from a file on disk: standard input, a socket, an HTTP
/// body, or bytes in memory. Configure the returned builder, then turn it into a flow with
/// [`FileSourceBuilder::into_flow`]. See [`JsonLines`] for the format and [`FileSource`] for
/// offsets, limits and bad records.
///
/// # Examples
///
/// ```
/// use rheoflow::{source, ErrorPolicy};
///
/// #[derive(serde::Deserialize)]
/// struct Click {
///     user: u64,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let input = std::io::Cursor::new(b"{\"user\":7}\nnot json\n{\"user\":9}\n".to_vec());
/// let users = source::json_lines::<Click, _>(input)
///     .on_error(ErrorPolicy::skip())
///     .into_flow()
///     .map(|click| click.user)
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(users, [7, 9]);
/// # Ok(())
/// # }
/// ```
pub fn json_lines<T, R>(reader: R) -> FileSourceBuilder<R, JsonLines<T>>
where
    T: DeserializeOwned,
    R: AsyncRead + Unpin,
{
    FileSourceBuilder::new(reader, JsonLines::new(), "json_lines")
}

/// Opens the JSON-lines file at `path`, to read each line into a `T`.
///
/// The file is read as a stream through a 64 KiB buffer, never whole into memory. See
/// [`json_lines`] for readers that are not files. The source is
/// [replayable](FileSourceBuilder::replayable): a checkpointed flow over it resumes at the byte
/// offset of its checkpoint.
///
/// # Errors
///
/// Returns the I/O error if the file cannot be opened.
///
/// # Cancel safety
///
/// Dropping the future before it completes abandons opening the file; nothing else is lost.
///
/// # Examples
///
/// ```
/// use rheoflow::source;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let path = std::env::temp_dir().join(format!("rheoflow-doc-jsonl-{}.jsonl", std::process::id()));
/// tokio::fs::write(&path, "[1,2]\n[3]\n").await?;
///
/// let lists = source::json_lines_file::<Vec<u8>>(&path)
///     .await?
///     .into_flow()
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(lists, [vec![1, 2], vec![3]]);
/// # tokio::fs::remove_file(&path).await?;
/// # Ok(())
/// # }
/// ```
pub async fn json_lines_file<T>(
    path: impl AsRef<Path>,
) -> io::Result<FileSourceBuilder<File, JsonLines<T>>>
where
    T: DeserializeOwned,
{
    Ok(json_lines(File::open(path).await?).replayable())
}

/// Configures a [`FileSource`]: created by [`csv`], [`csv_file`], [`json_lines`] and
/// [`json_lines_file`], turned into a flow by [`FileSourceBuilder::into_flow`].
pub struct FileSourceBuilder<R, F> {
    reader: R,
    format: F,
    method: &'static str,
    max_record_len: usize,
    policy: ErrorPolicy<RawRecord>,
    seeker: Option<Seeker<R>>,
}

impl<R, F> FileSourceBuilder<R, F> {
    fn new(reader: R, format: F, method: &'static str) -> Self {
        FileSourceBuilder {
            reader,
            format,
            method,
            max_record_len: DEFAULT_MAX_RECORD_LEN,
            policy: ErrorPolicy::fail(),
            seeker: None,
        }
    }

    /// Makes the source replayable: it reports its [`Position`] to checkpoints, and a flow
    /// restored from a checkpoint ([`Flow::checkpointed`]) seeks the reader to the byte offset
    /// saved there instead of reading the input again from its start.
    ///
    /// Offsets count from where the reader was when the source was built. For CSV, the header
    /// is read first, from there, then the reader seeks past the records already read. Record
    /// indices go on from the restored position.
    ///
    /// The sources of [`csv_file`] and [`json_lines_file`] are replayable already; call this
    /// for other readers that can seek, such as [`std::io::Cursor`]. A source over a reader
    /// that cannot seek (standard input, a socket) is not replayable: it reports no position,
    /// and a checkpointed flow over it reads on from wherever its input is.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use rheoflow::source::{self, Position, Source};
    /// use std::pin::Pin;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let input = std::io::Cursor::new(b"id\n1\n2\n3\n".to_vec());
    /// let mut rows = source::csv::<(u32,), _>(input).replayable().into_flow().into_messages();
    /// // Resume after the header and the first row (bytes 0..5).
    /// Source::seek(Pin::new(&mut rows), Position::new(5, 2))?;
    /// let rest: Vec<_> = rows.filter_map(|m| async move { m.into_data() }).collect().await;
    /// assert_eq!(rest, [(2,), (3,)]);
    ///
    /// // Bytes in memory cannot seek: no position for checkpoints.
    /// let input: &[u8] = b"id\n1\n";
    /// let rows = source::csv::<(u32,), _>(input).into_flow().into_messages();
    /// assert_eq!(Source::position(&rows), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn replayable(mut self) -> Self
    where
        R: AsyncRead + AsyncSeek,
    {
        self.seeker = Some(Seeker::new());
        self
    }

    /// Sets the longest record accepted, in bytes, line terminator excluded (default 8 MiB).
    ///
    /// The limit bounds the memory the source needs: a longer record is never buffered whole.
    /// Its bytes are read and dropped up to the end of the record, then it fails with
    /// [`RecordError::TooLong`](crate::error::RecordError::TooLong) and goes to the error policy;
    /// its dead letter holds only the record's first `min(limit, 1024)` bytes. For CSV, the
    /// limit applies to each row, quoted line breaks included, and to the header.
    ///
    /// # Errors
    ///
    /// A zero `limit` is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{error_policy, source, ErrorPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let input: &[u8] = b"\"short\"\n\"far too long\"\n";
    /// let (dead_letters, dead) = error_policy::channel(4)?;
    /// let flow = source::json_lines::<String, _>(input)
    ///     .max_record_len(8)?
    ///     .on_error(ErrorPolicy::dead_letter(dead_letters))
    ///     .into_flow();
    /// let (words, dead) = tokio::join!(flow.collect::<Vec<_>>(), dead.collect::<Vec<_>>());
    ///
    /// assert_eq!(words?, ["short"]);
    /// let dead = dead?;
    /// assert_eq!(dead[0].offset(), Some(8));
    /// assert_eq!(dead[0].record().as_bytes(), b"\"far too");
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_record_len(mut self, limit: usize) -> Result<Self, ConfigError> {
        if limit == 0 {
            return Err(ConfigError::new("max record length", "greater than zero"));
        }
        self.max_record_len = limit;
        Ok(self)
    }

    /// Sets what happens to a record that fails: too long, empty, or not decodable (default:
    /// [`ErrorPolicy::fail`]).
    ///
    /// A dead letter carries the record's raw bytes as read (line terminator included), its
    /// index and its byte offset. Every failed record is counted in the flow's
    /// [metrics](crate::metrics) under the source's name (`"csv-0"` or `"json_lines-0"` unless
    /// renamed with [`Flow::name`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{metrics::DropReason, source, ErrorPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let input: &[u8] = b"1\n\n2\n";
    /// let flow = source::json_lines::<u32, _>(input).on_error(ErrorPolicy::skip()).into_flow();
    /// let metrics = flow.metrics();
    /// assert_eq!(flow.collect::<Vec<_>>().await?, [1, 2]);
    /// assert_eq!(metrics.snapshot().dropped(DropReason::Skipped), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_error(mut self, policy: ErrorPolicy<RawRecord>) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the source and wraps it in a flow.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::source;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let input: &[u8] = b"true\nfalse\n";
    /// let flow = source::json_lines::<bool, _>(input).into_flow().name("flags");
    /// assert_eq!(flow.collect::<Vec<_>>().await?, [true, false]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_flow(self) -> Flow<FileSource<R, F>>
    where
        R: AsyncRead,
    {
        let FileSourceBuilder {
            reader,
            format,
            method,
            max_record_len,
            policy,
            seeker,
        } = self;
        Flow::from_source(method, |counters| FileSource {
            reader: BufReader::with_capacity(READ_BUFFER, reader),
            framer: Framer::new(max_record_len),
            format,
            policy: PolicyHandler::new(policy, Arc::clone(&counters)),
            counters,
            tally: Tally::default(),
            index: 0,
            done: false,
            seeker,
            restore: None,
        })
    }
}

impl<R, T> FileSourceBuilder<R, Csv<T>> {
    /// Sets the byte that separates CSV fields (default `,`).
    ///
    /// # Errors
    ///
    /// A quote (`"`), `\n` or `\r` is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::source;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let input: &[u8] = b"a\tb\n1\t2\n";
    /// let rows = source::csv::<(u8, u8), _>(input)
    ///     .delimiter(b'\t')?
    ///     .into_flow()
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(rows, [(1, 2)]);
    /// assert!(source::csv::<(u8, u8), _>(input).delimiter(b'"').is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn delimiter(mut self, delimiter: u8) -> Result<Self, ConfigError> {
        if matches!(delimiter, b'"' | b'\n' | b'\r') {
            return Err(ConfigError::new(
                "csv delimiter",
                "a byte other than `\"`, `\\n` and `\\r`",
            ));
        }
        self.format = Csv::new(delimiter);
        Ok(self)
    }
}

impl<R, F: fmt::Debug> fmt::Debug for FileSourceBuilder<R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSourceBuilder")
            .field("format", &self.format)
            .field("max_record_len", &self.max_record_len)
            .field("policy", &self.policy)
            .field("replayable", &self.seeker.is_some())
            .finish_non_exhaustive()
    }
}

/// How far a [`FileSource`] has read: the byte offset after the last record it finished, and how
/// many records it finished.
///
/// A record is finished once it was emitted or handed to the error policy. Both counts include a
/// CSV header. Reading the input again from `offset` (after the header, for CSV) yields exactly
/// the records that follow, which is what a checkpoint of the source stores.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use rheoflow::source::{self, Position};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let input: &[u8] = b"10\n20\n";
/// let mut numbers = source::json_lines::<u32, _>(input).into_flow().into_messages();
/// assert_eq!(numbers.position(), Position::START);
///
/// numbers.next().await;
/// assert_eq!(numbers.position().offset(), 3);
/// assert_eq!(numbers.position().records(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Position {
    offset: u64,
    records: u64,
}

impl Position {
    /// The start of the input: nothing read yet.
    pub const START: Position = Position {
        offset: 0,
        records: 0,
    };

    /// Creates the position after `records` records, ending at byte `offset`.
    pub const fn new(offset: u64, records: u64) -> Self {
        Position { offset, records }
    }

    /// The byte offset just after the last finished record (its line terminator included).
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// How many records were finished; also the index of the next record.
    pub const fn records(&self) -> u64 {
        self.records
    }
}

/// A source that reads records from a byte stream: CSV rows or JSON lines.
///
/// Created by [`csv`], [`csv_file`], [`json_lines`] or [`json_lines_file`] and
/// [`FileSourceBuilder::into_flow`]. It yields one item per record, then [`Control::End`] at the
/// end of input.
///
/// - **Streaming.** The input is read through a 64 KiB buffer; a record is copied out of it only
///   when it spans two reads. Memory stays bounded by the buffer and the
///   [record length limit](FileSourceBuilder::max_record_len), whatever the size of the input.
/// - **Records.** Lines end with `\n` or `\r\n`. The final line terminator of the input does not
///   make an empty record; a last line without one is still read. Empty lines are bad records.
/// - **Positions.** Each record is known by its index (from 0; for CSV the header is record 0)
///   and the byte offset of its first byte in the input. [`FileSource::position`] tells how far
///   the source has read, for checkpoints. Over a reader that can seek (a file, see
///   [`FileSourceBuilder::replayable`]) the source is replayable: a checkpointed flow resumes
///   at the byte offset of its checkpoint ([`Source::seek`]).
/// - **Bad records** (too long, empty, not decodable) go to the error policy set with
///   [`FileSourceBuilder::on_error`] (by default the flow fails with [`Error::Record`], naming
///   the record's index and offset) and are counted in the flow's metrics. Under
///   [`ErrorPolicy::skip`] and [`ErrorPolicy::dead_letter`] the records after a bad one are read
///   as usual. A bad CSV header fails the flow whatever the policy.
/// - **I/O errors** end the flow with [`Error::Io`].
///
/// # Examples
///
/// ```
/// use rheoflow::{error_policy, source, ErrorPolicy};
///
/// #[derive(serde::Deserialize)]
/// struct Order {
///     id: u32,
///     qty: u32,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let input: &[u8] = b"id,qty\n1,5\n2,five\n3,7\n";
/// let (dead_letters, dead) = error_policy::channel(16)?;
/// let orders = source::csv::<Order, _>(input)
///     .on_error(ErrorPolicy::dead_letter(dead_letters))
///     .into_flow()
///     .map(|order| (order.id, order.qty))
///     .collect::<Vec<_>>();
/// let (orders, dead) = tokio::join!(orders, dead.collect::<Vec<_>>());
///
/// assert_eq!(orders?, [(1, 5), (3, 7)]);
/// let dead = dead?;
/// assert_eq!((dead[0].index(), dead[0].offset()), (2, Some(11)));
/// assert_eq!(dead[0].record().as_bytes(), b"2,five\n");
/// # Ok(())
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct FileSource<R, F> {
    reader: BufReader<R>,
    framer: Framer,
    format: F,
    policy: PolicyHandler<RawRecord>,
    counters: Arc<OperatorCounters>,
    /// Records emitted, published to `counters` every few hundred.
    tally: Tally,
    index: u64,
    done: bool,
    /// How to move the reader, when it can seek.
    seeker: Option<Seeker<R>>,
    /// A seek asked for and not done yet: it is done on the next poll.
    restore: Option<Restore>,
}

/// How a reader that can seek is moved, kept as plain functions so that [`FileSource`] needs no
/// `AsyncSeek` bound: a source over a reader that cannot seek simply has none.
struct Seeker<R> {
    start: fn(Pin<&mut BufReader<R>>, SeekFrom) -> io::Result<()>,
    complete: PollSeek<R>,
}

/// `AsyncSeek::poll_complete` of the buffered reader.
type PollSeek<R> = fn(Pin<&mut BufReader<R>>, &mut Context<'_>) -> Poll<io::Result<u64>>;

impl<R: AsyncRead + AsyncSeek> Seeker<R> {
    fn new() -> Self {
        Seeker {
            start: <BufReader<R> as AsyncSeek>::start_seek,
            complete: <BufReader<R> as AsyncSeek>::poll_complete,
        }
    }
}

impl<R> Clone for Seeker<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Seeker<R> {}

/// The steps of a seek to a restored position.
#[derive(Debug, Clone, Copy)]
enum Restore {
    /// Read the CSV header first, from the start of the input.
    Header(Position),
    /// Let the reader finish an operation in flight, then start the seek.
    Settle(Position),
    /// The seek is under way.
    Seeking(Position),
}

impl<R, F> FileSource<R, F> {
    /// How far the source has read: the byte offset after the last record it finished and the
    /// number of records finished.
    ///
    /// Reach the source of a flow with [`Flow::into_messages`]; see [`Position`] for an example.
    pub fn position(&self) -> Position {
        Position::new(self.framer.committed(), self.index)
    }

    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message<F::Item>>>
    where
        R: AsyncRead + Unpin,
        F: Format,
    {
        let polled = self.poll_record(cx);
        match &polled {
            Poll::Ready(Some(Message::Data(_))) => self.tally.count_out(&self.counters),
            // The end, a failure, or waiting for input.
            _ => self.tally.publish(&self.counters),
        }
        polled
    }

    fn poll_record(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message<F::Item>>>
    where
        R: AsyncRead + Unpin,
        F: Format,
    {
        if self.done {
            return Poll::Ready(None);
        }
        if self.restore.is_some() {
            if let Err(error) = ready!(self.poll_restore(cx)) {
                self.restore = None;
                return self.terminate(Control::Failed(Box::new(error)));
            }
        }
        loop {
            ready!(self.policy.poll_ready(cx));
            let polled = self
                .framer
                .poll_frame(Pin::new(&mut self.reader), cx, &mut self.format);
            let frame = match ready!(polled) {
                Ok(Some(frame)) => frame,
                Ok(None) => return self.terminate(Control::End),
                Err(err) => return self.terminate(Control::Failed(Box::new(Error::from(err)))),
            };
            let index = self.index;
            self.index += 1;
            let (error, raw) = match frame.outcome {
                Outcome::Item(item) => return Poll::Ready(Some(Message::Data(item))),
                Outcome::Consumed => continue,
                Outcome::Bad { error, raw } => (error, raw),
            };
            let failure = if self.format.header_pending() {
                self.counters.drop_one(DropReason::Failed);
                Some(Error::Record(FailedRecord::new(
                    index,
                    Some(frame.offset),
                    error,
                )))
            } else {
                let dead = DeadLetter::new(raw, index, Some(frame.offset), error);
                self.policy.fail(dead)
            };
            if let Some(error) = failure {
                return self.terminate(Control::Failed(Box::new(error)));
            }
        }
    }

    /// Moves the reader to the position asked for by [`Source::seek`].
    fn poll_restore(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
    where
        R: AsyncRead + Unpin,
        F: Format,
    {
        let Some(seeker) = self.seeker else {
            return Poll::Ready(Ok(()));
        };
        while let Some(step) = self.restore {
            match step {
                Restore::Header(to) if self.format.header_pending() => {
                    let polled =
                        self.framer
                            .poll_frame(Pin::new(&mut self.reader), cx, &mut self.format);
                    match ready!(polled)? {
                        Some(Frame {
                            offset,
                            outcome: Outcome::Bad { error, .. },
                        }) => {
                            self.counters.drop_one(DropReason::Failed);
                            let failed = FailedRecord::new(0, Some(offset), error);
                            return Poll::Ready(Err(Error::Record(failed)));
                        }
                        Some(_) => self.restore = Some(Restore::Settle(to)),
                        None => {
                            return Poll::Ready(Err(Error::from(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the input ended before the position to restore",
                            ))))
                        }
                    }
                }
                Restore::Header(to) => self.restore = Some(Restore::Settle(to)),
                Restore::Settle(to) => {
                    ready!((seeker.complete)(Pin::new(&mut self.reader), cx))?;
                    let by = i64::try_from(to.offset()).ok().and_then(|to| {
                        i64::try_from(self.framer.consumed())
                            .ok()
                            .and_then(|from| to.checked_sub(from))
                    });
                    let Some(by) = by else {
                        return Poll::Ready(Err(Error::from(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "the position to restore is out of range",
                        ))));
                    };
                    // Relative to what the source consumed, so that offsets count from where
                    // the reader started; the buffered reader accounts for what it holds.
                    (seeker.start)(Pin::new(&mut self.reader), SeekFrom::Current(by))?;
                    self.restore = Some(Restore::Seeking(to));
                }
                Restore::Seeking(to) => {
                    ready!((seeker.complete)(Pin::new(&mut self.reader), cx))?;
                    self.framer.restart_at(to.offset());
                    self.format.restart_record();
                    self.index = to.records();
                    self.restore = None;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn terminate<T>(&mut self, control: Control) -> Poll<Option<Message<T>>> {
        self.done = true;
        Poll::Ready(Some(Message::Control(control)))
    }
}

impl<R, T> Stream for FileSource<R, Csv<T>>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_source(cx)
    }
}

impl<R, T> Stream for FileSource<R, JsonLines<T>>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_source(cx)
    }
}

/// Replayable over a reader that can seek ([`FileSourceBuilder::replayable`]); otherwise the
/// default: no position, and [`Source::seek`] fails.
impl<R, F> Source for FileSource<R, F>
where
    FileSource<R, F>: Stream + Unpin,
{
    /// The position ([`FileSource::position`]) when the reader can seek, `None` otherwise.
    fn position(&self) -> Option<Position> {
        self.seeker.map(|_| FileSource::position(self))
    }

    /// Resumes at `position` on the next poll: for CSV, reads the header from the start of the
    /// input, then seeks to `position`'s byte offset; record indices go on from its record
    /// count.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the reader cannot seek. Errors of the seek itself end the flow
    /// with [`Error::Io`] on the next poll.
    fn seek(self: Pin<&mut Self>, position: Position) -> Result<(), Error> {
        let this = self.get_mut();
        if this.seeker.is_none() {
            return Err(ConfigError::new(
                "file source reader",
                "seekable to restore from a checkpoint (FileSourceBuilder::replayable)",
            )
            .into());
        }
        this.done = false;
        if position.offset() == 0 && this.framer.consumed() == 0 {
            this.index = position.records();
            this.restore = None;
        } else {
            this.restore = Some(Restore::Header(position));
        }
        Ok(())
    }
}

impl<R, F: fmt::Debug> fmt::Debug for FileSource<R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("format", &self.format)
            .field("position", &self.position())
            .field("policy", &self.policy)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
