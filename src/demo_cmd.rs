//! `deedlog demo` and `deedlog bench http`: the platform driven through its API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use deedlog_node::{Node, NodeOptions};
use deedlog_tools::demo::{self, DemoEvent, DemoOptions, DemoReport};
use deedlog_tools::loadgen::{self, LoadOptions};

/// Arguments of `deedlog demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// How many deals to drive.
    #[arg(long, default_value_t = 4)]
    deals: usize,
    /// The server's data folder, whose `keys/` hold the embedded default's authority, bank,
    /// office and agent keys (a demo convenience on the same machine).
    #[arg(long, default_value = "ledger-data/store")]
    data: PathBuf,
    /// The server's SMS outbox, where the identity authority's codes are read as the operator
    /// would (default: `DATA/outbox/sms.jsonl`).
    #[arg(long)]
    outbox: Option<PathBuf>,
    /// The reference data (citizens, properties). Default: the copy built into this binary,
    /// written to `DATA/reference/` (the same files the server loaded).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn print_report(report: &DemoReport) {
    for deal in &report.deals {
        println!(
            "deal {} ({:?}): listing {} code {} → contract {} filing code {}",
            deal.index, deal.kind, deal.listing, deal.listing_code, deal.contract, deal.filing_code
        );
    }
    for open in &report.open_listings {
        println!("open listing {} code {}", open.listing, open.listing_code);
    }
    for failure in &report.failed {
        println!(
            "FAILED deal {} ({:?}): {}",
            failure.index, failure.kind, failure.error
        );
    }
}

/// Shows one demo event: a step becomes the bar's message while a bar is drawn; everything
/// else (and every step when none is) is a line on standard error, printed above the bar.
fn show_event(bar: &indicatif::ProgressBar, event: &DemoEvent) {
    match event {
        DemoEvent::Step { .. } if !bar.is_hidden() => bar.set_message(event.to_string()),
        DemoEvent::DealDone(_) | DemoEvent::DealFailed(_) => {
            bar.suspend(|| eprintln!("{event}"));
            bar.inc(1);
        }
        _ => bar.suspend(|| eprintln!("{event}")),
    }
}

/// `deedlog demo`: exit 0 when every deal completed, 1 when some failed, 2 on errors.
pub fn demo(args: &DemoArgs) -> ExitCode {
    crate::progress::quiet_if(args.json);
    let mut options = DemoOptions::new(args.server.clone(), &args.data);
    options.deals = args.deals.clamp(1, 10_000);
    if let Some(outbox) = &args.outbox {
        options.outbox.clone_from(outbox);
    }
    match crate::reference::folder(args.reference.as_deref(), &args.data) {
        Ok(dir) => options.reference_dir = dir,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    }
    let bar = crate::progress::bar("deals", Some(options.deals as u64));
    let result = demo::run(&options, &mut |e| show_event(&bar, e));
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print_report(&report);
            }
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Arguments of `deedlog bench http`.
#[derive(Args, Debug)]
pub struct HttpArgs {
    /// A server to measure (loopback only). Without it, a node is started on a fresh temporary
    /// data folder with rate limiting off, and a demo fills it first.
    #[arg(long)]
    server: Option<String>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Signed commands to pre-sign for the command measurement.
    #[arg(long, default_value_t = 100_000)]
    commands: usize,
    /// The measured server's data folder, whose identity authority key signs the
    /// registrations' phone vouchers (with `--server`; a node started here uses its own).
    #[arg(long)]
    data: Option<PathBuf>,
    /// More static GET routes to measure after the others, each like the ceiling and as a
    /// ratio to it (e.g. `/tile/0/000`, `/tile/entries/000`). Repeatable.
    #[arg(long = "extra-path")]
    extra_paths: Vec<String>,
    /// Print the result as one JSON object on the last line.
    #[arg(long)]
    json: bool,
}

/// `deedlog bench http`.
pub fn bench_http(args: &HttpArgs) -> anyhow::Result<()> {
    crate::progress::quiet_if(args.json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut options = LoadOptions {
        connections: args.connections.clamp(1, 1024),
        duration: Duration::from_secs(args.seconds.clamp(1, 600)),
        commands: args.commands.min(1_000_000),
        ..LoadOptions::default()
    };
    let own = match &args.server {
        Some(url) => {
            options.server.clone_from(url);
            if let Some(data) = &args.data {
                let keys = deedlog_client::keys::KeyDir::of_data_dir(data);
                options.voucher_key = Some(
                    keys.actor("authority/identity")
                        .context("reading the identity authority's key")?
                        .secret,
                );
            }
            None
        }
        None => {
            let dir =
                std::env::temp_dir().join(format!("deedlog-bench-http-{}", std::process::id()));
            eprintln!("starting a node on {} …", dir.display());
            let reference = crate::reference::materialize(&dir)?;
            let mut node_options = NodeOptions::new(&dir);
            node_options.reference_dir = Some(reference.clone());
            let node = Node::open(node_options).context("opening the node")?;
            let config = deedlog_api::ApiConfig {
                rate_per_second: None,
                // The load generator registers hundreds of parties from one address.
                newcomer_per_minute: None,
                ..deedlog_api::ApiConfig::default()
            };
            let running =
                runtime.block_on(deedlog_api::start(node.clone(), "127.0.0.1:0", config))?;
            options.server = format!("http://{}", running.addr());
            options.voucher_key = node.keys().get("authority/identity").cloned();
            let mut demo_options = DemoOptions::new(options.server.clone(), &dir);
            demo_options.deals = 4;
            demo_options.open_listings = 8;
            demo_options.reference_dir = reference;
            let bar = crate::progress::bar("demo deals", Some(4));
            let report = demo::run(&demo_options, &mut |e| show_event(&bar, e))
                .context("filling the node with a demo")?;
            bar.finish_and_clear();
            options.listing_codes = report
                .deals
                .iter()
                .map(|d| d.listing_code.clone())
                .chain(report.open_listings.iter().map(|o| o.listing_code.clone()))
                .collect();
            Some((node, running, dir))
        }
    };
    // The load generator's phases are timed, not counted: a spinner shows the one running, and
    // each phase's line is printed above it.
    let bar = crate::progress::bar("measuring", None);
    let mut phase = |line: &str| {
        bar.set_message(line.to_owned());
        bar.suspend(|| eprintln!("{line}"));
    };
    let report = loadgen::run(&options, &mut phase)?;
    // Each extra route is measured like the ceiling (a plain GET, same connections and time),
    // right after it in the same run, so the ratio compares like with like.
    let mut extra = Vec::new();
    for path in &args.extra_paths {
        let only = LoadOptions {
            static_path: Some(path.clone()),
            listing_codes: Vec::new(),
            commands: 0,
            ..options.clone()
        };
        let r = loadgen::run(&only, &mut phase)?;
        if let Some(m) = r.ceiling {
            let ratio = report
                .ceiling
                .as_ref()
                .map(|c| m.requests_per_s / c.requests_per_s.max(f64::MIN_POSITIVE));
            extra.push((m, ratio));
        }
    }
    bar.finish_and_clear();
    if let Some((node, running, dir)) = own {
        runtime.block_on(running.stop())?;
        node.shutdown();
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    for m in [&report.ceiling, &report.verify, &report.commands]
        .into_iter()
        .flatten()
    {
        println!(
            "{:<9} {:<40} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} errors)",
            m.name, m.request, m.requests_per_s, m.latency_ms_p50, m.latency_ms_p99, m.errors
        );
    }
    if let Some(ratio) = report.verify_to_ceiling {
        println!("verify / ceiling = {ratio:.2}");
    }
    if let Some(lag) = &report.views_lag {
        match lag.catch_up_ms {
            Some(ms) => println!(
                "views     {} entries behind the log at the end, caught up in {ms} ms",
                lag.entries_behind
            ),
            None => println!(
                "views     {} entries behind the log at the end, not caught up within 60 s",
                lag.entries_behind
            ),
        }
    }
    for (m, ratio) in &extra {
        println!(
            "extra     {:<40} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} errors){}",
            m.request,
            m.requests_per_s,
            m.latency_ms_p50,
            m.latency_ms_p99,
            m.errors,
            ratio
                .map(|r| format!("  = {r:.2} × ceiling"))
                .unwrap_or_default()
        );
    }
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["extra"] = serde_json::to_value(
            extra
                .iter()
                .map(|(m, r)| serde_json::json!({"measurement": m, "to_ceiling": r}))
                .collect::<Vec<_>>(),
        )?;
        println!("{}", serde_json::to_string(&value)?);
    }
    Ok(())
}
