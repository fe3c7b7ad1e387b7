//! The log's checkpoint format: C2SP tlog-checkpoint bodies in C2SP signed notes, signed with the
//! log's key under the key name = origin, with a `time <ms>` extension line (see FORMAT.md).

use deedlog_core::checkpoint::{self, VerifierKey};
use deedlog_core::hash::Hash;
use deedlog_core::keys::SecretKey;

use crate::error::StoreError;
use crate::log::CheckpointFormat;

/// Signs checkpoints as C2SP signed notes with the log's key.
#[derive(Debug, Clone)]
pub struct NoteFormat {
    origin: String,
    secret: SecretKey,
    verifier: VerifierKey,
}

impl NoteFormat {
    /// The format for the log named `origin`, signing with `secret`.
    ///
    /// # Errors
    /// An origin that is not a valid key name (empty, spaces, `+`).
    pub fn new(origin: &str, secret: SecretKey) -> Result<Self, StoreError> {
        let verifier = VerifierKey::new(origin, secret.public())
            .map_err(|e| StoreError::Config(format!("origin {origin:?}: {e}")))?;
        Ok(Self {
            origin: origin.to_owned(),
            secret,
            verifier,
        })
    }

    /// The log's verifier key in signed-note `vkey` form.
    #[must_use]
    pub fn vkey(&self) -> String {
        self.verifier.to_vkey()
    }

    /// The log's verifier key.
    #[must_use]
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The origin line.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl CheckpointFormat for NoteFormat {
    fn sign(&self, size: u64, root: &Hash, time_ms: i64) -> Vec<u8> {
        checkpoint::sign_checkpoint(
            &self.origin,
            size,
            *root,
            &[checkpoint::time_extension(time_ms)],
            &self.secret,
        )
        .expect("the origin was checked when the format was made, and a time line is always valid")
    }

    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)> {
        checkpoint::open_checkpoint(note, &self.verifier)
            .ok()
            .filter(|c| c.origin == self.origin)
            .map(|c| (c.size, c.root))
    }
}
