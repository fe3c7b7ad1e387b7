//! First start: genesis, the reference data as signed authority commands, and (embedded default
//! only) keys bound for the reference banks, offices and agents.
//!
//! Resumable: every step creates a stream, and a step whose stream already exists is skipped, so
//! a start interrupted half-way finishes the job on the next start. `DATA/initialized` is written
//! at the end.

use std::cell::RefCell;
use std::collections::HashSet;

use serde_json::json;

use deedlog_core::SignedCommand;
use deedlog_domain::ids;
use deedlog_domain::keys::prove_possession;
use deedlog_domain::reference::{self, AuthorityKeys, Committer, PersonalField, ReferenceData};
use deedlog_store::Receipt;
use deedlog_vault::{SubjectId, Vault, VaultError};

use crate::{Node, NodeError, NodeOptions, sign};

/// The marker written once initialization is complete.
pub(crate) const INITIALIZED: &str = "initialized";

/// The actors genesis names.
pub(crate) const GENESIS_ACTORS: [&str; 4] =
    [ids::PLATFORM, ids::HOUSING, ids::IDENTITY, ids::REGISTRY];

/// Largest reference file read.
const REFERENCE_FILE_BYTES_MAX: u64 = 64 << 20;

/// The vault as the reference loader's committer; stores each person's fields once.
struct VaultCommitter<'a> {
    vault: &'a Vault,
    stored: RefCell<HashSet<(SubjectId, &'static str)>>,
    error: RefCell<Option<VaultError>>,
}

impl VaultCommitter<'_> {
    fn try_commit(
        &self,
        id_number: &str,
        field: PersonalField,
        value: &str,
    ) -> Result<String, VaultError> {
        let subject = self.vault.subject_by_id_number(id_number)?;
        if self.stored.borrow_mut().insert((subject, field.name())) {
            self.vault.put(&subject, field.name(), value.as_bytes())?;
        }
        Ok(self.vault.commit(&subject, field.name(), value)?.to_hex())
    }
}

impl Committer for VaultCommitter<'_> {
    fn commit(&self, subject_id_number: &str, field: PersonalField, value: &str) -> String {
        match self.try_commit(subject_id_number, field, value) {
            Ok(c) => c,
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                String::new()
            }
        }
    }
}

fn read_file(dir: &std::path::Path, name: &str) -> Result<String, NodeError> {
    use std::io::Read as _;
    let path = dir.join(name);
    let file = std::fs::File::open(&path).map_err(|e| NodeError::io(&path, e))?;
    let mut text = String::new();
    file.take(REFERENCE_FILE_BYTES_MAX)
        .read_to_string(&mut text)
        .map_err(|e| NodeError::io(&path, e))?;
    Ok(text)
}

/// Submits commands concurrently (they must not depend on each other) and waits for all.
fn submit_all(
    node: &Node,
    commands: Vec<SignedCommand>,
    what: &str,
) -> Result<Vec<Receipt>, NodeError> {
    let total = commands.len();
    let handle = node.handle();
    let mut waiting = Vec::with_capacity(total);
    for c in commands {
        waiting.push(handle.enqueue(c).map_err(NodeError::Rejected)?);
    }
    let mut receipts = Vec::with_capacity(total);
    for (i, rx) in waiting.into_iter().enumerate() {
        let receipt = rx
            .blocking_recv()
            .map_err(|_| NodeError::Config("the sequencer stopped".into()))?
            .map_err(NodeError::Rejected)?;
        receipts.push(receipt);
        if (i + 1) % 100 == 0 || i + 1 == total {
            tracing::info!(done = i + 1, total, "loading {what}");
        }
    }
    Ok(receipts)
}

fn exists(node: &Node, stream: &str) -> Result<bool, NodeError> {
    Ok(node.reader().stream_version(stream)? > 0)
}

pub(crate) fn initialize(node: &Node, options: &NodeOptions) -> Result<(), NodeError> {
    let keys = node.keys();
    let key = |actor: &str| {
        keys.get(actor)
            .cloned()
            .ok_or_else(|| NodeError::Keys(format!("no key for {actor}")))
    };
    if !exists(node, ids::GENESIS_STREAM)? {
        let platform = key(ids::PLATFORM)?;
        let payload = json!({
            "name": options.platform_name,
            "platform_key": platform.public().to_base64(),
            "authorities": {
                ids::HOUSING: key(ids::HOUSING)?.public().to_base64(),
                ids::IDENTITY: key(ids::IDENTITY)?.public().to_base64(),
                ids::REGISTRY: key(ids::REGISTRY)?.public().to_base64(),
            }
        });
        let cmd = sign(
            &platform,
            ids::PLATFORM,
            "platform.genesis",
            ids::GENESIS_STREAM,
            payload,
            Some(0),
            "genesis-0000",
            node.now_ms(),
        )?;
        submit_all(node, vec![cmd], "genesis")?;
        tracing::info!("genesis appended");
    }
    if let Some(dir) = &options.reference_dir {
        load_reference(node, dir)?;
    }
    let marker = node.data_dir().join(INITIALIZED);
    std::fs::write(&marker, "genesis and reference data loaded\n")
        .map_err(|e| NodeError::io(&marker, e))?;
    Ok(())
}

fn load_reference(node: &Node, dir: &std::path::Path) -> Result<(), NodeError> {
    let data = ReferenceData::from_json(
        &read_file(dir, "properties.json")?,
        &read_file(dir, "agencies.json")?,
        &read_file(dir, "banks.json")?,
        &read_file(dir, "offices.json")?,
    )
    .map_err(|e| NodeError::Reference(e.to_string()))?;
    let keys = node.keys();
    let housing = keys
        .get(ids::HOUSING)
        .cloned()
        .ok_or_else(|| NodeError::Keys("no housing authority key".into()))?;
    let registry = keys
        .get(ids::REGISTRY)
        .cloned()
        .ok_or_else(|| NodeError::Keys("no registry key".into()))?;
    let committer = VaultCommitter {
        vault: node.vault(),
        stored: RefCell::new(HashSet::new()),
        error: RefCell::new(None),
    };
    tracing::info!(
        properties = data.properties.len(),
        agencies = data.agencies.len(),
        banks = data.banks.len(),
        offices = data.offices.len(),
        "committing the reference data's personal data to the vault"
    );
    let authority = AuthorityKeys {
        housing: housing.public().to_base64(),
        registry: registry.public().to_base64(),
    };
    let commands = reference::commands(&data, &committer, &authority, node.now_ms());
    if let Some(e) = committer.error.borrow_mut().take() {
        return Err(NodeError::Vault(e));
    }
    let commands = commands.map_err(|e| NodeError::Reference(e.to_string()))?;
    // Dependencies: agents need their agency; the rest only need genesis.
    let mut first = Vec::new();
    let mut agents = Vec::new();
    let mut properties = Vec::new();
    for mut c in commands {
        if exists(node, &c.stream)? {
            continue;
        }
        // Stamped when signed, not when made: committing a city's registry to the vault takes
        // minutes, longer than the window in which the sequencer takes a command as fresh.
        c.issued_at_ms = node.now_ms();
        let secret = if c.actor == ids::REGISTRY {
            &registry
        } else {
            &housing
        };
        let kind = c.kind.clone();
        let signed = c
            .sign(secret)
            .map_err(|e| NodeError::Reference(format!("signing {kind}: {e}")))?;
        match kind.as_str() {
            "agent.certify" => agents.push(signed),
            "property.register" => properties.push(signed),
            _ => first.push(signed),
        }
    }
    submit_all(node, first, "banks, offices and agencies")?;
    submit_all(node, agents, "agents")?;
    submit_all(node, properties, "properties")?;
    // Demo convenience: keys for the reference banks, offices and agents, bound by the housing
    // authority, so that the demo can act as them.
    let mut actors: Vec<String> = Vec::new();
    // The reference loader checked that these ids are `BK-…`, `OF-…`, `AT-…`.
    actors.extend(data.banks.iter().map(|b| format!("bank/{}", b.bank_id)));
    actors.extend(
        data.offices
            .iter()
            .map(|o| format!("office/{}", o.office_id)),
    );
    for a in &data.agencies {
        actors.extend(a.agents.iter().map(|t| format!("agent/{}", t.agent_id)));
    }
    let mut binds = Vec::new();
    for actor in actors {
        // Registered (version 1) and not yet bound.
        if node.reader().stream_version(&actor)? != 1 {
            continue;
        }
        let secret = {
            let mut keys = node.lock_keys();
            keys.ensure(&actor)?
        };
        let payload =
            json!({"key": secret.public().to_base64(), "proof": prove_possession(&secret, &actor)});
        binds.push(sign(
            &housing,
            ids::HOUSING,
            "key.bind",
            &actor,
            payload,
            Some(1),
            &format!("bind-{}", actor.replace('/', "-")),
            node.now_ms(),
        )?);
    }
    submit_all(node, binds, "demo keys of banks, offices and agents")?;
    Ok(())
}
