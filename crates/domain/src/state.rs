//! The aggregates and the state that holds them all, with read helpers for the API and views.
//!
//! Everything is kept in ordered maps so that the state serializes canonically: two replays of
//! the same log produce byte-identical state (the determinism tests compare exactly that).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::bounded::{BoundedMap, KeyBytes, Spill, SpillContext, SpillHandle};

use crate::payload::{
    ContractTerms, IdentityMethod, LoanResult, Mortgage, Owner, ProxyAction, Seizure,
};

/// A key's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// The actor's current key.
    Current,
    /// Replaced by rotation.
    Rotated,
    /// Revoked.
    Revoked,
}

/// A key ever registered on the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyRecord {
    /// Its actor.
    pub actor: String,
    /// Its standing.
    pub status: KeyStatus,
    /// Seq of the entry that registered it.
    pub since_seq: u64,
}

/// A registered citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Party {
    /// `party/PA-…`.
    pub id: String,
    /// Commitment to the phone number.
    pub phone_commitment: String,
    /// Commitment to the name, once attested.
    pub name_commitment: Option<String>,
    /// Commitment to the ID number, once attested.
    pub id_commitment: Option<String>,
    /// How the identity was checked.
    pub identity_method: Option<IdentityMethod>,
    /// When registered.
    pub registered_at_ms: i64,
    /// When the identity was attested.
    pub verified_at_ms: Option<i64>,
    /// The vault erased this party's personal data.
    pub erased: bool,
}

impl Party {
    /// Whether real-name verification passed (and the data was not erased since).
    #[must_use]
    pub fn verified(&self) -> bool {
        self.id_commitment.is_some() && !self.erased
    }
}

/// Certification status of an agency or agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// Certified and active.
    Certified,
    /// Suspended by the housing authority.
    Suspended,
}

/// A certified agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Agency {
    /// `agency/AG-…`.
    pub id: String,
    /// Business name.
    pub name: String,
    /// Licence number.
    pub licence_no: String,
    /// District.
    pub district: String,
    /// Address.
    pub address: String,
    /// Status.
    pub status: CertStatus,
    /// Its agents.
    pub agents: BTreeSet<String>,
}

/// A certified agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Agent {
    /// `agent/AT-…`.
    pub id: String,
    /// Its agency.
    pub agency: String,
    /// Licence number.
    pub licence_no: String,
    /// Commitment to the name.
    pub name_commitment: String,
    /// Commitment to the ID number.
    pub id_commitment: String,
    /// Commitment to the phone number.
    pub phone_commitment: String,
    /// Status.
    pub status: CertStatus,
    /// Sum of stars received.
    pub rating_sum: u64,
    /// Number of ratings.
    pub rating_count: u64,
    /// Personal data erased.
    pub erased: bool,
}

/// A bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Bank {
    /// `bank/BK-…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Branch.
    pub branch: String,
}

/// A filing office (办理点).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Office {
    /// `office/OF-…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Address.
    pub address: String,
    /// Opening hours.
    pub hours: String,
    /// Public phone line.
    pub phone: String,
}

/// A property on the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Property {
    /// `property/PR-…`.
    pub id: String,
    /// Certificate number, normal form.
    pub certificate_no: String,
    /// District.
    pub district: String,
    /// Community.
    pub community: String,
    /// Address.
    pub address: String,
    /// Area in 0.01 m².
    pub area_centi_m2: u64,
    /// Bedrooms.
    pub rooms: u8,
    /// Living rooms.
    pub halls: u8,
    /// Bathrooms.
    pub bathrooms: u8,
    /// Floor.
    pub floor: i16,
    /// Floors in the building.
    pub floors_total: u16,
    /// Year built.
    pub built_year: u16,
    /// Usage.
    pub usage: String,
    /// Owners.
    pub owners: Vec<Owner>,
    /// Mortgage.
    pub mortgage: Option<Mortgage>,
    /// Seizure.
    pub seizure: Option<Seizure>,
    /// The live deal (a pending or verified verification), if any.
    pub live_verification: Option<String>,
}

/// Status of a property verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Waiting for co-owners' consent.
    PendingConsent,
    /// Verified: the deal may proceed.
    Verified,
    /// Cancelled by the seller.
    Cancelled,
    /// The deal ended with a filed contract.
    Closed,
}

/// A property verification (房源核验): the root of a deal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Verification {
    /// `verification/PV-…`.
    pub id: String,
    /// The property.
    pub property: String,
    /// The seller (an owner).
    pub seller: String,
    /// The verification code.
    pub code: String,
    /// Status.
    pub status: VerificationStatus,
    /// ID commitments of co-owners whose consent is still needed.
    pub consents_pending: BTreeSet<String>,
    /// Co-owners who consented (party ids).
    pub consented_by: BTreeSet<String>,
    /// The mortgage shown at verification.
    pub mortgage: Option<Mortgage>,
    /// When requested.
    pub requested_at_ms: i64,
    /// The latest sale entrustment made on it (live or not; see [`Entrustment::live_at`]).
    pub sale_entrustment: Option<String>,
    /// The live listing (active or pending review), if any.
    pub live_listing: Option<String>,
    /// The live contract, if any.
    pub live_contract: Option<String>,
}

impl Verification {
    /// Whether the deal is live (pending or verified).
    #[must_use]
    pub fn live(&self) -> bool {
        matches!(
            self.status,
            VerificationStatus::PendingConsent | VerificationStatus::Verified
        )
    }
}

/// Status of an entrustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntrustmentStatus {
    /// Waiting for the agent.
    Offered,
    /// Accepted by the agent.
    Accepted,
    /// Declined by the agent.
    Declined,
    /// Revoked by the principal.
    Revoked,
    /// Its period ended (recorded by the platform).
    Expired,
    /// The deal was filed.
    Completed,
}

/// What an entrustment is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntrustmentTerms {
    /// Sale.
    Sale {
        /// The verification.
        verification: String,
        /// Floor price in fen.
        floor_price_fen: u64,
        /// Review agent edits.
        review_agent_edits: bool,
    },
    /// Purchase.
    Purchase {
        /// Budget ceiling in fen.
        budget_max_fen: u64,
        /// Districts of interest.
        districts: Vec<String>,
    },
}

/// An entrustment (委托).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Entrustment {
    /// `entrustment/EN-…`.
    pub id: String,
    /// The entrusting party.
    pub principal: String,
    /// The agent.
    pub agent: String,
    /// Terms.
    pub terms: EntrustmentTerms,
    /// End of the period.
    pub expires_at_ms: i64,
    /// Status.
    pub status: EntrustmentStatus,
    /// When created.
    pub created_at_ms: i64,
}

impl Entrustment {
    /// Whether the entrustment binds at `now_ms` (offered or accepted, before expiry).
    #[must_use]
    pub fn live_at(&self, now_ms: i64) -> bool {
        matches!(
            self.status,
            EntrustmentStatus::Offered | EntrustmentStatus::Accepted
        ) && now_ms < self.expires_at_ms
    }
}

/// Status of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// Published by an agent in review mode; not shown until the seller approves.
    PendingReview,
    /// Shown publicly.
    Active,
    /// Withdrawn (or its first publication rejected, or its entrustment ended).
    Withdrawn,
    /// Closed by a filed contract.
    Closed,
}

/// A change waiting for the seller's review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProposalChange {
    /// The first publication.
    Publication,
    /// A new price.
    Price {
        /// Price in fen.
        price_fen: u64,
    },
    /// A new set of photos.
    Photos {
        /// Photo hashes.
        photos: Vec<String>,
    },
}

/// A pending proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Proposal {
    /// The seq of the proposing entry.
    pub seq: u64,
    /// What would change.
    pub change: ProposalChange,
    /// When proposed.
    pub proposed_at_ms: i64,
}

/// A listing (房源).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Listing {
    /// `listing/LS-…`.
    pub id: String,
    /// The listing verification code.
    pub code: String,
    /// The verification.
    pub verification: String,
    /// The property.
    pub property: String,
    /// The seller.
    pub seller: String,
    /// The entrustment, absent when self-listed.
    pub entrustment: Option<String>,
    /// The agent, absent when self-listed.
    pub agent: Option<String>,
    /// Whether agent edits need the seller's review.
    pub review: bool,
    /// Status.
    pub status: ListingStatus,
    /// Shown price in fen.
    pub price_fen: u64,
    /// Shown photo hashes.
    pub photos: Vec<String>,
    /// Area in 0.01 m².
    pub area_centi_m2: u64,
    /// Bedrooms.
    pub rooms: u8,
    /// Living rooms.
    pub halls: u8,
    /// Bathrooms.
    pub bathrooms: u8,
    /// Floor.
    pub floor: i16,
    /// Floors in the building.
    pub floors_total: u16,
    /// District.
    pub district: String,
    /// Community.
    pub community: String,
    /// Headline.
    pub title: String,
    /// Description.
    pub description: String,
    /// The change waiting for review, if any.
    pub pending: Option<Proposal>,
    /// The live contract on this listing, if any.
    pub contract: Option<String>,
    /// When published (first entry).
    pub published_at_ms: i64,
    /// Seq of the last change that shows.
    pub updated_seq: u64,
}

/// Status of a viewing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewingStatus {
    /// Booked by the buyer.
    Booked,
    /// Confirmed by the agent or seller.
    Confirmed,
    /// Held and recorded.
    Completed,
    /// Cancelled.
    Cancelled,
}

/// A viewing appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Viewing {
    /// `viewing/VW-…`.
    pub id: String,
    /// The listing.
    pub listing: String,
    /// The buyer.
    pub buyer: String,
    /// The listing's agent at booking time.
    pub agent: Option<String>,
    /// Slot start.
    pub slot_start_ms: i64,
    /// Slot end.
    pub slot_end_ms: i64,
    /// Status.
    pub status: ViewingStatus,
    /// The agent's note when recorded.
    pub note: Option<String>,
    /// Stars given, once.
    pub stars: Option<u8>,
}

/// A bank's assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Assessment {
    /// Result.
    pub result: LoanResult,
    /// Amount in fen.
    pub amount_fen: Option<u64>,
    /// Valid until.
    pub valid_until_ms: i64,
    /// Remarks.
    pub remarks: String,
    /// Seq of the assessing entry.
    pub seq: u64,
}

/// A loan pre-check (贷款预审).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Precheck {
    /// `precheck/LP-…`.
    pub id: String,
    /// The viewing it started from.
    pub viewing: String,
    /// The listing.
    pub listing: String,
    /// The buyer.
    pub buyer: String,
    /// The chosen bank.
    pub bank: String,
    /// Requested amount.
    pub amount_fen: u64,
    /// Term in months.
    pub term_months: u16,
    /// The assessment, once given.
    pub assessment: Option<Assessment>,
}

/// A party's role in a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractRole {
    /// The buyer.
    Buyer,
    /// The seller.
    Seller,
    /// The agent.
    Agent,
}

/// Status of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// Drafted; collecting confirmations and signatures.
    Drafted,
    /// Every required party signed the current document.
    Signed,
    /// E-signing failed; moved to a paper contract.
    Offline,
    /// A filing office verified the paper contract.
    OfflineVerified,
    /// Filed with a filing code.
    Filed,
    /// The filing was cancelled by the housing authority.
    FilingCancelled,
    /// Cancelled before filing.
    Cancelled,
}

impl ContractStatus {
    /// Whether the contract still blocks its listing.
    #[must_use]
    pub fn live(self) -> bool {
        matches!(
            self,
            Self::Drafted | Self::Signed | Self::Offline | Self::OfflineVerified
        )
    }
}

/// An online contract (网签合同).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Contract {
    /// `contract/CT-…`.
    pub id: String,
    /// The listing.
    pub listing: String,
    /// The property.
    pub property: String,
    /// The verification.
    pub verification: String,
    /// The seller.
    pub seller: String,
    /// The buyer.
    pub buyer: String,
    /// The agent, absent on a self-listing.
    pub agent: Option<String>,
    /// Current terms.
    pub terms: ContractTerms,
    /// Current document hash.
    pub document_hash: String,
    /// Number of amendments.
    pub amendments: u32,
    /// Roles that confirmed the current document.
    pub confirmed: BTreeSet<ContractRole>,
    /// Roles that signed the current document, with the seq of their signing entry.
    pub signatures: BTreeMap<ContractRole, u64>,
    /// Status.
    pub status: ContractStatus,
    /// Why it moved offline.
    pub offline_reason: Option<String>,
    /// The office that verified the paper contract, and the scan's hash.
    pub offline_verified: Option<(String, String)>,
    /// The filing code.
    pub filing_code: Option<String>,
    /// Seq of the filing entry.
    pub filed_seq: Option<u64>,
    /// Why the filing or contract was cancelled.
    pub cancel_reason: Option<String>,
}

impl Contract {
    /// The roles that must confirm and sign.
    #[must_use]
    pub fn required_roles(&self) -> Vec<ContractRole> {
        let mut roles = vec![ContractRole::Buyer, ContractRole::Seller];
        if self.agent.is_some() {
            roles.push(ContractRole::Agent);
        }
        roles
    }
}

/// Status of a proxy filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyStatus {
    /// Filed, not yet verified.
    Filed,
    /// Verified at a filing office.
    Verified,
    /// Revoked.
    Revoked,
}

/// A proxy filing (代理人备案).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Proxy {
    /// `proxy/PX-…`.
    pub id: String,
    /// The proxy (a party).
    pub proxy: String,
    /// The principal.
    pub principal: String,
    /// The property.
    pub property: String,
    /// Allowed actions.
    pub scope: BTreeSet<ProxyAction>,
    /// Expiry.
    pub expires_at_ms: i64,
    /// Document hashes.
    pub document_hashes: Vec<String>,
    /// Status.
    pub status: ProxyStatus,
    /// The office that verified it.
    pub verified_by: Option<String>,
    /// The principal's ID commitment as checked at the office.
    pub principal_id_commitment: Option<String>,
}

/// An erasure receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Erasure {
    /// `erasure/ER-…`.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The erased commitments.
    pub commitments: Vec<String>,
    /// Hash of the vault's receipt.
    pub receipt_hash: String,
    /// Seq of the receipt entry.
    pub seq: u64,
}

/// An agent with its rating, as offered to sellers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RatedAgent {
    /// The agent.
    pub agent: String,
    /// Its agency.
    pub agency: String,
    /// Licence number.
    pub licence_no: String,
    /// Bayesian score ×100 (see [`crate::rating`]).
    pub score_x100: u64,
    /// Number of ratings.
    pub rating_count: u64,
    /// Sum of stars.
    pub rating_sum: u64,
}

/// A 32-byte value that the state's largest indexes hold as bytes rather than as text: a
/// commitment (64 lower-case hex digits) or a public key (standard padded base64). One per
/// registered party in each of three indexes, so the 64 or 44 bytes of text (and their heap
/// allocations) add up for a city. The mapping from text is one to one: only the canonical text
/// of 32 bytes becomes those bytes; any other text (never accepted onto the log by the rules,
/// but looked up) becomes the SHA-256 of a tagged form of itself, which no canonical text meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key32([u8; 32]);

impl Key32 {
    fn other(tag: &str, text: &str) -> Self {
        let mut tagged = Vec::with_capacity(tag.len() + 1 + text.len());
        tagged.extend_from_slice(tag.as_bytes());
        tagged.push(0);
        tagged.extend_from_slice(text.as_bytes());
        Self(deedlog_core::hash::sha256(&tagged))
    }

    /// A commitment's key: its 32 bytes when it is 64 lower-case hex digits.
    pub(crate) fn hex(text: &str) -> Self {
        match deedlog_core::hash::from_hex(text) {
            Ok(h) => Self(h.0),
            Err(_) => Self::other("deedlog.state.hex", text),
        }
    }

    /// A public key's key: its 32 bytes when it is their standard padded base64.
    pub(crate) fn base64(text: &str) -> Self {
        if let Ok(bytes) = deedlog_core::keys::from_base64(text)
            && let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice())
            && deedlog_core::keys::base64(&raw) == text
        {
            return Self(raw);
        }
        Self::other("deedlog.state.base64", text)
    }
}

impl KeyBytes for Key32 {
    fn key_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Key32 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&deedlog_core::hash::to_hex(&deedlog_core::Hash(self.0)))
    }
}

/// Every aggregate at one point of the log. `Default` is the empty log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Current version of each stream.
    pub(crate) streams: BoundedMap<String, u64>,
    /// Seq of the next entry expected (entries applied so far).
    pub(crate) next_seq: u64,
    /// The platform's name, once genesis is applied.
    pub(crate) platform_name: Option<String>,
    /// Actor → its current key.
    pub(crate) actor_keys: BoundedMap<String, String>,
    /// Every key ever registered.
    pub(crate) keys: BoundedMap<Key32, KeyRecord>,
    pub(crate) parties: BoundedMap<String, Party>,
    pub(crate) agencies: BoundedMap<String, Agency>,
    pub(crate) agents: BoundedMap<String, Agent>,
    pub(crate) banks: BoundedMap<String, Bank>,
    pub(crate) offices: BoundedMap<String, Office>,
    pub(crate) properties: BoundedMap<String, Property>,
    pub(crate) verifications: BoundedMap<String, Verification>,
    pub(crate) entrustments: BoundedMap<String, Entrustment>,
    pub(crate) listings: BoundedMap<String, Listing>,
    pub(crate) viewings: BoundedMap<String, Viewing>,
    pub(crate) prechecks: BoundedMap<String, Precheck>,
    pub(crate) contracts: BoundedMap<String, Contract>,
    pub(crate) proxies: BoundedMap<String, Proxy>,
    pub(crate) erasures: BoundedMap<String, Erasure>,
    /// Certificate number (normal form) → property.
    pub(crate) certificates: BoundedMap<String, String>,
    /// Phone commitment → party.
    pub(crate) phones: BoundedMap<Key32, String>,
    /// ID commitment → party.
    pub(crate) identities: BoundedMap<Key32, String>,
    /// Licence number → agency or agent.
    pub(crate) licences: BoundedMap<String, String>,
    /// Filing code → contract.
    pub(crate) filing_codes: BoundedMap<String, String>,
    /// Listing verification code → listing.
    pub(crate) listing_codes: BoundedMap<String, String>,
    /// Where a bounded state keeps what it does not hold (`None`: whole in memory).
    #[serde(skip)]
    spill: SpillHandle,
}

impl Default for State {
    /// The empty log, every map whole in memory.
    fn default() -> Self {
        Self {
            next_seq: 0,
            platform_name: None,
            spill: SpillHandle::default(),
            streams: BoundedMap::new(0),
            actor_keys: BoundedMap::new(1),
            keys: BoundedMap::new(2),
            parties: BoundedMap::new(3),
            agencies: BoundedMap::new(4),
            agents: BoundedMap::new(5),
            banks: BoundedMap::new(6),
            offices: BoundedMap::new(7),
            properties: BoundedMap::new(8),
            verifications: BoundedMap::new(9),
            entrustments: BoundedMap::new(10),
            listings: BoundedMap::new(11),
            viewings: BoundedMap::new(12),
            prechecks: BoundedMap::new(13),
            contracts: BoundedMap::new(14),
            proxies: BoundedMap::new(15),
            erasures: BoundedMap::new(16),
            certificates: BoundedMap::new(17),
            phones: BoundedMap::new(18),
            identities: BoundedMap::new(19),
            licences: BoundedMap::new(20),
            filing_codes: BoundedMap::new(21),
            listing_codes: BoundedMap::new(22),
        }
    }
}

/// Entries a bounded state keeps in memory per map by default ([`State::with_spill`]).
pub const KEEP_DEFAULT: usize = 8_192;

/// Runs `$body` with `$m` bound to each of the state's maps in turn (`&mut`, or `&` after
/// `ref`).
macro_rules! each_map {
    (ref $state:expr, $m:ident => $body:expr) => {
        each_map!(@fields ref $state, $m => $body)
    };
    ($state:expr, $m:ident => $body:expr) => {
        each_map!(@fields mut $state, $m => $body)
    };
    (@fields $how:ident $state:expr, $m:ident => $body:expr) => {
        each_map!(@each $how $state, $m => $body; streams, actor_keys, keys, parties,
            agencies, agents, banks, offices, properties, verifications, entrustments, listings,
            viewings, prechecks, contracts, proxies, erasures, certificates, phones, identities,
            licences, filing_codes, listing_codes)
    };
    (@each ref $state:expr, $m:ident => $body:expr; $($f:ident),*) => {{
        $({
            let $m = &$state.$f;
            $body
        })*
    }};
    (@each mut $state:expr, $m:ident => $body:expr; $($f:ident),*) => {{
        $({
            let $m = &mut $state.$f;
            $body
        })*
    }};
}

impl State {
    /// The empty log, its maps bounded: each keeps about `keep` entries in memory besides what
    /// was written since the last [`State::spill`], and finds the rest in `spill` (see
    /// [`crate::bounded`]). `spill` must start empty.
    #[must_use]
    pub fn with_spill(spill: std::sync::Arc<dyn Spill>, keep: usize) -> Self {
        let mut state = Self::default();
        let ctx = std::sync::Arc::new(SpillContext::new(spill, keep));
        each_map!(state, m => m.set_spill(ctx.clone()));
        state.spill = SpillHandle(Some(ctx));
        state
    }

    /// Whether the state is bounded (made by [`State::with_spill`]).
    #[must_use]
    pub fn bounded(&self) -> bool {
        self.spill.0.is_some()
    }

    /// Ends an epoch of use (call it between batches). Once a map holds more than it keeps,
    /// writes what changed since the last write to the spill, and every map evicts what was
    /// not used in the epoch just ended; nothing for a whole state.
    ///
    /// # Errors
    /// The spill could not be written: nothing was evicted, and the same writes come with the
    /// next call (the state itself is whole and correct; it only holds more memory).
    pub fn spill(&mut self) -> Result<(), String> {
        let Some(ctx) = self.spill.0.clone() else {
            return Ok(());
        };
        let mut over = false;
        each_map!(self, m => over |= m.held() > ctx.keep());
        if over {
            // One write a map, so what is held at once is one map's changes, not all of them;
            // a map evicts only once its own changes are in the spill.
            let mut result = Ok(());
            each_map!(self, m => {
                if result.is_ok() {
                    let mut writes = Vec::new();
                    result = m.take_writes(&mut writes).and_then(|()| ctx.write(writes));
                    if result.is_ok() {
                        m.written();
                    }
                }
            });
            result?;
        }
        ctx.tick();
        Ok(())
    }

    /// The first failure to read the spill since the last call, if any, and forgets it. A
    /// bounded state that failed to read may have answered a look-up wrongly (it kept nothing
    /// of that look-up): the caller refuses what it decided, or stops if it was applying.
    #[must_use]
    pub fn take_spill_failure(&self) -> Option<String> {
        self.spill.0.as_ref().and_then(|c| c.take_failure())
    }

    /// Entries held in memory over all maps.
    #[must_use]
    pub fn held_entries(&self) -> usize {
        let mut held = 0;
        each_map!(ref self, m => held += m.held());
        held
    }

    /// The current version of a stream (0 when it has no entries).
    #[must_use]
    pub fn stream_version(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }

    /// How many entries were applied (the seq the next entry must have).
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether the genesis entry was applied.
    #[must_use]
    pub fn has_genesis(&self) -> bool {
        self.platform_name.is_some()
    }

    /// The current key (base64) of an actor.
    #[must_use]
    pub fn current_key(&self, actor: &str) -> Option<&str> {
        self.actor_keys.get(actor).map(String::as_str)
    }

    /// A key's record.
    #[must_use]
    pub fn key(&self, key: &str) -> Option<&KeyRecord> {
        self.keys.get(&Key32::base64(key))
    }

    /// A party.
    #[must_use]
    pub fn party(&self, id: &str) -> Option<&Party> {
        self.parties.get(id)
    }

    /// An agency.
    #[must_use]
    pub fn agency(&self, id: &str) -> Option<&Agency> {
        self.agencies.get(id)
    }

    /// Every agency.
    pub fn agencies(&self) -> impl Iterator<Item = &Agency> {
        self.agencies.values()
    }

    /// An agent.
    #[must_use]
    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    /// A bank.
    #[must_use]
    pub fn bank(&self, id: &str) -> Option<&Bank> {
        self.banks.get(id)
    }

    /// Every bank.
    pub fn banks(&self) -> impl Iterator<Item = &Bank> {
        self.banks.values()
    }

    /// A filing office.
    #[must_use]
    pub fn office(&self, id: &str) -> Option<&Office> {
        self.offices.get(id)
    }

    /// Every filing office.
    pub fn offices(&self) -> impl Iterator<Item = &Office> {
        self.offices.values()
    }

    /// A property.
    #[must_use]
    pub fn property(&self, id: &str) -> Option<&Property> {
        self.properties.get(id)
    }

    /// A property by certificate number (either format; normalised first).
    #[must_use]
    pub fn property_by_certificate(&self, certificate_no: &str) -> Option<&Property> {
        let normal = crate::validate::certificate_no("certificate_no", certificate_no).ok()?;
        self.certificates
            .get(&normal.normal)
            .and_then(|id| self.properties.get(id))
    }

    /// A property verification.
    #[must_use]
    pub fn verification(&self, id: &str) -> Option<&Verification> {
        self.verifications.get(id)
    }

    /// An entrustment.
    #[must_use]
    pub fn entrustment(&self, id: &str) -> Option<&Entrustment> {
        self.entrustments.get(id)
    }

    /// A listing.
    #[must_use]
    pub fn listing(&self, id: &str) -> Option<&Listing> {
        self.listings.get(id)
    }

    /// A listing by its verification code.
    #[must_use]
    pub fn listing_by_code(&self, code: &str) -> Option<&Listing> {
        self.listing_codes
            .get(code)
            .and_then(|id| self.listings.get(id))
    }

    /// Listings shown to the public (active), in id order.
    pub fn active_listings(&self) -> impl Iterator<Item = &Listing> {
        self.listings
            .values()
            .filter(|l| l.status == ListingStatus::Active)
    }

    /// Every listing, in id order (any status).
    pub fn listings(&self) -> impl Iterator<Item = &Listing> {
        self.listings.values()
    }

    /// Every property on the registry, in id order.
    pub fn properties(&self) -> impl Iterator<Item = &Property> {
        self.properties.values()
    }

    /// Every agent, in id order (any status).
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// Every contract, in id order.
    pub fn contracts(&self) -> impl Iterator<Item = &Contract> {
        self.contracts.values()
    }

    /// Verifications of a property (its deals), in id order.
    pub fn verifications_of_property<'a>(
        &'a self,
        property: &'a str,
    ) -> impl Iterator<Item = &'a Verification> {
        self.verifications
            .values()
            .filter(move |v| v.property == property)
    }

    /// Entrustments given to an agent, in id order.
    pub fn entrustments_of_agent<'a>(
        &'a self,
        agent: &'a str,
    ) -> impl Iterator<Item = &'a Entrustment> {
        self.entrustments.values().filter(move |e| e.agent == agent)
    }

    /// Proxy filings where the party is proxy or principal, in id order.
    pub fn proxies_of_party<'a>(&'a self, party: &'a str) -> impl Iterator<Item = &'a Proxy> {
        self.proxies
            .values()
            .filter(move |x| x.proxy == party || x.principal == party)
    }

    /// A viewing.
    #[must_use]
    pub fn viewing(&self, id: &str) -> Option<&Viewing> {
        self.viewings.get(id)
    }

    /// Viewings of a listing (what the seller sees), in id order.
    pub fn viewings_of_listing<'a>(
        &'a self,
        listing: &'a str,
    ) -> impl Iterator<Item = &'a Viewing> {
        self.viewings.values().filter(move |v| v.listing == listing)
    }

    /// A loan pre-check.
    #[must_use]
    pub fn precheck(&self, id: &str) -> Option<&Precheck> {
        self.prechecks.get(id)
    }

    /// A contract.
    #[must_use]
    pub fn contract(&self, id: &str) -> Option<&Contract> {
        self.contracts.get(id)
    }

    /// A contract by filing code.
    #[must_use]
    pub fn contract_by_filing_code(&self, code: &str) -> Option<&Contract> {
        self.filing_codes
            .get(code)
            .and_then(|id| self.contracts.get(id))
    }

    /// Contracts where the party is buyer or seller ("contract management").
    pub fn contracts_of_party<'a>(&'a self, party: &'a str) -> impl Iterator<Item = &'a Contract> {
        self.contracts
            .values()
            .filter(move |c| c.buyer == party || c.seller == party)
    }

    /// A proxy filing.
    #[must_use]
    pub fn proxy(&self, id: &str) -> Option<&Proxy> {
        self.proxies.get(id)
    }

    /// An erasure receipt.
    #[must_use]
    pub fn erasure(&self, id: &str) -> Option<&Erasure> {
        self.erasures.get(id)
    }

    /// Certified agents of certified agencies (optionally of one agency), best first: by
    /// Bayesian score, then by number of ratings, then by id (see [`crate::rating`]).
    #[must_use]
    pub fn agents_by_rating(&self, agency: Option<&str>) -> Vec<RatedAgent> {
        let mut out: Vec<RatedAgent> = self
            .agents
            .values()
            .filter(|a| a.status == CertStatus::Certified && !a.erased)
            .filter(|a| agency.is_none_or(|g| a.agency == g))
            .filter(|a| {
                self.agencies
                    .get(&a.agency)
                    .is_some_and(|g| g.status == CertStatus::Certified)
            })
            .map(|a| RatedAgent {
                agent: a.id.clone(),
                agency: a.agency.clone(),
                licence_no: a.licence_no.clone(),
                score_x100: crate::rating::score_x100(a.rating_sum, a.rating_count),
                rating_count: a.rating_count,
                rating_sum: a.rating_sum,
            })
            .collect();
        out.sort_by(|a, b| {
            b.score_x100
                .cmp(&a.score_x100)
                .then(b.rating_count.cmp(&a.rating_count))
                .then(a.agent.cmp(&b.agent))
        });
        out
    }

    /// The canonical bytes of the whole state, for comparing replays.
    ///
    /// # Errors
    /// Never in practice (the state holds no floats); reported rather than assumed.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, deedlog_core::canonical::CanonicalError> {
        deedlog_core::canonical::to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Key32;

    #[test]
    fn only_the_canonical_text_of_32_bytes_becomes_those_bytes() {
        let hex = "ab".repeat(32);
        assert_eq!(Key32::hex(&hex).0, [0xab; 32]);
        // Upper case, short, long and non-hex text each get a key of their own, never the bytes.
        for other in [
            "AB".repeat(32),
            "ab".repeat(31),
            "ab".repeat(33),
            "zz".repeat(32),
        ] {
            assert_ne!(Key32::hex(&other), Key32::hex(&hex), "{other}");
            assert_eq!(Key32::hex(&other), Key32::hex(&other));
        }
        let key = deedlog_core::keys::base64(&[7u8; 32]);
        assert_eq!(Key32::base64(&key).0, [7u8; 32]);
        let unpadded = key.trim_end_matches('=').to_owned();
        assert_ne!(Key32::base64(&unpadded), Key32::base64(&key));
        // The same 32 bytes as hex and as base64 are one key; the text kinds never mix up
        // different bytes.
        assert_eq!(
            Key32::hex(&"07".repeat(32)),
            Key32::base64(&key),
            "both name the same bytes"
        );
        assert_ne!(Key32::hex(&key), Key32::base64(&key));
    }
}
