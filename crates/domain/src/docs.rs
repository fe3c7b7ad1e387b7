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
        "<!-- Generated from the domain's code (the authorization table, the payload types, the \
         rejection codes). Do not edit by hand: run \
         `DEEDLOG_REGENERATE_DOCS=1 cargo test -p deedlog-domain events_md` to rewrite it. -->\n"
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
        "Payloads refuse unknown fields; optional fields may be left out.",
        "Every entry's bytes are public (its existence, position, stream, signer, signature, derived values); its payload travels beside it as the entry's opening (FORMAT.md, \"Entries\"), and each kind below says who may read it (**Payload visibility**): public; public once shown (a listing proposal waiting for the seller's review, or rejected, is confidential); or confidential, shown whole only to the stream's parties, the entry's signer, `authority/housing` and registered auditors.",
        "Free text (titles, descriptions, notes, reasons, comments, remarks, conditions) refuses anything that looks like a mainland ID number (18 characters, the last a digit or X) or a mobile number (11 digits starting with 1), also when written with spaces, dashes or full-width digits (`payload.personal_data`): such data goes only to the vault.",
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
        "`expected_version`, when given, equals the stream's version (`stream.version_conflict`, `details: {expected, actual}`); creating commands need a new stream (`stream.exists`), the others an existing one (`stream.not_found`).",
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
        let _ = writeln!(w, "- **Payload visibility:** {}", spec.visibility.name());
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
        let example = (spec.example)();
        let accepted = accepted_fields(spec.kind);
        if accepted.is_empty() {
            let _ = writeln!(w, "- **Payload:** `{{}}`");
        } else {
            let _ = writeln!(w, "- **Payload:**");
            for f in &accepted {
                let (ty, meaning) = field_doc(spec.kind, f).unwrap_or(("?", "?"));
                let req = if optional(spec.kind, f, &example) {
                    "optional"
                } else {
                    "required"
                };
                let _ = writeln!(w, "  - `{f}` ({ty}, {req}): {meaning}");
            }
        }
        let _ = writeln!(w, "- **Preconditions:**");
        for p in spec.preconditions {
            // The page must stand alone: a precondition that points into the sources points at
            // the payload field documented above instead.
            let p = p.replace("(see keys.rs)", "(see the `proof` field above)");
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
        let example = serde_json::to_string_pretty(&example).unwrap_or_default();
        let _ = writeln!(w, "- **Payload example:**\n\n```json\n{example}\n```\n");
    }
    write_terms(w);
    write_statuses(w);
    let _ = writeln!(w, "## Rejection codes\n");
    let _ = writeln!(
        w,
        "Every code below is answered exactly as written, in `{{\"code\", \"message\", \"details\"}}` with the HTTP status shown. \
         Before the domain's rules run, the server refuses a command with the codes of FORMAT.md \
         (\"The order of the checks, and their codes\"): {}.\n",
        SERVER_CODES
            .iter()
            .map(|(c, h, _)| format!("`{h} {c}`"))
            .chain(deedlog_core::decide::codes::ALL.iter().map(|c| format!(
                "`{} {}`",
                c.class.http_status(),
                c.code
            )))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(w, "| code | class | HTTP | meaning |\n|---|---|---|---|");
    for c in deedlog_core::decide::codes::ALL.iter().chain(codes::ALL) {
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

/// What each payload field means, by name: `(field, type, meaning)`. Kind-specific meanings are in
/// [`KIND_FIELD_DOCS`]. A test checks that every field every payload accepts is described.
pub const FIELD_DOCS: &[(&str, &str, &str)] = &[
    (
        "address",
        "text ≤ 200",
        "street address (public business or registry data, not a person's)",
    ),
    ("agency", "id", "the agency, `agency/AG-…`"),
    ("agent", "id", "the chosen agent, `agent/AT-…`"),
    ("amount_fen", "integer fen", "an amount of money"),
    (
        "area_centi_m2",
        "integer",
        "floor area in hundredths of a m²",
    ),
    (
        "authorities",
        "object",
        "authority actor id → base64 public key; housing, identity and registry are required",
    ),
    ("bank", "id", "a bank, `bank/BK-…`"),
    ("bathrooms", "integer 0-10", "bathrooms (卫)"),
    ("branch", "text ≤ 100", "the bank's branch"),
    (
        "budget_max_fen",
        "integer fen",
        "the buyer's budget ceiling",
    ),
    (
        "built_year",
        "integer 1900-2100",
        "year the building was completed",
    ),
    (
        "buyer",
        "id",
        "the buyer, a real-name-verified `party/PA-…`",
    ),
    ("case_no", "text ≤ 60", "the court's case number"),
    (
        "certificate_no",
        "text",
        "不动产权证号 `省(YYYY)地名不动产权第NNNNNNN号` (full-width parentheses accepted) or 房屋所有权证号 `市房权证区字第N…N号`",
    ),
    ("comment", "text ≤ 200", "the buyer's comment"),
    (
        "commitments",
        "array of hex64",
        "the subject's commitments that can no longer be opened, 1-10",
    ),
    (
        "community",
        "text ≤ 60",
        "residential community (小区); must equal the registry's",
    ),
    ("contract", "id", "a filed contract, `contract/CT-…`"),
    ("court", "text ≤ 100", "the court that ordered the seizure"),
    (
        "description",
        "text ≤ 2000, newlines allowed",
        "the listing's description",
    ),
    ("district", "text ≤ 20", "district, e.g. 五华区"),
    ("districts", "array of text", "districts of interest, 0-10"),
    ("document_hash", "hex64", "SHA-256 of the contract document"),
    (
        "document_hashes",
        "array of hex64",
        "SHA-256 of each uploaded document, 1-10",
    ),
    (
        "entrustment",
        "id",
        "the accepted sale entrustment the agent publishes under; exactly one of `entrustment`, `verification`",
    ),
    (
        "expires_at_ms",
        "integer ms",
        "end of validity; 1 to 366 days after the entry's time",
    ),
    (
        "floor",
        "integer",
        "the unit's floor; must equal the registry's",
    ),
    (
        "floor_price_fen",
        "integer fen",
        "floor price (底价): the agent may not list or price below it",
    ),
    ("floors_total", "integer 1-200", "floors of the building"),
    ("halls", "integer 0-10", "living rooms (厅)"),
    ("hours", "text ≤ 100", "opening hours"),
    (
        "id_commitment",
        "hex64",
        "commitment to the resident ID number",
    ),
    (
        "key",
        "object",
        "`{key, proof}`: a public key and its proof of possession for this actor (bind later with `key.bind` when absent)",
    ),
    (
        "licence_no",
        "text ≤ 40",
        "licence (备案) number, unique among agencies and agents",
    ),
    ("listing", "id", "a listing, `listing/LS-…`"),
    ("method", "enum", "`online_face` or `office`"),
    (
        "mortgage",
        "object",
        "`{bank, amount_fen}`: the mortgage on the registry",
    ),
    (
        "name",
        "text ≤ 100",
        "a business or institution name (never a person's)",
    ),
    ("name_commitment", "hex64", "commitment to a person's name"),
    ("new_key", "base64", "the new Ed25519 public key"),
    (
        "note",
        "text ≤ 500, newlines allowed",
        "the agent's record of the viewing (no personal data)",
    ),
    (
        "owners",
        "array",
        "1-10 `{name_commitment, id_commitment, share_percent}`, shares adding up to 100",
    ),
    ("phone", "text ≤ 30", "the office's public phone line"),
    ("phone_commitment", "hex64", "commitment to a mobile number"),
    (
        "photos",
        "array of hex64",
        "SHA-256 of each photo, 1-30, distinct",
    ),
    (
        "platform_key",
        "base64",
        "the platform's public key; genesis is signed by it",
    ),
    ("price_fen", "integer fen", "asking price"),
    ("principal", "id", "the party the proxy acts for"),
    (
        "principal_id_commitment",
        "hex64",
        "commitment to the principal's ID number as checked at the office",
    ),
    (
        "proof",
        "base64",
        "proof of possession: the new key's signature over `\"deedlog/key-possession/v1\\n\" || canonical({actor, key})`",
    ),
    ("property", "id", "a property, `property/PR-…`"),
    (
        "proposal_seq",
        "integer",
        "seq of the entry that proposed the change under review",
    ),
    ("reason", "text 1-500", "why"),
    (
        "receipt_hash",
        "hex64",
        "SHA-256 of the vault's erasure receipt",
    ),
    ("remarks", "text ≤ 500", "the bank's conditions or remarks"),
    ("result", "enum", "`approved`, `conditional` or `declined`"),
    (
        "review_agent_edits",
        "boolean",
        "every publication or price/photo change by the agent waits for the seller's approval",
    ),
    ("rooms", "integer 0-20", "bedrooms (室)"),
    (
        "scan_hash",
        "hex64",
        "SHA-256 of the scanned, signed paper contract",
    ),
    (
        "scope",
        "array of enum",
        "1-6 distinct actions: `verify_property`, `entrust`, `list`, `book_viewing`, `request_loan`, `contract`",
    ),
    (
        "seizure",
        "object",
        "`{court, case_no}`: a court seizure (查封)",
    ),
    (
        "slot_end_ms",
        "integer ms",
        "end of the viewing slot; 15 minutes to 4 hours after the start",
    ),
    (
        "slot_start_ms",
        "integer ms",
        "start of the viewing slot; in the future, at most 60 days ahead",
    ),
    ("stars", "integer 1-5", "the rating"),
    (
        "subject",
        "id",
        "the erased subject, `party/PA-…` or `agent/AT-…`",
    ),
    ("term_months", "integer 1-360", "loan term"),
    (
        "terms",
        "object",
        "the contract terms, an object whose every field is listed under \"Contract terms\" below",
    ),
    ("title", "text ≤ 60", "the listing's headline"),
    ("usage", "text ≤ 20", "usage, e.g. 住宅"),
    (
        "valid_until_ms",
        "integer ms",
        "the assessment's validity; 1 to 180 days after the entry's time",
    ),
    (
        "verification",
        "id",
        "a property verification, `verification/PV-…`",
    ),
    (
        "via_proxy",
        "id",
        "act through this verified proxy filing, `proxy/PX-…` (see Conventions)",
    ),
    (
        "viewing",
        "id",
        "the buyer's completed viewing, `viewing/VW-…`",
    ),
    (
        "voucher",
        "object",
        "`{party, key, issued_at_ms, signature}`: the identity authority's phone voucher, signed over `\"deedlog/voucher/phone/v1\\n\" || canonical({issued_at_ms, key, party, phone_commitment})`",
    ),
];

/// Meanings that differ for one command kind: `(kind, field, type, meaning)`.
pub const KIND_FIELD_DOCS: &[(&str, &str, &str, &str)] = &[
    (
        "viewing.book",
        "entrustment",
        "id",
        "an agent only: the buyer's accepted purchase entrustment it books under, `entrustment/EN-…`; the viewing is then its principal's",
    ),
    (
        "contract.confirm",
        "entrustment",
        "id",
        "an agent only: the buyer's accepted purchase entrustment under which it confirms the buyer's side, `entrustment/EN-…`",
    ),
    (
        "contract.sign",
        "entrustment",
        "id",
        "refused (`entrustment.out_of_scope`): only the buyer e-signs; present so that the payload matches `contract.confirm`'s",
    ),
    (
        "key.revoke",
        "key",
        "base64",
        "the key being revoked; must be the actor's current key",
    ),
    ("key.bind", "key", "base64", "the public key to bind"),
    (
        "platform.genesis",
        "name",
        "text ≤ 100",
        "the platform's display name",
    ),
    (
        "loan.assess",
        "amount_fen",
        "integer fen",
        "what the bank would lend; present unless declined, at most the request",
    ),
    (
        "loan.request",
        "amount_fen",
        "integer fen",
        "the loan asked for; at most the listing price",
    ),
    (
        "loan.request",
        "bank",
        "id",
        "the bank the buyer chooses; only it may answer",
    ),
    (
        "property.mortgage",
        "amount_fen",
        "integer fen",
        "the secured amount",
    ),
    (
        "property.transfer",
        "certificate_no",
        "text",
        "the new certificate number, when one is issued",
    ),
    (
        "proxy.file",
        "property",
        "id",
        "the property the proxy's authority is limited to",
    ),
];

/// The type and meaning of a payload field of a command kind.
#[must_use]
pub fn field_doc(kind: &str, field: &str) -> Option<(&'static str, &'static str)> {
    KIND_FIELD_DOCS
        .iter()
        .find(|(k, f, _, _)| *k == kind && *f == field)
        .map(|(_, _, t, d)| (*t, *d))
        .or_else(|| {
            FIELD_DOCS
                .iter()
                .find(|(f, _, _)| *f == field)
                .map(|(_, t, d)| (*t, *d))
        })
}

/// Whether a field may be left out: the example still parses without it.
fn optional(kind: &str, field: &str, example: &serde_json::Value) -> bool {
    let mut v = example.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove(field);
    }
    crate::payload::Payload::parse(kind, &v).is_ok()
}

/// The top-level fields a command kind's payload accepts, read from serde's own refusal of an
/// unknown field (so the list cannot drift from the structs).
#[must_use]
pub fn accepted_fields(kind: &str) -> Vec<String> {
    let probe = serde_json::json!({ "\u{1}probe": 0 });
    let Err(r) = crate::payload::Payload::parse(kind, &probe) else {
        return Vec::new();
    };
    let msg = r.message;
    let Some(i) = msg.find("expected") else {
        return Vec::new();
    };
    msg[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The codes the HTTP edge answers before a command reaches the sequencer, as `(code, HTTP
/// status, when)`; the sequencer's own codes are the core's catalogue
/// (`deedlog_core::decide::codes`). FORMAT.md explains the order; a test checks that each code
/// is answered by the server's code.
pub const SERVER_CODES: &[(&str, u16, &str)] = &[
    ("request.too_large", 413, "the body is larger than 256 KiB"),
    (
        "request.bad_json",
        400,
        "the body is not JSON of the signed command's shape (missing, unknown, null or mistyped field)",
    ),
    ("route.not_found", 404, "the path names no command kind"),
    (
        "command.kind_mismatch",
        400,
        "the body's kind differs from the path's",
    ),
];

/// Field docs of the contract terms, `(section, field, meaning)`; types come from the code.
pub const TERMS_DOCS: &[(&str, &str, &str)] = &[
    ("terms", "parties", "who is party to the contract"),
    ("terms", "property", "the property, as on the registry"),
    (
        "terms",
        "title",
        "title and encumbrances (the registry's mortgage must be disclosed)",
    ),
    ("terms", "price", "price and payment"),
    ("terms", "deposit", "the deposit (定金), if any"),
    (
        "terms",
        "loan",
        "the loan, if any; required when the payment method is `loan`",
    ),
    ("terms", "taxes", "who pays each tax and fee"),
    ("terms", "handover", "handover of the property"),
    ("terms", "transfer", "transfer registration"),
    ("terms", "breach", "penalties for breach"),
    ("terms", "disputes", "how disputes are resolved"),
    ("terms.parties", "seller", "the seller, `party/PA-…`"),
    ("terms.parties", "buyer", "the buyer, `party/PA-…`"),
    (
        "terms.parties",
        "agent",
        "the agent, `agent/AT-…`; absent on a self-listing",
    ),
    (
        "terms.property",
        "property",
        "the property id, `property/PR-…`",
    ),
    (
        "terms.property",
        "certificate_no",
        "the certificate number, in normal form",
    ),
    (
        "terms.property",
        "area_centi_m2",
        "floor area in hundredths of a m²",
    ),
    (
        "terms.title",
        "mortgage",
        "`{bank, amount_fen}`: the mortgage as on the registry, if any",
    ),
    (
        "terms.title",
        "discharge_before_transfer",
        "whether the seller discharges the mortgage before transfer",
    ),
    ("terms.title", "leased", "whether the property is let"),
    ("terms.price", "total_fen", "total price in fen"),
    (
        "terms.price",
        "method",
        "how the price is paid (`loan` requires `loan`)",
    ),
    (
        "terms.price",
        "schedule",
        "the payments, 1-12, due dates ascending, adding up to the total (the loan part included)",
    ),
    (
        "terms.price.schedule[]",
        "due_ms",
        "due date, ms since the Unix epoch",
    ),
    ("terms.price.schedule[]", "amount_fen", "amount in fen"),
    (
        "terms.deposit",
        "amount_fen",
        "amount in fen; at most 20% of the price (the legal cap on 定金)",
    ),
    (
        "terms.deposit",
        "due_ms",
        "due date, ms since the Unix epoch",
    ),
    ("terms.loan", "bank", "the lending bank, `bank/BK-…`"),
    (
        "terms.loan",
        "amount_fen",
        "amount in fen; less than the price",
    ),
    ("terms.taxes", "deed_tax", "who pays the deed tax (契税)"),
    (
        "terms.taxes",
        "value_added_tax",
        "who pays the value-added tax (增值税)",
    ),
    (
        "terms.taxes",
        "income_tax",
        "who pays the individual income tax (个人所得税)",
    ),
    (
        "terms.taxes",
        "fees",
        "who pays the registration and transaction fees",
    ),
    (
        "terms.handover",
        "date_ms",
        "handover date, ms since the Unix epoch",
    ),
    (
        "terms.handover",
        "condition",
        "condition at handover, text 1-500 characters",
    ),
    (
        "terms.transfer",
        "apply_by_ms",
        "both parties apply for transfer registration by this date",
    ),
    (
        "terms.breach",
        "late_permyriad_per_day",
        "late-payment penalty per day, in 1/10000 of the amount due, 0-100",
    ),
    (
        "terms.breach",
        "default_penalty_fen",
        "penalty for walking away, in fen; at most the price",
    ),
    ("terms.disputes", "method", "how disputes are resolved"),
    (
        "terms.disputes",
        "venue",
        "the court or arbitration commission, text 1-100 characters",
    ),
];

/// The fields a struct accepts, read from serde's refusal of an unknown field (so the list
/// follows the struct).
fn probe_fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
    expected_list(serde_json::from_value::<T>(serde_json::json!({ "\u{1}probe": 0 })).err())
}

/// The values an enum accepts, read from serde's refusal of an unknown variant.
fn probe_variants<T: serde::de::DeserializeOwned>() -> Vec<String> {
    expected_list(serde_json::from_value::<T>(serde_json::json!("\u{1}probe")).err())
}

fn expected_list(e: Option<serde_json::Error>) -> Vec<String> {
    let Some(e) = e else { return Vec::new() };
    let msg = e.to_string();
    let Some(i) = msg.find("expected") else {
        return Vec::new();
    };
    msg[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Each section of the terms: its path, its fields, and the type of each field (types that
/// are enums list their values as the code accepts them).
fn terms_sections() -> Vec<(&'static str, Vec<(String, String)>)> {
    use crate::payload as p;
    let payer = format!("one of {}", quoted(&probe_variants::<p::Payer>()));
    let types = |section: &str, field: &str| -> String {
        match (section, field) {
            ("terms", _) => "object".to_owned(),
            (_, "seller" | "buyer" | "agent" | "property" | "bank") => "id".to_owned(),
            (_, "certificate_no") => "text".to_owned(),
            (_, "condition" | "venue") => "text".to_owned(),
            (_, "mortgage") => "object".to_owned(),
            (_, "discharge_before_transfer" | "leased") => "boolean".to_owned(),
            (_, "schedule") => "array of objects".to_owned(),
            (_, f) if f.ends_with("_fen") => "integer fen".to_owned(),
            (_, f) if f.ends_with("_ms") => "integer ms".to_owned(),
            ("terms.price", "method") => {
                format!("one of {}", quoted(&probe_variants::<p::PaymentMethod>()))
            }
            ("terms.disputes", "method") => {
                format!("one of {}", quoted(&probe_variants::<p::DisputeMethod>()))
            }
            ("terms.taxes", _) => payer.clone(),
            _ => "integer".to_owned(),
        }
    };
    let sections: Vec<(&'static str, Vec<String>)> = vec![
        ("terms", probe_fields::<p::ContractTerms>()),
        ("terms.parties", probe_fields::<p::TermsParties>()),
        ("terms.property", probe_fields::<p::TermsProperty>()),
        ("terms.title", probe_fields::<p::TermsTitle>()),
        ("terms.price", probe_fields::<p::TermsPrice>()),
        ("terms.price.schedule[]", probe_fields::<p::Instalment>()),
        ("terms.deposit", probe_fields::<p::TermsDeposit>()),
        ("terms.loan", probe_fields::<p::TermsLoan>()),
        ("terms.taxes", probe_fields::<p::TermsTaxes>()),
        ("terms.handover", probe_fields::<p::TermsHandover>()),
        ("terms.transfer", probe_fields::<p::TermsTransfer>()),
        ("terms.breach", probe_fields::<p::TermsBreach>()),
        ("terms.disputes", probe_fields::<p::TermsDisputes>()),
    ];
    sections
        .into_iter()
        .map(|(section, fields)| {
            let typed = fields
                .into_iter()
                .map(|f| {
                    let t = types(section, &f);
                    (f, t)
                })
                .collect();
            (section, typed)
        })
        .collect()
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The meaning of a terms field.
#[must_use]
pub fn terms_doc(section: &str, field: &str) -> Option<&'static str> {
    TERMS_DOCS
        .iter()
        .find(|(s, f, _)| *s == section && *f == field)
        .map(|(_, _, d)| *d)
}

/// Whether a terms field may be left out: the `contract.draft` example still parses without it.
fn terms_optional(section: &str, field: &str) -> bool {
    let Some(spec) = TABLE.iter().find(|s| s.kind == "contract.draft") else {
        return false;
    };
    let mut example = (spec.example)();
    let mut at = &mut example;
    for part in section.split('.') {
        let (key, element) = match part.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (part, false),
        };
        let Some(next) = at.get_mut(key) else {
            return false;
        };
        at = next;
        if element {
            let Some(first) = at.get_mut(0) else {
                return false;
            };
            at = first;
        }
    }
    let Some(object) = at.as_object_mut() else {
        return false;
    };
    object.remove(field);
    crate::payload::Payload::parse("contract.draft", &example).is_ok()
}

fn write_terms(w: &mut String) {
    let _ = writeln!(w, "## Contract terms\n");
    let _ = writeln!(
        w,
        "The `terms` object of `contract.draft` and `contract.amend`, field by field (unknown \
         fields are refused at every level; optional fields may be left out). Every rule of the \
         terms is checked against the listing, the verification and the registry when the \
         contract is drafted or amended.\n"
    );
    let _ = writeln!(
        w,
        "| field | type | presence | meaning |\n|---|---|---|---|"
    );
    for (section, fields) in terms_sections() {
        for (field, ty) in fields {
            let req = if terms_optional(section, &field) {
                "optional"
            } else {
                "required"
            };
            let _ = writeln!(
                w,
                "| `{section}.{field}` | {ty} | {req} | {} |",
                terms_doc(section, &field).unwrap_or("?")
            );
        }
    }
    let _ = writeln!(w);
}

/// Every status value of each aggregate, `(aggregate, [(value, meaning)])`: the values are the
/// code's own (serialized as the views and the API show them), the meanings written here. Each
/// `match` lists every variant without a catch-all, so a new status cannot compile undocumented.
#[must_use]
pub fn statuses() -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    use crate::state::{
        CertStatus as C, ContractStatus as Ct, EntrustmentStatus as E, KeyStatus as K,
        ListingStatus as L, ProxyStatus as P, VerificationStatus as V, ViewingStatus as Vw,
    };
    fn rows<S: serde::Serialize + Copy>(
        all: &[S],
        meaning: fn(S) -> &'static str,
    ) -> Vec<(String, &'static str)> {
        all.iter()
            .map(|s| {
                let name = serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (name, meaning(*s))
            })
            .collect()
    }
    vec![
        (
            "key (of any actor)",
            rows(&[K::Current, K::Rotated, K::Revoked], |s| match s {
                K::Current => "the actor's current key",
                K::Rotated => "replaced by `key.rotate`",
                K::Revoked => "revoked by `key.revoke`",
            }),
        ),
        (
            "agency, agent",
            rows(&[C::Certified, C::Suspended], |s| match s {
                C::Certified => "certified and active",
                C::Suspended => {
                    "suspended by the housing authority (`*.suspend`; `*.reinstate` undoes it)"
                }
            }),
        ),
        (
            "verification",
            rows(
                &[V::PendingConsent, V::Verified, V::Cancelled, V::Closed],
                |s| match s {
                    V::PendingConsent => "waiting for the co-owners' consent",
                    V::Verified => "verified: the deal may proceed",
                    V::Cancelled => "cancelled by the seller",
                    V::Closed => "the deal ended with a filed contract",
                },
            ),
        ),
        (
            "entrustment",
            rows(
                &[
                    E::Offered,
                    E::Accepted,
                    E::Declined,
                    E::Revoked,
                    E::Expired,
                    E::Completed,
                ],
                |s| match s {
                    E::Offered => "waiting for the agent",
                    E::Accepted => "accepted by the agent",
                    E::Declined => "declined by the agent",
                    E::Revoked => "revoked by the principal",
                    E::Expired => "its period ended (recorded by the platform)",
                    E::Completed => "the deal was filed",
                },
            ),
        ),
        (
            "listing",
            rows(
                &[L::PendingReview, L::Active, L::Withdrawn, L::Closed],
                |s| match s {
                    L::PendingReview => {
                        "published by an agent in review mode; not shown until the seller approves"
                    }
                    L::Active => "shown publicly",
                    L::Withdrawn => {
                        "withdrawn (or its first publication rejected, or its entrustment ended)"
                    }
                    L::Closed => "closed by a filed contract",
                },
            ),
        ),
        (
            "viewing",
            rows(
                &[Vw::Booked, Vw::Confirmed, Vw::Completed, Vw::Cancelled],
                |s| match s {
                    Vw::Booked => "booked by the buyer",
                    Vw::Confirmed => "confirmed by the agent or the seller",
                    Vw::Completed => "held and recorded (may then be rated once)",
                    Vw::Cancelled => "cancelled",
                },
            ),
        ),
        (
            "contract",
            rows(
                &[
                    Ct::Drafted,
                    Ct::Signed,
                    Ct::Offline,
                    Ct::OfflineVerified,
                    Ct::Filed,
                    Ct::FilingCancelled,
                    Ct::Cancelled,
                ],
                |s| match s {
                    Ct::Drafted => "drafted; collecting confirmations and signatures",
                    Ct::Signed => "every required party signed the current document",
                    Ct::Offline => "e-signing failed; moved to a paper contract",
                    Ct::OfflineVerified => "a filing office verified the paper contract",
                    Ct::Filed => "filed with a filing code",
                    Ct::FilingCancelled => "the filing was cancelled by the housing authority",
                    Ct::Cancelled => "cancelled before filing",
                },
            ),
        ),
        (
            "proxy",
            rows(&[P::Filed, P::Verified, P::Revoked], |s| match s {
                P::Filed => "filed, not yet verified",
                P::Verified => "verified at a filing office",
                P::Revoked => "revoked",
            }),
        ),
    ]
}

fn write_statuses(w: &mut String) {
    let _ = writeln!(w, "## Statuses\n");
    let _ = writeln!(
        w,
        "Every `status` value of each aggregate, as the read models and the API show it. A loan \
         pre-check has no status field: it is pending until its `assessment` is given, whose \
         `result` is one of {}.\n",
        quoted(&probe_variants::<crate::payload::LoanResult>())
    );
    let _ = writeln!(w, "| aggregate | status | meaning |\n|---|---|---|");
    for (aggregate, values) in statuses() {
        for (value, meaning) in values {
            let _ = writeln!(w, "| {aggregate} | `{value}` | {meaning} |");
        }
    }
    let _ = writeln!(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_terms_field_is_typed_and_described_and_the_sections_follow_the_structs() {
        let sections = terms_sections();
        let mut seen = 0;
        for (section, fields) in &sections {
            assert!(!fields.is_empty(), "{section} lists no field");
            for (field, ty) in fields {
                assert!(
                    terms_doc(section, field).is_some(),
                    "{section}.{field} has no description"
                );
                assert!(!ty.is_empty());
                seen += 1;
            }
        }
        assert_eq!(
            seen,
            TERMS_DOCS.len(),
            "every description names a real field"
        );
        let price = &sections
            .iter()
            .find(|(s, _)| *s == "terms.price")
            .unwrap()
            .1;
        assert!(
            price
                .iter()
                .any(|(f, t)| f == "method" && t.contains("`lump_sum`"))
        );
        assert!(terms_optional("terms", "deposit"));
        assert!(!terms_optional("terms", "price"));
        assert!(terms_optional("terms.parties", "agent"));
    }

    #[test]
    fn statuses_are_the_codes_own_snake_case_values() {
        let all = statuses();
        let listing = &all.iter().find(|(a, _)| *a == "listing").unwrap().1;
        let names: Vec<&str> = listing.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(names, ["pending_review", "active", "withdrawn", "closed"]);
        for (aggregate, values) in &all {
            for (v, m) in values {
                assert!(!v.is_empty() && !m.is_empty(), "{aggregate}: empty status");
            }
        }
    }

    #[test]
    fn server_codes_are_the_ones_the_server_answers() {
        // The HTTP edge and the sequencer live in crates this one cannot depend on; their
        // sources are read instead, so a renamed code fails here.
        let sources = [
            include_str!("../../api/src/routes/mod.rs"),
            include_str!("../../api/src/routes/commands.rs"),
            include_str!("../../api/src/routes/private.rs"),
            include_str!("../../api/src/routes/log.rs"),
            include_str!("../../api/src/error.rs"),
            include_str!("../../api/src/auth.rs"),
            include_str!("../../api/src/lib.rs"),
        ]
        .concat();
        for (code, _, _) in SERVER_CODES {
            assert!(
                sources.contains(&format!("\"{code}\"")),
                "the server never answers `{code}`"
            );
        }
        // The expected_version check has one code, and the rules do not declare it again.
        assert!(
            codes::ALL
                .iter()
                .all(|c| c.code != "stream.version_conflict")
        );
        assert!(
            deedlog_core::decide::codes::ALL
                .iter()
                .any(|c| c.code == "stream.version_conflict")
        );
    }

    #[test]
    fn the_catalogue_points_into_no_source_file() {
        let md = events_md();
        for bad in [".rs`", ".rs)", ".rs ", "crates/", "stream.version_mismatch"] {
            assert!(!md.contains(bad), "EVENTS.md contains `{bad}`");
        }
    }

    #[test]
    fn every_accepted_field_is_described() {
        for kind in crate::payload::KINDS {
            for f in accepted_fields(kind) {
                assert!(
                    field_doc(kind, &f).is_some(),
                    "{kind}.{f} has no description"
                );
            }
        }
        assert_eq!(
            accepted_fields("listing.change_price"),
            ["price_fen", "via_proxy"]
        );
        assert!(accepted_fields("contract.file").is_empty());
    }
}
