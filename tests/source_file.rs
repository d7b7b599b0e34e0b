//! The CSV and JSON-lines sources: bad records under every error policy, byte offsets and
//! positions, line endings, quoted line breaks, readers of every kind, and a 100 MB record.
//!
//! Memory is measured with `allocation_counter`, which counts the allocations of the measuring
//! thread only: those tests run their flow on a current-thread runtime driven by that thread.

mod support;

use futures::stream::BoxStream;
use futures::StreamExt;
use rheoflow::error::RecordError;
use rheoflow::error_policy::{self, DeadLetter, RawRecord};
use rheoflow::metrics::{DropReason, Metrics};
use rheoflow::source::{self, FieldCountError, Position};
use rheoflow::{Control, Error, ErrorPolicy, Message};
use serde::Deserialize;
use support::{write_long_record, ChunkedReader, TempFile};

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Row {
    id: u32,
    name: String,
}

fn row(id: u32, name: &str) -> Row {
    Row {
        id,
        name: name.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// The source's default metrics name.
    fn operator(self) -> &'static str {
        match self {
            Format::Csv => "csv-0",
            Format::JsonLines => "json_lines-0",
        }
    }
}

/// Why a record failed, as the tests tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    TooLong,
    Empty,
    Decode,
    FieldCount,
}

fn kind(error: &RecordError) -> Bad {
    match error {
        RecordError::TooLong { .. } => Bad::TooLong,
        RecordError::Empty => Bad::Empty,
        RecordError::Decode(err) if err.downcast_ref::<FieldCountError>().is_some() => {
            Bad::FieldCount
        }
        RecordError::Decode(_) => Bad::Decode,
        other => panic!("unexpected record error {other:?}"),
    }
}

/// A bad record as the test expects to see it in a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    index: u64,
    offset: u64,
    raw: Vec<u8>,
    kind: Bad,
}

impl Expected {
    fn of(dead: &DeadLetter<RawRecord>) -> Self {
        Expected {
            index: dead.index(),
            offset: dead.offset().expect("file records have an offset"),
            raw: dead.record().as_bytes().to_vec(),
            kind: kind(dead.error()),
        }
    }
}

/// An input built record by record, with the reference offsets, indexes and outcomes.
#[derive(Debug, Clone)]
struct Case {
    limit: usize,
    input: Vec<u8>,
    /// Each good record's item, index and the offset just after it.
    good: Vec<(Row, u64, u64)>,
    bad: Vec<Expected>,
    records: u64,
    /// The offset of every record's first byte.
    starts: Vec<u64>,
}

impl Case {
    fn new(limit: usize) -> Self {
        Case {
            limit,
            input: Vec::new(),
            good: Vec::new(),
            bad: Vec::new(),
            records: 0,
            starts: Vec::new(),
        }
    }

    /// A record that decodes to nothing: a CSV header.
    fn header(mut self, bytes: &[u8]) -> Self {
        self.starts.push(self.input.len() as u64);
        self.input.extend_from_slice(bytes);
        self.records += 1;
        self
    }

    fn good(mut self, bytes: &[u8], item: Row) -> Self {
        self.starts.push(self.input.len() as u64);
        self.input.extend_from_slice(bytes);
        self.good
            .push((item, self.records, self.input.len() as u64));
        self.records += 1;
        self
    }

    fn bad(mut self, bytes: &[u8], kind: Bad) -> Self {
        self.starts.push(self.input.len() as u64);
        let raw = match kind {
            Bad::TooLong => &bytes[..self.limit.min(1024)],
            _ => bytes,
        };
        self.bad.push(Expected {
            index: self.records,
            offset: self.input.len() as u64,
            raw: raw.to_vec(),
            kind,
        });
        self.input.extend_from_slice(bytes);
        self.records += 1;
        self
    }

    fn rows(&self) -> Vec<Row> {
        self.good.iter().map(|(row, _, _)| row.clone()).collect()
    }
}

const LIMIT: usize = 128;

/// JSON lines with a bad record of every kind between good ones, ending in a truncated line.
fn json_case() -> Case {
    let long = format!("{{\"id\":5,\"name\":\"{}\"}}\n", "x".repeat(300));
    Case::new(LIMIT)
        .good(b"{\"id\":1,\"name\":\"a\"}\n", row(1, "a"))
        .bad(b"{\"id\":2,\"na\n", Bad::Decode)
        .good(b"{\"id\":3,\"name\":\"c\"}\r\n", row(3, "c"))
        .bad(b"{\"id\":4,\"name\":\"\xff\xfe\"}\n", Bad::Decode)
        .bad(b"\n", Bad::Empty)
        .bad(b"{\"id\":\"five\",\"name\":\"e\"}\n", Bad::Decode)
        .bad(b"\r\n", Bad::Empty)
        .bad(long.as_bytes(), Bad::TooLong)
        .good(
            b"{\"id\":6,\"name\":\"multi\\nline\"}\n",
            row(6, "multi\nline"),
        )
        .bad(b"{\"id\":7}\n", Bad::Decode)
        .bad(b"{\"id\":7,\"name\":\"g\"} trailing\n", Bad::Decode)
        .good(b"{\"id\":8,\"name\":\"h\"}\n", row(8, "h"))
        .bad(b"{\"id\":9,\"name\":\"tru", Bad::Decode)
}

/// CSV with a bad record of every kind between good ones, ending in a truncated line.
fn csv_case() -> Case {
    let long = format!("5,\"{}\n{}\"\n", "x".repeat(100), "y".repeat(200));
    Case::new(LIMIT)
        .header(b"id,name\n")
        .good(b"1,a\n", row(1, "a"))
        .bad(b"2\n", Bad::FieldCount)
        .good(b"3,c\r\n", row(3, "c"))
        .bad(b"4,\xff\xfe\n", Bad::Decode)
        .bad(b"\n", Bad::Empty)
        .bad(b"five,e\n", Bad::Decode)
        .bad(b"\r\n", Bad::Empty)
        .bad(long.as_bytes(), Bad::TooLong)
        .good(
            b"6,\"multi\r\nline, \"\"quoted\"\"\"\n",
            row(6, "multi\r\nline, \"quoted\""),
        )
        .bad(b"7,g,extra\n", Bad::FieldCount)
        .good(b"8,h\n", row(8, "h"))
        .bad(b"9", Bad::FieldCount)
}

fn case(format: Format) -> Case {
    match format {
        Format::Csv => csv_case(),
        Format::JsonLines => json_case(),
    }
}

/// Read sizes that put record boundaries everywhere: byte by byte, odd sizes, and all at once.
const CHUNKS: [usize; 4] = [1, 3, 17, 1 << 16];

/// Builds the source for `format` over `reader`; returns its metrics and its messages.
fn open<R>(
    format: Format,
    reader: R,
    limit: usize,
    policy: ErrorPolicy<RawRecord>,
) -> (Metrics, BoxStream<'static, Message<Row>>)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    match format {
        Format::Csv => {
            let flow = source::csv::<Row, _>(reader)
                .max_record_len(limit)
                .expect("a valid limit")
                .on_error(policy)
                .into_flow();
            (flow.metrics(), flow.into_messages().boxed())
        }
        Format::JsonLines => {
            let flow = source::json_lines::<Row, _>(reader)
                .max_record_len(limit)
                .expect("a valid limit")
                .on_error(policy)
                .into_flow();
            (flow.metrics(), flow.into_messages().boxed())
        }
    }
}

/// Splits `messages` into the data items and the control messages.
fn split(messages: Vec<Message<Row>>) -> (Vec<Row>, Vec<Control>) {
    let mut items = Vec::new();
    let mut controls = Vec::new();
    for message in messages {
        match message {
            Message::Data(item) => items.push(item),
            Message::Control(control) => controls.push(control),
        }
    }
    (items, controls)
}

fn dropped(metrics: &Metrics, format: Format, reason: DropReason) -> u64 {
    metrics
        .snapshot()
        .operator(format.operator())
        .expect("the source is registered")
        .dropped(reason)
}

#[tokio::test]
async fn skip_drops_and_counts_exactly_the_bad_records() {
    for format in [Format::Csv, Format::JsonLines] {
        let case = case(format);
        for chunk in CHUNKS {
            let reader = ChunkedReader::new(case.input.clone(), chunk);
            let (metrics, messages) = open(format, reader, case.limit, ErrorPolicy::skip());
            let (items, controls) = split(messages.collect().await);

            assert_eq!(items, case.rows(), "{format:?}, chunk {chunk}");
            assert_eq!(controls, [Control::End], "{format:?}, chunk {chunk}");
            let skipped = dropped(&metrics, format, DropReason::Skipped);
            assert_eq!(skipped, case.bad.len() as u64, "{format:?}, chunk {chunk}");
            let total = metrics.snapshot().operators()[0].total_dropped();
            assert_eq!(total, skipped, "{format:?}, chunk {chunk}");
        }
    }
}

#[tokio::test]
async fn dead_letters_carry_index_offset_raw_bytes_and_cause() {
    for format in [Format::Csv, Format::JsonLines] {
        let case = case(format);
        for chunk in CHUNKS {
            let (dead_letters, dead) = error_policy::channel(2).expect("a valid capacity");
            let reader = ChunkedReader::new(case.input.clone(), chunk);
            let policy = ErrorPolicy::dead_letter(dead_letters);
            let (metrics, messages) = open(format, reader, case.limit, policy);
            let (messages, dead) = tokio::join!(messages.collect::<Vec<_>>(), dead.collect());
            let (items, controls) = split(messages);
            let dead: Vec<DeadLetter<RawRecord>> = dead.expect("the dead-letter flow ends");

            assert_eq!(items, case.rows(), "{format:?}, chunk {chunk}");
            assert_eq!(controls, [Control::End], "{format:?}, chunk {chunk}");
            let dead: Vec<Expected> = dead.iter().map(Expected::of).collect();
            assert_eq!(dead, case.bad, "{format:?}, chunk {chunk}");
            let dead_lettered = dropped(&metrics, format, DropReason::DeadLettered);
            assert_eq!(dead_lettered, case.bad.len() as u64);
        }
    }
}

#[tokio::test]
async fn fail_stops_at_the_first_bad_record_naming_its_index_and_offset() {
    for format in [Format::Csv, Format::JsonLines] {
        let case = case(format);
        let first = &case.bad[0];
        let before: Vec<Row> = case
            .good
            .iter()
            .filter(|(_, index, _)| *index < first.index)
            .map(|(row, _, _)| row.clone())
            .collect();
        for chunk in CHUNKS {
            let reader = ChunkedReader::new(case.input.clone(), chunk);
            let (metrics, messages) = open(format, reader, case.limit, ErrorPolicy::fail());
            let (items, mut controls) = split(messages.collect().await);

            assert_eq!(items, before, "{format:?}, chunk {chunk}");
            assert_eq!(controls.len(), 1, "{format:?}, chunk {chunk}");
            let Some(Control::Failed(error)) = controls.pop() else {
                panic!("{format:?}: expected a failure");
            };
            let Error::Record(failed) = *error else {
                panic!("{format:?}: expected a record error, got {error}");
            };
            assert_eq!(failed.index(), first.index);
            assert_eq!(failed.offset(), Some(first.offset));
            assert_eq!(kind(failed.cause()), first.kind);
            assert_eq!(dropped(&metrics, format, DropReason::Failed), 1);
        }
    }
}

#[tokio::test]
async fn every_kind_of_bad_record_fails_the_default_policy_with_its_cause() {
    for format in [Format::Csv, Format::JsonLines] {
        let full = case(format);
        for bad in &full.bad {
            // The header (for CSV), then the bad record alone.
            let mut input = match format {
                Format::Csv => b"id,name\n".to_vec(),
                Format::JsonLines => Vec::new(),
            };
            input.extend_from_slice(&full.input[bad.offset as usize..][..bad_len(&full, bad)]);
            let flow = match format {
                Format::Csv => source::csv::<Row, _>(&input[..])
                    .max_record_len(LIMIT)
                    .expect("a valid limit")
                    .into_flow()
                    .collect::<Vec<_>>()
                    .await
                    .map(|_| ()),
                Format::JsonLines => source::json_lines::<Row, _>(&input[..])
                    .max_record_len(LIMIT)
                    .expect("a valid limit")
                    .into_flow()
                    .collect::<Vec<_>>()
                    .await
                    .map(|_| ()),
            };
            let Err(Error::Record(failed)) = flow else {
                panic!("{format:?}: {bad:?} did not fail the flow: {flow:?}");
            };
            assert_eq!(kind(failed.cause()), bad.kind, "{format:?}: {bad:?}");
        }
    }
}

/// The length of `bad` in `case`'s input: up to the next record.
fn bad_len(case: &Case, bad: &Expected) -> usize {
    let next = case
        .starts
        .iter()
        .copied()
        .chain([case.input.len() as u64])
        .find(|start| *start > bad.offset)
        .expect("the input ends after the record");
    (next - bad.offset) as usize
}

#[tokio::test]
async fn positions_match_reference_offsets_after_every_record() {
    let mut json = Case::new(LIMIT);
    let mut csv = Case::new(LIMIT).header(b"id,name\r\n");
    for id in 0..40u32 {
        let name = "n".repeat(id as usize % 7);
        let end = if id % 3 == 0 { "\r\n" } else { "\n" };
        let line = format!("{{\"id\":{id},\"name\":\"{name}\"}}{end}");
        json = json.good(line.as_bytes(), row(id, &name));
        let name = if id % 4 == 0 {
            format!("{name}\"\"\n,")
        } else {
            name
        };
        let line = format!("{id},\"{name}\"{end}");
        csv = csv.good(line.as_bytes(), row(id, &name.replace("\"\"", "\"")));
    }
    for (format, case) in [(Format::Csv, csv), (Format::JsonLines, json)] {
        for chunk in CHUNKS {
            let reader = ChunkedReader::new(case.input.clone(), chunk);
            match format {
                Format::Csv => {
                    let source = source::csv::<Row, _>(reader).into_flow().into_messages();
                    check_positions(source, &case).await;
                }
                Format::JsonLines => {
                    let source = source::json_lines::<Row, _>(reader)
                        .into_flow()
                        .into_messages();
                    check_positions(source, &case).await;
                }
            }
        }
    }
}

async fn check_positions<F>(source: source::FileSource<ChunkedReader, F>, case: &Case)
where
    source::FileSource<ChunkedReader, F>: futures::Stream<Item = Message<Row>> + Unpin,
{
    let mut source = source;
    assert_eq!(source.position(), Position::START);
    for (item, index, end) in &case.good {
        assert_eq!(source.next().await, Some(Message::Data(item.clone())));
        assert_eq!(source.position(), Position::new(*end, index + 1));
    }
    assert_eq!(source.next().await, Some(Message::Control(Control::End)));
    assert_eq!(
        source.position(),
        Position::new(case.input.len() as u64, case.records)
    );
    assert_eq!(source.next().await, None);
}

#[tokio::test]
async fn the_length_limit_is_exact_and_excludes_the_line_terminator() {
    // Records of exactly 8 bytes pass, with `\n`, `\r\n` or at the end of input; 9 bytes fail.
    /// An input, the items read from it, and the offset and dead-letter bytes of its bad records.
    type LimitCase<'a> = (&'a [u8], &'a [&'a str], &'a [(u64, &'a [u8])]);
    let inputs: [LimitCase<'_>; 3] = [
        (
            b"\"123456\"\n\"1234567\"\n\"abcdef\"\r\n\"abcdefg\"\r\n\"ABCDEF\"",
            &["123456", "abcdef", "ABCDEF"],
            &[(9, b"\"1234567"), (29, b"\"abcdefg")],
        ),
        (b"\"1234567\"", &[], &[(0, b"\"1234567")]),
        (b"\"123456\"\r\r\n", &[], &[(0, b"\"123456\"")]),
    ];
    for (input, items, bad) in inputs {
        for chunk in 1..=input.len() {
            let (dead_letters, dead) = error_policy::channel(8).expect("a valid capacity");
            let flow = source::json_lines::<String, _>(ChunkedReader::new(input, chunk))
                .max_record_len(8)
                .expect("a valid limit")
                .on_error(ErrorPolicy::dead_letter(dead_letters))
                .into_flow();
            let (out, dead) = tokio::join!(flow.collect::<Vec<_>>(), dead.collect::<Vec<_>>());
            assert_eq!(
                out.expect("dead letters never fail"),
                items,
                "chunk {chunk}"
            );
            let dead: Vec<(u64, Vec<u8>, Bad)> = dead
                .expect("dead letters")
                .iter()
                .map(|d| {
                    let raw = d.record().as_bytes().to_vec();
                    (d.offset().expect("an offset"), raw, kind(d.error()))
                })
                .collect();
            let expected: Vec<(u64, Vec<u8>, Bad)> = bad
                .iter()
                .map(|(offset, raw)| (*offset, raw.to_vec(), Bad::TooLong))
                .collect();
            assert_eq!(dead, expected, "{input:?}, chunk {chunk}");
        }
    }
}

#[tokio::test]
async fn csv_reads_quoted_line_breaks_quotes_and_delimiters() {
    let input = "id;name\r\n1;\"two\r\nlines\"\r\n2;\"semi;colon\"\r\n3;\"say \"\"hi\"\"\"\r\n4;\n";
    let rows = source::csv::<Row, _>(input.as_bytes())
        .delimiter(b';')
        .expect("a valid delimiter")
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("the input is valid");
    assert_eq!(
        rows,
        [
            row(1, "two\r\nlines"),
            row(2, "semi;colon"),
            row(3, "say \"hi\""),
            row(4, ""),
        ]
    );
}

#[tokio::test]
async fn crlf_line_ends_work_in_both_formats() {
    let csv = source::csv::<Row, _>(&b"id,name\r\n1,a\r\n2,b\r\n"[..])
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("valid csv");
    assert_eq!(csv, [row(1, "a"), row(2, "b")]);

    let json = source::json_lines::<Row, _>(&b"{\"id\":1,\"name\":\"a\"}\r\n"[..])
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("valid json lines");
    assert_eq!(json, [row(1, "a")]);
}

#[tokio::test]
async fn reads_in_memory_readers_and_a_last_line_without_newline() {
    let slice: &[u8] = b"1\n2\n3";
    let from_slice = source::json_lines::<u8, _>(slice)
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("valid input");
    assert_eq!(from_slice, [1, 2, 3]);

    let cursor = std::io::Cursor::new(b"id,name\n7,q".to_vec());
    let from_cursor = source::csv::<Row, _>(cursor)
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("valid input");
    assert_eq!(from_cursor, [row(7, "q")]);
}

#[tokio::test]
async fn the_final_newline_makes_no_empty_record_but_a_blank_line_does() {
    for (input, items, skipped) in [
        (&b""[..], vec![], 0),
        (b"\n", vec![], 1),
        (b"1\n", vec![1], 0),
        (b"1\r\n", vec![1], 0),
        (b"1\n\n", vec![1], 1),
        (b"1\n\n2", vec![1, 2], 1),
    ] {
        let flow = source::json_lines::<u8, _>(input)
            .on_error(ErrorPolicy::skip())
            .into_flow();
        let metrics = flow.metrics();
        let out = flow.collect::<Vec<_>>().await.expect("skip never fails");
        assert_eq!(out, items, "{input:?}");
        assert_eq!(metrics.snapshot().dropped(DropReason::Skipped), skipped);
    }
}

#[tokio::test]
async fn empty_csv_input_has_no_rows() {
    let rows = source::csv::<Row, _>(tokio::io::empty())
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("an empty input is valid");
    assert!(rows.is_empty());
}

#[tokio::test]
async fn a_bad_csv_header_fails_the_flow_whatever_the_policy() {
    let long_header = format!("{}\n1,a\n", "h".repeat(LIMIT + 1));
    for (input, cause) in [
        (b"\nid,name\n1,a\n".to_vec(), Bad::Empty),
        (long_header.into_bytes(), Bad::TooLong),
        (b"id,\xffname\n1,a\n".to_vec(), Bad::Decode),
    ] {
        let flow = source::csv::<Row, _>(&input[..])
            .max_record_len(LIMIT)
            .expect("a valid limit")
            .on_error(ErrorPolicy::skip())
            .into_flow();
        let metrics = flow.metrics();
        let Err(Error::Record(failed)) = flow.collect::<Vec<_>>().await else {
            panic!("a bad header must fail the flow");
        };
        assert_eq!((failed.index(), failed.offset()), (0, Some(0)));
        assert_eq!(kind(failed.cause()), cause);
        assert_eq!(metrics.snapshot().dropped(DropReason::Failed), 1);
    }
}

#[tokio::test]
async fn an_io_error_fails_the_flow_after_the_records_before_it() {
    let reader = ChunkedReader::failing(b"1\n2\n3".to_vec(), 2, std::io::ErrorKind::BrokenPipe);
    let messages: Vec<_> = source::json_lines::<u8, _>(reader)
        .into_flow()
        .into_messages()
        .collect()
        .await;
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[..2], [Message::Data(1), Message::Data(2)]);
    let Message::Control(Control::Failed(error)) = &messages[2] else {
        panic!("expected a failure, got {:?}", messages[2]);
    };
    let Error::Io(io) = &**error else {
        panic!("expected an i/o error, got {error}");
    };
    assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn invalid_configuration_is_a_config_error() {
    assert!(source::csv::<Row, _>(&b""[..]).max_record_len(0).is_err());
    assert!(source::json_lines::<Row, _>(&b""[..])
        .max_record_len(0)
        .is_err());
    for delimiter in [b'"', b'\n', b'\r'] {
        assert!(source::csv::<Row, _>(&b""[..])
            .delimiter(delimiter)
            .is_err());
    }
    assert!(source::csv::<Row, _>(&b""[..]).delimiter(b'|').is_ok());
}

#[tokio::test]
async fn files_open_and_read_through_tokio_fs() {
    let file = TempFile::new("rows.csv");
    tokio::fs::write(file.path(), "id,name\n1,a\n2,b\n")
        .await
        .expect("write the test file");
    let rows = source::csv_file::<Row>(file.path())
        .await
        .expect("the file exists")
        .into_flow()
        .collect::<Vec<_>>()
        .await
        .expect("valid csv");
    assert_eq!(rows, [row(1, "a"), row(2, "b")]);

    let missing = source::json_lines_file::<Row>(file.path().with_extension("missing")).await;
    assert_eq!(
        missing.expect_err("no such file").kind(),
        std::io::ErrorKind::NotFound
    );
}

/// A file with a good record, a 100 MB record, and another good record.
struct Huge {
    file: TempFile,
    rows: Vec<Row>,
    bad: Expected,
}

const HUGE: usize = 100 * 1024 * 1024;

fn huge(format: Format) -> Huge {
    let file = TempFile::new("huge");
    // The header, the first record, the start and end of the long one, the last record.
    let parts: [&[u8]; 5] = match format {
        Format::Csv => [b"id,name\n", b"1,a\n", b"2,\"", b"\"\n", b"3,c\n"],
        Format::JsonLines => [
            b"",
            b"{\"id\":1,\"name\":\"a\"}\n",
            b"{\"id\":2,\"name\":\"",
            b"\"}\n",
            b"{\"id\":3,\"name\":\"c\"}\n",
        ],
    };
    let [head, first, long_head, long_tail, last] = parts;
    let index = if head.is_empty() { 1 } else { 2 };
    let before = [head, first, long_head].concat();
    let after = [long_tail, last].concat();
    write_long_record(file.path(), &before, HUGE, &after);
    let mut raw = long_head.to_vec();
    raw.resize(1024, b'x');
    Huge {
        file,
        rows: vec![row(1, "a"), row(3, "c")],
        bad: Expected {
            index,
            offset: (head.len() + first.len()) as u64,
            raw,
            kind: Bad::TooLong,
        },
    }
}

async fn open_huge(
    format: Format,
    huge: &Huge,
    policy: ErrorPolicy<RawRecord>,
) -> (Metrics, BoxStream<'static, Message<Row>>) {
    let file = tokio::fs::File::open(huge.file.path())
        .await
        .expect("the test file exists");
    open(format, file, 8 * 1024 * 1024, policy)
}

#[tokio::test]
async fn a_100_mb_record_is_skipped_under_every_policy() {
    for format in [Format::Csv, Format::JsonLines] {
        let huge = huge(format);

        let (metrics, messages) = open_huge(format, &huge, ErrorPolicy::skip()).await;
        let (items, controls) = split(messages.collect().await);
        assert_eq!(items, huge.rows, "{format:?}");
        assert_eq!(controls, [Control::End]);
        assert_eq!(dropped(&metrics, format, DropReason::Skipped), 1);

        let (dead_letters, dead) = error_policy::channel(1).expect("a valid capacity");
        let policy = ErrorPolicy::dead_letter(dead_letters);
        let (metrics, messages) = open_huge(format, &huge, policy).await;
        let (messages, dead) = tokio::join!(messages.collect::<Vec<_>>(), dead.collect::<Vec<_>>());
        let (items, controls) = split(messages);
        assert_eq!(items, huge.rows, "{format:?}");
        assert_eq!(controls, [Control::End]);
        let dead: Vec<Expected> = dead
            .expect("dead letters")
            .iter()
            .map(Expected::of)
            .collect();
        assert_eq!(dead, std::slice::from_ref(&huge.bad), "{format:?}");
        assert_eq!(dropped(&metrics, format, DropReason::DeadLettered), 1);

        let (metrics, messages) = open_huge(format, &huge, ErrorPolicy::fail()).await;
        let (items, controls) = split(messages.collect().await);
        assert_eq!(items, huge.rows[..1], "{format:?}");
        let [Control::Failed(error)] = &controls[..] else {
            panic!("{format:?}: expected one failure, got {controls:?}");
        };
        let Error::Record(failed) = &**error else {
            panic!("{format:?}: expected a record error, got {error}");
        };
        assert_eq!(failed.index(), huge.bad.index);
        assert_eq!(failed.offset(), Some(huge.bad.offset));
        assert_eq!(kind(failed.cause()), Bad::TooLong);
        assert_eq!(dropped(&metrics, format, DropReason::Failed), 1);
    }
}

const MIB: usize = 1024 * 1024;

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// Reads the huge file with `limit` under the skip policy; returns the ids read.
async fn read_huge_skipping(format: Format, huge: &Huge, limit: usize) -> Vec<u32> {
    let file = tokio::fs::File::open(huge.file.path())
        .await
        .expect("the test file exists");
    let (metrics, messages) = open(format, file, limit, ErrorPolicy::skip());
    let (items, controls) = split(messages.collect().await);
    assert_eq!(controls, [Control::End]);
    assert_eq!(dropped(&metrics, format, DropReason::Skipped), 1);
    items.into_iter().map(|row| row.id).collect()
}

/// The 100 MB record is never buffered whole: the most memory held at once while reading the
/// file follows the record length limit, not the record.
#[test]
fn a_100_mb_record_needs_memory_for_the_limit_only() {
    let rt = current_thread_runtime();
    for format in [Format::Csv, Format::JsonLines] {
        let huge = huge(format);
        // The record buffer grows by doubling up to the limit; while it moves from half the limit
        // to the limit, both are held. Add the 64 KiB read buffer and what tokio needs to read a
        // file: far from the 100 MB of the record.
        for (limit, bound) in [(8 * MIB, 13 * MIB), (64 * 1024, MIB / 2)] {
            let mut ids = Vec::new();
            let info = allocation_counter::measure(|| {
                ids = rt.block_on(read_huge_skipping(format, &huge, limit));
            });
            assert_eq!(ids, [1, 3], "{format:?}");
            assert!(
                info.bytes_max < bound as u64,
                "{format:?}, limit {limit}: {} KiB held at once",
                info.bytes_max / 1024
            );
        }
    }
}

/// Reads `n` good records, all of the same length, from memory; returns the allocations made
/// while the flow ran.
fn allocations_for(rt: &tokio::runtime::Runtime, format: Format, n: u32) -> u64 {
    #[derive(Deserialize)]
    struct Reading {
        id: u32,
        value: f64,
    }
    let mut input = Vec::new();
    if format == Format::Csv {
        input.extend_from_slice(b"id,value\n");
    }
    for i in 0..n {
        let (id, value) = (100_000 + i, i % 10);
        let line = match format {
            Format::Csv => format!("{id},{value}.5\n"),
            Format::JsonLines => format!("{{\"id\":{id},\"value\":{value}.5}}\n"),
        };
        input.extend_from_slice(line.as_bytes());
    }
    let mut sum = 0.0;
    let mut run = |reading: Reading| sum += reading.value + f64::from(reading.id);
    let info = match format {
        Format::Csv => {
            let flow = source::csv::<Reading, _>(&input[..]).into_flow();
            allocation_counter::measure(|| {
                rt.block_on(flow.for_each(&mut run)).expect("valid csv");
            })
        }
        Format::JsonLines => {
            let flow = source::json_lines::<Reading, _>(&input[..]).into_flow();
            allocation_counter::measure(|| {
                rt.block_on(flow.for_each(&mut run))
                    .expect("valid json lines");
            })
        }
    };
    std::hint::black_box(sum);
    info.count_total
}

/// Good records cost no allocation each: as many allocations for 200 000 records as for 20 000
/// (both long enough for several records to span two reads).
#[test]
fn good_records_allocate_nothing_each() {
    let rt = current_thread_runtime();
    for format in [Format::Csv, Format::JsonLines] {
        let few = allocations_for(&rt, format, 20_000);
        let many = allocations_for(&rt, format, 200_000);
        assert_eq!(few, many, "{format:?}");
    }
}

#[test]
fn sources_are_send_sync_and_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<source::FileSource<tokio::fs::File, source::Csv<Row>>>();
    send_sync_unpin::<source::FileSource<&'static [u8], source::JsonLines<Row>>>();
    send_sync_unpin::<source::FileSourceBuilder<tokio::fs::File, source::Csv<Row>>>();
}
