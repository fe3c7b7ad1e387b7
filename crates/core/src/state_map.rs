//! A sparse Merkle tree over 256-bit keys: the map from each aggregate to the digest of its
//! current public status, with membership and non-membership proofs.
//!
//! The tree is the binary trie of all 2^256 key positions, in the compact form of Diem's Jellyfish
//! Merkle tree and of Dahlberg, Pulls and Peeters' "Efficient Sparse Merkle Trees" (2016): an
//! empty subtree hashes to [`EMPTY`], a subtree holding exactly one leaf *is* that leaf (it sits
//! at the highest position where it is alone), and every other subtree is an inner node.
//!
//! ```text
//! leaf  = SHA-256(0x00 || "deedlog/state/v1" || key || value)     key, value: 32 bytes each
//! inner = SHA-256(0x01 || left || right)                          never with two empty children,
//!                                                                 nor one empty and one leaf
//! EMPTY = 32 zero bytes
//! ```
//!
//! The form is canonical: the root is a pure function of the set of `(key, value)` pairs, whatever
//! order they were inserted or removed in (an auditor recomputes it from the log alone). The
//! prefixes 0x00 and 0x01 keep a leaf from ever being read as an inner node and back, so a proof
//! that ends at a leaf at depth `d` shows that leaf alone under the `d`-bit prefix of its key.
//!
//! Written here rather than taken from a crate: the maintained implementations (`jmt`, Nervos'
//! `sparse-merkle-tree`) bring their own storage traits, hashers and serialisation frameworks for
//! what is, with an in-memory map of some 10^5 aggregates, two hundred lines (see FORMAT.md).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::hash::sha256;

/// A 32-byte hash.
pub type Digest = [u8; 32];

/// The hash of an empty subtree.
pub const EMPTY: Digest = [0; 32];

const LEAF_TAG: &[u8] = b"\x00deedlog/state/v1";

const KEY_TAG: &[u8] = b"deedlog/state-key/v1\n";

/// The field of `derived` in which the last entry of each batch commits the map's root (64
/// lower-case hex digits).
pub const STATE_ROOT_FIELD: &str = "state_root";

/// The bytes the field adds to an entry: `,"state_root":"` and 64 hex digits and `"`.
pub const STATE_ROOT_RESERVE: usize = 80;

/// The map key of an aggregate: `SHA-256("deedlog/state-key/v1\n" || id)`.
#[must_use]
pub fn state_key(aggregate: &str) -> Digest {
    let mut buf = Vec::with_capacity(KEY_TAG.len() + aggregate.len());
    buf.extend_from_slice(KEY_TAG);
    buf.extend_from_slice(aggregate.as_bytes());
    sha256(&buf)
}

/// The root an entry's `derived` commits, if it carries one.
///
/// # Errors
/// When the field is there but is not 64 lower-case hex digits.
pub fn committed_root(derived: &serde_json::Value) -> Result<Option<Digest>, StateProofError> {
    match derived.get(STATE_ROOT_FIELD) {
        None => Ok(None),
        Some(serde_json::Value::String(s))
            if s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            from_hex(s).map(Some)
        }
        Some(_) => Err(StateProofError::Malformed(
            "state_root is not 64 lower-case hex digits",
        )),
    }
}

/// The hash of leaf `(key, value)`.
#[must_use]
pub fn leaf_hash(key: &Digest, value: &Digest) -> Digest {
    let mut buf = Vec::with_capacity(LEAF_TAG.len() + 64);
    buf.extend_from_slice(LEAF_TAG);
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    sha256(&buf)
}

/// The hash of an inner node.
#[must_use]
pub fn inner_hash(left: &Digest, right: &Digest) -> Digest {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    sha256(&buf)
}

/// Bit `i` of `key`, most significant first (0: left, 1: right).
#[must_use]
pub fn bit(key: &Digest, i: usize) -> bool {
    (key[i / 8] >> (7 - (i % 8))) & 1 == 1
}

/// The state map. Its nodes are shared between clones (`Arc`, copied on write along the path
/// an update takes), so a clone is a snapshot that costs nothing until the original changes:
/// the node's published copy is such a snapshot of the sequencer's map.
#[derive(Debug, Clone, Default)]
pub struct StateMap {
    root: Node,
    len: usize,
}

#[derive(Debug, Clone, Default)]
enum Node {
    #[default]
    Empty,
    /// Its hash is computed when asked for, not kept: a leaf is two thirds of the tree's
    /// nodes, and an update rehashes at most one leaf beside its own path.
    Leaf { key: Digest, value: Digest },
    Inner {
        left: Arc<Node>,
        right: Arc<Node>,
        /// Valid unless `dirty`: updates mark the path and [`StateMap::root`] rehashes it once,
        /// so a batch of updates shares the hashing of the levels their paths have in common.
        hash: Digest,
        dirty: bool,
    },
}

impl Node {
    /// The hash of a clean node.
    fn hash(&self) -> Digest {
        match self {
            Self::Empty => EMPTY,
            Self::Leaf { key, value } => leaf_hash(key, value),
            Self::Inner { hash, .. } => *hash,
        }
    }

    fn leaf(key: Digest, value: Digest) -> Self {
        Self::Leaf { key, value }
    }

    fn inner(left: Node, right: Node) -> Self {
        Self::Inner {
            left: Arc::new(left),
            right: Arc::new(right),
            hash: EMPTY,
            dirty: true,
        }
    }

    /// Rehashes the dirty nodes below and at this one.
    fn clean(&mut self) -> Digest {
        match self {
            Self::Empty => EMPTY,
            Self::Leaf { key, value } => leaf_hash(key, value),
            Self::Inner {
                left,
                right,
                hash,
                dirty,
            } => {
                if *dirty {
                    *hash = inner_hash(&Self::clean_child(left), &Self::clean_child(right));
                    *dirty = false;
                }
                *hash
            }
        }
    }

    /// The hash of a child, rehashing it first if dirty (a dirty node is never shared: the
    /// update that dirtied it copied it first).
    fn clean_child(child: &mut Arc<Node>) -> Digest {
        if matches!(**child, Self::Inner { dirty: true, .. }) {
            Arc::make_mut(child).clean()
        } else {
            child.hash()
        }
    }

    /// Inserts or replaces `key` below depth `depth`; whether it is new.
    fn insert(&mut self, depth: usize, key: Digest, value: Digest) -> bool {
        match self {
            Self::Empty => {
                *self = Self::leaf(key, value);
                true
            }
            Self::Leaf { key: k, .. } if *k == key => {
                *self = Self::leaf(key, value);
                false
            }
            Self::Leaf { key: k, .. } => {
                let other = *k;
                let old = std::mem::take(self);
                *self = Self::split(depth, old, &other, Self::leaf(key, value), &key);
                true
            }
            Self::Inner {
                left, right, dirty, ..
            } => {
                *dirty = true;
                if bit(&key, depth) {
                    Arc::make_mut(right).insert(depth + 1, key, value)
                } else {
                    Arc::make_mut(left).insert(depth + 1, key, value)
                }
            }
        }
    }

    /// Two lone leaves with distinct keys, below depth `depth`: inner nodes down to the first
    /// bit where the keys differ.
    fn split(depth: usize, a: Node, ka: &Digest, b: Node, kb: &Digest) -> Self {
        if depth >= 256 {
            // Unreachable for distinct keys: they differ at some bit below 256.
            return a;
        }
        match (bit(ka, depth), bit(kb, depth)) {
            (false, true) => Self::inner(a, b),
            (true, false) => Self::inner(b, a),
            (false, false) => Self::inner(Self::split(depth + 1, a, ka, b, kb), Self::Empty),
            (true, true) => Self::inner(Self::Empty, Self::split(depth + 1, a, ka, b, kb)),
        }
    }

    /// Whether `key` is below this node (at depth `depth`).
    fn contains(&self, depth: usize, key: &Digest) -> bool {
        let mut node = self;
        let mut depth = depth;
        loop {
            match node {
                Self::Empty => return false,
                Self::Leaf { key: k, .. } => return k == key,
                Self::Inner { left, right, .. } => {
                    node = if bit(key, depth) { right } else { left };
                    depth += 1;
                }
            }
        }
    }

    /// Removes `key`; whether it was there. A node left with a lone leaf below becomes that
    /// leaf, one left with nothing becomes empty: the canonical form again.
    fn remove(&mut self, depth: usize, key: &Digest) -> bool {
        match self {
            Self::Empty => false,
            Self::Leaf { key: k, .. } => {
                if k == key {
                    *self = Self::Empty;
                    true
                } else {
                    false
                }
            }
            Self::Inner {
                left, right, dirty, ..
            } => {
                // Only a path that holds the key is copied.
                let child = if bit(key, depth) {
                    &mut *right
                } else {
                    &mut *left
                };
                let removed =
                    child.contains(depth + 1, key) && Arc::make_mut(child).remove(depth + 1, key);
                if removed {
                    *dirty = true;
                    let lift = match (&**left, &**right) {
                        (Self::Empty, Self::Empty) => Some(Self::Empty),
                        (Self::Empty, Self::Leaf { .. }) => Some((**right).clone()),
                        (Self::Leaf { .. }, Self::Empty) => Some((**left).clone()),
                        _ => None,
                    };
                    if let Some(node) = lift {
                        *self = node;
                    }
                }
                removed
            }
        }
    }
}

/// What a proof shows about its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Terminal {
    /// The key is in the map with this value.
    Member {
        /// Hex of the value.
        value: String,
    },
    /// The key is not in the map: its position is an empty subtree.
    Empty,
    /// The key is not in the map: its position holds another key alone.
    Other {
        /// Hex of the other key.
        key: String,
        /// Hex of its value.
        value: String,
    },
}

/// A proof for one key: the siblings from the root down to where the key's path ends, and what
/// is there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateProof {
    /// Hex of the key.
    pub key: String,
    /// Hex of each sibling, root first; its length is the depth where the path ends.
    pub siblings: Vec<String>,
    /// What the path ends at.
    pub terminal: Terminal,
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateProofError {
    /// Malformed hex or lengths.
    #[error("the state proof is malformed: {0}")]
    Malformed(&'static str),
    /// The other key does not share the path it claims to sit on.
    #[error("the other key in the proof does not lie on the path of the key asked")]
    NotOnPath,
    /// The recomputed root is not the committed one.
    #[error("the state proof does not lead to the committed root")]
    WrongRoot,
    /// The proof is for another key than the aggregate's.
    #[error("the state proof is for another key than the aggregate's")]
    WrongKey,
}

fn from_hex(s: &str) -> Result<Digest, StateProofError> {
    let v = hex::decode(s).map_err(|_| StateProofError::Malformed("not hex"))?;
    v.try_into()
        .map_err(|_| StateProofError::Malformed("not 32 bytes"))
}

impl StateProof {
    /// Checks that the proof is for `aggregate`'s key ([`state_key`]) and leads to `root`, and
    /// answers the aggregate's value (`None`: not in the map).
    ///
    /// # Errors
    /// [`StateProofError::WrongKey`] for another key; otherwise as [`StateProof::verify`].
    pub fn verify_for(
        &self,
        root: &Digest,
        aggregate: &str,
    ) -> Result<Option<Digest>, StateProofError> {
        if from_hex(&self.key)? != state_key(aggregate) {
            return Err(StateProofError::WrongKey);
        }
        self.verify(root)
    }

    /// Checks the proof against `root` and answers the key's value (`None`: not in the map).
    ///
    /// # Errors
    /// [`StateProofError`] when the proof is malformed or does not lead to `root`.
    pub fn verify(&self, root: &Digest) -> Result<Option<Digest>, StateProofError> {
        let key = from_hex(&self.key)?;
        if self.siblings.len() > 256 {
            return Err(StateProofError::Malformed("deeper than 256 levels"));
        }
        let depth = self.siblings.len();
        let (mut h, value) = match &self.terminal {
            Terminal::Member { value } => {
                let v = from_hex(value)?;
                (leaf_hash(&key, &v), Some(v))
            }
            Terminal::Empty => (EMPTY, None),
            Terminal::Other { key: other, value } => {
                let ok = from_hex(other)?;
                if ok == key || (0..depth).any(|i| bit(&ok, i) != bit(&key, i)) {
                    return Err(StateProofError::NotOnPath);
                }
                (leaf_hash(&ok, &from_hex(value)?), None)
            }
        };
        for (i, s) in self.siblings.iter().enumerate().rev() {
            let s = from_hex(s)?;
            h = if bit(&key, i) {
                inner_hash(&s, &h)
            } else {
                inner_hash(&h, &s)
            };
        }
        if &h == root {
            Ok(value)
        } else {
            Err(StateProofError::WrongRoot)
        }
    }
}

impl StateMap {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The root hash (rehashing what changed since the last call).
    pub fn root(&mut self) -> Digest {
        self.root.clean()
    }

    /// How many keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: Digest, value: Digest) {
        let added = self.root.insert(0, key, value);
        self.len += usize::from(added);
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: &Digest) -> bool {
        let removed = self.root.remove(0, key);
        self.len -= usize::from(removed);
        removed
    }

    /// The value of `key`.
    #[must_use]
    pub fn get(&self, key: &Digest) -> Option<Digest> {
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node {
                Node::Empty => return None,
                Node::Leaf { key: k, value, .. } => return (k == key).then_some(*value),
                Node::Inner { left, right, .. } => {
                    node = if bit(key, depth) { right } else { left };
                    depth += 1;
                }
            }
        }
    }

    /// The proof for `key`, member or not, against [`StateMap::root`].
    pub fn prove(&mut self, key: &Digest) -> StateProof {
        self.root.clean();
        let mut siblings = Vec::new();
        let mut node = &self.root;
        let mut depth = 0;
        let terminal = loop {
            match node {
                Node::Empty => break Terminal::Empty,
                Node::Leaf { key: k, value, .. } if k == key => {
                    break Terminal::Member {
                        value: hex::encode(value),
                    };
                }
                Node::Leaf { key: k, value, .. } => {
                    break Terminal::Other {
                        key: hex::encode(k),
                        value: hex::encode(value),
                    };
                }
                Node::Inner { left, right, .. } => {
                    let (next, sibling) = if bit(key, depth) {
                        (right, left)
                    } else {
                        (left, right)
                    };
                    siblings.push(hex::encode(sibling.hash()));
                    node = next;
                    depth += 1;
                }
            }
        };
        StateProof {
            key: hex::encode(key),
            siblings,
            terminal,
        }
    }
}

/// The root of a set of pairs computed from scratch, the plain way (for tests and audits): the
/// same canonical form, built top-down from the sorted keys.
#[must_use]
pub fn root_of(pairs: &BTreeMap<Digest, Digest>) -> Digest {
    fn build(depth: usize, items: &[(&Digest, &Digest)]) -> Digest {
        match items {
            [] => EMPTY,
            [(k, v)] => leaf_hash(k, v),
            _ => {
                let split = items.partition_point(|(k, _)| !bit(k, depth));
                let (l, r) = items.split_at(split);
                match (l.len(), r.len()) {
                    (0, _) => {
                        let right = build(depth + 1, r);
                        inner_hash(&EMPTY, &right)
                    }
                    (_, 0) => {
                        let left = build(depth + 1, l);
                        inner_hash(&left, &EMPTY)
                    }
                    _ => inner_hash(&build(depth + 1, l), &build(depth + 1, r)),
                }
            }
        }
    }
    let items: Vec<(&Digest, &Digest)> = pairs.iter().collect();
    build(0, &items)
}
