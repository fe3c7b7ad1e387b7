//! Removing a folder that a just-dropped store may still be finishing with.

use std::path::Path;
use std::time::{Duration, Instant};

/// Removes `dir` and everything in it, retrying for up to 2 s: the index engine's background
/// thread (a compaction after the last write) can still be adding a file for a moment after the
/// store that opened it is dropped, which makes one `remove_dir_all` fail with "directory not
/// empty". A missing folder is not an error.
pub fn remove_dir(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) if Instant::now() >= deadline => panic!("cannot remove {}: {e}", dir.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
