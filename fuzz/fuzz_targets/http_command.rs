//! A command body through the HTTP handler: each input is posted to `POST /v1/commands/{kind}`
//! of one in-process node. The server must not panic, must answer 2xx or 4xx (never 5xx: the
//! node is healthy and alone), and a rejected body must append nothing (an accepted one exactly
//! one entry, a duplicate none).
//!
//! Input layout: the first byte picks the kind (its low 7 bits, modulo the number of kinds) and
//! the mode (its high bit).
//! - Raw (high bit 0): the rest of the input is the body, verbatim.
//! - Signed (high bit 1): the next byte picks the signer among the keys the harness holds, the
//!   next an `expected_version` (0xff: none, else that number), then `stream '\n' payload-JSON`;
//!   the harness builds the command and signs it, so the input reaches the domain's rules.
#![no_main]

use deedlog_fuzz::http::{Job, harness};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let kinds = deedlog_domain::KINDS;
    let kind = kinds[usize::from(first & 0x7f) % kinds.len()].to_owned();
    let job = if first & 0x80 == 0 {
        Job::Raw {
            kind,
            body: rest.to_vec(),
        }
    } else {
        let [signer, version, tail @ ..] = rest else {
            return;
        };
        let Some(newline) = tail.iter().position(|&b| b == b'\n') else {
            return;
        };
        let Ok(stream) = std::str::from_utf8(&tail[..newline]) else {
            return;
        };
        let Ok(payload) = serde_json::from_slice(&tail[newline + 1..]) else {
            return;
        };
        Job::Signed {
            kind,
            signer: usize::from(*signer),
            stream: stream.to_owned(),
            payload,
            expected_version: (*version != 0xff).then_some(u64::from(*version)),
        }
    };
    let answer = harness().post(job);
    if answer.status == 0 {
        return;
    }
    let text = String::from_utf8_lossy(&answer.body);
    assert!(
        (200..300).contains(&answer.status) || (400..500).contains(&answer.status),
        "status {} for a command body: {text}",
        answer.status
    );
    match answer.status {
        201 => assert_eq!(answer.appended, 1, "201 appends one entry: {text}"),
        _ => assert_eq!(
            answer.appended, 0,
            "status {} must append nothing: {text}",
            answer.status
        ),
    }
    if answer.status >= 400 {
        let error: serde_json::Value =
            serde_json::from_slice(&answer.body).expect("an error answer is JSON");
        assert!(error["code"].is_string(), "an error names its code: {text}");
    }
});
