//! The log as C2SP `tlog-tiles`: hash tiles and entry bundles, the same bytes for the node's
//! read API and for a static export.
//!
//! - A hash tile `tile/<L>/<N>[.p/<W>]` holds `W` (256 when full) consecutive Merkle tree hashes
//!   of level `8·L`, from index `256·N`: at level 0 the leaf hashes, above that the hash of
//!   each full tile of the level below. They are read straight from the stored tlog hashes
//!   (`DATA/hashes`), where Go's `sumdb/tlog` layout keeps exactly those hashes.
//! - An entry bundle `tile/entries/<N>[.p/<W>]` holds entries `256·N .. 256·N + W`, each as a
//!   big-endian `u16` length and the entry's exact bytes (its public form, so a bundle shows no
//!   more than the public feed).
//! - `<N>` is written in groups of three digits, all but the last prefixed with `x`
//!   (`x001/x234/067` for 1234067).

use deedlog_core::Hash;
use deedlog_core::merkle::HashReader;

/// Levels of the Merkle tree one tile spans.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u32 = 1 << TILE_HEIGHT;
/// The highest tile level: level 7 already spans `2^64` leaves.
pub const LEVEL_MAX: u8 = 7;
/// The largest entry an entry bundle can hold (its length is a `u16`).
pub const BUNDLE_ENTRY_BYTES_MAX: usize = u16::MAX as usize;

// Every entry the log accepts fits a bundle: the length prefix cannot overflow, so no tile can
// be made unreadable by one entry. (The public form of a version-2 entry is shorter than the
// entry with its opening, which is what the limit bounds.)
const _: () = assert!(deedlog_core::limits::ENTRY_BYTES_MAX <= BUNDLE_ENTRY_BYTES_MAX);

/// Why a tile cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// The path is not a tile path in its one spelling.
    #[error("not a tlog-tiles path: {0}")]
    BadPath(String),
    /// The tile reaches past the published tree.
    #[error("tile {path} reaches past the tree of {size} entries")]
    BeyondTree {
        /// The tile path.
        path: String,
        /// The tree size.
        size: u64,
    },
    /// An entry is too large for a bundle's `u16` length.
    #[error("entry {seq} is {len} bytes; an entry bundle holds at most {BUNDLE_ENTRY_BYTES_MAX}")]
    EntryTooLarge {
        /// The entry's seq.
        seq: u64,
        /// Its length.
        len: usize,
    },
    /// The stored hashes could not be read.
    #[error("reading stored hashes: {0}")]
    Reader(String),
}

/// What a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Hashes of tree level `8 · level`.
    Hashes {
        /// The tile level `L`.
        level: u8,
    },
    /// Entries.
    Entries,
}

/// A tile: kind, index within its level and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileAddr {
    /// Hashes or entries.
    pub kind: TileKind,
    /// The index `N`.
    pub n: u64,
    /// The width `W`, `1..=256` (256: a full tile).
    pub width: u32,
}

/// `N` as path elements: `x001/x234/067`.
#[must_use]
pub fn encode_index(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn parse_small(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl TileAddr {
    /// Parses the part of a path after `tile/` (`0/x001/067`, `entries/003.p/17`), accepting
    /// only the one spelling [`TileAddr::path`] writes.
    ///
    /// # Errors
    /// [`TileError::BadPath`].
    pub fn parse(rest: &str) -> Result<Self, TileError> {
        let bad = || TileError::BadPath(format!("tile/{rest}"));
        // The longest index (u64::MAX) is 7 groups; bound the work before splitting.
        if rest.len() > 64 {
            return Err(bad());
        }
        let mut parts: Vec<&str> = rest.split('/').collect();
        let first = parts.first().copied().ok_or_else(bad)?;
        let kind = if first == "entries" {
            TileKind::Entries
        } else {
            let level = parse_small(first)
                .and_then(|l| u8::try_from(l).ok())
                .filter(|l| *l <= LEVEL_MAX)
                .ok_or_else(bad)?;
            TileKind::Hashes { level }
        };
        let mut width = TILE_WIDTH;
        if parts.len() >= 3 && parts[parts.len() - 2].ends_with(".p") {
            let w = parse_small(parts[parts.len() - 1])
                .and_then(|w| u32::try_from(w).ok())
                .filter(|w| (1..TILE_WIDTH).contains(w))
                .ok_or_else(bad)?;
            width = w;
            parts.pop();
            let last = parts.len() - 1;
            parts[last] = parts[last].strip_suffix(".p").ok_or_else(bad)?;
        }
        let groups = &parts[1..];
        if groups.is_empty() {
            return Err(bad());
        }
        let mut n: u64 = 0;
        for (i, group) in groups.iter().enumerate() {
            let digits = if i + 1 < groups.len() {
                group.strip_prefix('x').ok_or_else(bad)?
            } else {
                group
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let value: u64 = digits.parse().map_err(|_| bad())?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(value))
                .ok_or_else(bad)?;
        }
        let addr = Self { kind, n, width };
        // One spelling only: no leading `x000/` groups.
        if addr.path() != format!("tile/{rest}") {
            return Err(bad());
        }
        Ok(addr)
    }

    /// The tile's path, `tile/<L or entries>/<N>[.p/<W>]`.
    #[must_use]
    pub fn path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let partial = if self.width == TILE_WIDTH {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("tile/{kind}/{}{partial}", encode_index(self.n))
    }

    /// The tile level (entries count as level 0).
    #[must_use]
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// How many leaves the tree needs for this tile to exist: `(256·N + W) · 256^L`, or `None`
    /// past `u64`.
    #[must_use]
    pub fn leaves_needed(&self) -> Option<u64> {
        let shift = u32::from(TILE_HEIGHT) * u32::from(self.level());
        let units = self
            .n
            .checked_mul(u64::from(TILE_WIDTH))?
            .checked_add(u64::from(self.width))?;
        let needed = units.checked_shl(shift)?;
        // checked_shl only refuses shifts ≥ 64; a shift that drops bits overflowed too.
        (needed >> shift == units).then_some(needed)
    }

    /// Checks that the tile lies inside a tree of `size` leaves.
    ///
    /// # Errors
    /// [`TileError::BeyondTree`].
    pub fn check_within(&self, size: u64) -> Result<(), TileError> {
        match self.leaves_needed() {
            Some(needed) if needed <= size => Ok(()),
            _ => Err(TileError::BeyondTree {
                path: self.path(),
                size,
            }),
        }
    }
}

/// Every tile a reader of the tree of `size` leaves may fetch: at each level the full tiles and
/// the partial one (if any), hash tiles and entry bundles.
#[must_use]
pub fn tiles_for_size(size: u64) -> Vec<TileAddr> {
    let mut out = Vec::new();
    for level in 0..=LEVEL_MAX {
        let shift = u32::from(TILE_HEIGHT) * u32::from(level);
        let units = size >> shift;
        if units == 0 {
            break;
        }
        let full = units >> TILE_HEIGHT;
        // The width of the partial tile is below 256, so the cast is exact.
        let partial = (units % u64::from(TILE_WIDTH)) as u32;
        let mut push = |n: u64, width: u32| {
            out.push(TileAddr {
                kind: TileKind::Hashes { level },
                n,
                width,
            });
            if level == 0 {
                out.push(TileAddr {
                    kind: TileKind::Entries,
                    n,
                    width,
                });
            }
        };
        for n in 0..full {
            push(n, TILE_WIDTH);
        }
        if partial > 0 {
            push(full, partial);
        }
    }
    out
}

/// The bytes of a hash tile of a tree of `size` leaves, read from stored hashes.
///
/// # Errors
/// [`TileError::BeyondTree`] for a tile the tree does not have yet, or an entry bundle's
/// address; [`TileError::Reader`].
pub fn hash_tile<R: HashReader>(
    addr: &TileAddr,
    size: u64,
    reader: &R,
) -> Result<Vec<u8>, TileError> {
    let TileKind::Hashes { level } = addr.kind else {
        return Err(TileError::BadPath(addr.path()));
    };
    addr.check_within(size)?;
    let tree_level = level * TILE_HEIGHT;
    let start = addr.n * u64::from(TILE_WIDTH);
    let indexes: Vec<u64> = (0..u64::from(addr.width))
        .map(|i| tlog_tiles::stored_hash_index(tree_level, start + i))
        .collect();
    let hashes = reader
        .read_hashes(&indexes)
        .map_err(|e| TileError::Reader(e.to_string()))?;
    if hashes.len() != indexes.len() {
        return Err(TileError::Reader(
            "the reader returned too few hashes".into(),
        ));
    }
    Ok(hashes.iter().flat_map(|h: &Hash| h.0).collect())
}

/// An entry bundle of the entries `first_seq, first_seq + 1, …` given.
///
/// # Errors
/// [`TileError::EntryTooLarge`].
pub fn entry_bundle(first_seq: u64, entries: &[Vec<u8>]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
    for (i, entry) in entries.iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            seq: first_seq + i as u64,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_have_one_spelling() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        for path in ["0/000", "1/x001/x234/067", "entries/003.p/17", "2/000.p/1"] {
            let addr = TileAddr::parse(path).unwrap();
            assert_eq!(addr.path(), format!("tile/{path}"));
        }
        for bad in [
            "0/0",
            "0/x000/001",
            "0/001.p/0",
            "0/001.p/256",
            "0/001.p/017",
            "8/000",
            "00/000",
            "entries",
            "0/",
            "0/x001",
            "-1/000",
            "0/0001",
            "0/001/002",
            "0/x18446744073709551616/000",
        ] {
            assert!(TileAddr::parse(bad).is_err(), "{bad}");
        }
        let max = TileAddr::parse(&format!("0/{}", encode_index(u64::MAX)));
        assert_eq!(max.unwrap().n, u64::MAX);
    }

    #[test]
    fn tiles_of_the_spec_example() {
        // The spec's example: 70 000 entries are 273 full level-0 tiles, a partial one of
        // width 112, one full level-1 tile, a partial one of width 17, a level-2 tile of width 1.
        let tiles = tiles_for_size(70_000);
        let hashes: Vec<_> = tiles
            .iter()
            .filter(|t| matches!(t.kind, TileKind::Hashes { .. }))
            .collect();
        let at = |l: u8| -> Vec<u32> {
            hashes
                .iter()
                .filter(|t| t.level() == l)
                .map(|t| t.width)
                .collect()
        };
        assert_eq!(at(0).len(), 274);
        assert_eq!(at(0)[273], 112);
        assert_eq!(at(1), vec![256, 17]);
        assert_eq!(at(2), vec![1]);
        assert!(at(3).is_empty());
        assert_eq!(
            tiles.iter().filter(|t| t.kind == TileKind::Entries).count(),
            274
        );
        // A tree of 256 is one full level-0 tile and a level-1 tile of width 1.
        let tiles = tiles_for_size(256);
        assert_eq!(tiles.len(), 3);
        assert!(tiles_for_size(0).is_empty());
        for t in tiles_for_size(70_000) {
            assert!(t.check_within(70_000).is_ok());
        }
        let beyond = TileAddr::parse("1/001.p/18").unwrap();
        assert!(beyond.check_within(70_000).is_err());
        let huge = TileAddr::parse(&format!("7/{}", encode_index(u64::MAX))).unwrap();
        assert!(huge.leaves_needed().is_none());
    }

    #[test]
    fn bundles_are_length_prefixed_and_bounded() {
        let b = entry_bundle(0, &[b"ab".to_vec(), Vec::new()]).unwrap();
        assert_eq!(b, vec![0, 2, b'a', b'b', 0, 0]);
        let big = vec![b'x'; BUNDLE_ENTRY_BYTES_MAX + 1];
        assert_eq!(
            entry_bundle(5, &[Vec::new(), big]),
            Err(TileError::EntryTooLarge {
                seq: 6,
                len: 65_536
            })
        );
    }
}

/// Checks a checkpoint note against the size and root the exported tiles rebuild; `Err` names
/// why they disagree.
pub type NoteCheck<'a> = dyn Fn(&[u8], u64, &Hash) -> Result<(), String> + 'a;

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    /// The size of the checkpoint exported (the tree the tiles describe).
    pub size: u64,
    /// The root the exported tiles rebuild.
    pub root: Hash,
    /// The checkpoint note written to `OUT/checkpoint`.
    pub note: Vec<u8>,
    /// Files written.
    pub files: u64,
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), crate::StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| crate::StoreError::io(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| crate::StoreError::io(path, e))
}

/// Writes the log in `log_dir` as a static tlog-tiles tree in `out`: `checkpoint` (the latest
/// checkpoint in the segments), and every hash tile and entry bundle of its tree. Entries after
/// that checkpoint are left out. The checkpoint is written last, through a temporary file and a
/// rename, so a reader of `out` never sees a checkpoint whose tiles are not all there; the
/// caller checks `root` against the note's signed root. `progress` gets the entries read.
///
/// # Errors
/// I/O errors, damaged segments (run `deedlog verify`), an entry too large for a bundle, and a
/// log without a checkpoint.
pub fn export(
    log_dir: &std::path::Path,
    out: &std::path::Path,
    check_note: &NoteCheck<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<ExportReport, crate::StoreError> {
    use crate::StoreError;
    use crate::audit::{Item, read_lenient};
    use crate::segment::{self, RecordKind};

    let mut hashes = deedlog_core::merkle::MemoryHashes::new();
    let mut bundle: Vec<Vec<u8>> = Vec::new();
    let mut latest: Option<(u64, Vec<u8>)> = None;
    let mut files = 0u64;
    let mut write_bundle = |first: u64, entries: &[Vec<u8>]| -> Result<(), StoreError> {
        let width = u32::try_from(entries.len()).unwrap_or(TILE_WIDTH);
        let addr = TileAddr {
            kind: TileKind::Entries,
            n: first / u64::from(TILE_WIDTH),
            width,
        };
        let bytes = entry_bundle(first, entries).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        write_file(&out.join(addr.path()), &bytes)?;
        files += 1;
        Ok(())
    };
    for (first_seq, path) in segment::list(log_dir)? {
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        for item in read_lenient(&bytes, first_seq) {
            match item {
                Item::Record(RecordKind::Entry, record) => {
                    // The entry bytes alone: an opening never goes in a public tile.
                    let payload = deedlog_core::entry::split_record(&record).0.to_vec();
                    hashes.append(deedlog_core::hash::leaf_hash(&payload));
                    bundle.push(payload);
                    if bundle.len() == TILE_WIDTH as usize {
                        let first = hashes.size() - u64::from(TILE_WIDTH);
                        write_bundle(first, &bundle)?;
                        bundle.clear();
                    }
                    if hashes.size().is_multiple_of(100_000) {
                        progress(hashes.size());
                    }
                }
                Item::Record(RecordKind::Checkpoint, note) => {
                    latest = Some((hashes.size(), note));
                }
                Item::BadHeader(detail) => {
                    return Err(StoreError::Corrupt(format!("{}: {detail}", path.display())));
                }
                Item::Damaged { offset, .. } => {
                    return Err(StoreError::Corrupt(format!(
                        "{}: damaged record at offset {offset}; run `deedlog verify`",
                        path.display()
                    )));
                }
            }
        }
    }
    progress(hashes.size());
    let (size, note) =
        latest.ok_or_else(|| StoreError::Corrupt("the log has no checkpoint to export".into()))?;
    // The partial bundle of the checkpoint's tree: the entries up to `size` of the last,
    // unfinished bundle (entries after the checkpoint, if any, are not part of its tree).
    let full_end = size - size % u64::from(TILE_WIDTH);
    let buffered_from = hashes.size() - bundle.len() as u64;
    if size > full_end && full_end >= buffered_from {
        let from = usize::try_from(full_end - buffered_from).unwrap_or(usize::MAX);
        let to = usize::try_from(size - buffered_from).unwrap_or(usize::MAX);
        write_bundle(full_end, &bundle[from..to])?;
    }
    let root = hashes
        .root(size)
        .map_err(|e| StoreError::Corrupt(format!("root of {size}: {e}")))?;
    check_note(&note, size, &root).map_err(StoreError::Corrupt)?;
    for addr in tiles_for_size(size) {
        if addr.kind == TileKind::Entries {
            continue;
        }
        let bytes =
            hash_tile(&addr, size, &hashes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        write_file(&out.join(addr.path()), &bytes)?;
        files += 1;
    }
    let tmp = out.join("checkpoint.partial");
    write_file(&tmp, &note)?;
    std::fs::rename(&tmp, out.join("checkpoint")).map_err(|e| StoreError::io(out, e))?;
    files += 1;
    Ok(ExportReport {
        size,
        root,
        note,
        files,
    })
}
