//! Known answers under `ledger-data/vectors/`, checked forever: published Merkle and signed-note
//! vectors, and deedlog's own sample log.

use std::path::PathBuf;

use deedlog_core::checkpoint::{
    self, CheckpointError, VerifierKey, cosigned_message, open_checkpoint, open_note,
    parse_cosignature,
};
use deedlog_core::hash::{self, Hash, leaf_hash};
use deedlog_core::keys;
use deedlog_core::merkle::{
    Frontier, MemoryHashes, root_rs_merkle, verify_consistency, verify_inclusion,
    verify_inclusion_rs_merkle,
};
use deedlog_core::verify::verify_jsonl_with_key;
use deedlog_core::{PublicKey, SecretKey};
use serde::Deserialize;

use crate::common::{SAMPLE_LOG_KEY_LABEL, SAMPLE_ORIGIN, generate, key, naive_root};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ledger-data/vectors")
}

fn read(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn h(text: &str) -> Hash {
    hash::from_hex(text).unwrap()
}

#[derive(Deserialize)]
struct CtMerkle {
    leaves_hex: Vec<String>,
    roots: Vec<CtRoot>,
    inclusion: Vec<CtInclusion>,
    consistency: Vec<CtConsistency>,
}

#[derive(Deserialize)]
struct CtRoot {
    size: usize,
    root: String,
}

#[derive(Deserialize)]
struct CtInclusion {
    index: u64,
    size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct CtConsistency {
    m: u64,
    n: u64,
    proof: Vec<String>,
}

#[test]
fn certificate_transparency_merkle_vectors() {
    let v: CtMerkle = serde_json::from_slice(&read("ct-merkle.json")).unwrap();
    let leaves: Vec<Hash> = v
        .leaves_hex
        .iter()
        .map(|x| leaf_hash(&hex::decode(x).unwrap()))
        .collect();
    assert_eq!(leaves.len(), 8);
    let mut m = MemoryHashes::new();
    let mut frontier = Frontier::new();
    for l in &leaves {
        m.append(*l);
    }
    assert_eq!(v.roots.len(), 9);
    for r in &v.roots {
        let want = h(&r.root);
        assert_eq!(
            naive_root(&leaves[..r.size]),
            want,
            "naive, size {}",
            r.size
        );
        assert_eq!(
            m.root(r.size as u64).unwrap(),
            want,
            "tlog, size {}",
            r.size
        );
        assert_eq!(
            root_rs_merkle(&leaves[..r.size]),
            want,
            "rs_merkle, size {}",
            r.size
        );
        while frontier.size() < r.size as u64 {
            frontier.push(leaves[frontier.size() as usize]);
        }
        assert_eq!(frontier.root(), want, "frontier, size {}", r.size);
    }
    assert_eq!(v.inclusion.len(), 5);
    for p in &v.inclusion {
        let proof: Vec<Hash> = p.proof.iter().map(|x| h(x)).collect();
        let root = m.root(p.size).unwrap();
        let leaf = leaves[p.index as usize];
        assert_eq!(m.inclusion_proof(p.index, p.size).unwrap(), proof);
        assert!(verify_inclusion(leaf, p.index, p.size, &proof, root).is_ok());
        assert!(verify_inclusion_rs_merkle(
            leaf, p.index, p.size, &proof, root
        ));
    }
    assert_eq!(v.consistency.len(), 5);
    for p in &v.consistency {
        let proof: Vec<Hash> = p.proof.iter().map(|x| h(x)).collect();
        assert_eq!(m.consistency_proof(p.m, p.n).unwrap(), proof);
        let (root_m, root_n) = (m.root(p.m).unwrap(), m.root(p.n).unwrap());
        assert!(verify_consistency(p.m, root_m, p.n, root_n, &proof).is_ok());
    }
}

#[derive(Deserialize)]
struct SignedNoteVectors {
    ed25519: Ed25519Vector,
    cosignature_example: CosignatureExample,
}

#[derive(Deserialize)]
struct Ed25519Vector {
    name: String,
    key_id: String,
    vkey: String,
    skey: String,
    text: String,
    note: String,
}

#[derive(Deserialize)]
struct CosignatureExample {
    checkpoint_body: String,
    line: String,
    witness: String,
    key_id: String,
    timestamp: u64,
    signed_message: String,
}

#[test]
fn signed_note_vectors() {
    let v: SignedNoteVectors = serde_json::from_slice(&read("signed-note.json")).unwrap();
    let e = &v.ed25519;
    let verifier = VerifierKey::parse(&e.vkey).unwrap();
    assert_eq!(verifier.name(), e.name);
    assert_eq!(format!("{:08x}", verifier.key_id()), e.key_id);
    assert_eq!(verifier.to_vkey(), e.vkey);

    let opened = open_note(e.note.as_bytes(), &verifier).unwrap();
    assert_eq!(opened.text, e.text);
    assert!(opened.other_signatures.is_empty());
    // Not a checkpoint, but the signature is checked first and holds.
    assert_eq!(
        open_checkpoint(e.note.as_bytes(), &verifier),
        Err(CheckpointError::MalformedBody)
    );

    // The signer key is PRIVATE+KEY+name+id+base64(0x01 || seed): signing the text with that seed
    // gives the very same note, with our code and with signed_note's.
    let material = keys::from_base64(e.skey.splitn(5, '+').nth(4).unwrap()).unwrap();
    assert_eq!(material[0], checkpoint::ALG_ED25519);
    let seed: [u8; 32] = material[1..].try_into().unwrap();
    let secret = SecretKey::from_seed(&seed);
    assert_eq!(checkpoint::vkey(&e.name, &secret.public()).unwrap(), e.vkey);
    let ours = checkpoint::sign_note(e.text.as_bytes(), &e.name, &secret).unwrap();
    assert_eq!(String::from_utf8(ours).unwrap(), e.note);
    let signer = signed_note::StandardSigner::new(&e.skey).unwrap();
    let mut theirs = signed_note::Note::new(e.text.as_bytes(), &[]).unwrap();
    theirs.add_sigs(&[&signer]).unwrap();
    assert_eq!(String::from_utf8(theirs.to_bytes()).unwrap(), e.note);

    // The C2SP cosignature example: only its layout can be checked (its key is not published).
    let c = &v.cosignature_example;
    let sig = signed_note::Signature::from_bytes(c.line.trim_end().as_bytes()).unwrap();
    assert_eq!(sig.name(), c.witness);
    assert_eq!(format!("{:08x}", sig.id()), c.key_id);
    let (timestamp, _) = parse_cosignature(sig.signature()).unwrap();
    assert_eq!(timestamp, c.timestamp);
    assert_eq!(
        String::from_utf8(cosigned_message(c.checkpoint_body.as_bytes(), timestamp)).unwrap(),
        c.signed_message
    );
}

const SAMPLE_LOG: &str = "sample-log.jsonl";
const SAMPLE_ENTRIES: usize = 200;
const SAMPLE_ACTORS: usize = 10;
const SAMPLE_CHECKPOINT_EVERY: usize = 40;

fn sample_vkey() -> String {
    let public: PublicKey = key(SAMPLE_LOG_KEY_LABEL).public();
    checkpoint::vkey(SAMPLE_ORIGIN, &public).unwrap()
}

#[test]
fn sample_log_keeps_verifying() {
    let bytes = read(SAMPLE_LOG);
    let lines = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec);
    let report = verify_jsonl_with_key(lines, Some(&sample_vkey())).unwrap();
    assert!(report.is_clean(), "{:#?}", report.faults);
    assert_eq!(report.entries, SAMPLE_ENTRIES as u64);
    assert_eq!(report.checkpoints, 5);
    assert_eq!(report.covered, SAMPLE_ENTRIES as u64);
}

/// Rewrites `ledger-data/vectors/sample-log.jsonl` when run with
/// `DEEDLOG_REGENERATE_VECTORS=1`; otherwise insists that the generator still produces the
/// committed bytes, so that any change to the entry, signature or checkpoint format shows up.
#[test]
fn sample_log_generator_reproduces_the_committed_bytes() {
    let log = generate(SAMPLE_ENTRIES, SAMPLE_ACTORS, SAMPLE_CHECKPOINT_EVERY);
    assert_eq!(log.vkey, sample_vkey());
    let bytes = log.jsonl();
    if std::env::var("DEEDLOG_REGENERATE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(vectors_dir().join(SAMPLE_LOG), &bytes).unwrap();
        return;
    }
    let committed = read(SAMPLE_LOG);
    assert!(
        committed == bytes,
        "the generator no longer reproduces {SAMPLE_LOG}: the format drifted (regenerate only \
         for a deliberate, documented format change)"
    );
}
