//! Key files and signing from the command line.
//!
//! Key files are in the one key-file format (`deedlog_core::keyfile`), read and written durably
//! (mode 0600) by the node's key functions.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use deedlog_core::{Command, SecretKey};

/// Arguments of `deedlog keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the new key file (refuses to overwrite).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `deedlog sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The key file to sign with.
    #[arg(long)]
    key: PathBuf,
}

/// Reads a key file.
pub fn read(path: &Path) -> anyhow::Result<SecretKey> {
    deedlog_node::keys::read(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes a key file durably with mode 0600, refusing to overwrite.
pub fn write(path: &Path, secret: &SecretKey) -> anyhow::Result<()> {
    deedlog_node::keys::write(path, secret).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `deedlog keygen`.
pub fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    let secret = SecretKey::from_seed(&seed);
    write(&args.out, &secret)?;
    println!(
        "{}",
        serde_json::json!({
            "public": secret.public().to_base64(),
            "key_id": secret.public().key_id(),
            "file": args.out.display().to_string(),
        })
    );
    Ok(())
}

/// `deedlog sign`: reads an unsigned command (JSON) on standard input.
pub fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let secret = read(&args.key)?;
    let mut input = String::new();
    std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut input)
        .context("reading the command from standard input")?;
    let command: Command = serde_json::from_str(&input).context("the input is not a command")?;
    let signed = command.sign(&secret).context("signing")?;
    println!("{}", serde_json::to_string(&signed)?);
    Ok(())
}
