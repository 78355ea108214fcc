/**
 * Consensus faults between real node processes on loopback (libp2p between them):
 *
 * - A 2 | 2 partition made with the operators' own tool, deny lists (p2p.denyPeers, re-read on SIGHUP):
 *   while it lasts no node commits anything; once the lists are cleared the chain resumes, everyone
 *   catches up, and all nodes hold the same blocks.
 * - An equivocating validator (test/e2e/byzantine-validator.ts: two prevotes, two precommits and,
 *   as proposer, two blocks for every round) beside three honest ones: blocks keep committing, the
 *   honest nodes never disagree, and every one of them records the Byzantine validator's double votes
 *   as evidence (consensus_evidence), accusing nobody else.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNetwork } from '../../node/home.ts';
import { readKeyFile } from '../../node/keys/key-file.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { hex } from '../../node/chain/hash.ts';
import { evidenceFromJson, verifyEquivocation } from '../../node/consensus/evidence.ts';
import { onJsonLines, startNode, type NodeProcess, freeBasePort } from '../../tooling/nodes/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-faults-'));

const rpc = (p: NodeProcess) => new RpcClient(p.rpc, { timeoutMs: 3000 });
const height = async (p: NodeProcess) => (await rpc(p).call<{ height: number }>('chain_status')).height;
const heights = (ps: NodeProcess[]) => Promise.all(ps.map(height));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

async function assertSameBlocks(ps: NodeProcess[]): Promise<void> {
  const top = Math.min(...(await heights(ps)));
  for (let h = 1; h <= top; h++) {
    const hashes = await Promise.all(ps.map((p) => rpc(p).call<{ hash: string }>('chain_block', { height: h }).then((b) => b.hash)));
    for (const x of hashes) assert.is(x, hashes[0], `height ${h}`);
  }
}

async function stopAll(ps: Array<NodeProcess | undefined>): Promise<void> {
  for (const p of ps) p?.child.kill('SIGTERM');
  await Promise.all(ps.map((p) => p?.exited));
}

/** Starts a node in each home at once; if one fails to start, stops the others and throws. */
async function startAll(homes: string[]): Promise<NodeProcess[]> {
  const started = await Promise.allSettled(homes.map((h) => startNode(h)));
  const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await stopAll(ok);
    throw failed.reason;
  }
  return ok;
}

/** Writes `denyPeers` into a home's config.json, sends its node SIGHUP, and returns the node's answer (a JSON line). */
async function reloadDenyList(p: NodeProcess, home: string, peers: unknown[]): Promise<Record<string, unknown>> {
  const file = join(home, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as { p2p: { denyPeers?: unknown[] } };
  config.p2p.denyPeers = peers;
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  const seen = p.lines.length;
  p.child.kill('SIGHUP');
  const answer = () => p.lines.slice(seen).find((l) => l.event === 'deny-peers' || l.event === 'error');
  await until(async () => answer() !== undefined, 10_000, 'the node to re-read its deny list');
  return answer()!;
}

async function deny(p: NodeProcess, home: string, peers: string[]): Promise<void> {
  const line = await reloadDenyList(p, home, peers);
  assert.is(line.event, 'deny-peers', JSON.stringify(line));
  assert.equal([...(line.denyPeers as string[])].sort(), [...peers].sort());
}

test('a 2 | 2 partition made with deny lists commits nothing; healed, the chain resumes and every node agrees', async () => {
  const basePort = await freeBasePort(6);
  const net = await initNetwork(join(dir, 'partition'), { validators: 4, basePort, chainId: 'brop-partition-test', params: { blockTimeMs: 300 } });
  const procs: NodeProcess[] = [];
  try {
    procs.push(...await startAll(net.homes.map((h) => h.home)));
    await until(async () => (await heights(procs)).every((x) => x >= 3), 60_000, 'height 3 everywhere');
    const ids = await Promise.all(procs.map(async (p) => (await rpc(p).call<{ peerId: string }>('consensus_status')).peerId));
    // A list with something that is not a peer id is refused as a whole; the node runs on, denying nobody.
    const refused = await reloadDenyList(procs[0]!, net.homes[0]!.home, [ids[1], 'not-a-peer-id']);
    assert.is(refused.code, 'HOME_INVALID', JSON.stringify(refused));
    assert.equal((await rpc(procs[0]!).call<{ deniedPeers: string[] }>('consensus_status')).deniedPeers, []);
    // {validator-1, validator-2, full node} | {validator-3, validator-4}: the full node sits on one side,
    // or it would carry gossip across.
    const sideA = [0, 1, 4], sideB = [2, 3];
    const partition = async (on: boolean) => {
      await Promise.all([
        ...sideA.map((i) => deny(procs[i]!, net.homes[i]!.home, on ? sideB.map((j) => ids[j]!) : [])),
        ...sideB.map((i) => deny(procs[i]!, net.homes[i]!.home, on ? sideA.map((j) => ids[j]!) : [])),
      ]);
    };
    await partition(true);
    const status = () => Promise.all(procs.map((p) => rpc(p).call<{ peers: number; deniedPeers: string[] }>('consensus_status')));
    await until(async () => (await status()).map((s) => s.peers).join() === '2,2,1,1,2', 10_000, 'each node connected to its own side only');
    assert.equal([...(await status())[2]!.deniedPeers].sort(), sideA.map((j) => ids[j]!).sort());

    // A block in flight may still land (or reach a node of its side by block sync): wait until no height
    // moves for 1.5 s, which never happens while the chain is live (a block every 300 ms).
    let stalled = await heights(procs);
    const settle = Date.now() + 20_000;
    for (;;) {
      await sleep(1500);
      const now = await heights(procs);
      if (now.join() === stalled.join()) break;
      if (Date.now() > settle) throw new Error(`heights kept moving during the partition: ${stalled} then ${now}`);
      stalled = now;
    }
    await sleep(5000);
    assert.equal(await heights(procs), stalled, 'nothing commits without a quorum on either side');
    await assertSameBlocks(procs);

    await partition(false);
    const top = Math.max(...stalled);
    await until(async () => (await heights(procs)).every((x) => x >= top + 3), 60_000, 'the chain to resume and everyone to catch up');
    await assertSameBlocks(procs);
    for (const p of procs) {
      assert.equal(await rpc(p).call('consensus_evidence'), [], 'honest nodes, no evidence');
      assert.equal((await rpc(p).call<{ penalisedPeers: string[] }>('consensus_status')).penalisedPeers, [], 'and none disconnected for invalid gossip');
    }
  } finally {
    await stopAll(procs);
  }
});

interface Byzantine { child: ReturnType<typeof spawn>; lines: Array<Record<string, unknown>>; exited: Promise<unknown> }

function startByzantine(home: string): Promise<Byzantine> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./byzantine-validator.ts', import.meta.url)), home], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  const exited = new Promise((done) => child.once('exit', done));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the byzantine validator did not start: ${stderr}`)), 60_000);
    onJsonLines(child.stdout!, (j) => {
      lines.push(j);
      if (j.event === 'started') {
        clearTimeout(timer);
        resolve({ child, lines, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the byzantine validator exited with ${String(code)}: ${stderr}`));
    });
  });
}


test('an equivocating validator process cannot fork the chain, and every honest node records its evidence', async () => {
  const basePort = await freeBasePort(6);
  const net = await initNetwork(join(dir, 'byzantine'), { validators: 4, basePort, chainId: 'brop-byzantine-test', params: { blockTimeMs: 300 } });
  const honest: NodeProcess[] = [];
  let byz: Byzantine | undefined;
  try {
    // Validators 1-3 and the full node are honest; validator 4 is the Byzantine program.
    const homes = [0, 1, 2, 4].map((i) => net.homes[i]!.home);
    honest.push(...await startAll(homes));
    byz = await startByzantine(net.homes[3]!.home);
    const byzAddress = hex(accountAddress(readKeyFile(join(net.homes[3]!.home, 'keys', 'validator.json')).publicKey));
    // Validator 4 proposes round 0 of every fourth height: 12 heights give it three turns.
    await until(async () => (await heights(honest)).every((x) => x >= 12), 90_000, 'twelve heights with a Byzantine validator');
    await assertSameBlocks(honest);
    assert.ok(byz.lines.some((l) => l.event === 'proposed'), 'it made conflicting proposals');
    assert.ok(byz.lines.filter((l) => l.event === 'equivocated').length >= 10, 'it equivocated');
    for (const [k, p] of honest.entries()) {
      const evidence = (await rpc(p).call<unknown[]>('consensus_evidence', { limit: 10_000 })).map(evidenceFromJson);
      assert.ok(evidence.length > 0, 'evidence recorded');
      for (const e of evidence) {
        assert.is(e.first.validator, byzAddress, 'only the Byzantine validator is accused');
        assert.is(e.second.validator, byzAddress);
        assert.is.not(e.first.block, e.second.block);
        assert.ok(verifyEquivocation('brop-byzantine-test', e), 'signed: anyone can check it');
      }
      assert.ok(evidence.some((e) => e.first.type === 'prevote') && evidence.some((e) => e.first.type === 'precommit'), 'double prevotes and double precommits');
      // A limit gives the newest, oldest first (more may have come meanwhile: the equivocator goes on).
      const newest = (await rpc(p).call<unknown[]>('consensus_evidence', { limit: 2 })).map((e) => JSON.stringify(e));
      const all = (await rpc(p).call<unknown[]>('consensus_evidence', { limit: 10_000 })).map((e) => JSON.stringify(e));
      assert.is(newest.length, 2);
      assert.is(all[all.indexOf(newest[0]!) + 1], newest[1], 'consecutive, in order');
      assert.ok(all.indexOf(newest[0]!) >= evidence.length - 2, 'no older than the newest two before');
      assert.is(await rpc(p).call('consensus_evidence', { limit: 0 }).then(() => 'answered', (e: { code?: string }) => e.code), 'RPC_INVALID_PARAMS');
      assert.ok(readFileSync(join(homes[k]!, 'data', 'evidence.jsonl'), 'utf8').includes(byzAddress), 'kept in the data folder');
      // Equivocation is validly signed gossip: evidence, not a reason to drop a peer.
      assert.equal((await rpc(p).call<{ penalisedPeers: string[] }>('consensus_status')).penalisedPeers, []);
    }
  } finally {
    byz?.child.kill('SIGTERM');
    await byz?.exited;
    await stopAll(honest);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
