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
    /// sled failed.
    #[error("index store: {0}")]
    Index(#[from] sled::Error),
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

impl StoreError {
    /// An I/O error on `path`.
    #[must_use]
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
