//! One in-process deedlog node and its actix application, built once per fuzzing process on a
//! temporary data folder, that fuzz inputs are posted to as command bodies.
//!
//! actix services are neither `Send` nor nameable, so the application lives on a thread of its
//! own running an actix system; the fuzz target hands it jobs over a channel and waits for the
//! answer. libFuzzer calls the target from one thread, one input at a time, so jobs never
//! overlap and "the log's size before and after" measures exactly what one input appended.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use actix_web::test as web_test;
use deedlog_api::{ApiConfig, AppState, auth::sign_request};
use deedlog_core::{Command, SecretKey};
use deedlog_node::{Node, NodeOptions};
use serde_json::{Value, json};

/// What to post.
pub enum Job {
    /// `body` verbatim to `POST /v1/commands/{kind}`.
    Raw {
        /// The kind in the path.
        kind: String,
        /// The body, sent as `application/json`.
        body: Vec<u8>,
    },
    /// A command built from the fuzz input and signed with a key the harness holds, so that
    /// inputs get past the signature check into the domain's rules.
    Signed {
        /// The command kind (also the path's).
        kind: String,
        /// Which of [`Harness::signers`] signs.
        signer: usize,
        /// The command's stream.
        stream: String,
        /// The command's payload.
        payload: Value,
        /// The command's `expected_version`.
        expected_version: Option<u64>,
    },
}

/// The server's answer to one job.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// Entries the log gained while the request ran.
    pub appended: u64,
    /// The answer's body.
    pub body: Vec<u8>,
}

/// The running application.
pub struct Harness {
    jobs: mpsc::Sender<(Job, mpsc::Sender<Answer>)>,
    /// The actors whose keys the harness signs with, in a fixed order.
    pub signers: Vec<String>,
}

impl Harness {
    /// Posts one job and waits for the answer.
    ///
    /// # Panics
    /// If the application thread died (a panic inside the server is a finding).
    #[must_use]
    pub fn post(&self, job: Job) -> Answer {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send((job, tx))
            .expect("the application thread is running");
        rx.recv().expect("the application thread answered")
    }
}

/// The harness of this process, started on first use.
///
/// # Panics
/// If the node or the application cannot be set up (not a finding: the harness is broken).
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(start)
}

const SELLER: (&str, &str, &str) = ("邓婷", "530111197905129301", "19150620624");
const BUYER: (&str, &str, &str) = ("江晶梅", "530115197012256843", "18281365745");
const AGENT_PERSON: (&str, &str, &str) = ("魏林", "530102195908253193", "15030997123");
const CERT: &str = "云(2021)昆明市不动产权第0012345号";

/// A tiny reference set: one property, agency, agent, bank and office (the same shape as the
/// API's own tests), so that the node starts in well under a second.
fn write_reference(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let person = |p: (&str, &str, &str)| json!({"name": p.0, "id_number": p.1, "phone": p.2});
    let mut owner = person(SELLER);
    owner["share_percent"] = json!(100);
    let mut agent = person(AGENT_PERSON);
    agent["agent_id"] = json!("AT-0001");
    agent["licence_no"] = json!("KMJJR-2020-0001");
    std::fs::write(
        dir.join("properties.json"),
        json!([{"certificate_no": CERT, "district": "五华区", "community": "翠湖花园",
                "address": "五华区翠湖南路8号1栋1单元501", "area_centi_m2": 8950, "rooms": 2, "halls": 1,
                "bathrooms": 1, "floor": 5, "floors_total": 7, "built_year": 2005, "usage": "住宅",
                "owners": [owner], "mortgage": null, "seizure": null}])
        .to_string(),
    )?;
    std::fs::write(
        dir.join("agencies.json"),
        json!([{"agency_id": "AG-0001", "name": "昆明测试房产经纪有限公司", "licence_no": "KMJJ-2023-0001",
                "district": "五华区", "address": "五华区东风西路1号", "agents": [agent]}])
        .to_string(),
    )?;
    std::fs::write(
        dir.join("banks.json"),
        json!([{"bank_id": "BK-01", "name": "中国工商银行", "branch": "昆明分行"}]).to_string(),
    )?;
    std::fs::write(
        dir.join("offices.json"),
        json!([{"office_id": "OF-01", "name": "五华区办理点", "district": "五华区", "address": "五华区人民中路2号",
                "hours": "周一至周五 9:00-17:00", "phone": "0871-63000000"}])
        .to_string(),
    )
}

fn start() -> Harness {
    let (jobs, rx) = mpsc::channel::<(Job, mpsc::Sender<Answer>)>();
    let (ready_tx, ready_rx) = mpsc::channel::<Vec<String>>();
    std::thread::spawn(move || {
        // The folder lives as long as the process; scripts/fuzz.sh points TMPDIR into the fuzz
        // crate's target folder and removes it afterwards.
        let dir = tempfile::Builder::new()
            .prefix("deedlog-fuzz-")
            .tempdir()
            .expect("a temporary folder");
        write_reference(&dir.path().join("reference")).expect("reference data written");
        let mut options = NodeOptions::new(dir.path().join("data"));
        options.reference_dir = Some(dir.path().join("reference"));
        options.sequencer.batch_wait = Duration::from_micros(50);
        options.sequencer.verify_threads = 1;
        actix_web::rt::System::new().block_on(async move {
            let _dir = dir;
            let node = Node::open(options).expect("the node opens");
            let config = ApiConfig {
                // One client posting as fast as it can is the point here, not a flood.
                rate_per_second: None,
                ..ApiConfig::default()
            };
            let state = AppState::new(node.clone(), config);
            let app = web_test::init_service(deedlog_api::app(state)).await;
            let mut keys: Vec<(String, SecretKey)> = Vec::new();
            let mut nonce: u64 = 0;
            let mut next_nonce = move || {
                nonce += 1;
                format!("fuzz-nonce-{nonce:010}")
            };
            // Two real-name parties, so party-signed commands reach their own rules. Best
            // effort: when the identity flow changes, the parties are left out and the other
            // signers still are used.
            for (who, person) in [("party/PA-seller", SELLER), ("party/PA-buyer", BUYER)] {
                let secret = deedlog_node::keys::generate();
                let req = web_test::TestRequest::post()
                    .uri("/v1/identity/phone-commitment")
                    .set_json(json!({"phone": person.2}))
                    .to_request();
                let res = web_test::call_service(&app, req).await;
                let body: Value =
                    serde_json::from_slice(&web_test::read_body(res).await).unwrap_or_default();
                let Some(phone_commitment) = body["phone_commitment"].as_str() else {
                    continue;
                };
                let Ok(signed) = (Command {
                    actor: who.to_owned(),
                    key: secret.public().to_base64(),
                    kind: "party.register".to_owned(),
                    stream: who.to_owned(),
                    expected_version: None,
                    payload: json!({"phone_commitment": phone_commitment}),
                    nonce: next_nonce(),
                    issued_at_ms: node.now_ms(),
                })
                .sign(&secret) else {
                    continue;
                };
                let req = web_test::TestRequest::post()
                    .uri("/v1/commands/party.register")
                    .set_json(&signed)
                    .to_request();
                let res = web_test::call_service(&app, req).await;
                if res.status().as_u16() != 201 {
                    continue;
                }
                let _ = node
                    .views()
                    .wait_applied(node.reader().size(), Duration::from_secs(10))
                    .await;
                let body = json!({"name": person.0, "id_number": person.1, "phone": person.2,
                                  "method": "online_face"})
                .to_string();
                let mut req = web_test::TestRequest::post()
                    .uri("/v1/identity/attest")
                    .set_payload(body.clone())
                    .insert_header(("content-type", "application/json"));
                for (k, v) in sign_request(
                    &secret,
                    who,
                    "POST",
                    "/v1/identity/attest",
                    node.now_ms(),
                    body.as_bytes(),
                ) {
                    req = req.insert_header((k, v));
                }
                let _ = web_test::call_service(&app, req.to_request()).await;
                keys.push((who.to_owned(), secret));
            }
            let held = node.keys();
            let mut actors: Vec<String> = held.actors().map(str::to_owned).collect();
            actors.sort();
            for actor in actors {
                if let Some(secret) = held.get(&actor) {
                    keys.push((actor, secret.clone()));
                }
            }
            let _ = ready_tx.send(keys.iter().map(|(a, _)| a.clone()).collect());
            while let Ok((job, reply)) = rx.recv() {
                let (path, body) = match job {
                    Job::Raw { kind, body } => (format!("/v1/commands/{kind}"), body),
                    Job::Signed {
                        kind,
                        signer,
                        stream,
                        payload,
                        expected_version,
                    } => {
                        let (actor, secret) = &keys[signer % keys.len()];
                        let command = Command {
                            actor: actor.clone(),
                            key: secret.public().to_base64(),
                            kind: kind.clone(),
                            stream,
                            expected_version,
                            payload,
                            nonce: next_nonce(),
                            issued_at_ms: node.now_ms(),
                        };
                        // A command the client library refuses to sign is not sent: a real
                        // client could not produce it either (the raw jobs cover such bytes).
                        let Ok(signed) = command.sign(secret) else {
                            let _ = reply.send(Answer {
                                status: 0,
                                appended: 0,
                                body: Vec::new(),
                            });
                            continue;
                        };
                        let body = serde_json::to_vec(&signed).unwrap_or_default();
                        (format!("/v1/commands/{kind}"), body)
                    }
                };
                let before = node.reader().size();
                let req = web_test::TestRequest::post()
                    .uri(&path)
                    .insert_header(("content-type", "application/json"))
                    .set_payload(body)
                    .to_request();
                let res = web_test::call_service(&app, req).await;
                let status = res.status().as_u16();
                let body = web_test::read_body(res).await.to_vec();
                let after = node.reader().size();
                let _ = reply.send(Answer {
                    status,
                    appended: after.saturating_sub(before),
                    body,
                });
            }
        });
    });
    let signers = ready_rx.recv().expect("the application started");
    // Printed once per process, so a run's log shows whether the parties could be registered.
    eprintln!("http_command: signing as {}", signers.join(", "));
    Harness { jobs, signers }
}
