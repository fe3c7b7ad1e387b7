// 在线沟通: online messages between the sides of a listing or a contract. They are kept by the
// node off the log (docs/API.md, "Online messages"), so the follow stream cannot carry them: an
// open conversation is polled every few seconds with `after`, and the unread counts of the
// buttons every few seconds more. Every read and send is a signed request by this browser's key;
// the text is checked here as the server checks it (1-1000 characters after NFC, no control
// characters but a newline, nothing that looks like an ID or a mobile number).

import { h } from './dom.js';
import { currentLang, t } from './i18n.js';
import { signedFetch } from './sign.js';
import { checkText } from './engine.js';
import { errorText } from './session.js';

export const TEXT_MAX = 1000;
const POLL_MS = 3000;
const COUNTS_MS = 6000;

const short = (id) => String(id ?? '').split('/').pop();
const seg = (id) => encodeURIComponent(short(id));
const when = (ms) => new Date(ms).toLocaleString(currentLang() === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });

/** The route of a conversation: a listing with one buyer, or a contract. */
export function conversationPath(target) {
  if (target.contract) return `/v1/messages/contracts/${seg(target.contract)}`;
  return `/v1/messages/listings/${seg(target.listing)}/${seg(target.buyer)}`;
}

let counting = null; // {key, timer}

/** Unread messages of the conversations a button stands for. */
function unreadFor(button, items) {
  const { listing, buyer, contract } = button.dataset;
  return items.filter((c) => (contract ? c.contract === contract : c.listing === listing && (!buyer || c.buyer === buyer)))
    .reduce((n, c) => n + c.unread, 0);
}

async function refreshCounts() {
  const buttons = [...document.querySelectorAll('button[data-chat]')];
  if (!counting || !buttons.length) {
    if (counting) clearInterval(counting.timer);
    counting = null;
    return;
  }
  let items;
  try {
    items = (await signedFetch(counting.key, 'GET', '/v1/messages/conversations?limit=100')).items;
  } catch {
    return;
  }
  for (const b of buttons) {
    const n = unreadFor(b, items);
    const badge = b.querySelector('.chat-unread');
    badge.textContent = n ? String(n) : '';
    badge.hidden = !n;
    b.dataset.unread = String(n);
    b.setAttribute('aria-label', n ? `${t('msg_open')} (${t('msg_unread', { n })})` : t('msg_open'));
  }
}

function startCounts(key) {
  if (counting?.key === key) return;
  if (counting) clearInterval(counting.timer);
  counting = { key, timer: setInterval(refreshCounts, COUNTS_MS) };
  setTimeout(refreshCounts, 50);
}

/**
 * The 在线沟通 button of a card. `target` is `{listing, buyer}` (a buyer's own conversation),
 * `{listing}` (the seller or agent: the listing's conversations, one per buyer) or
 * `{contract}`.
 */
export function chatButton(key, target) {
  startCounts(key);
  const b = h('button', {
    type: 'button', class: 'secondary chat-open', 'data-chat': '1', 'data-listing': target.listing ?? '',
    'data-buyer': target.buyer ?? '', 'data-contract': target.contract ?? '', 'aria-label': t('msg_open'),
    id: `chat-${short(target.contract ?? target.listing)}${target.buyer ? `-${short(target.buyer)}` : ''}`,
    onclick: () => openPanel(key, target),
  }, t('msg_open'), h('span', { class: 'chat-unread', hidden: true }));
  return b;
}

let panel = null; // {dialog, timer}

function closePanel() {
  if (!panel) return;
  clearInterval(panel.timer);
  panel.dialog.close();
  panel.dialog.remove();
  panel = null;
  refreshCounts();
}

/** Who sent a message, in words: me, the agent, and in a listing's conversation buyer or seller. */
function whoWord(id, me, target) {
  if (id === me) return t('msg_me');
  if (id.startsWith('agent/')) return `${t('msg_agent')} ${short(id)}`;
  if (target.listing && target.buyer) return id === target.buyer ? t('msg_buyer') : t('msg_seller');
  return short(id);
}

/** Opens the panel: the conversation, or for a listing without a buyer the buyers' list. */
export async function openPanel(key, target) {
  closePanel();
  const title = h('h2', { id: 'chat-title' }, t('msg_title'), ' · ', short(target.contract ?? target.listing));
  const body = h('div', { id: 'chat-body' }, h('p', {}, t('loading')));
  const close = h('button', { type: 'button', id: 'chat-close', class: 'secondary', onclick: closePanel }, t('msg_close'));
  const dialog = h('dialog', { id: 'chat-panel', class: 'chat-panel', 'aria-labelledby': 'chat-title' },
    h('div', { class: 'chat-head' }, title, close),
    h('p', { class: 'small chat-note' }, t('msg_off_log')),
    body);
  dialog.addEventListener('close', () => {
    if (panel?.dialog === dialog) {
      clearInterval(panel.timer);
      dialog.remove();
      panel = null;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  panel = { dialog, timer: null };
  if (target.contract || target.buyer) {
    await thread(key, target, body);
    return;
  }
  try {
    const items = (await signedFetch(key, 'GET', '/v1/messages/conversations?limit=100')).items.filter((c) => c.listing === target.listing);
    if (!items.length) {
      body.replaceChildren(h('p', { class: 'small empty' }, t('msg_no_buyers')));
      return;
    }
    body.replaceChildren(h('ul', { class: 'chat-buyers' }, items.map((c) => h('li', {},
      h('button', { type: 'button', class: 'secondary', 'data-buyer': c.buyer, onclick: () => thread(key, { listing: target.listing, buyer: c.buyer }, body) },
        t('msg_with_buyer', { b: short(c.buyer) }), c.unread ? ` (${t('msg_unread', { n: c.unread })})` : '')))));
  } catch (e) {
    body.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
}

/** One conversation: its messages, new ones appearing, and the bounded input. */
async function thread(key, target, body) {
  if (panel?.timer) clearInterval(panel.timer);
  const path = conversationPath(target);
  // The live region wraps the list, so that the list keeps its own semantics for the items.
  const log = h('ol', { id: 'chat-log', class: 'chat-log' });
  const region = h('div', { role: 'log', 'aria-live': 'polite', 'aria-label': t('msg_title') }, log);
  const status = h('p', { id: 'chat-status', class: 'small', role: 'status' });
  const text = h('textarea', { id: 'chat-text', name: 'text', rows: '3', maxlength: String(TEXT_MAX), required: true, 'aria-describedby': 'chat-count' });
  const count = h('span', { id: 'chat-count', class: 'small' }, `0/${TEXT_MAX}`);
  text.addEventListener('input', () => {
    count.textContent = `${[...text.value].length}/${TEXT_MAX}`;
  });
  const form = h('form', { id: 'chat-form', class: 'chat-form' },
    h('label', { for: 'chat-text' }, t('msg_label')), text,
    h('div', { class: 'chat-actions' }, count, h('button', { type: 'submit', id: 'chat-send' }, t('msg_send'))));
  let last = 0;
  const add = (items) => {
    for (const m of items) {
      last = Math.max(last, m.n);
      const mine = m.from === key.actor;
      log.append(h('li', { class: `chat-msg ${mine ? 'mine' : 'theirs'}`, 'data-n': String(m.n) },
        h('p', { class: 'small chat-meta' }, `${whoWord(m.from, key.actor, target)} · ${when(m.at_ms)}`),
        h('p', { class: 'chat-text' }, m.text ?? t('msg_erased'))));
    }
    if (items.length) log.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  };
  const poll = async () => {
    try {
      for (let i = 0; i < 20; i++) {
        const page = await signedFetch(key, 'GET', `${path}?after=${last}&limit=100`);
        add(page.items);
        if (!page.more) break;
      }
      return true;
    } catch (e) {
      status.textContent = errorText(e);
      status.classList.add('error');
      return false;
    }
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    status.classList.remove('error');
    let clean;
    try {
      clean = checkText(text.value, { min: 1, max: TEXT_MAX, lines: true });
    } catch (e) {
      status.textContent = errorText(e);
      status.classList.add('error');
      return;
    }
    const send = form.querySelector('#chat-send');
    send.disabled = true;
    try {
      await signedFetch(key, 'POST', path, { text: clean });
      text.value = '';
      count.textContent = `0/${TEXT_MAX}`;
      status.textContent = t('msg_sent');
      await poll();
    } catch (e) {
      status.textContent = errorText(e);
      status.classList.add('error');
    } finally {
      send.disabled = false;
    }
  });
  body.replaceChildren(region, status, form);
  if (await poll() && panel) panel.timer = setInterval(poll, POLL_MS);
  if (!log.children.length) status.textContent = t('msg_empty');
}
