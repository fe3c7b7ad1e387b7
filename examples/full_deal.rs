//! One agent-assisted resale deal, step by step, against a running server: each signed command,
//! the seq the log gave it, the filing code, and finally the contract's proof checked here,
//! offline, against the log key — together with a proof that the log only grew meanwhile.
//!
//! ```text
//! deedlog serve &                                  # in another terminal
//! cargo run --example full_deal -- [SERVER] [DATA_DIR]
//! ```
//!
//! `SERVER` defaults to `$DEEDLOG_SERVER` or `http://127.0.0.1:8080`; `DATA_DIR` (the server's
//! data folder, for the keys of the housing authority and the agents the embedded default holds,
//! and the log key) to `$DEEDLOG_DATA` or `ledger-data/store`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use deedlog_client::actor::{now_ms, random_suffix};
use deedlog_client::deal::{self, DAY_MS, PropertyFacts, Publisher};
use deedlog_client::keys::KeyDir;
use deedlog_client::{Client, ClientError, Outbox, Receipt};
use deedlog_domain::payload::EntrustSale;
use deedlog_tools::{demo, people};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn step(what: &str, r: Receipt) -> Receipt {
    println!("seq {:>6}  {what:<42} {} on {}", r.seq, r.kind, r.stream);
    r
}

fn run() -> Result<(), ClientError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = args
        .first()
        .cloned()
        .or_else(|| std::env::var("DEEDLOG_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let data = PathBuf::from(
        args.get(1)
            .cloned()
            .or_else(|| std::env::var("DEEDLOG_DATA").ok())
            .unwrap_or_else(|| "ledger-data/store".to_owned()),
    );
    let keys = KeyDir::of_data_dir(&data);
    // The identity authority's SMS codes, read from the server's outbox as its operator.
    let outbox = Outbox::of_data_dir(&data);
    let log_key = keys.log_vkey()?;
    let client = Client::new(&server)?;
    let before = client.verified_checkpoint(&log_key)?;
    println!("log at {} entries, checkpoint verified", before.size);

    // The cast: the housing authority and an agent from the data folder, the best-rated first.
    let housing = keys.actor("authority/housing")?;
    let ranked = client.get("/v1/agents?limit=20", None)?;
    let agent_id = ranked["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_str())
        .find(|id| keys.has(id))
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Limit("no agent with a key in the data folder".into()))?;
    let agent = keys.actor(&agent_id)?;

    // The seller: an owner on the registry, real-name verified; the first property that can be
    // verified for sale right now.
    let root = demo::citizen_root(&keys)?;
    let mut properties = people::properties(PathBuf::from("ledger-data/reference").as_path())?;
    let start = usize::from_str_radix(&random_suffix()[..6], 16).unwrap_or(0) % properties.len();
    properties.rotate_left(start);
    let (seller, property, verification) = properties
        .iter()
        .filter(|p| p.is_simple_sale())
        .find_map(|p| {
            let owner = p.owners().remove(0);
            let seller = demo::citizen_actor(&root, &owner);
            let enrolled = client.enroll(&seller, &owner, &outbox).ok()?;
            if let Some(r) = enrolled.registered {
                step("party.register (seller)", r);
            }
            if let Some(r) = enrolled.attested {
                step("party.attest_identity (seller)", r);
            }
            let r = client
                .verify_property(&seller, &p.certificate_no, None)
                .ok()?;
            Some((seller, p.clone(), step("property.verify 房源核验", r)))
        })
        .ok_or_else(|| ClientError::Limit("no property could be verified".into()))?;
    let facts = PropertyFacts::from(&property);
    println!(
        "  verification code {}",
        verification.require("verification_code")?
    );

    // The buyer: someone on the population register who owns nothing there.
    let owners: Vec<String> = properties
        .iter()
        .flat_map(|p| p.owners())
        .map(|o| o.id_number)
        .collect();
    let mut population = people::population(PathBuf::from("ledger-data/reference").as_path())?;
    population.retain(|p| !owners.contains(&p.id_number));
    let start =
        usize::from_str_radix(&random_suffix()[..6], 16).unwrap_or(0) % population.len().max(1);
    population.rotate_left(start);
    let (buyer, enrolled) = population
        .iter()
        .find_map(|person| {
            let buyer = demo::citizen_actor(&root, person);
            let enrolled = client.enroll(&buyer, person, &outbox).ok()?;
            Some((buyer, enrolled))
        })
        .ok_or_else(|| ClientError::Limit("no buyer could be enrolled".into()))?;
    if let Some(r) = enrolled.registered {
        step("party.register (buyer)", r);
    }
    if let Some(r) = enrolled.attested {
        step("party.attest_identity (buyer)", r);
    }

    let price = (facts.area_centi_m2 * 15_000).div_ceil(1_000_000) * 1_000_000;
    let r = step(
        "entrustment.sale 委托出售",
        client.entrust_sale(
            &seller,
            &EntrustSale {
                verification: verification.stream.clone(),
                agent: agent.id.clone(),
                floor_price_fen: price / 100 * 95,
                expires_at_ms: now_ms() + 90 * DAY_MS,
                review_agent_edits: false,
                via_proxy: None,
            },
        )?,
    );
    let entrustment = r.stream;
    step(
        "entrustment.accept",
        client.accept_entrustment(&agent, &entrustment)?,
    );
    let listing = step(
        "listing.publish 发布房源",
        client.publish_listing(
            &agent,
            &deal::listing_payload(
                &facts,
                &Publisher::Agent {
                    entrustment: &entrustment,
                },
                price,
                "南北通透两居室",
            ),
        )?,
    );
    println!("  listing code {}", listing.require("listing_code")?);

    let slot = now_ms() + 1_500;
    let viewing = step(
        "viewing.book",
        client.book_viewing(&buyer, &listing.stream, slot, slot + 3_600_000)?,
    )
    .stream;
    step("viewing.confirm", client.confirm_viewing(&agent, &viewing)?);
    std::thread::sleep(Duration::from_millis(1_600));
    step(
        "viewing.record",
        client.record_viewing(&agent, &viewing, "看房约30分钟")?,
    );
    step(
        "viewing.rate",
        client.rate_viewing(&buyer, &viewing, 5, "讲解细致")?,
    );

    let terms = deal::lump_sum_terms(
        &facts,
        &seller.id,
        &buyer.id,
        Some(&agent.id),
        price,
        now_ms(),
    );
    let document = deal::document_hash(&terms)?;
    let contract = step(
        "contract.draft 网签",
        client.draft_contract(&agent, &listing.stream, &buyer.id, terms, None)?,
    )
    .stream;
    for who in [&buyer, &seller, &agent] {
        step(
            &format!("contract.confirm ({})", who.id),
            client.confirm_contract(who, &contract, &document, None)?,
        );
    }
    for who in [&buyer, &seller, &agent] {
        step(
            &format!("contract.sign ({})", who.id),
            client.sign_contract(who, &contract, &document, None)?,
        );
    }
    let filed = step(
        "contract.file 备案赋码",
        client.file_contract(&housing, &contract)?,
    );
    let filing_code = filed.require("filing_code")?;
    println!("  filing code {filing_code}");

    // The proof, checked here: the filing entry's signature, its inclusion under a checkpoint
    // signed by the log key, and that checkpoint's consistency with the one seen at the start.
    let verified = client.verify_contract(&filing_code, &log_key, Some(&before))?;
    let mut seen = std::collections::BTreeSet::new();
    for b in verified.bundles.iter().filter(|b| seen.insert(b.entry.seq)) {
        println!(
            "proof verified offline: seq {} ({}) is leaf {} of a tree of {} entries; \
             the log grew from {} consistently",
            b.entry.seq,
            b.entry.kind,
            deedlog_core::hash::to_hex(&b.leaf_hash),
            b.checkpoint.size,
            before.size
        );
    }
    Ok(())
}
