import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { StateError } from './errors.ts';
import {
  type StateProof, checkProof, decodeProof, encodeProof, internalHash, keyPathOf, leafHash, proofFromJSON, proofToJSON, toHex, verifyProof,
} from './proof.ts';
import { encodeNode, idOf, keyPathIdOf, newInternal, newLeaf, newNodeHashes, sha256 as nodeSha256 } from './nodes.ts';
import { MemoryNodeStore } from './store.ts';
import { StateTree } from './tree.ts';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

function throwsCode(fn: () => unknown, codes: string[]): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, StateError);
    assert.ok(codes.includes((e as StateError).code), (e as StateError).code);
    return (e as StateError).code;
  }
  return assert.unreachable(`expected one of ${codes.join(', ')}`) as never;
}

/** A tree of 300 keys and one proof of each kind: present, absent by an empty subtree, absent by another leaf. */
function fixture() {
  const store = new MemoryNodeStore();
  const tree = new StateTree(store);
  store.putUpdate(tree.update(Array.from({ length: 300 }, (_, i) => ({ key: bytes(`key-${i}`), value: bytes(`value-${i}`.repeat(1 + (i % 3))) }))));
  const byEnd: Record<string, { key: Uint8Array; proof: StateProof }> = {};
  byEnd.value = { key: bytes('key-7'), proof: tree.prove(bytes('key-7')) };
  for (let i = 0; !(byEnd.empty && byEnd.leaf); i++) {
    const key = bytes(`absent-${i}`);
    const proof = tree.prove(key);
    byEnd[proof.end.type] ??= { key, proof };
  }
  return { tree, root: tree.root, byEnd };
}

test('membership and both kinds of non-membership proofs verify, as objects, bytes and JSON', () => {
  const { root, byEnd, tree } = fixture();
  assert.equal(Object.keys(byEnd).sort(), ['empty', 'leaf', 'value']);
  for (const [type, { key, proof }] of Object.entries(byEnd)) {
    const want = type === 'value' ? bytes('value-7'.repeat(2)) : null;
    assert.equal(verifyProof(root, key, proof), want);
    const encoded = encodeProof(proof);
    assert.equal(decodeProof(encoded), proof);
    assert.equal(verifyProof(root, key, encoded), want);
    const json = JSON.parse(JSON.stringify(proofToJSON(proof)));
    assert.equal(proofFromJSON(json), proof);
    assert.equal(verifyProof(root, key, proofFromJSON(json)), want);
    assert.ok(proof.siblings.length > 5 && proof.siblings.length < 30, `depth ${proof.siblings.length}`);
  }
  assert.equal(tree.get(bytes('key-7')), bytes('value-7'.repeat(2)));
});

test('every single-byte change, truncation or extension of an encoded proof is rejected', () => {
  const { root, byEnd } = fixture();
  // Small trees too: empty (header only) and single-leaf (no siblings).
  const store = new MemoryNodeStore();
  const tiny = new StateTree(store);
  const cases = Object.values(byEnd).map((c) => ({ root, ...c }));
  cases.push({ root: tiny.root, key: bytes('x'), proof: tiny.prove(bytes('x')) });
  store.putUpdate(tiny.update([{ key: bytes('only'), value: bytes('1') }]));
  cases.push({ root: tiny.root, key: bytes('only'), proof: tiny.prove(bytes('only')) });
  cases.push({ root: tiny.root, key: bytes('x'), proof: tiny.prove(bytes('x')) });
  let tried = 0;
  for (const { root: r, key, proof } of cases) {
    const good = encodeProof(proof);
    verifyProof(r, key, good);
    for (let i = 0; i < good.length; i++) {
      for (const x of new Set([good[i]! ^ 0x01, good[i]! ^ 0x80, good[i]! ^ 0xff, 0x00, 0x01, 0x02, 0xff])) {
        if (x === good[i]) continue;
        const bad = good.slice();
        bad[i] = x;
        throwsCode(() => verifyProof(r, key, bad), ['STATE_PROOF_MALFORMED', 'STATE_PROOF_INVALID']);
        tried++;
      }
    }
    for (let n = 0; n < good.length; n++) throwsCode(() => verifyProof(r, key, good.subarray(0, n)), ['STATE_PROOF_MALFORMED', 'STATE_PROOF_INVALID']);
    for (const extra of [0x00, 0x01]) throwsCode(() => verifyProof(r, key, Uint8Array.of(...good, extra)), ['STATE_PROOF_MALFORMED']);
  }
  assert.ok(tried > 1000, `${tried} tampered proofs`);
});

test('a proof is about one key and one root', () => {
  const { root, byEnd } = fixture();
  const other = new Uint8Array(root);
  other[31]! ^= 1;
  for (const { key, proof } of Object.values(byEnd)) {
    throwsCode(() => verifyProof(other, key, proof), ['STATE_PROOF_INVALID']);
    throwsCode(() => verifyProof(root, bytes('key-8'), proof), ['STATE_PROOF_INVALID']);
  }
  // The leaf an absence proof shows is another key's: it cannot prove that key absent.
  const leafEnd = byEnd.leaf!.proof;
  if (leafEnd.end.type !== 'leaf') throw new Error('fixture');
  const owner = Array.from({ length: 300 }, (_, i) => bytes(`key-${i}`)).find((k) => Buffer.from(keyPathOf(k)).equals(Buffer.from((leafEnd.end as { keyPath: Uint8Array }).keyPath)))!;
  throwsCode(() => verifyProof(root, owner, leafEnd), ['STATE_PROOF_INVALID']);
  // A present key's proof cannot be turned into an absence proof by replacing the end.
  const present = byEnd.value!.proof;
  throwsCode(() => verifyProof(root, byEnd.value!.key, { siblings: present.siblings, end: { type: 'empty' } }), ['STATE_PROOF_INVALID']);
  throwsCode(() => verifyProof(root, byEnd.value!.key, { siblings: present.siblings, end: { type: 'value', value: bytes('forged') } }), ['STATE_PROOF_INVALID']);
});

test('malformed proof objects and JSON, and bad arguments, give typed errors', () => {
  const { root, byEnd } = fixture();
  const { key, proof } = byEnd.value!;
  const malformed: unknown[] = [
    null, 1, 'proof', {}, { siblings: [] }, { siblings: 'x', end: { type: 'empty' } },
    { siblings: [new Uint8Array(31)], end: { type: 'empty' } },
    { siblings: [new Uint8Array(32)], end: { type: 'empty' } }, // an empty sibling must be null
    { siblings: new Array(257).fill(null), end: { type: 'empty' } },
    { siblings: [], end: { type: 'other' } },
    { siblings: [], end: { type: 'value', value: 'x' } },
    { siblings: [], end: { type: 'leaf', keyPath: new Uint8Array(32), valueHash: new Uint8Array(3) } },
  ];
  for (const m of malformed) {
    throwsCode(() => verifyProof(root, key, m as StateProof), ['STATE_PROOF_MALFORMED']);
    throwsCode(() => encodeProof(m as StateProof), ['STATE_PROOF_MALFORMED']);
    throwsCode(() => checkProof(m), ['STATE_PROOF_MALFORMED']);
  }
  const json = proofToJSON(proof);
  const badJson: unknown[] = [
    null, [], { siblings: null, end: json.end }, { siblings: json.siblings, end: null },
    { siblings: ['00'], end: json.end }, { siblings: ['0x0'], end: json.end }, { siblings: ['0xzz'], end: json.end },
    { siblings: [1], end: json.end }, { siblings: json.siblings, end: { type: 'value', value: 5 } },
    { siblings: json.siblings, end: { type: 'nope' } },
  ];
  for (const j of badJson) throwsCode(() => proofFromJSON(j), ['STATE_PROOF_MALFORMED']);
  throwsCode(() => decodeProof('0x01' as unknown as Uint8Array), ['STATE_PROOF_MALFORMED']);
  throwsCode(() => verifyProof(root.subarray(1), key, proof), ['STATE_ROOT_INVALID']);
  throwsCode(() => verifyProof(root, new Uint8Array(2049), proof), ['STATE_KEY_INVALID']);
  // A path ending beside an empty subtree is not a compact tree.
  throwsCode(() => verifyProof(root, key, { siblings: [...proof.siblings.slice(0, -1), null], end: proof.end }), ['STATE_PROOF_INVALID']);
});

test('node:crypto (tree) and @noble/hashes (verifier) hash every node kind identically', () => {
  for (let i = 0; i < 300; i++) {
    const data = randomBytes(i);
    assert.is(Buffer.from(nobleSha256(data)).toString('hex'), nodeSha256(data).toString('hex'));
    assert.is(Buffer.from(nobleSha256(data)).toString('hex'), createHash('sha256').update(data).digest('hex'));
    // Made and hashed as an update does (newNodeHashes: batched, through the native addon when built).
    const key = randomBytes(i % 70), value = randomBytes(i);
    const l = randomBytes(32), r = randomBytes(32);
    const leaf = newLeaf(keyPathIdOf(key), key, value, i, 0);
    // The refs after the 65 hashed bytes say where the children are stored; they are not hashed.
    const node = newInternal(idOf(l), i, 3, idOf(r), 7, i, i, 1);
    newNodeHashes.begin();
    newNodeHashes.leaf(leaf);
    newNodeHashes.internal(node);
    newNodeHashes.finish([leaf, node]);
    assert.is(idOf(leafHash(keyPathOf(key), nobleSha256(value))), leaf.id);
    const encoded = encodeNode(node);
    assert.is(idOf(internalHash(l, r)), node.id);
    assert.is(idOf(internalHash(l, r)), idOf(nodeSha256(encoded.subarray(0, 65))));
  }
});

test('the worked example of docs/state.md (fixed vectors)', () => {
  const store = new MemoryNodeStore();
  const tree = new StateTree(store);
  const u = tree.update([{ key: bytes('alice'), value: bytes('1') }, { key: bytes('bob'), value: bytes('2') }]);
  store.putUpdate(u);
  assert.is(toHex(u.root), '0xfd3db0729467ee4bcbd2833be2d190d2180adbc807774ae61b81fa76b97bf32f');
  // Slot order (children first); the root at slot 2 names alice's leaf at (0, 0) and bob's at (0, 1).
  assert.is(u.version, 0);
  assert.equal(u.rootRef, { at: 0, slot: 2 });
  assert.equal(u.nodes.map((n) => Buffer.from(encodeNode(n)).toString('hex')), [
    '000005616c69636531',
    '000003626f6232',
    '01d016098f5004316b2c734d9f90d96f9a9c606e35fd9f3feb56d2e69d6ddd2f2ed6658c2dfb72ebe11b407f7e77386354ac0208d6e5a05c5c7907dcdd2c225d27' + '000000000000000000000000' + '000000000000000000000001',
  ]);
  assert.is(toHex(encodeProof(tree.prove(bytes('alice')))), '0x0101000180d6658c2dfb72ebe11b407f7e77386354ac0208d6e5a05c5c7907dcdd2c225d270000000131');
  assert.is(toHex(encodeProof(tree.prove(bytes('carol')))), '0x0102000180d6658c2dfb72ebe11b407f7e77386354ac0208d6e5a05c5c7907dcdd2c225d272bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e906b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b');
});

test('the verifier runs without Node globals (Buffer, process, require)', () => {
  const { root, byEnd } = fixture();
  const { key, proof } = byEnd.value!;
  const script = `
    const [root, key, proof] = process.argv.slice(1), out = process.stdout;
    delete globalThis.process; delete globalThis.Buffer; delete globalThis.require;
    const m = await import(${JSON.stringify(new URL('proof.ts', import.meta.url).href)});
    let bad = 'accepted';
    try { m.verifyProof(m.fromHex(root), m.fromHex(key), m.fromHex(proof).map((b, i) => (i === 40 ? b ^ 1 : b))); } catch (e) { bad = e.code; }
    out.write(JSON.stringify({ buffer: typeof Buffer, value: m.toHex(m.verifyProof(m.fromHex(root), m.fromHex(key), m.fromHex(proof))), bad }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, toHex(root), toHex(key), toHex(encodeProof(proof))], { encoding: 'utf8' });
  assert.is(r.stderr, '');
  assert.equal(JSON.parse(r.stdout), { buffer: 'undefined', value: toHex(bytes('value-7'.repeat(2))), bad: 'STATE_PROOF_INVALID' });
});

test('the verifier is browser-safe: no node: imports or Buffer in proof.ts and errors.ts', () => {
  for (const f of ['proof.ts', 'errors.ts']) {
    const src = readFileSync(new URL(f, import.meta.url), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    assert.ok(imports.every((i) => i === './errors.ts' || i === '@noble/hashes/sha2.js'), `${f} imports ${imports.join(', ')}`);
    assert.not.match(src.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''), /\bBuffer\b|\bprocess\b|\brequire\(/, `${f} uses a Node global`);
  }
});

test.run();
