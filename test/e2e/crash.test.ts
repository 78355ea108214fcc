/**
 * SIGKILL during block commits: a node process taking transactions over RPC is killed at random
 * moments, again and again. After every kill the data folder must hold exactly the blocks it had
 * reported committed (same hashes), a state that matches the head's state root, and every
 * transaction it had accepted must still be accounted for (pending, committed or expired).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, loadHome } from '../../node/home.ts';
import { ChainNode } from '../../node/node.ts';
import { newKeyPair } from '../../node/keys/key-file.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { hex0x } from '../../node/json.ts';
import { startNode, TxFactory } from '../../tooling/nodes/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-crash-'));

test('a node killed with SIGKILL at random moments resumes at its last committed block, nothing lost', async () => {
  await initHome(dir, { chainId: 'brop-crash', params: { blockTimeMs: 40 } });
  const home = loadHome(dir);
  const committed = new Map<number, string>(); // height → block hash, as the node reported them
  const accepted = new Set<string>();
  let kills = 0;
  for (let round = 0; round < 6; round++) {
    const p = await startNode(dir);
    const client = new RpcClient(p.rpc, { timeoutMs: 5_000 });
    const factory = new TxFactory(client);
    const until = Date.now() + 300 + Math.floor(Math.random() * 900);
    const senders: Promise<void>[] = [];
    for (let s = 0; s < 4; s++) {
      senders.push((async () => {
        while (Date.now() < until) {
          try {
            await factory.refresh();
            const user = newKeyPair();
            const r = await client.call<{ hash: string }>('tx_send', { tx: await factory.tx(user, 'identity', 'register', [user.publicKey, null]) });
            accepted.add(r.hash);
            const b = await client.call<{ hash: string; header: { height: number } }>('chain_block', {});
            committed.set(b.header.height, b.hash);
          } catch {
            // BUSY or the like: keep going
          }
        }
      })());
    }
    await Promise.all(senders);
    p.child.kill('SIGKILL');
    await p.exited;
    kills++;
    const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
    try {
      const top = Math.max(...committed.keys());
      assert.ok(node.height >= BigInt(top), `head ${node.height} is below the reported ${top}`);
      for (const [h, hash] of committed) assert.is(hex0x(node.block(BigInt(h))!.hash), hash, `block ${h} changed`);
      const integrity = node.checkIntegrity();
      assert.ok(integrity.ok, `state root ${hex0x(integrity.computedRoot)} recomputed from ${integrity.entries} entries differs from the head's ${hex0x(integrity.stateRoot)}`);
      for (const h of accepted) {
        const s = node.txStatus(new Uint8Array(Buffer.from(h.slice(2), 'hex')));
        assert.ok(s.status !== 'unknown', `accepted transaction ${h} is unknown after the crash`);
      }
    } finally {
      await node.close();
    }
  }
  assert.is(kills, 6);
  assert.ok(accepted.size > 20, `only ${accepted.size} transactions were accepted`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
