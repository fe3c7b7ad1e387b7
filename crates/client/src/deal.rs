//! One helper per step of a deal, with the domain's typed payloads: property verification,
//! entrustment, listing, viewing, loan pre-check, contract, filing, proxies.
//!
//! Each step that creates an aggregate picks a fresh id for it (`listing/LS-<16 hex>`…) and
//! returns the receipt, from which the caller reads the seq and the derived codes.

use deedlog_domain::ids::IdKind;
use deedlog_domain::payload::{
    ByParty, ContractDocument, ContractDraft, ContractTerms, DisputeMethod, Empty, EntrustSale,
    Instalment, ListingPublish, ListingReview, LoanAssess, LoanRequest, LoanResult, Mortgage,
    OfflineVerify, Payer, PaymentMethod, PropertyVerify, ProxyAction, ProxyFile, ProxyVerify,
    TermsBreach, TermsDeposit, TermsDisputes, TermsHandover, TermsParties, TermsPrice,
    TermsProperty, TermsTaxes, TermsTitle, TermsTransfer, ViewingBook, ViewingRate, ViewingRecord,
    WithReason,
};
use deedlog_domain::reference::PropertyRecord;
use sha2::{Digest as _, Sha256};

use crate::actor::{Actor, random_suffix};
use crate::client::{Client, Receipt};
use crate::error::ClientError;

/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;

/// A fresh id of the given kind, e.g. `listing/LS-0A1B2C3D4E5F6071`.
#[must_use]
pub fn new_id(kind: IdKind) -> String {
    kind.id(&random_suffix())
}

/// Lower-case hex SHA-256 of some bytes (a stand-in photo, document or scan hash).
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a listing and a contract must say about the property (as the registry has it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyFacts {
    /// `property/PR-…`.
    pub id: String,
    /// Certificate number, normal form.
    pub certificate_no: String,
    /// District.
    pub district: String,
    /// Community.
    pub community: String,
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
    /// The registry's mortgage, if any.
    pub mortgage: Option<Mortgage>,
}

impl PropertyFacts {
    /// The facts of a registry record, under its id on the log (`property/PR-…`) and its
    /// certificate number in normal form.
    #[must_use]
    pub fn from_record(id: &str, certificate_no: &str, r: &PropertyRecord) -> Self {
        Self {
            id: id.to_owned(),
            certificate_no: certificate_no.to_owned(),
            district: r.district.clone(),
            community: r.community.clone(),
            area_centi_m2: r.area_centi_m2,
            rooms: r.rooms,
            halls: r.halls,
            bathrooms: r.bathrooms,
            floor: r.floor,
            floors_total: r.floors_total,
            mortgage: r.mortgage.as_ref().map(|m| Mortgage {
                bank: IdKind::Bank.id(m.bank_id.trim_start_matches("BK-")),
                amount_fen: m.amount_fen,
            }),
        }
    }
}

/// How a listing is published: by the entrusted agent, or by the seller (or their proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publisher<'a> {
    /// The agent of this accepted entrustment.
    Agent {
        /// `entrustment/EN-…`.
        entrustment: &'a str,
    },
    /// The seller, self-listing this verification, optionally through a proxy filing.
    Seller {
        /// `verification/PV-…`.
        verification: &'a str,
        /// `proxy/PX-…`, when a proxy publishes.
        via_proxy: Option<&'a str>,
    },
}

/// A `listing.publish` payload that matches the registry, with two stand-in photo hashes.
#[must_use]
pub fn listing_payload(
    facts: &PropertyFacts,
    publisher: &Publisher<'_>,
    price_fen: u64,
    title: &str,
) -> ListingPublish {
    let (entrustment, verification, via_proxy) = match publisher {
        Publisher::Agent { entrustment } => (Some((*entrustment).to_owned()), None, None),
        Publisher::Seller {
            verification,
            via_proxy,
        } => (
            None,
            Some((*verification).to_owned()),
            via_proxy.map(str::to_owned),
        ),
    };
    ListingPublish {
        entrustment,
        verification,
        price_fen,
        area_centi_m2: facts.area_centi_m2,
        rooms: facts.rooms,
        halls: facts.halls,
        bathrooms: facts.bathrooms,
        floor: facts.floor,
        floors_total: facts.floors_total,
        district: facts.district.clone(),
        community: facts.community.clone(),
        title: title.to_owned(),
        description: format!(
            "{}{}室{}厅{}卫，{}楼（共{}层）。",
            facts.community,
            facts.rooms,
            facts.halls,
            facts.bathrooms,
            facts.floor,
            facts.floors_total
        ),
        photos: vec![
            sha256_hex(format!("{} photo 1", facts.id).as_bytes()),
            sha256_hex(format!("{} photo 2", facts.id).as_bytes()),
        ],
        via_proxy,
    }
}

/// Contract terms for a lump-sum sale at `price_fen`, consistent with the registry and dated
/// from `now_ms`: deposit 5 % due in a day, the price due in 30 days, handover and transfer
/// after it.
#[must_use]
pub fn lump_sum_terms(
    facts: &PropertyFacts,
    seller: &str,
    buyer: &str,
    agent: Option<&str>,
    price_fen: u64,
    now_ms: i64,
) -> ContractTerms {
    let later = now_ms + 30 * DAY_MS;
    ContractTerms {
        parties: TermsParties {
            seller: seller.to_owned(),
            buyer: buyer.to_owned(),
            agent: agent.map(str::to_owned),
        },
        property: TermsProperty {
            property: facts.id.clone(),
            certificate_no: facts.certificate_no.clone(),
            area_centi_m2: facts.area_centi_m2,
        },
        title: TermsTitle {
            mortgage: facts.mortgage.clone(),
            discharge_before_transfer: facts.mortgage.is_some(),
            leased: false,
        },
        price: TermsPrice {
            total_fen: price_fen,
            method: PaymentMethod::LumpSum,
            schedule: vec![Instalment {
                due_ms: later,
                amount_fen: price_fen,
            }],
        },
        deposit: Some(TermsDeposit {
            amount_fen: price_fen / 20,
            due_ms: now_ms + DAY_MS,
        }),
        loan: None,
        taxes: TermsTaxes {
            deed_tax: Payer::Buyer,
            value_added_tax: Payer::Seller,
            income_tax: Payer::Seller,
            fees: Payer::ByLaw,
        },
        handover: TermsHandover {
            date_ms: later + DAY_MS,
            condition: "现状交付，水电气已结清".to_owned(),
        },
        transfer: TermsTransfer {
            apply_by_ms: later + 2 * DAY_MS,
        },
        breach: TermsBreach {
            late_permyriad_per_day: 5,
            default_penalty_fen: price_fen / 10,
        },
        disputes: TermsDisputes {
            method: DisputeMethod::Court,
            venue: format!("昆明市{}人民法院", facts.district),
        },
    }
}

/// The SHA-256 of the contract document the terms are rendered into (here: their canonical
/// JSON, which stands in for the rendered PDF).
///
/// # Errors
/// [`ClientError::Command`] if the terms do not encode canonically (they always do).
pub fn document_hash(terms: &ContractTerms) -> Result<String, ClientError> {
    let bytes = deedlog_core::canonical::to_vec(terms)
        .map_err(|e| ClientError::Command(deedlog_core::command::CommandError::Payload(e)))?;
    Ok(sha256_hex(&bytes))
}

/// What [`Client::enroll`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// The `party.register` receipt, when this call registered the party.
    pub registered: Option<Receipt>,
    /// The attestation's receipt, when this call attested the party (`None`: it already was).
    pub attested: Option<Receipt>,
}

/// The deal steps, as methods of the client.
impl Client {
    /// Registers `party` for `person` unless it already is (with this key), then has the identity
    /// authority attest it unless it already is, reading the SMS codes from `outbox`.
    ///
    /// # Errors
    /// [`ClientError::Limit`] when the party id is registered with another key or no code
    /// came; `party.phone_taken`, `party.id_taken` and other rejections.
    pub fn enroll(
        &self,
        party: &Actor,
        person: &deedlog_domain::reference::Person,
        outbox: &crate::identity::Outbox,
    ) -> Result<Enrolled, ClientError> {
        let registered = match self.actor_key(&party.id, None)? {
            Some(key) if key == party.key() => None,
            Some(_) => {
                return Err(ClientError::Limit(format!(
                    "{} is registered with another key",
                    party.id
                )));
            }
            None => match self.register_party(party, &person.phone, outbox) {
                Ok(r) => Some(r),
                Err(e) if e.is("stream.exists") => None,
                Err(e) => return Err(e),
            },
        };
        // Signed requests are checked against the views: after_seq lets them see the new key.
        let after = registered.as_ref().map(|r| r.seq);
        let path = format!(
            "/v1/parties/{}",
            crate::client::encode_segment(&party.id["party/".len()..])
        );
        let doc = self.signed_get(party, &path, after)?;
        if doc.get("verified").and_then(serde_json::Value::as_bool) == Some(true) {
            return Ok(Enrolled {
                registered,
                attested: None,
            });
        }
        let attested = self.attest_identity(party, person, outbox, after)?;
        Ok(Enrolled {
            registered,
            attested: Some(attested),
        })
    }

    /// 房源核验: the seller (or its proxy) verifies a property by its certificate number; a new
    /// `verification/PV-…`. Derived: `verification_code`, `property`.
    ///
    /// # Errors
    /// The server's rejection (`verification.not_owner`, `property.in_live_deal`…).
    pub fn verify_property(
        &self,
        seller: &Actor,
        certificate_no: &str,
        via_proxy: Option<&str>,
    ) -> Result<Receipt, ClientError> {
        let payload = PropertyVerify {
            certificate_no: certificate_no.to_owned(),
            via_proxy: via_proxy.map(str::to_owned),
        };
        self.submit(
            seller,
            "property.verify",
            &new_id(IdKind::Verification),
            &payload,
            Some(0),
        )
    }

    /// 委托出售: the seller entrusts an agent; a new `entrustment/EN-…`.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn entrust_sale(
        &self,
        seller: &Actor,
        payload: &EntrustSale,
    ) -> Result<Receipt, ClientError> {
        self.submit(
            seller,
            "entrustment.sale",
            &new_id(IdKind::Entrustment),
            payload,
            Some(0),
        )
    }

    /// The agent accepts an entrustment.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn accept_entrustment(
        &self,
        agent: &Actor,
        entrustment: &str,
    ) -> Result<Receipt, ClientError> {
        self.submit(agent, "entrustment.accept", entrustment, &Empty {}, None)
    }

    /// 发布房源: a new `listing/LS-…`. Derived: `listing_code`.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn publish_listing(
        &self,
        actor: &Actor,
        payload: &ListingPublish,
    ) -> Result<Receipt, ClientError> {
        self.submit(
            actor,
            "listing.publish",
            &new_id(IdKind::Listing),
            payload,
            Some(0),
        )
    }

    /// The seller approves a pending proposal (the entry at `proposal_seq`).
    ///
    /// # Errors
    /// The server's rejection.
    pub fn approve_listing(
        &self,
        seller: &Actor,
        listing: &str,
        proposal_seq: u64,
    ) -> Result<Receipt, ClientError> {
        let payload = ListingReview {
            proposal_seq,
            via_proxy: None,
        };
        self.submit(seller, "listing.approve", listing, &payload, None)
    }

    /// The buyer books a viewing; a new `viewing/VW-…`.
    ///
    /// # Errors
    /// The server's rejection (`time.bad_window` for a slot not in the future).
    pub fn book_viewing(
        &self,
        buyer: &Actor,
        listing: &str,
        slot_start_ms: i64,
        slot_end_ms: i64,
    ) -> Result<Receipt, ClientError> {
        let payload = ViewingBook {
            listing: listing.to_owned(),
            slot_start_ms,
            slot_end_ms,
            via_proxy: None,
            entrustment: None,
        };
        self.submit(
            buyer,
            "viewing.book",
            &new_id(IdKind::Viewing),
            &payload,
            Some(0),
        )
    }

    /// The listing's handler (agent, or seller of a self-listing) confirms a viewing.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn confirm_viewing(&self, handler: &Actor, viewing: &str) -> Result<Receipt, ClientError> {
        self.submit(handler, "viewing.confirm", viewing, &Empty {}, None)
    }

    /// The handler records that the viewing took place (after its slot started).
    ///
    /// # Errors
    /// `409 viewing.not_yet_held` before the slot, and other rejections.
    pub fn record_viewing(
        &self,
        handler: &Actor,
        viewing: &str,
        note: &str,
    ) -> Result<Receipt, ClientError> {
        let payload = ViewingRecord {
            note: note.to_owned(),
        };
        self.submit(handler, "viewing.record", viewing, &payload, None)
    }

    /// The buyer rates the agent's service after a completed viewing.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn rate_viewing(
        &self,
        buyer: &Actor,
        viewing: &str,
        stars: u8,
        comment: &str,
    ) -> Result<Receipt, ClientError> {
        let payload = ViewingRate {
            stars,
            comment: comment.to_owned(),
            via_proxy: None,
        };
        self.submit(buyer, "viewing.rate", viewing, &payload, None)
    }

    /// 贷款预审: the buyer asks a bank; a new `precheck/LP-…`.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn request_loan(
        &self,
        buyer: &Actor,
        viewing: &str,
        bank: &str,
        amount_fen: u64,
        term_months: u16,
    ) -> Result<Receipt, ClientError> {
        let payload = LoanRequest {
            viewing: viewing.to_owned(),
            bank: bank.to_owned(),
            amount_fen,
            term_months,
            via_proxy: None,
        };
        self.submit(
            buyer,
            "loan.request",
            &new_id(IdKind::Precheck),
            &payload,
            Some(0),
        )
    }

    /// The chosen bank answers a pre-check.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn assess_loan(
        &self,
        bank: &Actor,
        precheck: &str,
        result: LoanResult,
        amount_fen: Option<u64>,
        valid_until_ms: i64,
    ) -> Result<Receipt, ClientError> {
        let payload = LoanAssess {
            result,
            amount_fen,
            valid_until_ms,
            remarks: String::new(),
        };
        self.submit(bank, "loan.assess", precheck, &payload, None)
    }

    /// 网签: the drafter (the listing's agent, or a party of a self-listing) drafts a contract; a
    /// new `contract/CT-…`.
    ///
    /// # Errors
    /// The server's rejection (`contract.bad_terms` with `details.rule`).
    pub fn draft_contract(
        &self,
        drafter: &Actor,
        listing: &str,
        buyer: &str,
        terms: ContractTerms,
        via_proxy: Option<&str>,
    ) -> Result<Receipt, ClientError> {
        let payload = ContractDraft {
            listing: listing.to_owned(),
            buyer: buyer.to_owned(),
            document_hash: document_hash(&terms)?,
            terms,
            via_proxy: via_proxy.map(str::to_owned),
        };
        self.submit(
            drafter,
            "contract.draft",
            &new_id(IdKind::Contract),
            &payload,
            Some(0),
        )
    }

    /// A party confirms the contract's current document.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn confirm_contract(
        &self,
        actor: &Actor,
        contract: &str,
        document_hash: &str,
        via_proxy: Option<&str>,
    ) -> Result<Receipt, ClientError> {
        let payload = ContractDocument {
            document_hash: document_hash.to_owned(),
            via_proxy: via_proxy.map(str::to_owned),
            entrustment: None,
        };
        self.submit(actor, "contract.confirm", contract, &payload, None)
    }

    /// A party e-signs the contract's current document (the command's signature is the
    /// e-signature).
    ///
    /// # Errors
    /// The server's rejection.
    pub fn sign_contract(
        &self,
        actor: &Actor,
        contract: &str,
        document_hash: &str,
        via_proxy: Option<&str>,
    ) -> Result<Receipt, ClientError> {
        let payload = ContractDocument {
            document_hash: document_hash.to_owned(),
            via_proxy: via_proxy.map(str::to_owned),
            entrustment: None,
        };
        self.submit(actor, "contract.sign", contract, &payload, None)
    }

    /// 转线下合同: a party moves the contract offline (e-signing failed).
    ///
    /// # Errors
    /// The server's rejection.
    pub fn move_offline(
        &self,
        actor: &Actor,
        contract: &str,
        reason: &str,
    ) -> Result<Receipt, ClientError> {
        let payload = WithReason {
            reason: reason.to_owned(),
            via_proxy: None,
        };
        self.submit(actor, "contract.move_offline", contract, &payload, None)
    }

    /// A filing office verifies the signed paper contract (its scan's hash).
    ///
    /// # Errors
    /// The server's rejection.
    pub fn verify_offline(
        &self,
        office: &Actor,
        contract: &str,
        scan_hash: &str,
    ) -> Result<Receipt, ClientError> {
        let payload = OfflineVerify {
            scan_hash: scan_hash.to_owned(),
        };
        self.submit(office, "contract.verify_offline", contract, &payload, None)
    }

    /// 备案赋码: the housing authority files the contract. Derived: `filing_code`.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn file_contract(&self, housing: &Actor, contract: &str) -> Result<Receipt, ClientError> {
        self.submit(housing, "contract.file", contract, &Empty {}, None)
    }

    /// 代理人备案: a proxy files its authority for a principal; a new `proxy/PX-…`.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn file_proxy(
        &self,
        proxy: &Actor,
        principal: &str,
        property: &str,
        scope: Vec<ProxyAction>,
        expires_at_ms: i64,
    ) -> Result<Receipt, ClientError> {
        let payload = ProxyFile {
            principal: principal.to_owned(),
            property: property.to_owned(),
            scope,
            expires_at_ms,
            document_hashes: vec![sha256_hex(
                format!("power of attorney {principal} {property}").as_bytes(),
            )],
        };
        self.submit(
            proxy,
            "proxy.file",
            &new_id(IdKind::Proxy),
            &payload,
            Some(0),
        )
    }

    /// A filing office verifies a proxy filing, having checked the principal in person (the
    /// commitment to the principal's ID number, as on the principal's attestation).
    ///
    /// # Errors
    /// The server's rejection (`proxy.principal_mismatch`).
    pub fn verify_proxy(
        &self,
        office: &Actor,
        proxy: &str,
        principal_id_commitment: &str,
    ) -> Result<Receipt, ClientError> {
        let payload = ProxyVerify {
            principal_id_commitment: principal_id_commitment.to_owned(),
        };
        self.submit(office, "proxy.verify", proxy, &payload, None)
    }

    /// A co-owner consents to a pending verification.
    ///
    /// # Errors
    /// The server's rejection.
    pub fn consent_verification(
        &self,
        owner: &Actor,
        verification: &str,
    ) -> Result<Receipt, ClientError> {
        self.submit(
            owner,
            "verification.consent",
            verification,
            &ByParty { via_proxy: None },
            None,
        )
    }

    /// The ID-number commitment of an attested party, read from its attestation entry on the
    /// log (the entry of `attest_seq`).
    ///
    /// # Errors
    /// [`ClientError::BadResponse`] when that entry is not an attestation.
    pub fn id_commitment_at(&self, attest_seq: u64) -> Result<String, ClientError> {
        let answer = self.entry(attest_seq, None)?;
        let entry =
            deedlog_core::Entry::decode(&answer.bytes).map_err(|e| ClientError::BadResponse {
                path: format!("/v1/log/entries/{attest_seq}"),
                reason: e.to_string(),
            })?;
        entry
            .signed
            .payload
            .get("id_commitment")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::BadResponse {
                path: format!("/v1/log/entries/{attest_seq}"),
                reason: "not an identity attestation".into(),
            })
    }
}
