//! The one key-file format: what the node, `deedlog keygen` and the client wrote before it was
//! one module still reads, and a damaged file is refused with its reason.

use deedlog_core::SecretKey;
use deedlog_core::keyfile::{self, KeyFileError};

/// Says whether an error is the one a case expects.
type Expect = fn(&KeyFileError) -> bool;

fn secret() -> SecretKey {
    SecretKey::from_seed(&[7; 32])
}

#[test]
fn files_written_by_each_former_writer_still_read() {
    let s = secret();
    let seed = deedlog_core::keys::base64(&s.to_seed());
    let public = s.public().to_base64();
    // The node wrote one line (serde_json::to_string of the struct).
    let node = format!(r#"{{"format":"deedlog/key/v1","seed":"{seed}","public":"{public}"}}"#);
    // `deedlog keygen` wrote it pretty-printed.
    let keygen = format!(
        "{{\n  \"format\": \"deedlog/key/v1\",\n  \"seed\": \"{seed}\",\n  \"public\": \"{public}\"\n}}"
    );
    for text in [node.as_str(), keygen.as_str(), &format!("{node}\n")] {
        let read = keyfile::decode(text).unwrap();
        assert_eq!(read.public().to_base64(), public);
    }
    // What is written now is what the node wrote.
    assert_eq!(keyfile::encode(&s), node);
    assert_eq!(
        keyfile::decode(&keyfile::encode(&s)).unwrap().to_seed(),
        s.to_seed()
    );
}

#[test]
fn damaged_key_files_are_refused_with_their_reason() {
    let s = secret();
    let good = keyfile::encode(&s);
    let other = SecretKey::from_seed(&[8; 32]).public().to_base64();
    let cases: Vec<(String, Expect)> = vec![
        ("not json".into(), |e| {
            matches!(e, KeyFileError::NotAKeyFile(_))
        }),
        (
            good.replace("deedlog/key/v1", "deedlog/key/v9"),
            |e| matches!(e, KeyFileError::UnknownFormat(f) if f == "deedlog/key/v9"),
        ),
        (good.replace(&s.public().to_base64(), &other), |e| {
            *e == KeyFileError::PublicMismatch
        }),
        (good.replace("\"seed\":\"", "\"seed\":\"AAAA"), |e| {
            *e == KeyFileError::BadSeed
        }),
        (good.replace('}', ",\"extra\":1}"), |e| {
            matches!(e, KeyFileError::NotAKeyFile(_))
        }),
        (format!("{good}{}", " ".repeat(5000)), |e| {
            *e == KeyFileError::TooLarge
        }),
    ];
    for (text, expected) in cases {
        let Err(error) = keyfile::decode(&text) else {
            panic!("accepted {text:?}");
        };
        assert!(expected(&error), "{text:?}: {error:?}");
        assert!(!error.to_string().is_empty());
    }
}
