//! Crash test: a child process appends continuously and prints every acknowledged seq; it is
//! killed with SIGKILL at random moments; after each kill the log reopens (cutting a torn tail),
//! every acknowledged entry is there with the same leaf hash, and the offline verifier is clean.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use deedlog_core::hash;
use deedlog_store::{LogOptions, LogWriter, NoteFormat};
use deedlog_tools::benchlog::{BENCH_ORIGIN, log_secret};

/// The child under test: `crates/tools`'s test-only binary.
const CHILD: &str = env!("CARGO_BIN_EXE_deedlog-crash-child");

/// A small deterministic generator for the kill moments.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn kill_9_during_appends_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8 path").to_owned();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut rng = Lcg(0x0dee_d109);
    let mut torn_tails = 0;
    for round in 0..12 {
        let mut child = Command::new(CHILD)
            .arg(&data)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        // Wait until the child has opened (and recovered) the log, then let it run a while.
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child got ready");
        assert_eq!(ready, "READY", "round {round}");
        std::thread::sleep(Duration::from_millis(30 + rng.below(400)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reader.join().expect("reader thread");
        let before = acked.len();
        for line in rx.try_iter() {
            // A line cut by the kill is not an acknowledgement the child finished printing.
            let parts: Vec<&str> = line.split(' ').collect();
            if let ["ACK", seq, leaf] = parts[..]
                && leaf.len() == 64
                && let Ok(seq) = seq.parse::<u64>()
            {
                acked.insert(seq, leaf.to_owned());
            }
        }
        assert!(
            acked.len() > before,
            "round {round}: the child acknowledged nothing"
        );

        // Reopen: recovery cuts a torn tail, and every acknowledged entry is there.
        let format = NoteFormat::new(BENCH_ORIGIN, log_secret()).expect("valid origin");
        let (writer, reader, report) =
            LogWriter::open(dir.path(), LogOptions::default(), Arc::new(format)).expect("reopens");
        if report.torn_tail_bytes > 0 {
            torn_tails += 1;
        }
        for (seq, leaf) in &acked {
            let bytes = reader
                .entry(*seq)
                .unwrap_or_else(|e| panic!("round {round}: acknowledged entry {seq} lost: {e}"));
            assert_eq!(
                &hash::to_hex(&hash::leaf_hash(&bytes)),
                leaf,
                "entry {seq} changed"
            );
        }
        drop((writer, reader));
        // The offline verifier `deedlog verify --data` runs, over the segments alone.
        let vkey = std::fs::read_to_string(dir.path().join("log.vkey")).expect("log.vkey");
        let report = deedlog_store::audit::verify_segments(
            &dir.path().join("log"),
            BENCH_ORIGIN,
            vkey.trim(),
        )
        .expect("the segments read");
        assert!(
            report.is_clean(),
            "round {round}: verify found faults: {:?}",
            report.faults
        );
    }
    eprintln!(
        "{} acknowledged entries survived 12 kills ({torn_tails} torn tails cut)",
        acked.len()
    );
}
