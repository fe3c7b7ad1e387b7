//! The OpenAPI 3.1 document, built from the route list ([`crate::routes::all`]) so that it cannot
//! miss a route, a parameter or a body: every path, query and header parameter has a schema
//! (and `required` where the handler refuses a request without it), every body has a schema,
//! every answer its real content type, and every error the one error object.
//!
//! `POST /v1/commands/{kind}` is listed as one operation per command kind, each with the
//! `SignedCommand` envelope around that kind's payload schema, generated from the payload types
//! themselves (`deedlog_domain::payload::payload_schemas`), so that nothing is written twice.
//! The view documents the read routes serve are components too, generated from the document
//! types (`deedlog_views::docs::doc_schemas`), and each read route's answer references them
//! inside its wrapper (a page, `{"items"}`, a verification answer).

use serde_json::{Map, Value, json};

use crate::auth::{HEADER_ACTOR, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::routes::{Access, Body, Content, In, Param, RouteSpec, all};

/// Standard base64 of 32 bytes (an Ed25519 public key).
const KEY_PATTERN: &str = "^[A-Za-z0-9+/]{43}=$";
/// Standard base64 of 64 bytes (an Ed25519 signature).
const SIGNATURE_PATTERN: &str = "^[A-Za-z0-9+/]{86}==$";

/// The OpenAPI document of this API.
#[must_use]
pub fn document() -> Value {
    let (payloads, named) = deedlog_domain::payload::payload_schemas();
    let mut schemas = Map::new();
    for (name, schema) in named {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    // The view documents the read routes serve, referenced from their replies.
    for (name, schema) in deedlog_views::docs::doc_schemas() {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    schemas.insert("Error".to_owned(), error_schema());
    let mut paths = Map::new();
    for spec in all() {
        if matches!(spec.body, Body::Command) {
            for (kind, payload) in &payloads {
                let path = spec.path.replace("{kind}", kind);
                let payload = serde_json::to_value(payload).unwrap_or(Value::Null);
                let mut op = operation(spec, &path, |p| p.name != "kind");
                op["requestBody"] = json!({"required": true, "content": {
                    "application/json": {"schema": signed_command_schema(kind, payload)}}});
                op["summary"] = json!(format!("Append a signed `{kind}` command"));
                add(&mut paths, &path, spec, op);
            }
            continue;
        }
        let op = operation(spec, spec.path, |_| true);
        add(&mut paths, spec.path, spec, op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "deedlog",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A verifiable, event-sourced ledger for a city's resale-housing transaction platform. \
                Every error is {\"code\", \"message\", \"details\"} with a stable code; a known path asked with \
                another method is 405 with Allow; see docs/API.md.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn add(paths: &mut Map<String, Value>, path: &str, spec: &RouteSpec, op: Value) {
    let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
    item[spec.method.as_str().to_ascii_lowercase()] = op;
}

fn param_value(p: &Param) -> Value {
    json!({
        "name": p.name,
        "in": match p.place { In::Path => "path", In::Query => "query", In::Header => "header" },
        "required": p.required,
        "description": p.description,
        "schema": (p.schema)(),
    })
}

fn signature_headers() -> Vec<Value> {
    [
        (HEADER_ACTOR, json!({"type": "string", "minLength": 1, "maxLength": 80, "pattern": "^[A-Za-z0-9/_-]+$"}), "The actor id"),
        (HEADER_KEY, json!({"type": "string", "pattern": KEY_PATTERN}), "The actor's current public key, standard base64"),
        (HEADER_TIMESTAMP, json!({"type": "string", "pattern": "^-?[0-9]{1,19}$"}), "ms since the Unix epoch; within ±300 s of the server clock"),
        (HEADER_SIGNATURE, json!({"type": "string", "pattern": SIGNATURE_PATTERN}), "Ed25519 signature of the request message, standard base64"),
    ]
    .into_iter()
    .map(|(name, schema, description)| {
        json!({"name": name, "in": "header", "required": true, "description": description, "schema": schema})
    })
    .collect()
}

fn operation(spec: &RouteSpec, path: &str, keep: impl Fn(&Param) -> bool) -> Value {
    let mut params: Vec<Value> = spec
        .params
        .iter()
        .filter(|p| keep(p))
        .map(param_value)
        .collect();
    let auth = match spec.access {
        Access::Public => "Public.",
        Access::Signed => {
            params.extend(signature_headers());
            "Signed request: the four x-deedlog-* headers (see docs/API.md, Signed requests)."
        }
        Access::Command => {
            "Body: a SignedCommand of this kind (see docs/FORMAT.md and docs/EVENTS.md)."
        }
    };
    let mut responses = Map::new();
    for reply in &spec.replies {
        let content = match &reply.content {
            Content::Json(schema) => json!({"application/json": {"schema": schema()}}),
            Content::Text(ctype) => json!({*ctype: {"schema": {"type": "string"}}}),
            Content::Events(schema) => json!({"text/event-stream": {"schema": schema()}}),
            Content::Binary(types) => Value::Object(
                types
                    .iter()
                    .map(|t| {
                        (
                            (*t).to_owned(),
                            json!({"schema": {"type": "string", "format": "binary"}}),
                        )
                    })
                    .collect(),
            ),
        };
        responses.insert(
            reply.status.to_string(),
            json!({"description": reply.description, "content": content}),
        );
    }
    responses.insert(
        "default".to_owned(),
        json!({"description": "Error: {\"code\", \"message\", \"details\"} with a stable code (docs/API.md)",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
    );
    let mut op = json!({
        "operationId": operation_id(spec.method.as_str(), path),
        "tags": [spec.tag],
        "summary": spec.summary,
        "description": auth,
        "parameters": params,
        "responses": responses,
    });
    match &spec.body {
        Body::None | Body::Command => {}
        Body::Json(schema) => {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema()}}});
        }
        Body::Raw => {
            // Any bytes are a file to look up, none included (the empty file has a hash too).
            op["requestBody"] = json!({"required": false, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
        }
    }
    op
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    id.trim_end_matches('_').to_owned()
}

fn error_schema() -> Value {
    json!({"type": "object", "required": ["code", "message", "details"], "properties": {
        "code": {"type": "string", "description": "Stable code, e.g. request.bad_json (docs/EVENTS.md, docs/API.md)"},
        "message": {"type": "string", "description": "For humans; may change"},
        "details": {"type": "object"}}})
}

/// The `SignedCommand` envelope (see `docs/FORMAT.md`) around `kind`'s payload schema.
pub(crate) fn signed_command_schema(kind: &str, payload: Value) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["actor", "key", "kind", "stream", "payload", "nonce", "issued_at_ms", "signature"],
        "properties": {
            "actor": {"type": "string", "minLength": 1, "maxLength": 80, "description": "The signing actor, e.g. party/PA-7"},
            "key": {"type": "string", "pattern": KEY_PATTERN, "description": "The actor's public key, standard base64"},
            "kind": {"type": "string", "const": kind},
            "stream": {"type": "string", "minLength": 1, "maxLength": 80, "description": "The aggregate the command acts on"},
            "expected_version": {"type": "integer", "minimum": 0, "description": "Optimistic concurrency: the stream's version"},
            "payload": payload,
            "nonce": {"type": "string", "minLength": 1, "maxLength": 64, "description": "Unique per actor; a retry reuses it"},
            "issued_at_ms": {"type": "integer", "format": "int64", "description": "ms since the Unix epoch; within ±5 min"},
            "signature": {"type": "string", "pattern": SIGNATURE_PATTERN, "description": "Ed25519 over the canonical command, standard base64"},
        },
    })
}
