//! The node's tlog-tiles routes over HTTP, read by a reader written from the tiles spec alone:
//! it rebuilds the served checkpoint's root and proves every entry; tiles past the tree, bad
//! spellings and other methods are refused.

#[path = "../../store/tests/support/tile_reader.rs"]
mod tile_reader;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use actix_web::test as web_test;
use deedlog_api::{ApiConfig, AppState};
use deedlog_core::checkpoint::{VerifierKey, open_checkpoint};
use deedlog_node::{Node, NodeOptions};

#[actix_web::test]
async fn served_tiles_rebuild_the_checkpoint_and_prove_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    let clock = Arc::new(AtomicI64::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    ));
    options.sequencer.clock = Arc::new(move || clock.load(std::sync::atomic::Ordering::SeqCst));
    options.sequencer.batch_wait = Duration::from_micros(100);
    options.sequencer.verify_threads = 1;
    let node = Node::open(options).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let get = |path: String| web_test::TestRequest::get().uri(&path).to_request();

    let res = web_test::call_service(&app, get("/checkpoint".into())).await;
    assert_eq!(res.status().as_u16(), 200);
    // A leading all-zero group is another spelling of the same index: refused, whether its
    // slash is plain or percent-encoded.
    for bad in [
        "/tile/entries/x000/000",
        "/tile/entries/x000%2F000",
        "/tile/0/x000%2F000",
    ] {
        let res = web_test::call_service(&app, get(bad.into())).await;
        assert_eq!(res.status().as_u16(), 400, "{bad}");
    }
    let note = web_test::read_body(res).await.to_vec();
    let key = VerifierKey::parse(node.log_vkey()).unwrap();
    let opened = open_checkpoint(&note, &key).unwrap();
    assert!(opened.size > 0);

    // Fetch every tile the reader asks for over HTTP first (the reader is synchronous).
    let mut fetched = std::collections::HashMap::new();
    let size = opened.size;
    let mut paths = Vec::new();
    for level in 0..8u32 {
        let units = size >> (8 * level);
        if units == 0 {
            break;
        }
        for n in 0..units.div_ceil(256) {
            let w = (units - n * 256).min(256);
            let suffix = if w == 256 {
                String::new()
            } else {
                format!(".p/{w}")
            };
            paths.push(format!(
                "tile/{level}/{}{suffix}",
                tile_reader::index_path(n)
            ));
            if level == 0 {
                paths.push(format!(
                    "tile/entries/{}{suffix}",
                    tile_reader::index_path(n)
                ));
            }
        }
    }
    for path in paths {
        let res = web_test::call_service(&app, get(format!("/{path}"))).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/octet-stream"
        );
        assert!(
            res.headers()
                .get("cache-control")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        fetched.insert(path, web_test::read_body(res).await.to_vec());
    }
    let fetch = |path: &str| fetched.get(path).cloned();
    let reader = tile_reader::TileReader::new(&fetch, size);
    let entries = reader.check_all(&opened.root.0);
    for (seq, bytes) in entries.iter().enumerate() {
        assert_eq!(bytes, &node.reader().entry(seq as u64).unwrap());
    }

    // Past the tree: 404 tile.not_found. Bad spellings: 400. Another method: 405.
    let w = size % 256 + 1;
    let last = tile_reader::index_path(size / 256);
    for (path, status) in [
        (format!("/tile/0/{last}.p/{w}"), 404),
        (format!("/tile/entries/{last}.p/{w}"), 404),
        ("/tile/0/x001/000".to_owned(), 404),
        ("/tile/0/x000/000".to_owned(), 400),
        ("/tile/0/000.p/0".to_owned(), 400),
        ("/tile/9/000".to_owned(), 400),
        ("/tile/entries/1".to_owned(), 400),
    ] {
        if w == 256 && status == 404 && path.contains(".p/") {
            continue;
        }
        let res = web_test::call_service(&app, get(path.clone())).await;
        assert_eq!(res.status().as_u16(), status, "{path}");
    }
    let res = web_test::call_service(
        &app,
        web_test::TestRequest::post()
            .uri("/tile/0/000")
            .to_request(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 405);
    node.shutdown();
}

/// `GET /v1/log/entries/{seq}/tlog-proof`: every entry's C2SP tlog-proof, read first by the
/// spec's grammar written out here (header, `extra`, `index`, base64 hashes, an empty line, the
/// checkpoint verbatim), then verified: the extra data is the entry's exact bytes, as in its
/// bundle, and the proof holds under the log key. Past the log is 404.
#[actix_web::test]
async fn served_tlog_proofs_follow_the_spec_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    options.sequencer.verify_threads = 1;
    let node = Node::open(options).unwrap();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    // A few certified agencies, so that the proofs have hashes in them.
    let keys = deedlog_node::NodeKeys::load_or_create(&dir.path().join("data").join("keys"), true)
        .unwrap();
    let housing = keys.get("authority/housing").unwrap();
    for i in 0..6 {
        let command = deedlog_core::Command {
            actor: "authority/housing".into(),
            key: housing.public().to_base64(),
            kind: "agency.certify".into(),
            stream: format!("agency/AG-TLOG{i}"),
            expected_version: None,
            payload: serde_json::json!({"name": format!("昆明安居房产经纪有限公司{i}"),
                "licence_no": format!("KMJJ-2021-000{i}"), "district": "五华区",
                "address": "昆明市五华区东风西路1号"}),
            nonce: format!("tlog-proof-test-{i}"),
            issued_at_ms: i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap(),
        }
        .sign(housing)
        .unwrap();
        node.submit(command).await.unwrap();
    }
    let get = |path: String| web_test::TestRequest::get().uri(&path).to_request();
    let key = VerifierKey::parse(node.log_vkey()).unwrap();
    let size = node.reader().latest_checkpoint().unwrap().size;
    assert!(size > 6);
    let b64 = |t: &str| deedlog_core::keys::from_base64(t).unwrap();
    for seq in 0..size {
        let res =
            web_test::call_service(&app, get(format!("/v1/log/entries/{seq}/tlog-proof"))).await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "text/plain; charset=utf-8"
        );
        let text = String::from_utf8(web_test::read_body(res).await.to_vec()).unwrap();
        let (head, note) = text
            .split_once("\n\n")
            .expect("an empty line before the note");
        let lines: Vec<&str> = head.split('\n').collect();
        assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
        let extra = b64(lines[1].strip_prefix("extra ").expect("extra"));
        assert_eq!(lines[2], format!("index {seq}"));
        for h in &lines[3..] {
            assert_eq!(b64(h).len(), 32, "{h}");
        }
        assert!(open_checkpoint(note.as_bytes(), &key).is_ok());
        let res = web_test::call_service(&app, get(format!("/v1/log/entries/{seq}"))).await;
        let bundle: deedlog_core::bundle::ProofBundle =
            serde_json::from_slice(&web_test::read_body(res).await).unwrap();
        assert_eq!(extra, b64(&bundle.entry));
        let p = deedlog_core::tlog_proof::TlogProof::parse(text.as_bytes()).unwrap();
        assert_eq!(p.verify(&key).unwrap().entry.seq, seq);
    }
    let res = web_test::call_service(&app, get(format!("/v1/log/entries/{size}/tlog-proof"))).await;
    assert_eq!(res.status().as_u16(), 404);
}
