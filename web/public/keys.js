// A person's Ed25519 key, made and kept in this browser, one per actor id.
//
// Where the engine has WebCrypto Ed25519, the key pair is generated with `extractable: false`
// and the CryptoKey objects themselves are stored in IndexedDB (structured clone keeps them
// non-extractable): the page can ask the browser to sign with it, but no script, not even this
// one, can read the secret bytes, so a script injected later cannot copy the key away (it could
// only sign while it runs in the page).
//
// Where WebCrypto lacks Ed25519 (older WeChat webviews and Safari before 17), the key is a
// random 32-byte seed used by the vendored @noble/ed25519, and the seed itself is stored in
// IndexedDB. That costs the guarantee above: any script running in this origin, and anyone who
// can read the browser profile on disk, can read the seed and sign as the person from anywhere,
// until the key is revoked on the log. The screen says which engine holds the key.
//
// Only the public key ever leaves the device, in the log's form: standard base64 of 32 bytes.

import * as ed from './noble-ed25519.js';
import { toBase64 } from './crypto.js';

const subtle = globalThis.crypto?.subtle;

/** IndexedDB database and stores of this browser's keys and pending commands. */
export const DB_NAME = 'deedlog-keys';
const DB_VERSION = 1;
const KEYS = 'keys';
const PENDING = 'pending';
const META = 'meta';

export class KeyError extends Error {}

/**
 * A key that signs: `{actor, engine, publicKey (Uint8Array), publicKeyBase64, sign(bytes)}`.
 * `sign` resolves to the 64-byte Ed25519 signature of the bytes (pure Ed25519, RFC 8032).
 */
function handle(actor, engine, publicKey, sign) {
  return Object.freeze({ actor, engine, publicKey, publicKeyBase64: toBase64(publicKey), sign });
}

/** A key from a WebCrypto key pair (its private half need not be extractable). */
export async function keyFromPair(actor, pair) {
  const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  const sign = async (bytes) => new Uint8Array(await subtle.sign({ name: 'Ed25519' }, pair.privateKey, bytes));
  return handle(actor, 'webcrypto', publicKey, sign);
}

/** A key from a 32-byte seed, signed with @noble/ed25519 (the fallback, and the tests' fixed keys). */
export async function keyFromSeed(actor, seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new KeyError('a seed is 32 bytes');
  const publicKey = await ed.getPublicKeyAsync(seed);
  const sign = (bytes) => ed.signAsync(bytes, seed);
  return handle(actor, 'noble', publicKey, sign);
}

let probed; // undefined until asked; then whether WebCrypto can generate Ed25519 keys.

/** Whether this engine's WebCrypto generates Ed25519 keys. */
export async function hasWebcryptoKeys() {
  if (probed === undefined) {
    try {
      await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      probed = true;
    } catch {
      probed = false;
    }
  }
  return probed;
}

/**
 * A fresh key record for `actor`: a non-extractable WebCrypto pair, or (without WebCrypto
 * Ed25519, or when `engine` is `noble`) a random seed. The record is what IndexedDB stores.
 */
export async function generateRecord(actor, engine) {
  const use = engine ?? ((await hasWebcryptoKeys()) ? 'webcrypto' : 'noble');
  if (use === 'webcrypto') {
    const pair = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return { actor, engine: 'webcrypto', pair, created_ms: Date.now() };
  }
  const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return { actor, engine: 'noble', seed, created_ms: Date.now() };
}

/** The signing key of a stored record. */
export function keyFromRecord(record) {
  if (record?.engine === 'webcrypto' && record.pair) return keyFromPair(record.actor, record.pair);
  if (record?.engine === 'noble' && record.seed) return keyFromSeed(record.actor, new Uint8Array(record.seed));
  throw new KeyError('the stored key record is damaged');
}

// ------------------------------------------------------------------------------------------
// IndexedDB: keys by actor, pending commands by nonce, and which actor this browser acts as.
// ------------------------------------------------------------------------------------------

let dbPromise;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new KeyError('IndexedDB failed'));
  });
}

/** The database, opened (and created) once per page. */
export function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      if (!globalThis.indexedDB) {
        reject(new KeyError('this browser keeps no IndexedDB (a private mode?): keys cannot be kept'));
        return;
      }
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS, { keyPath: 'actor' });
        if (!db.objectStoreNames.contains(PENDING)) db.createObjectStore(PENDING, { keyPath: 'nonce' });
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: 'name' });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new KeyError('IndexedDB did not open'));
    });
    dbPromise.catch(() => {
      dbPromise = undefined;
    });
  }
  return dbPromise;
}

async function tx(store, mode, fn) {
  const db = await openDb();
  const t = db.transaction(store, mode);
  const result = await request(fn(t.objectStore(store)));
  await new Promise((resolve, reject) => {
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error ?? new KeyError('IndexedDB transaction aborted'));
  });
  return result;
}

/**
 * Creates and stores a new key for `actor`; refuses to replace an existing one (a key bound on
 * the log must never be lost by a second click).
 */
export async function createKey(actor, engine) {
  const record = await generateRecord(actor, engine);
  try {
    await tx(KEYS, 'readwrite', (s) => s.add(record));
  } catch (e) {
    if (e?.name === 'ConstraintError') throw new KeyError(`this browser already holds a key for ${actor}`);
    throw e;
  }
  return keyFromRecord(record);
}

/** The stored key of `actor`, or null. */
export async function loadKey(actor) {
  const record = await tx(KEYS, 'readonly', (s) => s.get(actor));
  return record ? keyFromRecord(record) : null;
}

/** Forgets the key of `actor` (its party stays on the log; a new device binds a new key). */
export async function forgetKey(actor) {
  await tx(KEYS, 'readwrite', (s) => s.delete(actor));
}

/**
 * Stores the key of `from` under `to` instead (a new device's key, made before the identity
 * authority named the party it is bound to) and returns it; the private key is moved as the
 * record it is, never exported.
 */
export async function renameKey(from, to) {
  const record = await tx(KEYS, 'readonly', (s) => s.get(from));
  if (!record) throw new KeyError(`this browser holds no key for ${from}`);
  const moved = { ...record, actor: to };
  await tx(KEYS, 'readwrite', (s) => s.put(moved));
  await tx(KEYS, 'readwrite', (s) => s.delete(from));
  return keyFromRecord(moved);
}

/** The actor this browser acts as, or null. */
export async function currentActor() {
  const row = await tx(META, 'readonly', (s) => s.get('actor'));
  return row?.value ?? null;
}

/** Remembers the actor this browser acts as. */
export async function setCurrentActor(actor) {
  await tx(META, 'readwrite', (s) => s.put({ name: 'actor', value: actor }));
}

/** A small remembered value of the screens (a registration in progress), or null. */
export async function getMeta(name) {
  const row = await tx(META, 'readonly', (s) => s.get(name));
  return row?.value ?? null;
}

/** Remembers a small value; `null` forgets it. */
export async function setMeta(name, value) {
  await tx(META, 'readwrite', (s) => (value === null ? s.delete(name) : s.put({ name, value })));
}

/**
 * Keeps a signed command until its receipt: `{nonce, actor, kind, body, opening, saved_ms}`.
 * After a reload or a dropped connection the same bytes are sent again (the server answers a
 * retry with the first receipt), so a command lands exactly once.
 */
export async function savePending(item) {
  await tx(PENDING, 'readwrite', (s) => s.put({ ...item, saved_ms: Date.now() }));
}

/** The pending commands of `actor`, oldest first. */
export async function pendingOf(actor) {
  const all = await tx(PENDING, 'readonly', (s) => s.getAll());
  return all.filter((p) => p.actor === actor).sort((a, b) => a.saved_ms - b.saved_ms);
}

/** Drops a pending command once its receipt (or a final refusal) came. */
export async function dropPending(nonce) {
  await tx(PENDING, 'readwrite', (s) => s.delete(nonce));
}

// ------------------------------------------------------------------------------------------
// Institutions' keys: imported once from their key file, then kept non-extractable.
// ------------------------------------------------------------------------------------------

// PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410): the only form WebCrypto imports a private
// Ed25519 key from.
const PKCS8_ED25519_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

/**
 * Imports the seed of an institution's key file (`{"format":"deedlog/key/v1","seed","public"}`)
 * for `actor` and stores it: with WebCrypto Ed25519 as a non-extractable private key (the seed
 * is dropped once imported, so no script can read it back), else as a seed for the fallback.
 * Refuses a seed whose public key is not `publicKeyBase64`, and replaces an earlier import.
 */
export async function importSeedKey(actor, seed, publicKeyBase64) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new KeyError('a seed is 32 bytes');
  let record;
  if (await hasWebcryptoKeys()) {
    const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
    der.set(PKCS8_ED25519_PREFIX);
    der.set(seed, PKCS8_ED25519_PREFIX.length);
    const privateKey = await subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
    der.fill(0);
    const pub = Uint8Array.from(atob(publicKeyBase64), (c) => c.charCodeAt(0));
    const publicKey = await subtle.importKey('raw', pub, { name: 'Ed25519' }, true, ['verify']);
    // The file's public key must be the seed's: a signature made with the imported private key
    // has to verify under it, or the file is damaged or mixed up.
    const probe = utf8Probe();
    const sig = await subtle.sign({ name: 'Ed25519' }, privateKey, probe);
    if (!(await subtle.verify({ name: 'Ed25519' }, publicKey, sig, probe))) throw new KeyError('the key file\'s public key is not its seed\'s');
    record = { actor, engine: 'webcrypto', pair: { privateKey, publicKey }, created_ms: Date.now(), imported: true };
  } else {
    const key = await keyFromSeed(actor, seed);
    if (key.publicKeyBase64 !== publicKeyBase64) throw new KeyError('the key file\'s public key is not its seed\'s');
    record = { actor, engine: 'noble', seed: Uint8Array.from(seed), created_ms: Date.now(), imported: true };
  }
  await tx(KEYS, 'readwrite', (s) => s.put(record));
  return keyFromRecord(record);
}

const utf8Probe = () => new TextEncoder().encode('deedlog/key-import-probe/v1');
