//! Checkpoints: signing and opening, every tampering a typed error, and witness cosignatures.

use deedlog_core::checkpoint::{
    self, CheckpointError, CosignatureStatus, VerifierKey, WitnessKey, cosign, open_checkpoint,
    sign_checkpoint, time_extension, verify_cosignatures,
};
use deedlog_core::hash::leaf_hash;
use deedlog_core::{SecretKey, keys};

use crate::common::key;

const ORIGIN: &str = "deedlog.example/log";

fn signed(size: u64, extensions: &[String]) -> Vec<u8> {
    sign_checkpoint(ORIGIN, size, leaf_hash(b"root"), extensions, &key("log")).unwrap()
}

fn log_verifier() -> VerifierKey {
    VerifierKey::new(ORIGIN, key("log").public()).unwrap()
}

fn replace(note: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(note.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} not in {text:?}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn sign_and_open_round_trip() {
    let note = signed(42, &[time_extension(1_700_000_000_123)]);
    let text = String::from_utf8(note.clone()).unwrap();
    let root64 = keys::base64(&leaf_hash(b"root").0);
    assert!(text.starts_with(&format!(
        "{ORIGIN}\n42\n{root64}\ntime 1700000000123\n\n\u{2014} {ORIGIN} "
    )));
    let opened = open_checkpoint(&note, &log_verifier()).unwrap();
    assert_eq!(opened.origin, ORIGIN);
    assert_eq!(opened.size, 42);
    assert_eq!(opened.root, leaf_hash(b"root"));
    assert_eq!(opened.extensions, vec!["time 1700000000123".to_owned()]);
    assert_eq!(opened.time_ms(), Some(1_700_000_000_123));
    assert_eq!(opened.note_text.as_bytes(), note.as_slice());
    assert_eq!(
        opened.body,
        format!("{ORIGIN}\n42\n{root64}\ntime 1700000000123\n")
    );
    assert!(opened.other_signatures.is_empty());

    let bare = open_checkpoint(&signed(0, &[]), &log_verifier()).unwrap();
    assert!(bare.extensions.is_empty());
    assert_eq!(bare.time_ms(), None);
}

#[test]
fn vkeys_round_trip_and_are_checked() {
    let public = key("log").public();
    let vkey = checkpoint::vkey(ORIGIN, &public).unwrap();
    let parsed = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(parsed, log_verifier());
    assert_eq!(parsed.to_vkey(), vkey);
    assert_eq!(parsed.key(), &public);
    assert_eq!(
        format!("{:08x}", parsed.key_id()),
        vkey.split('+').nth(1).unwrap()
    );
    // A wrong key id, a wrong algorithm byte, a bad name and a weak key are all refused.
    let (name, rest) = vkey.split_once('+').unwrap();
    let (_, key64) = rest.split_once('+').unwrap();
    for bad in [
        format!("{name}+00000000+{key64}"),
        format!("{name}+{}", rest.replacen("+A", "+B", 1)),
        format!("a b+{rest}"),
        "nonsense".to_owned(),
    ] {
        assert!(
            matches!(
                VerifierKey::parse(&bad),
                Err(CheckpointError::BadVerifierKey(_))
            ),
            "{bad}"
        );
    }
    let mut weak = vec![1u8];
    weak.extend_from_slice(&{
        let mut identity = [0u8; 32];
        identity[0] = 1;
        identity
    });
    let weak_id = signed_note::key_id("w", &weak);
    let weak_vkey = format!("w+{weak_id:08x}+{}", keys::base64(&weak));
    assert!(matches!(
        VerifierKey::parse(&weak_vkey),
        Err(CheckpointError::BadVerifierKey(_))
    ));
    assert_eq!(
        checkpoint::vkey("has space", &public),
        Err(CheckpointError::BadKeyName)
    );
}

#[test]
fn every_tampering_is_a_typed_error() {
    let note = signed(42, &[time_extension(7)]);
    let v = log_verifier();
    let not_signed = CheckpointError::NotSignedByLog {
        name: ORIGIN.to_owned(),
        key_id: v.key_id(),
    };

    // Another key under the same name has another key id: its lines are not the log's.
    let wrong_key = VerifierKey::new(ORIGIN, key("other").public()).unwrap();
    assert!(matches!(
        open_checkpoint(&note, &wrong_key),
        Err(CheckpointError::NotSignedByLog { .. })
    ));
    // A note signed only by another key.
    let by_other = sign_checkpoint(ORIGIN, 42, leaf_hash(b"root"), &[], &key("other")).unwrap();
    assert_eq!(open_checkpoint(&by_other, &v), Err(not_signed.clone()));

    let root64 = keys::base64(&leaf_hash(b"root").0);
    let other64 = keys::base64(&leaf_hash(b"other").0);
    for (what, tampered) in [
        ("size", replace(&note, "\n42\n", "\n43\n")),
        ("root", replace(&note, &root64, &other64)),
        (
            "origin",
            replace(&note, "deedlog.example/log\n", "deedlog.example/lag\n"),
        ),
        ("added extension", replace(&note, "time 7\n", "time 7\nx\n")),
        ("removed extension", replace(&note, "time 7\n", "")),
        ("changed extension", replace(&note, "time 7\n", "time 8\n")),
    ] {
        assert_eq!(
            open_checkpoint(&tampered, &v),
            Err(CheckpointError::BadSignature),
            "{what}"
        );
    }

    // A forged signature under the log's own name and key id.
    let text = String::from_utf8(note.clone()).unwrap();
    let (body, sig_line) = text.split_once("\n\n").unwrap();
    let sig64 = sig_line
        .trim_end()
        .rsplit_once(' ')
        .map(|(_, s)| s)
        .unwrap();
    let mut sig = keys::from_base64(sig64).unwrap();
    sig[10] ^= 1;
    let forged = format!("{body}\n\n\u{2014} {ORIGIN} {}\n", keys::base64(&sig));
    assert_eq!(
        open_checkpoint(forged.as_bytes(), &v),
        Err(CheckpointError::BadSignature)
    );

    // Every proper prefix of the note is refused.
    for cut in 0..note.len() {
        let r = open_checkpoint(&note[..cut], &v);
        assert!(
            matches!(
                r,
                Err(CheckpointError::MalformedNote | CheckpointError::NotSignedByLog { .. })
            ),
            "cut at {cut}: {r:?}"
        );
    }

    // A signed note whose text is not a checkpoint.
    let not_checkpoint = checkpoint::sign_note(b"hello\n", ORIGIN, &key("log")).unwrap();
    assert_eq!(
        open_checkpoint(&not_checkpoint, &v),
        Err(CheckpointError::MalformedBody)
    );
    let huge = vec![b'a'; checkpoint::NOTE_BYTES_MAX + 1];
    assert!(matches!(
        open_checkpoint(&huge, &v),
        Err(CheckpointError::TooLarge { .. })
    ));
}

#[test]
fn cosignatures_round_trip_byte_for_byte_and_forgeries_fail() {
    let note = signed(42, &[time_extension(7)]);
    let v = log_verifier();
    let body = open_checkpoint(&note, &v).unwrap().body;
    let w1 = key("witness 1");
    let w2 = key("witness 2");
    let line1 = cosign(body.as_bytes(), "witness.example/w1", &w1, 1_700_000_000).unwrap();
    let line2 = cosign(body.as_bytes(), "witness.example/w2", &w2, 1_700_000_001).unwrap();
    assert!(line1.starts_with("\u{2014} witness.example/w1 ") && line1.ends_with('\n'));
    assert_eq!(
        cosign(body.as_bytes(), "witness.example/w1", &w1, 1 << 63),
        Err(CheckpointError::BadTimestamp)
    );

    let mut cosigned = note.clone();
    cosigned.extend_from_slice(line1.as_bytes());
    cosigned.extend_from_slice(line2.as_bytes());
    let opened = open_checkpoint(&cosigned, &v).unwrap();
    assert_eq!(opened.note_text.as_bytes(), cosigned.as_slice());
    let lines: Vec<&str> = opened
        .other_signatures
        .iter()
        .map(|s| s.line.as_str())
        .collect();
    assert_eq!(lines, vec![line1.as_str(), line2.as_str()]);
    // Rebuilding the note from what was opened gives back the very same bytes.
    let log_line = String::from_utf8(note.clone()).unwrap();
    let log_line = log_line.split_once("\n\n").unwrap().1;
    assert_eq!(
        format!("{}\n{log_line}{}", opened.body, lines.concat()).as_bytes(),
        cosigned.as_slice()
    );

    let k1 = WitnessKey::new("witness.example/w1", w1.public()).unwrap();
    let k2 = WitnessKey::parse(
        &WitnessKey::new("witness.example/w2", w2.public())
            .unwrap()
            .to_vkey(),
    )
    .unwrap();
    let k3 = WitnessKey::new("witness.example/w3", key("witness 3").public()).unwrap();
    let checks = verify_cosignatures(&opened, &[k1.clone(), k2, k3]);
    assert_eq!(
        checks.iter().map(|c| c.status.clone()).collect::<Vec<_>>(),
        vec![
            CosignatureStatus::Valid {
                timestamp: 1_700_000_000
            },
            CosignatureStatus::Valid {
                timestamp: 1_700_000_001
            },
            CosignatureStatus::Missing
        ]
    );
    assert_eq!(checks[0].witness, "witness.example/w1");
    let valid = opened.other_signatures[0].clone();

    // A witness key with the log's algorithm byte is not a cosignature key.
    assert!(WitnessKey::parse(&checkpoint::vkey("w", &w1.public()).unwrap()).is_err());

    // Forged: a cosignature over another checkpoint, pasted onto this one.
    let other_body = open_checkpoint(&signed(41, &[]), &v).unwrap().body;
    let pasted = cosign(
        other_body.as_bytes(),
        "witness.example/w1",
        &w1,
        1_700_000_000,
    )
    .unwrap();
    let mut forged = note.clone();
    forged.extend_from_slice(pasted.as_bytes());
    let opened = open_checkpoint(&forged, &v).unwrap();
    assert_eq!(
        verify_cosignatures(&opened, std::slice::from_ref(&k1))[0].status,
        CosignatureStatus::Invalid
    );
    // Forged: the timestamp changed after signing.
    let mut payload = valid.key_id.to_be_bytes().to_vec();
    let mut stamped = valid.signature.clone();
    stamped[7] ^= 1;
    payload.extend_from_slice(&stamped);
    let restamped = format!("\u{2014} witness.example/w1 {}\n", keys::base64(&payload));
    let mut forged = note.clone();
    forged.extend_from_slice(restamped.as_bytes());
    let opened = open_checkpoint(&forged, &v).unwrap();
    assert_eq!(
        verify_cosignatures(&opened, &[k1])[0].status,
        CosignatureStatus::Invalid
    );
}

#[test]
fn vkeys_split_by_position_refuse_a_plus_in_the_name_and_print_as_read() {
    // The base64 part of this vkey holds two `+`.
    let public = SecretKey::from_seed(&[19; 32]).public();
    let vkey = checkpoint::vkey("deedlog.example/log", &public).unwrap();
    assert_eq!(vkey[vkey.len() - 44..].matches('+').count(), 2, "{vkey}");
    let parsed = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(parsed.name(), "deedlog.example/log");
    assert_eq!(parsed.to_vkey(), vkey);

    // An origin holding `+` is refused by name, whatever follows it.
    let (_, id_and_key) = vkey.split_once('+').unwrap();
    let plus_name = format!("deedlog+example/log+{id_and_key}");
    let err = VerifierKey::parse(&plus_name).unwrap_err().to_string();
    assert!(err.contains("must not contain `+`"), "{err}");
    let err = WitnessKey::parse(&plus_name).unwrap_err().to_string();
    assert!(err.contains("must not contain `+`"), "{err}");
    assert_eq!(
        checkpoint::vkey("a+b", &public).unwrap_err(),
        CheckpointError::BadKeyName
    );

    // A fuzz finding: an upper-case key id was accepted and printed back in lower case, so one
    // key had two spellings. Only the lower-case spelling is a vkey.
    let sample = "deedlog.example/sample+161bf914+ARqGjiskrny9GDrZ+0fEFTNy4h2wpi8li/MqXgYBVjCS";
    assert!(VerifierKey::parse(sample).is_ok());
    let upper = sample.replace("161bf914", "161bF914");
    let err = VerifierKey::parse(&upper).unwrap_err().to_string();
    assert!(err.contains("lower-case"), "{err}");

    // Truncated, padded or mangled key parts name the shape.
    for broken in [
        &vkey[..vkey.len() - 1],
        &format!("{vkey}="),
        "deedlog.example/log",
        "x+00000000+",
        &vkey.replacen('+', "-", 1),
    ] {
        assert!(
            matches!(
                VerifierKey::parse(broken),
                Err(CheckpointError::BadVerifierKey(_))
            ),
            "{broken}"
        );
    }
}
