// Copies the browser modules the pages import from node_modules (installed by `npm ci` at the
// exact versions of package-lock.json) into public/, where `deedlog serve` embeds them. The
// copies are committed so that a Rust build needs no npm; `test/vendor.test.mjs` fails when
// they differ from the locked packages.
import { copyFileSync } from 'node:fs';
import { VENDORED } from './vendored.mjs';

for (const { from, to } of VENDORED) {
  copyFileSync(new URL(`../${from}`, import.meta.url), new URL(`../${to}`, import.meta.url));
  console.log(`${from} -> ${to}`);
}
