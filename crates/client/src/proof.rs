//! Client-side proof checking: proof bundles, checkpoints and consistency between two
//! checkpoints, all with core's verifier and a log key the caller trusts — nothing the server
//! says about its own honesty is taken on trust.

use serde_json::Value;

use deedlog_core::bundle::{BUNDLE_FORMAT, ProofBundle, VerifiedBundle};
use deedlog_core::checkpoint::{self, OpenedCheckpoint, VerifierKey};
use deedlog_core::hash::{self, Hash};
use deedlog_core::merkle;

use crate::error::ClientError;
use crate::policy::{Policy, PolicyVerdict};

/// Finds the first proof bundle in a JSON answer: the value itself or any object nested in it
/// whose `format` is [`BUNDLE_FORMAT`] (depth-first, objects' fields in order).
#[must_use]
pub fn find_bundle(value: &Value) -> Option<ProofBundle> {
    find_bundles(value).into_iter().next()
}

/// Every proof bundle in a JSON answer, depth-first.
#[must_use]
pub fn find_bundles(value: &Value) -> Vec<ProofBundle> {
    fn walk(v: &Value, out: &mut Vec<ProofBundle>, depth: usize) {
        // The nesting of an API answer is shallow; the bound keeps a hostile answer harmless.
        if depth > 16 {
            return;
        }
        match v {
            Value::Object(map) => {
                if map.get("format").and_then(Value::as_str) == Some(BUNDLE_FORMAT)
                    && let Ok(b) = serde_json::from_value::<ProofBundle>(v.clone())
                {
                    out.push(b);
                    return;
                }
                for child in map.values() {
                    walk(child, out, depth + 1);
                }
            }
            Value::Array(items) => {
                for child in items {
                    walk(child, out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out, 0);
    out
}

/// The proved entry of a verified bundle, whole: its fields can be bound only when its payload
/// was shown (a version-2 entry's opening, checked against the signed digest).
fn whole(bundle: &VerifiedBundle) -> Result<&deedlog_core::Entry, ClientError> {
    bundle.whole.as_ref().ok_or_else(|| {
        unbound(format!(
            "entry {} was shown without its payload, so nothing shown can be checked against it",
            bundle.entry.seq
        ))
    })
}

/// Checks a proof bundle against the trusted log key (see [`ProofBundle::verify`]).
///
/// # Errors
/// [`ClientError::Bundle`] naming the check that failed.
pub fn verify_bundle(
    bundle: &ProofBundle,
    trusted_log_vkey: &str,
) -> Result<VerifiedBundle, ClientError> {
    Ok(bundle.verify(trusted_log_vkey)?)
}

/// Checks a proof bundle against the trusted log key and, with a witness policy, its cosigned
/// checkpoint against the policy: the bundle's witnessed checkpoint when it has one, else its own
/// checkpoint (see [`VerifiedBundle::cosigned_note`]). Returns who signed.
///
/// # Errors
/// [`ClientError::Bundle`] as [`verify_bundle`]; [`ClientError::Proof`] when the cosigned
/// checkpoint does not meet the policy, naming the group that lacks signatures and who signed.
pub fn verify_bundle_with_policy(
    bundle: &ProofBundle,
    trusted_log_vkey: &str,
    policy: Option<&Policy>,
) -> Result<(VerifiedBundle, Option<PolicyVerdict>), ClientError> {
    let verified = verify_bundle(bundle, trusted_log_vkey)?;
    let verdict = match policy {
        Some(p) => Some(require_witnesses(std::slice::from_ref(&verified), p)?.remove(0)),
        None => None,
    };
    Ok((verified, verdict))
}

/// Requires every verified bundle's cosigned checkpoint to meet `policy`; returns the verdicts,
/// in order.
///
/// # Errors
/// [`ClientError::Proof`] for the first bundle whose checkpoint falls short, naming its seq, the
/// group that lacks signatures and the witnesses that did sign.
pub fn require_witnesses(
    bundles: &[VerifiedBundle],
    policy: &Policy,
) -> Result<Vec<PolicyVerdict>, ClientError> {
    bundles
        .iter()
        .map(|b| {
            crate::policy::require_policy(b.cosigned_note(), policy)
                .map_err(|e| ClientError::Proof(format!("the proof of entry {}: {e}", b.entry.seq)))
        })
        .collect()
}

/// Opens a checkpoint note with the trusted log key and checks its origin is the key's name.
///
/// # Errors
/// [`ClientError::Proof`].
pub fn open_checkpoint(
    note: &str,
    trusted_log_vkey: &str,
) -> Result<OpenedCheckpoint, ClientError> {
    let key = VerifierKey::parse(trusted_log_vkey)
        .map_err(|e| ClientError::Proof(format!("trusted log key: {e}")))?;
    let opened = checkpoint::open_checkpoint(note.as_bytes(), &key)
        .map_err(|e| ClientError::Proof(format!("checkpoint: {e}")))?;
    if opened.origin != key.name() {
        return Err(ClientError::Proof(format!(
            "checkpoint origin `{}` is not the log key's `{}`",
            opened.origin,
            key.name()
        )));
    }
    Ok(opened)
}

/// Parses hex hashes (a proof as the API sends it).
///
/// # Errors
/// [`ClientError::Proof`] naming the bad position.
pub fn parse_hashes(items: &[String]) -> Result<Vec<Hash>, ClientError> {
    if items.len() > merkle::PROOF_HASHES_MAX {
        return Err(ClientError::Proof(format!(
            "a proof of {} hashes is longer than any tree needs",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, h)| {
            hash::from_hex(h)
                .map_err(|_| ClientError::Proof(format!("proof[{i}] is not 64 hex digits")))
        })
        .collect()
}

/// Checks that `new` extends `old`: both opened checkpoints, `proof` the consistency proof from
/// `old.size` to `new.size`. A checkpoint that shrank fails; equal sizes need equal roots.
///
/// # Errors
/// [`ClientError::Proof`].
pub fn check_consistency(
    old: &OpenedCheckpoint,
    new: &OpenedCheckpoint,
    proof: &[Hash],
) -> Result<(), ClientError> {
    if new.size < old.size {
        return Err(ClientError::Proof(format!(
            "the log shrank from {} to {} entries",
            old.size, new.size
        )));
    }
    if new.size == old.size {
        return if new.root == old.root {
            Ok(())
        } else {
            Err(ClientError::Proof(format!(
                "two roots for tree size {}: the log forked",
                new.size
            )))
        };
    }
    merkle::verify_consistency(old.size, old.root, new.size, new.root, proof).map_err(|e| {
        ClientError::Proof(format!(
            "consistency from {} to {}: {e}",
            old.size, new.size
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Binding a verified entry to the answer it is meant to prove.
//
// A bundle that verifies only shows that *some* entry is on the log. These functions check that
// the proved entry is the one that issued the code asked for, on the stream the answer names, and
// compare every field the answer shows with the proved entries. A field that disagrees fails the
// whole answer; a field the bundles cannot speak for is reported as not verified, never silently
// passed.
// ---------------------------------------------------------------------------------------------

/// What a verification answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A listing verification code (`LV-…`).
    Listing,
    /// A contract filing code (`FC-…`).
    Contract,
    /// A document's SHA-256.
    Document,
}

/// Whether one field shown in an answer is backed by a verified entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldCheck {
    /// The shown value equals the value in (or derived from) the entry at this seq.
    Verified {
        /// The seq of the proved entry the value comes from.
        seq: u64,
    },
    /// The value was checked on this side without an entry (a document's hash, computed over
    /// the bytes sent).
    Computed,
    /// The answer carries no proved entry that sets this field; the value is the server's word.
    Unverified {
        /// Why it cannot be checked.
        reason: String,
    },
}

/// One entry an answer was bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proved {
    /// The entry's seq.
    pub seq: u64,
    /// Its stream.
    pub stream: String,
    /// Its event kind.
    pub kind: String,
}

/// The result of binding an answer to its proofs: which entries prove it and, for every field
/// the answer shows, whether it is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// What the answer is about.
    pub subject: Subject,
    /// The code (or hash) asked for.
    pub asked: String,
    /// The entries that issued it (one for a listing or contract; one per match for a document).
    pub proved: Vec<Proved>,
    /// Every shown field, by its path in the answer (e.g. `listing.price_fen`).
    pub fields: std::collections::BTreeMap<String, FieldCheck>,
}

impl Binding {
    /// Whether the field at `path` is verified.
    #[must_use]
    pub fn is_verified(&self, path: &str) -> bool {
        matches!(
            self.fields.get(path),
            Some(FieldCheck::Verified { .. } | FieldCheck::Computed)
        )
    }

    /// The shown fields that are not verified, with the reason.
    #[must_use]
    pub fn unverified(&self) -> Vec<(&str, &str)> {
        self.fields
            .iter()
            .filter_map(|(k, v)| match v {
                FieldCheck::Unverified { reason } => Some((k.as_str(), reason.as_str())),
                FieldCheck::Verified { .. } | FieldCheck::Computed => None,
            })
            .collect()
    }

    fn verified(&mut self, path: impl Into<String>, seq: u64) {
        self.fields
            .insert(path.into(), FieldCheck::Verified { seq });
    }

    fn unverified_because(&mut self, path: impl Into<String>, reason: &str) {
        self.fields.insert(
            path.into(),
            FieldCheck::Unverified {
                reason: reason.to_owned(),
            },
        );
    }

    /// Marks every field of `obj` under `prefix` not yet classified as not verified, so that a
    /// field the server adds later is never shown as if it were proved.
    fn rest_unverified(&mut self, prefix: &str, obj: &serde_json::Map<String, Value>) {
        for key in obj.keys() {
            let path = format!("{prefix}.{key}");
            let covered = self
                .fields
                .keys()
                .any(|k| k == &path || k.starts_with(&format!("{path}.")));
            if !covered {
                self.unverified_because(path, "no proved entry is checked against this field");
            }
        }
    }
}

fn unbound(reason: impl Into<String>) -> ClientError {
    ClientError::Binding(reason.into())
}

/// Parses and verifies the bundle at `answer[key]`; `None` when the answer has no such field.
fn bundle_field(
    answer: &Value,
    key: &str,
    log_key: &str,
) -> Result<Option<VerifiedBundle>, ClientError> {
    let Some(v) = answer.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bundle: ProofBundle = serde_json::from_value(v.clone())
        .map_err(|e| unbound(format!("`{key}` is not a proof bundle: {e}")))?;
    Ok(Some(verify_bundle(&bundle, log_key)?))
}

fn derived_text<'a>(entry: &'a deedlog_core::Entry, key: &str) -> Option<&'a str> {
    entry.derived.get(key).and_then(Value::as_str)
}

/// Requires `shown[key]` to equal `expected`, recording the field as verified at `seq`.
fn same(
    b: &mut Binding,
    shown: &Value,
    prefix: &str,
    key: &str,
    expected: &Value,
    seq: u64,
) -> Result<(), ClientError> {
    let got = shown.get(key).unwrap_or(&Value::Null);
    if got != expected {
        return Err(unbound(format!(
            "{prefix}.{key} is {got} but the entry at seq {seq} says {expected}"
        )));
    }
    b.verified(format!("{prefix}.{key}"), seq);
    Ok(())
}

/// Checks that the entry issued `code` as the derived value `field`, recomputing the code from
/// the entry's own seq and stream so that a derived value cannot be borrowed from elsewhere.
fn issued(
    entry: &deedlog_core::Entry,
    field: &str,
    tag: deedlog_domain::ids::CodeTag,
    code: &str,
) -> Result<(), ClientError> {
    if derived_text(entry, field) != Some(code) {
        return Err(unbound(format!(
            "the proved entry at seq {} did not issue {code}",
            entry.seq
        )));
    }
    if deedlog_domain::ids::derived_code(tag, entry.seq, &entry.stream) != code {
        return Err(unbound(format!(
            "{code} is not the code derived from seq {} on {}",
            entry.seq, entry.stream
        )));
    }
    Ok(())
}

/// The listing fields copied unchanged from the `listing.publish` payload (the domain has no
/// command that edits them afterwards).
const LISTING_FROM_PUBLISH: &[&str] = &[
    "area_centi_m2",
    "rooms",
    "halls",
    "bathrooms",
    "floor",
    "floors_total",
    "district",
    "community",
    "title",
    "description",
];

/// Binds a `GET /v1/verify/listing/{code}` answer to its bundles (`proof`: the publishing
/// entry, `current`: the last change that shows) and returns the bundles verified.
///
/// # Errors
/// [`ClientError::Bundle`] when a bundle does not verify; [`ClientError::Binding`] when the
/// proved entry did not issue `code`, lies on another stream, or a shown field disagrees with it.
pub fn bind_listing(
    code: &str,
    answer: &Value,
    log_key: &str,
) -> Result<(Binding, Vec<VerifiedBundle>), ClientError> {
    use deedlog_domain::ids::CodeTag;
    if answer.get("code").and_then(Value::as_str) != Some(code) {
        return Err(unbound(format!("the answer is not about {code}")));
    }
    let listing = answer
        .get("listing")
        .filter(|v| v.is_object())
        .ok_or_else(|| unbound("the answer shows no listing"))?;
    let proof = bundle_field(answer, "proof", log_key)?
        .ok_or_else(|| unbound("the answer carries no proof of the publishing entry"))?;
    let e = whole(&proof)?;
    if e.signed.kind != "listing.publish"
        || !matches!(
            e.kind.as_str(),
            "ListingPublished" | "ListingPublicationProposed"
        )
    {
        return Err(unbound(format!(
            "the proved entry at seq {} is a {} ({}), not a listing publication",
            e.seq, e.kind, e.signed.kind
        )));
    }
    if !e.stream.starts_with("listing/") {
        return Err(unbound(format!("{} is not a listing stream", e.stream)));
    }
    issued(e, "listing_code", CodeTag::Listing, code)?;
    let seq = e.seq;
    let mut b = Binding {
        subject: Subject::Listing,
        asked: code.to_owned(),
        proved: vec![Proved {
            seq,
            stream: e.stream.clone(),
            kind: e.kind.clone(),
        }],
        fields: std::collections::BTreeMap::new(),
    };
    b.verified("code", seq);
    let p = "listing";
    same(
        &mut b,
        listing,
        p,
        "id",
        &Value::from(e.stream.as_str()),
        seq,
    )?;
    same(&mut b, listing, p, "code", &Value::from(code), seq)?;
    same(&mut b, listing, p, "created_seq", &Value::from(seq), seq)?;
    let payload = &e.signed.payload;
    for key in LISTING_FROM_PUBLISH {
        same(
            &mut b,
            listing,
            p,
            key,
            payload.get(*key).unwrap_or(&Value::Null),
            seq,
        )?;
    }
    for key in ["seller", "verification", "property"] {
        same(
            &mut b,
            listing,
            p,
            key,
            e.derived.get(key).unwrap_or(&Value::Null),
            seq,
        )?;
    }
    same(
        &mut b,
        listing,
        p,
        "entrustment",
        payload.get("entrustment").unwrap_or(&Value::Null),
        seq,
    )?;
    let agent = derived_text(e, "agent");
    same(
        &mut b,
        listing,
        p,
        "self_listed",
        &Value::from(agent.is_none()),
        seq,
    )?;
    match (agent, listing.get("agent").filter(|v| !v.is_null())) {
        (None, None) => b.verified("listing.agent", seq),
        (Some(id), Some(shown)) => {
            same(&mut b, shown, "listing.agent", "id", &Value::from(id), seq)?;
            if let Some(obj) = shown.as_object() {
                b.rest_unverified("listing.agent", obj);
            }
        }
        (want, got) => {
            return Err(unbound(format!(
                "listing.agent is {} but the publishing entry names {}",
                got.map_or_else(|| "none".to_owned(), Value::to_string),
                want.unwrap_or("none")
            )));
        }
    }
    // `published_at_ms` is the publishing entry's time; a proposal may be shown from its
    // approval instead, which this answer does not prove.
    if listing.get("published_at_ms") == Some(&Value::from(e.recorded_at_ms)) {
        b.verified("listing.published_at_ms", seq);
    } else if e.kind == "ListingPublished" {
        return Err(unbound(format!(
            "listing.published_at_ms is not the time of the publishing entry at seq {seq}"
        )));
    } else {
        b.unverified_because(
            "listing.published_at_ms",
            "set by the approval of the proposal, whose entry is not in the answer",
        );
    }

    let mut bundles = vec![proof.clone()];
    let current = bundle_field(answer, "current", log_key)?;
    match &current {
        None => {
            for key in ["updated_seq", "price_fen", "photos"] {
                b.unverified_because(
                    format!("listing.{key}"),
                    "the answer carries no bundle of the listing's last change",
                );
            }
        }
        Some(c) => {
            let ce = whole(c)?;
            if ce.stream != e.stream || ce.seq < seq {
                return Err(unbound(format!(
                    "the `current` entry (seq {} on {}) is not a later entry of {}",
                    ce.seq, ce.stream, e.stream
                )));
            }
            same(
                &mut b,
                listing,
                p,
                "updated_seq",
                &Value::from(ce.seq),
                ce.seq,
            )?;
            let from_current = |key: &str| ce.signed.payload.get(key).unwrap_or(&Value::Null);
            let stale = "the answer carries no bundle of the entry that last set this field";
            if ce.seq == seq {
                // Nothing that shows has changed since publication.
                for key in ["price_fen", "photos"] {
                    same(
                        &mut b,
                        listing,
                        p,
                        key,
                        payload.get(key).unwrap_or(&Value::Null),
                        seq,
                    )?;
                }
            } else if ce.signed.kind == "listing.change_price" && ce.kind == "ListingPriceChanged" {
                same(
                    &mut b,
                    listing,
                    p,
                    "price_fen",
                    from_current("price_fen"),
                    ce.seq,
                )?;
                b.unverified_because("listing.photos", stale);
            } else if ce.signed.kind == "listing.change_photos" && ce.kind == "ListingPhotosChanged"
            {
                same(&mut b, listing, p, "photos", from_current("photos"), ce.seq)?;
                b.unverified_because("listing.price_fen", stale);
            } else if ce.signed.kind == "listing.approve"
                && let Some(a) = bundle_field(answer, "approved", log_key)?
            {
                // The seller's approval: the fields come from the approved proposal, an earlier
                // entry of the same listing that the approval names.
                let ae = whole(&a)?;
                if ae.stream != e.stream
                    || ae.seq >= ce.seq
                    || ce.signed.payload.get("proposal_seq") != Some(&Value::from(ae.seq))
                {
                    return Err(unbound(format!(
                        "the `approved` entry (seq {} on {}) is not the proposal the approval at seq {} names",
                        ae.seq, ae.stream, ce.seq
                    )));
                }
                let from_approved = |key: &str| ae.signed.payload.get(key).unwrap_or(&Value::Null);
                match ae.signed.kind.as_str() {
                    "listing.publish" => {
                        for key in ["price_fen", "photos"] {
                            same(&mut b, listing, p, key, from_approved(key), ae.seq)?;
                        }
                    }
                    "listing.change_price" => {
                        same(
                            &mut b,
                            listing,
                            p,
                            "price_fen",
                            from_approved("price_fen"),
                            ae.seq,
                        )?;
                        b.unverified_because("listing.photos", stale);
                    }
                    "listing.change_photos" => {
                        same(
                            &mut b,
                            listing,
                            p,
                            "photos",
                            from_approved("photos"),
                            ae.seq,
                        )?;
                        b.unverified_because("listing.price_fen", stale);
                    }
                    other => {
                        return Err(unbound(format!(
                            "the approved entry at seq {} is a {other}, not a listing proposal",
                            ae.seq
                        )));
                    }
                }
                bundles.push(a.clone());
            } else {
                b.unverified_because("listing.price_fen", stale);
                b.unverified_because("listing.photos", stale);
            }
            bundles.push(c.clone());
        }
    }
    b.unverified_because(
        "listing.status",
        "withdrawal and filing change the status without a bundle in the answer",
    );
    if let Some(obj) = listing.as_object() {
        b.rest_unverified(p, obj);
    }
    Ok((b, bundles))
}

/// Binds a `GET /v1/verify/contract/{filing_code}` answer to its bundles (`proof`: the filing
/// entry, `latest`: the contract's last entry).
///
/// # Errors
/// As [`bind_listing`].
pub fn bind_contract(
    filing_code: &str,
    answer: &Value,
    log_key: &str,
) -> Result<(Binding, Vec<VerifiedBundle>), ClientError> {
    use deedlog_domain::ids::CodeTag;
    if answer.get("filing_code").and_then(Value::as_str) != Some(filing_code) {
        return Err(unbound(format!("the answer is not about {filing_code}")));
    }
    let contract = answer
        .get("contract")
        .filter(|v| v.is_object())
        .ok_or_else(|| unbound("the answer shows no contract"))?;
    let proof = bundle_field(answer, "proof", log_key)?
        .ok_or_else(|| unbound("the answer carries no proof of the filing entry"))?;
    let e = whole(&proof)?;
    if e.signed.kind != "contract.file" || e.kind != "ContractFiled" {
        return Err(unbound(format!(
            "the proved entry at seq {} is a {} ({}), not a contract filing",
            e.seq, e.kind, e.signed.kind
        )));
    }
    if !e.stream.starts_with("contract/") {
        return Err(unbound(format!("{} is not a contract stream", e.stream)));
    }
    issued(e, "filing_code", CodeTag::Filing, filing_code)?;
    let seq = e.seq;
    let mut b = Binding {
        subject: Subject::Contract,
        asked: filing_code.to_owned(),
        proved: vec![Proved {
            seq,
            stream: e.stream.clone(),
            kind: e.kind.clone(),
        }],
        fields: std::collections::BTreeMap::new(),
    };
    b.verified("filing_code", seq);
    let p = "contract";
    same(
        &mut b,
        contract,
        p,
        "id",
        &Value::from(e.stream.as_str()),
        seq,
    )?;
    same(&mut b, contract, p, "filed_seq", &Value::from(seq), seq)?;
    for key in ["listing", "property"] {
        same(
            &mut b,
            contract,
            p,
            key,
            e.derived.get(key).unwrap_or(&Value::Null),
            seq,
        )?;
    }
    let mut bundles = vec![proof.clone()];
    match bundle_field(answer, "latest", log_key)? {
        None => b.unverified_because(
            "contract.status",
            "the answer carries no bundle of the contract's last entry",
        ),
        Some(l) => {
            let le = &l.entry;
            if le.stream != e.stream || le.seq < seq {
                return Err(unbound(format!(
                    "the `latest` entry (seq {} on {}) is not a later entry of {}",
                    le.seq, le.stream, e.stream
                )));
            }
            if le.seq == seq {
                same(&mut b, contract, p, "status", &Value::from("filed"), seq)?;
            } else if le.kind == "ContractFilingCancelled" {
                same(
                    &mut b,
                    contract,
                    p,
                    "status",
                    &Value::from("filing_cancelled"),
                    le.seq,
                )?;
            } else {
                b.unverified_because(
                    "contract.status",
                    "the contract's last entry does not set a filing status",
                );
            }
            bundles.push(l);
        }
    }
    // The filing command's payload is empty: the document hash and the signatures live in the
    // `contract.sign` entries, whose bundles the answer does not carry.
    let no_sign = "the answer carries no bundle of the signature entries";
    b.unverified_because("contract.document_hash", no_sign);
    b.unverified_because("contract.signatures", no_sign);
    if let Some(obj) = contract.as_object() {
        b.rest_unverified(p, obj);
    }
    Ok((b, bundles))
}

/// Whether `needle` is one of the strings in `v` (depth-bounded: payloads are shallow).
fn contains_text(v: &Value, needle: &str, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    match v {
        Value::String(s) => s == needle,
        Value::Array(items) => items.iter().any(|i| contains_text(i, needle, depth + 1)),
        Value::Object(map) => map.values().any(|i| contains_text(i, needle, depth + 1)),
        _ => false,
    }
}

/// Largest number of document matches checked in one answer.
pub const DOCUMENT_MATCHES_MAX: usize = 1000;

/// Binds a `POST /v1/verify/document` answer to its bundles: the server's `sha256` must be
/// `sha256_hex` (computed by the caller over the bytes it sent), and every match's proved entry
/// must be at the match's seq, on the match's stream, with the hash in its signed payload.
///
/// # Errors
/// As [`bind_listing`]; an answer with no match is [`ClientError::BadResponse`], since absence
/// cannot be proved.
pub fn bind_document(
    sha256_hex: &str,
    answer: &Value,
    log_key: &str,
) -> Result<(Binding, Vec<VerifiedBundle>), ClientError> {
    use deedlog_domain::ids::CodeTag;
    if answer.get("sha256").and_then(Value::as_str) != Some(sha256_hex) {
        return Err(unbound(format!(
            "the answer is not about the document sent (sha256 {sha256_hex})"
        )));
    }
    let matches = answer
        .get("matches")
        .and_then(Value::as_array)
        .ok_or_else(|| unbound("the answer has no list of matches"))?;
    if matches.is_empty() {
        // Absence cannot be proved: an empty answer carries nothing to verify, which is a
        // different failure from proofs that prove the wrong thing.
        return Err(ClientError::BadResponse {
            path: "/v1/verify/document".to_owned(),
            reason: "the answer carries no proof bundle: the document is not on the log, or the \
                     server does not say"
                .to_owned(),
        });
    }
    if matches.len() > DOCUMENT_MATCHES_MAX {
        return Err(unbound(format!("more than {DOCUMENT_MATCHES_MAX} matches")));
    }
    let mut b = Binding {
        subject: Subject::Document,
        asked: sha256_hex.to_owned(),
        proved: Vec::with_capacity(matches.len()),
        fields: std::collections::BTreeMap::new(),
    };
    b.fields.insert("sha256".to_owned(), FieldCheck::Computed);
    let mut bundles = Vec::with_capacity(matches.len());
    for (i, m) in matches.iter().enumerate() {
        let p = format!("matches[{i}]");
        let v = bundle_field(m, "proof", log_key)?
            .ok_or_else(|| unbound(format!("{p} carries no proof bundle")))?;
        let e = whole(&v)?;
        let seq = e.seq;
        same(&mut b, m, &p, "seq", &Value::from(seq), seq)?;
        same(&mut b, m, &p, "id", &Value::from(e.stream.as_str()), seq)?;
        if !contains_text(&e.signed.payload, sha256_hex, 0) {
            return Err(unbound(format!(
                "{p}: the entry at seq {seq} does not carry the hash {sha256_hex}"
            )));
        }
        let what = m.get("what").and_then(Value::as_str).unwrap_or("");
        let fits = match what {
            "contract_document" => {
                matches!(e.signed.kind.as_str(), "contract.draft" | "contract.amend")
            }
            "listing_photo" => matches!(
                e.signed.kind.as_str(),
                "listing.publish" | "listing.change_photos"
            ),
            "offline_scan" => e.signed.kind == "contract.verify_offline",
            _ => false,
        };
        if fits {
            b.verified(format!("{p}.what"), seq);
        } else {
            b.unverified_because(
                format!("{p}.what"),
                "the proved entry is not of the kind this match names",
            );
        }
        // A listing's code is derived by its publishing entry; other codes are not proved here.
        let code = m.get("code").filter(|c| !c.is_null());
        if let Some(c) = code.and_then(Value::as_str)
            && e.signed.kind == "listing.publish"
            && derived_text(e, "listing_code") == Some(c)
            && deedlog_domain::ids::derived_code(CodeTag::Listing, seq, &e.stream) == c
        {
            b.verified(format!("{p}.code"), seq);
        } else if code.is_some() {
            b.unverified_because(
                format!("{p}.code"),
                "the answer carries no bundle of the entry that issued this code",
            );
        }
        b.unverified_because(
            format!("{p}.current"),
            "whether the document is still current needs the aggregate's latest entries",
        );
        b.unverified_because(
            format!("{p}.status"),
            "the answer carries no bundle of the entry that set the status",
        );
        if let Some(obj) = m.as_object() {
            let mut rest = obj.clone();
            rest.remove("proof");
            b.rest_unverified(&p, &rest);
        }
        b.proved.push(Proved {
            seq,
            stream: e.stream.clone(),
            kind: e.kind.clone(),
        });
        bundles.push(v);
    }
    Ok((b, bundles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deedlog_core::checkpoint::{sign_checkpoint, vkey};
    use deedlog_core::merkle::MemoryHashes;
    use deedlog_core::{Command, Entry, SecretKey};
    use serde_json::json;

    const ORIGIN: &str = "deedlog.test/log";

    fn log(n: u64) -> (Vec<Vec<u8>>, MemoryHashes) {
        let actor = SecretKey::from_seed(&[5; 32]);
        let mut hashes = MemoryHashes::new();
        let mut entries = Vec::new();
        let mut prev = deedlog_core::hash::ZERO_HASH;
        for seq in 0..n {
            let signed = Command {
                actor: "party/PA-1".into(),
                key: actor.public().to_base64(),
                kind: "test.note".into(),
                stream: "test/T-1".into(),
                expected_version: None,
                payload: json!({"n": seq}),
                nonce: format!("nonce-{seq:06}"),
                issued_at_ms: 1_700_000_000_000,
            }
            .sign(&actor)
            .unwrap();
            let entry = Entry {
                seq,
                recorded_at_ms: 1_700_000_000_000,
                prev_hash: prev,
                stream: "test/T-1".into(),
                stream_version: seq + 1,
                kind: "Noted".into(),
                signed,
                derived: json!({}),
            };
            let bytes = entry.encode().unwrap();
            prev = hash::leaf_hash(&bytes);
            hashes.append(prev);
            entries.push(bytes);
        }
        (entries, hashes)
    }

    fn note(log_key: &SecretKey, hashes: &MemoryHashes, size: u64) -> String {
        let root = hashes.root(size).unwrap();
        String::from_utf8(sign_checkpoint(ORIGIN, size, root, &[], log_key).unwrap()).unwrap()
    }

    #[test]
    fn bundles_are_found_in_answers_and_verified() {
        let log_key = SecretKey::from_seed(&[8; 32]);
        let vk = vkey(ORIGIN, &log_key.public()).unwrap();
        let (entries, hashes) = log(7);
        let cp = note(&log_key, &hashes, 7);
        let proof = hashes.inclusion_proof(3, 7).unwrap();
        let bundle = ProofBundle::new(3, &entries[3], 7, &proof, &cp, &vk);
        let answer = json!({"listing": {"code": "LV-1"}, "proof": bundle});
        let found = find_bundle(&answer).unwrap();
        assert_eq!(found, bundle);
        assert_eq!(verify_bundle(&found, &vk).unwrap().entry.seq, 3);
        let other = vkey(ORIGIN, &SecretKey::from_seed(&[9; 32]).public()).unwrap();
        assert!(matches!(
            verify_bundle(&found, &other),
            Err(ClientError::Bundle(_))
        ));
        assert!(find_bundle(&json!({"a": [1, {"format": "x"}]})).is_none());
    }

    #[test]
    fn consistency_between_checkpoints() {
        let log_key = SecretKey::from_seed(&[8; 32]);
        let vk = vkey(ORIGIN, &log_key.public()).unwrap();
        let (_, hashes) = log(12);
        let old = open_checkpoint(&note(&log_key, &hashes, 5), &vk).unwrap();
        let new = open_checkpoint(&note(&log_key, &hashes, 12), &vk).unwrap();
        let proof = hashes.consistency_proof(5, 12).unwrap();
        check_consistency(&old, &new, &proof).unwrap();
        check_consistency(&new, &new, &[]).unwrap();
        assert!(check_consistency(&new, &old, &proof).is_err());
        let mut bad = proof.clone();
        bad[0].0[0] ^= 1;
        assert!(check_consistency(&old, &new, &bad).is_err());
        let hexes: Vec<String> = proof.iter().map(hash::to_hex).collect();
        assert_eq!(parse_hashes(&hexes).unwrap(), proof);
        assert!(parse_hashes(&["zz".to_owned()]).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Still current: the answer's `state`, a bundle of the entry that committed a state root and
// each aggregate's status proved against that root (FORMAT.md, "State map").
// ---------------------------------------------------------------------------------------------

/// Whether what an answer shows is still current, as its state proof shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Currency {
    /// Active (a listing on a property not seized) or filed (a contract) as of the checkpoint
    /// of size `as_of`.
    Current {
        /// The size of the checkpoint the state is proved at (the seq after the entry that
        /// committed the root).
        as_of: u64,
        /// The aggregate's status (`active`, `filed`).
        status: String,
    },
    /// Genuine but no longer current: withdrawn, sold (closed by a filed contract), the
    /// property seized, the filing cancelled.
    NotCurrent {
        /// As [`Currency::Current::as_of`].
        as_of: u64,
        /// The status, in one word (`withdrawn`, `sold`, `seized`, `filing_cancelled`, …).
        status: String,
        /// Why, in words.
        reason: String,
    },
    /// The answer carries no state proof that can be checked (none, or one older than what it
    /// shows): whether it is current is unknown.
    CouldNotCheck {
        /// Why.
        reason: String,
    },
}

/// One aggregate's status as its state proof proved it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvedStatus {
    /// The aggregate id.
    pub aggregate: String,
    /// Its public status (`None`: the map proves it absent).
    pub status: Option<Value>,
}

/// Most aggregates one answer's state proof may carry.
const STATE_AGGREGATES_MAX: usize = 4;

/// Verifies an answer's `state` against the trusted log key: the bundle, the root its entry
/// commits, every aggregate's proof against that root (for its own key) and every status's
/// digest. Returns the checkpoint size the state stands at and the statuses; `Ok(None)` when
/// the answer has no `state`.
///
/// # Errors
/// [`ClientError::Bundle`] when the bundle does not verify; [`ClientError::Proof`] when the
/// entry commits no root, a proof does not lead to it or is for another key, or a status does
/// not hash to the proved value.
pub fn verify_state(
    answer: &Value,
    log_key: &str,
) -> Result<Option<(u64, Vec<ProvedStatus>)>, ClientError> {
    use deedlog_core::state_map::{StateProof, committed_root};
    let Some(state) = answer.get("state").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |why: String| ClientError::Proof(format!("the state proof: {why}"));
    let bundle: ProofBundle =
        serde_json::from_value(state.get("bundle").cloned().unwrap_or(Value::Null))
            .map_err(|e| bad(format!("its bundle is malformed: {e}")))?;
    let verified = verify_bundle(&bundle, log_key)?;
    let entry = whole(&verified)
        .map(|e| e.derived.clone())
        .unwrap_or_else(|_| verified.entry.derived.clone());
    let root = committed_root(&entry)
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| {
            bad(format!(
                "entry {} commits no state root",
                verified.entry.seq
            ))
        })?;
    let items = state
        .get("aggregates")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no aggregates".into()))?;
    if items.len() > STATE_AGGREGATES_MAX {
        return Err(bad("too many aggregates".into()));
    }
    let mut out = Vec::new();
    for item in items {
        let aggregate = item
            .get("aggregate")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("an aggregate without a name".into()))?;
        let proof: StateProof =
            serde_json::from_value(item.get("proof").cloned().unwrap_or(Value::Null))
                .map_err(|e| bad(format!("the proof of {aggregate} is malformed: {e}")))?;
        let value = proof
            .verify_for(&root, aggregate)
            .map_err(|e| bad(format!("{aggregate}: {e}")))?;
        let text = item.get("status").and_then(Value::as_str);
        let status = match (value, text) {
            (Some(v), Some(t)) => {
                if deedlog_core::hash::sha256(t.as_bytes()) != v {
                    return Err(bad(format!(
                        "the status of {aggregate} is not the one the proof commits"
                    )));
                }
                let s: Value = serde_json::from_str(t)
                    .map_err(|e| bad(format!("the status of {aggregate} is not JSON: {e}")))?;
                if s.get("aggregate").and_then(Value::as_str) != Some(aggregate) {
                    return Err(bad(format!("the status shown is not {aggregate}'s")));
                }
                Some(s)
            }
            (Some(_), None) => {
                return Err(bad(format!("the status of {aggregate} is missing")));
            }
            (None, Some(_)) => {
                return Err(bad(format!(
                    "a status is shown for {aggregate}, which the map proves absent"
                )));
            }
            (None, None) => None,
        };
        out.push(ProvedStatus {
            aggregate: aggregate.to_owned(),
            status,
        });
    }
    Ok(Some((verified.entry.seq + 1, out)))
}

fn status_word(s: &Value) -> &str {
    s.get("status").and_then(Value::as_str).unwrap_or("unknown")
}

/// Whether a listing or contract answer (already bound to its bundles) is still current.
/// `aggregate` is the proved listing or contract; `shown_seq` the newest entry the answer shows
/// (the state must be at least as new).
///
/// # Errors
/// As [`verify_state`], and [`ClientError::Proof`] when the state proof is not about the
/// aggregate asked (or, for a listing, its property).
pub fn currency(
    subject: Subject,
    answer: &Value,
    aggregate: &str,
    shown_seq: u64,
    log_key: &str,
) -> Result<Currency, ClientError> {
    let Some((as_of, statuses)) = verify_state(answer, log_key)? else {
        return Ok(Currency::CouldNotCheck {
            reason: "the answer carries no state proof".into(),
        });
    };
    if as_of <= shown_seq {
        return Ok(Currency::CouldNotCheck {
            reason: format!(
                "the state proof (checkpoint {as_of}) is older than the entry shown (seq {shown_seq}): stale"
            ),
        });
    }
    let find = |id: &str| statuses.iter().find(|s| s.aggregate == id);
    let own = find(aggregate)
        .ok_or_else(|| ClientError::Proof(format!("the state proof is not about {aggregate}")))?;
    let Some(status) = &own.status else {
        return Err(ClientError::Proof(format!(
            "the state map proves {aggregate} absent"
        )));
    };
    let word = status_word(status).to_owned();
    match subject {
        Subject::Listing => {
            let property = status
                .get("property")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ClientError::Proof("the listing's status names no property".into())
                })?;
            let seized = match find(property).and_then(|p| p.status.as_ref()) {
                Some(p) => p.get("seized").and_then(Value::as_bool).unwrap_or(false),
                None => {
                    return Ok(Currency::CouldNotCheck {
                        reason: format!("the state proof does not show {property}"),
                    });
                }
            };
            Ok(match (word.as_str(), seized) {
                ("active", false) => Currency::Current {
                    as_of,
                    status: word,
                },
                ("active", true) => Currency::NotCurrent {
                    as_of,
                    status: "seized".into(),
                    reason: format!("the property {property} is seized"),
                },
                ("closed", _) => Currency::NotCurrent {
                    as_of,
                    status: "sold".into(),
                    reason: "the listing was closed by a filed contract (sold)".into(),
                },
                (other, _) => Currency::NotCurrent {
                    as_of,
                    status: other.to_owned(),
                    reason: format!("the listing is {other}"),
                },
            })
        }
        Subject::Contract | Subject::Document => Ok(if word == "filed" {
            Currency::Current {
                as_of,
                status: word,
            }
        } else {
            Currency::NotCurrent {
                as_of,
                reason: format!("the contract is {word}"),
                status: word,
            }
        }),
    }
}
