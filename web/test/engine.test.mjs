// The step engine's input rules (web/public/engine.js): what a form accepts before anything is
// signed, with the server's bounds, and no floats on the way from typed text to integer fen.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { checkArea, checkDateTime, checkHex64, checkId, checkInt, checkText, checkWan, documentHash, lumpSumTerms, STEPS } from '../public/engine.js';
import { InputError } from '../public/session.js';

const refuses = (fn, key) => assert.throws(fn, (e) => e instanceof InputError && e.key === key);

test('money typed in 万元 becomes integer fen, exactly', () => {
  assert.equal(checkWan('150'), 150_000_000);
  assert.equal(checkWan('120.5'), 120_500_000);
  assert.equal(checkWan('0.01'), 10_000);
  // 0.1 + 0.2 style rounding cannot happen: the digits are read as integers.
  assert.equal(checkWan('99.99'), 99_990_000);
  for (const bad of ['', '0', '1,000', '1e3', '-5', '1.234', ' 12 3', '¥100', '100000000']) refuses(() => checkWan(bad), 'st_in_wan');
  refuses(() => checkWan('150', { max: 149_999_999 }), 'st_in_wan');
});

test('areas typed in ㎡ become hundredths', () => {
  assert.equal(checkArea('123.71'), 12_371);
  assert.equal(checkArea('89.5'), 8_950);
  for (const bad of ['0', 'abc', '1.234', '-3']) refuses(() => checkArea(bad), 'st_in_area');
});

test('free text is bounded, NFC, without controls, ID numbers or mobile numbers', () => {
  assert.equal(checkText('  e\u0301 ok ', { max: 10 }), 'é ok');
  refuses(() => checkText('', { min: 1, max: 10 }), 'st_in_text');
  refuses(() => checkText('x'.repeat(11), { max: 10 }), 'st_in_text');
  refuses(() => checkText('a\u0007b', { max: 10 }), 'st_in_controls');
  assert.equal(checkText('一行\n两行', { max: 10, lines: true }), '一行\n两行');
  refuses(() => checkText('一行\n两行', { max: 10 }), 'st_in_controls');
  for (const personal of ['联系 13812345678', '身份证 53010219900101001X', '电话 138-1234-5678', '电话 １３８１２３４５６７８']) {
    refuses(() => checkText(personal, { max: 100 }), 'st_in_personal');
  }
  assert.equal(checkText('总价 150 万，5 楼', { max: 100 }), '总价 150 万，5 楼');
});

test('whole numbers, times, hashes and ids keep to their forms', () => {
  assert.equal(checkInt('-1', { min: -10, max: 200 }), -1);
  refuses(() => checkInt('1.5', { min: 0, max: 9 }), 'st_in_int');
  refuses(() => checkInt('201', { min: 1, max: 200 }), 'st_in_int');
  assert.ok(Number.isSafeInteger(checkDateTime('2030-01-02T03:04:05')));
  refuses(() => checkDateTime('tomorrow'), 'st_in_datetime');
  assert.equal(checkHex64('A'.repeat(64)), 'a'.repeat(64));
  refuses(() => checkHex64('g'.repeat(64)), 'st_in_hash');
  assert.equal(checkId('party/PA-1a2b', 'party', 'PA'), 'party/PA-1a2b');
  refuses(() => checkId('agent/AT-1', 'party', 'PA'), 'st_in_id');
});

test('contract terms add up and the document hash is that of their canonical JSON', async () => {
  const terms = lumpSumTerms({
    seller: 'party/PA-1', buyer: 'party/PA-2', agent: null, property: 'property/PR-1', certificate_no: 'c',
    area_centi_m2: 8950, mortgage: null, price_fen: 150_000_000, deposit_fen: 7_500_000, pay_days: 30, condition: '现状交付', venue: '昆明市五华区人民法院',
  });
  assert.equal(terms.price.schedule.reduce((a, p) => a + p.amount_fen, 0), terms.price.total_fen);
  assert.ok(terms.deposit.due_ms < terms.price.schedule[0].due_ms && terms.price.schedule[0].due_ms < terms.handover.date_ms);
  assert.equal(terms.parties.agent, undefined, 'a self-listing names no agent');
  assert.equal(terms.title.mortgage, undefined);
  const a = await documentHash(terms);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(await documentHash(JSON.parse(JSON.stringify(terms))), a, 'key order does not matter');
  assert.notEqual(await documentHash({ ...terms, handover: { ...terms.handover, condition: '带家具' } }), a);
});

test('every step names who may sign it, and only the kinds the authorization table allows', () => {
  const allowed = { 'loan.assess': ['bank'], 'contract.file': ['authority'], 'contract.verify_offline': ['office'], 'proxy.verify': ['office'], 'listing.approve': ['party'] };
  for (const [kind, signers] of Object.entries(allowed)) assert.deepEqual(STEPS[kind].signers, signers, kind);
  for (const step of Object.values(STEPS)) assert.ok(step.signers.length >= 1 && typeof step.payload === 'function');
});
