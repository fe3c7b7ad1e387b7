//! Checks the fictional reference data under `ledger-data/reference/` (counts, uniqueness, ID
//! check characters, share sums, referential integrity), independently of the Python generator's
//! own checks, and that the vault gives a registry owner and the same person as a verified
//! seller the same commitment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use deedlog_vault::{Vault, normalize_id_number};
use serde_json::Value;

const DISTRICTS: [(&str, &str); 7] = [
    ("五华区", "530102"),
    ("盘龙区", "530103"),
    ("官渡区", "530111"),
    ("西山区", "530112"),
    ("呈贡区", "530114"),
    ("晋宁区", "530115"),
    ("安宁市", "530181"),
];

fn load(name: &str) -> Vec<Value> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "ledger-data",
        "reference",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => items,
        other => panic!("{name}: expected a JSON array, got {other:?}"),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

/// GB 11643-1999 (ISO 7064 MOD 11-2) check character of the first 17 digits.
fn check_character(body: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn assert_resident_id(id: &str) {
    let b = id.as_bytes();
    assert_eq!(b.len(), 18, "{id}");
    assert!(b[..17].iter().all(u8::is_ascii_digit), "{id}");
    assert!(
        DISTRICTS.iter().any(|(_, code)| id.starts_with(code)),
        "{id}: not a Kunming region"
    );
    let num = |r: std::ops::Range<usize>| id[r].parse::<u32>().unwrap();
    let (y, m, d) = (num(6..10), num(10..12), num(12..14));
    let days = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    assert!(
        (1930..=2010).contains(&y) && (1..=12).contains(&m),
        "{id}: birth date"
    );
    assert!(d >= 1 && d <= days[(m - 1) as usize], "{id}: birth date");
    assert_eq!(b[17], check_character(&b[..17]), "{id}: check character");
}

fn assert_mobile(phone: &str) {
    let b = phone.as_bytes();
    assert!(
        b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit),
        "{phone}"
    );
}

/// `云(YYYY)昆明市不动产权第NNNNNNN号` → Some(year); `昆明市房权证{district}字第NNNNNNNNN号` →
/// None after checking it names `district`.
fn certificate_year(cert: &str, district: &str) -> Option<u32> {
    if let Some(rest) = cert.strip_prefix("云(") {
        let (year, rest) = rest.split_once(')').unwrap_or_else(|| panic!("{cert}"));
        let digits = rest
            .strip_prefix("昆明市不动产权第")
            .and_then(|r| r.strip_suffix('号'))
            .unwrap_or_else(|| panic!("{cert}"));
        assert!(
            digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{cert}"
        );
        let year: u32 = year.parse().unwrap_or_else(|_| panic!("{cert}"));
        assert!((2016..=2025).contains(&year), "{cert}");
        Some(year)
    } else {
        let prefix = format!("昆明市房权证{district}字第");
        let digits = cert
            .strip_prefix(prefix.as_str())
            .and_then(|r| r.strip_suffix('号'))
            .unwrap_or_else(|| panic!("{cert}: neither format (or another district)"));
        assert!(
            digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{cert}"
        );
        None
    }
}

/// Every ID number maps to one (name, phone) across all files.
#[derive(Default)]
struct People(BTreeMap<String, (String, String)>);

impl People {
    fn see(&mut self, person: &Value) {
        let (id, name, phone) = (
            text(person, "id_number"),
            text(person, "name"),
            text(person, "phone"),
        );
        assert_resident_id(id);
        assert_mobile(phone);
        assert!((2..=4).contains(&name.chars().count()), "{name}");
        let seen = self
            .0
            .entry(id.to_owned())
            .or_insert_with(|| (name.to_owned(), phone.to_owned()));
        assert_eq!(
            seen,
            &(name.to_owned(), phone.to_owned()),
            "{id} appears with another name or phone"
        );
    }
}

#[test]
fn the_check_character_matches_a_known_sample() {
    // The sample number printed in GB 11643-1999 itself.
    assert_eq!(check_character(b"11010519491231002"), b'X');
    assert_eq!(check_character(b"44052418800101001"), b'4');
}

#[test]
fn the_property_registry_meets_its_counts_and_formats() {
    let properties = load("properties.json");
    let banks: BTreeSet<String> = load("banks.json")
        .iter()
        .map(|b| text(b, "bank_id").to_owned())
        .collect();
    let districts: BTreeSet<&str> = DISTRICTS.iter().map(|(d, _)| *d).collect();
    let mut people = People::default();
    let (mut old, mut mortgaged, mut seized, mut co_owned) = (0, 0, 0, 0);
    let mut certificates = BTreeSet::new();
    let mut seen_districts = BTreeSet::new();
    for p in &properties {
        let cert = text(p, "certificate_no");
        let district = text(p, "district");
        assert!(districts.contains(district), "{cert}: {district}");
        seen_districts.insert(district);
        assert!(certificates.insert(cert.to_owned()), "{cert} twice");
        if certificate_year(cert, district).is_none() {
            old += 1;
        }
        assert!(text(p, "address").starts_with(district), "{cert}");
        assert!(!text(p, "community").is_empty());
        assert!(
            (2_000..=50_000).contains(&int(p, "area_centi_m2")),
            "{cert}"
        );
        assert!(
            (1..=int(p, "floors_total")).contains(&int(p, "floor")),
            "{cert}"
        );
        for key in ["rooms", "halls", "bathrooms"] {
            assert!((1..=6).contains(&int(p, key)), "{cert}: {key}");
        }
        assert!((1950..=2025).contains(&int(p, "built_year")), "{cert}");
        assert!(["住宅", "商住"].contains(&text(p, "usage")), "{cert}");
        let owners = p["owners"]
            .as_array()
            .unwrap_or_else(|| panic!("{cert}: owners"));
        assert!((1..=3).contains(&owners.len()), "{cert}");
        if owners.len() > 1 {
            co_owned += 1;
        }
        assert_eq!(
            owners.iter().map(|o| int(o, "share_percent")).sum::<i64>(),
            100,
            "{cert}: shares"
        );
        let ids: BTreeSet<&str> = owners.iter().map(|o| text(o, "id_number")).collect();
        assert_eq!(ids.len(), owners.len(), "{cert}: an owner twice");
        for o in owners {
            assert!(int(o, "share_percent") > 0);
            people.see(o);
        }
        if !p["mortgage"].is_null() {
            mortgaged += 1;
            assert!(
                banks.contains(text(&p["mortgage"], "bank_id")),
                "{cert}: unknown bank"
            );
            assert!(int(&p["mortgage"], "amount_fen") > 0, "{cert}");
        }
        if !p["seizure"].is_null() {
            seized += 1;
            assert!(text(&p["seizure"], "court").ends_with("人民法院"), "{cert}");
            assert!(!text(&p["seizure"], "case_no").is_empty(), "{cert}");
        }
    }
    assert!(properties.len() >= 300, "{} properties", properties.len());
    assert!(old >= 30, "{old} old-format certificates");
    assert!(mortgaged >= 30, "{mortgaged} mortgaged");
    assert!(seized >= 10, "{seized} seized");
    assert!(co_owned >= 40, "{co_owned} co-owned");
    assert_eq!(seen_districts, districts, "every district has properties");
}

#[test]
fn people_are_consistent_across_files_and_some_citizens_own_property() {
    let mut people = People::default();
    let owner_ids: BTreeSet<String> = load("properties.json")
        .iter()
        .flat_map(|p| p["owners"].as_array().cloned().unwrap_or_default())
        .map(|o| {
            people.see(&o);
            text(&o, "id_number").to_owned()
        })
        .collect();
    let citizens = load("citizens.json");
    assert!(citizens.len() >= 40);
    let ids: BTreeSet<&str> = citizens.iter().map(|c| text(c, "id_number")).collect();
    assert_eq!(ids.len(), citizens.len(), "citizen ids are unique");
    for c in &citizens {
        people.see(c);
    }
    let owning = citizens
        .iter()
        .filter(|c| owner_ids.contains(text(c, "id_number")))
        .count();
    assert!(
        owning >= 5 && citizens.len() - owning >= 20,
        "{owning} of the citizens own property"
    );

    let agents: Vec<Value> = load("agencies.json")
        .iter()
        .flat_map(|a| a["agents"].as_array().cloned().unwrap_or_default())
        .collect();
    for a in &agents {
        people.see(a);
    }
    let phones: BTreeSet<&String> = people.0.values().map(|(_, phone)| phone).collect();
    assert_eq!(phones.len(), people.0.len(), "one phone number per person");
}

/// The population register (what the embedded identity authority checks a real name against,
/// and whose phone on file gets the SMS code) holds every person of the other files with the
/// same name and phone, plus people who are in no other file; one entry per ID number and per
/// phone, sorted by ID number.
#[test]
fn the_population_register_holds_everyone_with_the_same_phone() {
    let mut people = People::default();
    let mut elsewhere = BTreeSet::new();
    for p in load("properties.json") {
        for o in p["owners"].as_array().cloned().unwrap_or_default() {
            people.see(&o);
            elsewhere.insert(text(&o, "id_number").to_owned());
        }
    }
    for c in load("citizens.json") {
        people.see(&c);
        elsewhere.insert(text(&c, "id_number").to_owned());
    }
    for a in load("agencies.json") {
        for agent in a["agents"].as_array().cloned().unwrap_or_default() {
            people.see(&agent);
            elsewhere.insert(text(&agent, "id_number").to_owned());
        }
    }
    let population = load("population.json");
    let ids: Vec<&str> = population.iter().map(|p| text(p, "id_number")).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted by ID number, each once");
    let phones: BTreeSet<&str> = population.iter().map(|p| text(p, "phone")).collect();
    assert_eq!(phones.len(), population.len(), "one phone per person");
    for p in &population {
        // `see` fails if the register gives someone another name or phone than the other files.
        people.see(p);
    }
    let registered: BTreeSet<&str> = ids.iter().copied().collect();
    for id in &elsewhere {
        assert!(
            registered.contains(id.as_str()),
            "{id} is not on the register"
        );
    }
    assert!(population.len() - elsewhere.len() >= 200);
}

#[test]
fn agencies_banks_and_offices_meet_their_counts() {
    let agencies = load("agencies.json");
    assert!(agencies.len() >= 20);
    let mut ids = BTreeSet::new();
    let mut licences = BTreeSet::new();
    let mut agent_ids = BTreeSet::new();
    let districts: BTreeSet<&str> = DISTRICTS.iter().map(|(d, _)| *d).collect();
    for a in &agencies {
        let id = text(a, "agency_id");
        assert!(
            id.len() == 7 && id.starts_with("AG-") && id[3..].bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        assert!(ids.insert(id));
        assert!(
            licences.insert(text(a, "licence_no").to_owned()),
            "{id}: licence twice"
        );
        assert!(text(a, "licence_no").starts_with("KMJJ-"));
        assert!(districts.contains(text(a, "district")), "{id}");
        assert!(text(a, "address").starts_with(text(a, "district")), "{id}");
        assert!(text(a, "name").ends_with("有限公司"), "{id}");
        for agent in a["agents"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: agents"))
        {
            let agent_id = text(agent, "agent_id");
            assert!(
                agent_id.len() == 7 && agent_id.starts_with("AT-"),
                "{agent_id}"
            );
            assert!(agent_ids.insert(agent_id.to_owned()), "{agent_id} twice");
            assert!(
                licences.insert(text(agent, "licence_no").to_owned()),
                "{agent_id}: licence twice"
            );
            assert!(text(agent, "licence_no").starts_with("KMJJR-"));
        }
    }
    assert!(agent_ids.len() >= 80, "{} agents", agent_ids.len());

    let banks = load("banks.json");
    assert!(banks.len() >= 8);
    let bank_ids: BTreeSet<&str> = banks.iter().map(|b| text(b, "bank_id")).collect();
    assert_eq!(bank_ids.len(), banks.len());
    assert!(
        banks
            .iter()
            .all(|b| !text(b, "name").is_empty() && !text(b, "branch").is_empty())
    );

    let offices = load("offices.json");
    let office_ids: BTreeSet<&str> = offices.iter().map(|o| text(o, "office_id")).collect();
    assert_eq!(office_ids.len(), offices.len());
    let covered: BTreeSet<&str> = offices.iter().map(|o| text(o, "district")).collect();
    assert!(
        districts.is_subset(&covered),
        "every district has a filing office"
    );
    for o in &offices {
        assert!(text(o, "phone").starts_with("0871-") && text(o, "phone").len() == 13);
        assert!(!text(o, "hours").is_empty() && !text(o, "name").is_empty());
    }
}

#[test]
fn a_registry_owner_and_the_same_verified_seller_get_the_same_commitment() {
    let properties = load("properties.json");
    let citizens = load("citizens.json");
    let owner_of: BTreeMap<&str, &Value> = properties
        .iter()
        .flat_map(|p| p["owners"].as_array().into_iter().flatten())
        .map(|o| (text(o, "id_number"), o))
        .collect();
    let seller = citizens
        .iter()
        .find(|c| owner_of.contains_key(text(c, "id_number")))
        .expect("a citizen who owns a property");
    let tmp = tempfile::tempdir().unwrap();
    let vault = Vault::open(tmp.path()).unwrap();
    // Loading the registry: the owner's subject, found by the certificate's ID number.
    let owner_id =
        normalize_id_number(text(owner_of[text(seller, "id_number")], "id_number")).unwrap();
    let registry_subject = vault.subject_by_id_number(&owner_id).unwrap();
    let registry_commitment = vault
        .commit(&registry_subject, "id_number", &owner_id)
        .unwrap();
    // Real-name verification of the seller, later and independently.
    let seller_id = normalize_id_number(text(seller, "id_number")).unwrap();
    let seller_subject = vault.subject_by_id_number(&seller_id).unwrap();
    assert_eq!(seller_subject, registry_subject);
    assert_eq!(
        vault
            .commit(&seller_subject, "id_number", &seller_id)
            .unwrap(),
        registry_commitment
    );
    // A citizen who owns nothing gets another commitment.
    let other = citizens
        .iter()
        .find(|c| !owner_of.contains_key(text(c, "id_number")))
        .unwrap();
    let other_subject = vault
        .subject_by_id_number(text(other, "id_number"))
        .unwrap();
    assert_ne!(
        vault
            .commit(&other_subject, "id_number", text(other, "id_number"))
            .unwrap(),
        registry_commitment
    );
}
