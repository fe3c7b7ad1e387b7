//! The checkpoint / signed-note parser takes any bytes: opening under the sample log's key,
//! reading the time extension and checking cosignatures answer without panicking; an opened
//! checkpoint keeps its body and signature lines byte for byte. The first line of the input is
//! also tried as a verifier key and a witness key.
#![no_main]

use deedlog_core::SecretKey;
use deedlog_core::checkpoint::{
    VerifierKey, WitnessKey, open_checkpoint, open_note, verify_cosignatures,
};
use deedlog_fuzz::SAMPLE_VKEY;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let log = VerifierKey::parse(SAMPLE_VKEY).expect("the sample vkey parses");
    if let Ok(opened) = open_checkpoint(data, &log) {
        let _ = opened.time_ms();
        assert!(
            data.starts_with(opened.body.as_bytes()),
            "the body is the note's first bytes"
        );
        let witness = SecretKey::from_seed(&[7; 32]).public();
        if let Ok(w) = WitnessKey::new("witness.example/w1", witness) {
            let _ = verify_cosignatures(&opened, &[w]);
        }
    }
    let _ = open_note(data, &log);
    if let Ok(text) = std::str::from_utf8(data) {
        let first = text.lines().next().unwrap_or_default();
        if let Ok(k) = VerifierKey::parse(first) {
            assert_eq!(k.to_vkey(), first, "a parsed vkey prints as itself");
            let _ = open_checkpoint(data, &k);
        }
        if let Ok(w) = WitnessKey::parse(first) {
            assert_eq!(w.to_vkey(), first, "a parsed witness key prints as itself");
        }
    }
});
