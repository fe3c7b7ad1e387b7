//! Aggregate ids (which are also stream names and actor ids) and the derived codes the server
//! computes deterministically from the log position.
//!
//! An id is `<kind>/<PREFIX>-<suffix>`, e.g. `listing/LS-20240001`, with a suffix of 1 to 64
//! characters of `[A-Za-z0-9-]`. Parties, agents, banks and offices act under their id; the
//! authorities are `authority/housing`, `authority/identity` and `authority/registry`, and the
//! platform is `platform`.

use deedlog_core::hash::sha256;
use serde::Serialize;

/// The kinds of aggregate (one stream each) and of actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// `party/PA-…`: a registered citizen (seller, buyer, proxy, co-owner).
    Party,
    /// `agency/AG-…`: a certified agency.
    Agency,
    /// `agent/AT-…`: a certified agent; acts under this id.
    Agent,
    /// `bank/BK-…`: a bank answering loan pre-checks; acts under this id.
    Bank,
    /// `office/OF-…`: a filing office (办理点); acts under this id.
    Office,
    /// `property/PR-…`: a property on the registry.
    Property,
    /// `verification/PV-…`: a property verification (房源核验), i.e. a deal's root.
    Verification,
    /// `entrustment/EN-…`: a sale or purchase entrustment.
    Entrustment,
    /// `listing/LS-…`: a published listing.
    Listing,
    /// `viewing/VW-…`: a viewing appointment.
    Viewing,
    /// `precheck/LP-…`: a loan pre-check (贷款预审).
    Precheck,
    /// `contract/CT-…`: an online contract (网签).
    Contract,
    /// `proxy/PX-…`: a proxy filing (代理人备案).
    Proxy,
    /// `erasure/ER-…`: an erasure receipt.
    Erasure,
    /// `authority/housing`, `authority/identity`, `authority/registry`.
    Authority,
    /// `platform` (the platform operator) and `platform/genesis` (the genesis stream).
    Platform,
}

impl IdKind {
    /// The `(kind, prefix)` of ids with a prefix; `None` for authorities and the platform.
    #[must_use]
    pub fn shape(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Self::Party => ("party", "PA"),
            Self::Agency => ("agency", "AG"),
            Self::Agent => ("agent", "AT"),
            Self::Bank => ("bank", "BK"),
            Self::Office => ("office", "OF"),
            Self::Property => ("property", "PR"),
            Self::Verification => ("verification", "PV"),
            Self::Entrustment => ("entrustment", "EN"),
            Self::Listing => ("listing", "LS"),
            Self::Viewing => ("viewing", "VW"),
            Self::Precheck => ("precheck", "LP"),
            Self::Contract => ("contract", "CT"),
            Self::Proxy => ("proxy", "PX"),
            Self::Erasure => ("erasure", "ER"),
            Self::Authority | Self::Platform => return None,
        })
    }

    /// A pattern for documents, e.g. `listing/LS-…`.
    #[must_use]
    pub fn pattern(self) -> String {
        match self.shape() {
            Some((k, p)) => format!("{k}/{p}-…"),
            None if self == Self::Authority => "authority/{housing,identity,registry}".to_owned(),
            None => "platform/genesis` or `platform".to_owned(),
        }
    }

    /// Whether `id` is a well-formed id of this kind.
    #[must_use]
    pub fn matches(self, id: &str) -> bool {
        match self.shape() {
            Some((k, p)) => id
                .strip_prefix(k)
                .and_then(|r| r.strip_prefix('/'))
                .and_then(|r| r.strip_prefix(p))
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|s| {
                    (1..=64).contains(&s.len())
                        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }),
            None if self == Self::Authority => AUTHORITIES.contains(&id),
            None => id == PLATFORM || id == GENESIS_STREAM,
        }
    }

    /// Builds the id with the given suffix (not checked).
    #[must_use]
    pub fn id(self, suffix: &str) -> String {
        match self.shape() {
            Some((k, p)) => format!("{k}/{p}-{suffix}"),
            None => suffix.to_owned(),
        }
    }
}

/// The platform operator's actor id.
pub const PLATFORM: &str = "platform";
/// The genesis stream.
pub const GENESIS_STREAM: &str = "platform/genesis";
/// The housing authority (住建): certifies agencies and agents, registers banks and offices,
/// files contracts.
pub const HOUSING: &str = "authority/housing";
/// The identity authority: attests real-name + face verification.
pub const IDENTITY: &str = "authority/identity";
/// The property registry: registers properties, owners, mortgages and seizures.
pub const REGISTRY: &str = "authority/registry";
/// The three authorities genesis must name.
pub const AUTHORITIES: [&str; 3] = [HOUSING, IDENTITY, REGISTRY];

/// What kind of actor an actor id is, if any.
#[must_use]
pub fn actor_kind(actor: &str) -> Option<IdKind> {
    [
        IdKind::Party,
        IdKind::Agent,
        IdKind::Bank,
        IdKind::Office,
        IdKind::Authority,
    ]
    .into_iter()
    .find(|k| k.matches(actor))
    .or((actor == PLATFORM).then_some(IdKind::Platform))
}

/// The tag of each derived code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTag {
    /// A property verification code (核验码), prefix `PV`.
    Verification,
    /// A listing verification code (房源验真码), prefix `LV`.
    Listing,
    /// A contract filing code (备案码), prefix `FC`.
    Filing,
}

impl CodeTag {
    fn prefix(self) -> &'static str {
        match self {
            Self::Verification => "PV",
            Self::Listing => "LV",
            Self::Filing => "FC",
        }
    }
}

/// A derived code, a pure function of where the entry sits in the log:
///
/// ```text
/// code = PREFIX || "-" || upper_hex(SHA-256("deedlog/code/v1\n" || PREFIX || "\n" || seq || "\n" || stream))[0..16]
/// ```
///
/// with `seq` in decimal. An auditor recomputes it from the entry alone; 64 bits make a collision
/// among a city's codes negligible, and codes are indexed with their entry anyway.
#[must_use]
pub fn derived_code(tag: CodeTag, seq: u64, stream: &str) -> String {
    let msg = format!("deedlog/code/v1\n{}\n{seq}\n{stream}", tag.prefix());
    let digest = sha256(msg.as_bytes());
    let mut out = String::with_capacity(19);
    out.push_str(tag.prefix());
    out.push('-');
    for b in &digest[..8] {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_their_kind() {
        assert!(IdKind::Listing.matches("listing/LS-1"));
        assert!(!IdKind::Listing.matches("listing/LS-"));
        assert!(!IdKind::Listing.matches("listing/PA-1"));
        assert!(!IdKind::Listing.matches("listing/LS-a_b"));
        assert!(IdKind::Authority.matches(HOUSING));
        assert!(!IdKind::Authority.matches("authority/other"));
        assert_eq!(actor_kind("agent/AT-7"), Some(IdKind::Agent));
        assert_eq!(actor_kind("platform"), Some(IdKind::Platform));
        assert_eq!(actor_kind("listing/LS-1"), None);
    }

    #[test]
    fn codes_are_deterministic_and_distinct() {
        let a = derived_code(CodeTag::Filing, 7, "contract/CT-1");
        assert_eq!(a, derived_code(CodeTag::Filing, 7, "contract/CT-1"));
        assert_ne!(a, derived_code(CodeTag::Filing, 8, "contract/CT-1"));
        assert_ne!(a, derived_code(CodeTag::Listing, 7, "contract/CT-1"));
        assert_eq!(a.len(), 19);
        assert!(a.starts_with("FC-"));
    }
}
