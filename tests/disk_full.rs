//! Disk full: the data folder on a small size-limited tmpfs, `deedlog serve` on it, signed
//! commands until the space runs out. Appends then fail with a clear `503` and a code of the
//! catalogue, nothing partial is acknowledged (every receipt's entry is there at the end, with
//! the same leaf hash), and once space is freed the same node, never restarted, continues by
//! itself with nothing lost; `deedlog verify --data` is clean at the end.
//!
//! The test mounts a tmpfs, which needs root (as on the project's machines and in CI). Where
//! mounting is refused it fails saying so, unless `DEEDLOG_SKIP_MOUNT_TESTS=1` is set, when it
//! says loudly that it did not run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use deedlog_client::{Client, ClientError};

use crate::serving::{
    Serve, assert_verify_clean, assert_views_catch_up, leaf_hashes, registration, voucher_key,
};

/// The tmpfs's size: room for a fresh node's data folder and some entries.
const TMPFS_SIZE: &str = "64m";
/// Free bytes left beside the filler file when the commands start.
const LEFT_FREE: u64 = 1 << 20;
/// Most commands sent before the space must have run out.
const COMMANDS_MAX: u64 = 50_000;

/// A mounted tmpfs, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn sized(dir: &Path, size: &str) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount could not run: {e}"))?;
        if out.status.success() {
            Ok(Self(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Free bytes on the file system.
    fn available(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.0)
            .output()
            .expect("df runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df prints the free bytes")
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a filler file of `bytes` (in 1 MiB pieces, so a tmpfs takes it as it comes).
fn fill(path: &Path, bytes: u64) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x5a_u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64);
        if file
            .write_all(&chunk[..usize::try_from(n).expect("small")])
            .is_err()
        {
            break;
        }
        left -= n;
    }
    let _ = file.sync_all();
}

/// A tmpfs of `size` mounted on `dir`; `None` (said loudly) where mounting is refused and
/// `DEEDLOG_SKIP_MOUNT_TESTS=1` is set.
fn mount_or_skip(dir: &Path, size: &str) -> Option<Mount> {
    match Mount::sized(dir, size) {
        Ok(m) => Some(m),
        Err(why) => {
            if std::env::var("DEEDLOG_SKIP_MOUNT_TESTS").as_deref() == Ok("1") {
                eprintln!(
                    "\n*** disk_full DID NOT RUN: mounting a tmpfs was refused ({why}); \
                     DEEDLOG_SKIP_MOUNT_TESTS=1 is set ***\n"
                );
                return None;
            }
            panic!(
                "mounting a tmpfs was refused ({why}): the disk-full test needs root; set \
                 DEEDLOG_SKIP_MOUNT_TESTS=1 to skip it where that cannot be had"
            );
        }
    }
}

/// The views' cursor and the log's size, from `/readyz`.
fn views_and_log(client: &Client) -> Option<(u64, u64)> {
    let answer = client.http().call_once("GET", "/readyz", &[], None).ok()?;
    let v = serde_json::from_slice::<serde_json::Value>(&answer.body).ok()?;
    Some((v["views_applied"].as_u64()?, v["log_size"].as_u64()?))
}

#[test]
fn a_full_disk_under_the_views_holds_them_back_until_space_is_freed() {
    // The views on a volume of their own, which fills while the log's has room: commands are
    // still taken, the views fall behind, and once space is freed the same node catches up.
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let views = data.join("views");
    std::fs::create_dir_all(&views).expect("the views folder");
    let Some(mount) = mount_or_skip(&views, "24m") else {
        return;
    };
    let mut server = Serve::start(&data);
    let key = voucher_key(&data);
    let client = Client::new(&server.url).expect("a client");
    assert_views_catch_up(&server.url, Duration::from_secs(60), "first start");
    let filler = views.join("filler");
    fill(&filler, mount.available().saturating_sub(64 << 10));

    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let started = Instant::now();
    let mut n = 0;
    let mut behind_since: Option<Instant> = None;
    // Commands until the views have stayed behind for three seconds: they cannot be written.
    while behind_since.is_none_or(|at| at.elapsed() < Duration::from_secs(3)) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the views never fell behind on a full volume"
        );
        let receipt = client
            .submit_signed(&registration(&key, n))
            .expect("the log's volume has room: commands are taken");
        acked.insert(receipt.seq, receipt.leaf_hash);
        n += 1;
        let (applied, size) = views_and_log(&client).expect("readyz answers");
        if applied < size {
            behind_since.get_or_insert_with(Instant::now);
        } else {
            behind_since = None;
        }
    }
    let (applied, size) = views_and_log(&client).expect("readyz answers");
    eprintln!("views held back at {applied} of {size} entries after {n} commands on a full volume");
    assert!(applied < size);
    std::fs::remove_file(&filler).expect("the filler goes");
    // The projector retries with a growing wait (at most a minute).
    assert_views_catch_up(
        &server.url,
        Duration::from_secs(120),
        "after the views' space was freed",
    );
    assert!(server.alive(), "the same server process went on");
    server.stop(Duration::from_secs(30));
    let log = leaf_hashes(&data);
    for (seq, leaf) in &acked {
        assert_eq!(log.get(seq), Some(leaf), "acknowledged entry {seq} lost");
    }
    assert_verify_clean(&data, "at the end");
    drop(mount);
}

#[test]
fn a_full_disk_refuses_appends_with_503_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let Some(mount) = mount_or_skip(tmp.path(), TMPFS_SIZE) else {
        return;
    };
    let data = tmp.path().join("data");
    let mut server = Serve::start(&data);
    let key = voucher_key(&data);
    let client = Client::new(&server.url).expect("a client");
    assert_views_catch_up(&server.url, Duration::from_secs(60), "first start");

    // Take all the space but a little.
    let filler = tmp.path().join("filler");
    fill(&filler, mount.available().saturating_sub(LEFT_FREE));
    let free_at_start = mount.available();

    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut refusal = None;
    let started = Instant::now();
    let mut refused_command = None;
    for n in 0..COMMANDS_MAX {
        let command = registration(&key, n);
        match client.submit_signed(&command) {
            Ok(receipt) => {
                assert!(
                    acked.insert(receipt.seq, receipt.leaf_hash).is_none(),
                    "one seq acknowledged twice"
                );
            }
            Err(error) => {
                refusal = Some(error);
                refused_command = Some(command);
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the space did not run out"
        );
    }
    let refusal = refusal.expect("the space ran out");
    match &refusal {
        ClientError::Rejected {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(*status, 503, "{refusal}");
            assert_eq!(code, "ledger.storage_full", "{refusal}");
            assert!(
                message.contains("storage is full") && message.contains("nothing was appended"),
                "the refusal says why: {message}"
            );
        }
        other => panic!("a full disk must answer a clear 503, not {other}"),
    }
    assert!(server.alive(), "the server survived the full disk");
    // Every later command is refused the same way, and nothing is appended.
    for n in COMMANDS_MAX..COMMANDS_MAX + 20 {
        match client.submit_signed(&registration(&key, n)) {
            Err(ClientError::Rejected {
                status: 503, code, ..
            }) if code == "ledger.storage_full" => {}
            other => panic!("after a failed write, an append must be refused: {other:?}"),
        }
    }
    eprintln!(
        "disk full after {} acknowledged commands ({free_at_start} bytes free at the start): {refusal}",
        acked.len()
    );

    // Free the space: the same node, never restarted, takes commands again by itself.
    std::fs::remove_file(&filler).expect("the filler goes");
    let freed = Instant::now();
    let first = loop {
        match client.submit_signed(&registration(&key, COMMANDS_MAX + 100)) {
            Ok(receipt) => break receipt,
            Err(ClientError::Rejected {
                status: 503, code, ..
            }) if code == "ledger.storage_full" => {
                assert!(
                    freed.elapsed() < Duration::from_secs(60),
                    "the node did not resume within a minute of the space being freed"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(other) => panic!("after space was freed: {other}"),
        }
    };
    eprintln!(
        "resumed {} ms after the space was freed",
        freed.elapsed().as_millis()
    );
    assert_eq!(
        Some(first.seq),
        acked.keys().next_back().map(|s| s + 1),
        "the first entry after the full disk follows the last acknowledged one: the refused \
         batches left nothing behind"
    );
    acked.insert(first.seq, first.leaf_hash);
    for n in 1..50 {
        let receipt = client
            .submit_signed(&registration(&key, COMMANDS_MAX + 100 + n))
            .expect("appends continue once space is free");
        acked.insert(receipt.seq, receipt.leaf_hash);
    }
    // The very command refused when the disk filled is taken now, as new.
    let retried = client
        .submit_signed(&refused_command.expect("one was refused"))
        .expect("a command refused while full is taken once space is free");
    assert!(!retried.duplicate, "it was never appended before");
    acked.insert(retried.seq, retried.leaf_hash);
    assert_views_catch_up(
        &server.url,
        Duration::from_secs(60),
        "after space was freed",
    );
    assert!(server.alive(), "the same server process went on");
    server.stop(Duration::from_secs(30));
    let log = leaf_hashes(&data);
    for (seq, leaf) in &acked {
        assert_eq!(
            log.get(seq),
            Some(leaf),
            "acknowledged entry {seq} lost or changed"
        );
    }
    assert_verify_clean(&data, "at the end");
    drop(mount);
}
