//! The `deedlog` command line: run the ledger, verify and export its log, benchmark it.

mod audit_cmd;
mod bench;
mod bench_state;
mod check_cmd;
mod demo_cmd;
mod keyfile;
mod progress;
mod reference;
mod serve;
mod verify_cmd;
mod witness_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of glibc's allocator: the pipeline allocates on the verify threads and frees
/// on the sequencer thread, which glibc's per-thread arenas handle poorly (measured with
/// `bench append`: faster, and less memory held over short runs; see docs/PERFORMANCE.md).
/// Its version 2 (the crate's `v2` feature): version 3 waits a second before it returns freed
/// pages to the system, and under a steady ingest the node's RSS kept growing past 200 MB;
/// version 2 returns them after 10 ms and stays near 150 MB at the same speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// deedlog — a verifiable, event-sourced ledger for resale-housing transactions.
#[derive(Parser, Debug)]
#[command(name = "deedlog", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// No progress bars (they are drawn only when standard error is a terminal, and never
    /// with `--json`).
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the ledger and its HTTP API on a data folder (first start: keys, genesis, reference
    /// data). Stops gracefully on Ctrl-C / SIGTERM with nothing acknowledged lost.
    Serve(serve::ServeArgs),
    /// Replay the log: the semantic audit, or with --rebuild, drop every derived store (index,
    /// stored hashes, offsets, views) and rebuild it from the log.
    Replay(serve::ReplayArgs),
    /// Verify a log offline: every frame, entry, signature, hash link and checkpoint.
    ///
    /// Exit status: 0 when everything holds, 1 when faults were found (each listed with its seq
    /// and kind), 2 on usage or I/O errors.
    Verify(verify_cmd::VerifyArgs),
    /// Checks a listing code, a filing code or a filed-contract PDF, as the public pages do,
    /// and whether it is still current (the state map's proof): exit 0 genuine and current,
    /// 1 not genuine (a forged proof included), 2 could not check (or its currency could not be
    /// proved), 3 genuine but not current (withdrawn, sold, seized, filing cancelled).
    Check(check_cmd::CheckArgs),
    /// Drive complete deals through a running server's API (agent-assisted, self-listed,
    /// offline fallback, proxy) and print their listing and filing codes.
    Demo(demo_cmd::DemoArgs),
    /// Export the log as JSON Lines: exact entry bytes, with the checkpoints.
    Export(ExportArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Make a new Ed25519 key file (the secret never leaves it) and print its public key.
    Keygen(keyfile::KeygenArgs),
    /// Sign a command read as JSON from standard input with a key file; print the signed command.
    Sign(keyfile::SignArgs),
    /// Audit a server with memory: the first run verifies everything and remembers the newest
    /// checkpoint; later runs fetch only what is new and prove it extends what was verified.
    ///
    /// Exit status: 0 when everything holds, 1 on a rollback, fork or fault (with an evidence
    /// file for an inconsistency), 2 on usage or I/O errors.
    Audit(audit_cmd::AuditArgs),
    /// Check an evidence file written by `deedlog audit`: exit 0 when it shows the log
    /// misbehaved, 1 when it does not.
    VerifyEvidence(audit_cmd::VerifyEvidenceArgs),
    /// Run a witness (C2SP tlog-witness v1): cosign each log's checkpoints only when they
    /// extend the last one it cosigned, with a consistency proof.
    Witness(witness_cmd::WitnessArgs),
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Time the whole append path: verify, sequence, hash, Merkle, durable write, checkpoint.
    Append(bench::AppendArgs),
    /// Time opening (recovering) an existing store.
    Open(bench::OpenArgs),
    /// Time the offline verifier over a data folder at each worker thread count.
    Verify(bench::VerifyArgs),
    /// Load-test a node's HTTP API on loopback: the raw ceiling, public verify lookups and
    /// signed commands (req/s, p50, p99).
    Http(demo_cmd::HttpArgs),
    /// Build a city-sized log with the real domain (parties, a registry, verified sellers and
    /// their listings), open it in a fresh `deedlog serve` and report its memory.
    State(bench_state::StateArgs),
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// The data folder of a ledger.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the JSON Lines export.
    #[arg(long, required_unless_present = "tiles")]
    out: Option<PathBuf>,
    /// Where to write the log as a static C2SP tlog-tiles tree (`checkpoint`, `tile/…`), for any
    /// web server or object store to serve.
    #[arg(long)]
    tiles: Option<PathBuf>,
    /// The log's verifier key (`name+id+key`); default: the one in DATA/log.vkey.
    #[arg(long)]
    log_key: Option<String>,
    /// A full export: every entry's payload, confidential ones included (for the housing
    /// authority and registered auditors; keep it as confidential as the data folder). Without
    /// it the export is public: confidential payloads are left out, every entry still verifies.
    #[arg(long)]
    full: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The index engine's own housekeeping (memtable and journal rotation) is logged
                // at info; an operator needs its warnings only.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,fjall=warn,lsm_tree=warn")
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    progress::quiet_if(cli.quiet);
    let result = match cli.command {
        Cmd::Serve(args) => serve::serve(&args),
        Cmd::Replay(args) => serve::replay(&args),
        Cmd::Verify(args) => return verify_cmd::run(&args),
        Cmd::Check(args) => return check_cmd::run(&args),
        Cmd::Export(args) => export(&args),
        Cmd::Bench(BenchCmd::Append(args)) => bench::append(&args),
        Cmd::Bench(BenchCmd::Open(args)) => bench::open(&args),
        Cmd::Bench(BenchCmd::Verify(args)) => bench::verify(&args),
        Cmd::Bench(BenchCmd::Http(args)) => demo_cmd::bench_http(&args),
        Cmd::Bench(BenchCmd::State(args)) => bench_state::state(&args),
        Cmd::Demo(args) => return demo_cmd::demo(&args),
        Cmd::Keygen(args) => keyfile::keygen(&args),
        Cmd::Sign(args) => keyfile::sign(&args),
        Cmd::Audit(args) => return audit_cmd::run(&args),
        Cmd::VerifyEvidence(args) => return audit_cmd::verify_evidence(&args),
        Cmd::Witness(args) => witness_cmd::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The seqs of the listing proposals that showed (took effect at once, or were approved), by a
/// replay of the domain state over the segments.
fn shown_proposals(log_dir: &std::path::Path) -> anyhow::Result<std::collections::BTreeSet<u64>> {
    let mut state = deedlog_domain::State::default();
    let mut shown = std::collections::BTreeSet::new();
    let mut error = None;
    deedlog_store::audit::for_each_entry(log_dir, &mut |bytes, opening| {
        if error.is_some() {
            return;
        }
        match deedlog_core::Entry::decode_with(bytes, opening) {
            Ok(entry) => match state.apply(&entry) {
                Ok(()) => {
                    if let Some(seq) = deedlog_domain::table::shown_proposal(&state, &entry) {
                        shown.insert(seq);
                    }
                }
                Err(e) => error = Some(format!("entry {}: {e}", entry.seq)),
            },
            Err(e) => error = Some(e.to_string()),
        }
    })
    .map_err(|e| anyhow::anyhow!("reading the log: {e}"))?;
    if let Some(e) = error {
        // Not a log the domain can replay (a benchmark's log, say): no proposal is known to have
        // shown, so their payloads stay out of the public export; everything still verifies.
        eprintln!(
            "warning: replaying the log stopped ({e}); listing proposals after that point are \
             exported sealed"
        );
    }
    Ok(shown)
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let vkey = verify_cmd::log_key(&args.data, args.log_key.as_deref())?;
    let origin = verify_cmd::origin_of(&vkey)?;
    if let Some(dir) = &args.tiles {
        export_tiles(&args.data, dir, &vkey)?;
    }
    let Some(out_path) = &args.out else {
        return Ok(());
    };
    let tmp = out_path.with_extension("partial");
    let file = std::fs::File::create(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", tmp.display()))?;
    let mut out = std::io::BufWriter::new(file);
    // A public export shows an opening by its kind's visibility. "Public once shown" (listing
    // proposals) depends on later entries (an approval), so a first pass replays the domain
    // state and collects the proposals that showed; the set holds one seq per such proposal.
    let shown = if args.full {
        std::collections::BTreeSet::new()
    } else {
        shown_proposals(&args.data.join("log"))?
    };
    let mut disclose = |bytes: &[u8], opening: Option<&[u8]>| -> bool {
        use deedlog_domain::table::{self, Visibility};
        if args.full || opening.is_none() {
            return args.full;
        }
        let Ok(logged) = deedlog_core::LoggedEntry::decode(bytes) else {
            return false;
        };
        match table::spec(logged.command_kind()).map(|s| s.visibility) {
            Some(Visibility::Public) => true,
            Some(Visibility::PublicOnceShown) => shown.contains(&logged.seq),
            _ => false,
        }
    };
    let entries = deedlog_store::audit::export_jsonl(
        &args.data.join("log"),
        &origin,
        &vkey,
        &mut out,
        &mut disclose,
        &mut |n| {
            eprintln!("exported {n} entries");
        },
    )?;
    let file = out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    file.sync_all()?;
    std::fs::rename(&tmp, out_path)?;
    eprintln!("wrote {entries} entries to {}", out_path.display());
    Ok(())
}

/// `deedlog export --tiles DIR`: the static tlog-tiles tree, its root checked against the
/// checkpoint's signed root before the checkpoint is written.
fn export_tiles(data: &std::path::Path, dir: &std::path::Path, vkey: &str) -> anyhow::Result<()> {
    let verifier = deedlog_core::checkpoint::VerifierKey::parse(vkey)?;
    let check = |note: &[u8], size: u64, root: &deedlog_core::Hash| -> Result<(), String> {
        let opened = deedlog_core::checkpoint::open_checkpoint(note, &verifier)
            .map_err(|e| format!("the latest checkpoint: {e}"))?;
        if opened.size != size || opened.root != *root {
            return Err(format!(
                "the entries do not rebuild the latest checkpoint (size {}); run `deedlog verify`",
                opened.size
            ));
        }
        Ok(())
    };
    let report = deedlog_store::tiles::export(&data.join("log"), dir, &check, &mut |n| {
        eprintln!("read {n} entries");
    })?;
    eprintln!(
        "wrote the tlog-tiles tree of {} entries ({} files) to {}",
        report.size,
        report.files,
        dir.display()
    );
    Ok(())
}
