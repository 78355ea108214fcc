import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { type AbiType, type StructTable, CodecError, decode, encode } from './codec.ts';
import { compileCached } from '../../tooling/build/assemblyscript.ts';
import { Vm } from '../../vm/vm.ts';
import { MemoryState } from '../../vm/state.ts';

const entry = fileURLToPath(new URL('./test/assembly/roundtrip.ts', import.meta.url));
const sdkDir = fileURLToPath(new URL('./assembly/', import.meta.url));
const { readdirSync } = await import('node:fs');
const sources = readdirSync(sdkDir).map((f) => sdkDir + f);
const code = await compileCached(entry, sources, fileURLToPath(new URL('../../build/test-fixtures', import.meta.url)));
const vm = new Vm();
const A = new Uint8Array(32).fill(5);
const call = (method: string, input: Uint8Array = new Uint8Array(0)) => vm.call({ contract: A, caller: A, method, input, gasLimit: 50_000_000, code }, { state: new MemoryState() });

const structs: StructTable = {
  Inner: [{ name: 'name', type: 'string' }, { name: 'tag', type: 'u8' }],
  AllTypes: [
    { name: 'b', type: 'bool' },
    { name: 'a8', type: 'u8' }, { name: 'a16', type: 'u16' }, { name: 'a32', type: 'u32' }, { name: 'a64', type: 'u64' },
    { name: 's8', type: 'i8' }, { name: 's16', type: 'i16' }, { name: 's32', type: 'i32' }, { name: 's64', type: 'i64' },
    { name: 'big', type: 'u128' },
    { name: 'text', type: 'string' },
    { name: 'blob', type: 'bytes' },
    { name: 'id', type: 'bytes32' },
    { name: 'maybe', type: { option: 'string' } },
    { name: 'maybeInner', type: { option: { struct: 'Inner' } } },
    { name: 'list', type: { array: 'u64' } },
    { name: 'inners', type: { array: { struct: 'Inner' } } },
    { name: 'nested', type: { array: { array: 'string' } } },
  ],
};
const ALL: AbiType = { struct: 'AllTypes' };

function prng(seed: number) {
  return (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
}

function randomValue(rand: (n: number) => number): Record<string, unknown> {
  const bits = (n: number) => { let v = 0n; for (let i = 0; i < n; i += 8) v = (v << 8n) | BigInt(rand(256)); return v; };
  const edge = <T>(choices: T[], other: () => T): T => (rand(3) === 0 ? choices[rand(choices.length)]! : other());
  const strings = ['', 'a', 'évidence', '登记', '🚀🚀', 'x'.repeat(300), '\u0000'];
  const str = () => edge(strings, () => String.fromCharCode(...Array.from({ length: rand(20) }, () => 32 + rand(20000))).replace(/[\ud800-\udfff]/g, 'z'));
  const inner = () => ({ name: str(), tag: rand(256) });
  return {
    b: rand(2) === 1,
    a8: edge([0, 255], () => rand(256)), a16: edge([0, 65535], () => rand(65536)), a32: edge([0, 2 ** 32 - 1], () => Number(bits(32))),
    a64: edge([0n, 2n ** 64n - 1n], () => bits(64)),
    s8: edge([-128, 127, 0, -1], () => rand(256) - 128), s16: edge([-32768, 32767], () => rand(65536) - 32768),
    s32: edge([-(2 ** 31), 2 ** 31 - 1], () => Number(BigInt.asIntN(32, bits(32)))),
    s64: edge([-(2n ** 63n), 2n ** 63n - 1n, -1n], () => BigInt.asIntN(64, bits(64))),
    big: edge([0n, 2n ** 128n - 1n, 2n ** 64n], () => bits(128)),
    text: str(),
    blob: edge([new Uint8Array(0)], () => new Uint8Array(Array.from({ length: rand(70) }, () => rand(256)))),
    id: new Uint8Array(Array.from({ length: 32 }, () => rand(256))),
    maybe: rand(2) ? null : str(),
    maybeInner: rand(2) ? null : inner(),
    list: Array.from({ length: rand(5) }, () => bits(64)),
    inners: Array.from({ length: rand(4) }, inner),
    nested: Array.from({ length: rand(3) }, () => Array.from({ length: rand(3) }, str)),
  };
}

test('round trip TypeScript -> AssemblyScript -> TypeScript: canonical bytes and equal values', () => {
  const rand = prng(2026);
  for (let i = 0; i < 150; i++) {
    const value = randomValue(rand);
    const bytes = encode(ALL, value, structs);
    const r = call('roundtrip', bytes);
    assert.ok(r.ok, `case ${i}: ${r.error?.code} ${r.error?.message}`);
    assert.equal(r.output, bytes, `case ${i}: re-encoded bytes differ`);
    assert.equal(decode(ALL, r.output, structs), value);
  }
});

test('round trip AssemblyScript -> TypeScript: edge values decode to what the contract set', () => {
  const r = call('edges');
  assert.ok(r.ok, r.error?.message);
  const v = decode(ALL, r.output, structs) as Record<string, unknown>;
  assert.equal(v, {
    b: true, a8: 255, a16: 65535, a32: 2 ** 32 - 1, a64: 2n ** 64n - 1n,
    s8: -128, s16: -32768, s32: -(2 ** 31), s64: -(2n ** 63n),
    big: 2n ** 128n - 1n, text: '登记 ✓ 🚀', blob: new Uint8Array([0, 255, 7]),
    id: new Uint8Array(Array.from({ length: 32 }, (_, i) => i)), maybe: '', maybeInner: { name: 'x', tag: 9 },
    list: [0n, 1n, 2n ** 64n - 1n], inners: [{ name: 'x', tag: 9 }, { name: '', tag: 0 }], nested: [[], ['a', 'bc']],
  });
  assert.equal(encode(ALL, v, structs), r.output);
});

test('u128 arithmetic is checked and prints decimals', () => {
  const r = call('u128math');
  assert.ok(r.ok, r.error?.message);
  const out = decode({ struct: 'S' }, r.output, { S: ['a', 'b', 'c', 'd'].map((name) => ({ name, type: 'string' as const })) });
  assert.equal(out, { a: (2n ** 128n - 1n).toString(), b: (2n ** 128n - 1n).toString(), c: (2n ** 64n).toString(), d: (2n ** 64n - 1n).toString() });
  const o = call('u128overflow');
  assert.is(o.error?.revertCode, 'AMOUNT_OVERFLOW');
});

test('both sides refuse non-canonical input: bad booleans, option tags, UTF-8, truncation, trailing bytes', () => {
  const good = encode(ALL, randomValue(prng(1)), structs);
  const variants: Array<[string, Uint8Array]> = [
    ['bool 2', Uint8Array.from([2, ...good.subarray(1)])],
    ['truncated', good.subarray(0, good.length - 1)],
    ['trailing', Uint8Array.from([...good, 0])],
  ];
  for (const [label, bytes] of variants) {
    assert.throws(() => decode(ALL, bytes, structs), (e: unknown) => e instanceof CodecError, label);
    const r = call('roundtrip', bytes);
    assert.is(r.error?.revertCode, 'BAD_INPUT', label);
  }
  assert.throws(() => decode('string', Uint8Array.from([2, 0, 0, 0, 0xc3, 0x28])), /UTF-8/);
  assert.throws(() => decode({ option: 'u8' }, Uint8Array.from([2, 1])), /option tag/);
  assert.throws(() => encode('string', 'key\ud800'), /lone surrogate/); // would be stored as U+FFFD: another key
  assert.equal(decode('string', encode('string', 'emoji \ud83d\ude00')), 'emoji \ud83d\ude00'); // a pair is fine
  assert.throws(() => encode('u8', 256), /out of range/);
  assert.throws(() => encode('u64', -1n), /out of range/);
  assert.throws(() => encode('bytes32', new Uint8Array(31)), /32 bytes/);
  assert.throws(() => encode({ struct: 'Inner' }, { name: 'a', tag: 1, extra: 1 }, structs), /no field "extra"/);
});

test.run();
