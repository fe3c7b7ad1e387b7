//! Typed command payloads, one struct per command kind ("parse, don't validate").
//!
//! Every struct refuses unknown fields. Ids are full aggregate ids (`listing/LS-…`), money is in
//! integer fen, areas in hundredths of a square metre, times in ms since the Unix epoch, hashes
//! and commitments 64 lower-case hex digits. Personal data never appears: only commitments
//! (HMAC-SHA-256 with a per-subject secret held by the vault).
//!
//! Fields named `via_proxy` let a registered proxy act for a principal: the actor is the proxy's
//! party, `via_proxy` names the verified proxy filing, and the entry's `derived` names the
//! principal (`on_behalf_of`) and the filing (`proxy`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rejection::{Rejection, codes};

/// Actions a proxy may be given in its scope. Each command kind that may be taken through a proxy
/// belongs to one action (see the authorization table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProxyAction {
    /// Property verification, co-owner consent, cancelling a verification.
    VerifyProperty,
    /// Creating and revoking sale entrustments.
    Entrust,
    /// Self-listing and every change, approval or withdrawal of a listing.
    List,
    /// Booking, cancelling and rating viewings.
    BookViewing,
    /// Requesting loan pre-checks.
    RequestLoan,
    /// Drafting (self-listing), amending, confirming, signing, moving offline, cancelling contracts.
    Contract,
}

/// `platform.genesis`: the first entry; names the platform's and the authorities' keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The platform's display name.
    pub name: String,
    /// The platform's public key (base64); the genesis command is signed by it.
    pub platform_key: String,
    /// Authority actor id → public key (base64). Must hold the housing, identity and registry
    /// authorities.
    pub authorities: BTreeMap<String, String>,
}

/// `key.rotate`: the actor replaces its current key; signed by the current key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyRotate {
    /// The new public key (base64).
    pub new_key: String,
    /// Proof of possession: the new key's signature (base64) over
    /// [`crate::keys::possession_message`] for this actor and key.
    pub proof: String,
}

/// `key.revoke`: the actor's current key stops being valid (the actor has no key until one is
/// bound again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyRevoke {
    /// The key being revoked (must be the current one).
    pub key: String,
    /// Why, 1-200 characters.
    pub reason: String,
}

/// `key.bind`: the responsible authority binds a key to an actor that has none (an agent, bank or
/// office loaded from reference data, or a party whose key was revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyBind {
    /// The public key (base64).
    pub key: String,
    /// Proof of possession by that key (see [`KeyRotate::proof`]).
    pub proof: String,
}

/// `party.register`: a citizen opens an account; self-signed by the key it registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartyRegister {
    /// Commitment to the mobile number.
    pub phone_commitment: String,
    /// The identity authority's phone voucher for this party, key and commitment (see
    /// [`crate::identity`]); required, `None` only so that its absence gets its own code.
    #[serde(default)]
    pub voucher: Option<PhoneVoucher>,
}

/// The identity authority's signed statement that whoever registers `party` with `key` proved,
/// at `issued_at_ms`, control of the phone behind the registration's phone commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PhoneVoucher {
    /// The party it was issued for.
    pub party: String,
    /// The key it was issued for (standard base64).
    pub key: String,
    /// When the identity authority issued it (its clock, ms).
    pub issued_at_ms: i64,
    /// The identity authority's Ed25519 signature (base64) over
    /// [`crate::identity::phone_voucher_message`].
    pub signature: String,
}

/// How a party's identity was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityMethod {
    /// Online: checked by the identity authority against the national register (a face check
    /// or, in the embedded default, an SMS code to the phone on file).
    OnlineFace,
    /// In person at a filing office.
    Office,
}

/// `party.attest_identity`: real-name verification, attested by the identity authority (method
/// `online_face`, after a check the person controls) or by a filing office (method `office`, after
/// checking the ID card in person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartyAttest {
    /// Commitment to the legal name.
    pub name_commitment: String,
    /// Commitment to the resident ID number (the same person always gets the same one).
    pub id_commitment: String,
    /// How the check was done.
    pub method: IdentityMethod,
}

/// `agency.certify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgencyCertify {
    /// Registered business name (public).
    pub name: String,
    /// Licence (备案) number.
    pub licence_no: String,
    /// District.
    pub district: String,
    /// Business address (public).
    pub address: String,
}

/// `agency.suspend`, `agent.suspend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    /// Why, 1-200 characters.
    pub reason: String,
}

/// `agency.reinstate`, `agent.reinstate`, and other commands without data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `agent.certify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentCertify {
    /// The agency (`agency/AG-…`), which must be certified.
    pub agency: String,
    /// The agent's licence number (public).
    pub licence_no: String,
    /// Commitment to the agent's name.
    pub name_commitment: String,
    /// Commitment to the agent's ID number.
    pub id_commitment: String,
    /// Commitment to the agent's phone number.
    pub phone_commitment: String,
    /// The agent's key and its proof of possession, when known now; else bound later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyBind>,
}

/// `bank.register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BankRegister {
    /// Bank name.
    pub name: String,
    /// Branch.
    pub branch: String,
    /// The bank's key and proof, when known now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyBind>,
}

/// `office.register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfficeRegister {
    /// Office name.
    pub name: String,
    /// District.
    pub district: String,
    /// Address.
    pub address: String,
    /// Opening hours, free text.
    pub hours: String,
    /// The office's public phone line (not personal data).
    pub phone: String,
    /// The office's key and proof, when known now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyBind>,
}

/// One owner on the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Commitment to the owner's name.
    pub name_commitment: String,
    /// Commitment to the owner's ID number.
    pub id_commitment: String,
    /// Share in whole percent; shares add up to 100.
    pub share_percent: u8,
}

/// A mortgage on the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Mortgage {
    /// The lender (`bank/BK-…`); it need not be a bank registered on the platform.
    pub bank: String,
    /// The secured amount in fen.
    pub amount_fen: u64,
}

/// A seizure (查封) on the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Seizure {
    /// The court.
    pub court: String,
    /// The court's case number.
    pub case_no: String,
}

/// `property.register`: the registry records a property, its owners and encumbrances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertyRegister {
    /// 不动产权证号 or 房屋所有权证号 (see [`crate::validate::certificate_no`]).
    pub certificate_no: String,
    /// District, e.g. 五华区.
    pub district: String,
    /// Community (小区).
    pub community: String,
    /// Street address.
    pub address: String,
    /// Floor area in 0.01 m².
    pub area_centi_m2: u64,
    /// Bedrooms.
    pub rooms: u8,
    /// Living rooms.
    pub halls: u8,
    /// Bathrooms.
    pub bathrooms: u8,
    /// Floor of the unit (negative for basements).
    pub floor: i16,
    /// Floors in the building.
    pub floors_total: u16,
    /// Year built.
    pub built_year: u16,
    /// Usage, e.g. 住宅.
    pub usage: String,
    /// Owners, 1-10.
    pub owners: Vec<Owner>,
    /// Mortgage, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mortgage: Option<Mortgage>,
    /// Seizure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seizure: Option<Seizure>,
}

/// `property.transfer`: the registry records new owners (transfer registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertyTransfer {
    /// The new owners.
    pub owners: Vec<Owner>,
    /// The new certificate number, if one was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_no: Option<String>,
    /// The filed contract this transfer completes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
}

/// `property.verify`: the seller asks for 房源核验 with the certificate number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertyVerify {
    /// The certificate number as printed (either format; full-width parentheses accepted).
    pub certificate_no: String,
    /// Acting through this proxy filing (`proxy/PX-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// Commands whose only data is an optional proxy (consent, confirm-type steps).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ByParty {
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// Commands with a reason and an optional proxy (cancel, withdraw, revoke…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithReason {
    /// Why, 1-500 characters.
    pub reason: String,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `entrustment.sale`: the seller entrusts an agent with the sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EntrustSale {
    /// The verified property (`verification/PV-…`).
    pub verification: String,
    /// The chosen agent (`agent/AT-…`).
    pub agent: String,
    /// Floor price (底价) in fen; the agent may not list below it.
    pub floor_price_fen: u64,
    /// End of the entrustment period; 1 to 366 days from now.
    pub expires_at_ms: i64,
    /// "Review agent edits": every publication or change of price or photos by the agent waits
    /// for the seller's approval.
    pub review_agent_edits: bool,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `entrustment.purchase`: a buyer entrusts an agent to find a property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EntrustPurchase {
    /// The chosen agent.
    pub agent: String,
    /// Budget ceiling in fen.
    pub budget_max_fen: u64,
    /// Districts of interest, 0-10.
    pub districts: Vec<String>,
    /// End of the entrustment period; 1 to 366 days from now.
    pub expires_at_ms: i64,
}

/// `listing.publish`: publish a verified property (agent with an entrustment, or seller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListingPublish {
    /// The accepted sale entrustment (agent publishing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrustment: Option<String>,
    /// The verification (seller self-listing). Exactly one of `entrustment`, `verification`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// Asking price in fen.
    pub price_fen: u64,
    /// Floor area in 0.01 m²; must equal the registry's.
    pub area_centi_m2: u64,
    /// Bedrooms; must equal the registry's.
    pub rooms: u8,
    /// Living rooms; must equal the registry's.
    pub halls: u8,
    /// Bathrooms; must equal the registry's.
    pub bathrooms: u8,
    /// Floor; must equal the registry's.
    pub floor: i16,
    /// Floors in the building; must equal the registry's.
    pub floors_total: u16,
    /// District; must equal the registry's.
    pub district: String,
    /// Community; must equal the registry's.
    pub community: String,
    /// Headline, 1-60 characters.
    pub title: String,
    /// Description, 0-2000 characters, newlines allowed.
    pub description: String,
    /// SHA-256 of each interior photo, 1-30, distinct.
    pub photos: Vec<String>,
    /// Acting through this proxy filing (seller self-listing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `listing.change_price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListingPrice {
    /// New asking price in fen.
    pub price_fen: u64,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `listing.change_photos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListingPhotos {
    /// The new set of photo hashes, 1-30.
    pub photos: Vec<String>,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `listing.approve`, `listing.reject`: the seller reviews a pending proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ListingReview {
    /// The seq of the entry that proposed the change.
    pub proposal_seq: u64,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `viewing.book`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ViewingBook {
    /// The listing.
    pub listing: String,
    /// Slot start; in the future, at most 60 days ahead.
    pub slot_start_ms: i64,
    /// Slot end; 15 minutes to 4 hours after the start.
    pub slot_end_ms: i64,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
    /// The accepted purchase entrustment under which an agent books for its principal (the
    /// buyer); only an agent gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrustment: Option<String>,
}

/// `viewing.record`: the agent records that the viewing took place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ViewingRecord {
    /// A short note, 0-500 characters (no personal data).
    pub note: String,
}

/// `viewing.rate`: the buyer rates the agent's service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ViewingRate {
    /// 1-5 stars.
    pub stars: u8,
    /// Comment, 0-200 characters.
    pub comment: String,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `loan.request`: the buyer asks a bank for a pre-check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoanRequest {
    /// The buyer's completed viewing of the listing.
    pub viewing: String,
    /// The chosen bank.
    pub bank: String,
    /// Loan amount in fen; at most the listing price.
    pub amount_fen: u64,
    /// Term in months, 1-360.
    pub term_months: u16,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// A bank's pre-check result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoanResult {
    /// Approved in principle.
    Approved,
    /// Approved with conditions.
    Conditional,
    /// Declined.
    Declined,
}

/// `loan.assess`: the chosen bank answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoanAssess {
    /// The result.
    pub result: LoanResult,
    /// Amount the bank would lend, in fen (absent when declined); at most the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_fen: Option<u64>,
    /// The assessment is valid until; 1 to 180 days from now.
    pub valid_until_ms: i64,
    /// Conditions or remarks, 0-500 characters.
    pub remarks: String,
}

/// Contract parties (must match the deal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsParties {
    /// The seller (`party/PA-…`).
    pub seller: String,
    /// The buyer.
    pub buyer: String,
    /// The agent, absent on a self-listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// The property as described in the contract (must match the registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsProperty {
    /// The property id.
    pub property: String,
    /// Certificate number (normal form).
    pub certificate_no: String,
    /// Area in 0.01 m².
    pub area_centi_m2: u64,
}

/// Title and encumbrances (must disclose the registry's mortgage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsTitle {
    /// The mortgage as on the registry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mortgage: Option<Mortgage>,
    /// Whether the seller discharges the mortgage before transfer.
    pub discharge_before_transfer: bool,
    /// Whether the property is let.
    pub leased: bool,
}

/// How the price is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// All at once.
    LumpSum,
    /// Part by a bank loan (requires `loan`).
    Loan,
    /// In instalments.
    Instalments,
}

/// One payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Instalment {
    /// Due date.
    pub due_ms: i64,
    /// Amount in fen.
    pub amount_fen: u64,
}

/// Price and payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsPrice {
    /// Total price in fen.
    pub total_fen: u64,
    /// Payment method.
    pub method: PaymentMethod,
    /// Payments, 1-12, due dates ascending, adding up to the total (loan part included).
    pub schedule: Vec<Instalment>,
}

/// Deposit (定金).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsDeposit {
    /// Amount in fen; at most 20% of the price (the legal cap on 定金).
    pub amount_fen: u64,
    /// Due date.
    pub due_ms: i64,
}

/// Loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsLoan {
    /// The lending bank.
    pub bank: String,
    /// Amount in fen; less than the price.
    pub amount_fen: u64,
}

/// Who pays a tax or fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Payer {
    /// The seller.
    Seller,
    /// The buyer.
    Buyer,
    /// Each as the law assigns.
    ByLaw,
}

/// Taxes and fees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsTaxes {
    /// Deed tax (契税).
    pub deed_tax: Payer,
    /// Value-added tax (增值税).
    pub value_added_tax: Payer,
    /// Individual income tax (个人所得税).
    pub income_tax: Payer,
    /// Registration and transaction fees.
    pub fees: Payer,
}

/// Handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsHandover {
    /// Handover date.
    pub date_ms: i64,
    /// Condition at handover, 1-500 characters.
    pub condition: String,
}

/// Transfer registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsTransfer {
    /// Both parties apply for transfer registration by this date.
    pub apply_by_ms: i64,
}

/// Breach of contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsBreach {
    /// Late-payment penalty per day, in 1/10000 of the amount due (0-100).
    pub late_permyriad_per_day: u16,
    /// Penalty for walking away, in fen; at most the price.
    pub default_penalty_fen: u64,
}

/// How disputes are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DisputeMethod {
    /// A people's court.
    Court,
    /// An arbitration commission.
    Arbitration,
}

/// Disputes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsDisputes {
    /// Method.
    pub method: DisputeMethod,
    /// The court or commission, 1-100 characters.
    pub venue: String,
}

/// The contract's terms, grouped as in the model resale contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractTerms {
    /// 1. Parties.
    pub parties: TermsParties,
    /// 2. The property.
    pub property: TermsProperty,
    /// 3. Title and encumbrances.
    pub title: TermsTitle,
    /// 4. Price and payment.
    pub price: TermsPrice,
    /// 5. Deposit, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<TermsDeposit>,
    /// 6. Loan, if any (required when the method is `loan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loan: Option<TermsLoan>,
    /// 7. Taxes and who pays.
    pub taxes: TermsTaxes,
    /// 8. Handover.
    pub handover: TermsHandover,
    /// 9. Transfer registration.
    pub transfer: TermsTransfer,
    /// 10. Breach.
    pub breach: TermsBreach,
    /// 11. Disputes.
    pub disputes: TermsDisputes,
}

/// `contract.draft`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractDraft {
    /// The listing.
    pub listing: String,
    /// The buyer (`party/PA-…`), real-name verified.
    pub buyer: String,
    /// The terms.
    pub terms: ContractTerms,
    /// SHA-256 of the contract document the terms are rendered into.
    pub document_hash: String,
    /// Acting through this proxy filing (a party drafting a self-listed contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `contract.amend`: new terms and a new document; voids every confirmation and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractAmend {
    /// The new terms.
    pub terms: ContractTerms,
    /// SHA-256 of the new document; differs from the current one.
    pub document_hash: String,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
}

/// `contract.confirm`, `contract.sign`: over the contract's current document hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractDocument {
    /// The document hash being confirmed or signed; must be the current one. The command's own
    /// Ed25519 signature over it is the e-signature.
    pub document_hash: String,
    /// Acting through this proxy filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<String>,
    /// The buyer's accepted purchase entrustment under which its agent confirms the buyer's
    /// side (`contract.confirm` only: the e-signature stays the buyer's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrustment: Option<String>,
}

/// `contract.verify_offline`: a filing office checked the paper contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfflineVerify {
    /// SHA-256 of the scanned, signed paper contract.
    pub scan_hash: String,
}

/// `contract.file`, `contract.cancel_filing`, `agency`/`agent` steps with a reason and no proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, 1-500 characters.
    pub reason: String,
}

/// `proxy.file`: a proxy files its authority to act for a principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    /// The principal (`party/PA-…`).
    pub principal: String,
    /// The property the authority is about.
    pub property: String,
    /// The actions allowed, 1-6, distinct.
    pub scope: Vec<ProxyAction>,
    /// Expiry; 1 to 366 days from now.
    pub expires_at_ms: i64,
    /// SHA-256 of each uploaded document (power of attorney, IDs), 1-10.
    pub document_hashes: Vec<String>,
}

/// `proxy.verify`: a filing office checked the documents and the principal in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProxyVerify {
    /// Commitment to the principal's ID number, as checked at the office.
    pub principal_id_commitment: String,
}

/// `erasure.record`: the vault destroyed a subject's key; the platform records the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErasureRecord {
    /// The subject (`party/PA-…` or `agent/AT-…`).
    pub subject: String,
    /// The subject's commitments that can no longer be opened, 1-10.
    pub commitments: Vec<String>,
    /// SHA-256 of the vault's erasure receipt.
    pub receipt_hash: String,
}

macro_rules! payloads {
    ($($kind:literal => $variant:ident($ty:ty),)*) => {
        /// A parsed payload, one variant per command kind.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(missing_docs)]
        pub enum Payload {
            $($variant($ty),)*
        }

        /// Every command kind, in catalogue order.
        pub const KINDS: &[&str] = &[$($kind),*];

        /// The JSON Schema of each kind's payload (in catalogue order, generated from the payload
        /// types themselves so that the API's description cannot drift from what is parsed), and
        /// the named schemas those refer to (`#/components/schemas/…`).
        #[cfg(feature = "schema")]
        #[must_use]
        #[allow(clippy::type_complexity)]
        pub fn payload_schemas() -> (
            Vec<(&'static str, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
        ) {
            let mut named = Vec::new();
            let kinds = vec![$(($kind, {
                <$ty as utoipa::ToSchema>::schemas(&mut named);
                <$ty as utoipa::PartialSchema>::schema()
            }),)*];
            (kinds, named)
        }

        impl Payload {
            /// Parses the payload of a command of the given kind.
            ///
            /// # Errors
            /// [`codes::UNKNOWN_KIND`] or [`codes::BAD_PAYLOAD`] with serde's message.
            pub fn parse(kind: &str, payload: &Value) -> Result<Self, Rejection> {
                match kind {
                    $($kind => <$ty as serde::Deserialize>::deserialize(payload)
                        .map(Self::$variant)
                        .map_err(|e| bad_payload(kind, &e)),)*
                    _ => Err(Rejection::new(
                        &codes::UNKNOWN_KIND,
                        format!("unknown command kind `{kind}`"),
                    )),
                }
            }

            /// The command kind of this payload.
            #[must_use]
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $kind,)*
                }
            }

            /// The payload as JSON.
            #[must_use]
            pub fn to_value(&self) -> Value {
                match self {
                    $(Self::$variant(p) => serde_json::to_value(p).unwrap_or(Value::Null),)*
                }
            }
        }
    };
}

fn bad_payload(kind: &str, e: &serde_json::Error) -> Rejection {
    Rejection::new(&codes::BAD_PAYLOAD, format!("{kind}: {e}"))
        .with(serde_json::json!({ "kind": kind }))
}

payloads! {
    "platform.genesis" => Genesis(Genesis),
    "key.rotate" => KeyRotate(KeyRotate),
    "key.revoke" => KeyRevoke(KeyRevoke),
    "key.bind" => KeyBind(KeyBind),
    "party.register" => PartyRegister(PartyRegister),
    "party.attest_identity" => PartyAttest(PartyAttest),
    "agency.certify" => AgencyCertify(AgencyCertify),
    "agency.suspend" => AgencySuspend(Suspend),
    "agency.reinstate" => AgencyReinstate(Empty),
    "agent.certify" => AgentCertify(AgentCertify),
    "agent.suspend" => AgentSuspend(Suspend),
    "agent.reinstate" => AgentReinstate(Empty),
    "bank.register" => BankRegister(BankRegister),
    "office.register" => OfficeRegister(OfficeRegister),
    "property.register" => PropertyRegister(PropertyRegister),
    "property.seize" => PropertySeize(Seizure),
    "property.release_seizure" => PropertyRelease(Reason),
    "property.mortgage" => PropertyMortgage(Mortgage),
    "property.discharge_mortgage" => PropertyDischarge(Empty),
    "property.transfer" => PropertyTransfer(PropertyTransfer),
    "property.verify" => PropertyVerify(PropertyVerify),
    "verification.consent" => VerificationConsent(ByParty),
    "verification.cancel" => VerificationCancel(WithReason),
    "entrustment.sale" => EntrustSale(EntrustSale),
    "entrustment.purchase" => EntrustPurchase(EntrustPurchase),
    "entrustment.accept" => EntrustAccept(Empty),
    "entrustment.decline" => EntrustDecline(Reason),
    "entrustment.revoke" => EntrustRevoke(WithReason),
    "entrustment.expire" => EntrustExpire(Empty),
    "listing.publish" => ListingPublish(ListingPublish),
    "listing.change_price" => ListingPrice(ListingPrice),
    "listing.change_photos" => ListingPhotos(ListingPhotos),
    "listing.approve" => ListingApprove(ListingReview),
    "listing.reject" => ListingReject(ListingReview),
    "listing.withdraw" => ListingWithdraw(WithReason),
    "viewing.book" => ViewingBook(ViewingBook),
    "viewing.confirm" => ViewingConfirm(Empty),
    "viewing.record" => ViewingRecord(ViewingRecord),
    "viewing.cancel" => ViewingCancel(WithReason),
    "viewing.rate" => ViewingRate(ViewingRate),
    "loan.request" => LoanRequest(LoanRequest),
    "loan.assess" => LoanAssess(LoanAssess),
    "contract.draft" => ContractDraft(ContractDraft),
    "contract.amend" => ContractAmend(ContractAmend),
    "contract.confirm" => ContractConfirm(ContractDocument),
    "contract.sign" => ContractSign(ContractDocument),
    "contract.move_offline" => ContractOffline(WithReason),
    "contract.verify_offline" => ContractVerifyOffline(OfflineVerify),
    "contract.file" => ContractFile(Empty),
    "contract.cancel_filing" => ContractCancelFiling(Reason),
    "contract.cancel" => ContractCancel(WithReason),
    "proxy.file" => ProxyFile(ProxyFile),
    "proxy.verify" => ProxyVerify(ProxyVerify),
    "proxy.revoke" => ProxyRevoke(Reason),
    "erasure.record" => ErasureRecord(ErasureRecord),
}
