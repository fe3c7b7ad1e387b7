//! Contracts (网签): draft, amend, confirm, sign, move offline, office verification, filing
//! (备案赋码), cancellation of a filing, cancellation.

use serde_json::json;

use crate::decide::{Acting, Cmd, Ev, Out, check, need, not_found, reference, status, text};
use crate::ids::{CodeTag, IdKind, derived_code};
use crate::payload::{
    ContractAmend, ContractDocument, ContractDraft, ContractTerms, OfflineVerify, PaymentMethod,
    Reason, WithReason,
};
use crate::rejection::{Rejection, codes as c};
use crate::state::{
    Contract, ContractRole, ContractStatus, EntrustmentStatus, Listing, ListingStatus,
    VerificationStatus,
};
use crate::validate;
use crate::{ApplyError, State};

fn rule(name: &str, message: impl Into<String>) -> Rejection {
    Rejection::new(&c::TERMS, message).with(json!({ "rule": name }))
}

/// Who acts on a contract, and in which role.
struct Signatory {
    role: ContractRole,
    acting: Option<Acting>,
}

impl Signatory {
    fn annotate(&self, out: Out) -> Out {
        let out = out.with("role", serde_json::to_value(self.role).unwrap_or_default());
        match &self.acting {
            Some(a) => a.annotate(out),
            None => out,
        }
    }
}

impl State {
    fn contract_of(&self, id: &str) -> Result<&Contract, Rejection> {
        self.contracts
            .get(id)
            .ok_or_else(|| not_found(&c::CONTRACT_NOT_FOUND, id))
    }

    /// The terms agree with the deal and the registry, and add up.
    fn check_terms(
        &self,
        t: &ContractTerms,
        l: &Listing,
        buyer: &str,
        now: i64,
    ) -> Result<(), Rejection> {
        if t.parties.seller != l.seller || t.parties.buyer != buyer || t.parties.agent != l.agent {
            return Err(rule(
                "parties",
                "the parties must be the listing's seller and agent and the buyer",
            ));
        }
        let prop = self.property_of(&l.property)?;
        if t.property.property != prop.id
            || t.property.certificate_no != prop.certificate_no
            || t.property.area_centi_m2 != prop.area_centi_m2
        {
            return Err(rule(
                "property",
                "the property must be described as on the registry",
            ));
        }
        if t.title.mortgage != prop.mortgage {
            return Err(rule(
                "title.mortgage",
                "the mortgage must be disclosed as on the registry",
            ));
        }
        let total = t.price.total_fen;
        check(validate::money_fen("terms.price.total_fen", total))?;
        if t.price.schedule.is_empty() || t.price.schedule.len() > 12 {
            return Err(rule("price.schedule", "1 to 12 payments"));
        }
        let mut sum: u64 = 0;
        let mut due = now;
        for p in &t.price.schedule {
            check(validate::money_fen(
                "terms.price.schedule[].amount_fen",
                p.amount_fen,
            ))?;
            if p.due_ms < due {
                return Err(rule(
                    "price.schedule",
                    "payments are due after now, in ascending order",
                ));
            }
            due = p.due_ms;
            sum = sum.saturating_add(p.amount_fen);
        }
        if sum != total {
            return Err(rule(
                "price.schedule",
                format!("payments add up to {sum}, not {total}"),
            ));
        }
        match (&t.loan, t.price.method) {
            (Some(loan), PaymentMethod::Loan) => {
                reference("terms.loan.bank", &loan.bank, IdKind::Bank)?;
                check(validate::money_fen(
                    "terms.loan.amount_fen",
                    loan.amount_fen,
                ))?;
                if loan.amount_fen >= total {
                    return Err(rule("loan", "the loan is less than the price"));
                }
            }
            (None, PaymentMethod::LumpSum | PaymentMethod::Instalments) => {}
            _ => {
                return Err(rule(
                    "loan",
                    "a loan is given exactly when the method is `loan`",
                ));
            }
        }
        if let Some(d) = &t.deposit {
            check(validate::money_fen(
                "terms.deposit.amount_fen",
                d.amount_fen,
            ))?;
            if d.amount_fen > total / 5 {
                return Err(rule(
                    "deposit",
                    "a deposit (定金) is at most 20% of the price",
                ));
            }
            if d.due_ms < now {
                return Err(rule("deposit", "the deposit is due after now"));
            }
        }
        text("terms.handover.condition", &t.handover.condition, 1, 500)?;
        if t.handover.date_ms < now || t.transfer.apply_by_ms < now {
            return Err(rule("dates", "handover and transfer dates are after now"));
        }
        if t.breach.late_permyriad_per_day > 100 || t.breach.default_penalty_fen > total {
            return Err(rule(
                "breach",
                "late penalty at most 1% a day; default penalty at most the price",
            ));
        }
        text("terms.disputes.venue", &t.disputes.venue, 1, 100)?;
        Ok(())
    }

    /// The drafter of a contract on `l`: its entrusted agent, or a party of a self-listing.
    fn check_drafter(
        &self,
        c: &Cmd,
        l: &Listing,
        buyer: &str,
        via_proxy: Option<&str>,
    ) -> Result<Option<Acting>, Rejection> {
        if c.is_agent() {
            if via_proxy.is_some() {
                return Err(Rejection::new(
                    &c::PROXY_NOT_ALLOWED,
                    "agents do not act through proxies",
                ));
            }
            if l.agent.as_deref() != Some(c.actor()) {
                return Err(Rejection::new(
                    &c::NOT_DRAFTER,
                    format!("{} is not the agent of {}", c.actor(), l.id),
                ));
            }
            self.agent_entrusted(c, l.entrustment.as_deref())?;
            return Ok(None);
        }
        let acting = self.acting_party(c, via_proxy)?;
        acting.check_property(&l.property)?;
        if l.agent.is_some() || (acting.party != l.seller && acting.party != buyer) {
            return Err(Rejection::new(
                &c::NOT_DRAFTER,
                "only the listing's agent, or the seller or buyer of a self-listing, drafts",
            ));
        }
        Ok(Some(acting))
    }

    /// The role of the actor in a contract (agent, or buyer/seller possibly through a proxy).
    fn signatory(
        &self,
        c: &Cmd,
        ct: &Contract,
        via_proxy: Option<&str>,
    ) -> Result<Signatory, Rejection> {
        self.signatory_for(c, ct, via_proxy, None)
    }

    /// As [`Self::signatory`]; with `purchase` (a purchase entrustment named by an agent), the
    /// buyer's agent acting in the buyer's role, for that entrustment's principal only.
    fn signatory_for(
        &self,
        c: &Cmd,
        ct: &Contract,
        via_proxy: Option<&str>,
        purchase: Option<&str>,
    ) -> Result<Signatory, Rejection> {
        if let Some(entrustment) = purchase {
            if !c.is_agent() {
                return Err(Rejection::new(
                    &c::BAD_FIELD,
                    "only a buyer's agent acts under a purchase entrustment",
                )
                .with(json!({ "field": "entrustment" })));
            }
            if via_proxy.is_some() {
                return Err(Rejection::new(
                    &c::PROXY_NOT_ALLOWED,
                    "agents do not act through proxies",
                ));
            }
            reference("entrustment", entrustment, IdKind::Entrustment)?;
            let l = self.listing_of(&ct.listing)?;
            let acting = self.purchase_agent(c, Some(entrustment), l)?;
            if acting.party != ct.buyer {
                return Err(Rejection::new(
                    &c::PURCHASE_OUT_OF_SCOPE,
                    format!("{} is not the buyer of {}", acting.party, ct.id),
                ));
            }
            return Ok(Signatory {
                role: ContractRole::Buyer,
                acting: None,
            });
        }
        if c.is_agent() {
            if via_proxy.is_some() {
                return Err(Rejection::new(
                    &c::PROXY_NOT_ALLOWED,
                    "agents do not act through proxies",
                ));
            }
            if ct.agent.as_deref() != Some(c.actor()) {
                return Err(Rejection::new(
                    &c::NOT_CONTRACT_PARTY,
                    format!("{} is not the agent of {}", c.actor(), ct.id),
                ));
            }
            let l = self.listing_of(&ct.listing)?;
            self.agent_entrusted(c, l.entrustment.as_deref())?;
            return Ok(Signatory {
                role: ContractRole::Agent,
                acting: None,
            });
        }
        let acting = self.acting_party(c, via_proxy)?;
        acting.check_property(&ct.property)?;
        let role = if acting.party == ct.buyer {
            ContractRole::Buyer
        } else if acting.party == ct.seller {
            ContractRole::Seller
        } else {
            return Err(Rejection::new(
                &c::NOT_CONTRACT_PARTY,
                format!("{} is not a party of {}", acting.party, ct.id),
            ));
        };
        Ok(Signatory {
            role,
            acting: Some(acting),
        })
    }

    pub(crate) fn decide_contract_draft(
        &self,
        c: &Cmd,
        p: &ContractDraft,
    ) -> Result<Out, Rejection> {
        reference("listing", &p.listing, IdKind::Listing)?;
        reference("buyer", &p.buyer, IdKind::Party)?;
        check(validate::hex64("document_hash", &p.document_hash))?;
        let l = self.listing_of(&p.listing)?;
        let acting = self.check_drafter(c, l, &p.buyer, p.via_proxy.as_deref())?;
        if l.status != ListingStatus::Active {
            return Err(status(&c::LISTING_STATUS, &l.id, l.status));
        }
        if let Some(ct) = &l.contract {
            return Err(Rejection::new(
                &c::CONTRACT_LIVE,
                format!("{ct} is live on {}", l.id),
            ));
        }
        let buyer = self
            .parties
            .get(&p.buyer)
            .ok_or_else(|| not_found(&c::PARTY_NOT_FOUND, &p.buyer))?;
        if !buyer.verified() {
            return Err(Rejection::new(
                &c::PARTY_NOT_VERIFIED,
                format!("the buyer {} is not real-name verified", buyer.id),
            ));
        }
        if buyer.id == l.seller {
            return Err(Rejection::new(
                &c::OWN_LISTING,
                "the buyer cannot be the seller",
            ));
        }
        self.not_seized(&l.property)?;
        self.check_terms(&p.terms, l, &p.buyer, c.now())?;
        let out = Out::new("ContractDrafted")
            .with("property", l.property.clone())
            .with("verification", l.verification.clone());
        Ok(match acting {
            Some(a) => a.annotate(out),
            None => out,
        })
    }

    pub(crate) fn apply_contract_draft(
        &mut self,
        e: &Ev,
        p: &ContractDraft,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        let l = need(&mut self.listings, &p.listing)?;
        l.contract = Some(id.clone());
        let (seller, agent, property, verification) = (
            l.seller.clone(),
            l.agent.clone(),
            l.property.clone(),
            l.verification.clone(),
        );
        need(&mut self.verifications, &verification)?.live_contract = Some(id.clone());
        self.contracts.insert(
            id.clone(),
            Contract {
                id,
                listing: p.listing.clone(),
                property,
                verification,
                seller,
                buyer: p.buyer.clone(),
                agent,
                terms: p.terms.clone(),
                document_hash: p.document_hash.clone(),
                amendments: 0,
                confirmed: Default::default(),
                signatures: Default::default(),
                status: ContractStatus::Drafted,
                offline_reason: None,
                offline_verified: None,
                filing_code: None,
                filed_seq: None,
                cancel_reason: None,
            },
        );
        Ok(())
    }

    pub(crate) fn decide_contract_amend(
        &self,
        c: &Cmd,
        p: &ContractAmend,
    ) -> Result<Out, Rejection> {
        check(validate::hex64("document_hash", &p.document_hash))?;
        let ct = self.contract_of(c.stream())?;
        let l = self.listing_of(&ct.listing)?;
        let acting = self.check_drafter(c, l, &ct.buyer, p.via_proxy.as_deref())?;
        if ct.status != ContractStatus::Drafted {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        if p.document_hash == ct.document_hash {
            return Err(Rejection::new(
                &c::UNCHANGED,
                "an amendment needs a new document",
            ));
        }
        self.check_terms(&p.terms, l, &ct.buyer, c.now())?;
        let out = Out::new("ContractAmended");
        Ok(match acting {
            Some(a) => a.annotate(out),
            None => out,
        })
    }

    pub(crate) fn apply_contract_amend(
        &mut self,
        e: &Ev,
        p: &ContractAmend,
    ) -> Result<(), ApplyError> {
        let ct = need(&mut self.contracts, e.stream())?;
        ct.terms = p.terms.clone();
        ct.document_hash = p.document_hash.clone();
        ct.amendments += 1;
        ct.confirmed.clear();
        ct.signatures.clear();
        Ok(())
    }

    /// `contract.confirm` (`sign == false`) and `contract.sign`.
    pub(crate) fn decide_contract_document(
        &self,
        c: &Cmd,
        p: &ContractDocument,
        sign: bool,
    ) -> Result<Out, Rejection> {
        check(validate::hex64("document_hash", &p.document_hash))?;
        let ct = self.contract_of(c.stream())?;
        let purchase = p.entrustment.as_deref();
        let who = self.signatory_for(c, ct, p.via_proxy.as_deref(), purchase)?;
        if sign && purchase.is_some() {
            // The e-signature is the buyer's own act: the buyer's agent confirms the terms for
            // the buyer but never signs for them.
            return Err(Rejection::new(
                &c::PURCHASE_OUT_OF_SCOPE,
                "only the buyer e-signs; the buyer's agent may confirm the terms",
            ));
        }
        if ct.status != ContractStatus::Drafted {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        if p.document_hash != ct.document_hash {
            return Err(Rejection::new(
                &c::DOCUMENT_MISMATCH,
                "this is not the contract's current document",
            )
            .with(json!({ "current": ct.document_hash })));
        }
        if !sign {
            if ct.confirmed.contains(&who.role) {
                return Err(Rejection::new(
                    &c::ALREADY_CONFIRMED,
                    format!("{:?} already confirmed", who.role),
                ));
            }
            let out = who.annotate(Out::new("ContractConfirmed"));
            return Ok(match purchase {
                Some(e) => out
                    .with("on_behalf_of", ct.buyer.clone())
                    .with("entrustment", e),
                None => out,
            });
        }
        if !ct.confirmed.contains(&who.role) {
            return Err(Rejection::new(
                &c::NOT_CONFIRMED,
                format!("{:?} must confirm before signing", who.role),
            ));
        }
        if ct.signatures.contains_key(&who.role) {
            return Err(Rejection::new(
                &c::ALREADY_SIGNED,
                format!("{:?} already signed", who.role),
            ));
        }
        Ok(who.annotate(Out::new("ContractSigned")))
    }

    pub(crate) fn apply_contract_document(&mut self, e: &Ev, sign: bool) -> Result<(), ApplyError> {
        let role: ContractRole = e
            .entry
            .derived
            .get("role")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or(ApplyError::Derived("role"))?;
        let ct = need(&mut self.contracts, e.stream())?;
        if !sign {
            ct.confirmed.insert(role);
            return Ok(());
        }
        ct.signatures.insert(role, e.seq());
        if ct
            .required_roles()
            .iter()
            .all(|r| ct.signatures.contains_key(r))
        {
            ct.status = ContractStatus::Signed;
        }
        Ok(())
    }

    pub(crate) fn decide_contract_offline(
        &self,
        c: &Cmd,
        p: &WithReason,
    ) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let ct = self.contract_of(c.stream())?;
        let who = self.signatory(c, ct, p.via_proxy.as_deref())?;
        if ct.status != ContractStatus::Drafted {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        Ok(who.annotate(Out::new("ContractMovedOffline")))
    }

    pub(crate) fn apply_contract_offline(
        &mut self,
        e: &Ev,
        p: &WithReason,
    ) -> Result<(), ApplyError> {
        let ct = need(&mut self.contracts, e.stream())?;
        ct.status = ContractStatus::Offline;
        ct.offline_reason = Some(p.reason.clone());
        Ok(())
    }

    pub(crate) fn decide_contract_verify_offline(
        &self,
        c: &Cmd,
        p: &OfflineVerify,
    ) -> Result<Out, Rejection> {
        check(validate::hex64("scan_hash", &p.scan_hash))?;
        let ct = self.contract_of(c.stream())?;
        if !self.offices.contains_key(c.actor()) {
            return Err(Rejection::new(
                &c::NOT_OFFICE,
                format!("{} is not a registered office", c.actor()),
            ));
        }
        if ct.status != ContractStatus::Offline {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        Ok(Out::new("OfflineContractVerified"))
    }

    pub(crate) fn apply_contract_verify_offline(
        &mut self,
        e: &Ev,
        p: &OfflineVerify,
    ) -> Result<(), ApplyError> {
        let ct = need(&mut self.contracts, e.stream())?;
        ct.status = ContractStatus::OfflineVerified;
        ct.offline_verified = Some((e.actor().to_owned(), p.scan_hash.clone()));
        Ok(())
    }

    pub(crate) fn decide_contract_file(&self, c: &Cmd) -> Result<Out, Rejection> {
        let ct = self.contract_of(c.stream())?;
        if !matches!(
            ct.status,
            ContractStatus::Signed | ContractStatus::OfflineVerified
        ) {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        self.not_seized(&ct.property)?;
        Ok(Out::new("ContractFiled")
            .with(
                "filing_code",
                derived_code(CodeTag::Filing, c.seq(), c.stream()),
            )
            .with("listing", ct.listing.clone())
            .with("property", ct.property.clone()))
    }

    pub(crate) fn apply_contract_file(&mut self, e: &Ev) -> Result<(), ApplyError> {
        let code = e.derived_str("filing_code")?;
        let ct = need(&mut self.contracts, e.stream())?;
        ct.status = ContractStatus::Filed;
        ct.filing_code = Some(code.clone());
        ct.filed_seq = Some(e.seq());
        let (listing, verification, property) = (
            ct.listing.clone(),
            ct.verification.clone(),
            ct.property.clone(),
        );
        self.filing_codes.insert(code, e.stream().to_owned());
        let l = need(&mut self.listings, &listing)?;
        l.status = ListingStatus::Closed;
        l.pending = None;
        let entrustment = l.entrustment.clone();
        let v = need(&mut self.verifications, &verification)?;
        v.status = VerificationStatus::Closed;
        v.live_listing = None;
        v.live_contract = None;
        need(&mut self.properties, &property)?.live_verification = None;
        if let Some(en) = entrustment {
            need(&mut self.entrustments, &en)?.status = EntrustmentStatus::Completed;
        }
        Ok(())
    }

    pub(crate) fn decide_contract_cancel_filing(
        &self,
        c: &Cmd,
        p: &Reason,
    ) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let ct = self.contract_of(c.stream())?;
        if ct.status != ContractStatus::Filed {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        Ok(Out::new("ContractFilingCancelled"))
    }

    pub(crate) fn decide_contract_cancel(&self, c: &Cmd, p: &WithReason) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let ct = self.contract_of(c.stream())?;
        let who = self.signatory(c, ct, p.via_proxy.as_deref())?;
        if !ct.status.live() {
            return Err(status(&c::CONTRACT_STATUS, &ct.id, ct.status));
        }
        Ok(who.annotate(Out::new("ContractCancelled")))
    }

    /// Cancels a contract (`filed == false`: before filing, freeing the listing) or a filing.
    pub(crate) fn apply_contract_cancel(
        &mut self,
        e: &Ev,
        reason: &str,
        filed: bool,
    ) -> Result<(), ApplyError> {
        let ct = need(&mut self.contracts, e.stream())?;
        ct.cancel_reason = Some(reason.to_owned());
        if filed {
            ct.status = ContractStatus::FilingCancelled;
            return Ok(());
        }
        ct.status = ContractStatus::Cancelled;
        let (listing, verification) = (ct.listing.clone(), ct.verification.clone());
        need(&mut self.listings, &listing)?.contract = None;
        need(&mut self.verifications, &verification)?.live_contract = None;
        Ok(())
    }
}
