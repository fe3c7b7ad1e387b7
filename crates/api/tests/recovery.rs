//! A lost or new device: a citizen whose browser key is gone binds a new key after real-name
//! re-verification (a code to the phone on file), the old one revoked on the log. Each attack
//! fails and appends nothing: someone who knows the person's ID number and phone but not the
//! code, a wrong, expired or reused code, a key already in use, a forged proof, a party that is
//! erased, a flood. Also the housing authority's check of a new agent's person.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use actix_web::test as web_test;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use deedlog_api::{ApiConfig, AppState, auth::sign_request};
use deedlog_core::{Command, SecretKey, SignedCommand};
use deedlog_node::{Node, NodeOptions};

const SELLER: (&str, &str, &str) = ("邓婷", "530111197905129301", "19150620624");
const BUYER: (&str, &str, &str) = ("江晶梅", "530115197012256843", "18281365745");
const AGENT_PERSON: (&str, &str, &str) = ("魏林", "530102195908253193", "15030997123");
/// On the register, in no other file.
const OUTSIDER: (&str, &str, &str) = ("孟雪", "53011219880402152X", "13698712345");
const CERT: &str = "云(2021)昆明市不动产权第0012345号";
const CERT2: &str = "云(2022)昆明市不动产权第0054321号";

fn write_reference(dir: &Path) {
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

struct Fixture {
    _dir: tempfile::TempDir,
    options: NodeOptions,
    clock: Arc<AtomicI64>,
}

fn fixture() -> Fixture {
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
    Fixture {
        _dir: dir,
        options,
        clock,
    }
}

fn sign(
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

fn hash(text: &str) -> String {
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

fn json_of(body: &[u8]) -> Value {
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

fn signed_get(secret: &SecretKey, actor: &str, uri: &str, now: i64) -> web_test::TestRequest {
    let mut req = web_test::TestRequest::get().uri(uri);
    for (k, v) in sign_request(secret, actor, "GET", uri, now, b"") {
        req = req.insert_header((k, v));
    }
    req
}

fn signed_post(
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

fn sms_code(node: &Node, challenge: &str) -> String {
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

/// `POST` of a JSON body to a public identity route: `(status, body)`.
macro_rules! post_json {
    ($app:expr, $uri:expr, $body:expr) => {{
        let (s, b) = call!(
            $app,
            web_test::TestRequest::post().uri($uri).set_json($body)
        );
        (s, json_of(&b))
    }};
}

#[actix_web::test]
async fn a_lost_device_is_replaced_only_by_the_person_with_the_phone_on_file() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let seller = "party/PA-seller";
    let buyer = "party/PA-buyer";
    let old_key = deedlog_node::keys::generate();
    let buyer_key = deedlog_node::keys::generate();
    for (who, key, person, nonce) in [
        (seller, &old_key, SELLER, "recovery-nonce-0001"),
        (buyer, &buyer_key, BUYER, "recovery-nonce-0002"),
    ] {
        let (s, r) = register!(app, node, who, key, person.2, now(), nonce);
        assert_eq!(s, 201, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let (s, b) = attest!(app, node, who, key, person, Some(seq), now());
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    }
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let outbox = node.sms_outbox().to_owned();
    let sent_to = |challenge: &str| -> Option<String> {
        std::fs::read_to_string(&outbox)
            .ok()?
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["challenge"] == json!(challenge))
            .map(|l| l["to"].as_str().unwrap_or("").to_owned())
    };
    let ask = |name: &str, id: &str, key: &SecretKey| json!({"name": name, "id_number": id, "key": key.public().to_base64()});
    let window = 11 * 60 * 1000;

    // Mallory knows the seller's name, ID number and phone, and has her own new key. The code
    // goes to the phone on file, never to her; guessing it fails, three times, then the
    // challenge is void. Nothing is appended.
    let mallory_key = deedlog_node::keys::generate();
    let before = size();
    let (s, c) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(SELLER.0, SELLER.1, &mallory_key)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    assert_eq!(
        sent_to(&challenge).as_deref(),
        Some(SELLER.2),
        "the code went to the phone on file"
    );
    let right = sms_code(&node, &challenge);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in [2, 1, 0] {
        let (s, r) = post_json!(
            app,
            "/v1/identity/recover/verify",
            json!({"challenge": challenge, "code": wrong})
        );
        assert_eq!(
            (s, r["code"].clone(), r["details"]["tries_left"].clone()),
            (422, json!("identity.code_wrong"), json!(left)),
            "{r}"
        );
    }
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": right})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.challenge_invalid")),
        "void after 3 wrong codes: {r}"
    );
    // Binding without a proven code: refused.
    let proof = deedlog_domain::keys::prove_possession(&mallory_key, seller);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": challenge, "proof": proof})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.challenge_invalid")),
        "{r}"
    );
    assert_eq!(size(), before);

    // A name that does not match the ID number: the same answer, and no SMS at all.
    let (s, c) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(BUYER.0, SELLER.1, &mallory_key)
    );
    assert_eq!(s, 202, "{c}");
    assert_eq!(sent_to(c["challenge"].as_str().unwrap()), None);

    // A flood on one ID number: the fourth challenge in the window is refused.
    let (s, _) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(SELLER.0, SELLER.1, &mallory_key)
    );
    assert_eq!(s, 202);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(SELLER.0, SELLER.1, &mallory_key)
    );
    assert_eq!((s, r["code"].clone()), (429, json!("rate.limited")), "{r}");
    assert_eq!(size(), before);

    // An expired code: refused.
    fx.clock.fetch_add(window, Ordering::SeqCst);
    let new_key = deedlog_node::keys::generate();
    let (s, c) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(SELLER.0, SELLER.1, &new_key)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let code = sms_code(&node, &challenge);
    fx.clock.fetch_add(301_000, Ordering::SeqCst);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": code})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.challenge_invalid")),
        "expired: {r}"
    );
    assert_eq!(size(), before);

    // A key already in use (the buyer's, or the seller's own current key): refused at bind,
    // before anything is appended.
    for taken in [&buyer_key, &old_key] {
        let (s, c) = post_json!(
            app,
            "/v1/identity/recover/challenge",
            ask(SELLER.0, SELLER.1, taken)
        );
        assert_eq!(s, 202, "{c}");
        let challenge = c["challenge"].as_str().unwrap().to_owned();
        let code = sms_code(&node, &challenge);
        let (s, r) = post_json!(
            app,
            "/v1/identity/recover/verify",
            json!({"challenge": challenge, "code": code})
        );
        assert_eq!((s, r["party"].clone()), (200, json!(seller)), "{r}");
        let proof = deedlog_domain::keys::prove_possession(taken, seller);
        let (s, r) = post_json!(
            app,
            "/v1/identity/recover/bind",
            json!({"challenge": challenge, "proof": proof})
        );
        assert_eq!((s, r["code"].clone()), (409, json!("key.in_use")), "{r}");
        assert_eq!(size(), before);
    }

    // The person, with the phone on file: a new key bound, the old one revoked, on the log.
    fx.clock.fetch_add(window, Ordering::SeqCst);
    let (s, c) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(SELLER.0, SELLER.1, &new_key)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let code = sms_code(&node, &challenge);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": code})
    );
    assert_eq!((s, r["party"].clone()), (200, json!(seller)), "{r}");
    // A proof made for another actor does not bind (and spends the recovery).
    let forged = deedlog_domain::keys::prove_possession(&new_key, buyer);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": challenge, "proof": forged})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (400, json!("identity.invalid")),
        "{r}"
    );
    assert_eq!(size(), before);
    let (s, c) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(SELLER.0, SELLER.1, &new_key)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let code = sms_code(&node, &challenge);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": code})
    );
    assert_eq!(s, 200, "{r}");
    let proof = deedlog_domain::keys::prove_possession(&new_key, seller);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": challenge, "proof": proof})
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["revoke"]["kind"], json!("KeyRevoked"), "{r}");
    assert_eq!(r["bind"]["kind"], json!("KeyBound"), "{r}");
    assert_eq!(size(), before + 2);
    let bound = r["bind"]["seq"].as_u64().unwrap();
    // Reused: the code, and the proven recovery, are spent.
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": code})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.challenge_invalid")),
        "{r}"
    );
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": challenge, "proof": proof})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.challenge_invalid")),
        "{r}"
    );
    assert_eq!(size(), before + 2);
    // The new key signs; the old one is refused.
    let uri = format!("/v1/actors/key?actor=party/PA-seller&after_seq={bound}");
    let (s, b) = call!(app, web_test::TestRequest::get().uri(&uri));
    assert_eq!(
        (s, json_of(&b)["key"].clone()),
        (200, json!(new_key.public().to_base64()))
    );
    let verify = |key: &SecretKey, nonce: &str| {
        sign(
            key,
            seller,
            "property.verify",
            "verification/PV-1",
            json!({"certificate_no": CERT}),
            now(),
            nonce,
        )
    };
    let (s, r) = post_command!(app, &verify(&old_key, "recovery-nonce-old1"));
    assert_eq!(
        (s, r["code"].clone()),
        (401, json!("auth.key_revoked")),
        "{r}"
    );
    let (s, r) = post_command!(app, &verify(&new_key, "recovery-nonce-new1"));
    assert_eq!(s, 201, "{r}");

    // An erased party is never recovered: no code is sent, a guess fails, nothing appended.
    let platform = node.keys().get("platform").cloned().unwrap();
    let party = node.views().doc(buyer).unwrap();
    let Some(deedlog_views::Doc::Party(doc)) = party else {
        panic!("no buyer")
    };
    let (s, r) = post_command!(
        app,
        &sign(
            &platform,
            "platform",
            "erasure.record",
            "erasure/ER-1",
            json!({"subject": buyer, "commitments": [doc.phone_commitment], "receipt_hash": hash("erasure receipt")}),
            now(),
            "recovery-nonce-erase"
        )
    );
    assert_eq!(s, 201, "{r}");
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let before = size();
    let other = deedlog_node::keys::generate();
    let (s, c) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        ask(BUYER.0, BUYER.1, &other)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    assert_eq!(sent_to(&challenge), None, "no code for an erased party");
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": "123456"})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.code_wrong")),
        "{r}"
    );
    assert_eq!(size(), before);
    // Malformed input: refused before anything.
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        json!({"name": SELLER.0, "id_number": SELLER.1, "key": "not a key"})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (400, json!("identity.invalid")),
        "{r}"
    );
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/challenge",
        json!({"name": SELLER.0, "id_number": SELLER.1, "key": other.public().to_base64(), "party": seller})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (400, json!("request.bad_json")),
        "{r}"
    );
}

#[actix_web::test]
async fn at_an_office_the_clerks_check_proves_the_recovery() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let seller = "party/PA-seller";
    let old_key = deedlog_node::keys::generate();
    let (s, r) = register!(
        app,
        node,
        seller,
        &old_key,
        SELLER.2,
        now(),
        "office-nonce-0001"
    );
    assert_eq!(s, 201, "{r}");
    let seq = r["seq"].as_u64().unwrap();
    let (s, b) = attest!(app, node, seller, &old_key, SELLER, Some(seq), now());
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let office = node.keys().get("office/OF-01").cloned().unwrap();
    let new_key = deedlog_node::keys::generate();
    let uri = "/v1/identity/office/recover";
    let body = |name: &str, id: &str| {
        json!({"name": name, "id_number": id, "key": new_key.public().to_base64()}).to_string()
    };
    let before = size();
    // Only an office; the person must be on the register; and must have a verified party.
    let (s, b) = call!(
        app,
        signed_post(
            &old_key,
            seller,
            uri,
            now(),
            body(SELLER.0, SELLER.1).as_bytes()
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (403, json!("request.forbidden"))
    );
    let (s, b) = call!(
        app,
        signed_post(
            &office,
            "office/OF-01",
            uri,
            now(),
            body(BUYER.0, SELLER.1).as_bytes()
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.not_on_register"))
    );
    let (s, b) = call!(
        app,
        signed_post(
            &office,
            "office/OF-01",
            uri,
            now(),
            body(BUYER.0, BUYER.1).as_bytes()
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.no_party"))
    );
    assert_eq!(size(), before);
    let (s, b) = call!(
        app,
        signed_post(
            &office,
            "office/OF-01",
            uri,
            now(),
            body(SELLER.0, SELLER.1).as_bytes()
        )
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let proven = json_of(&b);
    assert_eq!(proven["party"], json!(seller));
    let proof = deedlog_domain::keys::prove_possession(&new_key, seller);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": proven["challenge"], "proof": proof})
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(size(), before + 2);
    let (s, r) = post_json!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": proven["challenge"], "proof": proof})
    );
    assert_eq!(
        (s, r["code"].clone()),
        (422, json!("identity.challenge_invalid")),
        "spent: {r}"
    );
    assert_eq!(size(), before + 2);
}

#[actix_web::test]
async fn only_the_housing_authority_gets_a_new_agents_commitments_and_certifies_it_with_its_own_key()
 {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let keys = node.keys();
    let housing = keys.get("authority/housing").cloned().unwrap();
    let office = keys.get("office/OF-01").cloned().unwrap();
    let uri = "/v1/identity/agent/commitments";
    let body = json!({"name": OUTSIDER.0, "id_number": OUTSIDER.1}).to_string();
    // Not the housing authority: refused.
    let (s, b) = call!(
        app,
        signed_post(&office, "office/OF-01", uri, now(), body.as_bytes())
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (403, json!("request.forbidden"))
    );
    let (s, _) = call!(
        app,
        web_test::TestRequest::post()
            .uri(uri)
            .set_payload(body.clone())
            .insert_header(("content-type", "application/json"))
    );
    assert_eq!(s, 401);
    // Not on the register: refused.
    let wrong = json!({"name": SELLER.0, "id_number": OUTSIDER.1}).to_string();
    let (s, b) = call!(
        app,
        signed_post(&housing, "authority/housing", uri, now(), wrong.as_bytes())
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.not_on_register"))
    );
    let (s, b) = call!(
        app,
        signed_post(&housing, "authority/housing", uri, now(), body.as_bytes())
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let c = json_of(&b);
    let text = c.to_string();
    assert!(
        !text.contains(OUTSIDER.1) && !text.contains(OUTSIDER.2),
        "{text}"
    );
    // The new agent's key, made on its own device, with its proof for its id.
    let agent = "agent/AT-new";
    let agent_key = deedlog_node::keys::generate();
    let payload = json!({"agency": "agency/AG-0001", "licence_no": "KMJJR-2026-0099",
        "name_commitment": c["name_commitment"], "id_commitment": c["id_commitment"],
        "phone_commitment": c["phone_commitment"],
        "key": {"key": agent_key.public().to_base64(), "proof": deedlog_domain::keys::prove_possession(&agent_key, agent)}});
    let (s, r) = post_command!(
        app,
        &sign(
            &housing,
            "authority/housing",
            "agent.certify",
            agent,
            payload,
            now(),
            "recovery-nonce-agent"
        )
    );
    assert_eq!(s, 201, "{r}");
    // The agent acts with its own key at once.
    let (s, b) = call!(
        app,
        signed_get(
            &agent_key,
            agent,
            &format!("/v1/agents/AT-new/entrustments?after_seq={}", r["seq"]),
            now()
        )
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
}
