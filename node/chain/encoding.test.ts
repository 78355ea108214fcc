import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { type Receipt, decodeReceipts, encodeReceipt, encodeReceipts, joinReceipts } from './encoding.ts';
import { receiptsRoot, receiptsRootOf } from './block.ts';
import { sha256 } from './hash.ts';
import { createHash } from 'node:crypto';

const receipt = (i: number): Receipt => ({
  txHash: new Uint8Array(randomBytes(32)), status: i % 2, error: i % 2 ? '' : `VM_REVERT: é ${i}`, gasUsed: BigInt(i * 1000), quotaCharged: BigInt(i),
  events: Array.from({ length: i % 3 }, (_, j) => ({ contract: new Uint8Array(randomBytes(32)), topics: [new Uint8Array(randomBytes(j + 1))], data: new Uint8Array(randomBytes(i)) })),
});

test('receipts joined from their own encodings are exactly encodeReceipts, and give the same root', () => {
  for (const n of [0, 1, 2, 7, 100]) {
    const items = Array.from({ length: n }, (_, i) => receipt(i));
    const encoded = items.map(encodeReceipt);
    assert.equal(joinReceipts(encoded), encodeReceipts(items));
    assert.equal(decodeReceipts(joinReceipts(encoded)), items);
    assert.equal(receiptsRootOf(encoded), receiptsRoot(items));
  }
});

test('sha256 of parts is sha256 of their concatenation, small or over the scratch size', () => {
  for (const sizes of [[], [0], [1], [32, 33], [1, 4096], [4096, 1], [5000], [3000, 3000, 1]]) {
    const parts = sizes.map((s) => new Uint8Array(randomBytes(s)));
    assert.equal(sha256(...parts), new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest()), JSON.stringify(sizes));
  }
});

test.run();
