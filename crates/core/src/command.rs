//! Commands and signed commands: what an actor asks the ledger to do, signed with its own key.
//!
//! The signature covers the whole command except the `signature` field itself:
//!
//! ```text
//! signature = Ed25519(secret, "deedlog/command/v1\n" || canonical_bytes(command without "signature"))
//! ```
//!
//! The public key travels in the command (`key`), so anyone can check a signature from the entry
//! alone; whether that key belongs to the `actor` (registered, not rotated away, not revoked) is a
//! rule of the domain and is checked when the log is replayed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{self, CanonicalError};
use crate::keys::{self, KeyError, PublicKey, SecretKey};
use crate::limits::{NAME_BYTES_MAX, NONCE_CHARS_MAX, NONCE_CHARS_MIN, PAYLOAD_BYTES_MAX};

/// The domain tag of command signatures.
pub const COMMAND_DOMAIN: &[u8] = b"deedlog/command/v1\n";

/// Why a command was refused before any rule of the domain was consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A name field (actor, kind, stream) is empty, too long or uses characters outside
    /// `[A-Za-z0-9._:/-]`.
    #[error("field `{field}` must be 1 to {NAME_BYTES_MAX} characters of [A-Za-z0-9._:/-]")]
    BadName {
        /// The field.
        field: &'static str,
    },
    /// The nonce is not 8 to 64 characters of `[A-Za-z0-9_-]`.
    #[error("nonce must be {NONCE_CHARS_MIN} to {NONCE_CHARS_MAX} characters of [A-Za-z0-9_-]")]
    BadNonce,
    /// `issued_at_ms` is negative.
    #[error("issued_at_ms must not be negative")]
    BadIssuedAt,
    /// The payload is not an object.
    #[error("payload must be a JSON object")]
    PayloadNotObject,
    /// The payload is larger than [`PAYLOAD_BYTES_MAX`].
    #[error("payload is {got} bytes; at most {PAYLOAD_BYTES_MAX} are allowed")]
    PayloadTooLarge {
        /// Canonical size of the payload.
        got: usize,
    },
    /// The payload is not representable canonically (floats, huge integers, deep nesting).
    #[error("payload: {0}")]
    Payload(CanonicalError),
    /// The public key is unusable.
    #[error("key: {0}")]
    Key(KeyError),
    /// The signature is malformed or does not verify.
    #[error("signature: {0}")]
    Signature(KeyError),
}

/// The message serde reports for `"expected_version": null`.
pub const NULL_VERSION_MESSAGE: &str = "expected_version must be a non-negative integer when \
     present; leave the field out for no version check (null is refused, because the signature \
     covers the fields as decoded and an absent field is not signed)";

/// Decodes a present `expected_version`, refusing `null`.
///
/// The signature covers the canonical bytes of the decoded fields, where an absent version is
/// left out. Reading `null` as absent would make a client that signed bytes holding
/// `"expected_version":null` fail with a bad signature it cannot explain; keeping `null` would
/// give one command two encodings. Refusing it leaves one encoding and a clear error.
///
/// # Errors
/// [`NULL_VERSION_MESSAGE`] for `null`, serde's own for anything but a `u64`.
pub fn present_version<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match Option::<u64>::deserialize(deserializer)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(NULL_VERSION_MESSAGE)),
    }
}

/// A command before it is signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Who acts, e.g. `party/PA-3F2A…` or `authority/housing`.
    pub actor: String,
    /// The actor's Ed25519 public key, standard base64.
    pub key: String,
    /// The command kind, e.g. `listing.publish`.
    pub kind: String,
    /// The stream (aggregate) the command is about, e.g. `listing/LS-…`.
    pub stream: String,
    /// Optimistic concurrency: when present, the command applies only if the stream's current
    /// version equals this (0 = the stream does not exist yet). Absent means no check; an
    /// explicit `null` is refused when decoding (see [`present_version`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_version"
    )]
    pub expected_version: Option<u64>,
    /// The command's data; a JSON object.
    pub payload: Value,
    /// Unique per actor; a repeated `(actor, nonce)` returns the first result.
    pub nonce: String,
    /// When the actor signed, in ms since the Unix epoch (the server bounds the skew).
    pub issued_at_ms: i64,
}

/// A command with its signature, exactly as the actor sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCommand {
    /// See [`Command::actor`].
    pub actor: String,
    /// See [`Command::key`].
    pub key: String,
    /// See [`Command::kind`].
    pub kind: String,
    /// See [`Command::stream`].
    pub stream: String,
    /// See [`Command::expected_version`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_version"
    )]
    pub expected_version: Option<u64>,
    /// See [`Command::payload`].
    pub payload: Value,
    /// See [`Command::nonce`].
    pub nonce: String,
    /// See [`Command::issued_at_ms`].
    pub issued_at_ms: i64,
    /// Ed25519 signature, standard base64, over [`COMMAND_DOMAIN`] and the canonical bytes of
    /// every other field.
    pub signature: String,
}

/// A signed command whose fields are well-formed, with the exact message its signature covers.
/// Produced by [`SignedCommand::prepare`]; the signature itself is checked by
/// [`Prepared::verify`], the one signature rule every verifier of commands uses.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The parsed public key.
    pub key: PublicKey,
    /// The parsed signature.
    pub signature: [u8; 64],
    /// `canonical_bytes(command without signature)` (without the domain tag).
    pub message: Vec<u8>,
}

impl Prepared {
    /// Checks the signature by the signature rule ([`PublicKey::verify`]: `verify_strict`; see
    /// [`crate::keys`]).
    ///
    /// # Errors
    /// [`CommandError::Signature`].
    pub fn verify(&self) -> Result<(), CommandError> {
        self.key
            .verify(COMMAND_DOMAIN, &self.message, &self.signature)
            .map_err(CommandError::Signature)
    }
}

fn check_shape(
    actor: &str,
    kind: &str,
    stream: &str,
    nonce: &str,
    issued_at_ms: i64,
    payload: &Value,
) -> Result<(), CommandError> {
    check_name("actor", actor)?;
    check_name("kind", kind)?;
    check_name("stream", stream)?;
    let n = nonce.len();
    if !(NONCE_CHARS_MIN..=NONCE_CHARS_MAX).contains(&n)
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(CommandError::BadNonce);
    }
    if issued_at_ms < 0 {
        return Err(CommandError::BadIssuedAt);
    }
    if !payload.is_object() {
        return Err(CommandError::PayloadNotObject);
    }
    Ok(())
}

fn check_name(field: &'static str, value: &str) -> Result<(), CommandError> {
    let ok = !value.is_empty()
        && value.len() <= NAME_BYTES_MAX
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CommandError::BadName { field })
    }
}

/// Borrowed command fields, for writing canonical bytes without copying.
struct Fields<'a> {
    actor: &'a str,
    key: &'a str,
    kind: &'a str,
    stream: &'a str,
    expected_version: Option<u64>,
    payload: &'a Value,
    nonce: &'a str,
    issued_at_ms: i64,
}

/// Writes the canonical object of a command (with `signature` when given); returns the canonical
/// size of the payload. Keys in sorted order: actor, expected_version, issued_at_ms, key, kind,
/// nonce, payload, signature, stream.
fn write_command(
    f: Fields<'_>,
    signature: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<usize, CommandError> {
    let mut w = canonical::ObjectWriter::new(out);
    canonical::write_string(f.actor, w.key("actor"));
    if let Some(v) = f.expected_version {
        canonical::write_integer(i128::from(v), "expected_version", w.key("expected_version"))
            .map_err(CommandError::Payload)?;
    }
    canonical::write_integer(
        i128::from(f.issued_at_ms),
        "issued_at_ms",
        w.key("issued_at_ms"),
    )
    .map_err(CommandError::Payload)?;
    canonical::write_string(f.key, w.key("key"));
    canonical::write_string(f.kind, w.key("kind"));
    canonical::write_string(f.nonce, w.key("nonce"));
    let buf = w.key("payload");
    let start = buf.len();
    canonical::encode_into(f.payload, buf).map_err(CommandError::Payload)?;
    let payload_len = buf.len() - start;
    if let Some(sig) = signature {
        canonical::write_string(sig, w.key("signature"));
    }
    canonical::write_string(f.stream, w.key("stream"));
    w.finish();
    Ok(payload_len)
}

impl Command {
    /// Checks every field's shape (not the domain rules).
    ///
    /// # Errors
    /// The first malformed field.
    pub fn check(&self) -> Result<PublicKey, CommandError> {
        check_shape(
            &self.actor,
            &self.kind,
            &self.stream,
            &self.nonce,
            self.issued_at_ms,
            &self.payload,
        )?;
        let size = canonical::encode(&self.payload)
            .map_err(CommandError::Payload)?
            .len();
        if size > PAYLOAD_BYTES_MAX {
            return Err(CommandError::PayloadTooLarge { got: size });
        }
        PublicKey::from_base64(&self.key).map_err(CommandError::Key)
    }

    /// The canonical bytes the signature covers (without the domain tag).
    ///
    /// # Errors
    /// When the payload is not canonically representable.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, CommandError> {
        let mut out = Vec::with_capacity(512);
        write_command(self.fields(), None, &mut out)?;
        Ok(out)
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            actor: &self.actor,
            key: &self.key,
            kind: &self.kind,
            stream: &self.stream,
            expected_version: self.expected_version,
            payload: &self.payload,
            nonce: &self.nonce,
            issued_at_ms: self.issued_at_ms,
        }
    }

    /// Checks the command and signs it.
    ///
    /// # Errors
    /// When a field is malformed, or `secret` is not the key named in `key`.
    pub fn sign(self, secret: &SecretKey) -> Result<SignedCommand, CommandError> {
        let key = self.check()?;
        if key != secret.public() {
            return Err(CommandError::Key(KeyError::BadSignature));
        }
        let signature = secret.sign(COMMAND_DOMAIN, &self.signing_bytes()?);
        Ok(SignedCommand {
            actor: self.actor,
            key: self.key,
            kind: self.kind,
            stream: self.stream,
            expected_version: self.expected_version,
            payload: self.payload,
            nonce: self.nonce,
            issued_at_ms: self.issued_at_ms,
            signature: keys::base64(&signature),
        })
    }
}

impl SignedCommand {
    /// The command without its signature.
    #[must_use]
    pub fn command(&self) -> Command {
        Command {
            actor: self.actor.clone(),
            key: self.key.clone(),
            kind: self.kind.clone(),
            stream: self.stream.clone(),
            expected_version: self.expected_version,
            payload: self.payload.clone(),
            nonce: self.nonce.clone(),
            issued_at_ms: self.issued_at_ms,
        }
    }

    /// Checks every field's shape and extracts the key, signature and signed message, ready for
    /// [`Prepared::verify`].
    ///
    /// # Errors
    /// The first malformed field.
    pub fn prepare(&self) -> Result<Prepared, CommandError> {
        self.prepare_with(PublicKey::from_base64)
    }

    /// As [`SignedCommand::prepare`], parsing the key with `parse_key` (so that a verifier can
    /// cache decompressed keys: decompression costs about a third of a verification).
    ///
    /// # Errors
    /// The first malformed field.
    pub fn prepare_with(
        &self,
        parse_key: impl FnOnce(&str) -> Result<PublicKey, KeyError>,
    ) -> Result<Prepared, CommandError> {
        self.check_names()?;
        let mut message = Vec::with_capacity(512);
        let payload_len = write_command(self.fields(), None, &mut message)?;
        if payload_len > PAYLOAD_BYTES_MAX {
            return Err(CommandError::PayloadTooLarge { got: payload_len });
        }
        let key = parse_key(&self.key).map_err(CommandError::Key)?;
        let signature =
            keys::signature_from_base64(&self.signature).map_err(CommandError::Signature)?;
        Ok(Prepared {
            key,
            signature,
            message,
        })
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            actor: &self.actor,
            key: &self.key,
            kind: &self.kind,
            stream: &self.stream,
            expected_version: self.expected_version,
            payload: &self.payload,
            nonce: &self.nonce,
            issued_at_ms: self.issued_at_ms,
        }
    }

    /// Every field's shape but the payload's size and the key (see [`Command::check`]).
    fn check_names(&self) -> Result<(), CommandError> {
        check_shape(
            &self.actor,
            &self.kind,
            &self.stream,
            &self.nonce,
            self.issued_at_ms,
            &self.payload,
        )
    }

    /// Writes the canonical bytes of the signed command (signature included) into `out`.
    ///
    /// # Errors
    /// When the payload is not canonically representable.
    pub fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        write_command(self.fields(), Some(&self.signature), out).map(|_| ())
    }

    /// [`SignedCommand::prepare`] then [`Prepared::verify`].
    ///
    /// # Errors
    /// A malformed field or a signature that does not verify.
    pub fn verify(&self) -> Result<Prepared, CommandError> {
        let prepared = self.prepare()?;
        prepared.verify()?;
        Ok(prepared)
    }

    /// The public key's short id (see [`PublicKey::key_id`]), or `"?"` if the key is malformed.
    #[must_use]
    pub fn key_id(&self) -> String {
        PublicKey::from_base64(&self.key).map_or_else(|_| "?".to_owned(), |k| k.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(secret: &SecretKey) -> Command {
        Command {
            actor: "party/PA-1".into(),
            key: secret.public().to_base64(),
            kind: "test.note".into(),
            stream: "test/T-1".into(),
            expected_version: Some(0),
            payload: json!({"text": "你好", "n": 1}),
            nonce: "nonce-0001".into(),
            issued_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn signs_and_verifies() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let signed = command(&secret).sign(&secret).unwrap();
        assert!(signed.verify().is_ok());
        let mut tampered = signed.clone();
        tampered.payload = json!({"text": "你好", "n": 2});
        assert!(matches!(
            tampered.verify(),
            Err(CommandError::Signature(KeyError::BadSignature))
        ));
    }

    #[test]
    fn refuses_malformed_fields() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let mut c = command(&secret);
        c.nonce = "short".into();
        assert_eq!(c.clone().sign(&secret).unwrap_err(), CommandError::BadNonce);
        let mut c = command(&secret);
        c.stream = "bad stream".into();
        assert!(matches!(
            c.sign(&secret),
            Err(CommandError::BadName { field: "stream" })
        ));
        let mut c = command(&secret);
        c.payload = json!({"price": 1.5});
        assert!(matches!(c.sign(&secret), Err(CommandError::Payload(_))));
        let mut c = command(&secret);
        c.payload = json!([1]);
        assert_eq!(c.sign(&secret).unwrap_err(), CommandError::PayloadNotObject);
        let mut signed = command(&secret).sign(&secret).unwrap();
        signed.signature = keys::base64(&[0; 10]);
        assert!(matches!(
            signed.verify(),
            Err(CommandError::Signature(KeyError::Length {
                expected: 64,
                got: 10
            }))
        ));
    }

    #[test]
    fn fast_canonical_writer_matches_the_generic_encoder() {
        let secret = SecretKey::from_seed(&[1; 32]);
        for expected_version in [None, Some(0), Some(7)] {
            let mut c = command(&secret);
            c.expected_version = expected_version;
            c.payload = json!({"z": [1, -2, {"b": "\u{1}\"", "a": null}], "é": true});
            assert_eq!(c.signing_bytes().unwrap(), canonical::to_vec(&c).unwrap());
            let signed = c.sign(&secret).unwrap();
            let mut fast = Vec::new();
            signed.write_canonical(&mut fast).unwrap();
            assert_eq!(fast, canonical::to_vec(&signed).unwrap());
        }
    }

    #[test]
    fn an_explicit_null_expected_version_is_refused_and_absent_means_no_check() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let mut c = command(&secret);
        c.expected_version = None;
        let signed = c.sign(&secret).unwrap();
        let mut v = serde_json::to_value(&signed).unwrap();
        assert!(v.get("expected_version").is_none(), "absent is left out");
        let back: SignedCommand = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back.expected_version, None);
        assert!(back.verify().is_ok());
        v["expected_version"] = Value::Null;
        let e = serde_json::from_value::<SignedCommand>(v.clone()).unwrap_err();
        assert!(e.to_string().contains(NULL_VERSION_MESSAGE), "{e}");
        let mut unsigned = v.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        let e = serde_json::from_value::<Command>(unsigned).unwrap_err();
        assert!(e.to_string().contains(NULL_VERSION_MESSAGE), "{e}");
        v["expected_version"] = json!(-1);
        assert!(serde_json::from_value::<SignedCommand>(v.clone()).is_err());
        v["expected_version"] = json!(0);
        assert_eq!(
            serde_json::from_value::<SignedCommand>(v)
                .unwrap()
                .expected_version,
            Some(0)
        );
    }

    #[test]
    fn refuses_unknown_fields() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let mut v = serde_json::to_value(command(&secret).sign(&secret).unwrap()).unwrap();
        v["extra"] = json!(1);
        assert!(serde_json::from_value::<SignedCommand>(v).is_err());
    }
}
