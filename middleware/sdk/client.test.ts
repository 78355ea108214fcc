/**
 * BropClient against in-process chains: reads with typed results and checked proofs, submit-and-wait
 * to the final answer (committed, failed, refused, expired) through subscriptions, through polling,
 * across a WebSocket drop and across a lost tx_send answer, the runtime contract proxy, and
 * subscriptions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { PERM } from '../../contracts/system/index.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { RpcServer } from '../../node/rpc/server.ts';
import { startTestChain } from '../../tooling/nodes/in-process.ts';
import { NodeSource } from '../indexer/source.ts';
import { openIndexStore, startMiddleware } from '../service.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BropClient, CallFailedError, RpcError, SdkError, TxExpiredError, TxFailedError, Wallet, errorCode, storageKey, toHex, trustFromGenesis, verifyBundle,
  type EventItem, type StreamItem, type TxItem,
} from './index.ts';
import { walletOf } from './node.ts';

const chain = await startTestChain({ blockTimeMs: 100 });
const operator = walletOf(chain.operator);
const client = new BropClient({ url: chain.url, wallet: operator });
const clients: BropClient[] = [client];

function newClient(options: Partial<ConstructorParameters<typeof BropClient>[0]> = {}): BropClient {
  const c = new BropClient({ url: chain.url, wallet: operator, ...options });
  clients.push(c);
  return c;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return errorCode(e) ?? `untyped: ${(e as Error).message}`;
  }
  return undefined;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A new partner, admitted with every permission and registered: what a partner needs before registering evidence. */
async function newPartner(): Promise<Wallet> {
  const p = Wallet.fromPrivateKey(randomBytes(32));
  await client.submitAndWait('admission', 'admitPartner', [p.address, `partner ${p.addressHex.slice(2, 8)}`, PERM.all, randomBytes(32)]);
  await client.submitAndWait('identity', 'register', [p.publicKey, null], { wallet: p });
  return p;
}

test('reads: status, blocks, contracts, views with exact types; failures keep the chain\'s codes', async () => {
  const s = await client.status();
  assert.is(s.chainId, 'brop-inproc');
  const b0 = await client.block(0);
  assert.is(b0.header.height, 0);
  assert.is((await client.block(b0.hash)).hash, b0.hash);
  const contracts = await client.contracts();
  assert.is(contracts.length, 6);
  assert.ok(contracts.every((c) => /^0x[0-9a-f]{64}$/.test(c.codeHash) && /^0x[0-9a-f]{64}$/.test(c.address)), 'bytes as 0x-hex, as everywhere in the RPC');
  assert.is(await client.call('admission', 'roleOf', [operator.address]), 1);
  const schedule = await client.call('quota', 'getSchedule') as Record<string, unknown>;
  assert.is(typeof schedule.base, 'bigint');
  const op = await client.call('admission', 'getOperator') as { address: Uint8Array };
  assert.is(toHex(op.address), operator.addressHex);
  // A state-changing method called read-only is a dry run: here the contract refuses a non-operator.
  const dry = await codeOf(client.call('admission', 'admitPartner', [randomBytes(32), 'X', 1, randomBytes(32)]));
  assert.is(dry, 'VM_REVERT');
  const err = await client.call('admission', 'admitPartner', [randomBytes(32), 'X', 1, randomBytes(32)]).then(() => undefined, (e: CallFailedError) => e);
  assert.instance(err, CallFailedError);
  assert.is(err!.revertCode, 'NOT_OPERATOR');
  assert.is(await codeOf(client.call('admission', 'nope')), 'METHOD_NOT_FOUND');
  assert.is(await codeOf(client.call('admission', 'roleOf', ['0x12'])), 'BAD_ARGUMENTS');
  assert.is(await codeOf(client.call('nope', 'x')), 'CONTRACT_NOT_FOUND');
});

test('submitAndWait: the committed receipt with its events; a committed failure is TxFailedError; refusals are the node\'s RpcError', async () => {
  const p = Wallet.fromPrivateKey(randomBytes(32));
  const r = await client.submitAndWait('admission', 'admitPartner', [p.address, 'Partner', PERM.all, randomBytes(32)]);
  assert.is(r.status, 'committed');
  assert.is(r.receipt.status, 'ok');
  assert.equal(r.receipt.events.map((e) => e.topics[0]), ['partner-admitted']);
  assert.is((await client.block(r.height)).hash, r.blockHash);
  assert.is(await client.call('admission', 'roleOf', [p.address]), 2);
  const again = await client.submitAndWait('admission', 'admitPartner', [p.address, 'Partner', PERM.all, randomBytes(32)]).catch((e) => e);
  assert.instance(again, TxFailedError);
  assert.is(again.code, 'VM_REVERT');
  assert.is(again.revertCode, 'ALREADY_ADMITTED');
  assert.is(again.result.receipt.status, 'failed');
  assert.ok(again.result.receipt.quotaCharged > 0);
  // A key no account lists may only register itself: anything else is refused at the door.
  const stranger = Wallet.fromPrivateKey(randomBytes(32));
  const refused = await client.submitAndWait('admission', 'roleOf', [p.address], { wallet: stranger }).catch((e) => e);
  assert.instance(refused, RpcError);
  assert.is(refused.code, 'TX_UNAUTHORISED_KEY');
  assert.is(await codeOf(new BropClient({ url: chain.url, wsUrl: false }).submitAndWait('admission', 'roleOf', [p.address])), 'SDK_NO_WALLET');
  assert.is(await codeOf(client.submitAndWait('admission', 'admitPartner', [p.address])), 'BAD_ARGUMENTS');
});

test('a transaction signed elsewhere: built by one client, sent and waited for by another', async () => {
  const p = await newPartner();
  const signer = newClient({ wallet: p, wsUrl: false });
  const signed = await signer.buildTx('evidence', 'register', [`offline-${Date.now()}`, randomBytes(32), '{}', null, null]);
  const r = await newClient({ wallet: undefined }).submitSignedAndWait(signed.raw);
  assert.is(r.hash, signed.hash);
  assert.is(r.receipt.status, 'ok');
});

test('the runtime proxy: views return values, calls wait for receipts, $send only sends; options ride as an extra argument', async () => {
  const p = await newPartner();
  const evidence = client.contract('evidence', { wallet: p });
  assert.is(await Promise.resolve(evidence), evidence); // not a thenable
  const digest = randomBytes(32);
  const r = await evidence.register('proxy-1', digest, '{"a":1}', null, null);
  assert.is(r.receipt.status, 'ok');
  const rec = await evidence.get('proxy-1');
  assert.is(toHex(rec.digest), toHex(digest));
  assert.is(rec.height, BigInt(r.height));
  assert.is(toHex(rec.registrant), p.addressHex);
  assert.is(await evidence.verify('proxy-1', digest), true);
  assert.is(await evidence.get('nothing'), null);
  const pending = await evidence.$send.register('proxy-2', randomBytes(32), '', null, null, { validFor: 5 });
  assert.ok(pending.validUntilBlock <= (await client.status()).height + 5);
  assert.is((await pending.wait()).receipt.status, 'ok');
  // Events decode through the ABI: the record the contract emitted, with its topics.
  const [registered, ...others] = await evidence.$.decodeEvents(r);
  assert.is(others.length, 0);
  assert.is(registered!.name, 'registered');
  assert.equal(registered!.topics, ['proxy-1', p.addressHex.slice(2)]);
  assert.equal(registered!.value, rec);
  assert.is(await codeOf(evidence.$.decodeEvents([{ ...r.receipt.events[0]!, topics: ['no-such-event'] }])), 'SDK_UNKNOWN_EVENT');
  assert.equal(await evidence.$events(r), [registered]); // as generated wrappers have it
  assert.is(await codeOf(evidence.nope()), 'METHOD_NOT_FOUND');
  assert.is(await codeOf(evidence.register('proxy-3', digest, '', null, null, 'not options')), 'BAD_ARGUMENTS');
  assert.is((await evidence.$.resolve()).name, 'evidence');
});

test('state proofs are checked against the header\'s state root; present and absent entries', async () => {
  const p = await newPartner();
  const key = storageKey('p', p.address);
  const proof = await client.stateProof('admission', key);
  assert.ok(proof.value !== null && proof.value.length > 32);
  assert.is(proof.header.height, proof.height);
  const absent = await client.stateProof('admission', storageKey('p', randomBytes(32)));
  assert.is(absent.value, null);
});

test('proof bundles: built through the client, verified against the genesis validator set, checkable offline', async () => {
  const p = await newPartner();
  const key = `bundle-${Date.now()}`;
  await client.submitAndWait('evidence', 'register', [key, randomBytes(32), '{}', null, null], { wallet: p });
  const trust = trustFromGenesis(chain.home.genesis);
  const built = await client.proofBundle({ kind: 'evidence', key }, { trust });
  assert.is(built.verified.trust, 'given');
  const again = verifyBundle(built.text, { trust });
  assert.is((again.records[0]!.value as { key: string }).key, key);
  assert.is((again.records[0]!.value as { registrant: string }).registrant, p.addressHex);
  assert.is(await codeOf(Promise.resolve().then(() => verifyBundle(built.text.replace(key, `${key}x`), { trust }))), 'PROOF_RECORD');
});

test('a node whose state proof does not prove its value is caught (SDK_BAD_RESPONSE, STATE_PROOF_INVALID)', async () => {
  const upstream = new RpcClient(chain.url);
  let tamper: (r: Record<string, unknown>) => void = () => undefined;
  const liar = new RpcServer({ port: 0, rateLimit: false });
  liar.method('contract_abi', (params) => upstream.call('contract_abi', params));
  liar.method('state_proof', async (params) => {
    const r = await upstream.call<Record<string, unknown>>('state_proof', params);
    tamper(r);
    return r;
  });
  const { url } = await liar.listen();
  try {
    const c = newClient({ url, wsUrl: false });
    const key = storageKey('p', operator.address); // the operator is no partner: absent
    tamper = (r) => { r.value = toHex(randomBytes(40)); };
    assert.is(await codeOf(c.stateProof('admission', key)), 'SDK_BAD_RESPONSE');
    tamper = (r) => { r.key = toHex(randomBytes(10)); r.stateKey = toHex(randomBytes(42)); };
    assert.is(await codeOf(c.stateProof('admission', key)), 'SDK_BAD_RESPONSE');
    tamper = (r) => { (r.header as Record<string, unknown>).stateRoot = toHex(randomBytes(32)); };
    assert.is(await codeOf(c.stateProof('admission', key)), 'STATE_PROOF_INVALID');
    tamper = () => undefined;
    assert.is((await c.stateProof('admission', key)).value, null);
  } finally {
    await liar.close();
  }
});

test('subscriptions through the client: a partner\'s transactions and the evidence events, with positions', async () => {
  const p = await newPartner();
  const txs: TxItem[] = [], events: EventItem[] = [];
  const s1 = await client.subscribeTxs({ sender: p.addressHex }, (t) => txs.push(t));
  const s2 = await client.subscribeEvents({ contract: 'evidence', topic: 'registered' }, (e) => events.push(e));
  const s3 = await client.subscribeEvents({ contract: 'evidence', topic: 'no-such-event' }, () => assert.unreachable('no event has that topic'));
  const r = await client.submitAndWait('evidence', 'register', [`sub-${Date.now()}`, randomBytes(32), '', null, null], { wallet: p });
  await until('the notifications', () => txs.length === 1 && events.length === 1);
  assert.is(txs[0]!.hash, r.hash);
  assert.equal(events[0]!.cursor, { height: r.height, tx: r.index, event: 0 });
  assert.equal(s2.position, { height: r.height, tx: r.index, event: 0 });
  assert.equal(s1.position, { height: r.height, tx: r.index });
  await s1.close();
  await s2.close();
  await s3.close();
  assert.is(await codeOf(client.subscribeEvents({ contract: 'nope' }, () => undefined)), 'RPC_INVALID_PARAMS');
});

test('without a WebSocket (none configured, or none reachable) waiting polls tx_get', async () => {
  const http = newClient({ wsUrl: false });
  const r = await http.submitAndWait('admission', 'roleOf', [operator.address]);
  assert.is(r.receipt.status, 'ok');
  assert.is(http.connection, 'closed');
  const subscribing = http.subscribeBlocks(() => undefined); // a rejected promise, not a throw
  assert.is(await codeOf(subscribing), 'SDK_CLOSED');
  const dead = newClient({ wsUrl: 'ws://127.0.0.1:9/ws', timeoutMs: 2000 });
  assert.is((await dead.submitAndWait('admission', 'roleOf', [operator.address])).receipt.status, 'ok');
  // A WebSocket endpoint that accepts and never answers: the wait must not sit out the 30 s connect timeout.
  const sockets = new Set<net.Socket>();
  const blackhole = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  try {
    const hung = newClient({ wsUrl: `ws://127.0.0.1:${(blackhole.address() as net.AddressInfo).port}/ws` });
    const started = Date.now();
    const r = await hung.submitAndWait('admission', 'roleOf', [operator.address], { signal: AbortSignal.timeout(10_000) });
    assert.is(r.receipt.status, 'ok');
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
    await hung.close();
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => blackhole.close(r));
  }
});

test('waiting can be abandoned (SDK_ABORTED); closing the client ends waits with SDK_CLOSED', async () => {
  const c = newClient();
  const pending = await c.send('admission', 'roleOf', [operator.address]);
  assert.is(await codeOf(pending.wait({ signal: AbortSignal.abort() })), 'SDK_ABORTED');
  const ctl = new AbortController();
  const w = pending.outcome({ signal: ctl.signal });
  ctl.abort();
  assert.is(await codeOf(w), 'SDK_ABORTED');
  // Nothing was withdrawn: the transaction still commits.
  assert.is((await pending.wait()).status, 'committed');
  const manual = await startTestChain();
  try {
    const m = new BropClient({ url: manual.url, wallet: operator });
    const waiting = (await m.send('admission', 'roleOf', [operator.address])).wait();
    await m.close();
    assert.is(await codeOf(waiting), 'SDK_CLOSED');
  } finally {
    await manual.close();
  }
});

test('tx_send whose answer is lost is sent again with the same bytes: TX_DUPLICATE then means it was accepted, and the wait ends committed', async () => {
  const upstream = new RpcClient(chain.url);
  const front = new RpcServer({ port: 0, rateLimit: false });
  let sends = 0;
  for (const m of ['chain_status', 'contract_abi', 'tx_get']) front.method(m, (params) => upstream.call(m, params));
  front.method('tx_send', async (params) => {
    const first = ++sends === 1;
    const r = await upstream.call('tx_send', params); // the second time: TX_DUPLICATE
    if (first) throw new RpcError('RPC_TIMEOUT', 'the answer was lost on the way');
    return r;
  });
  const { url } = await front.listen();
  try {
    const c = newClient({ url, wsUrl: false });
    const r = await c.submitAndWait('admission', 'roleOf', [operator.address]);
    assert.is(r.receipt.status, 'ok');
    assert.is(sends, 2);
  } finally {
    await front.close();
  }
});

test('expiry: a transaction the chain passed by is TxExpiredError (outcome() says expired); an unknown hash past its block too', async () => {
  // One transaction per block and blocks made by hand: of two valid for one block, one must expire.
  const manual = await startTestChain({ params: { maxBlockTxs: 1 } });
  try {
    const c = new BropClient({ url: manual.url, wallet: operator });
    clients.push(c);
    const a = Wallet.fromPrivateKey(randomBytes(32)), b = Wallet.fromPrivateKey(randomBytes(32));
    const pa = await c.send('identity', 'register', [a.publicKey, null], { wallet: a, validFor: 1 });
    const pb = await c.send('identity', 'register', [b.publicKey, null], { wallet: b, validFor: 1 });
    const waits = [pa.wait().then((r) => r.status, (e) => e), pb.wait().then((r) => r.status, (e) => e)];
    await manual.produce();
    const answers = await Promise.all(waits);
    assert.is(answers.filter((x) => x === 'committed').length, 1, String(answers));
    const expired = answers.find((x) => x instanceof TxExpiredError) as TxExpiredError;
    assert.ok(expired, String(answers));
    assert.is(expired.code, 'TX_EXPIRED');
    assert.is(expired.validUntilBlock, pa.validUntilBlock);
    const lost = expired.hash === pa.hash ? pa : pb;
    assert.equal(await lost.outcome(), { hash: lost.hash, status: 'expired', validUntilBlock: lost.validUntilBlock, height: (await c.status()).height });
    // Never seen by this node, and the chain is past its block: just as final.
    const never = c.pending(toHex(randomBytes(32)), 1);
    assert.is((await never.outcome()).status, 'expired');
    assert.is(await codeOf(never.wait()), 'TX_EXPIRED');
  } finally {
    await manual.close();
  }
});

test('a wait survives the node\'s RPC going away: the commit happens while it is down, and is found after the reconnect', async () => {
  const manual = await startTestChain();
  try {
    // Polling so slow it cannot be what finds the commit: the reconnect's check must.
    const c = new BropClient({ url: manual.url, wallet: operator, pollIntervalMs: 60_000, minReconnectDelayMs: 50 });
    clients.push(c);
    const states: string[] = [];
    c.onConnection((s) => states.push(s));
    const pending = await c.send('admission', 'roleOf', [operator.address]);
    const wait = pending.wait({ signal: AbortSignal.timeout(10_000) }); // a failure, not a hang
    await until('the subscriptions', () => c.connection === 'open');
    await new Promise((r) => setTimeout(r, 100));
    const restart = manual.restartRpc(300);
    await new Promise((r) => setTimeout(r, 50));
    await manual.produce();
    await restart;
    const r = await wait;
    assert.is(r.hash, pending.hash);
    assert.is(r.receipt.status, 'ok');
    // What a program tells its user meanwhile (brop tx does, on stderr).
    assert.ok(states.indexOf('reconnecting') >= 0 && states.lastIndexOf('open') > states.indexOf('reconnecting'), states.join(' '));
  } finally {
    await manual.close();
  }
});

test('waitForIndexer: the answer waits for the middleware\'s index, so its queries read the write', async () => {
  // Blocks by hand, and (once the partner is set up) an index that takes a second per block: without
  // waiting, a query misses the write.
  const manual = await startTestChain();
  const source = new NodeSource(manual.node);
  let lagMs = 0;
  const slow = { head: () => source.head(), watch: (f: (h: number) => void) => source.watch(f), close: () => source.close(),
    block: async (h: number) => { await new Promise((r) => setTimeout(r, lagMs)); return source.block(h); } };
  const dir = mkdtempSync(join(tmpdir(), 'brop-sdk-index-'));
  const mw = await startMiddleware({ source: slow, store: await openIndexStore({ dir }), rpc: { port: 0, rateLimit: false } });
  try {
    const c = new BropClient({ url: manual.url, wallet: operator, indexUrl: mw.url });
    clients.push(c);
    const step = async (p: Promise<{ wait(o?: object): Promise<unknown> }>, options?: object) => {
      const pending = await p;
      await manual.produce();
      return pending.wait({ signal: AbortSignal.timeout(15_000), ...options });
    };
    const partner = Wallet.fromPrivateKey(randomBytes(32));
    await step(c.send('admission', 'admitPartner', [partner.address, 'Indexed', PERM.all, randomBytes(32)]));
    await step(c.send('identity', 'register', [partner.publicKey, null], { wallet: partner }));
    lagMs = 1000;
    await step(c.send('evidence', 'register', ['idx/1', randomBytes(32), '', null, null], { wallet: partner }));
    assert.is(await codeOf(c.index!.call('evidence_get', { key: 'idx/1' })), 'NOT_FOUND');
    await step(c.send('evidence', 'register', ['idx/2', randomBytes(32), '', null, null], { wallet: partner }), { waitForIndexer: true });
    assert.is((await c.index!.call<{ key: string }>('evidence_get', { key: 'idx/2' })).key, 'idx/2');
    // Without the middleware's URL, or with a node's in its place, there is nothing to wait for.
    const none = (await newClient({ wsUrl: false }).send('admission', 'roleOf', [operator.address])).wait({ waitForIndexer: true });
    assert.is(await codeOf(none), 'SDK_NO_INDEXER');
    const wrong = (await newClient({ wsUrl: false, indexUrl: chain.url }).send('admission', 'roleOf', [operator.address])).wait({ waitForIndexer: true });
    assert.is(await codeOf(wrong), 'SDK_NO_INDEXER');
    // Submitting with waitForIndexer but no indexUrl is refused before anything is sent.
    const noIndex = new BropClient({ url: manual.url, wallet: operator, wsUrl: false });
    clients.push(noIndex);
    const pooled = manual.node.mempool.size;
    assert.is(await codeOf(noIndex.submitAndWait('admission', 'roleOf', [operator.address], { waitForIndexer: true })), 'SDK_NO_INDEXER');
    assert.is(await codeOf(noIndex.contract('evidence').register('idx/never', randomBytes(32), '', null, null, { waitForIndexer: true })), 'SDK_NO_INDEXER');
    assert.is(manual.node.mempool.size, pooled);
    // A middleware that cannot be reached ends the wait after the client's timeoutMs, saying the transaction is committed.
    const gone = new BropClient({ url: manual.url, wallet: operator, wsUrl: false, indexUrl: 'http://127.0.0.1:1/', timeoutMs: 300 });
    clients.push(gone);
    const sent = await gone.send('admission', 'roleOf', [operator.address]);
    await manual.produce();
    const unreachable = await sent.wait({ waitForIndexer: true, signal: AbortSignal.timeout(10_000) }).then(() => undefined, (e: SdkError) => e);
    assert.is(unreachable?.code, 'SDK_NO_INDEXER');
    assert.is(unreachable?.data?.hash, sent.hash);
    assert.is((await gone.getTx(sent.hash)).status, 'committed');
    // A middleware that takes connections and never answers: closing the client, or the caller's
    // signal, ends the wait at once, the call in flight included (its own timeout is a minute).
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
    try {
      const closing = new BropClient({ url: manual.url, wallet: operator, wsUrl: false, indexUrl: silentUrl, timeoutMs: 60_000 });
      const sent2 = await closing.send('admission', 'roleOf', [operator.address]);
      await manual.produce();
      const t0 = Date.now();
      const waiting = codeOf(sent2.wait({ waitForIndexer: true, signal: AbortSignal.timeout(30_000) }));
      await new Promise((r) => setTimeout(r, 200));
      await closing.close();
      assert.is(await waiting, 'SDK_CLOSED');
      assert.ok(Date.now() - t0 < 10_000, `closing took ${Date.now() - t0} ms`);
      const aborting = new BropClient({ url: manual.url, wallet: operator, wsUrl: false, indexUrl: silentUrl, timeoutMs: 60_000 });
      clients.push(aborting);
      const sent3 = await aborting.send('admission', 'roleOf', [operator.address]);
      await manual.produce();
      const t1 = Date.now();
      assert.is(await codeOf(sent3.wait({ waitForIndexer: true, signal: AbortSignal.timeout(300) })), 'SDK_ABORTED');
      assert.ok(Date.now() - t1 < 10_000, `aborting took ${Date.now() - t1} ms`);
      // The event stream against it: the client's timeoutMs bounds the first connection, and close() ends it at once.
      const streaming = new BropClient({ url: manual.url, wallet: operator, wsUrl: false, indexUrl: silentUrl, timeoutMs: 500 });
      clients.push(streaming);
      const t2 = Date.now();
      assert.is(await codeOf(streaming.stream({ kinds: ['event'] }, () => undefined, { after: '0.0.0' })), 'RPC_TIMEOUT');
      assert.ok(Date.now() - t2 < 10_000, `the first connection took ${Date.now() - t2} ms`);
      const patient = new BropClient({ url: manual.url, wallet: operator, wsUrl: false, indexUrl: silentUrl, timeoutMs: 60_000 });
      const t3 = Date.now();
      const opening = codeOf(patient.stream({ kinds: ['event'] }, () => undefined, { after: '0.0.0' }));
      await new Promise((r) => setTimeout(r, 200));
      await patient.close();
      assert.is(await opening, 'SDK_CLOSED');
      assert.ok(Date.now() - t3 < 10_000, `closing took ${Date.now() - t3} ms`);
    } finally {
      silent.close();
    }
  } finally {
    await mw.stop();
    await manual.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the middleware\'s event stream: exactly once across a restart of the middleware, and resumable from a cursor', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brop-sdk-stream-'));
  const start = async (port = 0) => startMiddleware({ source: new NodeSource(chain.node), store: await openIndexStore({ dir }), rpc: { port, rateLimit: false } });
  let mw = await start();
  const port = Number(new URL(mw.url).port);
  try {
    const p = await newPartner();
    const c = newClient({ indexUrl: mw.url, minReconnectDelayMs: 20, maxReconnectDelayMs: 200 });
    const got: Array<Extract<StreamItem, { kind: 'event' }>> = [];
    const filter = { kinds: ['event' as const], contract: 'evidence', topic: 'registered' };
    let connected = false;
    const sub = await c.stream(filter, (item) => { if (item.kind === 'event') got.push(item); }, { onState: (s) => { connected = s.connected; } });
    const keys = Array.from({ length: 7 }, (_, i) => `stream-${Date.now()}-${i}`);
    const register = (key: string) => c.submitAndWait('evidence', 'register', [key, randomBytes(32), '', null, null], { wallet: p });
    for (const k of keys.slice(0, 3)) await register(k);
    await until('three items', () => got.length === 3);
    // The middleware goes away; the chain goes on without it.
    await mw.stop();
    await until('the stream noticed', () => !connected);
    for (const k of keys.slice(3, 6)) await register(k);
    mw = await start(port);
    await register(keys[6]!);
    await until('all seven', () => got.length >= 7);
    await new Promise((r) => setTimeout(r, 300)); // nothing more may come
    assert.equal(got.map((e) => e.topics[0]), keys);
    assert.is(sub.cursor, got[6]!.cursor);
    // A later application resumes after a cursor it kept.
    const again: string[] = [];
    await c.stream(filter, (item) => { if (item.kind === 'event') again.push(item.topics[0]!); }, { after: got[4]!.cursor });
    await until('the replay', () => again.length === 2);
    assert.equal(again, keys.slice(5));
    // The topic filter: the event of one evidence key alone.
    const one: string[] = [];
    await c.stream({ kinds: ['event'], topic: keys[2]! }, (item) => { if (item.kind === 'event') one.push(item.topics[0]!); }, { after: '0.0.0' });
    await until('the one event', () => one.length === 1);
    await new Promise((r) => setTimeout(r, 200)); // nothing more may come
    assert.equal(one, [keys[2]]);
    assert.is(await codeOf(newClient().stream(filter, () => undefined)), 'SDK_NO_INDEXER');
    // What the middleware refuses, or a URL that is not the middleware, is the call's error, and the stream stops.
    const states: Array<{ connected: boolean; cursor: string | undefined; reason?: string; ended?: boolean }> = [];
    assert.is(await codeOf(c.stream(filter, () => undefined, { after: 'garbage', onState: (st) => states.push(st) })), 'BAD_CURSOR');
    assert.equal(states, [{ connected: false, cursor: 'garbage', reason: states[0]?.reason, ended: true }]);
    assert.is(await codeOf(c.stream({ kinds: ['nope' as 'event'] }, () => undefined)), 'RPC_INVALID_PARAMS');
    assert.is(await codeOf(newClient({ indexUrl: chain.url }).stream(filter, () => undefined)), 'SDK_NO_INDEXER');
    assert.is(await codeOf(newClient({ indexUrl: 'http://127.0.0.1:1/' }).stream(filter, () => undefined, { after: '0.0.0' })), 'RPC_TRANSPORT_ERROR');
  } finally {
    await mw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(async () => {
  for (const c of clients) await c.close();
  await chain.close();
});

test.run();
