//! A transparency-log witness: it cosigns a log's checkpoints, under C2SP `tlog-witness` v1 and
//! C2SP `tlog-cosignature` (`cosignature/v1`, Ed25519), only when each one extends the last
//! checkpoint it cosigned for that log.
//!
//! A witness is what keeps the log's operator from showing one history to one reader and another
//! to a second reader: every reader who insists on a witness's cosignature sees a history that
//! witness has checked to be append-only. The witness remembers one checkpoint per log (per
//! origin), persists it durably *before* it answers, and refuses anything that does not extend
//! it with a valid consistency proof.
//!
//! - [`Witness::add_checkpoint`] is the whole protocol, without HTTP: it parses a request body,
//!   runs the spec's checks in the spec's order, persists, and returns the cosignature line.
//! - [`http`] serves it as `POST /add-checkpoint` with the spec's status codes.
//! - [`state`] is the durable per-log record (write temp, fsync, rename, fsync the folder).

#![forbid(unsafe_code)]

pub mod http;
pub mod request;
pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use deedlog_core::checkpoint::{self, CheckpointError, VerifierKey, WitnessKey};
use deedlog_core::merkle::{self, EMPTY_HASH};
use deedlog_core::{Hash, SecretKey};

pub use request::{AddCheckpointRequest, PROOF_LINES_MAX, REQUEST_BYTES_MAX};
pub use state::{LogState, StateStore};

/// Why a checkpoint was not cosigned. Each variant is one status code of C2SP tlog-witness
/// (see [`AddError::status`]); nothing is persisted for any of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The request body is not an `add-checkpoint` body (400).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The checkpoint's origin is not a log this witness is configured for (404).
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    /// No signature by a trusted key of the log verifies (403).
    #[error("the checkpoint carries no valid signature by a trusted key of {0:?}")]
    BadLogSignature(String),
    /// The old size is above the checkpoint's size (400).
    #[error("old size {old} is above the checkpoint size {size}")]
    OldSizeAbove {
        /// The old size of the request.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size of the checkpoint the witness holds for this log, or the
    /// sizes are equal and the roots differ (409). The witness's size goes in the answer.
    #[error("the witness holds size {held} for this log")]
    Conflict {
        /// The size of the latest checkpoint the witness cosigned (0 if none).
        held: u64,
    },
    /// The consistency proof does not show the held tree to be a prefix of the new one (422).
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
    /// The witness could not make its new state durable; it cosigned nothing (500).
    #[error("storing the witness state: {0}")]
    Storage(String),
}

impl AddError {
    /// The HTTP status code C2SP tlog-witness gives this refusal.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::OldSizeAbove { .. } => 400,
            Self::BadLogSignature(_) => 403,
            Self::UnknownLog(_) => 404,
            Self::Conflict { .. } => 409,
            Self::BadProof(_) => 422,
            Self::Storage(_) => 500,
        }
    }
}

/// Why a witness could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The witness name is not a valid signed-note key name.
    #[error("witness name: {0}")]
    BadName(CheckpointError),
    /// Two trusted keys share a key name and key id.
    #[error("log key {0} is given twice")]
    DuplicateKey(String),
    /// The state folder could not be opened or holds a damaged record.
    #[error("witness state: {0}")]
    State(#[from] state::StateError),
}

/// A witness: its identity, the logs it watches, and their durable state.
pub struct Witness {
    name: String,
    secret: SecretKey,
    key: WitnessKey,
    logs: HashMap<String, Vec<VerifierKey>>,
    // One lock over check-and-persist: two requests for one log must not both pass the size
    // check against the same held checkpoint and then overwrite each other (the race the spec
    // describes, which would roll the witness's record back).
    store: Mutex<StateStore>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.name)
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness named `name` signing with `secret`, watching the logs whose keys are `logs`
    /// (each log is known by its origin, which is its key's name), keeping state in `dir`.
    ///
    /// # Errors
    /// [`SetupError`].
    pub fn open(
        dir: &Path,
        name: &str,
        secret: SecretKey,
        logs: &[VerifierKey],
    ) -> Result<Self, SetupError> {
        let key = WitnessKey::new(name, secret.public()).map_err(SetupError::BadName)?;
        let mut by_origin: HashMap<String, Vec<VerifierKey>> = HashMap::new();
        for log in logs {
            let keys = by_origin.entry(log.name().to_owned()).or_default();
            if keys.iter().any(|k| k.key_id() == log.key_id()) {
                return Err(SetupError::DuplicateKey(log.to_vkey()));
            }
            keys.push(log.clone());
        }
        let store = StateStore::open(dir)?;
        Ok(Self {
            name: name.to_owned(),
            secret,
            key,
            logs: by_origin,
            store: Mutex::new(store),
        })
    }

    /// The witness's name (its key name).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The witness's verifier key, `name+keyid+base64(0x04 || key)`, as readers configure it.
    #[must_use]
    pub fn vkey(&self) -> String {
        self.key.to_vkey()
    }

    /// The checkpoint the witness holds for `origin`, if it cosigned one.
    #[must_use]
    pub fn held(&self, origin: &str) -> Option<LogState> {
        self.lock().get(origin).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateStore> {
        // A panic while holding the lock cannot leave the store half-updated on disk (each
        // record is replaced by a rename), and the in-memory map is only changed after the
        // rename succeeded, so the data behind a poisoned lock is still consistent.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handles one `add-checkpoint` request body: C2SP tlog-witness's checks in its order,
    /// then the new checkpoint made durable, then its cosignature line (with its final
    /// newline). `now_secs` is the cosignature's timestamp, seconds since the Unix epoch.
    ///
    /// # Errors
    /// [`AddError`], each naming its status code; nothing is stored on any of them.
    pub fn add_checkpoint(&self, body: &[u8], now_secs: u64) -> Result<String, AddError> {
        let request = AddCheckpointRequest::parse(body)?;
        let origin = request.origin()?;
        let keys = self
            .logs
            .get(&origin)
            .ok_or_else(|| AddError::UnknownLog(origin.clone()))?;
        let opened = keys
            .iter()
            .find_map(|k| checkpoint::open_checkpoint(&request.checkpoint, k).ok())
            .ok_or_else(|| AddError::BadLogSignature(origin.clone()))?;
        if opened.origin != origin {
            // The origin was read from the unverified text; the verified body must say the same.
            return Err(AddError::BadLogSignature(origin));
        }
        let (old, size, root) = (request.old_size, opened.size, opened.root);
        if old > size {
            return Err(AddError::OldSizeAbove { old, size });
        }
        let mut store = self.lock();
        let (held_size, held_root) = store
            .get(&origin)
            .map_or((0, EMPTY_HASH), |s| (s.size, s.root));
        if old != held_size {
            return Err(AddError::Conflict { held: held_size });
        }
        if old == size {
            // The same size must be the same tree: a different root at a size already cosigned
            // is a fork, answered as the spec says (409), and the proof must be empty.
            if root != held_root {
                return Err(AddError::Conflict { held: held_size });
            }
            if !request.proof.is_empty() {
                return Err(AddError::BadProof(
                    "a proof between equal sizes must be empty".into(),
                ));
            }
        } else {
            merkle::verify_consistency(old, held_root, size, root, &request.proof)
                .map_err(|e| AddError::BadProof(e.to_string()))?;
        }
        let line = checkpoint::cosign(opened.body.as_bytes(), &self.name, &self.secret, now_secs)
            .map_err(|e| AddError::Malformed(e.to_string()))?;
        // Persist before answering: a cosignature given out and then forgotten in a crash would
        // let the log get a second, conflicting checkpoint of the same size cosigned.
        store
            .put(
                &origin,
                LogState {
                    size,
                    root,
                    note: request.checkpoint.clone(),
                },
            )
            .map_err(|e| AddError::Storage(e.to_string()))?;
        Ok(line)
    }
}

/// Shorthand used in tests and by the node: the hash as standard base64, as proof lines carry it.
#[must_use]
pub fn hash_line(hash: &Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hash.0)
}
