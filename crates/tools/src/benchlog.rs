//! The benchmark log: a data folder of `bench.note` entries from deterministic keys, appended
//! through the real append path (batch signature verification, sequencing, hashing, Merkle
//! stored hashes, durable group commit, signed checkpoints) with the store's accept-all decider.
//! `deedlog bench append` times it; the crash test's child appends to it until it is killed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deedlog_core::{Command, SecretKey, SignedCommand, hash};
use deedlog_store::sequencer::system_clock;
use deedlog_store::{
    AcceptAll, LogOptions, LogWriter, NoteFormat, Sequencer, SequencerConfig, StoreError,
};
use serde_json::json;

/// The origin of benchmark and crash-test logs.
pub const BENCH_ORIGIN: &str = "bench.deedlog.example/log";

/// The `i`-th benchmark actor's key, the same in every run (so a log made by one run verifies
/// and reopens in the next).
#[must_use]
pub fn key_for(i: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed[8..16].copy_from_slice(b"benchkey");
    SecretKey::from_seed(&hash::sha256(&seed))
}

/// The benchmark log's checkpoint key.
#[must_use]
pub fn log_secret() -> SecretKey {
    SecretKey::from_seed(&hash::sha256(b"deedlog bench log key"))
}

/// `count` benchmark actors: each key with its actor id (`bench/<key id>`) and its public key.
#[must_use]
pub fn actors(count: usize) -> Vec<(SecretKey, String, String)> {
    (0..count)
        .map(|i| {
            let k = key_for(i);
            let actor = format!("bench/{}", k.public().key_id());
            let public = k.public().to_base64();
            (k, actor, public)
        })
        .collect()
}

/// The `n`-th command of run `run`: from actor `n % keys`, on one of 4,096 streams, with
/// `filler` in its payload to size the entry, signed in command format `format` (1 or 2).
///
/// # Panics
/// Never for these shapes: the actor, kind, stream and nonce are all well-formed by
/// construction, so signing cannot refuse them.
#[must_use]
pub fn make_command(
    keys: &[(SecretKey, String, String)],
    n: u64,
    filler: &str,
    run: u64,
    format: u8,
) -> SignedCommand {
    let (secret, actor, key) = &keys[(n % keys.len() as u64) as usize];
    let command = Command {
        actor: actor.clone(),
        key: key.clone(),
        kind: "bench.note".into(),
        stream: format!("bench/S-{}", n % 4096),
        expected_version: None,
        payload: json!({"n": n, "filler": filler}),
        nonce: format!("r{run:x}-{n:012}"),
        issued_at_ms: (system_clock())(),
    };
    let signed = if format == 1 {
        command.sign_v1(secret)
    } else {
        command.sign(secret)
    };
    signed.expect("bench commands are well-formed")
}

/// How the benchmark log's sequencer batches and verifies.
#[derive(Debug, Clone, Copy)]
pub struct BenchLogConfig {
    /// Largest batch.
    pub batch_max: usize,
    /// How long a batch waits to fill.
    pub batch_wait: Duration,
    /// Signature verification threads.
    pub verify_threads: usize,
    /// Whether version-1 commands are accepted.
    pub accept_version_1: bool,
    /// Keep and commit a state map as the node does ([`AcceptAllWithStateMap`]), to measure
    /// its cost.
    pub state_map: bool,
}

/// Opens (creating or recovering) the benchmark log in `dir`, writes its verifier key to
/// `dir/log.vkey` and starts a sequencer on it with the accept-all decider.
///
/// # Errors
/// I/O errors writing the folder, and the store's errors opening the log or starting the
/// sequencer.
pub fn open_log(dir: &Path, config: BenchLogConfig) -> Result<Sequencer, StoreError> {
    let format = NoteFormat::new(BENCH_ORIGIN, log_secret())?;
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let vkey_path = dir.join("log.vkey");
    std::fs::write(&vkey_path, format!("{}\n", format.vkey()))
        .map_err(|e| StoreError::io(&vkey_path, e))?;
    let (writer, _, report) = LogWriter::open(dir, LogOptions::default(), Arc::new(format))?;
    if report.torn_tail_bytes > 0 {
        tracing::warn!(
            bytes = report.torn_tail_bytes,
            "recovered: cut a torn tail of the benchmark log"
        );
    }
    let sequencer_config = SequencerConfig {
        batch_max: config.batch_max,
        batch_wait: config.batch_wait,
        verify_threads: config.verify_threads,
        accept_version_1: config.accept_version_1,
        ..SequencerConfig::default()
    };
    if config.state_map {
        return Sequencer::start(writer, AcceptAllWithStateMap::new(), sequencer_config);
    }
    Sequencer::start(writer, AcceptAll, sequencer_config)
}

/// Accepts every command, as `AcceptAll` does, and keeps a state map as the node's decider
/// does: each applied entry's stream gets a status (canonical JSON, hashed) in the map, and the
/// root is committed at the end of each batch.
pub struct AcceptAllWithStateMap {
    map: deedlog_core::state_map::StateMap,
}

impl Default for AcceptAllWithStateMap {
    fn default() -> Self {
        Self::new()
    }
}

impl AcceptAllWithStateMap {
    /// A map pre-filled with 100,000 aggregates, about the platform's size.
    #[must_use]
    pub fn new() -> Self {
        let mut map = deedlog_core::state_map::StateMap::new();
        for i in 0..100_000u32 {
            let id = format!("bench/filler-{i}");
            map.insert(
                deedlog_core::state_map::state_key(&id),
                hash::sha256(id.as_bytes()),
            );
        }
        map.root();
        Self { map }
    }
}

impl deedlog_store::Decider for AcceptAllWithStateMap {
    type Parsed = ();
    type ApplyError = deedlog_core::canonical::CanonicalError;

    fn decide(
        &self,
        command: &SignedCommand,
        ctx: &deedlog_store::Context,
    ) -> Result<deedlog_store::Decision, deedlog_store::Rejection> {
        <AcceptAll as deedlog_store::Decider>::decide(&AcceptAll, command, ctx)
    }

    fn apply(&mut self, entry: &deedlog_core::Entry, (): ()) -> Result<(), Self::ApplyError> {
        let status = json!({"aggregate": entry.stream, "kind": "bench", "status": "active",
            "updated_seq": entry.seq, "version": entry.stream_version});
        let bytes = deedlog_core::canonical::to_vec(&status)?;
        self.map.insert(
            deedlog_core::state_map::state_key(&entry.stream),
            hash::sha256(&bytes),
        );
        Ok(())
    }

    fn state_root(&mut self) -> Option<deedlog_core::state_map::Digest> {
        Some(self.map.root())
    }

    fn commits_state(&self) -> bool {
        true
    }
}
