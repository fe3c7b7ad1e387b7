//! Viewings (booking, confirmation, record, cancellation, rating) and loan pre-checks (贷款预审).

use crate::decide::{
    Cmd, Ev, Out, check, need, not_found, period, reference, status, text, text_lines,
};
use crate::ids::IdKind;
use crate::payload::{
    LoanAssess, LoanRequest, LoanResult, ViewingBook, ViewingRate, ViewingRecord, WithReason,
};
use crate::rejection::{Rejection, codes as c};
use crate::state::{Assessment, Listing, ListingStatus, Precheck, Viewing, ViewingStatus};
use crate::validate::{self, DAY_MS};
use crate::{ApplyError, State};

/// Shortest viewing slot.
const SLOT_MS_MIN: i64 = 15 * 60 * 1000;
/// Longest viewing slot.
const SLOT_MS_MAX: i64 = 4 * 60 * 60 * 1000;
/// How far ahead a viewing may be booked.
const BOOK_AHEAD_DAYS_MAX: i64 = 60;
/// Longest validity of a pre-check assessment.
const ASSESSMENT_DAYS_MAX: i64 = 180;

impl State {
    fn viewing_of(&self, id: &str) -> Result<&Viewing, Rejection> {
        self.viewings
            .get(id)
            .ok_or_else(|| not_found(&c::VIEWING_NOT_FOUND, id))
    }

    /// The listing's agent (within its entrustment) or, on a self-listing, the seller.
    fn viewing_handler(&self, c: &Cmd, listing: &Listing) -> Result<(), Rejection> {
        if c.is_agent() {
            if listing.agent.as_deref() != Some(c.actor()) {
                return Err(Rejection::new(
                    &c::NOT_LISTING_HANDLER,
                    format!("{} is not the agent of {}", c.actor(), listing.id),
                ));
            }
            self.agent_entrusted(c, listing.entrustment.as_deref())?;
            return Ok(());
        }
        let acting = self.acting_party(c, None)?;
        if listing.agent.is_some() || acting.party != listing.seller {
            return Err(Rejection::new(
                &c::NOT_LISTING_HANDLER,
                format!(
                    "{} does not handle viewings of {}",
                    acting.party, listing.id
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn decide_viewing_book(&self, c: &Cmd, p: &ViewingBook) -> Result<Out, Rejection> {
        reference("listing", &p.listing, IdKind::Listing)?;
        validate::window(
            "slot",
            p.slot_start_ms,
            p.slot_end_ms,
            c.now() + 1,
            SLOT_MS_MIN,
            SLOT_MS_MAX,
        )
        .and_then(|()| {
            validate::window(
                "slot",
                c.now(),
                p.slot_start_ms,
                c.now(),
                0,
                BOOK_AHEAD_DAYS_MAX * DAY_MS,
            )
        })
        .map_err(|e| Rejection::new(&c::BAD_PERIOD, e.to_string()))?;
        if c.is_agent() {
            return self.decide_viewing_book_by_agent(c, p);
        }
        if p.entrustment.is_some() {
            return Err(Rejection::new(
                &c::BAD_FIELD,
                "only a buyer's agent books under a purchase entrustment",
            )
            .with(serde_json::json!({ "field": "entrustment" })));
        }
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        let l = self.listing_of(&p.listing)?;
        acting.check_property(&l.property)?;
        if l.status != ListingStatus::Active {
            return Err(status(&c::LISTING_STATUS, &l.id, l.status));
        }
        if acting.party == l.seller {
            return Err(Rejection::new(
                &c::OWN_LISTING,
                "a seller cannot book a viewing of their own listing",
            ));
        }
        Ok(acting.annotate(Out::new("ViewingBooked")))
    }

    /// `viewing.book` signed by the buyer's agent under an accepted purchase entrustment: the
    /// viewing is the principal's (`derived.on_behalf_of`), and the listing must be within the
    /// entrustment's districts and budget.
    fn decide_viewing_book_by_agent(&self, c: &Cmd, p: &ViewingBook) -> Result<Out, Rejection> {
        if p.via_proxy.is_some() {
            return Err(Rejection::new(
                &c::PROXY_NOT_ALLOWED,
                "agents do not act through proxies",
            ));
        }
        let Some(entrustment) = p.entrustment.as_deref() else {
            return Err(Rejection::new(
                &c::NOT_ENTRUSTED,
                format!("{} names no purchase entrustment", c.actor()),
            ));
        };
        reference("entrustment", entrustment, IdKind::Entrustment)?;
        let l = self.listing_of(&p.listing)?;
        if l.status != ListingStatus::Active {
            return Err(status(&c::LISTING_STATUS, &l.id, l.status));
        }
        let acting = self.purchase_agent(c, Some(entrustment), l)?;
        if acting.party == l.seller {
            return Err(Rejection::new(
                &c::OWN_LISTING,
                "a seller cannot book a viewing of their own listing",
            ));
        }
        Ok(Out::new("ViewingBooked")
            .with("on_behalf_of", acting.party)
            .with("entrustment", entrustment))
    }

    pub(crate) fn apply_viewing_book(&mut self, e: &Ev, p: &ViewingBook) -> Result<(), ApplyError> {
        let agent = self
            .listings
            .get(&p.listing)
            .ok_or_else(|| ApplyError::Missing(p.listing.clone()))?
            .agent
            .clone();
        let id = e.stream().to_owned();
        self.viewings.insert(
            id.clone(),
            Viewing {
                id,
                listing: p.listing.clone(),
                buyer: e.principal(),
                agent,
                slot_start_ms: p.slot_start_ms,
                slot_end_ms: p.slot_end_ms,
                status: ViewingStatus::Booked,
                note: None,
                stars: None,
            },
        );
        Ok(())
    }

    fn viewing_and_listing(&self, c: &Cmd) -> Result<(&Viewing, &Listing), Rejection> {
        let v = self.viewing_of(c.stream())?;
        let l = self.listing_of(&v.listing)?;
        Ok((v, l))
    }

    pub(crate) fn decide_viewing_confirm(&self, c: &Cmd) -> Result<Out, Rejection> {
        let (v, l) = self.viewing_and_listing(c)?;
        self.viewing_handler(c, l)?;
        if v.status != ViewingStatus::Booked {
            return Err(status(&c::VIEWING_STATUS, &v.id, v.status));
        }
        Ok(Out::new("ViewingConfirmed"))
    }

    pub(crate) fn decide_viewing_record(
        &self,
        c: &Cmd,
        p: &ViewingRecord,
    ) -> Result<Out, Rejection> {
        text_lines("note", &p.note, 0, 500)?;
        let (v, l) = self.viewing_and_listing(c)?;
        self.viewing_handler(c, l)?;
        if !matches!(v.status, ViewingStatus::Booked | ViewingStatus::Confirmed) {
            return Err(status(&c::VIEWING_STATUS, &v.id, v.status));
        }
        if c.now() < v.slot_start_ms {
            return Err(Rejection::new(
                &c::TOO_EARLY,
                format!("{} starts at {}", v.id, v.slot_start_ms),
            ));
        }
        Ok(Out::new("ViewingRecorded"))
    }

    pub(crate) fn decide_viewing_cancel(&self, c: &Cmd, p: &WithReason) -> Result<Out, Rejection> {
        text("reason", &p.reason, 1, 500)?;
        let (v, l) = self.viewing_and_listing(c)?;
        let mut out = Out::new("ViewingCancelled");
        if c.is_agent() {
            self.viewing_handler(c, l)?;
        } else {
            let acting = self.acting_party(c, p.via_proxy.as_deref())?;
            acting.check_property(&l.property)?;
            let seller_of_self_listing = l.agent.is_none() && acting.party == l.seller;
            if acting.party != v.buyer && !seller_of_self_listing {
                return Err(Rejection::new(
                    &c::NOT_LISTING_HANDLER,
                    format!("{} may not cancel {}", acting.party, v.id),
                ));
            }
            out = acting.annotate(out);
        }
        if !matches!(v.status, ViewingStatus::Booked | ViewingStatus::Confirmed) {
            return Err(status(&c::VIEWING_STATUS, &v.id, v.status));
        }
        Ok(out)
    }

    pub(crate) fn apply_viewing_status(
        &mut self,
        e: &Ev,
        to: ViewingStatus,
        note: Option<&str>,
    ) -> Result<(), ApplyError> {
        let v = need(&mut self.viewings, e.stream())?;
        v.status = to;
        if let Some(note) = note {
            v.note = Some(note.to_owned());
        }
        Ok(())
    }

    pub(crate) fn decide_viewing_rate(&self, c: &Cmd, p: &ViewingRate) -> Result<Out, Rejection> {
        check(validate::range("stars", p.stars.into(), 1, 5))?;
        text("comment", &p.comment, 0, 200)?;
        let (v, l) = self.viewing_and_listing(c)?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        acting.check_property(&l.property)?;
        if acting.party != v.buyer {
            return Err(Rejection::new(
                &c::NOT_BUYER,
                format!("{} did not book {}", acting.party, v.id),
            ));
        }
        if v.status != ViewingStatus::Completed {
            return Err(status(&c::VIEWING_STATUS, &v.id, v.status));
        }
        if v.stars.is_some() {
            return Err(Rejection::new(
                &c::ALREADY_RATED,
                format!("{} was already rated", v.id),
            ));
        }
        let Some(agent) = &v.agent else {
            return Err(Rejection::new(
                &c::NO_AGENT,
                format!("{} had no agent", v.id),
            ));
        };
        Ok(acting.annotate(Out::new("AgentRated").with("agent", agent.clone())))
    }

    pub(crate) fn apply_viewing_rate(&mut self, e: &Ev, p: &ViewingRate) -> Result<(), ApplyError> {
        let agent = e.derived_str("agent")?;
        need(&mut self.viewings, e.stream())?.stars = Some(p.stars);
        let a = need(&mut self.agents, &agent)?;
        a.rating_sum += u64::from(p.stars);
        a.rating_count += 1;
        Ok(())
    }

    pub(crate) fn decide_loan_request(&self, c: &Cmd, p: &LoanRequest) -> Result<Out, Rejection> {
        reference("viewing", &p.viewing, IdKind::Viewing)?;
        reference("bank", &p.bank, IdKind::Bank)?;
        check(validate::money_fen("amount_fen", p.amount_fen))?;
        check(validate::range("term_months", p.term_months.into(), 1, 360))?;
        let acting = self.acting_party(c, p.via_proxy.as_deref())?;
        let v = self.viewing_of(&p.viewing)?;
        let l = self.listing_of(&v.listing)?;
        acting.check_property(&l.property)?;
        if acting.party != v.buyer {
            return Err(Rejection::new(
                &c::NOT_BUYER,
                format!("{} did not book {}", acting.party, v.id),
            ));
        }
        if v.status != ViewingStatus::Completed {
            return Err(status(&c::VIEWING_STATUS, &v.id, v.status));
        }
        if !self.banks.contains_key(&p.bank) {
            return Err(not_found(&c::BANK_NOT_FOUND, &p.bank));
        }
        if p.amount_fen > l.price_fen {
            return Err(Rejection::new(
                &c::LOAN_AMOUNT,
                format!("{} exceeds the listing price {}", p.amount_fen, l.price_fen),
            ));
        }
        Ok(acting.annotate(Out::new("LoanPrecheckRequested").with("listing", l.id.clone())))
    }

    pub(crate) fn apply_loan_request(&mut self, e: &Ev, p: &LoanRequest) -> Result<(), ApplyError> {
        let id = e.stream().to_owned();
        self.prechecks.insert(
            id.clone(),
            Precheck {
                id,
                viewing: p.viewing.clone(),
                listing: e.derived_str("listing")?,
                buyer: e.principal(),
                bank: p.bank.clone(),
                amount_fen: p.amount_fen,
                term_months: p.term_months,
                assessment: None,
            },
        );
        Ok(())
    }

    pub(crate) fn decide_loan_assess(&self, c: &Cmd, p: &LoanAssess) -> Result<Out, Rejection> {
        text_lines("remarks", &p.remarks, 0, 500)?;
        let pc = self
            .prechecks
            .get(c.stream())
            .ok_or_else(|| not_found(&c::PRECHECK_NOT_FOUND, c.stream()))?;
        if pc.bank != c.actor() {
            return Err(Rejection::new(
                &c::NOT_CHOSEN_BANK,
                format!("{} asked {}", pc.id, pc.bank),
            ));
        }
        if pc.assessment.is_some() {
            return Err(Rejection::new(
                &c::PRECHECK_STATUS,
                format!("{} was already assessed", pc.id),
            ));
        }
        match (p.result, p.amount_fen) {
            (LoanResult::Declined, None) => {}
            (LoanResult::Declined, Some(_)) | (_, None) => {
                return Err(Rejection::new(
                    &c::BAD_FIELD,
                    "amount_fen is given exactly when the result is not declined",
                )
                .with(serde_json::json!({ "field": "amount_fen" })));
            }
            (_, Some(amount)) => {
                check(validate::money_fen("amount_fen", amount))?;
                if amount > pc.amount_fen {
                    return Err(Rejection::new(
                        &c::LOAN_AMOUNT,
                        format!("{amount} exceeds the requested {}", pc.amount_fen),
                    ));
                }
            }
        }
        period(
            "valid_until_ms",
            c.now(),
            p.valid_until_ms,
            ASSESSMENT_DAYS_MAX,
        )?;
        Ok(Out::new("LoanPrecheckAssessed"))
    }

    pub(crate) fn apply_loan_assess(&mut self, e: &Ev, p: &LoanAssess) -> Result<(), ApplyError> {
        need(&mut self.prechecks, e.stream())?.assessment = Some(Assessment {
            result: p.result,
            amount_fen: p.amount_fen,
            valid_until_ms: p.valid_until_ms,
            remarks: p.remarks.clone(),
            seq: e.seq(),
        });
        Ok(())
    }
}
