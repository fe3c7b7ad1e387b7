//! The identity flows over HTTP: registration with a proven phone, real-name verification with
//! a code sent to the phone on file, and an office's in-person check. The SMS codes are read
//! from the server's outbox ([`Outbox`]), as an operator would; a real deployment sends them
//! by SMS and the person types them in.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use deedlog_domain::reference::Person;

use crate::actor::Actor;
use crate::client::{Client, Receipt};
use crate::error::ClientError;

/// The SMS outbox of a server's data folder (`DATA/outbox/sms.jsonl`): one JSON line per code,
/// `{"challenge","to","code","purpose","sent_at_ms"}`. Only the operator can read it (mode
/// 0600); the demo and the tests run as the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    path: PathBuf,
}

impl Outbox {
    /// The outbox file at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The outbox of the data folder `data_dir`.
    #[must_use]
    pub fn of_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join("outbox").join("sms.jsonl"))
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The code sent for `challenge`, if the outbox has it now.
    #[must_use]
    pub fn code_now(&self, challenge: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        text.lines().rev().find_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            if v.get("challenge")?.as_str()? == challenge {
                v.get("code")?.as_str().map(str::to_owned)
            } else {
                None
            }
        })
    }

    /// The code sent for `challenge`, waiting up to 5 s for the line to appear.
    ///
    /// # Errors
    /// [`ClientError::Limit`] when no code came (for example, a name and ID number that are not
    /// on the register get no SMS).
    pub fn code(&self, challenge: &str) -> Result<String, ClientError> {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(code) = self.code_now(challenge) {
                return Ok(code);
            }
            if Instant::now() >= until {
                return Err(ClientError::Limit(format!(
                    "no SMS code for {challenge} in {}",
                    self.path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn field(path: &str, v: &Value, name: &str) -> Result<String, ClientError> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ClientError::BadResponse {
            path: path.to_owned(),
            reason: format!("no {name}"),
        })
}

fn with_after(path: &str, after_seq: Option<u64>) -> String {
    match after_seq {
        Some(seq) => format!("{path}?after_seq={seq}"),
        None => path.to_owned(),
    }
}

/// Runs a challenge-and-code flow again (at most 3 times in all) when the server forgot the
/// challenge: challenges live in the server's memory, so a restart between the two steps loses
/// them, and the cure is a new code.
fn again_if_forgotten<T>(
    mut flow: impl FnMut() -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match flow() {
            Err(e) if e.is("identity.challenge_invalid") && tries < 3 => {}
            other => return other,
        }
    }
}

impl Client {
    /// `POST /v1/identity/phone/challenge`: asks for an SMS code to `phone`; returns the
    /// challenge id.
    ///
    /// # Errors
    /// `400 identity.invalid`, `429 rate.limited`, transport errors.
    pub fn phone_challenge(&self, phone: &str) -> Result<String, ClientError> {
        let path = "/v1/identity/phone/challenge";
        let v = self.http().post_json(path, &json!({ "phone": phone }))?;
        field(path, &v, "challenge")
    }

    /// `POST /v1/identity/phone/voucher`: the `party.register` payload
    /// (`{phone_commitment, voucher}`) for `party` with its key, after proving the code.
    ///
    /// # Errors
    /// `422 identity.code_wrong`, `422 identity.challenge_invalid`, `409 party.phone_taken`.
    pub fn phone_voucher(
        &self,
        party: &Actor,
        challenge: &str,
        code: &str,
    ) -> Result<Value, ClientError> {
        let path = "/v1/identity/phone/voucher";
        self.http().post_json(
            path,
            &json!({ "challenge": challenge, "code": code, "party": party.id, "key": party.key() }),
        )
    }

    /// Registers `party` with `phone`: a code to the phone (read from `outbox`), the voucher,
    /// then the self-signed `party.register`.
    ///
    /// # Errors
    /// `409 party.phone_taken`, `409 stream.exists` (already registered), and as
    /// [`Client::submit`].
    pub fn register_party(
        &self,
        party: &Actor,
        phone: &str,
        outbox: &Outbox,
    ) -> Result<Receipt, ClientError> {
        let payload = again_if_forgotten(|| {
            let challenge = self.phone_challenge(phone)?;
            let code = outbox.code(&challenge)?;
            self.phone_voucher(party, &challenge, &code)
        })?;
        self.submit(party, "party.register", &party.id, &payload, Some(0))
    }

    /// `POST /v1/identity/realname/challenge` (signed by `party`): a code to the phone on file
    /// for this name and ID number, if they match the register (the answer is the same either
    /// way); with `after_seq`, the server first waits for its views to know the party.
    ///
    /// # Errors
    /// `400 identity.invalid`, `429 rate.limited`, `401 request.*`.
    pub fn realname_challenge(
        &self,
        party: &Actor,
        name: &str,
        id_number: &str,
        after_seq: Option<u64>,
    ) -> Result<String, ClientError> {
        let path = with_after("/v1/identity/realname/challenge", after_seq);
        let v = self.signed_post(
            party,
            &path,
            &json!({ "name": name, "id_number": id_number }),
        )?;
        field(&path, &v, "challenge")
    }

    /// `POST /v1/identity/realname/attest` (signed by `party`): the identity authority's
    /// `party.attest_identity` after the code is proven.
    ///
    /// # Errors
    /// `422 identity.code_wrong`, `422 identity.challenge_invalid`, `409 party.id_taken`,
    /// `409 party.already_verified`, `503 ledger.busy`.
    pub fn realname_attest(
        &self,
        party: &Actor,
        challenge: &str,
        code: &str,
    ) -> Result<Receipt, ClientError> {
        let path = "/v1/identity/realname/attest";
        let v = self.signed_post(
            party,
            path,
            &json!({ "challenge": challenge, "code": code }),
        )?;
        serde_json::from_value(v).map_err(|e| ClientError::BadResponse {
            path: path.to_owned(),
            reason: format!("not a receipt: {e}"),
        })
    }

    /// Real-name verification of `party` as `person`, online: the code goes to the phone on
    /// file for the person's ID number and is read from `outbox`.
    ///
    /// # Errors
    /// [`ClientError::Limit`] when no code came (the name and ID number are not on the
    /// register), and as [`Client::realname_attest`].
    pub fn attest_identity(
        &self,
        party: &Actor,
        person: &Person,
        outbox: &Outbox,
        after_seq: Option<u64>,
    ) -> Result<Receipt, ClientError> {
        again_if_forgotten(|| {
            let challenge =
                self.realname_challenge(party, &person.name, &person.id_number, after_seq)?;
            let code = outbox.code(&challenge)?;
            self.realname_attest(party, &challenge, &code)
        })
    }

    /// `POST /v1/identity/office/commitments` (signed by an office): the commitments of the
    /// name and ID number the office checked on the card, to sign `party.attest_identity` with
    /// (or to verify a proxy's principal).
    ///
    /// # Errors
    /// `403 request.forbidden` (not an office), `422 identity.not_on_register`.
    pub fn office_commitments(
        &self,
        office: &Actor,
        party: &str,
        person: &Person,
    ) -> Result<Value, ClientError> {
        let path = "/v1/identity/office/commitments";
        self.signed_post(
            office,
            path,
            &json!({ "party": party, "name": person.name, "id_number": person.id_number }),
        )
    }

    /// The in-person attestation by `office`: the commitments, then its own signed
    /// `party.attest_identity` (method `office`) submitted through
    /// `POST /v1/identity/office/attest`.
    ///
    /// # Errors
    /// As [`Client::office_commitments`], and the domain's rejection.
    pub fn attest_in_person(
        &self,
        office: &Actor,
        party: &str,
        person: &Person,
    ) -> Result<Receipt, ClientError> {
        let c = self.office_commitments(office, party, person)?;
        let path = "/v1/identity/office/attest";
        let payload = json!({
            "name_commitment": field(path, &c, "name_commitment")?,
            "id_commitment": field(path, &c, "id_commitment")?,
            "method": "office",
        });
        let signed = office.sign("party.attest_identity", party, payload, None)?;
        let v = self.http().post_json(
            path,
            &serde_json::to_value(&signed).map_err(|e| ClientError::BadResponse {
                path: path.to_owned(),
                reason: e.to_string(),
            })?,
        )?;
        serde_json::from_value(v).map_err(|e| ClientError::BadResponse {
            path: path.to_owned(),
            reason: format!("not a receipt: {e}"),
        })
    }
}
