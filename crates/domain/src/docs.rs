//! Renders `docs/EVENTS.md`, the event catalogue, from the authorization table, the rejection
//! codes and the example payloads, so the document cannot drift from the code. A test compares
//! the file with this rendering; `DEEDLOG_REGENERATE_DOCS=1 cargo test -p deedlog-domain`
//! rewrites it.

use std::fmt::Write as _;

use crate::rejection::codes;
use crate::table::{GENERIC_REJECTIONS, Signer, TABLE};

/// Derived values each command kind puts in its entry (besides `on_behalf_of` and `proxy`,
/// present whenever a proxy acted).
pub const DERIVED: &[(&str, &[&str])] = &[
    ("property.register", &["certificate_no"]),
    (
        "property.transfer",
        &["certificate_no (when a new one is given)"],
    ),
    (
        "property.verify",
        &[
            "property",
            "verification_code",
            "mortgage",
            "consents_pending",
        ],
    ),
    ("verification.consent", &["id_commitment"]),
    (
        "listing.publish",
        &[
            "listing_code",
            "verification",
            "property",
            "seller",
            "agent (agent publishing)",
            "entrustment (agent publishing)",
        ],
    ),
    ("viewing.rate", &["agent"]),
    ("loan.request", &["listing"]),
    ("contract.draft", &["property", "verification"]),
    ("contract.confirm", &["role"]),
    ("contract.sign", &["role"]),
    ("contract.move_offline", &["role"]),
    ("contract.cancel", &["role"]),
    ("contract.file", &["filing_code", "listing", "property"]),
];

fn derived_of(kind: &str) -> &'static [&'static str] {
    DERIVED
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, d)| d)
}

fn signers(list: &[Signer]) -> String {
    list.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

/// The full text of `docs/EVENTS.md`.
#[must_use]
pub fn events_md() -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# Event catalogue\n");
    let _ = writeln!(
        w,
        "<!-- Generated from crates/domain (table.rs, rejection.rs, docs.rs). Do not edit by hand: \
         run `DEEDLOG_REGENERATE_DOCS=1 cargo test -p deedlog-domain events_md` to rewrite it. -->\n"
    );
    let _ = writeln!(
        w,
        "Every step of a deal is one signed command; `decide` turns it into exactly one entry \
         (one event) or a rejection that appends nothing. An event may change several aggregates \
         (filing a contract closes its listing). This page lists, for each command kind: who may \
         sign it, on which stream, its preconditions, its payload, its effect, the event kinds it \
         makes, what the server derives, and its rejection codes.\n"
    );
    let _ = writeln!(w, "## Conventions\n");
    for line in [
        "Ids are `<kind>/<PREFIX>-<suffix>` (suffix: 1-64 of `[A-Za-z0-9-]`); an aggregate's id is its stream, and parties, agents, banks and offices sign as their id. Authorities are `authority/housing`, `authority/identity`, `authority/registry`; the operator is `platform`.",
        "Money is integer fen (1 ..= 10^12), areas integer hundredths of a m², times integer ms since the Unix epoch. There are no floats.",
        "Names, ID numbers and phone numbers never appear: only commitments, 64 lower-case hex digits of HMAC-SHA-256 with a per-subject secret held by the vault. Hashes (photos, documents) are 64 lower-case hex digits of SHA-256.",
        "Text must be Unicode NFC when signed (the server cannot change signed bytes), without control characters (descriptions and notes may hold newlines) or surrounding white space.",
        "Payloads refuse unknown fields. Optional fields are omitted, never `null`.",
        "`via_proxy` (where allowed) names a verified proxy filing: the signer is the proxy's party, the step is taken for the filing's principal, only within its scope and property, before expiry and revocation; `derived.on_behalf_of` and `derived.proxy` then name the principal and the filing.",
        "Time is the entry's `recorded_at_ms`: expiry of entrustments, proxies and windows is judged by it, so a replay judges the same way.",
        "Derived codes are `PREFIX-` + the first 16 upper-case hex digits of `SHA-256(\"deedlog/code/v1\\n\" || PREFIX || \"\\n\" || seq || \"\\n\" || stream)`, PREFIX `PV` (verification), `LV` (listing), `FC` (filing).",
    ] {
        let _ = writeln!(w, "- {line}");
    }
    let _ = writeln!(w, "\n## Generic checks, in order\n");
    for (i, line) in [
        "The kind is known (`command.unknown_kind`) and the stream has the kind's shape (`command.bad_stream`).",
        "Genesis comes first and only once (`platform.genesis_not_first`, `platform.no_genesis`).",
        "The actor is an actor id (`command.bad_actor`).",
        "The actor is of a kind the table allows (`auth.role_not_allowed`).",
        "The key is the actor's current, unrevoked key (`auth.unknown_actor`, `auth.key_mismatch`, `auth.key_revoked`); `party.register` instead needs a never-used key, which signs the command (proof of possession).",
        "`expected_version`, when given, equals the stream's version (`stream.version_mismatch`); creating commands need a new stream (`stream.exists`), the others an existing one (`stream.not_found`).",
        "The payload parses (`payload.invalid`); then the kind's own rules run (real name and proxy scope first, for party-signed kinds).",
    ]
    .iter()
    .enumerate()
    {
        let _ = writeln!(w, "{}. {line}", i + 1);
    }
    let _ = writeln!(w, "\n## Authorization table\n");
    let _ = writeln!(
        w,
        "| command | events | signed by | stream | real name | proxy action |\n|---|---|---|---|---|---|"
    );
    for spec in TABLE {
        let streams: Vec<String> = spec
            .streams
            .iter()
            .map(|k| format!("`{}`", k.pattern()))
            .collect();
        let _ = writeln!(
            w,
            "| `{}` | {} | {} | {} | {} | {} |",
            spec.kind,
            spec.events.join(", "),
            signers(spec.signers),
            streams.join(" "),
            if spec.real_name { "yes" } else { "" },
            spec.proxy
                .map(|a| serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default())
                .map_or(String::new(), |a| format!("`{a}`")),
        );
    }
    let _ = writeln!(w, "\n## Commands\n");
    for spec in TABLE {
        let _ = writeln!(w, "### `{}`\n", spec.kind);
        let _ = writeln!(w, "- **Who:** {}", spec.who);
        let _ = writeln!(
            w,
            "- **Events:** {}",
            spec.events
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let stream_use = match spec.stream_use {
            crate::table::StreamUse::Create => "new stream",
            crate::table::StreamUse::Existing => "existing stream",
            crate::table::StreamUse::Any => "new or existing stream",
        };
        let streams: Vec<String> = spec
            .streams
            .iter()
            .map(|k| format!("`{}`", k.pattern()))
            .collect();
        let _ = writeln!(w, "- **Stream:** {} ({stream_use})", streams.join(" or "));
        let _ = writeln!(w, "- **Preconditions:**");
        for p in spec.preconditions {
            let _ = writeln!(w, "  - {p}");
        }
        let _ = writeln!(w, "- **Effect:** {}", spec.effect);
        let derived = derived_of(spec.kind);
        if !derived.is_empty() {
            let _ = writeln!(
                w,
                "- **Derived:** {}",
                derived
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut codes: Vec<String> = spec
            .rejections
            .iter()
            .map(|c| format!("`{}`", c.code))
            .collect();
        if spec.signers.contains(&Signer::Party) {
            codes.push("party checks".to_owned());
        }
        let _ = writeln!(
            w,
            "- **Rejections:** {} (and the generic ones)",
            codes.join(", ")
        );
        let example = serde_json::to_string_pretty(&(spec.example)()).unwrap_or_default();
        let _ = writeln!(w, "- **Payload example:**\n\n```json\n{example}\n```\n");
    }
    let _ = writeln!(w, "## Rejection codes\n");
    let _ = writeln!(w, "| code | class | HTTP | meaning |\n|---|---|---|---|");
    for c in codes::ALL {
        let _ = writeln!(
            w,
            "| `{}` | {} | {} | {} |",
            c.code,
            c.class.name(),
            c.class.http_status(),
            c.meaning
        );
    }
    let generic: Vec<String> = GENERIC_REJECTIONS
        .iter()
        .map(|c| format!("`{}`", c.code))
        .collect();
    let _ = writeln!(w, "\nGeneric (any command): {}.", generic.join(", "));
    let party: Vec<String> = crate::table::PARTY_REJECTIONS
        .iter()
        .map(|c| format!("`{}`", c.code))
        .collect();
    let _ = writeln!(
        w,
        "\nParty checks (party-signed commands): {}.",
        party.join(", ")
    );
    let agent: Vec<String> = crate::table::AGENT_REJECTIONS
        .iter()
        .map(|c| format!("`{}`", c.code))
        .collect();
    let _ = writeln!(
        w,
        "\nAgent checks (agent-signed commands): {}.",
        agent.join(", ")
    );
    let _ = writeln!(w, "\n## Agent rating\n");
    let _ = writeln!(
        w,
        "`score_x100 = ({w} × {m} + 100 × Σ stars) / ({w} + n)` in integer arithmetic: every agent starts as if it had \
         {w} ratings of 3.00 stars, so one 5-star review lifts a new agent only to 3.18. Agents are offered best first, \
         ties broken by more ratings, then by id. Only completed viewings are rated, once each.",
        w = crate::rating::PRIOR_WEIGHT,
        m = crate::rating::PRIOR_MEAN_X100,
    );
    s
}
