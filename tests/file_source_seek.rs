//! Replayable file sources: reading again from every position a CSV or JSON-lines source
//! reported yields exactly the records after it, with indices that go on from it; sources over
//! readers that cannot seek stay not replayable; a checkpointed flow over a file resumes at its
//! checkpoint.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use futures::StreamExt;
use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger};
use rheoflow::source::{self, FileSource, Position, Source};
use rheoflow::{Control, Error, ErrorPolicy, Message};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Row {
    id: u32,
    name: String,
}

/// A directory of its own under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("rheoflow-seek-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }

    /// Writes `contents` to the file `name` in the directory and returns its path.
    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write the test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type CsvSource = FileSource<tokio::fs::File, source::Csv<Row>>;
type JsonSource = FileSource<tokio::fs::File, source::JsonLines<Row>>;

async fn csv_source(
    path: &Path,
    policy: ErrorPolicy<rheoflow::error_policy::RawRecord>,
) -> CsvSource {
    source::csv_file::<Row>(path)
        .await
        .expect("open the csv file")
        .on_error(policy)
        .into_flow()
        .into_messages()
}

async fn json_source(
    path: &Path,
    policy: ErrorPolicy<rheoflow::error_policy::RawRecord>,
) -> JsonSource {
    source::json_lines_file::<Row>(path)
        .await
        .expect("open the json-lines file")
        .on_error(policy)
        .into_flow()
        .into_messages()
}

/// Reads `source` to its end: every item with the position reported after it, and the
/// position before the first item first.
async fn items_and_positions<S>(mut source: S) -> (Vec<Row>, Vec<Position>)
where
    S: Source<Item = Message<Row>> + Unpin,
{
    let mut items = Vec::new();
    let mut positions = vec![Source::position(&source).expect("a replayable source")];
    while let Some(message) = source.next().await {
        match message {
            Message::Data(item) => {
                items.push(item);
                positions.push(Source::position(&source).expect("a replayable source"));
            }
            Message::Control(Control::End) => break,
            Message::Control(other) => panic!("unexpected {other:?}"),
        }
    }
    (items, positions)
}

/// The items of `source` after seeking to `position`.
async fn read_from<S>(mut source: S, position: Position) -> Vec<Row>
where
    S: Source<Item = Message<Row>> + Unpin,
{
    Source::seek(Pin::new(&mut source), position).expect("the source seeks");
    let mut items = Vec::new();
    while let Some(message) = source.next().await {
        match message {
            Message::Data(item) => items.push(item),
            Message::Control(Control::End) => break,
            Message::Control(other) => panic!("unexpected {other:?} after seeking to {position:?}"),
        }
    }
    items
}

fn row(id: u32, name: &str) -> Row {
    Row {
        id,
        name: name.to_owned(),
    }
}

/// Quoted delimiters, quotes and line breaks, CRLF, a bad row (skipped) and a last line
/// without its line break.
const CSV: &[u8] = b"id,name\r\n1,plain\n2,\"with, comma\"\r\n3,\"two\nlines\"\nbad,row\n4,\"a \"\"quote\"\"\"\n5,last";

fn csv_rows() -> Vec<Row> {
    vec![
        row(1, "plain"),
        row(2, "with, comma"),
        row(3, "two\nlines"),
        row(4, "a \"quote\""),
        row(5, "last"),
    ]
}

#[tokio::test]
async fn csv_resumes_from_every_position() {
    let dir = TempDir::new("csv");
    let path = dir.file("rows.csv", CSV);
    let (items, positions) =
        items_and_positions(csv_source(&path, ErrorPolicy::skip()).await).await;
    assert_eq!(items, csv_rows());
    // The header and the bad row count as records.
    assert_eq!(positions.last(), Some(&Position::new(CSV.len() as u64, 7)));
    for (done, &position) in positions.iter().enumerate() {
        let rest = read_from(csv_source(&path, ErrorPolicy::skip()).await, position).await;
        assert_eq!(rest, items[done..], "from {position:?}");
    }
}

#[tokio::test]
async fn json_lines_resume_from_every_position() {
    let dir = TempDir::new("jsonl");
    let input = b"{\"id\":1,\"name\":\"a\"}\r\n{\"id\":2,\"name\":\"b\\nc\"}\nnot json\n{\"id\":3,\"name\":\"d\"}";
    let path = dir.file("rows.jsonl", input);
    let (items, positions) =
        items_and_positions(json_source(&path, ErrorPolicy::skip()).await).await;
    assert_eq!(items, [row(1, "a"), row(2, "b\nc"), row(3, "d")]);
    for (done, &position) in positions.iter().enumerate() {
        let rest = read_from(json_source(&path, ErrorPolicy::skip()).await, position).await;
        assert_eq!(rest, items[done..], "from {position:?}");
    }
}

/// Larger than the 64 KiB read buffer, so that seeks land outside what the reader buffered.
#[tokio::test]
async fn large_files_resume_across_read_buffers() {
    let dir = TempDir::new("large");
    let mut csv = b"name,id\n".to_vec();
    let mut jsonl = Vec::new();
    let mut expected = Vec::new();
    for id in 0..10_000u32 {
        let name = format!("row-{}", "x".repeat((id % 37) as usize));
        csv.extend_from_slice(format!("\"{name}\",{id}\n").as_bytes());
        jsonl.extend_from_slice(format!("{{\"id\":{id},\"name\":\"{name}\"}}\n").as_bytes());
        expected.push(row(id, &name));
    }
    assert!(csv.len() > 3 * 64 * 1024);
    let csv_path = dir.file("large.csv", &csv);
    let jsonl_path = dir.file("large.jsonl", &jsonl);

    let (items, positions) =
        items_and_positions(csv_source(&csv_path, ErrorPolicy::fail()).await).await;
    assert_eq!(items, expected);
    for done in (0..positions.len())
        .step_by(251)
        .chain([positions.len() - 1])
    {
        let rest = read_from(
            csv_source(&csv_path, ErrorPolicy::fail()).await,
            positions[done],
        )
        .await;
        assert_eq!(rest, items[done..], "csv from {:?}", positions[done]);
    }

    let (items, positions) =
        items_and_positions(json_source(&jsonl_path, ErrorPolicy::fail()).await).await;
    assert_eq!(items, expected);
    for done in (0..positions.len())
        .step_by(251)
        .chain([positions.len() - 1])
    {
        let rest = read_from(
            json_source(&jsonl_path, ErrorPolicy::fail()).await,
            positions[done],
        )
        .await;
        assert_eq!(rest, items[done..], "json lines from {:?}", positions[done]);
    }
}

#[tokio::test]
async fn record_indices_and_offsets_go_on_from_the_restored_position() {
    let dir = TempDir::new("indices");
    let input = b"id,name\n1,a\n2,b\nbad,row\n";
    let path = dir.file("rows.csv", input);
    let mut source = csv_source(&path, ErrorPolicy::fail()).await;
    Source::seek(Pin::new(&mut source), Position::new(12, 2)).expect("the source seeks");
    assert_eq!(source.next().await, Some(Message::Data(row(2, "b"))));
    assert_eq!(source.position(), Position::new(16, 3));
    let Some(Message::Control(Control::Failed(error))) = source.next().await else {
        panic!("the bad row fails the source");
    };
    let Error::Record(failed) = *error else {
        panic!("a record error, not {error:?}");
    };
    assert_eq!((failed.index(), failed.offset()), (3, Some(16)));
}

#[tokio::test]
async fn a_bad_header_fails_the_restore() {
    let dir = TempDir::new("header");
    let path = dir.file("rows.csv", b"id,\xffname\n1,a\n");
    let mut source = csv_source(&path, ErrorPolicy::skip()).await;
    Source::seek(Pin::new(&mut source), Position::new(13, 2)).expect("the source seeks");
    let next = source.next().await;
    assert!(
        matches!(next, Some(Message::Control(Control::Failed(_)))),
        "{next:?}"
    );
    assert_eq!(source.next().await, None);
}

#[tokio::test]
async fn readers_that_cannot_seek_are_not_replayable() {
    let input: &[u8] = b"id,name\n1,a\n";
    let mut rows = source::csv::<Row, _>(input).into_flow().into_messages();
    assert_eq!(Source::position(&rows), None);
    let error = Source::seek(Pin::new(&mut rows), Position::new(8, 1)).unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");
    // Still readable as before.
    assert_eq!(rows.next().await, Some(Message::Data(row(1, "a"))));
}

#[tokio::test]
async fn cursors_are_replayable_when_asked() {
    let input =
        std::io::Cursor::new(b"{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n".to_vec());
    let mut rows = source::json_lines::<Row, _>(input)
        .replayable()
        .into_flow()
        .into_messages();
    assert_eq!(Source::position(&rows), Some(Position::START));
    Source::seek(Pin::new(&mut rows), Position::new(20, 1)).expect("the source seeks");
    assert_eq!(rows.next().await, Some(Message::Data(row(2, "b"))));
    assert_eq!(Source::position(&rows), Some(Position::new(40, 2)));
}

#[tokio::test]
async fn a_checkpointed_flow_over_a_file_resumes_at_its_checkpoint() -> Result<(), Error> {
    let dir = TempDir::new("checkpointed");
    let path = dir.file("rows.csv", CSV);
    let store = MemoryStore::new();

    // The first run stops after four rows; the last checkpoint was after the third.
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(3)).await?;
    let first: Vec<Row> = source::csv_file::<Row>(&path)
        .await?
        .on_error(ErrorPolicy::skip())
        .into_flow()
        .checkpointed(&checkpoints)
        .into_stream()
        .take(4)
        .collect()
        .await;
    assert_eq!(first, csv_rows()[..4]);
    checkpoints.wait_idle().await;

    let checkpoints = Checkpoints::open(store, Trigger::every_events(3)).await?;
    let second = source::csv_file::<Row>(&path)
        .await?
        .on_error(ErrorPolicy::skip())
        .into_flow()
        .checkpointed(&checkpoints)
        .collect::<Vec<_>>()
        .await?;
    assert_eq!(second, csv_rows()[3..]);
    Ok(())
}
