//! Determinism: random sequences of commands from a model of the flow (four interleaved deals
//! walked step by step with twists: wrong actors, repeats, skips; plus random steps; legal and illegal, by the
//! right and the wrong actors, with time passing) are decided and applied into a log; the
//! semantic audit of that log is clean and reaches the same state, a replay by `apply` alone
//! reaches the same state, and the same sequence always yields the same bytes.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const PARTIES: [&str; 5] = ["alice", "bob", "carol", "dave", "uma"];
const AGENTS: [&str; 2] = ["wang", "li"];

#[derive(Debug, Clone)]
enum Step {
    Verify {
        who: usize,
        property: usize,
    },
    Consent {
        who: usize,
        v: usize,
    },
    Entrust {
        who: usize,
        v: usize,
        agent: usize,
        review: bool,
        days: i64,
    },
    Answer {
        agent: usize,
        e: usize,
        accept: bool,
    },
    Revoke {
        who: usize,
        e: usize,
    },
    Expire {
        e: usize,
    },
    Publish {
        agent: usize,
        e: usize,
        price: u64,
    },
    SelfList {
        who: usize,
        v: usize,
        price: u64,
    },
    ChangePrice {
        by_agent: bool,
        who: usize,
        l: usize,
        price: u64,
    },
    Review {
        who: usize,
        l: usize,
        approve: bool,
    },
    Withdraw {
        who: usize,
        l: usize,
    },
    Book {
        who: usize,
        l: usize,
    },
    Handle {
        agent: usize,
        vw: usize,
        record: bool,
    },
    Rate {
        who: usize,
        vw: usize,
        stars: u8,
    },
    Loan {
        who: usize,
        vw: usize,
        amount: u64,
    },
    Draft {
        by_agent: bool,
        who: usize,
        l: usize,
        buyer: usize,
    },
    Amend {
        agent: usize,
        c: usize,
        version: u8,
    },
    Confirm {
        role: usize,
        c: usize,
        sign: bool,
    },
    Offline {
        who: usize,
        c: usize,
    },
    OfficeVerify {
        c: usize,
    },
    File {
        c: usize,
    },
    Seize {
        property: usize,
        release: bool,
    },
    Advance {
        hours: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let i = || 0usize..6;
    let price = || prop_oneof![Just(PRICE), Just(FLOOR - 1), 100_000_000u64..200_000_000];
    prop_oneof![
        (i(), 0usize..4).prop_map(|(who, property)| Step::Verify { who, property }),
        (i(), i()).prop_map(|(who, v)| Step::Consent { who, v }),
        (
            i(),
            i(),
            0usize..2,
            any::<bool>(),
            prop_oneof![Just(1i64), Just(30), Just(400)]
        )
            .prop_map(|(who, v, agent, review, days)| Step::Entrust {
                who,
                v,
                agent,
                review,
                days
            }),
        (0usize..2, i(), any::<bool>()).prop_map(|(agent, e, accept)| Step::Answer {
            agent,
            e,
            accept
        }),
        (i(), i()).prop_map(|(who, e)| Step::Revoke { who, e }),
        i().prop_map(|e| Step::Expire { e }),
        (0usize..2, i(), price()).prop_map(|(agent, e, price)| Step::Publish { agent, e, price }),
        (i(), i(), price()).prop_map(|(who, v, price)| Step::SelfList { who, v, price }),
        (any::<bool>(), i(), i(), price()).prop_map(|(by_agent, who, l, price)| {
            Step::ChangePrice {
                by_agent,
                who,
                l,
                price,
            }
        }),
        (i(), i(), any::<bool>()).prop_map(|(who, l, approve)| Step::Review { who, l, approve }),
        (i(), i()).prop_map(|(who, l)| Step::Withdraw { who, l }),
        (i(), i()).prop_map(|(who, l)| Step::Book { who, l }),
        (0usize..2, i(), any::<bool>()).prop_map(|(agent, vw, record)| Step::Handle {
            agent,
            vw,
            record
        }),
        (i(), i(), 0u8..7).prop_map(|(who, vw, stars)| Step::Rate { who, vw, stars }),
        (i(), i(), prop_oneof![Just(1_000_000u64), Just(500_000_000)])
            .prop_map(|(who, vw, amount)| Step::Loan { who, vw, amount }),
        (any::<bool>(), i(), i(), i()).prop_map(|(by_agent, who, l, buyer)| Step::Draft {
            by_agent,
            who,
            l,
            buyer
        }),
        (0usize..2, i(), 0u8..3).prop_map(|(agent, c, version)| Step::Amend { agent, c, version }),
        (0usize..4, i(), any::<bool>()).prop_map(|(role, c, sign)| Step::Confirm { role, c, sign }),
        (i(), i()).prop_map(|(who, c)| Step::Offline { who, c }),
        i().prop_map(|c| Step::OfficeVerify { c }),
        i().prop_map(|c| Step::File { c }),
        (0usize..4, any::<bool>())
            .prop_map(|(property, release)| Step::Seize { property, release }),
        prop_oneof![Just(1i64), Just(12), Just(30), Just(24 * 40)]
            .prop_map(|hours| Step::Advance { hours }),
    ]
}

/// The model: a world and counters of the streams made so far.
struct Model {
    l: Ledger,
    properties: Vec<String>,
    n: std::collections::BTreeMap<&'static str, usize>,
    accepted: usize,
    made: Vec<String>,
    phases: [usize; 4],
}

impl Model {
    fn new() -> Self {
        let mut l = Ledger::new();
        for p in PARTIES {
            if p == "uma" {
                l.unverified_party(p);
            } else {
                l.party(p);
            }
        }
        let a = l.agency("anju");
        let b = l.agency("jia");
        l.agent(AGENTS[0], &a);
        l.agent(AGENTS[1], &b);
        l.bank("wuhua");
        l.office("wuhua");
        let properties = vec![
            l.property("p0", &["party/PA-alice"]),
            l.property("p1", &["party/PA-bob"]),
            l.property("p2", &["party/PA-alice", "party/PA-dave"]),
            l.property("p3", &["party/PA-carol"]),
        ];
        Self {
            l,
            properties,
            n: Default::default(),
            accepted: 0,
            made: Vec::new(),
            phases: [0; 4],
        }
    }

    fn party(i: usize) -> String {
        format!("party/PA-{}", PARTIES[i % PARTIES.len()])
    }
    fn agent(i: usize) -> String {
        format!("agent/AT-{}", AGENTS[i % AGENTS.len()])
    }
    /// A new stream id of a kind.
    fn fresh(&mut self, kind: &'static str, prefix: &str) -> String {
        let n = self.n.entry(kind).or_default();
        *n += 1;
        format!("{kind}/{prefix}-{n}")
    }
    /// One of the streams of a kind that exist (made by accepted commands), or a missing one.
    fn pick(&self, kind: &'static str, prefix: &str, i: usize) -> String {
        let made: Vec<&String> = self
            .made
            .iter()
            .filter(|m| m.starts_with(&format!("{kind}/")))
            .collect();
        if made.is_empty() || i == 5 {
            format!("{kind}/{prefix}-missing")
        } else {
            made[i % made.len()].clone()
        }
    }

    /// The party with an ID commitment.
    fn party_with(&self, idc: &str) -> Option<String> {
        PARTIES.iter().map(|p| format!("party/PA-{p}")).find(|p| {
            self.l
                .state
                .party(p)
                .and_then(|x| x.id_commitment.as_deref())
                == Some(idc)
        })
    }

    /// The actor who may rightfully take this step now, if the model can tell.
    fn rightful(&self, actor: &str, kind: &str, stream: &str, payload: &Value) -> Option<String> {
        let st = &self.l.state;
        let field = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_owned);
        let listing_handler = |l: &str| {
            st.listing(l)
                .map(|x| x.agent.clone().unwrap_or_else(|| x.seller.clone()))
        };
        match kind {
            "property.verify" => {
                let p = st.property_by_certificate(&field("certificate_no")?)?;
                self.party_with(&p.owners[0].id_commitment)
            }
            "verification.consent" => {
                let v = st.verification(stream)?;
                self.party_with(v.consents_pending.iter().next()?)
            }
            "verification.cancel" => Some(st.verification(stream)?.seller.clone()),
            "entrustment.sale" => Some(st.verification(&field("verification")?)?.seller.clone()),
            "entrustment.accept" | "entrustment.decline" => {
                Some(st.entrustment(stream)?.agent.clone())
            }
            "entrustment.revoke" => Some(st.entrustment(stream)?.principal.clone()),
            "listing.publish" => match field("entrustment") {
                Some(e) => Some(st.entrustment(&e)?.agent.clone()),
                None => Some(st.verification(&field("verification")?)?.seller.clone()),
            },
            "listing.change_price" | "listing.change_photos" => {
                let l = st.listing(stream)?;
                if actor.starts_with("agent/") {
                    l.agent.clone()
                } else {
                    Some(l.seller.clone())
                }
            }
            "listing.approve" | "listing.reject" | "listing.withdraw" => {
                Some(st.listing(stream)?.seller.clone())
            }
            "viewing.book" => {
                let seller = st.listing(&field("listing")?)?.seller.clone();
                PARTIES[..4]
                    .iter()
                    .map(|p| format!("party/PA-{p}"))
                    .find(|p| *p != seller)
            }
            "viewing.confirm" | "viewing.record" => listing_handler(&st.viewing(stream)?.listing),
            "viewing.rate" => Some(st.viewing(stream)?.buyer.clone()),
            "loan.request" => Some(st.viewing(&field("viewing")?)?.buyer.clone()),
            "contract.draft" => listing_handler(&field("listing")?),
            "contract.amend" => listing_handler(&st.contract(stream)?.listing),
            "contract.move_offline" => Some(st.contract(stream)?.buyer.clone()),
            _ => None,
        }
    }

    fn run(&mut self, s: &Step, right: bool) {
        let cmd: Option<(String, &str, String, Value)> = match *s {
            Step::Verify { who, property } => {
                let cert = self.l.certificate(&self.properties[property % 4]);
                let v = self.fresh("verification", "PV");
                Some((
                    Self::party(who),
                    "property.verify",
                    v,
                    json!({ "certificate_no": cert }),
                ))
            }
            Step::Consent { who, v } => Some((
                Self::party(who),
                "verification.consent",
                self.pick("verification", "PV", v),
                json!({}),
            )),
            Step::Entrust {
                who,
                v,
                agent,
                review,
                days,
            } => {
                let v = self.pick("verification", "PV", v);
                let e = self.fresh("entrustment", "EN");
                Some((
                    Self::party(who),
                    "entrustment.sale",
                    e,
                    json!({ "verification": v, "agent": Self::agent(agent),
                    "floor_price_fen": FLOOR, "expires_at_ms": self.l.now_ms + days * DAY, "review_agent_edits": review }),
                ))
            }
            Step::Answer { agent, e, accept } => {
                let payload = if accept {
                    json!({})
                } else {
                    json!({ "reason": "忙" })
                };
                let kind = if accept {
                    "entrustment.accept"
                } else {
                    "entrustment.decline"
                };
                Some((
                    Self::agent(agent),
                    kind,
                    self.pick("entrustment", "EN", e),
                    payload,
                ))
            }
            Step::Revoke { who, e } => Some((
                Self::party(who),
                "entrustment.revoke",
                self.pick("entrustment", "EN", e),
                json!({ "reason": "x" }),
            )),
            Step::Expire { e } => Some((
                PLATFORM.into(),
                "entrustment.expire",
                self.pick("entrustment", "EN", e),
                json!({}),
            )),
            Step::Publish { agent, e, price } => {
                let e = self.pick("entrustment", "EN", e);
                let v = self.l.state.entrustment(&e).and_then(|en| match &en.terms {
                    deedlog_domain::state::EntrustmentTerms::Sale { verification, .. } => {
                        Some(verification.clone())
                    }
                    deedlog_domain::state::EntrustmentTerms::Purchase { .. } => None,
                });
                match v {
                    Some(v) if self.l.state.verification(&v).is_some() => {
                        let payload = self.l.publish_payload(Some(&e), &v, price);
                        Some((
                            Self::agent(agent),
                            "listing.publish",
                            self.fresh("listing", "LS"),
                            payload,
                        ))
                    }
                    _ => None,
                }
            }
            Step::SelfList { who, v, price } => {
                let v = self.pick("verification", "PV", v);
                if self.l.state.verification(&v).is_some() {
                    let payload = self.l.publish_payload(None, &v, price);
                    Some((
                        Self::party(who),
                        "listing.publish",
                        self.fresh("listing", "LS"),
                        payload,
                    ))
                } else {
                    None
                }
            }
            Step::ChangePrice {
                by_agent,
                who,
                l,
                price,
            } => {
                let actor = if by_agent {
                    Self::agent(who)
                } else {
                    Self::party(who)
                };
                Some((
                    actor,
                    "listing.change_price",
                    self.pick("listing", "LS", l),
                    json!({ "price_fen": price }),
                ))
            }
            Step::Review { who, l, approve } => {
                let l = self.pick("listing", "LS", l);
                let seq = self
                    .l
                    .state
                    .listing(&l)
                    .and_then(|x| x.pending.as_ref())
                    .map_or(0, |p| p.seq);
                let kind = if approve {
                    "listing.approve"
                } else {
                    "listing.reject"
                };
                Some((Self::party(who), kind, l, json!({ "proposal_seq": seq })))
            }
            Step::Withdraw { who, l } => Some((
                Self::party(who),
                "listing.withdraw",
                self.pick("listing", "LS", l),
                json!({ "reason": "x" }),
            )),
            Step::Book { who, l } => {
                let l = self.pick("listing", "LS", l);
                let start = self.l.now_ms + HOUR;
                Some((
                    Self::party(who),
                    "viewing.book",
                    self.fresh("viewing", "VW"),
                    json!({ "listing": l,
                    "slot_start_ms": start, "slot_end_ms": start + HOUR }),
                ))
            }
            Step::Handle { agent, vw, record } => {
                let (kind, payload) = if record {
                    ("viewing.record", json!({ "note": "" }))
                } else {
                    ("viewing.confirm", json!({}))
                };
                Some((
                    Self::agent(agent),
                    kind,
                    self.pick("viewing", "VW", vw),
                    payload,
                ))
            }
            Step::Rate { who, vw, stars } => Some((
                Self::party(who),
                "viewing.rate",
                self.pick("viewing", "VW", vw),
                json!({ "stars": stars, "comment": "" }),
            )),
            Step::Loan { who, vw, amount } => {
                let vw = self.pick("viewing", "VW", vw);
                Some((
                    Self::party(who),
                    "loan.request",
                    self.fresh("precheck", "LP"),
                    json!({ "viewing": vw, "bank": "bank/BK-wuhua",
                    "amount_fen": amount, "term_months": 120 }),
                ))
            }
            Step::Draft {
                by_agent,
                who,
                l,
                buyer,
            } => {
                let l = self.pick("listing", "LS", l);
                if self.l.state.listing(&l).is_none() {
                    None
                } else {
                    let buyer = Self::party(buyer);
                    let terms = self.l.terms(&l, &buyer, PRICE);
                    let actor = if by_agent {
                        Self::agent(who)
                    } else {
                        Self::party(who)
                    };
                    Some((
                        actor,
                        "contract.draft",
                        self.fresh("contract", "CT"),
                        json!({ "listing": l, "buyer": buyer,
                        "terms": terms, "document_hash": hash("v0") }),
                    ))
                }
            }
            Step::Amend { agent, c, version } => {
                let c = self.pick("contract", "CT", c);
                match self
                    .l
                    .state
                    .contract(&c)
                    .map(|x| (x.listing.clone(), x.buyer.clone()))
                {
                    Some((l, buyer)) if self.l.state.listing(&l).is_some() => {
                        let terms = self.l.terms(&l, &buyer, PRICE - u64::from(version));
                        Some((
                            Self::agent(agent),
                            "contract.amend",
                            c,
                            json!({ "terms": terms, "document_hash": hash(&format!("v{version}")) }),
                        ))
                    }
                    _ => None,
                }
            }
            Step::Confirm { role, c, sign } => {
                let c = self.pick("contract", "CT", c);
                let (actor, doc) = match self.l.state.contract(&c) {
                    Some(x) => {
                        let actor = match role {
                            0 => x.buyer.clone(),
                            1 => x.seller.clone(),
                            2 => x.agent.clone().unwrap_or_else(|| Self::agent(0)),
                            _ => Self::party(2),
                        };
                        (actor, x.document_hash.clone())
                    }
                    None => (Self::party(role), hash("v0")),
                };
                let kind = if sign {
                    "contract.sign"
                } else {
                    "contract.confirm"
                };
                Some((actor, kind, c, json!({ "document_hash": doc })))
            }
            Step::Offline { who, c } => Some((
                Self::party(who),
                "contract.move_offline",
                self.pick("contract", "CT", c),
                json!({ "reason": "失败" }),
            )),
            Step::OfficeVerify { c } => Some((
                "office/OF-wuhua".into(),
                "contract.verify_offline",
                self.pick("contract", "CT", c),
                json!({ "scan_hash": hash("scan") }),
            )),
            Step::File { c } => Some((
                HOUSING.into(),
                "contract.file",
                self.pick("contract", "CT", c),
                json!({}),
            )),
            Step::Seize { property, release } => {
                let p = self.properties[property % 4].clone();
                if release {
                    Some((
                        REGISTRY.into(),
                        "property.release_seizure",
                        p,
                        json!({ "reason": "解除" }),
                    ))
                } else {
                    Some((
                        REGISTRY.into(),
                        "property.seize",
                        p,
                        json!({ "court": "法院", "case_no": "(2025)1号" }),
                    ))
                }
            }
            Step::Advance { hours } => {
                self.l.advance(hours * HOUR);
                None
            }
        };
        if let Some((actor, kind, stream, payload)) = cmd {
            let actor = if right {
                self.rightful(&actor, kind, &stream, &payload)
                    .unwrap_or(actor)
            } else {
                actor
            };
            self.submit(&actor, kind, stream, payload);
        }
    }

    fn submit(&mut self, actor: &str, kind: &str, stream: String, payload: Value) {
        let new = self.l.state.stream_version(&stream) == 0;
        if self.l.submit(actor, kind, &stream, payload).is_ok() {
            self.accepted += 1;
            if new {
                self.made.push(stream);
            }
        }
    }

    /// One step of deal `d`'s canonical flow, perhaps twisted.
    fn flow(&mut self, d: usize, twist: Twist) {
        let phase = self.phases[d];
        if matches!(twist, Twist::Skip) {
            self.phases[d] += 1;
            return;
        }
        let at = if matches!(twist, Twist::Repeat) {
            phase.saturating_sub(1)
        } else {
            phase
        };
        if let Some((actor, kind, stream, payload)) = self.deal_command(d, at) {
            let actor = match twist {
                Twist::WrongActor(i) => {
                    if i < PARTIES.len() {
                        Self::party(i)
                    } else {
                        Self::agent(i)
                    }
                }
                _ => actor,
            };
            self.submit(&actor, kind, stream, payload);
        }
        if matches!(twist, Twist::Straight) {
            self.phases[d] += 1;
        }
    }

    fn deal_command(
        &mut self,
        d: usize,
        phase: usize,
    ) -> Option<(String, &'static str, String, Value)> {
        let seller = Self::party(match d {
            1 => 1,
            3 => 2,
            _ => 0,
        });
        let buyer = Self::party(if d == 1 { 0 } else { 1 });
        let (self_list, review) = (d == 3, d == 1);
        let agent = Self::agent(d);
        let (v, en, ls, vw, lp, ct) = (
            format!("verification/PV-d{d}"),
            format!("entrustment/EN-d{d}"),
            format!("listing/LS-d{d}"),
            format!("viewing/VW-d{d}"),
            format!("precheck/LP-d{d}"),
            format!("contract/CT-d{d}"),
        );
        let handler = if self_list {
            seller.clone()
        } else {
            agent.clone()
        };
        let roles = if self_list {
            vec![buyer.clone(), seller.clone()]
        } else {
            vec![buyer.clone(), seller.clone(), agent.clone()]
        };
        let st = &self.l.state;
        Some(match phase {
            0 => (
                seller,
                "property.verify",
                v,
                json!({ "certificate_no": self.l.certificate(&self.properties[d]) }),
            ),
            1 if d == 2 => (Self::party(3), "verification.consent", v, json!({})),
            2 if !self_list => (
                seller,
                "entrustment.sale",
                en,
                json!({ "verification": v, "agent": agent,
                "floor_price_fen": FLOOR, "expires_at_ms": self.l.now_ms + 60 * DAY, "review_agent_edits": review }),
            ),
            3 if !self_list => (agent, "entrustment.accept", en, json!({})),
            4 => {
                st.verification(&v)?;
                if self_list {
                    (
                        seller,
                        "listing.publish",
                        ls,
                        self.l.publish_payload(None, &v, PRICE),
                    )
                } else {
                    st.entrustment(&en)?;
                    (
                        agent,
                        "listing.publish",
                        ls,
                        self.l.publish_payload(Some(&en), &v, PRICE),
                    )
                }
            }
            5 if review => {
                let seq = st.listing(&ls)?.pending.as_ref().map_or(0, |p| p.seq);
                (
                    seller,
                    "listing.approve",
                    ls,
                    json!({ "proposal_seq": seq }),
                )
            }
            6 => (
                buyer,
                "viewing.book",
                vw,
                json!({ "listing": ls, "slot_start_ms": self.l.now_ms + HOUR,
                "slot_end_ms": self.l.now_ms + 2 * HOUR }),
            ),
            7 => (handler, "viewing.confirm", vw, json!({})),
            8 => {
                self.l.advance(2 * HOUR);
                (handler, "viewing.record", vw, json!({ "note": "" }))
            }
            9 if !self_list => (
                buyer,
                "viewing.rate",
                vw,
                json!({ "stars": 4, "comment": "" }),
            ),
            10 => (
                buyer,
                "loan.request",
                lp,
                json!({ "viewing": vw, "bank": "bank/BK-wuhua", "amount_fen": 1_000_000, "term_months": 120 }),
            ),
            11 => (
                "bank/BK-wuhua".into(),
                "loan.assess",
                lp,
                json!({ "result": "approved", "amount_fen": 1_000_000,
                "valid_until_ms": self.l.now_ms + 30 * DAY, "remarks": "" }),
            ),
            12 => {
                st.listing(&ls)?;
                let drafter = if self_list { buyer.clone() } else { agent };
                (
                    drafter,
                    "contract.draft",
                    ct,
                    json!({ "listing": ls, "buyer": buyer,
                    "terms": self.l.terms(&ls, &buyer, PRICE), "document_hash": hash("deal") }),
                )
            }
            13..=18 => {
                let r = (phase - 13) % 3;
                let who = roles.get(r)?.clone();
                let doc = st.contract(&ct)?.document_hash.clone();
                let kind = if phase < 16 {
                    "contract.confirm"
                } else {
                    "contract.sign"
                };
                (who, kind, ct, json!({ "document_hash": doc }))
            }
            19 => (HOUSING.into(), "contract.file", ct, json!({})),
            _ => return None,
        })
    }
}

/// How a flow step is twisted.
#[derive(Debug, Clone, Copy)]
enum Twist {
    /// Take the step as the rightful actor.
    Straight,
    /// Take it as some other actor.
    WrongActor(usize),
    /// Take the previous step again.
    Repeat,
    /// Skip it.
    Skip,
}

/// One move of a generated sequence.
#[derive(Debug, Clone)]
enum Move {
    /// A random step, by the rightful actor when the flag is set.
    Random(Step, bool),
    /// The next step of one of four deals.
    Flow(usize, Twist),
}

fn moves() -> impl Strategy<Value = Move> {
    let twist = prop_oneof![
        8 => Just(Twist::Straight),
        1 => (0usize..7).prop_map(Twist::WrongActor),
        1 => Just(Twist::Repeat),
        1 => Just(Twist::Skip),
    ];
    prop_oneof![
        3 => (0usize..4, twist).prop_map(|(d, t)| Move::Flow(d, t)),
        1 => (step(), proptest::bool::weighted(0.85)).prop_map(|(s, r)| Move::Random(s, r)),
    ]
}

fn play(moves: &[Move]) -> Model {
    play_with(moves, false)
}

/// As [`play`]; `bounded`: with a bounded state beside the whole one (keeping one entry per
/// map, so nearly every look-up loads from its spill), which must decide everything alike.
fn play_with(moves: &[Move], bounded: bool) -> Model {
    let mut m = Model::new();
    if bounded {
        m.l.shadow_bounded(1);
    }
    for mv in moves {
        match mv {
            Move::Random(s, right) => m.run(s, *right),
            Move::Flow(d, t) => m.flow(*d, *t),
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replays_reach_the_same_states_and_verdicts(steps in proptest::collection::vec(moves(), 1..200)) {
        let m = play(&steps);
        assert_audit_clean(&m.l);
        let mut replayed = deedlog_domain::State::default();
        for e in &m.l.entries {
            replayed.apply(e).expect("a committed entry applies");
        }
        prop_assert_eq!(replayed.canonical_bytes().expect("encodes"), m.l.state.canonical_bytes().expect("encodes"));
        let again = play(&steps);
        let bytes = |l: &Ledger| l.entries.iter().map(|e| e.encode().expect("encodes")).collect::<Vec<_>>();
        prop_assert_eq!(bytes(&again.l), bytes(&m.l));
    }

    /// A bounded state that keeps one entry per map in memory and finds the rest in its spill
    /// reaches the same verdict, message and derived fields as the whole state on every command
    /// of the sequence, legal or not (the testkit panics on the first difference), and holds
    /// little while the whole state grows.
    #[test]
    fn a_bounded_state_decides_every_command_as_the_whole_one(steps in proptest::collection::vec(moves(), 1..200)) {
        let m = play_with(&steps, true);
        let bytes = |l: &Ledger| l.entries.iter().map(|e| e.encode().expect("encodes")).collect::<Vec<_>>();
        prop_assert_eq!(bytes(&play(&steps).l), bytes(&m.l));
        let shadow = m.l.shadow.as_ref().expect("the bounded state");
        prop_assert!(shadow.bounded());
        prop_assert!(shadow.held_entries() <= 23 * 8, "held {}", shadow.held_entries());
    }
}

/// A long fixed walk through the model, so a run of the test always covers the whole flow.
#[test]
fn a_scripted_walk_through_the_model_is_mostly_accepted() {
    let steps = vec![
        Step::Verify {
            who: 0,
            property: 0,
        },
        Step::Entrust {
            who: 0,
            v: 0,
            agent: 0,
            review: true,
            days: 30,
        },
        Step::Answer {
            agent: 0,
            e: 0,
            accept: true,
        },
        Step::Publish {
            agent: 0,
            e: 0,
            price: PRICE,
        },
        Step::Review {
            who: 0,
            l: 0,
            approve: true,
        },
        Step::ChangePrice {
            by_agent: true,
            who: 0,
            l: 0,
            price: PRICE + 1,
        },
        Step::Review {
            who: 0,
            l: 0,
            approve: false,
        },
        Step::Book { who: 1, l: 0 },
        Step::Handle {
            agent: 0,
            vw: 0,
            record: false,
        },
        Step::Advance { hours: 1 },
        Step::Handle {
            agent: 0,
            vw: 0,
            record: true,
        },
        Step::Rate {
            who: 1,
            vw: 0,
            stars: 4,
        },
        Step::Loan {
            who: 1,
            vw: 0,
            amount: 1_000_000,
        },
        Step::Draft {
            by_agent: true,
            who: 0,
            l: 0,
            buyer: 1,
        },
        Step::Confirm {
            role: 0,
            c: 0,
            sign: false,
        },
        Step::Confirm {
            role: 1,
            c: 0,
            sign: false,
        },
        Step::Confirm {
            role: 2,
            c: 0,
            sign: false,
        },
        Step::Confirm {
            role: 0,
            c: 0,
            sign: true,
        },
        Step::Confirm {
            role: 1,
            c: 0,
            sign: true,
        },
        Step::Confirm {
            role: 2,
            c: 0,
            sign: true,
        },
        Step::File { c: 0 },
    ];
    let steps: Vec<Move> = steps.into_iter().map(|s| Move::Random(s, false)).collect();
    let m = play(&steps);
    assert_eq!(
        m.accepted,
        steps.len() - 1,
        "every step but the clock is accepted"
    );
    assert_eq!(
        m.l.state
            .contract("contract/CT-1")
            .expect("contract")
            .status,
        deedlog_domain::state::ContractStatus::Filed
    );
    assert_audit_clean(&m.l);
}
