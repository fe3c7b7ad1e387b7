//! Client-side proof checking: proof bundles, checkpoints and consistency between two
//! checkpoints, all with core's verifier and a log key the caller trusts — nothing the server
//! says about its own honesty is taken on trust.

use serde_json::Value;

use deedlog_core::bundle::{BUNDLE_FORMAT, ProofBundle, VerifiedBundle};
use deedlog_core::checkpoint::{self, OpenedCheckpoint, VerifierKey};
use deedlog_core::hash::{self, Hash};
use deedlog_core::merkle;

use crate::error::ClientError;

/// Finds the first proof bundle in a JSON answer: the value itself or any object nested in it
/// whose `format` is [`BUNDLE_FORMAT`] (depth-first, objects' fields in order).
#[must_use]
pub fn find_bundle(value: &Value) -> Option<ProofBundle> {
    find_bundles(value).into_iter().next()
}

/// Every proof bundle in a JSON answer, depth-first.
#[must_use]
pub fn find_bundles(value: &Value) -> Vec<ProofBundle> {
    fn walk(v: &Value, out: &mut Vec<ProofBundle>, depth: usize) {
        // The nesting of an API answer is shallow; the bound keeps a hostile answer harmless.
        if depth > 16 {
            return;
        }
        match v {
            Value::Object(map) => {
                if map.get("format").and_then(Value::as_str) == Some(BUNDLE_FORMAT)
                    && let Ok(b) = serde_json::from_value::<ProofBundle>(v.clone())
                {
                    out.push(b);
                    return;
                }
                for child in map.values() {
                    walk(child, out, depth + 1);
                }
            }
            Value::Array(items) => {
                for child in items {
                    walk(child, out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out, 0);
    out
}

/// Checks a proof bundle against the trusted log key (see [`ProofBundle::verify`]).
///
/// # Errors
/// [`ClientError::Bundle`] naming the check that failed.
pub fn verify_bundle(
    bundle: &ProofBundle,
    trusted_log_vkey: &str,
) -> Result<VerifiedBundle, ClientError> {
    Ok(bundle.verify(trusted_log_vkey)?)
}

/// Opens a checkpoint note with the trusted log key and checks its origin is the key's name.
///
/// # Errors
/// [`ClientError::Proof`].
pub fn open_checkpoint(
    note: &str,
    trusted_log_vkey: &str,
) -> Result<OpenedCheckpoint, ClientError> {
    let key = VerifierKey::parse(trusted_log_vkey)
        .map_err(|e| ClientError::Proof(format!("trusted log key: {e}")))?;
    let opened = checkpoint::open_checkpoint(note.as_bytes(), &key)
        .map_err(|e| ClientError::Proof(format!("checkpoint: {e}")))?;
    if opened.origin != key.name() {
        return Err(ClientError::Proof(format!(
            "checkpoint origin `{}` is not the log key's `{}`",
            opened.origin,
            key.name()
        )));
    }
    Ok(opened)
}

/// Parses hex hashes (a proof as the API sends it).
///
/// # Errors
/// [`ClientError::Proof`] naming the bad position.
pub fn parse_hashes(items: &[String]) -> Result<Vec<Hash>, ClientError> {
    if items.len() > merkle::PROOF_HASHES_MAX {
        return Err(ClientError::Proof(format!(
            "a proof of {} hashes is longer than any tree needs",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, h)| {
            hash::from_hex(h)
                .map_err(|_| ClientError::Proof(format!("proof[{i}] is not 64 hex digits")))
        })
        .collect()
}

/// Checks that `new` extends `old`: both opened checkpoints, `proof` the consistency proof from
/// `old.size` to `new.size`. A checkpoint that shrank fails; equal sizes need equal roots.
///
/// # Errors
/// [`ClientError::Proof`].
pub fn check_consistency(
    old: &OpenedCheckpoint,
    new: &OpenedCheckpoint,
    proof: &[Hash],
) -> Result<(), ClientError> {
    if new.size < old.size {
        return Err(ClientError::Proof(format!(
            "the log shrank from {} to {} entries",
            old.size, new.size
        )));
    }
    if new.size == old.size {
        return if new.root == old.root {
            Ok(())
        } else {
            Err(ClientError::Proof(format!(
                "two roots for tree size {}: the log forked",
                new.size
            )))
        };
    }
    merkle::verify_consistency(old.size, old.root, new.size, new.root, proof).map_err(|e| {
        ClientError::Proof(format!(
            "consistency from {} to {}: {e}",
            old.size, new.size
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deedlog_core::checkpoint::{sign_checkpoint, vkey};
    use deedlog_core::merkle::MemoryHashes;
    use deedlog_core::{Command, Entry, SecretKey};
    use serde_json::json;

    const ORIGIN: &str = "deedlog.test/log";

    fn log(n: u64) -> (Vec<Vec<u8>>, MemoryHashes) {
        let actor = SecretKey::from_seed(&[5; 32]);
        let mut hashes = MemoryHashes::new();
        let mut entries = Vec::new();
        let mut prev = deedlog_core::hash::ZERO_HASH;
        for seq in 0..n {
            let signed = Command {
                actor: "party/PA-1".into(),
                key: actor.public().to_base64(),
                kind: "test.note".into(),
                stream: "test/T-1".into(),
                expected_version: None,
                payload: json!({"n": seq}),
                nonce: format!("nonce-{seq:06}"),
                issued_at_ms: 1_700_000_000_000,
            }
            .sign(&actor)
            .unwrap();
            let entry = Entry {
                seq,
                recorded_at_ms: 1_700_000_000_000,
                prev_hash: prev,
                stream: "test/T-1".into(),
                stream_version: seq + 1,
                kind: "Noted".into(),
                signed,
                derived: json!({}),
            };
            let bytes = entry.encode().unwrap();
            prev = hash::leaf_hash(&bytes);
            hashes.append(prev);
            entries.push(bytes);
        }
        (entries, hashes)
    }

    fn note(log_key: &SecretKey, hashes: &MemoryHashes, size: u64) -> String {
        let root = hashes.root(size).unwrap();
        String::from_utf8(sign_checkpoint(ORIGIN, size, root, &[], log_key).unwrap()).unwrap()
    }

    #[test]
    fn bundles_are_found_in_answers_and_verified() {
        let log_key = SecretKey::from_seed(&[8; 32]);
        let vk = vkey(ORIGIN, &log_key.public()).unwrap();
        let (entries, hashes) = log(7);
        let cp = note(&log_key, &hashes, 7);
        let proof = hashes.inclusion_proof(3, 7).unwrap();
        let bundle = ProofBundle::new(3, &entries[3], 7, &proof, &cp, &vk);
        let answer = json!({"listing": {"code": "LV-1"}, "proof": bundle});
        let found = find_bundle(&answer).unwrap();
        assert_eq!(found, bundle);
        assert_eq!(verify_bundle(&found, &vk).unwrap().entry.seq, 3);
        let other = vkey(ORIGIN, &SecretKey::from_seed(&[9; 32]).public()).unwrap();
        assert!(matches!(
            verify_bundle(&found, &other),
            Err(ClientError::Bundle(_))
        ));
        assert!(find_bundle(&json!({"a": [1, {"format": "x"}]})).is_none());
    }

    #[test]
    fn consistency_between_checkpoints() {
        let log_key = SecretKey::from_seed(&[8; 32]);
        let vk = vkey(ORIGIN, &log_key.public()).unwrap();
        let (_, hashes) = log(12);
        let old = open_checkpoint(&note(&log_key, &hashes, 5), &vk).unwrap();
        let new = open_checkpoint(&note(&log_key, &hashes, 12), &vk).unwrap();
        let proof = hashes.consistency_proof(5, 12).unwrap();
        check_consistency(&old, &new, &proof).unwrap();
        check_consistency(&new, &new, &[]).unwrap();
        assert!(check_consistency(&new, &old, &proof).is_err());
        let mut bad = proof.clone();
        bad[0].0[0] ^= 1;
        assert!(check_consistency(&old, &new, &bad).is_err());
        let hexes: Vec<String> = proof.iter().map(hash::to_hex).collect();
        assert_eq!(parse_hashes(&hexes).unwrap(), proof);
        assert!(parse_hashes(&["zz".to_owned()]).is_err());
    }
}
