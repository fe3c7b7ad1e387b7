//! The spoken codes' check symbol: every single-symbol substitution and every adjacent
//! transposition of a spoken code is refused as mistyped, never read as another code.

use deedlog_domain::ids::{CROCKFORD, CodeError, CodeTag, parse_code, spoken_code};
use proptest::prelude::*;

/// Every symbol a check position may hold.
const CHECK_SYMBOLS: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// The 14 symbols of a spoken code (prefix and hyphens removed).
fn symbols(spoken: &str) -> Vec<u8> {
    spoken[3..].bytes().filter(|b| *b != b'-').collect()
}

fn rebuild(prefix: &str, s: &[u8]) -> String {
    format!("{prefix}-{}", String::from_utf8_lossy(s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn round_trip(value: u64) {
        let v1 = format!("LV-{value:016X}");
        let spoken = spoken_code(&v1).unwrap_or_default();
        prop_assert_eq!(parse_code(&spoken), Ok((CodeTag::Listing, v1.clone())));
        prop_assert_eq!(parse_code(&spoken.to_lowercase()), Ok((CodeTag::Listing, v1)));
    }

    #[test]
    fn every_substitution_is_caught(value: u64) {
        let spoken = spoken_code(&format!("FC-{value:016X}")).unwrap_or_default();
        let s = symbols(&spoken);
        for i in 0..s.len() {
            let alphabet: &[u8] = if i == 13 { CHECK_SYMBOLS } else { CROCKFORD };
            for &c in alphabet {
                if c == s[i] {
                    continue;
                }
                let mut t = s.clone();
                t[i] = c;
                let typed = rebuild("FC", &t);
                prop_assert!(matches!(parse_code(&typed), Err(CodeError::Mistyped(_))),
                    "{typed} (from {spoken}) was read");
            }
        }
    }

    #[test]
    fn every_adjacent_transposition_is_caught(value: u64) {
        let spoken = spoken_code(&format!("PV-{value:016X}")).unwrap_or_default();
        let s = symbols(&spoken);
        for i in 0..s.len() - 1 {
            if s[i] == s[i + 1] {
                continue;
            }
            let mut t = s.clone();
            t.swap(i, i + 1);
            let typed = rebuild("PV", &t);
            prop_assert!(matches!(parse_code(&typed), Err(CodeError::Mistyped(_))),
                "{typed} (from {spoken}) was read");
        }
    }
}
