// The demo's stand-in for a phone's SMS inbox. Only a node started with `deedlog serve
// --demo-sms` (and running the embedded identity authority) answers `GET /v1/identity/demo/sms`;
// every other node answers 404 and this shows nothing. The panel says plainly that it is a demo.

import { h } from './dom.js';
import { t } from './i18n.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Shows, before `where`, the code sent for `challenge` to `phone` when the node is a demo. */
export async function showDemoSms(where, challenge, phone) {
  document.getElementById('demo-sms')?.remove();
  const path = `/v1/identity/demo/sms?challenge=${encodeURIComponent(challenge)}&phone=${encodeURIComponent(phone)}`;
  for (let i = 0; i < 10; i++) {
    let res;
    try {
      res = await fetch(path, { cache: 'no-store' });
    } catch {
      return;
    }
    if (!res.ok) return;
    const body = await res.json().catch(() => null);
    if (body?.demo === true && typeof body.code === 'string' && /^[0-9]{6}$/.test(body.code)) {
      const [before, after] = t('me_demo_sms_code', { phone, code: '\u0000' }).split('\u0000');
      where.before(h('aside', { id: 'demo-sms', class: 'demo-sms', 'aria-labelledby': 'demo-sms-h' },
        h('h3', { id: 'demo-sms-h' }, t('me_demo_sms_title')),
        h('p', {}, before, h('strong', { id: 'demo-sms-code' }, body.code), after),
        h('p', { class: 'small' }, t('me_demo_sms_note'))));
      return;
    }
    await sleep(300);
  }
}
