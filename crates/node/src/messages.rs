//! Online messages (在线沟通) between the sides of a listing or a contract, kept off the log.
//!
//! A message is a private conversation, not a step of a deal: nothing about it is signed into
//! the log, hashed into a checkpoint or shown by a public route. The node keeps the messages in
//! a small sled database of their own, `DATA/messages/`, beside the views. Unlike the views, the
//! messages cannot be re-derived from the log: losing the folder loses the conversations, and
//! nothing else.
//!
//! Who takes part is decided at every request from the read models (never from the store), so
//! that a participant who loses its role loses the conversation with it:
//!
//! - a **listing conversation** is one listing with one buyer: the listing's seller, the agent
//!   of the listing while its sale entrustment is accepted and unexpired, and that buyer (a party
//!   other than the seller). The buyer opens it by writing first, while the listing is active and
//!   the buyer is real-name verified, or at any time once it booked a viewing of the listing; the
//!   seller or the agent may open it only towards a buyer who booked a viewing. Another buyer of
//!   the same listing has a conversation of its own and never sees this one.
//! - a **contract conversation** is one contract: its buyer, its seller, its agent, and each agent
//!   the buyer entrusted to buy (an accepted, unexpired purchase entrustment). Any of them opens it.
//!
//! Every input is bounded: the text (1-1000 characters after NFC), the messages of one
//! conversation ([`MessageLimits::per_conversation_max`]), the conversations one signer may open
//! ([`MessageLimits::opened_per_actor_max`]), the page size; the per-minute rate of a sender is
//! the API's. An erasure (`erasure.record`) removes the text of every message its subject sent
//! before the views apply it (see the projector).

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use deedlog_domain::codes;
use deedlog_domain::ids::IdKind;
use deedlog_domain::validate;
use deedlog_store::Rejection;
use deedlog_views::keys::Relation;
use deedlog_views::{Doc, Paging, ViewError};

use crate::Node;

/// The folder of the message store, under the data folder.
pub const MESSAGES_DIR: &str = "messages";
/// Longest message, in characters after NFC normalisation.
pub const TEXT_CHARS_MAX: usize = 1000;
/// Largest page of messages or conversations.
pub const PAGE_MAX: usize = 100;

/// The message store's limits.
#[derive(Debug, Clone)]
pub struct MessageLimits {
    /// Most messages in one conversation.
    pub per_conversation_max: u64,
    /// Most conversations one signer may open (send the first message of).
    pub opened_per_actor_max: u64,
    /// How long a request signature is remembered to refuse its replay, ms (at least twice the
    /// API's clock skew, so that a replayed request is still remembered while its timestamp
    /// would pass).
    pub replay_window_ms: i64,
}

impl Default for MessageLimits {
    fn default() -> Self {
        Self {
            per_conversation_max: 2000,
            opened_per_actor_max: 100,
            replay_window_ms: 20 * 60 * 1000,
        }
    }
}

/// A failure of the message routes.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// A refusal with one of the catalogue's `message.*` codes; nothing was stored.
    #[error(transparent)]
    Refused(#[from] Rejection),
    /// The store failed (the cause is logged, not answered).
    #[error("message store: {0}")]
    Store(String),
    /// The views failed.
    #[error("views: {0}")]
    Views(#[from] ViewError),
}

impl From<sled::Error> for MessageError {
    fn from(e: sled::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<serde_json::Error> for MessageError {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(format!("a stored record does not parse: {e}"))
    }
}

/// Which conversation: one listing with one buyer, or one contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    /// `listing/LS-…` with the buyer `party/PA-…`.
    Listing {
        /// The listing.
        listing: String,
        /// The buyer.
        buyer: String,
    },
    /// `contract/CT-…`.
    Contract {
        /// The contract.
        contract: String,
    },
}

impl Conversation {
    /// The conversation's id: `listing/LS-…|party/PA-…` or `contract/CT-…` (ids never hold `|`).
    #[must_use]
    pub fn id(&self) -> String {
        match self {
            Self::Listing { listing, buyer } => format!("{listing}|{buyer}"),
            Self::Contract { contract } => contract.clone(),
        }
    }

    /// Parses [`Self::id`].
    #[must_use]
    pub fn parse(id: &str) -> Option<Self> {
        match id.split_once('|') {
            Some((listing, buyer))
                if IdKind::Listing.matches(listing) && IdKind::Party.matches(buyer) =>
            {
                Some(Self::Listing {
                    listing: listing.to_owned(),
                    buyer: buyer.to_owned(),
                })
            }
            None if IdKind::Contract.matches(id) => Some(Self::Contract {
                contract: id.to_owned(),
            }),
            _ => None,
        }
    }

    fn describe(&self) -> Value {
        match self {
            Self::Listing { listing, buyer } => {
                json!({"kind": "listing", "listing": listing, "buyer": buyer, "contract": null})
            }
            Self::Contract { contract } => {
                json!({"kind": "contract", "listing": null, "buyer": null, "contract": contract})
            }
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its number in the conversation, from 1.
    pub n: u64,
    /// The sender.
    pub from: String,
    /// The text, `None` once the sender was erased.
    pub text: Option<String>,
    /// When the node stored it, ms since the Unix epoch.
    pub at_ms: i64,
}

/// A conversation's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    count: u64,
    last_at_ms: i64,
    opened_by: String,
}

/// The answer to a post.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The message as stored.
    pub message: Message,
    /// True when this very signed request was already stored (a retry): nothing new was stored.
    pub duplicate: bool,
}

/// A message to store, with what the read models said of its conversation.
struct NewMessage<'a> {
    conversation: &'a str,
    from: &'a str,
    text: String,
    members: &'a [String],
    may_open: bool,
    replay: [u8; 32],
    now: i64,
}

/// The node's message store (`DATA/messages/`, sled).
pub struct MessageStore {
    db: sled::Db,
    /// `conversation id ‖ 0 ‖ be64(n)` → message JSON.
    messages: sled::Tree,
    /// `conversation id` → [`Meta`] JSON.
    conversations: sled::Tree,
    /// `actor ‖ 0 ‖ conversation id` → be64(last number read): the actor's conversations.
    mine: sled::Tree,
    /// `actor` → be64(conversations it opened).
    opened: sled::Tree,
    /// SHA-256 of a request signature → `be64(at_ms) ‖ conversation id ‖ 0 ‖ be64(n)`.
    replays: sled::Tree,
    /// `be64(at_ms) ‖ signature hash` → (): the order in which remembered signatures expire.
    replay_times: sled::Tree,
    limits: MessageLimits,
    /// Posts and erasures one at a time: a conversation's count and its messages move together.
    write: Mutex<()>,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore").finish_non_exhaustive()
    }
}

fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

fn message_key(conversation: &str, n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(conversation.len() + 9);
    k.extend_from_slice(conversation.as_bytes());
    k.push(0);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn prefix(s: &str) -> Vec<u8> {
    let mut k = s.as_bytes().to_vec();
    k.push(0);
    k
}

fn be64(v: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    if let Some(b) = v.get(..8) {
        a.copy_from_slice(b);
    }
    u64::from_be_bytes(a)
}

fn lock(m: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MessageStore {
    /// Opens (or creates) the store in `dir`.
    ///
    /// # Errors
    /// sled errors.
    pub fn open(dir: &Path, limits: MessageLimits) -> Result<Self, MessageError> {
        // Messages are small and rarely read in bulk: a small page cache is enough.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(8 << 20)
            .open()?;
        Ok(Self {
            messages: db.open_tree("messages")?,
            conversations: db.open_tree("conversations")?,
            mine: db.open_tree("mine")?,
            opened: db.open_tree("opened")?,
            replays: db.open_tree("replays")?,
            replay_times: db.open_tree("replay-times")?,
            db,
            limits,
            write: Mutex::new(()),
        })
    }

    fn meta(&self, conversation: &str) -> Result<Option<Meta>, MessageError> {
        match self.conversations.get(conversation.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn message(&self, conversation: &str, n: u64) -> Result<Option<Message>, MessageError> {
        match self.messages.get(message_key(conversation, n))? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// How many messages the store holds in `conversation`.
    ///
    /// # Errors
    /// sled errors.
    pub fn count(&self, conversation: &str) -> Result<u64, MessageError> {
        Ok(self.meta(conversation)?.map_or(0, |m| m.count))
    }

    /// Every message text the store holds, for tests that look for leaks.
    ///
    /// # Errors
    /// sled errors.
    pub fn total(&self) -> Result<usize, MessageError> {
        Ok(self.messages.len())
    }

    /// Forgets remembered signatures older than the replay window (a bounded number per call).
    fn expire_replays(&self, now: i64) -> Result<(), MessageError> {
        let cutoff = now.saturating_sub(self.limits.replay_window_ms);
        let cutoff = u64::try_from(cutoff).unwrap_or(0).to_be_bytes();
        for item in self.replay_times.range(..cutoff.to_vec()).take(256) {
            let (k, _) = item?;
            if let Some(hash) = k.get(8..) {
                self.replays.remove(hash)?;
            }
            self.replay_times.remove(k)?;
        }
        Ok(())
    }

    fn post(&self, m: NewMessage<'_>) -> Result<Posted, MessageError> {
        let NewMessage {
            conversation,
            from,
            text,
            members,
            may_open,
            replay,
            now,
        } = m;
        let _guard = lock(&self.write);
        if let Some(seen) = self.replays.get(replay)? {
            let n = be64(seen.get(seen.len().saturating_sub(8)..).unwrap_or_default());
            let conv = seen
                .get(8..seen.len().saturating_sub(9))
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            if let Some(message) = self.message(&conv, n)?
                && conv == conversation
            {
                return Ok(Posted {
                    message,
                    duplicate: true,
                });
            }
            return Err(Rejection::new(
                &codes::MESSAGE_NOT_PARTICIPANT,
                "this signed request was already used for another message",
            )
            .into());
        }
        let meta = self.meta(conversation)?;
        let opening = meta.is_none();
        if opening && !may_open {
            return Err(not_participant(from));
        }
        if let Some(m) = &meta
            && m.count >= self.limits.per_conversation_max
        {
            return Err(Rejection::new(
                &codes::MESSAGE_CONVERSATION_FULL,
                format!(
                    "the conversation already holds {} messages",
                    self.limits.per_conversation_max
                ),
            )
            .with(json!({"max": self.limits.per_conversation_max}))
            .into());
        }
        let opened = self.opened.get(from.as_bytes())?.map_or(0, |v| be64(&v));
        if opening && opened >= self.limits.opened_per_actor_max {
            return Err(Rejection::new(
                &codes::MESSAGE_TOO_MANY_CONVERSATIONS,
                format!(
                    "{from} already opened {} conversations",
                    self.limits.opened_per_actor_max
                ),
            )
            .with(json!({"max": self.limits.opened_per_actor_max}))
            .into());
        }
        self.expire_replays(now)?;
        let n = meta.as_ref().map_or(0, |m| m.count) + 1;
        let message = Message {
            n,
            from: from.to_owned(),
            text: Some(text),
            at_ms: now,
        };
        let new_meta = Meta {
            count: n,
            last_at_ms: now,
            opened_by: meta.map_or_else(|| from.to_owned(), |m| m.opened_by),
        };
        let stamp = u64::try_from(now).unwrap_or(0).to_be_bytes();
        let mut seen = stamp.to_vec();
        seen.extend_from_slice(&message_key(conversation, n));
        let mut times = stamp.to_vec();
        times.extend_from_slice(&replay);
        // One transaction over the trees: a crash leaves the message with its count, its index
        // entries and its remembered signature, or none of them.
        let trees = (
            &self.messages,
            &self.conversations,
            &self.mine,
            &self.opened,
            &self.replays,
            &self.replay_times,
        );
        let message_bytes = serde_json::to_vec(&message)?;
        let meta_bytes = serde_json::to_vec(&new_meta)?;
        let result: sled::transaction::TransactionResult<(), ()> = {
            use sled::Transactional as _;
            trees.transaction(|(msgs, convs, mine, opened_t, replays, replay_times)| {
                msgs.insert(message_key(conversation, n), message_bytes.clone())?;
                convs.insert(conversation.as_bytes(), meta_bytes.clone())?;
                for member in members {
                    let k = key2(member, conversation);
                    if member == from {
                        // The sender has read everything up to its own message.
                        mine.insert(k, &n.to_be_bytes())?;
                    } else if mine.get(&k)?.is_none() {
                        mine.insert(k, &0u64.to_be_bytes())?;
                    }
                }
                if opening {
                    opened_t.insert(from.as_bytes(), &(opened + 1).to_be_bytes())?;
                }
                replays.insert(&replay, seen.clone())?;
                replay_times.insert(times.clone(), &[])?;
                Ok(())
            })
        };
        result.map_err(|e| MessageError::Store(format!("{e:?}")))?;
        self.db.flush()?;
        Ok(Posted {
            message,
            duplicate: false,
        })
    }

    fn page(
        &self,
        conversation: &str,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<Message>, u64), MessageError> {
        let total = self.count(conversation)?;
        let mut items = Vec::new();
        let start = message_key(conversation, after.saturating_add(1));
        let end = message_key(conversation, u64::MAX);
        for item in self.messages.range(start..=end).take(limit) {
            let (_, v) = item?;
            items.push(serde_json::from_slice(&v)?);
        }
        Ok((items, total))
    }

    fn mark_read(&self, actor: &str, conversation: &str, n: u64) -> Result<(), MessageError> {
        let k = key2(actor, conversation);
        let _guard = lock(&self.write);
        let old = self.mine.get(&k)?.map_or(0, |v| be64(&v));
        if n > old {
            self.mine.insert(k, &n.to_be_bytes())?;
        }
        Ok(())
    }

    /// Removes the text of every message `subject` sent, and its own list of conversations.
    /// Idempotent; durable (flushed) when it returns.
    ///
    /// # Errors
    /// sled errors.
    pub fn erase(&self, subject: &str) -> Result<usize, MessageError> {
        let _guard = lock(&self.write);
        let mut erased = 0;
        let mine: Vec<sled::IVec> = self
            .mine
            .scan_prefix(prefix(subject))
            .keys()
            .collect::<Result<_, _>>()?;
        for k in &mine {
            let conversation = String::from_utf8_lossy(&k[subject.len() + 1..]).into_owned();
            for item in self.messages.scan_prefix(prefix(&conversation)) {
                let (mk, v) = item?;
                let mut m: Message = serde_json::from_slice(&v)?;
                if m.from == subject && m.text.is_some() {
                    m.text = None;
                    self.messages.insert(mk, serde_json::to_vec(&m)?)?;
                    erased += 1;
                }
            }
            self.mine.remove(k)?;
        }
        self.db.flush()?;
        Ok(erased)
    }
}

fn not_participant(actor: &str) -> MessageError {
    Rejection::new(
        &codes::MESSAGE_NOT_PARTICIPANT,
        format!("{actor} is not a participant of this conversation"),
    )
    .into()
}

/// Checks a message's text: NFC first, then 1-1000 characters, no control characters but a
/// newline, no surrounding white space, nothing that looks like an ID or mobile number.
///
/// # Errors
/// `message.bad_text`, `message.personal_data`.
pub fn check_text(text: &str) -> Result<String, Rejection> {
    // The byte length bounds the work before any normalisation (4 bytes per character at most,
    // and NFC can grow a text only a little).
    if text.len() > TEXT_CHARS_MAX * 4 {
        return Err(Rejection::new(
            &codes::MESSAGE_TEXT,
            format!("a message is at most {TEXT_CHARS_MAX} characters"),
        ));
    }
    let text = validate::nfc(text);
    validate::text("text", &text, 1, TEXT_CHARS_MAX, true)
        .map_err(|e| Rejection::new(&codes::MESSAGE_TEXT, e.to_string()))?;
    validate::no_personal_data("text", &text).map_err(|e| {
        Rejection::new(&codes::MESSAGE_PERSONAL_DATA, e.to_string()).with(json!({"field": "text"}))
    })?;
    Ok(text)
}

/// The participants of a conversation as the read models say now.
struct Participants {
    members: Vec<String>,
    /// Who may send the first message.
    openers: Vec<String>,
}

impl Node {
    /// The node's message store.
    #[must_use]
    pub fn messages(&self) -> &Arc<MessageStore> {
        &self.inner.messages
    }

    fn active_entrustment(&self, id: &str, agent: &str) -> Result<bool, MessageError> {
        Ok(match self.views().doc(id)? {
            Some(Doc::Entrustment(e)) => {
                e.agent == agent && e.status == "accepted" && e.expires_at_ms > self.now_ms()
            }
            _ => false,
        })
    }

    /// Every item of `owner`'s `relation` (at most the views' offset bound), stopping at the
    /// first for which `found` is true.
    fn scan_owned(
        &self,
        owner: &str,
        relation: Relation,
        mut found: impl FnMut(&Value) -> bool,
    ) -> Result<bool, MessageError> {
        let mut offset = 0;
        loop {
            let page = self.views().owned(
                owner,
                relation,
                Paging {
                    offset,
                    limit: deedlog_views::PAGE_LIMIT_MAX,
                },
            )?;
            if page.items.iter().any(&mut found) {
                return Ok(true);
            }
            match page.next_offset {
                Some(n) if n <= deedlog_views::PAGE_OFFSET_MAX => offset = n,
                _ => return Ok(false),
            }
        }
    }

    /// The participants of `c` now; who may open it only when `openers` is asked for (it scans
    /// the buyer's viewings, which a read does not need).
    fn participants(
        &self,
        c: &Conversation,
        openers: bool,
    ) -> Result<Option<Participants>, MessageError> {
        match c {
            Conversation::Listing { listing, buyer } => {
                let Some(Doc::Listing(l)) = self.views().doc(listing)? else {
                    return Ok(None);
                };
                if *buyer == l.seller || !IdKind::Party.matches(buyer) {
                    return Ok(None);
                }
                let Some(Doc::Party(p)) = self.views().doc(buyer)? else {
                    return Ok(None);
                };
                let mut members = vec![l.seller.clone(), buyer.clone()];
                if let (Some(agent), Some(en)) = (&l.agent, &l.entrustment)
                    && self.active_entrustment(en, &agent.id)?
                {
                    members.push(agent.id.clone());
                }
                let viewed = openers
                    && self.scan_owned(buyer, Relation::ViewingsBooked, |v| {
                        v.get("listing").and_then(Value::as_str) == Some(listing.as_str())
                    })?;
                let openers = if !openers {
                    Vec::new()
                } else if viewed {
                    members.clone()
                } else if l.status == "active" && p.verified {
                    vec![buyer.clone()]
                } else {
                    Vec::new()
                };
                Ok(Some(Participants { members, openers }))
            }
            Conversation::Contract { contract } => {
                let Some(Doc::Contract(k)) = self.views().doc(contract)? else {
                    return Ok(None);
                };
                let mut members = vec![k.buyer.clone(), k.seller.clone()];
                members.extend(k.agent.clone());
                let now = self.now_ms();
                let mut buyer_agents = Vec::new();
                self.scan_owned(&k.buyer, Relation::Entrustments, |e| {
                    let purchase =
                        e.pointer("/terms/type").and_then(Value::as_str) == Some("purchase");
                    let active = e.get("status").and_then(Value::as_str) == Some("accepted")
                        && e.get("expires_at_ms").and_then(Value::as_i64) > Some(now)
                        && e.get("principal").and_then(Value::as_str) == Some(k.buyer.as_str());
                    if purchase
                        && active
                        && let Some(a) = e.get("agent").and_then(Value::as_str)
                    {
                        buyer_agents.push(a.to_owned());
                    }
                    false
                })?;
                for a in buyer_agents {
                    if !members.contains(&a) {
                        members.push(a);
                    }
                }
                Ok(Some(Participants {
                    openers: members.clone(),
                    members,
                }))
            }
        }
    }

    fn member_of(
        &self,
        actor: &str,
        c: &Conversation,
        openers: bool,
    ) -> Result<Participants, MessageError> {
        match self.participants(c, openers)? {
            Some(p) if p.members.iter().any(|m| m == actor) => Ok(p),
            _ => Err(not_participant(actor)),
        }
    }

    /// Stores a message of `actor` (already authenticated) in `c`. `replay` identifies the
    /// signed request (the SHA-256 of its signature): the same request again answers the first
    /// message and stores nothing.
    ///
    /// # Errors
    /// `message.*` refusals (nothing stored), store errors.
    pub fn post_message(
        &self,
        actor: &str,
        c: &Conversation,
        text: &str,
        replay: [u8; 32],
    ) -> Result<Posted, MessageError> {
        let text = check_text(text)?;
        let p = self.member_of(actor, c, true)?;
        let may_open = p.openers.iter().any(|m| m == actor);
        self.messages().post(NewMessage {
            conversation: &c.id(),
            from: actor,
            text,
            members: &p.members,
            may_open,
            replay,
            now: self.now_ms(),
        })
    }

    /// The messages of `c` after number `after`, oldest first, at most `limit`, for `actor`
    /// (already authenticated); moves the actor's read mark to the last one returned.
    ///
    /// # Errors
    /// `message.not_participant`, store errors.
    pub fn conversation(
        &self,
        actor: &str,
        c: &Conversation,
        after: u64,
        limit: usize,
    ) -> Result<Value, MessageError> {
        let p = self.member_of(actor, c, false)?;
        let id = c.id();
        let (items, total) = self.messages().page(&id, after, limit.clamp(1, PAGE_MAX))?;
        if let Some(last) = items.last() {
            self.messages().mark_read(actor, &id, last.n)?;
        }
        let next_after = items.last().map_or(after, |m| m.n);
        let mut out = c.describe();
        out["conversation"] = json!(id);
        out["participants"] = json!(p.members);
        out["total"] = json!(total);
        out["items"] = serde_json::to_value(&items)?;
        out["next_after"] = json!(next_after);
        out["more"] = json!(next_after < total);
        Ok(out)
    }

    /// The conversations `actor` takes part in now, with the count of messages it has not read;
    /// a page of the actor's index in conversation-id order, with those it no longer takes part
    /// in left out.
    ///
    /// # Errors
    /// Store and view errors.
    pub fn my_conversations(
        &self,
        actor: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Value, MessageError> {
        let store = self.messages();
        let limit = limit.clamp(1, PAGE_MAX);
        let mut items = Vec::new();
        let mut next = None;
        for (i, item) in store
            .mine
            .scan_prefix(prefix(actor))
            .skip(offset)
            .enumerate()
        {
            if i == limit {
                next = Some(offset + limit);
                break;
            }
            let (k, v) = item?;
            let id = String::from_utf8_lossy(&k[actor.len() + 1..]).into_owned();
            let Some(c) = Conversation::parse(&id) else {
                continue;
            };
            let Some(meta) = store.meta(&id)? else {
                continue;
            };
            match self.participants(&c, false)? {
                Some(p) if p.members.iter().any(|m| m == actor) => {
                    let read = be64(&v);
                    let last = store.message(&id, meta.count)?;
                    let mut d = c.describe();
                    d["conversation"] = json!(id);
                    d["participants"] = json!(p.members);
                    d["total"] = json!(meta.count);
                    d["unread"] = json!(meta.count.saturating_sub(read));
                    d["last_at_ms"] = json!(meta.last_at_ms);
                    d["last_from"] = json!(last.map(|m| m.from));
                    items.push(d);
                }
                _ => {}
            }
        }
        Ok(json!({"items": items, "limit": limit, "offset": offset, "next_offset": next}))
    }
}

/// Finds the subjects of `erasure.record` entries among stored records (cheaply: only records
/// that name the event kind are decoded).
pub(crate) fn erased_subjects(records: &[Vec<u8>]) -> Vec<String> {
    const KIND: &[u8] = b"\"ErasureRecorded\"";
    let mut out = Vec::new();
    for record in records {
        if !record.windows(KIND.len()).any(|w| w == KIND) {
            continue;
        }
        let (bytes, opening) = deedlog_core::entry::split_record(record);
        if let Ok(entry) = deedlog_core::Entry::decode_with(bytes, opening)
            && entry.kind == "ErasureRecorded"
            && let Some(s) = entry.signed.payload.get("subject").and_then(Value::as_str)
        {
            out.push(s.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(
        per_conversation_max: u64,
        opened_per_actor_max: u64,
    ) -> (tempfile::TempDir, MessageStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = MessageStore::open(
            &dir.path().join("messages"),
            MessageLimits {
                per_conversation_max,
                opened_per_actor_max,
                ..MessageLimits::default()
            },
        )
        .unwrap();
        (dir, s)
    }

    fn post(s: &MessageStore, conv: &str, from: &str, n: u8) -> Result<Posted, MessageError> {
        let members = vec!["party/PA-a".to_owned(), "party/PA-b".to_owned()];
        s.post(NewMessage {
            conversation: conv,
            from,
            text: format!("消息 {n}"),
            members: &members,
            may_open: true,
            replay: [n; 32],
            now: 1_764_547_200_000 + i64::from(n),
        })
    }

    fn refused(r: Result<Posted, MessageError>) -> &'static str {
        match r {
            Err(MessageError::Refused(r)) => r.code,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_full_conversation_and_too_many_opened_are_refused_with_nothing_stored() {
        let (_d, s) = store(2, 1);
        post(&s, "contract/CT-1", "party/PA-a", 1).unwrap();
        post(&s, "contract/CT-1", "party/PA-b", 2).unwrap();
        assert_eq!(
            refused(post(&s, "contract/CT-1", "party/PA-a", 3)),
            "message.conversation_full"
        );
        // party/PA-a opened one conversation already; party/PA-b opened none.
        assert_eq!(
            refused(post(&s, "contract/CT-2", "party/PA-a", 4)),
            "message.too_many_conversations"
        );
        post(&s, "contract/CT-2", "party/PA-b", 5).unwrap();
        assert_eq!(
            (s.count("contract/CT-1").unwrap(), s.total().unwrap()),
            (2, 3)
        );
        // A replayed request answers the first message; the same signature elsewhere is refused.
        let again = post(&s, "contract/CT-1", "party/PA-b", 2).unwrap();
        assert!(again.duplicate);
        assert_eq!(again.message.n, 2);
        assert_eq!(
            refused(post(&s, "contract/CT-2", "party/PA-b", 2)),
            "message.not_participant"
        );
        assert_eq!(s.total().unwrap(), 3);
    }

    #[test]
    fn erasure_removes_only_the_subjects_texts_and_is_idempotent() {
        let (_d, s) = store(10, 10);
        post(&s, "contract/CT-1", "party/PA-a", 1).unwrap();
        post(&s, "contract/CT-1", "party/PA-b", 2).unwrap();
        assert_eq!(s.erase("party/PA-a").unwrap(), 1);
        assert_eq!(s.erase("party/PA-a").unwrap(), 0);
        assert_eq!(s.message("contract/CT-1", 1).unwrap().unwrap().text, None);
        assert_eq!(
            s.message("contract/CT-1", 2)
                .unwrap()
                .unwrap()
                .text
                .as_deref(),
            Some("消息 2")
        );
    }

    #[test]
    fn texts_are_normalised_bounded_and_free_of_personal_numbers() {
        assert_eq!(check_text("e\u{301}").unwrap(), "é");
        assert_eq!(
            check_text("周六上午十点，105 平米，总价 120 万")
                .unwrap()
                .chars()
                .count(),
            22
        );
        for (bad, code) in [
            ("", "message.bad_text"),
            (" x", "message.bad_text"),
            ("a\u{0}b", "message.bad_text"),
            ("电话 138-0000-0000", "message.personal_data"),
            ("身份证 53011119790512930X", "message.personal_data"),
        ] {
            assert_eq!(check_text(bad).unwrap_err().code, code, "{bad:?}");
        }
        assert_eq!(
            check_text(&"字".repeat(1001)).unwrap_err().code,
            "message.bad_text"
        );
        assert_eq!(
            check_text(&"x".repeat(5000)).unwrap_err().code,
            "message.bad_text"
        );
        assert!(check_text(&"字".repeat(1000)).is_ok());
        assert_eq!(
            Conversation::parse("listing/LS-1|party/PA-2"),
            Some(Conversation::Listing {
                listing: "listing/LS-1".into(),
                buyer: "party/PA-2".into()
            })
        );
        assert_eq!(Conversation::parse("listing/LS-1"), None);
        assert_eq!(Conversation::parse("contract/CT-1|x"), None);
    }
}
