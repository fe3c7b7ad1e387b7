//! The witness's durable record: for each log, the latest checkpoint it cosigned.
//!
//! Each log's record is one file, `DIR/logs/<hex SHA-256 of the origin>.checkpoint`, holding the
//! checkpoint note exactly as the log signed it (so a person can check what the witness vouched
//! for with the log's key alone). A record is replaced by writing a temporary file, syncing it,
//! renaming it over the old one and syncing the folder: after a crash at any point the file
//! holds either the old checkpoint or the new one, never a mix, and once
//! [`StateStore::put`] returns the new one survives a power loss.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use deedlog_core::Hash;
use deedlog_core::checkpoint::NOTE_BYTES_MAX;
use sha2::{Digest, Sha256};

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A record that does not hold a checkpoint note, or sits under the wrong name.
    #[error("{path}: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the witness holds for one log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogState {
    /// The size of the latest checkpoint cosigned.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The checkpoint note, as the log signed it.
    pub note: Vec<u8>,
}

/// The per-log records in a folder, and their copy in memory.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    logs: HashMap<String, LogState>,
}

fn file_name(origin: &str) -> String {
    format!(
        "{}.checkpoint",
        hex::encode(Sha256::digest(origin.as_bytes()))
    )
}

fn parse_record(path: &Path, bytes: &[u8]) -> Result<(String, LogState), StateError> {
    let damaged = |reason: &str| StateError::Damaged {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    if bytes.len() > NOTE_BYTES_MAX {
        return Err(damaged("larger than any checkpoint note"));
    }
    // The note was verified under the log's key before it was stored; reading it back needs its
    // body only, so a log key removed from the configuration later does not make it unreadable.
    let note = signed_note::Note::from_bytes(bytes).map_err(|_| damaged("not a signed note"))?;
    let body =
        tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|_| damaged("not a checkpoint"))?;
    Ok((
        body.origin().to_owned(),
        LogState {
            size: body.size(),
            root: *body.hash(),
            note: bytes.to_vec(),
        },
    ))
}

impl StateStore {
    /// Opens (creating) the state folder and reads every record; leftover temporary files of an
    /// interrupted write are removed (the record they were to replace is still whole).
    ///
    /// # Errors
    /// [`StateError`], including a damaged record: the witness must not start without its
    /// memory, since starting empty would let it cosign a rolled-back or forked log.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let logs_dir = dir.join("logs");
        fs::create_dir_all(&logs_dir).map_err(io(&logs_dir))?;
        let mut logs = HashMap::new();
        for item in fs::read_dir(&logs_dir).map_err(io(&logs_dir))? {
            let item = item.map_err(io(&logs_dir))?;
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                fs::remove_file(&path).map_err(io(&path))?;
                continue;
            }
            if !name.ends_with(".checkpoint") {
                continue;
            }
            let bytes = fs::read(&path).map_err(io(&path))?;
            let (origin, state) = parse_record(&path, &bytes)?;
            if file_name(&origin) != name {
                return Err(StateError::Damaged {
                    path,
                    reason: format!("holds a checkpoint of {origin:?}, another log"),
                });
            }
            logs.insert(origin, state);
        }
        Ok(Self {
            dir: logs_dir,
            logs,
        })
    }

    /// The record of `origin`.
    #[must_use]
    pub fn get(&self, origin: &str) -> Option<&LogState> {
        self.logs.get(origin)
    }

    /// Replaces the record of `origin`, durably, then in memory.
    ///
    /// # Errors
    /// I/O errors; the old record is then still in place, on disk and in memory.
    pub fn put(&mut self, origin: &str, state: LogState) -> Result<(), StateError> {
        let path = self.dir.join(file_name(origin));
        let tmp = self.dir.join(format!("{}.tmp", file_name(origin)));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.write_all(&state.note).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        self.logs.insert(origin.to_owned(), state);
        Ok(())
    }
}
