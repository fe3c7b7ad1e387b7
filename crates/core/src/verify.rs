//! The offline verifier: reads a whole log, entry by entry, in flat memory, and reports every
//! fault it finds with its seq.
//!
//! For each entry (the `i`-th pushed is position `i`) it checks that the bytes are a canonical
//! entry, that `seq == i`, that `prev_hash` is the leaf hash of the previous entry's raw bytes
//! (32 zero bytes for `i == 0`), that `stream_version >= 1` and that the command's signature
//! holds. Whatever the bytes are, they are hashed into the tree at position `i`, so one bad entry
//! does not hide the checkpoints after it.
//!
//! For each checkpoint it checks the log signature and the origin, that sizes never decrease,
//! that two checkpoints of one size have one root, and that the root is the root of the first
//! `size` entries as recomputed by a [`Frontier`]. Consistency between checkpoints follows: all of
//! them are checked against prefixes of one sequence of leaves.
//!
//! Memory stays bounded whatever the log's length: the frontier (at most 64 hashes), the last
//! [`LATE_WINDOW`] leaf hashes (so a checkpoint that arrives a little after the entry completing
//! its size can still be checked), at most [`PENDING_CHECKPOINTS_MAX`] checkpoints waiting for
//! entries that have not arrived yet, and at most [`FAULTS_MAX`] faults.
//!
//! A version-2 entry verifies without its payload: its signature covers the payload's salted
//! digest. When an export or feed carries the entry's opening (payload and salt) on the next
//! line, the verifier also checks that the opening hashes to the signed digest; entries whose
//! opening was withheld (a public export of a confidential entry) are counted as `sealed`.
//!
//! Command signatures are checked one by one with the core's one signature rule
//! ([`crate::keys::PublicKey::verify`], `verify_strict`), the function the sequencer and
//! `ProofBundle::verify` use, so the verifier reports exactly the signatures the server refuses.
//! (Batch verification is not that rule: it accepts some signatures whose R has a torsion
//! component, depending on its random weights.)
//!
//! The work that does not depend on an entry's position (decoding it, hashing it into its leaf,
//! checking its signature) is most of the cost, so a verifier made
//! [`with_threads`](LogVerifier::with_threads) hands it to worker threads in batches, in input
//! order, while the caller goes on reading. The checks that do depend on position (`seq`,
//! `prev_hash`, the Merkle frontier, the checkpoints, the openings) are applied to each batch's
//! results on the caller's thread, in input order, by the same code as the one-thread verifier,
//! so the report (every fault, its seq, kind, words and order) is the same whatever the number of
//! threads. Memory stays bounded: at most [`IN_FLIGHT_PER_THREAD`] batches per thread wait.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::canonical::CanonicalError;
use crate::checkpoint::{self, CheckpointError, VerifierKey};
use crate::command::CommandError;
use crate::entry::{EntryError, Logged, LoggedEntry};
use crate::hash::{self, Hash, ZERO_HASH};
use crate::merkle::Frontier;

/// The `format` of the export header line.
pub const EXPORT_FORMAT: &str = "deedlog/export/v1";
/// How many of the latest leaf hashes are kept, so that a checkpoint whose size is up to this
/// many entries behind can still be checked.
pub const LATE_WINDOW: usize = 4096;
/// Most checkpoints kept waiting for entries that have not arrived yet.
pub const PENDING_CHECKPOINTS_MAX: usize = 4096;
/// Most faults kept in a report; the rest are only counted.
pub const FAULTS_MAX: usize = 100_000;
/// Largest checkpoint line accepted, in bytes.
pub const CHECKPOINT_LINE_BYTES_MAX: usize = 2 * checkpoint::NOTE_BYTES_MAX;
/// Entries in one batch handed to a worker thread: large enough that handing it over costs little
/// against its signature checks (about 30 µs each), small enough that the workers start early.
pub const BATCH_ENTRIES: usize = 512;
/// Items of any kind in one batch, so that a run of checkpoints or faults is handed over too.
const BATCH_ITEMS: usize = 4 * BATCH_ENTRIES;
/// Batches per worker thread that may wait for their results before the caller waits: two keep
/// each worker busy while the caller reads ahead; more would only hold memory.
pub const IN_FLIGHT_PER_THREAD: usize = 2;
/// Most worker threads a verifier starts, whatever it is asked for.
pub const THREADS_MAX: usize = 64;

/// What is wrong, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// The line is not an entry: not JSON, or not the shape of an entry.
    Undecodable,
    /// The entry is JSON but not in canonical form.
    NotCanonical,
    /// A field of the signed command is malformed (names, nonce, payload).
    MalformedCommand,
    /// The command's public key is not a usable Ed25519 key.
    BadKey,
    /// The command's signature is malformed or does not verify.
    BadSignature,
    /// The entry's `seq` is not its position.
    SeqMismatch,
    /// The entry's `prev_hash` is not the leaf hash of the previous entry.
    PrevHashMismatch,
    /// `stream_version` is 0.
    BadStreamVersion,
    /// A checkpoint line or note is malformed.
    CheckpointMalformed,
    /// A checkpoint is not signed by the log key, or its signature does not verify.
    CheckpointBadSignature,
    /// A checkpoint is for another origin.
    CheckpointWrongOrigin,
    /// A checkpoint's root is not the root of the entries.
    CheckpointRootMismatch,
    /// A checkpoint's size is smaller than an earlier checkpoint's.
    CheckpointShrank,
    /// Two checkpoints of one size have different roots.
    CheckpointFork,
    /// A checkpoint's size is beyond the last entry (the log is truncated), or too many
    /// checkpoints wait for entries.
    CheckpointBeyondLog,
    /// A checkpoint arrived more than [`LATE_WINDOW`] entries after its size; its root cannot be
    /// recomputed in bounded memory.
    CheckpointTooLate,
    /// Entries at the end of the log are covered by no verified checkpoint.
    Uncovered,
    /// The storage frame around an entry or checkpoint is damaged (checksum, length, header);
    /// reported by readers of the segment files, which still pass the bytes on.
    RecordDamaged,
    /// An opening (payload and salt of a version-2 entry) is malformed, does not follow its
    /// entry, or does not hash to the digest the entry's signature covers.
    BadOpening,
}

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The entry's position, for faults of an entry.
    pub seq: Option<u64>,
    /// The checkpoint's size, for faults of a checkpoint (when it could be read).
    pub checkpoint_size: Option<u64>,
    /// What is wrong.
    pub kind: FaultKind,
    /// In words.
    pub detail: String,
}

/// The result of verifying a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Entries read.
    pub entries: u64,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// Checkpoints whose signature, origin and root all verified.
    pub checkpoints_verified: u64,
    /// The largest size of a verified checkpoint: entries below it are vouched for by the log.
    pub covered: u64,
    /// Every fault, in the order of the input.
    pub faults: Vec<Fault>,
    /// Faults found beyond [`FAULTS_MAX`], counted but not kept.
    pub faults_omitted: u64,
    /// Version-2 entries whose opening was given and checked against the signed digest.
    #[serde(default)]
    pub opened: u64,
    /// Version-2 entries seen without their opening (verified structurally only).
    #[serde(default)]
    pub sealed: u64,
}

impl Report {
    /// No fault at all.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.faults.is_empty() && self.faults_omitted == 0
    }
}

/// Why an export could not be read at all (every other problem is a [`Fault`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// There is no header line.
    #[error("the export is empty: no header line")]
    Empty,
    /// The header line is not the header object.
    #[error("header line: {0}")]
    Header(String),
    /// The header names another format.
    #[error("unknown export format `{0}`")]
    Format(String),
    /// The header's log key is unusable.
    #[error("log key: {0}")]
    LogKey(CheckpointError),
    /// The header's log key is not the one the caller trusts.
    #[error("the export names another log key than the trusted one")]
    UntrustedLogKey,
}

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The log's origin (the first line of its checkpoints).
    pub origin: String,
    /// The log's vkey.
    pub log_key: String,
}

/// An opening line of an export or feed: the payload and salt of the version-2 entry on the
/// line before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningLine {
    /// The opening object `{"payload", "salt"}`.
    pub opening: serde_json::Value,
    /// The seq of the entry it opens.
    pub seq: u64,
}

impl OpeningLine {
    /// The canonical line for the opening `opening` (canonical bytes) of entry `seq`.
    #[must_use]
    pub fn line(seq: u64, opening: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(opening.len() + 40);
        out.extend_from_slice(b"{\"opening\":");
        out.extend_from_slice(opening);
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(seq.to_string().as_bytes());
        out.push(b'}');
        out
    }

    /// Parses a canonical opening line; returns the seq and the opening's canonical bytes.
    ///
    /// # Errors
    /// In words, when the line is not a canonical opening line.
    pub fn parse(line: &[u8]) -> Result<(u64, Vec<u8>), String> {
        if line.len() > crate::command::OPENING_BYTES_MAX + 64 {
            return Err(format!("opening line of {} bytes is too large", line.len()));
        }
        let value = crate::canonical::decode(line).map_err(|e| e.to_string())?;
        let parsed: OpeningLine = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let bytes = crate::canonical::encode(&parsed.opening).map_err(|e| e.to_string())?;
        Ok((parsed.seq, bytes))
    }
}

/// A checkpoint line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointLine {
    /// The whole signed note.
    pub checkpoint: String,
}

struct Pending {
    ordinal: u64,
    root: Hash,
}

/// The streaming verifier. Push entries and checkpoints in log order, then [`LogVerifier::finish`].
pub struct LogVerifier {
    origin: String,
    log_key: VerifierKey,
    /// Input items seen (entries and checkpoints), to keep faults in input order.
    ordinal: u64,
    /// Entries applied (checked against their position).
    position: u64,
    /// Entries pushed, applied or still waiting in a batch.
    pushed: u64,
    /// The worker threads and the batches handed to them, when more than one thread is asked for.
    pool: Option<Pool>,
    prev_leaf: Hash,
    frontier: Frontier,
    /// The frontier of the leaves before `window`.
    window_base: Frontier,
    window: VecDeque<Hash>,
    pending: BTreeMap<u64, Vec<Pending>>,
    pending_count: usize,
    last_checkpoint: Option<(u64, Hash)>,
    checkpoints: u64,
    checkpoints_verified: u64,
    covered: u64,
    faults: Vec<(u64, Fault)>,
    faults_omitted: u64,
    /// The last entry pushed, when it is version 2 and not yet opened: its seq and digest.
    awaiting_opening: Option<(u64, String)>,
    opened: u64,
    sealed: u64,
}

impl std::fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogVerifier")
            .field("origin", &self.origin)
            .field("position", &self.position)
            .field("checkpoints", &self.checkpoints)
            .field("faults", &self.faults.len())
            .finish_non_exhaustive()
    }
}

impl LogVerifier {
    /// A verifier for the log `origin` whose checkpoints are signed by `log_vkey`.
    ///
    /// # Errors
    /// When `log_vkey` is not a usable verifier key.
    pub fn new(origin: &str, log_vkey: &str) -> Result<Self, CheckpointError> {
        Ok(Self {
            origin: origin.to_owned(),
            log_key: VerifierKey::parse(log_vkey)?,
            ordinal: 0,
            position: 0,
            pushed: 0,
            pool: None,
            prev_leaf: ZERO_HASH,
            frontier: Frontier::new(),
            window_base: Frontier::new(),
            window: VecDeque::with_capacity(LATE_WINDOW + 1),
            pending: BTreeMap::new(),
            pending_count: 0,
            last_checkpoint: None,
            checkpoints: 0,
            checkpoints_verified: 0,
            covered: 0,
            faults: Vec::new(),
            faults_omitted: 0,
            awaiting_opening: None,
            opened: 0,
            sealed: 0,
        })
    }

    /// The same verifier, handing the position-independent work (decoding, leaf hashes,
    /// signatures) to `threads` worker threads (at most [`THREADS_MAX`]); 0 or 1 keeps it all on
    /// the caller's thread. The workers are started with the first full batch, so a short log
    /// starts none, and stopped when the verifier is finished or dropped.
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.pool = (threads > 1).then(|| Pool::new(threads.min(THREADS_MAX), BATCH_ENTRIES));
        self
    }

    /// The same verifier with batches of `entries` entries (at least 1) for its worker threads;
    /// [`BATCH_ENTRIES`] unless changed. Small batches are for tests of the batch boundaries.
    #[must_use]
    pub fn with_batch_entries(mut self, entries: usize) -> Self {
        if let Some(pool) = self.pool.as_mut() {
            pool.batch_entries = entries.max(1);
        }
        self
    }

    /// The same verifier with [`LogVerifier::with_threads`] and
    /// [`LogVerifier::with_batch_entries`] from `parallelism`.
    #[must_use]
    pub fn with_parallelism(self, parallelism: Parallelism) -> Self {
        self.with_threads(parallelism.threads)
            .with_batch_entries(parallelism.batch_entries)
    }

    /// Entries pushed so far.
    #[must_use]
    pub fn entries(&self) -> u64 {
        self.pushed
    }

    /// Queues `item` for the workers, or applies it now when there are none; applies whatever
    /// batches have come back.
    fn enqueue(&mut self, item: Queued) {
        let Some(pool) = self.pool.as_mut() else {
            let step = match item {
                Queued::Entry(bytes) => Step::Entry(examine(&bytes)),
                other => Step::Other(other),
            };
            self.apply(step);
            return;
        };
        let ready = pool.push(item);
        for steps in ready {
            for step in steps {
                self.apply(step);
            }
        }
    }

    /// Hands the last partial batch over and applies every batch, in order.
    fn drain(&mut self) {
        let Some(pool) = self.pool.as_mut() else {
            return;
        };
        let ready = pool.drain();
        for steps in ready {
            for step in steps {
                self.apply(step);
            }
        }
    }

    /// Applies one item in input order: the position-dependent checks.
    fn apply(&mut self, step: Step) {
        match step {
            Step::Entry(examined) => self.apply_entry(examined),
            Step::Other(Queued::Entry(bytes)) => self.apply_entry(examine(&bytes)),
            Step::Other(Queued::Opening(seq, opening)) => self.apply_opening(seq, &opening),
            Step::Other(Queued::Checkpoint(note)) => self.apply_checkpoint(&note),
            Step::Other(Queued::Fault(fault)) => {
                self.ordinal += 1;
                let ordinal = self.ordinal;
                self.fault(ordinal, fault);
            }
            Step::Other(Queued::BadOpeningLine(detail)) => {
                self.ordinal += 1;
                let (ordinal, seq) = (self.ordinal, self.position.saturating_sub(1));
                self.awaiting_opening = None;
                self.entry_fault(ordinal, seq, FaultKind::BadOpening, detail);
            }
            Step::Other(Queued::BadCheckpointLine(detail)) => {
                self.ordinal += 1;
                self.checkpoints += 1;
                let ordinal = self.ordinal;
                self.checkpoint_fault(ordinal, None, FaultKind::CheckpointMalformed, detail);
            }
        }
    }

    fn fault(&mut self, ordinal: u64, fault: Fault) {
        if self.faults.len() < FAULTS_MAX {
            self.faults.push((ordinal, fault));
        } else {
            self.faults_omitted += 1;
        }
    }

    fn entry_fault(&mut self, ordinal: u64, seq: u64, kind: FaultKind, detail: String) {
        self.fault(
            ordinal,
            Fault {
                seq: Some(seq),
                checkpoint_size: None,
                kind,
                detail,
            },
        );
    }

    fn checkpoint_fault(
        &mut self,
        ordinal: u64,
        size: Option<u64>,
        kind: FaultKind,
        detail: String,
    ) {
        self.fault(
            ordinal,
            Fault {
                seq: None,
                checkpoint_size: size,
                kind,
                detail,
            },
        );
    }

    /// Adds a fault found outside the verifier (e.g. a damaged storage frame), in input order.
    pub fn push_fault(&mut self, fault: Fault) {
        self.enqueue(Queued::Fault(fault));
    }

    /// Pushes the raw bytes of the entry at the next position.
    pub fn push_entry(&mut self, bytes: &[u8]) {
        self.push_entry_owned(bytes.to_vec());
    }

    /// As [`LogVerifier::push_entry`], taking the bytes (no copy for a verifier with threads).
    pub fn push_entry_owned(&mut self, bytes: Vec<u8>) {
        self.pushed += 1;
        self.enqueue(Queued::Entry(bytes));
    }

    fn apply_entry(&mut self, examined: Examined) {
        self.ordinal += 1;
        let ordinal = self.ordinal;
        let seq = self.position;
        let leaf = examined.leaf;
        self.close_awaiting();
        match examined.outcome {
            Err((kind, detail)) => self.entry_fault(ordinal, seq, kind, detail),
            Ok(facts) => self.check_entry(ordinal, seq, facts),
        }
        self.prev_leaf = leaf;
        self.frontier.push(leaf);
        self.window.push_back(leaf);
        if self.window.len() > LATE_WINDOW
            && let Some(oldest) = self.window.pop_front()
        {
            self.window_base.push(oldest);
        }
        self.position += 1;
        if let Some(waiting) = self.pending.remove(&self.position) {
            self.pending_count -= waiting.len();
            let root = self.frontier.root();
            for p in waiting {
                self.check_root(p.ordinal, self.position, p.root, root);
            }
        }
    }

    /// The entry before had no opening after it: it stays verified structurally only.
    fn close_awaiting(&mut self) {
        if self.awaiting_opening.take().is_some() {
            self.sealed += 1;
        }
    }

    /// Pushes the opening (canonical bytes) that an export or feed gave for entry `seq`: it must
    /// follow that entry, a version-2 one, and hash to the digest its signature covers.
    pub fn push_opening(&mut self, seq: u64, opening: &[u8]) {
        self.enqueue(Queued::Opening(seq, opening.to_vec()));
    }

    fn apply_opening(&mut self, seq: u64, opening: &[u8]) {
        self.ordinal += 1;
        let ordinal = self.ordinal;
        let fault = match self.awaiting_opening.take() {
            Some((at, digest)) if at == seq => {
                let found = hex::encode(crate::command::payload_digest(opening));
                match crate::command::Opening::decode(opening) {
                    Err(e) => Some(format!("the opening of entry {seq} is malformed: {e}")),
                    Ok(_) if found != digest => Some(format!(
                        "the opening of entry {seq} hashes to {found}, not to the signed \
                         payload_digest {digest}"
                    )),
                    Ok(_) => {
                        self.opened += 1;
                        None
                    }
                }
            }
            other => {
                self.awaiting_opening = other;
                Some(format!(
                    "an opening for entry {seq} that does not follow that entry (a version-2 \
                     entry) directly"
                ))
            }
        };
        if let Some(detail) = fault {
            self.entry_fault(ordinal, seq, FaultKind::BadOpening, detail);
        }
    }

    fn check_entry(&mut self, ordinal: u64, seq: u64, facts: EntryFacts) {
        if facts.seq != seq {
            self.entry_fault(
                ordinal,
                seq,
                FaultKind::SeqMismatch,
                format!("the entry at position {seq} says seq {}", facts.seq),
            );
        }
        if facts.prev_hash != self.prev_leaf {
            let detail = if seq == 0 {
                "prev_hash of the first entry is not all zero".to_owned()
            } else {
                format!(
                    "prev_hash {} is not the leaf hash {} of the entry at position {}",
                    hash::to_hex(&facts.prev_hash),
                    hash::to_hex(&self.prev_leaf),
                    seq - 1
                )
            };
            self.entry_fault(ordinal, seq, FaultKind::PrevHashMismatch, detail);
        }
        if facts.stream_version == 0 {
            self.entry_fault(
                ordinal,
                seq,
                FaultKind::BadStreamVersion,
                "stream_version must be at least 1".to_owned(),
            );
        }
        if let Some(digest) = facts.sealed_digest {
            self.awaiting_opening = Some((facts.seq, digest));
        }
        if let Some((kind, detail)) = facts.signature {
            self.entry_fault(ordinal, seq, kind, detail);
        }
    }

    /// Pushes a signed checkpoint note. It is checked against the entries pushed so far, or, if
    /// its size is beyond them, when enough entries have arrived.
    pub fn push_checkpoint(&mut self, note: &[u8]) {
        self.enqueue(Queued::Checkpoint(note.to_vec()));
    }

    fn apply_checkpoint(&mut self, note: &[u8]) {
        self.ordinal += 1;
        self.checkpoints += 1;
        let ordinal = self.ordinal;
        let opened = match checkpoint::open_checkpoint(note, &self.log_key) {
            Ok(opened) => opened,
            Err(e) => {
                let kind = match e {
                    CheckpointError::NotSignedByLog { .. } | CheckpointError::BadSignature => {
                        FaultKind::CheckpointBadSignature
                    }
                    _ => FaultKind::CheckpointMalformed,
                };
                let size = unverified_size(note);
                self.checkpoint_fault(ordinal, size, kind, e.to_string());
                return;
            }
        };
        let size = opened.size;
        if opened.origin != self.origin {
            self.checkpoint_fault(
                ordinal,
                Some(size),
                FaultKind::CheckpointWrongOrigin,
                format!("origin `{}`, expected `{}`", opened.origin, self.origin),
            );
            return;
        }
        match self.last_checkpoint {
            Some((last, _)) if size < last => {
                self.checkpoint_fault(
                    ordinal,
                    Some(size),
                    FaultKind::CheckpointShrank,
                    format!("size {size} follows a checkpoint of size {last}"),
                );
            }
            Some((last, last_root)) if size == last && opened.root != last_root => {
                self.checkpoint_fault(
                    ordinal,
                    Some(size),
                    FaultKind::CheckpointFork,
                    format!(
                        "two signed checkpoints of size {size}: roots {} and {}",
                        hash::to_hex(&last_root),
                        hash::to_hex(&opened.root)
                    ),
                );
            }
            _ => self.last_checkpoint = Some((size, opened.root)),
        }
        if size > self.position {
            if self.pending_count >= PENDING_CHECKPOINTS_MAX {
                self.checkpoint_fault(
                    ordinal,
                    Some(size),
                    FaultKind::CheckpointBeyondLog,
                    format!(
                        "more than {PENDING_CHECKPOINTS_MAX} checkpoints wait for entries beyond {}",
                        self.position
                    ),
                );
                return;
            }
            self.pending.entry(size).or_default().push(Pending {
                ordinal,
                root: opened.root,
            });
            self.pending_count += 1;
            return;
        }
        match self.root_at(size) {
            Some(root) => self.check_root(ordinal, size, opened.root, root),
            None => self.checkpoint_fault(
                ordinal,
                Some(size),
                FaultKind::CheckpointTooLate,
                format!(
                    "arrived after {} entries, more than {LATE_WINDOW} past its size",
                    self.position
                ),
            ),
        }
    }

    /// The root of the first `size` entries, if still within reach.
    fn root_at(&self, size: u64) -> Option<Hash> {
        if size == self.position {
            return Some(self.frontier.root());
        }
        let base = self.window_base.size();
        if size < base {
            return None;
        }
        let take = usize::try_from(size - base).ok()?;
        let mut f = self.window_base.clone();
        for leaf in self.window.iter().take(take) {
            f.push(*leaf);
        }
        Some(f.root())
    }

    fn check_root(&mut self, ordinal: u64, size: u64, claimed: Hash, actual: Hash) {
        if claimed == actual {
            self.checkpoints_verified += 1;
            self.covered = self.covered.max(size);
        } else {
            self.checkpoint_fault(
                ordinal,
                Some(size),
                FaultKind::CheckpointRootMismatch,
                format!(
                    "the checkpoint says root {}, the entries give {}",
                    hash::to_hex(&claimed),
                    hash::to_hex(&actual)
                ),
            );
        }
    }

    /// Finishes: checks the last signatures, reports checkpoints beyond the log and entries no
    /// checkpoint covers.
    #[must_use]
    pub fn finish(mut self) -> Report {
        self.drain();
        self.pool = None;
        self.close_awaiting();
        let pending = std::mem::take(&mut self.pending);
        for (size, waiting) in pending {
            for p in waiting {
                let detail = format!(
                    "size {size}, but the log ends after {} entries",
                    self.position
                );
                self.checkpoint_fault(
                    p.ordinal,
                    Some(size),
                    FaultKind::CheckpointBeyondLog,
                    detail,
                );
            }
        }
        if self.covered < self.position {
            let detail = format!(
                "entries {} to {} are covered by no verified checkpoint",
                self.covered,
                self.position - 1
            );
            let (ordinal, seq) = (self.ordinal + 1, self.covered);
            self.entry_fault(ordinal, seq, FaultKind::Uncovered, detail);
        }
        self.faults.sort_by_key(|(ordinal, _)| *ordinal);
        Report {
            entries: self.position,
            checkpoints: self.checkpoints,
            checkpoints_verified: self.checkpoints_verified,
            covered: self.covered,
            faults: self.faults.into_iter().map(|(_, f)| f).collect(),
            faults_omitted: self.faults_omitted,
            opened: self.opened,
            sealed: self.sealed,
        }
    }
}

/// How a verifier spreads its work: worker threads and entries per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Worker threads; 0 or 1: none, everything on the caller's thread.
    pub threads: usize,
    /// Entries per batch handed to a worker (at least 1).
    pub batch_entries: usize,
}

impl Parallelism {
    /// Everything on the caller's thread.
    #[must_use]
    pub fn sequential() -> Self {
        Self {
            threads: 1,
            batch_entries: BATCH_ENTRIES,
        }
    }
}

impl Default for Parallelism {
    /// One worker per core the process may use, batches of [`BATCH_ENTRIES`].
    fn default() -> Self {
        Self {
            threads: default_threads(),
            batch_entries: BATCH_ENTRIES,
        }
    }
}

/// The worker threads for a verifier on this machine: one per core the process may use.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// An item pushed, in input order, before it is applied.
enum Queued {
    Entry(Vec<u8>),
    Opening(u64, Vec<u8>),
    Checkpoint(Vec<u8>),
    Fault(Fault),
    /// An export's opening line that could not be read.
    BadOpeningLine(String),
    /// An export's checkpoint line that could not be read.
    BadCheckpointLine(String),
}

/// An item ready to apply: an entry examined by a worker, or anything else as it was pushed.
enum Step {
    Entry(Examined),
    Other(Queued),
}

/// What can be learnt from an entry's bytes alone, whatever its position.
struct Examined {
    leaf: Hash,
    /// The entry's fields, or the fault that it does not decode.
    outcome: Result<EntryFacts, (FaultKind, String)>,
}

/// The fields of a decoded entry that the position-dependent checks need.
struct EntryFacts {
    seq: u64,
    prev_hash: Hash,
    stream_version: u64,
    /// The signed payload digest of a version-2 entry, which its opening must match.
    sealed_digest: Option<String>,
    /// The signature's fault, if it does not hold.
    signature: Option<(FaultKind, String)>,
}

/// Decodes an entry, hashes it into its leaf and checks its signature.
fn examine(bytes: &[u8]) -> Examined {
    let leaf = hash::leaf_hash(bytes);
    let outcome = match LoggedEntry::decode(bytes) {
        Err(e) => {
            let kind = match e {
                EntryError::Canonical(CanonicalError::NotCanonical { .. }) => {
                    FaultKind::NotCanonical
                }
                EntryError::Command(_) => FaultKind::MalformedCommand,
                _ => FaultKind::Undecodable,
            };
            Err((kind, e.to_string()))
        }
        Ok(entry) => {
            let signature = entry.verify_signature().err().map(|e| {
                let kind = match e {
                    CommandError::Key(_) => FaultKind::BadKey,
                    CommandError::Signature(_) => FaultKind::BadSignature,
                    _ => FaultKind::MalformedCommand,
                };
                (kind, e.to_string())
            });
            let sealed_digest = match &entry.signed {
                Logged::Sealed(c) => Some(c.payload_digest.clone()),
                Logged::Clear(_) => None,
            };
            Ok(EntryFacts {
                seq: entry.seq,
                prev_hash: entry.prev_hash,
                stream_version: entry.stream_version,
                sealed_digest,
                signature,
            })
        }
    };
    Examined { leaf, outcome }
}

/// Examines a batch, each entry guarded: a panic while examining one entry (a bug, whatever the
/// bytes) is reported as that entry's fault instead of losing the batch.
fn examine_batch(items: Vec<Queued>) -> Vec<Step> {
    items
        .into_iter()
        .map(|item| match item {
            Queued::Entry(bytes) => Step::Entry(
                std::panic::catch_unwind(|| examine(&bytes)).unwrap_or_else(|_| Examined {
                    leaf: hash::leaf_hash(&bytes),
                    outcome: Err((
                        FaultKind::Undecodable,
                        "the verifier failed while examining this entry".to_owned(),
                    )),
                }),
            ),
            other => Step::Other(other),
        })
        .collect()
}

/// A batch for the workers, with where to send its results.
type Job = (Vec<Queued>, mpsc::SyncSender<Vec<Step>>);

/// A batch handed over: its results, or, if the workers are gone, the batch itself.
enum InFlight {
    Sent(mpsc::Receiver<Vec<Step>>),
    Kept(Vec<Queued>),
}

/// Worker threads examining batches, and the batches handed over, oldest first.
struct Pool {
    threads: usize,
    batch_entries: usize,
    /// Started with the first full batch.
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    in_flight: VecDeque<InFlight>,
    filling: Vec<Queued>,
    filling_entries: usize,
}

impl Pool {
    fn new(threads: usize, batch_entries: usize) -> Self {
        Self {
            threads,
            batch_entries,
            jobs: None,
            workers: Vec::new(),
            in_flight: VecDeque::new(),
            filling: Vec::new(),
            filling_entries: 0,
        }
    }

    fn start(&mut self) -> &mpsc::Sender<Job> {
        self.jobs.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.threads {
                let rx = Arc::clone(&rx);
                let spawned = std::thread::Builder::new()
                    .name(format!("deedlog-verify-{i}"))
                    .spawn(move || {
                        loop {
                            // The lock is held only while waiting for the next job.
                            let job = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => return,
                            };
                            let Ok((items, reply)) = job else { return };
                            // The verifier may have been dropped meanwhile; nothing to do then.
                            let _ = reply.send(examine_batch(items));
                        }
                    });
                // A thread that cannot start leaves its share to the others, or, with none, to
                // the caller (`Kept` batches).
                if let Ok(handle) = spawned {
                    self.workers.push(handle);
                }
            }
            tx
        })
    }

    /// Adds an item; when a batch is full, hands it over; returns the results that are due, in
    /// input order.
    fn push(&mut self, item: Queued) -> Vec<Vec<Step>> {
        if matches!(item, Queued::Entry(_)) {
            self.filling_entries += 1;
        }
        self.filling.push(item);
        if self.filling_entries < self.batch_entries && self.filling.len() < BATCH_ITEMS {
            return Vec::new();
        }
        self.hand_over();
        let mut ready = Vec::new();
        while self.in_flight.len() > self.threads * IN_FLIGHT_PER_THREAD {
            if let Some(batch) = self.in_flight.pop_front() {
                ready.push(Self::wait(batch));
            }
        }
        ready
    }

    fn hand_over(&mut self) {
        if self.filling.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.filling);
        self.filling_entries = 0;
        let (reply, results) = mpsc::sync_channel(1);
        let no_workers = self.start_if_needed();
        let sent = match (&self.jobs, no_workers) {
            (Some(jobs), false) => jobs.send((batch, reply)).map_err(|e| (e.0).0),
            _ => Err(batch),
        };
        self.in_flight.push_back(match sent {
            Ok(()) => InFlight::Sent(results),
            Err(batch) => InFlight::Kept(batch),
        });
    }

    /// Starts the workers on first use; says whether there are none to send to.
    fn start_if_needed(&mut self) -> bool {
        self.start();
        self.workers.is_empty()
    }

    /// The results of a batch handed over. Should its worker be gone without an answer (it
    /// cannot be: each entry is examined under `catch_unwind`), the batch is lost, and that is
    /// said as a fault rather than hidden.
    fn wait(batch: InFlight) -> Vec<Step> {
        match batch {
            InFlight::Kept(items) => examine_batch(items),
            InFlight::Sent(results) => results.recv().unwrap_or_else(|_| {
                vec![Step::Other(Queued::Fault(Fault {
                    seq: None,
                    checkpoint_size: None,
                    kind: FaultKind::Undecodable,
                    detail: "a verification worker stopped without its results; the positions \
                             after this point are not reliable"
                        .to_owned(),
                }))]
            }),
        }
    }

    /// Hands the partial batch over and waits for every batch, in order. A verifier that never
    /// filled one batch examines it here, on the caller's thread, without starting any worker.
    fn drain(&mut self) -> Vec<Vec<Step>> {
        if self.jobs.is_none() {
            let items = std::mem::take(&mut self.filling);
            self.filling_entries = 0;
            return vec![examine_batch(items)];
        }
        self.hand_over();
        self.in_flight.drain(..).map(Self::wait).collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.in_flight.clear();
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// The size line of a note whose signature did not verify, for the report only.
fn unverified_size(note: &[u8]) -> Option<u64> {
    let note = signed_note::Note::from_bytes(note).ok()?;
    tlog_tiles::Checkpoint::from_bytes(note.text())
        .ok()
        .map(|c| c.size())
}

/// How an export line is read.
enum Line {
    Entry,
    Opening(Result<(u64, Vec<u8>), String>),
    Checkpoint(String),
    BadCheckpoint(String),
}

const ENTRY_PREFIX: &[u8] = b"{\"derived\":";
const CHECKPOINT_PREFIX: &[u8] = b"{\"checkpoint\":";
const OPENING_PREFIX: &[u8] = b"{\"opening\":";

/// Entry lines start with `{"derived":` (the first key of a canonical entry) and checkpoint lines
/// with `{"checkpoint":`. A line that starts with neither is read as a damaged checkpoint when it
/// holds the JSON-escaped blank line and em dash that open a note's signatures, and as a damaged
/// entry otherwise, so that it keeps its position in the tree.
fn classify(line: &[u8]) -> Line {
    if line.starts_with(ENTRY_PREFIX) {
        return Line::Entry;
    }
    if line.starts_with(OPENING_PREFIX) {
        return Line::Opening(OpeningLine::parse(line));
    }
    let is_checkpoint = line.starts_with(CHECKPOINT_PREFIX)
        || contains(line, "\\n\\n\u{2014} ".as_bytes())
        || contains(line, b"\\n\\n\\u2014 ");
    if !is_checkpoint {
        return Line::Entry;
    }
    if line.len() > CHECKPOINT_LINE_BYTES_MAX {
        return Line::BadCheckpoint(format!(
            "checkpoint line of {} bytes; at most {CHECKPOINT_LINE_BYTES_MAX} are allowed",
            line.len()
        ));
    }
    match serde_json::from_slice::<CheckpointLine>(line) {
        Ok(c) => Line::Checkpoint(c.checkpoint),
        Err(e) => Line::BadCheckpoint(format!("checkpoint line: {e}")),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Verifies an export (JSON Lines, one item per element, without the newline), trusting the log
/// key its header names. An auditor should pin the key with [`verify_jsonl_with_key`].
///
/// # Errors
/// Only for a missing or unusable header; everything else is a [`Fault`] in the report.
pub fn verify_jsonl(lines: impl Iterator<Item = Vec<u8>>) -> Result<Report, ExportError> {
    verify_jsonl_with_key(lines, None)
}

/// As [`verify_jsonl`], refusing an export whose header names another log key than
/// `trusted_log_vkey` (when given).
///
/// # Errors
/// As [`verify_jsonl`], and [`ExportError::UntrustedLogKey`].
pub fn verify_jsonl_with_key(
    lines: impl Iterator<Item = Vec<u8>>,
    trusted_log_vkey: Option<&str>,
) -> Result<Report, ExportError> {
    verify_jsonl_with(lines, trusted_log_vkey, Parallelism::default())
}

/// As [`verify_jsonl_with_key`], with the given worker threads and batch size (the report is the
/// same whatever they are).
///
/// # Errors
/// As [`verify_jsonl_with_key`].
pub fn verify_jsonl_with(
    lines: impl Iterator<Item = Vec<u8>>,
    trusted_log_vkey: Option<&str>,
    parallelism: Parallelism,
) -> Result<Report, ExportError> {
    let mut lines = lines.peekable();
    let header = lines.next().ok_or(ExportError::Empty)?;
    let header: ExportHeader =
        serde_json::from_slice(&header).map_err(|e| ExportError::Header(e.to_string()))?;
    if header.format != EXPORT_FORMAT {
        return Err(ExportError::Format(header.format));
    }
    if trusted_log_vkey.is_some_and(|trusted| trusted != header.log_key) {
        return Err(ExportError::UntrustedLogKey);
    }
    let mut verifier = LogVerifier::new(&header.origin, &header.log_key)
        .map_err(ExportError::LogKey)?
        .with_parallelism(parallelism);
    while let Some(line) = lines.next() {
        // A final empty line is what a file ending in a newline gives some splitters.
        if line.is_empty() && lines.peek().is_none() {
            break;
        }
        match classify(&line) {
            Line::Entry => verifier.push_entry_owned(line),
            Line::Opening(Ok((seq, opening))) => verifier.push_opening(seq, &opening),
            Line::Opening(Err(detail)) => verifier.enqueue(Queued::BadOpeningLine(detail)),
            Line::Checkpoint(note) => verifier.push_checkpoint(note.as_bytes()),
            Line::BadCheckpoint(detail) => verifier.enqueue(Queued::BadCheckpointLine(detail)),
        }
    }
    Ok(verifier.finish())
}
