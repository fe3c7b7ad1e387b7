//! Proof of possession for keys registered by someone other than their holder (rotation,
//! binding by an authority, keys in certifications).
//!
//! ```text
//! proof = Ed25519(new_secret, "deedlog/key-possession/v1\n" || canonical_bytes({"actor": actor, "key": new_key}))
//! ```
//!
//! The actor id is inside the message, so a proof made for one actor cannot register the key for
//! another. A `party.register` command needs no separate proof: it is signed by the key it
//! registers.

use deedlog_core::{PublicKey, SecretKey, canonical, keys};
use serde_json::json;

/// The domain tag of possession proofs.
pub const POSSESSION_DOMAIN: &[u8] = b"deedlog/key-possession/v1\n";

/// The message a possession proof signs (without the domain tag).
#[must_use]
pub fn possession_message(actor: &str, key: &str) -> Vec<u8> {
    // Two strings always encode canonically.
    canonical::encode(&json!({ "actor": actor, "key": key })).unwrap_or_default()
}

/// Makes a possession proof (base64) of `secret` for `actor`.
#[must_use]
pub fn prove_possession(secret: &SecretKey, actor: &str) -> String {
    let key = secret.public().to_base64();
    keys::base64(&secret.sign(POSSESSION_DOMAIN, &possession_message(actor, &key)))
}

/// Why a key or its proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PossessionError {
    /// The key is not a usable Ed25519 key.
    #[error("key: {0}")]
    Key(keys::KeyError),
    /// The proof is malformed or does not verify.
    #[error("proof: {0}")]
    Proof(keys::KeyError),
}

/// Checks a key and its possession proof for `actor`.
///
/// # Errors
/// [`PossessionError`].
pub fn check_possession(actor: &str, key: &str, proof: &str) -> Result<PublicKey, PossessionError> {
    let public = PublicKey::from_base64(key).map_err(PossessionError::Key)?;
    let sig = keys::signature_from_base64(proof).map_err(PossessionError::Proof)?;
    public
        .verify(POSSESSION_DOMAIN, &possession_message(actor, key), &sig)
        .map_err(PossessionError::Proof)?;
    Ok(public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_bind_the_actor() {
        let s = SecretKey::from_seed(&[9; 32]);
        let proof = prove_possession(&s, "agent/AT-1");
        let key = s.public().to_base64();
        assert!(check_possession("agent/AT-1", &key, &proof).is_ok());
        assert!(matches!(
            check_possession("agent/AT-2", &key, &proof),
            Err(PossessionError::Proof(_))
        ));
        assert!(matches!(
            check_possession("agent/AT-1", "xx", &proof),
            Err(PossessionError::Key(_))
        ));
    }
}
