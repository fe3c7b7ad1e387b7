//! The log: segments (the truth), derived flat files and the index, opened with recovery,
//! written by one [`LogWriter`] and read by any number of [`LogReader`]s.
//!
//! Invariants:
//! - an entry is visible to readers (and acknowledged) only after the segment holding it and the
//!   checkpoint covering it were made durable with `fdatasync`;
//! - the offsets file, the stored-hash file and the index never hold more than the segments,
//!   and whatever they lack is re-derived from the segments on open;
//! - the offsets and stored-hash files are trusted on open only up to their last durable sync
//!   point (`DATA/derived.synced`, written after an `fdatasync` of both, at least every second
//!   of appends and at shutdown); everything after it is cut and re-derived from the segments,
//!   because a power loss can leave holes anywhere in what was written since;
//! - torn-tail repair never cuts an acknowledged entry: the checkpoints inside the segments say
//!   how far the log was acknowledged, whatever the derived files say. Damage followed by a
//!   checksummed checkpoint, or damage in a segment that is not the last, makes open refuse with
//!   [`StoreError::Damaged`] (segment, offset, seq); only bytes after the last durable
//!   checkpoint are a torn tail, and only bytes a write cut short can leave (a record cut short
//!   by the end of the file, or unwritten zero blocks): a whole record failing its checksum at
//!   the end, the last checkpoint included, is damage and refused too;
//! - after a failed write the writer is poisoned and refuses further work: its in-memory view may
//!   be ahead of the disk, and only a reopen (which recovers from the disk) is safe.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use deedlog_core::entry::{join_record, split_record};
use deedlog_core::hash::{Hash, ZERO_HASH};
use deedlog_core::{Entry, LoggedEntry, hash};
use tlog_tiles::HashReader;

use crate::error::StoreError;
use crate::flatfile::{FlatFile, FlatReader};
use crate::index::{Index, IndexBatch, Indexer};
use crate::segment::{self, RecordKind};

/// How the log signs and reads checkpoints. The store does not know the note format; the caller
/// (who holds the log's key) does.
pub trait CheckpointFormat: Send + Sync {
    /// Signs a checkpoint for the tree of `size` entries with root `root`, made at `time_ms`.
    fn sign(&self, size: u64, root: &Hash, time_ms: i64) -> Vec<u8>;
    /// Reads `(size, root)` back from a note this format signed, or `None` if it is not one.
    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)>;
}

/// Called with a batch's new log size before its segment write and `fdatasync`; an error fails
/// that write as the disk would. Fault injection for tests of what is acknowledged when.
pub type SyncFault = Arc<dyn Fn(u64) -> std::io::Result<()> + Send + Sync>;

/// The page cache of the log's index (`DATA/index/`) when the caller names none, bytes.
/// A node takes its size from its one list of database caches (`deedlog_node::Caches`) and
/// passes it to [`LogWriter::open_with_index_cache`]; it is not one of the [`LogOptions`], so
/// that no second setting can disagree with that list.
pub const INDEX_CACHE_BYTES_DEFAULT: u64 = 32 << 20;

/// Tunables of the log.
#[derive(Clone)]
pub struct LogOptions {
    /// A new segment starts once the current one reaches this size (a batch is never split).
    pub segment_bytes_max: u64,
    /// Fault injection before each batch's write and sync (`None` in a real node).
    pub sync_fault: Option<SyncFault>,
}

impl std::fmt::Debug for LogOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOptions")
            .field("segment_bytes_max", &self.segment_bytes_max)
            .field("sync_fault", &self.sync_fault.is_some())
            .finish()
    }
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            segment_bytes_max: 64 << 20,
            sync_fault: None,
        }
    }
}

/// A batch's segment bytes (entries and their checkpoint), ready to be written and made durable
/// off the sequencer's thread, so that the `fdatasync` of one batch overlaps the decide and
/// encode of the next. Nothing of it is visible until [`LogWriter::commit_end`].
pub struct SyncJob {
    file: Arc<File>,
    path: PathBuf,
    offset: u64,
    buf: Vec<u8>,
    size: u64,
    note: Vec<u8>,
    fault: Option<SyncFault>,
    root_ns: u64,
}

impl std::fmt::Debug for SyncJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncJob")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("bytes", &self.buf.len())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl SyncJob {
    /// The log size once this batch is durable.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Writes the batch at its offset and makes it durable (`fdatasync`). Any thread may run it;
    /// returns the nanoseconds it took.
    ///
    /// # Errors
    /// The write or the sync failed (or the fault injection said so).
    pub fn run(&self) -> Result<u64, StoreError> {
        let t = std::time::Instant::now();
        if let Some(fault) = &self.fault {
            fault(self.size).map_err(|e| StoreError::io(&self.path, e))?;
        }
        if let Err(error) = self
            .file
            .write_all_at(&self.buf, self.offset)
            .and_then(|()| self.file.sync_data())
        {
            // A write cut short (a full disk) leaves part of a record at the tail. No later
            // batch is written after a failed one (the sequencer finishes each batch before it
            // launches the next, and a failure poisons the writer), so cutting the tail at once
            // rather than at the next open keeps the segment to whole, acknowledged records for
            // anyone who reads it meanwhile (`deedlog verify --data`, a backup). Shrinking a
            // file needs no free space; if the cut fails too, the next open cuts.
            let _ = self
                .file
                .set_len(self.offset)
                .and_then(|()| self.file.sync_data());
            return Err(StoreError::io(&self.path, error));
        }
        Ok(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

/// What opening the log found and repaired.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct OpenReport {
    /// Entries in the log.
    pub entries: u64,
    /// Segment files.
    pub segments: usize,
    /// Bytes of a torn tail cut from the last segment (a crash during an unacknowledged write).
    pub torn_tail_bytes: u64,
    /// A last segment file holding no record and no whole header (a crash while it was being
    /// created) was removed.
    pub empty_segment_removed: bool,
    /// Entries the derived files held beyond their last durable sync point, cut and re-derived.
    pub derived_unsynced: u64,
    /// Entries whose offsets were re-derived.
    pub offsets_rederived: u64,
    /// Entries whose Merkle hashes were re-derived.
    pub hashes_rederived: u64,
    /// Entries re-absorbed into the index.
    pub index_rederived: u64,
    /// The index could not be opened and was rebuilt from the log.
    pub index_rebuilt: bool,
    /// A checkpoint was signed at open because entries after the last one had none.
    pub checkpoint_added: bool,
}

/// A checkpoint as stored: its size and signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it commits to.
    pub size: u64,
    /// The signed note.
    pub note: Vec<u8>,
}

#[derive(Debug, Clone)]
struct SegmentHandle {
    first_seq: u64,
    file: Arc<File>,
    path: PathBuf,
}

struct Inner {
    segments: RwLock<Vec<SegmentHandle>>,
    offsets: FlatReader<8>,
    hashes: FlatReader<32>,
    index: Index,
    size: AtomicU64,
    latest: RwLock<Option<Arc<StoredCheckpoint>>>,
    notify: tokio::sync::watch::Sender<u64>,
}

/// Reads the log from any thread. Cheap to clone.
#[derive(Clone)]
pub struct LogReader {
    inner: Arc<Inner>,
}

/// Appends to the log. There is exactly one, owned by the sequencer.
pub struct LogWriter {
    inner: Arc<Inner>,
    dir: PathBuf,
    options: LogOptions,
    format: Arc<dyn CheckpointFormat>,
    segment: SegmentHandle,
    segment_len: u64,
    offsets: FlatFile<8>,
    hashes: FlatFile<32>,
    committed: u64,
    next_seq: u64,
    last_leaf: Hash,
    buf: Vec<u8>,
    pending_offsets: Vec<u8>,
    pending_hashes: Vec<Hash>,
    pending_index: IndexBatch,
    /// Writes committed batches into the index behind the acknowledgement (started once
    /// open has re-derived what the index lacked).
    indexer: Option<Indexer>,
    poisoned: bool,
    /// Where the last commit left the writer (the current segment's first seq and length, and
    /// the last leaf): [`Self::recover`] goes back here.
    committed_at: (u64, u64, Hash),
    stats: CommitStats,
    derived_synced: u64,
    derived_synced_at: std::time::Instant,
}

/// The free space a full file system must regain before appends are tried again: room for a
/// new segment's first batches, the derived files and the index's next tables.
pub const RESUME_FREE_BYTES: u64 = 16 << 20;

/// Bytes free to an unprivileged writer on the file system holding `dir` (`statvfs`); `None`
/// when the file system cannot say.
#[must_use]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The name, in the data folder, of the derived files' durable sync point.
pub const DERIVED_SYNCED_FILE: &str = "derived.synced";
/// The derived files are made durable at least this often while appending.
const DERIVED_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// ... and at least every this many entries.
const DERIVED_SYNC_ENTRIES: u64 = 1 << 16;

/// Reads the derived files' sync point: the number of entries whose offsets and stored hashes
/// were made durable. Missing, short or failing its checksum: 0 (re-derive everything).
fn read_derived_synced(path: &Path) -> u64 {
    let Ok(bytes) = fs::read(path) else { return 0 };
    let Some((count, crc)) = bytes
        .get(..8)
        .zip(bytes.get(8..12))
        .and_then(|(c, k)| Some((<[u8; 8]>::try_from(c).ok()?, <[u8; 4]>::try_from(k).ok()?)))
    else {
        return 0;
    };
    if crc32fast::hash(&count) == u32::from_le_bytes(crc) {
        u64::from_le_bytes(count)
    } else {
        0
    }
}

/// Writes the sync point in place (12 bytes, one sector: a crash leaves the old or the new value,
/// and a torn write fails the checksum, which reads as 0) and makes it durable.
fn write_derived_synced(path: &Path, entries: u64) -> Result<(), StoreError> {
    let mut bytes = entries.to_le_bytes().to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&entries.to_le_bytes()).to_le_bytes());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    file.write_all_at(&bytes, 0)
        .and_then(|()| file.sync_data())
        .map_err(|e| StoreError::io(path, e))
}

/// The error for damage at the end of `scan` in `path`, whose first entry is `first_seq`.
fn damaged(path: &Path, scan: &segment::Scan, first_seq: u64, why: String) -> StoreError {
    let seq = first_seq.saturating_add(scan.entries());
    let what = if scan.damaged_looks_like_checkpoint {
        format!("the checkpoint of size {seq} (or entry {seq})")
    } else {
        format!("entry {seq}")
    };
    StoreError::Damaged {
        segment: path.to_path_buf(),
        offset: scan.good_len,
        seq,
        what,
        why,
    }
}

/// Whether a segment file is what a crash while creating it leaves: shorter than a header and a
/// prefix of the header it should have (or zeros), or a header's length of zeros. Nothing in it
/// was ever written by a commit, since the header is made durable before the first record.
fn is_creation_remnant(path: &Path, first_seq: u64) -> Result<bool, StoreError> {
    let len = fs::metadata(path)
        .map_err(|e| StoreError::io(path, e))?
        .len();
    if len > segment::HEADER_BYTES {
        return Ok(false);
    }
    let bytes = fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let mut expected = segment::MAGIC.to_vec();
    expected.extend_from_slice(&first_seq.to_le_bytes());
    let zeros = bytes.iter().all(|&b| b == 0);
    Ok(zeros || (len < segment::HEADER_BYTES && expected.starts_with(&bytes)))
}

/// Where commit time goes, summed over the writer's life (for benchmarks and metrics).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct CommitStats {
    /// Commits done.
    pub commits: u64,
    /// Entries committed.
    pub entries: u64,
    /// Nanoseconds computing the root and signing checkpoints.
    pub checkpoint_ns: u64,
    /// Nanoseconds writing and `fdatasync`ing segments.
    pub sync_ns: u64,
    /// Nanoseconds writing the derived files.
    pub derived_ns: u64,
    /// Nanoseconds handing batches to the indexer (the index is written on its own thread).
    pub index_ns: u64,
}

/// Reads stored hashes from the file, and from a pending in-memory tail.
struct HashView<'a> {
    file: &'a FlatReader<32>,
    file_len: u64,
    pending: &'a [Hash],
}

impl HashReader for HashView<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                if i >= self.file_len {
                    usize::try_from(i - self.file_len)
                        .ok()
                        .and_then(|k| self.pending.get(k).copied())
                        .ok_or(tlog_tiles::Error::InvalidProof)
                } else {
                    self.file
                        .read(i)
                        .map(Hash)
                        .map_err(|_| tlog_tiles::Error::InvalidProof)
                }
            })
            .collect()
    }
}

fn find_segment(segments: &[SegmentHandle], seq: u64) -> Option<&SegmentHandle> {
    let i = segments.partition_point(|s| s.first_seq <= seq);
    i.checked_sub(1).map(|i| &segments[i])
}

fn open_segment(path: &Path, first_seq: u64) -> Result<SegmentHandle, StoreError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    segment::read_header(&mut file, path, first_seq)?;
    Ok(SegmentHandle {
        first_seq,
        file: Arc::new(file),
        path: path.to_path_buf(),
    })
}

impl LogWriter {
    /// Opens the log in `dir` (creating it if empty), repairs a torn tail, re-derives whatever the
    /// derived files and the index lack, and signs a checkpoint if the last entries have none.
    ///
    /// # Errors
    /// I/O errors, and damage that cannot be repaired without losing acknowledged entries.
    pub fn open(
        dir: &Path,
        options: LogOptions,
        format: Arc<dyn CheckpointFormat>,
    ) -> Result<(Self, LogReader, OpenReport), StoreError> {
        Self::open_with_index_cache(dir, options, format, INDEX_CACHE_BYTES_DEFAULT)
    }

    /// [`LogWriter::open`] with the index's page cache of `index_cache_bytes`.
    ///
    /// # Errors
    /// As [`LogWriter::open`].
    pub fn open_with_index_cache(
        dir: &Path,
        options: LogOptions,
        format: Arc<dyn CheckpointFormat>,
        index_cache_bytes: u64,
    ) -> Result<(Self, LogReader, OpenReport), StoreError> {
        if options.segment_bytes_max < 4096 {
            return Err(StoreError::Config(
                "segment_bytes_max must be at least 4096".into(),
            ));
        }
        let mut report = OpenReport::default();
        let log_dir = dir.join("log");
        fs::create_dir_all(&log_dir).map_err(|e| StoreError::io(&log_dir, e))?;

        // The index opens on its own thread while the segments are listed and scanned: its
        // engine replays its journal (up to 64 MB after a kill), the longest part of an open.
        // Its high-water mark, a lower bound on acknowledged entries, is first needed below,
        // once the last segment is scanned.
        let opening = {
            let (dir, index_dir) = (dir.to_path_buf(), dir.join("index"));
            std::thread::Builder::new()
                .name("index-open".into())
                .spawn(move || open_or_rebuild_index(&dir, &index_dir, index_cache_bytes))
                .map_err(|e| StoreError::Config(format!("cannot spawn a thread: {e}")))?
        };

        let mut listed = segment::list(&log_dir)?;
        if let Some((first, path)) = listed.last().cloned()
            && is_creation_remnant(&path, first)?
        {
            // A crash between creating the next segment file and making its header durable:
            // the file holds nothing, so removing it loses nothing.
            tracing::warn!(
                segment = %path.display(),
                "removing an empty segment file left by a crash while it was created"
            );
            fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            segment::sync_dir(&log_dir)?;
            listed.pop();
            report.empty_segment_removed = true;
        }
        if listed.is_empty() {
            let (_, path) = segment::create(&log_dir, 0)?;
            listed.push((0, path));
        }
        if listed[0].0 != 0 {
            return Err(StoreError::Corrupt(format!(
                "the first segment starts at seq {}, not 0",
                listed[0].0
            )));
        }
        let mut segments = Vec::with_capacity(listed.len());
        for (first, path) in &listed {
            segments.push(open_segment(path, *first)?);
        }
        report.segments = segments.len();

        // Scan the last segment and cut a torn tail: only what follows the last durable
        // checkpoint. A checkpoint record past the damage proves the damaged bytes were
        // acknowledged (it was written after them, in the same or a later fdatasync).
        let last = segments.last().expect("at least one segment").clone();
        let mut scan = segment::scan(&last.path, 0)?;
        // Entries after the last checkpoint record are a batch whose sync did not finish: none
        // of them was acknowledged (a batch is acknowledged only once its checkpoint is
        // durable), so they are part of the torn tail. Cutting them whole, rather than keeping
        // them and signing a checkpoint over them, keeps every checkpoint at the end of a
        // sequencer batch, where the last entry carries the state map's root. Not when a
        // checkpoint follows damage: the damaged bytes were acknowledged, the open refuses
        // below, and the refusal must name the damaged record, not the start of its batch. Nor
        // when the damage is not what a torn write leaves (a whole record failing its checksum,
        // a length field changed): it was changed after it was written, perhaps acknowledged.
        let damaged_tail = match &scan.tail {
            Some(segment::Tail::Damaged(why)) => Some(why.clone()),
            _ => None,
        };
        let unfinished = match scan
            .records
            .iter()
            .rposition(|r| r.kind == RecordKind::Checkpoint)
        {
            Some(i) => scan.records.get(i + 1).map(|r| r.offset),
            None => scan.records.first().map(|r| r.offset),
        };
        if let Some(at) =
            unfinished.filter(|_| scan.checkpoint_after_damage.is_none() && damaged_tail.is_none())
        {
            scan.records.retain(|r| r.offset < at);
            scan.good_len = at;
        }
        let size = last.first_seq + scan.entries();
        let (index, rebuilt) = opening
            .join()
            .map_err(|_| StoreError::Config("the thread opening the index panicked".into()))??;
        report.index_rebuilt = rebuilt;
        let index_hwm = index.hwm()?;
        // The derived files' sync point counts entries made durable, hence acknowledged, before
        // it was written: like the index's mark, a lower bound on what was acknowledged.
        let derived_synced = read_derived_synced(&dir.join(DERIVED_SYNCED_FILE));
        if scan.good_len < scan.file_len {
            if let Some(at) = scan.checkpoint_after_damage {
                return Err(damaged(
                    &last.path,
                    &scan,
                    last.first_seq,
                    format!(
                        "a checkpoint written after it (at byte {at}) is intact, so the damaged \
                         bytes were acknowledged; this is not a torn tail"
                    ),
                ));
            }
            if let Some(why) = damaged_tail {
                return Err(damaged(&last.path, &scan, last.first_seq, why));
            }
            if size < index_hwm.max(derived_synced) {
                return Err(damaged(
                    &last.path,
                    &scan,
                    last.first_seq,
                    format!(
                        "the index had absorbed {index_hwm} entries and the derived files were \
                         made durable at {derived_synced}, the intact records hold {size}; \
                         cutting would lose acknowledged entries"
                    ),
                ));
            }
            tracing::warn!(
                segment = %last.path.display(),
                at = scan.good_len,
                bytes = scan.file_len - scan.good_len,
                "cutting a torn tail"
            );
            last.file
                .set_len(scan.good_len)
                .and_then(|()| last.file.sync_all())
                .map_err(|e| StoreError::io(&last.path, e))?;
            report.torn_tail_bytes = scan.file_len - scan.good_len;
        } else if size < index_hwm.max(derived_synced) {
            return Err(StoreError::Corrupt(format!(
                "the segments hold {size} entries but the index absorbed {index_hwm} and the \
                 derived files were made durable at {derived_synced}: acknowledged entries are \
                 missing"
            )));
        }
        report.entries = size;

        let (notify, _) = tokio::sync::watch::channel(size);
        let offsets = FlatFile::<8>::open(&dir.join("offsets"))?;
        let hashes = FlatFile::<32>::open(&dir.join("hashes"))?;
        let inner = Arc::new(Inner {
            segments: RwLock::new(segments.clone()),
            offsets: offsets.reader(),
            hashes: hashes.reader(),
            index,
            size: AtomicU64::new(0),
            latest: RwLock::new(None),
            notify,
        });
        let mut writer = Self {
            inner: Arc::clone(&inner),
            dir: dir.to_path_buf(),
            options,
            format,
            segment: last.clone(),
            segment_len: scan.good_len,
            offsets,
            hashes,
            committed: size,
            next_seq: size,
            last_leaf: ZERO_HASH,
            buf: Vec::new(),
            pending_offsets: Vec::new(),
            pending_hashes: Vec::new(),
            pending_index: IndexBatch::default(),
            indexer: None,
            poisoned: false,
            committed_at: (last.first_seq, scan.good_len, ZERO_HASH),
            stats: CommitStats::default(),
            derived_synced: 0,
            derived_synced_at: std::time::Instant::now(),
        };
        // The derived files are trusted only up to their durable sync point; what lies beyond
        // may hold holes after a power loss, so it is cut here and re-derived below.
        let synced = read_derived_synced(&dir.join(DERIVED_SYNCED_FILE)).min(size);
        let had = writer.offsets.len().min(size);
        writer.offsets.truncate(synced)?;
        let tree = largest_tree_within(writer.hashes.len()).min(size);
        writer
            .hashes
            .truncate(tlog_tiles::stored_hash_count(tree.min(synced)))?;
        report.derived_unsynced = had.max(tree).saturating_sub(synced);
        writer.rederive(size, index_hwm, &segments, &mut report)?;
        if !writer.offsets_tail_ok(size) {
            // The offsets file is written without fsync; after a power loss its tail may hold
            // zeros or stale values. Re-derive it from the segments.
            tracing::warn!("the offsets file disagrees with the segments; re-deriving it");
            writer.offsets.truncate(0)?;
            writer.rederive(size, size, &segments, &mut report)?;
            if !writer.offsets_tail_ok(size) {
                return Err(StoreError::Corrupt(
                    "the offsets re-derived from the segments still disagree with them".into(),
                ));
            }
        }
        writer.indexer = Some(Indexer::start(&writer.inner.index)?);
        let reader = LogReader { inner };
        inner_publish(&writer.inner, size, None);
        if size > 0 {
            writer.last_leaf = hash::leaf_hash(&reader.entry(size - 1)?);
        }

        // The latest checkpoint, from the index (re-derived above from the segments if behind).
        let latest = writer.inner.index.checkpoint_at_or_before(size)?;
        match latest {
            Some((cp_size, note)) if cp_size == size => {
                inner_publish(&writer.inner, size, Some(StoredCheckpoint { size, note }));
            }
            _ if size > 0 => {
                // Entries after the last checkpoint (a crash between the segment write and its
                // index update, or an unacknowledged batch that landed whole): sign one now.
                let time_ms = LoggedEntry::decode(&reader.entry(size - 1)?)
                    .map_err(|e| StoreError::BadEntry {
                        seq: size - 1,
                        message: e.to_string(),
                    })?
                    .recorded_at_ms;
                writer.commit(time_ms)?;
                report.checkpoint_added = true;
            }
            _ => {}
        }
        // Whatever was re-derived is made durable now, so the next open starts from here.
        writer.sync_derived()?;
        writer.mark_committed();
        Ok((writer, reader, report))
    }

    fn rederive(
        &mut self,
        size: u64,
        index_hwm: u64,
        segments: &[SegmentHandle],
        report: &mut OpenReport,
    ) -> Result<(), StoreError> {
        // Offsets: cut anything beyond the segments, then fill the gap by scanning.
        self.offsets.truncate(size)?;
        let mut have_offsets = self.offsets.len();
        // Stored hashes: cut to a whole tree size no larger than the log.
        let mut tree = largest_tree_within(self.hashes.len()).min(size);
        self.hashes.truncate(tlog_tiles::stored_hash_count(tree))?;
        let mut index_from = index_hwm.min(size);
        let index_start = index_from;
        report.offsets_rederived = size - have_offsets;
        report.hashes_rederived = size - tree;
        report.index_rederived = size - index_from;

        let low = have_offsets.min(tree).min(index_from);
        if low < size {
            tracing::info!(
                from = low,
                to = size,
                "re-deriving offsets, hashes and index"
            );
            // Read from the last entry before `low` whose offset is known (the offsets file is
            // trusted below `have_offsets`, which is at least `low`), not from the start of its
            // segment: an open after a crash re-derives about one index chunk, and reading the
            // whole 64 MiB segment around it was most of that work.
            let resume = low.checked_sub(1).and_then(|before| {
                let seg = find_segment(segments, before)?;
                let offset = u64::from_le_bytes(self.offsets.read(before).ok()?);
                Some((seg.first_seq, before, offset))
            });
            let start = resume.map_or_else(
                || find_segment(segments, low).map_or(0, |s| s.first_seq),
                |(first, _, _)| first,
            );
            let first_index = segments.partition_point(|s| s.first_seq <= start) - 1;
            let mut seq_pending_hashes: Vec<Hash> = Vec::new();
            let mut batch = IndexBatch::default();
            let mut batch_len = 0usize;
            for seg in &segments[first_index..] {
                let (mut seq, from) = match resume {
                    Some((first, before, offset)) if first == seg.first_seq => (before, offset),
                    _ => (seg.first_seq, 0),
                };
                let scan = segment::scan(&seg.path, from)?;
                if scan.good_len < scan.file_len {
                    // The last segment's torn tail was cut above, so this is damage inside the
                    // log: in a segment followed by another, every record was acknowledged.
                    return Err(damaged(
                        &seg.path,
                        &scan,
                        seg.first_seq,
                        "a later segment exists, so every record of this one was acknowledged"
                            .into(),
                    ));
                }
                for rec in scan.records {
                    match rec.kind {
                        RecordKind::Checkpoint => {
                            // The checkpoint covers the entries before it.
                            if seq > index_start {
                                batch.checkpoint(seq, &rec.payload);
                            }
                        }
                        RecordKind::Entry => {
                            if seq >= size {
                                break;
                            }
                            if seq == have_offsets {
                                self.offsets.append(&rec.offset.to_le_bytes())?;
                                have_offsets += 1;
                            }
                            if seq == tree {
                                let view = HashView {
                                    file: &self.hashes.reader(),
                                    file_len: self.hashes.len(),
                                    pending: &seq_pending_hashes,
                                };
                                let new = tlog_tiles::stored_hashes_for_record_hash(
                                    seq,
                                    hash::leaf_hash(split_record(&rec.payload).0),
                                    &view,
                                )
                                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                                seq_pending_hashes.extend(new);
                                tree += 1;
                                if seq_pending_hashes.len() >= 1 << 16 {
                                    self.hashes.append(&flatten(&seq_pending_hashes))?;
                                    seq_pending_hashes.clear();
                                }
                            }
                            if seq == index_from {
                                let (entry_bytes, opening) = split_record(&rec.payload);
                                let entry =
                                    Entry::decode_with(entry_bytes, opening).map_err(|e| {
                                        StoreError::BadEntry {
                                            seq,
                                            message: e.to_string(),
                                        }
                                    })?;
                                if entry.seq != seq {
                                    return Err(StoreError::BadEntry {
                                        seq,
                                        message: format!("holds seq {}", entry.seq),
                                    });
                                }
                                batch.entry(&entry);
                                batch_len += 1;
                                index_from += 1;
                                if batch_len >= crate::index::CHUNK_ENTRIES {
                                    self.inner
                                        .index
                                        .apply(std::mem::take(&mut batch), index_from)?;
                                    batch_len = 0;
                                }
                            }
                            seq += 1;
                            if seq.is_multiple_of(1_000_000) {
                                tracing::info!(seq, of = size, "re-deriving");
                            }
                        }
                    }
                }
            }
            self.hashes.append(&flatten(&seq_pending_hashes))?;
            self.inner.index.apply(batch, index_from)?;
            if have_offsets != size || tree != size || index_from != size {
                return Err(StoreError::Corrupt(format!(
                    "segments end early: offsets {have_offsets}, hashes {tree}, index \
                     {index_from}, expected {size}"
                )));
            }
        }
        self.check_root_against_checkpoint(size)
    }

    /// Whether the last entries' offsets (up to 1024 of them) point at entry records holding
    /// those seqs: the cheap check of the derived offsets file.
    fn offsets_tail_ok(&self, size: u64) -> bool {
        let reader = LogReader {
            inner: Arc::clone(&self.inner),
        };
        (size.saturating_sub(1024)..size).all(|seq| {
            reader
                .record_unpublished(seq)
                .ok()
                .and_then(|record| LoggedEntry::decode(split_record(&record).0).ok())
                .is_some_and(|e| e.seq == seq)
        })
    }

    /// The cheap consistency check of the derived hashes: the root they give at the latest
    /// checkpoint's size must be the signed root. On a mismatch (derived files damaged, e.g. by a
    /// power loss) the hashes are re-derived from scratch.
    fn check_root_against_checkpoint(&mut self, size: u64) -> Result<(), StoreError> {
        let Some((cp_size, note)) = self.inner.index.checkpoint_at_or_before(size)? else {
            return Ok(());
        };
        let Some((signed_size, signed_root)) = self.format.parse(&note) else {
            return Err(StoreError::Corrupt(format!(
                "stored checkpoint at size {cp_size} does not parse"
            )));
        };
        if signed_size != cp_size {
            return Err(StoreError::Corrupt(format!(
                "stored checkpoint at size {cp_size} says size {signed_size}"
            )));
        }
        let view = HashView {
            file: &self.hashes.reader(),
            file_len: self.hashes.len(),
            pending: &[],
        };
        let root = tlog_tiles::tree_hash(cp_size, &view).ok();
        if root == Some(signed_root) {
            return Ok(());
        }
        tracing::warn!(
            size = cp_size,
            "stored hashes disagree with the checkpoint; re-deriving all"
        );
        self.hashes.truncate(0)?;
        let mut pending = Vec::new();
        let reader = LogReader {
            inner: Arc::clone(&self.inner),
        };
        for seq in 0..size {
            let record = reader.record_unpublished(seq)?;
            let bytes = split_record(&record).0;
            let view = HashView {
                file: &self.hashes.reader(),
                file_len: self.hashes.len(),
                pending: &pending,
            };
            let new = tlog_tiles::stored_hashes_for_record_hash(seq, hash::leaf_hash(bytes), &view)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            pending.extend(new);
            if pending.len() >= 1 << 16 {
                self.hashes.append(&flatten(&pending))?;
                pending.clear();
            }
        }
        self.hashes.append(&flatten(&pending))?;
        let view = HashView {
            file: &self.hashes.reader(),
            file_len: self.hashes.len(),
            pending: &[],
        };
        if tlog_tiles::tree_hash(cp_size, &view).ok() == Some(signed_root) {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!(
                "the entries do not hash to the root signed at size {cp_size}"
            )))
        }
    }

    /// The seq the next staged entry gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The leaf hash of the last staged or committed entry (zero for an empty log).
    #[must_use]
    pub fn last_leaf(&self) -> Hash {
        self.last_leaf
    }

    /// Entries durable so far.
    #[must_use]
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Bytes staged and not yet committed.
    #[must_use]
    pub fn staged_bytes(&self) -> usize {
        self.buf.len()
    }

    /// A reader of this log.
    #[must_use]
    pub fn reader(&self) -> LogReader {
        LogReader {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Stages an entry (its seq must be [`Self::next_seq`] and its `prev_hash`
    /// [`Self::last_leaf`]); nothing is durable or visible until [`Self::commit`].
    ///
    /// # Errors
    /// A poisoned writer, or an entry that does not continue the chain.
    /// `bytes` are the entry's canonical bytes, `opening` its opening's (version 2).
    pub fn stage(
        &mut self,
        entry: &Entry,
        bytes: &[u8],
        opening: Option<&[u8]>,
    ) -> Result<Hash, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if entry.seq != self.next_seq || entry.prev_hash != self.last_leaf {
            return Err(StoreError::Corrupt(format!(
                "staged entry {} does not continue the chain at {}",
                entry.seq, self.next_seq
            )));
        }
        // Everything that can fail comes first, so that a failure leaves nothing staged.
        let leaf = hash::leaf_hash(bytes);
        let view = HashView {
            file: &self.inner.hashes,
            file_len: self.hashes.len(),
            pending: &self.pending_hashes,
        };
        let new = tlog_tiles::stored_hashes_for_record_hash(self.next_seq, leaf, &view)
            .map_err(|e| StoreError::Corrupt(format!("stored hashes: {e}")))?;
        if self.buf.is_empty() && self.segment_len >= self.options.segment_bytes_max {
            self.roll()?;
        }
        let offset = self.segment_len + self.buf.len() as u64;
        match opening {
            None => segment::frame(RecordKind::Entry, bytes, &mut self.buf),
            Some(o) => segment::frame(
                RecordKind::Entry,
                &join_record(bytes, Some(o)),
                &mut self.buf,
            ),
        }
        self.pending_offsets
            .extend_from_slice(&offset.to_le_bytes());
        self.pending_hashes.extend(new);
        self.pending_index.entry(entry);
        self.next_seq += 1;
        self.last_leaf = leaf;
        Ok(leaf)
    }

    fn roll(&mut self) -> Result<(), StoreError> {
        let log_dir = self.dir.join("log");
        let (file, path) = segment::create(&log_dir, self.next_seq)?;
        let handle = SegmentHandle {
            first_seq: self.next_seq,
            file: Arc::new(file),
            path,
        };
        self.inner
            .segments
            .write()
            .expect("segment list lock is never poisoned: no code panics while holding it")
            .push(handle.clone());
        self.segment = handle;
        self.segment_len = segment::HEADER_BYTES;
        Ok(())
    }

    /// Makes every staged entry durable, followed by a checkpoint over the whole log signed at
    /// `time_ms`, then publishes them to readers. Returns the new size and checkpoint.
    ///
    /// # Errors
    /// I/O errors; after one the writer is poisoned.
    pub fn commit(&mut self, time_ms: i64) -> Result<Arc<StoredCheckpoint>, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let result = self.commit_inner(time_ms);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// Where commit time went so far.
    #[must_use]
    pub fn stats(&self) -> CommitStats {
        self.stats
    }

    fn commit_inner(&mut self, time_ms: i64) -> Result<Arc<StoredCheckpoint>, StoreError> {
        let job = self.begin(time_ms)?;
        let sync = job.run().map(|ns| (job, ns));
        self.end(sync)
    }

    /// Seals every staged entry with a checkpoint signed at `time_ms` and hands back the bytes
    /// to make durable; the caller runs [`SyncJob::run`] (on any thread) and then passes its
    /// result to [`Self::commit_end`]. Nothing may be staged in between.
    ///
    /// # Errors
    /// A poisoned writer, or stored hashes that do not give a root; the writer is then poisoned.
    pub fn commit_begin(&mut self, time_ms: i64) -> Result<SyncJob, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let result = self.begin(time_ms);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// Publishes a batch whose [`SyncJob::run`] returned `sync` (the job and its nanoseconds):
    /// the derived files and the index follow, then readers see it. Returns its checkpoint.
    ///
    /// # Errors
    /// The sync's error, or the derived files'; after one the writer is poisoned.
    pub fn commit_end(
        &mut self,
        sync: Result<(SyncJob, u64), StoreError>,
    ) -> Result<Arc<StoredCheckpoint>, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let result = self.end(sync);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn begin(&mut self, time_ms: i64) -> Result<SyncJob, StoreError> {
        let t0 = std::time::Instant::now();
        let size = self.next_seq;
        let view = HashView {
            file: &self.inner.hashes,
            file_len: self.hashes.len(),
            pending: &self.pending_hashes,
        };
        let root = tlog_tiles::tree_hash(size, &view)
            .map_err(|e| StoreError::Corrupt(format!("tree hash: {e}")))?;
        let note = self.format.sign(size, &root, time_ms);
        segment::frame(RecordKind::Checkpoint, &note, &mut self.buf);
        Ok(SyncJob {
            file: Arc::clone(&self.segment.file),
            path: self.segment.path.clone(),
            offset: self.segment_len,
            buf: std::mem::take(&mut self.buf),
            size,
            note,
            fault: self.options.sync_fault.clone(),
            root_ns: u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX),
        })
    }

    fn end(
        &mut self,
        sync: Result<(SyncJob, u64), StoreError>,
    ) -> Result<Arc<StoredCheckpoint>, StoreError> {
        let (job, sync_ns) = sync?;
        let size = job.size;
        self.stats.commits += 1;
        self.stats.entries += size - self.committed;
        self.segment_len += job.buf.len() as u64;
        // Keep the buffer's capacity for the next batch.
        let mut buf = job.buf;
        buf.clear();
        self.buf = buf;
        // Durable from here on. The derived files and the index follow; if they fail, a reopen
        // re-derives them from the segment.
        let t2 = std::time::Instant::now();
        self.offsets.append(&self.pending_offsets)?;
        self.pending_offsets.clear();
        self.hashes.append(&flatten(&self.pending_hashes))?;
        self.pending_hashes.clear();
        let t3 = std::time::Instant::now();
        let note = job.note;
        let mut batch = std::mem::take(&mut self.pending_index);
        batch.checkpoint(size, &note);
        match &self.indexer {
            // Handed over, not written: readers see it through the overlay at once.
            Some(indexer) => indexer.apply(batch, size)?,
            None => self.inner.index.apply(batch, size)?,
        }
        let t4 = std::time::Instant::now();
        let ns = |a: std::time::Instant, b: std::time::Instant| {
            u64::try_from((b - a).as_nanos()).unwrap_or(u64::MAX)
        };
        self.stats.checkpoint_ns += job.root_ns;
        self.stats.sync_ns += sync_ns;
        self.stats.derived_ns += ns(t2, t3);
        self.stats.index_ns += ns(t3, t4);
        self.committed = size;
        self.mark_committed();
        if (size - self.derived_synced >= DERIVED_SYNC_ENTRIES
            || self.derived_synced_at.elapsed() >= DERIVED_SYNC_INTERVAL)
            && let Err(error) = self.sync_derived()
        {
            // The batch is durable in its segment; only the derived files' sync point stays
            // behind, and an open re-derives what lies beyond it. Tried again next batch.
            tracing::warn!(%error, "the derived files could not be made durable");
            self.derived_synced_at = std::time::Instant::now();
        }
        let checkpoint = StoredCheckpoint { size, note };
        Ok(inner_publish(&self.inner, size, Some(checkpoint)).expect("a checkpoint was given"))
    }

    fn mark_committed(&mut self) {
        self.committed_at = (self.segment.first_seq, self.segment_len, self.last_leaf);
    }

    /// After a failed stage or commit (a full disk): discards everything not committed — the
    /// staged entries, a batch written in part, or one made durable and not published, which
    /// no receipt names — so that appends go on from the last published checkpoint. A segment
    /// begun since is removed, the current one and the derived files are cut back to their
    /// committed length, and the indexer takes batches again. What is published is untouched.
    ///
    /// The bytes cut are written afresh by later batches and synced then: a failed sync is
    /// never retried on the same pages.
    ///
    /// # Errors
    /// An indexer that failed for another reason than a full disk, or I/O errors while cutting
    /// (the writer then stays poisoned).
    pub fn recover(&mut self) -> Result<(), StoreError> {
        self.poisoned = true;
        if let Some(indexer) = &self.indexer {
            indexer.resume()?;
        }
        let (first_seq, len, leaf) = self.committed_at;
        let removed = {
            let mut segments = self
                .inner
                .segments
                .write()
                .expect("segment list lock is never poisoned: no code panics while holding it");
            let mut removed = Vec::new();
            while segments.last().is_some_and(|s| s.first_seq > first_seq) {
                removed.extend(segments.pop());
            }
            if let Some(last) = segments.last() {
                self.segment = last.clone();
            }
            removed
        };
        for segment in &removed {
            match fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&segment.path, e)),
            }
        }
        if !removed.is_empty() {
            segment::sync_dir(&self.dir.join("log"))?;
        }
        self.segment
            .file
            .set_len(len)
            .and_then(|()| self.segment.file.sync_data())
            .map_err(|e| StoreError::io(&self.segment.path, e))?;
        self.segment_len = len;
        self.offsets.truncate(self.committed)?;
        self.hashes
            .truncate(tlog_tiles::stored_hash_count(self.committed))?;
        self.buf.clear();
        self.pending_offsets.clear();
        self.pending_hashes.clear();
        self.pending_index = IndexBatch::default();
        self.next_seq = self.committed;
        self.last_leaf = leaf;
        self.poisoned = false;
        tracing::info!(size = self.committed, "the log writer recovered");
        Ok(())
    }

    /// Whether the log's file system has room to try appending again after it was full:
    /// at least [`RESUME_FREE_BYTES`] free to this process.
    #[must_use]
    pub fn room_to_resume(&self) -> bool {
        free_bytes(&self.dir).is_some_and(|free| free >= RESUME_FREE_BYTES)
    }

    /// Makes the derived files durable up to the committed size and records that as their sync
    /// point (`DATA/derived.synced`): on open, they are trusted up to there and re-derived after.
    ///
    /// # Errors
    /// I/O errors.
    fn sync_derived(&mut self) -> Result<(), StoreError> {
        self.offsets.sync()?;
        self.hashes.sync()?;
        write_derived_synced(&self.dir.join(DERIVED_SYNCED_FILE), self.committed)?;
        self.derived_synced = self.committed;
        self.derived_synced_at = std::time::Instant::now();
        Ok(())
    }

    /// Makes the derived files durable and flushes the index (not needed for durability of
    /// entries; used on a clean shutdown so the next open has nothing to re-derive).
    ///
    /// # Errors
    /// I/O and index errors.
    pub fn flush_derived(&mut self) -> Result<(), StoreError> {
        self.sync_derived()?;
        if let Some(indexer) = &self.indexer {
            indexer.drain()?;
        }
        self.inner.index.flush()
    }
}

/// Opens the index in `index_dir`, or, when it cannot be opened, sets the folder aside and
/// opens a new one (the log then re-derives it); says which.
fn open_or_rebuild_index(
    dir: &Path,
    index_dir: &Path,
    index_cache_bytes: u64,
) -> Result<(Index, bool), StoreError> {
    match Index::open(index_dir, index_cache_bytes) {
        Ok(index) => Ok((index, false)),
        Err(error) => {
            tracing::warn!(%error, "the index does not open; rebuilding it from the log");
            // A name no earlier rebuild used, even under the same process id (a node in a
            // container is often process 1 each time it starts).
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut aside = dir.join(format!("index.broken.{stamp}"));
            let mut n = 0u32;
            while aside.exists() {
                n += 1;
                aside = dir.join(format!("index.broken.{stamp}.{n}"));
            }
            tracing::warn!(aside = %aside.display(), "the unusable index is kept there; it may be deleted");
            fs::rename(index_dir, &aside).map_err(|e| StoreError::io(index_dir, e))?;
            Ok((Index::open(index_dir, index_cache_bytes)?, true))
        }
    }
}

fn inner_publish(
    inner: &Inner,
    size: u64,
    checkpoint: Option<StoredCheckpoint>,
) -> Option<Arc<StoredCheckpoint>> {
    inner.size.store(size, Ordering::Release);
    let out = checkpoint.map(|cp| {
        let cp = Arc::new(cp);
        *inner
            .latest
            .write()
            .expect("checkpoint lock is never poisoned: no code panics while holding it") =
            Some(Arc::clone(&cp));
        cp
    });
    inner.notify.send_replace(size);
    out
}

fn flatten(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// The largest tree size whose stored hashes fit in `count` stored hashes.
fn largest_tree_within(count: u64) -> u64 {
    // stored_hash_count(n) is about 2n, monotone; binary search.
    let (mut lo, mut hi) = (0u64, count);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if tlog_tiles::stored_hash_count(mid) <= count {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

impl LogReader {
    /// Entries durable and visible.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.inner.size.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever the log grows (its value is the new size).
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.notify.subscribe()
    }

    /// The latest checkpoint, if any entry exists.
    #[must_use]
    pub fn latest_checkpoint(&self) -> Option<Arc<StoredCheckpoint>> {
        self.inner
            .latest
            .read()
            .expect("checkpoint lock is never poisoned: no code panics while holding it")
            .clone()
    }

    /// The exact bytes of entry `seq` (without its opening).
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] past the end; I/O errors; a damaged record.
    pub fn entry(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let mut record = self.record(seq)?;
        let len = split_record(&record).0.len();
        record.truncate(len);
        Ok(record)
    }

    /// The stored record of entry `seq`: its bytes and, for a version-2 entry, its opening
    /// (see [`deedlog_core::entry::split_record`]).
    ///
    /// # Errors
    /// As [`Self::entry`].
    pub fn record(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let size = self.size();
        if seq >= size {
            return Err(StoreError::OutOfRange(format!(
                "entry {seq} does not exist; the log has {size}"
            )));
        }
        self.record_unpublished(seq)
    }

    /// Entry `seq`, whole (a version-2 entry joined with its opening).
    ///
    /// # Errors
    /// As [`Self::entry`], and [`StoreError::BadEntry`] for a record that does not decode.
    pub fn whole_entry(&self, seq: u64) -> Result<Entry, StoreError> {
        let record = self.record(seq)?;
        let (bytes, opening) = split_record(&record);
        Entry::decode_with(bytes, opening).map_err(|e| StoreError::BadEntry {
            seq,
            message: e.to_string(),
        })
    }

    fn record_unpublished(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let offset = u64::from_le_bytes(self.inner.offsets.read(seq)?);
        let segment = {
            let segments = self
                .inner
                .segments
                .read()
                .expect("segment list lock is never poisoned: no code panics while holding it");
            find_segment(&segments, seq)
                .cloned()
                .ok_or_else(|| StoreError::Corrupt(format!("no segment holds entry {seq}")))?
        };
        match segment::read_record(&segment.file, &segment.path, offset)? {
            (RecordKind::Entry, bytes) => Ok(bytes),
            (RecordKind::Checkpoint, _) => Err(StoreError::Corrupt(format!(
                "the offset of entry {seq} points at a checkpoint"
            ))),
        }
    }

    /// The stored records (entry bytes and opening) of entries `start..end`.
    ///
    /// # Errors
    /// As [`Self::entry`].
    pub fn records(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        (start..end).map(|seq| self.record(seq)).collect()
    }

    /// The exact bytes of entries `start..end`.
    ///
    /// # Errors
    /// As [`Self::entry`].
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        (start..end).map(|seq| self.entry(seq)).collect()
    }

    /// The Merkle root of the first `size` entries.
    ///
    /// # Errors
    /// A size past the end; I/O errors.
    pub fn root(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_size(size)?;
        tlog_tiles::tree_hash(size, &self.hash_view())
            .map_err(|e| StoreError::Corrupt(format!("tree hash: {e}")))
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries (RFC 9162 §2.1.3).
    ///
    /// # Errors
    /// `seq >= size`, a size past the end; I/O errors.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        if seq >= size {
            return Err(StoreError::OutOfRange(format!(
                "entry {seq} is not in a tree of {size}"
            )));
        }
        tlog_tiles::prove_record(size, seq, &self.hash_view())
            .map_err(|e| StoreError::Corrupt(format!("inclusion proof: {e}")))
    }

    /// The consistency proof between the trees of `m` and `n` entries (RFC 9162 §2.1.4).
    ///
    /// # Errors
    /// `m > n`, `m == 0`, a size past the end; I/O errors.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(n)?;
        if m == 0 || m > n {
            return Err(StoreError::OutOfRange(format!(
                "no consistency proof from {m} to {n}: need 0 < m <= n"
            )));
        }
        tlog_tiles::prove_tree(n, m, &self.hash_view())
            .map_err(|e| StoreError::Corrupt(format!("consistency proof: {e}")))
    }

    /// The bytes of the C2SP tlog-tiles tile `addr` (hash tile or entry bundle), inside the
    /// published tree only: a tile that needs entries not yet durable does not exist.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] for a tile past the published size; [`StoreError::Corrupt`]
    /// for an entry too large for a bundle or unreadable stored hashes; I/O errors.
    pub fn tile(&self, addr: &crate::tiles::TileAddr) -> Result<Vec<u8>, StoreError> {
        use crate::tiles::{self, TileError, TileKind};
        let size = self.size();
        let map = |e: TileError| match e {
            TileError::BeyondTree { .. } | TileError::BadPath(_) => {
                StoreError::OutOfRange(e.to_string())
            }
            other => StoreError::Corrupt(other.to_string()),
        };
        match addr.kind {
            TileKind::Hashes { .. } => tiles::hash_tile(addr, size, &self.hash_view()).map_err(map),
            TileKind::Entries => {
                addr.check_within(size).map_err(map)?;
                let first = addr.n * u64::from(tiles::TILE_WIDTH);
                let entries = self.entries(first, first + u64::from(addr.width))?;
                tiles::entry_bundle(first, &entries).map_err(map)
            }
        }
    }

    /// The stored hashes at `indexes` (tlog stored-hash order, C2SP tlog-tiles), within the
    /// published tree only: an index at or past `stored_hash_count(size())` is out of range,
    /// even where the file already holds the hashes of a batch not yet published.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] past the published tree; I/O errors.
    pub fn stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let count = tlog_tiles::stored_hash_count(self.size());
        indexes
            .iter()
            .map(|&i| {
                if i >= count {
                    return Err(StoreError::OutOfRange(format!(
                        "stored hash {i} is past the published tree ({count} stored hashes)"
                    )));
                }
                self.inner.hashes.read(i).map(Hash)
            })
            .collect()
    }

    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let have = self.size();
        if size > have {
            Err(StoreError::OutOfRange(format!(
                "tree size {size} is past the end of the log ({have})"
            )))
        } else {
            Ok(())
        }
    }

    fn hash_view(&self) -> HashView<'_> {
        HashView {
            file: &self.inner.hashes,
            file_len: u64::MAX,
            pending: &[],
        }
    }

    /// The current version of `stream` (0 if it has no entry).
    ///
    /// # Errors
    /// Index errors.
    pub fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        self.inner.index.stream_version(stream)
    }

    /// The seqs of a stream's entries from version `from`, at most `limit`.
    ///
    /// # Errors
    /// Index errors.
    pub fn stream_seqs(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        self.inner.index.stream_seqs(stream, from, limit)
    }

    /// The seq of `actor`'s entry with `nonce`, if any.
    ///
    /// # Errors
    /// Index errors.
    pub fn nonce_seq(&self, actor: &str, nonce: &str) -> Result<Option<u64>, StoreError> {
        // The index keys are truncated hashes: confirm a hit against the entry.
        let Some(seq) = self.inner.index.nonce_seq(actor, nonce)? else {
            return Ok(None);
        };
        let entry = LoggedEntry::decode(&self.entry(seq)?).map_err(|e| StoreError::BadEntry {
            seq,
            message: e.to_string(),
        })?;
        Ok((entry.actor() == actor && entry.nonce() == nonce).then_some(seq))
    }

    /// The look-up of an `(actor, nonce)` the sequencer's verify workers make, off the
    /// sequencer's thread: the log size read *before* the look-up, which it covers (every entry
    /// with a lower seq was visible to it, [`Index::nonce_seq_of`]), and the seq of an entry
    /// below that size whose digest matches, if any. A hit is unconfirmed (the caller compares
    /// the entry's actor and nonce); an entry at or past the covered size is left to the
    /// sequencer, which holds the batches committed since in memory.
    ///
    /// # Errors
    /// Index errors.
    pub fn nonce_probe(
        &self,
        digest: &crate::index::NonceDigest,
    ) -> Result<(u64, Option<u64>), StoreError> {
        let covered = self.size();
        let hit = self
            .inner
            .index
            .nonce_seq_of(digest)?
            .filter(|&seq| seq < covered);
        Ok((covered, hit))
    }

    /// Stored checkpoints with sizes in `from..=to`.
    ///
    /// # Errors
    /// Index errors.
    pub fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<StoredCheckpoint>, StoreError> {
        Ok(self
            .inner
            .index
            .checkpoints(from, to)?
            .into_iter()
            .map(|(size, note)| StoredCheckpoint { size, note })
            .collect())
    }

    /// The first stored checkpoint of size ≥ `size`.
    ///
    /// # Errors
    /// Index errors.
    pub fn checkpoint_at_or_after(
        &self,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        Ok(self
            .inner
            .index
            .checkpoint_at_or_after(size)?
            .map(|(size, note)| StoredCheckpoint { size, note }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_tree_within_inverts_stored_hash_count() {
        for n in 0..2000u64 {
            let c = tlog_tiles::stored_hash_count(n);
            assert_eq!(largest_tree_within(c), n);
            if c > 0 {
                assert!(
                    largest_tree_within(c - 1) < n || tlog_tiles::stored_hash_count(n) == c - 1
                );
            }
        }
    }
}
