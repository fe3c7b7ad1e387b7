//! The `deedlog` command line.
fn main() {}
