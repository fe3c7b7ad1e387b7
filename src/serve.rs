//! `deedlog serve` and `deedlog replay`: the ledger node on a data folder.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use deedlog_node::{Node, NodeOptions};

/// Arguments of `deedlog serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The data folder (created and initialized on first start).
    #[arg(long, default_value = "ledger-data/store")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Reference data loaded at first start (property registry, agencies, banks, offices, the
    /// population register). Default: the copy built into this binary, written to
    /// `DATA/reference/`.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// A registered auditor, `NAME=PUBLIC_KEY` (the base64 key `deedlog keygen` prints): it
    /// signs requests as `auditor/NAME` and reads confidential entries whole. Repeatable.
    #[arg(long = "auditor", value_name = "NAME=KEY", value_parser = parse_auditor)]
    auditors: Vec<deedlog_api::Auditor>,
    /// A witness's URL (its tlog-witness submission prefix); repeat for several. Each new
    /// checkpoint is submitted to every witness, and `GET /checkpoint` serves it cosigned.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// The witness policy (C2SP tlog-policy) this node's public pages enforce in a build that
    /// pins none: served in `/v1/log/checkpoint` as `policy`, remembered by each browser on
    /// first use. It must name this log's key.
    #[arg(long)]
    witness_policy: Option<PathBuf>,
    /// Requests per second per client IP (0: no limit, for load measurements on loopback
    /// only; the default is the API's).
    #[arg(long)]
    rate_per_second: Option<u32>,
    /// Commands per minute from newcomers, per client IP and per actor (0: no quota, for load
    /// measurements only).
    #[arg(long)]
    newcomer_per_minute: Option<u32>,
    /// Demo only: show the embedded identity authority's SMS codes on the `#/me` screen, as a
    /// stand-in for the phone's SMS inbox (`GET /v1/identity/demo/sms`). Refused unless this
    /// node runs the embedded identity authority; never use it for a real deployment.
    #[arg(long)]
    demo_sms: bool,
}

/// Parses `NAME=KEY` into a registered auditor, refusing a bad name or key.
fn parse_auditor(text: &str) -> Result<deedlog_api::Auditor, String> {
    let (name, key) = text
        .split_once('=')
        .ok_or("an auditor is NAME=KEY, the key in base64 as `deedlog keygen` prints it")?;
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(format!(
            "auditor name `{name}`: 1 to 64 characters of [A-Za-z0-9_-]"
        ));
    }
    deedlog_core::PublicKey::from_base64(key)
        .map_err(|e| format!("auditor `{name}`: the key is not a usable Ed25519 key ({e})"))?;
    Ok(deedlog_api::Auditor {
        actor: format!("auditor/{name}"),
        key: key.to_owned(),
    })
}

/// Arguments of `deedlog replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The data folder.
    #[arg(long, default_value = "ledger-data/store")]
    data: PathBuf,
    /// Drop the derived stores (index, stored hashes, offsets, views) and rebuild them.
    #[arg(long)]
    rebuild: bool,
}

fn options(data: PathBuf, reference: Option<PathBuf>) -> NodeOptions {
    let embedded = data.join(crate::reference::EMBEDDED_DIR);
    let mut options = NodeOptions::new(data);
    if let Some(reference) = reference {
        options.reference_dir = Some(reference);
    } else if embedded.is_dir() {
        // A data folder first served with the embedded reference data keeps reading its
        // population register from there.
        options.reference_dir = Some(embedded);
    }
    options
}

/// `deedlog serve`.
pub fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    eprintln!("opening {} …", args.data.display());
    let reference = crate::reference::folder(args.reference.as_deref(), &args.data)?;
    let node = Node::open(options(args.data.clone(), Some(reference)))
        .with_context(|| format!("opening the ledger in {}", args.data.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let witness_policy = match &args.witness_policy {
        None => None,
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let policy = deedlog_client::policy::Policy::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if !policy
                .logs
                .iter()
                .any(|(k, _)| k.to_vkey() == node.log_vkey())
            {
                anyhow::bail!(
                    "{}: the policy does not name this log's key",
                    path.display()
                );
            }
            Some(String::from_utf8(text).context("the policy is not UTF-8")?)
        }
    };
    if args.demo_sms && node.keys().get("authority/identity").is_none() {
        anyhow::bail!(
            "--demo-sms shows the embedded identity authority's codes, but this node does not run it"
        );
    }
    if args.demo_sms {
        eprintln!(
            "DEMO: SMS codes are shown in the browser (--demo-sms); never use this for a real deployment"
        );
    }
    let mut config = deedlog_api::ApiConfig {
        auditors: args.auditors.clone(),
        witness_policy,
        demo_sms: args.demo_sms,
        ..deedlog_api::ApiConfig::default()
    };
    if let Some(rate) = args.rate_per_second {
        config.rate_per_second = std::num::NonZeroU32::new(rate);
    }
    if let Some(quota) = args.newcomer_per_minute {
        config.newcomer_per_minute = std::num::NonZeroU32::new(quota);
    }
    let _cosigner = if args.witnesses.is_empty() {
        None
    } else {
        let (latest, proofs) = (node.reader().clone(), node.reader().clone());
        let cosigner = deedlog_client::witnessing::Cosigner::start(
            &args.witnesses,
            node.log_vkey(),
            Box::new(move || {
                latest
                    .latest_checkpoint()
                    .and_then(|cp| String::from_utf8(cp.note.clone()).ok())
            }),
            Box::new(move |m, n| {
                proofs
                    .consistency_proof(m, n)
                    .map_err(|e| deedlog_client::ClientError::Proof(e.to_string()))
            }),
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(5),
        )
        .context("starting the cosigner")?;
        config.cosigned_checkpoint = Some(cosigner.slot());
        Some(cosigner)
    };
    runtime
        .block_on(deedlog_api::serve_with(node, &args.bind, config))
        .with_context(|| format!("serving on {}", args.bind))?;
    Ok(())
}

/// `deedlog replay`.
pub fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    if !args.data.join("log").is_dir() {
        anyhow::bail!("{} holds no log", args.data.display());
    }
    if args.rebuild {
        for derived in ["index", "offsets", "hashes"] {
            let path = args.data.join(derived);
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else if path.exists() {
                std::fs::remove_file(&path)?;
            }
        }
        eprintln!("derived store files dropped; re-deriving from the log …");
        // The node's rebuild reports no position, so a spinner shows that it runs and how long.
        let bar = crate::progress::bar("rebuilding from the log", None);
        let entries = deedlog_node::rebuild_views(options(args.data.clone(), None));
        bar.finish_and_clear();
        let entries = entries?;
        println!("rebuilt the index, stored hashes, offsets and views from {entries} entries");
        return Ok(());
    }
    let bar = crate::progress::bar("replaying the log", None);
    let node = Node::open(options(args.data.clone(), None))?;
    let report = deedlog_node::semantic_audit(node.reader());
    bar.finish_and_clear();
    let report = report?;
    node.shutdown();
    println!(
        "replayed {} entries; {} illegal",
        report.entries,
        report.faults.len()
    );
    for f in &report.faults {
        println!(
            "ILLEGAL seq {}: {} on {}: {:?}",
            f.seq, f.command, f.stream, f.fault
        );
    }
    if report.faults.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the log holds illegal steps")
    }
}
