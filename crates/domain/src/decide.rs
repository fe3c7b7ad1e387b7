//! The generic half of `decide` and `apply`: the checks every command goes through (stream shape,
//! authentication, the signer column of the table, stream existence, payload parsing, real name
//! and proxy scope), and the helpers the per-aggregate rules share. `expected_version` is not
//! checked here: the sequencer checks it before the rules, with
//! `deedlog_core::decide::check_expected_version`, and the semantic audit runs the same function.

use crate::state::Key32;
use serde_json::{Map, Value};

use deedlog_core::{Entry, SignedCommand};

use crate::ids::{self, IdKind, actor_kind};
use crate::payload::Payload;
use crate::rejection::{Rejection, codes as c};
use crate::state::{
    CertStatus, Entrustment, EntrustmentStatus, EntrustmentTerms, KeyStatus, Listing, ProxyStatus,
};
use crate::table::{self, CommandSpec, StreamUse};
use crate::validate::ValidationError;
use crate::{ApplyError, Context, Decision, State};

/// A command being decided, with its position and its table row.
pub(crate) struct Cmd<'a> {
    pub signed: &'a SignedCommand,
    pub ctx: &'a Context,
    pub spec: &'static CommandSpec,
    /// Checks made ahead of `decide` on the verify workers, if any.
    pub checks: Option<&'a crate::identity::VoucherChecks>,
}

impl Cmd<'_> {
    pub fn actor(&self) -> &str {
        &self.signed.actor
    }
    pub fn stream(&self) -> &str {
        &self.signed.stream
    }
    pub fn now(&self) -> i64 {
        self.ctx.recorded_at_ms
    }
    pub fn seq(&self) -> u64 {
        self.ctx.seq
    }
    pub fn is_agent(&self) -> bool {
        IdKind::Agent.matches(self.actor())
    }
}

/// What a rule accepted: the event kind and the derived values.
pub(crate) struct Out {
    pub kind: &'static str,
    pub derived: Map<String, Value>,
}

impl Out {
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            derived: Map::new(),
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.derived.insert(key.to_owned(), value.into());
        self
    }
}

/// The party a command acts for: the signer itself, or a principal through a proxy.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    /// The principal (the signer when no proxy is used).
    pub party: String,
    /// The proxy filing used, if any.
    pub proxy: Option<String>,
    /// The property the proxy filing is limited to.
    pub proxy_property: Option<String>,
}

impl Acting {
    /// A proxy acts only on the property of its filing.
    pub fn check_property(&self, property: &str) -> Result<(), Rejection> {
        match &self.proxy_property {
            Some(p) if p != property => Err(Rejection::new(
                &c::OUT_OF_SCOPE,
                format!("the proxy filing covers {p}, not {property}"),
            )
            .with(serde_json::json!({ "property": property }))),
            _ => Ok(()),
        }
    }

    /// Names the principal and the proxy filing in the derived values.
    pub fn annotate(&self, out: Out) -> Out {
        match &self.proxy {
            Some(proxy) => out
                .with("on_behalf_of", self.party.clone())
                .with("proxy", proxy.clone()),
            None => out,
        }
    }
}

/// Who acts on a listing: its agent, or the seller (possibly through a proxy).
pub(crate) enum Handler {
    Agent,
    Seller(Acting),
}

/// A committed entry being applied.
pub(crate) struct Ev<'a> {
    pub entry: &'a Entry,
}

impl Ev<'_> {
    pub fn actor(&self) -> &str {
        &self.entry.signed.actor
    }
    pub fn stream(&self) -> &str {
        &self.entry.stream
    }
    pub fn kind(&self) -> &str {
        &self.entry.kind
    }
    pub fn now(&self) -> i64 {
        self.entry.recorded_at_ms
    }
    pub fn seq(&self) -> u64 {
        self.entry.seq
    }
    /// The party the entry acted for: `derived.on_behalf_of`, else the signer.
    pub fn principal(&self) -> String {
        self.entry
            .derived
            .get("on_behalf_of")
            .and_then(Value::as_str)
            .unwrap_or(&self.entry.signed.actor)
            .to_owned()
    }
    pub fn derived_str(&self, key: &'static str) -> Result<String, ApplyError> {
        self.entry
            .derived
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ApplyError::Derived(key))
    }
    pub fn derived_opt(&self, key: &'static str) -> Option<String> {
        self.entry
            .derived
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// Maps a validation error onto a rejection naming the field.
pub(crate) fn invalid(e: &ValidationError) -> Rejection {
    let code = match e {
        ValidationError::NotNfc { .. } => &c::NOT_NFC,
        ValidationError::PersonalData { .. } => &c::PERSONAL_DATA,
        _ => &c::BAD_FIELD,
    };
    Rejection::new(code, e.to_string()).with(serde_json::json!({ "field": e.field() }))
}

/// Runs a validator, mapping its error.
pub(crate) fn check<T>(r: Result<T, ValidationError>) -> Result<T, Rejection> {
    r.map_err(|e| invalid(&e))
}

/// A field that must name an aggregate of the given kind.
pub(crate) fn reference(field: &str, id: &str, kind: IdKind) -> Result<(), Rejection> {
    if kind.matches(id) {
        Ok(())
    } else {
        Err(Rejection::new(
            &c::BAD_REFERENCE,
            format!("{field} must be an id like {}", kind.pattern()),
        )
        .with(serde_json::json!({ "field": field })))
    }
}

/// Text within bounds (NFC, no control characters).
pub(crate) fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Rejection> {
    check(crate::validate::text(field, value, min, max, false))?;
    check(crate::validate::no_personal_data(field, value))
}

/// Multi-line text within bounds.
pub(crate) fn text_lines(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), Rejection> {
    check(crate::validate::text(field, value, min, max, true))?;
    check(crate::validate::no_personal_data(field, value))
}

/// A commitment (64 lower-case hex digits).
pub(crate) fn commitment(field: &str, value: &str) -> Result<(), Rejection> {
    check(crate::validate::hex64(field, value))
}

/// An expiry `1..=days_max` days after now.
pub(crate) fn period(field: &str, now: i64, until: i64, days_max: i64) -> Result<(), Rejection> {
    crate::validate::window(
        field,
        now,
        until,
        now,
        crate::validate::DAY_MS,
        days_max * crate::validate::DAY_MS,
    )
    .map_err(|e| {
        Rejection::new(&c::BAD_PERIOD, e.to_string()).with(serde_json::json!({ "field": field }))
    })
}

pub(crate) fn not_found(code: &crate::rejection::Code, id: &str) -> Rejection {
    Rejection::new(code, format!("{id} does not exist")).with(serde_json::json!({ "id": id }))
}

pub(crate) fn status(
    code: &crate::rejection::Code,
    what: &str,
    state: impl std::fmt::Debug,
) -> Rejection {
    Rejection::new(code, format!("{what} is {state:?}"))
}

impl State {
    /// Decides whether `cmd` (signature already checked) is a legal step at the position `ctx`
    /// and, if so, which event it makes and what the server derives.
    ///
    /// Deterministic: the result depends only on `self`, `cmd` and `ctx`.
    ///
    /// # Errors
    /// A [`Rejection`] with a stable code; nothing must be appended.
    pub fn decide(&self, cmd: &SignedCommand, ctx: &Context) -> Result<Decision, Rejection> {
        self.decide_with(cmd, ctx, None)
    }

    /// [`State::decide`], using the voucher checks made ahead in `checks` where they apply (the
    /// answer is the same as without them; see [`crate::identity::VoucherChecks`]).
    ///
    /// # Errors
    /// As [`State::decide`].
    pub fn decide_with(
        &self,
        cmd: &SignedCommand,
        ctx: &Context,
        checks: Option<&crate::identity::VoucherChecks>,
    ) -> Result<Decision, Rejection> {
        let spec = table::spec(&cmd.kind).ok_or_else(|| {
            Rejection::new(
                &c::UNKNOWN_KIND,
                format!("unknown command kind `{}`", cmd.kind),
            )
        })?;
        if !spec.streams.iter().any(|k| k.matches(&cmd.stream)) {
            let patterns: Vec<String> = spec.streams.iter().map(|k| k.pattern()).collect();
            return Err(Rejection::new(
                &c::BAD_STREAM,
                format!(
                    "{} goes on a stream like {}",
                    cmd.kind,
                    patterns.join(" or ")
                ),
            ));
        }
        let genesis = cmd.kind == "platform.genesis";
        if genesis {
            if self.has_genesis() || ctx.seq != 0 {
                return Err(Rejection::new(
                    &c::GENESIS_NOT_FIRST,
                    "genesis is allowed only at seq 0",
                ));
            }
        } else if !self.has_genesis() {
            return Err(Rejection::new(
                &c::NO_GENESIS,
                "the log has no genesis entry yet",
            ));
        }
        if actor_kind(&cmd.actor).is_none() {
            return Err(Rejection::new(
                &c::BAD_ACTOR,
                format!("`{}` is not an actor id", cmd.actor),
            ));
        }
        if !spec
            .signers
            .iter()
            .any(|s| s.admits(&cmd.actor, &cmd.stream))
        {
            let names: Vec<&str> = spec.signers.iter().map(|s| s.name()).collect();
            return Err(Rejection::new(
                &c::ROLE_NOT_ALLOWED,
                format!("{} may be issued only by {}", cmd.kind, names.join(", ")),
            ));
        }
        if cmd.kind == "party.register" {
            // Proof of possession: the registration is signed by the key it registers.
            if self.keys.contains_key(&Key32::base64(&cmd.key)) {
                return Err(Rejection::new(
                    &c::KEY_IN_USE,
                    "this key is already registered",
                ));
            }
        } else if !genesis {
            self.authenticate(cmd)?;
        }
        match spec.stream_use {
            StreamUse::Create if ctx.stream_version != 0 => {
                return Err(Rejection::new(
                    &c::STREAM_EXISTS,
                    format!("{} already exists", cmd.stream),
                ));
            }
            StreamUse::Existing if ctx.stream_version == 0 => {
                return Err(not_found(&c::STREAM_NOT_FOUND, &cmd.stream));
            }
            _ => {}
        }
        let payload = Payload::parse(&cmd.kind, &cmd.payload)?;
        let c = Cmd {
            signed: cmd,
            ctx,
            spec,
            checks,
        };
        let out = self.dispatch(&c, &payload)?;
        debug_assert!(
            spec.events.contains(&out.kind),
            "{} made {}",
            spec.kind,
            out.kind
        );
        Ok(Decision {
            kind: out.kind.to_owned(),
            derived: Value::Object(out.derived),
            parsed: payload,
        })
    }

    /// Applies a committed entry. Entries are applied in seq order, each exactly once.
    ///
    /// # Errors
    /// [`ApplyError`] when the entry cannot be a step `decide` accepted; the state is then left
    /// as it was for the checks made before any change (seq, stream, kind, payload, derived).
    pub fn apply(&mut self, entry: &Entry) -> Result<(), ApplyError> {
        let payload = Payload::parse(&entry.signed.kind, &entry.signed.payload)
            .map_err(|r| ApplyError::Payload(r.message))?;
        self.apply_parsed(entry, &payload)
    }

    /// Applies a committed entry whose payload the caller already parsed (the payload `decide`
    /// returned for its command), so that the sequencer parses each payload once.
    ///
    /// # Errors
    /// As [`Self::apply`]; also when `payload` is not of the command's kind.
    pub fn apply_parsed(&mut self, entry: &Entry, payload: &Payload) -> Result<(), ApplyError> {
        if payload.kind() != entry.signed.kind {
            return Err(ApplyError::Payload(format!(
                "a {} payload given for a {} command",
                payload.kind(),
                entry.signed.kind
            )));
        }
        if entry.seq != self.next_seq {
            return Err(ApplyError::Seq {
                expected: self.next_seq,
                found: entry.seq,
            });
        }
        if entry.stream != entry.signed.stream {
            return Err(ApplyError::StreamMismatch {
                entry: entry.stream.clone(),
                command: entry.signed.stream.clone(),
            });
        }
        let expected = self.stream_version(&entry.stream) + 1;
        if entry.stream_version != expected {
            return Err(ApplyError::StreamVersion {
                expected,
                found: entry.stream_version,
            });
        }
        let spec = table::spec(&entry.signed.kind)
            .ok_or_else(|| ApplyError::UnknownKind(entry.signed.kind.clone()))?;
        if !spec.events.contains(&entry.kind.as_str()) {
            return Err(ApplyError::EventKind {
                command: entry.signed.kind.clone(),
                event: entry.kind.clone(),
            });
        }
        self.apply_payload(&Ev { entry }, payload)?;
        self.streams
            .insert(entry.stream.clone(), entry.stream_version);
        self.next_seq = entry.seq + 1;
        Ok(())
    }

    /// Checks that the command's key is the actor's current, unrevoked key.
    fn authenticate(&self, cmd: &SignedCommand) -> Result<(), Rejection> {
        let current = self.actor_keys.get(&cmd.actor);
        if current.is_some_and(|k| *k == cmd.key) {
            return Ok(());
        }
        match self.keys.get(&Key32::base64(&cmd.key)) {
            Some(rec) if rec.actor == cmd.actor && rec.status != KeyStatus::Current => {
                Err(Rejection::new(
                    &c::KEY_REVOKED,
                    format!("this key of {} was {:?}", cmd.actor, rec.status),
                ))
            }
            _ if current.is_none() => Err(Rejection::new(
                &c::UNKNOWN_ACTOR,
                format!("{} has no registered key", cmd.actor),
            )),
            _ => Err(Rejection::new(
                &c::KEY_MISMATCH,
                format!("the signing key is not the current key of {}", cmd.actor),
            )),
        }
    }

    /// The party a party-signed command acts for, after the real-name and proxy checks of its
    /// table row.
    pub(crate) fn acting_party(
        &self,
        c: &Cmd,
        via_proxy: Option<&str>,
    ) -> Result<Acting, Rejection> {
        let signer = self
            .parties
            .get(c.actor())
            .ok_or_else(|| not_found(&c::PARTY_NOT_FOUND, c.actor()))?;
        if signer.erased {
            return Err(Rejection::new(
                &c::PARTY_ERASED,
                format!("{} was erased", signer.id),
            ));
        }
        if c.spec.real_name && !signer.verified() {
            return Err(Rejection::new(
                &c::PARTY_NOT_VERIFIED,
                format!("{} has not passed real-name verification", signer.id),
            ));
        }
        let Some(proxy_id) = via_proxy else {
            return Ok(Acting {
                party: signer.id.clone(),
                proxy: None,
                proxy_property: None,
            });
        };
        let Some(action) = c.spec.proxy else {
            return Err(Rejection::new(
                &c::PROXY_NOT_ALLOWED,
                format!("{} cannot be taken through a proxy", c.spec.kind),
            ));
        };
        reference("via_proxy", proxy_id, IdKind::Proxy)?;
        let proxy = self
            .proxies
            .get(proxy_id)
            .ok_or_else(|| not_found(&c::PROXY_NOT_FOUND, proxy_id))?;
        if proxy.proxy != signer.id {
            return Err(Rejection::new(
                &c::NOT_THE_PROXY,
                format!("{} is not the proxy of {proxy_id}", signer.id),
            ));
        }
        match proxy.status {
            ProxyStatus::Filed => {
                return Err(Rejection::new(
                    &c::PROXY_NOT_VERIFIED,
                    format!("{proxy_id} has not been verified at a filing office"),
                ));
            }
            ProxyStatus::Revoked => {
                return Err(Rejection::new(
                    &c::PROXY_REVOKED,
                    format!("{proxy_id} was revoked"),
                ));
            }
            ProxyStatus::Verified => {}
        }
        if c.now() >= proxy.expires_at_ms {
            return Err(Rejection::new(
                &c::PROXY_EXPIRED,
                format!("{proxy_id} has expired"),
            ));
        }
        if !proxy.scope.contains(&action) {
            return Err(Rejection::new(
                &c::OUT_OF_SCOPE,
                format!("{proxy_id} does not include {action:?}"),
            )
            .with(serde_json::json!({ "action": action })));
        }
        let principal = self
            .parties
            .get(&proxy.principal)
            .ok_or_else(|| not_found(&c::PARTY_NOT_FOUND, &proxy.principal))?;
        if principal.erased {
            return Err(Rejection::new(
                &c::PARTY_ERASED,
                format!("{} was erased", principal.id),
            ));
        }
        Ok(Acting {
            party: principal.id.clone(),
            proxy: Some(proxy.id.clone()),
            proxy_property: Some(proxy.property.clone()),
        })
    }

    /// The ID commitment of an acting party: attested, or checked at the office for its proxy.
    pub(crate) fn id_commitment_of(&self, acting: &Acting) -> Option<String> {
        self.parties
            .get(&acting.party)
            .and_then(|p| p.id_commitment.clone())
            .or_else(|| {
                acting
                    .proxy
                    .as_ref()
                    .and_then(|x| self.proxies.get(x))
                    .and_then(|x| x.principal_id_commitment.clone())
            })
    }

    /// An agent that may act now: it exists, it and its agency are certified.
    pub(crate) fn agent_active(&self, agent: &str) -> Result<(), Rejection> {
        let a = self
            .agents
            .get(agent)
            .ok_or_else(|| not_found(&c::AGENT_NOT_FOUND, agent))?;
        if a.status != CertStatus::Certified || a.erased {
            return Err(Rejection::new(
                &c::AGENT_SUSPENDED,
                format!("{agent} is not certified"),
            ));
        }
        let agency_ok = self
            .agencies
            .get(&a.agency)
            .is_some_and(|g| g.status == CertStatus::Certified);
        if !agency_ok {
            return Err(Rejection::new(
                &c::AGENCY_SUSPENDED,
                format!("{}'s agency {} is suspended", agent, a.agency),
            ));
        }
        Ok(())
    }

    /// The signing agent holds `entrustment`: certified, the entrustment's agent, accepted and
    /// unexpired at the entry's time.
    pub(crate) fn agent_entrusted(
        &self,
        c: &Cmd,
        entrustment: Option<&str>,
    ) -> Result<&Entrustment, Rejection> {
        self.agent_active(c.actor())?;
        let not_entrusted = || {
            Rejection::new(
                &c::NOT_ENTRUSTED,
                format!("{} holds no accepted entrustment for this", c.actor()),
            )
        };
        let e = entrustment
            .and_then(|id| self.entrustments.get(id))
            .ok_or_else(not_entrusted)?;
        if e.agent != c.actor() {
            return Err(not_entrusted());
        }
        if e.status == EntrustmentStatus::Expired
            || (e.status == EntrustmentStatus::Accepted && c.now() >= e.expires_at_ms)
        {
            return Err(Rejection::new(
                &c::ENTRUSTMENT_EXPIRED,
                format!("{} has expired", e.id),
            ));
        }
        if e.status != EntrustmentStatus::Accepted {
            return Err(not_entrusted());
        }
        Ok(e)
    }

    /// The buyer a purchase agent acts for: the agent holds the accepted, unexpired purchase
    /// entrustment `entrustment` (its agency and itself certified), and the listing is within
    /// its scope — in one of its districts (any, when it names none) and at most its budget.
    /// This is what gives "买方可在线委托经纪人代理购买房屋" its powers: booking viewings and
    /// confirming the buyer's side of the contract for the principal.
    pub(crate) fn purchase_agent(
        &self,
        c: &Cmd,
        entrustment: Option<&str>,
        listing: &Listing,
    ) -> Result<Acting, Rejection> {
        let e = self.agent_entrusted(c, entrustment)?;
        let EntrustmentTerms::Purchase {
            budget_max_fen,
            districts,
        } = &e.terms
        else {
            return Err(Rejection::new(
                &c::PURCHASE_OUT_OF_SCOPE,
                format!("{} is not a purchase entrustment", e.id),
            ));
        };
        if !districts.is_empty() && !districts.contains(&listing.district) {
            return Err(Rejection::new(
                &c::PURCHASE_OUT_OF_SCOPE,
                format!("{} is not in the districts of {}", listing.id, e.id),
            )
            .with(serde_json::json!({ "district": listing.district })));
        }
        if listing.price_fen > *budget_max_fen {
            return Err(Rejection::new(
                &c::PURCHASE_OUT_OF_SCOPE,
                format!("{} is above the budget of {}", listing.id, e.id),
            )
            .with(serde_json::json!({ "price_fen": listing.price_fen })));
        }
        let principal = self
            .parties
            .get(&e.principal)
            .ok_or_else(|| not_found(&c::PARTY_NOT_FOUND, &e.principal))?;
        if principal.erased {
            return Err(Rejection::new(
                &c::PARTY_ERASED,
                format!("{} was erased", principal.id),
            ));
        }
        Ok(Acting {
            party: principal.id.clone(),
            proxy: None,
            proxy_property: None,
        })
    }

    /// Who acts on a listing: its entrusted agent, or the seller (or the seller's proxy).
    pub(crate) fn listing_handler(
        &self,
        c: &Cmd,
        listing: &Listing,
        via_proxy: Option<&str>,
    ) -> Result<Handler, Rejection> {
        if c.is_agent() {
            if via_proxy.is_some() {
                return Err(Rejection::new(
                    &c::PROXY_NOT_ALLOWED,
                    "agents do not act through proxies",
                ));
            }
            if listing.agent.as_deref() != Some(c.actor()) {
                return Err(Rejection::new(
                    &c::NOT_ENTRUSTED,
                    format!("{} is not the agent of {}", c.actor(), listing.id),
                ));
            }
            self.agent_entrusted(c, listing.entrustment.as_deref())?;
            return Ok(Handler::Agent);
        }
        let acting = self.acting_party(c, via_proxy)?;
        acting.check_property(&listing.property)?;
        if acting.party != listing.seller {
            return Err(Rejection::new(
                &c::NOT_SELLER,
                format!("{} is not the seller of {}", acting.party, listing.id),
            ));
        }
        Ok(Handler::Seller(acting))
    }

    fn dispatch(&self, c: &Cmd, p: &Payload) -> Result<Out, Rejection> {
        use Payload as P;
        match p {
            P::Genesis(p) => self.decide_genesis(c, p),
            P::KeyRotate(p) => self.decide_key_rotate(c, p),
            P::KeyRevoke(p) => self.decide_key_revoke(c, p),
            P::KeyBind(p) => self.decide_key_bind(c, p),
            P::PartyRegister(p) => self.decide_party_register(c, p),
            P::PartyAttest(p) => self.decide_party_attest(c, p),
            P::AgencyCertify(p) => self.decide_agency_certify(c, p),
            P::AgencySuspend(p) => self.decide_agency_status(c, Some(&p.reason)),
            P::AgencyReinstate(_) => self.decide_agency_status(c, None),
            P::AgentCertify(p) => self.decide_agent_certify(c, p),
            P::AgentSuspend(p) => self.decide_agent_status(c, Some(&p.reason)),
            P::AgentReinstate(_) => self.decide_agent_status(c, None),
            P::BankRegister(p) => self.decide_bank_register(c, p),
            P::OfficeRegister(p) => self.decide_office_register(c, p),
            P::PropertyRegister(p) => self.decide_property_register(c, p),
            P::PropertySeize(p) => self.decide_property_seize(c, p),
            P::PropertyRelease(p) => self.decide_property_release(c, p),
            P::PropertyMortgage(p) => self.decide_property_mortgage(c, p),
            P::PropertyDischarge(_) => self.decide_property_discharge(c),
            P::PropertyTransfer(p) => self.decide_property_transfer(c, p),
            P::PropertyVerify(p) => self.decide_property_verify(c, p),
            P::VerificationConsent(p) => self.decide_consent(c, p),
            P::VerificationCancel(p) => self.decide_verification_cancel(c, p),
            P::EntrustSale(p) => self.decide_entrust_sale(c, p),
            P::EntrustPurchase(p) => self.decide_entrust_purchase(c, p),
            P::EntrustAccept(_) => self.decide_entrust_answer(c, None),
            P::EntrustDecline(p) => self.decide_entrust_answer(c, Some(&p.reason)),
            P::EntrustRevoke(p) => self.decide_entrust_revoke(c, p),
            P::EntrustExpire(_) => self.decide_entrust_expire(c),
            P::ListingPublish(p) => self.decide_listing_publish(c, p),
            P::ListingPrice(p) => self.decide_listing_price(c, p),
            P::ListingPhotos(p) => self.decide_listing_photos(c, p),
            P::ListingApprove(p) => self.decide_listing_review(c, p, true),
            P::ListingReject(p) => self.decide_listing_review(c, p, false),
            P::ListingWithdraw(p) => self.decide_listing_withdraw(c, p),
            P::ViewingBook(p) => self.decide_viewing_book(c, p),
            P::ViewingConfirm(_) => self.decide_viewing_confirm(c),
            P::ViewingRecord(p) => self.decide_viewing_record(c, p),
            P::ViewingCancel(p) => self.decide_viewing_cancel(c, p),
            P::ViewingRate(p) => self.decide_viewing_rate(c, p),
            P::LoanRequest(p) => self.decide_loan_request(c, p),
            P::LoanAssess(p) => self.decide_loan_assess(c, p),
            P::ContractDraft(p) => self.decide_contract_draft(c, p),
            P::ContractAmend(p) => self.decide_contract_amend(c, p),
            P::ContractConfirm(p) => self.decide_contract_document(c, p, false),
            P::ContractSign(p) => self.decide_contract_document(c, p, true),
            P::ContractOffline(p) => self.decide_contract_offline(c, p),
            P::ContractVerifyOffline(p) => self.decide_contract_verify_offline(c, p),
            P::ContractFile(_) => self.decide_contract_file(c),
            P::ContractCancelFiling(p) => self.decide_contract_cancel_filing(c, p),
            P::ContractCancel(p) => self.decide_contract_cancel(c, p),
            P::ProxyFile(p) => self.decide_proxy_file(c, p),
            P::ProxyVerify(p) => self.decide_proxy_verify(c, p),
            P::ProxyRevoke(p) => self.decide_proxy_revoke(c, p),
            P::ErasureRecord(p) => self.decide_erasure(c, p),
        }
    }

    fn apply_payload(&mut self, e: &Ev, p: &Payload) -> Result<(), ApplyError> {
        use Payload as P;
        match p {
            P::Genesis(p) => self.apply_genesis(e, p),
            P::KeyRotate(p) => self.apply_key_rotate(e, p),
            P::KeyRevoke(_) => self.apply_key_revoke(e),
            P::KeyBind(p) => {
                self.bind_key(e.stream(), &p.key, e.seq());
                Ok(())
            }
            P::PartyRegister(p) => self.apply_party_register(e, p),
            P::PartyAttest(p) => self.apply_party_attest(e, p),
            P::AgencyCertify(p) => self.apply_agency_certify(e, p),
            P::AgencySuspend(_) => self.apply_agency_status(e, CertStatus::Suspended),
            P::AgencyReinstate(_) => self.apply_agency_status(e, CertStatus::Certified),
            P::AgentCertify(p) => self.apply_agent_certify(e, p),
            P::AgentSuspend(_) => self.apply_agent_status(e, CertStatus::Suspended),
            P::AgentReinstate(_) => self.apply_agent_status(e, CertStatus::Certified),
            P::BankRegister(p) => self.apply_bank_register(e, p),
            P::OfficeRegister(p) => self.apply_office_register(e, p),
            P::PropertyRegister(p) => self.apply_property_register(e, p),
            P::PropertySeize(p) => self.with_property(e, |x| x.seizure = Some(p.clone())),
            P::PropertyRelease(_) => self.with_property(e, |x| x.seizure = None),
            P::PropertyMortgage(p) => self.with_property(e, |x| x.mortgage = Some(p.clone())),
            P::PropertyDischarge(_) => self.with_property(e, |x| x.mortgage = None),
            P::PropertyTransfer(p) => self.apply_property_transfer(e, p),
            P::PropertyVerify(_) => self.apply_property_verify(e),
            P::VerificationConsent(_) => self.apply_consent(e),
            P::VerificationCancel(_) => self.apply_verification_cancel(e),
            P::EntrustSale(p) => self.apply_entrust_sale(e, p),
            P::EntrustPurchase(p) => self.apply_entrust_purchase(e, p),
            P::EntrustAccept(_) => self.apply_entrust_status(e, EntrustmentStatus::Accepted),
            P::EntrustDecline(_) => self.apply_entrust_status(e, EntrustmentStatus::Declined),
            P::EntrustRevoke(_) => self.apply_entrust_status(e, EntrustmentStatus::Revoked),
            P::EntrustExpire(_) => self.apply_entrust_status(e, EntrustmentStatus::Expired),
            P::ListingPublish(p) => self.apply_listing_publish(e, p),
            P::ListingPrice(p) => self.apply_listing_price(e, p),
            P::ListingPhotos(p) => self.apply_listing_photos(e, p),
            P::ListingApprove(_) => self.apply_listing_review(e, true),
            P::ListingReject(_) => self.apply_listing_review(e, false),
            P::ListingWithdraw(_) => self.apply_listing_withdraw(e),
            P::ViewingBook(p) => self.apply_viewing_book(e, p),
            P::ViewingConfirm(_) => {
                self.apply_viewing_status(e, crate::state::ViewingStatus::Confirmed, None)
            }
            P::ViewingRecord(p) => {
                self.apply_viewing_status(e, crate::state::ViewingStatus::Completed, Some(&p.note))
            }
            P::ViewingCancel(_) => {
                self.apply_viewing_status(e, crate::state::ViewingStatus::Cancelled, None)
            }
            P::ViewingRate(p) => self.apply_viewing_rate(e, p),
            P::LoanRequest(p) => self.apply_loan_request(e, p),
            P::LoanAssess(p) => self.apply_loan_assess(e, p),
            P::ContractDraft(p) => self.apply_contract_draft(e, p),
            P::ContractAmend(p) => self.apply_contract_amend(e, p),
            P::ContractConfirm(_) => self.apply_contract_document(e, false),
            P::ContractSign(_) => self.apply_contract_document(e, true),
            P::ContractOffline(p) => self.apply_contract_offline(e, p),
            P::ContractVerifyOffline(p) => self.apply_contract_verify_offline(e, p),
            P::ContractFile(_) => self.apply_contract_file(e),
            P::ContractCancelFiling(p) => self.apply_contract_cancel(e, &p.reason, true),
            P::ContractCancel(p) => self.apply_contract_cancel(e, &p.reason, false),
            P::ProxyFile(p) => self.apply_proxy_file(e, p),
            P::ProxyVerify(p) => self.apply_proxy_verify(e, p),
            P::ProxyRevoke(_) => self.apply_proxy_revoke(e),
            P::ErasureRecord(p) => self.apply_erasure(e, p),
        }
    }
}

/// Looks up an aggregate for `apply`, or reports it missing.
pub(crate) fn need<'a, T: Clone + serde::Serialize + serde::de::DeserializeOwned>(
    map: &'a mut crate::bounded::BoundedMap<String, T>,
    id: &str,
) -> Result<&'a mut T, ApplyError> {
    map.get_mut(id)
        .ok_or_else(|| ApplyError::Missing(id.to_owned()))
}

pub(crate) use ids::GENESIS_STREAM;
