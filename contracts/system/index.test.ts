import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { systemAddress } from './index.ts';

test('the contracts\' own copy of the system addresses matches sha256("brop:system:" + name)', () => {
  const src = readFileSync(fileURLToPath(new URL('./common/assembly/system.ts', import.meta.url)), 'utf8');
  const found = [...src.matchAll(/const (\w+)_BYTES: StaticArray<u8> = \[([^\]]+)\];/g)];
  assert.ok(found.length >= 6);
  for (const [, constant, list] of found) {
    const bytes = list!.split(',').map((x) => Number(x.trim()));
    assert.is(Buffer.from(bytes).toString('hex'), Buffer.from(systemAddress(constant!.toLowerCase())).toString('hex'), constant);
  }
});


test('docs/system-contracts.md documents every method of every system contract', async () => {
  const { SYSTEM_CONTRACTS, buildSystemContract } = await import('./index.ts');
  const doc = readFileSync(fileURLToPath(new URL('../../docs/system-contracts.md', import.meta.url)), 'utf8');
  for (const name of SYSTEM_CONTRACTS) {
    const section = doc.split(`\n## ${name}\n`)[1]?.split('\n## ')[0];
    assert.ok(section, `no section for ${name}`);
    for (const m of (await buildSystemContract(name)).abi.methods) assert.match(section!, new RegExp(`\\b${m.name}\\b`), `${name}.${m.name}`);
  }
});

test.run();
