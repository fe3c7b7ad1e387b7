// A lost or new device (`#/me` when this browser holds no key): the person makes a new key
// here, gives the name and ID number, types the code the identity authority sends to the phone
// on file in the population register, and the authority revokes the old key and binds the new
// one on the log. The new key is made before anything is asked (so that the challenge names
// it), kept non-extractable where WebCrypto has Ed25519, and signs its proof of possession for
// the party only once the code is proven and the party is named.

import { h } from './dom.js';
import { t } from './i18n.js';
import { createKey, forgetKey, loadKey, renameKey, setCurrentActor } from './keys.js';
import { ApiError } from './sign.js';
import { toBase64 } from './crypto.js';
import { possessionMessage } from './engine.js';
import { errorText, InputError, landed, session } from './session.js';

/** Where the new key waits, in this browser, until the party it is for is known. */
const WAITING = 'recovery/new-key';

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store',
  });
  const answer = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, answer);
  return answer;
}

const field = (id, label, attrs) => h('div', { class: 'field wide' }, h('label', { for: id }, label), h('input', { id, name: id, ...attrs }));

/**
 * The "new device / lost phone" section. `checks` are me.js's input rules (name, ID number,
 * code); `say(text, isError)` the screen's status line; `done()` redraws `#/me` as the party.
 */
export function recoverView({ checkName, checkIdNumber, checkCode }, say, done) {
  let challenge = null;
  const askBtn = h('button', { type: 'submit', id: 'me-recover-send', class: 'secondary' }, t('me_send_code'));
  const ask = h('form', { class: 'search me-form', id: 'me-recover-form', novalidate: true },
    field('me-recover-name', t('me_real_name'), { autocomplete: 'name', maxlength: 40 }),
    field('me-recover-id', t('me_id_number'), { autocomplete: 'off', maxlength: 18, spellcheck: 'false' }),
    askBtn);
  const codeBtn = h('button', { type: 'submit', id: 'me-recover-go' }, t('me_recover_go'));
  const codeForm = h('form', { class: 'search me-form', id: 'me-recover-code-form', novalidate: true, hidden: true },
    field('me-recover-code', t('me_sms_code'), { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 }),
    codeBtn);
  const guarded = (btn, fn) => async (ev) => {
    ev.preventDefault();
    if (btn.disabled) return;
    btn.disabled = true;
    say(t('me_working'), false);
    try {
      await fn();
    } catch (e) {
      say(errorText(e), true);
    } finally {
      btn.disabled = false;
    }
  };
  ask.addEventListener('submit', guarded(askBtn, async () => {
    const name = checkName(ask.elements['me-recover-name'].value);
    const id_number = checkIdNumber(ask.elements['me-recover-id'].value);
    // A fresh key for every attempt: an earlier one was never bound.
    await forgetKey(WAITING);
    const key = await createKey(WAITING);
    const answer = await post('/v1/identity/recover/challenge', { name, id_number, key: key.publicKeyBase64 });
    challenge = answer.challenge;
    say(t('me_code_sent_on_file'), false);
    codeForm.hidden = false;
    codeForm.elements['me-recover-code'].focus();
  }));
  codeForm.addEventListener('submit', guarded(codeBtn, async () => {
    const code = checkCode(codeForm.elements['me-recover-code'].value);
    if (!challenge || !(await loadKey(WAITING))) throw new InputError('me_in_no_challenge');
    const started = performance.now();
    const { party } = await post('/v1/identity/recover/verify', { challenge, code });
    const key = await renameKey(WAITING, party);
    const proof = toBase64(await key.sign(possessionMessage(party, key.publicKeyBase64)));
    const receipts = await post('/v1/identity/recover/bind', { challenge, proof });
    await setCurrentActor(party);
    await landed(receipts.bind, started);
    challenge = null;
    session.notice = t('me_recovered');
    await done();
  }));
  return [h('h2', {}, t('me_step_recover')), h('p', { class: 'small' }, t('me_recover_help')), ask, codeForm, ...atOffice(guarded, say, done)];
}

/**
 * The same at a filing office: this device shows its new public key (text and QR code) for the
 * clerk, who checks the ID card; the clerk's screen then gives the recovery code
 * (`{"challenge","party"}`), typed or scanned here, and this device binds its key with it.
 */
function atOffice(guarded, say, done) {
  const shown = h('div', { id: 'me-office-key-box' });
  const showBtn = h('button', { type: 'button', id: 'me-office-show', class: 'secondary' }, t('me_office_show_key'));
  showBtn.addEventListener('click', guarded(showBtn, async () => {
    await forgetKey(WAITING);
    const key = await createKey(WAITING);
    const { qr } = await import('./app.js');
    shown.replaceChildren(h('label', { for: 'me-office-key' }, t('me_office_key')),
      h('textarea', { id: 'me-office-key', readonly: true, rows: 2, class: 'mono' }, key.publicKeyBase64),
      qr(key.publicKeyBase64, t('me_office_key')));
    say(t('me_office_key_shown'), false);
  }));
  const goBtn = h('button', { type: 'submit', id: 'me-office-go' }, t('me_recover_go'));
  const form = h('form', { class: 'search me-form', id: 'me-office-form', novalidate: true },
    h('div', { class: 'field wide' }, h('label', { for: 'me-office-code' }, t('me_office_code')),
      h('textarea', { id: 'me-office-code', name: 'me-office-code', rows: 3, maxlength: 300 })),
    goBtn);
  form.addEventListener('submit', guarded(goBtn, async () => {
    let code;
    try {
      code = JSON.parse(String(form.elements['me-office-code'].value).trim());
    } catch {
      throw new InputError('me_in_office_code');
    }
    if (!code || typeof code.challenge !== 'string' || code.challenge.length > 64
      || !/^party\/PA-[A-Za-z0-9-]{1,64}$/.test(code.party ?? '')) throw new InputError('me_in_office_code');
    if (!(await loadKey(WAITING))) throw new InputError('me_in_no_challenge');
    const started = performance.now();
    const key = await renameKey(WAITING, code.party);
    const proof = toBase64(await key.sign(possessionMessage(code.party, key.publicKeyBase64)));
    const receipts = await post('/v1/identity/recover/bind', { challenge: code.challenge, proof });
    await setCurrentActor(code.party);
    await landed(receipts.bind, started);
    session.notice = t('me_recovered');
    await done();
  }));
  return [h('h3', {}, t('me_office_recover')), h('p', { class: 'small' }, t('me_office_recover_help')), showBtn, shown, form];
}
