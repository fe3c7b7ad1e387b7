//! deedlog's tools around the product, kept out of the client library so that a real client of
//! the platform carries none of them: the demo that drives whole deals through a server
//! ([`demo`]), the loopback load generator behind `deedlog bench http` ([`loadgen`]) with its raw
//! HTTP/1.1 connection ([`wire`]), made-up people and the reference files ([`people`]), the
//! demo's generated listing pictures ([`photos`]), and the benchmark log that `deedlog bench
//! append` and the crash test's child write ([`benchlog`]).
#![deny(missing_docs)]

pub mod benchlog;
pub mod demo;
pub mod loadgen;
pub mod people;
pub mod photos;
pub mod wire;
