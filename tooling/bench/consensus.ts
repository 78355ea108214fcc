/**
 * `npm run bench -- consensus`: four validator processes on this machine, BFT over libp2p.
 *
 * chain.tps_4v: evidence registrations per second committed when clients submit to all four
 * validators (gossip carries each to every pool), against V, the all-core Ed25519 verification rate
 * measured in the same run. Every validator verifies every transaction, so the ratio is T / (V / 4).
 * chain.finality_4v_ms: submit-to-final latency. Both at a 1 s block time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNetwork } from '../../node/home.ts';
import { readKeyFile } from '../../node/keys/key-file.ts';
import { startNode, type NodeProcess } from '../nodes/processes.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { cofactoredBackend } from '../../node/crypto/ed25519-cofactored.ts';
import { BENCH_QUOTA, WARMUP_TXS, measureFinality, measureThroughput, setUpPartners, verifyRate, verifyTiming } from './chain.ts';

const TXS = 16_000;
/**
 * Both figures at one configuration: the 1 s block time the finality figure is specified at. Each height
 * costs every validator a fixed amount (votes, their WAL records, a commit batch, the governance
 * end-of-block call): ~9 ms of CPU a validator with empty blocks, measured. At 300 ms blocks, as the
 * throughput run used before, that was ~3 heights a second on each of four validators sharing two cores.
 */
const BLOCK_TIME_MS = 1000;

async function withNetwork<T>(blockTimeMs: number, fn: (procs: NodeProcess[], operatorKey: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'brop-bench-4v-'));
  const procs: NodeProcess[] = [];
  try {
    const net = await initNetwork(dir, {
      validators: 4, chainId: 'brop-bench-4v', basePort: 32_000 + Math.floor(Math.random() * 2000),
      params: { blockTimeMs, validityWindow: 1000 }, quotaSchedule: BENCH_QUOTA, rpc: { rateLimit: false },
    });
    for (const h of net.homes.filter((x) => x.validator)) procs.push(await startNode(h.home));
    // Wait until the validators make blocks together.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const heights = await Promise.all(procs.map((p) => new RpcClient(p.rpc).call<{ height: number }>('chain_status').then((s) => s.height)));
      if (heights.every((h) => h >= 2)) break;
      if (Date.now() > deadline) throw new Error('the validators did not start making blocks');
      await new Promise((r) => setTimeout(r, 200));
    }
    return await fn(procs, net.operatorKey);
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  // V before and after the run, the higher taken (see chain.ts).
  const verifyBefore = await verifyRate();
  const singleBefore = await verifyRate('node-single');
  await withNetwork(BLOCK_TIME_MS, async (procs, operatorKey) => {
    const partners = await setUpPartners(procs[0]!.rpc, readKeyFile(operatorKey), 8);
    await measureThroughput(procs.map((p) => p.rpc), procs[0]!.rpc, partners, WARMUP_TXS, procs);
    const t = await measureThroughput(procs.map((p) => p.rpc), procs[0]!.rpc, partners, TXS, procs);
    const verifyAfter = await verifyRate();
    const verifyPerS = Math.max(verifyBefore, verifyAfter);
    const singlePerS = Math.max(singleBefore, await verifyRate('node-single'));
    console.log(JSON.stringify({
      bench: 'chain.tps_4v', tps: Math.round(t.tps), verify_per_s: Math.round(verifyPerS), verify_samples: [Math.round(verifyBefore), Math.round(verifyAfter)], ratio: Number((t.tps / (verifyPerS / 4)).toFixed(3)), goal_ratio: 0.4,
      signature_backend: cofactoredBackend, verify_per_s_node_single: Math.round(singlePerS), ratio_vs_node_single: Number((t.tps / (singlePerS / 4)).toFixed(3)),
      txs: TXS, warmup_txs: WARMUP_TXS, failed: t.failed, busy_retries: t.busy, nodes_cpu_us_per_tx: t.nodeCpuUsPerTx, client_cpu_us_per_tx: t.clientCpuUsPerTx,
      nodes_cpu_us_per_tx_by_thread: t.threadCpuUsPerTx, other_per_signature_cpu: t.otherPerSignatureCpu, ...verifyTiming(t, verifyPerS, singlePerS, 4),
      submit_s: Number(t.submitS.toFixed(2)), total_s: Number(t.totalS.toFixed(2)), validators: 4, block_time_ms: BLOCK_TIME_MS,
    }));
  });
  await withNetwork(BLOCK_TIME_MS, async (procs, operatorKey) => {
    const [partner] = await setUpPartners(procs[0]!.rpc, readKeyFile(operatorKey), 1);
    // Sent to one validator, timed until another reports it committed.
    const f = await measureFinality(procs[1]!.rpc, procs[0]!.rpc, partner!, 30);
    console.log(JSON.stringify({ bench: 'chain.finality_4v_ms', ...f, block_time_ms: BLOCK_TIME_MS, validators: 4 }));
  });
}
