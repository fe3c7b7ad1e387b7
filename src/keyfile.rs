//! Key files and signing from the command line.
//!
//! A key file is JSON: `{"format":"deedlog/key/v1","seed":"<base64 32 bytes>","public":"<base64>"}`,
//! written with mode 0600.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use deedlog_core::{Command, SecretKey, keys};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    seed: String,
    public: String,
}

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
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a key file", path.display()))?;
    if file.format != "deedlog/key/v1" {
        bail!("{}: unknown key format {}", path.display(), file.format);
    }
    let seed: [u8; 32] = keys::from_base64(&file.seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{}: the seed is not 32 bytes of base64", path.display()))?;
    let secret = SecretKey::from_seed(&seed);
    if secret.public().to_base64() != file.public {
        bail!("{}: the public key does not match the seed", path.display());
    }
    Ok(secret)
}

/// Writes a key file with mode 0600, refusing to overwrite.
pub fn write(path: &Path, secret: &SecretKey) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file = KeyFile {
        format: "deedlog/key/v1".into(),
        seed: keys::base64(&secret.to_seed()),
        public: secret.public().to_base64(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
    f.sync_all()?;
    Ok(())
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
