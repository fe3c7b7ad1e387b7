//! deedlog's rules: the aggregates of a resale-housing deal, the commands that move them, who may
//! issue each command in which state, and the semantic audit that replays them.
//!
//! The contract with the sequencer is two functions on [`State`]:
//!
//! - [`State::decide`] takes a signed command (its signature already checked) and the position it
//!   would take in the log ([`Context`]) and returns the event kind and the server-derived values
//!   ([`Decision`]), or a typed [`Rejection`]. One command makes exactly one entry.
//! - [`State::apply`] folds a committed [`Entry`] into the state.
//!
//! Architecture invariants: this crate is pure. It does no I/O, reads no clock (time is
//! `Context::recorded_at_ms`) and draws no randomness (codes are hashes of the log position), so
//! an auditor who replays the log with [`audit()`] reaches exactly the same verdicts. Personal data
//! never appears: only commitments (64-hex HMAC values made by the vault).
#![deny(missing_docs)]

pub mod audit;
pub mod bounded;
mod decide;
pub mod docs;
pub mod event;
pub mod identity;
pub mod ids;
pub mod keys;
pub mod payload;
pub mod public_status;
pub mod rating;
pub mod reference;
pub mod rejection;
mod rules;
pub mod state;
pub mod table;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod validate;

pub use audit::{AuditFault, AuditFaultKind, AuditReport, Auditor, audit};
pub use deedlog_core::{Entry, SignedCommand};
pub use event::EventView;
pub use payload::{KINDS, Payload};
pub use rejection::{Code, Rejection, RejectionClass, codes};
pub use state::{KEEP_DEFAULT, State};

pub use deedlog_core::decide::Context;

/// What `decide` accepted: the event kind, what the server derived, and the parsed payload that
/// [`State::apply_parsed`] takes, so the sequencer parses each command's payload once.
pub type Decision = deedlog_core::decide::Decision<Payload>;

/// Why a committed entry could not be applied. Entries that `decide` accepted always apply; this
/// is what a corrupt or forged log looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The command kind is not in the catalogue.
    #[error("unknown command kind `{0}`")]
    UnknownKind(String),
    /// The event kind is not one the command can produce.
    #[error("command `{command}` cannot produce event `{event}`")]
    EventKind {
        /// Command kind.
        command: String,
        /// Event kind found.
        event: String,
    },
    /// The payload does not parse.
    #[error("payload: {0}")]
    Payload(String),
    /// `derived` lacks a value the event needs, or has it in the wrong type.
    #[error("derived value `{0}` missing or malformed")]
    Derived(&'static str),
    /// The entry's stream differs from the signed command's.
    #[error("entry stream `{entry}` differs from the command's `{command}`")]
    StreamMismatch {
        /// The entry's stream.
        entry: String,
        /// The command's stream.
        command: String,
    },
    /// The entry's stream version is not the stream's next.
    #[error("stream version {found}, expected {expected}")]
    StreamVersion {
        /// The next version.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// The entry's seq is not the next one.
    #[error("seq {found}, expected {expected}")]
    Seq {
        /// The next seq.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// An aggregate the event refers to does not exist.
    #[error("`{0}` does not exist")]
    Missing(String),
    /// A bounded state could not read what it spilled (see [`bounded`]): the entry was applied
    /// on a wrong answer, and the state can no longer be trusted.
    #[error("the state could not be read: {0}")]
    StateUnreadable(String),
}
