// The public pages in a real browser: Debian's chromium, driven by playwright-core, at phone
// size, against `deedlog serve` on a fresh data folder filled by `deedlog demo`.
//
//   node browser/pages.browser.mjs            (DEEDLOG_BIN: the binary, default target/debug/deedlog)
//
// Each check prints `ok` or `FAIL`; the last line is `pages: N passed, M failed`. Screenshots go
// to target/browser-screenshots/.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { spokenCode } from '../public/codes.js';
import { keyFromSeed } from '../public/keys.js';
import { signRequest } from '../public/sign.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..');
const bin = process.env.DEEDLOG_BIN ?? join(repo, 'target', 'debug', 'deedlog');
const shots = join(repo, 'target', 'browser-screenshots');
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'deedlog-pages-'));
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

const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const base = `http://127.0.0.1:${port}`;
// Served from a folder outside the repository: the pages and reference data are in the binary.
const server = spawn(bin, ['serve', '--data', data, '--bind', `127.0.0.1:${port}`], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});
let browser;
try {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const demo = JSON.parse(execFileSync(bin, ['demo', '--server', base, '--data', data, '--deals', '2', '--json'], { cwd: work, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
  const open = demo.open_listings[0];
  const deal = demo.deals[0];
  const vkey = readFileSync(join(data, 'log.vkey'), 'utf8').trim();
  const get = async (path) => (await fetch(`${base}${path}`)).json();

  const userData = mkdtempSync(join(tmpdir(), 'deedlog-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    // WeChat's in-app browser on Android names itself this way.
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47',
  });
  browser = context;
  const page = context.pages()[0] ?? (await context.newPage());
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

  // A fresh document each time (a new hash alone would not reload the page and its modules).
  const visit = async (path) => {
    await page.goto('about:blank');
    await page.goto(`${base}${path}`);
  };
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const verdict = async () => {
    const b = page.locator('.badge');
    await b.waitFor();
    await page.waitForFunction(() => document.querySelector('.badge')?.dataset.state !== 'checking', null, { timeout: 30_000 });
    return { state: await b.getAttribute('data-state'), text: await b.innerText() };
  };
  const axe = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const audit = async (name) => {
    // Evaluated through the driver, not injected as a script, so the page's CSP stays as served.
    await page.evaluate(axe);
    const found = await page.evaluate(async () => (await globalThis.axe.run(document, { resultTypes: ['violations'] })).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
    assert(found.length === 0, `${name}: accessibility violations: ${found.join('; ')}`);
  };

  await check('search page lists the demo listings, in Chinese, at phone size', async () => {
    await visit(`/`);
    await page.locator('.cards .card').first().waitFor();
    assert((await page.locator('h1').innerText()) === '房源搜索', 'the heading is Chinese');
    assert((await page.locator('.cards .card').count()) >= 1, 'listings shown');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 390, `no sideways scrolling (${width}px)`);
    await shot('01-search');
    await audit('search');
  });

  await check('search filters and sorts through the API', async () => {
    await visit(`/#/?sort=price_desc`);
    await page.locator('.cards .card').first().waitFor();
    const prices = await page.locator('.cards .card .price').allInnerTexts();
    const n = prices.map((p) => parseFloat(p.replace(/[^0-9.]/g, '')));
    assert(n.every((v, i) => i === 0 || n[i - 1] >= v), `sorted by price: ${prices}`);
    await visit(`/#/?price_min=99999`);
    await page.getByText('没有符合条件的房源。').waitFor();
  });

  await check('a genuine listing is green, with its code as text and QR, the key trusted on first use', async () => {
    await visit(`/#/v/${open.listing_code}`);
    const v = await verdict();
    assert(v.state === 'green', `green, got ${v.state}: ${v.text}`);
    assert(v.text.includes(vkey), 'the log key is shown');
    assert(v.text.includes('首次使用'), 'says the key is trusted on first use');
    assert((await page.locator('.code').innerText()) === spokenCode(open.listing_code), 'code as text, spoken form');
    assert((await page.locator('svg.qr path').count()) === 1, 'QR drawn');
    const checks = await page.locator('td.check').allInnerTexts();
    assert(checks.length >= 1 && checks.every((c) => c.startsWith('✔')), `price points checked: ${checks}`);
    await shot('02-listing-green');
    await audit('listing');
  });

  await check('the listing photos are shown only after their hash matched the log', async () => {
    const listing = await get(`/v1/verify/listing/${open.listing_code}`);
    const n = listing.listing.photos.length;
    assert(n >= 2, `the demo listing has generated photos (${n})`);
    await visit(`/#/v/${open.listing_code}`);
    await verdict();
    await page.waitForFunction((k) => document.querySelectorAll('.photo-frame.ok img').length === k, n, { timeout: 30_000 });
    assert((await page.locator('.photo-frame.bad').count()) === 0, 'no photo flagged');
    const alts = await page.locator('.photo-frame img').evaluateAll((els) => els.map((e) => e.getAttribute('alt')));
    assert(alts.every((a) => a && a.length > 0), 'every photo has a text alternative');
    // The bytes the page shows are the ones named on the log.
    const src = await page.locator('.photo-frame img').first().getAttribute('src');
    const shown = Buffer.from(src.slice(src.indexOf(',') + 1), 'base64');
    assert(createHash('sha256').update(shown).digest('hex') === listing.listing.photos[0], 'the first photo hashes to its fingerprint');
    await page.locator('.gallery').scrollIntoViewIfNeeded();
    await shot('02b-listing-photos');
    await audit('listing with photos');
  });

  await check('a photo the server swaps is not shown: red in its place', async () => {
    await page.route('**/v1/photos/**', async (r) => {
      const res = await r.fetch();
      const bytes = Buffer.from(await res.body());
      bytes[bytes.length - 1] ^= 1;
      await r.fulfill({ response: res, body: bytes });
    });
    await visit(`/#/v/${open.listing_code}`);
    await verdict();
    await page.waitForFunction(() => { const all = document.querySelectorAll('.photo-frame').length; return all > 0 && document.querySelectorAll('.photo-frame.bad').length === all; }, null, { timeout: 30_000 });
    await page.unroute('**/v1/photos/**');
    assert((await page.locator('.photo-frame img').count()) === 0, 'no swapped photo shown');
    const text = await page.locator('.photo-frame.bad').first().innerText();
    assert(text.includes('不符'), `the reason in words: ${text}`);
    await page.locator('.gallery').scrollIntoViewIfNeeded();
    await shot('02c-listing-photo-swapped');
  });

  await check('time to "verified" on a listing page (median of 5 loads)', async () => {
    const times = [];
    for (let i = 0; i < 5; i++) {
      await page.goto('about:blank');
      const t0 = Date.now();
      await page.goto(`${base}/#/v/${open.listing_code}`);
      const v = await verdict();
      times.push(Date.now() - t0);
      assert(v.state === 'green', v.text);
    }
    times.sort((a, b) => a - b);
    const engine = await page.evaluate(async () => (await import('/assets/crypto.js')).ed25519Engine());
    console.log(`     time to verified: median ${times[2]} ms, range ${times[0]}-${times[4]} ms (${engine}, page load included)`);
    writeFileSync(join(shots, 'timing.json'), JSON.stringify({ listing_time_to_verified_ms: times, engine }));
  });

  await check('clicking through from the search opens a green listing', async () => {
    await visit(`/`);
    await page.locator('.cards .card a').first().click();
    const v = await verdict();
    assert(v.state === 'green', `green, got ${v.state}: ${v.text}`);
  });

  // A build that pins the log key: the file the server would serve for such a build.
  const pin = (keys) => page.route('**/assets/pin.js', (r) => r.fulfill({ contentType: 'text/javascript', body: `export const PINNED_LOG_KEYS = ${JSON.stringify(keys)};\nexport const PINNED_WITNESS_POLICY = '';` }));

  await check('with the key pinned in the page code: green, and said to be pinned', async () => {
    await pin([vkey]);
    await visit(`/#/v/${open.listing_code}`);
    const v = await verdict();
    assert(v.state === 'green' && v.text.includes('已固定'), `pinned green: ${v.text}`);
    await page.unroute('**/assets/pin.js');
  });

  await check('a log key other than the pinned one is red', async () => {
    const other = vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    await pin([other]);
    await visit(`/#/v/${open.listing_code}`);
    const v = await verdict();
    assert(v.state === 'red' && v.text.includes('not the one pinned'), v.text);
    await page.unroute('**/assets/pin.js');
  });

  const tamper = async (name, change, expect) => {
    await page.route(`**/v1/verify/listing/${open.listing_code}`, async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      await change(body);
      await r.fulfill({ response: res, body: JSON.stringify(body) });
    });
    await visit(`/#/v/${open.listing_code}`);
    const v = await verdict();
    await page.unroute(`**/v1/verify/listing/${open.listing_code}`);
    assert(v.state === 'red', `${name}: red, got ${v.state}: ${v.text}`);
    assert(expect.test(v.text), `${name}: the reason (${v.text})`);
    return v;
  };

  await check('a tampered price is red, with the reason', async () => {
    await tamper('price', (b) => {
      b.listing.price_fen -= 10000000;
    }, /price_fen/);
    await shot('03-listing-red-price');
  });

  await check('a price changed in the opening and on the page alike is red: the digest', async () => {
    await tamper('opening', (b) => {
      if (!b.proof.opening) throw new Error('the proof carries no opening');
      b.proof.opening.payload.price_fen -= 10000000;
      b.listing.price_fen = b.proof.opening.payload.price_fen;
    }, /payload digest/);
  });

  await check('one byte of the entry flipped is red', async () => {
    // A digit of the signed issue time changed (in both entry formats it is inside `signed`;
    // a version-2 entry holds the price only in its opening): the leaf hash no longer matches.
    const flip = (b) => {
      const text = Buffer.from(b.proof.entry, 'base64').toString('utf8');
      const at = text.indexOf('"issued_at_ms":') + '"issued_at_ms":'.length;
      const changed = text.slice(0, at) + (text[at] === '9' ? '8' : '9') + text.slice(at + 1);
      b.proof.entry = Buffer.from(changed, 'utf8').toString('base64');
      return changed;
    };
    await tamper('entry', flip, /leaf_hash/);
    // The same with the leaf hash recomputed: the command signature no longer verifies.
    await tamper('entry and leaf hash', (b) => {
      const changed = flip(b);
      b.proof.leaf_hash = createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(changed, 'utf8')])).digest('hex');
    }, /command signature/);
  });

  await check('one byte of the inclusion proof flipped is red', async () => {
    await tamper('proof', (b) => {
      const h = b.current.inclusion[0];
      b.current.inclusion[0] = (h[0] === '0' ? '1' : '0') + h.slice(1);
    }, /inclusion proof/);
  });

  await check('one byte of the checkpoint flipped is red', async () => {
    await tamper('checkpoint', (b) => {
      const lines = b.proof.checkpoint.split('\n');
      lines[1] = String(Number(lines[1]) + 1);
      b.proof.checkpoint = lines.join('\n');
    }, /checkpoint/);
  });

  await check('a valid bundle of an unrelated entry is red', async () => {
    const other = await get(`/v1/verify/listing/${demo.open_listings[1].listing_code}`);
    await tamper('unrelated', (b) => {
      b.proof = other.proof;
    }, /did not issue|not a later entry|is "listing/);
  });

  await check('an older checkpoint than the browser saw before is red', async () => {
    const genuine = await get(`/v1/verify/listing/${open.listing_code}`);
    const first = (await get('/v1/log/checkpoints?from=1&to=100000')).checkpoints.find((c) => c.size > genuine.current.seq);
    assert(first && first.size < genuine.current.tree_size, 'an older checkpoint exists');
    const proof = await get(`/v1/log/entries/${genuine.proof.seq}?proof_size=${first.size}`);
    const current = await get(`/v1/log/entries/${genuine.current.seq}?proof_size=${first.size}`);
    await tamper('rollback', (b) => {
      b.proof = proof;
      b.current = current;
    }, /older than/);
    await shot('04-listing-red-rollback');
  });

  await check('a changed log key after first use is red', async () => {
    await page.evaluate(() => localStorage.setItem('deedlog.first-seen-log-key.v1', 'deedlog.kunming.example/log+00000000+AQ=='));
    await visit(`/#/v/${open.listing_code}`);
    const v = await verdict();
    assert(v.state === 'red' && v.text.includes('key changed'), v.text);
    await page.evaluate((k) => localStorage.setItem('deedlog.first-seen-log-key.v1', k), vkey);
  });

  await check('an unreachable server is "could not check", not red', async () => {
    await page.route('**/v1/log/entries/**', (r) => r.abort());
    await visit(`/#/v/${open.listing_code}`);
    const v = await verdict();
    await page.unroute('**/v1/log/entries/**');
    assert(v.state === 'unknown', `unknown, got ${v.state}: ${v.text}`);
    await shot('05-listing-unknown');
  });

  await check('an engine without WebCrypto Ed25519 falls back to @noble/ed25519: green, and red when tampered', async () => {
    const old = await context.newPage();
    await old.addInitScript(() => {
      const importKey = crypto.subtle.importKey.bind(crypto.subtle);
      crypto.subtle.importKey = (format, key, alg, ...rest) =>
        (alg?.name ?? alg) === 'Ed25519' ? Promise.reject(new DOMException('not supported', 'NotSupportedError')) : importKey(format, key, alg, ...rest);
    });
    const wait = async () => {
      await old.waitForFunction(() => ['green', 'red', 'unknown'].includes(document.querySelector('.badge')?.dataset.state), null, { timeout: 60_000 });
      return { state: await old.locator('.badge').getAttribute('data-state'), text: await old.locator('.badge').innerText() };
    };
    await old.goto(`${base}/#/v/${open.listing_code}`);
    const v = await wait();
    assert(v.state === 'green' && v.text.includes('@noble/ed25519'), `noble green: ${v.state} ${v.text}`);
    await old.route(`**/v1/verify/listing/${open.listing_code}`, async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      const note = body.proof.checkpoint;
      // A forged checkpoint signature: the last base64 character of the signature line changed.
      const at = note.length - 3;
      body.proof.checkpoint = note.slice(0, at) + (note[at] === 'A' ? 'B' : 'A') + note.slice(at + 1);
      await r.fulfill({ response: res, body: JSON.stringify(body) });
    });
    await old.goto('about:blank');
    await old.goto(`${base}/#/v/${open.listing_code}`);
    const w = await wait();
    assert(w.state === 'red' && /checkpoint/.test(w.text), `noble red: ${w.state} ${w.text}`);
    await old.close();
  });

  await check('English toggle', async () => {
    await visit(`/#/v/${open.listing_code}`);
    await verdict();
    await page.locator('#lang').click();
    const v = await verdict();
    assert(v.text.includes('Verified on the log'), v.text);
    assert((await page.evaluate(() => document.documentElement.lang)) === 'en', 'lang=en');
    await shot('06-listing-english');
    await page.locator('#lang').click();
  });

  await check('a filed contract by its filing code is green', async () => {
    await visit(`/#/contract`);
    await page.locator('#f-filing').fill(deal.filing_code.toLowerCase());
    await page.keyboard.press('Enter');
    const v = await verdict();
    assert(v.state === 'green', `${v.state}: ${v.text}`);
    await shot('07-contract-green');
    await audit('contract');
  });

  await check('an unknown filing code says not found', async () => {
    await visit(`/#/contract/FC-0000000000000000`);
    await page.locator('.error').waitFor();
  });

  await check('a mistyped filing code is told apart from an unknown one, before anything is asked', async () => {
    const spoken = spokenCode(deal.filing_code);
    const chars = [...spoken];
    const n = chars.length;
    [chars[n - 3], chars[n - 2]] = [chars[n - 2], chars[n - 3]];
    const swapped = chars.join('');
    const asked = [];
    const onRequest = (r) => { if (r.url().includes('/v1/verify/contract')) asked.push(r.url()); };
    page.on('request', onRequest);
    if (swapped !== spoken) {
      await visit(`/#/contract/${encodeURIComponent(swapped)}`);
      await page.locator('#code-mistyped').waitFor();
    }
    page.off('request', onRequest);
    assert(asked.length === 0, `a mistyped code is not sent: ${asked}`);
    await visit(`/#/contract/${encodeURIComponent(spoken)}`);
    const v = await verdict();
    assert(v.state === 'green', `the spoken form is green: ${v.state}: ${v.text}`);
  });

  await check('the document check hashes in the browser and sends only the hash', async () => {
    const file = join(work, 'scan.bin');
    writeFileSync(file, 'not a document on the log');
    const sent = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/verify/document')) sent.push([r.method(), r.url(), r.postData()]);
    });
    await visit(`/#/document`);
    await page.locator('#f-file').setInputFiles(file);
    await page.locator('#doc-hash').waitFor();
    const v = await verdict();
    assert(v.state === 'unknown', `no match is "could not check": ${v.state}`);
    const expect = execFileSync('sha256sum', [file]).toString().split(' ')[0];
    assert((await page.locator('#doc-hash').innerText()) === expect, 'the hash computed here');
    assert(sent.length === 1 && sent[0][0] === 'GET' && sent[0][1].endsWith(expect) && !sent[0][2], `only the hash sent: ${JSON.stringify(sent)}`);
    await shot('08-document');
    await audit('document');
  });

  // The seller's own copy, fetched here as the seller would (a signed request). The demo's
  // citizens' keys are derived from the platform key of the data folder (see the demo's
  // `derive_secret`): seed = SHA-256("deedlog/client/derived-key/v1\n" || parent seed || label).
  const sellerPdf = async (d) => {
    const derive = (seed, label) => new Uint8Array(createHash('sha256').update('deedlog/client/derived-key/v1\n').update(seed).update(label).digest());
    const platform = JSON.parse(readFileSync(join(data, 'keys', 'platform.key'), 'utf8'));
    const root = derive(Buffer.from(platform.seed, 'base64'), 'demo/citizens');
    const owners = JSON.parse(readFileSync(join(repo, 'ledger-data', 'reference', 'properties.json'), 'utf8')).flatMap((p) => p.owners);
    for (const o of owners) {
      const seed = derive(root, `citizen/${o.id_number}`);
      const probe = await keyFromSeed('party/x', seed);
      const id = `party/PA-C${Buffer.from(probe.publicKey.subarray(0, 8)).toString('hex').toUpperCase()}`;
      if (id !== d.seller) continue;
      const key = await keyFromSeed(id, seed);
      const path = `/v1/contracts/${d.contract.replace(/^contract\//, '')}/pdf`;
      const res = await fetch(`${base}${path}`, { headers: await signRequest(key, 'GET', path) });
      assert(res.ok, `the seller downloads the PDF: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }
    throw new Error(`no reference owner is the seller ${d.seller}`);
  };

  await check('the document check: the filed PDF is genuine, and one changed byte is red', async () => {
    const pdf = await sellerPdf(deal);
    const original = join(work, 'contract.pdf');
    writeFileSync(original, pdf);
    await visit(`/#/document`);
    await page.locator('#f-file').setInputFiles(original);
    let v = await verdict();
    assert(v.state === 'green', `the original: ${v.state}: ${v.text}`);
    const main = await page.locator('main').innerText();
    assert(main.includes('这份 PDF 与账本上已备案的合同逐字节一致'), 'said byte for byte');
    assert(main.includes(spokenCode(deal.filing_code)), 'the filing code shown');
    await shot('09-document-pdf-genuine');
    await audit('document-pdf');
    const bent = Uint8Array.from(pdf);
    bent[bent.length - 40] ^= 0x01;
    const changed = join(work, 'contract-changed.pdf');
    writeFileSync(changed, bent);
    await visit(`/#/document`);
    await page.locator('#f-file').setInputFiles(changed);
    v = await verdict();
    assert(v.state === 'red', `one changed byte: ${v.state}: ${v.text}`);
    assert(v.text.includes('文件被改动过'), `the reason in words: ${v.text}`);
    await shot('10-document-pdf-changed');
  });

  await check('agents by rating and agencies with licence numbers', async () => {
    await visit(`/#/agents`);
    await page.locator('.cards .card').first().waitFor();
    const text = await page.locator('main').innerText();
    assert(/KMJJR-/.test(text) && /KMJJ-/.test(text), 'licence numbers shown');
    await shot('09-agents');
    await audit('agents');
  });

  await check('filing offices by district with a map link', async () => {
    await visit(`/#/offices`);
    await page.locator('.cards .card').first().waitFor();
    const all = await page.locator('.cards .card').count();
    const href = await page.locator('.cards .card a.button').first().getAttribute('href');
    assert(href.startsWith('geo:0,0?q='), href);
    await page.locator('#f-office-district').selectOption({ index: 1 });
    await page.waitForFunction((n) => document.querySelectorAll('.cards .card').length < n, all);
    await shot('10-offices');
    await audit('offices');
  });

  await check('the log page verifies the latest checkpoint', async () => {
    await visit(`/#/log`);
    const v = await verdict();
    assert(v.state === 'green', `${v.state}: ${v.text}`);
    await shot('11-log');
    await audit('log');
  });

  await check('at desktop width the search and a green listing lay out without overflow', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    try {
      for (const [path, name] of [['/', '12-desktop-search'], [`/#/v/${open.listing_code}`, '13-desktop-listing']]) {
        await visit(path);
        if (path !== '/') {
          const v = await verdict();
          assert(v.state === 'green', `desktop listing green, got ${v.state}: ${v.text}`);
        } else {
          await page.waitForLoadState('networkidle');
        }
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 0, `${name}: ${overflow}px wider than the window`);
        await shot(name);
      }
    } finally {
      await page.setViewportSize({ width: 390, height: 844 });
    }
  });

  await check('keyboard: the skip link and the navigation are reachable by Tab', async () => {
    await visit(`/#/log`);
    await verdict();
    await page.keyboard.press('Tab');
    assert((await page.evaluate(() => document.activeElement?.className)) === 'skip', 'skip link first');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert((await page.evaluate(() => document.activeElement?.getAttribute('href'))) === '#/', 'then the navigation');
  });

  // "Still current": the state proof checked in the browser (state.js). Last, because the
  // withdrawal below changes the open listing the checks above use.
  const currentVerdict = async () => {
    const c = page.locator('.currency');
    await c.waitFor();
    await page.waitForFunction(() => document.querySelector('.currency')?.dataset.current !== 'checking', null, { timeout: 30_000 });
    return { state: await c.getAttribute('data-current'), text: await c.innerText() };
  };
  await check('a live listing is "active as of checkpoint N", proved in the browser', async () => {
    await visit(`/#/v/${open.listing_code}`);
    const v = await currentVerdict();
    assert(v.state === 'current', `current, got ${v.state}: ${v.text}`);
    const answer = await get(`/v1/verify/listing/${open.listing_code}`);
    const n = answer.state.bundle.seq + 1;
    assert(v.text.includes(`截至检查点 ${n} 仍在挂牌`), `says active as of checkpoint ${n}: ${v.text}`);
    assert((await page.locator('.currency.green').count()) === 1, 'green');
    await page.locator('.currency').scrollIntoViewIfNeeded();
    await shot('20-listing-current');
    await audit('listing current');
  });

  await check('a sold listing (contract filed) is genuine but "not current: sold"', async () => {
    await visit(`/#/v/${deal.listing_code}`);
    const b = await verdict();
    assert(b.state === 'green', `still genuine: ${b.text}`);
    const v = await currentVerdict();
    assert(v.state === 'not_current', `not current, got ${v.state}: ${v.text}`);
    assert(v.text.includes('已不再有效') && v.text.includes('已售出'), `says sold: ${v.text}`);
    await page.locator('.currency').scrollIntoViewIfNeeded();
    await shot('21-listing-sold');
  });

  await check('a forged state proof is red with the reason, a missing one "could not check"', async () => {
    await page.route('**/v1/verify/listing/**', async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      const s = body.state.aggregates[0].proof.siblings;
      s[0] = (s[0][0] === '0' ? '1' : '0') + s[0].slice(1);
      await r.fulfill({ response: res, json: body });
    });
    await visit(`/#/v/${open.listing_code}`);
    let v = await currentVerdict();
    assert(v.state === 'forged' && (await page.locator('.currency.red').count()) === 1, `red, got ${v.state}: ${v.text}`);
    assert(v.text.includes('状态证明不成立') && v.text.includes('committed root'), `the reason in words: ${v.text}`);
    await page.unroute('**/v1/verify/listing/**');
    await page.route('**/v1/verify/listing/**', async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      delete body.state;
      await r.fulfill({ response: res, json: body });
    });
    await visit(`/#/v/${open.listing_code}`);
    v = await currentVerdict();
    await page.unroute('**/v1/verify/listing/**');
    assert(v.state === 'unknown', `could not check, got ${v.state}: ${v.text}`);
    assert(v.text.includes('无法核对是否仍然有效'), v.text);
    await shot('22-listing-state-missing');
  });

  await check('a filed contract is "filed and current" on the contract page', async () => {
    await visit(`/#/contract/${deal.filing_code}`);
    const v = await currentVerdict();
    assert(v.state === 'current', `current, got ${v.state}: ${v.text}`);
  });

  await check('a withdrawn listing is genuine but "not current: withdrawn"', async () => {
    // The open listing's agent withdraws it (the demo agents' keys are in DATA/keys/).
    const listing = await get(`/v1/verify/listing/${open.listing_code}`);
    const agent = listing.listing.agent?.id;
    assert(agent, 'the first open listing is an agent\'s');
    const keyFile = join(data, 'keys', `${agent.replace(/\//g, '_')}.key`);
    const { public: pub } = JSON.parse(readFileSync(keyFile, 'utf8'));
    const command = { actor: agent, key: pub, kind: 'listing.withdraw', stream: listing.listing.id,
      payload: { reason: '业主暂不出售' }, nonce: `withdraw-${Date.now()}`, issued_at_ms: Date.now() };
    const signed = execFileSync(bin, ['sign', '--key', keyFile], { input: JSON.stringify(command) }).toString();
    const r = await fetch(`${base}/v1/commands/listing.withdraw`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: signed });
    const replied = await r.text();
    assert(r.status === 201, `withdrawn: ${r.status} ${replied}`);
    const receipt = JSON.parse(replied);
    for (let i = 0; i < 100; i++) {
      const a = await get(`/v1/verify/listing/${open.listing_code}`);
      if (a.listing.status === 'withdrawn' && a.state && a.state.bundle.seq >= receipt.seq) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    await visit(`/#/v/${open.listing_code}`);
    const b = await verdict();
    assert(b.state === 'green', `still genuine: ${b.text}`);
    const v = await currentVerdict();
    assert(v.state === 'not_current', `not current, got ${v.state}: ${v.text}`);
    assert(v.text.includes('已不再有效') && v.text.includes('已下架'), `says withdrawn: ${v.text}`);
    await page.locator('.currency').scrollIntoViewIfNeeded();
    await shot('23-listing-withdrawn');
    await audit('listing withdrawn');
  });

  await check('no request went to another host, and no script error', async () => {
    assert(foreign.length === 0, `foreign requests: ${foreign.join(', ')}`);
    const real = consoleErrors.filter((e) => !/Failed to load resource|net::ERR_FAILED|status of 404/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });
  await context.close();
  rmSync(userData, { recursive: true, force: true });
} catch (e) {
  results.push(['setup', false]);
  console.log(`FAIL setup: ${e?.stack ?? e}`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`pages: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
