//! The worked example of docs/FORMAT.md ("Signing a command, step by step") is checked against
//! the code: the same seed, command, signing message, signature, entry bytes and leaf hash.
//! An integrator writing a client from the page alone gets bytes the server accepts.

use deedlog_core::checkpoint::VerifierKey;
use deedlog_core::command::COMMAND_DOMAIN;
use deedlog_core::hash::{leaf_hash, to_hex};
use deedlog_core::{Command, Entry, SecretKey, SignedCommand, canonical};

const FORMAT_MD: &str = include_str!("../../../docs/FORMAT.md");

/// The fenced block right after the marker `<!-- example:NAME -->`, without its fences (the
/// fences may be indented, inside a list item).
fn block(name: &str) -> &'static str {
    let marker = format!("<!-- example:{name} -->");
    let at = FORMAT_MD
        .find(&marker)
        .unwrap_or_else(|| panic!("FORMAT.md has no marker {marker}"));
    let rest = &FORMAT_MD[at + marker.len()..];
    let open = rest.find("```").expect("a fenced block follows the marker");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    let mut end = 0;
    for line in body.split_inclusive('\n') {
        if line.trim() == "```" {
            // Without the line feed that ends the block's last line.
            return &body[..end.max(1) - 1];
        }
        end += line.len();
    }
    panic!("the block after {marker} is not closed")
}

fn example_secret() -> SecretKey {
    let seed = hex::decode(block("seed").trim()).expect("the seed is hex");
    SecretKey::from_seed(&seed.try_into().expect("32 bytes"))
}

#[test]
fn the_worked_signing_example_matches_the_code() {
    let secret = example_secret();
    let command: Command = serde_json::from_str(block("command")).expect("the command parses");
    assert_eq!(
        command.key,
        secret.public().to_base64(),
        "the command's key is the seed's public key"
    );
    let canonical_bytes = command.signing_bytes().unwrap();
    let mut message = COMMAND_DOMAIN.to_vec();
    message.extend_from_slice(&canonical_bytes);
    // The doc shows the message as text: the domain tag's line, then the canonical bytes.
    assert_eq!(
        block("message").as_bytes(),
        message.as_slice(),
        "signing message; the code gives:\n{}",
        String::from_utf8_lossy(&message)
    );
    assert_eq!(
        canonical_bytes,
        canonical::to_vec(&command).unwrap(),
        "the message is the RFC 8785 form of the command"
    );
    let signed = command.clone().sign(&secret).unwrap();
    assert_eq!(block("signature").trim(), signed.signature);
    let body: SignedCommand = serde_json::from_str(block("body")).expect("the body parses");
    assert_eq!(body, signed);
    assert!(body.verify().is_ok());
    let entry_bytes = block("entry").as_bytes();
    let entry = Entry::decode(entry_bytes).expect("the entry is canonical");
    assert_eq!(entry.signed, signed);
    assert_eq!(
        entry.encode().unwrap(),
        entry_bytes,
        "the entry is its canonical bytes"
    );
    assert_eq!(block("leaf").trim(), to_hex(&leaf_hash(entry_bytes)));
}

#[test]
fn the_documented_vkey_with_plus_in_its_base64_parses() {
    let vkey = block("vkey").trim();
    let parsed = VerifierKey::parse(vkey).expect("the example vkey parses");
    let key64 = vkey.rsplit_once('+').map(|(_, k)| k);
    assert!(
        vkey.len() - parsed.name().len() - 10 == 44 && key64.is_some(),
        "name+8+44"
    );
    assert!(
        vkey[vkey.len() - 44..].contains('+'),
        "the example shows a base64 part holding `+`"
    );
    assert_eq!(parsed.to_vkey(), vkey);
}
