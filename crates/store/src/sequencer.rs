//! The sequencer: signature checks in parallel, then one thread that decides, sequences, hashes
//! and group-commits.
//!
//! ```text
//! submit ──▶ verify workers (Ed25519) ──▶ sequencer thread ──▶ LogWriter::commit ──▶ ack
//!            bounded channel                  bounded channel       one fdatasync per batch
//! ```
//!
//! A command is acknowledged with its seq only after the batch holding it (and the checkpoint
//! covering it) was made durable. Every rejection is decided before anything is staged, so a
//! rejected command appends nothing. If a commit fails, the sequencer stops accepting work: its
//! decider has already applied entries that may not be on disk, and only a reopen is safe.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use deedlog_core::command::Prepared;
use deedlog_core::state_map::{STATE_ROOT_FIELD, STATE_ROOT_RESERVE};
use deedlog_core::{Entry, SignedCommand, hash};
use serde::Serialize;
use serde_json::{Value, json};

use crate::backend::{LogBackend, LogRead, SyncWork};
use crate::error::StoreError;
use crate::index::{NonceDigest, nonce_digest};
use crate::log::LogReader;

pub use deedlog_core::decide::{
    Context, Decider, Decision, Precheck, Rejection, RejectionClass, check_expected_version, codes,
};

/// A decider that accepts every well-signed command, recording its kind as the event kind. Used
/// by benchmarks and by tests of the log alone.
#[derive(Debug, Default)]
pub struct AcceptAll;

impl Decider for AcceptAll {
    type Parsed = ();
    type ApplyError = std::convert::Infallible;

    fn decide(&self, command: &SignedCommand, _: &Context) -> Result<Decision, Rejection> {
        Ok(Decision {
            kind: command.kind.clone(),
            derived: json!({}),
            parsed: (),
        })
    }

    fn apply(&mut self, _: &Entry, (): ()) -> Result<(), Self::ApplyError> {
        Ok(())
    }

    fn rewind(&mut self, _: u64) -> Result<(), String> {
        Ok(())
    }
}

/// The acknowledgement of an appended (or earlier appended) command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    /// The entry's seq.
    pub seq: u64,
    /// Its stream.
    pub stream: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// The event kind.
    pub kind: String,
    /// What the server derived.
    pub derived: Value,
    /// The entry's leaf hash (hex).
    pub leaf_hash: String,
    /// Size of the checkpoint that covers it.
    pub checkpoint_size: u64,
    /// True when this is the result of an earlier identical command (same actor and nonce).
    pub duplicate: bool,
}

/// Tunables of the sequencer.
#[derive(Clone)]
pub struct SequencerConfig {
    /// Most commands in one group commit.
    pub batch_max: usize,
    /// Longest wait for more commands once a batch has begun.
    pub batch_wait: Duration,
    /// Commands waiting for signature checks, at most (then submit waits: back-pressure).
    pub queue_capacity: usize,
    /// Threads checking signatures.
    pub verify_threads: usize,
    /// Largest accepted |recorded_at - issued_at|, ms.
    pub issued_at_window_ms: i64,
    /// The clock (ms since the Unix epoch). Passed in so tests and replays control time.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Accept version-1 commands (payload signed in clear). Only `deedlog bench append
    /// --entry-format 1` sets it, to measure the cost of version 2 in the same run; a server
    /// never does, since a version-1 entry shows its payload to everyone.
    pub accept_version_1: bool,
    /// How many of the most recently committed entries' `(actor, nonce)` digests the sequencer
    /// keeps in memory (about 75 bytes each), so that a command the verify workers looked up
    /// before those entries were committed is checked against them without the index. A
    /// command that waited behind more entries than this is looked up in the index on the
    /// sequencer's thread instead (counted in [`SequencerStats::nonce_fallbacks`]), which stays
    /// correct, only slower. The default covers the whole verify queue at full batches; tests
    /// set it tiny to force that path.
    pub recent_nonces: usize,
    /// Most streams whose current version the sequencer keeps in memory; past it the cache is
    /// emptied (keeping the batch in flight's). A stream not in it is read from the version
    /// the verify worker prefetched, or from the index when that hint cannot be trusted
    /// ([`SequencerStats::stream_fallbacks`]). Tests set it tiny to force that path.
    pub stream_cache_max: usize,
    /// Have the verify workers prefetch the stream version of every command, even for streams
    /// the sequencer probably holds. Off by default, since that read is then wasted work on a
    /// core the sequencer shares; tests turn it on to show that a stale prefetched version is
    /// never trusted.
    pub prefetch_every_stream: bool,
}

impl std::fmt::Debug for SequencerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequencerConfig")
            .field("batch_max", &self.batch_max)
            .field("batch_wait", &self.batch_wait)
            .field("queue_capacity", &self.queue_capacity)
            .field("verify_threads", &self.verify_threads)
            .field("issued_at_window_ms", &self.issued_at_window_ms)
            .field("recent_nonces", &self.recent_nonces)
            .field("stream_cache_max", &self.stream_cache_max)
            .field("prefetch_every_stream", &self.prefetch_every_stream)
            .finish_non_exhaustive()
    }
}

/// The system clock in ms.
#[must_use]
pub fn system_clock() -> Arc<dyn Fn() -> i64 + Send + Sync> {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

impl Default for SequencerConfig {
    fn default() -> Self {
        Self {
            batch_max: 2048,
            batch_wait: Duration::from_micros(500),
            queue_capacity: 16_384,
            verify_threads: 2,
            issued_at_window_ms: 5 * 60 * 1000,
            clock: system_clock(),
            accept_version_1: false,
            recent_nonces: RECENT_NONCES_DEFAULT,
            stream_cache_max: STREAM_CACHE_MAX,
            prefetch_every_stream: false,
        }
    }
}

/// The default of [`SequencerConfig::recent_nonces`]: more than the verify queue holds
/// (16,384 commands waiting for a worker and 260 chunks of up to 256 verified ones), so that
/// under full load a command is always checked from memory; about 10 MB.
pub const RECENT_NONCES_DEFAULT: usize = 1 << 17;

/// Counts of where the `(actor, nonce)` check was answered, since the sequencer started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SequencerStats {
    /// Retries and reuses of a committed command answered by a verify worker from the index,
    /// without reaching the sequencer.
    pub nonce_answered_by_workers: u64,
    /// Retries and reuses answered by the sequencer from memory (its batch, the batch being
    /// synced, or the recently committed entries).
    pub nonce_answered_from_memory: u64,
    /// Commands whose `(actor, nonce)` the sequencer had to look up in the index on its own
    /// thread, because they waited behind more committed entries than it keeps in memory.
    pub nonce_fallbacks: u64,
    /// Commands whose stream's version the sequencer read from the index on its own thread
    /// (the stream was not in its cache and the worker's prefetched version could not be
    /// trusted, or there was none).
    pub stream_fallbacks: u64,
    /// Stream versions the verify workers read from the index ahead of the sequencer (for
    /// streams it probably did not hold).
    pub stream_prefetches: u64,
}

/// A bitmap of the streams in the sequencer's `versions` cache, shared with the verify
/// workers so that they prefetch a stream's version only for a stream the sequencer probably
/// does not hold: reading it for a stream in the cache would be wasted work on a core the
/// sequencer shares. The sequencer sets a stream's bit when it caches the stream and zeroes
/// the map when it empties the cache. A bit set by another stream (a collision) only makes a
/// worker skip a useful prefetch, and a bit zeroed after a worker read it only makes the
/// sequencer read the index; neither changes an answer. The hash is keyed at random per
/// process, so no client can aim collisions at a stream.
struct SeenStreams {
    bits: Vec<AtomicU64>,
    hasher: std::collections::hash_map::RandomState,
}

/// 2^22 bits (512 KiB): under 6 % of bits set with a full cache of 2^18 streams.
const SEEN_STREAMS_WORDS: usize = 1 << 16;

impl SeenStreams {
    fn new() -> Self {
        Self {
            bits: (0..SEEN_STREAMS_WORDS).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn slot(&self, stream: &str) -> (usize, u64) {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(stream);
        // Both casts keep only low bits on purpose: the word index is masked to the map's
        // size, the bit index to 0..64.
        #[allow(clippy::cast_possible_truncation)]
        let word = (h >> 6) as usize & (SEEN_STREAMS_WORDS - 1);
        (word, 1u64 << (h & 63))
    }

    fn insert(&self, stream: &str) {
        let (word, bit) = self.slot(stream);
        if let Some(w) = self.bits.get(word) {
            w.fetch_or(bit, Ordering::Relaxed);
        }
    }

    fn probably_contains(&self, stream: &str) -> bool {
        let (word, bit) = self.slot(stream);
        self.bits
            .get(word)
            .is_some_and(|w| w.load(Ordering::Relaxed) & bit != 0)
    }

    fn clear(&self) {
        for w in &self.bits {
            w.store(0, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    by_workers: AtomicU64,
    from_memory: AtomicU64,
    fallbacks: AtomicU64,
    stream_fallbacks: AtomicU64,
    stream_prefetches: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> SequencerStats {
        SequencerStats {
            nonce_answered_by_workers: self.by_workers.load(Ordering::Relaxed),
            nonce_answered_from_memory: self.from_memory.load(Ordering::Relaxed),
            nonce_fallbacks: self.fallbacks.load(Ordering::Relaxed),
            stream_fallbacks: self.stream_fallbacks.load(Ordering::Relaxed),
            stream_prefetches: self.stream_prefetches.load(Ordering::Relaxed),
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<Receipt, Rejection>>;

struct Job {
    command: SignedCommand,
    reply: Reply,
}

struct Verified {
    command: SignedCommand,
    /// The opening and payload digest the verify pool built (version 2), reused to seal the
    /// entry so the sequencer thread does not hash the payload again.
    sealed: Option<(Vec<u8>, String)>,
    /// The digest of its `(actor, nonce)`, computed by the worker.
    digest: NonceDigest,
    /// The log size the worker's index look-up covered: it found no entry of this actor and
    /// nonce below it. Entries from here on are the sequencer's to check, from memory.
    covered: u64,
    /// The stream's version the worker read from the index after that look-up (so covering at
    /// least `covered`), if the read succeeded.
    stream_hint: Option<u64>,
    reply: Reply,
}

/// What the verify worker looked up for a command, off the sequencer's thread.
#[derive(Clone, Copy)]
struct Lookups {
    digest: NonceDigest,
    covered: u64,
    stream_hint: Option<u64>,
}

/// A running sequencer over a log backend whose readers are `R` (the segment files' by
/// default). Clone the [`SequencerHandle`] to submit from many places.
pub struct Sequencer<R: LogRead = LogReader> {
    handle: SequencerHandle<R>,
    stop: Sender<()>,
    threads: Vec<JoinHandle<()>>,
}

/// Why the ledger stopped taking commands, shared by the sequencer, its verify workers and the
/// handles; the first reason stands until the sequencer resumes after the file system was full.
#[derive(Debug, Default)]
struct Stopped(RwLock<Option<String>>);

impl Stopped {
    fn get(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, why: String) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert(why);
    }

    fn clear(&self) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// Submits commands to a running sequencer.
#[derive(Clone)]
pub struct SequencerHandle<R: LogRead = LogReader> {
    jobs: Sender<Job>,
    closed: Arc<AtomicBool>,
    stopped: Arc<Stopped>,
    /// Set before `stopped` when the failure was a full file system.
    storage_full: Arc<AtomicBool>,
    counters: Arc<Counters>,
    reader: R,
}

impl<R: LogRead> Sequencer<R> {
    /// Starts the verify workers and the sequencer thread over an opened log: the sequencer's
    /// rules are written against the [`LogBackend`] contract alone.
    ///
    /// # Errors
    /// A bad configuration, or a thread that cannot be spawned.
    pub fn start<B: LogBackend<Reader = R>, D: Decider>(
        writer: B,
        decider: D,
        config: SequencerConfig,
    ) -> Result<Self, StoreError> {
        if config.batch_max == 0 || config.queue_capacity == 0 || config.verify_threads == 0 {
            return Err(StoreError::Config(
                "batch_max, queue_capacity and verify_threads must be positive".into(),
            ));
        }
        let reader = writer.reader();
        let (jobs, job_rx) = bounded::<Job>(config.queue_capacity);
        let (verified_tx, verified_rx) = bounded::<Vec<Verified>>(config.queue_capacity / 64 + 4);
        let (stop, stop_rx) = bounded::<()>(0);
        let mut threads = Vec::new();
        let counters = Arc::new(Counters::default());
        let stopped = Arc::new(Stopped::default());
        let storage_full = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(SeenStreams::new());
        let precheck = decider.prechecker();
        for i in 0..config.verify_threads {
            let rx = job_rx.clone();
            let tx = verified_tx.clone();
            let stop_rx = stop_rx.clone();
            let worker = Worker {
                accept_v1: config.accept_version_1,
                reader: reader.clone(),
                counters: Arc::clone(&counters),
                seen: Arc::clone(&seen),
                prefetch_every_stream: config.prefetch_every_stream,
                stopped: Arc::clone(&stopped),
                storage_full: Arc::clone(&storage_full),
                precheck: precheck.clone(),
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("verify-{i}"))
                    .spawn(move || verify_worker(&rx, &tx, &stop_rx, &worker))
                    .map_err(|e| StoreError::Config(format!("cannot spawn a thread: {e}")))?,
            );
        }
        drop(verified_tx);
        // Entry time never goes backwards, across restarts too (the audit checks it).
        let last_recorded_ms = match reader.size() {
            0 => 0,
            size => {
                let record = reader.record(size - 1)?;
                deedlog_core::LoggedEntry::decode(deedlog_core::entry::split_record(&record).0)
                    .map_err(|e| StoreError::BadEntry {
                        seq: size - 1,
                        message: e.to_string(),
                    })?
                    .recorded_at_ms
            }
        };
        let (writer_next, writer_leaf) = (writer.next_seq(), writer.last_leaf());
        let recent = RecentNonces::new(config.recent_nonces, writer_next);
        let state = SequencerState {
            writer,
            decider,
            config,
            last_recorded_ms,
            dead: None,
            storage_full: storage_full.clone(),
            stopped: stopped.clone(),
            busy_ns: 0,
            versions: HashMap::new(),
            versions_cleared_at: writer_next,
            head_seq: writer_next,
            head_leaf: writer_leaf,
            recent,
            counters: Arc::clone(&counters),
            seen,
            resume_tried: None,
        };
        threads.push(
            std::thread::Builder::new()
                .name("sequencer".into())
                .spawn(move || state.run(&verified_rx))
                .map_err(|e| StoreError::Config(format!("cannot spawn a thread: {e}")))?,
        );
        Ok(Self {
            handle: SequencerHandle {
                jobs,
                closed: Arc::new(AtomicBool::new(false)),
                stopped,
                storage_full,
                counters,
                reader,
            },
            stop,
            threads,
        })
    }

    /// A handle to submit commands.
    #[must_use]
    pub fn handle(&self) -> SequencerHandle<R> {
        self.handle.clone()
    }

    /// Stops accepting commands (every handle then answers `ledger.unavailable`), finishes those
    /// already queued, flushes the derived files and waits for the threads.
    pub fn shutdown(self) {
        self.handle.closed.store(true, Ordering::SeqCst);
        drop(self.stop);
        drop(self.handle);
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a sequencer thread panicked");
            }
        }
    }
}

impl<R: LogRead> SequencerHandle<R> {
    /// Submits a command and waits for its receipt or rejection.
    ///
    /// # Errors
    /// The rejection; nothing was appended.
    pub async fn submit(&self, command: SignedCommand) -> Result<Receipt, Rejection> {
        let rx = self.enqueue(command)?;
        rx.await
            .unwrap_or_else(|_| Err(Rejection::unavailable("the sequencer stopped")))
    }

    /// Submits from a thread that is not async.
    ///
    /// # Errors
    /// As [`Self::submit`].
    pub fn submit_blocking(&self, command: SignedCommand) -> Result<Receipt, Rejection> {
        let rx = self.enqueue(command)?;
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(Rejection::unavailable("the sequencer stopped")))
    }

    fn check_open(&self) -> Result<(), Rejection> {
        if let Some(why) = self.failure() {
            if self.storage_full.load(Ordering::SeqCst) {
                return Err(Rejection::new(&codes::STORAGE_FULL, why));
            }
            return Err(Rejection::unavailable(why));
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(Rejection::unavailable("the ledger is shutting down"));
        }
        Ok(())
    }

    /// Queues a command, waiting while the queue is full; the receiver yields the outcome.
    ///
    /// # Errors
    /// When the sequencer has stopped.
    pub fn enqueue(
        &self,
        command: SignedCommand,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Receipt, Rejection>>, Rejection> {
        self.check_open()?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job { command, reply })
            .map_err(|_| Rejection::unavailable("the sequencer stopped"))?;
        Ok(rx)
    }

    /// Queues a command without waiting; `Err(Busy)`-style rejection when the queue is full.
    ///
    /// # Errors
    /// A full queue (`ledger.busy`) or a stopped sequencer.
    pub fn try_enqueue(
        &self,
        command: SignedCommand,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Receipt, Rejection>>, Rejection> {
        self.check_open()?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        match self.jobs.try_send(Job { command, reply }) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(Rejection::new(
                &codes::BUSY,
                "the ledger is at capacity; retry shortly",
            )),
            Err(TrySendError::Disconnected(_)) => {
                Err(Rejection::unavailable("the sequencer stopped"))
            }
        }
    }

    /// Why the sequencer stopped taking commands after a failure (a write, a sync, or an
    /// accepted entry that did not apply), if it did; the node reports it, and every submit is
    /// then answered `ledger.unavailable` (`ledger.storage_full` when the disk was full).
    /// After a full file system it clears by itself once there is room again.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.stopped.get()
    }

    /// A reader of the log.
    #[must_use]
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// Where the `(actor, nonce)` checks were answered so far (for tests, benchmarks and
    /// metrics).
    #[must_use]
    pub fn stats(&self) -> SequencerStats {
        self.counters.get()
    }
}

const VERIFY_CHUNK: usize = 256;

/// How often a sequencer stopped by a full file system looks whether there is room again.
pub const RESUME_POLL: Duration = Duration::from_secs(1);

/// Decompressed public keys by their base64 text, bounded: decompressing a key costs about a
/// third of a signature check, and most commands come from keys seen recently.
struct KeyCache {
    keys: HashMap<String, deedlog_core::PublicKey>,
}

const KEY_CACHE_MAX: usize = 65_536;

impl KeyCache {
    fn parse(
        &mut self,
        text: &str,
    ) -> Result<deedlog_core::PublicKey, deedlog_core::keys::KeyError> {
        if let Some(k) = self.keys.get(text) {
            return Ok(*k);
        }
        let key = deedlog_core::PublicKey::from_base64(text)?;
        if self.keys.len() >= KEY_CACHE_MAX {
            self.keys.clear();
        }
        self.keys.insert(text.to_owned(), key);
        Ok(key)
    }
}

/// What a verify worker needs besides its queues.
struct Worker<R> {
    accept_v1: bool,
    reader: R,
    counters: Arc<Counters>,
    seen: Arc<SeenStreams>,
    prefetch_every_stream: bool,
    /// Shared with the sequencer and the handles: a look-up that finds the disk full stops
    /// the ledger as a failed write does.
    stopped: Arc<Stopped>,
    storage_full: Arc<AtomicBool>,
    /// The rules' checks made ahead of `decide` ([`Decider::prechecker`]).
    precheck: Option<Arc<dyn Precheck>>,
}

impl<R> Worker<R> {
    /// The answer to a look-up that failed in storage; a full disk also stops the ledger, so
    /// that every later submit is answered `ledger.storage_full` and nothing more is appended
    /// until the file system has room again (the sequencer then resumes).
    fn storage_failed(&self, error: &StoreError) -> Rejection {
        if error.is_storage_full() {
            self.storage_full.store(true, Ordering::SeqCst);
            self.stopped.set(format!(
                "the ledger stopped after a storage failure: {error}"
            ));
        }
        storage_rejection(error)
    }
}

/// The answer to a command whose `(actor, nonce)` digest the index or the sequencer's memory
/// names at the committed entry `seq`: the first receipt (`duplicate: true`) for the identical
/// command, `409 command.nonce_reused` for another. `None` when that entry has another actor or
/// nonce (the 16-byte digest collided), which is then no answer at all.
fn answer_from_log<R: LogRead>(
    reader: &R,
    seq: u64,
    command: &SignedCommand,
) -> Result<Option<Result<Receipt, Rejection>>, StoreError> {
    let record = reader.record(seq)?;
    let (bytes, opening) = deedlog_core::entry::split_record(&record);
    let entry = Entry::decode_with(bytes, opening).map_err(|e| StoreError::BadEntry {
        seq,
        message: e.to_string(),
    })?;
    if entry.signed.actor != command.actor || entry.signed.nonce != command.nonce {
        return Ok(None);
    }
    if entry.signed == *command {
        return Ok(Some(Ok(Receipt {
            seq,
            stream: entry.stream,
            stream_version: entry.stream_version,
            kind: entry.kind,
            derived: entry.derived,
            leaf_hash: hash::to_hex(&hash::leaf_hash(bytes)),
            checkpoint_size: reader.size(),
            duplicate: true,
        })));
    }
    Ok(Some(Err(Rejection::new(
        &codes::NONCE_REUSED,
        format!("this actor already used this nonce for entry {seq}"),
    )
    .with(json!({"seq": seq})))))
}

/// The answer to a command whose look-up failed in storage: `ledger.storage_full` when the file
/// system is full (as the sequencer answers a failed write), else `ledger.unavailable`.
fn storage_rejection(error: &StoreError) -> Rejection {
    if error.is_storage_full() {
        Rejection::new(&codes::STORAGE_FULL, format!("storage: {error}"))
    } else {
        Rejection::unavailable(format!("storage: {error}"))
    }
}

/// The `(actor, nonce)` look-up of a verified command on a worker: either its answer (a retry
/// or a reuse of a committed command), or the position the look-up covered.
fn look_up_nonce<R: LogRead>(
    reader: &R,
    digest: &NonceDigest,
    command: &SignedCommand,
) -> Result<Result<u64, Result<Receipt, Rejection>>, StoreError> {
    let (covered, hit) = reader.nonce_probe(digest)?;
    if let Some(seq) = hit
        && let Some(answer) = answer_from_log(reader, seq, command)?
    {
        return Ok(Err(answer));
    }
    Ok(Ok(covered))
}

fn verify_worker<R: LogRead>(
    rx: &Receiver<Job>,
    tx: &Sender<Vec<Verified>>,
    stop: &Receiver<()>,
    worker: &Worker<R>,
) {
    let accept_v1 = worker.accept_v1;
    let mut cache = KeyCache {
        keys: HashMap::new(),
    };
    loop {
        // Take work until stopped; once stopped, finish what is already queued, then end.
        let first = crossbeam_channel::select! {
            recv(rx) -> job => match job { Ok(job) => job, Err(_) => return },
            recv(stop) -> _ => match rx.try_recv() { Ok(job) => job, Err(_) => return },
        };
        let mut jobs = vec![first];
        while jobs.len() < VERIFY_CHUNK {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut ready = Vec::with_capacity(jobs.len());
        let mut prepared = Vec::with_capacity(jobs.len());
        for job in jobs {
            if job.command.payload_salt.is_none() && !accept_v1 {
                let _ = job.reply.send(Err(Rejection::new(
                    &codes::MALFORMED,
                    "payload_salt is missing: commands are signed in version 2, over a salted \
                     payload digest (FORMAT.md, \"The signing message\"); version 1 is no \
                     longer accepted",
                )));
                continue;
            }
            match job.command.prepare_with(|k| cache.parse(k)) {
                Ok(p) => {
                    prepared.push(p);
                    ready.push(job);
                }
                Err(e) => {
                    let _ = job.reply.send(Err(Rejection::of_command_error(&e)));
                }
            }
        }
        let ok = verify_each(&prepared);
        let mut out = Vec::with_capacity(ready.len());
        for ((job, good), p) in ready.into_iter().zip(ok).zip(prepared) {
            if good {
                // The nonce check's look-up, here rather than on the sequencer's thread: a
                // retry or reuse of a committed command is answered now and never queues
                // behind new work; a miss carries the position it covered.
                let digest = nonce_digest(&job.command.actor, &job.command.nonce);
                match look_up_nonce(&worker.reader, &digest, &job.command) {
                    Ok(Ok(covered)) => {
                        if let Some(pre) = &worker.precheck {
                            pre.precheck(&job.command);
                        }
                        // The stream's version too, for a stream the sequencer probably does
                        // not hold in memory; read after the nonce look-up, so that it covers
                        // `covered`.
                        let stream_hint = if !worker.prefetch_every_stream
                            && worker.seen.probably_contains(&job.command.stream)
                        {
                            None
                        } else {
                            Counters::add(&worker.counters.stream_prefetches);
                            worker.reader.stream_version(&job.command.stream).ok()
                        };
                        out.push(Verified {
                            command: job.command,
                            sealed: p.sealed,
                            digest,
                            covered,
                            stream_hint,
                            reply: job.reply,
                        });
                    }
                    Ok(Err(answer)) => {
                        Counters::add(&worker.counters.by_workers);
                        let _ = job.reply.send(answer);
                    }
                    Err(error) => {
                        let _ = job.reply.send(Err(worker.storage_failed(&error)));
                    }
                }
            } else {
                let _ = job.reply.send(Err(Rejection::new(
                    &codes::BAD_SIGNATURE,
                    "the signature does not verify for the command and key given",
                )));
            }
        }
        if !out.is_empty() && tx.send(out).is_err() {
            return;
        }
    }
}

/// Checks each signature by the one signature rule of the core ([`Prepared::verify`], that is
/// `deedlog_core::keys::PublicKey::verify`), the same function the offline verifier and
/// `ProofBundle::verify` use, so that nothing is appended that an auditor would later report as
/// `bad_signature`. Batch verification is deliberately not used: its random linear combination
/// lets a signature whose R has a torsion component pass about half the time (always, for a
/// signer who grinds its nonce against a batch of one), while the single check refuses it.
fn verify_each(prepared: &[Prepared]) -> Vec<bool> {
    prepared.iter().map(|p| p.verify().is_ok()).collect()
}

struct SequencerState<B: LogBackend, D: Decider> {
    writer: B,
    decider: D,
    config: SequencerConfig,
    last_recorded_ms: i64,
    dead: Option<String>,
    /// Whether the failure that stopped it was a full file system (answered
    /// `ledger.storage_full` rather than `ledger.unavailable`); shared with the handles.
    storage_full: Arc<AtomicBool>,
    stopped: Arc<Stopped>,
    busy_ns: u64,
    versions: HashMap<String, u64>,
    /// `head_seq` when `versions` was last emptied (at first, the log's size at start): a
    /// stream missing from it had its last entry below this seq, committed by now.
    versions_cleared_at: u64,
    /// The seq and leaf hash of the next entry to prepare: ahead of the writer's while a batch
    /// is being decided and the previous one is still being synced.
    head_seq: u64,
    head_leaf: deedlog_core::Hash,
    /// The `(actor, nonce)` digests of the most recently committed entries.
    recent: RecentNonces,
    counters: Arc<Counters>,
    /// Which streams `versions` holds, for the workers.
    seen: Arc<SeenStreams>,
    /// When the sequencer last looked whether it can resume after a full file system.
    resume_tried: Option<Instant>,
}

/// The `(actor, nonce)` digests of the most recently committed entries, at most `max`, oldest
/// evicted first. Every committed entry with seq at or above `floor` is here; a command whose
/// worker look-up covered a position at or above `floor` is therefore checked in full by this
/// map, the batch being synced and the batch being decided.
struct RecentNonces {
    map: HashMap<NonceDigest, u64>,
    order: VecDeque<(NonceDigest, u64)>,
    floor: u64,
    max: usize,
}

impl RecentNonces {
    fn new(max: usize, committed: u64) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            floor: committed,
            max,
        }
    }

    /// Records a committed entry (in seq order) and evicts the oldest past the bound.
    fn push(&mut self, digest: NonceDigest, seq: u64) {
        if self.max == 0 {
            self.floor = seq + 1;
            return;
        }
        // Evict before inserting, so that neither collection ever grows past `max` (and their
        // capacities stay at it).
        while self.order.len() >= self.max {
            let Some((old, old_seq)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old) == Some(&old_seq) {
                self.map.remove(&old);
            }
            self.floor = old_seq + 1;
        }
        self.map.insert(digest, seq);
        self.order.push_back((digest, seq));
    }

    /// Whether every committed entry from `covered` on is here.
    fn reaches(&self, covered: u64) -> bool {
        covered >= self.floor
    }
}

const STREAM_CACHE_MAX: usize = 1 << 18;

/// An accepted command, decided, encoded and applied, waiting to be staged.
struct Accepted {
    entry: Entry,
    bytes: Vec<u8>,
    opening: Option<Vec<u8>>,
    receipt: Receipt,
    digest: NonceDigest,
}

/// A batch's `(actor, nonce)` digests, each with its position in the batch and the command's
/// signature (an identical command has the same signature).
type NonceMap = HashMap<NonceDigest, (usize, String)>;

/// One batch on its way: prepared entries (with their replies), identical retries waiting for
/// one of them, and the nonces it used.
#[derive(Default)]
struct Batch {
    prepared: Vec<(Reply, Accepted)>,
    waiting: Vec<(Reply, usize)>,
    nonces: NonceMap,
    now: i64,
}

/// A batch whose segment write and `fdatasync` run on the sync thread; its replies are sent
/// only once that sync has succeeded.
struct InFlight {
    staged: Vec<(Reply, Receipt)>,
    waiting: Vec<(Reply, usize)>,
    nonces: NonceMap,
    /// The digests of `staged`, in its order (seq order).
    digests: Vec<NonceDigest>,
}

type SyncResult<S> = Result<(S, u64), StoreError>;

impl<B: LogBackend, D: Decider> SequencerState<B, D> {
    /// The pipeline: while batch k is written and synced on the sync thread, batch k+1 is
    /// gathered, decided and encoded here; then k is published and acknowledged, and k+1 staged
    /// and handed to the sync thread. No reply of a batch is sent before its sync succeeded.
    fn run(mut self, rx: &Receiver<Vec<Verified>>) {
        let (sync_tx, sync_rx) = bounded::<B::Sync>(1);
        let (done_tx, done_rx) = bounded::<SyncResult<B::Sync>>(1);
        let syncer = std::thread::Builder::new()
            .name("segment-sync".into())
            .spawn(move || {
                for job in sync_rx {
                    let result = job.run().map(|ns| (job, ns));
                    if done_tx.send(result).is_err() {
                        return;
                    }
                }
            });
        let syncer = match syncer {
            Ok(t) => t,
            Err(error) => {
                self.stop(format!("cannot spawn the sync thread: {error}"));
                for items in rx {
                    for item in items {
                        let _ = item.reply.send(Err(self.unavailable()));
                    }
                }
                return;
            }
        };
        let mut inflight: Option<InFlight> = None;
        while let Some(items) = self.gather(rx, inflight.is_some()) {
            if inflight.is_none() && self.dead.is_some() {
                self.try_resume();
            }
            let t = Instant::now();
            let batch = self.prepare(items, inflight.as_mut());
            if let Some(f) = inflight.take() {
                self.finish(f, &done_rx);
            }
            inflight = self.launch(batch, &sync_tx);
            self.busy_ns += u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        }
        if let Some(f) = inflight.take() {
            self.finish(f, &done_rx);
        }
        drop(sync_tx);
        if syncer.join().is_err() {
            tracing::error!("the sync thread panicked");
        }
        let stats = self.writer.stats();
        tracing::debug!(
            commits = stats.commits,
            entries = stats.entries,
            busy_ms = self.busy_ns / 1_000_000,
            checkpoint_ms = stats.checkpoint_ns / 1_000_000,
            sync_ms = stats.sync_ns / 1_000_000,
            derived_ms = stats.derived_ns / 1_000_000,
            index_ms = stats.index_ns / 1_000_000,
            "sequencer stopped"
        );
        if let Err(error) = self.writer.flush() {
            tracing::warn!(%error, "flushing derived files at shutdown");
        }
    }

    /// The next batch of verified commands; `None` once the queue is closed and empty. While a
    /// batch is in flight it waits at most `batch_wait` for the first command, so that an idle
    /// moment never holds back an acknowledgement.
    fn gather(&self, rx: &Receiver<Vec<Verified>>, busy: bool) -> Option<Vec<Verified>> {
        let started = Instant::now();
        let wait = if busy {
            Some(self.config.batch_wait)
        } else if self.dead.is_some() && self.storage_full.load(Ordering::SeqCst) {
            // Stopped by a full file system: wake now and then to see whether there is room.
            Some(RESUME_POLL)
        } else {
            None
        };
        let mut items = if let Some(wait) = wait {
            match rx.recv_timeout(wait) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => return Some(Vec::new()),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        } else {
            rx.recv().ok()?
        };
        while items.len() < self.config.batch_max {
            match rx.try_recv() {
                Ok(more) => items.extend(more),
                Err(_) => {
                    let left = self.config.batch_wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    match rx.recv_timeout(left) {
                        Ok(more) => items.extend(more),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                            break;
                        }
                    }
                }
            }
        }
        Some(items)
    }

    fn unavailable(&self) -> Rejection {
        let why = self
            .dead
            .clone()
            .unwrap_or_else(|| "the sequencer stopped".to_owned());
        if self.storage_full.load(Ordering::SeqCst) {
            Rejection::new(&codes::STORAGE_FULL, why)
        } else {
            Rejection::unavailable(why)
        }
    }

    /// The reason a storage failure stops the sequencer, noting whether the disk is full.
    fn storage_failure(&mut self, error: &StoreError) -> String {
        if self.dead.is_none() && error.is_storage_full() {
            self.storage_full.store(true, Ordering::SeqCst);
        }
        format!("the ledger stopped after a storage failure: {error}")
    }

    /// After a stop on a full file system, once there is room again (looked at most every
    /// [`RESUME_POLL`]): the writer discards what was not committed, the decider goes back to
    /// the committed log, the memory of recent streams and nonces starts afresh at the
    /// committed size, and commands are taken again. Nothing acknowledged is touched: every
    /// reply of the failed batches was a refusal. Any other stop is for good.
    fn try_resume(&mut self) {
        if !self.storage_full.load(Ordering::SeqCst)
            || self
                .resume_tried
                .is_some_and(|at| at.elapsed() < RESUME_POLL)
        {
            return;
        }
        self.resume_tried = Some(Instant::now());
        if !self.writer.room_to_resume() {
            return;
        }
        let size = self.writer.committed();
        let resumed = self
            .writer
            .recover()
            .map_err(|e| e.to_string())
            .and_then(|()| self.decider.rewind(size));
        if let Err(why) = resumed {
            tracing::warn!(%why, "the ledger cannot take commands again yet");
            return;
        }
        self.versions.clear();
        self.seen.clear();
        self.versions_cleared_at = size;
        self.head_seq = self.writer.next_seq();
        self.head_leaf = self.writer.last_leaf();
        self.recent = RecentNonces::new(self.config.recent_nonces, size);
        self.dead = None;
        // The reason goes first: a handle that still sees the flag reads no reason and lets
        // the command through to this thread, which now takes it.
        self.stopped.clear();
        self.storage_full.store(false, Ordering::SeqCst);
        tracing::info!(
            size,
            "the file system has room again; the ledger takes commands"
        );
    }

    /// Stops taking commands for good, and tells every handle why.
    fn stop(&mut self, why: String) {
        self.stopped.set(why.clone());
        self.dead = Some(why);
    }

    /// Decides, encodes and applies a batch (nothing is staged yet).
    fn prepare(&mut self, items: Vec<Verified>, mut inflight: Option<&mut InFlight>) -> Batch {
        let mut batch = Batch::default();
        if items.is_empty() {
            return batch;
        }
        let now = (self.config.clock)().max(self.last_recorded_ms);
        self.last_recorded_ms = now;
        batch.now = now;
        // Stream versions known to this thread; for streams not seen recently the worker's
        // prefetched version is used, or the index read. Bounded: cleared when it grows past
        // `stream_cache_max`, keeping the streams of the batch in flight, which the index does
        // not have yet.
        if self.versions.len() > self.config.stream_cache_max {
            self.versions.clear();
            self.seen.clear();
            self.versions_cleared_at = self.head_seq;
            if let Some(f) = inflight.as_deref() {
                for (_, r) in &f.staged {
                    let v = self.versions.entry(r.stream.clone()).or_insert(0);
                    *v = (*v).max(r.stream_version);
                    self.seen.insert(&r.stream);
                }
            }
        }
        for item in items {
            if self.dead.is_none()
                && let Some(why) = self.stopped.get()
            {
                // A verify worker's look-up found the disk full and stopped the ledger.
                self.dead = Some(why.clone());
            }
            if self.dead.is_some() {
                // An entry of this batch did not apply: the rest is refused.
                let _ = item.reply.send(Err(self.unavailable()));
                continue;
            }
            let lookups = Lookups {
                digest: item.digest,
                covered: item.covered,
                stream_hint: item.stream_hint,
            };
            match self.one(
                item.command,
                item.sealed,
                lookups,
                now,
                &mut batch,
                inflight.as_deref(),
            ) {
                Ok(Outcome::Accepted(p)) => batch.prepared.push((item.reply, *p)),
                Ok(Outcome::SameAsPrepared(i)) => batch.waiting.push((item.reply, i)),
                Ok(Outcome::SameAsInFlight(i)) => {
                    if let Some(f) = inflight.as_deref_mut() {
                        f.waiting.push((item.reply, i));
                    }
                }
                Ok(Outcome::Done(receipt)) => {
                    let _ = item.reply.send(Ok(receipt));
                }
                Err(rejection) => {
                    if rejection.code == codes::STORAGE_FULL.code && self.dead.is_none() {
                        // One of its own look-ups found the disk full: stop as a failed
                        // write does (the flag is set first, as the handles read it).
                        self.storage_full.store(true, Ordering::SeqCst);
                        self.stop(format!(
                            "the ledger stopped after a storage failure: {}",
                            rejection.message
                        ));
                    }
                    let _ = item.reply.send(Err(rejection));
                }
            }
        }
        self.commit_state(&mut batch);
        batch
    }

    /// Writes the state map's root after the batch into the `derived` of its last entry, so the
    /// checkpoint that ends the batch covers the root of the state it shows. Only the last entry
    /// changes: no entry after it links to its hash yet, so re-encoding it breaks no chain.
    fn commit_state(&mut self, batch: &mut Batch) {
        if self.dead.is_some() || batch.prepared.is_empty() {
            return;
        }
        let Some(root) = self.decider.state_root() else {
            return;
        };
        let Some((_, last)) = batch.prepared.last_mut() else {
            return;
        };
        let root = hash::to_hex(&deedlog_core::Hash(root));
        if let Value::Object(derived) = &mut last.entry.derived {
            derived.insert(STATE_ROOT_FIELD.to_owned(), Value::String(root));
        }
        match last.entry.encode_record() {
            Ok((bytes, opening)) => {
                let leaf = hash::leaf_hash(&bytes);
                last.bytes = bytes;
                last.opening = opening;
                last.receipt.derived = last.entry.derived.clone();
                last.receipt.leaf_hash = hash::to_hex(&leaf);
                self.head_leaf = leaf;
            }
            Err(error) => {
                // The room was kept when the entry was encoded, so this does not happen; if it
                // did, the batch could not be committed as decided, and only a reopen is safe.
                tracing::error!(%error, "the batch's last entry cannot carry the state root");
                self.stop(format!(
                    "the ledger stopped: entry {} cannot carry the state root: {error}",
                    last.entry.seq
                ));
            }
        }
    }

    /// Waits for the in-flight batch's sync, publishes it and acknowledges its commands.
    fn finish(&mut self, f: InFlight, done: &Receiver<SyncResult<B::Sync>>) {
        let result = done
            .recv()
            .unwrap_or_else(|_| Err(StoreError::Config("the sync thread stopped".into())));
        match self.writer.commit_end(result) {
            Ok(checkpoint) => {
                self.decider.published(checkpoint.size);
                for (digest, (_, r)) in f.digests.iter().zip(&f.staged) {
                    self.recent.push(*digest, r.seq);
                }
                for (reply, i) in f.waiting {
                    if let Some((_, r)) = f.staged.get(i) {
                        let mut receipt = r.clone();
                        receipt.checkpoint_size = checkpoint.size;
                        receipt.duplicate = true;
                        let _ = reply.send(Ok(receipt));
                    }
                }
                for (reply, mut receipt) in f.staged {
                    receipt.checkpoint_size = checkpoint.size;
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(error) => {
                tracing::error!(%error, "commit failed; the sequencer stops taking commands");
                let why = self.storage_failure(&error);
                self.stop(why);
                for (reply, _) in f.staged {
                    let _ = reply.send(Err(self.unavailable()));
                }
                for (reply, _) in f.waiting {
                    let _ = reply.send(Err(self.unavailable()));
                }
            }
        }
    }

    /// Stages a prepared batch and hands its bytes to the sync thread.
    fn launch(&mut self, batch: Batch, sync: &Sender<B::Sync>) -> Option<InFlight> {
        if batch.prepared.is_empty() {
            return None;
        }
        let mut failure = self.dead.clone();
        if failure.is_none() {
            let mut staging = None;
            for (_, p) in &batch.prepared {
                if let Err(error) = self.writer.stage(&p.entry, &p.bytes, p.opening.as_deref()) {
                    staging = Some(error);
                    break;
                }
            }
            if let Some(error) = staging {
                failure = Some(self.storage_failure(&error));
            }
        }
        if failure.is_none() {
            match self.writer.commit_begin(batch.now) {
                Ok(job) => {
                    if sync.send(job).is_err() {
                        failure = Some("the ledger stopped: the sync thread stopped".to_owned());
                    }
                }
                Err(error) => {
                    failure = Some(self.storage_failure(&error));
                }
            }
        }
        if let Some(why) = failure {
            tracing::error!(%why, "the sequencer stops taking commands");
            if self.dead.is_none() {
                self.stop(why);
            }
            for (reply, _) in batch.prepared {
                let _ = reply.send(Err(self.unavailable()));
            }
            for (reply, _) in batch.waiting {
                let _ = reply.send(Err(self.unavailable()));
            }
            return None;
        }
        let digests = batch.prepared.iter().map(|(_, p)| p.digest).collect();
        Some(InFlight {
            digests,
            staged: batch
                .prepared
                .into_iter()
                .map(|(reply, p)| (reply, p.receipt))
                .collect(),
            waiting: batch.waiting,
            nonces: batch.nonces,
        })
    }

    fn one(
        &mut self,
        command: SignedCommand,
        sealed: Option<(Vec<u8>, String)>,
        lookups: Lookups,
        now: i64,
        batch: &mut Batch,
        inflight: Option<&InFlight>,
    ) -> Result<Outcome, Rejection> {
        let reader = self.writer.reader();
        let internal = |e: StoreError| storage_rejection(&e);
        let Lookups {
            digest,
            covered,
            stream_hint,
        } = lookups;
        // Idempotency first: a retry of an acknowledged command gets the first result back. The
        // verify worker has looked the index up for entries below `covered`; what was committed
        // since, and what is being synced or decided, is checked here, from memory.
        //
        // The same nonce twice in this batch or in the one being synced: the identical command
        // shares the first one's receipt; a different command under a used nonce is refused.
        if let Some((i, signature)) = batch.nonces.get(&digest) {
            Counters::add(&self.counters.from_memory);
            if *signature == command.signature {
                return Ok(Outcome::SameAsPrepared(*i));
            }
            return Err(Rejection::new(
                &codes::NONCE_REUSED,
                "this actor already used this nonce for another command",
            ));
        }
        if let Some((i, signature)) = inflight.and_then(|f| f.nonces.get(&digest)) {
            Counters::add(&self.counters.from_memory);
            if *signature == command.signature {
                return Ok(Outcome::SameAsInFlight(*i));
            }
            return Err(Rejection::new(
                &codes::NONCE_REUSED,
                "this actor already used this nonce for another command",
            ));
        }
        // Committed since the worker's look-up: in the recent ring if it reaches back that far;
        // otherwise (the command waited behind more entries than the ring keeps) the index is
        // read here, as it was before the look-up moved to the workers. Either way the entry is
        // read and compared before it answers, so a digest collision answers nothing.
        let in_memory = self.recent.reaches(covered);
        let hit = if in_memory {
            self.recent.map.get(&digest).copied()
        } else {
            Counters::add(&self.counters.fallbacks);
            reader.nonce_probe(&digest).map_err(internal)?.1
        };
        if let Some(seq) = hit
            && let Some(answer) = answer_from_log(&reader, seq, &command).map_err(internal)?
        {
            if in_memory {
                Counters::add(&self.counters.from_memory);
            }
            return answer.map(Outcome::Done);
        }
        // `abs_diff` cannot overflow, whatever the client put in `issued_at_ms` (i64::MIN against
        // a positive clock would overflow `(now - issued).abs()`); a negative window accepts
        // nothing but an exact match.
        let window = u64::try_from(self.config.issued_at_window_ms).unwrap_or(0);
        if now.abs_diff(command.issued_at_ms) > window {
            return Err(Rejection::new(
                &codes::STALE,
                format!(
                    "issued_at_ms is {} ms from the server clock; at most {} ms are allowed",
                    i128::from(now) - i128::from(command.issued_at_ms),
                    self.config.issued_at_window_ms
                ),
            )
            .with(json!({"server_time_ms": now, "window_ms": self.config.issued_at_window_ms})));
        }
        // A stream missing from `versions` had its last entry below `versions_cleared_at`; if
        // the worker's look-up covered that far, the version it read is the stream's current
        // one (no entry of the stream was committed after it). Otherwise the index is read
        // here.
        let current = match (self.versions.get(&command.stream), stream_hint) {
            (Some(v), _) => *v,
            (None, Some(hint)) if covered >= self.versions_cleared_at => hint,
            (None, _) => {
                Counters::add(&self.counters.stream_fallbacks);
                reader.stream_version(&command.stream).map_err(internal)?
            }
        };
        check_expected_version(&command, current)?;
        let ctx = Context {
            seq: self.head_seq,
            recorded_at_ms: now,
            stream_version: current,
        };
        let decision = self.decider.decide(&command, &ctx)?;
        let signature = command.signature.clone();
        let entry = Entry {
            seq: ctx.seq,
            recorded_at_ms: now,
            prev_hash: self.head_leaf,
            stream: command.stream.clone(),
            stream_version: current + 1,
            kind: decision.kind,
            signed: command,
            derived: decision.derived,
        };
        let (bytes, opening) = entry.encode_record_prepared(sealed).map_err(|e| match e {
            deedlog_core::entry::EntryError::TooLarge { .. } => {
                Rejection::new(&codes::TOO_LARGE, e.to_string())
            }
            other => Rejection::new(&codes::MALFORMED, other.to_string()),
        })?;
        // Room for the state root, which the last entry of the batch will carry.
        if self.decider.commits_state() {
            let got = bytes.len() + opening.as_ref().map_or(0, Vec::len) + STATE_ROOT_RESERVE;
            if got > deedlog_core::limits::ENTRY_BYTES_MAX {
                return Err(Rejection::new(
                    &codes::TOO_LARGE,
                    format!(
                        "the entry would be {got} bytes with the state root, over the limit of {}",
                        deedlog_core::limits::ENTRY_BYTES_MAX
                    ),
                ));
            }
        }
        // The state follows the log: the entry is applied once it is accepted and encoded, and
        // a failure to apply stops the sequencer, since from here the state and the log may
        // differ and only a reopen (which replays the log) is safe. Entries prepared before it
        // were applied and are still committed and acknowledged.
        if let Err(error) = self.decider.apply(&entry, decision.parsed) {
            tracing::error!(seq = entry.seq, %error, "an accepted entry does not apply; the sequencer stops taking commands");
            let why = format!(
                "the ledger stopped: entry {} does not apply: {error}",
                entry.seq
            );
            self.stop(why.clone());
            return Err(Rejection::unavailable(why));
        }
        let leaf = hash::leaf_hash(&bytes);
        self.head_seq += 1;
        self.head_leaf = leaf;
        if self
            .versions
            .insert(entry.stream.clone(), current + 1)
            .is_none()
        {
            self.seen.insert(&entry.stream);
        }
        batch
            .nonces
            .insert(digest, (batch.prepared.len(), signature));
        let receipt = Receipt {
            seq: entry.seq,
            stream: entry.stream.clone(),
            stream_version: entry.stream_version,
            kind: entry.kind.clone(),
            derived: entry.derived.clone(),
            leaf_hash: hash::to_hex(&leaf),
            checkpoint_size: 0,
            duplicate: false,
        };
        Ok(Outcome::Accepted(Box::new(Accepted {
            entry,
            bytes,
            opening,
            receipt,
            digest,
        })))
    }
}

enum Outcome {
    Accepted(Box<Accepted>),
    SameAsPrepared(usize),
    SameAsInFlight(usize),
    Done(Receipt),
}
