//! Store tests: append, read, prove, reopen, recover, reject without appending.

#[path = "support/remove.rs"]
mod remove;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use deedlog_core::hash::{self, Hash};
use deedlog_core::{Command, SecretKey, SignedCommand};
use deedlog_store::{
    AcceptAll, CheckpointFormat, LogOptions, LogWriter, RejectionClass, Sequencer, SequencerConfig,
};
use serde_json::json;

/// A plain, unsigned checkpoint format for tests of the store alone.
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

const NOW: i64 = 1_800_000_000_000;

fn command(key: &SecretKey, n: u64, stream: &str, expected: Option<u64>) -> SignedCommand {
    Command {
        actor: format!("test/{}", key.public().key_id()),
        key: key.public().to_base64(),
        kind: "test.note".into(),
        stream: stream.into(),
        expected_version: expected,
        payload: json!({"n": n}),
        nonce: format!("nonce-{n:08}"),
        issued_at_ms: NOW,
    }
    .sign(key)
    .expect("well-formed test command")
}

fn config(clock: Arc<AtomicI64>) -> SequencerConfig {
    SequencerConfig {
        clock: Arc::new(move || clock.load(Ordering::Relaxed)),
        ..SequencerConfig::default()
    }
}

fn open(dir: &std::path::Path) -> (Sequencer, Arc<AtomicI64>) {
    let (writer, _, _) =
        LogWriter::open(dir, LogOptions::default(), Arc::new(PlainFormat)).expect("opens");
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(writer, AcceptAll, config(Arc::clone(&clock))).expect("starts");
    (seq, clock)
}

#[test]
fn appends_reads_and_proves() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, _) = open(dir.path());
    let h = seq.handle();
    let key = SecretKey::from_seed(&[9; 32]);
    let mut leaves = Vec::new();
    for n in 0..50 {
        let receipt = h
            .submit_blocking(command(&key, n, &format!("test/S-{}", n % 5), None))
            .unwrap();
        assert_eq!(receipt.seq, n);
        assert_eq!(receipt.stream_version, n / 5 + 1);
        assert!(receipt.checkpoint_size > n);
        leaves.push(receipt.leaf_hash);
    }
    let reader = h.reader().clone();
    assert_eq!(reader.size(), 50);
    let mut prev = hash::ZERO_HASH;
    let mut tree = deedlog_core::hash::Hash::default();
    for n in 0..50u64 {
        let bytes = reader.entry(n).unwrap();
        let entry = deedlog_core::LoggedEntry::decode(&bytes).unwrap();
        assert_eq!(entry.seq, n);
        assert_eq!(entry.version(), 2, "new entries are written in version 2");
        assert!(entry.verify_signature().is_ok());
        let whole = reader.whole_entry(n).unwrap();
        assert_eq!(
            whole.encode().unwrap(),
            bytes,
            "the opening joins the stored entry"
        );
        assert_eq!(entry.prev_hash, prev);
        prev = hash::leaf_hash(&bytes);
        assert_eq!(hash::to_hex(&prev), leaves[n as usize]);
        let root = reader.root(50).unwrap();
        let proof = reader.inclusion_proof(n, 50).unwrap();
        tlog_tiles::check_record(&proof, 50, root, n, prev).unwrap();
        tree = root;
    }
    for m in 1..=50 {
        let proof = reader.consistency_proof(m, 50).unwrap();
        tlog_tiles::check_tree(&proof, 50, tree, m, reader.root(m).unwrap()).unwrap();
    }
    assert_eq!(reader.stream_version("test/S-3").unwrap(), 10);
    assert_eq!(reader.stream_seqs("test/S-3", 1, 100).unwrap().len(), 10);
    assert!(reader.entry(50).is_err());
    assert!(reader.inclusion_proof(3, 51).is_err());
    assert!(reader.consistency_proof(0, 5).is_err());
    let latest = reader.latest_checkpoint().unwrap();
    assert_eq!(latest.size, 50);
    assert_eq!(PlainFormat.parse(&latest.note), Some((50, tree)));
    seq.shutdown();
}

#[test]
fn reopen_keeps_everything_and_rederives_lost_derived_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[4; 32]);
    {
        let (seq, _) = open(dir.path());
        let h = seq.handle();
        for n in 0..30 {
            h.submit_blocking(command(&key, n, "test/A", None)).unwrap();
        }
        drop(h);
        seq.shutdown();
    }
    let (_, reader, report) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.entries, 30);
    assert_eq!(report.torn_tail_bytes, 0);
    let root = reader.root(30).unwrap();
    drop(reader);
    // Lose every derived file: offsets, hashes and the whole index.
    std::fs::remove_file(dir.path().join("offsets")).unwrap();
    std::fs::remove_file(dir.path().join("hashes")).unwrap();
    remove::remove_dir(&dir.path().join("index"));
    let (_, reader, report) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.offsets_rederived, 30);
    assert_eq!(report.hashes_rederived, 30);
    assert_eq!(report.index_rederived, 30);
    assert_eq!(reader.root(30).unwrap(), root);
    assert_eq!(reader.stream_version("test/A").unwrap(), 30);
    assert!(
        reader
            .nonce_seq(&format!("test/{}", key.public().key_id()), "nonce-00000007")
            .unwrap()
            == Some(7)
    );
    assert_eq!(reader.checkpoints(0, 30).unwrap().last().unwrap().size, 30);
}

#[test]
fn damaged_hashes_are_rederived_from_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[5; 32]);
    let root = {
        let (seq, _) = open(dir.path());
        for n in 0..20 {
            seq.handle()
                .submit_blocking(command(&key, n, "test/A", None))
                .unwrap();
        }
        let root = seq.handle().reader().root(20).unwrap();
        seq.shutdown();
        root
    };
    let path = dir.path().join("hashes");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let (_, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(reader.root(20).unwrap(), root);
}

#[test]
fn torn_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[6; 32]);
    {
        let (seq, _) = open(dir.path());
        for n in 0..10 {
            seq.handle()
                .submit_blocking(command(&key, n, "test/A", None))
                .unwrap();
        }
        seq.shutdown();
    }
    // Half a record after the last checkpoint: what a crash mid-write leaves.
    let seg = dir
        .path()
        .join("log")
        .join(deedlog_store::segment::file_name(0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 9, 9, 9, 9, b'{']);
    std::fs::write(&seg, &bytes).unwrap();
    let (writer, reader, report) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.torn_tail_bytes, 10);
    assert_eq!(report.entries, 10);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), len as u64);
    assert_eq!(reader.size(), 10);
    drop(writer);
}

#[test]
fn rejections_append_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, clock) = open(dir.path());
    let h = seq.handle();
    let key = SecretKey::from_seed(&[7; 32]);
    let first = h
        .submit_blocking(command(&key, 0, "test/A", Some(0)))
        .unwrap();
    let size = h.reader().size();

    // Expected-version conflict.
    let r = h
        .submit_blocking(command(&key, 1, "test/A", Some(0)))
        .unwrap_err();
    assert_eq!(
        (r.code, r.class),
        ("stream.version_conflict", RejectionClass::Conflict)
    );
    assert_eq!(r.details["actual"], 1);

    // Bad signature.
    let mut bad = command(&key, 2, "test/A", None);
    bad.payload = json!({"n": 3});
    let r = h.submit_blocking(bad).unwrap_err();
    assert_eq!(
        (r.code, r.class),
        ("command.bad_signature", RejectionClass::Unauthorized)
    );

    // Wrong signature length.
    let mut bad = command(&key, 2, "test/A", None);
    bad.signature = deedlog_core::keys::base64(&[0; 63]);
    assert_eq!(
        h.submit_blocking(bad).unwrap_err().class,
        RejectionClass::Unauthorized
    );

    // A weak key.
    let mut bad = command(&key, 2, "test/A", None);
    let mut weak = [0u8; 32];
    weak[0] = 1;
    bad.key = deedlog_core::keys::base64(&weak);
    assert_eq!(
        h.submit_blocking(bad).unwrap_err().class,
        RejectionClass::Unauthorized
    );

    // A float in the payload (a malformed command).
    let mut bad = command(&key, 2, "test/A", None);
    bad.payload = serde_json::from_str(r#"{"price": 1.5}"#).unwrap();
    assert_eq!(
        h.submit_blocking(bad).unwrap_err().class,
        RejectionClass::Malformed
    );

    // A stale issued_at.
    clock.store(NOW + 10 * 60 * 1000, Ordering::Relaxed);
    let r = h
        .submit_blocking(command(&key, 4, "test/B", None))
        .unwrap_err();
    assert_eq!(r.code, "command.stale");
    clock.store(NOW, Ordering::Relaxed);

    // A retry returns the first receipt; the same nonce on another command is refused.
    let again = h
        .submit_blocking(command(&key, 0, "test/A", Some(0)))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.seq, first.seq);
    let mut reuse = command(&key, 0, "test/C", None).command();
    reuse.payload = json!({"other": true});
    let r = h.submit_blocking(reuse.sign(&key).unwrap()).unwrap_err();
    assert_eq!(r.code, "command.nonce_reused");

    assert_eq!(h.reader().size(), size, "no rejection appended anything");
    seq.shutdown();
}

#[test]
fn segments_roll_and_reads_cross_them() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes_max: 4096,
        ..LogOptions::default()
    };
    let key = SecretKey::from_seed(&[8; 32]);
    {
        let (writer, _, _) =
            LogWriter::open(dir.path(), options.clone(), Arc::new(PlainFormat)).unwrap();
        let seq =
            Sequencer::start(writer, AcceptAll, config(Arc::new(AtomicI64::new(NOW)))).unwrap();
        for n in 0..60 {
            seq.handle()
                .submit_blocking(command(&key, n, "test/A", None))
                .unwrap();
        }
        seq.shutdown();
    }
    let segments = deedlog_store::segment::list(&dir.path().join("log")).unwrap();
    assert!(segments.len() > 3, "{} segments", segments.len());
    let (_, reader, report) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.entries, 60);
    for n in 0..60 {
        assert_eq!(
            deedlog_core::LoggedEntry::decode(&reader.entry(n).unwrap())
                .unwrap()
                .seq,
            n
        );
    }
}

#[test]
fn an_unusable_index_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[10; 32]);
    {
        let (seq, _) = open(dir.path());
        for n in 0..25 {
            seq.handle()
                .submit_blocking(command(&key, n, "test/A", None))
                .unwrap();
        }
        seq.shutdown();
    }
    // Replace the index's files with garbage: it no longer opens as a database.
    let index = dir.path().join("index");
    remove::remove_dir(&index);
    std::fs::create_dir_all(&index).unwrap();
    std::fs::write(index.join("version"), b"\xff\xfe not an index").unwrap();
    std::fs::write(index.join("0.jnl"), vec![0xa5u8; 4096]).unwrap();
    let rebuilt_from_the_log = || {
        let (_, reader, report) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
        assert!(report.index_rebuilt);
        assert_eq!(report.index_rederived, 25);
        assert_eq!(reader.stream_version("test/A").unwrap(), 25);
    };
    rebuilt_from_the_log();
    // A folder in the earlier engine's layout (sled's `conf` and `db`), as a node upgraded
    // from an earlier version finds it: set aside and rebuilt the same way.
    remove::remove_dir(&index);
    std::fs::create_dir_all(&index).unwrap();
    std::fs::write(index.join("conf"), b"segment_size: 524288").unwrap();
    std::fs::write(index.join("db"), vec![0u8; 4096]).unwrap();
    rebuilt_from_the_log();
}

mod model {
    //! Random appends with reopens in between, against a model of what must be there.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Append { stream: u8, expect: bool },
        Reopen,
        LoseDerived,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u8..4, any::<bool>()).prop_map(|(stream, expect)| Step::Append { stream, expect }),
            1 => Just(Step::Reopen),
            1 => Just(Step::LoseDerived),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn appends_survive_reopens_and_lost_derived_files(steps in prop::collection::vec(step(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let key = SecretKey::from_seed(&[11; 32]);
            let mut model: Vec<(String, u64)> = Vec::new(); // (stream, version) by seq
            let mut versions = std::collections::HashMap::<String, u64>::new();
            let mut running = Some(open(dir.path()).0);
            let mut n = 0u64;
            for step in steps {
                match step {
                    Step::Append { stream, expect } => {
                        let stream = format!("test/S-{stream}");
                        let current = versions.get(&stream).copied().unwrap_or(0);
                        // Half the time state an expected version, sometimes a wrong one.
                        let expected = expect.then_some(if n.is_multiple_of(3) { current + 1 } else { current });
                        let seq = running.as_ref().unwrap();
                        let result = seq.handle().submit_blocking(command(&key, n, &stream, expected));
                        n += 1;
                        match expected {
                            Some(v) if v != current => prop_assert!(result.is_err()),
                            _ => {
                                let receipt = result.unwrap();
                                prop_assert_eq!(receipt.seq, model.len() as u64);
                                prop_assert_eq!(receipt.stream_version, current + 1);
                                model.push((stream.clone(), current + 1));
                                versions.insert(stream, current + 1);
                            }
                        }
                    }
                    Step::Reopen => {
                        running.take().unwrap().shutdown();
                        running = Some(open(dir.path()).0);
                    }
                    Step::LoseDerived => {
                        running.take().unwrap().shutdown();
                        let _ = std::fs::remove_file(dir.path().join("offsets"));
                        let _ = std::fs::remove_file(dir.path().join("hashes"));
                        running = Some(open(dir.path()).0);
                    }
                }
            }
            let seq = running.take().unwrap();
            let reader = seq.handle().reader().clone();
            prop_assert_eq!(reader.size(), model.len() as u64);
            for (i, (stream, version)) in model.iter().enumerate() {
                let entry = deedlog_core::LoggedEntry::decode(&reader.entry(i as u64).unwrap()).unwrap();
                prop_assert_eq!(&entry.stream, stream);
                prop_assert_eq!(entry.stream_version, *version);
            }
            if !model.is_empty() {
                let size = model.len() as u64;
                let root = reader.root(size).unwrap();
                prop_assert_eq!(reader.latest_checkpoint().unwrap().size, size);
                for i in 0..size {
                    let leaf = hash::leaf_hash(&reader.entry(i).unwrap());
                    tlog_tiles::check_record(&reader.inclusion_proof(i, size).unwrap(), size, root, i, leaf).unwrap();
                }
            }
            seq.shutdown();
        }
    }
}

mod fuzz {
    //! The lenient segment reader and the record parser take any bytes without panicking.
    use deedlog_store::audit::{Item, read_lenient};
    use deedlog_store::segment::{self, RecordKind};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_bytes_read_leniently(bytes in prop::collection::vec(any::<u8>(), 0..512), first in 0u64..4) {
            for item in read_lenient(&bytes, first) {
                if let Item::Damaged { offset, len, .. } = item {
                    prop_assert!(offset + len <= bytes.len() as u64);
                }
            }
            for pos in 0..bytes.len() {
                let _ = segment::parse_at(&bytes, pos);
            }
        }

        #[test]
        fn damaged_segments_keep_every_intact_record(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
            let mut bytes = segment::MAGIC.to_vec();
            bytes.extend_from_slice(&0u64.to_le_bytes());
            for i in 0..20u8 {
                segment::frame(RecordKind::Entry, &[b'{', i, b'}'], &mut bytes);
            }
            let pristine = bytes.clone();
            for (at, b) in edits {
                let i = 16 + at % (bytes.len() - 16);
                bytes[i] = b;
            }
            let items = read_lenient(&bytes, 0);
            let intact = items.iter().filter(|i| matches!(i, Item::Record(..))).count();
            let damaged = items.iter().filter(|i| matches!(i, Item::Damaged { .. })).count();
            // Every record the edits did not touch is still read; damage is reported, not lost.
            prop_assert!(intact + damaged >= 1);
            if bytes == pristine {
                prop_assert_eq!(intact, 20);
            } else {
                prop_assert!(intact >= 20 - 4 * 2);
            }
        }
    }
}

#[test]
fn a_damaged_offsets_file_is_rederived() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[12; 32]);
    {
        let (seq, _) = open(dir.path());
        for n in 0..40 {
            seq.handle()
                .submit_blocking(command(&key, n, "test/A", None))
                .unwrap();
        }
        seq.shutdown();
    }
    // What a power loss can leave in a file written without fsync: zeros in its tail.
    let path = dir.path().join("offsets");
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - 80..].fill(0);
    std::fs::write(&path, bytes).unwrap();
    let (_, reader, report) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.offsets_rederived, 40);
    for n in 0..40 {
        assert_eq!(
            deedlog_core::LoggedEntry::decode(&reader.entry(n).unwrap())
                .unwrap()
                .seq,
            n
        );
    }
}

/// A decider whose `apply` fails for the entry at one seq, as a domain bug would.
struct FailsToApplyAt(u64);

impl deedlog_store::Decider for FailsToApplyAt {
    type Parsed = ();
    type ApplyError = String;

    fn decide(
        &self,
        command: &SignedCommand,
        _: &deedlog_store::Context,
    ) -> Result<deedlog_store::Decision, deedlog_store::Rejection> {
        Ok(deedlog_store::Decision {
            kind: command.kind.clone(),
            derived: json!({}),
            parsed: (),
        })
    }

    fn apply(&mut self, entry: &deedlog_core::Entry, (): ()) -> Result<(), String> {
        if entry.seq == self.0 {
            Err(format!("entry {} breaks the state", entry.seq))
        } else {
            Ok(())
        }
    }
}

#[test]
fn an_accepted_entry_that_does_not_apply_stops_the_sequencer_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[21; 32]);
    {
        let (writer, _, _) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
        let clock = Arc::new(AtomicI64::new(NOW));
        let seq = Sequencer::start(writer, FailsToApplyAt(2), config(clock)).unwrap();
        let h = seq.handle();
        for n in 0..2 {
            assert_eq!(
                h.submit_blocking(command(&key, n, "test/S-1", None))
                    .unwrap()
                    .seq,
                n
            );
        }
        assert!(h.failure().is_none());
        let r = h
            .submit_blocking(command(&key, 2, "test/S-1", None))
            .unwrap_err();
        assert_eq!((r.code, r.class.http_status()), ("ledger.unavailable", 503));
        assert!(r.message.contains("does not apply"), "{}", r.message);
        assert!(
            h.failure().is_some_and(|why| why.contains("entry 2")),
            "the handle says why: {:?}",
            h.failure()
        );
        // Every later command is refused, before and after the queue.
        let r = h
            .submit_blocking(command(&key, 3, "test/S-2", None))
            .unwrap_err();
        assert_eq!(r.code, "ledger.unavailable");
        assert!(h.try_enqueue(command(&key, 4, "test/S-2", None)).is_err());
        assert_eq!(
            h.reader().size(),
            2,
            "the entry that did not apply is not logged"
        );
        seq.shutdown();
    }
    let (writer, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(
        reader.size(),
        2,
        "nothing of the failed entry reached the disk"
    );
    drop(writer);
}

/// Everything the index answers about a log of `n` test commands over 7 streams.
fn index_answers(reader: &deedlog_store::LogReader, key: &SecretKey, n: u64) -> Vec<String> {
    let mut out = Vec::new();
    for s in 0..7 {
        let stream = format!("test/S-{s}");
        out.push(format!(
            "{stream} v{} seqs{:?} from3{:?}",
            reader.stream_version(&stream).unwrap(),
            reader.stream_seqs(&stream, 1, 1000).unwrap(),
            reader.stream_seqs(&stream, 3, 4).unwrap(),
        ));
    }
    let actor = format!("test/{}", key.public().key_id());
    for i in 0..n + 3 {
        out.push(format!(
            "nonce {i}: {:?}",
            reader.nonce_seq(&actor, &format!("nonce-{i:08}")).unwrap()
        ));
    }
    let cps: Vec<(u64, Vec<u8>)> = reader
        .checkpoints(0, n)
        .unwrap()
        .into_iter()
        .map(|c| (c.size, c.note))
        .collect();
    out.push(format!(
        "{} checkpoints, last {:?}",
        cps.len(),
        cps.last().map(|c| c.0)
    ));
    out.push(format!(
        "at or after 5: {:?}",
        reader.checkpoint_at_or_after(5).unwrap().map(|c| c.size)
    ));
    out
}

#[test]
fn the_index_answers_at_once_behind_the_acknowledgement_and_the_same_after_it_is_lost_or_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[22; 32]);
    let n = 300;
    let live = {
        let (seq, _) = open(dir.path());
        let h = seq.handle();
        for i in 0..n {
            let r = h
                .submit_blocking(command(&key, i, &format!("test/S-{}", i % 7), None))
                .unwrap();
            // Right after the receipt, whether or not the indexer has written it to the index yet.
            assert_eq!(
                h.reader().stream_version(&r.stream).unwrap(),
                r.stream_version
            );
            assert_eq!(
                h.reader()
                    .nonce_seq(
                        &format!("test/{}", key.public().key_id()),
                        &format!("nonce-{i:08}")
                    )
                    .unwrap(),
                Some(r.seq)
            );
        }
        let answers = index_answers(h.reader(), &key, n);
        seq.shutdown();
        answers
    };
    assert!(
        live.iter().any(|a| a.starts_with("test/S-3 v43")),
        "{live:?}"
    );
    // Lost: the index folder removed.
    remove::remove_dir(&dir.path().join("index"));
    let (writer, reader, report) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.index_rederived, n);
    assert_eq!(index_answers(&reader, &key, n), live, "rebuilt after loss");
    drop(writer);
    drop(reader);
    // Damaged: every file of the index, tables and journals alike, overwritten with garbage.
    fn overwrite_all(dir: &Path) -> usize {
        let mut n = 0;
        for f in std::fs::read_dir(dir).unwrap() {
            let f = f.unwrap().path();
            if f.is_dir() {
                n += overwrite_all(&f);
            } else if f.file_name().is_some_and(|n| n != "lock") {
                std::fs::write(&f, vec![0x5au8; 8192]).unwrap();
                n += 1;
            }
        }
        n
    }
    assert!(overwrite_all(&dir.path().join("index")) > 3);
    let (_writer, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(
        index_answers(&reader, &key, n),
        live,
        "rebuilt after damage"
    );
}

#[test]
fn no_receipt_is_sent_before_its_batch_is_durable() {
    use std::sync::Mutex;
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[23; 32]);
    // The sync of the batch ending at size 3 or 4 waits for the test's word: Ok or an error.
    let (gate_tx, gate_rx) = crossbeam_channel::unbounded::<bool>();
    let gate_rx = Mutex::new(gate_rx);
    let options = LogOptions {
        sync_fault: Some(Arc::new(move |size| {
            if size < 3 {
                return Ok(());
            }
            let ok = gate_rx.lock().unwrap().recv().unwrap_or(false);
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::other(
                    "injected: the disk refused the write",
                ))
            }
        })),
        ..LogOptions::default()
    };
    let (writer, _, _) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(writer, AcceptAll, config(clock)).unwrap();
    let h = seq.handle();
    for n in 0..2 {
        h.submit_blocking(command(&key, n, "test/S-1", None))
            .unwrap();
    }
    // Held sync, then success: the receipt comes only after the sync.
    let mut rx = h.enqueue(command(&key, 2, "test/S-1", None)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        matches!(
            rx.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        ),
        "a receipt was sent before its batch was synced"
    );
    assert_eq!(
        h.reader().size(),
        2,
        "readers do not see an entry before it is durable"
    );
    gate_tx.send(true).unwrap();
    let receipt = rx.blocking_recv().unwrap().unwrap();
    assert_eq!((receipt.seq, receipt.checkpoint_size), (2, 3));
    assert_eq!(h.reader().size(), 3);
    // Held sync, then failure: no receipt at all, a 503, and the sequencer stops.
    let mut rx = h.enqueue(command(&key, 3, "test/S-1", None)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(matches!(
        rx.try_recv(),
        Err(tokio::sync::oneshot::error::TryRecvError::Empty)
    ));
    gate_tx.send(false).unwrap();
    let r = rx.blocking_recv().unwrap().unwrap_err();
    assert_eq!((r.code, r.class.http_status()), ("ledger.unavailable", 503));
    assert!(h.failure().is_some_and(|w| w.contains("injected")));
    assert_eq!(h.reader().size(), 3);
    let r = h
        .submit_blocking(command(&key, 4, "test/S-1", None))
        .unwrap_err();
    assert_eq!(r.code, "ledger.unavailable");
    seq.shutdown();
    let (_w, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(reader.size(), 3, "the failed batch left nothing behind");
}

#[test]
fn a_full_disk_is_answered_storage_full_by_every_later_submit() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[29; 32]);
    // The batch that would reach size 2 finds the file system full.
    let options = LogOptions {
        sync_fault: Some(Arc::new(|size| {
            if size < 2 {
                Ok(())
            } else {
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            }
        })),
        ..LogOptions::default()
    };
    let (writer, _, _) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(writer, AcceptAll, config(clock)).unwrap();
    let h = seq.handle();
    h.submit_blocking(command(&key, 0, "test/S-1", None))
        .unwrap();
    let r = h
        .submit_blocking(command(&key, 1, "test/S-1", None))
        .unwrap_err();
    assert_eq!(
        (r.code, r.class.http_status()),
        ("ledger.storage_full", 503)
    );
    // Every later submit says the same, from the handle, without reaching the writer.
    let r = h
        .submit_blocking(command(&key, 2, "test/S-1", None))
        .unwrap_err();
    assert_eq!(r.code, "ledger.storage_full");
    assert_eq!(h.reader().size(), 1);
    seq.shutdown();
    let (_w, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(reader.size(), 1, "nothing of the refused batch is there");
}

#[test]
fn after_a_full_disk_the_sequencer_resumes_by_itself_once_there_is_room() {
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[31; 32]);
    let full = Arc::new(AtomicBool::new(false));
    let fault_full = Arc::clone(&full);
    // Small segments: the failed batches start new segment files, which the recovery removes,
    // as a full disk at a segment's end does.
    let options = LogOptions {
        segment_bytes_max: 4096,
        sync_fault: Some(Arc::new(move |_| {
            if fault_full.load(Ordering::SeqCst) {
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            } else {
                Ok(())
            }
        })),
    };
    let (writer, _, _) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(writer, AcceptAll, config(clock)).unwrap();
    let h = seq.handle();
    let mut acked = Vec::new();
    for n in 0..3 {
        acked.push(
            h.submit_blocking(command(&key, n, "test/S-1", None))
                .unwrap(),
        );
    }
    // Fill the last segment, so that the next batch starts a new one.
    let segments = |dir: &Path| {
        let mut files: Vec<_> = std::fs::read_dir(dir.join("log"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    };
    let mut filler = 1000;
    while std::fs::metadata(segments(dir.path()).last().unwrap())
        .unwrap()
        .len()
        < 4096
    {
        acked.push(
            h.submit_blocking(command(&key, filler, "test/S-2", None))
                .unwrap(),
        );
        filler += 1;
    }
    let before = segments(dir.path()).len();
    full.store(true, Ordering::SeqCst);
    // While the disk is full, every command is refused with the same clear answer, including
    // those tried after the sequencer resumed and found the disk still full.
    let started = std::time::Instant::now();
    let mut n = 3;
    while started.elapsed() < std::time::Duration::from_millis(2_500) {
        let r = h
            .submit_blocking(command(&key, n, "test/S-1", None))
            .unwrap_err();
        assert_eq!(
            (r.code, r.class.http_status()),
            ("ledger.storage_full", 503),
            "{}",
            r.message
        );
        assert!(h.failure().is_some(), "the handle says why it refuses");
        assert_eq!(
            h.reader().size(),
            acked.len() as u64,
            "a refused command appended nothing"
        );
        n += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    full.store(false, Ordering::SeqCst);
    // Room again: within a few polls the same command that was refused is taken, at the next
    // seq (the failed batches left no gap, no nonce and no stream version behind).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let retried = loop {
        match h.submit_blocking(command(&key, 3, "test/S-1", None)) {
            Ok(receipt) => break receipt,
            Err(r) => {
                assert_eq!(r.code, "ledger.storage_full", "{}", r.message);
                assert!(
                    std::time::Instant::now() < deadline,
                    "the sequencer did not resume once there was room"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    assert_eq!(
        retried.seq,
        acked.len() as u64,
        "the failed batches left no gap"
    );
    assert_eq!(
        retried.stream_version, 4,
        "the stream version went on from 3"
    );
    assert!(!retried.duplicate);
    assert!(
        h.failure().is_none(),
        "the failure is cleared once it resumed"
    );
    assert_eq!(
        segments(dir.path()).len(),
        before + 1,
        "the segments the failed batches began were removed; the retried batch began one"
    );
    acked.push(retried);
    for n in 100..105 {
        acked.push(
            h.submit_blocking(command(&key, n, "test/S-1", None))
                .unwrap(),
        );
    }
    // A command refused while full and never retried can be sent now, once.
    let late = h
        .submit_blocking(command(&key, 4, "test/S-1", None))
        .unwrap();
    assert!(!late.duplicate);
    acked.push(late);
    seq.shutdown();

    // Reopened: every acknowledged entry is there with its leaf hash, the chain holds, and no
    // segment of a failed batch is left.
    let (_w, reader, report) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    assert_eq!(report.torn_tail_bytes, 0, "the recovery left no torn tail");
    assert_eq!(reader.size(), acked.len() as u64);
    for r in &acked {
        assert_eq!(
            hash::to_hex(&hash::leaf_hash(&reader.entry(r.seq).unwrap())),
            r.leaf_hash
        );
    }
}
