//! A typed view of a committed entry, for projections and the API: the parsed command, the event
//! kind, who acted and for whom, and the derived values.

use serde_json::Value;

use deedlog_core::Entry;

use crate::ApplyError;
use crate::payload::Payload;

/// A committed entry, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView<'a> {
    /// The entry's seq.
    pub seq: u64,
    /// The entry's time.
    pub recorded_at_ms: i64,
    /// The stream (aggregate id).
    pub stream: &'a str,
    /// The event kind, e.g. `ListingPublished`.
    pub kind: &'a str,
    /// The parsed command payload.
    pub command: Payload,
    /// The signer.
    pub actor: &'a str,
    /// The principal, when a proxy acted.
    pub on_behalf_of: Option<&'a str>,
    /// The proxy filing, when a proxy acted.
    pub proxy: Option<&'a str>,
    /// What the server derived.
    pub derived: &'a Value,
}

impl<'a> EventView<'a> {
    /// Parses an entry.
    ///
    /// # Errors
    /// [`ApplyError::Payload`] when the payload does not parse, [`ApplyError::EventKind`] when
    /// the event kind is not one its command makes.
    pub fn from_entry(entry: &'a Entry) -> Result<Self, ApplyError> {
        let spec = crate::table::spec(&entry.signed.kind)
            .ok_or_else(|| ApplyError::UnknownKind(entry.signed.kind.clone()))?;
        if !spec.events.contains(&entry.kind.as_str()) {
            return Err(ApplyError::EventKind {
                command: entry.signed.kind.clone(),
                event: entry.kind.clone(),
            });
        }
        let command = Payload::parse(&entry.signed.kind, &entry.signed.payload)
            .map_err(|r| ApplyError::Payload(r.message))?;
        let text = |k: &str| entry.derived.get(k).and_then(Value::as_str);
        Ok(Self {
            seq: entry.seq,
            recorded_at_ms: entry.recorded_at_ms,
            stream: &entry.stream,
            kind: &entry.kind,
            command,
            actor: &entry.signed.actor,
            on_behalf_of: text("on_behalf_of"),
            proxy: text("proxy"),
            derived: &entry.derived,
        })
    }

    /// The party the step was taken for: the principal through a proxy, else the signer.
    #[must_use]
    pub fn party(&self) -> &'a str {
        self.on_behalf_of.unwrap_or(self.actor)
    }

    /// A derived text value, e.g. `filing_code`.
    #[must_use]
    pub fn derived_str(&self, key: &str) -> Option<&'a str> {
        self.derived.get(key).and_then(Value::as_str)
    }
}
