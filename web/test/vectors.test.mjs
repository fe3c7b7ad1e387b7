// The in-browser verifier against the project's known-answer vectors: canonical JSON and the
// command signature of FORMAT.md's worked example, the Ed25519 edge cases, the RFC 6962 Merkle
// vectors and the 200-entry sample log with its signed checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalText, parseCanonical, CanonicalError } from '../public/canonical.js';
import { fromBase64, leafHash, toHex, utf8, verifyEd25519, toBase64 } from '../public/crypto.js';
import {
  decodeEntry, openCheckpoint, openPayload, parseVkey, payloadDigest, rootFromInclusion,
  signingMessage, verifyConsistency, verifyEntrySignature, ProofError,
} from '../public/verify.js';
import { fromHex, readJson, readText, root, path, consistency } from './helpers.mjs';
import * as ed from '../public/noble-ed25519.js';

function example(name) {
  const doc = readText('docs/FORMAT.md');
  const at = doc.indexOf(`<!-- example:${name} -->`);
  assert.ok(at >= 0, name);
  const start = doc.indexOf('\n', doc.indexOf('```', at)) + 1;
  return doc.slice(start, doc.indexOf('```', start)).replace(/\n$/, '');
}

test('FORMAT.md worked example: opening, digest, v2 message, signature, entry bytes and leaf hash', async () => {
  const command = JSON.parse(example('command'));
  const opening = JSON.parse(example('opening'));
  assert.equal(canonicalText(opening), example('opening'));
  assert.equal(opening.salt, example('salt'));
  assert.deepEqual(opening.payload, command.payload);
  const digest = await payloadDigest(opening);
  assert.equal(digest, example('digest'));
  const sealed = { ...command, payload_digest: digest };
  delete sealed.payload;
  const message = `deedlog/command/v2\n${canonicalText(sealed)}`;
  assert.equal(message, example('message'));
  const seed = fromHex(example('seed'));
  const pub = await ed.getPublicKeyAsync(seed);
  assert.equal(toBase64(pub), command.key);
  const sig = fromBase64(example('signature'));
  for (const engine of ['webcrypto', 'noble']) {
    assert.equal(await verifyEd25519(pub, utf8(message), sig, engine), true, engine);
    assert.equal(await verifyEd25519(pub, utf8(message + ' '), sig, engine), false, engine);
  }
  const entryText = example('entry');
  const { entry, format } = decodeEntry(utf8(entryText));
  assert.equal(format, 2);
  assert.equal(new TextDecoder().decode(signingMessage(entry, 2)), message);
  await verifyEntrySignature(entry, 2);
  assert.deepEqual(await openPayload(entry, 2, opening), command.payload);
  const line = JSON.parse(example('opening-line'));
  assert.equal(line.seq, 0);
  assert.deepEqual(line.opening, opening);
  assert.equal(toHex(await leafHash(utf8(entryText))), example('leaf'));
});

test('canonical JSON refuses what the server refuses', () => {
  for (const bad of ['{"b":1,"a":2}', '{"a":1.5}', '{"a":1e3}', '{ "a":1}', '{"a":9007199254740992}',
    '{"a":1,"a":1}', '{"a":"\\u0041"}', '{"a":"\\/"}']) {
    assert.throws(() => parseCanonical(utf8(bad)), CanonicalError, bad);
  }
  assert.deepEqual(parseCanonical(utf8('{"a":[1,-2,"\\u001f\\n",null,true]}')), { a: [1, -2, '\u001f\n', null, true] });
  // UTF-16 code unit order: U+FFFD sorts after U+1F600's surrogates (0xD83D < 0xFFFD).
  assert.equal(canonicalText({ '\ufffd': 1, '\u{1f600}': 2, a: 3 }), '{"a":3,"\u{1f600}":2,"\ufffd":1}');
  assert.throws(() => canonicalText({ a: 0.5 }), CanonicalError);
});

test('Ed25519 edge cases: only case 6 verifies, with either engine', async () => {
  const cases = readJson('ledger-data/vectors/ed25519-speccheck.json');
  assert.equal(cases.length, 15);
  for (const engine of ['webcrypto', 'noble']) {
    const results = [];
    for (const c of cases) {
      results.push(await verifyEd25519(fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature), engine));
    }
    assert.deepEqual(results.map((r, i) => (r ? i : null)).filter((i) => i !== null), [6], engine);
  }
});

test('RFC 6962 Merkle vectors: roots, inclusion and consistency proofs', async () => {
  const v = readJson('ledger-data/vectors/ct-merkle.json');
  const leaves = await Promise.all(v.leaves_hex.map((h) => leafHash(fromHex(h))));
  const roots = new Map(v.roots.map((r) => [r.size, r.root]));
  for (const [size, want] of roots) assert.equal(toHex(await root(leaves.slice(0, size))), want, `root ${size}`);
  for (const c of v.inclusion) {
    const got = await rootFromInclusion(c.index, c.size, leaves[c.index], c.proof.map(fromHex));
    assert.equal(toHex(got), roots.get(c.size), `inclusion ${c.index}/${c.size}`);
    if (c.proof.length) {
      const bad = c.proof.map(fromHex);
      bad[0][0] ^= 1;
      assert.notEqual(toHex(await rootFromInclusion(c.index, c.size, leaves[c.index], bad)), roots.get(c.size));
    }
  }
  for (const c of v.consistency) {
    const r1 = fromHex(roots.get(c.m));
    const r2 = fromHex(roots.get(c.n));
    await verifyConsistency(c.m, r1, c.n, r2, c.proof.map(fromHex));
    if (c.proof.length) {
      const bad = c.proof.map(fromHex);
      bad[bad.length - 1][5] ^= 1;
      await assert.rejects(verifyConsistency(c.m, r1, c.n, r2, bad), ProofError);
    }
  }
});

test('the sample log: every entry canonical and signed, every checkpoint signed and its root right', async () => {
  const lines = readText('ledger-data/vectors/sample-log.jsonl').trim().split('\n');
  const header = JSON.parse(lines[0]);
  const key = await parseVkey(header.log_key);
  const leaves = [];
  let checkpoints = 0;
  let prev = '0'.repeat(64);
  for (const line of lines.slice(1)) {
    if (line.startsWith('{"checkpoint"')) {
      const cp = await openCheckpoint(JSON.parse(line).checkpoint, key);
      assert.equal(cp.size, leaves.length);
      assert.equal(toHex(cp.root), toHex(await root(leaves)));
      checkpoints++;
      continue;
    }
    const bytes = utf8(line);
    const { entry, format } = decodeEntry(bytes);
    assert.equal(format, 1);
    assert.equal(entry.seq, leaves.length);
    assert.equal(entry.prev_hash, prev);
    await verifyEntrySignature(entry, format);
    const leaf = await leafHash(bytes);
    prev = toHex(leaf);
    leaves.push(leaf);
  }
  assert.equal(leaves.length, 200);
  assert.equal(checkpoints, 5);
  // Naive proofs over the sample log check the verifier's algorithms at every size and index.
  for (const size of [1, 2, 3, 7, 40, 41, 64, 200]) {
    const r = await root(leaves.slice(0, size));
    for (const i of [0, 1, size - 2, size - 1].filter((i) => i >= 0 && i < size)) {
      assert.equal(toHex(await rootFromInclusion(i, size, leaves[i], await path(i, leaves.slice(0, size)))), toHex(r));
    }
    for (const m of [1, 2, 3, 32, 39].filter((m) => m < size)) {
      await verifyConsistency(m, await root(leaves.slice(0, m)), size, r, await consistency(m, leaves.slice(0, size)));
    }
  }
});

test('a checkpoint whose body, signature or key is changed does not open', async () => {
  const lines = readText('ledger-data/vectors/sample-log.jsonl').trim().split('\n');
  const key = await parseVkey(JSON.parse(lines[0]).log_key);
  const note = JSON.parse(lines.find((l) => l.startsWith('{"checkpoint"'))).checkpoint;
  await openCheckpoint(note, key);
  await assert.rejects(openCheckpoint(note.replace('\n40\n', '\n41\n'), key), /signature does not verify/);
  const sigAt = note.lastIndexOf(' ') + 10;
  const flipped = note.slice(0, sigAt) + (note[sigAt] === 'A' ? 'B' : 'A') + note.slice(sigAt + 1);
  await assert.rejects(openCheckpoint(flipped, key), ProofError);
  await assert.rejects(parseVkey(JSON.parse(lines[0]).log_key.replace('+161bf914+', '+161bf915+')), /key id/);
});
