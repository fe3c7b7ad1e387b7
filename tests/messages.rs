//! Online messages over a real socket: a node with the reference data, one demo deal (a filed
//! contract) and one open listing with an agent, then conversations between their sides — and
//! every attack on them refused with nothing stored: a stranger, a buyer of another listing,
//! another agent, an agent whose entrustment was revoked, unsigned and replayed requests,
//! another party's key, oversized and unbounded input, personal data, a flood. No message text
//! reaches a public answer or the log's bytes, and an erasure removes the erased party's texts.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deedlog_api::{ApiConfig, Running};
use deedlog_client::Client;
use deedlog_client::actor::{Actor, now_ms, random_suffix};
use deedlog_client::client::request_headers;
use deedlog_client::keys::KeyDir;
use deedlog_domain::reference::Person;
use deedlog_node::{Node, NodeOptions};
use deedlog_tools::demo::{self, DemoOptions};
use deedlog_tools::people;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Server {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    node: Node,
    addr: String,
}

impl Server {
    fn start(data: &Path) -> Self {
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
            newcomer_per_minute: None,
            workers: 2,
            ..ApiConfig::default()
        };
        let running = runtime
            .block_on(deedlog_api::start(node.clone(), "127.0.0.1:0", config))
            .expect("the API binds");
        let addr = running.addr().to_string();
        Self {
            runtime,
            running: Some(running),
            node,
            addr,
        }
    }

    fn stop(mut self) {
        if let Some(r) = self.running.take() {
            self.runtime.block_on(r.stop()).expect("the API stops");
        }
        self.node.shutdown();
    }
}

/// One HTTP/1.1 request on its own connection: `(status, headers, body)`.
fn raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head[9..12].parse().expect("a status");
    let mut body = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(i) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// A signed request by `actor`: `(status, headers, body as JSON)`.
fn signed(
    addr: &str,
    actor: &Actor,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, Value) {
    let headers = request_headers(actor, method, path, body, now_ms());
    let (s, h, b) = raw(addr, method, path, &headers, body);
    (s, h, json_of(&b))
}

fn post_text(addr: &str, actor: &Actor, path: &str, text: &str) -> (u16, String, Value) {
    let body = json!({ "text": text }).to_string();
    signed(addr, actor, "POST", path, body.as_bytes())
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// A verified party for a person of the register who owns nothing and is not registered yet.
fn fresh_party(client: &Client, data: &Path, pool: &mut Vec<Person>) -> Actor {
    let outbox = deedlog_client::Outbox::of_data_dir(data);
    while let Some(person) = pool.pop() {
        let actor = Actor::generate(format!("party/PA-M{}", random_suffix()));
        match client.enroll(&actor, &person, &outbox) {
            Ok(_) => return actor,
            Err(e) if e.is("party.phone_taken") || e.is("party.id_taken") => {}
            Err(e) => panic!("enroll: {e}"),
        }
    }
    panic!("nobody left on the register")
}

/// Every file's bytes under `dir`.
fn all_bytes(dir: &Path, out: &mut Vec<u8>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_bytes(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.extend_from_slice(&b);
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn conversations_are_private_bounded_and_off_the_log() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let data = tmp.path().join("data");
    let server = Server::start(&data);
    let url = format!("http://{}", server.addr);
    let addr = server.addr.clone();
    let reference = repo().join("ledger-data/reference");

    // One filed agent-assisted deal and one open listing by an agent.
    let mut options = DemoOptions::new(&url, &data);
    options.reference_dir = reference.clone();
    options.deals = 1;
    options.parallel = 1;
    options.open_listings = 1;
    options.viewing_lead = Duration::from_millis(800);
    let report = demo::run(&options, &mut |_| {}).expect("the demo runs");
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    let deal = &report.deals[0];
    let open = &report.open_listings[0];

    // The demo's citizens' keys are derived from the data folder's platform key.
    let keys = KeyDir::of_data_dir(&data);
    let root = demo::citizen_root(&keys).expect("the citizens' root key");
    let owners: Vec<Person> = people::properties(&reference)
        .unwrap()
        .iter()
        .flat_map(people::RegistryProperty::owners)
        .collect();
    let population = people::population(&reference).unwrap();
    let citizen = |id: &str| -> Actor {
        owners
            .iter()
            .chain(population.iter())
            .map(|p| demo::citizen_actor(&root, p))
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("no demo citizen {id}"))
    };
    // The demo's last steps may still be on their way into the views.
    crate::serving::assert_views_catch_up(&url, Duration::from_secs(60), "after the demo");
    let client = Client::new(&url).expect("a client");
    let listing_doc = client
        .get(
            &format!("/v1/listings/{}", &open.listing["listing/".len()..]),
            None,
        )
        .unwrap();
    let seller = citizen(listing_doc["seller"].as_str().unwrap());
    let agent = keys.actor(open.agent.as_deref().unwrap()).unwrap();
    let deal_seller = citizen(&deal.seller);
    let deal_buyer = citizen(&deal.buyer);
    let deal_agent = keys.actor(deal.agent.as_deref().unwrap()).unwrap();
    let other_agent = keys
        .actors_with_prefix("agent/")
        .unwrap()
        .into_iter()
        .find(|a| {
            Some(a.as_str()) != open.agent.as_deref() && Some(a.as_str()) != deal.agent.as_deref()
        })
        .map(|a| keys.actor(&a).unwrap())
        .expect("another agent");
    let owner_ids: std::collections::BTreeSet<String> =
        owners.iter().map(|o| o.id_number.clone()).collect();
    let mut pool: Vec<Person> = population
        .iter()
        .filter(|p| !owner_ids.contains(&p.id_number))
        .cloned()
        .collect();
    let buyer = fresh_party(&client, &data, &mut pool);
    let stranger = fresh_party(&client, &data, &mut pool);

    let ls = &open.listing["listing/".len()..];
    let conv = format!("/v1/messages/listings/{ls}/{}", &buyer.id["party/".len()..]);
    let marker = format!("看房咨询{}", random_suffix());
    let texts = [
        format!("{marker}-1 请问周末可以看房吗？"),
        format!("{marker}-2 可以，周六上午十点。"),
        format!("{marker}-3 好的，谢谢。"),
    ];

    // The seller cannot open a conversation with a buyer who never booked or wrote.
    let (s, _, v) = post_text(&addr, &seller, &conv, &texts[1]);
    assert_eq!((s, code(&v)), (403, "message.not_participant"), "{v}");
    // The buyer opens it from the listing; the agent and the seller answer.
    let (s, _, v) = post_text(&addr, &buyer, &conv, &texts[0]);
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["message"]["n"], 1);
    assert_eq!(v["duplicate"], false);
    let (s, _, v) = post_text(&addr, &agent, &conv, &texts[1]);
    assert_eq!(s, 201, "{v}");
    let (s, _, v) = post_text(&addr, &seller, &conv, &texts[2]);
    assert_eq!(s, 201, "{v}");
    let (s, _, v) = signed(&addr, &buyer, "GET", &conv, b"");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 3);
    let got: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(got, texts.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["items"][1]["from"], agent.id.as_str());
    let mut parts: Vec<&str> = v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    parts.sort_unstable();
    let mut want = vec![seller.id.as_str(), buyer.id.as_str(), agent.id.as_str()];
    want.sort_unstable();
    assert_eq!(parts, want);
    // Paged with `after`, oldest first.
    let (s, _, v) = signed(
        &addr,
        &seller,
        "GET",
        &format!("{conv}?after=1&limit=1"),
        b"",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["n"], 2);
    assert_eq!(
        (v["next_after"].as_u64(), v["more"].as_bool()),
        (Some(2), Some(true))
    );

    // Unread counts: the buyer read everything; the agent has not read the seller's answer.
    let (s, _, v) = signed(&addr, &agent, "GET", "/v1/messages/conversations", b"");
    assert_eq!(s, 200, "{v}");
    let item = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["listing"] == open.listing.as_str())
        .expect("listed")
        .clone();
    assert_eq!(
        (item["unread"].as_u64(), item["total"].as_u64()),
        (Some(1), Some(3)),
        "{item}"
    );
    let (_, _, v) = signed(&addr, &buyer, "GET", "/v1/messages/conversations", b"");
    assert_eq!(v["items"][0]["unread"], 0, "{v}");

    let count = || {
        server
            .node
            .messages()
            .count(&format!("{}|{}", open.listing, buyer.id))
            .unwrap()
    };
    assert_eq!(count(), 3);

    // A stranger (a verified buyer of nothing), the buyer of another listing, another agent,
    // the seller of another listing: neither read nor write.
    for intruder in [&stranger, &deal_buyer, &other_agent, &deal_seller] {
        let (s, _, v) = signed(&addr, intruder, "GET", &conv, b"");
        assert_eq!(
            (s, code(&v)),
            (403, "message.not_participant"),
            "{} {v}",
            intruder.id
        );
        let (s, _, v) = post_text(&addr, intruder, &conv, "我也想看");
        assert_eq!(
            (s, code(&v)),
            (403, "message.not_participant"),
            "{} {v}",
            intruder.id
        );
        let (_, _, v) = signed(&addr, intruder, "GET", "/v1/messages/conversations", b"");
        assert!(!v.to_string().contains(&marker), "{} sees {v}", intruder.id);
    }
    // Another buyer's conversation of the same listing is its own: it sees none of these.
    let own = format!(
        "/v1/messages/listings/{ls}/{}",
        &stranger.id["party/".len()..]
    );
    let (s, _, v) = signed(&addr, &stranger, "GET", &own, b"");
    assert_eq!((s, v["total"].as_u64()), (200, Some(0)), "{v}");
    // Nobody reads a conversation of a listing that does not exist, or with the seller as buyer.
    let (s, _, v) = signed(
        &addr,
        &seller,
        "GET",
        &format!("/v1/messages/listings/LS-nothing/{}", &buyer.id[6..]),
        b"",
    );
    assert_eq!((s, code(&v)), (403, "message.not_participant"), "{v}");
    let (s, _, v) = post_text(
        &addr,
        &seller,
        &format!("/v1/messages/listings/{ls}/{}", &seller.id[6..]),
        "自言自语",
    );
    assert_eq!((s, code(&v)), (403, "message.not_participant"), "{v}");

    // Unsigned, and signed with another party's key under the buyer's id.
    let body = json!({"text": "未签名"}).to_string();
    let (s, _, b) = raw(&addr, "POST", &conv, &[], body.as_bytes());
    assert_eq!(
        (s, code(&json_of(&b)).to_owned()),
        (401, "request.unsigned".to_owned())
    );
    let (s, _, b) = raw(&addr, "GET", &conv, &[], b"");
    assert_eq!(
        (s, code(&json_of(&b)).to_owned()),
        (401, "request.unsigned".to_owned())
    );
    let forged = Actor::new(buyer.id.clone(), stranger.secret.clone());
    let (s, _, v) = post_text(&addr, &forged, &conv, "冒名顶替");
    assert_eq!((s, code(&v)), (401, "request.bad_signature"), "{v}");
    let (s, _, v) = signed(&addr, &forged, "GET", &conv, b"");
    assert_eq!((s, code(&v)), (401, "request.bad_signature"), "{v}");
    // A request signed for one body, sent with another.
    let mut headers = request_headers(&buyer, "POST", &conv, br#"{"text":"a"}"#, now_ms());
    let (s, _, b) = raw(&addr, "POST", &conv, &headers, br#"{"text":"b"}"#);
    assert_eq!(
        (s, code(&json_of(&b)).to_owned()),
        (401, "request.bad_signature".to_owned())
    );
    // A replay of a stored request stores nothing and answers the first message.
    let body = json!({"text": format!("{marker}-4 重发")}).to_string();
    headers = request_headers(&buyer, "POST", &conv, body.as_bytes(), now_ms());
    let (s, _, first) = raw(&addr, "POST", &conv, &headers, body.as_bytes());
    assert_eq!(s, 201);
    let (s, _, again) = raw(&addr, "POST", &conv, &headers, body.as_bytes());
    let (first, again) = (json_of(&first), json_of(&again));
    assert_eq!(
        (s, again["duplicate"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(first["message"], again["message"]);
    // The same signed request replayed against another conversation fails its signature.
    let (s, _, b) = raw(&addr, "POST", &own, &headers, body.as_bytes());
    assert_eq!(
        (s, code(&json_of(&b)).to_owned()),
        (401, "request.bad_signature".to_owned())
    );
    assert_eq!(count(), 4);

    // Bounded, clean input.
    let long = "长".repeat(1001);
    let cases: Vec<(String, u16, &str)> = vec![
        (json!({"text": long}).to_string(), 400, "message.bad_text"),
        (json!({"text": ""}).to_string(), 400, "message.bad_text"),
        (
            json!({"text": " 前后空格 "}).to_string(),
            400,
            "message.bad_text",
        ),
        (
            json!({"text": "控制\u{0007}字符"}).to_string(),
            400,
            "message.bad_text",
        ),
        (
            json!({"text": "我的身份证是530111197905129301"}).to_string(),
            400,
            "message.personal_data",
        ),
        (
            json!({"text": "打我电话 191 5062 0624"}).to_string(),
            400,
            "message.personal_data",
        ),
        (
            json!({"text": "全角号码１９１５０６２０６２４"}).to_string(),
            400,
            "message.personal_data",
        ),
        (
            json!({"text": "ok", "to": "all"}).to_string(),
            400,
            "request.bad_json",
        ),
        ("not json".to_owned(), 400, "request.bad_json"),
        (
            json!({"text": "x".repeat(9000)}).to_string(),
            413,
            "request.too_large",
        ),
    ];
    for (body, status, want) in &cases {
        let (s, _, v) = signed(&addr, &buyer, "POST", &conv, body.as_bytes());
        assert_eq!(
            (s, code(&v)),
            (*status, *want),
            "{}",
            &body[..body.len().min(60)]
        );
    }
    // A decomposed text is stored in NFC: 1000 characters after normalisation pass.
    let decomposed = "e\u{301}".repeat(1000);
    let (s, _, v) = post_text(&addr, &buyer, &conv, &decomposed);
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["message"]["text"], "é".repeat(1000));
    let (s, _, v) = signed(&addr, &buyer, "GET", &format!("{conv}?limit=101"), b"");
    assert_eq!((s, code(&v)), (400, "request.bad_query"));
    let (s, _, v) = signed(
        &addr,
        &buyer,
        "GET",
        "/v1/messages/conversations?limit=1000",
        b"",
    );
    assert_eq!((s, code(&v)), (400, "request.bad_query"));
    assert_eq!(count(), 5);

    // A flood: the sender's burst is 10 a minute; beyond it 429 with Retry-After, nothing stored.
    let mut stored = 0;
    let mut limited = None;
    for i in 0..20 {
        let (s, h, v) = post_text(&addr, &seller, &conv, &format!("{marker}-flood-{i}"));
        match s {
            201 => stored += 1,
            429 => {
                limited = Some((h, v));
                break;
            }
            _ => panic!("{s} {v}"),
        }
    }
    let (h, v) = limited.expect("the flood was limited");
    assert_eq!(code(&v), "rate.limited");
    assert!(h.to_ascii_lowercase().contains("retry-after:"), "{h}");
    assert!(stored <= 10, "{stored}");
    assert_eq!(count(), 5 + stored);

    // The contract's conversation: its seller, buyer and agent; nobody else.
    let ct = format!(
        "/v1/messages/contracts/{}",
        &deal.contract["contract/".len()..]
    );
    for (who, text) in [
        (&deal_buyer, "合同第三条需要确认"),
        (&deal_seller, "已确认"),
        (&deal_agent, "我来更新草稿"),
    ] {
        let (s, _, v) = post_text(&addr, who, &ct, &format!("{marker} {text}"));
        assert_eq!(s, 201, "{} {v}", who.id);
    }
    let (s, _, v) = signed(&addr, &deal_seller, "GET", &ct, b"");
    assert_eq!((s, v["total"].as_u64()), (200, Some(3)), "{v}");
    for intruder in [&buyer, &seller, &agent, &stranger] {
        let (s, _, v) = signed(&addr, intruder, "GET", &ct, b"");
        assert_eq!(
            (s, code(&v)),
            (403, "message.not_participant"),
            "{} {v}",
            intruder.id
        );
    }

    // The seller revokes the entrustment: the agent loses the conversation at once.
    let en = listing_doc["entrustment"].as_str().unwrap();
    let revoke = seller
        .sign(
            "entrustment.revoke",
            en,
            json!({"reason": "改为自行出售"}),
            None,
        )
        .unwrap();
    let r = client.submit_signed(&revoke).expect("revoked");
    assert!(
        server
            .runtime
            .block_on(server.node.wait_for_views(r.seq, Duration::from_secs(5)))
    );
    let (s, _, v) = signed(&addr, &agent, "GET", &conv, b"");
    assert_eq!((s, code(&v)), (403, "message.not_participant"), "{v}");
    let (s, _, v) = post_text(&addr, &agent, &conv, "还在吗");
    assert_eq!((s, code(&v)), (403, "message.not_participant"), "{v}");
    let (_, _, v) = signed(&addr, &agent, "GET", "/v1/messages/conversations", b"");
    assert!(!v.to_string().contains(&open.listing), "{v}");
    // The seller and the buyer keep it.
    let (s, _, _) = signed(&addr, &seller, "GET", &conv, b"");
    assert_eq!(s, 200);

    // No message text in any public answer, nor anywhere in the log's or the views' bytes.
    let size = server.node.reader().size();
    for path in [
        format!("/v1/listings/{ls}"),
        "/v1/listings?limit=100".to_owned(),
        format!("/v1/log/entries?start=0&end={size}"),
        format!("/v1/verify/listing/{}", open.listing_code),
        "/checkpoint".to_owned(),
        "/".to_owned(),
    ] {
        let (_, _, b) = raw(&addr, "GET", &path, &[], b"");
        assert!(!contains(&b, &marker), "{path} shows a message");
    }
    let mut bytes = Vec::new();
    all_bytes(&data.join("log"), &mut bytes);
    assert!(bytes.len() > 10_000);
    assert!(
        !contains(&bytes, &marker),
        "a message text is in the log's bytes"
    );
    let mut views = Vec::new();
    all_bytes(&data.join("views"), &mut views);
    assert!(!contains(&views, &marker), "a message text is in the views");

    // The buyer's erasure lands: its texts are gone, the others' stay.
    let party = client
        .signed_get(&buyer, &format!("/v1/parties/{}", &buyer.id[6..]), None)
        .unwrap();
    let erase = server
        .node
        .sign_as(
            "platform",
            "erasure.record",
            &format!("erasure/ER-{}", random_suffix()),
            json!({"subject": buyer.id, "commitments": [party["phone_commitment"]], "receipt_hash": "ab".repeat(32)}),
            None,
        )
        .unwrap();
    let r = client
        .submit_signed(&erase)
        .expect("the erasure is recorded");
    assert!(
        server
            .runtime
            .block_on(server.node.wait_for_views(r.seq, Duration::from_secs(5)))
    );
    let (s, _, v) = signed(&addr, &seller, "GET", &format!("{conv}?limit=100"), b"");
    assert_eq!(s, 200, "{v}");
    for m in v["items"].as_array().unwrap() {
        if m["from"] == buyer.id.as_str() {
            assert!(m["text"].is_null(), "{m}");
        } else {
            assert!(m["text"].is_string(), "{m}");
        }
    }
    assert!(!v.to_string().contains(&texts[0]));
    // The erased party's key is revoked with it: it signs nothing more.
    let (s, _, v) = post_text(&addr, &buyer, &conv, "还在");
    assert_eq!((s, code(&v)), (401, "request.bad_signature"), "{v}");
    server.stop();
}

/// The README's commands, in order (the lines of its `sh` blocks).
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("```") {
            inside = line == "```sh";
            continue;
        }
        if inside && !line.trim().is_empty() {
            out.push(line.trim().to_owned());
        }
    }
    out
}

#[test]
fn the_demo_sms_inbox_is_off_by_default_and_on_only_with_the_flag() {
    // The README keeps exactly its two set-up commands, and the first serves without the panel.
    let commands = readme_commands();
    let setup: Vec<&String> = commands.iter().take(2).collect();
    assert_eq!(
        setup,
        ["cargo run --release -- serve", "bash scripts/test.sh"]
    );
    assert!(!commands[0].contains("demo-sms"));

    let tmp = tempfile::tempdir().expect("a temp folder");
    let data = tmp.path().join("data");
    let server = Server::start(&data);
    let addr = server.addr.clone();
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let phone = "13912345678";
    let challenge = client.phone_challenge(phone).expect("a challenge");
    let path = format!("/v1/identity/demo/sms?challenge={challenge}&phone={phone}");
    // Off by default: 404, no code anywhere in the answer.
    let (s, _, b) = raw(&addr, "GET", &path, &[], b"");
    assert_eq!(
        (s, code(&json_of(&b)).to_owned()),
        (404, "demo.sms_off".to_owned())
    );
    let outbox = deedlog_client::Outbox::of_data_dir(&data);
    let sent = outbox.code(&challenge).expect("the code is in the outbox");
    assert!(!contains(&b, &sent));
    let node = server.node.clone();
    server.stop();

    // On with the flag (the embedded identity authority holds its key here).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    drop(node);
    let mut options = NodeOptions::new(&data);
    options.reference_dir = Some(repo().join("ledger-data/reference"));
    let node = {
        let _guard = runtime.enter();
        Node::open(options).expect("the node reopens")
    };
    assert!(node.keys().get("authority/identity").is_some());
    let config = ApiConfig {
        rate_per_second: None,
        demo_sms: true,
        workers: 1,
        ..ApiConfig::default()
    };
    let running = runtime
        .block_on(deedlog_api::start(node.clone(), "127.0.0.1:0", config))
        .unwrap();
    let addr = running.addr().to_string();
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let challenge = client.phone_challenge(phone).expect("a challenge");
    let sent = outbox.code(&challenge).expect("the code is in the outbox");
    let path = format!("/v1/identity/demo/sms?challenge={challenge}&phone={phone}");
    let (s, h, b) = raw(&addr, "GET", &path, &[], b"");
    let v = json_of(&b);
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["code"].as_str(), v["demo"].as_bool()),
        (Some(sent.as_str()), Some(true))
    );
    assert_eq!(v["purpose"], "phone");
    assert!(
        h.to_ascii_lowercase().contains("cache-control: no-store"),
        "{h}"
    );
    // Only to whoever names the challenge and the number it went to.
    let (s, _, b) = raw(
        &addr,
        "GET",
        &format!("/v1/identity/demo/sms?challenge={challenge}&phone=13900000000"),
        &[],
        b"",
    );
    assert_eq!((s, json_of(&b)["code"].clone()), (200, Value::Null));
    let other = format!("ch-{}", "0".repeat(32));
    let (s, _, b) = raw(
        &addr,
        "GET",
        &format!("/v1/identity/demo/sms?challenge={other}&phone={phone}"),
        &[],
        b"",
    );
    assert_eq!((s, json_of(&b)["code"].clone()), (200, Value::Null));
    for bad in ["challenge=x&phone=13912345678", "challenge=", "phone=139"] {
        let (s, _, b) = raw(
            &addr,
            "GET",
            &format!("/v1/identity/demo/sms?{bad}"),
            &[],
            b"",
        );
        assert_eq!(
            (s, code(&json_of(&b)).to_owned()),
            (400, "request.bad_query".to_owned()),
            "{bad}"
        );
    }
    runtime.block_on(running.stop()).unwrap();
    node.shutdown();
}
