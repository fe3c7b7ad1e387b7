//! The log backend contract: what the sequencer needs from the place the log is kept, and what
//! every reader may rely on, whatever keeps it.
//!
//! The segment files ([`LogWriter`] and [`LogReader`]) are the first and only implementation.
//! The contract is written so that another backend — PostgreSQL shared by several API nodes,
//! one of them holding the sequence — can follow without touching the sequencer's rules: the
//! sequencer ([`crate::sequencer::Sequencer`]) is written against [`LogBackend`] alone.
//! ARCHITECTURE.md ("The log backend contract") says what each method guarantees and how a
//! PostgreSQL backend would meet it; `tests/backend_contract.rs` checks it, generic over the
//! backend.
//!
//! The contract, in short:
//! - **One writer.** A [`LogBackend`] value is the only writer of its log while it exists; it
//!   holds the sequence (the next seq and the last leaf hash). Opening one is the backend's own
//!   business (a data folder, a connection), and so is recovering from a crash on open.
//! - **Durable before visible.** [`LogBackend::stage`] appends in memory only. A batch is sealed
//!   by [`LogBackend::commit_begin`] (its checkpoint signed over the whole log), made durable by
//!   [`SyncWork::run`] on any thread, and published by [`LogBackend::commit_end`]; readers see
//!   none of its entries, and no receipt is sent, before that returns. At most one batch is
//!   between `commit_begin` and `commit_end`, and nothing is staged meanwhile.
//! - **All or nothing.** A batch is durable whole, with its checkpoint, or not at all: what a
//!   crash leaves of an unfinished batch is removed on open. After any failed write the writer
//!   is poisoned and refuses further work until it is opened again.
//! - **Immutable once published.** A published record, stored hash or checkpoint never changes;
//!   readers ([`LogRead`], any number, on any thread or node) see a prefix that only grows.

use std::ops::Range;
use std::sync::Arc;

use deedlog_core::Entry;
use deedlog_core::hash::Hash;

use crate::error::StoreError;
use crate::index::NonceDigest;
use crate::log::{CommitStats, LogReader, LogWriter, StoredCheckpoint, SyncJob};

/// The reading side of a log backend: cheap to clone, usable from any thread. Everything it
/// answers lies within the published prefix (`size()` entries), which only grows.
pub trait LogRead: Clone + Send + Sync + 'static {
    /// Entries published (durable and visible).
    fn size(&self) -> u64;

    /// A receiver that changes whenever the published size grows (its value is the new size).
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;

    /// The stored records (entry bytes, then for a version-2 entry a line feed and the opening;
    /// [`deedlog_core::entry::split_record`]) of entries `start..end`, exactly as staged.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] past the published size; I/O errors; damaged records.
    fn records(&self, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError>;

    /// The stored record of entry `seq`.
    ///
    /// # Errors
    /// As [`Self::records`].
    fn record(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let mut records = self.records(seq..seq.saturating_add(1))?;
        records
            .pop()
            .ok_or_else(|| StoreError::OutOfRange(format!("entry {seq} does not exist")))
    }

    /// The Merkle stored hashes at `indexes`, in the tlog stored-hash layout (C2SP tlog-tiles),
    /// within the published tree: the input of every root, proof and hash tile.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] past the published tree; I/O errors.
    fn stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;

    /// The checkpoint of the published size (none for an empty log).
    fn latest_checkpoint(&self) -> Option<Arc<StoredCheckpoint>>;

    /// Every stored checkpoint with size in `from..=to`, in order of size.
    ///
    /// # Errors
    /// Backend errors.
    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// The stored checkpoint of exactly `size`, if a batch ended there.
    ///
    /// # Errors
    /// Backend errors.
    fn checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        Ok(self.checkpoints(size, size)?.pop())
    }

    /// The first stored checkpoint of size ≥ `size`.
    ///
    /// # Errors
    /// Backend errors.
    fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// The current version of `stream` among published entries (0 if it has none).
    ///
    /// # Errors
    /// Backend errors.
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError>;

    /// The seqs of a stream's published entries from version `from`, at most `limit`.
    ///
    /// # Errors
    /// Backend errors.
    fn stream_seqs(&self, stream: &str, from: u64, limit: usize) -> Result<Vec<u64>, StoreError>;

    /// The `(actor, nonce)` look-up: the published size read *before* the look-up, and the seq
    /// of a published entry below it whose `(actor, nonce)` has `digest`, if any (unconfirmed:
    /// the caller compares the entry). Every entry below the returned size must be found; the
    /// sequencer relies on it to check later entries from memory alone.
    ///
    /// # Errors
    /// Backend errors.
    fn nonce_probe(&self, digest: &NonceDigest) -> Result<(u64, Option<u64>), StoreError>;

    /// The Merkle root of the first `size` entries, from the stored hashes.
    ///
    /// # Errors
    /// A size past the published one; backend errors.
    fn root(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_size(size)?;
        tlog_tiles::tree_hash(size, &Hashes(self))
            .map_err(|e| StoreError::Corrupt(format!("tree hash: {e}")))
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries (RFC 9162 §2.1.3).
    ///
    /// # Errors
    /// `seq >= size`, a size past the published one; backend errors.
    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        if seq >= size {
            return Err(StoreError::OutOfRange(format!(
                "entry {seq} is not in a tree of {size}"
            )));
        }
        tlog_tiles::prove_record(size, seq, &Hashes(self))
            .map_err(|e| StoreError::Corrupt(format!("inclusion proof: {e}")))
    }

    /// The consistency proof between the trees of `m` and `n` entries (RFC 9162 §2.1.4).
    ///
    /// # Errors
    /// `m == 0`, `m > n`, a size past the published one; backend errors.
    fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(n)?;
        if m == 0 || m > n {
            return Err(StoreError::OutOfRange(format!(
                "no consistency proof from {m} to {n}: need 0 < m <= n"
            )));
        }
        tlog_tiles::prove_tree(n, m, &Hashes(self))
            .map_err(|e| StoreError::Corrupt(format!("consistency proof: {e}")))
    }

    /// Refuses a tree size past the published one.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`].
    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let have = self.size();
        if size > have {
            return Err(StoreError::OutOfRange(format!(
                "tree size {size} is past the end of the log ({have})"
            )));
        }
        Ok(())
    }
}

/// Any [`LogRead`] as the hash source of the tlog proofs.
struct Hashes<'a, R: ?Sized>(&'a R);

impl<R: LogRead> tlog_tiles::HashReader for Hashes<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0
            .stored_hashes(indexes)
            .map_err(|_| tlog_tiles::Error::InvalidProof)
    }
}

/// An entry with its canonical bytes and its opening (version 2), as [`LogBackend::stage`] takes
/// them.
pub type StagedEntry = (Entry, Vec<u8>, Option<Vec<u8>>);

/// A sealed batch to make durable: [`LogBackend::commit_begin`] hands it out, any thread runs
/// it, and its result goes back to [`LogBackend::commit_end`].
pub trait SyncWork: Send + 'static {
    /// The log size once this batch is durable.
    fn size(&self) -> u64;

    /// Makes the batch (its entries and its checkpoint) durable; returns the nanoseconds it
    /// took. When it fails, nothing of the batch may be left as if it were durable: what it
    /// left is removed at once if possible, else on the next open.
    ///
    /// # Errors
    /// The write or the sync failed.
    fn run(&self) -> Result<u64, StoreError>;
}

/// The writing side of a log backend, owned by the sequencer (the only writer): it holds the
/// sequence and appends batches durably, in order.
pub trait LogBackend: Send + 'static {
    /// Its readers.
    type Reader: LogRead;
    /// A sealed batch on its way to durability.
    type Sync: SyncWork;

    /// A reader of this log.
    fn reader(&self) -> Self::Reader;

    /// The seq the next staged entry gets.
    fn next_seq(&self) -> u64;

    /// The leaf hash of the last staged or committed entry (zero for an empty log).
    fn last_leaf(&self) -> Hash;

    /// Entries durable so far.
    fn committed(&self) -> u64;

    /// Stages an entry with its canonical `bytes` and `opening` (version 2): its seq must be
    /// [`Self::next_seq`] and its `prev_hash` [`Self::last_leaf`]. Nothing is durable or
    /// visible until the batch is committed; a refused entry leaves nothing staged.
    ///
    /// # Errors
    /// A poisoned writer, or an entry that does not continue the chain.
    fn stage(
        &mut self,
        entry: &Entry,
        bytes: &[u8],
        opening: Option<&[u8]>,
    ) -> Result<Hash, StoreError>;

    /// Seals every staged entry with a checkpoint over the whole log signed at `time_ms`, and
    /// hands the batch out to be made durable. Nothing may be staged until
    /// [`Self::commit_end`].
    ///
    /// # Errors
    /// A poisoned writer; the writer is poisoned by any error.
    fn commit_begin(&mut self, time_ms: i64) -> Result<Self::Sync, StoreError>;

    /// Publishes a batch whose [`SyncWork::run`] gave `sync`: from its return on, readers see
    /// its entries and checkpoint, and receipts may be sent. Returns the checkpoint.
    ///
    /// # Errors
    /// The sync's error, or the backend's; the writer is then poisoned.
    fn commit_end(
        &mut self,
        sync: Result<(Self::Sync, u64), StoreError>,
    ) -> Result<Arc<StoredCheckpoint>, StoreError>;

    /// Stages, seals, makes durable and publishes a batch on this thread: the whole append,
    /// for callers that do not pipeline. Returns the seqs the entries got and the checkpoint.
    ///
    /// # Errors
    /// As the steps. An entry [`Self::stage`] refuses is returned at once, with the entries
    /// before it still staged and nothing committed (the caller commits them or drops the
    /// writer, which loses only what was not committed).
    fn append(
        &mut self,
        entries: &[StagedEntry],
        time_ms: i64,
    ) -> Result<(Range<u64>, Arc<StoredCheckpoint>), StoreError> {
        let first = self.next_seq();
        for (entry, bytes, opening) in entries {
            self.stage(entry, bytes, opening.as_deref())?;
        }
        let job = self.commit_begin(time_ms)?;
        let sync = job.run().map(|ns| (job, ns));
        let checkpoint = self.commit_end(sync)?;
        Ok((first..checkpoint.size, checkpoint))
    }

    /// Where commit time went so far.
    fn stats(&self) -> CommitStats;

    /// Makes whatever the backend derives durable (on a clean shutdown, so the next open has
    /// nothing to re-derive); entries are durable without it.
    ///
    /// # Errors
    /// Backend errors.
    fn flush(&mut self) -> Result<(), StoreError>;

    /// After a failed stage or commit on a full file system: discards everything not
    /// committed, so that appends go on from the last published checkpoint. Nothing published
    /// changes. The default cannot, and the writer stays failed until a reopen.
    ///
    /// # Errors
    /// Why the backend cannot go on.
    fn recover(&mut self) -> Result<(), StoreError> {
        Err(StoreError::Poisoned)
    }

    /// Whether the storage has room to try appending again after it was full.
    fn room_to_resume(&self) -> bool {
        false
    }
}

impl LogRead for LogReader {
    fn size(&self) -> u64 {
        LogReader::size(self)
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        LogReader::subscribe(self)
    }

    fn records(&self, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError> {
        LogReader::records(self, range.start, range.end)
    }

    fn record(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        LogReader::record(self, seq)
    }

    fn stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        LogReader::stored_hashes(self, indexes)
    }

    fn latest_checkpoint(&self) -> Option<Arc<StoredCheckpoint>> {
        LogReader::latest_checkpoint(self)
    }

    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<StoredCheckpoint>, StoreError> {
        LogReader::checkpoints(self, from, to)
    }

    fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        LogReader::checkpoint_at_or_after(self, size)
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        LogReader::stream_version(self, stream)
    }

    fn stream_seqs(&self, stream: &str, from: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        LogReader::stream_seqs(self, stream, from, limit)
    }

    fn nonce_probe(&self, digest: &NonceDigest) -> Result<(u64, Option<u64>), StoreError> {
        LogReader::nonce_probe(self, digest)
    }
}

impl SyncWork for SyncJob {
    fn size(&self) -> u64 {
        SyncJob::size(self)
    }

    fn run(&self) -> Result<u64, StoreError> {
        SyncJob::run(self)
    }
}

impl LogBackend for LogWriter {
    type Reader = LogReader;
    type Sync = SyncJob;

    fn reader(&self) -> LogReader {
        LogWriter::reader(self)
    }

    fn next_seq(&self) -> u64 {
        LogWriter::next_seq(self)
    }

    fn last_leaf(&self) -> Hash {
        LogWriter::last_leaf(self)
    }

    fn committed(&self) -> u64 {
        LogWriter::committed(self)
    }

    fn stage(
        &mut self,
        entry: &Entry,
        bytes: &[u8],
        opening: Option<&[u8]>,
    ) -> Result<Hash, StoreError> {
        LogWriter::stage(self, entry, bytes, opening)
    }

    fn commit_begin(&mut self, time_ms: i64) -> Result<SyncJob, StoreError> {
        LogWriter::commit_begin(self, time_ms)
    }

    fn commit_end(
        &mut self,
        sync: Result<(SyncJob, u64), StoreError>,
    ) -> Result<Arc<StoredCheckpoint>, StoreError> {
        LogWriter::commit_end(self, sync)
    }

    fn stats(&self) -> CommitStats {
        LogWriter::stats(self)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        LogWriter::flush_derived(self)
    }

    fn recover(&mut self) -> Result<(), StoreError> {
        LogWriter::recover(self)
    }

    fn room_to_resume(&self) -> bool {
        LogWriter::room_to_resume(self)
    }
}
