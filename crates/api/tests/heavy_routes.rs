//! The two routes that cost the node most per request are bounded: a photo upload keeps bytes
//! for good, so only those who can use photos upload (a certified agent, a party whose real
//! name is verified) and parallel uploads never pass the quota; the public check of a filed
//! contract's PDF renders the document, so it renders off the HTTP workers and once per
//! document, however many hashes are checked against it.

#[macro_use]
mod common;

use common::*;

#[actix_web::test]
async fn only_verified_listers_upload_photos_and_parallel_uploads_keep_the_quota() {
    let fx = fixture();
    let node = Node::open(fx.options.clone()).unwrap();
    let config = ApiConfig {
        photos_per_actor_max: 3,
        ..ApiConfig::default()
    };
    let app = web_test::init_service(deedlog_api::app(AppState::new(node.clone(), config))).await;
    let now = || fx.clock.load(Ordering::SeqCst);
    let size = || node.reader().size();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let objects = node.data_dir().join("photos/objects");

    // A party that registered with a phone but never verified its real name lists nothing, so
    // it keeps nothing on the node's disk.
    let who = "party/PA-seller";
    let key = deedlog_node::keys::generate();
    let (s, r) = register!(app, node, who, &key, SELLER.2, now(), "photo-limits-1");
    assert_eq!(s, 201, "{r}");
    let seq = r["seq"].as_u64().unwrap();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let photo = png_bytes("客厅");
    let (s, b) = call!(app, signed_upload(&key, who, now(), &photo, &photo));
    assert_eq!(s, 403, "{}", String::from_utf8_lossy(&b));
    let refused = json_of(&b);
    assert_eq!(refused["code"], json!("request.forbidden"), "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("real name is verified"),
        "{refused}"
    );
    assert!(!objects.exists(), "nothing kept for an unverified party");

    // Verified: uploads at once (the route waits for the views to learn it).
    let (s, b) = attest!(app, node, who, &key, SELLER, Some(seq), now());
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let (s, b) = call!(app, signed_upload(&key, who, now(), &photo, &photo));
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));

    // Twelve different photos at once with two slots left: exactly two are kept.
    let photos: Vec<Vec<u8>> = (0..12).map(|i| png_bytes(&format!("卧室{i}"))).collect();
    let answers =
        futures_util::future::join_all(photos.iter().map(|p| {
            web_test::call_service(&app, signed_upload(&key, who, now(), p, p).to_request())
        }))
        .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(std::fs::read_dir(&objects).unwrap().count(), 3);

    // A certified agent uploads; the registry, which lists nothing, does not.
    let agent = "agent/AT-0001";
    let agent_key = node.keys().get(agent).cloned().unwrap();
    let kitchen = png_bytes("厨房");
    let (s, _) = call!(
        app,
        signed_upload(&agent_key, agent, now(), &kitchen, &kitchen)
    );
    assert_eq!(s, 201);
    let registry_key = node.keys().get("authority/registry").cloned().unwrap();
    let balcony = png_bytes("阳台");
    let (s, _) = call!(
        app,
        signed_upload(
            &registry_key,
            "authority/registry",
            now(),
            &balcony,
            &balcony
        )
    );
    assert_eq!(s, 403);
}

#[actix_web::test]
async fn checking_many_hashes_of_one_filed_contract_renders_its_pdf_once() {
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
        format!("pdf-check-{n:04}")
    };
    let (seller, buyer) = ("party/PA-seller", "party/PA-buyer");
    let seller_key = deedlog_node::keys::generate();
    let buyer_key = deedlog_node::keys::generate();
    for (who, key, person) in [(seller, &seller_key, SELLER), (buyer, &buyer_key, BUYER)] {
        let (s, r) = register!(app, node, who, key, person.2, now(), &nonce());
        assert_eq!(s, 201, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let (s, b) = attest!(app, node, who, key, person, Some(seq), now());
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    }

    // The seller lists the flat itself, drafts with the buyer, both confirm and sign, the
    // housing authority files.
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "property.verify",
            "verification/PV-1",
            json!({"certificate_no": CERT}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let property = r["derived"]["property"].as_str().unwrap().to_owned();
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "listing.publish",
            "listing/LS-1",
            json!({"verification": "verification/PV-1", "price_fen": 120_000_000u64,
                   "area_centi_m2": 8950, "rooms": 2, "halls": 1, "bathrooms": 1, "floor": 5,
                   "floors_total": 7, "district": "五华区", "community": "翠湖花园",
                   "title": "业主自售两室一厅", "description": "南北通透。",
                   "photos": [hash("photo-1")]}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let facts = deedlog_client::deal::PropertyFacts {
        id: property,
        certificate_no: CERT.to_owned(),
        district: "五华区".to_owned(),
        community: "翠湖花园".to_owned(),
        area_centi_m2: 8950,
        rooms: 2,
        halls: 1,
        bathrooms: 1,
        floor: 5,
        floors_total: 7,
        mortgage: None,
    };
    let terms =
        deedlog_client::deal::lump_sum_terms(&facts, seller, buyer, None, 120_000_000, now());
    let document = deedlog_client::deal::document_hash(&terms).unwrap();
    let ct = "contract/CT-1";
    let (s, r) = post_command!(
        app,
        &sign(
            &seller_key,
            seller,
            "contract.draft",
            ct,
            json!({"listing": "listing/LS-1", "buyer": buyer, "terms": terms,
                   "document_hash": document}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    for kind in ["contract.confirm", "contract.sign"] {
        for (key, who) in [(&buyer_key, buyer), (&seller_key, seller)] {
            let (s, r) = post_command!(
                app,
                &sign(
                    key,
                    who,
                    kind,
                    ct,
                    json!({"document_hash": document}),
                    now(),
                    &nonce()
                )
            );
            assert_eq!(s, 201, "{kind} by {who}: {r}");
        }
    }
    let housing_key = node.keys().get("authority/housing").cloned().unwrap();
    let (s, r) = post_command!(
        app,
        &sign(
            &housing_key,
            "authority/housing",
            "contract.file",
            ct,
            json!({}),
            now(),
            &nonce()
        )
    );
    assert_eq!(s, 201, "{r}");
    let filed = r["seq"].as_u64().unwrap();
    let code = r["derived"]["filing_code"].as_str().unwrap().to_owned();
    assert!(
        node.views()
            .wait_applied(size(), Duration::from_secs(10))
            .await
    );
    let check = |sha: &str| format!("/v1/verify/contract/{code}/pdf/{sha}?after_seq={filed}");
    let renders = || deedlog_api::routes::contract_pdf::renders(node.data_dir());
    assert_eq!(renders(), 0);

    // Forty checks of made-up hashes at once: every one answered "not genuine", one render.
    let guesses: Vec<String> = (0..40).map(|i| hash(&format!("guess {i}"))).collect();
    let answers = futures_util::future::join_all(guesses.iter().map(|g| {
        web_test::call_service(
            &app,
            web_test::TestRequest::get().uri(&check(g)).to_request(),
        )
    }))
    .await;
    for res in answers {
        assert_eq!(res.status().as_u16(), 200);
        let v = json_of(&web_test::read_body(res).await);
        assert_eq!(v["genuine"], json!(false), "{v}");
    }
    assert_eq!(renders(), 1, "one render for forty checks");

    // The seller's copy (a render of its own), then its hash is genuine and a changed copy's is
    // not, and more checks render nothing.
    let uri = "/v1/contracts/CT-1/pdf";
    let (s, pdf) = call!(app, signed_get(&seller_key, seller, uri, now()));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(renders(), 2);
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let (s, b) = call!(app, web_test::TestRequest::get().uri(&check(&sha(&pdf))));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(json_of(&b)["genuine"], json!(true), "{}", json_of(&b));
    let mut changed = pdf.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 1;
    let (s, b) = call!(
        app,
        web_test::TestRequest::get().uri(&check(&sha(&changed)))
    );
    assert_eq!(s, 200);
    assert_eq!(json_of(&b)["genuine"], json!(false), "{}", json_of(&b));
    for g in &guesses[..10] {
        let (s, _) = call!(app, web_test::TestRequest::get().uri(&check(g)));
        assert_eq!(s, 200);
    }
    assert_eq!(
        renders(),
        2,
        "the checks after the download rendered nothing"
    );
}
