// The public pages: a small hash router over the JSON API of the server that served this file.
// Every text from the server is put in the page as text (never as HTML), and every "verified"
// badge is computed here by verify.js against the pinned log key.

import { t, setLang, currentLang } from './i18n.js';
import { h } from './dom.js';
import { sha256, toHex } from './crypto.js';
import { ed25519Engine } from './crypto.js';
import {
  bindContract, bindDocument, bindListing, bindPricePoint, checkAgainstSeen, checkPolicy, currency, openCheckpoint,
  parsePolicy, parseVkey, ProofError, requirePolicy,
} from './verify.js';
import { PINNED_LOG_KEYS, PINNED_WITNESS_POLICY } from './pin.js';
import { parseCode, spokenCode } from './codes.js';
import { encode as qrEncode } from './uqr.js';

const main = document.getElementById('main');
const storage = (() => {
  try {
    const s = globalThis.localStorage;
    s.getItem('x');
    return s;
  } catch {
    // Without storage (some private modes) the page still checks, remembering nothing.
    const m = new Map();
    return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)) };
  }
})();

// Focus moves to the new content after a navigation inside the page (so that a screen reader
// reads it), but not on the first load, where it would skip the header and navigation.
let navigated = false;

function show(...nodes) {
  main.replaceChildren(...nodes);
  if (navigated) main.focus({ preventScroll: true });
}

const fmtWan = (fen) => t('wan', { v: (fen / 1000000).toLocaleString(currentLang() === 'en' ? 'en' : 'zh-CN', { maximumFractionDigits: 2 }) });
const fmtArea = (c) => `${(c / 100).toFixed(2)} ㎡`;
const fmtTime = (ms) => new Date(ms).toLocaleString(currentLang() === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
const statusWord = (s) => (t(`status_${s}`) === `status_${s}` ? s : t(`status_${s}`));

class HttpError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** GET a JSON answer from this server. */
async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new HttpError(res.status, body);
  return body;
}

function errorBox(e) {
  const text = e instanceof HttpError && e.status === 404 ? t('not_found') + (e.body?.message ?? '')
    : e instanceof HttpError && e.body?.code === 'code.mistyped' ? `${t('code_mistyped')}${e.body?.message ?? ''}`
    : t('error_load') + e.message;
  return h('p', { class: 'error', role: 'alert' }, text);
}

/** A mistyped code, told here before anything is asked (the same rules as the server). */
function mistypedBox(reason) {
  return h('p', { class: 'error', role: 'alert', id: 'code-mistyped' }, `${t('code_mistyped')}${reason}`);
}

// ------------------------------------------------------------------------------------------
// The trusted log key and the verdict badge.
// ------------------------------------------------------------------------------------------

const TOFU_KEY = 'deedlog.first-seen-log-key.v1';

/**
 * The log key to check against: one pinned in pin.js, or (a build that pins none) the key
 * remembered on first use. `served` is the key the server names; it is never trusted by itself.
 */
async function trustedKey(served) {
  if (PINNED_LOG_KEYS.length > 0) {
    if (!PINNED_LOG_KEYS.includes(served)) {
      throw new ProofError(`the server's log key ${served} is not the one pinned in this page`);
    }
    return { key: await parseVkey(served), pinned: true };
  }
  const remembered = storage.getItem(TOFU_KEY);
  if (remembered && remembered !== served) {
    throw new ProofError(`the log key changed: this browser first saw ${remembered}, the server now names ${served}`);
  }
  const key = await parseVkey(served);
  if (!remembered) storage.setItem(TOFU_KEY, served);
  return { key, pinned: false };
}

const TOFU_POLICY = 'deedlog.first-seen-witness-policy.v1';

/**
 * The witness policy to enforce: the one pinned in pin.js, or (a build that pins none) the one
 * the server states in `/v1/log/checkpoint`, remembered on first use. `null` when there is none.
 * Returns `{policy, pinned}`; the policy must name the trusted log key.
 */
async function trustedPolicy(key) {
  let text = PINNED_WITNESS_POLICY;
  const pinned = text !== '';
  if (!pinned) {
    const served = (await api('/v1/log/checkpoint'))?.policy;
    const remembered = storage.getItem(TOFU_POLICY);
    if (remembered && served !== remembered) {
      throw new ProofError('the witness policy changed since this browser first saw it');
    }
    if (typeof served !== 'string') return null;
    if (!remembered) storage.setItem(TOFU_POLICY, served);
    text = served;
  }
  const policy = await parsePolicy(text);
  if (!policy.logs.some((l) => l.vkey === key.vkey)) throw new ProofError('the witness policy does not name the log key');
  return { policy, pinned };
}

/**
 * Holds each verified bundle's cosigned checkpoint (or a checkpoint note) to the witness
 * policy: red (ProofError) when one falls short, naming the group; else a line naming the
 * witnesses whose cosignatures verified in this page.
 */
async function witnessLine(key, notes) {
  const trusted = await trustedPolicy(key);
  if (!trusted) return [h('p', { class: 'small' }, t('witnesses_none'))];
  const signed = new Set();
  for (const note of notes) {
    // A checkpoint no witness has cosigned yet (the newest entries, for the cosigner's round
    // trip) is "could not check", not red; one cosigned short of the quorum is red.
    const seen = await checkPolicy(note, trusted.policy);
    if (!seen.quorumMet && seen.cosignedBy.length === 0) throw new Error(t('witnesses_not_yet'));
    const verdict = await requirePolicy(note, trusted.policy);
    verdict.cosignedBy.forEach((w) => signed.add(w));
  }
  return [h('p', { class: 'witnesses' }, t('witnesses_met', { w: [...signed].join(', ') }), ' — ',
    trusted.pinned ? t('witness_policy_pinned') : t('witness_policy_tofu'))];
}

function keyLine(vkey, pinned) {
  return h('p', { class: 'key' }, h('span', {}, `${t('log_key')}: `), h('code', { class: 'vkey' }, vkey), ' — ', pinned ? t('key_pinned') : t('key_tofu'));
}

/** A badge element whose state is set once the check ends. */
function badge() {
  const el = h('section', { class: 'badge checking', role: 'status', 'aria-live': 'polite', 'data-state': 'checking' }, h('strong', {}, t('badge_checking')));
  el.set = (state, title, ...details) => {
    el.className = `badge ${state}`;
    el.dataset.state = state;
    const icon = { green: '✔', red: '✘', unknown: '?' }[state];
    el.replaceChildren(h('strong', {}, h('span', { 'aria-hidden': 'true', class: 'icon' }, icon), ' ', title), ...details);
  };
  return el;
}

/**
 * Runs `check()` (which returns `{detail nodes, checkpoint, key}`) and sets the badge: green
 * when it returns, red on a ProofError (a proof that fails), "could not check" otherwise.
 */
async function runCheck(el, check, detail = 'badge_green_detail') {
  try {
    const out = await check();
    el.set('green', t('badge_green'), h('p', {}, t(detail)), ...out);
  } catch (e) {
    if (e instanceof ProofError) el.set('red', t('badge_red'), h('p', { class: 'reason' }, t('badge_red_detail'), h('span', { class: 'why' }, e.message)));
    else el.set('unknown', t('badge_unknown'), h('p', { class: 'reason' }, t('badge_unknown_detail'), h('span', { class: 'why' }, e?.message ?? String(e))));
  }
}

/**
 * The consistency of every checkpoint the page's proofs rest on with the one remembered, from the
 * smallest up (each one checked becomes the remembered one), so that no proof on the page comes
 * from a fork or a rolled-back log.
 */
async function seenLine(key, bundles) {
  const cps = bundles.map((b) => b.checkpoint).sort((a, b) => a.size - b.size);
  const fetchConsistency = (from, to) => api(`/v1/log/proof/consistency?from=${from}&to=${to}`);
  let before = null;
  for (const [i, cp] of cps.entries()) {
    const r = await checkAgainstSeen(storage, key, cp, fetchConsistency);
    if (i === 0) before = r.before;
  }
  const newest = cps[cps.length - 1];
  return [
    h('p', {}, t('at_checkpoint', { n: newest.size })),
    h('p', {}, before === null ? t('first_checkpoint') : t('consistent_with', { n: before })),
  ];
}

async function engineLine() {
  return h('p', { class: 'small' }, t('engine', { e: (await ed25519Engine()) === 'webcrypto' ? 'WebCrypto Ed25519' : '@noble/ed25519' }));
}

function fieldLists(binding) {
  const ok = [];
  const not = [];
  for (const [path, f] of [...binding.fields.entries()].sort()) {
    if (f.ok) ok.push(h('li', {}, h('code', {}, path), f.seq !== undefined ? ` (seq ${f.seq})` : ''));
    else not.push(h('li', {}, h('code', {}, path), `: ${f.reason}`));
  }
  return [
    h('details', {}, h('summary', {}, `${t('verified_fields')} (${ok.length})`), h('ul', { class: 'fields' }, ok)),
    not.length ? h('details', {}, h('summary', {}, `${t('unverified_title')} (${not.length})`), h('ul', { class: 'fields' }, not)) : null,
  ];
}

// ------------------------------------------------------------------------------------------
// QR codes (uqr from npm, drawn as SVG rectangles: no inline styles, so the strict CSP holds).
// ------------------------------------------------------------------------------------------

export function qr(text, label) {
  const { data, size } = qrEncode(text, { ecc: 'M', border: 4 });
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', size);
  bg.setAttribute('height', size);
  bg.setAttribute('fill', '#fff');
  svg.append(bg);
  let d = '';
  data.forEach((row, y) => row.forEach((on, x) => {
    if (on) d += `M${x} ${y}h1v1h-1z`;
  }));
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(path);
  return svg;
}

// ------------------------------------------------------------------------------------------
// Pages.
// ------------------------------------------------------------------------------------------

/** Most price points the listing detail shows (the server's `PRICE_HISTORY_LATEST`). */
const PRICE_POINTS_MAX = 20;

const SORTS = ['newest', 'oldest', 'price_asc', 'price_desc', 'area_asc', 'area_desc'];
const PAGE = 10;

async function districts() {
  try {
    const offices = await api('/v1/offices');
    return [...new Set(offices.items.map((o) => o.district))].sort();
  } catch {
    return [];
  }
}

async function searchPage(params) {
  const q = new URLSearchParams(params);
  const field = (name, label, attrs = {}) => h('div', { class: 'field' },
    h('label', { for: `f-${name}` }, label),
    h('input', { id: `f-${name}`, name, inputmode: 'decimal', value: q.get(name) ?? '', ...attrs }));
  const ds = await districts();
  const form = h('form', { class: 'search', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const out = new URLSearchParams();
    for (const [k, v] of fd.entries()) if (String(v).trim() !== '') out.set(k, String(v).trim());
    location.hash = `#/?${out}`;
  } },
  h('div', { class: 'field' }, h('label', { for: 'f-district' }, t('district')),
    h('select', { id: 'f-district', name: 'district' }, h('option', { value: '' }, t('any')),
      ds.map((d) => h('option', { value: d, selected: q.get('district') === d }, d)))),
  field('price_min', t('price_min')), field('price_max', t('price_max')),
  field('area_min', t('area_min')), field('area_max', t('area_max')),
  h('div', { class: 'field' }, h('label', { for: 'f-rooms' }, t('rooms')),
    h('select', { id: 'f-rooms', name: 'rooms' }, h('option', { value: '' }, t('any')),
      [1, 2, 3, 4, 5].map((r) => h('option', { value: r, selected: q.get('rooms') === String(r) }, String(r))))),
  h('div', { class: 'field' }, h('label', { for: 'f-sort' }, t('sort')),
    h('select', { id: 'f-sort', name: 'sort' }, SORTS.map((s) => h('option', { value: s, selected: (q.get('sort') ?? 'newest') === s }, t(`sort_${s}`))))),
  h('button', { type: 'submit' }, t('search')));
  const results = h('section', { 'aria-labelledby': 'results-h' }, h('h2', { id: 'results-h' }, t('results')), h('p', {}, t('loading')));
  show(h('h1', {}, t('search_title')), form, results);

  const api_q = new URLSearchParams();
  const num = (name) => {
    const v = Number(q.get(name));
    return q.get(name) && Number.isFinite(v) && v >= 0 ? v : null;
  };
  if (q.get('district')) api_q.set('district', q.get('district'));
  // Prices are typed in 万元 and areas in m²; the API takes integer fen and hundredths of a m².
  if (num('price_min') !== null) api_q.set('price_min_fen', String(Math.round(num('price_min') * 1000000)));
  if (num('price_max') !== null) api_q.set('price_max_fen', String(Math.round(num('price_max') * 1000000)));
  if (num('area_min') !== null) api_q.set('area_min_centi_m2', String(Math.round(num('area_min') * 100)));
  if (num('area_max') !== null) api_q.set('area_max_centi_m2', String(Math.round(num('area_max') * 100)));
  if (q.get('rooms')) api_q.set('rooms', q.get('rooms'));
  if (SORTS.includes(q.get('sort'))) api_q.set('sort', q.get('sort'));
  const offset = Math.max(0, Math.min(10000, Math.floor(num('offset') ?? 0)));
  api_q.set('limit', String(PAGE));
  api_q.set('offset', String(offset));
  try {
    const page = await api(`/v1/listings?${api_q}`);
    const cards = page.items.map((l) => h('li', { class: 'card' },
      h('a', { href: `#/v/${encodeURIComponent(l.code)}` },
        h('h3', {}, l.title),
        h('p', { class: 'price' }, fmtWan(l.price_fen)),
        h('p', {}, `${l.district} · ${l.community}`),
        h('p', {}, `${t('rooms_short', { r: l.rooms, h: l.halls, b: l.bathrooms })} · ${fmtArea(l.area_centi_m2)} · ${t('floor_of', { f: l.floor, t: l.floors_total })}`),
        h('p', { class: 'small' }, l.self_listed ? t('self_listed') : `${t('agent')}: ${l.agent ?? ''}`),
        h('p', { class: 'small mono' }, l.code))));
    const link = (off) => {
      const p = new URLSearchParams(q);
      p.set('offset', String(off));
      return `#/?${p}`;
    };
    const nav = h('nav', { class: 'pager', 'aria-label': t('page_of', { n: Math.floor(offset / PAGE) + 1 }) },
      offset > 0 ? h('a', { href: link(Math.max(0, offset - PAGE)), rel: 'prev' }, t('prev')) : null,
      h('span', {}, t('page_of', { n: Math.floor(offset / PAGE) + 1 })),
      page.next_offset !== null ? h('a', { href: link(page.next_offset), rel: 'next' }, t('next')) : null);
    results.replaceChildren(h('h2', { id: 'results-h' }, t('results')),
      cards.length ? h('ul', { class: 'cards' }, cards) : h('p', {}, t('no_results')), nav);
  } catch (e) {
    results.replaceChildren(h('h2', { id: 'results-h' }, t('results')), errorBox(e));
  }
}

function dl(rows) {
  return h('dl', { class: 'facts' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

async function listingById(ls) {
  show(h('p', {}, t('loading')));
  try {
    const l = await api(`/v1/listings/${encodeURIComponent(ls)}`);
    location.replace(`#/v/${encodeURIComponent(l.code)}`);
  } catch (e) {
    show(h('h1', {}, t('listing_title')), errorBox(e));
  }
}

async function listingPage(typed) {
  const parsed = parseCode(typed);
  if (!parsed.ok || parsed.tag !== 'LV') {
    show(h('h1', {}, t('listing_title')), mistypedBox(parsed.ok ? 'not a listing code (LV-)' : parsed.reason));
    return;
  }
  // The log and the proofs carry the v1 form; people see the spoken one.
  const code = parsed.v1;
  show(h('h1', {}, t('listing_title')), h('p', {}, t('loading')));
  let answer;
  try {
    answer = await api(`/v1/verify/listing/${encodeURIComponent(code)}`);
  } catch (e) {
    show(h('h1', {}, t('listing_title')), errorBox(e));
    return;
  }
  const l = answer.listing;
  const b = badge();
  const phBody = h('tbody', {});
  const history = Array.isArray(l.price_history) ? l.price_history : [];
  const phCells = history.map((p) => {
    const cell = h('td', { class: 'check', 'data-seq': p.seq }, '…');
    phBody.append(h('tr', {}, h('td', {}, fmtTime(p.recorded_at_ms)), h('td', {}, fmtWan(p.price_fen)),
      h('td', { class: 'mono' }, p.signer), h('td', {}, String(p.seq)), cell));
    return [p, cell];
  });
  const agent = l.agent;
  const spoken = spokenCode(code) ?? code;
  const url = `${location.origin}/#/v/${spoken}`;
  const photoHashes = (Array.isArray(l.photos) ? l.photos : []).slice(0, PHOTOS_MAX);
  const photoSlots = photoHashes.map((hash, i) => [hash, h('figure', { class: 'photo' },
    h('div', { class: 'photo-frame', role: 'status' }, t('photo_loading', { n: i + 1 })),
    h('figcaption', { class: 'mono small' }, hash))]);
  const gallery = photoSlots.length ? h('section', { 'aria-labelledby': 'photo-h' }, h('h2', { id: 'photo-h' }, t('photos')),
    h('p', { class: 'small' }, t('photos_how')),
    h('div', { class: 'gallery' }, photoSlots.map(([, fig]) => fig))) : null;
  const cb = currentBadge();
  show(
    h('h1', {}, l.title),
    b,
    cb,
    h('section', { class: 'code-box', 'aria-labelledby': 'code-h' },
      h('h2', { id: 'code-h' }, t('code')),
      h('p', { class: 'code mono' }, spoken),
      h('p', { class: 'small mono' }, `${t('code_v1')}: ${code}`),
      qr(url, `${t('code_qr')}: ${spoken}`),
      h('p', { class: 'small' }, t('code_qr'))),
    dl([
      [t('status'), h('span', { class: `status status-${l.status}` }, statusWord(l.status))],
      [t('price'), fmtWan(l.price_fen)],
      [t('area'), fmtArea(l.area_centi_m2)],
      [t('layout'), t('rooms_short', { r: l.rooms, h: l.halls, b: l.bathrooms })],
      [t('floor'), t('floor_of', { f: l.floor, t: l.floors_total })],
      [t('district'), l.district],
      [t('community'), l.community],
      [t('published'), fmtTime(l.published_at_ms)],
      [t('verification_code'), h('span', { class: 'mono' }, l.verification_code)],
      agent ? [t('agent'), h('span', {}, h('span', { class: 'mono' }, agent.id), ` · ${t('licence')} `, h('span', { class: 'mono' }, agent.licence_no))] : [t('agent'), t('self_listed')],
      agent?.agency ? [t('agency'), h('span', {}, agent.agency.name, ` · ${t('agency_licence')} `, h('span', { class: 'mono' }, agent.agency.licence_no))] : null,
    ]),
    h('section', { 'aria-labelledby': 'desc-h' }, h('h2', { id: 'desc-h' }, t('description')), h('p', {}, l.description)),
    h('section', { 'aria-labelledby': 'ph-h' },
      h('h2', { id: 'ph-h' }, t('price_history')),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, [t('ph_when'), t('ph_price'), t('ph_signer'), t('ph_seq'), t('ph_check')].map((c) => h('th', { scope: 'col' }, c)))),
        phBody)),
      l.price_history_total > history.length ? h('p', { class: 'small' }, t('ph_more', { n: l.price_history_total, m: history.length })) : null),
    gallery,
  );
  const photoChecks = Promise.all(photoSlots.map(([hash, fig], i) => showPhoto(hash, fig, i + 1)));
  await runCheck(b, async () => {
    const { key, pinned } = await trustedKey(answer.proof?.log_key);
    const { binding, bundles } = await bindListing(code, answer, key);
    // The API shows the latest 20 points; a longer list is not an answer of this API, and
    // checking it would let a hostile answer make the page fetch without end.
    if (history.length > PRICE_POINTS_MAX) throw new ProofError(`the answer shows ${history.length} price points; the API shows at most ${PRICE_POINTS_MAX}`);
    // Each price point is checked against the bundle of its own entry: who signed it, when,
    // and the price it set. A point that fails makes the whole page red.
    const proofs = [...bundles];
    for (const [p, cell] of phCells) {
      const r = await bindPricePoint(l.id, p, key, (seq) => api(`/v1/log/entries/${seq}`));
      proofs.push({ checkpoint: r.checkpoint });
      cell.textContent = r.price ? '✔' : `✔ ${r.reason}`;
      cell.setAttribute('aria-label', r.price ? t('badge_green') : r.reason);
    }
    return [...(await seenLine(key, proofs)), ...(await witnessLine(key, bundles.map((v) => v.cosignedNote))), keyLine(key.vkey, pinned), await engineLine(), ...fieldLists(binding)];
  });
  for (const [, cell] of phCells) if (cell.textContent === '…') cell.textContent = '—';
  await runCurrency(cb, 'listing', answer, l.id, [answer.proof, answer.current, answer.approved]);
  await photoChecks;
}

/**
 * The "still current" badge, apart from the authenticity badge (a genuine listing may be
 * withdrawn); its own class, so that `.badge` still names the one authenticity verdict.
 */
function currentBadge() {
  const el = h('section', { class: 'currency checking', role: 'status', 'aria-live': 'polite', 'data-current': 'checking' }, h('strong', {}, t('current_checking')));
  el.set = (state, title, ...details) => {
    el.className = `currency ${state}`;
    const icon = { green: '✔', red: '✘', unknown: '?' }[state];
    el.replaceChildren(h('strong', {}, h('span', { 'aria-hidden': 'true', class: 'icon' }, icon), ' ', title), ...details);
  };
  return el;
}

/**
 * Checks the answer's state proof in this browser (state.js) and sets `el`: green "active as of
 * checkpoint N", red "not current: … as of checkpoint N", red for a forged state proof, and
 * "could not check" when there is none or it is older than what the page shows.
 */
async function runCurrency(el, subject, answer, aggregate, shownBundles) {
  const shownSeq = Math.max(-1, ...shownBundles.filter((x) => x && typeof x.seq === 'number').map((x) => x.seq));
  try {
    const { key } = await trustedKey(answer.proof?.log_key);
    const c = await currency(subject, answer, aggregate, shownSeq, key);
    el.dataset.current = c.state;
    if (c.state === 'current') {
      el.set('green', t(subject === 'listing' ? 'current_active' : 'current_filed', { n: c.asOf }), h('p', {}, t('current_detail')));
    } else if (c.state === 'not_current') {
      // The reason in the page's language for the statuses the state map names; otherwise the
      // verifier's own words.
      const why = { sold: 'current_why_sold', seized: 'current_why_seized', withdrawn: 'current_why_withdrawn' }[c.status];
      el.set('red', t('current_not', { s: statusWord(c.status), n: c.asOf }), h('p', { class: 'reason' }, t('current_not_detail'), h('span', { class: 'why' }, why ? t(why) : c.reason)));
    } else {
      el.set('unknown', t('current_unknown'), h('p', { class: 'reason' }, t('badge_unknown_detail'), h('span', { class: 'why' }, c.reason)));
    }
  } catch (e) {
    if (e instanceof ProofError) {
      el.set('red', t('current_forged'), h('p', { class: 'reason' }, t('badge_red_detail'), h('span', { class: 'why' }, e.message)));
      el.dataset.current = 'forged';
    } else {
      el.set('unknown', t('current_unknown'), h('p', { class: 'reason' }, t('badge_unknown_detail'), h('span', { class: 'why' }, e?.message ?? String(e))));
      el.dataset.current = 'unknown';
    }
  }
}

/** Photos per listing, at most (the domain's limit; a longer list is not an answer of this API). */
const PHOTOS_MAX = 30;
/** Largest photo the page fetches (the upload limit). */
const PHOTO_BYTES_MAX = 4 * 1024 * 1024;
const PHOTO_TYPES = { 'image/jpeg': 1, 'image/png': 1, 'image/webp': 1 };

/**
 * Fetches photo `hash`, hashes the bytes here, and shows them only if they are the photo the
 * log names: a server that swaps a photo gets a red note in its place, never the picture.
 */
async function showPhoto(hash, fig, n) {
  const frame = fig.firstChild;
  const say = (cls, text) => {
    frame.className = `photo-frame ${cls}`;
    frame.textContent = text;
  };
  if (!/^[0-9a-f]{64}$/.test(hash)) return say('bad', t('photo_bad_hash'));
  let res;
  try {
    res = await fetch(`/v1/photos/${hash}`, { cache: 'no-store' });
  } catch (e) {
    return say('unknown', t('photo_unavailable'));
  }
  if (!res.ok) return say('unknown', t('photo_unavailable'));
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > PHOTO_BYTES_MAX || !PHOTO_TYPES[type]) return say('bad', t('photo_mismatch'));
  if (toHex(await sha256(bytes)) !== hash) return say('bad', t('photo_mismatch'));
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const img = h('img', { src: `data:${type};base64,${btoa(bin)}`, alt: t('photo_alt', { n }), loading: 'lazy' });
  frame.className = 'photo-frame ok';
  frame.removeAttribute('role');
  frame.replaceChildren(img);
  fig.querySelector('figcaption').prepend(h('span', { class: 'photo-ok' }, `✔ ${t('photo_checked')} `));
}

async function agentsPage() {
  show(h('h1', {}, t('nav_agents')), h('p', {}, t('loading')));
  try {
    const [agencies, agents] = await Promise.all([api('/v1/agencies'), api('/v1/agents?limit=50')]);
    show(
      h('h1', {}, t('nav_agents')),
      h('section', { 'aria-labelledby': 'ag-h' }, h('h2', { id: 'ag-h' }, t('agents_title')),
        h('ol', { class: 'cards' }, agents.items.map((a) => h('li', { class: 'card' },
          h('h3', { class: 'mono' }, a.id),
          h('p', {}, `${t('score')} ${(a.score_x100 / 100).toFixed(2)} · ${t('ratings', { n: a.rating_count })}`),
          h('p', {}, `${a.agency_name}`),
          h('p', { class: 'small' }, `${t('licence')} `, h('span', { class: 'mono' }, a.licence_no), ` · ${statusWord(a.status)}`))))),
      h('section', { 'aria-labelledby': 'agc-h' }, h('h2', { id: 'agc-h' }, t('agencies_title')),
        h('ul', { class: 'cards' }, agencies.items.map((g) => h('li', { class: 'card' },
          h('h3', {}, g.name),
          h('p', { class: 'small' }, `${t('agency_licence')} `, h('span', { class: 'mono' }, g.licence_no), ` · ${statusWord(g.status)}`),
          h('p', {}, `${g.district} · ${g.address}`),
          h('p', { class: 'small' }, t('agents_count', { n: g.agents })))))),
    );
  } catch (e) {
    show(h('h1', {}, t('nav_agents')), errorBox(e));
  }
}

async function officesPage(params) {
  const q = new URLSearchParams(params);
  show(h('h1', {}, t('offices_title')), h('p', {}, t('loading')));
  try {
    const ds = await districts();
    const d = q.get('district') ?? '';
    const offices = await api(d ? `/v1/offices?district=${encodeURIComponent(d)}` : '/v1/offices');
    const select = h('select', { id: 'f-office-district', onchange: () => {
      location.hash = select.value ? `#/offices?district=${encodeURIComponent(select.value)}` : '#/offices';
    } }, h('option', { value: '' }, t('any')), ds.map((x) => h('option', { value: x, selected: x === d }, x)));
    show(
      h('h1', {}, t('offices_title')),
      h('div', { class: 'field' }, h('label', { for: 'f-office-district' }, t('district')), select),
      h('ul', { class: 'cards' }, offices.items.map((o) => h('li', { class: 'card' },
        h('h3', {}, o.name),
        dl([[t('address'), o.address], [t('hours'), o.hours], [t('phone'), h('a', { href: `tel:${o.phone.replace(/[^0-9+]/g, '')}` }, o.phone)]]),
        // `geo:` opens the phone's own map app at the address (RFC 5870; `q=` is the query).
        h('a', { class: 'button', href: `geo:0,0?q=${encodeURIComponent(o.address)}` }, t('open_map'))))),
    );
  } catch (e) {
    show(h('h1', {}, t('offices_title')), errorBox(e));
  }
}

function codeForm(id, label, hint, value, go) {
  const input = h('input', { id, name: 'code', value: value ?? '', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', 'aria-describedby': `${id}-hint`, maxlength: 64, required: true });
  return h('form', { class: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    go(input.value.trim().toUpperCase());
  } }, h('div', { class: 'field wide' }, h('label', { for: id }, label), input, h('p', { id: `${id}-hint`, class: 'small' }, hint)),
  h('button', { type: 'submit' }, t('check')));
}

async function contractPage(code) {
  const form = codeForm('f-filing', t('filing_code'), t('filing_hint'), code, (c) => {
    location.hash = `#/contract/${encodeURIComponent(c)}`;
  });
  if (!code) {
    show(h('h1', {}, t('contract_title')), form);
    return;
  }
  const parsed = parseCode(code);
  if (!parsed.ok || parsed.tag !== 'FC') {
    show(h('h1', {}, t('contract_title')), form, mistypedBox(parsed.ok ? 'not a filing code (FC-)' : parsed.reason));
    return;
  }
  code = parsed.v1;
  const out = h('div', {}, h('p', {}, t('loading')));
  show(h('h1', {}, t('contract_title')), form, out);
  let answer;
  try {
    answer = await api(`/v1/verify/contract/${encodeURIComponent(code)}`);
  } catch (e) {
    out.replaceChildren(errorBox(e));
    return;
  }
  const c = answer.contract;
  const b = badge();
  const cb = currentBadge();
  out.replaceChildren(b, cb, dl([
    [t('filing_code'), h('span', { class: 'mono' }, spokenCode(answer.filing_code) ?? answer.filing_code)],
    [t('status'), statusWord(c.status)],
    [t('contract'), h('span', { class: 'mono' }, c.id)],
    [t('listing'), h('span', { class: 'mono' }, c.listing)],
    [t('property'), h('span', { class: 'mono' }, c.property)],
    [t('document_hash'), h('span', { class: 'mono small' }, c.document_hash)],
    [t('filed_seq'), String(c.filed_seq)],
    [t('signatures'), Object.entries(c.signatures ?? {}).map(([r, s]) => `${r} → ${s}`).join(', ')],
  ]), qr(`${location.origin}/#/contract/${spokenCode(answer.filing_code) ?? answer.filing_code}`, `${t('filing_code')}: ${spokenCode(answer.filing_code) ?? answer.filing_code}`));
  await runCheck(b, async () => {
    const { key, pinned } = await trustedKey(answer.proof?.log_key);
    const { binding, bundles } = await bindContract(code, answer, key);
    return [...(await seenLine(key, bundles)), ...(await witnessLine(key, bundles.map((v) => v.cosignedNote))), keyLine(key.vkey, pinned), await engineLine(), ...fieldLists(binding)];
  });
  await runCurrency(cb, 'contract', answer, c.id, [answer.proof, answer.latest]);
}

const PDF_MARK = '{"_format":"deedlog/contract-pdf/v1"';

/** The filing code a filed-contract PDF names in its attached proof (read here, not sent). */
function filedContractCode(bytes) {
  if (bytes.length < 5 || String.fromCharCode(...bytes.subarray(0, 5)) !== '%PDF-') return null;
  const text = new TextDecoder('latin1').decode(bytes);
  const at = text.indexOf(PDF_MARK);
  if (at < 0) return null;
  const m = /"filing_code":"((?:LV|FC|PV)-[0-9A-F]{16})"/.exec(text.slice(at, at + (1 << 20)));
  return m ? m[1] : null;
}

/**
 * A filed-contract PDF: only its hash goes to the server, which renders the filed contract's PDF
 * again and says whether the hashes match; the filing's proof is checked here as on the
 * contract page.
 */
async function pdfCheck(out, code, hex) {
  let answer;
  try {
    answer = await api(`/v1/verify/contract/${encodeURIComponent(code)}/pdf/${hex}`);
  } catch (e) {
    out.replaceChildren(dl([[t('sha256'), h('span', { class: 'mono small' }, hex)]]), errorBox(e));
    return;
  }
  const b = badge();
  out.replaceChildren(dl([
    [t('sha256'), h('span', { class: 'mono small', id: 'doc-hash' }, hex)],
    [t('filing_code'), h('span', { class: 'mono' }, spokenCode(code) ?? code)],
    [t('status'), statusWord(answer.status)],
  ]), b);
  if (!answer.genuine) {
    b.set('red', t('badge_red'), h('p', { class: 'reason' }, t('pdf_altered')));
    return;
  }
  await runCheck(b, async () => {
    const { key, pinned } = await trustedKey(answer.proof?.log_key);
    const { binding, bundles } = await bindContract(code, answer, key);
    const lines = [...(await seenLine(key, bundles)), keyLine(key.vkey, pinned), await engineLine(), ...fieldLists(binding)];
    if (!answer.current) throw new ProofError(t('pdf_not_current'));
    return [h('p', {}, t('pdf_genuine')), ...lines];
  });
}

async function documentPage() {
  const out = h('div', { 'aria-live': 'polite' });
  const input = h('input', { id: 'f-file', type: 'file', onchange: async () => {
    const file = input.files?.[0];
    if (!file) return;
    out.replaceChildren(h('p', {}, t('loading')));
    let hex;
    let bytes;
    try {
      // Hashed here, in the browser; only the hash leaves it.
      bytes = new Uint8Array(await file.arrayBuffer());
      hex = toHex(await sha256(bytes));
    } catch (e) {
      out.replaceChildren(errorBox(e));
      return;
    }
    const filed = filedContractCode(bytes);
    if (filed) {
      await pdfCheck(out, filed, hex);
      return;
    }
    let answer;
    try {
      answer = await api(`/v1/verify/document/${hex}`);
    } catch (e) {
      out.replaceChildren(dl([[t('sha256'), h('span', { class: 'mono small' }, hex)]]), errorBox(e));
      return;
    }
    const b = badge();
    const list = h('ul', { class: 'cards' }, (answer.matches ?? []).map((m) => h('li', { class: 'card' },
      h('p', {}, t(`what_${m.what}`), ' · ', h('span', { class: 'mono' }, m.id), ` · seq ${m.seq}`),
      h('p', { class: 'small' }, `${statusWord(m.status)} · ${m.current ? t('current') : t('not_current')}${m.code ? ` · ${m.code}` : ''}`))));
    out.replaceChildren(dl([[t('sha256'), h('span', { class: 'mono small', id: 'doc-hash' }, hex)]]), b, list);
    if (!answer.matches?.length) {
      b.set('unknown', t('badge_unknown'), h('p', { class: 'reason' }, t('doc_none')));
      return;
    }
    await runCheck(b, async () => {
      const { key, pinned } = await trustedKey(answer.matches[0].proof?.log_key);
      const { binding, bundles } = await bindDocument(hex, answer, key);
      return [...(await seenLine(key, bundles)), ...(await witnessLine(key, bundles.map((v) => v.cosignedNote))), keyLine(key.vkey, pinned), await engineLine(), ...fieldLists(binding)];
    });
  } });
  show(h('h1', {}, t('document_title')), h('p', {}, t('document_hint')),
    h('div', { class: 'field wide' }, h('label', { for: 'f-file' }, t('choose_file')), input), out);
}

async function logPage() {
  show(h('h1', {}, t('log_title')), h('p', {}, t('loading')));
  let cp;
  try {
    cp = await api('/v1/log/checkpoint');
  } catch (e) {
    show(h('h1', {}, t('log_title')), errorBox(e));
    return;
  }
  const b = badge();
  const witnesses = cp.note.split('\n\n')[1]?.split('\n').filter((l) => l.startsWith('\u2014 ') && !l.startsWith(`\u2014 ${cp.origin} `)) ?? [];
  show(h('h1', {}, t('log_title')), b, dl([
    [t('origin'), h('span', { class: 'mono' }, cp.origin)],
    [t('size'), String(cp.size)],
    [t('log_key'), h('code', { class: 'vkey' }, cp.log_key)],
    [t('witnesses'), witnesses.length ? h('ul', {}, witnesses.map((w) => h('li', { class: 'mono small' }, w.split(' ')[1]))) : t('no_witnesses')],
  ]), h('h2', {}, t('checkpoint')), h('pre', { class: 'note' }, cp.note));
  await runCheck(b, async () => {
    const { key, pinned } = await trustedKey(cp.log_key);
    const opened = await openCheckpoint(cp.note, key);
    if (opened.size !== cp.size) throw new ProofError(`the answer says size ${cp.size}, the signed checkpoint ${opened.size}`);
    return [...(await seenLine(key, [{ checkpoint: opened }])), ...(await witnessLine(key, [cp.note])), h('p', { class: 'mono small' }, `${t('root')}: ${toHex(opened.root)}`), keyLine(key.vkey, pinned), await engineLine()];
  }, 'badge_log_detail');
}

// ------------------------------------------------------------------------------------------
// Router, language and the page frame.
// ------------------------------------------------------------------------------------------

function frame() {
  document.documentElement.lang = currentLang() === 'en' ? 'en' : 'zh-CN';
  document.title = `${t('site')} · ${t('tagline')}`;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  const toggle = document.getElementById('lang');
  toggle.textContent = t('lang_toggle');
  toggle.setAttribute('aria-label', t('lang_toggle_label'));
  document.getElementById('nav').setAttribute('aria-label', t('nav'));
  const route = location.hash.split('/')[1]?.split('?')[0] ?? '';
  for (const a of document.querySelectorAll('#nav a')) {
    const on = (a.dataset.route ?? '') === (route === 'v' || route === 'listing' ? '' : route);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  frame();
  const hash = location.hash.replace(/^#\/?/, '');
  const [pathPart, query = ''] = hash.split('?');
  const parts = pathPart.split('/').map((p) => decodeURIComponent(p));
  switch (parts[0]) {
    case '':
      return searchPage(query);
    case 'v':
      return listingPage(parts[1] ?? '');
    case 'listing':
      return listingById(parts[1] ?? '');
    case 'agents':
      return agentsPage();
    case 'offices':
      return officesPage(query);
    case 'contract':
      return contractPage(parts[1] ?? '');
    case 'document':
      return documentPage();
    case 'log':
      return logPage();
    // The participant's screen (me.js), loaded only when asked for.
    case 'me':
      return import('./me.js').then((m) => m.mePage(main));
    // The role home screens (roles.js), loaded only when asked for.
    case 'seller':
    case 'buyer':
    case 'agent':
    case 'bank':
    case 'office':
    case 'authority':
      return import('./roles.js').then((m) => m.rolePage(main, parts[0]));
    default:
      return searchPage('');
  }
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(currentLang() === 'en' ? 'zh' : 'en');
  route();
});
window.addEventListener('hashchange', () => {
  navigated = true;
  route();
});
route();
