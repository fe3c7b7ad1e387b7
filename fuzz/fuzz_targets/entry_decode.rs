//! The entry decoder takes any bytes: it answers with a typed error, whatever it accepts
//! re-encodes to the same bytes (stored bytes are never re-serialized before they are hashed),
//! and the signature check inside answers without panicking.
#![no_main]

use deedlog_core::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(data) {
        let again = entry.encode().expect("a decoded entry re-encodes");
        assert_eq!(again, data, "a decoded entry re-encodes to its own bytes");
        let _ = entry.signed.verify();
        let _ = Entry::leaf_hash(data);
    }
});
