//! The export (JSON Lines) reader and offline verifier take any bytes: a missing or unusable
//! header is a typed error, everything else a fault in the report; the report's counts agree
//! with the input.
#![no_main]

use deedlog_core::verify::{verify_jsonl, verify_jsonl_with_key};
use deedlog_fuzz::SAMPLE_VKEY;
use libfuzzer_sys::fuzz_target;

fn lines(data: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    data.split(|&b| b == b'\n').map(<[u8]>::to_vec)
}

fuzz_target!(|data: &[u8]| {
    let trusting = verify_jsonl(lines(data));
    let pinned = verify_jsonl_with_key(lines(data), Some(SAMPLE_VKEY));
    if let Ok(report) = &pinned {
        assert!(report.covered <= report.entries);
        assert!(report.checkpoints_verified <= report.checkpoints);
        let t = trusting
            .as_ref()
            .expect("an export the pinned check reads is readable");
        assert_eq!(t.entries, report.entries);
    }
});
