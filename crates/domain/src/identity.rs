//! The identity authority's phone voucher: what `party.register` carries to show that the
//! identity authority checked, just before, that whoever registers controls the phone number
//! behind the commitment (in the embedded default, by an SMS code sent to that number).
//!
//! ```text
//! message   = canonical_bytes({"issued_at_ms": T, "key": KEY, "party": PARTY, "phone_commitment": C})
//! signature = Ed25519(identity authority's current key, "deedlog/voucher/phone/v1\n" || message)
//! voucher   = {"party": PARTY, "key": KEY, "issued_at_ms": T, "signature": base64(signature)}
//! ```
//!
//! `PARTY` is the registering party (the command's actor and stream), `KEY` the key the command
//! registers (and is signed with), `C` the payload's `phone_commitment`, `T` the authority's
//! clock in ms. The party and the key are inside the signed message, so a voucher obtained for
//! one registration cannot be used for another party or another key; the time bounds how long
//! it can be used: `decide` accepts it only while `recorded_at_ms − T` lies in
//! `[−VOUCHER_AHEAD_MS, VOUCHER_WINDOW_MS]`.

use deedlog_core::{PublicKey, SecretKey, canonical, keys};
use serde_json::json;

use crate::payload::PhoneVoucher;

/// The domain tag of phone vouchers.
pub const PHONE_VOUCHER_DOMAIN: &[u8] = b"deedlog/voucher/phone/v1\n";
/// How long after its issue a voucher is accepted, ms (10 minutes).
pub const VOUCHER_WINDOW_MS: i64 = 10 * 60 * 1000;
/// How far ahead of the log's clock a voucher's time may be, ms (1 minute of clock skew between
/// the identity authority and the sequencer).
pub const VOUCHER_AHEAD_MS: i64 = 60 * 1000;

/// The message a phone voucher signs (without the domain tag).
#[must_use]
pub fn phone_voucher_message(
    party: &str,
    key: &str,
    phone_commitment: &str,
    issued_at_ms: i64,
) -> Vec<u8> {
    // Three strings and an integer always encode canonically, unless the integer is out of the
    // canonical range; then the empty message can never carry a valid signature.
    canonical::encode(&json!({
        "issued_at_ms": issued_at_ms,
        "key": key,
        "party": party,
        "phone_commitment": phone_commitment,
    }))
    .unwrap_or_default()
}

/// Signs a phone voucher with the identity authority's `secret`.
#[must_use]
pub fn sign_phone_voucher(
    secret: &SecretKey,
    party: &str,
    key: &str,
    phone_commitment: &str,
    issued_at_ms: i64,
) -> PhoneVoucher {
    let sig = secret.sign(
        PHONE_VOUCHER_DOMAIN,
        &phone_voucher_message(party, key, phone_commitment, issued_at_ms),
    );
    PhoneVoucher {
        party: party.to_owned(),
        key: key.to_owned(),
        issued_at_ms,
        signature: keys::base64(&sig),
    }
}

/// Whether `voucher` is signed by `authority_key` for its party, key and `phone_commitment`.
#[must_use]
pub fn phone_voucher_verifies(
    voucher: &PhoneVoucher,
    phone_commitment: &str,
    authority_key: &str,
) -> bool {
    let Ok(public) = PublicKey::from_base64(authority_key) else {
        return false;
    };
    let Ok(sig) = keys::signature_from_base64(&voucher.signature) else {
        return false;
    };
    public
        .verify(
            PHONE_VOUCHER_DOMAIN,
            &phone_voucher_message(
                &voucher.party,
                &voucher.key,
                phone_commitment,
                voucher.issued_at_ms,
            ),
            &sig,
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vouchers_bind_party_key_commitment_and_time() {
        let authority = SecretKey::from_seed(&[7; 32]);
        let other = SecretKey::from_seed(&[8; 32]);
        let ak = authority.public().to_base64();
        let c = "ab".repeat(32);
        let v = sign_phone_voucher(&authority, "party/PA-1", "KEY", &c, 1000);
        assert!(phone_voucher_verifies(&v, &c, &ak));
        assert!(!phone_voucher_verifies(&v, &"cd".repeat(32), &ak));
        assert!(!phone_voucher_verifies(&v, &c, &other.public().to_base64()));
        for tamper in [
            PhoneVoucher {
                party: "party/PA-2".into(),
                ..v.clone()
            },
            PhoneVoucher {
                key: "KEY2".into(),
                ..v.clone()
            },
            PhoneVoucher {
                issued_at_ms: 1001,
                ..v.clone()
            },
            PhoneVoucher {
                signature: "AAAA".into(),
                ..v.clone()
            },
        ] {
            assert!(!phone_voucher_verifies(&tamper, &c, &ak), "{tamper:?}");
        }
        assert!(!phone_voucher_verifies(&v, &c, "not a key"));
    }
}
