//! Actors (an id and its signing key), nonces, the clock, and signing commands.
//!
//! A command the client signs carries a fresh random nonce (16 random bytes, 32 hex digits) and
//! `issued_at_ms` from the client's clock, so a retried *signed* command is recognised by the
//! server as the same one (idempotency by `(actor, nonce)`), while a new call is a new command.

use rand_core::{OsRng, RngCore as _};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use deedlog_core::{Command, SecretKey, SignedCommand};

use crate::error::ClientError;

/// Someone who signs commands: an actor id (`party/PA-…`, `agent/AT-…`, `authority/housing`…)
/// and its Ed25519 secret key.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The actor id.
    pub id: String,
    /// The signing key.
    pub secret: SecretKey,
}

impl Actor {
    /// An actor with the given key.
    #[must_use]
    pub fn new(id: impl Into<String>, secret: SecretKey) -> Self {
        Self {
            id: id.into(),
            secret,
        }
    }

    /// An actor with a fresh random key from the OS.
    #[must_use]
    pub fn generate(id: impl Into<String>) -> Self {
        Self::new(id, random_secret())
    }

    /// The public key, standard base64 (the `key` field of its commands).
    #[must_use]
    pub fn key(&self) -> String {
        self.secret.public().to_base64()
    }

    /// Signs a command as this actor with a fresh nonce, issued now.
    ///
    /// # Errors
    /// [`ClientError::Command`] when a field is malformed (bad stream name, non-object payload,
    /// floats in the payload…).
    pub fn sign(
        &self,
        kind: &str,
        stream: &str,
        payload: Value,
        expected_version: Option<u64>,
    ) -> Result<SignedCommand, ClientError> {
        self.sign_at(kind, stream, payload, expected_version, now_ms(), &nonce())
    }

    /// Signs a command with the given time and nonce (for pre-signed loads and tests).
    ///
    /// # Errors
    /// As [`Actor::sign`].
    pub fn sign_at(
        &self,
        kind: &str,
        stream: &str,
        payload: Value,
        expected_version: Option<u64>,
        issued_at_ms: i64,
        nonce: &str,
    ) -> Result<SignedCommand, ClientError> {
        Ok(Command {
            actor: self.id.clone(),
            key: self.key(),
            kind: kind.to_owned(),
            stream: stream.to_owned(),
            expected_version,
            payload,
            nonce: nonce.to_owned(),
            issued_at_ms,
        }
        .sign(&self.secret)?)
    }
}

/// A fresh random Ed25519 key from the OS.
#[must_use]
pub fn random_secret() -> SecretKey {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    SecretKey::from_seed(&seed)
}

/// A fresh nonce: 32 lower-case hex digits of OS randomness.
#[must_use]
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A random id suffix: 16 upper-case hex digits, e.g. for `listing/LS-…`.
#[must_use]
pub fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    hex::encode_upper(bytes)
}

/// A key derived from a secret and a label:
/// `seed = SHA-256("deedlog/client/derived-key/v1\n" || secret_seed || label)`.
///
/// The demo derives its citizens' keys this way from a key of the data folder, so a second run
/// against the same server finds the same parties instead of registering them again.
#[must_use]
pub fn derive_secret(secret: &SecretKey, label: &str) -> SecretKey {
    let mut h = Sha256::new();
    h.update(b"deedlog/client/derived-key/v1\n");
    h.update(secret.to_seed());
    h.update(label.as_bytes());
    SecretKey::from_seed(&h.finalize().into())
}

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signed_commands_verify_and_nonces_differ() {
        let a = Actor::generate("party/PA-1");
        let one = a
            .sign("party.register", "party/PA-1", json!({"x": 1}), Some(0))
            .unwrap();
        let two = a
            .sign("party.register", "party/PA-1", json!({"x": 1}), Some(0))
            .unwrap();
        assert!(one.verify().is_ok());
        assert_ne!(one.nonce, two.nonce);
        assert_eq!(one.expected_version, Some(0));
        assert!(matches!(
            a.sign("party.register", "bad stream", json!({}), None),
            Err(ClientError::Command(_))
        ));
    }

    #[test]
    fn derived_keys_are_stable_and_distinct() {
        let root = SecretKey::from_seed(&[3; 32]);
        let a = derive_secret(&root, "citizen/1");
        assert_eq!(a.to_seed(), derive_secret(&root, "citizen/1").to_seed());
        assert_ne!(a.to_seed(), derive_secret(&root, "citizen/2").to_seed());
        assert_eq!(random_suffix().len(), 16);
        assert_eq!(nonce().len(), 32);
    }
}
