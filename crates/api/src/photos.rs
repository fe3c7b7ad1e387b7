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

use std::io::Write as _;
use std::path::{Path, PathBuf};

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
    /// The disk: full, or failing.
    #[error("the photo store could not write: {0}")]
    Io(#[from] std::io::Error),
}

/// Bytes below which no file is an image worth showing.
const BYTES_MIN: usize = 16;

/// The photo store of a data folder.
#[derive(Debug, Clone)]
pub struct Photos {
    dir: PathBuf,
    per_actor_max: usize,
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
    /// The store under `data_dir/photos`, each actor keeping at most `per_actor_max` photos.
    #[must_use]
    pub fn new(data_dir: &Path, per_actor_max: usize) -> Self {
        Self {
            dir: data_dir.join("photos"),
            per_actor_max,
        }
    }

    fn object(&self, hex: &str) -> PathBuf {
        self.dir.join("objects").join(hex)
    }

    fn mark(&self, actor: &str, hex: &str) -> PathBuf {
        self.dir.join("by").join(actor_dir(actor)).join(hex)
    }

    /// Stores `bytes` as a photo uploaded by `actor`. Storing the same bytes again is a no-op
    /// that answers the same hash (and counts once against the actor's quota).
    ///
    /// # Errors
    /// [`PhotoError`]: not an image, the quota, or the disk.
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
        if !mark.exists() {
            // The quota is counted by listing the actor's marks: bounded by the quota itself.
            let held = std::fs::read_dir(&mark_dir)?
                .filter_map(Result::ok)
                .filter(|e| is_sha256_hex(&e.file_name().to_string_lossy()))
                .take(self.per_actor_max)
                .count();
            if held >= self.per_actor_max {
                return Err(PhotoError::Quota(actor.to_owned(), held));
            }
        }
        let object = self.object(&sha256);
        let existed = self.read_checked(&sha256)?.is_some();
        if !existed {
            write_durably(&object, bytes)?;
        }
        if !mark.exists() {
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
