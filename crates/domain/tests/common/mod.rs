//! Shared fixtures for the domain's integration tests: a small world (authorities, an agency
//! and agents, a bank, an office, parties, properties) and steps of the deal flow.
#![allow(dead_code, unused_imports)]

use serde_json::{Value, json};

use deedlog_domain::table::{self, AGENT_REJECTIONS, GENERIC_REJECTIONS, PARTY_REJECTIONS, Signer};
pub use deedlog_domain::testkit::{DAY, HOUR, Ledger, T0, commit, hash};
use deedlog_domain::{Entry, Rejection, audit};

pub const HOUSING: &str = "authority/housing";
pub const IDENTITY: &str = "authority/identity";
pub const REGISTRY: &str = "authority/registry";
pub const PLATFORM: &str = "platform";
pub const PRICE: u64 = 150_000_000;
pub const FLOOR: u64 = 140_000_000;

/// Whether `code` is documented for `kind` (its own, the generic, or the role checks').
pub fn documented(kind: &str, code: &str) -> bool {
    let Some(spec) = table::spec(kind) else {
        return code == "command.unknown_kind";
    };
    let mut all = spec
        .rejections
        .iter()
        .chain(GENERIC_REJECTIONS)
        .map(|c| c.code)
        .collect::<Vec<_>>();
    if spec.signers.contains(&Signer::Party) {
        all.extend(PARTY_REJECTIONS.iter().map(|c| c.code));
    }
    if spec.signers.contains(&Signer::Agent) {
        all.extend(AGENT_REJECTIONS.iter().map(|c| c.code));
    }
    all.contains(&code)
}

/// Submits a command that must be refused with `code` (and documented for its kind); nothing
/// may be appended.
pub fn refused(
    l: &mut Ledger,
    actor: &str,
    kind: &str,
    stream: &str,
    payload: Value,
    code: &str,
) -> Rejection {
    let r = l.rejects(actor, kind, stream, payload);
    assert_eq!(r.code, code, "{actor} {kind} on {stream}: {}", r.message);
    assert!(
        documented(kind, code),
        "{code} is not documented for {kind}"
    );
    r
}

/// The audit of the ledger's log is clean and reaches the ledger's state.
pub fn assert_audit_clean(l: &Ledger) {
    let report = audit(l.entries.iter());
    assert!(report.is_clean(), "audit faults: {:#?}", report.faults);
    assert_eq!(report.entries, l.entries.len() as u64);
    assert_eq!(
        report.state.canonical_bytes().expect("state encodes"),
        l.state.canonical_bytes().expect("state encodes"),
        "the audit's replay reached another state"
    );
    assert_state_map_follows(l);
}

/// The state map kept entry by entry (as the sequencer and the audit keep it, from the
/// aggregates each entry affects) has, after every entry, the root recomputed from every
/// aggregate's status: no entry changes a status that `affected` does not name.
pub fn assert_state_map_follows(l: &Ledger) {
    use deedlog_domain::public_status::{Commitment, affected, root_from_scratch};
    let mut state = deedlog_domain::State::default();
    let mut map = Commitment::new();
    for entry in &l.entries {
        let mut ids = affected(&state, entry);
        state.apply(entry).expect("applies");
        ids.extend(affected(&state, entry));
        map.update(&state, &ids).expect("encodes");
        assert_eq!(
            map.root(),
            root_from_scratch(&state).expect("encodes"),
            "entry {} ({}) changed a status its affected set misses",
            entry.seq,
            entry.kind
        );
    }
}

/// A world with every kind of actor and one sale-ready property.
pub struct World {
    pub l: Ledger,
    pub seller: String,
    pub buyer: String,
    pub stranger: String,
    pub unverified: String,
    pub agency: String,
    pub agent: String,
    pub other_agent: String,
    pub bank: String,
    pub other_bank: String,
    pub office: String,
    pub property: String,
}

impl World {
    pub fn new() -> Self {
        let mut l = Ledger::new();
        let seller = l.party("alice");
        let buyer = l.party("bob");
        let stranger = l.party("eve");
        let unverified = l.unverified_party("uma");
        let agency = l.agency("anju");
        let agent = l.agent("wang", &agency);
        let other_agent = l.agent("li", &agency);
        let bank = l.bank("wuhua");
        let other_bank = l.bank("panlong");
        let office = l.office("wuhua");
        let property = l.property("cuihu", &[&seller]);
        Self {
            l,
            seller,
            buyer,
            stranger,
            unverified,
            agency,
            agent,
            other_agent,
            bank,
            other_bank,
            office,
            property,
        }
    }

    /// The seller verifies the property: `verification/PV-1`.
    pub fn verify(&mut self) -> String {
        let v = "verification/PV-1".to_owned();
        let cert = self.l.certificate(&self.property);
        let seller = self.seller.clone();
        let e = self.l.ok(
            &seller,
            "property.verify",
            &v,
            json!({ "certificate_no": cert }),
        );
        assert_eq!(e.kind, "PropertyVerified");
        v
    }

    /// The seller entrusts the agent (accepted): `entrustment/EN-1`.
    pub fn entrust(&mut self, review: bool) -> String {
        let v = self.verify();
        self.entrust_on(&v, review, 90)
    }

    pub fn entrust_on(&mut self, v: &str, review: bool, days: i64) -> String {
        let en = "entrustment/EN-1".to_owned();
        let (seller, agent) = (self.seller.clone(), self.agent.clone());
        let until = self.l.now_ms + days * DAY;
        self.l.ok(
            &seller,
            "entrustment.sale",
            &en,
            json!({
                "verification": v, "agent": agent, "floor_price_fen": FLOOR,
                "expires_at_ms": until, "review_agent_edits": review,
            }),
        );
        self.l.ok(&agent, "entrustment.accept", &en, json!({}));
        en
    }

    /// The agent publishes (no review): `listing/LS-1`.
    pub fn publish(&mut self) -> String {
        let en = self.entrust(false);
        let payload = self
            .l
            .publish_payload(Some(&en), "verification/PV-1", PRICE);
        let agent = self.agent.clone();
        let e = self
            .l
            .ok(&agent, "listing.publish", "listing/LS-1", payload);
        assert_eq!(e.kind, "ListingPublished");
        "listing/LS-1".to_owned()
    }

    /// The seller self-lists: `listing/LS-1`.
    pub fn self_list(&mut self) -> String {
        let v = self.verify();
        let payload = self.l.publish_payload(None, &v, PRICE);
        let seller = self.seller.clone();
        self.l
            .ok(&seller, "listing.publish", "listing/LS-1", payload);
        "listing/LS-1".to_owned()
    }

    /// The buyer books `viewing/VW-<n>` tomorrow.
    pub fn book(&mut self, listing: &str, n: u32) -> String {
        let vw = format!("viewing/VW-{n}");
        let start = self.l.now_ms + DAY;
        let buyer = self.buyer.clone();
        self.l.ok(
            &buyer,
            "viewing.book",
            &vw,
            json!({
                "listing": listing, "slot_start_ms": start, "slot_end_ms": start + HOUR,
            }),
        );
        vw
    }

    /// A completed viewing of the listing (handled by `handler`).
    pub fn viewed(&mut self, listing: &str, handler: &str) -> String {
        let vw = self.book(listing, 1);
        self.l.ok(handler, "viewing.confirm", &vw, json!({}));
        self.l.advance(DAY + HOUR / 2);
        self.l.ok(
            handler,
            "viewing.record",
            &vw,
            json!({ "note": "看房30分钟" }),
        );
        vw
    }

    /// The agent drafts `contract/CT-1` for an agent listing.
    pub fn draft(&mut self, listing: &str, drafter: &str) -> String {
        let ct = "contract/CT-1".to_owned();
        let terms = self.l.terms(listing, &self.buyer, PRICE);
        let buyer = self.buyer.clone();
        self.l.ok(drafter, "contract.draft", &ct, json!({
            "listing": listing, "buyer": buyer, "terms": terms, "document_hash": hash("contract v1"),
        }));
        ct
    }

    /// Every required role confirms and signs the current document.
    pub fn sign_all(&mut self, ct: &str, roles: &[String]) {
        let doc = self
            .l
            .state
            .contract(ct)
            .expect("contract")
            .document_hash
            .clone();
        for who in roles {
            self.l
                .ok(who, "contract.confirm", ct, json!({ "document_hash": doc }));
        }
        for who in roles {
            self.l
                .ok(who, "contract.sign", ct, json!({ "document_hash": doc }));
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.l.entries
    }
}
