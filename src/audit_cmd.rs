//! `deedlog audit`: an audit that remembers. The first run verifies the whole log from a server
//! and stores the newest verified checkpoint in a state folder; each later run fetches only what
//! is new, proves the server's checkpoint consistent with the remembered one, verifies the new
//! entries structurally, and advances the state atomically. A checkpoint that is not consistent
//! with the remembered one (a rollback, a fork, a changed past) stops the audit with exit
//! status 1 and an evidence file that `deedlog verify-evidence` (or anyone with the log key)
//! can check.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use deedlog_core::checkpoint::{OpenedCheckpoint, VerifierKey, open_checkpoint};
use deedlog_core::hash::{self, Hash, ZERO_HASH, leaf_hash, node_hash};
use deedlog_core::keys;
use deedlog_core::merkle::{self, EMPTY_HASH};
use deedlog_core::verify::{FaultKind, LogVerifier};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The state file's format tag.
pub const STATE_FORMAT: &str = "deedlog/audit-state/v1";
/// The evidence file's format tag.
pub const EVIDENCE_FORMAT: &str = "deedlog/audit-evidence/v1";
/// Entries asked for per page.
const PAGE: u64 = 1000;

/// Arguments of `deedlog audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The server's base URL.
    #[arg(long)]
    server: String,
    /// The audit's memory: the newest verified checkpoint, and evidence files.
    #[arg(long)]
    state: PathBuf,
    /// The log's verifier key to trust on the first run (later runs use the remembered one and
    /// refuse another). Default on the first run: the key the server states, with a warning.
    #[arg(long)]
    log_key: Option<String>,
    /// A witness policy (C2SP tlog-policy: `log`, `witness`, `group`, `quorum` lines): the
    /// server's checkpoint must carry the cosignatures its quorum asks for, or the audit stops
    /// (exit 1) without advancing its state.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Also run the domain's semantic audit (every entry a legal step of the rules) over the
    /// entries, fetched whole as `--as` (a registered auditor). The domain state is rebuilt by
    /// replaying the log from its start on each run, over entries proved to be the remembered
    /// history; an illegal step stops the audit (exit 1) without advancing its state.
    #[arg(long, requires = "reader")]
    semantic: bool,
    /// The actor the entries are fetched as (`auditor/<name>`, registered with
    /// `serve --auditor`), so that confidential payloads come whole. Needs `--key`.
    #[arg(long = "as", requires = "key", value_name = "ACTOR")]
    reader: Option<String>,
    /// The key file of `--as`.
    #[arg(long, requires = "reader")]
    key: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `deedlog verify-evidence`.
#[derive(Args, Debug)]
pub struct VerifyEvidenceArgs {
    /// The evidence file `deedlog audit` wrote.
    file: PathBuf,
    /// The log key to check the checkpoints with (default: the one the file names; pin it).
    #[arg(long)]
    log_key: Option<String>,
}

/// What the audit remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    format: String,
    log_key: String,
    /// The newest verified checkpoint note.
    checkpoint: String,
    size: u64,
    /// Hex of the leaf hash of the last entry (all zero for an empty log).
    last_leaf: String,
    /// The right edge of the verified tree: `[height, hex hash]` of each perfect subtree, left
    /// to right, so the next run can recompute roots from the new entries alone.
    frontier: Vec<(u32, String)>,
}

/// The right edge of a Merkle tree (perfect subtrees, largest first).
#[derive(Debug, Clone, Default)]
struct Edge {
    nodes: Vec<(u32, Hash)>,
    size: u64,
}

impl Edge {
    fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.nodes.last() {
            if height != node.0 {
                break;
            }
            self.nodes.pop();
            node = (height + 1, node_hash(left, node.1));
        }
        self.nodes.push(node);
        self.size += 1;
    }

    fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut root)) = iter.next() else {
            return EMPTY_HASH;
        };
        for &(_, left) in iter {
            root = node_hash(left, root);
        }
        root
    }

    fn from_state(nodes: &[(u32, String)], size: u64) -> anyhow::Result<Self> {
        let nodes = nodes
            .iter()
            .map(|(h, x)| {
                Ok((
                    *h,
                    hash::from_hex(x).map_err(|_| anyhow::anyhow!("bad hash"))?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // The heights must be the set bits of the size, largest first: anything else is not
        // the edge of a tree of this size.
        let expected: Vec<u32> = (0..64).rev().filter(|b| size >> b & 1 == 1).collect();
        if nodes.iter().map(|n| n.0).collect::<Vec<_>>() != expected {
            bail!("the remembered tree edge does not fit size {size}");
        }
        Ok(Self { nodes, size })
    }

    fn to_state(&self) -> Vec<(u32, String)> {
        self.nodes
            .iter()
            .map(|(h, x)| (*h, hash::to_hex(x)))
            .collect()
    }
}

/// The verdict of one audit run.
#[derive(Debug, Serialize)]
struct Outcome {
    ok: bool,
    /// `first`, `advanced`, `unchanged`, `rollback`, `fork`, `inconsistent` or `faults`.
    status: &'static str,
    from: u64,
    to: u64,
    fetched: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    faults: Vec<deedlog_core::verify::Fault>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// With `--policy`: the witnesses whose cosignature on the checkpoint verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    cosigned_by: Option<Vec<String>>,
    /// With `--semantic`: how many entries were replayed through the rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    semantic_entries: Option<u64>,
    /// With `--semantic`: the illegal steps found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    illegal: Vec<deedlog_domain::AuditFault>,
}

impl Outcome {
    /// A failed outcome with only a status and words.
    fn failed(status: &'static str, from: u64, to: u64, fetched: u64, detail: String) -> Self {
        Self {
            ok: false,
            status,
            from,
            to,
            fetched,
            evidence: None,
            faults: Vec::new(),
            detail: Some(detail),
            cosigned_by: None,
            semantic_entries: None,
            illegal: Vec::new(),
        }
    }
}

/// The semantic side of an audit run: the reader the entries are fetched as and the domain's
/// auditor they are replayed through.
struct Semantic {
    reader: deedlog_client::Actor,
    auditor: deedlog_domain::Auditor,
}

impl Semantic {
    /// Feeds one fetched entry, whole, to the auditor.
    fn check(&mut self, item: &deedlog_client::client::FeedEntry) -> anyhow::Result<()> {
        match item.whole() {
            Ok(entry) => {
                self.auditor.check(&entry);
                Ok(())
            }
            Err(deedlog_core::entry::EntryError::Sealed { seq }) => bail!(
                "the semantic audit needs every payload, and the server shows entry {seq} sealed \
                 to {}; is it a registered auditor (`serve --auditor`)?",
                self.reader.id
            ),
            // A damaged entry is the structural audit's to report.
            Err(_) => Ok(()),
        }
    }

    /// Replays entries `0..size` through the rules, and proves they are the remembered
    /// history: their leaves must rebuild `root`. Without that proof a server could show the
    /// auditor a tidier past than the one the structural audit verified.
    fn replay(
        &mut self,
        client: &deedlog_client::Client,
        size: u64,
        root: Hash,
    ) -> anyhow::Result<Option<String>> {
        let mut edge = Edge::default();
        let mut next = 0;
        let bar = crate::progress::bar("audit: replayed remembered entries", Some(size));
        while next < size {
            let page = client
                .entries_as(Some(&self.reader), next, size.min(next + PAGE))
                .map_err(|e| anyhow::anyhow!("fetching entries from {next}: {e}"))?;
            if page.is_empty() {
                bail!("the server returned no entries from {next}");
            }
            for item in page
                .iter()
                .take(usize::try_from(size - next).unwrap_or(usize::MAX))
            {
                edge.push(leaf_hash(&item.bytes));
                self.check(item)?;
                next += 1;
            }
            bar.set_position(next);
        }
        bar.finish_and_clear();
        Ok((edge.root() != root).then(|| {
            format!(
                "the entries served for the semantic replay do not rebuild the remembered root \
                 of size {size}: the server shows this reader another past"
            )
        }))
    }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("audit-state.json")
}

fn read_state(dir: &Path) -> anyhow::Result<Option<State>> {
    let path = state_path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let state: State = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an audit state", path.display()))?;
    if state.format != STATE_FORMAT {
        bail!("{}: unknown format {}", path.display(), state.format);
    }
    Ok(Some(state))
}

/// Writes a file durably and atomically: temp, fsync, rename, fsync the folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all())?;
    Ok(())
}

fn open(note: &str, key: &VerifierKey) -> anyhow::Result<OpenedCheckpoint> {
    open_checkpoint(note.as_bytes(), key).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `deedlog audit`: 0 when everything holds, 1 on an inconsistency or a fault, 2 on errors.
pub fn run(args: &AuditArgs) -> ExitCode {
    crate::progress::quiet_if(args.json);
    match audit(args) {
        Ok(outcome) => {
            if args.json {
                println!("{}", serde_json::to_string(&outcome).unwrap_or_default());
            } else {
                print_text(&outcome);
            }
            if outcome.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn print_text(o: &Outcome) {
    let verdict = if o.ok { "OK" } else { "FAILED" };
    println!(
        "audit {verdict}: {} (size {} → {}, {} entries fetched)",
        o.status, o.from, o.to, o.fetched
    );
    if let Some(d) = &o.detail {
        println!("  {d}");
    }
    for f in &o.faults {
        println!("  FAULT seq {:?} {:?}: {}", f.seq, f.kind, f.detail);
    }
    if let Some(w) = &o.cosigned_by {
        println!("  cosigned by: [{}]", w.join(", "));
    }
    if let Some(n) = o.semantic_entries {
        println!("  semantic audit: {n} entries replayed through the rules");
    }
    for f in &o.illegal {
        println!(
            "  ILLEGAL seq {}: {} on {} ({}): {}",
            f.seq,
            f.command,
            f.stream,
            f.event,
            serde_json::to_string(&f.fault).unwrap_or_default()
        );
    }
    if let Some(e) = &o.evidence {
        println!("  evidence written to {e} (check it with `deedlog verify-evidence {e}`)");
    }
}

/// Entry faults the offline verifier finds in an entry on its own; position faults (seq,
/// prev_hash) and checkpoint faults are checked here against the remembered state instead,
/// since the verifier is fed the new entries only.
fn intrinsic(kind: FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Undecodable
            | FaultKind::NotCanonical
            | FaultKind::MalformedCommand
            | FaultKind::BadKey
            | FaultKind::BadSignature
            | FaultKind::BadStreamVersion
    )
}

fn audit(args: &AuditArgs) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("creating {}", args.state.display()))?;
    let client = deedlog_client::Client::new(&args.server)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.server))?;
    let head = client
        .checkpoint()
        .map_err(|e| anyhow::anyhow!("fetching the checkpoint: {e}"))?;
    let Some(path) = &args.policy else {
        return audit_checkpoint(args, &client, head);
    };
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let policy = deedlog_client::policy::Policy::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // The checkpoint audited is the one whose cosignatures were counted.
    let verdict = match policy.check(head.note.as_bytes()) {
        Ok(v) => v,
        Err(e) => bail!("the server's checkpoint is not signed by a log of the policy: {e}"),
    };
    if !verdict.quorum_met {
        let remembered = read_state(&args.state)?.map_or(0, |s| s.size);
        return Ok(Outcome {
            ok: false,
            status: "quorum",
            from: remembered,
            to: verdict.checkpoint.size,
            fetched: 0,
            evidence: None,
            faults: Vec::new(),
            detail: Some(format!(
                "the checkpoint of size {} does not meet the witness policy's quorum: {}; \
                 cosigned by: [{}]; nothing was advanced",
                verdict.checkpoint.size,
                verdict.shortfall.as_deref().unwrap_or("not met"),
                verdict.cosigned_by.join(", ")
            )),
            cosigned_by: Some(verdict.cosigned_by),
            semantic_entries: None,
            illegal: Vec::new(),
        });
    }
    let mut outcome = audit_checkpoint(args, &client, head)?;
    outcome.cosigned_by = Some(verdict.cosigned_by);
    Ok(outcome)
}

/// The audit of the checkpoint `head` the server gave.
fn audit_checkpoint(
    args: &AuditArgs,
    client: &deedlog_client::Client,
    head: deedlog_client::client::CheckpointAnswer,
) -> anyhow::Result<Outcome> {
    let remembered = read_state(&args.state)?;
    let vkey = match (&remembered, &args.log_key) {
        (Some(s), Some(k)) if &s.log_key != k => {
            bail!(
                "--log-key differs from the remembered log key {}",
                s.log_key
            )
        }
        (Some(s), _) => s.log_key.clone(),
        (None, Some(k)) => k.clone(),
        (None, None) => {
            let k = head
                .log_key
                .clone()
                .ok_or_else(|| anyhow::anyhow!("the server states no log key; give --log-key"))?;
            eprintln!("warning: trusting the log key the server states; pin it with --log-key");
            k
        }
    };
    let key = VerifierKey::parse(&vkey).map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let new = match open(&head.note, &key) {
        Ok(c) if c.origin == key.name() => c,
        Ok(c) => bail!(
            "the server's checkpoint is for origin {:?}, not {:?}",
            c.origin,
            key.name()
        ),
        Err(e) => {
            return Ok(Outcome {
                ok: false,
                status: "faults",
                from: remembered.as_ref().map_or(0, |s| s.size),
                to: 0,
                fetched: 0,
                evidence: None,
                faults: Vec::new(),
                detail: Some(format!(
                    "the server's checkpoint does not verify under the log key: {e}"
                )),
                cosigned_by: None,
                semantic_entries: None,
                illegal: Vec::new(),
            });
        }
    };
    let (old, mut edge, mut last_leaf) = match &remembered {
        Some(s) => {
            let old = open(&s.checkpoint, &key).context("the remembered checkpoint")?;
            let edge = Edge::from_state(&s.frontier, s.size)?;
            if edge.root() != old.root || old.size != s.size {
                bail!(
                    "the audit state is damaged: its tree edge does not give the remembered root"
                );
            }
            let last =
                hash::from_hex(&s.last_leaf).map_err(|_| anyhow::anyhow!("bad last_leaf"))?;
            (Some(old), edge, last)
        }
        None => (None, Edge::default(), ZERO_HASH),
    };
    let from = old.as_ref().map_or(0, |o| o.size);
    let mut semantic = match (&args.reader, &args.key, args.semantic) {
        (Some(id), Some(path), true) => Some(Semantic {
            reader: deedlog_client::Actor::new(id.clone(), crate::keyfile::read(path)?),
            auditor: deedlog_domain::Auditor::new(),
        }),
        _ => None,
    };
    if let Some(old) = &old {
        if let Some(outcome) = check_consistency(client, args, &vkey, old, &new)? {
            return Ok(outcome);
        }
        if let Some(sem) = semantic.as_mut()
            && let Some(detail) = sem.replay(client, old.size, old.root)?
        {
            return Ok(Outcome::failed("faults", from, new.size, 0, detail));
        }
        if new.size == old.size && semantic.is_none() {
            return Ok(Outcome {
                ok: true,
                status: "unchanged",
                from,
                to: new.size,
                fetched: 0,
                evidence: None,
                faults: Vec::new(),
                detail: None,
                cosigned_by: None,
                semantic_entries: None,
                illegal: Vec::new(),
            });
        }
    }
    // Fetch and verify the new entries only.
    let mut verifier = LogVerifier::new(key.name(), &vkey).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut faults = Vec::new();
    let mut next = from;
    let bar = crate::progress::bar(
        "audit: fetched new entries",
        Some(new.size.saturating_sub(from)),
    );
    while next < new.size {
        let reader = semantic.as_ref().map(|s| &s.reader);
        let page = client
            .entries_as(reader, next, new.size.min(next + PAGE))
            .map_err(|e| anyhow::anyhow!("fetching entries from {next}: {e}"))?;
        let mut got = 0;
        for item in page {
            if next >= new.size {
                break;
            }
            // An opening shown with its entry is checked against the signed payload digest.
            verifier.push_entry(&item.bytes);
            if let Some(opening) = &item.opening {
                verifier.push_opening(next, opening);
            }
            if let Ok(entry) = deedlog_core::LoggedEntry::decode(&item.bytes) {
                if entry.seq != next {
                    faults.push(position_fault(
                        next,
                        FaultKind::SeqMismatch,
                        format!("the entry at position {next} says seq {}", entry.seq),
                    ));
                }
                if entry.prev_hash != last_leaf {
                    faults.push(position_fault(
                        next,
                        FaultKind::PrevHashMismatch,
                        format!(
                            "prev_hash is not the leaf hash of entry {}",
                            next.wrapping_sub(1)
                        ),
                    ));
                }
            }
            if let Some(sem) = semantic.as_mut() {
                sem.check(&item)?;
            }
            last_leaf = leaf_hash(&item.bytes);
            edge.push(last_leaf);
            next += 1;
            got += 1;
        }
        if got == 0 {
            bail!("the server returned no entries from {next}");
        }
        bar.set_position(next - from);
    }
    bar.finish_and_clear();
    faults.extend(
        verifier
            .finish()
            .faults
            .into_iter()
            .filter(|f| intrinsic(f.kind))
            .map(|mut f| {
                // The verifier counted from 0; the entries began at `from`.
                f.seq = f.seq.map(|s| s + from);
                f
            }),
    );
    if edge.root() != new.root {
        faults.push(deedlog_core::verify::Fault {
            seq: None,
            checkpoint_size: Some(new.size),
            kind: FaultKind::CheckpointRootMismatch,
            detail: "the entries served do not rebuild the checkpoint's root".into(),
        });
    }
    let fetched = new.size - from;
    let (semantic_entries, illegal) = match semantic {
        Some(sem) => {
            let report = sem.auditor.finish();
            (Some(report.entries), report.faults)
        }
        None => (None, Vec::new()),
    };
    if faults.is_empty() && !illegal.is_empty() {
        // An illegal step is a finding about the log: the audit stops, and the state stays
        // where it was, so the next run finds it again until someone looks.
        let first = &illegal[0];
        return Ok(Outcome {
            detail: Some(format!(
                "{} illegal step(s) in the log; the first at seq {}: {} on {} recorded as {}, \
                 which the rules refuse ({})",
                illegal.len(),
                first.seq,
                first.command,
                first.stream,
                first.event,
                serde_json::to_string(&first.fault).unwrap_or_default()
            )),
            semantic_entries,
            illegal,
            ..Outcome::failed("illegal", from, new.size, fetched, String::new())
        });
    }
    if !faults.is_empty() {
        // The state does not advance past entries that failed.
        return Ok(Outcome {
            ok: false,
            status: "faults",
            from,
            to: new.size,
            fetched,
            evidence: None,
            faults,
            detail: None,
            cosigned_by: None,
            semantic_entries: None,
            illegal: Vec::new(),
        });
    }
    let state = State {
        format: STATE_FORMAT.into(),
        log_key: vkey,
        checkpoint: new.note_text.clone(),
        size: new.size,
        last_leaf: hash::to_hex(&last_leaf),
        frontier: edge.to_state(),
    };
    write_atomic(
        &state_path(&args.state),
        &serde_json::to_vec_pretty(&state)?,
    )?;
    Ok(Outcome {
        ok: true,
        status: match &old {
            None => "first",
            Some(o) if o.size == new.size => "unchanged",
            Some(_) => "advanced",
        },
        from,
        to: new.size,
        fetched,
        evidence: None,
        faults: Vec::new(),
        detail: None,
        cosigned_by: None,
        semantic_entries,
        illegal: Vec::new(),
    })
}

fn position_fault(seq: u64, kind: FaultKind, detail: String) -> deedlog_core::verify::Fault {
    deedlog_core::verify::Fault {
        seq: Some(seq),
        checkpoint_size: None,
        kind,
        detail,
    }
}

/// Checks the server's checkpoint against the remembered one; on an inconsistency, writes the
/// evidence and returns the failed outcome.
fn check_consistency(
    client: &deedlog_client::Client,
    args: &AuditArgs,
    vkey: &str,
    old: &OpenedCheckpoint,
    new: &OpenedCheckpoint,
) -> anyhow::Result<Option<Outcome>> {
    let (status, proof, detail) = if new.size < old.size {
        (
            "rollback",
            Vec::new(),
            format!(
                "the server shows a tree of {} entries; {} were already verified",
                new.size, old.size
            ),
        )
    } else if new.size == old.size {
        if new.root == old.root {
            return Ok(None);
        }
        (
            "fork",
            Vec::new(),
            format!(
                "two signed checkpoints of size {} with different roots",
                new.size
            ),
        )
    } else {
        let proof = match client.consistency_proof(old.size, new.size) {
            Ok(p) => p,
            // A server that cannot prove consistency is treated like one whose proof fails:
            // the remembered checkpoint is then not known to be part of its tree.
            Err(e) => {
                eprintln!("audit: no consistency proof from the server: {e}");
                Vec::new()
            }
        };
        match merkle::verify_consistency(old.size, old.root, new.size, new.root, &proof) {
            Ok(()) => return Ok(None),
            Err(e) => (
                "inconsistent",
                proof,
                format!(
                    "the consistency proof from {} to {} does not verify: {e}",
                    old.size, new.size
                ),
            ),
        }
    };
    // A signed checkpoint of the server's at the remembered size with another root makes the
    // fork conclusive, whatever the proof; look for one.
    let conflicting = client
        .checkpoints(old.size, old.size)
        .ok()
        .and_then(|cps| cps.into_iter().find(|(s, _)| *s == old.size))
        .and_then(|(_, note)| {
            let key = VerifierKey::parse(vkey).ok()?;
            let c = open_checkpoint(note.as_bytes(), &key).ok()?;
            (c.root != old.root).then_some(c.note_text)
        });
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = args
        .state
        .join(format!("evidence-{}-{}-{time}.json", old.size, new.size));
    let evidence = json!({
        "format": EVIDENCE_FORMAT,
        "kind": status,
        "log_key": vkey,
        "server": args.server,
        "detected_at_ms": u64::try_from(time).unwrap_or(u64::MAX),
        "remembered": {"size": old.size, "root": keys::base64(&old.root.0), "checkpoint": old.note_text},
        "presented": {"size": new.size, "root": keys::base64(&new.root.0), "checkpoint": new.note_text},
        "consistency_proof": proof.iter().map(|h| keys::base64(&h.0)).collect::<Vec<_>>(),
        "conflicting_checkpoint": conflicting,
        "detail": detail,
    });
    write_atomic(&path, &serde_json::to_vec_pretty(&evidence)?)?;
    Ok(Some(Outcome {
        ok: false,
        status,
        from: old.size,
        to: new.size,
        fetched: 0,
        evidence: Some(path.display().to_string()),
        faults: Vec::new(),
        detail: Some(detail),
        cosigned_by: None,
        semantic_entries: None,
        illegal: Vec::new(),
    }))
}

/// `deedlog verify-evidence`: 0 when the file shows the log signed inconsistent checkpoints (or
/// a shrink), 1 when it does not hold, 2 on errors.
pub fn verify_evidence(args: &VerifyEvidenceArgs) -> ExitCode {
    match check_evidence(args) {
        Ok((true, text)) => {
            println!("evidence holds: {text}");
            ExitCode::SUCCESS
        }
        Ok((false, text)) => {
            println!("evidence does NOT hold: {text}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn check_evidence(args: &VerifyEvidenceArgs) -> anyhow::Result<(bool, String)> {
    let (holds, text) = check_evidence_file(args)?;
    // The file names its own key; evidence means something only under the log's real key, so
    // the key used is always said (pin it with --log-key).
    let key = match &args.log_key {
        Some(k) => format!("{k}, pinned"),
        None => {
            let text = std::fs::read_to_string(&args.file)?;
            let v: serde_json::Value = serde_json::from_str(&text)?;
            format!(
                "{}, named by the file: pin it with --log-key",
                v["log_key"].as_str().unwrap_or("?")
            )
        }
    };
    Ok((holds, format!("{text} (log key {key})")))
}

fn check_evidence_file(args: &VerifyEvidenceArgs) -> anyhow::Result<(bool, String)> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).context("not JSON")?;
    if v["format"] != EVIDENCE_FORMAT {
        bail!("not a {EVIDENCE_FORMAT} file");
    }
    let vkey = match &args.log_key {
        Some(k) => k.clone(),
        None => v["log_key"].as_str().context("no log_key")?.to_owned(),
    };
    let key = VerifierKey::parse(&vkey).map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let note = |p: &str| -> anyhow::Result<OpenedCheckpoint> {
        let n = v[p]["checkpoint"]
            .as_str()
            .with_context(|| format!("no {p} checkpoint"))?;
        open(n, &key).with_context(|| format!("the {p} checkpoint is not signed by the log key"))
    };
    let (old, new) = (note("remembered")?, note("presented")?);
    if let Some(c) = v["conflicting_checkpoint"].as_str() {
        let c = open(c, &key).context("the conflicting checkpoint is not signed by the log key")?;
        if c.size == old.size && c.root != old.root {
            return Ok((
                true,
                format!(
                    "the log signed two different trees of size {}: a fork",
                    c.size
                ),
            ));
        }
    }
    if new.size == old.size {
        return Ok(if new.root == old.root {
            (false, "the two checkpoints are the same tree".into())
        } else {
            (
                true,
                format!(
                    "the log signed two different trees of size {}: a fork",
                    new.size
                ),
            )
        });
    }
    if new.size < old.size {
        // Both are genuine; a smaller tree signed later than a larger one is a signed rollback.
        let later = matches!((old.time_ms(), new.time_ms()), (Some(a), Some(b)) if b > a);
        let how = if later {
            "signed later than"
        } else {
            "presented after"
        };
        return Ok((
            true,
            format!(
                "a tree of {} entries {how} the verified tree of {}: a rollback",
                new.size, old.size
            ),
        ));
    }
    let proof: Vec<String> =
        serde_json::from_value(v["consistency_proof"].clone()).context("consistency_proof")?;
    let proof = proof
        .iter()
        .map(|h| {
            keys::from_base64(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Hash)
                .context("a proof hash")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    match merkle::verify_consistency(old.size, old.root, new.size, new.root, &proof) {
        Ok(()) => Ok((
            false,
            "the consistency proof verifies: the checkpoints are consistent".into(),
        )),
        Err(e) => Ok((
            true,
            format!(
                "the server's consistency proof from {} to {} fails ({e}); ask it for another: a consistent log can always give one",
                old.size, new.size
            ),
        )),
    }
}
