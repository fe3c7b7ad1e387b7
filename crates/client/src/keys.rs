//! Key files and the keys folder of a data directory.
//!
//! A key file is in the one key-file format ([`deedlog_core::keyfile`]). The node writes
//! one per actor of the embedded default under `DATA/keys/`, named after the actor id with `/`
//! replaced by `_` plus `.key` (`authority_housing.key`, `agent_AT-0001.key`, `log.key`), and
//! the log's verifier key to `DATA/log.vkey` (see docs/API.md).

use std::path::{Path, PathBuf};

use deedlog_core::{SecretKey, keyfile};

use crate::actor::Actor;
use crate::error::ClientError;

/// The `format` of a key file.
pub const KEY_FORMAT: &str = keyfile::FORMAT;

fn key_error(path: &Path, reason: impl Into<String>) -> ClientError {
    ClientError::KeyFile {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn read_small(path: &Path) -> Result<String, ClientError> {
    let meta = std::fs::metadata(path).map_err(|e| key_error(path, e.to_string()))?;
    if meta.len() > keyfile::KEY_FILE_BYTES_MAX {
        return Err(key_error(path, "larger than a key file can be"));
    }
    std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))
}

/// Reads a key file and checks the public key matches the seed.
///
/// # Errors
/// [`ClientError::KeyFile`].
pub fn read_key(path: &Path) -> Result<SecretKey, ClientError> {
    keyfile::decode(&read_small(path)?).map_err(|e| key_error(path, e.to_string()))
}

/// The keys folder of a data directory (`DATA/keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    /// The keys folder itself.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The keys folder of a data directory: `DATA/keys`.
    #[must_use]
    pub fn of_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join("keys"))
    }

    /// The folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file of an actor: its id with `/` replaced by `_`, plus `.key`.
    #[must_use]
    pub fn file_of(&self, actor: &str) -> PathBuf {
        self.dir.join(format!("{}.key", actor.replace('/', "_")))
    }

    /// Whether the folder holds a key for `actor`.
    #[must_use]
    pub fn has(&self, actor: &str) -> bool {
        self.file_of(actor).is_file()
    }

    /// The actor with its key from the folder.
    ///
    /// # Errors
    /// [`ClientError::KeyFile`] when missing or malformed.
    pub fn actor(&self, actor: &str) -> Result<Actor, ClientError> {
        Ok(Actor::new(actor, read_key(&self.file_of(actor))?))
    }

    /// The log's verifier key: `log.vkey` beside the keys folder (`DATA/log.vkey`), else in it.
    ///
    /// # Errors
    /// [`ClientError::KeyFile`] when neither exists.
    pub fn log_vkey(&self) -> Result<String, ClientError> {
        let beside = self
            .dir
            .parent()
            .map(|p| p.join("log.vkey"))
            .filter(|p| p.is_file());
        let path = beside.unwrap_or_else(|| self.dir.join("log.vkey"));
        Ok(read_small(&path)?.trim().to_owned())
    }

    /// The actor ids of every key file in the folder whose id starts with `prefix`
    /// (e.g. `agent/`), sorted.
    ///
    /// # Errors
    /// [`ClientError::KeyFile`] when the folder can't be read.
    pub fn actors_with_prefix(&self, prefix: &str) -> Result<Vec<String>, ClientError> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| key_error(&self.dir, e.to_string()))?;
        let file_prefix = prefix.replace('/', "_");
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".key").map(str::to_owned))
            .filter(|stem| stem.starts_with(&file_prefix))
            .map(|stem| stem.replacen('_', "/", 1))
            .collect();
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_key(dir: &Path, actor: &str, seed: [u8; 32]) {
        let s = SecretKey::from_seed(&seed);
        let text = serde_json::json!({
            "format": KEY_FORMAT, "seed": deedlog_core::keys::base64(&seed), "public": s.public().to_base64(),
        });
        std::fs::write(
            dir.join(format!("{}.key", actor.replace('/', "_"))),
            text.to_string(),
        )
        .unwrap();
    }

    #[test]
    fn reads_actors_and_lists_them() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        write_key(&keys, "agent/AT-0002", [2; 32]);
        write_key(&keys, "agent/AT-0001", [1; 32]);
        write_key(&keys, "authority/housing", [3; 32]);
        std::fs::write(tmp.path().join("log.vkey"), "log+abcd+xyz\n").unwrap();
        let dir = KeyDir::of_data_dir(tmp.path());
        let a = dir.actor("agent/AT-0001").unwrap();
        assert_eq!(a.key(), SecretKey::from_seed(&[1; 32]).public().to_base64());
        assert_eq!(
            dir.actors_with_prefix("agent/").unwrap(),
            vec!["agent/AT-0001", "agent/AT-0002"]
        );
        assert_eq!(dir.log_vkey().unwrap(), "log+abcd+xyz");
        assert!(dir.actor("bank/BK-01").is_err());
        std::fs::write(dir.file_of("bank/BK-01"), "{\"format\":\"x\"}").unwrap();
        assert!(matches!(
            dir.actor("bank/BK-01"),
            Err(ClientError::KeyFile { .. })
        ));
    }
}
