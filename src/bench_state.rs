//! `deedlog bench state`: the node's memory with the real domain at a city's size. It builds a
//! log the way the city would grow one — a registry of properties, their owners registered and
//! real-name verified, each property verified and self-listed by its owner, and more registered
//! parties besides — through the node's own sequencer and rules, then opens that log in a fresh
//! `deedlog serve` process and reports its resident memory once it serves.
//!
//! What it shortcuts, and why the figure still holds: the registry is generated (made-up owners
//! with valid ID numbers, `DATA/bench-reference/properties.json`, loaded by the node's reference
//! loader as the real one is); the identity authority's attestations and phone vouchers are
//! signed with the node's own authority key instead of after an SMS round trip; the listings'
//! photo hashes name no uploaded file (the photo store is not the state being measured).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use deedlog_client::actor::{Actor, derive_secret, now_ms};
use deedlog_client::deal::{PropertyFacts, Publisher, listing_payload};
use deedlog_core::{SecretKey, SignedCommand};
use deedlog_domain::ids::{self, IdKind};
use deedlog_domain::payload::{IdentityMethod, PropertyVerify};
use deedlog_domain::validate;
use deedlog_node::{Node, NodeOptions};
use serde::Serialize;
use serde_json::json;

/// Most parties a run registers.
const PARTIES_MAX: u64 = 10_000_000;
/// Most listings: the reference loader reads at most 64 MiB of `properties.json`, about
/// 120,000 generated records.
const LISTINGS_MAX: u64 = 100_000;
/// Commands signed and queued at once.
const CHUNK: usize = 8192;
/// The folder of the generated registry, inside the data folder.
const REFERENCE_DIR: &str = "bench-reference";

/// Arguments of `deedlog bench state`.
#[derive(Args, Debug)]
pub struct StateArgs {
    /// Registered parties in all, the listings' sellers among them.
    #[arg(long, default_value_t = 1_000_000)]
    parties: u64,
    /// Properties on the generated registry, each verified and self-listed by its owner (at
    /// most the number of parties).
    #[arg(long, default_value_t = 100_000)]
    listings: u64,
    /// Data folder to build the log in (must not exist, or be empty); default: a fresh folder
    /// under the system temporary folder, removed at the end.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print the figures as one JSON object.
    #[arg(long)]
    json: bool,
}

/// What `bench state` reports.
#[derive(Debug, Serialize)]
struct StateReport {
    parties: u64,
    listings: u64,
    log_entries: u64,
    build_seconds: f64,
    build_commands_per_second: f64,
    /// The builder's own peak RSS (the node in-process and the signing), MB.
    build_peak_rss_mb: f64,
    /// Seconds from starting `deedlog serve` on the log until `/readyz` answers 200.
    ready_after_seconds: f64,
    /// The serving node's `VmRSS` once ready (and after 2 s more), MB.
    serve_rss_mb: f64,
    serve_rss_settled_mb: f64,
    /// Its `VmHWM` (peak, the replay on open included), MB.
    serve_peak_rss_mb: f64,
    disk_mb: DiskReport,
}

#[derive(Debug, Serialize)]
struct DiskReport {
    segments: f64,
    index: f64,
    views: f64,
    vault: f64,
    total: f64,
}

/// A generated owner: unique ID number and phone for index `i`.
struct Owner {
    name: String,
    id_number: String,
    phone: String,
}

fn owner(i: u64) -> Owner {
    const REGIONS: [&str; 7] = [
        "530102", "530103", "530111", "530112", "530114", "530115", "530181",
    ];
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    const GIVEN: [&str; 12] = [
        "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
    ];
    // Index → (region, birth date, sequence) one to one: 7 × 13,440 days × 1,000 sequences.
    let region = REGIONS[usize::try_from(i % 7).unwrap_or(0)];
    let rest = i / 7;
    let sequence = rest % 1000;
    let day_index = rest / 1000;
    let year = 1960 + day_index / 336;
    let month = 1 + (day_index % 336) / 28;
    let day = 1 + day_index % 28;
    let first17 = format!("{region}{year:04}{month:02}{day:02}{sequence:03}");
    let mut digits = [0u8; 17];
    digits.copy_from_slice(first17.as_bytes());
    let id_number = format!("{first17}{}", validate::id_check_char(&digits));
    let pick = |n: u64, m: usize| usize::try_from(n % m as u64).unwrap_or(0);
    let name = format!(
        "{}{}{}",
        SURNAMES[pick(i, SURNAMES.len())],
        GIVEN[pick(i / 10, GIVEN.len())],
        GIVEN[pick(i / 120, GIVEN.len())]
    );
    Owner {
        name,
        id_number,
        phone: format!("139{i:08}"),
    }
}

/// Writes the generated registry (and the embedded reference's agencies, banks, offices and
/// population) into `dir`.
fn write_registry(data: &Path, dir: &Path, listings: u64) -> anyhow::Result<()> {
    const DISTRICTS: [(&str, &str); 6] = [
        ("五华区", "翠湖园"),
        ("盘龙区", "恒盛广场"),
        ("官渡区", "阳宗园"),
        ("西山区", "滇池花园"),
        ("呈贡区", "雨花新城"),
        ("安宁市", "翠湖水岸"),
    ];
    let embedded = crate::reference::materialize(data)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for name in [
        "agencies.json",
        "banks.json",
        "offices.json",
        "population.json",
        "citizens.json",
    ] {
        std::fs::copy(embedded.join(name), dir.join(name))
            .with_context(|| format!("copying {name} into {}", dir.display()))?;
    }
    let path = dir.join("properties.json");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"[")?;
    for i in 0..listings {
        let (district, community) = DISTRICTS[usize::try_from(i % 6).unwrap_or(0)];
        let o = owner(i);
        let certificate_no = format!("云(2020)昆明市不动产权第{i:07}号");
        validate::certificate_no("certificate_no", &certificate_no)
            .map_err(|e| anyhow::anyhow!("a generated certificate number is refused: {e}"))?;
        let record = json!({
            "certificate_no": certificate_no,
            "district": district,
            "community": community,
            "address": format!("{district}学府路{}号{}栋{}单元{}", 1 + i % 500, 1 + i % 20, 1 + i % 4, 101 + i % 30),
            "area_centi_m2": 5_000 + (i * 37) % 10_000,
            "rooms": 1 + i % 4,
            "halls": 1 + i % 2,
            "bathrooms": 1 + i % 2,
            "floor": 1 + i % 30,
            "floors_total": 33,
            "built_year": 1995 + i % 30,
            "usage": "住宅",
            "owners": [{"name": o.name, "id_number": o.id_number, "phone": o.phone, "share_percent": 100}],
            "mortgage": null,
            "seizure": null,
        });
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut out, &record)?;
    }
    out.write_all(b"]")?;
    out.flush()?;
    Ok(())
}

/// The seller (`0..listings`) or other party (`listings..parties`) number `i`.
fn party_actor(root: &SecretKey, i: u64) -> Actor {
    let label = format!("bench-state/party/{i}");
    Actor::new(
        IdKind::Party.id(&format!("{i:016X}")),
        derive_secret(root, &label),
    )
}

fn stream_of(kind: IdKind, i: u64) -> String {
    kind.id(&format!("{i:016X}"))
}

/// Signs `make(i)` for every `i` of `range` on both cores, queues them all, and waits for every
/// receipt; any refusal stops the run with its code and message.
fn wave(
    node: &Node,
    range: std::ops::Range<u64>,
    bar: &indicatif::ProgressBar,
    make: &(dyn Fn(u64) -> anyhow::Result<SignedCommand> + Sync),
) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start + CHUNK as u64);
        let per = (end - start).div_ceil(threads as u64);
        let signed: Vec<anyhow::Result<Vec<SignedCommand>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads as u64)
                .map(|t| {
                    let from = (start + t * per).min(end);
                    let to = (from + per).min(end);
                    s.spawn(move || (from..to).map(make).collect())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
                })
                .collect()
        });
        let handle = node.handle();
        let mut waiting = Vec::with_capacity(CHUNK);
        for batch in signed {
            for command in batch? {
                waiting.push(
                    handle
                        .enqueue(command)
                        .map_err(|r| anyhow::anyhow!("{}: {}", r.code, r.message))?,
                );
            }
        }
        for rx in waiting {
            rx.blocking_recv()
                .map_err(|_| anyhow::anyhow!("the sequencer stopped"))?
                .map_err(|r| anyhow::anyhow!("refused: {}: {}", r.code, r.message))?;
            bar.inc(1);
        }
        start = end;
    }
    Ok(())
}

fn dir_mb(path: &Path) -> f64 {
    fn walk(p: &Path) -> u64 {
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            return 0;
        };
        if meta.is_dir() {
            std::fs::read_dir(p).map_or(0, |rd| {
                rd.filter_map(Result::ok).map(|e| walk(&e.path())).sum()
            })
        } else {
            meta.len()
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let mb = walk(path) as f64 / 1_048_576.0;
    mb
}

fn proc_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One `GET` on loopback; the status code.
fn get_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Opens the built log in a fresh `deedlog serve` and measures it once it serves.
fn measure_serve(data: &Path, reference: &Path) -> anyhow::Result<(f64, f64, f64, f64)> {
    let exe = std::env::current_exe().context("finding this program")?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("--quiet")
        .arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--reference")
        .arg(reference)
        .arg("--bind")
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting deedlog serve")?;
    let pid = child.id();
    let result = (|| {
        // `serve` names its address on standard output; the rest of it is drained so that the
        // node never blocks on a full pipe.
        let stdout = child.stdout.take().context("no output of deedlog serve")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line?;
            const SERVING: &str = "deedlog serving on http://";
            if let Some(at) = line.find(SERVING) {
                addr = line[at + SERVING.len()..]
                    .split_whitespace()
                    .next()
                    .map(str::to_owned);
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let addr = addr.context("deedlog serve stopped before serving")?;
        let deadline = Instant::now() + Duration::from_secs(3600);
        while get_status(&addr, "/readyz") != Some(200) {
            if Instant::now() > deadline {
                bail!("the node was not ready within an hour");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let ready = started.elapsed().as_secs_f64();
        let rss = proc_mb(pid, "VmRSS:");
        std::thread::sleep(Duration::from_secs(2));
        Ok((ready, rss, proc_mb(pid, "VmRSS:"), proc_mb(pid, "VmHWM:")))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `deedlog bench state`.
pub fn state(args: &StateArgs) -> anyhow::Result<()> {
    if args.parties == 0 || args.parties > PARTIES_MAX {
        bail!("--parties must be 1 to {PARTIES_MAX}");
    }
    if args.listings > LISTINGS_MAX || args.listings > args.parties {
        bail!(
            "--listings must be at most {LISTINGS_MAX} and at most --parties (each listing's seller is one of the parties)"
        );
    }
    crate::progress::quiet_if(args.json);
    let (data, temporary) = match &args.data {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .with_context(|| format!("reading {}", d.display()))?
                    .next()
                    .is_some()
            {
                bail!("{} is not empty: bench state builds a new log", d.display());
            }
            (d.clone(), false)
        }
        None => (
            std::env::temp_dir().join(format!("deedlog-bench-state-{}", std::process::id())),
            true,
        ),
    };
    let outcome = build_and_measure(args, &data);
    if temporary {
        let _ = std::fs::remove_dir_all(&data);
    }
    let report = outcome?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "built {} parties and {} listings: {} entries in {:.1} s ({:.0} commands/s, builder peak RSS {:.0} MB)",
            report.parties,
            report.listings,
            report.log_entries,
            report.build_seconds,
            report.build_commands_per_second,
            report.build_peak_rss_mb
        );
        println!(
            "deedlog serve on it: ready after {:.1} s; RSS {:.0} MB ({:.0} MB 2 s later; peak {:.0} MB during the open)",
            report.ready_after_seconds,
            report.serve_rss_mb,
            report.serve_rss_settled_mb,
            report.serve_peak_rss_mb
        );
        let d = &report.disk_mb;
        println!(
            "on disk: {:.0} MB (segments {:.0}, index {:.0}, views {:.0}, vault {:.0})",
            d.total, d.segments, d.index, d.views, d.vault
        );
    }
    Ok(())
}

fn build_and_measure(args: &StateArgs, data: &Path) -> anyhow::Result<StateReport> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let reference = data.join(REFERENCE_DIR);
    write_registry(data, &reference, args.listings)?;
    let registry = deedlog_tools::people::properties(&reference)
        .map_err(|e| anyhow::anyhow!("reading the generated registry: {e}"))?;
    let started = Instant::now();
    let mut options = NodeOptions::new(data);
    options.reference_dir = Some(reference.clone());
    let node = Node::open(options).context("opening the node")?;
    let identity = node
        .keys()
        .get(ids::IDENTITY)
        .cloned()
        .context("this node holds no identity authority key")?;
    let root = derive_secret(&identity, "bench-state/citizens");
    let total = args.parties + 3 * args.listings;
    let bar = crate::progress::bar("building", Some(total));
    let listings = args.listings;
    let register = |i: u64| -> anyhow::Result<SignedCommand> {
        let actor = party_actor(&root, i);
        let commitment =
            deedlog_client::deal::sha256_hex(format!("bench-state/phone/{i}").as_bytes());
        let voucher = deedlog_domain::identity::sign_phone_voucher(
            &identity,
            &actor.id,
            &actor.key(),
            &commitment,
            now_ms(),
        );
        Ok(actor.sign(
            "party.register",
            &actor.id.clone(),
            json!({"phone_commitment": commitment, "voucher": voucher}),
            Some(0),
        )?)
    };
    wave(&node, 0..args.parties, &bar, &register)?;
    let vault = node.vault().clone();
    let attest = |i: u64| -> anyhow::Result<SignedCommand> {
        let o = owner(i);
        let subject = vault.subject_by_id_number(&o.id_number)?;
        let payload = json!({
            "name_commitment": vault.commit(&subject, "name", &o.name)?.to_hex(),
            "id_commitment": vault.commit(&subject, "id_number", &o.id_number)?.to_hex(),
            "method": IdentityMethod::OnlineFace,
        });
        let party = party_actor(&root, i).id;
        Ok(node.sign_as(
            ids::IDENTITY,
            "party.attest_identity",
            &party,
            payload,
            None,
        )?)
    };
    wave(&node, 0..listings, &bar, &attest)?;
    let verify = |i: u64| -> anyhow::Result<SignedCommand> {
        let p = &registry[usize::try_from(i)?];
        let payload = serde_json::to_value(PropertyVerify {
            certificate_no: p.certificate_no.clone(),
            via_proxy: None,
        })?;
        Ok(party_actor(&root, i).sign(
            "property.verify",
            &stream_of(IdKind::Verification, i),
            payload,
            Some(0),
        )?)
    };
    wave(&node, 0..listings, &bar, &verify)?;
    let publish = |i: u64| -> anyhow::Result<SignedCommand> {
        let p = &registry[usize::try_from(i)?];
        let facts = PropertyFacts::from(p);
        let verification = stream_of(IdKind::Verification, i);
        let price = (facts.area_centi_m2 * 16_000).div_ceil(1_000_000) * 1_000_000;
        let title = format!(
            "{}{}室{}厅 业主自售",
            facts.community, facts.rooms, facts.halls
        );
        let mut payload = listing_payload(
            &facts,
            &Publisher::Seller {
                verification: &verification,
                via_proxy: None,
            },
            price,
            &title,
        );
        payload.photos = vec![deedlog_client::deal::sha256_hex(
            format!("bench-state/photo/{i}").as_bytes(),
        )];
        Ok(party_actor(&root, i).sign(
            "listing.publish",
            &stream_of(IdKind::Listing, i),
            serde_json::to_value(&payload)?,
            Some(0),
        )?)
    };
    wave(&node, 0..listings, &bar, &publish)?;
    bar.finish_and_clear();
    let log_entries = node.reader().size();
    node.shutdown();
    // Every handle on the stores goes before `serve` opens them (the vault's lock above all).
    drop(vault);
    drop(node);
    let build_seconds = started.elapsed().as_secs_f64();
    let (build_peak_rss_mb, _) = crate::bench::rss_mb();
    let (ready, rss, settled, peak) = measure_serve(data, &reference)?;
    let segments = std::fs::read_dir(data)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("log"))
                .map(|e| dir_mb(&e.path()))
                .sum::<f64>()
        })
        .unwrap_or(0.0);
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / build_seconds.max(1e-9);
    Ok(StateReport {
        parties: args.parties,
        listings: args.listings,
        log_entries,
        build_seconds,
        build_commands_per_second: rate,
        build_peak_rss_mb,
        ready_after_seconds: ready,
        serve_rss_mb: rss,
        serve_rss_settled_mb: settled,
        serve_peak_rss_mb: peak,
        disk_mb: DiskReport {
            segments,
            index: dir_mb(&data.join("index")),
            views: dir_mb(&data.join("views")),
            vault: dir_mb(&data.join("vault")),
            total: dir_mb(data),
        },
    })
}
