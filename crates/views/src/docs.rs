//! The view documents: one JSON document per aggregate, computed from the domain state right
//! after an entry is applied, plus the few histories (prices, contract documents) that only the
//! sequence of entries can tell.
//!
//! Every document is a pure function of the log prefix it was computed at, serialized with the
//! core's canonical encoder, so a rebuild from zero writes byte-identical documents. No document
//! holds personal data in clear: parties appear by id, people only by commitments.
//!
//! With the `schema` feature every document type also has its JSON Schema (utoipa `ToSchema`),
//! for the API's OpenAPI document. An `Option` field is served as `null` when absent, never
//! left out, so its schema marks it required.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use deedlog_core::Entry;
use deedlog_domain::State;
use deedlog_domain::ids::{self, IdKind};
use deedlog_domain::state::{
    CertStatus, ContractStatus, ListingStatus, ProxyStatus, VerificationStatus,
};

/// The snake_case name of a serializable enum value (`"active"`), or `""`.
pub(crate) fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A party (private to the party).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PartyDoc {
    /// `party/PA-…`.
    pub id: String,
    /// Real-name verified (and not erased).
    pub verified: bool,
    /// `online_face` or `office`, once attested.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub identity_method: Option<String>,
    /// When registered.
    pub registered_at_ms: i64,
    /// When attested.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub verified_at_ms: Option<i64>,
    /// Personal data erased.
    pub erased: bool,
    /// The commitment registered with.
    pub phone_commitment: String,
    /// The current key, if any.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub key: Option<String>,
    /// Seq that created the party.
    pub created_seq: u64,
}

/// An agency (public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AgencyDoc {
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
    /// `certified` or `suspended`.
    pub status: String,
    /// Number of agents.
    pub agents: u64,
}

/// An agent (public: licence, agency, status, rating; never its name or phone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AgentDoc {
    /// `agent/AT-…`.
    pub id: String,
    /// Its agency.
    pub agency: String,
    /// The agency's name.
    pub agency_name: String,
    /// Licence number.
    pub licence_no: String,
    /// `certified` or `suspended`.
    pub status: String,
    /// Whether it is offered to sellers (certified, agency certified, not erased).
    pub offered: bool,
    /// Bayesian score ×100 (see the domain's `rating` module).
    pub score_x100: u64,
    /// Number of ratings.
    pub rating_count: u64,
    /// Sum of stars.
    pub rating_sum: u64,
}

/// A bank (public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BankDoc {
    /// `bank/BK-…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Branch.
    pub branch: String,
}

/// A filing office (public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct OfficeDoc {
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

/// The public facts of a property, as shown to its seller for confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PropertyFacts {
    /// `property/PR-…`.
    pub id: String,
    /// Certificate number.
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
    /// Owners (commitments and shares only).
    pub owners: u64,
    /// Mortgage.
    #[cfg_attr(feature = "schema", schema(value_type = Option<deedlog_domain::payload::Mortgage>))]
    pub mortgage: Value,
    /// Seizure.
    #[cfg_attr(feature = "schema", schema(value_type = Option<deedlog_domain::payload::Seizure>))]
    pub seizure: Value,
}

/// A property verification (private to the seller and consenting co-owners).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct VerificationDoc {
    /// `verification/PV-…`.
    pub id: String,
    /// The verification code.
    pub code: String,
    /// The seller.
    pub seller: String,
    /// Status.
    pub status: String,
    /// The property as on the registry now.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub property: Option<PropertyFacts>,
    /// Co-owners' consents still needed.
    pub consents_pending: u64,
    /// Co-owners who consented.
    pub consented_by: Vec<String>,
    /// The mortgage shown at verification.
    #[cfg_attr(feature = "schema", schema(value_type = Option<deedlog_domain::payload::Mortgage>))]
    pub mortgage: Value,
    /// When requested.
    pub requested_at_ms: i64,
    /// The latest sale entrustment.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub sale_entrustment: Option<String>,
    /// The live listing.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub live_listing: Option<String>,
    /// The live contract.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub live_contract: Option<String>,
    /// Seq that created it.
    pub created_seq: u64,
}

/// An entrustment (private to principal and agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EntrustmentDoc {
    /// `entrustment/EN-…`.
    pub id: String,
    /// The entrusting party.
    pub principal: String,
    /// The agent.
    pub agent: String,
    /// Sale or purchase terms (`{"type":"sale",…}`).
    pub terms: Value,
    /// End of the period.
    pub expires_at_ms: i64,
    /// Status.
    pub status: String,
    /// When created.
    pub created_at_ms: i64,
    /// Seq that created it.
    pub created_seq: u64,
}

/// The agent of a listing, as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ListingAgent {
    /// `agent/AT-…`.
    pub id: String,
    /// Licence number.
    pub licence_no: String,
    /// Its agency: `{id, name, licence_no}`.
    pub agency: Value,
}

/// One price the public saw, with the entry that made it show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PricePoint {
    /// Seq of the entry that made this price show.
    pub seq: u64,
    /// The price in fen.
    pub price_fen: u64,
    /// When.
    pub recorded_at_ms: i64,
    /// Who signed that entry.
    pub signer: String,
    /// Its event kind.
    pub kind: String,
}

/// A listing (public, except `pending`, which only its seller and agent see).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ListingDoc {
    /// `listing/LS-…`.
    pub id: String,
    /// The listing verification code.
    pub code: String,
    /// Status.
    pub status: String,
    /// Shown price in fen.
    pub price_fen: u64,
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
    /// Shown photo hashes.
    pub photos: Vec<String>,
    /// No agent.
    pub self_listed: bool,
    /// Agent edits wait for the seller's approval.
    pub review_agent_edits: bool,
    /// The agent, if any.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub agent: Option<ListingAgent>,
    /// The seller.
    pub seller: String,
    /// The entrustment, if any.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub entrustment: Option<String>,
    /// The verification.
    pub verification: String,
    /// The property verification code.
    pub verification_code: String,
    /// The property.
    pub property: String,
    /// When first published.
    pub published_at_ms: i64,
    /// Seq of the last change that shows.
    pub updated_seq: u64,
    /// Seq that created the listing.
    pub created_seq: u64,
    /// Every price that was shown.
    pub price_history: Vec<PricePoint>,
    /// A change waiting for the seller's review (private).
    pub pending: Value,
    /// Whether the listing was ever shown to the public.
    pub ever_shown: bool,
}

/// A viewing (private to buyer, seller, agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ViewingDoc {
    /// `viewing/VW-…`.
    pub id: String,
    /// The listing.
    pub listing: String,
    /// The listing's seller.
    pub seller: String,
    /// The buyer.
    pub buyer: String,
    /// The agent, if any.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub agent: Option<String>,
    /// Slot start.
    pub slot_start_ms: i64,
    /// Slot end.
    pub slot_end_ms: i64,
    /// Status.
    pub status: String,
    /// The agent's note.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub note: Option<String>,
    /// Stars given.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub stars: Option<u8>,
    /// Seq that created it.
    pub created_seq: u64,
}

/// A loan pre-check (private to buyer and bank).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PrecheckDoc {
    /// `precheck/LP-…`.
    pub id: String,
    /// The viewing.
    pub viewing: String,
    /// The listing.
    pub listing: String,
    /// The buyer.
    pub buyer: String,
    /// The bank.
    pub bank: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// Term in months.
    pub term_months: u16,
    /// The bank's assessment, once given.
    pub assessment: Value,
    /// Seq that created it.
    pub created_seq: u64,
}

/// A contract document hash and the entry that introduced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DocumentVersion {
    /// SHA-256 of the document.
    pub hash: String,
    /// Seq of the draft or amendment.
    pub seq: u64,
}

/// A contract (private to its parties, the housing authority and offices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ContractDoc {
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
    /// The agent, if any.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub agent: Option<String>,
    /// Current terms.
    #[cfg_attr(feature = "schema", schema(value_type = deedlog_domain::payload::ContractTerms))]
    pub terms: Value,
    /// Current document hash.
    pub document_hash: String,
    /// Every document hash, in order.
    pub documents: Vec<DocumentVersion>,
    /// Roles that confirmed the current document.
    pub confirmed: Vec<String>,
    /// Role → seq of its signature on the current document.
    #[cfg_attr(feature = "schema", schema(value_type = std::collections::BTreeMap<String, u64>))]
    pub signatures: Value,
    /// Status.
    pub status: String,
    /// Why it moved offline.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub offline_reason: Option<String>,
    /// The office that verified the paper contract and the scan's hash.
    pub offline_verified: Value,
    /// The filing code.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub filing_code: Option<String>,
    /// Seq of the filing.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub filed_seq: Option<u64>,
    /// Why cancelled.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub cancel_reason: Option<String>,
    /// Seq that created it.
    pub created_seq: u64,
}

/// A proxy filing (private to proxy, principal, the housing authority and offices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ProxyDoc {
    /// `proxy/PX-…`.
    pub id: String,
    /// The proxy.
    pub proxy: String,
    /// The principal.
    pub principal: String,
    /// The property.
    pub property: String,
    /// Allowed actions.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<deedlog_domain::payload::ProxyAction>))]
    pub scope: Value,
    /// Expiry.
    pub expires_at_ms: i64,
    /// Document hashes.
    pub document_hashes: Vec<String>,
    /// Status.
    pub status: String,
    /// The office that verified it.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub verified_by: Option<String>,
    /// Seq that created it.
    pub created_seq: u64,
}

/// An actor's current key (public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct KeyDoc {
    /// The actor.
    pub actor: String,
    /// Its current key, standard base64.
    pub key: String,
    /// Seq that registered the key.
    pub since_seq: u64,
}

/// Any document, by the kind of its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
// Documents live briefly, one at a time; boxing every variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Doc {
    Party(PartyDoc),
    Agency(AgencyDoc),
    Agent(AgentDoc),
    Bank(BankDoc),
    Office(OfficeDoc),
    Verification(VerificationDoc),
    Entrustment(EntrustmentDoc),
    Listing(Box<ListingDoc>),
    Viewing(ViewingDoc),
    Precheck(PrecheckDoc),
    Contract(Box<ContractDoc>),
    Proxy(ProxyDoc),
}

impl Doc {
    /// Decodes stored bytes as the document kind of `id`.
    ///
    /// # Errors
    /// serde's error when the bytes are not that kind's document.
    pub fn decode(id: &str, bytes: &[u8]) -> Result<Option<Self>, serde_json::Error> {
        Ok(Some(match kind_of(id) {
            Some(IdKind::Party) => Self::Party(serde_json::from_slice(bytes)?),
            Some(IdKind::Agency) => Self::Agency(serde_json::from_slice(bytes)?),
            Some(IdKind::Agent) => Self::Agent(serde_json::from_slice(bytes)?),
            Some(IdKind::Bank) => Self::Bank(serde_json::from_slice(bytes)?),
            Some(IdKind::Office) => Self::Office(serde_json::from_slice(bytes)?),
            Some(IdKind::Verification) => Self::Verification(serde_json::from_slice(bytes)?),
            Some(IdKind::Entrustment) => Self::Entrustment(serde_json::from_slice(bytes)?),
            Some(IdKind::Listing) => Self::Listing(serde_json::from_slice(bytes)?),
            Some(IdKind::Viewing) => Self::Viewing(serde_json::from_slice(bytes)?),
            Some(IdKind::Precheck) => Self::Precheck(serde_json::from_slice(bytes)?),
            Some(IdKind::Contract) => Self::Contract(serde_json::from_slice(bytes)?),
            Some(IdKind::Proxy) => Self::Proxy(serde_json::from_slice(bytes)?),
            _ => return Ok(None),
        }))
    }
}

/// The aggregate kind of an id, among those that have documents.
#[must_use]
pub fn kind_of(id: &str) -> Option<IdKind> {
    [
        IdKind::Party,
        IdKind::Agency,
        IdKind::Agent,
        IdKind::Bank,
        IdKind::Office,
        IdKind::Property,
        IdKind::Verification,
        IdKind::Entrustment,
        IdKind::Listing,
        IdKind::Viewing,
        IdKind::Precheck,
        IdKind::Contract,
        IdKind::Proxy,
    ]
    .into_iter()
    .find(|k| k.matches(id))
}

fn property_facts(state: &State, id: &str) -> Option<PropertyFacts> {
    let p = state.property(id)?;
    Some(PropertyFacts {
        id: p.id.clone(),
        certificate_no: p.certificate_no.clone(),
        district: p.district.clone(),
        community: p.community.clone(),
        address: p.address.clone(),
        area_centi_m2: p.area_centi_m2,
        rooms: p.rooms,
        halls: p.halls,
        bathrooms: p.bathrooms,
        floor: p.floor,
        floors_total: p.floors_total,
        built_year: p.built_year,
        usage: p.usage.clone(),
        owners: p.owners.len() as u64,
        mortgage: to_value(&p.mortgage),
        seizure: to_value(&p.seizure),
    })
}

/// Computes the document of `id` from the state after `entry`, given the previous document.
/// `None` when the id has no document (or the aggregate does not exist).
#[must_use]
pub fn compute(state: &State, id: &str, old: Option<&Doc>, entry: &Entry) -> Option<Doc> {
    let mut doc = fresh(state, id, entry)?;
    carry(&mut doc, old);
    Some(doc)
}

/// The part of `id`'s document the state after `entry` tells alone: the document as if the
/// aggregate had no earlier one (its first seq `entry.seq`, its histories only what `entry`
/// adds). [`carry`] completes it from the previous document. The sequencer takes this part right
/// after it applies an entry, so the projection needs no state of its own.
#[must_use]
pub fn fresh(state: &State, id: &str, entry: &Entry) -> Option<Doc> {
    let created_seq = entry.seq;
    Some(match kind_of(id)? {
        IdKind::Party => {
            let p = state.party(id)?;
            Doc::Party(PartyDoc {
                id: p.id.clone(),
                verified: p.verified(),
                identity_method: p.identity_method.as_ref().map(name),
                registered_at_ms: p.registered_at_ms,
                verified_at_ms: p.verified_at_ms,
                erased: p.erased,
                phone_commitment: p.phone_commitment.clone(),
                key: state.current_key(id).map(str::to_owned),
                created_seq,
            })
        }
        IdKind::Agency => {
            let a = state.agency(id)?;
            Doc::Agency(AgencyDoc {
                id: a.id.clone(),
                name: a.name.clone(),
                licence_no: a.licence_no.clone(),
                district: a.district.clone(),
                address: a.address.clone(),
                status: name(&a.status),
                agents: a.agents.len() as u64,
            })
        }
        IdKind::Agent => {
            let a = state.agent(id)?;
            let agency = state.agency(&a.agency);
            Doc::Agent(AgentDoc {
                id: a.id.clone(),
                agency: a.agency.clone(),
                agency_name: agency.map(|g| g.name.clone()).unwrap_or_default(),
                licence_no: a.licence_no.clone(),
                status: name(&a.status),
                offered: a.status == CertStatus::Certified
                    && !a.erased
                    && agency.is_some_and(|g| g.status == CertStatus::Certified),
                score_x100: deedlog_domain::rating::score_x100(a.rating_sum, a.rating_count),
                rating_count: a.rating_count,
                rating_sum: a.rating_sum,
            })
        }
        IdKind::Bank => {
            let b = state.bank(id)?;
            Doc::Bank(BankDoc {
                id: b.id.clone(),
                name: b.name.clone(),
                branch: b.branch.clone(),
            })
        }
        IdKind::Office => {
            let o = state.office(id)?;
            Doc::Office(OfficeDoc {
                id: o.id.clone(),
                name: o.name.clone(),
                district: o.district.clone(),
                address: o.address.clone(),
                hours: o.hours.clone(),
                phone: o.phone.clone(),
            })
        }
        IdKind::Verification => {
            let v = state.verification(id)?;
            Doc::Verification(VerificationDoc {
                id: v.id.clone(),
                code: v.code.clone(),
                seller: v.seller.clone(),
                status: name(&v.status),
                property: property_facts(state, &v.property),
                consents_pending: v.consents_pending.len() as u64,
                consented_by: v.consented_by.iter().cloned().collect(),
                mortgage: to_value(&v.mortgage),
                requested_at_ms: v.requested_at_ms,
                sale_entrustment: v.sale_entrustment.clone(),
                live_listing: v.live_listing.clone(),
                live_contract: v.live_contract.clone(),
                created_seq,
            })
        }
        IdKind::Entrustment => {
            let e = state.entrustment(id)?;
            Doc::Entrustment(EntrustmentDoc {
                id: e.id.clone(),
                principal: e.principal.clone(),
                agent: e.agent.clone(),
                terms: to_value(&e.terms),
                expires_at_ms: e.expires_at_ms,
                status: name(&e.status),
                created_at_ms: e.created_at_ms,
                created_seq,
            })
        }
        IdKind::Listing => Doc::Listing(Box::new(listing(state, id, entry)?)),
        IdKind::Viewing => {
            let v = state.viewing(id)?;
            Doc::Viewing(ViewingDoc {
                id: v.id.clone(),
                listing: v.listing.clone(),
                seller: state
                    .listing(&v.listing)
                    .map(|l| l.seller.clone())
                    .unwrap_or_default(),
                buyer: v.buyer.clone(),
                agent: v.agent.clone(),
                slot_start_ms: v.slot_start_ms,
                slot_end_ms: v.slot_end_ms,
                status: name(&v.status),
                note: v.note.clone(),
                stars: v.stars,
                created_seq,
            })
        }
        IdKind::Precheck => {
            let p = state.precheck(id)?;
            Doc::Precheck(PrecheckDoc {
                id: p.id.clone(),
                viewing: p.viewing.clone(),
                listing: p.listing.clone(),
                buyer: p.buyer.clone(),
                bank: p.bank.clone(),
                amount_fen: p.amount_fen,
                term_months: p.term_months,
                assessment: to_value(&p.assessment),
                created_seq,
            })
        }
        IdKind::Contract => {
            let c = state.contract(id)?;
            let documents = vec![DocumentVersion {
                hash: c.document_hash.clone(),
                seq: entry.seq,
            }];
            Doc::Contract(Box::new(ContractDoc {
                id: c.id.clone(),
                listing: c.listing.clone(),
                property: c.property.clone(),
                verification: c.verification.clone(),
                seller: c.seller.clone(),
                buyer: c.buyer.clone(),
                agent: c.agent.clone(),
                terms: to_value(&c.terms),
                document_hash: c.document_hash.clone(),
                documents,
                confirmed: c.confirmed.iter().map(name).collect(),
                signatures: to_value(&c.signatures),
                status: name(&c.status),
                offline_reason: c.offline_reason.clone(),
                offline_verified: to_value(&c.offline_verified),
                filing_code: c.filing_code.clone(),
                filed_seq: c.filed_seq,
                cancel_reason: c.cancel_reason.clone(),
                created_seq,
            }))
        }
        IdKind::Proxy => {
            let p = state.proxy(id)?;
            Doc::Proxy(ProxyDoc {
                id: p.id.clone(),
                proxy: p.proxy.clone(),
                principal: p.principal.clone(),
                property: p.property.clone(),
                scope: to_value(&p.scope),
                expires_at_ms: p.expires_at_ms,
                document_hashes: p.document_hashes.clone(),
                status: name(&p.status),
                verified_by: p.verified_by.clone(),
                created_seq,
            })
        }
        _ => return None,
    })
}

fn listing(state: &State, id: &str, entry: &Entry) -> Option<ListingDoc> {
    let l = state.listing(id)?;
    let shows = matches!(l.status, ListingStatus::Active);
    let ever_shown = shows;
    let mut price_history = Vec::new();
    if shows {
        price_history.push(PricePoint {
            seq: entry.seq,
            price_fen: l.price_fen,
            recorded_at_ms: entry.recorded_at_ms,
            signer: entry.signed.actor.clone(),
            kind: entry.kind.clone(),
        });
    }
    let agent = l.agent.as_ref().map(|a| {
        let agent = state.agent(a);
        let agency = agent.and_then(|t| state.agency(&t.agency));
        ListingAgent {
            id: a.clone(),
            licence_no: agent.map(|t| t.licence_no.clone()).unwrap_or_default(),
            agency: agency.map_or(
                Value::Null,
                |g| serde_json::json!({"id": g.id, "name": g.name, "licence_no": g.licence_no}),
            ),
        }
    });
    Some(ListingDoc {
        id: l.id.clone(),
        code: l.code.clone(),
        status: name(&l.status),
        price_fen: l.price_fen,
        area_centi_m2: l.area_centi_m2,
        rooms: l.rooms,
        halls: l.halls,
        bathrooms: l.bathrooms,
        floor: l.floor,
        floors_total: l.floors_total,
        district: l.district.clone(),
        community: l.community.clone(),
        title: l.title.clone(),
        description: l.description.clone(),
        photos: l.photos.clone(),
        self_listed: l.agent.is_none(),
        review_agent_edits: l.review,
        agent,
        seller: l.seller.clone(),
        entrustment: l.entrustment.clone(),
        verification: l.verification.clone(),
        verification_code: state
            .verification(&l.verification)
            .map(|v| v.code.clone())
            .unwrap_or_default(),
        property: l.property.clone(),
        published_at_ms: l.published_at_ms,
        updated_seq: l.updated_seq,
        created_seq: entry.seq,
        price_history,
        pending: to_value(&l.pending),
        ever_shown,
    })
}

/// Completes a [`fresh`] document from the previous document of the same id: its first seq,
/// the contract's document versions and the listing's price history and whether it ever showed.
pub fn carry(doc: &mut Doc, old: Option<&Doc>) {
    let Some(old) = old else { return };
    match (doc, old) {
        (Doc::Party(d), Doc::Party(o)) => d.created_seq = o.created_seq,
        (Doc::Verification(d), Doc::Verification(o)) => d.created_seq = o.created_seq,
        (Doc::Entrustment(d), Doc::Entrustment(o)) => d.created_seq = o.created_seq,
        (Doc::Viewing(d), Doc::Viewing(o)) => d.created_seq = o.created_seq,
        (Doc::Precheck(d), Doc::Precheck(o)) => d.created_seq = o.created_seq,
        (Doc::Proxy(d), Doc::Proxy(o)) => d.created_seq = o.created_seq,
        (Doc::Contract(d), Doc::Contract(o)) => {
            d.created_seq = o.created_seq;
            let mut documents = o.documents.clone();
            if documents.last().is_none_or(|v| v.hash != d.document_hash) {
                documents.append(&mut d.documents);
            }
            d.documents = documents;
        }
        (Doc::Listing(d), Doc::Listing(o)) => {
            d.created_seq = o.created_seq;
            d.ever_shown = d.ever_shown || o.ever_shown;
            let mut history = o.price_history.clone();
            if history.last().is_none_or(|p| p.price_fen != d.price_fen) {
                history.append(&mut d.price_history);
            }
            d.price_history = history;
        }
        _ => {}
    }
}

/// The ids whose documents an entry may change: its stream, its actor, every id named in its
/// payload or derived values, and the aggregates linked to those (twice over, so that filing a
/// contract reaches the listing's entrustment).
#[must_use]
pub fn touched(state: &State, entry: &Entry) -> std::collections::BTreeSet<String> {
    use std::collections::BTreeSet;
    let mut ids: BTreeSet<String> = BTreeSet::new();
    ids.insert(entry.stream.clone());
    ids.insert(entry.signed.actor.clone());
    collect_ids(&entry.signed.payload, &mut ids);
    collect_ids(&entry.derived, &mut ids);
    if entry.signed.kind == "platform.genesis" {
        ids.insert(ids::PLATFORM.to_owned());
        for a in ids::AUTHORITIES {
            ids.insert(a.to_owned());
        }
    }
    for _ in 0..2 {
        let mut more = Vec::new();
        for id in &ids {
            linked(state, id, &mut more);
        }
        ids.extend(more);
    }
    ids
}

fn collect_ids(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::String(s)
            if s.len() <= 128 && (kind_of(s).is_some() || ids::actor_kind(s).is_some()) =>
        {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| collect_ids(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_ids(v, out)),
        _ => {}
    }
}

fn linked(state: &State, id: &str, out: &mut Vec<String>) {
    let mut push = |s: &Option<String>| {
        if let Some(s) = s {
            out.push(s.clone());
        }
    };
    match kind_of(id) {
        Some(IdKind::Listing) => {
            if let Some(l) = state.listing(id) {
                push(&Some(l.verification.clone()));
                push(&l.entrustment);
                push(&l.agent);
                push(&Some(l.property.clone()));
                push(&l.contract);
            }
        }
        Some(IdKind::Verification) => {
            if let Some(v) = state.verification(id) {
                push(&Some(v.property.clone()));
                push(&v.live_listing);
                push(&v.live_contract);
                push(&v.sale_entrustment);
            }
        }
        Some(IdKind::Contract) => {
            if let Some(c) = state.contract(id) {
                push(&Some(c.listing.clone()));
                push(&Some(c.verification.clone()));
            }
        }
        Some(IdKind::Entrustment) => {
            if let Some(e) = state.entrustment(id)
                && let deedlog_domain::state::EntrustmentTerms::Sale { verification, .. } = &e.terms
            {
                push(&Some(verification.clone()));
            }
        }
        Some(IdKind::Viewing) => {
            if let Some(v) = state.viewing(id) {
                push(&Some(v.listing.clone()));
            }
        }
        Some(IdKind::Precheck) => {
            if let Some(p) = state.precheck(id) {
                push(&Some(p.viewing.clone()));
            }
        }
        Some(IdKind::Agency) => {
            if let Some(a) = state.agency(id) {
                out.extend(a.agents.iter().cloned());
            }
        }
        Some(IdKind::Agent) => {
            if let Some(a) = state.agent(id) {
                push(&Some(a.agency.clone()));
            }
        }
        Some(IdKind::Property) => {
            if let Some(p) = state.property(id) {
                push(&p.live_verification);
            }
        }
        _ => {}
    }
}

/// The actor's current key document.
#[must_use]
pub fn key_doc(state: &State, actor: &str) -> Option<KeyDoc> {
    let key = state.current_key(actor)?;
    Some(KeyDoc {
        actor: actor.to_owned(),
        key: key.to_owned(),
        since_seq: state.key(key).map_or(0, |r| r.since_seq),
    })
}

/// Which queue of an authority a document belongs in, if any.
#[must_use]
pub fn queue_of(doc: &Doc) -> Option<&'static str> {
    match doc {
        Doc::Contract(c) => match c.status.as_str() {
            s if s == name(&ContractStatus::Signed)
                || s == name(&ContractStatus::OfflineVerified) =>
            {
                Some(QUEUE_TO_FILE)
            }
            s if s == name(&ContractStatus::Offline) => Some(QUEUE_OFFLINE),
            _ => None,
        },
        Doc::Proxy(p) if p.status == name(&ProxyStatus::Filed) => Some(QUEUE_PROXIES),
        _ => None,
    }
}

/// Contracts signed (or verified offline) and waiting to be filed.
pub const QUEUE_TO_FILE: &str = "contracts-to-file";
/// Contracts moved offline, waiting for a filing office.
pub const QUEUE_OFFLINE: &str = "offline-contracts";
/// Proxy filings waiting for a filing office.
pub const QUEUE_PROXIES: &str = "proxies-to-verify";

/// Whether a verification is live.
#[must_use]
pub fn verification_live(status: &str) -> bool {
    status == name(&VerificationStatus::PendingConsent)
        || status == name(&VerificationStatus::Verified)
}

/// The JSON Schemas of the view documents, by name (`ListingDoc`, …), for the API's OpenAPI
/// document: generated from the document types themselves, so that what is documented is what
/// is served.
#[cfg(feature = "schema")]
#[must_use]
pub fn doc_schemas() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    fn one<T: utoipa::ToSchema>(
        out: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        T::schemas(out);
        out.push((
            T::name().into_owned(),
            <T as utoipa::PartialSchema>::schema(),
        ));
    }
    let mut out = Vec::new();
    one::<PartyDoc>(&mut out);
    one::<AgencyDoc>(&mut out);
    one::<AgentDoc>(&mut out);
    one::<BankDoc>(&mut out);
    one::<OfficeDoc>(&mut out);
    one::<PropertyFacts>(&mut out);
    one::<VerificationDoc>(&mut out);
    one::<EntrustmentDoc>(&mut out);
    one::<ListingAgent>(&mut out);
    one::<PricePoint>(&mut out);
    one::<ListingDoc>(&mut out);
    one::<ViewingDoc>(&mut out);
    one::<PrecheckDoc>(&mut out);
    one::<DocumentVersion>(&mut out);
    one::<ContractDoc>(&mut out);
    one::<ProxyDoc>(&mut out);
    one::<KeyDoc>(&mut out);
    out
}
