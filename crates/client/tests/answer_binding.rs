//! Verification answers are bound to what they prove: real entries, a real tree and signed
//! checkpoints are built in-process, answers are shaped as the API shapes them, and each attack
//! (valid bundles of other entries, a shown field that differs, another code, another stream)
//! must fail while the genuine answer passes.

use deedlog_client::ClientError;
use deedlog_client::proof::{FieldCheck, bind_contract, bind_document, bind_listing};
use deedlog_core::bundle::ProofBundle;
use deedlog_core::checkpoint::{sign_checkpoint, vkey};
use deedlog_core::hash::leaf_hash;
use deedlog_core::merkle::MemoryHashes;
use deedlog_core::{Entry, SecretKey};
use deedlog_domain::ids::HOUSING;
use deedlog_domain::testkit::{DAY, HOUR, Ledger, hash};
use deedlog_views::Doc;
use serde_json::{Value, json};

const ORIGIN: &str = "deedlog.test/log";
const PRICE: u64 = 120_000_000;

/// A log with two self-listed properties, a price change on the second, and a filed contract
/// on the first; its tree, a checkpoint over all of it and the log's verifier key.
struct World {
    l: Ledger,
    hashes: MemoryHashes,
    note: String,
    vk: String,
    publish1: u64,
    publish2: u64,
    price2: u64,
    draft: u64,
    filed: u64,
}

fn world() -> World {
    let mut l = Ledger::new();
    let seller = l.party("alice");
    let buyer = l.party("bob");
    let p1 = l.property("cuihu", &[&seller]);
    let p2 = l.property("panlong", &[&seller]);
    let publish = |l: &mut Ledger, p: &str, v: &str, ls: &str| {
        let cert = l.certificate(p);
        l.ok(
            &seller,
            "property.verify",
            v,
            json!({ "certificate_no": cert }),
        );
        let payload = l.publish_payload(None, v, PRICE);
        l.ok(&seller, "listing.publish", ls, payload).seq
    };
    let publish1 = publish(&mut l, &p1, "verification/PV-1", "listing/LS-1");
    let publish2 = publish(&mut l, &p2, "verification/PV-2", "listing/LS-2");
    let price2 = l
        .ok(
            &seller,
            "listing.change_price",
            "listing/LS-2",
            json!({"price_fen": PRICE - 5_000_000}),
        )
        .seq;
    // A completed viewing, then the buyer drafts, both sign and the authority files.
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
    let draft = l
        .ok(
            &buyer,
            "contract.draft",
            "contract/CT-1",
            json!({"listing": "listing/LS-1", "buyer": buyer, "terms": terms, "document_hash": doc}),
        )
        .seq;
    for who in [&seller, &buyer] {
        l.ok(
            who,
            "contract.confirm",
            "contract/CT-1",
            json!({"document_hash": doc}),
        );
    }
    for who in [&seller, &buyer] {
        l.ok(
            who,
            "contract.sign",
            "contract/CT-1",
            json!({"document_hash": doc}),
        );
    }
    let filed = l
        .ok(HOUSING, "contract.file", "contract/CT-1", json!({}))
        .seq;

    let mut hashes = MemoryHashes::new();
    for e in &l.entries {
        hashes.append(leaf_hash(&e.encode().expect("encode")));
    }
    let size = l.entries.len() as u64;
    let log_key = SecretKey::from_seed(&[8; 32]);
    let vk = vkey(ORIGIN, &log_key.public()).expect("vkey");
    let root = hashes.root(size).expect("root");
    let note = String::from_utf8(sign_checkpoint(ORIGIN, size, root, &[], &log_key).expect("sign"))
        .expect("utf8");
    World {
        l,
        hashes,
        note,
        vk,
        publish1,
        publish2,
        price2,
        draft,
        filed,
    }
}

impl World {
    fn entry(&self, seq: u64) -> &Entry {
        &self.l.entries[usize::try_from(seq).expect("seq")]
    }

    /// The bundle of entry `seq`, as the API sends it.
    fn bundle(&self, seq: u64) -> Value {
        let size = self.l.entries.len() as u64;
        let proof = self.hashes.inclusion_proof(seq, size).expect("proof");
        let (bytes, opening) = self.entry(seq).encode_record().expect("encode");
        let mut bundle = ProofBundle::new(seq, &bytes, size, &proof, &self.note, &self.vk);
        if let Some(opening) = opening {
            bundle = bundle.with_opening(&opening).expect("a canonical opening");
        }
        serde_json::to_value(bundle).expect("bundle json")
    }

    fn code_of(&self, seq: u64, field: &str) -> String {
        self.entry(seq).derived[field]
            .as_str()
            .expect("derived code")
            .to_owned()
    }

    /// The genuine `GET /v1/verify/listing/{code}` answer for the listing published at `seq`.
    fn listing_answer(&self, seq: u64) -> (String, Value) {
        let e = self.entry(seq);
        let Some(Doc::Listing(doc)) =
            deedlog_views::docs::compute(&self.l.state, &e.stream, None, e)
        else {
            panic!("no listing document for {}", e.stream);
        };
        let code = self.code_of(seq, "listing_code");
        let answer = json!({
            "code": code, "listing": deedlog_views::public_listing_value(&doc),
            "proof": self.bundle(doc.created_seq), "current": self.bundle(doc.updated_seq),
        });
        (code, answer)
    }

    /// The genuine `GET /v1/verify/contract/{filing_code}` answer.
    fn contract_answer(&self) -> (String, Value) {
        let e = self.entry(self.filed);
        let Some(Doc::Contract(doc)) =
            deedlog_views::docs::compute(&self.l.state, &e.stream, None, e)
        else {
            panic!("no contract document");
        };
        let code = self.code_of(self.filed, "filing_code");
        let answer = json!({
            "filing_code": code,
            "contract": {"id": doc.id, "status": doc.status, "listing": doc.listing, "property": doc.property,
                         "document_hash": doc.document_hash, "filed_seq": doc.filed_seq, "signatures": doc.signatures},
            "proof": self.bundle(self.filed), "latest": self.bundle(self.filed),
        });
        (code, answer)
    }

    /// The genuine `POST /v1/verify/document` answer for the contract's document.
    fn document_answer(&self) -> (String, Value) {
        let sha = hash("contract v1");
        let code = self.code_of(self.filed, "filing_code");
        let answer = json!({"sha256": sha, "matches": [{
            "what": "contract_document", "id": "contract/CT-1", "seq": self.draft, "current": true,
            "status": "filed", "code": code, "proof": self.bundle(self.draft),
        }]});
        (sha, answer)
    }
}

fn binding_error(r: Result<impl std::fmt::Debug, ClientError>) -> String {
    match r {
        Err(ClientError::Binding(reason)) => reason,
        other => panic!("expected a binding failure, got {other:?}"),
    }
}

#[test]
fn a_genuine_listing_answer_is_bound_field_by_field() {
    let w = world();
    let (code, answer) = w.listing_answer(w.publish1);
    let (b, bundles) = bind_listing(&code, &answer, &w.vk).expect("genuine answer");
    assert_eq!(b.proved.len(), 1);
    assert_eq!(b.proved[0].seq, w.publish1);
    assert_eq!(b.proved[0].stream, "listing/LS-1");
    assert_eq!(bundles.len(), 2);
    for f in [
        "code",
        "listing.id",
        "listing.price_fen",
        "listing.photos",
        "listing.title",
        "listing.area_centi_m2",
        "listing.seller",
        "listing.created_seq",
        "listing.updated_seq",
    ] {
        assert_eq!(
            b.fields.get(f),
            Some(&FieldCheck::Verified { seq: w.publish1 }),
            "{f}"
        );
    }
    // What the bundles cannot speak for is named, not passed.
    for f in [
        "listing.status",
        "listing.verification_code",
        "listing.price_history",
    ] {
        assert!(
            matches!(b.fields.get(f), Some(FieldCheck::Unverified { .. })),
            "{f}"
        );
    }
    // Every field shown is classified one way or the other.
    for key in answer["listing"].as_object().expect("object").keys() {
        assert!(
            b.fields.contains_key(&format!("listing.{key}")),
            "listing.{key} is not classified"
        );
    }
}

#[test]
fn a_price_set_by_a_later_change_is_verified_from_that_change() {
    let w = world();
    let (code, answer) = w.listing_answer(w.publish2);
    assert_eq!(answer["listing"]["price_fen"], json!(PRICE - 5_000_000));
    let (b, _) = bind_listing(&code, &answer, &w.vk).expect("genuine answer");
    assert_eq!(
        b.fields.get("listing.price_fen"),
        Some(&FieldCheck::Verified { seq: w.price2 })
    );
    // The photos may have been set by some other change: not claimed.
    assert!(!b.is_verified("listing.photos"));
    assert!(b.is_verified("listing.title"));

    let mut shown = answer.clone();
    shown["listing"]["price_fen"] = json!(PRICE);
    let reason = binding_error(bind_listing(&code, &shown, &w.vk));
    assert!(reason.contains("price_fen"), "{reason}");
}

#[test]
fn a_made_up_listing_with_bundles_of_genesis_fails() {
    let w = world();
    let (code, mut answer) = w.listing_answer(w.publish1);
    answer["listing"]["title"] = json!("湖景别墅 特价");
    answer["listing"]["price_fen"] = json!(1);
    answer["proof"] = w.bundle(0);
    answer["current"] = w.bundle(0);
    let reason = binding_error(bind_listing(&code, &answer, &w.vk));
    assert!(reason.contains("not a listing publication"), "{reason}");
}

#[test]
fn a_shown_price_that_is_not_the_proved_one_fails() {
    let w = world();
    let (code, mut answer) = w.listing_answer(w.publish1);
    answer["listing"]["price_fen"] = json!(PRICE / 2);
    let reason = binding_error(bind_listing(&code, &answer, &w.vk));
    assert!(reason.contains("listing.price_fen"), "{reason}");
    // And any other field copied from the publishing entry.
    let (_, mut answer) = w.listing_answer(w.publish1);
    answer["listing"]["area_centi_m2"] = json!(20_000);
    binding_error(bind_listing(&code, &answer, &w.vk));
}

#[test]
fn a_publication_bundle_of_another_code_fails() {
    let w = world();
    let (code1, mut answer) = w.listing_answer(w.publish1);
    // The real publication of listing 2, shown under listing 1's code.
    let (_, other) = w.listing_answer(w.publish2);
    answer["proof"] = other["proof"].clone();
    let reason = binding_error(bind_listing(&code1, &answer, &w.vk));
    assert!(reason.contains("did not issue"), "{reason}");
    // Listing 2's whole genuine answer, presented as the answer for listing 1's code.
    let mut relabelled = other.clone();
    relabelled["code"] = json!(code1);
    binding_error(bind_listing(&code1, &relabelled, &w.vk));
    // An answer about another code than the one asked for.
    binding_error(bind_listing(&code1, &other, &w.vk));
}

#[test]
fn a_bundle_on_another_stream_fails() {
    let w = world();
    let (code, answer) = w.listing_answer(w.publish1);
    // The listing shown is another listing than the proved entry's stream.
    let mut shown = answer.clone();
    shown["listing"]["id"] = json!("listing/LS-2");
    let reason = binding_error(bind_listing(&code, &shown, &w.vk));
    assert!(reason.contains("listing.id"), "{reason}");
    // The "last change" is a real change, of another listing: its price must not be borrowed.
    let mut current = answer.clone();
    current["current"] = w.bundle(w.price2);
    current["listing"]["updated_seq"] = json!(w.price2);
    current["listing"]["price_fen"] = json!(PRICE - 5_000_000);
    let reason = binding_error(bind_listing(&code, &current, &w.vk));
    assert!(reason.contains("not a later entry"), "{reason}");
}

#[test]
fn a_bundle_that_fails_to_verify_is_still_refused() {
    let w = world();
    let (code, answer) = w.listing_answer(w.publish1);
    let other = vkey(ORIGIN, &SecretKey::from_seed(&[9; 32]).public()).expect("vkey");
    assert!(matches!(
        bind_listing(&code, &answer, &other),
        Err(ClientError::Bundle(_))
    ));
}

#[test]
fn a_genuine_contract_answer_passes_and_names_what_it_cannot_prove() {
    let w = world();
    let (code, answer) = w.contract_answer();
    let (b, _) = bind_contract(&code, &answer, &w.vk).expect("genuine answer");
    assert_eq!(b.proved[0].seq, w.filed);
    for f in [
        "filing_code",
        "contract.id",
        "contract.filed_seq",
        "contract.listing",
        "contract.property",
        "contract.status",
    ] {
        assert_eq!(
            b.fields.get(f),
            Some(&FieldCheck::Verified { seq: w.filed }),
            "{f}"
        );
    }
    assert!(!b.is_verified("contract.document_hash"));
    assert!(!b.is_verified("contract.signatures"));
}

#[test]
fn a_contract_answer_whose_filed_seq_or_code_differs_fails() {
    let w = world();
    let (code, answer) = w.contract_answer();

    let mut moved = answer.clone();
    moved["contract"]["filed_seq"] = json!(w.draft);
    let reason = binding_error(bind_contract(&code, &moved, &w.vk));
    assert!(reason.contains("filed_seq"), "{reason}");

    // Another filing code asked for, answered with this filing's proof.
    let forged = "FC-0000000000000000";
    let mut relabelled = answer.clone();
    relabelled["filing_code"] = json!(forged);
    let reason = binding_error(bind_contract(forged, &relabelled, &w.vk));
    assert!(reason.contains("did not issue"), "{reason}");

    // A real entry of the same contract that is not the filing.
    let mut drafted = answer.clone();
    drafted["proof"] = w.bundle(w.draft);
    let reason = binding_error(bind_contract(&code, &drafted, &w.vk));
    assert!(reason.contains("not a contract filing"), "{reason}");

    // Genesis bundles for a made-up contract.
    let mut genesis = answer.clone();
    genesis["proof"] = w.bundle(0);
    genesis["latest"] = w.bundle(0);
    binding_error(bind_contract(&code, &genesis, &w.vk));

    // The contract shown is another one than the proved entry's stream.
    let mut other = answer.clone();
    other["contract"]["id"] = json!("contract/CT-2");
    binding_error(bind_contract(&code, &other, &w.vk));

    // A status the latest entry contradicts.
    let mut status = answer;
    status["contract"]["status"] = json!("signed");
    binding_error(bind_contract(&code, &status, &w.vk));
}

#[test]
fn a_genuine_document_answer_passes() {
    let w = world();
    let (sha, answer) = w.document_answer();
    let (b, bundles) = bind_document(&sha, &answer, &w.vk).expect("genuine answer");
    assert_eq!(bundles.len(), 1);
    assert_eq!(b.proved[0].seq, w.draft);
    assert_eq!(b.fields.get("sha256"), Some(&FieldCheck::Computed));
    assert!(b.is_verified("matches[0].seq"));
    assert!(b.is_verified("matches[0].id"));
    assert!(b.is_verified("matches[0].what"));
    assert!(!b.is_verified("matches[0].current"));
    assert!(!b.is_verified("matches[0].code"));
}

#[test]
fn a_document_answer_whose_hash_is_not_in_the_proved_payload_fails() {
    let w = world();
    let (sha, answer) = w.document_answer();

    // The filing entry of the same contract: real, on the right stream, but without the hash.
    let mut filing = answer.clone();
    filing["matches"][0]["proof"] = w.bundle(w.filed);
    filing["matches"][0]["seq"] = json!(w.filed);
    let reason = binding_error(bind_document(&sha, &filing, &w.vk));
    assert!(reason.contains("does not carry the hash"), "{reason}");

    // Genesis, claimed to hold the document.
    let mut genesis = answer.clone();
    genesis["matches"][0]["proof"] = w.bundle(0);
    genesis["matches"][0]["seq"] = json!(0);
    binding_error(bind_document(&sha, &genesis, &w.vk));

    // The answer is about another document than the one sent.
    let other = hash("contract v2");
    let mut about_other = answer.clone();
    about_other["sha256"] = json!(other);
    binding_error(bind_document(&sha, &about_other, &w.vk));
    binding_error(bind_document(&other, &answer, &w.vk));

    // A match whose seq is not the proved entry's.
    let mut seq = answer.clone();
    seq["matches"][0]["seq"] = json!(w.draft + 1);
    binding_error(bind_document(&sha, &seq, &w.vk));

    // No match at all proves nothing.
    let empty = bind_document(&sha, &json!({"sha256": sha, "matches": []}), &w.vk);
    assert!(
        matches!(empty, Err(ClientError::BadResponse { .. })),
        "{empty:?}"
    );
}

/// A one-answer HTTP server on loopback: every request gets `body` as JSON. It stands for a
/// lying server (or anyone on the path) in front of a real log.
fn canned_server(body: Value) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let bytes = serde_json::to_vec(&body).expect("json");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            // Read the request head; the canned answer does not depend on it.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&bytes);
        }
    });
    url
}

#[test]
fn the_client_refuses_a_made_up_listing_served_with_valid_genesis_bundles() {
    let w = world();
    let (code, genuine) = w.listing_answer(w.publish1);

    let client = deedlog_client::Client::new(&canned_server(genuine)).expect("client");
    let v = client
        .verify_listing(&code, &w.vk, None)
        .expect("the genuine answer verifies");
    assert!(v.binding.is_verified("listing.price_fen"));
    assert!(!v.binding.is_verified("listing.status"));

    let mut fake = json!({
        "code": code,
        "listing": {"id": "listing/LS-1", "code": code, "status": "active", "price_fen": 1,
                    "title": "湖景别墅 特价", "area_centi_m2": 30_000},
        "proof": w.bundle(0), "current": w.bundle(0),
    });
    let client = deedlog_client::Client::new(&canned_server(fake.clone())).expect("client");
    let refused = client.verify_listing(&code, &w.vk, None);
    assert!(
        matches!(refused, Err(ClientError::Binding(_))),
        "{refused:?}"
    );
    // The same made-up listing with the real publication's bundle fails on its fields.
    fake["proof"] = w.bundle(w.publish1);
    fake["current"] = w.bundle(w.publish1);
    let client = deedlog_client::Client::new(&canned_server(fake)).expect("client");
    let refused = client.verify_listing(&code, &w.vk, None);
    assert!(
        matches!(refused, Err(ClientError::Binding(_))),
        "{refused:?}"
    );
}

#[test]
fn the_client_hashes_the_document_itself() {
    let w = world();
    let (_, genuine) = w.document_answer();
    let client = deedlog_client::Client::new(&canned_server(genuine)).expect("client");
    client
        .verify_document(b"contract v1", &w.vk, None)
        .expect("the genuine answer verifies");
    // The server answers for the contract's document whatever file was sent.
    let refused = client.verify_document(b"a forged contract", &w.vk, None);
    assert!(
        matches!(refused, Err(ClientError::Binding(_))),
        "{refused:?}"
    );
}

/// A version-2 entry proves its fields only with its opening: an answer whose bundle withholds
/// it, or carries another payload under the signed digest, fails closed.
#[test]
fn a_bundle_without_its_opening_or_with_another_one_binds_nothing() {
    let w = world();
    let (code, mut answer) = w.listing_answer(w.publish1);
    assert!(
        answer["proof"]["opening"].is_object(),
        "the genuine answer carries it"
    );
    answer["proof"]
        .as_object_mut()
        .expect("a bundle")
        .remove("opening");
    let reason = binding_error(bind_listing(&code, &answer, &w.vk));
    assert!(reason.contains("without its payload"), "{reason}");
    // Another payload with the original salt: the digest no longer matches.
    let (_, mut answer) = w.listing_answer(w.publish1);
    answer["proof"]["opening"]["payload"]["price_fen"] = json!(PRICE / 2);
    answer["listing"]["price_fen"] = json!(PRICE / 2);
    let err = bind_listing(&code, &answer, &w.vk).expect_err("a forged opening");
    assert!(err.to_string().contains("opening"), "{err}");
}
