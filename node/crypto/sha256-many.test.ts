import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { HashBatch, LinkedRecords, nativeHashing } from './sha256-many.ts';

const ADDON = new URL('./native/build/Release/brop_native.node', import.meta.url);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

function hashAll(batch: HashBatch, inputs: Uint8Array[]): Buffer[] {
  batch.reset();
  for (const input of inputs) {
    const at = batch.add(input.length);
    batch.data.set(input, at);
  }
  const out = batch.digest();
  return inputs.map((_, i) => Buffer.from(out.subarray(32 * i, 32 * i + 32)));
}

test('the addon is loaded wherever npm install built it', () => {
  assert.is(nativeHashing, existsSync(ADDON) && process.env.BROP_NATIVE !== '0');
});

test('native and node:crypto batches give sha256 of every input: empty, small, large, past every initial capacity', () => {
  const inputs: Uint8Array[] = [new Uint8Array(0), randomBytes(1), randomBytes(55), randomBytes(56), randomBytes(64), randomBytes(65), randomBytes(1 << 20)];
  for (let i = 0; i < 3000; i++) inputs.push(randomBytes(i % 200));
  const expected = inputs.map(sha256);
  for (const batch of [new HashBatch(), new HashBatch({ useNative: false })]) {
    for (let round = 0; round < 2; round++) { // the second round reuses (or drops) the grown buffers
      const got = hashAll(batch, inputs);
      for (let i = 0; i < inputs.length; i++) assert.ok(got[i]!.equals(expected[i]!), `input ${i}`);
      assert.is(batch.id(7), expected[7]!.toString('latin1'));
    }
    assert.equal(hashAll(batch, [randomBytes(0)])[0], sha256(new Uint8Array(0)));
    batch.reset();
    batch.digest(); // an empty batch hashes nothing and does not throw
    assert.is(batch.count, 0);
  }
});

test('the addon refuses malformed calls with typed errors and writes nothing', () => {
  if (!existsSync(ADDON)) return;
  const { sha256Many } = createRequire(import.meta.url)(ADDON.pathname) as { sha256Many: (...a: unknown[]) => void };
  const out = new Uint8Array(64).fill(7);
  assert.throws(() => sha256Many(new Uint8Array(4), Uint32Array.of(2, 1), out), (e: Error & { code?: string }) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
  assert.throws(() => sha256Many(new Uint8Array(4), Uint32Array.of(2, 5), out), (e: Error & { code?: string }) => e instanceof RangeError);
  assert.throws(() => sha256Many(new Uint8Array(4), Uint32Array.of(1, 2, 3), out), (e: Error & { code?: string }) => e instanceof RangeError);
  assert.ok(out.every((b) => b === 7));
  for (const args of [[], [new Uint8Array(4)], [new Uint8Array(4), new Uint8Array(4), out], ['abc', Uint32Array.of(3), out], [new Uint8Array(4), Uint32Array.of(3), new Uint16Array(16)], [null, null, null]]) {
    assert.throws(() => sha256Many(...args), (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  }
});

test('linked records: each digest lands in its parent record before the parent is hashed (native and node:crypto alike)', () => {
  // A random forest over 3000 records of 65 bytes: record i's parent is a later record, at byte 1 or 33 of it.
  const n = 3000, size = 65;
  const parent = Array.from({ length: n }, (_, i) => (i < n - 1 && Math.random() < 0.9 ? i + 1 + Math.floor(Math.random() * Math.min(50, n - 1 - i)) : -1));
  const side = parent.map(() => (Math.random() < 0.5 ? 1 : 33));
  const taken = new Set<string>();
  const bytes = Array.from({ length: n }, () => new Uint8Array(randomBytes(size)));
  // Reference: hash in order, copying each digest into its parent (a parent slot taken twice keeps the last).
  const reference = bytes.map((b) => Buffer.from(b));
  const expected: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    expected.push(sha256(reference[i]!));
    if (parent[i]! >= 0 && !taken.has(`${parent[i]}/${side[i]}`)) expected[i]!.copy(reference[parent[i]!]!, side[i]!);
    if (parent[i]! >= 0) taken.add(`${parent[i]}/${side[i]}`);
  }
  for (const records of [new LinkedRecords(size), new LinkedRecords(size, { useNative: false })]) {
    for (let round = 0; round < 2; round++) {
      records.reset();
      const seen = new Set<string>();
      const links: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) {
        const at = records.add(); // first: adding may replace records.records
        records.records.set(bytes[i]!, at);
      }
      for (let i = 0; i < n; i++) {
        if (parent[i]! < 0 || seen.has(`${parent[i]}/${side[i]}`)) continue;
        seen.add(`${parent[i]}/${side[i]}`);
        links.push([i, parent[i]! * size + side[i]!]);
      }
      for (const [i, offset] of links) records.link(i, offset);
      const out = records.digest();
      for (let i = 0; i < n; i++) assert.ok(out.subarray(32 * i, 32 * i + 32).equals(expected[i]!), `record ${i}`);
    }
  }
});

test('linked records refuse links that do not point into a later record', () => {
  const records = new LinkedRecords(65);
  records.add();
  records.add();
  for (const [i, offset] of [[0, 0], [0, 64], [0, 65 + 34], [1, 65], [2, 130], [-1, 65]] as const) {
    assert.throws(() => records.link(i, offset), RangeError);
  }
  records.link(0, 65 + 33);
  if (!existsSync(ADDON)) return;
  const { sha256Linked } = createRequire(import.meta.url)(ADDON.pathname) as { sha256Linked: (...a: unknown[]) => void };
  const out = new Uint8Array(64).fill(7);
  for (const links of [Int32Array.of(0, -1), Int32Array.of(100, -1), Int32Array.of(-1, 65)]) {
    assert.throws(() => sha256Linked(new Uint8Array(130), links, out), (e: Error & { code?: string }) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
  }
  assert.throws(() => sha256Linked(new Uint8Array(131), Int32Array.of(-1, -1), out), RangeError); // not whole records
  assert.throws(() => sha256Linked(new Uint8Array(130), Uint32Array.of(0, 0), out), TypeError);
  assert.ok(out.every((b) => b === 7));
});

test.run();
