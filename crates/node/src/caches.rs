//! The page caches of the node's three embedded databases, in one place.

/// How much memory each embedded database may keep as its cache. Together they bound most of a
/// node's memory beyond the domain state: a node opened with the defaults holds up to 128 MiB of
/// cached pages.
///
/// - `index_bytes`: the block cache of the log's index (`DATA/index/`, an LSM tree: stream and
///   nonce keys). It is read on the append path; its Bloom filters and block indexes are held in
///   memory besides, so a look-up that misses reads no block at all.
/// - `views_bytes`: the block cache of the read models (`DATA/views/`, an LSM tree), read by
///   every public look-up and written by the projector behind the log.
/// - `vault_bytes`: the personal-data vault (`DATA/vault/`, sled): small records, read rarely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caches {
    /// The log index's cache, bytes.
    pub index_bytes: u64,
    /// The views' cache, bytes.
    pub views_bytes: u64,
    /// The vault's cache, bytes.
    pub vault_bytes: u64,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            index_bytes: deedlog_store::INDEX_CACHE_BYTES_DEFAULT,
            views_bytes: deedlog_views::CACHE_BYTES_DEFAULT,
            vault_bytes: deedlog_vault::CACHE_BYTES_DEFAULT,
        }
    }
}

impl Caches {
    /// The sum of the three, bytes.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.index_bytes
            .saturating_add(self.views_bytes)
            .saturating_add(self.vault_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_each_crates_own_and_sum_to_128_mib() {
        let caches = Caches::default();
        assert_eq!(caches.index_bytes, 32 << 20);
        assert_eq!(caches.views_bytes, 32 << 20);
        assert_eq!(caches.vault_bytes, 64 << 20);
        assert_eq!(caches.total_bytes(), 128 << 20);
        assert_eq!(crate::NodeOptions::new("x").caches, caches);
    }
}
