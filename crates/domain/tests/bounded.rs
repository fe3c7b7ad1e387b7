//! A bounded state whose scratch store fails to read: the failure is reported (so the node
//! refuses what it decided, or stops), nothing of the failed look-up is kept, and once the store
//! reads again the state decides as the whole one does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deedlog_domain::State;
use deedlog_domain::bounded::{MemorySpill, Spill};
use deedlog_domain::testkit::Ledger;

/// A store in memory that fails every read while `broken` is set.
#[derive(Default)]
struct Flaky {
    inner: MemorySpill,
    broken: AtomicBool,
}

impl Spill for Flaky {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        if self.broken.load(Ordering::SeqCst) {
            return Err("input/output error".into());
        }
        self.inner.get(key)
    }

    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), String> {
        self.inner.write(writes)
    }
}

#[test]
fn a_failed_read_is_reported_kept_nowhere_and_the_next_read_answers_right() {
    let mut ledger = Ledger::new();
    let agency = ledger.agency("dian");
    ledger.agent("wang", &agency);
    for name in ["alice", "bob", "carol"] {
        ledger.party(name);
    }
    let flaky = Arc::new(Flaky::default());
    let mut bounded = State::with_spill(flaky.clone(), 1);
    for entry in &ledger.entries {
        bounded.apply(entry).unwrap();
        bounded.spill().unwrap();
    }
    assert!(
        bounded.held_entries() < 23 * 4,
        "{}",
        bounded.held_entries()
    );
    assert!(flaky.inner.len() > 10);

    // alice registering again: the rules look her up, and the state spilled her.
    let payload = ledger.register_payload("party/PA-alice", &"c".repeat(64));
    let cmd = ledger.sign(
        "party/PA-alice",
        "party.register",
        "party/PA-alice",
        payload,
    );
    let ctx = ledger.context(&cmd.stream);
    let whole = ledger.state.decide(&cmd, &ctx);

    flaky.broken.store(true, Ordering::SeqCst);
    let _wrong = bounded.decide(&cmd, &ctx);
    let failure = bounded
        .take_spill_failure()
        .expect("the failed read is reported");
    assert!(failure.contains("input/output error"), "{failure}");
    assert_eq!(bounded.take_spill_failure(), None, "reported once");

    flaky.broken.store(false, Ordering::SeqCst);
    let again = bounded.decide(&cmd, &ctx);
    assert_eq!(bounded.take_spill_failure(), None);
    match (&whole, &again) {
        (Ok(a), Ok(b)) => assert_eq!((&a.kind, &a.derived), (&b.kind, &b.derived)),
        (Err(a), Err(b)) => assert_eq!((a.code, &a.message), (b.code, &b.message)),
        _ => panic!("the whole state answers {whole:?}, the bounded one {again:?}"),
    }
}
