//! One signature rule everywhere: the rule itself (`PublicKey::verify`), the offline verifier
//! and `ProofBundle::verify` accept exactly the same constructed edge cases (torsion in R or in
//! the key, non-canonical S, R and keys), a log holding refused ones is reported at exactly their
//! seqs, and the published "Taming the many EdDSAs" vectors come out as the rule says.

use deedlog_core::bundle::ProofBundle;
use deedlog_core::checkpoint::{sign_checkpoint, vkey};
use deedlog_core::hash::{self, Hash, ZERO_HASH};
use deedlog_core::merkle::Frontier;
use deedlog_core::verify::{FaultKind, LogVerifier};
use deedlog_core::{Entry, PublicKey, SecretKey, SignedCommand};
use serde_json::json;

use crate::edge_cases::{EdgeCase, cases, rule_accepts};

const ORIGIN: &str = "signatures.deedlog.example/log";

fn log_key() -> SecretKey {
    SecretKey::from_seed(&[0x5a; 32])
}

fn log_vkey() -> String {
    vkey(ORIGIN, &log_key().public()).expect("valid origin")
}

fn entry(seq: u64, prev: Hash, command: &SignedCommand) -> Vec<u8> {
    Entry {
        seq,
        recorded_at_ms: 1_800_000_000_005,
        prev_hash: prev,
        stream: command.stream.clone(),
        stream_version: seq + 1,
        kind: command.kind.clone(),
        signed: command.clone(),
        derived: json!({}),
    }
    .encode()
    .expect("encodes")
}

fn note(size: u64, root: Hash) -> Vec<u8> {
    sign_checkpoint(ORIGIN, size, root, &[], &log_key()).expect("signs")
}

/// Whether the offline verifier, given a one-entry log holding the command, finds it good.
fn verifier_accepts(command: &SignedCommand) -> bool {
    let bytes = entry(0, ZERO_HASH, command);
    let mut v = LogVerifier::new(ORIGIN, &log_vkey()).expect("verifier");
    v.push_entry(&bytes);
    v.push_checkpoint(&note(1, hash::leaf_hash(&bytes)));
    let report = v.finish();
    assert!(
        report.faults.iter().all(|f| f.seq == Some(0)
            && matches!(
                f.kind,
                FaultKind::BadSignature | FaultKind::BadKey | FaultKind::MalformedCommand
            )),
        "only signature or key faults: {:?}",
        report.faults
    );
    report.is_clean()
}

/// Whether a proof bundle of the command's entry (tree of one, empty proof) verifies.
fn bundle_accepts(command: &SignedCommand) -> bool {
    let bytes = entry(0, ZERO_HASH, command);
    let note = String::from_utf8(note(1, hash::leaf_hash(&bytes))).expect("utf-8");
    let bundle = ProofBundle::new(0, &bytes, 1, &[], &note, &log_vkey());
    match bundle.verify(&log_vkey()) {
        Ok(_) => true,
        Err(deedlog_core::bundle::BundleError::Command(_)) => false,
        Err(other) => panic!("a bundle fails on its command only, not on {other}"),
    }
}

#[test]
fn the_rule_the_verifier_and_bundles_agree_on_every_edge_case() {
    let all = cases(16);
    assert!(all.len() >= 60, "{} cases", all.len());
    for EdgeCase {
        name,
        command,
        accept,
    } in &all
    {
        assert_eq!(rule_accepts(command), *accept, "the rule on {name}");
        assert_eq!(verifier_accepts(command), *accept, "the verifier on {name}");
        assert_eq!(bundle_accepts(command), *accept, "a bundle on {name}");
    }
    // Both kinds of torsion-key case are present: the rule is the cofactorless equation, exact.
    assert!(
        all.iter()
            .any(|c| c.name.starts_with("torsion key") && c.accept)
    );
    assert!(
        all.iter()
            .any(|c| c.name.starts_with("torsion key") && !c.accept)
    );
}

#[test]
fn a_log_holding_refused_signatures_is_reported_at_exactly_their_seqs() {
    let all = cases(16);
    let mut v = LogVerifier::new(ORIGIN, &log_vkey()).expect("verifier");
    let mut frontier = Frontier::new();
    let mut prev = ZERO_HASH;
    let mut refused = Vec::new();
    for (seq, case) in all.iter().enumerate() {
        let bytes = entry(seq as u64, prev, &case.command);
        prev = hash::leaf_hash(&bytes);
        frontier.push(prev);
        v.push_entry(&bytes);
        if !case.accept {
            refused.push(seq as u64);
        }
    }
    v.push_checkpoint(&note(all.len() as u64, frontier.root()));
    let report = v.finish();
    let mut found: Vec<u64> = report.faults.iter().filter_map(|f| f.seq).collect();
    found.dedup();
    assert_eq!(found, refused, "{:?}", report.faults);
    assert_eq!(report.checkpoints_verified, 1, "the tree itself is intact");
}

/// Batch verification is not the rule: on the same torsion-R signatures, one at a time, its
/// random linear combination accepts some that the rule refuses. (This is what the sequencer and
/// the verifier used to do; the test keeps the reason on record.)
#[test]
fn batch_verification_would_accept_signatures_the_rule_refuses() {
    let mut batch_accepted = 0;
    let torsion: Vec<EdgeCase> = cases(16)
        .into_iter()
        .filter(|c| c.name.starts_with("torsion R"))
        .collect();
    assert_eq!(torsion.len(), 48);
    for case in &torsion {
        assert!(!rule_accepts(&case.command), "{}", case.name);
        let p = case.command.prepare().expect("well-formed");
        let message = [p.domain, &p.message[..]].concat();
        let sig = ed25519_dalek::Signature::from_bytes(&p.signature);
        if ed25519_dalek::verify_batch(&[&message[..]], &[sig], &[*p.key.as_dalek()]).is_ok() {
            batch_accepted += 1;
        }
    }
    eprintln!("verify_batch accepted {batch_accepted} of 48 torsion-R signatures");
    assert!(batch_accepted > 0);
}

/// The 15 cases of `ed25519-speccheck` (Chalkias, Garillot, Nikolaenko, "Taming the many
/// EdDSAs"): under the rule only case 6 (mixed-order A and R, cofactorless equation holds)
/// verifies — exactly libsodium's column of the paper's results table.
#[test]
fn speccheck_vectors_follow_the_rule() {
    #[derive(serde::Deserialize)]
    struct Case {
        message: String,
        pub_key: String,
        signature: String,
    }
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ledger-data/vectors/ed25519-speccheck.json");
    let text = std::fs::read_to_string(&path).expect("the vectors are committed");
    let cases: Vec<Case> = serde_json::from_str(&text).expect("json");
    assert_eq!(cases.len(), 15);
    let expected = [
        false, false, false, false, false, false, true, false, false, false, false, false, false,
        false, false,
    ];
    for (i, case) in cases.iter().enumerate() {
        let message = hex::decode(&case.message).expect("hex");
        let key = hex::decode(&case.pub_key).expect("hex");
        let sig: [u8; 64] = hex::decode(&case.signature)
            .expect("hex")
            .try_into()
            .expect("64 bytes");
        let accepted = PublicKey::from_bytes(&key)
            .and_then(|k| k.verify(b"", &message, &sig))
            .is_ok();
        assert_eq!(accepted, expected[i], "speccheck case {i}");
    }
}

/// The key rules, one by one: canonical encodings only, small order refused, a key with a
/// torsion component but of large order accepted (the equation decides its signatures).
#[test]
fn keys_must_be_canonical_and_not_of_small_order() {
    for bytes in crate::edge_cases::non_canonical_large_order_encodings() {
        assert_eq!(
            PublicKey::from_bytes(&bytes),
            Err(deedlog_core::keys::KeyError::NonCanonical)
        );
    }
    // y = p - 1 with the sign bit ("negative zero" x): canonical y, but of order 2.
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    assert_eq!(
        PublicKey::from_bytes(&minus_one),
        Err(deedlog_core::keys::KeyError::Weak)
    );
    // An honest key is canonical.
    assert!(PublicKey::from_bytes(&SecretKey::from_seed(&[9; 32]).public().to_bytes()).is_ok());
}
