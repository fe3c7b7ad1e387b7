// Canonical JSON: RFC 8785 (JCS) restricted to integers, the same rules as crates/core's
// `canonical` module. Everything deedlog signs or hashes is these bytes, so the page rebuilds
// signing messages with it and refuses entry bytes that are not already canonical.
//
// - keys sorted by UTF-16 code units (JavaScript's own string order), no white space;
// - strings as JSON.stringify writes them (ECMAScript's serialization is the one RFC 8785 names);
// - numbers only integers in [-(2^53 - 1), 2^53 - 1]; a fraction, an exponent or a larger
//   number is an error, never a rounding.

/** Deepest nesting accepted (the server's `DEPTH_MAX`). */
export const DEPTH_MAX = 64;

export class CanonicalError extends Error {}

function write(v, depth, out) {
  if (depth > DEPTH_MAX) throw new CanonicalError(`nesting deeper than ${DEPTH_MAX} levels`);
  if (v === null) {
    out.push('null');
  } else if (typeof v === 'boolean') {
    out.push(v ? 'true' : 'false');
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new CanonicalError(`${v} is not an integer of at most 2^53 - 1`);
    // -0 is written 0, as the server's integers have no sign of zero.
    out.push(String(v === 0 ? 0 : v));
  } else if (typeof v === 'string') {
    out.push(JSON.stringify(v));
  } else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((item, i) => {
      if (i) out.push(',');
      write(item, depth + 1, out);
    });
    out.push(']');
  } else if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    out.push('{');
    keys.forEach((k, i) => {
      if (i) out.push(',');
      out.push(JSON.stringify(k), ':');
      write(v[k], depth + 1, out);
    });
    out.push('}');
  } else {
    throw new CanonicalError(`a ${typeof v} has no JSON form`);
  }
}

/** The canonical text of a value. */
export function canonicalText(value) {
  const out = [];
  write(value, 0, out);
  return out.join('');
}

/** The canonical UTF-8 bytes of a value. */
export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalText(value));
}

/**
 * Parses bytes that must be canonical JSON: decodes them (strict UTF-8), parses, and requires
 * that re-encoding gives the same bytes. Duplicate keys, white space, floats, escapes written
 * another way and out-of-range integers all fail the comparison.
 */
export function parseCanonical(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CanonicalError('not UTF-8');
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CanonicalError(`not JSON: ${e.message}`);
  }
  if (canonicalText(value) !== text) throw new CanonicalError('not in canonical form');
  return value;
}
