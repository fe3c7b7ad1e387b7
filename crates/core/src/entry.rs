//! The entry: the unit of the log.
//!
//! An entry holds what the actor signed and what the server added. Its canonical bytes (see
//! [`crate::canonical`]) are what is hashed, and what everyone may read:
//!
//! ```text
//! leaf_hash(entry) = SHA-256(0x00 || canonical_bytes(entry))
//! entry[seq].prev_hash = leaf_hash(entry[seq - 1]), and 32 zero bytes for seq 0
//! ```
//!
//! A version-2 entry (`"format":2`) holds the command sealed: its payload is replaced by a
//! salted digest, and the payload with its salt (the *opening*) travels beside the entry, shown
//! only to those allowed to read it. The entry still verifies end to end without it. A
//! version-1 entry (no `format` field, written before version 2) holds the payload in clear.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{self, CanonicalError};
use crate::command::{CommandError, SealedCommand, SignedCommand};
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
    /// A version-2 entry was asked for whole but its opening is not at hand.
    #[error("entry {seq} is sealed and its opening (payload and salt) is not available")]
    Sealed {
        /// The entry's seq.
        seq: u64,
    },
    /// The opening given does not belong to the entry.
    #[error("entry {seq}: {source}")]
    Opening {
        /// The entry's seq.
        seq: u64,
        /// What is wrong.
        source: CommandError,
    },
}

/// The format version a version-2 entry names in its `format` field.
pub const ENTRY_FORMAT_V2: u64 = 2;

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
        self.encode_record().map(|(bytes, _)| bytes)
    }

    /// The entry's canonical bytes and, for version 2, its opening's (payload and salt).
    ///
    /// # Errors
    /// When a value is not canonically representable or the result is too large.
    pub fn encode_record(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), EntryError> {
        if !self.derived.is_object() {
            return Err(EntryError::Field("derived"));
        }
        if self.signed.payload_salt.is_some() {
            let (sealed, opening) = self.signed.seal()?;
            return self.encode_sealed(&sealed, opening);
        }
        self.encode_v1()
    }

    /// As [`Entry::encode_record`] for a version-2 entry whose opening and payload digest were
    /// already computed from its command ([`crate::command::Prepared::sealed`]): the sequencer's
    /// verify pool builds them for the signature check, so the hot path does not hash the
    /// payload twice. They must be this entry's command's; nothing here recomputes them.
    ///
    /// # Errors
    /// As [`Entry::encode_record`].
    pub fn encode_record_prepared(
        &self,
        sealed: Option<(Vec<u8>, String)>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), EntryError> {
        match sealed {
            Some((opening, digest)) if self.signed.payload_salt.is_some() => {
                if !self.derived.is_object() {
                    return Err(EntryError::Field("derived"));
                }
                self.encode_sealed(&self.signed.seal_with(digest), opening)
            }
            _ => self.encode_record(),
        }
    }

    fn encode_sealed(
        &self,
        sealed: &SealedCommand,
        opening: Vec<u8>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), EntryError> {
        let bytes = self.encode_v2(sealed)?;
        if bytes.len() + opening.len() > ENTRY_BYTES_MAX {
            return Err(EntryError::TooLarge {
                got: bytes.len() + opening.len(),
            });
        }
        Ok((bytes, Some(opening)))
    }

    /// Version 1: the payload in clear.
    fn encode_v1(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), EntryError> {
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
        Ok((bytes, None))
    }

    /// The stored record: the entry's bytes and, for version 2, a line feed and its opening
    /// (see [`join_record`]).
    ///
    /// # Errors
    /// As [`Entry::encode_record`].
    pub fn encode_stored(&self) -> Result<Vec<u8>, EntryError> {
        let (bytes, opening) = self.encode_record()?;
        Ok(join_record(&bytes, opening.as_deref()))
    }

    /// Version 2: keys derived, format, kind, prev_hash, recorded_at_ms, seq, signed (sealed),
    /// stream, stream_version.
    fn encode_v2(&self, sealed: &SealedCommand) -> Result<Vec<u8>, EntryError> {
        let mut bytes = Vec::with_capacity(640);
        let mut w = canonical::ObjectWriter::new(&mut bytes);
        canonical::encode_into(&self.derived, w.key("derived"))?;
        canonical::write_integer(i128::from(ENTRY_FORMAT_V2), "format", w.key("format"))?;
        canonical::write_string(&self.kind, w.key("kind"));
        canonical::write_string(&hash::to_hex(&self.prev_hash), w.key("prev_hash"));
        canonical::write_integer(
            i128::from(self.recorded_at_ms),
            "recorded_at_ms",
            w.key("recorded_at_ms"),
        )?;
        canonical::write_integer(i128::from(self.seq), "seq", w.key("seq"))?;
        sealed.write_canonical(w.key("signed"))?;
        canonical::write_string(&self.stream, w.key("stream"));
        canonical::write_integer(
            i128::from(self.stream_version),
            "stream_version",
            w.key("stream_version"),
        )?;
        w.finish();
        Ok(bytes)
    }

    /// Parses the bytes of a version-1 entry (see [`Entry::decode_with`] for both versions). A
    /// version-2 entry gives [`EntryError::Sealed`]: its payload is not in these bytes.
    ///
    /// # Errors
    /// [`EntryError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        Self::decode_with(bytes, None)
    }

    /// Parses entry bytes and, for a version-2 entry, joins its opening, checking that it hashes
    /// to the signed digest. The signature is **not** checked here (see
    /// [`SignedCommand::verify`]), so that a verifier can report a bad signature as such.
    ///
    /// # Errors
    /// [`EntryError`] naming what is wrong; [`EntryError::Sealed`] for a version-2 entry without
    /// an opening; an opening given with a version-1 entry is refused as a shape error.
    pub fn decode_with(bytes: &[u8], opening: Option<&[u8]>) -> Result<Self, EntryError> {
        let logged = LoggedEntry::decode(bytes)?;
        logged.open(opening)
    }

    /// The entry's format version: 2 when sealed, 1 for the old format.
    #[must_use]
    pub fn version(&self) -> u8 {
        self.signed.version()
    }

    /// The leaf hash of stored entry bytes.
    #[must_use]
    pub fn leaf_hash(bytes: &[u8]) -> Hash {
        hash::leaf_hash(bytes)
    }
}

/// The command inside an entry, as the bytes hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Logged {
    /// Version 1: the payload in clear.
    Clear(SignedCommand),
    /// Version 2: the payload as its digest.
    Sealed(SealedCommand),
}

/// An entry as its bytes alone show it: what everyone can read and verify (signature, chain,
/// inclusion), without the opening of a sealed payload.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEntry {
    /// See [`Entry::seq`].
    pub seq: u64,
    /// See [`Entry::recorded_at_ms`].
    pub recorded_at_ms: i64,
    /// See [`Entry::prev_hash`].
    pub prev_hash: Hash,
    /// See [`Entry::stream`].
    pub stream: String,
    /// See [`Entry::stream_version`].
    pub stream_version: u64,
    /// See [`Entry::kind`].
    pub kind: String,
    /// The command, clear or sealed.
    pub signed: Logged,
    /// See [`Entry::derived`].
    pub derived: Value,
}

/// The serde shape of a version-2 entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireV2 {
    derived: Value,
    format: u64,
    kind: String,
    #[serde(with = "serde_hex")]
    prev_hash: Hash,
    recorded_at_ms: i64,
    seq: u64,
    signed: SealedCommand,
    stream: String,
    stream_version: u64,
}

impl LoggedEntry {
    /// Parses entry bytes of either version: they must be canonical and have the entry's exact
    /// shape. The signature is not checked (see [`LoggedEntry::verify_signature`]).
    ///
    /// # Errors
    /// [`EntryError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > ENTRY_BYTES_MAX {
            return Err(EntryError::TooLarge { got: bytes.len() });
        }
        let value = canonical::decode(bytes)?;
        let logged = if value.get("format").is_some() {
            let w: WireV2 =
                serde_json::from_value(value).map_err(|e| EntryError::Shape(e.to_string()))?;
            if w.format != ENTRY_FORMAT_V2 {
                return Err(EntryError::Shape(format!(
                    "format {} is not known (this reader knows 2, and 1 without the field)",
                    w.format
                )));
            }
            Self {
                seq: w.seq,
                recorded_at_ms: w.recorded_at_ms,
                prev_hash: w.prev_hash,
                stream: w.stream,
                stream_version: w.stream_version,
                kind: w.kind,
                signed: Logged::Sealed(w.signed),
                derived: w.derived,
            }
        } else {
            let e: Entry =
                serde_json::from_value(value).map_err(|e| EntryError::Shape(e.to_string()))?;
            if e.signed.payload_salt.is_some() {
                return Err(EntryError::Shape(
                    "a version-1 entry holds no payload_salt".into(),
                ));
            }
            Self {
                seq: e.seq,
                recorded_at_ms: e.recorded_at_ms,
                prev_hash: e.prev_hash,
                stream: e.stream,
                stream_version: e.stream_version,
                kind: e.kind,
                signed: Logged::Clear(e.signed),
                derived: e.derived,
            }
        };
        if !logged.derived.is_object() {
            return Err(EntryError::Field("derived"));
        }
        Ok(logged)
    }

    /// The format version: 2 when sealed, 1 for the old format.
    #[must_use]
    pub fn version(&self) -> u8 {
        match self.signed {
            Logged::Clear(_) => 1,
            Logged::Sealed(_) => 2,
        }
    }

    /// Checks the command's signature by the one signature rule.
    ///
    /// # Errors
    /// A malformed command or key, or a signature that does not verify.
    pub fn verify_signature(&self) -> Result<(), CommandError> {
        match &self.signed {
            Logged::Clear(c) => c.verify().map(|_| ()),
            Logged::Sealed(c) => c.verify().map(|_| ()),
        }
    }

    /// The signer's actor id.
    #[must_use]
    pub fn actor(&self) -> &str {
        match &self.signed {
            Logged::Clear(c) => &c.actor,
            Logged::Sealed(c) => &c.actor,
        }
    }

    /// The signing key's short id, or `"?"` if the key is malformed.
    #[must_use]
    pub fn key_id(&self) -> String {
        match &self.signed {
            Logged::Clear(c) => c.key_id(),
            Logged::Sealed(c) => c.key_id(),
        }
    }

    /// The command's nonce.
    #[must_use]
    pub fn nonce(&self) -> &str {
        match &self.signed {
            Logged::Clear(c) => &c.nonce,
            Logged::Sealed(c) => &c.nonce,
        }
    }

    /// The command kind (e.g. `loan.request`).
    #[must_use]
    pub fn command_kind(&self) -> &str {
        match &self.signed {
            Logged::Clear(c) => &c.kind,
            Logged::Sealed(c) => &c.kind,
        }
    }

    /// The signed command's stream.
    #[must_use]
    pub fn command_stream(&self) -> &str {
        match &self.signed {
            Logged::Clear(c) => &c.stream,
            Logged::Sealed(c) => &c.stream,
        }
    }

    /// The payload, when these bytes hold it (version 1).
    #[must_use]
    pub fn clear_payload(&self) -> Option<&Value> {
        match &self.signed {
            Logged::Clear(c) => Some(&c.payload),
            Logged::Sealed(_) => None,
        }
    }

    /// The whole entry: a version-1 entry as it is (no opening allowed), a version-2 entry
    /// joined with its opening, checked against the signed digest.
    ///
    /// # Errors
    /// [`EntryError::Sealed`] without the opening, [`EntryError::Opening`] for a wrong one.
    pub fn open(self, opening: Option<&[u8]>) -> Result<Entry, EntryError> {
        let signed = match (self.signed, opening) {
            (Logged::Clear(c), None) => c,
            (Logged::Clear(_), Some(_)) => {
                return Err(EntryError::Shape(
                    "a version-1 entry has no opening: its payload is in the entry".into(),
                ));
            }
            (Logged::Sealed(_), None) => return Err(EntryError::Sealed { seq: self.seq }),
            (Logged::Sealed(c), Some(o)) => c.open(o).map_err(|source| EntryError::Opening {
                seq: self.seq,
                source,
            })?,
        };
        Ok(Entry {
            seq: self.seq,
            recorded_at_ms: self.recorded_at_ms,
            prev_hash: self.prev_hash,
            stream: self.stream,
            stream_version: self.stream_version,
            kind: self.kind,
            signed,
            derived: self.derived,
        })
    }
}

/// A stored record of an entry: its bytes, then, for a version-2 entry, a line feed and its
/// opening. Canonical JSON holds no raw line feed, so the first one splits the two.
#[must_use]
pub fn join_record(entry: &[u8], opening: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.len() + opening.map_or(0, |o| o.len() + 1));
    out.extend_from_slice(entry);
    if let Some(o) = opening {
        out.push(b'\n');
        out.extend_from_slice(o);
    }
    out
}

/// Splits a stored record (see [`join_record`]) into the entry bytes and the opening, if any.
#[must_use]
pub fn split_record(record: &[u8]) -> (&[u8], Option<&[u8]>) {
    match record.iter().position(|&b| b == b'\n') {
        Some(i) => (&record[..i], Some(&record[i + 1..])),
        None => (record, None),
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

    fn sample_v1() -> Entry {
        let secret = SecretKey::from_seed(&[3; 32]);
        let mut e = sample();
        e.signed = e.signed.command().sign_v1(&secret).unwrap();
        e
    }

    #[test]
    fn round_trips_exact_bytes() {
        let bytes = sample_v1().encode().unwrap();
        assert_eq!(bytes, canonical::to_vec(&sample_v1()).unwrap());
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, sample_v1());
        assert_eq!(back.encode().unwrap(), bytes);
        assert!(back.signed.verify().is_ok());
        assert_eq!(back.version(), 1);
    }

    #[test]
    fn version_two_round_trips_and_verifies_without_its_opening() {
        let e = sample();
        let (bytes, opening) = e.encode_record().unwrap();
        let opening = opening.unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("{\"derived\":{},\"format\":2,"), "{text}");
        assert!(
            !text.contains("\"payload\""),
            "the payload is not in the entry: {text}"
        );
        assert!(text.contains("\"payload_digest\""));
        let logged = LoggedEntry::decode(&bytes).unwrap();
        assert_eq!(logged.version(), 2);
        assert!(logged.verify_signature().is_ok());
        assert_eq!(logged.clear_payload(), None);
        assert!(matches!(
            Entry::decode(&bytes),
            Err(EntryError::Sealed { seq: 0 })
        ));
        let whole = Entry::decode_with(&bytes, Some(&opening)).unwrap();
        assert_eq!(whole, e);
        // The stored record splits back into the two parts.
        let record = join_record(&bytes, Some(&opening));
        assert_eq!(split_record(&record), (&bytes[..], Some(&opening[..])));
        assert_eq!(split_record(&bytes), (&bytes[..], None));
        // A wrong opening is refused; so is an opening for a version-1 entry.
        let other = crate::command::opening_bytes(
            &json!({"text": "y"}),
            e.signed.payload_salt.as_deref().unwrap(),
        )
        .unwrap()
        .0;
        assert!(matches!(
            Entry::decode_with(&bytes, Some(&other)),
            Err(EntryError::Opening { seq: 0, .. })
        ));
        let v1 = sample_v1().encode().unwrap();
        assert!(matches!(
            Entry::decode_with(&v1, Some(&opening)),
            Err(EntryError::Shape(_))
        ));
        // Another format number, or a version-1 shape carrying a salt, is refused.
        let mut v: Value = canonical::decode(&bytes).unwrap();
        v["format"] = json!(3);
        assert!(matches!(
            LoggedEntry::decode(&canonical::encode(&v).unwrap()),
            Err(EntryError::Shape(_))
        ));
        let mut v: Value = canonical::decode(&v1).unwrap();
        v["signed"]["payload_salt"] = json!(e.signed.payload_salt);
        assert!(matches!(
            LoggedEntry::decode(&canonical::encode(&v).unwrap()),
            Err(EntryError::Shape(_))
        ));
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
