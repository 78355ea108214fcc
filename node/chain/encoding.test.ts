import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { type Receipt, decodeReceipt, decodeReceipts, encodeReceipt, encodeReceiptByCodec, encodeReceipts, joinReceipts, receiptOffsets } from './encoding.ts';
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
    const encoded = items.map((r) => encodeReceipt(r));
    assert.equal(joinReceipts(encoded), encodeReceipts(items));
    assert.equal(decodeReceipts(joinReceipts(encoded)), items);
    assert.equal(receiptsRootOf(encoded), receiptsRoot(items));
  }
});

test('property: the written-out receipt encoder gives the generic codec\'s bytes, and refuses what it refuses', () => {
  for (let i = 0; i < 300; i++) {
    const r = receipt(i);
    if (i % 5 === 0) r.events.push({ contract: new Uint8Array(randomBytes(32)), topics: [], data: new Uint8Array(0) });
    if (i % 7 === 0) r.gasUsed = 2n ** 64n - 1n;
    if (i % 11 === 0) r.error = `ABORT: 额度 ${'x'.repeat(i)}`;
    assert.equal(encodeReceipt(r), encodeReceiptByCodec(r));
    // Every byte written: memory that is not zero-filled (pooled) gives the same encoding.
    assert.equal(encodeReceipt(r, (n) => new Uint8Array(n).fill(0xaa)), encodeReceiptByCodec(r));
  }
  for (const bad of [{ gasUsed: 2n ** 64n }, { quotaCharged: -1n }, { status: 256 }, { txHash: new Uint8Array(31) }, { events: [{ contract: new Uint8Array(33), topics: [], data: new Uint8Array(0) }] }]) {
    const r = { ...receipt(1), ...bad } as Receipt;
    assert.throws(() => encodeReceiptByCodec(r));
    assert.throws(() => encodeReceipt(r), JSON.stringify(Object.keys(bad)));
  }
});

test('one receipt of a Receipts record decodes from its offsets alone; a record that does not parse is refused', () => {
  for (const n of [0, 1, 2, 7, 100]) {
    const items = Array.from({ length: n }, (_, i) => receipt(i + 3));
    const joined = joinReceipts(items.map((r) => encodeReceipt(r)));
    const starts = receiptOffsets(joined);
    assert.is(starts.length, n + 1);
    assert.is(starts[n], joined.length);
    items.forEach((r, i) => assert.equal(decodeReceipt(joined.subarray(starts[i], starts[i + 1])), r));
    // Cut anywhere, or with a byte too many, it is not a Receipts record.
    for (const cut of [1, 3, 4, Math.floor(joined.length / 2), joined.length - 1]) {
      if (cut < joined.length && !(n === 0 && cut >= 4)) assert.throws(() => receiptOffsets(joined.subarray(0, cut)), /Receipts/, `${n} cut at ${cut}`);
    }
    assert.throws(() => receiptOffsets(Uint8Array.from([...joined, 0])), /trailing/);
  }
  assert.throws(() => receiptOffsets(Uint8Array.from([0xff, 0xff, 0xff, 0x7f])), /cannot fit/);
});

test('sha256 of parts is sha256 of their concatenation, small or over the scratch size', () => {
  for (const sizes of [[], [0], [1], [32, 33], [1, 4096], [4096, 1], [5000], [3000, 3000, 1]]) {
    const parts = sizes.map((s) => new Uint8Array(randomBytes(s)));
    assert.equal(sha256(...parts), new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest()), JSON.stringify(sizes));
  }
});

test.run();
