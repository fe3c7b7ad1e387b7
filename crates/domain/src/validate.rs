//! Pure input validators: resident ID numbers, mobile numbers, certificate numbers, money,
//! areas, time windows, hashes, commitments and text. The API and the vault call them before
//! anything is committed; `decide` calls them on every payload.
//!
//! Text policy: the server cannot change signed bytes, so text must already be Unicode NFC when
//! it is signed. Text that is not NFC is **refused** ([`ValidationError::NotNfc`]); clients
//! normalise before signing (the testkit does).

use unicode_normalization::{UnicodeNormalization, is_nfc};

/// The smallest amount of money accepted, in fen (0.01 yuan).
pub const MONEY_FEN_MIN: u64 = 1;
/// The largest amount of money accepted, in fen: 10^12 fen = 10 billion yuan.
pub const MONEY_FEN_MAX: u64 = 1_000_000_000_000;
/// The smallest floor area, in hundredths of a square metre (1 m²).
pub const AREA_CENTI_M2_MIN: u64 = 100;
/// The largest floor area, in hundredths of a square metre (100 000 m²).
pub const AREA_CENTI_M2_MAX: u64 = 10_000_000;
/// Photos per listing, at most.
pub const PHOTOS_MAX: usize = 30;
/// Document hashes per proxy filing, at most.
pub const DOCUMENTS_MAX: usize = 10;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A resident ID number is not 18 characters of 17 digits and a check character.
    #[error("{field}: a resident ID number is 17 digits and a check character (0-9 or X)")]
    IdFormat {
        /// The field.
        field: String,
    },
    /// The province code (first two digits) is not a valid one.
    #[error("{field}: the ID number's region code is not a valid province")]
    IdRegion {
        /// The field.
        field: String,
    },
    /// The birth date (digits 7-14) is not a real date from 1900 on.
    #[error("{field}: the ID number's birth date is not a valid date")]
    IdBirthDate {
        /// The field.
        field: String,
    },
    /// The check character does not match (GB 11643-1999, ISO 7064 MOD 11-2).
    #[error("{field}: the ID number's check character should be {expected}")]
    IdCheck {
        /// The field.
        field: String,
        /// The check character the first 17 digits call for.
        expected: char,
    },
    /// Not an 11-digit mainland mobile number starting 13-19.
    #[error("{field}: a mainland mobile number is 11 digits starting with 13 to 19")]
    Mobile {
        /// The field.
        field: String,
    },
    /// Neither certificate format.
    #[error(
        "{field}: expected 省(年份)市县不动产权第NNNNNNN号 or 市房权证区字第NNNNNN号 (see validate::certificate_no)"
    )]
    Certificate {
        /// The field.
        field: String,
    },
    /// A number is outside its bounds.
    #[error("{field}: {value} is outside {min}..={max}")]
    Range {
        /// The field.
        field: String,
        /// The value found.
        value: i128,
        /// The smallest allowed.
        min: i128,
        /// The largest allowed.
        max: i128,
    },
    /// A time window is empty, starts too early, or is too long.
    #[error("{field}: {reason}")]
    Window {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Not 64 lower-case hex digits.
    #[error("{field}: expected 64 lower-case hex digits")]
    Hex64 {
        /// The field.
        field: String,
    },
    /// Too many items, or repeated items.
    #[error("{field}: {reason}")]
    List {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Text too short or too long (in characters).
    #[error("{field}: text must be {min} to {max} characters, got {got}")]
    TextLength {
        /// The field.
        field: String,
        /// Characters found.
        got: usize,
        /// Fewest allowed.
        min: usize,
        /// Most allowed.
        max: usize,
    },
    /// Text holds control characters (other than a newline where allowed) or surrounding spaces.
    #[error("{field}: text holds control characters or leading/trailing white space")]
    TextChars {
        /// The field.
        field: String,
    },
    /// Text is not in Unicode NFC.
    #[error("{field}: text is not Unicode NFC; normalise it before signing")]
    NotNfc {
        /// The field.
        field: String,
    },
    /// Free text holds what looks like an ID number or a mobile number.
    #[error(
        "{field}: the text holds what looks like {what}; personal data goes only to the vault, \
         never into a command"
    )]
    PersonalData {
        /// The field.
        field: String,
        /// "an ID number" or "a mobile number".
        what: &'static str,
    },
}

impl ValidationError {
    /// The field the error is about.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            Self::IdFormat { field }
            | Self::IdRegion { field }
            | Self::IdBirthDate { field }
            | Self::IdCheck { field, .. }
            | Self::Mobile { field }
            | Self::Certificate { field }
            | Self::Range { field, .. }
            | Self::Window { field, .. }
            | Self::Hex64 { field }
            | Self::List { field, .. }
            | Self::TextLength { field, .. }
            | Self::TextChars { field }
            | Self::NotNfc { field }
            | Self::PersonalData { field, .. } => field,
        }
    }
}

/// A valid 18-character resident ID number (GB 11643-1999), upper-case `X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentId {
    /// The normalised number (a trailing `x` becomes `X`).
    pub number: String,
    /// Birth date as `yyyymmdd`.
    pub birth_date: u32,
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
const PROVINCES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// The check character of the first 17 digits (ISO 7064 MOD 11-2):
/// `S = Σ digit_i × w_i` with `w = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2`, and the check character
/// is `"10X98765432"[S mod 11]`.
#[must_use]
pub fn id_check_char(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK[(sum % 11) as usize]
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn valid_date(y: u32, m: u32, d: u32) -> bool {
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2099).contains(&y) && (1..=days).contains(&d)
}

/// Validates an 18-character resident ID number: 17 digits, a valid province code, a real birth
/// date (1900-2099) and the GB 11643-1999 check character (`x` is accepted and normalised).
///
/// # Errors
/// The first rule broken.
pub fn resident_id(field: &str, text: &str) -> Result<ResidentId, ValidationError> {
    let bytes = text.as_bytes();
    let format = || ValidationError::IdFormat {
        field: field.to_owned(),
    };
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(format());
    }
    let last = bytes[17].to_ascii_uppercase();
    if !(last.is_ascii_digit() || last == b'X') {
        return Err(format());
    }
    let num = |r: std::ops::Range<usize>| {
        bytes[r]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    if !PROVINCES.contains(&num(0..2)) {
        return Err(ValidationError::IdRegion {
            field: field.to_owned(),
        });
    }
    let (y, m, d) = (num(6..10), num(10..12), num(12..14));
    if !valid_date(y, m, d) {
        return Err(ValidationError::IdBirthDate {
            field: field.to_owned(),
        });
    }
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(&bytes[..17]);
    let expected = id_check_char(&first17);
    if char::from(last) != expected {
        return Err(ValidationError::IdCheck {
            field: field.to_owned(),
            expected,
        });
    }
    let mut number = text[..17].to_owned();
    number.push(expected);
    Ok(ResidentId {
        number,
        birth_date: y * 10_000 + m * 100 + d,
    })
}

/// Validates a mainland mobile number: 11 digits, `1[3-9]` then 9 digits. A leading `+86` or
/// `86` (with an optional space or dash) is accepted and dropped; the result is the 11 digits.
///
/// # Errors
/// [`ValidationError::Mobile`].
pub fn mobile(field: &str, text: &str) -> Result<String, ValidationError> {
    let rest = text
        .strip_prefix("+86")
        .or_else(|| text.strip_prefix("0086"))
        .map_or(text, |r| r.trim_start_matches([' ', '-']));
    let b = rest.as_bytes();
    if b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
    {
        Ok(rest.to_owned())
    } else {
        Err(ValidationError::Mobile {
            field: field.to_owned(),
        })
    }
}

/// Which of the two certificate formats a number is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateFormat {
    /// 不动产权证号 (real-estate title certificate, since 2015).
    RealEstate,
    /// 房屋所有权证号 (the older house-ownership certificate).
    HouseOwnership,
}

/// A certificate number in its normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNo {
    /// The normal form: ASCII parentheses, no white space.
    pub normal: String,
    /// Which format.
    pub format: CertificateFormat,
}

const PROVINCE_ABBREVIATIONS: &str =
    "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼港澳台";

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Validates a property certificate number in either format and returns its normal form.
///
/// - 不动产权证号: `P(YYYY)PLACE不动产权第NNNNNNN号`, where `P` is one province abbreviation
///   (云, 京, …), `YYYY` a year 1990-2099, `PLACE` 2-20 CJK characters (the city or county,
///   e.g. 昆明市) and `NNNNNNN` exactly 7 digits. Full-width parentheses `（）` are accepted and
///   normalised to ASCII `()`. Example: `云(2021)昆明市不动产权第0012345号`.
/// - 房屋所有权证号: `CITY房权证DISTRICT字第N…N号`, where `CITY` is 2-10 CJK characters,
///   `DISTRICT` 1-10 CJK characters and the number 6-12 digits.
///   Example: `昆明市房权证五华区字第201012345号`.
///
/// White space anywhere is refused rather than removed.
///
/// # Errors
/// [`ValidationError::Certificate`].
pub fn certificate_no(field: &str, text: &str) -> Result<CertificateNo, ValidationError> {
    let err = || ValidationError::Certificate {
        field: field.to_owned(),
    };
    let normal: String = text
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c,
        })
        .collect();
    if let Some(ok) = real_estate(&normal) {
        return if ok {
            Ok(CertificateNo {
                normal,
                format: CertificateFormat::RealEstate,
            })
        } else {
            Err(err())
        };
    }
    if house_ownership(&normal) {
        return Ok(CertificateNo {
            normal,
            format: CertificateFormat::HouseOwnership,
        });
    }
    Err(err())
}

/// `None` when the text is not even shaped like a 不动产权 number; `Some(valid)` otherwise.
fn real_estate(s: &str) -> Option<bool> {
    let mut chars = s.chars();
    let p = chars.next()?;
    if chars.next()? != '(' {
        return None;
    }
    let rest: String = chars.collect();
    let (year, rest) = rest.split_once(')')?;
    let (place, rest) = rest.split_once("不动产权第")?;
    let number = rest.strip_suffix('号')?;
    let year_ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && year
            .parse::<u32>()
            .is_ok_and(|y| (1990..=2099).contains(&y));
    let place_n = place.chars().count();
    Some(
        PROVINCE_ABBREVIATIONS.contains(p)
            && year_ok
            && (2..=20).contains(&place_n)
            && place.chars().all(is_cjk)
            && number.len() == 7
            && number.bytes().all(|b| b.is_ascii_digit()),
    )
}

fn house_ownership(s: &str) -> bool {
    let Some((city, rest)) = s.split_once("房权证") else {
        return false;
    };
    let Some((district, rest)) = rest.split_once("字第") else {
        return false;
    };
    let Some(number) = rest.strip_suffix('号') else {
        return false;
    };
    let (c, d) = (city.chars().count(), district.chars().count());
    (2..=10).contains(&c)
        && city.chars().all(is_cjk)
        && (1..=10).contains(&d)
        && district.chars().all(is_cjk)
        && (6..=12).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `min <= value <= max`.
///
/// # Errors
/// [`ValidationError::Range`].
pub fn range(field: &str, value: i128, min: i128, max: i128) -> Result<(), ValidationError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::Range {
            field: field.to_owned(),
            value,
            min,
            max,
        })
    }
}

/// Money in fen within [`MONEY_FEN_MIN`]..=[`MONEY_FEN_MAX`].
///
/// # Errors
/// [`ValidationError::Range`].
pub fn money_fen(field: &str, fen: u64) -> Result<(), ValidationError> {
    range(
        field,
        i128::from(fen),
        i128::from(MONEY_FEN_MIN),
        i128::from(MONEY_FEN_MAX),
    )
}

/// An area in hundredths of a square metre within
/// [`AREA_CENTI_M2_MIN`]..=[`AREA_CENTI_M2_MAX`].
///
/// # Errors
/// [`ValidationError::Range`].
pub fn area_centi_m2(field: &str, area: u64) -> Result<(), ValidationError> {
    range(
        field,
        i128::from(area),
        i128::from(AREA_CENTI_M2_MIN),
        i128::from(AREA_CENTI_M2_MAX),
    )
}

/// A time window `[start, end)` that must not start before `not_before_ms`, must be non-empty
/// and last at most `duration_max_ms` (and at least `duration_min_ms`).
///
/// # Errors
/// [`ValidationError::Window`].
pub fn window(
    field: &str,
    start_ms: i64,
    end_ms: i64,
    not_before_ms: i64,
    duration_min_ms: i64,
    duration_max_ms: i64,
) -> Result<(), ValidationError> {
    let err = |reason: String| {
        Err(ValidationError::Window {
            field: field.to_owned(),
            reason,
        })
    };
    if start_ms < not_before_ms {
        return err(format!("starts at {start_ms}, before {not_before_ms}"));
    }
    let duration = end_ms.saturating_sub(start_ms);
    if duration < duration_min_ms.max(1) {
        return err(format!(
            "lasts {duration} ms; at least {} ms",
            duration_min_ms.max(1)
        ));
    }
    if duration > duration_max_ms {
        return err(format!("lasts {duration} ms; at most {duration_max_ms} ms"));
    }
    Ok(())
}

/// 64 lower-case hex digits: a SHA-256 hash or an HMAC-SHA-256 commitment.
///
/// # Errors
/// [`ValidationError::Hex64`].
pub fn hex64(field: &str, text: &str) -> Result<(), ValidationError> {
    if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ValidationError::Hex64 {
            field: field.to_owned(),
        })
    }
}

/// A list of 64-hex hashes: between `min` and `max` items, no repeats.
///
/// # Errors
/// [`ValidationError::List`] or [`ValidationError::Hex64`].
pub fn hashes(
    field: &str,
    items: &[String],
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    if items.len() < min || items.len() > max {
        return Err(ValidationError::List {
            field: field.to_owned(),
            reason: format!("{} items; {min} to {max} allowed", items.len()),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, h) in items.iter().enumerate() {
        hex64(&format!("{field}[{i}]"), h)?;
        if !seen.insert(h) {
            return Err(ValidationError::List {
                field: field.to_owned(),
                reason: format!("item {i} repeats an earlier one"),
            });
        }
    }
    Ok(())
}

/// Photo hashes of a listing: 1 to [`PHOTOS_MAX`] distinct SHA-256 hashes.
///
/// # Errors
/// As [`hashes`].
pub fn photo_hashes(field: &str, items: &[String]) -> Result<(), ValidationError> {
    hashes(field, items, 1, PHOTOS_MAX)
}

/// Text of `min..=max` characters, Unicode NFC, without control characters (a newline is allowed
/// when `multiline`) and without leading or trailing white space.
///
/// # Errors
/// [`ValidationError::NotNfc`], [`ValidationError::TextChars`] or
/// [`ValidationError::TextLength`].
pub fn text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<(), ValidationError> {
    if !is_nfc(value) {
        return Err(ValidationError::NotNfc {
            field: field.to_owned(),
        });
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && c == '\n'))
        || value.trim() != value
    {
        return Err(ValidationError::TextChars {
            field: field.to_owned(),
        });
    }
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ValidationError::TextLength {
            field: field.to_owned(),
            got: n,
            min,
            max,
        });
    }
    Ok(())
}

/// Refuses free text that looks like it holds a mainland resident ID number (17 digits and a
/// digit or `X`) or a mobile number (11 digits, `1` then `3`-`9`), however it is written: digits
/// may be full-width, and spaces, dashes, dots and slashes between them are ignored. A run of
/// digits counts only when it has exactly that length, so prices, areas and dates in a text pass.
///
/// # Errors
/// [`ValidationError::PersonalData`].
pub fn no_personal_data(field: &str, value: &str) -> Result<(), ValidationError> {
    // Collapse the text into runs of digits (an `X` may end a run): separators between digits
    // are dropped, anything else ends the run.
    let mut runs: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut ended_by_x = false;
    for c in value.chars() {
        let digit = match c {
            '0'..='9' => Some(c),
            '\u{FF10}'..='\u{FF19}' => char::from_u32(u32::from(c) - 0xFF10 + u32::from('0')),
            _ => None,
        };
        match digit {
            Some(d) if !ended_by_x => run.push(d),
            Some(d) => {
                runs.push(std::mem::take(&mut run));
                ended_by_x = false;
                run.push(d);
            }
            None if matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ') && run.len() == 17 => {
                run.push('X');
                ended_by_x = true;
            }
            None if !run.is_empty()
                && matches!(
                    c,
                    ' ' | '-' | '.' | '/' | '\u{3000}' | '－' | '—' | '–' | '·'
                ) => {}
            None => {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
                ended_by_x = false;
            }
        }
    }
    runs.push(run);
    for r in &runs {
        let b = r.as_bytes();
        if b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) {
            return Err(ValidationError::PersonalData {
                field: field.to_owned(),
                what: "an ID number",
            });
        }
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            return Err(ValidationError::PersonalData {
                field: field.to_owned(),
                what: "a mobile number",
            });
        }
    }
    Ok(())
}

/// The NFC form of a text, for clients to use before signing.
#[must_use]
pub fn nfc(value: &str) -> String {
    value.nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_check(first17: &str) -> String {
        let mut a = [0u8; 17];
        a.copy_from_slice(first17.as_bytes());
        format!("{first17}{}", id_check_char(&a))
    }

    #[test]
    fn resident_ids() {
        // A well-known valid sample number.
        assert_eq!(
            resident_id("id", "11010519491231002X").unwrap().birth_date,
            19_491_231
        );
        assert_eq!(
            resident_id("id", "11010519491231002x").unwrap().number,
            "11010519491231002X"
        );
        assert!(matches!(
            resident_id("id", "110105194912310021"),
            Err(ValidationError::IdCheck { expected: 'X', .. })
        ));
        assert!(matches!(
            resident_id("id", "1101051949123100"),
            Err(ValidationError::IdFormat { .. })
        ));
        assert!(matches!(
            resident_id("id", "11010519491231002Y"),
            Err(ValidationError::IdFormat { .. })
        ));
        let feb29 = with_check("53010219000229123");
        assert!(matches!(
            resident_id("id", &feb29),
            Err(ValidationError::IdBirthDate { .. })
        ));
        let leap = with_check("53010220000229123");
        assert!(resident_id("id", &leap).is_ok());
        let region = with_check("99010219900101123");
        assert!(matches!(
            resident_id("id", &region),
            Err(ValidationError::IdRegion { .. })
        ));
        let month13 = with_check("53010219901301123");
        assert!(matches!(
            resident_id("id", &month13),
            Err(ValidationError::IdBirthDate { .. })
        ));
    }

    #[test]
    fn mobiles() {
        assert_eq!(mobile("p", "13812345678").unwrap(), "13812345678");
        assert_eq!(mobile("p", "+86 19912345678").unwrap(), "19912345678");
        assert!(mobile("p", "12812345678").is_err());
        assert!(mobile("p", "1381234567").is_err());
        assert!(mobile("p", "1381234567a").is_err());
    }

    #[test]
    fn certificates() {
        let c = certificate_no("c", "云（2021）昆明市不动产权第0012345号").unwrap();
        assert_eq!(c.normal, "云(2021)昆明市不动产权第0012345号");
        assert_eq!(c.format, CertificateFormat::RealEstate);
        assert_eq!(
            certificate_no("c", "云(2021)昆明市不动产权第0012345号").unwrap(),
            c
        );
        let old = certificate_no("c", "昆明市房权证五华区字第201012345号").unwrap();
        assert_eq!(old.format, CertificateFormat::HouseOwnership);
        for bad in [
            "云(2021)昆明市不动产权第001234号",
            "云(1821)昆明市不动产权第0012345号",
            "X(2021)昆明市不动产权第0012345号",
            "云(2021)昆明市不动产权第0012345",
            "云(2021) 昆明市不动产权第0012345号",
            "昆明市房权证五华区字第20101号",
            "昆明市房权证字第201012345号",
            "",
        ] {
            assert!(certificate_no("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_windows_hashes_text() {
        assert!(money_fen("m", 0).is_err());
        assert!(money_fen("m", MONEY_FEN_MAX).is_ok());
        assert!(money_fen("m", MONEY_FEN_MAX + 1).is_err());
        assert!(area_centi_m2("a", 8_950).is_ok());
        assert!(area_centi_m2("a", 99).is_err());
        assert!(window("w", 10, 20, 10, 1, 10).is_ok());
        assert!(window("w", 10, 10, 0, 1, 10).is_err());
        assert!(window("w", 5, 20, 10, 1, 100).is_err());
        assert!(window("w", 10, 30, 0, 1, 10).is_err());
        let h = "a".repeat(64);
        assert!(hex64("h", &h).is_ok());
        assert!(hex64("h", &"A".repeat(64)).is_err());
        assert!(photo_hashes("p", &[h.clone(), h.clone()]).is_err());
        assert!(photo_hashes("p", &[]).is_err());
        assert!(photo_hashes("p", &vec![h; 31]).is_err());
        assert!(text("t", "翠湖花园", 1, 10, false).is_ok());
        assert!(text("t", " a", 1, 10, false).is_err());
        assert!(text("t", "a\nb", 1, 10, false).is_err());
        assert!(text("t", "a\nb", 1, 10, true).is_ok());
        let decomposed = "e\u{301}";
        assert!(matches!(
            text("t", decomposed, 1, 10, false),
            Err(ValidationError::NotNfc { .. })
        ));
        assert!(text("t", &nfc(decomposed), 1, 10, false).is_ok());
        assert!(text("t", "abc", 1, 2, false).is_err());
        for bad in [
            "请联系13812345678",
            "电话 138 1234 5678",
            "电话138-1234-5678",
            "１３８１２３４５６７８",
            "身份证530102199001011234",
            "id 53010219900101123X ok",
            "5301 0219 9001 0112 3x",
        ] {
            assert!(
                matches!(
                    no_personal_data("t", bad),
                    Err(ValidationError::PersonalData { .. })
                ),
                "{bad}"
            );
        }
        for good in [
            "总价150000000分",
            "2室1厅，89.5平米，2021年建成",
            "云(2021)昆明市不动产权第0012345号",
            "(2024)云01执123号",
            "12345678901",
            "1381234567",
            "1764547200000",
            "案件执行完毕",
        ] {
            assert!(no_personal_data("t", good).is_ok(), "{good}");
        }
    }
}
