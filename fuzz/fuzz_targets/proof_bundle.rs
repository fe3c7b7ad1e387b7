//! The proof-bundle decoder and verifier take any bytes: decoding and every check answer with a
//! typed error; what verifies names the bundle's own seq and tree size.
#![no_main]

use deedlog_core::bundle::ProofBundle;
use deedlog_fuzz::SAMPLE_VKEY;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = serde_json::from_slice::<ProofBundle>(data) {
        if let Ok(verified) = bundle.verify(SAMPLE_VKEY) {
            assert!(verified.entry.seq < bundle.tree_size);
        }
        // The bundle's own key, untrusted, must be refused or verify the same way.
        let _ = bundle.verify(&bundle.log_key);
    }
});
