//! Entrustments (委托): sale and purchase, accepted or declined by the agent, revoked by the
//! principal, expired by time.

use crate::decide::{Cmd, Ev, Out, check, need, not_found, period, reference, status, text};
use crate::ids::IdKind;
use crate::payload::{EntrustPurchase, EntrustSale, WithReason};
use crate::rejection::{Rejection, codes as c};
use crate::state::{
    Entrustment, EntrustmentStatus, EntrustmentTerms, ListingStatus, VerificationStatus,
};
use crate::validate;
use crate::{ApplyError, State};

/// Longest entrustment period, in days.
pub(crate) const ENTRUSTMENT_DAYS_MAX: i64 = 366;

impl State {
    pub(crate) fn entrustment_of(&self, id: &str) -> Result<&Entrustment, Rejection> {
        self.entrustments
            .get(id)
            .ok_or_else(|| not_found(&c::ENTRUSTMENT_NOT_FOUND, id))
    }

    pub(crate) fn decide_entrust_sale(&self, c: &Cmd, p: &EntrustSale) -> Result<Out, Rejection> {
        reference("verification", &p.verification, IdKind::Verification)?;
        reference("agent", &p.agent, IdKind::Agent)?;
        check(validate::money_fen("floor_price_fen", p.floor_price_fen))?;
        period(
            "expires_at_ms",
            c.now(),
            p.expires_at_ms,
            ENTRUSTMENT_DAYS_MAX,
        )?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        let v = self.verification_of(&p.verification)?;
        acting.check_property(&v.property)?;
        if acting.party != v.seller {
            return Err(Rejection::new(
                &c::NOT_SELLER,
                format!("{} is not the seller of {}", acting.party, v.id),
            ));
        }
        if v.status != VerificationStatus::Verified {
            return Err(status(&c::VERIFICATION_STATUS, &v.id, v.status));
        }
        self.agent_active(&p.agent)?;
        if let Some(en) = v
            .sale_entrustment
            .as_ref()
            .and_then(|id| self.entrustments.get(id))
            && en.live_at(c.now())
        {
            return Err(Rejection::new(
                &c::ENTRUSTMENT_EXISTS,
                format!("{} already covers {}", en.id, v.id),
            ));
        }
        if let Some(l) = &v.live_listing {
            return Err(Rejection::new(
                &c::LISTING_EXISTS,
                format!("{} is already listed as {l}", v.id),
            ));
        }
        Ok(acting.annotate(Out::new("SaleEntrusted")))
    }

    pub(crate) fn apply_entrust_sale(&mut self, e: &Ev, p: &EntrustSale) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        need(&mut self.verifications, &p.verification)?.sale_entrustment = Some(id.clone());
        self.entrustments.insert(
            id.clone(),
            Entrustment {
                id,
                principal: e.principal(),
                agent: p.agent.clone(),
                terms: EntrustmentTerms::Sale {
                    verification: p.verification.clone(),
                    floor_price_fen: p.floor_price_fen,
                    review_agent_edits: p.review_agent_edits,
                },
                expires_at_ms: p.expires_at_ms,
                status: EntrustmentStatus::Offered,
                created_at_ms: e.now(),
            },
        );
        Ok(())
    }

    pub(crate) fn decide_entrust_purchase(
        &self,
        c: &Cmd,
        p: &EntrustPurchase,
    ) -> Result<Out, Rejection> {
        reference("agent", &p.agent, IdKind::Agent)?;
        check(validate::money_fen("budget_max_fen", p.budget_max_fen))?;
        if p.districts.len() > 10 {
            return Err(Rejection::new(&c::BAD_FIELD, "districts: at most 10")
                .with(serde_json::json!({ "field": "districts" })));
        }
        for d in &p.districts {
            text("districts[]", d, 1, 20)?;
        }
        period(
            "expires_at_ms",
            c.now(),
            p.expires_at_ms,
            ENTRUSTMENT_DAYS_MAX,
        )?;
        self.acting_party(c, None)?;
        self.agent_active(&p.agent)?;
        Ok(Out::new("PurchaseEntrusted"))
    }

    pub(crate) fn apply_entrust_purchase(
        &mut self,
        e: &Ev,
        p: &EntrustPurchase,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        self.entrustments.insert(
            id.clone(),
            Entrustment {
                id,
                principal: e.principal(),
                agent: p.agent.clone(),
                terms: EntrustmentTerms::Purchase {
                    budget_max_fen: p.budget_max_fen,
                    districts: p.districts.clone(),
                },
                expires_at_ms: p.expires_at_ms,
                status: EntrustmentStatus::Offered,
                created_at_ms: e.now(),
            },
        );
        Ok(())
    }

    /// `entrustment.accept` (no reason) and `entrustment.decline` (with a reason).
    pub(crate) fn decide_entrust_answer(
        &self,
        c: &Cmd,
        decline: Option<&str>,
    ) -> Result<Out, Rejection> {
        if let Some(reason) = decline {
            text("reason", reason, 1, 500)?;
        }
        let en = self.entrustment_of(c.stream())?;
        if en.agent != c.actor() {
            return Err(Rejection::new(
                &c::NOT_ENTRUSTED,
                format!("{} was offered to {}", en.id, en.agent),
            ));
        }
        if en.status != EntrustmentStatus::Offered {
            return Err(status(&c::ENTRUSTMENT_STATUS, &en.id, en.status));
        }
        if decline.is_some() {
            return Ok(Out::new("EntrustmentDeclined"));
        }
        if c.now() >= en.expires_at_ms {
            return Err(Rejection::new(
                &c::ENTRUSTMENT_EXPIRED,
                format!("{} has expired", en.id),
            ));
        }
        self.agent_active(c.actor())?;
        if let EntrustmentTerms::Sale { verification, .. } = &en.terms {
            let v = self.verification_of(verification)?;
            if v.status != VerificationStatus::Verified {
                return Err(status(&c::VERIFICATION_STATUS, &v.id, v.status));
            }
        }
        Ok(Out::new("EntrustmentAccepted"))
    }

    /// The live listing published under a sale entrustment, if any.
    fn listing_under(&self, en: &Entrustment) -> Option<&crate::state::Listing> {
        let EntrustmentTerms::Sale { verification, .. } = &en.terms else {
            return None;
        };
        self.verifications
            .get(verification)
            .and_then(|v| v.live_listing.as_ref())
            .and_then(|l| self.listings.get(l))
            .filter(|l| l.entrustment.as_deref() == Some(en.id.as_str()))
    }

    fn no_live_contract_under(&self, en: &Entrustment) -> Result<(), Rejection> {
        if let Some(l) = self.listing_under(en)
            && let Some(ct) = &l.contract
        {
            return Err(Rejection::new(
                &c::CONTRACT_LIVE,
                format!("{ct} is live on {}", l.id),
            ));
        }
        Ok(())
    }

    pub(crate) fn decide_entrust_revoke(&self, c: &Cmd, p: &WithReason) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let en = self.entrustment_of(c.stream())?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        match &en.terms {
            EntrustmentTerms::Sale { verification, .. } => {
                acting.check_property(&self.verification_of(verification)?.property)?;
            }
            EntrustmentTerms::Purchase { .. } if acting.proxy.is_some() => {
                return Err(Rejection::new(
                    &c::OUT_OF_SCOPE,
                    "a purchase entrustment is not about a property",
                ));
            }
            EntrustmentTerms::Purchase { .. } => {}
        }
        if acting.party != en.principal {
            return Err(Rejection::new(
                &c::NOT_PRINCIPAL,
                format!("{} did not entrust {}", acting.party, en.id),
            ));
        }
        if !matches!(
            en.status,
            EntrustmentStatus::Offered | EntrustmentStatus::Accepted
        ) {
            return Err(status(&c::ENTRUSTMENT_STATUS, &en.id, en.status));
        }
        self.no_live_contract_under(en)?;
        Ok(acting.annotate(Out::new("EntrustmentRevoked")))
    }

    pub(crate) fn decide_entrust_expire(&self, c: &Cmd) -> Result<Out, Rejection> {
        let en = self.entrustment_of(c.stream())?;
        if !matches!(
            en.status,
            EntrustmentStatus::Offered | EntrustmentStatus::Accepted
        ) {
            return Err(status(&c::ENTRUSTMENT_STATUS, &en.id, en.status));
        }
        if c.now() < en.expires_at_ms {
            return Err(Rejection::new(
                &c::ENTRUSTMENT_NOT_EXPIRED,
                format!("{} runs until {}", en.id, en.expires_at_ms),
            ));
        }
        self.no_live_contract_under(en)?;
        Ok(Out::new("EntrustmentExpired"))
    }

    /// Sets an entrustment's status; revoking or expiring withdraws a listing published under it.
    pub(crate) fn apply_entrust_status(
        &mut self,
        e: &Ev,
        to: EntrustmentStatus,
    ) -> Result<(), ApplyError> {
        let en = need(&mut self.entrustments, e.stream())?;
        en.status = to;
        if matches!(to, EntrustmentStatus::Revoked | EntrustmentStatus::Expired) {
            let en = en.clone();
            if let Some(listing) = self.listing_under(&en).map(|l| l.id.clone()) {
                self.withdraw_listing(&listing)?;
            }
        }
        Ok(())
    }

    /// Withdraws a listing and frees its verification.
    pub(crate) fn withdraw_listing(&mut self, id: &str) -> Result<(), ApplyError> {
        let listing = need(&mut self.listings, id)?;
        listing.status = ListingStatus::Withdrawn;
        listing.pending = None;
        let v = listing.verification.clone();
        let v = need(&mut self.verifications, &v)?;
        if v.live_listing.as_deref() == Some(id) {
            v.live_listing = None;
        }
        Ok(())
    }
}
