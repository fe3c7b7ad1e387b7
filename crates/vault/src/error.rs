//! The vault's typed errors.

use std::path::PathBuf;

use crate::SubjectId;

/// Everything that can go wrong in the vault.
///
/// Input errors (`FieldInvalid`, `ValueTooLarge`, `IdentifierInvalid`) mean the caller passed
/// something the vault refuses; `Erased` and `SubjectUnknown` are states of the vault; the rest
/// are failures of the disk, the key file or the store and should be treated as fatal for the
/// request (nothing half-written is ever reported as success).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The subject was erased: its keys are destroyed, so nothing can be read or committed for it.
    #[error("subject {0} was erased: its personal data and keys are destroyed")]
    Erased(SubjectId),
    /// No subject with this id exists in this vault.
    #[error("subject {0} is not known to this vault")]
    SubjectUnknown(SubjectId),
    /// A field name is empty, too long, not in `[a-z0-9_.-]`, or reserved (`vault.` prefix).
    #[error(
        "field name {0:?} is invalid: 1 to 64 characters from a-z 0-9 _ . - and not starting with \"vault.\""
    )]
    FieldInvalid(String),
    /// A value is larger than the vault accepts.
    #[error("value of {len} bytes is larger than the limit of {max} bytes")]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// An ID number or phone number is empty, too long or contains characters that never occur
    /// in one (the full format check is the caller's; the vault only bounds what it indexes).
    #[error("{kind} is empty, longer than {max} characters or not ASCII letters and digits")]
    IdentifierInvalid {
        /// `"id_number"` or `"phone"`.
        kind: &'static str,
        /// The length limit.
        max: usize,
    },
    /// A subject id is not `sj-` followed by 32 lower-case hex digits.
    #[error("a subject id is \"sj-\" followed by 32 lower-case hex digits")]
    SubjectIdInvalid,
    /// The vault folder holds a database but its key file is missing.
    #[error(
        "the vault at {0} holds data but its key file is missing; restore the key file from backup (a new key would make every subject unreadable)"
    )]
    KeyFileMissing(PathBuf),
    /// The key file is malformed or does not belong to this database.
    #[error("the key file {path} is invalid: {reason}")]
    KeyFileInvalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key file can be read by users other than its owner.
    #[error(
        "the key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Stored bytes failed their integrity check (a wrapped key or a ciphertext did not
    /// authenticate, or a record did not parse).
    #[error("vault data is corrupt: {0}")]
    Corrupt(String),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed")]
    Random,
    /// An I/O error on the vault folder, the key file or the key-slot file.
    #[error("vault I/O on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The embedded store failed (including: another process has this vault open).
    #[error("vault store: {0}")]
    Store(#[source] StoreError),
}

/// An error of the embedded store, kept opaque so that sled stays an implementation detail of
/// the vault (ARCHITECTURE.md: only the store crate names sled in its interface).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(sled::Error);

impl From<sled::Error> for VaultError {
    fn from(e: sled::Error) -> Self {
        VaultError::Store(StoreError(e))
    }
}

impl VaultError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> VaultError {
        let path = path.into();
        move |source| VaultError::Io { path, source }
    }
}

impl From<sled::transaction::TransactionError<VaultError>> for VaultError {
    fn from(e: sled::transaction::TransactionError<VaultError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => VaultError::from(e),
        }
    }
}
