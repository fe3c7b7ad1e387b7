// The participant's screen (#/me) in a real browser: Debian's chromium, driven by playwright-core,
// against `deedlog serve` on a fresh data folder. A fresh browser context registers a citizen with
// a phone number and the SMS code, verifies the real name and a property, every command signed in
// the browser with a key made there; a dropped answer and a reload keep the pending command, which
// lands exactly once; a command signed in the browser is accepted, and refused after one byte
// changes; another context sees none of the first person's data.
//
//   node browser/app.browser.mjs            (DEEDLOG_BIN: the binary, default target/debug/deedlog)
//
// The SMS codes are read from the server's outbox file as the operator would: the embedded
// identity authority never puts a code in an HTTP answer, and the demo has no page that shows it.
//
// Each check prints `ok` or `FAIL`; the last line is `app: N passed, M failed`. Screenshots go to
// target/browser-screenshots/app-*.png.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..');
const bin = process.env.DEEDLOG_BIN ?? join(repo, 'target', 'debug', 'deedlog');
const shots = join(repo, 'target', 'browser-screenshots');
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'deedlog-app-'));
const data = join(work, 'data');

const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// A seller of the reference data: sole owner, neither mortgaged nor seized, in citizens.json and
// so in the population register with the same name, ID number and phone.
const reference = (name) => JSON.parse(readFileSync(join(repo, 'ledger-data', 'reference', name), 'utf8'));
const property = reference('properties.json').find((p) => p.certificate_no === '云(2024)昆明市不动产权第0707137号');
const person = property.owners[0];

const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const base = `http://127.0.0.1:${port}`;
const server = spawn(bin, ['serve', '--data', data, '--bind', `127.0.0.1:${port}`], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const outbox = join(data, 'outbox', 'sms.jsonl');

/** The newest code the identity authority sent to `to` for `purpose`, after `since` lines. */
async function smsCode(to, purpose, since) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const lines = existsSync(outbox) ? readFileSync(outbox, 'utf8').split('\n').filter(Boolean) : [];
    const found = lines.slice(since).map((l) => JSON.parse(l)).filter((l) => l.to === to && l.purpose === purpose).pop();
    if (found) return found.code;
    if (Date.now() > deadline) throw new Error(`no ${purpose} code for ${to} in the outbox`);
    await sleep(100);
  }
}
const outboxLines = () => (existsSync(outbox) ? readFileSync(outbox, 'utf8').split('\n').filter(Boolean).length : 0);

/** The log's size, from its latest checkpoint. */
const logSize = async () => (await (await fetch(`${base}/v1/log/checkpoint`)).json()).size;

/** Every public entry of the log (JSON Lines, openings dropped), paged as the feed pages. */
async function entries() {
  const size = await logSize();
  const out = [];
  for (let start = 0; start < size;) {
    const res = await fetch(`${base}/v1/log/entries?start=${start}&end=${Math.min(size, start + 1000)}`);
    const count = Number(res.headers.get('x-deedlog-count'));
    for (const line of (await res.text()).split('\n').filter(Boolean)) {
      const v = JSON.parse(line);
      if (!('opening' in v)) out.push(v);
    }
    assert(count > 0, 'the feed answered no entry');
    start += count;
  }
  return out;
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' };

let browser;
try {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not start:\n${serverLog}`);
    await sleep(250);
  }

  // The pages this test checks are those of web/public/. A binary built from another tree (an
  // older build) serves other bytes: then the files are served from web/public/ instead, with the
  // server's policy header, and the run says so.
  const publicDir = join(repo, 'web', 'public');
  const stale = [];
  for (const f of readdirSync(publicDir)) {
    const res = await fetch(`${base}${f === 'index.html' ? '/' : `/assets/${f}`}`);
    const served = Buffer.from(await res.arrayBuffer());
    if (!res.ok || !served.equals(readFileSync(join(publicDir, f)))) stale.push(f);
  }
  if (stale.length) console.log(`note the binary serves other bytes for ${stale.join(', ')}: served from web/public/ for this run`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
  const newContext = async () => {
    const context = await browser.newContext(phone);
    if (stale.length) {
      await context.route((u) => u.origin === base && (u.pathname === '/' || u.pathname.startsWith('/assets/')), async (route) => {
        const name = new URL(route.request().url()).pathname === '/' ? 'index.html' : new URL(route.request().url()).pathname.slice('/assets/'.length);
        if (!/^[a-z0-9.-]{1,64}$/.test(name) || !existsSync(join(publicDir, name))) return route.continue();
        return route.fulfill({ status: 200, contentType: TYPES[extname(name)] ?? 'application/octet-stream', headers: { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' }, body: readFileSync(join(publicDir, name)) });
      });
    }
    return context;
  };

  const context = await newContext();
  const page = await context.newPage();
  const foreign = [];
  context.on('request', (req) => {
    const u = new URL(req.url());
    if (u.origin !== base && u.protocol !== 'data:' && u.protocol !== 'about:') foreign.push(req.url());
  });
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const shot = (name) => page.screenshot({ path: join(shots, `app-${name}.png`), fullPage: true });
  const axe = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const audit = async (name) => {
    await page.evaluate(axe);
    const found = await page.evaluate(async () => (await globalThis.axe.run(document, { resultTypes: ['violations'] })).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
    assert(found.length === 0, `${name}: accessibility violations: ${found.join('; ')}`);
  };
  const noSideways = async (name, max) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= max, `${name}: no sideways scrolling (${width}px)`);
  };
  /** What this page's IndexedDB holds: the key records (engine, extractable) and the pending nonces. */
  const stored = () => page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('deedlog-keys');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const t = db.transaction(['keys', 'pending'], 'readonly');
      const keys = t.objectStore('keys').getAll();
      const pending = t.objectStore('pending').getAll();
      t.oncomplete = () => resolve({
        keys: keys.result.map((k) => ({ actor: k.actor, engine: k.engine, extractable: k.pair?.privateKey?.extractable ?? null, seed: Boolean(k.seed) })),
        pending: pending.result.map((p) => ({ nonce: p.nonce, kind: p.kind, bodyText: p.bodyText })),
      });
    };
  }));
  let actor;
  const timings = {};

  /** Bytes of every answer's body while `fn` runs (the page weight of a screen). */
  const weigh = async (fn) => {
    let bytes = 0;
    const pending = [];
    const add = (res) => pending.push(res.body().then((b) => { bytes += b.length; }, () => {}));
    page.on('response', add);
    await fn();
    await page.waitForLoadState('networkidle');
    page.off('response', add);
    await Promise.all(pending);
    return bytes;
  };

  await check('#/me opens in Chinese with the registration form, at phone size, axe-clean', async () => {
    timings.cold = await weigh(async () => {
      await page.goto(`${base}/#/me`);
      await page.locator('#me-phone-form').waitFor();
    });
    assert((await page.locator('h1').innerText()) === '我的', 'the heading is Chinese');
    assert((await page.locator('#nav a[data-route="me"]').getAttribute('aria-current')) === 'page', 'the nav link is current');
    await noSideways('register', 390);
    await shot('01-register');
    await audit('register');
  });

  await check('forms refuse malformed input in words before anything is sent', async () => {
    let posted = 0;
    const count = () => posted++;
    page.on('request', count);
    await page.fill('#me-phone', '12345');
    await page.click('#me-phone-send');
    await page.waitForFunction(() => document.getElementById('me-status')?.textContent.includes('11 位手机号'));
    page.off('request', count);
    assert(posted === 0, `nothing was sent (${posted} requests)`);
    assert(await page.locator('#me-status.error').count() === 1, 'shown as an error');
  });

  await check('register: phone, SMS code from the outbox, party.register signed in the browser', async () => {
    const since = outboxLines();
    await page.fill('#me-phone', person.phone);
    await page.click('#me-phone-send');
    await page.locator('#me-code-form').waitFor({ state: 'visible' });
    // A wrong code first: refused in words, nothing registered.
    await page.fill('#me-code', '000000');
    const code = await smsCode(person.phone, 'phone', since);
    if (code !== '000000') {
      await page.click('#me-register');
      await page.waitForFunction(() => document.getElementById('me-status')?.textContent.includes('验证码不正确'));
    }
    await page.fill('#me-code', code);
    await page.click('#me-register');
    await page.locator('#me-real-form').waitFor({ timeout: 20_000 });
    actor = await page.locator('#me-party').innerText();
    assert(/^party\/PA-[0-9a-f]{16}$/.test(actor), `a random party id (${actor})`);
    timings.register = Number(await page.locator('.me-receipt').getAttribute('data-ms'));
    const s = await stored();
    assert(s.keys.length === 1 && s.keys[0].actor === actor, `one key, for this actor (${JSON.stringify(s)})`);
    assert(s.keys[0].engine === 'webcrypto' && s.keys[0].extractable === false && !s.keys[0].seed, `a non-extractable WebCrypto key (${JSON.stringify(s.keys[0])})`);
    assert(s.pending.length === 0, 'nothing left pending');
    const mine = (await entries()).filter((e) => e.signed.actor === actor);
    assert(mine.length === 1 && mine[0].kind === 'PartyRegistered', 'one PartyRegistered on the log');
    assert(!JSON.stringify(mine[0]).includes(person.phone), 'the phone number is not on the public log');
    await shot('02-realname');
    await audit('realname');
  });

  await check('real-name verification with the code sent to the phone on file', async () => {
    await page.fill('#me-name', '张三');
    await page.fill('#me-id', '53010219900101001Y');
    await page.click('#me-real-send');
    await page.waitForFunction(() => document.getElementById('me-status')?.textContent.includes('18 位'));
    const since = outboxLines();
    await page.fill('#me-name', person.name);
    await page.fill('#me-id', person.id_number);
    await page.click('#me-real-send');
    await page.locator('#me-real-code-form').waitFor({ state: 'visible' });
    await page.fill('#me-real-code', await smsCode(person.phone, 'realname', since));
    await page.click('#me-real-attest');
    await page.locator('#me-property-form').waitFor({ timeout: 20_000 });
    assert((await page.locator('#me-verified').innerText()) === '已实名认证', 'shown as verified');
    const text = await page.locator('main').innerText();
    assert(!text.includes(person.id_number), 'the ID number is not shown back');
  });

  let verificationStream;
  await check('verify a property: the answer dropped, a reload, the pending command lands exactly once', async () => {
    let first = true;
    let appended = null;
    await page.route('**/v1/commands/property.verify', async (route) => {
      if (first) {
        first = false;
        // The server takes the command; the browser never hears back.
        const res = await route.fetch();
        appended = res.status();
        return route.abort('connectionreset');
      }
      return route.abort('internetdisconnected');
    });
    await page.fill('#me-cert', property.certificate_no.replace('(', '（').replace(')', '）'));
    await page.click('#me-verify');
    await page.waitForFunction(() => document.getElementById('me-status')?.textContent.includes('网络中断'), null, { timeout: 20_000 });
    assert(appended === 201, `the first send was appended (${appended})`);
    const s = await stored();
    assert(s.pending.length === 1 && s.pending[0].kind === 'property.verify', 'the signed command is kept in IndexedDB');
    verificationStream = JSON.parse(s.pending[0].bodyText).stream;
    await page.unroute('**/v1/commands/property.verify');
    await page.reload();
    await page.locator('#me-properties .me-property').waitFor({ timeout: 20_000 });
    assert((await page.locator('.me-receipt').innerText()).includes('没有重复记录'), 'the retry got the first receipt');
    assert((await stored()).pending.length === 0, 'nothing left pending');
    const mine = (await entries()).filter((e) => e.signed.actor === actor && e.kind === 'PropertyVerified');
    assert(mine.length === 1 && mine[0].stream === verificationStream, `exactly one PropertyVerified (${mine.length})`);
    const card = await page.locator('#me-properties .me-property').innerText();
    for (const fact of [property.certificate_no, property.district, property.community, property.address]) {
      assert(card.includes(fact), `the facts show ${fact}`);
    }
    assert(card.includes('已核验'), 'the status is verified');
    await noSideways('properties', 390);
    await shot('03-properties');
    // The same state at desktop width. (A later check cancels this verification on purpose, to
    // show a browser-signed command accepted; the English desktop shot after it shows that
    // cancellation, which is why it reads "Cancelled" where this one reads verified.)
    await page.setViewportSize({ width: 1280, height: 900 });
    await noSideways('properties (desktop)', 1280);
    await shot('03-properties-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await audit('properties');
  });

  await check('a command signed in the browser is accepted, and refused after one byte changes', async () => {
    const before = await logSize();
    const outcome = await page.evaluate(async ({ actor, stream }) => {
      const { loadKey } = await import('/assets/keys.js');
      const { signCommand } = await import('/assets/sign.js');
      const key = await loadKey(actor);
      const signed = await signCommand(key, { kind: 'verification.cancel', stream, expected_version: 1, payload: { reason: '暂不出售' } });
      const post = async (text) => {
        const res = await fetch('/v1/commands/verification.cancel', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
        return { status: res.status, code: (await res.json()).code ?? null };
      };
      const text = signed.bodyText;
      const flip = (s, at) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
      const tampered = [
        flip(text, text.indexOf('"signature":"') + 20),
        text.replace('暂不出售', '暂不出借'),
        flip(text, text.indexOf('"nonce":"') + 9),
        text.replace(`"expected_version":1`, `"expected_version":2`),
      ];
      const refused = [];
      for (const t of tampered) refused.push(await post(t));
      return { refused, accepted: await post(text) };
    }, { actor, stream: verificationStream });
    for (const r of outcome.refused) assert(r.status === 401 && r.code === 'command.bad_signature', `a changed byte is refused (${JSON.stringify(r)})`);
    assert(outcome.accepted.status === 201, `the signed command is accepted (${JSON.stringify(outcome.accepted)})`);
    assert((await logSize()) === before + 1, 'the refusals appended nothing');
  });

  await check('another browser context sees none of the first person\'s data', async () => {
    const other = await newContext();
    const p2 = await other.newPage();
    await p2.goto(`${base}/#/me`);
    await p2.locator('#me-phone-form').waitFor();
    const text = await p2.locator('main').innerText();
    for (const secret of [actor, property.address, property.certificate_no]) assert(!text.includes(secret), `not shown: ${secret}`);
    const reads = await p2.evaluate(async ({ actor, stream }) => {
      const { generateRecord, keyFromRecord } = await import('/assets/keys.js');
      const { signRequest } = await import('/assets/sign.js');
      const path = `/v1/verifications/${stream.split('/')[1]}`;
      const unsigned = await fetch(path);
      // A key of this browser, claiming to be the first person.
      const key = await keyFromRecord(await generateRecord(actor));
      const forged = await fetch(path, { headers: await signRequest(key, 'GET', path) });
      return [[unsigned.status, (await unsigned.json()).code], [forged.status, (await forged.json()).code]];
    }, { actor, stream: verificationStream });
    assert(reads[0][0] === 401 && reads[0][1] === 'request.unsigned', `unsigned read refused (${reads[0]})`);
    assert(reads[1][0] === 401 && reads[1][1] === 'request.bad_signature', `forged read refused (${reads[1]})`);
    await other.close();
  });

  await check('without WebCrypto Ed25519 the noble fallback makes the key, and registration works the same', async () => {
    const other = await newContext();
    // An engine whose WebCrypto lacks Ed25519, as older in-app webviews are.
    await other.addInitScript(() => {
      const subtle = globalThis.crypto.subtle;
      const refuse = (orig) => function (alg, ...rest) {
        const name = typeof alg === 'string' ? alg : alg?.name;
        if (String(name).toLowerCase() === 'ed25519') return Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError'));
        return orig.call(subtle, alg, ...rest);
      };
      for (const m of ['generateKey', 'importKey']) subtle[m] = refuse(subtle[m]);
    });
    const p2 = await other.newPage();
    await p2.goto(`${base}/#/me`);
    await p2.locator('#me-phone-form').waitFor();
    const second = reference('citizens.json').find((c) => c.phone !== person.phone);
    const since = outboxLines();
    await p2.fill('#me-phone', second.phone);
    await p2.click('#me-phone-send');
    await p2.locator('#me-code-form').waitFor({ state: 'visible' });
    await p2.fill('#me-code', await smsCode(second.phone, 'phone', since));
    await p2.click('#me-register');
    await p2.locator('#me-real-form').waitFor({ timeout: 20_000 });
    assert((await p2.locator('.me-key').innerText()).includes('兼容模式'), 'the screen says the key is in the fallback');
    const who = await p2.locator('#me-party').innerText();
    const mine = (await entries()).filter((e) => e.signed.actor === who);
    assert(mine.length === 1 && mine[0].kind === 'PartyRegistered', 'registered with the fallback key');
    await other.close();
  });

  await check('read-your-writes: after a reload the list shows the cancelled verification', async () => {
    await page.reload();
    await page.locator('#me-properties .me-property').waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector('#me-properties')?.textContent.includes('已撤销'), null, { timeout: 10_000 });
  });

  await check('English toggle, and the screen at desktop width', async () => {
    await page.click('#lang');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'My account');
    await page.locator('#me-properties .me-property').waitFor({ timeout: 20_000 });
    assert((await page.locator('#me-verified').innerText()) === 'Real name verified', 'English words');
    await shot('04-properties-en');
    await audit('properties (English)');
    await page.setViewportSize({ width: 1280, height: 900 });
    await noSideways('desktop', 1280);
    await shot('05-desktop-after-cancel');
    await page.click('#lang');
  });

  await check('no request went to another host, and no script error', async () => {
    assert(foreign.length === 0, `foreign requests: ${foreign.join(', ')}`);
    const real = consoleErrors.filter((e) => !/Failed to load resource|net::ERR_|status of 40[14]/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });
  if (Number.isFinite(timings.register)) console.log(`measured sign-to-receipt (party.register, in the page): ${timings.register} ms`);
  if (timings.cold) console.log(`measured page weight of #/me (registration, cold cache, bodies): ${timings.cold} bytes`);
  await context.close();
} catch (e) {
  results.push(['setup', false]);
  console.log(`FAIL setup: ${e?.stack ?? e}`);
} finally {
  await browser?.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`app: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
