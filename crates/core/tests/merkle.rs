//! Merkle math against a naive RFC 6962 reference and against rs_merkle: random append sequences,
//! every proof verifies, every tampered proof fails.

use deedlog_core::hash::{Hash, leaf_hash};
use deedlog_core::merkle::{
    self, EMPTY_HASH, Frontier, MemoryHashes, ProofError, Rfc6962Hasher, leaf_hash_rs_merkle,
    root_rs_merkle, verify_consistency, verify_inclusion, verify_inclusion_rs_merkle,
};
use proptest::prelude::*;

use crate::common::{consistency_shape, naive_path, naive_root, path_shape};

fn flip(h: Hash, bit: usize) -> Hash {
    let mut h = h;
    h.0[(bit / 8) % 32] ^= 1 << (bit % 8);
    h
}

fn build(leaf_data: &[Vec<u8>]) -> (Vec<Hash>, MemoryHashes) {
    let leaves: Vec<Hash> = leaf_data.iter().map(|d| leaf_hash(d)).collect();
    let mut m = MemoryHashes::new();
    for (i, l) in leaves.iter().enumerate() {
        assert_eq!(m.append(*l), i as u64);
    }
    (leaves, m)
}

fn leaf_data(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..=max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn roots_equal_the_naive_tree_rs_merkle_and_the_frontier(data in leaf_data(300)) {
        let (leaves, m) = build(&data);
        let mut frontier = Frontier::new();
        prop_assert_eq!(frontier.root(), EMPTY_HASH);
        for size in 0..=leaves.len() {
            if size > 0 {
                frontier.push(leaves[size - 1]);
            }
            let naive = naive_root(&leaves[..size]);
            prop_assert_eq!(m.root(size as u64).unwrap(), naive);
            prop_assert_eq!(merkle::root(size as u64, &m).unwrap(), naive);
            prop_assert_eq!(frontier.root(), naive);
            prop_assert_eq!(frontier.size(), size as u64);
        }
        // rs_merkle builds the whole tree each time; a few sizes are enough.
        for size in [0, 1.min(leaves.len()), leaves.len() / 2, leaves.len()] {
            prop_assert_eq!(root_rs_merkle(&leaves[..size]), naive_root(&leaves[..size]));
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_matches_the_naive_path_and_rs_merkle(
        data in leaf_data(300),
        extra_size in any::<prop::sample::Index>(),
    ) {
        let (leaves, m) = build(&data);
        let n = leaves.len();
        prop_assume!(n > 0);
        let mut sizes = vec![1, n, extra_size.index(n) + 1];
        sizes.dedup();
        for size in sizes {
            let root = m.root(size as u64).unwrap();
            let tree = rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(
                &leaves[..size].iter().map(|h| h.0).collect::<Vec<_>>(),
            );
            for index in 0..size {
                let proof = m.inclusion_proof(index as u64, size as u64).unwrap();
                prop_assert_eq!(&proof, &naive_path(index, &leaves[..size]));
                prop_assert_eq!(proof.len(), merkle::inclusion_proof_len(index as u64, size as u64));
                let rs: Vec<Hash> = tree.proof(&[index]).proof_hashes().iter().map(|h| Hash(*h)).collect();
                prop_assert_eq!(&proof, &rs);
                prop_assert!(verify_inclusion(leaves[index], index as u64, size as u64, &proof, root).is_ok());
                prop_assert!(verify_inclusion_rs_merkle(leaves[index], index as u64, size as u64, &proof, root));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies(data in leaf_data(300), other in any::<prop::sample::Index>()) {
        let (leaves, m) = build(&data);
        let n = leaves.len();
        let second = if n == 0 { 0 } else { other.index(n + 1) };
        for target in [n, second] {
            let root_n = naive_root(&leaves[..target]);
            for size in 0..=target {
                let proof = m.consistency_proof(size as u64, target as u64).unwrap();
                let root_m = naive_root(&leaves[..size]);
                prop_assert!(
                    verify_consistency(size as u64, root_m, target as u64, root_n, &proof).is_ok(),
                    "m={} n={}", size, target
                );
            }
        }
    }

    #[test]
    fn any_one_bit_change_to_an_inclusion_proof_fails(
        data in leaf_data(200),
        pick in any::<(prop::sample::Index, prop::sample::Index)>(),
        bit in 0usize..256,
        low_bit in 0u32..10,
        high_bit in 10u32..63,
    ) {
        let (leaves, m) = build(&data);
        let n = leaves.len();
        prop_assume!(n > 1);
        // Equal leaves make equal subtrees, and then another index can genuinely hold the same
        // path (a log of identical entries): the index check is meaningful for distinct leaves,
        // which a chained log always has (each entry holds the hash of the one before).
        prop_assume!(leaves.iter().map(|h| h.0).collect::<std::collections::BTreeSet<_>>().len() == n);
        let size = pick.0.index(n - 1) + 2;
        let index = pick.1.index(size);
        let (size, index) = (size as u64, index as u64);
        let root = m.root(size).unwrap();
        let leaf = leaves[index as usize];
        let proof = m.inclusion_proof(index, size).unwrap();
        let check = |leaf: Hash, index: u64, size: u64, proof: &[Hash], root: Hash| {
            let tlog = verify_inclusion(leaf, index, size, proof, root).is_ok();
            let rs = verify_inclusion_rs_merkle(leaf, index, size, proof, root);
            assert_eq!(tlog, rs, "the two implementations disagree");
            tlog
        };
        prop_assert!(check(leaf, index, size, &proof, root));
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(bad[i], bit);
            prop_assert!(!check(leaf, index, size, &bad, root));
        }
        prop_assert!(!check(leaf, index, size, &proof, flip(root, bit)));
        prop_assert!(!check(flip(leaf, bit), index, size, &proof, root));
        for b in [low_bit, high_bit] {
            prop_assert!(!check(leaf, index ^ (1 << b), size, &proof, root));
            // An inclusion proof commits to the size only through the shape of the leaf's path
            // (RFC 9162 §2.1.3.2 uses the size for nothing else); the checkpoint's signature is
            // what binds a root to its size. So a changed size must fail unless it gives the
            // leaf the very same path shape.
            let other = size ^ (1 << b);
            if other > index && path_shape(index, other) == path_shape(index, size) {
                prop_assert!(check(leaf, index, other, &proof, root));
            } else {
                prop_assert!(!check(leaf, index, other, &proof, root));
            }
        }
        prop_assert!(!check(leaf, index, size * 2, &proof, root));
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(!check(leaf, index, size, &longer, root));
        if !proof.is_empty() {
            prop_assert!(!check(leaf, index, size, &proof[..proof.len() - 1], root));
        }
    }

    #[test]
    fn any_one_bit_change_to_a_consistency_proof_fails(
        data in leaf_data(200),
        pick in any::<(prop::sample::Index, prop::sample::Index)>(),
        bit in 0usize..256,
        low_bit in 0u32..10,
        high_bit in 10u32..63,
    ) {
        let (leaves, m) = build(&data);
        let n = leaves.len();
        prop_assume!(n > 2);
        let size_n = pick.0.index(n - 2) + 3;
        let size_m = pick.1.index(size_n - 2) + 1; // 1 <= m < n: a proof that is not empty
        let (sm, sn) = (size_m as u64, size_n as u64);
        let (root_m, root_n) = (m.root(sm).unwrap(), m.root(sn).unwrap());
        let proof = m.consistency_proof(sm, sn).unwrap();
        prop_assert!(!proof.is_empty());
        prop_assert!(verify_consistency(sm, root_m, sn, root_n, &proof).is_ok());
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(bad[i], bit);
            prop_assert!(verify_consistency(sm, root_m, sn, root_n, &bad).is_err());
        }
        prop_assert!(verify_consistency(sm, flip(root_m, bit), sn, root_n, &proof).is_err());
        prop_assert!(verify_consistency(sm, root_m, sn, flip(root_n, bit), &proof).is_err());
        prop_assert!(verify_consistency(sm, root_n, sn, root_m, &proof).is_err());
        for b in [low_bit, high_bit] {
            prop_assert!(verify_consistency(sm ^ (1 << b), root_m, sn, root_n, &proof).is_err());
            // As with inclusion proofs, the new size is bound only through the proof's shape.
            let other = sn ^ (1 << b);
            let holds = verify_consistency(sm, root_m, other, root_n, &proof).is_ok();
            prop_assert_eq!(
                holds,
                other >= sm && consistency_shape(sm, other) == consistency_shape(sm, sn)
            );
        }
        let mut longer = proof.clone();
        longer.push(root_n);
        prop_assert!(verify_consistency(sm, root_m, sn, root_n, &longer).is_err());
        prop_assert!(verify_consistency(sm, root_m, sn, root_n, &proof[..proof.len() - 1]).is_err());
        prop_assert!(verify_consistency(sm, root_m, sn, root_n, &[]).is_err());
    }
}

#[test]
fn out_of_range_requests_are_typed_errors() {
    let (leaves, m) = build(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(
        m.inclusion_proof(3, 3),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        m.inclusion_proof(0, 4),
        Err(ProofError::SizeBeyondTree { size: 4, have: 3 })
    );
    assert_eq!(
        m.consistency_proof(3, 2),
        Err(ProofError::SizesReversed { m: 3, n: 2 })
    );
    assert!(matches!(merkle::root(4, &m), Err(ProofError::Reader(_))));
    let root = m.root(3).unwrap();
    assert_eq!(
        verify_inclusion(leaves[0], 3, 3, &[], root),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        verify_consistency(3, root, 2, root, &[]),
        Err(ProofError::SizesReversed { m: 3, n: 2 })
    );
    assert_eq!(
        verify_inclusion(leaves[0], 0, 3, &[], root),
        Err(ProofError::BadProof)
    );
}

#[test]
fn trivial_consistency_needs_an_empty_proof_and_matching_roots() {
    let (_, m) = build(&[b"a".to_vec(), b"b".to_vec()]);
    let root = m.root(2).unwrap();
    assert!(verify_consistency(0, EMPTY_HASH, 2, root, &[]).is_ok());
    assert!(verify_consistency(0, root, 2, root, &[]).is_err());
    assert!(verify_consistency(0, EMPTY_HASH, 2, root, &[root]).is_err());
    assert!(verify_consistency(2, root, 2, root, &[]).is_ok());
    assert!(verify_consistency(2, root, 2, EMPTY_HASH, &[]).is_err());
    assert!(verify_consistency(2, root, 2, root, &[root]).is_err());
    assert_eq!(m.consistency_proof(0, 2), Ok(vec![]));
    assert_eq!(m.consistency_proof(2, 2), Ok(vec![]));
}

#[test]
fn rs_merkle_leaf_hash_is_the_rfc_6962_leaf_hash() {
    assert_eq!(leaf_hash_rs_merkle(b"abc"), leaf_hash(b"abc"));
    assert_eq!(
        deedlog_core::hash::to_hex(&leaf_hash_rs_merkle(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

#[test]
fn stored_hashes_follow_the_tlog_layout() {
    let data: Vec<Vec<u8>> = (0u8..16).map(|i| vec![i]).collect();
    let (leaves, m) = build(&data);
    assert_eq!(
        m.hashes().len() as u64,
        tlog_tiles::stored_hash_count(16),
        "one stored hash per completed subtree"
    );
    for level in 0..=4u8 {
        let width = 1usize << level;
        for k in 0..(16 / width) {
            let index = tlog_tiles::stored_hash_index(level, k as u64) as usize;
            assert_eq!(
                m.hashes()[index],
                naive_root(&leaves[k * width..(k + 1) * width])
            );
        }
    }
}
