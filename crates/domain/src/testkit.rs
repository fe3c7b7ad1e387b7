//! Test support (feature `testkit`): deterministic keys and commitments, a terse signing client
//! and an in-memory ledger that decides, chains and applies entries exactly as the sequencer
//! does, plus helpers that build a small world (parties, agents, properties).
//!
//! Not for production: keys are derived from actor names and commitments from a fixed test key.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use deedlog_core::hash::{ZERO_HASH, leaf_hash};
use deedlog_core::{Command, Entry, SecretKey, SignedCommand};

use crate::ids;
use crate::keys::prove_possession;
use crate::reference::{Committer, PersonalField};
use crate::{Context, Rejection, State};

/// 2025-12-01T00:00:00Z, the default start of test time.
pub const T0: i64 = 1_764_547_200_000;
/// One hour in ms.
pub const HOUR: i64 = 3_600_000;
/// One day in ms.
pub const DAY: i64 = 86_400_000;

/// The deterministic key of an actor: seed = `SHA-256("deedlog/testkit/v1\n" || name)`.
#[must_use]
pub fn secret(name: &str) -> SecretKey {
    let seed: [u8; 32] = Sha256::digest(format!("deedlog/testkit/v1\n{name}")).into();
    SecretKey::from_seed(&seed)
}

/// A test commitment: HMAC-SHA-256 keyed by `"testkit-vault/" || subject` over
/// `field || "\n" || value`, in lower-case hex (the vault's shape, not its secret).
#[must_use]
pub fn commit(subject: &str, field: PersonalField, value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(format!("testkit-vault/{subject}").as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(field.name().as_bytes());
    mac.update(b"\n");
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The test committer (see [`commit`]).
#[must_use]
pub fn committer() -> impl Committer {
    |subject: &str, field: PersonalField, value: &str| commit(subject, field, value)
}

/// Lower-case hex of SHA-256 of `text`: a stand-in photo or document hash.
#[must_use]
pub fn hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An in-memory ledger: the state, the entries, a clock and the actors' keys.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// The state after every entry.
    pub state: State,
    /// The log.
    pub entries: Vec<Entry>,
    /// The time the next entry gets.
    pub now_ms: i64,
    /// A bounded state (on a [`crate::bounded::MemorySpill`], evicting after every entry)
    /// that decides every command beside `state` and must reach the same verdicts: see
    /// [`Ledger::shadow_bounded`].
    pub shadow: Option<State>,
    nonce: u64,
    keys: BTreeMap<String, SecretKey>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

impl Ledger {
    /// An empty log (no genesis) at [`T0`].
    #[must_use]
    pub fn empty() -> Self {
        Self {
            state: State::default(),
            entries: Vec::new(),
            now_ms: T0,
            shadow: None,
            nonce: 0,
            keys: BTreeMap::new(),
        }
    }

    /// A log with its genesis entry: the platform and the three authorities with their
    /// [`secret`] keys.
    ///
    /// # Panics
    /// If genesis is refused (a bug in the domain).
    #[must_use]
    pub fn new() -> Self {
        let mut l = Self::empty();
        let payload = l.genesis_payload();
        l.ok(
            ids::PLATFORM,
            "platform.genesis",
            ids::GENESIS_STREAM,
            payload,
        );
        l
    }

    /// The genesis payload naming the [`secret`] keys.
    #[must_use]
    pub fn genesis_payload(&self) -> Value {
        json!({
            "name": "昆明市存量房交易服务平台（测试）",
            "platform_key": self.secret_of(ids::PLATFORM).public().to_base64(),
            "authorities": {
                ids::HOUSING: self.secret_of(ids::HOUSING).public().to_base64(),
                ids::IDENTITY: self.secret_of(ids::IDENTITY).public().to_base64(),
                ids::REGISTRY: self.secret_of(ids::REGISTRY).public().to_base64(),
            }
        })
    }

    /// The secret an actor signs with (its [`secret`] unless replaced).
    #[must_use]
    pub fn secret_of(&self, actor: &str) -> SecretKey {
        self.keys
            .get(actor)
            .cloned()
            .unwrap_or_else(|| secret(actor))
    }

    /// Makes `actor` sign with `key` from now on.
    pub fn set_secret(&mut self, actor: &str, key: SecretKey) {
        self.keys.insert(actor.to_owned(), key);
    }

    /// Moves the clock.
    pub fn advance(&mut self, ms: i64) {
        self.now_ms += ms;
    }

    /// The context the next entry on `stream` would get.
    #[must_use]
    pub fn context(&self, stream: &str) -> Context {
        Context {
            seq: self.entries.len() as u64,
            recorded_at_ms: self.now_ms,
            stream_version: self.state.stream_version(stream),
        }
    }

    /// Signs a command as `actor` with its key and a fresh nonce.
    ///
    /// # Panics
    /// If the command is malformed (bad names), which is a test bug.
    pub fn sign(&mut self, actor: &str, kind: &str, stream: &str, payload: Value) -> SignedCommand {
        let key = self.secret_of(actor);
        self.sign_with(&key, actor, kind, stream, payload)
    }

    /// Signs a command as `actor` with the given key.
    ///
    /// # Panics
    /// If the command is malformed.
    pub fn sign_with(
        &mut self,
        key: &SecretKey,
        actor: &str,
        kind: &str,
        stream: &str,
        payload: Value,
    ) -> SignedCommand {
        self.nonce += 1;
        Command {
            actor: actor.to_owned(),
            key: key.public().to_base64(),
            kind: kind.to_owned(),
            stream: stream.to_owned(),
            expected_version: None,
            payload,
            nonce: format!("testkit-{:08}", self.nonce),
            issued_at_ms: self.now_ms,
        }
        .sign(key)
        .unwrap_or_else(|e| panic!("test command {kind} is malformed: {e}"))
    }

    /// Decides a signed command and, if accepted, appends and applies its entry.
    ///
    /// # Errors
    /// The rejection; nothing is appended.
    ///
    /// # Panics
    /// If an accepted entry fails to encode or apply (a domain bug).
    pub fn submit_signed(&mut self, signed: SignedCommand) -> Result<&Entry, Rejection> {
        let ctx = self.context(&signed.stream);
        // The sequencer's check before the rules, so tests see the code the server answers.
        deedlog_core::decide::check_expected_version(&signed, ctx.stream_version)?;
        let whole = self.state.decide(&signed, &ctx);
        if let Some(shadow) = &self.shadow {
            let bounded = shadow.decide(&signed, &ctx);
            assert_eq!(
                shadow.take_spill_failure(),
                None,
                "the bounded state failed to read"
            );
            match (&whole, &bounded) {
                (Ok(a), Ok(b)) => assert!(
                    a.kind == b.kind && a.derived == b.derived,
                    "the bounded state decides {} on {} otherwise",
                    signed.kind,
                    signed.stream
                ),
                (Err(a), Err(b)) => assert_eq!(
                    (a.code, &a.message),
                    (b.code, &b.message),
                    "the bounded state refuses {} on {} otherwise",
                    signed.kind,
                    signed.stream
                ),
                _ => panic!(
                    "the bounded state and the whole one disagree on {} on {}: {:?} / {:?}",
                    signed.kind,
                    signed.stream,
                    whole.as_ref().map(|d| d.kind.clone()),
                    bounded.as_ref().map(|d| d.kind.clone())
                ),
            }
        }
        let decision = whole?;
        let prev_hash = self.entries.last().map_or(ZERO_HASH, |e| {
            leaf_hash(
                &e.encode()
                    .unwrap_or_else(|err| panic!("entry {} does not encode: {err}", e.seq)),
            )
        });
        let entry = Entry {
            seq: ctx.seq,
            recorded_at_ms: ctx.recorded_at_ms,
            prev_hash,
            stream: signed.stream.clone(),
            stream_version: ctx.stream_version + 1,
            kind: decision.kind,
            signed,
            derived: decision.derived,
        };
        if let Err(err) = entry.encode() {
            panic!("entry {} does not encode: {err}", entry.seq);
        }
        if let Err(err) = self.state.apply_parsed(&entry, &decision.parsed) {
            panic!("entry {} ({}) does not apply: {err}", entry.seq, entry.kind);
        }
        if let Some(shadow) = &mut self.shadow {
            if let Err(err) = shadow.apply_parsed(&entry, &decision.parsed) {
                panic!(
                    "entry {} does not apply to the bounded state: {err}",
                    entry.seq
                );
            }
            if let Err(err) = shadow.spill() {
                panic!("the bounded state does not spill: {err}");
            }
        }
        self.entries.push(entry);
        Ok(self
            .entries
            .last()
            .unwrap_or_else(|| unreachable!("just pushed")))
    }

    /// From now on, a bounded state keeping `keep` entries per map (replayed from the entries
    /// so far) decides and applies every command beside the whole state, and any difference in
    /// verdict, message or derived fields panics.
    pub fn shadow_bounded(&mut self, keep: usize) {
        let mut shadow = State::with_spill(
            std::sync::Arc::new(crate::bounded::MemorySpill::default()),
            keep,
        );
        for e in &self.entries {
            if let Err(err) = shadow.apply(e) {
                panic!("entry {} does not apply to the bounded state: {err}", e.seq);
            }
            if let Err(err) = shadow.spill() {
                panic!("the bounded state does not spill: {err}");
            }
        }
        self.shadow = Some(shadow);
    }

    /// Signs and submits.
    ///
    /// # Errors
    /// The rejection; nothing is appended.
    pub fn submit(
        &mut self,
        actor: &str,
        kind: &str,
        stream: &str,
        payload: Value,
    ) -> Result<&Entry, Rejection> {
        let signed = self.sign(actor, kind, stream, payload);
        self.submit_signed(signed)
    }

    /// Signs and submits a command that must be accepted; returns its entry.
    ///
    /// # Panics
    /// With the rejection, if refused.
    pub fn ok(&mut self, actor: &str, kind: &str, stream: &str, payload: Value) -> Entry {
        match self.submit(actor, kind, stream, payload) {
            Ok(e) => e.clone(),
            Err(r) => panic!("{actor} {kind} on {stream} was refused: {r}"),
        }
    }

    /// Signs and submits a command that must be refused; checks that nothing was appended and
    /// the state did not change, and returns the rejection.
    ///
    /// # Panics
    /// If accepted, or if a refusal changed anything.
    pub fn rejects(&mut self, actor: &str, kind: &str, stream: &str, payload: Value) -> Rejection {
        let (len, before) = (self.entries.len(), self.state.clone());
        match self.submit(actor, kind, stream, payload) {
            Ok(e) => panic!(
                "{actor} {kind} on {stream} was accepted as {} {}",
                e.kind, e.derived
            ),
            Err(r) => {
                assert_eq!(self.entries.len(), len, "a rejection appended an entry");
                assert!(self.state == before, "a rejection changed the state");
                r
            }
        }
    }

    /// The identity authority's phone voucher for `party` registering with its key (see
    /// [`Ledger::secret_of`]) and `phone_commitment`, issued now.
    #[must_use]
    pub fn phone_voucher(&self, party: &str, phone_commitment: &str) -> Value {
        let key = self.secret_of(party).public().to_base64();
        let voucher = crate::identity::sign_phone_voucher(
            &self.secret_of(ids::IDENTITY),
            party,
            &key,
            phone_commitment,
            self.now_ms,
        );
        serde_json::to_value(voucher).unwrap_or_else(|e| panic!("a voucher encodes: {e}"))
    }

    /// A `party.register` payload for `party` with `phone_commitment` and a fresh voucher.
    #[must_use]
    pub fn register_payload(&self, party: &str, phone_commitment: &str) -> Value {
        json!({
            "phone_commitment": phone_commitment,
            "voucher": self.phone_voucher(party, phone_commitment),
        })
    }

    /// Registers `party/PA-<name>` (phone commitment from the name); not real-name verified.
    pub fn unverified_party(&mut self, name: &str) -> String {
        let id = format!("party/PA-{name}");
        let phone = commit(name, PersonalField::Phone, name);
        let payload = self.register_payload(&id, &phone);
        self.ok(&id, "party.register", &id, payload);
        id
    }

    /// Registers `party/PA-<name>` and has the identity authority attest it.
    pub fn party(&mut self, name: &str) -> String {
        let id = self.unverified_party(name);
        self.attest(&id, name);
        id
    }

    /// Attests a party with commitments derived from `name` (as if its ID number were `name`).
    pub fn attest(&mut self, party: &str, name: &str) {
        self.ok(
            ids::IDENTITY,
            "party.attest_identity",
            party,
            json!({
                "name_commitment": commit(name, PersonalField::Name, name),
                "id_commitment": commit(name, PersonalField::IdNumber, name),
                "method": "online_face",
            }),
        );
    }

    /// Certifies `agency/AG-<name>`.
    pub fn agency(&mut self, name: &str) -> String {
        let id = format!("agency/AG-{name}");
        self.ok(
            ids::HOUSING,
            "agency.certify",
            &id,
            json!({"name": format!("{name}房产经纪有限公司"), "licence_no": format!("KMJJ-{name}"), "district": "五华区", "address": "五华区东风西路1号"}),
        );
        id
    }

    /// Certifies `agent/AT-<name>` in `agency`, with its [`secret`] key.
    pub fn agent(&mut self, name: &str, agency: &str) -> String {
        let id = format!("agent/AT-{name}");
        let key = self.secret_of(&id);
        self.ok(
            ids::HOUSING,
            "agent.certify",
            &id,
            json!({
                "agency": agency,
                "licence_no": format!("KMJJR-{name}"),
                "name_commitment": commit(name, PersonalField::Name, name),
                "id_commitment": commit(name, PersonalField::IdNumber, name),
                "phone_commitment": commit(name, PersonalField::Phone, name),
                "key": {"key": key.public().to_base64(), "proof": prove_possession(&key, &id)},
            }),
        );
        id
    }

    /// Registers `bank/BK-<name>` with its [`secret`] key.
    pub fn bank(&mut self, name: &str) -> String {
        let id = format!("bank/BK-{name}");
        let key = self.secret_of(&id);
        self.ok(
            ids::HOUSING,
            "bank.register",
            &id,
            json!({"name": "中国建设银行", "branch": name,
                   "key": {"key": key.public().to_base64(), "proof": prove_possession(&key, &id)}}),
        );
        id
    }

    /// Registers `office/OF-<name>` with its [`secret`] key.
    pub fn office(&mut self, name: &str) -> String {
        let id = format!("office/OF-{name}");
        let key = self.secret_of(&id);
        self.ok(
            ids::HOUSING,
            "office.register",
            &id,
            json!({"name": format!("{name}办理点"), "district": "五华区", "address": "五华区人民中路2号",
                   "hours": "周一至周五 9:00-17:00", "phone": "0871-63000000",
                   "key": {"key": key.public().to_base64(), "proof": prove_possession(&key, &id)}}),
        );
        id
    }

    /// Registers `property/PR-<name>` owned by the given (attested) parties in equal shares
    /// (the first takes the remainder); certificate `云(2021)昆明市不动产权第NNNNNNN号` with a number
    /// derived from the name. Returns the property id.
    ///
    /// # Panics
    /// If an owner is not attested.
    pub fn property(&mut self, name: &str, owners: &[&str]) -> String {
        let id = format!("property/PR-{name}");
        let n = u8::try_from(owners.len()).unwrap_or(1).max(1);
        let owners: Vec<Value> = owners
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let p = self.state.party(o).unwrap_or_else(|| panic!("{o} is not registered"));
                let share = 100 / n + if i == 0 { 100 % n } else { 0 };
                json!({
                    "name_commitment": p.name_commitment.clone().unwrap_or_else(|| panic!("{o} is not attested")),
                    "id_commitment": p.id_commitment.clone().unwrap_or_else(|| panic!("{o} is not attested")),
                    "share_percent": share,
                })
            })
            .collect();
        let number = u32::from_str_radix(&hash(name)[..6], 16).unwrap_or(0) % 10_000_000;
        self.ok(
            ids::REGISTRY,
            "property.register",
            &id,
            json!({
                "certificate_no": format!("云(2021)昆明市不动产权第{number:07}号"),
                "district": "五华区", "community": "翠湖花园", "address": format!("五华区翠湖南路8号{name}"),
                "area_centi_m2": 8950, "rooms": 2, "halls": 1, "bathrooms": 1, "floor": 5, "floors_total": 7,
                "built_year": 2005, "usage": "住宅", "owners": owners,
            }),
        );
        id
    }

    /// The certificate number of a registered property.
    ///
    /// # Panics
    /// If the property does not exist.
    #[must_use]
    pub fn certificate(&self, property: &str) -> String {
        self.state
            .property(property)
            .unwrap_or_else(|| panic!("{property} does not exist"))
            .certificate_no
            .clone()
    }

    /// A `listing.publish` payload matching the registry, via an entrustment (agent) or a
    /// verification (seller).
    ///
    /// # Panics
    /// If the verification or entrustment does not exist.
    #[must_use]
    pub fn publish_payload(
        &self,
        entrustment: Option<&str>,
        verification: &str,
        price_fen: u64,
    ) -> Value {
        let v = self
            .state
            .verification(verification)
            .unwrap_or_else(|| panic!("{verification} does not exist"));
        let p = self
            .state
            .property(&v.property)
            .unwrap_or_else(|| panic!("{} does not exist", v.property));
        let mut payload = json!({
            "price_fen": price_fen, "area_centi_m2": p.area_centi_m2, "rooms": p.rooms, "halls": p.halls,
            "bathrooms": p.bathrooms, "floor": p.floor, "floors_total": p.floors_total,
            "district": p.district, "community": p.community, "title": "翠湖旁两室一厅",
            "description": "南北通透。\n近地铁。", "photos": [hash("photo-1"), hash("photo-2")],
        });
        match entrustment {
            Some(en) => payload["entrustment"] = json!(en),
            None => payload["verification"] = json!(verification),
        }
        payload
    }

    /// Contract terms matching a listing and a buyer, at `price_fen`, lump sum.
    ///
    /// # Panics
    /// If the listing or its property does not exist.
    #[must_use]
    pub fn terms(&self, listing: &str, buyer: &str, price_fen: u64) -> Value {
        let l = self
            .state
            .listing(listing)
            .unwrap_or_else(|| panic!("{listing} does not exist"));
        let p = self
            .state
            .property(&l.property)
            .unwrap_or_else(|| panic!("{} does not exist", l.property));
        let mut parties = json!({"seller": l.seller, "buyer": buyer});
        if let Some(a) = &l.agent {
            parties["agent"] = json!(a);
        }
        let mut title = json!({"discharge_before_transfer": p.mortgage.is_some(), "leased": false});
        if let Some(m) = &p.mortgage {
            title["mortgage"] = json!(m);
        }
        let later = self.now_ms + 30 * DAY;
        json!({
            "parties": parties,
            "property": {"property": p.id, "certificate_no": p.certificate_no, "area_centi_m2": p.area_centi_m2},
            "title": title,
            "price": {"total_fen": price_fen, "method": "lump_sum", "schedule": [{"due_ms": later, "amount_fen": price_fen}]},
            "deposit": {"amount_fen": price_fen / 20, "due_ms": self.now_ms + DAY},
            "taxes": {"deed_tax": "buyer", "value_added_tax": "seller", "income_tax": "seller", "fees": "by_law"},
            "handover": {"date_ms": later + DAY, "condition": "现状交付"},
            "transfer": {"apply_by_ms": later + 2 * DAY},
            "breach": {"late_permyriad_per_day": 5, "default_penalty_fen": price_fen / 10},
            "disputes": {"method": "court", "venue": "昆明市五华区人民法院"},
        })
    }
}
