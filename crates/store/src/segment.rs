//! Log segment files: the durable, append-only source of truth.
//!
//! A segment is named after the seq of its first entry (`00000000000000000000.seg`) and holds:
//!
//! ```text
//! header  = "DLSEG001" || first_seq (u64 LE)                          16 bytes
//! record  = len (u32 LE) || kind (u8) || crc (u32 LE) || payload      9 + len bytes
//! crc     = CRC-32 (IEEE) of len || kind || payload
//! kind    = 1: an entry's exact canonical bytes, 2: a checkpoint's signed note
//! ```
//!
//! Each batch of entries is followed by the checkpoint that covers it, and the whole batch is made
//! durable with one `fdatasync` before anything is acknowledged. A crash can therefore leave only
//! a torn tail of the last segment, after its last checkpoint, which [`scan`] finds and the log
//! cuts on open. Damage followed by a checksummed checkpoint record is not a torn tail: that
//! checkpoint was acknowledged, so [`scan`] reports it ([`Scan::checkpoint_after_damage`]) and the
//! log refuses to open instead of cutting. Nor is damage that a write cut short cannot leave
//! ([`Scan::tail`], [`classify_tail`]): a whole record that fails its checksum (a flipped bit in
//! the last checkpoint, say), or a whole record whose length field alone is wrong. A torn write
//! leaves a record cut short by the end of the file, or blocks that were never written (zeros).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// The magic bytes that open every segment.
pub const MAGIC: &[u8; 8] = b"DLSEG001";
/// Size of a segment header.
pub const HEADER_BYTES: u64 = 16;
/// Size of a record header.
pub const RECORD_HEADER_BYTES: usize = 9;
/// Largest record payload accepted when reading (entries are capped lower by the core).
pub const RECORD_BYTES_MAX: usize = 1 << 20;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// An entry's canonical bytes.
    Entry,
    /// A checkpoint's signed note.
    Checkpoint,
}

impl RecordKind {
    fn byte(self) -> u8 {
        match self {
            Self::Entry => 1,
            Self::Checkpoint => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Entry),
            2 => Some(Self::Checkpoint),
            _ => None,
        }
    }
}

/// Frames a record, appending it to `out`.
pub fn frame(kind: RecordKind, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("payloads are capped far below 4 GiB");
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(&[kind.byte()]);
    crc.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(kind.byte());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// The file name of the segment whose first entry is `first_seq`.
#[must_use]
pub fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// Lists the segments in `dir` as `(first_seq, path)`, sorted.
///
/// # Errors
/// I/O errors, and file names that look like segments but do not parse.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let item = item.map_err(|e| StoreError::io(dir, e))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".seg") else {
            continue;
        };
        let first: u64 = stem
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unexpected segment file name {name}")))?;
        out.push((first, item.path()));
    }
    out.sort_unstable_by_key(|(first, _)| *first);
    Ok(out)
}

/// Reads and checks a segment header.
///
/// # Errors
/// When the header is short, has the wrong magic or names another first seq.
pub fn read_header(file: &mut File, path: &Path, first_seq: u64) -> Result<(), StoreError> {
    let mut header = [0u8; HEADER_BYTES as usize];
    file.seek(SeekFrom::Start(0))
        .map_err(|e| StoreError::io(path, e))?;
    file.read_exact(&mut header)
        .map_err(|e| StoreError::io(path, e))?;
    if &header[..8] != MAGIC {
        return Err(StoreError::Corrupt(format!(
            "{}: not a deedlog segment (bad magic)",
            path.display()
        )));
    }
    let named = u64::from_le_bytes(header[8..16].try_into().expect("slice of 8 bytes"));
    if named != first_seq {
        return Err(StoreError::Corrupt(format!(
            "{}: header says first seq {named}",
            path.display()
        )));
    }
    Ok(())
}

/// Creates a new, empty segment and makes it (and its directory entry) durable.
///
/// # Errors
/// I/O errors.
pub fn create(dir: &Path, first_seq: u64) -> Result<(File, PathBuf), StoreError> {
    let path = dir.join(file_name(first_seq));
    let mut file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    let mut header = Vec::with_capacity(HEADER_BYTES as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&first_seq.to_le_bytes());
    file.write_all(&header)
        .map_err(|e| StoreError::io(&path, e))?;
    file.sync_all().map_err(|e| StoreError::io(&path, e))?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// Makes a directory's entries durable (new or removed files).
///
/// # Errors
/// I/O errors.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// One record found by [`scan`].
#[derive(Debug, Clone)]
pub struct ScannedRecord {
    /// Offset of the record header in the segment.
    pub offset: u64,
    /// What it holds.
    pub kind: RecordKind,
    /// The payload.
    pub payload: Vec<u8>,
}

/// The result of scanning a segment strictly.
#[derive(Debug)]
pub struct Scan {
    /// Every whole, checksummed record, in order.
    pub records: Vec<ScannedRecord>,
    /// Offset just past the last good record.
    pub good_len: u64,
    /// The file's length; larger than `good_len` when the tail is torn.
    pub file_len: u64,
    /// When the scan stopped early: the offset of the first whole, checksummed checkpoint record
    /// found past the damage (searching every byte position, since the damage may have broken
    /// the framing). Such a checkpoint was written after the damaged bytes and made durable, so
    /// the damaged bytes are not an unacknowledged tail.
    pub checkpoint_after_damage: Option<u64>,
    /// When the scan stopped early: whether the damaged record most likely was a checkpoint
    /// ([`likely_kind`]; a guess, for error messages only).
    pub damaged_looks_like_checkpoint: bool,
    /// When the scan stopped early and no checkpoint follows the damage: whether the bytes from
    /// `good_len` are what a torn write leaves ([`classify_tail`]).
    pub tail: Option<Tail>,
}

/// What the bytes from the first damaged record to the end of a segment are, when no whole,
/// checksummed checkpoint record follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// What a write cut short (a crash before its `fdatasync` finished) leaves: a record whose
    /// header or payload the end of the file cuts short, or one holding a block that was never
    /// written (all zeros). Such bytes were never acknowledged by the write that left them.
    Torn,
    /// Anything else, in words: a whole record that fails its checksum, or a whole record whose
    /// length field alone is wrong. No torn write leaves these; the bytes were changed after
    /// they were written, so they may have been acknowledged.
    Damaged(String),
}

impl Scan {
    /// The number of entry records read intact, i.e. the seq (relative to the segment's first)
    /// of the first entry not read.
    #[must_use]
    pub fn entries(&self) -> u64 {
        self.records
            .iter()
            .filter(|r| r.kind == RecordKind::Entry)
            .count() as u64
    }
}

/// The offset of the first whole, checksummed checkpoint record starting at or after `from`.
#[must_use]
pub fn find_checkpoint(bytes: &[u8], from: usize) -> Option<u64> {
    (from..bytes.len())
        .find(|&p| matches!(parse_at(bytes, p), Some((RecordKind::Checkpoint, _, _))))
        .map(|p| p as u64)
}

/// Reads every record of a segment from `start` (a record boundary), stopping at the first
/// incomplete or damaged record. Only the bytes from `start` are read.
///
/// # Errors
/// I/O errors.
pub fn scan(path: &Path, start: u64) -> Result<Scan, StoreError> {
    let io = |e| StoreError::io(path, e);
    let base = start.max(HEADER_BYTES);
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut bytes = Vec::new();
    if base < file_len {
        file.seek(SeekFrom::Start(base)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
    }
    let mut records = Vec::new();
    let mut pos = 0usize;
    while let Some((kind, payload, next)) = parse_at(&bytes, pos) {
        records.push(ScannedRecord {
            offset: base + pos as u64,
            kind,
            payload: payload.to_vec(),
        });
        pos = next;
    }
    let good_len = (base + pos as u64).min(file_len);
    let (checkpoint_after_damage, damaged_looks_like_checkpoint, tail) = if good_len < file_len {
        let after = find_checkpoint(&bytes, pos.saturating_add(1)).map(|at| base + at);
        let tail = after.is_none().then(|| classify_tail(&bytes, base, pos));
        let kind = likely_kind(bytes.get(pos..).unwrap_or_default());
        (after, kind == Some(RecordKind::Checkpoint), tail)
    } else {
        (None, false, None)
    };
    Ok(Scan {
        records,
        good_len,
        file_len,
        checkpoint_after_damage,
        damaged_looks_like_checkpoint,
        tail,
    })
}

/// The checksum of a record with this length field, kind byte and payload.
fn checksum(len: &[u8], kind: u8, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(&[kind]);
    hasher.update(payload);
    hasher.finalize()
}

/// The kind a damaged record most likely had, from `region` (its bytes, up to the next intact
/// record or the end of the segment): the kind its kind byte names; when that byte is no kind,
/// the kind whose byte makes the checksum hold (the byte was the only damage); else an entry when
/// the payload starts like canonical JSON (`{`), a checkpoint when it holds a signed note's
/// signature line; else unknown. The damage may be anywhere, so this is a guess.
#[must_use]
pub fn likely_kind(region: &[u8]) -> Option<RecordKind> {
    let header = region.get(..RECORD_HEADER_BYTES)?;
    if let Some(kind) = RecordKind::from_byte(header[4]) {
        return Some(kind);
    }
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let payload = region.get(RECORD_HEADER_BYTES..).unwrap_or_default();
    let stored = u32::from_le_bytes(header[5..9].try_into().ok()?);
    if let Some(whole) = payload.get(..len) {
        for kind in [RecordKind::Entry, RecordKind::Checkpoint] {
            if checksum(&header[..4], kind.byte(), whole) == stored {
                return Some(kind);
            }
        }
    }
    if payload.first() == Some(&b'{') {
        Some(RecordKind::Entry)
    } else if payload
        .windows(NOTE_SIGNATURE_LINE.len())
        .any(|w| w == NOTE_SIGNATURE_LINE)
    {
        Some(RecordKind::Checkpoint)
    } else {
        None
    }
}

/// What opens the signature lines of a signed note: a blank line, an em dash and a space.
const NOTE_SIGNATURE_LINE: &[u8] = "\n\n\u{2014} ".as_bytes();

/// The granularity of what a crash may leave unwritten: a disk sector. File systems read blocks
/// that a crash left unwritten inside a file's length as zeros, and blocks are whole sectors.
const UNWRITTEN_BLOCK: u64 = 512;
/// The shortest run of zeros read as an unwritten block. Record headers hold short runs of zeros
/// of their own (the high bytes of a length, a checksum byte), and one flipped bit can lengthen
/// such a run by one byte; payloads (canonical JSON, note text) hold none.
const UNWRITTEN_RUN_MIN: usize = 16;

/// Says whether the bytes from `pos` of `bytes` (a segment's bytes from its offset `base`) to
/// the end of the file are what a torn write leaves, for a segment in which `pos` is the first
/// record that does not parse and no intact checkpoint record follows it.
///
/// A write cut short leaves a prefix of what was written, so a record whose header or payload
/// runs past the end of the file is [`Tail::Torn`]; so is a record holding a run of zeros that
/// fills the rest of a sector (or runs to the end of the file), at least 16 bytes long, or zeros
/// from its start to the end of the file: blocks a power loss left unwritten.
/// A whole record that fails its checksum is [`Tail::Damaged`], and so is a record that runs past
/// the end only because of its length field: with the length that ends it at the next intact
/// record or at the end of the file, its checksum holds.
#[must_use]
pub fn classify_tail(bytes: &[u8], base: u64, pos: usize) -> Tail {
    let rest = bytes.get(pos..).unwrap_or_default();
    let at = base + pos as u64;
    let Some(header) = rest.get(..RECORD_HEADER_BYTES) else {
        return Tail::Torn;
    };
    if rest.iter().all(|&b| b == 0) {
        // Nothing written from the record's start: a length extended over unwritten blocks.
        return Tail::Torn;
    }
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let stored = u32::from_le_bytes(header[5..9].try_into().expect("4 bytes"));
    let whole = len <= RECORD_BYTES_MAX && RECORD_HEADER_BYTES + len <= rest.len();
    if !whole {
        let next = (1..rest.len()).find(|&p| parse_at(rest, p).is_some());
        for end in next.into_iter().chain([rest.len()]) {
            let Some(found) = end.checked_sub(RECORD_HEADER_BYTES) else {
                continue;
            };
            let Ok(found_len) = u32::try_from(found) else {
                continue;
            };
            let payload = &rest[RECORD_HEADER_BYTES..end];
            if found <= RECORD_BYTES_MAX
                && checksum(&found_len.to_le_bytes(), header[4], payload) == stored
            {
                return Tail::Damaged(format!(
                    "the record at byte {at} is whole and checksums with a length of {found} \
                     bytes, but its length field says {len}: a torn write does not change a \
                     length field"
                ));
            }
        }
        return Tail::Torn;
    }
    let record_end = at + (RECORD_HEADER_BYTES + len) as u64;
    let file_end = at + rest.len() as u64;
    let mut block = at - at % UNWRITTEN_BLOCK;
    while block < record_end {
        let from = block.max(at);
        let to = (block + UNWRITTEN_BLOCK).min(file_end);
        let span = &rest[(from - at) as usize..(to - at) as usize];
        if span.len() >= UNWRITTEN_RUN_MIN && span.iter().all(|&b| b == 0) {
            return Tail::Torn;
        }
        block += UNWRITTEN_BLOCK;
    }
    Tail::Damaged(format!(
        "the record at byte {at} is whole ({len} bytes) but fails its checksum: a torn write \
         leaves a record cut short by the end of the file or unwritten (zero) blocks, not this"
    ))
}

/// Parses the record at `pos` of a segment's bytes: `(kind, payload, next_pos)`, or `None` if it
/// is incomplete or its checksum does not match.
#[must_use]
pub fn parse_at(bytes: &[u8], pos: usize) -> Option<(RecordKind, &[u8], usize)> {
    let header = bytes.get(pos..pos.checked_add(RECORD_HEADER_BYTES)?)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    if len > RECORD_BYTES_MAX {
        return None;
    }
    // The kind is checked before the checksum: resynchronising after damage tries every byte
    // position, and almost all of them fail here without hashing anything.
    let kind = RecordKind::from_byte(header[4])?;
    let crc = u32::from_le_bytes(header[5..9].try_into().ok()?);
    let start = pos + RECORD_HEADER_BYTES;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    if checksum(&header[..4], header[4], payload) != crc {
        return None;
    }
    Some((kind, payload, start + len))
}

/// Reads one record's payload at `offset` with positioned reads (used by the read path).
///
/// # Errors
/// I/O errors, or a damaged record.
pub fn read_record(
    file: &File,
    path: &Path,
    offset: u64,
) -> Result<(RecordKind, Vec<u8>), StoreError> {
    use std::os::unix::fs::FileExt;
    let mut header = [0u8; RECORD_HEADER_BYTES];
    file.read_exact_at(&mut header, offset)
        .map_err(|e| StoreError::io(path, e))?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    if len > RECORD_BYTES_MAX {
        return Err(StoreError::Corrupt(format!(
            "{}: record at {offset} claims {len} bytes",
            path.display()
        )));
    }
    let mut buf = vec![0u8; RECORD_HEADER_BYTES + len];
    buf[..RECORD_HEADER_BYTES].copy_from_slice(&header);
    file.read_exact_at(
        &mut buf[RECORD_HEADER_BYTES..],
        offset + RECORD_HEADER_BYTES as u64,
    )
    .map_err(|e| StoreError::io(path, e))?;
    match parse_at(&buf, 0) {
        Some((kind, payload, _)) => Ok((kind, payload.to_vec())),
        None => Err(StoreError::Corrupt(format!(
            "{}: record at {offset} fails its checksum",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_back_and_damage_is_detected() {
        let mut buf = vec![0u8; HEADER_BYTES as usize];
        frame(RecordKind::Entry, b"{\"a\":1}", &mut buf);
        frame(RecordKind::Checkpoint, b"note", &mut buf);
        let (k, p, next) = parse_at(&buf, 16).unwrap();
        assert_eq!((k, p), (RecordKind::Entry, &b"{\"a\":1}"[..]));
        let (k, p, end) = parse_at(&buf, next).unwrap();
        assert_eq!(
            (k, p, end),
            (RecordKind::Checkpoint, &b"note"[..], buf.len())
        );
        for i in 16..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            let first = parse_at(&bad, 16);
            let ok_first =
                first.is_some_and(|(k, p, _)| k == RecordKind::Entry && p == b"{\"a\":1}");
            let ok_second = parse_at(&bad, next)
                .is_some_and(|(k, p, _)| k == RecordKind::Checkpoint && p == b"note");
            assert!(!(ok_first && ok_second), "flip at {i} went unnoticed");
        }
        assert!(parse_at(&buf[..buf.len() - 1], next).is_none());
    }

    /// A segment of an entry and a checkpoint, and the checkpoint's offset.
    fn two_records(note_len: usize) -> (Vec<u8>, usize) {
        let mut buf = MAGIC.to_vec();
        buf.extend_from_slice(&0u64.to_le_bytes());
        frame(RecordKind::Entry, b"{\"a\":1}", &mut buf);
        let at = buf.len();
        let mut note = b"origin\n1\nroot\n".to_vec();
        note.resize(note_len - 24, b'x');
        note.extend_from_slice("\n\n\u{2014} origin sig\n".as_bytes());
        frame(RecordKind::Checkpoint, &note, &mut buf);
        (buf, at)
    }

    #[test]
    fn a_torn_write_is_told_from_damage() {
        let (buf, at) = two_records(1200);
        let torn = |b: &[u8]| classify_tail(b, 0, at) == Tail::Torn;
        // Cut short anywhere: torn.
        for cut in [at + 1, at + 8, at + 9, at + 100, buf.len() - 1] {
            assert!(torn(&buf[..cut]), "cut at {cut}");
        }
        // Any one flipped bit of the whole record: damage, never torn.
        for i in at..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[i] ^= 1 << bit;
                assert!(!torn(&bad), "bit {bit} of byte {i}");
            }
        }
        // Unwritten sectors read as zeros: torn, from the record's start or a sector boundary.
        let mut zeros = buf.clone();
        zeros[at..].fill(0);
        assert!(torn(&zeros));
        assert!(torn(&zeros[..at + 10]));
        let mut hole = buf.clone();
        let sector = (at / 512 + 1) * 512;
        hole[sector..sector + 512].fill(0);
        assert!(torn(&hole));
        // A short run of zeros is not a sector: damage.
        let mut short = buf.clone();
        short[sector..sector + 8].fill(0);
        assert!(!torn(&short));
        // A cut-short record followed by garbage that is no record: still torn.
        assert!(torn(&[&buf[..at + 50], &b"\x07\x07"[..]].concat()));
    }

    #[test]
    fn a_damaged_kind_byte_is_read_as_the_kind_that_checksums() {
        let (buf, at) = two_records(200);
        for bit in 0..8 {
            let mut bad = buf.clone();
            bad[at + 4] ^= 1 << bit;
            assert_eq!(
                likely_kind(&bad[at..]),
                Some(RecordKind::Checkpoint),
                "bit {bit}"
            );
            let mut bad = buf.clone();
            bad[HEADER_BYTES as usize + 4] ^= 1 << bit;
            assert_eq!(
                likely_kind(&bad[HEADER_BYTES as usize..at]),
                Some(RecordKind::Entry),
                "bit {bit}"
            );
        }
        // With the checksum damaged too: from the payload.
        let mut bad = buf.clone();
        bad[at + 4] = 0x40;
        bad[at + 6] ^= 0x01;
        assert_eq!(likely_kind(&bad[at..]), Some(RecordKind::Checkpoint));
    }
}
