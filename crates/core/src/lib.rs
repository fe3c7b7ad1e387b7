//! deedlog's pure core: the entry format and its canonical bytes, hashes, keys and signatures,
//! Merkle proofs, checkpoints, proof bundles and the offline verifier.
//!
//! Architecture invariant: this crate does no I/O, reads no clock and draws no randomness (the
//! offline verifier may spread its work over threads, with the same report whatever their number).
//! Time, keys and stored hashes come in as values or through the [`merkle::HashReader`] trait,
//! so everything here is deterministic and can be replayed by an auditor.
#![deny(missing_docs)]

pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod command;
pub mod decide;
pub mod entry;
pub mod hash;
pub mod keyfile;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod state_map;
pub mod tlog_proof;
pub mod verify;

pub use command::{Command, Opening, SealedCommand, SignedCommand};
pub use entry::{Entry, LoggedEntry};
pub use hash::Hash;
pub use keys::{PublicKey, SecretKey};
