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

/// What a voucher's check covers: the authority key it was checked under, the signature and the
/// signed message. Two checks with the same digest are the same pure computation.
fn check_digest(authority_key: &str, signature: &str, message: &[u8]) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(authority_key.len() + signature.len() + message.len() + 2);
    bytes.extend_from_slice(authority_key.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(signature.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(message);
    deedlog_core::hash::sha256(&bytes)
}

/// Most voucher checks remembered at once; when full, the memory is emptied (a check that is
/// then forgotten is simply made again by `decide`).
pub const VOUCHER_CHECKS_MAX: usize = 65_536;

/// Phone vouchers found to verify ahead of `decide`, on the sequencer's verify workers, so that
/// the sequencer's one thread does not spend a signature check on every registration.
///
/// Each remembered check is the digest of (authority key, signature, signed message): `decide`
/// looks up the same digest under the authority's key *as its state has it*, takes it out if it
/// is there, and otherwise verifies the voucher itself. So a check made under a key that has
/// since been rotated is never used, and the answer is the same with or without this memory.
#[derive(Debug, Default)]
pub struct VoucherChecks {
    /// The identity authority's current key as the last applied entry left it, parsed.
    authority: std::sync::RwLock<Option<(String, PublicKey)>>,
    verified: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

impl VoucherChecks {
    /// Tells the checks the identity authority's current key (after each applied entry).
    pub fn set_authority(&self, key: Option<&str>) {
        let same = {
            let held = self
                .authority
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            held.as_ref().map(|(k, _)| k.as_str()) == key
        };
        if same {
            return;
        }
        let parsed = key.and_then(|k| PublicKey::from_base64(k).ok().map(|p| (k.to_owned(), p)));
        *self
            .authority
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = parsed;
    }

    /// Checks the voucher of a `party.register` command, if it has one, under the authority's
    /// key as last set, and remembers it when it verifies. Anything else is left to `decide`.
    pub fn check_ahead(&self, command: &deedlog_core::SignedCommand) {
        if command.kind != "party.register" {
            return;
        }
        let (Some(voucher), Some(phone)) = (
            command.payload.get("voucher"),
            command
                .payload
                .get("phone_commitment")
                .and_then(|v| v.as_str()),
        ) else {
            return;
        };
        let Ok(voucher) = serde_json::from_value::<PhoneVoucher>(voucher.clone()) else {
            return;
        };
        let Ok(sig) = keys::signature_from_base64(&voucher.signature) else {
            return;
        };
        let digest = {
            let held = self
                .authority
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some((key, public)) = held.as_ref() else {
                return;
            };
            let message =
                phone_voucher_message(&voucher.party, &voucher.key, phone, voucher.issued_at_ms);
            if public.verify(PHONE_VOUCHER_DOMAIN, &message, &sig).is_err() {
                return;
            }
            check_digest(key, &voucher.signature, &message)
        };
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VOUCHER_CHECKS_MAX {
            verified.clear();
        }
        verified.insert(digest);
    }

    /// Takes out a check of this voucher under `authority_key`, if one was made.
    fn take(&self, authority_key: &str, voucher: &PhoneVoucher, phone_commitment: &str) -> bool {
        let message = phone_voucher_message(
            &voucher.party,
            &voucher.key,
            phone_commitment,
            voucher.issued_at_ms,
        );
        let digest = check_digest(authority_key, &voucher.signature, &message);
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&digest)
    }

    /// How many checks are remembered now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no check is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl deedlog_core::decide::Precheck for VoucherChecks {
    fn precheck(&self, command: &deedlog_core::SignedCommand) {
        self.check_ahead(command);
    }
}

/// [`phone_voucher_verifies`], using a check made ahead in `checks` when there is one.
#[must_use]
pub fn phone_voucher_verifies_with(
    voucher: &PhoneVoucher,
    phone_commitment: &str,
    authority_key: &str,
    checks: Option<&VoucherChecks>,
) -> bool {
    checks.is_some_and(|c| c.take(authority_key, voucher, phone_commitment))
        || phone_voucher_verifies(voucher, phone_commitment, authority_key)
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

    fn registration(voucher: &PhoneVoucher, phone: &str) -> deedlog_core::SignedCommand {
        deedlog_core::SignedCommand {
            actor: voucher.party.clone(),
            key: voucher.key.clone(),
            kind: "party.register".into(),
            stream: voucher.party.clone(),
            expected_version: None,
            payload: json!({"phone_commitment": phone, "voucher": voucher}),
            payload_salt: None,
            nonce: "n".into(),
            issued_at_ms: voucher.issued_at_ms,
            signature: String::new(),
        }
    }

    /// A check made ahead is used once, only under the key it was made under, and a voucher that
    /// does not verify is never remembered: the answer is the one `phone_voucher_verifies` gives.
    #[test]
    fn checks_made_ahead_answer_as_the_check_itself() {
        let authority = SecretKey::from_seed(&[7; 32]);
        let rotated = SecretKey::from_seed(&[9; 32]);
        let ak = authority.public().to_base64();
        let rk = rotated.public().to_base64();
        let c = "ab".repeat(32);
        let v = sign_phone_voucher(&authority, "party/PA-1", "KEY", &c, 1000);
        let checks = VoucherChecks::default();

        // No authority key known yet: nothing is checked ahead.
        checks.check_ahead(&registration(&v, &c));
        assert!(checks.is_empty());

        checks.set_authority(Some(&ak));
        checks.check_ahead(&registration(&v, &c));
        assert_eq!(checks.len(), 1);
        assert!(phone_voucher_verifies_with(&v, &c, &ak, Some(&checks)));
        assert!(checks.is_empty(), "a check is taken out when used");
        // Without the remembered check, the voucher is verified again: same answer.
        assert!(phone_voucher_verifies_with(&v, &c, &ak, Some(&checks)));

        // Made under the old key, asked under the rotated one: not used, and the voucher
        // (signed by the old key) does not verify.
        checks.check_ahead(&registration(&v, &c));
        assert_eq!(checks.len(), 1);
        assert!(!phone_voucher_verifies_with(&v, &c, &rk, Some(&checks)));
        assert_eq!(checks.len(), 1, "the check under the old key stays unused");

        // After the rotation, a voucher of the old key is not remembered at all.
        checks.set_authority(Some(&rk));
        let v2 = sign_phone_voucher(&authority, "party/PA-2", "KEY2", &c, 1000);
        checks.check_ahead(&registration(&v2, &c));
        assert_eq!(checks.len(), 1);
        assert!(!phone_voucher_verifies_with(&v2, &c, &rk, Some(&checks)));

        // Forged or altered vouchers, and a commitment other than the signed one, are never
        // remembered, and not accepted.
        checks.set_authority(Some(&ak));
        let bad_sig = PhoneVoucher {
            signature: keys::base64(&[0u8; 64]),
            ..v.clone()
        };
        let other_party = PhoneVoucher {
            party: "party/PA-3".into(),
            ..v.clone()
        };
        let before = checks.len();
        for (voucher, phone) in [
            (&bad_sig, c.clone()),
            (&other_party, c.clone()),
            (&v, "cd".repeat(32)),
        ] {
            checks.check_ahead(&registration(voucher, &phone));
            assert_eq!(checks.len(), before, "{voucher:?} was remembered");
            assert!(!phone_voucher_verifies_with(
                voucher,
                &phone,
                &ak,
                Some(&checks)
            ));
        }
        // Commands of another kind, or without a voucher, are left to decide.
        let mut other_kind = registration(&v, &c);
        other_kind.kind = "party.rotate_key".into();
        checks.check_ahead(&other_kind);
        let mut no_voucher = registration(&v, &c);
        no_voucher.payload = json!({"phone_commitment": c});
        checks.check_ahead(&no_voucher);
        assert_eq!(checks.len(), before);
    }
}
