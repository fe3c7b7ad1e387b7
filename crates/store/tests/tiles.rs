//! The store's tlog-tiles: at sizes around tile edges (1, 255, 256, 257, 511, 700) a reader that
//! knows only the tiles spec rebuilds each checkpoint's root and proves every entry, and tiles
//! past the published tree are refused.

#[path = "support/tile_reader.rs"]
mod tile_reader;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use deedlog_core::hash::{self, Hash};
use deedlog_core::{Command, SecretKey};
use deedlog_store::tiles::TileAddr;
use deedlog_store::{
    AcceptAll, CheckpointFormat, LogOptions, LogWriter, Sequencer, SequencerConfig,
};
use serde_json::json;

struct PlainFormat;

impl CheckpointFormat for PlainFormat {
    fn sign(&self, size: u64, root: &Hash, time_ms: i64) -> Vec<u8> {
        format!("{size}\n{}\n{time_ms}\n", hash::to_hex(root)).into_bytes()
    }
    fn parse(&self, note: &[u8]) -> Option<(u64, Hash)> {
        let text = std::str::from_utf8(note).ok()?;
        let mut lines = text.lines();
        let size = lines.next()?.parse().ok()?;
        let root = hash::from_hex(lines.next()?).ok()?;
        Some((size, root))
    }
}

const NOW: i64 = 1_800_000_000_000;

#[test]
fn tiles_rebuild_roots_and_prove_entries_at_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _, _) =
        LogWriter::open(dir.path(), LogOptions::default(), Arc::new(PlainFormat)).unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let c = clock.clone();
    let config = SequencerConfig {
        clock: Arc::new(move || c.load(std::sync::atomic::Ordering::Relaxed)),
        ..SequencerConfig::default()
    };
    let seq = Sequencer::start(writer, AcceptAll, config).unwrap();
    let h = seq.handle();
    let key = SecretKey::from_seed(&[9; 32]);
    let reader = h.reader().clone();
    let mut n = 0u64;
    for target in [1u64, 255, 256, 257, 511, 700] {
        while n < target {
            let command = Command {
                actor: format!("test/{}", key.public().key_id()),
                key: key.public().to_base64(),
                kind: "test.note".into(),
                stream: format!("test/S-{}", n % 7),
                expected_version: None,
                payload: json!({"n": n}),
                nonce: format!("nonce-{n:08}"),
                issued_at_ms: NOW,
            }
            .sign(&key)
            .unwrap();
            h.submit_blocking(command).unwrap();
            n += 1;
        }
        assert_eq!(reader.size(), target);
        let fetch = |path: &str| -> Option<Vec<u8>> {
            let addr = TileAddr::parse(path.strip_prefix("tile/")?).ok()?;
            reader.tile(&addr).ok()
        };
        let tiles = tile_reader::TileReader::new(&fetch, target);
        let root = reader.root(target).unwrap();
        let entries = tiles.check_all(&root.0);
        for (seq, bytes) in entries.iter().enumerate() {
            assert_eq!(bytes, &reader.entry(seq as u64).unwrap());
        }
        // Nothing past the published tree: the next partial width, the next full tile.
        let w = target % 256 + 1;
        if w < 256 {
            let next = format!("0/{}.p/{w}", tile_reader::index_path(target / 256));
            assert!(
                reader.tile(&TileAddr::parse(&next).unwrap()).is_err(),
                "{next}"
            );
            let next = format!("entries/{}.p/{w}", tile_reader::index_path(target / 256));
            assert!(
                reader.tile(&TileAddr::parse(&next).unwrap()).is_err(),
                "{next}"
            );
        }
        let full = format!("0/{}", tile_reader::index_path(target / 256));
        assert!(reader.tile(&TileAddr::parse(&full).unwrap()).is_err());
    }
    // A partial tile of an earlier size stays served, with the same bytes as then (the first
    // 255 hashes of the now-full tile).
    let old = reader
        .tile(&TileAddr::parse("0/000.p/255").unwrap())
        .unwrap();
    let full = reader.tile(&TileAddr::parse("0/000").unwrap()).unwrap();
    assert_eq!(old[..], full[..255 * 32]);
    seq.shutdown();
}
