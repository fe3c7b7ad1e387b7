//! deedlog's personal-data vault: names, ID numbers, phone numbers, face-check details and
//! contract terms live here, off the public log, encrypted per subject; the log holds only keyed
//! commitments to them, and erasing a subject destroys its keys (crypto-shredding).
//!
//! # Formulas
//!
//! ```text
//! index entry   = HMAC-SHA-256(index_key, kind || 0x00 || normalized identifier)  -> subject id
//!                 kind = "id_number" | "phone"
//! commitment    = HMAC-SHA-256(subject_secret, "deedlog/commit/v1\0" || field || 0x00 || value)
//!                 written as 64 lower-case hex digits; field = 1..64 of [a-z0-9_.-]
//! stored field  = 0x01 || nonce(12) || ChaCha20-Poly1305(data_key, nonce, value,
//!                 aad = "deedlog/vault/data/v1\0" || subject_id(16) || field)
//! erasure       = commitment(subject, "vault.erasure", "<subject id>:<erased fields count>")
//!                 computed just before the subject's keys are destroyed
//! ```
//!
//! `index_key` is vault-wide (in the key file); `subject_secret` and `data_key` are 32 random
//! bytes per subject, wrapped under the vault's `wrap_key` in an in-place key-slot file (see the
//! `keys` module) so that erasure can really destroy them. A plain hash of an 18-digit ID number
//! can be brute-forced in minutes; a commitment cannot be tested without the subject's secret,
//! and after erasure that secret no longer exists anywhere.
//!
//! # Layout of the vault folder
//!
//! ```text
//! vault.key            master keys (index_key, wrap_key), mode 0600, generated at first open
//! subject-keys.slots   one 128-byte wrapped-key slot per subject, zeroed in place on erasure
//! db/                  sled: trees meta, index, subjects, data
//! ```
//!
//! # Durability
//!
//! Every write returns only after it is durable: sled's `flush()` does not `fsync` on Linux
//! (sled issue #1452), so the vault `fsync`s sled's files itself (the `durable` module).
//!
//! Architecture invariant: nothing in this crate logs, prints or formats key material or
//! plaintext (`Vault`'s `Debug` shows only its folder), and no personal data leaves it except
//! through [`Vault::get`].
#![deny(missing_docs)]

mod durable;
mod error;
pub mod input;
mod keys;
mod types;
mod vault;

pub use error::{StoreError, VaultError};
pub use input::{VALUE_BYTES_MAX, normalize_id_number, normalize_phone};
pub use keys::{KEY_FILE_NAME, SLOT_FILE_NAME};
pub use types::{
    Commitment, CommitmentParseError, ErasureReceipt, SUBJECT_ID_BYTES, SubjectId, SubjectKind,
};
pub use vault::{CACHE_BYTES_DEFAULT, Vault};
