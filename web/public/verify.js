// "Verified on the log", computed in the browser: proof bundles, checkpoints, consistency, and
// the binding of a verified entry to the answer it is meant to prove. The logic mirrors the Rust
// client (`crates/core/src/bundle.rs`, `crates/client/src/proof.rs`); nothing the server says
// about its own honesty is taken on trust: the log key is the one pinned in this page's code (see
// pin.js), and every other byte is checked.
//
// Entry formats: version 1 (no `format` key; `signed.payload` in clear; signing message tag
// `deedlog/command/v1`) and version 2 (redactable: `"format":2`, `signed.payload_digest` over a
// salted opening; tag `deedlog/command/v2`). A v2 bundle may carry `opening`; without it the
// payload is withheld and only the fields that do not depend on it can be proved.

import { canonicalBytes, parseCanonical, CanonicalError } from './canonical.js';
import {
  concat, equalBytes, fromBase64, hashFromHex, leafHash, nodeHash, sha256, toHex, utf8,
  verifyEd25519,
} from './crypto.js';
import { StateProofError, verifyStateProofFor } from './state.js';

/** The `format` of a proof bundle. */
export const BUNDLE_FORMAT = 'deedlog/proof-bundle/v1';
/** Largest checkpoint note accepted, bytes (the server's `NOTE_BYTES_MAX`). */
export const NOTE_BYTES_MAX = 64 * 1024;
/** Largest entry accepted, bytes (the server's `ENTRY_BYTES_MAX`). */
export const ENTRY_BYTES_MAX = 64 * 1024 - 1;
/** Longest inclusion or consistency proof any tree of 2^63 leaves needs. */
export const PROOF_HASHES_MAX = 128;
/** Most document matches checked in one answer. */
export const DOCUMENT_MATCHES_MAX = 1000;

/** A proof that fails: the page shows red with this reason. */
export class ProofError extends Error {}

const fail = (reason) => {
  throw new ProofError(reason);
};

// ------------------------------------------------------------------------------------------
// Log keys and checkpoints (C2SP signed-note and tlog-checkpoint).
// ------------------------------------------------------------------------------------------

/** Parses a log vkey `name+keyid+base64(0x01 || key)`, checking the key id. */
export async function parseVkey(vkey) {
  if (typeof vkey !== 'string' || vkey.length > 512) fail('the log key is not a vkey');
  // The key material is base64 and may hold `+` itself: split at the first two only.
  const a = vkey.indexOf('+');
  const b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
  if (b < 0) fail('the log key is not name+keyid+key');
  const [name, idHex, material] = [vkey.slice(0, a), vkey.slice(a + 1, b), vkey.slice(b + 1)];
  if (!name || /[\s+]/.test(name)) fail('the log key has a bad name');
  if (!/^[0-9a-f]{8}$/.test(idHex)) fail('the log key has a bad key id');
  const bytes = fromBase64(material);
  if (!bytes || bytes.length !== 33 || bytes[0] !== 1) fail('the log key is not an Ed25519 key');
  const pub = bytes.slice(1);
  const id = (await sha256(concat(utf8(name), Uint8Array.of(10, 1), pub))).slice(0, 4);
  if (toHex(id) !== idHex) fail('the log key id does not match its key');
  return { name, id, pub, vkey };
}

/**
 * Opens a checkpoint note with the trusted key: the log's signature line must verify over the
 * body, the origin must be the key's name. Returns `{origin, size, root, extensions, body}`.
 */
export async function openCheckpoint(note, key) {
  if (typeof note !== 'string') fail('the checkpoint is not text');
  const bytes = utf8(note);
  if (bytes.length > NOTE_BYTES_MAX) fail('the checkpoint is too large');
  const split = note.indexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) fail('the checkpoint is not a signed note');
  const body = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split('\n');
  let signed = false;
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) fail('the checkpoint has a malformed signature line');
    if (m[1] !== key.name) continue;
    const sig = fromBase64(m[2]);
    if (!sig || sig.length !== 68 || !equalBytes(sig.slice(0, 4), key.id)) continue;
    if (!(await verifyEd25519(key.pub, utf8(body), sig.slice(4)))) {
      fail('the checkpoint signature does not verify under the pinned log key');
    }
    signed = true;
  }
  if (!signed) fail('the checkpoint carries no signature by the pinned log key');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) fail('the checkpoint body is malformed');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin !== key.name) fail(`the checkpoint is for origin ${origin}, not ${key.name}`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    fail('the checkpoint size is malformed');
  }
  const root = fromBase64(rootText);
  if (!root || root.length !== 32) fail('the checkpoint root is malformed');
  return { origin, size: Number(sizeText), root, extensions, body };
}

// ------------------------------------------------------------------------------------------
// Merkle proofs (RFC 9162 §2.1.3.2 and §2.1.4.2).
// ------------------------------------------------------------------------------------------

function hashes(list, what) {
  if (!Array.isArray(list) || list.length > PROOF_HASHES_MAX) fail(`the ${what} proof is too long`);
  return list.map((h, i) => hashFromHex(h) ?? fail(`${what}[${i}] is not 64 lower-case hex digits`));
}

/** The root an inclusion proof leads to from leaf `index` of a tree of `size`. */
export async function rootFromInclusion(index, size, leaf, proof) {
  if (!(index < size)) fail(`seq ${index} is not in a tree of size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) fail('the inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) fail('the inclusion proof is too short');
  return r;
}

/** Checks that the tree of `size2`/`root2` extends the tree of `size1`/`root1`. */
export async function verifyConsistency(size1, root1, size2, root2, proof) {
  if (size2 < size1) fail(`the log shrank from ${size1} to ${size2} entries`);
  if (size1 === size2) {
    if (proof.length !== 0) fail('a consistency proof between equal sizes must be empty');
    if (!equalBytes(root1, root2)) fail(`two roots for tree size ${size1}: the log forked`);
    return;
  }
  if (size1 === 0) {
    if (proof.length !== 0) fail('a consistency proof from the empty tree must be empty');
    return;
  }
  if (proof.length === 0) fail('the consistency proof is empty');
  // When size1 is a power of two its root is the first node of the path, left out of the proof.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) fail('the consistency proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) fail('the consistency proof is too short');
  if (!equalBytes(fr, root1)) fail(`the log at size ${size2} does not extend the one seen at size ${size1}: it was rewritten`);
  if (!equalBytes(sr, root2)) fail('the consistency proof does not lead to the new root');
}

function isPowerOfTwo(n) {
  while (n > 1) {
    if (n % 2 === 1) return false;
    n = Math.floor(n / 2);
  }
  return n === 1;
}

// ------------------------------------------------------------------------------------------
// Entries and their command signatures.
// ------------------------------------------------------------------------------------------

const ENTRY_V1_KEYS = 'derived,kind,prev_hash,recorded_at_ms,seq,signed,stream,stream_version';
const ENTRY_V2_KEYS = 'derived,format,kind,prev_hash,recorded_at_ms,seq,signed,stream,stream_version';
const SIGNED_V1 = ['actor', 'issued_at_ms', 'key', 'kind', 'nonce', 'payload', 'signature', 'stream'];
const SIGNED_V2 = ['actor', 'issued_at_ms', 'key', 'kind', 'nonce', 'payload_digest', 'signature', 'stream'];
const NAME = /^[A-Za-z0-9._:/-]{1,128}$/;

/** The domain tag of the v2 payload digest. */
export const PAYLOAD_DOMAIN = 'deedlog/payload/v1\n';

function keysOf(o) {
  return Object.keys(o).sort().join(',');
}

/**
 * Decodes entry bytes (which must be canonical) into `{entry, format}`, checking the shape of
 * either format. The command signature is checked by `verifyEntrySignature`.
 */
export function decodeEntry(bytes) {
  if (bytes.length > ENTRY_BYTES_MAX) fail('the entry is too large');
  let e;
  try {
    e = parseCanonical(bytes);
  } catch (err) {
    if (err instanceof CanonicalError) fail(`the entry bytes are not canonical JSON (${err.message})`);
    throw err;
  }
  if (!e || typeof e !== 'object' || Array.isArray(e)) fail('the entry is not an object');
  const keys = keysOf(e);
  let format;
  if (keys === ENTRY_V1_KEYS) format = 1;
  else if (keys === ENTRY_V2_KEYS && e.format === 2) format = 2;
  else fail('the entry does not have the fields of an entry');
  const s = e.signed;
  if (!s || typeof s !== 'object' || Array.isArray(s)) fail('the entry carries no signed command');
  const want = format === 1 ? SIGNED_V1 : SIGNED_V2;
  const have = Object.keys(s).filter((k) => k !== 'expected_version').sort();
  if (have.join(',') !== want.join(',')) fail('the signed command does not have the fields of its format');
  if ('expected_version' in s && !(Number.isSafeInteger(s.expected_version) && s.expected_version >= 0)) {
    fail('expected_version is malformed');
  }
  for (const f of ['actor', 'kind', 'stream']) if (!NAME.test(s[f])) fail(`signed.${f} is malformed`);
  if (!NAME.test(e.stream) || !NAME.test(e.kind)) fail('the entry names a malformed stream or kind');
  if (!Number.isSafeInteger(e.seq) || e.seq < 0) fail('the entry seq is malformed');
  if (!hashFromHex(e.prev_hash)) fail('prev_hash is malformed');
  if (!e.derived || typeof e.derived !== 'object' || Array.isArray(e.derived)) fail('derived is not an object');
  if (format === 1 && (!s.payload || typeof s.payload !== 'object' || Array.isArray(s.payload))) {
    fail('the payload is not an object');
  }
  if (format === 2 && !hashFromHex(s.payload_digest)) fail('payload_digest is malformed');
  return { entry: e, format };
}

/** The message a command's signature covers, by the entry's format. */
export function signingMessage(entry, format) {
  const cmd = { ...entry.signed };
  delete cmd.signature;
  const tag = format === 2 ? 'deedlog/command/v2\n' : 'deedlog/command/v1\n';
  return concat(utf8(tag), canonicalBytes(cmd));
}

/** `payload_digest` of an opening `{payload, salt}` (v2). */
export async function payloadDigest(opening) {
  return toHex(await sha256(concat(utf8(PAYLOAD_DOMAIN), canonicalBytes(opening))));
}

/** Checks the command signature of a decoded entry. */
export async function verifyEntrySignature(entry, format) {
  const pub = fromBase64(entry.signed.key);
  if (!pub || pub.length !== 32) fail('the command key is not 32 bytes of base64');
  const sig = fromBase64(entry.signed.signature);
  if (!sig || sig.length !== 64) fail('the command signature is not 64 bytes of base64');
  if (!(await verifyEd25519(pub, signingMessage(entry, format), sig))) {
    fail(`the command signature of seq ${entry.seq} does not verify`);
  }
}

/**
 * The payload of a verified entry: v1's in clear, v2's from an opening that must match the
 * signed digest. `null` when a v2 entry's opening is withheld.
 */
export async function openPayload(entry, format, opening) {
  if (format === 1) {
    if (opening !== undefined && opening !== null) fail('a version 1 entry has no opening');
    return entry.signed.payload;
  }
  if (opening === undefined || opening === null) return null;
  if (typeof opening !== 'object' || keysOf(opening) !== 'payload,salt') fail('the opening is not {payload, salt}');
  const salt = fromBase64(opening.salt);
  if (!salt || salt.length !== 16) fail('the opening salt is not 16 bytes of base64');
  if (!opening.payload || typeof opening.payload !== 'object' || Array.isArray(opening.payload)) {
    fail('the opened payload is not an object');
  }
  if ((await payloadDigest(opening)) !== entry.signed.payload_digest) {
    fail(`the opening does not match the payload digest signed at seq ${entry.seq}`);
  }
  return opening.payload;
}

// ------------------------------------------------------------------------------------------
// Proof bundles.
// ------------------------------------------------------------------------------------------

const BUNDLE_KEYS = 'checkpoint,entry,format,inclusion,leaf_hash,log_key,seq,tree_size';

/**
 * Verifies a proof bundle against the trusted key (parsed with `parseVkey`). Returns
 * `{entry, format, payload, checkpoint, leaf}`; `payload` is null for a withheld v2 opening.
 */
export async function verifyBundle(bundle, key) {
  if (!bundle || typeof bundle !== 'object') fail('the proof bundle is missing');
  const keys = Object.keys(bundle).filter((k) => k !== 'opening' && k !== 'witnessed').sort().join(',');
  if (keys !== BUNDLE_KEYS) fail('the proof bundle does not have the fields of a bundle');
  if (bundle.format !== BUNDLE_FORMAT) fail(`unknown bundle format ${bundle.format}`);
  if (bundle.log_key !== key.vkey) fail('the bundle names another log key than the pinned one');
  const bytes = fromBase64(bundle.entry);
  if (!bytes) fail('the bundle entry is not base64');
  const { entry, format } = decodeEntry(bytes);
  if (entry.seq !== bundle.seq) fail(`the entry is seq ${entry.seq}, the bundle says ${bundle.seq}`);
  const leaf = await leafHash(bytes);
  if (toHex(leaf) !== bundle.leaf_hash) fail('leaf_hash is not SHA-256(0x00 || entry)');
  await verifyEntrySignature(entry, format);
  const payload = await openPayload(entry, format, bundle.opening);
  const checkpoint = await openCheckpoint(bundle.checkpoint, key);
  if (checkpoint.size !== bundle.tree_size) {
    fail(`tree_size ${bundle.tree_size} differs from the checkpoint's size ${checkpoint.size}`);
  }
  const root = await rootFromInclusion(entry.seq, checkpoint.size, leaf, hashes(bundle.inclusion, 'inclusion'));
  if (!equalBytes(root, checkpoint.root)) fail(`the inclusion proof of seq ${entry.seq} does not lead to the signed root`);
  const witnessed = bundle.witnessed === undefined ? null : await verifyWitnessed(bundle.witnessed, key, checkpoint, entry.seq);
  // The note whose cosignatures speak for the entry (mirrors `VerifiedBundle::cosigned_note`).
  const cosignedNote = witnessed ? bundle.witnessed.checkpoint : bundle.checkpoint;
  return { entry, format, payload, checkpoint, leaf, witnessed, cosignedNote };
}

/** Largest witnessed checkpoint note accepted in a bundle, bytes (`WITNESSED_NOTE_BYTES_MAX`). */
export const WITNESSED_NOTE_BYTES_MAX = 16 * 1024;

/**
 * Checks a bundle's `witnessed` part: a checkpoint signed by the log that holds entry `seq` and
 * lies on the same history as the bundle's checkpoint (the consistency proof runs from the
 * smaller tree to the larger). Mirrors `verify_witnessed` of crates/core/src/bundle.rs.
 */
async function verifyWitnessed(w, key, bundleCp, seq) {
  if (!w || typeof w !== 'object' || Object.keys(w).sort().join(',') !== 'checkpoint,consistency') {
    fail('the witnessed checkpoint does not have the fields checkpoint and consistency');
  }
  if (typeof w.checkpoint !== 'string' || utf8(w.checkpoint).length > WITNESSED_NOTE_BYTES_MAX) {
    fail('the witnessed checkpoint is too large');
  }
  const cp = await openCheckpoint(w.checkpoint, key);
  if (!(seq < cp.size)) fail(`the witnessed checkpoint of size ${cp.size} does not hold entry ${seq}`);
  const proof = hashes(w.consistency, 'consistency');
  const [small, large] = cp.size <= bundleCp.size ? [cp, bundleCp] : [bundleCp, cp];
  await verifyConsistency(small.size, small.root, large.size, large.root, proof);
  return cp;
}

// ------------------------------------------------------------------------------------------
// Witnesses: C2SP tlog-cosignature lines and the tlog-policy quorum (mirrors
// crates/client/src/policy.rs). The policy comes from pin.js (or, in a build that pins none,
// from the server, remembered on first use); a cosignature line is believed only when it
// verifies under a witness key of that policy.
// ------------------------------------------------------------------------------------------

/** Largest policy text accepted, bytes (`POLICY_BYTES_MAX`). */
export const POLICY_BYTES_MAX = 64 * 1024;
const POLICY_ENTRIES_MAX = 64;

/** Parses a vkey `name+keyid+base64(alg || key)` of algorithm `alg`, checking the key id. */
async function parseKeyOfAlg(vkey, alg, what) {
  if (typeof vkey !== 'string' || vkey.length > 512) fail(`the ${what} key is not a vkey`);
  const a = vkey.indexOf('+');
  const b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
  if (b < 0) fail(`the ${what} key is not name+keyid+key`);
  const [name, idHex, material] = [vkey.slice(0, a), vkey.slice(a + 1, b), vkey.slice(b + 1)];
  if (!name || /[\s+]/.test(name)) fail(`the ${what} key has a bad name`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) fail(`the ${what} key has a bad key id`);
  const bytes = fromBase64(material);
  if (!bytes || bytes.length !== 33 || bytes[0] !== alg) fail(`the ${what} key is not of the right type`);
  const pub = bytes.slice(1);
  const id = (await sha256(concat(utf8(name), Uint8Array.of(10, alg), pub))).slice(0, 4);
  if (toHex(id) !== idHex) fail(`the ${what} key id does not match its key`);
  return { name, id, pub, vkey };
}

/**
 * Parses a C2SP tlog-policy text: `log <vkey> [url]`, `witness <name> <vkey> [url]`,
 * `group <name> all|any|<k> <member>…`, `quorum <name>|none`. Members must be defined on earlier
 * lines, each once. Returns `{logs, witnesses, groups, quorum}`.
 */
export async function parsePolicy(text) {
  if (typeof text !== 'string' || utf8(text).length > POLICY_BYTES_MAX) fail('the witness policy is too large');
  const policy = { logs: [], witnesses: [], groups: [], quorum: undefined };
  const names = new Map();
  const seenKeys = new Set();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const bad = (why) => fail(`witness policy line ${i + 1}: ${why}`);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(lines[i])) bad('control characters other than tab are not allowed');
    const words = lines[i].split(/[ \t]+/).filter((w) => w);
    if (words.length === 0 || words[0].startsWith('#')) continue;
    const [kw, ...rest] = words;
    const newName = (n) => {
      if (n === 'none') bad('`none` is reserved');
      if (names.has(n)) bad(`${n} is already defined`);
    };
    const uniqueKey = (key) => {
      if (seenKeys.has(toHex(key.pub))) bad('the same public key is listed twice');
      seenKeys.add(toHex(key.pub));
    };
    if (kw === 'quorum' && policy.quorum !== undefined) bad('a policy has exactly one quorum line');
    if (kw === 'log' && rest.length >= 1 && rest.length <= 2) {
      const key = await parseKeyOfAlg(rest[0], 1, 'log');
      uniqueKey(key);
      if (policy.logs.length === POLICY_ENTRIES_MAX) bad('too many logs');
      policy.logs.push(key);
    } else if (kw === 'witness' && rest.length >= 2 && rest.length <= 3) {
      newName(rest[0]);
      const key = await parseKeyOfAlg(rest[1], 4, 'witness');
      uniqueKey(key);
      if (policy.witnesses.length === POLICY_ENTRIES_MAX) bad('too many witnesses');
      names.set(rest[0], { witness: policy.witnesses.length });
      policy.witnesses.push({ name: rest[0], key });
    } else if (kw === 'group' && rest.length >= 3) {
      const [name, threshold, ...members] = rest;
      newName(name);
      const resolved = [];
      for (const m of members) {
        const member = names.get(m) ?? bad(`${m} is not defined on an earlier line`);
        if (resolved.includes(member)) bad(`${m} is listed twice`);
        resolved.push(member);
      }
      const n = resolved.length;
      const k = threshold === 'all' ? n : threshold === 'any' ? 1
        : /^[1-9][0-9]{0,5}$/.test(threshold) && Number(threshold) <= n ? Number(threshold)
          : bad('the threshold must be all, any or 1 ≤ k ≤ n');
      if (policy.groups.length === POLICY_ENTRIES_MAX) bad('too many groups');
      names.set(name, { group: policy.groups.length });
      policy.groups.push({ name, k, members: resolved });
    } else if (kw === 'quorum' && rest.length === 1) {
      policy.quorum = rest[0] === 'none' ? null : names.get(rest[0]) ?? bad(`${rest[0]} is not defined on an earlier line`);
    } else {
      bad('not a log, witness, group or quorum line');
    }
  }
  if (policy.quorum === undefined) fail('the witness policy has no quorum line');
  return policy;
}

/** The message a witness signs: `cosignature/v1\ntime <t>\n` and the checkpoint body. */
function cosignedMessage(body, timestamp) {
  return utf8(`cosignature/v1\ntime ${timestamp}\n${body}`);
}

/**
 * Checks a checkpoint note against a parsed policy: it must open under the policy's log key,
 * and each witness's `cosignature/v1` line is verified. Returns `{checkpoint, cosignedBy,
 * quorumMet, shortfall}`; `shortfall` says in words which group lacks signatures.
 */
export async function checkPolicy(note, policy) {
  let checkpoint = null;
  for (const key of policy.logs) {
    try {
      checkpoint = await openCheckpoint(note, key);
      break;
    } catch (e) {
      if (!(e instanceof ProofError)) throw e;
    }
  }
  if (!checkpoint) fail('the checkpoint is not signed by a log of the witness policy');
  const sigLines = note.slice(note.indexOf('\n\n') + 2, -1).split('\n');
  const valid = [];
  for (const w of policy.witnesses) {
    let ok = false;
    for (const line of sigLines) {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      if (!m || m[1] !== w.key.name) continue;
      const sig = fromBase64(m[2]);
      if (!sig || sig.length !== 76 || !equalBytes(sig.slice(0, 4), w.key.id)) continue;
      let t = 0n;
      for (const b of sig.slice(4, 12)) t = (t << 8n) | BigInt(b);
      if (t >= 1n << 63n) continue;
      if (await verifyEd25519(w.key.pub, cosignedMessage(checkpoint.body, t.toString()), sig.slice(12))) {
        ok = true;
        break;
      }
    }
    valid.push(ok);
  }
  const memberName = (m) => (m.witness !== undefined ? policy.witnesses[m.witness].name : policy.groups[m.group].name);
  const met = (m) => (m.witness !== undefined ? valid[m.witness]
    : policy.groups[m.group].members.filter(met).length >= policy.groups[m.group].k);
  const why = [];
  const shortfall = (m) => {
    if (m.witness !== undefined) {
      why.push(`witness ${memberName(m)} has not cosigned`);
      return;
    }
    const g = policy.groups[m.group];
    const ok = g.members.filter(met).map(memberName);
    why.push(`group ${g.name} needs ${g.k} of ${g.members.length} members and has ${ok.length} ([${ok.join(', ')}])`);
    for (const sub of g.members) if (sub.group !== undefined && !met(sub)) shortfall(sub);
  };
  const quorumMet = policy.quorum === null || met(policy.quorum);
  if (!quorumMet) shortfall(policy.quorum);
  return {
    checkpoint,
    cosignedBy: policy.witnesses.filter((_, i) => valid[i]).map((w) => w.name),
    quorumMet,
    shortfall: quorumMet ? null : why.join('; '),
  };
}

/**
 * As `checkPolicy`, refusing (ProofError) a checkpoint below the quorum, with words naming the
 * group that lacks signatures and who did sign (mirrors `require_policy`).
 */
export async function requirePolicy(note, policy) {
  const verdict = await checkPolicy(note, policy);
  if (!verdict.quorumMet) {
    fail(`the checkpoint of size ${verdict.checkpoint.size} does not meet the witness quorum: ${verdict.shortfall}; cosigned by: [${verdict.cosignedBy.join(', ')}]`);
  }
  return verdict;
}

// ------------------------------------------------------------------------------------------
// Binding a verified entry to the answer (mirrors `bind_listing`, `bind_contract`,
// `bind_document` of crates/client/src/proof.rs).
// ------------------------------------------------------------------------------------------

/** `PREFIX-` and 16 upper-case hex digits of SHA-256("deedlog/code/v1\n" PREFIX "\n" seq "\n" stream). */
export async function derivedCode(prefix, seq, stream) {
  const d = await sha256(utf8(`deedlog/code/v1\n${prefix}\n${seq}\n${stream}`));
  return `${prefix}-${toHex(d.slice(0, 8)).toUpperCase()}`;
}

/** Deep equality of JSON values (canonical text compared). */
function sameJson(a, b) {
  try {
    return JSON.stringify(canonicalOrNull(a)) === JSON.stringify(canonicalOrNull(b));
  } catch {
    return false;
  }
}

function canonicalOrNull(v) {
  return v === undefined ? null : new TextDecoder().decode(canonicalBytes(v));
}

/** What a binding found: per shown field, verified at a seq or not verified with the reason. */
export class Binding {
  constructor(subject, asked) {
    this.subject = subject;
    this.asked = asked;
    this.proved = [];
    this.fields = new Map();
  }
  verified(path, seq) {
    this.fields.set(path, { ok: true, seq });
  }
  unverified(path, reason) {
    this.fields.set(path, { ok: false, reason });
  }
  isVerified(path) {
    return this.fields.get(path)?.ok === true;
  }
  /** Requires shown[key] to equal expected. */
  same(shown, prefix, key, expected, seq) {
    const got = shown?.[key] ?? null;
    if (!sameJson(got, expected ?? null)) {
      fail(`${prefix}.${key} is ${JSON.stringify(got)} but the entry at seq ${seq} says ${JSON.stringify(expected ?? null)}`);
    }
    this.verified(`${prefix}.${key}`, seq);
  }
  /** Every field of obj under prefix not yet classified is marked not verified. */
  restUnverified(prefix, obj) {
    for (const k of Object.keys(obj)) {
      const path = `${prefix}.${k}`;
      const covered = [...this.fields.keys()].some((f) => f === path || f.startsWith(`${path}.`));
      if (!covered) this.unverified(path, 'no proved entry is checked against this field');
    }
  }
}

async function issued(entry, field, prefix, code) {
  if (entry.derived[field] !== code) fail(`the proved entry at seq ${entry.seq} did not issue ${code}`);
  if ((await derivedCode(prefix, entry.seq, entry.stream)) !== code) {
    fail(`${code} is not the code derived from seq ${entry.seq} on ${entry.stream}`);
  }
}

const LISTING_FROM_PUBLISH = [
  'area_centi_m2', 'rooms', 'halls', 'bathrooms', 'floor', 'floors_total', 'district',
  'community', 'title', 'description',
];

const WITHHELD = 'the payload of this entry is withheld (a confidential version 2 entry)';

/** Binds a `/v1/verify/listing/{code}` answer. Returns `{binding, bundles}`. */
export async function bindListing(code, answer, key) {
  if (answer?.code !== code) fail(`the answer is not about ${code}`);
  const listing = answer.listing;
  if (!listing || typeof listing !== 'object') fail('the answer shows no listing');
  if (!answer.proof) fail('the answer carries no proof of the publishing entry');
  const proof = await verifyBundle(answer.proof, key);
  const e = proof.entry;
  if (e.signed.kind !== 'listing.publish' || !['ListingPublished', 'ListingPublicationProposed'].includes(e.kind)) {
    fail(`the proved entry at seq ${e.seq} is a ${e.kind} (${e.signed.kind}), not a listing publication`);
  }
  if (!e.stream.startsWith('listing/')) fail(`${e.stream} is not a listing stream`);
  await issued(e, 'listing_code', 'LV', code);
  const seq = e.seq;
  const b = new Binding('listing', code);
  b.proved.push({ seq, stream: e.stream, kind: e.kind });
  b.verified('code', seq);
  const p = 'listing';
  b.same(listing, p, 'id', e.stream, seq);
  b.same(listing, p, 'code', code, seq);
  b.same(listing, p, 'created_seq', seq, seq);
  const payload = proof.payload;
  for (const k of LISTING_FROM_PUBLISH) {
    if (payload) b.same(listing, p, k, payload[k], seq);
    else b.unverified(`${p}.${k}`, WITHHELD);
  }
  for (const k of ['seller', 'verification', 'property']) b.same(listing, p, k, e.derived[k], seq);
  if (payload) b.same(listing, p, 'entrustment', payload.entrustment, seq);
  else b.unverified(`${p}.entrustment`, WITHHELD);
  const agent = typeof e.derived.agent === 'string' ? e.derived.agent : null;
  b.same(listing, p, 'self_listed', agent === null, seq);
  const shownAgent = listing.agent ?? null;
  if (agent === null && shownAgent === null) b.verified('listing.agent', seq);
  else if (agent !== null && shownAgent !== null && typeof shownAgent === 'object') {
    b.same(shownAgent, 'listing.agent', 'id', agent, seq);
    b.restUnverified('listing.agent', shownAgent);
  } else {
    fail(`listing.agent is ${JSON.stringify(shownAgent)} but the publishing entry names ${agent ?? 'none'}`);
  }
  if (listing.published_at_ms === e.recorded_at_ms) b.verified('listing.published_at_ms', seq);
  else if (e.kind === 'ListingPublished') {
    fail(`listing.published_at_ms is not the time of the publishing entry at seq ${seq}`);
  } else {
    b.unverified('listing.published_at_ms', 'set by the approval of the proposal, whose entry is not in the answer');
  }
  const bundles = [proof];
  if (!answer.current) {
    for (const k of ['updated_seq', 'price_fen', 'photos']) {
      b.unverified(`listing.${k}`, "the answer carries no bundle of the listing's last change");
    }
  } else {
    const c = await verifyBundle(answer.current, key);
    const ce = c.entry;
    if (ce.stream !== e.stream || ce.seq < seq) {
      fail(`the current entry (seq ${ce.seq} on ${ce.stream}) is not a later entry of ${e.stream}`);
    }
    b.same(listing, p, 'updated_seq', ce.seq, ce.seq);
    const stale = 'the answer carries no bundle of the entry that last set this field';
    if (ce.seq === seq) {
      for (const k of ['price_fen', 'photos']) {
        if (payload) b.same(listing, p, k, payload[k], seq);
        else b.unverified(`${p}.${k}`, WITHHELD);
      }
    } else if (ce.signed.kind === 'listing.change_price' && ce.kind === 'ListingPriceChanged') {
      if (c.payload) b.same(listing, p, 'price_fen', c.payload.price_fen, ce.seq);
      else b.unverified(`${p}.price_fen`, WITHHELD);
      b.unverified('listing.photos', stale);
    } else if (ce.signed.kind === 'listing.change_photos' && ce.kind === 'ListingPhotosChanged') {
      if (c.payload) b.same(listing, p, 'photos', c.payload.photos, ce.seq);
      else b.unverified(`${p}.photos`, WITHHELD);
      b.unverified('listing.price_fen', stale);
    } else if (ce.signed.kind === 'listing.approve' && answer.approved) {
      // The seller's approval: the fields come from the approved proposal, an earlier entry of
      // the same listing that the approval names.
      const a = await verifyBundle(answer.approved, key);
      const ae = a.entry;
      if (ae.stream !== e.stream || !c.payload || c.payload.proposal_seq !== ae.seq || ae.seq >= ce.seq) {
        fail(`the approved entry (seq ${ae.seq} on ${ae.stream}) is not the proposal the approval at seq ${ce.seq} names`);
      }
      const fields = { 'listing.publish': ['price_fen', 'photos'], 'listing.change_price': ['price_fen'], 'listing.change_photos': ['photos'] }[ae.signed.kind];
      if (!fields) fail(`the approved entry at seq ${ae.seq} is a ${ae.signed.kind}, not a listing proposal`);
      for (const k of ['price_fen', 'photos']) {
        if (!fields.includes(k)) b.unverified(`listing.${k}`, stale);
        else if (a.payload) b.same(listing, p, k, a.payload[k], ae.seq);
        else b.unverified(`${p}.${k}`, WITHHELD);
      }
      bundles.push(a);
    } else {
      b.unverified('listing.price_fen', stale);
      b.unverified('listing.photos', stale);
    }
    bundles.push(c);
  }
  b.unverified('listing.status', 'withdrawal and filing change the status without a bundle in the answer');
  b.restUnverified(p, listing);
  return { binding: b, bundles };
}

/** Binds a `/v1/verify/contract/{filing_code}` answer. */
export async function bindContract(filingCode, answer, key) {
  if (answer?.filing_code !== filingCode) fail(`the answer is not about ${filingCode}`);
  const contract = answer.contract;
  if (!contract || typeof contract !== 'object') fail('the answer shows no contract');
  if (!answer.proof) fail('the answer carries no proof of the filing entry');
  const proof = await verifyBundle(answer.proof, key);
  const e = proof.entry;
  if (e.signed.kind !== 'contract.file' || e.kind !== 'ContractFiled') {
    fail(`the proved entry at seq ${e.seq} is a ${e.kind} (${e.signed.kind}), not a contract filing`);
  }
  if (!e.stream.startsWith('contract/')) fail(`${e.stream} is not a contract stream`);
  await issued(e, 'filing_code', 'FC', filingCode);
  const seq = e.seq;
  const b = new Binding('contract', filingCode);
  b.proved.push({ seq, stream: e.stream, kind: e.kind });
  b.verified('filing_code', seq);
  const p = 'contract';
  b.same(contract, p, 'id', e.stream, seq);
  b.same(contract, p, 'filed_seq', seq, seq);
  for (const k of ['listing', 'property']) b.same(contract, p, k, e.derived[k], seq);
  const bundles = [proof];
  if (!answer.latest) {
    b.unverified('contract.status', "the answer carries no bundle of the contract's last entry");
  } else {
    const l = await verifyBundle(answer.latest, key);
    const le = l.entry;
    if (le.stream !== e.stream || le.seq < seq) {
      fail(`the latest entry (seq ${le.seq} on ${le.stream}) is not a later entry of ${e.stream}`);
    }
    if (le.seq === seq) b.same(contract, p, 'status', 'filed', seq);
    else if (le.kind === 'ContractFilingCancelled') b.same(contract, p, 'status', 'filing_cancelled', le.seq);
    else b.unverified('contract.status', "the contract's last entry does not set a filing status");
    bundles.push(l);
  }
  const noSign = 'the answer carries no bundle of the signature entries';
  b.unverified('contract.document_hash', noSign);
  b.unverified('contract.signatures', noSign);
  b.restUnverified(p, contract);
  return { binding: b, bundles };
}

function containsText(v, needle, depth) {
  if (depth > 16) return false;
  if (typeof v === 'string') return v === needle;
  if (Array.isArray(v)) return v.some((i) => containsText(i, needle, depth + 1));
  if (v && typeof v === 'object') return Object.values(v).some((i) => containsText(i, needle, depth + 1));
  return false;
}

/**
 * Binds a `/v1/verify/document` answer to `sha256Hex`, the hash this page computed over the file
 * itself. An answer with no match cannot be proved (absence has no proof): `{binding: null}`.
 */
export async function bindDocument(sha256Hex, answer, key) {
  if (answer?.sha256 !== sha256Hex) fail(`the answer is not about the file hashed here (sha256 ${sha256Hex})`);
  const matches = answer.matches;
  if (!Array.isArray(matches)) fail('the answer has no list of matches');
  if (matches.length === 0) return { binding: null, bundles: [] };
  if (matches.length > DOCUMENT_MATCHES_MAX) fail(`more than ${DOCUMENT_MATCHES_MAX} matches`);
  const b = new Binding('document', sha256Hex);
  b.fields.set('sha256', { ok: true, computed: true });
  const bundles = [];
  for (const [i, m] of matches.entries()) {
    const p = `matches[${i}]`;
    if (!m?.proof) fail(`${p} carries no proof bundle`);
    const v = await verifyBundle(m.proof, key);
    const e = v.entry;
    const seq = e.seq;
    b.same(m, p, 'seq', seq, seq);
    b.same(m, p, 'id', e.stream, seq);
    if (v.payload === null) fail(`${p}: ${WITHHELD}, so the hash cannot be found in it`);
    if (!containsText(v.payload, sha256Hex, 0)) fail(`${p}: the entry at seq ${seq} does not carry the hash ${sha256Hex}`);
    const kind = e.signed.kind;
    const fits = {
      contract_document: ['contract.draft', 'contract.amend'].includes(kind),
      listing_photo: ['listing.publish', 'listing.change_photos'].includes(kind),
      offline_scan: kind === 'contract.verify_offline',
    }[m.what] ?? false;
    if (fits) b.verified(`${p}.what`, seq);
    else b.unverified(`${p}.what`, 'the proved entry is not of the kind this match names');
    if (m.code !== null && m.code !== undefined) {
      if (kind === 'listing.publish' && e.derived.listing_code === m.code && (await derivedCode('LV', seq, e.stream)) === m.code) {
        b.verified(`${p}.code`, seq);
      } else {
        b.unverified(`${p}.code`, 'the answer carries no bundle of the entry that issued this code');
      }
    }
    b.unverified(`${p}.current`, "whether the document is still current needs the aggregate's latest entries");
    b.unverified(`${p}.status`, 'the answer carries no bundle of the entry that set the status');
    const rest = { ...m };
    delete rest.proof;
    b.restUnverified(p, rest);
    b.proved.push({ seq, stream: e.stream, kind: e.kind });
    bundles.push(v);
  }
  return { binding: b, bundles };
}

/**
 * Checks one price point of a listing's history with the bundle of its entry (and, for an
 * approval, the bundle of the proposal it approved): the entry is on the listing's stream, at
 * the point's seq and time, of its kind, signed by the signer shown, and sets the price shown.
 * `fetchBundle(seq)` returns the bundle of entry `seq`.
 */
export async function bindPricePoint(listingId, point, key, fetchBundle) {
  const v = await verifyBundle(await fetchBundle(point.seq), key);
  const e = v.entry;
  const where = `price point at seq ${point.seq}`;
  if (e.seq !== point.seq) fail(`${where}: the bundle proves seq ${e.seq}`);
  if (e.stream !== listingId) fail(`${where}: the entry is on ${e.stream}, not ${listingId}`);
  if (e.signed.actor !== point.signer) fail(`${where}: signed by ${e.signed.actor}, not ${point.signer}`);
  if (e.kind !== point.kind) fail(`${where}: the entry is a ${e.kind}, not a ${point.kind}`);
  if (e.recorded_at_ms !== point.recorded_at_ms) fail(`${where}: recorded at another time`);
  let payload = v.payload;
  let from = e.seq;
  if (e.signed.kind === 'listing.approve') {
    const proposalSeq = payload?.proposal_seq;
    if (!Number.isSafeInteger(proposalSeq)) return { signer: true, price: false, reason: WITHHELD, checkpoint: v.checkpoint };
    const pv = await verifyBundle(await fetchBundle(proposalSeq), key);
    if (pv.entry.stream !== listingId || pv.entry.seq >= e.seq) fail(`${where}: the approved proposal is not an earlier entry of ${listingId}`);
    payload = pv.payload;
    from = proposalSeq;
  }
  if (payload === null) return { signer: true, price: false, reason: WITHHELD, checkpoint: v.checkpoint };
  if (!Number.isSafeInteger(payload.price_fen)) {
    return { signer: true, price: false, reason: 'the entry does not set a price itself', checkpoint: v.checkpoint };
  }
  if (payload.price_fen !== point.price_fen) {
    fail(`${where}: the price shown is ${point.price_fen} fen, the entry at seq ${from} says ${payload.price_fen}`);
  }
  return { signer: true, price: true, seq: from, checkpoint: v.checkpoint };
}

// ------------------------------------------------------------------------------------------
// The newest checkpoint this browser verified, and consistency from it.
// ------------------------------------------------------------------------------------------

const SEEN_KEY = 'deedlog.seen-checkpoint.v1';

/** The remembered checkpoint `{vkey, size, root}` (root hex), or null. */
export function loadSeen(storage, vkey) {
  try {
    const seen = JSON.parse(storage.getItem(SEEN_KEY) ?? 'null');
    if (seen && seen.vkey === vkey && Number.isSafeInteger(seen.size) && hashFromHex(seen.root)) return seen;
  } catch {
    // A damaged record is as good as none; it is replaced by the next verified checkpoint.
  }
  return null;
}

/**
 * Checks that `checkpoint` (opened) is consistent with the one this browser saw before, and
 * remembers the newer of the two. `fetchConsistency(from, to)` returns the server's proof
 * (`{from, to, proof}`). Throws `ProofError` on a rolled-back or forked log.
 */
export async function checkAgainstSeen(storage, key, checkpoint, fetchConsistency) {
  const seen = loadSeen(storage, key.vkey);
  const remember = (cp) => storage.setItem(SEEN_KEY, JSON.stringify({ vkey: key.vkey, size: cp.size, root: toHex(cp.root) }));
  if (!seen) {
    remember(checkpoint);
    return { before: null };
  }
  const seenRoot = hashFromHex(seen.root);
  if (checkpoint.size < seen.size) {
    // An older checkpoint than one already seen: it must be a prefix of it, and the answer
    // still shows a rolled-back view.
    const answer = await fetchConsistency(checkpoint.size, seen.size);
    if (answer?.from !== checkpoint.size || answer?.to !== seen.size) fail('the consistency answer is for other sizes');
    await verifyConsistency(checkpoint.size, checkpoint.root, seen.size, seenRoot, hashes(answer.proof, 'consistency'));
    fail(`the server answered from a log of ${checkpoint.size} entries, older than the ${seen.size} this browser already verified`);
  }
  if (checkpoint.size === seen.size) {
    if (!equalBytes(checkpoint.root, seenRoot)) fail(`two roots for tree size ${seen.size}: the log forked`);
    return { before: seen.size };
  }
  const answer = await fetchConsistency(seen.size, checkpoint.size);
  if (answer?.from !== seen.size || answer?.to !== checkpoint.size) fail('the consistency answer is for other sizes');
  await verifyConsistency(seen.size, seenRoot, checkpoint.size, checkpoint.root, hashes(answer.proof, 'consistency'));
  remember(checkpoint);
  return { before: seen.size };
}

// ------------------------------------------------------------------------------------------
// Still current: the answer's `state` (docs/FORMAT.md, "State map"), checked as
// `currency` of crates/client/src/proof.rs checks it.
// ------------------------------------------------------------------------------------------

/** Most aggregates one answer's state proof may carry. */
const STATE_AGGREGATES_MAX = 4;

/**
 * Verifies `answer.state`: its bundle, the root its entry commits (`derived.state_root`), each
 * aggregate's proof for its own key against that root, and each status's SHA-256. Returns
 * `{asOf, statuses}` (a Map from aggregate to its status object, or null when proved absent),
 * or null when the answer has no state. A forged state throws ProofError.
 */
export async function verifyState(answer, key) {
  const state = answer?.state;
  if (state === undefined || state === null) return null;
  const bad = (why) => fail(`the state proof: ${why}`);
  const v = await verifyBundle(state.bundle, key);
  const root = v.entry.derived?.state_root;
  if (typeof root !== 'string' || !/^[0-9a-f]{64}$/.test(root)) bad(`entry ${v.entry.seq} commits no state root`);
  const items = state.aggregates;
  if (!Array.isArray(items) || items.length > STATE_AGGREGATES_MAX) bad('the aggregates are not a short list');
  const statuses = new Map();
  for (const item of items) {
    const aggregate = item?.aggregate;
    if (typeof aggregate !== 'string') bad('an aggregate without a name');
    let value;
    try {
      value = await verifyStateProofFor(item.proof, root, aggregate);
    } catch (e) {
      if (e instanceof StateProofError) bad(`${aggregate}: ${e.message}`);
      throw e;
    }
    const text = item.status;
    if (value !== null) {
      if (typeof text !== 'string') bad(`the status of ${aggregate} is missing`);
      if (toHex(await sha256(utf8(text))) !== value) bad(`the status of ${aggregate} is not the one the proof commits`);
      let s;
      try {
        s = JSON.parse(text);
      } catch {
        bad(`the status of ${aggregate} is not JSON`);
      }
      if (s?.aggregate !== aggregate) bad(`the status shown is not ${aggregate}'s`);
      statuses.set(aggregate, s);
    } else {
      if (text !== null && text !== undefined) bad(`a status is shown for ${aggregate}, which the map proves absent`);
      statuses.set(aggregate, null);
    }
  }
  return { asOf: v.entry.seq + 1, statuses, checkpoint: v.checkpoint };
}

/**
 * Whether a listing or contract (`subject`: 'listing' or 'contract'; `aggregate` its proved id;
 * `shownSeq` the newest entry the page shows) is still current. Returns
 * `{state: 'current'|'not_current'|'unknown', asOf, status, reason}`; a forged state proof
 * throws ProofError.
 */
export async function currency(subject, answer, aggregate, shownSeq, key) {
  const proved = await verifyState(answer, key);
  if (proved === null) return { state: 'unknown', reason: 'the answer carries no state proof' };
  const { asOf, statuses } = proved;
  if (asOf <= shownSeq) {
    return { state: 'unknown', reason: `the state proof (checkpoint ${asOf}) is older than the entry shown (seq ${shownSeq}): stale` };
  }
  if (!statuses.has(aggregate)) fail(`the state proof is not about ${aggregate}`);
  const own = statuses.get(aggregate);
  if (own === null) fail(`the state map proves ${aggregate} absent`);
  const word = typeof own.status === 'string' ? own.status : 'unknown';
  if (subject === 'listing') {
    const property = own.property;
    if (typeof property !== 'string') fail("the listing's status names no property");
    const p = statuses.get(property);
    if (!p) return { state: 'unknown', reason: `the state proof does not show ${property}` };
    if (word === 'active' && p.seized !== true) return { state: 'current', asOf, status: word, checkpoint: proved.checkpoint };
    if (word === 'active') return { state: 'not_current', asOf, status: 'seized', reason: `the property ${property} is seized`, checkpoint: proved.checkpoint };
    if (word === 'closed') return { state: 'not_current', asOf, status: 'sold', reason: 'the listing was closed by a filed contract (sold)', checkpoint: proved.checkpoint };
    return { state: 'not_current', asOf, status: word, reason: `the listing is ${word}`, checkpoint: proved.checkpoint };
  }
  if (word === 'filed') return { state: 'current', asOf, status: word, checkpoint: proved.checkpoint };
  return { state: 'not_current', asOf, status: word, reason: `the contract is ${word}`, checkpoint: proved.checkpoint };
}
