// The whole agent-assisted deal in a real browser: Debian's chromium, driven by playwright-core,
// against `deedlog serve` on a fresh data folder, one browser context per person (seller, buyer,
// agent, bank, office, housing authority). Citizens register at `#/me` with a phone number and
// the SMS code; institutions sign in by importing their key file from the node's data folder
// (`DATA/keys/<actor with / as _>.key`, as the demo uses them). Every command is signed in the
// browser of the person who takes the step.
//
//   node browser/deal.browser.mjs           (DEEDLOG_BIN: the binary, default target/debug/deedlog)
//
// Checked along the way: live updates (the seller sees the agent's proposals appear without a
// reload; the buyer sees the contract ready to sign), a price change the seller rejects, the
// contract document's hash recomputed in the buyer's browser, the filed PDF downloaded; then
// `deedlog verify --server … --semantic` is clean, the public pages of the listing and the
// contract show green, no person's name, phone or ID number shows in another person's context,
// no request went to another host, axe finds no serious or critical violation on any screen.
// Screenshots at phone and desktop size go to target/browser-screenshots/deal-*.png; the
// sign-to-receipt times and page weights go to target/browser-deal-figures.json.
//
// Each check prints `ok` or `FAIL`; the last line is `deal: N passed, M failed`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { fillStep } from './harness.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..');
const bin = process.env.DEEDLOG_BIN ?? join(repo, 'target', 'debug', 'deedlog');
const shots = join(repo, 'target', 'browser-screenshots');
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'deedlog-deal-'));
const data = join(work, 'data');

const results = [];
let stopped = false;
const onFailure = [];
async function check(name, fn) {
  // A deal is a chain: once a step failed, the later ones cannot run and are reported as such.
  if (stopped) {
    results.push([name, false]);
    console.log(`FAIL ${name}: not run, an earlier step failed`);
    return;
  }
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, false]);
    stopped = true;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
    // What every person's screen showed when the step failed, to read the failure from.
    for (const p of onFailure) await p.page.screenshot({ path: join(shots, `deal-failed-${p.name}.png`), fullPage: true }).catch(() => {});
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const reference = (name) => JSON.parse(readFileSync(join(repo, 'ledger-data', 'reference', name), 'utf8'));
const property = reference('properties.json').find((p) => p.certificate_no === '云(2024)昆明市不动产权第0707137号');
const sellerPerson = property.owners[0];
const owners = new Set(reference('properties.json').flatMap((p) => p.owners.map((o) => o.id_number)));
const secondProperty = reference('properties.json').find((p) => p.owners.length === 1 && !p.mortgage && !p.seizure
  && p.certificate_no !== property.certificate_no && reference('citizens.json').some((c) => c.id_number === p.owners[0].id_number));
const seller2Person = secondProperty.owners[0];
const buyerPerson = reference('citizens.json').find((c) => c.phone !== sellerPerson.phone && !owners.has(c.id_number)) ?? reference('citizens.json').find((c) => c.phone !== sellerPerson.phone);
// The proxy (代理人) who acts for the second seller: a citizen who is none of the others.
const proxyPerson = reference('citizens.json').find((c) => !owners.has(c.id_number)
  && ![sellerPerson, buyerPerson, seller2Person].some((o) => o.phone === c.phone || o.id_number === c.id_number));
// A new agent's person: on the population register, in no other role of this run.
const taken = new Set([...owners, ...reference('citizens.json').map((c) => c.id_number),
  ...reference('agencies.json').flatMap((a) => a.agents.map((x) => x.id_number))]);
const agent2Person = reference('population.json').find((c) => !taken.has(c.id_number));
/** The entry at `seq` as the log holds it (its derived values are public). */
const entryAt = async (seq) => {
  const b = await (await fetch(`${base}/v1/log/entries/${seq}`)).json();
  return JSON.parse(Buffer.from(b.entry, 'base64').toString('utf8'));
};

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

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' };
const figures = { sign_to_receipt_ms: {}, page_weight_bytes: {} };

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
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, acceptDownloads: true };
  const axe = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const foreign = [];
  const consoleErrors = [];

  /** One person: a browser context and its page, with the helpers the steps use. */
  const person = async (name) => {
    const context = await browser.newContext(phone);
    if (stale.length) {
      await context.route((u) => u.origin === base && (u.pathname === '/' || u.pathname.startsWith('/assets/')), async (route) => {
        const file = new URL(route.request().url()).pathname === '/' ? 'index.html' : new URL(route.request().url()).pathname.slice('/assets/'.length);
        if (!/^[a-z0-9.-]{1,64}$/.test(file) || !existsSync(join(publicDir, file))) return route.continue();
        return route.fulfill({ status: 200, contentType: TYPES[extname(file)] ?? 'application/octet-stream', headers: { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' }, body: readFileSync(join(publicDir, file)) });
      });
    }
    context.on('request', (req) => {
      const u = new URL(req.url());
      if (u.origin !== base && !['data:', 'about:', 'blob:'].includes(u.protocol)) foreign.push(`${name}: ${req.url()}`);
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e}`));
    const p = { name, context, page };
    p.shot = async (label) => {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert(width <= 390, `${label}: no sideways scrolling at phone size (${width}px)`);
      await page.screenshot({ path: join(shots, `deal-${label}-phone.png`), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({ path: join(shots, `deal-${label}-desktop.png`), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
    };
    p.audit = async (label) => {
      await page.evaluate(axe);
      const found = await page.evaluate(async () => (await globalThis.axe.run(document, { resultTypes: ['violations'] })).violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
      assert(found.length === 0, `${label}: accessibility violations: ${found.join('; ')}`);
    };
    // Bytes transferred per screen, as the browser counts them (CDP Network.loadingFinished:
    // headers and bodies as received, so a revalidated asset counts only its 304). The follow
    // stream never finishes loading and so is not counted.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let transferred = 0;
    cdp.on('Network.loadingFinished', (e) => {
      transferred += e.encodedDataLength;
    });
    /** Opens a screen; resolves to the bytes transferred for it. */
    p.open = async (hash, ready) => {
      await page.goto('about:blank');
      const before = transferred;
      await page.goto(`${base}/${hash}`);
      await page.locator(ready).first().waitFor({ state: 'attached', timeout: 30_000 });
      await sleep(700);
      return transferred - before;
    };
    p.clearCache = () => cdp.send('Network.clearBrowserCache');
    /**
     * Fills and sends the form of step `kind` (inside `within`, a selector, when given), opening
     * it if folded; resolves to the receipt's seq once the screen shows it, or throws the
     * refusal the screen shows.
     */
    p.step = async (kind, values = {}, within = null) => {
      // A redraw after the last command (or a live update) is let finish first, so that the
      // form filled is the one that will be sent.
      await page.waitForFunction(() => !document.querySelector('[data-drawing]'), null, { timeout: 30_000 });
      const scope = within ? page.locator(within).first() : page;
      const form = scope.locator(`form[data-kind="${kind}"]`).first();
      await form.waitFor({ state: 'attached', timeout: 30_000 });
      const details = form.locator('xpath=ancestor::details[1]');
      if ((await details.count()) && !(await details.evaluate((d) => d.open))) await details.locator('summary').first().click();
      await fillStep(page, form, kind, values);
      const before = await page.locator('#st-receipt').getAttribute('data-seq');
      await page.evaluate(() => {
        const s = document.getElementById('st-status');
        if (s) { s.textContent = ''; s.classList.remove('error'); }
      });
      await form.locator('button[type="submit"]').click();
      await page.waitForFunction((b) => {
        const r = document.getElementById('st-receipt');
        return (r && r.dataset.seq && r.dataset.seq !== b) || document.getElementById('st-status')?.classList.contains('error');
      }, before, { timeout: 30_000 });
      const err = await page.locator('#st-status.error').count();
      if (err) throw new Error(`${name}: ${kind} refused: ${await page.locator('#st-status').innerText()}`);
      const seq = Number(await page.locator('#st-receipt').getAttribute('data-seq'));
      const ms = Number(await page.locator('#st-receipt').getAttribute('data-ms'));
      (figures.sign_to_receipt_ms[kind] ??= []).push(ms);
      return seq;
    };
    p.text = () => page.locator('body').innerText();
    return p;
  };

  /** Registration and real name at `#/me`, as app.browser.mjs does them. */
  const enroll = async (p, who) => {
    const { page } = p;
    await p.open('#/me', '#me-phone-form');
    let since = outboxLines();
    await page.fill('#me-phone', who.phone);
    await page.click('#me-phone-send');
    await page.locator('#me-code-form').waitFor({ state: 'visible' });
    await page.fill('#me-code', await smsCode(who.phone, 'phone', since));
    await page.click('#me-register');
    await page.locator('#me-real-form').waitFor({ timeout: 20_000 });
    since = outboxLines();
    await page.fill('#me-name', who.name);
    await page.fill('#me-id', who.id_number);
    await page.click('#me-real-send');
    await page.locator('#me-real-code-form').waitFor({ state: 'visible' });
    await page.fill('#me-real-code', await smsCode(who.phone, 'realname', since));
    await page.click('#me-real-attest');
    await page.locator('#me-property-form').waitFor({ timeout: 20_000 });
    return page.locator('#me-party').innerText();
  };

  /** Signs an institution in at `#/role` with its key file from the node's data folder. */
  const signIn = async (p, role, actor) => {
    await p.open(`#/${role}`, '#key-import');
    const file = join(data, 'keys', `${actor.replace('/', '_')}.key`);
    await p.page.setInputFiles('#key-file', file);
    if (!(await p.page.inputValue('#key-actor'))) await p.page.fill('#key-actor', actor);
    await p.page.click('#key-import-go');
    await p.page.locator('.role-section').first().waitFor({ timeout: 20_000 });
    const stored = await p.page.evaluate(() => new Promise((resolve, reject) => {
      const req = indexedDB.open('deedlog-keys');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const t = req.result.transaction('keys', 'readonly').objectStore('keys').getAll();
        t.onsuccess = () => resolve(t.result.map((k) => ({ actor: k.actor, engine: k.engine, extractable: k.pair?.privateKey?.extractable ?? null, seed: Boolean(k.seed) })));
      };
    }));
    assert(stored.length === 1 && stored[0].actor === actor && stored[0].extractable === false && !stored[0].seed, `${actor}: kept non-extractable (${JSON.stringify(stored)})`);
  };

  const seller = await person('seller');
  const buyer = await person('buyer');
  const agent = await person('agent');
  const bank = await person('bank');
  const office = await person('office');
  const housing = await person('authority');
  const seller2 = await person('seller2');
  const proxy = await person('proxy');
  const agent2 = await person('agent2');
  const everyone = [seller, buyer, agent, bank, office, housing, seller2, proxy, agent2];
  onFailure.push(...everyone);
  const AGENT = 'agent/AT-0001';
  const BANK = 'bank/BK-01';
  const OFFICE = 'office/OF-01';
  let sellerId;
  let buyerId;
  let listingId;
  let listingCode;
  let contractId;
  let filingCode;

  await check('seller and buyer register, verify their real names; the seller verifies the flat', async () => {
    sellerId = await enroll(seller, sellerPerson);
    buyerId = await enroll(buyer, buyerPerson);
    await seller.page.fill('#me-cert', property.certificate_no);
    await seller.page.click('#me-verify');
    await seller.page.locator('#me-properties .me-property').waitFor({ timeout: 20_000 });
  });

  await check('agent, bank, office and housing authority sign in with their key files (non-extractable)', async () => {
    await signIn(agent, 'agent', AGENT);
    await signIn(bank, 'bank', BANK);
    await signIn(office, 'office', OFFICE);
    await signIn(housing, 'authority', 'authority/housing');
  });

  await check('#/seller: 委托出售 with a floor price, a period and review of the agent\'s edits, the agent chosen by rating', async () => {
    await seller.open('#/seller', '#seller-props form[data-kind="entrustment.sale"]');
    const options = await seller.page.locator('#seller-props select[name="agent"] option').allInnerTexts();
    assert(options.length >= 3 && options[1].includes('★'), `agents offered with their rating (${options.slice(0, 3)})`);
    await seller.shot('seller-01-entrust');
    await seller.audit('#/seller');
    // Refused before signing, in words: a floor price that is not money.
    await seller.page.selectOption('#seller-props form[data-kind="entrustment.sale"] [name="agent"]', AGENT);
    await seller.page.fill('#seller-props form[data-kind="entrustment.sale"] [name="floor_price"]', '1,000');
    await seller.page.click('#seller-props form[data-kind="entrustment.sale"] button[type="submit"]');
    await seller.page.waitForFunction(() => document.getElementById('st-status')?.textContent.includes('万元'));
    await seller.step('entrustment.sale', { agent: AGENT, floor_price: '100', days: '90', review: true }, '#seller-props');
    await seller.page.locator('#seller-entrustments .role-card').waitFor();
  });

  await check('#/agent: the offered entrustment appears live; accepted; the listing published with uploaded photos', async () => {
    await agent.page.locator('#agent-entrustments form[data-kind="entrustment.accept"]').waitFor({ timeout: 20_000 });
    await agent.shot('agent-01-offered');
    await agent.audit('#/agent');
    await agent.step('entrustment.accept', {}, '#agent-entrustments');
    const photo = async (x) => ({ name: `photo-${x}.png`, mimeType: 'image/png', buffer: await agent.page.screenshot({ clip: { x, y: 0, width: 120, height: 90 } }) });
    await agent.step('listing.publish', {
      price: '150', title: '玉兰居三室两厅 南北通透', description: '近地铁，采光好。', photos: [await photo(0), await photo(130)],
      district: property.district, community: property.community, area: (property.area_centi_m2 / 100).toFixed(2),
      rooms: property.rooms, halls: property.halls, bathrooms: property.bathrooms, floor: property.floor, floors_total: property.floors_total,
    }, '#agent-entrustments');
    listingId = await agent.page.locator('#agent-listings .role-card').first().getAttribute('data-id');
    assert(/^listing\/LS-/.test(listingId), `a listing (${listingId})`);
  });

  await check('#/seller: the proposed publication appears without a reload; approved, the listing is public', async () => {
    await seller.page.locator('#seller-listings [data-pending]').waitFor({ timeout: 20_000 });
    await seller.step('listing.approve', {}, '#seller-listings');
    const res = await fetch(`${base}/v1/listings/${listingId.split('/')[1]}`);
    assert(res.ok, `the listing is public (${res.status})`);
    const l = await res.json();
    listingCode = l.code;
    assert(l.price_fen === 150_000_000 && l.photos.length === 2, `price and photos as published (${l.price_fen}, ${l.photos.length})`);
  });

  await check('a price change the agent proposes appears live at the seller, who rejects it; the public price stays', async () => {
    await agent.page.reload();
    await agent.page.locator('#agent-listings form[data-kind="listing.change_price"]').waitFor({ state: 'attached', timeout: 20_000 });
    await agent.step('listing.change_price', { price: '140' }, '#agent-listings');
    await seller.page.waitForFunction(() => document.querySelector('#seller-listings [data-pending]')?.textContent.includes('140'), null, { timeout: 20_000 });
    await seller.shot('seller-02-proposal');
    await seller.audit('#/seller (proposal)');
    await seller.step('listing.reject', {}, '#seller-listings');
    const l = await (await fetch(`${base}/v1/listings/${listingId.split('/')[1]}`)).json();
    assert(l.price_fen === 150_000_000, `the rejected price never showed (${l.price_fen})`);
  });

  let viewingStarts;
  await check('#/buyer: search, book a viewing; the agent confirms it and records it once held', async () => {
    await buyer.open('#/buyer', `#buyer-search [data-id="${listingId}"]`);
    await buyer.shot('buyer-01-search');
    await buyer.audit('#/buyer');
    const start = await buyer.page.evaluate(() => {
      const d = new Date(Date.now() + 12_000);
      const p = (n) => String(n).padStart(2, '0');
      return { text: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`, ms: Math.floor(d.getTime() / 1000) * 1000 };
    });
    viewingStarts = start.ms;
    await buyer.step('viewing.book', { slot_start: start.text, minutes: '30' }, `#buyer-search [data-id="${listingId}"]`);
    await agent.page.locator('#agent-viewings form[data-kind="viewing.confirm"]').waitFor({ timeout: 20_000 });
    await agent.step('viewing.confirm', {}, '#agent-viewings');
    await sleep(Math.max(0, viewingStarts - Date.now() + 1500));
    await agent.step('viewing.record', { note: '买方看房约30分钟，对户型满意。' }, '#agent-viewings');
    await seller.page.locator('#seller-viewings .role-card').waitFor({ timeout: 20_000 });
  });

  await check('#/buyer: rate the agent, ask the chosen bank for a loan pre-check; #/bank assesses it', async () => {
    await buyer.page.locator('#buyer-viewings form[data-kind="viewing.rate"]').waitFor({ timeout: 20_000 });
    await buyer.step('viewing.rate', { stars: '5', comment: '讲解细致，准时' }, '#buyer-viewings');
    await buyer.step('loan.request', { bank: BANK, amount: '100', term: '240' }, '#buyer-viewings');
    await bank.page.locator('#bank-queue form[data-kind="loan.assess"]').waitFor({ timeout: 20_000 });
    await bank.shot('bank-01-queue');
    await bank.audit('#/bank');
    await bank.step('loan.assess', { result: 'approved', amount: '100', remarks: '需提供收入证明' }, '#bank-queue');
    await buyer.page.waitForFunction(() => document.querySelector('#buyer-prechecks .assessment')?.textContent.includes('通过'), null, { timeout: 20_000 });
    const agentDoc = await (await fetch(`${base}/v1/agents/AT-0001`)).json();
    assert(agentDoc.rating_count === 1 && agentDoc.rating_sum === 5, `the rating counts (${JSON.stringify(agentDoc)})`);
  });

  await check('#/agent drafts the contract; the buyer sees it ready to sign, the document\'s hash checked in the browser', async () => {
    await agent.page.reload();
    await agent.step('contract.draft', { buyer: buyerId, certificate: property.certificate_no }, '#agent-listings');
    await buyer.page.locator('#buyer-contracts form[data-kind="contract.confirm"]').waitFor({ timeout: 20_000 });
    contractId = await buyer.page.locator('#buyer-contracts .role-card').first().getAttribute('data-id');
    assert((await buyer.page.locator('#buyer-contracts .doc-hash').getAttribute('data-genuine')) === '1', 'the shown document hashes to the contract\'s hash');
    await buyer.page.locator('#buyer-contracts details.doc summary').first().click();
    await buyer.shot('buyer-02-contract');
    await buyer.audit('#/buyer (contract)');
  });

  await check('buyer, seller and agent confirm and e-sign; the housing authority files it', async () => {
    await buyer.step('contract.confirm', {}, '#buyer-contracts');
    await buyer.step('contract.sign', {}, '#buyer-contracts');
    await seller.page.locator('#seller-contracts form[data-kind="contract.confirm"]').waitFor({ timeout: 20_000 });
    await seller.step('contract.confirm', {}, '#seller-contracts');
    await seller.step('contract.sign', {}, '#seller-contracts');
    await agent.page.locator('#agent-contracts form[data-kind="contract.confirm"]').waitFor({ timeout: 20_000 });
    await agent.step('contract.confirm', {}, '#agent-contracts');
    await agent.step('contract.sign', {}, '#agent-contracts');
    await housing.page.locator('#auth-file form[data-kind="contract.file"]').waitFor({ timeout: 20_000 });
    await housing.shot('authority-01-file');
    await housing.audit('#/authority');
    await housing.step('contract.file', {}, '#auth-file');
    await buyer.page.locator(`#buyer-contracts #pdf-${contractId.split('/')[1]}`).waitFor({ timeout: 20_000 });
    filingCode = (await buyer.page.locator('#buyer-contracts a[href^="#/contract/FC-"]').first().innerText()).trim();
    assert(/^FC-/.test(filingCode), `a filing code (${filingCode})`);
  });

  await check('the buyer downloads the filed contract\'s PDF', async () => {
    const [download] = await Promise.all([
      buyer.page.waitForEvent('download', { timeout: 30_000 }),
      buyer.page.click(`#pdf-${contractId.split('/')[1]}`),
    ]);
    const path = join(work, 'contract.pdf');
    await download.saveAs(path);
    const bytes = readFileSync(path);
    assert(bytes.subarray(0, 5).toString() === '%PDF-' && bytes.length > 10_000, `a PDF (${bytes.length} bytes)`);
    await buyer.shot('buyer-03-filed');
  });

  let listing2;
  let contract2;
  let filing2;
  await check('a self-listed deal: the second seller lists the flat with the registry\'s facts and handles the viewing', async () => {
    await enroll(seller2, seller2Person);
    await seller2.page.fill('#me-cert', secondProperty.certificate_no);
    await seller2.page.click('#me-verify');
    await seller2.page.locator('#me-properties .me-property').waitFor({ timeout: 20_000 });
    await seller2.open('#/seller', '#seller-props form[data-kind="listing.publish"]');
    const png = await seller2.page.screenshot({ clip: { x: 0, y: 0, width: 100, height: 80 } });
    await seller2.step('listing.publish', { price: '200', title: '自售房源 近地铁', description: '业主自售。', photos: [{ name: 'a.png', mimeType: 'image/png', buffer: png }] }, '#seller-props');
    listing2 = await seller2.page.locator('#seller-listings .role-card').first().getAttribute('data-id');
    const l = await (await fetch(`${base}/v1/listings/${listing2.split('/')[1]}`)).json();
    assert(l.self_listed === true && l.status === 'active' && l.area_centi_m2 === secondProperty.area_centi_m2, `self-listed, active, the registry's area (${JSON.stringify(l).slice(0, 200)})`);
    await buyer.open('#/buyer', `#buyer-search [data-id="${listing2}"]`);
    const start = await buyer.page.evaluate(() => {
      const d = new Date(Date.now() + 12_000);
      const p = (n) => String(n).padStart(2, '0');
      return { text: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`, ms: Math.floor(d.getTime() / 1000) * 1000 };
    });
    await buyer.step('viewing.book', { slot_start: start.text, minutes: '30' }, `#buyer-search [data-id="${listing2}"]`);
    await seller2.page.locator('#seller-viewings form[data-kind="viewing.confirm"]').waitFor({ timeout: 20_000 });
    await seller2.step('viewing.confirm', {}, '#seller-viewings');
    await sleep(Math.max(0, start.ms - Date.now() + 1500));
    await seller2.step('viewing.record', { note: '业主带看。' }, '#seller-viewings');
  });

  await check('a purchase entrustment: the buyer entrusts the agent, who books a viewing for the buyer within its scope', async () => {
    await buyer.page.reload();
    await buyer.step('entrustment.purchase', { agent: AGENT, budget: '300', districts: secondProperty.district, days: '30' }, '#buyer-entrust');
    await agent.open('#/agent', '#agent-entrustments form[data-kind="entrustment.accept"]');
    await agent.step('entrustment.accept', {}, '#agent-entrustments');
    const offer = `#agent-entrustments .purchase-offers [data-id="${listing2}"]`;
    await agent.page.locator(offer).waitFor({ timeout: 20_000 });
    const start = await agent.page.evaluate(() => {
      const d = new Date(Date.now() + 2 * 86_400_000);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T10:00:00`;
    });
    await agent.step('viewing.book', { slot_start: start, minutes: '60' }, offer);
    await agent.shot('agent-02-purchase');
    await agent.audit('#/agent (purchase)');
    await buyer.page.waitForFunction((l) => [...document.querySelectorAll('#buyer-viewings .role-card')].filter((c) => c.textContent.includes(l.split('/')[1])).length >= 2, listing2, { timeout: 20_000 });
  });

  let proxyId;
  await check('代理人备案: a proxy files for the second seller; the office checks the principal\'s ID card and verifies it', async () => {
    const l2 = await (await fetch(`${base}/v1/listings/${listing2.split('/')[1]}`)).json();
    const principal = l2.seller;
    await enroll(proxy, proxyPerson);
    await proxy.open('#/seller', '#party-proxies form[data-kind="proxy.file"]');
    await proxy.step('proxy.file', {
      principal, property: l2.property, scope: 'contract', days: '60',
      document: { name: 'power-of-attorney.pdf', mimeType: 'application/pdf', buffer: Buffer.from(`%PDF-1.4 授权委托书 ${principal}`) },
    }, '#party-proxies');
    proxyId = await proxy.page.locator('#party-proxies .role-card').first().getAttribute('data-id');
    // Not verified yet: nothing to act on.
    await proxy.page.locator('#party-acting .empty').waitFor({ state: 'attached', timeout: 20_000 });
    assert((await proxy.page.locator('#party-acting #acting-for').count()) === 0, 'no filing to act through before the office verifies it');
    await office.open('#/office', `#office-proxies [data-id="${proxyId}"] form`);
    const id = proxyId.split('/')[1];
    // A wrong ID card first: the identity authority refuses, nothing is signed.
    await office.page.fill(`#f-proxy-check-${id}-name`, seller2Person.name);
    await office.page.fill(`#f-proxy-check-${id}-id`, buyerPerson.id_number);
    await office.page.click(`#f-proxy-check-${id}-go`);
    await office.page.waitForFunction(() => document.getElementById('st-status')?.classList.contains('error'), null, { timeout: 20_000 });
    await office.page.fill(`#f-proxy-check-${id}-name`, seller2Person.name);
    await office.page.fill(`#f-proxy-check-${id}-id`, seller2Person.id_number);
    await office.page.click(`#f-proxy-check-${id}-go`);
    await office.page.locator(`#pv-${id} form[data-kind="proxy.verify"]`).waitFor({ timeout: 20_000 });
    await office.shot('office-02-proxy');
    await office.audit('#/office (proxy)');
    await office.step('proxy.verify', {}, `#pv-${id}`);
    await proxy.page.waitForFunction((p) => document.querySelector(`#party-proxies [data-id="${p}"]`)?.textContent.includes('已核验'), proxyId, { timeout: 20_000 });
    await proxy.page.locator('#party-acting #acting-for').waitFor({ timeout: 20_000 });
    await proxy.shot('proxy-01-verified');
  });

  await check('the seller drafts the contract; e-signing fails and the buyer moves it to paper; the office verifies the scan; filed', async () => {
    await seller2.page.reload();
    await seller2.step('contract.draft', { buyer: buyerId }, '#seller-listings');
    contract2 = await seller2.page.locator('#seller-contracts .role-card').first().getAttribute('data-id');
    const card2 = `#buyer-contracts [data-id="${contract2}"]`;
    // The buyer's agent confirms the buyer's side under the purchase entrustment, the document
    // shown and its hash recomputed in the agent's browser.
    const agentCard = `#agent-buyer-contracts [data-id="${contract2}"]`;
    await agent.page.locator(`${agentCard} form[data-kind="contract.confirm"]`).waitFor({ timeout: 20_000 });
    assert((await agent.page.locator(`${agentCard} .doc-hash`).getAttribute('data-genuine')) === '1', 'the agent\'s browser recomputed the document hash');
    await agent.page.locator(`${agentCard} details.doc summary`).click();
    await agent.shot('agent-03-buyer-contract');
    await agent.audit('#/agent (buyer\'s contract)');
    const agentSeq = await agent.step('contract.confirm', {}, agentCard);
    const agentEntry = await entryAt(agentSeq);
    assert(agentEntry.derived.role === 'buyer' && agentEntry.signed.actor === AGENT, `the agent confirmed as the buyer (${JSON.stringify(agentEntry.derived)})`);
    // The proxy confirms the seller's side for the second seller: the entry names whom for.
    const proxyCard = `#party-acting [data-id="${contract2}"]`;
    await proxy.open('#/seller', `${proxyCard} form[data-kind="contract.confirm"]`);
    await proxy.shot('proxy-02-contract');
    await proxy.audit('#/seller (acting for)');
    const proxySeq = await proxy.step('contract.confirm', {}, proxyCard);
    const proxyEntry = await entryAt(proxySeq);
    const principal = (await (await fetch(`${base}/v1/listings/${listing2.split('/')[1]}`)).json()).seller;
    assert(proxyEntry.derived.on_behalf_of === principal && proxyEntry.derived.proxy === proxyId && proxyEntry.derived.role === 'seller',
      `derived.on_behalf_of names the principal (${JSON.stringify(proxyEntry.derived)})`);
    await buyer.page.locator(`${card2} form[data-kind="contract.move_offline"]`).waitFor({ state: 'attached', timeout: 20_000 });
    await buyer.step('contract.move_offline', { reason: '买方电子签名证书无法使用' }, card2);
    await office.open('#/office', '#office-contracts form[data-kind="contract.verify_offline"]');
    await office.shot('office-01-offline');
    await office.audit('#/office');
    await office.step('contract.verify_offline', { scan: { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 signed paper contract scan ' + contract2) } }, '#office-contracts');
    await housing.page.locator(`#auth-file [data-id="${contract2}"] form[data-kind="contract.file"]`).waitFor({ timeout: 20_000 });
    await housing.step('contract.file', {}, `#auth-file [data-id="${contract2}"]`);
    await buyer.page.locator(`${card2} a[href^="#/contract/FC-"]`).waitFor({ timeout: 20_000 });
    filing2 = (await buyer.page.locator(`${card2} a[href^="#/contract/FC-"]`).innerText()).trim();
    const c = await (await fetch(`${base}/v1/verify/contract/${filing2}`)).json();
    assert(c.contract?.status === 'filed', `filed (${JSON.stringify(c.contract)})`);
  });

  await check('#/authority certifies a new agency and an agent whose key was made in its own browser; the agent signs in and accepts an entrustment; suspended, its step is refused; reinstated, it goes through', async () => {
    // The new agent makes its key in its own browser and shows the binding code.
    await agent2.open('#/agent', '#new-agent-make');
    await agent2.page.click('#new-agent-make');
    await agent2.page.locator('#new-agent-code').waitFor({ timeout: 20_000 });
    const code = await agent2.page.inputValue('#new-agent-code');
    const newAgent = JSON.parse(code).actor;
    assert(/^agent\/AT-/.test(newAgent), `an agent id (${newAgent})`);
    const stored = await agent2.page.evaluate(() => new Promise((resolve, reject) => {
      const req = indexedDB.open('deedlog-keys');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const t = req.result.transaction('keys', 'readonly').objectStore('keys').getAll();
        t.onsuccess = () => resolve(t.result.map((k) => ({ extractable: k.pair?.privateKey?.extractable ?? null, seed: Boolean(k.seed) })));
      };
    }));
    assert(stored.length === 1 && stored[0].extractable === false && !stored[0].seed, `the new agent's key is not extractable (${JSON.stringify(stored)})`);
    await agent2.shot('agent2-01-binding');
    await agent2.audit('#/agent (new agent)');
    // Not certified yet: signing in is refused in words.
    await agent2.page.click('#new-agent-go');
    await agent2.page.waitForFunction(() => document.getElementById('st-status')?.textContent.includes('尚未认证'), null, { timeout: 20_000 });
    // The authority certifies an agency, then the agent with its binding code.
    await housing.open('#/authority', '#auth-certify form[data-kind="agency.certify"]');
    await housing.step('agency.certify', { agency_name: '昆明新居房产经纪有限公司', licence_no: 'KMJJ-2026-0901', district: '五华区', address: '五华区人民中路88号' }, '#auth-certify');
    const agencies = (await (await fetch(`${base}/v1/agencies`)).json()).items;
    const agency = agencies.find((a) => a.licence_no === 'KMJJ-2026-0901');
    assert(agency?.status === 'certified', `the agency is certified (${JSON.stringify(agency)})`);
    // A binding code changed by one character is refused before anything is signed.
    const bad = code.replace(/"proof":"(.)/, (m, c) => `"proof":"${c === 'A' ? 'B' : 'A'}`);
    await housing.page.locator('#auth-certify form[data-kind="agent.certify"] [name="agency"] option', { hasText: 'KMJJ-2026-0901' }).waitFor({ state: 'attached', timeout: 20_000 });
    const fields = { agency: agency.id, licence_no: 'KMJJR-2026-0901', person_name: agent2Person.name, person_id: agent2Person.id_number };
    let refused = '';
    await housing.step('agent.certify', { ...fields, binding: bad }, '#auth-certify').catch((e) => {
      refused = String(e.message);
    });
    assert(refused.includes('绑定码'), `a forged binding code is refused in words (${refused})`);
    await housing.shot('authority-02-certify');
    await housing.audit('#/authority (certify)');
    await housing.step('agent.certify', { ...fields, binding: code }, '#auth-certify');
    const doc = await (await fetch(`${base}/v1/agents/${newAgent.split('/')[1]}`)).json();
    assert(doc.status === 'certified' && doc.agency === agency.id, `the agent is certified (${JSON.stringify(doc)})`);
    // The agent signs in with the key its browser made; the buyer entrusts it to buy.
    await agent2.page.click('#new-agent-go');
    await agent2.page.locator('#agent-entrustments').waitFor({ timeout: 20_000 });
    await buyer.open('#/buyer', '#buyer-entrust form[data-kind="entrustment.purchase"]');
    await buyer.step('entrustment.purchase', { agent: newAgent, budget: '250', districts: '', days: '30' }, '#buyer-entrust');
    await agent2.page.locator('#agent-entrustments form[data-kind="entrustment.accept"]').waitFor({ timeout: 20_000 });
    // Suspended: the agent's next step is refused in words, and nothing is appended.
    await housing.page.reload();
    const agentCard = `#auth-agents [data-id="${newAgent}"]`;
    await housing.step('agent.suspend', { reason: '资格证年检未通过' }, agentCard);
    const size = (await (await fetch(`${base}/v1/log/checkpoint`)).json()).size;
    let words = '';
    await agent2.step('entrustment.accept', {}, '#agent-entrustments').catch((e) => {
      words = String(e.message);
    });
    assert(words.includes('暂停'), `the suspended agent is refused in words (${words})`);
    assert((await (await fetch(`${base}/v1/log/checkpoint`)).json()).size === size, 'nothing appended');
    await agent2.shot('agent2-02-suspended');
    // Reinstated: the same step goes through.
    await housing.page.locator(`${agentCard} form[data-kind="agent.reinstate"]`).waitFor({ timeout: 20_000 });
    await housing.step('agent.reinstate', {}, agentCard);
    await agent2.step('entrustment.accept', {}, '#agent-entrustments');
    await agent2.shot('agent2-03-accepted');
  });

  await check('a lost phone: the seller\'s storage is cleared, #/me offers a new device; a new key is bound after the code to the phone on file, the old one revoked; the new key signs, the old one is refused', async () => {
    const { page } = seller;
    await seller.open('#/me', '#me-property-form');
    // A command signed with the old key, to send once the key is replaced.
    const oldBody = await page.evaluate(async () => {
      const { currentActor, loadKey } = await import('/assets/keys.js');
      const { randomId, signCommand } = await import('/assets/sign.js');
      const key = await loadKey(await currentActor());
      const signed = await signCommand(key, {
        kind: 'entrustment.purchase', stream: randomId('entrustment', 'EN'), expected_version: 0,
        payload: { agent: 'agent/AT-0001', budget_max_fen: 100_000_000, districts: [], expires_at_ms: Date.now() + 30 * 86_400_000 },
      });
      return signed.bodyText;
    });
    // The browser's storage is cleared (a new phone looks the same to the server).
    await page.goto(`${base}/healthz`);
    await page.evaluate(() => new Promise((resolve, reject) => {
      localStorage.clear();
      const req = indexedDB.deleteDatabase('deedlog-keys');
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('blocked'));
    }));
    await seller.open('#/me', '#me-recover-form');
    await seller.shot('seller-05-new-device');
    await seller.audit('#/me (new device)');
    const since = outboxLines();
    await page.fill('#me-recover-name', sellerPerson.name);
    await page.fill('#me-recover-id', sellerPerson.id_number);
    await page.click('#me-recover-send');
    await page.locator('#me-recover-code-form').waitFor({ state: 'visible', timeout: 20_000 });
    await page.fill('#me-recover-code', await smsCode(sellerPerson.phone, 'recover', since));
    await page.click('#me-recover-go');
    await page.locator('#me-property-form').waitFor({ timeout: 20_000 });
    const party = (await page.locator('#me-party').innerText()).trim();
    assert(party === sellerId, `the same party, now on this device (${party} vs ${sellerId})`);
    const seq = Number(await page.locator('.me-receipt').getAttribute('data-seq'));
    const bound = await entryAt(seq);
    const revoked = await entryAt(seq - 1);
    assert(bound.signed.kind === 'key.bind' && bound.signed.actor === 'authority/identity' && bound.stream === sellerId, `key.bind by the identity authority (${JSON.stringify(bound.signed)})`);
    assert(revoked.signed.kind === 'key.revoke' && revoked.stream === sellerId, `the old key revoked first (${JSON.stringify(revoked.signed)})`);
    await seller.shot('seller-06-recovered');
    // The new key signs a step; the command the old key signed is refused.
    await seller.open('#/buyer', '#buyer-entrust form[data-kind="entrustment.purchase"]');
    await seller.step('entrustment.purchase', { agent: AGENT, budget: '100', districts: '', days: '30' }, '#buyer-entrust');
    const res = await fetch(`${base}/v1/commands/entrustment.purchase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: oldBody });
    const body = await res.json();
    assert(res.status === 401 && body.code === 'auth.key_revoked', `the old key is refused (${res.status} ${JSON.stringify(body)})`);
  });

  await check('at a filing office: the buyer\'s storage is cleared; the clerk checks the ID card and the new device\'s key; the device binds with the recovery code', async () => {
    const { page } = buyer;
    await page.goto(`${base}/healthz`);
    await page.evaluate(() => new Promise((resolve, reject) => {
      localStorage.clear();
      const req = indexedDB.deleteDatabase('deedlog-keys');
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('blocked'));
    }));
    await buyer.open('#/me', '#me-office-show');
    await page.click('#me-office-show');
    await page.locator('#me-office-key').waitFor({ timeout: 20_000 });
    const deviceKey = await page.inputValue('#me-office-key');
    await office.open('#/office', '#f-office-recover');
    // A card that is not the person's: refused in words, nothing made.
    await office.page.fill('#f-office-recover-name', buyerPerson.name);
    await office.page.fill('#f-office-recover-id', sellerPerson.id_number);
    await office.page.fill('#f-office-recover-key', deviceKey);
    await office.page.click('#f-office-recover-go');
    await office.page.waitForFunction(() => document.getElementById('st-status')?.classList.contains('error'), null, { timeout: 20_000 });
    await office.page.fill('#f-office-recover-id', buyerPerson.id_number);
    await office.page.click('#f-office-recover-go');
    await office.page.locator('#office-recover-text').waitFor({ timeout: 20_000 });
    await office.shot('office-03-recover');
    await office.audit('#/office (new device)');
    await page.fill('#me-office-code', await office.page.inputValue('#office-recover-text'));
    await page.click('#me-office-go');
    await page.locator('#me-property-form').waitFor({ timeout: 20_000 });
    const party = (await page.locator('#me-party').innerText()).trim();
    assert(party === buyerId, `the same party, now on this device (${party} vs ${buyerId})`);
    const bound = await entryAt(Number(await page.locator('.me-receipt').getAttribute('data-seq')));
    assert(bound.signed.kind === 'key.bind' && bound.stream === buyerId, `key.bind of the new key (${JSON.stringify(bound.signed)})`);
    const onLog = await (await fetch(`${base}/v1/actors/key?actor=${encodeURIComponent(buyerId)}`)).json();
    assert(onLog.key === deviceKey, 'the device\'s key is the party\'s current key');
  });

  await check('the public pages of the listing and the contract show green', async () => {
    for (const [p, hash] of [[buyer, `#/v/${listingCode}`], [buyer, `#/contract/${filingCode}`], [buyer, `#/contract/${filing2}`]]) {
      await p.page.goto('about:blank');
      await p.page.goto(`${base}/${hash}`);
      await p.page.waitForFunction(() => ['green', 'red', 'unknown'].includes(document.querySelector('.badge')?.dataset.state), null, { timeout: 60_000 });
      const state = await p.page.locator('.badge').first().getAttribute('data-state');
      assert(state === 'green', `${hash}: green (${state}: ${await p.page.locator('.badge').first().innerText()})`);
    }
    await buyer.shot('public-contract');
  });

  await check('deedlog verify --server … --semantic (as the housing authority) is clean', async () => {
    const r = spawnSync(bin, ['verify', '--server', base, '--semantic', '--as', 'authority/housing', '--key', join(data, 'keys', 'authority_housing.key')], { encoding: 'utf8', timeout: 120_000 });
    assert(r.status === 0, `exit ${r.status}: ${r.stdout}\n${r.stderr}`);
  });

  await check('no person\'s name, phone or ID number shows in another person\'s context', async () => {
    const secrets = { seller: sellerPerson, buyer: buyerPerson, seller2: seller2Person, proxy: proxyPerson };
    const screens = { seller: ['#/me', '#/seller'], seller2: ['#/me', '#/seller'], buyer: ['#/me', '#/buyer'], agent: ['#/agent'], bank: ['#/bank'], office: ['#/office'], authority: ['#/authority'], proxy: ['#/me', '#/seller'], agent2: ['#/agent'] };
    for (const p of everyone) {
      for (const hash of screens[p.name]) {
        await p.page.goto('about:blank');
        await p.page.goto(`${base}/${hash}`);
        await p.page.locator('main h1').waitFor();
        await p.page.locator('main .role-section .cards, main .role-section .empty, #me-properties, #me-property-form').first().waitFor({ state: 'attached', timeout: 20_000 }).catch(() => {});
        await sleep(500);
        const text = await p.text();
        for (const [whose, s] of Object.entries(secrets)) {
          if (whose === p.name) continue;
          for (const v of [s.name, s.phone, s.id_number]) assert(!text.includes(v), `${p.name} ${hash} shows ${whose}'s ${v}`);
        }
      }
    }
  });

  await check('no request went to another host, and no script error', async () => {
    assert(foreign.length === 0, `foreign requests: ${foreign.join(', ')}`);
    const real = consoleErrors.filter((e) => !/Failed to load resource|net::ERR_|status of 40[14]|status of 429/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });

  // Page weight of each screen, with the deal's data in it: cold (the browser's cache cleared
  // first) and warm (opened again at once, the assets revalidated).
  stopped = false;
  for (const [p, hash, ready] of [[seller, '#/me', '#me-properties'], [seller, '#/seller', '#seller-listings .cards'], [buyer, '#/buyer', '#buyer-contracts .cards'], [agent, '#/agent', '#agent-contracts .cards'], [bank, '#/bank', '#bank-queue .empty'], [office, '#/office', '#office-contracts .empty'], [housing, '#/authority', '#auth-agents .cards']]) {
    try {
      await p.clearCache();
      const cold = await p.open(hash, ready);
      const warm = await p.open(hash, ready);
      figures.page_weight_bytes[hash.slice(2)] = { cold, warm };
    } catch (e) {
      console.log(`note could not weigh ${hash}: ${e?.message ?? e}`);
    }
  }
  writeFileSync(join(repo, 'target', 'browser-deal-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`figures written to target/browser-deal-figures.json: ${JSON.stringify(figures)}`);
  for (const p of everyone) await p.context.close();
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
console.log(`deal: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
