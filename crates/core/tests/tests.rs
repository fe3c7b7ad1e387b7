//! Integration tests of deedlog-core, one module per theme (one test binary, so it links once).

mod bundle;
mod checkpoint;
mod commands_v2;
mod common;
mod edge_cases;
mod format_doc;
mod fuzz;
mod keyfile;
mod merkle;
mod parallel;
mod signatures;
mod state_map;
mod tlog_proof;
mod vectors;
mod verify;
