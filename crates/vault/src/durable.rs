//! Making writes durable: fsync of sled's files and of the vault's own files.
//!
//! sled 0.34's `Db::flush()` writes its buffers to the files and then, on Linux, calls
//! `sync_file_range` rather than `fsync` (sled issue #1452). `sync_file_range` starts write-back
//! of the data pages but neither waits for the file's metadata (its size, the extents of newly
//! allocated blocks) nor flushes the drive's write cache, so a power cut after `flush()` returned
//! can still lose the write. For the derived state the rest of deedlog keeps in sled that is
//! acceptable (it is rebuilt from the log), but the vault's data cannot be re-derived from
//! anything. So every vault write is `flush()`, then [`sync_tree`] of sled's folder: open every
//! file under it and `fsync` it (`File::sync_all`), then `fsync` each folder so that files sled
//! created or renamed (snapshots, blobs) are durably linked.
//!
//! `fsync` through a read-only descriptor is enough on Linux: it flushes the inode, not the
//! descriptor.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use crate::VaultError;

/// `fsync`s every file under `dir` (recursively), then `dir` and its sub-folders themselves.
///
/// A file that disappears while we walk (sled replaces `snap.*` files and removes blobs) is
/// skipped: its replacement is what matters, and it is synced when we reach it or by the next
/// call.
///
/// # Errors
/// [`VaultError::Io`] when a file or folder cannot be read or synced.
pub fn sync_tree(dir: &Path) -> Result<(), VaultError> {
    let entries = std::fs::read_dir(dir).map_err(VaultError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(VaultError::io(dir))?;
        let path = entry.path();
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(VaultError::io(&path)(e)),
        };
        if file_type.is_dir() {
            sync_tree(&path)?;
        } else if file_type.is_file() {
            match File::open(&path) {
                Ok(file) => file.sync_all().map_err(VaultError::io(&path))?,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(VaultError::io(&path)(e)),
            }
        }
    }
    sync_dir(dir)
}

/// `fsync`s a folder, so that the names created, renamed or removed in it are durable.
///
/// # Errors
/// [`VaultError::Io`] when the folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(VaultError::io(dir))
}
