//! `aggregate`: per-key, event-time window statistics over a CSV or JSON-lines file.
//!
//! ```text
//! cargo run --release --example aggregate -- \
//!     --input examples/data/weather.csv --key origin --time time_hour --value temp \
//!     --window tumbling:1d
//! ```
//!
//! Reads rows from `--input`, groups them by the `--key` column, puts each row in the event-time
//! windows of its `--time` column, and writes one JSON line per window and key with the count,
//! sum, minimum, maximum and mean of the `--value` column:
//!
//! ```text
//! {"key":"EWR","start":1356998400000,"end":1357084800000,"count":17,"sum":657.94,"min":33.98,"max":41.0,"mean":38.70235294117647}
//! ```
//!
//! `start` and `end` are epoch milliseconds, the window being `[start, end)`. A window that fires
//! again because of a late row within `--allowed-lateness` is written again, complete, with
//! `"update": true`.
//!
//! `weather.csv` holds one station after the other, so its event time jumps back twice: with the
//! default out-of-orderness of 0, the command above finds almost every JFK and LGA row late (its
//! day has already fired for EWR's watermark). Add `--max-out-of-orderness 365d` to aggregate all
//! three stations.
//!
//! # Flags
//!
//! - `--input PATH`: a CSV file (`.csv`, with a header row) or a JSON-lines file (`.jsonl` or
//!   `.json`, one object per line), chosen by extension; `-` reads CSV from standard input.
//! - `--key COLUMN`: the grouping column, taken as a string (a JSON number is written as text).
//! - `--time COLUMN`: event time, an RFC 3339 timestamp (`2013-01-01T06:00:00Z`,
//!   `2013-01-01T01:00:00.250-05:00`) or integer epoch milliseconds.
//! - `--value COLUMN`: a number. Rows where it is missing (empty, `NA`, `N/A`, `null`), not a
//!   number or not finite are dead-lettered, and so are rows whose time is missing or does not
//!   parse.
//! - `--window SPEC`: `tumbling:SIZE[:OFFSET]`, `sliding:SIZE:SLIDE` or `session:GAP`.
//! - `--max-out-of-orderness DUR` (default 0): how far behind the newest row a row may be and
//!   still be on time. The watermark after each row is the largest time seen minus this, minus
//!   1 ms, so the output depends only on the input.
//! - `--allowed-lateness DUR` (default 0): how long a fired window still takes late rows.
//! - `--output PATH` (default standard output; `-` is standard output too).
//! - `--late PATH`: late rows (those no window takes any more) as JSON lines
//!   `{"index":..,"key":..,"time":..,"value":..}`; without it they are only counted.
//! - `--dead-letter PATH`: rows that could not be read, as JSON lines
//!   `{"index":..,"offset":..,"error":"..","record":..}`; without it they are only counted.
//! - `--parallelism N` (default 1): keyed partitions, each on its own task; the output equals
//!   that of one partition as a set of lines.
//! - `--channel-capacity N` (default 8192): items each partition queue holds.
//! - `--checkpoint-dir DIR`: checkpoint into `DIR` every `--checkpoint-every N` records
//!   (default 10000), and write `--output` (required then, a file) exactly once. Killed at any
//!   moment (`kill -9`) and started again with the same arguments, the tool resumes from its
//!   last complete checkpoint; once it completes, the output file equals that of an
//!   uninterrupted run, line for line. The late and dead-letter files are appended to on a
//!   resume and may repeat rows read after the last checkpoint (at-least-once).
//! - `--max-rate N`: read at most N records per second, to replay data at a set speed.
//!
//! Durations and sizes are whole numbers with an optional unit: `ms`, `s`, `m`, `h` or `d`
//! (`90s`, `15m`, `1d`); a bare number is milliseconds. `index` is the row's record number in
//! the input (the CSV header is record 0) and `offset` its byte offset, when known.
//!
//! At the end, the tool prints to standard error how many records it read, dead-lettered and
//! found late, how many windows it emitted, and its throughput. On a terminal it shows a
//! progress bar while it reads a file.
//!
//! Exit codes: 0 on success, 2 for bad arguments (unknown or missing flags, a bad duration or
//! window, an input that cannot be read, a column missing from the CSV header), 1 when reading
//! or writing fails while running.
//!
//! Memory stays bounded by the open windows and keys: the input is streamed, and a tumbling or
//! sliding window's state is freed once it closes.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::pin::{pin, Pin};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use rheoflow::aggregate::{Count, Max, Mean, Min, Sum};
use rheoflow::channel::{side_output, SideOutput, StageConfig};
use rheoflow::checkpoint::{Checkpoints, DirectoryStore, MemoryStore, Trigger};
use rheoflow::error_policy::{self, DeadLetter, ErrorPolicy, RawRecord};
use rheoflow::keyed::BuildState;
use rheoflow::source::{self, FileSource, Position, Source};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{Aggregate, Session, Sliding, TimeWindow, Tumbling, WindowResult};
use rheoflow::{sink, Error, Flow, Message, Timestamp};
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

const USAGE: &str = "\
usage: aggregate --input PATH --key COLUMN --time COLUMN --value COLUMN --window SPEC
                 [--max-out-of-orderness DUR] [--allowed-lateness DUR]
                 [--output PATH] [--late PATH] [--dead-letter PATH]
                 [--parallelism N] [--channel-capacity N]
                 [--checkpoint-dir DIR] [--checkpoint-every N] [--max-rate N]";

const HELP: &str = "\
Per-key, event-time window statistics (count, sum, min, max, mean) over a CSV or JSON-lines file,
one JSON line per window and key.

  --input PATH                  .csv, or .jsonl / .json (JSON lines); `-` reads CSV from stdin
  --key COLUMN                  grouping column
  --time COLUMN                 event time: RFC 3339 timestamp or integer epoch milliseconds
  --value COLUMN                numeric column; rows where it is missing or not a number are
                                dead-lettered
  --window SPEC                 tumbling:SIZE[:OFFSET] | sliding:SIZE:SLIDE | session:GAP
  --max-out-of-orderness DUR    default 0
  --allowed-lateness DUR        default 0
  --output PATH                 default stdout
  --late PATH                   late rows as JSON lines (else only counted)
  --dead-letter PATH            bad rows as JSON lines (else only counted)
  --parallelism N               keyed partitions, each on its own task; default 1
  --channel-capacity N          items each partition queue holds; default 8192
  --checkpoint-dir DIR          checkpoint into DIR and write --output exactly once; a killed run
                                started again with the same arguments resumes
  --checkpoint-every N          records between checkpoints; default 10000
  --max-rate N                  read at most N records per second

DUR and SIZE: a whole number with an optional unit ms, s, m, h or d (90s, 15m, 1d); a bare number
is milliseconds.
";

/// The flags that take a value, in the order of the usage line.
const FLAGS: [&str; 15] = [
    "--input",
    "--key",
    "--time",
    "--value",
    "--window",
    "--max-out-of-orderness",
    "--allowed-lateness",
    "--output",
    "--late",
    "--dead-letter",
    "--parallelism",
    "--channel-capacity",
    "--checkpoint-dir",
    "--checkpoint-every",
    "--max-rate",
];

/// Records between two checkpoints unless `--checkpoint-every` says otherwise.
const DEFAULT_CHECKPOINT_EVERY: usize = 10_000;

/// How many dead letters or late rows may wait in their channels.
const SIDE_CAPACITY: usize = 1024;

fn main() -> ExitCode {
    let started = Instant::now();
    let config = match parse_args(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(config)) => config,
        Ok(Parsed::Help) => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => return usage_error(&message),
    };
    // Partitions run on a worker per core; without them one thread is all the tool needs.
    let runtime = if config.parallelism > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => return failure(&format!("cannot start the runtime: {err}")),
    };
    match runtime.block_on(run(&config)) {
        Ok(summary) => {
            summary.print(started.elapsed());
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => usage_error(&message),
        Err(Failure::Io(message)) => failure(&message),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{USAGE}\n\nRun with --help for details.");
    ExitCode::from(2)
}

fn failure(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

/// Why a run stopped: bad arguments (exit code 2) or an I/O failure while running (1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Io(String),
}

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Debug)]
enum Parsed {
    Help,
    Run(Box<Config>),
}

#[derive(Debug)]
struct Config {
    input: Input,
    key: String,
    time: String,
    value: String,
    window: WindowSpec,
    max_out_of_orderness: Duration,
    allowed_lateness: Duration,
    output: Option<PathBuf>,
    late: Option<PathBuf>,
    dead_letter: Option<PathBuf>,
    parallelism: usize,
    stage: StageConfig,
    /// Where to checkpoint and every how many records.
    checkpoint: Option<(PathBuf, u64)>,
    max_rate: Option<u64>,
}

#[derive(Debug)]
enum Input {
    Stdin,
    File(PathBuf, Format),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowSpec {
    Tumbling { size: Duration, offset: Duration },
    Sliding { size: Duration, slide: Duration },
    Session { gap: Duration },
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut values: [Option<OsString>; FLAGS.len()] = Default::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            return Err(format!("unexpected argument `{}`", arg.to_string_lossy()));
        };
        if text == "-h" || text == "--help" {
            return Ok(Parsed::Help);
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (text, None),
        };
        let Some(slot) = FLAGS.iter().position(|flag| *flag == name) else {
            return Err(if name.starts_with('-') && name != "-" {
                format!("unknown flag `{name}`")
            } else {
                format!("unexpected argument `{name}`")
            });
        };
        let value = match inline {
            Some(value) => OsString::from(value),
            None => match args.next() {
                Some(value) if !value.to_string_lossy().starts_with("--") => value,
                _ => return Err(format!("`{name}` needs a value")),
            },
        };
        if value.is_empty() {
            return Err(format!("`{name}` needs a non-empty value"));
        }
        if values[slot].replace(value).is_some() {
            return Err(format!("`{name}` given more than once"));
        }
    }

    let missing: Vec<String> = FLAGS[..5]
        .iter()
        .zip(&values)
        .filter(|(_, value)| value.is_none())
        .map(|(flag, _)| format!("`{flag}`"))
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() > 1 { "s" } else { "" };
        return Err(format!("missing required flag{s} {}", missing.join(", ")));
    }
    let [input, key, time, value, window, ooo, lateness, output, late, dead_letter, parallelism, capacity, checkpoint_dir, checkpoint_every, max_rate] =
        values;
    let text = |flag: &str, value: Option<OsString>| -> Result<Option<String>, String> {
        value
            .map(|value| {
                value
                    .into_string()
                    .map_err(|_| format!("`{flag}` is not valid UTF-8"))
            })
            .transpose()
    };
    let duration = |flag: &str, value: Option<String>| -> Result<Duration, String> {
        match value {
            Some(value) => parse_duration(&value).map_err(|err| format!("invalid {flag}: {err}")),
            None => Ok(Duration::ZERO),
        }
    };
    let count = |flag: &str, value: Option<String>, default: usize| -> Result<usize, String> {
        match value {
            Some(value) => match value.parse::<usize>() {
                Ok(0) | Err(_) => Err(format!(
                    "invalid {flag} `{value}`: expected a whole number above 0"
                )),
                Ok(n) => Ok(n),
            },
            None => Ok(default),
        }
    };
    let side_file = |flag: &str, value: Option<OsString>| -> Result<Option<PathBuf>, String> {
        match value {
            Some(path) if path == "-" => Err(format!(
                "`{flag}` needs a file path: standard output carries the results"
            )),
            other => Ok(other.map(PathBuf::from)),
        }
    };

    let input = input.map(PathBuf::from).unwrap_or_default();
    let input = if input.as_os_str() == "-" {
        Input::Stdin
    } else {
        let format = format_of(&input)?;
        Input::File(input, format)
    };
    let parallelism = count("--parallelism", text("--parallelism", parallelism)?, 1)?;
    let capacity = count(
        "--channel-capacity",
        text("--channel-capacity", capacity)?,
        StageConfig::default().capacity(),
    )?;
    let stage = StageConfig::with_capacity(capacity)
        .and_then(|stage| stage.batch_size(capacity.min(StageConfig::DEFAULT_BATCH_SIZE)))
        .map_err(|err| format!("invalid --channel-capacity: {err}"))?;
    let every = text("--checkpoint-every", checkpoint_every)?;
    let checkpoint = match (checkpoint_dir, every) {
        (Some(dir), every) => {
            let every = count("--checkpoint-every", every, DEFAULT_CHECKPOINT_EVERY)?;
            if matches!(input, Input::Stdin) {
                return Err("`--checkpoint-dir` needs a file `--input`, to read again".to_owned());
            }
            if output.as_ref().is_none_or(|path| path == "-") {
                return Err(
                    "`--checkpoint-dir` needs an `--output` file, written exactly once".to_owned(),
                );
            }
            Some((PathBuf::from(dir), every as u64))
        }
        (None, Some(_)) => return Err("`--checkpoint-every` needs `--checkpoint-dir`".to_owned()),
        (None, None) => None,
    };
    let max_rate = text("--max-rate", max_rate)?;
    let max_rate = match max_rate {
        Some(_) => Some(count("--max-rate", max_rate, 1)? as u64),
        None => None,
    };
    let window = text("--window", window)?.unwrap_or_default();
    let window =
        parse_window(&window).map_err(|err| format!("invalid --window `{window}`: {err}"))?;
    Ok(Parsed::Run(Box::new(Config {
        input,
        key: text("--key", key)?.unwrap_or_default(),
        time: text("--time", time)?.unwrap_or_default(),
        value: text("--value", value)?.unwrap_or_default(),
        window,
        max_out_of_orderness: duration(
            "--max-out-of-orderness",
            text("--max-out-of-orderness", ooo)?,
        )?,
        allowed_lateness: duration("--allowed-lateness", text("--allowed-lateness", lateness)?)?,
        output: output.filter(|path| path != "-").map(PathBuf::from),
        late: side_file("--late", late)?,
        dead_letter: side_file("--dead-letter", dead_letter)?,
        parallelism,
        stage,
        checkpoint,
        max_rate,
    })))
}

/// The input format, from the file's extension.
fn format_of(path: &Path) -> Result<Format, String> {
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("jsonl" | "json") => Ok(Format::JsonLines),
        _ => Err(format!(
            "cannot tell the format of `{}`: the input must end in .csv, .jsonl or .json",
            path.display()
        )),
    }
}

/// Parses `90s`, `15m`, `1d` or a bare number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let not_a_duration = || {
        format!(
            "`{text}` is not a duration: expected a whole number with an optional unit \
             ms, s, m, h or d, like `90s`, `15m` or `1d`"
        )
    };
    let too_long = || format!("`{text}` is too long a duration");
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let millis_per_unit: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(not_a_duration()),
    };
    if number.is_empty() {
        return Err(not_a_duration());
    }
    // `number` is all digits, so it fails to parse only when it is too large.
    let number: u64 = number.parse().map_err(|_| too_long())?;
    match number.checked_mul(millis_per_unit) {
        Some(millis) if millis <= i64::MAX as u64 => Ok(Duration::from_millis(millis)),
        _ => Err(too_long()),
    }
}

/// Parses `tumbling:SIZE[:OFFSET]`, `sliding:SIZE:SLIDE` or `session:GAP`.
fn parse_window(spec: &str) -> Result<WindowSpec, String> {
    let positive = |what: &str, text: &str| -> Result<Duration, String> {
        let duration = parse_duration(text)?;
        if duration.is_zero() {
            return Err(format!("the {what} must be greater than zero"));
        }
        Ok(duration)
    };
    let parts: Vec<&str> = spec.split(':').collect();
    match parts[..] {
        ["tumbling", size] => Ok(WindowSpec::Tumbling {
            size: positive("window size", size)?,
            offset: Duration::ZERO,
        }),
        ["tumbling", size, offset] => Ok(WindowSpec::Tumbling {
            size: positive("window size", size)?,
            offset: parse_duration(offset)?,
        }),
        ["sliding", size, slide] => Ok(WindowSpec::Sliding {
            size: positive("window size", size)?,
            slide: positive("slide", slide)?,
        }),
        ["session", gap] => Ok(WindowSpec::Session {
            gap: positive("session gap", gap)?,
        }),
        _ => Err(
            "expected tumbling:SIZE[:OFFSET], sliding:SIZE:SLIDE or session:GAP, \
             like `tumbling:1h` or `sliding:1h:15m`"
                .to_owned(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Rows

/// A row read from the input, with its record index and, when known, its byte offset.
struct Tagged<T> {
    index: u64,
    offset: Option<u64>,
    row: T,
}

/// One CSV row: its fields back to back in one string, and where each field ends.
///
/// Reading a row this way costs two allocations, however many columns it has.
struct CsvRow {
    text: String,
    ends: Vec<usize>,
}

impl CsvRow {
    fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |prev| self.ends[prev]);
        Some(&self.text[start..end])
    }
}

impl<'de> Deserialize<'de> for CsvRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(CsvRowVisitor)
    }
}

struct CsvRowVisitor;

impl<'de> Visitor<'de> for CsvRowVisitor {
    type Value = CsvRow;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CSV row")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut fields: A) -> Result<CsvRow, A::Error> {
        let mut row = CsvRow {
            text: String::with_capacity(128),
            ends: Vec::with_capacity(fields.size_hint().unwrap_or(16)),
        };
        while fields
            .next_element_seed(AppendField(&mut row.text))?
            .is_some()
        {
            row.ends.push(row.text.len());
        }
        Ok(row)
    }
}

/// Appends one field to a row's text.
struct AppendField<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for AppendField<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for AppendField<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CSV field")
    }

    fn visit_str<E: de::Error>(self, field: &str) -> Result<(), E> {
        self.0.push_str(field);
        Ok(())
    }
}

/// A CSV row as a JSON object, column by column, for its dead letter.
struct CsvRecord<'a> {
    header: &'a [String],
    row: &'a CsvRow,
}

impl Serialize for CsvRecord<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.header.len()))?;
        for (index, column) in self.header.iter().enumerate() {
            map.serialize_entry(column, self.row.get(index).unwrap_or_default())?;
        }
        map.end()
    }
}

/// Tags each row of a file source with its record index and byte offset, and publishes how far
/// the source has read.
struct Positioned<R, F> {
    source: FileSource<R, F>,
    /// The position before the last poll.
    last: Position,
    /// Records before the first row: 1 for the CSV header.
    header: u64,
    progress: Arc<Progress>,
    /// `--max-rate`: at most this many rows per second, paced from the first row.
    pace: Option<Pace>,
}

/// Paces rows at a set rate.
struct Pace {
    per_second: u64,
    started: Option<tokio::time::Instant>,
    rows: u64,
    wait: Pin<Box<tokio::time::Sleep>>,
}

impl Pace {
    fn new(per_second: u64) -> Self {
        Pace {
            per_second,
            started: None,
            rows: 0,
            wait: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// Ready when the next row may be read.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let started = *self.started.get_or_insert_with(tokio::time::Instant::now);
        let due = started + Duration::from_secs_f64(self.rows as f64 / self.per_second as f64);
        if due > tokio::time::Instant::now() {
            self.wait.as_mut().reset(due);
            ready!(self.wait.as_mut().poll(cx));
        }
        self.rows += 1;
        Poll::Ready(())
    }
}

impl<R, F> Positioned<R, F> {
    /// Wraps `source`; `start` is where its first row begins (after the header, for CSV).
    fn new(
        source: FileSource<R, F>,
        start: Position,
        progress: Arc<Progress>,
        max_rate: Option<u64>,
    ) -> Self {
        Positioned {
            source,
            last: start,
            header: start.records(),
            progress,
            pace: max_rate.map(Pace::new),
        }
    }
}

impl<R, F, T> Stream for Positioned<R, F>
where
    FileSource<R, F>: Stream<Item = Message<T>> + Unpin,
{
    type Item = Message<Tagged<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(pace) = &mut this.pace {
            ready!(pace.poll_ready(cx));
        }
        let message = ready!(Pin::new(&mut this.source).poll_next(cx));
        let now = this.source.position();
        let last = std::mem::replace(&mut this.last, now);
        this.progress.publish(now, this.header);
        Poll::Ready(message.map(|message| {
            message.map(|row| Tagged {
                index: now.records() - 1,
                // Exact unless bad records were skipped before this row in the same poll.
                offset: (now.records() == last.records() + 1).then_some(last.offset()),
                row,
            })
        }))
    }
}

/// Replayable as the file source under it: a checkpoint saves its position, a restart seeks
/// back to it.
impl<R, F, T> Source for Positioned<R, F>
where
    FileSource<R, F>: Stream<Item = Message<T>> + Source + Unpin,
{
    fn position(&self) -> Option<Position> {
        Source::position(&self.source)
    }

    fn seek(self: Pin<&mut Self>, position: Position) -> Result<(), Error> {
        let this = self.get_mut();
        this.last = position;
        Source::seek(Pin::new(&mut this.source), position)
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// What the windows aggregate: a row's key, time and value, and its index for the late output.
#[derive(Debug)]
struct Event {
    key: Arc<str>,
    time: Timestamp,
    value: f64,
    index: u64,
}

/// Why a row cannot become an event.
#[derive(Debug)]
enum BadRow {
    /// The field is absent, empty, null or `NA`.
    Missing {
        what: &'static str,
        column: String,
        found: Option<String>,
    },
    /// The field holds something else than expected.
    Invalid {
        what: &'static str,
        column: String,
        found: String,
        expected: &'static str,
    },
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRow::Missing {
                what,
                column,
                found: None,
            } => write!(f, "no {what}: column `{column}` is absent"),
            BadRow::Missing {
                what,
                column,
                found: Some(found),
            } if found.is_empty() => write!(f, "no {what}: column `{column}` is empty"),
            BadRow::Missing {
                what,
                column,
                found: Some(found),
            } => write!(f, "no {what}: column `{column}` holds `{found}`"),
            BadRow::Invalid {
                what,
                column,
                found,
                expected,
            } => write!(f, "{what} `{found}` in column `{column}` is not {expected}"),
        }
    }
}

impl std::error::Error for BadRow {}

const EXPECTED_TIME: &str = "an RFC 3339 timestamp or integer epoch milliseconds";

/// Whether a text field means "no value".
fn is_missing(text: &str) -> bool {
    text.is_empty()
        || ["NA", "N/A", "null"]
            .iter()
            .any(|marker| text.eq_ignore_ascii_case(marker))
}

fn missing(what: &'static str, column: &str, found: Option<&str>) -> BadRow {
    BadRow::Missing {
        what,
        column: column.to_owned(),
        found: found.map(str::to_owned),
    }
}

fn invalid(what: &'static str, column: &str, found: &str, expected: &'static str) -> BadRow {
    BadRow::Invalid {
        what,
        column: column.to_owned(),
        found: found.to_owned(),
        expected,
    }
}

/// Reads a time field: integer epoch milliseconds or an RFC 3339 timestamp.
fn time_from_text(column: &str, text: &str) -> Result<Timestamp, BadRow> {
    let text = text.trim();
    if is_missing(text) {
        return Err(missing("time", column, Some(text)));
    }
    text.parse::<i64>()
        .ok()
        .or_else(|| parse_rfc3339(text))
        .map(Timestamp::from_millis)
        .ok_or_else(|| invalid("time", column, text, EXPECTED_TIME))
}

/// Reads a value field: a finite number.
fn value_from_text(column: &str, text: &str) -> Result<f64, BadRow> {
    let text = text.trim();
    if is_missing(text) {
        return Err(missing("value", column, Some(text)));
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(invalid("value", column, text, "a finite number")),
        Err(_) => Err(invalid("value", column, text, "a number")),
    }
}

/// Where the key, time and value are in a CSV row.
struct CsvColumns {
    names: [String; 3],
    key: usize,
    time: usize,
    value: usize,
}

impl CsvColumns {
    /// Finds the columns in the header, or says which one is not there.
    fn find(header: &[String], config: &Config) -> Result<Self, String> {
        let find = |name: &str| {
            header
                .iter()
                .position(|column| column.trim_start_matches('\u{feff}') == name)
                .ok_or_else(|| {
                    format!(
                        "column `{name}` is not in the CSV header (columns: {})",
                        header.join(", ")
                    )
                })
        };
        Ok(CsvColumns {
            key: find(&config.key)?,
            time: find(&config.time)?,
            value: find(&config.value)?,
            names: [
                config.key.clone(),
                config.time.clone(),
                config.value.clone(),
            ],
        })
    }

    fn event(&self, row: &Tagged<CsvRow>) -> Result<Event, BadRow> {
        // The source checked that every row has as many fields as the header.
        let field = |index| row.row.get(index).unwrap_or_default();
        let [_, time, value] = &self.names;
        Ok(Event {
            time: time_from_text(time, field(self.time))?,
            value: value_from_text(value, field(self.value))?,
            key: Arc::from(field(self.key)),
            index: row.index,
        })
    }
}

/// The key, time and value fields of a JSON object.
struct JsonColumns {
    key: String,
    time: String,
    value: String,
}

impl JsonColumns {
    fn event(&self, row: &Tagged<Map<String, Value>>) -> Result<Event, BadRow> {
        let field = |column: &str| row.row.get(column);
        let time = match field(&self.time) {
            None => return Err(missing("time", &self.time, None)),
            Some(Value::Null) => return Err(missing("time", &self.time, Some("null"))),
            Some(Value::String(text)) => time_from_text(&self.time, text)?,
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Timestamp::from_millis)
                .ok_or_else(|| invalid("time", &self.time, &n.to_string(), EXPECTED_TIME))?,
            Some(other) => {
                return Err(invalid(
                    "time",
                    &self.time,
                    &other.to_string(),
                    EXPECTED_TIME,
                ))
            }
        };
        let value = match field(&self.value) {
            None => return Err(missing("value", &self.value, None)),
            Some(Value::Null) => return Err(missing("value", &self.value, Some("null"))),
            Some(Value::String(text)) => value_from_text(&self.value, text)?,
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|value| value.is_finite())
                .ok_or_else(|| invalid("value", &self.value, &n.to_string(), "a number"))?,
            Some(other) => {
                return Err(invalid(
                    "value",
                    &self.value,
                    &other.to_string(),
                    "a number",
                ))
            }
        };
        let key: Arc<str> = match field(&self.key) {
            None => return Err(missing("key", &self.key, None)),
            Some(Value::Null) => return Err(missing("key", &self.key, Some("null"))),
            Some(Value::String(key)) => Arc::from(key.as_str()),
            Some(Value::Number(n)) => Arc::from(n.to_string()),
            Some(other) => {
                return Err(invalid(
                    "key",
                    &self.key,
                    &other.to_string(),
                    "a string or a number",
                ))
            }
        };
        Ok(Event {
            key,
            time,
            value,
            index: row.index,
        })
    }
}

/// Parses an RFC 3339 timestamp (`2013-01-01T06:00:00Z`, `2013-01-01 01:00:00.5-05:00`) into
/// epoch milliseconds; digits past the millisecond are dropped.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        b.get(from..to)?.iter().try_fold(0i64, |acc, &digit| {
            digit
                .is_ascii_digit()
                .then(|| acc * 10 + i64::from(digit - b'0'))
        })
    };
    let at = |index: usize, allowed: &[u8]| b.get(index).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }

    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (place, digit) in fraction[..digits.min(3)].iter().enumerate() {
            millis += i64::from(digit - b'0') * [100, 10, 1][place];
        }
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (hours, minutes) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second;
    Some(seconds * 1_000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/// Counts for the final report.
#[derive(Debug, Default)]
struct Summary {
    read: u64,
    dead_lettered: u64,
    late: u64,
    windows: u64,
    updates: u64,
}

impl Summary {
    fn print(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.read as f64 / seconds
        } else {
            0.0
        };
        eprintln!("records read:     {}", self.read);
        eprintln!("dead-lettered:    {}", self.dead_lettered);
        eprintln!("late:             {}", self.late);
        eprintln!(
            "windows emitted:  {} ({} updates)",
            self.windows, self.updates
        );
        eprintln!("elapsed:          {seconds:.3} s ({rate:.0} events/s)");
    }
}

type Output = io::BufWriter<Box<dyn Write>>;

fn create_output(path: Option<&Path>, what: &str, append: bool) -> Result<Output, Failure> {
    let writer: Box<dyn Write> = match path {
        None => Box::new(io::stdout().lock()),
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(path)
                .map_err(|err| {
                    Failure::Io(format!(
                        "cannot create the {what} `{}`: {err}",
                        path.display()
                    ))
                })?,
        ),
    };
    Ok(io::BufWriter::with_capacity(64 * 1024, writer))
}

/// Writes one value as a JSON line.
fn write_line(out: &mut Output, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// A side output (late rows or dead letters): counts what it receives and writes it if it has
/// a file, keeping the first write error for the end.
struct SideFile {
    out: Option<Output>,
    what: &'static str,
    count: u64,
    error: Option<io::Error>,
}

impl SideFile {
    fn create(path: Option<&Path>, what: &'static str, append: bool) -> Result<Self, Failure> {
        Ok(SideFile {
            out: path
                .map(|path| create_output(Some(path), what, append))
                .transpose()?,
            what,
            count: 0,
            error: None,
        })
    }

    fn write(&mut self, value: &impl Serialize) {
        self.count += 1;
        if let (Some(out), None) = (&mut self.out, &self.error) {
            self.error = write_line(out, value).err();
        }
    }

    fn finish(mut self) -> Result<u64, Failure> {
        if let (Some(out), None) = (&mut self.out, &self.error) {
            self.error = out.flush().err();
        }
        match self.error {
            Some(err) => Err(Failure::Io(format!("writing the {}: {err}", self.what))),
            None => Ok(self.count),
        }
    }
}

/// A dead letter of a row that was read but could not become an event.
#[derive(Serialize)]
struct BadRowLine<R> {
    index: u64,
    offset: Option<u64>,
    error: String,
    record: R,
}

impl<R: Serialize> BadRowLine<R> {
    /// The line for `dead`, with the row rendered by `record`.
    fn new<'a, T>(dead: &'a DeadLetter<Tagged<T>>, record: impl FnOnce(&'a T) -> R) -> Self {
        let tagged = dead.record();
        BadRowLine {
            index: tagged.index,
            offset: tagged.offset,
            error: dead.error().to_string(),
            record: record(&tagged.row),
        }
    }
}

/// A late row.
#[derive(Serialize)]
struct LateLine<'a> {
    index: u64,
    key: &'a str,
    time: i64,
    value: f64,
}

/// A window's result.
#[derive(Serialize)]
struct WindowLine<K> {
    key: K,
    start: i64,
    end: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    update: bool,
}

impl<K> WindowLine<K> {
    fn of(result: &WindowResult<Arc<str>, StatsOutput>, key: K) -> Self {
        let (count, sum, min, max, mean) = result.value;
        WindowLine {
            key,
            start: result.window.start().millis(),
            end: result.window.end().millis(),
            count,
            sum,
            // A window that fires holds at least one event, so these are always set.
            min: min.unwrap_or(f64::NAN),
            max: max.unwrap_or(f64::NAN),
            mean: mean.unwrap_or(f64::NAN),
            update: result.is_update(),
        }
    }
}

async fn run(config: &Config) -> Result<Summary, Failure> {
    let (input, size) = open_input(&config.input).await?;
    let format = match &config.input {
        Input::Stdin => Format::Csv,
        Input::File(_, format) => *format,
    };
    // Check the columns before creating any output file.
    let (input, csv) = match format {
        Format::Csv => {
            let (header, header_len, input) = read_csv_header(input).await?;
            let columns = CsvColumns::find(&header, config).map_err(Failure::Usage)?;
            (input, Some((header, header_len, columns)))
        }
        Format::JsonLines => (input, None),
    };
    let checkpoints = open_checkpoints(config).await?;
    // A resumed run appends to its side files; the exactly-once output is the sink's.
    let resumed = checkpoints.restored().is_some();
    let mut output = match config.checkpoint {
        Some(_) => None,
        None => Some(create_output(config.output.as_deref(), "output", false)?),
    };
    let late = SideFile::create(config.late.as_deref(), "late output", resumed)?;
    let dead = RefCell::new(SideFile::create(
        config.dead_letter.as_deref(),
        "dead-letter output",
        resumed,
    )?);
    let progress = Arc::new(Progress::default());
    let bar = size
        .filter(|_| io::stderr().is_terminal())
        .map(ProgressBar::new);

    let mut summary = match csv {
        Some((header, header_len, columns)) => {
            let (bad_records, bad_record_flow) = dead_letter_channel();
            let rows = source::csv::<CsvRow, _>(input)
                .on_error(ErrorPolicy::dead_letter(bad_records))
                .replayable()
                .into_flow()
                .into_messages();
            let start = Position::new(header_len, 1);
            let rows = Positioned::new(rows, start, Arc::clone(&progress), config.max_rate);
            let (bad_rows, bad_row_flow) = dead_letter_channel();
            let events = Flow::from_messages(rows)
                .checkpointed(&checkpoints)
                .try_map(
                    move |row| columns.event(row),
                    ErrorPolicy::dead_letter(bad_rows),
                );
            let dead_letters = async {
                let records = bad_record_flow.for_each(|dead_letter: DeadLetter<RawRecord>| {
                    dead.borrow_mut().write(&dead_letter)
                });
                let rows = bad_row_flow.for_each(|dead_letter: DeadLetter<Tagged<CsvRow>>| {
                    let header = &header[..];
                    let line = BadRowLine::new(&dead_letter, |row| CsvRecord { header, row });
                    dead.borrow_mut().write(&line)
                });
                let _ = tokio::join!(records, rows);
            };
            execute(
                config,
                events,
                dead_letters,
                output.as_mut(),
                late,
                bar,
                &progress,
            )
            .await?
        }
        None => {
            let (bad_records, bad_record_flow) = dead_letter_channel();
            let rows = source::json_lines::<Map<String, Value>, _>(input)
                .on_error(ErrorPolicy::dead_letter(bad_records))
                .replayable()
                .into_flow()
                .into_messages();
            let rows = Positioned::new(
                rows,
                Position::START,
                Arc::clone(&progress),
                config.max_rate,
            );
            let (bad_rows, bad_row_flow) = dead_letter_channel();
            let columns = JsonColumns {
                key: config.key.clone(),
                time: config.time.clone(),
                value: config.value.clone(),
            };
            let events = Flow::from_messages(rows)
                .checkpointed(&checkpoints)
                .try_map(
                    move |row| columns.event(row),
                    ErrorPolicy::dead_letter(bad_rows),
                );
            let dead_letters = async {
                let records = bad_record_flow.for_each(|dead_letter: DeadLetter<RawRecord>| {
                    dead.borrow_mut().write(&dead_letter)
                });
                let rows =
                    bad_row_flow.for_each(|dead_letter: DeadLetter<Tagged<Map<String, Value>>>| {
                        dead.borrow_mut()
                            .write(&BadRowLine::new(&dead_letter, |row| row))
                    });
                let _ = tokio::join!(records, rows);
            };
            execute(
                config,
                events,
                dead_letters,
                output.as_mut(),
                late,
                bar,
                &progress,
            )
            .await?
        }
    };
    if let Some(output) = &mut output {
        output
            .flush()
            .map_err(|err| Failure::Io(format!("writing the output: {err}")))?;
    }
    checkpoints.wait_idle().await;
    summary.dead_lettered = dead.into_inner().finish()?;
    summary.read = progress.records.load(Ordering::Relaxed);
    Ok(summary)
}

/// Opens the checkpoints: in `--checkpoint-dir`, restoring the newest complete one; otherwise in
/// memory, with only the final checkpoint at the end of input.
async fn open_checkpoints(config: &Config) -> Result<Checkpoints, Failure> {
    let opened = match &config.checkpoint {
        Some((dir, every)) => {
            let store = DirectoryStore::open(dir).await.map_err(|err| {
                Failure::Usage(format!(
                    "cannot use --checkpoint-dir `{}`: {err}",
                    dir.display()
                ))
            })?;
            Checkpoints::open(store, Trigger::every_events(*every)).await
        }
        None => Checkpoints::open(MemoryStore::new(), Trigger::at_end()).await,
    };
    opened.map_err(|err| Failure::Io(format!("cannot restore the checkpoint: {err}")))
}

/// A bounded dead-letter channel; the capacity is not zero, so creating it cannot fail.
#[allow(clippy::type_complexity)]
fn dead_letter_channel<R: Send + 'static>() -> (
    error_policy::DeadLetterSender<R>,
    Flow<error_policy::DeadLetterSource<R>>,
) {
    error_policy::channel(SIDE_CAPACITY).unwrap_or_else(|_| unreachable!("capacity is not zero"))
}

/// Runs the windows over `events`, beside the dead-letter writer, the late-row writer and the
/// progress bar.
async fn execute<S, D>(
    config: &Config,
    events: Flow<S>,
    dead_letters: D,
    output: Option<&mut Output>,
    mut late: SideFile,
    bar: Option<ProgressBar>,
    progress: &Progress,
) -> Result<Summary, Failure>
where
    S: Stream<Item = Message<Event>> + Send + 'static,
    D: Future<Output = ()>,
{
    let (late_rows, late_flow) =
        side_output(SIDE_CAPACITY).unwrap_or_else(|_| unreachable!("capacity is not zero"));
    let windows = async {
        match config.window {
            WindowSpec::Tumbling { size, offset } => {
                let assigner = Tumbling::of(size).with_offset(offset);
                aggregate(events, assigner, config, late_rows, output).await
            }
            WindowSpec::Sliding { size, slide } => {
                let assigner = Sliding::of(size, slide);
                aggregate(events, assigner, config, late_rows, output).await
            }
            WindowSpec::Session { gap } => {
                let assigner = Session::with_gap(gap);
                aggregate(events, assigner, config, late_rows, output).await
            }
        }
    };
    let late_rows = late_flow.for_each(|event: Event| {
        late.write(&LateLine {
            index: event.index,
            key: &event.key,
            time: event.time.millis(),
            value: event.value,
        })
    });
    let everything = async { tokio::join!(windows, late_rows, dead_letters) };
    let (windows, _, ()) = with_progress(everything, bar, progress).await;
    let mut summary = windows?;
    summary.late = late.finish()?;
    Ok(summary)
}

type ValueOf = fn(&Event) -> f64;
type StatsOutput = (u64, f64, Option<f64>, Option<f64>, Option<f64>);
type Stats = (
    Count,
    Sum<ValueOf>,
    Min<ValueOf>,
    Max<ValueOf>,
    Mean<ValueOf>,
);

/// Keys, windows and aggregates the events, writing one line per window result.
async fn aggregate<S, A>(
    events: Flow<S>,
    assigner: A,
    config: &Config,
    late: SideOutput<Event>,
    output: Option<&mut Output>,
) -> Result<Summary, Failure>
where
    S: Stream<Item = Message<Event>> + Send + 'static,
    A: BuildState<Arc<str>, Event, Aggregate<Stats>, Window = TimeWindow> + Copy + Send + 'static,
    A::State: Send + 'static,
{
    let time = |event: &Event| event.time;
    let value: ValueOf = |event| event.value;
    let strategy = WatermarkStrategy::bounded_out_of_orderness(config.max_out_of_orderness);
    let stats: Stats = (
        Count,
        Sum::of(value),
        Min::of(value),
        Max::of(value),
        Mean::of(value),
    );
    let keyed = events
        .watermarks(time, strategy)
        .key_by(|event: &Event| Arc::clone(&event.key));
    let lateness = config.allowed_lateness;
    if config.parallelism > 1 {
        // Each partition windows its own keys; per key the results equal a single task's.
        let partitioned = keyed
            .parallel(config.parallelism, config.stage, move |keyed| {
                keyed
                    .window(assigner, time)
                    .allowed_lateness(lateness)
                    .late_output(late.clone())
                    .aggregate(stats)
            })
            .map_err(|err| Failure::Usage(format!("invalid --parallelism: {err}")))?;
        deliver(partitioned, config, output).await
    } else {
        let windows = keyed
            .window(assigner, time)
            .allowed_lateness(lateness)
            .late_output(late)
            .aggregate(stats);
        deliver(windows, config, output).await
    }
}

/// Writes one line per window result: to `output`, or exactly once to the `--output` file
/// through a two-phase-commit sink when checkpointing.
async fn deliver<S>(
    results: Flow<S>,
    config: &Config,
    output: Option<&mut Output>,
) -> Result<Summary, Failure>
where
    S: Stream<Item = Message<WindowResult<Arc<str>, StatsOutput>>> + Send + 'static,
{
    let mut summary = Summary::default();
    let Some(output) = output else {
        let path = config
            .output
            .as_deref()
            .expect("checkpointing needs an output file");
        let sink = sink::exactly_once_json_lines(path)
            .await
            .map_err(|err| Failure::Io(format!("cannot open the output: {err}")))?;
        let (windows, updates) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let counted = (Arc::clone(&windows), Arc::clone(&updates));
        results
            .map(move |result| {
                let line = WindowLine::of(&result, Arc::clone(&result.key));
                counted.0.fetch_add(1, Ordering::Relaxed);
                counted
                    .1
                    .fetch_add(u64::from(line.update), Ordering::Relaxed);
                line
            })
            .send_exactly_once(sink)
            .await
            .map_err(|err| Failure::Io(format!("running: {err}")))?;
        summary.windows = windows.load(Ordering::Relaxed);
        summary.updates = updates.load(Ordering::Relaxed);
        return Ok(summary);
    };
    let mut results = pin!(results.into_try_stream());
    while let Some(result) = results.next().await {
        let result = result.map_err(|err| Failure::Io(format!("reading the input: {err}")))?;
        let line = WindowLine::of(&result, &*result.key);
        write_line(output, &line)
            .map_err(|err| Failure::Io(format!("writing the output: {err}")))?;
        summary.windows += 1;
        summary.updates += u64::from(line.update);
    }
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// Input

/// The input: a file, which can seek (so a checkpointed run reads it again from a position),
/// or standard input, which cannot.
enum Reader {
    File(tokio::fs::File),
    Stream(Box<dyn AsyncRead + Unpin + Send>),
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Reader::File(file) => Pin::new(file).poll_read(cx, buf),
            Reader::Stream(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncSeek for Reader {
    fn start_seek(self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        match self.get_mut() {
            Reader::File(file) => Pin::new(file).start_seek(position),
            Reader::Stream(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "standard input cannot seek",
            )),
        }
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        match self.get_mut() {
            Reader::File(file) => Pin::new(file).poll_complete(cx),
            Reader::Stream(_) => Poll::Ready(Ok(0)),
        }
    }
}

/// Opens the input; returns its size when it is a file.
async fn open_input(input: &Input) -> Result<(Reader, Option<u64>), Failure> {
    let path = match input {
        Input::Stdin => return Ok((Reader::Stream(Box::new(tokio::io::stdin())), None)),
        Input::File(path, _) => path,
    };
    let cannot = |err: &dyn fmt::Display| {
        Failure::Usage(format!("cannot read the input `{}`: {err}", path.display()))
    };
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|err| cannot(&err))?;
    let metadata = file.metadata().await.map_err(|err| cannot(&err))?;
    if metadata.is_dir() {
        return Err(cannot(&"it is a directory"));
    }
    let size = metadata.is_file().then_some(metadata.len());
    Ok((Reader::File(file), size))
}

/// Reads the CSV header line, to check the columns before the run; returns the column names,
/// the header's length in bytes, and a reader that yields the whole input again, header
/// included, for the CSV source.
async fn read_csv_header(input: Reader) -> Result<(Vec<String>, u64, Reader), Failure> {
    let cannot = |err: io::Error| Failure::Usage(format!("cannot read the input: {err}"));
    // Byte by byte, so that nothing after the header is read ahead and lost: the header is
    // short, and this happens once.
    let mut input = input;
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.last() != Some(&b'\n') && input.read(&mut byte).await.map_err(cannot)? == 1 {
        line.push(byte[0]);
    }
    let record = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&line[..])
        .records()
        .next();
    let header = match record {
        Some(Ok(record)) => record.iter().map(str::to_owned).collect(),
        Some(Err(err)) => return Err(Failure::Usage(format!("cannot read the CSV header: {err}"))),
        None => return Err(Failure::Usage("the input has no CSV header".to_owned())),
    };
    let header_len = line.len() as u64;
    // The source reads the header again: a file from its start, a stream from what was read.
    let input = match input {
        Reader::File(mut file) => {
            file.seek(io::SeekFrom::Start(0)).await.map_err(cannot)?;
            Reader::File(file)
        }
        Reader::Stream(stream) => Reader::Stream(Box::new(io::Cursor::new(line).chain(stream))),
    };
    Ok((header, header_len, input))
}

// ---------------------------------------------------------------------------------------------
// Progress

/// How far the source has read, published by [`Positioned`].
#[derive(Debug, Default)]
struct Progress {
    bytes: AtomicU64,
    records: AtomicU64,
}

impl Progress {
    fn publish(&self, position: Position, header: u64) {
        self.bytes.store(position.offset(), Ordering::Relaxed);
        let records = position.records().saturating_sub(header);
        self.records.store(records, Ordering::Relaxed);
    }
}

/// A progress bar on standard error: bytes read against the file's size.
struct ProgressBar {
    total: u64,
    drawn: bool,
}

impl ProgressBar {
    const WIDTH: usize = 30;

    fn new(total: u64) -> Self {
        ProgressBar {
            total,
            drawn: false,
        }
    }

    fn draw(&mut self, bytes: u64) {
        let fraction = (bytes as f64 / self.total.max(1) as f64).min(1.0);
        let filled = (fraction * Self::WIDTH as f64) as usize;
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let mut stderr = io::stderr().lock();
        let _ = write!(
            stderr,
            "\r[{}{}] {:3.0}% {:.1}/{:.1} MiB",
            "#".repeat(filled),
            "-".repeat(Self::WIDTH - filled),
            fraction * 100.0,
            mib(bytes),
            mib(self.total),
        );
        let _ = stderr.flush();
        self.drawn = true;
    }

    fn clear(&self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Runs `work`, redrawing the progress bar (if any) every 200 ms until it is done.
async fn with_progress<F: Future>(
    work: F,
    bar: Option<ProgressBar>,
    progress: &Progress,
) -> F::Output {
    let Some(mut bar) = bar else {
        return work.await;
    };
    let mut work = pin!(work);
    let mut ticks = tokio::time::interval(Duration::from_millis(200));
    // The first tick is immediate; draw only once the work has taken a while.
    ticks.tick().await;
    let output = loop {
        tokio::select! {
            biased;
            output = &mut work => break output,
            _ = ticks.tick() => bar.draw(progress.bytes.load(Ordering::Relaxed)),
        }
    };
    bar.clear();
    output
}
