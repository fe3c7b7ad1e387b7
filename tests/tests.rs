//! Integration tests of the `deedlog` binary and the whole system, one module per theme.

mod cli;
mod common;
mod docs;
mod e2e;
mod tamper;
mod transparency;
