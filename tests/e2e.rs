//! End to end over a real socket: a node on a fresh data folder with the reference data, the API
//! on `127.0.0.1:0`, and the Rust client driving it — whole deals of every kind, every
//! verification endpoint with its proofs checked by core's offline verifier, the SSE follow
//! stream, private reads, a restart in the middle of a demo run with nothing acknowledged lost,
//! and an offline verification of the whole log afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use deedlog_api::{ApiConfig, Running};
use deedlog_client::actor::{self, Actor};
use deedlog_client::keys::KeyDir;
use deedlog_client::{Client, ClientError, proof};
use deedlog_core::verify::LogVerifier;
use deedlog_node::{Node, NodeOptions};
use deedlog_tools::demo::{self, DealKind, DemoEvent, DemoOptions, DemoReport};
use deedlog_tools::{loadgen, people};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A node and its API on a tokio runtime of their own.
struct Server {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    node: Node,
    url: String,
}

impl Server {
    fn start(data: &Path, bind: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut options = NodeOptions::new(data);
        options.reference_dir = Some(repo().join("ledger-data/reference"));
        let node = {
            let _guard = runtime.enter();
            Node::open(options).expect("the node opens")
        };
        let config = ApiConfig {
            rate_per_second: None,
            // The load generator registers hundreds of parties from one address.
            newcomer_per_minute: None,
            workers: 2,
            ..ApiConfig::default()
        };
        let running = runtime
            .block_on(deedlog_api::start(node.clone(), bind, config))
            .expect("the API binds");
        let url = format!("http://{}", running.addr());
        Self {
            runtime,
            running: Some(running),
            node,
            url,
        }
    }

    fn stop(mut self) {
        if let Some(r) = self.running.take() {
            self.runtime
                .block_on(r.stop())
                .expect("the API stops cleanly");
        }
        self.node.shutdown();
    }
}

fn demo_options(url: &str, data: &Path, deals: usize, parallel: usize) -> DemoOptions {
    let mut o = DemoOptions::new(url, data);
    o.reference_dir = repo().join("ledger-data/reference");
    o.deals = deals;
    o.parallel = parallel;
    o.retry_for = Duration::from_secs(60);
    o.viewing_lead = Duration::from_millis(800);
    o
}

fn assert_all_filed(report: &DemoReport, deals: usize) {
    assert!(
        report.failed.is_empty(),
        "failed deals: {:#?}",
        report.failed
    );
    assert_eq!(report.deals.len(), deals);
    for d in &report.deals {
        assert!(d.listing_code.starts_with("LV-"), "{d:?}");
        assert!(d.filing_code.starts_with("FC-"), "{d:?}");
    }
}

/// Every entry and checkpoint fetched over the API, verified by core's offline verifier.
fn verify_whole_log(client: &Client, log_key: &str, origin: &str) -> u64 {
    let size = client
        .verified_checkpoint(log_key)
        .expect("the latest checkpoint verifies")
        .size;
    let entries = client.all_entries(0, size).expect("the log exports");
    assert_eq!(entries.len() as u64, size);
    let checkpoints = client.checkpoints(1, size).expect("checkpoints");
    assert!(!checkpoints.is_empty());
    let mut verifier = LogVerifier::new(origin, log_key).expect("the log key parses");
    let mut pending = checkpoints.into_iter().peekable();
    for (i, item) in entries.iter().enumerate() {
        verifier.push_entry(&item.bytes);
        if let Some(opening) = &item.opening {
            verifier.push_opening(i as u64, opening);
        }
        while let Some((s, note)) = pending.next_if(|(s, _)| *s <= i as u64 + 1) {
            assert!(s >= 1);
            verifier.push_checkpoint(note.as_bytes());
        }
    }
    let report = verifier.finish();
    assert!(report.is_clean(), "faults: {:#?}", report.faults);
    size
}

#[test]
fn deals_of_every_kind_and_every_proof_checked_on_the_client() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let data = tmp.path().join("data");
    let server = Server::start(&data, "127.0.0.1:0");
    let keys = KeyDir::of_data_dir(&data);
    let log_key = keys.log_vkey().expect("DATA/log.vkey");
    let origin = server.node.origin().to_owned();
    let client = Client::new(&server.url).expect("a client");
    let first = client.verified_checkpoint(&log_key).expect("a checkpoint");

    // Four complete deals, one of each kind, two at a time.
    let mut steps = Vec::new();
    let report = demo::run(&demo_options(&server.url, &data, 4, 2), &mut |e| {
        if let DemoEvent::Step { seq, command, .. } = e {
            steps.push((*seq, command.clone()));
        }
    })
    .expect("the demo runs");
    assert_all_filed(&report, 4);
    assert_eq!(report.open_listings.len(), 2);
    let search = client
        .listings("limit=100", report.seqs.last().copied())
        .expect("listing search");
    for l in &report.open_listings {
        assert!(
            search.to_string().contains(&l.listing),
            "{l:?} not in {search}"
        );
        let v = client
            .verify_listing(&l.listing_code, &log_key, None)
            .expect("an open listing verifies");
        assert_eq!(v.answer["listing"]["status"], "active");
    }
    let kinds: Vec<DealKind> = report.deals.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DealKind::AgentAssisted,
            DealKind::SelfListed,
            DealKind::OfflineFallback,
            DealKind::Proxy
        ]
    );

    // Every verification endpoint, each proof checked here, and each checkpoint shown to extend
    // the one seen before the deals.
    for d in &report.deals {
        let v = client
            .verify_listing(&d.listing_code, &log_key, Some(&first))
            .expect("the listing verifies");
        assert_eq!(v.answer["listing"]["id"], d.listing.as_str());
        assert!(v.bundles.iter().any(|b| b.entry.stream == d.listing));
        let v = client
            .verify_contract(&d.filing_code, &log_key, Some(&first))
            .expect("the contract verifies");
        let filing = &v.bundles[0].entry;
        assert_eq!(filing.stream, d.contract);
        assert_eq!(filing.kind, "ContractFiled");
        assert_eq!(filing.derived["filing_code"], d.filing_code.as_str());
    }
    let offline = &report.deals[2];
    let scan = format!("scan of {}", offline.contract);
    let v = client
        .verify_document(scan.as_bytes(), &log_key, Some(&first))
        .expect("the scan verifies");
    assert_eq!(v.answer["matches"][0]["what"], "offline_scan");
    assert_eq!(v.bundles[0].entry.stream, offline.contract);
    let nothing = client.verify_document(b"never uploaded", &log_key, None);
    assert!(
        matches!(nothing, Err(ClientError::BadResponse { .. })),
        "{nothing:?}"
    );
    let unknown = client.verify_listing("LV-0000000000000000", &log_key, None);
    assert_eq!(unknown.err().and_then(|e| e.status()), Some(404));

    // Entry by seq with its proof against an older checkpoint, and the consistency proof.
    let latest = client.verified_checkpoint(&log_key).expect("checkpoint");
    let seq = report.deals[0].seqs[0];
    let e = client.entry(seq, Some(seq + 1)).expect("entry");
    let bundle = e.bundle.expect("a proof bundle");
    let verified = proof::verify_bundle(&bundle, &log_key).expect("the bundle verifies");
    assert_eq!(verified.entry.seq, seq);
    client
        .check_extends(&verified.checkpoint, &latest)
        .expect("consistent");
    client.check_extends(&first, &latest).expect("consistent");

    // Every acknowledged step is in the log with the kind its receipt said.
    for (seq, kind) in &steps {
        let e = deedlog_core::LoggedEntry::decode(&client.entry(*seq, None).expect("entry").bytes)
            .expect("decodes");
        assert_eq!(&e.kind, kind, "seq {seq}");
    }

    // SSE follow from a given seq delivers the entries in order, byte for byte.
    let from = latest.size - 20;
    let expected = client.entries(from, latest.size).expect("range");
    let followed: Vec<deedlog_client::FeedEntry> = client
        .follow(from, Duration::from_secs(5))
        .expect("follow")
        .take(expected.len())
        .collect::<Result<_, _>>()
        .expect("events");
    assert_eq!(followed, expected);

    // A private read: the seller sees its contract; unsigned, or signed by someone else,
    // refused.
    let root = demo::citizen_root(&keys).expect("root key");
    let registry = people::properties(&repo().join("ledger-data/reference")).expect("registry");
    let d = &report.deals[1];
    let property = registry
        .iter()
        .find(|p| p.id == d.property)
        .expect("the deal's property");
    let seller = demo::citizen_actor(&root, &property.owners()[0]);
    assert_eq!(seller.id, d.seller);
    let path = format!(
        "/v1/parties/{}/contracts",
        seller.id.trim_start_matches("party/")
    );
    let mine = client
        .signed_get(&seller, &path, Some(latest.size - 1))
        .expect("the seller reads its contracts");
    assert!(mine.to_string().contains(&d.contract), "{mine}");
    assert_eq!(
        client
            .my_list(&seller, "contracts", None)
            .expect("the same through my_list"),
        mine
    );
    let contract = client
        .private(&seller, &d.contract, None)
        .expect("the seller reads the contract");
    assert!(contract.to_string().contains(&d.filing_code), "{contract}");
    let registry_actor = keys.actor("authority/registry").expect("registry key");
    filed_contract_pdf(
        &client,
        &server.url,
        &log_key,
        (&seller, &registry_actor),
        d,
        &report.deals[0],
        &property.record.address,
    );
    let rated = client.agents_by_rating(None).expect("agents by rating");
    assert!(!rated["items"].as_array().expect("items").is_empty());
    let agent = report.deals[0].agent.clone().expect("an agent deal");
    client
        .public(&agent, None)
        .expect("the agent's public page");
    client
        .public(&report.deals[0].listing, None)
        .expect("the listing's public page");
    let unsigned = client.get(&path, None);
    assert_eq!(unsigned.err().and_then(|e| e.status()), Some(401));
    let other = keys.actor("authority/registry").expect("registry key");
    let foreign = client.signed_get(&other, &path, None);
    assert_eq!(foreign.err().and_then(|e| e.status()), Some(403));

    // A rejection appends nothing: the checkpoint size does not move.
    let housing = keys.actor("authority/housing").expect("housing key");
    let before = client.checkpoint().expect("checkpoint");
    let again = client.file_contract(&housing, &report.deals[0].contract);
    assert!(
        again.as_ref().is_err_and(|e| e.is("contract.status")),
        "{again:?}"
    );
    assert_eq!(client.checkpoint().expect("checkpoint").note, before.note);

    // The whole log, fetched over the API, verifies offline.
    verify_whole_log(&client, &log_key, &origin);

    // Who sees what, after deals of every kind: the public feed shows no opening of a
    // confidential kind and no confidential field, yet every entry verified above; the housing
    // authority gets every payload; the registry, a party of none of these streams, does not.
    let size = client
        .verified_checkpoint(&log_key)
        .expect("checkpoint")
        .size;
    let public = client.all_entries(0, size).expect("the public feed");
    let mut sealed = 0;
    // The registry signed the property registrations: those it reads whole as their signer.
    let mut sealed_not_by_registry = 0;
    for item in &public {
        let e = deedlog_core::LoggedEntry::decode(&item.bytes).expect("decodes");
        let kind = e.command_kind().to_owned();
        let visibility = deedlog_domain::table::spec(&kind)
            .expect("a known kind")
            .visibility;
        match &item.opening {
            None if e.version() == 2 => {
                sealed += 1;
                if e.actor() != "authority/registry" {
                    sealed_not_by_registry += 1;
                }
                assert_ne!(
                    visibility,
                    deedlog_domain::table::Visibility::Public,
                    "{kind}"
                );
            }
            None => {}
            Some(o) => {
                assert_ne!(
                    visibility,
                    deedlog_domain::table::Visibility::Confidential,
                    "the public got the payload of {kind} at {}",
                    e.seq
                );
                let text = String::from_utf8_lossy(o);
                for field in [
                    "\"terms\"",
                    "\"floor_price_fen\"",
                    "\"budget_max_fen\"",
                    "\"term_months\"",
                    "\"remarks\"",
                    "\"comment\"",
                    "\"note\"",
                    "\"scope\"",
                    "\"reason\"",
                    "\"stars\"",
                    "\"phone_commitment\"\"",
                    "\"voucher\"",
                ] {
                    assert!(
                        !text.contains(field),
                        "seq {} ({kind}) shows {field}",
                        e.seq
                    );
                }
            }
        }
    }
    assert!(sealed > 0, "deals hold confidential entries");
    let whole = |who: &str| -> usize {
        let actor = keys.actor(who).expect("an authority key");
        let mut missing = 0;
        let mut next = 0;
        while next < size {
            let page = client
                .entries_as(Some(&actor), next, size.min(next + 1000))
                .expect("a signed read of the feed");
            assert!(!page.is_empty());
            next += page.len() as u64;
            missing += page.iter().filter(|i| i.whole().is_err()).count();
        }
        missing
    };
    assert_eq!(
        whole("authority/housing"),
        0,
        "the housing authority reads every payload"
    );
    assert_eq!(
        whole("authority/registry"),
        sealed_not_by_registry,
        "the registry reads what the public reads, and what it signed"
    );

    // The load generator against the real server: a short, bounded run of each measurement.
    let load = loadgen::LoadOptions {
        server: server.url.clone(),
        connections: 4,
        duration: Duration::from_secs(2),
        requests_max: 400,
        warmup: Duration::ZERO,
        static_path: Some("/v1/ping".into()),
        listing_codes: report
            .deals
            .iter()
            .map(|d| d.listing_code.clone())
            .collect(),
        commands: 300,
        request_timeout: Duration::from_secs(10),
        voucher_key: server.node.keys().get("authority/identity").cloned(),
    };
    let figures = loadgen::run(&load, &mut |_| {}).expect("the load generator runs");
    for m in [&figures.ceiling, &figures.verify, &figures.commands] {
        let m = m.as_ref().expect("each measurement ran");
        assert!(m.requests_ok > 0 && m.errors == 0, "{m:?}");
    }
    // The views' lag was read from /readyz after the commands, and they caught up.
    let lag = figures
        .views_lag
        .as_ref()
        .expect("the views' lag is reported");
    assert!(lag.catch_up_ms.is_some(), "{lag:?}");
    let size = client.checkpoint().expect("checkpoint");
    let grown = proof::open_checkpoint(&size.note, &log_key)
        .expect("verifies")
        .size;
    assert!(grown >= latest.size + figures.commands.map_or(0, |m| m.requests_ok));
    server.stop();
}

#[test]
fn a_restart_in_the_middle_of_a_demo_loses_nothing() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let data = tmp.path().join("data");
    let server = Server::start(&data, "127.0.0.1:0");
    let url = server.url.clone();
    let bind = url.trim_start_matches("http://").to_owned();
    let (tx, rx) = mpsc::channel::<(u64, String)>();
    let options = demo_options(&url, &data, 4, 2);
    let demo = std::thread::spawn(move || {
        demo::run(&options, &mut |e| {
            if let DemoEvent::Step { seq, command, .. } = e {
                let _ = tx.send((*seq, command.clone()));
            }
        })
    });
    // Let the demo get going, then restart the server under it.
    let mut acked = BTreeMap::new();
    while acked.len() < 30 {
        let (seq, kind) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo makes progress");
        acked.insert(seq, kind);
    }
    server.stop();
    let server = Server::start(&data, &bind);
    let report = demo
        .join()
        .expect("the demo thread does not panic")
        .expect("the demo runs");
    acked.extend(rx.try_iter());
    assert_all_filed(&report, 4);

    let client = Client::new(&server.url).expect("a client");
    let log_key = KeyDir::of_data_dir(&data).log_vkey().expect("log key");
    let origin = server.node.origin().to_owned();
    let size = verify_whole_log(&client, &log_key, &origin);
    let entries = client.all_entries(0, size).expect("the log exports");
    for (seq, kind) in &acked {
        let e = deedlog_core::LoggedEntry::decode(
            &entries[usize::try_from(*seq).expect("seq fits")].bytes,
        )
        .expect("an acknowledged entry decodes");
        assert_eq!(&e.kind, kind, "acknowledged seq {seq} changed");
    }
    // Nothing was appended twice across the restart: each acknowledged command is one entry.
    let mut nonces = std::collections::BTreeSet::new();
    for item in &entries {
        let e = deedlog_core::LoggedEntry::decode(&item.bytes).expect("decodes");
        assert!(
            nonces.insert((e.actor().to_owned(), e.nonce().to_owned())),
            "seq {} repeats a command",
            e.seq
        );
    }
    // The deals' listings are searchable after the restart (the views caught up).
    let v: Value = client
        .get("/v1/listings?limit=100", Some(size - 1))
        .expect("listings");
    assert!(v["items"].is_array());
    // Every entry was a legal step by an actor allowed to take it (the semantic audit) …
    let audit = deedlog_node::semantic_audit(server.node.reader()).expect("the log reads");
    assert!(audit.is_clean(), "audit faults: {:#?}", audit.faults);
    server.stop();
    // … and the data folder's segments verify offline, as `deedlog verify --data` does.
    let report = deedlog_store::audit::verify_segments(&data.join("log"), &origin, &log_key)
        .expect("the segments read");
    assert!(report.is_clean(), "faults: {:#?}", report.faults);
    assert_eq!(report.entries, size);
}

#[test]
fn rejections_over_the_socket_are_typed_and_append_nothing() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let data = tmp.path().join("data");
    let server = Server::start(&data, "127.0.0.1:0");
    let client = Client::new(&server.url).expect("a client");

    // An idempotent retry: the same signed command twice is one entry.
    let party = Actor::generate(format!("party/PA-{}", actor::random_suffix()));
    let person = people::generate_person();
    let outbox = deedlog_client::Outbox::of_data_dir(&data);
    let challenge = client.phone_challenge(&person.phone).expect("a challenge");
    let code = outbox.code(&challenge).expect("the SMS code");
    let payload = client
        .phone_voucher(&party, &challenge, &code)
        .expect("a voucher");
    let register = party
        .sign("party.register", &party.id, payload, Some(0))
        .expect("signs");
    let first = client.submit_signed(&register).expect("registered");
    let again = client
        .submit_signed(&register)
        .expect("a retry is answered");
    assert!(!first.duplicate && again.duplicate);
    assert_eq!((first.seq, &first.leaf_hash), (again.seq, &again.leaf_hash));
    let before = client.checkpoint().expect("checkpoint").note;

    let mut cases: Vec<(&str, u16, Result<deedlog_client::Receipt, ClientError>)> = Vec::new();
    // The same nonce on another command.
    let reused = party
        .sign_at(
            "party.register",
            &party.id,
            json!({ "phone_commitment": "ab".repeat(32) }),
            Some(0),
            register.issued_at_ms,
            &register.nonce,
        )
        .expect("signs");
    cases.push(("command.nonce_reused", 409, client.submit_signed(&reused)));
    // Issued ten minutes ago.
    let stale = party
        .sign_at(
            "key.revoke",
            &party.id,
            json!({ "key": party.key(), "reason": "lost" }),
            None,
            actor::now_ms() - 600_000,
            &actor::nonce(),
        )
        .expect("signs");
    cases.push(("command.stale", 422, client.submit_signed(&stale)));
    // A payload changed after signing.
    let mut forged = party
        .sign(
            "property.verify",
            "verification/PV-X1",
            json!({"certificate_no": "x"}),
            None,
        )
        .expect("signs");
    forged.payload = json!({ "certificate_no": "y" });
    cases.push(("command.bad_signature", 401, client.submit_signed(&forged)));
    // The wrong expected version.
    let versioned = party
        .sign(
            "property.verify",
            "verification/PV-X2",
            json!({"certificate_no": "云(2021)昆明市不动产权第0000001号"}),
            Some(5),
        )
        .expect("signs");
    cases.push((
        "stream.version_conflict",
        409,
        client.submit_signed(&versioned),
    ));
    // A party that is not real-name verified may not verify a property.
    let unverified = client.verify_property(&party, "云(2021)昆明市不动产权第0000001号", None);
    cases.push(("party.not_verified", 403, unverified));
    // A party may not file contracts.
    let filing = client.file_contract(&party, "contract/CT-X");
    cases.push(("auth.role_not_allowed", 403, filing));
    // A key the log has never seen.
    let stranger = Actor::generate("party/PA-NEVERSEEN");
    let unknown = client.verify_property(&stranger, "云(2021)昆明市不动产权第0000001号", None);
    cases.push(("auth.unknown_actor", 401, unknown));
    for (code, status, result) in cases {
        match result {
            Err(ClientError::Rejected {
                status: s, code: c, ..
            }) => assert_eq!((s, c.as_str()), (status, code)),
            other => panic!("expected {status} {code}, got {other:?}"),
        }
    }
    // Envelope errors: an unknown kind, a body for another kind, a body too large.
    let body = serde_json::to_vec(&register).expect("encodes");
    let raw = |path: &str, body: &[u8]| {
        client
            .http()
            .call("POST", path, &[], Some(("application/json", body)))
            .err()
            .and_then(|e| e.code().map(str::to_owned))
    };
    assert_eq!(
        raw("/v1/commands/no.such_kind", &body).as_deref(),
        Some("command.unknown_kind")
    );
    assert_eq!(
        raw("/v1/commands/listing.publish", &body).as_deref(),
        Some("command.kind_mismatch")
    );
    let huge = vec![b' '; 300 * 1024];
    assert_eq!(
        raw("/v1/commands/party.register", &huge).as_deref(),
        Some("request.too_large")
    );
    // Not one of them appended anything.
    assert_eq!(client.checkpoint().expect("checkpoint").note, before);
    server.stop();
}

/// Runs a poppler tool on a file and returns what it printed.
fn poppler(tool: &str, args: &[&str], file: &Path) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} (Debian poppler-utils; scripts/test.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The filed contract as PDF: the seller downloads it, it checks offline, poppler reads the
/// filing code and the Chinese address in an embedded font subset; a one-byte change, another
/// contract's filing code and a proof of an unrelated entry all fail; nobody but the parties
/// downloads it; the public check by hash says genuine for the file and not for a changed one.
fn filed_contract_pdf(
    client: &Client,
    url: &str,
    log_key: &str,
    (seller, non_party): (&Actor, &Actor),
    d: &demo::DealReport,
    other: &demo::DealReport,
    address: &str,
) {
    let pdf = client
        .contract_pdf(seller, &d.contract)
        .expect("the seller downloads the PDF");
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let checked = deedlog_pdf::check(&pdf, log_key).expect("the PDF checks offline");
    assert_eq!(checked.filing_code, d.filing_code);
    assert_eq!(checked.contract, d.contract);
    assert_eq!(checked.address, address);
    assert!(checked.signatures.len() >= 2, "{checked:?}");
    // The same request again gives the same bytes: the PDF is a function of the log.
    assert_eq!(
        client.contract_pdf(seller, &d.contract).expect("again"),
        pdf
    );

    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("contract.pdf");
    std::fs::write(&file, &pdf).expect("written");
    // pdftotext writes FILE.txt beside the file.
    poppler("pdftotext", &["-enc", "UTF-8"], &file);
    let text =
        std::fs::read_to_string(dir.path().join("contract.txt")).expect("pdftotext's output");
    let text = text.replace(char::is_whitespace, "");
    let spoken = deedlog_domain::ids::spoken_code(&d.filing_code).expect("a v1 code");
    assert!(
        text.contains(&spoken),
        "no filing code {spoken} in the text: {}",
        text.chars().take(400).collect::<String>()
    );
    assert!(
        text.contains(&address.replace(char::is_whitespace, "")),
        "no address {address} in the text"
    );
    let fonts = poppler("pdffonts", &[], &file);
    let line = fonts
        .lines()
        .find(|l| l.contains("WenQuanYi") || l.contains("wqy"))
        .unwrap_or_else(|| panic!("the CJK font is not listed:\n{fonts}"));
    // A subset's name carries a six-letter tag and `+`; the emb and sub columns say yes.
    assert!(line.contains('+'), "not a subset: {line}");
    assert!(
        line.matches("yes").count() >= 2,
        "not embedded as a subset: {line}"
    );

    // The filing entry's proof is attached a second time as a C2SP tlog-proof: poppler lists
    // both attachments, and the one it saves verifies offline, in the library and in `deedlog
    // verify --bundle`, as the proof of the filing entry.
    let listed = poppler("pdfdetach", &["-list"], &file);
    assert!(
        listed.contains(deedlog_pdf::ATTACHMENT)
            && listed.contains(deedlog_pdf::TLOG_PROOF_ATTACHMENT),
        "{listed}"
    );
    let saved = dir.path().join("filing.tlog-proof");
    poppler(
        "pdfdetach",
        &[
            "-savefile",
            deedlog_pdf::TLOG_PROOF_ATTACHMENT,
            "-o",
            saved.to_str().expect("utf-8"),
        ],
        &file,
    );
    let text = std::fs::read(&saved).expect("the saved tlog-proof");
    let key = deedlog_core::checkpoint::VerifierKey::parse(log_key).expect("the log key");
    let proved = deedlog_core::tlog_proof::TlogProof::parse(&text)
        .and_then(|p| p.verify(&key))
        .expect("the attached tlog-proof verifies");
    let filing = deedlog_pdf::extract(&pdf)
        .expect("the attached input")
        .filing;
    assert_eq!(proved.entry.seq, filing.seq);
    assert_eq!(proved.entry.command_kind(), "contract.file");
    let out = crate::common::run(&[
        "verify",
        "--bundle",
        saved.to_str().expect("utf-8"),
        "--log-key",
        log_key,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut bent = text.clone();
    let at = bent.len() / 2;
    bent[at] ^= 0x01;
    std::fs::write(&saved, &bent).expect("written");
    let out = crate::common::run(&[
        "verify",
        "--bundle",
        saved.to_str().expect("utf-8"),
        "--log-key",
        log_key,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `deedlog check --pdf` against the server: genuine, and still filed by the state map's
    // proof (exit 0); the same file with one byte changed is not genuine (exit 1).
    let check = |file: &Path| {
        let out = crate::common::run(&[
            "check",
            "--pdf",
            file.to_str().expect("utf-8"),
            "--server",
            url,
            "--log-key",
            log_key,
            "--json",
        ]);
        let v: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap_or(Value::Null);
        (out.status.code(), v)
    };
    let (code, v) = check(&file);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["current"]["state"], json!("current"), "{v}");
    assert_eq!(v["current"]["status"], json!("filed"), "{v}");
    let changed_file = dir.path().join("changed.pdf");
    let mut changed = pdf.clone();
    changed[pdf.len() / 2] ^= 0x01;
    std::fs::write(&changed_file, &changed).expect("written");
    let (code, v) = check(&changed_file);
    assert_eq!(code, Some(1), "{v}");

    // One byte changed anywhere fails.
    for at in [pdf.len() / 3, pdf.len() / 2, pdf.len() - 10] {
        let mut changed = pdf.clone();
        changed[at] ^= 0x01;
        assert!(deedlog_pdf::check(&changed, log_key).is_err(), "byte {at}");
    }
    // Attack: the PDF re-rendered with another contract's filing code (and its check URL).
    let mut input = deedlog_pdf::extract(&pdf).expect("the attached input");
    let mut forged = input.clone();
    let other_spoken = deedlog_domain::ids::spoken_code(&other.filing_code).expect("code");
    forged.filing_code = other.filing_code.clone();
    forged.check_url = forged.check_url.replace(&spoken, &other_spoken);
    let forged_pdf = deedlog_pdf::render(&forged).expect("renders");
    assert!(
        matches!(
            deedlog_pdf::check(&forged_pdf, log_key),
            Err(deedlog_pdf::PdfError::Unbound(_))
        ),
        "another contract's filing code passed"
    );
    // Attack: the filing proof swapped for the (genuine) proof of an unrelated entry, here the
    // other contract's filing.
    let answer = client
        .verify_contract(&other.filing_code, log_key, None)
        .expect("the other contract verifies");
    input.filing = serde_json::from_value(answer.answer["proof"].clone()).expect("a bundle");
    let swapped = deedlog_pdf::render(&input).expect("renders");
    assert!(
        matches!(
            deedlog_pdf::check(&swapped, log_key),
            Err(deedlog_pdf::PdfError::Unbound(_) | deedlog_pdf::PdfError::Proof { .. })
        ),
        "an unrelated proof passed"
    );

    // Only the parties download it.
    let path = format!(
        "/v1/contracts/{}/pdf",
        d.contract.trim_start_matches("contract/")
    );
    let unsigned = client.get(&path, None);
    assert_eq!(unsigned.err().and_then(|e| e.status()), Some(401));
    let stranger = Actor::generate("party/PA-NEVERSEEN");
    let refused = client.contract_pdf(&stranger, &d.contract);
    assert_eq!(refused.err().and_then(|e| e.status()), Some(401));
    let refused = client.contract_pdf(non_party, &d.contract);
    assert_eq!(refused.err().and_then(|e| e.status()), Some(403));

    // The public check by hash: genuine for the file, not for a changed one.
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    let url = format!("/v1/verify/contract/{spoken}/pdf/{}", sha(&pdf));
    let v = client.get(&url, None).expect("the hash check answers");
    assert_eq!(v["genuine"], json!(true), "{v}");
    assert_eq!(v["current"], json!(true), "{v}");
    let mut changed = pdf.clone();
    changed[pdf.len() / 2] ^= 1;
    let url = format!("/v1/verify/contract/{spoken}/pdf/{}", sha(&changed));
    let v = client.get(&url, None).expect("the hash check answers");
    assert_eq!(v["genuine"], json!(false), "{v}");
}
