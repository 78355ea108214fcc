/**
 * SubscriptionHub against a bare RPC server publishing numbered items: subscriptions survive server
 * restarts and dead connections (a TCP proxy that stops forwarding), report what may have been missed,
 * and end loudly when the node refuses them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { RpcServer } from '../../node/rpc/server.ts';
import { SubscriptionHub, type ConnectionState, type Gap } from './subscriptions.ts';

interface Tick { height: number }

/** A server with topic `ticks` (filter: `even`) and chain_status reporting the last tick published. */
async function tickServer(port = 0, withTicks = true) {
  const server = new RpcServer({ port, rateLimit: false });
  let height = 0;
  server.method('chain_status', () => ({ height }));
  if (withTicks) server.topic<{ even?: boolean }>('ticks', (f) => ({ even: f.even === true }));
  const { url, wsUrl } = await server.listen();
  return {
    server, url, wsUrl, port: Number(new URL(url).port),
    tick(to = height + 1) {
      height = to;
      server.publish<{ even: boolean }>('ticks', { height }, (f) => !f.even || height % 2 === 0);
    },
    setHeight(h: number) { height = h; },
  };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const FAST = { minReconnectDelayMs: 20, maxReconnectDelayMs: 100, timeoutMs: 1000 };

test('items arrive in order with their positions; filters apply; closing a subscription stops it', async () => {
  const s = await tickServer();
  const hub = new SubscriptionHub(s.wsUrl, FAST);
  const all: number[] = [], even: number[] = [];
  const a = await hub.subscribe<Tick>('ticks', {}, (t) => all.push(t.height), (t) => ({ height: t.height }));
  const b = await hub.subscribe<Tick>('ticks', { even: true }, (t) => even.push(t.height), (t) => ({ height: t.height }));
  assert.is(a.state, 'live');
  for (let i = 0; i < 6; i++) s.tick();
  await until('six ticks', () => all.length === 6);
  assert.equal(all, [1, 2, 3, 4, 5, 6]);
  await until('even ticks', () => even.length === 3);
  assert.equal(even, [2, 4, 6]);
  assert.equal(a.position, { height: 6 });
  await b.close();
  assert.is(b.state, 'closed');
  s.tick();
  await until('tick 7', () => all.length === 7);
  assert.equal(even, [2, 4, 6]);
  await hub.close();
  assert.is(a.state, 'closed');
  await s.server.close();
});

test('after the server restarts, subscriptions are made again and report the gap; nothing is delivered twice', async () => {
  let s = await tickServer();
  const hub = new SubscriptionHub(s.wsUrl, FAST);
  const states: ConnectionState[] = [];
  hub.onState((st) => states.push(st));
  const seen: number[] = [], gaps: Gap[] = [];
  const sub = await hub.subscribe<Tick>('ticks', {}, (t) => seen.push(t.height), (t) => ({ height: t.height }), { onGap: (g) => gaps.push(g) });
  s.tick();
  s.tick();
  await until('two ticks', () => seen.length === 2);
  await s.server.close();
  await until('reconnecting', () => sub.state === 'reconnecting');
  // While it is down the chain moves on: ticks 3..5 are published to nobody.
  s = await tickServer(s.port);
  s.setHeight(5);
  await until('live again', () => sub.state === 'live');
  await until('the gap', () => gaps.length === 1);
  assert.equal(gaps[0], { after: { height: 2 }, upTo: 5 });
  s.tick(6);
  await until('tick 6', () => seen.length === 3);
  assert.equal(seen, [1, 2, 6]);
  assert.ok(states.includes('reconnecting') && states.at(-1) === 'open', states.join(','));
  await hub.close();
  await s.server.close();
});

test('a subscription the restarted node refuses ends with onError instead of dying silently', async () => {
  let s = await tickServer();
  const hub = new SubscriptionHub(s.wsUrl, FAST);
  const errors: string[] = [];
  const sub = await hub.subscribe<Tick>('ticks', {}, () => undefined, (t) => ({ height: t.height }), { onError: (e) => errors.push((e as { code?: string }).code ?? e.message) });
  await s.server.close();
  s = await tickServer(s.port, false); // this node has no `ticks` topic
  await until('the refusal', () => errors.length === 1);
  assert.equal(errors, ['RPC_UNKNOWN_TOPIC']);
  assert.is(sub.state, 'closed');
  await hub.close();
  await s.server.close();
});

test('a handler that throws is reported and does not stop later items', async () => {
  const s = await tickServer();
  const hub = new SubscriptionHub(s.wsUrl, FAST);
  const seen: number[] = [], errors: string[] = [];
  await hub.subscribe<Tick>('ticks', {}, (t) => {
    seen.push(t.height);
    if (t.height === 1) throw new Error('boom');
  }, (t) => ({ height: t.height }), { onError: (e) => errors.push(e.message) });
  s.tick();
  s.tick();
  await until('two ticks', () => seen.length === 2);
  assert.equal(errors, ['boom']);
  await hub.close();
  await s.server.close();
});

test('a first subscribe to nothing fails at once (RPC_TRANSPORT_ERROR) and leaves no retry loop; after close, SDK_CLOSED', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const hub = new SubscriptionHub(`ws://127.0.0.1:${port}/ws`, FAST);
  const code = await hub.subscribe('ticks', {}, () => undefined, () => ({ height: 0 })).then(() => 'subscribed', (e: { code?: string }) => e.code);
  assert.is(code, 'RPC_TRANSPORT_ERROR');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(hub.state, 'idle');
  await hub.close();
  assert.is(await hub.subscribe('ticks', {}, () => undefined, () => ({ height: 0 })).then(() => 'subscribed', (e: { code?: string }) => e.code), 'SDK_CLOSED');
});

test('a connection that goes silent (no close, no answers) is noticed by keep-alive probes and replaced', async () => {
  const s = await tickServer();
  // A TCP proxy that can stop forwarding in both directions while keeping every socket open: a vanished peer.
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (frozen) return; // accepted, never answered
    const up = net.connect(s.port, '127.0.0.1');
    sockets.add(up);
    up.on('error', () => undefined);
    client.on('data', (d) => { if (!frozen) up.write(d); });
    up.on('data', (d) => { if (!frozen) client.write(d); });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyPort = (proxy.address() as net.AddressInfo).port;
  const hub = new SubscriptionHub(`ws://127.0.0.1:${proxyPort}/ws`, { ...FAST, keepAliveMs: 150 });
  const seen: number[] = [], gaps: Gap[] = [];
  const sub = await hub.subscribe<Tick>('ticks', {}, (t) => seen.push(t.height), (t) => ({ height: t.height }), { onGap: (g) => gaps.push(g) });
  s.tick();
  await until('tick 1', () => seen.length === 1);
  frozen = true;
  s.tick();
  await until('the dead connection noticed', () => sub.state === 'reconnecting');
  frozen = false;
  await until('live again', () => sub.state === 'live', 10_000);
  await until('the gap', () => gaps.length === 1);
  assert.equal(gaps[0], { after: { height: 1 }, upTo: 2 });
  s.tick();
  await until('tick 3', () => seen.includes(3));
  assert.equal(seen, [1, 3]);
  await hub.close();
  for (const so of sockets) so.destroy();
  await new Promise((r) => proxy.close(r));
  await s.server.close();
});

test.run();
