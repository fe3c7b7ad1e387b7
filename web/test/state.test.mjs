// The page's state-proof verifier against the vectors the Rust map wrote, and every tampering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateProofError, verifyStateProof } from '../public/state.js';
import { readJson } from './helpers.mjs';

const vectors = readJson('ledger-data/vectors/state-map.json');

const flip = (hex, n) => {
  const i = n % hex.length;
  return hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
};

test('every vector proof gives the value the Rust map proved', async () => {
  const kinds = new Set();
  for (const { proof, value } of vectors.proofs) {
    kinds.add(proof.terminal.kind);
    assert.equal(await verifyStateProof(proof, vectors.root), value);
  }
  assert.deepEqual([...kinds].sort(), ['empty', 'member', 'other']);
});

test('a changed root, sibling, value or key, or a claim turned around, fails', async () => {
  for (const [n, { proof }] of vectors.proofs.entries()) {
    await assert.rejects(verifyStateProof(proof, flip(vectors.root, n)), StateProofError);
    for (let i = 0; i < proof.siblings.length; i++) {
      const p = structuredClone(proof);
      p.siblings[i] = flip(p.siblings[i], n + i);
      await assert.rejects(verifyStateProof(p, vectors.root), StateProofError, `sibling ${i}`);
    }
    const turned = structuredClone(proof);
    turned.terminal = proof.terminal.kind === 'member' ? { kind: 'empty' } : { kind: 'member', value: 'ab'.repeat(32) };
    await assert.rejects(verifyStateProof(turned, vectors.root), StateProofError, 'member and absent swapped');
    if (proof.terminal.kind === 'member') {
      const p = structuredClone(proof);
      p.terminal.value = flip(p.terminal.value, n);
      await assert.rejects(verifyStateProof(p, vectors.root), StateProofError, 'value');
      const q = structuredClone(proof);
      q.key = flip(q.key, n);
      await assert.rejects(verifyStateProof(q, vectors.root), StateProofError, 'key');
    }
    const short = structuredClone(proof);
    short.siblings.push('00'.repeat(32));
    await assert.rejects(verifyStateProof(short, vectors.root), StateProofError, 'an added level');
  }
  await assert.rejects(verifyStateProof({ key: 'zz', siblings: [], terminal: { kind: 'empty' } }, vectors.root), StateProofError);
  await assert.rejects(verifyStateProof({ key: '00'.repeat(32), siblings: new Array(257).fill('00'.repeat(32)), terminal: { kind: 'empty' } }, vectors.root), StateProofError);
});
