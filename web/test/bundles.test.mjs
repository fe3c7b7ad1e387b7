// Proof bundles of both entry formats, the binding of a verified entry to the answer it backs,
// price points, and the remembered checkpoint: each attack a dishonest server could try fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBase64, toBase64, toHex, utf8 } from '../public/crypto.js';
import { canonicalText } from '../public/canonical.js';
import {
  bindContract, bindDocument, bindListing, bindPricePoint, checkAgainstSeen, derivedCode,
  openCheckpoint, parseVkey, ProofError, verifyBundle,
} from '../public/verify.js';
import { consistency, logKey, MemoryStorage, TestLog, root } from './helpers.mjs';

const PUBLISH = {
  agent: null, area_centi_m2: 8950, bathrooms: 1, community: '翠湖花园', description: '南北通透。',
  district: '五华区', entrustment: null, floor: 5, floors_total: 7, halls: 1,
  photos: ['ab'.repeat(32)], price_fen: 120000000, rooms: 2, title: '翠湖旁两室一厅', verification: 'verification/PV-1',
};

/** A log with a published listing (in `format`), a price change, and an unrelated entry. */
async function listingLog(format) {
  const key = await logKey('deedlog.test/log');
  const log = new TestLog(key);
  await log.add({ stream: 'genesis', kind: 'Genesis', signedKind: 'platform.genesis', payload: {}, actor: 'platform' });
  const stream = 'listing/LS-1';
  const code = await derivedCode('LV', 1, stream);
  const derived = { listing_code: code, property: 'property/PR-1', seller: 'party/PA-1', verification: 'verification/PV-1' };
  await log.add({ format, stream, kind: 'ListingPublished', signedKind: 'listing.publish', payload: PUBLISH, derived });
  await log.add({ format, stream: 'listing/LS-2', kind: 'ListingPublished', signedKind: 'listing.publish', payload: PUBLISH,
    derived: { ...derived, listing_code: await derivedCode('LV', 2, 'listing/LS-2') } });
  await log.add({ format, stream, kind: 'ListingPriceChanged', signedKind: 'listing.change_price', payload: { price_fen: 110000000 } });
  const listing = {
    id: stream, code, status: 'active', price_fen: 110000000, area_centi_m2: 8950, rooms: 2, halls: 1, bathrooms: 1,
    floor: 5, floors_total: 7, district: '五华区', community: '翠湖花园', title: '翠湖旁两室一厅', description: '南北通透。',
    photos: PUBLISH.photos, self_listed: true, review_agent_edits: false, agent: null, seller: 'party/PA-1', entrustment: null,
    verification: 'verification/PV-1', verification_code: 'PV-0011223344556677', property: 'property/PR-1',
    published_at_ms: 1764547201005, updated_seq: 3, created_seq: 1,
    price_history: [
      { seq: 1, price_fen: 120000000, recorded_at_ms: 1764547201005, signer: 'party/PA-1', kind: 'ListingPublished' },
      { seq: 3, price_fen: 110000000, recorded_at_ms: 1764547203005, signer: 'party/PA-1', kind: 'ListingPriceChanged' },
    ],
    price_history_total: 2,
  };
  const answer = async () => ({ code, listing: structuredClone(listing), proof: await log.bundle(1), current: await log.bundle(3) });
  return { key: await parseVkey(key.vkey), log, code, answer };
}

for (const format of [1, 2]) {
  test(`v${format}: a genuine listing answer binds, fields verified or said not to be`, async () => {
    const { key, code, answer } = await listingLog(format);
    const { binding, bundles } = await bindListing(code, await answer(), key);
    assert.equal(bundles.length, 2);
    assert.equal(bundles[0].format, format);
    for (const f of ['listing.price_fen', 'listing.district', 'listing.title', 'listing.updated_seq', 'listing.seller']) {
      assert.ok(binding.isVerified(f), f);
    }
    assert.equal(binding.fields.get('listing.price_fen').seq, 3);
    for (const f of ['listing.status', 'listing.photos', 'listing.verification_code', 'listing.price_history']) {
      assert.equal(binding.isVerified(f), false, f);
    }
  });

  test(`v${format}: every tampered answer is red with its reason`, async () => {
    const { key, log, code, answer } = await listingLog(format);
    const cases = {
      'the price shown': async (a) => { a.listing.price_fen = 100000000; },
      'the district shown': async (a) => { a.listing.district = '盘龙区'; },
      'one byte of the entry': async (a) => {
        const bytes = fromBase64(a.proof.entry);
        bytes[bytes.length - 3] ^= 1;
        a.proof.entry = toBase64(bytes);
      },
      'one byte of the proof': async (a) => {
        a.current.inclusion[0] = (a.current.inclusion[0][0] === '0' ? '1' : '0') + a.current.inclusion[0].slice(1);
      },
      'one byte of the checkpoint': async (a) => { a.proof.checkpoint = a.proof.checkpoint.replace('\n4\n', '\n5\n'); },
      'a valid bundle of an unrelated entry': async (a) => { a.proof = await log.bundle(2); },
      'a valid bundle of the genesis entry as current': async (a) => { a.current = await log.bundle(0); },
      'a bundle under another log key': async (a) => {
        const other = new TestLog(await logKey('deedlog.test/log', 'another key'));
        for (let i = 0; i < log.entries.length; i++) other.entries.push(log.entries[i]), other.leaves.push(log.leaves[i]), other.openings.push(log.openings[i]);
        a.proof = await other.bundle(1);
      },
      'the code asked': async (a) => { a.code = 'LV-0000000000000000'; a.listing.code = a.code; },
    };
    for (const [what, change] of Object.entries(cases)) {
      const a = await answer();
      await change(a);
      await assert.rejects(bindListing(a.code === code ? code : a.code, a, key), ProofError, what);
    }
  });
}

test('an approved proposal: price and photos bound to the proposal the approval names', async () => {
  const { key, log, code, answer } = await listingLog(2);
  const stream = 'listing/LS-1';
  const photos = ['cd'.repeat(32), 'ef'.repeat(32)];
  const proposal = await log.add({ format: 2, stream, kind: 'ListingPhotosProposed', signedKind: 'listing.change_photos', payload: { photos } });
  const approval = await log.add({ format: 2, stream, kind: 'ListingPhotosChanged', signedKind: 'listing.approve', payload: { proposal_seq: proposal.seq } });
  const approved = async () => {
    const a = await answer();
    a.listing.photos = photos;
    a.listing.updated_seq = approval.seq;
    a.current = await log.bundle(approval.seq);
    a.approved = await log.bundle(proposal.seq);
    return a;
  };
  const { binding, bundles } = await bindListing(code, await approved(), key);
  assert.ok(binding.isVerified('listing.photos'));
  assert.equal(binding.fields.get('listing.photos').seq, proposal.seq);
  assert.equal(binding.isVerified('listing.price_fen'), false, 'the price was set by an entry not in the answer');
  assert.equal(bundles.length, 3);
  const cases = {
    'photos other than the approved ones': async (a) => { a.listing.photos = ['ab'.repeat(32)]; },
    'the approval itself as approved': async (a) => { a.approved = await log.bundle(approval.seq); },
    'a price change of the listing the approval does not name': async (a) => { a.approved = await log.bundle(3); },
    'an entry of another listing': async (a) => { a.approved = await log.bundle(2); },
  };
  for (const [what, change] of Object.entries(cases)) {
    const a = await approved();
    await change(a);
    await assert.rejects(bindListing(code, a, key), ProofError, what);
  }
  // Without the proposal's opening the photos are not proved, and said so.
  const withheld = await approved();
  delete withheld.approved.opening;
  const r = await bindListing(code, withheld, key);
  assert.equal(r.binding.isVerified('listing.photos'), false);
});

test('v2: the opening must match the signed digest; a withheld opening proves no payload field', async () => {
  const { key, code, answer, log } = await listingLog(2);
  const a = await answer();
  a.proof.opening = { ...a.proof.opening, payload: { ...a.proof.opening.payload, district: '盘龙区' } };
  a.listing.district = '盘龙区';
  await assert.rejects(bindListing(code, a, key), /opening does not match the payload digest/);
  const b = await answer();
  b.proof.opening.salt = toBase64(new Uint8Array(16));
  await assert.rejects(bindListing(code, b, key), /payload digest/);
  const withheld = await answer();
  delete withheld.proof.opening;
  delete withheld.current.opening;
  const { binding } = await bindListing(code, withheld, key);
  assert.equal(binding.isVerified('listing.id'), true);
  assert.equal(binding.isVerified('listing.seller'), true);
  assert.equal(binding.isVerified('listing.district'), false);
  assert.match(binding.fields.get('listing.price_fen').reason, /withheld/);
  // An opening on a v1 entry is refused, and a v1 bundle's entry cannot pass as v2.
  const v1 = await listingLog(1);
  const c = await v1.answer();
  c.proof.opening = { payload: PUBLISH, salt: toBase64(new Uint8Array(16)) };
  await assert.rejects(bindListing(v1.code, c, v1.key), /version 1 entry has no opening/);
  assert.ok(log.entries[1].length > 0);
});

test('v2: a v2 entry signed under the v1 message, or with format removed, does not verify', async () => {
  const { key, log } = await listingLog(2);
  const bundle = await log.bundle(1);
  const entry = JSON.parse(new TextDecoder().decode(fromBase64(bundle.entry)));
  delete entry.format;
  const bytes = utf8(canonicalText(entry));
  await assert.rejects(verifyBundle({ ...bundle, entry: toBase64(bytes) }, key), ProofError);
});

test('contract and document answers bind to their entries', async () => {
  const key = await logKey('deedlog.test/log');
  const log = new TestLog(key);
  const stream = 'contract/CT-1';
  const hash = 'cd'.repeat(32);
  await log.add({ stream, kind: 'ContractDrafted', signedKind: 'contract.draft', payload: { document_hash: hash, terms: {} }, actor: 'agent/AT-1' });
  const fc = await derivedCode('FC', 1, stream);
  await log.add({ stream, kind: 'ContractFiled', signedKind: 'contract.file', payload: {}, actor: 'authority/housing',
    derived: { filing_code: fc, listing: 'listing/LS-1', property: 'property/PR-1' } });
  const vkey = await parseVkey(key.vkey);
  const contract = { id: stream, status: 'filed', listing: 'listing/LS-1', property: 'property/PR-1', document_hash: hash, filed_seq: 1, signatures: {} };
  const ok = { filing_code: fc, contract, proof: await log.bundle(1), latest: await log.bundle(1) };
  const { binding } = await bindContract(fc, ok, vkey);
  assert.ok(binding.isVerified('contract.status'));
  assert.equal(binding.isVerified('contract.document_hash'), false);
  await assert.rejects(bindContract(fc, { ...ok, contract: { ...contract, status: 'filing_cancelled' } }, vkey), ProofError);
  await assert.rejects(bindContract(fc, { ...ok, proof: await log.bundle(0) }, vkey), /not a contract filing/);
  const doc = { sha256: hash, matches: [{ what: 'contract_document', id: stream, seq: 0, current: true, status: 'filed', code: fc, proof: await log.bundle(0) }] };
  const d = await bindDocument(hash, doc, vkey);
  assert.ok(d.binding.isVerified('matches[0].what'));
  assert.equal(d.binding.isVerified('matches[0].code'), false);
  await assert.rejects(bindDocument('ef'.repeat(32), { ...doc, sha256: 'ef'.repeat(32) }, vkey), /does not carry the hash/);
  await assert.rejects(bindDocument(hash, { ...doc, sha256: 'ef'.repeat(32) }, vkey), /not about the file hashed here/);
  assert.equal((await bindDocument(hash, { sha256: hash, matches: [] }, vkey)).binding, null);
});

test('price points: signer, kind, time and price checked against their entries', async () => {
  const { key, log, answer } = await listingLog(1);
  const a = await answer();
  const fetchBundle = (seq) => log.bundle(seq);
  for (const p of a.listing.price_history) {
    const r = await bindPricePoint('listing/LS-1', p, key, fetchBundle);
    assert.equal(r.price, true);
  }
  const [first] = a.listing.price_history;
  await assert.rejects(bindPricePoint('listing/LS-1', { ...first, price_fen: 1 }, key, fetchBundle), /price shown/);
  await assert.rejects(bindPricePoint('listing/LS-1', { ...first, signer: 'agent/AT-9' }, key, fetchBundle), /signed by/);
  await assert.rejects(bindPricePoint('listing/LS-1', { ...first, seq: 2 }, key, fetchBundle), /not listing\/LS-1/);
});

test('the remembered checkpoint: growth is proved consistent; rollback and fork are red', async () => {
  const key = await logKey('deedlog.test/log');
  const vkey = await parseVkey(key.vkey);
  const log = new TestLog(key);
  for (let i = 0; i < 9; i++) await log.add({ stream: `test/T-${i}`, kind: 'NoteAdded', signedKind: 'test.note', payload: { n: i } });
  const cpAt = async (size, leaves = log.leaves) => openCheckpoint(await key.note(size, await root(leaves.slice(0, size))), vkey);
  const fetchConsistency = async (from, to) => ({ from, to, proof: (await consistency(from, log.leaves.slice(0, to))).map(toHex) });
  const storage = new MemoryStorage();
  assert.deepEqual(await checkAgainstSeen(storage, vkey, await cpAt(5), fetchConsistency), { before: null });
  assert.deepEqual(await checkAgainstSeen(storage, vkey, await cpAt(9), fetchConsistency), { before: 5 });
  await assert.rejects(checkAgainstSeen(storage, vkey, await cpAt(7), fetchConsistency), /older than the 9/);
  // A fork: another log of the same size under the same key.
  const forked = log.leaves.slice();
  forked[8] = new Uint8Array(32);
  await assert.rejects(checkAgainstSeen(storage, vkey, await cpAt(9, forked), fetchConsistency), /forked/);
  // A longer fork of the history: the server's consistency proof cannot connect it.
  const longer = [...forked, new Uint8Array(32).fill(7)];
  const lying = async (from, to) => ({ from, to, proof: (await consistency(from, longer.slice(0, to))).map(toHex) });
  await assert.rejects(checkAgainstSeen(storage, vkey, await cpAt(10, longer), lying), /rewritten|new root/);
  // A server answering a consistency proof for other sizes.
  const other = async () => ({ from: 1, to: 2, proof: [] });
  const grown = [...log.leaves, new Uint8Array(32).fill(9)];
  await assert.rejects(checkAgainstSeen(storage, vkey, await cpAt(10, grown), other), /other sizes/);
});
