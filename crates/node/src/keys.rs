//! The node's key folder, `DATA/keys/`: the log key and the keys of the actors the embedded
//! default signs for.
//!
//! One file per key, mode 0600, in the one key-file format ([`deedlog_core::keyfile`]),
//! named after the actor with `/` replaced by `_` (`authority_housing.key`, `agent_AT-0001.key`),
//! and `log.key` for the log. Files are written to a temporary name, fsynced, renamed and the
//! folder fsynced, so a key is on disk before anything signed with it reaches the log.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use deedlog_core::{SecretKey, keyfile};

use crate::NodeError;

/// The log key's file name.
pub const LOG_KEY_FILE: &str = "log.key";

/// The file name of an actor's key.
#[must_use]
pub fn file_name(actor: &str) -> String {
    format!("{}.key", actor.replace('/', "_"))
}

/// A fresh key from the operating system's random number generator.
#[must_use]
pub fn generate() -> SecretKey {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    SecretKey::from_seed(&seed)
}

/// Reads a key file.
///
/// # Errors
/// [`NodeError::Keys`] when the file is unreadable, too large or not a key file.
pub fn read(path: &Path) -> Result<SecretKey, NodeError> {
    use std::io::Read as _;
    let bad = |why: String| NodeError::Keys(format!("{}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    // One byte more than the limit is read, so that a larger file is refused, not cut.
    file.take(keyfile::KEY_FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(e.to_string()))?;
    keyfile::decode(&text).map_err(|e| bad(e.to_string()))
}

fn sync_dir(dir: &Path) -> Result<(), NodeError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NodeError::io(dir, e))
}

/// Writes a key file durably with mode 0600 (replacing nothing: an existing file is an error).
///
/// # Errors
/// I/O errors; [`NodeError::Keys`] if the file exists.
pub fn write(path: &Path, secret: &SecretKey) -> Result<(), NodeError> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Err(NodeError::Keys(format!(
            "{} exists; refusing to overwrite a key",
            path.display()
        )));
    }
    let text = keyfile::encode(secret);
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| NodeError::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| NodeError::io(&tmp, e))?;
    f.sync_all().map_err(|e| NodeError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NodeError::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The keys a node holds: the log key and actor keys by actor id.
#[derive(Clone)]
pub struct NodeKeys {
    dir: PathBuf,
    log: SecretKey,
    actors: BTreeMap<String, SecretKey>,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("dir", &self.dir)
            .field("actors", &self.actors.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Whether the data folder `data` already holds a log: a verifier key was published
/// (`log.vkey`) or a segment file exists. The log key of such a folder is never made anew: every
/// checkpoint already on the log, and every copy of `log.vkey` verifiers hold, names the old one.
#[must_use]
pub fn data_has_log(data: &Path) -> bool {
    data.join(VKEY_FILE).exists()
        || std::fs::read_dir(data.join("log")).is_ok_and(|items| {
            items
                .filter_map(Result::ok)
                .any(|item| item.file_name().to_string_lossy().ends_with(".seg"))
        })
}

/// The published verifier key's file name, in the data folder.
pub const VKEY_FILE: &str = "log.vkey";

/// Publishes the log's verifier key as `DATA/log.vkey` (written once, durably), or checks that
/// the one already there is this key: it is never overwritten, since verifiers pin it.
///
/// # Errors
/// I/O errors; [`NodeError::Keys`] when the file names another key or origin.
pub fn publish_vkey(data: &Path, vkey: &str) -> Result<(), NodeError> {
    use std::io::Read as _;
    let path = data.join(VKEY_FILE);
    match std::fs::File::open(&path) {
        Ok(file) => {
            let mut text = String::new();
            file.take(keyfile::KEY_FILE_BYTES_MAX)
                .read_to_string(&mut text)
                .map_err(|e| NodeError::io(&path, e))?;
            if text.trim() == vkey {
                Ok(())
            } else {
                Err(NodeError::Keys(format!(
                    "{} names {:?}, but this node's log key and origin give {vkey:?}; refusing \
                     to overwrite a published verifier key (was the origin or DATA/keys/{LOG_KEY_FILE} \
                     changed?)",
                    path.display(),
                    text.trim()
                )))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = path.with_extension("vkey.tmp");
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| NodeError::io(&tmp, e))?;
            f.write_all(format!("{vkey}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| NodeError::io(&tmp, e))?;
            // A hard link, unlike a rename, fails if the name appeared meanwhile: never replace.
            std::fs::hard_link(&tmp, &path).map_err(|e| NodeError::io(&path, e))?;
            let _ = std::fs::remove_file(&tmp);
            sync_dir(data)
        }
        Err(e) => Err(NodeError::io(&path, e)),
    }
}

impl NodeKeys {
    /// Loads every key file of `dir`, creating the folder (mode 0700), and the log key if absent
    /// and `has_log` is false. A missing log key for an existing log is an error, never a new
    /// key: the log's checkpoints and its published `log.vkey` name the old one.
    ///
    /// # Errors
    /// I/O errors, a malformed key file, a missing log key when `has_log`.
    pub fn load_or_create(dir: &Path, has_log: bool) -> Result<Self, NodeError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| NodeError::io(dir, e))?;
        let log_path = dir.join(LOG_KEY_FILE);
        let log = if log_path.exists() {
            read(&log_path)?
        } else if has_log {
            return Err(NodeError::Keys(format!(
                "{} is missing, but this data folder already holds a log (log.vkey or segments \
                 in log/); restore the key file from a backup — a new key would sign checkpoints \
                 that no verifier of this log trusts",
                log_path.display()
            )));
        } else {
            let k = generate();
            write(&log_path, &k)?;
            k
        };
        let mut actors = BTreeMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| NodeError::io(dir, e))?;
        for item in entries {
            let item = item.map_err(|e| NodeError::io(dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".key") else {
                continue;
            };
            if name == LOG_KEY_FILE {
                continue;
            }
            let actor = stem.replacen('_', "/", 1);
            actors.insert(actor, read(&item.path())?);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            log,
            actors,
        })
    }

    /// The log's key.
    #[must_use]
    pub fn log(&self) -> &SecretKey {
        &self.log
    }

    /// The key of `actor`, if this node holds it.
    #[must_use]
    pub fn get(&self, actor: &str) -> Option<&SecretKey> {
        self.actors.get(actor)
    }

    /// The actors this node holds keys for.
    pub fn actors(&self) -> impl Iterator<Item = &str> {
        self.actors.keys().map(String::as_str)
    }

    /// The key of `actor`, generated and written durably if this node has none yet.
    ///
    /// # Errors
    /// I/O errors.
    pub fn ensure(&mut self, actor: &str) -> Result<SecretKey, NodeError> {
        if let Some(k) = self.actors.get(actor) {
            return Ok(k.clone());
        }
        let k = generate();
        write(&self.dir.join(file_name(actor)), &k)?;
        self.actors.insert(actor.to_owned(), k.clone());
        Ok(k)
    }
}
