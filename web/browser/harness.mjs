// What the browser suites share: a `deedlog serve` on a fresh data folder, Debian's chromium
// through playwright-core, one browser context per person with its helpers (screens, steps,
// screenshots at phone and desktop size, the axe-core audit, requests to other hosts), the
// registration at `#/me` with codes read from the operator's outbox, the institutions' key
// import, and the `ok` / `FAIL` lines with the `NAME: N passed, M failed` summary.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = fileURLToPath(new URL('.', import.meta.url));
export const repo = join(here, '..', '..');
export const shots = join(repo, 'target', 'browser-screenshots');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
export const reference = (name) => JSON.parse(readFileSync(join(repo, 'ledger-data', 'reference', name), 'utf8'));

/** A suite: its checks run in order; after a failed one the later ones are reported not run. */
export function suite(name) {
  const results = [];
  let stopped = false;
  const onFailure = [];
  return {
    onFailure,
    async check(title, fn) {
      if (stopped) {
        results.push(false);
        console.log(`FAIL ${title}: not run, an earlier step failed`);
        return;
      }
      try {
        await fn();
        results.push(true);
        console.log(`ok   ${title}`);
      } catch (e) {
        results.push(false);
        stopped = true;
        console.log(`FAIL ${title}: ${e?.stack ?? e}`);
        for (const p of onFailure) await p.page.screenshot({ path: join(shots, `${name}-failed-${p.name}.png`), fullPage: true }).catch(() => {});
      }
    },
    fail(title, e) {
      results.push(false);
      console.log(`FAIL ${title}: ${e?.stack ?? e}`);
    },
    finish() {
      const passed = results.filter(Boolean).length;
      const failed = results.length - passed;
      console.log(`${name}: ${passed} passed, ${failed} failed`);
      return failed === 0 ? 0 : 1;
    },
  };
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** Starts `deedlog serve` (with `extraArgs`) on a fresh folder; resolves once it is ready. */
export async function startServer(label, extraArgs = []) {
  mkdirSync(shots, { recursive: true });
  const bin = process.env.DEEDLOG_BIN ?? join(repo, 'target', 'debug', 'deedlog');
  const work = mkdtempSync(join(tmpdir(), `deedlog-${label}-`));
  const data = join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['serve', '--data', data, '--bind', `127.0.0.1:${port}`, ...extraArgs], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => {
    log += d;
  });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not start:\n${log}`);
    await sleep(250);
  }
  const outbox = join(data, 'outbox', 'sms.jsonl');
  const outboxLines = () => (existsSync(outbox) ? readFileSync(outbox, 'utf8').split('\n').filter(Boolean).length : 0);
  async function smsCode(to, purpose, since) {
    const until = Date.now() + 15_000;
    for (;;) {
      const lines = existsSync(outbox) ? readFileSync(outbox, 'utf8').split('\n').filter(Boolean) : [];
      const found = lines.slice(since).map((l) => JSON.parse(l)).filter((l) => l.to === to && l.purpose === purpose).pop();
      if (found) return found.code;
      if (Date.now() > until) throw new Error(`no ${purpose} code for ${to} in the outbox`);
      await sleep(100);
    }
  }
  const stop = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(work, { recursive: true, force: true });
  };
  return { base, data, work, outboxLines, smsCode, stop };
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, acceptDownloads: true };

/** Debian's chromium, headless. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}


/**
 * Fills step form `form` (a locator) of step `kind` with `values`. A live update may redraw the
 * section while the test fills it; the page carries typed values into the redrawn form, but a
 * value the browser's driver set on an element just replaced is lost with it. So the form is read
 * back once no section is drawing, and filled again while a value is missing.
 */
export async function fillStep(page, form, kind, values) {
  // A file input's value is an array of files, one file payload ({ name, mimeType, buffer }) or
  // one path: what is checked is how many files it holds.
  const files = (v) => (Array.isArray(v) ? v.length : 1);
  const want = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'boolean' ? v : Array.isArray(v) || (v && typeof v === 'object') ? files(v) : String(v)]));
  for (let round = 1; ; round++) {
    for (const [field, v] of Object.entries(values)) {
      const el = form.locator(`[name="${field}"]`);
      const tag = await el.evaluate((e) => `${e.tagName.toLowerCase()}:${e.type}`);
      if (tag.startsWith('select')) await el.selectOption(String(v));
      else if (tag === 'input:checkbox') await el.setChecked(Boolean(v));
      else if (tag === 'input:file') await el.setInputFiles(v);
      else await el.fill(String(v));
    }
    await page.waitForFunction(() => !document.querySelector('[data-drawing]'), null, { timeout: 30_000 });
    const lost = await form.evaluate((f, w) => Object.entries(w).filter(([name, v]) => {
      const e = f.elements[name];
      if (!e) return true;
      if (e.type === 'file') return (e.files?.length ?? 0) !== (typeof v === 'number' ? v : 1);
      if (e.type === 'checkbox') return e.checked !== v;
      return v !== '' && e.value === '';
    }).map(([name]) => name), want);
    if (!lost.length) return;
    if (round === 3) throw new Error(`${kind}: the form lost ${lost.join(', ')} in three redraws running`);
  }
}

/** One person: a context and its page, with `open`, `step`, `shot`, `audit`. */
export async function person(browser, srv, label, name, { foreign, consoleErrors }) {
  const { base } = srv;
  const context = await browser.newContext(PHONE);
  context.on('request', (req) => {
    const u = new URL(req.url());
    if (u.origin !== base && !['data:', 'about:', 'blob:'].includes(u.protocol)) foreign.push(`${name}: ${req.url()}`);
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e}`));
  const axe = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const p = { name, context, page };
  p.open = async (hash, ready) => {
    await page.goto('about:blank');
    await page.goto(`${base}/${hash}`);
    await page.locator(ready).first().waitFor({ state: 'attached', timeout: 30_000 });
    await sleep(500);
  };
  p.shot = async (shot) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 390, `${shot}: no sideways scrolling at phone size (${width}px)`);
    await page.screenshot({ path: join(shots, `${label}-${shot}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: join(shots, `${label}-${shot}-desktop.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
  };
  p.audit = async (what) => {
    await page.evaluate(axe);
    const found = await page.evaluate(async () => (await globalThis.axe.run(document, { resultTypes: ['violations'] })).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
    assert(found.length === 0, `${what}: accessibility violations: ${found.join('; ')}`);
  };
  p.step = async (kind, values = {}, within = null) => {
    await page.waitForFunction(() => !document.querySelector('[data-drawing]'), null, { timeout: 30_000 });
    const scope = within ? page.locator(within).first() : page;
    const form = scope.locator(`form[data-kind="${kind}"]`).first();
    await form.waitFor({ state: 'attached', timeout: 30_000 });
    const details = form.locator('xpath=ancestor::details[1]');
    if ((await details.count()) && !(await details.evaluate((d) => d.open))) await details.locator('summary').first().click();
    await fillStep(page, form, kind, values);
    const before = await page.locator('#st-receipt').getAttribute('data-seq');
    await form.locator('button[type="submit"]').click();
    await page.waitForFunction((b) => {
      const r = document.getElementById('st-receipt');
      return (r && r.dataset.seq && r.dataset.seq !== b) || document.getElementById('st-status')?.classList.contains('error');
    }, before, { timeout: 30_000 });
    if (await page.locator('#st-status.error').count()) throw new Error(`${name}: ${kind} refused: ${await page.locator('#st-status').innerText()}`);
    return Number(await page.locator('#st-receipt').getAttribute('data-seq'));
  };
  p.enroll = async (who) => {
    await p.open('#/me', '#me-phone-form');
    let since = srv.outboxLines();
    await page.fill('#me-phone', who.phone);
    await page.click('#me-phone-send');
    await page.locator('#me-code-form').waitFor({ state: 'visible' });
    await page.fill('#me-code', await srv.smsCode(who.phone, 'phone', since));
    await page.click('#me-register');
    await page.locator('#me-real-form').waitFor({ timeout: 20_000 });
    since = srv.outboxLines();
    await page.fill('#me-name', who.name);
    await page.fill('#me-id', who.id_number);
    await page.click('#me-real-send');
    await page.locator('#me-real-code-form').waitFor({ state: 'visible' });
    await page.fill('#me-real-code', await srv.smsCode(who.phone, 'realname', since));
    await page.click('#me-real-attest');
    await page.locator('#me-property-form').waitFor({ timeout: 20_000 });
    return page.locator('#me-party').innerText();
  };
  p.signIn = async (role, actor) => {
    await p.open(`#/${role}`, '#key-import');
    await page.setInputFiles('#key-file', join(srv.data, 'keys', `${actor.replace('/', '_')}.key`));
    if (!(await page.inputValue('#key-actor'))) await page.fill('#key-actor', actor);
    await page.click('#key-import-go');
    await page.locator('.role-section').first().waitFor({ timeout: 20_000 });
  };
  return p;
}
