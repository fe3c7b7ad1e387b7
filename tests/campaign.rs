//! A crash campaign under load: `deedlog serve` on a real socket, several clients sending signed
//! commands at once, SIGKILL at random moments. After each kill: the node's own recovery and the
//! semantic audit (`deedlog replay`), `deedlog verify --data` clean, every acknowledged receipt's
//! entry present with the same leaf hash, nothing unacknowledged half there (every command that
//! got no answer, sent again with the same bytes, is either appended whole or answered as the
//! entry already there), the views caught up, and a lost or damaged index rebuilt from the
//! segments giving the same answers.
//!
//! `cargo test --test integration -- campaign` kills 8 times; `DEEDLOG_CAMPAIGN_KILLS=50` (or
//! more) runs the long campaign whose figures are in docs/PERFORMANCE.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deedlog_client::{Client, ClientError};
use deedlog_core::SignedCommand;

use crate::common::{Lcg, run};
use crate::serving::{
    Serve, assert_verify_clean, assert_views_catch_up, leaf_hashes, registration, voucher_key,
};

/// Concurrent clients.
const CLIENTS: u64 = 4;
/// Kills in the bounded run of the test command.
const KILLS_DEFAULT: u64 = 8;
/// Most kills a long run may ask for.
const KILLS_MAX: u64 = 1000;

/// What the clients saw in one round.
#[derive(Default)]
struct Seen {
    /// seq → (leaf hash, the command) for every receipt.
    acked: BTreeMap<u64, (String, SignedCommand)>,
    /// Commands sent without an answer (the kill came first).
    unanswered: Vec<SignedCommand>,
}

fn kills() -> u64 {
    std::env::var("DEEDLOG_CAMPAIGN_KILLS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(KILLS_DEFAULT, |n| n.clamp(1, KILLS_MAX))
}

/// Sends the command and records what came back.
fn send(client: &Client, command: SignedCommand, seen: &Mutex<Seen>) -> bool {
    match client.submit_signed(&command) {
        Ok(receipt) => {
            let mut s = seen.lock().expect("seen");
            s.acked.insert(receipt.seq, (receipt.leaf_hash, command));
            true
        }
        Err(ClientError::Rejected { status, code, .. }) => {
            // A clear refusal appends nothing; under a kill only these are expected.
            assert!(
                matches!(code.as_str(), "ledger.unavailable" | "ledger.busy"),
                "refused {status} {code}"
            );
            seen.lock().expect("seen").unanswered.push(command);
            false
        }
        Err(_) => {
            seen.lock().expect("seen").unanswered.push(command);
            false
        }
    }
}

#[test]
fn sigkill_under_concurrent_signed_commands_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let kills = kills();
    let mut rng = Lcg(0xca4b_a1c0 ^ kills);
    // Every receipt ever given, seq → (leaf hash, command).
    let mut acked: BTreeMap<u64, (String, SignedCommand)> = BTreeMap::new();
    let mut unanswered: Vec<SignedCommand> = Vec::new();
    let mut counter = 0u64;
    let (mut index_damaged, mut retried_appended, mut retried_there) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut server = Serve::start(&data);
    let key = voucher_key(&data);
    for round in 0..kills {
        let client = Client::new(&server.url).expect("a client");

        // What the last kill left unanswered, sent again with the same bytes: each is appended
        // now, or answered as the entry already in the log (never a conflict, never half there).
        for command in unanswered.drain(..) {
            let receipt = client
                .submit_signed(&command)
                .unwrap_or_else(|e| panic!("round {round}: a retry was refused: {e}"));
            if receipt.duplicate {
                retried_there += 1;
            } else {
                retried_appended += 1;
            }
            if let Some((leaf, _)) = acked.get(&receipt.seq) {
                assert_eq!(
                    *leaf, receipt.leaf_hash,
                    "round {round}: seq {} changed",
                    receipt.seq
                );
            }
            acked.insert(receipt.seq, (receipt.leaf_hash, command));
        }
        // A sample of the newest acknowledged ones again (inside the issued-at window): the
        // same receipt, so the index, rebuilt or not, finds each by its nonce.
        for (seq, (leaf, command)) in acked.iter().rev().take(200).step_by(10) {
            let again = client.submit_signed(command).expect("a retry is answered");
            assert!(again.duplicate, "round {round}: seq {seq} appended twice");
            assert_eq!((again.seq, &again.leaf_hash), (*seq, leaf), "round {round}");
        }
        assert_views_catch_up(
            &server.url,
            Duration::from_secs(60),
            &format!("round {round}"),
        );

        // Load: several clients, each sending fresh signed commands one after another.
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (seen, stop, url, key) =
                    (seen.clone(), stop.clone(), server.url.clone(), key.clone());
                let base = counter + t * 1_000_000;
                std::thread::spawn(move || {
                    let client = Client::new(&url).expect("a client");
                    let mut n = base;
                    while !stop.load(Ordering::Relaxed) {
                        if !send(&client, registration(&key, n), &seen) {
                            break;
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        counter += CLIENTS * 1_000_000;
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().expect("a client thread");
        }
        let seen = std::mem::take(&mut *seen.lock().expect("seen"));
        assert!(
            !seen.acked.is_empty(),
            "round {round}: nothing was acknowledged"
        );
        let before = acked.len();
        acked.extend(seen.acked);
        assert!(acked.len() > before);
        unanswered = seen.unanswered;

        // Now and then the derived index is lost or damaged before the restart.
        match rng.below(4) {
            0 => {
                let _ = std::fs::remove_dir_all(data.join("index"));
                index_damaged += 1;
            }
            1 => {
                // Every file of the index, its tables and manifests included.
                fn overwrite(dir: &std::path::Path) {
                    for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                        if f.path().is_dir() {
                            overwrite(&f.path());
                        } else {
                            let _ = std::fs::write(f.path(), b"not an index file");
                        }
                    }
                }
                overwrite(&data.join("index"));
                index_damaged += 1;
            }
            _ => {}
        }

        // Recovery and the semantic audit: the node's own open, then every entry replayed
        // through the domain's rules.
        let out = run(&["replay", "--data", data.to_str().expect("utf-8")]);
        assert!(
            out.status.success(),
            "round {round}: replay: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_verify_clean(&data, &format!("round {round}"));
        let log = leaf_hashes(&data);
        for (seq, (leaf, _)) in &acked {
            assert_eq!(
                log.get(seq),
                Some(leaf),
                "round {round}: acknowledged entry {seq} lost or changed"
            );
        }
        server = Serve::start(&data);
    }
    // The last round's unanswered commands, and the views, once more after the last restart.
    let client = Client::new(&server.url).expect("a client");
    for command in unanswered.drain(..) {
        let receipt = client.submit_signed(&command).expect("a retry is answered");
        if receipt.duplicate {
            retried_there += 1;
        } else {
            retried_appended += 1;
        }
    }
    assert_views_catch_up(&server.url, Duration::from_secs(60), "the end");
    server.stop(Duration::from_secs(30));
    assert_verify_clean(&data, "the end");
    eprintln!(
        "campaign: {kills} kills in {:.0} s, {} acknowledged entries all present with their leaf \
         hashes, {retried_appended} unanswered commands appended on retry and {retried_there} \
         found already whole, {index_damaged} restarts with the index lost or damaged",
        started.elapsed().as_secs_f64(),
        acked.len()
    );
}
