// The state map's proofs (docs/FORMAT.md, "State map"): a sparse Merkle tree over 256-bit keys in
// compact form. A proof is the siblings from the root down to where the key's path ends, and what
// is there: the key's own leaf (`member`), an empty subtree (`empty`), or another key's leaf whose
// first bits are the same (`other`). The same rules as crates/core/src/state_map.rs; checked
// against the shared vectors in ledger-data/vectors/state-map.json.
import { concat, sha256, toHex, utf8 } from './crypto.js';

export class StateProofError extends Error {}

const LEAF_TAG = concat(Uint8Array.of(0), utf8('deedlog/state/v1'));
const EMPTY = new Uint8Array(32);

function hex32(s, what) {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw new StateProofError(`${what} is not 32 bytes of hex`);
  return Uint8Array.from(s.match(/../g), (b) => parseInt(b, 16));
}

const bit = (key, i) => ((key[i >> 3] >> (7 - (i & 7))) & 1) === 1;
const leafHash = (key, value) => sha256(concat(LEAF_TAG, key, value));
const innerHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

/**
 * Checks `proof` against the committed `rootHex`; answers the key's value as hex, or null when
 * the proof shows the key absent. Throws StateProofError when it does not lead to the root.
 */
export async function verifyStateProof(proof, rootHex) {
  const root = hex32(rootHex, 'the root');
  const key = hex32(proof?.key, 'the key');
  const siblings = proof?.siblings;
  if (!Array.isArray(siblings) || siblings.length > 256) throw new StateProofError('the siblings are not a list of at most 256 hashes');
  const depth = siblings.length;
  const t = proof.terminal ?? {};
  let h;
  let value = null;
  if (t.kind === 'member') {
    value = t.value;
    h = await leafHash(key, hex32(t.value, 'the value'));
  } else if (t.kind === 'empty') {
    h = EMPTY;
  } else if (t.kind === 'other') {
    const other = hex32(t.key, 'the other key');
    let onPath = toHex(other) !== toHex(key);
    for (let i = 0; i < depth && onPath; i++) onPath = bit(other, i) === bit(key, i);
    if (!onPath) throw new StateProofError('the other key in the proof does not lie on the path of the key asked');
    h = await leafHash(other, hex32(t.value, 'the other value'));
  } else {
    throw new StateProofError(`unknown terminal ${JSON.stringify(t.kind)}`);
  }
  for (let i = depth - 1; i >= 0; i--) {
    const s = hex32(siblings[i], `sibling ${i}`);
    h = bit(key, i) ? await innerHash(s, h) : await innerHash(h, s);
  }
  if (toHex(h) !== toHex(root)) throw new StateProofError('the state proof does not lead to the committed root');
  return value;
}

const KEY_TAG = 'deedlog/state-key/v1\n';

/** The map key of an aggregate, as hex: SHA-256("deedlog/state-key/v1\n" || id). */
export async function stateKey(aggregate) {
  return toHex(await sha256(utf8(KEY_TAG + aggregate)));
}

/**
 * Checks that `proof` is for `aggregate`'s key and leads to `rootHex`; answers the value as hex
 * (null: absent), as `StateProof::verify_for` does.
 */
export async function verifyStateProofFor(proof, rootHex, aggregate) {
  if (proof?.key !== (await stateKey(aggregate))) throw new StateProofError(`the state proof is for another key than ${aggregate}'s`);
  return verifyStateProof(proof, rootHex);
}
