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
    /// The code's prefix, e.g. `LV`.
    #[must_use]
    pub fn prefix(self) -> &'static str {
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

/// Crockford's base32 alphabet (digits and letters without I, L, O and U), in value order.
pub const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// The five extra check symbols of Crockford's definition, for check values 32 to 36.
const CHECK_EXTRA: &[u8; 5] = b"*~$=U";

/// The value of one Crockford symbol when decoding: case-insensitive, `I` and `L` read as 1 and
/// `O` as 0 (the letters a person most often writes for those digits).
fn crockford_value(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    match c {
        b'I' | b'L' => Some(1),
        b'O' => Some(0),
        _ => CROCKFORD
            .iter()
            .position(|&s| s == c)
            .and_then(|v| u8::try_from(v).ok()),
    }
}

/// The check symbol of `value`: `value mod 37` spelt with the 32 data symbols then `*~$=U`.
///
/// 37 is prime and larger than every symbol value, so changing one symbol (a difference of
/// `d·32^i` with `0 < |d| < 32`) or swapping two adjacent ones (`(a−b)·31·32^i`) always changes
/// the remainder: both kinds of mistake are caught, which the tests check exhaustively.
#[must_use]
pub fn crockford_check(value: u64) -> char {
    let r = usize::try_from(value % 37).unwrap_or(0);
    char::from(if r < 32 {
        CROCKFORD[r]
    } else {
        CHECK_EXTRA[r - 32]
    })
}

/// The 13 symbols of `value` in Crockford base32, most significant first (65 bits, so the
/// first symbol is at most F).
#[must_use]
pub fn crockford_encode(value: u64) -> String {
    (0..13)
        .rev()
        .map(|i| char::from(CROCKFORD[usize::try_from((value >> (5 * i)) & 31).unwrap_or(0)]))
        .collect()
}

/// How a typed code failed to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// A symbol outside the alphabet, the wrong number of symbols, an unknown prefix, or a check
    /// symbol that does not match: the code was mistyped (no code can look like this).
    #[error("the code is mistyped: {0}")]
    Mistyped(String),
}

/// The longest code text read (with hyphens and spaces); longer input is mistyped unread.
pub const CODE_TEXT_MAX: usize = 64;

/// Reads a code typed or scanned by a person and returns its tag and its form on the log (the
/// `v1` hex form of [`derived_code`], which is what the entries carry and the indexes key on).
///
/// Two spellings are read. The spoken form ([`spoken_code`]), e.g. `FC-0M6SC-7N75Y-R3H$`:
/// the prefix, 13 Crockford symbols and the check symbol, case-insensitive, `I`/`L` read as 1,
/// `O` as 0, hyphens and spaces ignored. And the v1 form, `LV-` and 16 hex digits, read as
/// before so that every code ever printed stays valid; it has no check symbol, so a typo in it
/// can only be told as "unknown".
///
/// # Errors
/// [`CodeError::Mistyped`] with the reason in words.
pub fn parse_code(text: &str) -> Result<(CodeTag, String), CodeError> {
    if text.len() > CODE_TEXT_MAX {
        return Err(CodeError::Mistyped(format!(
            "longer than {CODE_TEXT_MAX} characters"
        )));
    }
    let t = text.trim();
    let (head, rest) = t
        .split_once('-')
        .ok_or_else(|| CodeError::Mistyped("no prefix (LV-, FC- or PV-)".into()))?;
    let tag = match head.to_ascii_uppercase().as_str() {
        "LV" => CodeTag::Listing,
        "FC" => CodeTag::Filing,
        "PV" => CodeTag::Verification,
        other => {
            return Err(CodeError::Mistyped(format!(
                "unknown prefix {other:?} (LV-, FC- or PV-)"
            )));
        }
    };
    // The v1 form: exactly 16 hex digits right after the prefix, no grouping.
    if rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok((
            tag,
            format!("{}-{}", tag.prefix(), rest.to_ascii_uppercase()),
        ));
    }
    let symbols: Vec<u8> = rest.bytes().filter(|b| *b != b'-' && *b != b' ').collect();
    if symbols.len() != 14 {
        return Err(CodeError::Mistyped(format!(
            "{} symbols after the prefix, not 14",
            symbols.len()
        )));
    }
    let mut value: u64 = 0;
    for (i, &c) in symbols[..13].iter().enumerate() {
        let v = crockford_value(c).ok_or_else(|| {
            CodeError::Mistyped(format!("{:?} is not a code symbol", char::from(c)))
        })?;
        if i == 0 && v > 15 {
            // 13 symbols hold 65 bits; a code is 64, so the first symbol is at most F.
            return Err(CodeError::Mistyped(
                "the first symbol can only be 0 to F".into(),
            ));
        }
        value = (value << 5) | u64::from(v);
    }
    let typed = symbols[13].to_ascii_uppercase();
    let typed_value = match typed {
        b'*' | b'~' | b'$' | b'=' | b'U' => Some(typed),
        _ => crockford_value(typed).map(|v| CROCKFORD[usize::from(v)]),
    };
    if typed_value.map(char::from) != Some(crockford_check(value)) {
        return Err(CodeError::Mistyped(
            "the check symbol does not match: a symbol is wrong or two are swapped".into(),
        ));
    }
    Ok((tag, format!("{}-{value:016X}", tag.prefix())))
}

/// The spoken form of a code on the log (v1 form `PREFIX-` and 16 hex digits): the same 64 bits
/// as 13 Crockford symbols and a check symbol, grouped 5-5-3+check for reading aloud, e.g.
/// `FC-0M6SC-7N75Y-R3H$` for `FC-0A1B2C3D4E5F6071`. `None` when `v1` is not a v1 code.
///
/// The 64 bits are kept, not shortened: the spoken form is a lossless spelling of the code the
/// log carries, so nothing on the log changes and every v1 code stays valid; and 64 bits keep a
/// guessed code worthless (a city's ten million codes fill 2^-40 of the space) and collisions
/// negligible, while 14 symbols are still readable in one breath.
#[must_use]
pub fn spoken_code(v1: &str) -> Option<String> {
    let (prefix, hex) = v1.split_once('-')?;
    if !matches!(prefix, "LV" | "FC" | "PV") || hex.len() != 16 {
        return None;
    }
    let value = u64::from_str_radix(hex, 16).ok()?;
    let s = crockford_encode(value);
    Some(format!(
        "{prefix}-{}-{}-{}{}",
        &s[..5],
        &s[5..10],
        &s[10..13],
        crockford_check(value)
    ))
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

    #[test]
    fn the_documented_example_holds() {
        assert_eq!(
            spoken_code("FC-0A1B2C3D4E5F6071").as_deref(),
            Some("FC-0M6SC-7N75Y-R3H$")
        );
    }

    #[test]
    fn spoken_codes_round_trip_and_read_both_forms() {
        let v1 = derived_code(CodeTag::Listing, 42, "listing/LS-9");
        let spoken = spoken_code(&v1).unwrap_or_default();
        assert_eq!(spoken.len(), "LV-".len() + 14 + 2);
        assert_eq!(parse_code(&spoken), Ok((CodeTag::Listing, v1.clone())));
        assert_eq!(parse_code(&v1), Ok((CodeTag::Listing, v1.clone())));
        assert_eq!(
            parse_code(&v1.to_lowercase()),
            Ok((CodeTag::Listing, v1.clone()))
        );
        let loose = spoken
            .to_lowercase()
            .replace('-', " ")
            .replacen(' ', "-", 1);
        assert_eq!(parse_code(&loose), Ok((CodeTag::Listing, v1.clone())));
        // Crockford's aliases: I and L are 1, O is 0.
        let zeros = spoken_code("FC-0000000000000001").unwrap_or_default();
        assert_eq!(zeros, "FC-00000-00000-001".to_owned() + "1");
        assert_eq!(
            parse_code("fc-ooooo-ooooo-oolI"),
            Ok((CodeTag::Filing, "FC-0000000000000001".into()))
        );
        assert!(matches!(
            parse_code("XX-0000000000000001"),
            Err(CodeError::Mistyped(_))
        ));
        assert!(matches!(
            parse_code("FC-00000-00000-00U1"),
            Err(CodeError::Mistyped(_))
        ));
        assert!(matches!(
            parse_code("FC-G0000-00000-0011"),
            Err(CodeError::Mistyped(_))
        ));
        assert!(matches!(
            parse_code(&"F".repeat(65)),
            Err(CodeError::Mistyped(_))
        ));
        // The largest value uses a check symbol beyond the data alphabet's range or not, but
        // round-trips either way.
        let max = spoken_code("PV-FFFFFFFFFFFFFFFF").unwrap_or_default();
        assert_eq!(
            parse_code(&max),
            Ok((CodeTag::Verification, "PV-FFFFFFFFFFFFFFFF".into()))
        );
    }
}
