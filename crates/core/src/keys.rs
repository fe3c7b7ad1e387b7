//! Ed25519 keys and signatures, with domain-separated messages.
//!
//! Public keys and signatures appear in JSON as standard, padded base64.
//!
//! # The signature rule
//!
//! Every signature deedlog checks — commands in the sequencer's verify pool, commands in the
//! offline verifier, commands inside proof bundles, checkpoint and note signatures — goes through
//! one function, [`PublicKey::verify`], so that the server, an auditor and a bundle check accept
//! exactly the same signatures. The rule:
//!
//! 1. the key is a canonical encoding (`y < p`) of a curve point that is not of small order
//!    ([`PublicKey::from_bytes`]; a key with a torsion component but of large order is allowed);
//! 2. `S` is canonical (`S < L`);
//! 3. `R` decodes to a point that is not of small order;
//! 4. the cofactorless equation holds byte for byte: `encode([S]B - [k]A) == R_bytes`, with
//!    `k = SHA-512(R_bytes || A_bytes || domain || message) mod L`.
//!
//! That is ed25519-dalek's `verify_strict`, and it matches libsodium's
//! `crypto_sign_verify_detached` on every case of the "Taming the many EdDSAs" edge-case vectors
//! (`ledger-data/vectors/ed25519-speccheck.json`). Because the equation is cofactorless and
//! checked per signature, a torsion component in `R` (or in the key) can never make a signature
//! pass by luck. Batch verification (`ed25519_dalek::verify_batch`) is *not* this rule: its
//! random linear combination cancels torsion components with probability 1/2 to 1/8 per
//! signature, so it accepts some signatures the rule refuses; it is not used.

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
    /// A non-canonical point encoding (`y >= p`): the same point has a canonical encoding, and one
    /// key must have one spelling.
    #[error("non-canonical Ed25519 public key encoding")]
    NonCanonical,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// A verified-usable Ed25519 public key: a canonical encoding of a valid point, not of small
/// order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl PublicKey {
    /// Parses 32 bytes, refusing invalid, non-canonical and weak keys.
    ///
    /// # Errors
    /// [`KeyError::Length`], [`KeyError::InvalidPoint`], [`KeyError::NonCanonical`] or
    /// [`KeyError::Weak`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length {
            expected: 32,
            got: bytes.len(),
        })?;
        let key = VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::InvalidPoint)?;
        if !y_is_canonical(&arr) {
            return Err(KeyError::NonCanonical);
        }
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

    /// Checks `signature` over `domain || message` by the signature rule (see the module
    /// documentation): `verify_strict`. Every signature check in deedlog goes through here.
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

    /// The dalek key, for signed notes.
    #[must_use]
    pub fn as_dalek(&self) -> &VerifyingKey {
        &self.0
    }
}

/// Whether the y coordinate of a point encoding (the low 255 bits, little-endian) is below
/// p = 2^255 - 19. The encodings with `y >= p` are `p + j` for `j` in 0..19, which decode to the
/// point with `y = j`; the sign bit is not part of y.
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    // y >= p exactly when bits 8..255 are all ones and the low byte is at least 0xed.
    !(top == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
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
