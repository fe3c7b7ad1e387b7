//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `deedlog` binary under test.
pub fn deedlog() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_deedlog"))
}

/// Runs `deedlog` with arguments and returns its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(deedlog())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the deedlog binary runs")
}

/// Makes a small log with `bench append` (many small batches, so many checkpoints).
pub fn make_log(dir: &Path, entries: u64) {
    let out = run(&[
        "bench",
        "append",
        "--entries",
        &entries.to_string(),
        "--data",
        dir.to_str().expect("utf-8 temp path"),
        "--batch-max",
        "16",
        "--keys",
        "20",
        "--entry-bytes",
        "300",
        "--inflight",
        "40",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small deterministic generator for test positions.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}
