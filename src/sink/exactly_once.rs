//! [`ExactlyOnceJsonLines`]: a JSON-lines file that only ever shows the output of complete
//! checkpoints.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::TwoPhaseCommit;
use crate::checkpoint::CheckpointId;
use crate::error::SinkError;
use crate::Error;

/// Opens an exactly-once JSON-lines file sink on `path`; see [`ExactlyOnceJsonLines`].
///
/// # Errors
///
/// [`Error::Io`] when `path` names no file or its directory does not exist.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger};
/// use rheoflow::{sink, Flow};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let path = std::env::temp_dir().join(format!("rheoflow-doc-eo-{}.jsonl", std::process::id()));
/// let checkpoints = Checkpoints::open(MemoryStore::new(), Trigger::every_events(2)).await?;
/// Flow::from_iter(1..=3)
///     .checkpointed(&checkpoints)
///     .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
///     .await?;
/// assert_eq!(tokio::fs::read_to_string(&path).await?, "1\n2\n3\n");
/// # tokio::fs::remove_file(&path).await?;
/// # Ok(())
/// # }
/// ```
pub async fn exactly_once_json_lines(
    path: impl AsRef<Path>,
) -> Result<ExactlyOnceJsonLines, Error> {
    ExactlyOnceJsonLines::open(path).await
}

/// A JSON-lines file that holds the output of complete checkpoints only, exactly once: a
/// [two-phase-commit](TwoPhaseCommit) sink for
/// [`Flow::send_exactly_once`](crate::Flow::send_exactly_once).
///
/// Each item is serialized with `serde_json` as one line, as by
/// [`JsonLines`](super::JsonLines). The file at `path` never holds output of a checkpoint that
/// did not complete:
///
/// - Items of the current transaction go to `{path}.inprogress`, next to the file.
/// - At each checkpoint barrier that file is flushed to disk and renamed to
///   `{path}.pending-{checkpoint}` (pre-commit).
/// - Once the checkpoint is complete, the pending file is appended to `path`, `path` is flushed
///   to disk and the pending file removed (commit).
/// - After a crash, recovery appends again, from where they belong, the transactions of the
///   restored checkpoint whose pending files are still there, cuts `path` back to the end of the
///   restored checkpoint's output (dropping a partial append, or output of later
///   checkpoints), and removes every other pending and in-progress file. The flow then replays
///   what came after the checkpoint.
///
/// A fresh start — a flow with no checkpoint to restore, or none that holds this sink's state
/// — truncates `path`: what it holds is from an unrelated run. The sink needs its directory to
/// itself for files named after `path`.
///
/// # Examples
///
/// See [`exactly_once_json_lines`].
pub struct ExactlyOnceJsonLines {
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
    /// The current transaction's file, created at its first write.
    open: Option<BufWriter<File>>,
    /// Bytes written to the current transaction.
    written: u64,
    /// The length of `path` once every pre-committed transaction is committed.
    end: u64,
    recovered: bool,
    buffer: Vec<u8>,
}

/// A transaction of [`ExactlyOnceJsonLines`], pre-committed for a checkpoint: `len` bytes in
/// its pending file, to append to the committed file at byte `base_len`.
///
/// # Examples
///
/// ```
/// use rheoflow::sink::PendingAppend;
///
/// fn describe(pending: &PendingAppend) -> String {
///     format!("{} bytes at {} for checkpoint {}", pending.len(), pending.base_len(), pending.checkpoint())
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAppend {
    checkpoint: u64,
    base_len: u64,
    len: u64,
}

impl PendingAppend {
    /// The checkpoint the transaction was pre-committed for.
    pub fn checkpoint(&self) -> CheckpointId {
        CheckpointId::new(self.checkpoint)
    }

    /// The length of the committed file before this transaction.
    pub fn base_len(&self) -> u64 {
        self.base_len
    }

    /// The length of the transaction in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the transaction holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl ExactlyOnceJsonLines {
    /// Opens the sink on `path`; nothing is written until the flow recovers it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `path` names no file or its directory does not exist.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let Some(name) = path.file_name().map(OsString::from) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names no file", path.display()),
            )
            .into());
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !fs::metadata(&dir).await?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            )
            .into());
        }
        Ok(ExactlyOnceJsonLines {
            path,
            dir,
            name,
            open: None,
            written: 0,
            end: 0,
            recovered: false,
            buffer: Vec::new(),
        })
    }

    /// The committed file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.name.clone();
        name.push(suffix);
        self.dir.join(name)
    }

    fn in_progress(&self) -> PathBuf {
        self.sibling(".inprogress")
    }

    fn pending(&self, checkpoint: u64) -> PathBuf {
        self.sibling(&format!(".pending-{checkpoint}"))
    }

    /// Removes every pending and in-progress file of this sink.
    async fn remove_leftovers(&self) -> io::Result<()> {
        let mut pending = self.name.clone();
        pending.push(".pending-");
        let in_progress = self.in_progress();
        let mut removed = false;
        let mut entries = fs::read_dir(&self.dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            if name
                .as_encoded_bytes()
                .starts_with(pending.as_encoded_bytes())
                || entry.path() == in_progress
            {
                remove_if_exists(&entry.path()).await?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&self.dir).await?;
        }
        Ok(())
    }

    /// Cuts the committed file to `len` bytes (creating it if missing) and flushes it to disk.
    async fn truncate(&self, len: u64) -> io::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .await?;
        if file.metadata().await?.len() != len {
            file.set_len(len).await?;
        }
        file.sync_all().await
    }

    async fn committed_len(&self) -> io::Result<u64> {
        match fs::metadata(&self.path).await {
            Ok(metadata) => Ok(metadata.len()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(error) => Err(error),
        }
    }

    /// Appends the pending file of `pending` at its base length, unless it was appended
    /// already.
    async fn append(&self, pending: &PendingAppend) -> io::Result<()> {
        let source = self.pending(pending.checkpoint);
        let mut from = match File::open(&source).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // Committed already (or empty): its bytes are in the file.
                let len = self.committed_len().await?;
                if len < pending.base_len + pending.len {
                    return Err(lost(pending, len));
                }
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let mut to = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .await?;
        let len = to.metadata().await?.len();
        if len < pending.base_len {
            return Err(lost(pending, len));
        }
        // Drops a partial append of this transaction, from before a crash.
        to.set_len(pending.base_len).await?;
        to.seek(SeekFrom::Start(pending.base_len)).await?;
        let copied = tokio::io::copy(&mut from, &mut to).await?;
        if copied != pending.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} holds {copied} bytes, not the {} pre-committed",
                    source.display(),
                    pending.len
                ),
            ));
        }
        to.sync_all().await?;
        drop(from);
        fs::remove_file(&source).await?;
        sync_dir(&self.dir).await
    }

    fn check_recovered(&self) -> Result<(), SinkError> {
        if self.recovered {
            Ok(())
        } else {
            Err(io::Error::other("the exactly-once sink was used before it recovered").into())
        }
    }
}

#[async_trait::async_trait]
impl<T> TwoPhaseCommit<T> for ExactlyOnceJsonLines
where
    T: Serialize + Send + 'static,
{
    type Pending = PendingAppend;

    async fn recover(&mut self, committed: Vec<PendingAppend>) -> Result<(), SinkError> {
        let mut end = 0;
        for pending in &committed {
            self.append(pending).await?;
            end = pending.base_len + pending.len;
        }
        self.truncate(end).await?;
        self.remove_leftovers().await?;
        self.open = None;
        self.written = 0;
        self.end = end;
        self.recovered = true;
        Ok(())
    }

    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError> {
        self.check_recovered()?;
        self.buffer.clear();
        let mut failed = None;
        for item in batch.iter() {
            let line_start = self.buffer.len();
            if let Err(error) = serde_json::to_writer(&mut self.buffer, item) {
                self.buffer.truncate(line_start);
                failed = Some(error);
                break;
            }
            self.buffer.push(b'\n');
        }
        if self.open.is_none() {
            let file = File::create(self.in_progress()).await?;
            self.open = Some(BufWriter::new(file));
        }
        if let Some(open) = &mut self.open {
            open.write_all(&self.buffer).await?;
            self.written += self.buffer.len() as u64;
        }
        match failed {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }

    async fn pre_commit(&mut self, checkpoint: CheckpointId) -> Result<PendingAppend, SinkError> {
        self.check_recovered()?;
        if let Some(mut open) = self.open.take() {
            open.flush().await?;
            open.get_mut().sync_all().await?;
            drop(open);
            if self.written > 0 {
                fs::rename(self.in_progress(), self.pending(checkpoint.get())).await?;
            } else {
                fs::remove_file(self.in_progress()).await?;
            }
            sync_dir(&self.dir).await?;
        }
        let pending = PendingAppend {
            checkpoint: checkpoint.get(),
            base_len: self.end,
            len: self.written,
        };
        self.end += self.written;
        self.written = 0;
        Ok(pending)
    }

    async fn commit(&mut self, pending: PendingAppend) -> Result<(), SinkError> {
        self.append(&pending).await?;
        Ok(())
    }

    async fn abort(&mut self, pending: PendingAppend) -> Result<(), SinkError> {
        remove_if_exists(&self.pending(pending.checkpoint)).await?;
        if pending.base_len + pending.len == self.end {
            self.end = pending.base_len;
        }
        Ok(())
    }
}

impl fmt::Debug for ExactlyOnceJsonLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactlyOnceJsonLines")
            .field("path", &self.path)
            .field("end", &self.end)
            .field("written", &self.written)
            .field("recovered", &self.recovered)
            .finish_non_exhaustive()
    }
}

fn lost(pending: &PendingAppend, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the committed file is {len} bytes long, but checkpoint {} committed it up to byte {}",
            pending.checkpoint,
            pending.base_len + pending.len
        ),
    )
}

async fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path).await {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Flushes a directory's entries (a rename, a removal) to disk.
#[cfg(unix)]
async fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).await?.sync_all().await
}

#[cfg(not(unix))]
async fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
