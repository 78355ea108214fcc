import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Journal, MemoryState, latin1 } from '../state.ts';

const C1 = new Uint8Array(32).fill(1);
const C2 = new Uint8Array(32).fill(2);

/** A deterministic PRNG so that a failure reproduces. */
function prng(seed: number) {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
}

function iterate(view: Journal, contract: Uint8Array, prefix: Uint8Array): string[] {
  const out: string[] = [];
  let after: Uint8Array | undefined;
  for (let e = view.next(contract, prefix, after); e; e = view.next(contract, prefix, after)) {
    out.push(`${latin1(e.key)}=${latin1(e.value)}`);
    after = e.key;
  }
  return out;
}

test('property: nested journals read, iterate and commit exactly like a plain sorted map', () => {
  const rand = prng(7);
  const keyOf = () => new Uint8Array(Array.from({ length: 1 + rand(3) }, () => 97 + rand(3))); // short keys over 'abc'
  for (let round = 0; round < 200; round++) {
    const committed = new MemoryState();
    const model = new Map<string, string>(); // contract|key -> value, as it should be seen
    const seed: Array<{ contract: Uint8Array; key: Uint8Array; value: Uint8Array }> = [];
    for (let i = 0; i < rand(12); i++) {
      const contract = rand(2) ? C1 : C2, key = keyOf(), value = new Uint8Array([48 + rand(10)]);
      seed.push({ contract, key, value });
    }
    committed.apply(seed);
    for (const w of seed) model.set(`${w.contract[0]}|${latin1(w.key)}`, latin1(w.value));
    // Up to three nested frames; each either commits into its parent or is dropped.
    const frames: Array<{ j: Journal; model: Map<string, string> }> = [{ j: new Journal(committed), model: new Map(model) }];
    for (let step = 0; step < 40; step++) {
      const top = frames[frames.length - 1]!;
      const op = rand(10);
      if (op < 5) {
        const contract = rand(2) ? C1 : C2, key = keyOf(), mk = `${contract[0]}|${latin1(key)}`;
        if (rand(3) === 0) { top.j.set(contract, key, null); top.model.delete(mk); }
        else { const v = new Uint8Array([48 + rand(10)]); top.j.set(contract, key, v); top.model.set(mk, latin1(v)); }
      } else if (op < 7 && frames.length < 4) {
        frames.push({ j: new Journal(top.j), model: new Map(top.model) });
      } else if (op < 9 && frames.length > 1) {
        frames.pop();
        if (rand(2) === 0) { top.j.commitInto(frames[frames.length - 1]!.j); frames[frames.length - 1]!.model = top.model; }
      }
      const cur = frames[frames.length - 1]!;
      const contract = rand(2) ? C1 : C2;
      const prefix = rand(3) === 0 ? new Uint8Array(0) : keyOf().subarray(0, 1);
      const expected = [...cur.model.entries()]
        .filter(([k]) => k.startsWith(`${contract[0]}|${latin1(prefix)}`))
        .map(([k, v]) => [k.slice(k.indexOf('|') + 1), v] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`);
      assert.equal(iterate(cur.j, contract, prefix), expected, `round ${round} step ${step}`);
      const probe = keyOf();
      const want = cur.model.get(`${contract[0]}|${latin1(probe)}`);
      const got = cur.j.get(contract, probe);
      assert.is(got === undefined ? undefined : latin1(got), want);
    }
  }
});

test('a journal\'s write set is sorted by contract and key and keeps removals', () => {
  const j = new Journal(new MemoryState());
  j.set(C2, new Uint8Array([1]), new Uint8Array([1]));
  j.set(C1, new Uint8Array([9]), null);
  j.set(C1, new Uint8Array([3]), new Uint8Array([3]));
  const w = j.toWrites();
  assert.equal(w.map((x) => [x.contract[0], x.key[0], x.value?.[0] ?? null]), [[1, 3, 3], [1, 9, null], [2, 1, 1]]);
});


test('property: the committed state reads, iterates and clones like a plain map through overwrites, removals and compaction', () => {
  const rand = prng(11);
  const state = new MemoryState();
  const model = new Map<string, string>(); // contract|key -> value
  const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
  // Values from 0 bytes to 300 KiB (those above 128 KiB take chunks of their own); 48 MiB written in
  // all, mostly overwrites of a few keys, so the arena is compacted more than once.
  const valueOf = (i: number) => {
    const n = rand(10) === 0 ? 131_072 + rand(180_000) : rand(200);
    return String.fromCharCode(i & 255).repeat(n) + `#${i}`;
  };
  const handedOut: Array<{ view: Uint8Array; text: string }> = [];
  let written = 0;
  for (let i = 0; written < 48 << 20; i++) {
    const writes = [];
    for (let j = 0; j < 1 + rand(20); j++) {
      const contract = rand(2) ? C1 : C2, key = `k${rand(40)}`;
      const value = rand(6) === 0 ? null : valueOf(i);
      writes.push({ contract, key: bytes(key), value: value === null ? null : bytes(value) });
      if (value === null) model.delete(`${contract[0]}|${key}`);
      else model.set(`${contract[0]}|${key}`, value);
      written += value?.length ?? 0;
    }
    state.apply(writes);
    // A value read now must not change when its key is overwritten or the arena compacted later.
    const [mk, mv] = [...model][rand(model.size || 1)] ?? [];
    if (mk !== undefined) handedOut.push({ view: state.get(mk.startsWith('1') ? C1 : C2, bytes(mk.slice(2)))!, text: mv! });
    if (i % 7 === 0) {
      for (const [k, v] of model) assert.is(latin1(state.get(k.startsWith('1') ? C1 : C2, bytes(k.slice(2)))!), v, k);
      assert.is(state.size, model.size);
    }
  }
  for (const { view, text } of handedOut) assert.is(latin1(view), text);
  // Key order, through next (which builds the ordered index) and then entriesOf after more writes.
  const ordered = (c: number) => [...model].filter(([k]) => k.startsWith(`${c}|`)).map(([k, v]) => `${k.slice(2)}=${v.length}`).sort();
  const seen: string[] = [];
  for (let e = state.next(C1, bytes('k'), undefined); e; e = state.next(C1, bytes('k'), e.key)) seen.push(`${latin1(e.key)}=${e.value.length}`);
  assert.equal(seen, ordered(1).sort((a, b) => (a.split('=')[0]! < b.split('=')[0]! ? -1 : 1)));
  state.apply([{ contract: C1, key: bytes('k0'), value: bytes('zero') }, { contract: C1, key: bytes('k1'), value: null }]);
  model.set('1|k0', 'zero');
  model.delete('1|k1');
  assert.equal(state.entriesOf(C1).map((e) => `${latin1(e.key)}=${e.value.length}`), ordered(1).sort((a, b) => (a.split('=')[0]! < b.split('=')[0]! ? -1 : 1)));
  // A clone and its original go their own ways, though they share the arena.
  const copy = state.clone();
  copy.apply([{ contract: C2, key: bytes('only-in-copy'), value: bytes('x') }, { contract: C1, key: bytes('k0'), value: bytes('changed') }]);
  for (let i = 0; i < 40; i++) state.apply([{ contract: C2, key: bytes('big'), value: new Uint8Array(1 << 20).fill(i) }]); // compacts the original
  assert.is(latin1(state.get(C1, bytes('k0'))!), 'zero');
  assert.is(latin1(copy.get(C1, bytes('k0'))!), 'changed');
  assert.is(state.get(C2, bytes('only-in-copy')), undefined);
  assert.is(latin1(copy.get(C2, bytes('only-in-copy'))!), 'x');
  assert.is(state.get(C2, bytes('big'))![0], 39);
  assert.is(copy.get(C2, bytes('big')), undefined);
});

test.run();
