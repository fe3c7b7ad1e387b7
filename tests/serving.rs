//! Helpers for tests that run `deedlog serve` as its own process on a real socket: start it and
//! read its URL, sign registrations as a client would, read the log's leaf hashes offline.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deedlog_client::Actor;
use deedlog_client::keys::KeyDir;
use deedlog_core::{SecretKey, SignedCommand, hash};
use deedlog_domain::ids::IdKind;
use serde_json::json;

use crate::common::deedlog;

/// A `deedlog serve` process.
pub struct Serve {
    pub child: Child,
    pub url: String,
}

impl Serve {
    /// Starts `deedlog serve` on `data` on a free loopback port with rate limits off, and waits
    /// until it prints the URL it serves on (the log is open and recovered by then).
    pub fn start(data: &Path) -> Self {
        let mut child = Command::new(deedlog())
            .args([
                "serve",
                "--data",
                data.to_str().expect("utf-8 path"),
                "--bind",
                "127.0.0.1:0",
                "--rate-per-second",
                "0",
                "--newcomer-per-minute",
                "0",
            ])
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Reads every line so that the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("deedlog serving on ") {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("serve prints its URL");
        Self { child, url }
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a graceful stop), then reap; SIGKILL after `grace`.
    pub fn stop(mut self, grace: Duration) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The identity authority's key from a data folder (the embedded default writes it at first
/// start), to sign the phone vouchers of registrations without the SMS round trip.
pub fn voucher_key(data: &Path) -> SecretKey {
    KeyDir::of_data_dir(data)
        .actor("authority/identity")
        .expect("the identity authority's key")
        .secret
}

/// A `party.register` by a fresh party with a fresh phone commitment and its voucher: one
/// signed command, as a client would send it.
pub fn registration(voucher_key: &SecretKey, n: u64) -> SignedCommand {
    let id = IdKind::Party.id(&format!(
        "C{n:012}{}",
        &deedlog_client::actor::random_suffix()[..4]
    ));
    let actor = Actor::generate(id.clone());
    let commitment = hex::encode(hash::sha256(format!("{id}/{n}").as_bytes()));
    let payload = json!({
        "phone_commitment": commitment,
        "voucher": deedlog_domain::identity::sign_phone_voucher(
            voucher_key,
            &id,
            &actor.key(),
            &commitment,
            deedlog_client::actor::now_ms(),
        ),
    });
    actor
        .sign("party.register", &id, payload, Some(0))
        .expect("a registration signs")
}

/// Every entry in the segments of `data`, read offline: seq → leaf hash (hex).
pub fn leaf_hashes(data: &Path) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    deedlog_store::audit::for_each_entry(&data.join("log"), &mut |bytes, _| {
        if let Ok(logged) = deedlog_core::LoggedEntry::decode(bytes) {
            out.insert(logged.seq, hash::to_hex(&hash::leaf_hash(bytes)));
        }
    })
    .expect("the segments read");
    out
}

/// Runs `deedlog verify --data` and asserts that it is clean.
pub fn assert_verify_clean(data: &Path, when: &str) {
    let out = crate::common::run(&["verify", "--data", data.to_str().expect("utf-8"), "--json"]);
    assert!(
        out.status.success(),
        "{when}: verify --data found faults: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until the views have applied every entry of the log, as `/readyz` reports them.
pub fn assert_views_catch_up(url: &str, within: Duration, when: &str) {
    let client = deedlog_client::Client::new(url).expect("a client");
    let deadline = Instant::now() + within;
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        // `/readyz` answers 503 while the views lag; the body says by how much either way.
        if let Ok(answer) = client.http().call_once("GET", "/readyz", &[], None)
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer.body)
        {
            let (size, applied) = (v["log_size"].as_u64(), v["views_applied"].as_u64());
            if size.is_some() && size == applied {
                return;
            }
            last = v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{when}: the views did not catch up with the log: {last}");
}
