//! The verifier with worker threads gives exactly the report of the one-thread verifier: every
//! fault, with its seq, kind, words and order, whatever the threads, the batch size and the
//! tampering (batches of a few entries put every kind of item on a batch boundary).

use std::sync::OnceLock;

use deedlog_core::verify::{
    FaultKind, LogVerifier, Parallelism, Report, verify_jsonl_with, verify_jsonl_with_key,
};
use proptest::prelude::*;

use crate::common::{GeneratedLog, generate};

fn log() -> &'static GeneratedLog {
    static LOG: OnceLock<GeneratedLog> = OnceLock::new();
    LOG.get_or_init(|| generate(300, 7, 37))
}

fn sequential(lines: &[Vec<u8>]) -> Report {
    let key = &log().vkey;
    verify_jsonl_with(lines.iter().cloned(), Some(key), Parallelism::sequential()).unwrap()
}

fn threaded(lines: &[Vec<u8>], threads: usize, batch_entries: usize) -> Report {
    let key = &log().vkey;
    let parallelism = Parallelism {
        threads,
        batch_entries,
    };
    verify_jsonl_with(lines.iter().cloned(), Some(key), parallelism).unwrap()
}

/// Ways to damage an export, each at a line of the body.
#[derive(Debug, Clone)]
enum Tamper {
    Flip { line: usize, at: usize, mask: u8 },
    Delete { line: usize },
    Duplicate { line: usize },
    Swap { line: usize },
    Junk { line: usize, text: &'static str },
}

const JUNK: &[&str] = &[
    "not json at all",
    "{\"opening\":{\"payload\":{},\"salt\":\"00\"},\"seq\":3}",
    "{\"opening\":[1,2,3]}",
    "{\"checkpoint\":17}",
    "{\"checkpoint\":\"deedlog.example/log\\n5\\nAAAA\\n\\n\u{2014} x y\\n\"}",
    "",
];

fn apply(lines: &mut Vec<Vec<u8>>, tamper: &Tamper) {
    // Line 0 is the header: damage only the body.
    let body = |i: usize, len: usize| 1 + i % (len - 1);
    match *tamper {
        Tamper::Flip { line, at, mask } => {
            let i = body(line, lines.len());
            let j = at % lines[i].len().max(1);
            if let Some(b) = lines[i].get_mut(j) {
                *b ^= mask;
            }
        }
        Tamper::Delete { line } => {
            let i = body(line, lines.len());
            lines.remove(i);
        }
        Tamper::Duplicate { line } => {
            let i = body(line, lines.len());
            let copy = lines[i].clone();
            lines.insert(i, copy);
        }
        Tamper::Swap { line } => {
            let i = body(line, lines.len());
            if i + 1 < lines.len() {
                lines.swap(i, i + 1);
            }
        }
        Tamper::Junk { line, text } => {
            let i = body(line, lines.len());
            lines.insert(i, text.as_bytes().to_vec());
        }
    }
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), 1u8..=255).prop_map(|(line, at, mask)| Tamper::Flip {
            line,
            at,
            mask
        }),
        any::<usize>().prop_map(|line| Tamper::Delete { line }),
        any::<usize>().prop_map(|line| Tamper::Duplicate { line }),
        any::<usize>().prop_map(|line| Tamper::Swap { line }),
        (any::<usize>(), 0..JUNK.len()).prop_map(|(line, j)| Tamper::Junk {
            line,
            text: JUNK[j]
        }),
    ]
}

#[test]
fn an_untouched_log_gives_the_same_clean_report_on_any_threads() {
    let lines = log().lines();
    let one = sequential(&lines);
    assert!(one.is_clean(), "{:#?}", one.faults);
    for threads in [2, 3, 8] {
        for batch in [1, 2, 7, 37, 512] {
            assert_eq!(
                threaded(&lines, threads, batch),
                one,
                "{threads} threads, {batch}"
            );
        }
    }
    // The default (one worker per core) is what `verify_jsonl_with_key` uses.
    let default = verify_jsonl_with_key(lines.into_iter(), Some(&log().vkey)).unwrap();
    assert_eq!(default, one);
}

#[test]
fn a_forged_signature_is_named_at_its_seq_by_the_workers() {
    let mut lines = log().lines();
    // Entry 123 sits in the middle of a batch of 50 and at the start of a batch of 123.
    let i = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(b"{\"derived\":"))
        .nth(123)
        .unwrap()
        .0;
    let text = String::from_utf8(lines[i].clone()).unwrap();
    let at = text.find("\"signature\":\"").unwrap() + 13;
    let mut bytes = lines[i].clone();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    lines[i] = bytes;
    for batch in [50, 123] {
        let report = threaded(&lines, 2, batch);
        assert_eq!(report, sequential(&lines));
        let first = &report.faults[0];
        assert_eq!(
            (first.seq, first.kind),
            (Some(123), FaultKind::BadSignature)
        );
    }
}

#[test]
fn the_streaming_api_with_threads_counts_entries_as_they_are_pushed() {
    let log = log();
    let mut v = LogVerifier::new(&log.origin, &log.vkey)
        .unwrap()
        .with_threads(2)
        .with_batch_entries(5);
    let mut checkpoints = log.checkpoints.iter().peekable();
    for (n, entry) in log.entries.iter().enumerate() {
        v.push_entry(entry);
        // A caller interleaving checkpoints by size (as `deedlog verify --server` does) needs the
        // count of entries pushed, not of those the workers have finished.
        assert_eq!(v.entries(), n as u64 + 1);
        while let Some((size, note)) = checkpoints.peek() {
            if *size != v.entries() {
                break;
            }
            v.push_checkpoint(note);
            checkpoints.next();
        }
    }
    let report = v.finish();
    assert!(report.is_clean(), "{:#?}", report.faults);
    assert_eq!(report.checkpoints_verified, log.checkpoints.len() as u64);
}

#[test]
fn a_verifier_dropped_with_work_in_flight_stops_its_workers() {
    let log = log();
    for _ in 0..20 {
        let mut v = LogVerifier::new(&log.origin, &log.vkey)
            .unwrap()
            .with_threads(2)
            .with_batch_entries(3);
        for entry in log.entries.iter().take(100) {
            v.push_entry(entry);
        }
        // Dropping joins the workers; a hang here would fail the test by its time limit.
        drop(v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_tampering_gives_the_same_report_on_threads(
        tampers in prop::collection::vec(tamper(), 1..4),
        threads in 2usize..5,
        batch in 1usize..60,
    ) {
        let mut lines = log().lines();
        for t in &tampers {
            apply(&mut lines, t);
        }
        let one = sequential(&lines);
        let many = threaded(&lines, threads, batch);
        prop_assert_eq!(many, one);
    }
}
