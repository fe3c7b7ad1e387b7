//! The embedded identity authority: a stand-in provider on the contract a real one plugs into
//! (see `docs/PRIVACY.md`, "The identity authority").
//!
//! It issues two things, each only after the person proved control of something:
//!
//! - a **phone voucher** for `party.register` (see [`deedlog_domain::identity`]), after the
//!   registrant typed the code of an SMS sent to that phone;
//! - a **real-name attestation** (`party.attest_identity`, method `online_face`), after the party
//!   typed the code of an SMS sent to the phone *on file in the population register* for the ID
//!   number it claims. Knowing someone's name and ID number is not enough: the code goes to
//!   their phone, not to the caller's.
//!
//! Filing offices attest in person (method `office`): they ask for the commitments of the name
//! and ID number they read off the physical card (checked against the register), sign the
//! attestation themselves, and submit it here so that the vault is written after it commits.
//!
//! Invariants:
//! - the SMS code never leaves the node except through the outbox
//!   (`DATA/outbox/sms.jsonl`, mode 0600, read only by the operator or an SMS gateway);
//! - challenges and rate counters live in bounded memory; nothing durable is written before a
//!   code is proven (the phone subject, and the ID subject whose secret the commitments need,
//!   are created only then);
//! - wrong codes are counted per person (ID number, or phone number) and per client address
//!   over a day, whichever challenge they were typed into: past either cap no code is checked
//!   online for that person or from that address, so guessing across many challenges (one
//!   person's or many people's) gets no further than the caps. The filing offices' signed
//!   requests are counted only per office, so the clerk's in-person path stays open;
//! - a stranger asking for someone's codes uses up only the stranger's allowance: the
//!   per-number counts of new codes are per (number, client address);
//! - the vault's fields and links are written only after the attestation is committed, with
//!   values from the register, never from the request;
//! - answers to challenge requests do not depend on whether the number is registered or the
//!   name matches the ID (no oracle).

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

use deedlog_core::SignedCommand;
use deedlog_domain::ids::{self, IdKind};
use deedlog_domain::payload::{IdentityMethod, PhoneVoucher};
use deedlog_domain::reference::Person;
use deedlog_domain::validate;
use deedlog_store::{Receipt, Rejection};
use deedlog_vault::SubjectId;

use crate::{Node, NodeError};

/// The population register's file in the reference folder.
pub const POPULATION_FILE: &str = "population.json";
/// The SMS outbox, under the data folder.
pub const OUTBOX_FILE: &str = "outbox/sms.jsonl";
/// The phone-commitment → phone-subject map, under the data folder.
const PHONE_SUBJECTS_FILE: &str = "identity/phone-subjects.jsonl";
/// Largest population register read.
const POPULATION_BYTES_MAX: u64 = 64 << 20;
/// Digits of an SMS code.
pub const CODE_DIGITS: usize = 6;

/// The identity authority's tunables; every input it keeps is bounded by one of these.
#[derive(Debug, Clone)]
pub struct IdentityLimits {
    /// How long a code is valid, ms.
    pub code_ttl_ms: i64,
    /// Wrong codes accepted per challenge before it is void.
    pub tries_max: u32,
    /// The window of the rate limits, ms.
    pub window_ms: i64,
    /// Challenges per phone number (or per ID number) per window, from one client address.
    pub per_number_max: u32,
    /// Codes sent to one person per window from every client address together (by phone
    /// number for registration, by ID number for the codes sent to the phone on file): bounds
    /// how many messages strangers can have sent to someone's phone, however many addresses
    /// they use.
    pub sms_per_person_max: u32,
    /// Challenges per party per window.
    pub per_party_max: u32,
    /// Challenges per client address per window.
    pub per_client_max: u32,
    /// Challenges held at once (all kinds).
    pub challenges_max: usize,
    /// Rate counters held at once.
    pub counters_max: usize,
    /// How far back wrong codes are counted, ms.
    pub wrong_horizon_ms: i64,
    /// Wrong codes per person (an ID number, for recovery and real-name checks together; or a
    /// phone number) within the horizon; past it no code is sent or checked online for that
    /// person until the oldest of them is older than the horizon.
    pub wrong_per_target_max: u32,
    /// Wrong codes per client address within the horizon, whoever they were for.
    pub wrong_per_client_max: u32,
    /// Wrong-code records (people and client addresses) held at once.
    pub wrong_records_max: usize,
    /// Office checks waiting for their attestation, at once.
    pub office_pending_max: usize,
    /// How long an office check waits for its attestation, ms.
    pub office_pending_ttl_ms: i64,
}

impl Default for IdentityLimits {
    fn default() -> Self {
        Self {
            code_ttl_ms: 5 * 60 * 1000,
            tries_max: 3,
            window_ms: 10 * 60 * 1000,
            per_number_max: 3,
            sms_per_person_max: 10,
            per_party_max: 5,
            // Enough for a demo of some dozens of deals from one machine; a deployment behind
            // a proxy sets it from the number of clients it expects per address.
            per_client_max: 600,
            challenges_max: 10_000,
            counters_max: 50_000,
            wrong_horizon_ms: 24 * 60 * 60 * 1000,
            wrong_per_target_max: 10,
            wrong_per_client_max: 30,
            wrong_records_max: 50_000,
            office_pending_max: 1_000,
            office_pending_ttl_ms: 30 * 60 * 1000,
        }
    }
}

/// Why the identity authority refused, or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A refusal with its HTTP status and stable code.
    #[error("{code}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The stable code.
        code: &'static str,
        /// For humans.
        message: String,
        /// Machine-readable details (an object).
        details: Value,
        /// Seconds for `Retry-After`.
        retry_after_s: Option<u64>,
    },
    /// The sequencer or the domain refused the attestation (nothing appended).
    #[error("{}: {}", .0.code, .0.message)]
    Rejected(Rejection),
    /// The node failed (vault, views, keys).
    #[error("{0}")]
    Node(#[from] NodeError),
}

impl From<deedlog_vault::VaultError> for IdentityError {
    fn from(e: deedlog_vault::VaultError) -> Self {
        Self::Node(NodeError::Vault(e))
    }
}

impl From<deedlog_views::ViewError> for IdentityError {
    fn from(e: deedlog_views::ViewError) -> Self {
        Self::Node(NodeError::Views(e))
    }
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> IdentityError {
    IdentityError::Refused {
        status,
        code,
        message: message.into(),
        details: json!({}),
        retry_after_s: None,
    }
}

fn invalid(message: impl Into<String>) -> IdentityError {
    refused(400, "identity.invalid", message)
}

/// The checks both recovery routes make of what the person (or the clerk) typed: the name
/// (NFC, 1-40 characters), the ID number and the new device's key (standard padded base64 of a
/// valid public key), all bounded before parsing. Returns the name and the ID number in normal
/// form.
fn recovery_input(
    name: &str,
    id_number: &str,
    key: &str,
) -> Result<(String, String), IdentityError> {
    if id_number.len() > 32 || name.len() > 200 || key.len() > 64 {
        return Err(invalid("name, id_number or key too long"));
    }
    let parsed =
        deedlog_core::PublicKey::from_base64(key).map_err(|e| invalid(format!("key: {e}")))?;
    if parsed.to_base64() != key {
        return Err(invalid("key must be standard padded base64"));
    }
    person_input(name, id_number)
}

/// The checks every route makes of a person's name and ID number as typed: both bounded before
/// parsing, the ID number a valid resident ID, the name NFC and 1-40 characters. Returns the name
/// and the ID number in normal form.
fn person_input(name: &str, id_number: &str) -> Result<(String, String), IdentityError> {
    if id_number.len() > 32 || name.len() > 200 {
        return Err(invalid("name or id_number too long"));
    }
    let number = validate::resident_id("id_number", id_number)
        .map_err(|e| invalid(e.to_string()))?
        .number;
    let name = validate::nfc(name.trim());
    validate::text("name", &name, 1, 40, false).map_err(|e| invalid(e.to_string()))?;
    Ok((name, number))
}

fn limited(what: &str, retry_after_s: u64) -> IdentityError {
    IdentityError::Refused {
        status: 429,
        code: "rate.limited",
        message: format!("too many codes requested for this {what}; wait and try again"),
        details: json!({ "retry_after_ms": retry_after_s.saturating_mul(1000) }),
        retry_after_s: Some(retry_after_s.max(1)),
    }
}

/// A span of time in words: whole hours from two hours on, else whole minutes (rounded up).
fn span_words(ms: i64) -> String {
    let minutes = (ms.max(0) + 59_999) / 60_000;
    if minutes >= 120 {
        format!("{} hours", (minutes + 59) / 60)
    } else if minutes == 1 {
        "1 minute".to_owned()
    } else {
        format!("{minutes} minutes")
    }
}

/// Whose wrong codes a cap counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// One person's ID number (recovery and real-name checks).
    IdNumber,
    /// One phone number (registration).
    Phone,
    /// One client address, whoever the codes were for.
    Client,
}

/// The refusal past a wrong-code cap: for how long, and where else to go.
fn too_many_wrong(scope: Scope, horizon_ms: i64, wait_ms: i64) -> IdentityError {
    let (name, message) = match scope {
        Scope::IdNumber => (
            "id_number",
            format!(
                "too many wrong codes were typed for this ID number in the last {}, so no \
                 code is sent or checked online for it for {}. To replace a lost device or \
                 verify your real name sooner, take your ID card to a filing office",
                span_words(horizon_ms),
                span_words(wait_ms)
            ),
        ),
        Scope::Phone => (
            "phone",
            format!(
                "too many wrong codes were typed for this phone number in the last {}, so no \
                 code is sent or checked for it for {}; please try again after that",
                span_words(horizon_ms),
                span_words(wait_ms)
            ),
        ),
        Scope::Client => (
            "client",
            format!(
                "too many wrong codes were typed from this network address in the last {}, so \
                 no code is sent or checked from it for {}. A filing office can verify your \
                 real name or replace a lost device in person",
                span_words(horizon_ms),
                span_words(wait_ms)
            ),
        ),
    };
    IdentityError::Refused {
        status: 429,
        code: "identity.too_many_wrong_codes",
        message,
        details: json!({ "scope": name, "retry_after_ms": wait_ms }),
        retry_after_s: Some(u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1)),
    }
}

fn challenge_invalid() -> IdentityError {
    refused(
        422,
        "identity.challenge_invalid",
        "this challenge is unknown, expired, used, or not yours; ask for a new code",
    )
}

/// A challenge as answered: the same shape whatever was behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    /// `ch-` + 32 lower-case hex digits.
    pub challenge: String,
    /// Seconds until the code expires.
    pub expires_in_s: u64,
}

/// A proven phone: the commitment and the voucher to put in `party.register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voucher {
    /// The commitment to the phone, as the log will hold it.
    pub phone_commitment: String,
    /// The identity authority's voucher.
    pub voucher: PhoneVoucher,
}

/// What an office gets for the name and ID number it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeCommitments {
    /// The party to attest.
    pub party: String,
    /// Commitment to the name.
    pub name_commitment: String,
    /// Commitment to the ID number.
    pub id_commitment: String,
    /// Always `office`.
    pub method: IdentityMethod,
}

/// What the housing authority gets for a new agent's name and ID number it checked: the three
/// commitments `agent.certify` carries (the phone is the one on file in the register).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentCommitments {
    /// Commitment to the name.
    pub name_commitment: String,
    /// Commitment to the ID number.
    pub id_commitment: String,
    /// Commitment to the phone on file.
    pub phone_commitment: String,
}

#[derive(Clone)]
struct RegisterEntry {
    name: String,
    phone: String,
}

enum Purpose {
    /// Proves a phone for registration.
    Phone { phone: String },
    /// Proves the phone on file for an ID number, for `party`.
    RealName { party: String, id_number: String },
    /// Proves the phone on file for `id_number`, to bind `key` to the verified party of that
    /// person (a lost or new device). `party` is `None` for a decoy: the person has no live,
    /// verified party, and no code opens the challenge.
    Recover {
        party: Option<String>,
        key: String,
        id_number: String,
    },
}

impl Purpose {
    /// Whose wrong codes a guess at this challenge counts against: the phone number, or the ID
    /// number (one count for recovery and real-name checks, which send a code to the same
    /// phone on file).
    fn target(&self) -> (String, Scope) {
        match self {
            Self::Phone { phone } => (phone_target(phone), Scope::Phone),
            Self::RealName { id_number, .. } | Self::Recover { id_number, .. } => {
                (id_target(id_number), Scope::IdNumber)
            }
        }
    }
}

/// The wrong-code record of a phone number.
fn phone_target(phone: &str) -> String {
    format!("phone\n{phone}")
}

/// The wrong-code record of an ID number.
fn id_target(number: &str) -> String {
    format!("id\n{number}")
}

/// The wrong-code record of a client address.
fn client_target(client: &str) -> String {
    format!("client\n{client}")
}

/// A recovery whose code was proven: the key may now be bound, once, before it expires.
struct Recovered {
    party: String,
    key: String,
    expires_at_ms: i64,
}

/// What a proven recovery code answers: the party whose key the new device will replace (the
/// device signs its proof of possession for this id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryProven {
    /// The challenge, now proven; `recover/bind` names it.
    pub challenge: String,
    /// The party.
    pub party: String,
}

/// The entries a recovery appended: the old key's revocation (when the party still had one)
/// and the new key's binding.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReceipts {
    /// `key.revoke` of the old key, or `null` when the party had no current key.
    pub revoke: Option<Receipt>,
    /// `key.bind` of the new key.
    pub bind: Receipt,
}

struct Pending {
    purpose: Purpose,
    /// `None` for a decoy: a name/ID that did not match the register gets a challenge no code
    /// opens, so that the answer does not tell whether they matched.
    code: Option<[u8; CODE_DIGITS]>,
    expires_at_ms: i64,
    tries_left: u32,
}

struct OfficeCheck {
    id_number: String,
    expires_at_ms: i64,
}

#[derive(Default)]
struct Memory {
    challenges: HashMap<String, Pending>,
    /// Rate counters of the public routes: key → (window start, count).
    counters: HashMap<String, (i64, u32)>,
    /// Rate counters of the offices and the housing authority, kept apart so that a flood of
    /// public callers never takes their room (their keys are registered actors, a bounded set).
    trusted: HashMap<String, (i64, u32)>,
    /// Wrong codes by person (`id\n…`, `phone\n…`) and by client (`client\n…`): the times of
    /// those within the horizon, oldest first, never more than the cap.
    wrong: HashMap<String, VecDeque<i64>>,
    /// (office, party, id commitment) → the checked ID number.
    office: HashMap<(String, String, String), OfficeCheck>,
    /// Proven recoveries by challenge, waiting for the new key's proof.
    recovered: HashMap<String, Recovered>,
}

/// The embedded identity authority of a node.
pub struct IdentityAuthority {
    register: HashMap<String, RegisterEntry>,
    limits: IdentityLimits,
    outbox: PathBuf,
    phone_subjects_path: PathBuf,
    phone_subjects: Mutex<HashMap<String, SubjectId>>,
    memory: Mutex<Memory>,
    /// Serializes outbox appends so that lines never interleave.
    outbox_lock: Mutex<()>,
}

impl std::fmt::Debug for IdentityAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the register or codes.
        f.debug_struct("IdentityAuthority")
            .field("register_size", &self.register.len())
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves the maps consistent, so a panic elsewhere is harmless.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

/// A uniform 6-digit code from the OS RNG (rejection sampling, so no digit is favoured).
fn random_code() -> [u8; CODE_DIGITS] {
    const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        if n < LIMIT {
            let text = format!("{:06}", n % 1_000_000);
            let mut out = [0u8; CODE_DIGITS];
            out.copy_from_slice(text.as_bytes());
            return out;
        }
    }
}

/// Compares two codes in time independent of where they differ.
fn same_code(a: &[u8; CODE_DIGITS], b: &[u8]) -> bool {
    if b.len() != CODE_DIGITS {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn load_register(path: &Path) -> Result<HashMap<String, RegisterEntry>, NodeError> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                path = %path.display(),
                "no population register: online real-name checks will all fail"
            );
            return Ok(HashMap::new());
        }
        Err(e) => return Err(NodeError::io(path, e)),
    };
    let mut text = String::new();
    file.take(POPULATION_BYTES_MAX)
        .read_to_string(&mut text)
        .map_err(|e| NodeError::io(path, e))?;
    let people: Vec<Person> = serde_json::from_str(&text)
        .map_err(|e| NodeError::Reference(format!("{POPULATION_FILE}: {e}")))?;
    let mut out = HashMap::with_capacity(people.len());
    for (i, p) in people.into_iter().enumerate() {
        let id = validate::resident_id("id_number", &p.id_number)
            .map_err(|e| NodeError::Reference(format!("{POPULATION_FILE}[{i}]: {e}")))?;
        let phone = validate::mobile("phone", &p.phone)
            .map_err(|e| NodeError::Reference(format!("{POPULATION_FILE}[{i}]: {e}")))?;
        out.insert(
            id.number,
            RegisterEntry {
                name: validate::nfc(&p.name),
                phone,
            },
        );
    }
    Ok(out)
}

fn load_phone_subjects(path: &Path) -> Result<HashMap<String, SubjectId>, NodeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(NodeError::io(path, e)),
    };
    let mut out = HashMap::new();
    // A torn last line (a crash mid-append) is skipped: its voucher was never handed out.
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(c), Some(s)) = (
            v.get("phone_commitment").and_then(Value::as_str),
            v.get("subject").and_then(Value::as_str),
        ) && let Ok(subject) = s.parse::<SubjectId>()
        {
            out.insert(c.to_owned(), subject);
        }
    }
    Ok(out)
}

/// Appends one line to a 0600 file (created with its folder, 0700), optionally fsynced.
fn append_private(path: &Path, line: &str, durable: bool) -> Result<(), NodeError> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| NodeError::io(dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| NodeError::io(path, e))?;
    file.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| NodeError::io(path, e))?;
    if durable {
        file.sync_all().map_err(|e| NodeError::io(path, e))?;
    }
    Ok(())
}

impl IdentityAuthority {
    /// The authority of a data folder, with the population register at `population` (none: an
    /// empty register).
    ///
    /// # Errors
    /// A register that does not parse, or an unreadable data folder.
    pub fn open(
        data_dir: &Path,
        population: Option<&Path>,
        limits: IdentityLimits,
    ) -> Result<Self, NodeError> {
        let register = match population {
            Some(p) => load_register(p)?,
            None => HashMap::new(),
        };
        let phone_subjects_path = data_dir.join(PHONE_SUBJECTS_FILE);
        Ok(Self {
            register,
            limits,
            outbox: data_dir.join(OUTBOX_FILE),
            phone_subjects: Mutex::new(load_phone_subjects(&phone_subjects_path)?),
            phone_subjects_path,
            memory: Mutex::new(Memory::default()),
            outbox_lock: Mutex::new(()),
        })
    }

    /// The SMS outbox's path.
    #[must_use]
    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    /// Counts one use of `key` in the current window of a public route; refuses past `max`.
    fn count(
        &self,
        m: &mut Memory,
        now: i64,
        key: String,
        max: u32,
        what: &str,
    ) -> Result<(), IdentityError> {
        let window = self.limits.window_ms;
        if m.counters.len() >= self.limits.counters_max && !m.counters.contains_key(&key) {
            m.counters.retain(|_, (start, _)| now - *start < window);
            if m.counters.len() >= self.limits.counters_max {
                return Err(limited("server (too many callers)", 60));
            }
        }
        bump(&mut m.counters, window, now, key, max, what)
    }

    /// Counts one use by an office or the housing authority (`key` names a registered actor,
    /// checked by the caller); refuses past `max`. The public routes' counters never touch
    /// these.
    fn count_trusted(
        &self,
        m: &mut Memory,
        now: i64,
        key: String,
        max: u32,
        what: &str,
    ) -> Result<(), IdentityError> {
        bump(&mut m.trusted, self.limits.window_ms, now, key, max, what)
    }

    /// Refuses while the wrong codes of `key` within the horizon reached `max`, saying until
    /// when. Drops the times older than the horizon, and the record once it is empty.
    fn check_wrong(
        &self,
        wrong: &mut HashMap<String, VecDeque<i64>>,
        now: i64,
        key: &str,
        max: u32,
        scope: Scope,
    ) -> Result<(), IdentityError> {
        let horizon = self.limits.wrong_horizon_ms;
        let Some(times) = wrong.get_mut(key) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| now - t >= horizon) {
            times.pop_front();
        }
        match times.front() {
            None => {
                wrong.remove(key);
                Ok(())
            }
            Some(oldest) if times.len() >= max as usize => {
                Err(too_many_wrong(scope, horizon, oldest + horizon - now))
            }
            Some(_) => Ok(()),
        }
    }

    /// Refuses a new code, or a code check, while the client address or the person is past its
    /// wrong-code cap.
    fn check_caps(
        &self,
        wrong: &mut HashMap<String, VecDeque<i64>>,
        now: i64,
        client: &str,
        (target, scope): (&str, Scope),
    ) -> Result<(), IdentityError> {
        let limits = &self.limits;
        self.check_wrong(
            wrong,
            now,
            &client_target(client),
            limits.wrong_per_client_max,
            Scope::Client,
        )?;
        self.check_wrong(wrong, now, target, limits.wrong_per_target_max, scope)
    }

    /// Makes sure a wrong code for `keys` could be recorded: when the records are full, those
    /// with no time left within the horizon are dropped; if still full, the check is refused
    /// (a code is never checked without its failure being counted).
    fn room_for_wrong(
        &self,
        wrong: &mut HashMap<String, VecDeque<i64>>,
        now: i64,
        keys: [&str; 2],
    ) -> Result<(), IdentityError> {
        let missing = |w: &HashMap<String, VecDeque<i64>>| {
            keys.iter().filter(|k| !w.contains_key(**k)).count()
        };
        if wrong.len() + missing(wrong) <= self.limits.wrong_records_max {
            return Ok(());
        }
        let horizon = self.limits.wrong_horizon_ms;
        wrong.retain(|_, times| times.back().is_some_and(|t| now - t < horizon));
        if wrong.len() + missing(wrong) <= self.limits.wrong_records_max {
            return Ok(());
        }
        Err(IdentityError::Refused {
            status: 429,
            code: "rate.limited",
            message: "the service is counting too many wrong codes right now; wait a few \
                      minutes and try again, or go to a filing office"
                .into(),
            details: json!({ "retry_after_ms": 60_000 }),
            retry_after_s: Some(60),
        })
    }

    /// Records one wrong code against `key`; returns whether `key` reached `max` with it.
    fn record_wrong(
        wrong: &mut HashMap<String, VecDeque<i64>>,
        now: i64,
        key: String,
        max: u32,
    ) -> bool {
        let times = wrong.entry(key).or_default();
        times.push_back(now);
        while times.len() > max as usize {
            times.pop_front();
        }
        times.len() >= max as usize
    }

    /// Stores a new challenge; returns its answer.
    fn remember(
        &self,
        m: &mut Memory,
        now: i64,
        purpose: Purpose,
        code: Option<[u8; CODE_DIGITS]>,
    ) -> Result<Challenge, IdentityError> {
        if m.challenges.len() >= self.limits.challenges_max {
            m.challenges
                .retain(|_, c| c.expires_at_ms > now && c.tries_left > 0);
            if m.challenges.len() >= self.limits.challenges_max {
                return Err(limited("server (too many open challenges)", 60));
            }
        }
        let id = format!("ch-{}", hex::encode(random_bytes::<16>()));
        m.challenges.insert(
            id.clone(),
            Pending {
                purpose,
                code,
                expires_at_ms: now + self.limits.code_ttl_ms,
                tries_left: self.limits.tries_max,
            },
        );
        Ok(Challenge {
            challenge: id,
            expires_in_s: u64::try_from(self.limits.code_ttl_ms / 1000).unwrap_or(0),
        })
    }

    /// Sends `code` to `phone`: one line in the operator's outbox. The tracing log names the
    /// challenge only, so that codes stay out of log aggregation.
    fn send_sms(
        &self,
        now: i64,
        challenge: &str,
        phone: &str,
        code: &[u8; CODE_DIGITS],
        purpose: &str,
    ) -> Result<(), IdentityError> {
        let line = json!({
            "challenge": challenge,
            "to": phone,
            "code": String::from_utf8_lossy(code),
            "purpose": purpose,
            "sent_at_ms": now,
        })
        .to_string();
        let _guard = lock(&self.outbox_lock);
        // Not fsynced: an SMS lost in a crash is asked for again, and an fsync per request
        // would let one caller stall the disk.
        append_private(&self.outbox, &line, false)?;
        tracing::info!(challenge, purpose, "SMS code queued in the outbox");
        Ok(())
    }

    /// Takes a guess from `client` at `challenge`'s code. On success removes the challenge and
    /// returns its purpose; a wrong code uses one try and counts against the person the
    /// challenge is for and against the client address. No guess is checked while either is
    /// past its cap (`429 identity.too_many_wrong_codes`); the guess that reaches the person's
    /// cap voids the challenge.
    fn prove(
        &self,
        now: i64,
        challenge: &str,
        code: &str,
        owner: Option<&str>,
        client: &str,
    ) -> Result<Purpose, IdentityError> {
        let mut m = lock(&self.memory);
        let Memory {
            challenges, wrong, ..
        } = &mut *m;
        let Some(p) = challenges.get_mut(challenge) else {
            return Err(challenge_invalid());
        };
        let owner_ok = match (&p.purpose, owner) {
            (Purpose::Phone { .. } | Purpose::Recover { .. }, None) => true,
            (Purpose::RealName { party, .. }, Some(o)) => party == o,
            _ => false,
        };
        if !owner_ok || p.expires_at_ms <= now || p.tries_left == 0 {
            return Err(challenge_invalid());
        }
        let (target, scope) = p.purpose.target();
        let client_key = client_target(client);
        self.check_caps(wrong, now, client, (&target, scope))?;
        self.room_for_wrong(wrong, now, [&client_key, &target])?;
        let right = p
            .code
            .as_ref()
            .is_some_and(|c| same_code(c, code.as_bytes()));
        if !right {
            let limits = &self.limits;
            Self::record_wrong(wrong, now, client_key, limits.wrong_per_client_max);
            let capped = Self::record_wrong(wrong, now, target, limits.wrong_per_target_max);
            p.tries_left = if capped { 0 } else { p.tries_left - 1 };
            let left = p.tries_left;
            if left == 0 {
                challenges.remove(challenge);
            }
            return Err(IdentityError::Refused {
                status: 422,
                code: "identity.code_wrong",
                message: "the code is wrong".into(),
                details: json!({ "tries_left": left }),
                retry_after_s: None,
            });
        }
        let Some(p) = challenges.remove(challenge) else {
            return Err(challenge_invalid());
        };
        Ok(p.purpose)
    }
}

/// Counts one use of `key` in `counters`' current window; refuses past `max`.
fn bump(
    counters: &mut HashMap<String, (i64, u32)>,
    window: i64,
    now: i64,
    key: String,
    max: u32,
    what: &str,
) -> Result<(), IdentityError> {
    let entry = counters.entry(key).or_insert((now, 0));
    if now - entry.0 >= window {
        *entry = (now, 0);
    }
    if entry.1 >= max {
        let wait_ms = (entry.0 + window - now).max(1000);
        return Err(limited(what, u64::try_from(wait_ms / 1000).unwrap_or(1)));
    }
    entry.1 += 1;
    Ok(())
}

/// The identity authority's key.
fn authority_key(node: &Node) -> Result<deedlog_core::SecretKey, IdentityError> {
    node.lock_keys().get(ids::IDENTITY).cloned().ok_or_else(|| {
        IdentityError::Node(NodeError::Keys(
            "this node holds no identity authority key".into(),
        ))
    })
}

fn check_party_id(party: &str) -> Result<(), IdentityError> {
    if party.len() > 64 || !IdKind::Party.matches(party) {
        return Err(invalid(format!(
            "`party` must be an id like {}",
            IdKind::Party.pattern()
        )));
    }
    Ok(())
}

fn check_code_shape(challenge: &str, code: &str) -> Result<(), IdentityError> {
    if challenge.len() > 64 || code.len() > 16 {
        return Err(invalid("challenge or code too long"));
    }
    Ok(())
}

impl Node {
    fn identity(&self) -> &IdentityAuthority {
        &self.inner.identity
    }

    /// A party's name as the vault holds it, for the copy of a filed contract that only the
    /// parties download: the party's phone subject, then the subjects linked to it (the ID
    /// subject a real-name attestation linked). `None` when the vault has no name (a party that
    /// never passed real-name verification, or one erased).
    ///
    /// # Errors
    /// Vault and view errors.
    pub fn party_name(&self, party: &str) -> Result<Option<String>, IdentityError> {
        let Some(deedlog_views::Doc::Party(doc)) = self.views().doc(party)? else {
            return Ok(None);
        };
        let Some(subject) = lock(&self.identity().phone_subjects)
            .get(&doc.phone_commitment)
            .copied()
        else {
            return Ok(None);
        };
        let vault = self.vault();
        let mut subjects = vec![subject];
        subjects.extend(vault.links(&subject)?);
        for s in subjects {
            if let Some(name) = vault.get(&s, "name")? {
                return Ok(String::from_utf8(name).ok());
            }
        }
        Ok(None)
    }

    /// The SMS outbox (the operator's; the demo and the tests read codes from it).
    #[must_use]
    pub fn sms_outbox(&self) -> &Path {
        self.identity().outbox()
    }

    /// `POST /v1/identity/phone/challenge`: sends a code to `phone`. The answer is the same
    /// whether or not the number is registered; nothing durable is written but the outbox line.
    ///
    /// # Errors
    /// `400 identity.invalid` (not a mobile number), `429 rate.limited` (per client, per number
    /// from this client), `429 identity.too_many_wrong_codes` (the number's or the client's
    /// wrong codes reached their cap).
    pub fn phone_challenge(&self, phone: &str, client: &str) -> Result<Challenge, IdentityError> {
        if phone.len() > 32 {
            return Err(invalid("phone: too long"));
        }
        let phone = validate::mobile("phone", phone).map_err(|e| invalid(e.to_string()))?;
        let id = self.identity();
        let now = self.now_ms();
        let code = random_code();
        let answer = {
            let mut m = lock(&id.memory);
            id.check_caps(
                &mut m.wrong,
                now,
                client,
                (&phone_target(&phone), Scope::Phone),
            )?;
            id.count(
                &mut m,
                now,
                format!("client\n{client}"),
                id.limits.per_client_max,
                "client address",
            )?;
            id.count(
                &mut m,
                now,
                format!("phone\n{phone}\n{client}"),
                id.limits.per_number_max,
                "phone number",
            )?;
            id.count(
                &mut m,
                now,
                format!("sms\nphone\n{phone}"),
                id.limits.sms_per_person_max,
                "phone number, from every address together",
            )?;
            id.remember(
                &mut m,
                now,
                Purpose::Phone {
                    phone: phone.clone(),
                },
                Some(code),
            )?
        };
        id.send_sms(now, &answer.challenge, &phone, &code, "phone")?;
        Ok(answer)
    }

    /// `POST /v1/identity/phone/voucher`: after the code of a phone challenge is proven, the
    /// phone commitment and the voucher for `party` registering with `key` (blocking: the vault
    /// creates the phone's subject, durably, now and not before).
    ///
    /// # Errors
    /// `400 identity.invalid`, `422 identity.challenge_invalid`, `422 identity.code_wrong`,
    /// `429 identity.too_many_wrong_codes` (the number's or `client`'s wrong codes reached
    /// their cap), `409 party.phone_taken` (told only to whoever proved the code), node errors.
    pub fn phone_voucher(
        &self,
        challenge: &str,
        code: &str,
        party: &str,
        key: &str,
        client: &str,
    ) -> Result<Voucher, IdentityError> {
        check_code_shape(challenge, code)?;
        check_party_id(party)?;
        let parsed =
            deedlog_core::PublicKey::from_base64(key).map_err(|e| invalid(format!("key: {e}")))?;
        if parsed.to_base64() != key {
            return Err(invalid("key must be standard padded base64"));
        }
        let id = self.identity();
        let now = self.now_ms();
        let Purpose::Phone { phone } = id.prove(now, challenge, code, None, client)? else {
            return Err(challenge_invalid());
        };
        let vault = self.vault();
        let subject = vault.subject_by_phone(&phone)?;
        if vault.get(&subject, "phone")?.is_none() {
            vault.put(&subject, "phone", phone.as_bytes())?;
        }
        let commitment = vault.commit(&subject, "phone", &phone)?.to_hex();
        if self.views().party_by_phone(&commitment)?.is_some() {
            return Err(refused(
                409,
                "party.phone_taken",
                "a party already registered with this phone number",
            ));
        }
        {
            let mut map = lock(&id.phone_subjects);
            if map.get(&commitment) != Some(&subject) {
                let line =
                    json!({ "phone_commitment": commitment, "subject": subject.to_string() })
                        .to_string();
                append_private(&id.phone_subjects_path, &line, true)?;
                map.insert(commitment.clone(), subject);
            }
        }
        let secret = authority_key(self)?;
        let voucher =
            deedlog_domain::identity::sign_phone_voucher(&secret, party, key, &commitment, now);
        Ok(Voucher {
            phone_commitment: commitment,
            voucher,
        })
    }

    /// `POST /v1/identity/realname/challenge` (signed by `party`): sends a code to the phone on
    /// file for `id_number` if, and only if, `name` and `id_number` match the population
    /// register; the answer is the same either way.
    ///
    /// # Errors
    /// `400 identity.invalid` (malformed name or ID number), `429 rate.limited` (per client, per
    /// party, per ID number from this client), `429 identity.too_many_wrong_codes`.
    pub fn realname_challenge(
        &self,
        party: &str,
        name: &str,
        id_number: &str,
        client: &str,
    ) -> Result<Challenge, IdentityError> {
        check_party_id(party)?;
        let (name, number) = person_input(name, id_number)?;
        // Telling a party that it is verified already says nothing about anyone else.
        if let Some(deedlog_views::Doc::Party(doc)) = self.views().doc(party)?
            && (doc.verified || doc.erased)
        {
            return Err(refused(
                409,
                "party.already_verified",
                format!("{party} is already verified (or erased)"),
            ));
        }
        let id = self.identity();
        let now = self.now_ms();
        let on_file = id.register.get(&number).filter(|e| e.name == name).cloned();
        let code = on_file.as_ref().map(|_| random_code());
        let answer = {
            let mut m = lock(&id.memory);
            id.check_caps(
                &mut m.wrong,
                now,
                client,
                (&id_target(&number), Scope::IdNumber),
            )?;
            id.count(
                &mut m,
                now,
                format!("client\n{client}"),
                id.limits.per_client_max,
                "client address",
            )?;
            id.count(
                &mut m,
                now,
                format!("party\n{party}"),
                id.limits.per_party_max,
                "party",
            )?;
            id.count(
                &mut m,
                now,
                format!("id\n{number}\n{client}"),
                id.limits.per_number_max,
                "ID number",
            )?;
            id.count(
                &mut m,
                now,
                format!("sms\nid\n{number}"),
                id.limits.sms_per_person_max,
                "person, from every address together",
            )?;
            id.remember(
                &mut m,
                now,
                Purpose::RealName {
                    party: party.to_owned(),
                    id_number: number,
                },
                code,
            )?
        };
        if let (Some(entry), Some(code)) = (on_file, code) {
            id.send_sms(now, &answer.challenge, &entry.phone, &code, "realname")?;
        }
        Ok(answer)
    }

    /// `POST /v1/identity/realname/attest` (signed by `party`): after the code sent to the phone
    /// on file is proven, the identity authority signs `party.attest_identity` (method
    /// `online_face`) and submits it without waiting for room in the queue; once it is
    /// committed, the vault is written.
    ///
    /// # Errors
    /// `422 identity.challenge_invalid`, `422 identity.code_wrong`, `429
    /// identity.too_many_wrong_codes` (the ID number's or `client`'s wrong codes reached their
    /// cap), the domain's rejection (`party.id_taken`, `party.already_verified`…), `503
    /// ledger.busy`, node errors.
    pub async fn realname_attest(
        &self,
        party: &str,
        challenge: &str,
        code: &str,
        client: &str,
    ) -> Result<Receipt, IdentityError> {
        check_code_shape(challenge, code)?;
        let now = self.now_ms();
        let Purpose::RealName {
            party: owner,
            id_number,
        } = self
            .identity()
            .prove(now, challenge, code, Some(party), client)?
        else {
            return Err(challenge_invalid());
        };
        let node = self.clone();
        let command = blocking(move || node.online_attestation(&owner, &id_number)).await?;
        let receipt = self.submit_now(command.0).await?;
        let node = self.clone();
        let (party, id_number) = (party.to_owned(), command.1);
        blocking(move || node.record_attestation(&party, &id_number)).await?;
        Ok(receipt)
    }

    /// The signed online attestation of `party` for the register's person `id_number`
    /// (blocking: the ID subject may be created, since the commitments need its secret).
    fn online_attestation(
        &self,
        party: &str,
        id_number: &str,
    ) -> Result<(SignedCommand, String), IdentityError> {
        let entry = self
            .identity()
            .register
            .get(id_number)
            .cloned()
            .ok_or_else(challenge_invalid)?;
        let (name_commitment, id_commitment) = self.commitments(id_number, &entry.name)?;
        let secret = authority_key(self)?;
        // A fresh nonce: a second attempt is then decided by the domain
        // (`party.already_verified`, `party.id_taken`) rather than answered as a reused nonce.
        let nonce: [u8; 16] = random_bytes();
        let command = crate::sign(
            &secret,
            ids::IDENTITY,
            "party.attest_identity",
            party,
            json!({"name_commitment": name_commitment, "id_commitment": id_commitment, "method": IdentityMethod::OnlineFace}),
            None,
            &format!("attest-{}", hex::encode(nonce)),
            self.now_ms(),
        )?;
        Ok((command, id_number.to_owned()))
    }

    fn commitments(&self, id_number: &str, name: &str) -> Result<(String, String), IdentityError> {
        let vault = self.vault();
        let subject = vault.subject_by_id_number(id_number)?;
        Ok((
            vault.commit(&subject, "name", name)?.to_hex(),
            vault.commit(&subject, "id_number", id_number)?.to_hex(),
        ))
    }

    /// Submits without blocking on a full queue: `503 ledger.busy` instead.
    async fn submit_now(&self, command: SignedCommand) -> Result<Receipt, IdentityError> {
        let rx = self
            .handle()
            .try_enqueue(command)
            .map_err(IdentityError::Rejected)?;
        rx.await
            .unwrap_or_else(|_| Err(Rejection::unavailable("the sequencer stopped")))
            .map_err(IdentityError::Rejected)
    }

    /// After an attestation of `party` for `id_number` committed: the ID subject's fields from
    /// the register (never from a request), and the link from the party's phone subject, the
    /// only link an erasure follows.
    fn record_attestation(&self, party: &str, id_number: &str) -> Result<(), IdentityError> {
        let Some(entry) = self.identity().register.get(id_number).cloned() else {
            return Ok(());
        };
        let vault = self.vault();
        let subject = vault.subject_by_id_number(id_number)?;
        for (field, value) in [
            ("name", entry.name.as_str()),
            ("id_number", id_number),
            ("phone", entry.phone.as_str()),
        ] {
            if vault.get(&subject, field)?.as_deref() != Some(value.as_bytes()) {
                vault.put(&subject, field, value.as_bytes())?;
            }
        }
        let phone_commitment = match self.views().doc(party)? {
            Some(deedlog_views::Doc::Party(doc)) => Some(doc.phone_commitment),
            _ => None,
        };
        let phone_subject =
            phone_commitment.and_then(|c| lock(&self.identity().phone_subjects).get(&c).copied());
        match phone_subject {
            Some(p) if p != subject => vault.link(&p, &subject)?,
            Some(_) => {}
            None => tracing::warn!(party, "no phone subject known for this party; not linked"),
        }
        Ok(())
    }

    /// `POST /v1/identity/office/commitments` (signed by an office): the commitments of the
    /// name and ID number the office read off the card of the person in front of it, checked
    /// against the register, for the office to sign `party.attest_identity` (method `office`).
    ///
    /// # Errors
    /// `403 request.forbidden` (not an office), `400 identity.invalid`, `422
    /// identity.not_on_register`, `429 rate.limited`, node errors.
    pub fn office_commitments(
        &self,
        office: &str,
        party: &str,
        name: &str,
        id_number: &str,
    ) -> Result<OfficeCommitments, IdentityError> {
        if !IdKind::Office.matches(office) || self.views().doc(office)?.is_none() {
            return Err(refused(
                403,
                "request.forbidden",
                format!("{office} is not a filing office"),
            ));
        }
        check_party_id(party)?;
        if id_number.len() > 32 || name.len() > 200 {
            return Err(invalid("name or id_number too long"));
        }
        let number = validate::resident_id("id_number", id_number)
            .map_err(|e| invalid(e.to_string()))?
            .number;
        let name = validate::nfc(name.trim());
        let id = self.identity();
        let matches = id.register.get(&number).is_some_and(|e| e.name == name);
        if !matches {
            // The office is trusted and checked the card itself: it may be told plainly.
            return Err(refused(
                422,
                "identity.not_on_register",
                "this name and ID number are not on the population register",
            ));
        }
        let now = self.now_ms();
        {
            let mut m = lock(&id.memory);
            id.count_trusted(
                &mut m,
                now,
                format!("office\n{office}"),
                id.limits.per_client_max,
                "office",
            )?;
        }
        let (name_commitment, id_commitment) = self.commitments(&number, &name)?;
        let mut m = lock(&id.memory);
        if m.office.len() >= id.limits.office_pending_max {
            m.office.retain(|_, c| c.expires_at_ms > now);
            if m.office.len() >= id.limits.office_pending_max {
                return Err(limited("server (too many office checks waiting)", 60));
            }
        }
        m.office.insert(
            (office.to_owned(), party.to_owned(), id_commitment.clone()),
            OfficeCheck {
                id_number: number,
                expires_at_ms: now + id.limits.office_pending_ttl_ms,
            },
        );
        Ok(OfficeCommitments {
            party: party.to_owned(),
            name_commitment,
            id_commitment,
            method: IdentityMethod::Office,
        })
    }

    /// `POST /v1/identity/agent/commitments` (signed by the housing authority): the commitments
    /// of a new agent's name, ID number and the phone on file, after checking name and number
    /// against the population register, for the authority to sign `agent.certify` with. The
    /// person's fields go to the vault under their ID subject, as the reference loader stores
    /// the reference agents', so that an erasure reaches them.
    ///
    /// # Errors
    /// `403 request.forbidden` (not the housing authority), `400 identity.invalid`, `422
    /// identity.not_on_register`, `429 rate.limited`, node errors.
    pub fn agent_commitments(
        &self,
        authority: &str,
        name: &str,
        id_number: &str,
    ) -> Result<AgentCommitments, IdentityError> {
        if authority != ids::HOUSING {
            return Err(refused(
                403,
                "request.forbidden",
                format!("{authority} is not the housing authority"),
            ));
        }
        let (name, number) = person_input(name, id_number)?;
        let id = self.identity();
        let Some(entry) = id.register.get(&number).filter(|e| e.name == name).cloned() else {
            return Err(refused(
                422,
                "identity.not_on_register",
                "this name and ID number are not on the population register",
            ));
        };
        {
            let mut m = lock(&id.memory);
            id.count_trusted(
                &mut m,
                self.now_ms(),
                format!("authority\n{authority}"),
                id.limits.per_client_max,
                "authority",
            )?;
        }
        let vault = self.vault();
        let subject = vault.subject_by_id_number(&number)?;
        for (field, value) in [
            ("name", name.as_str()),
            ("id_number", number.as_str()),
            ("phone", entry.phone.as_str()),
        ] {
            if vault.get(&subject, field)?.as_deref() != Some(value.as_bytes()) {
                vault.put(&subject, field, value.as_bytes())?;
            }
        }
        Ok(AgentCommitments {
            name_commitment: vault.commit(&subject, "name", &name)?.to_hex(),
            id_commitment: vault.commit(&subject, "id_number", &number)?.to_hex(),
            phone_commitment: vault.commit(&subject, "phone", &entry.phone)?.to_hex(),
        })
    }

    /// The live, real-name-verified party of the person with this ID number, if any: the
    /// person's ID subject, the phone subjects its attestation linked to it, and the party
    /// registered with each of those phones (blocking: the vault).
    fn party_of_person(&self, id_number: &str) -> Result<Option<String>, IdentityError> {
        let vault = self.vault();
        let subject = vault.subject_by_id_number(id_number)?;
        for linked in vault.links(&subject)? {
            let Some(phone) = vault.get(&linked, "phone")? else {
                continue;
            };
            let Ok(phone) = String::from_utf8(phone) else {
                continue;
            };
            let commitment = vault.commit(&linked, "phone", &phone)?.to_hex();
            let Some(party) = self.views().party_by_phone(&commitment)? else {
                continue;
            };
            if let Some(deedlog_views::Doc::Party(doc)) = self.views().doc(&party)?
                && doc.verified
                && !doc.erased
            {
                return Ok(Some(party));
            }
        }
        Ok(None)
    }

    /// `POST /v1/identity/recover/challenge` (public: the new device has no key on the log):
    /// the person gives the name and ID number and the new device's public key; a code goes to
    /// the phone **on file in the register** for that ID number, only if name and number match
    /// it and the person has a live, verified party. The answer is the same in every case.
    ///
    /// # Errors
    /// `400 identity.invalid` (malformed name, ID number or key), `429 rate.limited` (per client,
    /// per ID number from this client), `429 identity.too_many_wrong_codes` (the ID number's or
    /// the client's wrong codes reached their cap: the person is sent to a filing office), node
    /// errors.
    pub fn recover_challenge(
        &self,
        name: &str,
        id_number: &str,
        key: &str,
        client: &str,
    ) -> Result<Challenge, IdentityError> {
        let (name, number) = recovery_input(name, id_number, key)?;
        let id = self.identity();
        let now = self.now_ms();
        // The counters first, so that a flood is refused before the vault is touched.
        {
            let mut m = lock(&id.memory);
            id.check_caps(
                &mut m.wrong,
                now,
                client,
                (&id_target(&number), Scope::IdNumber),
            )?;
            id.count(
                &mut m,
                now,
                format!("client\n{client}"),
                id.limits.per_client_max,
                "client address",
            )?;
            id.count(
                &mut m,
                now,
                format!("recover\n{number}\n{client}"),
                id.limits.per_number_max,
                "ID number",
            )?;
            id.count(
                &mut m,
                now,
                format!("sms\nid\n{number}"),
                id.limits.sms_per_person_max,
                "person, from every address together",
            )?;
        }
        let on_file = id.register.get(&number).filter(|e| e.name == name).cloned();
        // The vault is read only for a person on the register (a bounded set), so that made-up
        // numbers create nothing.
        let party = match &on_file {
            Some(_) => self.party_of_person(&number)?,
            None => None,
        };
        let code = party.as_ref().map(|_| random_code());
        let answer = {
            let mut m = lock(&id.memory);
            id.remember(
                &mut m,
                now,
                Purpose::Recover {
                    party: party.clone(),
                    key: key.to_owned(),
                    id_number: number.clone(),
                },
                code,
            )?
        };
        if let (Some(entry), Some(code)) = (on_file, code) {
            id.send_sms(now, &answer.challenge, &entry.phone, &code, "recover")?;
        }
        Ok(answer)
    }

    /// `POST /v1/identity/recover/verify` (public): the code sent to the phone on file. On the
    /// right code the recovery is proven (for the code's lifetime, once) and the answer names the
    /// party, for the new device to sign its proof of possession for.
    ///
    /// # Errors
    /// `422 identity.code_wrong`, `422 identity.challenge_invalid` (unknown, expired, used, void
    /// after 3 wrong codes, or not a recovery), `429 identity.too_many_wrong_codes` (the ID
    /// number's or `client`'s wrong codes reached their cap), `429 rate.limited`.
    pub fn recover_verify(
        &self,
        challenge: &str,
        code: &str,
        client: &str,
    ) -> Result<RecoveryProven, IdentityError> {
        check_code_shape(challenge, code)?;
        let id = self.identity();
        let now = self.now_ms();
        let Purpose::Recover {
            party: Some(party),
            key,
            ..
        } = id.prove(now, challenge, code, None, client)?
        else {
            return Err(challenge_invalid());
        };
        let mut m = lock(&id.memory);
        if m.recovered.len() >= id.limits.challenges_max {
            m.recovered.retain(|_, r| r.expires_at_ms > now);
            if m.recovered.len() >= id.limits.challenges_max {
                return Err(limited("server (too many recoveries waiting)", 60));
            }
        }
        m.recovered.insert(
            challenge.to_owned(),
            Recovered {
                party: party.clone(),
                key,
                expires_at_ms: now + id.limits.code_ttl_ms,
            },
        );
        Ok(RecoveryProven {
            challenge: challenge.to_owned(),
            party,
        })
    }

    /// `POST /v1/identity/office/recover` (signed by a filing office): the office checked the
    /// person's ID card in person and read the new device's public key off its screen; after
    /// checking name and number against the register, the recovery is proven at once (the
    /// office's check stands in for the SMS code) and the answer names the challenge and the
    /// party, which the office hands to the device for `recover/bind`. Only the office's own
    /// count applies: neither the online counts per ID number nor the wrong-code caps hold the
    /// clerk back, so a person locked out online by someone else's requests or guesses is
    /// recovered here.
    ///
    /// # Errors
    /// `403 request.forbidden` (not an office), `400 identity.invalid`, `422
    /// identity.not_on_register`, `422 identity.no_party` (the person has no live, verified
    /// party), `429 rate.limited` (per office), node errors.
    pub fn office_recover(
        &self,
        office: &str,
        name: &str,
        id_number: &str,
        key: &str,
    ) -> Result<RecoveryProven, IdentityError> {
        if !IdKind::Office.matches(office) || self.views().doc(office)?.is_none() {
            return Err(refused(
                403,
                "request.forbidden",
                format!("{office} is not a filing office"),
            ));
        }
        let (name, number) = recovery_input(name, id_number, key)?;
        let id = self.identity();
        let now = self.now_ms();
        {
            let mut m = lock(&id.memory);
            id.count_trusted(
                &mut m,
                now,
                format!("office\n{office}"),
                id.limits.per_client_max,
                "office",
            )?;
        }
        if id.register.get(&number).is_none_or(|e| e.name != name) {
            // The office is trusted and checked the card itself: it may be told plainly.
            return Err(refused(
                422,
                "identity.not_on_register",
                "this name and ID number are not on the population register",
            ));
        }
        let Some(party) = self.party_of_person(&number)? else {
            return Err(refused(
                422,
                "identity.no_party",
                "this person has no live, real-name-verified party to recover",
            ));
        };
        let challenge = format!("ch-{}", hex::encode(random_bytes::<16>()));
        let mut m = lock(&id.memory);
        if m.recovered.len() >= id.limits.challenges_max {
            m.recovered.retain(|_, r| r.expires_at_ms > now);
            if m.recovered.len() >= id.limits.challenges_max {
                return Err(limited("server (too many recoveries waiting)", 60));
            }
        }
        m.recovered.insert(
            challenge.clone(),
            Recovered {
                party: party.clone(),
                key: key.to_owned(),
                expires_at_ms: now + id.limits.office_pending_ttl_ms,
            },
        );
        Ok(RecoveryProven { challenge, party })
    }

    /// `POST /v1/identity/recover/bind` (public): the new key's proof of possession for the
    /// party of a proven recovery. The identity authority signs `key.revoke` of the party's
    /// current key (if it has one) and `key.bind` of the new key, after checking, before
    /// anything is appended, that the proof verifies, the key was never registered and the
    /// party is still live and verified, so that a refusal appends nothing.
    ///
    /// # Errors
    /// `422 identity.challenge_invalid` (not proven, expired or used), `400 identity.invalid`
    /// (a proof that does not verify), `409 key.in_use`, `409 party.erased`, the domain's
    /// rejections, `503 ledger.busy`, node errors.
    pub async fn recover_bind(
        &self,
        challenge: &str,
        proof: &str,
    ) -> Result<RecoveryReceipts, IdentityError> {
        if challenge.len() > 64 || proof.len() > 128 {
            return Err(invalid("challenge or proof too long"));
        }
        let now = self.now_ms();
        // Taken out at once: a proven recovery binds one key, once.
        let recovered = {
            let mut m = lock(&self.identity().memory);
            m.recovered
                .remove(challenge)
                .filter(|r| r.expires_at_ms > now)
        };
        let Some(r) = recovered else {
            return Err(challenge_invalid());
        };
        deedlog_domain::keys::check_possession(&r.party, &r.key, proof)
            .map_err(|e| invalid(format!("the new key's proof: {e}")))?;
        if let Some(user) = self.views().key_user(&r.key)? {
            return Err(refused(
                409,
                "key.in_use",
                format!("the key is, or was, registered to {user}; keys are never reused"),
            ));
        }
        let Some(deedlog_views::Doc::Party(doc)) = self.views().doc(&r.party)? else {
            return Err(challenge_invalid());
        };
        if doc.erased || !doc.verified {
            return Err(refused(
                409,
                "party.erased",
                format!("{} is erased or no longer verified", r.party),
            ));
        }
        let secret = authority_key(self)?;
        let nonce = |what: &str| format!("{what}-{}", hex::encode(random_bytes::<16>()));
        let revoke = match doc.key {
            Some(old) => {
                let command = crate::sign(
                    &secret,
                    ids::IDENTITY,
                    "key.revoke",
                    &r.party,
                    json!({"key": old, "reason": "新设备：实名重新核验后更换密钥"}),
                    None,
                    &nonce("recover-revoke"),
                    self.now_ms(),
                )?;
                Some(self.submit_now(command).await?)
            }
            None => None,
        };
        let command = crate::sign(
            &secret,
            ids::IDENTITY,
            "key.bind",
            &r.party,
            json!({"key": r.key, "proof": proof}),
            None,
            &nonce("recover-bind"),
            self.now_ms(),
        )?;
        let bind = self.submit_now(command).await?;
        Ok(RecoveryReceipts { revoke, bind })
    }

    /// `POST /v1/identity/office/attest` (a `party.attest_identity` signed by the office that
    /// asked for the commitments): submits it, and writes the vault once it is committed.
    ///
    /// # Errors
    /// `400 identity.invalid` (not an office's attestation), `422 identity.no_office_check`
    /// (no recent check for this office, party and ID commitment), the domain's rejection,
    /// `503 ledger.busy`, node errors.
    pub async fn office_attest(&self, command: SignedCommand) -> Result<Receipt, IdentityError> {
        if command.kind != "party.attest_identity" || !IdKind::Office.matches(&command.actor) {
            return Err(invalid(
                "the body must be a party.attest_identity signed by a filing office",
            ));
        }
        let id_commitment = command
            .payload
            .get("id_commitment")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let now = self.now_ms();
        let key = (command.actor.clone(), command.stream.clone(), id_commitment);
        let check = {
            let m = lock(&self.identity().memory);
            m.office
                .get(&key)
                .filter(|c| c.expires_at_ms > now)
                .map(|c| c.id_number.clone())
        };
        let Some(id_number) = check else {
            return Err(refused(
                422,
                "identity.no_office_check",
                "no recent office check for this office, party and ID commitment; ask for the commitments first",
            ));
        };
        let party = command.stream.clone();
        let receipt = self.submit_now(command).await?;
        lock(&self.identity().memory).office.remove(&key);
        let node = self.clone();
        blocking(move || node.record_attestation(&party, &id_number)).await?;
        Ok(receipt)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IdentityError> + Send + 'static,
) -> Result<T, IdentityError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        IdentityError::Node(NodeError::Config(format!("an identity task failed: {e}")))
    })?
}

/// Reads the newest code sent for `challenge` from an outbox file, as an operator (or an SMS
/// gateway) would. For the demo and the tests.
#[must_use]
pub fn read_code(outbox: &Path, challenge: &str) -> Option<String> {
    let text = std::fs::read_to_string(outbox).ok()?;
    text.lines().rev().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        if v.get("challenge")?.as_str()? == challenge {
            v.get("code")?.as_str().map(str::to_owned)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_compared_whole() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let c = random_code();
            assert!(c.iter().all(u8::is_ascii_digit));
            seen.insert(c);
            assert!(same_code(&c, &c));
            let mut other = c;
            other[5] = if c[5] == b'0' { b'1' } else { b'0' };
            assert!(!same_code(&c, &other));
            assert!(!same_code(&c, &c[..5]));
            assert!(!same_code(&c, b"1234567"));
        }
        assert!(seen.len() > 190, "codes repeat too often");
    }

    #[test]
    fn challenges_expire_run_out_of_tries_and_are_bound_to_their_party() {
        let dir = tempfile::tempdir().unwrap();
        let limits = IdentityLimits {
            tries_max: 2,
            ..IdentityLimits::default()
        };
        let a = IdentityAuthority::open(dir.path(), None, limits).unwrap();
        let code = random_code();
        let code_text = String::from_utf8(code.to_vec()).unwrap();
        let ch = {
            let mut m = lock(&a.memory);
            a.remember(
                &mut m,
                0,
                Purpose::RealName {
                    party: "party/PA-1".into(),
                    id_number: "x".into(),
                },
                Some(code),
            )
            .unwrap()
        };
        // Another party's guess, even with the right code, is refused and uses no try.
        assert!(matches!(
            a.prove(0, &ch.challenge, &code_text, Some("party/PA-2"), "c"),
            Err(IdentityError::Refused {
                code: "identity.challenge_invalid",
                ..
            })
        ));
        // Expired.
        assert!(matches!(
            a.prove(
                a.limits.code_ttl_ms,
                &ch.challenge,
                &code_text,
                Some("party/PA-1"),
                "c"
            ),
            Err(IdentityError::Refused {
                code: "identity.challenge_invalid",
                ..
            })
        ));
        // Two wrong codes void it; the right one then fails too.
        for _ in 0..2 {
            assert!(matches!(
                a.prove(0, &ch.challenge, "999999x", Some("party/PA-1"), "c"),
                Err(IdentityError::Refused {
                    code: "identity.code_wrong",
                    ..
                })
            ));
        }
        assert!(
            a.prove(0, &ch.challenge, &code_text, Some("party/PA-1"), "c")
                .is_err()
        );
        // A decoy (no code) never opens.
        let decoy = {
            let mut m = lock(&a.memory);
            a.remember(&mut m, 0, Purpose::Phone { phone: "1".into() }, None)
                .unwrap()
        };
        assert!(a.prove(0, &decoy.challenge, &code_text, None, "c").is_err());
        // The open-challenge bound holds.
        let small = IdentityAuthority::open(
            dir.path(),
            None,
            IdentityLimits {
                challenges_max: 2,
                ..IdentityLimits::default()
            },
        )
        .unwrap();
        let mut m = lock(&small.memory);
        for _ in 0..2 {
            small
                .remember(&mut m, 0, Purpose::Phone { phone: "1".into() }, None)
                .unwrap();
        }
        assert!(matches!(
            small.remember(&mut m, 0, Purpose::Phone { phone: "1".into() }, None),
            Err(IdentityError::Refused { status: 429, .. })
        ));
    }

    /// A challenge with a known code for `purpose`, made at `now`: (id, code).
    fn open_challenge(a: &IdentityAuthority, now: i64, purpose: Purpose) -> (String, String) {
        let code = random_code();
        let mut m = lock(&a.memory);
        let ch = a.remember(&mut m, now, purpose, Some(code)).unwrap();
        (ch.challenge, String::from_utf8(code.to_vec()).unwrap())
    }

    fn wrong_of(code: &str) -> &'static str {
        if code == "000000" { "111111" } else { "000000" }
    }

    /// The stable code, the scope and the wait of a refusal.
    fn refusal<T>(r: Result<T, IdentityError>) -> (&'static str, Value, Value) {
        match r {
            Err(IdentityError::Refused { code, details, .. }) => (
                code,
                details["scope"].clone(),
                details["retry_after_ms"].clone(),
            ),
            Err(e) => panic!("not a refusal: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    const HOUR: i64 = 3600 * 1000;

    #[test]
    fn wrong_codes_for_one_person_are_capped_over_a_day_whatever_the_challenge_or_address() {
        let dir = tempfile::tempdir().unwrap();
        let a = IdentityAuthority::open(dir.path(), None, IdentityLimits::default()).unwrap();
        let horizon = a.limits.wrong_horizon_ms;
        assert_eq!((horizon, a.limits.wrong_per_target_max), (24 * HOUR, 10));
        let recover = |n: &str| Purpose::Recover {
            party: Some("party/PA-1".into()),
            key: "k".into(),
            id_number: n.into(),
        };
        let realname = |n: &str| Purpose::RealName {
            party: "party/PA-2".into(),
            id_number: n.into(),
        };
        // Ten wrong codes for one ID number, every two hours, each on a new challenge (recovery
        // and real-name checks in turn) from a new address.
        for i in 0..10 {
            let t = i * 2 * HOUR;
            let (purpose, owner) = if i % 2 == 0 {
                (recover("n1"), None)
            } else {
                (realname("n1"), Some("party/PA-2"))
            };
            let (ch, code) = open_challenge(&a, t, purpose);
            assert_eq!(
                refusal(a.prove(t, &ch, wrong_of(&code), owner, &format!("c{i}"))).0,
                "identity.code_wrong"
            );
        }
        // Now even the right code is refused, for that number only, until the first wrong code
        // is a day old.
        let t = 18 * HOUR + 1;
        let (ch, code) = open_challenge(&a, t, recover("n1"));
        let r = a.prove(t, &ch, &code, None, "c-new");
        assert_eq!(
            refusal(r),
            (
                "identity.too_many_wrong_codes",
                json!("id_number"),
                json!(horizon - t)
            )
        );
        let (other, other_code) = open_challenge(&a, t, recover("n2"));
        assert!(a.prove(t, &other, &other_code, None, "c-new").is_ok());
        let (phone, phone_code) = open_challenge(&a, t, Purpose::Phone { phone: "p".into() });
        assert!(a.prove(t, &phone, &phone_code, None, "c-new").is_ok());
        // New codes for that number are refused too, with words that send the person to a
        // filing office.
        let Err(IdentityError::Refused { message, .. }) = a.check_caps(
            &mut lock(&a.memory).wrong,
            t,
            "c-new",
            (&id_target("n1"), Scope::IdNumber),
        ) else {
            panic!("not refused")
        };
        assert!(message.contains("filing office"), "{message}");
        assert!(message.contains("6 hours"), "{message}");
        // A day after the first wrong code, one more guess: the wrong one voids its challenge
        // at once, and the cap holds again until the second is a day old.
        let t = horizon;
        let (ch, code) = open_challenge(&a, t, recover("n1"));
        let (ch2, code2) = open_challenge(&a, t, recover("n1"));
        let Err(IdentityError::Refused {
            code: c, details, ..
        }) = a.prove(t, &ch, wrong_of(&code), None, "c-new")
        else {
            panic!("accepted")
        };
        assert_eq!(
            (c, details["tries_left"].clone()),
            ("identity.code_wrong", json!(0))
        );
        assert_eq!(
            refusal(a.prove(t, &ch, &code, None, "c-new")).0,
            "identity.challenge_invalid"
        );
        assert_eq!(
            refusal(a.prove(t, &ch2, &code2, None, "c-new")).0,
            "identity.too_many_wrong_codes"
        );
        let t = horizon + 2 * HOUR;
        let (ch, code) = open_challenge(&a, t, realname("n1"));
        assert!(a.prove(t, &ch, &code, Some("party/PA-2"), "c-new").is_ok());
    }

    #[test]
    fn wrong_codes_from_one_address_are_capped_across_many_people() {
        let dir = tempfile::tempdir().unwrap();
        let a = IdentityAuthority::open(dir.path(), None, IdentityLimits::default()).unwrap();
        assert_eq!(a.limits.wrong_per_client_max, 30);
        for i in 0..30 {
            let (ch, code) = open_challenge(
                &a,
                0,
                Purpose::Phone {
                    phone: format!("p{i}"),
                },
            );
            assert_eq!(
                refusal(a.prove(0, &ch, wrong_of(&code), None, "mallory")).0,
                "identity.code_wrong"
            );
        }
        // The 31st guess from that address is refused, even the right code, and uses no try:
        // the code still opens the challenge from another address.
        let (ch, code) = open_challenge(&a, 1, Purpose::Phone { phone: "p".into() });
        assert_eq!(
            refusal(a.prove(1, &ch, &code, None, "mallory")),
            (
                "identity.too_many_wrong_codes",
                json!("client"),
                json!(a.limits.wrong_horizon_ms - 1)
            )
        );
        assert!(a.prove(1, &ch, &code, None, "someone").is_ok());
        // A day later the address may try again.
        let t = a.limits.wrong_horizon_ms;
        let (ch, code) = open_challenge(&a, t, Purpose::Phone { phone: "p".into() });
        assert!(a.prove(t, &ch, &code, None, "mallory").is_ok());
    }

    #[test]
    fn wrong_code_records_are_bounded_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let a = IdentityAuthority::open(
            dir.path(),
            None,
            IdentityLimits {
                wrong_records_max: 4,
                ..IdentityLimits::default()
            },
        )
        .unwrap();
        let phone = |p: &str| Purpose::Phone { phone: p.into() };
        for (client, p) in [("c1", "p1"), ("c2", "p2")] {
            let (ch, code) = open_challenge(&a, 0, phone(p));
            assert_eq!(
                refusal(a.prove(0, &ch, wrong_of(&code), None, client)).0,
                "identity.code_wrong"
            );
        }
        assert_eq!(lock(&a.memory).wrong.len(), 4);
        // Full: a guess that would need a new record is refused unchecked (its try kept); one
        // whose records exist is checked.
        let (ch, code) = open_challenge(&a, 1, phone("p3"));
        assert_eq!(
            refusal(a.prove(1, &ch, &code, None, "c3")),
            ("rate.limited", Value::Null, json!(60_000))
        );
        let (ch1, code1) = open_challenge(&a, 1, phone("p1"));
        assert!(a.prove(1, &ch1, &code1, None, "c1").is_ok());
        // Records with nothing left within the horizon make room.
        let t = a.limits.wrong_horizon_ms;
        let (ch, code) = open_challenge(&a, t, phone("p3"));
        assert_eq!(
            refusal(a.prove(t, &ch, wrong_of(&code), None, "c3")).0,
            "identity.code_wrong"
        );
        assert_eq!(lock(&a.memory).wrong.len(), 2);
    }

    #[test]
    fn offices_are_counted_apart_from_the_public_callers() {
        let dir = tempfile::tempdir().unwrap();
        let a = IdentityAuthority::open(
            dir.path(),
            None,
            IdentityLimits {
                counters_max: 2,
                ..IdentityLimits::default()
            },
        )
        .unwrap();
        let mut m = lock(&a.memory);
        for key in ["recover\nn1\nc1", "recover\nn1\nc2"] {
            a.count(&mut m, 0, key.into(), 3, "ID number").unwrap();
        }
        assert_eq!(
            refusal(a.count(&mut m, 0, "recover\nn1\nc3".into(), 3, "ID number")).0,
            "rate.limited"
        );
        a.count_trusted(&mut m, 0, "office\noffice/OF-01".into(), 3, "office")
            .unwrap();
    }

    #[test]
    fn spans_are_put_in_words() {
        assert_eq!(span_words(24 * HOUR), "24 hours");
        assert_eq!(span_words(6 * HOUR - 1), "6 hours");
        assert_eq!(span_words(90 * 60 * 1000), "90 minutes");
        assert_eq!(span_words(1), "1 minute");
    }
}
