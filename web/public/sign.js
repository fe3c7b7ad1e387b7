// Commands and private reads signed in the browser, byte for byte as deedlog's Rust client
// signs them (docs/FORMAT.md, "Signed commands"; docs/API.md, "Signed requests").
//
//   opening        = canonical({"payload": payload, "salt": salt})
//   payload_digest = hex(SHA-256("deedlog/payload/v1\n" || opening))
//   message        = "deedlog/command/v2\n" || canonical(the command without payload, with
//                    payload_digest; keys actor, expected_version?, issued_at_ms, key, kind,
//                    nonce, payload_digest, stream)
//
// The salt is 16 random bytes, not derived from the secret as the Rust client does, because a
// non-extractable key cannot be read; the salt is kept with the signed command for its retries,
// so a retry is the identical body. Everything is checked here before it is signed, with the
// server's limits, so that a form never sends what the server would refuse for its shape.

import { canonicalText, CanonicalError } from './canonical.js';
import { concat, sha256, toBase64, toHex, utf8 } from './crypto.js';

export const COMMAND_DOMAIN_V2 = 'deedlog/command/v2\n';
export const PAYLOAD_DOMAIN = 'deedlog/payload/v1\n';
export const REQUEST_DOMAIN = 'deedlog/request/v1\n';

/** The server's limits on a command's fields (docs/FORMAT.md). */
export const PAYLOAD_BYTES_MAX = 49152;
export const ID_BYTES_MAX = 128;
const ID_RE = /^[A-Za-z0-9._:/-]{1,128}$/;
const NONCE_RE = /^[A-Za-z0-9_-]{8,64}$/;
const KEY_RE = /^[A-Za-z0-9+/]{43}=$/;
const SALT_RE = /^[A-Za-z0-9+/]{22}==$/;
const INTEGER_MAX = Number.MAX_SAFE_INTEGER;

export class SignError extends Error {}

/** Whether every string inside `v` is well-formed UTF-16 (a lone surrogate has no UTF-8 form). */
function wellFormed(v, depth = 0) {
  if (depth > 64) return false;
  if (typeof v === 'string') {
    return typeof v.isWellFormed === 'function'
      ? v.isWellFormed()
      : !/[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/.test(v);
  }
  if (Array.isArray(v)) return v.every((x) => wellFormed(x, depth + 1));
  if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => wellFormed(k, depth + 1) && wellFormed(x, depth + 1));
  return true;
}

/** The canonical text of a value, refusing what the server's encoder refuses. */
export function canonical(value) {
  if (!wellFormed(value)) throw new SignError('a text holds a lone surrogate (not valid Unicode)');
  try {
    return canonicalText(value);
  } catch (e) {
    if (e instanceof CanonicalError) throw new SignError(e.message);
    throw e;
  }
}

/** Standard base64 of `n` random bytes. */
export const randomBase64 = (n) => toBase64(globalThis.crypto.getRandomValues(new Uint8Array(n)));

/** A fresh salt: 16 random bytes in standard base64 (24 characters). */
export const randomSalt = () => randomBase64(16);

/** A fresh nonce: 22 characters of URL-safe base64 of 16 random bytes. */
export const randomNonce = () => randomBase64(16).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** A fresh id such as `party/PA-3f9a0c41d2b7e865`: random, so nobody can guess and take it first. */
export function randomId(kind, prefix) {
  return `${kind}/${prefix}-${toHex(globalThis.crypto.getRandomValues(new Uint8Array(8)))}`;
}

/** The opening's canonical text. */
export const openingText = (payload, salt) => canonical({ payload, salt });

/** `hex(SHA-256("deedlog/payload/v1\n" || opening))`. */
export async function payloadDigestOf(opening) {
  return toHex(await sha256(concat(utf8(PAYLOAD_DOMAIN), utf8(opening))));
}

/** Checks a command's fields as the server does before it looks at the signature. */
export function checkFields(c) {
  for (const f of ['actor', 'kind', 'stream']) {
    if (typeof c[f] !== 'string' || !ID_RE.test(c[f])) throw new SignError(`${f} must be 1-128 characters of [A-Za-z0-9._:/-]`);
  }
  if (typeof c.key !== 'string' || !KEY_RE.test(c.key)) throw new SignError('key must be the base64 of 32 bytes');
  if (typeof c.nonce !== 'string' || !NONCE_RE.test(c.nonce)) throw new SignError('nonce must be 8-64 characters of [A-Za-z0-9_-]');
  if (typeof c.payload_salt !== 'string' || !SALT_RE.test(c.payload_salt)) throw new SignError('the salt must be the base64 of 16 bytes');
  if (!Number.isSafeInteger(c.issued_at_ms) || c.issued_at_ms < 0) throw new SignError('issued_at_ms must be an integer ≥ 0');
  if (c.expected_version !== undefined && (!Number.isSafeInteger(c.expected_version) || c.expected_version < 0 || c.expected_version > INTEGER_MAX)) {
    throw new SignError('expected_version must be an integer ≥ 0 (or left out)');
  }
  if (!c.payload || typeof c.payload !== 'object' || Array.isArray(c.payload)) throw new SignError('the payload must be an object');
  const size = utf8(canonical(c.payload)).length;
  if (size > PAYLOAD_BYTES_MAX) throw new SignError(`the payload is ${size} bytes, above ${PAYLOAD_BYTES_MAX}`);
}

/** The sealed command without its signature: what the version-2 signature covers. */
export function sealedFields(c, digest) {
  const sealed = { actor: c.actor, issued_at_ms: c.issued_at_ms, key: c.key, kind: c.kind, nonce: c.nonce, payload_digest: digest, stream: c.stream };
  if (c.expected_version !== undefined) sealed.expected_version = c.expected_version;
  return sealed;
}

/** The version-2 signing message's text. */
export const commandMessage = (c, digest) => COMMAND_DOMAIN_V2 + canonical(sealedFields(c, digest));

/**
 * Signs a command with `key` (from keys.js). `fields` holds kind, stream, payload and, when
 * wanted, expected_version; `fixed` may pin salt, nonce and issued_at_ms (tests, vectors).
 * Returns `{body, bodyText, opening, payload_digest, message}`: `body` is the SignedCommand
 * object the server takes at `POST /v1/commands/{kind}`, `bodyText` its canonical text.
 */
export async function signCommand(key, fields, fixed = {}) {
  const c = {
    actor: key.actor,
    key: key.publicKeyBase64,
    kind: fields.kind,
    stream: fields.stream,
    payload: fields.payload,
    payload_salt: fixed.salt ?? randomSalt(),
    nonce: fixed.nonce ?? randomNonce(),
    issued_at_ms: fixed.issued_at_ms ?? Date.now(),
  };
  if (fields.expected_version !== undefined && fields.expected_version !== null) c.expected_version = fields.expected_version;
  checkFields(c);
  const opening = openingText(c.payload, c.payload_salt);
  const digest = await payloadDigestOf(opening);
  const message = commandMessage(c, digest);
  const signature = await key.sign(utf8(message));
  const body = { ...c, signature: toBase64(signature) };
  return { body, bodyText: canonical(body), opening, payload_digest: digest, message };
}

/** The signed-request message's text (docs/API.md). */
export async function requestMessage(method, pathAndQuery, timestamp, bodyText = '') {
  const digest = toHex(await sha256(utf8(bodyText)));
  return `${REQUEST_DOMAIN}${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${digest}`;
}

/** The four `x-deedlog-*` headers of a signed request. */
export async function signRequest(key, method, pathAndQuery, bodyText = '', timestamp = Date.now()) {
  if (!/^\/[\x21-\x7e]*$/.test(pathAndQuery)) throw new SignError('the path must be ASCII, as sent');
  const ts = String(timestamp);
  const message = await requestMessage(method, pathAndQuery, ts, bodyText);
  return {
    'x-deedlog-actor': key.actor,
    'x-deedlog-key': key.publicKeyBase64,
    'x-deedlog-timestamp': ts,
    'x-deedlog-signature': toBase64(await key.sign(utf8(message))),
  };
}

/** An answer of the server that is not a success: `code` is the API's stable code. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? (status === 0 ? 'network' : `http.${status}`);
    this.details = body?.details ?? null;
  }
}

async function answer(res) {
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends a signed command body, retrying the identical bytes after a dropped connection or a
 * `503` (the server answers a retry with the first receipt). Resolves to the receipt.
 */
export async function sendCommand(bodyText, kind, { fetchFn = fetch, tries = 4 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    let res;
    try {
      res = await fetchFn(`/v1/commands/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyText });
    } catch (e) {
      last = new ApiError(0, { code: 'network', message: String(e?.message ?? e) });
      await sleep(300 * (i + 1));
      continue;
    }
    if (res.status === 503 && i + 1 < tries) {
      last = new ApiError(503, await res.json().catch(() => null));
      await sleep(1000);
      continue;
    }
    return answer(res);
  }
  throw last;
}

/** A signed private request (GET, or POST with a JSON body) from this browser's key. */
export async function signedFetch(key, method, pathAndQuery, body, { fetchFn = fetch } = {}) {
  const bodyText = body === undefined ? '' : JSON.stringify(body);
  const headers = await signRequest(key, method, pathAndQuery, bodyText);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetchFn(pathAndQuery, { method, headers, body: body === undefined ? undefined : bodyText, cache: 'no-store' });
  return answer(res);
}
