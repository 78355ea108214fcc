/**
 * The SDK example against an in-process chain: its logic as a library call, and the script itself as
 * a partner would run it (a separate process, over RPC), creating its partner key on the first run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { startTestChain } from '../tooling/nodes/in-process.ts';
import { BropClient, TxFailedError, Wallet, toHex } from 'brop/sdk';
import { walletOf } from 'brop/sdk/node';
import { registerEvidence } from './sdk-register-evidence.ts';
import { NodeSource } from '../middleware/indexer/source.ts';
import { openIndexStore, startMiddleware } from '../middleware/service.ts';

const chain = await startTestChain({ blockTimeMs: 100 });
const dir = mkdtempSync(join(tmpdir(), 'brop-sdk-example-'));
// The middleware beside the node, as `npm start` runs it.
const mw = await startMiddleware({ source: new NodeSource(chain.node), store: await openIndexStore({ dir: join(dir, 'index') }), rpc: { port: 0, rateLimit: false } });
const client = new BropClient({ url: chain.url, indexUrl: mw.url });
const operator = walletOf(chain.operator);

test('registerEvidence: the partner is set up, the digest registered and committed, and read back by view, verify and proof', async () => {
  const partner = Wallet.fromPrivateKey(randomBytes(32));
  const document = new TextEncoder().encode('invoice 2024-001, total 1,000.00');
  const steps: string[] = [];
  const r = await registerEvidence({ client, operator, partner, key: 'invoice/2024-001', document, meta: '{"kind":"invoice"}', log: (l) => steps.push(String(l.step)) });
  assert.equal(steps, ['partner admitted', 'partner key registered', 'registered', 'read back']);
  const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', document)));
  assert.is(r.digest, digest);
  assert.is(r.receipt.receipt.status, 'ok');
  assert.equal(r.receipt.receipt.events.map((e) => e.topics[0]), ['registered']);
  assert.is(toHex(r.record.digest), digest);
  assert.is(toHex(r.record.registrant), partner.addressHex);
  assert.is(r.record.height, BigInt(r.receipt.height));
  assert.is(r.verified, true);
  assert.equal(r.proven, r.record);
  assert.equal(r.event, r.record);
  assert.equal(r.indexed && { key: r.indexed.key, digest: r.indexed.digest }, { key: 'invoice/2024-001', digest });
  assert.ok(r.proofHeight >= r.receipt.height);
  // A second registration under the same key is committed as a failure with the contract's code; the
  // partner, already set up, is not set up again.
  const again = await registerEvidence({ client, operator, partner, key: 'invoice/2024-001', document, log: (l) => steps.push(String(l.step)) }).catch((e) => e);
  assert.instance(again, TxFailedError);
  assert.is((again as TxFailedError).revertCode, 'KEY_TAKEN');
  assert.is(steps.length, 4);
});

test('the example script runs against a node over RPC and creates its partner key on the first run', async () => {
  const partnerKey = join(dir, 'partner.json');
  const script = fileURLToPath(new URL('./sdk-register-evidence.ts', import.meta.url));
  const run = () => new Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, '--rpc', chain.url, '--index', mw.url, '--operator-key', chain.operatorKeyFile, '--partner-key', partnerKey], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', stderr = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('exit', (code) => resolve({ code, stderr, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
  });
  const first = await run();
  assert.is(first.code, 0, first.stderr);
  assert.ok(existsSync(partnerKey));
  assert.equal(first.lines.map((l) => l.step ?? 'done'), ['partner admitted', 'partner key registered', 'registered', 'read back', 'done']);
  assert.is(first.lines.at(-1)!.ok, true);
  const second = await run();
  assert.is(second.code, 0, second.stderr);
  assert.equal(second.lines.map((l) => l.step ?? 'done'), ['registered', 'read back', 'done']);
});

test.after(async () => {
  await client.close();
  await mw.stop();
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
