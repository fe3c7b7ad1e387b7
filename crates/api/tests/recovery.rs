//! A lost or new device: a citizen whose browser key is gone binds a new key after real-name
//! re-verification (a code to the phone on file), the old one revoked on the log. Each attack
//! fails and appends nothing: someone who knows the person's ID number and phone but not the
//! code, a wrong, expired or reused code, a key already in use, a forged proof, a party that is
//! erased, a flood. Guessing across many challenges is stopped by the wrong-code caps (per
//! person and per client address, over a day), and neither those caps nor a stranger's requests
//! for someone's codes keep that person from their own code or from the filing office. Also the
//! housing authority's check of a new agent's person.

#[macro_use]
mod common;

use common::*;
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

    // A flood on one ID number from one address: the fourth challenge in the window is
    // refused. It uses up that address's allowance only: another address still gets one.
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
    let (s, r) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/recover/challenge")
            .peer_addr(std::net::SocketAddr::from(([10, 0, 0, 2], 40_000)))
            .set_json(ask(SELLER.0, SELLER.1, &mallory_key))
    );
    assert_eq!(s, 202, "{}", String::from_utf8_lossy(&r));
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

/// `POST` of a JSON body to a public identity route from the client address `from`:
/// `(status, body)`.
macro_rules! post_json_at {
    ($app:expr, $uri:expr, $body:expr, $from:expr) => {{
        let (s, b) = call!(
            $app,
            web_test::TestRequest::post()
                .uri($uri)
                .peer_addr($from)
                .set_json($body)
        );
        (s, json_of(&b))
    }};
}

/// Registers `who` with the person's phone and verifies the real name, through the real routes.
macro_rules! verified {
    ($app:expr, $node:expr, $who:expr, $key:expr, $person:expr, $now:expr, $nonce:expr) => {{
        let person: (&str, &str, &str) = $person;
        let (s, r) = register!($app, $node, $who, $key, person.2, $now, $nonce);
        assert_eq!(s, 201, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let (s, b) = attest!($app, $node, $who, $key, person, Some(seq), $now);
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    }};
}

/// A client address of the tests (`10.0.0.n`).
fn at(n: u8) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([10, 0, 0, n], 40_000))
}

/// A code other than `right`.
fn wrong_of(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// Someone guessing one person's recovery code over many challenges, each from another address,
/// is stopped after 10 wrong codes for that ID number in 24 hours: even a right code is then
/// refused online, and the refusal sends the person to a filing office, where the clerk's check
/// recovers at once. A day later the online path is open again.
#[actix_web::test]
async fn guessing_one_persons_code_stops_online_after_the_cap_and_the_office_still_recovers() {
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
    verified!(app, node, seller, &old_key, SELLER, now(), "cap-nonce-0001");
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let ask = |key: &SecretKey| json!({"name": SELLER.0, "id_number": SELLER.1, "key": key.public().to_base64()});
    let mallory_key = deedlog_node::keys::generate();
    let before = size();

    // Three challenges, three wrong codes each, from three addresses: 9 wrong codes.
    let mut wrong_codes = 0;
    for from in [at(10), at(11), at(12)] {
        let (s, c) = post_json_at!(
            app,
            "/v1/identity/recover/challenge",
            ask(&mallory_key),
            from
        );
        assert_eq!(s, 202, "{c}");
        let challenge = c["challenge"].as_str().unwrap().to_owned();
        let wrong = wrong_of(&sms_code(&node, &challenge));
        for left in [2, 1, 0] {
            let (s, r) = post_json_at!(
                app,
                "/v1/identity/recover/verify",
                json!({"challenge": challenge, "code": wrong}),
                from
            );
            assert_eq!(
                (s, r["code"].clone(), r["details"]["tries_left"].clone()),
                (422, json!("identity.code_wrong"), json!(left)),
                "{r}"
            );
            wrong_codes += 1;
        }
    }
    // Two more challenges; the 10th wrong code voids the first of them, and the second is then
    // refused even with its right code.
    let mut open = Vec::new();
    for from in [at(13), at(14)] {
        let (s, c) = post_json_at!(
            app,
            "/v1/identity/recover/challenge",
            ask(&mallory_key),
            from
        );
        assert_eq!(s, 202, "{c}");
        open.push(c["challenge"].as_str().unwrap().to_owned());
    }
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": open[0], "code": wrong_of(&sms_code(&node, &open[0]))}),
        at(13)
    );
    wrong_codes += 1;
    assert_eq!(wrong_codes, 10);
    assert_eq!(
        (s, r["code"].clone(), r["details"]["tries_left"].clone()),
        (422, json!("identity.code_wrong"), json!(0)),
        "the cap is reached: {r}"
    );
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": open[1], "code": sms_code(&node, &open[1])}),
        at(14)
    );
    assert_eq!(
        (s, r["code"].clone(), r["details"]["scope"].clone()),
        (
            429,
            json!("identity.too_many_wrong_codes"),
            json!("id_number")
        ),
        "{r}"
    );
    // The person, from their own address, is told to go to a filing office.
    let new_key = deedlog_node::keys::generate();
    let (s, r) = post_json_at!(app, "/v1/identity/recover/challenge", ask(&new_key), at(1));
    assert_eq!(
        (s, r["code"].clone()),
        (429, json!("identity.too_many_wrong_codes")),
        "{r}"
    );
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("filing office"), "{message}");
    assert!(
        r["details"]["retry_after_ms"].as_u64().unwrap() > 23 * 3600 * 1000,
        "{r}"
    );
    assert_eq!(size(), before);

    // At the office: the clerk's check recovers at once.
    let office = node.keys().get("office/OF-01").cloned().unwrap();
    let body =
        json!({"name": SELLER.0, "id_number": SELLER.1, "key": new_key.public().to_base64()})
            .to_string();
    let (s, b) = call!(
        app,
        signed_post(
            &office,
            "office/OF-01",
            "/v1/identity/office/recover",
            now(),
            body.as_bytes()
        )
        .peer_addr(at(1))
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let proven = json_of(&b);
    assert_eq!(proven["party"], json!(seller));
    let proof = deedlog_domain::keys::prove_possession(&new_key, seller);
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/recover/bind",
        json!({"challenge": proven["challenge"], "proof": proof}),
        at(1)
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(size(), before + 2);

    // A day later the online path is open again.
    fx.clock
        .fetch_add(24 * 3600 * 1000 + 60_000, Ordering::SeqCst);
    let third_key = deedlog_node::keys::generate();
    let (s, c) = post_json_at!(
        app,
        "/v1/identity/recover/challenge",
        ask(&third_key),
        at(1)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": sms_code(&node, &challenge)}),
        at(1)
    );
    assert_eq!((s, r["party"].clone()), (200, json!(seller)), "{r}");
}

/// One address guessing codes across many people's challenges (here the phone challenges of ten
/// numbers, three wrong codes each) is stopped by its own cap of 30 wrong codes in 24 hours, on
/// every route that checks a code; another address is not.
#[actix_web::test]
async fn one_address_guessing_across_many_people_is_stopped_by_its_own_cap() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let mallory = "party/PA-mallory";
    let mallory_key = deedlog_node::keys::generate();
    let voucher_body = |challenge: &str, code: &str| {
        json!({"challenge": challenge, "code": code, "party": mallory,
               "key": mallory_key.public().to_base64()})
    };
    let phones: Vec<String> = (0..11).map(|i| format!("1390000{i:04}")).collect();
    let mut challenges = Vec::new();
    for phone in &phones {
        let (s, c) = post_json_at!(
            app,
            "/v1/identity/phone/challenge",
            json!({"phone": phone}),
            at(20)
        );
        assert_eq!(s, 202, "{c}");
        challenges.push(c["challenge"].as_str().unwrap().to_owned());
    }
    for challenge in &challenges[..10] {
        let wrong = wrong_of(&sms_code(&node, challenge));
        for _ in 0..3 {
            let (s, r) = post_json_at!(
                app,
                "/v1/identity/phone/voucher",
                voucher_body(challenge, wrong),
                at(20)
            );
            assert_eq!(
                (s, r["code"].clone()),
                (422, json!("identity.code_wrong")),
                "{r}"
            );
        }
    }
    // The 31st guess from this address is refused, even the right code of the eleventh number.
    let last = &challenges[10];
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/phone/voucher",
        voucher_body(last, &sms_code(&node, last)),
        at(20)
    );
    assert_eq!(
        (s, r["code"].clone(), r["details"]["scope"].clone()),
        (429, json!("identity.too_many_wrong_codes"), json!("client")),
        "{r}"
    );
    assert!(
        r["message"].as_str().unwrap().contains("network address"),
        "{r}"
    );
    // … and on the other routes that check a code, and for new codes.
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": last, "code": "123456"}),
        at(20)
    );
    assert_eq!(
        (s, r["code"].clone()),
        (429, json!("identity.too_many_wrong_codes")),
        "{r}"
    );
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/phone/challenge",
        json!({"phone": "13912345678"}),
        at(20)
    );
    assert_eq!(
        (s, r["code"].clone()),
        (429, json!("identity.too_many_wrong_codes")),
        "{r}"
    );
    // Another address is not held back: its own code for the eleventh number is accepted.
    let (s, c) = post_json_at!(
        app,
        "/v1/identity/phone/challenge",
        json!({"phone": phones[10]}),
        at(21)
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/phone/voucher",
        voucher_body(&challenge, &sms_code(&node, &challenge)),
        at(21)
    );
    assert_eq!(s, 200, "{r}");
}

/// A stranger who knows a person's ID number and phone number and asks for codes for them
/// uses up only the stranger's own allowance: the person still gets a code for a lost device,
/// for registering with the phone and for real-name verification, and the filing office's
/// recovery is never held back by these counts, even from the stranger's own address.
#[actix_web::test]
async fn a_stranger_asking_for_someones_codes_does_not_stop_the_person_nor_the_office() {
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
    let seller_key = deedlog_node::keys::generate();
    verified!(
        app,
        node,
        seller,
        &seller_key,
        SELLER,
        now(),
        "stranger-nonce-01"
    );
    let mallory = "party/PA-mallory";
    let mallory_key = deedlog_node::keys::generate();
    let (s, r) = register!(
        app,
        node,
        mallory,
        &mallory_key,
        "13900000001",
        now(),
        "stranger-nonce-02"
    );
    assert_eq!(s, 201, "{r}");
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let recover_ask = |key: &SecretKey| json!({"name": SELLER.0, "id_number": SELLER.1, "key": key.public().to_base64()});
    let realname = json!({"name": OUTSIDER.0, "id_number": OUTSIDER.1}).to_string();
    let realname_uri = "/v1/identity/realname/challenge";

    // Mallory, from the address the office's requests also come from, asks until she is refused:
    // a recovery for the seller, a phone code for the outsider's number, a real-name check of the
    // outsider's ID number.
    let stranger = at(30);
    for attempt in 0..4 {
        let expect = if attempt < 3 { 202 } else { 429 };
        let (s, r) = post_json_at!(
            app,
            "/v1/identity/recover/challenge",
            recover_ask(&mallory_key),
            stranger
        );
        assert_eq!(s, expect, "{r}");
        let (s, r) = post_json_at!(
            app,
            "/v1/identity/phone/challenge",
            json!({"phone": OUTSIDER.2}),
            stranger
        );
        assert_eq!(s, expect, "{r}");
        let (s, b) = call!(
            app,
            signed_post(
                &mallory_key,
                mallory,
                realname_uri,
                now(),
                realname.as_bytes()
            )
            .peer_addr(stranger)
        );
        assert_eq!(s, expect, "{}", String::from_utf8_lossy(&b));
    }

    // The seller, from her own address, still gets her recovery code.
    let person = at(31);
    let new_key = deedlog_node::keys::generate();
    let (s, c) = post_json_at!(
        app,
        "/v1/identity/recover/challenge",
        recover_ask(&new_key),
        person
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/recover/verify",
        json!({"challenge": challenge, "code": sms_code(&node, &challenge)}),
        person
    );
    assert_eq!((s, r["party"].clone()), (200, json!(seller)), "{r}");
    // The office recovers her, from the stranger's address, as often as it needs to.
    let office = node.keys().get("office/OF-01").cloned().unwrap();
    let office_body = recover_ask(&new_key).to_string();
    for _ in 0..4 {
        let (s, b) = call!(
            app,
            signed_post(
                &office,
                "office/OF-01",
                "/v1/identity/office/recover",
                now(),
                office_body.as_bytes()
            )
            .peer_addr(stranger)
        );
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        assert_eq!(json_of(&b)["party"], json!(seller));
    }

    // The outsider registers with her own phone and verifies her real name, from her address.
    let outsider = "party/PA-outsider";
    let outsider_key = deedlog_node::keys::generate();
    let (s, c) = post_json_at!(
        app,
        "/v1/identity/phone/challenge",
        json!({"phone": OUTSIDER.2}),
        person
    );
    assert_eq!(s, 202, "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let (s, v) = post_json_at!(
        app,
        "/v1/identity/phone/voucher",
        json!({"challenge": challenge, "code": sms_code(&node, &challenge), "party": outsider,
               "key": outsider_key.public().to_base64()}),
        person
    );
    assert_eq!(s, 200, "{v}");
    let (s, r) = post_command!(
        app,
        &sign(
            &outsider_key,
            outsider,
            "party.register",
            outsider,
            v,
            now(),
            "stranger-nonce-03"
        )
    );
    assert_eq!(s, 201, "{r}");
    let uri = format!("{realname_uri}?after_seq={}", r["seq"]);
    let (s, b) = call!(
        app,
        signed_post(&outsider_key, outsider, &uri, now(), realname.as_bytes()).peer_addr(person)
    );
    assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
    let challenge = json_of(&b)["challenge"].as_str().unwrap().to_owned();
    let body = json!({"challenge": challenge, "code": sms_code(&node, &challenge)}).to_string();
    let (s, b) = call!(
        app,
        signed_post(
            &outsider_key,
            outsider,
            "/v1/identity/realname/attest",
            now(),
            body.as_bytes()
        )
        .peer_addr(person)
    );
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
}

/// Strangers at many addresses cannot have a person's phone sent codes without end: at most 10
/// codes go to one phone number in 10 minutes, whoever asks, and another number is not affected.
#[actix_web::test]
async fn codes_to_one_phone_are_capped_whatever_the_addresses_asking() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let phone = "13900009999";
    let mut answers = Vec::new();
    for n in 0..12u8 {
        let (s, r) = post_json_at!(
            app,
            "/v1/identity/phone/challenge",
            json!({"phone": phone}),
            at(100 + n)
        );
        answers.push((s, r["code"].as_str().unwrap_or("").to_owned()));
    }
    assert!(answers[..10].iter().all(|(s, _)| *s == 202), "{answers:?}");
    assert_eq!(answers[10], (429, "rate.limited".to_owned()), "{answers:?}");
    assert_eq!(answers[11].0, 429, "{answers:?}");
    let (s, r) = post_json_at!(
        app,
        "/v1/identity/phone/challenge",
        json!({"phone": "13900009998"}),
        at(100)
    );
    assert_eq!(s, 202, "{r}");
    node.shutdown();
}
