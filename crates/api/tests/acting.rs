//! Acting for someone else, and what that lets one read: a proxy reads the principal's
//! contracts on the filing's property only while its filing is verified, unexpired and
//! unrevoked (and its `via_proxy` steps carry `derived.on_behalf_of`); a buyer's agent reads
//! the buyer's contracts within its purchase entrustment's districts and budget only while the
//! entrustment is accepted and unexpired. Every other reader is refused.

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

const DAY: i64 = 86_400_000;

/// The contract ids of a page answer.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_proxy_and_a_buyers_agent_read_exactly_what_they_may_act_on() {
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
    let mut n = 0;
    let mut nonce = || {
        n += 1;
        format!("act-nonce-{n:04}")
    };
    let seller = "party/PA-seller";
    let buyer = "party/PA-buyer";
    let proxy = "party/PA-proxy";
    let seller_key = deedlog_node::keys::generate();
    let buyer_key = deedlog_node::keys::generate();
    let proxy_key = deedlog_node::keys::generate();
    for (who, key, person) in [
        (seller, &seller_key, SELLER),
        (buyer, &buyer_key, BUYER),
        (proxy, &proxy_key, OUTSIDER),
    ] {
        let (s, r) = register!(app, node, who, key, person.2, now(), &nonce());
        assert_eq!(s, 201, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let (s, b) = attest!(app, node, who, key, person, Some(seq), now());
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    }
    let keys = node.keys();
    let agent = "agent/AT-0001";
    let agent_key = keys.get(agent).cloned().unwrap();
    let office = "office/OF-01";
    let office_key = keys.get(office).cloned().unwrap();

    // The seller lists both flats itself; a contract with the buyer is drafted on each.
    let mut property = Vec::new();
    for (i, (cert, district, community, area, floor, floors)) in [
        (CERT, "五华区", "翠湖花园", 8950u64, 5i16, 7u16),
        (CERT2, "盘龙区", "金江小区", 7600, 4, 6),
    ]
    .into_iter()
    .enumerate()
    {
        let k = i + 1;
        let (s, r) = post_command!(
            app,
            &sign(
                &seller_key,
                seller,
                "property.verify",
                &format!("verification/PV-{k}"),
                json!({"certificate_no": cert}),
                now(),
                &nonce()
            )
        );
        assert_eq!(s, 201, "{r}");
        let pr = r["derived"]["property"].as_str().unwrap().to_owned();
        let (s, r) = post_command!(
            app,
            &sign(
                &seller_key,
                seller,
                "listing.publish",
                &format!("listing/LS-{k}"),
                json!({"verification": format!("verification/PV-{k}"), "price_fen": 120_000_000u64,
                         "area_centi_m2": area, "rooms": 2, "halls": 1, "bathrooms": 1, "floor": floor,
                         "floors_total": floors, "district": district, "community": community,
                         "title": "业主自售两室一厅", "description": "南北通透。",
                         "photos": [hash(&format!("photo-{k}"))]}),
                now(),
                &nonce()
            )
        );
        assert_eq!(s, 201, "{r}");
        let facts = deedlog_client::deal::PropertyFacts {
            id: pr.clone(),
            certificate_no: cert.to_owned(),
            district: district.to_owned(),
            community: community.to_owned(),
            area_centi_m2: area,
            rooms: 2,
            halls: 1,
            bathrooms: 1,
            floor,
            floors_total: floors,
            mortgage: None,
        };
        let terms =
            deedlog_client::deal::lump_sum_terms(&facts, seller, buyer, None, 120_000_000, now());
        let doc = deedlog_client::deal::document_hash(&terms).unwrap();
        let (s, r) = post_command!(
            app,
            &sign(
                &seller_key,
                seller,
                "contract.draft",
                &format!("contract/CT-{k}"),
                json!({"listing": format!("listing/LS-{k}"), "buyer": buyer, "terms": terms,
                         "document_hash": doc}),
                now(),
                &nonce()
            )
        );
        assert_eq!(s, 201, "{r}");
        property.push((pr, doc));
    }

    // The proxy files for the seller, limited to the first flat and to contract steps.
    let file = |stream: &str, days: i64, nonce: String| {
        sign(
            &proxy_key,
            proxy,
            "proxy.file",
            stream,
            json!({"principal": seller, "property": property[0].0, "scope": ["contract"],
                    "expires_at_ms": now() + days * DAY, "document_hashes": [hash(stream)]}),
            now(),
            &nonce,
        )
    };
    let (s, r) = post_command!(app, &file("proxy/PX-1", 10, nonce()));
    assert_eq!(s, 201, "{r}");
    let read = |who: &SecretKey, actor: &str, uri: &str| signed_get(who, actor, uri, now());
    let mut last = r["seq"].as_u64().unwrap();
    let px1 = |seq: u64| format!("/v1/proxies/PX-1/contracts?after_seq={seq}");
    // Not yet verified at an office: nothing.
    let (s, b) = call!(app, read(&proxy_key, proxy, &px1(last)));
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (403, json!("request.forbidden"))
    );
    // The office checks the principal's ID card and verifies the filing.
    let verify = |stream: &str, nonce: String, commitment: &str| {
        sign(
            &office_key,
            office,
            "proxy.verify",
            stream,
            json!({"principal_id_commitment": commitment}),
            now(),
            &nonce,
        )
    };
    let body = json!({"party": seller, "name": SELLER.0, "id_number": SELLER.1}).to_string();
    let (s, b) = call!(
        app,
        signed_post(
            &office_key,
            office,
            "/v1/identity/office/commitments",
            now(),
            body.as_bytes()
        )
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let commitment = json_of(&b)["id_commitment"].as_str().unwrap().to_owned();
    let (s, r) = post_command!(app, &verify("proxy/PX-1", nonce(), &commitment));
    assert_eq!(s, 201, "{r}");
    last = r["seq"].as_u64().unwrap();
    // The proxy now sees the principal's contract on the filing's property, not the other one.
    let (s, b) = call!(app, read(&proxy_key, proxy, &px1(last)));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(ids(&json_of(&b)), vec!["contract/CT-1".to_owned()]);
    // Nobody else reads it: not the principal, the buyer, the agent or an office.
    for (key, actor) in [
        (&seller_key, seller),
        (&buyer_key, buyer),
        (&agent_key, agent),
        (&office_key, office),
    ] {
        let (s, b) = call!(app, read(key, actor, &px1(last)));
        assert_eq!(
            (s, json_of(&b)["code"].clone()),
            (403, json!("request.forbidden")),
            "{actor}"
        );
    }
    // The proxy confirms the seller's side for the principal: the entry names whom for.
    let (s, r) = post_command!(
        app,
        &sign(
            &proxy_key,
            proxy,
            "contract.confirm",
            "contract/CT-1",
            json!({"document_hash": property[0].1, "via_proxy": "proxy/PX-1"}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["derived"]["on_behalf_of"], json!(seller), "{r}");
    assert_eq!(r["derived"]["proxy"], json!("proxy/PX-1"), "{r}");
    assert_eq!(r["derived"]["role"], json!("seller"), "{r}");
    // Not on the other flat: refused, nothing appended.
    let before = size();
    let (s, r) = post_command!(
        app,
        &sign(
            &proxy_key,
            proxy,
            "contract.confirm",
            "contract/CT-2",
            json!({"document_hash": property[1].1, "via_proxy": "proxy/PX-1"}),
            now(),
            &nonce()
        )
    );
    assert_eq!(
        (s, r["code"].clone()),
        (403, json!("proxy.out_of_scope")),
        "{r}"
    );
    assert_eq!(size(), before);

    // The buyer entrusts the agent to buy in 五华区 up to 150万; another citizen does too.
    for (k, key, who, budget, districts) in [
        (1, &buyer_key, buyer, 150_000_000u64, json!(["五华区"])),
        (2, &proxy_key, proxy, 900_000_000, json!([])),
        (3, &buyer_key, buyer, 100_000_000, json!([])),
    ] {
        let stream = format!("entrustment/EN-{k}");
        let (s, r) = post_command!(
            app,
            &sign(
                key,
                who,
                "entrustment.purchase",
                &stream,
                json!({"agent": agent, "budget_max_fen": budget, "districts": districts,
                         "expires_at_ms": now() + 5 * DAY}),
                now(),
                &nonce()
            )
        );
        assert_eq!(s, 201, "{r}");
        if k == 1 {
            // Offered, not yet accepted: nothing.
            last = r["seq"].as_u64().unwrap();
            let uri = format!("/v1/entrustments/EN-1/contracts?after_seq={last}");
            let (s, _) = call!(app, read(&agent_key, agent, &uri));
            assert_eq!(s, 403);
        }
        let (s, r) = post_command!(
            app,
            &sign(
                &agent_key,
                agent,
                "entrustment.accept",
                &stream,
                json!({}),
                now(),
                &nonce()
            )
        );
        assert_eq!(s, 201, "{r}");
        last = r["seq"].as_u64().unwrap();
    }
    let en = |k: u32, seq: u64| format!("/v1/entrustments/EN-{k}/contracts?after_seq={seq}");
    // Within the districts and budget: the first flat's contract only (the second is in 盘龙区).
    let (s, b) = call!(app, read(&agent_key, agent, &en(1, last)));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(ids(&json_of(&b)), vec!["contract/CT-1".to_owned()]);
    // Another buyer's entrustment shows none of this buyer's contracts; a budget below the
    // price shows none either.
    for k in [2, 3] {
        let (s, b) = call!(app, read(&agent_key, agent, &en(k, last)));
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        assert!(
            ids(&json_of(&b)).is_empty(),
            "EN-{k}: {}",
            String::from_utf8_lossy(&b)
        );
    }
    // Only the agent reads it.
    for (key, actor) in [
        (&buyer_key, buyer),
        (&seller_key, seller),
        (&proxy_key, proxy),
    ] {
        let (s, _) = call!(app, read(key, actor, &en(1, last)));
        assert_eq!(s, 403, "{actor}");
    }
    // The agent confirms the buyer's side under the entrustment.
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "contract.confirm",
            "contract/CT-1",
            json!({"document_hash": property[0].1, "entrustment": "entrustment/EN-1"}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["derived"]["role"], json!("buyer"), "{r}");
    last = r["seq"].as_u64().unwrap();

    // A second filing, verified, then revoked by the principal: nothing after the revocation.
    let (s, r) = post_command!(app, &file("proxy/PX-2", 60, nonce()));
    assert_eq!(s, 201, "{r}");
    let (s, r) = post_command!(app, &verify("proxy/PX-2", nonce(), &commitment));
    assert_eq!(s, 201, "{r}");
    let px2 = |seq: u64| format!("/v1/proxies/PX-2/contracts?after_seq={seq}");
    let (s, _) = call!(
        app,
        read(&proxy_key, proxy, &px2(r["seq"].as_u64().unwrap()))
    );
    assert_eq!(s, 200);
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "proxy.revoke",
            "proxy/PX-2",
            json!({"reason": "委托事项已完成"}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let (s, _) = call!(
        app,
        read(&proxy_key, proxy, &px2(r["seq"].as_u64().unwrap()))
    );
    assert_eq!(s, 403, "a revoked filing shows nothing");

    // Past their ends (the entrustment after 5 days, the first filing after 10): nothing.
    fx.clock.fetch_add(6 * DAY, Ordering::SeqCst);
    let (s, _) = call!(app, read(&agent_key, agent, &en(1, last)));
    assert_eq!(s, 403, "an expired entrustment shows nothing");
    let (s, _) = call!(app, read(&proxy_key, proxy, &px1(last)));
    assert_eq!(s, 200, "the filing still runs");
    fx.clock.fetch_add(5 * DAY, Ordering::SeqCst);
    let (s, _) = call!(app, read(&proxy_key, proxy, &px1(last)));
    assert_eq!(s, 403, "an expired filing shows nothing");
    // Unsigned: refused before anything.
    let (s, _) = call!(
        app,
        web_test::TestRequest::get().uri("/v1/proxies/PX-1/contracts")
    );
    assert_eq!(s, 401);
}
