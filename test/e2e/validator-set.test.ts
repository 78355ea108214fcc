/**
 * Validator-set changes through governance, with four validators and a fifth node as processes: the
 * validators vote the fifth node's key in; while that node is not running the change waits (the chain
 * keeps committing with the four, it never halts on a set it cannot run); once the node is started it
 * catches up, announces itself ready, joins at a height every node agrees on, and votes. Headers name
 * the set that signs them and the one that signs next; chain_block reports the set of each block.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { initNetwork } from '../../node/home.ts';
import { readKeyFile, newKeyPair, writeKeyFile } from '../../node/keys/key-file.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { hex0x } from '../../node/json.ts';
import { startNode, TxFactory, type NodeProcess, freeBasePort } from '../../tooling/nodes/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-valset-'));

const rpc = (p: NodeProcess) => new RpcClient(p.rpc, { timeoutMs: 5000 });
const status = (p: NodeProcess) => rpc(p).call<{ height: number; validators: string[] }>('chain_status');

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function committed(client: RpcClient, hash: string): Promise<{ receipt: { status: string; error: string } }> {
  type Answer = { status: string; receipt: { status: string; error: string } };
  let r: Answer | undefined;
  await until(async () => {
    r = await client.call<Answer>('tx_get', { hash });
    return r.status === 'committed';
  }, 30_000, `transaction ${hash}`);
  return r!;
}

test('governance adds a validator; the change waits for its node to be up and synced, then it signs blocks', async () => {
  const basePort = await freeBasePort(6);
  const net = await initNetwork(dir, { validators: 4, basePort, chainId: 'brop-valset-test', params: { blockTimeMs: 300 } });
  // The fifth home (initNetwork's full node) gets a validator key of its own.
  const joinerHome = net.homes[4]!.home;
  const joiner = newKeyPair();
  writeKeyFile(join(joinerHome, 'keys', 'validator.json'), joiner, { overwrite: true });
  const configFile = join(joinerHome, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), validatorKey: 'keys/validator.json' }, null, 2));
  const joinerAddress = hex0x(accountAddress(joiner.publicKey));

  const procs: Array<NodeProcess | undefined> = [];
  try {
    for (const h of net.homes.slice(0, 4)) procs.push(await startNode(h.home));
    const v0 = procs[0]!;
    await until(async () => (await status(v0)).height >= 3, 60_000, 'height 3');
    const client = rpc(v0);
    const factory = new TxFactory(client);
    const keys = net.homes.slice(0, 4).map((h) => readKeyFile(join(h.home, 'keys', 'validator.json')));
    const digest = createHash('sha256').update('add the fifth validator').digest();
    const effective = (await status(v0)).height + 30; // room for the proposal and three votes to commit first
    const proposed = await client.call<{ hash: string }>('tx_send', { tx: await factory.tx(keys[0]!, 'governance', 'propose', [1, accountAddress(joiner.publicKey), new Uint8Array(32), effective, digest], 30) });
    const receipt = await committed(client, proposed.hash);
    assert.is(receipt.receipt.status, 'ok', receipt.receipt.error);
    const id = 1; // the chain's first proposal
    const proposal = await client.call<{ result: { subject: string } }>('contract_call', { contract: 'governance', method: 'getProposal', args: [id] });
    assert.is(proposal.result.subject, joinerAddress);
    for (const k of keys.slice(0, 3)) {
      await factory.refresh();
      const sent = await client.call<{ hash: string }>('tx_send', { tx: await factory.tx(k, 'governance', 'vote', [id, true], 30) });
      const r = (await committed(client, sent.hash)).receipt;
      assert.is(r.status, 'ok', r.error);
    }
    const pending = await client.call<{ result: unknown[] }>('contract_call', { contract: 'governance', method: 'pendingChanges' });
    assert.is(pending.result.length, 1);

    // Due, but the joining node is not running: the four go on, the set stays as it is.
    await until(async () => (await status(v0)).height >= effective + 8, 60_000, 'blocks past the effective height');
    assert.is((await status(v0)).validators.length, 4, 'not added while its node is down');

    // The node starts, catches up, registers its account, says it is ready: the change is applied.
    procs[4] = await startNode(joinerHome);
    await until(async () => (await status(v0)).validators.includes(joinerAddress), 90_000, 'the fifth validator to join');
    const epochs = (await client.call<{ result: Array<{ from: string }> }>('contract_call', { contract: 'governance', method: 'validatorEpochs' })).result;
    assert.is(epochs.length, 2);
    const from = Number(epochs[1]!.from);
    await until(async () => (await status(v0)).height >= from, 30_000, 'the first block of the new set');
    const before = await rpc(v0).call<{ header: { validatorSetHash: string; nextValidatorSetHash: string }; validators: string[] }>('chain_block', { height: from - 1 });
    const after = await rpc(v0).call<{ header: { validatorSetHash: string; nextValidatorSetHash: string }; validators: string[]; commit: { signatures: Array<{ publicKey: string }> } }>('chain_block', { height: from });
    assert.is(before.validators.length, 4);
    assert.is(after.validators.length, 5);
    assert.is(before.header.nextValidatorSetHash, after.header.validatorSetHash, 'the last block of the old set names the new one');
    assert.is.not(before.header.validatorSetHash, before.header.nextValidatorSetHash);

    // The new validator votes: with one of the original four down, blocks still commit (4 of 5).
    await until(async () => (await rpc(procs[4]!).call<{ validator: boolean }>('consensus_status')).validator, 30_000, 'the joiner to vote');
    procs[3]!.child.kill('SIGKILL');
    await procs[3]!.exited;
    procs[3] = undefined;
    const h1 = (await status(v0)).height;
    await until(async () => (await status(v0)).height >= h1 + 4, 60_000, 'blocks with the new validator standing in');
    const recent = await rpc(v0).call<{ commit: { signatures: Array<{ publicKey: string }> } }>('chain_block', { height: h1 + 3 });
    assert.ok(recent.commit.signatures.some((s) => s.publicKey === hex0x(joiner.publicKey)), 'the new validator signed a certificate');

    // Everyone alive holds the same blocks.
    const alive = procs.filter((p): p is NodeProcess => p !== undefined);
    const top = Math.min(...(await Promise.all(alive.map(status))).map((s) => s.height));
    for (let h = 1; h <= top; h++) {
      const hashes = await Promise.all(alive.map((p) => rpc(p).call<{ hash: string }>('chain_block', { height: h }).then((b) => b.hash)));
      for (const x of hashes) assert.is(x, hashes[0], `height ${h}`);
    }
  } finally {
    for (const p of procs) p?.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p?.exited));
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
