//! `deedlog check CODE [--server URL] [--pdf FILE] [--policy FILE] [--json]`: the checks the
//! public pages make, from a terminal. A listing code or filing code is looked up and its proof
//! verified here (entry signature, inclusion, the checkpoint note under the pinned log key, the
//! witness policy when given); a PDF is checked offline from the proof it carries, then, with a
//! server, for being still filed.
//!
//! Exit status: 0 genuine and current, 1 not genuine (a mistyped or unknown code, a proof that
//! fails, a forged state proof, an altered PDF), 2 could not check (no server, a transport
//! failure, bad arguments, or a genuine answer whose currency cannot be proved: no state proof,
//! or one older than what it shows), 3 genuine but not current (withdrawn, sold, the property
//! seized, the filing cancelled), each "as of checkpoint N".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use deedlog_client::proof::Currency;
use deedlog_client::{Client, ClientError};
use deedlog_domain::ids::{self, CodeTag};
use serde_json::{Value, json};

/// Arguments of `deedlog check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A listing verification code (LV-…) or a filing code (FC-…), spoken or v1 form. Optional
    /// with `--pdf` (the PDF names its filing code).
    code: Option<String>,
    /// The server to ask.
    #[arg(long)]
    server: Option<String>,
    /// A filed-contract PDF to check (its attached proof, and that it is the PDF the log gives).
    #[arg(long)]
    pdf: Option<PathBuf>,
    /// A C2SP tlog-policy file: the checkpoints proving the answer must meet its witness quorum.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The log key to pin (`name+id+key`). Without it the key the server or the PDF names is
    /// used, and the result says it was not pinned.
    #[arg(long)]
    log_key: Option<String>,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// The outcome, as printed.
struct Outcome {
    verdict: Verdict,
    /// Whether it is still current, for a genuine code.
    current: Option<deedlog_client::proof::Currency>,
    what: &'static str,
    code: Option<String>,
    reason: Option<String>,
    proved: Vec<String>,
    details: Value,
    log_key: Option<String>,
    pinned: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Genuine,
    NotGenuine,
    CouldNotCheck,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Self::Genuine => "genuine",
            Self::NotGenuine => "not_genuine",
            Self::CouldNotCheck => "could_not_check",
        }
    }

    fn exit(self) -> ExitCode {
        ExitCode::from(match self {
            Self::Genuine => 0,
            Self::NotGenuine => 1,
            Self::CouldNotCheck => 2,
        })
    }
}

impl Outcome {
    /// Records whether a genuine answer is still current, as its state proof showed.
    fn note_currency(&mut self, current: &Currency) {
        self.proved.push(match current {
            Currency::Current { as_of, status } => {
                format!("{status} as of checkpoint {as_of} (the state map's proof)")
            }
            Currency::NotCurrent { as_of, reason, .. } => {
                format!("not current as of checkpoint {as_of}: {reason}")
            }
            Currency::CouldNotCheck { reason } => {
                format!("whether it is still current could not be checked: {reason}")
            }
        });
        self.current = Some(current.clone());
    }

    fn new(what: &'static str) -> Self {
        Self {
            verdict: Verdict::CouldNotCheck,
            current: None,
            what,
            code: None,
            reason: None,
            proved: Vec::new(),
            details: json!({}),
            log_key: None,
            pinned: false,
        }
    }

    fn fail(mut self, verdict: Verdict, reason: impl Into<String>) -> Self {
        self.verdict = verdict;
        self.reason = Some(reason.into());
        self
    }
}

/// Whether a client error means "not genuine" (the server or the proof said no) rather than
/// "could not check" (the server could not be reached or answered nonsense).
fn verdict_of(e: &ClientError) -> Verdict {
    match e.status() {
        Some(400 | 404) => Verdict::NotGenuine,
        Some(_) => Verdict::CouldNotCheck,
        None => match e {
            ClientError::Bundle(_) | ClientError::Binding(_) | ClientError::Proof(_) => {
                Verdict::NotGenuine
            }
            _ => Verdict::CouldNotCheck,
        },
    }
}

fn log_key(args: &CheckArgs, client: Option<&Client>) -> Result<(String, bool), String> {
    if let Some(k) = &args.log_key {
        return Ok((k.clone(), true));
    }
    let client = client.ok_or("no --log-key and no --server to ask for it")?;
    let cp = client.checkpoint().map_err(|e| e.to_string())?;
    cp.log_key
        .map(|k| (k, false))
        .ok_or_else(|| "the server names no log key: pass --log-key".to_owned())
}

fn policy_check(args: &CheckArgs, notes: &[String], out: &mut Outcome) -> Result<(), String> {
    let Some(path) = &args.policy else {
        return Ok(());
    };
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy = deedlog_client::policy::Policy::parse(&text).map_err(|e| e.to_string())?;
    for note in notes {
        let v = policy
            .require(note.as_bytes())
            .map_err(|e| format!("witness policy: {e}"))?;
        out.proved.push(format!(
            "the checkpoint of size {} meets the witness policy (cosigned by {})",
            v.checkpoint.size,
            if v.cosigned_by.is_empty() {
                "no witness; the policy asks none".to_owned()
            } else {
                v.cosigned_by.join(", ")
            }
        ));
    }
    Ok(())
}

fn check_code(args: &CheckArgs, text: &str) -> Outcome {
    let mut out = Outcome::new("code");
    let (tag, v1) = match ids::parse_code(text) {
        Ok(p) => p,
        Err(e) => return out.fail(Verdict::NotGenuine, format!("{e} (code.mistyped)")),
    };
    out.code = Some(v1.clone());
    let Some(server) = &args.server else {
        return out.fail(
            Verdict::CouldNotCheck,
            "a code is checked against a server: give --server",
        );
    };
    let client = match Client::new(server) {
        Ok(c) => c,
        Err(e) => return out.fail(Verdict::CouldNotCheck, e.to_string()),
    };
    let (key, pinned) = match log_key(args, Some(&client)) {
        Ok(k) => k,
        Err(e) => return out.fail(Verdict::CouldNotCheck, e),
    };
    out.log_key = Some(key.clone());
    out.pinned = pinned;
    let result = match tag {
        CodeTag::Listing => {
            out.what = "listing";
            client.verify_listing(&v1, &key, None)
        }
        CodeTag::Filing => {
            out.what = "contract";
            client.verify_contract(&v1, &key, None)
        }
        CodeTag::Verification => {
            return out.fail(
                Verdict::CouldNotCheck,
                "a property verification code (PV-) is checked by its seller, not publicly",
            );
        }
    };
    let v = match result {
        Ok(v) => v,
        Err(e) => {
            let verdict = verdict_of(&e);
            return out.fail(verdict, e.to_string());
        }
    };
    for b in &v.bundles {
        out.proved.push(format!(
            "entry {} ({}, on {}) is in the log of size {}, signed by {} and under the log key",
            b.entry.seq,
            b.entry.kind,
            b.entry.stream,
            b.checkpoint.size,
            b.entry.actor()
        ));
    }
    for (path, f) in &v.binding.fields {
        if let deedlog_client::proof::FieldCheck::Verified { seq } = f {
            out.proved
                .push(format!("{path} is as the entry at seq {seq} says"));
        }
    }
    for (path, why) in v.binding.unverified() {
        out.proved
            .push(format!("{path} is the server's word only ({why})"));
    }
    let notes: Vec<String> = v
        .bundles
        .iter()
        .map(|b| b.checkpoint.note_text.clone())
        .collect();
    if let Err(e) = policy_check(args, &notes, &mut out) {
        return out.fail(Verdict::NotGenuine, e);
    }
    out.details = match tag {
        CodeTag::Listing => {
            json!({"status": v.answer["listing"]["status"], "listing": v.answer["listing"]["id"]})
        }
        _ => {
            json!({"status": v.answer["contract"]["status"], "contract": v.answer["contract"]["id"]})
        }
    };
    out.note_currency(&v.current);
    out.verdict = Verdict::Genuine;
    out
}

fn currency_json(c: Option<&Currency>) -> Value {
    match c {
        None => Value::Null,
        Some(Currency::Current { as_of, status }) => {
            json!({"state": "current", "as_of_checkpoint": as_of, "status": status})
        }
        Some(Currency::NotCurrent {
            as_of,
            status,
            reason,
        }) => {
            json!({"state": "not_current", "as_of_checkpoint": as_of, "status": status, "reason": reason})
        }
        Some(Currency::CouldNotCheck { reason }) => {
            json!({"state": "could_not_check", "reason": reason})
        }
    }
}

/// The exit status: the verdict's, and for a genuine code its currency's.
fn exit_of(out: &Outcome) -> ExitCode {
    match (out.verdict, &out.current) {
        (Verdict::Genuine, Some(Currency::NotCurrent { .. })) => ExitCode::from(3),
        (Verdict::Genuine, Some(Currency::CouldNotCheck { .. })) => ExitCode::from(2),
        (verdict, _) => verdict.exit(),
    }
}

fn check_pdf(args: &CheckArgs, path: &PathBuf) -> Outcome {
    let mut out = Outcome::new("pdf");
    let bytes = match std::fs::metadata(path).and_then(|m| {
        if m.len() > deedlog_pdf::PDF_BYTES_MAX as u64 {
            Err(std::io::Error::other("larger than 16 MiB"))
        } else {
            std::fs::read(path)
        }
    }) {
        Ok(b) => b,
        Err(e) => return out.fail(Verdict::CouldNotCheck, format!("{}: {e}", path.display())),
    };
    let client = args.server.as_deref().map(Client::new).transpose();
    let client = match client {
        Ok(c) => c,
        Err(e) => return out.fail(Verdict::CouldNotCheck, e.to_string()),
    };
    // The key: pinned, else the server's, else the one the PDF names (not pinned).
    let (key, pinned) = match (&args.log_key, &client) {
        (Some(k), _) => (k.clone(), true),
        (None, Some(c)) => match log_key(args, Some(c)) {
            Ok(k) => k,
            Err(e) => return out.fail(Verdict::CouldNotCheck, e),
        },
        (None, None) => match deedlog_pdf::extract(&bytes) {
            Ok(input) => (input.filing.log_key, false),
            Err(e) => return out.fail(Verdict::NotGenuine, e.to_string()),
        },
    };
    out.log_key = Some(key.clone());
    out.pinned = pinned;
    let checked = match deedlog_pdf::check(&bytes, &key) {
        Ok(c) => c,
        Err(e) => return out.fail(Verdict::NotGenuine, e.to_string()),
    };
    if let Some(code) = &args.code {
        match ids::parse_code(code) {
            Ok((_, v1)) if v1 == checked.filing_code => {}
            Ok(_) => {
                return out.fail(
                    Verdict::NotGenuine,
                    format!(
                        "the PDF is the filed contract {}, not {code}",
                        checked.spoken_code
                    ),
                );
            }
            Err(e) => return out.fail(Verdict::NotGenuine, format!("{e} (code.mistyped)")),
        }
    }
    out.code = Some(checked.filing_code.clone());
    out.proved.push(format!(
        "the filing entry at seq {} issued {} ({}) for {}, in the log of size {} under the log key",
        checked.filed_seq,
        checked.spoken_code,
        checked.filing_code,
        checked.contract,
        checked.tree_size
    ));
    out.proved.push(format!(
        "the terms and document hash are those the parties signed; the property {} is registered at {}",
        checked.property, checked.address
    ));
    for (actor, seq) in &checked.signatures {
        out.proved
            .push(format!("{actor} signed the document (seq {seq})"));
    }
    out.proved.push(
        "the file is byte for byte the PDF rendered from that proof: nothing in it was changed"
            .into(),
    );
    if checked.names_shown {
        out.proved.push(
            "the names printed come from the platform's vault; the log holds only their commitments"
                .into(),
        );
    }
    // The filing proof's checkpoint verified under the key inside `check`; the policy is asked
    // of the same note.
    let notes: Vec<String> = deedlog_pdf::extract(&bytes)
        .map(|i| vec![i.filing.checkpoint])
        .unwrap_or_default();
    if let Err(e) = policy_check(args, &notes, &mut out) {
        return out.fail(Verdict::NotGenuine, e);
    }
    let mut details = json!({"contract": checked.contract, "filed_seq": checked.filed_seq,
        "proof_sha256": checked.proof_digest, "names_shown": checked.names_shown});
    // With a server: still filed, not cancelled since.
    if let Some(c) = &client {
        match c.verify_contract(&checked.filing_code, &key, None) {
            Ok(v) => {
                // Whether the filing still stands is proved by the state map's proof in the
                // answer (checked by the client against the root the log committed), not taken
                // from the server's word: a cancelled filing is genuine but not current (3).
                details["status"] = v.answer["contract"]["status"].clone();
                out.note_currency(&v.current);
            }
            Err(e) => {
                out.details = details;
                let verdict = verdict_of(&e);
                return out.fail(
                    verdict,
                    format!("the current status could not be proved: {e}"),
                );
            }
        }
    }
    out.details = details;
    out.verdict = Verdict::Genuine;
    out
}

/// Runs `deedlog check`.
pub fn run(args: &CheckArgs) -> ExitCode {
    let out = match (&args.pdf, &args.code) {
        (Some(pdf), _) => check_pdf(args, pdf),
        (None, Some(code)) => check_code(args, code),
        (None, None) => {
            Outcome::new("code").fail(Verdict::CouldNotCheck, "give a code, or --pdf FILE")
        }
    };
    if args.json {
        let v = json!({
            "verdict": out.verdict.word(),
            "what": out.what,
            "code": out.code,
            "spoken_code": out.code.as_deref().and_then(ids::spoken_code),
            "reason": out.reason,
            "proved": out.proved,
            "details": out.details,
            "log_key": out.log_key,
            "log_key_pinned": out.pinned,
            "current": currency_json(out.current.as_ref()),
        });
        println!("{v}");
    } else {
        let head = match out.verdict {
            Verdict::Genuine => "GENUINE",
            Verdict::NotGenuine => "NOT GENUINE",
            Verdict::CouldNotCheck => "COULD NOT CHECK",
        };
        let code = out
            .code
            .as_deref()
            .map(|c| format!(" {}", ids::spoken_code(c).unwrap_or_else(|| c.to_owned())))
            .unwrap_or_default();
        let current = match &out.current {
            Some(Currency::Current { as_of, status }) => {
                format!(", {status} as of checkpoint {as_of}")
            }
            Some(Currency::NotCurrent { as_of, status, .. }) => {
                format!(", NOT CURRENT: {status} as of checkpoint {as_of}")
            }
            Some(Currency::CouldNotCheck { .. }) => ", currency COULD NOT BE CHECKED".to_owned(),
            None => String::new(),
        };
        println!("{head}: {}{code}{current}", out.what);
        if let Some(r) = &out.reason {
            println!("  because {r}");
        }
        for p in &out.proved {
            println!("  proved: {p}");
        }
        if let Some(k) = &out.log_key {
            let pin = if out.pinned {
                "pinned"
            } else {
                "NOT pinned (pass --log-key)"
            };
            println!("  log key {k} ({pin})");
        }
    }
    exit_of(&out)
}
