// 在线沟通 in a real browser: seller, buyer and agent in three browser contexts exchange messages
// about a listing; a fourth person (another buyer) can neither see nor post in their
// conversation; the texts never show on the public listing page; axe-core finds no serious or
// critical violation on the panel; screenshots at phone and desktop size go to
// target/browser-screenshots/messages-*.png. The demo SMS panel of `#/me` is absent on a node
// started without `--demo-sms`.
//
//   node browser/messages.browser.mjs       (DEEDLOG_BIN: the binary, default target/debug/deedlog)
//
// Each check prints `ok` or `FAIL`; the last line is `messages: N passed, M failed`.
import { assert, launch, person, reference, sleep, startServer, suite } from './harness.mjs';

const s = suite('messages');
const properties = reference('properties.json');
const owners = new Set(properties.flatMap((p) => p.owners.map((o) => o.id_number)));
const citizens = reference('citizens.json');
const property = properties.find((p) => p.owners.length === 1 && !p.mortgage && !p.seizure && citizens.some((c) => c.id_number === p.owners[0].id_number));
const sellerPerson = property.owners[0];
const buyers = citizens.filter((c) => !owners.has(c.id_number) && c.phone !== sellerPerson.phone);
const [buyerPerson, otherPerson] = buyers;
const AGENT = 'agent/AT-0001';

let srv;
let demo;
let browser;
try {
  srv = await startServer('messages');
  const { base } = srv;
  browser = await launch();
  const seen = { foreign: [], consoleErrors: [] };
  const seller = await person(browser, srv, 'messages', 'seller', seen);
  const buyer = await person(browser, srv, 'messages', 'buyer', seen);
  const agent = await person(browser, srv, 'messages', 'agent', seen);
  const other = await person(browser, srv, 'messages', 'other', seen);
  s.onFailure.push(seller, buyer, agent, other);
  let listingId;
  let listingCode;
  let buyerId;
  const words = ['请问这套房周末可以看吗？', '可以，周六上午十点在小区门口见。', '业主补充：房子南北通透，随时可看。'];

  await s.check('the demo SMS panel is absent without --demo-sms; seller and buyers register', async () => {
    await seller.enroll(sellerPerson);
    assert(await seller.page.locator('#demo-sms').count() === 0, 'no demo SMS panel on a node without --demo-sms');
    const res = await fetch(`${base}/v1/identity/demo/sms?challenge=ch-${'0'.repeat(32)}&phone=13900000000`);
    assert(res.status === 404 && (await res.json()).code === 'demo.sms_off', `the demo route is off (${res.status})`);
    buyerId = await buyer.enroll(buyerPerson);
    await other.enroll(otherPerson);
    await seller.page.fill('#me-cert', property.certificate_no);
    await seller.page.click('#me-verify');
    await seller.page.locator('#me-properties .me-property').waitFor({ timeout: 20_000 });
  });

  await s.check('the seller entrusts the agent, who publishes the listing', async () => {
    await agent.signIn('agent', AGENT);
    await seller.open('#/seller', '#seller-props form[data-kind="entrustment.sale"]');
    await seller.step('entrustment.sale', { agent: AGENT, floor_price: '100', days: '90', review: false }, '#seller-props');
    await agent.page.locator('#agent-entrustments form[data-kind="entrustment.accept"]').waitFor({ timeout: 20_000 });
    await agent.step('entrustment.accept', {}, '#agent-entrustments');
    const photo = async (x) => ({ name: `photo-${x}.png`, mimeType: 'image/png', buffer: await agent.page.screenshot({ clip: { x, y: 0, width: 120, height: 90 } }) });
    await agent.step('listing.publish', {
      price: '150', title: '两室一厅 近地铁', description: '采光好。', photos: [await photo(0)],
      district: property.district, community: property.community, area: (property.area_centi_m2 / 100).toFixed(2),
      rooms: property.rooms, halls: property.halls, bathrooms: property.bathrooms, floor: property.floor, floors_total: property.floors_total,
    }, '#agent-entrustments');
    listingId = await agent.page.locator('#agent-listings .role-card').first().getAttribute('data-id');
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${base}/v1/listings/${listingId.split('/')[1]}`);
      if (r.ok) {
        listingCode = (await r.json()).code;
        break;
      }
      await sleep(250);
    }
    assert(listingCode, 'the listing is public');
  });

  const chat = (id) => `#chat-${id.split('/')[1]}`;
  await s.check('the buyer writes from the listing card (在线沟通), the bounded input refusing an ID number', async () => {
    await buyer.open('#/buyer', `#buyer-search [data-id="${listingId}"]`);
    await buyer.page.click(`#buyer-search [data-id="${listingId}"] button[data-chat]`);
    await buyer.page.locator('#chat-panel #chat-form').waitFor({ timeout: 20_000 });
    assert(await buyer.page.getAttribute('#chat-text', 'maxlength') === '1000', 'the input is bounded');
    await buyer.page.fill('#chat-text', '我的身份证号是 530111197905129301');
    await buyer.page.click('#chat-send');
    await buyer.page.waitForFunction(() => document.getElementById('chat-status')?.classList.contains('error'));
    assert(await buyer.page.locator('#chat-log li').count() === 0, 'nothing was sent');
    await buyer.page.fill('#chat-text', words[0]);
    await buyer.page.click('#chat-send');
    await buyer.page.locator('#chat-log li.mine').waitFor({ timeout: 20_000 });
    await buyer.shot('01-buyer-panel');
    await buyer.audit('the 在线沟通 panel (buyer)');
  });

  await s.check('the agent sees the unread count, opens the buyer\'s conversation and answers', async () => {
    await agent.open('#/agent', `#agent-listings [data-id="${listingId}"] button[data-chat]`);
    await agent.page.waitForFunction((sel) => document.querySelector(sel)?.dataset.unread === '1', `#agent-listings ${chat(listingId)}`, { timeout: 20_000 });
    await agent.page.click(`#agent-listings ${chat(listingId)}`);
    await agent.page.click(`#chat-panel button[data-buyer="${buyerId}"]`);
    await agent.page.locator('#chat-log li.theirs').waitFor({ timeout: 20_000 });
    assert((await agent.page.locator('#chat-log').innerText()).includes(words[0]), 'the agent reads the buyer\'s message');
    await agent.page.fill('#chat-text', words[1]);
    await agent.page.click('#chat-send');
    await agent.page.locator('#chat-log li.mine').waitFor({ timeout: 20_000 });
    await agent.shot('02-agent-panel');
    await agent.audit('the 在线沟通 panel (agent)');
  });

  await s.check('the seller joins; the buyer\'s open panel shows both answers live', async () => {
    await seller.open('#/seller', `#seller-listings ${chat(listingId)}`);
    await seller.page.click(`#seller-listings ${chat(listingId)}`);
    await seller.page.click(`#chat-panel button[data-buyer="${buyerId}"]`);
    await seller.page.waitForFunction(() => document.querySelectorAll('#chat-log li').length === 2, null, { timeout: 20_000 });
    await seller.page.fill('#chat-text', words[2]);
    await seller.page.click('#chat-send');
    await seller.page.locator('#chat-log li.mine').waitFor({ timeout: 20_000 });
    await buyer.page.waitForFunction(() => document.querySelectorAll('#chat-log li').length === 3, null, { timeout: 20_000 });
    const text = await buyer.page.locator('#chat-log').innerText();
    assert(words.every((w) => text.includes(w)), `the buyer sees every message (${text})`);
    await seller.shot('03-seller-panel');
    await seller.audit('the 在线沟通 panel (seller)');
    await buyer.page.setViewportSize({ width: 390, height: 844 });
    await buyer.shot('04-buyer-live');
  });

  await s.check('another buyer neither sees nor posts in that conversation', async () => {
    await other.open('#/buyer', `#buyer-search [data-id="${listingId}"]`);
    await other.page.click(`#buyer-search [data-id="${listingId}"] button[data-chat]`);
    await other.page.locator('#chat-panel #chat-form').waitFor({ timeout: 20_000 });
    await sleep(1000);
    const own = await other.page.locator('#chat-panel').innerText();
    assert(!words.some((w) => own.includes(w)), 'its own conversation shows none of them');
    const codes = await other.page.evaluate(async ({ listing, buyerId: b }) => {
      const { currentActor, loadKey } = await import('/assets/keys.js');
      const { signedFetch } = await import('/assets/sign.js');
      const key = await loadKey(await currentActor());
      const path = `/v1/messages/listings/${listing.split('/')[1]}/${b.split('/')[1]}`;
      const out = [];
      for (const [m, body] of [['GET', undefined], ['POST', { text: '我也想看看' }]]) {
        try {
          await signedFetch(key, m, path, body);
          out.push('accepted');
        } catch (e) {
          out.push(e.code);
        }
      }
      return out;
    }, { listing: listingId, buyerId });
    assert(codes.every((c) => c === 'message.not_participant'), `refused (${codes})`);
  });

  await s.check('the messages never show on the public listing page or in its answer', async () => {
    const answer = await (await fetch(`${base}/v1/listings/${listingId.split('/')[1]}`)).text();
    assert(!words.some((w) => answer.includes(w)), 'not in the public answer');
    await other.open(`#/v/${listingCode}`, '.badge');
    await sleep(1500);
    const page = await other.text?.() ?? await other.page.locator('body').innerText();
    assert(!words.some((w) => page.includes(w)), 'not on the public page');
    const log = await (await fetch(`${base}/v1/log/entries?start=0&end=1000`)).text();
    assert(!words.some((w) => log.includes(w)), 'not on the log');
  });

  await s.check('no request went to another host, and no script error', async () => {
    assert(seen.foreign.length === 0, `foreign requests: ${seen.foreign.join(', ')}`);
    const real = seen.consoleErrors.filter((e) => !/Failed to load resource|net::ERR_|status of 40[134]|status of 429/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });

  // The demo SMS panel: on only for a node started with --demo-sms.
  await srv.stop();
  srv = null;
  demo = await startServer('messages-demo', ['--demo-sms']);
  const visitor = await person(browser, demo, 'messages', 'visitor', seen);
  s.onFailure.push(visitor);
  await s.check('with --demo-sms, #/me shows the code sent to the number just typed, marked as a demo', async () => {
    const who = buyers[2];
    await visitor.open('#/me', '#me-phone-form');
    const since = demo.outboxLines();
    await visitor.page.fill('#me-phone', who.phone);
    await visitor.page.click('#me-phone-send');
    await visitor.page.locator('#demo-sms-code').waitFor({ timeout: 20_000 });
    const shown = (await visitor.page.locator('#demo-sms-code').innerText()).trim();
    assert(shown === await demo.smsCode(who.phone, 'phone', since), `the code in the outbox (${shown})`);
    assert((await visitor.page.locator('#demo-sms').innerText()).includes('演示'), 'marked as a demo');
    await visitor.shot('05-demo-sms');
    await visitor.audit('#/me with the demo SMS panel');
    await visitor.page.fill('#me-code', shown);
    await visitor.page.click('#me-register');
    await visitor.page.locator('#me-real-form').waitFor({ timeout: 20_000 });
  });
} catch (e) {
  s.fail('setup', e);
} finally {
  await browser?.close();
  await srv?.stop();
  await demo?.stop();
}
process.exit(s.finish());
