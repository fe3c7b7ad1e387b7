//! Flat files of fixed-size records: the entry offsets (u64 per entry) and the Merkle stored
//! hashes (32 bytes each, in the tlog stored-hash order). Both are derived from the segments, so
//! they are written without `fsync` and checked, cut and re-derived on open.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::StoreError;

/// An append-only file of `N`-byte records.
#[derive(Debug)]
pub struct FlatFile<const N: usize> {
    file: Arc<File>,
    path: PathBuf,
    len: u64,
}

impl<const N: usize> FlatFile<N> {
    /// Opens or creates the file, cutting a partial last record.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let bytes = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        let len = bytes / N as u64;
        if bytes % N as u64 != 0 {
            file.set_len(len * N as u64)
                .map_err(|e| StoreError::io(path, e))?;
        }
        Ok(Self {
            file: Arc::new(file),
            path: path.to_path_buf(),
            len,
        })
    }

    /// Records in the file.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A shared handle for positioned reads from other threads.
    #[must_use]
    pub fn reader(&self) -> FlatReader<N> {
        FlatReader {
            file: Arc::clone(&self.file),
            path: self.path.clone(),
        }
    }

    /// Cuts the file to `len` records (also cutting bytes a failed append left past its end).
    ///
    /// # Errors
    /// I/O errors.
    pub fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        if len <= self.len {
            self.file
                .set_len(len * N as u64)
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.len = len;
        }
        Ok(())
    }

    /// Appends whole records (`bytes.len()` must be a multiple of `N`).
    ///
    /// # Errors
    /// I/O errors.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        debug_assert_eq!(bytes.len() % N, 0);
        self.file
            .write_all_at(bytes, self.len * N as u64)
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.len += (bytes.len() / N) as u64;
        Ok(())
    }

    /// Reads record `index`.
    ///
    /// # Errors
    /// I/O errors, or an index past the end.
    pub fn read(&self, index: u64) -> Result<[u8; N], StoreError> {
        self.reader().read(index)
    }

    /// Flushes the file's data to disk.
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))
    }
}

/// A read-only, cloneable view of a [`FlatFile`].
#[derive(Debug, Clone)]
pub struct FlatReader<const N: usize> {
    file: Arc<File>,
    path: PathBuf,
}

impl<const N: usize> FlatReader<N> {
    /// Reads record `index`.
    ///
    /// # Errors
    /// I/O errors, or an index past the end of the file.
    pub fn read(&self, index: u64) -> Result<[u8; N], StoreError> {
        let mut out = [0u8; N];
        self.file
            .read_exact_at(&mut out, index * N as u64)
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(out)
    }
}

/// Stored Merkle hashes read from the flat file (positioned reads, nothing cached in memory).
impl tlog_tiles::HashReader for FlatReader<32> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.read(i)
                    .map(tlog_tiles::Hash)
                    .map_err(|_| tlog_tiles::Error::InvalidProof)
            })
            .collect()
    }
}
