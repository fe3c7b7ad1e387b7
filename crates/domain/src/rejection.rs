//! Rejections: why `decide` refused a command, with a stable code and an HTTP-like class.
//!
//! The types are the core's decide contract ([`deedlog_core::decide`]). Every code the domain can
//! return is declared once in [`codes`], with its class and meaning; the catalogue in
//! `docs/EVENTS.md` is rendered from that list and from the sequencer's codes
//! (`deedlog_core::decide::codes`), so a code cannot change meaning without the document
//! changing too.

pub use deedlog_core::decide::{Code, Rejection, RejectionClass};

/// Every rejection code of the domain.
pub mod codes {
    deedlog_core::rejection_codes! {
        // Command envelope.
        UNKNOWN_KIND = "command.unknown_kind", Malformed, "The command kind is not in the catalogue.";
        BAD_STREAM = "command.bad_stream", Malformed, "The stream is not of the form the command kind requires.";
        BAD_ACTOR = "command.bad_actor", Malformed, "The actor id is not of a known form.";
        BAD_PAYLOAD = "payload.invalid", Malformed, "The payload does not have the command's shape (missing, unknown or mistyped fields).";
        BAD_FIELD = "payload.bad_field", Malformed, "A payload field breaks its format or bounds (see details.field).";
        NOT_NFC = "payload.text_not_nfc", Malformed, "A text field is not Unicode NFC; clients normalise before signing.";
        PERSONAL_DATA = "payload.personal_data", Malformed, "A free-text field holds what looks like an ID number or a mobile number (see details.field); such data goes only to the vault.";
        BAD_REFERENCE = "payload.bad_reference", Malformed, "A field that names an aggregate is not a well-formed id of the right kind.";
        STREAM_EXISTS = "stream.exists", Conflict, "The command creates an aggregate, but its stream already has entries.";
        STREAM_NOT_FOUND = "stream.not_found", NotFound, "The command's stream does not exist yet.";
        // Platform and keys.
        NO_GENESIS = "platform.no_genesis", Conflict, "Nothing but the genesis command may come before the genesis entry.";
        GENESIS_NOT_FIRST = "platform.genesis_not_first", Conflict, "Genesis is allowed only at seq 0.";
        GENESIS_INCOMPLETE = "platform.genesis_incomplete", Unprocessable, "Genesis must name the housing, identity and registry authorities with distinct keys.";
        UNKNOWN_ACTOR = "auth.unknown_actor", Unauthorized, "The actor has no registered key.";
        KEY_MISMATCH = "auth.key_mismatch", Unauthorized, "The signing key is not the actor's current key.";
        KEY_REVOKED = "auth.key_revoked", Unauthorized, "The signing key was revoked or rotated away.";
        ROLE_NOT_ALLOWED = "auth.role_not_allowed", Forbidden, "This kind of actor may not issue this command.";
        KEY_IN_USE = "key.in_use", Conflict, "The key is, or was, registered to some actor; keys are never reused.";
        KEY_BAD = "key.invalid", Malformed, "The key is not a valid Ed25519 public key.";
        KEY_PROOF = "key.bad_proof", Unprocessable, "The proof of possession does not verify under the new key.";
        KEY_NOT_CURRENT = "key.not_current", Conflict, "The key to revoke is not the actor's current key.";
        KEY_BOUND = "key.already_bound", Conflict, "The actor already has a current key; rotate it instead.";
        // Parties.
        PARTY_NOT_FOUND = "party.not_found", NotFound, "The party does not exist.";
        PARTY_NOT_VERIFIED = "party.not_verified", Forbidden, "Only a real-name-verified party may take this step.";
        PARTY_VERIFIED = "party.already_verified", Conflict, "The party's identity is already attested.";
        PHONE_TAKEN = "party.phone_taken", Conflict, "Another party registered with this phone commitment.";
        ID_TAKEN = "party.id_taken", Conflict, "Another party is attested with this ID-number commitment.";
        PARTY_ERASED = "party.erased", Conflict, "The party's personal data was erased; it can no longer act.";
        VOUCHER_MISSING = "voucher.missing", Forbidden, "party.register needs the identity authority's phone voucher (proof that the registrant controls the phone).";
        VOUCHER_WRONG_PARTY = "voucher.wrong_party", Unprocessable, "The phone voucher was issued for another party.";
        VOUCHER_WRONG_KEY = "voucher.wrong_key", Unprocessable, "The phone voucher was issued for another key than the one this command registers.";
        VOUCHER_STALE = "voucher.stale", Unprocessable, "The phone voucher was issued more than 10 minutes before, or more than 1 minute after, the entry's time.";
        VOUCHER_BAD_SIGNATURE = "voucher.bad_signature", Unauthorized, "The phone voucher's signature does not verify under the identity authority's current key for this party, key, phone commitment and time.";
        METHOD_NOT_ALLOWED = "identity.method_not_allowed", Forbidden, "Method `office` is attested only by a filing office, `online_face` only by the identity authority.";
        // Authority reference data.
        AGENCY_NOT_FOUND = "agency.not_found", NotFound, "The agency does not exist.";
        AGENCY_SUSPENDED = "agency.suspended", Forbidden, "The agency is suspended; its agents may not act.";
        AGENCY_STATUS = "agency.status", Conflict, "The agency is not in the state this step needs.";
        AGENT_NOT_FOUND = "agent.not_found", NotFound, "The agent does not exist.";
        AGENT_SUSPENDED = "agent.suspended", Forbidden, "The agent's certification is suspended.";
        AGENT_STATUS = "agent.status", Conflict, "The agent is not in the state this step needs.";
        LICENCE_TAKEN = "licence.taken", Conflict, "The licence number is already certified.";
        BANK_NOT_FOUND = "bank.not_found", NotFound, "The bank does not exist.";
        // Registry and property verification.
        PROPERTY_NOT_FOUND = "property.not_found", NotFound, "No registered property has this id or certificate number.";
        CERTIFICATE_TAKEN = "property.certificate_taken", Conflict, "Another property is registered with this certificate number.";
        OWNER_SHARES = "property.bad_shares", Unprocessable, "Owners' shares must be distinct people whose percentages add up to 100.";
        SEIZED = "property.seized", Conflict, "The property is seized (查封) and may not be verified, listed, contracted or filed.";
        NOT_SEIZED = "property.not_seized", Conflict, "The property is not seized.";
        MORTGAGED = "property.mortgaged", Conflict, "The property already carries a mortgage.";
        NOT_MORTGAGED = "property.not_mortgaged", Conflict, "The property carries no mortgage.";
        LIVE_DEAL = "property.in_live_deal", Conflict, "The property is already in a live deal (a pending or verified verification).";
        NOT_OWNER = "verification.not_owner", Forbidden, "The acting party is not an owner of the property on the registry.";
        CONSENT_NOT_NEEDED = "verification.consent_not_needed", Conflict, "The party's consent is not needed, or was already given.";
        VERIFICATION_NOT_FOUND = "verification.not_found", NotFound, "The property verification does not exist.";
        VERIFICATION_STATUS = "verification.status", Conflict, "The verification is not in the state this step needs.";
        VERIFICATION_IN_USE = "verification.in_use", Conflict, "A live listing, contract or accepted entrustment still uses this verification.";
        NOT_SELLER = "deal.not_seller", Forbidden, "Only the seller (the verified owner) or their proxy may take this step.";
        // Entrustment.
        ENTRUSTMENT_NOT_FOUND = "entrustment.not_found", NotFound, "The entrustment does not exist.";
        ENTRUSTMENT_STATUS = "entrustment.status", Conflict, "The entrustment is not in the state this step needs.";
        ENTRUSTMENT_EXPIRED = "entrustment.expired", Forbidden, "The entrustment's period has ended.";
        ENTRUSTMENT_NOT_EXPIRED = "entrustment.not_expired", Conflict, "The entrustment's period has not ended yet.";
        ENTRUSTMENT_EXISTS = "entrustment.exists", Conflict, "A live sale entrustment already covers this verification.";
        NOT_ENTRUSTED = "entrustment.not_entrusted", Forbidden, "The agent is not the agent of an accepted, unexpired entrustment for this.";
        PURCHASE_OUT_OF_SCOPE = "entrustment.out_of_scope", Forbidden, "The step is outside the purchase entrustment: a listing outside its districts or above its budget, another buyer's deal, or a step only the buyer takes.";
        NOT_PRINCIPAL = "entrustment.not_principal", Forbidden, "Only the party who entrusted (or their proxy) may take this step.";
        BAD_PERIOD = "time.bad_window", Unprocessable, "A time window is empty, in the past, or longer than allowed.";
        // Listings.
        LISTING_NOT_FOUND = "listing.not_found", NotFound, "The listing does not exist.";
        LISTING_STATUS = "listing.status", Conflict, "The listing is not in the state this step needs.";
        LISTING_EXISTS = "listing.exists", Conflict, "The verification already has a live listing.";
        LISTING_ENTRUSTED = "listing.entrusted", Conflict, "A live sale entrustment covers this property; the agent lists it.";
        REGISTRY_MISMATCH = "listing.registry_mismatch", Unprocessable, "A listed fact (area, layout, floor, district, community) differs from the registry.";
        BELOW_FLOOR = "listing.below_floor_price", Unprocessable, "The agent's price is below the seller's floor price (底价).";
        PROPOSAL_PENDING = "listing.proposal_pending", Conflict, "A change is already waiting for the seller's review.";
        NO_PROPOSAL = "listing.no_such_proposal", Conflict, "No pending proposal has this seq.";
        UNCHANGED = "listing.unchanged", Unprocessable, "The change leaves the listing as it is.";
        CONTRACT_LIVE = "deal.contract_live", Conflict, "A live contract exists; cancel it first.";
        // Viewings and ratings.
        VIEWING_NOT_FOUND = "viewing.not_found", NotFound, "The viewing does not exist.";
        VIEWING_STATUS = "viewing.status", Conflict, "The viewing is not in the state this step needs.";
        OWN_LISTING = "viewing.own_listing", Unprocessable, "A seller cannot be the buyer of their own listing.";
        NOT_BUYER = "deal.not_buyer", Forbidden, "Only the buyer (or their proxy) may take this step.";
        NOT_LISTING_HANDLER = "viewing.not_handler", Forbidden, "Only the listing's agent (or the seller of a self-listing) may take this step.";
        TOO_EARLY = "viewing.not_yet_held", Conflict, "The viewing's slot has not started yet.";
        NO_AGENT = "viewing.no_agent", Unprocessable, "A self-listed viewing has no agent to rate.";
        ALREADY_RATED = "viewing.already_rated", Conflict, "This viewing was already rated.";
        // Loan pre-check.
        PRECHECK_NOT_FOUND = "loan.not_found", NotFound, "The loan pre-check does not exist.";
        PRECHECK_STATUS = "loan.status", Conflict, "The pre-check is not waiting for an assessment.";
        NOT_CHOSEN_BANK = "loan.not_chosen_bank", Forbidden, "Only the bank the buyer chose may assess.";
        LOAN_AMOUNT = "loan.bad_amount", Unprocessable, "The amount exceeds the listing price or the requested amount.";
        // Contracts.
        CONTRACT_NOT_FOUND = "contract.not_found", NotFound, "The contract does not exist.";
        CONTRACT_STATUS = "contract.status", Conflict, "The contract is not in the state this step needs.";
        NOT_CONTRACT_PARTY = "contract.not_party", Forbidden, "The actor is not a party (buyer, seller, agent) of this contract.";
        NOT_DRAFTER = "contract.not_drafter", Forbidden, "Only the listing's agent, or the parties of a self-listing, may draft or amend.";
        TERMS = "contract.bad_terms", Unprocessable, "The terms are inconsistent (see details.rule).";
        DOCUMENT_MISMATCH = "contract.document_mismatch", Conflict, "The document hash is not the contract's current one.";
        ALREADY_CONFIRMED = "contract.already_confirmed", Conflict, "This party already confirmed the current terms.";
        NOT_CONFIRMED = "contract.not_confirmed", Conflict, "A party must confirm the current terms before signing.";
        ALREADY_SIGNED = "contract.already_signed", Conflict, "This party already signed the current document.";
        NOT_OFFICE = "office.not_office", Forbidden, "Only a registered filing office may take this step.";
        // Proxies.
        PROXY_NOT_FOUND = "proxy.not_found", NotFound, "The proxy filing does not exist.";
        PROXY_NOT_ALLOWED = "proxy.not_allowed", Forbidden, "This step cannot be taken through a proxy.";
        NOT_THE_PROXY = "proxy.not_proxy", Forbidden, "The actor is not the proxy named in the filing.";
        PROXY_NOT_VERIFIED = "proxy.not_verified", Forbidden, "The proxy filing has not been verified at a filing office.";
        PROXY_REVOKED = "proxy.revoked", Forbidden, "The proxy filing was revoked.";
        PROXY_EXPIRED = "proxy.expired", Forbidden, "The proxy filing has expired.";
        OUT_OF_SCOPE = "proxy.out_of_scope", Forbidden, "The step or the property is outside the proxy's filed scope.";
        PROXY_STATUS = "proxy.status", Conflict, "The proxy filing is not in the state this step needs.";
        SELF_PROXY = "proxy.self", Unprocessable, "A party cannot be their own proxy.";
        PRINCIPAL_MISMATCH = "proxy.principal_mismatch", Unprocessable, "The principal checked at the office is not the attested principal.";
        NOT_PROXY_PARTY = "proxy.not_party", Forbidden, "Only the principal, the proxy, an office or the housing authority may revoke.";
        // Erasure.
        SUBJECT_NOT_FOUND = "erasure.subject_not_found", NotFound, "The erased subject is not a party or agent on the log.";
        SUBJECT_ERASED = "erasure.already_erased", Conflict, "The subject was already erased.";
        COMMITMENT_UNKNOWN = "erasure.unknown_commitment", Unprocessable, "A commitment in the receipt does not belong to the subject.";
        // Online messages (在线沟通). They are kept off the log, so no command answers these: the
        // message routes do, and they are listed here so that one catalogue holds every code.
        MESSAGE_TEXT = "message.bad_text", Malformed, "A message is 1 to 1000 characters after NFC normalisation, without control characters other than a newline, and without leading or trailing white space.";
        MESSAGE_PERSONAL_DATA = "message.personal_data", Malformed, "The message holds what looks like an ID number or a mobile number; such data is never sent in a message.";
        MESSAGE_NOT_PARTICIPANT = "message.not_participant", Forbidden, "The signer is not a participant of this conversation now, or may not open it (the same answer when the listing or contract does not exist).";
        MESSAGE_CONVERSATION_FULL = "message.conversation_full", Conflict, "The conversation holds the most messages allowed (2000).";
        MESSAGE_TOO_MANY_CONVERSATIONS = "message.too_many_conversations", Conflict, "The signer has opened the most conversations allowed (100).";
        // The demo's stand-in for a phone's SMS inbox (`deedlog serve --demo-sms`).
        DEMO_SMS_OFF = "demo.sms_off", NotFound, "The node shows no SMS codes: it was not started with --demo-sms, or its identity authority is not the embedded demo one.";
        MESSAGE_STORE_UNAVAILABLE = "message.store_unavailable", Unavailable, "The message store could not be written or read; nothing was stored (the cause is logged for the operator).";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_namespaced() {
        let mut seen = std::collections::BTreeSet::new();
        for c in codes::ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!(c.code.contains('.'), "{} has no namespace", c.code);
            assert!(c.meaning.ends_with('.'));
        }
    }

    #[test]
    fn classes_map_to_statuses() {
        assert_eq!(RejectionClass::Malformed.http_status(), 400);
        assert_eq!(RejectionClass::Unprocessable.http_status(), 422);
        let r = Rejection::new(&codes::SEIZED, "x");
        assert_eq!(r.class, RejectionClass::Conflict);
        assert_eq!(r.code, "property.seized");
    }
}
