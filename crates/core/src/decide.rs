//! The decide contract between the sequencer and the rules, defined once.
//!
//! The sequencer (in `deedlog-store`) owns the head of the log: idempotency, the `issued_at`
//! window, the stream-version check, sequencing and group commit. The rules (in
//! `deedlog-domain`, or [`Decider`] implementations used by benchmarks) decide whether a verified
//! command is a legal step and fold committed entries into their state. Both sides speak in the
//! types of this module, so nothing is copied field by field between two definitions, and every
//! rejection carries a [`Code`] declared once in a catalogue ([`codes`] here for the codes the
//! sequencer answers, `deedlog_domain::codes` for the rules), from which the documents are
//! rendered.
//!
//! This module is pure, like the rest of the crate: no I/O, no clock, no randomness.

use serde::Serialize;
use serde_json::Value;

use crate::{Entry, SignedCommand};

/// The class of a rejection; the API maps each class to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionClass {
    /// 400: the command or its payload is malformed.
    Malformed,
    /// 401: a bad signature, or the signing key is not the actor's current, unrevoked key.
    Unauthorized,
    /// 403: the actor may not take this step.
    Forbidden,
    /// 404: a referenced aggregate does not exist.
    NotFound,
    /// 409: the aggregate is not in a state that allows this step, or a version conflict.
    Conflict,
    /// 413: the command or the entry it would make is too large.
    TooLarge,
    /// 422: the step is well-formed but breaks a rule.
    Unprocessable,
    /// 503: the ledger cannot take commands now.
    Unavailable,
}

impl RejectionClass {
    /// The HTTP status the API uses for this class.
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            Self::Malformed => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::Unprocessable => 422,
            Self::Unavailable => 503,
        }
    }

    /// The class's name as used in documents (`malformed`, `forbidden`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::TooLarge => "too_large",
            Self::Unprocessable => "unprocessable",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A rejection code: its stable text, its class and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// Stable text, e.g. `listing.not_entrusted`.
    pub code: &'static str,
    /// The class.
    pub class: RejectionClass,
    /// One sentence saying when it is returned.
    pub meaning: &'static str,
}

/// A refused command. Nothing is appended to the log.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// Stable code, e.g. `stream.version_conflict`; always one of a catalogue's [`Code`]s.
    pub code: &'static str,
    /// The class (HTTP status).
    pub class: RejectionClass,
    /// A human message.
    pub message: String,
    /// Machine-readable details (an object; `{}` when none).
    pub details: Value,
}

impl Rejection {
    /// The refusal of a command whose fields, key or signature do not check:
    /// `command.bad_signature` for the key or the signature, `command.too_large` for the
    /// payload's size, `command.malformed` for anything else.
    #[must_use]
    pub fn of_command_error(e: &crate::command::CommandError) -> Self {
        use crate::command::CommandError as E;
        let code = match e {
            E::Signature(_) | E::Key(_) => &codes::BAD_SIGNATURE,
            E::PayloadTooLarge { .. } => &codes::TOO_LARGE,
            _ => &codes::MALFORMED,
        };
        Self::new(code, e.to_string())
    }

    /// A rejection with the given code and message and no details.
    #[must_use]
    pub fn new(code: &Code, message: impl Into<String>) -> Self {
        Self {
            code: code.code,
            class: code.class,
            message: message.into(),
            details: Value::Object(serde_json::Map::new()),
        }
    }

    /// Adds machine-readable details.
    #[must_use]
    pub fn with(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// `503 ledger.unavailable` with a message for the operator's log.
    #[must_use]
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(&codes::UNAVAILABLE, message)
    }
}

/// Declares a catalogue of codes: one constant per code and `ALL`, in declaration order.
#[macro_export]
macro_rules! rejection_codes {
    ($($name:ident = $code:literal, $class:ident, $meaning:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $name: $crate::decide::Code = $crate::decide::Code {
                code: $code,
                class: $crate::decide::RejectionClass::$class,
                meaning: $meaning,
            };
        )*
        /// Every code of this catalogue, in declaration order.
        pub const ALL: &[$crate::decide::Code] = &[$($name),*];
    };
}

/// The codes the sequencer answers before, and around, the rules: the command's envelope, its
/// signature, idempotency, the clock window, the stream version, and the ledger's availability.
pub mod codes {
    crate::rejection_codes! {
        MALFORMED = "command.malformed", Malformed, "A field of the signed command breaks its rule (names, nonce, issued_at_ms, payload not an object or not canonical, or a version-1 command without a payload salt).";
        TOO_LARGE = "command.too_large", TooLarge, "The payload is over 48 KiB, or the entry would be over 64 KiB.";
        BAD_SIGNATURE = "command.bad_signature", Unauthorized, "The key is unusable or the signature does not verify for the command and key given.";
        NONCE_REUSED = "command.nonce_reused", Conflict, "The actor already used this nonce for another command (details.seq names its entry when it is known).";
        STALE = "command.stale", Unprocessable, "issued_at_ms is further from the server clock than the window allows (details: server_time_ms, window_ms); a retry of an old command is answered from its entry when that is still found, else with this code.";
        VERSION_CONFLICT = "stream.version_conflict", Conflict, "expected_version differs from the stream's current version (details: expected, actual).";
        UNAVAILABLE = "ledger.unavailable", Unavailable, "The ledger cannot take commands now: it is shutting down, or it stopped after a storage or apply failure (the cause is logged for the operator).";
        STORAGE_FULL = "ledger.storage_full", Unavailable, "The ledger's storage is full: the write failed, nothing of the command was appended, and the node takes no commands until space is freed; it then resumes by itself within seconds (every entry acknowledged before is kept).";
        BUSY = "ledger.busy", Unavailable, "The command queue is full; retry after the Retry-After seconds.";
    }
}

/// Where a command would land in the log: the sequencer's view when it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The seq the entry would get.
    pub seq: u64,
    /// The server time the entry would carry (ms since the Unix epoch); all expiry and validity
    /// rules are judged by it.
    pub recorded_at_ms: i64,
    /// The current version of the command's stream (0 = the stream has no entries).
    pub stream_version: u64,
}

/// What `decide` accepted: the event kind, what the server derived, and the command's payload
/// as the rules parsed it, handed back to [`Decider::apply`] so it is parsed once per command.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<P = ()> {
    /// The event kind, e.g. `ListingPublished`.
    pub kind: String,
    /// Server-derived values (codes, ids); a JSON object.
    pub derived: Value,
    /// The parsed payload.
    pub parsed: P,
}

/// The one `expected_version` check, under the one code `stream.version_conflict`. The
/// sequencer runs it before the rules; the semantic audit runs it on replay.
///
/// # Errors
/// `stream.version_conflict` when `command.expected_version` is given and differs from
/// `current`.
pub fn check_expected_version(command: &SignedCommand, current: u64) -> Result<(), Rejection> {
    match command.expected_version {
        Some(expected) if expected != current => Err(Rejection::new(
            &codes::VERSION_CONFLICT,
            format!(
                "stream {} is at version {current}, not {expected}",
                command.stream
            ),
        )
        .with(serde_json::json!({"expected": expected, "actual": current}))),
        _ => Ok(()),
    }
}

/// The rules as the sequencer sees them.
pub trait Decider: Send + 'static {
    /// The payload as parsed by `decide`, handed to `apply` for the same command.
    type Parsed: Send;
    /// Why an entry could not be applied.
    type ApplyError: std::fmt::Display;

    /// Decides a command (its signature already checked, its stream version already compared
    /// with `expected_version`) against the state so far. Must not change state.
    ///
    /// # Errors
    /// The rejection, when the command is not a legal step.
    fn decide(
        &self,
        command: &SignedCommand,
        ctx: &Context,
    ) -> Result<Decision<Self::Parsed>, Rejection>;

    /// Applies an entry that `decide` accepted and that will be committed, in log order, with
    /// the payload `decide` parsed.
    ///
    /// # Errors
    /// When the entry does not apply. The state may then differ from the log, so the sequencer
    /// stops taking commands (as after a failed write) and only a reopen, which replays the log,
    /// is safe.
    fn apply(&mut self, entry: &Entry, parsed: Self::Parsed) -> Result<(), Self::ApplyError>;

    /// The root of the state map after every entry applied so far, asked once per batch after
    /// its last entry was applied; the sequencer writes it into that entry's `derived` (field
    /// [`crate::state_map::STATE_ROOT_FIELD`]), so the checkpoint that ends the batch covers it.
    /// `None` (the default) commits nothing, for deciders without a state map.
    fn state_root(&mut self) -> Option<crate::state_map::Digest> {
        None
    }

    /// Whether [`Decider::state_root`] commits a root; the sequencer then keeps room in every
    /// entry for the field ([`crate::state_map::STATE_ROOT_RESERVE`]), so adding it to the last
    /// entry of a batch never makes an entry too large.
    fn commits_state(&self) -> bool {
        false
    }

    /// Told when the log was published up to `size` (durable, with its checkpoint), so a decider
    /// that serves proofs can move its published copy of the state to that point. The default
    /// does nothing.
    fn published(&mut self, size: u64) {
        let _ = size;
    }

    /// Checks the rules can make ahead of [`Decider::decide`], on the sequencer's verify workers
    /// (both cores) rather than on its one thread: for example a second signature inside the
    /// payload. `None` (the default) has none.
    fn prechecker(&self) -> Option<std::sync::Arc<dyn Precheck>> {
        None
    }

    /// After a write that found the file system full, the decider has applied entries that
    /// were never committed. Goes back to the state after the log's first `size` entries (the
    /// committed log, which the decider reads by its own means, such as a replay), so that the
    /// sequencer can take commands again once there is room. The default cannot, and the
    /// sequencer then stays stopped until a reopen.
    ///
    /// # Errors
    /// Why the state could not be rebuilt (the sequencer stays stopped).
    fn rewind(&mut self, size: u64) -> Result<(), String> {
        let _ = size;
        Err("these rules cannot rebuild their state in place; reopen the ledger".into())
    }
}

/// Work done ahead of `decide` for a command whose signature verified, off the sequencer's
/// thread (see [`Decider::prechecker`]). It may only remember the outcome of pure checks so
/// that `decide` can skip repeating them: `decide` must give the same answer for a command
/// whether or not it was prechecked, and whatever the state did in between.
pub trait Precheck: Send + Sync {
    /// Prechecks one command.
    fn precheck(&self, command: &SignedCommand);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_namespaced_and_sentences() {
        let mut seen = std::collections::BTreeSet::new();
        for c in codes::ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!(c.code.contains('.'), "{} has no namespace", c.code);
            assert!(c.meaning.ends_with('.'));
        }
    }

    #[test]
    fn classes_map_to_statuses() {
        assert_eq!(RejectionClass::TooLarge.http_status(), 413);
        assert_eq!(RejectionClass::Unavailable.http_status(), 503);
        let r = Rejection::unavailable("x");
        assert_eq!(r.code, "ledger.unavailable");
        assert_eq!(r.class.http_status(), 503);
    }
}
