//! Reference data the housing authority decides: agencies, agents, banks, filing offices.

use crate::decide::{Cmd, Ev, Out, commitment, need, not_found, reference, status, text};
use crate::ids::IdKind;
use crate::payload::{AgencyCertify, AgentCertify, BankRegister, OfficeRegister};
use crate::rejection::{Rejection, codes as c};
use crate::state::{Agency, Agent, Bank, CertStatus, Office};
use crate::{ApplyError, State};

/// A licence number: 1-40 characters of `[A-Za-z0-9-]` or CJK.
fn licence(field: &str, value: &str) -> Result<(), Rejection> {
    text(field, value, 1, 40)?;
    if value.chars().all(|ch| {
        ch.is_ascii_alphanumeric() || ch == '-' || ('\u{4e00}'..='\u{9fff}').contains(&ch)
    }) {
        Ok(())
    } else {
        Err(Rejection::new(
            &c::BAD_FIELD,
            format!("{field}: letters, digits, '-' or CJK only"),
        )
        .with(serde_json::json!({ "field": field })))
    }
}

impl State {
    pub(crate) fn decide_agency_certify(
        &self,
        _c: &Cmd,
        p: &AgencyCertify,
    ) -> Result<Out, Rejection> {
        text("name", &p.name, 1, 100)?;
        licence("licence_no", &p.licence_no)?;
        text("district", &p.district, 1, 20)?;
        text("address", &p.address, 1, 200)?;
        if self.licences.contains_key(&p.licence_no) {
            return Err(Rejection::new(
                &c::LICENCE_TAKEN,
                format!("licence {} is already certified", p.licence_no),
            ));
        }
        Ok(Out::new("AgencyCertified"))
    }

    pub(crate) fn apply_agency_certify(
        &mut self,
        e: &Ev,
        p: &AgencyCertify,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        self.licences.insert(p.licence_no.clone(), id.clone());
        self.agencies.insert(
            id.clone(),
            Agency {
                id,
                name: p.name.clone(),
                licence_no: p.licence_no.clone(),
                district: p.district.clone(),
                address: p.address.clone(),
                status: CertStatus::Certified,
                agents: Default::default(),
            },
        );
        Ok(())
    }

    pub(crate) fn decide_agency_status(
        &self,
        c: &Cmd,
        suspend_reason: Option<&str>,
    ) -> Result<Out, Rejection> {
        let agency = self
            .agencies
            .get(c.stream())
            .ok_or_else(|| not_found(&c::AGENCY_NOT_FOUND, c.stream()))?;
        status_change(
            suspend_reason,
            agency.status,
            &agency.id,
            &c::AGENCY_STATUS,
            ("AgencySuspended", "AgencyReinstated"),
        )
    }

    pub(crate) fn apply_agency_status(&mut self, e: &Ev, to: CertStatus) -> Result<(), ApplyError> {
        need(&mut self.agencies, e.stream())?.status = to;
        Ok(())
    }

    pub(crate) fn decide_agent_certify(&self, c: &Cmd, p: &AgentCertify) -> Result<Out, Rejection> {
        reference("agency", &p.agency, IdKind::Agency)?;
        licence("licence_no", &p.licence_no)?;
        commitment("name_commitment", &p.name_commitment)?;
        commitment("id_commitment", &p.id_commitment)?;
        commitment("phone_commitment", &p.phone_commitment)?;
        let agency = self
            .agencies
            .get(&p.agency)
            .ok_or_else(|| not_found(&c::AGENCY_NOT_FOUND, &p.agency))?;
        if agency.status != CertStatus::Certified {
            return Err(Rejection::new(
                &c::AGENCY_SUSPENDED,
                format!("{} is suspended", agency.id),
            ));
        }
        if self.licences.contains_key(&p.licence_no) {
            return Err(Rejection::new(
                &c::LICENCE_TAKEN,
                format!("licence {} is already certified", p.licence_no),
            ));
        }
        if let Some(k) = &p.key {
            self.check_new_key(c.stream(), &k.key, Some(&k.proof))?;
        }
        Ok(Out::new("AgentCertified"))
    }

    pub(crate) fn apply_agent_certify(
        &mut self,
        e: &Ev,
        p: &AgentCertify,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        need(&mut self.agencies, &p.agency)?
            .agents
            .insert(id.clone());
        self.licences.insert(p.licence_no.clone(), id.clone());
        self.agents.insert(
            id.clone(),
            Agent {
                id: id.clone(),
                agency: p.agency.clone(),
                licence_no: p.licence_no.clone(),
                name_commitment: p.name_commitment.clone(),
                id_commitment: p.id_commitment.clone(),
                phone_commitment: p.phone_commitment.clone(),
                status: CertStatus::Certified,
                rating_sum: 0,
                rating_count: 0,
                erased: false,
            },
        );
        if let Some(k) = &p.key {
            self.bind_key(&id, &k.key, e.seq());
        }
        Ok(())
    }

    pub(crate) fn decide_agent_status(
        &self,
        c: &Cmd,
        suspend_reason: Option<&str>,
    ) -> Result<Out, Rejection> {
        let agent = self
            .agents
            .get(c.stream())
            .ok_or_else(|| not_found(&c::AGENT_NOT_FOUND, c.stream()))?;
        status_change(
            suspend_reason,
            agent.status,
            &agent.id,
            &c::AGENT_STATUS,
            ("AgentSuspended", "AgentReinstated"),
        )
    }

    pub(crate) fn apply_agent_status(&mut self, e: &Ev, to: CertStatus) -> Result<(), ApplyError> {
        need(&mut self.agents, e.stream())?.status = to;
        Ok(())
    }

    pub(crate) fn decide_bank_register(&self, c: &Cmd, p: &BankRegister) -> Result<Out, Rejection> {
        text("name", &p.name, 1, 100)?;
        text("branch", &p.branch, 1, 100)?;
        if let Some(k) = &p.key {
            self.check_new_key(c.stream(), &k.key, Some(&k.proof))?;
        }
        Ok(Out::new("BankRegistered"))
    }

    pub(crate) fn apply_bank_register(
        &mut self,
        e: &Ev,
        p: &BankRegister,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        self.banks.insert(
            id.clone(),
            Bank {
                id: id.clone(),
                name: p.name.clone(),
                branch: p.branch.clone(),
            },
        );
        if let Some(k) = &p.key {
            self.bind_key(&id, &k.key, e.seq());
        }
        Ok(())
    }

    pub(crate) fn decide_office_register(
        &self,
        c: &Cmd,
        p: &OfficeRegister,
    ) -> Result<Out, Rejection> {
        text("name", &p.name, 1, 100)?;
        text("district", &p.district, 1, 20)?;
        text("address", &p.address, 1, 200)?;
        text("hours", &p.hours, 1, 100)?;
        text("phone", &p.phone, 1, 30)?;
        if let Some(k) = &p.key {
            self.check_new_key(c.stream(), &k.key, Some(&k.proof))?;
        }
        Ok(Out::new("OfficeRegistered"))
    }

    pub(crate) fn apply_office_register(
        &mut self,
        e: &Ev,
        p: &OfficeRegister,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        self.offices.insert(
            id.clone(),
            Office {
                id: id.clone(),
                name: p.name.clone(),
                district: p.district.clone(),
                address: p.address.clone(),
                hours: p.hours.clone(),
                phone: p.phone.clone(),
            },
        );
        if let Some(k) = &p.key {
            self.bind_key(&id, &k.key, e.seq());
        }
        Ok(())
    }
}

/// Suspending (with a reason) needs a certified holder; reinstating (without) a suspended one.
/// Shared by agencies and agents; `events` = (suspended, reinstated).
fn status_change(
    suspend_reason: Option<&str>,
    current: CertStatus,
    id: &str,
    code: &crate::rejection::Code,
    events: (&'static str, &'static str),
) -> Result<Out, Rejection> {
    if let Some(reason) = suspend_reason {
        text("reason", reason, 1, 200)?;
    }
    let wanted = if suspend_reason.is_some() {
        CertStatus::Certified
    } else {
        CertStatus::Suspended
    };
    if current != wanted {
        return Err(status(code, id, current));
    }
    Ok(Out::new(if suspend_reason.is_some() {
        events.0
    } else {
        events.1
    }))
}
