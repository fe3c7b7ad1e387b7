// The browser's signer against the Rust code: every vector of ledger-data/vectors/commands-v2.json
// (written by crates/core/tests/commands_v2.rs) is rebuilt byte for byte, with both Ed25519
// engines; the canonical encoder agrees with a reference written here from RFC 8785's rules on
// randomly generated payloads; the keys made here are not extractable and sign what verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalText, parseCanonical, CanonicalError } from '../public/canonical.js';
import { fromBase64, utf8, verifyEd25519 } from '../public/crypto.js';
import { generateRecord, keyFromPair, keyFromRecord, keyFromSeed } from '../public/keys.js';
import {
  canonical, checkFields, commandMessage, randomId, randomNonce, randomSalt, requestMessage,
  signCommand, signRequest, SignError, PAYLOAD_BYTES_MAX,
} from '../public/sign.js';
import { fromHex, readJson } from './helpers.mjs';

const vectors = readJson('ledger-data/vectors/commands-v2.json');

/** A WebCrypto key pair from a seed (PKCS #8 of RFC 8410), so both engines sign the vectors. */
async function webcryptoKey(actor, seed) {
  const pkcs8 = new Uint8Array([...fromHex('302e020100300506032b657004220420'), ...seed]);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  const noble = await keyFromSeed(actor, seed);
  const publicKey = await crypto.subtle.importKey('raw', noble.publicKey, { name: 'Ed25519' }, true, ['verify']);
  return keyFromPair(actor, { privateKey, publicKey });
}

test('every committed command vector is rebuilt byte for byte, with both engines', async () => {
  assert.ok(vectors.commands.length >= 4);
  for (const v of vectors.commands) {
    const seed = fromHex(v.seed_hex);
    for (const key of [await keyFromSeed(v.command.actor, seed), await webcryptoKey(v.command.actor, seed)]) {
      assert.equal(key.publicKeyBase64, v.command.key, v.name);
      const { command: c } = v;
      const out = await signCommand(key, { kind: c.kind, stream: c.stream, payload: c.payload, expected_version: c.expected_version },
        { salt: v.salt, nonce: c.nonce, issued_at_ms: c.issued_at_ms });
      assert.equal(canonical(c.payload), v.payload_canonical, `${v.name}: payload`);
      assert.equal(out.opening, v.opening, `${v.name}: opening`);
      assert.equal(out.payload_digest, v.payload_digest, `${v.name}: digest`);
      assert.equal(out.message, v.message, `${v.name}: message (${key.engine})`);
      assert.equal(out.body.signature, v.signature, `${v.name}: signature (${key.engine})`);
      assert.equal(out.bodyText, v.body, `${v.name}: body`);
      const sealed = { ...JSON.parse(v.sealed) };
      delete sealed.signature;
      assert.equal(commandMessage(out.body, out.payload_digest), `deedlog/command/v2\n${canonicalText(sealed)}`);
      // The signature verifies by the server's rule, and not after one byte of the message changes.
      const sig = fromBase64(v.signature);
      assert.equal(await verifyEd25519(key.publicKey, utf8(v.message), sig), true);
      const changed = utf8(v.message);
      changed[changed.length - 2] ^= 1;
      assert.equal(await verifyEd25519(key.publicKey, changed, sig), false);
    }
  }
});

test('every committed signed-request vector is rebuilt byte for byte', async () => {
  assert.ok(vectors.requests.length >= 2);
  for (const v of vectors.requests) {
    const key = await keyFromSeed(v.actor, fromHex(v.seed_hex));
    assert.equal(key.publicKeyBase64, v.key);
    assert.equal(await requestMessage(v.method, v.path_and_query, v.timestamp, v.body), v.message, v.name);
    const headers = await signRequest(key, v.method, v.path_and_query, v.body, Number(v.timestamp));
    assert.deepEqual(headers, {
      'x-deedlog-actor': v.actor, 'x-deedlog-key': v.key, 'x-deedlog-timestamp': v.timestamp, 'x-deedlog-signature': v.signature,
    }, v.name);
  }
});

test('every committed canonical case gives the Rust bytes; every refused text is refused', () => {
  assert.ok(vectors.canonical.length >= 6);
  for (const v of vectors.canonical) {
    assert.equal(canonical(v.value), v.canonical, v.name);
    assert.equal(reference(v.value), v.canonical, `${v.name} (reference)`);
    assert.deepEqual(parseCanonical(utf8(v.canonical)), v.value, v.name);
  }
  for (const text of vectors.refused) assert.throws(() => parseCanonical(utf8(text)), CanonicalError, text);
});

// ------------------------------------------------------------------------------------------
// A reference encoder, written from RFC 8785 §3.2 and FORMAT.md without JSON.stringify or
// Array.prototype.sort's default order, to compare the page's encoder with on random values.
// ------------------------------------------------------------------------------------------

function refString(s) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u === 0x22) out += '\\"';
    else if (u === 0x5c) out += '\\\\';
    else if (u === 0x08) out += '\\b';
    else if (u === 0x09) out += '\\t';
    else if (u === 0x0a) out += '\\n';
    else if (u === 0x0c) out += '\\f';
    else if (u === 0x0d) out += '\\r';
    else if (u < 0x20) out += `\\u${u.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** Order of two strings by their UTF-16 code units, unit by unit (RFC 8785 §3.2.3). */
function byUnits(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d) return d;
  }
  return a.length - b.length;
}

function refInteger(n) {
  // Decimal digits by repeated division, on BigInt so that no float rounding can enter.
  let v = BigInt(n);
  if (v === 0n) return '0';
  const neg = v < 0n;
  if (neg) v = -v;
  let digits = '';
  while (v > 0n) {
    digits = String(Number(v % 10n)) + digits;
    v /= 10n;
  }
  return neg ? `-${digits}` : digits;
}

function reference(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') return refInteger(v);
  if (typeof v === 'string') return refString(v);
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  const keys = [];
  for (const k in v) keys.push(k);
  // Insertion sort: plain and obviously right for the handful of keys per object.
  for (let i = 1; i < keys.length; i++) {
    for (let j = i; j > 0 && byUnits(keys[j - 1], keys[j]) > 0; j--) [keys[j - 1], keys[j]] = [keys[j], keys[j - 1]];
  }
  return `{${keys.map((k) => `${refString(k)}:${reference(v[k])}`).join(',')}}`;
}

// A small deterministic generator (xorshift32), so that a failure names its seed and repeats.
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const PIECES = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', '\u0000', '\u001f', '\u007f', '\u00e9', 'é',
  '云', '昆明市', '不动产权第', '（', '）', '·', '\u2028', '\u2029', '\ufeff', '\ufb01', '🏠', '𠀀', '\ud83d\ude00', '\u{10ffff}', '-', '_', '.'];
const INTEGERS = [0, -0, 1, -1, 9, 10, 99, 100, 255, 256, 65535, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 128000000, 1764547200000];

function randomText(r, max) {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

function randomValue(r, depth) {
  const pick = r();
  if (depth > 4 || pick < 0.35) {
    const leaf = r();
    if (leaf < 0.1) return null;
    if (leaf < 0.2) return r() < 0.5;
    if (leaf < 0.5) return r() < 0.5 ? INTEGERS[Math.floor(r() * INTEGERS.length)] : Math.floor((r() - 0.5) * 2 ** 53);
    return randomText(r, 12);
  }
  if (pick < 0.6) return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  const o = {};
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) o[randomText(r, 5)] = randomValue(r, depth + 1);
  return o;
}

test('the canonical encoder agrees with the RFC 8785 reference on 3000 random payloads', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const r = rng(seed * 2654435761);
    const payload = { v: randomValue(r, 0), [randomText(r, 4)]: randomValue(r, 1) };
    const text = canonical(payload);
    assert.equal(text, reference(payload), `seed ${seed}`);
    // What the encoder writes its decoder takes back unchanged (one value, one text).
    assert.deepEqual(parseCanonical(utf8(text)), JSON.parse(text), `seed ${seed}`);
  }
});

test('random payloads signed with random salts verify, and differ in digest per salt', async () => {
  const key = await keyFromSeed('party/PA-0123456789abcdef', fromHex('55'.repeat(32)));
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const payload = { data: randomValue(r, 1), note: randomText(r, 20) };
    const a = await signCommand(key, { kind: 'listing.reject', stream: 'listing/LS-1', payload, expected_version: seed });
    const b = await signCommand(key, { kind: 'listing.reject', stream: 'listing/LS-1', payload, expected_version: seed });
    assert.notEqual(a.payload_digest, b.payload_digest, 'a fresh salt hides the payload afresh');
    assert.notEqual(a.body.nonce, b.body.nonce);
    assert.equal(await verifyEd25519(key.publicKey, utf8(a.message), fromBase64(a.body.signature)), true);
    assert.deepEqual(JSON.parse(a.bodyText), a.body);
  }
});

test('fields the server would refuse are refused before anything is signed', async () => {
  const key = await keyFromSeed('party/PA-1', fromHex('66'.repeat(32)));
  const good = { kind: 'property.verify', stream: 'verification/PV-1', payload: { certificate_no: 'x' } };
  await assert.doesNotReject(signCommand(key, good));
  const bad = [
    { ...good, kind: 'property verify' },
    { ...good, stream: '' },
    { ...good, stream: 'x'.repeat(129) },
    { ...good, payload: [] },
    { ...good, payload: null },
    { ...good, payload: { n: 1.5 } },
    { ...good, payload: { n: 2 ** 53 } },
    { ...good, payload: { s: 'lone \ud800 surrogate' } },
    { ...good, payload: { s: 'x'.repeat(PAYLOAD_BYTES_MAX) } },
    { ...good, expected_version: -1 },
    { ...good, expected_version: 1.5 },
  ];
  for (const f of bad) await assert.rejects(signCommand(key, f), SignError, JSON.stringify(f).slice(0, 80));
  await assert.rejects(signCommand(key, good, { nonce: 'short' }), SignError);
  await assert.rejects(signCommand(key, good, { salt: 'AAAA' }), SignError);
  await assert.rejects(signCommand(key, good, { issued_at_ms: -1 }), SignError);
  await assert.rejects(signRequest(key, 'GET', '/v1/parties/中'), SignError);
  assert.throws(() => checkFields({}), SignError);
});

test('random salts, nonces and ids have the server\'s shapes', () => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const salt = randomSalt();
    assert.match(salt, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(fromBase64(salt).length, 16);
    const nonce = randomNonce();
    assert.match(nonce, /^[A-Za-z0-9_-]{22}$/);
    const id = randomId('party', 'PA');
    assert.match(id, /^party\/PA-[0-9a-f]{16}$/);
    for (const x of [salt, nonce, id]) {
      assert.ok(!seen.has(x));
      seen.add(x);
    }
  }
});

test('a WebCrypto key is made non-extractable and signs what verifies; the noble fallback too', async () => {
  for (const engine of ['webcrypto', 'noble']) {
    const record = await generateRecord('party/PA-abc', engine);
    assert.equal(record.engine, engine);
    const key = await keyFromRecord(record);
    assert.equal(fromBase64(key.publicKeyBase64).length, 32);
    const msg = utf8('deedlog/command/v2\n{}');
    assert.equal(await verifyEd25519(key.publicKey, msg, await key.sign(msg)), true, engine);
    if (engine === 'webcrypto') {
      assert.equal(record.pair.privateKey.extractable, false);
      await assert.rejects(crypto.subtle.exportKey('pkcs8', record.pair.privateKey));
      assert.equal(record.seed, undefined, 'no secret bytes are kept beside a WebCrypto key');
    }
  }
});
