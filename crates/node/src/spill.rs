//! Where the sequencer's domain state keeps what it does not hold in memory: scratch space in
//! `DATA/state/`, an LSM tree (fjall, the engine of the store's index and of the views) that
//! nothing reads across restarts. Every open removes the folder and replays the log into a fresh
//! one, so the spill is never a second truth that could disagree with the log; a rewind (after a
//! full file system) does the same in a new subfolder.
//!
//! Nothing here is synced: a crash loses the folder's worth, which the next open throws away
//! anyway.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use deedlog_domain::bounded::Spill;

use crate::NodeError;

/// The folder under the data folder.
pub(crate) const STATE_DIR: &str = "state";

/// The largest memtable before it is written out as a table, bytes.
const MEMTABLE_BYTES: u64 = 8 << 20;

/// The spill of one state: its own subfolder of `DATA/state/`, removed when dropped.
pub(crate) struct StateSpill {
    /// The keyspace and its database; taken when dropped, before the folder is removed.
    engine: Option<(fjall::Keyspace, fjall::Database)>,
    dir: PathBuf,
}

/// Subfolders made by this process, so that a rewind never reuses one still open.
static GENERATION: AtomicU64 = AtomicU64::new(0);

impl StateSpill {
    /// Removes whatever an earlier run left in `DATA/state/`.
    ///
    /// # Errors
    /// The folder cannot be removed.
    pub(crate) fn clear(data: &Path) -> Result<(), NodeError> {
        let dir = data.join(STATE_DIR);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NodeError::io(&dir, e)),
        }
    }

    /// A fresh, empty spill in a new subfolder of `DATA/state/`, with a block cache of
    /// `cache_bytes`.
    ///
    /// # Errors
    /// The folder cannot be made or the engine cannot open it.
    pub(crate) fn fresh(data: &Path, cache_bytes: u64) -> Result<Self, NodeError> {
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        let dir = data
            .join(STATE_DIR)
            .join(format!("{}-{generation}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| NodeError::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| NodeError::io(&dir, e))?;
        let engine = |e: fjall::Error| {
            NodeError::Config(format!(
                "the state's scratch store in {} cannot be opened: {e}",
                dir.display()
            ))
        };
        let db = fjall::Database::builder(&dir)
            .cache_size(cache_bytes)
            .max_journaling_size(64 << 20)
            .manual_journal_persist(true)
            .worker_threads(1)
            .open()
            .map_err(engine)?;
        // Most look-ups of a growing state miss (a new party's phone, a new stream): the
        // filters are pinned as the log index's are.
        let tree = db
            .keyspace("state", || {
                deedlog_store::index::pinned(
                    fjall::KeyspaceCreateOptions::default()
                        .max_memtable_size(MEMTABLE_BYTES)
                        .manual_journal_persist(true),
                )
            })
            .map_err(engine)?;
        Ok(Self {
            engine: Some((tree, db)),
            dir,
        })
    }
}

impl Spill for StateSpill {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let Some((tree, _)) = &self.engine else {
            return Err("the state's scratch store is closed".into());
        };
        tree.get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| e.to_string())
    }

    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), String> {
        let Some((tree, db)) = &self.engine else {
            return Err("the state's scratch store is closed".into());
        };
        let mut batch = db.batch().durability(None);
        for (key, value) in writes {
            match value {
                Some(v) => batch.insert(tree, key, v),
                None => batch.remove(tree, key),
            }
        }
        batch.commit().map_err(|e| e.to_string())
    }
}

impl Drop for StateSpill {
    fn drop(&mut self) {
        drop(self.engine.take());
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            tracing::debug!(%error, dir = %self.dir.display(), "the state's scratch folder stays");
        }
    }
}
