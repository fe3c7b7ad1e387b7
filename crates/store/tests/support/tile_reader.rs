//! A reader of C2SP tlog-tiles written from the specification alone (not from the server's
//! code): given a way to fetch tile paths and a checkpoint's size and root, it rebuilds the root,
//! checks every level's tiles against the level above, and proves any entry's inclusion.
//!
//! Shared by the store, API and export tests (`#[path]`-included).

#![allow(dead_code)]

use sha2::{Digest, Sha256};

pub type Fetch<'a> = dyn Fn(&str) -> Option<Vec<u8>> + 'a;

fn leaf(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// `N` written as the spec says: 3-digit groups, all but the last prefixed with `x`.
pub fn index_path(n: u64) -> String {
    let s = format!("{n}");
    let padded = format!("{}{s}", "0".repeat((3 - s.len() % 3) % 3));
    let groups: Vec<&str> = padded
        .as_bytes()
        .chunks(3)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let last = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g}")
            } else {
                (*g).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub struct TileReader<'a> {
    fetch: &'a Fetch<'a>,
    size: u64,
    // Each path is fetched once, as a real client would cache immutable tiles.
    cache: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>,
}

impl<'a> TileReader<'a> {
    pub fn new(fetch: &'a Fetch<'a>, size: u64) -> Self {
        Self {
            fetch,
            size,
            cache: Default::default(),
        }
    }

    fn get(&self, path: &str) -> Vec<u8> {
        if let Some(data) = self.cache.borrow().get(path) {
            return data.clone();
        }
        let data = (self.fetch)(path).unwrap_or_else(|| panic!("missing {path}"));
        self.cache
            .borrow_mut()
            .insert(path.to_owned(), data.clone());
        data
    }

    /// The width of tile `n` at `level` in this tree (256, or the partial width), or 0.
    fn width(&self, level: u32, n: u64) -> u64 {
        let units = self.size >> (8 * level);
        units.saturating_sub(n * 256).min(256)
    }

    fn tile_path(&self, prefix: &str, level: u32, n: u64) -> String {
        let w = self.width(level, n);
        assert!(
            w > 0,
            "no tile {prefix}{n} at level {level} in a tree of {}",
            self.size
        );
        let suffix = if w == 256 {
            String::new()
        } else {
            format!(".p/{w}")
        };
        format!("tile/{prefix}{}{suffix}", index_path(n))
    }

    /// The `i`-th Merkle tree hash of tree level `8·level`.
    fn level_hash(&self, level: u32, i: u64) -> [u8; 32] {
        let n = i / 256;
        let path = self.tile_path(&format!("{level}/"), level, n);
        let data = self.get(&path);
        assert_eq!(data.len() as u64, 32 * self.width(level, n), "{path}");
        let k = (i % 256) as usize;
        data[k * 32..(k + 1) * 32].try_into().unwrap()
    }

    /// The hash of the complete subtree of height `h` (2^h leaves) whose leaves start at
    /// `k · 2^h`: from the tile hashes of level `h / 8`, hashed up the remaining `h % 8` levels.
    fn subtree(&self, h: u32, k: u64) -> [u8; 32] {
        let (level, r) = (h / 8, h % 8);
        let mut row: Vec<[u8; 32]> = (0..1u64 << r)
            .map(|j| self.level_hash(level, (k << r) + j))
            .collect();
        while row.len() > 1 {
            row = row.chunks(2).map(|p| node(&p[0], &p[1])).collect();
        }
        row[0]
    }

    /// RFC 6962 MTH(D[lo:hi]).
    fn mth(&self, lo: u64, hi: u64) -> [u8; 32] {
        let n = hi - lo;
        assert!(n > 0);
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            return self.subtree(n.trailing_zeros(), lo / n);
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        node(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
    }

    /// The tree's root, rebuilt from tiles.
    pub fn root(&self) -> [u8; 32] {
        if self.size == 0 {
            return Sha256::digest([]).into();
        }
        self.mth(0, self.size)
    }

    /// RFC 9162 PATH(m, D[lo:hi]), bottom to top.
    fn path(&self, m: u64, lo: u64, hi: u64) -> Vec<[u8; 32]> {
        let n = hi - lo;
        if n == 1 {
            return Vec::new();
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// The entries of the bundle holding `seq`, from the entry bundle (u16 length prefixes).
    pub fn bundle(&self, n: u64) -> Vec<Vec<u8>> {
        let path = self.tile_path("entries/", 0, n);
        let data = self.get(&path);
        let mut out = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            out.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
        }
        assert_eq!(out.len() as u64, self.width(0, n), "{path}");
        out
    }

    /// Proves entry `seq` (its exact bytes from its bundle) included under `root`, from tiles
    /// alone, and returns its bytes.
    pub fn prove(&self, seq: u64, root: &[u8; 32]) -> Vec<u8> {
        let entry = self.bundle(seq / 256)[(seq % 256) as usize].clone();
        let mut h = leaf(&entry);
        assert_eq!(
            h,
            self.level_hash(0, seq),
            "the bundle and the level-0 tile disagree at {seq}"
        );
        // Walk the audit path up (RFC 9162 §2.1.3.2).
        let (mut f, mut r) = (seq, self.size - 1);
        for sibling in self.path(seq, 0, self.size) {
            if !f.is_multiple_of(2) || f == r {
                h = node(&sibling, &h);
                while f.is_multiple_of(2) && f != 0 {
                    f >>= 1;
                    r >>= 1;
                }
            } else {
                h = node(&h, &sibling);
            }
            f >>= 1;
            r >>= 1;
        }
        assert_eq!(&h, root, "inclusion of {seq} does not reach the root");
        entry
    }

    /// Checks that each full tile hashes to the hash the level above holds for it.
    pub fn check_levels(&self) {
        let mut level = 0;
        while self.size >> (8 * (level + 1)) > 0 {
            let full = self.size >> (8 * (level + 1));
            for i in 0..full {
                assert_eq!(
                    self.subtree(8 * (level + 1), i),
                    self.level_hash(level + 1, i),
                    "tile {i} of level {level} does not hash to level {}",
                    level + 1
                );
                let mut row: Vec<[u8; 32]> = (0..256)
                    .map(|j| self.level_hash(level, i * 256 + j))
                    .collect();
                while row.len() > 1 {
                    row = row.chunks(2).map(|p| node(&p[0], &p[1])).collect();
                }
                assert_eq!(row[0], self.level_hash(level + 1, i));
            }
            level += 1;
        }
    }

    /// Everything: root, levels, every entry proved. Returns the entries.
    pub fn check_all(&self, root: &[u8; 32]) -> Vec<Vec<u8>> {
        assert_eq!(
            &self.root(),
            root,
            "the tiles do not rebuild the checkpoint's root"
        );
        self.check_levels();
        (0..self.size).map(|seq| self.prove(seq, root)).collect()
    }
}
