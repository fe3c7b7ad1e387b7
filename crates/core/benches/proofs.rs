//! Proof generation and verification over a 10^6-leaf tree held in [`MemoryHashes`], the
//! [`Frontier`], and the offline verifier's throughput on signed entries.
//!
//! Run with `cargo bench -p deedlog-core --bench proofs`. A 10^7-leaf variant over stored hashes
//! on disk belongs to the store's benches.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use deedlog_core::checkpoint::{self, sign_checkpoint};
use deedlog_core::hash::{Hash, ZERO_HASH, leaf_hash, sha256};
use deedlog_core::merkle::{
    Frontier, MemoryHashes, verify_consistency, verify_inclusion, verify_inclusion_rs_merkle,
};
use deedlog_core::verify::LogVerifier;
use deedlog_core::{Command, Entry, SecretKey};

const LEAVES: u64 = 1_000_000;

fn tree() -> MemoryHashes {
    let mut m = MemoryHashes::new();
    for i in 0..LEAVES {
        m.append(leaf_hash(&i.to_be_bytes()));
    }
    m
}

/// A cheap, deterministic spread of indexes.
fn index(i: u64, below: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % below
}

fn proofs(c: &mut Criterion) {
    let m = tree();
    let size = LEAVES;
    let root = m.root(size).expect("the tree holds LEAVES leaves");
    let mut group = c.benchmark_group("proofs_1e6");

    group.bench_function("root", |b| b.iter(|| m.root(black_box(size))));

    let mut i = 0u64;
    group.bench_function("inclusion_prove", |b| {
        b.iter(|| {
            i += 1;
            m.inclusion_proof(index(i, size), size)
        })
    });

    let cases: Vec<(u64, Hash, Vec<Hash>)> = (0..1024)
        .map(|i| {
            let n = index(i, size);
            let proof = m.inclusion_proof(n, size).expect("n < size");
            (n, leaf_hash(&n.to_be_bytes()), proof)
        })
        .collect();
    let mut i = 0usize;
    group.bench_function("inclusion_verify_tlog", |b| {
        b.iter(|| {
            i = (i + 1) % cases.len();
            let (n, leaf, proof) = &cases[i];
            verify_inclusion(*leaf, *n, size, proof, root)
        })
    });
    group.bench_function("inclusion_verify_rs_merkle", |b| {
        b.iter(|| {
            i = (i + 1) % cases.len();
            let (n, leaf, proof) = &cases[i];
            verify_inclusion_rs_merkle(*leaf, *n, size, proof, root)
        })
    });

    let mut i = 0u64;
    group.bench_function("consistency_prove", |b| {
        b.iter(|| {
            i += 1;
            m.consistency_proof(index(i, size - 1) + 1, size)
        })
    });
    let cases: Vec<(u64, Hash, Vec<Hash>)> = (0..256)
        .map(|i| {
            let old = index(i, size - 1) + 1;
            let proof = m.consistency_proof(old, size).expect("old <= size");
            (old, m.root(old).expect("old <= size"), proof)
        })
        .collect();
    let mut i = 0usize;
    group.bench_function("consistency_verify", |b| {
        b.iter(|| {
            i = (i + 1) % cases.len();
            let (old, old_root, proof) = &cases[i];
            verify_consistency(*old, *old_root, size, root, proof)
        })
    });

    group.finish();

    let mut group = c.benchmark_group("append_1e6");
    group.throughput(Throughput::Elements(LEAVES));
    group.sample_size(10);
    group.bench_function("memory_hashes", |b| b.iter(tree));
    group.bench_function("frontier_then_root", |b| {
        b.iter(|| {
            let mut f = Frontier::new();
            for i in 0..LEAVES {
                f.push(Hash(sha256(&i.to_be_bytes())));
            }
            f.root()
        })
    });
    group.finish();
}

/// A small signed log, as the verifier reads it: the log's vkey, entry bytes with their
/// openings (version 2), and `(size, note)` checkpoints.
type SignedLog = (
    String,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
    Vec<(usize, Vec<u8>)>,
);

fn signed_log(n: usize, version: u8) -> SignedLog {
    let origin = "bench.example/log";
    let log_key = SecretKey::from_seed(&sha256(b"bench log key"));
    let actors: Vec<SecretKey> = (0u8..16)
        .map(|i| SecretKey::from_seed(&sha256(&[i])))
        .collect();
    let mut entries = Vec::with_capacity(n);
    let mut checkpoints = Vec::new();
    let mut hashes = MemoryHashes::new();
    let mut prev_hash = ZERO_HASH;
    for i in 0..n {
        let secret = &actors[i % actors.len()];
        let signed = Command {
            actor: format!("party/PA-{}", i % actors.len()),
            key: secret.public().to_base64(),
            kind: "bench.note".into(),
            stream: format!("bench/B-{i}"),
            expected_version: Some(0),
            payload: serde_json::json!({"n": i, "text": "x".repeat(400)}),
            nonce: format!("nonce-{i:08}"),
            issued_at_ms: 1_700_000_000_000,
        };
        let signed = if version == 1 {
            signed.sign_v1(secret)
        } else {
            signed.sign(secret)
        }
        .expect("bench commands are well-formed");
        let (bytes, opening) = Entry {
            seq: i as u64,
            recorded_at_ms: 1_700_000_000_000,
            prev_hash,
            stream: format!("bench/B-{i}"),
            stream_version: 1,
            kind: "Noted".into(),
            signed,
            derived: serde_json::json!({}),
        }
        .encode_record()
        .expect("bench entries encode");
        prev_hash = leaf_hash(&bytes);
        hashes.append(prev_hash);
        entries.push((bytes, opening));
        if (i + 1) % 1000 == 0 || i + 1 == n {
            let root = hashes.root(i as u64 + 1).expect("in the tree");
            let note = sign_checkpoint(origin, i as u64 + 1, root, &[], &log_key)
                .expect("bench checkpoints sign");
            checkpoints.push((i + 1, note));
        }
    }
    let vkey = checkpoint::vkey(origin, &log_key.public()).expect("origin is a key name");
    (vkey, entries, checkpoints)
}

/// The offline verifier over the same 4096 entries in both formats: version 1 (payload in the
/// entry), version 2 with every opening checked against its digest (a full export), and
/// version 2 sealed (a public export of confidential entries).
fn verifier(c: &mut Criterion) {
    let n = 4096;
    let mut group = c.benchmark_group("offline_verifier");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    for (name, version, openings) in [
        ("verify_4096_entries_v1", 1u8, false),
        ("verify_4096_entries_v2_opened", 2, true),
        ("verify_4096_entries_v2_sealed", 2, false),
    ] {
        let (vkey, entries, checkpoints) = signed_log(n, version);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut v = LogVerifier::new("bench.example/log", &vkey).expect("vkey parses");
                let mut next = 0;
                for (i, (e, o)) in entries.iter().enumerate() {
                    v.push_entry(e);
                    if let (true, Some(o)) = (openings, o) {
                        v.push_opening(i as u64, o);
                    }
                    if next < checkpoints.len() && checkpoints[next].0 == i + 1 {
                        v.push_checkpoint(&checkpoints[next].1);
                        next += 1;
                    }
                }
                let report = v.finish();
                assert!(report.is_clean());
                report
            })
        });
    }
    group.finish();
}

/// The state map at a city's size: updating one aggregate's status (what each entry that changes
/// a listing, contract or property costs the node), proving it, and checking the proof.
fn state_map(c: &mut Criterion) {
    use deedlog_core::state_map::StateMap;
    const N: u32 = 100_000;
    let key = |i: u32| deedlog_core::hash::sha256(&i.to_be_bytes());
    let mut map = StateMap::new();
    for i in 0..N {
        map.insert(key(i), key(i + N));
    }
    let mut g = c.benchmark_group("state_map_100k");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u32;
    // One update and a new root: a batch of one entry.
    g.bench_function("update_and_root", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            map.insert(key(i), key(i ^ 1));
            map.root()
        });
    });
    // A batch of 1,000 updates and one root, per update.
    g.throughput(Throughput::Elements(1000));
    g.bench_function("batch_of_1000_and_root", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                i = (i + 7919) % N;
                map.insert(key(i), key(i ^ 3));
            }
            map.root()
        });
    });
    g.throughput(Throughput::Elements(1));
    let root = map.root();
    g.bench_function("prove", |b| b.iter(|| map.prove(&key(4242))));
    let proof = map.prove(&key(4242));
    g.bench_function("verify", |b| b.iter(|| proof.verify(&root)));
    g.finish();
}

criterion_group!(benches, proofs, verifier, state_map);
criterion_main!(benches);
