// Hashing, base64 and hex, and the one Ed25519 signature rule, for the browser and for Node's
// test runner alike (both have WebCrypto as `globalThis.crypto.subtle`).
//
// The rule is the server's (`PublicKey::verify` in crates/core/src/keys.rs, ed25519-dalek's
// `verify_strict`): S below the group order, the key and R canonical encodings of points that are
// not of small order, and the cofactorless equation [S]B = R + [k]A compared byte for byte on R.
// WebCrypto's Ed25519 checks the equation but not the small-order rule, so the encodings are
// checked here first, with @noble/ed25519's point arithmetic; engines without WebCrypto Ed25519
// (older WeChat webviews) check the equation with @noble/ed25519 too.

import { Point, etc } from './noble-ed25519.js';

const subtle = globalThis.crypto && globalThis.crypto.subtle;
const te = new TextEncoder();

/** UTF-8 bytes of a string. */
export const utf8 = (s) => te.encode(s);

/** Concatenation of byte arrays. */
export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of exactly 64 lower-case hex digits (a hash), or null. */
export function hashFromHex(s) {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 (with padding) of bytes. */
export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    s += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    s += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return s;
}

/**
 * Bytes of standard, padded base64, or null. Only the one canonical spelling is accepted (the
 * unused bits zero), as the server's decoder does, so that one value has one text.
 */
export function fromBase64(s) {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const c = [0, 1, 2, 3].map((j) => (s[i + j] === '=' ? 0 : B64.indexOf(s[i + j])));
    const n = (c[0] << 18) | (c[1] << 12) | (c[2] << 6) | c[3];
    const bytes = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    for (const b of bytes) if (o < out.length) out[o++] = b;
  }
  return toBase64(out) === s ? out : null;
}

/** SHA-256 of bytes. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

/** RFC 6962 leaf hash: SHA-256(0x00 || bytes). */
export const leafHash = (bytes) => sha256(concat(Uint8Array.of(0), bytes));

/** RFC 6962 node hash: SHA-256(0x01 || left || right). */
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

/** Byte-wise equality. */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// The group order L.
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** Decodes a canonical point that is not of small order, or null. */
function strictPoint(bytes) {
  try {
    const p = Point.fromBytes(bytes, false);
    if (p.isSmallOrder()) return null;
    // Re-encoding catches the one non-canonical form the decoder lets through (x = 0 with the
    // sign bit set), so that a point has one encoding.
    return equalBytes(p.toBytes(), bytes) ? p : null;
  } catch {
    return null;
  }
}

let webcryptoEd25519; // undefined: not probed yet; true / false after.

async function hasWebcryptoEd25519() {
  if (webcryptoEd25519 === undefined) {
    try {
      await subtle.importKey('raw', Point.BASE.toBytes(), { name: 'Ed25519' }, false, ['verify']);
      webcryptoEd25519 = true;
    } catch {
      webcryptoEd25519 = false;
    }
  }
  return webcryptoEd25519;
}

/** Which Ed25519 engine the equation is checked with: `webcrypto` or `noble`. */
export async function ed25519Engine() {
  return (await hasWebcryptoEd25519()) ? 'webcrypto' : 'noble';
}

/**
 * Whether `sig` (64 bytes) is a valid signature of `msg` under the 32-byte key `pub`, by the
 * rule above. `engine` forces `webcrypto` or `noble` (tests check that both agree).
 */
export async function verifyEd25519(pub, msg, sig, engine) {
  if (!(pub instanceof Uint8Array) || pub.length !== 32) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
  const rBytes = sig.subarray(0, 32);
  const s = littleEndian(sig.subarray(32));
  if (s >= L) return false;
  const A = strictPoint(pub);
  const R = strictPoint(rBytes);
  if (!A || !R) return false;
  const use = engine ?? (await ed25519Engine());
  if (use === 'webcrypto') {
    try {
      const key = await subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
      return await subtle.verify({ name: 'Ed25519' }, key, sig, msg);
    } catch {
      return false;
    }
  }
  // k = SHA-512(R || A || M) mod L; the check is R == [S]B - [k]A, byte for byte.
  const digest = new Uint8Array(await subtle.digest('SHA-512', concat(rBytes, pub, msg)));
  const k = etc.mod(littleEndian(digest), L);
  const sB = s === 0n ? Point.ZERO : Point.BASE.multiply(s, false);
  const kA = k === 0n ? Point.ZERO : A.multiply(k, false);
  return equalBytes(sB.subtract(kA).toBytes(), rBytes);
}
