//! The semantic audit: replay the whole log through `decide` and `apply` and report every entry
//! that was not a legal step by an allowed actor.
//!
//! For each entry, in seq order:
//! 1. its seq is the next one, its `stream` is the signed command's, its `stream_version` is the
//!    stream's next version, its time does not go backwards, and its `(actor, nonce)` is new;
//! 2. its `expected_version`, when given, is the stream's version (the sequencer's check,
//!    `deedlog_core::decide::check_expected_version`), and
//!    `decide(state, entry.signed, {seq, recorded_at_ms, stream_version})` accepts it and yields
//!    exactly the entry's event `kind` and `derived`;
//! 3. `apply` folds it in;
//! 4. the state map of public statuses ([`crate::public_status`]) follows it, and a root the
//!    entry commits in `derived.state_root` equals the recomputed root after it (`decide` never
//!    derives that field: the sequencer adds it to the last entry of each batch, so it is left
//!    out when `derived` is compared).
//!
//! A faulty entry is reported with its seq and skipped: its effects are not applied, but its seq
//! and stream version are consumed, so one bad entry is reported once rather than cascading.
//! Signatures and hash links are the cryptographic verifier's job and are assumed checked.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use deedlog_core::Entry;

use crate::{Context, State};

/// What is wrong with an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditFaultKind {
    /// The seq is not the next one.
    SeqGap {
        /// The seq expected.
        expected: u64,
    },
    /// The entry's stream is not the signed command's stream.
    StreamMismatch,
    /// The stream version is not the stream's next.
    StreamVersion {
        /// The version expected.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// `recorded_at_ms` is earlier than the previous entry's.
    TimeWentBackwards {
        /// The previous entry's time.
        previous_ms: i64,
    },
    /// The actor used this nonce before: a replayed command.
    DuplicateNonce,
    /// `decide` rejects the command at this point of the log.
    Rejected {
        /// The rejection code.
        code: String,
        /// The rejection message.
        message: String,
    },
    /// `decide` accepts it as another event kind.
    KindMismatch {
        /// What decide produced.
        decided: String,
    },
    /// `decide` derives other values.
    DerivedMismatch {
        /// What decide derived.
        decided: Value,
    },
    /// `apply` failed.
    Apply {
        /// The error.
        error: String,
    },
    /// The state root the entry commits is not the root recomputed after it.
    StateRoot {
        /// What the entry commits (hex; the field's text when it is not a root).
        committed: String,
        /// What the replay computes (hex).
        recomputed: String,
    },
}

/// One illegal entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditFault {
    /// The entry's seq.
    pub seq: u64,
    /// Its stream.
    pub stream: String,
    /// Its command kind.
    pub command: String,
    /// Its event kind.
    pub event: String,
    /// What is wrong.
    pub fault: AuditFaultKind,
}

/// The result of a semantic audit.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// Entries examined.
    pub entries: u64,
    /// Every illegal entry, in seq order.
    pub faults: Vec<AuditFault>,
    /// The state after every legal entry was applied.
    pub state: State,
}

impl AuditReport {
    /// Whether every entry was a legal step.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.faults.is_empty()
    }
}

/// An incremental auditor, for logs too large to hold in memory: feed entries in seq order with
/// [`Auditor::check`], then call [`Auditor::finish`].
#[derive(Debug, Clone, Default)]
pub struct Auditor {
    state: State,
    nonces: BTreeSet<(String, String)>,
    faults: Vec<AuditFault>,
    entries: u64,
    last_time_ms: Option<i64>,
    commitment: crate::public_status::Commitment,
    roots: u64,
}

impl Auditor {
    /// An auditor at the empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The state so far.
    #[must_use]
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Faults found so far.
    #[must_use]
    pub fn faults(&self) -> &[AuditFault] {
        &self.faults
    }

    /// How many committed state roots were recomputed and matched so far.
    #[must_use]
    pub fn roots_checked(&self) -> u64 {
        self.roots
    }

    /// The state map's root after the entries so far.
    pub fn state_root(&mut self) -> deedlog_core::state_map::Digest {
        self.commitment.root()
    }

    /// Checks the next entry; returns whether it was legal.
    pub fn check(&mut self, entry: &Entry) -> bool {
        self.entries += 1;
        let fault = self.find_fault(entry);
        match fault {
            None => true,
            Some(fault) => {
                self.faults.push(AuditFault {
                    seq: entry.seq,
                    stream: entry.stream.clone(),
                    command: entry.signed.kind.clone(),
                    event: entry.kind.clone(),
                    fault,
                });
                self.state.skip(entry);
                false
            }
        }
    }

    fn find_fault(&mut self, entry: &Entry) -> Option<AuditFaultKind> {
        let expected_seq = self.state.next_seq();
        if entry.seq != expected_seq {
            return Some(AuditFaultKind::SeqGap {
                expected: expected_seq,
            });
        }
        if entry.stream != entry.signed.stream {
            return Some(AuditFaultKind::StreamMismatch);
        }
        let current = self.state.stream_version(&entry.stream);
        if entry.stream_version != current + 1 {
            return Some(AuditFaultKind::StreamVersion {
                expected: current + 1,
                found: entry.stream_version,
            });
        }
        if let Some(previous_ms) = self.last_time_ms
            && entry.recorded_at_ms < previous_ms
        {
            return Some(AuditFaultKind::TimeWentBackwards { previous_ms });
        }
        self.last_time_ms = Some(entry.recorded_at_ms);
        if !self
            .nonces
            .insert((entry.signed.actor.clone(), entry.signed.nonce.clone()))
        {
            return Some(AuditFaultKind::DuplicateNonce);
        }
        let ctx = Context {
            seq: entry.seq,
            recorded_at_ms: entry.recorded_at_ms,
            stream_version: current,
        };
        let decided = deedlog_core::decide::check_expected_version(&entry.signed, current)
            .and_then(|()| self.state.decide(&entry.signed, &ctx));
        let parsed = match decided {
            Err(r) => {
                return Some(AuditFaultKind::Rejected {
                    code: r.code.to_owned(),
                    message: r.message,
                });
            }
            Ok(d) if d.kind != entry.kind => {
                return Some(AuditFaultKind::KindMismatch { decided: d.kind });
            }
            Ok(d) if !derived_matches(&d.derived, &entry.derived) => {
                return Some(AuditFaultKind::DerivedMismatch { decided: d.derived });
            }
            Ok(d) => d.parsed,
        };
        let mut affected = crate::public_status::affected(&self.state, entry);
        if let Err(e) = self.state.apply_parsed(entry, &parsed) {
            return Some(AuditFaultKind::Apply {
                error: e.to_string(),
            });
        }
        affected.extend(crate::public_status::affected(&self.state, entry));
        if let Err(e) = self.commitment.update(&self.state, &affected) {
            return Some(AuditFaultKind::Apply {
                error: e.to_string(),
            });
        }
        self.check_root(entry)
    }

    /// Compares the root an entry commits, if any, with the recomputed one.
    fn check_root(&mut self, entry: &Entry) -> Option<AuditFaultKind> {
        let field = entry
            .derived
            .get(deedlog_core::state_map::STATE_ROOT_FIELD)?;
        let recomputed = self.commitment.root();
        match deedlog_core::state_map::committed_root(&entry.derived) {
            Ok(Some(root)) if root == recomputed => {
                self.roots += 1;
                None
            }
            Ok(Some(root)) => Some(AuditFaultKind::StateRoot {
                committed: hex(root),
                recomputed: hex(recomputed),
            }),
            Ok(None) | Err(_) => Some(AuditFaultKind::StateRoot {
                committed: field.to_string(),
                recomputed: hex(recomputed),
            }),
        }
    }

    /// The report.
    #[must_use]
    pub fn finish(self) -> AuditReport {
        AuditReport {
            entries: self.entries,
            faults: self.faults,
            state: self.state,
        }
    }
}

fn hex(d: deedlog_core::state_map::Digest) -> String {
    deedlog_core::hash::to_hex(&deedlog_core::Hash(d))
}

/// Whether an entry's `derived` is what `decide` derived, leaving out the state root the
/// sequencer adds to the last entry of a batch.
#[must_use]
pub fn derived_matches(decided: &Value, logged: &Value) -> bool {
    match logged {
        Value::Object(m) if m.contains_key(deedlog_core::state_map::STATE_ROOT_FIELD) => {
            let mut m = m.clone();
            m.remove(deedlog_core::state_map::STATE_ROOT_FIELD);
            decided == &Value::Object(m)
        }
        other => decided == other,
    }
}

/// Audits a whole log (see the module docs).
pub fn audit<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> AuditReport {
    let mut auditor = Auditor::new();
    for entry in entries {
        auditor.check(entry);
    }
    auditor.finish()
}

impl State {
    /// Consumes a faulty entry's seq and stream version without applying it.
    pub(crate) fn skip(&mut self, entry: &Entry) {
        self.next_seq = self.next_seq.max(entry.seq + 1);
        if entry.stream_version == self.stream_version(&entry.stream) + 1 {
            self.streams
                .insert(entry.stream.clone(), entry.stream_version);
        }
    }
}
