/**
 * `npm run bench -- chain`: one validator process, transactions over RPC. The validator runs as deployed,
 * without the middleware beside it (that runs beside a full node; its own costs: `bench -- middleware`).
 *
 * chain.tps_1v: evidence registrations per second committed when concurrent clients submit as fast as
 * the node accepts them (JSON-RPC batches over several connections), after a warm-up, against V, this
 * machine's Ed25519 verifications per second over all cores measured in the same run (before and
 * after, the higher taken): R = T / V. V is node:crypto's (OpenSSL's) rate, as the issue defines it; the
 * line also gives the rate of the node's own single check (`verify_per_s_node_single`, libtorsion where
 * built) and T against it (`ratio_vs_node_single`), since the node checks signatures in batches.
 * chain.finality_ms: submit-to-final latency (tx_send until the node reports the transaction
 * committed on its `txs` subscription) at the default block time, for transactions sent one by one.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Agent, request as httpRequest } from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { accountAddress, PERM } from '../../contracts/system/index.ts';
import { initHome } from '../../node/home.ts';
import { newKeyPair, readKeyFile, type KeyPair } from '../../node/keys/key-file.ts';
import { DEFAULT_CHAIN_PARAMS } from '../../node/chain/params.ts';
import { RpcClient, RpcWsClient } from '../../node/rpc/client.ts';
import { startNode, TxFactory, type NodeProcess } from '../nodes/processes.ts';
import { cofactoredBackend } from '../../node/crypto/ed25519-cofactored.ts';

const SENDERS = 8;
const CONNECTIONS = 32;
const BATCH = 100;
const TXS = 24_000;
/**
 * Transactions sent and committed before the timed run: a validator runs for months, and the first
 * seconds of a process (the JIT compiling its hot paths, caches filling) are not what it sustains.
 */
export const WARMUP_TXS = 12_000;

/**
 * Ed25519 verifications per second over all cores: one worker per core, each verifying one signature
 * over and over for 1.5 s. 'openssl' is V as the issue defines it (node:crypto, the machine's stock
 * verifier); 'node-single' is the node's own transaction-signature check one at a time (the cofactored
 * rule through libtorsion where built), the yardstick a node that merely checked each signature in turn
 * would meet: a ratio above 1 against it is what batching the checks earns.
 */
export async function verifyRate(kind: 'openssl' | 'node-single' = 'openssl'): Promise<number> {
  const check = kind === 'openssl'
    ? `const verify = () => c.verify(null, msg, publicKey, sig);`
    : `const { verifyEd25519Cofactored } = await import(${JSON.stringify(new URL('../../node/crypto/ed25519-cofactored.ts', import.meta.url).href)});
       const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32), sigBytes = new Uint8Array(sig);
       const verify = () => verifyEd25519Cofactored(pub, msg, sigBytes);`;
  const code = `
    const { parentPort } = require('node:worker_threads');
    const c = require('node:crypto');
    (async () => {
      const { publicKey, privateKey } = c.generateKeyPairSync('ed25519');
      const msg = c.randomBytes(200); const sig = c.sign(null, msg, privateKey);
      ${check}
      if (!verify()) throw new Error('the signature under test does not verify');
      let n = 0; const end = Date.now() + 1500;
      while (Date.now() < end) { for (let i = 0; i < 100; i++) verify(); n += 100; }
      parentPort.postMessage(n / 1.5);
    })().catch((e) => setImmediate(() => { throw e; }));`;
  const n = availableParallelism();
  const rates = await Promise.all(Array.from({ length: n }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  return rates.reduce((a, b) => a + b, 0);
}

async function waitCommitted(client: RpcClient, hashes: string[]): Promise<void> {
  for (const h of hashes) {
    for (;;) {
      const r = await client.call<{ status: string; receipt?: { status: string; error: string } }>('tx_get', { hash: h });
      if (r.status === 'committed') {
        if (r.receipt!.status !== 'ok') throw new Error(`set-up transaction failed: ${r.receipt!.error}`);
        break;
      }
      if (r.status === 'expired') throw new Error('set-up transaction expired');
      await new Promise((w) => setTimeout(w, 50));
    }
  }
}

/** CPU seconds (user + system) a process has used so far, exited threads included, from /proc (Linux); undefined elsewhere. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) a process's live threads have used so far, summed by thread name, from
 * /proc (Linux); undefined elsewhere. Node names its worker threads (the node's signature checks)
 * "WorkerThread", V8's GC and compiler helpers "V8Worker", libuv's pool (LevelDB writes) "libuv-worker".
 */
export function threadCpuSeconds(pid: number): Map<string, number> | undefined {
  try {
    const byName = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    }
    return byName;
  } catch {
    return undefined; // not Linux, or the process is gone
  }
}

/** What the processes' threads spent between two readings (`before`: threadCpuSeconds of each pid), by thread name. */
export function threadCpuSince(pids: number[], before: Array<Map<string, number> | undefined>): Map<string, number> {
  const spent = new Map<string, number>();
  pids.forEach((pid, i) => {
    const now = threadCpuSeconds(pid);
    for (const [name, s] of now ?? []) spent.set(name, (spent.get(name) ?? 0) + s - (before[i]?.get(name) ?? 0));
  });
  return spent;
}

/** CPU seconds by thread (threadCpuSince) as µs per transaction, threads that spent nothing left out. */
export function perTxByThread(spent: Map<string, number>, txs: number): Record<string, number> {
  return Object.fromEntries([...spent].filter(([, s]) => s > 0).map(([name, s]) => [name, Math.round((s * 1e6) / txs)]));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Admits `count` partners (operator transactions) and has each register its identity account. */
export async function setUpPartners(rpc: string, operator: KeyPair, count: number): Promise<KeyPair[]> {
  const client = new RpcClient(rpc);
  const factory = new TxFactory(client);
  const partners = Array.from({ length: count }, () => newKeyPair());
  const admits = [];
  for (const [i, p] of partners.entries()) {
    admits.push((await client.call<{ hash: string }>('tx_send', { tx: await factory.tx(operator, 'admission', 'admitPartner', [accountAddress(p.publicKey), `bench-${i}`, PERM.all, randomBytes(32)]) })).hash);
  }
  await waitCommitted(client, admits);
  const regs = [];
  for (const p of partners) regs.push((await client.call<{ hash: string }>('tx_send', { tx: await factory.tx(p, 'identity', 'register', [p.publicKey, null]) })).hash);
  await waitCommitted(client, regs);
  return partners;
}

/**
 * One check's CPU as V implies it (all cores over V), as the node's single-check rate implies it, and
 * as the nodes' signature workers spent it in the run (their CPU per transaction over the checks per
 * transaction; the workers check in batches). `v_vs_run` is what batching and libtorsion earn over
 * OpenSSL's single check, `node_single_vs_run` what batching alone earns; both also move with the
 * shared host's load between the measurements and the run.
 */
export function verifyTiming(t: Throughput, verifyPerS: number, singlePerS: number, checksPerTx: number): Record<string, number> {
  const atV = (availableParallelism() * 1e6) / verifyPerS;
  const atSingle = (availableParallelism() * 1e6) / singlePerS;
  const inRun = (t.threadCpuUsPerTx.WorkerThread ?? NaN) / checksPerTx;
  return {
    verify_cpu_us_at_v: Math.round(atV), verify_cpu_us_at_node_single: Math.round(atSingle), verify_cpu_us_in_run: Math.round(inRun),
    v_vs_run: Number((atV / inRun).toFixed(2)), node_single_vs_run: Number((atSingle / inRun).toFixed(2)),
  };
}

/** What a throughput run measured. */
export interface Throughput {
  tps: number; failed: number; busy: number; submitS: number; totalS: number; nodeCpuUsPerTx: number; clientCpuUsPerTx: number;
  /** The nodes' CPU per transaction by thread name (see threadCpuSeconds). */
  threadCpuUsPerTx: Record<string, number>;
  /**
   * The nodes' CPU outside the signature workers divided by the signature workers' CPU: both slow down
   * alike when the shared host is busy, so this compares code versions where tps and V swing.
   */
  otherPerSignatureCpu: number;
}

/** A request: its `tx_send` entries and their JSON-RPC batch, encoded. */
export interface TxSendBatch { entries: Array<{ id: number; body: string }>; body: Buffer }

function batchBody(entries: Array<{ body: string }>): Buffer {
  return Buffer.from(`[${entries.map((t) => t.body).join(',')}]`);
}

/** `tx_send` entries, a batch of BATCH per request body. */
export function txSendBatches(txs: string[]): TxSendBatch[] {
  const batches: TxSendBatch[] = [];
  for (let i = 0; i < txs.length; i += BATCH) {
    const entries = txs.slice(i, i + BATCH).map((tx, j) => ({ id: i + j, body: `{"jsonrpc":"2.0","id":${i + j},"method":"tx_send","params":{"tx":"${tx}"}}` }));
    batches.push({ entries, body: batchBody(entries) });
  }
  return batches;
}

/** One POST over a kept-alive connection; the reply's body as text. */
function post(agent: Agent, url: URL, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends the batches over CONNECTIONS connections (spread over `rpcs`) as fast as the servers take
 * them. BUSY is back-pressure, NODE_BEHIND a node catching up: those entries go again after a pause;
 * any other error fails the run. Returns how many entries were sent again.
 *
 * The clients share the machine's two cores with the node, so they are kept lean: bodies are built
 * before timing (`txSendBatches`), node:http rather than fetch, and a reply is parsed only when it
 * holds an error (what counts as committed is counted from the blocks, not from these replies).
 */
export async function sendBatches(rpcs: string[], batches: TxSendBatch[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let next = 0, busy = 0;
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
      const url = new URL(rpcs[c % rpcs.length]!);
      while (next < batches.length) {
        let { entries: todo, body } = batches[next++]!;
        for (;;) {
          const text = await post(agent, url, body);
          if (!text.includes('"error"')) break;
          const results = JSON.parse(text) as Array<{ id: number; error?: { data?: { code?: string }; message: string } }>;
          const byId = new Map(results.map((r) => [r.id, r]));
          const retry = todo.filter(({ id }) => {
            const r = byId.get(id)!;
            if (r.error && r.error.data?.code !== 'BUSY' && r.error.data?.code !== 'NODE_BEHIND') throw new Error(`tx_send failed: ${r.error.data?.code} ${r.error.message}`);
            return r.error !== undefined;
          });
          busy += retry.length;
          if (retry.length === 0) break;
          todo = retry;
          body = batchBody(todo);
          await new Promise((w) => setTimeout(w, 50));
        }
      }
    }));
  } finally {
    agent.destroy();
  }
  return busy;
}

/**
 * Pre-signs `count` evidence registrations from `partners`, sends them as fast as the nodes take them
 * (JSON-RPC batches over CONNECTIONS connections, spread over `rpcs`), and measures until all are
 * committed (counted per block on `watch`'s `blocks` subscription). `nodes` are the processes whose
 * CPU is reported per transaction.
 */
export async function measureThroughput(rpcs: string[], watch: string, partners: KeyPair[], count: number, nodes: NodeProcess[]): Promise<Throughput> {
  const client = new RpcClient(watch, { timeoutMs: 120_000 });
  const factory = new TxFactory(client);
  await factory.refresh();
  const digest = createHash('sha256').update('bench document').digest();
  // Signed before timing: the clients' signing is not the nodes' work.
  const txs: string[] = [];
  for (let i = 0; i < count; i++) txs.push(await factory.tx(partners[i % partners.length]!, 'evidence', 'register', [`bench/${i}/${Date.now()}`, digest, '{"kind":"invoice"}', null, null], 900));
  const ws = await RpcWsClient.connect(watch.replace(/^http/, 'ws').replace(/\/?$/, '/ws'));
  // Commits are counted per block (the node reports each block's transaction count); receipts are
  // checked afterwards, so that the clients spend no CPU on per-transaction notifications.
  let included = 0, lastCommit = 0;
  const startHeight = (await client.call<{ height: number }>('chain_status')).height;
  await ws.subscribe<{ txCount: number }>('blocks', undefined, (b) => {
    included += b.txCount;
    if (b.txCount > 0) lastCommit = performance.now();
  });
  // Request bodies are built before timing too: a batch of BATCH tx_send calls per request.
  const bodies = txSendBatches(txs);
  const start = performance.now();
  const cpu0 = nodes.map((n) => processCpuSeconds(n.child.pid!) ?? NaN), threads0 = nodes.map((n) => threadCpuSeconds(n.child.pid!));
  const clientCpu0 = process.cpuUsage();
  const busy = await sendBatches(rpcs, bodies);
  const submitted = performance.now();
  while (included < count) {
    if (performance.now() - Math.max(lastCommit, submitted) > 30_000) throw new Error(`stalled at ${included} of ${count}`);
    await new Promise((w) => setTimeout(w, 20));
  }
  const seconds = (lastCommit - start) / 1000;
  // Where the machine's CPU went, per transaction: the nodes (all their threads) and the clients.
  const nodeCpu = nodes.reduce((sum, n, i) => sum + (processCpuSeconds(n.child.pid!) ?? NaN) - cpu0[i]!, 0);
  const threads = threadCpuSince(nodes.map((n) => n.child.pid!), threads0);
  const clientCpu = process.cpuUsage(clientCpu0);
  await ws.close();
  // Every transaction must have succeeded: count failed receipts in the blocks of the run.
  let failed = 0;
  const head = (await client.call<{ height: number }>('chain_status')).height;
  for (let h = startHeight + 1; h <= head; h++) {
    const b = await client.call<{ receipts: Array<{ status: string }> }>('chain_block', { height: h, full: true });
    failed += b.receipts.filter((r) => r.status !== 'ok').length;
  }
  return {
    tps: count / seconds, failed, busy, submitS: (submitted - start) / 1000, totalS: seconds,
    nodeCpuUsPerTx: Math.round((nodeCpu * 1e6) / count), clientCpuUsPerTx: Math.round((clientCpu.user + clientCpu.system) / count),
    threadCpuUsPerTx: perTxByThread(threads, count),
    otherPerSignatureCpu: Number(([...threads].reduce((a, [name, s]) => a + (name === 'WorkerThread' ? 0 : s), 0) / (threads.get('WorkerThread') ?? NaN)).toFixed(3)),
  };
}

/** Transactions one at a time, each timed from tx_send until `watch` reports it committed. */
export async function measureFinality(send: string, watch: string, partner: KeyPair, samples: number): Promise<{ p50: number; p99: number; samples: number }> {
  const client = new RpcClient(send);
  const factory = new TxFactory(client);
  const ws = await RpcWsClient.connect(watch.replace(/^http/, 'ws').replace(/\/?$/, '/ws'));
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  await ws.subscribe<{ hash: string }>('txs', undefined, (t) => {
    const s = sentAt.get(t.hash);
    if (s !== undefined) latencies.push(performance.now() - s);
  });
  const digest = createHash('sha256').update('bench document').digest();
  for (let i = 0; i < samples; i++) {
    await factory.refresh();
    const tx = await factory.tx(partner, 'evidence', 'register', [`final/${i}/${Date.now()}`, digest, '{}', null, null]);
    const t = performance.now();
    const { hash } = await client.call<{ hash: string }>('tx_send', { tx });
    sentAt.set(hash, t);
    await new Promise((w) => setTimeout(w, 150 + Math.random() * 200));
  }
  const deadline = Date.now() + 15_000;
  while (latencies.length < samples && Date.now() < deadline) await new Promise((w) => setTimeout(w, 100));
  await ws.close();
  const sorted = latencies.sort((a, b) => a - b);
  return { p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)), samples: sorted.length };
}

const big = 10n ** 15n;
/** Quota large enough that the benchmark measures the chain, not the allowances. */
export const BENCH_QUOTA = { base: 100, perByte: 1, perKiloGas: 1, periodBlocks: 1200, operatorAllowance: big, partnerAllowance: big, regulatorAllowance: big, userAllowance: big };

export async function run(): Promise<void> {
  // V is measured before and after the run and the higher taken: a rate measured while something else
  // held a core would flatter the ratio.
  const verifyBefore = await verifyRate();
  const singleBefore = await verifyRate('node-single');
  // Throughput: a short block time keeps the pipeline full; the figure is committed transactions per second.
  {
    const dir = mkdtempSync(join(tmpdir(), 'brop-bench-chain-'));
    try {
      // The clients are all on loopback: the per-address rate limit would measure itself, not the node.
      const init = await initHome(dir, { chainId: 'brop-bench', params: { blockTimeMs: 250, validityWindow: 1000 }, quotaSchedule: BENCH_QUOTA, rpc: { rateLimit: false }, middleware: false });
      const node = await startNode(dir);
      try {
        const partners = await setUpPartners(node.rpc, readKeyFile(init.operatorKey), SENDERS);
        await measureThroughput([node.rpc], node.rpc, partners, WARMUP_TXS, [node]);
        const t = await measureThroughput([node.rpc], node.rpc, partners, TXS, [node]);
        const verifyAfter = await verifyRate();
        const verifyPerS = Math.max(verifyBefore, verifyAfter);
        const singlePerS = Math.max(singleBefore, await verifyRate('node-single'));
        console.log(JSON.stringify({
          bench: 'chain.tps_1v', tps: Math.round(t.tps), verify_per_s: Math.round(verifyPerS), verify_samples: [Math.round(verifyBefore), Math.round(verifyAfter)], ratio: Number((t.tps / verifyPerS).toFixed(3)), goal_ratio: 0.6,
          signature_backend: cofactoredBackend, verify_per_s_node_single: Math.round(singlePerS), ratio_vs_node_single: Number((t.tps / singlePerS).toFixed(3)),
          txs: TXS, warmup_txs: WARMUP_TXS, failed: t.failed, busy_retries: t.busy, node_cpu_us_per_tx: t.nodeCpuUsPerTx, client_cpu_us_per_tx: t.clientCpuUsPerTx,
          node_cpu_us_per_tx_by_thread: t.threadCpuUsPerTx, other_per_signature_cpu: t.otherPerSignatureCpu, ...verifyTiming(t, verifyPerS, singlePerS, 1),
          submit_s: Number(t.submitS.toFixed(2)), total_s: Number(t.totalS.toFixed(2)), senders: SENDERS, connections: CONNECTIONS, batch: BATCH,
        }));
      } finally {
        node.child.kill('SIGTERM');
        await node.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // Finality at the default block time.
  {
    const dir = mkdtempSync(join(tmpdir(), 'brop-bench-final-'));
    try {
      const init = await initHome(dir, { chainId: 'brop-bench-final', quotaSchedule: BENCH_QUOTA, middleware: false });
      const node = await startNode(dir);
      try {
        const [partner] = await setUpPartners(node.rpc, readKeyFile(init.operatorKey), 1);
        const f = await measureFinality(node.rpc, node.rpc, partner!, 40);
        console.log(JSON.stringify({ bench: 'chain.finality_ms', ...f, block_time_ms: DEFAULT_CHAIN_PARAMS.blockTimeMs }));
      } finally {
        node.child.kill('SIGTERM');
        await node.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
