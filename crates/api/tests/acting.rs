//! Acting for someone else, and what that lets one read: a proxy reads the principal's
//! contracts on the filing's property only while its filing is verified, unexpired and
//! unrevoked (and its `via_proxy` steps carry `derived.on_behalf_of`); a buyer's agent reads
//! the buyer's contracts within its purchase entrustment's districts and budget only while the
//! entrustment is accepted and unexpired. Every other reader is refused.

#[macro_use]
mod common;

use common::*;
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
