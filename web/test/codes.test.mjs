// The page's reading of codes agrees with the server's (crates/domain/src/ids.rs): the
// documented example, round trips, and every single substitution and adjacent transposition
// of a spoken code refused as mistyped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCode, spokenCode } from '../public/codes.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

test('the documented example', () => {
  assert.equal(spokenCode('FC-0A1B2C3D4E5F6071'), 'FC-0M6SC-7N75Y-R3H$');
  assert.deepEqual(parseCode('fc-0m6sc-7n75y-r3h$'), { ok: true, tag: 'FC', v1: 'FC-0A1B2C3D4E5F6071' });
  assert.deepEqual(parseCode('FC-0A1B2C3D4E5F6071'), { ok: true, tag: 'FC', v1: 'FC-0A1B2C3D4E5F6071' });
  assert.deepEqual(parseCode('FC-OOOOO-OOOOO-OOlI'), { ok: true, tag: 'FC', v1: 'FC-0000000000000001' });
});

test('round trips and every substitution and transposition is mistyped', () => {
  let seed = 7n;
  for (let n = 0; n < 50; n++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    const v1 = `LV-${seed.toString(16).toUpperCase().padStart(16, '0')}`;
    const spoken = spokenCode(v1);
    assert.deepEqual(parseCode(spoken), { ok: true, tag: 'LV', v1 });
    const s = [...spoken.slice(3).replaceAll('-', '')];
    for (let i = 0; i < 14; i++) {
      for (const c of i === 13 ? ALPHABET + '*~$=U' : ALPHABET) {
        if (c === s[i]) continue;
        const t = [...s];
        t[i] = c;
        assert.equal(parseCode(`LV-${t.join('')}`).ok, false, `LV-${t.join('')} from ${spoken}`);
      }
      if (i < 13 && s[i] !== s[i + 1]) {
        const t = [...s];
        [t[i], t[i + 1]] = [t[i + 1], t[i]];
        assert.equal(parseCode(`LV-${t.join('')}`).ok, false);
      }
    }
  }
});
