/**
 * EventStream's life cycle against a bare RPC server: what a refusal does, and that closing it leaves
 * no socket or pause behind, whenever it comes (while connecting, while waiting to reconnect).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { RpcServer } from '../../node/rpc/server.ts';
import { EventStream } from './client.ts';

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('closed while connecting: the socket it was opening is closed too', async () => {
  const server = new RpcServer({ port: 0 });
  const { wsUrl } = await server.listen();
  try {
    const s = new EventStream(wsUrl, () => undefined, { after: '0.0.0' });
    await s.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.is(server.stats().websockets, 0);
    await s.ready; // settled: closed before it was subscribed
  } finally {
    await server.close();
  }
});

test('a refusal stops the stream: ready rejects with it, onState says ended, no socket stays open', async () => {
  const server = new RpcServer({ port: 0 }); // no 'stream' topic: the subscription is refused
  const { wsUrl } = await server.listen();
  try {
    const states: Array<{ connected: boolean; ended?: boolean }> = [];
    const s = new EventStream(wsUrl, () => undefined, { after: '0.0.0', backoffMs: 10, onState: (st) => states.push(st) });
    assert.is(await s.ready.then(() => 'subscribed', (e: { code?: string }) => e.code), 'RPC_UNKNOWN_TOPIC');
    assert.equal(states.map((st) => [st.connected, st.ended]), [[false, true]]);
    await until('the socket to close', () => server.stats().websockets === 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(server.stats().websockets, 0); // and no reconnection
    await s.close();
  } finally {
    await server.close();
  }
});

test('closed while waiting to reconnect: close() does not wait out the back-off', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r)); // nothing listens there now: every attempt fails at once
  let failures = 0;
  const s = new EventStream(`ws://127.0.0.1:${port}/ws`, () => undefined, { after: '0.0.0', backoffMs: 60_000, onState: () => failures++ });
  await until('the first failure', () => failures > 0);
  const t = Date.now();
  await s.close();
  assert.ok(Date.now() - t < 5000, `close() took ${Date.now() - t} ms`);
});

test.run();
