import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { EMPTY_LIST_ROOT, merkleProof, merkleRoot, verifyMerkleProof } from './merkle.ts';

test('every item of lists of every length up to 33 has a proof that verifies, and only for its own item, index and root', () => {
  const a0 = randomBytes(3);
  for (let n = 1; n <= 33; n++) {
    // Distinct items (a prefix makes them so): with two equal leaves a proof rightly verifies at either index.
    const items = Array.from({ length: n }, (_, i) => new Uint8Array([i, ...randomBytes(1 + (n % 7))]));
    const root = merkleRoot(items);
    for (let i = 0; i < n; i++) {
      const proof = merkleProof(items, i);
      assert.ok(verifyMerkleProof(root, items[i]!, i, n, proof), `n=${n} i=${i}`);
      assert.not.ok(verifyMerkleProof(root, randomBytes(4), i, n, proof));
      if (n > 1) assert.not.ok(verifyMerkleProof(root, items[i]!, (i + 1) % n, n, proof));
      assert.not.ok(verifyMerkleProof(merkleRoot([...items, a0]), items[i]!, i, n, proof)); // another list's root
    }
  }
});

test('items of any size: a root over large items agrees with their proofs', () => {
  const items = [randomBytes(5000), randomBytes(4096), randomBytes(4097), randomBytes(10)].map((b) => new Uint8Array(b));
  const root = merkleRoot(items);
  for (let i = 0; i < items.length; i++) assert.ok(verifyMerkleProof(root, items[i]!, i, items.length, merkleProof(items, i)));
});

test('the root commits to order and content; the empty list has its own root; leaves and nodes cannot be confused', () => {
  const a = randomBytes(8), b = randomBytes(8);
  assert.not.equal(merkleRoot([a, b]), merkleRoot([b, a]));
  assert.equal(merkleRoot([]), EMPTY_LIST_ROOT);
  // A single item's root is its leaf hash, never the item itself.
  assert.not.equal(merkleRoot([a]), a);
  assert.throws(() => merkleProof([a], 1));
});

test('the root of long lists equals RFC 6962\'s recursive definition (levels hashed in batches)', () => {
  const h = (...parts: Uint8Array[]) => { const c = createHash('sha256'); for (const p of parts) c.update(p); return c.digest(); };
  const mth = (items: Uint8Array[]): Buffer => {
    if (items.length === 1) return h(Uint8Array.of(0), items[0]!);
    let k = 1;
    while (k * 2 < items.length) k *= 2;
    return h(Uint8Array.of(1), mth(items.slice(0, k)), mth(items.slice(k)));
  };
  for (const n of [2, 3, 255, 256, 257, 1000, 1025, 2049]) {
    const items = Array.from({ length: n }, (_, i) => new Uint8Array(randomBytes(i % 97)));
    assert.equal(Buffer.from(merkleRoot(items)), mth(items), `n=${n}`);
  }
});

test.run();
