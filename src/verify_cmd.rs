//! `deedlog verify`: the offline verifier over a data folder, a segment folder or a JSON Lines
//! export, optionally followed by the semantic audit (every entry a legal step).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use deedlog_core::Entry;
use deedlog_core::entry::EntryError;
use deedlog_core::verify::{self, Report};
use serde::Serialize;

/// Arguments of `deedlog verify`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "log", "server"])))]
pub struct VerifyArgs {
    /// A ledger's data folder (its `log/` segments are verified; nothing else is trusted).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A segment folder, or a JSON Lines export file.
    #[arg(long)]
    log: Option<PathBuf>,
    /// A server's base URL: the log and checkpoints are fetched over its API and verified here.
    #[arg(long)]
    server: Option<String>,
    /// The log's verifier key (`name+id+key`) to trust. Default: DATA/log.vkey for --data, the
    /// export's header for an export (pin it with this flag for a real audit).
    #[arg(long)]
    log_key: Option<String>,
    /// Also replay every entry through the domain rules and report illegal steps. Needs every
    /// payload: a full export, a data folder, or `--server` with `--as` an allowed reader.
    #[arg(long)]
    semantic: bool,
    /// With `--server`: fetch the log as this actor (a registered auditor `auditor/<name>`, or
    /// `authority/housing`), so that confidential entries come whole. Needs `--key`.
    #[arg(long = "as", requires = "key", value_name = "ACTOR")]
    reader: Option<String>,
    /// The key file of `--as` (see `deedlog keygen`).
    #[arg(long, requires = "reader")]
    key: Option<PathBuf>,
    /// Worker threads for the decoding, hashing and signature checks (default: one per core);
    /// the report is the same whatever the count.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Reads the log key: the flag, else `DATA/log.vkey`.
pub fn log_key(data: &Path, flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(k) = flag {
        return Ok(k.to_owned());
    }
    let path = data.join("log.vkey");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no --log-key given and {} cannot be read", path.display()))?;
    Ok(text.trim().to_owned())
}

/// The origin of a log is its key's name.
pub fn origin_of(vkey: &str) -> anyhow::Result<String> {
    let key = deedlog_core::checkpoint::VerifierKey::parse(vkey)
        .map_err(|e| anyhow::anyhow!("the log key {vkey:?} is not a verifier key: {e}"))?;
    Ok(key.name().to_owned())
}

#[derive(Serialize)]
struct Output<'a> {
    ok: bool,
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    semantic: Option<SemanticOutput>,
}

#[derive(Serialize)]
struct SemanticOutput {
    entries: u64,
    faults: Vec<deedlog_domain::AuditFault>,
}

/// Runs `deedlog verify`; exit 0 clean, 1 faults, 2 usage or I/O errors.
pub fn run(args: &VerifyArgs) -> ExitCode {
    match verify(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The verifier's threads: the flag, else one per core.
fn parallelism(args: &VerifyArgs) -> verify::Parallelism {
    let mut p = verify::Parallelism::default();
    if let Some(threads) = args.threads {
        p.threads = usize::from(threads);
    }
    p
}

enum Source {
    Segments(PathBuf),
    Export(PathBuf),
}

/// Fetches the whole log and every checkpoint from a server, page by page, into the verifier
/// (and the semantic auditor), holding one page in memory at a time.
fn verify_server(
    url: &str,
    flag_key: Option<&str>,
    semantic: bool,
    reader: Option<&deedlog_client::Actor>,
    parallelism: verify::Parallelism,
) -> anyhow::Result<(Report, Option<SemanticOutput>)> {
    let client = deedlog_client::Client::new(url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let head = client
        .checkpoint()
        .map_err(|e| anyhow::anyhow!("fetching the checkpoint: {e}"))?;
    let vkey = match (flag_key, head.log_key) {
        (Some(k), _) => k.to_owned(),
        (None, Some(k)) => {
            eprintln!("warning: trusting the log key the server states; pin it with --log-key");
            k
        }
        (None, None) => bail!("the server states no log key; give --log-key"),
    };
    let size = deedlog_core::checkpoint::open_checkpoint(
        head.note.as_bytes(),
        &deedlog_core::checkpoint::VerifierKey::parse(&vkey)
            .map_err(|e| anyhow::anyhow!("log key: {e}"))?,
    )
    .map_err(|e| anyhow::anyhow!("the server's checkpoint does not verify: {e}"))?
    .size;
    let checkpoints = client
        .checkpoints(0, size)
        .map_err(|e| anyhow::anyhow!("fetching checkpoints: {e}"))?;
    let mut verifier = verify::LogVerifier::new(&origin_of(&vkey)?, &vkey)
        .map_err(|e| anyhow::anyhow!("log key: {e}"))?
        .with_parallelism(parallelism);
    let mut auditor = semantic.then(deedlog_domain::Auditor::new);
    let mut pending = checkpoints.into_iter().peekable();
    let mut next = 0u64;
    while next < size {
        let page = client
            .entries_as(reader, next, size.min(next + 1000))
            .map_err(|e| anyhow::anyhow!("fetching entries from {next}: {e}"))?;
        if page.is_empty() {
            bail!("the server returned no entries from {next}");
        }
        for item in page {
            verifier.push_entry(&item.bytes);
            if let Some(opening) = &item.opening {
                verifier.push_opening(next, opening);
            }
            if let Some(a) = auditor.as_mut() {
                match item.whole() {
                    Ok(entry) => {
                        a.check(&entry);
                    }
                    Err(EntryError::Sealed { seq }) => bail!(
                        "the semantic audit needs every payload, and the server shows entry {seq} \
                         sealed to this reader; run it with --as an allowed reader (a registered \
                         auditor) and --key, or without --semantic for the structural audit"
                    ),
                    // A damaged entry is the structural verifier's fault to report.
                    Err(_) => {}
                }
            }
            next += 1;
            while let Some((cp_size, note)) = pending.peek() {
                if *cp_size > verifier.entries() {
                    break;
                }
                verifier.push_checkpoint(note.as_bytes());
                pending.next();
            }
        }
        if next % 100_000 < 1000 {
            eprintln!("fetched {next}/{size} entries");
        }
    }
    let semantic = auditor.map(|a| {
        let report = a.finish();
        SemanticOutput {
            entries: report.entries,
            faults: report.faults,
        }
    });
    Ok((verifier.finish(), semantic))
}

fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    if let Some(url) = &args.server {
        let reader = match (&args.reader, &args.key) {
            (Some(id), Some(path)) => Some(deedlog_client::Actor::new(
                id.clone(),
                crate::keyfile::read(path)?,
            )),
            _ => None,
        };
        let (report, semantic) = verify_server(
            url,
            args.log_key.as_deref(),
            args.semantic,
            reader.as_ref(),
            parallelism(args),
        )?;
        return output(args, &report, semantic);
    }
    let (source, vkey) = match (&args.data, &args.log) {
        (Some(data), None) => (
            Source::Segments(data.join("log")),
            Some(log_key(data, args.log_key.as_deref())?),
        ),
        (None, Some(path)) if path.is_dir() => {
            let vkey = match &args.log_key {
                Some(k) => k.clone(),
                None => log_key(path.parent().unwrap_or(Path::new(".")), None)?,
            };
            (Source::Segments(path.clone()), Some(vkey))
        }
        (None, Some(path)) => (Source::Export(path.clone()), args.log_key.clone()),
        _ => bail!("give exactly one of --data and --log"),
    };
    let report = match &source {
        Source::Segments(dir) => {
            let vkey = vkey.as_deref().context("a log key is needed")?;
            if !dir.is_dir() {
                bail!("{} is not a folder", dir.display());
            }
            deedlog_store::audit::verify_segments_with(
                dir,
                &origin_of(vkey)?,
                vkey,
                parallelism(args),
                &mut |_| {},
            )?
        }
        Source::Export(path) => {
            let mut io_error = None;
            let report = verify::verify_jsonl_with(
                lines(path, &mut io_error)?,
                vkey.as_deref(),
                parallelism(args),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
            if let Some(e) = io_error {
                bail!("reading {}: {e}", path.display());
            }
            report?
        }
    };
    let semantic = if args.semantic {
        let mut auditor = deedlog_domain::Auditor::new();
        let mut undecodable = 0u64;
        let mut sealed = None;
        let mut feed =
            |bytes: &[u8], opening: Option<&[u8]>| match Entry::decode_with(bytes, opening) {
                Ok(entry) => {
                    auditor.check(&entry);
                }
                Err(EntryError::Sealed { seq }) => {
                    sealed.get_or_insert(seq);
                }
                Err(_) => undecodable += 1,
            };
        match &source {
            Source::Segments(dir) => {
                deedlog_store::audit::for_each_entry(dir, &mut feed)
                    .context("the semantic audit needs an undamaged log")?;
            }
            Source::Export(path) => {
                // An entry line, then its opening line when the export holds it.
                let mut io_error = None;
                let mut held: Option<Vec<u8>> = None;
                for line in lines(path, &mut io_error)?.skip(1) {
                    if line.starts_with(b"{\"derived\":") {
                        if let Some(prev) = held.replace(line) {
                            feed(&prev, None);
                        }
                    } else if line.starts_with(b"{\"opening\":") {
                        match (held.take(), verify::OpeningLine::parse(&line)) {
                            (Some(prev), Ok((_, opening))) => feed(&prev, Some(&opening)),
                            (Some(prev), Err(_)) => feed(&prev, None),
                            // An opening that follows no entry: the structural audit reports it.
                            (None, _) => {}
                        }
                    }
                }
                if let Some(prev) = held.take() {
                    feed(&prev, None);
                }
                if let Some(e) = io_error {
                    bail!("reading {}: {e}", path.display());
                }
            }
        }
        if let Some(seq) = sealed {
            bail!(
                "the semantic audit needs every payload, and entry {seq} is sealed in this \
                 export (a public export); audit a full export (`deedlog export --full`) or \
                 the data folder, or run without --semantic for the structural audit"
            );
        }
        let audit = auditor.finish();
        if undecodable > 0 && report.is_clean() {
            bail!("{undecodable} entries did not decode for the semantic audit");
        }
        Some(SemanticOutput {
            entries: audit.entries,
            faults: audit.faults,
        })
    } else {
        None
    };
    output(args, &report, semantic)
}

fn output(
    args: &VerifyArgs,
    report: &Report,
    semantic: Option<SemanticOutput>,
) -> anyhow::Result<bool> {
    let ok = report.is_clean() && semantic.as_ref().is_none_or(|s| s.faults.is_empty());
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&Output {
                ok,
                report,
                semantic,
            })?
        );
    } else {
        print_text(report, semantic.as_ref());
    }
    Ok(ok)
}

fn print_text(report: &Report, semantic: Option<&SemanticOutput>) {
    println!(
        "entries {}, checkpoints {} ({} verified), covered by a checkpoint: {}",
        report.entries, report.checkpoints, report.checkpoints_verified, report.covered
    );
    if report.opened + report.sealed > 0 {
        println!(
            "version-2 entries: {} with their payload checked against the signed digest, {} \
             sealed (payload not shown to this reader; verified without it)",
            report.opened, report.sealed
        );
    }
    for f in &report.faults {
        let at = match (f.seq, f.checkpoint_size) {
            (Some(seq), _) => format!("seq {seq}"),
            (None, Some(size)) => format!("checkpoint {size}"),
            (None, None) => "checkpoint ?".to_owned(),
        };
        let kind = serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!("FAULT {at}: {kind}: {}", f.detail);
    }
    if report.faults_omitted > 0 {
        println!("... and {} more faults", report.faults_omitted);
    }
    if let Some(s) = semantic {
        println!("semantic audit: {} entries", s.entries);
        for f in &s.faults {
            println!(
                "ILLEGAL seq {}: {} on {} ({}): {}",
                f.seq,
                f.command,
                f.stream,
                f.event,
                serde_json::to_string(&f.fault).unwrap_or_default()
            );
        }
    }
    let clean = report.is_clean() && semantic.is_none_or(|s| s.faults.is_empty());
    println!("{}", if clean { "OK" } else { "FAULTS FOUND" });
}

/// Streams an export's lines (without newlines); an I/O error ends the stream and is left in
/// `error` for the caller to report.
fn lines<'a>(
    path: &Path,
    error: &'a mut Option<std::io::Error>,
) -> anyhow::Result<impl Iterator<Item = Vec<u8>> + 'a> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(std::io::BufReader::new(file)
        .split(b'\n')
        .map_while(move |line| match line {
            Ok(line) => Some(line),
            Err(e) => {
                *error = Some(e);
                None
            }
        }))
}
