// Witnesses in the browser: the tlog-policy quorum over cosignature lines verified in the page,
// and a bundle's witnessed checkpoint held to the bundle's own. Each attack a dishonest server
// could try (no cosignatures, a forged or moved line, a fork's checkpoint) fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ed from '../public/noble-ed25519.js';
import { concat, sha256, toBase64, toHex, utf8 } from '../public/crypto.js';
import { parsePolicy, parseVkey, ProofError, requirePolicy, checkPolicy, verifyBundle } from '../public/verify.js';
import { consistency, keyPair, logKey, root, TestLog } from './helpers.mjs';

/** A witness: its vkey (alg 0x04) and `cosign(note)` appending its cosignature line. */
async function witness(name) {
  const { seed, pub } = await keyPair(`witness ${name}`);
  const id = (await sha256(concat(utf8(name), Uint8Array.of(10, 4), pub))).slice(0, 4);
  return {
    vkey: `${name}+${toHex(id)}+${toBase64(concat(Uint8Array.of(4), pub))}`,
    async line(note, time = 1700000000, signer = seed) {
      const body = note.slice(0, note.indexOf('\n\n') + 1);
      const sig = await ed.signAsync(utf8(`cosignature/v1\ntime ${time}\n${body}`), signer);
      const ts = new Uint8Array(8);
      new DataView(ts.buffer).setBigUint64(0, BigInt(time));
      return `\u2014 ${name} ${toBase64(concat(id, ts, sig))}\n`;
    },
    seed,
  };
}

async function setup() {
  const key = await logKey('deedlog.test/log');
  const log = new TestLog(key);
  for (let i = 0; i < 6; i++) {
    await log.add({ stream: `s/${i}`, kind: 'K', signedKind: 'k.k', payload: { i }, actor: 'party/PA-1' });
  }
  const ws = await Promise.all(['w0.test', 'w1.test', 'w2.test'].map(witness));
  const policyText = `# two of three\nlog ${key.vkey}\n${ws.map((w, i) => `witness W${i} ${w.vkey} https://w${i}`).join('\n')}\ngroup two 2 W0 W1 W2\nquorum two\n`;
  return { key, log, ws, policy: await parsePolicy(policyText), trusted: await parseVkey(key.vkey) };
}

test('a 2-of-3 policy: who signed is named, and one signature is refused naming the group', async () => {
  const { key, log, ws, policy } = await setup();
  const note = await key.note(6, await root(log.leaves));
  await assert.rejects(requirePolicy(note, policy), /group two needs 2 of 3 members and has 0/);
  const one = note + (await ws[1].line(note));
  await assert.rejects(requirePolicy(one, policy), /has 1 \(\[W1\]\)/);
  const two = one + (await ws[2].line(note));
  assert.deepEqual((await requirePolicy(two, policy)).cosignedBy, ['W1', 'W2']);
  // A line under W0's name signed by another key, and a line moved from another checkpoint,
  // count for nothing.
  const other = await witness('w0.test');
  const forged = one + (await other.line(note, 1, ws[2].seed));
  assert.equal((await checkPolicy(forged, policy)).quorumMet, false);
  const older = await key.note(5, await root(log.leaves.slice(0, 5)));
  const moved = one + (await ws[0].line(older));
  assert.equal((await checkPolicy(moved, policy)).quorumMet, false);
  // A checkpoint by a log outside the policy is refused whatever its cosignatures.
  const stranger = await logKey('deedlog.test/log', 'another key');
  const foreign = await stranger.note(6, await root(log.leaves));
  await assert.rejects(requirePolicy(foreign + (await ws[0].line(foreign)) + (await ws[1].line(foreign)), policy), ProofError);
});

test('malformed policies are refused', async () => {
  const { key, ws } = await setup();
  const base = `log ${key.vkey}\nwitness A ${ws[0].vkey}\n`;
  for (const extra of ['quorum B\n', 'group G 2 A\nquorum G\n', 'group G 0 A\nquorum G\n', 'group G any A A\nquorum G\n',
    `witness A2 ${ws[0].vkey}\nquorum A\n`, 'quorum A\nquorum A\n', 'frobnicate\nquorum A\n', '']) {
    await assert.rejects(parsePolicy(base + extra), ProofError, extra);
  }
  await assert.rejects(parsePolicy(`log ${ws[0].vkey}\nquorum none\n`), ProofError);
  await assert.rejects(parsePolicy('#'.repeat(64 * 1024 + 1)), ProofError);
});

test('a bundle carries a witnessed checkpoint on its own history, or is refused', async () => {
  const { key, log, ws, policy, trusted } = await setup();
  const cosignedAt = 4;
  const small = await key.note(cosignedAt, await root(log.leaves.slice(0, cosignedAt)));
  const cosigned = small + (await ws[0].line(small)) + (await ws[1].line(small));
  const proof = (await consistency(cosignedAt, log.leaves)).map(toHex);
  const bundle = await log.bundle(2);
  const v = await verifyBundle({ ...bundle, witnessed: { checkpoint: cosigned, consistency: proof } }, trusted);
  assert.equal(v.witnessed.size, cosignedAt);
  assert.equal(v.cosignedNote, cosigned);
  assert.deepEqual((await requirePolicy(v.cosignedNote, policy)).cosignedBy, ['W0', 'W1']);
  // Without `witnessed` the bundle still proves the entry, but not to the policy.
  const bare = await verifyBundle(bundle, trusted);
  await assert.rejects(requirePolicy(bare.cosignedNote, policy), /group two/);
  // An entry the cosigned tree does not hold, a tampered proof, and a fork's checkpoint.
  await assert.rejects(verifyBundle({ ...(await log.bundle(5)), witnessed: { checkpoint: cosigned, consistency: proof } }, trusted), /does not hold entry 5/);
  const bad = [...proof];
  bad[0] = bad[0].replace(/^./, (c) => (c === '0' ? '1' : '0'));
  await assert.rejects(verifyBundle({ ...bundle, witnessed: { checkpoint: cosigned, consistency: bad } }, trusted), ProofError);
  const fork = await key.note(6, await sha256(utf8('fork')));
  await assert.rejects(verifyBundle({ ...bundle, witnessed: { checkpoint: fork, consistency: [] } }, trusted), /forked/);
  await assert.rejects(verifyBundle({ ...bundle, witnessed: { checkpoint: cosigned, consistency: proof, extra: 1 } }, trusted), ProofError);
});
