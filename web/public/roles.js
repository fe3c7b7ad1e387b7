// The role home screens: `#/seller`, `#/buyer`, `#/agent`, `#/bank`, `#/office`, `#/authority`.
// Each is drawn from the private read models (signed reads by this browser's key, after its last
// receipt) and offers the steps of engine.js that its person may take on each item. A citizen
// acts with the key made at `#/me`; an institution signs in by importing its key file, which is
// kept non-extractable from then on. The screens follow the log's stream and redraw what changed
// without a reload (a seller sees a proposed price change appear; a buyer sees the contract ready
// to sign), keeping whatever someone is typing in a form through the redraw.

import { h } from './dom.js';
import { currentLang, t } from './i18n.js';
import { createKey, currentActor, getMeta, importSeedKey, loadKey, setCurrentActor, setMeta } from './keys.js';
import { ApiError, canonical, randomId, signedFetch, signRequest } from './sign.js';
import { fromBase64, toBase64 } from './crypto.js';
import { actorKind, documentHash, folded, possessionMessage, receiptBox, say, statusLine, stepForm } from './engine.js';
import { errorText, flushPending, InputError, readAfter, session, withAfter } from './session.js';
import { checkCertificate } from './me.js';
import { qr } from './app.js';
import { chatButton } from './messages.js';

const ROLES = {
  seller: 'party', buyer: 'party', agent: 'agent', bank: 'bank', office: 'office', authority: 'authority',
};
const KEY_FILE_MAX = 4096;

const fen = (n) => t('wan', { v: (n / 1_000_000).toLocaleString(currentLang() === 'en' ? 'en' : 'zh-CN', { maximumFractionDigits: 2 }) });
const wanText = (n) => {
  const whole = Math.floor(n / 1_000_000);
  const frac = Math.floor((n % 1_000_000) / 10_000);
  return frac ? `${whole}.${String(frac).padStart(2, '0').replace(/0$/, '')}` : String(whole);
};
const when = (ms) => new Date(ms).toLocaleString(currentLang() === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
const word = (key, fallback) => (t(key) === key ? fallback : t(key));
// Status words are looked up for the aggregate first: a "completed" entrustment is fulfilled,
// a "completed" viewing was held.
const status = (s, kind = '') => h('span', { class: `st-badge st-${s}` },
  word(`st_status_${kind}_${s}`, word(`status_${s}`, word(`st_status_${s}`, s))));
const short = (id) => String(id ?? '').split('/').pop();
const pathId = (id) => encodeURIComponent(short(id));

/** A public read (no signature), refused in words like a signed one. */
async function publicGet(path) {
  const res = await fetch(path, { cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** A signed read of bytes (the filed contract's PDF). */
async function signedBytes(key, path) {
  const res = await fetch(path, { headers: await signRequest(key, 'GET', path), cache: 'no-store' });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.blob();
}

let screen = null; // {role, key, sections, follow, poll}

// ------------------------------------------------------------------------------------------
// Sections: each a titled list loaded by a signed read, redrawn after a command or a live update.
// ------------------------------------------------------------------------------------------

function section(id, titleKey, load) {
  const el = h('section', { id, class: 'role-section', 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h` }, t(titleKey)), h('p', {}, t('loading')));
  return { id, el, titleKey, load, shown: null };
}

/** What a person has typed into the section's forms, to put back after a redraw. */
function typed(el) {
  const kept = [];
  for (const form of el.querySelectorAll('form[data-dirty]')) {
    const values = [...form.elements].filter((e) => e.name).map((e) => ({
      name: e.name, type: e.type, value: e.value, checked: e.checked, files: e.type === 'file' ? e.files : null,
    }));
    kept.push({ id: form.id, values });
  }
  return { kept, focus: el.contains(document.activeElement) ? document.activeElement.id : null };
}

function retype(el, { kept, focus }) {
  for (const { id, values } of kept) {
    const form = el.querySelector(`#${CSS.escape(id)}`);
    if (!form) continue;
    for (const v of values) {
      const input = form.elements[v.name];
      if (!input || input.type !== v.type) continue;
      if (v.type === 'checkbox') input.checked = v.checked;
      else if (v.type === 'file') input.files = v.files;
      else input.value = v.value;
    }
    form.dataset.dirty = '1';
    const details = form.closest('details');
    if (details) details.open = true;
  }
  if (focus) document.getElementById(focus)?.focus({ preventScroll: true });
}

/**
 * Redraws a section from a fresh read. A live update may land while someone is typing: what
 * they typed and where the cursor was are carried over into the redrawn forms, so nothing is
 * lost (the refreshed list around them shows the new state).
 */
async function draw(sec) {
  sec.el.dataset.drawing = '1';
  let body;
  try {
    body = await sec.load();
  } catch (e) {
    body = [h('p', { class: 'error', role: 'alert' }, errorText(e))];
  }
  const open = new Set([...sec.el.querySelectorAll('details[open]')].map((d) => d.id));
  const was = typed(sec.el);
  sec.el.replaceChildren(h('h2', { id: `${sec.id}-h` }, t(sec.titleKey)), ...[body].flat().filter(Boolean));
  for (const d of sec.el.querySelectorAll('details')) if (open.has(d.id)) d.open = true;
  retype(sec.el, was);
  delete sec.el.dataset.drawing;
}

async function redrawAll() {
  if (!screen) return;
  document.getElementById('st-receipt')?.replaceWith(receiptBox());
  await Promise.all(screen.sections.map((s) => draw(s)));
}

const afterCommand = () => redrawAll();

const empty = (key) => h('p', { class: 'small empty' }, t(key));
const facts = (rows) => h('dl', { class: 'facts' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, t(k)), h('dd', {}, v ?? '')]));
const card = (id, title, ...rest) => h('li', { class: 'card role-card', 'data-id': id }, h('h3', {}, title), ...rest);
const list = (items) => h('ul', { class: 'cards' }, items);

// ------------------------------------------------------------------------------------------
// The contract, as each of its parties sees it: the document shown, its hash checked here.
// ------------------------------------------------------------------------------------------

function termsTable(terms) {
  const p = terms.price;
  return facts([
    ['st_c_seller', terms.parties.seller],
    ['st_c_buyer', terms.parties.buyer],
    ['st_c_agent', terms.parties.agent ?? t('me_none')],
    ['st_c_property', `${terms.property.property} · ${terms.property.certificate_no}`],
    ['st_c_area', `${(terms.property.area_centi_m2 / 100).toFixed(2)} ㎡`],
    ['st_c_price', fen(p.total_fen)],
    ['st_c_schedule', p.schedule.map((s) => `${fen(s.amount_fen)} · ${when(s.due_ms)}`).join('；')],
    ['st_c_deposit', terms.deposit ? `${fen(terms.deposit.amount_fen)} · ${when(terms.deposit.due_ms)}` : t('me_none')],
    ['st_c_mortgage', terms.title.mortgage ? `${terms.title.mortgage.bank} · ${fen(terms.title.mortgage.amount_fen)}` : t('me_none')],
    ['st_c_handover', `${when(terms.handover.date_ms)} · ${terms.handover.condition}`],
    ['st_c_transfer', when(terms.transfer.apply_by_ms)],
    ['st_c_breach', t('st_c_breach_v', { p: terms.breach.late_permyriad_per_day, f: fen(terms.breach.default_penalty_fen) })],
    ['st_c_disputes', terms.disputes.venue],
  ]);
}

/**
 * One contract card. `on` says for whom the card acts: `{viaProxy, principal}` when a proxy
 * acts for its principal (the principal's role, each step carrying `via_proxy`), or
 * `{entrustment}` when the buyer's agent confirms the buyer's side (confirm only: the
 * e-signature stays the buyer's own).
 */
async function contractCard(c, key, role, on = {}) {
  const shownHash = await documentHash(c.terms);
  const genuine = shownHash === c.document_hash;
  const forWhom = on.principal ?? key.actor;
  const mine = on.entrustment ? 'buyer' : role === 'agent' ? 'agent' : c.seller === forWhom ? 'seller' : 'buyer';
  const ctx = { stream: c.id, documentHash: c.document_hash, viaProxy: on.viaProxy, entrustment: on.entrustment };
  const forms = [];
  if (c.status === 'drafted' && genuine && on.entrustment) {
    if (!c.confirmed.includes('buyer')) forms.push(stepForm('contract.confirm', ctx, key, afterCommand));
  } else if (c.status === 'drafted' && genuine) {
    if (!c.confirmed.includes(mine)) forms.push(stepForm('contract.confirm', ctx, key, afterCommand));
    else if (c.signatures[mine] === undefined) forms.push(stepForm('contract.sign', ctx, key, afterCommand));
    if (!on.viaProxy && (role === 'agent' || !c.agent)) {
      forms.push(folded('contract.amend', {
        ...ctx,
        priceWan: wanText(c.terms.price.total_fen),
        depositWan: wanText(c.terms.deposit?.amount_fen ?? 0),
        venue: c.terms.disputes.venue,
        termsBase: { ...c.terms.parties, property: c.terms.property.property, certificate_no: c.terms.property.certificate_no, area_centi_m2: c.terms.property.area_centi_m2, mortgage: c.terms.title.mortgage ?? null },
      }, key, afterCommand));
    }
    forms.push(folded('contract.move_offline', ctx, key, afterCommand));
  }
  let pdf = null;
  if (c.status === 'filed' && role !== 'agent' && !on.viaProxy) {
    pdf = h('button', {
      type: 'button', id: `pdf-${short(c.id)}`, class: 'secondary',
      onclick: async () => {
        try {
          const blob = await signedBytes(key, `/v1/contracts/${pathId(c.id)}/pdf`);
          const a = h('a', { href: URL.createObjectURL(blob), download: `${c.filing_code}.pdf` });
          document.body.append(a);
          a.click();
          a.remove();
          say(t('st_pdf_saved'), false);
        } catch (e) {
          say(errorText(e), true);
        }
      },
    }, t('st_pdf'));
  }
  return card(c.id, `${t('st_contract')} ${short(c.id)}`,
    on.principal || on.entrustment ? h('p', { class: 'small acting-as' }, t('st_acting_as', { role: t(`st_role_${mine}`), who: on.principal ?? c.buyer })) : null,
    h('p', {}, status(c.status), ' ', c.filing_code ? h('a', { href: `#/contract/${c.filing_code}` }, c.filing_code) : null),
    h('details', { class: 'doc', id: `doc-${short(c.id)}` }, h('summary', {}, t('st_document')), termsTable(c.terms)),
    h('p', { class: `small doc-hash ${genuine ? 'status-active' : 'error'}`, 'data-genuine': genuine ? '1' : '0' },
      genuine ? t('st_doc_hash_ok', { hash: c.document_hash.slice(0, 16) }) : t('st_doc_hash_bad')),
    h('p', { class: 'small' }, t('st_confirmed', { roles: c.confirmed.map((r) => t(`st_role_${r}`)).join('、') || t('me_none') }),
      ' · ', t('st_signed', { roles: Object.keys(c.signatures).map((r) => t(`st_role_${r}`)).join('、') || t('me_none') })),
    // A proxy acting for someone is not a side of the contract's conversation.
    forms, pdf, on.viaProxy ? null : chatButton(key, { contract: c.id }));
}

async function contractsSection(key, path, role) {
  const page = await readAfter(key, path);
  if (!page.items.length) return empty('st_no_contracts');
  return list(await Promise.all(page.items.map((c) => contractCard(c, key, role))));
}

// ------------------------------------------------------------------------------------------
// The screens.
// ------------------------------------------------------------------------------------------

/** Most agents the choice lists (best rated first), read a page of 100 at a time. */
const AGENTS_LISTED_MAX = 500;

async function agentOptions() {
  const all = [];
  for (let offset = 0; offset !== null && all.length < AGENTS_LISTED_MAX;) {
    const page = await publicGet(`/v1/agents?limit=100&offset=${offset}`);
    all.push(...page.items);
    offset = page.next_offset;
  }
  return all.filter((a) => a.offered)
    .map((a) => ({ value: a.id, label: `${a.agency_name} · ${a.licence_no} · ★${(a.score_x100 / 100).toFixed(2)} (${a.rating_count})` }));
}
const bankOptions = async () => (await publicGet('/v1/banks')).items.map((b) => ({ value: b.id, label: `${b.name} ${b.branch}` }));

function sellerScreen(key) {
  const pa = pathId(key.actor);
  return [
    section('seller-props', 'st_my_properties', async () => {
      const page = await readAfter(key, `/v1/parties/${pa}/verifications?limit=20`);
      const agents = await agentOptions();
      const live = page.items.filter((v) => v.status === 'verified');
      if (!live.length) return [empty('st_no_verified'), h('p', {}, h('a', { href: '#/me' }, t('st_go_me')))];
      return list(live.map((v) => {
        const p = v.property;
        const free = !v.sale_entrustment && !v.live_listing;
        const factsOf = p && {
          district: p.district, community: p.community, area_centi_m2: p.area_centi_m2, rooms: p.rooms, halls: p.halls,
          bathrooms: p.bathrooms, floor: p.floor, floors_total: p.floors_total,
        };
        return card(v.id, p ? `${p.district} · ${p.community}` : v.code,
          h('p', { class: 'small' }, `${v.code} · ${p?.address ?? ''}`),
          free ? folded('entrustment.sale', { item: v.id, verification: v.id, agents }, key, afterCommand, true) : h('p', { class: 'small' }, t('st_in_deal')),
          free ? folded('listing.publish', { item: v.id, verification: v.id, facts: factsOf }, key, afterCommand) : null);
      }));
    }),
    section('seller-entrustments', 'st_my_entrustments', async () => {
      const page = await readAfter(key, `/v1/parties/${pa}/entrustments?limit=20`);
      if (!page.items.length) return empty('st_none_yet');
      return list(page.items.map((e) => card(e.id, `${t(`st_terms_${e.terms.type}`)} · ${short(e.agent)}`,
        h('p', {}, status(e.status, 'entrustment'), ' ', e.terms.floor_price_fen ? t('st_floor', { v: fen(e.terms.floor_price_fen) }) : null),
        h('p', { class: 'small' }, t('st_until', { d: when(e.expires_at_ms) })),
        ['offered', 'accepted'].includes(e.status) ? folded('entrustment.revoke', { stream: e.id }, key, afterCommand) : null)));
    }),
    section('seller-listings', 'st_my_listings', async () => {
      const [page, records, verifications] = await Promise.all([
        readAfter(key, `/v1/parties/${pa}/listings?limit=20`),
        readAfter(key, `/v1/parties/${pa}/viewing-records?limit=100`),
        readAfter(key, `/v1/parties/${pa}/verifications?limit=20`),
      ]);
      if (!page.items.length) return empty('st_none_yet');
      return list(page.items.map((l) => {
        // A self-listing's seller drafts the contract with a buyer who viewed the flat.
        const buyers = [...new Set(records.items.filter((v) => v.listing === l.id && v.status === 'completed').map((v) => v.buyer))]
          .map((b) => ({ value: b, label: b }));
        const cert = verifications.items.find((v) => v.id === l.verification)?.property?.certificate_no ?? '';
        const draft = l.self_listed && l.status === 'active' && buyers.length ? folded('contract.draft', {
          item: l.id, listing: l.id, buyers, checkCertificate, certificate: cert,
          priceWan: wanText(l.price_fen), depositWan: wanText(Math.floor(l.price_fen / 20)), venue: `昆明市${l.district}人民法院`,
          termsBase: { seller: l.seller, agent: null, property: l.property, area_centi_m2: l.area_centi_m2, mortgage: null },
        }, key, afterCommand) : null;
        const pend = l.pending;
        const change = pend && (pend.change.type === 'price' ? t('st_pending_price', { v: fen(pend.change.price_fen) })
          : pend.change.type === 'photos' ? t('st_pending_photos', { n: pend.change.photos.length }) : t('st_pending_publication'));
        return card(l.id, l.title,
          h('p', {}, status(l.status), ' ', h('span', { class: 'price' }, fen(l.price_fen)), ' ', l.status === 'active' ? h('a', { href: `#/v/${l.code}` }, l.code) : null),
          pend ? h('div', { class: 'badge unknown pending', 'data-pending': pend.seq, role: 'alert' },
            h('p', {}, h('strong', {}, t('st_pending'))), h('p', {}, change),
            stepForm('listing.approve', { stream: l.id, item: `${short(l.id)}-${pend.seq}`, proposalSeq: pend.seq }, key, afterCommand),
            stepForm('listing.reject', { stream: l.id, item: `${short(l.id)}-${pend.seq}`, proposalSeq: pend.seq }, key, afterCommand)) : null,
          draft,
          ['active', 'pending_review'].includes(l.status) ? folded('listing.withdraw', { stream: l.id }, key, afterCommand) : null,
          chatButton(key, { listing: l.id }));
      }));
    }),
    section('seller-viewings', 'st_viewing_records', async () => {
      const page = await readAfter(key, `/v1/parties/${pa}/viewing-records?limit=20`);
      if (!page.items.length) return empty('st_none_yet');
      // Without an agent the seller handles the viewings of a self-listing.
      return list(page.items.map((v) => card(v.id, `${t('st_viewing')} · ${when(v.slot_start_ms)}`,
        h('p', {}, status(v.status), ` · ${short(v.listing)}`), v.note ? h('p', { class: 'small' }, v.note) : null,
        v.stars ? h('p', { class: 'small' }, '★'.repeat(v.stars)) : null,
        !v.agent && v.status === 'booked' ? stepForm('viewing.confirm', { stream: v.id }, key, afterCommand) : null,
        !v.agent && ['booked', 'confirmed'].includes(v.status) ? folded('viewing.record', { stream: v.id }, key, afterCommand) : null)));
    }),
    section('seller-contracts', 'st_my_contracts', () => contractsSection(key, `/v1/parties/${pa}/contracts?limit=20`, 'party')),
    proxiesSection(key),
    actingSection(key),
  ];
}

/** 代理人备案: the filings where this party is the proxy or the principal, and a new filing. */
function proxiesSection(key) {
  return section('party-proxies', 'st_proxies', async () => {
    const page = await readAfter(key, `/v1/parties/${pathId(key.actor)}/proxies?limit=20`);
    return [
      h('p', { class: 'small' }, t('st_proxy_help')),
      folded('proxy.file', { item: 'proxy' }, key, afterCommand),
      page.items.length ? list(page.items.map((p) => card(p.id, `${t('st_proxy')} ${short(p.id)}`,
        h('p', {}, status(p.status, 'proxy'), ` · ${p.proxy === key.actor ? t('st_i_am_proxy') : t('st_i_am_principal')}`),
        facts([['st_c_principal', p.principal], ['st_c_proxy', p.proxy], ['st_c_property', p.property],
          ['st_c_scope', p.scope.map((x) => t(`st_scope_${x}`)).join('、')], ['st_c_expires', when(p.expires_at_ms)]])))) : null,
    ];
  });
}

/** The filing chosen in the "acting for" list, kept for this page's life across redraws. */
let actingChoice = '';

/**
 * 代为办理: a proxy's verified, unexpired filings to choose from; for the chosen one, the
 * principal's items within its scope and property (today: its contracts, for `contract`),
 * each step signed by the proxy with `via_proxy`. The server holds every step to the same
 * scope, property, expiry and revocation, and reads nothing else out to the proxy.
 */
function actingSection(key) {
  const sec = section('party-acting', 'st_acting', async () => {
    const page = await readAfter(key, `/v1/parties/${pathId(key.actor)}/proxies?limit=100`);
    const usable = page.items.filter((p) => p.proxy === key.actor && p.status === 'verified' && p.expires_at_ms > Date.now());
    if (!usable.length) return [h('p', { class: 'small' }, t('st_acting_help')), empty('st_acting_none')];
    if (!usable.some((p) => p.id === actingChoice)) actingChoice = usable[0].id;
    const chosen = usable.find((p) => p.id === actingChoice);
    const select = h('select', { id: 'acting-for', name: 'acting-for' },
      usable.map((p) => h('option', { value: p.id, selected: p.id === actingChoice ? true : null },
        `${short(p.principal)} · ${short(p.property)} · ${p.scope.map((x) => t(`st_scope_${x}`)).join('、')}`)));
    select.addEventListener('change', () => {
      actingChoice = select.value;
      draw(sec);
    });
    const body = [
      h('p', { class: 'small' }, t('st_acting_help')),
      h('div', { class: 'field wide' }, h('label', { for: 'acting-for' }, t('st_acting_for')), select),
      h('p', { class: 'small' }, t('st_acting_scope', { d: when(chosen.expires_at_ms) })),
    ];
    if (!chosen.scope.includes('contract')) return [...body, empty('st_acting_nothing')];
    const contracts = await readAfter(key, `/v1/proxies/${pathId(chosen.id)}/contracts?limit=20`);
    if (!contracts.items.length) return [...body, empty('st_no_contracts')];
    return [...body, list(await Promise.all(contracts.items.map((c) => contractCard(c, key, 'party', { viaProxy: chosen.id, principal: chosen.principal }))))];
  });
  return sec;
}

function buyerScreen(key) {
  const pa = pathId(key.actor);
  return [
    section('buyer-search', 'st_search', async () => {
      const page = await publicGet('/v1/listings?limit=20');
      const others = page.items;
      if (!others.length) return empty('no_results');
      return list(others.map((l) => card(l.id, l.title,
        h('p', {}, h('span', { class: 'price' }, fen(l.price_fen)), ` · ${l.district} · ${l.community} · `, h('a', { href: `#/v/${l.code}` }, l.code)),
        folded('viewing.book', { item: l.id, listing: l.id }, key, afterCommand), chatButton(key, { listing: l.id, buyer: key.actor }))));
    }),
    section('buyer-entrust', 'st_purchase_entrust', async () => {
      const [agents, page] = await Promise.all([agentOptions(), readAfter(key, `/v1/parties/${pa}/entrustments?limit=20`)]);
      const mine = page.items.filter((e) => e.terms.type === 'purchase');
      return [
        h('p', { class: 'small' }, t('st_purchase_help')),
        folded('entrustment.purchase', { item: 'purchase', agents }, key, afterCommand),
        mine.length ? list(mine.map((e) => card(e.id, `${t('st_terms_purchase')} · ${short(e.agent)}`,
          h('p', {}, status(e.status, 'entrustment'), ' ', t('st_budget', { v: fen(e.terms.budget_max_fen) }), e.terms.districts.length ? ` · ${e.terms.districts.join('、')}` : ''),
          h('p', { class: 'small' }, t('st_until', { d: when(e.expires_at_ms) })),
          ['offered', 'accepted'].includes(e.status) ? folded('entrustment.revoke', { stream: e.id }, key, afterCommand) : null))) : null,
      ];
    }),
    section('buyer-viewings', 'st_my_viewings', async () => {
      const page = await readAfter(key, `/v1/parties/${pa}/viewings?limit=20`);
      if (!page.items.length) return empty('st_none_yet');
      const banks = await bankOptions();
      const prices = new Map();
      for (const v of page.items) {
        if (v.status === 'completed' && !prices.has(v.listing)) {
          prices.set(v.listing, await publicGet(`/v1/listings/${pathId(v.listing)}`).then((l) => l.price_fen, () => null));
        }
      }
      return list(page.items.map((v) => card(v.id, `${t('st_viewing')} · ${when(v.slot_start_ms)}`,
        h('p', {}, status(v.status), ` · ${short(v.listing)}`),
        v.status === 'completed' && v.agent && !v.stars ? stepForm('viewing.rate', { stream: v.id }, key, afterCommand) : null,
        v.stars ? h('p', { class: 'small' }, '★'.repeat(v.stars)) : null,
        v.status === 'completed' && prices.get(v.listing) ? folded('loan.request', { item: v.id, viewing: v.id, banks, priceFen: prices.get(v.listing) }, key, afterCommand) : null,
        ['booked', 'confirmed'].includes(v.status) ? folded('viewing.cancel', { stream: v.id }, key, afterCommand) : null)));
    }),
    section('buyer-prechecks', 'st_my_prechecks', async () => {
      const page = await readAfter(key, `/v1/parties/${pa}/prechecks?limit=20`);
      if (!page.items.length) return empty('st_none_yet');
      return list(page.items.map((p) => card(p.id, `${t('st_precheck')} · ${short(p.bank)}`,
        h('p', {}, t('st_asked', { v: fen(p.amount_fen), m: p.term_months })),
        h('p', { class: 'assessment' }, p.assessment ? `${t(`st_result_${p.assessment.result}`)}${p.assessment.amount_fen ? ` · ${fen(p.assessment.amount_fen)}` : ''}` : t('st_waiting')))));
    }),
    section('buyer-contracts', 'st_my_contracts', () => contractsSection(key, `/v1/parties/${pa}/contracts?limit=20`, 'party')),
    actingSection(key),
  ];
}

function agentScreen(key) {
  const at = pathId(key.actor);
  return [
    section('agent-entrustments', 'st_entrustments', async () => {
      const [page, listings] = await Promise.all([
        readAfter(key, `/v1/agents/${at}/entrustments?limit=20`),
        readAfter(key, `/v1/agents/${at}/listings?limit=100`),
      ]);
      if (!page.items.length) return empty('st_none_yet');
      // For an accepted purchase entrustment, the active listings within its districts and
      // budget, each bookable for the buyer (the server checks the same scope).
      const buying = page.items.some((e) => e.status === 'accepted' && e.terms.type === 'purchase');
      const offers = buying ? (await publicGet('/v1/listings?limit=50')).items : [];
      const inScope = (e) => offers.filter((l) => l.price_fen <= e.terms.budget_max_fen
        && (!e.terms.districts.length || e.terms.districts.includes(l.district)));
      const listed = new Set(listings.items.filter((l) => ['active', 'pending_review'].includes(l.status)).map((l) => l.entrustment));
      return list(page.items.map((e) => card(e.id, `${t(`st_terms_${e.terms.type}`)} · ${short(e.principal)}`,
        h('p', {}, status(e.status, 'entrustment'), ' ', e.terms.floor_price_fen ? t('st_floor', { v: fen(e.terms.floor_price_fen) }) : null,
          e.terms.review_agent_edits ? ` · ${t('st_review_on')}` : null),
        h('p', { class: 'small' }, t('st_until', { d: when(e.expires_at_ms) })),
        e.status === 'offered' ? [stepForm('entrustment.accept', { stream: e.id }, key, afterCommand), folded('entrustment.decline', { stream: e.id }, key, afterCommand)] : null,
        e.status === 'accepted' && e.terms.type === 'sale' && !listed.has(e.id) ? folded('listing.publish', { item: e.id, entrustment: e.id }, key, afterCommand, true) : null,
        e.status === 'accepted' && e.terms.type === 'purchase' ? h('div', { class: 'purchase-offers' },
          h('p', { class: 'small' }, t('st_budget', { v: fen(e.terms.budget_max_fen) })),
          inScope(e).length ? list(inScope(e).map((l) => card(l.id, l.title,
            h('p', {}, h('span', { class: 'price' }, fen(l.price_fen)), ` · ${l.district} · ${l.community}`),
            folded('viewing.book', { item: `${short(e.id)}-${short(l.id)}`, listing: l.id, entrustment: e.id }, key, afterCommand)))) : empty('no_results')) : null)));
    }),
    section('agent-listings', 'st_agent_listings', async () => {
      const [page, viewings] = await Promise.all([
        readAfter(key, `/v1/agents/${at}/listings?limit=20`),
        readAfter(key, `/v1/agents/${at}/viewings?limit=100`),
      ]);
      if (!page.items.length) return empty('st_none_yet');
      return list(page.items.map((l) => {
        const buyers = [...new Set(viewings.items.filter((v) => v.listing === l.id && v.status === 'completed').map((v) => v.buyer))]
          .map((b) => ({ value: b, label: b }));
        const ctx = {
          item: l.id, listing: l.id, buyers, checkCertificate,
          priceWan: wanText(l.price_fen), depositWan: wanText(Math.floor(l.price_fen / 20)), venue: `昆明市${l.district}人民法院`,
          termsBase: { seller: l.seller, agent: key.actor, property: l.property, area_centi_m2: l.area_centi_m2, mortgage: null },
        };
        return card(l.id, l.title,
          h('p', {}, status(l.status), ' ', h('span', { class: 'price' }, fen(l.price_fen)), l.pending ? ` · ${t('st_pending')}` : null),
          l.status === 'active' && !l.pending ? [folded('listing.change_price', { stream: l.id }, key, afterCommand), folded('listing.change_photos', { stream: l.id }, key, afterCommand)] : null,
          l.status === 'active' && buyers.length ? folded('contract.draft', ctx, key, afterCommand) : null,
          ['active', 'pending_review'].includes(l.status) ? folded('listing.withdraw', { stream: l.id }, key, afterCommand) : null,
          chatButton(key, { listing: l.id }));
      }));
    }),
    section('agent-viewings', 'st_agent_viewings', async () => {
      const page = await readAfter(key, `/v1/agents/${at}/viewings?limit=20`);
      if (!page.items.length) return empty('st_none_yet');
      return list(page.items.map((v) => card(v.id, `${t('st_viewing')} · ${when(v.slot_start_ms)}`,
        h('p', {}, status(v.status), ` · ${short(v.listing)}`),
        v.status === 'booked' ? stepForm('viewing.confirm', { stream: v.id }, key, afterCommand) : null,
        ['booked', 'confirmed'].includes(v.status) ? folded('viewing.record', { stream: v.id }, key, afterCommand) : null)));
    }),
    section('agent-contracts', 'st_my_contracts', () => contractsSection(key, `/v1/agents/${at}/contracts?limit=20`, 'agent')),
    section('agent-buyer-contracts', 'st_buyer_contracts', async () => {
      // The contracts of the buyers who entrusted this agent to buy, within each accepted,
      // unexpired purchase entrustment's districts and budget; the agent confirms the buyer's
      // side (the buyer still e-signs).
      const page = await readAfter(key, `/v1/agents/${at}/entrustments?limit=100`);
      const live = page.items.filter((e) => e.terms.type === 'purchase' && e.status === 'accepted' && e.expires_at_ms > Date.now());
      const cards = [];
      for (const e of live) {
        const contracts = await readAfter(key, `/v1/entrustments/${pathId(e.id)}/contracts?limit=20`);
        for (const c of contracts.items) cards.push(await contractCard(c, key, 'agent', { entrustment: e.id }));
      }
      return [h('p', { class: 'small' }, t('st_buyer_contracts_help')), cards.length ? list(cards) : empty('st_no_contracts')];
    }),
  ];
}

function bankScreen(key) {
  return [
    section('bank-queue', 'st_bank_queue', async () => {
      const page = await readAfter(key, `/v1/banks/${pathId(key.actor)}/prechecks?pending=true&limit=20`);
      if (!page.items.length) return empty('st_queue_empty');
      return list(page.items.map((p) => card(p.id, `${t('st_precheck')} · ${short(p.buyer)}`,
        h('p', {}, t('st_asked', { v: fen(p.amount_fen), m: p.term_months })),
        stepForm('loan.assess', { stream: p.id, amountFen: p.amount_fen, amountWan: wanText(p.amount_fen) }, key, afterCommand))));
    }),
  ];
}

/** The ID commitments an office checked in person, by proxy filing, for this page's life. */
const officeChecks = new Map();

/** The last recovery code this office made, kept across the redraws live updates cause. */
let officeRecovery = null;

/** 新设备绑定: the clerk checks the ID card and the new device's key; the device then binds. */
function officeRecoverSection(key) {
  return section('office-recover', 'st_office_recover', async () => {
    const btn = h('button', { type: 'submit', id: 'f-office-recover-go' }, t('st_office_recover_go'));
    const out = h('div', { id: 'office-recover-code' });
    const showCode = (text) => out.replaceChildren(h('p', { class: 'small status-active' }, t('st_office_recover_done')),
      h('label', { for: 'office-recover-text' }, t('me_office_code')),
      h('textarea', { id: 'office-recover-text', readonly: true, rows: 3, class: 'mono' }, text), qr(text, t('me_office_code')));
    if (officeRecovery) showCode(officeRecovery);
    const form = h('form', { class: 'search me-form', id: 'f-office-recover', novalidate: true },
      h('div', { class: 'field wide' }, h('label', { for: 'f-office-recover-name' }, t('me_real_name')), h('input', { id: 'f-office-recover-name', name: 'name', maxlength: 40, autocomplete: 'off' })),
      h('div', { class: 'field wide' }, h('label', { for: 'f-office-recover-id' }, t('me_id_number')), h('input', { id: 'f-office-recover-id', name: 'id', maxlength: 18, autocomplete: 'off' })),
      h('div', { class: 'field wide' }, h('label', { for: 'f-office-recover-key' }, t('me_office_key')), h('input', { id: 'f-office-recover-key', name: 'key', maxlength: 44, autocomplete: 'off', class: 'mono' })),
      btn);
    form.addEventListener('input', () => { form.dataset.dirty = '1'; });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const { checkName, checkIdNumber } = await import('./me.js');
        const k = String(form.elements.key.value).trim();
        if (!/^[A-Za-z0-9+/]{43}=$/.test(k)) throw new InputError('st_in_device_key');
        const body = { name: checkName(form.elements.name.value), id_number: checkIdNumber(form.elements.id.value), key: k };
        const answer = await signedFetch(key, 'POST', await withAfter('/v1/identity/office/recover'), body);
        form.reset();
        delete form.dataset.dirty;
        officeRecovery = canonical({ challenge: answer.challenge, party: answer.party });
        showCode(officeRecovery);
        say(t('st_office_recover_done'), false);
      } catch (e) {
        say(errorText(e), true);
      }
    });
    return [h('p', { class: 'small' }, t('st_office_recover_help')), form, out];
  });
}

function officeScreen(key) {
  return [
    officeRecoverSection(key),
    section('office-contracts', 'st_offline_contracts', async () => {
      const page = await readAfter(key, '/v1/queues/offline-contracts?limit=20');
      if (!page.items.length) return empty('st_queue_empty');
      return list(page.items.map((c) => card(c.id, `${t('st_contract')} ${short(c.id)}`,
        h('p', { class: 'small' }, c.offline_reason ?? ''), termsTable(c.terms),
        stepForm('contract.verify_offline', { stream: c.id }, key, afterCommand))));
    }),
    section('office-proxies', 'st_proxies_to_verify', async () => {
      const page = await readAfter(key, '/v1/queues/proxies-to-verify?limit=20');
      if (!page.items.length) return empty('st_queue_empty');
      return list(page.items.map((p) => {
        // The office reads the principal's ID card in person; the identity authority turns name
        // and number into the commitments, which the office then signs into proxy.verify.
        // A check already made survives the redraws that live updates cause.
        const checked = officeChecks.get(p.id);
        const slot = h('div', { id: `pv-${short(p.id)}` }, checked ? [h('p', { class: 'small status-active' }, t('st_id_checked')),
          stepForm('proxy.verify', { stream: p.id, idCommitment: checked }, key, afterCommand)] : null);
        const btn = h('button', { type: 'submit', id: `f-proxy-check-${short(p.id)}-go` }, t('st_check_id'));
        const form = h('form', { class: 'search me-form', id: `f-proxy-check-${short(p.id)}`, novalidate: true },
          h('div', { class: 'field wide' }, h('label', { for: `f-proxy-check-${short(p.id)}-name` }, t('me_real_name')), h('input', { id: `f-proxy-check-${short(p.id)}-name`, name: 'name', maxlength: 40, autocomplete: 'off' })),
          h('div', { class: 'field wide' }, h('label', { for: `f-proxy-check-${short(p.id)}-id` }, t('me_id_number')), h('input', { id: `f-proxy-check-${short(p.id)}-id`, name: 'id', maxlength: 18, autocomplete: 'off' })),
          btn);
        form.addEventListener('input', () => { form.dataset.dirty = '1'; });
        form.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            const { checkName, checkIdNumber } = await import('./me.js');
            const body = { party: p.principal, name: checkName(form.elements.name.value), id_number: checkIdNumber(form.elements.id.value) };
            const { signedFetch } = await import('./sign.js');
            const answer = await signedFetch(key, 'POST', await withAfter('/v1/identity/office/commitments'), body);
            form.reset();
            delete form.dataset.dirty;
            officeChecks.set(p.id, answer.id_commitment);
            say(t('st_id_checked'), false);
            slot.replaceChildren(h('p', { class: 'small status-active' }, t('st_id_checked')),
              stepForm('proxy.verify', { stream: p.id, idCommitment: answer.id_commitment }, key, afterCommand));
          } catch (e) {
            say(errorText(e), true);
          }
        });
        return card(p.id, `${t('st_proxy')} ${short(p.id)}`,
          facts([['st_c_principal', p.principal], ['st_c_proxy', p.proxy], ['st_c_property', p.property],
            ['st_c_scope', p.scope.map((s) => t(`st_scope_${s}`)).join('、')], ['st_c_expires', when(p.expires_at_ms)]]),
          form, slot);
      }));
    }),
  ];
}

/** The agents the housing authority's desk keeps in view (see the agents section). */
const AUTHORITY_AGENTS = 'authority-agents';
const AGENTS_KEPT_MAX = 200;

async function rememberAgent(id) {
  const kept = (await getMeta(AUTHORITY_AGENTS)) ?? [];
  if (!kept.includes(id)) await setMeta(AUTHORITY_AGENTS, [id, ...kept].slice(0, AGENTS_KEPT_MAX));
}

/** Looks an agent up by its id (a suspended one is in no public list) and keeps it in view. */
function findAgentForm() {
  const form = h('form', { class: 'search me-form', id: 'f-agent-find', novalidate: true },
    h('div', { class: 'field wide' }, h('label', { for: 'f-agent-find-id' }, t('st_f_agent_id')),
      h('input', { id: 'f-agent-find-id', name: 'id', maxlength: 80, autocomplete: 'off', placeholder: 'agent/AT-…' })),
    h('button', { type: 'submit', id: 'f-agent-find-go', class: 'secondary' }, t('st_find_agent')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const id = String(form.elements.id.value).trim();
      if (!/^agent\/AT-[A-Za-z0-9-]{1,64}$/.test(id)) throw new InputError('st_in_id', { what: 'agent/AT-…' });
      await publicGet(`/v1/agents/${pathId(id)}`);
      await rememberAgent(id);
      form.reset();
      await afterCommand();
    } catch (e) {
      say(errorText(e), true);
    }
  });
  return form;
}

function authorityScreen(key) {
  return [
    section('auth-file', 'st_to_file', async () => {
      const page = await readAfter(key, '/v1/queues/contracts-to-file?limit=20');
      if (!page.items.length) return empty('st_queue_empty');
      return list(page.items.map((c) => card(c.id, `${t('st_contract')} ${short(c.id)}`,
        h('p', {}, status(c.status)), termsTable(c.terms), stepForm('contract.file', { stream: c.id }, key, afterCommand))));
    }),
    section('auth-certify', 'st_certify', async () => {
      const agencies = (await publicGet('/v1/agencies')).items.filter((a) => a.status === 'certified')
        .map((a) => ({ value: a.id, label: `${a.name} · ${a.licence_no}` }));
      const { checkName, checkIdNumber } = await import('./me.js');
      // The person is checked against the population register by the identity authority,
      // which answers only the commitments `agent.certify` carries.
      const commitments = async (name, id_number) => signedFetch(key, 'POST', await withAfter('/v1/identity/agent/commitments'), { name, id_number });
      return [
        folded('agency.certify', { item: 'agency' }, key, afterCommand),
        h('p', { class: 'small' }, t('st_certify_agent_help')),
        folded('agent.certify', { item: 'agent', agencies, checkName, checkIdNumber, commitments }, key, async (receipt) => {
          await rememberAgent(receipt.stream);
          await afterCommand(receipt);
        }),
      ];
    }),
    section('auth-agents', 'st_agents_agencies', async () => {
      const [agencies, agents] = await Promise.all([publicGet('/v1/agencies'), publicGet('/v1/agents?limit=50')]);
      // The public list holds only the agents offered to sellers: a suspended agent (or one of
      // a suspended agency) drops out of it, so the agents this desk suspended, certified or
      // looked up are kept here and read one by one, to be reinstated.
      const kept = (await getMeta(AUTHORITY_AGENTS)) ?? [];
      const listed = new Set(agents.items.map((a) => a.id));
      const more = (await Promise.all(kept.filter((id) => !listed.has(id)).map((id) => publicGet(`/v1/agents/${pathId(id)}`).catch(() => null)))).filter(Boolean);
      const keep = (id) => async (receipt) => {
        await rememberAgent(id);
        await afterCommand(receipt);
      };
      const agencyCard = (a) => card(a.id, `${a.name} · ${a.licence_no}`, h('p', {}, status(a.status)),
        a.status === 'certified' ? folded('agency.suspend', { stream: a.id }, key, afterCommand) : stepForm('agency.reinstate', { stream: a.id }, key, afterCommand));
      const agentCard = (a) => card(a.id, `${a.licence_no} · ${a.agency_name}`, h('p', {}, status(a.status)),
        a.status === 'certified' ? folded('agent.suspend', { stream: a.id }, key, keep(a.id)) : stepForm('agent.reinstate', { stream: a.id }, key, afterCommand));
      // The agents this desk is working on (suspended, certified or looked up here) stay in
      // view; the whole public lists (a city has hundreds of agents) are folded, so the screen
      // stays short on a phone.
      const keptSet = new Set(kept);
      const inView = [...more, ...agents.items.filter((a) => keptSet.has(a.id))];
      const rest = agents.items.filter((a) => !keptSet.has(a.id));
      const fold = (id, label, n, cards) => h('details', { id, class: 'doc' }, h('summary', {}, `${t(label)} (${n})`), list(cards));
      return [
        findAgentForm(),
        inView.length ? list(inView.map(agentCard)) : null,
        fold('auth-all-agencies', 'st_all_agencies', agencies.items.length, agencies.items.map(agencyCard)),
        fold('auth-all-agents', 'st_all_agents', rest.length, rest.map(agentCard)),
      ];
    }),
  ];
}

const SCREENS = { seller: sellerScreen, buyer: buyerScreen, agent: agentScreen, bank: bankScreen, office: officeScreen, authority: authorityScreen };

// ------------------------------------------------------------------------------------------
// Signing in an institution: its key file, imported and kept non-extractable.
// ------------------------------------------------------------------------------------------

/** The actor id a key file's name says (`agent_AT-0001.key` → `agent/AT-0001`), or ''. */
export function actorOfFileName(name) {
  const m = /^(agent|bank|office|authority)_([A-Za-z0-9-]{1,64})\.key$/.exec(String(name ?? ''));
  return m ? `${m[1]}/${m[2]}` : '';
}

/** Reads a key file's text into its seed and public key, refusing anything else. */
export function parseKeyFile(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    throw new InputError('st_in_key_file');
  }
  if (!v || v.format !== 'deedlog/key/v1' || typeof v.seed !== 'string' || typeof v.public !== 'string') throw new InputError('st_in_key_file');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(v.seed) || !/^[A-Za-z0-9+/]{43}=$/.test(v.public)) throw new InputError('st_in_key_file');
  return { seed: fromBase64(v.seed), public: v.public };
}

function importView(main, role) {
  const kind = ROLES[role];
  const btn = h('button', { type: 'submit', id: 'key-import-go' }, t('st_import'));
  const form = h('form', { class: 'search me-form', id: 'key-import', novalidate: true },
    h('div', { class: 'field wide' }, h('label', { for: 'key-file' }, t('st_key_file')), h('input', { id: 'key-file', name: 'file', type: 'file', accept: '.key,application/json' })),
    h('div', { class: 'field wide' }, h('label', { for: 'key-actor' }, t('st_key_actor')), h('input', { id: 'key-actor', name: 'actor', maxlength: 80, autocomplete: 'off', placeholder: `${kind}/…` })),
    btn);
  form.elements.file.addEventListener('change', () => {
    const guess = actorOfFileName(form.elements.file.files?.[0]?.name);
    if (guess && !form.elements.actor.value) form.elements.actor.value = guess;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    try {
      const actor = String(form.elements.actor.value).trim();
      const okActor = kind === 'authority' ? actor === 'authority/housing' : new RegExp(`^${kind}/[A-Z]{2}-[A-Za-z0-9-]{1,64}$`).test(actor);
      if (!okActor) throw new InputError('st_in_key_actor', { kind });
      const file = form.elements.file.files?.[0];
      if (!file || file.size > KEY_FILE_MAX) throw new InputError('st_in_key_file');
      const parsed = parseKeyFile(await file.text());
      // The file must hold the actor's current key on the log, or nothing it signs would count.
      const onLog = await publicGet(`/v1/actors/key?actor=${encodeURIComponent(actor)}`).catch((e) => {
        if (e instanceof ApiError && e.status === 404) throw new InputError('st_in_key_not_current');
        throw e;
      });
      if (onLog.key !== parsed.public) throw new InputError('st_in_key_not_current');
      await importSeedKey(actor, parsed.seed, parsed.public);
      parsed.seed.fill(0);
      await setCurrentActor(actor);
      session.notice = t('st_imported', { actor });
      await rolePage(main, role);
    } catch (e) {
      say(errorText(e), true);
    } finally {
      btn.disabled = false;
    }
  });
  return [h('p', { class: 'small' }, t('st_import_help')), form, kind === 'agent' ? newAgentView(main, role) : null];
}

/**
 * A new agent makes its key here, in its own browser: non-extractable where WebCrypto has
 * Ed25519, under an agent id it draws at random. The page shows the binding code (the id, the
 * public key and the key's proof of possession for that id) as text and as a QR code, for the
 * housing authority to certify the agent with; the private key never leaves this browser, and
 * nobody else ever holds it. Once the authority certified the agent, the key is its current
 * key on the log and the agent signs in with it.
 */
function newAgentView(main, role) {
  const box = h('div', { id: 'new-agent', class: 'step-box' });
  const show = async (actor) => {
    const k = await loadKey(actor);
    if (!k) return false;
    const proof = toBase64(await k.sign(possessionMessage(actor, k.publicKeyBase64)));
    const code = canonical({ actor, key: k.publicKeyBase64, proof });
    const go = h('button', { type: 'button', id: 'new-agent-go' }, t('st_new_agent_signin'));
    go.addEventListener('click', async () => {
      try {
        const onLog = await publicGet(`/v1/actors/key?actor=${encodeURIComponent(actor)}`).catch((e) => {
          if (e instanceof ApiError && e.status === 404) throw new InputError('st_in_not_certified_yet');
          throw e;
        });
        if (onLog.key !== k.publicKeyBase64) throw new InputError('st_in_key_not_current');
        await setCurrentActor(actor);
        session.notice = t('st_imported', { actor });
        await rolePage(main, role);
      } catch (e) {
        say(errorText(e), true);
      }
    });
    box.replaceChildren(h('h2', {}, t('st_new_agent')),
      h('p', { class: 'small' }, t('st_new_agent_code_help', { actor })),
      h('label', { for: 'new-agent-code' }, t('st_f_binding')),
      h('textarea', { id: 'new-agent-code', readonly: true, rows: 6, class: 'mono' }, code),
      qr(code, t('st_f_binding')), go);
    return true;
  };
  const make = h('button', { type: 'button', id: 'new-agent-make', class: 'secondary' }, t('st_new_agent_make'));
  make.addEventListener('click', async () => {
    try {
      const actor = randomId('agent', 'AT');
      await createKey(actor);
      await setMeta('new-agent', actor);
      await show(actor);
    } catch (e) {
      say(errorText(e), true);
    }
  });
  box.append(h('h2', {}, t('st_new_agent')), h('p', { class: 'small' }, t('st_new_agent_help')), make);
  getMeta('new-agent').then((actor) => (actor ? show(actor) : false)).catch(() => false);
  return box;
}

// ------------------------------------------------------------------------------------------
// Live updates: the log's follow stream, or (when the server has no stream to spare) its
// checkpoint polled; either redraws the sections when an entry lands.
// ------------------------------------------------------------------------------------------

function stopLive() {
  if (!screen) return;
  screen.follow?.close();
  clearInterval(screen.poll);
  clearTimeout(screen.debounce);
  screen = null;
}

function soon() {
  if (!screen) return;
  clearTimeout(screen.debounce);
  screen.debounce = setTimeout(() => redrawAll(), 250);
}

async function startLive() {
  const s = screen;
  let size = 0;
  try {
    size = (await publicGet('/v1/log/checkpoint')).size;
  } catch {
    size = 0;
  }
  if (s !== screen) return;
  const poll = () => {
    s.poll = setInterval(async () => {
      try {
        const now = (await publicGet('/v1/log/checkpoint')).size;
        if (now !== size) {
          size = now;
          if (s === screen) soon();
        }
      } catch {
        // The next tick tries again.
      }
    }, 2000);
  };
  if (typeof EventSource !== 'function') return poll();
  const es = new EventSource(`/v1/log/follow?from=${size}`);
  s.follow = es;
  es.addEventListener('entry', () => {
    if (s === screen) soon();
  });
  es.onerror = () => {
    // A refused stream (429/503: too many open) is not retried by the browser; poll instead.
    if (es.readyState === EventSource.CLOSED && s === screen) {
      s.follow = null;
      poll();
    }
  };
  return undefined;
}

window.addEventListener('hashchange', () => {
  const role = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  if (!ROLES[role] || role !== screen?.role) stopLive();
});

/** Renders the role screen `role` into `main`. */
export async function rolePage(main, role) {
  stopLive();
  const kind = ROLES[role];
  const title = h('h1', {}, t(`st_title_${role}`));
  // Institutions reach one another's desks from here (the main navigation names only the first).
  const desks = kind === 'party' ? null : h('p', { class: 'small desks' }, t('st_roles'),
    ['agent', 'bank', 'office', 'authority'].map((r) => [h('a', { href: `#/${r}`, 'aria-current': r === role ? 'page' : null }, t(`st_title_${r}`)), ' ']));
  const frame = (...rest) => main.replaceChildren(title, desks ?? '', statusLine(), receiptBox(), ...rest);
  frame(h('p', {}, t('loading')));
  let key = null;
  try {
    const actor = await currentActor();
    key = actor ? await loadKey(actor) : null;
  } catch (e) {
    frame(h('p', { class: 'error', role: 'alert' }, `${t('err_no_storage')} ${e.message}`));
    return;
  }
  if (!key || actorKind(key.actor) !== kind) {
    if (kind === 'party') {
      frame(h('p', {}, t('st_need_party')), h('p', {}, h('a', { href: '#/me', class: 'button', id: 'go-me' }, t('st_go_me'))));
    } else {
      frame(...importView(main, role));
    }
    return;
  }
  if (!(await flushPending(key.actor))) {
    frame(h('button', { type: 'button', id: 'me-retry', onclick: () => rolePage(main, role) }, t('me_retry')));
    say(session.notice, true);
    return;
  }
  if (kind === 'party') {
    try {
      const party = await readAfter(key, `/v1/parties/${pathId(key.actor)}`);
      if (!party.verified) {
        frame(h('p', {}, t('st_need_verified')), h('p', {}, h('a', { href: '#/me', class: 'button', id: 'go-me' }, t('st_go_me'))));
        return;
      }
    } catch (e) {
      frame(h('p', { class: 'error', role: 'alert' }, errorText(e)));
      return;
    }
  }
  const sections = SCREENS[role](key);
  screen = { role, key, sections, follow: null, poll: null, debounce: null };
  frame(h('p', { class: 'small me-who' }, t('st_signed_in'), ' ', h('span', { class: 'mono' }, key.actor)), ...sections.map((s) => s.el));
  await Promise.all(sections.map((s) => draw(s)));
  startLive();
}
