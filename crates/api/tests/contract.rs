//! The API's contract: every route of the one list is served (and nothing else is), a known
//! path asked with another method is `405` with `Allow`, and the OpenAPI document describes
//! every parameter and body with a schema, one operation per command kind.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use actix_web::test as web_test;
use serde_json::Value;

use deedlog_api::routes::{Access, Body, Method, all};
use deedlog_api::{ApiConfig, AppState};
use deedlog_node::{Node, NodeOptions};

fn node() -> (tempfile::TempDir, Node) {
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
    (dir, node)
}

/// A concrete path for a route's template (placeholders filled with well-formed values).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{kind}" => "party.register".to_owned(),
            "{seq}" => "0".to_owned(),
            "{code}" => "LV-0000000000000000".to_owned(),
            "{filing_code}" => "FC-0000000000000000".to_owned(),
            s if s.starts_with('{') => format!("{}-1", &s[1..3]),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn every_route_in_the_list_is_served_and_other_methods_get_405_with_allow() {
    let (_dir, node) = node();
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    for spec in all() {
        let path = concrete(spec.path);
        let req = match spec.method {
            Method::Get => web_test::TestRequest::get(),
            Method::Post => web_test::TestRequest::post()
                .insert_header(("content-type", "application/json"))
                .set_payload("{}"),
        }
        .uri(&path);
        let res = web_test::call_service(&app, req.to_request()).await;
        let status = res.status().as_u16();
        let streaming = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "text/event-stream");
        let body = if streaming {
            Default::default()
        } else {
            web_test::read_body(res).await
        };
        let code = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned));
        assert!(
            status != 405 && code.as_deref() != Some("route.not_found"),
            "{} {path} is in the list but not served: {status} {code:?}",
            spec.method.as_str()
        );
        // The other method: 405, `Allow`, the error object.
        let other = match spec.method {
            Method::Get => web_test::TestRequest::post(),
            Method::Post => web_test::TestRequest::get(),
        }
        .uri(&path);
        let res = web_test::call_service(&app, other.to_request()).await;
        assert_eq!(res.status().as_u16(), 405, "{path}");
        let allow = res
            .headers()
            .get("allow")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            allow.contains(spec.method.as_str()),
            "{path}: Allow {allow}"
        );
        let body: Value = serde_json::from_slice(&web_test::read_body(res).await).unwrap();
        assert_eq!(body["code"], "request.method_not_allowed");
        assert!(body["message"].is_string() && body["details"]["allow"].is_array());
    }
    for method in ["PUT", "DELETE", "PATCH"] {
        let req = web_test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri("/v1/listings");
        let res = web_test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status().as_u16(), 405);
        assert_eq!(res.headers().get("allow").unwrap(), "GET");
    }
    // A path outside the list is not served.
    for path in [
        "/v1/nothing",
        "/v1/log/nothing",
        "/v1/parties/PA-1/nothing",
        "/v1/queues/other",
    ] {
        let res =
            web_test::call_service(&app, web_test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status().as_u16(), 404, "{path}");
        let body: Value = serde_json::from_slice(&web_test::read_body(res).await).unwrap();
        assert_eq!(body["code"], "route.not_found", "{path}");
    }
    // An unknown command kind has its own documented code.
    let res = web_test::call_service(
        &app,
        web_test::TestRequest::post()
            .uri("/v1/commands/no.such_kind")
            .set_payload("{}")
            .to_request(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = serde_json::from_slice(&web_test::read_body(res).await).unwrap();
    assert_eq!(body["code"], "command.unknown_kind");
    node.shutdown();
}

#[test]
fn the_openapi_document_has_a_schema_for_every_parameter_and_body() {
    let doc = deedlog_api::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    let mut commands = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let params = op["parameters"].as_array().unwrap();
            for p in params {
                assert!(p["schema"].is_object(), "{method} {path}: {p}");
                assert!(p["required"].is_boolean(), "{method} {path}: {p}");
                if p["in"] == "path" {
                    assert_eq!(p["required"], true);
                }
            }
            // Every placeholder of the path is a declared path parameter.
            for seg in path.split('/') {
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert!(
                        params
                            .iter()
                            .any(|p| p["in"] == "path" && p["name"] == name),
                        "{method} {path}: {name} undeclared"
                    );
                }
            }
            if method == "post" {
                assert!(op["requestBody"]["required"].is_boolean(), "{path}");
                let content = op["requestBody"]["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{path}: no body"));
                for (ctype, media) in content {
                    assert!(media["schema"].is_object(), "{path} {ctype}");
                }
            }
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("default"), "{path}");
            for (status, r) in responses {
                for (_, media) in r["content"].as_object().unwrap() {
                    assert!(media["schema"].is_object(), "{path} {status}");
                }
            }
            if let Some(kind) = path.strip_prefix("/v1/commands/") {
                commands += 1;
                let body = &op["requestBody"]["content"]["application/json"]["schema"];
                assert_eq!(body["properties"]["kind"]["const"], kind);
                let payload = &body["properties"]["payload"];
                assert!(payload.is_object() && payload != &Value::Null, "{kind}");
            }
        }
    }
    assert_eq!(commands, deedlog_domain::KINDS.len());
    // Every route of the list is in the document (commands as one operation per kind).
    for spec in all() {
        if matches!(spec.body, Body::Command) {
            continue;
        }
        let op = &doc["paths"][spec.path][spec.method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing",
            spec.method.as_str(),
            spec.path
        );
        if spec.access == Access::Signed {
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert!(names.contains(&"x-deedlog-signature"), "{}", spec.path);
        }
    }
    assert_eq!(operations, all().len() - 1 + commands);
    // The real content types.
    let ctype = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(ctype("/checkpoint"), ["text/plain; charset=utf-8"]);
    assert_eq!(ctype("/metrics"), ["text/plain; version=0.0.4"]);
    assert_eq!(ctype("/v1/log/entries"), ["application/x-ndjson"]);
    assert_eq!(ctype("/v1/log/follow"), ["text/event-stream"]);
    assert_eq!(ctype("/swagger-ui/"), ["text/html"]);
    // Required query parameters are marked.
    let required = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == name && p["required"] == true)
    };
    assert!(required("/v1/log/entries", "start"));
    assert!(required("/v1/log/proof/consistency", "from"));
    assert!(required("/v1/log/checkpoints", "from"));
    assert!(required("/v1/actors/key", "actor"));
}
