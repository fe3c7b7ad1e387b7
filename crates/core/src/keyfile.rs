//! The one key-file format: every deedlog key file (the node's `DATA/keys/*.key`, the files of
//! `deedlog keygen`, the keys a client reads) is this JSON object, in one line or pretty-printed:
//!
//! ```text
//! {"format":"deedlog/key/v1","seed":"<standard base64 of the 32-byte seed>","public":"<base64>"}
//! ```
//!
//! Only the text is here (this crate does no I/O); the readers and writers of files (the node's
//! durable writer, the client's reader) bound what they read by [`KEY_FILE_BYTES_MAX`] and call
//! [`decode`] and [`encode`].

use serde::Deserialize;

use crate::keys::{self, SecretKey};

/// The `format` of a key file.
pub const FORMAT: &str = "deedlog/key/v1";
/// Largest key file read, in bytes (a key file is about 130 bytes; pretty-printed, about 150).
pub const KEY_FILE_BYTES_MAX: u64 = 4096;

/// Why a text is not a usable key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Longer than any key file.
    #[error("larger than a key file can be ({KEY_FILE_BYTES_MAX} bytes at most)")]
    TooLarge,
    /// Not the JSON object of a key file.
    #[error("not a key file: {0}")]
    NotAKeyFile(String),
    /// Another format than [`FORMAT`].
    #[error("unknown key format `{0}`")]
    UnknownFormat(String),
    /// The seed is not 32 bytes of base64.
    #[error("the seed is not 32 bytes of base64")]
    BadSeed,
    /// The public key written beside the seed is not the seed's.
    #[error("the public key does not match the seed")]
    PublicMismatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    seed: String,
    public: String,
}

/// Reads a key file's text; the public key beside the seed must be the seed's.
///
/// # Errors
/// A [`KeyFileError`] saying what is wrong.
pub fn decode(text: &str) -> Result<SecretKey, KeyFileError> {
    if text.len() as u64 > KEY_FILE_BYTES_MAX {
        return Err(KeyFileError::TooLarge);
    }
    let file: KeyFile =
        serde_json::from_str(text).map_err(|e| KeyFileError::NotAKeyFile(e.to_string()))?;
    if file.format != FORMAT {
        return Err(KeyFileError::UnknownFormat(file.format));
    }
    let seed: [u8; 32] = keys::from_base64(&file.seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(KeyFileError::BadSeed)?;
    let secret = SecretKey::from_seed(&seed);
    if secret.public().to_base64() != file.public {
        return Err(KeyFileError::PublicMismatch);
    }
    Ok(secret)
}

/// The key file text of `secret`, in one line.
#[must_use]
pub fn encode(secret: &SecretKey) -> String {
    // Standard base64 needs no JSON escaping, so the object is written directly.
    format!(
        "{{\"format\":\"{FORMAT}\",\"seed\":\"{}\",\"public\":\"{}\"}}",
        keys::base64(&secret.to_seed()),
        secret.public().to_base64()
    )
}
