import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StateError } from './errors.ts';
import { EMPTY_ROOT_HEX, emptyRoot, internalHash, keyPathOf, leafHash, pathBit, toHex, verifyProof } from './proof.ts';
import { MemoryNodeStore } from './store.ts';
import { StateTree, type StateWrite } from './tree.ts';
import { encodeNode } from './nodes.ts';
import { sha256 } from '@noble/hashes/sha2.js';

/** A deterministic PRNG so that a failure reproduces. */
function prng(seed: number) {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
}

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * The root of a key/value set straight from the definition (noble hashing, no tree code): the
 * reference the tree must match.
 */
function referenceRoot(model: Map<string, Uint8Array>): Uint8Array {
  const leaves = [...model].map(([k, v]) => ({ path: keyPathOf(Buffer.from(k, 'latin1')), v }));
  const build = (items: typeof leaves, depth: number): Uint8Array => {
    if (items.length === 0) return emptyRoot();
    if (items.length === 1) return leafHash(items[0]!.path, sha256(items[0]!.v));
    return internalHash(build(items.filter((i) => !pathBit(i.path, depth)), depth + 1), build(items.filter((i) => pathBit(i.path, depth)), depth + 1));
  };
  return build(leaves, 0);
}

function fresh(cacheNodes?: number) {
  const store = new MemoryNodeStore();
  const tree = new StateTree(store, cacheNodes === undefined ? {} : { cacheNodes });
  const apply = (writes: StateWrite[]) => {
    const u = tree.update(writes);
    store.putUpdate(u);
    return u.root;
  };
  return { store, tree, apply };
}

test('the empty tree: root is 32 zero bytes, every key absent and provably so', () => {
  const { tree } = fresh();
  assert.is(toHex(tree.root), EMPTY_ROOT_HEX);
  assert.is(tree.get(bytes('k')), undefined);
  const p = tree.prove(bytes('k'));
  assert.equal(p, { siblings: [], end: { type: 'empty' } });
  assert.is(verifyProof(tree.root, bytes('k'), p), null);
  const u = tree.update([]);
  assert.is(u.nodes.length, 0);
  assert.is(toHex(u.root), EMPTY_ROOT_HEX);
});

test('one key: the root is its leaf hash; deleting it gives the empty root again', () => {
  const { tree, apply } = fresh();
  const root = apply([{ key: bytes('a'), value: bytes('1') }]);
  assert.is(hex(root), hex(leafHash(keyPathOf(bytes('a')), sha256(bytes('1')))));
  assert.equal(tree.get(bytes('a')), bytes('1'));
  apply([{ key: bytes('a'), value: null }]);
  assert.is(toHex(tree.root), EMPTY_ROOT_HEX);
  // Deleting an absent key changes nothing and creates nothing.
  const u = tree.update([{ key: bytes('zz'), value: null }]);
  assert.is(u.nodes.length, 0);
  assert.is(toHex(u.root), EMPTY_ROOT_HEX);
});

test('property: the root depends on the key/value set only, matching the reference, over random operation sequences', () => {
  const rand = prng(11);
  for (let round = 0; round < 60; round++) {
    const { tree, apply } = fresh(round % 3 === 0 ? 8 : undefined); // a tiny cache forces reads from the store
    const model = new Map<string, Uint8Array>();
    const universe = 1 + rand(40);
    const steps = 1 + rand(12);
    for (let s = 0; s < steps; s++) {
      const writes: StateWrite[] = [];
      const n = rand(universe + 1);
      for (let i = 0; i < n; i++) {
        const k = `key-${rand(universe)}`;
        // Deletes are frequent, so subtrees collapse all the time.
        const value = rand(3) === 0 ? null : bytes(`v${rand(5)}`);
        writes.push({ key: bytes(k), value });
      }
      for (const w of writes) {
        const k = Buffer.from(w.key).toString('latin1');
        if (w.value === null) model.delete(k);
        else model.set(k, w.value);
      }
      apply(writes);
      assert.is(hex(tree.root), hex(referenceRoot(model)), `round ${round} step ${s}`);
    }
    // The same set written at once, in another order, into a fresh tree.
    const other = fresh();
    const all = [...model].map(([k, v]) => ({ key: Buffer.from(k, 'latin1'), value: v })).reverse();
    assert.is(hex(other.apply(all)), hex(tree.root));
    // Delete everything back to the empty root.
    tree.update([...model.keys()].map((k) => ({ key: Buffer.from(k, 'latin1'), value: null })));
    assert.is(toHex(tree.root), EMPTY_ROOT_HEX);
  }
});

test('within a batch the last write of a key wins', () => {
  const { tree, apply } = fresh();
  apply([{ key: bytes('a'), value: bytes('1') }, { key: bytes('a'), value: null }, { key: bytes('b'), value: bytes('2') }, { key: bytes('b'), value: bytes('3') }]);
  assert.is(tree.get(bytes('a')), undefined);
  assert.equal(tree.get(bytes('b')), bytes('3'));
});

test('old roots stay readable and provable after later updates (nodes are never mutated)', () => {
  const { tree, apply, store } = fresh(16);
  const rand = prng(3);
  const history: { root: Uint8Array; model: Map<string, string> }[] = [];
  const model = new Map<string, string>();
  for (let h = 0; h < 25; h++) {
    const writes: StateWrite[] = [];
    for (let i = 0; i < 20; i++) {
      const k = `k${rand(60)}`;
      if (rand(4) === 0) { writes.push({ key: bytes(k), value: null }); model.delete(k); } else { const v = `h${h}-${i}`; writes.push({ key: bytes(k), value: bytes(v) }); model.set(k, v); }
    }
    history.push({ root: apply(writes), model: new Map(model) });
  }
  const before = store.size;
  for (const { root, model: m } of history) {
    for (let k = 0; k < 60; k++) {
      const key = bytes(`k${k}`);
      const want = m.get(`k${k}`);
      assert.equal(tree.get(key, root), want === undefined ? undefined : bytes(want));
      const proven = verifyProof(root, key, tree.prove(key, root));
      assert.equal(proven, want === undefined ? null : bytes(want));
    }
  }
  assert.is(store.size, before, 'reads write nothing');
});

test('a batch creates exactly one node per position on the union of its paths (upper nodes hashed once, not per write)', () => {
  const { tree, apply } = fresh();
  const writes = Array.from({ length: 2000 }, (_, i) => ({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
  apply(writes);
  const changed = writes.slice(0, 500).map((w) => ({ key: w.key, value: bytes('new') }));
  const u = tree.update(changed);
  // Every position from the root down to each written leaf changes; rehashing per write would also
  // leave the intermediate versions of the upper nodes in the batch's output.
  const positions = new Set<string>();
  for (const { key } of changed) {
    const depth = tree.prove(key).siblings.length;
    const bits = [...keyPathOf(key)].map((b) => b.toString(2).padStart(8, '0')).join('');
    for (let d = 0; d <= depth; d++) positions.add(bits.slice(0, d));
  }
  assert.is(u.nodes.length, positions.size);
  assert.ok(positions.size < 500 * 5, `${positions.size} positions for 500 writes`);
  // Writing identical values changes nothing.
  const same = tree.update(changed.slice(0, 10));
  assert.is(same.nodes.length, 0);
  assert.is(hex(same.root), hex(u.root));
});

test('update with commit: false computes a root without moving the tree; base applies to any root', () => {
  const { tree, apply, store } = fresh();
  const r1 = apply([{ key: bytes('a'), value: bytes('1') }]);
  const u = tree.update([{ key: bytes('b'), value: bytes('2') }], { commit: false });
  store.putUpdate(u);
  assert.is(hex(tree.root), hex(r1));
  assert.equal(tree.get(bytes('b'), u.root), bytes('2'));
  const r3 = tree.update([{ key: bytes('c'), value: bytes('3') }], { base: u.root }).root;
  assert.equal(tree.get(bytes('b'), r3), bytes('2'));
  tree.setRoot(r1);
  assert.is(tree.get(bytes('b')), undefined);
});

test('keys of any length up to 2 KiB, empty keys and empty values', () => {
  const { tree, apply } = fresh();
  const long = new Uint8Array(2048).fill(7);
  apply([{ key: long, value: new Uint8Array(0) }, { key: new Uint8Array(0), value: bytes('empty key') }]);
  assert.equal(tree.get(long), new Uint8Array(0));
  assert.equal(tree.get(new Uint8Array(0)), bytes('empty key'));
  assert.equal(verifyProof(tree.root, long, tree.prove(long)), new Uint8Array(0));
});

test('two keys sharing a 24-bit path prefix: a chain of internal nodes that collapses back to a leaf', () => {
  // Find two keys whose keyPaths share their first 24 bits (a few thousand hashes by the birthday bound).
  const seen = new Map<string, Uint8Array>();
  let pair: [Uint8Array, Uint8Array] | undefined;
  for (let i = 0; !pair; i++) {
    const key = bytes(`chain-${i}`);
    const prefix = hex(keyPathOf(key).subarray(0, 3));
    const other = seen.get(prefix);
    if (other) pair = [other, key];
    else seen.set(prefix, key);
  }
  const [a, b] = pair;
  const { tree, apply } = fresh(4);
  apply([{ key: a, value: bytes('A') }, { key: b, value: bytes('B') }, { key: bytes('third'), value: bytes('C') }]);
  const proof = tree.prove(a);
  assert.ok(proof.siblings.length >= 25, `depth ${proof.siblings.length}`);
  assert.ok(proof.siblings.filter((s) => s === null).length >= 22, 'empty siblings along the shared prefix');
  assert.equal(verifyProof(tree.root, a, proof), bytes('A'));
  assert.equal(verifyProof(tree.root, b, tree.prove(b)), bytes('B'));
  // Deleting one of the pair collapses the whole chain: the survivor's leaf moves up beside 'third'.
  apply([{ key: b, value: null }]);
  assert.ok(tree.prove(a).siblings.length <= 2);
  assert.is(hex(tree.root), hex(referenceRoot(new Map([[Buffer.from(a).toString('latin1'), bytes('A')], ['third', bytes('C')]]))));
  apply([{ key: bytes('third'), value: null }]);
  assert.is(hex(tree.root), hex(leafHash(keyPathOf(a), sha256(bytes('A')))));
});

function throwsCode(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (e) {
    assert.instance(e, StateError);
    assert.is((e as StateError).code, code);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('malformed arguments give typed errors and change nothing', () => {
  const { tree, apply } = fresh();
  const r = apply([{ key: bytes('a'), value: bytes('1') }]);
  throwsCode(() => tree.update([{ key: bytes('b'), value: bytes('2') }, { key: new Uint8Array(2049), value: bytes('x') }]), 'STATE_KEY_INVALID');
  throwsCode(() => tree.update([{ key: 'a' as unknown as Uint8Array, value: null }]), 'STATE_KEY_INVALID');
  throwsCode(() => tree.update([null as unknown as StateWrite]), 'STATE_KEY_INVALID');
  throwsCode(() => tree.update([{ key: bytes('b'), value: 'x' as unknown as Uint8Array }]), 'STATE_VALUE_INVALID');
  throwsCode(() => tree.update([{ key: bytes('b'), value: new Uint8Array((1 << 20) + 1) }]), 'STATE_VALUE_INVALID');
  assert.is(hex(tree.root), hex(r));
  throwsCode(() => tree.get(bytes('a'), new Uint8Array(31)), 'STATE_ROOT_INVALID');
  throwsCode(() => tree.setRoot(new Uint8Array(33)), 'STATE_ROOT_INVALID');
  throwsCode(() => tree.prove(new Uint8Array(5000)), 'STATE_KEY_INVALID');
  throwsCode(() => tree.get(bytes('a'), new Uint8Array(32).fill(9)), 'STATE_NODE_MISSING');
  assert.is(tree.hasRoot(new Uint8Array(32).fill(9)), false);
  assert.is(tree.hasRoot(r), true);
});

test('missing and corrupt stored nodes give typed errors, never a wrong answer', () => {
  const { store, apply } = fresh();
  const writes = Array.from({ length: 50 }, (_, i) => ({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
  const root = apply(writes);
  const groups = store.groupKeys();
  assert.ok(groups.length >= 6, `${groups.length} groups`);
  const rand = prng(5);
  const reader = () => new StateTree(store, { root, cacheNodes: 4 });
  const readAll = (t: StateTree) => { for (const w of writes) t.prove(w.key); };
  for (let i = 0; i < 40; i++) {
    const [version, g] = groups[rand(groups.length)]!;
    const good = store.group(version, g)!;
    const flip = rand(good.length);
    const broken = [
      new Uint8Array(0),
      good.slice(0, good.length - 1),
      Uint8Array.from(good, (b, j) => (j === flip ? b ^ 1 : b)),
      Uint8Array.of(...good.subarray(0, 4), 7, ...good.subarray(5)),
    ];
    for (const bad of broken) {
      store.setGroup(version, g, bad);
      try {
        readAll(reader());
        assert.unreachable('a corrupt group was read');
      } catch (e) {
        // A damaged ref sends the read to a slot that does not exist (missing) or holds another node (corrupt).
        assert.instance(e, StateError);
        assert.ok(['STATE_NODE_CORRUPT', 'STATE_NODE_MISSING'].includes((e as StateError).code), (e as StateError).code);
        if (bad.length === 0 || bad === broken[3]) assert.is((e as StateError).code, 'STATE_NODE_CORRUPT');
      }
    }
    store.setGroup(version, g, undefined);
    throwsCode(() => readAll(reader()), 'STATE_NODE_MISSING');
    store.setGroup(version, g, good);
  }
  readAll(reader());
});

test('a proposal that is not adopted leaves nothing readable behind; adopting it makes it the current root', () => {
  const { tree, apply, store } = fresh();
  apply([{ key: bytes('a'), value: bytes('1') }]);
  const lost = tree.update([{ key: bytes('b'), value: bytes('2') }, { key: bytes('c'), value: bytes('3') }], { commit: false, version: 7 });
  throwsCode(() => tree.get(bytes('b'), lost.root), 'STATE_NODE_MISSING');
  const won = tree.update([{ key: bytes('b'), value: bytes('2') }], { commit: false, version: 7 });
  store.putUpdate(won);
  tree.adopt(won);
  assert.is(hex(tree.root), hex(won.root));
  assert.equal(tree.get(bytes('b')), bytes('2'));
  assert.is(tree.get(bytes('c')), undefined);
  throwsCode(() => tree.update([], { version: -1 }), 'STATE_VERSION_INVALID');
  throwsCode(() => tree.update([], { version: 1.5 }), 'STATE_VERSION_INVALID');
  // Opened at a stored root, a tree cannot tell which versions its store holds: each update names its own.
  const reopened = new StateTree(store, { root: won.root });
  throwsCode(() => reopened.update([{ key: bytes('d'), value: bytes('4') }]), 'STATE_VERSION_INVALID');
  const next = reopened.update([{ key: bytes('d'), value: bytes('4') }], { version: 8 });
  store.putUpdate(next);
  assert.equal(new StateTree(store, { root: next.root }).get(bytes('b')), bytes('2'));
});

test('a store written before node groups (nodes by hash) stays readable, and later versions build on it', () => {
  // Such a store: every node under its hash, internal nodes as their 65 hashed bytes.
  const legacy = new MemoryNodeStore();
  const model = new Map<string, string>();
  for (let i = 0; i < 40; i++) model.set(`k${i}`, `v${i}`);
  {
    // One update lists every node of the tree: stored by hash, as such a store kept them.
    const all = new StateTree(new MemoryNodeStore()).update([...model].map(([k, v]) => ({ key: bytes(k), value: bytes(v) })));
    for (const n of all.nodes.map(encodeNode)) {
      const keyLength = (n[1]! << 8) | n[2]!;
      const hash = n[0] === 1 ? sha256(n.subarray(0, 65)) : leafHash(keyPathOf(n.subarray(3, 3 + keyLength)), sha256(n.subarray(3 + keyLength)));
      legacy.putByHash(hash, n[0] === 1 ? n.subarray(0, 65) : n);
    }
    const tree2 = new StateTree(legacy, { root: all.root, cacheNodes: 4 });
    for (const [k, v] of model) assert.equal(tree2.get(bytes(k)), bytes(v));
  }
  const oldRoot = referenceRoot(new Map([...model].map(([k, v]) => [Buffer.from(bytes(k)).toString('latin1'), bytes(v)])));
  const tree = new StateTree(legacy, { root: oldRoot, cacheNodes: 4 });
  const u = tree.update([{ key: bytes('k1'), value: bytes('new') }, { key: bytes('k2'), value: null }, { key: bytes('k99'), value: bytes('x') }], { version: 100 });
  legacy.putUpdate(u);
  model.set('k1', 'new');
  model.delete('k2');
  model.set('k99', 'x');
  const reader = new StateTree(legacy, { cacheNodes: 4 });
  for (const [k, v] of model) {
    assert.equal(reader.get(bytes(k), u.root), bytes(v));
    assert.equal(verifyProof(u.root, bytes(k), reader.prove(bytes(k), u.root)), bytes(v));
  }
  assert.equal(reader.get(bytes('k2'), oldRoot), bytes('v2'));
  assert.is(hex(u.root), hex(referenceRoot(new Map([...model].map(([k, v]) => [Buffer.from(bytes(k)).toString('latin1'), bytes(v)])))));
});

test.run();
