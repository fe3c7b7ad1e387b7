//! Commands and signed commands: what an actor asks the ledger to do, signed with its own key.
//!
//! Two versions exist. Version 2, the one every new command uses, signs the payload through a
//! salted digest, so that an entry can be shown without its payload and still verify:
//!
//! ```text
//! opening        = canonical_bytes({"payload": payload, "salt": base64(16 bytes)})
//! payload_digest = hex(SHA-256("deedlog/payload/v1\n" || opening))
//! signature      = Ed25519(secret, "deedlog/command/v2\n" || canonical_bytes(command with
//!                  payload_digest in place of payload and payload_salt, without "signature"))
//! ```
//!
//! Version 1 (entries written before version 2; read forever, never accepted again) signed the
//! payload in clear: `"deedlog/command/v1\n" || canonical_bytes(command without "signature")`.
//!
//! The public key travels in the command (`key`), so anyone can check a signature from the entry
//! alone; whether that key belongs to the `actor` (registered, not rotated away, not revoked) is a
//! rule of the domain and is checked when the log is replayed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{self, CanonicalError};
use crate::keys::{self, KeyError, PublicKey, SecretKey};
use crate::limits::{NAME_BYTES_MAX, NONCE_CHARS_MAX, NONCE_CHARS_MIN, PAYLOAD_BYTES_MAX};

/// The domain tag of version-1 command signatures (payload signed in clear).
pub const COMMAND_DOMAIN: &[u8] = b"deedlog/command/v1\n";
/// The domain tag of version-2 command signatures (payload signed through its digest).
pub const COMMAND_DOMAIN_V2: &[u8] = b"deedlog/command/v2\n";
/// The domain tag of payload digests.
pub const PAYLOAD_DOMAIN: &[u8] = b"deedlog/payload/v1\n";
/// The domain tag of salts derived from a secret key (see [`Command::sign`]).
pub const SALT_DOMAIN: &[u8] = b"deedlog/salt/v1\n";
/// The size of a payload salt, in bytes.
pub const SALT_BYTES: usize = 16;

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
    /// `payload_salt` is not standard base64 of exactly 16 bytes.
    #[error("payload_salt must be standard base64 (with padding) of exactly {SALT_BYTES} bytes")]
    BadSalt,
    /// `payload_digest` is not 64 lower-case hex digits.
    #[error("payload_digest must be 64 lower-case hex digits")]
    BadDigest,
    /// The opening's digest is not the one the command signed.
    #[error("the payload and salt shown do not hash to the signed payload_digest")]
    OpeningMismatch,
    /// The opening is not the canonical `{"payload", "salt"}` object.
    #[error("opening: {0}")]
    Opening(String),
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
    /// The payload's salt, standard base64 of 16 bytes: present in every version-2 command
    /// (absent only in version-1 commands of old entries). It keeps the payload digest from
    /// being guessed by trying likely payloads (an amount, a verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_salt: Option<String>,
    /// See [`Command::nonce`].
    pub nonce: String,
    /// See [`Command::issued_at_ms`].
    pub issued_at_ms: i64,
    /// Ed25519 signature, standard base64: version 2 over [`COMMAND_DOMAIN_V2`] and the
    /// canonical bytes of the sealed command without its signature; version 1 over
    /// [`COMMAND_DOMAIN`] and the canonical bytes of every other field.
    pub signature: String,
}

/// A version-2 command as the log stores and shows it: the payload replaced by its digest.
/// Its signature verifies without the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedCommand {
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
    /// `hex(SHA-256("deedlog/payload/v1\n" || opening))`, see [`payload_digest`].
    pub payload_digest: String,
    /// See [`Command::nonce`].
    pub nonce: String,
    /// See [`Command::issued_at_ms`].
    pub issued_at_ms: i64,
    /// See [`SignedCommand::signature`].
    pub signature: String,
}

/// The payload and salt of a version-2 command: what a redacted entry leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The payload.
    pub payload: Value,
    /// Its salt, standard base64 of 16 bytes.
    pub salt: String,
}

impl Opening {
    /// The canonical bytes `{"payload":…,"salt":…}`.
    ///
    /// # Errors
    /// A payload that is not a canonical object, a bad salt, or one too large.
    pub fn encode(&self) -> Result<Vec<u8>, CommandError> {
        opening_bytes(&self.payload, &self.salt).map(|(bytes, _)| bytes)
    }

    /// Parses canonical opening bytes.
    ///
    /// # Errors
    /// [`CommandError::Opening`] for bytes that are not the canonical opening object.
    pub fn decode(bytes: &[u8]) -> Result<Self, CommandError> {
        if bytes.len() > OPENING_BYTES_MAX {
            return Err(CommandError::Opening(format!(
                "{} bytes; at most {OPENING_BYTES_MAX}",
                bytes.len()
            )));
        }
        let value = canonical::decode(bytes).map_err(|e| CommandError::Opening(e.to_string()))?;
        let opening: Opening =
            serde_json::from_value(value).map_err(|e| CommandError::Opening(e.to_string()))?;
        check_salt(&opening.salt)?;
        if !opening.payload.is_object() {
            return Err(CommandError::PayloadNotObject);
        }
        Ok(opening)
    }
}

/// Largest opening: the largest payload, its salt and the object around them.
pub const OPENING_BYTES_MAX: usize = PAYLOAD_BYTES_MAX + 64;

fn check_salt(salt: &str) -> Result<[u8; SALT_BYTES], CommandError> {
    let bytes = keys::from_base64(salt).map_err(|_| CommandError::BadSalt)?;
    <[u8; SALT_BYTES]>::try_from(bytes.as_slice()).map_err(|_| CommandError::BadSalt)
}

/// The canonical opening of `payload` under `salt`, and the payload's canonical size.
///
/// # Errors
/// A payload that is not a canonical object, a bad salt, or a payload too large.
pub fn opening_bytes(payload: &Value, salt: &str) -> Result<(Vec<u8>, usize), CommandError> {
    check_salt(salt)?;
    if !payload.is_object() {
        return Err(CommandError::PayloadNotObject);
    }
    let mut out = Vec::with_capacity(256);
    let mut w = canonical::ObjectWriter::new(&mut out);
    let buf = w.key("payload");
    let start = buf.len();
    canonical::encode_into(payload, buf).map_err(CommandError::Payload)?;
    let payload_len = buf.len() - start;
    if payload_len > PAYLOAD_BYTES_MAX {
        return Err(CommandError::PayloadTooLarge { got: payload_len });
    }
    canonical::write_string(salt, w.key("salt"));
    w.finish();
    Ok((out, payload_len))
}

/// `SHA-256("deedlog/payload/v1\n" || opening)`: what a version-2 signature covers in place of
/// the payload.
#[must_use]
pub fn payload_digest(opening: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(PAYLOAD_DOMAIN);
    h.update(opening);
    h.finalize().into()
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
    /// `canonical_bytes(command without signature)` (without the domain tag): for version 2,
    /// the sealed command (payload digest in place of payload and salt).
    pub message: Vec<u8>,
    /// The domain tag the signature is over: [`COMMAND_DOMAIN`] or [`COMMAND_DOMAIN_V2`].
    pub domain: &'static [u8],
    /// For a version-2 command: its opening's canonical bytes and payload digest (hex), as
    /// built for the message, so that sealing the entry need not hash the payload again.
    pub sealed: Option<(Vec<u8>, String)>,
}

impl Prepared {
    /// Checks the signature by the signature rule ([`PublicKey::verify`]: `verify_strict`; see
    /// [`crate::keys`]).
    ///
    /// # Errors
    /// [`CommandError::Signature`].
    pub fn verify(&self) -> Result<(), CommandError> {
        self.key
            .verify(self.domain, &self.message, &self.signature)
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
    check_envelope(actor, kind, stream, nonce, issued_at_ms)?;
    if !payload.is_object() {
        return Err(CommandError::PayloadNotObject);
    }
    Ok(())
}

/// The fields every version shares: names, nonce, time.
fn check_envelope(
    actor: &str,
    kind: &str,
    stream: &str,
    nonce: &str,
    issued_at_ms: i64,
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

/// What a command's canonical object holds in the payload's place.
#[derive(Clone, Copy)]
enum Body<'a> {
    /// Version 1: the payload in clear.
    Clear(&'a Value),
    /// Version 2: the payload digest, 64 hex digits.
    Digest(&'a str),
}

/// Borrowed command fields, for writing canonical bytes without copying.
struct Fields<'a> {
    actor: &'a str,
    key: &'a str,
    kind: &'a str,
    stream: &'a str,
    expected_version: Option<u64>,
    body: Body<'a>,
    nonce: &'a str,
    issued_at_ms: i64,
}

/// Writes the canonical object of a command (with `signature` when given); returns the canonical
/// size of the payload (0 for a digest). Keys in sorted order: actor, expected_version,
/// issued_at_ms, key, kind, nonce, payload or payload_digest, signature, stream.
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
    let payload_len = match f.body {
        Body::Clear(payload) => {
            let buf = w.key("payload");
            let start = buf.len();
            canonical::encode_into(payload, buf).map_err(CommandError::Payload)?;
            buf.len() - start
        }
        Body::Digest(digest) => {
            canonical::write_string(digest, w.key("payload_digest"));
            0
        }
    };
    if let Some(sig) = signature {
        canonical::write_string(sig, w.key("signature"));
    }
    canonical::write_string(f.stream, w.key("stream"));
    w.finish();
    Ok(payload_len)
}

fn check_digest(digest: &str) -> Result<(), CommandError> {
    if digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(CommandError::BadDigest)
    }
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

    /// The version-1 canonical bytes (payload in clear, without the domain tag).
    ///
    /// # Errors
    /// When the payload is not canonically representable.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, CommandError> {
        let mut out = Vec::with_capacity(512);
        write_command(self.fields(Body::Clear(&self.payload)), None, &mut out)?;
        Ok(out)
    }

    fn fields<'a>(&'a self, body: Body<'a>) -> Fields<'a> {
        Fields {
            actor: &self.actor,
            key: &self.key,
            kind: &self.kind,
            stream: &self.stream,
            expected_version: self.expected_version,
            body,
            nonce: &self.nonce,
            issued_at_ms: self.issued_at_ms,
        }
    }

    /// The salt [`Command::sign`] uses: the first 16 bytes of
    /// `SHA-256("deedlog/salt/v1\n" || secret seed || version-1 canonical bytes)`. It is
    /// unpredictable to anyone without the secret key (so the digest hides the payload), and the
    /// same command signed again gets the same salt, hence the same signature: retries stay
    /// identical. A client may use any other 16 unpredictable bytes instead (random ones, for a
    /// key it cannot read, such as a browser's non-extractable key).
    ///
    /// # Errors
    /// When the payload is not canonically representable.
    pub fn derive_salt(&self, secret: &SecretKey) -> Result<String, CommandError> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(SALT_DOMAIN);
        h.update(secret.to_seed());
        h.update(self.signing_bytes()?);
        let full: [u8; 32] = h.finalize().into();
        Ok(keys::base64(&full[..SALT_BYTES]))
    }

    /// Checks the command and signs it in version 2, with the salt of
    /// [`Command::derive_salt`].
    ///
    /// # Errors
    /// When a field is malformed, or `secret` is not the key named in `key`.
    pub fn sign(self, secret: &SecretKey) -> Result<SignedCommand, CommandError> {
        let salt = self.derive_salt(secret)?;
        self.sign_with_salt(secret, salt)
    }

    /// Checks the command and signs it in version 2 with the given salt (standard base64 of 16
    /// bytes).
    ///
    /// # Errors
    /// When a field or the salt is malformed, or `secret` is not the key named in `key`.
    pub fn sign_with_salt(
        self,
        secret: &SecretKey,
        salt: String,
    ) -> Result<SignedCommand, CommandError> {
        let key = self.check()?;
        if key != secret.public() {
            return Err(CommandError::Key(KeyError::BadSignature));
        }
        let (opening, _) = opening_bytes(&self.payload, &salt)?;
        let digest = hex::encode(payload_digest(&opening));
        let mut message = Vec::with_capacity(384);
        write_command(self.fields(Body::Digest(&digest)), None, &mut message)?;
        let signature = secret.sign(COMMAND_DOMAIN_V2, &message);
        Ok(self.into_signed(Some(salt), &signature))
    }

    /// Checks the command and signs it in **version 1** (payload in clear). The server no
    /// longer accepts these; this exists to make old-format logs for tests and the sample log.
    ///
    /// # Errors
    /// When a field is malformed, or `secret` is not the key named in `key`.
    pub fn sign_v1(self, secret: &SecretKey) -> Result<SignedCommand, CommandError> {
        let key = self.check()?;
        if key != secret.public() {
            return Err(CommandError::Key(KeyError::BadSignature));
        }
        let signature = secret.sign(COMMAND_DOMAIN, &self.signing_bytes()?);
        Ok(self.into_signed(None, &signature))
    }

    fn into_signed(self, payload_salt: Option<String>, signature: &[u8; 64]) -> SignedCommand {
        SignedCommand {
            actor: self.actor,
            key: self.key,
            kind: self.kind,
            stream: self.stream,
            expected_version: self.expected_version,
            payload: self.payload,
            payload_salt,
            nonce: self.nonce,
            issued_at_ms: self.issued_at_ms,
            signature: keys::base64(signature),
        }
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

    /// The format version: 2 with a salt, 1 without.
    #[must_use]
    pub fn version(&self) -> u8 {
        if self.payload_salt.is_some() { 2 } else { 1 }
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
        let (domain, sealed) = match &self.payload_salt {
            None => {
                let payload_len =
                    write_command(self.fields(Body::Clear(&self.payload)), None, &mut message)?;
                if payload_len > PAYLOAD_BYTES_MAX {
                    return Err(CommandError::PayloadTooLarge { got: payload_len });
                }
                (COMMAND_DOMAIN, None)
            }
            Some(salt) => {
                let (opening, _) = opening_bytes(&self.payload, salt)?;
                let digest = hex::encode(payload_digest(&opening));
                write_command(self.fields(Body::Digest(&digest)), None, &mut message)?;
                (COMMAND_DOMAIN_V2, Some((opening, digest)))
            }
        };
        let key = parse_key(&self.key).map_err(CommandError::Key)?;
        let signature =
            keys::signature_from_base64(&self.signature).map_err(CommandError::Signature)?;
        Ok(Prepared {
            key,
            signature,
            message,
            domain,
            sealed,
        })
    }

    fn fields<'a>(&'a self, body: Body<'a>) -> Fields<'a> {
        Fields {
            actor: &self.actor,
            key: &self.key,
            kind: &self.kind,
            stream: &self.stream,
            expected_version: self.expected_version,
            body,
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

    /// Writes the version-1 canonical bytes of the signed command (payload in clear, signature
    /// included) into `out`: the `signed` object of a version-1 entry.
    ///
    /// # Errors
    /// When the payload is not canonically representable, or the command is version 2.
    pub fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        if self.payload_salt.is_some() {
            return Err(CommandError::Opening(
                "a version-2 command is stored sealed; see SignedCommand::seal".into(),
            ));
        }
        write_command(
            self.fields(Body::Clear(&self.payload)),
            Some(&self.signature),
            out,
        )
        .map(|_| ())
    }

    /// Splits a version-2 command into what the log shows to everyone (the sealed command) and
    /// its opening (payload and salt, canonical bytes).
    ///
    /// # Errors
    /// A version-1 command, a bad salt or a payload that is not canonical.
    pub fn seal(&self) -> Result<(SealedCommand, Vec<u8>), CommandError> {
        let Some(salt) = &self.payload_salt else {
            return Err(CommandError::BadSalt);
        };
        let (opening, _) = opening_bytes(&self.payload, salt)?;
        let digest = hex::encode(payload_digest(&opening));
        Ok((self.seal_with(digest), opening))
    }

    /// The sealed command for a payload digest already computed from this command's opening
    /// (by [`SignedCommand::prepare`]: see [`Prepared::sealed`]).
    #[must_use]
    pub fn seal_with(&self, payload_digest: String) -> SealedCommand {
        SealedCommand {
            actor: self.actor.clone(),
            key: self.key.clone(),
            kind: self.kind.clone(),
            stream: self.stream.clone(),
            expected_version: self.expected_version,
            payload_digest,
            nonce: self.nonce.clone(),
            issued_at_ms: self.issued_at_ms,
            signature: self.signature.clone(),
        }
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

impl SealedCommand {
    /// Checks every field's shape and extracts the key, signature and signed message.
    ///
    /// # Errors
    /// The first malformed field.
    pub fn prepare(&self) -> Result<Prepared, CommandError> {
        check_envelope(
            &self.actor,
            &self.kind,
            &self.stream,
            &self.nonce,
            self.issued_at_ms,
        )?;
        check_digest(&self.payload_digest)?;
        let mut message = Vec::with_capacity(384);
        write_command(self.fields(), None, &mut message)?;
        let key = PublicKey::from_base64(&self.key).map_err(CommandError::Key)?;
        let signature =
            keys::signature_from_base64(&self.signature).map_err(CommandError::Signature)?;
        Ok(Prepared {
            key,
            signature,
            message,
            domain: COMMAND_DOMAIN_V2,
            sealed: None,
        })
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            actor: &self.actor,
            key: &self.key,
            kind: &self.kind,
            stream: &self.stream,
            expected_version: self.expected_version,
            body: Body::Digest(&self.payload_digest),
            nonce: &self.nonce,
            issued_at_ms: self.issued_at_ms,
        }
    }

    /// [`SealedCommand::prepare`] then [`Prepared::verify`].
    ///
    /// # Errors
    /// A malformed field or a signature that does not verify.
    pub fn verify(&self) -> Result<Prepared, CommandError> {
        let prepared = self.prepare()?;
        prepared.verify()?;
        Ok(prepared)
    }

    /// Writes the canonical bytes (signature included) into `out`.
    ///
    /// # Errors
    /// When a value is not canonically representable.
    pub fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        check_digest(&self.payload_digest)?;
        write_command(self.fields(), Some(&self.signature), out).map(|_| ())
    }

    /// Joins the sealed command with its opening, checking that the opening hashes to the
    /// signed digest.
    ///
    /// # Errors
    /// [`CommandError::OpeningMismatch`] when it does not; a malformed opening.
    pub fn open(&self, opening: &[u8]) -> Result<SignedCommand, CommandError> {
        let parsed = Opening::decode(opening)?;
        if hex::encode(payload_digest(opening)) != self.payload_digest {
            return Err(CommandError::OpeningMismatch);
        }
        Ok(SignedCommand {
            actor: self.actor.clone(),
            key: self.key.clone(),
            kind: self.kind.clone(),
            stream: self.stream.clone(),
            expected_version: self.expected_version,
            payload: parsed.payload,
            payload_salt: Some(parsed.salt),
            nonce: self.nonce.clone(),
            issued_at_ms: self.issued_at_ms,
            signature: self.signature.clone(),
        })
    }

    /// The public key's short id, or `"?"` if the key is malformed.
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
            let signed = c.clone().sign_v1(&secret).unwrap();
            let mut fast = Vec::new();
            signed.write_canonical(&mut fast).unwrap();
            assert_eq!(fast, canonical::to_vec(&signed).unwrap());
            let (sealed, opening) = c.sign(&secret).unwrap().seal().unwrap();
            let mut fast = Vec::new();
            sealed.write_canonical(&mut fast).unwrap();
            assert_eq!(fast, canonical::to_vec(&sealed).unwrap());
            let parsed = Opening::decode(&opening).unwrap();
            assert_eq!(opening, canonical::to_vec(&parsed).unwrap());
        }
    }

    #[test]
    fn version_two_signs_the_salted_digest_and_opens_only_with_the_same_payload() {
        let secret = SecretKey::from_seed(&[1; 32]);
        let signed = command(&secret).sign(&secret).unwrap();
        assert_eq!(signed.version(), 2);
        assert!(signed.verify().is_ok());
        // The same command signed again gets the same salt and signature: retries stay identical.
        assert_eq!(command(&secret).sign(&secret).unwrap(), signed);
        let (sealed, opening) = signed.seal().unwrap();
        assert!(
            sealed.verify().is_ok(),
            "the sealed form verifies without the payload"
        );
        assert_eq!(sealed.open(&opening).unwrap(), signed);
        // Another payload, or the same payload under another salt, does not open it.
        let (other, _) = opening_bytes(
            &json!({"text": "你好", "n": 2}),
            signed.payload_salt.as_ref().unwrap(),
        )
        .unwrap();
        assert_eq!(
            sealed.open(&other).unwrap_err(),
            CommandError::OpeningMismatch
        );
        let (resalted, _) =
            opening_bytes(&signed.payload, &keys::base64(&[9; SALT_BYTES])).unwrap();
        assert_eq!(
            sealed.open(&resalted).unwrap_err(),
            CommandError::OpeningMismatch
        );
        // A tampered payload with the original salt fails the signature.
        let mut tampered = signed.clone();
        tampered.payload = json!({"text": "你好", "n": 2});
        assert!(matches!(tampered.verify(), Err(CommandError::Signature(_))));
        // A v1 signature does not pass as v2 and vice versa (distinct domain tags).
        let mut as_v1 = signed.clone();
        as_v1.payload_salt = None;
        assert!(matches!(as_v1.verify(), Err(CommandError::Signature(_))));
        let v1 = command(&secret).sign_v1(&secret).unwrap();
        let mut as_v2 = v1.clone();
        as_v2.payload_salt = signed.payload_salt.clone();
        assert!(matches!(as_v2.verify(), Err(CommandError::Signature(_))));
        // Salts must be exactly 16 bytes of standard base64.
        for bad in ["", "AAAA", "not base64!", &keys::base64(&[0; 17])] {
            let mut c = signed.clone();
            c.payload_salt = Some(bad.to_owned());
            assert_eq!(c.verify().unwrap_err(), CommandError::BadSalt, "{bad:?}");
        }
        // A digest that is not 64 lower-case hex digits is refused before the signature.
        let mut upper = sealed.clone();
        upper.payload_digest = upper.payload_digest.to_uppercase();
        assert_eq!(upper.verify().unwrap_err(), CommandError::BadDigest);
    }

    #[test]
    fn salts_differ_per_command_and_per_key() {
        let a = SecretKey::from_seed(&[1; 32]);
        let b = SecretKey::from_seed(&[2; 32]);
        let mut other = command(&a);
        other.nonce = "nonce-0002".into();
        let s1 = command(&a).derive_salt(&a).unwrap();
        assert_ne!(s1, other.derive_salt(&a).unwrap());
        assert_ne!(s1, command(&a).derive_salt(&b).unwrap());
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
