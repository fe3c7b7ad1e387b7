//! The crash test's child: appends to a benchmark log until it is killed, printing
//! `ACK <seq> <leaf hash>` for every acknowledged entry (after `READY` once the log is open and
//! recovered). Nothing but `crates/tools/tests/crash.rs` runs it.
//!
//! Usage: `deedlog-crash-child DATA [THREADS]`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use deedlog_tools::benchlog::{self, BenchLogConfig};

/// Most submitting threads accepted (each blocks on one command at a time).
const THREADS_MAX: usize = 64;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(data) = args.next().map(PathBuf::from) else {
        eprintln!("usage: deedlog-crash-child DATA [THREADS]");
        return ExitCode::from(2);
    };
    let threads = match args.next().map(|a| a.to_string_lossy().parse::<usize>()) {
        None => 8,
        Some(Ok(n)) if (1..=THREADS_MAX).contains(&n) => n,
        Some(_) => {
            eprintln!("THREADS must be 1 to {THREADS_MAX}");
            return ExitCode::from(2);
        }
    };
    let config = BenchLogConfig {
        batch_max: 256,
        batch_wait: Duration::from_micros(200),
        verify_threads: 1,
        accept_version_1: false,
        state_map: false,
    };
    let sequencer = match benchlog::open_log(&data, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let keys = Arc::new(benchlog::actors(16));
    // A fresh run id keeps this run's nonces apart from the runs before the last kill.
    let run: u64 = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    println!("READY");
    let _ = std::io::stdout().flush();
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let handle = sequencer.handle();
            let keys = Arc::clone(&keys);
            s.spawn(move || {
                let mut n = t;
                loop {
                    let command = benchlog::make_command(&keys, n, "crash", run, 2);
                    match handle.submit_blocking(command) {
                        Ok(receipt) => {
                            let mut out = std::io::stdout().lock();
                            let _ = writeln!(out, "ACK {} {}", receipt.seq, receipt.leaf_hash);
                            let _ = out.flush();
                        }
                        Err(r) => {
                            eprintln!("rejected: {} {}", r.code, r.message);
                            return;
                        }
                    }
                    n += threads as u64;
                }
            });
        }
    });
    ExitCode::SUCCESS
}
