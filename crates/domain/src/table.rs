//! The authorization table: for every command kind, who may sign it, on which stream, whether the
//! acting party must be real-name verified, which proxy action covers it, its preconditions,
//! effect, events and rejection codes.
//!
//! `decide` enforces the generic columns (stream, signer, key, real name, proxy scope) straight
//! from this table before the kind's own rules run, and `docs/EVENTS.md` is rendered from it
//! (see [`crate::docs`]), so the catalogue and the code cannot drift apart.

use serde_json::{Value, json};

use crate::ids::{self, IdKind};
use crate::payload::ProxyAction;
use crate::rejection::{Code, codes as c};

/// Who may sign a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// `platform`.
    Platform,
    /// `authority/housing`.
    Housing,
    /// `authority/identity`.
    Identity,
    /// `authority/registry`.
    Registry,
    /// Any `party/PA-…` (further rules say which party).
    Party,
    /// Any `agent/AT-…` (further rules say which agent).
    Agent,
    /// Any `bank/BK-…`.
    Bank,
    /// Any `office/OF-…`.
    Office,
    /// The actor whose stream it is (`actor == stream`).
    StreamOwner,
}

impl Signer {
    /// Whether `actor` is of this kind, for a command on `stream`.
    #[must_use]
    pub fn admits(self, actor: &str, stream: &str) -> bool {
        match self {
            Self::Platform => actor == ids::PLATFORM,
            Self::Housing => actor == ids::HOUSING,
            Self::Identity => actor == ids::IDENTITY,
            Self::Registry => actor == ids::REGISTRY,
            Self::Party => IdKind::Party.matches(actor),
            Self::Agent => IdKind::Agent.matches(actor),
            Self::Bank => IdKind::Bank.matches(actor),
            Self::Office => IdKind::Office.matches(actor),
            Self::StreamOwner => actor == stream,
        }
    }

    /// The name used in documents.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Housing => "authority/housing",
            Self::Identity => "authority/identity",
            Self::Registry => "authority/registry",
            Self::Party => "party",
            Self::Agent => "agent",
            Self::Bank => "bank",
            Self::Office => "office",
            Self::StreamOwner => "the stream's own actor",
        }
    }
}

/// Whether the command creates its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamUse {
    /// The stream must be new (version 0): the command creates the aggregate.
    Create,
    /// The stream must exist.
    Existing,
    /// Either (key commands on actors' streams).
    Any,
}

/// Who may read a kind's payload (its entry's opening). Every entry's bytes are public: its
/// existence, position, signer and signature; the payload travels beside it (FORMAT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone: listing facts, prices shown, photo hashes, registry facts, codes, statuses.
    Public,
    /// Everyone, but only once the change shows: a listing proposal that waits for the
    /// seller's review stays confidential until approved (and forever if rejected).
    PublicOnceShown,
    /// Only the stream's parties, the signer, the housing authority and registered auditors:
    /// loan requests and assessments, contract terms, viewing records, ratings, identity
    /// attestations, owners' commitments, proxy scopes, floor prices, mortgages and anything
    /// holding free text.
    Confidential,
}

impl Visibility {
    /// The name used in documents.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::PublicOnceShown => {
                "public once shown (while it waits for the seller's review, and forever if \
                 rejected, confidential)"
            }
            Self::Confidential => {
                "confidential (the stream's parties, the signer, the housing authority and \
                 registered auditors)"
            }
        }
    }
}

/// The seq of the listing proposal that `entry` (just applied) makes show, if any: a publish,
/// price or photo change that took effect at once, or the proposal a `listing.approve` names.
/// Those entries' payloads become public (the kind's visibility is "public once shown").
#[must_use]
pub fn shown_proposal(state: &crate::State, entry: &deedlog_core::Entry) -> Option<u64> {
    match entry.signed.kind.as_str() {
        "listing.publish" | "listing.change_price" | "listing.change_photos" => {
            let listing = state.listing(&entry.stream)?;
            let waiting = listing.pending.as_ref().is_some_and(|p| p.seq == entry.seq);
            (!waiting).then_some(entry.seq)
        }
        "listing.approve" => entry
            .signed
            .payload
            .get("proposal_seq")
            .and_then(serde_json::Value::as_u64),
        _ => None,
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Command kind.
    pub kind: &'static str,
    /// Who may read its payload.
    pub visibility: Visibility,
    /// Event kinds it may produce.
    pub events: &'static [&'static str],
    /// Stream kinds it may be issued on.
    pub streams: &'static [IdKind],
    /// New or existing stream.
    pub stream_use: StreamUse,
    /// Who may sign.
    pub signers: &'static [Signer],
    /// The acting party (and, through a proxy, the proxy) must be real-name verified.
    pub real_name: bool,
    /// The proxy action that covers it; `None` = no proxy may take this step.
    pub proxy: Option<ProxyAction>,
    /// Who, in words (roles and their conditions).
    pub who: &'static str,
    /// Preconditions checked by the kind's own rules.
    pub preconditions: &'static [&'static str],
    /// What applying the event changes.
    pub effect: &'static str,
    /// Rejection codes specific to this kind (the generic ones apply to every kind).
    pub rejections: &'static [Code],
    /// An example payload (checked by a test to parse).
    pub example: fn() -> Value,
}

/// Codes every command can get from the generic checks.
pub const GENERIC_REJECTIONS: &[Code] = &[
    c::UNKNOWN_KIND,
    c::BAD_STREAM,
    c::BAD_ACTOR,
    c::NO_GENESIS,
    c::UNKNOWN_ACTOR,
    c::KEY_MISMATCH,
    c::KEY_REVOKED,
    c::ROLE_NOT_ALLOWED,
    deedlog_core::decide::codes::VERSION_CONFLICT,
    c::STREAM_EXISTS,
    c::STREAM_NOT_FOUND,
    c::BAD_PAYLOAD,
    c::BAD_FIELD,
    c::NOT_NFC,
    c::PERSONAL_DATA,
    c::BAD_REFERENCE,
];

/// Codes of the real-name and proxy checks, for kinds acted by parties.
pub const PARTY_REJECTIONS: &[Code] = &[
    c::PARTY_NOT_VERIFIED,
    c::PARTY_ERASED,
    c::PROXY_NOT_ALLOWED,
    c::PROXY_NOT_FOUND,
    c::NOT_THE_PROXY,
    c::PROXY_NOT_VERIFIED,
    c::PROXY_REVOKED,
    c::PROXY_EXPIRED,
    c::OUT_OF_SCOPE,
];

/// Codes of the agent checks, for kinds acted by agents.
pub const AGENT_REJECTIONS: &[Code] = &[
    c::AGENT_NOT_FOUND,
    c::AGENT_SUSPENDED,
    c::AGENCY_SUSPENDED,
    c::NOT_ENTRUSTED,
    c::ENTRUSTMENT_EXPIRED,
];

const H: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const KEY_B64: &str = "base64 Ed25519 public key";
const SIG_B64: &str = "base64 Ed25519 signature";

fn commitment(n: u8) -> String {
    format!("{n:x}").repeat(64)
}

/// An example of contract terms (used in examples and the testkit).
#[must_use]
pub fn example_terms() -> Value {
    json!({
        "parties": {"seller": "party/PA-1", "buyer": "party/PA-2", "agent": "agent/AT-1"},
        "property": {"property": "property/PR-1", "certificate_no": "云(2021)昆明市不动产权第0012345号", "area_centi_m2": 8950},
        "title": {"discharge_before_transfer": false, "leased": false},
        "price": {"total_fen": 150_000_000, "method": "lump_sum", "schedule": [{"due_ms": 1_767_225_600_000_i64, "amount_fen": 150_000_000}]},
        "deposit": {"amount_fen": 5_000_000, "due_ms": 1_764_547_200_000_i64},
        "taxes": {"deed_tax": "buyer", "value_added_tax": "seller", "income_tax": "seller", "fees": "by_law"},
        "handover": {"date_ms": 1_769_904_000_000_i64, "condition": "现状交付，水电气已结清"},
        "transfer": {"apply_by_ms": 1_769_904_000_000_i64},
        "breach": {"late_permyriad_per_day": 5, "default_penalty_fen": 30_000_000},
        "disputes": {"method": "court", "venue": "昆明市五华区人民法院"}
    })
}

use IdKind as K;
use Signer as S;
use Visibility as V;

/// The table, in catalogue order.
pub const TABLE: &[CommandSpec] = &[
    CommandSpec {
        kind: "platform.genesis",
        visibility: V::Public,
        events: &["PlatformGenesis"],
        streams: &[K::Platform],
        stream_use: StreamUse::Create,
        signers: &[S::Platform],
        real_name: false,
        proxy: None,
        who: "the platform, self-signed by the `platform_key` it names",
        preconditions: &[
            "seq is 0 and the stream is `platform/genesis`",
            "the command's key is `platform_key`",
            "names authority/housing, authority/identity and authority/registry, all keys distinct and valid",
        ],
        effect: "registers the platform's and the authorities' keys",
        rejections: &[c::GENESIS_NOT_FIRST, c::GENESIS_INCOMPLETE, c::KEY_BAD],
        example: || {
            json!({"name": "昆明市存量房交易服务平台", "platform_key": KEY_B64,
                   "authorities": {"authority/housing": KEY_B64, "authority/identity": KEY_B64, "authority/registry": KEY_B64}})
        },
    },
    CommandSpec {
        kind: "key.rotate",
        visibility: V::Public,
        events: &["KeyRotated"],
        streams: &[
            K::Party,
            K::Agent,
            K::Bank,
            K::Office,
            K::Authority,
            K::Platform,
        ],
        stream_use: StreamUse::Any,
        signers: &[S::StreamOwner],
        real_name: false,
        proxy: None,
        who: "any actor, on its own stream (`stream == actor`), signed with its current key",
        preconditions: &[
            "the new key is valid, never registered before, and `proof` verifies (see keys.rs)",
        ],
        effect: "the new key becomes current; the old one is marked rotated and no longer authenticates",
        rejections: &[c::KEY_BAD, c::KEY_PROOF, c::KEY_IN_USE, c::PARTY_ERASED],
        example: || json!({"new_key": KEY_B64, "proof": SIG_B64}),
    },
    CommandSpec {
        kind: "key.revoke",
        visibility: V::Confidential,
        events: &["KeyRevoked"],
        streams: &[K::Party, K::Agent, K::Bank, K::Office],
        stream_use: StreamUse::Existing,
        signers: &[S::StreamOwner, S::Identity, S::Housing],
        real_name: false,
        proxy: None,
        who: "the actor itself; or authority/identity for a party; or authority/housing for an agent, bank or office",
        preconditions: &["`key` is the actor's current key"],
        effect: "the key is revoked; the actor has no key until `key.bind`",
        rejections: &[c::KEY_NOT_CURRENT],
        example: || json!({"key": KEY_B64, "reason": "手机丢失"}),
    },
    CommandSpec {
        kind: "key.bind",
        visibility: V::Public,
        events: &["KeyBound"],
        streams: &[K::Party, K::Agent, K::Bank, K::Office],
        stream_use: StreamUse::Existing,
        signers: &[S::Identity, S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/identity for a party (after re-checking the person); authority/housing for an agent, bank or office",
        preconditions: &[
            "the actor has no current key",
            "the key is valid, never registered before, and `proof` verifies for this actor",
        ],
        effect: "the key becomes the actor's current key",
        rejections: &[
            c::KEY_BOUND,
            c::KEY_BAD,
            c::KEY_PROOF,
            c::KEY_IN_USE,
            c::PARTY_ERASED,
        ],
        example: || json!({"key": KEY_B64, "proof": SIG_B64}),
    },
    CommandSpec {
        kind: "party.register",
        visibility: V::Confidential,
        events: &["PartyRegistered"],
        streams: &[K::Party],
        stream_use: StreamUse::Create,
        signers: &[S::StreamOwner],
        real_name: false,
        proxy: None,
        who: "a new citizen, `actor == stream = party/PA-…`, signed by the key it registers (proof of possession), with the identity authority's phone voucher",
        preconditions: &[
            "the key was never registered",
            "`voucher` names this party and this key, was issued at most 10 minutes before (and at most 1 minute after) the entry's time, and is signed by authority/identity's current key over the party, key, phone commitment and time",
            "the phone commitment is not used by another party",
        ],
        effect: "creates the party with its key",
        rejections: &[
            c::KEY_IN_USE,
            c::VOUCHER_MISSING,
            c::VOUCHER_WRONG_PARTY,
            c::VOUCHER_WRONG_KEY,
            c::VOUCHER_STALE,
            c::VOUCHER_BAD_SIGNATURE,
            c::PHONE_TAKEN,
        ],
        example: || json!({"phone_commitment": commitment(1), "voucher": {"party": "party/PA-7", "key": KEY_B64, "issued_at_ms": 1_764_547_200_000_i64, "signature": SIG_B64}}),
    },
    CommandSpec {
        kind: "party.attest_identity",
        visibility: V::Confidential,
        events: &["PartyIdentityAttested"],
        streams: &[K::Party],
        stream_use: StreamUse::Existing,
        signers: &[S::Identity, S::Office],
        real_name: false,
        proxy: None,
        who: "authority/identity with method `online_face`, after a check the person controls (an SMS code to the phone on file in the population register, or a face check); a filing office with method `office`, after checking the ID card in person",
        preconditions: &[
            "`office` is signed by a filing office and `online_face` by authority/identity",
            "the party is not yet attested",
            "no other party has this ID commitment",
        ],
        effect: "the party becomes real-name verified",
        rejections: &[
            c::METHOD_NOT_ALLOWED,
            c::PARTY_NOT_FOUND,
            c::PARTY_VERIFIED,
            c::ID_TAKEN,
            c::PARTY_ERASED,
        ],
        example: || json!({"name_commitment": commitment(2), "id_commitment": commitment(3), "method": "online_face"}),
    },
    CommandSpec {
        kind: "agency.certify",
        visibility: V::Public,
        events: &["AgencyCertified"],
        streams: &[K::Agency],
        stream_use: StreamUse::Create,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["the licence number is not certified yet"],
        effect: "creates a certified agency",
        rejections: &[c::LICENCE_TAKEN],
        example: || json!({"name": "昆明安居房产经纪有限公司", "licence_no": "KMJJ-2021-0001", "district": "五华区", "address": "昆明市五华区东风西路1号"}),
    },
    CommandSpec {
        kind: "agency.suspend",
        visibility: V::Confidential,
        events: &["AgencySuspended"],
        streams: &[K::Agency],
        stream_use: StreamUse::Existing,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["the agency is certified"],
        effect: "the agency is suspended; none of its agents may act",
        rejections: &[c::AGENCY_NOT_FOUND, c::AGENCY_STATUS],
        example: || json!({"reason": "违规发布房源"}),
    },
    CommandSpec {
        kind: "agency.reinstate",
        visibility: V::Public,
        events: &["AgencyReinstated"],
        streams: &[K::Agency],
        stream_use: StreamUse::Existing,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["the agency is suspended"],
        effect: "the agency is certified again",
        rejections: &[c::AGENCY_NOT_FOUND, c::AGENCY_STATUS],
        example: || json!({}),
    },
    CommandSpec {
        kind: "agent.certify",
        visibility: V::Public,
        events: &["AgentCertified"],
        streams: &[K::Agent],
        stream_use: StreamUse::Create,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &[
            "the agency exists and is certified",
            "the licence number is not certified yet",
            "if a key is given, it is new and its proof verifies for this agent",
        ],
        effect: "creates a certified agent in the agency (with its key, if given)",
        rejections: &[
            c::AGENCY_NOT_FOUND,
            c::AGENCY_SUSPENDED,
            c::LICENCE_TAKEN,
            c::KEY_BAD,
            c::KEY_PROOF,
            c::KEY_IN_USE,
        ],
        example: || {
            json!({"agency": "agency/AG-1", "licence_no": "KMJJR-2021-0101", "name_commitment": commitment(4),
                          "id_commitment": commitment(5), "phone_commitment": commitment(6), "key": {"key": KEY_B64, "proof": SIG_B64}})
        },
    },
    CommandSpec {
        kind: "agent.suspend",
        visibility: V::Confidential,
        events: &["AgentSuspended"],
        streams: &[K::Agent],
        stream_use: StreamUse::Existing,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["the agent is certified"],
        effect: "the agent is suspended and may not act",
        rejections: &[c::AGENT_NOT_FOUND, c::AGENT_STATUS],
        example: || json!({"reason": "资格证过期"}),
    },
    CommandSpec {
        kind: "agent.reinstate",
        visibility: V::Public,
        events: &["AgentReinstated"],
        streams: &[K::Agent],
        stream_use: StreamUse::Existing,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["the agent is suspended"],
        effect: "the agent is certified again",
        rejections: &[c::AGENT_NOT_FOUND, c::AGENT_STATUS],
        example: || json!({}),
    },
    CommandSpec {
        kind: "bank.register",
        visibility: V::Public,
        events: &["BankRegistered"],
        streams: &[K::Bank],
        stream_use: StreamUse::Create,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["if a key is given, it is new and its proof verifies for this bank"],
        effect: "creates the bank (with its key, if given)",
        rejections: &[c::KEY_BAD, c::KEY_PROOF, c::KEY_IN_USE],
        example: || json!({"name": "中国建设银行", "branch": "昆明五华支行"}),
    },
    CommandSpec {
        kind: "office.register",
        visibility: V::Public,
        events: &["OfficeRegistered"],
        streams: &[K::Office],
        stream_use: StreamUse::Create,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &["if a key is given, it is new and its proof verifies for this office"],
        effect: "creates the filing office (with its key, if given)",
        rejections: &[c::KEY_BAD, c::KEY_PROOF, c::KEY_IN_USE],
        example: || {
            json!({"name": "五华区不动产交易办理点", "district": "五华区", "address": "昆明市五华区人民中路2号",
                          "hours": "周一至周五 9:00-17:00", "phone": "0871-63000000"})
        },
    },
    CommandSpec {
        kind: "property.register",
        visibility: V::Confidential,
        events: &["PropertyRegistered"],
        streams: &[K::Property],
        stream_use: StreamUse::Create,
        signers: &[S::Registry],
        real_name: false,
        proxy: None,
        who: "authority/registry",
        preconditions: &[
            "the certificate number is valid and not registered to another property",
            "1-10 distinct owners whose shares add up to 100",
        ],
        effect: "creates the property with its owners, mortgage and seizure",
        rejections: &[c::CERTIFICATE_TAKEN, c::OWNER_SHARES],
        example: || {
            json!({"certificate_no": "云(2021)昆明市不动产权第0012345号", "district": "五华区", "community": "翠湖花园",
                          "address": "昆明市五华区翠湖南路8号3栋2单元501", "area_centi_m2": 8950, "rooms": 2, "halls": 1,
                          "bathrooms": 1, "floor": 5, "floors_total": 7, "built_year": 2005, "usage": "住宅",
                          "owners": [{"name_commitment": commitment(7), "id_commitment": commitment(8), "share_percent": 100}],
                          "mortgage": {"bank": "bank/BK-1", "amount_fen": 50_000_000}})
        },
    },
    CommandSpec {
        kind: "property.seize",
        visibility: V::Public,
        events: &["PropertySeized"],
        streams: &[K::Property],
        stream_use: StreamUse::Existing,
        signers: &[S::Registry],
        real_name: false,
        proxy: None,
        who: "authority/registry (recording a court's seizure, 查封)",
        preconditions: &["the property is not seized"],
        effect: "the property is seized: it cannot be verified, listed, contracted or filed",
        rejections: &[c::PROPERTY_NOT_FOUND, c::SEIZED],
        example: || json!({"court": "昆明市中级人民法院", "case_no": "(2024)云01执123号"}),
    },
    CommandSpec {
        kind: "property.release_seizure",
        visibility: V::Confidential,
        events: &["PropertySeizureReleased"],
        streams: &[K::Property],
        stream_use: StreamUse::Existing,
        signers: &[S::Registry],
        real_name: false,
        proxy: None,
        who: "authority/registry",
        preconditions: &["the property is seized"],
        effect: "the seizure is lifted",
        rejections: &[c::PROPERTY_NOT_FOUND, c::NOT_SEIZED],
        example: || json!({"reason": "案件执行完毕"}),
    },
    CommandSpec {
        kind: "property.mortgage",
        visibility: V::Confidential,
        events: &["PropertyMortgaged"],
        streams: &[K::Property],
        stream_use: StreamUse::Existing,
        signers: &[S::Registry],
        real_name: false,
        proxy: None,
        who: "authority/registry",
        preconditions: &["the property carries no mortgage"],
        effect: "records the mortgage (shown in verifications and required in contract terms)",
        rejections: &[c::PROPERTY_NOT_FOUND, c::MORTGAGED],
        example: || json!({"bank": "bank/BK-1", "amount_fen": 80_000_000}),
    },
    CommandSpec {
        kind: "property.discharge_mortgage",
        visibility: V::Public,
        events: &["PropertyMortgageDischarged"],
        streams: &[K::Property],
        stream_use: StreamUse::Existing,
        signers: &[S::Registry],
        real_name: false,
        proxy: None,
        who: "authority/registry",
        preconditions: &["the property carries a mortgage"],
        effect: "removes the mortgage",
        rejections: &[c::PROPERTY_NOT_FOUND, c::NOT_MORTGAGED],
        example: || json!({}),
    },
    CommandSpec {
        kind: "property.transfer",
        visibility: V::Confidential,
        events: &["PropertyTransferred"],
        streams: &[K::Property],
        stream_use: StreamUse::Existing,
        signers: &[S::Registry],
        real_name: false,
        proxy: None,
        who: "authority/registry (transfer registration)",
        preconditions: &[
            "the property is not in a live deal and not seized",
            "if a contract is named, it is filed and about this property",
            "a new certificate number, if given, is valid and unused",
        ],
        effect: "replaces the owners (and the certificate number)",
        rejections: &[
            c::PROPERTY_NOT_FOUND,
            c::LIVE_DEAL,
            c::SEIZED,
            c::OWNER_SHARES,
            c::CERTIFICATE_TAKEN,
            c::CONTRACT_NOT_FOUND,
            c::CONTRACT_STATUS,
        ],
        example: || {
            json!({"owners": [{"name_commitment": commitment(9), "id_commitment": commitment(10), "share_percent": 100}],
                          "contract": "contract/CT-1"})
        },
    },
    CommandSpec {
        kind: "property.verify",
        visibility: V::Public,
        events: &["PropertyVerified", "PropertyVerificationPending"],
        streams: &[K::Verification],
        stream_use: StreamUse::Create,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::VerifyProperty),
        who: "a real-name-verified owner (the seller), or their proxy",
        preconditions: &[
            "the certificate number is on the registry",
            "the seller's ID commitment is among the owners'",
            "the property is not seized and not in another live deal",
        ],
        effect: "starts the deal: verified at once for a sole owner, else pending the co-owners' consent; derives the verification code and shows the mortgage",
        rejections: &[c::PROPERTY_NOT_FOUND, c::NOT_OWNER, c::SEIZED, c::LIVE_DEAL],
        example: || json!({"certificate_no": "云(2021)昆明市不动产权第0012345号"}),
    },
    CommandSpec {
        kind: "verification.consent",
        visibility: V::Public,
        events: &["CoOwnerConsented"],
        streams: &[K::Verification],
        stream_use: StreamUse::Existing,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::VerifyProperty),
        who: "a real-name-verified co-owner whose consent is pending, or their proxy",
        preconditions: &[
            "the verification is pending consent",
            "the property is not seized",
        ],
        effect: "records the consent; the verification is verified when no consent is pending",
        rejections: &[
            c::VERIFICATION_NOT_FOUND,
            c::VERIFICATION_STATUS,
            c::CONSENT_NOT_NEEDED,
            c::SEIZED,
        ],
        example: || json!({}),
    },
    CommandSpec {
        kind: "verification.cancel",
        visibility: V::Confidential,
        events: &["VerificationCancelled"],
        streams: &[K::Verification],
        stream_use: StreamUse::Existing,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::VerifyProperty),
        who: "the seller, or their proxy",
        preconditions: &[
            "the verification is live",
            "no live listing, live contract or accepted, unexpired entrustment uses it",
        ],
        effect: "ends the deal; the property is free for a new verification",
        rejections: &[
            c::VERIFICATION_NOT_FOUND,
            c::VERIFICATION_STATUS,
            c::NOT_SELLER,
            c::VERIFICATION_IN_USE,
        ],
        example: || json!({"reason": "暂不出售"}),
    },
    CommandSpec {
        kind: "entrustment.sale",
        visibility: V::Confidential,
        events: &["SaleEntrusted"],
        streams: &[K::Entrustment],
        stream_use: StreamUse::Create,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Entrust),
        who: "the seller of a verified property, or their proxy",
        preconditions: &[
            "the verification is verified and the acting party is its seller",
            "the agent and its agency are certified",
            "the period ends 1 to 366 days from now",
            "no other live sale entrustment and no live self-listing covers the verification",
        ],
        effect: "offers the sale to the agent",
        rejections: &[
            c::VERIFICATION_NOT_FOUND,
            c::VERIFICATION_STATUS,
            c::NOT_SELLER,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::BAD_PERIOD,
            c::ENTRUSTMENT_EXISTS,
            c::LISTING_EXISTS,
        ],
        example: || {
            json!({"verification": "verification/PV-1", "agent": "agent/AT-1", "floor_price_fen": 140_000_000,
                          "expires_at_ms": 1_767_225_600_000_i64, "review_agent_edits": true})
        },
    },
    CommandSpec {
        kind: "entrustment.purchase",
        visibility: V::Confidential,
        events: &["PurchaseEntrusted"],
        streams: &[K::Entrustment],
        stream_use: StreamUse::Create,
        signers: &[S::Party],
        real_name: true,
        proxy: None,
        who: "a real-name-verified buyer",
        preconditions: &[
            "the agent and its agency are certified",
            "the period ends 1 to 366 days from now",
        ],
        effect: "offers the purchase search to the agent; once accepted, and until it expires or is revoked, the agent may book viewings (`viewing.book`) and confirm the buyer's side of a contract (`contract.confirm`) for the buyer, on listings in its districts (any, when it names none) at most its budget; the e-signature stays the buyer's",
        rejections: &[
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::BAD_PERIOD,
        ],
        example: || {
            json!({"agent": "agent/AT-1", "budget_max_fen": 200_000_000, "districts": ["五华区", "盘龙区"],
                          "expires_at_ms": 1_767_225_600_000_i64})
        },
    },
    CommandSpec {
        kind: "entrustment.accept",
        visibility: V::Public,
        events: &["EntrustmentAccepted"],
        streams: &[K::Entrustment],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent],
        real_name: false,
        proxy: None,
        who: "the chosen agent, while it and its agency are certified",
        preconditions: &["the entrustment is offered and unexpired"],
        effect: "the entrustment is accepted; the agent may now act on it",
        rejections: &[
            c::ENTRUSTMENT_NOT_FOUND,
            c::ENTRUSTMENT_STATUS,
            c::ENTRUSTMENT_EXPIRED,
            c::NOT_ENTRUSTED,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::VERIFICATION_STATUS,
        ],
        example: || json!({}),
    },
    CommandSpec {
        kind: "entrustment.decline",
        visibility: V::Confidential,
        events: &["EntrustmentDeclined"],
        streams: &[K::Entrustment],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent],
        real_name: false,
        proxy: None,
        who: "the chosen agent",
        preconditions: &["the entrustment is offered"],
        effect: "the entrustment is declined",
        rejections: &[
            c::ENTRUSTMENT_NOT_FOUND,
            c::ENTRUSTMENT_STATUS,
            c::NOT_ENTRUSTED,
        ],
        example: || json!({"reason": "业务繁忙"}),
    },
    CommandSpec {
        kind: "entrustment.revoke",
        visibility: V::Confidential,
        events: &["EntrustmentRevoked"],
        streams: &[K::Entrustment],
        stream_use: StreamUse::Existing,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Entrust),
        who: "the principal who entrusted, or their proxy",
        preconditions: &[
            "the entrustment is offered or accepted",
            "no live contract on a listing published under it",
        ],
        effect: "the entrustment is revoked; a listing published under it is withdrawn",
        rejections: &[
            c::ENTRUSTMENT_NOT_FOUND,
            c::ENTRUSTMENT_STATUS,
            c::NOT_PRINCIPAL,
            c::CONTRACT_LIVE,
        ],
        example: || json!({"reason": "改为自行出售"}),
    },
    CommandSpec {
        kind: "entrustment.expire",
        visibility: V::Public,
        events: &["EntrustmentExpired"],
        streams: &[K::Entrustment],
        stream_use: StreamUse::Existing,
        signers: &[S::Platform],
        real_name: false,
        proxy: None,
        who: "the platform's housekeeping",
        preconditions: &[
            "the entrustment is offered or accepted and its period has ended (by the entry's time)",
        ],
        effect: "records the expiry; a listing published under it is withdrawn. (An expired entrustment stops the agent even before this entry: every rule reads the time.)",
        rejections: &[
            c::ENTRUSTMENT_NOT_FOUND,
            c::ENTRUSTMENT_STATUS,
            c::ENTRUSTMENT_NOT_EXPIRED,
            c::CONTRACT_LIVE,
        ],
        example: || json!({}),
    },
    CommandSpec {
        kind: "listing.publish",
        visibility: V::PublicOnceShown,
        events: &["ListingPublished", "ListingPublicationProposed"],
        streams: &[K::Listing],
        stream_use: StreamUse::Create,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::List),
        who: "the agent of an accepted, unexpired sale entrustment (`entrustment`), or the seller or their proxy on a self-listing (`verification`)",
        preconditions: &[
            "exactly one of `entrustment`, `verification`",
            "the verification is verified; the property is not seized",
            "no other live listing on the verification; a self-listing needs no live sale entrustment",
            "area, layout, floor, district and community equal the registry's",
            "an agent's price is at least the floor price",
        ],
        effect: "creates the listing with its verification code; shown at once, or (agent, review mode) pending the seller's approval",
        rejections: &[
            c::ENTRUSTMENT_NOT_FOUND,
            c::ENTRUSTMENT_STATUS,
            c::VERIFICATION_NOT_FOUND,
            c::VERIFICATION_STATUS,
            c::NOT_SELLER,
            c::SEIZED,
            c::LISTING_EXISTS,
            c::LISTING_ENTRUSTED,
            c::REGISTRY_MISMATCH,
            c::BELOW_FLOOR,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || {
            json!({"entrustment": "entrustment/EN-1", "price_fen": 150_000_000, "area_centi_m2": 8950, "rooms": 2,
                          "halls": 1, "bathrooms": 1, "floor": 5, "floors_total": 7, "district": "五华区", "community": "翠湖花园",
                          "title": "翠湖旁两室一厅 南北通透", "description": "近地铁，带车位。", "photos": [H]})
        },
    },
    CommandSpec {
        kind: "listing.change_price",
        visibility: V::PublicOnceShown,
        events: &["ListingPriceChanged", "ListingChangeProposed"],
        streams: &[K::Listing],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::List),
        who: "the listing's agent (within its entrustment) or the seller or their proxy",
        preconditions: &[
            "the listing is active (or pending review, for the seller)",
            "no proposal is pending when the agent proposes",
            "an agent's price is at least the floor price; the price differs from the shown one",
        ],
        effect: "changes the price; in review mode an agent's change is a proposal until the seller approves",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::NOT_SELLER,
            c::PROPOSAL_PENDING,
            c::BELOW_FLOOR,
            c::UNCHANGED,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"price_fen": 145_000_000}),
    },
    CommandSpec {
        kind: "listing.change_photos",
        visibility: V::PublicOnceShown,
        events: &["ListingPhotosChanged", "ListingChangeProposed"],
        streams: &[K::Listing],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::List),
        who: "the listing's agent (within its entrustment) or the seller or their proxy",
        preconditions: &["as for `listing.change_price`; the photo set differs from the shown one"],
        effect: "replaces the photos; in review mode an agent's change is a proposal until the seller approves",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::NOT_SELLER,
            c::PROPOSAL_PENDING,
            c::UNCHANGED,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"photos": [H]}),
    },
    CommandSpec {
        kind: "listing.approve",
        visibility: V::Public,
        events: &["ListingChangeApproved"],
        streams: &[K::Listing],
        stream_use: StreamUse::Existing,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::List),
        who: "the seller, or their proxy",
        preconditions: &[
            "a proposal with `proposal_seq` is pending",
            "the property is not seized",
        ],
        effect: "the proposal takes effect (a proposed publication makes the listing active)",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::NOT_SELLER,
            c::NO_PROPOSAL,
            c::SEIZED,
        ],
        example: || json!({"proposal_seq": 42}),
    },
    CommandSpec {
        kind: "listing.reject",
        visibility: V::Public,
        events: &["ListingChangeRejected"],
        streams: &[K::Listing],
        stream_use: StreamUse::Existing,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::List),
        who: "the seller, or their proxy",
        preconditions: &["a proposal with `proposal_seq` is pending"],
        effect: "the proposal is dropped (a rejected first publication withdraws the listing)",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::NOT_SELLER,
            c::NO_PROPOSAL,
        ],
        example: || json!({"proposal_seq": 42}),
    },
    CommandSpec {
        kind: "listing.withdraw",
        visibility: V::Confidential,
        events: &["ListingWithdrawn"],
        streams: &[K::Listing],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::List),
        who: "the seller or their proxy, or the listing's agent (within its entrustment)",
        preconditions: &[
            "the listing is active or pending review",
            "no live contract on it",
        ],
        effect: "the listing is withdrawn",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::NOT_SELLER,
            c::CONTRACT_LIVE,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"reason": "已另行出售"}),
    },
    CommandSpec {
        kind: "viewing.book",
        visibility: V::Confidential,
        events: &["ViewingBooked"],
        streams: &[K::Viewing],
        stream_use: StreamUse::Create,
        signers: &[S::Party, S::Agent],
        real_name: true,
        proxy: Some(ProxyAction::BookViewing),
        who: "a real-name-verified buyer (not the seller), or their proxy; or the buyer's agent under an accepted, unexpired purchase entrustment (`entrustment`) whose districts and budget cover the listing, for its principal",
        preconditions: &[
            "the listing is active",
            "the slot starts in the future (at most 60 days ahead) and lasts 15 minutes to 4 hours",
        ],
        effect: "books the viewing",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::OWN_LISTING,
            c::BAD_PERIOD,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
            c::PURCHASE_OUT_OF_SCOPE,
        ],
        example: || json!({"listing": "listing/LS-1", "slot_start_ms": 1_764_547_200_000_i64, "slot_end_ms": 1_764_549_000_000_i64}),
    },
    CommandSpec {
        kind: "viewing.confirm",
        visibility: V::Confidential,
        events: &["ViewingConfirmed"],
        streams: &[K::Viewing],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: None,
        who: "the listing's agent (within its entrustment), or the seller of a self-listing",
        preconditions: &["the viewing is booked"],
        effect: "confirms the appointment",
        rejections: &[
            c::VIEWING_NOT_FOUND,
            c::VIEWING_STATUS,
            c::NOT_LISTING_HANDLER,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({}),
    },
    CommandSpec {
        kind: "viewing.record",
        visibility: V::Confidential,
        events: &["ViewingRecorded"],
        streams: &[K::Viewing],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: None,
        who: "the listing's agent (within its entrustment), or the seller of a self-listing",
        preconditions: &["the viewing is booked or confirmed", "its slot has started"],
        effect: "the viewing is completed (the buyer may now rate and ask for a loan pre-check)",
        rejections: &[
            c::VIEWING_NOT_FOUND,
            c::VIEWING_STATUS,
            c::NOT_LISTING_HANDLER,
            c::TOO_EARLY,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"note": "买方看房约30分钟"}),
    },
    CommandSpec {
        kind: "viewing.cancel",
        visibility: V::Confidential,
        events: &["ViewingCancelled"],
        streams: &[K::Viewing],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::BookViewing),
        who: "the buyer or their proxy, the listing's agent, or the seller of a self-listing",
        preconditions: &["the viewing is booked or confirmed"],
        effect: "cancels the viewing",
        rejections: &[
            c::VIEWING_NOT_FOUND,
            c::VIEWING_STATUS,
            c::NOT_LISTING_HANDLER,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"reason": "临时有事"}),
    },
    CommandSpec {
        kind: "viewing.rate",
        visibility: V::Confidential,
        events: &["AgentRated"],
        streams: &[K::Viewing],
        stream_use: StreamUse::Existing,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::BookViewing),
        who: "the buyer of the viewing, or their proxy",
        preconditions: &[
            "the viewing is completed and not yet rated",
            "it had an agent",
            "1-5 stars, comment at most 200 characters",
        ],
        effect: "adds the stars to the agent's rating",
        rejections: &[
            c::VIEWING_NOT_FOUND,
            c::VIEWING_STATUS,
            c::NOT_BUYER,
            c::NO_AGENT,
            c::ALREADY_RATED,
        ],
        example: || json!({"stars": 5, "comment": "讲解细致，准时"}),
    },
    CommandSpec {
        kind: "loan.request",
        visibility: V::Confidential,
        events: &["LoanPrecheckRequested"],
        streams: &[K::Precheck],
        stream_use: StreamUse::Create,
        signers: &[S::Party],
        real_name: true,
        proxy: Some(ProxyAction::RequestLoan),
        who: "the buyer of a completed viewing, or their proxy",
        preconditions: &[
            "the viewing is completed and the acting party is its buyer",
            "the bank is registered",
            "amount at most the listing price; term 1-360 months",
        ],
        effect: "sends the pre-check to the chosen bank",
        rejections: &[
            c::VIEWING_NOT_FOUND,
            c::VIEWING_STATUS,
            c::NOT_BUYER,
            c::BANK_NOT_FOUND,
            c::LOAN_AMOUNT,
            c::LISTING_NOT_FOUND,
        ],
        example: || json!({"viewing": "viewing/VW-1", "bank": "bank/BK-1", "amount_fen": 90_000_000, "term_months": 240}),
    },
    CommandSpec {
        kind: "loan.assess",
        visibility: V::Confidential,
        events: &["LoanPrecheckAssessed"],
        streams: &[K::Precheck],
        stream_use: StreamUse::Existing,
        signers: &[S::Bank],
        real_name: false,
        proxy: None,
        who: "the bank the buyer chose",
        preconditions: &[
            "the pre-check awaits an assessment",
            "amount present unless declined, at most the request",
            "valid 1-180 days from now",
        ],
        effect: "records the bank's signed assessment",
        rejections: &[
            c::PRECHECK_NOT_FOUND,
            c::PRECHECK_STATUS,
            c::NOT_CHOSEN_BANK,
            c::LOAN_AMOUNT,
            c::BAD_PERIOD,
        ],
        example: || json!({"result": "approved", "amount_fen": 90_000_000, "valid_until_ms": 1_767_225_600_000_i64, "remarks": "需提供收入证明"}),
    },
    CommandSpec {
        kind: "contract.draft",
        visibility: V::Confidential,
        events: &["ContractDrafted"],
        streams: &[K::Contract],
        stream_use: StreamUse::Create,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Contract),
        who: "the listing's agent (within its entrustment), or the seller or buyer (or their proxy) of a self-listing",
        preconditions: &[
            "the listing is active with no live contract; the property is not seized",
            "the buyer is a real-name-verified party other than the seller",
            "the terms name these parties and the registry's property and mortgage; payments add up; dates are ordered",
        ],
        effect: "creates the contract; the listing is held by it",
        rejections: &[
            c::LISTING_NOT_FOUND,
            c::LISTING_STATUS,
            c::CONTRACT_LIVE,
            c::SEIZED,
            c::NOT_DRAFTER,
            c::PARTY_NOT_FOUND,
            c::OWN_LISTING,
            c::TERMS,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"listing": "listing/LS-1", "buyer": "party/PA-2", "terms": example_terms(), "document_hash": H}),
    },
    CommandSpec {
        kind: "contract.amend",
        visibility: V::Confidential,
        events: &["ContractAmended"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Contract),
        who: "as for `contract.draft`",
        preconditions: &[
            "the contract is drafted (not fully signed, not offline)",
            "the terms are valid; the document hash changes",
        ],
        effect: "replaces terms and document; voids every confirmation and signature",
        rejections: &[
            c::CONTRACT_NOT_FOUND,
            c::CONTRACT_STATUS,
            c::NOT_DRAFTER,
            c::TERMS,
            c::UNCHANGED,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"terms": example_terms(), "document_hash": H}),
    },
    CommandSpec {
        kind: "contract.confirm",
        visibility: V::Public,
        events: &["ContractConfirmed"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Contract),
        who: "the buyer, the seller (or their proxies), or the contract's agent (within its entrustment); or the buyer's agent, for the buyer, under an accepted, unexpired purchase entrustment (`entrustment`) of the contract's buyer whose districts and budget cover the listing",
        preconditions: &[
            "the contract is drafted",
            "`document_hash` is the current one",
            "not yet confirmed by this role",
        ],
        effect: "records the role's confirmation of the current terms",
        rejections: &[
            c::CONTRACT_NOT_FOUND,
            c::CONTRACT_STATUS,
            c::NOT_CONTRACT_PARTY,
            c::DOCUMENT_MISMATCH,
            c::ALREADY_CONFIRMED,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
            c::PURCHASE_OUT_OF_SCOPE,
        ],
        example: || json!({"document_hash": H}),
    },
    CommandSpec {
        kind: "contract.sign",
        visibility: V::Public,
        events: &["ContractSigned"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Contract),
        who: "the buyer, the seller (or their proxies), or the contract's agent (within its entrustment)",
        preconditions: &[
            "the contract is drafted",
            "`document_hash` is the current one",
            "this role confirmed and has not signed",
        ],
        effect: "records the e-signature (the signed command over the document hash); when every role has signed, the contract is signed",
        rejections: &[
            c::CONTRACT_NOT_FOUND,
            c::CONTRACT_STATUS,
            c::NOT_CONTRACT_PARTY,
            c::DOCUMENT_MISMATCH,
            c::NOT_CONFIRMED,
            c::ALREADY_SIGNED,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
            c::PURCHASE_OUT_OF_SCOPE,
        ],
        example: || json!({"document_hash": H}),
    },
    CommandSpec {
        kind: "contract.move_offline",
        visibility: V::Confidential,
        events: &["ContractMovedOffline"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Contract),
        who: "a party of the contract (or their proxy) or its agent, when e-signing failed",
        preconditions: &["the contract is drafted (not fully signed)"],
        effect: "the contract moves to paper (转线下合同) and waits for a filing office",
        rejections: &[
            c::CONTRACT_NOT_FOUND,
            c::CONTRACT_STATUS,
            c::NOT_CONTRACT_PARTY,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"reason": "卖方电子签名证书无法使用"}),
    },
    CommandSpec {
        kind: "contract.verify_offline",
        visibility: V::Public,
        events: &["OfflineContractVerified"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Office],
        real_name: false,
        proxy: None,
        who: "a registered filing office",
        preconditions: &["the contract is offline"],
        effect: "records the office's verification of the paper contract (scan hash)",
        rejections: &[c::CONTRACT_NOT_FOUND, c::CONTRACT_STATUS, c::NOT_OFFICE],
        example: || json!({"scan_hash": H}),
    },
    CommandSpec {
        kind: "contract.file",
        visibility: V::Public,
        events: &["ContractFiled"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing",
        preconditions: &[
            "the contract is signed by every role, or offline and verified by an office",
            "the property is not seized",
        ],
        effect: "files the contract with a derived filing code (备案码); closes the listing, the verification and the entrustment",
        rejections: &[c::CONTRACT_NOT_FOUND, c::CONTRACT_STATUS, c::SEIZED],
        example: || json!({}),
    },
    CommandSpec {
        kind: "contract.cancel_filing",
        visibility: V::Confidential,
        events: &["ContractFilingCancelled"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Housing],
        real_name: false,
        proxy: None,
        who: "authority/housing, with a reason",
        preconditions: &["the contract is filed"],
        effect: "the filing is cancelled; the filing code then verifies as cancelled",
        rejections: &[c::CONTRACT_NOT_FOUND, c::CONTRACT_STATUS],
        example: || json!({"reason": "双方协商解除合同"}),
    },
    CommandSpec {
        kind: "contract.cancel",
        visibility: V::Confidential,
        events: &["ContractCancelled"],
        streams: &[K::Contract],
        stream_use: StreamUse::Existing,
        signers: &[S::Agent, S::Party],
        real_name: true,
        proxy: Some(ProxyAction::Contract),
        who: "a party of the contract (or their proxy) or its agent",
        preconditions: &["the contract is live (not filed)"],
        effect: "the contract is void; the listing is free for another contract",
        rejections: &[
            c::CONTRACT_NOT_FOUND,
            c::CONTRACT_STATUS,
            c::NOT_CONTRACT_PARTY,
            c::AGENT_NOT_FOUND,
            c::AGENT_SUSPENDED,
            c::AGENCY_SUSPENDED,
            c::NOT_ENTRUSTED,
            c::ENTRUSTMENT_EXPIRED,
        ],
        example: || json!({"reason": "买方贷款未获批准"}),
    },
    CommandSpec {
        kind: "proxy.file",
        visibility: V::Confidential,
        events: &["ProxyFiled"],
        streams: &[K::Proxy],
        stream_use: StreamUse::Create,
        signers: &[S::Party],
        real_name: true,
        proxy: None,
        who: "the proxy, a real-name-verified party",
        preconditions: &[
            "the principal is another registered party",
            "the property exists",
            "1-6 distinct actions",
            "expiry 1 to 366 days from now",
            "1-10 document hashes",
        ],
        effect: "files the proxy; it may act only once an office verifies it",
        rejections: &[
            c::PARTY_NOT_FOUND,
            c::PROPERTY_NOT_FOUND,
            c::SELF_PROXY,
            c::BAD_PERIOD,
        ],
        example: || {
            json!({"principal": "party/PA-1", "property": "property/PR-1", "scope": ["list", "contract"],
                          "expires_at_ms": 1_767_225_600_000_i64, "document_hashes": [H]})
        },
    },
    CommandSpec {
        kind: "proxy.verify",
        visibility: V::Confidential,
        events: &["ProxyVerified"],
        streams: &[K::Proxy],
        stream_use: StreamUse::Existing,
        signers: &[S::Office],
        real_name: false,
        proxy: None,
        who: "a registered filing office, after checking the documents and the principal",
        preconditions: &[
            "the filing is filed (not verified, not revoked) and unexpired",
            "the principal's ID commitment matches the attested one, if any",
        ],
        effect: "the proxy may act within scope until expiry or revocation",
        rejections: &[
            c::PROXY_NOT_FOUND,
            c::PROXY_STATUS,
            c::PROXY_EXPIRED,
            c::NOT_OFFICE,
            c::PRINCIPAL_MISMATCH,
        ],
        example: || json!({"principal_id_commitment": commitment(3)}),
    },
    CommandSpec {
        kind: "proxy.revoke",
        visibility: V::Confidential,
        events: &["ProxyRevoked"],
        streams: &[K::Proxy],
        stream_use: StreamUse::Existing,
        signers: &[S::Party, S::Office, S::Housing],
        real_name: false,
        proxy: None,
        who: "the principal, the proxy, a filing office or authority/housing",
        preconditions: &["the filing is not revoked"],
        effect: "the proxy may no longer act",
        rejections: &[c::PROXY_NOT_FOUND, c::PROXY_STATUS, c::NOT_PROXY_PARTY],
        example: || json!({"reason": "委托事项已完成"}),
    },
    CommandSpec {
        kind: "erasure.record",
        visibility: V::Confidential,
        events: &["ErasureRecorded"],
        streams: &[K::Erasure],
        stream_use: StreamUse::Create,
        signers: &[S::Platform],
        real_name: false,
        proxy: None,
        who: "the platform, after the vault destroyed the subject's key",
        preconditions: &[
            "the subject is a party or agent not yet erased",
            "every commitment is one of the subject's",
        ],
        effect: "records the receipt; the subject can no longer act (its key is dropped); the log still verifies",
        rejections: &[
            c::SUBJECT_NOT_FOUND,
            c::SUBJECT_ERASED,
            c::COMMITMENT_UNKNOWN,
        ],
        example: || json!({"subject": "party/PA-1", "commitments": [commitment(1), commitment(2)], "receipt_hash": H}),
    },
];

/// The row for a command kind.
#[must_use]
pub fn spec(kind: &str) -> Option<&'static CommandSpec> {
    TABLE.iter().find(|s| s.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{KINDS, Payload};

    #[test]
    fn table_covers_every_kind_in_order() {
        let kinds: Vec<_> = TABLE.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, KINDS);
    }

    #[test]
    fn examples_parse_strictly() {
        for s in TABLE {
            let example = (s.example)();
            let parsed =
                Payload::parse(s.kind, &example).unwrap_or_else(|e| panic!("{}: {e}", s.kind));
            assert_eq!(parsed.kind(), s.kind);
        }
    }

    #[test]
    fn every_row_is_complete() {
        for s in TABLE {
            assert!(
                !s.events.is_empty() && !s.streams.is_empty() && !s.signers.is_empty(),
                "{}",
                s.kind
            );
            assert!(
                !s.preconditions.is_empty() && !s.effect.is_empty() && !s.who.is_empty(),
                "{}",
                s.kind
            );
            if s.proxy.is_some() {
                assert!(s.signers.contains(&Signer::Party), "{}", s.kind);
            }
        }
    }
}
