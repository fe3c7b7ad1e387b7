//! The reference data built into the binary, so that `deedlog serve` and `deedlog demo` work
//! from any working folder.
//!
//! The node reads its reference data from a folder; the embedded copy is written into the data
//! folder (`DATA/reference/`) before the node opens, and rewritten only when a file differs, so
//! that a newer binary's data is what a first start loads. `--reference DIR` still points
//! elsewhere.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The folder under the data folder that holds the embedded copy.
pub const EMBEDDED_DIR: &str = "reference";

macro_rules! file {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/ledger-data/reference/",
                $name
            ))
            .as_slice(),
        )
    };
}

/// Every reference file the node and the demo read.
pub const FILES: &[(&str, &[u8])] = &[
    file!("properties.json"),
    file!("agencies.json"),
    file!("banks.json"),
    file!("offices.json"),
    file!("population.json"),
    file!("citizens.json"),
];

/// Writes the embedded reference data into `data/reference/` (each file only when it is missing
/// or differs) and returns that folder.
///
/// # Errors
/// When the folder or a file cannot be written.
pub fn materialize(data: &Path) -> anyhow::Result<PathBuf> {
    let dir = data.join(EMBEDDED_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in FILES {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|old| old == *bytes) {
            continue;
        }
        // Written beside and renamed, so that a crash never leaves a half file for the next
        // start to load.
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// The reference folder to use: `explicit` when given, else the embedded copy under `data`.
///
/// # Errors
/// As [`materialize`].
pub fn folder(explicit: Option<&Path>, data: &Path) -> anyhow::Result<PathBuf> {
    match explicit {
        Some(dir) => Ok(dir.to_path_buf()),
        None => materialize(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_copy_is_written_once_and_repaired_when_changed() {
        let data = tempfile::tempdir().unwrap();
        let dir = materialize(data.path()).unwrap();
        for (name, bytes) in FILES {
            assert_eq!(std::fs::read(dir.join(name)).unwrap(), *bytes, "{name}");
        }
        std::fs::write(dir.join("banks.json"), b"[]").unwrap();
        materialize(data.path()).unwrap();
        assert_eq!(std::fs::read(dir.join("banks.json")).unwrap(), FILES[2].1);
        assert_eq!(
            folder(Some(Path::new("/x")), data.path()).unwrap(),
            Path::new("/x")
        );
    }
}
