// What every participant screen shares: refusals in words, signed reads after the last receipt
// (read-your-writes), and commands kept in IndexedDB from the moment they are signed until their
// receipt, so that a dropped connection or a reload sends the same bytes again under the same
// nonce and the command lands exactly once.

import { t } from './i18n.js';
import { dropPending, getMeta, pendingOf, savePending, setMeta } from './keys.js';
import { ApiError, sendCommand, signedFetch, SignError } from './sign.js';

/** A form's input that breaks a rule; `key` names its sentence in i18n.js. */
export class InputError extends Error {
  constructor(key, vars = {}) {
    super(key);
    this.key = key;
    this.vars = vars;
  }
}

/** What the screens remember between renders: the last notice and the last receipt. */
export const session = { notice: null, lastReceipt: null };

const word = (key, fallback) => (t(key) === key ? fallback : t(key));

/** A refusal in words: the API's stable code mapped in i18n.js, else a generic sentence. */
export function errorText(e) {
  if (e instanceof InputError) return t(e.key, e.vars);
  if (e instanceof SignError) return `${t('err_not_signed')} ${e.message}`;
  if (e instanceof ApiError) {
    const key = `err_${e.code.replace(/[^a-z0-9]+/gi, '_')}`;
    let text = word(key, t('err_generic', { code: e.code }));
    if (e.code === 'identity.code_wrong' && Number.isInteger(e.details?.tries_left)) text += ` ${t('me_tries_left', { n: e.details.tries_left })}`;
    return text;
  }
  return `${t('err_generic', { code: 'client' })} ${e?.message ?? e}`;
}

const afterSeq = async () => {
  const seq = await getMeta('after_seq');
  return Number.isSafeInteger(seq) ? seq : null;
};

/** `path` with `after_seq` of the last receipt, so that the read sees this browser's writes. */
export const withAfter = async (path) => {
  const seq = await afterSeq();
  return seq === null ? path : `${path}${path.includes('?') ? '&' : '?'}after_seq=${seq}`;
};

/**
 * A signed private read after the last receipt (read-your-writes). A remembered seq the log has
 * not reached (a demo log started afresh) is forgotten and the read made again without it.
 */
export async function readAfter(key, path) {
  try {
    return await signedFetch(key, 'GET', await withAfter(path));
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 'log.out_of_range')) throw e;
    await setMeta('after_seq', null);
    return signedFetch(key, 'GET', path);
  }
}

/** Remembers a receipt: later reads wait for it, and the screen shows it with its timing. */
export async function landed(receipt, started) {
  await setMeta('after_seq', receipt.seq);
  session.lastReceipt = { ...receipt, ms: started === null ? null : Math.round(performance.now() - started) };
}

/** Whether a refusal is final (the command will never be taken) rather than "try again later". */
const finalRefusal = (e) => e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;

/** Sends a signed command kept in IndexedDB, and forgets it once answered. */
export async function submit(signed, kind, started) {
  const nonce = signed.body.nonce;
  await savePending({ nonce, actor: signed.body.actor, kind, stream: signed.body.stream, bodyText: signed.bodyText });
  let receipt;
  try {
    receipt = await sendCommand(signed.bodyText, kind);
  } catch (e) {
    if (finalRefusal(e)) await dropPending(nonce);
    else e.pendingKept = true;
    throw e;
  }
  await dropPending(nonce);
  await landed(receipt, started);
  return receipt;
}

/** The name of a command kind in words (`me_kind_…` in i18n.js, else the kind itself). */
export const kindWord = (kind) => word(`me_kind_${kind.replace(/\./g, '_')}`, kind);

/** Sends again every command of `actor` signed before a reload or a dropped connection. */
export async function flushPending(actor) {
  for (const p of await pendingOf(actor)) {
    try {
      const receipt = await sendCommand(p.bodyText, p.kind);
      await dropPending(p.nonce);
      await landed(receipt, null);
      session.notice = t('me_pending_landed', { kind: kindWord(p.kind), seq: receipt.seq });
    } catch (e) {
      if (finalRefusal(e)) {
        await dropPending(p.nonce);
        session.notice = errorText(e);
      } else {
        session.notice = t('me_pending_kept');
        return false;
      }
    }
  }
  return true;
}
