//! Reading segment files for an audit: every record in order, damaged ones included, so that the
//! offline verifier can name each fault with its seq. Nothing here trusts the offsets file, the
//! stored hashes or the index.

use std::path::Path;

use deedlog_core::entry::split_record;
use deedlog_core::verify::{Fault, FaultKind, LogVerifier, OpeningLine, Parallelism, Report};

use crate::error::StoreError;
use crate::segment::{self, HEADER_BYTES, MAGIC, RECORD_HEADER_BYTES, RecordKind};

/// One item of a segment, read leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A whole, checksummed record.
    Record(RecordKind, Vec<u8>),
    /// A damaged region, with the bytes that most likely were its payload and the kind it most
    /// likely had (`None`: unknown).
    Damaged {
        /// The likely kind.
        kind: Option<RecordKind>,
        /// The likely payload.
        payload: Vec<u8>,
        /// Offset of the region in the segment.
        offset: u64,
        /// Length of the region.
        len: u64,
    },
    /// The segment's header is wrong.
    BadHeader(String),
}

/// Reads a segment's bytes leniently: after a damaged record it resynchronises on the next
/// position where a whole, checksummed record starts.
#[must_use]
pub fn read_lenient(bytes: &[u8], first_seq: u64) -> Vec<Item> {
    let mut items = Vec::new();
    if bytes.len() < HEADER_BYTES as usize || &bytes[..8] != MAGIC {
        items.push(Item::BadHeader("bad magic or short header".into()));
    } else if bytes[8..16] != first_seq.to_le_bytes() {
        items.push(Item::BadHeader(format!(
            "header names another first seq than {first_seq}"
        )));
    }
    let mut pos = HEADER_BYTES as usize;
    while pos < bytes.len() {
        if let Some((kind, payload, next)) = segment::parse_at(bytes, pos) {
            items.push(Item::Record(kind, payload.to_vec()));
            pos = next;
            continue;
        }
        let next = (pos + 1..bytes.len())
            .find(|&p| segment::parse_at(bytes, p).is_some())
            .unwrap_or(bytes.len());
        let region = &bytes[pos..next];
        let payload = region
            .get(RECORD_HEADER_BYTES..)
            .unwrap_or_default()
            .to_vec();
        // The kind byte may itself be the damage: a checkpoint whose kind byte is no kind must
        // not be taken for an entry, which would shift every later position by one.
        let kind = segment::likely_kind(region);
        items.push(Item::Damaged {
            kind,
            payload,
            offset: pos as u64,
            len: region.len() as u64,
        });
        pos = next;
    }
    items
}

/// Verifies the segments in `log_dir` (a data folder's `log/`) with the offline verifier: every frame, entry, signature,
/// chain link and checkpoint, reporting every fault with its seq.
///
/// # Errors
/// I/O errors listing or reading the segment files, and an unusable log key.
pub fn verify_segments(log_dir: &Path, origin: &str, log_vkey: &str) -> Result<Report, StoreError> {
    verify_segments_with(
        log_dir,
        origin,
        log_vkey,
        Parallelism::default(),
        &mut |_| {},
    )
}

/// As [`verify_segments`], with the given worker threads and batch size (the report is the same
/// whatever they are), calling `progress` with the entries read so far after each segment file's
/// records have been handed to the verifier.
///
/// # Errors
/// As [`verify_segments`].
pub fn verify_segments_with(
    log_dir: &Path,
    origin: &str,
    log_vkey: &str,
    parallelism: Parallelism,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, StoreError> {
    let mut verifier = LogVerifier::new(origin, log_vkey)
        .map_err(|e| StoreError::Config(format!("log key: {e}")))?
        .with_parallelism(parallelism);
    let segments = segment::list(log_dir)?;
    let last_segment = segments.last().map(|(first, _)| *first);
    for (first_seq, path) in segments {
        if verifier.entries() != first_seq {
            verifier.push_fault(Fault {
                seq: Some(verifier.entries()),
                checkpoint_size: None,
                kind: FaultKind::RecordDamaged,
                detail: format!(
                    "segment {} starts at seq {first_seq}, but {} entries precede it",
                    path.display(),
                    verifier.entries()
                ),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut damage_before = false;
        for item in read_lenient(&bytes, first_seq) {
            match item {
                Item::Record(RecordKind::Entry, record) => push_record(&mut verifier, &record),
                Item::Record(RecordKind::Checkpoint, note) => verifier.push_checkpoint(&note),
                Item::BadHeader(detail) => verifier.push_fault(Fault {
                    seq: Some(first_seq),
                    checkpoint_size: None,
                    kind: FaultKind::RecordDamaged,
                    detail: format!("{}: {detail}", path.display()),
                }),
                Item::Damaged {
                    kind,
                    payload,
                    offset,
                    len,
                } => {
                    let mut detail =
                        format!("{}: {len} damaged bytes at offset {offset}", path.display());
                    if Some(first_seq) == last_segment
                        && !damage_before
                        && offset + len == bytes.len() as u64
                    {
                        detail.push_str(&end_of_log(&bytes, offset));
                    }
                    damage_before = true;
                    if kind == Some(RecordKind::Checkpoint) {
                        verifier.push_fault(Fault {
                            seq: None,
                            checkpoint_size: Some(verifier.entries()),
                            kind: FaultKind::RecordDamaged,
                            detail,
                        });
                    } else {
                        verifier.push_fault(Fault {
                            seq: Some(verifier.entries()),
                            checkpoint_size: None,
                            kind: FaultKind::RecordDamaged,
                            detail,
                        });
                        // Keep the damaged bytes in place so later positions stay aligned.
                        verifier.push_entry(split_record(&payload).0);
                    }
                }
            }
        }
        progress(verifier.entries());
    }
    Ok(verifier.finish())
}

/// Words for the only damaged region of the last segment when it runs to the end of the log:
/// whether it is what a torn write leaves, which opening the log cuts, or damage, on which it
/// refuses (see [`segment::classify_tail`]).
fn end_of_log(bytes: &[u8], offset: u64) -> String {
    match segment::classify_tail(bytes, 0, usize::try_from(offset).unwrap_or(usize::MAX)) {
        segment::Tail::Torn => " at the end of the log, as a write cut short leaves them \
             (opening the log cuts them, with the entries after its last intact checkpoint, \
             unless the index or the derived files show those were acknowledged)"
            .to_owned(),
        segment::Tail::Damaged(why) => {
            format!(" at the end of the log, not a torn write ({why}); opening the log refuses")
        }
    }
}

/// Called with each entry's bytes and, for version 2, its opening.
pub type EntryVisitor<'a> = dyn FnMut(&[u8], Option<&[u8]>) + 'a;

/// Says, from an entry's bytes and opening, whether the opening goes in an export.
pub type Disclose<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> bool + 'a;

/// Pushes a stored entry record: the entry bytes, then its opening, if it has one.
fn push_record(verifier: &mut LogVerifier, record: &[u8]) {
    let (entry, opening) = split_record(record);
    verifier.push_entry_owned(entry.to_vec());
    if let Some(opening) = opening {
        verifier.push_opening(verifier.entries() - 1, opening);
    }
}

/// Calls `f` with every entry's exact bytes and its opening (version 2), in order, from the
/// segments in `log_dir`.
///
/// # Errors
/// I/O errors and damaged records (verify first).
pub fn for_each_entry(log_dir: &Path, f: &mut EntryVisitor<'_>) -> Result<u64, StoreError> {
    let mut n = 0;
    for (first_seq, path) in segment::list(log_dir)? {
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        for item in read_lenient(&bytes, first_seq) {
            match item {
                Item::Record(RecordKind::Entry, record) => {
                    let (entry, opening) = split_record(&record);
                    f(entry, opening);
                    n += 1;
                }
                Item::Record(RecordKind::Checkpoint, _) => {}
                Item::BadHeader(detail) => {
                    return Err(StoreError::Corrupt(format!("{}: {detail}", path.display())));
                }
                Item::Damaged { offset, .. } => {
                    return Err(StoreError::Corrupt(format!(
                        "{}: damaged record at offset {offset}",
                        path.display()
                    )));
                }
            }
        }
    }
    Ok(n)
}

/// Writes the log as a JSON Lines export (see FORMAT.md): a header, then each entry's exact bytes
/// (followed by its opening line when `disclose` says so, for version-2 entries) and each
/// checkpoint right after the entry that completes its size. Returns the entries written.
///
/// `disclose` gets every entry's bytes and opening (version 2), in order, and says whether the
/// opening goes in the export: always for a full export, by the kinds' visibility in a public one.
///
/// # Errors
/// I/O errors and damaged segments (export refuses to copy damage; run verify).
pub fn export_jsonl(
    log_dir: &Path,
    origin: &str,
    log_vkey: &str,
    out: &mut dyn std::io::Write,
    disclose: &mut Disclose<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, StoreError> {
    let header = serde_json::json!({
        "format": deedlog_core::verify::EXPORT_FORMAT,
        "origin": origin,
        "log_key": log_vkey,
    });
    let io = |e: std::io::Error| StoreError::io(Path::new("export"), e);
    serde_json::to_writer(&mut *out, &header)
        .map_err(|e| StoreError::io(Path::new("export"), e.into()))?;
    out.write_all(b"\n").map_err(io)?;
    let mut entries = 0u64;
    for (first_seq, path) in segment::list(log_dir)? {
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        for item in read_lenient(&bytes, first_seq) {
            match item {
                Item::Record(RecordKind::Entry, record) => {
                    let (entry, opening) = split_record(&record);
                    out.write_all(entry).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                    if disclose(entry, opening)
                        && let Some(opening) = opening
                    {
                        out.write_all(&OpeningLine::line(entries, opening))
                            .map_err(io)?;
                        out.write_all(b"\n").map_err(io)?;
                    }
                    entries += 1;
                    if entries.is_multiple_of(100_000) {
                        progress(entries);
                    }
                }
                Item::Record(RecordKind::Checkpoint, note) => {
                    let note = String::from_utf8(note).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "checkpoint after entry {entries} is not UTF-8"
                        ))
                    })?;
                    serde_json::to_writer(&mut *out, &serde_json::json!({ "checkpoint": note }))
                        .map_err(|e| StoreError::io(Path::new("export"), e.into()))?;
                    out.write_all(b"\n").map_err(io)?;
                }
                Item::BadHeader(detail) => {
                    return Err(StoreError::Corrupt(format!("{}: {detail}", path.display())));
                }
                Item::Damaged { offset, .. } => {
                    return Err(StoreError::Corrupt(format!(
                        "{}: damaged record at offset {offset} (after entry {entries}); run `deedlog verify`",
                        path.display()
                    )));
                }
            }
        }
    }
    progress(entries);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resynchronises_after_damage() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&7u64.to_le_bytes());
        segment::frame(RecordKind::Entry, b"{\"a\":1}", &mut bytes);
        let second = bytes.len();
        segment::frame(RecordKind::Entry, b"{\"b\":2}", &mut bytes);
        segment::frame(RecordKind::Checkpoint, b"note", &mut bytes);
        assert_eq!(read_lenient(&bytes, 7).len(), 3);
        // Damage the length of the second record: it is reported, and the checkpoint still read.
        bytes[second] ^= 0x40;
        let items = read_lenient(&bytes, 7);
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(
            matches!(&items[1], Item::Damaged { kind: Some(RecordKind::Entry), payload, .. } if payload == b"{\"b\":2}")
        );
        assert_eq!(
            items[2],
            Item::Record(RecordKind::Checkpoint, b"note".to_vec())
        );
        assert!(matches!(read_lenient(&bytes, 8)[0], Item::BadHeader(_)));
    }
}
