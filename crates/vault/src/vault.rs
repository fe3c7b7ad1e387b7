//! The vault itself: subjects, commitments, encrypted fields, erasure and compaction.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{Transactional, Tree};

use crate::durable::{sync_dir, sync_tree};
use crate::input::{check_field, check_value, normalize_id_number, normalize_phone};
use crate::keys::{KEY_FILE_NAME, KeySlots, MasterKeys, SubjectKeys, hmac_sha256, random_bytes};
use crate::types::SUBJECT_ID_BYTES;
use crate::{Commitment, ErasureReceipt, SubjectId, SubjectKind, VaultError};

/// sled's folder inside the vault folder.
const DB_DIR: &str = "db";
/// A compaction's new database while it is being built.
const DB_COMPACT_DIR: &str = "db.compact";
/// The old database while a compaction swaps it out.
const DB_OLD_DIR: &str = "db.old";

const META_VERSION: &[u8] = b"version";
const META_KEY_CHECK: &[u8] = b"key_check";
const META_SLOT_NEXT: &[u8] = b"slot_next";
const META_SHRED_PREFIX: &[u8] = b"shred/";
const FORMAT_VERSION: u64 = 1;

const COMMIT_TAG: &[u8] = b"deedlog/commit/v1\0";
const DATA_AAD_TAG: &[u8] = b"deedlog/vault/data/v1\0";
const DATA_FORMAT: u8 = 1;
const ERASURE_FIELD: &str = "vault.erasure";

/// What the `subjects` tree holds under a subject id (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum SubjectRecord {
    Live {
        kind: SubjectKind,
        /// The subject's slot in the key-slot file.
        slot: u64,
        /// The subject's key in the `index` tree (hex), so erasure can remove it.
        index_key: String,
        /// Other subjects of the same person (a phone subject and its ID subject).
        #[serde(default)]
        links: Vec<SubjectId>,
    },
    Erased {
        kind: SubjectKind,
        receipt: ErasureReceipt,
    },
}

/// The personal-data vault. See the crate documentation for the formulas and the layout.
///
/// A `Vault` is `Send + Sync`: reads run concurrently; writes (creating subjects, `put`, `link`,
/// `erase`) are serialized by an internal lock, and each returns only after it is durable.
pub struct Vault {
    dir: PathBuf,
    db: sled::Db,
    meta: Tree,
    index: Tree,
    subjects: Tree,
    data: Tree,
    master: MasterKeys,
    slots: KeySlots,
    write_lock: Mutex<()>,
    /// The database's page cache, kept for the fresh database a compaction writes.
    cache_bytes: u64,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print keys.
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn abort<T>(e: VaultError) -> Result<T, ConflictableTransactionError<VaultError>> {
    Err(ConflictableTransactionError::Abort(e))
}

fn encode_record(record: &SubjectRecord) -> Result<Vec<u8>, VaultError> {
    serde_json::to_vec(record).map_err(|e| VaultError::Corrupt(format!("subject record: {e}")))
}

fn decode_record(bytes: &[u8]) -> Result<SubjectRecord, VaultError> {
    serde_json::from_slice(bytes).map_err(|e| VaultError::Corrupt(format!("subject record: {e}")))
}

fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, VaultError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| VaultError::Corrupt(format!("{what} is not 8 bytes")))?;
    Ok(u64::from_be_bytes(array))
}

fn decode_subject_id(bytes: &[u8]) -> Result<SubjectId, VaultError> {
    let array: [u8; SUBJECT_ID_BYTES] = bytes
        .try_into()
        .map_err(|_| VaultError::Corrupt("an index entry is not a subject id".into()))?;
    Ok(SubjectId(array))
}

fn data_key(subject: &SubjectId, field: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(SUBJECT_ID_BYTES + field.len());
    key.extend_from_slice(subject.as_bytes());
    key.extend_from_slice(field.as_bytes());
    key
}

fn data_aad(subject: &SubjectId, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DATA_AAD_TAG.len() + SUBJECT_ID_BYTES + field.len());
    aad.extend_from_slice(DATA_AAD_TAG);
    aad.extend_from_slice(subject.as_bytes());
    aad.extend_from_slice(field.as_bytes());
    aad
}

/// `HMAC-SHA-256(subject_secret, "deedlog/commit/v1\0" || field || 0x00 || value)`.
fn commitment(secret: &[u8; 32], field: &str, value: &[u8]) -> Commitment {
    Commitment(hmac_sha256(
        secret,
        &[COMMIT_TAG, field.as_bytes(), b"\0", value],
    ))
}

fn shred_key(slot: u64) -> Vec<u8> {
    let mut key = META_SHRED_PREFIX.to_vec();
    key.extend_from_slice(&slot.to_be_bytes());
    key
}

/// Finishes or rolls back a compaction that a crash interrupted (see [`Vault::compact`]).
fn recover_compaction(dir: &Path) -> Result<(), VaultError> {
    let db = dir.join(DB_DIR);
    let compact = dir.join(DB_COMPACT_DIR);
    let old = dir.join(DB_OLD_DIR);
    if old.exists() {
        if db.exists() {
            // The swap finished; only the old copy is left to delete.
            std::fs::remove_dir_all(&old).map_err(VaultError::io(&old))?;
        } else {
            // The crash fell between the two renames: put the old database back.
            std::fs::rename(&old, &db).map_err(VaultError::io(&db))?;
        }
    }
    if compact.exists() {
        std::fs::remove_dir_all(&compact).map_err(VaultError::io(&compact))?;
    }
    sync_dir(dir)
}

/// The vault database's page cache unless the caller says otherwise.
pub const CACHE_BYTES_DEFAULT: u64 = 64 << 20;

/// How long [`open_db`] waits for the database's file lock to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the vault's sled database.
///
/// sled 0.34 finishes writing a dropped database on its own background threads, which hold the
/// file lock for a short while after the last handle is gone; a reopen in the same process (a
/// compaction, a test) can meet that lock. This waits for it up to [`LOCK_WAIT`]; a lock still
/// held after that is another process's, and its error is returned.
fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, VaultError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
        {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return Ok(r?),
        }
    }
}

impl Vault {
    /// Opens the vault in folder `dir`, creating the folder, the key file and the database on
    /// first use.
    ///
    /// The key file (`vault.key`, mode 0600) is generated from the OS random number generator at
    /// first open and is refused later if it is missing, malformed, readable by others or from
    /// another vault. Interrupted erasures and compactions are completed here.
    ///
    /// # Errors
    /// [`VaultError::KeyFileMissing`], [`VaultError::KeyFileInvalid`],
    /// [`VaultError::KeyFilePermissions`], [`VaultError::Io`], [`VaultError::Store`] (for
    /// example when another process has the vault open).
    pub fn open(dir: impl AsRef<Path>) -> Result<Vault, VaultError> {
        Self::open_with_cache(dir, CACHE_BYTES_DEFAULT)
    }

    /// As [`Vault::open`], with a page cache of `cache_bytes` for the vault's database.
    ///
    /// # Errors
    /// As [`Vault::open`].
    pub fn open_with_cache(dir: impl AsRef<Path>, cache_bytes: u64) -> Result<Vault, VaultError> {
        let dir = dir.as_ref().to_owned();
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(VaultError::io(&dir))?;
        }
        recover_compaction(&dir)?;
        let db = open_db(&dir.join(DB_DIR), cache_bytes)?;
        let meta = db.open_tree("meta")?;
        let index = db.open_tree("index")?;
        let subjects = db.open_tree("subjects")?;
        let data = db.open_tree("data")?;

        let key_path = dir.join(KEY_FILE_NAME);
        let stored_check = meta.get(META_KEY_CHECK)?;
        let master = match (MasterKeys::load(&key_path)?, &stored_check) {
            (Some(keys), Some(check)) => {
                if check.as_ref() != keys.check_value() {
                    return Err(VaultError::KeyFileInvalid {
                        path: key_path,
                        reason: "it belongs to another vault",
                    });
                }
                keys
            }
            (None, Some(_)) => return Err(VaultError::KeyFileMissing(dir)),
            (Some(keys), None) => keys,
            (None, None) => MasterKeys::create(&key_path)?,
        };
        let slots = KeySlots::open(&dir)?;
        let vault = Vault {
            dir,
            db,
            meta,
            index,
            subjects,
            data,
            master,
            slots,
            write_lock: Mutex::new(()),
            cache_bytes,
        };
        if stored_check.is_none() {
            vault
                .meta
                .insert(META_VERSION, &FORMAT_VERSION.to_be_bytes())?;
            vault
                .meta
                .insert(META_KEY_CHECK, &vault.master.check_value())?;
            sync_dir(&vault.dir)?;
            vault.persist()?;
        } else {
            let version = vault
                .meta
                .get(META_VERSION)?
                .map(|v| decode_u64(&v, "the format version"));
            if version.transpose()? != Some(FORMAT_VERSION) {
                return Err(VaultError::Corrupt("unknown vault format version".into()));
            }
        }
        vault.finish_shreds()?;
        Ok(vault)
    }

    /// The vault's folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes everything written so far durable: `flush()` (which on Linux does not `fsync`, sled
    /// issue #1452), then `fsync` of every file and folder of the database ([`sync_tree`]).
    fn persist(&self) -> Result<(), VaultError> {
        self.db.flush()?;
        sync_tree(&self.dir.join(DB_DIR))
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data of its own (sled and the slot file are consistent after every
        // step), so a panic in another writer leaves nothing to repair.
        self.write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Zeroes the key slots of erasures whose database step committed but whose slot step may not
    /// have (a crash in between).
    fn finish_shreds(&self) -> Result<(), VaultError> {
        let mut done = Vec::new();
        for item in self.meta.scan_prefix(META_SHRED_PREFIX) {
            let (key, _) = item?;
            let slot = decode_u64(&key[META_SHRED_PREFIX.len()..], "a pending shred's slot")?;
            self.slots.shred(slot)?;
            done.push(key);
        }
        if !done.is_empty() {
            for key in done {
                self.meta.remove(key)?;
            }
            self.persist()?;
        }
        Ok(())
    }

    /// The keyed index of an identifier:
    /// `HMAC-SHA-256(index_key, kind || 0x00 || normalized identifier)` with `kind` one of
    /// `"id_number"`, `"phone"`.
    fn index_key(&self, kind: SubjectKind, normalized: &str) -> [u8; 32] {
        hmac_sha256(
            &self.master.index,
            &[kind.as_str().as_bytes(), b"\0", normalized.as_bytes()],
        )
    }

    /// The subject of the person with this ID number, created (durably) on first use.
    ///
    /// The number is normalized first ([`normalize_id_number`]); the caller checks its format.
    /// The same ID number always finds the same subject, until that subject is erased; after
    /// that it finds a new subject with a new id and new keys, unlinkable to the erased one.
    ///
    /// # Errors
    /// [`VaultError::IdentifierInvalid`], or a storage error.
    pub fn subject_by_id_number(&self, id_number: &str) -> Result<SubjectId, VaultError> {
        let normalized = normalize_id_number(id_number)?;
        self.subject_by(SubjectKind::IdNumber, &normalized)
    }

    /// The subject of a phone-only registrant, created (durably) on first use. See
    /// [`Vault::link`] for how it joins the person's ID subject after real-name verification.
    ///
    /// # Errors
    /// [`VaultError::IdentifierInvalid`], or a storage error.
    pub fn subject_by_phone(&self, phone: &str) -> Result<SubjectId, VaultError> {
        let normalized = normalize_phone(phone)?;
        self.subject_by(SubjectKind::Phone, &normalized)
    }

    fn subject_by(&self, kind: SubjectKind, normalized: &str) -> Result<SubjectId, VaultError> {
        let index_key = self.index_key(kind, normalized);
        if let Some(found) = self.index.get(index_key)? {
            return decode_subject_id(&found);
        }
        let _guard = self.lock();
        if let Some(found) = self.index.get(index_key)? {
            return decode_subject_id(&found);
        }
        let slot = match self.meta.get(META_SLOT_NEXT)? {
            Some(bytes) => decode_u64(&bytes, "the next key slot")?,
            None => 0,
        };
        let subject = loop {
            let mut bytes = [0u8; SUBJECT_ID_BYTES];
            random_bytes(&mut bytes)?;
            // Ids are never reused, not even those of erased subjects (their tombstones stay).
            if !self.subjects.contains_key(bytes)? {
                break SubjectId(bytes);
            }
        };
        let keys = SubjectKeys::generate()?;
        // The slot first: a crash before the database step leaves an unreferenced slot that the
        // next subject overwrites, never a subject without keys.
        self.slots.write(slot, &subject, &keys, &self.master.wrap)?;
        let record = encode_record(&SubjectRecord::Live {
            kind,
            slot,
            index_key: hex::encode(index_key),
            links: Vec::new(),
        })?;
        let slot_next = slot
            .checked_add(1)
            .ok_or_else(|| VaultError::Corrupt("key slots exhausted".into()))?;
        (&self.meta, &self.index, &self.subjects).transaction(|(meta, index, subjects)| {
            index.insert(&index_key, subject.as_bytes())?;
            subjects.insert(subject.as_bytes(), record.as_slice())?;
            meta.insert(META_SLOT_NEXT, &slot_next.to_be_bytes())?;
            Ok(())
        })?;
        self.persist()?;
        Ok(subject)
    }

    fn record(&self, subject: &SubjectId) -> Result<SubjectRecord, VaultError> {
        match self.subjects.get(subject.as_bytes())? {
            Some(bytes) => decode_record(&bytes),
            None => Err(VaultError::SubjectUnknown(*subject)),
        }
    }

    fn live_keys(&self, subject: &SubjectId) -> Result<SubjectKeys, VaultError> {
        match self.record(subject)? {
            SubjectRecord::Erased { .. } => Err(VaultError::Erased(*subject)),
            SubjectRecord::Live { slot, .. } => {
                match self.slots.read(slot, subject, &self.master.wrap) {
                    Ok(keys) => Ok(keys),
                    // An erasure may have shredded the slot after we read the record.
                    Err(e) => match self.record(subject)? {
                        SubjectRecord::Erased { .. } => Err(VaultError::Erased(*subject)),
                        SubjectRecord::Live { .. } => Err(e),
                    },
                }
            }
        }
    }

    /// The commitment of `subject` to `value` in `field`, as the public log holds it:
    ///
    /// ```text
    /// commitment = HMAC-SHA-256(subject_secret, "deedlog/commit/v1\0" || field || 0x00 || value)
    /// ```
    ///
    /// written as 64 lower-case hex digits. `field` is 1–64 bytes of `a-z 0-9 _ . -` (so it holds
    /// no NUL and the encoding is unambiguous); `value` is the UTF-8 text, already normalized by
    /// the caller (NFC; [`normalize_id_number`] and [`normalize_phone`] for identifiers). The
    /// same subject, field and value always give the same commitment; another subject or another
    /// field gives an unrelated one, and without the subject's secret nobody can test a guess.
    ///
    /// # Errors
    /// [`VaultError::FieldInvalid`], [`VaultError::ValueTooLarge`],
    /// [`VaultError::Erased`], [`VaultError::SubjectUnknown`], or a storage error.
    pub fn commit(
        &self,
        subject: &SubjectId,
        field: &str,
        value: &str,
    ) -> Result<Commitment, VaultError> {
        check_field(field)?;
        check_value(value.as_bytes())?;
        let keys = self.live_keys(subject)?;
        Ok(commitment(&keys.secret, field, value.as_bytes()))
    }

    /// Stores `value` in `field` of `subject`, replacing an earlier value, durably.
    ///
    /// ```text
    /// stored = 0x01 || nonce (12 random bytes) || ChaCha20-Poly1305(data_key, nonce, value,
    ///                                  aad = "deedlog/vault/data/v1\0" || subject_id || field)
    /// ```
    ///
    /// The associated data binds the ciphertext to its subject and field, so a stored value
    /// moved under another subject or field fails to decrypt instead of being misread.
    ///
    /// # Errors
    /// [`VaultError::FieldInvalid`], [`VaultError::ValueTooLarge`], [`VaultError::Erased`],
    /// [`VaultError::SubjectUnknown`], or a storage error.
    pub fn put(&self, subject: &SubjectId, field: &str, value: &[u8]) -> Result<(), VaultError> {
        check_field(field)?;
        check_value(value)?;
        let _guard = self.lock();
        let keys = self.live_keys(subject)?;
        let mut nonce = [0u8; 12];
        random_bytes(&mut nonce)?;
        let cipher = ChaCha20Poly1305::new(keys.data.as_ref().into());
        let aad = data_aad(subject, field);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Corrupt("encryption failed".into()))?;
        let mut stored = Vec::with_capacity(1 + nonce.len() + sealed.len());
        stored.push(DATA_FORMAT);
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        self.data.insert(data_key(subject, field), stored)?;
        self.persist()
    }

    /// The value stored in `field` of `subject`, or `None` when nothing is stored there.
    ///
    /// # Errors
    /// [`VaultError::FieldInvalid`], [`VaultError::Erased`], [`VaultError::SubjectUnknown`],
    /// [`VaultError::Corrupt`] when the stored bytes fail authentication, or a storage error.
    pub fn get(&self, subject: &SubjectId, field: &str) -> Result<Option<Vec<u8>>, VaultError> {
        check_field(field)?;
        let keys = self.live_keys(subject)?;
        let Some(stored) = self.data.get(data_key(subject, field))? else {
            // An erasure between our key read and this lookup removes the data: say so.
            return match self.record(subject)? {
                SubjectRecord::Erased { .. } => Err(VaultError::Erased(*subject)),
                SubjectRecord::Live { .. } => Ok(None),
            };
        };
        if stored.len() < 1 + 12 + 16 || stored[0] != DATA_FORMAT {
            return Err(VaultError::Corrupt(format!(
                "stored field {field} of {subject} is malformed"
            )));
        }
        let cipher = ChaCha20Poly1305::new(keys.data.as_ref().into());
        let aad = data_aad(subject, field);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&stored[1..13]),
                Payload {
                    msg: &stored[13..],
                    aad: &aad,
                },
            )
            .map_err(|_| {
                VaultError::Corrupt(format!(
                    "stored field {field} of {subject} does not authenticate"
                ))
            })?;
        Ok(Some(plain))
    }

    /// The names of the fields stored for `subject`, in byte order.
    ///
    /// # Errors
    /// [`VaultError::Erased`], [`VaultError::SubjectUnknown`], or a storage error.
    pub fn fields(&self, subject: &SubjectId) -> Result<Vec<String>, VaultError> {
        if let SubjectRecord::Erased { .. } = self.record(subject)? {
            return Err(VaultError::Erased(*subject));
        }
        let mut names = Vec::new();
        for item in self.data.scan_prefix(subject.as_bytes()) {
            let (key, _) = item?;
            let name = std::str::from_utf8(&key[SUBJECT_ID_BYTES..])
                .map_err(|_| VaultError::Corrupt("a field name is not UTF-8".into()))?;
            names.push(name.to_owned());
        }
        Ok(names)
    }

    /// Whether `subject` was erased.
    ///
    /// # Errors
    /// [`VaultError::SubjectUnknown`], or a storage error.
    pub fn is_erased(&self, subject: &SubjectId) -> Result<bool, VaultError> {
        Ok(matches!(
            self.record(subject)?,
            SubjectRecord::Erased { .. }
        ))
    }

    /// How a subject is found: by ID number or by phone number.
    ///
    /// # Errors
    /// [`VaultError::SubjectUnknown`], or a storage error.
    pub fn kind(&self, subject: &SubjectId) -> Result<SubjectKind, VaultError> {
        Ok(match self.record(subject)? {
            SubjectRecord::Live { kind, .. } | SubjectRecord::Erased { kind, .. } => kind,
        })
    }

    /// Records that two subjects are the same person, durably; linking is symmetric and
    /// idempotent.
    ///
    /// The intended use: a party registers with a phone number only, so its phone commitment is
    /// made under a phone subject; when the identity authority attests its real-name check, the
    /// ID subject (found by the ID number) gives the name and ID-number commitments, and the
    /// party record on the log names both commitments. The two subjects keep their own secrets
    /// (the phone commitment already on the log stays valid); this link lets
    /// [`Vault::erase_person`] erase both together.
    ///
    /// # Errors
    /// [`VaultError::Erased`], [`VaultError::SubjectUnknown`], or a storage error.
    pub fn link(&self, a: &SubjectId, b: &SubjectId) -> Result<(), VaultError> {
        let _guard = self.lock();
        for subject in [a, b] {
            if let SubjectRecord::Erased { .. } = self.record(subject)? {
                return Err(VaultError::Erased(*subject));
            }
        }
        if a == b {
            return Ok(());
        }
        self.subjects.transaction(|subjects| {
            for (this, other) in [(a, b), (b, a)] {
                let Some(bytes) = subjects.get(this.as_bytes())? else {
                    return abort(VaultError::SubjectUnknown(*this));
                };
                let mut record = decode_record(&bytes).or_else(abort)?;
                if let SubjectRecord::Live { links, .. } = &mut record
                    && !links.contains(other)
                {
                    links.push(*other);
                }
                subjects.insert(this.as_bytes(), encode_record(&record).or_else(abort)?)?;
            }
            Ok(())
        })?;
        self.persist()
    }

    /// The subjects linked to `subject` (see [`Vault::link`]).
    ///
    /// # Errors
    /// [`VaultError::Erased`], [`VaultError::SubjectUnknown`], or a storage error.
    pub fn links(&self, subject: &SubjectId) -> Result<Vec<SubjectId>, VaultError> {
        match self.record(subject)? {
            SubjectRecord::Live { links, .. } => Ok(links),
            SubjectRecord::Erased { .. } => Err(VaultError::Erased(*subject)),
        }
    }

    /// Erases `subject`: crypto-shredding of its keys and removal of its data.
    ///
    /// In one sled transaction, durably: the subject's record becomes a tombstone holding the
    /// receipt, its index entry (the link from ID or phone number to the subject) and all its
    /// stored fields are removed, it is unlinked from other subjects, and a "pending shred" mark
    /// is set. Then its key slot is overwritten with zeros in place and fsynced (a crash in
    /// between is finished by the next [`Vault::open`]). From then on `get`, `put`, `commit` on
    /// it fail with [`VaultError::Erased`], the same identifier finds a new subject, and the
    /// commitments already on the public log can no longer be tested against any guess, while the
    /// log's hashes and signatures still verify. Old copies of removed records may remain inside
    /// sled's files until [`Vault::compact`] rewrites them; none of them is readable without the
    /// destroyed keys.
    ///
    /// Erasing an erased subject returns the same receipt again.
    ///
    /// # Errors
    /// [`VaultError::SubjectUnknown`], or a storage error.
    pub fn erase(&self, subject: &SubjectId) -> Result<ErasureReceipt, VaultError> {
        let _guard = self.lock();
        self.erase_locked(subject)
    }

    fn erase_locked(&self, subject: &SubjectId) -> Result<ErasureReceipt, VaultError> {
        let (kind, slot, index_key, links) = match self.record(subject)? {
            SubjectRecord::Erased { receipt, .. } => return Ok(receipt),
            SubjectRecord::Live {
                kind,
                slot,
                index_key,
                links,
            } => (kind, slot, index_key, links),
        };
        let index_key = hex::decode(&index_key)
            .map_err(|_| VaultError::Corrupt(format!("index key of {subject} is not hex")))?;
        let keys = self.live_keys(subject)?;
        let mut data_keys = Vec::new();
        for item in self.data.scan_prefix(subject.as_bytes()) {
            data_keys.push(item?.0);
        }
        let count = data_keys.len() as u64;
        let receipt = ErasureReceipt {
            subject: *subject,
            erased_fields_count: count,
            commitment: commitment(
                &keys.secret,
                ERASURE_FIELD,
                format!("{subject}:{count}").as_bytes(),
            ),
        };
        drop(keys);
        let tombstone = encode_record(&SubjectRecord::Erased {
            kind,
            receipt: receipt.clone(),
        })?;
        let shred = shred_key(slot);
        (&self.meta, &self.index, &self.subjects, &self.data).transaction(
            |(meta, index, subjects, data): &(
                TransactionalTree,
                TransactionalTree,
                TransactionalTree,
                TransactionalTree,
            )| {
                subjects.insert(subject.as_bytes(), tombstone.as_slice())?;
                index.remove(index_key.as_slice())?;
                for key in &data_keys {
                    data.remove(key)?;
                }
                for other in &links {
                    let Some(bytes) = subjects.get(other.as_bytes())? else {
                        continue;
                    };
                    let mut record = decode_record(&bytes).or_else(abort)?;
                    if let SubjectRecord::Live { links, .. } = &mut record {
                        links.retain(|l| l != subject);
                        subjects
                            .insert(other.as_bytes(), encode_record(&record).or_else(abort)?)?;
                    }
                }
                meta.insert(shred.as_slice(), subject.as_bytes())?;
                Ok(())
            },
        )?;
        self.persist()?;
        self.slots.shred(slot)?;
        // Clearing the mark needs no fsync of its own: if it is lost, the next open shreds an
        // already zeroed slot again, which changes nothing.
        self.meta.remove(shred)?;
        Ok(receipt)
    }

    /// Erases `subject` and every subject linked to it (a person's phone and ID subjects), and
    /// returns one receipt per erased subject, `subject`'s first.
    ///
    /// # Errors
    /// [`VaultError::SubjectUnknown`], or a storage error.
    pub fn erase_person(&self, subject: &SubjectId) -> Result<Vec<ErasureReceipt>, VaultError> {
        let _guard = self.lock();
        let links = match self.record(subject)? {
            SubjectRecord::Live { links, .. } => links,
            SubjectRecord::Erased { .. } => Vec::new(),
        };
        let mut receipts = vec![self.erase_locked(subject)?];
        for other in links {
            receipts.push(self.erase_locked(&other)?);
        }
        Ok(receipts)
    }

    /// Rewrites the database into a fresh folder that holds only the current records, so that
    /// copies of erased records (index entries, ciphertexts, wrapped keys) left inside sled's
    /// log-structured files are physically dropped; returns the reopened vault.
    ///
    /// Run it after erasures (for example daily). Steps: copy every tree into `db.compact`,
    /// make it durable, rename `db` → `db.old` and `db.compact` → `db`, fsync the folder, delete
    /// `db.old`. [`Vault::open`] finishes or rolls back a compaction a crash interrupted.
    ///
    /// # Errors
    /// A storage or I/O error. The vault is consumed either way; when the copy fails the old
    /// database is left in place, so reopen it with [`Vault::open`].
    pub fn compact(self) -> Result<Vault, VaultError> {
        let dir = self.dir.clone();
        let compact_path = dir.join(DB_COMPACT_DIR);
        {
            let _guard = self.lock();
            self.persist()?;
            if compact_path.exists() {
                std::fs::remove_dir_all(&compact_path).map_err(VaultError::io(&compact_path))?;
            }
            let fresh = open_db(&compact_path, self.cache_bytes)?;
            for (name, tree) in [
                ("meta", &self.meta),
                ("index", &self.index),
                ("subjects", &self.subjects),
                ("data", &self.data),
            ] {
                let target = fresh.open_tree(name)?;
                for item in tree.iter() {
                    let (key, value) = item?;
                    target.insert(key, value)?;
                }
            }
            fresh.flush()?;
            drop(fresh);
            sync_tree(&compact_path)?;
        }
        let cache_bytes = self.cache_bytes;
        drop(self);
        let db_path = dir.join(DB_DIR);
        let old_path = dir.join(DB_OLD_DIR);
        std::fs::rename(&db_path, &old_path).map_err(VaultError::io(&old_path))?;
        std::fs::rename(&compact_path, &db_path).map_err(VaultError::io(&db_path))?;
        sync_dir(&dir)?;
        std::fs::remove_dir_all(&old_path).map_err(VaultError::io(&old_path))?;
        sync_dir(&dir)?;
        Vault::open_with_cache(&dir, cache_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `dir`, with its bytes.
    fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    out.push((path, bytes));
                }
            }
        }
        out
    }

    fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
        all_files(dir)
            .into_iter()
            .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
            .map(|(path, _)| path)
            .collect()
    }

    fn slot_record(vault: &Vault, subject: &SubjectId) -> Vec<u8> {
        let SubjectRecord::Live { slot, .. } = vault.record(subject).unwrap() else {
            panic!("subject is not live")
        };
        let bytes = std::fs::read(vault.dir.join(crate::SLOT_FILE_NAME)).unwrap();
        let start = usize::try_from(slot).unwrap() * 128;
        bytes[start..start + 128].to_vec()
    }

    #[test]
    fn erasure_leaves_no_plaintext_or_key_bytes_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Vault::open(tmp.path()).unwrap();
        let id_number = "53010219900307123X";
        let plaintext = "张小明 lives at 五华区翠湖路12号 and this sentence is the plaintext";
        let erased = vault.subject_by_id_number(id_number).unwrap();
        let kept = vault.subject_by_id_number("530103198512120016").unwrap();
        vault.put(&erased, "name", plaintext.as_bytes()).unwrap();
        vault
            .put(&erased, "id_number", id_number.as_bytes())
            .unwrap();
        vault.put(&kept, "name", "李四".as_bytes()).unwrap();

        let keys = vault.live_keys(&erased).unwrap();
        let (secret, data_secret) = (*keys.secret, *keys.data);
        let wrapped = slot_record(&vault, &erased);
        let index_key = vault.index_key(SubjectKind::IdNumber, id_number);
        let ciphertext = vault
            .data
            .get(data_key(&erased, "name"))
            .unwrap()
            .unwrap()
            .to_vec();
        vault.persist().unwrap();

        // The raw keys and the plaintext never reach the disk, not even before erasure.
        for needle in [
            &secret[..],
            &data_secret[..],
            plaintext.as_bytes(),
            id_number.as_bytes(),
        ] {
            assert_eq!(files_containing(tmp.path(), needle), Vec::<PathBuf>::new());
        }
        assert!(
            !files_containing(tmp.path(), &wrapped).is_empty(),
            "the wrapped keys are stored"
        );
        assert!(
            !files_containing(tmp.path(), &index_key).is_empty(),
            "the index entry is stored"
        );
        assert!(
            !files_containing(tmp.path(), &ciphertext).is_empty(),
            "the ciphertext is stored"
        );

        let receipt = vault.erase(&erased).unwrap();
        assert_eq!(receipt.erased_fields_count, 2);
        vault.persist().unwrap();
        for needle in [
            &secret[..],
            &data_secret[..],
            &wrapped[..],
            plaintext.as_bytes(),
        ] {
            assert_eq!(files_containing(tmp.path(), needle), Vec::<PathBuf>::new());
        }
        assert_eq!(slot_record_zeroed(&vault, 0), vec![0u8; 128]);
        // Here sled's `db` file still holds the removed index entry and ciphertext (observed with
        // sled 0.34.7; it is log-structured), which is why `compact` exists. Neither is readable
        // without the destroyed keys, and the test does not depend on sled keeping them.

        // Compaction also drops the stale index entry and ciphertexts from sled's files.
        let vault = vault.compact().unwrap();
        for needle in [&index_key[..], &ciphertext[..], &wrapped[..], &secret[..]] {
            assert_eq!(files_containing(tmp.path(), needle), Vec::<PathBuf>::new());
        }
        assert_eq!(
            vault.get(&kept, "name").unwrap().as_deref(),
            Some("李四".as_bytes())
        );
        assert!(matches!(
            vault.get(&erased, "name"),
            Err(VaultError::Erased(_))
        ));
    }

    fn slot_record_zeroed(vault: &Vault, slot: usize) -> Vec<u8> {
        let bytes = std::fs::read(vault.dir.join(crate::SLOT_FILE_NAME)).unwrap();
        bytes[slot * 128..(slot + 1) * 128].to_vec()
    }

    #[test]
    fn a_ciphertext_moved_to_another_field_or_subject_does_not_decrypt() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Vault::open(tmp.path()).unwrap();
        let a = vault.subject_by_phone("13800000001").unwrap();
        vault.put(&a, "name", b"A").unwrap();
        let stored = vault.data.get(data_key(&a, "name")).unwrap().unwrap();
        vault
            .data
            .insert(data_key(&a, "alias"), stored.clone())
            .unwrap();
        assert!(matches!(
            vault.get(&a, "alias"),
            Err(VaultError::Corrupt(_))
        ));

        let mut flipped = stored.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        vault.data.insert(data_key(&a, "name"), flipped).unwrap();
        assert!(matches!(vault.get(&a, "name"), Err(VaultError::Corrupt(_))));
    }

    #[test]
    fn an_erasure_interrupted_before_the_shred_is_finished_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Vault::open(tmp.path()).unwrap();
        let a = vault.subject_by_id_number("530111200001010011").unwrap();
        let wrapped = slot_record(&vault, &a);
        // Simulate a crash after the database step of an erasure: the pending mark is set, the
        // slot is still intact.
        vault.meta.insert(shred_key(0), a.as_bytes()).unwrap();
        vault.persist().unwrap();
        drop(vault);
        assert!(!files_containing(tmp.path(), &wrapped).is_empty());
        let vault = Vault::open(tmp.path()).unwrap();
        assert_eq!(
            files_containing(tmp.path(), &wrapped),
            Vec::<PathBuf>::new()
        );
        assert!(vault.meta.scan_prefix(META_SHRED_PREFIX).next().is_none());
    }

    #[test]
    fn a_compaction_interrupted_between_renames_is_rolled_back_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Vault::open(tmp.path()).unwrap();
        let a = vault.subject_by_id_number("530112199901010012").unwrap();
        vault.put(&a, "name", b"kept").unwrap();
        drop(vault);
        std::fs::rename(tmp.path().join(DB_DIR), tmp.path().join(DB_OLD_DIR)).unwrap();
        std::fs::create_dir(tmp.path().join(DB_COMPACT_DIR)).unwrap();
        let vault = Vault::open(tmp.path()).unwrap();
        assert_eq!(
            vault.get(&a, "name").unwrap().as_deref(),
            Some(&b"kept"[..])
        );
        assert!(!tmp.path().join(DB_OLD_DIR).exists());
        assert!(!tmp.path().join(DB_COMPACT_DIR).exists());
    }
}
