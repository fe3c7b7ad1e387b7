//! The key layout of the views' one keyspace. Components are separated by a 0 byte (ids, codes
//! and districts never hold one); numbers are fixed-width big-endian so that byte order is
//! numeric order.
//!
//! ```text
//! m\0applied                                   u64 entries applied (the cursor)
//! m\0last_leaf                                 leaf hash of entry applied-1
//! d\0<id>                                      the document of <id> (canonical JSON)
//! l\0<district|*>\0<t|p|a><u64 sort key><id>   active listings by time (created seq), price, area
//!                                              -> price u64, area u64, rooms u8
//! r\0<agency|*>\0<!score u64><!count u64><id>  agents offered to sellers, best first
//! o\0<owner>\0<relation>\0<!created u64><id>   an actor's documents, newest first
//! q\0<queue>\0<created u64><id>                an authority's queue, oldest first
//! h\0<sha256 hex>\0<id>                        where a file hash appears -> {what, id, seq}
//! c\0<code>                                    derived code -> id
//! k\0<actor>                                   the actor's current key -> {actor, key, since_seq}
//! p\0<phone commitment>                        -> party id
//! u\0<public key base64>                       -> the actor it was ever registered to
//! ```

use crate::ViewError;

/// The cursor key.
pub const META_APPLIED: &[u8] = b"m\0applied";
/// The last leaf hash key.
pub const META_LAST_LEAF: &[u8] = b"m\0last_leaf";
/// Sort tag: created seq.
pub const SORT_TIME: u8 = b't';
/// Sort tag: price.
pub const SORT_PRICE: u8 = b'p';
/// Sort tag: area.
pub const SORT_AREA: u8 = b'a';

/// How an owner relates to the documents of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Property verifications (seller or consenting co-owner).
    Verifications,
    /// Entrustments (principal or agent).
    Entrustments,
    /// Listings (seller or agent).
    Listings,
    /// Viewings booked (buyer).
    ViewingsBooked,
    /// Viewings of listings sold or handled (seller's viewing records, agent's viewings).
    ViewingRecords,
    /// Loan pre-checks (buyer or bank).
    Prechecks,
    /// Pre-checks not yet assessed (bank).
    PrechecksPending,
    /// Contracts (buyer, seller or agent).
    Contracts,
    /// Proxy filings (proxy or principal).
    Proxies,
}

impl Relation {
    fn tag(self) -> &'static [u8] {
        match self {
            Self::Verifications => b"ver",
            Self::Entrustments => b"ent",
            Self::Listings => b"lst",
            Self::ViewingsBooked => b"vwb",
            Self::ViewingRecords => b"vws",
            Self::Prechecks => b"pre",
            Self::PrechecksPending => b"prp",
            Self::Contracts => b"con",
            Self::Proxies => b"prx",
        }
    }
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        out.extend_from_slice(p);
        out.push(0);
    }
    out
}

/// Reads a big-endian u64 value.
#[must_use]
pub fn read_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

/// `d\0<id>`.
#[must_use]
pub fn doc(id: &str) -> Vec<u8> {
    let mut k = b"d\0".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// `l\0<district|*>\0<tag>`.
#[must_use]
pub fn listing_prefix(district: Option<&str>, tag: u8) -> Vec<u8> {
    let mut k = join(&[b"l", district.unwrap_or("*").as_bytes()]);
    k.push(tag);
    k
}

/// One listing index key.
#[must_use]
pub fn listing(district: Option<&str>, tag: u8, sort: u64, id: &str) -> Vec<u8> {
    let mut k = listing_prefix(district, tag);
    k.extend_from_slice(&sort.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// What a listing index value holds, for filtering without reading the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingSummaryKey {
    /// Price in fen.
    pub price_fen: u64,
    /// Area in 0.01 m².
    pub area_centi_m2: u64,
    /// Bedrooms.
    pub rooms: u8,
}

impl ListingSummaryKey {
    /// The value bytes.
    #[must_use]
    pub fn write(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(17);
        v.extend_from_slice(&self.price_fen.to_be_bytes());
        v.extend_from_slice(&self.area_centi_m2.to_be_bytes());
        v.push(self.rooms);
        v
    }

    /// Parses value bytes.
    #[must_use]
    pub fn read(v: &[u8]) -> Option<Self> {
        if v.len() != 17 {
            return None;
        }
        Some(Self {
            price_fen: read_u64(&v[0..8])?,
            area_centi_m2: read_u64(&v[8..16])?,
            rooms: v[16],
        })
    }
}

/// `r\0<agency|*>\0`.
#[must_use]
pub fn rating_prefix(agency: Option<&str>) -> Vec<u8> {
    join(&[b"r", agency.unwrap_or("*").as_bytes()])
}

/// One rating index key: best score first, then most ratings, then id.
#[must_use]
pub fn rating(agency: Option<&str>, score_x100: u64, count: u64, id: &str) -> Vec<u8> {
    let mut k = rating_prefix(agency);
    k.extend_from_slice(&(!score_x100).to_be_bytes());
    k.extend_from_slice(&(!count).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// `o\0<owner>\0<relation>\0`.
#[must_use]
pub fn owned_prefix(owner: &str, relation: Relation) -> Vec<u8> {
    join(&[b"o", owner.as_bytes(), relation.tag()])
}

/// One ownership key, newest first.
#[must_use]
pub fn owned(owner: &str, relation: Relation, created_seq: u64, id: &str) -> Vec<u8> {
    let mut k = owned_prefix(owner, relation);
    k.extend_from_slice(&(!created_seq).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// `q\0<queue>\0`.
#[must_use]
pub fn queue_prefix(queue: &str) -> Vec<u8> {
    join(&[b"q", queue.as_bytes()])
}

/// One queue key, oldest first.
#[must_use]
pub fn queue(queue: &str, created_seq: u64, id: &str) -> Vec<u8> {
    let mut k = queue_prefix(queue);
    k.extend_from_slice(&created_seq.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// `h\0<hex>\0`.
#[must_use]
pub fn hash_prefix(hex: &str) -> Vec<u8> {
    join(&[b"h", hex.as_bytes()])
}

/// One hash key.
#[must_use]
pub fn hash(hex: &str, id: &str) -> Vec<u8> {
    let mut k = hash_prefix(hex);
    k.extend_from_slice(id.as_bytes());
    k
}

/// `c\0<code>`.
#[must_use]
pub fn code(code: &str) -> Vec<u8> {
    let mut k = b"c\0".to_vec();
    k.extend_from_slice(code.as_bytes());
    k
}

/// `k\0<actor>`.
#[must_use]
pub fn actor_key(actor: &str) -> Vec<u8> {
    let mut k = b"k\0".to_vec();
    k.extend_from_slice(actor.as_bytes());
    k
}

/// `s\0<seq, 8 bytes big-endian>`: a listing proposal (publish, price or photo change) that
/// shows, so its entry's payload is public.
#[must_use]
pub fn shown(seq: u64) -> Vec<u8> {
    let mut k = b"s\0".to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `u\0<public key>`: a key once registered (keys are never reused).
#[must_use]
pub fn key_user(key: &str) -> Vec<u8> {
    let mut k = b"u\0".to_vec();
    k.extend_from_slice(key.as_bytes());
    k
}

/// `p\0<commitment>`.
#[must_use]
pub fn phone(commitment: &str) -> Vec<u8> {
    let mut k = b"p\0".to_vec();
    k.extend_from_slice(commitment.as_bytes());
    k
}

/// The id at the end of an index key, after `skip` bytes.
///
/// # Errors
/// [`ViewError::Corrupt`] when the key is too short or the id is not UTF-8.
pub fn id_after(key: &[u8], skip: usize) -> Result<String, ViewError> {
    key.get(skip..)
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(str::to_owned)
        .ok_or_else(|| ViewError::Corrupt("an index key is malformed".into()))
}
