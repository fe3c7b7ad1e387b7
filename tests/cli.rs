//! The command line: exit codes, JSON output, export round trip, keys and signing.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{deedlog, make_log, run};

#[test]
fn verify_exit_codes_are_0_clean_1_faults_2_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 50);
    let data = dir.path().to_str().expect("utf-8");
    let out = run(&["verify", "--data", data, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value =
        serde_json::from_slice(out.stdout.trim_ascii()).expect("one JSON object");
    assert_eq!(report["ok"], true);
    assert_eq!(report["report"]["entries"], 50);

    let files = deedlog_store::segment::list(&dir.path().join("log")).expect("segments");
    let path = &files[0].1;
    let mut bytes = std::fs::read(path).expect("read");
    bytes[100] ^= 0x20;
    std::fs::write(path, &bytes).expect("write");
    let out = run(&["verify", "--data", data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAULT seq 0"));

    let out = run(&["verify", "--data", "/nonexistent/deedlog"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn export_then_verify_the_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 40);
    let data = dir.path().to_str().expect("utf-8");
    let file = dir.path().join("out.jsonl");
    let out = run(&[
        "export",
        "--data",
        data,
        "--out",
        file.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = std::fs::read_to_string(dir.path().join("log.vkey")).expect("vkey");
    let out = run(&[
        "verify",
        "--log",
        file.to_str().expect("utf-8"),
        "--log-key",
        key.trim(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A pinned key that is not the export's is refused as an error, not a pass.
    let other = "other+01020304+AWjpDVt2Gv8yQ0n4XWR/T2tYDxOxNjSInJwwqm0oNQq2";
    let out = run(&[
        "verify",
        "--log",
        file.to_str().expect("utf-8"),
        "--log-key",
        other,
    ]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn keygen_and_sign_make_a_verifiable_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("me.key");
    let out = run(&["keygen", "--out", key.to_str().expect("utf-8")]);
    assert!(out.status.success());
    let public: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let command = serde_json::json!({
        "actor": "party/PA-1",
        "key": public["public"],
        "kind": "test.note",
        "stream": "test/T-1",
        "payload": {"n": 1},
        "nonce": "nonce-cli-0001",
        "issued_at_ms": 1_800_000_000_000_i64,
    });
    let mut child = Command::new(deedlog())
        .args(["sign", "--key", key.to_str().expect("utf-8")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(command.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success());
    let signed: deedlog_core::SignedCommand =
        serde_json::from_slice(&out.stdout).expect("a signed command");
    assert!(signed.verify().is_ok());
    // keygen refuses to overwrite a key.
    assert!(
        !run(&["keygen", "--out", key.to_str().expect("utf-8")])
            .status
            .success()
    );
}

#[test]
fn bench_append_prints_a_json_result() {
    let out = run(&[
        "bench",
        "append",
        "--entries",
        "3000",
        "--keys",
        "1000",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("output");
    let result: serde_json::Value = serde_json::from_str(last).expect("JSON last line");
    assert_eq!(result["entries"], 3000);
    for field in ["eps", "p50_ms", "p99_ms", "rss_mb"] {
        assert!(result[field].as_f64().is_some_and(|v| v > 0.0), "{field}");
    }
}

/// `bench verify` times the offline verifier at each thread count over one log and refuses to
/// report if two counts disagree; `verify --threads` gives the one-thread verdict, and a fault
/// found by the workers is still named at its seq.
#[test]
fn bench_verify_times_each_thread_count_over_one_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data_s = data.to_str().expect("utf-8");
    // 1,500 entries: several batches of 512, so the workers do start.
    let out = run(&[
        "bench",
        "verify",
        "--data",
        data_s,
        "--entries",
        "1500",
        "--threads",
        "1,2,3",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let runs: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("output")).expect("JSON last line");
    let runs = runs.as_array().expect("one object per thread count");
    assert_eq!(runs.len(), 3);
    for (r, threads) in runs.iter().zip([1, 2, 3]) {
        assert_eq!(r["threads"], threads);
        assert_eq!(r["entries"], 1500);
        assert_eq!(r["faults"], 0);
        assert!(r["eps"].as_f64().is_some_and(|v| v > 0.0));
    }
    for threads in ["1", "2"] {
        let out = run(&["verify", "--data", data_s, "--threads", threads, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{threads} threads");
    }
    // A byte flipped in the signature of an entry deep in the log (past the first batches) is
    // found at the same seq by one thread and by two.
    let files = deedlog_store::segment::list(&data.join("log")).expect("segments");
    let path = &files[0].1;
    let mut bytes = std::fs::read(path).expect("read");
    let marker = b"\"signature\":\"";
    let hits: Vec<usize> = bytes
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .map(|(i, _)| i + marker.len())
        .collect();
    let at = hits[1234];
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(path, &bytes).expect("write");
    let faults = |threads: &str| {
        let out = run(&["verify", "--data", data_s, "--threads", threads, "--json"]);
        assert_eq!(out.status.code(), Some(1), "{threads} threads");
        let v: serde_json::Value =
            serde_json::from_slice(out.stdout.trim_ascii()).expect("one JSON object");
        v["report"]["faults"].clone()
    };
    let one = faults("1");
    assert_eq!(one, faults("2"));
    assert!(
        one.as_array()
            .expect("faults")
            .iter()
            .any(|f| f["seq"] == 1234 && f["kind"] == "bad_signature")
            || one
                .as_array()
                .expect("faults")
                .iter()
                .any(|f| f["seq"] == 1234),
        "{one}"
    );
}

/// The README's main job end to end through the binary: `serve` on a fresh folder (first start
/// loads the reference data), `demo` against it, `verify --server --semantic`, a graceful stop,
/// then `verify --data --semantic` and `replay --rebuild` on the folder.
#[test]
fn serve_demo_verify_and_replay_through_the_binary() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let data_s = data.to_str().expect("utf-8").to_owned();
    // A registered auditor reads the confidential entries whole, for the semantic audit.
    let auditor_key = dir.path().join("auditor.key");
    let auditor_key_s = auditor_key.to_str().expect("utf-8").to_owned();
    let out = run(&["keygen", "--out", &auditor_key_s]);
    assert!(out.status.success());
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("keygen prints JSON");
    let auditor = format!("city-audit={}", printed["public"].as_str().expect("a key"));
    let mut server = Command::new(deedlog())
        .args([
            "serve",
            "--data",
            &data_s,
            "--bind",
            "127.0.0.1:0",
            "--auditor",
            &auditor,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve prints its URL")
            .expect("readable output");
        if let Some(rest) = line.strip_prefix("deedlog serving on ") {
            break rest.split_whitespace().next().expect("a URL").to_owned();
        }
    };
    let out = run(&["demo", "--server", &url, "--data", &data_s, "--deals", "4"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report.matches("filing code FC-").count(), 4, "{report}");
    let key = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let out = run(&[
        "verify",
        "--server",
        &url,
        "--log-key",
        key.trim(),
        "--semantic",
        "--as",
        "auditor/city-audit",
        "--key",
        &auditor_key_s,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let fetched: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    let entries = fetched["report"]["entries"].as_u64().expect("entries");
    assert_eq!(fetched["semantic"]["entries"].as_u64(), Some(entries));
    assert_eq!(
        fetched["report"]["sealed"].as_u64(),
        Some(0),
        "the auditor gets every payload"
    );

    // The public gets the structural audit of the whole log (every entry verifies, the
    // confidential ones sealed); the semantic audit needs an allowed reader and says so.
    let out = run(&[
        "verify",
        "--server",
        &url,
        "--log-key",
        key.trim(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let public: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert_eq!(public["report"]["entries"].as_u64(), Some(entries));
    assert!(
        public["report"]["sealed"].as_u64().unwrap_or(0) > 0,
        "{public}"
    );
    let out = run(&[
        "verify",
        "--server",
        &url,
        "--log-key",
        key.trim(),
        "--semantic",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--as"), "{err}");
    // A wrong key for the auditor's name is refused, not served as the public.
    let stranger = dir.path().join("stranger.key");
    let stranger_s = stranger.to_str().expect("utf-8").to_owned();
    assert!(run(&["keygen", "--out", &stranger_s]).status.success());
    let out = run(&[
        "verify",
        "--server",
        &url,
        "--log-key",
        key.trim(),
        "--as",
        "auditor/city-audit",
        "--key",
        &stranger_s,
    ]);
    assert_ne!(out.status.code(), Some(0));

    // A graceful stop (SIGTERM) loses nothing acknowledged.
    let pid = server.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert!(
        server.wait().expect("serve exits").success(),
        "serve stops cleanly on SIGTERM"
    );
    let out = run(&["verify", "--data", &data_s, "--semantic", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let local: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert_eq!(local["report"]["entries"].as_u64(), Some(entries));
    // A public export verifies structurally, refuses the semantic audit (naming the way to a
    // full one) and holds no confidential payload; a full export passes both.
    let public = dir.path().join("public.jsonl");
    let full = dir.path().join("full.jsonl");
    let (public_s, full_s) = (
        public.to_str().expect("utf-8"),
        full.to_str().expect("utf-8"),
    );
    assert!(
        run(&["export", "--data", &data_s, "--out", public_s])
            .status
            .success()
    );
    assert!(
        run(&["export", "--data", &data_s, "--out", full_s, "--full"])
            .status
            .success()
    );
    let out = run(&[
        "verify",
        "--log",
        public_s,
        "--log-key",
        key.trim(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert!(
        report["report"]["sealed"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    let out = run(&[
        "verify",
        "--log",
        public_s,
        "--log-key",
        key.trim(),
        "--semantic",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--full"));
    let out = run(&[
        "verify",
        "--log",
        full_s,
        "--log-key",
        key.trim(),
        "--semantic",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert_eq!(report["report"]["sealed"].as_u64(), Some(0));
    assert_eq!(report["semantic"]["entries"].as_u64(), Some(entries));
    let public_text = std::fs::read_to_string(&public).expect("the public export");
    let full_text = std::fs::read_to_string(&full).expect("the full export");
    for field in ["\"terms\"", "\"floor_price_fen\"", "\"term_months\""] {
        assert!(full_text.contains(field), "the full export holds {field}");
        assert!(
            !public_text.contains(field),
            "the public export shows {field}"
        );
    }
    let out = run(&["replay", "--data", &data_s, "--rebuild"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["replay", "--data", &data_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `deedlog check` against a served log: its exit codes (0 genuine and current, 1 not genuine,
/// 2 could not check, 3 genuine but not current) and the shape of `--json`, with the state
/// map's proof checked on this side.
#[test]
fn check_exit_codes_and_json_tell_genuine_current_and_not_current() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("store");
    let data_s = data.to_str().expect("utf-8").to_owned();
    let mut server = Command::new(deedlog())
        .args(["serve", "--data", &data_s, "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve prints its URL")
            .expect("readable output");
        if let Some(rest) = line.strip_prefix("deedlog serving on ") {
            break rest.split_whitespace().next().expect("a URL").to_owned();
        }
    };
    let out = run(&[
        "demo", "--server", &url, "--data", &data_s, "--deals", "1", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let demo: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    let open = demo["open_listings"][0]["listing_code"]
        .as_str()
        .expect("an open listing")
        .to_owned();
    let sold = demo["deals"][0]["listing_code"]
        .as_str()
        .expect("a deal")
        .to_owned();
    let filing = demo["deals"][0]["filing_code"]
        .as_str()
        .expect("a filing code")
        .to_owned();
    let key = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let check = |code: &str| {
        let out = run(&[
            "check",
            code,
            "--server",
            &url,
            "--log-key",
            key.trim(),
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii())
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), v)
    };

    // A live listing: genuine and active as of a checkpoint.
    let (code, v) = check(&open);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["verdict"], "genuine");
    assert_eq!(v["what"], "listing");
    assert_eq!(v["log_key_pinned"], true);
    assert_eq!(v["current"]["state"], "current", "{v}");
    assert_eq!(v["current"]["status"], "active");
    let n = v["current"]["as_of_checkpoint"]
        .as_u64()
        .expect("a checkpoint");
    assert!(n > 0);
    for field in [
        "code",
        "spoken_code",
        "reason",
        "proved",
        "details",
        "log_key",
    ] {
        assert!(v.get(field).is_some(), "--json has {field}: {v}");
    }
    // A sold listing (its contract filed): genuine, not current, exit 3.
    let (code, v) = check(&sold);
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(v["verdict"], "genuine");
    assert_eq!(v["current"]["state"], "not_current");
    assert_eq!(v["current"]["status"], "sold");
    assert!(v["current"]["as_of_checkpoint"].as_u64() >= Some(n));
    // The filed contract: current.
    let (code, v) = check(&filing);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["what"], "contract");
    assert_eq!(v["current"]["status"], "filed");
    // A mistyped code and an unknown one: not genuine, exit 1, no currency.
    let (code, v) = check("LV-0000000000000001");
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["verdict"], "not_genuine");
    assert_eq!(v["current"], serde_json::Value::Null);
    // No server: could not check, exit 2.
    let out = run(&["check", &open, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert_eq!(v["verdict"], "could_not_check");
    // The help names every exit code.
    let help = String::from_utf8_lossy(&run(&["check", "--help"]).stdout).into_owned()
        + &String::from_utf8_lossy(&run(&["--help"]).stdout);
    assert!(help.contains("3 genuine but not current"), "{help}");

    let _ = server.kill();
    let _ = server.wait();
}

/// `bench state` builds a small city through the node's real rules (a generated registry,
/// verified sellers, their self-listed listings, more parties), then measures a fresh `serve`
/// on it. The log it leaves is whole (`verify --data --semantic` clean), and it refuses a folder
/// that already holds something and options out of range, in words.
#[test]
fn bench_state_builds_a_city_with_the_real_domain_and_measures_a_fresh_node() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("city");
    let data_s = data.to_str().expect("utf-8");
    let out = run(&[
        "bench",
        "state",
        "--parties",
        "300",
        "--listings",
        "40",
        "--data",
        data_s,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("output"),
    )
    .expect("JSON last line");
    assert_eq!(report["parties"], 300);
    assert_eq!(report["listings"], 40);
    let entries = report["log_entries"].as_u64().expect("log_entries");
    // 300 registrations, 40 identity attestations, 40 verifications, 40 listings, and the
    // node's own set-up entries.
    assert!(entries >= 300 + 3 * 40, "{report}");
    for field in [
        "build_seconds",
        "ready_after_seconds",
        "serve_rss_mb",
        "serve_peak_rss_mb",
    ] {
        assert!(
            report[field].as_f64().is_some_and(|v| v > 0.0),
            "{field}: {report}"
        );
    }
    for part in ["segments", "index", "total"] {
        assert!(
            report["disk_mb"][part].as_f64().is_some_and(|v| v > 0.0),
            "disk {part}: {report}"
        );
    }
    // Every entry is a legal step of the rules.
    let out = run(&["verify", "--data", data_s, "--semantic", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let local: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert_eq!(local["report"]["entries"].as_u64(), Some(entries));
    // The folder now holds a log: a second run refuses it and leaves it as it was.
    let out = run(&[
        "bench",
        "state",
        "--parties",
        "5",
        "--listings",
        "1",
        "--data",
        data_s,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        run(&["verify", "--data", data_s, "--json"]).status.code(),
        Some(0)
    );
    for bad in [
        ["--parties", "0", "--listings", "0"],
        ["--parties", "3", "--listings", "4"],
    ] {
        let fresh = dir.path().join(format!("bad-{}", bad[1]));
        let mut args = vec!["bench", "state"];
        args.extend(bad);
        args.extend(["--data", fresh.to_str().expect("utf-8")]);
        let out = run(&args);
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("must be"),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!fresh.exists(), "{bad:?}: nothing written");
    }
}
