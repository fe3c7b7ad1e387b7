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
        // The other method: 405, `Allow`, the error object — unless the list serves that
        // method at the same path too (a conversation is read with GET and written with POST).
        let other_method = match spec.method {
            Method::Get => Method::Post,
            Method::Post => Method::Get,
        };
        if all()
            .iter()
            .any(|r| r.path == spec.path && r.method == other_method)
        {
            continue;
        }
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

/// The names of the view documents: a 2xx JSON reply that serves one must say its fields.
const VIEW_DOCS: &[&str] = &[
    "PartyDoc",
    "AgencyDoc",
    "AgentDoc",
    "BankDoc",
    "OfficeDoc",
    "VerificationDoc",
    "EntrustmentDoc",
    "ListingDoc",
    "ViewingDoc",
    "PrecheckDoc",
    "ContractDoc",
    "ProxyDoc",
    "KeyDoc",
];

/// Whether a schema is a bare object (`{"type": "object"}` with no properties), anywhere inside.
fn bare_objects(schema: &Value, at: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if map.get("type") == Some(&Value::from("object"))
                && !map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                out.push(at.to_owned());
            }
            for (k, v) in map {
                bare_objects(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                bare_objects(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The read routes that serve view documents, and the document each reply names.
const DOC_ROUTES: &[(&str, &str)] = &[
    ("/v1/agencies", "AgencyDoc"),
    ("/v1/agencies/{AG}", "AgencyDoc"),
    ("/v1/agents", "AgentDoc"),
    ("/v1/agents/{AT}", "AgentDoc"),
    ("/v1/offices", "OfficeDoc"),
    ("/v1/banks", "BankDoc"),
    ("/v1/actors/key", "KeyDoc"),
    ("/v1/listings/{LS}/price-history", "PricePoint"),
    ("/v1/parties/{PA}", "PartyDoc"),
    ("/v1/parties/{PA}/verifications", "VerificationDoc"),
    ("/v1/parties/{PA}/entrustments", "EntrustmentDoc"),
    ("/v1/parties/{PA}/listings", "ListingDoc"),
    ("/v1/parties/{PA}/viewings", "ViewingDoc"),
    ("/v1/parties/{PA}/viewing-records", "ViewingDoc"),
    ("/v1/parties/{PA}/prechecks", "PrecheckDoc"),
    ("/v1/parties/{PA}/contracts", "ContractDoc"),
    ("/v1/parties/{PA}/proxies", "ProxyDoc"),
    ("/v1/agents/{AT}/entrustments", "EntrustmentDoc"),
    ("/v1/agents/{AT}/listings", "ListingDoc"),
    ("/v1/agents/{AT}/viewings", "ViewingDoc"),
    ("/v1/agents/{AT}/contracts", "ContractDoc"),
    ("/v1/banks/{BK}/prechecks", "PrecheckDoc"),
    ("/v1/queues/contracts-to-file", "ContractDoc"),
    ("/v1/queues/offline-contracts", "ContractDoc"),
    ("/v1/queues/proxies-to-verify", "ProxyDoc"),
    ("/v1/verifications/{PV}", "VerificationDoc"),
    ("/v1/entrustments/{EN}", "EntrustmentDoc"),
    ("/v1/viewings/{VW}", "ViewingDoc"),
    ("/v1/prechecks/{LP}", "PrecheckDoc"),
    ("/v1/contracts/{CT}", "ContractDoc"),
    ("/v1/proxies/{PX}", "ProxyDoc"),
    ("/v1/verify/listing/{code}", "PricePoint"),
];

#[test]
fn every_reply_that_serves_a_view_document_says_its_fields() {
    let doc = deedlog_api::openapi::document();
    let schemas = &doc["components"]["schemas"];
    // Every view document is a component with its fields, none of them a bare object.
    for name in VIEW_DOCS {
        let s = &schemas[*name];
        assert!(
            s["properties"].as_object().is_some_and(|p| !p.is_empty()),
            "{name}: {s}"
        );
        let mut bare = Vec::new();
        bare_objects(s, name, &mut bare);
        assert!(bare.is_empty(), "bare objects in {name}: {bare:?}");
    }
    // Every 2xx JSON reply of a route serving a view document references the document and has
    // no bare object anywhere in it.
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, r) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                let Some(schema) = r["content"].get("application/json").map(|m| &m["schema"])
                else {
                    continue;
                };
                let text = schema.to_string();
                let serves = VIEW_DOCS
                    .iter()
                    .chain(["PricePoint"].iter())
                    .any(|d| text.contains(&format!("#/components/schemas/{d}\"")));
                let expected = DOC_ROUTES.iter().find(|(p, _)| p == path);
                if let Some((_, d)) = expected {
                    assert!(
                        text.contains(&format!("#/components/schemas/{d}\"")),
                        "{method} {path} {status}: does not reference {d}: {text}"
                    );
                }
                if serves
                    || expected.is_some()
                    || path.starts_with("/v1/listings")
                    || path.starts_with("/v1/verify")
                {
                    seen += 1;
                    let mut bare = Vec::new();
                    bare_objects(schema, &format!("{method} {path} {status}"), &mut bare);
                    assert!(bare.is_empty(), "bare objects: {bare:?}");
                }
            }
        }
    }
    assert!(seen >= DOC_ROUTES.len() + 2, "{seen}");
    // Every reference resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > DOC_ROUTES.len());
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas[name].is_object(), "dangling {r}");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Errors of `value` against `schema` (resolving `#/components/schemas/…` in `doc`): a missing
/// required key, a key the schema does not name, a value of another JSON type.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{at}: dangling {r}");
        return check(doc, target, value, at, errors);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let fits = options.iter().any(|o| {
                let mut e = Vec::new();
                check(doc, o, value, at, &mut e);
                e.is_empty()
            });
            if !fits {
                errors.push(format!("{at}: fits no {key} of {schema}: {value}"));
            }
            return;
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, value, at, errors);
        }
    }
    let json_type = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = types.is_empty()
        || types.contains(&json_type)
        || (json_type == "integer" && types.contains(&"number"));
    if !fits {
        errors.push(format!("{at}: a {json_type}, documented {types:?}"));
        return;
    }
    match value {
        Value::Object(map) => {
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !map.contains_key(r) {
                    errors.push(format!("{at}: required `{r}` missing"));
                }
            }
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in map {
                    match props.get(k) {
                        Some(s) => check(doc, s, v, &format!("{at}.{k}"), errors),
                        None => errors.push(format!("{at}: `{k}` is not documented")),
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                errors.push(format!("{at}: more than {max} items"));
            }
            if schema["items"].is_object() {
                for (i, v) in items.iter().enumerate() {
                    check(doc, &schema["items"], v, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// The 200 JSON reply schema of `GET path`.
fn reply_schema<'a>(doc: &'a Value, path: &str) -> &'a Value {
    let s = &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(s.is_object(), "{path}: no 200 JSON reply");
    s
}

#[test]
fn real_answers_fit_their_documented_schemas() {
    use deedlog_domain::State;
    use deedlog_domain::testkit::{Ledger, hash};
    use deedlog_views::keys::Relation;
    use deedlog_views::{ListingQuery, Paging, Projection, Views};
    use serde_json::json;

    // A deal on a testkit ledger: an agent lists, the agent drafts a contract, all sign, the
    // housing authority files it.
    let mut l = Ledger::new();
    let seller = l.party("alice");
    let buyer = l.party("bob");
    let agency = l.agency("anju");
    let agent = l.agent("wang", &agency);
    l.agent("li", &agency);
    l.bank("wuhua");
    l.office("wuhua");
    let property = l.property("cuihu", &[&seller]);
    let cert = l.certificate(&property);
    let v = "verification/PV-1";
    l.ok(
        &seller,
        "property.verify",
        v,
        json!({ "certificate_no": cert }),
    );
    let en = "entrustment/EN-1";
    let until = l.now_ms + 90 * 86_400_000;
    l.ok(
        &seller,
        "entrustment.sale",
        en,
        json!({
            "verification": v, "agent": agent, "floor_price_fen": 100_000_000u64,
            "expires_at_ms": until, "review_agent_edits": false,
        }),
    );
    l.ok(&agent, "entrustment.accept", en, json!({}));
    let ls = "listing/LS-1";
    let payload = l.publish_payload(Some(en), v, 120_000_000);
    l.ok(&agent, "listing.publish", ls, payload);
    let ct = "contract/CT-1";
    let terms = l.terms(ls, &buyer, 120_000_000);
    l.ok(
        &agent,
        "contract.draft",
        ct,
        json!({
            "listing": ls, "buyer": buyer, "terms": terms, "document_hash": hash("contract v1"),
        }),
    );
    let roles = [buyer.clone(), seller.clone(), agent.clone()];
    let document = hash("contract v1");
    for who in &roles {
        l.ok(
            who,
            "contract.confirm",
            ct,
            json!({ "document_hash": document }),
        );
    }
    for who in &roles {
        l.ok(
            who,
            "contract.sign",
            ct,
            json!({ "document_hash": document }),
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let views = Views::open(dir.path()).unwrap();
    let mut projection = Projection::new(views.clone(), State::default()).unwrap();
    let bytes: Vec<Vec<u8>> = l
        .entries
        .iter()
        .map(|e| e.encode_stored().unwrap())
        .collect();
    projection.apply(&bytes).unwrap();

    // The answers, built by the same calls the handlers make.
    let page = Paging {
        offset: 0,
        limit: 20,
    };
    let search = views
        .search_listings(&ListingQuery::default(), page)
        .unwrap()
        .to_value(20, 0);
    assert_eq!(search["items"].as_array().unwrap().len(), 1, "{search}");
    let detail = views.public_listing(ls).unwrap().unwrap();
    let agents = views.agents_by_rating(None, page).unwrap().to_value(20, 0);
    assert_eq!(agents["items"].as_array().unwrap().len(), 2, "{agents}");
    let offices = json!({ "items": views.all_of("office", None).unwrap() });
    assert_eq!(offices["items"].as_array().unwrap().len(), 1, "{offices}");
    let Some(contract) = views.doc(ct).unwrap() else {
        panic!("no contract document")
    };
    let contract = serde_json::to_value(&contract).unwrap();
    assert_eq!(contract["status"], "signed", "{contract}");
    let party = views.doc_value(&seller).unwrap().unwrap();
    let contracts = views
        .owned(&buyer, Relation::Contracts, page)
        .unwrap()
        .to_value(20, 0);
    let verification = serde_json::to_value(views.doc(v).unwrap().unwrap()).unwrap();
    let entrustment = serde_json::to_value(views.doc(en).unwrap().unwrap()).unwrap();
    let price_history = match views.doc(ls).unwrap() {
        Some(deedlog_views::Doc::Listing(d)) => deedlog_views::price_history_page(&d, page),
        _ => panic!("no listing document"),
    };

    let doc = deedlog_api::openapi::document();
    for (path, answer) in [
        ("/v1/listings", &search),
        ("/v1/listings/{LS}", &detail),
        ("/v1/listings/{LS}/price-history", &price_history),
        ("/v1/agents", &agents),
        ("/v1/offices", &offices),
        ("/v1/contracts/{CT}", &contract),
        ("/v1/parties/{PA}", &party),
        ("/v1/parties/{PA}/contracts", &contracts),
        ("/v1/verifications/{PV}", &verification),
        ("/v1/entrustments/{EN}", &entrustment),
    ] {
        let mut errors = Vec::new();
        check(&doc, reply_schema(&doc, path), answer, path, &mut errors);
        assert!(errors.is_empty(), "{path}: {errors:#?}\n{answer}");
    }

    // The checker is not blind: an undocumented key, a missing one and a wrong type all fail.
    let contract_schema = reply_schema(&doc, "/v1/contracts/{CT}");
    let mut extra = contract.clone();
    extra["buyer_phone"] = json!("13800000000");
    let mut missing = contract.clone();
    missing.as_object_mut().unwrap().remove("status");
    let mut wrong = contract.clone();
    wrong["created_seq"] = json!("7");
    // A field that is `null` when absent is still always there.
    let mut no_agent = contract.clone();
    no_agent.as_object_mut().unwrap().remove("agent");
    for bad in [extra, missing, wrong, no_agent] {
        let mut errors = Vec::new();
        check(&doc, contract_schema, &bad, "contract", &mut errors);
        assert!(!errors.is_empty(), "{bad}");
    }
    // The public detail, also inside the listing code's verification, never documents the
    // private parts it leaves out.
    for listing in [
        reply_schema(&doc, "/v1/listings/{LS}"),
        &reply_schema(&doc, "/v1/verify/listing/{code}")["properties"]["listing"],
    ] {
        assert!(listing["properties"]["price_history_total"].is_object());
        assert!(listing["properties"].get("pending").is_none());
        assert!(listing["properties"].get("ever_shown").is_none());
    }
}

/// Reference data for a node: one agency with one agent, one bank, one office, one property.
fn write_reference(dir: &std::path::Path) {
    use serde_json::json;
    std::fs::create_dir_all(dir).unwrap();
    let seller = json!({"name": "邓婷", "id_number": "530111197905129301", "phone": "19150620624"});
    let agent_person =
        json!({"name": "魏林", "id_number": "530102195908253193", "phone": "15030997123"});
    let mut owner = seller.clone();
    owner["share_percent"] = json!(100);
    let mut agent = agent_person.clone();
    agent["agent_id"] = json!("AT-0001");
    agent["licence_no"] = json!("KMJJR-2020-0001");
    let files = [
        (
            "properties.json",
            json!([{"certificate_no": "云(2021)昆明市不动产权第0012345号",
            "district": "五华区", "community": "翠湖花园", "address": "五华区翠湖南路8号1栋1单元501",
            "area_centi_m2": 8950, "rooms": 2, "halls": 1, "bathrooms": 1, "floor": 5,
            "floors_total": 7, "built_year": 2005, "usage": "住宅", "owners": [owner],
            "mortgage": null, "seizure": null}]),
        ),
        (
            "agencies.json",
            json!([{"agency_id": "AG-0001", "name": "昆明测试房产经纪有限公司",
            "licence_no": "KMJJ-2023-0001", "district": "五华区", "address": "五华区东风西路1号",
            "agents": [agent]}]),
        ),
        ("population.json", json!([seller, agent_person])),
        (
            "banks.json",
            json!([{"bank_id": "BK-01", "name": "中国工商银行", "branch": "昆明分行"}]),
        ),
        (
            "offices.json",
            json!([{"office_id": "OF-01", "name": "五华区办理点", "district": "五华区",
            "address": "五华区人民中路2号", "hours": "周一至周五 9:00-17:00", "phone": "0871-63000000"}]),
        ),
    ];
    for (name, value) in files {
        std::fs::write(dir.join(name), value.to_string()).unwrap();
    }
}

#[actix_web::test]
async fn served_directory_answers_fit_their_documented_schemas() {
    let dir = tempfile::tempdir().unwrap();
    write_reference(&dir.path().join("reference"));
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = Some(dir.path().join("reference"));
    options.sequencer.batch_wait = Duration::from_micros(100);
    options.sequencer.verify_threads = 1;
    let node = Node::open(options).unwrap();
    assert!(
        node.views()
            .wait_applied(node.reader().size(), Duration::from_secs(10))
            .await
    );
    let app = web_test::init_service(deedlog_api::app(AppState::new(
        node.clone(),
        ApiConfig::default(),
    )))
    .await;
    let doc = deedlog_api::openapi::document();
    for (path, uri, nonempty) in [
        ("/v1/agents", "/v1/agents", true),
        ("/v1/agents/{AT}", "/v1/agents/AT-0001", false),
        ("/v1/offices", "/v1/offices", true),
        ("/v1/agencies", "/v1/agencies", true),
        ("/v1/agencies/{AG}", "/v1/agencies/AG-0001", false),
        ("/v1/banks", "/v1/banks", true),
        (
            "/v1/actors/key",
            "/v1/actors/key?actor=agent/AT-0001",
            false,
        ),
        ("/v1/listings", "/v1/listings", false),
    ] {
        let res =
            web_test::call_service(&app, web_test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status().as_u16(), 200, "{uri}");
        let body: Value = serde_json::from_slice(&web_test::read_body(res).await).unwrap();
        if nonempty {
            assert!(
                !body["items"].as_array().unwrap().is_empty(),
                "{uri}: {body}"
            );
        }
        let mut errors = Vec::new();
        check(&doc, reply_schema(&doc, path), &body, uri, &mut errors);
        assert!(errors.is_empty(), "{uri}: {errors:#?}\n{body}");
    }
    node.shutdown();
}
