//! End-to-end scenarios of the deal flow, each ending with a clean semantic audit.

mod common;

use common::*;
use deedlog_domain::state::{
    ContractStatus, EntrustmentStatus, ListingStatus, VerificationStatus, ViewingStatus,
};
use serde_json::json;

#[test]
fn a_full_agent_assisted_deal() {
    let mut w = World::new();
    let (seller, buyer, agent, bank) = (
        w.seller.clone(),
        w.buyer.clone(),
        w.agent.clone(),
        w.bank.clone(),
    );
    let cert = w.l.certificate(&w.property);
    let e = w.l.ok(
        &seller,
        "property.verify",
        "verification/PV-1",
        json!({ "certificate_no": cert }),
    );
    assert_eq!(e.kind, "PropertyVerified");
    let code = e.derived["verification_code"]
        .as_str()
        .expect("code")
        .to_owned();
    assert!(code.starts_with("PV-"));
    assert_eq!(
        w.l.state.verification("verification/PV-1").expect("v").code,
        code
    );

    let en = w.entrust_on("verification/PV-1", false, 90);
    let listing = "listing/LS-1";
    let payload = w.l.publish_payload(Some(&en), "verification/PV-1", PRICE);
    let e = w.l.ok(&agent, "listing.publish", listing, payload);
    let listing_code = e.derived["listing_code"].as_str().expect("code").to_owned();
    assert_eq!(
        w.l.state
            .listing_by_code(&listing_code)
            .expect("listing")
            .status,
        ListingStatus::Active
    );
    assert_eq!(w.l.state.active_listings().count(), 1);

    let vw = w.viewed(listing, &agent);
    assert_eq!(
        w.l.state.viewing(&vw).expect("viewing").status,
        ViewingStatus::Completed
    );
    assert_eq!(w.l.state.viewings_of_listing(listing).count(), 1);
    w.l.ok(
        &buyer,
        "viewing.rate",
        &vw,
        json!({ "stars": 5, "comment": "讲解细致" }),
    );
    let ranked = w.l.state.agents_by_rating(None);
    assert_eq!(ranked[0].agent, agent);
    assert_eq!(ranked[0].score_x100, 318);

    w.l.ok(
        &buyer,
        "loan.request",
        "precheck/LP-1",
        json!({
            "viewing": vw, "bank": bank, "amount_fen": 90_000_000, "term_months": 240,
        }),
    );
    let until = w.l.now_ms + 90 * DAY;
    w.l.ok(
        &bank,
        "loan.assess",
        "precheck/LP-1",
        json!({
            "result": "approved", "amount_fen": 80_000_000, "valid_until_ms": until, "remarks": "",
        }),
    );
    assert!(
        w.l.state
            .precheck("precheck/LP-1")
            .expect("precheck")
            .assessment
            .is_some()
    );

    let ct = w.draft(listing, &agent);
    w.sign_all(&ct, &[buyer.clone(), seller.clone(), agent.clone()]);
    assert_eq!(
        w.l.state.contract(&ct).expect("contract").status,
        ContractStatus::Signed
    );
    let e = w.l.ok(HOUSING, "contract.file", &ct, json!({}));
    let filing = e.derived["filing_code"]
        .as_str()
        .expect("filing code")
        .to_owned();
    assert!(filing.starts_with("FC-"));
    let c =
        w.l.state
            .contract_by_filing_code(&filing)
            .expect("filed contract");
    assert_eq!(c.status, ContractStatus::Filed);
    assert_eq!(
        w.l.state.listing(listing).expect("listing").status,
        ListingStatus::Closed
    );
    assert_eq!(
        w.l.state
            .verification("verification/PV-1")
            .expect("v")
            .status,
        VerificationStatus::Closed
    );
    assert_eq!(
        w.l.state.entrustment(&en).expect("en").status,
        EntrustmentStatus::Completed
    );
    assert_eq!(w.l.state.contracts_of_party(&buyer).count(), 1);

    // Transfer registration: the buyer becomes the owner and may sell in turn.
    let owners = json!([{ "name_commitment": w.l.state.party(&buyer).unwrap().name_commitment,
                          "id_commitment": w.l.state.party(&buyer).unwrap().id_commitment, "share_percent": 100 }]);
    let property = w.property.clone();
    w.l.ok(
        REGISTRY,
        "property.transfer",
        &property,
        json!({ "owners": owners, "contract": ct }),
    );
    let cert = w.l.certificate(&property);
    refused(
        &mut w.l,
        &seller,
        "property.verify",
        "verification/PV-2",
        json!({ "certificate_no": cert }),
        "verification.not_owner",
    );
    w.l.ok(
        &buyer,
        "property.verify",
        "verification/PV-2",
        json!({ "certificate_no": cert }),
    );
    assert_audit_clean(&w.l);
}

#[test]
fn a_self_listed_deal() {
    let mut w = World::new();
    let (seller, buyer) = (w.seller.clone(), w.buyer.clone());
    let listing = w.self_list();
    let l = w.l.state.listing(&listing).expect("listing");
    assert!(l.agent.is_none() && l.status == ListingStatus::Active);
    let vw = w.viewed(&listing, &seller);
    refused(
        &mut w.l,
        &buyer,
        "viewing.rate",
        &vw,
        json!({ "stars": 4, "comment": "" }),
        "viewing.no_agent",
    );
    // The buyer drafts on a self-listing; the seller confirms and both sign.
    let ct = w.draft(&listing, &buyer);
    assert_eq!(
        w.l.state
            .contract(&ct)
            .expect("contract")
            .required_roles()
            .len(),
        2
    );
    w.sign_all(&ct, &[seller.clone(), buyer.clone()]);
    w.l.ok(HOUSING, "contract.file", &ct, json!({}));
    assert_eq!(
        w.l.state.listing(&listing).expect("listing").status,
        ListingStatus::Closed
    );
    assert_audit_clean(&w.l);
}

#[test]
fn review_mode_edits_are_approved_or_rejected_by_the_seller() {
    let mut w = World::new();
    let (seller, agent) = (w.seller.clone(), w.agent.clone());
    let en = w.entrust(true);
    let payload = w.l.publish_payload(Some(&en), "verification/PV-1", PRICE);
    let e = w.l.ok(&agent, "listing.publish", "listing/LS-1", payload);
    assert_eq!(e.kind, "ListingPublicationProposed");
    let publication = e.seq;
    let listing = "listing/LS-1";
    assert_eq!(
        w.l.state.listing(listing).expect("l").status,
        ListingStatus::PendingReview
    );
    assert_eq!(
        w.l.state.active_listings().count(),
        0,
        "nothing shows before approval"
    );
    refused(
        &mut w.l,
        &agent,
        "listing.change_price",
        listing,
        json!({ "price_fen": PRICE + 1 }),
        "listing.proposal_pending",
    );
    refused(
        &mut w.l,
        &seller,
        "listing.approve",
        listing,
        json!({ "proposal_seq": publication + 1 }),
        "listing.no_such_proposal",
    );
    w.l.ok(
        &seller,
        "listing.approve",
        listing,
        json!({ "proposal_seq": publication }),
    );
    assert_eq!(w.l.state.active_listings().count(), 1);

    // A price proposal shows only when approved; a rejected one never.
    let e = w.l.ok(
        &agent,
        "listing.change_price",
        listing,
        json!({ "price_fen": 145_000_000 }),
    );
    assert_eq!(e.kind, "ListingChangeProposed");
    assert_eq!(w.l.state.listing(listing).expect("l").price_fen, PRICE);
    w.l.ok(
        &seller,
        "listing.reject",
        listing,
        json!({ "proposal_seq": e.seq }),
    );
    assert_eq!(w.l.state.listing(listing).expect("l").price_fen, PRICE);
    refused(
        &mut w.l,
        &agent,
        "listing.change_price",
        listing,
        json!({ "price_fen": FLOOR - 1 }),
        "listing.below_floor_price",
    );

    let photos = json!([hash("new-1"), hash("new-2"), hash("new-3")]);
    let e = w.l.ok(
        &agent,
        "listing.change_photos",
        listing,
        json!({ "photos": photos }),
    );
    assert_eq!(e.kind, "ListingChangeProposed");
    assert_eq!(w.l.state.listing(listing).expect("l").photos.len(), 2);
    w.l.ok(
        &seller,
        "listing.approve",
        listing,
        json!({ "proposal_seq": e.seq }),
    );
    assert_eq!(w.l.state.listing(listing).expect("l").photos.len(), 3);

    // The seller's own change shows at once, even below the agent's floor.
    let e = w.l.ok(
        &seller,
        "listing.change_price",
        listing,
        json!({ "price_fen": 130_000_000 }),
    );
    assert_eq!(e.kind, "ListingPriceChanged");
    assert_eq!(
        w.l.state.listing(listing).expect("l").price_fen,
        130_000_000
    );
    assert_audit_clean(&w.l);
}

#[test]
fn a_rejected_first_publication_withdraws_the_listing() {
    let mut w = World::new();
    let (seller, agent) = (w.seller.clone(), w.agent.clone());
    let en = w.entrust(true);
    let payload = w.l.publish_payload(Some(&en), "verification/PV-1", PRICE);
    let seq =
        w.l.ok(&agent, "listing.publish", "listing/LS-1", payload.clone())
            .seq;
    w.l.ok(
        &seller,
        "listing.reject",
        "listing/LS-1",
        json!({ "proposal_seq": seq }),
    );
    assert_eq!(
        w.l.state.listing("listing/LS-1").expect("l").status,
        ListingStatus::Withdrawn
    );
    // The agent may publish again, on a new listing.
    w.l.ok(&agent, "listing.publish", "listing/LS-2", payload);
    assert_audit_clean(&w.l);
}

#[test]
fn e_sign_failure_moves_offline_then_an_office_verifies_and_housing_files() {
    let mut w = World::new();
    let (buyer, agent, office) = (w.buyer.clone(), w.agent.clone(), w.office.clone());
    let listing = w.publish();
    let ct = w.draft(&listing, &agent);
    refused(
        &mut w.l,
        HOUSING,
        "contract.file",
        &ct,
        json!({}),
        "contract.status",
    );
    w.l.ok(
        &buyer,
        "contract.move_offline",
        &ct,
        json!({ "reason": "电子签名失败" }),
    );
    let doc = w.l.state.contract(&ct).unwrap().document_hash.clone();
    refused(
        &mut w.l,
        &buyer,
        "contract.sign",
        &ct,
        json!({ "document_hash": doc }),
        "contract.status",
    );
    refused(
        &mut w.l,
        HOUSING,
        "contract.file",
        &ct,
        json!({}),
        "contract.status",
    );
    refused(
        &mut w.l,
        &buyer,
        "contract.verify_offline",
        &ct,
        json!({ "scan_hash": hash("scan") }),
        "auth.role_not_allowed",
    );
    w.l.ok(
        &office,
        "contract.verify_offline",
        &ct,
        json!({ "scan_hash": hash("scan") }),
    );
    assert_eq!(
        w.l.state.contract(&ct).unwrap().status,
        ContractStatus::OfflineVerified
    );
    let e = w.l.ok(HOUSING, "contract.file", &ct, json!({}));
    assert!(e.derived["filing_code"].is_string());
    // A filing can be cancelled by the housing authority, with a reason.
    refused(
        &mut w.l,
        HOUSING,
        "contract.cancel_filing",
        &ct,
        json!({ "reason": "" }),
        "payload.bad_field",
    );
    w.l.ok(
        HOUSING,
        "contract.cancel_filing",
        &ct,
        json!({ "reason": "双方协商解除" }),
    );
    assert_eq!(
        w.l.state.contract(&ct).unwrap().status,
        ContractStatus::FilingCancelled
    );
    refused(
        &mut w.l,
        HOUSING,
        "contract.cancel_filing",
        &ct,
        json!({ "reason": "again" }),
        "contract.status",
    );
    assert_audit_clean(&w.l);
}

#[test]
fn a_proxy_acts_within_scope_and_not_outside_after_revocation_or_expiry() {
    let mut w = World::new();
    let (seller, office) = (w.seller.clone(), w.office.clone());
    let carol = w.l.party("carol");
    let property = w.property.clone();
    let other = w.l.property("other", &[&seller]);
    let cert = w.l.certificate(&property);
    let until = w.l.now_ms + 30 * DAY;
    w.l.ok(
        &carol,
        "proxy.file",
        "proxy/PX-1",
        json!({
            "principal": seller, "property": property, "scope": ["verify_property", "list"],
            "expires_at_ms": until, "document_hashes": [hash("power of attorney")],
        }),
    );
    let via = json!({ "certificate_no": cert, "via_proxy": "proxy/PX-1" });
    refused(
        &mut w.l,
        &carol,
        "property.verify",
        "verification/PV-1",
        via.clone(),
        "proxy.not_verified",
    );
    let wrong = commit(
        "eve",
        deedlog_domain::reference::PersonalField::IdNumber,
        "eve",
    );
    refused(
        &mut w.l,
        &office,
        "proxy.verify",
        "proxy/PX-1",
        json!({ "principal_id_commitment": wrong }),
        "proxy.principal_mismatch",
    );
    let right =
        w.l.state
            .party(&seller)
            .unwrap()
            .id_commitment
            .clone()
            .unwrap();
    w.l.ok(
        &office,
        "proxy.verify",
        "proxy/PX-1",
        json!({ "principal_id_commitment": right }),
    );
    // Within scope: the event names both the proxy (signer) and the principal.
    let e = w.l.ok(&carol, "property.verify", "verification/PV-1", via);
    assert_eq!(e.signed.actor, carol);
    assert_eq!(e.derived["on_behalf_of"], json!(seller));
    assert_eq!(e.derived["proxy"], json!("proxy/PX-1"));
    assert_eq!(
        w.l.state.verification("verification/PV-1").unwrap().seller,
        seller
    );
    let mut publish = w.l.publish_payload(None, "verification/PV-1", PRICE);
    publish["via_proxy"] = json!("proxy/PX-1");
    w.l.ok(&carol, "listing.publish", "listing/LS-1", publish);
    assert_eq!(w.l.state.listing("listing/LS-1").unwrap().seller, seller);
    // Outside scope: another action, another property, a step that takes no proxy.
    let agent = w.agent.clone();
    let en = json!({ "verification": "verification/PV-1", "agent": agent, "floor_price_fen": FLOOR,
                     "expires_at_ms": until, "review_agent_edits": false, "via_proxy": "proxy/PX-1" });
    refused(
        &mut w.l,
        &carol,
        "entrustment.sale",
        "entrustment/EN-1",
        en,
        "proxy.out_of_scope",
    );
    let other_cert = w.l.certificate(&other);
    refused(
        &mut w.l,
        &carol,
        "property.verify",
        "verification/PV-2",
        json!({ "certificate_no": other_cert, "via_proxy": "proxy/PX-1" }),
        "proxy.out_of_scope",
    );
    refused(
        &mut w.l,
        &w.buyer.clone(),
        "listing.change_price",
        "listing/LS-1",
        json!({ "price_fen": PRICE - 1, "via_proxy": "proxy/PX-1" }),
        "proxy.not_proxy",
    );
    // After revocation.
    w.l.ok(
        &seller,
        "proxy.revoke",
        "proxy/PX-1",
        json!({ "reason": "自行办理" }),
    );
    refused(
        &mut w.l,
        &carol,
        "listing.change_price",
        "listing/LS-1",
        json!({ "price_fen": PRICE - 1, "via_proxy": "proxy/PX-1" }),
        "proxy.revoked",
    );
    // After expiry.
    let until = w.l.now_ms + 2 * DAY;
    w.l.ok(
        &carol,
        "proxy.file",
        "proxy/PX-2",
        json!({
            "principal": seller, "property": property, "scope": ["list"],
            "expires_at_ms": until, "document_hashes": [hash("poa 2")],
        }),
    );
    w.l.ok(
        &office,
        "proxy.verify",
        "proxy/PX-2",
        json!({ "principal_id_commitment": right }),
    );
    w.l.ok(
        &carol,
        "listing.change_price",
        "listing/LS-1",
        json!({ "price_fen": PRICE - 2, "via_proxy": "proxy/PX-2" }),
    );
    w.l.advance(3 * DAY);
    refused(
        &mut w.l,
        &carol,
        "listing.change_price",
        "listing/LS-1",
        json!({ "price_fen": PRICE - 3, "via_proxy": "proxy/PX-2" }),
        "proxy.expired",
    );
    assert_audit_clean(&w.l);
}

#[test]
fn a_seized_property_cannot_be_verified_listed_or_filed() {
    let mut w = World::new();
    let (seller, agent) = (w.seller.clone(), w.agent.clone());
    let property = w.property.clone();
    let cert = w.l.certificate(&property);
    let seizure = json!({ "court": "昆明市中级人民法院", "case_no": "(2025)云01执1号" });
    w.l.ok(REGISTRY, "property.seize", &property, seizure.clone());
    refused(
        &mut w.l,
        REGISTRY,
        "property.seize",
        &property,
        seizure,
        "property.seized",
    );
    refused(
        &mut w.l,
        &seller,
        "property.verify",
        "verification/PV-1",
        json!({ "certificate_no": cert }),
        "property.seized",
    );
    w.l.ok(
        REGISTRY,
        "property.release_seizure",
        &property,
        json!({ "reason": "解除查封" }),
    );
    let en = w.entrust(false);
    // Seized after verification: no listing, no contract, no filing.
    w.l.ok(
        REGISTRY,
        "property.seize",
        &property,
        json!({ "court": "五华区人民法院", "case_no": "(2025)云0102执2号" }),
    );
    let payload = w.l.publish_payload(Some(&en), "verification/PV-1", PRICE);
    refused(
        &mut w.l,
        &agent,
        "listing.publish",
        "listing/LS-1",
        payload.clone(),
        "property.seized",
    );
    w.l.ok(
        REGISTRY,
        "property.release_seizure",
        &property,
        json!({ "reason": "解除查封" }),
    );
    w.l.ok(&agent, "listing.publish", "listing/LS-1", payload);
    let ct = w.draft("listing/LS-1", &agent);
    let (buyer, seller) = (w.buyer.clone(), w.seller.clone());
    w.sign_all(&ct, &[buyer, seller, agent]);
    w.l.ok(
        REGISTRY,
        "property.seize",
        &property,
        json!({ "court": "五华区人民法院", "case_no": "(2025)云0102执3号" }),
    );
    refused(
        &mut w.l,
        HOUSING,
        "contract.file",
        &ct,
        json!({}),
        "property.seized",
    );
    assert_audit_clean(&w.l);
}

#[test]
fn a_second_live_deal_on_one_property_is_refused() {
    let mut w = World::new();
    let (seller, agent, buyer) = (w.seller.clone(), w.agent.clone(), w.buyer.clone());
    let listing = w.publish();
    let cert = w.l.certificate(&w.property.clone());
    refused(
        &mut w.l,
        &seller,
        "property.verify",
        "verification/PV-2",
        json!({ "certificate_no": cert }),
        "property.in_live_deal",
    );
    let payload = w.l.publish_payload(None, "verification/PV-1", PRICE);
    refused(
        &mut w.l,
        &seller,
        "listing.publish",
        "listing/LS-2",
        payload,
        "listing.entrusted",
    );
    let until = w.l.now_ms + 10 * DAY;
    let other = w.other_agent.clone();
    refused(
        &mut w.l,
        &seller,
        "entrustment.sale",
        "entrustment/EN-2",
        json!({
        "verification": "verification/PV-1", "agent": other, "floor_price_fen": FLOOR,
        "expires_at_ms": until, "review_agent_edits": false }),
        "entrustment.exists",
    );
    let ct = w.draft(&listing, &agent);
    let terms = w.l.terms(&listing, &buyer, PRICE);
    refused(
        &mut w.l,
        &agent,
        "contract.draft",
        "contract/CT-2",
        json!({
        "listing": listing, "buyer": buyer, "terms": terms, "document_hash": hash("v2") }),
        "deal.contract_live",
    );
    refused(
        &mut w.l,
        &seller,
        "listing.withdraw",
        &listing,
        json!({ "reason": "不卖了" }),
        "deal.contract_live",
    );
    refused(
        &mut w.l,
        &seller,
        "verification.cancel",
        "verification/PV-1",
        json!({ "reason": "不卖了" }),
        "verification.in_use",
    );
    // Cancelling the contract frees the listing; withdrawing and revoking free the property.
    w.l.ok(
        &buyer,
        "contract.cancel",
        &ct,
        json!({ "reason": "买方放弃" }),
    );
    w.l.ok(
        &seller,
        "listing.withdraw",
        &listing,
        json!({ "reason": "不卖了" }),
    );
    w.l.ok(
        &seller,
        "entrustment.revoke",
        "entrustment/EN-1",
        json!({ "reason": "不卖了" }),
    );
    w.l.ok(
        &seller,
        "verification.cancel",
        "verification/PV-1",
        json!({ "reason": "不卖了" }),
    );
    w.l.ok(
        &seller,
        "property.verify",
        "verification/PV-2",
        json!({ "certificate_no": cert }),
    );
    assert_audit_clean(&w.l);
}

#[test]
fn an_expired_entrustment_stops_the_agent() {
    let mut w = World::new();
    let (agent, seller) = (w.agent.clone(), w.seller.clone());
    let v = w.verify();
    let en = w.entrust_on(&v, false, 10);
    let payload = w.l.publish_payload(Some(&en), &v, PRICE);
    w.l.ok(&agent, "listing.publish", "listing/LS-1", payload);
    refused(
        &mut w.l,
        PLATFORM,
        "entrustment.expire",
        &en,
        json!({}),
        "entrustment.not_expired",
    );
    w.l.advance(11 * DAY);
    refused(
        &mut w.l,
        &agent,
        "listing.change_price",
        "listing/LS-1",
        json!({ "price_fen": PRICE + 1 }),
        "entrustment.expired",
    );
    let buyer = w.buyer.clone();
    let terms = w.l.terms("listing/LS-1", &buyer, PRICE);
    refused(
        &mut w.l,
        &agent,
        "contract.draft",
        "contract/CT-1",
        json!({
        "listing": "listing/LS-1", "buyer": buyer, "terms": terms, "document_hash": hash("v1") }),
        "entrustment.expired",
    );
    w.l.ok(PLATFORM, "entrustment.expire", &en, json!({}));
    assert_eq!(
        w.l.state.listing("listing/LS-1").unwrap().status,
        ListingStatus::Withdrawn
    );
    refused(
        &mut w.l,
        &agent,
        "listing.withdraw",
        "listing/LS-1",
        json!({ "reason": "x" }),
        "entrustment.expired",
    );
    // The seller may now self-list.
    let payload = w.l.publish_payload(None, &v, PRICE);
    w.l.ok(&seller, "listing.publish", "listing/LS-2", payload);
    assert_audit_clean(&w.l);
}

#[test]
fn an_amended_contract_needs_fresh_confirmations_and_signatures() {
    let mut w = World::new();
    let (buyer, seller, agent) = (w.buyer.clone(), w.seller.clone(), w.agent.clone());
    let listing = w.publish();
    let ct = w.draft(&listing, &agent);
    let v1 = hash("contract v1");
    for who in [&buyer, &seller, &agent] {
        w.l.ok(who, "contract.confirm", &ct, json!({ "document_hash": v1 }));
    }
    w.l.ok(&buyer, "contract.sign", &ct, json!({ "document_hash": v1 }));
    refused(
        &mut w.l,
        &buyer,
        "contract.sign",
        &ct,
        json!({ "document_hash": v1 }),
        "contract.already_signed",
    );
    let terms = w.l.terms(&listing, &buyer, PRICE - 1_000_000);
    refused(
        &mut w.l,
        &agent,
        "contract.amend",
        &ct,
        json!({ "terms": terms, "document_hash": v1 }),
        "listing.unchanged",
    );
    let v2 = hash("contract v2");
    w.l.ok(
        &agent,
        "contract.amend",
        &ct,
        json!({ "terms": terms, "document_hash": v2 }),
    );
    let c = w.l.state.contract(&ct).unwrap();
    assert!(c.confirmed.is_empty() && c.signatures.is_empty() && c.amendments == 1);
    refused(
        &mut w.l,
        &seller,
        "contract.sign",
        &ct,
        json!({ "document_hash": v1 }),
        "contract.document_mismatch",
    );
    refused(
        &mut w.l,
        &seller,
        "contract.sign",
        &ct,
        json!({ "document_hash": v2 }),
        "contract.not_confirmed",
    );
    w.sign_all(&ct, &[buyer, seller, agent]);
    assert_eq!(
        w.l.state.contract(&ct).unwrap().status,
        ContractStatus::Signed
    );
    assert_audit_clean(&w.l);
}

#[test]
fn co_owners_consent_before_the_deal_proceeds() {
    let mut w = World::new();
    let (seller, stranger) = (w.seller.clone(), w.stranger.clone());
    let dave = w.l.party("dave");
    let shared = w.l.property("shared", &[&seller, &dave]);
    let cert = w.l.certificate(&shared);
    refused(
        &mut w.l,
        &stranger,
        "property.verify",
        "verification/PV-1",
        json!({ "certificate_no": cert }),
        "verification.not_owner",
    );
    let e = w.l.ok(
        &seller,
        "property.verify",
        "verification/PV-1",
        json!({ "certificate_no": cert }),
    );
    assert_eq!(e.kind, "PropertyVerificationPending");
    let agent = w.agent.clone();
    let until = w.l.now_ms + 30 * DAY;
    let sale = json!({ "verification": "verification/PV-1", "agent": agent, "floor_price_fen": FLOOR,
                       "expires_at_ms": until, "review_agent_edits": false });
    refused(
        &mut w.l,
        &seller,
        "entrustment.sale",
        "entrustment/EN-1",
        sale.clone(),
        "verification.status",
    );
    refused(
        &mut w.l,
        &seller,
        "verification.consent",
        "verification/PV-1",
        json!({}),
        "verification.consent_not_needed",
    );
    refused(
        &mut w.l,
        &stranger,
        "verification.consent",
        "verification/PV-1",
        json!({}),
        "verification.consent_not_needed",
    );
    w.l.ok(
        &dave,
        "verification.consent",
        "verification/PV-1",
        json!({}),
    );
    assert_eq!(
        w.l.state.verification("verification/PV-1").unwrap().status,
        VerificationStatus::Verified
    );
    w.l.ok(&seller, "entrustment.sale", "entrustment/EN-1", sale);
    assert_audit_clean(&w.l);
}

#[test]
fn keys_rotate_revoke_and_bind() {
    let mut w = World::new();
    let seller = w.seller.clone();
    let old = w.l.secret_of(&seller);
    let new = deedlog_core::SecretKey::from_seed(&[42; 32]);
    let proof = deedlog_domain::keys::prove_possession(&new, &seller);
    let bad_proof = deedlog_domain::keys::prove_possession(&new, "party/PA-bob");
    refused(
        &mut w.l,
        &seller,
        "key.rotate",
        &seller,
        json!({ "new_key": new.public().to_base64(), "proof": bad_proof }),
        "key.bad_proof",
    );
    let buyer_key = w.l.secret_of(&w.buyer.clone()).public().to_base64();
    let buyer_proof =
        deedlog_domain::keys::prove_possession(&w.l.secret_of(&w.buyer.clone()), &seller);
    refused(
        &mut w.l,
        &seller,
        "key.rotate",
        &seller,
        json!({ "new_key": buyer_key, "proof": buyer_proof }),
        "key.in_use",
    );
    refused(
        &mut w.l,
        &seller,
        "key.rotate",
        "party/PA-bob",
        json!({ "new_key": new.public().to_base64(), "proof": proof }),
        "auth.role_not_allowed",
    );
    w.l.ok(
        &seller,
        "key.rotate",
        &seller,
        json!({ "new_key": new.public().to_base64(), "proof": proof }),
    );
    // The old key no longer authenticates.
    let stale = w.l.sign_with(
        &old,
        &seller,
        "verification.cancel",
        "verification/PV-9",
        json!({ "reason": "x" }),
    );
    assert_eq!(
        w.l.submit_signed(stale).unwrap_err().code,
        "auth.key_revoked"
    );
    w.l.set_secret(&seller, new.clone());
    let cert = w.l.certificate(&w.property.clone());
    w.l.ok(
        &seller,
        "property.verify",
        "verification/PV-1",
        json!({ "certificate_no": cert }),
    );
    // Revoked by the identity authority; bound again after an in-person check.
    refused(
        &mut w.l,
        &w.buyer.clone(),
        "key.revoke",
        &seller,
        json!({ "key": new.public().to_base64(), "reason": "x" }),
        "auth.role_not_allowed",
    );
    w.l.ok(
        IDENTITY,
        "key.revoke",
        &seller,
        json!({ "key": new.public().to_base64(), "reason": "手机丢失" }),
    );
    refused(
        &mut w.l,
        &seller,
        "verification.cancel",
        "verification/PV-1",
        json!({ "reason": "x" }),
        "auth.key_revoked",
    );
    let newer = deedlog_core::SecretKey::from_seed(&[43; 32]);
    let proof = deedlog_domain::keys::prove_possession(&newer, &seller);
    refused(
        &mut w.l,
        HOUSING,
        "key.bind",
        &seller,
        json!({ "key": newer.public().to_base64(), "proof": proof }),
        "auth.role_not_allowed",
    );
    w.l.ok(
        IDENTITY,
        "key.bind",
        &seller,
        json!({ "key": newer.public().to_base64(), "proof": proof }),
    );
    w.l.set_secret(&seller, newer);
    w.l.ok(
        &seller,
        "verification.cancel",
        "verification/PV-1",
        json!({ "reason": "暂不出售" }),
    );
    // An impostor's key for an existing actor.
    let impostor = deedlog_core::SecretKey::from_seed(&[44; 32]);
    let forged = w.l.sign_with(
        &impostor,
        &seller,
        "verification.cancel",
        "verification/PV-1",
        json!({ "reason": "x" }),
    );
    assert_eq!(
        w.l.submit_signed(forged).unwrap_err().code,
        "auth.key_mismatch"
    );
    let nobody = w.l.sign_with(
        &impostor,
        "party/PA-nobody",
        "verification.cancel",
        "verification/PV-1",
        json!({ "reason": "x" }),
    );
    assert_eq!(
        w.l.submit_signed(nobody).unwrap_err().code,
        "auth.unknown_actor"
    );
    assert_audit_clean(&w.l);
}

#[test]
fn genesis_comes_first_and_once() {
    let mut l = Ledger::empty();
    let r = l.rejects(
        "party/PA-x",
        "party.register",
        "party/PA-x",
        json!({ "phone_commitment": hash("p") }),
    );
    assert_eq!(r.code, "platform.no_genesis");
    let mut bad = l.genesis_payload();
    bad["authorities"].as_object_mut().unwrap().remove(IDENTITY);
    assert_eq!(
        l.rejects(PLATFORM, "platform.genesis", "platform/genesis", bad)
            .code,
        "platform.genesis_incomplete"
    );
    let other = deedlog_domain::testkit::secret("someone else");
    let g = l.genesis_payload();
    let forged = l.sign_with(
        &other,
        PLATFORM,
        "platform.genesis",
        "platform/genesis",
        g.clone(),
    );
    assert_eq!(
        l.submit_signed(forged).unwrap_err().code,
        "platform.genesis_incomplete"
    );
    l.ok(PLATFORM, "platform.genesis", "platform/genesis", g.clone());
    assert_eq!(
        l.rejects(PLATFORM, "platform.genesis", "platform/genesis", g)
            .code,
        "platform.genesis_not_first"
    );
    assert_audit_clean(&l);
}

#[test]
fn erasure_leaves_a_receipt_and_the_log_verifies() {
    let mut w = World::new();
    let seller = w.seller.clone();
    let p = w.l.state.party(&seller).unwrap().clone();
    let commitments = json!([p.phone_commitment, p.name_commitment, p.id_commitment]);
    refused(
        &mut w.l,
        &seller,
        "erasure.record",
        "erasure/ER-1",
        json!({ "subject": seller, "commitments": commitments, "receipt_hash": hash("r") }),
        "auth.role_not_allowed",
    );
    refused(
        &mut w.l,
        PLATFORM,
        "erasure.record",
        "erasure/ER-1",
        json!({ "subject": seller, "commitments": [hash("not hers")], "receipt_hash": hash("r") }),
        "erasure.unknown_commitment",
    );
    w.l.ok(
        PLATFORM,
        "erasure.record",
        "erasure/ER-1",
        json!({ "subject": seller, "commitments": commitments, "receipt_hash": hash("r") }),
    );
    assert!(w.l.state.party(&seller).unwrap().erased);
    refused(
        &mut w.l,
        PLATFORM,
        "erasure.record",
        "erasure/ER-2",
        json!({ "subject": seller, "commitments": commitments, "receipt_hash": hash("r") }),
        "erasure.already_erased",
    );
    let cert = w.l.certificate(&w.property.clone());
    refused(
        &mut w.l,
        &seller,
        "property.verify",
        "verification/PV-1",
        json!({ "certificate_no": cert }),
        "auth.key_revoked",
    );
    assert_audit_clean(&w.l);
}

#[test]
fn suspended_agents_and_agencies_stop_acting_and_ratings_sort_agents() {
    let mut w = World::new();
    let (agent, agency, buyer) = (w.agent.clone(), w.agency.clone(), w.buyer.clone());
    let listing = w.publish();
    w.l.ok(
        HOUSING,
        "agent.suspend",
        &agent,
        json!({ "reason": "违规" }),
    );
    refused(
        &mut w.l,
        &agent,
        "listing.change_price",
        &listing,
        json!({ "price_fen": PRICE + 1 }),
        "agent.suspended",
    );
    assert!(
        w.l.state
            .agents_by_rating(None)
            .iter()
            .all(|a| a.agent != agent)
    );
    w.l.ok(HOUSING, "agent.reinstate", &agent, json!({}));
    w.l.ok(
        HOUSING,
        "agency.suspend",
        &agency,
        json!({ "reason": "违规" }),
    );
    refused(
        &mut w.l,
        &agent,
        "listing.change_price",
        &listing,
        json!({ "price_fen": PRICE + 1 }),
        "agency.suspended",
    );
    assert!(w.l.state.agents_by_rating(Some(&agency)).is_empty());
    w.l.ok(HOUSING, "agency.reinstate", &agency, json!({}));
    // One 5-star rating does not outrank an agent with many good ones.
    let vw = w.viewed(&listing, &agent);
    w.l.ok(
        &buyer,
        "viewing.rate",
        &vw,
        json!({ "stars": 5, "comment": "好" }),
    );
    refused(
        &mut w.l,
        &buyer,
        "viewing.rate",
        &vw,
        json!({ "stars": 5, "comment": "好" }),
        "viewing.already_rated",
    );
    let ranked = w.l.state.agents_by_rating(Some(&agency));
    assert_eq!(ranked.len(), 2);
    assert_eq!(ranked[0].agent, agent);
    assert!(ranked[0].score_x100 > ranked[1].score_x100);
    assert_audit_clean(&w.l);
}

/// Given no voucher, a voucher for another party or key, a stale one or one signed by another
/// key, when a newcomer registers, then each is refused with its own code and nothing is
/// appended; the right voucher is accepted.
#[test]
fn registration_needs_the_identity_authoritys_phone_voucher() {
    let mut w = World::new();
    let me = "party/PA-me";
    let phone = hash("my phone");
    let no_voucher = json!({ "phone_commitment": phone });
    refused(
        &mut w.l,
        me,
        "party.register",
        me,
        no_voucher,
        "voucher.missing",
    );
    // A voucher issued to someone else's registration, replayed for mine.
    let theirs = w.l.register_payload("party/PA-them", &phone);
    refused(
        &mut w.l,
        me,
        "party.register",
        me,
        json!({ "phone_commitment": phone, "voucher": theirs["voucher"] }),
        "voucher.wrong_party",
    );
    // A voucher for my party id but another key (the attacker's client signs with its own).
    let mut other_key = w.l.register_payload(me, &phone);
    let stolen = deedlog_domain::testkit::secret("attacker key");
    let signed =
        w.l.sign_with(&stolen, me, "party.register", me, other_key.clone());
    assert_eq!(
        w.l.submit_signed(signed).unwrap_err().code,
        "voucher.wrong_key"
    );
    // The voucher's party and key edited to mine: the signature no longer verifies.
    other_key["voucher"]["key"] = json!(stolen.public().to_base64());
    let signed = w.l.sign_with(&stolen, me, "party.register", me, other_key);
    assert_eq!(
        w.l.submit_signed(signed).unwrap_err().code,
        "voucher.bad_signature"
    );
    // A voucher for another phone commitment, moved onto mine.
    let for_other_phone = w.l.register_payload(me, &hash("another phone"));
    refused(
        &mut w.l,
        me,
        "party.register",
        me,
        json!({ "phone_commitment": phone, "voucher": for_other_phone["voucher"] }),
        "voucher.bad_signature",
    );
    // Signed by someone other than the identity authority (here: the housing authority).
    let housing = w.l.secret_of(HOUSING);
    let forged = deedlog_domain::identity::sign_phone_voucher(
        &housing,
        me,
        &w.l.secret_of(me).public().to_base64(),
        &phone,
        w.l.now_ms,
    );
    refused(
        &mut w.l,
        me,
        "party.register",
        me,
        json!({ "phone_commitment": phone, "voucher": forged }),
        "voucher.bad_signature",
    );
    // Stale: issued 11 minutes before the entry; and too far ahead.
    let old = w.l.register_payload(me, &phone);
    w.l.advance(11 * 60 * 1000);
    refused(&mut w.l, me, "party.register", me, old, "voucher.stale");
    w.l.advance(2 * 60 * 1000);
    let ahead = w.l.register_payload(me, &phone);
    w.l.advance(-2 * 60 * 1000);
    refused(&mut w.l, me, "party.register", me, ahead, "voucher.stale");
    let fresh = w.l.register_payload(me, &phone);
    let e = w.l.ok(me, "party.register", me, fresh);
    assert_eq!(e.kind, "PartyRegistered");
    // A victim's number, already registered, cannot be registered again even with a voucher.
    let victim_phone = w.l.state.party(&w.buyer).unwrap().phone_commitment.clone();
    let squat = w.l.register_payload("party/PA-squat", &victim_phone);
    refused(
        &mut w.l,
        "party/PA-squat",
        "party.register",
        "party/PA-squat",
        squat,
        "party.phone_taken",
    );
    assert_audit_clean(&w.l);
}

/// Given a registry owner's commitments (which anyone who knows the owner's ID number could
/// ask the vault to produce), when anyone but the identity authority or an office signs
/// `party.attest_identity`, or either signs the other's method, then it is refused.
#[test]
fn only_the_identity_authority_or_an_office_attests_a_real_name() {
    let mut w = World::new();
    let attacker = w.l.unverified_party("mallory");
    let owner = w.l.state.party(&w.seller).unwrap().clone();
    let forged = |method: &str| {
        json!({ "name_commitment": owner.name_commitment, "id_commitment": hash("fresh id"),
        "method": method })
    };
    for signer in [
        attacker.clone(),
        w.buyer.clone(),
        w.agent.clone(),
        w.bank.clone(),
        HOUSING.to_owned(),
        REGISTRY.to_owned(),
        PLATFORM.to_owned(),
    ] {
        for method in ["online_face", "office"] {
            refused(
                &mut w.l,
                &signer,
                "party.attest_identity",
                &attacker,
                forged(method),
                "auth.role_not_allowed",
            );
        }
    }
    let office = w.office.clone();
    refused(
        &mut w.l,
        IDENTITY,
        "party.attest_identity",
        &attacker,
        forged("office"),
        "identity.method_not_allowed",
    );
    refused(
        &mut w.l,
        &office,
        "party.attest_identity",
        &attacker,
        forged("online_face"),
        "identity.method_not_allowed",
    );
    // An office with a key it does not hold on the log is refused too.
    let fake_office = deedlog_domain::testkit::secret("not the office's key");
    let signed = w.l.sign_with(
        &fake_office,
        &office,
        "party.attest_identity",
        &attacker,
        forged("office"),
    );
    assert_eq!(
        w.l.submit_signed(signed).unwrap_err().code,
        "auth.key_mismatch"
    );
    let e = w.l.ok(
        &office,
        "party.attest_identity",
        &attacker,
        forged("office"),
    );
    assert_eq!(e.kind, "PartyIdentityAttested");
    assert_audit_clean(&w.l);
}
