use std::fmt;
use std::path::Path;

use tokio::fs::File;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use super::Sink;
use crate::error::SinkError;
use crate::Error;

/// A sink that writes every item as one line of JSON (JSON Lines) to an async writer.
///
/// Use it for files, sockets, pipes or standard output ([`stdout`]): each item is serialized
/// with `serde_json` and followed by `\n`. A batch is serialized into one buffer that the sink
/// reuses from batch to batch, so writing allocates nothing per item once the buffer has grown
/// to the size of a batch; the bytes then go through a [`BufWriter`].
///
/// # Errors
///
/// [`Sink::write`] returns a [`SinkError`] if an item fails to serialize (the lines of the items
/// before it are written first, never a partial line) or if the writer fails. `flush` and
/// `close` return the writer's error.
///
/// # Cancel safety
///
/// Dropping a pending `write`, `flush` or `close` may leave a partial batch, or a partial line,
/// in the writer.
///
/// # Examples
///
/// ```
/// use rheoflow::{sink::JsonLines, Flow};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let sink = Flow::from_iter([(1, "a"), (2, "b")]).send_to(JsonLines::new(Vec::new())).await?;
/// assert_eq!(sink.into_inner(), b"[1,\"a\"]\n[2,\"b\"]\n");
/// # Ok(())
/// # }
/// ```
pub struct JsonLines<W> {
    writer: BufWriter<W>,
    buffer: Vec<u8>,
}

impl<W: AsyncWrite> JsonLines<W> {
    /// Creates a sink that writes JSON lines to `writer`, through a buffer of the default size.
    pub fn new(writer: W) -> Self {
        JsonLines {
            writer: BufWriter::new(writer),
            buffer: Vec::new(),
        }
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        self.writer.get_ref()
    }

    /// Returns the underlying writer.
    ///
    /// Bytes still in the write buffer are lost: take the writer back after the sink was flushed
    /// or closed, as [`Flow::send_to`](crate::Flow::send_to) does at the end of input.
    pub fn into_inner(self) -> W {
        self.writer.into_inner()
    }
}

impl JsonLines<File> {
    /// Creates (or truncates) the file at `path` and returns a sink that writes JSON lines to it.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Io`] if the file cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{sink::JsonLines, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let path = std::env::temp_dir().join(format!("rheoflow-doc-{}.jsonl", std::process::id()));
    /// Flow::from_iter([1, 2, 3]).send_to(JsonLines::create(&path).await?).await?;
    /// assert_eq!(tokio::fs::read_to_string(&path).await?, "1\n2\n3\n");
    /// tokio::fs::remove_file(&path).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(JsonLines::new(File::create(path).await?))
    }
}

/// Creates a sink that writes every item as a line of JSON to the process's standard output.
///
/// # Examples
///
/// ```
/// use rheoflow::{sink, Flow};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// Flow::from_iter(["hello", "world"]).send_to(sink::stdout()).await?;
/// # Ok(())
/// # }
/// ```
pub fn stdout() -> JsonLines<tokio::io::Stdout> {
    JsonLines::new(tokio::io::stdout())
}

impl<W: AsyncWrite + fmt::Debug> fmt::Debug for JsonLines<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLines")
            .field("writer", self.writer.get_ref())
            .field("buffered", &self.writer.buffer().len())
            .finish()
    }
}

#[async_trait::async_trait]
impl<T, W> Sink<T> for JsonLines<W>
where
    T: serde::Serialize + Send + 'static,
    W: AsyncWrite + Unpin + Send,
{
    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError> {
        self.buffer.clear();
        let mut failed = None;
        for item in batch.iter() {
            let line_start = self.buffer.len();
            if let Err(err) = serde_json::to_writer(&mut self.buffer, item) {
                self.buffer.truncate(line_start);
                failed = Some(err);
                break;
            }
            self.buffer.push(b'\n');
        }
        self.writer.write_all(&self.buffer).await?;
        match failed {
            Some(err) => Err(err.into()),
            None => Ok(()),
        }
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.writer.flush().await?;
        Ok(())
    }

    /// Flushes the buffer and shuts the writer down.
    async fn close(&mut self) -> Result<(), SinkError> {
        self.writer.shutdown().await?;
        Ok(())
    }
}
