//! Proxy filings (代理人备案) and erasure receipts.

use crate::decide::{
    Cmd, Ev, Out, check, commitment, need, not_found, period, reference, status, text,
};
use crate::ids::{self, IdKind};
use crate::payload::{ErasureRecord, ProxyFile, ProxyVerify, Reason};
use crate::rejection::{Rejection, codes as c};
use crate::state::Key32;
use crate::state::{Erasure, KeyStatus, Proxy, ProxyStatus};
use crate::validate::{self, DOCUMENTS_MAX};
use crate::{ApplyError, State};

/// Longest proxy validity, in days.
const PROXY_DAYS_MAX: i64 = 366;

impl State {
    fn proxy_of(&self, id: &str) -> Result<&Proxy, Rejection> {
        self.proxies
            .get(id)
            .ok_or_else(|| not_found(&c::PROXY_NOT_FOUND, id))
    }

    pub(crate) fn decide_proxy_file(&self, c: &Cmd, p: &ProxyFile) -> Result<Out, Rejection> {
        reference("principal", &p.principal, IdKind::Party)?;
        reference("property", &p.property, IdKind::Property)?;
        let scope: std::collections::BTreeSet<_> = p.scope.iter().collect();
        if scope.is_empty() || scope.len() != p.scope.len() {
            return Err(
                Rejection::new(&c::BAD_FIELD, "scope: 1 to 6 distinct actions")
                    .with(serde_json::json!({ "field": "scope" })),
            );
        }
        check(validate::hashes(
            "document_hashes",
            &p.document_hashes,
            1,
            DOCUMENTS_MAX,
        ))?;
        period("expires_at_ms", c.now(), p.expires_at_ms, PROXY_DAYS_MAX)?;
        let acting = self.acting_party(c, None)?;
        if !self.parties.contains_key(&p.principal) {
            return Err(not_found(&c::PARTY_NOT_FOUND, &p.principal));
        }
        if p.principal == acting.party {
            return Err(Rejection::new(
                &c::SELF_PROXY,
                "a party cannot be their own proxy",
            ));
        }
        self.property_of(&p.property)?;
        Ok(Out::new("ProxyFiled"))
    }

    pub(crate) fn apply_proxy_file(&mut self, e: &Ev, p: &ProxyFile) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        self.proxies.insert(
            id.clone(),
            Proxy {
                id,
                proxy: e.actor().to_owned(),
                principal: p.principal.clone(),
                property: p.property.clone(),
                scope: p.scope.iter().copied().collect(),
                expires_at_ms: p.expires_at_ms,
                document_hashes: p.document_hashes.clone(),
                status: ProxyStatus::Filed,
                verified_by: None,
                principal_id_commitment: None,
            },
        );
        Ok(())
    }

    pub(crate) fn decide_proxy_verify(&self, c: &Cmd, p: &ProxyVerify) -> Result<Out, Rejection> {
        commitment("principal_id_commitment", &p.principal_id_commitment)?;
        let x = self.proxy_of(c.stream())?;
        if !self.offices.contains_key(c.actor()) {
            return Err(Rejection::new(
                &c::NOT_OFFICE,
                format!("{} is not a registered office", c.actor()),
            ));
        }
        if x.status != ProxyStatus::Filed {
            return Err(status(&c::PROXY_STATUS, &x.id, x.status));
        }
        if c.now() >= x.expires_at_ms {
            return Err(Rejection::new(
                &c::PROXY_EXPIRED,
                format!("{} has expired", x.id),
            ));
        }
        let attested = self
            .parties
            .get(&x.principal)
            .and_then(|p| p.id_commitment.as_ref());
        if attested.is_some_and(|a| *a != p.principal_id_commitment) {
            return Err(Rejection::new(
                &c::PRINCIPAL_MISMATCH,
                "the person checked is not the attested principal",
            ));
        }
        Ok(Out::new("ProxyVerified"))
    }

    pub(crate) fn apply_proxy_verify(&mut self, e: &Ev, p: &ProxyVerify) -> Result<(), ApplyError> {
        let x = need(&mut self.proxies, e.stream())?;
        x.status = ProxyStatus::Verified;
        x.verified_by = Some(e.actor().to_owned());
        x.principal_id_commitment = Some(p.principal_id_commitment.clone());
        Ok(())
    }

    pub(crate) fn decide_proxy_revoke(&self, c: &Cmd, p: &Reason) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let x = self.proxy_of(c.stream())?;
        let allowed = c.actor() == x.principal
            || c.actor() == x.proxy
            || c.actor() == ids::HOUSING
            || self.offices.contains_key(c.actor());
        if !allowed {
            return Err(Rejection::new(
                &c::NOT_PROXY_PARTY,
                format!("{} may not revoke {}", c.actor(), x.id),
            ));
        }
        if x.status == ProxyStatus::Revoked {
            return Err(status(&c::PROXY_STATUS, &x.id, x.status));
        }
        Ok(Out::new("ProxyRevoked"))
    }

    pub(crate) fn apply_proxy_revoke(&mut self, e: &Ev) -> Result<(), ApplyError> {
        need(&mut self.proxies, e.stream())?.status = ProxyStatus::Revoked;
        Ok(())
    }

    pub(crate) fn decide_erasure(&self, _c: &Cmd, p: &ErasureRecord) -> Result<Out, Rejection> {
        if !(IdKind::Party.matches(&p.subject) || IdKind::Agent.matches(&p.subject)) {
            return Err(
                Rejection::new(&c::BAD_REFERENCE, "subject must be a party or an agent")
                    .with(serde_json::json!({ "field": "subject" })),
            );
        }
        check(validate::hashes("commitments", &p.commitments, 1, 10))?;
        check(validate::hex64("receipt_hash", &p.receipt_hash))?;
        let (erased, own): (bool, Vec<&String>) = if let Some(x) = self.parties.get(&p.subject) {
            let own = [
                Some(&x.phone_commitment),
                x.name_commitment.as_ref(),
                x.id_commitment.as_ref(),
            ];
            (x.erased, own.into_iter().flatten().collect())
        } else if let Some(a) = self.agents.get(&p.subject) {
            (
                a.erased,
                vec![&a.name_commitment, &a.id_commitment, &a.phone_commitment],
            )
        } else {
            return Err(not_found(&c::SUBJECT_NOT_FOUND, &p.subject));
        };
        if erased {
            return Err(Rejection::new(
                &c::SUBJECT_ERASED,
                format!("{} was already erased", p.subject),
            ));
        }
        if let Some(x) = p.commitments.iter().find(|x| !own.contains(x)) {
            return Err(Rejection::new(
                &c::COMMITMENT_UNKNOWN,
                format!("{x} is not a commitment of {}", p.subject),
            ));
        }
        Ok(Out::new("ErasureRecorded"))
    }

    pub(crate) fn apply_erasure(&mut self, e: &Ev, p: &ErasureRecord) -> Result<(), ApplyError> {
        if let Some(x) = self.parties.get_mut(&p.subject) {
            x.erased = true;
            self.phones.remove(&Key32::hex(&x.phone_commitment));
            if let Some(idc) = &x.id_commitment {
                self.identities.remove(&Key32::hex(idc));
            }
        } else {
            need(&mut self.agents, &p.subject)?.erased = true;
        }
        if let Some(key) = self.actor_keys.remove(&p.subject)
            && let Some(rec) = self.keys.get_mut(&Key32::base64(&key))
        {
            rec.status = KeyStatus::Revoked;
        }
        let id = e.stream().to_owned();
        self.erasures.insert(
            id.clone(),
            Erasure {
                id,
                subject: p.subject.clone(),
                commitments: p.commitments.clone(),
                receipt_hash: p.receipt_hash.clone(),
                seq: e.seq(),
            },
        );
        Ok(())
    }
}
