//! Signed commands at the edges of Ed25519, built with curve25519-dalek: signatures whose R has a
//! torsion component (orders 2, 4 and 8), keys with a torsion component (accepted or refused by
//! the cofactorless equation depending on the challenge), non-canonical S, non-canonical and
//! small-order R, non-canonical and small-order keys, and honest controls. Each case says whether
//! the one signature rule (`PublicKey::verify`, `verify_strict`) accepts it.
//!
//! Shared by the core's tests (offline verifier, proof bundles) and the store's (sequencer), so
//! that every path is checked against the very same cases.

#![allow(dead_code)]

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use deedlog_core::command::{COMMAND_DOMAIN_V2, opening_bytes, payload_digest};
use deedlog_core::keys;
use deedlog_core::{Command, SignedCommand};
use serde_json::json;
use sha2::{Digest, Sha512};

/// The order of the prime subgroup, L = 2^252 + 27742317777372353535851937790883648493, little-endian.
pub const L_BYTES: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// One constructed command and the rule's verdict on it.
pub struct EdgeCase {
    /// What it is.
    pub name: String,
    /// The command as a client would send it.
    pub command: SignedCommand,
    /// Whether the signature rule accepts it.
    pub accept: bool,
}

fn scalar(label: &str) -> Scalar {
    let digest: [u8; 64] = Sha512::digest(label.as_bytes()).into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// k = SHA-512(R || A || domain || message) mod L, as Ed25519 defines it.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(COMMAND_DOMAIN_V2);
    h.update(message);
    let digest: [u8; 64] = h.finalize().into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

fn unsigned(key_bytes: &[u8; 32], label: &str, n: u64) -> Command {
    Command {
        actor: "test/edge".into(),
        key: keys::base64(key_bytes),
        kind: "test.note".into(),
        stream: "test/edge".into(),
        expected_version: None,
        payload: json!({"case": label, "n": n}),
        nonce: format!("edge-{n:06}"),
        issued_at_ms: 1_800_000_000_000,
    }
}

/// The salt of every constructed case (standard base64 of 16 bytes).
pub const SALT: &str = "ZWRnZS1jYXNlLXNhbHQtMQ==";

/// The version-2 signing message of `command` under [`SALT`] (without the domain tag), built
/// from the generic canonical encoder: the command with `payload_digest` in place of `payload`.
fn v2_message(command: &Command) -> Vec<u8> {
    let (opening, _) = opening_bytes(&command.payload, SALT).expect("canonical payload");
    let mut value = serde_json::to_value(command).expect("serializes");
    let object = value.as_object_mut().expect("an object");
    object.remove("payload");
    object.insert(
        "payload_digest".into(),
        hex::encode(payload_digest(&opening)).into(),
    );
    deedlog_core::canonical::to_vec(&value).expect("canonical")
}

fn signed(command: &Command, signature: &[u8; 64]) -> SignedCommand {
    SignedCommand {
        actor: command.actor.clone(),
        key: command.key.clone(),
        kind: command.kind.clone(),
        stream: command.stream.clone(),
        expected_version: command.expected_version,
        payload: command.payload.clone(),
        payload_salt: Some(SALT.to_owned()),
        nonce: command.nonce.clone(),
        issued_at_ms: command.issued_at_ms,
        signature: keys::base64(signature),
    }
}

/// Signs with secret scalar `a` under the key bytes `a_bytes`, with nonce point `r·B + t`.
fn sign_raw(a: Scalar, a_bytes: &[u8; 32], r: Scalar, t: EdwardsPoint, message: &[u8]) -> [u8; 64] {
    let big_r = (ED25519_BASEPOINT_POINT * r + t).compress().to_bytes();
    let k = challenge(&big_r, a_bytes, message);
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(&s.to_bytes());
    sig
}

/// Adds L to a canonical scalar's bytes: the same value mod L, not canonical.
fn plus_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L_BYTES[i]) + carry;
        out[i] = (v & 0xff) as u8;
        carry = v >> 8;
    }
    out
}

/// The encodings `p + j` (non-canonical y) that decode to a curve point of large order.
pub fn non_canonical_large_order_encodings() -> Vec<[u8; 32]> {
    (0u8..19)
        .filter_map(|j| {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + j;
            bytes[31] = 0x7f;
            let point = curve25519_dalek::edwards::CompressedEdwardsY(bytes).decompress()?;
            (!point.is_small_order()).then_some(bytes)
        })
        .collect()
}

/// Every constructed case. `repeat` torsion-R signatures are made per torsion order (the found
/// attack was 16 of order 2).
pub fn cases(repeat: u64) -> Vec<EdgeCase> {
    let mut out = Vec::new();
    let a = scalar("edge-case key");
    let big_a = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();

    // Honest controls.
    for n in 0..2 {
        let label = format!("honest {n}");
        let c = unsigned(&big_a, &label, n);
        let m = v2_message(&c);
        let sig = sign_raw(a, &big_a, scalar(&label), EdwardsPoint::default(), &m);
        out.push(EdgeCase {
            name: label,
            command: signed(&c, &sig),
            accept: true,
        });
    }

    // R = r·B + T with T of order 2, 4 and 8: the cofactorless equation never holds.
    for (order, t) in [
        (2, EIGHT_TORSION[4]),
        (4, EIGHT_TORSION[2]),
        (8, EIGHT_TORSION[1]),
    ] {
        for n in 0..repeat {
            let label = format!("torsion R order {order} #{n}");
            let c = unsigned(&big_a, &label, 100 * order + n);
            let m = v2_message(&c);
            let sig = sign_raw(a, &big_a, scalar(&label), t, &m);
            out.push(EdgeCase {
                name: label,
                command: signed(&c, &sig),
                accept: false,
            });
        }
    }

    // A key with a torsion component, A' = a·B + T (large order, so a usable key): with R = r·B,
    // [S]B - [k]A' = R - [k]T, which is R exactly when k·T = 0. Grind the nonce for one case of
    // each kind and each order.
    for (order, t) in [(2u64, EIGHT_TORSION[4]), (8, EIGHT_TORSION[1])] {
        let mixed = (ED25519_BASEPOINT_POINT * a + t).compress().to_bytes();
        let mut found = [false, false];
        for n in 0..512u64 {
            let label = format!("torsion key order {order} #{n}");
            let c = unsigned(&mixed, &label, 10_000 * order + n);
            let m = v2_message(&c);
            let r = scalar(&label);
            let big_r = (ED25519_BASEPOINT_POINT * r).compress().to_bytes();
            let k = challenge(&big_r, &mixed, &m);
            let passes = (t * k).is_identity();
            if found[usize::from(passes)] {
                continue;
            }
            found[usize::from(passes)] = true;
            let sig = sign_raw(a, &mixed, r, EdwardsPoint::default(), &m);
            out.push(EdgeCase {
                name: format!("{label} (k*T {})", if passes { "= 0" } else { "!= 0" }),
                command: signed(&c, &sig),
                accept: passes,
            });
            if found == [true, true] {
                break;
            }
        }
        assert_eq!(found, [true, true], "ground both torsion-key cases");
    }

    // Non-canonical S: S + L verifies the same equation but is refused.
    {
        let label = "non-canonical S (S + L)".to_owned();
        let c = unsigned(&big_a, &label, 2000);
        let m = v2_message(&c);
        let mut sig = sign_raw(a, &big_a, scalar(&label), EdwardsPoint::default(), &m);
        let high = plus_l(&sig[32..]);
        sig[32..].copy_from_slice(&high);
        out.push(EdgeCase {
            name: label,
            command: signed(&c, &sig),
            accept: false,
        });
    }

    // Small-order R (the identity, and the identity spelled with the sign bit: "negative zero"),
    // with S = k·a so that the cofactorless equation would hold if R were taken as the identity.
    for (i, r_bytes) in [
        {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        },
        {
            let mut b = [0u8; 32];
            b[0] = 1;
            b[31] = 0x80;
            b
        },
    ]
    .into_iter()
    .enumerate()
    {
        let label = format!("small-order R #{i}");
        let c = unsigned(&big_a, &label, 3000 + i as u64);
        let m = v2_message(&c);
        let k = challenge(&r_bytes, &big_a, &m);
        let s = k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(&s.to_bytes());
        out.push(EdgeCase {
            name: label,
            command: signed(&c, &sig),
            accept: false,
        });
    }

    // Non-canonical R: a large-order point spelled p + j. No signer knows its discrete log, and
    // the rule compares R byte for byte with the canonical encoding it recomputes, so it is
    // refused whatever S is.
    assert!(
        !non_canonical_large_order_encodings().is_empty(),
        "some y < 19 gives a point of large order"
    );
    for (i, r_bytes) in non_canonical_large_order_encodings()
        .into_iter()
        .take(2)
        .enumerate()
    {
        let label = format!("non-canonical R #{i}");
        let c = unsigned(&big_a, &label, 4000 + i as u64);
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(&scalar(&label).to_bytes());
        out.push(EdgeCase {
            name: label,
            command: signed(&c, &sig),
            accept: false,
        });
    }

    // Keys refused when parsed: small order (identity), non-canonical encodings.
    let mut bad_keys = vec![("small-order key".to_owned(), {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    })];
    for (i, k) in non_canonical_large_order_encodings()
        .into_iter()
        .take(2)
        .enumerate()
    {
        bad_keys.push((format!("non-canonical key #{i}"), k));
    }
    for (i, (label, key_bytes)) in bad_keys.into_iter().enumerate() {
        let c = unsigned(&key_bytes, &label, 5000 + i as u64);
        let m = v2_message(&c);
        // Whatever the signature, the key is refused first; sign as if a were its secret.
        let sig = sign_raw(a, &key_bytes, scalar(&label), EdwardsPoint::default(), &m);
        out.push(EdgeCase {
            name: label,
            command: signed(&c, &sig),
            accept: false,
        });
    }
    out
}

/// The rule itself, applied directly.
pub fn rule_accepts(command: &SignedCommand) -> bool {
    command.prepare().and_then(|p| p.verify()).is_ok()
}
