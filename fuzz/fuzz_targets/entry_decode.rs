//! The entry decoder takes any bytes: it answers with a typed error, whatever it accepts
//! re-encodes to the same bytes (stored bytes are never re-serialized before they are hashed),
//! and the signature check inside answers without panicking. The bytes are also read as a stored
//! record (entry bytes, a line feed, an opening): a version-2 entry joins only an opening that
//! hashes to its signed digest, and then re-encodes to the same entry and opening.
#![no_main]

use deedlog_core::entry::split_record;
use deedlog_core::{Entry, LoggedEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(data) {
        let again = entry.encode().expect("a decoded entry re-encodes");
        assert_eq!(again, data, "a decoded entry re-encodes to its own bytes");
        let _ = entry.signed.verify();
        let _ = Entry::leaf_hash(data);
    }
    if let Ok(logged) = LoggedEntry::decode(data) {
        let _ = logged.verify_signature();
    }
    let (bytes, opening) = split_record(data);
    if let Ok(entry) = Entry::decode_with(bytes, opening) {
        let (b, o) = entry.encode_record().expect("a joined entry re-encodes");
        assert_eq!(b, bytes, "the entry bytes re-encode to themselves");
        assert_eq!(o.as_deref(), opening, "the opening re-encodes to itself");
    }
});
