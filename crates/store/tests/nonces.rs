//! The `(actor, nonce)` check off the sequencer's thread: the verify workers look the index up
//! and answer retries and reuses of committed commands; the sequencer checks only its batch, the
//! batch being synced and the ring of recently committed entries, and falls back to the index
//! when the ring does not reach back far enough. Each test races a retry and a reuse against
//! their original at one place in the pipeline and shows that exactly one entry is appended,
//! that the retry gets the original's receipt and that the reuse is refused. The last two
//! tests do the same for the stream version the workers prefetch.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deedlog_core::hash::{self, Hash};
use deedlog_core::{Command, SecretKey, SignedCommand};
use deedlog_store::{
    AcceptAll, CheckpointFormat, LogOptions, LogWriter, Receipt, Rejection, Sequencer,
    SequencerConfig, SequencerHandle, SequencerStats,
};
use serde_json::json;

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

fn command(key: &SecretKey, nonce: &str, payload: serde_json::Value) -> SignedCommand {
    Command {
        actor: format!("test/{}", key.public().key_id()),
        key: key.public().to_base64(),
        kind: "test.note".into(),
        stream: "test/S-1".into(),
        expected_version: None,
        payload,
        nonce: nonce.into(),
        issued_at_ms: NOW,
    }
    .sign(key)
    .expect("well-formed test command")
}

/// The original, an identical retry, and another command under the same nonce.
fn trio(key: &SecretKey, nonce: &str) -> (SignedCommand, SignedCommand, SignedCommand) {
    let original = command(key, nonce, json!({"n": 1}));
    let reuse = command(key, nonce, json!({"n": 2}));
    (original.clone(), original, reuse)
}

fn config(clock: Arc<AtomicI64>) -> SequencerConfig {
    SequencerConfig {
        clock: Arc::new(move || clock.load(Ordering::Relaxed)),
        verify_threads: 1,
        ..SequencerConfig::default()
    }
}

/// A sync fault that holds the sync of the batch reaching `size` until the test releases it,
/// telling the test when that sync has begun (the batch is then in flight).
struct Gate {
    entered: crossbeam_channel::Receiver<u64>,
    release: crossbeam_channel::Sender<()>,
}

fn gated(at_size: u64) -> (LogOptions, Gate) {
    let (entered_tx, entered) = crossbeam_channel::unbounded();
    let (release, release_rx) = crossbeam_channel::unbounded::<()>();
    let release_rx = Mutex::new(release_rx);
    let options = LogOptions {
        sync_fault: Some(Arc::new(move |size| {
            if size == at_size {
                let _ = entered_tx.send(size);
                let _ = release_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
            }
            Ok(())
        })),
        ..LogOptions::default()
    };
    (options, Gate { entered, release })
}

type Answer = tokio::sync::oneshot::Receiver<Result<Receipt, Rejection>>;

fn wait(rx: Answer) -> Result<Receipt, Rejection> {
    rx.blocking_recv().expect("the sequencer answers")
}

/// The retry got the original's receipt, the reuse was refused, and the log holds one entry
/// with that nonce (and nothing else was appended).
fn check_outcome(
    h: &SequencerHandle,
    original: &Receipt,
    retry: &Result<Receipt, Rejection>,
    reuse: &Result<Receipt, Rejection>,
    size: u64,
) {
    let retry = retry
        .as_ref()
        .expect("the retry is answered with a receipt");
    assert!(retry.duplicate, "the retry is marked as a duplicate");
    assert!(!original.duplicate);
    assert_eq!(
        (
            retry.seq,
            &retry.leaf_hash,
            &retry.stream,
            retry.stream_version
        ),
        (
            original.seq,
            &original.leaf_hash,
            &original.stream,
            original.stream_version
        ),
        "the retry gets the first receipt"
    );
    let reuse = reuse.as_ref().expect_err("the reuse is refused");
    assert_eq!(
        (reuse.code, reuse.class.http_status()),
        ("command.nonce_reused", 409)
    );
    assert_eq!(h.reader().size(), size, "one entry, whatever the race");
}

#[test]
fn a_retry_and_a_reuse_in_the_same_batch_as_their_original() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(
        writer,
        AcceptAll,
        SequencerConfig {
            // A long gathering window: the three land in one batch.
            batch_wait: Duration::from_millis(300),
            ..config(clock)
        },
    )
    .unwrap();
    let h = seq.handle();
    let key = SecretKey::from_seed(&[1; 32]);
    let (original, retry, reuse) = trio(&key, "same-batch-1");
    let a = h.enqueue(original).unwrap();
    let b = h.enqueue(retry).unwrap();
    let c = h.enqueue(reuse).unwrap();
    let original = wait(a).unwrap();
    let (retry, reuse) = (wait(b), wait(c));
    check_outcome(&h, &original, &retry, &reuse, 1);
    let stats = h.stats();
    assert_eq!(
        (
            stats.nonce_answered_from_memory,
            stats.nonce_answered_by_workers,
            stats.nonce_fallbacks
        ),
        (2, 0, 0)
    );
    // The reuse within the batch carries no seq: its original was not on the log yet.
    seq.shutdown();
}

#[test]
fn a_retry_and_a_reuse_decided_while_their_original_is_being_synced() {
    let dir = tempfile::tempdir().unwrap();
    let (options, gate) = gated(1);
    let (writer, _, _) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(
        writer,
        AcceptAll,
        SequencerConfig {
            // While a batch is in flight the sequencer waits this long for the next one before
            // it waits for the sync: the retry arrives well within it.
            batch_wait: Duration::from_millis(400),
            ..config(clock)
        },
    )
    .unwrap();
    let h = seq.handle();
    let key = SecretKey::from_seed(&[2; 32]);
    let (original, retry, reuse) = trio(&key, "in-flight-1");
    let a = h.enqueue(original).unwrap();
    gate.entered.recv().unwrap();
    // The original's batch is being synced; its entry is not visible yet, so the workers find
    // nothing and the sequencer must recognise the two from the batch in flight.
    assert_eq!(h.reader().size(), 0);
    let b = h.enqueue(retry).unwrap();
    let c = h.enqueue(reuse).unwrap();
    gate.release.send(()).unwrap();
    let original = wait(a).unwrap();
    let (retry, reuse) = (wait(b), wait(c));
    check_outcome(&h, &original, &retry, &reuse, 1);
    let stats = h.stats();
    assert_eq!(
        (stats.nonce_answered_by_workers, stats.nonce_fallbacks),
        (0, 0)
    );
    assert_eq!(stats.nonce_answered_from_memory, 2);
    seq.shutdown();
}

/// The retry and the reuse are looked up by the worker while their original is being synced
/// (a miss covering size 0), and reach the sequencer only after the original was committed:
/// the sequencer must find it among the recently committed entries (`recent_nonces` large) or,
/// when the ring no longer reaches back to size 0, in the index on its own thread.
fn committed_while_waiting(recent_nonces: usize, filler: usize) -> (SequencerStats, u64) {
    let dir = tempfile::tempdir().unwrap();
    let (options, gate) = gated(1);
    let (writer, _, _) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(
        writer,
        AcceptAll,
        SequencerConfig {
            // A short window: with its batch in flight and nothing else queued, the sequencer
            // soon waits for the sync, and whatever the workers pass on meanwhile waits.
            batch_wait: Duration::from_millis(1),
            batch_max: 1,
            recent_nonces,
            ..config(clock)
        },
    )
    .unwrap();
    let h = seq.handle();
    let key = SecretKey::from_seed(&[3; 32]);
    let (original, retry, reuse) = trio(&key, "waited-1");
    let a = h.enqueue(original).unwrap();
    gate.entered.recv().unwrap();
    // By now the sequencer waits for the original's sync, with nothing to decide meanwhile.
    std::thread::sleep(Duration::from_millis(100));
    // Other commands first, each passed on by the worker alone and so its own batch (batch_max
    // 1): once the original's sync ends they are committed one by one before the retry's turn,
    // and push the original out of a small ring.
    let others: Vec<Answer> = (0..filler)
        .map(|i| {
            let rx = h
                .enqueue(command(&key, &format!("filler-{i:04}"), json!({"i": i})))
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            rx
        })
        .collect();
    let b = h.enqueue(retry).unwrap();
    let c = h.enqueue(reuse).unwrap();
    // Time for the worker to look them up (a miss: the original is not visible yet) and pass
    // them on, before the original's sync finishes.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(h.reader().size(), 0);
    gate.release.send(()).unwrap();
    let original = wait(a).unwrap();
    for o in others {
        assert!(!wait(o).unwrap().duplicate);
    }
    let (retry, reuse) = (wait(b), wait(c));
    let size = 1 + filler as u64;
    check_outcome(&h, &original, &retry, &reuse, size);
    let stats = h.stats();
    assert_eq!(
        stats.nonce_answered_by_workers, 0,
        "the worker looked them up before the original was visible"
    );
    // A retry long after: answered by the worker from the index, before the issued_at window.
    let (_, retry, reuse) = trio(&key, "waited-1");
    let again = h.submit_blocking(retry).unwrap();
    assert_eq!((again.seq, again.duplicate), (original.seq, true));
    let refused = h.submit_blocking(reuse).unwrap_err();
    assert_eq!(refused.details["seq"], original.seq);
    assert_eq!(h.stats().nonce_answered_by_workers, 2);
    assert_eq!(h.reader().size(), size);
    seq.shutdown();
    (stats, size)
}

#[test]
fn a_retry_and_a_reuse_committed_against_while_they_waited_are_found_in_the_recent_ring() {
    let (stats, _) = committed_while_waiting(1024, 3);
    assert_eq!(stats.nonce_answered_from_memory, 2);
    assert_eq!(stats.nonce_fallbacks, 0, "the ring reached back far enough");
}

#[test]
fn when_the_ring_no_longer_reaches_back_the_sequencer_falls_back_to_the_index() {
    // A ring of 1 entry: the original and two or three more were committed before the retry's
    // turn.
    let (stats, _) = committed_while_waiting(1, 3);
    // The retry and the reuse (and the last filler, which waited as long) fell back.
    assert!(stats.nonce_fallbacks >= 2, "{stats:?}");
    assert_eq!(
        stats.nonce_answered_from_memory, 0,
        "neither was answered from the ring"
    );
    // No ring at all.
    let (stats, _) = committed_while_waiting(0, 0);
    assert_eq!(stats.nonce_fallbacks, 2);
}

#[test]
fn a_retry_long_after_its_entry_was_indexed_gets_its_first_receipt_at_any_later_time() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[4; 32]);
    let (original, retry, reuse) = trio(&key, "long-ago-1");
    let first = {
        let (writer, _, _) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
        let clock = Arc::new(AtomicI64::new(NOW));
        let seq = Sequencer::start(writer, AcceptAll, config(clock)).unwrap();
        let h = seq.handle();
        let first = h.submit_blocking(original).unwrap();
        for i in 0..20 {
            h.submit_blocking(command(&key, &format!("later-{i:04}"), json!({"i": i})))
                .unwrap();
        }
        seq.shutdown();
        first
    };
    // Reopened (the index is on disk now, nothing in the overlay), a day later: far outside
    // the issued_at window, yet the retry is recognised first.
    let (writer, _, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW + 24 * 3600 * 1000));
    let seq = Sequencer::start(writer, AcceptAll, config(clock)).unwrap();
    let h = seq.handle();
    let again = h.submit_blocking(retry).unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.seq, &again.leaf_hash, again.checkpoint_size),
        (first.seq, &first.leaf_hash, 21)
    );
    let r = h.submit_blocking(reuse).unwrap_err();
    assert_eq!(r.code, "command.nonce_reused");
    assert_eq!(r.details, json!({"seq": first.seq}));
    assert_eq!(
        r.message,
        format!("this actor already used this nonce for entry {}", first.seq)
    );
    // A new command at that clock is stale: the window is still checked, after the nonce.
    let r = h
        .submit_blocking(command(&key, "fresh-0001", json!({})))
        .unwrap_err();
    assert_eq!(r.code, "command.stale");
    assert_eq!(
        h.stats(),
        SequencerStats {
            nonce_answered_by_workers: 2,
            // The fresh command's (the retry and the reuse stop before it).
            stream_prefetches: 1,
            ..SequencerStats::default()
        }
    );
    assert_eq!(h.reader().size(), 21);
    seq.shutdown();
}

/// Many clients submit new commands, retries and reuses of earlier ones at once, with rings of
/// several sizes. The two verify workers may pass any of the three on first, so whichever
/// reaches the sequencer first is the one on the log; every answer must agree with the log:
/// each nonce is on the log once, every command identical to its entry gets that entry's seq
/// (and exactly one of them `duplicate: false`), every other command under the nonce is refused.
#[test]
fn retries_and_reuses_under_load_land_exactly_once_whatever_the_ring() {
    for recent_nonces in [0usize, 5, 1 << 17] {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _, _) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
        let clock = Arc::new(AtomicI64::new(NOW));
        let seq = Sequencer::start(
            writer,
            AcceptAll,
            SequencerConfig {
                verify_threads: 2,
                batch_max: 8,
                recent_nonces,
                ..config(clock)
            },
        )
        .unwrap();
        let h = seq.handle();
        let clients = 4u8;
        let per = 60usize;
        let threads: Vec<_> = (0..clients)
            .map(|c| {
                let h = h.clone();
                std::thread::spawn(move || {
                    let key = SecretKey::from_seed(&[10 + c; 32]);
                    let mut pending = Vec::new();
                    for i in 0..per {
                        let (original, retry, reuse) = trio(&key, &format!("load-{i:04}"));
                        // The original, then (without waiting) its retry and its reuse, and a
                        // retry of an older one: they race through the workers and batches.
                        for c in [original, retry, reuse] {
                            pending.push((i, c.clone(), h.enqueue(c).unwrap()));
                        }
                        if i >= 7 {
                            let (old, _, _) = trio(&key, &format!("load-{:04}", i - 7));
                            pending.push((i - 7, old.clone(), h.enqueue(old).unwrap()));
                        }
                    }
                    pending
                        .into_iter()
                        .map(|(i, c, rx)| (i, c, wait(rx)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let answers: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let total = u64::from(clients) * per as u64;
        assert_eq!(h.reader().size(), total, "ring {recent_nonces}");
        let reader = h.reader();
        let mut firsts = std::collections::HashMap::new();
        for (_, command, answer) in &answers {
            let seq = reader
                .nonce_seq(&command.actor, &command.nonce)
                .unwrap()
                .expect("every nonce is on the log");
            let entry = reader.whole_entry(seq).unwrap();
            if entry.signed == *command {
                let r = answer
                    .as_ref()
                    .expect("the command on the log is answered Ok");
                assert_eq!(r.seq, seq, "ring {recent_nonces}");
                if !r.duplicate {
                    *firsts.entry(seq).or_insert(0) += 1;
                }
            } else {
                let r = answer
                    .as_ref()
                    .expect_err("another command under the nonce");
                assert_eq!(r.code, "command.nonce_reused", "ring {recent_nonces}");
            }
        }
        assert_eq!(
            firsts.len() as u64,
            total,
            "every entry was acknowledged once"
        );
        assert!(firsts.values().all(|&n| n == 1), "one first receipt each");
        // Each nonce once on the log.
        let mut nonces: Vec<(String, String)> = (0..total)
            .map(|s| {
                let e = reader.whole_entry(s).unwrap();
                (e.signed.actor, e.signed.nonce)
            })
            .collect();
        nonces.sort();
        nonces.dedup();
        assert_eq!(nonces.len() as u64, total);
        seq.shutdown();
    }
}

// The stream's version, prefetched by the worker for a stream the sequencer no longer holds.

fn on_stream(
    key: &SecretKey,
    nonce: &str,
    stream: &str,
    expected_version: Option<u64>,
) -> SignedCommand {
    Command {
        actor: format!("test/{}", key.public().key_id()),
        key: key.public().to_base64(),
        kind: "test.note".into(),
        stream: stream.into(),
        expected_version,
        payload: json!({}),
        nonce: nonce.into(),
        issued_at_ms: NOW,
    }
    .sign(key)
    .expect("well-formed test command")
}

#[test]
fn a_cold_stream_is_decided_from_the_version_the_worker_prefetched() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[5; 32]);
    {
        let (writer, _, _) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
        let seq =
            Sequencer::start(writer, AcceptAll, config(Arc::new(AtomicI64::new(NOW)))).unwrap();
        for i in 0..3 {
            seq.handle()
                .submit_blocking(on_stream(&key, &format!("cold-{i:04}"), "test/X", None))
                .unwrap();
        }
        seq.shutdown();
    }
    // After a reopen the sequencer holds no stream: test/X is cold.
    let (writer, _, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    let seq = Sequencer::start(writer, AcceptAll, config(Arc::new(AtomicI64::new(NOW)))).unwrap();
    let h = seq.handle();
    let r = h
        .submit_blocking(on_stream(&key, "cold-0010", "test/X", Some(1)))
        .unwrap_err();
    assert_eq!(r.code, "stream.version_conflict");
    assert_eq!(r.details["actual"], 3);
    let r = h
        .submit_blocking(on_stream(&key, "cold-0011", "test/Y", Some(0)))
        .unwrap();
    assert_eq!(r.stream_version, 1);
    assert_eq!(
        h.stats().stream_fallbacks,
        0,
        "both decided from the hints, without reading the index on the sequencer's thread"
    );
    let r = h
        .submit_blocking(on_stream(&key, "cold-0012", "test/X", Some(3)))
        .unwrap();
    assert_eq!((r.seq, r.stream_version), (4, 4));
    seq.shutdown();
}

/// The worker reads stream X's version (0) while X's first entry is being synced; by the time
/// the command is decided, that entry is committed and the sequencer's stream cache was
/// emptied (a cache of 1 stream), so X is missing from it. The hint is stale and must not be
/// trusted: the sequencer reads the index instead and gives the command version 2, not a
/// second version 1.
#[test]
fn a_hint_older_than_the_last_emptying_of_the_stream_cache_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (options, gate) = gated(1);
    let (writer, _, _) = LogWriter::open(dir.path(), options, Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let seq = Sequencer::start(
        writer,
        AcceptAll,
        SequencerConfig {
            batch_wait: Duration::from_millis(1),
            batch_max: 1,
            stream_cache_max: 1,
            // Otherwise the worker would skip the read for X, which the sequencer holds then.
            prefetch_every_stream: true,
            ..config(clock)
        },
    )
    .unwrap();
    let h = seq.handle();
    let key = SecretKey::from_seed(&[6; 32]);
    let a = h
        .enqueue(on_stream(&key, "hint-0001", "test/X", None))
        .unwrap();
    gate.entered.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // Another stream first, its own batch, so the cache holds two streams and is emptied
    // before the next command is decided.
    let c = h
        .enqueue(on_stream(&key, "hint-0002", "test/Y", None))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let b = h
        .enqueue(on_stream(&key, "hint-0003", "test/X", None))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        h.reader().size(),
        0,
        "the worker read X before its entry was visible"
    );
    gate.release.send(()).unwrap();
    let a = wait(a).unwrap();
    let c = wait(c).unwrap();
    let b = wait(b).unwrap();
    assert_eq!((a.stream.as_str(), a.stream_version), ("test/X", 1));
    assert_eq!((c.stream.as_str(), c.stream_version), ("test/Y", 1));
    assert_eq!(
        (b.stream.as_str(), b.stream_version),
        ("test/X", 2),
        "the stale hint (0) would have made a second version 1"
    );
    assert!(h.stats().stream_fallbacks >= 1);
    assert_eq!(h.reader().stream_version("test/X").unwrap(), 2);
    seq.shutdown();
}

/// A stream the sequencer holds is not read by the workers at all (the shared map of cached
/// streams says so), and a stream it does not hold is, so the sequencer never reads the index
/// for either.
#[test]
fn the_workers_prefetch_only_streams_the_sequencer_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    let seq = Sequencer::start(writer, AcceptAll, config(Arc::new(AtomicI64::new(NOW)))).unwrap();
    let h = seq.handle();
    let key = SecretKey::from_seed(&[7; 32]);
    for i in 0..40u64 {
        let stream = format!("test/W-{}", i % 4);
        let r = h
            .submit_blocking(on_stream(
                &key,
                &format!("warm-{i:04}"),
                &stream,
                Some(i / 4),
            ))
            .unwrap();
        assert_eq!(r.stream_version, i / 4 + 1);
    }
    let stats = h.stats();
    assert_eq!(
        (stats.stream_prefetches, stats.stream_fallbacks),
        (4, 0),
        "one read per stream, by a worker, for its first command only"
    );
    seq.shutdown();
}
