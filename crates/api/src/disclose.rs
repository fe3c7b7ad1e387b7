//! Who sees what: whether a reader may have an entry's opening (its payload and salt).
//!
//! Every entry's bytes are public: anyone can check its existence, position, chain link, signer,
//! signature and inclusion. The payload travels beside it and is served by the kind's visibility
//! in the authorization table (EVENTS.md, "Payload visibility"):
//!
//! - **public**: to everyone;
//! - **public once shown** (listing proposals): to everyone once the change shows (it took
//!   effect at once or the seller approved it); before that, and forever if rejected, as
//!   confidential;
//! - **confidential**: only to a signed request by the entry's signer, a party of its stream (the
//!   roles that may read the stream's private document), `authority/housing`, or a registered
//!   auditor (`ApiConfig::auditors`).
//!
//! An unsigned request is the public. A request that carries signature headers must verify
//! (401 otherwise), so that a client never mistakes a redacted answer for a whole one.
//! Version-1 entries hold their payload in clear and have no opening: they are served as they are.

use actix_web::HttpRequest;
use deedlog_core::LoggedEntry;
use deedlog_core::entry::split_record;
use deedlog_domain::ids;
use deedlog_domain::table::{self, Visibility};
use deedlog_views::docs::Doc;

use crate::AppState;
use crate::auth;
use crate::error::ApiError;

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// An unsigned request.
    Public,
    /// An authenticated actor (or registered auditor).
    Actor(String),
}

impl Reader {
    /// The reader of a request: the public when it carries no `x-deedlog-actor` header, else the
    /// actor its signed headers prove (the body signed is empty: these are GET requests).
    ///
    /// # Errors
    /// 401 when the headers are present but do not verify.
    pub fn of(req: &HttpRequest, state: &AppState) -> Result<Self, ApiError> {
        if req.headers().get(auth::HEADER_ACTOR).is_none() {
            return Ok(Self::Public);
        }
        auth::authenticate(req, b"", state).map(Self::Actor)
    }
}

/// The visibility of a command kind (unknown kinds, which the log never holds, are confidential).
#[must_use]
pub fn visibility(command_kind: &str) -> Visibility {
    table::spec(command_kind).map_or(Visibility::Confidential, |s| s.visibility)
}

/// Whether `reader` may have the opening of `entry`.
///
/// # Errors
/// View errors.
pub fn may_open(state: &AppState, reader: &Reader, entry: &LoggedEntry) -> Result<bool, ApiError> {
    match visibility(entry.command_kind()) {
        Visibility::Public => return Ok(true),
        Visibility::PublicOnceShown if state.node.views().is_shown(entry.seq)? => return Ok(true),
        Visibility::PublicOnceShown | Visibility::Confidential => {}
    }
    let Reader::Actor(actor) = reader else {
        return Ok(false);
    };
    if actor == ids::HOUSING || state.config.auditors.iter().any(|a| &a.actor == actor) {
        return Ok(true);
    }
    if actor == entry.actor() || actor == &entry.stream {
        return Ok(true);
    }
    is_party(state, actor, &entry.stream)
}

/// Whether `actor` is a party of `stream`: one of the roles that may read its private document.
fn is_party(state: &AppState, actor: &str, stream: &str) -> Result<bool, ApiError> {
    let Some(doc) = state.node.views().doc(stream)? else {
        return Ok(false);
    };
    Ok(match &doc {
        Doc::Listing(l) => l.seller == actor || l.agent.as_ref().is_some_and(|a| a.id == actor),
        other => crate::routes::private::may_read(actor, other),
    })
}

/// Entry `seq` as `reader` may see it: its bytes, and its opening when allowed.
///
/// # Errors
/// Store and view errors.
pub fn served(
    state: &AppState,
    reader: &Reader,
    seq: u64,
) -> Result<(Vec<u8>, Option<Vec<u8>>), ApiError> {
    let record = state.node.reader().record(seq)?;
    let (bytes, opening) = split_record(&record);
    let opening = match opening {
        None => None,
        Some(o) => {
            let logged = LoggedEntry::decode(bytes).map_err(|e| ApiError::internal(&e))?;
            may_open(state, reader, &logged)?.then(|| o.to_vec())
        }
    };
    Ok((bytes.to_vec(), opening))
}
