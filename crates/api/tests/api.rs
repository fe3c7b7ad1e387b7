//! In-process tests of the API over a real node on a temporary data folder with a tiny reference
//! set: a deal up to a published listing, every error class (with the log unchanged after each
//! rejection), idempotent retries, stale commands, revoked keys, signed private reads,
//! read-your-writes, verification bundles, log export, the follow stream, and views rebuilt from
//! zero answering byte for byte the same after a restart.

#[macro_use]
mod common;

use actix_web::body::MessageBody as _;
use deedlog_core::bundle::ProofBundle;

use common::*;

/// The answers whose bytes must survive a rebuild of the views.
const PUBLIC_READS: &[&str] = &[
    "/v1/listings",
    "/v1/listings?sort=price_asc&district=%E4%BA%94%E5%8D%8E%E5%8C%BA",
    "/v1/listings/LS-1",
    "/v1/agencies",
    "/v1/agents",
    "/v1/agents/AT-0001",
    "/v1/offices",
    "/v1/banks",
    "/v1/actors/key?actor=party/PA-seller",
];

#[actix_web::test]
async fn a_deal_over_http_with_every_error_class_and_views_rebuilt_identically() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let vkey = node.log_vkey().to_owned();
    let state = AppState::new(node.clone(), ApiConfig::default());
    let app = web_test::init_service(deedlog_api::app(state)).await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();

    // Health, readiness, the log's first entries.
    let (s, _) = call!(app, web_test::TestRequest::get().uri("/healthz"));
    assert_eq!(s, 200);
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let (s, b) = call!(app, web_test::TestRequest::get().uri("/readyz"));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));

    // Register and attest the seller and the buyer through the embedded identity authority.
    let seller_key = deedlog_node::keys::generate();
    let buyer_key = deedlog_node::keys::generate();
    let mut nonce = 0;
    let mut next_nonce = || {
        nonce += 1;
        format!("test-nonce-{nonce:04}")
    };
    for (who, key, person) in [
        ("party/PA-seller", &seller_key, SELLER),
        ("party/PA-buyer", &buyer_key, BUYER),
    ] {
        let (s, r) = register!(app, node, who, key, person.2, now(), &next_nonce());
        assert_eq!(s, 201, "{r}");
        // Read-your-writes: the party document is there once the views applied the receipt's seq.
        let seq = r["seq"].as_u64().unwrap();
        let uri = format!("/v1/parties/{}?after_seq={seq}", &who["party/".len()..]);
        let (s, b) = call!(app, signed_get(key, who, &uri, now()));
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        assert_eq!(json_of(&b)["verified"], json!(false));
        // The same phone cannot get a second voucher; only whoever proves the code is told.
        let (s, b) = voucher!(
            app,
            node,
            person.2,
            "party/PA-second",
            &deedlog_node::keys::generate()
        );
        assert_eq!(
            (s, json_of(&b)["code"].clone()),
            (409, json!("party.phone_taken"))
        );
        let (s, b) = attest!(app, node, who, key, person, Some(seq), now());
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
        // Attesting again is refused plainly (the party learns only about itself), once the
        // views have the verification (`after_seq`: they apply the log behind it).
        let verified_at = json_of(&b)["seq"].as_u64().expect("a receipt");
        let (s, b) = call!(
            app,
            signed_post(
                key,
                who,
                &format!("/v1/identity/realname/challenge?after_seq={verified_at}"),
                now(),
                json!({"name": person.0, "id_number": person.1})
                    .to_string()
                    .as_bytes()
            )
        );
        assert_eq!(
            (s, json_of(&b)["code"].clone()),
            (409, json!("party.already_verified"))
        );
    }

    // Property verification: the registry's owner commitment matches the attested seller.
    let seller = "party/PA-seller";
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "property.verify",
            "verification/PV-1",
            json!({"certificate_no": CERT}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    // Entrust the reference agent, whose demo key the node holds.
    let agent = "agent/AT-0001";
    let agent_key = node
        .keys()
        .get(agent)
        .cloned()
        .expect("the node holds the reference agent's key");
    let day = 86_400_000;
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "entrustment.sale",
            "entrustment/EN-1",
            json!({"verification": "verification/PV-1", "agent": agent, "floor_price_fen": 100_000_000i64,
                     "expires_at_ms": now() + 30 * day, "review_agent_edits": false}),
            now(),
            &next_nonce()
        ),
    );
    assert_eq!(s, 201, "{r}");
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "entrustment.accept",
            "entrustment/EN-1",
            json!({}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let publish = json!({"entrustment": "entrustment/EN-1", "price_fen": 120_000_000i64, "area_centi_m2": 8950, "rooms": 2,
        "halls": 1, "bathrooms": 1, "floor": 5, "floors_total": 7, "district": "五华区", "community": "翠湖花园",
        "title": "翠湖旁两室一厅", "description": "南北通透。", "photos": [hash("photo-1"), hash("photo-2")]});
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "listing.publish",
            "listing/LS-1",
            publish,
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let listing_code = r["derived"]["listing_code"].as_str().unwrap().to_owned();
    let publish_seq = r["seq"].as_u64().unwrap();
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "listing.change_price",
            "listing/LS-1",
            json!({"price_fen": 115_000_000i64}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let price_seq = r["seq"].as_u64().unwrap();

    // Public reads after the write.
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!(
            "/v1/listings?after_seq={price_seq}&price_max_fen=116000000"
        ))
    );
    assert_eq!(s, 200);
    let found = json_of(&b);
    assert_eq!(found["items"][0]["id"], json!("listing/LS-1"), "{found}");
    let (_, b) = call!(
        app,
        web_test::TestRequest::get().uri("/v1/listings?price_max_fen=100000000")
    );
    assert_eq!(json_of(&b)["items"], json!([]));
    let (_, b) = call!(app, web_test::TestRequest::get().uri("/v1/listings/LS-1"));
    let detail = json_of(&b);
    let history: Vec<u64> = detail["price_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(history, vec![publish_seq, price_seq]);
    assert!(detail.get("pending").is_none());

    // The price history is bounded in the detail and paged on its own route.
    let mut last_seq = price_seq;
    for i in 0..24i64 {
        let (s, r) = post_command!(
            app,
            &sign(
                &agent_key,
                agent,
                "listing.change_price",
                "listing/LS-1",
                json!({"price_fen": 116_000_000i64 + i * 10_000}),
                now(),
                &next_nonce()
            )
        );
        assert_eq!(s, 201, "{r}");
        last_seq = r["seq"].as_u64().unwrap();
    }
    let (_, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/listings/LS-1?after_seq={last_seq}"))
    );
    let detail = json_of(&b);
    let points = detail["price_history"].as_array().unwrap();
    assert_eq!(points.len(), deedlog_views::PRICE_HISTORY_LATEST);
    assert_eq!(detail["price_history_total"], json!(26));
    assert_eq!(points.last().unwrap()["seq"], json!(last_seq));
    let mut paged = Vec::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let (s, b) = call!(
            app,
            web_test::TestRequest::get().uri(&format!(
                "/v1/listings/LS-1/price-history?limit=10&offset={o}"
            ))
        );
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        let page = json_of(&b);
        assert_eq!(page["total"], json!(26));
        paged.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["seq"].as_u64().unwrap()),
        );
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(paged.len(), 26);
    assert_eq!(&paged[..2], &[publish_seq, price_seq]);
    assert_eq!(*paged.last().unwrap(), last_seq);
    let (s, _) = call!(
        app,
        web_test::TestRequest::get().uri("/v1/listings/LS-404/price-history")
    );
    assert_eq!(s, 404);

    // Verification: listing code and photo hash, each bundle checked on the client side.
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/listing/{listing_code}"))
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let v = json_of(&b);
    for field in ["proof", "current"] {
        let bundle: ProofBundle = serde_json::from_value(v[field].clone()).unwrap();
        let verified = bundle.verify(&vkey).unwrap();
        assert_eq!(verified.entry.stream, "listing/LS-1");
    }
    // Asked again with nothing committed in between: the same bytes (from the answer cache).
    let (_, again) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/listing/{listing_code}"))
    );
    assert_eq!(again, b);
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/verify/document")
            .set_payload("photo-2")
    );
    assert_eq!(s, 200);
    let m = json_of(&b);
    assert_eq!(m["matches"][0]["what"], json!("listing_photo"), "{m}");
    let bundle: ProofBundle = serde_json::from_value(m["matches"][0]["proof"].clone()).unwrap();
    bundle.verify(&vkey).unwrap();
    let (_, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/verify/document")
            .set_payload("not on the log")
    );
    assert_eq!(json_of(&b)["matches"], json!([]));
    let (s, _) = call!(
        app,
        web_test::TestRequest::get().uri("/v1/verify/listing/LV-0000000000000000")
    );
    assert_eq!(s, 404);

    // The spoken form finds the same listing; a mistyped one (one symbol changed, two swapped, a
    // symbol outside the alphabet, a filing code where a listing code is asked) is `400
    // code.mistyped`, told apart from a well-formed unknown code (`404`).
    let spoken = deedlog_domain::ids::spoken_code(&listing_code).unwrap();
    assert_eq!(v["spoken_code"], json!(spoken));
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/listing/{}", spoken.to_lowercase()))
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(json_of(&b)["code"], json!(listing_code));
    let mut swapped: Vec<char> = spoken.chars().collect();
    let n = swapped.len();
    swapped.swap(n - 2, n - 1);
    let swapped: String = swapped.into_iter().collect();
    let mut changed: Vec<char> = spoken.chars().collect();
    changed[4] = if changed[4] == '7' { '8' } else { '7' };
    let changed: String = changed.into_iter().collect();
    let unknown = deedlog_domain::ids::spoken_code("LV-0000000000000000").unwrap();
    let filing_shaped = unknown.replacen("LV", "FC", 1);
    for (typed, status) in [
        (swapped.as_str(), 400),
        (changed.as_str(), 400),
        ("LV-0000U-00000-0000", 400),
        (filing_shaped.as_str(), 400),
        (unknown.as_str(), 404),
    ] {
        if typed == spoken {
            continue;
        }
        let (s, b) = call!(
            app,
            web_test::TestRequest::get().uri(&format!("/v1/verify/listing/{typed}"))
        );
        assert_eq!(s, status, "{typed}: {}", String::from_utf8_lossy(&b));
        let want = if status == 400 {
            "code.mistyped"
        } else {
            "view.not_found"
        };
        assert_eq!(json_of(&b)["code"], json!(want), "{typed}");
    }
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/contract/{swapped}"))
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (400, json!("code.mistyped"))
    );

    // Every error class, each leaving the log as it was.
    let before = size();
    let base = sign(
        &seller_key,
        seller,
        "listing.change_price",
        "listing/LS-1",
        json!({"price_fen": 1}),
        now(),
        &next_nonce(),
    );
    let mut cases: Vec<(web_test::TestRequest, u16, &str)> = vec![
        (
            web_test::TestRequest::post()
                .uri("/v1/commands/listing.change_price")
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
            400,
            "request.bad_json",
        ),
        (
            web_test::TestRequest::post()
                .uri("/v1/commands/listing.withdraw")
                .set_json(&base),
            400,
            "command.kind_mismatch",
        ),
        (
            web_test::TestRequest::post()
                .uri("/v1/commands/no.such_kind")
                .set_json(&base),
            400,
            "command.unknown_kind",
        ),
        (
            web_test::TestRequest::post()
                .uri("/v1/commands/listing.change_price")
                .insert_header(("content-type", "application/json"))
                .set_payload(vec![b' '; 300 * 1024]),
            413,
            "request.too_large",
        ),
    ];
    // An unknown field and a float: refused before any rule, nothing appended.
    let mut unknown = serde_json::to_value(&base).unwrap();
    unknown["extra"] = json!(1);
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/listing.change_price")
            .set_json(&unknown),
        400,
        "request.bad_json",
    ));
    let mut float = serde_json::to_value(&base).unwrap();
    float["payload"]["price_fen"] = json!(1.5);
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/listing.change_price")
            .set_json(&float),
        400,
        "command.malformed",
    ));
    let mut bad_sig = base.clone();
    bad_sig.payload = json!({"price_fen": 2});
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/listing.change_price")
            .set_json(&bad_sig),
        401,
        "command.bad_signature",
    ));
    let forbidden = sign(
        &buyer_key,
        "party/PA-buyer",
        "agency.suspend",
        "agency/AG-0001",
        json!({"reason": "测试"}),
        now(),
        &next_nonce(),
    );
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/agency.suspend")
            .set_json(&forbidden),
        403,
        "auth.role_not_allowed",
    ));
    let mut conflict = sign(
        &agent_key,
        agent,
        "listing.change_price",
        "listing/LS-1",
        json!({"price_fen": 110_000_000i64}),
        now(),
        &next_nonce(),
    )
    .command();
    conflict.expected_version = Some(1);
    let conflict = conflict.sign(&agent_key).unwrap();
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/listing.change_price")
            .set_json(&conflict),
        409,
        "stream.version_conflict",
    ));
    let stale = sign(
        &agent_key,
        agent,
        "listing.change_price",
        "listing/LS-1",
        json!({"price_fen": 110_000_000i64}),
        now() - 3_600_000,
        &next_nonce(),
    );
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/listing.change_price")
            .set_json(&stale),
        422,
        "command.stale",
    ));
    let missing = sign(
        &agent_key,
        agent,
        "listing.change_price",
        "listing/LS-404",
        json!({"price_fen": 110_000_000i64}),
        now(),
        &next_nonce(),
    );
    cases.push((
        web_test::TestRequest::post()
            .uri("/v1/commands/listing.change_price")
            .set_json(&missing),
        404,
        "stream.not_found",
    ));
    for (req, status, code) in cases {
        let (s, b) = call!(app, req);
        let body = json_of(&b);
        assert_eq!(
            (s, body["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}"
        );
        assert!(body["message"].is_string() && body["details"].is_object());
        assert_eq!(size(), before, "a rejection ({code}) appended an entry");
    }

    // Idempotent retry of an appended command: 200, the first receipt, nothing appended.
    let retry = sign(
        &agent_key,
        agent,
        "listing.change_price",
        "listing/LS-1",
        json!({"price_fen": 118_000_000i64}),
        now(),
        &next_nonce(),
    );
    let (s, first) = post_command!(app, &retry);
    assert_eq!(s, 201, "{first}");
    let after_first = size();
    let (s, second) = post_command!(app, &retry);
    assert_eq!(s, 200);
    assert_eq!(second["seq"], first["seq"]);
    assert_eq!(second["duplicate"], json!(true));
    assert_eq!(size(), after_first);

    // Private reads: the owner may, others may not, a bad signature is 401.
    let (s, b) = call!(
        app,
        signed_get(&seller_key, seller, "/v1/parties/PA-seller/listings", now())
    );
    assert_eq!(s, 200);
    assert_eq!(json_of(&b)["items"][0]["id"], json!("listing/LS-1"));
    let (s, _) = call!(
        app,
        signed_get(
            &buyer_key,
            "party/PA-buyer",
            "/v1/parties/PA-seller/listings",
            now()
        )
    );
    assert_eq!(s, 403);
    let (s, b) = call!(
        app,
        signed_get(&buyer_key, seller, "/v1/parties/PA-seller/listings", now())
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (401, json!("request.bad_signature"))
    );
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri("/v1/parties/PA-seller/listings")
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (401, json!("request.unsigned"))
    );
    let (s, b) = call!(
        app,
        signed_get(
            &seller_key,
            seller,
            "/v1/parties/PA-seller",
            now() - 3_600_000
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (401, json!("request.stale"))
    );
    let (s, b) = call!(
        app,
        signed_get(&agent_key, agent, "/v1/agents/AT-0001/entrustments", now())
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(json_of(&b)["items"][0]["id"], json!("entrustment/EN-1"));

    // A command signed by a revoked key.
    let (s, r) = post_command!(
        app,
        &sign(
            &buyer_key,
            "party/PA-buyer",
            "key.revoke",
            "party/PA-buyer",
            json!({"key": buyer_key.public().to_base64(), "reason": "手机丢失"}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let before = size();
    let (s, r) = post_command!(
        app,
        &sign(
            &buyer_key,
            "party/PA-buyer",
            "viewing.book",
            "viewing/VW-1",
            json!({"listing": "listing/LS-1", "slot_start_ms": now() + day, "slot_end_ms": now() + day + 3_600_000}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!((s, r["code"].clone()), (401, json!("auth.key_revoked")));
    assert_eq!(size(), before);

    // Log: export, one entry with its bundle, consistency, checkpoints.
    let n = size();
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/log/entries?start=0&end={n}"))
    );
    assert_eq!(s, 200);
    // Entry lines, each followed by its opening line when the public may see the payload.
    let lines: Vec<&[u8]> = b
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"{\"opening\":"))
        .collect();
    assert_eq!(lines.len() as u64, n);
    assert_eq!(lines[3], node.reader().entry(3).unwrap().as_slice());
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!(
            "/v1/log/entries/{publish_seq}?proof_size={}",
            publish_seq + 1
        ))
    );
    assert_eq!(s, 200);
    let bundle: ProofBundle = serde_json::from_slice(&b).unwrap();
    assert!(bundle.tree_size > publish_seq);
    bundle.verify(&vkey).unwrap();
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/log/proof/consistency?from=2&to={n}"))
    );
    assert_eq!(s, 200);
    assert!(!json_of(&b)["proof"].as_array().unwrap().is_empty());
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/log/checkpoints?from=1&to={n}"))
    );
    assert_eq!(s, 200);
    assert_eq!(
        json_of(&b)["checkpoints"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["size"],
        json!(n)
    );
    let (s, _) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/log/entries?start=0&end={}", n + 1))
    );
    assert_eq!(s, 404);
    let (s, b) = call!(app, web_test::TestRequest::get().uri("/v1/log/entries/abc"));
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (400, json!("request.bad_path"))
    );

    // Follow: entries in order from a seq, resumable with Last-Event-ID.
    let req = web_test::TestRequest::get()
        .uri("/v1/log/follow?from=0")
        .insert_header(("last-event-id", "4"))
        .to_request();
    let res = web_test::call_service(&app, req).await;
    assert_eq!(res.status().as_u16(), 200);
    let mut body = res.into_body();
    let mut text = String::new();
    while text.matches("event: entry").count() < 3 {
        let chunk = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await;
        let Some(Ok(bytes)) = chunk else {
            panic!("the follow stream ended")
        };
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .take(3)
        .collect();
    assert_eq!(ids, ["5", "6", "7"]);
    assert!(text.contains(&format!(
        "data: {}",
        String::from_utf8_lossy(&node.reader().entry(5).unwrap())
    )));
    drop(body);

    // Metrics and OpenAPI.
    let (s, b) = call!(app, web_test::TestRequest::get().uri("/metrics"));
    assert_eq!(s, 200);
    let text = String::from_utf8_lossy(&b).into_owned();
    assert!(
        // The prometheus crate writes labels sorted by name; their order means nothing to a
        // scraper.
        text.contains("deedlog_commands_total{code=\"command.stale\",result=\"rejected\"} 1"),
        "{text}"
    );
    assert!(text.contains(&format!("deedlog_log_size {}", size())));
    let (s, b) = call!(app, web_test::TestRequest::get().uri("/openapi.json"));
    assert_eq!(s, 200);
    assert!(
        json_of(&b)["paths"]
            .get("/v1/verify/listing/{code}")
            .is_some()
    );

    // Views: answers saved, node stopped, views rebuilt from zero, node reopened: same bytes.
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let mut answers = Vec::new();
    for uri in PUBLIC_READS {
        let (s, b) = call!(app, web_test::TestRequest::get().uri(uri));
        assert_eq!(s, 200, "{uri}: {}", String::from_utf8_lossy(&b));
        answers.push(b);
    }
    let (_, private_before) = call!(
        app,
        signed_get(
            &seller_key,
            seller,
            "/v1/parties/PA-seller/verifications",
            now()
        )
    );
    let log_size = size();
    // The node's views are written from the sequencer's snapshots (the projector keeps no
    // state); a projection with a state of its own writes exactly the same bytes.
    let own_dir = tempfile::tempdir().unwrap();
    let own = deedlog_views::Views::open(own_dir.path()).unwrap();
    let mut projection =
        deedlog_views::Projection::new(own.clone(), deedlog_domain::State::default()).unwrap();
    let records = node.reader().records(0, log_size).unwrap();
    for run in records.chunks(7) {
        projection.apply(run).unwrap();
    }
    let (fed, own) = (node.views().dump().unwrap(), own.dump().unwrap());
    assert_eq!(fed.len(), own.len(), "the fed views hold other keys");
    for (f, o) in fed.iter().zip(&own) {
        assert_eq!(
            f,
            o,
            "the fed views differ at {}",
            String::from_utf8_lossy(&f.0)
        );
    }
    drop(app);
    node.shutdown();
    drop(node);
    let rebuilt = deedlog_node::rebuild_views(fx.options.clone()).unwrap();
    assert_eq!(rebuilt, log_size);
    let node = Node::open(fx.options.clone()).unwrap();
    assert_eq!(
        node.reader().size(),
        log_size,
        "reopening lost or added entries"
    );
    assert!(
        node.views()
            .wait_applied(log_size, Duration::from_secs(10))
            .await
    );
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    for (uri, before) in PUBLIC_READS.iter().zip(&answers) {
        let (_, after) = call!(app, web_test::TestRequest::get().uri(uri));
        assert_eq!(&after, before, "{uri} answers differently after a rebuild");
    }
    let (_, private_after) = call!(
        app,
        signed_get(
            &seller_key,
            seller,
            "/v1/parties/PA-seller/verifications",
            now()
        )
    );
    assert_eq!(private_after, private_before);
    // Fill the answer cache for this state, so that the check after the next commit shows
    // that a commit invalidates it.
    let (s, _) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/listing/{listing_code}"))
    );
    assert_eq!(s, 200);
    // The node continues: a new command after the restart.
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "listing.change_price",
            "listing/LS-1",
            json!({"price_fen": 117_000_000i64}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["seq"].as_u64(), Some(log_size));
    // Verification answers are cached per (views applied, checkpoint) state: after a commit the
    // answer proves against the new checkpoint and shows the new price.
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!(
            "/v1/verify/listing/{listing_code}?after_seq={log_size}"
        ))
    );
    assert_eq!(s, 200);
    let v = json_of(&b);
    let current: ProofBundle = serde_json::from_value(v["current"].clone()).unwrap();
    assert_eq!(current.tree_size, log_size + 1);
    assert_eq!(current.seq, log_size);
    current.verify(&vkey).unwrap();
    node.shutdown();
}

#[actix_web::test]
async fn rate_limited_requests_get_429_and_a_retry_after() {
    let fx = fixture();
    let mut options = fx.options.clone();
    options.reference_dir = None;
    let node = Node::open(options).unwrap();
    let config = ApiConfig {
        rate_per_second: std::num::NonZeroU32::new(1),
        rate_burst: std::num::NonZeroU32::new(2).unwrap(),
        ..ApiConfig::default()
    };
    let app = web_test::init_service(deedlog_api::app(AppState::new(node.clone(), config))).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let res = web_test::call_service(
            &app,
            web_test::TestRequest::get()
                .uri("/healthz")
                .peer_addr("10.0.0.1:1000".parse().unwrap())
                .to_request(),
        )
        .await;
        statuses.push((
            res.status().as_u16(),
            res.headers().contains_key("retry-after"),
        ));
    }
    assert_eq!(statuses[..2], [(200, false), (200, false)]);
    assert_eq!(statuses[3], (429, true));
    node.shutdown();
}

#[test]
fn every_documented_route_is_in_the_route_table_and_back() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md"))
            .unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for part in doc.split('`').skip(1).step_by(2) {
        for method in ["GET ", "POST "] {
            if let Some(rest) = part.strip_prefix(method) {
                let path = rest.split(['?', ' ']).next().unwrap_or("");
                if path.starts_with('/') {
                    documented.insert(format!("{}{path}", method));
                }
            }
        }
    }
    let table: std::collections::BTreeSet<String> = deedlog_api::routes::all()
        .iter()
        .map(|r| format!("{} {}", r.method.as_str(), r.path))
        .collect();
    assert_eq!(documented, table, "docs/API.md and the route list differ");
}

/// Every body of `answers` is free of every code the outbox holds.
fn assert_no_code_in(node: &Node, answers: &[Vec<u8>]) {
    let outbox = std::fs::read_to_string(node.sms_outbox()).unwrap_or_default();
    let codes: Vec<String> = outbox
        .lines()
        .map(|l| json_of(l.as_bytes())["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(!codes.is_empty());
    for body in answers {
        let text = String::from_utf8_lossy(body);
        for code in &codes {
            assert!(
                !text.contains(code.as_str()),
                "an answer holds an SMS code: {text}"
            );
        }
    }
}

/// The shape of a JSON object: its keys, and the type of each value.
fn shape(body: &[u8]) -> Vec<(String, &'static str)> {
    let v = json_of(body);
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let t = match v {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "other",
            };
            (k.clone(), t)
        })
        .collect()
}

/// An attacker who knows a registry owner's name, ID number and phone (all leak in real life)
/// tries to become that owner by every route, to learn who is registered, and to squat the
/// owner's phone; each attempt fails, appends nothing the attacker wants, and leaves the
/// owner's vault subject as it was.
#[actix_web::test]
async fn identity_cannot_be_borrowed_guessed_or_squatted() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let state = AppState::new(node.clone(), ApiConfig::default());
    let app = web_test::init_service(deedlog_api::app(state)).await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let mut answers: Vec<Vec<u8>> = Vec::new();
    // The owner's subject as the registry loaded it: fields and links.
    let vault = node.vault().clone();
    let victim = vault.subject_by_id_number(SELLER.1).unwrap();
    let victim_fields = |v: &deedlog_vault::Vault| {
        ["name", "id_number", "phone"].map(|f| v.get(&victim, f).unwrap())
    };
    let before = victim_fields(&vault);
    assert!(before[0].is_some());

    // Registration without a voucher is refused: a made-up commitment gets nobody in.
    let mallory_key = deedlog_node::keys::generate();
    let mallory = "party/PA-mallory";
    let (s, r) = post_command!(
        app,
        &sign(
            &mallory_key,
            mallory,
            "party.register",
            mallory,
            json!({"phone_commitment": hash("any 64 hex")}),
            now(),
            "nonce-0001"
        )
    );
    assert_eq!((s, r["code"].clone()), (403, json!("voucher.missing")));

    // The phone oracle: a registered and an unregistered number get the same answer shape.
    let buyer_key = deedlog_node::keys::generate();
    let (s, r) = register!(
        app,
        node,
        "party/PA-buyer",
        &buyer_key,
        BUYER.2,
        now(),
        "nonce-0002"
    );
    assert_eq!(s, 201, "{r}");
    let mut shapes = Vec::new();
    for phone in [BUYER.2, "13812340000"] {
        let (s, b) = call!(
            app,
            web_test::TestRequest::post()
                .uri("/v1/identity/phone/challenge")
                .set_json(json!({"phone": phone}))
        );
        assert_eq!(s, 202);
        shapes.push(shape(&b));
        answers.push(b);
    }
    assert_eq!(shapes[0], shapes[1]);

    // Squatting the owner's phone (not yet registered): without the code, no voucher; the
    // tries run out; the next challenge for that number is refused once the limit is hit.
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/phone/challenge")
            .set_json(json!({"phone": SELLER.2}))
    );
    assert_eq!(s, 202);
    let squat = json_of(&b)["challenge"].as_str().unwrap().to_owned();
    answers.push(b);
    let real = sms_code(&node, &squat);
    let wrong = if real == "000000" { "000001" } else { "000000" };
    for left in [2, 1, 0] {
        let (s, b) = call!(
            app,
            web_test::TestRequest::post()
                .uri("/v1/identity/phone/voucher")
                .set_json(json!({"challenge": squat, "code": wrong, "party": mallory,
                                 "key": mallory_key.public().to_base64()}))
        );
        let v = json_of(&b);
        assert_eq!(
            (s, v["code"].clone(), v["details"]["tries_left"].clone()),
            (422, json!("identity.code_wrong"), json!(left))
        );
        answers.push(b);
    }
    // Even the right code is useless now: the challenge is void.
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/phone/voucher")
            .set_json(json!({"challenge": squat, "code": real, "party": mallory,
                             "key": mallory_key.public().to_base64()}))
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.challenge_invalid"))
    );
    for _ in 0..2 {
        let (s, _) = call!(
            app,
            web_test::TestRequest::post()
                .uri("/v1/identity/phone/challenge")
                .set_json(json!({"phone": SELLER.2}))
        );
        assert_eq!(s, 202);
    }
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/phone/challenge")
            .set_json(json!({"phone": SELLER.2}))
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (429, json!("rate.limited"))
    );

    // Mallory registers with her own phone, and right away (with after_seq) asks for a
    // real-name check with the owner's name and ID number.
    let mallory_phone = "13900000001";
    let (s, r) = register!(
        app,
        node,
        mallory,
        &mallory_key,
        mallory_phone,
        now(),
        "nonce-0003"
    );
    assert_eq!(s, 201, "{r}");
    let seq = r["seq"].as_u64().unwrap();
    let uri = format!("/v1/identity/realname/challenge?after_seq={seq}");
    let mut shapes = Vec::new();
    let mut challenges = Vec::new();
    for (name, id) in [
        (SELLER.0, SELLER.1),
        ("王五", OUTSIDER.1),
        (OUTSIDER.0, "530102199001011234"),
    ] {
        let body = json!({"name": name, "id_number": id}).to_string();
        let (s, b) = call!(
            app,
            signed_post(&mallory_key, mallory, &uri, now(), body.as_bytes())
        );
        // The ID oracle: matching and non-matching name/ID get the same answer.
        assert!(s == 202 || s == 400, "{}", String::from_utf8_lossy(&b));
        if s == 202 {
            shapes.push(shape(&b));
            challenges.push(json_of(&b)["challenge"].as_str().unwrap().to_owned());
        }
        answers.push(b);
    }
    assert_eq!(
        challenges.len(),
        2,
        "a malformed ID number is refused, the others answered"
    );
    assert_eq!(shapes[0], shapes[1]);
    // The code went to the owner's phone on file, not to Mallory's; the mismatching name got
    // no SMS at all.
    let outbox = std::fs::read_to_string(node.sms_outbox()).unwrap();
    let line = outbox.lines().find(|l| l.contains(&challenges[0])).unwrap();
    assert_eq!(json_of(line.as_bytes())["to"], json!(SELLER.2));
    assert!(!outbox.contains(&challenges[1]));
    // Mallory's own phone code does not open the owner's challenge, nor does guessing.
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/phone/challenge")
            .set_json(json!({"phone": mallory_phone}))
    );
    assert_eq!(s, 202);
    let own = json_of(&b)["challenge"].as_str().unwrap().to_owned();
    let own_code = sms_code(&node, &own);
    for (challenge, code) in [
        (own.as_str(), own_code.as_str()),
        (challenges[0].as_str(), wrong),
    ] {
        let body = json!({"challenge": challenge, "code": code}).to_string();
        let (s, b) = call!(
            app,
            signed_post(
                &mallory_key,
                mallory,
                "/v1/identity/realname/attest",
                now(),
                body.as_bytes()
            )
        );
        assert_eq!(s, 422, "{}", String::from_utf8_lossy(&b));
        answers.push(b);
    }
    // A challenge of someone else, with its right code (say it leaked), is not Mallory's.
    let buyer_key = deedlog_node::keys::generate();
    let (s, r) = register!(
        app,
        node,
        "party/PA-b2",
        &buyer_key,
        "13700000002",
        now(),
        "nonce-0004"
    );
    assert_eq!(s, 201, "{r}");
    let body = json!({"name": OUTSIDER.0, "id_number": OUTSIDER.1}).to_string();
    let uri = format!("/v1/identity/realname/challenge?after_seq={}", r["seq"]);
    let (_, b) = call!(
        app,
        signed_post(&buyer_key, "party/PA-b2", &uri, now(), body.as_bytes())
    );
    let theirs = json_of(&b)["challenge"].as_str().unwrap().to_owned();
    let their_code = sms_code(&node, &theirs);
    let body = json!({"challenge": theirs, "code": their_code}).to_string();
    let (s, b) = call!(
        app,
        signed_post(
            &mallory_key,
            mallory,
            "/v1/identity/realname/attest",
            now(),
            body.as_bytes()
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.challenge_invalid"))
    );
    // … and the rightful party can still use it.
    let (s, b) = call!(
        app,
        signed_post(
            &buyer_key,
            "party/PA-b2",
            "/v1/identity/realname/attest",
            now(),
            body.as_bytes()
        )
    );
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    answers.push(b);
    // A second party proving the same person's code (a second account) is refused by the
    // domain, and the refusal writes nothing: the person stays linked to the first party only.
    let dup_key = deedlog_node::keys::generate();
    let (s, r) = register!(
        app,
        node,
        "party/PA-dup",
        &dup_key,
        "13500000004",
        now(),
        "nonce-0007"
    );
    assert_eq!(s, 201, "{r}");
    let (s, b) = attest!(
        app,
        node,
        "party/PA-dup",
        &dup_key,
        OUTSIDER,
        r["seq"].as_u64(),
        now()
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (409, json!("party.id_taken"))
    );
    let outsider = vault.subject_by_id_number(OUTSIDER.1).unwrap();
    let b2_phone = vault.subject_by_phone("13700000002").unwrap();
    let dup_phone = vault.subject_by_phone("13500000004").unwrap();
    assert_eq!(vault.links(&outsider).unwrap(), vec![b2_phone]);
    assert!(vault.links(&dup_phone).unwrap().is_empty());
    vault.erase_person(&dup_phone).unwrap();
    assert!(!vault.is_erased(&outsider).unwrap());

    // The office route signed by Mallory (not an office).
    let body = json!({"party": mallory, "name": SELLER.0, "id_number": SELLER.1}).to_string();
    let (s, b) = call!(
        app,
        signed_post(
            &mallory_key,
            mallory,
            "/v1/identity/office/commitments",
            now(),
            body.as_bytes()
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (403, json!("request.forbidden"))
    );
    // A forged attestation sent to /v1/commands, by Mallory, a bank, and the housing authority.
    let forged =
        json!({"name_commitment": hash("n"), "id_commitment": hash("i"), "method": "office"});
    let keys = node.keys();
    for (actor, key) in [
        (mallory, &mallory_key),
        ("bank/BK-01", keys.get("bank/BK-01").unwrap()),
        ("authority/housing", keys.get("authority/housing").unwrap()),
    ] {
        let (s, r) = post_command!(
            app,
            &sign(
                key,
                actor,
                "party.attest_identity",
                mallory,
                forged.clone(),
                now(),
                &format!("forged-{}", actor.replace('/', "-"))
            )
        );
        assert_eq!(
            (s, r["code"].clone()),
            (403, json!("auth.role_not_allowed")),
            "{actor}"
        );
    }
    // An office's attestation it never checked is not accepted through the office route.
    let office = keys.get("office/OF-01").unwrap();
    let cmd = sign(
        office,
        "office/OF-01",
        "party.attest_identity",
        mallory,
        forged.clone(),
        now(),
        "forged-office",
    );
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/office/attest")
            .set_json(&cmd)
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.no_office_check"))
    );
    // Nor around it, sent straight to the commands route, which would skip the register check,
    // the clerk's record and the vault.
    let (s, r) = post_command!(app, &cmd);
    assert_eq!(
        (s, r["code"].clone()),
        (400, json!("identity.office_route"))
    );

    // Mallory is still not verified, so the owner's property is not hers to verify.
    let (s, r) = post_command!(
        app,
        &sign(
            &mallory_key,
            mallory,
            "property.verify",
            "verification/PV-m",
            json!({"certificate_no": CERT}),
            now(),
            "nonce-0005"
        )
    );
    assert_eq!((s, r["code"].clone()), (403, json!("party.not_verified")));

    // The owner's subject is unchanged and linked to nobody; erasing Mallory's phone subject
    // (all of her personal data) leaves the owner's subject alive.
    assert_eq!(victim_fields(&vault), before);
    assert!(vault.links(&victim).unwrap().is_empty());
    let mallory_subject = vault.subject_by_phone(mallory_phone).unwrap();
    assert!(vault.links(&mallory_subject).unwrap().is_empty());
    vault.erase_person(&mallory_subject).unwrap();
    assert!(!vault.is_erased(&victim).unwrap());
    assert_eq!(victim_fields(&vault), before);

    // The in-person route, by the office: commitments checked against the register, then its
    // own attestation, after which the vault links the party's phone subject to the person.
    let oli_key = deedlog_node::keys::generate();
    let (s, r) = register!(
        app,
        node,
        "party/PA-oli",
        &oli_key,
        "13600000003",
        now(),
        "nonce-0006"
    );
    assert_eq!(s, 201, "{r}");
    assert!(
        node.wait_for_views(r["seq"].as_u64().unwrap(), Duration::from_secs(5))
            .await
    );
    let body =
        json!({"party": "party/PA-oli", "name": "冒名", "id_number": AGENT_PERSON.1}).to_string();
    let (s, b) = call!(
        app,
        signed_post(
            office,
            "office/OF-01",
            "/v1/identity/office/commitments",
            now(),
            body.as_bytes()
        )
    );
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (422, json!("identity.not_on_register"))
    );
    let body =
        json!({"party": "party/PA-oli", "name": AGENT_PERSON.0, "id_number": AGENT_PERSON.1})
            .to_string();
    let (s, b) = call!(
        app,
        signed_post(
            office,
            "office/OF-01",
            "/v1/identity/office/commitments",
            now(),
            body.as_bytes()
        )
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let c = json_of(&b);
    let payload = json!({"name_commitment": c["name_commitment"], "id_commitment": c["id_commitment"], "method": "office"});
    let cmd = sign(
        office,
        "office/OF-01",
        "party.attest_identity",
        "party/PA-oli",
        payload,
        now(),
        "office-0001",
    );
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/identity/office/attest")
            .set_json(&cmd)
    );
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let person = vault.subject_by_id_number(AGENT_PERSON.1).unwrap();
    let oli_phone = vault.subject_by_phone("13600000003").unwrap();
    assert_eq!(vault.links(&oli_phone).unwrap(), vec![person]);

    assert_no_code_in(&node, &answers);
    node.shutdown();
}

/// A full sequencer queue is answered `503 ledger.busy` with `Retry-After` rather than
/// holding a worker; tested through the same mapping the routes use.
#[test]
fn a_busy_ledger_is_answered_with_retry_after() {
    let e: deedlog_api::ApiError = deedlog_node::IdentityError::Rejected(
        deedlog_store::Rejection::new(&deedlog_store::codes::BUSY, "full"),
    )
    .into();
    assert_eq!(
        (e.status, e.code.as_str(), e.retry_after_s),
        (503, "ledger.busy", Some(1))
    );
}

#[actix_web::test]
async fn the_pages_are_served_with_their_types_a_strict_policy_and_cache_validators() {
    let fx = fixture();
    let mut options = fx.options.clone();
    options.reference_dir = None;
    let node = Node::open(options).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let get = |uri: &str| web_test::TestRequest::get().uri(uri).to_request();
    for (uri, ctype, needle) in [
        ("/", "text/html; charset=utf-8", "/assets/app.js"),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "bindListing",
        ),
        (
            "/assets/verify.js",
            "text/javascript; charset=utf-8",
            "deedlog/command/v2",
        ),
        ("/assets/app.css", "text/css; charset=utf-8", ".badge.red"),
        ("/assets/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let res = web_test::call_service(&app, get(uri)).await;
        assert_eq!(res.status(), 200, "{uri}");
        let h = res.headers().clone();
        assert_eq!(h.get("content-type").unwrap(), ctype, "{uri}");
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{uri}");
        assert!(
            !csp.contains("unsafe") && !csp.contains("http"),
            "{uri}: {csp}"
        );
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("cache-control").unwrap(), "no-cache");
        let etag = h.get("etag").unwrap().clone();
        let body = web_test::read_body(res).await;
        assert!(
            String::from_utf8_lossy(&body).contains(needle),
            "{uri} lacks {needle}"
        );
        // The same file asked again with its tag is a 304 without a body.
        let again = web_test::call_service(
            &app,
            web_test::TestRequest::get()
                .uri(uri)
                .insert_header(("if-none-match", etag.to_str().unwrap()))
                .to_request(),
        )
        .await;
        assert_eq!(again.status(), 304, "{uri}");
        assert!(web_test::read_body(again).await.is_empty());
    }
    // No page loads anything from another host: every src and href is this server's or a hash.
    let index = web_test::read_body(web_test::call_service(&app, get("/")).await).await;
    let index = String::from_utf8_lossy(&index);
    assert!(!index.contains("http://") && !index.contains("https://"));
    assert!(!index.contains("<script>") && !index.contains("style="));
    // Unknown assets, path tricks and the page under a second name are 404.
    for uri in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2FCargo.toml",
        "/assets/%2e%2e",
        &format!("/assets/{}", "a".repeat(200)),
    ] {
        let res = web_test::call_service(&app, get(uri)).await;
        assert_eq!(res.status(), 404, "{uri}");
    }
    let res =
        web_test::call_service(&app, web_test::TestRequest::post().uri("/").to_request()).await;
    assert_eq!(res.status(), 405);
    node.shutdown();
}

#[actix_web::test]
async fn a_document_is_found_by_the_hash_the_browser_computed() {
    let fx = fixture();
    let mut options = fx.options.clone();
    options.reference_dir = None;
    let node = Node::open(options).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let unknown = "ab".repeat(32);
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/document/{unknown}"))
    );
    assert_eq!(s, 200);
    assert_eq!(json_of(&b), json!({"sha256": unknown, "matches": []}));
    // The same answer as the POST of a file with that hash.
    let (s, posted) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/verify/document")
            .set_payload("some file")
    );
    assert_eq!(s, 200);
    let h = json_of(&posted)["sha256"].as_str().unwrap().to_owned();
    let (_, by_hash) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/verify/document/{h}"))
    );
    assert_eq!(json_of(&by_hash), json_of(&posted));
    for bad in [
        "AB".repeat(32),
        "ab".repeat(31),
        format!("{}g", "a".repeat(63)),
    ] {
        let (s, b) = call!(
            app,
            web_test::TestRequest::get().uri(&format!("/v1/verify/document/{bad}"))
        );
        assert_eq!(s, 400, "{bad}");
        assert_eq!(json_of(&b)["code"], "request.bad_path");
    }
    node.shutdown();
}

/// The entry lines and opening lines of a `/v1/log/entries` answer, by seq.
fn feed(body: &[u8]) -> Vec<(deedlog_core::LoggedEntry, Option<Vec<u8>>)> {
    let mut out: Vec<(deedlog_core::LoggedEntry, Option<Vec<u8>>)> = Vec::new();
    for line in body.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
        if line.starts_with(b"{\"opening\":") {
            let (seq, opening) = deedlog_core::verify::OpeningLine::parse(line).unwrap();
            let last = out.last_mut().expect("an opening follows its entry");
            assert_eq!(last.0.seq, seq);
            last.1 = Some(opening);
        } else {
            out.push((deedlog_core::LoggedEntry::decode(line).unwrap(), None));
        }
    }
    out
}

/// Who sees what: the public feed, the follow stream and every public answer carry no
/// confidential payload, yet every entry verifies; the stream's parties, the housing authority
/// and a registered auditor get entries whole; anyone else, or a forged auditor, does not; a
/// proposal waiting for the seller's review is not public (not even through its listing code)
/// until approved; free text holding an ID or mobile number and version-1 commands are refused
/// and append nothing.
#[actix_web::test]
async fn who_sees_what_on_the_feed_and_in_every_public_answer() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let vkey = node.log_vkey().to_owned();
    let auditor_key = deedlog_node::keys::generate();
    let config = ApiConfig {
        auditors: vec![deedlog_api::Auditor {
            actor: "auditor/city".into(),
            key: auditor_key.public().to_base64(),
        }],
        ..ApiConfig::default()
    };
    let state = AppState::new(node.clone(), config);
    let app = web_test::init_service(deedlog_api::app(state)).await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let seller_key = deedlog_node::keys::generate();
    let buyer_key = deedlog_node::keys::generate();
    let mut nonce = 0;
    let mut next_nonce = || {
        nonce += 1;
        format!("vis-nonce-{nonce:04}")
    };
    for (who, key, person) in [
        ("party/PA-seller", &seller_key, SELLER),
        ("party/PA-buyer", &buyer_key, BUYER),
    ] {
        let (s, r) = register!(app, node, who, key, person.2, now(), &next_nonce());
        assert_eq!(s, 201, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let (s, b) = attest!(app, node, who, key, person, Some(seq), now());
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    }
    let seller = "party/PA-seller";
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "property.verify",
            "verification/PV-1",
            json!({"certificate_no": CERT}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let agent = "agent/AT-0001";
    let agent_key = node.keys().get(agent).cloned().unwrap();
    let day = 86_400_000;
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "entrustment.sale",
            "entrustment/EN-1",
            json!({"verification": "verification/PV-1", "agent": agent, "floor_price_fen": 100_000_000i64,
                   "expires_at_ms": now() + 30 * day, "review_agent_edits": true}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let entrust_seq = r["seq"].as_u64().unwrap();
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "entrustment.accept",
            "entrustment/EN-1",
            json!({}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let publish = json!({"entrustment": "entrustment/EN-1", "price_fen": 120_000_000i64, "area_centi_m2": 8950, "rooms": 2,
        "halls": 1, "bathrooms": 1, "floor": 5, "floors_total": 7, "district": "五华区", "community": "翠湖花园",
        "title": "翠湖旁两室一厅", "description": "南北通透。", "photos": [hash("photo-1")]});

    // Free text with a mobile or an ID number is refused, appends nothing.
    let before = size();
    for text in ["看房请致电 139 1234 5678", "业主身份证530111197905129301"] {
        let mut p = publish.clone();
        p["description"] = json!(text);
        let (s, r) = post_command!(
            app,
            &sign(
                &agent_key,
                agent,
                "listing.publish",
                "listing/LS-1",
                p,
                now(),
                &next_nonce()
            )
        );
        assert_eq!(
            (s, r["code"].clone()),
            (400, json!("payload.personal_data")),
            "{r}"
        );
        assert_eq!(r["details"]["field"], json!("description"), "{r}");
    }
    // A version-1 command (payload signed in clear) is refused before anything else.
    let v1 = Command {
        actor: agent.into(),
        key: agent_key.public().to_base64(),
        kind: "listing.publish".into(),
        stream: "listing/LS-1".into(),
        expected_version: None,
        payload: publish.clone(),
        nonce: next_nonce(),
        issued_at_ms: now(),
    }
    .sign_v1(&agent_key)
    .unwrap();
    let (s, r) = post_command!(app, &v1);
    assert_eq!(
        (s, r["code"].clone()),
        (400, json!("command.malformed")),
        "{r}"
    );
    assert!(
        r["message"].as_str().unwrap().contains("payload_salt"),
        "{r}"
    );
    assert_eq!(size(), before);

    // The agent's listing waits for the seller's review.
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "listing.publish",
            "listing/LS-1",
            publish,
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let publish_seq = r["seq"].as_u64().unwrap();
    let code = r["derived"]["listing_code"].as_str().unwrap().to_owned();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let uri = format!("/v1/verify/listing/{code}");
    let (s, _) = call!(app, web_test::TestRequest::get().uri(&uri));
    assert_eq!(
        s, 404,
        "a listing under review is not verifiable by the public"
    );
    let (s, _) = call!(app, web_test::TestRequest::get().uri("/v1/listings/LS-1"));
    assert_eq!(s, 404);

    let all = format!("/v1/log/entries?start=0&end={}", size());
    let openings = |body: &[u8]| -> std::collections::BTreeMap<u64, bool> {
        feed(body)
            .into_iter()
            .map(|(e, o)| (e.seq, o.is_some()))
            .collect()
    };
    // The public: no opening of the floor price, nor of the proposal; every entry verifies.
    let (s, public) = call!(app, web_test::TestRequest::get().uri(&all));
    assert_eq!(s, 200);
    let public_open = openings(&public);
    assert!(
        !public_open[&entrust_seq],
        "the floor price is confidential"
    );
    assert!(
        !public_open[&publish_seq],
        "a proposal under review is confidential"
    );
    // No opening the public gets is of a confidential kind, and none holds a party's identity
    // commitments, a floor price or free text of a proposal. (Agents' certifications are public
    // registry facts: their commitments are keyed by the vault, never the plain values.)
    for (e, o) in feed(&public) {
        let Some(o) = o else { continue };
        let kind = e.command_kind().to_owned();
        assert!(
            !matches!(
                deedlog_api::disclose::visibility(&kind),
                deedlog_domain::table::Visibility::Confidential
            ),
            "the public got the opening of {kind} at {}",
            e.seq
        );
        let text = String::from_utf8_lossy(&o);
        for field in [
            "floor_price_fen",
            "review_agent_edits",
            "voucher",
            "南北通透",
        ] {
            assert!(
                !text.contains(field),
                "seq {} ({kind}) shows {field}",
                e.seq
            );
        }
        if kind != "agent.certify" {
            for field in ["phone_commitment", "id_commitment", "name_commitment"] {
                assert!(
                    !text.contains(field),
                    "seq {} ({kind}) shows {field}",
                    e.seq
                );
            }
        }
    }
    let mut verifier =
        deedlog_core::verify::LogVerifier::new(&vkey[..vkey.find('+').unwrap()], &vkey).unwrap();
    for (e, o) in feed(&public) {
        let bytes = node.reader().entry(e.seq).unwrap();
        verifier.push_entry(&bytes);
        if let Some(o) = o {
            verifier.push_opening(e.seq, &o);
        }
    }
    let cp = node.reader().latest_checkpoint().unwrap();
    verifier.push_checkpoint(&cp.note);
    let report = verifier.finish();
    assert!(report.faults.is_empty(), "{:#?}", report.faults);
    assert!(report.sealed >= 2 && report.opened > 0, "{report:?}");
    // Every unauthenticated bundle follows the same rule.
    for (seq, shown) in &public_open {
        let (s, b) = call!(
            app,
            web_test::TestRequest::get().uri(&format!("/v1/log/entries/{seq}"))
        );
        assert_eq!(s, 200);
        let bundle: ProofBundle = serde_json::from_slice(&b).unwrap();
        assert_eq!(bundle.opening.is_some(), *shown, "seq {seq}");
        let verified = bundle.verify(&vkey).unwrap();
        assert_eq!(
            verified.whole.is_some(),
            *shown || verified.entry.version() == 1
        );
    }

    // The seller and the agent (parties of both streams), the housing authority and the
    // registered auditor get both whole; the buyer, the registry and a forged auditor do not.
    let housing_key = node.keys().get("authority/housing").cloned().unwrap();
    let registry_key = node.keys().get("authority/registry").cloned().unwrap();
    for (who, key, whole) in [
        (seller, &seller_key, true),
        (agent, &agent_key, true),
        ("authority/housing", &housing_key, true),
        ("auditor/city", &auditor_key, true),
        ("party/PA-buyer", &buyer_key, false),
        ("authority/registry", &registry_key, false),
    ] {
        let (s, b) = call!(app, signed_get(key, who, &all, now()));
        assert_eq!(s, 200, "{who}: {}", String::from_utf8_lossy(&b));
        let got = openings(&b);
        assert_eq!(got[&entrust_seq], whole, "{who} and the entrustment");
        assert_eq!(got[&publish_seq], whole, "{who} and the proposal");
        if whole {
            let record = feed(&b)
                .into_iter()
                .find(|(e, _)| e.seq == entrust_seq)
                .unwrap();
            let entry = record.0.open(record.1.as_deref()).unwrap();
            assert_eq!(
                entry.signed.payload["floor_price_fen"],
                json!(100_000_000i64)
            );
        }
    }
    let forged = deedlog_node::keys::generate();
    let (s, _) = call!(app, signed_get(&forged, "auditor/city", &all, now()));
    assert_eq!(
        s, 401,
        "a forged auditor is refused, not served as the public"
    );
    let (s, _) = call!(app, signed_get(&forged, seller, &all, now()));
    assert_eq!(s, 401);
    // The follow stream of the public holds no confidential opening either.
    let (s, b) = call!(
        app,
        signed_get(
            &buyer_key,
            "party/PA-buyer",
            &format!("/v1/log/entries/{publish_seq}"),
            now()
        )
    );
    assert_eq!(s, 200);
    let bundle: ProofBundle = serde_json::from_slice(&b).unwrap();
    assert!(
        bundle.opening.is_none(),
        "the buyer does not see the proposal"
    );

    // The seller approves: the proposal shows, its payload is public, its code verifies with
    // the bundle's opening, and the client binds every shown field.
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "listing.approve",
            "listing/LS-1",
            json!({"proposal_seq": publish_seq}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let approved = r["seq"].as_u64().unwrap();
    let (s, public) = call!(
        app,
        web_test::TestRequest::get().uri(&format!(
            "/v1/log/entries?start=0&end={}&after_seq={approved}",
            approved + 1
        ))
    );
    assert_eq!(s, 200);
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let (_, public) = if openings(&public)[&publish_seq] {
        (200, public)
    } else {
        call!(
            app,
            web_test::TestRequest::get().uri(&format!("/v1/log/entries?start=0&end={}", size()))
        )
    };
    let now_open = openings(&public);
    assert!(now_open[&publish_seq], "the approved proposal is public");
    assert!(
        !now_open[&entrust_seq],
        "the floor price stays confidential"
    );
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("{uri}?after_seq={approved}"))
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let answer = json_of(&b);
    let (binding, _) = deedlog_client::proof::bind_listing(&code, &answer, &vkey)
        .expect("the approved listing binds to its proofs");
    // Fields of the approved proposal are bound to its proved, now public, payload.
    for field in [
        "listing.title",
        "listing.description",
        "listing.area_centi_m2",
        "code",
        // The last change shown is the approval: price and photos are bound to the approved
        // proposal, whose bundle the answer carries.
        "listing.price_fen",
        "listing.photos",
    ] {
        assert!(binding.is_verified(field), "{field}: {binding:?}");
    }
    assert_eq!(answer["approved"]["seq"], json!(publish_seq));
    // An `approved` bundle that is not the proposal the approval names does not bind: the
    // approval itself, or an entry of another stream.
    let (_, other) = call!(
        app,
        web_test::TestRequest::get().uri(&format!("/v1/log/entries/{entrust_seq}"))
    );
    for wrong in [answer["current"].clone(), json_of(&other)] {
        let mut forged = answer.clone();
        forged["approved"] = wrong;
        let err = deedlog_client::proof::bind_listing(&code, &forged, &vkey)
            .expect_err("a wrong approved bundle is refused");
        assert!(
            err.to_string().contains("approv") || err.to_string().contains("payload"),
            "{err}"
        );
    }
    // A price on the page other than the approved one is caught.
    let mut forged = answer.clone();
    forged["listing"]["price_fen"] = json!(99_000_000);
    assert!(deedlog_client::proof::bind_listing(&code, &forged, &vkey).is_err());
}

#[actix_web::test]
async fn photos_are_bounded_content_addressed_and_public_only_once_shown() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let config = ApiConfig {
        photo_bytes_max: 4096,
        photos_per_actor_max: 3,
        ..ApiConfig::default()
    };
    let state = AppState::new(node.clone(), config);
    let app = web_test::init_service(deedlog_api::app(state)).await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let seller_key = deedlog_node::keys::generate();
    let buyer_key = deedlog_node::keys::generate();
    let mut nonce = 0;
    let mut next_nonce = || {
        nonce += 1;
        format!("photo-nonce-{nonce:04}")
    };
    for (who, key, person) in [
        ("party/PA-seller", &seller_key, SELLER),
        ("party/PA-buyer", &buyer_key, BUYER),
    ] {
        let (s, r) = register!(app, node, who, key, person.2, now(), &next_nonce());
        assert_eq!(s, 201, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let (s, b) = attest!(app, node, who, key, person, Some(seq), now());
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    }
    let (seller, buyer, agent) = ("party/PA-seller", "party/PA-buyer", "agent/AT-0001");
    let agent_key = node.keys().get(agent).cloned().unwrap();
    let bank_key = node.keys().get("bank/BK-01").cloned();
    let before = size();

    // Uploads that are refused keep nothing and append nothing.
    let photo = png_bytes("翠湖花园客厅");
    let (s, b) = call!(
        app,
        web_test::TestRequest::post()
            .uri("/v1/photos")
            .set_payload(photo.clone())
    );
    assert_eq!(s, 401, "unsigned: {}", String::from_utf8_lossy(&b));
    // A signature over other bytes does not carry this body.
    let (s, _) = call!(
        app,
        signed_upload(&agent_key, agent, now(), &photo, b"other bytes")
    );
    assert_eq!(s, 401);
    // Another actor's key cannot upload in the agent's name.
    let (s, _) = call!(
        app,
        signed_upload(&seller_key, agent, now(), &photo, &photo)
    );
    assert_eq!(s, 401);
    for (bytes, status, code) in [
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            400,
            "photo.not_an_image",
        ),
        (b"\x89PNG\r\n\x1a\n".to_vec(), 400, "photo.too_small"),
        (
            [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0u8; 5000]].concat(),
            413,
            "request.too_large",
        ),
    ] {
        let (s, b) = call!(app, signed_upload(&agent_key, agent, now(), &bytes, &bytes));
        assert_eq!((s, json_of(&b)["code"].clone()), (status, json!(code)));
    }
    // Only listers upload: not the registry (nor a bank, when the reference has one).
    let registry_key = node.keys().get("authority/registry").cloned().unwrap();
    let (s, _) = call!(
        app,
        signed_upload(&registry_key, "authority/registry", now(), &photo, &photo)
    );
    assert_eq!(s, 403);
    if let Some(k) = bank_key {
        let (s, _) = call!(app, signed_upload(&k, "bank/BK-01", now(), &photo, &photo));
        assert_eq!(s, 403);
    }
    assert!(!fx._dir.path().join("data/photos/objects").exists());

    // The agent uploads; the same bytes again answer the same hash.
    let (s, b) = call!(app, signed_upload(&agent_key, agent, now(), &photo, &photo));
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let h = json_of(&b)["sha256"].as_str().unwrap().to_owned();
    assert_eq!(h, hex::encode(Sha256::digest(&photo)));
    assert_eq!(json_of(&b)["media_type"], json!("image/png"));
    let (s, b2) = call!(app, signed_upload(&agent_key, agent, now(), &photo, &photo));
    assert_eq!((s, json_of(&b2)["sha256"].clone()), (200, json!(h)));
    // The quota: three photos per actor (the repeated one counts once).
    for i in 0..2 {
        let p = png_bytes(&format!("卧室{i}"));
        let (s, _) = call!(app, signed_upload(&agent_key, agent, now(), &p, &p));
        assert_eq!(s, 201);
    }
    let p = png_bytes("厨房");
    let (s, b) = call!(app, signed_upload(&agent_key, agent, now(), &p, &p));
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (409, json!("photo.quota_full"))
    );
    assert_eq!(size(), before, "uploads never touch the log");

    // An uploaded photo no listing shows: its uploader sees it; nobody else can tell it exists.
    let uri = format!("/v1/photos/{h}");
    let (s, b) = call!(app, signed_get(&agent_key, agent, &uri, now()));
    assert_eq!((s, b.clone()), (200, photo.clone()));
    let (s, b) = call!(app, web_test::TestRequest::get().uri(&uri));
    assert_eq!(
        (s, json_of(&b)["code"].clone()),
        (404, json!("photo.not_found"))
    );
    let unknown = format!("/v1/photos/{}", "0".repeat(64));
    let (s2, b2) = call!(app, web_test::TestRequest::get().uri(&unknown));
    assert_eq!((s2, json_of(&b2)), (404, json_of(&b)), "the same answer");
    let (s, _) = call!(app, signed_get(&buyer_key, buyer, &uri, now()));
    assert_eq!(s, 404);
    for bad in ["/v1/photos/..%2F..%2Fetc%2Fpasswd", "/v1/photos/ABC"] {
        let (s, _) = call!(app, web_test::TestRequest::get().uri(bad));
        assert!(s == 400 || s == 404, "{bad}: {s}");
    }

    // The listing: entrusted with "review the agent's edits", so the publication waits.
    for (key, actor, kind, stream, payload) in [
        (
            &seller_key,
            seller,
            "property.verify",
            "verification/PV-1",
            json!({"certificate_no": CERT}),
        ),
        (
            &seller_key,
            seller,
            "entrustment.sale",
            "entrustment/EN-1",
            json!({"verification": "verification/PV-1", "agent": agent, "floor_price_fen": 100_000_000i64,
                   "expires_at_ms": now() + 30 * 86_400_000, "review_agent_edits": true}),
        ),
        (
            &agent_key,
            agent,
            "entrustment.accept",
            "entrustment/EN-1",
            json!({}),
        ),
    ] {
        let (s, r) = post_command!(
            app,
            &sign(key, actor, kind, stream, payload, now(), &next_nonce())
        );
        assert_eq!(s, 201, "{kind}: {r}");
    }
    let publish = json!({"entrustment": "entrustment/EN-1", "price_fen": 120_000_000i64, "area_centi_m2": 8950, "rooms": 2,
        "halls": 1, "bathrooms": 1, "floor": 5, "floors_total": 7, "district": "五华区", "community": "翠湖花园",
        "title": "翠湖旁两室一厅", "description": "南北通透。", "photos": [h]});
    let (s, r) = post_command!(
        app,
        &sign(
            &agent_key,
            agent,
            "listing.publish",
            "listing/LS-1",
            publish,
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let publish_seq = r["seq"].as_u64().unwrap();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    // Under review: the seller sees the proposed photo through the listing; the public, the
    // buyer naming the listing, and the seller without it do not.
    let with_listing = format!("{uri}?listing=listing/LS-1");
    let (s, b) = call!(app, signed_get(&seller_key, seller, &with_listing, now()));
    assert_eq!((s, b), (200, photo.clone()));
    let (s, _) = call!(app, signed_get(&seller_key, seller, &uri, now()));
    assert_eq!(s, 404);
    let (s, _) = call!(app, signed_get(&buyer_key, buyer, &with_listing, now()));
    assert_eq!(s, 404);
    let (s, _) = call!(app, web_test::TestRequest::get().uri(&with_listing));
    assert_eq!(s, 404);

    // Approved: public, cacheable for good, and typed by its bytes.
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "listing.approve",
            "listing/LS-1",
            json!({"proposal_seq": publish_seq}),
            now(),
            &next_nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let res =
        web_test::call_service(&app, web_test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(res.status().as_u16(), 200);
    let header = |n: &str| {
        res.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("cache-control").contains("immutable"));
    assert!(header("content-security-policy").contains("sandbox"));
    let body = web_test::read_body(res).await;
    assert_eq!(hex::encode(Sha256::digest(&body)), h);

    // A file damaged on disk is never served, not even to its uploader.
    std::fs::write(
        fx._dir.path().join("data/photos/objects").join(&h),
        png_bytes("别的照片"),
    )
    .unwrap();
    let (s, _) = call!(app, web_test::TestRequest::get().uri(&uri));
    assert_eq!(s, 404);
    let (s, _) = call!(app, signed_get(&agent_key, agent, &uri, now()));
    assert_eq!(s, 404);
}
