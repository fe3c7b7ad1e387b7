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
//!   "opening": {"payload": {"…": "…"}, "salt": "<base64 of 16 bytes>"}
//! }
//! ```
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
        }
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
        Ok(VerifiedBundle {
            entry,
            whole,
            leaf_hash,
            checkpoint: opened,
        })
    }
}
