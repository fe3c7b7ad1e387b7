//! The C2SP `tlog-proof` v1 text format: an offline proof that an entry is in the log, beside the
//! project's own JSON [`ProofBundle`].
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the entry's exact bytes>
//! index <seq>
//! <base64 hash>            (the inclusion proof, leaf's sibling first, zero or more lines)
//!
//! <the checkpoint note, verbatim, with any witness cosignatures>
//! ```
//!
//! The spec leaves `extra` to the application and warns that it is not authenticated. Here it
//! carries the entry's exact bytes, so that the file is self-contained: the verifier hashes them
//! into the leaf, and the leaf is what the inclusion proof authenticates, so a changed `extra`
//! fails the proof rather than being trusted. A proof without `extra` can still be checked
//! against a leaf hash the reader has from elsewhere ([`TlogProof::verify_leaf`]).
//!
//! Written here rather than taken from a crate: no maintained Rust crate implements the format
//! yet, and it is a few lines over the Merkle and note code this crate already has.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::bundle::ProofBundle;
use crate::checkpoint::{CheckpointError, OpenedCheckpoint, VerifierKey, open_checkpoint};
use crate::entry::{EntryError, LoggedEntry};
use crate::hash::{self, Hash};
use crate::limits::ENTRY_BYTES_MAX;
use crate::merkle::{PROOF_HASHES_MAX, ProofError, verify_inclusion};

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The recommended file extension, without its dot.
pub const EXTENSION: &str = "tlog-proof";
/// The longest checkpoint note accepted inside a proof, bytes (a note with many cosignatures
/// stays far below it).
pub const CHECKPOINT_BYTES_MAX: usize = 16 * 1024;
/// The largest proof accepted, bytes: the entry in base64, the longest proof, the note.
pub const TLOG_PROOF_BYTES_MAX: usize = HEADER.len()
    + 8
    + ENTRY_BYTES_MAX.div_ceil(3) * 4
    + 32
    + PROOF_HASHES_MAX * 45
    + CHECKPOINT_BYTES_MAX;

/// Why a text is not a proof, or does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    /// The text breaks the format; the words say where.
    #[error("not a c2sp.org/tlog-proof@v1 proof: {0}")]
    Format(String),
    /// The proof is larger than [`TLOG_PROOF_BYTES_MAX`].
    #[error("the proof is {got} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its size.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// The checkpoint is not signed by the trusted log key, or is malformed.
    #[error("the proof's checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not lead from the leaf to the checkpoint's root.
    #[error("the inclusion proof does not hold: {0}")]
    Inclusion(#[from] ProofError),
    /// The proof carries no `extra` line, so there are no entry bytes to check.
    #[error("the proof carries no entry bytes (no `extra` line)")]
    NoEntry,
    /// The entry bytes in `extra` are not an entry of this log format, or not the one at
    /// `index`.
    #[error("the entry bytes in the proof: {0}")]
    Entry(String),
}

/// A parsed `tlog-proof`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlogProof {
    /// The opaque extra data: in proofs this project writes, the entry's exact bytes.
    pub extra: Option<Vec<u8>>,
    /// The entry's zero-based index (its seq).
    pub index: u64,
    /// The inclusion proof, from the leaf's sibling up to the root's child.
    pub inclusion: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: String,
}

/// What a verified proof shows.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedTlogProof {
    /// The entry, decoded from `extra` (its command signature checked).
    pub entry: LoggedEntry,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The checkpoint, opened with the trusted log key.
    pub checkpoint: OpenedCheckpoint,
}

fn format_error(what: impl Into<String>) -> TlogProofError {
    TlogProofError::Format(what.into())
}

/// Decimal with no leading zeroes (unless `0`), as the spec requires.
fn parse_index(text: &str) -> Result<u64, TlogProofError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(format_error(format!(
            "the index {text:?} is not a decimal without leading zeroes"
        )));
    }
    text.parse()
        .map_err(|_| format_error(format!("the index {text} is out of range")))
}

impl TlogProof {
    /// The proof of a bundle's entry against the bundle's checkpoint, with the entry's bytes as
    /// `extra`. The bundle is not verified here: a proof made from a bad bundle fails
    /// [`TlogProof::verify`].
    ///
    /// # Errors
    /// A bundle whose fields do not decode (base64 entry, hex hashes).
    pub fn from_bundle(bundle: &ProofBundle) -> Result<Self, TlogProofError> {
        let entry = crate::keys::from_base64(&bundle.entry)
            .map_err(|_| format_error("the bundle's entry is not base64"))?;
        let inclusion = bundle
            .inclusion
            .iter()
            .map(|h| hash::from_hex(h).map_err(|_| format_error("a proof hash is not hex")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            extra: Some(entry),
            index: bundle.seq,
            inclusion,
            checkpoint: bundle.checkpoint.clone(),
        })
    }

    /// The proof's text.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(256 + self.checkpoint.len());
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&B64.encode(extra));
            out.push('\n');
        }
        out.push_str("index ");
        out.push_str(&self.index.to_string());
        out.push('\n');
        for h in &self.inclusion {
            out.push_str(&B64.encode(h.0));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a proof, strictly: the header, an optional `extra`, the index, the hashes, an empty
    /// line, then the checkpoint (whose own format [`TlogProof::verify`] checks).
    ///
    /// # Errors
    /// [`TlogProofError::TooLarge`] or [`TlogProofError::Format`] naming what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogProofError> {
        if bytes.len() > TLOG_PROOF_BYTES_MAX {
            return Err(TlogProofError::TooLarge {
                got: bytes.len(),
                max: TLOG_PROOF_BYTES_MAX,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| format_error("not UTF-8"))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| format_error("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(format_error(format!("the first line is not {HEADER}")));
        }
        let mut line = lines.next().ok_or_else(|| format_error("no index line"))?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let extra = B64
                    .decode(b64)
                    .map_err(|_| format_error("the extra data is not standard base64"))?;
                line = lines.next().ok_or_else(|| format_error("no index line"))?;
                Some(extra)
            }
            None => None,
        };
        let index = parse_index(
            line.strip_prefix("index ")
                .ok_or_else(|| format_error(format!("expected `index N`, found {line:?}")))?,
        )?;
        let mut inclusion = Vec::new();
        for line in lines {
            if inclusion.len() == PROOF_HASHES_MAX {
                return Err(format_error(format!(
                    "more than {PROOF_HASHES_MAX} proof hashes"
                )));
            }
            let bytes = B64
                .decode(line)
                .map_err(|_| format_error(format!("the proof line {line:?} is not base64")))?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format_error(format!("the proof line {line:?} is not 32 bytes")))?;
            inclusion.push(Hash(hash));
        }
        if checkpoint.len() > CHECKPOINT_BYTES_MAX {
            return Err(format_error(format!(
                "the checkpoint is longer than {CHECKPOINT_BYTES_MAX} bytes"
            )));
        }
        Ok(Self {
            extra,
            index,
            inclusion,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Checks that `leaf_hash` sits at `index` in the tree the checkpoint signs, under the
    /// trusted log key. Cosignatures are left to a witness policy.
    ///
    /// # Errors
    /// [`TlogProofError::Checkpoint`] or [`TlogProofError::Inclusion`].
    pub fn verify_leaf(
        &self,
        leaf_hash: Hash,
        log_key: &VerifierKey,
    ) -> Result<OpenedCheckpoint, TlogProofError> {
        let checkpoint = open_checkpoint(self.checkpoint.as_bytes(), log_key)?;
        verify_inclusion(
            leaf_hash,
            self.index,
            checkpoint.size,
            &self.inclusion,
            checkpoint.root,
        )?;
        Ok(checkpoint)
    }

    /// Verifies the entry the proof carries: its bytes decode to the entry at `index`, its
    /// command signature holds, and its leaf is in the signed tree.
    ///
    /// # Errors
    /// [`TlogProofError::NoEntry`], [`TlogProofError::Entry`], or as
    /// [`TlogProof::verify_leaf`].
    pub fn verify(&self, log_key: &VerifierKey) -> Result<VerifiedTlogProof, TlogProofError> {
        let bytes = self.extra.as_deref().ok_or(TlogProofError::NoEntry)?;
        let entry = LoggedEntry::decode(bytes)
            .map_err(|e: EntryError| TlogProofError::Entry(e.to_string()))?;
        if entry.seq != self.index {
            return Err(TlogProofError::Entry(format!(
                "the bytes are entry {}, the proof is for index {}",
                entry.seq, self.index
            )));
        }
        entry
            .verify_signature()
            .map_err(|e| TlogProofError::Entry(e.to_string()))?;
        let leaf_hash = hash::leaf_hash(bytes);
        let checkpoint = self.verify_leaf(leaf_hash, log_key)?;
        Ok(VerifiedTlogProof {
            entry,
            leaf_hash,
            checkpoint,
        })
    }
}
