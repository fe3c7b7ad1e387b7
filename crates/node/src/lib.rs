//! deedlog's ledger node: one data folder assembled into a running ledger — keys, the log and its
//! sequencer deciding with the domain rules, the vault, and the projector that follows the log
//! into the views.
//!
//! ```text
//! DATA/keys/        the log key and the actor keys this node signs for (0700; files 0600)
//! DATA/log.vkey     the log's verifier key (public)
//! DATA/log/ offsets hashes index/     the store (see deedlog-store)
//! DATA/vault/       personal data (see deedlog-vault)
//! DATA/outbox/sms.jsonl   the identity authority's SMS outbox (0600; the operator's only)
//! DATA/identity/    which vault subject holds each registered phone commitment
//! DATA/views/       the read models (see deedlog-views); disposable, rebuilt from the log
//! DATA/state/       scratch space of the sequencer's domain state (see the `spill` module),
//!                   removed and made afresh on every open
//! DATA/messages/    online messages between the sides of a listing or contract (sled; off the
//!                   log, not derived from it: see the `messages` module)
//! DATA/initialized  written once genesis and the reference data are on the log
//! ```
//!
//! Architecture invariants:
//! - the log is the only truth: on every start the domain state is replayed from the log, and
//!   the views are caught up from their cursor (or rebuilt when they do not match the log);
//! - the decider is the domain's `decide`/`apply_parsed` behind the core's one decide contract
//!   (`deedlog_core::decide`), with no adapter between two definitions; an accepted entry that
//!   does not apply stops the sequencer, and [`Node::failure`] says why;
//! - keys are on disk (fsynced) before anything they sign reaches the log;
//! - the embedded default holds the authorities' keys and, as a demo convenience, the keys of
//!   the reference banks, offices and agents, under `DATA/keys/` only, never committed.
#![deny(missing_docs)]

mod caches;
mod feed;
pub mod identity;
mod init;
pub mod keys;
pub mod messages;
mod projector;
mod spill;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use deedlog_core::state_map::StateMap;
use deedlog_core::{Command, Entry, SignedCommand, hash};
use deedlog_domain::public_status::{self, Change, Commitment, Published};
use deedlog_domain::{Decision, Payload, State};
use deedlog_store::{
    Context, Decider, LogOptions, LogReader, LogWriter, NoteFormat, Receipt, Rejection, Sequencer,
    SequencerConfig, SequencerHandle, StoreError, codes,
};
use deedlog_vault::{Vault, VaultError};
use deedlog_views::{Projection, Snapshot, ViewError, Views};

pub use caches::Caches;
pub use identity::{IdentityError, IdentityLimits};
pub use keys::NodeKeys;

/// Why the node could not open or act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The file system failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The vault failed.
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    /// The views failed.
    #[error("views: {0}")]
    Views(#[from] ViewError),
    /// A key file is missing or malformed.
    #[error("keys: {0}")]
    Keys(String),
    /// The reference data is unusable.
    #[error("reference data: {0}")]
    Reference(String),
    /// The log does not replay through the domain rules.
    #[error("replaying entry {seq}: {message}")]
    Replay {
        /// The entry.
        seq: u64,
        /// What failed.
        message: String,
    },
    /// A state root the log commits is not the root its replay computes, or a checkpoint does
    /// not end at an entry that commits one.
    #[error("the state map does not match the log at entry {seq}: {message}")]
    StateRoot {
        /// The entry.
        seq: u64,
        /// What differs.
        message: String,
    },
    /// A command was refused (by the sequencer, the domain, or an identity check).
    #[error("{}: {}", .0.code, .0.message)]
    Rejected(Rejection),
    /// The options are unusable.
    #[error("configuration: {0}")]
    Config(String),
}

impl NodeError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How to open a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The data folder.
    pub data_dir: PathBuf,
    /// The reference data loaded at first start (`None`: none, only genesis).
    pub reference_dir: Option<PathBuf>,
    /// The log's origin (a valid key name, e.g. `deedlog.kunming.example/log`).
    pub origin: String,
    /// The platform's display name in genesis.
    pub platform_name: String,
    /// The sequencer's tunables and clock.
    pub sequencer: SequencerConfig,
    /// The log's tunables (the index's page cache is in `caches`).
    pub log: LogOptions,
    /// The page caches of the index, the views and the vault, in one place.
    pub caches: Caches,
    /// The embedded identity authority's limits (its population register is
    /// `reference_dir/population.json`).
    pub identity: IdentityLimits,
    /// The message store's limits.
    pub messages: messages::MessageLimits,
}

/// The default origin.
pub const DEFAULT_ORIGIN: &str = "deedlog.kunming.example/log";
/// The default reference data folder.
pub const DEFAULT_REFERENCE_DIR: &str = "ledger-data/reference";

impl NodeOptions {
    /// The embedded default on `data_dir`: reference data from `ledger-data/reference`, origin
    /// [`DEFAULT_ORIGIN`], default sequencer and log tunables, the system clock.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            reference_dir: Some(PathBuf::from(DEFAULT_REFERENCE_DIR)),
            origin: DEFAULT_ORIGIN.to_owned(),
            platform_name: "昆明市存量房交易服务平台".to_owned(),
            sequencer: SequencerConfig::default(),
            log: LogOptions::default(),
            caches: Caches::default(),
            identity: IdentityLimits::default(),
            messages: messages::MessageLimits::default(),
        }
    }
}

/// The domain rules as the store's decider: the domain's `decide` and `apply_parsed`, speaking
/// the core's contract directly, so codes, classes, messages and details reach the caller as the
/// rules wrote them. It also keeps the state map of public statuses, whose root the last entry
/// of each batch commits, and hands each batch's changes to the published copy once the batch
/// is durable (readers prove against the published copy, never against a batch in flight).
struct DomainDecider {
    state: State,
    commitment: Commitment,
    /// Batches decided and not yet published: the log size after each, with its changes and
    /// the snapshots of its entries for the views.
    pending: std::collections::VecDeque<(u64, StateMap, Vec<Change>, Vec<Snapshot>)>,
    /// The snapshots of the batch being decided.
    snapshots: Vec<Snapshot>,
    /// Where the snapshots go once their batch is durable.
    feed: Arc<feed::Feed>,
    published: Arc<Mutex<Published>>,
    /// Phone vouchers checked ahead on the verify workers.
    checks: Arc<deedlog_domain::identity::VoucherChecks>,
    /// The log, replayed to rewind the state after a full file system.
    reader: LogReader,
    /// Where a rewind makes the state's fresh scratch store, and how much the state keeps.
    data: PathBuf,
    caches: Caches,
}

impl DomainDecider {
    /// The state's scratch store's read failure during a decide or an apply, if any.
    fn state_failure(&self) -> Option<String> {
        self.state.take_spill_failure().map(|failure| {
            tracing::error!(%failure, "the domain state's scratch store could not be read");
            failure
        })
    }
}

impl Decider for DomainDecider {
    type Parsed = Payload;
    type ApplyError = deedlog_domain::ApplyError;

    fn decide(&self, command: &SignedCommand, ctx: &Context) -> Result<Decision, Rejection> {
        let verdict = self.state.decide_with(command, ctx, Some(&self.checks));
        // A look-up that could not read the scratch store answered "absent": whatever was
        // decided on it stands on nothing, and is refused.
        match self.state_failure() {
            Some(_) => Err(Rejection::unavailable(
                "the ledger could not read its state; nothing was appended, try again",
            )),
            None => verdict,
        }
    }

    fn apply(&mut self, entry: &Entry, parsed: Payload) -> Result<(), Self::ApplyError> {
        let mut ids = std::collections::BTreeSet::new();
        let mut apply = |state: &mut State| {
            ids = public_status::affected(state, entry);
            state.apply_parsed(entry, &parsed)?;
            ids.extend(public_status::affected(state, entry));
            Ok::<(), Self::ApplyError>(())
        };
        if self.feed.attached() {
            let snapshot = Snapshot::around(&mut self.state, entry, apply)?;
            self.snapshots.push(snapshot);
        } else {
            apply(&mut self.state)?;
        }
        // Any entry may be the one that changes the authority's key (genesis, a rotation): a
        // read lock and a comparison of two short strings.
        self.checks
            .set_authority(self.state.current_key(deedlog_domain::ids::IDENTITY));
        self.commitment
            .update(&self.state, &ids)
            .map_err(|e| deedlog_domain::ApplyError::Payload(format!("public status: {e}")))?;
        match self.state_failure() {
            Some(failure) => Err(deedlog_domain::ApplyError::StateUnreadable(failure)),
            None => Ok(()),
        }
    }

    fn state_root(&mut self) -> Option<deedlog_core::state_map::Digest> {
        // Between batches: what the state does not keep goes to its scratch store. A failed
        // write (a full disk) leaves it all in memory, and the next batch tries again.
        if let Err(error) = self.state.spill() {
            tracing::warn!(%error, "the domain state keeps everything in memory for now");
        }
        let changes = self.commitment.take_changes();
        let snapshots = std::mem::take(&mut self.snapshots);
        let map = self.commitment.snapshot();
        let root = self.commitment.root();
        self.pending
            .push_back((self.state.next_seq(), map, changes, snapshots));
        Some(root)
    }

    fn commits_state(&self) -> bool {
        true
    }

    fn prechecker(&self) -> Option<Arc<dyn deedlog_core::decide::Precheck>> {
        Some(self.checks.clone())
    }

    /// Replays the committed log (as on open) into a fresh state and state map; the published
    /// copy already stands at `size`, and the batches decided after it were never published.
    fn rewind(&mut self, size: u64) -> Result<(), String> {
        if self.reader.size() != size {
            return Err(format!(
                "the log's readers see {} entries, the writer committed {size}",
                self.reader.size()
            ));
        }
        tracing::info!(size, "rebuilding the state from the committed log");
        let spill = fresh_spill(&self.data, &self.caches);
        let replayed = replay(&self.reader, None, spill).map_err(|e| e.to_string())?;
        self.state = replayed.state;
        self.commitment = replayed.commitment;
        self.pending.clear();
        self.snapshots.clear();
        self.checks
            .set_authority(self.state.current_key(deedlog_domain::ids::IDENTITY));
        Ok(())
    }

    fn published(&mut self, size: u64) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut durable = Vec::new();
        while self.pending.front().is_some_and(|(at, ..)| *at <= size) {
            if let Some((at, map, changes, snapshots)) = self.pending.pop_front() {
                if let Err(error) = published.apply_snapshot(at, map, changes) {
                    tracing::warn!(%error, "the published statuses stay in memory for now");
                }
                durable.extend(snapshots);
            }
        }
        drop(published);
        self.feed.push(durable);
    }
}

struct Inner {
    data_dir: PathBuf,
    origin: String,
    log_vkey: String,
    keys: Mutex<NodeKeys>,
    handle: SequencerHandle,
    reader: LogReader,
    views: Views,
    vault: Arc<Vault>,
    identity: identity::IdentityAuthority,
    messages: Arc<messages::MessageStore>,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    sequencer: Mutex<Option<Sequencer>>,
    projector: Mutex<Option<projector::Projector>>,
    published: Arc<Mutex<Published>>,
    feed: Arc<feed::Feed>,
}

/// A running ledger node. Cheap to clone; [`Node::shutdown`] stops it for every clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.inner.data_dir)
            .field("origin", &self.inner.origin)
            .field("log_size", &self.inner.reader.size())
            .finish_non_exhaustive()
    }
}

/// What the replay on open rebuilds: the state, the state map (checked against every root the
/// log commits) and its published copy.
struct Replayed {
    state: State,
    commitment: Commitment,
    /// The state map as readers see it: every aggregate's status at the end of the log, served
    /// only when the last entry committed the root.
    published: Published,
}

/// A bounded state's scratch store with the entries each of its maps keeps, made afresh in
/// `DATA/state/`; `None` (a state held whole in memory, with a warning) when it cannot be made.
fn fresh_spill(
    data: &Path,
    caches: &Caches,
) -> Option<(Arc<dyn deedlog_domain::bounded::Spill>, usize)> {
    match spill::StateSpill::fresh(data, caches.state_bytes) {
        Ok(spill) => Some((Arc::new(spill), caches.state_entries)),
        Err(error) => {
            tracing::warn!(%error, "the domain state is held whole in memory");
            None
        }
    }
}

/// The state after the log's first `size` entries.
pub(crate) fn state_after(reader: &LogReader, size: u64) -> Result<State, NodeError> {
    let mut state = State::default();
    for seq in 0..size {
        let entry = reader.whole_entry(seq).map_err(|e| NodeError::Replay {
            seq,
            message: e.to_string(),
        })?;
        state.apply(&entry).map_err(|e| NodeError::Replay {
            seq,
            message: e.to_string(),
        })?;
    }
    Ok(state)
}

/// Where the replay hands the snapshots of the entries the views have not applied: from
/// `from` on, in runs of at most [`projector::BATCH_MAX`].
type ViewsSink<'a> = (u64, &'a mut dyn FnMut(Vec<Snapshot>));

/// Replays the whole log into the state and the state map; `views`: also take the snapshots of
/// the entries from the views' cursor on and hand them over.
fn replay(
    reader: &LogReader,
    mut views: Option<ViewsSink<'_>>,
    spill: Option<(Arc<dyn deedlog_domain::bounded::Spill>, usize)>,
) -> Result<Replayed, NodeError> {
    /// Entries between two spills of a bounded state, and two hand-overs of the state map's
    /// changes to the published copy.
    const CHUNK: u64 = 4096;
    let size = reader.size();
    // The published copy keeps its statuses in the same scratch store as the state.
    let (mut state, mut published) = match spill {
        Some((spill, keep)) => (
            State::with_spill(spill.clone(), keep),
            Published::with_store(spill),
        ),
        None => (State::default(), Published::new()),
    };
    let mut commitment = Commitment::keeping_changes();
    let mut snapshots = Vec::new();
    let mut committed_size = 0;
    let mut first_root = None;
    let replay_error = |seq, e: &dyn std::fmt::Display| NodeError::Replay {
        seq,
        message: e.to_string(),
    };
    for seq in 0..size {
        let entry = reader.whole_entry(seq).map_err(|e| replay_error(seq, &e))?;
        let mut ids = std::collections::BTreeSet::new();
        let mut apply = |state: &mut State| {
            ids = public_status::affected(state, &entry);
            state.apply(&entry).map_err(|e| replay_error(seq, &e))?;
            ids.extend(public_status::affected(state, &entry));
            Ok::<(), NodeError>(())
        };
        match views.as_mut() {
            Some((from, sink)) if seq >= *from => {
                snapshots.push(Snapshot::around(&mut state, &entry, apply)?);
                if snapshots.len() as u64 >= projector::BATCH_MAX {
                    sink(std::mem::take(&mut snapshots));
                }
            }
            _ => apply(&mut state)?,
        }
        commitment
            .update(&state, &ids)
            .map_err(|e| replay_error(seq, &e))?;
        if let Some(failure) = state.take_spill_failure() {
            return Err(replay_error(
                seq,
                &format!("the state's scratch store could not be read: {failure}"),
            ));
        }
        let committed = deedlog_core::state_map::committed_root(&entry.derived).map_err(|e| {
            NodeError::StateRoot {
                seq,
                message: e.to_string(),
            }
        })?;
        if let Some(root) = committed {
            let recomputed = commitment.root();
            if root != recomputed {
                return Err(NodeError::StateRoot {
                    seq,
                    message: format!(
                        "the entry commits the root {}, the replay computes {}",
                        hex(root),
                        hex(recomputed)
                    ),
                });
            }
            committed_size = seq + 1;
            first_root.get_or_insert(seq);
        }
        if (seq + 1) % CHUNK == 0 {
            if let Err(error) = state.spill() {
                tracing::warn!(%error, seq, "the domain state keeps everything in memory for now");
            }
            if let Err(error) = published.keep_statuses(commitment.take_changes()) {
                tracing::warn!(%error, "the published statuses stay in memory for now");
            }
        }
        if seq > 0 && seq % 100_000 == 0 {
            tracing::info!(seq, size, "replaying the log");
        }
    }
    // Every checkpoint since the first committed root ends at an entry that commits one: the
    // checkpoint then covers the root of the state it shows.
    if let Some(first) = first_root {
        for cp in reader.checkpoints(first + 1, size)? {
            let last = cp.size - 1;
            let entry = reader
                .whole_entry(last)
                .map_err(|e| replay_error(last, &e))?;
            if entry
                .derived
                .get(deedlog_core::state_map::STATE_ROOT_FIELD)
                .is_none()
            {
                return Err(NodeError::StateRoot {
                    seq: last,
                    message: format!(
                        "the checkpoint of size {} ends at an entry that commits no state root",
                        cp.size
                    ),
                });
            }
        }
    }
    if let Some((_, sink)) = views.as_mut()
        && !snapshots.is_empty()
    {
        sink(snapshots);
    }
    if let Err(error) = state.spill() {
        tracing::warn!(%error, "the domain state keeps everything in memory for now");
    }
    // Committed roots stand only for the log up to them; one older than the log (a log written
    // before roots were committed) is not served, until the next batch commits one.
    let changes = commitment.take_changes();
    if let Err(error) = published.apply_snapshot(
        if committed_size == size { size } else { 0 },
        commitment.snapshot(),
        changes,
    ) {
        tracing::warn!(%error, "the published statuses stay in memory for now");
    }
    Ok(Replayed {
        state,
        commitment,
        published,
    })
}

fn hex(d: deedlog_core::state_map::Digest) -> String {
    hash::to_hex(&deedlog_core::Hash(d))
}

impl Node {
    /// Opens the node on `options.data_dir`: keys, log (with recovery), vault, views; replays the
    /// log into the domain state; starts the sequencer and the projector; on first start appends
    /// genesis and the reference data (with progress logs). Blocks until all that is done; call
    /// it before serving, not from inside a request.
    ///
    /// # Errors
    /// [`NodeError`] naming what failed.
    pub fn open(options: NodeOptions) -> Result<Node, NodeError> {
        let data = options.data_dir.clone();
        std::fs::create_dir_all(&data).map_err(|e| NodeError::io(&data, e))?;
        let has_log = keys::data_has_log(&data);
        let mut keys = NodeKeys::load_or_create(&data.join("keys"), has_log)?;
        let format = NoteFormat::new(&options.origin, keys.log().clone())?;
        let log_vkey = format.vkey();
        keys::publish_vkey(&data, &log_vkey)?;
        let (writer, reader, report) = LogWriter::open_with_index_cache(
            &data,
            options.log.clone(),
            Arc::new(format),
            options.caches.index_bytes,
        )?;
        tracing::info!(
            entries = report.entries,
            torn_tail_bytes = report.torn_tail_bytes,
            "log opened"
        );
        let vault = Arc::new(Vault::open_with_cache(
            data.join("vault"),
            options.caches.vault_bytes,
        )?);
        let population = options
            .reference_dir
            .as_ref()
            .map(|d| d.join(identity::POPULATION_FILE));
        let identity = identity::IdentityAuthority::open(
            &data,
            population.as_deref(),
            options.identity.clone(),
        )?;
        let views = Views::open_with_cache(&data.join("views"), options.caches.views_bytes)?;
        let size = reader.size();
        if !views.check(size, |seq| {
            reader.entry(seq).ok().map(|b| hash::leaf_hash(&b))
        })? {
            tracing::warn!(
                applied = views.applied(),
                size,
                "the views do not match the log; rebuilding them"
            );
            views.clear()?;
        }
        let message_store = Arc::new(
            messages::MessageStore::open(
                &data.join(messages::MESSAGES_DIR),
                options.messages.clone(),
            )
            .map_err(|e| NodeError::Config(format!("opening the message store: {e}")))?,
        );
        // The views catch up during the replay, from the snapshots it takes past their cursor;
        // if they cannot be written now, the projector goes on with a state of its own.
        let mut projection = Projection::fed(views.clone());
        let mut views_failed = false;
        let mut catch_up = |snapshots: Vec<Snapshot>| {
            if views_failed {
                return;
            }
            if let Err(error) =
                projector::apply_fed(&mut projection, &reader, &message_store, &snapshots)
            {
                tracing::error!(%error, "the views cannot catch up during the replay");
                views_failed = true;
            }
        };
        spill::StateSpill::clear(&data)?;
        let Replayed {
            state,
            commitment,
            published,
        } = replay(
            &reader,
            Some((views.applied(), &mut catch_up)),
            fresh_spill(&data, &options.caches),
        )?;
        let feed = Arc::new(feed::Feed::new(size, !views_failed));
        let published = Arc::new(Mutex::new(published));
        if size > 0 && !state.has_genesis() {
            return Err(NodeError::Replay {
                seq: 0,
                message: "the log does not start with genesis".into(),
            });
        }
        // Genesis needs the platform and authority keys; create them before anything is signed.
        if size == 0 {
            for actor in init::GENESIS_ACTORS {
                keys.ensure(actor)?;
            }
        }
        for actor in init::GENESIS_ACTORS {
            if keys.get(actor).is_none() {
                return Err(NodeError::Keys(format!(
                    "the key of {actor} is missing from {}",
                    data.join("keys").display()
                )));
            }
        }
        let clock = options.sequencer.clock.clone();
        let checks = Arc::new(deedlog_domain::identity::VoucherChecks::default());
        checks.set_authority(state.current_key(deedlog_domain::ids::IDENTITY));
        let sequencer = Sequencer::start(
            writer,
            DomainDecider {
                state,
                commitment,
                pending: std::collections::VecDeque::new(),
                snapshots: Vec::new(),
                feed: feed.clone(),
                published: published.clone(),
                checks,
                reader: reader.clone(),
                data: data.clone(),
                caches: options.caches,
            },
            options.sequencer.clone(),
        )?;
        let handle = sequencer.handle();
        let projector = projector::Projector::start(
            projection,
            feed.clone(),
            reader.clone(),
            message_store.clone(),
        )?;
        let node = Node {
            inner: Arc::new(Inner {
                data_dir: data.clone(),
                origin: options.origin.clone(),
                log_vkey,
                keys: Mutex::new(keys),
                handle,
                reader,
                views,
                vault,
                identity,
                messages: message_store,
                clock,
                sequencer: Mutex::new(Some(sequencer)),
                projector: Mutex::new(Some(projector)),
                published,
                feed,
            }),
        };
        if !data.join(init::INITIALIZED).exists() {
            let n = node.clone();
            let opts = options.clone();
            let result = std::thread::Builder::new()
                .name("init".into())
                .spawn(move || init::initialize(&n, &opts))
                .map_err(|e| NodeError::Config(format!("cannot spawn a thread: {e}")))?
                .join()
                .map_err(|_| NodeError::Config("initialization panicked".into()))?;
            if let Err(e) = result {
                node.shutdown();
                return Err(e);
            }
        }
        Ok(node)
    }

    /// The status and state proof of each of `aggregates` against the newest committed state
    /// root, all against the same root, with the log size after the entry that committed it
    /// (`None` while no root is committed for the log as it stands).
    ///
    /// # Errors
    /// The statuses could not be read from the node's scratch store.
    pub fn state_proofs(
        &self,
        aggregates: &[&str],
    ) -> Result<Option<(u64, Vec<public_status::StatusProof>)>, NodeError> {
        let mut published = self
            .inner
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match published.size() {
            0 => Ok(None),
            size => {
                let proofs = aggregates
                    .iter()
                    .map(|a| published.prove(a))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        NodeError::Config(format!("the published statuses cannot be read: {e}"))
                    })?;
                Ok(Some((size, proofs)))
            }
        }
    }

    /// Whether the projector is fed by the sequencer (the state is kept once) rather than
    /// keeping a state of its own (after its feed was detached: see [`Node::detach_views_feed`]).
    #[must_use]
    pub fn views_fed(&self) -> bool {
        self.inner.feed.attached()
    }

    /// Detaches the projector's feed, as when the views fall too far behind the log or cannot
    /// be written: the projector goes on with a state of its own, replayed from the log at the
    /// views' cursor, until the node is restarted. For tests and for an operator who would
    /// rather spend the memory than have appends wait for the views.
    pub fn detach_views_feed(&self) {
        self.inner.feed.detach("asked to");
    }

    /// Submits commands.
    #[must_use]
    pub fn handle(&self) -> SequencerHandle {
        self.inner.handle.clone()
    }

    /// Reads the log.
    #[must_use]
    pub fn reader(&self) -> &LogReader {
        &self.inner.reader
    }

    /// The read models.
    #[must_use]
    pub fn views(&self) -> &Views {
        &self.inner.views
    }

    /// The personal-data vault.
    #[must_use]
    pub fn vault(&self) -> &Arc<Vault> {
        &self.inner.vault
    }

    /// The log's verifier key (`origin+keyid+base64`).
    #[must_use]
    pub fn log_vkey(&self) -> &str {
        &self.inner.log_vkey
    }

    /// The log's origin.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The data folder.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The keys this node holds (demo and test access to the authorities and reference actors).
    #[must_use]
    pub fn keys(&self) -> NodeKeys {
        self.lock_keys().clone()
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, NodeKeys> {
        // Key files are written before the map changes, so a panic elsewhere leaves it consistent.
        self.inner
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The node's clock (ms since the Unix epoch).
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        (self.inner.clock)()
    }

    /// Waits until the views have applied entry `seq` (that is, `seq + 1` entries), at most
    /// `timeout`. Returns whether they did.
    pub async fn wait_for_views(&self, seq: u64, timeout: Duration) -> bool {
        self.inner
            .views
            .wait_applied(seq.saturating_add(1), timeout)
            .await
    }

    /// Signs a command as `actor` with the key this node holds for it, a fresh random nonce and
    /// the node's clock.
    ///
    /// # Errors
    /// [`NodeError::Keys`] when the node has no key for `actor`; [`NodeError::Rejected`] when
    /// the command is malformed.
    pub fn sign_as(
        &self,
        actor: &str,
        kind: &str,
        stream: &str,
        payload: Value,
        expected_version: Option<u64>,
    ) -> Result<SignedCommand, NodeError> {
        let secret = self
            .lock_keys()
            .get(actor)
            .cloned()
            .ok_or_else(|| NodeError::Keys(format!("this node holds no key for {actor}")))?;
        let mut nonce = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        sign(
            &secret,
            actor,
            kind,
            stream,
            payload,
            expected_version,
            &format!("node-{}", hex::encode(nonce)),
            self.now_ms(),
        )
    }

    /// Why the sequencer stopped taking commands after a failure (a write or sync that failed,
    /// or an accepted entry that did not apply), if it did. Every submit is then answered
    /// `503 ledger.unavailable` until the node is reopened — or, when the file system was
    /// full (`503 ledger.storage_full`), until it has room again, when the sequencer resumes
    /// by itself.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.inner.handle.failure()
    }

    /// Submits a command and waits for its receipt.
    ///
    /// # Errors
    /// The rejection.
    pub async fn submit(&self, command: SignedCommand) -> Result<Receipt, Rejection> {
        self.inner.handle.submit(command).await
    }

    /// Stops the node: the sequencer stops taking commands and finishes those already queued
    /// (every acknowledged entry is durable), then the projector catches up with the log and
    /// the views are flushed. Blocks; idempotent.
    pub fn shutdown(&self) {
        let sequencer = self
            .inner
            .sequencer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(s) = sequencer {
            s.shutdown();
        }
        let projector = self
            .inner
            .projector
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(p) = projector {
            p.stop();
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn sign(
    secret: &deedlog_core::SecretKey,
    actor: &str,
    kind: &str,
    stream: &str,
    payload: Value,
    expected_version: Option<u64>,
    nonce: &str,
    issued_at_ms: i64,
) -> Result<SignedCommand, NodeError> {
    Command {
        actor: actor.to_owned(),
        key: secret.public().to_base64(),
        kind: kind.to_owned(),
        stream: stream.to_owned(),
        expected_version,
        payload,
        nonce: nonce.to_owned(),
        issued_at_ms,
    }
    .sign(secret)
    .map_err(|e| NodeError::Rejected(Rejection::new(&codes::MALFORMED, e.to_string())))
}

/// Drops the views of `options.data_dir` and rebuilds them from the whole log (with progress
/// logs); returns the number of entries applied. The node must not be running elsewhere.
///
/// # Errors
/// As [`Node::open`].
pub fn rebuild_views(options: NodeOptions) -> Result<u64, NodeError> {
    let dir = options.data_dir.join("views");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| NodeError::io(&dir, e))?;
    }
    tracing::info!("views dropped; replaying the log from 0");
    let node = Node::open(options)?;
    let size = node.reader().size();
    while !node
        .views()
        .wait_applied_blocking(size, Duration::from_secs(10))
    {
        tracing::info!(
            applied = node.views().applied(),
            size,
            "rebuilding the views"
        );
    }
    node.shutdown();
    Ok(size)
}

/// Replays the whole log through the domain rules (the semantic audit) and reports every entry
/// that was not a legal step.
///
/// # Errors
/// A stored entry that cannot be read.
pub fn semantic_audit(reader: &LogReader) -> Result<deedlog_domain::AuditReport, NodeError> {
    let mut auditor = deedlog_domain::Auditor::new();
    for seq in 0..reader.size() {
        let entry = reader.whole_entry(seq).map_err(|e| NodeError::Replay {
            seq,
            message: e.to_string(),
        })?;
        auditor.check(&entry);
    }
    Ok(auditor.finish())
}
