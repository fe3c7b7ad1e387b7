//! The projection: folds entries into the domain state and writes the documents and indexes they
//! change, one atomic batch of the views' database per call, together with the cursor and the last leaf hash.

use std::collections::{BTreeMap, BTreeSet};

use deedlog_core::entry::split_record;
use deedlog_core::{Entry, canonical, hash};
use deedlog_domain::State;
use deedlog_domain::ids::{self, IdKind};

use crate::docs::{self, Doc};
use crate::keys::{self, ListingSummaryKey, Relation};
use crate::{HashMatch, ViewError, Views};

/// What the state right after one entry says about the documents the entry may change: for
/// every id it touched, the [`docs::fresh`] part of its document and, for an actor, its key
/// document; and the proposal the entry showed. The sequencer takes it as it applies the entry
/// (it holds the only state), so the projection that writes the views keeps no state of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    seq: u64,
    keys: Vec<(String, Option<docs::KeyDoc>)>,
    docs: Vec<(String, Option<Doc>)>,
    shown: Option<u64>,
}

impl Snapshot {
    /// Applies `entry` to `state` with `apply` and takes the entry's snapshot around it: the
    /// ids the entry may change are gathered in the state before it and after it (what the
    /// entry links to then), their documents read after it.
    ///
    /// # Errors
    /// `apply`'s error; no snapshot is taken then.
    pub fn around<E>(
        state: &mut State,
        entry: &Entry,
        apply: impl FnOnce(&mut State) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut ids = docs::touched(state, entry);
        apply(state)?;
        ids.extend(docs::touched(state, entry));
        Ok(Self::take(state, entry, &ids))
    }

    /// Takes the snapshot of `entry` from `state`, the state right after it was applied, for
    /// `ids` (the ids [`Snapshot::around`] gathers).
    #[must_use]
    pub fn take(state: &State, entry: &Entry, ids: &BTreeSet<String>) -> Self {
        let mut keys = Vec::new();
        let mut documents = Vec::new();
        for id in ids {
            if ids::actor_kind(id).is_some() {
                keys.push((id.clone(), docs::key_doc(state, id)));
            }
            if docs::kind_of(id).is_none_or(|k| k == IdKind::Property) {
                continue;
            }
            documents.push((id.clone(), docs::fresh(state, id, entry)));
        }
        Self {
            seq: entry.seq,
            keys,
            docs: documents,
            shown: deedlog_domain::table::shown_proposal(state, entry),
        }
    }

    /// The seq of the entry it was taken after.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// How many documents it holds, plus one: what a bounded queue of snapshots counts (an
    /// entry that names an agent holds its agency's every agent).
    #[must_use]
    pub fn weight(&self) -> usize {
        1 + self.keys.len() + self.docs.len()
    }
}

/// Writes the views. Exactly one exists per views database (owned by the projector thread).
///
/// It works in one of two ways. **Fed** ([`Projection::fed`]): it keeps no domain state; each
/// entry comes with the [`Snapshot`] the sequencer took as it applied it, and the projection
/// only completes the documents from the stored ones and writes them. **Own state**
/// ([`Projection::new`]): it folds each entry into a state of its own and takes the snapshots
/// itself (a second copy of the state: for rebuilds, tests and a projector that fell behind).
pub struct Projection {
    views: Views,
    /// The own state, when not fed.
    state: Option<State>,
    poisoned: bool,
}

impl std::fmt::Debug for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projection")
            .field("applied", &self.views.applied())
            .field("fed", &self.state.is_none())
            .finish_non_exhaustive()
    }
}

/// Pending writes of one batch, read through before the tree.
struct Overlay<'a> {
    tree: &'a fjall::Keyspace,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ViewError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key)?.map(|v| v.to_vec())),
        }
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }
    fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ViewError> {
    canonical::to_vec(value)
        .map_err(|e| ViewError::Corrupt(format!("a document does not encode: {e}")))
}

impl Projection {
    /// A projection over `views` with a state of its own, continuing from `state`, which must
    /// be the state after exactly the entries the views have applied
    /// (`state.next_seq() == views.applied()`).
    ///
    /// # Errors
    /// [`ViewError::Corrupt`] when the state and the cursor disagree.
    pub fn new(views: Views, state: State) -> Result<Self, ViewError> {
        if state.next_seq() != views.applied() {
            return Err(ViewError::Corrupt(format!(
                "the views applied {} entries, the state {}",
                views.applied(),
                state.next_seq()
            )));
        }
        Ok(Self {
            views,
            state: Some(state),
            poisoned: false,
        })
    }

    /// A fed projection over `views`, continuing at their cursor: it keeps no state, and
    /// [`Projection::apply_fed`] gives it each entry's [`Snapshot`].
    #[must_use]
    pub fn fed(views: Views) -> Self {
        Self {
            views,
            state: None,
            poisoned: false,
        }
    }

    /// Whether it is fed (keeps no state).
    #[must_use]
    pub fn is_fed(&self) -> bool {
        self.state.is_none()
    }

    /// The domain state after the entries applied, when it keeps its own.
    #[must_use]
    pub fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }

    /// The views written.
    #[must_use]
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// Applies consecutive entries (their exact stored bytes), starting at [`Views::applied`],
    /// folding them into its own state, and commits the changes with the new cursor in one
    /// atomic batch.
    ///
    /// # Errors
    /// A malformed entry, a gap, an entry the domain does not apply, engine errors, a fed
    /// projection (it has no state to fold into). After an error the projection refuses
    /// further work (its state may be ahead of the views): reopen.
    /// `records` are stored records: each entry's bytes and, for version 2, its opening
    /// (see [`deedlog_core::entry::split_record`]).
    pub fn apply(&mut self, records: &[Vec<u8>]) -> Result<(), ViewError> {
        if self.state.is_none() {
            return Err(ViewError::Corrupt(
                "a fed projection takes entries only with their snapshots".into(),
            ));
        }
        self.guarded(records, None)
    }

    /// Applies consecutive entries with the snapshots the sequencer took of them (one each, in
    /// order), and commits the changes with the new cursor in one atomic batch. Nothing is
    /// written when anything fails.
    ///
    /// # Errors
    /// As [`Projection::apply`]; also a snapshot that is not of its entry, and a projection with
    /// a state of its own (its state would miss the entries).
    pub fn apply_fed(
        &mut self,
        records: &[Vec<u8>],
        snapshots: &[Snapshot],
    ) -> Result<(), ViewError> {
        if self.state.is_some() {
            return Err(ViewError::Corrupt(
                "a projection with its own state takes entries without snapshots".into(),
            ));
        }
        if records.len() != snapshots.len() {
            return Err(ViewError::Corrupt(format!(
                "{} entries came with {} snapshots",
                records.len(),
                snapshots.len()
            )));
        }
        self.guarded(records, Some(snapshots))
    }

    fn guarded(
        &mut self,
        records: &[Vec<u8>],
        snapshots: Option<&[Snapshot]>,
    ) -> Result<(), ViewError> {
        if self.poisoned {
            return Err(ViewError::Corrupt(
                "the projection stopped after an earlier error".into(),
            ));
        }
        if records.is_empty() {
            return Ok(());
        }
        let result = self.apply_inner(records, snapshots);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn apply_inner(
        &mut self,
        records: &[Vec<u8>],
        snapshots: Option<&[Snapshot]>,
    ) -> Result<(), ViewError> {
        let engine = self.views.engine()?;
        let tree = engine.tree.clone();
        let mut overlay = Overlay {
            tree: &tree,
            writes: BTreeMap::new(),
        };
        let mut last_leaf = None;
        let mut next = self.views.applied();
        for (i, record) in records.iter().enumerate() {
            let seq = next;
            let (bytes, opening) = split_record(record);
            let entry = Entry::decode_with(bytes, opening).map_err(|e| ViewError::Entry {
                seq,
                message: e.to_string(),
            })?;
            if entry.seq != seq {
                return Err(ViewError::Entry {
                    seq,
                    message: format!("found entry {} where {seq} was expected", entry.seq),
                });
            }
            let taken;
            let snapshot = match (snapshots, self.state.as_mut()) {
                (Some(given), _) => {
                    let s = &given[i];
                    if s.seq != seq {
                        return Err(ViewError::Entry {
                            seq,
                            message: format!("the snapshot given is of entry {}", s.seq),
                        });
                    }
                    s
                }
                (None, Some(state)) => {
                    taken = Snapshot::around(state, &entry, |state| {
                        state.apply(&entry).map_err(|e| ViewError::Entry {
                            seq,
                            message: e.to_string(),
                        })
                    })?;
                    &taken
                }
                (None, None) => {
                    return Err(ViewError::Corrupt(
                        "a fed projection was given no snapshot".into(),
                    ));
                }
            };
            if let Some(shown) = snapshot.shown {
                overlay.put(keys::shown(shown), Vec::new());
            }
            Self::refresh(&mut overlay, snapshot, &entry)?;
            last_leaf = Some(hash::leaf_hash(bytes));
            next = seq + 1;
        }
        let mut batch = engine
            .db
            .batch()
            .durability(Some(fjall::PersistMode::Buffer));
        for (k, v) in overlay.writes {
            match v {
                Some(v) => batch.insert(&tree, k, v),
                None => batch.remove(&tree, k),
            }
        }
        batch.insert(&tree, keys::META_APPLIED, next.to_be_bytes());
        if let Some(leaf) = last_leaf {
            batch.insert(&tree, keys::META_LAST_LEAF, leaf.0);
        }
        batch.commit()?;
        self.views.inner.applied.send_replace(next);
        Ok(())
    }

    fn refresh(
        overlay: &mut Overlay<'_>,
        snapshot: &Snapshot,
        entry: &Entry,
    ) -> Result<(), ViewError> {
        for (id, doc) in &snapshot.keys {
            let key = keys::actor_key(id);
            // Every key is current at the entry that registers it, so noting each current
            // key once names every key ever registered: what `key.in_use` refuses.
            if let Some(d) = doc {
                let used = keys::key_user(&d.key);
                if overlay.get(&used)?.is_none() {
                    overlay.put(used, id.as_bytes().to_vec());
                }
            }
            let new = doc.as_ref().map(encode).transpose()?;
            if overlay.get(&key)? != new {
                match new {
                    Some(v) => overlay.put(key, v),
                    None => overlay.remove(key),
                }
            }
        }
        for (id, fresh) in &snapshot.docs {
            let doc_key = keys::doc(id);
            let old_bytes = overlay.get(&doc_key)?;
            let old = match &old_bytes {
                Some(b) => {
                    Doc::decode(id, b).map_err(|e| ViewError::Corrupt(format!("{id}: {e}")))?
                }
                None => None,
            };
            let new = fresh.clone().map(|mut d| {
                docs::carry(&mut d, old.as_ref());
                d
            });
            let new_bytes = new.as_ref().map(encode).transpose()?;
            if new_bytes == old_bytes {
                continue;
            }
            let old_index = old
                .as_ref()
                .map(live_index)
                .transpose()?
                .unwrap_or_default();
            let new_index = new
                .as_ref()
                .map(live_index)
                .transpose()?
                .unwrap_or_default();
            for key in old_index.keys() {
                if !new_index.contains_key(key) {
                    overlay.remove(key.clone());
                }
            }
            for (key, value) in &new_index {
                if old_index.get(key) != Some(value) {
                    overlay.put(key.clone(), value.clone());
                }
            }
            if let Some(new) = &new {
                for (key, value) in permanent_index(old.as_ref(), new, entry)? {
                    if overlay.get(&key)?.is_none() {
                        overlay.put(key, value);
                    }
                }
            }
            match new_bytes {
                Some(b) => overlay.put(doc_key, b),
                None => overlay.remove(doc_key),
            }
        }
        Ok(())
    }
}

/// The index entries a document has while it is in this state (removed when it changes).
fn live_index(doc: &Doc) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, ViewError> {
    let mut out = BTreeMap::new();
    let mut own = |owner: &str, rel: Relation, created: u64, id: &str| {
        out.insert(keys::owned(owner, rel, created, id), Vec::new());
    };
    match doc {
        Doc::Listing(l) => {
            own(&l.seller, Relation::Listings, l.created_seq, &l.id);
            if let Some(a) = &l.agent {
                own(&a.id, Relation::Listings, l.created_seq, &l.id);
            }
            if l.status == "active" {
                let value = ListingSummaryKey {
                    price_fen: l.price_fen,
                    area_centi_m2: l.area_centi_m2,
                    rooms: l.rooms,
                }
                .write();
                for district in [None, Some(l.district.as_str())] {
                    for (tag, sort) in [
                        (keys::SORT_TIME, l.created_seq),
                        (keys::SORT_PRICE, l.price_fen),
                        (keys::SORT_AREA, l.area_centi_m2),
                    ] {
                        out.insert(keys::listing(district, tag, sort, &l.id), value.clone());
                    }
                }
            }
        }
        Doc::Agent(a) => {
            if a.offered {
                for agency in [None, Some(a.agency.as_str())] {
                    out.insert(
                        keys::rating(agency, a.score_x100, a.rating_count, &a.id),
                        Vec::new(),
                    );
                }
            }
        }
        Doc::Verification(v) => {
            own(&v.seller, Relation::Verifications, v.created_seq, &v.id);
            for p in &v.consented_by {
                own(p, Relation::Verifications, v.created_seq, &v.id);
            }
        }
        Doc::Entrustment(e) => {
            own(&e.principal, Relation::Entrustments, e.created_seq, &e.id);
            own(&e.agent, Relation::Entrustments, e.created_seq, &e.id);
        }
        Doc::Viewing(v) => {
            own(&v.buyer, Relation::ViewingsBooked, v.created_seq, &v.id);
            if !v.seller.is_empty() {
                own(&v.seller, Relation::ViewingRecords, v.created_seq, &v.id);
            }
            if let Some(a) = &v.agent {
                own(a, Relation::ViewingRecords, v.created_seq, &v.id);
            }
        }
        Doc::Precheck(p) => {
            own(&p.buyer, Relation::Prechecks, p.created_seq, &p.id);
            own(&p.bank, Relation::Prechecks, p.created_seq, &p.id);
            if p.assessment.is_null() {
                own(&p.bank, Relation::PrechecksPending, p.created_seq, &p.id);
            }
        }
        Doc::Contract(c) => {
            own(&c.buyer, Relation::Contracts, c.created_seq, &c.id);
            own(&c.seller, Relation::Contracts, c.created_seq, &c.id);
            if let Some(a) = &c.agent {
                own(a, Relation::Contracts, c.created_seq, &c.id);
            }
        }
        Doc::Proxy(p) => {
            own(&p.proxy, Relation::Proxies, p.created_seq, &p.id);
            own(&p.principal, Relation::Proxies, p.created_seq, &p.id);
        }
        Doc::Party(_) | Doc::Agency(_) | Doc::Bank(_) | Doc::Office(_) => {}
    }
    if let Some(q) = docs::queue_of(doc) {
        let (id, created) = match doc {
            Doc::Contract(c) => (c.id.as_str(), c.created_seq),
            Doc::Proxy(p) => (p.id.as_str(), p.created_seq),
            _ => return Ok(out),
        };
        out.insert(keys::queue(q, created, id), Vec::new());
    }
    Ok(out)
}

fn hash_entry(what: &str, id: &str, seq: u64) -> Result<Vec<u8>, ViewError> {
    encode(&HashMatch {
        what: what.to_owned(),
        id: id.to_owned(),
        seq,
    })
}

/// Index entries that, once written, stay: codes, phone commitments, file hashes seen on the log.
/// Index entries: key and value bytes.
type IndexEntries = Vec<(Vec<u8>, Vec<u8>)>;

fn permanent_index(old: Option<&Doc>, new: &Doc, entry: &Entry) -> Result<IndexEntries, ViewError> {
    let mut out = Vec::new();
    match new {
        Doc::Listing(l) => {
            out.push((keys::code(&l.code), l.id.as_bytes().to_vec()));
            let before: BTreeSet<&String> = match old {
                Some(Doc::Listing(o)) if o.status == "active" => o.photos.iter().collect(),
                _ => BTreeSet::new(),
            };
            if l.status == "active" {
                for p in &l.photos {
                    if !before.contains(p) {
                        out.push((
                            keys::hash(p, &l.id),
                            hash_entry("listing_photo", &l.id, entry.seq)?,
                        ));
                    }
                }
            }
        }
        Doc::Verification(v) => out.push((keys::code(&v.code), v.id.as_bytes().to_vec())),
        Doc::Party(p) => out.push((keys::phone(&p.phone_commitment), p.id.as_bytes().to_vec())),
        Doc::Contract(c) => {
            if let Some(code) = &c.filing_code {
                out.push((keys::code(code), c.id.as_bytes().to_vec()));
            }
            for d in &c.documents {
                out.push((
                    keys::hash(&d.hash, &c.id),
                    hash_entry("contract_document", &c.id, d.seq)?,
                ));
            }
            if let Some(scan) = c.offline_verified.get(1).and_then(|v| v.as_str()) {
                out.push((
                    keys::hash(scan, &c.id),
                    hash_entry("offline_scan", &c.id, entry.seq)?,
                ));
            }
        }
        _ => {}
    }
    Ok(out)
}
