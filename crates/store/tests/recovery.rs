//! Recovery safety: a damaged record that a durable checkpoint covers makes open refuse, whatever
//! the derived files say, instead of being cut as a torn tail; a real torn tail is still cut; a
//! crash while a segment file is created does not stop the log from opening; the derived files
//! are trusted only up to their durable sync point; arithmetic on outside numbers cannot
//! overflow.

#[path = "support/remove.rs"]
mod remove;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use deedlog_core::verify::FaultKind;
use deedlog_core::{Command, SecretKey, SignedCommand};
use deedlog_store::segment::{self, RecordKind};
use deedlog_store::{
    AcceptAll, LogOptions, LogWriter, NoteFormat, Sequencer, SequencerConfig, StoreError,
};
use serde_json::json;

const ORIGIN: &str = "recovery.deedlog.example/log";
const NOW: i64 = 1_800_000_000_000;

fn format() -> NoteFormat {
    NoteFormat::new(ORIGIN, SecretKey::from_seed(&[0x1c; 32])).expect("valid origin")
}

fn options(segment_bytes_max: u64) -> LogOptions {
    LogOptions {
        segment_bytes_max,
        ..LogOptions::default()
    }
}

fn command(key: &SecretKey, n: u64) -> SignedCommand {
    Command {
        actor: format!("test/{}", key.public().key_id()),
        key: key.public().to_base64(),
        kind: "test.note".into(),
        stream: format!("test/S{}", n % 7),
        expected_version: None,
        payload: json!({"n": n, "pad": "x".repeat(120)}),
        nonce: format!("nonce-{n:08}"),
        issued_at_ms: NOW,
    }
    .sign(key)
    .expect("well-formed test command")
}

fn start(dir: &Path, opts: LogOptions, clock: i64) -> Sequencer {
    let (writer, _, _) = LogWriter::open(dir, opts, Arc::new(format())).expect("opens");
    let clock = Arc::new(AtomicI64::new(clock));
    Sequencer::start(
        writer,
        AcceptAll,
        SequencerConfig {
            clock: Arc::new(move || clock.load(Ordering::Relaxed)),
            ..SequencerConfig::default()
        },
    )
    .expect("starts")
}

/// A log of `batches` batches of `per_batch` entries (one checkpoint after each).
fn make(dir: &Path, opts: &LogOptions, batches: u64, per_batch: u64) {
    let key = SecretKey::from_seed(&[0x2d; 32]);
    let seq = start(dir, opts.clone(), NOW);
    let h = seq.handle();
    for b in 0..batches {
        let waiting: Vec<_> = (0..per_batch)
            .map(|i| h.enqueue(command(&key, b * per_batch + i)).expect("queued"))
            .collect();
        for rx in waiting {
            rx.blocking_recv().expect("answer").expect("appended");
        }
    }
    drop(h);
    seq.shutdown();
}

fn open(dir: &Path, opts: &LogOptions) -> Result<(u64, deedlog_store::OpenReport), StoreError> {
    LogWriter::open(dir, opts.clone(), Arc::new(format())).map(|(_, r, report)| (r.size(), report))
}

fn seg_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join("log").join(segment::file_name(first_seq))
}

/// The offset of entry `seq`'s record in the segment at `path` (whose first entry is `first`).
fn record_offset(path: &Path, first: u64, seq: u64) -> (u64, usize) {
    let scan = segment::scan(path, 0).expect("scans");
    let rec = scan
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Entry)
        .nth(usize::try_from(seq - first).expect("small"))
        .expect("the entry is in this segment");
    (rec.offset, rec.payload.len())
}

fn flip(path: &Path, at: u64, mask: u8) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[usize::try_from(at).expect("small")] ^= mask;
    std::fs::write(path, bytes).expect("write");
}

fn remove_derived(dir: &Path) {
    for f in ["offsets", "hashes", "derived.synced"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    remove::remove_dir(&dir.join("index"));
}

fn break_index(dir: &Path) {
    let index = dir.join("index");
    remove::remove_dir(&index);
    std::fs::create_dir_all(&index).expect("mkdir");
    std::fs::write(index.join("version"), b"\xff\xfe not an index").expect("write");
    std::fs::write(index.join("0.jnl"), vec![0xa5u8; 4096]).expect("write");
}

fn assert_damaged_at(
    result: Result<(u64, deedlog_store::OpenReport), StoreError>,
    path: &Path,
    offset: u64,
    seq: u64,
) {
    match result {
        Err(StoreError::Damaged {
            segment,
            offset: at,
            seq: s,
            ..
        }) => {
            assert_eq!(segment, path);
            assert_eq!((at, s), (offset, seq));
        }
        Err(other) => panic!("expected a located damage error, got {other}"),
        Ok((size, _)) => panic!("opened with {size} entries over damage at entry {seq}"),
    }
}

fn verify_report(dir: &Path) -> deedlog_core::verify::Report {
    let f = format();
    deedlog_store::audit::verify_segments(&dir.join("log"), ORIGIN, &f.vkey()).expect("verifies")
}

/// The case that was found: one byte flipped in the middle of a checkpointed segment, with the
/// derived files intact, deleted, or with an unusable sled index. Open must refuse each time,
/// cut nothing, and name the segment, the offset and the seq; the audit locates it too.
#[test]
fn a_damaged_covered_record_refuses_to_open_instead_of_being_cut() {
    let opts = options(64 << 20);
    for (case, mangle) in [
        ("derived files intact", (|_: &Path| {}) as fn(&Path)),
        ("derived files deleted", remove_derived),
        ("unusable sled index", break_index),
    ] {
        for (what, header_byte) in [("payload byte", false), ("length field", true)] {
            let dir = tempfile::tempdir().expect("temp dir");
            make(dir.path(), &opts, 20, 10);
            let path = seg_path(dir.path(), 0);
            let (offset, len) = record_offset(&path, 0, 100);
            let at = if header_byte {
                offset + 1
            } else {
                offset + segment::RECORD_HEADER_BYTES as u64 + len as u64 / 2
            };
            flip(&path, at, 0x04);
            let before = std::fs::metadata(&path).expect("stat").len();
            mangle(dir.path());
            let result = open(dir.path(), &opts);
            if let Err(e) = &result {
                eprintln!("{case}, {what}: {e}");
            }
            assert_damaged_at(result, &path, offset, 100);
            assert_eq!(
                std::fs::metadata(&path).expect("stat").len(),
                before,
                "{case}, {what}: bytes were cut"
            );
            // Refusing twice changes nothing either.
            assert_damaged_at(open(dir.path(), &opts), &path, offset, 100);
            let report = verify_report(dir.path());
            assert!(
                report.faults.iter().any(|f| f.seq == Some(100)
                    && f.kind == FaultKind::RecordDamaged
                    && f.detail.contains(&format!("offset {offset}"))),
                "{case}, {what}: {:?}",
                report.faults
            );
        }
    }
}

/// Damage in a segment that has a successor is never a torn tail, even when the records after
/// it in the same segment are all gone (a later segment exists).
#[test]
fn damage_in_an_earlier_segment_refuses_when_rederiving() {
    let opts = options(4096);
    let dir = tempfile::tempdir().expect("temp dir");
    make(dir.path(), &opts, 30, 4);
    let files = segment::list(&dir.path().join("log")).expect("list");
    assert!(files.len() >= 3, "the log spans several segments");
    let (first, path) = files[1].clone();
    let scan = segment::scan(&path, 0).expect("scan");
    // Flip the last record of the segment (its checkpoint): nothing after it in this file.
    let last = scan.records.last().expect("records");
    assert_eq!(last.kind, RecordKind::Checkpoint);
    flip(&path, last.offset + 12, 0x01);
    remove_derived(dir.path());
    let result = open(dir.path(), &opts);
    assert_damaged_at(result, &path, last.offset, first + scan.entries());
}

/// Bytes after the last durable checkpoint are a torn tail and are still cut (half a record, as
/// a crash during an unacknowledged write leaves), with the derived files intact or deleted.
#[test]
fn a_real_torn_tail_after_the_last_checkpoint_is_still_cut() {
    let opts = options(64 << 20);
    for delete in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        make(dir.path(), &opts, 5, 4);
        let path = seg_path(dir.path(), 0);
        let pristine = std::fs::read(&path).expect("read");
        let mut torn = pristine.clone();
        let mut partial = Vec::new();
        segment::frame(RecordKind::Entry, br#"{"derived":{}}"#, &mut partial);
        torn.extend_from_slice(&partial[..partial.len() - 3]);
        std::fs::write(&path, &torn).expect("write");
        if delete {
            remove_derived(dir.path());
        }
        let (size, report) = open(dir.path(), &opts).expect("opens");
        assert_eq!(
            (size, report.torn_tail_bytes),
            (20, partial.len() as u64 - 3)
        );
        assert_eq!(std::fs::read(&path).expect("read"), pristine);
        assert!(verify_report(dir.path()).is_clean());
    }
}

/// A log of six batches of five entries in one segment: its options, folder, segment path,
/// bytes and scan, whose last record is the last batch's checkpoint.
fn six_batches_of_five() -> (
    LogOptions,
    tempfile::TempDir,
    std::path::PathBuf,
    Vec<u8>,
    segment::Scan,
) {
    let opts = options(64 << 20);
    let dir = tempfile::tempdir().expect("temp dir");
    make(dir.path(), &opts, 6, 5);
    let path = seg_path(dir.path(), 0);
    let bytes = std::fs::read(&path).expect("read");
    let scan = segment::scan(&path, 0).expect("scan");
    assert_eq!(
        scan.records.last().map(|r| r.kind),
        Some(RecordKind::Checkpoint)
    );
    (opts, dir, path, bytes, scan)
}

/// The last checkpoint cut short by the end of the file, nothing after it, no index or derived
/// files to say more: what a crash during its batch's write leaves. That batch was never
/// acknowledged (a batch is acknowledged once its checkpoint is durable), so it is cut whole with
/// the checkpoint, and every checkpoint stays at the end of a batch. With the derived files'
/// sync point still there (it counts only acknowledged entries), the same bytes refuse.
#[test]
fn a_last_checkpoint_cut_short_cuts_its_unacknowledged_batch() {
    let (opts, dir, _, pristine, scan) = six_batches_of_five();
    let last = scan.records.last().expect("records");
    // The size of the checkpoint before the last one: the entries before its record.
    let before = scan
        .records
        .iter()
        .rposition(|r| r.kind == RecordKind::Checkpoint && r.offset < last.offset)
        .expect("an earlier checkpoint");
    let kept = scan.records[..before]
        .iter()
        .filter(|r| r.kind == RecordKind::Entry)
        .count() as u64;
    assert!(kept < 30);
    for cut in [
        last.offset + 3,
        last.offset + 9,
        last.offset + 40,
        pristine.len() as u64 - 1,
    ] {
        // The index gone, the derived files' sync point kept: it says 30 were acknowledged.
        let copy = tempfile::tempdir().expect("temp dir");
        copy_dir(dir.path(), copy.path());
        let copy_path = seg_path(copy.path(), 0);
        std::fs::write(&copy_path, &pristine[..cut as usize]).expect("write");
        remove::remove_dir(&copy.path().join("index"));
        assert!(
            matches!(open(copy.path(), &opts), Err(StoreError::Damaged { .. })),
            "cut at {cut}: opened over the sync point"
        );
        assert_eq!(
            std::fs::metadata(&copy_path).expect("stat").len(),
            cut,
            "cut at {cut}: bytes were cut"
        );
        // Nothing else says so: the torn batch is cut.
        remove_derived(copy.path());
        let (size, report) = open(copy.path(), &opts).expect("opens");
        assert_eq!(size, kept, "cut at {cut}");
        assert!(report.torn_tail_bytes > 0 && !report.checkpoint_added);
        assert!(verify_report(copy.path()).is_clean());
    }
}

/// A power loss during the last batch's write may leave its checkpoint record whole in length
/// but with a block never written, which reads as zeros: that too is a torn write, and is cut.
#[test]
fn a_last_checkpoint_with_an_unwritten_block_cuts_its_batch() {
    let (opts, dir, path, mut bytes, scan) = six_batches_of_five();
    let last = scan.records.last().expect("records");
    // The sector holding the record was never written past the bytes of the batch before
    // (which were durable already): zeros from the record's start to the end of the file.
    bytes[usize::try_from(last.offset).expect("small")..].fill(0);
    std::fs::write(&path, &bytes).expect("write");
    remove_derived(dir.path());
    let (size, report) = open(dir.path(), &opts).expect("opens");
    assert!(size < 30);
    assert!(report.torn_tail_bytes > 0);
}

/// The last checkpoint record whole but damaged, nothing after it, the index and derived files
/// gone: one flipped bit in its payload, its kind byte, its checksum or its length field. No
/// torn write leaves that (a write cut short leaves a record cut short by the end of the file,
/// or unwritten zeros), so the bytes were changed after they were written, and that checkpoint
/// and its batch may well have been acknowledged. Open refuses, names the checkpoint and cuts
/// nothing; the offline verifier reports it as that checkpoint, and says open refuses. Before,
/// open cut the batch as a torn tail, losing its acknowledged entries, and a flipped kind byte
/// made the verifier take the checkpoint for an entry.
#[test]
fn a_damaged_last_checkpoint_refuses_to_open_and_is_reported() {
    let (opts, dir, _, pristine, scan) = six_batches_of_five();
    let last = scan.records.last().expect("records");
    let size = scan.entries();
    assert_eq!(size, 30);
    let at = |field: u64| last.offset + field;
    for (what, byte, mask) in [
        ("payload", at(9 + last.payload.len() as u64 / 2), 0x08),
        ("last payload byte", pristine.len() as u64 - 1, 0x01),
        ("kind byte", at(4), 0x01),
        ("kind byte", at(4), 0x02),
        ("kind byte", at(4), 0x80),
        ("checksum", at(7), 0x10),
        ("length, low bit: one byte past the end", at(0), 0x01),
        ("length, shorter", at(0), 0x04),
        ("length, far past the end", at(2), 0x01),
        ("length, beyond any record", at(3), 0x80),
    ] {
        let copy = tempfile::tempdir().expect("temp dir");
        copy_dir(dir.path(), copy.path());
        let copy_path = seg_path(copy.path(), 0);
        flip(&copy_path, byte, mask);
        let damaged = std::fs::read(&copy_path).expect("read");
        remove_derived(copy.path());
        let result = open(copy.path(), &opts);
        if let Err(e) = &result {
            eprintln!("{what}: {e}");
        }
        assert_damaged_at(result, &copy_path, last.offset, size);
        assert_eq!(
            std::fs::read(&copy_path).expect("read"),
            damaged,
            "{what}: bytes were cut"
        );
        let report = verify_report(copy.path());
        assert!(
            report
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::RecordDamaged
                    && f.seq.is_none()
                    && f.checkpoint_size == Some(size)
                    && f.detail.contains("opening the log refuses")),
            "{what}: {:?}",
            report.faults
        );
        assert!(
            report.faults.iter().all(|f| f.seq.is_none_or(|s| s >= 25)),
            "{what}: faults before the last batch: {:?}",
            report.faults
        );
        assert_eq!(report.entries, 30, "{what}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for item in std::fs::read_dir(from).expect("read dir") {
        let item = item.expect("entry");
        let target = to.join(item.file_name());
        if item.file_type().expect("type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).expect("copy");
        }
    }
}

/// A crash right after the next segment file was created, before its header was durable: the
/// file is empty, holds part of the header, or a header's length of zeros. The log opens with
/// every entry, and appends go on (into a new segment when the bound is reached).
#[test]
fn a_crash_right_after_creating_a_segment_file_does_not_stop_the_open() {
    let opts = options(4096);
    for remnant in 0..4 {
        let dir = tempfile::tempdir().expect("temp dir");
        make(dir.path(), &opts, 12, 4);
        let (size, _) = open(dir.path(), &opts).expect("opens");
        let mut header = segment::MAGIC.to_vec();
        header.extend_from_slice(&size.to_le_bytes());
        let bytes = match remnant {
            0 => Vec::new(),
            1 => header[..5].to_vec(),
            2 => header[..12].to_vec(),
            _ => vec![0u8; 16],
        };
        let next = seg_path(dir.path(), size);
        std::fs::write(&next, &bytes).expect("write the remnant");
        let (reopened, report) = open(dir.path(), &opts).expect("opens over the remnant");
        assert_eq!(reopened, size);
        assert!(report.empty_segment_removed, "remnant {remnant}");
        assert!(!next.exists());
        // Appending still works and rolls into a fresh segment.
        let key = SecretKey::from_seed(&[0x3e; 32]);
        let seq = start(dir.path(), opts.clone(), NOW);
        for n in 0..40 {
            seq.handle()
                .submit_blocking(command(&key, 1000 + n))
                .expect("appended");
        }
        seq.shutdown();
        assert!(verify_report(dir.path()).is_clean());
    }
    // A first segment that is a remnant (a crash during the very first open) is recreated.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("log")).expect("mkdir");
    std::fs::write(seg_path(dir.path(), 0), b"DLS").expect("write");
    let (size, report) = open(dir.path(), &opts).expect("opens");
    assert_eq!(size, 0);
    assert!(report.empty_segment_removed);
    // A segment whose header is wrong and that holds more than a header is damage, not a remnant.
    let dir = tempfile::tempdir().expect("temp dir");
    make(dir.path(), &opts, 2, 2);
    std::fs::write(seg_path(dir.path(), 4), vec![0x55u8; 40]).expect("write");
    assert!(open(dir.path(), &opts).is_err());
}

/// The derived files are trusted up to their durable sync point only: holes a power loss leaves
/// after it (zeroed offsets and stored hashes in the middle, not just at the end) are re-derived.
#[test]
fn derived_files_are_rederived_after_their_sync_point() {
    let opts = options(64 << 20);
    let dir = tempfile::tempdir().expect("temp dir");
    make(dir.path(), &opts, 10, 10);
    let (_, reader, _) =
        LogWriter::open(dir.path(), opts.clone(), Arc::new(format())).expect("opens");
    let root = reader.root(100).expect("root");
    let proof = reader.inclusion_proof(7, 100).expect("proof");
    drop(reader);
    // Zero entry 5's offset and a stored hash early in the file: a hole in unsynced pages.
    let offsets = dir.path().join("offsets");
    let mut o = std::fs::read(&offsets).expect("read");
    o[5 * 8..6 * 8].fill(0);
    std::fs::write(&offsets, o).expect("write");
    let hashes = dir.path().join("hashes");
    let mut h = std::fs::read(&hashes).expect("read");
    h[9 * 32..10 * 32].fill(0);
    std::fs::write(&hashes, h).expect("write");
    // The sync point says only the first 3 entries' derived records were durable.
    let mut point = 3u64.to_le_bytes().to_vec();
    point.extend_from_slice(&crc32fast::hash(&3u64.to_le_bytes()).to_le_bytes());
    std::fs::write(dir.path().join("derived.synced"), point).expect("write");
    let (_, reader, report) =
        LogWriter::open(dir.path(), opts.clone(), Arc::new(format())).expect("opens");
    assert_eq!(report.derived_unsynced, 97);
    assert_eq!(report.offsets_rederived, 97);
    assert_eq!(reader.root(100).expect("root"), root);
    assert_eq!(reader.inclusion_proof(7, 100).expect("proof"), proof);
    let entry5 = reader.entry(5).expect("entry 5 reads");
    assert_eq!(
        deedlog_core::LoggedEntry::decode(&entry5)
            .expect("decodes")
            .seq,
        5
    );
    drop(reader);
    // A sync point that fails its checksum counts as 0: everything is re-derived.
    std::fs::write(dir.path().join("derived.synced"), [1u8; 12]).expect("write");
    let (size, report) = open(dir.path(), &opts).expect("opens");
    assert_eq!((size, report.offsets_rederived), (100, 100));
    // After a clean open nothing is left to re-derive.
    let (_, report) = open(dir.path(), &opts).expect("opens");
    assert_eq!((report.offsets_rederived, report.derived_unsynced), (0, 0));
}

/// Extreme numbers from outside: an `issued_at_ms` at the ends of i64, a clock at the ends of
/// i64, and read positions at u64::MAX. Each is a clear rejection or error, nothing appended,
/// nothing panics.
#[test]
fn extreme_numbers_cannot_overflow() {
    let opts = options(64 << 20);
    let key = SecretKey::from_seed(&[0x4f; 32]);
    for clock in [i64::MAX, i64::MIN, 0, NOW] {
        let dir = tempfile::tempdir().expect("temp dir");
        let seq = start(dir.path(), opts.clone(), clock);
        let h = seq.handle();
        for issued in [i64::MIN, i64::MIN + 1, -1, 0, (1 << 53) - 1, i64::MAX] {
            let mut c = command(&key, 1);
            c.issued_at_ms = issued;
            let rejection = h.submit_blocking(c).expect_err("refused");
            assert!(
                [
                    "command.stale",
                    "command.malformed",
                    "command.bad_signature"
                ]
                .contains(&rejection.code),
                "clock {clock}, issued {issued}: {rejection:?}"
            );
        }
        // A well-signed command far from a clock at the ends of i64 is stale, not a panic.
        if clock == i64::MAX || clock == i64::MIN {
            let rejection = h.submit_blocking(command(&key, 2)).expect_err("stale");
            assert_eq!(rejection.code, "command.stale");
        }
        assert_eq!(h.reader().size(), 0);
        let r = h.reader().clone();
        drop(h);
        seq.shutdown();
        assert!(r.entry(u64::MAX).is_err());
        assert!(r.root(u64::MAX).is_err());
        assert!(r.inclusion_proof(u64::MAX, u64::MAX).is_err());
        assert!(r.consistency_proof(u64::MAX, u64::MAX).is_err());
        assert!(r.consistency_proof(0, u64::MAX).is_err());
        assert!(r.checkpoints(u64::MAX, 0).expect("empty").is_empty());
        assert!(r.checkpoints(0, u64::MAX).expect("empty").is_empty());
        assert!(r.checkpoint_at_or_after(u64::MAX).expect("none").is_none());
        assert!(
            r.stream_seqs("test/S1", u64::MAX, usize::MAX)
                .expect("none")
                .is_empty()
        );
        assert!(r.entries(u64::MAX - 1, u64::MAX).is_err());
    }
}
