import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { RpcServer, type RpcLogEvent, type RpcServerOptions } from './server.ts';
import { RpcClient } from './client.ts';
import { RpcError } from './errors.ts';
import { post, sleep, until } from './testing.ts';

/** A chain-style error: a stable code and its own wire extras, like VmError. */
class ChainError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
  toJSON() {
    return { code: this.code, message: this.message, revertCode: 'E_NONCE' };
  }
}

interface Fixture {
  server: RpcServer;
  url: string;
  client: RpcClient;
  logs: RpcLogEvent[];
  calls: string[];
  aborts: unknown[];
}

async function withServer(options: RpcServerOptions, body: (f: Fixture) => Promise<void>): Promise<void> {
  const logs: RpcLogEvent[] = [];
  const calls: string[] = [];
  const aborts: unknown[] = [];
  const server = new RpcServer({ port: 0, rateLimit: false, log: (e) => logs.push(e), ...options });
  server.method('echo', (params) => {
    calls.push('echo');
    return params;
  });
  server.method('ctx', (_params, ctx) => ({ transport: ctx.transport, remote: ctx.remote, aborted: ctx.signal.aborted }));
  server.method('nothing', () => undefined);
  server.method('invalid', () => {
    throw RpcError.invalidParams('height must be an integer', { field: 'height' });
  });
  server.method('expired', async () => {
    throw new ChainError('TX_EXPIRED', 'transaction expired at height 10');
  });
  server.method('boom', () => {
    throw new Error('secret at /home/operator/keys');
  });
  server.method('enoent', () => {
    throw Object.assign(new Error("ENOENT: no such file or directory, open '/home/operator/keys'"), { code: 'ENOENT', errno: -2, syscall: 'open' });
  });
  server.method('bigint', () => 1n);
  // Doubles a number; entries of one batch are served by one call of the batch handler.
  const double = (p: unknown) => {
    const n = (p as number[])[0]!;
    if (n < 0) throw new ChainError('TX_EXPIRED', `negative ${n}`);
    return n * 2;
  };
  server.method('double', (params) => { calls.push('double'); return double(params); }, {
    batch: async (list) => {
      calls.push(`double×${list.length}`);
      return list.map((p) => { try { return { result: double(p) }; } catch (error) { return { error }; } });
    },
  });
  server.method('doubleBroken', () => 0, { batch: async () => { throw new Error('secret at /home/operator/keys'); } });
  server.method('doubleShort', () => 0, { batch: async () => [{ result: 1 }] });
  server.method('doubleOdd', () => 0, { batch: async (list) => list.map((_p, i) => (i === 1 ? { result: 1n } : i === 2 ? null as never : { result: i })) });
  server.method('doubleWaits', () => 0, { batch: (_list, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) });
  server.method('waits', (_params, ctx) => new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => {
      aborts.push(ctx.signal.reason);
      reject(ctx.signal.reason);
    });
  }));
  server.method('stuck', () => new Promise(() => {}));
  const { url } = await server.listen();
  try {
    await body({ server, url, client: new RpcClient(url), logs, calls, aborts });
  } finally {
    await server.close();
  }
}

const rpc = (method: string, params?: unknown, id: unknown = 1) => JSON.stringify({ jsonrpc: '2.0', id, method, params });

test('API keys (a proxy node): required, each with its own rate limit; unknown or missing keys are RPC_UNAUTHORIZED', async () => {
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  await withServer({ apiKeys: [{ name: 'partner-a', keyHash: sha('secret-a'), rateLimit: { perSecond: 0.001, burst: 2 } }, { name: 'partner-b', keyHash: sha('secret-b'), rateLimit: { perSecond: 100, burst: 100 } }] }, async ({ url }) => {
    assert.is((await new RpcClient(url).call('echo', [1]).catch((e: RpcError) => e.code)), 'RPC_UNAUTHORIZED');
    assert.is((await new RpcClient(url, { headers: { 'x-api-key': 'guess' } }).call('echo', [1]).catch((e: RpcError) => e.code)), 'RPC_UNAUTHORIZED');
    const a = new RpcClient(url, { headers: { 'x-api-key': 'secret-a' } });
    assert.equal(await a.call('echo', [1]), [1]);
    assert.equal(await new RpcClient(url, { headers: { authorization: 'Bearer secret-a' } }).call('echo', [2]), [2]);
    assert.is(await a.call('echo', [3]).catch((e: RpcError) => e.code), 'RPC_RATE_LIMITED'); // partner-a's burst of 2 is spent
    assert.equal(await new RpcClient(url, { headers: { 'x-api-key': 'secret-b' } }).call('echo', [4]), [4]); // partner-b is not affected
    const health = await fetch(url.replace(/\/$/, '') + '/health');
    assert.is(health.status, 200); // health needs no key
  });
});

test('listen: binds 127.0.0.1 by default, port 0 is ephemeral, URLs are exposed', async () => {
  const server = new RpcServer({ port: 0 });
  const { url, wsUrl } = await server.listen();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.match(wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  assert.not.equal(new URL(url).port, '0');
  assert.is(server.url, url);
  await server.close();
  await server.close(); // idempotent
});

test('calls: result, params, context, undefined becomes null', async () => {
  await withServer({}, async ({ client }) => {
    assert.equal(await client.call('echo', { a: [1, 'x'] }), { a: [1, 'x'] });
    assert.equal(await client.call('echo', [1, 2]), [1, 2]);
    assert.equal(await client.call('ctx'), { transport: 'http', remote: '127.0.0.1', aborted: false });
    assert.is(await client.call('nothing'), null);
  });
});

test('notifications get no response: 204, and the handler still runs', async () => {
  await withServer({}, async ({ url, calls, client }) => {
    const res = await post(url, JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: [1] }));
    assert.is(res.status, 204);
    assert.is(res.text, '');
    await client.notify('echo', [2]);
    assert.equal(calls, ['echo', 'echo']);
    // A notification that fails is silent too.
    assert.is((await post(url, JSON.stringify({ jsonrpc: '2.0', method: 'boom' }))).status, 204);
  });
});

test('batches: mixed results in order, notifications omitted, all-notification batch is 204', async () => {
  await withServer({}, async ({ url, client }) => {
    const results = await client.batch([
      { method: 'echo', params: ['a'] },
      { method: 'invalid' },
      { method: 'echo', params: ['n'], notify: true },
      { method: 'nope' },
      { method: 'echo', params: ['b'] },
    ]);
    assert.equal(results.map((r) => (r.ok ? r.result : r.error.code)), [['a'], 'RPC_INVALID_PARAMS', undefined, 'RPC_METHOD_NOT_FOUND', ['b']]);
    const raw = await post(url, `[${rpc('echo', [1], 1)},{"jsonrpc":"2.0","method":"echo"},${rpc('echo', [2], 'two')}]`);
    assert.is(raw.status, 200);
    assert.equal(raw.json.map((r: { id: unknown }) => r.id).sort(), [1, 'two']);
    const none = await post(url, '[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"echo"}]');
    assert.is(none.status, 204);
  });
});

test('batches: a method with a batch handler serves its entries in one call, answering each as if alone', async () => {
  await withServer({}, async ({ url, client, calls, logs }) => {
    const raw = await post(url, `[${rpc('double', [1], 1)},${rpc('echo', ['a'], 2)},${rpc('double', [-1], 3)},{"jsonrpc":"2.0","method":"double","params":[5]},${rpc('double', [3], 'four')},{"jsonrpc":"2.0","method":"double","params":[7],"id":{}},${rpc('double', 'x', 5)}]`);
    assert.is(raw.status, 200);
    assert.equal(raw.json.map((r: { id: unknown; result?: unknown; error?: { data: { code: string } } }) => [r.id, r.result ?? r.error!.data.code]),
      [[1, 2], [2, ['a']], [3, 'TX_EXPIRED'], ['four', 6], [null, 'RPC_INVALID_REQUEST'], [5, 'RPC_INVALID_REQUEST']]);
    // One call for the three well-formed entries with ids; the notification went alone (no reply).
    assert.equal(calls.filter((c) => c.startsWith('double')).sort(), ['double', 'double×3']);
    // A single call, and a batch of one, use the plain handler and the batch handler alike.
    assert.is(await client.call('double', [21]), 42);
    const broken = await post(url, `[${rpc('doubleBroken', [1], 1)},${rpc('doubleBroken', [2], 2)}]`);
    assert.equal(broken.json.map((r: { id: number; error: { data: { code: string }; message: string } }) => [r.id, r.error.data.code, r.error.message.includes('secret')]), [[1, 'RPC_INTERNAL_ERROR', false], [2, 'RPC_INTERNAL_ERROR', false]]);
    assert.ok(logs.some((l) => l.type === 'internal_error' && l.method === 'doubleBroken'));
    const short = await post(url, `[${rpc('doubleShort', [1], 1)},${rpc('doubleShort', [2], 2)}]`);
    assert.equal(short.json.map((r: { result?: unknown; error?: { data: { code: string } } }) => r.result ?? r.error!.data.code), [1, 'RPC_INTERNAL_ERROR']);
    // An outcome that does not serialise, or is missing, fails its own entry only.
    const odd = await post(url, `[${rpc('doubleOdd', [1], 1)},${rpc('doubleOdd', [2], 2)},${rpc('doubleOdd', [3], 3)},${rpc('doubleOdd', [4], 4)}]`);
    assert.equal(odd.json.map((r: { result?: unknown; error?: { data: { code: string } } }) => r.result ?? r.error!.data.code), [0, 'RPC_INTERNAL_ERROR', 'RPC_INTERNAL_ERROR', 3]);
  });
});

test('batches: batch handlers keep the rate limit per entry and the message deadline', async () => {
  let now = 0;
  await withServer({ rateLimit: { perSecond: 1, burst: 2 }, now: () => now, requestTimeoutMs: 40 }, async ({ url, calls }) => {
    const limited = await post(url, `[${rpc('double', [1], 1)},${rpc('double', [2], 2)},${rpc('double', [3], 3)}]`);
    assert.equal(limited.json.map((r: { result?: unknown; error?: { data: { code: string } } }) => r.result ?? r.error!.data.code), [2, 4, 'RPC_RATE_LIMITED']);
    assert.equal(calls, ['double×2']);
    now += 2_000;
    // Tokens go in the batch's order, whichever way each entry is served: the last one is refused.
    const mixed = await post(url, `[${rpc('double', [1], 1)},${rpc('echo', ['x'], 2)},${rpc('double', [3], 3)}]`);
    assert.equal(mixed.json.map((r: { result?: unknown; error?: { data: { code: string } } }) => r.result ?? r.error!.data.code), [2, ['x'], 'RPC_RATE_LIMITED']);
    now += 2_000;
    const late = await post(url, `[${rpc('doubleWaits', [1], 1)},${rpc('doubleWaits', [2], 2)}]`);
    assert.equal(late.json.map((r: { error: { data: { code: string } } }) => r.error.data.code), ['RPC_TIMEOUT', 'RPC_TIMEOUT']);
  });
});

test('batches: empty is an invalid request, over maxBatch is refused whole', async () => {
  await withServer({ maxBatch: 3 }, async ({ url, client, calls }) => {
    const empty = await post(url, '[]');
    assert.is(empty.status, 200);
    assert.equal(empty.json, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid request: empty batch', data: { code: 'RPC_INVALID_REQUEST' } } });
    const big = await post(url, `[${[1, 2, 3, 4].map((i) => rpc('echo', [i], i)).join(',')}]`);
    assert.is(big.json.error.code, -32600);
    assert.is(big.json.error.data.code, 'RPC_BATCH_TOO_LARGE');
    assert.equal(calls, [], 'no entry of an oversized batch runs');
    try {
      await client.batch([1, 2, 3, 4].map((i) => ({ method: 'echo', params: [i] })));
      assert.unreachable();
    } catch (e) {
      assert.is((e as RpcError).code, 'RPC_BATCH_TOO_LARGE');
    }
    assert.is((await client.batch([1, 2, 3].map((i) => ({ method: 'echo', params: [i] })))).length, 3);
  });
});

test('malformed JSON: -32700 with id null', async () => {
  await withServer({}, async ({ url }) => {
    for (const body of ['{"jsonrpc":"2.0",', '', 'nope', '[{"jsonrpc":"2.0"']) {
      const res = await post(url, body);
      assert.is(res.status, 200);
      assert.is(res.json.id, null);
      assert.is(res.json.error.code, -32700);
      assert.is(res.json.error.data.code, 'RPC_PARSE_ERROR');
    }
  });
});

test('invalid request shapes: -32600, keeping a usable id', async () => {
  await withServer({}, async ({ url, calls }) => {
    const cases: Array<[string, unknown]> = [
      ['1', null],
      ['"x"', null],
      ['null', null],
      ['{"id":1,"method":"echo"}', 1],                          // no jsonrpc
      ['{"jsonrpc":"1.0","id":2,"method":"echo"}', 2],          // wrong version
      ['{"jsonrpc":"2.0","id":3,"method":7}', 3],               // method not a string
      ['{"jsonrpc":"2.0","id":4,"method":"echo","params":"x"}', 4], // params neither object nor array
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"echo"}', null], // id of a forbidden type
      ['{"jsonrpc":"2.0","method":"echo","params":5}', null],   // invalid, even without an id: answered
    ];
    for (const [body, id] of cases) {
      const res = await post(url, body);
      assert.is(res.json.error?.code, -32600, body);
      assert.is(res.json.error.data.code, 'RPC_INVALID_REQUEST');
      assert.is(res.json.id, id, body);
    }
    const batch = await post(url, '[1,2]');
    assert.equal(batch.json.map((r: { error: { code: number } }) => r.error.code), [-32600, -32600]);
    assert.equal(calls, []);
  });
});

test('unknown method: -32601', async () => {
  await withServer({}, async ({ url, client }) => {
    const res = await post(url, rpc('chain_nothing'));
    assert.equal(res.json.error, { code: -32601, message: 'Method not found: chain_nothing', data: { code: 'RPC_METHOD_NOT_FOUND' } });
    try {
      await client.call('chain_nothing');
      assert.unreachable();
    } catch (e) {
      assert.instance(e, RpcError);
      assert.is((e as RpcError).code, 'RPC_METHOD_NOT_FOUND');
      assert.is((e as RpcError).rpcCode, -32601);
    }
  });
});

test('typed handler errors: invalid params is -32602, chain codes are -32000 with data.code and their extras', async () => {
  await withServer({}, async ({ url, client }) => {
    const invalid = await post(url, rpc('invalid'));
    assert.equal(invalid.json.error, { code: -32602, message: 'height must be an integer', data: { field: 'height', code: 'RPC_INVALID_PARAMS' } });
    const expired = await post(url, rpc('expired'));
    assert.equal(expired.json.error, { code: -32000, message: 'transaction expired at height 10', data: { revertCode: 'E_NONCE', code: 'TX_EXPIRED' } });
    try {
      await client.call('expired');
      assert.unreachable();
    } catch (e) {
      const err = e as RpcError;
      assert.is(err.code, 'TX_EXPIRED');
      assert.is(err.message, 'transaction expired at height 10');
      assert.equal(err.data, { revertCode: 'E_NONCE' });
    }
  });
});

test('unexpected exceptions: -32603 with a generic message, no stack or detail; the server log gets the original', async () => {
  await withServer({}, async ({ url, logs }) => {
    for (const method of ['boom', 'enoent', 'bigint']) {
      const res = await post(url, rpc(method));
      assert.equal(res.json.error, { code: -32603, message: 'Internal error', data: { code: 'RPC_INTERNAL_ERROR' } }, method);
      assert.not.match(res.text, /secret|operator|stack|at /);
    }
    const logged = logs.filter((e) => e.type === 'internal_error');
    assert.equal(logged.map((e) => e.type === 'internal_error' && e.method), ['boom', 'enoent', 'bigint']);
    assert.match(String((logged[0] as { error: Error }).error.message), /secret/);
  });
});

test('handler timeout: the signal aborts and the caller gets RPC_TIMEOUT, even if the handler ignores it', async () => {
  await withServer({ requestTimeoutMs: 40 }, async ({ client, aborts }) => {
    for (const method of ['waits', 'stuck']) {
      const started = Date.now();
      try {
        await client.call(method);
        assert.unreachable();
      } catch (e) {
        assert.is((e as RpcError).code, 'RPC_TIMEOUT', method);
        assert.is((e as RpcError).rpcCode, -32001);
      }
      assert.ok(Date.now() - started < 1_000);
    }
    assert.is(aborts.length, 1);
    assert.is((aborts[0] as RpcError).code, 'RPC_TIMEOUT');
  });
});

test('body over maxBodyBytes: 413 with a JSON-RPC error, declared or streamed, and the server stops reading', async () => {
  await withServer({ maxBodyBytes: 1_000 }, async ({ url, calls, logs }) => {
    const declared = await post(url, rpc('echo', ['x'.repeat(2_000)]));
    assert.is(declared.status, 413);
    assert.is(declared.headers.get('connection'), 'close');
    assert.is(declared.json.error.code, -32002);
    assert.is(declared.json.error.data.code, 'RPC_REQUEST_TOO_LARGE');
    assert.is((await post(url, rpc('echo', ['x'.repeat(960)]))).status, 413, 'the limit counts the whole body');
    assert.is((await post(url, rpc('echo', ['x'.repeat(800)]))).status, 200);

    // Chunked, no Content-Length, and the client never stops: the connection is closed, not drained.
    // The client reads nothing for its first 50 ms, as one busy uploading does: the 413 must still reach it
    // (a reset on close, with its upload unread, made its next write fail before it read the answer).
    const port = Number(new URL(url).port);
    const stream = async (allowHalfOpen: boolean) => {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
      socket.on('error', () => {});
      let response = '';
      socket.on('data', (d) => (response += d));
      socket.pause();
      setTimeout(() => socket.resume(), 50);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      let sent = 0;
      const chunk = `400\r\n${'a'.repeat(1024)}\r\n`;
      const pump = setInterval(() => {
        if (!socket.writable) return;
        for (let i = 0; i < 16; i++) socket.write(chunk);
        sent += 16 * 1024;
      }, 2);
      await closed;
      clearInterval(pump);
      assert.match(response, /^HTTP\/1\.1 413 /);
      assert.match(response, /"RPC_REQUEST_TOO_LARGE"/);
      return sent;
    };
    const sent = await stream(false);
    assert.ok(sent < 1_000_000, `connection closed after ${sent} bytes`);
    // One that ignores the server's end and keeps sending is cut after a bounded amount.
    const started = Date.now();
    const ignored = await stream(true);
    assert.ok(ignored < 12_000_000 && Date.now() - started < 4_000, `connection cut after ${ignored} bytes`);
    assert.equal(calls, ['echo']);
    assert.ok(logs.some((e) => e.type === 'rejected' && e.code === 'RPC_REQUEST_TOO_LARGE'));
  });
});

test('HTTP verbs, paths and content types: 405, 404, 415, GET /health', async () => {
  await withServer({}, async ({ url }) => {
    const health = await post(`${url}health`, '', {}, 'GET');
    assert.is(health.status, 200);
    assert.equal(health.json, { ok: true });
    const get = await post(url, '', {}, 'GET');
    assert.is(get.status, 405);
    assert.is(get.headers.get('allow'), 'POST');
    assert.is(get.json.error.data.code, 'RPC_HTTP_METHOD_NOT_ALLOWED');
    assert.is((await post(url, rpc('echo'), { 'content-type': 'application/json' }, 'PUT')).status, 405);
    const postHealth = await post(`${url}health`, rpc('echo'));
    assert.equal([postHealth.status, postHealth.headers.get('allow')], [405, 'GET']);
    assert.match(postHealth.json.error.message, /on \/health: GET it/);
    const missing = await post(`${url}other`, rpc('echo'));
    assert.is(missing.status, 404);
    assert.is(missing.json.error.data.code, 'RPC_NOT_FOUND');
    assert.is((await post(`${url}other`, '', {}, 'GET')).status, 404, 'an unknown path is 404 whatever the verb');
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', '']) {
      const res = await post(url, rpc('echo'), type ? { 'content-type': type } : {});
      assert.is(res.status, 415, type);
      assert.is(res.json.error.data.code, 'RPC_UNSUPPORTED_MEDIA_TYPE');
    }
    assert.is((await post(url, rpc('echo', [1]), { 'content-type': 'application/json; charset=utf-8' })).status, 200);
  });
});

test('rate limit per remote address: typed error instead of work, 429 with Retry-After, refills with time', async () => {
  let now = 0;
  await withServer({ rateLimit: { perSecond: 1, burst: 3 }, now: () => now }, async ({ url, client, calls }) => {
    for (let i = 0; i < 3; i++) await client.call('echo', [i]);
    const limited = await post(url, rpc('echo', [3]));
    assert.is(limited.status, 429);
    assert.is(limited.headers.get('retry-after'), '1');
    assert.equal(limited.json.error, { code: -32005, message: 'rate limit exceeded', data: { code: 'RPC_RATE_LIMITED' } });
    assert.is(calls.length, 3, 'the limited request did no work');
    now += 2_000;
    // Two tokens for a batch of three: each entry costs one, the third is refused; some work was done, so 200.
    const batch = await post(url, `[${rpc('echo', [4], 4)},${rpc('echo', [5], 5)},${rpc('echo', [6], 6)}]`);
    assert.is(batch.status, 200);
    assert.equal(batch.json.map((r: { result?: unknown; error?: { data: { code: string } } }) => r.result ?? r.error!.data.code),
      [[4], [5], 'RPC_RATE_LIMITED']);
    try {
      await client.call('echo');
      assert.unreachable();
    } catch (e) {
      assert.is((e as RpcError).code, 'RPC_RATE_LIMITED');
    }
    assert.is((await post(url, 'not json')).json.error.data.code, 'RPC_RATE_LIMITED', 'garbage costs a token too');
    now += 1_000;
    assert.equal(await client.call('echo', ['again']), ['again']);
  });
});

test('connection cap: connections beyond it get 503 RPC_TOO_MANY_CONNECTIONS, freed slots are reused', async () => {
  await withServer({ maxConnections: 2 }, async ({ url, server, logs }) => {
    const port = Number(new URL(url).port);
    const held = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
    await Promise.all(held.map((s) => new Promise((r) => s.once('connect', r))));
    await until(() => server.stats().connections === 2, 1_000, 'two connections');
    const refused = await post(url, rpc('echo', [1]));
    assert.is(refused.status, 503);
    assert.is(refused.json.error.code, -32006);
    assert.is(refused.json.error.data.code, 'RPC_TOO_MANY_CONNECTIONS');
    assert.ok(logs.some((e) => e.type === 'rejected' && e.code === 'RPC_TOO_MANY_CONNECTIONS'));
    held[0].destroy();
    await until(() => server.stats().connections < 2, 1_000, 'a freed slot');
    assert.is((await post(url, rpc('echo', [2]))).status, 200);
    held[1].destroy();
  });
});

test('browser origins: refused unless allowed; allowed ones get CORS headers and preflight', async () => {
  await withServer({}, async ({ url }) => {
    const res = await post(url, rpc('echo', [1]), { 'content-type': 'application/json', origin: 'https://evil.example' });
    assert.is(res.status, 403);
    assert.is(res.json.error.data.code, 'RPC_FORBIDDEN_ORIGIN');
  });
  await withServer({ allowedOrigins: ['https://app.example'] }, async ({ url }) => {
    const ok = await post(url, rpc('echo', [1]), { 'content-type': 'application/json', origin: 'https://app.example' });
    assert.is(ok.status, 200);
    assert.is(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    const preflight = await post(url, '', { origin: 'https://app.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
    assert.is(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/);
    assert.is((await post(url, rpc('echo'), { 'content-type': 'application/json', origin: 'https://other.example' })).status, 403);
  });
});

test('close: in-flight requests get RPC_SHUTTING_DOWN, idle keep-alive connections do not hold it open', async () => {
  const logs: RpcLogEvent[] = [];
  const server = new RpcServer({ port: 0, closeGraceMs: 5_000, log: (e) => logs.push(e) });
  let sawAbort: unknown;
  server.method('waits', (_p, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject((sawAbort = ctx.signal.reason)))));
  server.method('stuck', () => new Promise(() => {}));
  server.method('echo', (p) => p);
  const { url } = await server.listen();
  const client = new RpcClient(url);
  await client.call('echo', [1]); // leaves an idle keep-alive connection
  const idle = net.connect(Number(new URL(url).port), '127.0.0.1'); // and an idle raw one
  await new Promise((r) => idle.once('connect', r));
  const inflight = [client.call('waits').catch((e) => e), client.call('stuck').catch((e) => e)];
  await until(() => server.stats().inFlight === 2, 1_000, 'two requests in flight');
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 1_000, `close took ${Date.now() - started} ms`);
  for (const e of await Promise.all(inflight)) assert.is((e as RpcError).code, 'RPC_SHUTTING_DOWN');
  assert.is((sawAbort as RpcError).code, 'RPC_SHUTTING_DOWN');
  idle.destroy();
  try {
    await client.call('echo');
    assert.unreachable();
  } catch (e) {
    assert.is((e as RpcError).code, 'RPC_TRANSPORT_ERROR');
    // Where and why, not fetch's bare "fetch failed"; credentials in the URL are not repeated.
    assert.match((e as RpcError).message, /^request to http:\/\/127\.0\.0\.1:\d+\/ failed: ECONNREFUSED$/);
  }
  const withSecret = await new RpcClient(url.replace('http://', 'http://user:secret@')).call('echo').catch((e: RpcError) => e);
  assert.is((withSecret as RpcError).code, 'RPC_TRANSPORT_ERROR');
  assert.not.match((withSecret as RpcError).message, /secret/);
});

test('close: a request whose body never finishes is cut after closeGraceMs', async () => {
  const server = new RpcServer({ port: 0, closeGraceMs: 100 });
  server.method('echo', (p) => p);
  const { url } = await server.listen();
  const port = Number(new URL(url).port);
  const half = net.connect(port, '127.0.0.1');
  half.on('error', () => {});
  await new Promise((r) => half.once('connect', r));
  half.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jso'); // never finishes
  await sleep(20);
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 1_000);
  half.destroy();
});

test('client: timeouts and unreachable servers surface as typed errors', async () => {
  await withServer({}, async ({ url }) => {
    try {
      await new RpcClient(url, { timeoutMs: 50 }).call('stuck');
      assert.unreachable();
    } catch (e) {
      assert.is((e as RpcError).code, 'RPC_TIMEOUT');
    }
  });
  const gone = net.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const port = (gone.address() as net.AddressInfo).port;
  await new Promise((r) => gone.close(r));
  try {
    await new RpcClient(`http://127.0.0.1:${port}/`).call('echo');
    assert.unreachable();
  } catch (e) {
    assert.is((e as RpcError).code, 'RPC_TRANSPORT_ERROR');
    assert.is((e as RpcError).data?.cause, 'ECONNREFUSED');
  }
});

test('RpcError: rpcCode from the code table, chain codes default to -32000, wire round trip', () => {
  assert.is(new RpcError('RPC_INVALID_PARAMS', 'x').rpcCode, -32602);
  assert.is(new RpcError('TX_EXPIRED', 'x').rpcCode, -32000);
  assert.is(new RpcError('TX_EXPIRED', 'x', { rpcCode: -32010 }).rpcCode, -32010);
  const back = RpcError.fromWire(new RpcError('STATE_NOT_FOUND', 'no such key', { data: { key: 'ab' } }).toJSON());
  assert.equal([back.code, back.rpcCode, back.message, back.data], ['STATE_NOT_FOUND', -32000, 'no such key', { key: 'ab' }]);
  assert.is(RpcError.fromWire({ code: -32601, message: 'Method not found' }).code, 'RPC_METHOD_NOT_FOUND', 'servers without data.code');
});

test('routes: plain HTTP under a prefix beside JSON-RPC; public ones need no API key, others do; typed errors get statuses', async () => {
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  await withServer({ apiKeys: [{ name: 'p', keyHash: sha('k'), rateLimit: { perSecond: 100, burst: 100 } }] }, async ({ server, url }) => {
    server.route('/site', ['GET'], (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('page'); }, { public: true });
    server.route('/files', ['GET', 'PUT'], (req) => { throw new ChainError('FILE_NOT_FOUND', `no ${req.url}`); });
    const page = await fetch(new URL('/site/index.html', url));
    assert.equal([page.status, await page.text()], [200, 'page']);
    assert.is((await fetch(new URL('/files/x', url))).status, 401);
    const missing = await fetch(new URL('/files/x', url), { headers: { 'x-api-key': 'k' } });
    assert.equal([missing.status, ((await missing.json()) as { error: { data: { code: string } } }).error.data.code], [404, 'FILE_NOT_FOUND']);
    assert.is((await fetch(new URL('/sitemap', url))).status, 401); // a prefix matches whole path segments only
    assert.is((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k' }, body: '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}' })).status, 200);
  });
});

test('routes: a public route is rate limited per address even when the server has API keys', async () => {
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  await withServer({ rateLimit: { perSecond: 0.001, burst: 2 }, apiKeys: [{ name: 'p', keyHash: sha('k'), rateLimit: { perSecond: 100, burst: 100 } }] }, async ({ server, url }) => {
    server.route('/site', ['GET'], (_req, res) => { res.writeHead(200).end('page'); }, { public: true });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(new URL('/site', url))).status);
    assert.equal(statuses, [200, 200, 429]);
  });
});

test.run();
