/**
 * The event hub's edge: a subscription "from now" sent in a JSON-RPC batch is pinned to the tip when its
 * request is read but starts receiving only once the whole batch is answered; a block indexed between
 * the two must still reach it (replayed), once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { RpcServer } from '../../node/rpc/server.ts';
import { newKeyPair } from '../../node/keys/key-file.ts';
import { startTestChain } from '../../tooling/nodes/in-process.ts';
import { Indexer } from '../indexer/indexer.ts';
import { NodeSource } from '../indexer/source.ts';
import { LevelIndexStore } from '../indexer/level-store.ts';
import { EventHub } from './hub.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-hub-'));
const chain = await startTestChain();

test('a batched subscribe from now gets the block indexed while its batch was being answered', async () => {
  const indexer = new Indexer(new NodeSource(chain.node), await LevelIndexStore.open(join(dir, 'index')));
  const server = new RpcServer({ port: 0 });
  const hub = new EventHub(server, indexer, { heartbeatMs: 60_000 });
  const k = newKeyPair();
  // The batch's other call commits a block and waits until it is indexed before answering.
  server.method('commit_and_wait', async () => {
    await chain.block([k, 'identity', 'register', [k.publicKey, `batch-${randomBytes(2).toString('hex')}`]]);
    await indexer.waitFor(Number(chain.node.height));
    return Number(chain.node.height);
  });
  await indexer.start();
  await indexer.waitFor(Number(chain.node.height));
  const { wsUrl } = await server.listen();
  const ws = new WebSocket(wsUrl);
  try {
    await new Promise((r) => ws.once('open', r));
    const items: Array<{ kind: string; height: number }> = [];
    let committed = -1;
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as unknown;
      for (const x of Array.isArray(m) ? m : [m]) {
        if (x.method === 'subscription') items.push(x.params.result);
        else if (x.id === 2) committed = x.result;
      }
    });
    ws.send(JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'stream', kinds: ['tx', 'block'] } },
      { jsonrpc: '2.0', id: 2, method: 'commit_and_wait' },
    ]));
    const end = Date.now() + 10_000;
    while (!items.some((i) => i.kind === 'block' && i.height === committed) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok(committed > 0, 'the batch was answered');
    assert.equal(items.map((i) => `${i.kind}@${i.height}`), [`tx@${committed}`, `block@${committed}`]);
  } finally {
    ws.close();
    hub.stop();
    await server.close();
    await indexer.stop();
    await indexer.store.close();
  }
});

test.after(async () => {
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
