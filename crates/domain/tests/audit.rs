//! The semantic audit finds every illegal entry, names its seq and keeps going.

mod common;

use common::*;
use deedlog_core::hash::ZERO_HASH;
use deedlog_domain::{AuditFaultKind, Auditor, Entry, SignedCommand, audit};
use serde_json::{Value, json};

/// A finished agent-assisted deal.
fn deal() -> World {
    let mut w = World::new();
    let (buyer, seller, agent) = (w.buyer.clone(), w.seller.clone(), w.agent.clone());
    let listing = w.publish();
    let ct = w.draft(&listing, &agent);
    w.sign_all(&ct, &[buyer, seller, agent]);
    w.l.ok(HOUSING, "contract.file", &ct, json!({}));
    w
}

/// An entry that follows `entries`, with the next seq and stream version.
fn next(entries: &[Entry], signed: SignedCommand, kind: &str, derived: Value) -> Entry {
    let version = entries.iter().filter(|e| e.stream == signed.stream).count() as u64 + 1;
    Entry {
        seq: entries.len() as u64,
        recorded_at_ms: entries.last().map_or(T0, |e| e.recorded_at_ms + 1),
        prev_hash: ZERO_HASH,
        stream: signed.stream.clone(),
        stream_version: version,
        kind: kind.to_owned(),
        signed,
        derived,
    }
}

fn find(entries: &[Entry], kind: &str) -> usize {
    entries
        .iter()
        .position(|e| e.signed.kind == kind)
        .expect("kind in log")
}

#[test]
fn a_legal_log_audits_clean_entry_by_entry() {
    let w = deal();
    let mut auditor = Auditor::new();
    for e in &w.l.entries {
        assert!(
            auditor.check(e),
            "entry {} refused: {:?}",
            e.seq,
            auditor.faults()
        );
    }
    assert!(auditor.finish().is_clean());
}

#[test]
fn a_forged_derived_code_is_found() {
    let w = deal();
    let mut entries = w.l.entries.clone();
    let i = find(&entries, "contract.file");
    entries[i].derived["filing_code"] = json!("FC-0000000000000000");
    let report = audit(entries.iter());
    assert_eq!(report.faults.len(), 1);
    assert_eq!(report.faults[0].seq, i as u64);
    assert!(matches!(
        report.faults[0].fault,
        AuditFaultKind::DerivedMismatch { .. }
    ));
}

#[test]
fn a_wrong_event_kind_is_found() {
    let w = deal();
    let mut entries = w.l.entries.clone();
    let i = find(&entries, "listing.publish");
    entries[i].kind = "ListingPublicationProposed".into();
    let report = audit(entries.iter());
    assert_eq!(report.faults[0].seq, i as u64);
    assert_eq!(
        report.faults[0].fault,
        AuditFaultKind::KindMismatch {
            decided: "ListingPublished".into()
        }
    );
    // Skipping the bad entry makes later steps on its listing illegal too, each reported.
    assert!(report.faults.len() > 1 && report.faults.iter().all(|f| f.seq >= i as u64));
}

#[test]
fn illegal_steps_replays_and_broken_numbering_are_each_reported() {
    let mut w = deal();
    let mut entries = w.l.entries.clone();
    // 1. A correctly signed command by someone not allowed to take the step.
    let buyer = w.buyer.clone();
    let forged = w.l.sign(
        &buyer,
        "contract.cancel_filing",
        "contract/CT-1",
        json!({ "reason": "我反悔了" }),
    );
    entries.push(next(&entries, forged, "ContractFilingCancelled", json!({})));
    let illegal = entries.len() - 1;
    // 2. A replay of an earlier command.
    let confirm = entries[find(&entries, "contract.confirm")].clone();
    entries.push(next(
        &entries,
        confirm.signed.clone(),
        &confirm.kind,
        confirm.derived.clone(),
    ));
    let replay = entries.len() - 1;
    // 3. A stream version that skips one.
    let seller = w.seller.clone();
    let reg = w.l.sign(
        &seller,
        "key.rotate",
        &seller,
        json!({ "new_key": "x", "proof": "y" }),
    );
    let mut skipped = next(&entries, reg, "KeyRotated", json!({}));
    skipped.stream_version += 1;
    entries.push(skipped);
    let version = entries.len() - 1;
    // 4. Time going backwards, with an otherwise legal command.
    let s = w.l.sign(
        HOUSING,
        "agency.suspend",
        "agency/AG-anju",
        json!({ "reason": "违规" }),
    );
    let mut back = next(&entries, s, "AgencySuspended", json!({}));
    back.recorded_at_ms = T0 - 1;
    entries.push(back);
    let time = entries.len() - 1;
    // 5. A seq gap.
    let s = w.l.sign(
        HOUSING,
        "agent.suspend",
        "agent/AT-li",
        json!({ "reason": "违规" }),
    );
    let mut gap = next(&entries, s, "AgentSuspended", json!({}));
    gap.seq += 5;
    entries.push(gap);
    let gap_at = entries.len() - 1;
    // 6. An entry whose stream is not the command's.
    let s = w.l.sign(
        HOUSING,
        "agent.suspend",
        "agent/AT-wang",
        json!({ "reason": "违规" }),
    );
    let mut moved = next(&entries, s, "AgentSuspended", json!({}));
    moved.seq += 5;
    moved.stream = "agent/AT-li".into();
    entries.push(moved);

    let report = audit(entries.iter());
    let faults: Vec<(u64, &AuditFaultKind)> =
        report.faults.iter().map(|f| (f.seq, &f.fault)).collect();
    assert_eq!(faults.len(), 6, "{faults:#?}");
    assert!(
        matches!(faults[0], (s, AuditFaultKind::Rejected { code, .. }) if s == illegal as u64 && code == "auth.role_not_allowed")
    );
    assert!(matches!(faults[1], (s, AuditFaultKind::DuplicateNonce) if s == replay as u64));
    assert!(matches!(faults[2], (s, AuditFaultKind::StreamVersion { .. }) if s == version as u64));
    assert!(matches!(faults[3], (s, AuditFaultKind::TimeWentBackwards { .. }) if s == time as u64));
    assert!(matches!(faults[4], (s, AuditFaultKind::SeqGap { .. }) if s == gap_at as u64 + 5));
    assert!(matches!(faults[5], (_, AuditFaultKind::StreamMismatch)));
    assert_eq!(report.entries, entries.len() as u64);
}

#[test]
fn a_command_signed_with_an_unregistered_key_is_refused_on_replay() {
    let mut w = deal();
    let mut entries = w.l.entries.clone();
    let impostor = deedlog_domain::testkit::secret("impostor");
    let s = w.l.sign_with(
        &impostor,
        HOUSING,
        "agency.suspend",
        "agency/AG-anju",
        json!({ "reason": "x" }),
    );
    entries.push(next(&entries, s, "AgencySuspended", json!({})));
    let report = audit(entries.iter());
    assert!(
        matches!(&report.faults[0].fault, AuditFaultKind::Rejected { code, .. } if code == "auth.key_mismatch")
    );
}

#[test]
fn replay_by_apply_alone_reaches_the_same_state() {
    let w = deal();
    let mut state = deedlog_domain::State::default();
    for e in &w.l.entries {
        state.apply(e).expect("applies");
    }
    assert_eq!(
        state.canonical_bytes().expect("encodes"),
        w.l.state.canonical_bytes().expect("encodes")
    );
    // Applying out of order is refused.
    let mut fresh = deedlog_domain::State::default();
    assert!(fresh.apply(&w.l.entries[1]).is_err());
}

#[test]
fn every_entry_reads_as_a_typed_event() {
    let w = deal();
    for e in &w.l.entries {
        let v = deedlog_domain::EventView::from_entry(e).expect("parses");
        assert_eq!(v.command.kind(), e.signed.kind);
        assert_eq!(v.party(), e.signed.actor);
    }
    let filed =
        w.l.entries
            .iter()
            .find(|e| e.kind == "ContractFiled")
            .expect("filed");
    let v = deedlog_domain::EventView::from_entry(filed).expect("parses");
    assert!(
        v.derived_str("filing_code")
            .is_some_and(|c| c.starts_with("FC-"))
    );
    let mut bad = filed.clone();
    bad.kind = "ListingPublished".into();
    assert!(deedlog_domain::EventView::from_entry(&bad).is_err());
}

/// Every committed state root is recomputed: the right root on any entry passes, and a root
/// with one byte changed, a root that is not hex, or the root of the state one entry earlier
/// stops at that entry with a `state_root` fault naming both roots. (The entries are forged at
/// the replay function: `derived.state_root` is outside the command's signature, so this is
/// what a log whose sequencer lied about its state would hold.)
#[test]
fn a_wrong_committed_state_root_is_found_at_its_entry() {
    let w = deal();
    let entries = w.entries().to_vec();
    let filed = find(&entries, "contract.file");
    // The honest roots, entry by entry.
    let mut auditor = Auditor::new();
    let mut roots = Vec::new();
    for e in &entries {
        assert!(auditor.check(e));
        roots.push(auditor.state_root());
    }
    let with_root = |root: String| {
        let mut forged = entries.clone();
        forged[filed]
            .derived
            .as_object_mut()
            .expect("object")
            .insert("state_root".into(), Value::String(root));
        forged
    };
    let honest = with_root(hx(roots[filed]));
    let report = audit(honest.iter());
    assert!(report.is_clean(), "{:#?}", report.faults);

    let mut flipped = roots[filed];
    flipped[7] ^= 0x01;
    for bad in [
        hx(flipped),
        hx(roots[filed - 1]),
        "not a root".to_owned(),
        hx(roots[filed]).to_uppercase(),
    ] {
        let report = audit(with_root(bad.clone()).iter());
        assert_eq!(report.faults.len(), 1, "{bad}: {:#?}", report.faults);
        let fault = &report.faults[0];
        assert_eq!(fault.seq, filed as u64);
        match &fault.fault {
            AuditFaultKind::StateRoot {
                committed,
                recomputed,
            } => {
                assert_eq!(recomputed, &hx(roots[filed]));
                assert_ne!(committed, recomputed);
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

fn hx(d: [u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
