//! Listing photos as content-addressed files beside the log.
//!
//! The log carries only each photo's SHA-256 (in `listing.publish` and `listing.change_photos`);
//! the bytes live here, named by that hash, so that a page can fetch a photo and check it against
//! the hash it verified on the log before showing it. Nothing here is trusted: a file that does
//! not hash to its name is never served (it is checked on every read), and a lost file only
//! makes a photo unavailable, never wrong.
//!
//! ```text
//! <data>/photos/objects/<sha256 hex>                  the photo's bytes
//! <data>/photos/by/<hex(SHA-256(actor))[..32]>/<hex>  empty: `actor` uploaded this photo
//! ```
//!
//! Writes are atomic and durable (a temporary file, `fsync`, rename, `fsync` of the folder), so
//! an acknowledged upload survives a crash and a crash never leaves a half photo under its name.
//! Only JPEG, PNG and WebP are taken, recognised by their leading bytes (the client's
//! `Content-Type` is ignored), and served with the type found there and `nosniff`.
//!
//! Photos are kept for good, on the file system that holds the log, so the store is bounded
//! three ways ([`PhotoLimits`]): a number of photos per actor, a total of bytes for the whole
//! store, and a reserve of free space it never writes into, so that photos cannot fill the disk
//! and stop the ledger (which refuses every append with `ledger.storage_full` on a full disk and
//! resumes only with [`deedlog_store::log::RESUME_FREE_BYTES`] free again). Counting and writing
//! are one step per actor and per store (locks kept per data folder for the process), so
//! parallel uploads cannot pass a limit together.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The media types a photo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
    /// `image/webp`.
    Webp,
}

impl MediaType {
    /// The media type's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    /// The type the leading bytes show, if one of the three.
    #[must_use]
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }
}

/// Why a photo was not stored or read.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Not a JPEG, PNG or WebP file.
    #[error("the file is not a JPEG, PNG or WebP image (its first bytes show no such format)")]
    NotAnImage,
    /// The file is too small to be an image.
    #[error("the file is empty or too small to be an image")]
    TooSmall,
    /// The uploader holds its quota.
    #[error("{0} has uploaded {1} photos, the most one actor may keep; photos are kept for good")]
    Quota(String, usize),
    /// The store holds all the bytes it may keep.
    #[error(
        "the photo store is full: it keeps {} of photos, and this one ({}) would pass the {} \
         it may hold; nothing was kept (the operator has to make room)",
        mib(*used), mib(*bytes), mib(*max)
    )]
    StoreFull {
        /// Bytes of photos kept.
        used: u64,
        /// The store's budget.
        max: u64,
        /// The refused photo's size.
        bytes: u64,
    },
    /// The file system under the data folder is nearly full: what is left is kept for the log.
    #[error(
        "the server's disk is nearly full ({} free); photos are not taken while less than {} \
         would be left, so that the ledger keeps room to record deals; nothing was kept, try \
         again later",
        mib(*free), mib(*reserve)
    )]
    DiskLow {
        /// Bytes free to the process when last measured, less what was written since.
        free: u64,
        /// The reserve uploads leave free.
        reserve: u64,
    },
    /// The disk: full, or failing.
    #[error("the photo store could not write: {0}")]
    Io(#[from] std::io::Error),
}

/// `bytes` in MiB for a person to read (rounded down; "less than 1 MiB" below it).
fn mib(bytes: u64) -> String {
    match bytes >> 20 {
        0 => "less than 1 MiB".to_owned(),
        n => format!("{n} MiB"),
    }
}

/// Bytes below which no file is an image worth showing.
const BYTES_MIN: usize = 16;

/// The most bytes of photos a store keeps, by default: 16 GiB, some 50,000 photos of 300 KiB.
pub const STORE_BYTES_MAX: u64 = 16 << 30;

/// The free space an upload must leave on the file system under the data folder, by default:
/// four times what the ledger needs free to resume after a full disk
/// ([`deedlog_store::log::RESUME_FREE_BYTES`], 16 MiB), so 64 MiB.
pub const FREE_RESERVE_BYTES: u64 = 4 * deedlog_store::log::RESUME_FREE_BYTES;

/// How long a measure of the free space is used (less what was written since) before the file
/// system is asked again.
const FREE_MEASURE_TTL: Duration = Duration::from_secs(1);

/// Stripes of the per-actor (and per-photo) locks: an actor always takes the same stripe, so
/// its count and write are one step; other actors on the stripe only wait their turn.
const STRIPES: usize = 64;

/// How the free space of the file system holding a folder is measured: bytes free to an
/// unprivileged writer, `None` when it cannot be told.
pub type FreeSpace = fn(&Path) -> Option<u64>;

/// The bounds of a photo store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoLimits {
    /// Most photos one actor keeps.
    pub per_actor_max: usize,
    /// Most bytes of photos the store keeps.
    pub store_bytes_max: u64,
    /// Free space an upload must leave on the file system under the data folder.
    pub free_reserve_bytes: u64,
}

impl PhotoLimits {
    /// `per_actor_max` photos per actor, and the default store budget and free-space reserve.
    #[must_use]
    pub fn per_actor(per_actor_max: usize) -> Self {
        Self {
            per_actor_max,
            store_bytes_max: STORE_BYTES_MAX,
            free_reserve_bytes: FREE_RESERVE_BYTES,
        }
    }
}

/// What one process shares about one store: its locks and its byte count.
#[derive(Debug)]
struct Shared {
    actors: Vec<Mutex<()>>,
    objects: Vec<Mutex<()>>,
    budget: Mutex<Budget>,
}

#[derive(Debug, Default)]
struct Budget {
    /// Bytes of the files under `objects/`, counted on first use and kept since.
    used: Option<u64>,
    /// The last measure of the free space, with when it was taken, less what was written since.
    free: Option<(Instant, u64)>,
}

/// The shared part of the store at `dir` (one per folder and process).
fn shared(dir: &Path) -> Arc<Shared> {
    static STORES: OnceLock<Mutex<HashMap<PathBuf, Arc<Shared>>>> = OnceLock::new();
    // Keyed by the data folder's real path (it exists while the node runs; `photos/` may not
    // yet), so two paths to one folder share the locks.
    let key = dir
        .parent()
        .and_then(|data| std::fs::canonicalize(data).ok())
        .map_or_else(|| dir.to_path_buf(), |data| data.join("photos"));
    let mut stores = lock(STORES.get_or_init(Mutex::default));
    stores
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Shared {
                actors: (0..STRIPES).map(|_| Mutex::new(())).collect(),
                objects: (0..STRIPES).map(|_| Mutex::new(())).collect(),
                budget: Mutex::default(),
            })
        })
        .clone()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing a panic can leave half done is kept under these locks: files are written whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn stripe(key: &[u8]) -> usize {
    usize::from(Sha256::digest(key)[0]) % STRIPES
}

/// The sizes of the files under `dir` (none when it does not exist).
fn bytes_under(dir: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0u64;
    for e in entries {
        let meta = e?.metadata()?;
        if meta.is_file() {
            total = total.saturating_add(meta.len());
        }
    }
    Ok(total)
}

/// The photo store of a data folder.
#[derive(Debug, Clone)]
pub struct Photos {
    dir: PathBuf,
    limits: PhotoLimits,
    free_space: FreeSpace,
}

/// What an upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The size.
    pub bytes: usize,
    /// The type.
    pub media_type: MediaType,
    /// Whether the same bytes were stored before (by anyone).
    pub existed: bool,
}

fn actor_dir(actor: &str) -> String {
    hex::encode(&Sha256::digest(actor.as_bytes())[..16])
}

/// Whether `hex` names a photo: 64 lower-case hex digits.
#[must_use]
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically and durably.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a photo path has no folder"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

impl Photos {
    /// The store under `data_dir/photos`, each actor keeping at most `per_actor_max` photos,
    /// with the default store budget ([`STORE_BYTES_MAX`]) and free-space reserve
    /// ([`FREE_RESERVE_BYTES`]).
    #[must_use]
    pub fn new(data_dir: &Path, per_actor_max: usize) -> Self {
        Self::with_limits(data_dir, PhotoLimits::per_actor(per_actor_max))
    }

    /// The store under `data_dir/photos` with `limits`, the free space measured by `statvfs`.
    #[must_use]
    pub fn with_limits(data_dir: &Path, limits: PhotoLimits) -> Self {
        Self {
            dir: data_dir.join("photos"),
            limits,
            free_space: deedlog_store::log::free_bytes,
        }
    }

    /// The same store, its free space measured by `free_space` (tests).
    #[must_use]
    pub fn measuring_free_space_with(mut self, free_space: FreeSpace) -> Self {
        self.free_space = free_space;
        self
    }

    fn object(&self, hex: &str) -> PathBuf {
        self.dir.join("objects").join(hex)
    }

    fn mark(&self, actor: &str, hex: &str) -> PathBuf {
        self.dir.join("by").join(actor_dir(actor)).join(hex)
    }

    /// Bytes of photos the store keeps (counted once per process, then kept up to date).
    ///
    /// # Errors
    /// The disk.
    pub fn bytes_kept(&self) -> Result<u64, PhotoError> {
        self.used(&mut lock(&shared(&self.dir).budget))
    }

    fn used(&self, budget: &mut Budget) -> Result<u64, PhotoError> {
        if let Some(used) = budget.used {
            return Ok(used);
        }
        let used = bytes_under(&self.dir.join("objects"))?;
        budget.used = Some(used);
        Ok(used)
    }

    /// Takes `bytes` from the store's budget and the disk's free space, or says which is short.
    /// The caller holds the photo's lock and gives the bytes back with [`Self::give_back`] if
    /// the write fails.
    fn reserve(&self, shared: &Shared, bytes: u64, replaced: u64) -> Result<(), PhotoError> {
        let mut budget = lock(&shared.budget);
        let used = self.used(&mut budget)?.saturating_sub(replaced);
        if used.saturating_add(bytes) > self.limits.store_bytes_max {
            return Err(PhotoError::StoreFull {
                used,
                max: self.limits.store_bytes_max,
                bytes,
            });
        }
        let now = Instant::now();
        let free = match budget.free {
            Some((at, free)) if now.duration_since(at) < FREE_MEASURE_TTL => Some(free),
            _ => {
                // The data folder exists whenever the node runs; the photos folder may not yet.
                let probe = self.dir.parent().unwrap_or(&self.dir);
                let measured = (self.free_space)(probe);
                if measured.is_none() {
                    tracing::warn!(
                        folder = %probe.display(),
                        "the free space under the data folder cannot be measured; photos are \
                         bounded by the store's budget only"
                    );
                }
                budget.free = measured.map(|f| (now, f));
                measured
            }
        };
        if let Some(free) = free
            && free.saturating_sub(bytes) < self.limits.free_reserve_bytes
        {
            return Err(PhotoError::DiskLow {
                free,
                reserve: self.limits.free_reserve_bytes,
            });
        }
        budget.used = Some(used.saturating_add(bytes));
        if let Some((_, free)) = &mut budget.free {
            *free = free.saturating_sub(bytes);
        }
        Ok(())
    }

    /// Gives back bytes [`Self::reserve`] took for a write that failed.
    fn give_back(shared: &Shared, bytes: u64, replaced: u64) {
        let mut budget = lock(&shared.budget);
        if let Some(used) = &mut budget.used {
            *used = used.saturating_sub(bytes).saturating_add(replaced);
        }
        // The free space is measured afresh next time: the write may have taken some.
        budget.free = None;
    }

    /// Stores `bytes` as a photo uploaded by `actor`. Storing the same bytes again is a no-op
    /// that answers the same hash (and counts once against the actor's quota). The actor's
    /// count and the write are one step (under the actor's lock), and so are the store's byte
    /// count and the photo's write (under the photo's lock): parallel uploads never pass a
    /// limit together.
    ///
    /// # Errors
    /// [`PhotoError`]: not an image, the quota, the store's budget, the disk's reserve, or the
    /// disk.
    pub fn put(&self, actor: &str, bytes: &[u8]) -> Result<Stored, PhotoError> {
        if bytes.len() < BYTES_MIN {
            return Err(PhotoError::TooSmall);
        }
        let media_type = MediaType::sniff(bytes).ok_or(PhotoError::NotAnImage)?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let mark = self.mark(actor, &sha256);
        let mark_dir = mark
            .parent()
            .ok_or_else(|| std::io::Error::other("a mark path has no folder"))?
            .to_path_buf();
        std::fs::create_dir_all(&mark_dir)?;
        std::fs::create_dir_all(self.dir.join("objects"))?;
        let shared = shared(&self.dir);
        let _actor = lock(&shared.actors[stripe(actor.as_bytes())]);
        let marked = mark.exists();
        if !marked {
            // The quota is counted by listing the actor's marks: bounded by the quota itself.
            let held = std::fs::read_dir(&mark_dir)?
                .filter_map(Result::ok)
                .filter(|e| is_sha256_hex(&e.file_name().to_string_lossy()))
                .take(self.limits.per_actor_max)
                .count();
            if held >= self.limits.per_actor_max {
                return Err(PhotoError::Quota(actor.to_owned(), held));
            }
        }
        let object = self.object(&sha256);
        let existed = {
            let _photo = lock(&shared.objects[stripe(sha256.as_bytes())]);
            let existed = self.read_checked(&sha256)?.is_some();
            if !existed {
                // A file under the name that does not hash to it (damaged) is replaced.
                let replaced = std::fs::metadata(&object).map_or(0, |m| m.len());
                let n = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                self.reserve(&shared, n, replaced)?;
                if let Err(e) = write_durably(&object, bytes) {
                    Self::give_back(&shared, n, replaced);
                    return Err(e.into());
                }
            }
            existed
        };
        if !marked {
            write_durably(&mark, b"")?;
        }
        Ok(Stored {
            sha256,
            bytes: bytes.len(),
            media_type,
            existed,
        })
    }

    /// Whether `actor` uploaded the photo `hex`.
    #[must_use]
    pub fn uploaded_by(&self, actor: &str, hex: &str) -> bool {
        is_sha256_hex(hex) && self.mark(actor, hex).is_file()
    }

    /// The photo `hex` with its type, if stored and whole: a file whose bytes do not hash to its
    /// name (damaged on disk, or replaced) is treated as missing.
    ///
    /// # Errors
    /// The disk.
    pub fn read_checked(&self, hex: &str) -> Result<Option<(MediaType, Vec<u8>)>, PhotoError> {
        if !is_sha256_hex(hex) {
            return Ok(None);
        }
        let bytes = match std::fs::read(self.object(hex)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if hex::encode(Sha256::digest(&bytes)) != hex {
            tracing::warn!(
                photo = hex,
                "a stored photo does not hash to its name; not served"
            );
            return Ok(None);
        }
        Ok(MediaType::sniff(&bytes).map(|t| (t, bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(seed: u8) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend(std::iter::repeat_n(seed, 64));
        b
    }

    #[test]
    fn stored_by_hash_idempotent_bounded_and_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let photos = Photos::new(dir.path(), 2);
        let a = photos.put("agent/AT-1", &png(1)).unwrap();
        assert_eq!(a.media_type, MediaType::Png);
        assert!(!a.existed);
        assert_eq!(a.sha256, hex::encode(Sha256::digest(png(1))));
        // The same bytes again: the same answer, no second quota slot.
        assert!(photos.put("agent/AT-1", &png(1)).unwrap().existed);
        photos.put("agent/AT-1", &png(2)).unwrap();
        assert!(matches!(
            photos.put("agent/AT-1", &png(3)),
            Err(PhotoError::Quota(_, 2))
        ));
        // Another actor uploading the same bytes is recorded as an uploader too.
        assert!(photos.put("party/PA-1", &png(1)).unwrap().existed);
        assert!(photos.uploaded_by("party/PA-1", &a.sha256));
        assert!(!photos.uploaded_by("party/PA-2", &a.sha256));
        assert_eq!(photos.read_checked(&a.sha256).unwrap().unwrap().1, png(1));
        // A damaged file is never served.
        std::fs::write(photos.object(&a.sha256), png(9)).unwrap();
        assert!(photos.read_checked(&a.sha256).unwrap().is_none());
        // Names that are not hashes never reach the file system.
        assert!(photos.read_checked("../../etc/passwd").unwrap().is_none());
        assert!(!photos.uploaded_by("agent/AT-1", "../x"));
    }

    fn limits(per_actor_max: usize, store_bytes_max: u64, free_reserve_bytes: u64) -> PhotoLimits {
        PhotoLimits {
            per_actor_max,
            store_bytes_max,
            free_reserve_bytes,
        }
    }

    #[test]
    fn the_store_keeps_at_most_its_budget_counting_what_it_held_before() {
        let dir = tempfile::tempdir().unwrap();
        // A photo kept before this process started counts too.
        let objects = dir.path().join("photos/objects");
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::write(objects.join(hex::encode(Sha256::digest(png(0)))), png(0)).unwrap();
        let one = png(0).len() as u64;
        let photos = Photos::with_limits(dir.path(), limits(100, 3 * one, 0))
            .measuring_free_space_with(|_| None);
        assert_eq!(photos.bytes_kept().unwrap(), one);
        photos.put("agent/AT-1", &png(1)).unwrap();
        photos.put("party/PA-1", &png(2)).unwrap();
        let refused = photos.put("party/PA-2", &png(3)).unwrap_err();
        assert!(
            matches!(refused, PhotoError::StoreFull { used, .. } if used == 3 * one),
            "{refused:?}"
        );
        assert!(
            refused.to_string().contains("photo store is full"),
            "{refused}"
        );
        // Bytes already kept are still answered (nothing new to keep).
        assert!(photos.put("party/PA-2", &png(1)).unwrap().existed);
        assert_eq!(photos.bytes_kept().unwrap(), 3 * one);
        assert!(
            photos
                .read_checked(&hex::encode(Sha256::digest(png(3))))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn uploads_leave_the_reserve_free_on_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let one = png(1).len() as u64;
        // 1,000 bytes free: a photo that would leave less than the reserve is refused, one
        // that leaves just the reserve is taken.
        let low = Photos::with_limits(dir.path(), limits(100, u64::MAX, 1000 - one + 1))
            .measuring_free_space_with(|_| Some(1000));
        let refused = low.put("agent/AT-1", &png(1)).unwrap_err();
        assert!(
            matches!(refused, PhotoError::DiskLow { free: 1000, .. }),
            "{refused:?}"
        );
        assert!(
            refused.to_string().contains("disk is nearly full"),
            "{refused}"
        );
        assert!(!low.uploaded_by("agent/AT-1", &hex::encode(Sha256::digest(png(1)))));
        let dir = tempfile::tempdir().unwrap();
        let enough = Photos::with_limits(dir.path(), limits(100, u64::MAX, 1000 - one))
            .measuring_free_space_with(|_| Some(1000));
        enough.put("agent/AT-1", &png(1)).unwrap();
        // The default reserve, measured by `statvfs` on this machine's disk.
        let dir = tempfile::tempdir().unwrap();
        assert!(deedlog_store::log::free_bytes(dir.path()).is_some_and(|f| f > 0));
        assert_eq!(FREE_RESERVE_BYTES, 64 << 20);
    }

    #[test]
    fn parallel_uploads_never_pass_a_limit_together() {
        const THREADS: u8 = 24;
        let run = |photos: Photos, actor: fn(u8) -> String| {
            let barrier = std::sync::Barrier::new(usize::from(THREADS));
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..THREADS)
                    .map(|i| {
                        let (photos, barrier) = (photos.clone(), &barrier);
                        s.spawn(move || {
                            barrier.wait();
                            photos.put(&actor(i), &png(i))
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        };
        // One actor, a quota of five: exactly five are kept.
        let dir = tempfile::tempdir().unwrap();
        let photos = Photos::with_limits(dir.path(), limits(5, u64::MAX, 0))
            .measuring_free_space_with(|_| None);
        let results = run(photos.clone(), |_| "party/PA-1".to_owned());
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(PhotoError::Quota(_, 5))))
        );
        let marks = std::fs::read_dir(dir.path().join("photos/by").join(actor_dir("party/PA-1")))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| is_sha256_hex(&e.file_name().to_string_lossy()))
            .count();
        assert_eq!(marks, 5);
        // Many actors, a store budget of five photos: exactly five are kept.
        let dir = tempfile::tempdir().unwrap();
        let one = png(0).len() as u64;
        let photos = Photos::with_limits(dir.path(), limits(100, 5 * one, 0))
            .measuring_free_space_with(|_| None);
        let results = run(photos.clone(), |i| format!("party/PA-{i}"));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
        assert_eq!(
            bytes_under(&dir.path().join("photos/objects")).unwrap(),
            5 * one
        );
    }

    #[test]
    fn only_images_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let photos = Photos::new(dir.path(), 10);
        assert!(matches!(
            photos.put("a", b"<svg onload=alert(1)>xxxxxxxxxxxxxxxx"),
            Err(PhotoError::NotAnImage)
        ));
        assert!(matches!(
            photos.put("a", b"\xFF\xD8\xFF"),
            Err(PhotoError::TooSmall)
        ));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
        webp.extend([0u8; 16]);
        assert_eq!(photos.put("a", &webp).unwrap().media_type, MediaType::Webp);
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.extend([7u8; 20]);
        assert_eq!(photos.put("a", &jpeg).unwrap().media_type, MediaType::Jpeg);
    }
}
