//! Tamper tests: flip bytes in the segment files and in a JSON Lines export, one at a time; the
//! verifier must report each with the right seq. Also delete, swap and re-sign.

use std::path::Path;

use deedlog_core::verify::{self, FaultKind, Report};
use deedlog_store::segment::{self, RecordKind};

use crate::common::{Lcg, make_log, run};

/// What a byte of a segment file belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Owner {
    Header { first_seq: u64 },
    Entry(u64),
    Checkpoint(u64),
}

fn owners(bytes: &[u8], first_seq: u64) -> Vec<Owner> {
    let mut out = vec![Owner::Header { first_seq }; segment::HEADER_BYTES as usize];
    let mut pos = segment::HEADER_BYTES as usize;
    let mut seq = first_seq;
    while let Some((kind, _, next)) = segment::parse_at(bytes, pos) {
        let owner = match kind {
            RecordKind::Entry => {
                seq += 1;
                Owner::Entry(seq - 1)
            }
            RecordKind::Checkpoint => Owner::Checkpoint(seq),
        };
        out.extend(std::iter::repeat_n(owner, next - pos));
        pos = next;
    }
    assert_eq!(pos, bytes.len(), "the pristine segment parses to the end");
    out
}

/// The log's first segment: its first seq, its path and its scan.
fn first_segment(dir: &Path) -> (u64, std::path::PathBuf, segment::Scan) {
    let (first, path) = segment::list(&dir.join("log"))
        .expect("segments")
        .into_iter()
        .next()
        .expect("a segment");
    let scan = segment::scan(&path, 0).expect("scan");
    (first, path, scan)
}

fn vkey(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log.vkey"))
        .expect("log.vkey")
        .trim()
        .to_owned()
}

fn origin(vkey: &str) -> String {
    vkey.split('+')
        .next()
        .expect("a vkey has a name")
        .to_owned()
}

fn verify_dir(dir: &Path) -> Report {
    let k = vkey(dir);
    deedlog_store::audit::verify_segments(&dir.join("log"), &origin(&k), &k).expect("verifies")
}

/// Whether the report locates a change to `owner`. A change to a field of entry k that its actor
/// did not sign (`recorded_at_ms`, `derived`, …) leaves entry k well-formed; it is located by entry
/// k + 1, whose `prev_hash` no longer matches "the entry at position k" (the fault says so).
fn names(report: &Report, owner: Owner) -> bool {
    report.faults.iter().any(|f| match owner {
        Owner::Header { first_seq } => f.seq == Some(first_seq),
        Owner::Entry(seq) => {
            f.seq == Some(seq)
                || (f.seq == Some(seq + 1) && f.kind == FaultKind::PrevHashMismatch)
                || f.kind == FaultKind::CheckpointRootMismatch && report.entries == seq + 1
        }
        Owner::Checkpoint(size) => {
            f.checkpoint_size == Some(size) || (f.checkpoint_size.is_none() && f.seq.is_none())
        }
    })
}

/// Flips `mask` in byte `at` of the segment at `path`, verifies, restores, and checks that the
/// report is not clean and locates the change.
fn assert_flip_found(dir: &Path, first_seq: u64, path: &Path, at: usize, mask: u8, what: &str) {
    let pristine = std::fs::read(path).expect("read");
    let owners = owners(&pristine, first_seq);
    let mut bad = pristine.clone();
    bad[at] ^= mask;
    std::fs::write(path, &bad).expect("write");
    let report = verify_dir(dir);
    std::fs::write(path, &pristine).expect("restore");
    assert!(
        !report.is_clean(),
        "{what}: flip {mask:#04x} at byte {at} of {} went unnoticed",
        path.display()
    );
    assert!(
        names(&report, owners[at]),
        "{what}: flip {mask:#04x} at byte {at} ({:?}) not reported there: {:?}",
        owners[at],
        report.faults
    );
}

/// The framing bytes that a random byte rarely hits, flipped every time: each segment's header,
/// every bit of the length, kind and checksum of its last two records (the last checkpoint and
/// the entry before it), and the kind byte of every checkpoint record.
fn framing_flips(first_seq: u64, path: &Path) -> Vec<(usize, u8, String)> {
    let mut flips: Vec<(usize, u8, String)> = (0..segment::HEADER_BYTES as usize)
        .map(|at| (at, 1 << (at % 8), format!("header of segment {first_seq}")))
        .collect();
    let scan = segment::scan(path, 0).expect("scan");
    for record in scan.records.iter().rev().take(2) {
        for field in 0..segment::RECORD_HEADER_BYTES {
            for bit in 0..8 {
                flips.push((
                    record.offset as usize + field,
                    1 << bit,
                    format!("framing byte {field} of a last record ({:?})", record.kind),
                ));
            }
        }
    }
    for (i, record) in scan
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Checkpoint)
        .enumerate()
    {
        flips.push((
            record.offset as usize + 4,
            1 << (i % 8),
            "a checkpoint's kind byte".to_owned(),
        ));
    }
    flips
}

#[test]
fn every_flipped_byte_in_the_segments_is_found_at_its_seq() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 300);
    assert!(
        verify_dir(dir.path()).is_clean(),
        "the pristine log verifies"
    );
    let files = segment::list(&dir.path().join("log")).expect("segments");
    for (first_seq, path) in &files {
        for (at, mask, what) in framing_flips(*first_seq, path) {
            assert_flip_found(dir.path(), *first_seq, path, at, mask, &what);
        }
    }
    let mut rng = Lcg(42);
    for i in 0..200 {
        let (first_seq, path) = &files[rng.below(files.len() as u64) as usize];
        let len = std::fs::metadata(path).expect("stat").len();
        let at = rng.below(len) as usize;
        let mask = 1 << rng.below(8);
        assert_flip_found(dir.path(), *first_seq, path, at, mask, &format!("flip {i}"));
    }
    assert!(verify_dir(dir.path()).is_clean());
}

/// The flip that a random byte found once in a while: a checkpoint record's kind byte. The
/// record then fails its checksum, and its kind byte names no kind; the lenient reader took it
/// for an entry (a note does not start with `{`, so it was "unknown", and unknown was pushed as
/// an entry), so the verifier reported a damaged entry at the checkpoint's size and shifted every
/// later position by one. It is the checkpoint of that size, and nothing after it moves.
#[test]
fn a_flipped_checkpoint_kind_byte_is_reported_as_that_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 120);
    let (first, path, scan) = first_segment(dir.path());
    let mut size = first;
    let mut checkpoints = Vec::new();
    for record in &scan.records {
        match record.kind {
            RecordKind::Entry => size += 1,
            RecordKind::Checkpoint => checkpoints.push((record.offset, size)),
        }
    }
    assert!(checkpoints.len() >= 3, "several batches");
    let pristine = std::fs::read(&path).expect("read");
    for &(offset, size) in [checkpoints[0], checkpoints[checkpoints.len() / 2]].iter() {
        for bit in 0..8 {
            let mut bad = pristine.clone();
            bad[offset as usize + 4] ^= 1 << bit;
            std::fs::write(&path, &bad).expect("write");
            let report = verify_dir(dir.path());
            std::fs::write(&path, &pristine).expect("restore");
            assert_eq!(
                report.faults.len(),
                1,
                "checkpoint {size}, bit {bit}: one fault, {:?}",
                report.faults
            );
            let fault = &report.faults[0];
            assert_eq!(
                (fault.kind, fault.seq, fault.checkpoint_size),
                (FaultKind::RecordDamaged, None, Some(size)),
                "checkpoint {size}, bit {bit}: {fault:?}"
            );
            assert_eq!(report.entries, 120);
        }
    }
}

fn export(dir: &Path) -> Vec<Vec<u8>> {
    let out_path = dir.join("export.jsonl");
    let out = run(&[
        "export",
        "--data",
        dir.to_str().expect("utf-8"),
        "--out",
        out_path.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&out_path).expect("export written");
    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn verify_lines(lines: &[Vec<u8>], key: &str) -> Report {
    verify::verify_jsonl_with_key(lines.iter().cloned(), Some(key)).expect("the header is intact")
}

#[test]
fn every_flipped_byte_in_an_export_is_found_at_its_seq() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 200);
    let key = vkey(dir.path());
    let lines = export(dir.path());
    assert!(
        verify_lines(&lines, &key).is_clean(),
        "the pristine export verifies"
    );
    // Position of each line: the entry's seq, or the checkpoint's size.
    let mut owner = Vec::new();
    let mut seq = 0u64;
    for line in &lines[1..] {
        if line.starts_with(b"{\"checkpoint\"") {
            owner.push(Owner::Checkpoint(seq));
        } else if !line.is_empty() {
            owner.push(Owner::Entry(seq));
            seq += 1;
        } else {
            owner.push(Owner::Entry(seq));
        }
    }
    // Flip bytes inside lines (a newline is a line's last byte: flipping it merges two lines).
    let mut rng = Lcg(7);
    for i in 0..200 {
        let l = 1 + rng.below((lines.len() - 2) as u64) as usize;
        let mut bad = lines.clone();
        let at = rng.below(bad[l].len() as u64) as usize;
        bad[l][at] ^= 1 << rng.below(8);
        let report = verify_lines(&bad, &key);
        assert!(
            !report.is_clean(),
            "flip {i} in line {l} byte {at} went unnoticed"
        );
        assert!(
            names(&report, owner[l - 1]),
            "flip {i} in line {l} ({:?}) not reported there: {:?}",
            owner[l - 1],
            report.faults
        );
    }
}

#[test]
fn deleting_swapping_and_resigning_are_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 120);
    let key = vkey(dir.path());
    let lines = export(dir.path());
    let entry_lines: Vec<usize> = (1..lines.len())
        .filter(|&i| lines[i].starts_with(b"{\"derived\""))
        .collect();

    // Delete the last entry (its checkpoint stays, and now claims more than the log holds).
    let mut cut = lines.clone();
    cut.remove(*entry_lines.last().expect("entries"));
    let report = verify_lines(&cut, &key);
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::CheckpointBeyondLog),
        "{:?}",
        report.faults
    );

    // Swap two entries.
    let (a, b) = (entry_lines[10], entry_lines[20]);
    let mut swapped = lines.clone();
    swapped.swap(a, b);
    let report = verify_lines(&swapped, &key);
    for seq in [10, 20] {
        assert!(
            report
                .faults
                .iter()
                .any(|f| f.seq == Some(seq) && f.kind == FaultKind::SeqMismatch),
            "swap not reported at {seq}: {:?}",
            report.faults
        );
    }

    // A checkpoint signed by another key, same origin and root.
    let c = (1..lines.len())
        .find(|&i| lines[i].starts_with(b"{\"checkpoint\""))
        .expect("a checkpoint line");
    let line: serde_json::Value = serde_json::from_slice(&lines[c]).expect("json");
    let note = line["checkpoint"].as_str().expect("note text");
    let body_end = note.find("\n\n").expect("note body") + 1;
    let body = &note[..body_end];
    let other = deedlog_core::SecretKey::from_seed(&[0x66; 32]);
    let resigned =
        deedlog_core::checkpoint::sign_note(body.as_bytes(), &origin(&key), &other).expect("signs");
    let mut forged = lines.clone();
    forged[c] = serde_json::to_vec(&serde_json::json!({
        "checkpoint": String::from_utf8(resigned).expect("utf-8")
    }))
    .expect("json");
    let report = verify_lines(&forged, &key);
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::CheckpointBadSignature),
        "{:?}",
        report.faults
    );

    // And on the segment files: cutting the last entry record is found too.
    let files = segment::list(&dir.path().join("log")).expect("segments");
    let (first, path) = files.last().expect("a segment");
    let pristine = std::fs::read(path).expect("read");
    let scan = segment::scan(path, 0).expect("scan");
    let last_entry = scan
        .records
        .iter()
        .rev()
        .find(|r| r.kind == RecordKind::Entry)
        .expect("an entry");
    let mut bad = pristine[..last_entry.offset as usize].to_vec();
    let after =
        (last_entry.offset as usize) + segment::RECORD_HEADER_BYTES + last_entry.payload.len();
    bad.extend_from_slice(&pristine[after..]);
    std::fs::write(path, &bad).expect("write");
    let report = verify_dir(dir.path());
    assert!(
        !report.is_clean(),
        "a deleted entry in segment {first} went unnoticed"
    );
    std::fs::write(path, &pristine).expect("restore");
}

/// One byte flipped in the middle of a checkpointed segment: opening the store refuses (with the
/// derived files intact, deleted, or with an unusable index) and cuts nothing, and
/// `deedlog verify --data` names the entry and the offset. Before, the open cut the segment at
/// the damage as if it were a torn tail, dropping every acknowledged entry after it.
#[test]
fn a_damaged_checkpointed_record_is_refused_on_open_and_located_by_verify() {
    use std::sync::Arc;

    use deedlog_core::{SecretKey, hash};
    use deedlog_store::{LogOptions, LogWriter, NoteFormat, StoreError};

    for case in [
        "derived files intact",
        "derived files deleted",
        "unusable index",
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        make_log(dir.path(), 300);
        let (first, path, scan) = first_segment(dir.path());
        let target = scan
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Entry)
            .nth(150)
            .expect("entry 150 in the first segment");
        let offset = target.offset;
        let mut bytes = std::fs::read(&path).expect("read");
        let at = offset as usize + segment::RECORD_HEADER_BYTES + target.payload.len() / 2;
        bytes[at] ^= 0x20;
        std::fs::write(&path, &bytes).expect("write");
        match case {
            "derived files deleted" => {
                for f in ["offsets", "hashes", "derived.synced"] {
                    let _ = std::fs::remove_file(dir.path().join(f));
                }
                std::fs::remove_dir_all(dir.path().join("index")).expect("remove index");
            }
            "unusable index" => {
                let index = dir.path().join("index");
                std::fs::remove_dir_all(&index).expect("remove index");
                std::fs::create_dir_all(&index).expect("mkdir");
                std::fs::write(index.join("version"), b"\xff not an index").expect("write");
                std::fs::write(index.join("0.jnl"), vec![0x5au8; 4096]).expect("write");
            }
            _ => {}
        }
        let format = NoteFormat::new(
            "bench.deedlog.example/log",
            SecretKey::from_seed(&hash::sha256(b"deedlog bench log key")),
        )
        .expect("valid origin");
        match LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format)) {
            Err(StoreError::Damaged {
                segment,
                offset: o,
                seq,
                ..
            }) => {
                assert_eq!(
                    (segment, o, seq),
                    (path.clone(), offset, first + 150),
                    "{case}"
                );
            }
            Err(other) => panic!("{case}: not a located refusal: {other}"),
            Ok((_, reader, _)) => panic!("{case}: opened with {} entries", reader.size()),
        }
        assert_eq!(
            std::fs::read(&path).expect("read"),
            bytes,
            "{case}: bytes were cut"
        );
        let out = run(&[
            "verify",
            "--data",
            dir.path().to_str().expect("utf-8"),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{case}: verify reports faults");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let faults = report["report"]["faults"].as_array().expect("faults");
        assert!(
            faults.iter().any(|f| f["seq"] == 150
                && f["kind"] == "record_damaged"
                && f["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("offset {offset}")))),
            "{case}: {faults:?}"
        );
    }
}
