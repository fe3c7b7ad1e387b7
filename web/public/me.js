// The participant's first screen, `#/me`: register with a phone number and its SMS code, verify
// the real name, then 我的房产 — verify a property by its certificate number and see its facts.
//
// Every command is signed here with the key this browser made (keys.js) and never leaves it;
// the server gets the signed bytes only. A command is kept in IndexedDB from the moment it is
// signed until its receipt comes, so a dropped connection or a reload sends the same bytes again
// under the same nonce and the command lands exactly once. Every form is checked here with the
// server's rules before anything is signed or sent, and every refusal is shown in words.

import { h } from './dom.js';
import { t } from './i18n.js';
import { createKey, currentActor, loadKey, setCurrentActor } from './keys.js';
import { ApiError, randomId, signCommand, signedFetch } from './sign.js';
import {
  errorText, flushPending, InputError, landed, readAfter, session, submit, withAfter,
} from './session.js';
import { showDemoSms } from './demosms.js';

export { errorText, InputError };

// ------------------------------------------------------------------------------------------
// Input rules, the server's (crates/domain/src/validate.rs), so that nothing malformed is signed.
// ------------------------------------------------------------------------------------------


/** A mainland mobile number: 11 digits, `1[3-9]…`; a leading +86 is dropped. */
export function checkPhone(text) {
  const s = String(text ?? '').trim().replace(/^(\+86|0086)[ -]?/, '');
  if (!/^1[3-9][0-9]{9}$/.test(s)) throw new InputError('me_in_phone');
  return s;
}

/** A 6-digit SMS code. */
export function checkCode(text) {
  const s = String(text ?? '').trim();
  if (!/^[0-9]{6}$/.test(s)) throw new InputError('me_in_code');
  return s;
}

/** A person's name as on the ID card: 1-40 characters, NFC, no digits or controls. */
export function checkName(text) {
  const s = String(text ?? '').trim().normalize('NFC');
  if (s.length < 1 || [...s].length > 40 || /[\p{Cc}\p{Nd}<>"&]/u.test(s)) throw new InputError('me_in_name');
  return s;
}

/** An 18-character resident ID number with its ISO 7064 MOD 11-2 check character (GB 11643). */
export function checkIdNumber(text) {
  const s = String(text ?? '').trim().toUpperCase();
  if (!/^[0-9]{17}[0-9X]$/.test(s)) throw new InputError('me_in_id_number');
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((a, w, i) => a + w * Number(s[i]), 0);
  if ('10X98765432'[sum % 11] !== s[17]) throw new InputError('me_in_id_number');
  return s;
}

const CJK = /^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$/u;
const PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼港澳台';

/**
 * A certificate number in the registry's normal form (ASCII parentheses, no spaces):
 * 不动产权证号 `云(2021)昆明市不动产权第0012345号` or 房屋所有权证号 `昆明市房权证五华区字第201301312号`.
 */
export function checkCertificate(text) {
  const s = String(text ?? '').normalize('NFC').replace(/\s+/g, '').replace(/（/g, '(').replace(/）/g, ')');
  if (s.length > 64) throw new InputError('me_in_certificate');
  const re = /^(.)\(([0-9]{4})\)(.{2,20}?)不动产权第([0-9]{7})号$/u.exec(s);
  if (re) {
    const year = Number(re[2]);
    if (PROVINCES.includes(re[1]) && year >= 1990 && year <= 2099 && CJK.test(re[3])) return s;
    throw new InputError('me_in_certificate');
  }
  const ho = /^(.{2,10}?)房权证(.{1,10}?)字第([0-9]{6,12})号$/u.exec(s);
  if (ho && CJK.test(ho[1]) && CJK.test(ho[2])) return s;
  throw new InputError('me_in_certificate');
}

const word = (key, fallback) => (t(key) === key ? fallback : t(key));

function field(id, label, attrs) {
  return h('div', { class: 'field wide' }, h('label', { for: id }, label), h('input', { id, name: id, required: true, ...attrs }));
}

let root;
// The notice and the last receipt are the session's, shared with the other participant screens.
const state = Object.assign(session, { challenge: null, realChallenge: null });

function status() {
  return h('p', { id: 'me-status', class: 'me-status', role: 'status', 'aria-live': 'polite' }, state.notice ?? '');
}

function say(text, isError) {
  state.notice = text;
  const el = document.getElementById('me-status');
  if (el) {
    el.textContent = text;
    el.classList.toggle('error', Boolean(isError));
  }
}

/** Runs a form's action with its button disabled, and shows a refusal in words. */
function guarded(button, fn) {
  return async (ev) => {
    ev.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    say(t('me_working'), false);
    try {
      await fn();
    } catch (e) {
      say(e?.pendingKept && e.status === 0 ? t('me_pending_kept') : errorText(e), true);
    } finally {
      button.disabled = false;
    }
  };
}

// ------------------------------------------------------------------------------------------
// The screen.
// ------------------------------------------------------------------------------------------

function receiptBox() {
  const r = state.lastReceipt;
  if (!r) return null;
  return h('div', { class: 'badge green me-receipt', 'data-seq': r.seq, 'data-ms': r.ms ?? '' },
    h('p', {}, h('strong', {}, t('me_receipt_title'))),
    h('p', {}, t('me_receipt_seq', { seq: r.seq, kind: r.kind })),
    r.duplicate ? h('p', { class: 'small' }, t('me_receipt_duplicate')) : null,
    r.ms !== null ? h('p', { class: 'small' }, t('me_receipt_time', { ms: r.ms })) : null);
}

function keyBox(key) {
  return h('dl', { class: 'facts me-key' },
    h('dt', {}, t('me_party')), h('dd', { class: 'mono', id: 'me-party' }, key.actor),
    h('dt', {}, t('me_key')), h('dd', { class: 'mono small' }, key.publicKeyBase64),
    h('dt', {}, t('me_engine')), h('dd', {}, t(key.engine === 'webcrypto' ? 'me_engine_webcrypto' : 'me_engine_noble')));
}

function render(...content) {
  root.replaceChildren(...[h('h1', {}, t('me_title')), status(), receiptBox(), ...content].filter(Boolean));
}

/** Step 1: a phone number, its SMS code, then `party.register` signed with a new key. */
function registerView(existingActor) {
  const phoneBtn = h('button', { type: 'submit', id: 'me-phone-send' }, t('me_send_code'));
  const phoneForm = h('form', { class: 'search me-form', id: 'me-phone-form', novalidate: true },
    field('me-phone', t('me_phone'), { type: 'tel', inputmode: 'numeric', autocomplete: 'tel-national', maxlength: 20 }),
    phoneBtn);
  phoneForm.addEventListener('submit', guarded(phoneBtn, async () => {
    const phone = checkPhone(phoneForm.elements['me-phone'].value);
    const res = await fetch('/v1/identity/phone/challenge', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone }), cache: 'no-store',
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, body);
    state.challenge = body.challenge;
    showDemoSms(codeForm, body.challenge, phone);
    say(t('me_code_sent'), false);
    codeForm.hidden = false;
    codeForm.elements['me-code'].focus();
  }));
  const codeBtn = h('button', { type: 'submit', id: 'me-register' }, t('me_register'));
  const codeForm = h('form', { class: 'search me-form', id: 'me-code-form', novalidate: true, hidden: !state.challenge },
    field('me-code', t('me_sms_code'), { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, pattern: '[0-9]{6}' }),
    codeBtn);
  codeForm.addEventListener('submit', guarded(codeBtn, async () => {
    const code = checkCode(codeForm.elements['me-code'].value);
    if (!state.challenge) throw new InputError('me_in_no_challenge');
    // The party id and its key are made once and kept: a second try reuses them.
    let actor = existingActor ?? (await currentActor());
    let key = actor ? await loadKey(actor) : null;
    if (!key) {
      actor = randomId('party', 'PA');
      key = await createKey(actor);
      await setCurrentActor(actor);
    }
    const res = await fetch('/v1/identity/phone/voucher', {
      method: 'POST', headers: { 'content-type': 'application/json' }, cache: 'no-store',
      body: JSON.stringify({ challenge: state.challenge, code, party: actor, key: key.publicKeyBase64 }),
    });
    const payload = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, payload);
    const started = performance.now();
    const signed = await signCommand(key, { kind: 'party.register', stream: actor, expected_version: 0, payload });
    await submit(signed, 'party.register', started);
    state.challenge = null;
    state.notice = t('me_registered');
    await mePage(root);
  }));
  return [h('h2', {}, t('me_step_register')), h('p', { class: 'small' }, t('me_register_help')), phoneForm, codeForm];
}

/** Step 2: the real name, checked by the identity authority with an SMS to the phone on file. */
function realnameView(key) {
  const nameBtn = h('button', { type: 'submit', id: 'me-real-send' }, t('me_send_code'));
  const form = h('form', { class: 'search me-form', id: 'me-real-form', novalidate: true },
    field('me-name', t('me_real_name'), { autocomplete: 'name', maxlength: 40 }),
    field('me-id', t('me_id_number'), { autocomplete: 'off', maxlength: 18, spellcheck: 'false' }),
    nameBtn);
  form.addEventListener('submit', guarded(nameBtn, async () => {
    const name = checkName(form.elements['me-name'].value);
    const id_number = checkIdNumber(form.elements['me-id'].value);
    const body = await signedFetch(key, 'POST', await withAfter('/v1/identity/realname/challenge'), { name, id_number });
    state.realChallenge = body.challenge;
    say(t('me_code_sent_on_file'), false);
    codeForm.hidden = false;
    codeForm.elements['me-real-code'].focus();
  }));
  const codeBtn = h('button', { type: 'submit', id: 'me-real-attest' }, t('me_verify_name'));
  const codeForm = h('form', { class: 'search me-form', id: 'me-real-code-form', novalidate: true, hidden: !state.realChallenge },
    field('me-real-code', t('me_sms_code'), { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 }),
    codeBtn);
  codeForm.addEventListener('submit', guarded(codeBtn, async () => {
    const code = checkCode(codeForm.elements['me-real-code'].value);
    if (!state.realChallenge) throw new InputError('me_in_no_challenge');
    const started = performance.now();
    const receipt = await signedFetch(key, 'POST', '/v1/identity/realname/attest', { challenge: state.realChallenge, code });
    await landed(receipt, started);
    state.realChallenge = null;
    state.notice = t('me_name_verified');
    await mePage(root);
  }));
  return [h('h2', {}, t('me_step_realname')), h('p', { class: 'small' }, t('me_realname_help')), form, codeForm];
}

const fmtArea = (c) => `${(c / 100).toFixed(2)} ㎡`;
const fen = (n) => t('wan', { v: (n / 1000000).toLocaleString('zh-CN', { maximumFractionDigits: 2 }) });

function factsCard(v) {
  const p = v.property;
  const rows = [
    ['verification_code', v.code],
    ['status', word(`status_${v.status}`, v.status)],
  ];
  if (p) {
    rows.push(
      ['certificate_no', p.certificate_no],
      ['district', p.district],
      ['community', p.community],
      ['address', p.address],
      ['area', fmtArea(p.area_centi_m2)],
      ['layout', t('rooms_short', { r: p.rooms, h: p.halls, b: p.bathrooms })],
      ['floor', t('floor_of', { f: p.floor, t: p.floors_total })],
      ['built_year', String(p.built_year)],
      ['usage', p.usage],
      ['owners_count', String(p.owners)],
      ['mortgage', p.mortgage ? `${p.mortgage.bank} · ${fen(p.mortgage.amount_fen)}` : t('me_none')],
      ['seizure', p.seizure ? `${p.seizure.court} · ${p.seizure.case_no}` : t('me_none')],
    );
  }
  if (v.consents_pending) rows.push(['consents_pending', String(v.consents_pending)]);
  return h('li', { class: 'card me-property', 'data-id': v.id },
    h('h3', {}, p ? `${p.district} · ${p.community}` : v.code),
    h('dl', { class: 'facts' }, rows.map(([k, val]) => [h('dt', {}, word(`me_${k}`, k)), h('dd', {}, val ?? '')])));
}

/** Step 3: 我的房产 — verify a property by its certificate number; the facts are a signed read. */
async function propertiesView(key) {
  const btn = h('button', { type: 'submit', id: 'me-verify' }, t('me_verify_property'));
  const form = h('form', { class: 'search me-form', id: 'me-property-form', novalidate: true },
    field('me-cert', t('me_certificate_no'), { autocomplete: 'off', maxlength: 64, placeholder: '云(2021)昆明市不动产权第0012345号' }),
    btn);
  form.addEventListener('submit', guarded(btn, async () => {
    const certificate_no = checkCertificate(form.elements['me-cert'].value);
    const started = performance.now();
    const signed = await signCommand(key, {
      kind: 'property.verify', stream: randomId('verification', 'PV'), expected_version: 0, payload: { certificate_no },
    });
    await submit(signed, 'property.verify', started);
    state.notice = t('me_property_verified');
    await mePage(root);
  }));
  const list = h('section', { 'aria-labelledby': 'me-props-h' }, h('h2', { id: 'me-props-h' }, t('me_my_properties')), h('p', {}, t('loading')));
  readAfter(key, `/v1/parties/${key.actor.split('/')[1]}/verifications?limit=20`).then((page) => {
    list.replaceChildren(h('h2', { id: 'me-props-h' }, t('me_my_properties')),
      page.items.length ? h('ul', { class: 'cards', id: 'me-properties' }, page.items.map(factsCard)) : h('p', {}, t('me_no_properties')));
  }, (e) => {
    list.replaceChildren(h('h2', { id: 'me-props-h' }, t('me_my_properties')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  });
  return [h('h2', {}, t('me_step_property')), form, list];
}

/** Renders `#/me` into `main` for the actor this browser holds a key of (or none yet). */
export async function mePage(main) {
  root = main;
  render(h('p', {}, t('loading')));
  let actor;
  let key;
  try {
    actor = await currentActor();
    key = actor ? await loadKey(actor) : null;
  } catch (e) {
    render(h('p', { class: 'error', role: 'alert' }, `${t('err_no_storage')} ${e.message}`));
    return;
  }
  if (!key) {
    // A person whose key is gone (a new phone, cleared storage) binds a new one instead.
    const { recoverView } = await import('./recover.js');
    render(...registerView(null), ...recoverView({ checkName, checkIdNumber, checkCode }, say, () => mePage(root)));
    return;
  }
  if (!(await flushPending(actor))) {
    const retry = h('button', { type: 'button', id: 'me-retry', onclick: () => mePage(root) }, t('me_retry'));
    render(keyBox(key), retry);
    say(state.notice, true);
    return;
  }
  let party = null;
  try {
    party = await readAfter(key, `/v1/parties/${actor.split('/')[1]}`);
  } catch (e) {
    // An actor whose key is not on the log yet has not registered: the registration goes on.
    if (!(e instanceof ApiError && e.status === 401)) {
      render(keyBox(key), h('p', { class: 'error', role: 'alert' }, errorText(e)),
        h('button', { type: 'button', id: 'me-retry', onclick: () => mePage(root) }, t('me_retry')));
      return;
    }
  }
  if (!party) {
    render(...registerView(actor));
    return;
  }
  const verified = h('p', { id: 'me-verified', class: party.verified ? 'status-active' : 'small' },
    party.verified ? t('me_is_verified') : t('me_not_verified'));
  if (!party.verified) {
    render(keyBox(key), verified, ...realnameView(key));
    return;
  }
  render(keyBox(key), verified, ...(await propertiesView(key)));
}
