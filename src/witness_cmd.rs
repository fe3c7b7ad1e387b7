//! `deedlog witness`: run a witness for one or more logs (C2SP tlog-witness v1).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use deedlog_core::checkpoint::VerifierKey;
use deedlog_witness::Witness;

use crate::keyfile;

/// Arguments of `deedlog witness`.
#[derive(Args, Debug)]
pub struct WitnessArgs {
    /// The witness's state folder (one record per log: the latest checkpoint it cosigned).
    #[arg(long)]
    data: PathBuf,
    /// The witness's key file (`deedlog keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The verifier key of each log to witness (`origin+id+key`, as in DATA/log.vkey).
    #[arg(long = "log", required = true, num_args = 1..)]
    logs: Vec<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:7380")]
    bind: String,
    /// The witness's name (its key name in cosignatures); default: `witness-<key id>`.
    #[arg(long)]
    name: Option<String>,
}

/// `deedlog witness`.
pub fn run(args: &WitnessArgs) -> anyhow::Result<()> {
    let secret = keyfile::read(&args.key)?;
    let logs = args
        .logs
        .iter()
        .map(|vkey| VerifierKey::parse(vkey).with_context(|| format!("--log {vkey}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("witness-{}", secret.public().key_id()));
    let witness = Witness::open(&args.data, &name, secret, &logs)
        .with_context(|| format!("opening the witness in {}", args.data.display()))?;
    let vkey = witness.vkey();
    // Readers configure the witness by this key; writing it next to the state saves copying it
    // from a terminal.
    std::fs::write(args.data.join("witness.vkey"), format!("{vkey}\n"))
        .with_context(|| format!("writing {}", args.data.join("witness.vkey").display()))?;
    eprintln!("witness {name} ({vkey}) on http://{}", args.bind);
    for log in &logs {
        let held = witness.held(log.name()).map_or(0, |s| s.size);
        eprintln!("  log {} (holds size {held})", log.name());
    }
    actix_web::rt::System::new()
        .block_on(deedlog_witness::http::serve(Arc::new(witness), &args.bind))
        .with_context(|| format!("serving on {}", args.bind))
}
