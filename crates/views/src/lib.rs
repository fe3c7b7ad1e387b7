//! deedlog's read models: documents and indexes projected from the log into an embedded
//! database of their own (`DATA/views/`, an LSM tree: fjall), each batch written atomically together with the cursor (the number
//! of entries applied) and the leaf hash of the last entry applied.
//!
//! Architecture invariants:
//! - views are built **only** by replaying entries: a [`Projection`] folds each entry into a
//!   domain [`State`] (the same `apply` the sequencer and the auditor use) and recomputes the
//!   documents of the aggregates the entry touched ([`docs::touched`]); nothing else writes here;
//! - a document is a pure function of the log prefix it was computed at, encoded canonically, so
//!   rebuilding from zero gives byte-identical answers;
//! - documents hold no personal data in clear: parties by id, people only by commitments;
//! - the views may lag the log, never lead it: the projector reads only acknowledged entries,
//!   and a cursor ahead of the log or a leaf-hash mismatch means "rebuild" ([`Views::check`]).
//!
//! The views are a second, disposable database (delete `DATA/views/` and they are rebuilt), kept
//! apart from the store's index so that a rebuild never touches the log's own derived state. The
//! engine is the store index's (fjall): the documents are rewritten in place as aggregates
//! change, and an LSM tree keeps that cheap and its memory bounded (a block cache and a
//! memtable), where a B-tree engine kept a page table growing with the number of documents.
#![deny(missing_docs)]

pub mod docs;
pub mod keys;
mod projection;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use deedlog_core::hash::Hash;

pub use docs::{Doc, KeyDoc, ListingDoc};
pub use projection::{Projection, Snapshot};

/// Every key and value of a views database, in key order (see [`Views::dump`]).
pub type Dump = Vec<(Vec<u8>, Vec<u8>)>;

/// What can go wrong with the views.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// The embedded database under the views failed (a damaged or locked views folder, or the
    /// file system under it: delete the folder and the node rebuilds the views from the log).
    #[error("the views database failed: {0}")]
    Store(#[source] ViewStoreError),
    /// A stored document or index value does not decode (the views must be rebuilt).
    #[error("views are damaged: {0}")]
    Corrupt(String),
    /// An entry could not be decoded or applied (a log the domain does not accept).
    #[error("entry {seq}: {message}")]
    Entry {
        /// Its seq.
        seq: u64,
        /// What is wrong.
        message: String,
    },
}

/// An error of the embedded database under the views, kept opaque so that the engine (fjall today)
/// stays an implementation detail of this crate.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ViewStoreError(fjall::Error);

impl From<fjall::Error> for ViewError {
    fn from(e: fjall::Error) -> Self {
        ViewError::Store(ViewStoreError(e))
    }
}

/// The views database's block cache unless the caller says otherwise.
pub const CACHE_BYTES_DEFAULT: u64 = 32 << 20;

/// The views' memtable: writes collect here before they are written out as a sorted table.
const MEMTABLE_BYTES: u64 = 8 << 20;

/// How long an open waits for a views folder still held by a database being closed in this
/// process (the engine's threads let go of it just after the drop).
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// The keyspace holding every document, index and the cursor.
const KEYSPACE: &str = "views";

/// Largest page of a list.
pub const PAGE_LIMIT_MAX: usize = 100;
/// Largest offset into a list.
pub const PAGE_OFFSET_MAX: usize = 10_000;
/// Most index entries one search may scan.
pub const SCAN_MAX: usize = 200_000;

/// A page of a list: raw JSON items and the offset of the next page, if any.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// The items.
    pub items: Vec<Value>,
    /// The offset of the next page, when there are more.
    pub next_offset: Option<usize>,
}

impl Page {
    /// The page as the API answers it: `{"items", "limit", "offset", "next_offset"}`.
    #[must_use]
    pub fn to_value(&self, limit: usize, offset: usize) -> Value {
        json!({"items": self.items, "limit": limit, "offset": offset, "next_offset": self.next_offset})
    }
}

/// Paging of a list (bounded by [`PAGE_LIMIT_MAX`] and [`PAGE_OFFSET_MAX`] by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Items to skip.
    pub offset: usize,
    /// Items to return.
    pub limit: usize,
}

/// How listing search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListingSort {
    /// Newest first (default).
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Smallest first.
    AreaAsc,
    /// Largest first.
    AreaDesc,
}

impl ListingSort {
    /// Parses the API's names.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "newest" => Self::Newest,
            "oldest" => Self::Oldest,
            "price_asc" => Self::PriceAsc,
            "price_desc" => Self::PriceDesc,
            "area_asc" => Self::AreaAsc,
            "area_desc" => Self::AreaDesc,
            _ => return None,
        })
    }
}

/// A listing search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListingQuery {
    /// Exact district.
    pub district: Option<String>,
    /// Lowest price, fen.
    pub price_min_fen: Option<u64>,
    /// Highest price, fen.
    pub price_max_fen: Option<u64>,
    /// Smallest area, 0.01 m².
    pub area_min_centi_m2: Option<u64>,
    /// Largest area, 0.01 m².
    pub area_max_centi_m2: Option<u64>,
    /// Exact number of bedrooms.
    pub rooms: Option<u8>,
    /// Order.
    pub sort: ListingSort,
}

/// A file hash found on the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashMatch {
    /// `contract_document`, `offline_scan` or `listing_photo`.
    pub what: String,
    /// The aggregate.
    pub id: String,
    /// The entry that put the hash on the log.
    pub seq: u64,
}

/// The open database and its one keyspace.
pub(crate) struct Engine {
    pub(crate) db: fjall::Database,
    pub(crate) tree: fjall::Keyspace,
}

pub(crate) struct Inner {
    /// `None` only while [`Views::reopen`] swaps it.
    engine: std::sync::RwLock<Option<Arc<Engine>>>,
    dir: std::path::PathBuf,
    cache_bytes: u64,
    pub(crate) applied: tokio::sync::watch::Sender<u64>,
}

/// The read side of the views. Cheap to clone; reads from any thread.
#[derive(Clone)]
pub struct Views {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views")
            .field("applied", &self.applied())
            .finish_non_exhaustive()
    }
}

fn open_engine(dir: &Path, cache_bytes: u64) -> Result<Engine, ViewError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    let db = loop {
        let opened = fjall::Database::builder(dir)
            .cache_size(cache_bytes)
            .max_journaling_size(64 << 20)
            .worker_threads(1)
            .open();
        match opened {
            Err(fjall::Error::Locked) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other?,
        }
    };
    let tree = db.keyspace(KEYSPACE, || {
        fjall::KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES)
    })?;
    Ok(Engine { db, tree })
}

/// The cursor the database holds.
fn cursor(engine: &Engine) -> Result<u64, ViewError> {
    match engine.tree.get(keys::META_APPLIED)? {
        Some(v) => {
            keys::read_u64(&v).ok_or_else(|| ViewError::Corrupt("the cursor is malformed".into()))
        }
        None => Ok(0),
    }
}

/// Pages through ids, resolving only those on the page.
fn page_of(
    ids: impl Iterator<Item = Result<String, ViewError>>,
    paging: Paging,
    resolve: impl Fn(&str) -> Result<Value, ViewError>,
) -> Result<Page, ViewError> {
    let mut items = Vec::new();
    let mut next_offset = None;
    for (i, id) in ids.enumerate() {
        let id = id?;
        if i < paging.offset {
            continue;
        }
        if items.len() == paging.limit {
            next_offset = Some(i);
            break;
        }
        items.push(resolve(&id)?);
    }
    Ok(Page { items, next_offset })
}

impl Views {
    /// Opens (or creates) the views database in `dir`.
    ///
    /// # Errors
    /// Engine errors (a damaged database: delete the folder and rebuild).
    pub fn open(dir: &Path) -> Result<Self, ViewError> {
        Self::open_with_cache(dir, CACHE_BYTES_DEFAULT)
    }

    /// As [`Views::open`], with a page cache of `cache_bytes` for the views database.
    ///
    /// # Errors
    /// As [`Views::open`].
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Self, ViewError> {
        // A folder left by the earlier engine (sled: its `conf` and `db` files) is in a format
        // this version does not read; the views are derived, so it is removed and rebuilt.
        if dir.join("conf").is_file() && dir.join("db").is_file() {
            tracing::warn!(dir = %dir.display(), "the views are in an earlier format; rebuilding them");
            std::fs::remove_dir_all(dir).map_err(|e| {
                ViewError::Corrupt(format!(
                    "the views in an earlier format at {} cannot be removed: {e}",
                    dir.display()
                ))
            })?;
        }
        let engine = open_engine(dir, cache_bytes)?;
        let applied = cursor(&engine)?;
        let (tx, _) = tokio::sync::watch::channel(applied);
        Ok(Self {
            inner: Arc::new(Inner {
                engine: std::sync::RwLock::new(Some(Arc::new(engine))),
                dir: dir.to_path_buf(),
                cache_bytes,
                applied: tx,
            }),
        })
    }

    /// The open engine.
    pub(crate) fn engine(&self) -> Result<Arc<Engine>, ViewError> {
        self.inner
            .engine
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(|| ViewError::Corrupt("the views are being reopened; retry".into()))
    }

    /// Closes the database and opens it again from its folder, in place: after the engine
    /// refused every write because one failed (a full disk), which it then does until it is
    /// opened again. The cursor is read back from what the engine recovers (a batch whose
    /// write failed is not there: a batch holds its cursor); the caller re-applies from it.
    ///
    /// # Errors
    /// The engine's, when the folder cannot be opened (the views stay closed, and every read
    /// says so until a later reopen succeeds).
    pub fn reopen(&self) -> Result<u64, ViewError> {
        let mut slot = self
            .inner
            .engine
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mut old) = slot.take() {
            // Reads in flight hold the engine for the length of one call; the folder's lock is
            // released only once the last holder drops it.
            let deadline = std::time::Instant::now() + LOCK_WAIT;
            loop {
                match Arc::try_unwrap(old) {
                    Ok(engine) => {
                        drop(engine);
                        break;
                    }
                    Err(shared) if std::time::Instant::now() < deadline => {
                        old = shared;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(shared) => {
                        *slot = Some(shared);
                        return Err(ViewError::Corrupt(
                            "the views are still in use and cannot be reopened".into(),
                        ));
                    }
                }
            }
        }
        let engine = open_engine(&self.inner.dir, self.inner.cache_bytes)?;
        let applied = cursor(&engine)?;
        *slot = Some(Arc::new(engine));
        drop(slot);
        self.inner.applied.send_replace(applied);
        tracing::info!(applied, "the views were reopened");
        Ok(applied)
    }

    /// Entries applied (the cursor): the views reflect entries `0..applied()`.
    #[must_use]
    pub fn applied(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// The leaf hash of the last entry applied, if any.
    ///
    /// # Errors
    /// Engine errors, a malformed value.
    pub fn last_leaf(&self) -> Result<Option<Hash>, ViewError> {
        match self.engine()?.tree.get(keys::META_LAST_LEAF)? {
            Some(v) => {
                let bytes: [u8; 32] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| ViewError::Corrupt("the last leaf hash is malformed".into()))?;
                Ok(Some(Hash(bytes)))
            }
            None => Ok(None),
        }
    }

    /// Whether these views belong to a log whose entry `applied() - 1` has `leaf_at` as leaf hash
    /// and whose size is `log_size`: false means they must be rebuilt.
    ///
    /// # Errors
    /// Engine errors.
    pub fn check(
        &self,
        log_size: u64,
        leaf_at: impl FnOnce(u64) -> Option<Hash>,
    ) -> Result<bool, ViewError> {
        let applied = self.applied();
        if applied == 0 {
            return Ok(true);
        }
        if applied > log_size {
            return Ok(false);
        }
        Ok(self.last_leaf()?.is_some() && self.last_leaf()? == leaf_at(applied - 1))
    }

    /// A receiver that changes whenever entries are applied (its value is [`Self::applied`]).
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.applied.subscribe()
    }

    /// Waits until the views have applied at least `count` entries, at most `timeout`. Returns
    /// whether they did.
    pub async fn wait_applied(&self, count: u64, timeout: Duration) -> bool {
        let mut rx = self.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= count))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Blocks the thread until the views have applied at least `count` entries, at most
    /// `timeout` (for tools and tests outside an async runtime). Returns whether they did.
    #[must_use]
    pub fn wait_applied_blocking(&self, count: u64, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.applied() < count {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Hands everything written so far to the operating system (the journal's buffer; views
    /// are re-derivable, so no fsync is needed).
    ///
    /// # Errors
    /// Engine errors.
    pub fn flush(&self) -> Result<(), ViewError> {
        self.engine()?.db.persist(fjall::PersistMode::Buffer)?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<fjall::Slice>, ViewError> {
        Ok(self.engine()?.tree.get(key)?)
    }

    /// The stored canonical bytes of the document of `id` (`listing/LS-…`, `party/PA-…`, …).
    ///
    /// # Errors
    /// Engine errors.
    pub fn doc_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, ViewError> {
        Ok(self.get(&keys::doc(id))?.map(|v| v.to_vec()))
    }

    /// The document of `id`, decoded.
    ///
    /// # Errors
    /// Engine errors, a document that does not decode.
    pub fn doc(&self, id: &str) -> Result<Option<Doc>, ViewError> {
        match self.get(&keys::doc(id))? {
            Some(bytes) => {
                Doc::decode(id, &bytes).map_err(|e| ViewError::Corrupt(format!("{id}: {e}")))
            }
            None => Ok(None),
        }
    }

    /// The document of `id` as JSON.
    ///
    /// # Errors
    /// Engine errors, a document that is not JSON.
    pub fn doc_value(&self, id: &str) -> Result<Option<Value>, ViewError> {
        match self.get(&keys::doc(id))? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ViewError::Corrupt(format!("{id}: {e}"))),
            None => Ok(None),
        }
    }

    /// A listing as the public sees it: `None` for an unknown listing or one never shown;
    /// without the private `pending` change.
    ///
    /// # Errors
    /// Engine errors, a damaged document.
    pub fn public_listing(&self, id: &str) -> Result<Option<Value>, ViewError> {
        let Some(Doc::Listing(doc)) = self.doc(id)? else {
            return Ok(None);
        };
        if !doc.ever_shown {
            return Ok(None);
        }
        Ok(Some(public_listing_value(&doc)))
    }

    /// Searches active listings.
    ///
    /// # Errors
    /// Engine errors, a damaged index.
    pub fn search_listings(&self, q: &ListingQuery, paging: Paging) -> Result<Page, ViewError> {
        let (tag, reverse) = match q.sort {
            ListingSort::Newest => (keys::SORT_TIME, true),
            ListingSort::Oldest => (keys::SORT_TIME, false),
            ListingSort::PriceAsc => (keys::SORT_PRICE, false),
            ListingSort::PriceDesc => (keys::SORT_PRICE, true),
            ListingSort::AreaAsc => (keys::SORT_AREA, false),
            ListingSort::AreaDesc => (keys::SORT_AREA, true),
        };
        let prefix = keys::listing_prefix(q.district.as_deref(), tag);
        // Seek the sort key's range when the sort is on a filtered quantity.
        let (lo, hi) = match tag {
            keys::SORT_PRICE => (q.price_min_fen, q.price_max_fen),
            keys::SORT_AREA => (q.area_min_centi_m2, q.area_max_centi_m2),
            _ => (None, None),
        };
        let mut start = prefix.clone();
        start.extend_from_slice(&lo.unwrap_or(0).to_be_bytes());
        let mut end = prefix.clone();
        end.extend_from_slice(&hi.unwrap_or(u64::MAX).to_be_bytes());
        end.push(0xff);
        let range = self.engine()?.tree.range(start..end);
        let iter: Box<dyn Iterator<Item = fjall::Guard>> = if reverse {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let matches = iter.take(SCAN_MAX).filter_map(move |item| {
            let (key, value) = match item.into_inner() {
                Ok(kv) => kv,
                Err(e) => return Some(Err(ViewError::from(e))),
            };
            let Some(summary) = keys::ListingSummaryKey::read(&value) else {
                return Some(Err(ViewError::Corrupt(
                    "a listing index value is malformed".into(),
                )));
            };
            let keep = q.price_min_fen.is_none_or(|m| summary.price_fen >= m)
                && q.price_max_fen.is_none_or(|m| summary.price_fen <= m)
                && q.area_min_centi_m2
                    .is_none_or(|m| summary.area_centi_m2 >= m)
                && q.area_max_centi_m2
                    .is_none_or(|m| summary.area_centi_m2 <= m)
                && q.rooms.is_none_or(|r| summary.rooms == r);
            keep.then(|| keys::id_after(&key, prefix.len() + 8))
        });
        page_of(matches, paging, |id| match self.doc(id)? {
            Some(Doc::Listing(d)) => Ok(listing_summary(&d)),
            _ => Err(ViewError::Corrupt(format!(
                "the index names {id}, which has no listing document"
            ))),
        })
    }

    /// Certified agents of certified agencies (optionally of one agency), best first.
    ///
    /// # Errors
    /// Engine errors, a damaged index.
    pub fn agents_by_rating(
        &self,
        agency: Option<&str>,
        paging: Paging,
    ) -> Result<Page, ViewError> {
        let prefix = keys::rating_prefix(agency);
        let iter = self.engine()?.tree.prefix(&prefix).map(|item| {
            let key = item.key()?;
            keys::id_after(&key, prefix.len() + 16)
        });
        page_of(iter, paging, |id| self.resolve(id))
    }

    /// Every document whose id starts with `kind/` (agencies, offices, banks), in id order,
    /// optionally only those of one district, at most [`SCAN_MAX`].
    ///
    /// # Errors
    /// Engine errors, a damaged document.
    pub fn all_of(&self, kind: &str, district: Option<&str>) -> Result<Vec<Value>, ViewError> {
        let mut out = Vec::new();
        for item in self
            .engine()?
            .tree
            .prefix(keys::doc(&format!("{kind}/")))
            .take(SCAN_MAX)
        {
            let bytes = item.value()?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ViewError::Corrupt(format!("a {kind} document: {e}")))?;
            if district.is_none_or(|d| value.get("district").and_then(Value::as_str) == Some(d)) {
                out.push(value);
            }
        }
        Ok(out)
    }

    /// The documents `owner` relates to as `relation` (see [`keys::Relation`]), newest first.
    ///
    /// # Errors
    /// Engine errors, a damaged index.
    pub fn owned(
        &self,
        owner: &str,
        relation: keys::Relation,
        paging: Paging,
    ) -> Result<Page, ViewError> {
        let prefix = keys::owned_prefix(owner, relation);
        self.ids_page(prefix, paging)
    }

    /// The documents in an authority's queue ([`docs::QUEUE_TO_FILE`], …), oldest first.
    ///
    /// # Errors
    /// Engine errors, a damaged index.
    pub fn queue(&self, queue: &str, paging: Paging) -> Result<Page, ViewError> {
        self.ids_page(keys::queue_prefix(queue), paging)
    }

    fn ids_page(&self, prefix: Vec<u8>, paging: Paging) -> Result<Page, ViewError> {
        let iter = self.engine()?.tree.prefix(&prefix).map(|item| {
            let key = item.key()?;
            keys::id_after(&key, prefix.len() + 8)
        });
        page_of(iter, paging, |id| self.resolve(id))
    }

    fn resolve(&self, id: &str) -> Result<Value, ViewError> {
        self.doc_value(id)?.ok_or_else(|| {
            ViewError::Corrupt(format!("an index names {id}, which has no document"))
        })
    }

    /// The aggregate a derived code (`LV-…`, `FC-…`, `PV-…`) belongs to.
    ///
    /// # Errors
    /// Engine errors.
    pub fn by_code(&self, code: &str) -> Result<Option<String>, ViewError> {
        match self.get(&keys::code(code))? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| ViewError::Corrupt("a code index value is not UTF-8".into())),
            None => Ok(None),
        }
    }

    /// Where a file hash (64 lower-case hex digits) appears on the log, at most `limit` places.
    ///
    /// # Errors
    /// Engine errors, a damaged index.
    pub fn by_hash(&self, hex: &str, limit: usize) -> Result<Vec<HashMatch>, ViewError> {
        let mut out = Vec::new();
        for item in self
            .engine()?
            .tree
            .prefix(keys::hash_prefix(hex))
            .take(limit)
        {
            let v = item.value()?;
            out.push(
                serde_json::from_slice(&v)
                    .map_err(|e| ViewError::Corrupt(format!("a hash index value: {e}")))?,
            );
        }
        Ok(out)
    }

    /// The actor's current key.
    ///
    /// # Errors
    /// Engine errors, a damaged value.
    pub fn actor_key(&self, actor: &str) -> Result<Option<KeyDoc>, ViewError> {
        match self.get(&keys::actor_key(actor))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| ViewError::Corrupt(format!("key of {actor}: {e}"))),
            None => Ok(None),
        }
    }

    /// Whether the listing proposal at `seq` shows (took effect at once, or was approved), so
    /// that its entry's payload is public.
    ///
    /// # Errors
    /// Engine errors.
    pub fn is_shown(&self, seq: u64) -> Result<bool, ViewError> {
        Ok(self.engine()?.tree.contains_key(keys::shown(seq))?)
    }

    /// The actor a public key was ever registered to (current, rotated or revoked), if any.
    ///
    /// # Errors
    /// Engine errors.
    pub fn key_user(&self, key: &str) -> Result<Option<String>, ViewError> {
        match self.get(&keys::key_user(key))? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| ViewError::Corrupt("a key index value is not UTF-8".into())),
            None => Ok(None),
        }
    }

    /// The party registered with this phone commitment, if any.
    ///
    /// # Errors
    /// Engine errors.
    pub fn party_by_phone(&self, commitment: &str) -> Result<Option<String>, ViewError> {
        match self.get(&keys::phone(commitment))? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| ViewError::Corrupt("a phone index value is not UTF-8".into())),
            None => Ok(None),
        }
    }

    /// Every stored key and value, in key order: to compare two views databases byte for byte.
    ///
    /// # Errors
    /// Engine errors.
    pub fn dump(&self) -> Result<Dump, ViewError> {
        let engine = self.engine()?;
        let mut out = Vec::new();
        for guard in engine.tree.iter() {
            let (k, v) = guard.into_inner()?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Removes every document, index and the cursor (for a rebuild from zero).
    ///
    /// # Errors
    /// Engine errors.
    pub fn clear(&self) -> Result<(), ViewError> {
        self.engine()?.tree.clear()?;
        self.engine()?.db.persist(fjall::PersistMode::Buffer)?;
        self.inner.applied.send_replace(0);
        Ok(())
    }
}

/// A listing document without its private parts.
#[must_use]
pub fn public_listing_value(doc: &ListingDoc) -> Value {
    let mut value = serde_json::to_value(doc).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("pending");
        map.remove("ever_shown");
        // A listing's price can change any number of times; the detail carries only the latest
        // points, so that its size stays bounded, and says how many there are in all (the rest
        // are paged with `price_history_page`).
        let total = doc.price_history.len();
        let skip = total.saturating_sub(PRICE_HISTORY_LATEST);
        map.insert(
            "price_history".to_owned(),
            serde_json::to_value(&doc.price_history[skip..]).unwrap_or(Value::Null),
        );
        map.insert("price_history_total".to_owned(), Value::from(total));
    }
    value
}

/// Price points carried by a listing's detail (the latest ones).
pub const PRICE_HISTORY_LATEST: usize = 20;

/// One page of a listing's price history, oldest first:
/// `{"items", "limit", "offset", "next_offset", "total"}`.
#[must_use]
pub fn price_history_page(doc: &ListingDoc, paging: Paging) -> Value {
    let total = doc.price_history.len();
    let start = paging.offset.min(total);
    let end = start.saturating_add(paging.limit).min(total);
    let next = (end < total).then_some(end);
    json!({
        "items": &doc.price_history[start..end],
        "limit": paging.limit,
        "offset": paging.offset,
        "next_offset": next,
        "total": total,
    })
}

/// The short form of a listing in search results.
#[must_use]
pub fn listing_summary(d: &ListingDoc) -> Value {
    json!({
        "id": d.id, "code": d.code, "status": d.status, "price_fen": d.price_fen,
        "area_centi_m2": d.area_centi_m2, "rooms": d.rooms, "halls": d.halls,
        "bathrooms": d.bathrooms, "floor": d.floor, "floors_total": d.floors_total,
        "district": d.district, "community": d.community, "title": d.title,
        "photos": d.photos, "self_listed": d.self_listed,
        "agent": d.agent.as_ref().map(|a| a.id.clone()),
        "agency": d.agent.as_ref().and_then(|a| a.agency.get("id").cloned()),
        "published_at_ms": d.published_at_ms, "updated_seq": d.updated_seq,
    })
}
