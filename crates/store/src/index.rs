//! The sled index: everything here is derived from the log and can be rebuilt from it.
//!
//! One sled tree, keys prefixed by one byte so that a batch updates them atomically:
//!
//! ```text
//! "m" "hwm"                              -> u64 BE   entries absorbed (the high-water mark)
//! "s" stream 0xff stream_version (u64 BE) -> seq (u64 BE)
//! "n" SHA-256(actor 0xff nonce)[..16]     -> seq (u64 BE), confirmed against the entry on a hit
//! "c" size (u64 BE)                       -> checkpoint note bytes
//! ```
//!
//! Stream, actor and nonce are ASCII without 0xff (the core checks their characters), so the
//! separator is unambiguous. sled's `flush` does not `fsync` on Linux (sled issue #1452); that is
//! acceptable here because nothing in this index is the only copy: on open, whatever sled lost is
//! re-derived from the segments, which are synced.

use std::path::Path;

use deedlog_core::Entry;

use crate::error::StoreError;

const HWM_KEY: &[u8] = b"mhwm";
const SEP: u8 = 0xff;

/// The sled-backed index of the log.
#[derive(Clone, Debug)]
pub struct Index {
    db: sled::Db,
    tree: sled::Tree,
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn read_be(bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("index value is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 10);
    key.push(b's');
    key.extend_from_slice(stream.as_bytes());
    key.push(SEP);
    key
}

/// `"n" || SHA-256(actor || 0xff || nonce)[..16]`: short fixed-size keys keep sled's nodes small
/// (its inserts copy whole nodes). A hit is confirmed against the entry itself by the caller, so
/// a collision could only cost a look-up, never a wrong answer.
fn nonce_key(actor: &str, nonce: &str) -> [u8; 17] {
    let mut input = Vec::with_capacity(actor.len() + nonce.len() + 1);
    input.extend_from_slice(actor.as_bytes());
    input.push(SEP);
    input.extend_from_slice(nonce.as_bytes());
    let digest = deedlog_core::hash::sha256(&input);
    let mut key = [b'n'; 17];
    key[1..].copy_from_slice(&digest[..16]);
    key
}

fn checkpoint_key(size: u64) -> [u8; 9] {
    let mut key = [b'c'; 9];
    key[1..].copy_from_slice(&be(size));
    key
}

/// Index updates for one committed batch, applied atomically.
#[derive(Default)]
pub struct IndexBatch {
    batch: sled::Batch,
}

impl IndexBatch {
    /// Records an entry's stream position and nonce.
    pub fn entry(&mut self, entry: &Entry) {
        let mut key = stream_prefix(&entry.stream);
        key.extend_from_slice(&be(entry.stream_version));
        self.batch.insert(key, &be(entry.seq));
        self.batch.insert(
            &nonce_key(&entry.signed.actor, &entry.signed.nonce)[..],
            &be(entry.seq),
        );
    }

    /// Records a checkpoint.
    pub fn checkpoint(&mut self, size: u64, note: &[u8]) {
        self.batch.insert(&checkpoint_key(size), note);
    }
}

impl Index {
    /// Opens (or creates) the index in `dir` with a bounded page cache.
    ///
    /// # Errors
    /// When sled cannot open the folder.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(1000))
            .open()?;
        let tree = db.open_tree("index")?;
        Ok(Self { db, tree })
    }

    /// Entries absorbed so far.
    ///
    /// # Errors
    /// sled errors.
    pub fn hwm(&self) -> Result<u64, StoreError> {
        self.tree.get(HWM_KEY)?.map_or(Ok(0), |v| read_be(&v))
    }

    /// Applies a batch and moves the high-water mark to `hwm`, atomically.
    ///
    /// # Errors
    /// sled errors.
    pub fn apply(&self, mut batch: IndexBatch, hwm: u64) -> Result<(), StoreError> {
        batch.batch.insert(HWM_KEY, &be(hwm));
        self.tree.apply_batch(batch.batch)?;
        Ok(())
    }

    /// The current version of a stream (0 when it has no entry).
    ///
    /// # Errors
    /// sled errors.
    pub fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        match self.tree.scan_prefix(stream_prefix(stream)).next_back() {
            None => Ok(0),
            Some(kv) => {
                let (k, _) = kv?;
                read_be(&k[k.len() - 8..])
            }
        }
    }

    /// The seqs of a stream's entries with versions `from..`, at most `limit`.
    ///
    /// # Errors
    /// sled errors.
    pub fn stream_seqs(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let prefix = stream_prefix(stream);
        let mut start = prefix.clone();
        start.extend_from_slice(&be(from));
        let mut out = Vec::new();
        for kv in self.tree.range(start..) {
            let (k, v) = kv?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(read_be(&v)?);
        }
        Ok(out)
    }

    /// The seq of the entry made by `actor` with `nonce`, if any.
    ///
    /// # Errors
    /// sled errors.
    pub fn nonce_seq(&self, actor: &str, nonce: &str) -> Result<Option<u64>, StoreError> {
        self.tree
            .get(nonce_key(actor, nonce))?
            .map(|v| read_be(&v))
            .transpose()
    }

    /// The stored checkpoint of exactly `size`, if any.
    ///
    /// # Errors
    /// sled errors.
    pub fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(checkpoint_key(size))?.map(|v| v.to_vec()))
    }

    /// The stored checkpoint with the smallest size ≥ `size`, as `(size, note)`.
    ///
    /// # Errors
    /// sled errors.
    pub fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self
            .tree
            .range(checkpoint_key(size)..checkpoint_key(u64::MAX))
            .next()
        {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some((read_be(&k[1..])?, v.to_vec())))
            }
        }
    }

    /// Every stored checkpoint with size in `from..=to`, in order, as `(size, note)`.
    ///
    /// # Errors
    /// sled errors.
    pub fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        let end = checkpoint_key(to.saturating_add(1));
        for kv in self.tree.range(checkpoint_key(from)..end) {
            let (k, v) = kv?;
            out.push((read_be(&k[1..])?, v.to_vec()));
        }
        Ok(out)
    }

    /// Flushes sled's buffers (see the module note: not an fsync).
    ///
    /// # Errors
    /// sled errors.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}
