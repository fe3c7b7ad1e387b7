//! deedlog's Rust client: builds and signs commands with an actor's key, calls every route of
//! the HTTP API, and checks the server's proofs on the client side with core's verifier.
//!
//! It holds only what a real client of the platform needs; the demo, the load generator and the
//! generated people are in `deedlog-tools`.
//!
//! Architecture invariant: nothing the server says is trusted where a proof can be checked: a
//! proof bundle, a checkpoint and a consistency proof are verified against a log key the caller
//! supplies. The client never speaks TLS; it is for plain HTTP to a server the caller names.
#![deny(missing_docs)]

pub mod actor;
pub mod client;
pub mod deal;
pub mod error;
pub mod http;
pub mod identity;
pub mod keys;
pub mod photos;
pub mod policy;
pub mod proof;
pub mod witnessing;

pub use actor::Actor;
pub use client::{Client, FeedEntry, Receipt, Verified};
pub use error::ClientError;
pub use identity::Outbox;
