/**
 * Four validators in one process, each a full ChainNode with its own LevelDB, agreeing through the
 * BFT driver over an in-memory bus with random delays: they commit the same blocks with valid commit
 * certificates, keep going with one of them stopped, and a restarted validator rejoins.
 */
import { test } from 'uvu';
import { keyPairSigner } from '../keys/signer.ts';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SYSTEM_CONTRACTS, accountAddress, buildSystemContract, systemAddress } from '../../contracts/system/index.ts';
import { makeGenesis } from '../genesis.ts';
import { type BlockPlan, ChainNode } from '../node.ts';
import { newKeyPair, type KeyPair } from '../keys/key-file.ts';
import { BftConsensus, type ConsensusMessage, type ConsensusTransport, type SyncResponse, type SyncedBlock } from './bft.ts';
import { ConsensusWal, readWalRecords, writeWalRecords } from './wal.ts';
import { verifyCommit } from '../chain/commit.ts';
import { encodeTransaction, signTransaction } from '../tx/transaction.ts';
import { decodeResult, encodeArgs } from '../execution/contracts.ts';
import type { DeployedContract } from '../execution/contracts.ts';
import { NIL_BLOCK, PRECOMMIT, PREVOTE, decodeBlock, encodeBlock, encodeCommit, headerHash, planSigningPayload, proposalPayload, votePayload } from '../chain/block.ts';
import { TendermintMachine } from './tendermint.ts';
import { type Equivocation, evidenceFromJson, evidenceJson, verifyEquivocation } from './evidence.ts';
import { signEd25519 } from '../crypto/ed25519.ts';
import { hex } from '../chain/hash.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-bft-'));
const contracts: DeployedContract[] = [];
for (const name of SYSTEM_CONTRACTS) {
  const built = await buildSystemContract(name);
  contracts.push({ name, address: systemAddress(name), wasm: built.wasm, abi: built.abi });
}
const keys = [0, 1, 2, 3].map(() => newKeyPair());
const operator = newKeyPair();
const genesis = makeGenesis({
  chainId: 'brop-bft', params: { blockTimeMs: 150 },
  operator: { name: 'operator', publicKey: operator.publicKey },
  validators: keys.map((k, i) => ({ name: `validator-${i + 1}`, publicKey: k.publicKey })),
  contracts: contracts.map((c) => ({ name: c.name, wasm: c.wasm })),
});
const TIMEOUTS = { proposeMs: 600, prevoteMs: 200, precommitMs: 200, deltaMs: 200 };

/** An in-memory network: every message reaches every other connected member after a random delay. */
class Bus {
  private members = new Map<number, (m: ConsensusMessage) => void>();
  private servers = new Map<number, (from: bigint, max: number) => SyncResponse>();
  connected = new Set<number>();
  /** The chance that one delivery is lost. */
  loss = 0;
  sent = 0;
  /** Sees every message as it is broadcast, before any delivery. */
  tap: ((from: number, m: ConsensusMessage) => void) | undefined;
  transport(i: number): ConsensusTransport {
    return {
      broadcast: (m) => {
        if (!this.connected.has(i)) return;
        this.sent++;
        this.tap?.(i, m);
        if (!this.connected.has(i)) return; // the tap cut this member off
        for (const [j, receive] of this.members) {
          if (j === i || Math.random() < this.loss) continue;
          setTimeout(() => { if (this.connected.has(j)) receive(m); }, 1 + Math.floor(Math.random() * 20));
        }
      },
      subscribe: (receive) => { this.members.set(i, receive); this.connected.add(i); },
      requestBlocks: async (from, max) => {
        let height = 0n;
        for (const [j, serve] of this.servers) {
          if (j === i || !this.connected.has(j)) continue;
          const got = serve(from, max);
          if (got.height > height) height = got.height;
          if (got.blocks.length > 0) return { height, blocks: got.blocks };
        }
        return { height, blocks: [] };
      },
      serveBlocks: (serve) => { this.servers.set(i, serve); },
    };
  }
}

interface Validator { node: ChainNode; bft: BftConsensus; key: KeyPair }

/** Validator i of the network whose homes are named by `net` (each test that restarts validators has its own). */
async function validator(bus: Bus, i: number, net = 'v'): Promise<Validator> {
  const node = await ChainNode.open({ dataDir: join(dir, `${net}${i}`, 'data'), genesis, contracts, verifierWorkers: 0 });
  const bft = new BftConsensus(node, keyPairSigner(keys[i]!), bus.transport(i), ConsensusWal.open(join(dir, `${net}${i}`, 'consensus.wal')), { timeouts: TIMEOUTS, onError: (e) => { throw e; } });
  return { node, bft, key: keys[i]! };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assertSameChain(vs: Validator[]): void {
  const top = vs.reduce((m, v) => (v.node.height < m ? v.node.height : m), vs[0]!.node.height);
  for (let h = 1n; h <= top; h++) {
    const blocks = vs.map((v) => v.node.block(h)!);
    for (const b of blocks) assert.equal(b.hash, blocks[0]!.hash, `height ${h}`);
    verifyCommit(blocks[0]!.block.header, blocks[0]!.commit, vs[0]!.node.validators);
  }
}

test('four validators agree on every block, with commit certificates; transactions get in; one stopped, the rest go on; it comes back', async () => {
  const bus = new Bus();
  const vs = await Promise.all([0, 1, 2, 3].map((i) => validator(bus, i)));
  try {
    for (const v of vs) v.bft.start();
    await until(() => vs.every((v) => v.node.height >= 4n), 20_000, 'four heights');
    assertSameChain(vs);
    // Each block carries its parent's commit; precommits that came after the decision are in it too, and
    // governance counts every validator live by them.
    const n0 = vs[0]!.node;
    for (let h = 2n; h <= n0.height; h++) {
      const carried = n0.block(h)!.block.lastCommit;
      assert.equal(carried.blockHash, n0.block(h - 1n)!.hash);
      verifyCommit(n0.block(h - 1n)!.block.header, carried, n0.validators);
    }
    await until(() => n0.block(n0.height)!.block.lastCommit.signatures.length === 4, 20_000, 'a block carrying all four precommits');
    const governance = n0.contracts.named('governance')!;
    for (const k of keys) {
      const r = n0.call(governance.address, 'lastSignedAt', encodeArgs(governance, 'lastSignedAt', [accountAddress(k.publicKey)]));
      assert.ok((decodeResult(governance, 'lastSignedAt', r.output) as bigint) >= n0.height - 3n);
    }
    // A transaction sent to one validator gets in when that validator proposes.
    const admission = vs[0]!.node.contracts.named('admission')!;
    const partner = newKeyPair();
    const tx = encodeTransaction(signTransaction({
      chainId: 'brop-bft', sender: accountAddress(operator.publicKey), nonce: 1n, validUntilBlock: vs[0]!.node.height + 50n,
      contract: admission.address, method: 'admitPartner', args: encodeArgs(admission, 'admitPartner', [accountAddress(partner.publicKey), 'P', 7, randomBytes(32)]),
    }, operator.privateKey));
    const sent = await vs[0]!.node.submit(tx);
    await until(() => vs.every((v) => v.node.txStatus(sent.hash).status === 'committed'), 20_000, 'the transaction in a block');
    // Validator 3 stops (f = 1 of 4): the others keep committing.
    await vs[3]!.bft.stop();
    bus.connected.delete(3);
    const at = vs[0]!.node.height;
    await until(() => vs.slice(0, 3).every((v) => v.node.height >= at + 3n), 30_000, 'three more heights without validator 3');
    assertSameChain(vs.slice(0, 3));
    // It restarts (same data, same log) and catches up through the others' messages and certificates.
    await vs[3]!.node.close();
    bus.connected.add(3);
    const back = await validator(bus, 3);
    vs[3] = back;
    back.bft.start();
    await until(() => back.node.height >= vs[0]!.node.height - 1n, 30_000, 'validator 3 to catch up');
    assertSameChain(vs);
  } finally {
    for (const v of vs) await v.bft.stop();
    for (const v of vs) await v.node.close();
  }
});

test('a third of all deliveries lost, all four restarted mid-height: the validators still agree, carried by resent messages and the blocks kept in their logs', async () => {
  // All four stop at once, mid-height, the moment the last of them prevotes (some may have
  // precommitted, locked on a block that only their logs still hold). A clean stop, not a power cut
  // (the page cache survives): what the logs keep across a crash is wal.test.ts's business.
  const first = new Bus();
  let vs = await Promise.all([0, 1, 2, 3].map((i) => validator(first, i, 'lossy-')));
  let cutAt = -1n;
  const prevoted = new Map<number, string>();
  try {
    for (const v of vs) v.bft.start();
    await until(() => vs.every((v) => v.node.height >= 2n), 30_000, 'two heights');
    let stopping: Promise<void>[] = [];
    const precommitted = new Set<number>();
    first.tap = (from, m) => {
      if (stopping.length > 0 || m.kind !== 'vote' || m.height <= vs[from]!.node.height) return;
      if (m.height !== cutAt) {
        prevoted.clear();
        precommitted.clear();
        cutAt = m.height;
      }
      if (m.type === 'precommit') precommitted.add(from);
      else prevoted.set(from, hex(m.blockHash));
      // With at most one precommit out, no validator can gather the three that decide the height, not
      // even one whose step goes on after the stop (nothing more is delivered): the height stays open.
      if (prevoted.size < 4 || precommitted.size > 1) return;
      first.connected.clear(); // nothing more is delivered, in flight or not
      stopping = vs.map((v) => v.bft.stop()); // each stops before its next step
    };
    await until(() => stopping.length > 0, 30_000, 'all four to prevote at one height');
    await Promise.all(stopping);
  } finally {
    for (const v of vs) await v.bft.stop();
    for (const v of vs) await v.node.close();
  }
  assert.ok(vs.every((v) => v.node.height === cutAt - 1n), `stopped mid-height ${cutAt}: ${vs.map((v) => v.node.height).join(', ')}`);
  // Every log holds its signed prevote and, if that named a block, the block (kept before the vote).
  for (let i = 0; i < 4; i++) {
    const records = readWalRecords(join(dir, `lossy-${i}`, 'consensus.wal'));
    assert.ok(records.some((r) => 'sign' in r && r.sign === 'vote' && r.type === 'prevote' && r.height === String(cutAt)), `validator ${i} recorded its prevote`);
    const named = prevoted.get(i)!;
    if (/[^0]/.test(named)) assert.ok(records.some((r) => 'id' in r && r.id === named), `validator ${i} kept the block it prevoted for`);
  }
  const bus = new Bus();
  bus.loss = 1 / 3;
  vs = await Promise.all([0, 1, 2, 3].map((i) => validator(bus, i, 'lossy-')));
  try {
    const start = vs[0]!.node.height;
    for (const v of vs) v.bft.start();
    await until(() => vs.every((v) => v.node.height >= start + 4n), 60_000, 'four heights over a lossy network');
    assertSameChain(vs);
    const heights = Number(vs[0]!.node.height - start);
    // Two votes and a quarter of a proposal per validator and height is the floor: more went out again.
    assert.ok(bus.sent > heights * 4 * 2.25, `${bus.sent} messages for ${heights} heights`);
  } finally {
    for (const v of vs) await v.bft.stop();
    for (const v of vs) await v.node.close();
  }
});

test('block sync: a new node fetches the blocks with their certificates, towards the height its peers report', async () => {
  // The first test's chain (validator 0's data) is what the peer serves; it claims to be 100 blocks further on.
  const source = await ChainNode.open({ dataDir: join(dir, 'v0', 'data'), genesis, contracts, verifierWorkers: 0 });
  const fresh = await ChainNode.open({ dataDir: join(dir, 'fresh'), genesis, contracts, verifierWorkers: 0 });
  const claimed = source.height + 100n;
  let receive: ((m: ConsensusMessage) => void) | undefined;
  const transport: ConsensusTransport = {
    broadcast: () => undefined,
    subscribe: (r) => { receive = r; },
    requestBlocks: async (from, max) => ({ height: claimed, blocks: committedBlocks(source, from, max) }),
    serveBlocks: () => undefined,
  };
  const logged: Array<Record<string, unknown>> = [];
  const bft = new BftConsensus(fresh, undefined, transport, ConsensusWal.open(join(dir, 'fresh.wal')), { timeouts: TIMEOUTS, onError: (e) => { throw e; }, log: (e) => logged.push(e) });
  try {
    bft.start();
    // A message from far ahead is what sends a node to block sync.
    receive!({ kind: 'vote', type: 'prevote', height: claimed, round: 0, blockHash: NIL_BLOCK, publicKey: keys[0]!.publicKey, signature: new Uint8Array(64) });
    await until(() => logged.some((e) => e.event === 'sync'), 20_000, 'the sync to end');
    assert.is(fresh.height, source.height);
    assert.equal(logged.find((e) => e.event === 'sync'), { event: 'sync', height: source.height, from: 0n, target: claimed });
    assertSameChain([{ node: fresh } as Validator, { node: source } as Validator]);
  } finally {
    await bft.stop();
    await fresh.close();
    await source.close();
  }
});

test('a node that hears nothing of its chain (no peers, wrong peers) answers NODE_BEHIND until it does', async () => {
  const isolated = await ChainNode.open({ dataDir: join(dir, 'isolated'), genesis, contracts, verifierWorkers: 0 });
  let receive: ((m: ConsensusMessage) => void) | undefined;
  const transport: ConsensusTransport = { broadcast: () => undefined, subscribe: (r) => { receive = r; }, requestBlocks: async () => ({ height: 0n, blocks: [] }), serveBlocks: () => undefined };
  const bft = new BftConsensus(isolated, undefined, transport, ConsensusWal.open(join(dir, 'isolated.wal')), { timeouts: TIMEOUTS, onError: (e) => { throw e; }, staleMs: 1500 });
  try {
    bft.start();
    assert.is(isolated.behind, false); // the network gets its chance first
    await until(() => isolated.behind, 5000, 'the node to count itself behind');
    assert.is(await isolated.submit(readOnlyTx(isolated)).then(() => 'accepted', (e: { code?: string }) => e.code), 'NODE_BEHIND');
    // A current-height message from one of the chain's validators: the chain is heard from again.
    receive!({ kind: 'vote', type: 'prevote', height: isolated.height + 1n, round: 0, blockHash: NIL_BLOCK, publicKey: keys[0]!.publicKey, signature: new Uint8Array(64) });
    await until(() => !isolated.behind, 1000, 'the node to count itself up to date');
    // One from a key that is not the chain's validator (another chain's, say) is not word of this chain.
    await until(() => isolated.behind, 5000, 'silence again');
    receive!({ kind: 'vote', type: 'prevote', height: isolated.height + 1n, round: 0, blockHash: NIL_BLOCK, publicKey: newKeyPair().publicKey, signature: new Uint8Array(64) });
    await new Promise((r) => setTimeout(r, 300));
    assert.is(isolated.behind, true);
  } finally {
    await bft.stop();
    await isolated.close();
  }
});

/** What a peer serving `source`'s chain answers to a block sync request. */
function committedBlocks(source: ChainNode, from: bigint, max: number): SyncedBlock[] {
  const blocks: SyncedBlock[] = [];
  for (let h = from; h <= source.height && blocks.length < max; h++) {
    const b = source.block(h)!;
    blocks.push({ block: encodeBlock(b.block), commit: encodeCommit(b.commit) });
  }
  return blocks;
}

const addr = (k: KeyPair) => hex(accountAddress(k.publicKey));
/** The first-round proposer of height 1, and the validator after it in the order. */
function roles(): { p: number; honest: number } {
  const p = keys.findIndex((k) => new TendermintMachine(addr(k), keys.map(addr)).proposer(1n, 0) === addr(k));
  return { p, honest: (p + 1) % 4 };
}

/** Height 1's proposal of `block` (hash `hash`) by validator `p`, signed by it. */
function proposalOf(p: number, block: Parameters<typeof encodeBlock>[0], hash: Uint8Array): ConsensusMessage {
  return { kind: 'proposal', height: 1n, round: 0, validRound: -1, block: encodeBlock(block), publicKey: keys[p]!.publicKey, signature: signEd25519(keys[p]!.privateKey, proposalPayload(genesis.chainId, 1n, 0, -1, hash)) };
}

/** Validator `k`'s signed vote at height 1. */
function voteOf(k: number, type: 'prevote' | 'precommit', round: number, blockHash: Uint8Array): ConsensusMessage {
  const payload = votePayload(genesis.chainId, type === 'prevote' ? PREVOTE : PRECOMMIT, 1n, round, blockHash);
  return { kind: 'vote', type, height: 1n, round, blockHash, publicKey: keys[k]!.publicKey, signature: signEd25519(keys[k]!.privateKey, payload) };
}

/** An operator's role lookup (it writes only its quota charge), valid until height 50: something for a block to hold. */
function readOnlyTx(node: ChainNode): Uint8Array {
  const admission = node.contracts.named('admission')!;
  return encodeTransaction(signTransaction({
    chainId: genesis.chainId, sender: accountAddress(operator.publicKey), nonce: BigInt(`0x${randomBytes(8).toString('hex')}`), validUntilBlock: 50n,
    contract: admission.address, method: 'roleOf', args: encodeArgs(admission, 'roleOf', [randomBytes(32)]),
  }, operator.privateKey));
}

/** Validator `signer`'s plan of `plan` for round 0. */
function planOf(signer: number, plan: BlockPlan): ConsensusMessage {
  const fields = { height: plan.height, round: 0, time: plan.time, txHashes: plan.txs.map((t) => t.hash), lastCommit: encodeCommit(plan.lastCommit) };
  return { kind: 'plan', ...fields, publicKey: keys[signer]!.publicKey, signature: signEd25519(keys[signer]!.privateKey, planSigningPayload(genesis.chainId, fields)) };
}

type VoteMessage = Extract<ConsensusMessage, { kind: 'vote' }>;

/**
 * One honest validator on a transport of its own: the test hands it messages and reads what it sends and
 * logs. The same tag again is a restart (same data, same log); block sync is answered from `serve`.
 */
async function lone(i: number, tag: string, proposeMs: number, opts: { serve?: ChainNode } = {}) {
  const node = await ChainNode.open({ dataDir: join(dir, `honest-${tag}`), genesis, contracts, verifierWorkers: 0 });
  let receive: ((m: ConsensusMessage) => void) | undefined;
  const sent: ConsensusMessage[] = [];
  const logged: Array<Record<string, unknown>> = [];
  const prefetched: Array<readonly Uint8Array[]> = [];
  const requestBlocks = async (from: bigint, max: number): Promise<SyncResponse> =>
    (opts.serve ? { height: opts.serve.height, blocks: committedBlocks(opts.serve, from, max) } : { height: 0n, blocks: [] });
  const transport: ConsensusTransport = { broadcast: (m) => { sent.push(m); }, subscribe: (r) => { receive = r; }, requestBlocks, serveBlocks: () => undefined, prefetch: (h) => { prefetched.push(h); } };
  const bft = new BftConsensus(node, keyPairSigner(keys[i]!), transport, ConsensusWal.open(join(dir, `honest-${tag}.wal`)), { timeouts: { ...TIMEOUTS, proposeMs }, onError: (e) => { throw e; }, log: (e) => logged.push(e) });
  bft.start();
  const own = (type: 'prevote' | 'precommit') => sent.find((m) => m.kind === 'vote' && m.type === type && m.round === 0) as VoteMessage | undefined;
  return {
    node, bft, sent, logged, prefetched,
    walFile: join(dir, `honest-${tag}.wal`),
    receive: (m: ConsensusMessage) => receive!(m),
    /** Its round-0 prevote, once it has voted. */
    prevote: async () => {
      await until(() => own('prevote') !== undefined, 4000, 'the honest prevote');
      return own('prevote')!.blockHash;
    },
    /** Its round-0 precommit message, once it has sent it. */
    precommit: async () => {
      await until(() => own('precommit') !== undefined, 4000, 'the honest precommit');
      return own('precommit')!;
    },
    close: async () => {
      await bft.stop();
      await node.close();
    },
  };
}

test('a proposal whose block names another validator as its proposer is voted nil; naming its signer, it is voted for', async () => {
  const { p, honest } = roles();
  const other = (p + 2) % 4;
  const maker = await ChainNode.open({ dataDir: join(dir, 'maker'), genesis, contracts, verifierWorkers: 0 });
  const prevoteFor = async (named: KeyPair, tag: string): Promise<{ vote: Uint8Array; hash: Uint8Array }> => {
    const v = await lone(honest, tag, 5000);
    try {
      const { block, hash } = maker.proposeBlock(accountAddress(named.publicKey));
      v.receive(proposalOf(p, block, hash));
      return { vote: await v.prevote(), hash };
    } finally {
      await v.close();
    }
  };
  try {
    assert.equal((await prevoteFor(keys[other]!, 'forged')).vote, NIL_BLOCK);
    const honestBlock = await prevoteFor(keys[p]!, 'true');
    assert.equal(honestBlock.vote, honestBlock.hash);
  } finally {
    await maker.close();
  }
});

test('a plan sent ahead of its proposal is executed before the proposal comes: a proposal keeping to it is voted for without executing it again; others are checked as always', async () => {
  const { p, honest } = roles();
  const other = (p + 2) % 4;
  const maker = await ChainNode.open({ dataDir: join(dir, 'maker-plan'), genesis, contracts, verifierWorkers: 0 });
  const tx = readOnlyTx(maker);
  await maker.submit(tx);
  const plan = maker.planBlock(accountAddress(keys[p]!.publicKey));
  const kept = maker.makeBlock(plan);
  const broken = maker.makeBlock({ ...plan, txs: [] }); // the plan not kept: another block
  /**
   * The honest validator's prevote after the plan messages and then the proposal of `made` (or the
   * proposal first, `late`); how often it executed a plan and a proposal; what it logged; how many
   * plans' transactions it had the transport fetch.
   */
  const run = async (tag: string, pooled: boolean, plans: ConsensusMessage[], made: typeof kept, late = false) => {
    const v = await lone(honest, tag, 5000);
    try {
      if (pooled) await v.node.submit(tx);
      const counts = { plans: 0, proposals: 0 };
      const { checkPlan, checkProposal } = v.node;
      v.node.checkPlan = (x) => { counts.plans++; return checkPlan.call(v.node, x); };
      v.node.checkProposal = (b) => { counts.proposals++; return checkProposal.call(v.node, b); };
      if (!late) for (const m of plans) v.receive(m);
      v.receive(proposalOf(p, made.block, made.hash));
      const vote = await v.prevote();
      if (late) for (const m of plans) v.receive(m);
      await new Promise((r) => setTimeout(r, 50));
      return { vote, ...counts, logged: v.logged.map((e) => e.event), prefetched: v.prefetched.length };
    } finally {
      await v.close();
    }
  };
  try {
    // A plan signed by a validator that is not the round's proposer is not taken; the proposer's is, once.
    const r1 = await run('plan-kept', true, [planOf(other, plan), planOf(p, plan), planOf(p, { ...plan, txs: [] })], kept);
    assert.equal(r1, { vote: kept.hash, plans: 1, proposals: 0, logged: [], prefetched: 0 });
    // A proposal other than the plan, or a plan naming a transaction the pool lacks (fetched ahead): the proposal is checked.
    assert.equal(await run('plan-broken', true, [planOf(p, plan)], broken), { vote: broken.hash, plans: 1, proposals: 1, logged: [], prefetched: 0 });
    assert.equal(await run('plan-unpooled', false, [planOf(p, plan)], kept), { vote: kept.hash, plans: 1, proposals: 1, logged: [], prefetched: 1 });
    // A plan after its round's proposal is of no use: not executed.
    assert.equal(await run('plan-after', true, [planOf(p, plan)], kept, true), { vote: kept.hash, plans: 0, proposals: 1, logged: [], prefetched: 0 });
    // An invalid plan (its time far ahead) is logged; it changes nothing for the proposal.
    const r4 = await run('plan-ahead', true, [planOf(p, { ...plan, time: plan.time + 60_000n })], kept);
    assert.equal([r4.vote, r4.proposals, r4.logged], [kept.hash, 1, ['plan-rejected']]);
  } finally {
    await maker.close();
  }
});

test('a round whose proposer\'s plan came waits once more for its proposal: one later than the propose timeout is voted for; none at all, the round times out at twice the timeout', async () => {
  const { p, honest } = roles();
  const maker = await ChainNode.open({ dataDir: join(dir, 'maker-plan-wait'), genesis, contracts, verifierWorkers: 0 });
  await maker.submit(readOnlyTx(maker));
  const plan = maker.planBlock(accountAddress(keys[p]!.publicKey));
  const made = maker.makeBlock(plan);
  try {
    // The plan names a transaction this validator's pool lacks (as when its admission lags): only a
    // sign of life, not a block executed ahead.
    const late = await lone(honest, 'plan-wait', 1000);
    try {
      late.receive(planOf(p, plan));
      await new Promise((r) => setTimeout(r, 1400));
      late.receive(proposalOf(p, made.block, made.hash));
      assert.equal(await late.prevote(), made.hash);
      assert.not.ok(late.logged.some((e) => e.event === 'round-timeout'));
    } finally {
      await late.close();
    }
    const never = await lone(honest, 'plan-never', 300);
    try {
      never.receive(planOf(p, plan));
      assert.equal(await never.prevote(), NIL_BLOCK);
    } finally {
      await never.close();
    }
    assert.equal(never.logged.find((e) => e.event === 'round-timeout'), { event: 'round-timeout', height: 1n, round: 0, step: 'propose', proposer: addr(keys[p]!), afterMs: 600 });
  } finally {
    await maker.close();
  }
});

test('a refused proposal is voted nil and logged with its reason; a round without a proposal logs its timeout and proposer', async () => {
  const { p, honest } = roles();
  const maker = await ChainNode.open({ dataDir: join(dir, 'maker-3'), genesis, contracts, verifierWorkers: 0 });
  try {
    // A block whose header claims another state root than executing it gives.
    const made = maker.proposeBlock(accountAddress(keys[p]!.publicKey));
    const header = { ...made.block.header, stateRoot: new Uint8Array(randomBytes(32)) };
    const refused = await lone(honest, 'refused', 5000);
    try {
      refused.receive(proposalOf(p, { ...made.block, header }, headerHash(header)));
      assert.equal(await refused.prevote(), NIL_BLOCK);
    } finally {
      await refused.close();
    }
    const why = refused.logged.find((e) => e.event === 'proposal-rejected');
    assert.ok(why, refused.logged.map((e) => e.event).join(', '));
    assert.is(why.code, 'BLOCK_INVALID');
    assert.is(why.proposer, addr(keys[p]!));
    const silent = await lone(honest, 'silent', 200);
    try {
      assert.equal(await silent.prevote(), NIL_BLOCK);
    } finally {
      await silent.close();
    }
    assert.equal(silent.logged.find((e) => e.event === 'round-timeout'), { event: 'round-timeout', height: 1n, round: 0, step: 'propose', proposer: addr(keys[p]!), afterMs: 200 });
  } finally {
    await maker.close();
  }
});

test('a proposer that signs two different blocks for one round, and a validator that prevotes two, are kept as signed evidence anyone can check; the first proposal stands', async () => {
  const { p, honest } = roles();
  const maker = await ChainNode.open({ dataDir: join(dir, 'maker-2'), genesis, contracts, verifierWorkers: 0 });
  const v = await lone(honest, 'double', 5000);
  const { bft, sent } = v;
  try {
    const propose = (b: { block: Parameters<typeof encodeBlock>[0]; hash: Uint8Array }) => v.receive(proposalOf(p, b.block, b.hash));
    const a = maker.proposeBlock(accountAddress(keys[p]!.publicKey));
    await new Promise((r) => setTimeout(r, 5)); // a later time: another block
    const b = maker.proposeBlock(accountAddress(keys[p]!.publicKey));
    await new Promise((r) => setTimeout(r, 5));
    const c = maker.proposeBlock(accountAddress(keys[p]!.publicKey));
    assert.not.equal(a.hash, b.hash);
    assert.not.equal(b.hash, c.hash);
    propose(a);
    propose(b);
    propose(b); // the same again: nothing new
    propose(c); // a third block for the round: filed once per proposer and round already
    await until(() => bft.evidence.length > 0 && sent.some((m) => m.kind === 'vote' && m.type === 'prevote'), 4000, 'evidence and the prevote');
    const q = [0, 1, 2, 3].find((i) => i !== p && i !== honest)!;
    v.receive(voteOf(q, 'prevote', 0, a.hash));
    v.receive(voteOf(q, 'prevote', 0, b.hash));
    await until(() => bft.evidence.length === 2, 4000, 'the double prevote');
    await new Promise((r) => setTimeout(r, 100));
    assert.is(bft.evidence.length, 2);
    const [e, d] = bft.evidence as [Equivocation, Equivocation];
    assert.equal([e.first.type, e.first.validator, e.first.block, e.second.block], ['proposal', addr(keys[p]!), hex(a.hash), hex(b.hash)]);
    assert.equal([d.first.type, d.first.validator, d.first.block, d.second.block], ['prevote', addr(keys[q]!), hex(a.hash), hex(b.hash)]);
    // Each statement carries its key and signature: the pair proves itself, on this chain only.
    for (const x of [e, d]) {
      assert.ok(verifyEquivocation(genesis.chainId, x));
      assert.ok(verifyEquivocation(genesis.chainId, evidenceFromJson(JSON.parse(JSON.stringify(evidenceJson(x))))), 'as served and filed');
      assert.not.ok(verifyEquivocation('another-chain', x));
    }
    const vote = sent.find((m) => m.kind === 'vote' && m.type === 'prevote') as Extract<ConsensusMessage, { kind: 'vote' }>;
    assert.equal(vote.blockHash, a.hash, 'the first proposal stands');
  } finally {
    await v.close();
    await maker.close();
  }
});

/**
 * Height 1 taken by `honest` up to its precommit for `p`'s block (p and one more validator, `q`,
 * prevote it), then stopped before any other precommit arrived: the start of the restart tests below.
 */
async function precommittedThenStopped(tag: string) {
  const { p, honest } = roles();
  const q = [0, 1, 2, 3].find((i) => i !== p && i !== honest)!;
  const maker = await ChainNode.open({ dataDir: join(dir, `maker-${tag}`), genesis, contracts, verifierWorkers: 0 });
  const made = maker.proposeBlock(accountAddress(keys[p]!.publicKey));
  const v = await lone(honest, tag, 5000);
  try {
    v.receive(proposalOf(p, made.block, made.hash));
    assert.equal(await v.prevote(), made.hash);
    v.receive(voteOf(p, 'prevote', 0, made.hash));
    v.receive(voteOf(q, 'prevote', 0, made.hash));
    const precommit = await v.precommit();
    assert.equal(precommit.blockHash, made.hash);
    return { p, q, honest, maker, made, precommit, walFile: v.walFile };
  } finally {
    await v.close();
  }
}

/** The log as a crash may leave it: the others' precommits were taken in, but their signature records (and, with `blockLost`, the block's record) did not reach the disk. */
function loseRecords(walFile: string, precommitters: number[], block: Uint8Array, blockLost: boolean): void {
  writeWalRecords(walFile, readWalRecords(walFile).filter((r) => !(blockLost && 'id' in r)));
  const wal = ConsensusWal.open(walFile);
  for (const k of precommitters) wal.record(1n, { kind: 'vote', vote: { type: 'precommit', height: 1n, round: 0, block: hex(block), validator: addr(keys[k]!) } });
}

test('restarted, a validator sends its own votes again byte for byte; a replayed decision missing precommit signatures commits once more than 2/3 have arrived again', async () => {
  const { p, q, honest, maker, made, precommit, walFile } = await precommittedThenStopped('awaiting');
  try {
    loseRecords(walFile, [p, q], made.hash, false);
    const v = await lone(honest, 'awaiting', 5000);
    try {
      await until(() => v.logged.some((e) => e.event === 'decided-awaiting-signatures'), 4000, 'the decision to wait for signatures');
      assert.is(v.node.height, 0n, 'a certificate of one signature is no certificate');
      assert.equal(await v.precommit(), precommit, 'the same precommit, not a second one');
      v.receive(voteOf(p, 'precommit', 0, made.hash));
      v.receive(voteOf(q, 'precommit', 0, made.hash));
      await until(() => v.node.height === 1n, 4000, 'the commit');
      const b = v.node.block(1n)!;
      assert.equal(b.hash, made.hash);
      assert.equal(b.commit.signatures.map((s) => addr({ publicKey: s.publicKey } as KeyPair)).sort(), [p, q, honest].map((k) => addr(keys[k]!)).sort());
      verifyCommit(b.block.header, b.commit, v.node.validators);
    } finally {
      await v.close();
    }
  } finally {
    await maker.close();
  }
});

test('restarted with a decision whose block record was lost, a validator logs it and fetches the block with its certificate by block sync', async () => {
  const { p, q, honest, maker, made, precommit, walFile } = await precommittedThenStopped('blockless');
  try {
    loseRecords(walFile, [p, q], made.hash, true);
    // The others committed it meanwhile: the maker stands for them.
    const signatures = [p, q].map((k) => voteOf(k, 'precommit', 0, made.hash) as VoteMessage).concat(precommit).map((m) => ({ publicKey: m.publicKey, signature: m.signature }));
    await maker.commitBlock(made, { height: 1n, round: 0, blockHash: made.hash, signatures });
    const v = await lone(honest, 'blockless', 5000, { serve: maker });
    try {
      await until(() => v.node.height === 1n, 4000, 'the block by sync');
      assert.equal(v.node.block(1n)!.hash, made.hash);
      assert.equal(v.logged.find((e) => e.event === 'decided-without-block'), { event: 'decided-without-block', height: 1n, round: 0, block: hex(made.hash) });
      assert.ok(v.logged.some((e) => e.event === 'sync'));
    } finally {
      await v.close();
    }
  } finally {
    await maker.close();
  }
});

test('restarted with a decision whose block record was lost, a validator takes the block from the proposal sent again', async () => {
  const { p, q, honest, maker, made, walFile } = await precommittedThenStopped('blockless-2');
  try {
    loseRecords(walFile, [p, q], made.hash, true);
    const v = await lone(honest, 'blockless-2', 5000);
    try {
      await until(() => v.logged.some((e) => e.event === 'decided-without-block'), 4000, 'the decision without its block');
      v.receive(voteOf(p, 'precommit', 0, made.hash));
      v.receive(voteOf(q, 'precommit', 0, made.hash));
      v.receive(proposalOf(p, made.block, made.hash));
      await until(() => v.node.height === 1n, 4000, 'the commit');
      assert.equal(v.node.block(1n)!.hash, made.hash); // no peer to sync from here: the proposal brought it
    } finally {
      await v.close();
    }
  } finally {
    await maker.close();
  }
});

test('after a restart mid-height, a conflicting precommit is still signed evidence (the first one\'s signature is in the log); a conflicting prevote is logged as unprovable', async () => {
  const { p, maker, made, honest } = await precommittedThenStopped('evidence-restart');
  try {
    // p's precommit for the block arrives, and the validator stops again.
    const before = await lone(honest, 'evidence-restart', 5000);
    try {
      await until(() => before.sent.some((m) => m.kind === 'vote' && m.type === 'precommit'), 4000, 'the replay');
      before.receive(voteOf(p, 'precommit', 0, made.hash));
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await before.close();
    }
    const v = await lone(honest, 'evidence-restart', 5000);
    try {
      await until(() => v.sent.some((m) => m.kind === 'vote' && m.type === 'precommit'), 4000, 'the replay');
      v.receive(voteOf(p, 'precommit', 0, NIL_BLOCK));
      v.receive(voteOf(p, 'prevote', 0, NIL_BLOCK));
      await until(() => v.bft.evidence.length === 1 && v.logged.some((e) => e.event === 'equivocation-unsigned'), 4000, 'the evidence and the log line');
      const e = v.bft.evidence[0]!;
      assert.equal([e.first.type, e.first.validator, e.first.block, e.second.block], ['precommit', addr(keys[p]!), hex(made.hash), null]);
      assert.ok(verifyEquivocation(genesis.chainId, e));
      const line = v.logged.find((x) => x.event === 'equivocation-unsigned')!;
      assert.equal([line.type, line.validator, line.first, line.second], ['prevote', addr(keys[p]!), hex(made.hash), null]);
    } finally {
      await v.close();
    }
  } finally {
    await maker.close();
  }
});

test('a proposer restarted mid-round sends the same proposal again, byte for byte, and commits that block', async () => {
  const { p } = roles();
  const first = await lone(p, 'proposer', 5000);
  let proposal: Extract<ConsensusMessage, { kind: 'proposal' }>;
  try {
    await until(() => first.sent.some((m) => m.kind === 'proposal'), 4000, 'the proposal');
    proposal = first.sent.find((m) => m.kind === 'proposal') as typeof proposal;
  } finally {
    await first.close();
  }
  const v = await lone(p, 'proposer', 5000);
  try {
    await until(() => v.sent.some((m) => m.kind === 'proposal'), 4000, 'the proposal again');
    assert.equal(v.sent.filter((m) => m.kind === 'proposal'), [proposal]);
    const hash = headerHash(decodeBlock(proposal.block).header);
    const others = [0, 1, 2, 3].filter((k) => k !== p).slice(0, 2);
    for (const k of others) v.receive(voteOf(k, 'prevote', 0, hash));
    for (const k of others) v.receive(voteOf(k, 'precommit', 0, hash));
    await until(() => v.node.height === 1n, 4000, 'the commit');
    assert.equal(v.node.block(1n)!.hash, hash);
  } finally {
    await v.close();
  }
});

test('a proposer restarted before it made its proposal makes it once the replay is over, without waiting out the round', async () => {
  const { p } = roles();
  // The log of a validator that crashed right after starting height 1, its turn to propose.
  ConsensusWal.open(join(dir, 'honest-unmade.wal')).record(1n, { kind: 'start', height: 1n });
  const v = await lone(p, 'unmade', 60_000);
  try {
    await until(() => v.sent.some((m) => m.kind === 'proposal'), 4000, 'the proposal');
    await new Promise((r) => setTimeout(r, 100));
    const proposals = v.sent.filter((m) => m.kind === 'proposal');
    assert.equal(proposals.map((m) => [m.height, m.round]), [[1n, 0]], 'one proposal');
    // Its block reached the log before the claim to have proposed it (whose sync carries both to disk).
    const records = readWalRecords(join(dir, 'honest-unmade.wal'));
    const blockAt = records.findIndex((r) => 'id' in r), claimAt = records.findIndex((r) => 'sign' in r && r.sign === 'proposal');
    assert.ok(blockAt >= 0 && blockAt < claimAt, `block record at ${blockAt}, claim at ${claimAt}`);
  } finally {
    await v.close();
  }
});

test('a proposer whose log shows its propose step already timed out does not propose for that round after a restart', async () => {
  const { p } = roles();
  const wal = ConsensusWal.open(join(dir, 'honest-late.wal'));
  wal.record(1n, { kind: 'start', height: 1n });
  wal.record(1n, { kind: 'timeout', height: 1n, round: 0, step: 'propose' });
  const v = await lone(p, 'late', 60_000);
  try {
    const nil = await v.prevote();
    assert.equal(nil, NIL_BLOCK, 'the round went on without a proposal: a nil prevote');
    await new Promise((r) => setTimeout(r, 100));
    assert.not.ok(v.sent.some((m) => m.kind === 'proposal'));
  } finally {
    await v.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
