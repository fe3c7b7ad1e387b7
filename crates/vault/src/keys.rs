//! Key material: the vault's master keys (in the key file) and the per-subject keys (in the
//! key-slot file, wrapped under the master wrap key).
//!
//! ```text
//! vault.key           (mode 0600, 104 bytes)
//!   "DLVKEY01" || index_key (32) || wrap_key (32) || SHA-256(the 72 bytes before)
//!
//! subject-keys.slots  (one 128-byte slot per subject, slot n at offset 128·n)
//!   0x01 || nonce (12) || ChaCha20-Poly1305(wrap_key, nonce,
//!                                          plaintext = subject_secret (32) || data_key (32),
//!                                          aad = "deedlog/vault/slot/v1\0" || u64be(n) || subject_id)
//!        || zero padding
//!   an erased subject's slot is overwritten in place with 128 zero bytes and fsynced
//! ```
//!
//! Why a separate slot file instead of sled: sled is log-structured, so a removed value stays in
//! its files until the segment happens to be reused. Crypto-shredding needs the key bytes to be
//! really gone, so the (wrapped) subject keys live in a plain file whose slots are overwritten in
//! place. The raw subject keys never touch the disk; the wrapped ones disappear on erasure.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::durable::sync_dir;
use crate::{SubjectId, VaultError};

/// The key file's name inside the vault folder.
pub const KEY_FILE_NAME: &str = "vault.key";

/// The key-slot file's name inside the vault folder.
pub const SLOT_FILE_NAME: &str = "subject-keys.slots";

const KEY_FILE_MAGIC: &[u8; 8] = b"DLVKEY01";
const KEY_FILE_BYTES: usize = 8 + 32 + 32 + 32;
const SLOT_BYTES: usize = 128;
const SLOT_LIVE: u8 = 1;
const SLOT_AAD_TAG: &[u8] = b"deedlog/vault/slot/v1\0";

/// 32 secret bytes that are wiped from memory when dropped.
pub(crate) type SecretBytes = Zeroizing<[u8; 32]>;

/// Fills a buffer from the operating system's random number generator.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), VaultError> {
    OsRng.try_fill_bytes(buf).map_err(|_| VaultError::Random)
}

fn random_secret() -> Result<SecretBytes, VaultError> {
    let mut key = Zeroizing::new([0u8; 32]);
    random_bytes(key.as_mut())?;
    Ok(key)
}

/// `HMAC-SHA-256(key, parts[0] || parts[1] || …)`.
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The vault-wide keys, kept in the key file.
pub(crate) struct MasterKeys {
    /// Keys the index: `HMAC-SHA-256(index_key, kind || 0x00 || normalized identifier)`.
    pub(crate) index: SecretBytes,
    /// Wraps the per-subject keys in the slot file.
    pub(crate) wrap: SecretBytes,
}

impl MasterKeys {
    /// A fingerprint stored in the database so that a key file from another vault is refused:
    /// `SHA-256("deedlog/vault/key-check/v1\0" || index_key || wrap_key)`.
    pub(crate) fn check_value(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"deedlog/vault/key-check/v1\0");
        h.update(self.index.as_ref());
        h.update(self.wrap.as_ref());
        h.finalize().into()
    }

    /// Reads the key file, or `Ok(None)` when it does not exist.
    pub(crate) fn load(path: &Path) -> Result<Option<MasterKeys>, VaultError> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VaultError::io(path)(e)),
        };
        let mode = file
            .metadata()
            .map_err(VaultError::io(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(VaultError::KeyFilePermissions {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_FILE_BYTES));
        Read::by_ref(&mut file)
            .take(KEY_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(VaultError::io(path))?;
        let invalid = |reason| VaultError::KeyFileInvalid {
            path: path.to_owned(),
            reason,
        };
        if bytes.len() != KEY_FILE_BYTES {
            return Err(invalid("wrong length"));
        }
        if &bytes[..8] != KEY_FILE_MAGIC {
            return Err(invalid("not a deedlog vault key file"));
        }
        let check: [u8; 32] = Sha256::digest(&bytes[..72]).into();
        if bytes[72..] != check {
            return Err(invalid("checksum mismatch"));
        }
        let mut index = Zeroizing::new([0u8; 32]);
        let mut wrap = Zeroizing::new([0u8; 32]);
        index.copy_from_slice(&bytes[8..40]);
        wrap.copy_from_slice(&bytes[40..72]);
        Ok(Some(MasterKeys { index, wrap }))
    }

    /// Generates fresh keys from the OS RNG and writes the key file (mode 0600) durably:
    /// written to a temporary file, fsynced, renamed into place, folder fsynced.
    pub(crate) fn create(path: &Path) -> Result<MasterKeys, VaultError> {
        let keys = MasterKeys {
            index: random_secret()?,
            wrap: random_secret()?,
        };
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_FILE_BYTES));
        bytes.extend_from_slice(KEY_FILE_MAGIC);
        bytes.extend_from_slice(keys.index.as_ref());
        bytes.extend_from_slice(keys.wrap.as_ref());
        let check: [u8; 32] = Sha256::digest(&bytes[..]).into();
        bytes.extend_from_slice(&check);

        let tmp: PathBuf = path.with_extension("key.tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(VaultError::io(&tmp))?;
        // A leftover temporary file from a crash keeps its old mode; make sure it is 0600.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(VaultError::io(&tmp))?;
        file.write_all(&bytes).map_err(VaultError::io(&tmp))?;
        file.sync_all().map_err(VaultError::io(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(VaultError::io(path))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(keys)
    }
}

/// One subject's keys. Never written to disk in clear; wiped from memory on drop.
pub(crate) struct SubjectKeys {
    /// The HMAC key of the subject's commitments.
    pub(crate) secret: SecretBytes,
    /// The ChaCha20-Poly1305 key of the subject's stored fields.
    pub(crate) data: SecretBytes,
}

impl SubjectKeys {
    pub(crate) fn generate() -> Result<SubjectKeys, VaultError> {
        Ok(SubjectKeys {
            secret: random_secret()?,
            data: random_secret()?,
        })
    }
}

/// The key-slot file.
pub(crate) struct KeySlots {
    path: PathBuf,
    file: File,
}

fn slot_aad(slot: u64, subject: &SubjectId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SLOT_AAD_TAG.len() + 8 + 16);
    aad.extend_from_slice(SLOT_AAD_TAG);
    aad.extend_from_slice(&slot.to_be_bytes());
    aad.extend_from_slice(subject.as_bytes());
    aad
}

fn slot_offset(slot: u64) -> Result<u64, VaultError> {
    slot.checked_mul(SLOT_BYTES as u64)
        .ok_or_else(|| VaultError::Corrupt(format!("key slot {slot} is out of range")))
}

impl KeySlots {
    pub(crate) fn open(dir: &Path) -> Result<KeySlots, VaultError> {
        let path = dir.join(SLOT_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(VaultError::io(&path))?;
        Ok(KeySlots { path, file })
    }

    /// Wraps `keys` into slot `slot` and fsyncs the file before returning.
    pub(crate) fn write(
        &self,
        slot: u64,
        subject: &SubjectId,
        keys: &SubjectKeys,
        wrap_key: &[u8; 32],
    ) -> Result<(), VaultError> {
        let mut record = Zeroizing::new([0u8; SLOT_BYTES]);
        record[0] = SLOT_LIVE;
        random_bytes(&mut record[1..13])?;
        record[13..45].copy_from_slice(keys.secret.as_ref());
        record[45..77].copy_from_slice(keys.data.as_ref());
        let cipher = ChaCha20Poly1305::new(wrap_key.into());
        let nonce = *Nonce::from_slice(&record[1..13]);
        let tag = cipher
            .encrypt_in_place_detached(&nonce, &slot_aad(slot, subject), &mut record[13..77])
            .map_err(|_| VaultError::Corrupt("key wrapping failed".into()))?;
        record[77..93].copy_from_slice(&tag);
        let offset = slot_offset(slot)?;
        self.file
            .write_all_at(&record[..], offset)
            .map_err(VaultError::io(&self.path))?;
        self.file.sync_all().map_err(VaultError::io(&self.path))
    }

    /// Reads and unwraps slot `slot`, which must belong to `subject`.
    pub(crate) fn read(
        &self,
        slot: u64,
        subject: &SubjectId,
        wrap_key: &[u8; 32],
    ) -> Result<SubjectKeys, VaultError> {
        let mut record = Zeroizing::new([0u8; SLOT_BYTES]);
        let offset = slot_offset(slot)?;
        self.file
            .read_exact_at(&mut record[..], offset)
            .map_err(|e| {
                if e.kind() == ErrorKind::UnexpectedEof {
                    VaultError::Corrupt(format!("key slot {slot} of subject {subject} is missing"))
                } else {
                    VaultError::io(&self.path)(e)
                }
            })?;
        if record[0] != SLOT_LIVE {
            return Err(VaultError::Corrupt(format!(
                "key slot {slot} of subject {subject} is empty"
            )));
        }
        let cipher = ChaCha20Poly1305::new(wrap_key.into());
        let nonce = *Nonce::from_slice(&record[1..13]);
        let tag = *Tag::from_slice(&record[77..93]);
        cipher
            .decrypt_in_place_detached(&nonce, &slot_aad(slot, subject), &mut record[13..77], &tag)
            .map_err(|_| {
                VaultError::Corrupt(format!(
                    "key slot {slot} of subject {subject} does not authenticate"
                ))
            })?;
        let mut secret = Zeroizing::new([0u8; 32]);
        let mut data = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&record[13..45]);
        data.copy_from_slice(&record[45..77]);
        Ok(SubjectKeys { secret, data })
    }

    /// Overwrites slot `slot` with zeros in place and fsyncs: the crypto-shredding step.
    pub(crate) fn shred(&self, slot: u64) -> Result<(), VaultError> {
        let offset = slot_offset(slot)?;
        let len = self
            .file
            .metadata()
            .map_err(VaultError::io(&self.path))?
            .len();
        if offset >= len {
            // The slot was never written (or the file was truncated): nothing to destroy.
            return Ok(());
        }
        self.file
            .write_all_at(&[0u8; SLOT_BYTES], offset)
            .map_err(VaultError::io(&self.path))?;
        self.file.sync_all().map_err(VaultError::io(&self.path))
    }
}
