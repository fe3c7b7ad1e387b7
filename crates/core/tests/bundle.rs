//! Proof bundles: every entry of a small log bundles and verifies; every tampered field fails
//! with its own error.

use deedlog_core::bundle::{BUNDLE_FORMAT, BundleError, ProofBundle};
use deedlog_core::checkpoint::{self, CheckpointError, open_checkpoint};
use deedlog_core::command::CommandError;
use deedlog_core::entry::EntryError;
use deedlog_core::hash::{self, leaf_hash};
use deedlog_core::keys::{self, KeyError};
use deedlog_core::merkle::ProofError;
use deedlog_core::{Entry, keys::base64};
use serde_json::json;

use crate::common::{GeneratedLog, generate, key};

fn log() -> GeneratedLog {
    generate(45, 4, 10)
}

fn bundle(log: &GeneratedLog, seq: u64, checkpoint: usize) -> ProofBundle {
    let (_, note) = &log.checkpoints[checkpoint];
    let opened = open_checkpoint(note, &log.verifier_key()).unwrap();
    ProofBundle::prove(
        seq,
        &log.entries[seq as usize],
        &opened,
        &log.vkey,
        &log.hashes,
    )
    .unwrap()
}

#[test]
fn every_entry_bundles_and_verifies_against_every_later_checkpoint() {
    let log = log();
    for (c, (size, _)) in log.checkpoints.iter().enumerate() {
        for seq in 0..*size {
            let b = bundle(&log, seq, c);
            let verified = b.verify(&log.vkey).unwrap();
            assert_eq!(verified.entry.seq, seq);
            assert_eq!(verified.checkpoint.size, *size);
            assert_eq!(verified.leaf_hash, leaf_hash(&log.entries[seq as usize]));
            // The JSON shape round-trips and still verifies.
            let text = serde_json::to_string(&b).unwrap();
            let back: ProofBundle = serde_json::from_str(&text).unwrap();
            assert_eq!(back, b);
        }
    }
}

#[test]
fn the_json_shape_is_the_documented_one() {
    let log = log();
    let b = bundle(&log, 3, 0);
    let v = serde_json::to_value(&b).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "checkpoint",
            "entry",
            "format",
            "inclusion",
            "leaf_hash",
            "log_key",
            "seq",
            "tree_size"
        ]
    );
    assert_eq!(v["format"], BUNDLE_FORMAT);
    let mut with_extra = v.clone();
    with_extra["extra"] = json!(1);
    assert!(serde_json::from_value::<ProofBundle>(with_extra).is_err());
}

#[test]
fn each_tampered_field_fails_with_its_own_error() {
    let log = log();
    let good = bundle(&log, 13, 2); // seq 13 in the checkpoint of size 30
    let vkey = log.vkey.clone();
    let check = |b: &ProofBundle| b.verify(&vkey).unwrap_err();

    let mut b = good.clone();
    b.format = "deedlog/proof-bundle/v0".into();
    assert_eq!(
        check(&b),
        BundleError::Format("deedlog/proof-bundle/v0".into())
    );

    let other_vkey = checkpoint::vkey(&log.origin, &key("other").public()).unwrap();
    let mut b = good.clone();
    b.log_key = other_vkey.clone();
    assert_eq!(check(&b), BundleError::UntrustedLogKey);
    assert_eq!(
        good.verify(&other_vkey).unwrap_err(),
        BundleError::UntrustedLogKey
    );
    assert!(matches!(
        good.verify("not a key").unwrap_err(),
        BundleError::TrustedKey(_)
    ));

    let mut b = good.clone();
    b.entry = "***".into();
    assert_eq!(check(&b), BundleError::EntryBase64);

    let mut b = good.clone();
    let mut bytes = log.entries[13].clone();
    bytes.insert(1, b' ');
    b.entry = base64(&bytes);
    assert!(matches!(
        check(&b),
        BundleError::Entry(EntryError::Canonical(_))
    ));

    let mut b = good.clone();
    b.seq = 14;
    assert_eq!(
        check(&b),
        BundleError::SeqMismatch {
            entry: 13,
            bundle: 14
        }
    );

    let mut b = good.clone();
    b.leaf_hash = "zz".into();
    assert_eq!(check(&b), BundleError::LeafHashHex);

    let mut b = good.clone();
    b.leaf_hash = hash::to_hex(&leaf_hash(b"other"));
    assert_eq!(check(&b), BundleError::LeafHashMismatch);

    // An entry whose command was changed after signing (the leaf hash made to match).
    let mut entry = Entry::decode(&log.entries[13]).unwrap();
    entry.signed.payload["n"] = json!(99);
    let bytes = entry.encode().unwrap();
    let mut b = good.clone();
    b.entry = base64(&bytes);
    b.leaf_hash = hash::to_hex(&leaf_hash(&bytes));
    assert_eq!(
        check(&b),
        BundleError::Command(CommandError::Signature(KeyError::BadSignature))
    );

    let mut b = good.clone();
    b.checkpoint = String::from_utf8(log.checkpoints[2].1.clone())
        .unwrap()
        .replacen("\n30\n", "\n31\n", 1);
    assert_eq!(
        check(&b),
        BundleError::Checkpoint(CheckpointError::BadSignature)
    );

    let mut b = good.clone();
    b.checkpoint = "garbage".into();
    assert_eq!(
        check(&b),
        BundleError::Checkpoint(CheckpointError::MalformedNote)
    );

    // A checkpoint signed by the right key for another origin.
    let mut b = good.clone();
    let root = log.hashes.root(30).unwrap();
    b.checkpoint = String::from_utf8(
        checkpoint::sign_note(
            &checkpoint::checkpoint_body("other.example/log", 30, root, &[]).unwrap(),
            &log.origin,
            &log.log_key,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        check(&b),
        BundleError::WrongOrigin {
            expected: log.origin.clone(),
            found: "other.example/log".into()
        }
    );

    let mut b = good.clone();
    b.tree_size = 31;
    assert_eq!(
        check(&b),
        BundleError::TreeSizeMismatch {
            bundle: 31,
            checkpoint: 30
        }
    );

    // The right entry against a checkpoint that does not reach it.
    let mut b = bundle(&log, 13, 2);
    let (size, note) = &log.checkpoints[0];
    b.checkpoint = String::from_utf8(note.clone()).unwrap();
    b.tree_size = *size;
    assert_eq!(check(&b), BundleError::NotInTree { seq: 13, size: 10 });

    let mut b = good.clone();
    b.inclusion[1] = "xyz".into();
    assert_eq!(check(&b), BundleError::InclusionHex { position: 1 });

    let mut b = good.clone();
    let mut h = hash::from_hex(&b.inclusion[0]).unwrap();
    h.0[0] ^= 1;
    b.inclusion[0] = hash::to_hex(&h);
    assert_eq!(check(&b), BundleError::Inclusion(ProofError::BadProof));

    let mut b = good.clone();
    b.inclusion.pop();
    assert_eq!(check(&b), BundleError::Inclusion(ProofError::BadProof));

    let mut b = good.clone();
    b.inclusion.push(b.inclusion[0].clone());
    assert_eq!(check(&b), BundleError::Inclusion(ProofError::BadProof));

    let mut b = good.clone();
    b.inclusion = vec![b.inclusion[0].clone(); 65];
    assert_eq!(
        check(&b),
        BundleError::Inclusion(ProofError::TooLong { got: 65 })
    );

    // Another entry of the log, with its own seq and leaf hash, and this entry's proof.
    let mut b = good.clone();
    b.seq = 12;
    b.entry = keys::base64(&log.entries[12]);
    b.leaf_hash = hash::to_hex(&leaf_hash(&log.entries[12]));
    assert_eq!(check(&b), BundleError::Inclusion(ProofError::BadProof));

    assert!(good.verify(&vkey).is_ok());
}

/// A bundle carries the newest cosigned checkpoint that covers its entry, older or newer than its
/// own, with the consistency proof between the two; a witnessed checkpoint that does not cover
/// the entry, is on another history, or comes with a tampered proof is refused.
#[test]
fn a_witnessed_checkpoint_is_checked_against_the_bundle() {
    use deedlog_core::SecretKey;
    use deedlog_core::bundle::Witnessed;
    use deedlog_core::merkle;
    let log = log();
    let key = log.verifier_key();
    let witness = SecretKey::from_seed(&[77; 32]);
    let cosigned = |c: usize| -> (u64, String) {
        let (size, note) = &log.checkpoints[c];
        let opened = open_checkpoint(note, &key).unwrap();
        let line = checkpoint::cosign(opened.body.as_bytes(), "bank.test", &witness, 1).unwrap();
        (*size, format!("{}{line}", opened.note_text))
    };
    let consistency = |m: u64, n: u64| merkle::consistency_proof(m, n, &log.hashes).unwrap();
    let (small_size, small) = cosigned(1);
    let (large_size, large) = cosigned(3);
    assert!(small_size < large_size);

    // Older cosigned checkpoint, newer bundle: the proof runs from the cosigned size up.
    let b = bundle(&log, 13, 3).with_witnessed(
        &small,
        small_size,
        &consistency(small_size, large_size),
    );
    let v = b.verify(&log.vkey).unwrap();
    assert_eq!(v.witnessed.as_ref().unwrap().size, small_size);
    assert_eq!(v.cosigned_note(), small);
    let text = serde_json::to_string(&b).unwrap();
    assert_eq!(serde_json::from_str::<ProofBundle>(&text).unwrap(), b);

    // Newer cosigned checkpoint, older bundle: the proof runs from the bundle's size up.
    let b =
        bundle(&log, 3, 1).with_witnessed(&large, large_size, &consistency(small_size, large_size));
    assert_eq!(
        b.verify(&log.vkey).unwrap().witnessed.unwrap().size,
        large_size
    );

    // The same size: the cosigned note becomes the bundle's checkpoint, nothing else is added.
    let b = bundle(&log, 3, 1).with_witnessed(&small, small_size, &[]);
    assert!(b.witnessed.is_none());
    let v = b.verify(&log.vkey).unwrap();
    assert!(v.witnessed.is_none());
    assert_eq!(v.cosigned_note(), small);

    // An entry the cosigned tree does not hold gets no say from the witnesses.
    let b = bundle(&log, small_size + 2, 3).with_witnessed(
        &small,
        small_size,
        &consistency(small_size, large_size),
    );
    assert!(matches!(
        b.verify(&log.vkey),
        Err(BundleError::Witnessed(_))
    ));

    // A tampered consistency proof, a missing one, and a cosigned checkpoint of a fork (the
    // log's key, the same size, another root) are refused.
    let mut proof = consistency(small_size, large_size);
    proof[0].0[0] ^= 1;
    for p in [proof, Vec::new()] {
        let b = bundle(&log, 13, 3).with_witnessed(&small, small_size, &p);
        assert!(
            matches!(b.verify(&log.vkey), Err(BundleError::Witnessed(_))),
            "{p:?}"
        );
    }
    let fork = checkpoint::sign_checkpoint(
        &log.origin,
        small_size,
        leaf_hash(b"fork"),
        &[],
        &log.log_key,
    )
    .unwrap();
    let b = bundle(&log, 3, 1);
    let forked = ProofBundle {
        witnessed: Some(Witnessed {
            checkpoint: String::from_utf8(fork).unwrap(),
            consistency: Vec::new(),
        }),
        ..b
    };
    match forked.verify(&log.vkey) {
        Err(BundleError::Witnessed(m)) => assert!(m.contains("forked"), "{m}"),
        other => panic!("{other:?}"),
    }

    // A witnessed note signed by another key is refused, and so is an oversized one.
    let stranger = SecretKey::from_seed(&[78; 32]);
    let other =
        checkpoint::sign_checkpoint(&log.origin, large_size, leaf_hash(b"x"), &[], &stranger)
            .unwrap();
    let b = bundle(&log, 3, 1).with_witnessed(
        std::str::from_utf8(&other).unwrap(),
        large_size,
        &consistency(small_size, large_size),
    );
    assert!(matches!(
        b.verify(&log.vkey),
        Err(BundleError::Witnessed(_))
    ));
    let huge = "x".repeat(deedlog_core::bundle::WITNESSED_NOTE_BYTES_MAX + 1);
    let b = bundle(&log, 3, 1).with_witnessed(&huge, large_size, &[]);
    assert!(matches!(
        b.verify(&log.vkey),
        Err(BundleError::Witnessed(_))
    ));
}
