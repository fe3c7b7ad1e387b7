//! The entry: the unit of the log.
//!
//! An entry holds what the actor signed, verbatim, and what the server added. Its canonical
//! bytes (see [`crate::canonical`]) are what is stored, hashed and exported:
//!
//! ```text
//! leaf_hash(entry) = SHA-256(0x00 || canonical_bytes(entry))
//! entry[seq].prev_hash = leaf_hash(entry[seq - 1]), and 32 zero bytes for seq 0
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{self, CanonicalError};
use crate::command::{CommandError, SignedCommand};
use crate::hash::{self, Hash, serde_hex};
use crate::limits::ENTRY_BYTES_MAX;

/// Why bytes are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Larger than [`ENTRY_BYTES_MAX`].
    #[error("entry is {got} bytes; at most {ENTRY_BYTES_MAX} are allowed")]
    TooLarge {
        /// The size found.
        got: usize,
    },
    /// Not canonical JSON.
    #[error("entry bytes: {0}")]
    Canonical(#[from] CanonicalError),
    /// Canonical JSON, but not the shape of an entry (missing or unknown fields, wrong types).
    #[error("entry shape: {0}")]
    Shape(String),
    /// The signed command inside is malformed.
    #[error("signed command: {0}")]
    Command(#[from] CommandError),
    /// A name field or `derived` is malformed.
    #[error("entry field `{0}` is malformed")]
    Field(&'static str),
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the global log, from 0.
    pub seq: u64,
    /// Server clock when the entry was sequenced, ms since the Unix epoch.
    pub recorded_at_ms: i64,
    /// Leaf hash of the entry at `seq - 1`; all zero for seq 0.
    #[serde(with = "serde_hex")]
    pub prev_hash: Hash,
    /// The aggregate this entry belongs to, e.g. `listing/LS-…`.
    pub stream: String,
    /// The entry's position in its stream, from 1.
    pub stream_version: u64,
    /// The event kind, e.g. `ListingPublished`.
    pub kind: String,
    /// The command as the actor signed it.
    pub signed: SignedCommand,
    /// What the server computed (codes, ids); a JSON object, `{}` when nothing.
    pub derived: Value,
}

impl Entry {
    /// The canonical bytes of the entry.
    ///
    /// # Errors
    /// When a value is not canonically representable or the result is too large.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        if !self.derived.is_object() {
            return Err(EntryError::Field("derived"));
        }
        // Keys in sorted order: derived, kind, prev_hash, recorded_at_ms, seq, signed, stream,
        // stream_version. Written directly (no intermediate Value); a test checks this against
        // the generic encoder.
        let mut bytes = Vec::with_capacity(768);
        let mut w = canonical::ObjectWriter::new(&mut bytes);
        canonical::encode_into(&self.derived, w.key("derived"))?;
        canonical::write_string(&self.kind, w.key("kind"));
        canonical::write_string(&hash::to_hex(&self.prev_hash), w.key("prev_hash"));
        canonical::write_integer(
            i128::from(self.recorded_at_ms),
            "recorded_at_ms",
            w.key("recorded_at_ms"),
        )?;
        canonical::write_integer(i128::from(self.seq), "seq", w.key("seq"))?;
        self.signed.write_canonical(w.key("signed"))?;
        canonical::write_string(&self.stream, w.key("stream"));
        canonical::write_integer(
            i128::from(self.stream_version),
            "stream_version",
            w.key("stream_version"),
        )?;
        w.finish();
        if bytes.len() > ENTRY_BYTES_MAX {
            return Err(EntryError::TooLarge { got: bytes.len() });
        }
        Ok(bytes)
    }

    /// Parses stored bytes: they must be canonical and have the entry's exact shape. The
    /// signature inside is **not** checked here (see [`SignedCommand::verify`]), so that a
    /// verifier can report a bad signature as such.
    ///
    /// # Errors
    /// [`EntryError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > ENTRY_BYTES_MAX {
            return Err(EntryError::TooLarge { got: bytes.len() });
        }
        let value = canonical::decode(bytes)?;
        let entry: Entry =
            serde_json::from_value(value).map_err(|e| EntryError::Shape(e.to_string()))?;
        if !entry.derived.is_object() {
            return Err(EntryError::Field("derived"));
        }
        Ok(entry)
    }

    /// The leaf hash of stored entry bytes.
    #[must_use]
    pub fn leaf_hash(bytes: &[u8]) -> Hash {
        hash::leaf_hash(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::keys::SecretKey;
    use serde_json::json;

    pub(crate) fn sample() -> Entry {
        let secret = SecretKey::from_seed(&[3; 32]);
        let signed = Command {
            actor: "party/PA-1".into(),
            key: secret.public().to_base64(),
            kind: "test.note".into(),
            stream: "test/T-1".into(),
            expected_version: None,
            payload: json!({"text": "x"}),
            nonce: "nonce-0001".into(),
            issued_at_ms: 5,
        }
        .sign(&secret)
        .unwrap();
        Entry {
            seq: 0,
            recorded_at_ms: 6,
            prev_hash: hash::ZERO_HASH,
            stream: "test/T-1".into(),
            stream_version: 1,
            kind: "NoteAdded".into(),
            signed,
            derived: json!({}),
        }
    }

    #[test]
    fn round_trips_exact_bytes() {
        let bytes = sample().encode().unwrap();
        assert_eq!(bytes, canonical::to_vec(&sample()).unwrap());
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, sample());
        assert_eq!(back.encode().unwrap(), bytes);
        assert!(back.signed.verify().is_ok());
    }

    #[test]
    fn refuses_unknown_fields_and_non_canonical_bytes() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["extra"] = json!(1);
        let bytes = canonical::encode(&v).unwrap();
        assert!(matches!(Entry::decode(&bytes), Err(EntryError::Shape(_))));
        let pretty = serde_json::to_vec_pretty(&sample()).unwrap();
        assert!(matches!(
            Entry::decode(&pretty),
            Err(EntryError::Canonical(CanonicalError::NotCanonical { .. }))
        ));
    }
}
