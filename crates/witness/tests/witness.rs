//! The witness against C2SP tlog-witness v1: every status code, durability across restarts,
//! rollbacks and forks refused, a witness that was down catching up, and concurrent requests
//! that never roll its record back.

use std::sync::Arc;

use actix_web::{App, test as atest};
use deedlog_core::checkpoint::{
    self, CosignatureStatus, VerifierKey, WitnessKey, sign_checkpoint, time_extension,
};
use deedlog_core::hash::leaf_hash;
use deedlog_core::merkle::MemoryHashes;
use deedlog_core::{Hash, SecretKey};
use deedlog_witness::{AddCheckpointRequest, AddError, Witness, http};

const ORIGIN: &str = "deedlog.test/log";

/// A log in memory: its leaves' stored hashes and its key.
struct TestLog {
    hashes: MemoryHashes,
    secret: SecretKey,
    origin: String,
}

impl TestLog {
    fn new(seed: u8, origin: &str) -> Self {
        Self {
            hashes: MemoryHashes::new(),
            secret: SecretKey::from_seed(&[seed; 32]),
            origin: origin.to_owned(),
        }
    }

    fn grow(&mut self, n: u64, tag: &str) {
        for _ in 0..n {
            let i = self.hashes.size();
            self.hashes
                .append(leaf_hash(format!("{tag}/{i}").as_bytes()));
        }
    }

    fn vkey(&self) -> VerifierKey {
        VerifierKey::new(&self.origin, self.secret.public()).unwrap()
    }

    fn checkpoint(&self, size: u64) -> Vec<u8> {
        let root = self.hashes.root(size).unwrap();
        sign_checkpoint(&self.origin, size, root, &[time_extension(1)], &self.secret).unwrap()
    }

    fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        if old == 0 || old == new {
            Vec::new()
        } else {
            self.hashes.consistency_proof(old, new).unwrap()
        }
    }

    /// The body that moves a witness from `old` to `new`.
    fn body(&self, old: u64, new: u64) -> Vec<u8> {
        AddCheckpointRequest::encode(old, &self.proof(old, new), &self.checkpoint(new))
    }
}

fn witness_secret() -> SecretKey {
    SecretKey::from_seed(&[42; 32])
}

fn open_witness(dir: &std::path::Path, logs: &[VerifierKey]) -> Witness {
    Witness::open(dir, "witness.test/w1", witness_secret(), logs).unwrap()
}

fn status(result: &Result<String, AddError>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

#[actix_web::test]
async fn every_status_code_of_the_spec_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(1, ORIGIN);
    log.grow(10, "a");
    let witness = Arc::new(open_witness(dir.path(), &[log.vkey()]));
    let app = atest::init_service(App::new().configure(http::configure(witness.clone()))).await;
    let post = |body: Vec<u8>| {
        atest::TestRequest::post()
            .uri("/add-checkpoint")
            .set_payload(body)
            .to_request()
    };

    // 200 with one cosignature line that verifies under the witness key.
    let checkpoint = log.checkpoint(5);
    let response = atest::call_service(&app, post(log.body(0, 5))).await;
    assert_eq!(response.status().as_u16(), 200);
    let line = String::from_utf8(atest::read_body(response).await.to_vec()).unwrap();
    assert!(line.starts_with("— witness.test/w1 ") && line.ends_with('\n'));
    let mut cosigned = checkpoint.clone();
    cosigned.extend_from_slice(line.as_bytes());
    let opened = checkpoint::open_checkpoint(&cosigned, &log.vkey()).unwrap();
    let key = WitnessKey::parse(&witness.vkey()).unwrap();
    let checks = checkpoint::verify_cosignatures(&opened, &[key]);
    assert!(matches!(
        checks[0].status,
        CosignatureStatus::Valid { timestamp } if timestamp > 1_700_000_000
    ));

    // 404: a log the witness does not know.
    let mut other = TestLog::new(2, "other.test/log");
    other.grow(3, "o");
    let response = atest::call_service(&app, post(other.body(0, 3))).await;
    assert_eq!(response.status().as_u16(), 404);

    // 403: the right origin signed by another key.
    let mut impostor = TestLog::new(3, ORIGIN);
    impostor.grow(10, "a");
    let response = atest::call_service(&app, post(impostor.body(5, 10))).await;
    assert_eq!(response.status().as_u16(), 403);

    // 400: old size above the checkpoint's; and a malformed body.
    let body = AddCheckpointRequest::encode(9, &[], &log.checkpoint(7));
    let response = atest::call_service(&app, post(body)).await;
    assert_eq!(response.status().as_u16(), 400);
    let response = atest::call_service(&app, post(b"old 5\nnot a proof\n\n".to_vec())).await;
    assert_eq!(response.status().as_u16(), 400);
    let text = atest::read_body(response).await;
    assert!(std::str::from_utf8(&text).unwrap().contains("proof line"));

    // 409: an old size that is not the one held; the held size in the body, typed as the spec says.
    let response = atest::call_service(&app, post(log.body(3, 10))).await;
    assert_eq!(response.status().as_u16(), 409);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        http::SIZE_CONTENT_TYPE
    );
    assert_eq!(&atest::read_body(response).await[..], b"5\n");

    // 422: a proof that does not verify (a hash flipped; then a proof for other sizes).
    let mut proof = log.proof(5, 10);
    proof[0].0[0] ^= 1;
    let body = AddCheckpointRequest::encode(5, &proof, &log.checkpoint(10));
    let response = atest::call_service(&app, post(body)).await;
    assert_eq!(response.status().as_u16(), 422);
    let body = AddCheckpointRequest::encode(5, &log.proof(6, 10), &log.checkpoint(10));
    let response = atest::call_service(&app, post(body)).await;
    assert_eq!(response.status().as_u16(), 422);

    // 413: a body over the limit is refused before it is read whole.
    let response = atest::call_service(
        &app,
        post(vec![b'a'; deedlog_witness::REQUEST_BYTES_MAX + 1]),
    )
    .await;
    assert_eq!(response.status().as_u16(), 413);

    // None of the refusals moved the witness.
    assert_eq!(witness.held(ORIGIN).unwrap().size, 5);
    let response = atest::call_service(&app, post(log.body(5, 10))).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(witness.held(ORIGIN).unwrap().size, 10);

    // Other paths and methods: plain 404 and 405-free text.
    let response = atest::call_service(&app, atest::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status().as_u16(), 404);
}

#[test]
fn the_state_survives_a_restart_and_is_what_the_log_signed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(1, ORIGIN);
    log.grow(20, "a");
    {
        let witness = open_witness(dir.path(), &[log.vkey()]);
        assert_eq!(status(&witness.add_checkpoint(&log.body(0, 7), 100)), 200);
        assert_eq!(status(&witness.add_checkpoint(&log.body(7, 12), 101)), 200);
    }
    // A leftover temporary file of an interrupted write is ignored and removed.
    let logs = dir.path().join("logs");
    let record = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(record.with_extension("checkpoint.tmp"), b"half a note").unwrap();

    let witness = open_witness(dir.path(), &[log.vkey()]);
    let held = witness.held(ORIGIN).unwrap();
    assert_eq!(held.size, 12);
    assert_eq!(held.note, log.checkpoint(12));
    assert_eq!(std::fs::read_dir(&logs).unwrap().count(), 1);
    // The record is the log's own signed checkpoint: anyone can check it with the log key.
    let opened =
        checkpoint::open_checkpoint(&std::fs::read(&record).unwrap(), &log.vkey()).unwrap();
    assert_eq!(opened.size, 12);
    // After the restart it still refuses to start over from zero, and goes on from 12.
    assert_eq!(
        witness
            .add_checkpoint(&log.body(0, 20), 102)
            .unwrap_err()
            .status(),
        409
    );
    assert_eq!(status(&witness.add_checkpoint(&log.body(12, 20), 103)), 200);

    // A damaged record stops the witness from starting rather than letting it forget.
    drop(witness);
    std::fs::write(&record, b"garbage").unwrap();
    assert!(
        Witness::open(
            dir.path(),
            "witness.test/w1",
            witness_secret(),
            &[log.vkey()]
        )
        .is_err()
    );
}

#[test]
fn rollbacks_and_forks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(1, ORIGIN);
    log.grow(10, "a");
    let witness = open_witness(dir.path(), &[log.vkey()]);
    assert_eq!(status(&witness.add_checkpoint(&log.body(0, 10), 1)), 200);

    // A rollback: an older checkpoint of the same log, sent honestly (old 10) or pretending the
    // witness is at its size (old 6).
    let back = AddCheckpointRequest::encode(10, &[], &log.checkpoint(6));
    assert_eq!(witness.add_checkpoint(&back, 2).unwrap_err().status(), 400);
    let back = AddCheckpointRequest::encode(6, &[], &log.checkpoint(6));
    match witness.add_checkpoint(&back, 2) {
        Err(AddError::Conflict { held }) => assert_eq!(held, 10),
        other => panic!("expected 409, got {other:?}"),
    }

    // A fork: a second history under the same key that shares the first 6 entries.
    let mut fork = TestLog::new(1, ORIGIN);
    fork.grow(6, "a");
    fork.grow(8, "b");
    // Same size, other root: 409.
    let same_size = AddCheckpointRequest::encode(10, &[], &fork.checkpoint(10));
    assert_eq!(
        witness.add_checkpoint(&same_size, 3).unwrap_err().status(),
        409
    );
    // Larger, with the fork's own (valid for the fork) proof from 10: 422.
    assert_eq!(
        witness
            .add_checkpoint(&fork.body(10, 14), 3)
            .unwrap_err()
            .status(),
        422
    );
    // A same-size resubmission of the held checkpoint is fine, and needs an empty proof.
    assert_eq!(status(&witness.add_checkpoint(&log.body(10, 10), 4)), 200);
    let padded = AddCheckpointRequest::encode(10, &[Hash([0; 32])], &log.checkpoint(10));
    assert_eq!(
        witness.add_checkpoint(&padded, 4).unwrap_err().status(),
        422
    );
    assert_eq!(witness.held(ORIGIN).unwrap().note, log.checkpoint(10));
}

#[test]
fn a_witness_that_was_down_catches_up_from_its_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(1, ORIGIN);
    log.grow(4, "a");
    {
        let witness = open_witness(dir.path(), &[log.vkey()]);
        assert_eq!(status(&witness.add_checkpoint(&log.body(0, 4), 1)), 200);
    }
    // While it is down, the log publishes several checkpoints it never sees.
    for _ in 0..5 {
        log.grow(37, "a");
    }
    let witness = open_witness(dir.path(), &[log.vkey()]);
    let size = log.hashes.size();
    // The log does not know where the witness is: it asks with 0, learns 4 from the 409, and
    // proves 4 → now.
    let held = match witness.add_checkpoint(&log.body(0, size), 2) {
        Err(AddError::Conflict { held }) => held,
        other => panic!("expected 409, got {other:?}"),
    };
    assert_eq!(held, 4);
    assert_eq!(
        status(&witness.add_checkpoint(&log.body(held, size), 2)),
        200
    );
    assert_eq!(witness.held(ORIGIN).unwrap().size, size);
}

#[test]
fn concurrent_requests_never_roll_the_record_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(1, ORIGIN);
    log.grow(64, "a");
    let witness = Arc::new(open_witness(dir.path(), &[log.vkey()]));
    assert_eq!(status(&witness.add_checkpoint(&log.body(0, 8), 1)), 200);
    // Many requests all built against size 8, racing: exactly one may win, and the record ends
    // at the winner's size, never below it.
    let bodies: Vec<(u64, Vec<u8>)> = (9..=64).map(|n| (n, log.body(8, n))).collect();
    let wins: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|(n, body)| {
                let witness = witness.clone();
                s.spawn(move || witness.add_checkpoint(body, 2).ok().map(|_| *n))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(
        wins.len(),
        1,
        "one request against size 8 may win: {wins:?}"
    );
    assert_eq!(witness.held(ORIGIN).unwrap().size, wins[0]);
}

#[test]
fn the_witness_key_id_follows_tlog_cosignature() {
    let secret = witness_secret();
    let key = WitnessKey::new("witness.test/w1", secret.public()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let witness = open_witness(dir.path(), &[]);
    // key id = SHA-256(name || "\n" || 0x04 || public key)[:4].
    let mut material = b"witness.test/w1\n\x04".to_vec();
    material.extend_from_slice(&secret.public().to_bytes());
    let digest = deedlog_core::hash::sha256(&material);
    assert_eq!(
        key.key_id(),
        u32::from_be_bytes(digest[..4].try_into().unwrap())
    );
    assert_eq!(witness.vkey(), key.to_vkey());
    assert!(
        witness
            .vkey()
            .starts_with(&format!("witness.test/w1+{:08x}+", key.key_id()))
    );
}
