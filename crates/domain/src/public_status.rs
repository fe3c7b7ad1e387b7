//! The public status of each listing, contract and property, and the state map that commits it.
//!
//! The log commits, at the end of every batch, the root of a sparse Merkle tree
//! ([`deedlog_core::state_map`]) from each aggregate's key to the digest of its public status:
//!
//! ```text
//! key   = SHA-256("deedlog/state-key/v1\n" || aggregate id)
//! value = SHA-256(canonical JSON of the aggregate's public status)
//! ```
//!
//! The status holds only what the public pages show and what the log's public bytes already
//! tell (the entry kinds that moved the aggregate, its stream version): no personal data, no
//! party, no price of a contract, nothing a who-sees-what rule hides. It is a pure function of
//! the [`State`], so the sequencer, the node's replay on open and the semantic audit compute
//! the same root from the same log.
//!
//! Which aggregates an entry may change is [`affected`]: the entry's own stream and the
//! aggregates its aggregate points to, taken both before and after the entry is applied (an
//! entrustment's revocation withdraws the listing its verification pointed to before, a filed
//! contract closes its listing). A test replays scenarios and compares the incrementally kept
//! root with one recomputed from every aggregate after each entry.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use deedlog_core::Entry;
use deedlog_core::hash::sha256;
use deedlog_core::state_map::{Digest, StateMap, StateProof, state_key};
use serde_json::{Value, json};

use crate::State;
use crate::bounded::Spill;
use crate::state::{EntrustmentTerms, ListingStatus};

/// The stream prefixes whose aggregates have a public status.
const PREFIXES: [&str; 3] = ["listing/", "contract/", "property/"];

fn has_status(id: &str) -> bool {
    PREFIXES.iter().any(|p| id.starts_with(p))
}

fn name<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The public status of an aggregate (`listing/…`, `contract/…`, `property/…`) as a JSON
/// object, or `None` when there is no such aggregate.
#[must_use]
pub fn status(state: &State, id: &str) -> Option<Value> {
    let version = state.stream_version(id);
    if let Some(l) = state.listing(id) {
        // The price and photos shown. Only an active listing, or one closed by a filed contract
        // (which needs it active), is known to have shown them: one waiting for its first
        // review, or withdrawn after its first publication was rejected, never did, and its
        // proposal stays confidential.
        let shown = matches!(l.status, ListingStatus::Active | ListingStatus::Closed);
        return Some(json!({
            "aggregate": l.id,
            "code": l.code,
            "kind": "listing",
            "photos": if shown { name(&l.photos) } else { json!([]) },
            "price_fen": if shown { json!(l.price_fen) } else { Value::Null },
            "property": l.property,
            "status": name(&l.status),
            "updated_seq": l.updated_seq,
            "version": version,
        }));
    }
    if let Some(c) = state.contract(id) {
        return Some(json!({
            "aggregate": c.id,
            "filed_seq": c.filed_seq,
            "filing_code": c.filing_code,
            "kind": "contract",
            "status": name(&c.status),
            "version": version,
        }));
    }
    if let Some(p) = state.property(id) {
        return Some(json!({
            "aggregate": p.id,
            "kind": "property",
            "seized": p.seizure.is_some(),
            "version": version,
        }));
    }
    None
}

/// The canonical bytes of a status and their digest (the map's value).
///
/// # Errors
/// Never in practice (statuses hold no floats); reported rather than assumed.
pub fn encode(
    status: &Value,
) -> Result<(Vec<u8>, Digest), deedlog_core::canonical::CanonicalError> {
    let bytes = deedlog_core::canonical::to_vec(status)?;
    let digest = sha256(&bytes);
    Ok((bytes, digest))
}

/// The aggregates with a public status that `entry` may change, as seen from `state` (call it
/// with the state before and after the entry is applied, and take both).
#[must_use]
pub fn affected(state: &State, entry: &Entry) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let s = entry.stream.as_str();
    out.insert(s.to_owned());
    if let Some(l) = state.listing(s) {
        out.insert(l.property.clone());
    }
    if let Some(c) = state.contract(s) {
        out.insert(c.listing.clone());
        out.insert(c.property.clone());
    }
    let mut verification = state.verification(s);
    if let Some(en) = state.entrustment(s)
        && let EntrustmentTerms::Sale {
            verification: v, ..
        } = &en.terms
    {
        verification = state.verification(v);
    }
    if let Some(v) = verification {
        out.insert(v.property.clone());
        out.extend(v.live_listing.iter().cloned());
        out.extend(v.live_contract.iter().cloned());
    }
    out.retain(|id| has_status(id));
    out
}

/// One aggregate's new status, for the published copy of the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The aggregate id.
    pub aggregate: String,
    /// The canonical bytes of its status.
    pub status: Vec<u8>,
    /// Their digest.
    pub value: Digest,
}

/// The state map as the sequencer, the replay and the audit keep it: each aggregate's value
/// digest, and the changes since [`Commitment::take_changes`] was last called (when asked to
/// keep them).
#[derive(Debug, Clone, Default)]
pub struct Commitment {
    map: StateMap,
    changes: Option<Vec<Change>>,
}

impl Commitment {
    /// An empty map that does not keep its changes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map that keeps its changes for a published copy.
    #[must_use]
    pub fn keeping_changes() -> Self {
        Self {
            changes: Some(Vec::new()),
            ..Self::default()
        }
    }

    /// Recomputes the status of every aggregate in `ids` from `state` and updates the map.
    ///
    /// # Errors
    /// A status that cannot be encoded (never in practice).
    pub fn update<'a>(
        &mut self,
        state: &State,
        ids: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), deedlog_core::canonical::CanonicalError> {
        for id in ids {
            let Some(s) = status(state, id) else {
                continue;
            };
            let (bytes, value) = encode(&s)?;
            let key = state_key(id);
            if self.map.get(&key) == Some(value) {
                continue;
            }
            self.map.insert(key, value);
            if let Some(changes) = &mut self.changes {
                changes.push(Change {
                    aggregate: id.clone(),
                    status: bytes,
                    value,
                });
            }
        }
        Ok(())
    }

    /// The root of the map.
    pub fn root(&mut self) -> Digest {
        self.map.root()
    }

    /// The map as it stands, for a published copy ([`Published::apply_snapshot`]): it shares
    /// every node with this one until either changes.
    pub fn snapshot(&mut self) -> StateMap {
        self.map.root();
        self.map.clone()
    }

    /// How many aggregates the map holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The changes since the last call (empty unless made with [`Commitment::keeping_changes`]).
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// The root over every aggregate of `state`, recomputed from scratch (for tests and audits).
///
/// # Errors
/// A status that cannot be encoded (never in practice).
pub fn root_from_scratch(state: &State) -> Result<Digest, deedlog_core::canonical::CanonicalError> {
    let mut pairs = BTreeMap::new();
    let ids = state
        .listings()
        .map(|l| l.id.clone())
        .chain(state.contracts().map(|c| c.id.clone()))
        .chain(state.properties().map(|p| p.id.clone()));
    for id in ids {
        if let Some(s) = status(state, &id) {
            pairs.insert(state_key(&id), encode(&s)?.1);
        }
    }
    Ok(deedlog_core::state_map::root_of(&pairs))
}

/// The map as readers see it: the state of the log at the end of a published batch, with each
/// aggregate's status bytes, so an answer can carry the status and its proof against the root
/// the batch's last entry committed.
#[derive(Debug, Clone, Default)]
pub struct Published {
    map: StateMap,
    statuses: Statuses,
    /// Statuses in memory: all of them for [`Statuses::Memory`], the ones not yet written for
    /// a store.
    unwritten: HashMap<String, Vec<u8>>,
    /// The log size it stands at (the seq after the entry that committed its root); 0 before
    /// any root was committed.
    size: u64,
}

/// One aggregate's status and its proof, as an answer carries them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusProof {
    /// The aggregate id.
    pub aggregate: String,
    /// The canonical JSON text of its status (absent when the map does not hold it); its
    /// SHA-256 is the proof's value.
    pub status: Option<String>,
    /// The proof against the committed root.
    pub proof: StateProof,
}

/// Where a published map keeps its statuses' bytes: in memory, or in a store (the node's scratch
/// store, under [`STATUS_TAG`] and the aggregate id) with the ones not yet written in memory.
#[derive(Clone, Default)]
enum Statuses {
    #[default]
    Memory,
    Store(std::sync::Arc<dyn Spill>),
}

impl std::fmt::Debug for Statuses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Memory => "Memory",
            Self::Store(_) => "Store",
        })
    }
}

/// The first byte of a status's key in a store (the state's maps use the tags 0 to 22).
pub const STATUS_TAG: u8 = 0xff;

fn status_key(aggregate: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + aggregate.len());
    key.push(STATUS_TAG);
    key.extend_from_slice(aggregate.as_bytes());
    key
}

impl Published {
    /// An empty published map keeping its statuses in memory.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty published map keeping its statuses in `store` (which must hold none yet):
    /// in memory are only the ones a failed write left for the next [`Published::apply`].
    #[must_use]
    pub fn with_store(store: std::sync::Arc<dyn Spill>) -> Self {
        Self {
            statuses: Statuses::Store(store),
            ..Self::default()
        }
    }

    /// Applies the changes of a batch whose last entry committed the root, at log size `size`.
    /// A store that cannot be written keeps the statuses in memory until a later call writes
    /// them, so what a reader is shown always matches the root.
    ///
    /// # Errors
    /// The store could not be written (the changes are applied all the same; the statuses wait
    /// in memory).
    pub fn apply(&mut self, size: u64, changes: Vec<Change>) -> Result<(), String> {
        for c in &changes {
            self.map.insert(state_key(&c.aggregate), c.value);
        }
        self.map.root();
        self.size = size;
        self.keep_statuses(changes)
    }

    /// Moves to `map`, a snapshot of the sequencer's map ([`Commitment::snapshot`]) at log size
    /// `size`, whose changes since the last call are `changes` (their statuses are kept; the
    /// nodes the two maps share are held once).
    ///
    /// # Errors
    /// As [`Published::apply`].
    pub fn apply_snapshot(
        &mut self,
        size: u64,
        map: StateMap,
        changes: Vec<Change>,
    ) -> Result<(), String> {
        self.map = map;
        self.map.root();
        self.size = size;
        self.keep_statuses(changes)
    }

    /// Keeps the statuses of `changes` (their values reach the map with a later
    /// [`Published::apply_snapshot`]).
    ///
    /// # Errors
    /// As [`Published::apply`].
    pub fn keep_statuses(&mut self, changes: Vec<Change>) -> Result<(), String> {
        for c in changes {
            self.unwritten.insert(c.aggregate, c.status);
        }
        let Statuses::Store(store) = &self.statuses else {
            return Ok(());
        };
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let writes = self
            .unwritten
            .iter()
            .map(|(a, s)| (status_key(a), Some(s.clone())))
            .collect();
        store.write(writes)?;
        self.unwritten.clear();
        Ok(())
    }

    /// The log size the map stands at (0: nothing committed yet).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root.
    pub fn root(&mut self) -> Digest {
        self.map.root()
    }

    /// The status and proof of `aggregate`, member or not.
    ///
    /// # Errors
    /// The store of statuses could not be read.
    pub fn prove(&mut self, aggregate: &str) -> Result<StatusProof, String> {
        let proof = self.map.prove(&state_key(aggregate));
        let status = match (self.unwritten.get(aggregate), &self.statuses) {
            (Some(bytes), _) => Some(bytes.clone()),
            (None, Statuses::Memory) => None,
            (None, Statuses::Store(store)) => store.get(&status_key(aggregate))?,
        };
        Ok(StatusProof {
            aggregate: aggregate.to_owned(),
            status: status.map(|b| String::from_utf8_lossy(&b).into_owned()),
            proof,
        })
    }
}
