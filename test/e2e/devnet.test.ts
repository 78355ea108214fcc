/**
 * Four validators and a full node as separate processes on loopback (libp2p between them): blocks
 * commit; with one validator killed they keep committing; with two killed nothing commits and nothing
 * forks; when they come back the chain resumes and they catch up, having signed nothing that
 * contradicts what they signed before the kill (no node holds evidence). A transaction sent to the full
 * node reaches a validator's block. After every phase all nodes hold identical blocks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { initNetwork } from '../../node/home.ts';
import { readKeyFile, newKeyPair } from '../../node/keys/key-file.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import type { RpcError } from '../../node/rpc/errors.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { hex0x } from '../../node/json.ts';
import { BROP, onJsonLines, startNode, TxFactory, type NodeProcess, freeBasePort } from '../../tooling/nodes/processes.ts';
import { spawn, spawnSync } from 'node:child_process';

const dir = mkdtempSync(join(tmpdir(), 'brop-devnet-'));

async function height(p: NodeProcess): Promise<number> {
  return (await new RpcClient(p.rpc, { timeoutMs: 2000 }).call<{ height: number }>('chain_status')).height;
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function assertSameBlocks(ps: NodeProcess[]): Promise<void> {
  const heights = await Promise.all(ps.map(height));
  const top = Math.min(...heights);
  for (let h = 1; h <= top; h++) {
    const hashes = await Promise.all(ps.map((p) => new RpcClient(p.rpc).call<{ hash: string }>('chain_block', { height: h }).then((b) => b.hash)));
    for (const x of hashes) assert.is(x, hashes[0], `height ${h}`);
  }
}

test('a devnet survives one validator down, halts safely with two, resumes when they return', async () => {
  const basePort = await freeBasePort(6);
  const net = await initNetwork(dir, { validators: 4, basePort, chainId: 'brop-devnet-test', params: { blockTimeMs: 300 } });
  const procs: Array<NodeProcess | undefined> = [];
  try {
    for (const h of net.homes) procs.push(await startNode(h.home));
    const all = () => procs.filter((p): p is NodeProcess => p !== undefined);
    await until(async () => (await Promise.all(all().map(height))).every((x) => x >= 3), 60_000, 'height 3 everywhere');
    await assertSameBlocks(all());
    const st = await new RpcClient(procs[0]!.rpc).call<{ validator: boolean; peers: number }>('consensus_status');
    assert.ok(st.validator && st.peers >= 3, JSON.stringify(st));
    assert.is((await new RpcClient(procs[4]!.rpc).call<{ validator: boolean }>('consensus_status')).validator, false); // the full node follows

    // A transaction sent to the full node is gossiped to the validators and committed.
    const full = procs[4]!;
    const client = new RpcClient(full.rpc);
    const factory = new TxFactory(client);
    const operator = readKeyFile(net.operatorKey);
    const partner = newKeyPair();
    const tx = await factory.tx(operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'P', 7, randomBytes(32)], 60);
    // A node syncing a block it missed answers NODE_BEHIND for a moment: a client retries (as the SDK does).
    let sent: { hash: string } | undefined;
    for (let tries = 0; !sent; tries++) {
      sent = await client.call<{ hash: string }>('tx_send', { tx }).catch((e: RpcError) => {
        if (e.code !== 'NODE_BEHIND' || tries >= 20) throw e;
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 250));
      });
    }
    await until(async () => (await client.call<{ status: string }>('tx_get', { hash: sent.hash })).status === 'committed', 30_000, 'the transaction committed');

    // One validator killed: the other three keep committing.
    procs[3]!.child.kill('SIGKILL');
    await procs[3]!.exited;
    procs[3] = undefined;
    const h1 = await height(procs[0]!);
    await until(async () => (await height(procs[0]!)) >= h1 + 3, 60_000, 'three blocks with one validator down');

    // Two killed: no block commits, nothing forks.
    procs[2]!.child.kill('SIGKILL');
    await procs[2]!.exited;
    procs[2] = undefined;
    await new Promise((r) => setTimeout(r, 1500)); // a block in flight may still land
    const stalled = await height(procs[0]!);
    await new Promise((r) => setTimeout(r, 4000));
    assert.is(await height(procs[0]!), stalled, 'no block without a quorum');
    await assertSameBlocks(all());

    // They come back: the chain resumes, and they catch up.
    procs[2] = await startNode(net.homes[2]!.home);
    procs[3] = await startNode(net.homes[3]!.home);
    await until(async () => (await height(procs[0]!)) >= stalled + 3, 90_000, 'the chain to resume');
    const now = await height(procs[0]!);
    await until(async () => (await Promise.all(all().map(height))).every((x) => x >= now), 90_000, 'everyone to catch up');
    await assertSameBlocks(all());
    // Killed mid-round and restarted, no validator signed two different votes: nobody holds evidence.
    for (const p of all()) assert.equal(await new RpcClient(p.rpc).call('consensus_evidence'), [], 'no equivocation after the SIGKILLs');
    assert.is(hex0x(accountAddress(partner.publicKey)).length, 66);
  } finally {
    for (const p of procs) p?.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p?.exited));
  }
});

test('brop devnet: starts every node as a process and prints their RPC URLs, tells of a node that dies, stops them all on Ctrl-C', async () => {
  const basePort = await freeBasePort(5);
  const netDir = join(dir, 'cli-devnet');
  const run = (extra: string[] = []) => {
    const child = spawn(process.execPath, [BROP, 'devnet', '--dir', netDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    onJsonLines(child.stdout!, (j) => lines.push(j));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, lines, exited };
  };
  const first = run(['--validators', '4', '--block-time', '300', '--base-port', String(basePort), '--chain-id', 'brop-devnet-cli']);
  try {
    await until(async () => first.lines.filter((l) => l.event === 'node-started').length === 5, 60_000, 'five nodes started');
    assert.is(first.lines.find((l) => l.event === 'devnet-created')?.chainId, 'brop-devnet-cli');
    const started = first.lines.filter((l) => l.event === 'node-started');
    assert.equal(started.map((l) => l.role).sort(), ['full-node', 'validator', 'validator', 'validator', 'validator']);
    const client = new RpcClient(String(started.find((l) => l.role === 'full-node')!.rpc));
    await until(async () => (await client.call<{ height: number }>('chain_status')).height >= 3, 30_000, 'blocks');
    assert.is((await client.call<{ chainId: string }>('chain_status')).chainId, 'brop-devnet-cli');
    // A validator dies (SIGKILL): the devnet says so; the other three go on.
    const victim = started.find((l) => l.role === 'validator')!;
    process.kill(Number(victim.pid), 'SIGKILL');
    await until(async () => first.lines.some((l) => l.event === 'node-exited' && l.node === victim.node && l.signal === 'SIGKILL'), 10_000, 'the exit reported');
    const h = (await client.call<{ height: number }>('chain_status')).height;
    await until(async () => (await client.call<{ height: number }>('chain_status')).height >= h + 2, 30_000, 'blocks without it');
    // A new full node for the running chain, from its genesis file and peers' addresses: it catches up.
    const genesis = join(netDir, 'full-node', 'genesis.json');
    const peers = (JSON.parse(readFileSync(join(netDir, 'full-node', 'config.json'), 'utf8')) as { p2p: { peers: string[] } }).p2p.peers;
    const newHome = join(dir, 'new-full-node');
    const cli = (...args: string[]) => spawnSync(process.execPath, [BROP, ...args], { encoding: 'utf8', timeout: 120_000 });
    const codeOf = (r: { stderr: string }) => (JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: { code: string } }).error.code;
    assert.is(codeOf(cli('init', '--home', newHome, '--genesis', genesis)), 'CLI_USAGE', 'no peers');
    assert.is(codeOf(cli('init', '--home', newHome, '--genesis', genesis, '--peers', '/ip4/127.0.0.1/tcp/1')), 'HOME_INVALID', 'a peer without its id');
    const forged = join(dir, 'forged-genesis.json');
    const g = JSON.parse(readFileSync(genesis, 'utf8'));
    g.contracts[0].codeHash = '00'.repeat(32);
    writeFileSync(forged, JSON.stringify(g));
    assert.is(codeOf(cli('init', '--home', newHome, '--genesis', forged, '--peers', peers.join(','))), 'HOME_INVALID', 'code this build does not have');
    const made = cli('init', '--home', newHome, '--genesis', genesis, '--peers', peers.join(','), '--p2p-listen', '/ip4/127.0.0.1/tcp/0');
    assert.is(made.status, 0, made.stderr);
    const joined = await startNode(newHome);
    try {
      assert.is(joined.lines.find((l) => l.event === 'started')!.role, 'full-node');
      const target = (await client.call<{ height: number }>('chain_status')).height;
      await until(async () => (await height(joined)) >= target, 60_000, 'the new node caught up');
      const b = await new RpcClient(joined.rpc).call<{ hash: string }>('chain_block', { height: target });
      assert.is(b.hash, (await client.call<{ hash: string }>('chain_block', { height: target })).hash);
    } finally {
      joined.child.kill('SIGTERM');
      await joined.exited;
    }
  } finally {
    first.child.kill('SIGINT');
  }
  assert.is(await first.exited, 0);
  assert.is(first.lines.at(-1)!.event, 'devnet-stopped');
  // Run again on the existing network: options that only shape a new one are named as ignored.
  const second = run(['--validators', '7', '--chain-id', 'another']);
  try {
    await until(async () => second.lines.filter((l) => l.event === 'node-started').length === 5, 60_000, 'the same five nodes');
    assert.match(String(second.lines.find((l) => l.event === 'warning')?.message), /--validators, --chain-id only apply when it is created/);
  } finally {
    second.child.kill('SIGINT');
  }
  assert.is(await second.exited, 0);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
