//! The state's maps, bounded: each map of [`crate::State`] keeps in memory only what was written
//! since the last [`crate::State::spill`] and what was read lately; the rest waits in a
//! [`Spill`] (a key-value store on disk, given by the node) and is read back on demand.
//!
//! A state without a spill (the default: tests, the audit, a projector keeping a state of its
//! own) keeps everything in memory and behaves as the `BTreeMap`s it replaces. A state with one
//! answers every look-up exactly as the whole state would: a key not in memory is looked up in
//! the spill, and the answer (the value, or its absence) is kept in memory until evicted. The
//! rules read through `&self` (`decide` takes `&State`), so a look-up that has to load keeps
//! what it loaded in an append-only map whose values never move while borrowed (the `elsa`
//! crate's `FrozenBTreeMap`); eviction needs `&mut self` and happens only between batches.
//!
//! What is written goes to the spill in [`crate::State::spill`], at the end of each batch the
//! sequencer decides (and every few thousand entries of a replay). The spill is scratch space,
//! not a second truth: the node starts a fresh one on every open and replays the log into it.
//! If writing to it fails (a full disk), nothing is evicted and the writes wait in memory for
//! the next call; if reading from it fails, the failure is kept and
//! [`crate::State::spill_failure`] reports it, so the sequencer refuses the command it was
//! deciding (and stops, if it was applying one) rather than act on a wrong answer.

use std::borrow::Borrow;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use elsa::FrozenBTreeMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where a bounded state keeps what it does not hold in memory. Keys and values are opaque
/// bytes; the store need not be durable (the node's is rebuilt on every open).
pub trait Spill: Send + Sync {
    /// The value stored under `key`.
    ///
    /// # Errors
    /// The store could not be read.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String>;

    /// Stores each `(key, Some(value))` and removes each `(key, None)`.
    ///
    /// # Errors
    /// The store could not be written (nothing is evicted then; the same writes come again).
    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), String>;
}

/// What the maps of one state share: the spill, how many entries each map keeps in memory, the
/// eviction clock and the first read failure.
pub(crate) struct SpillContext {
    spill: Arc<dyn Spill>,
    /// Entries each map keeps in memory before it evicts the ones not read since the last
    /// eviction (what was written since the last spill is always kept).
    keep: usize,
    /// Bumped at every spill; an entry read or written during the current epoch is recent.
    epoch: AtomicU64,
    failure: Mutex<Option<String>>,
}

impl SpillContext {
    pub(crate) fn new(spill: Arc<dyn Spill>, keep: usize) -> Self {
        Self {
            spill,
            keep: keep.max(1),
            epoch: AtomicU64::new(1),
            failure: Mutex::new(None),
        }
    }

    fn fail(&self, message: String) {
        let mut failure = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failure.get_or_insert(message);
    }

    pub(crate) fn take_failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    pub(crate) fn keep(&self) -> usize {
        self.keep
    }

    pub(crate) fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), String> {
        if writes.is_empty() {
            return Ok(());
        }
        self.spill.write(writes)
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub(crate) fn tick(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for SpillContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpillContext")
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

/// The bytes a key is stored under in the spill (after its map's one-byte tag).
pub(crate) trait KeyBytes {
    fn key_bytes(&self) -> &[u8];
}

impl KeyBytes for str {
    fn key_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl KeyBytes for String {
    fn key_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// One key's value as held in memory: `None` when the key is known to be absent (removed since
/// the last spill, or looked up and not found).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot<V> {
    /// Boxed, so the maps' nodes stay small whatever the size of `V` (a slot known absent
    /// costs a key and a few words).
    value: Option<Box<V>>,
    /// The epoch of its last use.
    used: Cell<u64>,
}

impl<V> Slot<V> {
    fn new(value: Option<Box<V>>, epoch: u64) -> Self {
        Self {
            value,
            used: Cell::new(epoch),
        }
    }
}

/// One map of the state (see the module documentation).
pub(crate) struct BoundedMap<K, V> {
    /// The map's tag in the spill's keys.
    tag: u8,
    /// What was written through `&mut self`, and what eviction kept.
    owned: BTreeMap<K, Slot<V>>,
    /// What look-ups through `&self` loaded from the spill since the last eviction.
    loaded: FrozenBTreeMap<K, Box<Slot<V>>>,
    /// Keys written since the last spill.
    dirty: BTreeSet<K>,
    spill: Option<Arc<SpillContext>>,
}

impl<K: Ord + Clone + KeyBytes, V: Clone + Serialize + DeserializeOwned> BoundedMap<K, V> {
    pub(crate) fn new(tag: u8) -> Self {
        Self {
            tag,
            owned: BTreeMap::new(),
            loaded: FrozenBTreeMap::new(),
            dirty: BTreeSet::new(),
            spill: None,
        }
    }

    /// Puts the map on `spill` (a map with entries already keeps them, as written).
    pub(crate) fn set_spill(&mut self, spill: Arc<SpillContext>) {
        self.dirty.extend(self.owned.keys().cloned());
        self.spill = Some(spill);
    }

    fn spill_key(&self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + key.len());
        out.push(self.tag);
        out.extend_from_slice(key);
        out
    }

    fn slot<Q>(&self, key: &Q) -> Option<&Slot<V>>
    where
        K: Borrow<Q>,
        Q: Ord + KeyBytes + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(slot) = self.owned.get(key) {
            return Some(slot);
        }
        if let Some(slot) = self.loaded.get(key) {
            return Some(slot);
        }
        let ctx = self.spill.as_ref()?;
        let value = match ctx.spill.get(&self.spill_key(key.key_bytes())) {
            Ok(None) => None,
            Ok(Some(bytes)) => match serde_json::from_slice::<V>(&bytes) {
                Ok(v) => Some(Box::new(v)),
                Err(e) => {
                    ctx.fail(format!("a spilled value does not decode: {e}"));
                    return None;
                }
            },
            Err(e) => {
                ctx.fail(format!("the spill could not be read: {e}"));
                return None;
            }
        };
        Some(
            self.loaded
                .insert(key.to_owned(), Box::new(Slot::new(value, ctx.epoch()))),
        )
    }

    /// The value of `key`, loaded from the spill when not in memory.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + KeyBytes + ToOwned<Owned = K> + ?Sized,
    {
        let slot = self.slot(key)?;
        if let Some(ctx) = &self.spill {
            slot.used.set(ctx.epoch());
        }
        slot.value.as_deref()
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + KeyBytes + ToOwned<Owned = K> + ?Sized,
    {
        self.get(key).is_some()
    }

    /// The slot of `key` in `owned`, moved there from `loaded` or the spill if need be.
    fn owned_slot<Q>(&mut self, key: &Q) -> &mut Slot<V>
    where
        K: Borrow<Q>,
        Q: Ord + KeyBytes + ToOwned<Owned = K> + ?Sized,
    {
        if !self.owned.contains_key(key) {
            let value = self.slot(key).and_then(|s| s.value.clone());
            self.loaded.as_mut().remove(key);
            let epoch = self.spill.as_ref().map_or(0, |c| c.epoch());
            self.owned.insert(key.to_owned(), Slot::new(value, epoch));
        }
        let slot = self
            .owned
            .get_mut(key)
            .unwrap_or_else(|| unreachable!("inserted above"));
        if let Some(ctx) = &self.spill {
            slot.used.set(ctx.epoch());
        }
        slot
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + KeyBytes + ToOwned<Owned = K> + ?Sized,
    {
        self.get(key)?;
        if self.spill.is_some() {
            self.dirty.insert(key.to_owned());
        }
        self.owned_slot(key).value.as_deref_mut()
    }

    /// Sets `key` to `value`; the value it had.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.spill.is_none() {
            return self
                .owned
                .insert(key, Slot::new(Some(Box::new(value)), 0))
                .and_then(|s| s.value)
                .map(|v| *v);
        }
        self.dirty.insert(key.clone());
        self.owned_slot(&key)
            .value
            .replace(Box::new(value))
            .map(|v| *v)
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + KeyBytes + ToOwned<Owned = K> + ?Sized,
    {
        self.get(key)?;
        if self.spill.is_none() {
            return self.owned.remove(key).and_then(|s| s.value).map(|v| *v);
        }
        self.dirty.insert(key.to_owned());
        self.owned_slot(key).value.take().map(|v| *v)
    }

    /// Every value in key order. Whole only for a state without a spill (tests, the audit, a
    /// projector's own state): a bounded state's iteration would miss what it spilled.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        debug_assert!(self.spill.is_none(), "iterating a bounded map");
        self.owned.values().filter_map(|s| s.value.as_deref())
    }

    /// The writes since the last spill, as the spill stores them.
    pub(crate) fn take_writes(
        &self,
        out: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<(), String> {
        for key in &self.dirty {
            let value = match self.owned.get(key).and_then(|s| s.value.as_deref()) {
                Some(v) => Some(
                    serde_json::to_vec(v).map_err(|e| format!("a value does not encode: {e}"))?,
                ),
                None => None,
            };
            out.push((self.spill_key(key.key_bytes()), value));
        }
        Ok(())
    }

    /// After the writes reached the spill: forgets them, and when the map holds more than it
    /// keeps, evicts what was not used in the current epoch.
    pub(crate) fn written(&mut self) {
        self.dirty.clear();
        let Some(ctx) = &self.spill else { return };
        let epoch = ctx.epoch();
        let keep = ctx.keep;
        if self.owned.len() + self.loaded.len() > keep {
            self.owned.retain(|_, s| s.used.get() >= epoch);
            self.loaded.as_mut().retain(|_, s| s.used.get() >= epoch);
        }
    }

    /// Entries held in memory (written, kept, loaded or known absent).
    pub(crate) fn held(&self) -> usize {
        self.owned.len() + self.loaded.len()
    }
}

impl<K: Ord + Clone, V: Clone> Clone for BoundedMap<K, V> {
    fn clone(&self) -> Self {
        debug_assert!(self.spill.is_none(), "cloning a bounded map");
        let loaded = FrozenBTreeMap::new();
        Self {
            tag: self.tag,
            owned: self.owned.clone(),
            loaded,
            dirty: self.dirty.clone(),
            spill: self.spill.clone(),
        }
    }
}

impl<K: Ord + Clone, V: PartialEq> PartialEq for BoundedMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        fn live<K, V>(m: &BoundedMap<K, V>) -> impl Iterator<Item = (&K, &V)> {
            m.owned
                .iter()
                .filter_map(|(k, s)| s.value.as_deref().map(|v| (k, v)))
        }
        live(self).eq(live(other))
    }
}

impl<K: Ord + Clone, V: Eq> Eq for BoundedMap<K, V> {}

impl<K: Ord + Clone + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for BoundedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.owned
                    .iter()
                    .filter_map(|(k, s)| s.value.as_ref().map(|v| (k, v))),
            )
            .finish()
    }
}

/// A whole map serializes as the map it replaces; a bounded one refuses (it would be partial).
impl<K: Ord + Serialize, V: Serialize> Serialize for BoundedMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.spill.is_some() {
            return Err(serde::ser::Error::custom(
                "a bounded state is not serialized whole",
            ));
        }
        serializer.collect_map(
            self.owned
                .iter()
                .filter_map(|(k, s)| s.value.as_ref().map(|v| (k, v))),
        )
    }
}

/// A state's spill, as a field of [`crate::State`]: equal to any other (two states are equal
/// when their maps are), and never serialized.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpillHandle(pub(crate) Option<Arc<SpillContext>>);

impl PartialEq for SpillHandle {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SpillHandle {}

/// A spill held in memory, for tests: it bounds nothing, but a state on it loads, evicts and
/// writes exactly as on a store on disk.
#[derive(Debug, Default)]
pub struct MemorySpill {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemorySpill {
    /// Entries stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Spill for MemorySpill {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), String> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, v) in writes {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }
}
