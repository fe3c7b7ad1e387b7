//! Turns the reference data under `ledger-data/reference/` (the property registry, agencies and
//! agents, banks, filing offices) into the authority commands that put it on the log.
//!
//! Pure: the caller reads the files, supplies a [`Committer`] (the vault, which owns the
//! per-subject secrets) and the authorities' public keys, then signs and submits the commands in
//! the order returned (banks, offices, agencies and their agents, properties). Ids, nonces and
//! payloads are deterministic, so loading the same files twice yields the same commands.
//!
//! Personal data (names, ID numbers, phones of owners and agents) is validated here and turned
//! into commitments at once; none of it appears in a command.

use serde::Deserialize;
use serde_json::json;

use deedlog_core::Command;

use crate::ids;
use crate::payload::{
    AgencyCertify, AgentCertify, BankRegister, Mortgage, OfficeRegister, Owner, PropertyRegister,
    Seizure,
};
use crate::validate::{self, ValidationError};

/// A person in the reference files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Name.
    pub name: String,
    /// Resident ID number.
    pub id_number: String,
    /// Mobile number.
    pub phone: String,
}

/// An owner on a property record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRecord {
    /// Name.
    pub name: String,
    /// Resident ID number.
    pub id_number: String,
    /// Mobile number.
    pub phone: String,
    /// Share in percent.
    pub share_percent: u8,
}

/// A mortgage on a property record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MortgageRecord {
    /// `BK-…` of `banks.json`.
    pub bank_id: String,
    /// Secured amount in fen.
    pub amount_fen: u64,
}

/// One record of `properties.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyRecord {
    /// Certificate number.
    pub certificate_no: String,
    /// District.
    pub district: String,
    /// Community.
    pub community: String,
    /// Address.
    pub address: String,
    /// Area in 0.01 m².
    pub area_centi_m2: u64,
    /// Bedrooms.
    pub rooms: u8,
    /// Living rooms.
    pub halls: u8,
    /// Bathrooms.
    pub bathrooms: u8,
    /// Floor.
    pub floor: i16,
    /// Floors in the building.
    pub floors_total: u16,
    /// Year built.
    pub built_year: u16,
    /// Usage.
    pub usage: String,
    /// Owners.
    pub owners: Vec<OwnerRecord>,
    /// Mortgage.
    pub mortgage: Option<MortgageRecord>,
    /// Seizure.
    pub seizure: Option<Seizure>,
}

/// An agent in `agencies.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRecord {
    /// `AT-…`.
    pub agent_id: String,
    /// Name.
    pub name: String,
    /// Resident ID number.
    pub id_number: String,
    /// Mobile number.
    pub phone: String,
    /// Licence number.
    pub licence_no: String,
}

/// One record of `agencies.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyRecord {
    /// `AG-…`.
    pub agency_id: String,
    /// Name.
    pub name: String,
    /// Licence number.
    pub licence_no: String,
    /// District.
    pub district: String,
    /// Address.
    pub address: String,
    /// Its agents.
    pub agents: Vec<AgentRecord>,
}

/// One record of `banks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankRecord {
    /// `BK-…`.
    pub bank_id: String,
    /// Name.
    pub name: String,
    /// Branch.
    pub branch: String,
}

/// One record of `offices.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeRecord {
    /// `OF-…`.
    pub office_id: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Address.
    pub address: String,
    /// Opening hours.
    pub hours: String,
    /// Public phone line.
    pub phone: String,
}

/// All reference data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceData {
    /// `properties.json`.
    pub properties: Vec<PropertyRecord>,
    /// `agencies.json`.
    pub agencies: Vec<AgencyRecord>,
    /// `banks.json`.
    pub banks: Vec<BankRecord>,
    /// `offices.json`.
    pub offices: Vec<OfficeRecord>,
}

/// Why reference data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// A file does not parse.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: &'static str,
        /// serde's message.
        message: String,
    },
    /// A field of a record is invalid.
    #[error("{record}: {error}")]
    Invalid {
        /// Which record, e.g. `properties[3]`.
        record: String,
        /// What is wrong.
        error: ValidationError,
    },
    /// An id is not of the expected form.
    #[error("{record}: id `{id}` is not of the form {pattern}")]
    BadId {
        /// Which record.
        record: String,
        /// The id.
        id: String,
        /// The expected form.
        pattern: String,
    },
    /// The committer returned something that is not 64 lower-case hex digits.
    #[error("{record}: the committer returned a malformed commitment")]
    BadCommitment {
        /// Which record.
        record: String,
    },
}

impl ReferenceData {
    /// Parses the four files' contents.
    ///
    /// # Errors
    /// [`ReferenceError::Parse`] naming the file.
    pub fn from_json(
        properties: &str,
        agencies: &str,
        banks: &str,
        offices: &str,
    ) -> Result<Self, ReferenceError> {
        fn parse<T: for<'de> Deserialize<'de>>(
            file: &'static str,
            text: &str,
        ) -> Result<Vec<T>, ReferenceError> {
            serde_json::from_str(text).map_err(|e| ReferenceError::Parse {
                file,
                message: e.to_string(),
            })
        }
        Ok(Self {
            properties: parse("properties.json", properties)?,
            agencies: parse("agencies.json", agencies)?,
            banks: parse("banks.json", banks)?,
            offices: parse("offices.json", offices)?,
        })
    }
}

/// Which personal field a commitment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalField {
    /// The legal name.
    Name,
    /// The resident ID number.
    IdNumber,
    /// The mobile number.
    Phone,
}

impl PersonalField {
    /// The field's name as the vault knows it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::IdNumber => "id_number",
            Self::Phone => "phone",
        }
    }
}

/// Makes commitments: HMAC-SHA-256 (64 lower-case hex digits) of a person's field under the
/// secret of the subject, who is identified by their resident ID number. Implemented by the
/// vault; any `Fn(&str, PersonalField, &str) -> String` works too.
pub trait Committer {
    /// The commitment to `value`, the `field` of the person with ID number `subject_id_number`.
    fn commit(&self, subject_id_number: &str, field: PersonalField, value: &str) -> String;
}

impl<F: Fn(&str, PersonalField, &str) -> String> Committer for F {
    fn commit(&self, subject_id_number: &str, field: PersonalField, value: &str) -> String {
        self(subject_id_number, field, value)
    }
}

/// The authorities' public keys (base64) put in the commands' `key` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityKeys {
    /// `authority/housing`.
    pub housing: String,
    /// `authority/registry`.
    pub registry: String,
}

/// Commitments of one person.
struct Committed {
    name: String,
    id: String,
    phone: String,
}

fn person(
    committer: &dyn Committer,
    record: &str,
    name: &str,
    id_number: &str,
    phone: &str,
) -> Result<Committed, ReferenceError> {
    let invalid = |error| ReferenceError::Invalid {
        record: record.to_owned(),
        error,
    };
    let id = validate::resident_id("id_number", id_number).map_err(invalid)?;
    let phone = validate::mobile("phone", phone).map_err(invalid)?;
    validate::text("name", name, 1, 40, false).map_err(invalid)?;
    let commit = |field, value: &str| {
        let c = committer.commit(&id.number, field, value);
        validate::hex64("commitment", &c)
            .map(|()| c)
            .map_err(|_| ReferenceError::BadCommitment {
                record: record.to_owned(),
            })
    };
    Ok(Committed {
        name: commit(PersonalField::Name, name)?,
        id: commit(PersonalField::IdNumber, &id.number)?,
        phone: commit(PersonalField::Phone, &phone)?,
    })
}

fn id(record: &str, kind: ids::IdKind, raw: &str) -> Result<String, ReferenceError> {
    let full = format!("{}/{raw}", kind.shape().map_or("", |(k, _)| k));
    if kind.matches(&full) {
        Ok(full)
    } else {
        Err(ReferenceError::BadId {
            record: record.to_owned(),
            id: raw.to_owned(),
            pattern: kind.pattern(),
        })
    }
}

fn command(
    actor: &str,
    key: &str,
    kind: &str,
    stream: &str,
    payload: serde_json::Value,
    issued_at_ms: i64,
) -> Command {
    // Nonces: "ref-" and the stream with '/' replaced, e.g. ref-property-PR-0001 (≤ 64 chars).
    let nonce: String = format!("ref-{}", stream.replace('/', "-"))
        .chars()
        .take(64)
        .collect();
    Command {
        actor: actor.to_owned(),
        key: key.to_owned(),
        kind: kind.to_owned(),
        stream: stream.to_owned(),
        expected_version: Some(0),
        payload,
        nonce,
        issued_at_ms,
    }
}

/// The unsigned authority commands that load `data`: `bank.register` and `office.register`
/// (housing), `agency.certify` then `agent.certify` for each of its agents (housing), and
/// `property.register` (registry) with stream `property/PR-NNNN` numbered from 1 in file order.
/// Every command creates its stream (`expected_version: 0`).
///
/// # Errors
/// The first invalid record.
pub fn commands(
    data: &ReferenceData,
    committer: &dyn Committer,
    keys: &AuthorityKeys,
    issued_at_ms: i64,
) -> Result<Vec<Command>, ReferenceError> {
    use ids::IdKind as K;
    let mut out = Vec::new();
    for (i, b) in data.banks.iter().enumerate() {
        let stream = id(&format!("banks[{i}]"), K::Bank, &b.bank_id)?;
        let p = BankRegister {
            name: b.name.clone(),
            branch: b.branch.clone(),
            key: None,
        };
        out.push(command(
            ids::HOUSING,
            &keys.housing,
            "bank.register",
            &stream,
            to_value(&p),
            issued_at_ms,
        ));
    }
    for (i, o) in data.offices.iter().enumerate() {
        let stream = id(&format!("offices[{i}]"), K::Office, &o.office_id)?;
        let p = OfficeRegister {
            name: o.name.clone(),
            district: o.district.clone(),
            address: o.address.clone(),
            hours: o.hours.clone(),
            phone: o.phone.clone(),
            key: None,
        };
        out.push(command(
            ids::HOUSING,
            &keys.housing,
            "office.register",
            &stream,
            to_value(&p),
            issued_at_ms,
        ));
    }
    for (i, a) in data.agencies.iter().enumerate() {
        let record = format!("agencies[{i}]");
        let agency = id(&record, K::Agency, &a.agency_id)?;
        let p = AgencyCertify {
            name: a.name.clone(),
            licence_no: a.licence_no.clone(),
            district: a.district.clone(),
            address: a.address.clone(),
        };
        out.push(command(
            ids::HOUSING,
            &keys.housing,
            "agency.certify",
            &agency,
            to_value(&p),
            issued_at_ms,
        ));
        for (j, t) in a.agents.iter().enumerate() {
            let record = format!("{record}.agents[{j}]");
            let stream = id(&record, K::Agent, &t.agent_id)?;
            let c = person(committer, &record, &t.name, &t.id_number, &t.phone)?;
            let p = AgentCertify {
                agency: agency.clone(),
                licence_no: t.licence_no.clone(),
                name_commitment: c.name,
                id_commitment: c.id,
                phone_commitment: c.phone,
                key: None,
            };
            out.push(command(
                ids::HOUSING,
                &keys.housing,
                "agent.certify",
                &stream,
                to_value(&p),
                issued_at_ms,
            ));
        }
    }
    for (i, r) in data.properties.iter().enumerate() {
        let record = format!("properties[{i}]");
        let cert =
            validate::certificate_no("certificate_no", &r.certificate_no).map_err(|error| {
                ReferenceError::Invalid {
                    record: record.clone(),
                    error,
                }
            })?;
        let mut owners = Vec::with_capacity(r.owners.len());
        for (j, o) in r.owners.iter().enumerate() {
            let c = person(
                committer,
                &format!("{record}.owners[{j}]"),
                &o.name,
                &o.id_number,
                &o.phone,
            )?;
            owners.push(Owner {
                name_commitment: c.name,
                id_commitment: c.id,
                share_percent: o.share_percent,
            });
        }
        let mortgage = match &r.mortgage {
            Some(m) => Some(Mortgage {
                bank: id(&record, K::Bank, &m.bank_id)?,
                amount_fen: m.amount_fen,
            }),
            None => None,
        };
        let p = PropertyRegister {
            certificate_no: cert.normal,
            district: r.district.clone(),
            community: r.community.clone(),
            address: r.address.clone(),
            area_centi_m2: r.area_centi_m2,
            rooms: r.rooms,
            halls: r.halls,
            bathrooms: r.bathrooms,
            floor: r.floor,
            floors_total: r.floors_total,
            built_year: r.built_year,
            usage: r.usage.clone(),
            owners,
            mortgage,
            seizure: r.seizure.clone(),
        };
        let stream = format!("property/PR-{:04}", i + 1);
        out.push(command(
            ids::REGISTRY,
            &keys.registry,
            "property.register",
            &stream,
            to_value(&p),
            issued_at_ms,
        ));
    }
    Ok(out)
}

/// A payload struct as JSON. Payload structs hold only strings, integers, booleans, lists and
/// options, which always serialize.
fn to_value<T: serde::Serialize>(p: &T) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or_else(|_| json!({}))
}
