//! The values the vault hands out: subject ids, commitments and erasure receipts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::VaultError;

/// The size of a subject id in bytes.
pub const SUBJECT_ID_BYTES: usize = 16;

/// A subject: one identity known to the vault (a person found by ID number, or a phone-only
/// registrant found by phone number).
///
/// The id is 16 random bytes, written `sj-` followed by 32 lower-case hex digits. It is a
/// pseudonym: it is drawn at random, not derived from the person's data, so it reveals nothing by
/// itself. Ids are never reused: an erased subject keeps a tombstone under its id forever.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId(pub(crate) [u8; SUBJECT_ID_BYTES]);

impl SubjectId {
    /// The id's raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SUBJECT_ID_BYTES] {
        &self.0
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sj-{}", hex::encode(self.0))
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({self})")
    }
}

impl FromStr for SubjectId {
    type Err = VaultError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text
            .strip_prefix("sj-")
            .ok_or(VaultError::SubjectIdInvalid)?;
        if digits.len() != 2 * SUBJECT_ID_BYTES || digits.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(VaultError::SubjectIdInvalid);
        }
        let mut out = [0u8; SUBJECT_ID_BYTES];
        hex::decode_to_slice(digits, &mut out).map_err(|_| VaultError::SubjectIdInvalid)?;
        Ok(SubjectId(out))
    }
}

impl Serialize for SubjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SubjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A keyed commitment to one field value of one subject, as it appears on the public log:
/// 32 bytes, written as 64 lower-case hex digits. See [`crate::Vault::commit`] for the formula.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commitment(pub [u8; 32]);

impl Commitment {
    /// 64 lower-case hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({self})")
    }
}

impl FromStr for Commitment {
    type Err = CommitmentParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(CommitmentParseError);
        }
        hex::decode_to_slice(text, &mut out).map_err(|_| CommitmentParseError)?;
        Ok(Commitment(out))
    }
}

/// The text is not 64 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a commitment is 64 lower-case hex digits")]
pub struct CommitmentParseError;

impl Serialize for Commitment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Commitment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a subject is found in the vault's keyed index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// Found by an 18-character resident ID number (a real-name-verified person).
    IdNumber,
    /// Found by a mobile phone number (registered before real-name verification).
    Phone,
}

impl SubjectKind {
    /// The name used as the index's domain separator: `"id_number"` or `"phone"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::IdNumber => "id_number",
            SubjectKind::Phone => "phone",
        }
    }
}

/// What erasing a subject leaves behind: the answer of [`crate::Vault::erase`], meant to be
/// appended to the log as the payload of an erasure event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReceipt {
    /// The erased subject.
    pub subject: SubjectId,
    /// How many stored fields were destroyed.
    pub erased_fields_count: u64,
    /// The subject's last commitment, made with its secret just before the secret was destroyed:
    /// `commit(subject, "vault.erasure", "<subject id>:<erased_fields_count>")`. Nobody can
    /// compute it without the secret, so a receipt with a correct-looking commitment cannot be
    /// made up by anyone but the vault that held the subject; after erasure nobody, the vault
    /// included, can compute it again.
    pub commitment: Commitment,
}
