//! deedlog's storage: the durable, append-only log segments (the source of truth), the derived
//! Merkle stored hashes and offsets, the index (an LSM tree), and the sequencer that group-commits signed
//! commands.
//!
//! Architecture invariant: only this crate touches the index and the log files. Everything in the index and
//! in the flat files is derived from the segments and is re-derived on open when behind.
#![deny(missing_docs)]

pub mod audit;
pub mod backend;
pub mod error;
pub mod flatfile;
pub mod index;
pub mod log;
pub mod note;
pub mod segment;
pub mod sequencer;
pub mod tiles;

pub use backend::{LogBackend, LogRead, SyncWork};
pub use error::{IndexStoreError, StoreError};
pub use log::{
    CheckpointFormat, INDEX_CACHE_BYTES_DEFAULT, LogOptions, LogReader, LogWriter, OpenReport,
    StoredCheckpoint, SyncFault, SyncJob,
};
pub use note::NoteFormat;
pub use sequencer::{
    AcceptAll, Context, Decider, Decision, Receipt, Rejection, RejectionClass, Sequencer,
    SequencerConfig, SequencerHandle, SequencerStats, codes,
};
