//! Helpers shared by the integration tests: building message streams and reading them back.

// Each test file uses a different subset of the helpers.
#![allow(dead_code)]

pub(crate) mod fanout;

use futures::StreamExt;
use rheoflow::{Barrier, Control, Error, Flow, Message, Timestamp};

/// A flow over a fixed list of messages.
pub(crate) type MessageFlow<T> = Flow<futures::stream::Iter<std::vec::IntoIter<Message<T>>>>;

/// A data message.
pub(crate) fn data<T>(item: T) -> Message<T> {
    Message::Data(item)
}

/// A watermark at `millis`.
pub(crate) fn watermark<T>(millis: i64) -> Message<T> {
    Message::Control(Control::Watermark(Timestamp::from_millis(millis)))
}

/// The barrier of checkpoint `id`.
pub(crate) fn barrier<T>(id: u64) -> Message<T> {
    Message::Control(Control::Barrier(Barrier::new(
        id,
        Timestamp::from_millis(0),
    )))
}

/// The end of input.
pub(crate) fn end<T>() -> Message<T> {
    Message::Control(Control::End)
}

/// A failure carrying `error`.
pub(crate) fn failed<T>(error: Error) -> Message<T> {
    Message::Control(Control::Failed(Box::new(error)))
}

/// A flow over `messages`, in order.
pub(crate) fn messages<T>(messages: Vec<Message<T>>) -> MessageFlow<T> {
    Flow::from_messages(futures::stream::iter(messages))
}

/// Runs `flow` to its end and returns every message it emitted, control messages included.
pub(crate) async fn output<S, T>(flow: Flow<S>) -> Vec<Message<T>>
where
    S: futures::Stream<Item = Message<T>>,
{
    flow.into_messages().collect().await
}

/// The control messages of `messages`, in order.
pub(crate) fn controls<T>(messages: &[Message<T>]) -> Vec<Control> {
    messages
        .iter()
        .filter_map(|message| match message {
            Message::Control(control) => Some(control.clone()),
            Message::Data(_) => None,
        })
        .collect()
}

/// A flow of `schedule`'s messages, each emitted at `start` plus its offset in milliseconds
/// (offsets in increasing order). Meant for paused time: a test reads exact instants.
pub(crate) fn scheduled<T>(
    start: tokio::time::Instant,
    schedule: Vec<(u64, Message<T>)>,
) -> Flow<impl futures::Stream<Item = Message<T>>> {
    Flow::from_messages(
        futures::stream::iter(schedule).then(move |(at, message)| async move {
            tokio::time::sleep_until(start + std::time::Duration::from_millis(at)).await;
            message
        }),
    )
}

/// Runs `flow` to its end and returns every message it emitted with the time it came out, in
/// milliseconds since `start`.
pub(crate) async fn timed_output<S, T>(
    start: tokio::time::Instant,
    flow: Flow<S>,
) -> Vec<(u64, Message<T>)>
where
    S: futures::Stream<Item = Message<T>>,
{
    flow.into_messages()
        .map(|message| (start.elapsed().as_millis() as u64, message))
        .collect()
        .await
}

/// An in-memory reader that hands out at most `chunk` bytes per read, then fails with `error`
/// (if any) instead of reaching the end: to test records that span reads, and I/O errors.
pub(crate) struct ChunkedReader {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
    error: Option<std::io::ErrorKind>,
}

impl ChunkedReader {
    /// Reads `data` in pieces of at most `chunk` bytes, then ends.
    pub(crate) fn new(data: impl Into<Vec<u8>>, chunk: usize) -> Self {
        ChunkedReader {
            data: data.into(),
            at: 0,
            chunk: chunk.max(1),
            error: None,
        }
    }

    /// Reads `data` in pieces of at most `chunk` bytes, then fails with an error of `kind`.
    pub(crate) fn failing(
        data: impl Into<Vec<u8>>,
        chunk: usize,
        kind: std::io::ErrorKind,
    ) -> Self {
        ChunkedReader {
            error: Some(kind),
            ..ChunkedReader::new(data, chunk)
        }
    }
}

impl tokio::io::AsyncRead for ChunkedReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let rest = &this.data[this.at..];
        if rest.is_empty() {
            if let Some(kind) = this.error {
                return std::task::Poll::Ready(Err(std::io::Error::new(kind, "reader failed")));
            }
        }
        let n = rest.len().min(this.chunk).min(buf.remaining());
        buf.put_slice(&rest[..n]);
        this.at += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// The path of the `aggregate` example's binary, built on first use (in release when the tests
/// are).
pub(crate) fn aggregate_binary() -> &'static std::path::Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let mut cargo = std::process::Command::new(env!("CARGO"));
        cargo
            .args(["build", "--example", "aggregate", "--message-format=json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let built = cargo.output().expect("run cargo");
        assert!(
            built.status.success(),
            "building the example failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        String::from_utf8_lossy(&built.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == "aggregate")
            .find_map(|message| message["executable"].as_str().map(std::path::PathBuf::from))
            .expect("cargo names the example's executable")
    })
}

/// A file under the system's temporary directory, removed when dropped.
pub(crate) struct TempFile {
    path: std::path::PathBuf,
}

impl TempFile {
    /// A new, unique path named after `name`; the file is not created.
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = format!("rheoflow-test-{}-{n}-{name}", std::process::id());
        TempFile {
            path: std::env::temp_dir().join(file),
        }
    }

    /// The path of the file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A directory of its own under the system's temporary directory, created empty and removed
/// with everything in it when dropped.
pub(crate) struct TempDir {
    path: std::path::PathBuf,
}

impl TempDir {
    /// A new, empty directory named after `name`.
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = format!("rheoflow-test-{}-{n}-{name}", std::process::id());
        let path = std::env::temp_dir().join(dir);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test directory");
        TempDir { path }
    }

    /// The path of the directory.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The path of `name` in the directory.
    pub(crate) fn join(&self, name: &str) -> std::path::PathBuf {
        self.path.join(name)
    }

    /// The names of the files in the directory, sorted.
    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .expect("read the test directory")
            .map(|entry| entry.expect("a directory entry").file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Writes `head`, then `len` bytes of `x`, then `tail` to `path`, without holding the `x`s in
/// memory at once.
pub(crate) fn write_long_record(path: &std::path::Path, head: &[u8], len: usize, tail: &[u8]) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("create the test file");
    let mut out = std::io::BufWriter::new(file);
    out.write_all(head).expect("write the test file");
    let block = vec![b'x'; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        out.write_all(&block[..n]).expect("write the test file");
        left -= n;
    }
    out.write_all(tail).expect("write the test file");
    out.flush().expect("write the test file");
}
