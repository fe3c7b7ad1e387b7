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

    fn proof(log: &Client, old: u64, new: u64) -> Result<Vec<Hash>, ClientError> {
        if old == 0 || old >= new {
            Ok(Vec::new())
        } else {
            log.consistency_proof(old, new)
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
        for _ in 0..2 {
            let old = self.held.min(checkpoint.size);
            let proof = Self::proof(log, old, checkpoint.size)?;
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
    let key = VerifierKey::parse(log_key).map_err(|e| ClientError::Proof(e.to_string()))?;
    let opened =
        open_checkpoint(note.as_bytes(), &key).map_err(|e| ClientError::Proof(e.to_string()))?;
    let results: Vec<Result<String, ClientError>> = std::thread::scope(|s| {
        let handles: Vec<_> = witnesses
            .iter_mut()
            .map(|w| {
                let opened = &opened;
                s.spawn(move || w.cosign(log, opened))
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
