import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { CommittedWindow } from './committed-window.ts';

test('property: the window answers as a map from hash to validUntilBlock, through growth, expiry and rebuilds', () => {
  for (let run = 0; run < 20; run++) {
    const window = new CommittedWindow(run % 2 === 0 ? 1 : 4096);
    const model = new Map<string, number>();
    const known: Buffer[] = [];
    let height = 0;
    for (let step = 0; step < 8000; step++) {
      const r = Math.random();
      if (r < 0.45) {
        // A block's transactions: valid until up to W = 100 blocks above the block.
        const hash = randomBytes(32);
        const until = height + 1 + Math.floor(Math.random() * 100);
        window.add(hash, BigInt(until), height);
        model.set(hash.toString('hex'), until);
        known.push(hash);
      } else if (r < 0.55) {
        height += 1 + Math.floor(Math.random() * 5);
      } else {
        const hash = Math.random() < 0.7 && known.length > 0 ? known[Math.floor(Math.random() * known.length)]! : randomBytes(32);
        const until = model.get(hash.toString('hex'));
        assert.is(window.has(hash, BigInt(height)), until !== undefined && until > height, `step ${step}`);
      }
    }
    // Expired entries are dropped by rebuilds: the table stays near what is live, not all ever added.
    assert.ok(window.slotsUsed < known.length, `${window.slotsUsed} slots used for ${known.length} hashes added`);
  }
});

test('hashes that share their first bytes (one slot, a long probe) are told apart by all 32', () => {
  const window = new CommittedWindow();
  const prefix = randomBytes(28);
  const hashes = Array.from({ length: 600 }, (_, i) => Buffer.concat([prefix, Buffer.from([i & 0xff, i >> 8, 7, 9])]));
  hashes.forEach((h, i) => { if (i % 2 === 0) window.add(h, 50n, 0n); });
  hashes.forEach((h, i) => assert.is(window.has(h, 10n), i % 2 === 0, `hash ${i}`));
  // A view at an odd offset reads the same.
  const shifted = new Uint8Array(33);
  shifted.set(hashes[4]!, 1);
  assert.ok(window.has(shifted.subarray(1), 10n));
});

test('an entry leaves exactly when the chain reaches its validUntilBlock; adding it again keeps the later one', () => {
  const window = new CommittedWindow();
  const h = randomBytes(32);
  window.add(h, 10n, 5n);
  assert.ok(window.has(h, 9n));
  assert.not.ok(window.has(h, 10n));
  window.add(h, 12n, 5n);
  window.add(h, 11n, 5n);
  assert.ok(window.has(h, 11n));
  assert.not.ok(window.has(h, 12n));
});

test('a hash of the wrong size or a validUntilBlock of 0 is refused; a wrong-size hash is never found', () => {
  const window = new CommittedWindow();
  assert.throws(() => window.add(new Uint8Array(31), 5n, 0n), /32 bytes/);
  assert.throws(() => window.add(randomBytes(32), 0n, 0n), /at least 1/);
  const h = randomBytes(32);
  window.add(h, 5n, 0n);
  assert.not.ok(window.has(h.subarray(0, 31), 0n), 'a prefix of a hash is not the hash');
});

test.run();
