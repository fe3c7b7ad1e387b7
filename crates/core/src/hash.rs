//! SHA-256 hashing with RFC 6962 domain tags.
//!
//! ```text
//! leaf_hash(entry) = SHA-256(0x00 || canonical_bytes(entry))
//! node_hash(l, r)  = SHA-256(0x01 || l || r)
//! ```
//!
//! The one-byte prefixes keep a leaf from ever being taken for an interior node (RFC 9162 §2.1).
//! Hashes appear in JSON as 64 lower-case hex digits.

use sha2::{Digest, Sha256};

pub use tlog_tiles::Hash;

/// The size of a hash in bytes.
pub const HASH_BYTES: usize = 32;

/// The all-zero hash: the `prev_hash` of the entry at seq 0.
pub const ZERO_HASH: Hash = Hash([0; HASH_BYTES]);

/// `SHA-256(0x00 || bytes)`: the Merkle leaf hash of an entry's canonical bytes.
#[must_use]
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    tlog_tiles::record_hash(bytes)
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior Merkle node.
#[must_use]
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    tlog_tiles::node_hash(left, right)
}

/// Plain SHA-256, for document and photo hashes (not for log structure).
#[must_use]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of a hash.
#[must_use]
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash.0)
}

/// Parses 64 hex digits into a hash.
///
/// # Errors
/// When the text is not exactly 64 hex digits.
pub fn from_hex(text: &str) -> Result<Hash, HashParseError> {
    let mut out = [0u8; HASH_BYTES];
    if text.len() != 2 * HASH_BYTES || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(HashParseError);
    }
    hex::decode_to_slice(text, &mut out).map_err(|_| HashParseError)?;
    Ok(Hash(out))
}

/// The text is not 64 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hash must be 64 lower-case hex digits")]
pub struct HashParseError;

/// Serde helpers for hashes as lower-case hex strings.
pub mod serde_hex {
    use super::{Hash, from_hex, to_hex};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a hash as hex.
    ///
    /// # Errors
    /// Never, beyond the serializer's own.
    pub fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(hash))
    }

    /// Reads a hash from hex.
    ///
    /// # Errors
    /// When the string is not 64 lower-case hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_and_node_hashes_carry_their_tags() {
        let mut tagged = vec![0u8];
        tagged.extend_from_slice(b"abc");
        assert_eq!(leaf_hash(b"abc").0, sha256(&tagged));
        let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
        let mut node = vec![1u8];
        node.extend_from_slice(&l.0);
        node.extend_from_slice(&r.0);
        assert_eq!(node_hash(l, r).0, sha256(&node));
    }

    #[test]
    fn hex_round_trips_and_refuses_upper_case() {
        let h = leaf_hash(b"x");
        assert_eq!(from_hex(&to_hex(&h)), Ok(h));
        assert!(from_hex(&to_hex(&h).to_uppercase()).is_err());
        assert!(from_hex("00").is_err());
    }
}
