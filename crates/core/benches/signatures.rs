//! The cost of the signature rule against the alternatives it was chosen over.
//!
//! Run with `cargo bench -p deedlog-core --bench signatures`. Per signature, on command-sized
//! messages under 256 distinct keys (decompressed once, as the sequencer's key cache does):
//!
//! - `strict`: the rule, `deedlog_core::keys::PublicKey::verify` (`verify_strict`);
//! - `batch_256`: `ed25519_dalek::verify_batch` over 256 signatures, which alone accepts some
//!   signatures the rule refuses (R with a torsion component), so it cannot be the rule;
//! - `batch_256_plus_torsion_checks`: the batch plus what would make it exact — decompressing
//!   each R and checking that it (and each key) is torsion-free;
//! - `key_parse`: parsing a key (decompression and the canonical and weak-key checks), the part
//!   the key cache saves.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use curve25519_dalek::edwards::CompressedEdwardsY;
use deedlog_core::command::COMMAND_DOMAIN;
use deedlog_core::{PublicKey, SecretKey};

const N: usize = 256;

struct Case {
    key: PublicKey,
    message: Vec<u8>,
    signature: [u8; 64],
}

fn cases() -> Vec<Case> {
    (0..N)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let secret = SecretKey::from_seed(&seed);
            let message = format!(
                r#"{{"actor":"party/P-{i:06}","payload":{{"pad":"{}"}}}}"#,
                "x".repeat(400)
            )
            .into_bytes();
            let signature = secret.sign(COMMAND_DOMAIN, &message);
            Case {
                key: secret.public(),
                message,
                signature,
            }
        })
        .collect()
}

fn signatures(c: &mut Criterion) {
    let cases = cases();
    let full: Vec<Vec<u8>> = cases
        .iter()
        .map(|c| [COMMAND_DOMAIN, &c.message[..]].concat())
        .collect();
    let mut group = c.benchmark_group("signatures");
    group.throughput(Throughput::Elements(N as u64));

    group.bench_function("strict", |b| {
        b.iter(|| {
            for c in &cases {
                assert!(
                    c.key
                        .verify(COMMAND_DOMAIN, black_box(&c.message), &c.signature)
                        .is_ok()
                );
            }
        });
    });

    let refs: Vec<&[u8]> = full.iter().map(Vec::as_slice).collect();
    let sigs: Vec<ed25519_dalek::Signature> = cases
        .iter()
        .map(|c| ed25519_dalek::Signature::from_bytes(&c.signature))
        .collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = cases.iter().map(|c| *c.key.as_dalek()).collect();
    group.bench_function("batch_256", |b| {
        b.iter(|| assert!(ed25519_dalek::verify_batch(black_box(&refs), &sigs, &keys).is_ok()));
    });

    group.bench_function("batch_256_plus_torsion_checks", |b| {
        b.iter(|| {
            for c in &cases {
                let r = CompressedEdwardsY::from_slice(&c.signature[..32])
                    .ok()
                    .and_then(|r| r.decompress())
                    .expect("a point");
                assert!(r.is_torsion_free());
                let a = CompressedEdwardsY(c.key.to_bytes())
                    .decompress()
                    .expect("a point");
                assert!(a.is_torsion_free());
            }
            assert!(ed25519_dalek::verify_batch(black_box(&refs), &sigs, &keys).is_ok());
        });
    });

    let key_bytes: Vec<[u8; 32]> = cases.iter().map(|c| c.key.to_bytes()).collect();
    group.bench_function("key_parse", |b| {
        b.iter(|| {
            for k in &key_bytes {
                assert!(PublicKey::from_bytes(black_box(k)).is_ok());
            }
        });
    });
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
