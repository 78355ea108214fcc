/**
 * The middleware as a service of its own (`brop middleware`) following a node process over RPC: a
 * subscriber gets every transaction exactly once, in chain order, while the node is SIGKILLed and
 * restarted and while the middleware itself is SIGKILLed and restarted (its index resumes, the
 * subscriber resumes from its cursor). Queries answer from the index afterwards.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROP, freeBasePort, onJsonLines, startNode, TxFactory, type NodeProcess } from '../../tooling/nodes/processes.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { newKeyPair } from '../../node/keys/key-file.ts';
import { EventStream } from '../../middleware/events/client.ts';
import type { StreamItem } from '../../middleware/indexer/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-mw-e2e-'));
const home = join(dir, 'home');
const base = await freeBasePort(2);
const nodePort = base, mwPort = base + 1;

function startMiddleware(): Promise<{ kill(): Promise<void>; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BROP, 'middleware', '--node', `http://127.0.0.1:${nodePort}/`, '--data', join(dir, 'index'), '--port', String(mwPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`middleware did not start: ${stderr}`)), 30_000);
    onJsonLines(child.stdout!, (j) => {
      if (j.event !== 'started') return;
      clearTimeout(timer);
      resolve({
        kill: async () => { child.kill('SIGKILL'); await exited; },
        stop: async () => { child.kill('SIGTERM'); await exited; },
      });
    });
  });
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await Promise.resolve(cond()).catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('every transaction exactly once across a node SIGKILL and a middleware SIGKILL', async () => {
  const init = spawnSync(process.execPath, [BROP, 'init', '--home', home, '--chain-id', 'brop-mw-e2e', '--block-time', '200'], { encoding: 'utf8' });
  assert.is(init.status, 0, init.stderr);
  let node: NodeProcess = await startNode(home, ['--rpc-port', String(nodePort)]);
  let mw = await startMiddleware();
  const got: string[] = [];
  const stream = new EventStream(`ws://127.0.0.1:${mwPort}/ws`, (i: StreamItem) => { if (i.kind === 'tx') got.push(i.hash); }, { kinds: ['tx'], backoffMs: 100, maxBackoffMs: 500 });
  const sent: string[] = [];
  // Each new account registering itself: one transaction each.
  const register = async (n: number) => {
    const client = new RpcClient(node.rpc);
    const factory = new TxFactory(client);
    for (let i = 0; i < n; i++) {
      const k = newKeyPair();
      sent.push((await client.call<{ hash: string }>('tx_send', { tx: await factory.tx(k, 'identity', 'register', [k.publicKey, null], 50) })).hash);
    }
  };
  const committed = async () => {
    const client = new RpcClient(node.rpc);
    for (const h of sent) await until(async () => (await client.call<{ status: string }>('tx_get', { hash: h })).status === 'committed', 20_000, `tx ${h}`);
  };
  try {
    await until(() => stream.cursor !== undefined, 10_000, 'the subscription');
    await register(5);
    await committed();
    await until(() => got.length === 5, 10_000, 'the first five');

    node.child.kill('SIGKILL');
    await node.exited;
    node = await startNode(home, ['--rpc-port', String(nodePort)]);
    await register(5);
    await committed();
    await until(() => got.length === 10, 20_000, 'five more after the node restarted');

    await mw.kill();
    await register(5);
    await committed();
    mw = await startMiddleware();
    await register(5);
    await committed();
    await until(() => got.length === 20, 20_000, 'ten more around the middleware restart');
    await new Promise((r) => setTimeout(r, 500)); // nothing more may come
    assert.is(new Set(got).size, got.length, 'no transaction twice');
    assert.equal([...got].sort(), [...sent].sort(), 'every transaction');

    const mwClient = new RpcClient(`http://127.0.0.1:${mwPort}/`);
    assert.is((await mwClient.call<{ status: string; method: string }>('tx_lookup', { hash: sent[17] })).method, 'register');
  } finally {
    await stream.close();
    await mw.stop().catch(() => undefined);
    node.child.kill('SIGTERM');
    await node.exited;
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
