//! People and properties for the demo and the tests: the reference files under
//! `ledger-data/reference/` (fictional citizens and the fictional registry) and generated
//! identities that pass the domain's validators (GB 11643 ID numbers, mainland mobile numbers).
//!
//! Everything here is made up; the personal data goes to the server's identity endpoints only,
//! never onto the log.

use std::path::Path;

use rand_core::{OsRng, RngCore as _};

use deedlog_domain::reference::{Person, PropertyRecord};
use deedlog_domain::validate;

use deedlog_client::ClientError;

/// Kunming's district codes (the first six digits of a resident ID number).
const REGION_CODES: [&str; 7] = [
    "530102", "530103", "530111", "530112", "530114", "530115", "530181",
];
const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华",
];

/// A property of the registry as the demo needs it: its id on the log and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryProperty {
    /// `property/PR-NNNN`, numbered from 1 in file order (as the reference loader does).
    pub id: String,
    /// The record of `properties.json`.
    pub record: PropertyRecord,
    /// The certificate number in its normal form.
    pub certificate_no: String,
}

impl RegistryProperty {
    /// Whether one person owns it outright, free of seizure (the simplest sale).
    #[must_use]
    pub fn is_simple_sale(&self) -> bool {
        self.record.owners.len() == 1 && self.record.seizure.is_none()
    }

    /// The owner records as people.
    #[must_use]
    pub fn owners(&self) -> Vec<Person> {
        self.record
            .owners
            .iter()
            .map(|o| Person {
                name: o.name.clone(),
                id_number: o.id_number.clone(),
                phone: o.phone.clone(),
            })
            .collect()
    }
}

/// The deal helpers take a property's facts; a registry property gives them as its record says.
impl From<&RegistryProperty> for deedlog_client::deal::PropertyFacts {
    fn from(p: &RegistryProperty) -> Self {
        Self::from_record(&p.id, &p.certificate_no, &p.record)
    }
}

fn read(dir: &Path, file: &str) -> Result<String, ClientError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map_err(|e| ClientError::Reference(format!("{}: {e}", path.display())))
}

/// Reads `citizens.json` from the reference folder.
///
/// # Errors
/// [`ClientError::Reference`] when the file is missing or malformed.
pub fn citizens(reference_dir: &Path) -> Result<Vec<Person>, ClientError> {
    serde_json::from_str(&read(reference_dir, "citizens.json")?)
        .map_err(|e| ClientError::Reference(format!("citizens.json: {e}")))
}

/// Reads `population.json` (the population register) from the reference folder.
///
/// # Errors
/// [`ClientError::Reference`] when the file is missing or malformed.
pub fn population(reference_dir: &Path) -> Result<Vec<Person>, ClientError> {
    serde_json::from_str(&read(reference_dir, "population.json")?)
        .map_err(|e| ClientError::Reference(format!("population.json: {e}")))
}

/// Reads `properties.json` from the reference folder, with the ids the loader gives them.
///
/// # Errors
/// [`ClientError::Reference`] when the file is missing, malformed, or holds a bad certificate.
pub fn properties(reference_dir: &Path) -> Result<Vec<RegistryProperty>, ClientError> {
    let records: Vec<PropertyRecord> =
        serde_json::from_str(&read(reference_dir, "properties.json")?)
            .map_err(|e| ClientError::Reference(format!("properties.json: {e}")))?;
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            let certificate_no = validate::certificate_no("certificate_no", &record.certificate_no)
                .map_err(|e| ClientError::Reference(format!("properties[{i}]: {e}")))?
                .normal;
            Ok(RegistryProperty {
                id: format!("property/PR-{:04}", i + 1),
                record,
                certificate_no,
            })
        })
        .collect()
}

/// A made-up person with a valid ID number (a Kunming district, born 1960-1999) and a valid
/// mobile number, drawn from OS randomness.
#[must_use]
pub fn generate_person() -> Person {
    let mut r = || OsRng.next_u32();
    person_from(&mut r)
}

/// A made-up person from a source of numbers (deterministic when the source is).
pub fn person_from(next: &mut dyn FnMut() -> u32) -> Person {
    let mut pick = |n: usize| usize::try_from(next()).unwrap_or(0) % n;
    let region = REGION_CODES[pick(REGION_CODES.len())];
    let year = 1960 + pick(40);
    let month = 1 + pick(12);
    let day = 1 + pick(28);
    let sequence = pick(1000);
    let first17 = format!("{region}{year:04}{month:02}{day:02}{sequence:03}");
    let mut digits = [0u8; 17];
    digits.copy_from_slice(first17.as_bytes());
    let id_number = format!("{first17}{}", validate::id_check_char(&digits));
    let prefix = 3 + pick(7);
    let mut phone = format!("1{prefix}");
    for _ in 0..9 {
        phone.push(char::from(b'0' + u8::try_from(pick(10)).unwrap_or(0)));
    }
    let mut name = SURNAMES[pick(SURNAMES.len())].to_owned();
    for _ in 0..1 + pick(2) {
        name.push_str(GIVEN[pick(GIVEN.len())]);
    }
    Person {
        name,
        id_number,
        phone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use deedlog_client::deal::{
        PropertyFacts, Publisher, document_hash, listing_payload, lump_sum_terms, new_id,
    };
    use deedlog_domain::ids::IdKind;

    fn reference_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ledger-data/reference")
    }

    #[test]
    fn generated_people_pass_the_validators() {
        for _ in 0..200 {
            let p = generate_person();
            validate::resident_id("id", &p.id_number).unwrap();
            validate::mobile("phone", &p.phone).unwrap();
            validate::text("name", &p.name, 1, 40, false).unwrap();
        }
    }

    #[test]
    fn reference_files_load_with_loader_ids() {
        let dir = reference_dir();
        let people = citizens(&dir).unwrap();
        assert!(people.len() >= 10);
        let props = properties(&dir).unwrap();
        assert_eq!(props[0].id, "property/PR-0001");
        assert!(props.iter().filter(|p| p.is_simple_sale()).count() > 100);
        // Some citizens own a property, as the README promises.
        let owners = props
            .iter()
            .flat_map(RegistryProperty::owners)
            .filter(|o| people.iter().any(|c| c.id_number == o.id_number))
            .count();
        assert!(owners > 0);
        assert!(citizens(Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn payloads_follow_the_registry_and_encode_canonically() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ledger-data/reference");
        let props = properties(&dir).unwrap();
        let mortgaged = props.iter().find(|p| p.record.mortgage.is_some()).unwrap();
        let facts = PropertyFacts::from(mortgaged);
        assert!(
            facts
                .mortgage
                .as_ref()
                .unwrap()
                .bank
                .starts_with("bank/BK-")
        );
        let t = lump_sum_terms(&facts, "party/PA-1", "party/PA-2", None, 100_000_000, 1_000);
        assert!(t.title.discharge_before_transfer);
        assert_eq!(document_hash(&t).unwrap().len(), 64);
        let p = listing_payload(
            &facts,
            &Publisher::Seller {
                verification: "verification/PV-1",
                via_proxy: None,
            },
            100_000_000,
            "title",
        );
        let v = serde_json::to_value(&p).unwrap();
        assert!(deedlog_core::canonical::encode(&v).is_ok());
        assert!(v.get("entrustment").is_none());
        assert!(new_id(IdKind::Listing).starts_with("listing/LS-"));
    }
}
