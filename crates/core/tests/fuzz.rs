//! Decoders fed arbitrary and mutated bytes never panic: they answer with a typed error, and
//! whatever they accept is canonical.

use deedlog_core::bundle::ProofBundle;
use deedlog_core::checkpoint::{VerifierKey, open_checkpoint, sign_checkpoint};
use deedlog_core::hash::{ZERO_HASH, leaf_hash};
use deedlog_core::verify::{LogVerifier, verify_jsonl};
use deedlog_core::{Command, Entry, SecretKey, SignedCommand, canonical};
use proptest::prelude::*;
use serde_json::json;

fn sample_entry() -> Vec<u8> {
    let secret = SecretKey::from_seed(&[21; 32]);
    let signed = Command {
        actor: "party/PA-1".into(),
        key: secret.public().to_base64(),
        kind: "listing.change_price".into(),
        stream: "listing/LS-1".into(),
        expected_version: Some(3),
        payload: json!({"price_fen": 120_000_000_i64, "note": "南向 三室"}),
        nonce: "nonce-fuzz-01".into(),
        issued_at_ms: 1_800_000_000_000,
    }
    .sign(&secret)
    .expect("well-formed");
    Entry {
        seq: 7,
        recorded_at_ms: 1_800_000_000_001,
        prev_hash: ZERO_HASH,
        stream: "listing/LS-1".into(),
        stream_version: 4,
        kind: "ListingPriceChanged".into(),
        signed,
        derived: json!({}),
    }
    .encode()
    .expect("encodes")
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    for &(at, b) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at % bytes.len();
        bytes[i] = b;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_decode_never_panics_and_accepts_only_fixed_points(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(value) = canonical::decode(&bytes) {
            prop_assert_eq!(&canonical::encode(&value).unwrap(), &bytes);
        }
    }

    #[test]
    fn mutated_entries_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let bytes = mutate(sample_entry(), &edits);
        if let Ok(entry) = Entry::decode(&bytes) {
            // Whatever decodes re-encodes to the same bytes, and its signature check answers.
            prop_assert_eq!(&entry.encode().unwrap(), &bytes);
            let _ = entry.signed.verify();
        }
        let _ = serde_json::from_slice::<SignedCommand>(&bytes).map(|c| c.verify().is_ok());
    }

    #[test]
    fn the_verifier_takes_any_bytes(lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..128), 0..8)) {
        let secret = SecretKey::from_seed(&[22; 32]);
        let vkey = VerifierKey::new("fuzz.example/log", secret.public()).unwrap().to_vkey();
        let mut v = LogVerifier::new("fuzz.example/log", &vkey).unwrap();
        for line in &lines {
            v.push_entry(line);
            v.push_checkpoint(line);
        }
        let report = v.finish();
        prop_assert!(lines.is_empty() || !report.is_clean());
        let _ = verify_jsonl(lines.into_iter());
    }

    #[test]
    fn mutated_checkpoints_and_bundles_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let secret = SecretKey::from_seed(&[23; 32]);
        let key = VerifierKey::new("fuzz.example/log", secret.public()).unwrap();
        let note = sign_checkpoint("fuzz.example/log", 1, leaf_hash(b"x"), &["time 5".into()], &secret).unwrap();
        let bad = mutate(note.clone(), &edits);
        if bad != note {
            let _ = open_checkpoint(&bad, &key);
        }
        let entry = sample_entry();
        let bundle = json!({
            "format": "deedlog/proof-bundle/v1",
            "seq": 0,
            "entry": deedlog_core::keys::base64(&entry),
            "leaf_hash": deedlog_core::hash::to_hex(&leaf_hash(&entry)),
            "tree_size": 1,
            "inclusion": [],
            "checkpoint": String::from_utf8_lossy(&bad),
            "log_key": key.to_vkey(),
        });
        let text = mutate(serde_json::to_vec(&bundle).unwrap(), &edits);
        if let Ok(b) = serde_json::from_slice::<ProofBundle>(&text) {
            let _ = b.verify(&key.to_vkey());
        }
    }
}
