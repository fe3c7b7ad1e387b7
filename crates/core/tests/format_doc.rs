//! The worked example of docs/FORMAT.md ("Signing a command, step by step") is checked against
//! the code: the same seed, command, signing message, signature, entry bytes and leaf hash.
//! An integrator writing a client from the page alone gets bytes the server accepts.

use deedlog_core::checkpoint::VerifierKey;
use deedlog_core::command::{COMMAND_DOMAIN_V2, opening_bytes, payload_digest};
use deedlog_core::hash::{leaf_hash, to_hex};
use deedlog_core::verify::OpeningLine;
use deedlog_core::{Command, Entry, LoggedEntry, SecretKey, SignedCommand, canonical};

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
    let salt = command.derive_salt(&secret).unwrap();
    assert_eq!(block("salt").trim(), salt);
    let (opening, _) = opening_bytes(&command.payload, &salt).unwrap();
    assert_eq!(block("opening").as_bytes(), opening.as_slice());
    let digest = hex::encode(payload_digest(&opening));
    assert_eq!(block("digest").trim(), digest);
    let signed = command.clone().sign(&secret).unwrap();
    let (sealed, _) = signed.seal().unwrap();
    let prepared = sealed.prepare().unwrap();
    let mut message = COMMAND_DOMAIN_V2.to_vec();
    message.extend_from_slice(&prepared.message);
    // The doc shows the message as text: the domain tag's line, then the canonical bytes.
    assert_eq!(
        block("message").as_bytes(),
        message.as_slice(),
        "signing message; the code gives:\n{}",
        String::from_utf8_lossy(&message)
    );
    // The message is the RFC 8785 form of the command with the digest in the payload's place.
    let mut generic = serde_json::to_value(&command).unwrap();
    let object = generic.as_object_mut().unwrap();
    object.remove("payload");
    object.insert("payload_digest".into(), digest.clone().into());
    assert_eq!(prepared.message, canonical::to_vec(&generic).unwrap());
    assert_eq!(block("signature").trim(), signed.signature);
    let body: SignedCommand = serde_json::from_str(block("body")).expect("the body parses");
    assert_eq!(body, signed);
    assert!(body.verify().is_ok());
    let entry_bytes = block("entry").as_bytes();
    let logged = LoggedEntry::decode(entry_bytes).expect("the entry is canonical");
    assert!(
        logged.verify_signature().is_ok(),
        "it verifies without the opening"
    );
    let (seq, line_opening) = OpeningLine::parse(block("opening-line").as_bytes()).unwrap();
    assert_eq!((seq, line_opening.as_slice()), (0, opening.as_slice()));
    let entry = Entry::decode_with(entry_bytes, Some(&opening)).expect("the opening fits");
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
