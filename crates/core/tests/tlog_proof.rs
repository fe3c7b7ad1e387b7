//! The C2SP `tlog-proof` v1 text: every entry of a small log round-trips through it and
//! verifies; the spec's grammar is held strictly; every changed byte of a proof fails.

use deedlog_core::bundle::ProofBundle;
use deedlog_core::checkpoint::{VerifierKey, open_checkpoint};
use deedlog_core::hash::leaf_hash;
use deedlog_core::tlog_proof::{HEADER, TLOG_PROOF_BYTES_MAX, TlogProof, TlogProofError};

use crate::common::{GeneratedLog, generate};

fn log() -> GeneratedLog {
    generate(45, 4, 10)
}

fn proof(log: &GeneratedLog, seq: u64, checkpoint: usize) -> TlogProof {
    let (_, note) = &log.checkpoints[checkpoint];
    let opened = open_checkpoint(note, &log.verifier_key()).unwrap();
    let bundle = ProofBundle::prove(
        seq,
        &log.entries[seq as usize],
        &opened,
        &log.vkey,
        &log.hashes,
    )
    .unwrap();
    TlogProof::from_bundle(&bundle).unwrap()
}

/// The spec's own example, signatures elided as it elides them: the grammar parses it.
const SPEC_EXAMPLE: &str = "c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw==
";

#[test]
fn every_entry_round_trips_and_verifies() {
    let log = log();
    let key = log.verifier_key();
    for (c, (size, _)) in log.checkpoints.iter().enumerate() {
        for seq in 0..*size {
            let p = proof(&log, seq, c);
            let text = p.encode();
            assert!(text.starts_with(&format!("{HEADER}\nextra ")), "{text}");
            let back = TlogProof::parse(text.as_bytes()).unwrap();
            assert_eq!(back, p);
            let v = back.verify(&key).unwrap();
            assert_eq!(v.entry.seq, seq);
            assert_eq!(v.checkpoint.size, *size);
            assert_eq!(v.leaf_hash, leaf_hash(&log.entries[seq as usize]));
            // Without `extra`, the proof still checks a leaf the reader has.
            let bare = TlogProof {
                extra: None,
                ..back
            };
            let bare = TlogProof::parse(bare.encode().as_bytes()).unwrap();
            assert_eq!(bare.extra, None);
            assert!(bare.verify_leaf(v.leaf_hash, &key).is_ok());
            assert_eq!(bare.verify(&key).unwrap_err(), TlogProofError::NoEntry);
        }
    }
}

#[test]
fn the_spec_example_parses() {
    let p = TlogProof::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(p.index, 73894);
    assert_eq!(p.inclusion.len(), 5);
    assert_eq!(
        p.extra.as_deref(),
        Some(&b"age-v1.2.1-darwin-arm64.tar.gz"[..])
    );
    assert!(p.checkpoint.starts_with("example.com/fancylog\n109482\n"));
    assert_eq!(p.encode(), SPEC_EXAMPLE);
}

#[test]
fn the_grammar_is_held_strictly() {
    let bad = [
        ("", "no empty line"),
        ("c2sp.org/tlog-proof@v2\nindex 0\n\nx\n", "first line"),
        ("c2sp.org/tlog-proof@v1\nindex 0\nx\n", "no empty line"),
        ("c2sp.org/tlog-proof@v1\nindex 07\n\nx\n", "leading zeroes"),
        ("c2sp.org/tlog-proof@v1\nindex -1\n\nx\n", "leading zeroes"),
        ("c2sp.org/tlog-proof@v1\nindex  1\n\nx\n", "leading zeroes"),
        (
            "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\nx\n",
            "out of range",
        ),
        ("c2sp.org/tlog-proof@v1\nidx 1\n\nx\n", "expected `index N`"),
        (
            "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx\n",
            "extra data",
        ),
        ("c2sp.org/tlog-proof@v1\nextra AA==\n\nx\n", "no index line"),
        (
            "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx\n",
            "not 32 bytes",
        ),
        ("c2sp.org/tlog-proof@v1\nindex 1\n@@@@\n\nx\n", "not base64"),
    ];
    for (text, words) in bad {
        let err = TlogProof::parse(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(words), "{text:?}: {err}");
    }
    let too_many = format!(
        "{HEADER}\nindex 1\n{}\nx\n",
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n".repeat(65)
    );
    assert!(
        TlogProof::parse(too_many.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("more than 64")
    );
    let huge = vec![b'a'; TLOG_PROOF_BYTES_MAX + 1];
    assert!(matches!(
        TlogProof::parse(&huge),
        Err(TlogProofError::TooLarge { .. })
    ));
    assert!(TlogProof::parse(&[0xff, 0xfe]).is_err());
}

/// Every single changed byte of a proof's text is refused, by the parser or by the check; and a
/// proof of one log does not verify under another log's key.
#[test]
fn every_changed_byte_fails() {
    let log = log();
    let key = log.verifier_key();
    let text = proof(&log, 13, 2).encode().into_bytes();
    assert!(TlogProof::parse(&text).unwrap().verify(&key).is_ok());
    for i in 0..text.len() {
        for flip in [0x01u8, 0x20] {
            let mut t = text.clone();
            t[i] ^= flip;
            let outcome = TlogProof::parse(&t).and_then(|p| p.verify(&key).map(|_| ()));
            assert!(outcome.is_err(), "byte {i} ^ {flip:#x} still verifies");
        }
    }
    let other = VerifierKey::new(
        "other.example/log",
        deedlog_core::SecretKey::from_seed(&[9; 32]).public(),
    )
    .unwrap();
    assert!(matches!(
        TlogProof::parse(&text).unwrap().verify(&other),
        Err(TlogProofError::Checkpoint(_))
    ));
    // The proof of another entry under the same checkpoint does not stand for this one.
    let mut p = TlogProof::parse(&text).unwrap();
    p.extra = proof(&log, 14, 2).extra;
    assert!(p.verify(&key).is_err());
}
