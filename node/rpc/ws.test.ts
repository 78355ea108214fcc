import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcServer, type RpcLogEvent, type RpcServerOptions } from './server.ts';
import { RpcClient, RpcWsClient } from './client.ts';
import { RpcError } from './errors.ts';
import { closeOf, parseFrames, rawWebSocket, sleep, textFrame, until, type Frame } from './testing.ts';

interface BlockFilter {
  fromHeight: number;
}

interface Fixture {
  server: RpcServer;
  url: string;
  wsUrl: string;
  logs: RpcLogEvent[];
}

async function withServer(options: RpcServerOptions, body: (f: Fixture) => Promise<void>): Promise<void> {
  const logs: RpcLogEvent[] = [];
  const server = new RpcServer({ port: 0, rateLimit: false, log: (e) => logs.push(e), ...options });
  server.method('echo', (params) => params);
  server.method('ctx', (_params, ctx) => ({ transport: ctx.transport, remote: ctx.remote }));
  server.method('fail', () => {
    throw new RpcError('TX_EXPIRED', 'expired');
  });
  server.method('stuck', () => new Promise(() => {}));
  server.method('emit', (params) => server.publish('blocks', params));
  server.topic<BlockFilter>('blocks', (params) => {
    const { fromHeight = 0, ...rest } = params;
    if (typeof fromHeight !== 'number' || !Number.isInteger(fromHeight) || Object.keys(rest).length > 0) {
      throw RpcError.invalidParams('blocks takes {fromHeight?: integer}');
    }
    return { fromHeight };
  });
  server.topic('txs');
  const { url, wsUrl } = await server.listen();
  try {
    await body({ server, url, wsUrl, logs });
  } finally {
    await server.close();
  }
}

const fromHeight = (height: number) => (f: BlockFilter) => height >= f.fromHeight;

async function rejects(promise: Promise<unknown>, code: string): Promise<RpcError> {
  try {
    await promise;
  } catch (e) {
    assert.instance(e, RpcError);
    assert.is((e as RpcError).code, code);
    return e as RpcError;
  }
  throw new Error(`expected ${code}`);
}

test('WebSocket: ordinary calls, typed errors, batches, on /ws and on /', async () => {
  await withServer({}, async ({ wsUrl }) => {
    const ws = await RpcWsClient.connect(wsUrl);
    assert.equal(await ws.call('echo', [1, 'a']), [1, 'a']);
    assert.equal(await ws.call('ctx'), { transport: 'ws', remote: '127.0.0.1' });
    const err = await rejects(ws.call('fail'), 'TX_EXPIRED');
    assert.is(err.rpcCode, -32000);
    await rejects(ws.call('nope'), 'RPC_METHOD_NOT_FOUND');
    await ws.close();
    const root = await RpcWsClient.connect(wsUrl.replace(/\/ws$/, '/'));
    assert.equal(await Promise.all([root.call('echo', [1]), root.call('echo', [2])]), [[1], [2]]);
    await root.close();

    const raw = await rawWebSocket(wsUrl);
    raw.socket.write(textFrame('[{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","id":2,"method":"nope"}]'));
    raw.socket.write(textFrame('{"jsonrpc":"2.0",'));
    let frames: Frame[] = [];
    await until(() => (frames = parseFrames(Buffer.concat(raw.received)).frames).length >= 2, 1_000, 'two answers');
    const batch = JSON.parse(frames[0].payload.toString());
    assert.equal(batch.map((r: { id: number }) => r.id), [1, 2]);
    assert.is(JSON.parse(frames[1].payload.toString()).error.data.code, 'RPC_PARSE_ERROR');
    raw.socket.destroy();
  });
});

test('subscriptions: filters decide who gets what, publish returns the delivery count', async () => {
  await withServer({}, async ({ server, wsUrl }) => {
    const ws = await RpcWsClient.connect(wsUrl);
    const all: unknown[] = [];
    const late: unknown[] = [];
    const txs: unknown[] = [];
    const subAll = await ws.subscribe('blocks', undefined, (b) => all.push(b));
    const subLate = await ws.subscribe('blocks', { fromHeight: 2 }, (b) => late.push(b));
    await ws.subscribe('txs', {}, (t) => txs.push(t));
    assert.match(subAll.id, /^[0-9a-f]{16}$/);
    assert.is.not(subAll.id, subLate.id);
    assert.is(server.stats().subscriptions, 3);
    assert.is(server.publish('blocks', { height: 1 }, fromHeight(1)), 1);
    assert.is(server.publish('blocks', { height: 2 }, fromHeight(2)), 2);
    assert.is(server.publish('txs', { hash: 'ab' }), 1);
    await until(() => all.length === 2 && late.length === 1 && txs.length === 1, 1_000, 'notifications');
    assert.equal(all, [{ height: 1 }, { height: 2 }]);
    assert.equal(late, [{ height: 2 }]);
    assert.equal(txs, [{ hash: 'ab' }]);
    assert.throws(() => server.publish('nope', 1), /not declared/);
    await ws.close();
    await until(() => server.stats().subscriptions === 0, 1_000, 'subscriptions dropped with the connection');
  });
});

test('subscriptions: notification wire format', async () => {
  await withServer({}, async ({ server, wsUrl }) => {
    const raw = await rawWebSocket(wsUrl);
    raw.socket.write(textFrame('{"jsonrpc":"2.0","id":7,"method":"subscribe","params":{"topic":"txs"}}'));
    let frames: Frame[] = [];
    await until(() => (frames = parseFrames(Buffer.concat(raw.received)).frames).length === 1, 1_000, 'subscribe answer');
    const { id, result } = JSON.parse(frames[0].payload.toString());
    assert.is(id, 7);
    server.publish('txs', { hash: 'cd', height: 3 });
    await until(() => (frames = parseFrames(Buffer.concat(raw.received)).frames).length === 2, 1_000, 'notification');
    assert.equal(JSON.parse(frames[1].payload.toString()), { jsonrpc: '2.0', method: 'subscription', params: { subscription: result, result: { hash: 'cd', height: 3 } } });
    raw.socket.destroy();
  });
});

test('subscriptions: no notification overtakes the subscribe answer', async () => {
  await withServer({}, async ({ wsUrl }) => {
    const raw = await rawWebSocket(wsUrl);
    // `emit` publishes while the subscribe answer of the same batch is not sent yet.
    raw.socket.write(textFrame('[{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"blocks"}},{"jsonrpc":"2.0","id":2,"method":"emit","params":{"height":9}}]'));
    raw.socket.write(textFrame('{"jsonrpc":"2.0","id":3,"method":"emit","params":{"height":10}}'));
    let frames: Frame[] = [];
    await until(() => (frames = parseFrames(Buffer.concat(raw.received)).frames).length >= 3, 1_000, 'answers');
    const messages = frames.map((f) => JSON.parse(f.payload.toString()));
    assert.ok(Array.isArray(messages[0]), 'the batch answer comes first');
    assert.equal(messages[0].find((r: { id: number }) => r.id === 2).result, 0, 'not delivered before the subscription was confirmed');
    const notifications = messages.filter((m) => m.method === 'subscription');
    assert.equal(notifications.map((n) => n.params.result), [{ height: 10 }]);
    raw.socket.destroy();
  });
});

test('subscriptions: publish fans out to many subscribers on many connections', async () => {
  await withServer({}, async ({ server, wsUrl }) => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => RpcWsClient.connect(wsUrl)));
    const received = clients.map(() => [] as unknown[]);
    await Promise.all(clients.flatMap((c, i) => [
      c.subscribe('blocks', undefined, (b) => received[i].push(b)),
      c.subscribe('blocks', { fromHeight: 5 }, (b) => received[i].push(b)),
    ]));
    for (let h = 1; h <= 10; h++) server.publish('blocks', { height: h }, fromHeight(h));
    await until(() => received.every((r) => r.length === 16), 2_000, 'all deliveries');
    assert.is(server.stats().subscriptions, 40);
    await Promise.all(clients.map((c) => c.close()));
  });
});

test('unsubscribe: stops delivery; unknown ids answer false', async () => {
  await withServer({}, async ({ server, wsUrl }) => {
    const ws = await RpcWsClient.connect(wsUrl);
    const got: unknown[] = [];
    const sub = await ws.subscribe('txs', undefined, (t) => got.push(t));
    server.publish('txs', 1);
    await until(() => got.length === 1, 1_000, 'first item');
    assert.is(await sub.unsubscribe(), true);
    assert.is(server.publish('txs', 2), 0);
    assert.is(await ws.call('unsubscribe', { subscription: sub.id }), false);
    assert.is(await ws.call('unsubscribe', ['0000000000000000']), false);
    await rejects(ws.call('unsubscribe', { id: 1 }), 'RPC_INVALID_PARAMS');
    await sleep(20);
    assert.equal(got, [1]);
    await ws.close();
  });
});

test('subscribe errors: unknown topic, bad filter, filterless topic, over HTTP, per-connection limit', async () => {
  await withServer({ maxSubscriptionsPerConnection: 2 }, async ({ url, wsUrl, server }) => {
    const ws = await RpcWsClient.connect(wsUrl);
    const unknown = await rejects(ws.subscribe('nope', undefined, () => {}), 'RPC_UNKNOWN_TOPIC');
    assert.is(unknown.rpcCode, -32602);
    assert.equal(unknown.data, { topics: ['blocks', 'txs'] });
    await rejects(ws.subscribe('blocks', { fromHeight: 'x' }, () => {}), 'RPC_INVALID_PARAMS');
    await rejects(ws.subscribe('txs', { contract: 'ab' }, () => {}), 'RPC_INVALID_PARAMS');
    await rejects(ws.call('subscribe', ['blocks']), 'RPC_INVALID_PARAMS');
    const http = new RpcClient(url);
    const wsOnly = await rejects(http.call('subscribe', { topic: 'blocks' }), 'RPC_WS_ONLY');
    assert.is(wsOnly.rpcCode, -32601);
    await ws.subscribe('txs', undefined, () => {});
    await ws.subscribe('blocks', undefined, () => {});
    const limit = await rejects(ws.subscribe('txs', undefined, () => {}), 'RPC_SUBSCRIPTION_LIMIT');
    assert.is(limit.rpcCode, -32003);
    assert.is(server.stats().subscriptions, 2);
    assert.throws(() => server.method('subscribe', () => 1), /reserved/);
    assert.throws(() => server.topic('txs'), /already/);
    await ws.close();
  });
});

test('slow consumer: a client that stops reading is closed with 1008 RPC_SLOW_CONSUMER; others are unaffected', async () => {
  const limit = 256 * 1024;
  await withServer({ wsMaxBufferedBytes: limit, closeGraceMs: 5_000 }, async ({ server, wsUrl, logs }) => {
    const fast = await RpcWsClient.connect(wsUrl);
    let fastGot = 0;
    await fast.subscribe('txs', undefined, () => fastGot++);
    const slow = await rawWebSocket(wsUrl);
    slow.socket.write(textFrame('{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"txs"}}'));
    await until(() => server.stats().subscriptions === 2, 1_000, 'slow subscriber');
    await sleep(10); // its subscribe answer is sent and the subscription active
    slow.socket.pause(); // stops reading: kernel buffers fill, then the server's

    const item = { data: 'x'.repeat(32 * 1024) };
    let published = 0;
    const deadline = Date.now() + 5_000;
    while (!logs.some((e) => e.type === 'ws_disconnect') && Date.now() < deadline) {
      server.publish('txs', item);
      published++;
      await new Promise((r) => setImmediate(r)); // a publisher that yields, like block commits
    }
    assert.ok(logs.some((e) => e.type === 'ws_disconnect' && e.reason === 'RPC_SLOW_CONSUMER'), `no disconnect after ${published} items`);
    assert.is(server.stats().subscriptions, 1, "the slow client's subscription is gone");
    assert.is(server.publish('txs', { data: 'after' }), 1, 'publishing goes on, to the fast client only');
    published++;
    await until(() => fastGot === published, 2_000, 'the fast client got everything');

    // The close frame follows what was buffered: a client that reads again finds it.
    slow.socket.resume();
    let close: { code: number; reason: string } | undefined;
    await until(() => {
      const { frames } = parseFrames(Buffer.concat(slow.received));
      const frame = frames.find((f) => f.opcode === 8);
      if (frame) close = closeOf(frame);
      return frame !== undefined;
    }, 3_000, 'close frame');
    assert.equal(close, { code: 1008, reason: 'RPC_SLOW_CONSUMER' });
    slow.socket.destroy();
    await fast.close();
  });
});

test('slow consumer: one that never reads again is cut after closeGraceMs', async () => {
  await withServer({ wsMaxBufferedBytes: 64 * 1024, closeGraceMs: 50 }, async ({ server, wsUrl, logs }) => {
    const slow = await rawWebSocket(wsUrl);
    slow.socket.write(textFrame('{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"txs"}}'));
    await until(() => server.stats().subscriptions === 1, 1_000, 'subscriber');
    await sleep(10);
    slow.socket.pause();
    const item = 'y'.repeat(32 * 1024);
    const deadline = Date.now() + 5_000;
    while (!logs.some((e) => e.type === 'ws_disconnect') && Date.now() < deadline) {
      server.publish('txs', item);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => server.stats().websockets === 0, 1_000, 'connection cut');
    slow.socket.destroy();
  });
});

test('keep-alive: a peer that does not answer pings is terminated; a live one stays', async () => {
  await withServer({ wsPingIntervalMs: 20, wsPongTimeoutMs: 30 }, async ({ server, wsUrl, logs }) => {
    const live = await RpcWsClient.connect(wsUrl); // the standard WebSocket answers pings by itself
    const dead = await rawWebSocket(wsUrl); // reads, but never answers
    await dead.closed;
    assert.ok(logs.some((e) => e.type === 'ws_disconnect' && e.reason === 'RPC_PING_TIMEOUT'));
    const pings = parseFrames(Buffer.concat(dead.received)).frames.filter((f) => f.opcode === 9);
    assert.ok(pings.length >= 1);
    await sleep(100);
    assert.equal(await live.call('echo', ['still here']), ['still here']);
    assert.is(server.stats().websockets, 1);
    await live.close();
  });
});

test('WebSocket limits: oversized message closes with 1009; rate limit answers RPC_RATE_LIMITED', async () => {
  let now = 0;
  await withServer({ maxBodyBytes: 1_000, rateLimit: { perSecond: 1, burst: 2 }, now: () => now }, async ({ wsUrl }) => {
    const ws = await RpcWsClient.connect(wsUrl);
    await ws.call('echo', [1]);
    await ws.call('echo', [2]);
    const limited = await rejects(ws.call('echo', [3]), 'RPC_RATE_LIMITED');
    assert.is(limited.rpcCode, -32005);
    now += 1_000;
    assert.equal(await ws.call('echo', [4]), [4]);
    const pending = ws.call('echo', ['z'.repeat(2_000)]);
    const closed = await ws.closed;
    assert.is(closed.code, 1009);
    await rejects(pending, 'RPC_CLIENT_CLOSED');
    await rejects(ws.call('echo'), 'RPC_CLIENT_CLOSED');
  });
});

test('WebSocket upgrades: connection cap 503, foreign origin 403, unknown path 404', async () => {
  await withServer({ maxConnections: 1 }, async ({ wsUrl, server }) => {
    const first = await RpcWsClient.connect(wsUrl);
    await until(() => server.stats().connections === 1, 1_000, 'one connection');
    const refused = await rawWebSocket(wsUrl);
    assert.is(refused.status, 503);
    assert.match(refused.response, /"RPC_TOO_MANY_CONNECTIONS"/);
    await rejects(RpcWsClient.connect(wsUrl), 'RPC_TRANSPORT_ERROR');
    await first.close();
  });
  await withServer({ allowedOrigins: ['https://app.example'] }, async ({ wsUrl }) => {
    const foreign = await rawWebSocket(wsUrl, { Origin: 'https://evil.example' });
    assert.is(foreign.status, 403);
    assert.match(foreign.response, /"RPC_FORBIDDEN_ORIGIN"/);
    const allowed = await rawWebSocket(wsUrl, { Origin: 'https://app.example' });
    assert.is(allowed.status, 101);
    allowed.socket.destroy();
    const elsewhere = await rawWebSocket(wsUrl.replace(/\/ws$/, '/other'));
    assert.is(elsewhere.status, 404);
  });
});

test('close: pending calls get RPC_SHUTTING_DOWN, open WebSockets 1001 RPC_SHUTTING_DOWN, unresponsive peers are cut', async () => {
  const server = new RpcServer({ port: 0, closeGraceMs: 100, log: () => {} });
  server.method('stuck', () => new Promise(() => {}));
  server.topic('txs');
  const { wsUrl } = await server.listen();
  const clients = await Promise.all([RpcWsClient.connect(wsUrl), RpcWsClient.connect(wsUrl)]);
  await clients[0].subscribe('txs', undefined, () => {});
  const pending = clients[1].call('stuck');
  pending.catch(() => {}); // checked below, after close
  const deaf = await rawWebSocket(wsUrl);
  deaf.socket.pause(); // never completes the close handshake
  await until(() => server.stats().inFlight === 1, 1_000, 'call in flight');
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 1_000, `close took ${Date.now() - started} ms`);
  for (const c of clients) assert.equal(await c.closed, { code: 1001, reason: 'RPC_SHUTTING_DOWN' });
  await rejects(pending, 'RPC_SHUTTING_DOWN');
  deaf.socket.resume(); // a paused socket would not notice the cut
  await deaf.closed;
  assert.equal(server.stats(), { connections: 0, websockets: 0, subscriptions: 0, inFlight: 0 });
});

test.run();
