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

test.run();
