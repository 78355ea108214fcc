import { test } from 'uvu';
import { keyPairSigner } from './keys/signer.ts';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { accountAddress, PERM } from '../contracts/system/index.ts';
import { ChainNode } from './node.ts';
import { SoloConsensus } from './consensus/solo.ts';
import { initHome, loadHome } from './home.ts';
import { RpcServer } from './rpc/server.ts';
import { RpcClient, RpcWsClient } from './rpc/client.ts';
import { RpcError } from './rpc/errors.ts';
import { registerChainApi } from './api.ts';
import { readKeyFile, newKeyPair, type KeyPair } from './keys/key-file.ts';
import { signTransaction, encodeTransaction } from './tx/transaction.ts';
import { encodeArgs } from './execution/contracts.ts';
import { hex0x } from './json.ts';
import { fromHex } from './chain/hash.ts';
import { verifyProof, proofFromJSON } from './state/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-api-'));
const init = await initHome(dir, { chainId: 'brop-api' });
const home = loadHome(dir);
const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
const consensus = new SoloConsensus(node, keyPairSigner(home.validatorKey!), { onError: (e) => { throw e; } });
const server = new RpcServer({ port: 0 });
registerChainApi(server, node);
const { url, wsUrl } = await server.listen();
const client = new RpcClient(url);
const operator = readKeyFile(init.operatorKey);

function signed(key: KeyPair, contract: string, method: string, args: unknown[], validUntilBlock = node.height + 10n): string {
  const c = node.contracts.named(contract)!;
  return hex0x(encodeTransaction(signTransaction({
    chainId: node.params.chainId, sender: accountAddress(key.publicKey), nonce: randomBytes(8).readBigUInt64BE(),
    validUntilBlock, contract: c.address, method, args: encodeArgs(c, method, args),
  }, key.privateKey)));
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof RpcError ? e.code : `untyped ${(e as Error).message}`;
  }
  return undefined;
}

test('chain_status and chain_block (by height, by hash, with transactions); unknown blocks are NOT_FOUND', async () => {
  const s = await client.call<{ chainId: string; height: number; headHash: string }>('chain_status');
  assert.is(s.chainId, 'brop-api');
  const b0 = await client.call<{ hash: string; header: { height: number }; commit: unknown }>('chain_block', { height: 0 });
  assert.is(b0.header.height, 0);
  const byHash = await client.call<{ hash: string }>('chain_block', { hash: b0.hash });
  assert.is(byHash.hash, b0.hash);
  assert.is(await codeOf(client.call('chain_block', { height: 10_000 })), 'NOT_FOUND');
  assert.is(await codeOf(client.call('chain_block', { height: -1 })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('chain_block', { hash: '0x1234' })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('chain_block', { height: 0, hash: b0.hash })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('chain_block', { height: 0, full: 'yes' })), 'RPC_INVALID_PARAMS');
  // A misspelt field is refused, never dropped for its default (the head block, here).
  assert.is(await codeOf(client.call('chain_block', { heigth: 0 })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('chain_validatorSets', { heigth: 0 })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('state_proof', { contract: 'admission', key: '0x00', heigth: 0 })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('contract_call', { contract: 'admission', method: 'roleOf', args: [hex0x(new Uint8Array(32))], callr: hex0x(new Uint8Array(32)) })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('contract_call', { contract: 'admission', method: 'roleOf', args: [hex0x(new Uint8Array(32))], input: '0x' })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('chain_status', { verbose: true })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('chain_status', [])), undefined); // generic clients' "no params"
  assert.is(await codeOf(client.call('chain_status', [1])), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('tx_get', { hash: hex0x(new Uint8Array(32)), full: true })), 'RPC_INVALID_PARAMS');
});

test('tx_send → pending → committed, with the receipt; subscribers get the block, the transaction and its events with cursors', async () => {
  const ws = await RpcWsClient.connect(wsUrl);
  const blocks: Array<{ header: { height: number } }> = [], txs: Array<{ hash: string }> = [], events: Array<{ cursor: { height: number; tx: number; event: number }; topics: string[] }> = [];
  await ws.subscribe('blocks', undefined, (b) => blocks.push(b as never));
  await ws.subscribe('txs', { sender: hex0x(accountAddress(operator.publicKey)) }, (t) => txs.push(t as never));
  await ws.subscribe('events', { contract: 'admission', eventTopic: 'partner-admitted' }, (e) => events.push(e as never));
  await ws.subscribe('events', { contract: 'voucher' }, () => assert.unreachable('no voucher events'));
  await ws.subscribe('events', { contract: 'admission', eventTopic: 'no-such-event' }, () => assert.unreachable('no event has that topic'));
  // A misspelt filter field is refused, not taken for no filter; a filter cannot carry the subscription's own field.
  assert.is(await codeOf(ws.subscribe('events', { contract: 'admission', evenTopic: 'partner-admitted' }, () => undefined)), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(ws.subscribe('txs', { sendr: hex0x(accountAddress(operator.publicKey)) }, () => undefined)), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(ws.subscribe('events', { topic: 'partner-admitted' }, () => undefined)), 'RPC_INVALID_PARAMS');
  const partner = newKeyPair();
  const sent = await client.call<{ hash: string; status: string }>('tx_send', { tx: signed(operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'P', PERM.all, randomBytes(32)]) });
  assert.is(sent.status, 'pending');
  assert.is((await client.call<{ status: string }>('tx_get', { hash: sent.hash })).status, 'pending');
  await consensus.produce();
  const got = await client.call<{ status: string; receipt: { status: string; events: unknown[] } }>('tx_get', { hash: sent.hash });
  assert.is(got.status, 'committed');
  assert.is(got.receipt.status, 'ok');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(blocks.length >= 1);
  assert.equal(txs.map((t) => t.hash), [sent.hash]);
  // The block lists it: by hash, and decoded with its receipt when asked for in full.
  const height = Number(node.height);
  assert.equal((await client.call<{ txCount: number; txs: string[] }>('chain_block', { height })).txs, [sent.hash]);
  const full = await client.call<{ txCount: number; txs: Array<{ method: string }>; receipts: unknown[] }>('chain_block', { height, full: true });
  assert.equal([full.txCount, full.txs[0]!.method, full.receipts.length], [1, 'admitPartner', 1]);
  assert.is(events.length, 1);
  assert.equal(events[0]!.cursor, { height: Number(node.height), tx: 0, event: 0 });
  await ws.close();
});

test('tx_send refusals carry the chain\'s codes; tx_get of a never-seen hash is unknown', async () => {
  assert.is(await codeOf(client.call('tx_send', { tx: 'zz' })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(client.call('tx_send', { tx: hex0x(randomBytes(100)) })), 'TX_MALFORMED');
  assert.is(await codeOf(client.call('tx_send', { tx: signed(operator, 'admission', 'roleOf', [new Uint8Array(32)], node.height) })), 'TX_EXPIRED');
  assert.is(await codeOf(client.call('tx_send', { tx: signed(newKeyPair(), 'admission', 'roleOf', [new Uint8Array(32)]) })), 'TX_UNAUTHORISED_KEY');
  assert.is((await client.call<{ status: string }>('tx_get', { hash: hex0x(randomBytes(32)) })).status, 'unknown');
  node.behind = true;
  try {
    assert.is(await codeOf(client.call('tx_send', { tx: signed(operator, 'admission', 'roleOf', [new Uint8Array(32)]) })), 'NODE_BEHIND');
    assert.is(await codeOf(client.call('tx_get', { hash: hex0x(randomBytes(32)) })), 'NODE_BEHIND');
  } finally {
    node.behind = false;
  }
});

test('a batch of tx_send: each entry judged as if sent alone (a second copy is a duplicate), the accepted ones pending then committed', async () => {
  const good = signed(operator, 'admission', 'roleOf', [randomBytes(32)]);
  const other = signed(operator, 'admission', 'roleOf', [randomBytes(32)]);
  const badSignature = good.slice(0, -2) + (good.slice(-2) === '00' ? '01' : '00');
  const replies = await client.batch([
    { method: 'tx_send', params: { tx: good } },
    { method: 'tx_send', params: { tx: good } },
    { method: 'tx_send', params: { tx: 'zz' } },
    { method: 'tx_send', params: { tx: good, extra: 1 } },
    { method: 'tx_send', params: { tx: badSignature } },
    { method: 'tx_send', params: { tx: signed(operator, 'admission', 'roleOf', [new Uint8Array(32)], node.height) } },
    { method: 'chain_status' },
    { method: 'tx_send', params: { tx: other } },
  ]);
  assert.equal(replies.map((r) => (r.ok ? (r.result as { status?: string }).status ?? 'status' : r.error.code)),
    ['pending', 'TX_DUPLICATE', 'RPC_INVALID_PARAMS', 'RPC_INVALID_PARAMS', 'TX_BAD_SIGNATURE', 'TX_EXPIRED', 'status', 'pending']);
  const hashes = [replies[0]!, replies[7]!].map((r) => (r.ok ? (r.result as { hash: string }).hash : ''));
  for (const hash of hashes) assert.ok(['pending', 'committed'].includes((await client.call<{ status: string }>('tx_get', { hash })).status));
  await consensus.produce();
  for (const hash of hashes) assert.is((await client.call<{ status: string }>('tx_get', { hash })).status, 'committed');
  // Sent again once committed: a duplicate, in a batch as alone.
  const again = await client.batch([{ method: 'tx_send', params: { tx: good } }, { method: 'tx_send', params: { tx: other } }]);
  assert.equal(again.map((r) => (r.ok ? 'ok' : r.error.code)), ['TX_DUPLICATE', 'TX_DUPLICATE']);
});

test('contract_call decodes through the ABI; unknown contracts, methods and bad arguments are typed', async () => {
  const r = await client.call<{ ok: boolean; result: unknown }>('contract_call', { contract: 'admission', method: 'roleOf', args: [hex0x(accountAddress(operator.publicKey))] });
  assert.equal(r, { ...r, ok: true, result: 1 });
  assert.is(await codeOf(client.call('contract_call', { contract: 'nope', method: 'x' })), 'CONTRACT_NOT_FOUND');
  assert.is(await codeOf(client.call('contract_call', { contract: 'admission', method: 'nope' })), 'METHOD_NOT_FOUND');
  assert.is(await codeOf(client.call('contract_call', { contract: 'admission', method: 'roleOf', args: ['0x12'] })), 'BAD_ARGUMENTS');
  const abi = await client.call<{ abi: { methods: unknown[] } }>('contract_abi', { contract: 'evidence' });
  assert.ok(abi.abi.methods.length > 5);
  // Structs with 64-bit integers and bytes come back as JSON: decimal strings and 0x-hex.
  const epochs = await client.call<{ result: Array<{ from: string; validators: string[] }> }>('contract_call', { contract: 'governance', method: 'validatorEpochs' });
  assert.equal(epochs.result, [{ from: '0', validators: (await client.call<{ validators: string[] }>('chain_status')).validators }]);
});

test('state_proof: the value, a proof that verifies against the header\'s state root, and the commit', async () => {
  const partner = newKeyPair();
  await client.call('tx_send', { tx: signed(operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Q', PERM.all, randomBytes(32)]) });
  await consensus.produce();
  const key = hex0x(new Uint8Array([1, 0x70, ...accountAddress(partner.publicKey)]));
  const p = await client.call<{ value: string; stateKey: string; proof: unknown; header: { stateRoot: string } }>('state_proof', { contract: 'admission', key });
  assert.ok(p.value !== null);
  const proven = verifyProof(fromHex(p.header.stateRoot, 32)!, fromHex(p.stateKey)!, proofFromJSON(p.proof));
  assert.is(hex0x(proven!), p.value);
  assert.is(await codeOf(client.call('state_proof', { contract: 'admission', key, height: 1_000_000 })), 'NOT_FOUND');
});

test.after(async () => {
  await server.close();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
