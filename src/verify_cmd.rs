//! `deedlog verify`: the offline verifier over a data folder, a segment folder or a JSON Lines
//! export, optionally followed by the semantic audit (every entry a legal step).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use deedlog_core::Entry;
use deedlog_core::checkpoint::VerifierKey;
use deedlog_core::entry::EntryError;
use deedlog_core::verify::{self, Report};
use serde::Serialize;
use serde_json::json;

/// Arguments of `deedlog verify`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "log", "server", "bundle"])))]
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
    /// A proof bundle, a saved API answer holding bundles (e.g. `/v1/verify/listing/…`), or a
    /// C2SP tlog-proof (`/v1/log/entries/{seq}/tlog-proof`), verified offline against
    /// `--log-key` (or the policy's log key).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// A witness policy (C2SP tlog-policy): the checkpoint verified must carry the
    /// cosignatures its quorum asks for, else exit 1 saying which group lacks signatures. The
    /// checkpoint is the server's (`--server`), each bundle's cosigned one (`--bundle`), or
    /// `--checkpoint` (else the last checkpoint line of an export).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// With `--data` or `--log` and `--policy`: a cosigned checkpoint note (as `GET /checkpoint`
    /// serves it) to hold to the policy; its root must be that of the verified log's first
    /// `size` entries.
    #[arg(long, requires = "policy")]
    checkpoint: Option<PathBuf>,
    /// Worker threads for the decoding, hashing and signature checks (default: one per core);
    /// the report is the same whatever the count.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Largest policy, checkpoint or bundle file read, bytes.
const FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

fn read_limited(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    file.take(FILE_BYTES_MAX + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("reading {}", path.display()))?;
    if out.len() as u64 > FILE_BYTES_MAX {
        bail!("{} is larger than {FILE_BYTES_MAX} bytes", path.display());
    }
    Ok(out)
}

fn read_policy(path: &Path) -> anyhow::Result<deedlog_client::policy::Policy> {
    deedlog_client::policy::Policy::parse(&read_limited(path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// What the witness policy found on the checkpoint it was held to.
#[derive(Serialize)]
struct WitnessOutput {
    /// The size of the checkpoint whose cosignatures were counted.
    size: u64,
    cosigned_by: Vec<String>,
    quorum_met: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    shortfall: Option<String>,
    /// Why the checkpoint could not be held to the policy at all (another log's, or not the
    /// verified log's tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl WitnessOutput {
    fn of(verdict: deedlog_client::policy::PolicyVerdict) -> Self {
        Self {
            size: verdict.checkpoint.size,
            cosigned_by: verdict.cosigned_by,
            quorum_met: verdict.quorum_met,
            shortfall: verdict.shortfall,
            error: None,
        }
    }

    fn failed(size: u64, error: String) -> Self {
        Self {
            size,
            cosigned_by: Vec::new(),
            quorum_met: false,
            shortfall: None,
            error: Some(error),
        }
    }

    fn ok(&self) -> bool {
        self.quorum_met && self.error.is_none()
    }
}

/// The root of the first `target` leaves of a stream of entries, computed as they pass.
struct RootAt {
    target: u64,
    frontier: deedlog_core::merkle::Frontier,
    root: Option<deedlog_core::Hash>,
}

impl RootAt {
    fn new(target: u64) -> Self {
        Self {
            target,
            frontier: deedlog_core::merkle::Frontier::new(),
            root: (target == 0).then_some(deedlog_core::merkle::EMPTY_HASH),
        }
    }

    fn push(&mut self, entry_bytes: &[u8]) {
        if self.root.is_some() {
            return;
        }
        self.frontier
            .push(deedlog_core::hash::leaf_hash(entry_bytes));
        if self.frontier.size() == self.target {
            self.root = Some(self.frontier.root());
        }
    }
}

/// Holds the cosigned checkpoint `note` to the policy, and its root to `root_at` (the verified
/// log's root at that size, `None` when the log is shorter).
fn hold_to_policy(
    policy: &deedlog_client::policy::Policy,
    note: &[u8],
    root_at: impl FnOnce(u64) -> Option<deedlog_core::Hash>,
) -> WitnessOutput {
    let verdict = match policy.check(note) {
        Ok(v) => v,
        Err(e) => return WitnessOutput::failed(0, e.to_string()),
    };
    let size = verdict.checkpoint.size;
    match root_at(size) {
        Some(root) if root == verdict.checkpoint.root => WitnessOutput::of(verdict),
        Some(_) => WitnessOutput::failed(
            size,
            format!(
                "the cosigned checkpoint of size {size} has another root than the verified log: a fork"
            ),
        ),
        None => WitnessOutput::failed(
            size,
            format!("the cosigned checkpoint of size {size} is beyond the verified log"),
        ),
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    witnesses: Option<WitnessOutput>,
}

#[derive(Serialize)]
struct SemanticOutput {
    entries: u64,
    faults: Vec<deedlog_domain::AuditFault>,
}

/// Runs `deedlog verify`; exit 0 clean, 1 faults, 2 usage or I/O errors.
pub fn run(args: &VerifyArgs) -> ExitCode {
    crate::progress::quiet_if(args.json);
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
    policy: Option<&deedlog_client::policy::Policy>,
    parallelism: verify::Parallelism,
) -> anyhow::Result<(Report, Option<SemanticOutput>, Option<WitnessOutput>)> {
    let client = deedlog_client::Client::new(url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let mut head = client
        .checkpoint()
        .map_err(|e| anyhow::anyhow!("fetching the checkpoint: {e}"))?;
    if let Some(policy) = policy {
        // The server's cosigner asks the witnesses a round after each new checkpoint, and
        // serves the cosigned note once they answered: a verifier that arrives in between
        // waits a little for it rather than failing a healthy log.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !policy
            .check(head.note.as_bytes())
            .is_ok_and(|v| v.quorum_met)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(250));
            head = client
                .checkpoint()
                .map_err(|e| anyhow::anyhow!("fetching the checkpoint: {e}"))?;
        }
    }
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
    let mut root_at = RootAt::new(size);
    let mut pending = checkpoints.into_iter().peekable();
    let mut next = 0u64;
    let bar = crate::progress::bar("fetched entries", Some(size));
    while next < size {
        let page = client
            .entries_as(reader, next, size.min(next + 1000))
            .map_err(|e| anyhow::anyhow!("fetching entries from {next}: {e}"))?;
        if page.is_empty() {
            bail!("the server returned no entries from {next}");
        }
        for item in page {
            verifier.push_entry(&item.bytes);
            root_at.push(&item.bytes);
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
        bar.set_position(next);
    }
    bar.finish_and_clear();
    let semantic = auditor.map(|a| {
        let report = a.finish();
        SemanticOutput {
            entries: report.entries,
            faults: report.faults,
        }
    });
    let witnesses = policy.map(|p| hold_to_policy(p, head.note.as_bytes(), |_| root_at.root));
    Ok((verifier.finish(), semantic, witnesses))
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
        let policy = args.policy.as_deref().map(read_policy).transpose()?;
        let (report, semantic, witnesses) = verify_server(
            url,
            args.log_key.as_deref(),
            args.semantic,
            reader.as_ref(),
            policy.as_ref(),
            parallelism(args),
        )?;
        return output(args, &report, semantic, witnesses);
    }
    if let Some(path) = &args.bundle {
        return verify_bundles(args, path);
    }
    let policy = args.policy.as_deref().map(read_policy).transpose()?;
    let cosigned = args.checkpoint.as_deref().map(read_limited).transpose()?;
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
            let bar = crate::progress::bar("verified entries", None);
            let report = deedlog_store::audit::verify_segments_with(
                dir,
                &origin_of(vkey)?,
                vkey,
                parallelism(args),
                &mut |n| bar.set_position(n),
            )?;
            bar.finish_and_clear();
            report
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
    let witnesses = match &policy {
        None => None,
        Some(policy) => Some(witnesses_offline(&source, policy, cosigned.as_deref())?),
    };
    output(args, &report, semantic, witnesses)
}

/// Holds the checkpoint of a data folder or export to the policy: `--checkpoint` when given
/// (its root recomputed from the log's entries), else the export's last checkpoint line (the
/// log's own note, which carries cosignatures only if whoever exported it put them there).
fn witnesses_offline(
    source: &Source,
    policy: &deedlog_client::policy::Policy,
    cosigned: Option<&[u8]>,
) -> anyhow::Result<WitnessOutput> {
    let note = match (cosigned, source) {
        (Some(note), _) => note.to_vec(),
        (None, Source::Export(path)) => {
            let mut io_error = None;
            let mut last = None;
            for line in lines(path, &mut io_error)? {
                if line.starts_with(b"{\"checkpoint\":") {
                    last = Some(line);
                }
            }
            if let Some(e) = io_error {
                bail!("reading {}: {e}", path.display());
            }
            let line = last
                .context("the export has no checkpoint to hold to the policy; give --checkpoint")?;
            #[derive(serde::Deserialize)]
            struct Line {
                checkpoint: String,
            }
            serde_json::from_slice::<Line>(&line)
                .context("the export's last checkpoint line")?
                .checkpoint
                .into_bytes()
        }
        (None, Source::Segments(_)) => bail!(
            "a data folder holds the log's own checkpoints, not its witnesses' cosignatures; \
             give --checkpoint with the cosigned note (GET /checkpoint)"
        ),
    };
    let size = policy.check(&note).map(|v| v.checkpoint.size).unwrap_or(0);
    let mut root_at = RootAt::new(size);
    match source {
        Source::Segments(dir) => {
            deedlog_store::audit::for_each_entry(dir, &mut |bytes, _| root_at.push(bytes))
                .context("reading the log's entries")?;
        }
        Source::Export(path) => {
            let mut io_error = None;
            for line in lines(path, &mut io_error)?.skip(1) {
                if line.starts_with(b"{\"derived\":") {
                    root_at.push(&line);
                }
            }
            if let Some(e) = io_error {
                bail!("reading {}: {e}", path.display());
            }
        }
    }
    Ok(hold_to_policy(policy, &note, |_| root_at.root))
}

/// `deedlog verify --bundle FILE`: every bundle in the file verified offline, and with
/// `--policy` its cosigned checkpoint held to the policy.
fn verify_bundles(args: &VerifyArgs, path: &Path) -> anyhow::Result<bool> {
    let policy = args.policy.as_deref().map(read_policy).transpose()?;
    let vkey = match (&args.log_key, &policy) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) if p.logs.len() == 1 => p.logs[0].0.to_vkey(),
        _ => bail!("give --log-key (or a policy with one log) to verify bundles against"),
    };
    let bytes = read_limited(path)?;
    if bytes.starts_with(deedlog_core::tlog_proof::HEADER.as_bytes()) {
        return verify_tlog_proof(args, &bytes, &vkey, policy.as_ref());
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is neither JSON nor a tlog-proof", path.display()))?;
    let bundles = deedlog_client::proof::find_bundles(&value);
    if bundles.is_empty() {
        bail!("{} holds no proof bundle", path.display());
    }
    let mut results = Vec::new();
    let mut ok = true;
    for b in &bundles {
        let result = deedlog_client::proof::verify_bundle_with_policy(b, &vkey, policy.as_ref());
        let item = match &result {
            Ok((v, verdict)) => json!({
                "seq": v.entry.seq, "ok": true, "tree_size": v.checkpoint.size,
                "witnessed_size": v.witnessed.as_ref().map(|w| w.size),
                "cosigned_by": verdict.as_ref().map(|x| x.cosigned_by.clone()),
            }),
            Err(e) => {
                ok = false;
                json!({"seq": b.seq, "ok": false, "error": e.to_string()})
            }
        };
        if !args.json {
            match &result {
                Ok((v, verdict)) => println!(
                    "bundle of entry {}: OK (checkpoint of size {}{}{})",
                    v.entry.seq,
                    v.checkpoint.size,
                    v.witnessed
                        .as_ref()
                        .map(|w| format!(", cosigned checkpoint of size {}", w.size))
                        .unwrap_or_default(),
                    verdict
                        .as_ref()
                        .map(|x| format!(", cosigned by [{}]", x.cosigned_by.join(", ")))
                        .unwrap_or_default()
                ),
                Err(e) => println!("bundle of entry {}: FAILED: {e}", b.seq),
            }
        }
        results.push(item);
    }
    if args.json {
        println!("{}", json!({"ok": ok, "bundles": results}));
    } else {
        println!("{}", if ok { "OK" } else { "FAULTS FOUND" });
    }
    Ok(ok)
}

/// `deedlog verify --bundle FILE.tlog-proof`: a C2SP `tlog-proof` checked offline (the entry
/// bytes it carries, their signature, the inclusion proof, the log's signature on the
/// checkpoint) and, with `--policy`, the checkpoint's cosignatures held to the policy.
fn verify_tlog_proof(
    args: &VerifyArgs,
    bytes: &[u8],
    vkey: &str,
    policy: Option<&deedlog_client::policy::Policy>,
) -> anyhow::Result<bool> {
    let key = VerifierKey::parse(vkey).map_err(|e| anyhow::anyhow!("the log key: {e}"))?;
    let result = deedlog_core::tlog_proof::TlogProof::parse(bytes)
        .and_then(|p| p.verify(&key).map(|v| (p, v)))
        .map_err(|e| e.to_string())
        .and_then(|(p, v)| match policy {
            Some(policy) => deedlog_client::policy::require_policy(&p.checkpoint, policy)
                .map(|verdict| (v, Some(verdict.cosigned_by)))
                .map_err(|e| e.to_string()),
            None => Ok((v, None)),
        });
    let ok = result.is_ok();
    if args.json {
        let item = match &result {
            Ok((v, cosigned_by)) => json!({"ok": true, "format": "tlog-proof", "seq": v.entry.seq,
                "tree_size": v.checkpoint.size, "cosigned_by": cosigned_by}),
            Err(e) => json!({"ok": false, "format": "tlog-proof", "error": e}),
        };
        println!("{item}");
    } else {
        match &result {
            Ok((v, cosigned_by)) => println!(
                "tlog-proof of entry {}: OK (checkpoint of size {}{})\nOK",
                v.entry.seq,
                v.checkpoint.size,
                cosigned_by
                    .as_ref()
                    .map(|c| format!(", cosigned by [{}]", c.join(", ")))
                    .unwrap_or_default()
            ),
            Err(e) => println!("tlog-proof: FAILED: {e}\nFAULTS FOUND"),
        }
    }
    Ok(ok)
}

fn output(
    args: &VerifyArgs,
    report: &Report,
    semantic: Option<SemanticOutput>,
    witnesses: Option<WitnessOutput>,
) -> anyhow::Result<bool> {
    let ok = report.is_clean()
        && semantic.as_ref().is_none_or(|s| s.faults.is_empty())
        && witnesses.as_ref().is_none_or(WitnessOutput::ok);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&Output {
                ok,
                report,
                semantic,
                witnesses,
            })?
        );
    } else {
        print_text(report, semantic.as_ref(), witnesses.as_ref());
    }
    Ok(ok)
}

fn print_text(
    report: &Report,
    semantic: Option<&SemanticOutput>,
    witnesses: Option<&WitnessOutput>,
) {
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
    if let Some(w) = witnesses {
        match (&w.error, w.quorum_met) {
            (Some(e), _) => println!("WITNESS POLICY NOT MET: {e}"),
            (None, true) => println!(
                "witnesses: the checkpoint of size {} meets the policy; cosigned by [{}]",
                w.size,
                w.cosigned_by.join(", ")
            ),
            (None, false) => println!(
                "WITNESS POLICY NOT MET: the checkpoint of size {}: {}; cosigned by [{}]",
                w.size,
                w.shortfall.as_deref().unwrap_or("the quorum does not hold"),
                w.cosigned_by.join(", ")
            ),
        }
    }
    let clean = report.is_clean()
        && semantic.is_none_or(|s| s.faults.is_empty())
        && witnesses.is_none_or(WitnessOutput::ok);
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
