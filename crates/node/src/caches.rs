//! The page caches of the node's embedded databases and the bound of its domain state, in one
//! place.

/// How much memory each embedded database may keep as its cache, and how much of the domain
/// state the sequencer keeps in memory. Together they bound most of a node's memory: a node
/// opened with the defaults holds up to 136 MiB of cached pages, and a domain state of about
/// 23 × 8,192 aggregates and index entries besides what the current batch touches.
///
/// - `index_bytes`: the block cache of the log's index (`DATA/index/`, an LSM tree: stream and
///   nonce keys). It is read on the append path; its Bloom filters and block indexes are held in
///   memory besides, so a look-up that misses reads no block at all.
/// - `views_bytes`: the block cache of the read models (`DATA/views/`, an LSM tree), read by
///   every public look-up and written by the projector behind the log.
/// - `vault_bytes`: the personal-data vault (`DATA/vault/`, sled): small records, read rarely.
/// - `state_bytes`: the block cache of the domain state's scratch store (`DATA/state/`, an LSM
///   tree made afresh on every open), which holds the aggregates the state does not keep.
/// - `state_entries`: how many entries each map of the domain state keeps in memory (parties,
///   listings, stream versions, …): past that, what the last batch did not use is evicted and
///   read back from the scratch store when a command needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caches {
    /// The log index's cache, bytes.
    pub index_bytes: u64,
    /// The views' cache, bytes.
    pub views_bytes: u64,
    /// The vault's cache, bytes.
    pub vault_bytes: u64,
    /// The domain state's scratch store's cache, bytes.
    pub state_bytes: u64,
    /// Entries each map of the domain state keeps in memory.
    pub state_entries: usize,
}

/// The default cache of the domain state's scratch store, bytes.
pub const STATE_CACHE_BYTES_DEFAULT: u64 = 8 << 20;

impl Default for Caches {
    fn default() -> Self {
        Self {
            index_bytes: deedlog_store::INDEX_CACHE_BYTES_DEFAULT,
            views_bytes: deedlog_views::CACHE_BYTES_DEFAULT,
            vault_bytes: deedlog_vault::CACHE_BYTES_DEFAULT,
            state_bytes: STATE_CACHE_BYTES_DEFAULT,
            state_entries: deedlog_domain::KEEP_DEFAULT,
        }
    }
}

impl Caches {
    /// The sum of the caches, bytes.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.index_bytes
            .saturating_add(self.views_bytes)
            .saturating_add(self.vault_bytes)
            .saturating_add(self.state_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_each_crates_own_and_sum_to_136_mib() {
        let caches = Caches::default();
        assert_eq!(caches.index_bytes, 32 << 20);
        assert_eq!(caches.views_bytes, 32 << 20);
        assert_eq!(caches.vault_bytes, 64 << 20);
        assert_eq!(caches.state_bytes, 8 << 20);
        assert_eq!(caches.state_entries, 8_192);
        assert_eq!(caches.total_bytes(), 136 << 20);
        assert_eq!(crate::NodeOptions::new("x").caches, caches);
    }
}
