//! Asking witnesses to cosign a log's checkpoint (the client side of C2SP tlog-witness v1): the
//! consistency proof comes from the log, each witness is asked in parallel within a bounded time,
//! and a witness whose remembered size is not the one assumed (409) is asked again once, from the
//! size it names, so a witness that was down catches up from its last checkpoint.

use std::time::Duration;

use deedlog_core::Hash;
use deedlog_core::checkpoint::{OpenedCheckpoint, VerifierKey, open_checkpoint};

use crate::client::Client;
use crate::error::ClientError;
use crate::http::{Policy as HttpPolicy, Transport};

/// Largest cosignature answer read from a witness: a few signature lines.
pub const ANSWER_BYTES_MAX: usize = 4096;

/// Where consistency proofs come from: `(old, new)` to the proof.
pub type ProofSource<'a> = dyn Fn(u64, u64) -> Result<Vec<Hash>, ClientError> + Send + Sync + 'a;

/// One witness, and the size it is believed to hold for the log.
#[derive(Debug, Clone)]
pub struct WitnessClient {
    transport: Transport,
    held: u64,
}

/// The body of an `add-checkpoint` request.
#[must_use]
pub fn add_checkpoint_body(old_size: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old_size}\n").into_bytes();
    for hash in proof {
        out.extend_from_slice(deedlog_core::keys::base64(&hash.0).as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(note);
    out
}

impl WitnessClient {
    /// A witness at `url` (its submission prefix), each call bounded by `timeout`.
    ///
    /// # Errors
    /// A malformed URL.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let policy = HttpPolicy {
            call_timeout: timeout,
            ..HttpPolicy::default()
        };
        Ok(Self {
            transport: Transport::new(url, policy)?,
            held: 0,
        })
    }

    /// The size the witness is believed to hold.
    #[must_use]
    pub fn held(&self) -> u64 {
        self.held
    }

    fn proof(proofs: &ProofSource<'_>, old: u64, new: u64) -> Result<Vec<Hash>, ClientError> {
        if old == 0 || old >= new {
            Ok(Vec::new())
        } else {
            proofs(old, new)
        }
    }

    /// Asks the witness to cosign `checkpoint` (whose note is as the log signed it), with a
    /// proof from the size it holds; returns its signature lines.
    ///
    /// # Errors
    /// [`ClientError::Http`] with the witness's status and text on a refusal (404, 403, 400,
    /// 422, or 409 twice), and transport errors.
    pub fn cosign(
        &mut self,
        log: &Client,
        checkpoint: &OpenedCheckpoint,
    ) -> Result<String, ClientError> {
        self.cosign_with(&|m, n| log.consistency_proof(m, n), checkpoint)
    }

    /// As [`WitnessClient::cosign`], with consistency proofs from `proofs` (the node passes its
    /// own store).
    ///
    /// # Errors
    /// As [`WitnessClient::cosign`].
    pub fn cosign_with(
        &mut self,
        proofs: &ProofSource<'_>,
        checkpoint: &OpenedCheckpoint,
    ) -> Result<String, ClientError> {
        for _ in 0..2 {
            let old = self.held.min(checkpoint.size);
            let proof = Self::proof(proofs, old, checkpoint.size)?;
            let body = add_checkpoint_body(old, &proof, checkpoint.note_text.as_bytes());
            let answer = self.transport.call_once(
                "POST",
                "/add-checkpoint",
                &[],
                Some(("text/plain; charset=utf-8", &body)),
            )?;
            let text =
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(ANSWER_BYTES_MAX)])
                    .into_owned();
            match answer.status {
                200 if text.lines().all(|l| l.starts_with("— ")) && !text.is_empty() => {
                    self.held = checkpoint.size;
                    return Ok(text);
                }
                409 => {
                    // The witness names the size it holds: ask again from there.
                    let held = text.trim_end_matches('\n').parse::<u64>().map_err(|_| {
                        ClientError::Transport(format!("witness 409 without a size: {text:?}"))
                    })?;
                    if held > checkpoint.size {
                        return Err(ClientError::Proof(format!(
                            "the witness holds size {held}, beyond this checkpoint's {}",
                            checkpoint.size
                        )));
                    }
                    self.held = held;
                }
                status => {
                    return Err(ClientError::Proof(format!(
                        "the witness refused ({status}): {}",
                        text.trim_end()
                    )));
                }
            }
        }
        Err(ClientError::Proof(
            "the witness's size kept changing".into(),
        ))
    }
}

/// Asks every witness in parallel to cosign the log's checkpoint `note`, and returns the note
/// with every cosignature line that verifies appended, and each witness's result.
///
/// # Errors
/// [`ClientError::Proof`] when `note` does not verify under `log_key`.
pub fn cosign_all(
    log: &Client,
    note: &str,
    log_key: &str,
    witnesses: &mut [WitnessClient],
) -> Result<(String, Vec<Result<String, ClientError>>), ClientError> {
    cosign_all_with(
        &|m, n| log.consistency_proof(m, n),
        note,
        log_key,
        witnesses,
    )
}

/// As [`cosign_all`], with consistency proofs from `proofs`.
///
/// # Errors
/// As [`cosign_all`].
pub fn cosign_all_with(
    proofs: &ProofSource<'_>,
    note: &str,
    log_key: &str,
    witnesses: &mut [WitnessClient],
) -> Result<(String, Vec<Result<String, ClientError>>), ClientError> {
    let key = VerifierKey::parse(log_key).map_err(|e| ClientError::Proof(e.to_string()))?;
    let opened =
        open_checkpoint(note.as_bytes(), &key).map_err(|e| ClientError::Proof(e.to_string()))?;
    let results: Vec<Result<String, ClientError>> = std::thread::scope(|s| {
        let handles: Vec<_> = witnesses
            .iter_mut()
            .map(|w| {
                let opened = &opened;
                s.spawn(move || w.cosign_with(proofs, opened))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ClientError::Transport("witness call panicked".into())))
            })
            .collect()
    });
    // A witness's answer is untrusted: each one's lines are kept only if the note still opens
    // with them (well-formed signature lines).
    let mut cosigned = opened.note_text.clone();
    for lines in results.iter().flatten() {
        let candidate = format!("{cosigned}{lines}");
        if open_checkpoint(candidate.as_bytes(), &key).is_ok() {
            cosigned = candidate;
        }
    }
    Ok((cosigned, results))
}

/// The latest cosigned checkpoint a [`Cosigner`] holds: `(size, note with cosignatures)`.
pub type CosignedSlot = std::sync::Arc<std::sync::RwLock<Option<(u64, String)>>>;

/// A background thread that asks the witnesses to cosign each new checkpoint of a log and keeps
/// the latest cosigned note; a witness that failed is asked again on the next round (every
/// `interval`), up to [`Cosigner::RETRIES`] times per checkpoint, so one that was down catches up.
pub struct Cosigner {
    slot: CosignedSlot,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cosigner").finish_non_exhaustive()
    }
}

impl Cosigner {
    /// Rounds a checkpoint is retried for witnesses that failed it.
    pub const RETRIES: u32 = 10;

    /// Starts the thread. `latest` gives the log's latest checkpoint note, `proofs` its
    /// consistency proofs; each witness call is bounded by `timeout`.
    ///
    /// # Errors
    /// A malformed witness URL or log key.
    pub fn start(
        urls: &[String],
        log_key: &str,
        latest: Box<dyn Fn() -> Option<String> + Send>,
        proofs: Box<ProofSource<'static>>,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        VerifierKey::parse(log_key).map_err(|e| ClientError::Proof(e.to_string()))?;
        let mut witnesses = urls
            .iter()
            .map(|u| WitnessClient::new(u, timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let slot: CosignedSlot = std::sync::Arc::default();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (slot2, stop2, key) = (slot.clone(), stop.clone(), log_key.to_owned());
        let handle = std::thread::Builder::new()
            .name("cosigner".into())
            .spawn(move || {
                let mut done: Vec<Option<String>> = vec![None; witnesses.len()];
                let (mut size, mut tries) = (0u64, 0u32);
                while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(interval);
                    let Some(note) = latest() else { continue };
                    let Ok(opened) = VerifierKey::parse(&key)
                        .map_err(|e| e.to_string())
                        .and_then(|k| {
                            open_checkpoint(note.as_bytes(), &k).map_err(|e| e.to_string())
                        })
                    else {
                        continue;
                    };
                    if opened.size != size {
                        size = opened.size;
                        tries = 0;
                        done.iter_mut().for_each(|d| *d = None);
                    }
                    if tries >= Self::RETRIES || done.iter().all(Option::is_some) {
                        continue;
                    }
                    tries += 1;
                    let mut pending: Vec<(usize, WitnessClient)> = done
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| d.is_none())
                        .map(|(i, _)| (i, witnesses[i].clone()))
                        .collect();
                    let mut ws: Vec<WitnessClient> =
                        pending.iter().map(|(_, w)| w.clone()).collect();
                    let Ok((_, results)) = cosign_all_with(&*proofs, &note, &key, &mut ws) else {
                        continue;
                    };
                    for ((i, _), (w, r)) in pending.iter_mut().zip(ws.into_iter().zip(results)) {
                        witnesses[*i] = w;
                        match r {
                            Ok(lines) => done[*i] = Some(lines),
                            Err(e) => tracing_free_log(&format!("witness {i}: {e}")),
                        }
                    }
                    // The slot keeps the newest checkpoint that at least one witness cosigned:
                    // proof bundles carry it, and a round in which every witness failed must
                    // not replace a cosigned checkpoint with a bare one.
                    if done.iter().all(Option::is_none) {
                        continue;
                    }
                    let mut cosigned = opened.note_text.clone();
                    for lines in done.iter().flatten() {
                        cosigned.push_str(lines);
                    }
                    if let Ok(mut s) = slot2.write() {
                        *s = Some((size, cosigned));
                    }
                }
            })
            .map_err(|e| ClientError::Transport(format!("starting the cosigner: {e}")))?;
        Ok(Self {
            slot,
            stop,
            handle: Some(handle),
        })
    }

    /// The shared slot holding the latest cosigned checkpoint.
    #[must_use]
    pub fn slot(&self) -> CosignedSlot {
        self.slot.clone()
    }
}

impl Drop for Cosigner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The client crate logs nothing itself; a refusal is written to standard error for the
/// operator, since the cosigner runs unattended.
fn tracing_free_log(message: &str) {
    eprintln!("cosigner: {message}");
}
