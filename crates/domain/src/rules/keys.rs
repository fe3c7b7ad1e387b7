//! Genesis, keys (rotation, revocation, binding) and parties (registration, identity).

use crate::state::Key32;
use deedlog_core::PublicKey;
use serde_json::json;

use crate::decide::{Cmd, Ev, GENESIS_STREAM, Out, commitment, need, text};
use crate::identity;
use crate::ids::{self, IdKind};
use crate::keys::{PossessionError, check_possession};
use crate::payload::{
    Genesis, IdentityMethod, KeyBind, KeyRevoke, KeyRotate, PartyAttest, PartyRegister,
};
use crate::rejection::{Rejection, codes as c};
use crate::state::{KeyRecord, KeyStatus, Party};
use crate::{ApplyError, State};

impl State {
    /// Checks a key being registered for `actor`: a valid key in canonical base64, never
    /// registered before, with a proof of possession when one is required.
    pub(crate) fn check_new_key(
        &self,
        actor: &str,
        key: &str,
        proof: Option<&str>,
    ) -> Result<(), Rejection> {
        let parsed = PublicKey::from_base64(key)
            .map_err(|e| Rejection::new(&c::KEY_BAD, format!("key: {e}")))?;
        if parsed.to_base64() != key {
            return Err(Rejection::new(
                &c::KEY_BAD,
                "key must be standard padded base64",
            ));
        }
        if self.keys.contains_key(&Key32::base64(key)) {
            return Err(Rejection::new(
                &c::KEY_IN_USE,
                "this key is, or was, registered",
            ));
        }
        if let Some(proof) = proof {
            check_possession(actor, key, proof).map_err(|e| match e {
                PossessionError::Key(e) => Rejection::new(&c::KEY_BAD, format!("key: {e}")),
                PossessionError::Proof(e) => Rejection::new(&c::KEY_PROOF, format!("proof: {e}")),
            })?;
        }
        Ok(())
    }

    /// Makes `key` the current key of `actor`; a previous current key is marked rotated.
    pub(crate) fn bind_key(&mut self, actor: &str, key: &str, seq: u64) {
        if let Some(old) = self.actor_keys.insert(actor.to_owned(), key.to_owned())
            && let Some(rec) = self.keys.get_mut(&Key32::base64(&old))
        {
            rec.status = KeyStatus::Rotated;
        }
        self.keys.insert(
            Key32::base64(key),
            KeyRecord {
                actor: actor.to_owned(),
                status: KeyStatus::Current,
                since_seq: seq,
            },
        );
    }

    pub(crate) fn decide_genesis(&self, c: &Cmd, p: &Genesis) -> Result<Out, Rejection> {
        if c.stream() != GENESIS_STREAM {
            return Err(Rejection::new(
                &c::BAD_STREAM,
                format!("genesis goes on {GENESIS_STREAM}"),
            ));
        }
        text("name", &p.name, 1, 100)?;
        if c.signed.key != p.platform_key {
            return Err(Rejection::new(
                &c::GENESIS_INCOMPLETE,
                "genesis must be signed by the platform_key it names",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (actor, key) in
            std::iter::once((&ids::PLATFORM.to_owned(), &p.platform_key)).chain(&p.authorities)
        {
            if actor != ids::PLATFORM && !IdKind::Authority.matches(actor) {
                return Err(Rejection::new(
                    &c::GENESIS_INCOMPLETE,
                    format!("`{actor}` is not an authority"),
                ));
            }
            let parsed = PublicKey::from_base64(key)
                .map_err(|e| Rejection::new(&c::KEY_BAD, format!("{actor}: {e}")))?;
            if parsed.to_base64() != *key {
                return Err(Rejection::new(
                    &c::KEY_BAD,
                    format!("{actor}: key must be standard padded base64"),
                ));
            }
            if !seen.insert(key.clone()) {
                return Err(Rejection::new(
                    &c::GENESIS_INCOMPLETE,
                    "every key in genesis must be distinct",
                ));
            }
        }
        if ids::AUTHORITIES
            .iter()
            .any(|a| !p.authorities.contains_key(*a))
        {
            return Err(Rejection::new(
                &c::GENESIS_INCOMPLETE,
                "genesis must name authority/housing, authority/identity and authority/registry",
            ));
        }
        Ok(Out::new("PlatformGenesis"))
    }

    pub(crate) fn apply_genesis(&mut self, e: &Ev, p: &Genesis) -> Result<(), ApplyError> {
        self.platform_name = Some(p.name.clone());
        self.bind_key(ids::PLATFORM, &p.platform_key, e.seq());
        for (actor, key) in &p.authorities {
            self.bind_key(actor, key, e.seq());
        }
        Ok(())
    }

    fn not_erased(&self, actor: &str) -> Result<(), Rejection> {
        let erased = self.parties.get(actor).is_some_and(|p| p.erased)
            || self.agents.get(actor).is_some_and(|a| a.erased);
        if erased {
            return Err(Rejection::new(
                &c::PARTY_ERASED,
                format!("{actor} was erased"),
            ));
        }
        Ok(())
    }

    pub(crate) fn decide_key_rotate(&self, c: &Cmd, p: &KeyRotate) -> Result<Out, Rejection> {
        if c.stream() == GENESIS_STREAM {
            return Err(Rejection::new(
                &c::BAD_STREAM,
                "rotate on the actor's own stream",
            ));
        }
        self.not_erased(c.actor())?;
        self.check_new_key(c.actor(), &p.new_key, Some(&p.proof))?;
        Ok(Out::new("KeyRotated"))
    }

    pub(crate) fn apply_key_rotate(&mut self, e: &Ev, p: &KeyRotate) -> Result<(), ApplyError> {
        self.bind_key(e.actor(), &p.new_key, e.seq());
        Ok(())
    }

    /// The authority responsible for an actor's key: identity for parties, housing otherwise.
    fn key_authority(target: &str) -> &'static str {
        if IdKind::Party.matches(target) {
            ids::IDENTITY
        } else {
            ids::HOUSING
        }
    }

    pub(crate) fn decide_key_revoke(&self, c: &Cmd, p: &KeyRevoke) -> Result<Out, Rejection> {
        let target = c.stream();
        if c.actor() != target && c.actor() != Self::key_authority(target) {
            return Err(Rejection::new(
                &c::ROLE_NOT_ALLOWED,
                format!(
                    "only {target} or {} may revoke its key",
                    Self::key_authority(target)
                ),
            ));
        }
        text("reason", &p.reason, 1, 200)?;
        if self.actor_keys.get(target) != Some(&p.key) {
            return Err(Rejection::new(
                &c::KEY_NOT_CURRENT,
                format!("the key is not {target}'s current key"),
            ));
        }
        Ok(Out::new("KeyRevoked"))
    }

    pub(crate) fn apply_key_revoke(&mut self, e: &Ev) -> Result<(), ApplyError> {
        if let Some(key) = self.actor_keys.remove(e.stream()) {
            self.keys
                .get_mut(&Key32::base64(&key))
                .ok_or_else(|| ApplyError::Missing(key.clone()))?
                .status = KeyStatus::Revoked;
        }
        Ok(())
    }

    pub(crate) fn decide_key_bind(&self, c: &Cmd, p: &KeyBind) -> Result<Out, Rejection> {
        let target = c.stream();
        if c.actor() != Self::key_authority(target) {
            return Err(Rejection::new(
                &c::ROLE_NOT_ALLOWED,
                format!(
                    "only {} binds keys of {target}",
                    Self::key_authority(target)
                ),
            ));
        }
        self.not_erased(target)?;
        if self.actor_keys.contains_key(target) {
            return Err(Rejection::new(
                &c::KEY_BOUND,
                format!("{target} already has a key; rotate it"),
            ));
        }
        self.check_new_key(target, &p.key, Some(&p.proof))?;
        Ok(Out::new("KeyBound"))
    }

    pub(crate) fn decide_party_register(
        &self,
        c: &Cmd,
        p: &PartyRegister,
    ) -> Result<Out, Rejection> {
        commitment("phone_commitment", &p.phone_commitment)?;
        self.check_phone_voucher(c, p)?;
        if self.phones.contains_key(&Key32::hex(&p.phone_commitment)) {
            return Err(Rejection::new(
                &c::PHONE_TAKEN,
                "this phone number is registered to another party",
            ));
        }
        Ok(Out::new("PartyRegistered"))
    }

    pub(crate) fn apply_party_register(
        &mut self,
        e: &Ev,
        p: &PartyRegister,
    ) -> Result<(), ApplyError> {
        let id = e.actor().to_owned();
        self.parties.insert(
            id.clone(),
            Party {
                id: id.clone(),
                phone_commitment: p.phone_commitment.clone(),
                name_commitment: None,
                id_commitment: None,
                identity_method: None,
                registered_at_ms: e.now(),
                verified_at_ms: None,
                erased: false,
            },
        );
        self.phones
            .insert(Key32::hex(&p.phone_commitment), id.clone());
        self.bind_key(&id, &e.entry.signed.key, e.seq());
        Ok(())
    }

    /// The phone voucher of a registration: present, for this party and key, fresh, and signed
    /// by the identity authority's current key (see [`crate::identity`]). Without it anyone
    /// could register any 64-hex value, and so squat a victim's number or grow the log for free.
    fn check_phone_voucher(&self, c: &Cmd, p: &PartyRegister) -> Result<(), Rejection> {
        let Some(v) = &p.voucher else {
            return Err(Rejection::new(
                &c::VOUCHER_MISSING,
                "party.register needs the identity authority's phone voucher",
            ));
        };
        if v.party != c.stream() {
            return Err(Rejection::new(
                &c::VOUCHER_WRONG_PARTY,
                format!("the voucher was issued for {}, not {}", v.party, c.stream()),
            )
            .with(json!({ "voucher_party": v.party })));
        }
        if v.key != c.signed.key {
            return Err(Rejection::new(
                &c::VOUCHER_WRONG_KEY,
                "the voucher was issued for another key than the one this command registers",
            ));
        }
        let age = c.now().saturating_sub(v.issued_at_ms);
        if !(-identity::VOUCHER_AHEAD_MS..=identity::VOUCHER_WINDOW_MS).contains(&age) {
            return Err(Rejection::new(
                &c::VOUCHER_STALE,
                "the voucher was issued outside the accepted window; ask for a new one",
            )
            .with(json!({
                "issued_at_ms": v.issued_at_ms,
                "recorded_at_ms": c.now(),
                "window_ms": identity::VOUCHER_WINDOW_MS,
            })));
        }
        let authority = self
            .actor_keys
            .get(ids::IDENTITY)
            .map_or("", String::as_str);
        if !identity::phone_voucher_verifies_with(v, &p.phone_commitment, authority, c.checks) {
            return Err(Rejection::new(
                &c::VOUCHER_BAD_SIGNATURE,
                "the voucher does not verify under the identity authority's current key",
            ));
        }
        Ok(())
    }

    pub(crate) fn decide_party_attest(&self, c: &Cmd, p: &PartyAttest) -> Result<Out, Rejection> {
        // The method says who checked the person, so only that checker may sign it: an office
        // saw the ID card, the identity authority ran its own check. Either may not claim the
        // other's check.
        let by_office = IdKind::Office.matches(c.actor());
        if by_office != (p.method == IdentityMethod::Office) {
            return Err(Rejection::new(
                &c::METHOD_NOT_ALLOWED,
                "method office is attested only by a filing office, online_face only by authority/identity",
            )
            .with(json!({ "method": p.method })));
        }
        commitment("name_commitment", &p.name_commitment)?;
        commitment("id_commitment", &p.id_commitment)?;
        let party = self
            .parties
            .get(c.stream())
            .ok_or_else(|| crate::decide::not_found(&c::PARTY_NOT_FOUND, c.stream()))?;
        if party.erased {
            return Err(Rejection::new(
                &c::PARTY_ERASED,
                format!("{} was erased", party.id),
            ));
        }
        if party.id_commitment.is_some() {
            return Err(Rejection::new(
                &c::PARTY_VERIFIED,
                format!("{} is already verified", party.id),
            ));
        }
        if self.identities.contains_key(&Key32::hex(&p.id_commitment)) {
            return Err(Rejection::new(
                &c::ID_TAKEN,
                "another party is verified with this ID number",
            )
            .with(json!({})));
        }
        Ok(Out::new("PartyIdentityAttested"))
    }

    pub(crate) fn apply_party_attest(&mut self, e: &Ev, p: &PartyAttest) -> Result<(), ApplyError> {
        let party = need(&mut self.parties, e.stream())?;
        party.name_commitment = Some(p.name_commitment.clone());
        party.id_commitment = Some(p.id_commitment.clone());
        party.identity_method = Some(p.method);
        party.verified_at_ms = Some(e.now());
        self.identities
            .insert(Key32::hex(&p.id_commitment), e.stream().to_owned());
        Ok(())
    }
}
