//! Purchase entrustments (买方委托经纪人代理购买): the buyer's agent books viewings and confirms
//! the buyer's side of the contract for its principal, within the entrustment's districts,
//! budget and period, and nothing outside them. Every refusal appends nothing.

mod common;

use common::*;
use deedlog_domain::state::{ContractRole, ContractStatus, ViewingStatus};
use serde_json::{Value, json};

/// The buyer entrusts `agent` to buy within `districts` and `budget`, for `days`; accepted
/// unless `accept` is false.
fn entrust_purchase(
    w: &mut World,
    en: &str,
    agent: &str,
    budget: u64,
    districts: &[&str],
    days: i64,
    accept: bool,
) {
    let buyer = w.buyer.clone();
    let until = w.l.now_ms + days * DAY;
    w.l.ok(
        &buyer,
        "entrustment.purchase",
        en,
        json!({ "agent": agent, "budget_max_fen": budget, "districts": districts, "expires_at_ms": until }),
    );
    if accept {
        w.l.ok(agent, "entrustment.accept", en, json!({}));
    }
}

fn booking(w: &World, listing: &str, entrustment: Option<&str>) -> Value {
    let start = w.l.now_ms + DAY;
    let mut p = json!({ "listing": listing, "slot_start_ms": start, "slot_end_ms": start + HOUR });
    if let Some(en) = entrustment {
        p["entrustment"] = json!(en);
    }
    p
}

#[test]
fn the_buyers_agent_books_a_viewing_and_confirms_the_buyers_side_for_its_principal() {
    let mut w = World::new();
    let listing = w.publish();
    let (buyer, seller_agent, buyers_agent) =
        (w.buyer.clone(), w.agent.clone(), w.other_agent.clone());
    entrust_purchase(
        &mut w,
        "entrustment/EN-P",
        &buyers_agent,
        200_000_000,
        &["五华区"],
        30,
        true,
    );

    // A viewing booked by the buyer's agent is the buyer's.
    let payload = booking(&w, &listing, Some("entrustment/EN-P"));
    let e =
        w.l.ok(&buyers_agent, "viewing.book", "viewing/VW-P", payload);
    assert_eq!(e.derived["on_behalf_of"], json!(buyer));
    assert_eq!(e.derived["entrustment"], json!("entrustment/EN-P"));
    let v = w.l.state.viewing("viewing/VW-P").expect("viewing");
    assert_eq!(v.buyer, buyer);
    assert_eq!(v.status, ViewingStatus::Booked);

    // The listing's agent handles it as any viewing; the buyer rates it as their own.
    w.l.ok(&seller_agent, "viewing.confirm", "viewing/VW-P", json!({}));
    w.l.advance(DAY + HOUR / 2);
    w.l.ok(
        &seller_agent,
        "viewing.record",
        "viewing/VW-P",
        json!({ "note": "买方经纪人陪同看房" }),
    );
    w.l.ok(
        &buyer,
        "viewing.rate",
        "viewing/VW-P",
        json!({ "stars": 4, "comment": "" }),
    );

    // The buyer's agent confirms the terms in the buyer's role; the buyer e-signs.
    let ct = w.draft(&listing, &seller_agent);
    let doc =
        w.l.state
            .contract(&ct)
            .expect("contract")
            .document_hash
            .clone();
    let e = w.l.ok(
        &buyers_agent,
        "contract.confirm",
        &ct,
        json!({ "document_hash": doc, "entrustment": "entrustment/EN-P" }),
    );
    assert_eq!(e.derived["role"], json!("buyer"));
    assert_eq!(e.derived["on_behalf_of"], json!(buyer));
    assert!(
        w.l.state
            .contract(&ct)
            .expect("contract")
            .confirmed
            .contains(&ContractRole::Buyer)
    );
    refused(
        &mut w.l,
        &buyer,
        "contract.confirm",
        &ct,
        json!({ "document_hash": doc }),
        "contract.already_confirmed",
    );
    w.l.ok(
        &buyer,
        "contract.sign",
        &ct,
        json!({ "document_hash": doc }),
    );
    let seller = w.seller.clone();
    for who in [&seller, &seller_agent] {
        w.l.ok(
            who,
            "contract.confirm",
            &ct,
            json!({ "document_hash": doc }),
        );
        w.l.ok(who, "contract.sign", &ct, json!({ "document_hash": doc }));
    }
    assert_eq!(
        w.l.state.contract(&ct).expect("contract").status,
        ContractStatus::Signed
    );
    assert_audit_clean(&w.l);
}

#[test]
fn the_buyers_agent_is_refused_outside_its_entrustment() {
    let mut w = World::new();
    let listing = w.publish();
    let (buyer, seller_agent, buyers_agent, stranger) = (
        w.buyer.clone(),
        w.agent.clone(),
        w.other_agent.clone(),
        w.stranger.clone(),
    );
    let before = w.l.entries.len();
    let book = |w: &mut World, actor: &str, en: Option<&str>, code: &str| {
        let payload = booking(w, &listing, en);
        refused(
            &mut w.l,
            actor,
            "viewing.book",
            "viewing/VW-X",
            payload,
            code,
        );
    };

    // No entrustment at all, or one merely offered.
    book(&mut w, &buyers_agent, None, "entrustment.not_entrusted");
    book(
        &mut w,
        &buyers_agent,
        Some("entrustment/EN-NONE"),
        "entrustment.not_entrusted",
    );
    entrust_purchase(
        &mut w,
        "entrustment/EN-OFFER",
        &buyers_agent,
        200_000_000,
        &[],
        30,
        false,
    );
    book(
        &mut w,
        &buyers_agent,
        Some("entrustment/EN-OFFER"),
        "entrustment.not_entrusted",
    );

    // Another district, or above the budget.
    entrust_purchase(
        &mut w,
        "entrustment/EN-PL",
        &buyers_agent,
        200_000_000,
        &["盘龙区"],
        30,
        true,
    );
    book(
        &mut w,
        &buyers_agent,
        Some("entrustment/EN-PL"),
        "entrustment.out_of_scope",
    );
    entrust_purchase(
        &mut w,
        "entrustment/EN-LOW",
        &buyers_agent,
        PRICE - 1,
        &[],
        30,
        true,
    );
    book(
        &mut w,
        &buyers_agent,
        Some("entrustment/EN-LOW"),
        "entrustment.out_of_scope",
    );

    // Another agent cannot use it; a party cannot name it; a sale entrustment gives no buyer.
    entrust_purchase(
        &mut w,
        "entrustment/EN-P",
        &buyers_agent,
        200_000_000,
        &["五华区"],
        30,
        true,
    );
    book(
        &mut w,
        &seller_agent,
        Some("entrustment/EN-P"),
        "entrustment.not_entrusted",
    );
    book(
        &mut w,
        &buyer,
        Some("entrustment/EN-P"),
        "payload.bad_field",
    );
    book(
        &mut w,
        &seller_agent,
        Some("entrustment/EN-1"),
        "entrustment.out_of_scope",
    );

    // Inside scope it works; the contract of another buyer stays out of reach, and so does
    // the e-signature, which is the buyer's own.
    let payload = booking(&w, &listing, Some("entrustment/EN-P"));
    w.l.ok(&buyers_agent, "viewing.book", "viewing/VW-P", payload);
    let ct = "contract/CT-9";
    let terms = w.l.terms(&listing, &stranger, PRICE);
    w.l.ok(
        &seller_agent,
        "contract.draft",
        ct,
        json!({ "listing": listing, "buyer": stranger, "terms": terms, "document_hash": hash("other buyer") }),
    );
    let doc = hash("other buyer");
    refused(
        &mut w.l,
        &buyers_agent,
        "contract.confirm",
        ct,
        json!({ "document_hash": doc, "entrustment": "entrustment/EN-P" }),
        "entrustment.out_of_scope",
    );
    w.l.ok(
        &seller_agent,
        "contract.cancel",
        ct,
        json!({ "reason": "买方变更" }),
    );
    let ct = w.draft(&listing, &seller_agent);
    let doc =
        w.l.state
            .contract(&ct)
            .expect("contract")
            .document_hash
            .clone();
    w.l.ok(
        &buyers_agent,
        "contract.confirm",
        &ct,
        json!({ "document_hash": doc, "entrustment": "entrustment/EN-P" }),
    );
    refused(
        &mut w.l,
        &buyers_agent,
        "contract.sign",
        &ct,
        json!({ "document_hash": doc, "entrustment": "entrustment/EN-P" }),
        "entrustment.out_of_scope",
    );
    refused(
        &mut w.l,
        &buyer,
        "contract.confirm",
        &ct,
        json!({ "document_hash": doc, "entrustment": "entrustment/EN-P" }),
        "payload.bad_field",
    );

    // Revoked: no more bookings.
    w.l.ok(
        &buyer,
        "entrustment.revoke",
        "entrustment/EN-P",
        json!({ "reason": "已自行找房" }),
    );
    book(
        &mut w,
        &buyers_agent,
        Some("entrustment/EN-P"),
        "entrustment.not_entrusted",
    );

    // Expired: the period of EN-PL and EN-LOW ends; a fresh in-scope one expires too.
    entrust_purchase(
        &mut w,
        "entrustment/EN-SHORT",
        &buyers_agent,
        200_000_000,
        &[],
        1,
        true,
    );
    w.l.advance(2 * DAY);
    book(
        &mut w,
        &buyers_agent,
        Some("entrustment/EN-SHORT"),
        "entrustment.expired",
    );
    assert!(w.l.entries.len() > before);
    assert_audit_clean(&w.l);
}
