//! The harness the API's acting and recovery tests share: a node on a temporary data folder
//! with a tiny reference set (two properties of one seller, one agency with one agent, the
//! population register), a settable clock, signed commands and requests, and the identity flows
//! (phone voucher, registration, real-name attestation) through the real routes.
//!
//! Each test crate uses only part of it, hence the `dead_code` allowance.
#![allow(dead_code, unused_macros, unused_imports)]

pub use std::path::Path;
pub use std::sync::Arc;
pub use std::sync::atomic::{AtomicI64, Ordering};
pub use std::time::Duration;

pub use actix_web::test as web_test;
pub use serde_json::{Value, json};
pub use sha2::{Digest, Sha256};

pub use deedlog_api::{ApiConfig, AppState, auth::sign_request};
pub use deedlog_core::{Command, SecretKey, SignedCommand};
pub use deedlog_node::{Node, NodeOptions};

pub const SELLER: (&str, &str, &str) = ("邓婷", "530111197905129301", "19150620624");
pub const BUYER: (&str, &str, &str) = ("江晶梅", "530115197012256843", "18281365745");
pub const AGENT_PERSON: (&str, &str, &str) = ("魏林", "530102195908253193", "15030997123");
/// On the register, in no other file.
pub const OUTSIDER: (&str, &str, &str) = ("孟雪", "53011219880402152X", "13698712345");
pub const CERT: &str = "云(2021)昆明市不动产权第0012345号";
pub const CERT2: &str = "云(2022)昆明市不动产权第0054321号";

pub fn write_reference(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let person = |p: (&str, &str, &str)| json!({"name": p.0, "id_number": p.1, "phone": p.2});
    let mut owner = person(SELLER);
    owner["share_percent"] = json!(100);
    let mut agent = person(AGENT_PERSON);
    agent["agent_id"] = json!("AT-0001");
    agent["licence_no"] = json!("KMJJR-2020-0001");
    std::fs::write(
        dir.join("properties.json"),
        json!([{"certificate_no": CERT, "district": "五华区", "community": "翠湖花园",
                "address": "五华区翠湖南路8号1栋1单元501", "area_centi_m2": 8950, "rooms": 2, "halls": 1,
                "bathrooms": 1, "floor": 5, "floors_total": 7, "built_year": 2005, "usage": "住宅",
                "owners": [owner.clone()], "mortgage": null, "seizure": null},
               {"certificate_no": CERT2, "district": "盘龙区", "community": "金江小区",
                "address": "盘龙区金江路1号2栋3单元402", "area_centi_m2": 7600, "rooms": 2, "halls": 1,
                "bathrooms": 1, "floor": 4, "floors_total": 6, "built_year": 2008, "usage": "住宅",
                "owners": [owner], "mortgage": null, "seizure": null}])
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("agencies.json"),
        json!([{"agency_id": "AG-0001", "name": "昆明测试房产经纪有限公司", "licence_no": "KMJJ-2023-0001",
                "district": "五华区", "address": "五华区东风西路1号", "agents": [agent]}])
        .to_string(),
    )
    .unwrap();
    // The population register: the identity authority checks real names against it and sends
    // the codes to the phones on file.
    std::fs::write(
        dir.join("population.json"),
        json!([
            person(SELLER),
            person(BUYER),
            person(AGENT_PERSON),
            person(OUTSIDER)
        ])
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("banks.json"),
        json!([{"bank_id": "BK-01", "name": "中国工商银行", "branch": "昆明分行"}]).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("offices.json"),
        json!([{"office_id": "OF-01", "name": "五华区办理点", "district": "五华区", "address": "五华区人民中路2号",
                "hours": "周一至周五 9:00-17:00", "phone": "0871-63000000"}])
        .to_string(),
    )
    .unwrap();
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub options: NodeOptions,
    pub clock: Arc<AtomicI64>,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    write_reference(&dir.path().join("reference"));
    let clock = Arc::new(AtomicI64::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    ));
    let c = clock.clone();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = Some(dir.path().join("reference"));
    options.sequencer.clock = Arc::new(move || c.load(Ordering::SeqCst));
    options.sequencer.batch_wait = Duration::from_micros(100);
    options.sequencer.verify_threads = 1;
    // A domain state that keeps two entries a map: every test's commands are decided on
    // aggregates read back from the state's scratch store.
    options.caches.state_entries = 2;
    Fixture {
        _dir: dir,
        options,
        clock,
    }
}

pub fn sign(
    secret: &SecretKey,
    actor: &str,
    kind: &str,
    stream: &str,
    payload: Value,
    now: i64,
    nonce: &str,
) -> SignedCommand {
    Command {
        actor: actor.into(),
        key: secret.public().to_base64(),
        kind: kind.into(),
        stream: stream.into(),
        expected_version: None,
        payload,
        nonce: nonce.into(),
        issued_at_ms: now,
    }
    .sign(secret)
    .unwrap()
}

pub fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let res = web_test::call_service(&$app, $req.to_request()).await;
        let status = res.status().as_u16();
        let body = web_test::read_body(res).await;
        (status, body.to_vec())
    }};
}

pub fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

macro_rules! post_command {
    ($app:expr, $cmd:expr $(,)?) => {{
        let cmd: &SignedCommand = $cmd;
        let req = web_test::TestRequest::post()
            .uri(&format!("/v1/commands/{}", cmd.kind))
            .set_json(cmd)
            .to_request();
        let res = web_test::call_service(&$app, req).await;
        let status = res.status().as_u16();
        let body = web_test::read_body(res).await;
        (status, json_of(&body))
    }};
}

pub fn signed_get(secret: &SecretKey, actor: &str, uri: &str, now: i64) -> web_test::TestRequest {
    let mut req = web_test::TestRequest::get().uri(uri);
    for (k, v) in sign_request(secret, actor, "GET", uri, now, b"") {
        req = req.insert_header((k, v));
    }
    req
}

pub fn signed_post(
    secret: &SecretKey,
    actor: &str,
    uri: &str,
    now: i64,
    body: &[u8],
) -> web_test::TestRequest {
    let mut req = web_test::TestRequest::post()
        .uri(uri)
        .set_payload(body.to_vec())
        .insert_header(("content-type", "application/json"));
    for (k, v) in sign_request(secret, actor, "POST", uri, now, body) {
        req = req.insert_header((k, v));
    }
    req
}

pub fn sms_code(node: &Node, challenge: &str) -> String {
    deedlog_node::identity::read_code(node.sms_outbox(), challenge)
        .unwrap_or_else(|| panic!("no SMS code for {challenge}"))
}

/// `POST /v1/identity/phone/challenge` then `/phone/voucher` with the code from the outbox:
/// `(status, body)` of the voucher answer.
macro_rules! voucher {
    ($app:expr, $node:expr, $phone:expr, $who:expr, $key:expr) => {{
        let (s, b) = call!(
            $app,
            web_test::TestRequest::post()
                .uri("/v1/identity/phone/challenge")
                .set_json(json!({"phone": $phone}))
        );
        assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
        let challenge = json_of(&b)["challenge"].as_str().unwrap().to_owned();
        let code = sms_code(&$node, &challenge);
        let key: &SecretKey = $key;
        call!(
            $app,
            web_test::TestRequest::post()
                .uri("/v1/identity/phone/voucher")
                .set_json(json!({"challenge": challenge, "code": code, "party": $who,
                                 "key": key.public().to_base64()}))
        )
    }};
}

/// Registers `who` with `phone` through the real flow; `(status, receipt)` of `party.register`.
macro_rules! register {
    ($app:expr, $node:expr, $who:expr, $key:expr, $phone:expr, $now:expr, $nonce:expr) => {{
        let key: &SecretKey = $key;
        let (s, b) = voucher!($app, $node, $phone, $who, key);
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        post_command!(
            $app,
            &sign(
                $key,
                $who,
                "party.register",
                $who,
                json_of(&b),
                $now,
                $nonce
            )
        )
    }};
}

/// Real-name verification of `who` as `person` (the code from the outbox, sent to the phone on
/// file); `(status, body)` of the attestation answer.
macro_rules! attest {
    ($app:expr, $node:expr, $who:expr, $key:expr, $person:expr, $after:expr, $now:expr) => {{
        let person: (&str, &str, &str) = $person;
        let uri = match $after {
            Some(seq) => format!("/v1/identity/realname/challenge?after_seq={seq}"),
            None => "/v1/identity/realname/challenge".to_owned(),
        };
        let body = json!({"name": person.0, "id_number": person.1}).to_string();
        let (s, b) = call!($app, signed_post($key, $who, &uri, $now, body.as_bytes()));
        assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
        let challenge = json_of(&b)["challenge"].as_str().unwrap().to_owned();
        let code = sms_code(&$node, &challenge);
        let body = json!({"challenge": challenge, "code": code}).to_string();
        call!(
            $app,
            signed_post($key, $who, "/v1/identity/realname/attest", $now, body.as_bytes())
        )
    }};
}

/// A signed `POST /v1/photos` of `body`, the signature made over `signed_body` (the same
/// bytes, except where a test sends other bytes than it signed).
pub fn signed_upload(
    secret: &SecretKey,
    actor: &str,
    now: i64,
    body: &[u8],
    signed_body: &[u8],
) -> web_test::TestRequest {
    let mut req = web_test::TestRequest::post()
        .uri("/v1/photos")
        .set_payload(body.to_vec())
        .insert_header(("content-type", "image/png"));
    for (k, v) in sign_request(secret, actor, "POST", "/v1/photos", now, signed_body) {
        req = req.insert_header((k, v));
    }
    req
}

/// A stand-in PNG: the signature bytes, then `seed`.
pub fn png_bytes(seed: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(seed.repeat(8).as_bytes());
    b
}
