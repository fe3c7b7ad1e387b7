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
//!
//! While appending, the index is written behind the acknowledgement: the sequencer's commit
//! hands each batch to the [`Indexer`] thread and moves on, so sled's insert cost (which grows
//! with the index) is off the sequencer's thread. Until the indexer has applied a batch, its
//! contents sit in a bounded in-memory overlay that every read consults first, so a reader never
//! sees less than what was acknowledged. The overlay holds at most [`INDEX_QUEUE`] batches; a
//! commit waits when the indexer is that far behind.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};
use std::thread::JoinHandle;

use deedlog_core::Entry;

use crate::error::StoreError;

const HWM_KEY: &[u8] = b"mhwm";
const SEP: u8 = 0xff;

/// The sled-backed index of the log.
#[derive(Clone, Debug)]
pub struct Index {
    db: sled::Db,
    tree: sled::Tree,
    overlay: Arc<RwLock<Overlay>>,
    dir: std::path::PathBuf,
}

/// The contents of one committed batch, in memory, until the indexer has applied it to sled.
#[derive(Default, Debug)]
struct Pending {
    hwm: u64,
    streams: HashMap<String, Vec<(u64, u64)>>,
    nonces: HashMap<[u8; 17], u64>,
    checkpoints: Vec<(u64, Vec<u8>)>,
}

/// Batches committed but not yet in sled, oldest first.
#[derive(Default, Debug)]
struct Overlay {
    batches: VecDeque<Pending>,
}

/// Most batches the indexer may be behind; a commit then waits for it (back-pressure).
pub const INDEX_QUEUE: usize = 64;

fn read_overlay(overlay: &RwLock<Overlay>) -> std::sync::RwLockReadGuard<'_, Overlay> {
    overlay
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// The name of an `(actor, nonce)` pair in the index and in the sequencer's memory:
/// `SHA-256(actor || 0xff || nonce)[..16]`.
pub type NonceDigest = [u8; 16];

/// The [`NonceDigest`] of `(actor, nonce)`. The verify workers compute it, in parallel, so that
/// the sequencer's thread neither hashes nor clones the two strings to look a command up.
#[must_use]
pub fn nonce_digest(actor: &str, nonce: &str) -> NonceDigest {
    let mut input = Vec::with_capacity(actor.len() + nonce.len() + 1);
    input.extend_from_slice(actor.as_bytes());
    input.push(SEP);
    input.extend_from_slice(nonce.as_bytes());
    let digest = deedlog_core::hash::sha256(&input);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// `"n" || nonce_digest(actor, nonce)`: short fixed-size keys keep sled's nodes small (its
/// inserts copy whole nodes). A hit is confirmed against the entry itself by the caller, so a
/// collision could only cost a look-up, never a wrong answer.
fn nonce_key(digest: &NonceDigest) -> [u8; 17] {
    let mut key = [b'n'; 17];
    key[1..].copy_from_slice(digest);
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
    pending: Pending,
}

impl IndexBatch {
    /// Records an entry's stream position and nonce.
    pub fn entry(&mut self, entry: &Entry) {
        let mut key = stream_prefix(&entry.stream);
        key.extend_from_slice(&be(entry.stream_version));
        self.batch.insert(key, &be(entry.seq));
        let nonce = nonce_key(&nonce_digest(&entry.signed.actor, &entry.signed.nonce));
        self.batch.insert(&nonce[..], &be(entry.seq));
        self.pending
            .streams
            .entry(entry.stream.clone())
            .or_default()
            .push((entry.stream_version, entry.seq));
        self.pending.nonces.insert(nonce, entry.seq);
    }

    /// Records a checkpoint.
    pub fn checkpoint(&mut self, size: u64, note: &[u8]) {
        self.batch.insert(&checkpoint_key(size), note);
        self.pending.checkpoints.push((size, note.to_vec()));
    }
}

enum Job {
    Apply(sled::Batch, u64),
    Barrier(crossbeam_channel::Sender<()>),
}

/// The thread that writes committed batches into sled behind the acknowledgement.
pub struct Indexer {
    overlay: Arc<RwLock<Overlay>>,
    jobs: Option<crossbeam_channel::Sender<Job>>,
    /// Why the indexer stopped, and whether it was a full file system.
    failed: Arc<OnceLock<(String, bool)>>,
    dir: std::path::PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("failed", &self.failed.get())
            .finish_non_exhaustive()
    }
}

impl Indexer {
    /// Starts the indexer of `index`. Nothing may be pending in its overlay.
    ///
    /// # Errors
    /// A thread that cannot be spawned.
    pub fn start(index: &Index) -> Result<Self, StoreError> {
        let (jobs, rx) = crossbeam_channel::bounded::<Job>(INDEX_QUEUE);
        let failed = Arc::new(OnceLock::new());
        let tree = index.tree.clone();
        let overlay = Arc::clone(&index.overlay);
        let (fail, over) = (Arc::clone(&failed), Arc::clone(&overlay));
        let thread = std::thread::Builder::new()
            .name("indexer".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Apply(mut batch, hwm) => {
                            if fail.get().is_some() {
                                continue;
                            }
                            batch.insert(HWM_KEY, &be(hwm));
                            if let Err(error) = tree.apply_batch(batch) {
                                tracing::error!(%error, "the index could not be written");
                                let full = crate::error::StoreError::from(error);
                                let _ = fail.set((full.to_string(), full.is_storage_full()));
                                continue;
                            }
                            // Only once sled has the batch does the overlay let go of it, so
                            // a reader that looks at the overlay first never misses it.
                            over.write()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .batches
                                .pop_front();
                        }
                        Job::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Config(format!("cannot spawn a thread: {e}")))?;
        Ok(Self {
            overlay,
            jobs: Some(jobs),
            failed,
            dir: index.dir.clone(),
            thread: Some(thread),
        })
    }

    /// Hands a committed batch to the indexer, making it visible to readers at once through the
    /// overlay; waits only when the indexer is [`INDEX_QUEUE`] batches behind.
    ///
    /// # Errors
    /// When an earlier batch could not be written (the caller then stops appending; a reopen
    /// re-derives the index from the segments).
    pub fn apply(&self, batch: IndexBatch, hwm: u64) -> Result<(), StoreError> {
        self.check()?;
        let IndexBatch { batch, mut pending } = batch;
        pending.hwm = hwm;
        self.overlay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .batches
            .push_back(pending);
        self.jobs
            .as_ref()
            .and_then(|j| j.send(Job::Apply(batch, hwm)).ok())
            .ok_or_else(|| StoreError::Config("the indexer stopped".into()))
    }

    /// Waits until every batch handed over so far is in sled.
    ///
    /// # Errors
    /// As [`Self::apply`].
    pub fn drain(&self) -> Result<(), StoreError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.jobs
            .as_ref()
            .and_then(|j| j.send(Job::Barrier(tx)).ok())
            .ok_or_else(|| StoreError::Config("the indexer stopped".into()))?;
        rx.recv()
            .map_err(|_| StoreError::Config("the indexer stopped".into()))?;
        self.check()
    }

    fn check(&self) -> Result<(), StoreError> {
        match self.failed.get() {
            // A full disk is told apart, so that the sequencer answers `ledger.storage_full`
            // as it does when the segment write itself finds the disk full.
            Some((why, true)) => Err(StoreError::io(
                &self.dir,
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    format!("the index could not be written ({why}); reopen to re-derive it"),
                ),
            )),
            Some((why, false)) => Err(StoreError::Corrupt(format!(
                "the index could not be written ({why}); reopen to re-derive it"
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the indexer thread panicked");
        }
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
        Ok(Self {
            db,
            tree,
            overlay: Arc::new(RwLock::new(Overlay::default())),
            dir: dir.to_path_buf(),
        })
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
    /// Used on open, while re-deriving, when no indexer runs yet.
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
        // The overlay first, then sled: the indexer removes a batch from the overlay only after
        // sled has it, so this order never misses one.
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .rev()
            .find_map(|b| b.streams.get(stream).and_then(|v| v.last()).map(|x| x.0));
        if let Some(v) = pending {
            return Ok(v);
        }
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
        let mut found: BTreeMap<u64, u64> = BTreeMap::new();
        for b in &read_overlay(&self.overlay).batches {
            if let Some(v) = b.streams.get(stream) {
                found.extend(v.iter().copied().filter(|(version, _)| *version >= from));
            }
        }
        let prefix = stream_prefix(stream);
        let mut start = prefix.clone();
        start.extend_from_slice(&be(from));
        for kv in self.tree.range(start..).take(limit) {
            let (k, v) = kv?;
            if !k.starts_with(&prefix) {
                break;
            }
            found.insert(read_be(&k[k.len() - 8..])?, read_be(&v)?);
        }
        Ok(found.into_values().take(limit).collect())
    }

    /// The seq of the entry made by `actor` with `nonce`, if any.
    ///
    /// # Errors
    /// sled errors.
    pub fn nonce_seq(&self, actor: &str, nonce: &str) -> Result<Option<u64>, StoreError> {
        self.nonce_seq_of(&nonce_digest(actor, nonce))
    }

    /// The seq of the entry whose `(actor, nonce)` has `digest`, if any (unconfirmed: the caller
    /// compares the entry's actor and nonce).
    ///
    /// Every entry of a batch that was published before the call is found: a batch enters the
    /// overlay before its size is published, and leaves it only after sled has it, so reading
    /// the overlay and then sled cannot fall between the two.
    ///
    /// # Errors
    /// sled errors.
    pub fn nonce_seq_of(&self, digest: &NonceDigest) -> Result<Option<u64>, StoreError> {
        let key = nonce_key(digest);
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .find_map(|b| b.nonces.get(&key).copied());
        if pending.is_some() {
            return Ok(pending);
        }
        self.tree.get(key)?.map(|v| read_be(&v)).transpose()
    }

    /// The stored checkpoint of exactly `size`, if any.
    ///
    /// # Errors
    /// sled errors.
    pub fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let pending = read_overlay(&self.overlay).batches.iter().find_map(|b| {
            b.checkpoints
                .iter()
                .find(|(s, _)| *s == size)
                .map(|(_, n)| n.clone())
        });
        if pending.is_some() {
            return Ok(pending);
        }
        Ok(self.tree.get(checkpoint_key(size))?.map(|v| v.to_vec()))
    }

    /// The stored checkpoint with the smallest size ≥ `size`, as `(size, note)`.
    ///
    /// # Errors
    /// sled errors.
    pub fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        // Overlay checkpoints are newer than any in sled, so sled's answer wins when it has one.
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .flat_map(|b| b.checkpoints.iter())
            .find(|(s, _)| *s >= size)
            .cloned();
        match self
            .tree
            .range(checkpoint_key(size)..checkpoint_key(u64::MAX))
            .next()
        {
            None => Ok(pending),
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
        let mut out: BTreeMap<u64, Vec<u8>> = read_overlay(&self.overlay)
            .batches
            .iter()
            .flat_map(|b| b.checkpoints.iter())
            .filter(|(s, _)| (from..=to).contains(s))
            .cloned()
            .collect();
        let end = checkpoint_key(to.saturating_add(1));
        for kv in self.tree.range(checkpoint_key(from)..end) {
            let (k, v) = kv?;
            out.insert(read_be(&k[1..])?, v.to_vec());
        }
        Ok(out.into_iter().collect())
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
