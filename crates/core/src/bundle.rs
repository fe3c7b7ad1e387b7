//! The proof bundle: everything needed to check, offline, that one entry is in the log.
//!
//! One JSON shape, used by the API, the CLI and the web page alike:
//!
//! ```json
//! {
//!   "format": "deedlog/proof-bundle/v1",
//!   "seq": 41,
//!   "entry": "<standard base64 of the entry's exact canonical bytes>",
//!   "leaf_hash": "<64 hex digits: SHA-256(0x00 || entry bytes)>",
//!   "tree_size": 100,
//!   "inclusion": ["<64 hex digits>", "..."],
//!   "checkpoint": "<the whole signed checkpoint note>",
//!   "log_key": "<the log's vkey: origin+keyid+base64(0x01 || key)>",
//!   "opening": {"payload": {"…": "…"}, "salt": "<base64 of 16 bytes>"},
//!   "witnessed": {"checkpoint": "<a checkpoint note with witness cosignatures>",
//!                 "consistency": ["<64 hex digits>", "..."]}
//! }
//! ```
//!
//! `witnessed` is present when the log has a checkpoint cosigned by its witnesses that covers the
//! entry (its size is above `seq`): its note, and the consistency proof between its tree and the
//! bundle's, from the smaller to the larger (empty when both are the same size, and then both
//! must have the same root). When the cosigned checkpoint *is* the bundle's checkpoint, the
//! server puts the cosigned note in `checkpoint` itself and leaves `witnessed` out. Bundles made
//! before witnesses existed have no `witnessed` and still verify; whether the witnesses are
//! enough is the verifier's policy, checked outside this module on
//! [`VerifiedBundle::cosigned_note`].
//!
//! `opening` is present only for a version-2 entry whose payload the reader may see; it is
//! checked against the payload digest the entry's signature covers. Without it a version-2
//! entry still verifies (bytes, signature, inclusion), and its payload stays unknown.
//!
//! `inclusion` is the RFC 9162 audit path of leaf `seq` in the tree of size `tree_size`, bottom to
//! top. [`ProofBundle::verify`] trusts nothing in the bundle: the log key it checks against is
//! passed in, and `log_key` must merely equal it.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointError, OpenedCheckpoint, VerifierKey};
use crate::command::CommandError;
use crate::entry::{EntryError, Logged, LoggedEntry};
use crate::hash::{self, Hash};
use crate::keys;
use crate::merkle::{self, HashReader, PROOF_HASHES_MAX, ProofError};

/// The `format` of a proof bundle.
pub const BUNDLE_FORMAT: &str = "deedlog/proof-bundle/v1";

/// Why a proof bundle does not verify. Each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// `format` is not [`BUNDLE_FORMAT`].
    #[error("unknown bundle format `{0}`")]
    Format(String),
    /// The trusted log key string is unusable.
    #[error("trusted log key: {0}")]
    TrustedKey(CheckpointError),
    /// `log_key` is not the trusted log key.
    #[error("the bundle names another log key")]
    UntrustedLogKey,
    /// `entry` is not base64.
    #[error("entry is not base64")]
    EntryBase64,
    /// The entry bytes are not a canonical entry.
    #[error("entry: {0}")]
    Entry(EntryError),
    /// The entry's `seq` is not the bundle's.
    #[error("the entry is seq {entry}, the bundle says {bundle}")]
    SeqMismatch {
        /// `seq` inside the entry.
        entry: u64,
        /// `seq` of the bundle.
        bundle: u64,
    },
    /// `leaf_hash` is not 64 lower-case hex digits.
    #[error("leaf_hash is not 64 lower-case hex digits")]
    LeafHashHex,
    /// `leaf_hash` is not the hash of the entry bytes.
    #[error("leaf_hash is not SHA-256(0x00 || entry)")]
    LeafHashMismatch,
    /// The command inside the entry is malformed or its signature does not verify.
    #[error("command: {0}")]
    Command(CommandError),
    /// The opening is malformed, given for a version-1 entry, or not the signed payload's.
    #[error("opening: {0}")]
    Opening(String),
    /// The checkpoint does not open with the trusted key.
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The checkpoint's origin is not the trusted key's name.
    #[error("the checkpoint is for origin `{found}`, the log key is for `{expected}`")]
    WrongOrigin {
        /// The key name (the log's origin).
        expected: String,
        /// The checkpoint's origin line.
        found: String,
    },
    /// `tree_size` is not the checkpoint's size.
    #[error("tree_size {bundle} differs from the checkpoint's size {checkpoint}")]
    TreeSizeMismatch {
        /// `tree_size` of the bundle.
        bundle: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// `seq` is not below `tree_size`.
    #[error("seq {seq} is not in a tree of size {size}")]
    NotInTree {
        /// The entry's seq.
        seq: u64,
        /// The tree size.
        size: u64,
    },
    /// An inclusion hash is not 64 lower-case hex digits, or there are too many.
    #[error("inclusion[{position}] is not 64 lower-case hex digits")]
    InclusionHex {
        /// Its position in the list.
        position: usize,
    },
    /// The inclusion proof does not lead to the checkpoint's root (tlog check).
    #[error("inclusion proof: {0}")]
    Inclusion(ProofError),
    /// The inclusion proof verified with the tlog code but not with rs_merkle: one of the two
    /// implementations is wrong.
    #[error("inclusion proof verified by one implementation and refused by the other")]
    InclusionDisagreement,
    /// The witnessed checkpoint does not open with the log key, is for another origin, does not
    /// cover the entry, or is not consistent with the bundle's checkpoint.
    #[error("witnessed checkpoint: {0}")]
    Witnessed(String),
}

/// Largest witnessed checkpoint note accepted in a bundle, bytes: the log's note and a few dozen
/// cosignature lines fit many times over.
pub const WITNESSED_NOTE_BYTES_MAX: usize = 16 * 1024;

/// A checkpoint cosigned by the log's witnesses, and how it relates to the bundle's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witnessed {
    /// The cosigned checkpoint note (the log's signature and the witnesses' lines).
    pub checkpoint: String,
    /// The consistency proof between this checkpoint's tree and the bundle's, from the smaller
    /// size to the larger, hex; empty when the sizes are equal.
    pub consistency: Vec<String>,
}

/// A proof bundle, as it travels (see the module documentation for the JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The entry's position in the log.
    pub seq: u64,
    /// Standard base64 of the entry's exact canonical bytes.
    pub entry: String,
    /// Hex of `SHA-256(0x00 || entry bytes)`.
    pub leaf_hash: String,
    /// The size of the tree the proof is against (the checkpoint's size).
    pub tree_size: u64,
    /// The audit path, hex, bottom to top.
    pub inclusion: Vec<String>,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The log's vkey.
    pub log_key: String,
    /// The opening (payload and salt) of a version-2 entry, when the reader may see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<serde_json::Value>,
    /// The newest checkpoint cosigned by the log's witnesses that covers the entry, when it is
    /// not the bundle's own checkpoint. Absent in bundles made before witnesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnessed: Option<Witnessed>,
}

/// What a bundle proves, once verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    /// The decoded entry (its command signature checked).
    pub entry: LoggedEntry,
    /// The whole entry, payload proved: a version-1 entry as it is, a version-2 entry joined
    /// with its opening (checked against the signed digest). `None` for a version-2 entry given
    /// without its opening.
    pub whole: Option<crate::entry::Entry>,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The checkpoint it is included in.
    pub checkpoint: OpenedCheckpoint,
    /// The witnessed checkpoint, opened with the log key and proved consistent with
    /// `checkpoint` and to cover the entry, when the bundle carries one.
    pub witnessed: Option<OpenedCheckpoint>,
}

impl VerifiedBundle {
    /// The note whose cosignatures speak for this entry: the witnessed checkpoint when the
    /// bundle has one, else the bundle's own checkpoint (which carries the witnesses' lines
    /// when it is itself the cosigned checkpoint, and none otherwise).
    #[must_use]
    pub fn cosigned_note(&self) -> &str {
        self.witnessed
            .as_ref()
            .map_or(&self.checkpoint.note_text, |w| &w.note_text)
    }
}

impl ProofBundle {
    /// Assembles a bundle from its parts.
    #[must_use]
    pub fn new(
        seq: u64,
        entry_bytes: &[u8],
        tree_size: u64,
        inclusion: &[Hash],
        checkpoint_note: &str,
        log_key: &str,
    ) -> Self {
        Self {
            format: BUNDLE_FORMAT.to_owned(),
            seq,
            entry: keys::base64(entry_bytes),
            leaf_hash: hash::to_hex(&hash::leaf_hash(entry_bytes)),
            tree_size,
            inclusion: inclusion.iter().map(hash::to_hex).collect(),
            checkpoint: checkpoint_note.to_owned(),
            log_key: log_key.to_owned(),
            opening: None,
            witnessed: None,
        }
    }

    /// The bundle with a cosigned checkpoint that covers its entry. `cosigned` is the cosigned
    /// note, of tree size `cosigned_size`, and `consistency` the proof between its tree and the
    /// bundle's (from the smaller size to the larger). When the sizes are equal the cosigned note
    /// replaces the bundle's checkpoint instead (the caller vouches that it is the same
    /// checkpoint; [`ProofBundle::verify`] checks it all the same).
    #[must_use]
    pub fn with_witnessed(
        mut self,
        cosigned: &str,
        cosigned_size: u64,
        consistency: &[Hash],
    ) -> Self {
        if cosigned_size == self.tree_size {
            cosigned.clone_into(&mut self.checkpoint);
        } else {
            self.witnessed = Some(Witnessed {
                checkpoint: cosigned.to_owned(),
                consistency: consistency.iter().map(hash::to_hex).collect(),
            });
        }
        self
    }

    /// The bundle with the opening (canonical bytes) of its version-2 entry.
    ///
    /// # Errors
    /// When the bytes are not a canonical opening.
    pub fn with_opening(mut self, opening: &[u8]) -> Result<Self, BundleError> {
        let parsed = crate::command::Opening::decode(opening)
            .map_err(|e| BundleError::Opening(e.to_string()))?;
        self.opening =
            Some(serde_json::to_value(parsed).map_err(|e| BundleError::Opening(e.to_string()))?);
        Ok(self)
    }

    /// Builds the bundle of entry `seq` against an opened checkpoint, reading the inclusion proof
    /// from the log's stored hashes.
    ///
    /// # Errors
    /// As [`merkle::inclusion_proof`].
    pub fn prove<R: HashReader>(
        seq: u64,
        entry_bytes: &[u8],
        checkpoint: &OpenedCheckpoint,
        log_key: &str,
        reader: &R,
    ) -> Result<Self, ProofError> {
        let proof = merkle::inclusion_proof(seq, checkpoint.size, reader)?;
        Ok(Self::new(
            seq,
            entry_bytes,
            checkpoint.size,
            &proof,
            &checkpoint.note_text,
            log_key,
        ))
    }

    /// Checks everything in the bundle against the trusted log key: the entry decodes, has the
    /// bundle's seq and leaf hash, and its command signature holds; the checkpoint is signed by
    /// the log and is for the log's origin and for `tree_size`; the inclusion proof leads from
    /// the leaf to the checkpoint's root, by the tlog code and by rs_merkle.
    ///
    /// # Errors
    /// The first check that fails, each its own [`BundleError`].
    pub fn verify(&self, trusted_log_vkey: &str) -> Result<VerifiedBundle, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Format(self.format.clone()));
        }
        let log_key = VerifierKey::parse(trusted_log_vkey).map_err(BundleError::TrustedKey)?;
        if self.log_key != trusted_log_vkey {
            return Err(BundleError::UntrustedLogKey);
        }
        let bytes = keys::from_base64(&self.entry).map_err(|_| BundleError::EntryBase64)?;
        let entry = LoggedEntry::decode(&bytes).map_err(BundleError::Entry)?;
        if entry.seq != self.seq {
            return Err(BundleError::SeqMismatch {
                entry: entry.seq,
                bundle: self.seq,
            });
        }
        let leaf_hash = hash::from_hex(&self.leaf_hash).map_err(|_| BundleError::LeafHashHex)?;
        if hash::leaf_hash(&bytes) != leaf_hash {
            return Err(BundleError::LeafHashMismatch);
        }
        entry.verify_signature().map_err(BundleError::Command)?;
        let whole = match (&entry.signed, &self.opening) {
            (Logged::Clear(_), None) => Some(entry.clone().open(None).map_err(BundleError::Entry)?),
            (Logged::Clear(_), Some(_)) => {
                return Err(BundleError::Opening(
                    "a version-1 entry has no opening: its payload is in the entry".into(),
                ));
            }
            (Logged::Sealed(_), None) => None,
            (Logged::Sealed(_), Some(o)) => {
                let bytes =
                    crate::canonical::encode(o).map_err(|e| BundleError::Opening(e.to_string()))?;
                Some(
                    entry
                        .clone()
                        .open(Some(&bytes))
                        .map_err(|e| BundleError::Opening(e.to_string()))?,
                )
            }
        };
        let opened = checkpoint::open_checkpoint(self.checkpoint.as_bytes(), &log_key)
            .map_err(BundleError::Checkpoint)?;
        if opened.origin != log_key.name() {
            return Err(BundleError::WrongOrigin {
                expected: log_key.name().to_owned(),
                found: opened.origin,
            });
        }
        if self.tree_size != opened.size {
            return Err(BundleError::TreeSizeMismatch {
                bundle: self.tree_size,
                checkpoint: opened.size,
            });
        }
        if self.seq >= self.tree_size {
            return Err(BundleError::NotInTree {
                seq: self.seq,
                size: self.tree_size,
            });
        }
        if self.inclusion.len() > PROOF_HASHES_MAX {
            return Err(BundleError::Inclusion(ProofError::TooLong {
                got: self.inclusion.len(),
            }));
        }
        let proof = self
            .inclusion
            .iter()
            .enumerate()
            .map(|(position, h)| {
                hash::from_hex(h).map_err(|_| BundleError::InclusionHex { position })
            })
            .collect::<Result<Vec<_>, _>>()?;
        merkle::verify_inclusion(leaf_hash, self.seq, self.tree_size, &proof, opened.root)
            .map_err(BundleError::Inclusion)?;
        if !merkle::verify_inclusion_rs_merkle(
            leaf_hash,
            self.seq,
            self.tree_size,
            &proof,
            opened.root,
        ) {
            return Err(BundleError::InclusionDisagreement);
        }
        let witnessed = match &self.witnessed {
            None => None,
            Some(w) => Some(verify_witnessed(w, &log_key, &opened, self.seq)?),
        };
        Ok(VerifiedBundle {
            entry,
            whole,
            leaf_hash,
            checkpoint: opened,
            witnessed,
        })
    }
}

/// Checks that the witnessed checkpoint is the log's, covers entry `seq`, and lies on the same
/// history as the bundle's checkpoint `bundle_cp` (one tree a prefix of the other). Then the
/// entry is in the witnessed tree too: either the witnessed tree contains the bundle's, or the
/// bundle's tree starts with the witnessed one and `seq` is below its size.
fn verify_witnessed(
    w: &Witnessed,
    log_key: &VerifierKey,
    bundle_cp: &OpenedCheckpoint,
    seq: u64,
) -> Result<OpenedCheckpoint, BundleError> {
    let bad = |m: String| BundleError::Witnessed(m);
    if w.checkpoint.len() > WITNESSED_NOTE_BYTES_MAX {
        return Err(bad(format!(
            "the note is {} bytes; at most {WITNESSED_NOTE_BYTES_MAX} are allowed",
            w.checkpoint.len()
        )));
    }
    if w.consistency.len() > PROOF_HASHES_MAX {
        return Err(bad(format!(
            "a consistency proof of {} hashes is longer than any tree needs",
            w.consistency.len()
        )));
    }
    let cp = checkpoint::open_checkpoint(w.checkpoint.as_bytes(), log_key)
        .map_err(|e| bad(e.to_string()))?;
    if cp.origin != log_key.name() {
        return Err(bad(format!("it is for origin `{}`", cp.origin)));
    }
    if seq >= cp.size {
        return Err(bad(format!(
            "its tree of size {} does not hold entry {seq}",
            cp.size
        )));
    }
    let proof = w
        .consistency
        .iter()
        .enumerate()
        .map(|(i, h)| {
            hash::from_hex(h).map_err(|_| bad(format!("consistency[{i}] is not 64 hex digits")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (small, large) = if cp.size <= bundle_cp.size {
        (&cp, bundle_cp)
    } else {
        (bundle_cp, &cp)
    };
    if small.size == large.size {
        if small.root != large.root || !proof.is_empty() {
            return Err(bad(format!(
                "two roots for tree size {}: the log forked",
                small.size
            )));
        }
    } else {
        merkle::verify_consistency(small.size, small.root, large.size, large.root, &proof)
            .map_err(|e| {
                bad(format!(
                    "consistency from {} to {}: {e}",
                    small.size, large.size
                ))
            })?;
    }
    Ok(cp)
}
