/**
 * `npm run bench -- state`: the authenticated state, our sparse Merkle tree (node/state) against
 * @ethereumjs/mpt, on one workload generated once per run: preload random 44-byte keys (contract
 * address ‖ storage key) with ~150-byte values, then apply blocks of 2,000 writes (40% new keys, 50%
 * overwrites, 10% deletes), computing the root after each; then prove and verify keys, half present
 * and half absent. Both keep nodes in memory (MemoryNodeStore; MapDB for mpt), and every node of
 * every block stays stored (no pruning), as for a node that keeps all heights provable.
 *
 * The mpt applies only the first MPT_BLOCKS blocks (default 5; ~0.4 s each) to keep the run near
 * 30 s. Environment: STATE_KEYS (default 100000), BLOCKS (20), MPT_BLOCKS (5).
 */
import { hash, randomBytes } from 'node:crypto';
import { createMPT, createMerkleProof, verifyMPTWithMerkleProof } from '@ethereumjs/mpt';
import { MapDB, ValueEncoding } from '@ethereumjs/util';
import { MemoryNodeStore, StateTree, encodeProof, verifyProof } from '../../node/state/index.ts';

const BLOCK = 2000;
const PRELOAD_BATCH = 10_000;
const PROOFS = 400;
const envInt = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

interface Write { key: Uint8Array; value: Uint8Array | null }

/** The workload: preload entries and blocks of writes, the same bytes for both implementations. */
function workload(keys: number, blocks: number) {
  const value = () => randomBytes(120 + Math.floor(Math.random() * 61)); // 120..180 bytes, mean 150
  const preload: Write[] = Array.from({ length: keys }, () => ({ key: randomBytes(44), value: value() }));
  // The first PROOFS / 2 keys are proven present: no block overwrites or deletes them.
  const live = preload.slice(PROOFS / 2).map((w) => w.key);
  const pick = () => live[Math.floor(Math.random() * live.length)]!;
  const blockWrites: Write[][] = [];
  for (let b = 0; b < blocks; b++) {
    const writes: Write[] = [];
    for (let i = 0; i < BLOCK; i++) {
      const r = i % 10;
      if (r < 4) {
        const key = randomBytes(44);
        writes.push({ key, value: value() });
        live.push(key);
      } else if (r < 9) {
        writes.push({ key: pick(), value: value() });
      } else {
        const at = Math.floor(Math.random() * live.length);
        writes.push({ key: live[at]!, value: null });
        live[at] = live[live.length - 1]!;
        live.pop();
      }
    }
    blockWrites.push(writes);
  }
  // Half present (in both implementations, whatever number of blocks each applied), half never written.
  const proofKeys = Array.from({ length: PROOFS }, (_, i) => (i % 2 ? randomBytes(44) : preload[i >> 1]!.key));
  return { preload, blockWrites, proofKeys };
}

interface Timed { updates: number; seconds: number; best: number }

function summary(impl: string, keys: number, preloadS: number, t: Timed, extra: Record<string, unknown>) {
  return {
    bench: 'state.update', impl, preloaded_keys: keys, block_writes: BLOCK, blocks: t.updates / BLOCK,
    updates_per_s: Math.round(t.updates / t.seconds), best_block_updates_per_s: Math.round(t.best),
    ms_per_block: +((t.seconds / (t.updates / BLOCK)) * 1000).toFixed(1), preload_s: +preloadS.toFixed(1), ...extra,
  };
}

function smt(w: ReturnType<typeof workload>, blocks: number) {
  blocks = Math.min(blocks, w.blockWrites.length);
  const store = new MemoryNodeStore();
  const tree = new StateTree(store);
  let t0 = performance.now();
  let stored = 0;
  for (let i = 0; i < w.preload.length; i += PRELOAD_BATCH) {
    const u = tree.update(w.preload.slice(i, i + PRELOAD_BATCH));
    store.putUpdate(u);
    stored += u.nodes.length;
  }
  const preloadS = (performance.now() - t0) / 1000;
  const timed: Timed = { updates: 0, seconds: 0, best: 0 };
  let nodes = 0;
  for (const writes of w.blockWrites.slice(0, blocks)) {
    t0 = performance.now();
    const u = tree.update(writes);
    store.putUpdate(u); // persisting (its groups' encoding) is part of a block's cost
    const s = (performance.now() - t0) / 1000;
    timed.updates += writes.length;
    timed.seconds += s;
    timed.best = Math.max(timed.best, writes.length / s);
    nodes += u.nodes.length;
  }
  const heapMB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  console.log(JSON.stringify(summary('brop-smt', w.preload.length, preloadS, timed, {
    new_nodes_per_block: Math.round(nodes / blocks), cached_nodes: tree.cachedNodes, stored_nodes: stored + nodes, heap_mb: heapMB,
    goal_updates_per_s: 10_000,
  })));

  const root = tree.root;
  let proveS = 0, verifyS = 0, proofBytes = 0, present = 0;
  for (const key of w.proofKeys) {
    t0 = performance.now();
    const proof = encodeProof(tree.prove(key));
    const t1 = performance.now();
    const value = verifyProof(root, key, proof);
    verifyS += (performance.now() - t1) / 1000;
    proveS += (t1 - t0) / 1000;
    proofBytes += proof.length;
    if (value !== null) present++;
  }
  const proof = { prove_us: Math.round((proveS / PROOFS) * 1e6), verify_us: Math.round((verifyS / PROOFS) * 1e6), proof_bytes: Math.round(proofBytes / PROOFS) };
  console.log(JSON.stringify({ bench: 'state.proof', impl: 'brop-smt', keys: PROOFS, present, ...proof, note: 'prove includes encoding; verify decodes and uses @noble/hashes' }));
  return { rate: timed.updates / timed.seconds, ...proof };
}

async function mpt(w: ReturnType<typeof workload>, blocks: number) {
  const keys = w.preload.length;
  // Its fastest configuration we found (~2x its defaults): native sha256 for keys and nodes instead
  // of JavaScript keccak, nodes stored as bytes instead of hex strings, and a node cache.
  const trie = await createMPT({
    db: new MapDB(), useKeyHashing: true, useKeyHashingFunction: (d: Uint8Array) => hash('sha256', d, 'buffer'),
    valueEncoding: ValueEncoding.Bytes, cacheSize: 200_000,
  });
  const ops = (writes: Write[]) => writes.map((x) => (x.value === null ? { type: 'del' as const, key: x.key } : { type: 'put' as const, key: x.key, value: x.value }));
  let t0 = performance.now();
  for (let i = 0; i < keys; i += PRELOAD_BATCH) await trie.batch(ops(w.preload.slice(i, Math.min(i + PRELOAD_BATCH, keys))));
  const preloadS = (performance.now() - t0) / 1000;
  const timed: Timed = { updates: 0, seconds: 0, best: 0 };
  for (const writes of w.blockWrites.slice(0, blocks)) {
    t0 = performance.now();
    await trie.batch(ops(writes));
    trie.root();
    const s = (performance.now() - t0) / 1000;
    timed.updates += writes.length;
    timed.seconds += s;
    timed.best = Math.max(timed.best, writes.length / s);
  }
  console.log(JSON.stringify(summary('@ethereumjs/mpt', keys, preloadS, timed, { config: 'sha256 (node:crypto), bytes encoding, cacheSize 200000' })));

  const root = trie.root();
  let proveS = 0, verifyS = 0, proofBytes = 0, present = 0;
  for (const key of w.proofKeys) {
    t0 = performance.now();
    const proof = await createMerkleProof(trie, key);
    const t1 = performance.now();
    const value = await verifyMPTWithMerkleProof(trie, root, key, proof);
    verifyS += (performance.now() - t1) / 1000;
    proveS += (t1 - t0) / 1000;
    proofBytes += proof.reduce((n, p) => n + p.length, 0);
    if (value !== null) present++;
  }
  const proof = { prove_us: Math.round((proveS / PROOFS) * 1e6), verify_us: Math.round((verifyS / PROOFS) * 1e6), proof_bytes: Math.round(proofBytes / PROOFS) };
  console.log(JSON.stringify({ bench: 'state.proof', impl: '@ethereumjs/mpt', keys: PROOFS, present, ...proof, note: 'proof_bytes: sum of the RLP nodes' }));
  return { rate: timed.updates / timed.seconds, ...proof };
}

export async function run(): Promise<void> {
  const keys = envInt('STATE_KEYS', 100_000);
  const blocks = envInt('BLOCKS', 20);
  const mptBlocks = Math.min(blocks, envInt('MPT_BLOCKS', 5));
  const w = workload(keys, blocks);
  const ours = smt(w, blocks);
  const theirs = await mpt(w, mptBlocks);
  console.log(JSON.stringify({
    bench: 'state.ratio', preloaded_keys: keys, updates_per_s: +(ours.rate / theirs.rate).toFixed(1), prove: +(theirs.prove_us / ours.prove_us).toFixed(1),
    verify: +(theirs.verify_us / ours.verify_us).toFixed(1), note: 'brop-smt over @ethereumjs/mpt for rates, mpt over brop-smt for times (> 1: brop-smt is faster); same preload, mpt runs the first blocks only',
  }));
}
