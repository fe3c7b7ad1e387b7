//! The sequencer accepts exactly the signatures the one rule accepts: the same constructed edge
//! cases the core's offline verifier and bundle checks are tested on (torsion in R or in the key,
//! non-canonical S, R and keys). None of the refused ones is appended; and a log that holds them
//! anyway (written past the sequencer) is reported by the audit at exactly their seqs.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use deedlog_core::verify::FaultKind;
use deedlog_core::{Entry, SecretKey};
use deedlog_store::{AcceptAll, LogOptions, LogWriter, NoteFormat, Sequencer, SequencerConfig};
use serde_json::json;

#[path = "../../core/tests/edge_cases.rs"]
mod edge_cases;

use edge_cases::{cases, rule_accepts};

const ORIGIN: &str = "signatures.deedlog.example/log";

fn format() -> NoteFormat {
    NoteFormat::new(ORIGIN, SecretKey::from_seed(&[0x6b; 32])).expect("valid origin")
}

#[test]
fn the_sequencer_appends_exactly_what_the_rule_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (writer, _, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format())).expect("opens");
    let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
    let c = Arc::clone(&clock);
    let seq = Sequencer::start(
        writer,
        AcceptAll,
        SequencerConfig {
            clock: Arc::new(move || c.load(Ordering::Relaxed)),
            ..SequencerConfig::default()
        },
    )
    .expect("starts");
    let h = seq.handle();
    let all = cases(16);
    // Submitted one at a time (a batch of one, as the grinding attacker would) and then all at
    // once (batches of many): the verdict must not depend on the company a command keeps.
    let mut accepted = Vec::new();
    for case in &all {
        let outcome = h.submit_blocking(case.command.clone());
        assert_eq!(outcome.is_ok(), case.accept, "{}: {outcome:?}", case.name);
        assert_eq!(rule_accepts(&case.command), case.accept, "{}", case.name);
        if let Err(rejection) = outcome {
            assert_eq!(rejection.code, "command.bad_signature", "{}", case.name);
        } else {
            accepted.push(case.name.clone());
        }
    }
    let size = h.reader().size();
    assert_eq!(size, accepted.len() as u64);
    let waiting: Vec<_> = all
        .iter()
        .map(|c| (c, h.enqueue(c.command.clone()).expect("queued")))
        .collect();
    for (case, rx) in waiting {
        let outcome = rx.blocking_recv().expect("answered");
        // Accepted ones come back as duplicates of the first append; refused ones stay refused.
        assert_eq!(outcome.is_ok(), case.accept, "{} in a batch", case.name);
    }
    assert_eq!(h.reader().size(), size, "nothing new was appended");
    drop(h);
    seq.shutdown();
    let report =
        deedlog_store::audit::verify_segments(&dir.path().join("log"), ORIGIN, &format().vkey())
            .expect("verifies");
    assert!(report.is_clean(), "{:?}", report.faults);
}

#[test]
fn a_log_holding_refused_signatures_is_reported_at_their_seqs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut writer, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format())).expect("opens");
    // A modified server that skips the signature check: stage every case directly.
    let mut refused = Vec::new();
    for case in cases(16) {
        let entry = Entry {
            seq: writer.next_seq(),
            recorded_at_ms: 1_800_000_000_005,
            prev_hash: writer.last_leaf(),
            stream: case.command.stream.clone(),
            stream_version: writer.next_seq() + 1,
            kind: case.command.kind.clone(),
            signed: case.command.clone(),
            derived: json!({}),
        };
        if !case.accept {
            refused.push(entry.seq);
        }
        let bytes = entry.encode().expect("encodes");
        writer.stage(&entry, &bytes, None).expect("stages");
        if entry.seq % 10 == 9 {
            writer.commit(1_800_000_000_005).expect("commits");
        }
    }
    writer.commit(1_800_000_000_005).expect("commits");
    assert!(!refused.is_empty());
    drop((writer, reader));
    let report =
        deedlog_store::audit::verify_segments(&dir.path().join("log"), ORIGIN, &format().vkey())
            .expect("verifies");
    let mut found: Vec<u64> = report
        .faults
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FaultKind::BadSignature | FaultKind::BadKey | FaultKind::MalformedCommand
            )
        })
        .filter_map(|f| f.seq)
        .collect();
    found.dedup();
    assert_eq!(found, refused, "{:?}", report.faults);
    assert_eq!(report.checkpoints_verified, report.checkpoints);
}
