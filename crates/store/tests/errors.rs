//! The store's errors speak of the store, not of the embedded engine under its index.

use deedlog_store::StoreError;
use deedlog_store::index::Index;

#[test]
fn a_locked_index_is_a_store_error_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let _first = Index::open(&path, 1 << 20).unwrap();
    // The engine locks its folder: a second open of the same index fails, and says so as the
    // store's own error.
    let Err(error) = Index::open(&path, 1 << 20) else {
        panic!("a second open of a locked index succeeded");
    };
    assert!(matches!(error, StoreError::Index(_)), "{error:?}");
    let words = error.to_string();
    assert!(words.starts_with("the index database failed: "), "{words}");
    // The engine's own error is still there as the source, for logs.
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn a_full_disk_under_the_index_is_told_apart_as_storage_full() {
    let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
    assert!(StoreError::from(fjall::Error::Io(full)).is_storage_full());
    let quota = std::io::Error::from(std::io::ErrorKind::QuotaExceeded);
    assert!(StoreError::from(fjall::Error::Storage(fjall::LsmError::Io(quota))).is_storage_full());
    let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    assert!(!StoreError::from(fjall::Error::Io(other)).is_storage_full());
    assert!(!StoreError::from(fjall::Error::Locked).is_storage_full());
    assert!(
        StoreError::io(
            std::path::Path::new("/x"),
            std::io::Error::from(std::io::ErrorKind::StorageFull)
        )
        .is_storage_full()
    );
}
