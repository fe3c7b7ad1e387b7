//! The log's index: everything here is derived from the log and can be rebuilt from it.
//!
//! An LSM tree (fjall) in `DATA/index/`, with three keyspaces:
//!
//! ```text
//! meta     "hwm"                                  -> u64 BE   entries absorbed (the high-water mark)
//! meta     "c" size (u64 BE)                      -> checkpoint note bytes
//! streams  stream 0xff stream_version (u64 BE)    -> seq (u64 BE)
//! nonces   SHA-256(actor 0xff nonce)[..16]        -> seq (u64 BE), confirmed against the entry on a hit
//! ```
//!
//! Why an LSM tree and not sled, which the index used before: these keys are written once and
//! never changed, the nonce keys are uniformly random, and most nonce look-ups miss. sled's
//! inserts copied whole B-tree nodes (their cost grew with the index), its page table stayed in
//! memory (RSS grew by about 50 MB per 10^6 entries) and its recovery after a kill took 15 s at
//! 7.6 × 10^6 entries. The measurements are in PERFORMANCE.md. sled stays where the state is
//! small and mutable (the views, the vault, the messages).
//!
//! The stream and nonce keys do not go through the engine's journal: the overlay (below) is
//! their memtable, and every [`CHUNK_ENTRIES`] entries (or [`CHUNK_BATCHES`] batches) the
//! indexer sorts the overlay's oldest batches and hands them to the engine as one new table per
//! keyspace (its ingestion: the table and the manifest naming it are synced), then writes the
//! chunk's checkpoints and the high-water mark through the journal. A crash leaves the mark at
//! or below what the tables hold, and the open re-derives what lies above it from the segments,
//! at most about one chunk: so an open replays no large journal, and the memory the index
//! holds is the overlay, the pinned Bloom filters and block indexes, and the block cache. A
//! Bloom filter answers a nonce look-up that misses, the usual case, without reading a block.
//!
//! Stream, actor and nonce are ASCII without 0xff (the core checks their characters), so the
//! separator is unambiguous. The journal (checkpoints and the mark) is handed to the operating
//! system after every write but not synced: nothing in this index is the only copy. It is
//! checksummed per batch and a torn last batch is dropped on recovery.
//!
//! While appending, the index is written behind the acknowledgement: the sequencer's commit
//! hands each batch to the [`Indexer`] thread and moves on. Until a batch is in the tree, its
//! contents sit in the bounded in-memory overlay that every read consults first, so a reader
//! never sees less than what was acknowledged. A commit waits when the indexer has
//! [`INDEX_QUEUE`] batches it has not yet looked at.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use deedlog_core::Entry;

use crate::error::StoreError;

const HWM_KEY: &[u8] = b"hwm";
const SEP: u8 = 0xff;

/// The largest memtable of one keyspace before it is written out as a table, bytes (only the
/// meta keyspace, checkpoints and the mark, has one in use: the others are ingested).
const MEMTABLE_BYTES: u64 = 8 << 20;
/// The size of the tables a compaction writes. A table's Bloom filter is built in memory from
/// a hash of every key it holds, so the engine's default of 64 MiB held about 17 MB while a
/// large compaction ran; 16 MiB tables hold a quarter of that (PERFORMANCE.md, the 10^7 ingest).
const TABLE_BYTES: u64 = 16 << 20;

/// How long an open waits for the folder's lock, which the engine's background threads of a
/// just-dropped index may still hold for a moment.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The index of the log.
#[derive(Clone)]
pub struct Index {
    db: fjall::Database,
    meta: fjall::Keyspace,
    streams: fjall::Keyspace,
    nonces: fjall::Keyspace,
    overlay: Arc<RwLock<Overlay>>,
    dir: std::path::PathBuf,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The contents of one committed batch, in memory, until the indexer has applied it to sled.
#[derive(Default, Debug)]
struct Pending {
    hwm: u64,
    streams: HashMap<String, Vec<(u64, u64)>>,
    nonces: HashMap<NonceDigest, u64>,
    checkpoints: Vec<(u64, Vec<u8>)>,
}

/// Batches committed but not yet in sled, oldest first.
impl Pending {
    fn entries(&self) -> usize {
        self.nonces.len()
    }
}

/// The keys of consecutive batches, flattened for one write into the tree.
struct Chunk {
    streams: Vec<(Vec<u8>, u64)>,
    nonces: Vec<(NonceDigest, u64)>,
    checkpoints: Vec<(u64, Vec<u8>)>,
    hwm: u64,
}

impl Chunk {
    fn of<'a>(batches: impl Iterator<Item = &'a Pending>) -> Self {
        let mut chunk = Self {
            streams: Vec::new(),
            nonces: Vec::new(),
            checkpoints: Vec::new(),
            hwm: 0,
        };
        for b in batches {
            for (stream, positions) in &b.streams {
                for (version, seq) in positions {
                    chunk.streams.push((stream_key(stream, *version), *seq));
                }
            }
            chunk
                .nonces
                .extend(b.nonces.iter().map(|(d, seq)| (*d, *seq)));
            chunk.checkpoints.extend(b.checkpoints.iter().cloned());
            chunk.hwm = chunk.hwm.max(b.hwm);
        }
        chunk
    }
}

#[derive(Default, Debug)]
struct Overlay {
    batches: VecDeque<Pending>,
}

/// Most batches the indexer may have been handed and not yet looked at; a commit then waits
/// for it (back-pressure).
pub const INDEX_QUEUE: usize = 64;

/// The overlay's batches go into the tree, as one new table per keyspace, once they hold this
/// many entries…
pub const CHUNK_ENTRIES: usize = 1 << 15;

/// …or this many batches, whichever comes first. The overlay thus holds at most about
/// `CHUNK_ENTRIES` entries plus [`INDEX_QUEUE`] batches, and an open after a crash re-derives at
/// most that many entries from the segments.
pub const CHUNK_BATCHES: usize = 256;

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
    let mut key = Vec::with_capacity(stream.len() + 9);
    key.extend_from_slice(stream.as_bytes());
    key.push(SEP);
    key
}

fn stream_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    key.extend_from_slice(&be(version));
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

fn checkpoint_key(size: u64) -> [u8; 9] {
    let mut key = [b'c'; 9];
    key[1..].copy_from_slice(&be(size));
    key
}

/// Index updates for one committed batch, applied atomically.
#[derive(Default)]
pub struct IndexBatch {
    pending: Pending,
}

impl IndexBatch {
    /// Records an entry's stream position and nonce.
    pub fn entry(&mut self, entry: &Entry) {
        self.pending
            .streams
            .entry(entry.stream.clone())
            .or_default()
            .push((entry.stream_version, entry.seq));
        self.pending.nonces.insert(
            nonce_digest(&entry.signed.actor, &entry.signed.nonce),
            entry.seq,
        );
    }

    /// Records a checkpoint.
    pub fn checkpoint(&mut self, size: u64, note: &[u8]) {
        self.pending.checkpoints.push((size, note.to_vec()));
    }
}

enum Job {
    Apply,
    Barrier(crossbeam_channel::Sender<()>),
}

/// The thread that writes committed batches into the index behind the acknowledgement.
pub struct Indexer {
    overlay: Arc<RwLock<Overlay>>,
    jobs: Option<crossbeam_channel::Sender<Job>>,
    /// Why the indexer stopped, and whether it was a full file system.
    failed: Arc<Mutex<Option<(String, bool)>>>,
    dir: std::path::PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("failed", &*lock(&self.failed))
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
        let failed = Arc::new(Mutex::new(None));
        let writer = index.clone();
        let overlay = Arc::clone(&index.overlay);
        let fail = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("indexer".into())
            .spawn(move || {
                for job in rx {
                    let (all, done) = match job {
                        Job::Apply => (false, None),
                        Job::Barrier(done) => (true, Some(done)),
                    };
                    if lock(&fail).is_none()
                        && let Err(error) = writer.ingest_overlay(all)
                    {
                        tracing::error!(%error, "the index could not be written");
                        lock(&fail).get_or_insert((error.to_string(), error.is_storage_full()));
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
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
        let IndexBatch { mut pending } = batch;
        pending.hwm = hwm;
        self.overlay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .batches
            .push_back(pending);
        self.jobs
            .as_ref()
            .and_then(|j| j.send(Job::Apply).ok())
            .ok_or_else(|| StoreError::Config("the indexer stopped".into()))
    }

    /// Waits until every batch handed over so far is in the index.
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

    /// After a write that found the file system full: takes batches again, and writes what the
    /// overlay still holds on the next batch (a failed write removed nothing from it, and
    /// writing the same keys again is harmless). Any other failure is not resumed.
    ///
    /// # Errors
    /// The failure, when it was not a full file system.
    pub fn resume(&self) -> Result<(), StoreError> {
        let mut failed = lock(&self.failed);
        if failed.as_ref().is_some_and(|(_, full)| *full) {
            tracing::info!("the indexer resumes after the file system was full");
            *failed = None;
        }
        drop(failed);
        self.check()
    }

    fn check(&self) -> Result<(), StoreError> {
        match lock(&self.failed).clone() {
            // A full disk is told apart, so that the sequencer answers `ledger.storage_full`
            // as it does when the segment write itself finds the disk full.
            Some((why, true)) => Err(StoreError::io(
                &self.dir,
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    format!(
                        "the index could not be written ({why}); it is written again once \
                         space is free"
                    ),
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The nonce keyspace: point look-ups that mostly miss, answered by a Bloom filter.
fn nonce_options() -> fjall::KeyspaceCreateOptions {
    keyspace_options()
}

/// The stream and meta keyspaces are read by prefix and range scans, which a Bloom filter
/// cannot answer: they keep none, which halves the filters' memory.
fn scanned_options() -> fjall::KeyspaceCreateOptions {
    keyspace_options().filter_policy(fjall::config::FilterPolicy::disabled())
}

fn keyspace_options() -> fjall::KeyspaceCreateOptions {
    pinned(
        fjall::KeyspaceCreateOptions::default()
            .compaction_strategy(std::sync::Arc::new(
                fjall::compaction::Leveled::default().with_table_target_size(TABLE_BYTES),
            ))
            .max_memtable_size(MEMTABLE_BYTES)
            .manual_journal_persist(true),
    )
}

/// `options` with Bloom filters and block indexes held in memory at every level (about 1.5
/// bytes a key), whole rather than partitioned, so a look-up that misses, the usual case for a
/// nonce or a growing state's new key, reads no block from disk. Unpinned, a miss re-read and
/// re-checksummed a whole table's filter through the block cache. Shared with the node's
/// scratch store of the domain state.
#[must_use]
pub fn pinned(options: fjall::KeyspaceCreateOptions) -> fjall::KeyspaceCreateOptions {
    use fjall::config::{PartitioningPolicy, PinningPolicy};
    options
        .filter_block_pinning_policy(PinningPolicy::all(true))
        .index_block_pinning_policy(PinningPolicy::all(true))
        .filter_block_partitioning_policy(PartitioningPolicy::all(false))
        .index_block_partitioning_policy(PartitioningPolicy::all(false))
}

fn open_db(dir: &Path, cache_bytes: u64) -> Result<fjall::Database, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let opened = fjall::Database::builder(dir)
            .cache_size(cache_bytes)
            .max_journaling_size(64 << 20)
            .manual_journal_persist(true)
            .worker_threads(1)
            .open();
        match opened {
            Err(fjall::Error::Locked) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.map_err(StoreError::from),
        }
    }
}

impl Index {
    /// Opens (or creates) the index in `dir` with a bounded block cache.
    ///
    /// # Errors
    /// When the engine cannot open the folder (another process holds it, or its files are
    /// damaged: the caller then rebuilds it from the log).
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        // A folder left by the earlier engine (sled) is derived data in a format this version
        // does not read: set it aside, and the log re-derives the index.
        if dir.join("conf").is_file() && dir.join("db").is_file() {
            return Err(StoreError::Config(
                "the index folder holds an index in an earlier format".into(),
            ));
        }
        let db = open_db(dir, cache_bytes)?;
        let meta = db.keyspace("meta", scanned_options)?;
        let streams = db.keyspace("streams", scanned_options)?;
        let nonces = db.keyspace("nonces", nonce_options)?;
        Ok(Self {
            db,
            meta,
            streams,
            nonces,
            overlay: Arc::new(RwLock::new(Overlay::default())),
            dir: dir.to_path_buf(),
        })
    }

    /// Entries absorbed so far.
    ///
    /// # Errors
    /// Engine errors.
    pub fn hwm(&self) -> Result<u64, StoreError> {
        self.meta.get(HWM_KEY)?.map_or(Ok(0), |v| read_be(&v))
    }

    /// Moves the overlay's oldest batches into the tree once they hold [`CHUNK_ENTRIES`]
    /// entries or [`CHUNK_BATCHES`] batches (or, with `all`, whatever it holds), then lets go of
    /// them. Only the indexer thread calls this, so the batches it counted are still the oldest
    /// when it removes them; readers see them in the overlay until the tree has them.
    fn ingest_overlay(&self, all: bool) -> Result<(), StoreError> {
        let (count, chunk) = {
            let overlay = read_overlay(&self.overlay);
            let entries: usize = overlay.batches.iter().map(Pending::entries).sum();
            let due = entries >= CHUNK_ENTRIES || overlay.batches.len() >= CHUNK_BATCHES;
            if overlay.batches.is_empty() || !(all || due) {
                return Ok(());
            }
            let count = overlay.batches.len();
            (count, Chunk::of(overlay.batches.iter()))
        };
        self.write_chunk(chunk)?;
        let mut overlay = self
            .overlay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        overlay.batches.drain(..count);
        Ok(())
    }

    /// Writes a chunk: its stream and nonce keys as one new sorted table each (the engine's
    /// ingestion, which syncs the tables and the manifest naming them, and bypasses its
    /// journal), then its checkpoints and the high-water mark in one journalled batch. The
    /// mark is written last, so a crash at any point leaves it at or below what the tables
    /// hold; what lies above it is re-derived from the segments on open (writing the same keys
    /// with the same values again).
    fn write_chunk(&self, chunk: Chunk) -> Result<(), StoreError> {
        let Chunk {
            mut streams,
            mut nonces,
            checkpoints,
            hwm,
        } = chunk;
        // Sorted and without repeats, as the ingestion requires. A stream position occurs
        // once; an `(actor, nonce)` too (the sequencer refuses a reuse), so a repeated digest
        // could only be a collision of 128-bit hashes: the first entry keeps it.
        streams.sort_unstable();
        streams.dedup_by(|a, b| a.0 == b.0);
        nonces.sort_unstable();
        nonces.dedup_by(|a, b| a.0 == b.0);
        if !streams.is_empty() {
            let mut ingestion = self.streams.start_ingestion()?;
            for (key, seq) in streams {
                ingestion.write(key, &be(seq)[..])?;
            }
            ingestion.finish()?;
        }
        if !nonces.is_empty() {
            let mut ingestion = self.nonces.start_ingestion()?;
            for (digest, seq) in nonces {
                ingestion.write(&digest[..], &be(seq)[..])?;
            }
            ingestion.finish()?;
        }
        let mut batch = self.db.batch().durability(Some(fjall::PersistMode::Buffer));
        for (size, note) in &checkpoints {
            batch.insert(&self.meta, &checkpoint_key(*size)[..], note.as_slice());
        }
        batch.insert(&self.meta, HWM_KEY, &be(hwm)[..]);
        batch.commit()?;
        Ok(())
    }

    /// Applies a batch and moves the high-water mark to `hwm`, atomically.
    /// Used on open, while re-deriving, when no indexer runs yet.
    ///
    /// # Errors
    /// Engine errors.
    pub fn apply(&self, batch: IndexBatch, hwm: u64) -> Result<(), StoreError> {
        let mut pending = batch.pending;
        pending.hwm = hwm;
        self.write_chunk(Chunk::of(std::iter::once(&pending)))
    }

    /// The current version of a stream (0 when it has no entry).
    ///
    /// # Errors
    /// Engine errors.
    pub fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        // The overlay first, then the engine: the indexer removes a batch from the overlay only
        // after the engine has it, so this order never misses one.
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .rev()
            .find_map(|b| b.streams.get(stream).and_then(|v| v.last()).map(|x| x.0));
        if let Some(v) = pending {
            return Ok(v);
        }
        match self.streams.prefix(stream_prefix(stream)).next_back() {
            None => Ok(0),
            Some(kv) => {
                let (k, _) = kv.into_inner()?;
                read_be(&k[k.len() - 8..])
            }
        }
    }

    /// The seqs of a stream's entries with versions `from..`, at most `limit`.
    ///
    /// # Errors
    /// Engine errors.
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
        let start = stream_key(stream, from);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xff; 9]);
        for kv in self.streams.range(start..end).take(limit) {
            let (k, v) = kv.into_inner()?;
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 8 {
                continue;
            }
            found.insert(read_be(&k[k.len() - 8..])?, read_be(&v)?);
        }
        Ok(found.into_values().take(limit).collect())
    }

    /// The seq of the entry made by `actor` with `nonce`, if any.
    ///
    /// # Errors
    /// Engine errors.
    pub fn nonce_seq(&self, actor: &str, nonce: &str) -> Result<Option<u64>, StoreError> {
        self.nonce_seq_of(&nonce_digest(actor, nonce))
    }

    /// The seq of the entry whose `(actor, nonce)` has `digest`, if any (unconfirmed: the caller
    /// compares the entry's actor and nonce).
    ///
    /// Every entry of a batch that was published before the call is found: a batch enters the
    /// overlay before its size is published, and leaves it only after the engine has it, so
    /// reading the overlay and then the engine cannot fall between the two.
    ///
    /// # Errors
    /// Engine errors.
    pub fn nonce_seq_of(&self, digest: &NonceDigest) -> Result<Option<u64>, StoreError> {
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .find_map(|b| b.nonces.get(digest).copied());
        if pending.is_some() {
            return Ok(pending);
        }
        self.nonces.get(digest)?.map(|v| read_be(&v)).transpose()
    }

    /// The stored checkpoint of exactly `size`, if any.
    ///
    /// # Errors
    /// Engine errors.
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
        Ok(self.meta.get(checkpoint_key(size))?.map(|v| v.to_vec()))
    }

    /// The stored checkpoint with the smallest size ≥ `size`, as `(size, note)`.
    ///
    /// # Errors
    /// Engine errors.
    pub fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        // Overlay checkpoints are newer than any in the engine, so its answer wins when it has one.
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .flat_map(|b| b.checkpoints.iter())
            .find(|(s, _)| *s >= size)
            .cloned();
        match self
            .meta
            .range(checkpoint_key(size)..=checkpoint_key(u64::MAX))
            .next()
        {
            None => Ok(pending),
            Some(kv) => {
                let (k, v) = kv.into_inner()?;
                Ok(Some((read_be(&k[1..])?, v.to_vec())))
            }
        }
    }

    /// The stored checkpoint with the largest size ≤ `size`, as `(size, note)`: one read,
    /// however many checkpoints the log holds.
    ///
    /// # Errors
    /// Engine errors.
    pub fn checkpoint_at_or_before(&self, size: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        // Overlay checkpoints are newer than any in the tree, so the overlay's answer wins.
        let pending = read_overlay(&self.overlay)
            .batches
            .iter()
            .flat_map(|b| b.checkpoints.iter())
            .filter(|(s, _)| *s <= size)
            .max_by_key(|(s, _)| *s)
            .cloned();
        if pending.is_some() {
            return Ok(pending);
        }
        match self
            .meta
            .range(checkpoint_key(0)..=checkpoint_key(size))
            .next_back()
        {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv.into_inner()?;
                Ok(Some((read_be(&k[1..])?, v.to_vec())))
            }
        }
    }

    /// Every stored checkpoint with size in `from..=to`, in order, as `(size, note)`.
    ///
    /// # Errors
    /// Engine errors.
    pub fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out: BTreeMap<u64, Vec<u8>> = read_overlay(&self.overlay)
            .batches
            .iter()
            .flat_map(|b| b.checkpoints.iter())
            .filter(|(s, _)| (from..=to).contains(s))
            .cloned()
            .collect();
        for kv in self.meta.range(checkpoint_key(from)..=checkpoint_key(to)) {
            let (k, v) = kv.into_inner()?;
            out.insert(read_be(&k[1..])?, v.to_vec());
        }
        Ok(out.into_iter().collect())
    }

    /// Hands the journal to the operating system (see the module note: not an fsync; the
    /// index is derived, and what a crash takes from it is re-derived on open).
    ///
    /// # Errors
    /// Engine errors.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.persist(fjall::PersistMode::Buffer)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of `n` made-up entries from `first`, each its own stream at version 1, with a
    /// checkpoint at its end.
    fn batch(first: u64, n: u64) -> IndexBatch {
        let mut b = IndexBatch::default();
        for seq in first..first + n {
            b.pending
                .streams
                .entry(format!("test/S-{seq}"))
                .or_default()
                .push((1, seq));
            b.pending
                .nonces
                .insert(nonce_digest("test/A", &format!("n-{seq}")), seq);
        }
        b.checkpoint(first + n, format!("note {}", first + n).as_bytes());
        b
    }

    fn answers_all(index: &Index, upto: u64) {
        for seq in (0..upto).step_by(97).chain(upto.saturating_sub(3)..upto) {
            assert_eq!(
                index.nonce_seq("test/A", &format!("n-{seq}")).unwrap(),
                Some(seq),
                "nonce of {seq}"
            );
            assert_eq!(
                index.stream_seqs(&format!("test/S-{seq}"), 1, 10).unwrap(),
                vec![seq]
            );
            assert_eq!(index.stream_version(&format!("test/S-{seq}")).unwrap(), 1);
        }
        assert_eq!(index.nonce_seq("test/A", "never").unwrap(), None);
        assert_eq!(index.stream_version("test/never").unwrap(), 0);
    }

    #[test]
    fn batches_go_into_the_tree_by_chunks_and_a_crash_leaves_the_mark_at_a_chunk_end() {
        let dir = tempfile::tempdir().unwrap();
        let per = 1000u64;
        let batches = 3 * (CHUNK_ENTRIES as u64) / per + 5;
        let total = batches * per;
        {
            let index = Index::open(dir.path(), 8 << 20).unwrap();
            let indexer = Indexer::start(&index).unwrap();
            for i in 0..batches {
                indexer.apply(batch(i * per, per), (i + 1) * per).unwrap();
            }
            // Every entry answers at once, whether in the overlay or already in the tree.
            answers_all(&index, total);
            // Once the overlay holds less than a chunk, nothing more goes into the tree: every
            // batch was pushed before the loop ended, so the jobs still queued see no more.
            let left = loop {
                let entries: usize = read_overlay(&index.overlay)
                    .batches
                    .iter()
                    .map(Pending::entries)
                    .sum();
                if entries < CHUNK_ENTRIES {
                    break entries as u64;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            // Dropped without a drain, as a crash would leave it: what had not reached a whole
            // chunk is only in memory and is lost with it.
            drop(indexer);
            assert_eq!(index.hwm().unwrap(), total - left);
        }
        let index = Index::open(dir.path(), 8 << 20).unwrap();
        let hwm = index.hwm().unwrap();
        assert!(hwm >= CHUNK_ENTRIES as u64 && hwm <= total, "hwm {hwm}");
        assert_eq!(hwm % per, 0, "the mark is at a batch end");
        // What the mark covers is in the tree; the checkpoints up to it too.
        answers_all(&index, hwm);
        assert_eq!(
            index.checkpoint_at_or_before(hwm).unwrap(),
            Some((hwm, format!("note {hwm}").into_bytes()))
        );
        assert_eq!(
            index.checkpoint_at_or_after(1).unwrap().map(|c| c.0),
            Some(per)
        );
        // A drain puts everything in the tree, and a reopen finds all of it.
        let indexer = Indexer::start(&index).unwrap();
        let rest = (hwm / per..batches).map(|i| (i * per, (i + 1) * per));
        for (first, end) in rest {
            indexer.apply(batch(first, per), end).unwrap();
        }
        indexer.drain().unwrap();
        assert!(read_overlay(&index.overlay).batches.is_empty());
        drop(indexer);
        drop(index);
        let index = Index::open(dir.path(), 8 << 20).unwrap();
        assert_eq!(index.hwm().unwrap(), total);
        answers_all(&index, total);
        assert_eq!(index.checkpoints(0, total).unwrap().len() as u64, batches);
    }
}
