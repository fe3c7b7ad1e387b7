//! `deedlog demo`: drives complete deals through a running server so that a new user sees a
//! living platform — listings to search, agents with ratings, filed contracts to verify.
//!
//! Four kinds of deal, in turn:
//!
//! - **agent-assisted**: verification, entrustment (every other one with "review agent edits",
//!   so the seller approves the publication), publication, viewing, rating, loan pre-check,
//!   contract, three confirmations and e-signatures, filing;
//! - **self-listed**: the seller publishes, handles the viewing, the buyer drafts, both sign;
//! - **offline fallback**: e-signing fails, the buyer moves the contract offline, a filing office
//!   verifies the paper contract, the housing authority files it;
//! - **proxy**: a proxy files its authority, an office verifies it, the proxy verifies the
//!   property, entrusts an agent and confirms and signs for the seller.
//!
//! Who acts with which key: the housing authority, the banks, the filing offices and the agents
//! with their keys from the server's `DATA/keys/` folder (the embedded default writes them);
//! sellers are owners from the registry (`ledger-data/reference/properties.json`) whose keys are
//! derived from the platform key, so a second run finds the parties the first one registered;
//! buyers and proxies are fresh made-up people. Every citizen registers through the API (a phone
//! commitment from the vault) and passes real-name verification through the identity endpoint.
//!
//! Commands are retried through transport failures with the same signed bytes (see
//! [`deedlog_client::http`]), so a server restart in the middle of a run loses nothing and duplicates
//! nothing.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use deedlog_domain::payload::{EntrustSale, ListingPublish, LoanResult, ProxyAction};
use deedlog_domain::reference::Person;

use crate::people::{self, RegistryProperty};
use deedlog_client::ClientError;
use deedlog_client::actor::{Actor, derive_secret, now_ms, random_suffix};
use deedlog_client::client::{Client, Receipt};
use deedlog_client::deal::{self, DAY_MS, PropertyFacts, Publisher};
use deedlog_client::keys::KeyDir;

/// Most deals one run may drive.
pub const DEALS_MAX: usize = 1000;
/// Most deals driven at the same time.
pub const PARALLEL_MAX: usize = 16;

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The server, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The server's keys folder (`DATA/keys`).
    pub keys_dir: PathBuf,
    /// The reference data folder (`ledger-data/reference`).
    pub reference_dir: PathBuf,
    /// How many complete deals to drive.
    pub deals: usize,
    /// How many deals run at the same time.
    pub parallel: usize,
    /// How long a command is retried through transport failures (a server restart).
    pub retry_for: Duration,
    /// How far ahead viewings are booked (the viewing is recorded once its slot starts).
    pub viewing_lead: Duration,
    /// Listings published after the deals and left open, so the listing search shows
    /// something (the filed deals' listings are closed).
    pub open_listings: usize,
    /// The server's SMS outbox, where the demo reads the identity authority's codes as the
    /// operator (default `DATA/outbox/sms.jsonl`).
    pub outbox: PathBuf,
}

impl DemoOptions {
    /// Defaults for a server and its data folder: `DATA/keys`, `ledger-data/reference`, 4 deals,
    /// up to 4 at a time, 30 s of retries, viewings booked 1.5 s ahead.
    #[must_use]
    pub fn new(server: impl Into<String>, data_dir: &std::path::Path) -> Self {
        Self {
            server: server.into(),
            keys_dir: data_dir.join("keys"),
            reference_dir: PathBuf::from("ledger-data/reference"),
            deals: 4,
            parallel: 4,
            retry_for: Duration::from_secs(30),
            viewing_lead: Duration::from_millis(1500),
            open_listings: 2,
            outbox: deedlog_client::identity::Outbox::of_data_dir(data_dir)
                .path()
                .to_path_buf(),
        }
    }
}

/// The kind of a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DealKind {
    /// Through an entrusted agent.
    AgentAssisted,
    /// The seller lists without an agent.
    SelfListed,
    /// E-signing fails; filed after an office verifies the paper contract.
    OfflineFallback,
    /// The seller acts through a verified proxy.
    Proxy,
}

impl DealKind {
    /// The kind of the `index`-th deal of a run (the four in turn).
    #[must_use]
    pub fn of_index(index: usize) -> Self {
        match index % 4 {
            0 => Self::AgentAssisted,
            1 => Self::SelfListed,
            2 => Self::OfflineFallback,
            _ => Self::Proxy,
        }
    }

    /// A short name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::AgentAssisted => "agent-assisted",
            Self::SelfListed => "self-listed",
            Self::OfflineFallback => "offline fallback",
            Self::Proxy => "proxy",
        }
    }
}

/// One finished deal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DealReport {
    /// Its index in the run.
    pub index: usize,
    /// Its kind.
    pub kind: DealKind,
    /// `property/PR-…`.
    pub property: String,
    /// The seller (`party/PA-…`).
    pub seller: String,
    /// The buyer.
    pub buyer: String,
    /// The agent, if any.
    pub agent: Option<String>,
    /// The proxy filing, if any.
    pub proxy: Option<String>,
    /// `listing/LS-…`.
    pub listing: String,
    /// The listing verification code (`LV-…`).
    pub listing_code: String,
    /// `contract/CT-…`.
    pub contract: String,
    /// The filing code (`FC-…`).
    pub filing_code: String,
    /// Every seq this deal's commands were acknowledged with, in order.
    pub seqs: Vec<u64>,
}

/// A listing the demo left open (active), by an agent or self-listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenListing {
    /// `listing/LS-…`.
    pub listing: String,
    /// The listing verification code.
    pub listing_code: String,
    /// The agent, or `None` when self-listed.
    pub agent: Option<String>,
}

/// A deal that could not be completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DealFailure {
    /// Its index in the run.
    pub index: usize,
    /// Its kind.
    pub kind: DealKind,
    /// What failed.
    pub error: String,
    /// Seqs acknowledged before it failed.
    pub seqs: Vec<u64>,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoReport {
    /// The server.
    pub server: String,
    /// The completed deals, by index.
    pub deals: Vec<DealReport>,
    /// The deals that failed (an open listing that failed is counted here too, with an index
    /// after the deals').
    pub failed: Vec<DealFailure>,
    /// The listings left open.
    pub open_listings: Vec<OpenListing>,
    /// Every acknowledged seq of the run (setup included), sorted.
    pub seqs: Vec<u64>,
}

/// What the demo is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoEvent {
    /// A command was acknowledged.
    Step {
        /// The deal's index (`None` for shared setup).
        deal: Option<usize>,
        /// The command kind.
        command: String,
        /// The entry's seq.
        seq: u64,
    },
    /// A deal is complete.
    DealDone(DealReport),
    /// A deal failed.
    DealFailed(DealFailure),
    /// Something worth a line.
    Note(String),
}

impl std::fmt::Display for DemoEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Step {
                deal: Some(d),
                command,
                seq,
            } => write!(f, "deal {d}: {command} → seq {seq}"),
            Self::Step {
                deal: None,
                command,
                seq,
            } => write!(f, "{command} → seq {seq}"),
            Self::DealDone(r) => write!(
                f,
                "deal {} ({}) filed: listing {} code {}, contract {} filing code {}",
                r.index,
                r.kind.name(),
                r.listing,
                r.listing_code,
                r.contract,
                r.filing_code
            ),
            Self::DealFailed(e) => {
                write!(
                    f,
                    "deal {} ({}) failed: {}",
                    e.index,
                    e.kind.name(),
                    e.error
                )
            }
            Self::Note(text) => f.write_str(text),
        }
    }
}

/// Why the demo could not run at all (a failing deal is reported in [`DemoReport::failed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The options are out of bounds.
    #[error("options: {0}")]
    Options(String),
    /// A key, the reference data or the server is unusable.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The actors every deal shares.
struct Cast {
    housing: Actor,
    office: Actor,
    banks: Vec<Actor>,
    agents: Vec<Actor>,
    citizen_root: deedlog_core::SecretKey,
}

struct Shared<'a> {
    client: Client,
    cast: Cast,
    options: &'a DemoOptions,
    candidates: Mutex<VecDeque<RegistryProperty>>,
    sellers_in_use: Mutex<BTreeSet<String>>,
    /// People of the population register who own nothing: the buyers and proxies.
    buyers: Mutex<VecDeque<Person>>,
    outbox: deedlog_client::identity::Outbox,
    progress: Mutex<&'a mut (dyn FnMut(&DemoEvent) + Send)>,
    seqs: Mutex<Vec<u64>>,
}

impl Shared<'_> {
    fn emit(&self, event: &DemoEvent) {
        if let Ok(mut p) = self.progress.lock() {
            (*p)(event);
        }
    }
}

/// Runs the demo: `options.deals` complete deals, `progress` told of every step. Returns the
/// filing codes and listing codes of the completed deals and the deals that failed.
///
/// # Errors
/// [`DemoError`] when the options are out of bounds, a key or the reference data is missing, or
/// the server can't be reached at all.
pub fn run(
    options: &DemoOptions,
    progress: &mut (dyn FnMut(&DemoEvent) + Send),
) -> Result<DemoReport, DemoError> {
    if options.deals == 0 || options.deals > DEALS_MAX {
        return Err(DemoError::Options(format!(
            "deals must be 1 to {DEALS_MAX}"
        )));
    }
    if options.open_listings > DEALS_MAX {
        return Err(DemoError::Options(format!(
            "open_listings must be at most {DEALS_MAX}"
        )));
    }
    if options.parallel == 0 || options.parallel > PARALLEL_MAX {
        return Err(DemoError::Options(format!(
            "parallel must be 1 to {PARALLEL_MAX}"
        )));
    }
    let client = Client::new(&options.server)?.retrying(options.retry_for);
    let keys = KeyDir::new(&options.keys_dir);
    let cast = cast(&client, &keys)?;
    let mut candidates: Vec<RegistryProperty> = people::properties(&options.reference_dir)?
        .into_iter()
        .filter(|p| p.is_simple_sale())
        .collect();
    if candidates.is_empty() {
        return Err(DemoError::Options(
            "no property in the registry can be sold".into(),
        ));
    }
    // Start at a random place so that runs against one server spread over the registry.
    let offset = usize::from_str_radix(&random_suffix()[..8], 16).unwrap_or(0) % candidates.len();
    candidates.rotate_left(offset);
    // Buyers and proxies must be on the population register (their real name is checked
    // against it), and own nothing there, so that they never collide with a seller.
    let owners: BTreeSet<String> = people::properties(&options.reference_dir)?
        .iter()
        .flat_map(RegistryProperty::owners)
        .map(|o| o.id_number)
        .collect();
    let mut buyers: Vec<Person> = people::population(&options.reference_dir)?
        .into_iter()
        .filter(|p| !owners.contains(&p.id_number))
        .collect();
    if buyers.is_empty() {
        return Err(DemoError::Options(
            "nobody on the population register can buy".into(),
        ));
    }
    let offset = usize::from_str_radix(&random_suffix()[..8], 16).unwrap_or(0) % buyers.len();
    buyers.rotate_left(offset);
    let shared = Shared {
        client,
        cast,
        options,
        candidates: Mutex::new(candidates.into()),
        sellers_in_use: Mutex::new(BTreeSet::new()),
        buyers: Mutex::new(buyers.into()),
        outbox: deedlog_client::identity::Outbox::new(options.outbox.clone()),
        progress: Mutex::new(progress),
        seqs: Mutex::new(Vec::new()),
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<Result<DealReport, DealFailure>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..options.parallel.min(options.deals) {
            s.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if index >= options.deals {
                        break;
                    }
                    let result = drive_deal(&shared, index);
                    match &result {
                        Ok(r) => shared.emit(&DemoEvent::DealDone(r.clone())),
                        Err(f) => shared.emit(&DemoEvent::DealFailed(f.clone())),
                    }
                    if let Ok(mut all) = results.lock() {
                        all.push(result);
                    }
                }
            });
        }
    });
    let mut deals = Vec::new();
    let mut failed = Vec::new();
    for r in results.into_inner().unwrap_or_default() {
        match r {
            Ok(d) => deals.push(d),
            Err(f) => failed.push(f),
        }
    }
    let mut open_listings = Vec::new();
    for i in 0..options.open_listings {
        let index = options.deals + i;
        let mut run = Run {
            shared: &shared,
            index,
            seqs: Vec::new(),
        };
        match run.open_listing(i % 2 == 0) {
            Ok(l) => {
                shared.emit(&DemoEvent::Note(format!(
                    "open listing {} code {}",
                    l.listing, l.listing_code
                )));
                open_listings.push(l);
            }
            Err(e) => {
                let f = DealFailure {
                    index,
                    kind: DealKind::SelfListed,
                    error: e.to_string(),
                    seqs: run.seqs.clone(),
                };
                shared.emit(&DemoEvent::DealFailed(f.clone()));
                failed.push(f);
            }
        }
    }
    deals.sort_by_key(|d| d.index);
    failed.sort_by_key(|f| f.index);
    let mut seqs = shared.seqs.into_inner().unwrap_or_default();
    seqs.sort_unstable();
    Ok(DemoReport {
        server: options.server.clone(),
        deals,
        failed,
        open_listings,
        seqs,
    })
}

/// The secret the demo derives citizens' keys from: derived from the platform key of the data
/// folder (the housing authority's when there is none).
///
/// # Errors
/// [`ClientError::KeyFile`] when neither key is there.
pub fn citizen_root(keys: &KeyDir) -> Result<deedlog_core::SecretKey, ClientError> {
    let base = keys
        .actor("platform")
        .or_else(|_| keys.actor("authority/housing"))?;
    Ok(derive_secret(&base.secret, "demo/citizens"))
}

/// The demo's party for a person of the reference data: its key derived from `root` and the
/// person's ID number, its id `party/PA-C<first 8 bytes of the public key, hex>`. The same
/// person always gets the same party, so runs against one server reuse it.
#[must_use]
pub fn citizen_actor(root: &deedlog_core::SecretKey, person: &Person) -> Actor {
    let secret = derive_secret(root, &format!("citizen/{}", person.id_number));
    let suffix = hex::encode_upper(&secret.public().to_bytes()[..8]);
    Actor::new(format!("party/PA-C{suffix}"), secret)
}

fn cast(client: &Client, keys: &KeyDir) -> Result<Cast, ClientError> {
    let housing = keys.actor("authority/housing")?;
    let offices = keys.actors_with_prefix("office/")?;
    let office = keys.actor(offices.first().ok_or_else(|| ClientError::KeyFile {
        path: keys.path().display().to_string(),
        reason: "no filing office key".into(),
    })?)?;
    let banks = keys
        .actors_with_prefix("bank/")?
        .iter()
        .map(|b| keys.actor(b))
        .collect::<Result<Vec<_>, _>>()?;
    // Sellers pick agents from the list sorted by rating, best first.
    let ranked: Vec<String> = client
        .get("/v1/agents?limit=20", None)
        .ok()
        .and_then(|v| v.get("items").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.get("id").and_then(Value::as_str).map(str::to_owned))
        .filter(|id| keys.has(id))
        .collect();
    let ids = if ranked.is_empty() {
        keys.actors_with_prefix("agent/")?
    } else {
        ranked
    };
    let agents = ids
        .iter()
        .take(5)
        .map(|a| keys.actor(a))
        .collect::<Result<Vec<_>, _>>()?;
    if banks.is_empty() || agents.is_empty() {
        return Err(ClientError::KeyFile {
            path: keys.path().display().to_string(),
            reason: "no bank or agent keys".into(),
        });
    }
    Ok(Cast {
        citizen_root: citizen_root(keys)?,
        housing,
        office,
        banks,
        agents,
    })
}

/// A deal in progress: the client, and the seqs acknowledged so far.
struct Run<'s, 'a> {
    shared: &'s Shared<'a>,
    index: usize,
    seqs: Vec<u64>,
}

impl Run<'_, '_> {
    fn note(&mut self, r: Receipt) -> Receipt {
        self.seqs.push(r.seq);
        if let Ok(mut all) = self.shared.seqs.lock() {
            all.push(r.seq);
        }
        self.shared.emit(&DemoEvent::Step {
            deal: Some(self.index),
            command: r.kind.clone(),
            seq: r.seq,
        });
        r
    }

    fn client(&self) -> &Client {
        &self.shared.client
    }

    /// A registered, real-name-verified party for `person` with `actor`'s key, through the
    /// identity authority's real flow (codes read from the outbox).
    fn citizen(&mut self, actor: &Actor, person: &Person) -> Result<(), ClientError> {
        let enrolled = self.client().enroll(actor, person, &self.shared.outbox)?;
        if let Some(r) = enrolled.registered {
            self.note(r);
        }
        if let Some(r) = enrolled.attested
            && !r.duplicate
        {
            self.note(r);
        }
        Ok(())
    }

    /// A citizen of the population register who owns nothing, registered and verified (the
    /// same person always gets the same party, so a later run reuses it).
    fn fresh_citizen(&mut self) -> Result<Actor, ClientError> {
        let mut last = None;
        for _ in 0..5 {
            let person = self
                .shared
                .buyers
                .lock()
                .ok()
                .and_then(|mut b| {
                    let p = b.pop_front()?;
                    b.push_back(p.clone());
                    Some(p)
                })
                .ok_or_else(|| ClientError::Limit("no buyer on the register".into()))?;
            let actor = citizen_actor(&self.shared.cast.citizen_root, &person);
            match self.citizen(&actor, &person) {
                Ok(()) => return Ok(actor),
                // Someone else holds this person's phone or ID: take the next person.
                Err(e)
                    if e.is("party.phone_taken")
                        || e.is("party.id_taken")
                        || matches!(e, ClientError::Limit(_)) =>
                {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Limit("no fresh citizen".into())))
    }

    /// The next property whose owner can sell: its seller registered and verified, and the
    /// property verified (by the seller, or by `proxy` when given through `setup_proxy`).
    fn seller_and_property(&mut self) -> Result<(Actor, Person, RegistryProperty), ClientError> {
        loop {
            let candidate = self
                .shared
                .candidates
                .lock()
                .ok()
                .and_then(|mut c| c.pop_front())
                .ok_or_else(|| {
                    ClientError::Limit("no property left in the registry to sell".into())
                })?;
            let owner = candidate.owners().remove(0);
            let fresh = self
                .shared
                .sellers_in_use
                .lock()
                .is_ok_and(|mut used| used.insert(owner.id_number.clone()));
            if !fresh {
                continue;
            }
            let seller = citizen_actor(&self.shared.cast.citizen_root, &owner);
            match self.citizen(&seller, &owner) {
                Ok(()) => return Ok((seller, owner, candidate)),
                // Someone else holds this owner's phone or ID: try the next property.
                Err(e)
                    if e.is("party.phone_taken")
                        || e.is("party.id_taken")
                        || matches!(e, ClientError::Limit(_)) =>
                {
                    self.shared.emit(&DemoEvent::Note(format!(
                        "deal {}: skipping {} ({e})",
                        self.index, candidate.id
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn agent(&self) -> &Actor {
        let agents = &self.shared.cast.agents;
        &agents[self.index % agents.len()]
    }

    fn bank(&self) -> &Actor {
        let banks = &self.shared.cast.banks;
        &banks[self.index % banks.len()]
    }

    /// Books a viewing `viewing_lead` ahead, has the handler confirm it, waits for the slot and
    /// records it. Returns the viewing id.
    fn viewing(
        &mut self,
        buyer: &Actor,
        handler: &Actor,
        listing: &str,
    ) -> Result<String, ClientError> {
        let mut lead = i64::try_from(self.shared.options.viewing_lead.as_millis())
            .unwrap_or(1500)
            .max(1);
        // The slot must start after the server sequences the booking; on a loaded machine that
        // can take longer than the lead, so book again further ahead.
        let (start, r) = loop {
            let start = now_ms() + lead;
            match self
                .client()
                .book_viewing(buyer, listing, start, start + 3_600_000)
            {
                Ok(r) => break (start, r),
                Err(e) if e.is("time.bad_window") && lead < 60_000 => lead *= 4,
                Err(e) => return Err(e),
            }
        };
        let viewing = r.stream.clone();
        self.note(r);
        let r = self.client().confirm_viewing(handler, &viewing)?;
        self.note(r);
        let wait = start + 20 - now_ms();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0)));
        }
        // The server's clock may trail ours by a little: retry a few times.
        let mut tries = 0;
        loop {
            match self.client().record_viewing(
                handler,
                &viewing,
                "看房约30分钟，买方关注采光和学区",
            ) {
                Ok(r) => {
                    self.note(r);
                    return Ok(viewing);
                }
                Err(e) if e.is("viewing.not_yet_held") && tries < 25 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Confirms then signs the contract's document by every party given.
    fn confirm_and_sign(
        &mut self,
        contract: &str,
        document_hash: &str,
        parties: &[(&Actor, Option<&str>)],
    ) -> Result<(), ClientError> {
        for (who, via) in parties {
            let r = self
                .client()
                .confirm_contract(who, contract, document_hash, *via)?;
            self.note(r);
        }
        for (who, via) in parties {
            let r = self
                .client()
                .sign_contract(who, contract, document_hash, *via)?;
            self.note(r);
        }
        Ok(())
    }

    /// Verifies a property and publishes it (through an agent, or self-listed), and stops
    /// there: an open listing for the public to find.
    fn open_listing(&mut self, with_agent: bool) -> Result<OpenListing, ClientError> {
        let (seller, _, property) = self.seller_and_property()?;
        let facts = PropertyFacts::from(&property);
        let price = (facts.area_centi_m2 * 16_000).div_ceil(1_000_000) * 1_000_000;
        let title = format!(
            "{}{}室{}厅 业主诚售",
            facts.community, facts.rooms, facts.halls
        );
        let r = self
            .client()
            .verify_property(&seller, &facts.certificate_no, None)?;
        let verification = r.stream.clone();
        self.note(r);
        let (publisher, payload) = if with_agent {
            let agent = self.agent().clone();
            let entrust = EntrustSale {
                verification,
                agent: agent.id.clone(),
                floor_price_fen: price / 100 * 95,
                expires_at_ms: now_ms() + 90 * DAY_MS,
                review_agent_edits: false,
                via_proxy: None,
            };
            let r = self.client().entrust_sale(&seller, &entrust)?;
            let entrustment = r.stream.clone();
            self.note(r);
            let r = self.client().accept_entrustment(&agent, &entrustment)?;
            self.note(r);
            let payload = deal::listing_payload(
                &facts,
                &Publisher::Agent {
                    entrustment: &entrustment,
                },
                price,
                &title,
            );
            (agent, payload)
        } else {
            let payload = deal::listing_payload(
                &facts,
                &Publisher::Seller {
                    verification: &verification,
                    via_proxy: None,
                },
                price,
                &title,
            );
            (seller, payload)
        };
        let payload = self.with_photos(&publisher, payload)?;
        let r = self.client().publish_listing(&publisher, &payload)?;
        let listing_code = r.require("listing_code")?;
        let listing = r.stream.clone();
        self.note(r);
        Ok(OpenListing {
            listing,
            listing_code,
            agent: with_agent.then(|| publisher.id.clone()),
        })
    }

    /// The listing's photos: generated pictures of its rooms (one per room, and the living
    /// room), uploaded by the publisher, their hashes in place of the stand-ins.
    fn with_photos(
        &self,
        publisher: &Actor,
        mut payload: ListingPublish,
    ) -> Result<ListingPublish, ClientError> {
        let rooms = u32::from(payload.rooms).clamp(1, 4) + 1;
        // Forty looks per community, whatever the run's size: an actor keeps at most a few
        // hundred distinct photos (the store's quota), and a demo of thousands of deals reuses them.
        let look = deedlog_client::deal::sha256_hex(payload.community.as_bytes())
            .bytes()
            .fold(0u32, |a, b| (a * 31 + u32::from(b)) % 40);
        let mut photos = Vec::new();
        for n in 1..=rooms {
            let seed = format!("{look}/{n}");
            let picture = crate::photos::room_picture(seed.as_bytes(), 320, 240);
            photos.push(self.client().upload_photo(publisher, &picture)?);
        }
        photos.dedup();
        payload.photos = photos;
        Ok(payload)
    }

    fn drive(&mut self, kind: DealKind) -> Result<DealReport, ClientError> {
        let (seller, owner, property) = self.seller_and_property()?;
        let facts = PropertyFacts::from(&property);
        let buyer = self.fresh_citizen()?;
        let price = (facts.area_centi_m2 * 15_000).div_ceil(1_000_000) * 1_000_000;
        let title = format!("{}{}室{}厅", facts.community, facts.rooms, facts.halls);
        let agent = self.agent().clone();
        let mut proxy = None;
        let mut proxy_actor = None;
        let (listing, listing_code, handler) = match kind {
            DealKind::SelfListed => {
                let r = self
                    .client()
                    .verify_property(&seller, &facts.certificate_no, None)?;
                let verification = r.stream.clone();
                self.note(r);
                let payload = deal::listing_payload(
                    &facts,
                    &Publisher::Seller {
                        verification: &verification,
                        via_proxy: None,
                    },
                    price,
                    &title,
                );
                let payload = self.with_photos(&seller, payload)?;
                let r = self.client().publish_listing(&seller, &payload)?;
                let code = r.require("listing_code")?;
                let listing = r.stream.clone();
                self.note(r);
                (listing, code, seller.clone())
            }
            DealKind::AgentAssisted | DealKind::OfflineFallback | DealKind::Proxy => {
                let (acting, via) = if kind == DealKind::Proxy {
                    let proxy_party = self.fresh_citizen()?;
                    let r = self.client().file_proxy(
                        &proxy_party,
                        &seller.id,
                        &facts.id,
                        vec![
                            ProxyAction::VerifyProperty,
                            ProxyAction::Entrust,
                            ProxyAction::Contract,
                        ],
                        now_ms() + 30 * DAY_MS,
                    )?;
                    let px = r.stream.clone();
                    self.note(r);
                    // The office checks the principal's ID card in person and gets the
                    // commitment of the number it read.
                    let checked = self.client().office_commitments(
                        &self.shared.cast.office,
                        &seller.id,
                        &owner,
                    )?;
                    let id_commitment = checked
                        .get("id_commitment")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let r = self.client().verify_proxy(
                        &self.shared.cast.office,
                        &px,
                        &id_commitment,
                    )?;
                    self.note(r);
                    proxy = Some(px.clone());
                    proxy_actor = Some(proxy_party.clone());
                    (proxy_party, Some(px))
                } else {
                    (seller.clone(), None)
                };
                let r = self.client().verify_property(
                    &acting,
                    &facts.certificate_no,
                    via.as_deref(),
                )?;
                let verification = r.stream.clone();
                self.note(r);
                let review = kind == DealKind::AgentAssisted && (self.index / 4) % 2 == 1;
                let entrust = EntrustSale {
                    verification: verification.clone(),
                    agent: agent.id.clone(),
                    floor_price_fen: price / 100 * 95,
                    expires_at_ms: now_ms() + 90 * DAY_MS,
                    review_agent_edits: review,
                    via_proxy: via.clone(),
                };
                let r = self.client().entrust_sale(&acting, &entrust)?;
                let entrustment = r.stream.clone();
                self.note(r);
                let r = self.client().accept_entrustment(&agent, &entrustment)?;
                self.note(r);
                let payload = deal::listing_payload(
                    &facts,
                    &Publisher::Agent {
                        entrustment: &entrustment,
                    },
                    price,
                    &title,
                );
                let payload = self.with_photos(&agent, payload)?;
                let r = self.client().publish_listing(&agent, &payload)?;
                let code = r.require("listing_code")?;
                let listing = r.stream.clone();
                let proposal = r.seq;
                let proposed = r.kind == "ListingPublicationProposed";
                self.note(r);
                if proposed {
                    let r = self.client().approve_listing(&seller, &listing, proposal)?;
                    self.note(r);
                }
                (listing, code, agent.clone())
            }
        };
        let viewing = self.viewing(&buyer, &handler, &listing)?;
        if kind == DealKind::AgentAssisted {
            let stars = if self.index.is_multiple_of(3) { 4 } else { 5 };
            let r = self
                .client()
                .rate_viewing(&buyer, &viewing, stars, "讲解细致，守时")?;
            self.note(r);
            let bank = self.bank().clone();
            let r = self
                .client()
                .request_loan(&buyer, &viewing, &bank.id, price / 10 * 6, 240)?;
            let precheck = r.stream.clone();
            self.note(r);
            let r = self.client().assess_loan(
                &bank,
                &precheck,
                LoanResult::Approved,
                Some(price / 10 * 6),
                now_ms() + 90 * DAY_MS,
            )?;
            self.note(r);
        }
        let self_listed = kind == DealKind::SelfListed;
        let terms = deal::lump_sum_terms(
            &facts,
            &seller.id,
            &buyer.id,
            (!self_listed).then_some(agent.id.as_str()),
            price,
            now_ms(),
        );
        let document = deal::document_hash(&terms)?;
        let drafter = if self_listed { &buyer } else { &agent };
        let r = self
            .client()
            .draft_contract(drafter, &listing, &buyer.id, terms, None)?;
        let contract = r.stream.clone();
        self.note(r);
        match kind {
            DealKind::OfflineFallback => {
                let r =
                    self.client()
                        .move_offline(&buyer, &contract, "电子签名失败，转线下签约")?;
                self.note(r);
                let scan = deal::sha256_hex(format!("scan of {contract}").as_bytes());
                let r = self
                    .client()
                    .verify_offline(&self.shared.cast.office, &contract, &scan)?;
                self.note(r);
            }
            DealKind::SelfListed => {
                self.confirm_and_sign(&contract, &document, &[(&buyer, None), (&seller, None)])?;
            }
            DealKind::AgentAssisted => {
                self.confirm_and_sign(
                    &contract,
                    &document,
                    &[(&buyer, None), (&seller, None), (&agent, None)],
                )?;
            }
            DealKind::Proxy => {
                let proxy_party = proxy_actor
                    .clone()
                    .ok_or_else(|| ClientError::Limit("the proxy party is not known".into()))?;
                let via = proxy.clone();
                self.confirm_and_sign(
                    &contract,
                    &document,
                    &[
                        (&buyer, None),
                        (&proxy_party, via.as_deref()),
                        (&agent, None),
                    ],
                )?;
            }
        }
        let r = self
            .client()
            .file_contract(&self.shared.cast.housing, &contract)?;
        let filing_code = r.require("filing_code")?;
        self.note(r);
        Ok(DealReport {
            index: self.index,
            kind,
            property: facts.id,
            seller: seller.id,
            buyer: buyer.id,
            agent: (!self_listed).then(|| agent.id.clone()),
            proxy,
            listing,
            listing_code,
            contract,
            filing_code,
            seqs: self.seqs.clone(),
        })
    }
}

fn drive_deal(shared: &Shared<'_>, index: usize) -> Result<DealReport, DealFailure> {
    let kind = DealKind::of_index(index);
    let mut run = Run {
        shared,
        index,
        seqs: Vec::new(),
    };
    run.drive(kind).map_err(|e| DealFailure {
        index,
        kind,
        error: e.to_string(),
        seqs: run.seqs.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_take_turns_and_options_are_bounded() {
        let kinds: Vec<DealKind> = (0..5).map(DealKind::of_index).collect();
        assert_eq!(
            kinds,
            vec![
                DealKind::AgentAssisted,
                DealKind::SelfListed,
                DealKind::OfflineFallback,
                DealKind::Proxy,
                DealKind::AgentAssisted
            ]
        );
        let mut o = DemoOptions::new("http://127.0.0.1:9", std::path::Path::new("/nonexistent"));
        o.deals = 0;
        assert!(matches!(run(&o, &mut |_| {}), Err(DemoError::Options(_))));
        o.deals = 1;
        assert!(matches!(run(&o, &mut |_| {}), Err(DemoError::Client(_))));
    }
}
