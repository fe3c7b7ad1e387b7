//! The reference-data loader, against an inline sample and against the committed files under
//! `ledger-data/reference/`; and the privacy scan: after loading the registry and running a deal
//! with real-looking people, no name, ID number or phone number (nor its plain SHA-256) appears
//! in any entry's bytes.

mod common;

use std::path::PathBuf;

use common::*;
use deedlog_domain::reference::{self, AuthorityKeys, Person, ReferenceData, ReferenceError};
use deedlog_domain::reference::{Committer, PersonalField};
use deedlog_domain::testkit::committer;
use serde_json::json;

const SAMPLE_PROPERTIES: &str = r#"[
  {"certificate_no": "云（2021）昆明市不动产权第0012345号", "district": "五华区", "community": "翠湖花园",
   "address": "五华区翠湖南路8号3栋2单元501", "area_centi_m2": 8950, "rooms": 2, "halls": 1, "bathrooms": 1,
   "floor": 5, "floors_total": 7, "built_year": 2005, "usage": "住宅",
   "owners": [{"name": "张三", "id_number": "11010519491231002X", "phone": "13812345678", "share_percent": 100}],
   "mortgage": {"bank_id": "BK-01", "amount_fen": 50000000}, "seizure": null},
  {"certificate_no": "昆明市房权证五华区字第201012345号", "district": "五华区", "community": "莲华小区",
   "address": "五华区莲华路1号1栋1单元101", "area_centi_m2": 6000, "rooms": 1, "halls": 1, "bathrooms": 1,
   "floor": 1, "floors_total": 6, "built_year": 1998, "usage": "住宅",
   "owners": [{"name": "李四", "id_number": "530102199001011237", "phone": "13912345678", "share_percent": 60},
              {"name": "王五", "id_number": "530102199202021232", "phone": "13712345678", "share_percent": 40}],
   "mortgage": null, "seizure": {"court": "昆明市五华区人民法院", "case_no": "(2024)云0102执1号"}}
]"#;
const SAMPLE_AGENCIES: &str = r#"[{"agency_id": "AG-0001", "name": "昆明安居房产经纪有限公司", "licence_no": "KMJJ-2021-0001",
  "district": "五华区", "address": "五华区东风西路1号",
  "agents": [{"agent_id": "AT-0001", "name": "赵六", "id_number": "530103198505051236", "phone": "15012345678", "licence_no": "KMJJR-2021-0101"}]}]"#;
const SAMPLE_BANKS: &str =
    r#"[{"bank_id": "BK-01", "name": "中国工商银行", "branch": "昆明分行"}]"#;
const SAMPLE_OFFICES: &str = r#"[{"office_id": "OF-01", "name": "昆明市存量房交易服务中心", "district": "官渡区",
  "address": "官渡区永宁大道18号", "hours": "周一至周五 9:00-17:00", "phone": "0871-62825195"}]"#;

fn keys(l: &Ledger) -> AuthorityKeys {
    AuthorityKeys {
        housing: l.secret_of(HOUSING).public().to_base64(),
        registry: l.secret_of(REGISTRY).public().to_base64(),
    }
}

/// Signs each command with its authority's key and submits it.
fn load(l: &mut Ledger, data: &ReferenceData) -> usize {
    let commands = reference::commands(data, &committer(), &keys(l), l.now_ms)
        .expect("reference data is valid");
    for c in &commands {
        let signed = c.clone().sign(&l.secret_of(&c.actor)).expect("signs");
        if let Err(r) = l.submit_signed(signed) {
            panic!("{} {} refused: {r}", c.kind, c.stream);
        }
    }
    commands.len()
}

fn fix_sample_checks(text: &str) -> String {
    // The sample's second and later ID numbers get their right check characters here, so the
    // sample stays readable.
    let mut out = text.to_owned();
    for first17 in [
        "53010219900101123",
        "53010219920202123",
        "53010319850505123",
    ] {
        let mut a = [0u8; 17];
        a.copy_from_slice(first17.as_bytes());
        let good = format!("{first17}{}", deedlog_domain::validate::id_check_char(&a));
        for last in '0'..='9' {
            out = out.replace(&format!("{first17}{last}"), &good);
        }
    }
    out
}

fn sample() -> ReferenceData {
    ReferenceData::from_json(
        &fix_sample_checks(SAMPLE_PROPERTIES),
        &fix_sample_checks(SAMPLE_AGENCIES),
        SAMPLE_BANKS,
        SAMPLE_OFFICES,
    )
    .expect("sample parses")
}

#[test]
fn a_sample_loads_deterministically_and_audits_clean() {
    let data = sample();
    let mut l = Ledger::new();
    let k = keys(&l);
    let a = reference::commands(&data, &committer(), &k, T0).expect("valid");
    let b = reference::commands(&data, &committer(), &k, T0).expect("valid");
    assert_eq!(a, b, "loading is deterministic");
    let kinds: Vec<&str> = a.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "bank.register",
            "office.register",
            "agency.certify",
            "agent.certify",
            "property.register",
            "property.register"
        ]
    );
    assert_eq!(a[4].stream, "property/PR-0001");
    assert_eq!(a[4].nonce, "ref-property-PR-0001");
    assert_eq!(
        a[4].payload["certificate_no"],
        json!("云(2021)昆明市不动产权第0012345号"),
        "normalised"
    );
    load(&mut l, &data);
    let p = l
        .state
        .property_by_certificate("云（2021）昆明市不动产权第0012345号")
        .expect("found by either form");
    assert_eq!(
        p.mortgage.as_ref().map(|m| m.bank.as_str()),
        Some("bank/BK-01")
    );
    let seized = l.state.property("property/PR-0002").expect("second");
    assert!(seized.seizure.is_some() && seized.owners.len() == 2);
    assert_eq!(l.state.agents_by_rating(Some("agency/AG-0001")).len(), 1);
    assert_audit_clean(&l);
}

#[test]
fn invalid_records_are_named() {
    let bad_id = SAMPLE_PROPERTIES.replace("11010519491231002X", "110105194912310021");
    let data = ReferenceData::from_json(
        &fix_sample_checks(&bad_id),
        &fix_sample_checks(SAMPLE_AGENCIES),
        SAMPLE_BANKS,
        SAMPLE_OFFICES,
    )
    .expect("parses");
    let err = reference::commands(&data, &committer(), &keys(&Ledger::new()), T0).unwrap_err();
    assert!(
        matches!(&err, ReferenceError::Invalid { record, .. } if record == "properties[0].owners[0]"),
        "{err}"
    );
    let unknown = SAMPLE_BANKS.replace("\"branch\"", "\"extra\": 1, \"branch\"");
    assert!(matches!(
        ReferenceData::from_json(SAMPLE_PROPERTIES, SAMPLE_AGENCIES, &unknown, SAMPLE_OFFICES),
        Err(ReferenceError::Parse {
            file: "banks.json",
            ..
        })
    ));
    let bad_committer = |_: &str, _: PersonalField, _: &str| "not hex".to_owned();
    let data = sample();
    assert!(matches!(
        reference::commands(&data, &bad_committer, &keys(&Ledger::new()), T0),
        Err(ReferenceError::BadCommitment { .. })
    ));
}

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ledger-data/reference")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(reference_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn committed_files() -> ReferenceData {
    ReferenceData::from_json(
        &read("properties.json"),
        &read("agencies.json"),
        &read("banks.json"),
        &read("offices.json"),
    )
    .expect("the committed reference files parse")
}

#[test]
fn the_committed_reference_files_load_onto_the_log() {
    let data = committed_files();
    let mut l = Ledger::new();
    let n = load(&mut l, &data);
    let agents: usize = data.agencies.iter().map(|a| a.agents.len()).sum();
    assert_eq!(
        n,
        data.banks.len()
            + data.offices.len()
            + data.agencies.len()
            + agents
            + data.properties.len()
    );
    assert!(
        data.properties.len() >= 300
            && agents >= 80
            && data.agencies.len() >= 20
            && data.banks.len() >= 8
    );
    let seized = data
        .properties
        .iter()
        .filter(|p| p.seizure.is_some())
        .count();
    assert_eq!(
        (1..=data.properties.len())
            .filter(|i| {
                l.state
                    .property(&format!("property/PR-{i:04}"))
                    .is_some_and(|p| p.seizure.is_some())
            })
            .count(),
        seized
    );
    for p in &data.properties {
        assert!(
            l.state.property_by_certificate(&p.certificate_no).is_some(),
            "{}",
            p.certificate_no
        );
    }
    assert_eq!(l.state.agents_by_rating(None).len(), agents);
    assert_eq!(l.state.offices().count(), data.offices.len());
    assert_audit_clean(&l);
}

/// A deal by real-looking citizens from `citizens.json` on a registry property they own.
#[test]
fn no_personal_data_reaches_the_log() {
    let data = committed_files();
    let citizens: Vec<Person> =
        serde_json::from_str(&read("citizens.json")).expect("citizens parse");
    let mut l = Ledger::new();
    load(&mut l, &data);
    let c = committer();
    let register = |l: &mut Ledger, i: usize, p: &Person| -> String {
        let id = format!("party/PA-c{i}");
        let payload =
            l.register_payload(&id, &c.commit(&p.id_number, PersonalField::Phone, &p.phone));
        l.ok(&id, "party.register", &id, payload);
        l.ok(
            IDENTITY,
            "party.attest_identity",
            &id,
            json!({
            "name_commitment": c.commit(&p.id_number, PersonalField::Name, &p.name),
            "id_commitment": c.commit(&p.id_number, PersonalField::IdNumber, &p.id_number),
            "method": "online_face" }),
        );
        id
    };
    // A seller: a citizen who solely owns an unseized property.
    let (pi, prop) = data
        .properties
        .iter()
        .enumerate()
        .find(|(_, p)| {
            p.seizure.is_none()
                && p.owners.len() == 1
                && citizens
                    .iter()
                    .any(|c| c.id_number == p.owners[0].id_number)
        })
        .expect("some citizen owns a property alone");
    let seller_person = citizens
        .iter()
        .find(|c| c.id_number == prop.owners[0].id_number)
        .expect("owner");
    let buyer_person = citizens
        .iter()
        .find(|c| {
            !data
                .properties
                .iter()
                .any(|p| p.owners.iter().any(|o| o.id_number == c.id_number))
        })
        .expect("a buyer");
    let seller = register(&mut l, 1, seller_person);
    let buyer = register(&mut l, 2, buyer_person);
    let v = "verification/PV-1";
    l.ok(
        &seller,
        "property.verify",
        v,
        json!({ "certificate_no": prop.certificate_no }),
    );
    let property = format!("property/PR-{:04}", pi + 1);
    assert_eq!(
        l.state.verification(v).expect("verified").property,
        property
    );
    let payload = l.publish_payload(None, v, 100_000_000);
    l.ok(&seller, "listing.publish", "listing/LS-1", payload);
    let terms = l.terms("listing/LS-1", &buyer, 100_000_000);
    l.ok(&buyer, "contract.draft", "contract/CT-1", json!({ "listing": "listing/LS-1", "buyer": buyer, "terms": terms, "document_hash": hash("doc") }));
    for who in [&seller, &buyer] {
        l.ok(
            who,
            "contract.confirm",
            "contract/CT-1",
            json!({ "document_hash": hash("doc") }),
        );
    }
    for who in [&seller, &buyer] {
        l.ok(
            who,
            "contract.sign",
            "contract/CT-1",
            json!({ "document_hash": hash("doc") }),
        );
    }
    l.ok(HOUSING, "contract.file", "contract/CT-1", json!({}));
    assert_audit_clean(&l);

    // Every personal value in the files, and its plain SHA-256, must be absent from every entry.
    let mut secrets: Vec<String> = Vec::new();
    let mut add = |name: &str, id: &str, phone: &str| {
        for v in [name, id, phone] {
            secrets.push(v.to_owned());
            secrets.push(hash(v));
        }
    };
    for p in &data.properties {
        for o in &p.owners {
            add(&o.name, &o.id_number, &o.phone);
        }
    }
    for a in &data.agencies {
        for t in &a.agents {
            add(&t.name, &t.id_number, &t.phone);
        }
    }
    for p in &citizens {
        add(&p.name, &p.id_number, &p.phone);
    }
    let log: Vec<String> = l
        .entries
        .iter()
        .map(|e| String::from_utf8(e.encode().expect("encodes")).expect("utf-8"))
        .collect();
    for s in &secrets {
        for (seq, bytes) in log.iter().enumerate() {
            assert!(
                !bytes.contains(s.as_str()),
                "entry {seq} holds personal data `{s}`"
            );
        }
    }
    assert!(secrets.len() > 1000);
}
