//! The state map against a naive model: the root is a function of the set alone, every key's
//! proof verifies to what the model holds (member or not), and every one-bit change of a proof or
//! of the root fails.

use std::collections::BTreeMap;

use deedlog_core::state_map::{Digest, EMPTY, StateMap, StateProof, Terminal, root_of};
use proptest::prelude::*;

/// Keys that share long prefixes (so paths run deep and lone leaves get lifted), from small ids.
fn key(i: u16) -> Digest {
    let mut k = [0u8; 32];
    // The first two bytes from `i`, with the low bits spread out so neighbours share prefixes.
    k[0] = (i >> 8) as u8 & 0x0f;
    k[1] = i as u8;
    k[31] = 1;
    k
}

fn value(v: u8) -> Digest {
    deedlog_core::hash::sha256(&[v])
}

#[derive(Debug, Clone)]
enum Op {
    Set(u16, u8),
    Remove(u16),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0u16..600, any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
            1 => (0u16..600).prop_map(Op::Remove),
        ],
        0..120,
    )
}

fn flip_hex(s: &str, bit: usize) -> String {
    let mut b = hex::decode(s).unwrap();
    let n = bit % (b.len() * 8);
    b[n / 8] ^= 1 << (n % 8);
    hex::encode(b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A clone is a snapshot: whatever the original does afterwards (the nodes they share are
    /// copied on write), the snapshot keeps its root, its values and its proofs.
    #[test]
    fn a_snapshot_stays_as_it_was_while_the_original_changes(
        before in ops(), after in ops(), probe in 0u16..600,
    ) {
        let mut map = StateMap::new();
        let mut model = BTreeMap::new();
        for op in &before {
            match *op {
                Op::Set(k, v) => {
                    map.insert(key(k), value(v));
                    model.insert(key(k), value(v));
                }
                Op::Remove(k) => {
                    map.remove(&key(k));
                    model.remove(&key(k));
                }
            }
        }
        // Snapshots taken with the map clean, as the node takes them, and dirty.
        let root = map.root();
        let mut snapshot = map.clone();
        let mut later = model.clone();
        for op in &after {
            match *op {
                Op::Set(k, v) => {
                    map.insert(key(k), value(v));
                    later.insert(key(k), value(v));
                }
                Op::Remove(k) => {
                    map.remove(&key(k));
                    later.remove(&key(k));
                }
            }
        }
        let dirty = map.clone();
        prop_assert_eq!(map.root(), root_of(&later));
        prop_assert_eq!(dirty.clone().root(), root_of(&later));
        prop_assert_eq!(snapshot.root(), root);
        prop_assert_eq!(snapshot.len(), model.len());
        for k in model.keys().copied().chain([key(probe)]) {
            prop_assert_eq!(snapshot.prove(&k).verify(&root), Ok(model.get(&k).copied()));
            prop_assert_eq!(snapshot.get(&k), model.get(&k).copied());
        }
    }

    #[test]
    fn the_map_follows_the_model_and_every_proof_holds(ops in ops(), probe in 0u16..600) {
        let mut map = StateMap::new();
        let mut model = BTreeMap::new();
        for op in &ops {
            match *op {
                Op::Set(k, v) => {
                    map.insert(key(k), value(v));
                    model.insert(key(k), value(v));
                }
                Op::Remove(k) => {
                    prop_assert_eq!(map.remove(&key(k)), model.remove(&key(k)).is_some());
                }
            }
            prop_assert_eq!(map.len(), model.len());
        }
        let root = map.root();
        prop_assert_eq!(root, root_of(&model), "incremental and from-scratch roots agree");
        // Rebuilt in another order: the same root (the form is canonical).
        let mut other = StateMap::new();
        for (k, v) in model.iter().rev() {
            other.insert(*k, *v);
        }
        prop_assert_eq!(other.root(), root);
        // Each key of the model, and the probe (member or not), proves what the model holds.
        for k in model.keys().copied().chain([key(probe)]) {
            let proof = map.prove(&k);
            prop_assert_eq!(proof.verify(&root), Ok(model.get(&k).copied()));
            prop_assert_eq!(map.get(&k), model.get(&k).copied());
        }
    }

    #[test]
    fn every_one_bit_change_fails(ops in ops(), probe in 0u16..600, bit in 0usize..256) {
        let mut map = StateMap::new();
        for op in &ops {
            if let Op::Set(k, v) = *op {
                map.insert(key(k), value(v));
            }
        }
        let root = map.root();
        let proof = map.prove(&key(probe));
        let answer = proof.verify(&root).unwrap();
        // The root.
        let mut bad_root = root;
        bad_root[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(proof.verify(&bad_root).is_err());
        // Each sibling.
        for i in 0..proof.siblings.len() {
            let mut p = proof.clone();
            p.siblings[i] = flip_hex(&p.siblings[i], bit);
            prop_assert!(p.verify(&root).is_err(), "sibling {}", i);
        }
        // The key asked: either the proof fails, or it proves the key absent (a changed key can
        // still be shown absent by the same empty position), never present with the value.
        let mut p = proof.clone();
        p.key = flip_hex(&p.key, bit);
        if let Ok(v) = p.verify(&root) {
            prop_assert!(v.is_none() && answer.is_none(), "a changed key proved present");
        }
        // The terminal.
        let mut p = proof.clone();
        match &mut p.terminal {
            Terminal::Member { value } => *value = flip_hex(value, bit),
            Terminal::Other { key, value } => {
                if bit % 2 == 0 { *key = flip_hex(key, bit) } else { *value = flip_hex(value, bit) }
            }
            Terminal::Empty => p.terminal = Terminal::Member { value: hex::encode(value(0)) },
        }
        prop_assert!(p.verify(&root).is_err());
        // A member claimed absent, or an absent key claimed present: fails.
        let mut p = proof.clone();
        p.terminal = match &proof.terminal {
            Terminal::Member { .. } => Terminal::Empty,
            _ => Terminal::Member { value: hex::encode(value(7)) },
        };
        prop_assert!(p.verify(&root).is_err());
        // Dropping or adding a level fails.
        if !proof.siblings.is_empty() {
            let mut p = proof.clone();
            p.siblings.pop();
            prop_assert!(p.verify(&root).is_err());
        }
        let mut p = proof.clone();
        p.siblings.push(hex::encode(EMPTY));
        prop_assert!(p.verify(&root).is_err());
    }
}

#[test]
fn edge_cases() {
    let mut map = StateMap::new();
    assert_eq!(map.root(), EMPTY);
    assert_eq!(map.prove(&key(1)).verify(&EMPTY), Ok(None));
    map.insert(key(1), value(1));
    // One leaf: the root is the leaf, the proof has no siblings.
    let p = map.prove(&key(1));
    assert!(p.siblings.is_empty());
    assert_eq!(p.verify(&map.root()), Ok(Some(value(1))));
    // Another key proves absent by the lone leaf in its place.
    let q = map.prove(&key(2));
    assert!(matches!(q.terminal, Terminal::Other { .. }));
    assert_eq!(q.verify(&map.root()), Ok(None));
    // Keys that differ only in the last bit: a path 255 levels deep.
    let a = [0u8; 32];
    let mut b = [0u8; 32];
    b[31] = 1;
    let mut deep = StateMap::new();
    deep.insert(a, value(1));
    deep.insert(b, value(2));
    let p = deep.prove(&b);
    assert_eq!(p.siblings.len(), 256);
    assert_eq!(p.verify(&deep.root()), Ok(Some(value(2))));
    deep.remove(&a);
    assert_eq!(deep.root(), StateMap::new().tap_insert(b, value(2)).root());
    // A proof deeper than the tree can be is malformed, not a panic.
    let mut too_deep: StateProof = p.clone();
    too_deep.siblings.push(hex::encode(EMPTY));
    assert!(too_deep.verify(&deep.root()).is_err());
}

trait TapInsert {
    fn tap_insert(self, k: Digest, v: Digest) -> Self;
}

impl TapInsert for StateMap {
    fn tap_insert(mut self, k: Digest, v: Digest) -> Self {
        self.insert(k, v);
        self
    }
}

/// The known-answer file shared with the page's verifier (`web/test/state.test.mjs`): a map of
/// twelve keys, its root, and proofs of every kind. Rewritten with
/// `DEEDLOG_REGENERATE_VECTORS=1` for a deliberate, documented format change only.
#[test]
fn state_map_vectors_stay_the_same() {
    let k = |i: u32| deedlog_core::hash::sha256(format!("deedlog state vector key {i}").as_bytes());
    let v =
        |i: u32| deedlog_core::hash::sha256(format!("deedlog state vector value {i}").as_bytes());
    let mut map = StateMap::new();
    for i in 0..12 {
        map.insert(k(i), v(i));
    }
    let root = map.root();
    let mut proofs = Vec::new();
    // Members, and absent keys (some end at an empty subtree, some at another key's leaf).
    for i in (0..12).chain(100..112) {
        let proof = map.prove(&k(i));
        let expect = proof.verify(&root).unwrap().map(hex::encode);
        proofs.push(serde_json::json!({"proof": proof, "value": expect}));
    }
    let kinds: std::collections::BTreeSet<String> = proofs
        .iter()
        .map(|p| p["proof"]["terminal"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds.len(),
        3,
        "the vectors hold every kind of terminal: {kinds:?}"
    );
    let doc = serde_json::json!({
        "description": "deedlog state map (docs/FORMAT.md, State map): keys SHA-256(\"deedlog state vector key <i>\") for i in 0..12, values SHA-256(\"deedlog state vector value <i>\"); proofs of members 0..12 and of absent keys 100..112, with the value each proves (null: absent)",
        "root": hex::encode(root),
        "proofs": proofs,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ledger-data/vectors/state-map.json");
    if std::env::var_os("DEEDLOG_REGENERATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed, text,
        "ledger-data/vectors/state-map.json drifted"
    );
}
