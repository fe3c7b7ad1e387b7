//! The API client: signed commands, reads (with read-your-writes), verification and log routes.

use std::io::{BufRead as _, BufReader, Read as _};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use deedlog_core::SignedCommand;
use deedlog_core::bundle::{ProofBundle, VerifiedBundle};
use deedlog_core::checkpoint::OpenedCheckpoint;
use deedlog_core::hash::Hash;

use crate::actor::{Actor, now_ms};
use crate::error::ClientError;
use crate::http::{Policy, Transport};
use crate::proof;

/// The acknowledgement of a command: where its entry is in the log and what the server derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's seq.
    pub seq: u64,
    /// Its stream.
    #[serde(default)]
    pub stream: String,
    /// Its version in the stream.
    #[serde(default)]
    pub stream_version: u64,
    /// The event kind, e.g. `ListingPublished`.
    #[serde(default)]
    pub kind: String,
    /// What the server derived (codes, ids).
    #[serde(default)]
    pub derived: Value,
    /// The entry's leaf hash, hex.
    #[serde(default)]
    pub leaf_hash: String,
    /// The size of the checkpoint that covers it.
    #[serde(default)]
    pub checkpoint_size: u64,
    /// True when the server answered from an earlier identical command.
    #[serde(default)]
    pub duplicate: bool,
}

impl Receipt {
    /// A derived string value, e.g. `listing_code`.
    #[must_use]
    pub fn derived_str(&self, name: &str) -> Option<&str> {
        self.derived.get(name).and_then(Value::as_str)
    }

    /// A derived string value that must be there.
    ///
    /// # Errors
    /// [`ClientError::BadResponse`].
    pub fn require(&self, name: &str) -> Result<String, ClientError> {
        self.derived_str(name)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::BadResponse {
                path: format!("receipt of seq {}", self.seq),
                reason: format!("no derived `{name}`"),
            })
    }
}

/// A checkpoint as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointAnswer {
    /// The signed note, verbatim.
    pub note: String,
    /// The log's vkey, when the server states it (never trusted: compare with yours).
    pub log_key: Option<String>,
}

/// An entry with its proof, as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryAnswer {
    /// The entry's exact bytes.
    pub bytes: Vec<u8>,
    /// The proof bundle, when one was asked for.
    pub bundle: Option<ProofBundle>,
}

/// The deedlog API client.
#[derive(Debug, Clone)]
pub struct Client {
    http: Transport,
    /// The witness policy every verified answer must meet (see [`Client::requiring`]).
    witnesses: Option<std::sync::Arc<crate::policy::Policy>>,
}

fn bad(path: &str, reason: impl Into<String>) -> ClientError {
    ClientError::BadResponse {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Percent-encodes a path segment (codes and ids are ASCII, but never trust that).
#[must_use]
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client of the server at `base_url` (`http://host:port`), no retries.
    ///
    /// # Errors
    /// [`ClientError::BadUrl`].
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: Transport::new(base_url, Policy::default())?,
            witnesses: None,
        })
    }

    /// The same client, retrying transport failures for up to `window` (signed commands are
    /// retried byte for byte, so the server's idempotency makes the retry safe).
    #[must_use]
    pub fn retrying(self, window: Duration) -> Self {
        let policy = Policy {
            retry_for: window,
            ..self.http.policy()
        };
        Self {
            http: self.http.with_policy(policy),
            witnesses: self.witnesses,
        }
    }

    /// The same client, refusing every verification answer whose bundles' cosigned checkpoint
    /// does not meet the witness `policy` (C2SP tlog-policy); [`Verified::witnesses`] then says
    /// which witnesses signed each bundle's checkpoint.
    #[must_use]
    pub fn requiring(self, policy: crate::policy::Policy) -> Self {
        Self {
            witnesses: Some(std::sync::Arc::new(policy)),
            ..self
        }
    }

    /// The transport, for routes this client has no method for.
    #[must_use]
    pub fn http(&self) -> &Transport {
        &self.http
    }

    /// The base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        self.http.base()
    }

    /// Signs and submits a command: fresh nonce, issued now.
    ///
    /// # Errors
    /// [`ClientError::Rejected`] with the server's code, transport errors, or
    /// [`ClientError::Command`] when the command can't be signed.
    pub fn submit(
        &self,
        actor: &Actor,
        kind: &str,
        stream: &str,
        payload: &impl Serialize,
        expected_version: Option<u64>,
    ) -> Result<Receipt, ClientError> {
        let payload = serde_json::to_value(payload).map_err(|e| {
            ClientError::Command(deedlog_core::command::CommandError::Payload(
                deedlog_core::canonical::CanonicalError::Encode(e.to_string()),
            ))
        })?;
        let signed = actor.sign(kind, stream, payload, expected_version)?;
        self.submit_signed(&signed)
    }

    /// Submits a signed command as it is (`POST /v1/commands/{kind}`).
    ///
    /// # Errors
    /// As [`Client::submit`].
    pub fn submit_signed(&self, command: &SignedCommand) -> Result<Receipt, ClientError> {
        let path = format!("/v1/commands/{}", encode_segment(&command.kind));
        let body = serde_json::to_vec(command).map_err(|e| bad(&path, e.to_string()))?;
        let answer = self
            .http
            .call("POST", &path, &[], Some(("application/json", &body)))?;
        let value = answer.json(&path)?;
        parse_receipt(&path, &value)
    }

    /// `GET path` as JSON; with `after_seq`, the server waits (bounded) until it has projected
    /// that seq, so a read follows the caller's own write.
    ///
    /// # Errors
    /// Transport errors, [`ClientError::Rejected`], non-JSON bodies.
    pub fn get(&self, path: &str, after_seq: Option<u64>) -> Result<Value, ClientError> {
        match after_seq {
            Some(seq) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                self.http.get_json(&format!("{path}{sep}after_seq={seq}"))
            }
            None => self.http.get_json(path),
        }
    }

    /// `GET path` as a signed request by `actor` (private reads), with `after_seq` for
    /// read-your-writes.
    ///
    /// # Errors
    /// `401 request.*` when the signature or key is refused, `403 request.forbidden`, and as
    /// [`Client::get`].
    pub fn signed_get(
        &self,
        actor: &Actor,
        path: &str,
        after_seq: Option<u64>,
    ) -> Result<Value, ClientError> {
        let path = match after_seq {
            Some(seq) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                format!("{path}{sep}after_seq={seq}")
            }
            None => path.to_owned(),
        };
        let headers = request_headers(actor, "GET", &path, b"", now_ms());
        self.http.call("GET", &path, &headers, None)?.json(&path)
    }

    /// The filed contract as PDF (`GET /v1/contracts/{CT}/pdf`), signed by `actor` (the seller
    /// or the buyer): the file's bytes, to check with `deedlog_pdf::check`.
    ///
    /// # Errors
    /// As [`Client::signed_get`]: `401` unsigned, `403` for anyone but the two parties.
    pub fn contract_pdf(&self, actor: &Actor, contract: &str) -> Result<Vec<u8>, ClientError> {
        let path = format!(
            "/v1/contracts/{}/pdf",
            encode_segment(contract.trim_start_matches("contract/"))
        );
        let headers = request_headers(actor, "GET", &path, b"", now_ms());
        Ok(self.http.call("GET", &path, &headers, None)?.body)
    }

    /// `POST path` with a JSON body as a signed request by `actor`.
    ///
    /// # Errors
    /// As [`Client::signed_get`].
    pub fn signed_post(
        &self,
        actor: &Actor,
        path: &str,
        body: &Value,
    ) -> Result<Value, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| bad(path, e.to_string()))?;
        let headers = request_headers(actor, "POST", path, &bytes, now_ms());
        self.http
            .call("POST", path, &headers, Some(("application/json", &bytes)))?
            .json(path)
    }

    /// The current public key of an actor (`GET /v1/actors/key?actor=`), `None` if it has none;
    /// with `after_seq`, as of that entry at least (the server waits for its views).
    ///
    /// # Errors
    /// Transport errors and rejections other than `404`.
    pub fn actor_key(
        &self,
        actor: &str,
        after_seq: Option<u64>,
    ) -> Result<Option<String>, ClientError> {
        let path = format!("/v1/actors/key?actor={}", encode_segment(actor));
        match self.get(&path, after_seq) {
            Ok(v) => Ok(v.get("key").and_then(Value::as_str).map(str::to_owned)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Public listing search (`GET /v1/listings?…`); `query` is the query string without `?`
    /// (e.g. `district=五华区&sort=price_asc&limit=20`), already percent-encoded by the caller.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn listings(&self, query: &str, after_seq: Option<u64>) -> Result<Value, ClientError> {
        let path = if query.is_empty() {
            "/v1/listings".to_owned()
        } else {
            format!("/v1/listings?{query}")
        };
        self.get(&path, after_seq)
    }

    /// A public read of one aggregate by its full id: `listing/LS-…`, `agency/AG-…`,
    /// `agent/AT-…` (`GET /v1/{listings,agencies,agents}/{suffix}`).
    ///
    /// # Errors
    /// [`ClientError::BadUrl`]-free: an id of another kind is refused as
    /// [`ClientError::Limit`]; and as [`Client::get`].
    pub fn public(&self, id: &str, after_seq: Option<u64>) -> Result<Value, ClientError> {
        let (kind, suffix) = id
            .split_once('/')
            .ok_or_else(|| ClientError::Limit(format!("`{id}` is not an aggregate id")))?;
        let collection = match kind {
            "listing" => "listings",
            "agency" => "agencies",
            "agent" => "agents",
            _ => return Err(ClientError::Limit(format!("`{id}` has no public route"))),
        };
        self.get(
            &format!("/v1/{collection}/{}", encode_segment(suffix)),
            after_seq,
        )
    }

    /// Agents sorted by rating, best first (`GET /v1/agents[?agency=AG-…]`).
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn agents_by_rating(&self, agency: Option<&str>) -> Result<Value, ClientError> {
        match agency {
            Some(a) => self.get(
                &format!(
                    "/v1/agents?agency={}",
                    encode_segment(a.trim_start_matches("agency/"))
                ),
                None,
            ),
            None => self.get("/v1/agents", None),
        }
    }

    /// A private read of one aggregate by its full id (`GET /v1/{kind}s/{suffix}`: parties,
    /// verifications, entrustments, viewings, prechecks, contracts, proxies), signed by `actor`.
    ///
    /// # Errors
    /// As [`Client::signed_get`].
    pub fn private(
        &self,
        actor: &Actor,
        id: &str,
        after_seq: Option<u64>,
    ) -> Result<Value, ClientError> {
        let (kind, suffix) = id
            .split_once('/')
            .ok_or_else(|| ClientError::Limit(format!("`{id}` is not an aggregate id")))?;
        let collection = match kind {
            "party" => "parties",
            "verification" => "verifications",
            "entrustment" => "entrustments",
            "viewing" => "viewings",
            "precheck" => "prechecks",
            "contract" => "contracts",
            "proxy" => "proxies",
            _ => return Err(ClientError::Limit(format!("`{id}` has no private route"))),
        };
        self.signed_get(
            actor,
            &format!("/v1/{collection}/{}", encode_segment(suffix)),
            after_seq,
        )
    }

    /// A private list of the actor itself: for a party `contracts`, `viewings`,
    /// `viewing-records`, `listings`…; for an agent `entrustments`, `listings`, `viewings`,
    /// `contracts`; for a bank its (pending) pre-checks (`GET /v1/{parties,agents}/{id}/{list}`,
    /// `GET /v1/banks/{id}/prechecks`).
    ///
    /// # Errors
    /// As [`Client::signed_get`].
    pub fn my_list(
        &self,
        actor: &Actor,
        list: &str,
        after_seq: Option<u64>,
    ) -> Result<Value, ClientError> {
        let (kind, suffix) = actor
            .id
            .split_once('/')
            .ok_or_else(|| ClientError::Limit(format!("`{}` has no lists", actor.id)))?;
        let path = match kind {
            "party" => format!(
                "/v1/parties/{}/{}",
                encode_segment(suffix),
                encode_segment(list)
            ),
            "agent" => format!(
                "/v1/agents/{}/{}",
                encode_segment(suffix),
                encode_segment(list)
            ),
            "bank" => format!(
                "/v1/banks/{}/prechecks?pending={}",
                encode_segment(suffix),
                list == "pending"
            ),
            _ => return Err(ClientError::Limit(format!("`{}` has no lists", actor.id))),
        };
        self.signed_get(actor, &path, after_seq)
    }

    /// An authority's or office's work queue (`GET /v1/queues/{queue}`): `contracts-to-file`,
    /// `offline-contracts`, `proxies-to-verify`.
    ///
    /// # Errors
    /// As [`Client::signed_get`].
    pub fn queue(
        &self,
        actor: &Actor,
        queue: &str,
        after_seq: Option<u64>,
    ) -> Result<Value, ClientError> {
        self.signed_get(
            actor,
            &format!("/v1/queues/{}", encode_segment(queue)),
            after_seq,
        )
    }

    /// `GET /readyz`: whether the server takes commands and its views are caught up.
    ///
    /// # Errors
    /// `503` while not ready, and transport errors.
    pub fn ready(&self) -> Result<Value, ClientError> {
        self.http.get_json("/readyz")
    }

    /// Stored checkpoints with `from ≤ size ≤ to`, as `(size, note)`, following the pages
    /// (`GET /v1/log/checkpoints`).
    ///
    /// # Errors
    /// Transport errors, rejections, malformed answers.
    pub fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, ClientError> {
        let mut out = Vec::new();
        let mut next = from;
        loop {
            let path = format!("/v1/log/checkpoints?from={next}&to={to}");
            let v = self.http.get_json(&path)?;
            let page = v
                .get("checkpoints")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(&path, "no checkpoints list"))?;
            for c in page {
                let size = c.get("size").and_then(Value::as_u64);
                let note = c.get("note").and_then(Value::as_str);
                match (size, note) {
                    (Some(s), Some(n)) => out.push((s, n.to_owned())),
                    _ => return Err(bad(&path, "a checkpoint without size or note")),
                }
            }
            match v.get("next_from").and_then(Value::as_u64) {
                Some(n) if !page.is_empty() && n > next && n <= to => next = n,
                _ => return Ok(out),
            }
        }
    }

    /// The latest checkpoint (`GET /v1/log/checkpoint`).
    ///
    /// # Errors
    /// Transport errors and answers without a note.
    pub fn checkpoint(&self) -> Result<CheckpointAnswer, ClientError> {
        let path = "/v1/log/checkpoint";
        let answer = self.http.call("GET", path, &[], None)?;
        let is_json = answer
            .content_type
            .as_deref()
            .is_some_and(|t| t.contains("json"));
        if !is_json {
            let note = String::from_utf8(answer.body).map_err(|_| bad(path, "not UTF-8"))?;
            return Ok(CheckpointAnswer {
                note,
                log_key: None,
            });
        }
        let v = answer.json(path)?;
        let note = ["note", "checkpoint", "signed_note"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .ok_or_else(|| bad(path, "no checkpoint note"))?
            .to_owned();
        let log_key = ["log_key", "vkey", "verifier_key"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::to_owned);
        Ok(CheckpointAnswer { note, log_key })
    }

    /// The latest checkpoint, opened with the trusted log key.
    ///
    /// # Errors
    /// As [`Client::checkpoint`], and [`ClientError::Proof`] when it does not verify.
    pub fn verified_checkpoint(&self, log_key: &str) -> Result<OpenedCheckpoint, ClientError> {
        proof::open_checkpoint(&self.checkpoint()?.note, log_key)
    }

    /// The consistency proof from tree size `from` to `to`
    /// (`GET /v1/log/proof/consistency?from=&to=`).
    ///
    /// # Errors
    /// Transport errors, rejections, malformed hashes.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ClientError> {
        let path = format!("/v1/log/proof/consistency?from={from}&to={to}");
        let v = self.http.get_json(&path)?;
        let list = v
            .get("proof")
            .or_else(|| v.get("hashes"))
            .or_else(|| v.get("consistency"))
            .unwrap_or(&v);
        let items: Vec<String> =
            serde_json::from_value(list.clone()).map_err(|e| bad(&path, e.to_string()))?;
        proof::parse_hashes(&items)
    }

    /// Fetches the latest checkpoint and proves it extends `known` (a checkpoint seen before):
    /// the log only grew. Returns the new checkpoint.
    ///
    /// # Errors
    /// [`ClientError::Proof`] when it does not extend `known`, and transport errors.
    pub fn checkpoint_extending(
        &self,
        known: &OpenedCheckpoint,
        log_key: &str,
    ) -> Result<OpenedCheckpoint, ClientError> {
        let new = self.verified_checkpoint(log_key)?;
        self.check_extends(known, &new)?;
        Ok(new)
    }

    /// Proves `new` extends `known` with a consistency proof from the server.
    ///
    /// # Errors
    /// [`ClientError::Proof`] and transport errors.
    pub fn check_extends(
        &self,
        known: &OpenedCheckpoint,
        new: &OpenedCheckpoint,
    ) -> Result<(), ClientError> {
        let proof = if known.size == 0 || known.size >= new.size {
            Vec::new()
        } else {
            self.consistency_proof(known.size, new.size)?
        };
        proof::check_consistency(known, new, &proof)
    }

    /// One entry (`GET /v1/log/entries/{seq}`), with a proof bundle against the checkpoint of
    /// size `proof_size` when given.
    ///
    /// # Errors
    /// Transport errors, rejections, malformed answers.
    pub fn entry(&self, seq: u64, proof_size: Option<u64>) -> Result<EntryAnswer, ClientError> {
        let path = match proof_size {
            Some(size) => format!("/v1/log/entries/{seq}?proof_size={size}"),
            None => format!("/v1/log/entries/{seq}"),
        };
        let v = self.http.get_json(&path)?;
        let bundle = proof::find_bundle(&v);
        let bytes = match &bundle {
            Some(b) => deedlog_core::keys::from_base64(&b.entry)
                .map_err(|_| bad(&path, "entry is not base64"))?,
            None => entry_bytes(&path, &v)?,
        };
        Ok(EntryAnswer { bytes, bundle })
    }

    /// Entries `start..end` (`GET /v1/log/entries?start=&end=`, JSON Lines), as their exact
    /// bytes with the openings the public may see; the server bounds the range, so fewer may
    /// come back (continue from `start + len`).
    ///
    /// # Errors
    /// Transport errors and rejections; [`ClientError::BadResponse`] for an opening line that
    /// does not follow its entry.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<FeedEntry>, ClientError> {
        self.entries_as(None, start, end)
    }

    /// As [`Client::entries`], as a signed request by `actor` when given: the openings of
    /// confidential entries come whole to those allowed to read them (the stream's parties,
    /// the signer, the housing authority, registered auditors).
    ///
    /// # Errors
    /// As [`Client::entries`]; `401 request.*` for a refused signature.
    pub fn entries_as(
        &self,
        actor: Option<&Actor>,
        start: u64,
        end: u64,
    ) -> Result<Vec<FeedEntry>, ClientError> {
        let path = format!("/v1/log/entries?start={start}&end={end}");
        let headers = match actor {
            Some(a) => request_headers(a, "GET", &path, b"", now_ms()),
            None => Vec::new(),
        };
        let answer = self.http.call("GET", &path, &headers, None)?;
        parse_feed(&path, &answer.body)
    }

    /// Every entry from `start` to the end of the log as it is now (`size` entries), page by
    /// page.
    ///
    /// # Errors
    /// As [`Client::entries`], and [`ClientError::BadResponse`] when a page comes back empty
    /// before `size`.
    pub fn all_entries(&self, start: u64, size: u64) -> Result<Vec<FeedEntry>, ClientError> {
        let mut out = Vec::new();
        let mut next = start;
        while next < size {
            let page = self.entries(next, size.min(next + 1000))?;
            if page.is_empty() {
                return Err(bad("/v1/log/entries", format!("no entries from {next}")));
            }
            next += page.len() as u64;
            out.extend(page);
        }
        Ok(out)
    }

    /// Looks up a listing verification code (`GET /v1/verify/listing/{code}`) and checks the
    /// returned proof bundle on the client side against `log_key`. With `known`, also proves
    /// that the bundle's checkpoint extends it.
    ///
    /// # Errors
    /// [`ClientError::Bundle`] or [`ClientError::Proof`] when a check fails; rejections (e.g.
    /// `404` for an unknown code) and transport errors.
    pub fn verify_listing(
        &self,
        code: &str,
        log_key: &str,
        known: Option<&OpenedCheckpoint>,
    ) -> Result<Verified, ClientError> {
        let code = &log_form(code);
        self.verify_at(
            &format!("/v1/verify/listing/{}", encode_segment(code)),
            Asked::Listing(code),
            log_key,
            known,
        )
    }

    /// Looks up a contract filing code (`GET /v1/verify/contract/{filing_code}`) and checks the
    /// proof on the client side (see [`Client::verify_listing`]).
    ///
    /// # Errors
    /// As [`Client::verify_listing`].
    pub fn verify_contract(
        &self,
        filing_code: &str,
        log_key: &str,
        known: Option<&OpenedCheckpoint>,
    ) -> Result<Verified, ClientError> {
        let filing_code = &log_form(filing_code);
        self.verify_at(
            &format!("/v1/verify/contract/{}", encode_segment(filing_code)),
            Asked::Contract(filing_code),
            log_key,
            known,
        )
    }

    /// Uploads a document (`POST /v1/verify/document`) and checks the proof of the matching
    /// entry, if any, on the client side.
    ///
    /// # Errors
    /// As [`Client::verify_listing`].
    pub fn verify_document(
        &self,
        document: &[u8],
        log_key: &str,
        known: Option<&OpenedCheckpoint>,
    ) -> Result<Verified, ClientError> {
        let path = "/v1/verify/document";
        let answer = self.http.call(
            "POST",
            path,
            &[],
            Some(("application/octet-stream", document)),
        )?;
        let v = answer.json(path)?;
        // The hash is computed here, over the bytes sent, so that the server cannot answer for
        // another document.
        let sha256 = {
            use sha2::{Digest as _, Sha256};
            hex::encode(Sha256::digest(document))
        };
        self.check_answer(v, Asked::Document(&sha256), log_key, known)
    }

    fn verify_at(
        &self,
        path: &str,
        asked: Asked<'_>,
        log_key: &str,
        known: Option<&OpenedCheckpoint>,
    ) -> Result<Verified, ClientError> {
        let v = self.http.get_json(path)?;
        self.check_answer(v, asked, log_key, known)
    }

    /// Verifies the answer's bundles and binds them to what was asked (see
    /// [`proof::bind_listing`]): an answer whose proofs are valid but prove other entries fails.
    fn check_answer(
        &self,
        answer: Value,
        asked: Asked<'_>,
        log_key: &str,
        known: Option<&OpenedCheckpoint>,
    ) -> Result<Verified, ClientError> {
        let (binding, bundles) = match asked {
            Asked::Listing(code) => proof::bind_listing(code, &answer, log_key)?,
            Asked::Contract(code) => proof::bind_contract(code, &answer, log_key)?,
            Asked::Document(sha256) => proof::bind_document(sha256, &answer, log_key)?,
        };
        if let Some(known) = known {
            for v in &bundles {
                self.check_extends(known, &v.checkpoint)?;
            }
        }
        let witnesses = match &self.witnesses {
            Some(policy) => proof::require_witnesses(&bundles, policy)?,
            None => Vec::new(),
        };
        // Still current? A forged state proof fails the whole answer, like any forged proof;
        // a missing or stale one leaves currency unknown.
        let subject = binding.subject;
        let current = match (subject, binding.proved.first()) {
            (proof::Subject::Listing | proof::Subject::Contract, Some(p)) => {
                let shown = bundles.iter().map(|b| b.entry.seq).max().unwrap_or(p.seq);
                proof::currency(subject, &answer, &p.stream, shown, log_key)?
            }
            _ => proof::Currency::CouldNotCheck {
                reason: "a document match carries no state proof".into(),
            },
        };
        Ok(Verified {
            answer,
            bundles,
            binding,
            witnesses,
            current,
        })
    }

    /// Follows the log from `from_seq` (`GET /v1/log/follow?from=`, server-sent events):
    /// an iterator over the entries' exact bytes, in order. The stream ends when the server
    /// closes it or `idle` passes without a byte.
    ///
    /// # Errors
    /// Transport errors and rejections opening the stream.
    pub fn follow(&self, from_seq: u64, idle: Duration) -> Result<Follow, ClientError> {
        let path = format!("/v1/log/follow?from={from_seq}");
        let url = format!("{}{path}", self.http.base());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_per_read(Some(idle))
            .build()
            .into();
        let response = agent
            .get(&url)
            .header("accept", "text/event-stream")
            .call()
            .map_err(|e| ClientError::Transport(format!("GET {path}: {e}")))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response
                .into_body()
                .into_with_config()
                .limit(64 * 1024)
                .read_to_vec()
                .unwrap_or_default();
            return Err(crate::http::check(crate::http::Answer {
                status,
                content_type: None,
                body,
            })
            .err()
            .unwrap_or_else(|| bad(&path, "unexpected status")));
        }
        Ok(Follow {
            lines: BufReader::new(Box::new(response.into_body().into_reader())),
            path,
        })
    }
}

/// The domain tag of signed requests.
pub const REQUEST_DOMAIN: &[u8] = b"deedlog/request/v1\n";

/// The four headers of a signed request:
///
/// ```text
/// message = "deedlog/request/v1\n" || METHOD || "\n" || PATH_AND_QUERY || "\n" || TIMESTAMP || "\n" || hex(SHA-256(body))
/// ```
#[must_use]
pub fn request_headers(
    actor: &Actor,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: i64,
) -> Vec<(&'static str, String)> {
    use sha2::{Digest as _, Sha256};
    let message = format!(
        "{}\n{path_and_query}\n{timestamp_ms}\n{}",
        method.to_ascii_uppercase(),
        hex::encode(Sha256::digest(body))
    );
    let signature = actor.secret.sign(REQUEST_DOMAIN, message.as_bytes());
    vec![
        ("x-deedlog-actor", actor.id.clone()),
        ("x-deedlog-key", actor.key()),
        ("x-deedlog-timestamp", timestamp_ms.to_string()),
        (
            "x-deedlog-signature",
            deedlog_core::keys::base64(&signature),
        ),
    ]
}

/// The entry bytes in a JSON item: `{"entry": "<base64>"}`, `{"bytes": …}`, a base64 string, or
/// the entry object itself (re-encoded canonically, which is exact for a canonical entry).
fn entry_bytes(path: &str, item: &Value) -> Result<Vec<u8>, ClientError> {
    let b64 = item
        .as_str()
        .or_else(|| item.get("entry").and_then(Value::as_str))
        .or_else(|| item.get("bytes").and_then(Value::as_str))
        .or_else(|| item.get("entry_base64").and_then(Value::as_str));
    if let Some(text) = b64 {
        return deedlog_core::keys::from_base64(text).map_err(|_| bad(path, "entry is not base64"));
    }
    let obj = item.get("entry").unwrap_or(item);
    if obj.get("seq").is_some() && obj.get("signed").is_some() {
        return deedlog_core::canonical::encode(obj).map_err(|e| bad(path, e.to_string()));
    }
    Err(bad(path, "no entry in the answer"))
}

fn parse_receipt(path: &str, value: &Value) -> Result<Receipt, ClientError> {
    let inner = if value.get("seq").is_some() {
        value
    } else {
        value.get("receipt").unwrap_or(value)
    };
    serde_json::from_value(inner.clone()).map_err(|e| bad(path, format!("not a receipt: {e}")))
}

/// A verification answer whose every proof bundle checked out on the client side.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The server's whole answer (what it says about the listing or contract).
    pub answer: Value,
    /// The bundles, verified, in the order found.
    pub bundles: Vec<VerifiedBundle>,
    /// Which entries issued what was asked, and which shown fields they back.
    pub binding: proof::Binding,
    /// With a witness policy ([`Client::requiring`]): for each bundle, in order, the policy's
    /// verdict on its cosigned checkpoint (who signed). Empty without a policy.
    pub witnesses: Vec<crate::policy::PolicyVerdict>,
    /// Whether what the answer shows is still current, as its state proof shows.
    pub current: proof::Currency,
}

/// What a verification call asked for, so that its answer can be bound to it.
#[derive(Debug, Clone, Copy)]
enum Asked<'a> {
    Listing(&'a str),
    Contract(&'a str),
    Document(&'a str),
}

/// Server-sent events from `/v1/log/follow`: entry bytes, with the openings the reader may see.
pub struct Follow {
    lines: BufReader<Box<dyn std::io::Read + Send>>,
    path: String,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow").field("path", &self.path).finish()
    }
}

/// Largest SSE line accepted, in bytes.
const SSE_LINE_BYTES_MAX: usize = 4 * 1024 * 1024;

impl Iterator for Follow {
    type Item = Result<FeedEntry, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut data = String::new();
        loop {
            let mut line = String::new();
            match (&mut self.lines)
                .take(SSE_LINE_BYTES_MAX as u64)
                .read_line(&mut line)
            {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return if e.kind() == std::io::ErrorKind::TimedOut
                        || e.kind() == std::io::ErrorKind::WouldBlock
                    {
                        None
                    } else {
                        Some(Err(ClientError::Transport(format!("{}: {e}", self.path))))
                    };
                }
            }
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if data.is_empty() {
                    continue;
                }
                return Some(event_entry(&self.path, &data));
            }
            if let Some(rest) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            }
            // `event:`, `id:`, `retry:` and comments (`:`) carry nothing we need.
        }
    }
}

/// An event's data: the entry line and, when shown, its opening line (as in the JSON Lines
/// feed); or, from older servers, the entry as base64.
fn event_entry(path: &str, data: &str) -> Result<FeedEntry, ClientError> {
    if data.starts_with('{') {
        let mut items = parse_feed(path, data.as_bytes())?;
        return match (items.pop(), items.is_empty()) {
            (Some(item), true) => Ok(item),
            _ => Err(bad(path, "an event holds more than one entry")),
        };
    }
    deedlog_core::keys::from_base64(data.trim())
        .map(|bytes| FeedEntry {
            bytes,
            opening: None,
        })
        .map_err(|_| bad(path, "event data is neither an entry nor base64"))
}

/// One entry of the feed: its exact bytes, and its opening (payload and salt, canonical bytes)
/// when the reader may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// The entry's exact bytes (what is hashed).
    pub bytes: Vec<u8>,
    /// The opening of a version-2 entry, when shown.
    pub opening: Option<Vec<u8>>,
}

impl FeedEntry {
    /// The whole entry when its payload is at hand (version 1, or version 2 with its opening),
    /// the opening checked against the signed digest.
    ///
    /// # Errors
    /// The entry's decoding error ([`deedlog_core::entry::EntryError::Sealed`] without the
    /// opening).
    pub fn whole(&self) -> Result<deedlog_core::Entry, deedlog_core::entry::EntryError> {
        deedlog_core::Entry::decode_with(&self.bytes, self.opening.as_deref())
    }
}

/// Parses a JSON Lines feed: entry lines, each optionally followed by its opening line.
fn parse_feed(path: &str, body: &[u8]) -> Result<Vec<FeedEntry>, ClientError> {
    let mut out: Vec<FeedEntry> = Vec::new();
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if line.starts_with(b"{\"opening\":") {
            let (seq, opening) = deedlog_core::verify::OpeningLine::parse(line)
                .map_err(|e| bad(path, format!("opening line: {e}")))?;
            let last = out
                .last_mut()
                .filter(|e| e.opening.is_none())
                .ok_or_else(|| bad(path, format!("an opening line for {seq} follows no entry")))?;
            let at = deedlog_core::LoggedEntry::decode(&last.bytes)
                .map(|e| e.seq)
                .ok();
            if at != Some(seq) {
                return Err(bad(
                    path,
                    format!("an opening line for {seq} follows another entry"),
                ));
            }
            last.opening = Some(opening);
        } else {
            out.push(FeedEntry {
                bytes: line.to_vec(),
                opening: None,
            });
        }
    }
    Ok(out)
}

/// A code as the log carries it (the v1 form), when `code` reads as one: the server answers and
/// the proofs bind the v1 form, whichever spelling a person typed. A code that does not read is
/// sent as typed, for the server to refuse as mistyped.
fn log_form(code: &str) -> String {
    deedlog_domain::ids::parse_code(code).map_or_else(|_| code.to_owned(), |(_, v1)| v1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn receipts_parse_flat_or_nested() {
        let r = parse_receipt(
            "/x",
            &json!({"seq": 4, "stream": "listing/LS-1", "derived": {"listing_code": "LV-1"}}),
        )
        .unwrap();
        assert_eq!(r.seq, 4);
        assert_eq!(r.derived_str("listing_code"), Some("LV-1"));
        assert!(r.require("filing_code").is_err());
        let r = parse_receipt("/x", &json!({"receipt": {"seq": 9}})).unwrap();
        assert_eq!(r.seq, 9);
        assert!(parse_receipt("/x", &json!({"nope": 1})).is_err());
    }

    #[test]
    fn signed_request_headers_verify_under_the_actor_key() {
        let actor = Actor::generate("party/PA-7");
        let h = request_headers(&actor, "get", "/v1/parties/PA-7/contracts?limit=5", b"", 42);
        let get = |name: &str| {
            h.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("x-deedlog-actor"), "party/PA-7");
        assert_eq!(get("x-deedlog-timestamp"), "42");
        let sig = deedlog_core::keys::signature_from_base64(&get("x-deedlog-signature")).unwrap();
        let message = "GET\n/v1/parties/PA-7/contracts?limit=5\n42\n\
                       e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        actor
            .secret
            .public()
            .verify(REQUEST_DOMAIN, message.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn server_sent_events_yield_exact_entry_bytes() {
        let text = ": keep-alive\n\nid: 3\nevent: entry\ndata: {\"seq\":3,\"signed\":{}}\n\n\
                    id: 4\ndata: {\"seq\":4,\"signed\":{}}\n\n";
        let follow = Follow {
            lines: BufReader::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))),
            path: "/v1/log/follow".into(),
        };
        let got: Vec<Vec<u8>> = follow
            .map(|e| e.map(|e| e.bytes))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            vec![
                br#"{"seq":3,"signed":{}}"#.to_vec(),
                br#"{"seq":4,"signed":{}}"#.to_vec()
            ]
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("LV-0A"), "LV-0A");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }
}
