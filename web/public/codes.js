// Listing and filing codes as people read them (docs/FORMAT.md, "Codes"): the v1 form on the
// log (PREFIX-16 hex digits) and the spoken form (13 Crockford base32 symbols and a mod-37 check
// symbol). The same rules as crates/domain/src/ids.rs, so that a mistyped code is told apart
// from an unknown one before anything is asked of the server.

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CHECK = ALPHABET + '*~$=U';
const PREFIXES = ['LV', 'FC', 'PV'];
export const CODE_TEXT_MAX = 64;

function value(c) {
  const u = c.toUpperCase();
  if (u === 'I' || u === 'L') return 1;
  if (u === 'O') return 0;
  const i = ALPHABET.indexOf(u);
  return i < 0 ? null : i;
}

function checkSymbol(v) {
  return CHECK[Number(v % 37n)];
}

/** The spoken form of a v1 code, or null. */
export function spokenCode(v1) {
  const m = /^(LV|FC|PV)-([0-9A-F]{16})$/.exec(v1 ?? '');
  if (!m) return null;
  const v = BigInt(`0x${m[2]}`);
  let s = '';
  for (let i = 12; i >= 0; i--) s += ALPHABET[Number((v >> BigInt(5 * i)) & 31n)];
  return `${m[1]}-${s.slice(0, 5)}-${s.slice(5, 10)}-${s.slice(10)}${checkSymbol(v)}`;
}

/** Reads a typed code: {ok: true, tag, v1} or {ok: false, reason}. */
export function parseCode(text) {
  const t = String(text ?? '').trim();
  if (t.length > CODE_TEXT_MAX) return { ok: false, reason: `longer than ${CODE_TEXT_MAX} characters` };
  const dash = t.indexOf('-');
  const tag = t.slice(0, dash).toUpperCase();
  if (dash < 0 || !PREFIXES.includes(tag)) return { ok: false, reason: 'no prefix (LV-, FC- or PV-)' };
  const rest = t.slice(dash + 1);
  if (/^[0-9A-Fa-f]{16}$/.test(rest)) return { ok: true, tag, v1: `${tag}-${rest.toUpperCase()}` };
  const symbols = [...rest].filter((c) => c !== '-' && c !== ' ');
  if (symbols.length !== 14) return { ok: false, reason: `${symbols.length} symbols after the prefix, not 14` };
  let v = 0n;
  for (let i = 0; i < 13; i++) {
    const x = value(symbols[i]);
    if (x === null) return { ok: false, reason: `“${symbols[i]}” is not a code symbol` };
    if (i === 0 && x > 15) return { ok: false, reason: 'the first symbol can only be 0 to F' };
    v = (v << 5n) | BigInt(x);
  }
  const typed = symbols[13].toUpperCase();
  const tv = '*~$=U'.includes(typed) ? typed : (value(typed) === null ? null : ALPHABET[value(typed)]);
  if (tv !== checkSymbol(v)) return { ok: false, reason: 'the check symbol does not match: a symbol is wrong or two are swapped' };
  return { ok: true, tag, v1: `${tag}-${v.toString(16).toUpperCase().padStart(16, '0')}` };
}
