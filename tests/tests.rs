//! Integration tests of the `deedlog` binary and the whole system, one module per theme.

mod campaign;
mod cli;
mod common;
mod disk_full;
mod docs;
mod e2e;
mod messages;
mod serving;
mod tamper;
mod transparency;
