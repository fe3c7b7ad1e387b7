//! Listings (房源): publication by the entrusted agent or the seller, price and photo changes,
//! the seller's review of agent edits, withdrawal.

use serde_json::json;

use crate::decide::{
    Cmd, Ev, Handler, Out, check, need, not_found, reference, status, text, text_lines,
};
use crate::ids::{CodeTag, IdKind, derived_code};
use crate::payload::{ListingPhotos, ListingPrice, ListingPublish, ListingReview, WithReason};
use crate::rejection::{Rejection, codes as c};
use crate::state::{
    EntrustmentTerms, Listing, ListingStatus, Proposal, ProposalChange, VerificationStatus,
};
use crate::validate;
use crate::{ApplyError, State};

fn mismatch(field: &str) -> Rejection {
    Rejection::new(
        &c::REGISTRY_MISMATCH,
        format!("{field} differs from the registry"),
    )
    .with(json!({ "field": field }))
}

impl State {
    pub(crate) fn listing_of(&self, id: &str) -> Result<&Listing, Rejection> {
        self.listings
            .get(id)
            .ok_or_else(|| not_found(&c::LISTING_NOT_FOUND, id))
    }

    /// The floor price of a listing's entrustment (0 for a self-listing).
    fn floor_price(&self, entrustment: Option<&str>) -> u64 {
        entrustment
            .and_then(|id| self.entrustments.get(id))
            .map_or(0, |en| match en.terms {
                EntrustmentTerms::Sale {
                    floor_price_fen, ..
                } => floor_price_fen,
                EntrustmentTerms::Purchase { .. } => 0,
            })
    }

    pub(crate) fn decide_listing_publish(
        &self,
        c: &Cmd,
        p: &ListingPublish,
    ) -> Result<Out, Rejection> {
        check(validate::money_fen("price_fen", p.price_fen))?;
        check(validate::area_centi_m2("area_centi_m2", p.area_centi_m2))?;
        text("district", &p.district, 1, 20)?;
        text("community", &p.community, 1, 60)?;
        text("title", &p.title, 1, 60)?;
        text_lines("description", &p.description, 0, 2000)?;
        check(validate::photo_hashes("photos", &p.photos))?;
        let (verification, entrustment, acting, review) = match (&p.entrustment, &p.verification) {
            (Some(en_id), None) => {
                reference("entrustment", en_id, IdKind::Entrustment)?;
                if !c.is_agent() {
                    return Err(Rejection::new(
                        &c::NOT_ENTRUSTED,
                        "only the entrusted agent publishes with `entrustment`; sellers use `verification`",
                    ));
                }
                if p.via_proxy.is_some() {
                    return Err(Rejection::new(
                        &c::PROXY_NOT_ALLOWED,
                        "agents do not act through proxies",
                    ));
                }
                let en = self.entrustment_of(en_id)?;
                let EntrustmentTerms::Sale {
                    verification,
                    floor_price_fen,
                    review_agent_edits,
                } = &en.terms
                else {
                    return Err(status(
                        &c::ENTRUSTMENT_STATUS,
                        &en.id,
                        "a purchase entrustment",
                    ));
                };
                self.agent_entrusted(c, Some(en_id))?;
                if p.price_fen < *floor_price_fen {
                    return Err(Rejection::new(
                        &c::BELOW_FLOOR,
                        format!("{} is below the floor price {floor_price_fen}", p.price_fen),
                    ));
                }
                (
                    verification.clone(),
                    Some(en_id.clone()),
                    None,
                    *review_agent_edits,
                )
            }
            (None, Some(v_id)) => {
                reference("verification", v_id, IdKind::Verification)?;
                if c.is_agent() {
                    return Err(Rejection::new(
                        &c::NOT_ENTRUSTED,
                        "an agent publishes under an accepted entrustment",
                    ));
                }
                let acting = self.acting_party(c, p.via_proxy.as_deref())?;
                let v = self.verification_of(v_id)?;
                acting.check_property(&v.property)?;
                if acting.party != v.seller {
                    return Err(Rejection::new(
                        &c::NOT_SELLER,
                        format!("{} is not the seller of {}", acting.party, v.id),
                    ));
                }
                if let Some(en) = v
                    .sale_entrustment
                    .as_ref()
                    .and_then(|id| self.entrustments.get(id))
                    && en.live_at(c.now())
                {
                    return Err(Rejection::new(
                        &c::LISTING_ENTRUSTED,
                        format!("{} is entrusted to {}", v.id, en.agent),
                    ));
                }
                (v_id.clone(), None, Some(acting), false)
            }
            _ => {
                return Err(Rejection::new(
                    &c::BAD_FIELD,
                    "give exactly one of `entrustment` and `verification`",
                )
                .with(json!({ "field": "entrustment" })));
            }
        };
        let v = self.verification_of(&verification)?;
        if v.status != VerificationStatus::Verified {
            return Err(status(&c::VERIFICATION_STATUS, &v.id, v.status));
        }
        self.not_seized(&v.property)?;
        if let Some(l) = &v.live_listing {
            return Err(Rejection::new(
                &c::LISTING_EXISTS,
                format!("{} is already listed as {l}", v.id),
            ));
        }
        let prop = self.property_of(&v.property)?;
        let checks: [(&str, bool); 7] = [
            ("area_centi_m2", p.area_centi_m2 == prop.area_centi_m2),
            ("rooms", p.rooms == prop.rooms),
            ("halls", p.halls == prop.halls),
            ("bathrooms", p.bathrooms == prop.bathrooms),
            (
                "floor",
                p.floor == prop.floor && p.floors_total == prop.floors_total,
            ),
            ("district", p.district == prop.district),
            ("community", p.community == prop.community),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(mismatch(field));
        }
        let proposed = entrustment.is_some() && review;
        let mut out = Out::new(if proposed {
            "ListingPublicationProposed"
        } else {
            "ListingPublished"
        })
        .with(
            "listing_code",
            derived_code(CodeTag::Listing, c.seq(), c.stream()),
        )
        .with("verification", v.id.clone())
        .with("property", v.property.clone())
        .with("seller", v.seller.clone());
        if let Some(en) = &entrustment {
            out = out
                .with("agent", c.actor().to_owned())
                .with("entrustment", en.clone());
        }
        Ok(match acting {
            Some(a) => a.annotate(out),
            None => out,
        })
    }

    pub(crate) fn apply_listing_publish(
        &mut self,
        e: &Ev,
        p: &ListingPublish,
    ) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        let verification = e.derived_str("verification")?;
        let code = e.derived_str("listing_code")?;
        let proposed = e.kind() == "ListingPublicationProposed";
        let v = need(&mut self.verifications, &verification)?;
        v.live_listing = Some(id.clone());
        let (property, seller) = (v.property.clone(), v.seller.clone());
        let review = p
            .entrustment
            .as_ref()
            .and_then(|en| self.entrustments.get(en))
            .is_some_and(|en| {
                matches!(
                    en.terms,
                    EntrustmentTerms::Sale {
                        review_agent_edits: true,
                        ..
                    }
                )
            });
        self.listing_codes.insert(code.clone(), id.clone());
        self.listings.insert(
            id.clone(),
            Listing {
                id,
                code,
                verification,
                property,
                seller,
                entrustment: p.entrustment.clone(),
                agent: e.derived_opt("agent"),
                review,
                status: if proposed {
                    ListingStatus::PendingReview
                } else {
                    ListingStatus::Active
                },
                price_fen: p.price_fen,
                photos: p.photos.clone(),
                area_centi_m2: p.area_centi_m2,
                rooms: p.rooms,
                halls: p.halls,
                bathrooms: p.bathrooms,
                floor: p.floor,
                floors_total: p.floors_total,
                district: p.district.clone(),
                community: p.community.clone(),
                title: p.title.clone(),
                description: p.description.clone(),
                pending: proposed.then(|| Proposal {
                    seq: e.seq(),
                    change: ProposalChange::Publication,
                    proposed_at_ms: e.now(),
                }),
                contract: None,
                published_at_ms: e.now(),
                updated_seq: e.seq(),
            },
        );
        Ok(())
    }

    /// Shared rules of price and photo changes; returns the event kind.
    fn decide_listing_change(
        &self,
        c: &Cmd,
        via_proxy: Option<&str>,
        unchanged: impl Fn(&Listing) -> bool,
        price_fen: Option<u64>,
        direct: &'static str,
    ) -> Result<Out, Rejection> {
        let l = self.listing_of(c.stream())?;
        let handler = self.listing_handler(c, l, via_proxy)?;
        if !matches!(
            l.status,
            ListingStatus::Active | ListingStatus::PendingReview
        ) {
            return Err(status(&c::LISTING_STATUS, &l.id, l.status));
        }
        if unchanged(l) {
            return Err(Rejection::new(
                &c::UNCHANGED,
                "the listing already shows this",
            ));
        }
        match handler {
            Handler::Agent => {
                if let Some(price) = price_fen {
                    let floor = self.floor_price(l.entrustment.as_deref());
                    if price < floor {
                        return Err(Rejection::new(
                            &c::BELOW_FLOOR,
                            format!("{price} is below the floor price {floor}"),
                        ));
                    }
                }
                if l.review {
                    if let Some(pending) = &l.pending {
                        return Err(Rejection::new(
                            &c::PROPOSAL_PENDING,
                            format!("proposal {} waits for review", pending.seq),
                        ));
                    }
                    return Ok(Out::new("ListingChangeProposed"));
                }
                Ok(Out::new(direct))
            }
            Handler::Seller(acting) => Ok(acting.annotate(Out::new(direct))),
        }
    }

    pub(crate) fn decide_listing_price(&self, c: &Cmd, p: &ListingPrice) -> Result<Out, Rejection> {
        check(validate::money_fen("price_fen", p.price_fen))?;
        self.decide_listing_change(
            c,
            p.via_proxy.as_deref(),
            |l| l.price_fen == p.price_fen,
            Some(p.price_fen),
            "ListingPriceChanged",
        )
    }

    pub(crate) fn decide_listing_photos(
        &self,
        c: &Cmd,
        p: &ListingPhotos,
    ) -> Result<Out, Rejection> {
        check(validate::photo_hashes("photos", &p.photos))?;
        self.decide_listing_change(
            c,
            p.via_proxy.as_deref(),
            |l| l.photos == p.photos,
            None,
            "ListingPhotosChanged",
        )
    }

    fn apply_listing_change(&mut self, e: &Ev, change: ProposalChange) -> Result<(), ApplyError> {
        let l = need(&mut self.listings, e.stream())?;
        if e.kind() == "ListingChangeProposed" {
            l.pending = Some(Proposal {
                seq: e.seq(),
                change,
                proposed_at_ms: e.now(),
            });
            return Ok(());
        }
        match change {
            ProposalChange::Price { price_fen } => l.price_fen = price_fen,
            ProposalChange::Photos { photos } => l.photos = photos,
            ProposalChange::Publication => {}
        }
        l.updated_seq = e.seq();
        Ok(())
    }

    pub(crate) fn apply_listing_price(
        &mut self,
        e: &Ev,
        p: &ListingPrice,
    ) -> Result<(), ApplyError> {
        self.apply_listing_change(
            e,
            ProposalChange::Price {
                price_fen: p.price_fen,
            },
        )
    }

    pub(crate) fn apply_listing_photos(
        &mut self,
        e: &Ev,
        p: &ListingPhotos,
    ) -> Result<(), ApplyError> {
        self.apply_listing_change(
            e,
            ProposalChange::Photos {
                photos: p.photos.clone(),
            },
        )
    }

    pub(crate) fn decide_listing_review(
        &self,
        c: &Cmd,
        p: &ListingReview,
        approve: bool,
    ) -> Result<Out, Rejection> {
        let l = self.listing_of(c.stream())?;
        let Handler::Seller(acting) = self.listing_handler(c, l, p.via_proxy.as_deref())? else {
            return Err(Rejection::new(
                &c::NOT_SELLER,
                "only the seller reviews agent edits",
            ));
        };
        if !matches!(
            l.status,
            ListingStatus::Active | ListingStatus::PendingReview
        ) {
            return Err(status(&c::LISTING_STATUS, &l.id, l.status));
        }
        if l.pending.as_ref().is_none_or(|x| x.seq != p.proposal_seq) {
            return Err(Rejection::new(
                &c::NO_PROPOSAL,
                format!("no pending proposal {} on {}", p.proposal_seq, l.id),
            ));
        }
        if approve {
            self.not_seized(&l.property)?;
        }
        Ok(acting.annotate(Out::new(if approve {
            "ListingChangeApproved"
        } else {
            "ListingChangeRejected"
        })))
    }

    pub(crate) fn apply_listing_review(&mut self, e: &Ev, approve: bool) -> Result<(), ApplyError> {
        let l = need(&mut self.listings, e.stream())?;
        let proposal = l
            .pending
            .take()
            .ok_or_else(|| ApplyError::Missing(format!("{} proposal", e.stream())))?;
        match (approve, proposal.change) {
            (true, ProposalChange::Publication) => l.status = ListingStatus::Active,
            (true, ProposalChange::Price { price_fen }) => l.price_fen = price_fen,
            (true, ProposalChange::Photos { photos }) => l.photos = photos,
            (false, ProposalChange::Publication) => {
                let id = l.id.clone();
                return self.withdraw_listing(&id);
            }
            (false, _) => return Ok(()),
        }
        l.updated_seq = e.seq();
        Ok(())
    }

    pub(crate) fn decide_listing_withdraw(
        &self,
        c: &Cmd,
        p: &WithReason,
    ) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let l = self.listing_of(c.stream())?;
        let handler = self.listing_handler(c, l, p.via_proxy.as_deref())?;
        if !matches!(
            l.status,
            ListingStatus::Active | ListingStatus::PendingReview
        ) {
            return Err(status(&c::LISTING_STATUS, &l.id, l.status));
        }
        if let Some(ct) = &l.contract {
            return Err(Rejection::new(
                &c::CONTRACT_LIVE,
                format!("{ct} is live on {}", l.id),
            ));
        }
        let out = Out::new("ListingWithdrawn");
        Ok(match handler {
            Handler::Seller(acting) => acting.annotate(out),
            Handler::Agent => out,
        })
    }

    pub(crate) fn apply_listing_withdraw(&mut self, e: &Ev) -> Result<(), ApplyError> {
        self.withdraw_listing(e.stream())
    }
}
