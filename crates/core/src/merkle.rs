//! RFC 6962 / RFC 9162 Merkle math: roots, inclusion and consistency proofs, and their checks.
//!
//! The tree over the log's leaf hashes is the one of RFC 9162 §2.1:
//!
//! ```text
//! MTH({})        = SHA-256()                                  (the empty tree)
//! MTH({d0})      = leaf_hash(d0) = SHA-256(0x00 || d0)
//! MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  k = largest power of 2 < n
//! ```
//!
//! Three views of the same tree live here:
//! - the **stored-hash layout** of Go's `sumdb/tlog` (ported by [`tlog_tiles`]): every completed
//!   subtree's hash is stored once, at [`tlog_tiles::stored_hash_index`]; a [`HashReader`] gives
//!   access to them, so roots and proofs read O(log n) hashes. [`MemoryHashes`] is the in-memory
//!   store; the `store` crate keeps the same hashes on disk.
//! - a [`Frontier`] (the tree's right edge, a "compact range"): O(log n) memory, enough to compute
//!   the root of everything pushed so far. The offline verifier uses it to recompute every
//!   checkpoint root of a log of 10^8 entries with flat memory.
//! - [`rs_merkle`] with [`Rfc6962Hasher`], a second implementation written by other people, used
//!   to cross-check inclusion proofs ([`verify_inclusion_rs_merkle`]).
//!
//! Every proof that comes from outside is refused when it holds more than
//! [`PROOF_HASHES_MAX`] hashes, before any hashing.

use rs_merkle::{Hasher as _, MerkleProof};
use sha2::{Digest, Sha256};

use crate::hash::{Hash, leaf_hash, node_hash};

pub use tlog_tiles::{EMPTY_HASH, HashReader};

/// Most hashes a proof may hold. A tree of `n < 2^63` leaves has inclusion proofs of at most
/// 63 hashes and consistency proofs of at most 64; anything longer is refused unread.
pub const PROOF_HASHES_MAX: usize = 64;

/// Why a root or proof could not be made, or a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// An inclusion proof was asked for, or checked, for a leaf that is not in the tree.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("consistency from size {m} to the smaller size {n} is meaningless")]
    SizesReversed {
        /// The first (older) size.
        m: u64,
        /// The second (newer) size.
        n: u64,
    },
    /// A root or proof for a size the hash store does not hold yet.
    #[error("the tree has {have} leaves; size {size} is beyond it")]
    SizeBeyondTree {
        /// The size asked for.
        size: u64,
        /// The leaves the store holds.
        have: u64,
    },
    /// The proof holds more than [`PROOF_HASHES_MAX`] hashes.
    #[error("proof holds {got} hashes; at most {PROOF_HASHES_MAX} are allowed")]
    TooLong {
        /// Hashes in the proof.
        got: usize,
    },
    /// The proof does not lead to the given root (a wrong hash, too few or too many hashes, a
    /// wrong leaf, index, size or root).
    #[error("the proof does not verify")]
    BadProof,
    /// The hash store could not deliver a hash.
    #[error("reading stored hashes: {0}")]
    Reader(String),
}

fn reader_error(e: tlog_tiles::Error) -> ProofError {
    match e {
        tlog_tiles::Error::InvalidProof => ProofError::BadProof,
        other => ProofError::Reader(other.to_string()),
    }
}

/// The stored hashes of a tree, in memory: the tlog layout in a `Vec`.
///
/// Appending leaf `n` pushes the hashes [`tlog_tiles::stored_hashes_for_record_hash`] returns (the
/// leaf hash and the hash of every subtree it completes), so `hashes()[stored_hash_index(l, k)]`
/// is the hash of the `k`-th subtree of height `l`.
#[derive(Debug, Clone, Default)]
pub struct MemoryHashes {
    hashes: Vec<Hash>,
    leaves: u64,
}

impl MemoryHashes {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash; returns its index.
    pub fn append(&mut self, leaf_hash: Hash) -> u64 {
        let n = self.leaves;
        let new = tlog_tiles::stored_hashes_for_record_hash(n, leaf_hash, &*self).expect(
            "MemoryHashes holds every hash a complete prefix needs, so reading cannot fail",
        );
        self.hashes.extend(new);
        self.leaves += 1;
        n
    }

    /// The number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.leaves
    }

    /// Every stored hash, in stored-hash-index order.
    #[must_use]
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The root of the tree of the first `size` leaves.
    ///
    /// # Errors
    /// [`ProofError::SizeBeyondTree`] when `size` exceeds the leaves held.
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        root(size, self)
    }

    /// The inclusion proof of leaf `index` in the tree of size `size`.
    ///
    /// # Errors
    /// As [`inclusion_proof`], or [`ProofError::SizeBeyondTree`].
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        inclusion_proof(index, size, self)
    }

    /// The consistency proof from size `m` to size `n`.
    ///
    /// # Errors
    /// As [`consistency_proof`], or [`ProofError::SizeBeyondTree`].
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(n)?;
        consistency_proof(m, n, self)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.leaves {
            Err(ProofError::SizeBeyondTree {
                size,
                have: self.leaves,
            })
        } else {
            Ok(())
        }
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// The root (RFC 9162 `MTH`) of the tree of the first `size` leaves; [`EMPTY_HASH`] for 0.
///
/// # Errors
/// [`ProofError::Reader`] when the reader fails (for instance, `size` is beyond what it holds).
pub fn root<R: HashReader>(size: u64, reader: &R) -> Result<Hash, ProofError> {
    tlog_tiles::tree_hash(size, reader).map_err(reader_error)
}

/// The inclusion proof (RFC 9162 §2.1.3 audit path, bottom to top) of leaf `index` in the tree
/// of size `size`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `index >= size`; [`ProofError::Reader`].
pub fn inclusion_proof<R: HashReader>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    tlog_tiles::prove_record(size, index, reader).map_err(reader_error)
}

/// The consistency proof (RFC 9162 §2.1.4) that the tree of size `m` is a prefix of the tree of
/// size `n`. Empty when `m == 0` or `m == n`.
///
/// # Errors
/// [`ProofError::SizesReversed`] when `m > n`; [`ProofError::Reader`].
pub fn consistency_proof<R: HashReader>(
    m: u64,
    n: u64,
    reader: &R,
) -> Result<Vec<Hash>, ProofError> {
    if m > n {
        return Err(ProofError::SizesReversed { m, n });
    }
    if m == 0 {
        return Ok(Vec::new());
    }
    tlog_tiles::prove_tree(n, m, reader).map_err(reader_error)
}

/// Checks that `proof` shows the leaf `leaf_hash` at `index` in the tree of size `size` whose
/// root is `root`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], [`ProofError::TooLong`] or [`ProofError::BadProof`].
pub fn verify_inclusion(
    leaf_hash: Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if proof.len() > PROOF_HASHES_MAX {
        return Err(ProofError::TooLong { got: proof.len() });
    }
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf_hash).map_err(reader_error)
}

/// Checks that `proof` shows the tree of size `m` and root `root_m` to be a prefix of the tree of
/// size `n` and root `root_n`.
///
/// By definition, the empty tree (`m == 0`, root [`EMPTY_HASH`]) is a prefix of every tree, and a
/// tree is consistent with itself (`m == n`, equal roots); both take an empty proof.
///
/// # Errors
/// [`ProofError::SizesReversed`], [`ProofError::TooLong`] or [`ProofError::BadProof`].
pub fn verify_consistency(
    m: u64,
    root_m: Hash,
    n: u64,
    root_n: Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if m > n {
        return Err(ProofError::SizesReversed { m, n });
    }
    if proof.len() > PROOF_HASHES_MAX {
        return Err(ProofError::TooLong { got: proof.len() });
    }
    if m == 0 {
        return if proof.is_empty() && root_m == EMPTY_HASH {
            Ok(())
        } else {
            Err(ProofError::BadProof)
        };
    }
    tlog_tiles::check_tree(&proof.to_vec(), n, root_n, m, root_m).map_err(reader_error)
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of size `size`
/// (`index < size`): the depth of that leaf.
#[must_use]
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (mut index, mut size, mut len) = (index, size, 0);
    while size > 1 {
        let k = largest_power_of_two_below(size);
        if index < k {
            size = k;
        } else {
            index -= k;
            size -= k;
        }
        len += 1;
    }
    len
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// The right edge of a Merkle tree: the roots of its perfect subtrees, largest first. Pushing a
/// leaf costs one leaf-sized update and at most `log2 n` node hashes (one on average); memory is
/// at most 64 hashes whatever the size.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// `(height, hash)` of each perfect subtree, left to right; heights strictly decrease.
    nodes: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// The frontier of the empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut node = (0u32, leaf_hash);
        while let Some(&(height, left)) = self.nodes.last() {
            if height != node.0 {
                break;
            }
            self.nodes.pop();
            node = (height + 1, node_hash(left, node.1));
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The number of leaves pushed.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 9162 root of every leaf pushed; [`EMPTY_HASH`] when none were.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut root)) = iter.next() else {
            return EMPTY_HASH;
        };
        for &(_, left) in iter {
            root = node_hash(left, root);
        }
        root
    }
}

/// An [`rs_merkle::Hasher`] that builds RFC 6962 trees.
///
/// Leaves are given to rs_merkle already hashed (with [`crate::hash::leaf_hash`]); interior
/// nodes are `SHA-256(0x01 || left || right)`; a node without a right sibling is promoted
/// unchanged, which is what RFC 6962's split at the largest power of two gives.
/// [`rs_merkle::Hasher::hash`] itself is the leaf hash, for callers that hash leaves through it.
#[derive(Debug, Clone, Copy)]
pub struct Rfc6962Hasher;

impl rs_merkle::Hasher for Rfc6962Hasher {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        leaf_hash(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => {
                let mut h = Sha256::new();
                h.update([0x01]);
                h.update(left);
                h.update(right);
                h.finalize().into()
            }
            None => *left,
        }
    }
}

/// The RFC 6962 root of `leaf_hashes`, computed by rs_merkle (a whole tree in memory: for tests
/// and cross-checks, never for the global log).
#[must_use]
pub fn root_rs_merkle(leaf_hashes: &[Hash]) -> Hash {
    if leaf_hashes.is_empty() {
        return EMPTY_HASH;
    }
    let leaves: Vec<[u8; 32]> = leaf_hashes.iter().map(|h| h.0).collect();
    let tree = rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(&leaves);
    Hash(
        tree.root()
            .expect("a tree built from at least one leaf has a root"),
    )
}

/// The same check as [`verify_inclusion`], done by rs_merkle: an independent implementation, so
/// a bug in one is unlikely to be shared by the other. `false` for anything malformed.
///
/// rs_merkle does not insist that every proof hash is used, so the proof length is checked here
/// against the RFC 6962 audit-path length for `(index, size)`.
#[must_use]
pub fn verify_inclusion_rs_merkle(
    leaf_hash: Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: Hash,
) -> bool {
    if index >= size || proof.len() > PROOF_HASHES_MAX {
        return false;
    }
    if proof.len() != inclusion_proof_len(index, size) {
        return false;
    }
    let (Ok(index), Ok(size)) = (usize::try_from(index), usize::try_from(size)) else {
        return false;
    };
    let proof = MerkleProof::<Rfc6962Hasher>::new(proof.iter().map(|h| h.0).collect());
    proof.verify(root.0, &[index], &[leaf_hash.0], size)
}

/// rs_merkle's leaf hash ([`Rfc6962Hasher`]), equal to [`crate::hash::leaf_hash`].
#[must_use]
pub fn leaf_hash_rs_merkle(bytes: &[u8]) -> Hash {
    Hash(Rfc6962Hasher::hash(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_hashes_refuse_sizes_beyond_the_tree() {
        let mut m = MemoryHashes::new();
        m.append(leaf_hash(b"a"));
        assert_eq!(
            m.root(2),
            Err(ProofError::SizeBeyondTree { size: 2, have: 1 })
        );
        assert_eq!(m.root(0), Ok(EMPTY_HASH));
        assert_eq!(m.root(1), Ok(leaf_hash(b"a")));
    }

    #[test]
    fn proof_lengths_follow_the_tree_shape() {
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(0, 8), 3);
        assert_eq!(inclusion_proof_len(4, 5), 1);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
    }

    #[test]
    fn overlong_proofs_are_refused_unread() {
        let proof = vec![EMPTY_HASH; PROOF_HASHES_MAX + 1];
        assert_eq!(
            verify_inclusion(EMPTY_HASH, 0, 2, &proof, EMPTY_HASH),
            Err(ProofError::TooLong { got: 65 })
        );
        assert_eq!(
            verify_consistency(1, EMPTY_HASH, 2, EMPTY_HASH, &proof),
            Err(ProofError::TooLong { got: 65 })
        );
        assert!(!verify_inclusion_rs_merkle(
            EMPTY_HASH, 0, 2, &proof, EMPTY_HASH
        ));
    }
}
