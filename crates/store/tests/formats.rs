//! One log, both entry formats: version-1 entries written before version 2 (payload signed in
//! clear) keep verifying forever, and a log holding both verifies, re-derives and exports —
//! publicly (openings left out) and fully — with every entry still checked.

#[path = "support/remove.rs"]
mod remove;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use deedlog_core::verify::{FaultKind, verify_jsonl_with_key};
use deedlog_core::{Command, Entry, LoggedEntry, SecretKey};
use deedlog_store::{AcceptAll, LogOptions, LogWriter, NoteFormat, Sequencer, SequencerConfig};
use serde_json::json;

const ORIGIN: &str = "formats.deedlog.example/log";

fn format() -> NoteFormat {
    NoteFormat::new(ORIGIN, SecretKey::from_seed(&[0x5a; 32])).expect("valid origin")
}

fn command(secret: &SecretKey, n: u64, stream: &str, version: Option<u64>) -> Command {
    Command {
        actor: "party/PA-1".into(),
        key: secret.public().to_base64(),
        kind: "test.note".into(),
        stream: stream.into(),
        expected_version: version,
        payload: json!({"n": n, "secret_terms": format!("terms {n}")}),
        nonce: format!("formats-{n:06}"),
        issued_at_ms: 1_800_000_000_000,
    }
}

/// Lines of a JSON Lines export.
fn export(dir: &std::path::Path, full: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    deedlog_store::audit::export_jsonl(
        &dir.join("log"),
        ORIGIN,
        &format().vkey(),
        &mut out,
        &mut |_, _| full,
        &mut |_| {},
    )
    .expect("exports");
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn a_log_of_both_versions_verifies_reopens_and_exports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = SecretKey::from_seed(&[7; 32]);
    // Version-1 entries, as a node before version 2 wrote them (staged past the sequencer,
    // which no longer takes version-1 commands).
    {
        let (mut writer, _, _) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format())).expect("opens");
        for n in 0..10u64 {
            let signed = command(&secret, n, "test/T-1", Some(n))
                .sign_v1(&secret)
                .unwrap();
            let entry = Entry {
                seq: writer.next_seq(),
                recorded_at_ms: 1_800_000_000_005,
                prev_hash: writer.last_leaf(),
                stream: "test/T-1".into(),
                stream_version: n + 1,
                kind: "NoteAdded".into(),
                signed,
                derived: json!({}),
            };
            let (bytes, opening) = entry.encode_record().unwrap();
            assert!(opening.is_none(), "version 1 has no opening");
            writer.stage(&entry, &bytes, None).unwrap();
        }
        writer.commit(1_800_000_000_005).unwrap();
    }
    // Then version-2 entries through the sequencer, after a reopen.
    let (writer, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format())).expect("reopens");
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
    let v1_again = command(&secret, 99, "test/T-2", None)
        .sign_v1(&secret)
        .unwrap();
    let refused = seq.handle().submit_blocking(v1_again);
    assert!(
        refused
            .as_ref()
            .is_err_and(|r| r.code == "command.malformed"),
        "{refused:?}"
    );
    for n in 10..20u64 {
        let signed = command(&secret, n, "test/T-2", None).sign(&secret).unwrap();
        seq.handle().submit_blocking(signed).expect("appends");
    }
    drop(seq);
    assert_eq!(reader.size(), 20);
    for n in 0..20 {
        let e = LoggedEntry::decode(&reader.entry(n).unwrap()).unwrap();
        assert_eq!(e.version(), if n < 10 { 1 } else { 2 }, "seq {n}");
        assert_eq!(e.clear_payload().is_some(), n < 10, "seq {n}");
        let whole = reader.whole_entry(n).unwrap();
        assert_eq!(whole.signed.payload["n"], json!(n));
    }
    drop(reader);

    // The segments verify: every version-2 opening checked against its digest.
    let report =
        deedlog_store::audit::verify_segments(&dir.path().join("log"), ORIGIN, &format().vkey())
            .expect("verifies");
    assert!(report.is_clean(), "{:#?}", report.faults);
    assert_eq!((report.entries, report.opened, report.sealed), (20, 10, 0));

    // The derived files are rebuilt from a mixed log.
    for derived in ["index", "offsets", "hashes", "derived.synced"] {
        let p = dir.path().join(derived);
        if p.is_dir() {
            remove::remove_dir(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
    let (_, reader, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format())).expect("re-derives");
    assert_eq!(reader.size(), 20);
    assert_eq!(
        reader.whole_entry(15).unwrap().signed.payload["n"],
        json!(15)
    );
    drop(reader);

    // A full export holds every payload; a public one none of the sealed ones; both verify.
    let full = export(dir.path(), true);
    let public = export(dir.path(), false);
    let text = |lines: &[Vec<u8>]| String::from_utf8_lossy(&lines.concat()).into_owned();
    assert!(text(&full).contains("terms 15"));
    assert!(
        !text(&public).contains("terms 15"),
        "a sealed payload in the public export"
    );
    assert!(
        text(&public).contains("terms 5"),
        "version-1 payloads were public all along"
    );
    let vkey = format().vkey();
    let r = verify_jsonl_with_key(full.clone().into_iter(), Some(&vkey)).unwrap();
    assert!(r.is_clean(), "{:#?}", r.faults);
    assert_eq!((r.opened, r.sealed), (10, 0));
    let r = verify_jsonl_with_key(public.clone().into_iter(), Some(&vkey)).unwrap();
    assert!(r.is_clean(), "{:#?}", r.faults);
    assert_eq!((r.opened, r.sealed), (0, 10));

    // A swapped opening (entry 11's payload shown for entry 12) is found at its seq; so is an
    // opening that follows no version-2 entry.
    let mut swapped = full.clone();
    let at = |lines: &[Vec<u8>], seq: u64| {
        lines
            .iter()
            .position(|l| {
                l.starts_with(b"{\"opening\":")
                    && l.ends_with(format!(",\"seq\":{seq}}}").as_bytes())
            })
            .unwrap()
    };
    let (i11, i12) = (at(&swapped, 11), at(&swapped, 12));
    let moved = String::from_utf8(swapped[i11].clone())
        .unwrap()
        .replace(",\"seq\":11}", ",\"seq\":12}");
    swapped[i12] = moved.into_bytes();
    let r = verify_jsonl_with_key(swapped.into_iter(), Some(&vkey)).unwrap();
    let bad: Vec<_> = r
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::BadOpening)
        .collect();
    assert_eq!(bad.len(), 1, "{:#?}", r.faults);
    assert_eq!(bad[0].seq, Some(12));
    let mut orphan = full;
    let i3 = orphan
        .iter()
        .position(|l| {
            l.starts_with(b"{\"derived\"") && LoggedEntry::decode(l).is_ok_and(|e| e.seq == 3)
        })
        .unwrap();
    orphan.insert(
        i3 + 1,
        b"{\"opening\":{\"payload\":{},\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"},\"seq\":3}".to_vec(),
    );
    let r = verify_jsonl_with_key(orphan.into_iter(), Some(&vkey)).unwrap();
    assert!(
        r.faults
            .iter()
            .any(|f| f.kind == FaultKind::BadOpening && f.seq == Some(3)),
        "{:#?}",
        r.faults
    );
}
