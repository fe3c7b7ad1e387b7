//! Errors of the store.

use std::path::{Path, PathBuf};

/// What can go wrong opening, reading or appending to the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file system failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The files are damaged in a way that cannot be repaired without losing acknowledged entries.
    #[error("the log is damaged: {0}")]
    Corrupt(String),
    /// A segment is damaged before the last durable checkpoint (or in a segment that is not the
    /// last): those entries were acknowledged, so nothing is cut and the log does not open.
    #[error(
        "the log is damaged in {} at byte {offset}, in {what}: {why}; nothing was cut — run \
         `deedlog verify --data <DATA>` for a full report",
        segment.display()
    )]
    Damaged {
        /// The segment file.
        segment: PathBuf,
        /// The byte offset of the first damaged record in it.
        offset: u64,
        /// The seq of the first entry not read intact (the damage is in that entry, or in the
        /// checkpoint just before it).
        seq: u64,
        /// Which record the damage falls in, in words (`entry 18225` or `the checkpoint of size
        /// 18225`).
        what: String,
        /// Why the damage is not a torn tail.
        why: String,
    },
    /// The embedded database under the index failed (a damaged or locked index folder, or the
    /// file system under it).
    #[error("the index database failed: {0}")]
    Index(#[source] IndexStoreError),
    /// A position past the end of the log, or an empty range.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A stored entry or checkpoint failed to decode.
    #[error("stored entry {seq}: {message}")]
    BadEntry {
        /// Its position.
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// An earlier write failed; the writer refuses further work until the log is reopened.
    #[error("the log writer stopped after an earlier failure; reopen the store")]
    Poisoned,
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

/// An error of the embedded engine under the index, kept opaque so that the engine (fjall
/// today, sled before it) stays an implementation detail: callers match on
/// [`StoreError::Index`] and read the words, and a change of engine changed no public type.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IndexStoreError(fjall::Error);

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        StoreError::Index(IndexStoreError(e))
    }
}

impl StoreError {
    /// Whether this is the file system running out of space (or of the user's quota): the one
    /// storage failure an operator can cure by freeing space, told apart so that callers can
    /// say so.
    #[must_use]
    pub fn is_storage_full(&self) -> bool {
        let full = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        };
        match self {
            Self::Io { source, .. } => full(source),
            // The index's engine fails every later read once one of its own writes found the
            // file system full; that is the same full disk, and is said so.
            Self::Index(IndexStoreError(
                fjall::Error::Io(source) | fjall::Error::Storage(fjall::LsmError::Io(source)),
            )) => full(source),
            _ => false,
        }
    }

    /// An I/O error on `path`.
    #[must_use]
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
