// The browser modules committed under public/ are byte for byte the files of the npm packages
// at the versions package-lock.json pins (run `npm run vendor` after changing a version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VENDORED } from '../scripts/vendored.mjs';

const read = (p) => readFileSync(new URL(`../${p}`, import.meta.url));

test('vendored files equal the locked npm packages', () => {
  const lock = JSON.parse(read('package-lock.json'));
  const pkg = JSON.parse(read('package.json'));
  for (const { from, to } of VENDORED) {
    const name = from.replace(/^node_modules\//, '').split('/').slice(0, from.includes('@') ? 2 : 1).join('/');
    const locked = lock.packages[`node_modules/${name}`];
    assert.ok(locked, `${name} is in package-lock.json`);
    assert.equal(pkg.dependencies[name], locked.version, `${name}: package.json pins the locked version exactly`);
    assert.equal(JSON.parse(read(`node_modules/${name}/package.json`)).version, locked.version, `${name}: installed as locked`);
    assert.ok(read(from).equals(read(to)), `${to} is ${from}`);
  }
});

test('every version in package.json is exact', () => {
  const pkg = JSON.parse(read('package.json'));
  for (const [name, v] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
    assert.match(v, /^\d+\.\d+\.\d+$/, name);
  }
});
