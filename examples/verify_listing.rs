//! A public authenticity check (链上验真) of a listing verification code, with the proof checked
//! on this side: nothing the server says is believed unless the log's signature and the Merkle
//! proofs hold under a log key you trust.
//!
//! ```text
//! cargo run --example verify_listing -- LV-0A1B2C3D4E5F6071 [SERVER] [LOG_VKEY | DATA_DIR]
//! ```
//!
//! `SERVER` defaults to `$DEEDLOG_SERVER` or `http://127.0.0.1:8080`. The trusted log key is the
//! third argument, or `$DEEDLOG_LOG_KEY`, or read from `DATA_DIR/log.vkey` (default
//! `ledger-data/store`); as a last resort it is taken from the server itself ("trust on first
//! use"), which is said out loud.

use std::path::Path;
use std::process::ExitCode;

use deedlog_client::Client;
use deedlog_client::keys::KeyDir;
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("NOT VERIFIED: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = args
        .first()
        .ok_or("usage: verify_listing CODE [SERVER] [LOG_VKEY | DATA_DIR]")?;
    let server = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("DEEDLOG_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let client = Client::new(&server).map_err(|e| e.to_string())?;
    let log_key = trusted_log_key(&client, args.get(2).map(String::as_str))?;

    // `verify_listing` fails unless the proved publishing entry issued this very code, lies on
    // the listing's stream and agrees with every field shown; a field the proofs cannot speak
    // for is marked below rather than passed off as proved.
    let verified = client
        .verify_listing(code, &log_key, None)
        .map_err(|e| e.to_string())?;
    let binding = &verified.binding;
    let listing = verified
        .answer
        .get("listing")
        .cloned()
        .unwrap_or(Value::Null);
    let mark = |k: &str| {
        if binding.is_verified(&format!("listing.{k}")) {
            ""
        } else {
            " [not verified]"
        }
    };
    let text = |k: &str| {
        format!(
            "{}{}",
            listing.get(k).and_then(Value::as_str).unwrap_or("?"),
            mark(k)
        )
    };
    let number = |k: &str| listing.get(k).and_then(Value::as_u64).unwrap_or(0);
    println!("listing {} ({})", text("id"), text("status"));
    println!("  {}", text("title"));
    println!(
        "  {} {}, {}室{}厅{}, {}.{:02} m²{}, asking {} yuan{}",
        text("district"),
        text("community"),
        number("rooms"),
        number("halls"),
        mark("rooms"),
        number("area_centi_m2") / 100,
        number("area_centi_m2") % 100,
        mark("area_centi_m2"),
        number("price_fen") / 100,
        mark("price_fen"),
    );
    let mut seen = std::collections::BTreeSet::new();
    for b in verified.bundles.iter().filter(|b| seen.insert(b.entry.seq)) {
        let e = &b.entry;
        println!(
            "  entry seq {} ({} on {}, signed by {} key {}) is in the log of {} entries, \
             root {} signed by {}",
            e.seq,
            e.kind,
            e.stream,
            e.actor(),
            e.key_id(),
            b.checkpoint.size,
            deedlog_core::hash::to_hex(&b.checkpoint.root),
            b.checkpoint.origin,
        );
    }
    let unverified = binding.unverified();
    if !unverified.is_empty() {
        println!("  not verified (the server's word only):");
        for (field, reason) in &unverified {
            println!("    {field}: {reason}");
        }
    }
    let proved = binding
        .proved
        .first()
        .ok_or("the binding names no proved entry")?;
    println!(
        "VERIFIED: {code} was issued by entry seq {} on {}, proved against the trusted log key; \
         the fields not marked come from proved entries",
        proved.seq, proved.stream
    );
    Ok(())
}

fn trusted_log_key(client: &Client, given: Option<&str>) -> Result<String, String> {
    let given = given
        .map(str::to_owned)
        .or_else(|| std::env::var("DEEDLOG_LOG_KEY").ok());
    if let Some(g) = given {
        if g.contains('+') {
            return Ok(g);
        }
        return KeyDir::of_data_dir(Path::new(&g))
            .log_vkey()
            .map_err(|e| e.to_string());
    }
    if let Ok(k) = KeyDir::of_data_dir(Path::new("ledger-data/store")).log_vkey() {
        return Ok(k);
    }
    let k = client
        .checkpoint()
        .map_err(|e| e.to_string())?
        .log_key
        .ok_or("no trusted log key given and the server states none")?;
    eprintln!("warning: trusting the log key the server states (trust on first use): {k}");
    Ok(k)
}
