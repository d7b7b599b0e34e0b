//! [`DirectoryStore`]: one checksummed file per checkpoint in a local directory.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{
    check_keep_last, format, Checkpoint, CheckpointError, CheckpointId, CheckpointStore,
    DEFAULT_KEEP_LAST,
};

/// The prefix of a checkpoint file name.
const PREFIX: &str = "chk-";
/// The extension of a checkpoint file name.
const SUFFIX: &str = ".rfc";
/// The extension added to a checkpoint file while it is written.
const TEMP_SUFFIX: &str = ".tmp";
/// The number of digits of the id in a file name.
const ID_DIGITS: usize = 20;

/// A checkpoint store that keeps the last K checkpoints as files in a local directory: the
/// embedded default.
///
/// Checkpoint `n` lives in `chk-{n:020}.rfc`. Saving writes a temporary file in the same
/// directory, flushes it to disk (`fsync`), renames it into place and flushes the directory, so
/// a crash at any point leaves either the whole new checkpoint or none of it; temporary files
/// left by a crash are ignored. Older checkpoints beyond the last K are deleted only once the
/// new one is durable.
///
/// Each file holds the magic bytes `RHEOCHK\0`, the format version, the payload length, the
/// payload and a CRC-32 of everything before it. Reading validates all of them: a damaged file
/// is a [`CheckpointError::Corrupt`], an intact file of a newer format a
/// [`CheckpointError::UnsupportedVersion`].
///
/// One process should own a directory at a time.
///
/// # Examples
///
/// ```
/// use rheoflow::checkpoint::{Checkpoint, CheckpointId, CheckpointStore, DirectoryStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let dir = std::env::temp_dir().join(format!("rheoflow-doc-dir-{}", std::process::id()));
/// let mut store = DirectoryStore::open(&dir).await?.keep_last(2);
///
/// let mut checkpoint = Checkpoint::new(CheckpointId::new(1));
/// checkpoint.insert("counter", 41u64.to_le_bytes().to_vec());
/// store.save(&checkpoint).await?;
///
/// // After a restart: open the same directory and restore.
/// let store = DirectoryStore::open(&dir).await?;
/// let restored = store.latest().await?.expect("one checkpoint was saved");
/// assert_eq!(restored, checkpoint);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
    keep_last: usize,
}

impl DirectoryStore {
    /// Opens the store in directory `dir`, creating the directory if needed; keeps the last
    /// [`DEFAULT_KEEP_LAST`] checkpoints.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] when the directory cannot be created.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let dir = dir.as_ref().to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|err| CheckpointError::io(&dir, err))?;
        Ok(DirectoryStore {
            dir,
            keep_last: DEFAULT_KEEP_LAST,
        })
    }

    /// Keeps the last `keep_last` checkpoints (by id) instead of [`DEFAULT_KEEP_LAST`].
    ///
    /// # Panics
    ///
    /// Panics if `keep_last` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::checkpoint::DirectoryStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let dir = std::env::temp_dir().join(format!("rheoflow-doc-keep-{}", std::process::id()));
    /// let store = DirectoryStore::open(&dir).await?.keep_last(5);
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    #[track_caller]
    pub fn keep_last(mut self, keep_last: usize) -> Self {
        self.keep_last = check_keep_last(keep_last);
        self
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the file of checkpoint `id`, whether or not it exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::checkpoint::{CheckpointId, DirectoryStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let dir = std::env::temp_dir().join(format!("rheoflow-doc-path-{}", std::process::id()));
    /// let store = DirectoryStore::open(&dir).await?;
    /// let path = store.path_of(CheckpointId::new(7));
    /// assert!(path.ends_with("chk-00000000000000000007.rfc"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn path_of(&self, id: CheckpointId) -> PathBuf {
        self.dir.join(file_name(id))
    }

    /// Reads and validates checkpoint `id`.
    ///
    /// Unlike [`latest`](CheckpointStore::latest), never falls back to another checkpoint.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Corrupt`] when the file fails validation (truncated, damaged, or not
    /// a checkpoint), [`CheckpointError::UnsupportedVersion`] when it was written in a newer
    /// format, and [`CheckpointError::Io`] when it cannot be read (or does not exist).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::checkpoint::{Checkpoint, CheckpointError, CheckpointId, CheckpointStore, DirectoryStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let dir = std::env::temp_dir().join(format!("rheoflow-doc-load-{}", std::process::id()));
    /// let mut store = DirectoryStore::open(&dir).await?;
    /// store.save(&Checkpoint::new(CheckpointId::new(1))).await?;
    ///
    /// // Cut the file short: the store reports it, and restores nothing of it.
    /// let path = store.path_of(CheckpointId::new(1));
    /// let bytes = std::fs::read(&path)?;
    /// std::fs::write(&path, &bytes[..bytes.len() - 1])?;
    /// let result = store.load(CheckpointId::new(1)).await;
    /// assert!(matches!(result, Err(CheckpointError::Corrupt { .. })));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn load(&self, id: CheckpointId) -> Result<Checkpoint, CheckpointError> {
        let path = self.path_of(id);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|err| CheckpointError::io(&path, err))?;
        format::decode(id, &bytes)
    }

    /// Deletes the checkpoints beyond the last `keep_last`; failures are logged, not returned,
    /// since the new checkpoint is already durable.
    async fn prune(&self) {
        let ids = match self.list().await {
            Ok(ids) => ids,
            Err(err) => {
                tracing::warn!(error = %err, "could not list checkpoints to delete old ones");
                return;
            }
        };
        let excess = ids.len().saturating_sub(self.keep_last);
        for id in &ids[..excess] {
            let path = self.path_of(*id);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => tracing::warn!(
                    checkpoint = id.get(),
                    path = %path.display(),
                    error = %err,
                    "could not delete an old checkpoint"
                ),
            }
        }
    }
}

#[async_trait::async_trait]
impl CheckpointStore for DirectoryStore {
    async fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let bytes = format::encode(checkpoint);
        let dir = self.dir.clone();
        let id = checkpoint.id();
        tokio::task::spawn_blocking(move || write_durably(&dir, id, &bytes))
            .await
            .map_err(|err| CheckpointError::io(&self.dir, io::Error::other(err)))??;
        self.prune().await;
        Ok(())
    }

    async fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let mut newest_error = None;
        for id in self.list().await?.into_iter().rev() {
            match self.load(id).await {
                Ok(checkpoint) => return Ok(Some(checkpoint)),
                Err(err @ CheckpointError::Corrupt { .. }) => {
                    tracing::warn!(
                        checkpoint = id.get(),
                        error = %err,
                        "skipping a corrupt checkpoint; falling back to the previous one"
                    );
                    newest_error.get_or_insert(err);
                }
                // Deleted since it was listed: a concurrent prune.
                Err(CheckpointError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        match newest_error {
            Some(err) => Err(err),
            None => Ok(None),
        }
    }

    async fn list(&self) -> Result<Vec<CheckpointId>, CheckpointError> {
        let io_err = |err| CheckpointError::io(&self.dir, err);
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(io_err)?;
        let mut ids = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io_err)? {
            if let Some(id) = entry.file_name().to_str().and_then(parse_file_name) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// The directory's canonical path.
    fn identity(&self) -> Option<String> {
        let dir = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        Some(format!("directory:{}", dir.display()))
    }
}

/// The file name of checkpoint `id`.
fn file_name(id: CheckpointId) -> String {
    format!("{PREFIX}{:0width$}{SUFFIX}", id.get(), width = ID_DIGITS)
}

/// The id of a checkpoint file name; `None` for any other file (temporary files included).
fn parse_file_name(name: &str) -> Option<CheckpointId> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(CheckpointId::new)
}

/// Writes `bytes` as checkpoint `id`: temporary file, fsync, rename, fsync of the directory.
fn write_durably(dir: &Path, id: CheckpointId, bytes: &[u8]) -> Result<(), CheckpointError> {
    let path = dir.join(file_name(id));
    let temp = dir.join(format!("{}{TEMP_SUFFIX}", file_name(id)));
    let written = File::create(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|err| CheckpointError::io(&temp, err));
    if let Err(err) = written {
        // Best effort: a leftover temporary file is ignored anyway.
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    if let Err(err) = std::fs::rename(&temp, &path) {
        let _ = std::fs::remove_file(&temp);
        return Err(CheckpointError::io(&path, err));
    }
    sync_dir(dir).map_err(|err| CheckpointError::io(dir, err))
}

/// Flushes the directory entry of a rename to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened as files here; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_skip_others() {
        let id = CheckpointId::new(u64::MAX);
        assert_eq!(parse_file_name(&file_name(id)), Some(id));
        assert_eq!(
            parse_file_name("chk-00000000000000000007.rfc"),
            Some(CheckpointId::new(7))
        );
        assert_eq!(parse_file_name("chk-00000000000000000007.rfc.tmp"), None);
        assert_eq!(parse_file_name("chk-7.rfc"), None);
        assert_eq!(parse_file_name("chk-0000000000000000000+.rfc"), None);
        assert_eq!(parse_file_name("chk-99999999999999999999.rfc"), None);
    }
}
