/**
 * The middleware against a real node (in process, system contracts, real transactions): the index
 * answers business queries with paging; the event stream delivers every matching item exactly once
 * across a subscriber's reconnects and a middleware restart; a consumer that stops reading is cut off
 * without holding the index back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { accountAddress, PERM } from '../contracts/system/index.ts';
import { newKeyPair, type KeyPair } from '../node/keys/key-file.ts';
import { RpcClient } from '../node/rpc/client.ts';
import { RpcError } from '../node/rpc/errors.ts';
import type { RpcLogEvent } from '../node/rpc/server.ts';
import { hex0x } from '../node/json.ts';
import { startTestChain } from '../tooling/nodes/in-process.ts';
import { NodeSource } from './indexer/source.ts';
import { LevelIndexStore } from './indexer/level-store.ts';
import { startMiddleware, type Middleware } from './service.ts';
import { EventStream } from './events/client.ts';
import type { StreamItem } from './indexer/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-mw-'));
const chain = await startTestChain();
const { node, operator, block } = chain;
const partner = newKeyPair(), user = newKeyPair(), other = newKeyPair();
const addr = (k: KeyPair) => hex0x(accountAddress(k.publicKey));
const digest = (s: string) => hex0x(createHash('sha256').update(s).digest());

const serverLog: RpcLogEvent[] = [];
async function startMw(opts: { port?: number; wsMaxBufferedBytes?: number } = {}): Promise<Middleware> {
  return startMiddleware({
    source: new NodeSource(node), store: await LevelIndexStore.open(join(dir, 'index')),
    rpc: { port: opts.port ?? 0, log: (e) => serverLog.push(e), ...(opts.wsMaxBufferedBytes ? { wsMaxBufferedBytes: opts.wsMaxBufferedBytes, closeGraceMs: 200 } : {}) }, heartbeatMs: 200,
  });
}

let mw = await startMw();
const client = () => new RpcClient(mw.url);

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'a condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: RpcError) => e.code);

test('business queries over real transactions: evidence, vouchers, identities, transactions, with paging', async () => {
  await block([operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Partner', PERM.all, randomBytes(32)]],
    [partner, 'identity', 'register', [partner.publicKey, null]], [user, 'identity', 'register', [user.publicKey, 'user-one']], [other, 'identity', 'register', [other.publicKey, null]]);
  await block(...[0, 1, 2, 3, 4].map((i): [KeyPair, string, string, unknown[]] => [partner, 'evidence', 'register', [`ev-${i}`, digest(i === 4 ? 'doc-0' : `doc-${i}`), `{"n":${i}}`, null, null]]));
  await block([partner, 'identity', 'certify', [accountAddress(user.publicKey), 4, randomBytes(32), false]], [partner, 'identity', 'certify', [accountAddress(other.publicKey), 4, randomBytes(32), false]]);
  await block([operator, 'voucher', 'createVoucher', ['TEA', 'Tea', 'tea', true, 1_000_000n, accountAddress(partner.publicKey)]]);
  await block([partner, 'voucher', 'issue', [1n, accountAddress(user.publicKey), 1000n]]);
  await block([user, 'voucher', 'transfer', [1n, accountAddress(other.publicKey), 300n]]);
  await mw.indexer.waitFor(Number(node.height));
  const c = client();
  const ev = await c.call<{ key: string; digest: string; registrant: string; status: string; height: number }>('evidence_get', { key: 'ev-3' });
  assert.equal([ev.key, ev.digest, ev.registrant, ev.status], ['ev-3', digest('doc-3'), addr(partner), 'registered']);
  assert.equal((await c.call<{ items: Array<{ key: string }> }>('evidence_find', { digest: digest('doc-0') })).items.map((e) => e.key), ['ev-0', 'ev-4']);
  const keys: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const p = await c.call<{ items: Array<{ key: string }>; next?: string }>('evidence_find', { registrant: addr(partner), limit: 2, ...(after ? { after } : {}) });
    keys.push(...p.items.map((e) => e.key));
    after = p.next;
    pages++;
  } while (after);
  assert.equal([keys.sort(), pages], [['ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4'], 3]);
  assert.equal((await c.call<{ items: unknown[] }>('holding_find', { holder: addr(user) })).items, [{ symbol: 'TEA', holder: addr(user), balance: '700' }]);
  assert.equal((await c.call<{ items: unknown[] }>('holding_find', { holder: addr(other) })).items, [{ symbol: 'TEA', holder: addr(other), balance: '300' }]);
  assert.equal((await c.call<{ items: Array<{ symbol: string }> }>('voucher_find', { issuer: addr(partner) })).items.map((v) => v.symbol), ['TEA']);
  const u = await c.call<{ name: string; certifications: Array<{ partner: string; level: number }> }>('identity_get', { address: addr(user) });
  assert.equal([u.name, u.certifications.map((x) => [x.partner, x.level])], ['user-one', [[addr(partner), 4]]]);
  assert.equal((await c.call<{ items: Array<{ address: string }> }>('identity_find', { partner: addr(partner), level: 4 })).items.map((i) => i.address).sort(), [addr(user), addr(other)].sort());
  assert.equal((await c.call<{ items: Array<{ address: string }> }>('identity_find', { name: 'user-one' })).items.map((i) => i.address), [addr(user)]);
  const txs = (await c.call<{ items: Array<{ method: string; ok: boolean }> }>('tx_find', { account: addr(user) })).items;
  assert.equal(txs.map((t) => [t.method, t.ok]), [['register', true], ['transfer', true]]);
  assert.is((await c.call<{ indexedHeight: number }>('index_status')).indexedHeight, Number(node.height));
  // Typed errors.
  assert.is(await codeOf(c.call('evidence_get', { key: 'missing' })), 'NOT_FOUND');
  assert.is(await codeOf(c.call('evidence_find', { digest: '0x12' })), 'RPC_INVALID_PARAMS');
  assert.is(await codeOf(c.call('evidence_find', { digest: digest('doc-0'), chain: 'x' })), 'BAD_QUERY');
  assert.is(await codeOf(c.call('evidence_find', { registrant: addr(partner), after: 'bm9wZQ' })), 'BAD_CURSOR');
  assert.is(await codeOf(c.call('tx_find', { account: addr(user), surprise: 1 })), 'RPC_INVALID_PARAMS');
});

test('events: a subscriber that disconnects and resumes from its cursor gets every item once, across a middleware restart', async () => {
  const got: string[] = [];
  const first = new EventStream(mw.wsUrl, (i) => got.push(eventKey(i)), { kinds: ['event'], contract: 'evidence' });
  await until(() => first.cursor !== undefined, 5000, 'the first subscription');
  await block([partner, 'evidence', 'register', ['live-0', digest('live-0'), '', null, null]]);
  await until(() => got.length === 1, 5000, 'the live event');
  await first.close();
  const cursor = first.cursor!;
  await block([partner, 'evidence', 'register', ['gap-0', digest('gap-0'), '', null, null]], [partner, 'evidence', 'register', ['gap-1', digest('gap-1'), '', null, null]]);
  // The middleware itself restarts (same index, same port) while a second subscriber is connected.
  const second: string[] = [];
  const states: boolean[] = [];
  const resumed = new EventStream(mw.wsUrl, (i) => second.push(eventKey(i)), { kinds: ['event'], contract: 'evidence', after: cursor, backoffMs: 50, onState: (s) => states.push(s.connected) });
  await until(() => second.length === 2, 5000, 'the replayed events');
  const port = Number(new URL(mw.url).port);
  await mw.stop();
  await block([partner, 'evidence', 'register', ['down-0', digest('down-0'), '', null, null]]);
  mw = await startMw({ port });
  await block([partner, 'evidence', 'register', ['up-0', digest('up-0'), '', null, null]]);
  await until(() => second.length === 4, 10_000, 'events after the restart');
  await new Promise((r) => setTimeout(r, 300));
  await resumed.close();
  assert.equal(got, ['registered:live-0']);
  assert.equal(second, ['registered:gap-0', 'registered:gap-1', 'registered:down-0', 'registered:up-0']);
  assert.ok(states.includes(false) && states.lastIndexOf(true) > states.indexOf(false), 'it noticed the restart and reconnected');
});

test('a replay through items the filter skips sends heartbeats: the client\'s cursor moves on and its connection is not silent', async () => {
  // A middleware of its own (its own index), whose periodic heartbeats are too rare to be what arrives.
  const quiet = await startMiddleware({ source: new NodeSource(node), store: await LevelIndexStore.open(join(dir, 'index-quiet')), rpc: { port: 0 }, heartbeatMs: 60_000 });
  try {
    await quiet.indexer.waitFor(Number(node.height));
    const ws = new WebSocket(quiet.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const got: Array<{ kind?: string; cursor?: string }> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { params?: { result?: { kind?: string; cursor?: string } } };
      if (m.params?.result) got.push(m.params.result);
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'stream', after: '0.0.0', kinds: ['event'], contract: 'no-such-contract' } }));
    await until(() => got.length > 0, 5000, 'a heartbeat from the replay');
    assert.is(got[0]!.kind, 'heartbeat');
    const [h] = got[got.length - 1]!.cursor!.split('.').map(Number);
    assert.ok(h! >= Number(node.height) - 1, `the cursor moved to the indexed tip (${got[got.length - 1]!.cursor})`);
    ws.close();
  } finally {
    await quiet.stop();
  }
});

test('a consumer that stops reading is disconnected as slow; the index keeps up with the chain', async () => {
  const port = Number(new URL(mw.url).port);
  await mw.stop();
  mw = await startMw({ port, wsMaxBufferedBytes: 4096 });
  const ws = new WebSocket(mw.wsUrl);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'stream', after: '0.0.0' } }));
  await new Promise((r) => ws.once('message', r));
  (ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading: its buffer on the server fills up
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await block([operator, 'quota', 'setAllowance', [accountAddress(partner.publicKey), 1n << 60n]]);
  // More than the kernel's socket buffers hold (several MiB on loopback), so the server's own buffer grows.
  let cut = false;
  void closed.then(() => { cut = true; });
  for (let b = 0; b < 120 && !cut; b++) {
    await block(...Array.from({ length: 25 }, (_, i): [KeyPair, string, string, unknown[]] => [partner, 'evidence', 'register', [`bulk-${b}-${i}`, digest(`bulk-${b}-${i}`), 'x'.repeat(4000), null, null]]));
  }
  await mw.indexer.waitFor(Number(node.height), 10_000);
  (ws as unknown as { _socket: { resume(): void } })._socket.resume();
  await Promise.race([closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the slow consumer was never disconnected')), 10_000))]);
  // Its close frame (1008 RPC_SLOW_CONSUMER) sits behind the data it never read; the server logs why it cut it.
  assert.ok(serverLog.some((e) => e.type === 'ws_disconnect' && e.reason === 'RPC_SLOW_CONSUMER'), 'disconnected as a slow consumer');
  assert.is((await client().call<{ indexedHeight: number }>('index_status')).indexedHeight, Number(node.height));
});

function eventKey(i: StreamItem): string {
  return i.kind === 'event' ? `${i.name}:${(i.data as { key: string }).key}` : i.kind;
}

test.after(async () => {
  await mw.stop();
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
