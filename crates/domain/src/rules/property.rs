//! The registry's properties and property verification (房源核验), the root of every deal.

use serde_json::json;

use crate::decide::{Cmd, Ev, Out, check, commitment, need, not_found, reference, status, text};
use crate::ids::{CodeTag, IdKind, derived_code};
use crate::payload::{
    ByParty, Mortgage, Owner, PropertyRegister, PropertyTransfer, PropertyVerify, Reason, Seizure,
    WithReason,
};
use crate::rejection::{Rejection, codes as c};
use crate::state::{EntrustmentStatus, Property, Verification, VerificationStatus};
use crate::validate;
use crate::{ApplyError, State};

fn owners(list: &[Owner]) -> Result<(), Rejection> {
    let bad = |why: &str| Err(Rejection::new(&c::OWNER_SHARES, why.to_owned()));
    if list.is_empty() || list.len() > 10 {
        return bad("a property has 1 to 10 owners");
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut total: u32 = 0;
    for (i, o) in list.iter().enumerate() {
        commitment(&format!("owners[{i}].name_commitment"), &o.name_commitment)?;
        commitment(&format!("owners[{i}].id_commitment"), &o.id_commitment)?;
        if !ids.insert(&o.id_commitment) {
            return bad("an owner appears twice");
        }
        if o.share_percent == 0 {
            return bad("every share is at least 1%");
        }
        total += u32::from(o.share_percent);
    }
    if total != 100 {
        return bad("shares must add up to 100%");
    }
    Ok(())
}

pub(crate) fn mortgage(m: &Mortgage) -> Result<(), Rejection> {
    reference("mortgage.bank", &m.bank, IdKind::Bank)?;
    check(validate::money_fen("mortgage.amount_fen", m.amount_fen))
}

fn seizure(s: &Seizure) -> Result<(), Rejection> {
    text("court", &s.court, 1, 100)?;
    text("case_no", &s.case_no, 1, 60)
}

impl State {
    pub(crate) fn property_of(&self, id: &str) -> Result<&Property, Rejection> {
        self.properties
            .get(id)
            .ok_or_else(|| not_found(&c::PROPERTY_NOT_FOUND, id))
    }

    pub(crate) fn not_seized(&self, property: &str) -> Result<(), Rejection> {
        match self
            .properties
            .get(property)
            .and_then(|p| p.seizure.as_ref())
        {
            Some(s) => Err(Rejection::new(
                &c::SEIZED,
                format!("{property} is seized by {}", s.court),
            )
            .with(json!({ "property": property }))),
            None => Ok(()),
        }
    }

    pub(crate) fn decide_property_register(
        &self,
        _c: &Cmd,
        p: &PropertyRegister,
    ) -> Result<Out, Rejection> {
        let cert = check(validate::certificate_no(
            "certificate_no",
            &p.certificate_no,
        ))?;
        text("district", &p.district, 1, 20)?;
        text("community", &p.community, 1, 60)?;
        text("address", &p.address, 1, 200)?;
        text("usage", &p.usage, 1, 20)?;
        check(validate::area_centi_m2("area_centi_m2", p.area_centi_m2))?;
        check(validate::range("rooms", p.rooms.into(), 0, 20))?;
        check(validate::range("halls", p.halls.into(), 0, 10))?;
        check(validate::range("bathrooms", p.bathrooms.into(), 0, 10))?;
        check(validate::range(
            "floors_total",
            p.floors_total.into(),
            1,
            200,
        ))?;
        check(validate::range(
            "floor",
            p.floor.into(),
            -5,
            p.floors_total.into(),
        ))?;
        check(validate::range(
            "built_year",
            p.built_year.into(),
            1900,
            2100,
        ))?;
        owners(&p.owners)?;
        if let Some(m) = &p.mortgage {
            mortgage(m)?;
        }
        if let Some(s) = &p.seizure {
            seizure(s)?;
        }
        if self.certificates.contains_key(&cert.normal) {
            return Err(Rejection::new(
                &c::CERTIFICATE_TAKEN,
                format!("{} is already registered", cert.normal),
            ));
        }
        Ok(Out::new("PropertyRegistered").with("certificate_no", cert.normal))
    }

    pub(crate) fn apply_property_register(
        &mut self,
        e: &Ev,
        p: &PropertyRegister,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        let cert = e.derived_str("certificate_no")?;
        self.certificates.insert(cert.clone(), id.clone());
        self.properties.insert(
            id.clone(),
            Property {
                id,
                certificate_no: cert,
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
                owners: p.owners.clone(),
                mortgage: p.mortgage.clone(),
                seizure: p.seizure.clone(),
                live_verification: None,
            },
        );
        Ok(())
    }

    pub(crate) fn with_property(
        &mut self,
        e: &Ev,
        f: impl FnOnce(&mut Property),
    ) -> Result<(), ApplyError> {
        f(need(&mut self.properties, e.stream())?);
        Ok(())
    }

    pub(crate) fn decide_property_seize(&self, c: &Cmd, p: &Seizure) -> Result<Out, Rejection> {
        seizure(p)?;
        let prop = self.property_of(c.stream())?;
        if prop.seizure.is_some() {
            return Err(Rejection::new(
                &c::SEIZED,
                format!("{} is already seized", prop.id),
            ));
        }
        Ok(Out::new("PropertySeized"))
    }

    pub(crate) fn decide_property_release(&self, c: &Cmd, p: &Reason) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let prop = self.property_of(c.stream())?;
        if prop.seizure.is_none() {
            return Err(Rejection::new(
                &c::NOT_SEIZED,
                format!("{} is not seized", prop.id),
            ));
        }
        Ok(Out::new("PropertySeizureReleased"))
    }

    pub(crate) fn decide_property_mortgage(&self, c: &Cmd, p: &Mortgage) -> Result<Out, Rejection> {
        mortgage(p)?;
        let prop = self.property_of(c.stream())?;
        if prop.mortgage.is_some() {
            return Err(Rejection::new(
                &c::MORTGAGED,
                format!("{} is already mortgaged", prop.id),
            ));
        }
        Ok(Out::new("PropertyMortgaged"))
    }

    pub(crate) fn decide_property_discharge(&self, c: &Cmd) -> Result<Out, Rejection> {
        let prop = self.property_of(c.stream())?;
        if prop.mortgage.is_none() {
            return Err(Rejection::new(
                &c::NOT_MORTGAGED,
                format!("{} is not mortgaged", prop.id),
            ));
        }
        Ok(Out::new("PropertyMortgageDischarged"))
    }

    pub(crate) fn decide_property_transfer(
        &self,
        c: &Cmd,
        p: &PropertyTransfer,
    ) -> Result<Out, Rejection> {
        owners(&p.owners)?;
        let prop = self.property_of(c.stream())?;
        let mut out = Out::new("PropertyTransferred");
        if let Some(cert) = &p.certificate_no {
            let cert = check(validate::certificate_no("certificate_no", cert))?;
            if self
                .certificates
                .get(&cert.normal)
                .is_some_and(|owner| *owner != prop.id)
            {
                return Err(Rejection::new(
                    &c::CERTIFICATE_TAKEN,
                    format!("{} is already registered", cert.normal),
                ));
            }
            out = out.with("certificate_no", cert.normal);
        }
        if let Some(id) = &p.contract {
            reference("contract", id, IdKind::Contract)?;
            let contract = self
                .contracts
                .get(id)
                .ok_or_else(|| not_found(&c::CONTRACT_NOT_FOUND, id))?;
            if contract.property != prop.id
                || contract.status != crate::state::ContractStatus::Filed
            {
                return Err(status(&c::CONTRACT_STATUS, id, contract.status));
            }
        }
        self.not_seized(&prop.id)?;
        if let Some(v) = &prop.live_verification {
            return Err(Rejection::new(
                &c::LIVE_DEAL,
                format!("{} is in the live deal {v}", prop.id),
            ));
        }
        Ok(out)
    }

    pub(crate) fn apply_property_transfer(
        &mut self,
        e: &Ev,
        p: &PropertyTransfer,
    ) -> Result<(), ApplyError> {
        let new_cert = e.derived_opt("certificate_no");
        let prop = need(&mut self.properties, e.stream())?;
        prop.owners = p.owners.clone();
        if let Some(cert) = new_cert {
            let old = std::mem::replace(&mut prop.certificate_no, cert.clone());
            self.certificates.remove(&old);
            self.certificates.insert(cert, e.stream().to_owned());
        }
        Ok(())
    }

    pub(crate) fn decide_property_verify(
        &self,
        c: &Cmd,
        p: &PropertyVerify,
    ) -> Result<Out, Rejection> {
        let cert = check(validate::certificate_no(
            "certificate_no",
            &p.certificate_no,
        ))?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        let prop = self
            .certificates
            .get(&cert.normal)
            .and_then(|id| self.properties.get(id))
            .ok_or_else(|| {
                Rejection::new(
                    &c::PROPERTY_NOT_FOUND,
                    format!("{} is not on the registry", cert.normal),
                )
            })?;
        acting.check_property(&prop.id)?;
        let id_commitment = self.id_commitment_of(&acting);
        if !prop
            .owners
            .iter()
            .any(|o| Some(&o.id_commitment) == id_commitment.as_ref())
        {
            return Err(Rejection::new(
                &c::NOT_OWNER,
                format!(
                    "{} is not an owner of {} on the registry",
                    acting.party, prop.id
                ),
            ));
        }
        self.not_seized(&prop.id)?;
        if let Some(v) = &prop.live_verification {
            return Err(Rejection::new(
                &c::LIVE_DEAL,
                format!("{} is already in the live deal {v}", prop.id),
            )
            .with(json!({ "verification": v })));
        }
        let pending: Vec<String> = prop
            .owners
            .iter()
            .map(|o| o.id_commitment.clone())
            .filter(|x| Some(x) != id_commitment.as_ref())
            .collect();
        let kind = if pending.is_empty() {
            "PropertyVerified"
        } else {
            "PropertyVerificationPending"
        };
        let out = Out::new(kind)
            .with("property", prop.id.clone())
            .with(
                "verification_code",
                derived_code(CodeTag::Verification, c.seq(), c.stream()),
            )
            .with(
                "mortgage",
                serde_json::to_value(&prop.mortgage).unwrap_or_default(),
            )
            .with("consents_pending", pending);
        Ok(acting.annotate(out))
    }

    pub(crate) fn apply_property_verify(&mut self, e: &Ev) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        let property = e.derived_str("property")?;
        let pending: std::collections::BTreeSet<String> = e
            .entry
            .derived
            .get("consents_pending")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or(ApplyError::Derived("consents_pending"))?;
        let code = e.derived_str("verification_code")?;
        let prop = need(&mut self.properties, &property)?;
        prop.live_verification = Some(id.clone());
        let mortgage = prop.mortgage.clone();
        self.verifications.insert(
            id.clone(),
            Verification {
                id,
                property,
                seller: e.principal(),
                code,
                status: if pending.is_empty() {
                    VerificationStatus::Verified
                } else {
                    VerificationStatus::PendingConsent
                },
                consents_pending: pending,
                consented_by: Default::default(),
                mortgage,
                requested_at_ms: e.now(),
                sale_entrustment: None,
                live_listing: None,
                live_contract: None,
            },
        );
        Ok(())
    }

    pub(crate) fn verification_of(&self, id: &str) -> Result<&Verification, Rejection> {
        self.verifications
            .get(id)
            .ok_or_else(|| not_found(&c::VERIFICATION_NOT_FOUND, id))
    }

    pub(crate) fn decide_consent(&self, c: &Cmd, p: &ByParty) -> Result<Out, Rejection> {
        let v = self.verification_of(c.stream())?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        acting.check_property(&v.property)?;
        if v.status != VerificationStatus::PendingConsent {
            return Err(status(&c::VERIFICATION_STATUS, &v.id, v.status));
        }
        let Some(idc) = self
            .id_commitment_of(&acting)
            .filter(|x| v.consents_pending.contains(x))
        else {
            return Err(Rejection::new(
                &c::CONSENT_NOT_NEEDED,
                format!("{}'s consent is not pending on {}", acting.party, v.id),
            ));
        };
        self.not_seized(&v.property)?;
        Ok(acting.annotate(Out::new("CoOwnerConsented").with("id_commitment", idc)))
    }

    pub(crate) fn apply_consent(&mut self, e: &Ev) -> Result<(), ApplyError> {
        let idc = e.derived_str("id_commitment")?;
        let party = e.principal();
        let v = need(&mut self.verifications, e.stream())?;
        v.consents_pending.remove(&idc);
        v.consented_by.insert(party);
        if v.consents_pending.is_empty() {
            v.status = VerificationStatus::Verified;
        }
        Ok(())
    }

    pub(crate) fn decide_verification_cancel(
        &self,
        c: &Cmd,
        p: &WithReason,
    ) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let v = self.verification_of(c.stream())?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        acting.check_property(&v.property)?;
        if acting.party != v.seller {
            return Err(Rejection::new(
                &c::NOT_SELLER,
                format!("{} is not the seller of {}", acting.party, v.id),
            ));
        }
        if !v.live() {
            return Err(status(&c::VERIFICATION_STATUS, &v.id, v.status));
        }
        let entrusted = v
            .sale_entrustment
            .as_ref()
            .and_then(|id| self.entrustments.get(id))
            .is_some_and(|en| en.status == EntrustmentStatus::Accepted && en.live_at(c.now()));
        if v.live_listing.is_some() || v.live_contract.is_some() || entrusted {
            return Err(Rejection::new(
                &c::VERIFICATION_IN_USE,
                format!("{} still has a live listing, contract or entrustment", v.id),
            ));
        }
        Ok(acting.annotate(Out::new("VerificationCancelled")))
    }

    pub(crate) fn apply_verification_cancel(&mut self, e: &Ev) -> Result<(), ApplyError> {
        let v = need(&mut self.verifications, e.stream())?;
        v.status = VerificationStatus::Cancelled;
        let property = v.property.clone();
        need(&mut self.properties, &property)?.live_verification = None;
        Ok(())
    }
}
