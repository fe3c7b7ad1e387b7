//! Checkpoints (signed tree heads): C2SP `tlog-checkpoint` bodies in C2SP `signed-note`s, with
//! Ed25519 log signatures and C2SP `tlog-cosignature` (`cosignature/v1`) witness cosignatures.
//!
//! A checkpoint note, as deedlog writes it:
//!
//! ```text
//! <origin>\n                         e.g. deedlog.example/log
//! <tree size, decimal>\n
//! <base64 of the 32-byte root>\n
//! time <unix ms>\n                   optional extension lines, opaque to other tools
//! \n
//! — <origin> base64(key_id(4) || Ed25519(secret, body))\n
//! — <witness> base64(key_id(4) || timestamp(8, big-endian) || Ed25519(witness, cosigned))\n   (any number)
//! ```
//!
//! - The log signs under the key name `<origin>`; its verifier key ("vkey") is
//!   `<origin>+<hex key_id>+base64(0x01 || public key)` with
//!   `key_id = SHA-256(<origin> || "\n" || 0x01 || public key)[:4]` (C2SP signed-note).
//! - A witness cosignature's key id is `SHA-256(<name> || "\n" || 0x04 || public key)[:4]`, its
//!   timestamp is in **seconds** since the Unix epoch, and it signs
//!   `"cosignature/v1\ntime <timestamp>\n" || body` (C2SP tlog-cosignature, Ed25519).
//!
//! Log signatures are checked with `verify_strict`, and keys of small order are refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use signed_note::{Note, Signature as NoteSig, VerifierList};

use crate::hash::Hash;
use crate::keys::{PublicKey, SecretKey};

/// The signed-note signature type of Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
/// The signed-note signature type of timestamped Ed25519 witness cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The first line of the message a `cosignature/v1` signs.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1\n";
/// Largest signed note accepted, in bytes.
pub const NOTE_BYTES_MAX: usize = 64 * 1024;
/// Most extension lines a checkpoint may carry.
pub const EXTENSIONS_MAX: usize = 16;
/// The prefix of deedlog's time extension line.
pub const TIME_EXTENSION_PREFIX: &str = "time ";

/// Why a checkpoint could not be made, opened or cosigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin is empty, or holds white space, `+` or control characters (it is also the log's
    /// key name, so signed-note's rules for names apply).
    #[error("origin must be a non-empty name without white space or `+`")]
    BadOrigin,
    /// A key name is empty or holds white space or `+`.
    #[error("key name must be non-empty, without white space or `+`")]
    BadKeyName,
    /// An extension line is empty, holds a newline or control character, or there are too many.
    #[error(
        "extension lines must be non-empty, without control characters, at most {EXTENSIONS_MAX}"
    )]
    BadExtension,
    /// The verifier key string is malformed, names another algorithm, has the wrong key id, or
    /// holds an unusable (invalid or weak) key.
    #[error("verifier key: {0}")]
    BadVerifierKey(String),
    /// The note is larger than [`NOTE_BYTES_MAX`].
    #[error("note is {got} bytes; at most {NOTE_BYTES_MAX} are allowed")]
    TooLarge {
        /// The size found.
        got: usize,
    },
    /// Not a well-formed signed note (text, blank line, signature lines).
    #[error("not a well-formed signed note")]
    MalformedNote,
    /// The note's text is not a well-formed checkpoint body.
    #[error("not a well-formed checkpoint body")]
    MalformedBody,
    /// No signature line is by the log's key (name and key id).
    #[error("the note carries no signature by the log key {name}+{key_id:08x}")]
    NotSignedByLog {
        /// The log key's name.
        name: String,
        /// The log key's id.
        key_id: u32,
    },
    /// A signature line by the log's key does not verify.
    #[error("the log signature does not verify")]
    BadSignature,
    /// A cosignature timestamp above `2^63 - 1`.
    #[error("cosignature timestamp must be at most 2^63 - 1")]
    BadTimestamp,
}

/// A verifier key for Ed25519 note signatures (`name+keyid+base64(0x01 || key)`), as a
/// [`signed_note::Verifier`] that checks with `verify_strict`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key: PublicKey,
}

impl VerifierKey {
    /// The verifier key of `key` under `name`.
    ///
    /// # Errors
    /// [`CheckpointError::BadKeyName`].
    pub fn new(name: &str, key: PublicKey) -> Result<Self, CheckpointError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::BadKeyName);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, ALG_ED25519, &key),
            key,
        })
    }

    /// Parses a vkey string, `<name>+<8 hex digits key id>+<base64(0x01 || key)>`. The base64
    /// part may hold `+`: the string is split by position from the right (see FORMAT.md,
    /// "Verifier key"), and a name holding `+` is refused.
    ///
    /// # Errors
    /// [`CheckpointError::BadVerifierKey`], naming what is wrong.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let (name, key) = parse_vkey(vkey, ALG_ED25519)?;
        // signed_note's own parser must agree (it splits at the first two `+`, which is the same
        // split once the name is known to hold none).
        signed_note::StandardVerifier::new(vkey)
            .map_err(|e| CheckpointError::BadVerifierKey(e.to_string()))?;
        Self::new(name, key)
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public key.
    #[must_use]
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The vkey string.
    #[must_use]
    pub fn to_vkey(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.name, self.key.as_dalek())
    }
}

impl signed_note::Verifier for VerifierKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key.verify(b"", msg, &sig).is_ok()
    }
}

/// The vkey string of `key` under `name`: `name+<8 hex digits key id>+base64(0x01 || key)`.
///
/// # Errors
/// [`CheckpointError::BadKeyName`].
pub fn vkey(name: &str, key: &PublicKey) -> Result<String, CheckpointError> {
    Ok(VerifierKey::new(name, *key)?.to_vkey())
}

/// `SHA-256(name || "\n" || alg || key)[:4]` as a big-endian `u32` (C2SP signed-note).
#[must_use]
pub fn key_id(name: &str, alg: u8, key: &PublicKey) -> u32 {
    let mut material = Vec::with_capacity(33);
    material.push(alg);
    material.extend_from_slice(&key.to_bytes());
    signed_note::key_id(name, &material)
}

/// Characters of the last part of a vkey: standard base64 of the algorithm byte and a 32-byte
/// key (33 bytes, so exactly 44 characters and never padding).
pub const VKEY_KEY_CHARS: usize = 44;

/// Splits `name+hexid+base64(alg || key)` and checks the name, the id and the key.
///
/// The base64 part may itself hold `+` (it is standard base64), so a vkey is split by position,
/// from the right: the last 44 characters are the key, the 8 before the `+` ahead of them the
/// key id, and everything before the `+` ahead of that the name. A name holding `+` is then
/// refused by name, rather than being misread as a name, an id and a key that happen not to fit.
fn parse_vkey(vkey: &str, alg: u8) -> Result<(&str, PublicKey), CheckpointError> {
    let bad = |what: &str| CheckpointError::BadVerifierKey(what.to_owned());
    let shape = "expected <name>+<8 hex digits key id>+<44 characters of base64 key>";
    let bytes = vkey.as_bytes();
    let n = bytes.len();
    // name (at least 1) + '+' + 8 + '+' + 44.
    if n < 1 + 1 + 8 + 1 + VKEY_KEY_CHARS
        || bytes[n - VKEY_KEY_CHARS - 1] != b'+'
        || bytes[n - VKEY_KEY_CHARS - 10] != b'+'
    {
        return Err(bad(shape));
    }
    // The two positions hold the ASCII `+`, so the slices below start and end on character
    // boundaries.
    let name = &vkey[..n - VKEY_KEY_CHARS - 10];
    let id_hex = &vkey[n - VKEY_KEY_CHARS - 9..n - VKEY_KEY_CHARS - 1];
    let key64 = &vkey[n - VKEY_KEY_CHARS..];
    if name.contains('+') {
        return Err(CheckpointError::BadVerifierKey(format!(
            "the key name must not contain `+` (a vkey is {shape}, and the name is the log's origin \
             or the witness's name)"
        )));
    }
    if !signed_note::is_key_name_valid(name) {
        return Err(bad(
            "the key name must be non-empty and without white space",
        ));
    }
    // Lower-case only, as written: a vkey then has one spelling, and it prints as it was read.
    if !id_hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad("key id must be 8 lower-case hex digits"));
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key id must be 8 hex digits"))?;
    let material = B64
        .decode(key64)
        .map_err(|_| bad("key is not standard base64"))?;
    let Some((&found_alg, key)) = material.split_first() else {
        return Err(bad("empty key"));
    };
    if found_alg != alg {
        return Err(bad("unexpected signature type"));
    }
    let key = PublicKey::from_bytes(key).map_err(|e| bad(&e.to_string()))?;
    if signed_note::key_id(name, &material) != id {
        return Err(bad("key id does not match the key"));
    }
    Ok((name, key))
}

/// A [`signed_note::Signer`] over a [`SecretKey`].
struct NoteSigner<'a> {
    name: &'a str,
    key_id: u32,
    secret: &'a SecretKey,
}

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::ed25519::signature::Error> {
        Ok(self.secret.sign(b"", msg).to_vec())
    }
}

/// The `time <unix ms>` extension line.
#[must_use]
pub fn time_extension(time_ms: i64) -> String {
    format!("{TIME_EXTENSION_PREFIX}{time_ms}")
}

fn is_valid_origin(origin: &str) -> bool {
    signed_note::is_key_name_valid(origin) && !origin.chars().any(char::is_control)
}

/// The checkpoint body (the text the signatures cover).
///
/// # Errors
/// [`CheckpointError::BadOrigin`] or [`CheckpointError::BadExtension`].
pub fn checkpoint_body(
    origin: &str,
    size: u64,
    root: Hash,
    extensions: &[String],
) -> Result<Vec<u8>, CheckpointError> {
    if !is_valid_origin(origin) {
        return Err(CheckpointError::BadOrigin);
    }
    if extensions.len() > EXTENSIONS_MAX
        || extensions
            .iter()
            .any(|e| e.is_empty() || e.chars().any(char::is_control))
    {
        return Err(CheckpointError::BadExtension);
    }
    let mut extension = String::new();
    for line in extensions {
        extension.push_str(line);
        extension.push('\n');
    }
    let checkpoint = tlog_tiles::Checkpoint::new(origin, size, root, &extension)
        .map_err(|_| CheckpointError::MalformedBody)?;
    Ok(checkpoint.to_bytes())
}

/// Signs a checkpoint with the log's key (key name = `origin`) and returns the whole note.
///
/// # Errors
/// [`CheckpointError::BadOrigin`] or [`CheckpointError::BadExtension`].
pub fn sign_checkpoint(
    origin: &str,
    size: u64,
    root: Hash,
    extensions: &[String],
    signer: &SecretKey,
) -> Result<Vec<u8>, CheckpointError> {
    let body = checkpoint_body(origin, size, root, extensions)?;
    sign_note(&body, origin, signer)
}

/// Signs any note text (UTF-8, ending in a newline, no control characters but newlines) with an
/// Ed25519 note signature under `name`, and returns the whole note.
///
/// # Errors
/// [`CheckpointError::BadKeyName`], or [`CheckpointError::MalformedNote`] for a bad text.
pub fn sign_note(text: &[u8], name: &str, signer: &SecretKey) -> Result<Vec<u8>, CheckpointError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(CheckpointError::BadKeyName);
    }
    let mut note = Note::new(text, &[]).map_err(|_| CheckpointError::MalformedNote)?;
    let signer = NoteSigner {
        name,
        key_id: key_id(name, ALG_ED25519, &signer.public()),
        secret: signer,
    };
    note.add_sigs(&[&signer])
        .map_err(|_| CheckpointError::BadKeyName)?;
    Ok(note.to_bytes())
}

/// One signature line of a note that is not the log's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
    /// The line exactly as it appeared, including its final newline.
    pub line: String,
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedCheckpoint {
    /// The origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree root.
    pub root: Hash,
    /// The extension lines, without their newlines.
    pub extensions: Vec<String>,
    /// The checkpoint body the signatures cover.
    pub body: String,
    /// The whole note exactly as received.
    pub note_text: String,
    /// Every signature line that is not the log's, in order (cosignatures among them).
    pub other_signatures: Vec<NoteSignature>,
}

impl OpenedCheckpoint {
    /// The value of the `time <unix ms>` extension line, if there is one that parses.
    #[must_use]
    pub fn time_ms(&self) -> Option<i64> {
        self.extensions.iter().find_map(|line| {
            line.strip_prefix(TIME_EXTENSION_PREFIX)
                .and_then(|ms| ms.parse().ok())
        })
    }
}

/// A signed note whose signature by a trusted key verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The text the signatures cover, with its final newline.
    pub text: String,
    /// The whole note exactly as received.
    pub note_text: String,
    /// Every signature line not by the trusted key, in order.
    pub other_signatures: Vec<NoteSignature>,
}

/// Parses a signed note and checks its signature by `verifier` (C2SP signed-note rules: lines by
/// unknown keys are ignored, a bad line by the known key fails the note, and at least one line by
/// the known key must verify).
///
/// # Errors
/// [`CheckpointError::TooLarge`], [`CheckpointError::MalformedNote`],
/// [`CheckpointError::NotSignedByLog`] or [`CheckpointError::BadSignature`].
pub fn open_note(note_bytes: &[u8], verifier: &VerifierKey) -> Result<OpenedNote, CheckpointError> {
    if note_bytes.len() > NOTE_BYTES_MAX {
        return Err(CheckpointError::TooLarge {
            got: note_bytes.len(),
        });
    }
    let note = Note::from_bytes(note_bytes).map_err(|_| CheckpointError::MalformedNote)?;
    let verifiers = VerifierList::new(vec![Box::new(verifier.clone())]);
    note.verify(&verifiers).map_err(|e| match e {
        signed_note::NoteError::InvalidSignature { .. } => CheckpointError::BadSignature,
        signed_note::NoteError::UnverifiedNote => CheckpointError::NotSignedByLog {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        },
        _ => CheckpointError::MalformedNote,
    })?;
    let note_text = std::str::from_utf8(note_bytes)
        .map_err(|_| CheckpointError::MalformedNote)?
        .to_owned();
    let text = std::str::from_utf8(note.text())
        .map_err(|_| CheckpointError::MalformedNote)?
        .to_owned();
    // The signature block follows the text and the blank line; signed_note checked every line.
    let block = note_text
        .get(text.len() + 1..)
        .ok_or(CheckpointError::MalformedNote)?;
    let mut other_signatures = Vec::new();
    for line in block.split_inclusive('\n') {
        let sig = NoteSig::from_bytes(line.trim_end_matches('\n').as_bytes())
            .map_err(|_| CheckpointError::MalformedNote)?;
        if sig.name() == verifier.name && sig.id() == verifier.key_id {
            continue;
        }
        other_signatures.push(NoteSignature {
            name: sig.name().to_owned(),
            key_id: sig.id(),
            signature: sig.signature().to_vec(),
            line: line.to_owned(),
        });
    }
    Ok(OpenedNote {
        text,
        note_text,
        other_signatures,
    })
}

/// Parses a signed checkpoint, checks the log's signature and the checkpoint body.
///
/// Signature lines by other keys are kept, unchecked, in
/// [`OpenedCheckpoint::other_signatures`]; see [`verify_cosignatures`]. The origin is returned,
/// not checked: compare it with the log you expect.
///
/// # Errors
/// As [`open_note`], and [`CheckpointError::MalformedBody`].
pub fn open_checkpoint(
    note_bytes: &[u8],
    log_verifier: &VerifierKey,
) -> Result<OpenedCheckpoint, CheckpointError> {
    let note = open_note(note_bytes, log_verifier)?;
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text.as_bytes())
        .map_err(|_| CheckpointError::MalformedBody)?;
    Ok(OpenedCheckpoint {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
        extensions: checkpoint.extension().lines().map(str::to_owned).collect(),
        body: note.text,
        note_text: note.note_text,
        other_signatures: note.other_signatures,
    })
}

/// A witness's public key for `cosignature/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    key_id: u32,
    key: PublicKey,
}

impl WitnessKey {
    /// The witness key `key` under `name`.
    ///
    /// # Errors
    /// [`CheckpointError::BadKeyName`].
    pub fn new(name: &str, key: PublicKey) -> Result<Self, CheckpointError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::BadKeyName);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, ALG_COSIGNATURE_V1, &key),
            key,
        })
    }

    /// Parses `name+keyid+base64(0x04 || key)`, split as [`VerifierKey::parse`] does.
    ///
    /// # Errors
    /// [`CheckpointError::BadVerifierKey`], naming what is wrong.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let (name, key) = parse_vkey(vkey, ALG_COSIGNATURE_V1)?;
        Self::new(name, key)
    }

    /// The vkey string `name+keyid+base64(0x04 || key)`.
    #[must_use]
    pub fn to_vkey(&self) -> String {
        let mut material = vec![ALG_COSIGNATURE_V1];
        material.extend_from_slice(&self.key.to_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(material))
    }

    /// The witness name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
}

/// The message a `cosignature/v1` signs: `"cosignature/v1\ntime <timestamp>\n" || body`.
#[must_use]
pub fn cosigned_message(body: &[u8], timestamp: u64) -> Vec<u8> {
    let mut msg = format!("{COSIGNATURE_HEADER}time {timestamp}\n").into_bytes();
    msg.extend_from_slice(body);
    msg
}

/// Cosigns a checkpoint body as a witness and returns the signature line (with its final
/// newline), ready to be appended to the note. `timestamp` is in seconds since the Unix epoch.
///
/// # Errors
/// [`CheckpointError::BadKeyName`], or [`CheckpointError::BadTimestamp`] when `timestamp`
/// exceeds `2^63 - 1`.
pub fn cosign(
    body: &[u8],
    witness_name: &str,
    witness_secret: &SecretKey,
    timestamp: u64,
) -> Result<String, CheckpointError> {
    if timestamp > i64::MAX as u64 {
        return Err(CheckpointError::BadTimestamp);
    }
    let witness = WitnessKey::new(witness_name, witness_secret.public())?;
    let signature = witness_secret.sign(b"", &cosigned_message(body, timestamp));
    let mut payload = timestamp.to_be_bytes().to_vec();
    payload.extend_from_slice(&signature);
    let line = NoteSig::new(witness.name, witness.key_id, payload)
        .map_err(|_| CheckpointError::BadKeyName)?
        .to_bytes();
    String::from_utf8(line).map_err(|_| CheckpointError::BadKeyName)
}

/// What a witness's cosignature on a checkpoint amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CosignatureStatus {
    /// A line by the witness verifies; its timestamp, in seconds.
    Valid {
        /// When the witness cosigned, seconds since the Unix epoch.
        timestamp: u64,
    },
    /// No line carries the witness's name and key id.
    Missing,
    /// A line by the witness is malformed or does not verify.
    Invalid,
}

/// One witness's result in [`verify_cosignatures`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureCheck {
    /// The witness name.
    pub witness: String,
    /// The result.
    pub status: CosignatureStatus,
}

/// Splits a `cosignature/v1` signature (after the key id) into timestamp and signature.
#[must_use]
pub fn parse_cosignature(signature: &[u8]) -> Option<(u64, [u8; 64])> {
    let (ts, sig) = signature.split_first_chunk::<8>()?;
    let sig: [u8; 64] = sig.try_into().ok()?;
    let ts = u64::from_be_bytes(*ts);
    (ts <= i64::MAX as u64).then_some((ts, sig))
}

/// Checks, for each witness, its cosignature lines on an opened checkpoint. A witness with
/// several lines is `Valid` only if every one of them verifies.
#[must_use]
pub fn verify_cosignatures(
    opened: &OpenedCheckpoint,
    witness_keys: &[WitnessKey],
) -> Vec<CosignatureCheck> {
    witness_keys
        .iter()
        .map(|w| {
            let mut status = CosignatureStatus::Missing;
            for sig in opened
                .other_signatures
                .iter()
                .filter(|s| s.name == w.name && s.key_id == w.key_id)
            {
                let ok = parse_cosignature(&sig.signature).filter(|(ts, sig)| {
                    w.key
                        .verify(b"", &cosigned_message(opened.body.as_bytes(), *ts), sig)
                        .is_ok()
                });
                status = match (ok, &status) {
                    (None, _) | (_, CosignatureStatus::Invalid) => CosignatureStatus::Invalid,
                    (Some((timestamp, _)), _) => CosignatureStatus::Valid { timestamp },
                };
            }
            CosignatureCheck {
                witness: w.name.clone(),
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn body_refuses_bad_origins_and_extensions() {
        let root = leaf_hash(b"x");
        assert_eq!(
            checkpoint_body("a b", 1, root, &[]),
            Err(CheckpointError::BadOrigin)
        );
        assert_eq!(
            checkpoint_body("a", 1, root, &[String::new()]),
            Err(CheckpointError::BadExtension)
        );
        assert_eq!(
            checkpoint_body("a", 1, root, &["x\ny".into()]),
            Err(CheckpointError::BadExtension)
        );
        assert!(checkpoint_body("a", 1, root, &[time_extension(5)]).is_ok());
    }
}
