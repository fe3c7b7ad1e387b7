//! Limits and the normalization of what the vault indexes and stores.
//!
//! The caller checks formats (the GB 11643 check character of an ID number, the prefix of a
//! mobile number); the vault only normalizes the few spellings that mean the same identifier, so
//! one person always lands on one subject, and bounds every length.

use crate::VaultError;

/// The largest value [`crate::Vault::put`] stores, in bytes. Contract PDFs are rendered from the
/// contract terms on demand, so the vault stores terms and personal details, never whole files.
pub const VALUE_BYTES_MAX: usize = 64 * 1024;

/// The longest field name, in bytes.
pub const FIELD_BYTES_MAX: usize = 64;

/// The longest normalized ID number the index accepts (a resident ID has 18 characters; some
/// other documents are longer).
pub const ID_NUMBER_CHARS_MAX: usize = 32;

/// The longest normalized phone number the index accepts.
pub const PHONE_DIGITS_MAX: usize = 20;

/// Field names starting with this prefix are the vault's own (the erasure commitment).
pub const RESERVED_FIELD_PREFIX: &str = "vault.";

/// Checks a field name: 1 to [`FIELD_BYTES_MAX`] bytes from `a-z 0-9 _ . -`, not reserved.
///
/// Because a field name can never contain a NUL byte, `field || 0x00 || value` is an unambiguous
/// encoding of the pair inside the commitment formula.
///
/// # Errors
/// [`VaultError::FieldInvalid`] otherwise.
pub fn check_field(field: &str) -> Result<(), VaultError> {
    if field.starts_with(RESERVED_FIELD_PREFIX) {
        return Err(VaultError::FieldInvalid(field.to_owned()));
    }
    check_field_allowing_reserved(field)
}

pub(crate) fn check_field_allowing_reserved(field: &str) -> Result<(), VaultError> {
    let well_formed = !field.is_empty()
        && field.len() <= FIELD_BYTES_MAX
        && field.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if well_formed {
        Ok(())
    } else {
        Err(VaultError::FieldInvalid(
            field.chars().take(FIELD_BYTES_MAX).collect(),
        ))
    }
}

/// Normalizes an ID number for the keyed index: surrounding white space removed and letters
/// upper-cased (the check character `x` and `X` are the same), then bounded to
/// [`ID_NUMBER_CHARS_MAX`] ASCII letters and digits.
///
/// Commit the **normalized** value (`commit(subject, "id_number", &normalize_id_number(raw)?)`)
/// so that the registry's owner commitment equals the verified seller's.
///
/// # Errors
/// [`VaultError::IdentifierInvalid`] when empty, too long or not ASCII letters and digits.
pub fn normalize_id_number(raw: &str) -> Result<String, VaultError> {
    let text = raw.trim().to_ascii_uppercase();
    let invalid = VaultError::IdentifierInvalid {
        kind: "id_number",
        max: ID_NUMBER_CHARS_MAX,
    };
    if text.is_empty()
        || text.len() > ID_NUMBER_CHARS_MAX
        || !text.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(invalid);
    }
    Ok(text)
}

/// Normalizes a phone number for the keyed index: white space and `-` removed, a leading `+86`
/// or `0086` country code dropped, then bounded to [`PHONE_DIGITS_MAX`] ASCII digits.
///
/// # Errors
/// [`VaultError::IdentifierInvalid`] when empty, too long or not digits.
pub fn normalize_phone(raw: &str) -> Result<String, VaultError> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let text = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .unwrap_or(&compact);
    if text.is_empty() || text.len() > PHONE_DIGITS_MAX || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(VaultError::IdentifierInvalid {
            kind: "phone",
            max: PHONE_DIGITS_MAX,
        });
    }
    Ok(text.to_owned())
}

pub(crate) fn check_value(value: &[u8]) -> Result<(), VaultError> {
    if value.len() > VALUE_BYTES_MAX {
        return Err(VaultError::ValueTooLarge {
            len: value.len(),
            max: VALUE_BYTES_MAX,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_normalize_case_and_space() {
        assert_eq!(
            normalize_id_number(" 53010219900101123x ").ok().as_deref(),
            Some("53010219900101123X")
        );
        assert!(normalize_id_number("").is_err());
        assert!(normalize_id_number("5301 0219").is_err());
        assert!(normalize_id_number(&"1".repeat(ID_NUMBER_CHARS_MAX + 1)).is_err());
        assert!(normalize_id_number("５３０１").is_err());
    }

    #[test]
    fn phones_drop_country_code_and_separators() {
        for raw in [
            "13812345678",
            "+86 138-1234-5678",
            "0086 13812345678",
            " 138 1234 5678 ",
        ] {
            assert_eq!(
                normalize_phone(raw).ok().as_deref(),
                Some("13812345678"),
                "{raw}"
            );
        }
        assert!(normalize_phone("+86").is_err());
        assert!(normalize_phone("138a").is_err());
        assert!(normalize_phone(&"1".repeat(PHONE_DIGITS_MAX + 1)).is_err());
    }

    #[test]
    fn field_names_are_short_lower_ascii_and_not_reserved() {
        for ok in ["name", "id_number", "face.check-2", "a"] {
            assert!(check_field(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Name",
            "na me",
            "名字",
            "a\0b",
            "vault.erasure",
            &"a".repeat(FIELD_BYTES_MAX + 1),
        ] {
            assert!(check_field(bad).is_err(), "{bad:?}");
        }
        assert!(check_field_allowing_reserved("vault.erasure").is_ok());
    }

    #[test]
    fn values_are_bounded() {
        assert!(check_value(&vec![0; VALUE_BYTES_MAX]).is_ok());
        assert!(check_value(&vec![0; VALUE_BYTES_MAX + 1]).is_err());
    }
}
