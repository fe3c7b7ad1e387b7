//! Shared vectors for clients in other languages (the browser's `web/public/sign.js`):
//! `ledger-data/vectors/commands-v2.json` holds a few version-2 commands signed with fixed seeds
//! and salts (their openings, digests, signing messages, signatures and bodies), signed requests,
//! and canonical-JSON cases (Chinese text, escapes, key order by UTF-16 code units, nesting,
//! integers at the limits) with texts the encoder must refuse. The file is written by this code
//! and checked against it forever: a client that reproduces every byte of it signs commands the
//! server accepts.

use std::path::PathBuf;

use deedlog_core::command::{COMMAND_DOMAIN_V2, opening_bytes, payload_digest};
use deedlog_core::{Command, SecretKey, SignedCommand, canonical, keys};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FILE: &str = "commands-v2.json";

/// The signed-request domain tag (docs/API.md, "Signed requests"); the server's copy is in the
/// api crate, which this crate does not depend on, so the vector pins the bytes instead.
const REQUEST_DOMAIN: &[u8] = b"deedlog/request/v1\n";

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ledger-data/vectors")
        .join(FILE)
}

fn secret(fill: u8) -> SecretKey {
    SecretKey::from_seed(&[fill; 32])
}

/// A fixed salt: 16 bytes counting up from `start`. Real clients draw them at random; fixed ones
/// make the bytes reproducible.
fn salt(start: u8) -> String {
    let bytes: Vec<u8> = (0..16u8).map(|i| start.wrapping_add(i)).collect();
    keys::base64(&bytes)
}

/// One command vector: the command, its salt and every intermediate byte string.
fn command_vector(name: &str, fill: u8, salt_start: u8, command: &Command) -> Value {
    let secret = secret(fill);
    let salt = salt(salt_start);
    let (opening, _) = opening_bytes(&command.payload, &salt).unwrap();
    let digest = hex::encode(payload_digest(&opening));
    let signed = command
        .clone()
        .sign_with_salt(&secret, salt.clone())
        .unwrap();
    let (sealed, _) = signed.seal().unwrap();
    let prepared = sealed.prepare().unwrap();
    let mut message = COMMAND_DOMAIN_V2.to_vec();
    message.extend_from_slice(&prepared.message);
    // The body as a client sends it, in canonical form (the server takes any field order).
    let body = canonical::to_vec(&signed).unwrap();
    let mut sealed_bytes = Vec::new();
    sealed.write_canonical(&mut sealed_bytes).unwrap();
    json!({
        "name": name,
        "seed_hex": hex::encode(secret.to_seed()),
        "command": serde_json::to_value(command).unwrap(),
        "salt": salt,
        "payload_canonical": String::from_utf8(canonical::encode(&command.payload).unwrap()).unwrap(),
        "opening": String::from_utf8(opening).unwrap(),
        "payload_digest": digest,
        "message": String::from_utf8(message).unwrap(),
        "signature": signed.signature,
        "body": String::from_utf8(body).unwrap(),
        "sealed": String::from_utf8(sealed_bytes).unwrap(),
    })
}

fn command(
    actor: &str,
    fill: u8,
    kind: &str,
    stream: &str,
    version: Option<u64>,
    payload: Value,
    nonce: &str,
) -> Command {
    Command {
        actor: actor.into(),
        key: secret(fill).public().to_base64(),
        kind: kind.into(),
        stream: stream.into(),
        expected_version: version,
        payload,
        nonce: nonce.into(),
        issued_at_ms: 1_764_547_200_000,
    }
}

/// One signed-request vector (docs/API.md): the message and its signature.
fn request_vector(
    name: &str,
    fill: u8,
    actor: &str,
    method: &str,
    path: &str,
    timestamp: i64,
    body: &str,
) -> Value {
    let secret = secret(fill);
    let digest = hex::encode(Sha256::digest(body.as_bytes()));
    let rest = format!("{method}\n{path}\n{timestamp}\n{digest}");
    let signature = keys::base64(&secret.sign(REQUEST_DOMAIN, rest.as_bytes()));
    json!({
        "name": name,
        "seed_hex": hex::encode(secret.to_seed()),
        "actor": actor,
        "key": secret.public().to_base64(),
        "method": method,
        "path_and_query": path,
        "timestamp": timestamp.to_string(),
        "body": body,
        "message": format!("{}{rest}", String::from_utf8(REQUEST_DOMAIN.to_vec()).unwrap()),
        "signature": signature,
    })
}

fn nested(depth: usize) -> Value {
    let mut v = json!(0);
    for i in 0..depth {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    v
}

fn canonical_cases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "chinese text",
            json!({"certificate_no": "云(2021)昆明市不动产权第0012345号", "小区": "翠湖 花园·三期"}),
        ),
        (
            "escapes",
            json!({"s": "quote\" backslash\\ slash/ \u{8}\u{9}\n\u{c}\r \u{0}\u{1}\u{1f}\u{7f} \u{2028}\u{2029}"}),
        ),
        (
            "key order by UTF-16 code units",
            json!({"\u{fb01}": 1, "\u{1f600}": 2, "é": 3, "Z": 4, "a": 5, "": 6, "aa": 7, "a\u{0}": 8}),
        ),
        (
            "astral and combining characters",
            json!({"emoji": "🏠🔑", "nfc": "é", "cjk_ext_b": "𠀀"}),
        ),
        (
            "integers at the limits",
            json!({"max": 9_007_199_254_740_991_i64, "min": -9_007_199_254_740_991_i64, "zero": 0, "minus_one": -1}),
        ),
        (
            "nesting",
            json!({"a": [1, [2, [3, {"b": {"c": [true, false, null]}}]]], "empty_obj": {}, "empty_arr": []}),
        ),
        ("deep nesting", nested(31)),
        (
            "a listing payload",
            json!({
                "verification": "verification/PV-3f9a0c41d2b7e865",
                "price_fen": 128_000_000,
                "area_centi_m2": 8_950,
                "rooms": 3,
                "district": "五华区",
                "community": "翠湖花园",
                "photos": ["a".repeat(64), "b".repeat(64)],
            }),
        ),
    ]
}

/// Texts the canonical decoder refuses (and so must any client's).
const REFUSED: &[&str] = &[
    r#"{"a":1.5}"#,
    r#"{"a":1e3}"#,
    r#"{"a":1.0}"#,
    r#"{"a":9007199254740992}"#,
    r#"{"a":-9007199254740992}"#,
    r#"{"b":1,"a":2}"#,
    r#"{"a":1,"a":1}"#,
    r#"{ "a":1}"#,
    r#"{"a":"\u0041"}"#,
    r#"{"a":"\/"}"#,
    r#"{"a":"\u00E9"}"#,
    r#"{"a":01}"#,
    r#"{"a":-0}"#,
];

fn build() -> Value {
    let commands = vec![
        command_vector(
            "property.verify with expected_version",
            0x11,
            0x00,
            &command(
                "party/PA-3f9a0c41d2b7e865",
                0x11,
                "property.verify",
                "verification/PV-3f9a0c41d2b7e865",
                Some(0),
                json!({"certificate_no": "云(2021)昆明市不动产权第0012345号"}),
                "n-0001-abcdefgh",
            ),
        ),
        command_vector(
            "entrustment.sale without expected_version",
            0x22,
            0xf0,
            &command(
                "party/PA-3f9a0c41d2b7e865",
                0x22,
                "entrustment.sale",
                "entrustment/EN-00aa11bb22cc33dd",
                None,
                json!({"verification": "verification/PV-3f9a0c41d2b7e865", "agent": "agent/AT-0001", "floor_price_fen": 9_007_199_254_740_991_i64, "period_days": 90, "review_edits": true}),
                "Zm9vYmFyYmF6cXV4MTIzNA",
            ),
        ),
        command_vector(
            "party.register with a nested voucher",
            0x33,
            0x80,
            &command(
                "party/PA-0123456789abcdef",
                0x33,
                "party.register",
                "party/PA-0123456789abcdef",
                Some(0),
                json!({"phone_commitment": "c".repeat(64), "voucher": {"party": "party/PA-0123456789abcdef", "key": secret(0x33).public().to_base64(), "issued_at_ms": 1_764_547_199_000_i64, "signature": "A".repeat(86) + "=="}}),
                "n_-0123456789_-xyz",
            ),
        ),
        command_vector(
            "free text with escapes",
            0x44,
            0x40,
            &command(
                "agent/AT-0001",
                0x44,
                "listing.reject",
                "listing/LS-1",
                Some(7),
                json!({"reason": "照片与实物不符 \"第2张\"\\n\t/ok"}),
                "nonce-4444",
            ),
        ),
    ];
    let requests = vec![
        request_vector(
            "a GET with a query",
            0x11,
            "party/PA-3f9a0c41d2b7e865",
            "GET",
            "/v1/parties/PA-3f9a0c41d2b7e865/verifications?limit=5",
            1_764_547_200_000,
            "",
        ),
        request_vector(
            "a POST with a body",
            0x11,
            "party/PA-3f9a0c41d2b7e865",
            "POST",
            "/v1/identity/realname/challenge?after_seq=12",
            1_764_547_200_123,
            r#"{"id_number":"53010219900101001X","name":"张三"}"#,
        ),
    ];
    let canonical: Vec<Value> = canonical_cases()
        .into_iter()
        .map(|(name, value)| {
            let text = String::from_utf8(canonical::encode(&value).unwrap()).unwrap();
            json!({"name": name, "value": value, "canonical": text})
        })
        .collect();
    json!({
        "about": "Version-2 commands, signed requests and canonical JSON with fixed keys and salts; written by crates/core/tests/commands_v2.rs (DEEDLOG_REGENERATE_VECTORS=1) and checked by it and by web/test/sign.test.mjs.",
        "commands": commands,
        "requests": requests,
        "canonical": canonical,
        "refused": REFUSED,
    })
}

/// Rewrites the file when run with `DEEDLOG_REGENERATE_VECTORS=1`; otherwise insists that the code
/// still gives the committed bytes.
#[test]
fn command_vectors_reproduce_the_committed_file() {
    let mut text = serde_json::to_string_pretty(&build()).unwrap();
    text.push('\n');
    if std::env::var("DEEDLOG_REGENERATE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(vectors_path(), &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(vectors_path()).unwrap();
    assert!(
        committed == text,
        "{FILE} no longer matches the code: the signing format drifted"
    );
}

/// Every committed command verifies as the server verifies it, and a changed byte does not.
#[test]
fn committed_command_vectors_verify() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_path()).unwrap()).unwrap();
    let commands = file["commands"].as_array().unwrap();
    assert!(commands.len() >= 4);
    for v in commands {
        let signed: SignedCommand = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
        assert!(signed.verify().is_ok(), "{}", v["name"]);
        let mut changed = signed.clone();
        changed.nonce.push('x');
        assert!(changed.verify().is_err(), "{}", v["name"]);
        let mut other_salt = signed.clone();
        other_salt.payload_salt = Some(salt(0x55));
        assert!(other_salt.verify().is_err(), "{}", v["name"]);
    }
    for text in file["refused"].as_array().unwrap() {
        let text = text.as_str().unwrap();
        assert!(
            canonical::decode(text.as_bytes()).is_err(),
            "{text} must be refused"
        );
    }
    for case in file["canonical"].as_array().unwrap() {
        let text = case["canonical"].as_str().unwrap();
        assert!(
            canonical::decode(text.as_bytes()).is_ok(),
            "{}",
            case["name"]
        );
    }
}
