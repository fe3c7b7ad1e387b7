//! The offline verifier over a generated log: clean when untouched; every tampering found and
//! located by seq.

use std::sync::OnceLock;

use deedlog_core::checkpoint::{self, sign_checkpoint};
use deedlog_core::verify::{
    ExportError, FaultKind, LogVerifier, Report, verify_jsonl, verify_jsonl_with_key,
};
use deedlog_core::{Entry, SecretKey};
use proptest::prelude::*;

use crate::common::{GeneratedLog, checkpoint_line, generate, key};

/// ~300 entries from 7 keys, a checkpoint every 37 entries and one at the end.
fn log() -> &'static GeneratedLog {
    static LOG: OnceLock<GeneratedLog> = OnceLock::new();
    LOG.get_or_init(|| generate(300, 7, 37))
}

fn run(lines: Vec<Vec<u8>>) -> Report {
    verify_jsonl(lines.into_iter()).unwrap()
}

/// The index in `lines` of entry `seq` (line 0 is the header).
fn line_of(lines: &[Vec<u8>], seq: usize) -> usize {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(b"{\"derived\":"))
        .nth(seq)
        .unwrap()
        .0
}

fn kinds(report: &Report) -> Vec<(Option<u64>, FaultKind)> {
    report.faults.iter().map(|f| (f.seq, f.kind)).collect()
}

#[test]
fn an_untouched_log_is_clean() {
    let log = log();
    let report = run(log.lines());
    assert!(report.is_clean(), "{:#?}", report.faults);
    assert_eq!(report.entries, 300);
    assert_eq!(report.checkpoints, 9);
    assert_eq!(report.checkpoints_verified, 9);
    assert_eq!(report.covered, 300);
    // The report is serializable for `--json`.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["faults"], serde_json::json!([]));
}

#[test]
fn the_streaming_api_gives_the_same_report() {
    let log = log();
    let mut v = LogVerifier::new(&log.origin, &log.vkey).unwrap();
    let mut checkpoints = log.checkpoints.iter().peekable();
    for entry in &log.entries {
        v.push_entry(entry);
        while let Some((size, note)) = checkpoints.peek() {
            if *size != v.entries() {
                break;
            }
            v.push_checkpoint(note);
            checkpoints.next();
        }
    }
    assert_eq!(v.finish(), run(log.lines()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_flipped_byte_in_entry_k_is_located_at_k(
        k in 0usize..300,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let log = log();
        let mut lines = log.lines();
        let i = line_of(&lines, k);
        let j = at.index(lines[i].len());
        lines[i][j] ^= mask;
        let report = run(lines);
        prop_assert!(!report.is_clean());
        // Either entry k itself is faulty, or (a change the entry's own checks cannot see,
        // say in `derived`) the next entry's prev_hash no longer matches, or, for the last
        // entry, the checkpoint over it no longer matches.
        let k = k as u64;
        let located = report.faults.iter().any(|f| {
            f.seq == Some(k)
                || (f.seq == Some(k + 1) && f.kind == FaultKind::PrevHashMismatch)
                || (k == 299 && f.kind == FaultKind::CheckpointRootMismatch)
        });
        prop_assert!(located, "k={} faults={:#?}", k, report.faults);
        // Nothing before k is blamed (entries after the last good checkpoint are reported as
        // uncovered, which says nothing about them being wrong).
        prop_assert!(report.faults.iter().all(|f| f.kind == FaultKind::Uncovered || f.seq.is_none_or(|s| s >= k)));
        // The checkpoint covering k no longer matches: its root is over the changed bytes.
        let first_cover = log.checkpoints.iter().find(|(size, _)| *size > k).unwrap().0;
        let covering_mismatch = report.faults.iter().any(|f| {
            f.kind == FaultKind::CheckpointRootMismatch && f.checkpoint_size == Some(first_cover)
        });
        prop_assert!(covering_mismatch);
    }
}

#[test]
fn a_changed_derived_value_is_caught_by_the_chain_and_the_checkpoint() {
    let log = log();
    let mut lines = log.lines();
    let i = line_of(&lines, 40);
    let mut entry = Entry::decode(&lines[i]).unwrap();
    entry.derived = serde_json::json!({"code": "C-FORGED"});
    lines[i] = entry.encode().unwrap();
    let report = run(lines);
    assert_eq!(
        kinds(&report),
        vec![
            (Some(41), FaultKind::PrevHashMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointRootMismatch),
            (Some(37), FaultKind::Uncovered),
        ]
    );
    assert_eq!(report.covered, 37);
}

#[test]
fn a_forged_signature_is_located() {
    let log = log();
    let mut lines = log.lines();
    let i = line_of(&lines, 100);
    let mut entry = Entry::decode(&lines[i]).unwrap();
    entry.signed.payload["n"] = serde_json::json!(-1);
    lines[i] = entry.encode().unwrap();
    let report = run(lines);
    let faults = kinds(&report);
    assert_eq!(faults[0], (Some(100), FaultKind::BadSignature));
    assert_eq!(faults[1], (Some(101), FaultKind::PrevHashMismatch));
}

#[test]
fn swapped_entries_are_located() {
    let log = log();
    let mut lines = log.lines();
    let (a, b) = (line_of(&lines, 50), line_of(&lines, 60));
    lines.swap(a, b);
    let report = run(lines);
    let faults = kinds(&report);
    for seq in [50, 60] {
        assert!(
            faults.contains(&(Some(seq), FaultKind::SeqMismatch)),
            "{faults:?}"
        );
        assert!(faults.contains(&(Some(seq), FaultKind::PrevHashMismatch)));
    }
    assert!(faults.contains(&(Some(51), FaultKind::PrevHashMismatch)));
    assert!(faults.contains(&(Some(61), FaultKind::PrevHashMismatch)));
    assert!(
        faults
            .iter()
            .all(|(s, kind)| *kind == FaultKind::Uncovered || s.is_none_or(|s| s >= 50))
    );
    assert!(faults.contains(&(Some(37), FaultKind::Uncovered)));
}

#[test]
fn a_deleted_last_entry_leaves_the_checkpoint_beyond_the_log() {
    let log = log();
    let mut lines = log.lines();
    let last = line_of(&lines, 299);
    lines.remove(last);
    let report = run(lines);
    assert_eq!(report.entries, 299);
    let beyond: Vec<_> = report
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::CheckpointBeyondLog)
        .collect();
    assert_eq!(beyond.len(), 1);
    assert_eq!(beyond[0].checkpoint_size, Some(300));
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::Uncovered && f.seq == Some(296))
    );
}

#[test]
fn a_deleted_middle_entry_shifts_everything_after_it() {
    let log = log();
    let mut lines = log.lines();
    lines.remove(line_of(&lines, 120));
    let report = run(lines);
    let first = &report.faults[0];
    assert_eq!((first.seq, first.kind), (Some(120), FaultKind::SeqMismatch));
    assert!(
        report
            .faults
            .iter()
            .all(|f| f.kind == FaultKind::Uncovered || f.seq.is_none_or(|s| s >= 120))
    );
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let log = log();
    let mut lines = log.lines();
    let (size, _) = log.checkpoints[2];
    let root = log.hashes.root(size).unwrap();
    let forged = sign_checkpoint(&log.origin, size, root, &[], &key("intruder")).unwrap();
    let at = line_of(&lines, size as usize - 1) + 1;
    lines[at] = checkpoint_line(&forged);
    let report = run(lines);
    assert_eq!(report.faults.len(), 1, "{:#?}", report.faults);
    let f = &report.faults[0];
    assert_eq!(f.kind, FaultKind::CheckpointBadSignature);
    assert_eq!(f.checkpoint_size, Some(size));
    assert_eq!(report.checkpoints_verified, 8);
}

fn signed_by_log(log: &GeneratedLog, origin: &str, size: u64, root_of: u64) -> Vec<u8> {
    let root = log.hashes.root(root_of).unwrap();
    let note = checkpoint::sign_note(
        &checkpoint::checkpoint_body(origin, size, root, &[]).unwrap(),
        &log.origin,
        &log.log_key,
    )
    .unwrap();
    checkpoint_line(&note)
}

#[test]
fn checkpoint_faults_are_each_named() {
    let log = log();
    let base = log.lines();
    let after = |lines: &[Vec<u8>], seq: usize| line_of(lines, seq) + 1;

    // Wrong origin.
    let mut lines = base.clone();
    let at = after(&lines, 9);
    lines.insert(at, signed_by_log(log, "other.example/log", 10, 10));
    assert_eq!(
        kinds(&run(lines)),
        vec![(None, FaultKind::CheckpointWrongOrigin)]
    );

    // A root that is not the entries' root (and a second, different root for one size: a fork).
    let mut lines = base.clone();
    let at = after(&lines, 9);
    lines.insert(at, signed_by_log(log, &log.origin, 10, 11));
    lines.insert(at + 1, signed_by_log(log, &log.origin, 10, 10));
    assert_eq!(
        kinds(&run(lines)),
        vec![
            (None, FaultKind::CheckpointRootMismatch),
            (None, FaultKind::CheckpointFork)
        ]
    );

    // An older checkpoint repeated later: sizes must not decrease.
    let mut lines = base.clone();
    let at = after(&lines, 99);
    lines.insert(at, checkpoint_line(&log.checkpoints[0].1));
    let report = run(lines);
    assert_eq!(kinds(&report), vec![(None, FaultKind::CheckpointShrank)]);
    assert_eq!(report.faults[0].checkpoint_size, Some(37));

    // A damaged checkpoint line keeps its place and does not shift the entries.
    let mut lines = base.clone();
    let at = after(&lines, 36);
    lines[at][3] ^= 0x20;
    assert_eq!(
        kinds(&run(lines)),
        vec![(None, FaultKind::CheckpointMalformed)]
    );

    // A note that is not a checkpoint.
    let mut lines = base.clone();
    let at = after(&lines, 36);
    lines[at] =
        checkpoint_line(&checkpoint::sign_note(b"hello\n", &log.origin, &log.log_key).unwrap());
    assert_eq!(
        kinds(&run(lines)),
        vec![(None, FaultKind::CheckpointMalformed)]
    );
}

#[test]
fn early_and_late_checkpoints_are_still_checked() {
    let log = log();
    let mut lines = log.lines();
    // Move the checkpoint of size 74 ten entries later, and the one of size 111 ten entries
    // earlier.
    let from = line_of(&lines, 73) + 1;
    let note = lines.remove(from);
    let to = line_of(&lines, 83) + 1;
    lines.insert(to, note);
    let from = line_of(&lines, 110) + 1;
    let note = lines.remove(from);
    let to = line_of(&lines, 100) + 1;
    lines.insert(to, note);
    let report = run(lines);
    assert!(report.is_clean(), "{:#?}", report.faults);
    assert_eq!(report.checkpoints_verified, 9);
}

#[test]
fn uncovered_entries_junk_lines_and_empty_exports() {
    let log = log();
    // A junk line takes a position: it and every entry after it are reported.
    let mut lines = log.lines();
    let at = line_of(&lines, 200);
    lines.insert(at, b"not json".to_vec());
    let report = run(lines);
    assert_eq!(
        (report.faults[0].seq, report.faults[0].kind),
        (Some(200), FaultKind::Undecodable)
    );
    assert_eq!(
        (report.faults[1].seq, report.faults[1].kind),
        (Some(201), FaultKind::SeqMismatch)
    );

    // Non-canonical bytes of a good entry.
    let mut lines = log.lines();
    let at = line_of(&lines, 5);
    let value: serde_json::Value = serde_json::from_slice(&lines[at]).unwrap();
    lines[at] = serde_json::to_vec_pretty(&value).unwrap();
    let report = run(lines);
    assert_eq!(
        (report.faults[0].seq, report.faults[0].kind),
        (Some(5), FaultKind::NotCanonical)
    );

    // A log of headers only is clean; a final empty line is allowed.
    let header = log.lines()[0].clone();
    assert!(run(vec![header.clone()]).is_clean());
    assert!(run(vec![header.clone(), Vec::new()]).is_clean());
    // Entries that no checkpoint covers are a fault.
    let report = run(vec![header.clone(), log.entries[0].clone()]);
    assert_eq!(kinds(&report), vec![(Some(0), FaultKind::Uncovered)]);
    // An empty line in the middle is a position too.
    let report = run(vec![header, Vec::new(), log.entries[0].clone()]);
    assert_eq!(report.faults[0].kind, FaultKind::Undecodable);
}

#[test]
fn header_problems_are_errors() {
    let log = log();
    let header = log.lines()[0].clone();
    assert_eq!(verify_jsonl(std::iter::empty()), Err(ExportError::Empty));
    assert!(matches!(
        verify_jsonl(vec![b"{}".to_vec()].into_iter()),
        Err(ExportError::Header(_))
    ));
    let wrong = String::from_utf8(header.clone())
        .unwrap()
        .replace("export/v1", "export/v9");
    assert_eq!(
        verify_jsonl(vec![wrong.into_bytes()].into_iter()),
        Err(ExportError::Format("deedlog/export/v9".into()))
    );
    let bad_key = String::from_utf8(header.clone())
        .unwrap()
        .replace("\"log_key\":\"", "\"log_key\":\"x");
    assert!(matches!(
        verify_jsonl(vec![bad_key.into_bytes()].into_iter()),
        Err(ExportError::LogKey(_))
    ));
    let other = checkpoint::vkey(&log.origin, &key("other").public()).unwrap();
    assert_eq!(
        verify_jsonl_with_key(vec![header.clone()].into_iter(), Some(&other)),
        Err(ExportError::UntrustedLogKey)
    );
    assert!(verify_jsonl_with_key(vec![header].into_iter(), Some(&log.vkey)).is_ok());
}

#[test]
fn a_log_signed_by_an_intruder_is_not_trusted_when_the_key_is_pinned() {
    // An intruder can rebuild a whole export with their own key; only a pinned key shows it.
    let log = log();
    let intruder: SecretKey = key("intruder");
    let intruder_vkey = checkpoint::vkey(&log.origin, &intruder.public()).unwrap();
    let mut lines = log.lines();
    lines[0] = String::from_utf8(lines[0].clone())
        .unwrap()
        .replace(&log.vkey, &intruder_vkey)
        .into_bytes();
    assert!(matches!(
        verify_jsonl_with_key(lines.into_iter(), Some(&log.vkey)),
        Err(ExportError::UntrustedLogKey)
    ));
}
