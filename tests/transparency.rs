//! Transparency through the binary: `export --tiles` read back by a reader that knows only the
//! tlog-tiles spec, `deedlog witness` cosigning over HTTP and remembering across a restart, and
//! `deedlog audit` remembering what it verified.

#[path = "../crates/store/tests/support/tile_reader.rs"]
mod tile_reader;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use deedlog_core::checkpoint::{self, CosignatureStatus, VerifierKey, WitnessKey};

use crate::common::{deedlog, make_log, run};

fn log_key(data: &Path) -> VerifierKey {
    let text = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    VerifierKey::parse(text.trim()).expect("a vkey")
}

#[test]
fn export_tiles_is_a_tree_a_spec_reader_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 600);
    let data = dir.path().to_str().expect("utf-8");
    let tiles = dir.path().join("tiles");
    let out = run(&[
        "export",
        "--data",
        data,
        "--tiles",
        tiles.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let note = std::fs::read(tiles.join("checkpoint")).expect("checkpoint");
    let opened = checkpoint::open_checkpoint(&note, &log_key(dir.path())).expect("signed");
    assert_eq!(opened.size, 600);
    let fetch = |path: &str| std::fs::read(tiles.join(path)).ok();
    let reader = tile_reader::TileReader::new(&fetch, opened.size);
    let entries = reader.check_all(&opened.root.0);
    // The bundles hold the exact bytes the JSON Lines export holds.
    let jsonl = dir.path().join("log.jsonl");
    let out = run(&[
        "export",
        "--data",
        data,
        "--out",
        jsonl.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&jsonl).expect("export");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("{\"derived\""))
        .collect();
    assert_eq!(lines.len(), entries.len());
    for (line, entry) in lines.iter().zip(&entries) {
        assert_eq!(line.as_bytes(), &entry[..]);
    }
    // Odd size: 600 = two full level-0 tiles and a partial one of 88.
    assert!(tiles.join("tile/0/002.p/88").is_file());
    assert!(tiles.join("tile/entries/002.p/88").is_file());
    assert!(tiles.join("tile/1/000.p/2").is_file());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_witness(state: &Path, key: &Path, log_vkey: &str, bind: &str) -> Running {
    let mut child = Command::new(deedlog())
        .args(["witness", "--data", state.to_str().expect("utf-8")])
        .args([
            "--key",
            key.to_str().expect("utf-8"),
            "--log",
            log_vkey,
            "--bind",
            bind,
        ])
        .args(["--name", "witness.test/w1"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("witness starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .expect("the witness prints its address")
            .expect("text");
        if line.starts_with("witness ") {
            break;
        }
    }
    // Binding happens right after the banner; wait until the port answers.
    for _ in 0..100 {
        if std::net::TcpStream::connect(bind).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Running(child)
}

/// A raw HTTP/1.1 POST: (status, body).
fn post(addr: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("writes");
    stream.write_all(body).expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn the_witness_command_cosigns_and_remembers_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_log(dir.path(), 30);
    let vkey = log_key(dir.path());
    let tiles = dir.path().join("tiles");
    let data = dir.path().to_str().expect("utf-8");
    assert!(
        run(&[
            "export",
            "--data",
            data,
            "--tiles",
            tiles.to_str().expect("utf-8")
        ])
        .status
        .success()
    );
    let note = std::fs::read(tiles.join("checkpoint")).expect("checkpoint");
    let key = dir.path().join("witness.key");
    assert!(
        run(&["keygen", "--out", key.to_str().expect("utf-8")])
            .status
            .success()
    );
    let state = dir.path().join("witness");
    let bind = format!("127.0.0.1:{}", free_port());

    let mut body = b"old 0\n\n".to_vec();
    body.extend_from_slice(&note);
    {
        let _witness = start_witness(&state, &key, &vkey.to_vkey(), &bind);
        let (status, line) = post(&bind, "/add-checkpoint", &body);
        assert_eq!(status, 200, "{line}");
        let wkey = std::fs::read_to_string(state.join("witness.vkey")).expect("witness.vkey");
        let wkey = WitnessKey::parse(wkey.trim()).expect("a witness vkey");
        let mut cosigned = note.clone();
        cosigned.extend_from_slice(line.as_bytes());
        let opened = checkpoint::open_checkpoint(&cosigned, &vkey).expect("opens");
        let checks = checkpoint::verify_cosignatures(&opened, &[wkey]);
        assert!(
            matches!(checks[0].status, CosignatureStatus::Valid { .. }),
            "{checks:?}"
        );
        let (status, text) = post(&bind, "/add-checkpoint", b"old 0\n");
        assert_eq!(status, 400, "{text}");
    }
    // Restarted, it remembers: the same request from zero is a conflict naming its size.
    let _witness = start_witness(&state, &key, &vkey.to_vkey(), &bind);
    let (status, size) = post(&bind, "/add-checkpoint", &body);
    assert_eq!((status, size.as_str()), (409, "30\n"));
}

/// `deedlog serve` on `data`; its URL.
fn serve(data: &Path) -> (Running, String) {
    serve_with(data, &[])
}

/// `deedlog serve` on `data` with more arguments; its URL.
fn serve_with(data: &Path, extra: &[&str]) -> (Running, String) {
    let mut child = Command::new(deedlog())
        .args([
            "serve",
            "--data",
            data.to_str().expect("utf-8"),
            "--bind",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("serve prints its URL").expect("text");
        if let Some(rest) = line.strip_prefix("deedlog serving on ") {
            break rest.split_whitespace().next().expect("a URL").to_owned();
        }
    };
    (Running(child), url)
}

/// A graceful stop, so the folder can be copied whole.
fn stop(mut server: Running) {
    // No pause before the signal: the handler is installed before the URL is printed, so a
    // SIGTERM right after it stops the server gracefully (exit status 0).
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert!(server.0.wait().expect("exits").success());
}

fn audit(url: &str, state: &Path, key: &str) -> (Option<i32>, serde_json::Value) {
    let out = run(&[
        "audit",
        "--server",
        url,
        "--state",
        state.to_str().expect("utf-8"),
        "--log-key",
        key,
        "--json",
    ]);
    let v = serde_json::from_slice(out.stdout.trim_ascii()).unwrap_or_else(|_| {
        panic!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

fn demo(url: &str, data: &Path, deals: u32) {
    let out = run(&[
        "demo",
        "--server",
        url,
        "--data",
        data.to_str().expect("utf-8"),
        "--deals",
        &deals.to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn evidence_holds(v: &serde_json::Value) -> String {
    let file = v["evidence"].as_str().expect("an evidence file");
    let out = run(&["verify-evidence", file]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

#[test]
fn audit_remembers_fetches_only_the_tail_and_catches_rollback_and_fork() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let state = dir.path().join("audit");
    let (server, url) = serve(&data);
    let key = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let key = key.trim();
    let (code, first) = audit(&url, &state, key);
    assert_eq!(
        (code, first["status"].as_str()),
        (Some(0), Some("first")),
        "{first}"
    );
    let size1 = first["to"].as_u64().expect("size");
    assert_eq!(first["fetched"].as_u64(), Some(size1));
    let (code, again) = audit(&url, &state, key);
    assert_eq!(
        (code, again["status"].as_str(), again["fetched"].as_u64()),
        (Some(0), Some("unchanged"), Some(0))
    );
    // Another key than the remembered one is refused.
    let out = run(&[
        "audit",
        "--server",
        &url,
        "--state",
        state.to_str().expect("utf-8"),
        "--log-key",
        "other+01020304+AWjpDVt2Gv8yQ0n4XWR/T2tYDxOxNjSInJwwqm0oNQq2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    stop(server);
    let backup = dir.path().join("backup");
    assert!(
        Command::new("cp")
            .args([
                "-a",
                data.to_str().expect("utf-8"),
                backup.to_str().expect("utf-8")
            ])
            .status()
            .expect("cp")
            .success()
    );

    // The log grows; the second run fetches only the new entries.
    let (server, url) = serve(&data);
    demo(&url, &data, 1);
    let (code, second) = audit(&url, &state, key);
    assert_eq!(
        (code, second["status"].as_str()),
        (Some(0), Some("advanced")),
        "{second}"
    );
    let size2 = second["to"].as_u64().expect("size");
    assert!(size2 > size1);
    assert_eq!(second["from"].as_u64(), Some(size1));
    assert_eq!(second["fetched"].as_u64(), Some(size2 - size1));
    // A witness cosigns this history's checkpoint.
    let wkey = dir.path().join("witness.key");
    assert!(
        run(&["keygen", "--out", wkey.to_str().expect("utf-8")])
            .status
            .success()
    );
    let wstate = dir.path().join("witness");
    let wbind = format!("127.0.0.1:{}", free_port());
    let _witness = start_witness(&wstate, &wkey, key, &wbind);
    let client = deedlog_client::Client::new(&url).expect("client");
    let note = client.checkpoint().expect("checkpoint").note;
    let body = deedlog_client::witnessing::add_checkpoint_body(0, &[], note.as_bytes());
    let (status, text) = post(&wbind, "/add-checkpoint", &body);
    assert_eq!(status, 200, "{text}");
    stop(server);
    let remembered = std::fs::read(state.join("audit-state.json")).expect("state");

    // A rollback: the server restarted from the older copy of its data.
    let (server, url) = serve(&backup);
    let (code, rollback) = audit(&url, &state, key);
    assert_eq!(
        (code, rollback["status"].as_str()),
        (Some(1), Some("rollback")),
        "{rollback}"
    );
    assert!(evidence_holds(&rollback).contains("rollback"));
    assert_eq!(
        std::fs::read(state.join("audit-state.json")).expect("state"),
        remembered,
        "the state does not move"
    );

    // A fork: the older copy takes other commands and grows past what was verified.
    demo(&url, &backup, 2);
    let (code, fork) = audit(&url, &state, key);
    assert_eq!(code, Some(1), "{fork}");
    assert!(
        matches!(fork["status"].as_str(), Some("inconsistent" | "fork")),
        "{fork}"
    );
    let text = evidence_holds(&fork);
    assert!(text.contains("fork") || text.contains("fails"), "{text}");
    assert_eq!(
        std::fs::read(state.join("audit-state.json")).expect("state"),
        remembered
    );
    // The witness that cosigned the first history refuses the fork's checkpoint, whether the
    // fork claims to extend the size the witness holds (its proof cannot verify: 422) or
    // pretends the witness knows nothing (409, naming the size it holds).
    let forked = deedlog_client::Client::new(&url).expect("client");
    let fork_note = forked.checkpoint().expect("checkpoint").note;
    let fork_size = checkpoint_size(&fork_note);
    assert!(fork_size > size2, "the fork grew past the cosigned size");
    let proof = forked
        .consistency_proof(size2, fork_size)
        .expect("the fork's own proof");
    let body = deedlog_client::witnessing::add_checkpoint_body(size2, &proof, fork_note.as_bytes());
    let (status, text) = post(&wbind, "/add-checkpoint", &body);
    assert_eq!(status, 422, "{text}");
    let body = deedlog_client::witnessing::add_checkpoint_body(0, &[], fork_note.as_bytes());
    let (status, text) = post(&wbind, "/add-checkpoint", &body);
    assert_eq!((status, text.trim()), (409, size2.to_string().as_str()));
    stop(server);

    // Evidence that does not hold is refused: the remembered and presented checkpoints swapped
    // into one consistent pair.
    let file = fork["evidence"].as_str().expect("file");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("json");
    v["presented"] = v["remembered"].clone();
    v["conflicting_checkpoint"] = serde_json::Value::Null;
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, v.to_string()).expect("write");
    let out = run(&["verify-evidence", forged.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn three_witnesses_cosign_a_2_of_3_policy_holds_and_a_down_witness_catches_up() {
    use deedlog_client::policy::Policy;
    use deedlog_client::witnessing::{WitnessClient, cosign_all};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (server, url) = serve(&data);
    let log_vkey = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let log_vkey = log_vkey.trim().to_owned();
    let client = deedlog_client::Client::new(&url).expect("client");
    let mut running = Vec::new();
    let mut binds = Vec::new();
    let mut policy = format!("log {log_vkey}\n");
    for i in 0..3 {
        let key = dir.path().join(format!("w{i}.key"));
        assert!(
            run(&["keygen", "--out", key.to_str().expect("utf-8")])
                .status
                .success()
        );
        let state = dir.path().join(format!("w{i}"));
        let bind = format!("127.0.0.1:{}", free_port());
        let name = format!("witness.test/w{i}");
        let mut child = Command::new(deedlog())
            .args([
                "witness",
                "--data",
                state.to_str().expect("utf-8"),
                "--key",
                key.to_str().expect("utf-8"),
            ])
            .args(["--log", &log_vkey, "--bind", &bind, "--name", &name])
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null())
            .spawn()
            .expect("witness starts");
        let mut up = false;
        for _ in 0..200 {
            if std::net::TcpStream::connect(&bind).is_ok() {
                up = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        if !up {
            let _ = child.kill();
            panic!("witness {i} did not start");
        }
        let wkey = std::fs::read_to_string(state.join("witness.vkey")).expect("witness.vkey");
        policy.push_str(&format!("witness W{i} {}\n", wkey.trim()));
        running.push((Running(child), state, key, name));
        binds.push(bind);
    }
    policy.push_str("group two-of-three 2 W0 W1 W2\nquorum two-of-three\n");
    let policy = Policy::parse(policy.as_bytes()).expect("policy");
    let timeout = std::time::Duration::from_secs(5);
    let mut witnesses: Vec<WitnessClient> = binds
        .iter()
        .map(|b| WitnessClient::new(&format!("http://{b}"), timeout).expect("witness client"))
        .collect();

    let note = client.checkpoint().expect("checkpoint").note;
    // The log's own checkpoint alone does not meet the policy.
    assert!(policy.require(note.as_bytes()).is_err());
    let (cosigned, results) =
        cosign_all(&client, &note, &log_vkey, &mut witnesses).expect("cosign");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let verdict = policy.require(cosigned.as_bytes()).expect("2 of 3");
    assert_eq!(verdict.cosigned_by, vec!["W0", "W1", "W2"]);
    // One cosignature is not enough: the client refuses it and says who signed.
    let one = format!("{note}{}", results[0].as_ref().expect("line"));
    let refused = policy.require(one.as_bytes()).unwrap_err().to_string();
    assert!(
        refused.contains("W0") && refused.contains("quorum"),
        "{refused}"
    );

    // Witness 2 goes down; the log grows; two cosignatures still meet the policy.
    let size1 = verdict.checkpoint.size;
    let (down, state2, key2, name2) = running.pop().expect("w2");
    drop(down);
    demo(&url, &data, 1);
    let note = client.checkpoint().expect("checkpoint").note;
    let (cosigned, results) =
        cosign_all(&client, &note, &log_vkey, &mut witnesses).expect("cosign");
    assert!(
        results[0].is_ok() && results[1].is_ok() && results[2].is_err(),
        "{results:?}"
    );
    let verdict = policy
        .require(cosigned.as_bytes())
        .expect("2 of 3 with one down");
    assert_eq!(verdict.cosigned_by, vec!["W0", "W1"]);
    assert!(verdict.checkpoint.size > size1);

    // It comes back knowing only its last checkpoint; a fresh client (which assumes 0) learns its
    // size from the 409 and proves consistency from there.
    let child = Command::new(deedlog())
        .args([
            "witness",
            "--data",
            state2.to_str().expect("utf-8"),
            "--key",
            key2.to_str().expect("utf-8"),
        ])
        .args(["--log", &log_vkey, "--bind", &binds[2], "--name", &name2])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("witness restarts");
    let _back = Running(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(&binds[2]).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    witnesses[2] = WitnessClient::new(&format!("http://{}", binds[2]), timeout).expect("client");
    let (cosigned, results) =
        cosign_all(&client, &note, &log_vkey, &mut witnesses).expect("cosign");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(witnesses[2].held(), verdict.checkpoint.size);
    assert_eq!(
        policy
            .require(cosigned.as_bytes())
            .expect("3")
            .cosigned_by
            .len(),
        3
    );
    stop(server);
}

/// The tree size of a checkpoint note (its second line).
fn checkpoint_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a size line")
}

fn spawn_witness(state: &Path, key: &Path, log_vkey: &str, bind: &str, name: &str) -> Running {
    let child = Command::new(deedlog())
        .args([
            "witness",
            "--data",
            state.to_str().expect("utf-8"),
            "--key",
            key.to_str().expect("utf-8"),
        ])
        .args(["--log", log_vkey, "--bind", bind, "--name", name])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("witness starts");
    let running = Running(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(bind).is_ok() {
            return running;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("witness {name} did not start");
}

#[test]
fn serve_with_witnesses_serves_cosigned_checkpoints() {
    use deedlog_client::policy::Policy;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    // First start makes the log key the witnesses are configured with.
    let (server, _) = serve(&data);
    stop(server);
    let log_vkey = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let log_vkey = log_vkey.trim().to_owned();
    let mut policy = format!("log {log_vkey}\n");
    let mut witnesses = Vec::new();
    let mut args: Vec<String> = Vec::new();
    for i in 0..3 {
        let key = dir.path().join(format!("w{i}.key"));
        assert!(
            run(&["keygen", "--out", key.to_str().expect("utf-8")])
                .status
                .success()
        );
        let state = dir.path().join(format!("w{i}"));
        let bind = format!("127.0.0.1:{}", free_port());
        witnesses.push(spawn_witness(
            &state,
            &key,
            &log_vkey,
            &bind,
            &format!("witness.test/w{i}"),
        ));
        let wkey = std::fs::read_to_string(state.join("witness.vkey")).expect("witness.vkey");
        policy.push_str(&format!("witness W{i} {}\n", wkey.trim()));
        args.push("--witness".into());
        args.push(format!("http://{bind}"));
    }
    // A fourth witness the log is not configured with: it never cosigns.
    let key3 = dir.path().join("w3.key");
    assert!(
        run(&["keygen", "--out", key3.to_str().expect("utf-8")])
            .status
            .success()
    );
    let state3 = dir.path().join("w3");
    let bind3 = format!("127.0.0.1:{}", free_port());
    witnesses.push(spawn_witness(
        &state3,
        &key3,
        &log_vkey,
        &bind3,
        "witness.test/w3",
    ));
    let w3 = std::fs::read_to_string(state3.join("witness.vkey")).expect("witness.vkey");
    let strict = format!(
        "{policy}witness W3 {}\ngroup all 4 W0 W1 W2 W3\nquorum all\n",
        w3.trim()
    );
    policy.push_str("group q 2 W0 W1 W2\nquorum q\n");
    let policy_file = dir.path().join("policy.txt");
    std::fs::write(&policy_file, &policy).expect("policy file");
    let strict_file = dir.path().join("strict.txt");
    std::fs::write(&strict_file, &strict).expect("policy file");
    let policy = Policy::parse(policy.as_bytes()).expect("policy");
    let mut child = Command::new(deedlog())
        .args([
            "serve",
            "--data",
            data.to_str().expect("utf-8"),
            "--bind",
            "127.0.0.1:0",
        ])
        .args(&args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("URL").expect("text");
        if let Some(rest) = line.strip_prefix("deedlog serving on ") {
            break rest.split_whitespace().next().expect("a URL").to_owned();
        }
    };
    let server = Running(child);
    let client = deedlog_client::Client::new(&url).expect("client");
    let cosigned = |min: u64| -> deedlog_client::policy::PolicyVerdict {
        for _ in 0..100 {
            let note = client.checkpoint().expect("checkpoint").note;
            if let Ok(v) = policy.require(note.as_bytes())
                && v.checkpoint.size >= min
                && v.cosigned_by.len() == 3
            {
                return v;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("no cosigned checkpoint of size {min} or more");
    };
    let first = cosigned(1);
    demo(&url, &data, 1);
    let size = client
        .verified_checkpoint(&log_vkey)
        .expect("checkpoint")
        .size;
    assert!(size > first.checkpoint.size);
    let second = cosigned(size);
    assert_eq!(second.cosigned_by, vec!["W0", "W1", "W2"]);

    // Every proof bundle carries the newest cosigned checkpoint that covers its entry: a
    // verifier holding the policy checks the witnesses offline, from the bundle alone.
    use deedlog_client::proof::verify_bundle_with_policy;
    let strict_policy = Policy::parse(strict.as_bytes()).expect("policy");
    let bundle = client
        .entry(0, None)
        .expect("entry")
        .bundle
        .expect("a bundle");
    let (_, verdict) =
        verify_bundle_with_policy(&bundle, &log_vkey, Some(&policy)).expect("2 of 3 cosigned");
    assert!(verdict.expect("a verdict").cosigned_by.len() >= 2);
    let refused = verify_bundle_with_policy(&bundle, &log_vkey, Some(&strict_policy))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("group all needs 4 of 4 members and has 3 ([W0, W1, W2])"),
        "{refused}"
    );
    // A server that hides its witnesses (the bundle stripped to the log's own signature) still
    // proves the entry, but not to a client that demands the policy.
    let strip = |note: &str| -> String {
        let (body, sigs) = note.split_once("\n\n").expect("a note");
        let own: String = sigs
            .lines()
            .filter(|l| !l.starts_with("— witness.test/"))
            .map(|l| format!("{l}\n"))
            .collect();
        format!("{body}\n\n{own}")
    };
    let mut bare = bundle.clone();
    bare.witnessed = None;
    bare.checkpoint = strip(&bare.checkpoint);
    assert!(verify_bundle_with_policy(&bare, &log_vkey, None).is_ok());
    let refused = verify_bundle_with_policy(&bare, &log_vkey, Some(&policy))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("group q needs 2 of 3 members and has 0"),
        "{refused}"
    );
    // A cosignature line moved onto another checkpoint counts for nothing.
    if let Some(w) = &bundle.witnessed {
        let mut moved = bundle.clone();
        let lines: String = w
            .checkpoint
            .lines()
            .filter(|l| l.starts_with("— witness.test/"))
            .map(|l| format!("{l}\n"))
            .collect();
        moved.witnessed = None;
        moved.checkpoint = format!("{}{lines}", strip(&bundle.checkpoint));
        if moved.tree_size != checkpoint_size(&w.checkpoint) {
            assert!(verify_bundle_with_policy(&moved, &log_vkey, Some(&policy)).is_err());
        }
    }
    // `deedlog verify --bundle` and `--server` hold the checkpoint to `--policy`: exit 1 and the
    // group that lacks signatures in words when it falls short.
    let bundle_file = dir.path().join("bundle.json");
    std::fs::write(&bundle_file, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let verify_with = |source: &[&str], file: &Path| {
        let mut a = vec!["verify"];
        a.extend_from_slice(source);
        a.extend([
            "--log-key",
            &log_vkey,
            "--policy",
            file.to_str().expect("utf-8"),
        ]);
        let out = run(&a);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let bundle_arg = ["--bundle", bundle_file.to_str().expect("utf-8")];
    let (code, text) = verify_with(&bundle_arg, &policy_file);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cosigned by [W0, W1, W2]"), "{text}");
    let (code, text) = verify_with(&bundle_arg, &strict_file);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("group all needs 4 of 4"), "{text}");
    let (code, text) = verify_with(&["--server", &url], &policy_file);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("meets the policy; cosigned by [W0, W1, W2]"),
        "{text}"
    );
    let (code, text) = verify_with(&["--server", &url], &strict_file);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("WITNESS POLICY NOT MET") && text.contains("group all needs 4 of 4"),
        "{text}"
    );
    // The cosigned note as `/checkpoint` serves it, kept for the offline check below.
    let note_file = dir.path().join("cosigned.txt");
    std::fs::write(&note_file, client.checkpoint().expect("checkpoint").note).expect("write");
    // `deedlog audit --policy` enforces the quorum and says who signed; a quorum the witnesses
    // do not meet stops it (exit 1) without advancing its state.
    let audit_state = dir.path().join("audit");
    let audit_with = |file: &Path| {
        run(&[
            "audit",
            "--server",
            &url,
            "--state",
            audit_state.to_str().expect("utf-8"),
            "--log-key",
            &log_vkey,
            "--policy",
            file.to_str().expect("utf-8"),
            "--json",
        ])
    };
    let out = audit_with(&strict_file);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert_eq!(v["status"], "quorum", "{v}");
    assert_eq!(
        v["cosigned_by"],
        serde_json::json!(["W0", "W1", "W2"]),
        "{v}"
    );
    assert!(
        !audit_state.join("audit-state.json").exists(),
        "nothing advanced"
    );
    let out = audit_with(&policy_file);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("json");
    assert!(
        v["cosigned_by"].as_array().is_some_and(|w| w.len() >= 2),
        "{v}"
    );
    stop(server);
    // Offline, an export held to the cosigned note fetched from `/checkpoint`.
    let export = dir.path().join("export.jsonl");
    let out = run(&[
        "export",
        "--data",
        data.to_str().expect("utf-8"),
        "--out",
        export.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export_arg = export.to_str().expect("utf-8");
    let note_arg = note_file.to_str().expect("utf-8");
    let (code, text) = verify_with(
        &["--log", export_arg, "--checkpoint", note_arg],
        &policy_file,
    );
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = verify_with(
        &[
            "--data",
            data.to_str().expect("utf-8"),
            "--checkpoint",
            note_arg,
        ],
        &policy_file,
    );
    assert_eq!(code, Some(0), "{text}");
    // The export's own last checkpoint is the log's alone: no witness signed it.
    let (code, text) = verify_with(&["--log", export_arg], &policy_file);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("group q needs 2 of 3 members and has 0"),
        "{text}"
    );
}

/// A raw HTTP/1.1 POST that reports a dead peer instead of panicking: `None` when the
/// connection fails or is cut before a status line.
fn try_post(addr: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Some((status, body))
}

/// `deedlog witness` killed with SIGKILL while four clients hammer it keeps a record that is
/// whole (a note the log signed, byte for byte one of the checkpoints sent) and never behind
/// the newest checkpoint it answered 200 for; restarted, it holds exactly that record.
#[test]
fn a_witness_killed_mid_request_keeps_a_whole_record_no_older_than_its_last_answer() {
    use deedlog_core::SecretKey;
    use deedlog_core::hash::leaf_hash;
    use deedlog_core::merkle::MemoryHashes;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    const SIZES: u64 = 3000;
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = SecretKey::from_seed(&[42; 32]);
    let origin = "kill.test/log";
    let vkey = VerifierKey::new(origin, secret.public()).expect("vkey");
    let mut tree = MemoryHashes::new();
    for i in 0..SIZES {
        tree.append(leaf_hash(format!("entry {i}").as_bytes()));
    }
    let notes: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..=SIZES)
            .map(|size| {
                let root = tree.root(size).expect("root");
                checkpoint::sign_checkpoint(origin, size, root, &[], &secret).expect("signs")
            })
            .collect(),
    );
    let tree = Arc::new(tree);
    let key = dir.path().join("witness.key");
    assert!(
        run(&["keygen", "--out", key.to_str().expect("utf-8")])
            .status
            .success()
    );
    let state = dir.path().join("witness");
    let bind = format!("127.0.0.1:{}", free_port());
    let mut witness = start_witness(&state, &key, &vkey.to_vkey(), &bind);

    // Four clients push the witness forward from whatever size it holds (learned from 409s),
    // a few entries at a time, until the witness dies under them.
    let answered = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(Mutex::new(Vec::<u64>::new()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (notes, tree, answered, sent, bind) = (
                notes.clone(),
                tree.clone(),
                answered.clone(),
                sent.clone(),
                bind.clone(),
            );
            std::thread::spawn(move || {
                let mut held = 0u64;
                let mut step = t + 1;
                loop {
                    let new = (held + step).min(SIZES);
                    step = step % 5 + 1;
                    let proof = if held == 0 || held == new {
                        Vec::new()
                    } else {
                        tree.consistency_proof(held, new).expect("proof")
                    };
                    let body = deedlog_client::witnessing::add_checkpoint_body(
                        held,
                        &proof,
                        &notes[usize::try_from(new).expect("small")],
                    );
                    if let Ok(mut s) = sent.lock() {
                        s.push(new);
                    }
                    match try_post(&bind, "/add-checkpoint", &body) {
                        None => return,
                        Some((200, _)) => {
                            answered.fetch_max(new, Ordering::SeqCst);
                            held = new;
                        }
                        Some((409, size)) => {
                            held = size.trim().parse().expect("a 409 names the size held");
                        }
                        Some((status, text)) => panic!("{status}: {text}"),
                    }
                    if held >= SIZES {
                        return;
                    }
                }
            })
        })
        .collect();
    // Let the hammering run, then SIGKILL (Child::kill) in the middle of it.
    for _ in 0..200 {
        if answered.load(Ordering::SeqCst) > 300 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let last_before_kill = answered.load(Ordering::SeqCst);
    witness.0.kill().expect("SIGKILL");
    witness.0.wait().expect("reaped");
    for t in threads {
        t.join().expect("client thread");
    }
    let last_answered = answered.load(Ordering::SeqCst);
    assert!(last_before_kill > 0, "the witness answered before the kill");
    assert!(
        last_answered < SIZES,
        "the kill came in the middle of the run"
    );

    // The record on disk: one file, a whole note the log signed, one of the notes sent, and
    // no older than the last 200.
    let logs = state.join("logs");
    let records: Vec<_> = std::fs::read_dir(&logs)
        .expect("logs folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = std::fs::read(&records[0]).expect("record");
    let opened = checkpoint::open_checkpoint(&record, &vkey).expect("the record is whole");
    assert_eq!(
        record,
        notes[usize::try_from(opened.size).expect("small")],
        "byte for byte a note the log signed"
    );
    assert!(
        opened.size >= last_answered,
        "the record {} is behind the answered {last_answered}",
        opened.size
    );
    assert!(
        sent.lock().expect("lock").contains(&opened.size),
        "the record is a checkpoint that was sent"
    );

    // Restarted, the witness holds exactly that record (a leftover temp file is swept) and goes
    // on from it.
    let witness = start_witness(&state, &key, &vkey.to_vkey(), &bind);
    let body = deedlog_client::witnessing::add_checkpoint_body(0, &[], &notes[1]);
    let (status, held) = post(&bind, "/add-checkpoint", &body);
    assert_eq!(
        (status, held.trim()),
        (409, opened.size.to_string().as_str())
    );
    let next = (opened.size + 1).min(SIZES);
    let body = deedlog_client::witnessing::add_checkpoint_body(
        opened.size,
        &tree.consistency_proof(opened.size, next).expect("proof"),
        &notes[usize::try_from(next).expect("small")],
    );
    assert_eq!(post(&bind, "/add-checkpoint", &body).0, 200);
    drop(witness);
    let leftovers: Vec<_> = std::fs::read_dir(&logs)
        .expect("logs folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Writes a new key to `key_file` and returns the `serve --auditor` value registering it as
/// `auditor/city`.
fn auditor_city(key_file: &Path) -> String {
    let out = run(&["keygen", "--out", key_file.to_str().expect("utf-8")]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("keygen JSON");
    format!("city={}", printed["public"].as_str().expect("a key"))
}

/// `deedlog audit --semantic`: the rules replayed over the whole log as a registered auditor,
/// remembered structurally between runs; a reader the server does not know is refused.
#[test]
fn the_semantic_audit_replays_the_rules_as_a_registered_auditor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let state = dir.path().join("audit");
    let auditor_key = dir.path().join("auditor.key");
    let auditor_key_s = auditor_key.to_str().expect("utf-8");
    let auditor = auditor_city(&auditor_key);
    let (server, url) = serve_with(&data, &["--auditor", &auditor]);
    let key = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let key = key.trim();
    demo(&url, &data, 1);
    let audit_as = |who: &str, key_file: &str| {
        let out = run(&[
            "audit",
            "--server",
            &url,
            "--state",
            state.to_str().expect("utf-8"),
            "--log-key",
            key,
            "--semantic",
            "--as",
            who,
            "--key",
            key_file,
            "--json",
        ]);
        let v: serde_json::Value =
            serde_json::from_slice(out.stdout.trim_ascii()).unwrap_or(serde_json::Value::Null);
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, first, err) = audit_as("auditor/city", auditor_key_s);
    assert_eq!(
        (code, first["status"].as_str()),
        (Some(0), Some("first")),
        "{first} {err}"
    );
    let size1 = first["to"].as_u64().expect("size");
    assert_eq!(first["semantic_entries"].as_u64(), Some(size1), "{first}");
    demo(&url, &data, 1);
    let (code, second, err) = audit_as("auditor/city", auditor_key_s);
    assert_eq!(
        (code, second["status"].as_str()),
        (Some(0), Some("advanced")),
        "{second} {err}"
    );
    let size2 = second["to"].as_u64().expect("size");
    assert!(size2 > size1);
    // Structurally only the new entries are fetched; the rules see the whole history.
    assert_eq!(second["fetched"].as_u64(), Some(size2 - size1));
    assert_eq!(second["semantic_entries"].as_u64(), Some(size2), "{second}");
    // Someone else's key under the auditor's name is refused by the server: an error, and the
    // state stays.
    let stranger = dir.path().join("stranger.key");
    assert!(
        run(&["keygen", "--out", stranger.to_str().expect("utf-8")])
            .status
            .success()
    );
    let before = std::fs::read(state.join("audit-state.json")).expect("state");
    let (code, _, err) = audit_as("auditor/city", stranger.to_str().expect("utf-8"));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        std::fs::read(state.join("audit-state.json")).expect("state"),
        before
    );
    // `--semantic` without a reader is a usage error.
    let out = run(&[
        "audit",
        "--server",
        &url,
        "--state",
        state.to_str().expect("utf-8"),
        "--semantic",
    ]);
    assert_eq!(out.status.code(), Some(2));
    stop(server);
}

/// Signs `bank.register` as the land registry (only the housing authority registers banks) and
/// writes it to the log through the store alone, past the rules — what an operator with the disk
/// and one authority's key could do. The forged entry changes no listing, contract or property,
/// so the state root it commits is the one before it, and the node opens over it. Returns the
/// forged entry's seq and its stream.
fn forge_a_bank_registered_by_the_wrong_authority(data: &Path, origin: &str) -> (u64, String) {
    use deedlog_core::state_map::{Digest, committed_root};
    use deedlog_store::{
        Context, Decider, Decision, LogOptions, LogWriter, NoteFormat, Rejection, Sequencer,
        SequencerConfig,
    };
    use std::sync::Arc;

    /// Records every command as a bank's registration, without asking the rules, committing
    /// the state root it is given.
    struct PastTheRules(Digest);
    impl Decider for PastTheRules {
        type Parsed = ();
        type ApplyError = std::convert::Infallible;
        fn decide(
            &self,
            _: &deedlog_core::SignedCommand,
            _: &Context,
        ) -> Result<Decision, Rejection> {
            Ok(Decision {
                kind: "BankRegistered".into(),
                derived: serde_json::json!({}),
                parsed: (),
            })
        }
        fn apply(&mut self, _: &deedlog_core::Entry, (): ()) -> Result<(), Self::ApplyError> {
            Ok(())
        }
        fn state_root(&mut self) -> Option<Digest> {
            Some(self.0)
        }
        fn commits_state(&self) -> bool {
            true
        }
    }

    let keys = deedlog_node::NodeKeys::load_or_create(&data.join("keys"), true).expect("keys");
    let format = NoteFormat::new(origin, keys.log().clone()).expect("format");
    let (writer, reader, _) =
        LogWriter::open(data, LogOptions::default(), Arc::new(format)).expect("the log opens");
    let last = reader.entry(reader.size() - 1).expect("the last entry");
    let root = committed_root(
        &deedlog_core::entry::LoggedEntry::decode(&last)
            .expect("an entry")
            .derived,
    )
    .expect("a well-formed root")
    .expect("the last entry of a batch commits the state root");
    let registry = deedlog_client::Actor::new(
        "authority/registry",
        keys.get("authority/registry")
            .expect("the registry's key")
            .clone(),
    );
    let stream = "bank/BK-FORGED0001".to_owned();
    let command = registry
        .sign(
            "bank.register",
            &stream,
            serde_json::json!({"name": "中国建设银行", "branch": "昆明五华支行"}),
            None,
        )
        .expect("signed");
    let sequencer =
        Sequencer::start(writer, PastTheRules(root), SequencerConfig::default()).expect("starts");
    let receipt = sequencer
        .handle()
        .submit_blocking(command)
        .expect("written past the rules");
    sequencer.shutdown();
    (receipt.seq, stream)
}

/// A signed but illegal step on a served log — the land registry registering a bank, which only
/// the housing authority may do — passes the structural audit (every byte, signature and proof is
/// sound) and is caught by the semantic audit, which names the entry, exits 1 and does not
/// advance its remembered state.
#[test]
fn the_semantic_audit_catches_a_signed_step_the_rules_refuse() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let state = dir.path().join("audit");
    let auditor_key = dir.path().join("auditor.key");
    let auditor_key_s = auditor_key.to_str().expect("utf-8");
    let auditor = auditor_city(&auditor_key);
    let (server, url) = serve_with(&data, &["--auditor", &auditor]);
    let vkey = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let vkey = vkey.trim().to_owned();
    demo(&url, &data, 1);
    let audit = |url: &str, state: &Path, semantic: bool| {
        let mut args = vec![
            "audit",
            "--server",
            url,
            "--state",
            state.to_str().expect("utf-8"),
            "--log-key",
            &vkey,
            "--json",
        ];
        if semantic {
            args.extend(["--semantic", "--as", "auditor/city", "--key", auditor_key_s]);
        }
        let out = run(&args);
        let v: serde_json::Value =
            serde_json::from_slice(out.stdout.trim_ascii()).unwrap_or(serde_json::Value::Null);
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, first, err) = audit(&url, &state, true);
    assert_eq!(
        (code, first["status"].as_str()),
        (Some(0), Some("first")),
        "{first} {err}"
    );
    stop(server);

    let origin = vkey.split('+').next().expect("an origin").to_owned();
    let (seq, stream) = forge_a_bank_registered_by_the_wrong_authority(&data, &origin);
    // The node opens over it (its replay applies what the log says) and serves it.
    let (server, url) = serve_with(&data, &["--auditor", &auditor]);

    // Structurally the log is sound: a fresh structural audit passes over the forged entry.
    let (code, structural, err) = audit(&url, &dir.path().join("structural"), false);
    assert_eq!(code, Some(0), "{structural} {err}");
    assert!(structural["to"].as_u64().expect("size") > seq);

    let before = std::fs::read(state.join("audit-state.json")).expect("state");
    let (code, found, err) = audit(&url, &state, true);
    assert_eq!(
        (code, found["status"].as_str()),
        (Some(1), Some("illegal")),
        "{found} {err}"
    );
    let illegal = found["illegal"].as_array().expect("the illegal steps");
    assert_eq!(illegal.len(), 1, "{found}");
    assert_eq!(illegal[0]["seq"].as_u64(), Some(seq), "{found}");
    assert_eq!(illegal[0]["stream"].as_str(), Some(stream.as_str()));
    assert_eq!(illegal[0]["command"].as_str(), Some("bank.register"));
    let detail = found["detail"].as_str().expect("words");
    assert!(detail.contains(&format!("seq {seq}")), "{detail}");
    // The remembered state does not move past the finding: the next run finds it again.
    assert_eq!(
        std::fs::read(state.join("audit-state.json")).expect("state"),
        before
    );
    let (code, again, _) = audit(&url, &state, true);
    assert_eq!((code, again["status"].as_str()), (Some(1), Some("illegal")));
    stop(server);
}
