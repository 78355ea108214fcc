/**
 * `npm run bench -- middleware`:
 * - middleware.query: the index filled with RECORDS evidence records (default one million) through the
 *   real projection and store, then business-key queries (`evidence_get` for random keys) over the
 *   query API on loopback HTTP, one at a time; p50/p99 in ms (goal p99 <= 5). Also a digest query and a
 *   registrant page, as more figures.
 * - middleware.event_latency: a node committing blocks of transactions in this process, the middleware
 *   indexing them, a WebSocket subscriber to the event stream: from the node's commit to the subscriber
 *   receiving the block's item; p50/p99 in ms (goal p99 <= 100).
 * Environment: RECORDS, STORE=level|postgres (postgres starts a throwaway server), BLOCKS (latency run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { LevelIndexStore } from '../../middleware/indexer/level-store.ts';
import { prepareBatch } from '../../middleware/indexer/indexer.ts';
import type { BlockSource } from '../../middleware/indexer/source.ts';
import { NodeSource } from '../../middleware/indexer/source.ts';
import type { ChainBlock, IndexStore } from '../../middleware/indexer/types.ts';
import { openIndexStore, startMiddleware, type IndexStoreSpec } from '../../middleware/service.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../nodes/processes.ts';
import { submitCall, type Call } from '../nodes/in-process.ts';
import { EventStream } from '../../middleware/events/client.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { ChainNode } from '../../node/node.ts';
import { SoloConsensus } from '../../node/consensus/solo.ts';
import { initHome, loadHome } from '../../node/home.ts';
import { keyPairSigner } from '../../node/keys/signer.ts';
import { newKeyPair, readKeyFile } from '../../node/keys/key-file.ts';
import { accountAddress, PERM } from '../../contracts/system/index.ts';

const envInt = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;
const digestOf = (i: number) => hex(createHash('sha256').update(`doc-${i}`).digest());

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const ms = (x: number) => Math.round(x * 1000) / 1000;

/** A block of `n` evidence registrations, as a source would give it (events already decoded). */
function evidenceBlock(height: number, first: number, n: number, registrants: string[]): ChainBlock {
  const time = 1_700_000_000_000 + height * 1000;
  return {
    height, hash: hex(createHash('sha256').update(`block-${height}`).digest()), time, proposer: registrants[0]!,
    txs: Array.from({ length: n }, (_, j) => {
      const i = first + j, registrant = registrants[i % registrants.length]!, key = `contract-${i}`;
      return {
        hash: hex(createHash('sha256').update(`tx-${i}`).digest()), sender: registrant, contract: 'evidence', method: 'register', ok: true, error: null, gasUsed: 30_000,
        events: [{ contract: 'evidence', name: 'registered', topics: [key, registrant.slice(2)], data: {
          key, digest: digestOf(i), registrant, meta: `{"customer":"c-${i % 5000}","amount":${i % 997}}`, timestampToken: null, custody: null,
          height: String(height), time: String(time), chain: null, index: '0', prev: null,
        } }],
      };
    }),
  };
}

/** A source over blocks made here (the index is filled before the service starts; it only serves). */
class FixedSource implements BlockSource {
  private readonly top: number;
  constructor(top: number) { this.top = top; }
  async head() { return this.top; }
  async block(): Promise<ChainBlock> { throw new Error('not used: the index is complete'); }
  watch() {}
  async close() {}
}

async function openStore(dir: string): Promise<{ store: IndexStore; spec: IndexStoreSpec; stop: () => Promise<void> }> {
  if (process.env.STORE !== 'postgres') return { store: await LevelIndexStore.open(join(dir, 'index')), spec: { dir: join(dir, 'index') }, stop: async () => undefined };
  const { startPostgres } = await import('../test/postgres.ts');
  const pg = await startPostgres();
  const { PgIndexStore } = await import('../../middleware/indexer/pg-store.ts');
  return { store: await PgIndexStore.open(pg.url), spec: { postgres: pg.url }, stop: async () => pg.stop() };
}

/**
 * The middleware serving the filled index from a process of its own, as it runs in production (not
 * the process that just wrote a million records, whose heap is full of their garbage).
 */
function serveInChild(spec: IndexStoreSpec, height: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_MW_SERVE: JSON.stringify({ spec, height }) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the middleware process exited (${code})`)));
    onJsonLines(child.stdout!, (j) => {
      if (typeof j.url === 'string') resolve({ url: j.url, stop: async () => { child.kill('SIGTERM'); await exited; } });
    });
  });
}

if (process.env.BENCH_MW_SERVE) {
  const { spec, height } = JSON.parse(process.env.BENCH_MW_SERVE) as { spec: IndexStoreSpec; height: number };
  const mw = await startMiddleware({ source: new FixedSource(height), store: await openIndexStore(spec), rpc: { port: 0, rateLimit: false } });
  process.stdout.write(`${JSON.stringify({ url: mw.url })}\n`);
  process.once('SIGTERM', () => void mw.stop().then(() => process.exit(0)));
}

async function queryBench(dir: string): Promise<void> {
  const records = envInt('RECORDS', 1_000_000);
  const perBlock = 2000;
  const registrants = Array.from({ length: 50 }, () => hex(randomBytes(32)));
  const { store, spec, stop } = await openStore(dir);
  const fillStart = performance.now();
  let height = 0;
  for (let first = 0; first < records; first += perBlock, height++) {
    await store.apply(await prepareBatch(store, evidenceBlock(height, first, Math.min(perBlock, records - first), registrants)));
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const time = async (n: number, call: (i: number) => Promise<unknown>): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await call(i);
      out.push(performance.now() - t);
    }
    return out;
  };
  const pick = () => Math.floor(Math.random() * records);
  // The index alone (no HTTP): what the store's lookup costs, under the same load.
  const direct = await time(5000, () => store.evidenceByKey(`contract-${pick()}`));
  if ('dir' in spec) await store.close(); // one process per LevelDB folder
  const mw = await serveInChild(spec, height - 1);
  const client = new RpcClient(mw.url);
  await time(500, () => client.call('evidence_get', { key: `contract-${pick()}` })); // warm up
  const byKey = await time(5000, async () => {
    const i = pick();
    const r = await client.call<{ digest: string }>('evidence_get', { key: `contract-${i}` });
    if (r.digest !== digestOf(i)) throw new Error(`wrong record for contract-${i}`);
  });
  const byDigest = await time(2000, () => client.call('evidence_find', { digest: digestOf(pick()) }));
  const page = await time(1000, () => client.call('evidence_find', { registrant: registrants[pick() % registrants.length], from: 1_700_000_000_000 + (pick() % height) * 1000, limit: 50 }));
  console.log(JSON.stringify({
    bench: 'middleware.query', store: process.env.STORE ?? 'level', records, p50_ms: ms(percentile(byKey, 50)), p99_ms: ms(percentile(byKey, 99)), goal_p99_ms: 5,
    store_p50_ms: ms(percentile(direct, 50)), store_p99_ms: ms(percentile(direct, 99)), digest_p99_ms: ms(percentile(byDigest, 99)), registrant_page50_p99_ms: ms(percentile(page, 99)),
    fill_records_per_s: Math.round(records / fillSeconds),
  }));
  await mw.stop();
  if ('postgres' in spec) await store.close();
  await stop();
}

async function latencyBench(dir: string): Promise<void> {
  const blocks = envInt('BLOCKS', 150);
  const init = await initHome(join(dir, 'home'), { chainId: 'brop-bench-mw' });
  const home = loadHome(join(dir, 'home'));
  const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts });
  const consensus = new SoloConsensus(node, keyPairSigner(home.validatorKey!), { onError: (e) => { throw e; } });
  const operator = readKeyFile(init.operatorKey);
  const partner = newKeyPair();
  const send = async (...call: Call) => { await submitCall(node, call, 20n); };
  await send(operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Bench', PERM.all, randomBytes(32)]);
  await send(partner, 'identity', 'register', [partner.publicKey, null]);
  await send(operator, 'quota', 'setAllowance', [accountAddress(partner.publicKey), 1n << 60n]);
  await consensus.produce();
  const mw = await startMiddleware({ source: new NodeSource(node), store: await LevelIndexStore.open(join(dir, 'index')), rpc: { port: 0 } });
  const committedAt = new Map<number, number>();
  node.on('block', (b) => committedAt.set(Number(b.header.height), performance.now()));
  const latencies: number[] = [];
  let seen = 0;
  const stream = new EventStream(mw.wsUrl, (item) => {
    if (item.kind !== 'block') return;
    const t = committedAt.get(item.height);
    if (t !== undefined) latencies.push(performance.now() - t);
    seen = item.height;
  }, { kinds: ['block'] });
  while (stream.cursor === undefined) await new Promise((r) => setTimeout(r, 10));
  let n = 0;
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 50; i++, n++) await send(partner, 'evidence', 'register', [`lat-${n}`, digestOf(n), '{}', null, null]);
    await consensus.produce();
    await new Promise((r) => setTimeout(r, 20)); // blocks apart, as at a short block time
  }
  const last = Number(node.height);
  while (seen < last) await new Promise((r) => setTimeout(r, 10));
  console.log(JSON.stringify({ bench: 'middleware.event_latency', blocks: latencies.length, txs_per_block: 50, p50_ms: ms(percentile(latencies, 50)), p99_ms: ms(percentile(latencies, 99)), goal_p99_ms: 100 }));
  await stream.close();
  await mw.stop();
  await node.close();
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'brop-bench-mw-'));
  try {
    await queryBench(join(dir, 'q'));
    await latencyBench(join(dir, 'l'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
