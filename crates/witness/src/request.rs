//! The `add-checkpoint` request body of C2SP tlog-witness v1:
//!
//! ```text
//! old <size>\n                 decimal, no leading zeroes
//! <base64 hash>\n              zero to 63 consistency proof lines
//! \n
//! <checkpoint note>            a signed note
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use deedlog_core::Hash;
use deedlog_core::checkpoint::NOTE_BYTES_MAX;

use crate::AddError;

/// Most consistency proof lines a request may hold (the spec's bound: a tree of fewer than
/// 2^63 leaves never needs more).
pub const PROOF_LINES_MAX: usize = 63;

/// Largest request body accepted: the old size line, 63 proof lines and the largest note.
pub const REQUEST_BYTES_MAX: usize = 32 + PROOF_LINES_MAX * 46 + 1 + NOTE_BYTES_MAX;

/// A parsed `add-checkpoint` body. Nothing in it is verified yet.
#[derive(Debug, Clone, PartialEq)]
pub struct AddCheckpointRequest {
    /// The size the client believes the witness holds.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint note, exactly as sent.
    pub checkpoint: Vec<u8>,
}

fn malformed(what: &str) -> AddError {
    AddError::Malformed(what.to_owned())
}

impl AddCheckpointRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// [`AddError::Malformed`], naming what is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, AddError> {
        if body.len() > REQUEST_BYTES_MAX {
            return Err(AddError::Malformed(format!(
                "the body is {} bytes; at most {REQUEST_BYTES_MAX} are allowed",
                body.len()
            )));
        }
        let mut rest = body;
        let mut next_line = || -> Result<&[u8], AddError> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| malformed("every line must end in a newline"))?;
            let line = &rest[..end];
            rest = &rest[end + 1..];
            Ok(line)
        };
        let first = next_line()?;
        let size = first
            .strip_prefix(b"old ")
            .ok_or_else(|| malformed("the first line must be `old <size>`"))?;
        let old_size = parse_decimal(size)
            .ok_or_else(|| malformed("the old size must be a decimal without leading zeroes"))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line()?;
            if line.is_empty() {
                break;
            }
            if proof.len() == PROOF_LINES_MAX {
                return Err(AddError::Malformed(format!(
                    "at most {PROOF_LINES_MAX} consistency proof lines are allowed"
                )));
            }
            let bytes: [u8; 32] = B64
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| malformed("a proof line must be one hash in standard base64"))?;
            proof.push(Hash(bytes));
        }
        let checkpoint = rest.to_vec();
        if checkpoint.is_empty() {
            return Err(malformed("the checkpoint is missing"));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// The checkpoint's origin line, read from the note's text before any signature is checked
    /// (the witness needs it to know which keys to check with).
    ///
    /// # Errors
    /// [`AddError::Malformed`] when the checkpoint is not a signed note with a checkpoint body.
    pub fn origin(&self) -> Result<String, AddError> {
        if self.checkpoint.len() > NOTE_BYTES_MAX {
            return Err(AddError::Malformed(format!(
                "the checkpoint note is larger than {NOTE_BYTES_MAX} bytes"
            )));
        }
        let note = signed_note::Note::from_bytes(&self.checkpoint)
            .map_err(|_| malformed("the checkpoint is not a signed note"))?;
        let body = tlog_tiles::Checkpoint::from_bytes(note.text())
            .map_err(|_| malformed("the note's text is not a checkpoint"))?;
        Ok(body.origin().to_owned())
    }

    /// The body for these parts (what a log sends).
    #[must_use]
    pub fn encode(old_size: u64, proof: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
        let mut out = format!("old {old_size}\n").into_bytes();
        for hash in proof {
            out.extend_from_slice(B64.encode(hash.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(checkpoint);
        out
    }
}

/// A decimal `u64` in its one spelling: digits only, no leading zero unless it is `0`.
pub(crate) fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if text.len() > 1 && text[0] == b'0' {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_have_one_spelling() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"120"), Some(120));
        assert_eq!(parse_decimal(b"012"), None);
        assert_eq!(parse_decimal(b"+1"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
    }

    #[test]
    fn bodies_round_trip_and_bad_ones_are_refused() {
        let h = Hash([7; 32]);
        let body = AddCheckpointRequest::encode(5, &[h, h], b"note\n");
        let parsed = AddCheckpointRequest::parse(&body).unwrap();
        assert_eq!(parsed.old_size, 5);
        assert_eq!(parsed.proof, vec![h, h]);
        assert_eq!(parsed.checkpoint, b"note\n");
        for bad in [
            &b"old 5"[..],
            b"old 05\n\nnote\n",
            b"new 5\n\nnote\n",
            b"old 5\nnot base64!\n\nnote\n",
            b"old 5\nAAAA\n\nnote\n",
            b"old 5\n\n",
        ] {
            assert!(matches!(
                AddCheckpointRequest::parse(bad),
                Err(AddError::Malformed(_))
            ));
        }
        let too_many = AddCheckpointRequest::encode(5, &[h; 64], b"note\n");
        assert!(matches!(
            AddCheckpointRequest::parse(&too_many),
            Err(AddError::Malformed(_))
        ));
    }
}
