//! Inclusion and consistency proofs read from the stored-hash flat file, at 10^6 and 10^7
//! entries. The files are built once (about 2 × n stored hashes of 32 bytes) under the target
//! folder and reused.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use deedlog_core::hash;
use deedlog_core::merkle::MemoryHashes;
use deedlog_store::flatfile::{FlatFile, FlatReader};

fn hash_file(n: u64) -> FlatReader<32> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data folder");
    let path = dir.join(format!("hashes-{n}"));
    let want = tlog_tiles::stored_hash_count(n);
    let mut file = FlatFile::<32>::open(&path).expect("open");
    if file.len() != want {
        file.truncate(0).expect("truncate");
        let mut memory = MemoryHashes::new();
        for i in 0..n {
            memory.append(hash::leaf_hash(&i.to_le_bytes()));
        }
        let mut bytes = Vec::with_capacity(memory.hashes().len() * 32);
        for h in memory.hashes() {
            bytes.extend_from_slice(&h.0);
        }
        file.append(&bytes).expect("write");
    }
    file.reader()
}

fn proofs(c: &mut Criterion) {
    let mut group = c.benchmark_group("proofs_from_file");
    for n in [1_000_000u64, 10_000_000] {
        let reader = hash_file(n);
        let root = tlog_tiles::tree_hash(n, &reader).expect("root");
        let mut i = 0u64;
        group.bench_with_input(BenchmarkId::new("inclusion_prove", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7_919_993) % n;
                black_box(tlog_tiles::prove_record(n, i, &reader).expect("proof"))
            });
        });
        let proof = tlog_tiles::prove_record(n, n / 3, &reader).expect("proof");
        let leaf = hash::leaf_hash(&(n / 3).to_le_bytes());
        group.bench_with_input(BenchmarkId::new("inclusion_verify", n), &n, |b, &n| {
            b.iter(|| {
                tlog_tiles::check_record(black_box(&proof), n, root, n / 3, leaf).expect("ok")
            });
        });
        let mut m = 1u64;
        group.bench_with_input(BenchmarkId::new("consistency_prove", n), &n, |b, &n| {
            b.iter(|| {
                m = (m + 7_919_993) % (n - 1) + 1;
                black_box(tlog_tiles::prove_tree(n, m, &reader).expect("proof"))
            });
        });
        group.bench_with_input(BenchmarkId::new("root", n), &n, |b, &n| {
            b.iter(|| black_box(tlog_tiles::tree_hash(n, &reader).expect("root")));
        });
    }
    group.finish();
}

criterion_group!(benches, proofs);
criterion_main!(benches);
