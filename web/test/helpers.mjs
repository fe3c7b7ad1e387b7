// Test helpers: a naive RFC 6962 Merkle tree (root, audit paths, consistency proofs), a test log
// key that signs checkpoints, and builders for entries of both formats and their bundles.
import { readFileSync } from 'node:fs';
import * as ed from '../public/noble-ed25519.js';
import { canonicalBytes } from '../public/canonical.js';
import { concat, leafHash, nodeHash, sha256, toBase64, toHex, utf8 } from '../public/crypto.js';
import { BUNDLE_FORMAT, payloadDigest, signingMessage } from '../public/verify.js';

export const repo = (path) => new URL(`../../${path}`, import.meta.url);
export const readJson = (path) => JSON.parse(readFileSync(repo(path), 'utf8'));
export const readText = (path) => readFileSync(repo(path), 'utf8');
export const fromHex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) over leaf hashes. */
export async function root(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array());
  if (leaves.length === 1) return leaves[0];
  const k = split(leaves.length);
  return nodeHash(await root(leaves.slice(0, k)), await root(leaves.slice(k)));
}

/** PATH(m, D[n]), bottom to top. */
export async function path(m, leaves) {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  if (m < k) return [...(await path(m, leaves.slice(0, k))), await root(leaves.slice(k))];
  return [...(await path(m - k, leaves.slice(k))), await root(leaves.slice(0, k))];
}

/** PROOF(m, D[n]) (RFC 6962 §2.1.2). */
export async function consistency(m, leaves) {
  async function sub(m, d, b) {
    const n = d.length;
    if (m === n) return b ? [] : [await root(d)];
    const k = split(n);
    if (m <= k) return [...(await sub(m, d.slice(0, k), b)), await root(d.slice(k))];
    return [...(await sub(m - k, d.slice(k), false)), await root(d.slice(0, k))];
  }
  return sub(m, leaves, true);
}

/** A key pair from a 32-byte seed. */
export async function keyPair(seedText) {
  const seed = await sha256(utf8(seedText));
  return { seed, pub: await ed.getPublicKeyAsync(seed) };
}

/** A log key: `{vkey, sign(size, root, extensions) -> note}`. */
export async function logKey(origin, seedText = 'test log key') {
  const { seed, pub } = await keyPair(seedText);
  const id = (await sha256(concat(utf8(origin), Uint8Array.of(10, 1), pub))).slice(0, 4);
  const vkey = `${origin}+${toHex(id)}+${toBase64(concat(Uint8Array.of(1), pub))}`;
  return {
    vkey,
    origin,
    async note(size, rootBytes, extensions = []) {
      const body = [origin, String(size), toBase64(rootBytes), ...extensions].join('\n') + '\n';
      const sig = await ed.signAsync(utf8(body), seed);
      return `${body}\n\u2014 ${origin} ${toBase64(concat(id, sig))}\n`;
    },
  };
}

/**
 * Builds entries on one log: `add({format, stream, kind, signedKind, payload, derived, actor})`
 * signs the command with the actor's test key (v1: payload in clear; v2: salted digest, the
 * opening returned beside), links prev_hash, and returns the entry bytes.
 */
export class TestLog {
  constructor(key) {
    this.key = key;
    this.entries = [];
    this.openings = [];
    this.leaves = [];
    this.versions = new Map();
  }
  async add({ format = 1, stream, kind, signedKind, payload, derived = {}, actor = 'party/PA-1', salt }) {
    const seq = this.entries.length;
    const { seed, pub } = await keyPair(`actor ${actor}`);
    const version = (this.versions.get(stream) ?? 0) + 1;
    this.versions.set(stream, version);
    const signed = {
      actor, expected_version: version - 1, issued_at_ms: 1764547200000 + seq * 1000,
      key: toBase64(pub), kind: signedKind, nonce: `nonce-${String(seq).padStart(6, '0')}`, stream,
    };
    let opening = null;
    if (format === 2) {
      opening = { payload, salt: salt ?? toBase64((await sha256(utf8(`salt ${seq}`))).slice(0, 16)) };
      signed.payload_digest = await payloadDigest(opening);
    } else {
      signed.payload = payload;
    }
    const entry = {
      derived, kind, prev_hash: seq === 0 ? '0'.repeat(64) : toHex(this.leaves[seq - 1]),
      recorded_at_ms: 1764547200005 + seq * 1000, seq, signed, stream, stream_version: version,
    };
    if (format === 2) entry.format = 2;
    signed.signature = toBase64(await ed.signAsync(signingMessage(entry, format), seed));
    const bytes = canonicalBytes(entry);
    this.entries.push(bytes);
    this.openings.push(opening);
    this.leaves.push(await leafHash(bytes));
    return { seq, bytes, entry, opening };
  }
  /** The bundle of `seq` against the whole log as it is now. */
  async bundle(seq, { withOpening = true, size = this.entries.length } = {}) {
    const leaves = this.leaves.slice(0, size);
    const b = {
      format: BUNDLE_FORMAT, seq, entry: toBase64(this.entries[seq]), leaf_hash: toHex(this.leaves[seq]),
      tree_size: size, inclusion: (await path(seq, leaves)).map(toHex),
      checkpoint: await this.key.note(size, await root(leaves)), log_key: this.key.vkey,
    };
    if (withOpening && this.openings[seq]) b.opening = this.openings[seq];
    return b;
  }
}

/** An in-memory `localStorage`. */
export class MemoryStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
}
