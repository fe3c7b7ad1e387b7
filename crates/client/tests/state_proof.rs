//! "Still current": an answer's `state` (the bundle of the entry that committed a state root and
//! each aggregate's status proved against it) is checked on the client side. A log is built
//! in-process with an active, a withdrawn and a sold listing and a filed contract; its last
//! entry commits the root, as the sequencer's last entry of a batch does. The genuine answers
//! give "active", "withdrawn", "sold" and "filed" as of the checkpoint; every tampering (one
//! byte of the proof, of the status, a proof for another key, a root that is not the committed
//! one) fails, and a missing or stale state proof is "could not check".

use deedlog_client::ClientError;
use deedlog_client::proof::{Currency, Subject, currency, verify_state};
use deedlog_core::SecretKey;
use deedlog_core::bundle::ProofBundle;
use deedlog_core::checkpoint::{sign_checkpoint, vkey};
use deedlog_core::hash::leaf_hash;
use deedlog_core::merkle::MemoryHashes;
use deedlog_domain::ids::HOUSING;
use deedlog_domain::public_status::{self, Change, Commitment, Published, affected};
use deedlog_domain::testkit::{DAY, HOUR, Ledger, hash};
use serde_json::{Value, json};

const ORIGIN: &str = "deedlog.test/log";
const PRICE: u64 = 120_000_000;

struct World {
    l: Ledger,
    hashes: MemoryHashes,
    note: String,
    vk: String,
    published: Published,
    size: u64,
}

fn world() -> World {
    let mut l = Ledger::new();
    let seller = l.party("alice");
    let buyer = l.party("bob");
    let publish = |l: &mut Ledger, p: &str, v: &str, ls: &str| {
        let cert = l.certificate(p);
        l.ok(
            &seller,
            "property.verify",
            v,
            json!({ "certificate_no": cert }),
        );
        let payload = l.publish_payload(None, v, PRICE);
        l.ok(&seller, "listing.publish", ls, payload);
    };
    for (i, name) in ["cuihu", "panlong", "wuhua"].iter().enumerate() {
        let p = l.property(name, &[&seller]);
        let n = i + 1;
        publish(
            &mut l,
            &p,
            &format!("verification/PV-{n}"),
            &format!("listing/LS-{n}"),
        );
    }
    l.ok(
        &seller,
        "listing.withdraw",
        "listing/LS-3",
        json!({"reason": "不卖了"}),
    );
    // LS-1 is sold: a viewing, a contract both sign, the authority files it.
    let start = l.now_ms + DAY;
    l.ok(
        &buyer,
        "viewing.book",
        "viewing/VW-1",
        json!({"listing": "listing/LS-1", "slot_start_ms": start, "slot_end_ms": start + HOUR}),
    );
    l.ok(&seller, "viewing.confirm", "viewing/VW-1", json!({}));
    l.advance(DAY + HOUR / 2);
    l.ok(
        &seller,
        "viewing.record",
        "viewing/VW-1",
        json!({"note": "看房30分钟"}),
    );
    let terms = l.terms("listing/LS-1", &buyer, PRICE);
    let doc = hash("contract v1");
    l.ok(
        &buyer,
        "contract.draft",
        "contract/CT-1",
        json!({"listing": "listing/LS-1", "buyer": buyer, "terms": terms, "document_hash": doc}),
    );
    for kind in ["contract.confirm", "contract.sign"] {
        for who in [&seller, &buyer] {
            l.ok(who, kind, "contract/CT-1", json!({"document_hash": doc}));
        }
    }
    l.ok(HOUSING, "contract.file", "contract/CT-1", json!({}));

    // The state map over the log, and its root committed by the last entry (the end of the
    // batch), as the sequencer does it.
    let mut state = deedlog_domain::State::default();
    let mut map = Commitment::new();
    for e in &l.entries {
        let mut ids = affected(&state, e);
        state.apply(e).expect("applies");
        ids.extend(affected(&state, e));
        map.update(&state, &ids).expect("encodes");
    }
    let root = hex::encode(map.root());
    let last = l.entries.last_mut().expect("entries");
    last.derived
        .as_object_mut()
        .expect("object")
        .insert("state_root".into(), Value::String(root));
    let changes = state
        .listings()
        .map(|x| x.id.clone())
        .chain(state.contracts().map(|c| c.id.clone()))
        .chain(state.properties().map(|p| p.id.clone()))
        .filter_map(|id| {
            let s = public_status::status(&state, &id)?;
            let (status, value) = public_status::encode(&s).ok()?;
            Some(Change {
                aggregate: id,
                status,
                value,
            })
        })
        .collect();
    let size = l.entries.len() as u64;
    let mut published = Published::new();
    published.apply(size, changes).unwrap();

    let mut hashes = MemoryHashes::new();
    for e in &l.entries {
        hashes.append(leaf_hash(&e.encode().expect("encode")));
    }
    let log_key = SecretKey::from_seed(&[8; 32]);
    let vk = vkey(ORIGIN, &log_key.public()).expect("vkey");
    let note = String::from_utf8(
        sign_checkpoint(
            ORIGIN,
            size,
            hashes.root(size).expect("root"),
            &[],
            &log_key,
        )
        .expect("sign"),
    )
    .expect("utf8");
    World {
        l,
        hashes,
        note,
        vk,
        published,
        size,
    }
}

impl World {
    fn bundle(&self, seq: u64) -> Value {
        let e = &self.l.entries[usize::try_from(seq).expect("seq")];
        let proof = self.hashes.inclusion_proof(seq, self.size).expect("proof");
        let (bytes, opening) = e.encode_record().expect("encode");
        let mut bundle = ProofBundle::new(seq, &bytes, self.size, &proof, &self.note, &self.vk);
        if let Some(opening) = opening {
            bundle = bundle.with_opening(&opening).expect("a canonical opening");
        }
        serde_json::to_value(bundle).expect("bundle json")
    }

    /// An answer carrying only `state` for `aggregates`, as the API shapes it.
    fn answer(&mut self, aggregates: &[&str]) -> Value {
        let proofs: Vec<_> = aggregates
            .iter()
            .map(|a| self.published.prove(a).unwrap())
            .collect();
        json!({"state": {"bundle": self.bundle(self.size - 1),
            "aggregates": serde_json::to_value(proofs).expect("json")}})
    }

    fn listing(&mut self, n: u32) -> (String, Value) {
        let id = format!("listing/LS-{n}");
        let property = self.l.state.listing(&id).expect("listing").property.clone();
        let answer = self.answer(&[&id, &property]);
        (id, answer)
    }
}

fn is_proof_error(r: Result<Currency, ClientError>) -> String {
    match r {
        Err(ClientError::Proof(why)) => why,
        Err(other) => format!("{other}"),
        Ok(c) => panic!("a tampered state proof passed: {c:?}"),
    }
}

#[test]
fn genuine_state_proofs_tell_active_withdrawn_sold_and_filed() {
    let mut w = world();
    let size = w.size;
    let (id, a) = w.listing(2);
    assert_eq!(
        currency(Subject::Listing, &a, &id, 0, &w.vk).expect("verifies"),
        Currency::Current {
            as_of: size,
            status: "active".into()
        }
    );
    let (id, a) = w.listing(3);
    match currency(Subject::Listing, &a, &id, 0, &w.vk).expect("verifies") {
        Currency::NotCurrent { as_of, status, .. } => {
            assert_eq!((as_of, status.as_str()), (size, "withdrawn"));
        }
        other => panic!("{other:?}"),
    }
    let (id, a) = w.listing(1);
    match currency(Subject::Listing, &a, &id, 0, &w.vk).expect("verifies") {
        Currency::NotCurrent { as_of, status, .. } => {
            assert_eq!((as_of, status.as_str()), (size, "sold"));
        }
        other => panic!("{other:?}"),
    }
    let a = w.answer(&["contract/CT-1"]);
    assert_eq!(
        currency(Subject::Contract, &a, "contract/CT-1", 0, &w.vk).expect("verifies"),
        Currency::Current {
            as_of: size,
            status: "filed".into()
        }
    );
    // An aggregate the map does not hold is proved absent.
    let a = w.answer(&["listing/LS-404"]);
    let (_, statuses) = verify_state(&a, &w.vk).expect("verifies").expect("state");
    assert_eq!(statuses[0].status, None);
}

#[test]
fn a_tampered_state_proof_fails() {
    let mut w = world();
    let (id, genuine) = w.listing(2);
    let vk = w.vk.clone();
    let check = |a: &Value| currency(Subject::Listing, a, &id, 0, &vk);
    assert!(check(&genuine).is_ok());

    // One byte of a sibling.
    let mut a = genuine.clone();
    let s = a["state"]["aggregates"][0]["proof"]["siblings"][0]
        .as_str()
        .expect("a sibling")
        .to_owned();
    let flipped = format!("{}{}", if s.starts_with('0') { "1" } else { "0" }, &s[1..]);
    a["state"]["aggregates"][0]["proof"]["siblings"][0] = json!(flipped);
    assert!(is_proof_error(check(&a)).contains("root"));

    // One byte of the value the proof commits, and one byte of the status shown.
    let mut a = genuine.clone();
    let v = a["state"]["aggregates"][0]["proof"]["terminal"]["value"]
        .as_str()
        .expect("member")
        .to_owned();
    let flipped = format!("{}{}", if v.starts_with('0') { "1" } else { "0" }, &v[1..]);
    a["state"]["aggregates"][0]["proof"]["terminal"]["value"] = json!(flipped);
    is_proof_error(check(&a));
    let mut a = genuine.clone();
    let status = a["state"]["aggregates"][0]["status"]
        .as_str()
        .expect("status")
        .replace("\"active\"", "\"activf\"");
    a["state"]["aggregates"][0]["status"] = json!(status);
    assert!(is_proof_error(check(&a)).contains("not the one the proof commits"));

    // A withdrawn listing's status put in place of the active one's (with its own, valid,
    // proof), and a valid proof of another key under this listing's name.
    let (_, withdrawn) = w.listing(3);
    let mut a = genuine.clone();
    a["state"]["aggregates"][0]["status"] = withdrawn["state"]["aggregates"][0]["status"].clone();
    is_proof_error(check(&a));
    let mut a = genuine.clone();
    a["state"]["aggregates"][0]["proof"] = withdrawn["state"]["aggregates"][0]["proof"].clone();
    a["state"]["aggregates"][0]["status"] = withdrawn["state"]["aggregates"][0]["status"].clone();
    assert!(is_proof_error(check(&a)).contains("another key"));
    // The whole item of another listing: the answer is then not about this listing.
    let mut a = genuine.clone();
    a["state"]["aggregates"][0] = withdrawn["state"]["aggregates"][0].clone();
    assert!(is_proof_error(check(&a)).contains("not about"));

    // A root that is not the committed one: the bundle of an entry that commits none, and the
    // committed root changed in the entry (its leaf hash then no longer matches).
    let mut a = genuine.clone();
    a["state"]["bundle"] = w.bundle(w.size - 2);
    assert!(is_proof_error(check(&a)).contains("commits no state root"));
    let mut a = genuine.clone();
    let mut entry = w.l.entries.last().expect("last").clone();
    entry.derived["state_root"] = json!("00".repeat(32));
    let (bytes, opening) = entry.encode_record().expect("encode");
    let proof = w.hashes.inclusion_proof(w.size - 1, w.size).expect("proof");
    let mut forged = ProofBundle::new(w.size - 1, &bytes, w.size, &proof, &w.note, &w.vk);
    if let Some(o) = opening {
        forged = forged.with_opening(&o).expect("opening");
    }
    a["state"]["bundle"] = serde_json::to_value(forged).expect("json");
    assert!(matches!(check(&a), Err(ClientError::Bundle(_))));

    // A proof that claims the key absent where it is a member.
    let mut a = genuine.clone();
    a["state"]["aggregates"][0]["proof"]["terminal"] = json!({"kind": "empty"});
    a["state"]["aggregates"][0]["status"] = Value::Null;
    is_proof_error(check(&a));
}

#[test]
fn a_missing_or_stale_state_proof_cannot_be_checked() {
    let mut w = world();
    let (id, a) = w.listing(2);
    let none = json!({});
    assert!(matches!(
        currency(Subject::Listing, &none, &id, 0, &w.vk),
        Ok(Currency::CouldNotCheck { .. })
    ));
    // The page shows an entry at or after the state's checkpoint: the state is older than it.
    match currency(Subject::Listing, &a, &id, w.size, &w.vk) {
        Ok(Currency::CouldNotCheck { reason }) => assert!(reason.contains("stale"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
