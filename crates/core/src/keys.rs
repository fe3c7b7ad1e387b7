//! Ed25519 keys and signatures, with domain-separated messages.
//!
//! Public keys and signatures appear in JSON as standard, padded base64. A public key is
//! refused when it is not a valid point or is of small order ("weak"), so that batch
//! verification, which skips that test, is safe for every key that was ever accepted.
//! Single signatures are checked with `verify_strict`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::hash::sha256;

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64.
    #[error("not base64")]
    Base64,
    /// Wrong number of bytes.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        got: usize,
    },
    /// Not a point on the curve.
    #[error("not a valid Ed25519 public key")]
    InvalidPoint,
    /// A small-order ("weak") public key, refused because any signature could verify under it.
    #[error("weak (small-order) Ed25519 public key")]
    Weak,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// A verified-usable Ed25519 public key: a valid point, not of small order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl PublicKey {
    /// Parses 32 bytes, refusing invalid and weak keys.
    ///
    /// # Errors
    /// [`KeyError::Length`], [`KeyError::InvalidPoint`] or [`KeyError::Weak`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length {
            expected: 32,
            got: bytes.len(),
        })?;
        let key = VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        Ok(Self(key))
    }

    /// Parses standard base64 of 32 bytes.
    ///
    /// # Errors
    /// As [`PublicKey::from_bytes`], or [`KeyError::Base64`].
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = B64.decode(text).map_err(|_| KeyError::Base64)?;
        Self::from_bytes(&bytes)
    }

    /// The 32 key bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Standard base64 of the key bytes.
    #[must_use]
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.to_bytes())
    }

    /// A short, stable name for the key: the first 8 bytes, in hex, of
    /// `SHA-256("deedlog/key/v1\n" || key)`.
    #[must_use]
    pub fn key_id(&self) -> String {
        let mut msg = b"deedlog/key/v1\n".to_vec();
        msg.extend_from_slice(self.0.as_bytes());
        hex::encode(&sha256(&msg)[..8])
    }

    /// Checks `signature` over `domain || message` with `verify_strict`.
    ///
    /// # Errors
    /// [`KeyError::BadSignature`].
    pub fn verify(
        &self,
        domain: &[u8],
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), KeyError> {
        let sig = Signature::from_bytes(signature);
        let mut msg = Vec::with_capacity(domain.len() + message.len());
        msg.extend_from_slice(domain);
        msg.extend_from_slice(message);
        self.0
            .verify_strict(&msg, &sig)
            .map_err(|_| KeyError::BadSignature)
    }

    /// The dalek key, for batch verification and signed notes.
    #[must_use]
    pub fn as_dalek(&self) -> &VerifyingKey {
        &self.0
    }
}

/// An Ed25519 signing key. It is passed in; the core never generates one (no randomness here).
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.public().key_id())
    }
}

impl SecretKey {
    /// A key from its 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed.
    #[must_use]
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `domain || message`.
    #[must_use]
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> [u8; 64] {
        let mut msg = Vec::with_capacity(domain.len() + message.len());
        msg.extend_from_slice(domain);
        msg.extend_from_slice(message);
        self.0.sign(&msg).to_bytes()
    }

    /// The dalek key, for signed notes.
    #[must_use]
    pub fn as_dalek(&self) -> &SigningKey {
        &self.0
    }
}

/// Decodes standard base64 of a 64-byte signature.
///
/// # Errors
/// [`KeyError::Base64`] or [`KeyError::Length`].
pub fn signature_from_base64(text: &str) -> Result<[u8; 64], KeyError> {
    let bytes = B64.decode(text).map_err(|_| KeyError::Base64)?;
    bytes.as_slice().try_into().map_err(|_| KeyError::Length {
        expected: 64,
        got: bytes.len(),
    })
}

/// Standard base64.
#[must_use]
pub fn base64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes standard base64.
///
/// # Errors
/// [`KeyError::Base64`].
pub fn from_base64(text: &str) -> Result<Vec<u8>, KeyError> {
    B64.decode(text).map_err(|_| KeyError::Base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_weak_and_short_keys() {
        // The identity point (small order) encodes as 1 followed by zeros.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        assert!(matches!(
            PublicKey::from_bytes(&[0u8; 31]),
            Err(KeyError::Length {
                expected: 32,
                got: 31
            })
        ));
        assert_eq!(PublicKey::from_base64("!!"), Err(KeyError::Base64));
    }

    #[test]
    fn signatures_are_domain_separated() {
        let key = SecretKey::from_seed(&[7; 32]);
        let sig = key.sign(b"deedlog/command/v1\n", b"{}");
        assert!(
            key.public()
                .verify(b"deedlog/command/v1\n", b"{}", &sig)
                .is_ok()
        );
        assert_eq!(
            key.public().verify(b"deedlog/other/v1\n", b"{}", &sig),
            Err(KeyError::BadSignature)
        );
        assert!(signature_from_base64(&base64(&[0u8; 63])).is_err());
    }
}
