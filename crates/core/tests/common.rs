//! Shared test helpers: a naive RFC 6962 tree, deterministic keys, and a deterministic log
//! generator (the one that writes `ledger-data/vectors/sample-log.jsonl`).

use deedlog_core::checkpoint::{self, VerifierKey};
use deedlog_core::hash::{self, Hash, ZERO_HASH, node_hash, sha256};
use deedlog_core::merkle::{EMPTY_HASH, MemoryHashes};
use deedlog_core::verify::{CheckpointLine, EXPORT_FORMAT, ExportHeader};
use deedlog_core::{Command, Entry, SecretKey};
use serde_json::json;

/// The largest power of two strictly below `n` (`n >= 2`).
pub fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 `MTH`, written straight from the definition.
pub fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_HASH,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(naive_root(&leaves[..k]), naive_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 `PATH(m, D[n])`, written straight from the definition.
pub fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = naive_path(m, &leaves[..k]);
        p.push(naive_root(&leaves[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &leaves[k..]);
        p.push(naive_root(&leaves[..k]));
        p
    }
}

/// The directions (true = the leaf's subtree is on the right) along a leaf's audit path,
/// bottom to top: all that a proof's check depends on besides the hashes.
pub fn path_shape(index: u64, size: u64) -> Vec<bool> {
    let (mut index, mut size, mut shape) = (index, size, Vec::new());
    while size > 1 {
        let k = 1u64 << (size - 1).ilog2();
        if index < k {
            shape.push(false);
            size = k;
        } else {
            shape.push(true);
            index -= k;
            size -= k;
        }
    }
    shape.reverse();
    shape
}

/// A key from a label: seed = SHA-256(label).
pub fn key(label: &str) -> SecretKey {
    SecretKey::from_seed(&sha256(label.as_bytes()))
}

/// The sample log's origin.
pub const SAMPLE_ORIGIN: &str = "deedlog.example/sample";
/// The label of the sample log's key: its seed is SHA-256 of these bytes.
pub const SAMPLE_LOG_KEY_LABEL: &str = "deedlog sample log key";
/// Time of the first entry, ms since the Unix epoch (2023-11-14T22:13:20Z).
pub const SAMPLE_T0_MS: i64 = 1_700_000_000_000;

/// A generated log.
pub struct GeneratedLog {
    pub origin: String,
    pub log_key: SecretKey,
    pub vkey: String,
    /// The exact bytes of each entry.
    pub entries: Vec<Vec<u8>>,
    /// `(size, note)`: each checkpoint and the size it covers.
    pub checkpoints: Vec<(u64, Vec<u8>)>,
    pub hashes: MemoryHashes,
}

impl GeneratedLog {
    /// The export: header, entries, and each checkpoint right after the entry that completes it.
    pub fn lines(&self) -> Vec<Vec<u8>> {
        let header = ExportHeader {
            format: EXPORT_FORMAT.to_owned(),
            origin: self.origin.clone(),
            log_key: self.vkey.clone(),
        };
        let mut lines = vec![serde_json::to_vec(&header).expect("header serializes")];
        let mut checkpoints = self.checkpoints.iter().peekable();
        while let Some((0, note)) = checkpoints.peek() {
            lines.push(checkpoint_line(note));
            checkpoints.next();
        }
        for (i, entry) in self.entries.iter().enumerate() {
            lines.push(entry.clone());
            while let Some((size, note)) = checkpoints.peek() {
                if *size != i as u64 + 1 {
                    break;
                }
                lines.push(checkpoint_line(note));
                checkpoints.next();
            }
        }
        lines
    }

    /// The export as one file: lines joined and ended by newlines.
    pub fn jsonl(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.lines() {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        out
    }

    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey::parse(&self.vkey).expect("generated vkey parses")
    }
}

pub fn checkpoint_line(note: &[u8]) -> Vec<u8> {
    let line = CheckpointLine {
        checkpoint: String::from_utf8(note.to_vec()).expect("notes are UTF-8"),
    };
    serde_json::to_vec(&line).expect("checkpoint line serializes")
}

/// A deterministic log of `n` entries by `actors` keys, with a checkpoint after every
/// `checkpoint_every` entries and one at the end.
pub fn generate(n: usize, actors: usize, checkpoint_every: usize) -> GeneratedLog {
    let log_key = key(SAMPLE_LOG_KEY_LABEL);
    let vkey = checkpoint::vkey(SAMPLE_ORIGIN, &log_key.public()).expect("origin is a key name");
    let actor_keys: Vec<SecretKey> = (0..actors)
        .map(|i| key(&format!("deedlog sample actor {i}")))
        .collect();
    let mut versions = std::collections::BTreeMap::<String, u64>::new();
    let mut hashes = MemoryHashes::new();
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    let mut prev_hash = ZERO_HASH;
    for i in 0..n {
        let actor = (i * 7 + i / 3) % actors;
        let secret = &actor_keys[actor];
        let stream = format!("test/T-{}", i % 11);
        let version = versions.entry(stream.clone()).or_insert(0);
        let issued_at_ms = SAMPLE_T0_MS + (i as i64) * 1_000;
        let signed = Command {
            actor: format!("party/PA-{actor:03}"),
            key: secret.public().to_base64(),
            kind: "test.note".into(),
            stream: stream.clone(),
            expected_version: Some(*version),
            payload: json!({
                "n": i,
                "text": format!("note {i} · 房源核验 {}", "x".repeat(i % 5)),
                "area_m2_hundredths": 8_550 + i as i64,
            }),
            nonce: format!("nonce-{i:06}"),
            issued_at_ms,
        }
        .sign_v1(secret)
        .expect("generated commands are well-formed");
        *version += 1;
        let entry = Entry {
            seq: i as u64,
            recorded_at_ms: issued_at_ms + 5,
            prev_hash,
            stream,
            stream_version: *version,
            kind: "NoteAdded".into(),
            signed,
            derived: if i % 4 == 0 {
                json!({"code": format!("C-{i:05}")})
            } else {
                json!({})
            },
        };
        let bytes = entry.encode().expect("generated entries encode");
        let leaf = hash::leaf_hash(&bytes);
        hashes.append(leaf);
        prev_hash = leaf;
        entries.push(bytes);
        let size = i + 1;
        if size % checkpoint_every == 0 || size == n {
            let root = hashes.root(size as u64).expect("size is in the tree");
            let note = checkpoint::sign_checkpoint(
                SAMPLE_ORIGIN,
                size as u64,
                root,
                &[checkpoint::time_extension(issued_at_ms + 5)],
                &log_key,
            )
            .expect("sample checkpoints sign");
            checkpoints.push((size as u64, note));
        }
    }
    GeneratedLog {
        origin: SAMPLE_ORIGIN.to_owned(),
        log_key,
        vkey,
        entries,
        checkpoints,
        hashes,
    }
}

/// The branch decisions a consistency proof's check takes from the tree of size `n` down to the
/// old tree of size `m` (`1 <= m <= n`): together with the hashes, all the check depends on.
pub fn consistency_shape(m: u64, n: u64) -> Vec<u8> {
    let (mut lo, mut hi, mut shape) = (0u64, n, Vec::new());
    while m != hi {
        let k = 1u64 << (hi - lo - 1).ilog2();
        if m <= lo + k {
            shape.push(b'l');
            hi = lo + k;
        } else {
            shape.push(b'r');
            lo += k;
        }
    }
    shape.push(if lo == 0 { b'0' } else { b'1' });
    shape
}
