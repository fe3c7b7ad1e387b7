//! The signed-command decoder (the JSON body of `POST /v1/commands/{kind}`) takes any bytes:
//! decoding, shape checks and signature verification answer with typed errors, and a command
//! that verifies still verifies after a round trip through its canonical bytes.
#![no_main]

use deedlog_core::{Command, SignedCommand, canonical};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = serde_json::from_slice::<SignedCommand>(data) {
        let verified = signed.verify();
        let _ = signed.key_id();
        let mut bytes = Vec::new();
        if signed.write_canonical(&mut bytes).is_ok() {
            let back: SignedCommand =
                serde_json::from_slice(&bytes).expect("canonical bytes of a command decode");
            assert_eq!(back, signed, "canonical bytes decode to the same command");
            assert!(
                canonical::decode(&bytes).is_ok(),
                "the fast writer's bytes are canonical"
            );
            assert_eq!(back.verify().is_ok(), verified.is_ok());
        }
        let _ = signed.command().signing_bytes();
    }
    if let Ok(command) = serde_json::from_slice::<Command>(data) {
        let _ = command.check();
        let _ = command.signing_bytes();
    }
});
