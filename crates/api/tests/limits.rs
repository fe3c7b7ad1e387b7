//! The API under abuse: each limit refuses the client over it while another client still gets
//! through, slow bodies are cut, forwarded headers are believed only from trusted proxies,
//! `?after_seq` never waits for a seq the log has not reached nor for an unauthenticated
//! request, newcomers have a tighter quota, 5xx answers carry no internal cause, and request
//! numbers at the edges of their types do not overflow.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody as _;
use actix_web::test as web_test;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use deedlog_api::{ApiConfig, ApiError, AppState, auth::sign_request};
use deedlog_core::{Command, SecretKey, SignedCommand};
use deedlog_node::{Node, NodeOptions};

struct Fixture {
    _dir: tempfile::TempDir,
    node: Node,
}

fn node() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(now_ms()));
    let c = clock.clone();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    options.sequencer.clock = Arc::new(move || c.load(Ordering::SeqCst));
    options.sequencer.batch_wait = Duration::from_micros(100);
    options.sequencer.verify_threads = 1;
    let node = Node::open(options).unwrap();
    Fixture { _dir: dir, node }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn peer(ip: &str) -> SocketAddr {
    format!("{ip}:4000").parse().unwrap()
}

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let res = web_test::call_service(&$app, $req.to_request()).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = web_test::read_body(res).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, json, headers)
    }};
}

fn get(uri: &str, from: &str) -> web_test::TestRequest {
    web_test::TestRequest::get().uri(uri).peer_addr(peer(from))
}

#[actix_web::test]
async fn follow_streams_are_capped_per_client_while_another_client_gets_through() {
    let fx = node();
    let config = ApiConfig {
        follow_streams_per_client: 2,
        ..ApiConfig::default()
    };
    let app =
        web_test::init_service(deedlog_api::app(AppState::new(fx.node.clone(), config))).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let res =
            web_test::call_service(&app, get("/v1/log/follow", "10.0.0.1").to_request()).await;
        assert_eq!(res.status().as_u16(), 200);
        open.push(res);
    }
    let (s, body, headers) = call!(app, get("/v1/log/follow", "10.0.0.1"));
    assert_eq!(
        (s, body["code"].as_str()),
        (429, Some("follow.too_many_for_client"))
    );
    assert!(headers.contains_key("retry-after"));
    // Another client is not affected.
    let other = web_test::call_service(&app, get("/v1/log/follow", "10.0.0.2").to_request()).await;
    assert_eq!(other.status().as_u16(), 200);
    // Closing a stream gives the slot back.
    drop(open.pop());
    let again = web_test::call_service(&app, get("/v1/log/follow", "10.0.0.1").to_request()).await;
    assert_eq!(again.status().as_u16(), 200);
    drop((open, other, again));
    fx.node.shutdown();
}

/// Sends one keep-alive `GET /healthz` on `stream` and reads the answer's head and body.
async fn http_get(stream: &mut tokio::net::TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_answer(stream).await
}

async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let mut text = String::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if n == 0 {
            return text;
        }
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

async fn connect_from(ip: &str, to: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

#[actix_web::test]
async fn connections_over_the_per_client_cap_are_refused_and_closed_while_another_client_connects()
{
    let fx = node();
    let config = ApiConfig {
        connections_per_client: 2,
        workers: 1,
        ..ApiConfig::default()
    };
    let running = deedlog_api::start(fx.node.clone(), "127.0.0.1:0", config)
        .await
        .unwrap();
    let addr = running.addr();
    let mut a1 = connect_from("127.0.0.1", addr).await;
    let mut a2 = connect_from("127.0.0.1", addr).await;
    assert!(
        http_get(&mut a1, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        http_get(&mut a2, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut a3 = connect_from("127.0.0.1", addr).await;
    let answer = http_get(&mut a3, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("connection.too_many"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // Another client (another loopback address) still gets through.
    let mut b = connect_from("127.0.0.2", addr).await;
    assert!(
        http_get(&mut b, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // The first client's slots come back when its connections close.
    drop((a1, a3));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut a4 = connect_from("127.0.0.1", addr).await;
    assert!(
        http_get(&mut a4, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    drop((a2, a4, b));
    running.stop().await.unwrap();
    fx.node.shutdown();
}

#[actix_web::test]
async fn a_body_trickled_after_the_headers_is_cut() {
    let fx = node();
    let config = ApiConfig {
        body_read_timeout: Duration::from_millis(400),
        workers: 1,
        ..ApiConfig::default()
    };
    let running = deedlog_api::start(fx.node.clone(), "127.0.0.1:0", config)
        .await
        .unwrap();
    let addr = running.addr();
    for (path, ctype) in [
        ("/v1/verify/document", "application/octet-stream"),
        ("/v1/commands/party.register", "application/json"),
        ("/v1/identity/phone/challenge", "application/json"),
    ] {
        let mut s = connect_from("127.0.0.1", addr).await;
        s.write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: 1000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let started = Instant::now();
        let trickle = async {
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if s.write_all(b" ").await.is_err() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(700), trickle).await;
        let answer = read_answer(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("request.timeout"), "{path}: {answer}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
    running.stop().await.unwrap();
    fx.node.shutdown();
}

#[actix_web::test]
async fn forwarded_headers_are_ignored_from_an_untrusted_peer_and_honoured_from_a_trusted_one() {
    let fx = node();
    // Untrusted peer: every request counts against the peer, whatever it claims to forward.
    let config = ApiConfig {
        rate_per_second: std::num::NonZeroU32::new(1),
        rate_burst: std::num::NonZeroU32::new(1).unwrap(),
        ..ApiConfig::default()
    };
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        fx.node.clone(),
        config.clone(),
    )))
    .await;
    let (s1, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9").insert_header(("x-forwarded-for", "1.1.1.1"))
    );
    let (s2, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9").insert_header(("x-forwarded-for", "2.2.2.2"))
    );
    let (s3, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9").insert_header(("forwarded", "for=3.3.3.3"))
    );
    assert_eq!((s1, s2, s3), (200, 429, 429));

    // Trusted proxy: the right-most untrusted hop is the client.
    let trusted = ApiConfig {
        trusted_proxies: vec!["10.0.0.9".parse().unwrap(), "10.0.0.8".parse().unwrap()],
        ..config
    };
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        fx.node.clone(),
        trusted.clone(),
    )))
    .await;
    let (s1, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9").insert_header(("x-forwarded-for", "1.1.1.1"))
    );
    let (s2, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9").insert_header(("x-forwarded-for", "2.2.2.2"))
    );
    let (s3, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9").insert_header(("forwarded", "for=\"[2001:db8::1]:4711\""))
    );
    assert_eq!((s1, s2, s3), (200, 200, 200));
    // A client that prepends a fake hop is still counted as itself.
    let (s4, _, _) = call!(
        app,
        get("/healthz", "10.0.0.9")
            .insert_header(("x-forwarded-for", "6.6.6.6, 1.1.1.1, 10.0.0.8"))
    );
    assert_eq!(s4, 429);

    let req = |peer_ip: &str, xff: &str| {
        web_test::TestRequest::get()
            .peer_addr(peer(peer_ip))
            .insert_header(("x-forwarded-for", xff))
            .to_http_request()
    };
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        deedlog_api::client_ip(&req("10.0.0.9", "7.7.7.7, 5.5.5.5"), &trusted),
        ip("5.5.5.5")
    );
    assert_eq!(
        deedlog_api::client_ip(&req("10.0.0.9", "5.5.5.5, 10.0.0.8"), &trusted),
        ip("5.5.5.5")
    );
    assert_eq!(
        deedlog_api::client_ip(&req("10.0.0.9", "garbage"), &trusted),
        ip("10.0.0.9")
    );
    assert_eq!(
        deedlog_api::client_ip(&req("10.0.0.7", "5.5.5.5"), &trusted),
        ip("10.0.0.7")
    );
    fx.node.shutdown();
}

fn signed_get(secret: &SecretKey, actor: &str, uri: &str, ts: i64) -> web_test::TestRequest {
    let mut req = get(uri, "10.0.0.1");
    for (k, v) in sign_request(secret, actor, "GET", uri, ts, b"") {
        req = req.insert_header((k, v));
    }
    req
}

#[actix_web::test]
async fn after_seq_beyond_the_log_is_refused_at_once_and_unauthenticated_requests_never_wait() {
    let fx = node();
    let config = ApiConfig {
        after_seq_wait: Duration::from_secs(30),
        ..ApiConfig::default()
    };
    let app =
        web_test::init_service(deedlog_api::app(AppState::new(fx.node.clone(), config))).await;
    let size = fx.node.reader().size();
    let started = Instant::now();
    for uri in [
        format!("/v1/listings?after_seq={size}"),
        format!("/v1/agents?after_seq={}", u64::MAX),
        format!(
            "/v1/verify/listing/LV-0000000000000000?after_seq={}",
            size + 1000
        ),
    ] {
        let (s, body, _) = call!(app, get(&uri, "10.0.0.1"));
        assert_eq!(
            (s, body["code"].as_str()),
            (404, Some("log.out_of_range")),
            "{uri}"
        );
    }
    // Unsigned and badly signed private reads are refused before any wait, whatever seq they
    // name (the answer is 401, not the seq's 404).
    let (s, body, _) = call!(
        app,
        get(&format!("/v1/parties/PA-x?after_seq={size}"), "10.0.0.1")
    );
    assert_eq!((s, body["code"].as_str()), (401, Some("request.unsigned")));
    let key = deedlog_node::keys::generate();
    let other = deedlog_node::keys::generate();
    let uri = format!("/v1/parties/PA-x/contracts?after_seq={size}");
    let mut req = get(&uri, "10.0.0.1");
    for (k, v) in sign_request(&key, "party/PA-x", "GET", &uri, now_ms(), b"") {
        let v = if k == deedlog_api::auth::HEADER_KEY {
            other.public().to_base64()
        } else {
            v
        };
        req = req.insert_header((k, v));
    }
    let (s, body, _) = call!(app, req);
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("request.bad_signature"))
    );
    // A valid signature by a key the log does not know: waits for nothing beyond the log, and
    // is refused once the (present) entry is applied.
    let (s, body, _) = call!(
        app,
        signed_get(
            &key,
            "party/PA-x",
            &format!("/v1/parties/PA-x?after_seq={}", size - 1),
            now_ms()
        )
    );
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("request.bad_signature"))
    );
    let (s, body, _) = call!(
        app,
        signed_get(
            &key,
            "party/PA-x",
            &format!("/v1/parties/PA-x?after_seq={size}"),
            now_ms()
        )
    );
    assert_eq!((s, body["code"].as_str()), (404, Some("log.out_of_range")));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a request waited"
    );
    fx.node.shutdown();
}

fn command(
    secret: &SecretKey,
    actor: &str,
    kind: &str,
    payload: Value,
    nonce: &str,
) -> SignedCommand {
    Command {
        actor: actor.into(),
        key: secret.public().to_base64(),
        kind: kind.into(),
        stream: actor.into(),
        expected_version: None,
        payload,
        nonce: format!("limits-{nonce}-00000000"),
        issued_at_ms: now_ms(),
    }
    .sign(secret)
    .unwrap()
}

#[actix_web::test]
async fn newcomers_have_a_tighter_quota_per_address_and_per_actor() {
    let fx = node();
    let config = ApiConfig {
        newcomer_per_minute: std::num::NonZeroU32::new(1),
        newcomer_burst: std::num::NonZeroU32::new(2).unwrap(),
        ..ApiConfig::default()
    };
    let app =
        web_test::init_service(deedlog_api::app(AppState::new(fx.node.clone(), config))).await;
    let post = |cmd: &SignedCommand, from: &str| {
        web_test::TestRequest::post()
            .uri(&format!("/v1/commands/{}", cmd.kind))
            .peer_addr(peer(from))
            .set_json(cmd)
    };
    let mut codes = Vec::new();
    for i in 0..3 {
        let key = deedlog_node::keys::generate();
        let who = format!("party/PA-new{i}");
        let cmd = command(
            &key,
            &who,
            "party.register",
            json!({"phone_commitment": "0".repeat(64)}),
            &format!("n-{i}"),
        );
        let (s, body, _) = call!(app, post(&cmd, "10.1.1.1"));
        codes.push((s, body["code"].as_str().unwrap_or("").to_owned()));
    }
    assert_ne!(codes[0].0, 429, "{codes:?}");
    assert_ne!(codes[1].0, 429, "{codes:?}");
    assert_eq!(codes[2], (429, "rate.newcomer_limited".to_owned()));
    // Another address is not affected...
    let key = deedlog_node::keys::generate();
    let cmd = command(
        &key,
        "party/PA-elsewhere",
        "party.register",
        json!({"phone_commitment": "1".repeat(64)}),
        "n-x",
    );
    let (s, _, _) = call!(app, post(&cmd, "10.2.2.2"));
    assert_ne!(s, 429);
    // ...but one actor is limited across addresses: the identity authority's key changes,
    // signed with its current key, are newcomer kinds. (The quota counts against an actor the
    // views know the key of: wait for them.)
    let size = fx.node.reader().size();
    assert!(
        fx.node
            .views()
            .wait_applied_blocking(size, Duration::from_secs(10))
    );
    let identity = fx.node.keys().get("authority/identity").cloned().unwrap();
    let rotate = |i: usize| {
        command(
            &identity,
            "authority/identity",
            "key.rotate",
            json!({"new_key": identity.public().to_base64(), "proof": "x"}),
            &format!("r-{i}"),
        )
    };
    for (i, from) in ["10.3.3.3", "10.4.4.4", "10.5.5.5"].iter().enumerate() {
        let (s, body, _) = call!(app, post(&rotate(i), from));
        if i == 2 {
            assert_eq!(
                (s, body["code"].as_str()),
                (429, Some("rate.newcomer_limited"))
            );
        } else {
            assert_ne!(s, 429);
        }
    }
    // Nobody without an actor's key uses up its quota: junk-signed key changes naming the
    // housing authority, or signed with another key, from many addresses, are refused for
    // what they are and leave the authority's own quota whole.
    let housing = fx.node.keys().get("authority/housing").cloned().unwrap();
    for i in 0..6 {
        let thief = deedlog_node::keys::generate();
        let mut junk = command(
            &thief,
            "authority/housing",
            "key.revoke",
            json!({"reason": "x"}),
            &format!("j-{i}"),
        );
        if i % 2 == 0 {
            // The authority's real key, with the thief's signature.
            junk.key = housing.public().to_base64();
        }
        let (s, body, _) = call!(app, post(&junk, &format!("10.6.6.{i}")));
        assert_ne!(s, 429, "{body}");
        if i % 2 == 0 {
            assert_eq!(
                (s, body["code"].as_str()),
                (401, Some("command.bad_signature"))
            );
        }
    }
    for i in 0..2 {
        let own = command(
            &housing,
            "authority/housing",
            "key.rotate",
            json!({"new_key": housing.public().to_base64(), "proof": "x"}),
            &format!("o-{i}"),
        );
        let (s, body, _) = call!(app, post(&own, "10.7.7.7"));
        assert_ne!(s, 429, "{body}");
    }
    // A verified actor (an authority) is not a newcomer.
    let housing = fx.node.keys().get("authority/housing").cloned().unwrap();
    for i in 0..4 {
        let cmd = command(
            &housing,
            "authority/housing",
            "agency.suspend",
            json!({"reason": "测试"}),
            &format!("h-{i}"),
        );
        let (s, _, _) = call!(app, post(&cmd, "10.1.1.1"));
        assert_ne!(s, 429);
    }
    fx.node.shutdown();
}

#[actix_web::test]
async fn unavailable_and_internal_answers_carry_no_paths_or_io_details() {
    // The sequencer's message after a storage failure names the file and the OS error.
    let rejection = deedlog_store::Rejection::new(
        &deedlog_store::codes::UNAVAILABLE,
        "the ledger stopped after a storage failure: writing /srv/ledger/log/00000001.seg: No space left on device (os error 28)",
    );
    let e = ApiError::from(rejection);
    let res = actix_web::ResponseError::error_response(&e);
    assert_eq!(res.status().as_u16(), 503);
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("ledger.unavailable"), "{text}");
    for leak in ["/srv", ".seg", "os error", "space"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    // A stopped node: a command is refused with a clean 503 and nothing about the cause.
    let fx = node();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        fx.node.clone(),
        ApiConfig::default(),
    )))
    .await;
    fx.node.shutdown();
    let key = deedlog_node::keys::generate();
    let cmd = command(
        &key,
        "party/PA-late",
        "party.register",
        json!({"phone_commitment": "2".repeat(64)}),
        "late",
    );
    let req = web_test::TestRequest::post()
        .uri("/v1/commands/party.register")
        .peer_addr(peer("10.0.0.1"))
        .set_json(&cmd);
    let (s, body, headers) = call!(app, req);
    assert_eq!(s, 503, "{body}");
    assert!(headers.contains_key("retry-after"));
    let text = body.to_string();
    assert!(!text.contains(fx._dir.path().to_str().unwrap()), "{text}");
    // The one back-pressure answer.
    let busy = deedlog_api::busy();
    let res = actix_web::ResponseError::error_response(&busy);
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(res.headers().get("retry-after").unwrap(), "1");
}

#[actix_web::test]
async fn request_numbers_at_the_edges_of_their_types_do_not_overflow() {
    let fx = node();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        fx.node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let key = deedlog_node::keys::generate();
    for ts in [i64::MIN, i64::MAX, i64::MIN + 1] {
        let (s, body, _) = call!(app, signed_get(&key, "party/PA-x", "/v1/parties/PA-x", ts));
        assert_eq!(
            (s, body["code"].as_str()),
            (401, Some("request.stale")),
            "{ts}"
        );
    }
    let max = u64::MAX;
    for (uri, status) in [
        (format!("/v1/log/entries?start={max}"), 404),
        (format!("/v1/log/entries?start={max}&end={max}"), 404),
        (format!("/v1/log/entries?start=0&end={max}"), 404),
        (format!("/v1/log/entries?start={}&end=1", max), 400),
        (format!("/v1/log/entries/{max}"), 404),
        (format!("/v1/log/entries/{max}?proof_size={max}"), 404),
        (format!("/v1/log/entries/0?proof_size={max}"), 404),
        (format!("/v1/log/checkpoints?from={max}"), 200),
        (format!("/v1/log/checkpoints?from={max}&to={max}"), 200),
        (format!("/v1/log/checkpoints?from=0&to={max}"), 200),
        (format!("/v1/log/proof/consistency?from={max}"), 400),
        (format!("/v1/log/proof/consistency?from=1&to={max}"), 404),
        (format!("/v1/listings?offset={max}"), 400),
        (format!("/v1/listings?limit={max}"), 400),
        (
            format!("/v1/listings?price_min_fen={max}&price_max_fen={max}&area_min_centi_m2={max}"),
            200,
        ),
        (format!("/v1/agents?after_seq={max}"), 404),
        ("/v1/log/entries?start=18446744073709551616".to_owned(), 400),
    ] {
        let (s, body, _) = call!(app, get(&uri, "10.0.0.1"));
        assert_eq!(s, status, "{uri}: {body}");
    }
    // Following from the last seq, or resuming after it, does not overflow.
    for req in [
        get(&format!("/v1/log/follow?from={max}"), "10.0.0.1"),
        get("/v1/log/follow", "10.0.0.2").insert_header(("last-event-id", "9999999999999999999")),
    ] {
        let res = web_test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status().as_u16(), 200);
    }
    // A Last-Event-ID this server could not have sent is refused, not ignored.
    for bad in [
        max.to_string(),
        "-1".to_owned(),
        " 5".to_owned(),
        "x".to_owned(),
    ] {
        let (s, body, _) = call!(
            app,
            get("/v1/log/follow", "10.0.0.3").insert_header(("last-event-id", bad.clone()))
        );
        assert_eq!(
            (s, body["code"].as_str()),
            (400, Some("request.bad_header")),
            "{bad}"
        );
    }
    fx.node.shutdown();
}

#[actix_web::test]
async fn an_ipv6_client_is_counted_by_its_64_network() {
    let fx = node();
    let config = ApiConfig {
        rate_per_second: std::num::NonZeroU32::new(1),
        rate_burst: std::num::NonZeroU32::new(1).unwrap(),
        ..ApiConfig::default()
    };
    let app =
        web_test::init_service(deedlog_api::app(AppState::new(fx.node.clone(), config))).await;
    let from = |ip: &str| {
        web_test::TestRequest::get()
            .uri("/healthz")
            .peer_addr(SocketAddr::new(ip.parse().unwrap(), 4000))
    };
    // Two addresses of one /64 share the quota: a fresh address is no fresh quota.
    let (s1, _, _) = call!(app, from("2001:db8:1:2::1"));
    let (s2, _, _) = call!(app, from("2001:db8:1:2:ffff:ffff:ffff:fffe"));
    assert_eq!((s1, s2), (200, 429));
    // The next /64 is another client.
    let (s3, _, _) = call!(app, from("2001:db8:1:3::1"));
    assert_eq!(s3, 200);
    // An IPv4-mapped address is its IPv4 address.
    let (s4, _, _) = call!(app, from("10.9.9.9"));
    let (s5, _, _) = call!(app, from("::ffff:10.9.9.9"));
    assert_eq!((s4, s5), (200, 429));
    assert_eq!(
        deedlog_api::limit_bucket("::1".parse::<IpAddr>().unwrap()),
        "::1".parse::<IpAddr>().unwrap()
    );
    fx.node.shutdown();
}

#[actix_web::test]
async fn a_signed_follow_stream_ends_once_its_key_is_replaced() {
    let fx = node();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        fx.node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let housing = fx.node.keys().get("authority/housing").cloned().unwrap();
    // The signed request is checked against the key the views know: wait for them.
    let size = fx.node.reader().size();
    assert!(
        fx.node
            .views()
            .wait_applied_blocking(size, Duration::from_secs(10))
    );
    let uri = "/v1/log/follow?from=0";
    let mut req = web_test::TestRequest::get()
        .uri(uri)
        .peer_addr(peer("10.0.0.1"));
    for (k, v) in sign_request(&housing, "authority/housing", "GET", uri, now_ms(), b"") {
        req = req.insert_header((k, v));
    }
    let res = web_test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status().as_u16(), 200);
    let mut body = res.into_body();
    let mut text = String::new();
    let mut read_until = async |text: &mut String, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !text.contains(what) {
            assert!(Instant::now() < deadline, "no {what:?} in {text}");
            let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx));
            match tokio::time::timeout(Duration::from_secs(20), next).await {
                Ok(Some(Ok(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Some(Err(_))) => panic!("the stream failed before {what:?}: {text}"),
                Ok(None) => panic!("the stream ended before {what:?}: {text}"),
                Err(_) => panic!("the stream stalled before {what:?}: {text}"),
            }
        }
    };
    read_until(&mut text, "event: entry").await;

    // The key is replaced (as after a theft, by its owner); once the views know it, the next
    // entries end the stream instead of reaching the old key's holder.
    let new_key = deedlog_node::keys::generate();
    let rotate = Command {
        actor: "authority/housing".into(),
        key: housing.public().to_base64(),
        kind: "key.rotate".into(),
        stream: "authority/housing".into(),
        expected_version: None,
        payload: json!({
            "new_key": new_key.public().to_base64(),
            "proof": deedlog_domain::keys::prove_possession(&new_key, "authority/housing"),
        }),
        nonce: "limits-rotate-00000000".into(),
        issued_at_ms: now_ms(),
    }
    .sign(&housing)
    .unwrap();
    let (s, body_json, _) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/commands/key.rotate")
            .peer_addr(peer("10.0.0.2"))
            .set_json(&rotate)
    );
    assert_eq!(s, 201, "{body_json}");
    let size = fx.node.reader().size();
    assert!(
        fx.node
            .views()
            .wait_applied_blocking(size, Duration::from_secs(10))
    );
    // One more entry by another actor wakes the stream.
    let identity = fx.node.keys().get("authority/identity").cloned().unwrap();
    let id_key = deedlog_node::keys::generate();
    let rotate = Command {
        actor: "authority/identity".into(),
        key: identity.public().to_base64(),
        kind: "key.rotate".into(),
        stream: "authority/identity".into(),
        expected_version: None,
        payload: json!({
            "new_key": id_key.public().to_base64(),
            "proof": deedlog_domain::keys::prove_possession(&id_key, "authority/identity"),
        }),
        nonce: "limits-rotate-00000001".into(),
        issued_at_ms: now_ms(),
    }
    .sign(&identity)
    .unwrap();
    let (s, body_json, _) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/commands/key.rotate")
            .peer_addr(peer("10.0.0.3"))
            .set_json(&rotate)
    );
    assert_eq!(s, 201, "{body_json}");
    read_until(&mut text, "event: end").await;
    let after_end = &text[text.find("event: end").unwrap()..];
    assert!(!after_end.contains("event: entry"), "{text}");
    fx.node.shutdown();
}
