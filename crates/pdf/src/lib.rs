//! The filed contract as a PDF (存量房买卖合同, 已备案), and its check.
//!
//! The PDF is a pure function of a [`PdfInput`]: the contract's terms and parties as the log
//! holds them, the property as registered, the proof bundles of the entries those facts come from
//! (the filing, the document the parties signed, the property's registration, each signature)
//! and, in the copy a party downloads, the parties' names from the vault. The input itself is
//! attached inside the PDF (a PDF/A-3 embedded file, `deedlog-contract.json`, canonical JSON).
//!
//! [`check`] recognises a genuine filed contract without asking anyone: it takes the attached
//! input out, verifies every bundle under the pinned log key, binds every fact shown to the
//! entry it came from (the filing entry issued the filing code, the signed document carries the
//! terms, the registration carries the address, each signature is on the contract's stream
//! before the filing), renders the PDF again and compares the bytes. A forged page, an edited
//! filing code, a proof of another entry or a single changed byte all fail one of those steps.
//! See "The filed contract as PDF" in docs/FORMAT.md for the argument.

#![forbid(unsafe_code)]

mod layout;
mod render;

use deedlog_core::bundle::{ProofBundle, VerifiedBundle};
use deedlog_domain::ids::{CodeTag, derived_code, spoken_code};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use render::render;

/// The font every filed-contract PDF is set in: WenQuanYi Micro Hei, subset to ASCII, Latin-1
/// and GB2312 by `scripts/subset-font.py` (Apache-2.0, `ledger-data/fonts/LICENSE.txt`). It is
/// built into the binary so that the check renders with exactly the font the node used.
pub const FONT: &[u8] = include_bytes!("../../../ledger-data/fonts/WenQuanYiMicroHei-GB2312.ttf");

/// The format tag of the attached input.
pub const INPUT_FORMAT: &str = "deedlog/contract-pdf/v1";
/// The attached file's name inside the PDF.
pub const ATTACHMENT: &str = "deedlog-contract.json";
/// The name inside the PDF of the filing entry's proof in the C2SP `tlog-proof` text.
pub const TLOG_PROOF_ATTACHMENT: &str = "deedlog-filing.tlog-proof";
/// The largest PDF [`check`] reads.
pub const PDF_BYTES_MAX: usize = 16 << 20;
/// The most signatures a contract shows (buyer, seller, agent, with room to spare).
pub const SIGNATURES_MAX: usize = 8;
/// The longest name shown.
pub const NAME_CHARS_MAX: usize = 64;
/// The longest check URL.
pub const URL_BYTES_MAX: usize = 512;

/// The parties' names (only in the copy a party downloads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// The seller's name.
    pub seller: String,
    /// The buyer's name.
    pub buyer: String,
}

/// Everything the PDF shows, with the proofs of it. Attached inside the PDF as canonical JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdfInput {
    /// Always [`INPUT_FORMAT`]; first in canonical key order, which lets [`extract`] find it.
    #[serde(rename = "_format")]
    pub format: String,
    /// The filing code in the v1 form the log carries.
    pub filing_code: String,
    /// Where to check it: `<base>/#/contract/<spoken filing code>`.
    pub check_url: String,
    /// The contract: `id`, `seller`, `buyer`, `agent`, `terms`, `document_hash`.
    pub contract: Value,
    /// The property as registered: `id`, `address`, `district`, `community`, `certificate_no`.
    pub property: Value,
    /// The parties' names, in a party's copy only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Names>,
    /// The bundle of the filing entry (`contract.file`).
    pub filing: ProofBundle,
    /// The bundle of the entry that set the signed document and terms (`contract.draft` or
    /// `contract.amend`), with its opening.
    pub document: ProofBundle,
    /// The bundle of the property's registration (`property.register`), with its opening.
    pub registration: ProofBundle,
    /// The bundles of the signatures (`contract.sign`), in log order.
    pub signatures: Vec<ProofBundle>,
}

impl PdfInput {
    /// SHA-256 (hex) of the filing entry's bundle as canonical JSON: "the digest of the proof"
    /// printed in the QR code, so that a printed copy names the proof it rests on.
    ///
    /// # Errors
    /// When the bundle does not encode (it always does).
    pub fn proof_digest(&self) -> Result<String, PdfError> {
        let v = serde_json::to_value(&self.filing).map_err(|e| PdfError::Input(e.to_string()))?;
        let bytes =
            deedlog_core::canonical::encode(&v).map_err(|e| PdfError::Input(e.to_string()))?;
        Ok(hex::encode(deedlog_core::hash::sha256(&bytes)))
    }

    /// The attachment's bytes: the input as canonical JSON.
    ///
    /// # Errors
    /// When the input does not encode as canonical JSON (a float, a number out of range).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PdfError> {
        let v = serde_json::to_value(self).map_err(|e| PdfError::Input(e.to_string()))?;
        deedlog_core::canonical::encode(&v).map_err(|e| PdfError::Input(e.to_string()))
    }

    /// When the filing entry was recorded (read from its bytes, without verifying them: the
    /// check verifies the bundle before it trusts anything drawn from it).
    #[must_use]
    pub fn filing_recorded_at(&self) -> Option<i64> {
        let bytes = deedlog_core::keys::from_base64(&self.filing.entry).ok()?;
        deedlog_core::LoggedEntry::decode(&bytes)
            .ok()
            .map(|e| e.recorded_at_ms)
    }

    /// The spoken form of the filing code.
    #[must_use]
    pub fn spoken_code(&self) -> String {
        spoken_code(&self.filing_code).unwrap_or_else(|| self.filing_code.clone())
    }
}

/// Why a PDF could not be made or is not a genuine filed contract.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PdfError {
    /// The input is not one a PDF can be made of (bad shape, too long, a missing field).
    #[error("the contract input is unusable: {0}")]
    Input(String),
    /// krilla refused the document.
    #[error("the PDF could not be written: {0}")]
    Render(String),
    /// The file carries no attached contract input (not a filed-contract PDF of this system).
    #[error("the file carries no attached filed-contract proof")]
    NoAttachment,
    /// A bundle did not verify under the pinned log key.
    #[error("the {what} proof does not verify: {reason}")]
    Proof {
        /// Which bundle.
        what: String,
        /// Why.
        reason: String,
    },
    /// A proved entry is not the one the shown fact needs.
    #[error("the PDF shows what its proofs do not say: {0}")]
    Unbound(String),
    /// The file is not exactly the PDF its attached input renders to: it was edited.
    #[error("the file is not the PDF the node renders from its attached proofs: it was changed")]
    Altered,
}

/// What [`check`] proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// The contract id.
    pub contract: String,
    /// The filing code, v1 form.
    pub filing_code: String,
    /// Its spoken form.
    pub spoken_code: String,
    /// The filing entry's seq.
    pub filed_seq: u64,
    /// The tree size the filing proof is against.
    pub tree_size: u64,
    /// The property id and its address.
    pub property: String,
    /// The registered address.
    pub address: String,
    /// `(actor, seq)` of every signature shown.
    pub signatures: Vec<(String, u64)>,
    /// Whether names are shown (a party's copy); they come from the vault and are not proved by
    /// the log.
    pub names_shown: bool,
    /// The digest of the filing proof (in the QR code).
    pub proof_digest: String,
}

/// Finds the attached input in a PDF's bytes.
///
/// The attachment is stored uncompressed, so its canonical JSON appears verbatim; the first
/// place that parses is taken. Anything an attacker adds around it is caught later, when the
/// rendered bytes are compared.
///
/// # Errors
/// [`PdfError::NoAttachment`].
pub fn extract(pdf: &[u8]) -> Result<PdfInput, PdfError> {
    if pdf.len() > PDF_BYTES_MAX {
        return Err(PdfError::Input(format!(
            "the file is larger than {PDF_BYTES_MAX} bytes"
        )));
    }
    let needle = format!("{{\"_format\":\"{INPUT_FORMAT}\"");
    let needle = needle.as_bytes();
    let mut from = 0;
    while let Some(i) = pdf[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
    {
        let mut stream = serde_json::Deserializer::from_slice(&pdf[i..]).into_iter::<PdfInput>();
        if let Some(Ok(input)) = stream.next() {
            return Ok(input);
        }
        from = i + 1;
    }
    Err(PdfError::NoAttachment)
}

fn verify(what: &str, bundle: &ProofBundle, log_key: &str) -> Result<VerifiedBundle, PdfError> {
    bundle.verify(log_key).map_err(|e| PdfError::Proof {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

fn whole<'a>(what: &str, v: &'a VerifiedBundle) -> Result<&'a deedlog_core::Entry, PdfError> {
    v.whole.as_ref().ok_or_else(|| PdfError::Proof {
        what: what.to_owned(),
        reason: "the entry's payload is not opened".into(),
    })
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, PdfError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| PdfError::Input(format!("{key} is missing")))
}

/// Checks the input's shape and limits before anything is drawn from it.
pub(crate) fn validate(input: &PdfInput) -> Result<(), PdfError> {
    if input.format != INPUT_FORMAT {
        return Err(PdfError::Input(format!("format {:?}", input.format)));
    }
    if input.signatures.len() > SIGNATURES_MAX {
        return Err(PdfError::Input(format!(
            "more than {SIGNATURES_MAX} signatures"
        )));
    }
    if input.check_url.len() > URL_BYTES_MAX {
        return Err(PdfError::Input("the check URL is too long".into()));
    }
    if let Some(n) = &input.names
        && (n.seller.chars().count() > NAME_CHARS_MAX || n.buyer.chars().count() > NAME_CHARS_MAX)
    {
        return Err(PdfError::Input("a name is too long".into()));
    }
    let code = spoken_code(&input.filing_code)
        .filter(|_| input.filing_code.starts_with("FC-"))
        .ok_or_else(|| PdfError::Input("the filing code is not a filing code".into()))?;
    if !input.check_url.ends_with(&format!("/#/contract/{code}")) {
        return Err(PdfError::Input(
            "the check URL is not the filing code's".into(),
        ));
    }
    for key in ["id", "seller", "buyer", "document_hash"] {
        text(&input.contract, key)?;
    }
    if !input.contract.get("terms").is_some_and(Value::is_object) {
        return Err(PdfError::Input("terms are missing".into()));
    }
    for key in ["id", "address"] {
        text(&input.property, key)?;
    }
    Ok(())
}

/// Checks that a PDF is a genuine filed contract under the pinned log key `log_key`, and what
/// it proves (see the crate documentation for the steps).
///
/// # Errors
/// The first step that fails, as a [`PdfError`]; [`PdfError::Altered`] when everything proves
/// but the bytes are not the ones the input renders to.
pub fn check(pdf: &[u8], log_key: &str) -> Result<Checked, PdfError> {
    let input = extract(pdf)?;
    validate(&input)?;
    let contract = text(&input.contract, "id")?;
    let property = text(&input.property, "id")?;

    // The filing entry issued this filing code for this contract.
    let filing = verify("filing", &input.filing, log_key)?;
    let f = whole("filing", &filing)?;
    if f.signed.kind != "contract.file" || f.stream != contract {
        return Err(PdfError::Unbound(format!(
            "the filing proof is a {} on {}, not the filing of {contract}",
            f.signed.kind, f.stream
        )));
    }
    if f.derived.get("filing_code").and_then(Value::as_str) != Some(input.filing_code.as_str())
        || derived_code(CodeTag::Filing, f.seq, &f.stream) != input.filing_code
    {
        return Err(PdfError::Unbound(format!(
            "the filing entry at seq {} did not issue {}",
            f.seq, input.filing_code
        )));
    }

    // The signed document carries the terms and the document hash shown.
    let document = verify("document", &input.document, log_key)?;
    let d = whole("document", &document)?;
    if !matches!(d.signed.kind.as_str(), "contract.draft" | "contract.amend")
        || d.stream != contract
        || d.seq >= f.seq
    {
        return Err(PdfError::Unbound(format!(
            "the document proof is a {} at seq {} on {}, not a draft or amendment of {contract} before its filing",
            d.signed.kind, d.seq, d.stream
        )));
    }
    for key in ["terms", "document_hash"] {
        if d.signed.payload.get(key) != input.contract.get(key) {
            return Err(PdfError::Unbound(format!(
                "the contract's {key} are not those of the entry at seq {}",
                d.seq
            )));
        }
    }
    if d.signed.kind == "contract.draft" {
        for (key, want) in [
            ("buyer", d.signed.payload.get("buyer")),
            (
                "property",
                input
                    .contract
                    .get("terms")
                    .and_then(|t| t.pointer("/property/property")),
            ),
        ] {
            let shown = if key == "property" {
                input.property.get("id")
            } else {
                input.contract.get(key)
            };
            if shown != want {
                return Err(PdfError::Unbound(format!(
                    "the {key} shown is not the draft's"
                )));
            }
        }
    } else if input.contract.pointer("/terms/property/property") != input.property.get("id") {
        return Err(PdfError::Unbound(
            "the property shown is not the terms'".into(),
        ));
    }
    // The parties named in the terms are the parties shown.
    for role in ["seller", "buyer"] {
        let in_terms = input.contract.pointer(&format!("/terms/parties/{role}"));
        if in_terms.is_some() && in_terms != input.contract.get(role) {
            return Err(PdfError::Unbound(format!(
                "the {role} is not the terms' {role}"
            )));
        }
    }

    // The property was registered with the address shown.
    let registration = verify("registration", &input.registration, log_key)?;
    let r = whole("registration", &registration)?;
    if r.signed.kind != "property.register" || r.stream != property {
        return Err(PdfError::Unbound(format!(
            "the registration proof is a {} on {}, not the registration of {property}",
            r.signed.kind, r.stream
        )));
    }
    for key in ["address", "district", "community", "certificate_no"] {
        if input.property.get(key).is_some() && r.signed.payload.get(key) != input.property.get(key)
        {
            return Err(PdfError::Unbound(format!(
                "the property's {key} is not the registered one"
            )));
        }
    }

    // Every signature is a signature of this contract's current document, before the filing.
    let mut signatures = Vec::new();
    for (i, b) in input.signatures.iter().enumerate() {
        let v = verify(&format!("signature {i}"), b, log_key)?;
        let e = whole("signature", &v)?;
        if e.signed.kind != "contract.sign"
            || e.stream != contract
            || e.seq <= d.seq
            || e.seq >= f.seq
            || e.signed.payload.get("document_hash") != input.contract.get("document_hash")
        {
            return Err(PdfError::Unbound(format!(
                "signature {i} (seq {}) is not a signature of {contract}'s document before its filing",
                e.seq
            )));
        }
        signatures.push((e.signed.actor.clone(), e.seq));
    }

    // Finally the bytes: the file must be exactly what the proved input renders to.
    if render(&input)? != pdf {
        return Err(PdfError::Altered);
    }
    Ok(Checked {
        contract: contract.to_owned(),
        filing_code: input.filing_code.clone(),
        spoken_code: input.spoken_code(),
        filed_seq: f.seq,
        tree_size: input.filing.tree_size,
        property: property.to_owned(),
        address: text(&input.property, "address")?.to_owned(),
        signatures,
        names_shown: input.names.is_some(),
        proof_digest: input.proof_digest()?,
    })
}
