// A small engine for the participants' steps: one declarative table (command kind → the form's
// fields with their bounds, the payload they make, who may sign it, on which stream) and one
// renderer that draws a bounded form, checks every field with the server's rules before
// anything is signed, signs the command in this browser, keeps it in IndexedDB until its
// receipt (session.js), and shows the receipt or the refusal in words.
//
// Nothing here trusts the screen that called it: a step refuses to render for a signer of a
// kind the table does not allow, every number is parsed from text without floats (money in
// 万元 with at most two decimals becomes integer fen, areas in ㎡ become hundredths), and every
// text is NFC, bounded and checked for ID and mobile numbers (which belong only in the vault).

import { h } from './dom.js';
import { t } from './i18n.js';
import { ed25519Engine, fromBase64, sha256, toBase64, toHex, utf8, verifyEd25519 } from './crypto.js';
import { ApiError, canonical, randomId, REQUEST_DOMAIN, signCommand } from './sign.js';
import { errorText, InputError, session, submit } from './session.js';

export const DAY_MS = 86_400_000;
const FEN_MAX = 1_000_000_000_000;
const PHOTO_BYTES_MAX = 4 * 1024 * 1024;
const PHOTOS_MAX = 30;
const SCAN_BYTES_MAX = 16 * 1024 * 1024;

// ------------------------------------------------------------------------------------------
// Field rules.
// ------------------------------------------------------------------------------------------

// The server refuses free text that looks like a mainland ID number or a mobile number, also
// written with spaces, dashes or full-width digits (payload.personal_data); so does this page.
const FULL_WIDTH = /[\uff10-\uff19]/g;
function looksPersonal(s) {
  const plain = s.replace(FULL_WIDTH, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/[\s-]/g, '');
  return /(^|[^0-9])[0-9]{17}[0-9Xx]([^0-9]|$)/.test(plain) || /(^|[^0-9])1[0-9]{10}([^0-9]|$)/.test(plain);
}

/** Free text: trimmed, NFC, `min`–`max` characters, no controls (newlines only if `lines`). */
export function checkText(raw, { min = 0, max, lines = false }) {
  const s = String(raw ?? '').trim().normalize('NFC');
  const n = [...s].length;
  if (n < min || n > max) throw new InputError('st_in_text', { min, max });
  const controls = lines ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/u : /[\u0000-\u001f\u007f-\u009f]/u;
  if (controls.test(s)) throw new InputError('st_in_controls');
  if (looksPersonal(s)) throw new InputError('st_in_personal');
  return s;
}

/** A whole number within `min`–`max`, from its decimal text. */
export function checkInt(raw, { min, max }) {
  const s = String(raw ?? '').trim();
  if (!/^-?[0-9]{1,16}$/.test(s)) throw new InputError('st_in_int', { min, max });
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InputError('st_in_int', { min, max });
  return n;
}

/** Money typed in 万元 (at most two decimals) as integer fen: "120.5" → 120 500 000 fen. */
export function checkWan(raw, { min = 1, max = FEN_MAX } = {}) {
  const s = String(raw ?? '').trim();
  const m = /^([0-9]{1,8})(?:\.([0-9]{1,2}))?$/.exec(s);
  if (!m) throw new InputError('st_in_wan');
  const fen = Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(2, '0')) * 10_000;
  if (!Number.isSafeInteger(fen) || fen < min || fen > max) throw new InputError('st_in_wan');
  return fen;
}

/** An area typed in ㎡ (at most two decimals) as hundredths of a m². */
export function checkArea(raw) {
  const m = /^([0-9]{1,6})(?:\.([0-9]{1,2}))?$/.exec(String(raw ?? '').trim());
  if (!m) throw new InputError('st_in_area');
  const c = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (c < 1 || c > 100_000_000) throw new InputError('st_in_area');
  return c;
}

/** A local date and time (`YYYY-MM-DDTHH:MM[:SS]`) as ms since the epoch. */
export function checkDateTime(raw) {
  const s = String(raw ?? '').trim();
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?$/.test(s)) throw new InputError('st_in_datetime');
  const ms = new Date(s).getTime();
  if (!Number.isSafeInteger(ms)) throw new InputError('st_in_datetime');
  return ms;
}

/** A lower-case 64-hex-digit hash. */
export function checkHex64(raw) {
  const s = String(raw ?? '').trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) throw new InputError('st_in_hash');
  return s;
}

/** An aggregate id of the given kind and prefix (`party/PA-…`). */
export function checkId(raw, kind, prefix) {
  const s = String(raw ?? '').trim();
  if (!new RegExp(`^${kind}/${prefix}-[A-Za-z0-9-]{1,64}$`).test(s)) throw new InputError('st_in_id', { what: `${kind}/${prefix}-…` });
  return s;
}

/** A licence (备案) number: 1–40 characters of letters, digits and dashes. */
export function checkLicence(raw) {
  const s = String(raw ?? '').trim();
  if (!/^[A-Za-z0-9-]{1,40}$/.test(s)) throw new InputError('st_in_licence');
  return s;
}

/** The proof of possession a new key signs for `actor` (the domain's `key-possession/v1`). */
export const possessionMessage = (actor, key) => utf8(`deedlog/key-possession/v1\n${canonical({ actor, key })}`);

/**
 * A key binding code as a new agent's browser shows it: `{"actor","key","proof"}` (the agent id,
 * its public key, the proof of possession), typed, pasted or read off its QR code.
 */
export function parseBinding(raw) {
  let v;
  try {
    v = JSON.parse(String(raw ?? '').trim());
  } catch {
    throw new InputError('st_in_binding');
  }
  const b64 = (s, n) => typeof s === 'string' && s.length === n && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
  if (!v || typeof v !== 'object' || Object.keys(v).sort().join() !== 'actor,key,proof'
    || !/^agent\/AT-[A-Za-z0-9-]{1,64}$/.test(v.actor) || !b64(v.key, 44) || !b64(v.proof, 88)) throw new InputError('st_in_binding');
  return v;
}

/** Whether a binding code's proof verifies under its key for its actor. */
export async function proofHolds(b) {
  try {
    return await verifyEd25519(fromBase64(b.key), possessionMessage(b.actor, b.key), fromBase64(b.proof), await ed25519Engine());
  } catch {
    return false;
  }
}

/** The SHA-256 (hex) of the bytes. */
export const hashBytes = async (bytes) => toHex(await sha256(bytes));

/** The contract document's hash: SHA-256 of the terms' canonical JSON, as the Rust client makes it. */
export const documentHash = async (terms) => hashBytes(utf8(canonical(terms)));

/** Uploads photo bytes with a signed request; the answer must name the hash computed here. */
export async function uploadPhoto(key, bytes) {
  const path = '/v1/photos';
  const ts = String(Date.now());
  const digest = await hashBytes(bytes);
  const message = `${REQUEST_DOMAIN}POST\n${path}\n${ts}\n${digest}`;
  const headers = {
    'x-deedlog-actor': key.actor,
    'x-deedlog-key': key.publicKeyBase64,
    'x-deedlog-timestamp': ts,
    'x-deedlog-signature': toBase64(await key.sign(utf8(message))),
    'content-type': 'application/octet-stream',
  };
  const res = await fetch(path, { method: 'POST', headers, body: bytes, cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  if (body?.sha256 !== digest) throw new InputError('st_in_photo_hash');
  return digest;
}

const readFile = (file) => file.arrayBuffer().then((b) => new Uint8Array(b));

/** Reads one form field by its type into the value the payload builder takes. */
async function readField(f, el, key) {
  switch (f.type) {
    case 'text':
    case 'textarea':
      return checkText(el.value, { min: f.min ?? (f.optional ? 0 : 1), max: f.max, lines: f.type === 'textarea' });
    case 'int':
      return checkInt(el.value, f);
    case 'wan':
      return checkWan(el.value, f);
    case 'area':
      return checkArea(el.value);
    case 'datetime':
      return checkDateTime(el.value);
    case 'bool':
      return el.checked;
    case 'hex64':
      return checkHex64(el.value);
    case 'id':
      return checkId(el.value, f.kind, f.prefix);
    case 'check':
      return f.check(el.value);
    case 'select': {
      const allowed = [...el.options].map((o) => o.value).filter(Boolean);
      if (!allowed.includes(el.value)) throw new InputError('st_in_choose');
      return el.value;
    }
    case 'photos': {
      const files = [...(el.files ?? [])];
      if (files.length < 1 || files.length > PHOTOS_MAX) throw new InputError('st_in_photos', { max: PHOTOS_MAX });
      const hashes = [];
      for (const file of files) {
        if (file.size > PHOTO_BYTES_MAX || !/^image\/(jpeg|png|webp)$/.test(file.type)) throw new InputError('st_in_photo_file');
        const hash = await uploadPhoto(key, await readFile(file));
        if (!hashes.includes(hash)) hashes.push(hash);
      }
      return hashes;
    }
    case 'file-hash': {
      const file = el.files?.[0];
      if (!file || file.size < 1 || file.size > SCAN_BYTES_MAX) throw new InputError('st_in_scan');
      return hashBytes(await readFile(file));
    }
    default:
      throw new InputError('st_in_choose');
  }
}

// ------------------------------------------------------------------------------------------
// The steps: who signs, on which stream, which fields, which payload.
// ------------------------------------------------------------------------------------------

const reason = { name: 'reason', type: 'textarea', max: 500 };
/** The payload with `via_proxy` when the screen acts through a proxy filing. */
const proxied = (p, ctx) => (ctx.viaProxy ? { ...p, via_proxy: ctx.viaProxy } : p);
const days = (def) => ({ name: 'days', type: 'int', min: 1, max: 366, value: def });
const expires = (d) => Date.now() + d * DAY_MS;

/** Contract terms for a lump-sum sale, dated from now, as `deal::lump_sum_terms` makes them. */
export function lumpSumTerms({ seller, buyer, agent, property, certificate_no, area_centi_m2, mortgage, price_fen, deposit_fen, pay_days, condition, venue }) {
  const now = Date.now();
  const later = now + pay_days * DAY_MS;
  const title = { discharge_before_transfer: Boolean(mortgage), leased: false };
  if (mortgage) title.mortgage = mortgage;
  const parties = { buyer, seller };
  if (agent) parties.agent = agent;
  return {
    breach: { default_penalty_fen: Math.floor(price_fen / 10), late_permyriad_per_day: 5 },
    deposit: { amount_fen: deposit_fen, due_ms: now + DAY_MS },
    disputes: { method: 'court', venue },
    handover: { condition, date_ms: later + DAY_MS },
    parties,
    price: { method: 'lump_sum', schedule: [{ amount_fen: price_fen, due_ms: later }], total_fen: price_fen },
    property: { area_centi_m2, certificate_no, property },
    taxes: { deed_tax: 'buyer', fees: 'by_law', income_tax: 'seller', value_added_tax: 'seller' },
    title,
    transfer: { apply_by_ms: later + 2 * DAY_MS },
  };
}

const termsFields = (ctx) => [
  { name: 'price', type: 'wan', value: ctx.priceWan },
  { name: 'deposit', type: 'wan', value: ctx.depositWan },
  { name: 'pay_days', type: 'int', min: 2, max: 365, value: 30 },
  { name: 'condition', type: 'text', max: 200, value: '现状交付，水电气已结清' },
  { name: 'venue', type: 'text', max: 100, value: ctx.venue },
];

function termsOf(v, ctx) {
  if (v.deposit > Math.floor(v.price / 5)) throw new InputError('st_in_deposit');
  return lumpSumTerms({ ...ctx.termsBase, price_fen: v.price, deposit_fen: v.deposit, pay_days: v.pay_days, condition: v.condition, venue: v.venue });
}

/**
 * The table. `signers`: the actor kinds that may sign (the authorization table of EVENTS.md);
 * `stream(ctx)`: the aggregate; `create`: a new stream of that kind and prefix; `fields(ctx)`:
 * the form; `payload(values, ctx)`: what is signed (may be async).
 */
export const STEPS = {
  'entrustment.sale': {
    signers: ['party'], create: ['entrustment', 'EN'],
    fields: (ctx) => [
      { name: 'agent', type: 'select', options: ctx.agents },
      { name: 'floor_price', type: 'wan' },
      days(90),
      { name: 'review', type: 'bool', value: true },
    ],
    payload: (v, ctx) => ({ agent: v.agent, expires_at_ms: expires(v.days), floor_price_fen: v.floor_price, review_agent_edits: v.review, verification: ctx.verification }),
  },
  'entrustment.purchase': {
    signers: ['party'], create: ['entrustment', 'EN'],
    fields: (ctx) => [
      { name: 'agent', type: 'select', options: ctx.agents },
      { name: 'budget', type: 'wan' },
      { name: 'districts', type: 'text', max: 100, optional: true },
      days(90),
    ],
    payload: (v) => {
      const districts = v.districts ? v.districts.split(/[,，、\s]+/u).filter(Boolean) : [];
      if (districts.length > 10 || districts.some((d) => [...d].length > 20)) throw new InputError('st_in_districts');
      return { agent: v.agent, budget_max_fen: v.budget, districts, expires_at_ms: expires(v.days) };
    },
  },
  'entrustment.accept': { signers: ['agent'], fields: () => [], payload: () => ({}) },
  'entrustment.decline': { signers: ['agent'], fields: () => [reason], payload: (v) => ({ reason: v.reason }) },
  'entrustment.revoke': { signers: ['party'], fields: () => [reason], payload: (v) => ({ reason: v.reason }) },
  'listing.publish': {
    signers: ['agent', 'party'], create: ['listing', 'LS'],
    fields: (ctx) => [
      { name: 'price', type: 'wan' },
      { name: 'title', type: 'text', max: 60 },
      { name: 'description', type: 'textarea', max: 2000 },
      { name: 'photos', type: 'photos' },
      ...(ctx.facts ? [] : [
        { name: 'district', type: 'text', max: 20 },
        { name: 'community', type: 'text', max: 60 },
        { name: 'area', type: 'area' },
        { name: 'rooms', type: 'int', min: 0, max: 20 },
        { name: 'halls', type: 'int', min: 0, max: 10 },
        { name: 'bathrooms', type: 'int', min: 0, max: 10 },
        { name: 'floor', type: 'int', min: -10, max: 200 },
        { name: 'floors_total', type: 'int', min: 1, max: 200 },
      ]),
    ],
    payload: (v, ctx) => {
      const f = ctx.facts ?? {
        district: v.district, community: v.community, area_centi_m2: v.area, rooms: v.rooms, halls: v.halls,
        bathrooms: v.bathrooms, floor: v.floor, floors_total: v.floors_total,
      };
      const p = {
        area_centi_m2: f.area_centi_m2, bathrooms: f.bathrooms, community: f.community, description: v.description,
        district: f.district, floor: f.floor, floors_total: f.floors_total, halls: f.halls, photos: v.photos,
        price_fen: v.price, rooms: f.rooms, title: v.title,
      };
      if (ctx.entrustment) p.entrustment = ctx.entrustment;
      else p.verification = ctx.verification;
      return p;
    },
  },
  'listing.change_price': { signers: ['agent', 'party'], fields: () => [{ name: 'price', type: 'wan' }], payload: (v) => ({ price_fen: v.price }) },
  'listing.change_photos': { signers: ['agent', 'party'], fields: () => [{ name: 'photos', type: 'photos' }], payload: (v) => ({ photos: v.photos }) },
  'listing.approve': { signers: ['party'], fields: () => [], payload: (v, ctx) => ({ proposal_seq: ctx.proposalSeq }) },
  'listing.reject': { signers: ['party'], fields: () => [], payload: (v, ctx) => ({ proposal_seq: ctx.proposalSeq }) },
  'listing.withdraw': { signers: ['agent', 'party'], fields: () => [reason], payload: (v) => ({ reason: v.reason }) },
  'viewing.book': {
    // The buyer books; or the buyer's agent books for the buyer under an accepted purchase
    // entrustment (`ctx.entrustment`), which the server holds to its districts and budget.
    signers: ['party', 'agent'], create: ['viewing', 'VW'],
    fields: () => [{ name: 'slot_start', type: 'datetime' }, { name: 'minutes', type: 'int', min: 15, max: 240, value: 30 }],
    payload: (v, ctx) => {
      if (v.slot_start <= Date.now() || v.slot_start > Date.now() + 60 * DAY_MS) throw new InputError('st_in_slot');
      const p = { listing: ctx.listing, slot_end_ms: v.slot_start + v.minutes * 60_000, slot_start_ms: v.slot_start };
      if (ctx.entrustment) p.entrustment = ctx.entrustment;
      return p;
    },
  },
  'viewing.confirm': { signers: ['agent', 'party'], fields: () => [], payload: () => ({}) },
  'viewing.record': { signers: ['agent', 'party'], fields: () => [{ name: 'note', type: 'textarea', max: 500 }], payload: (v) => ({ note: v.note }) },
  'viewing.cancel': { signers: ['agent', 'party'], fields: () => [reason], payload: (v) => ({ reason: v.reason }) },
  'viewing.rate': {
    signers: ['party'],
    fields: () => [{ name: 'stars', type: 'select', options: [5, 4, 3, 2, 1].map((n) => ({ value: String(n), label: '★'.repeat(n) })) }, { name: 'comment', type: 'text', max: 200, optional: true }],
    payload: (v) => ({ comment: v.comment, stars: Number(v.stars) }),
  },
  'loan.request': {
    signers: ['party'], create: ['precheck', 'LP'],
    fields: (ctx) => [{ name: 'bank', type: 'select', options: ctx.banks }, { name: 'amount', type: 'wan', max: ctx.priceFen }, { name: 'term', type: 'int', min: 1, max: 360, value: 240 }],
    payload: (v, ctx) => ({ amount_fen: v.amount, bank: v.bank, term_months: v.term, viewing: ctx.viewing }),
  },
  'loan.assess': {
    signers: ['bank'],
    fields: (ctx) => [
      { name: 'result', type: 'select', options: ['approved', 'conditional', 'declined'].map((r) => ({ value: r, label: t(`st_result_${r}`) })) },
      { name: 'amount', type: 'wan', max: ctx.amountFen, optional: true, value: ctx.amountWan },
      { name: 'valid_days', type: 'int', min: 1, max: 180, value: 90 },
      { name: 'remarks', type: 'textarea', max: 500, optional: true },
    ],
    payload: (v) => {
      const p = { remarks: v.remarks, result: v.result, valid_until_ms: expires(v.valid_days) };
      if (v.result !== 'declined') p.amount_fen = v.amount;
      return p;
    },
  },
  'contract.draft': {
    signers: ['agent', 'party'], create: ['contract', 'CT'],
    fields: (ctx) => [
      { name: 'buyer', type: 'select', options: ctx.buyers },
      { name: 'certificate', type: 'check', check: ctx.checkCertificate, max: 64, value: ctx.certificate },
      ...termsFields(ctx),
    ],
    payload: async (v, ctx) => {
      const terms = termsOf(v, { ...ctx, termsBase: { ...ctx.termsBase, buyer: v.buyer, certificate_no: v.certificate } });
      return { buyer: v.buyer, document_hash: await documentHash(terms), listing: ctx.listing, terms };
    },
  },
  'contract.amend': {
    signers: ['agent', 'party'],
    fields: (ctx) => termsFields(ctx),
    payload: async (v, ctx) => {
      const terms = termsOf(v, ctx);
      return { document_hash: await documentHash(terms), terms };
    },
  },
  // A proxy acts for its principal with `ctx.viaProxy` (the filing); the buyer's agent confirms
  // the buyer's side with `ctx.entrustment` (its accepted purchase entrustment).
  'contract.confirm': {
    signers: ['agent', 'party'], fields: () => [],
    payload: (v, ctx) => proxied({ document_hash: ctx.documentHash, ...(ctx.entrustment ? { entrustment: ctx.entrustment } : {}) }, ctx),
  },
  'contract.sign': { signers: ['agent', 'party'], fields: () => [], payload: (v, ctx) => proxied({ document_hash: ctx.documentHash }, ctx) },
  'contract.move_offline': { signers: ['agent', 'party'], fields: () => [reason], payload: (v, ctx) => proxied({ reason: v.reason }, ctx) },
  'contract.verify_offline': { signers: ['office'], fields: () => [{ name: 'scan', type: 'file-hash' }], payload: (v) => ({ scan_hash: v.scan }) },
  'contract.file': { signers: ['authority'], fields: () => [], payload: () => ({}) },
  'proxy.file': {
    signers: ['party'], create: ['proxy', 'PX'],
    fields: () => [
      { name: 'principal', type: 'id', kind: 'party', prefix: 'PA' },
      { name: 'property', type: 'id', kind: 'property', prefix: 'PR' },
      { name: 'scope', type: 'select', options: ['list', 'contract', 'book_viewing', 'request_loan', 'entrust', 'verify_property'].map((s) => ({ value: s, label: t(`st_scope_${s}`) })) },
      days(90),
      { name: 'document', type: 'file-hash' },
    ],
    payload: (v) => ({ document_hashes: [v.document], expires_at_ms: expires(v.days), principal: v.principal, property: v.property, scope: [v.scope] }),
  },
  'proxy.verify': { signers: ['office'], fields: () => [], payload: (v, ctx) => ({ principal_id_commitment: ctx.idCommitment }) },
  'agency.certify': {
    signers: ['authority'], create: ['agency', 'AG'],
    fields: () => [
      { name: 'agency_name', type: 'text', max: 100 },
      { name: 'licence_no', type: 'check', check: checkLicence, max: 40 },
      { name: 'district', type: 'text', max: 20 },
      { name: 'address', type: 'text', max: 200 },
    ],
    payload: (v) => ({ address: v.address, district: v.district, licence_no: v.licence_no, name: v.agency_name }),
  },
  'agent.certify': {
    // The new agent's key was made in the agent's own browser, which shows its binding code:
    // the agent id it chose, the public key and the key's proof of possession for that id. The
    // authority checks the proof here, then has the identity authority turn the name and ID
    // number it checked into commitments; neither ever reaches the log in clear.
    signers: ['authority'],
    streamOf: (v) => v.binding.actor,
    fields: (ctx) => [
      { name: 'agency', type: 'select', options: ctx.agencies },
      { name: 'licence_no', type: 'check', check: checkLicence, max: 40 },
      { name: 'person_name', type: 'check', check: ctx.checkName, max: 40 },
      { name: 'person_id', type: 'check', check: ctx.checkIdNumber, max: 18 },
      { name: 'binding', type: 'check', check: parseBinding, max: 400 },
    ],
    payload: async (v, ctx) => {
      if (!(await proofHolds(v.binding))) throw new InputError('st_in_binding');
      const c = await ctx.commitments(v.person_name, v.person_id);
      return {
        agency: v.agency, id_commitment: c.id_commitment, key: { key: v.binding.key, proof: v.binding.proof },
        licence_no: v.licence_no, name_commitment: c.name_commitment, phone_commitment: c.phone_commitment,
      };
    },
  },
  'agent.suspend': { signers: ['authority'], fields: () => [reason], payload: (v) => ({ reason: v.reason }) },
  'agent.reinstate': { signers: ['authority'], fields: () => [], payload: () => ({}) },
  'agency.suspend': { signers: ['authority'], fields: () => [reason], payload: (v) => ({ reason: v.reason }) },
  'agency.reinstate': { signers: ['authority'], fields: () => [], payload: () => ({}) },
};

/** The actor kind of an actor id: `party`, `agent`, `bank`, `office` or `authority`. */
export const actorKind = (actor) => String(actor ?? '').split('/')[0];

// ------------------------------------------------------------------------------------------
// The renderer.
// ------------------------------------------------------------------------------------------

/** The screen's status line (one per screen), announced politely to screen readers. */
export function statusLine() {
  return h('p', { id: 'st-status', class: 'me-status', role: 'status', 'aria-live': 'polite' }, session.notice ?? '');
}

/** Says something on the status line; `isError` shows it as a refusal. */
export function say(text, isError) {
  session.notice = text;
  const el = document.getElementById('st-status');
  if (el) {
    el.textContent = text;
    el.classList.toggle('error', Boolean(isError));
  }
}

/** The last receipt, with the time from "sign" to the receipt shown. */
export function receiptBox() {
  const r = session.lastReceipt;
  if (!r) return h('div', { id: 'st-receipt' });
  return h('div', { id: 'st-receipt', class: 'badge green me-receipt', 'data-seq': r.seq, 'data-ms': r.ms ?? '', 'data-stream': r.stream ?? '' },
    h('p', {}, h('strong', {}, t('me_receipt_title'))),
    h('p', {}, t('me_receipt_seq', { seq: r.seq, kind: r.kind })),
    r.duplicate ? h('p', { class: 'small' }, t('me_receipt_duplicate')) : null,
    r.ms !== null ? h('p', { class: 'small' }, t('me_receipt_time', { ms: r.ms })) : null);
}

const shortId = (id) => String(id ?? '').split('/').pop();
const word = (key, fallback) => (t(key) === key ? fallback : t(key));

function input(f, id) {
  const common = { id, name: f.name, 'aria-describedby': null };
  switch (f.type) {
    case 'textarea':
      return h('textarea', { ...common, maxlength: f.max, rows: 3 }, f.value ?? '');
    case 'bool':
      return h('input', { ...common, type: 'checkbox', checked: f.value ? true : null, class: 'check' });
    case 'select':
      return h('select', common, h('option', { value: '' }, t('st_choose')),
        (f.options ?? []).map((o) => h('option', { value: o.value, selected: o.value === f.value ? true : null }, o.label)));
    case 'photos':
      return h('input', { ...common, type: 'file', multiple: true, accept: 'image/jpeg,image/png,image/webp' });
    case 'file-hash':
      return h('input', { ...common, type: 'file' });
    case 'datetime':
      return h('input', { ...common, type: 'datetime-local', step: 1, value: f.value ?? '' });
    case 'int':
      return h('input', { ...common, inputmode: 'numeric', maxlength: 17, value: f.value ?? '' });
    case 'wan':
    case 'area':
      return h('input', { ...common, inputmode: 'decimal', maxlength: 12, value: f.value ?? '' });
    default:
      return h('input', { ...common, maxlength: f.max ?? 128, autocomplete: 'off', value: f.value ?? '' });
  }
}

/**
 * A form for one step: `kind` from STEPS, `ctx` the values the screen knows (stream, ids, the
 * lists to choose from), `key` the signer's key. `onDone(receipt)` runs after the receipt.
 * The form's id is `f-<kind>-<stream or item>`; its fields `<form id>-<name>`; its button
 * `<form id>-go`.
 */
export function stepForm(kind, ctx, key, onDone) {
  const step = STEPS[kind];
  if (!step || !step.signers.includes(actorKind(key.actor))) return null;
  const formId = `f-${kind.replace(/[._]/g, '-')}-${shortId(ctx.stream ?? ctx.item ?? 'new')}`;
  const fields = step.fields(ctx);
  const btn = h('button', { type: 'submit', id: `${formId}-go` }, t(`st_do_${kind.replace(/\./g, '_')}`));
  const form = h('form', { class: `search me-form step${fields.length ? '' : ' bare'}`, id: formId, novalidate: true, 'data-kind': kind },
    fields.map((f) => {
      const id = `${formId}-${f.name}`;
      const label = h('label', { for: id }, word(`st_f_${f.name}`, f.name));
      return f.type === 'bool'
        ? h('div', { class: 'field wide check-field' }, input(f, id), label)
        : h('div', { class: 'field wide' }, label, input(f, id));
    }),
    btn);
  form.addEventListener('input', () => {
    form.dataset.dirty = '1';
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (btn.disabled) return;
    btn.disabled = true;
    say(t('me_working'), false);
    try {
      const values = {};
      for (const f of fields) values[f.name] = await readField(f, form.elements[f.name], key);
      const payload = await step.payload(values, ctx);
      const stream = step.create ? randomId(...step.create) : step.streamOf ? step.streamOf(values, ctx) : ctx.stream;
      const started = performance.now();
      const fresh = Boolean(step.create || step.streamOf);
      const signed = await signCommand(key, { kind, stream, payload, expected_version: fresh ? 0 : undefined });
      const receipt = await submit(signed, kind, started);
      delete form.dataset.dirty;
      say(t('st_done', { kind: word(`st_do_${kind.replace(/\./g, '_')}`, kind), seq: receipt.seq }), false);
      await onDone?.(receipt);
    } catch (e) {
      say(e?.pendingKept && e.status === 0 ? t('me_pending_kept') : errorText(e), true);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

/** A step drawn folded behind its name, for the forms a card offers but a person rarely needs. */
export function folded(kind, ctx, key, onDone, open = false) {
  const form = stepForm(kind, ctx, key, onDone);
  if (!form) return null;
  return h('details', { class: 'step-box', open: open ? true : null, id: `d-${form.id}` },
    h('summary', {}, t(`st_do_${kind.replace(/\./g, '_')}`)), form);
}
