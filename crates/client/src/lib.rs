//! deedlog's Rust client: builds and signs commands with an actor's key, calls every route of
//! the HTTP API, and checks the server's proofs on the client side with core's verifier.
//!
//! Also here, because they are clients of the API too: the demo that drives whole deals through
//! a server ([`demo`]) and the loopback load generator behind `deedlog bench http` ([`loadgen`]).
//!
//! Architecture invariant: nothing the server says is trusted where a proof can be checked: a
//! proof bundle, a checkpoint and a consistency proof are verified against a log key the caller
//! supplies. The client never speaks TLS; it is for plain HTTP to a server the caller names.
#![deny(missing_docs)]

pub mod actor;
pub mod client;
pub mod deal;
pub mod demo;
pub mod error;
pub mod http;
pub mod identity;
pub mod keys;
pub mod loadgen;
pub mod people;
pub mod photos;
pub mod policy;
pub mod proof;
pub mod wire;
pub mod witnessing;

pub use actor::Actor;
pub use client::{Client, FeedEntry, Receipt, Verified};
pub use error::ClientError;
pub use identity::Outbox;
