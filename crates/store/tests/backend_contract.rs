//! The log backend contract (`deedlog_store::backend`), as one suite generic over the backend:
//! whatever keeps the log, these must hold. The segment files are the first backend to pass it;
//! another (PostgreSQL) would add a [`Harness`] and run the same functions.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use deedlog_core::hash::{self, Hash, ZERO_HASH};
use deedlog_core::{Command, Entry, SecretKey};
use deedlog_store::{
    AcceptAll, CheckpointFormat, LogBackend, LogOptions, LogRead, LogWriter, Sequencer,
    SequencerConfig, StoreError, SyncWork,
};
use serde_json::json;

/// What the suite needs to know of a backend besides the contract: how to open one (fresh or
/// again, after whatever happened) and how to make its next durable write fail.
trait Harness {
    type B: LogBackend;
    /// Opens the log kept at `dir` (empty: a new log).
    fn open(&self, dir: &Path) -> Self::B;
    /// Opens it with the write of the batch that would reach `size` failing.
    fn open_failing_at(&self, dir: &Path, size: u64) -> Self::B;
    /// The `(size, root)` a checkpoint note commits to.
    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)>;
}

struct PlainFormat;

impl CheckpointFormat for PlainFormat {
    fn sign(&self, size: u64, root: &Hash, time_ms: i64) -> Vec<u8> {
        format!("{size}\n{}\n{time_ms}\n", hash::to_hex(root)).into_bytes()
    }
    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)> {
        let text = std::str::from_utf8(note).ok()?;
        let mut lines = text.lines();
        let size = lines.next()?.parse().ok()?;
        let root = hash::from_hex(lines.next()?).ok()?;
        Some((size, root))
    }
}

/// The segment files.
struct Segments;

impl Harness for Segments {
    type B = LogWriter;

    fn open(&self, dir: &Path) -> LogWriter {
        LogWriter::open(dir, LogOptions::default(), Arc::new(PlainFormat))
            .expect("opens")
            .0
    }

    fn open_failing_at(&self, dir: &Path, at: u64) -> LogWriter {
        let options = LogOptions {
            sync_fault: Some(Arc::new(move |size| {
                if size == at {
                    Err(std::io::Error::other("injected: the write fails"))
                } else {
                    Ok(())
                }
            })),
            ..LogOptions::default()
        };
        LogWriter::open(dir, options, Arc::new(PlainFormat))
            .expect("opens")
            .0
    }

    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)> {
        PlainFormat.parse(note)
    }
}

const NOW: i64 = 1_800_000_000_000;

/// The next entry of `backend`'s chain, on `stream` at `version`, with its record parts.
fn next_entry<B: LogBackend>(
    backend: &B,
    key: &SecretKey,
    stream: &str,
    version: u64,
) -> (Entry, Vec<u8>, Option<Vec<u8>>) {
    let seq = backend.next_seq();
    let signed = Command {
        actor: format!("test/{}", key.public().key_id()),
        key: key.public().to_base64(),
        kind: "test.note".into(),
        stream: stream.into(),
        expected_version: None,
        payload: json!({"seq": seq}),
        nonce: format!("contract-{seq:06}"),
        issued_at_ms: NOW,
    }
    .sign(key)
    .expect("a well-formed command");
    let entry = Entry {
        seq,
        recorded_at_ms: NOW + i64::try_from(seq).unwrap(),
        prev_hash: backend.last_leaf(),
        stream: stream.into(),
        stream_version: version,
        kind: "test.note".into(),
        signed,
        derived: json!({}),
    };
    let (bytes, opening) = entry.encode_record().expect("encodes");
    (entry, bytes, opening)
}

/// Stages `n` entries (on streams `test/S-0` and `test/S-1` in turn) and commits them with
/// `append`; returns their records as staged.
fn append_n<B: LogBackend>(backend: &mut B, key: &SecretKey, n: u64) -> Vec<Vec<u8>> {
    let reader = backend.reader();
    let mut versions = [0u64; 2];
    for (i, v) in versions.iter_mut().enumerate() {
        *v = reader.stream_version(&format!("test/S-{i}")).unwrap();
    }
    let first = backend.next_seq();
    let mut records = Vec::new();
    // Entries of one batch chain among themselves: each is built after the previous is staged.
    for _ in 0..n {
        let s = usize::try_from(backend.next_seq() % 2).unwrap();
        versions[s] += 1;
        let (entry, bytes, opening) = next_entry(backend, key, &format!("test/S-{s}"), versions[s]);
        backend
            .stage(&entry, &bytes, opening.as_deref())
            .expect("stages");
        records.push(deedlog_core::entry::join_record(&bytes, opening.as_deref()));
    }
    let job = backend.commit_begin(NOW).expect("seals");
    let sync = job.run().map(|ns| (job, ns));
    let checkpoint = backend.commit_end(sync).expect("commits");
    assert_eq!(checkpoint.size, first + n);
    records
}

fn leaf(record: &[u8]) -> Hash {
    hash::leaf_hash(deedlog_core::entry::split_record(record).0)
}

/// Appends are durable batches with consecutive seqs; nothing is visible before `commit_end`;
/// records come back byte for byte; the checkpoint of each batch commits to the root of the
/// stored hashes; proofs check.
fn appends_in_order_and_publishes_only_when_durable<H: Harness>(h: &H) {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[1; 32]);
    let mut backend = h.open(dir.path());
    let reader = backend.reader();
    assert_eq!(
        (backend.next_seq(), backend.committed(), reader.size()),
        (0, 0, 0)
    );
    assert_eq!(backend.last_leaf(), ZERO_HASH);
    assert!(reader.latest_checkpoint().is_none());

    // The split steps: staged, sealed and synced are still invisible.
    let mut watch = reader.subscribe();
    let (entry, bytes, opening) = next_entry(&backend, &key, "test/S-0", 1);
    let leaf0 = backend.stage(&entry, &bytes, opening.as_deref()).unwrap();
    assert_eq!(leaf0, hash::leaf_hash(&bytes));
    assert_eq!((backend.next_seq(), backend.last_leaf()), (1, leaf0));
    let job = backend.commit_begin(NOW).unwrap();
    assert_eq!(job.size(), 1);
    assert_eq!(reader.size(), 0, "nothing visible once sealed");
    let ns = job.run().unwrap();
    assert_eq!(reader.size(), 0, "nothing visible before commit_end");
    assert!(reader.record(0).is_err());
    let checkpoint = backend.commit_end(Ok((job, ns))).unwrap();
    assert_eq!(
        (checkpoint.size, reader.size(), backend.committed()),
        (1, 1, 1)
    );
    assert!(watch.has_changed().unwrap());
    assert_eq!(*watch.borrow_and_update(), 1);

    // The whole append in one call.
    let mut records = vec![deedlog_core::entry::join_record(&bytes, opening.as_deref())];
    records.extend(append_n(&mut backend, &key, 5));
    for _ in 0..3 {
        let s = backend.next_seq();
        let (entry, bytes, opening) = next_entry(&backend, &key, "test/S-2", s - 5);
        backend.stage(&entry, &bytes, opening.as_deref()).unwrap();
        records.push(deedlog_core::entry::join_record(&bytes, opening.as_deref()));
    }
    let job = backend.commit_begin(NOW + 10).unwrap();
    let sync = job.run().map(|ns| (job, ns));
    backend.commit_end(sync).unwrap();
    let (seqs, cp) = backend
        .append(&[next_entry(&backend, &key, "test/S-3", 1)], NOW + 11)
        .unwrap();
    assert_eq!((seqs, cp.size), (9..10, 10));
    records.push(reader.record(9).unwrap());
    assert_eq!(reader.size(), 10);

    assert_eq!(reader.records(0..10).unwrap(), records, "records as staged");
    assert!(reader.records(0..11).is_err(), "nothing past the size");
    // The chain: each entry names the leaf hash of the one before.
    let mut prev = ZERO_HASH;
    for (seq, record) in records.iter().enumerate() {
        let (bytes, opening) = deedlog_core::entry::split_record(record);
        let entry = Entry::decode_with(bytes, opening).unwrap();
        assert_eq!((entry.seq, entry.prev_hash), (seq as u64, prev));
        prev = leaf(record);
    }
    assert_eq!(backend.last_leaf(), prev);

    // Every batch ended in a checkpoint over the whole log, with the stored hashes' root.
    let checkpoints = reader.checkpoints(0, 10).unwrap();
    let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
    assert_eq!(sizes, [1, 6, 9, 10]);
    for c in &checkpoints {
        assert_eq!(
            h.parse(&c.note),
            Some((c.size, reader.root(c.size).unwrap()))
        );
        assert_eq!(reader.checkpoint(c.size).unwrap().as_ref(), Some(c));
    }
    assert_eq!(reader.checkpoint(7).unwrap(), None, "no batch ended at 7");
    assert_eq!(reader.checkpoint_at_or_after(7).unwrap().unwrap().size, 9);
    assert_eq!(reader.checkpoint_at_or_after(11).unwrap(), None);
    assert_eq!(reader.latest_checkpoint().unwrap().size, 10);

    // The stored hashes: the tlog layout, within the published tree only.
    let count = tlog_tiles::stored_hash_count(10);
    let all: Vec<u64> = (0..count).collect();
    let hashes = reader.stored_hashes(&all).unwrap();
    assert_eq!(hashes[0], leaf(&records[0]), "stored hash 0 is leaf 0");
    assert!(reader.stored_hashes(&[count]).is_err());
    for size in 1..=10u64 {
        let root = reader.root(size).unwrap();
        for seq in 0..size {
            let proof = reader.inclusion_proof(seq, size).unwrap();
            tlog_tiles::check_record(&proof, size, root, seq, leaf(&records[seq as usize]))
                .unwrap();
        }
        let proof = reader.consistency_proof(size, 10).unwrap();
        tlog_tiles::check_tree(&proof, 10, reader.root(10).unwrap(), size, root).unwrap();
    }
    assert!(reader.root(11).is_err());
    assert!(reader.inclusion_proof(10, 10).is_err());
    assert!(reader.consistency_proof(0, 10).is_err());

    // The derived look-ups answer for published entries.
    assert_eq!(reader.stream_version("test/S-2").unwrap(), 3);
    assert_eq!(reader.stream_version("test/none").unwrap(), 0);
    assert_eq!(reader.stream_seqs("test/S-2", 2, 10).unwrap(), [7, 8]);
    for seq in 0..10u64 {
        let actor = format!("test/{}", key.public().key_id());
        let digest = deedlog_store::index::nonce_digest(&actor, &format!("contract-{seq:06}"));
        assert_eq!(reader.nonce_probe(&digest).unwrap(), (10, Some(seq)));
    }
    let digest = deedlog_store::index::nonce_digest("test/x", "never-used");
    assert_eq!(reader.nonce_probe(&digest).unwrap(), (10, None));
}

/// An entry that does not continue the chain is refused and stages nothing.
fn refuses_an_entry_off_the_chain<H: Harness>(h: &H) {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[2; 32]);
    let mut backend = h.open(dir.path());
    append_n(&mut backend, &key, 2);
    let (mut entry, bytes, opening) = next_entry(&backend, &key, "test/S-9", 1);
    entry.seq += 1;
    assert!(backend.stage(&entry, &bytes, opening.as_deref()).is_err());
    let (mut entry, bytes, opening) = next_entry(&backend, &key, "test/S-9", 1);
    entry.prev_hash = ZERO_HASH;
    assert!(backend.stage(&entry, &bytes, opening.as_deref()).is_err());
    assert_eq!(backend.next_seq(), 2, "nothing was staged");
    // The writer goes on.
    append_n(&mut backend, &key, 1);
    assert_eq!(backend.reader().size(), 3);
}

/// What was published survives a reopen byte for byte, with its checkpoints; a batch whose
/// write failed poisons the writer, is never visible, and is not there after a reopen.
fn survives_reopen_and_a_failed_write_leaves_nothing<H: Harness>(h: &H) {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[3; 32]);
    let (records, checkpoints, root) = {
        let mut backend = h.open_failing_at(dir.path(), 7);
        let mut records = append_n(&mut backend, &key, 3);
        records.extend(append_n(&mut backend, &key, 2));
        let reader = backend.reader();
        // The batch reaching 7 fails.
        for _ in 0..2 {
            let s = backend.next_seq();
            let (entry, bytes, opening) = next_entry(&backend, &key, "test/F", s - 4);
            backend.stage(&entry, &bytes, opening.as_deref()).unwrap();
        }
        let job = backend.commit_begin(NOW).unwrap();
        let sync = job.run().map(|ns| (job, ns));
        assert!(sync.is_err(), "the injected failure");
        assert!(backend.commit_end(sync).is_err());
        assert_eq!(reader.size(), 5, "the failed batch is not visible");
        // Poisoned: no more work until reopened.
        let (entry, bytes, opening) = next_entry(&backend, &key, "test/F", 9);
        assert!(backend.stage(&entry, &bytes, opening.as_deref()).is_err());
        assert!(backend.commit_begin(NOW).is_err());
        let checkpoints = reader.checkpoints(0, u64::MAX).unwrap();
        (records, checkpoints, reader.root(5).unwrap())
    };
    let mut backend = h.open(dir.path());
    let reader = backend.reader();
    assert_eq!((reader.size(), backend.next_seq()), (5, 5));
    assert_eq!(reader.records(0..5).unwrap(), records);
    assert_eq!(reader.checkpoints(0, u64::MAX).unwrap(), checkpoints);
    assert_eq!(reader.root(5).unwrap(), root);
    assert_eq!(backend.last_leaf(), leaf(&records[4]));
    // And appends go on from there.
    append_n(&mut backend, &key, 2);
    assert_eq!(reader.size(), 7);
    assert_eq!(reader.latest_checkpoint().unwrap().size, 7);
}

/// The sequencer runs on the backend through the contract alone: commands are appended and
/// acknowledged, a retry gets its first receipt, and readers see the result.
fn the_sequencer_runs_on_it<H: Harness>(h: &H) {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[4; 32]);
    let clock = Arc::new(AtomicI64::new(NOW));
    let config = SequencerConfig {
        clock: Arc::new(move || clock.load(Ordering::Relaxed)),
        ..SequencerConfig::default()
    };
    let seq = Sequencer::start(h.open(dir.path()), AcceptAll, config).unwrap();
    let handle = seq.handle();
    let command = |n: u64| {
        Command {
            actor: format!("test/{}", key.public().key_id()),
            key: key.public().to_base64(),
            kind: "test.note".into(),
            stream: "test/Q".into(),
            expected_version: None,
            payload: json!({"n": n}),
            nonce: format!("seq-{n:06}"),
            issued_at_ms: NOW,
        }
        .sign(&key)
        .unwrap()
    };
    for n in 0..5u64 {
        let r = handle.submit_blocking(command(n)).unwrap();
        assert_eq!((r.seq, r.stream_version), (n, n + 1));
    }
    let again = handle.submit_blocking(command(2)).unwrap();
    assert_eq!((again.seq, again.duplicate), (2, true));
    let reader: &<H::B as LogBackend>::Reader = handle.reader();
    assert_eq!(reader.size(), 5);
    assert_eq!(reader.stream_version("test/Q").unwrap(), 5);
    drop(handle);
    seq.shutdown();
}

#[test]
fn segment_files_append_in_order_and_publish_only_when_durable() {
    appends_in_order_and_publishes_only_when_durable(&Segments);
}

#[test]
fn segment_files_refuse_an_entry_off_the_chain() {
    refuses_an_entry_off_the_chain(&Segments);
}

#[test]
fn segment_files_survive_reopen_and_a_failed_write_leaves_nothing() {
    survives_reopen_and_a_failed_write_leaves_nothing(&Segments);
}

#[test]
fn the_sequencer_runs_on_the_segment_files_through_the_contract() {
    the_sequencer_runs_on_it(&Segments);
}

/// A backend that wraps another and counts the calls: shows that the sequencer reaches the
/// log only through the trait (every append goes through `stage`/`commit_begin`/`commit_end`),
/// so a backend written from the contract alone is enough to run it.
struct Counting<B> {
    inner: B,
    staged: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
}

impl<B: LogBackend> LogBackend for Counting<B> {
    type Reader = B::Reader;
    type Sync = B::Sync;

    fn reader(&self) -> B::Reader {
        self.inner.reader()
    }
    fn next_seq(&self) -> u64 {
        self.inner.next_seq()
    }
    fn last_leaf(&self) -> Hash {
        self.inner.last_leaf()
    }
    fn committed(&self) -> u64 {
        self.inner.committed()
    }
    fn stage(
        &mut self,
        entry: &Entry,
        bytes: &[u8],
        opening: Option<&[u8]>,
    ) -> Result<Hash, StoreError> {
        self.staged.fetch_add(1, Ordering::Relaxed);
        self.inner.stage(entry, bytes, opening)
    }
    fn commit_begin(&mut self, time_ms: i64) -> Result<B::Sync, StoreError> {
        self.inner.commit_begin(time_ms)
    }
    fn commit_end(
        &mut self,
        sync: Result<(B::Sync, u64), StoreError>,
    ) -> Result<Arc<deedlog_store::StoredCheckpoint>, StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit_end(sync)
    }
    fn stats(&self) -> deedlog_store::log::CommitStats {
        self.inner.stats()
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        self.inner.flush()
    }
}

struct CountingSegments {
    staged: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
}

impl Harness for CountingSegments {
    type B = Counting<LogWriter>;
    fn open(&self, dir: &Path) -> Self::B {
        Counting {
            inner: Segments.open(dir),
            staged: Arc::clone(&self.staged),
            commits: Arc::clone(&self.commits),
        }
    }
    fn open_failing_at(&self, dir: &Path, size: u64) -> Self::B {
        Counting {
            inner: Segments.open_failing_at(dir, size),
            staged: Arc::clone(&self.staged),
            commits: Arc::clone(&self.commits),
        }
    }
    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)> {
        PlainFormat.parse(note)
    }
}

#[test]
fn a_wrapped_backend_passes_the_suite_and_carries_the_sequencer() {
    let h = CountingSegments {
        staged: Arc::new(AtomicU64::new(0)),
        commits: Arc::new(AtomicU64::new(0)),
    };
    appends_in_order_and_publishes_only_when_durable(&h);
    refuses_an_entry_off_the_chain(&h);
    survives_reopen_and_a_failed_write_leaves_nothing(&h);
    h.staged.store(0, Ordering::Relaxed);
    h.commits.store(0, Ordering::Relaxed);
    the_sequencer_runs_on_it(&h);
    assert_eq!(h.staged.load(Ordering::Relaxed), 5, "five entries staged");
    assert!(h.commits.load(Ordering::Relaxed) >= 1);
}
