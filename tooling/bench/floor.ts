/**
 * `npm run bench -- floor`: the ceiling of chain.tps_1v's ratio on this machine. A server that does only
 * what every JSON-RPC node must do for a transaction (read the batch, decode and hash each
 * transaction, check its signature on the same worker threads, answer) takes the benchmark's own
 * pre-signed evidence registrations from the same clients. No pool, execution, state or storage: the
 * ratio it reaches (R = T / V, as chain.tps_1v) is what the node's other work is measured against.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { SignedTx } from '../../node/tx/transaction.ts';
import { SignatureVerifier } from '../../node/crypto/verify-pool.ts';
import { fromHex } from '../../node/chain/hash.ts';
import { initHome } from '../../node/home.ts';
import { readKeyFile } from '../../node/keys/key-file.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { startNode, TxFactory } from '../nodes/processes.ts';
import { BENCH_QUOTA, WARMUP_TXS, perTxByThread, processCpuSeconds, threadCpuSeconds, threadCpuSince, sendBatches, setUpPartners, txSendBatches, verifyRate } from './chain.ts';

const TXS = 24_000;

/** The server process: JSON-RPC tx_send batches, each transaction decoded, hashed and its signature checked. */
function serve(): void {
  const verifier = new SignatureVerifier();
  let checked = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{ id: number; params: { tx: string } }>;
      const replies = await Promise.all(batch.map(async ({ id, params }) => {
        const stx = SignedTx.decode(fromHex(params.tx)!);
        if (!(await verifier.verify(stx.signatureCheck()!))) throw new Error('bad signature');
        checked++;
        return `{"jsonrpc":"2.0","id":${id},"result":{"hash":"0x${stx.hashHex}","status":"pending","validUntilBlock":${stx.tx.validUntilBlock}}}`;
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(`[${replies.join(',')}]`);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', () => process.send!({ checked }));
}

export async function run(): Promise<void> {
  // Transactions signed for a real chain (the same set-up as chain.tps_1v), then sent to the floor server.
  const dir = mkdtempSync(join(tmpdir(), 'brop-bench-floor-'));
  const txs: string[] = [];
  try {
    const init = await initHome(dir, { chainId: 'brop-bench-floor', params: { validityWindow: 1000 }, quotaSchedule: BENCH_QUOTA, rpc: { rateLimit: false }, middleware: false });
    const node = await startNode(dir);
    try {
      const partners = await setUpPartners(node.rpc, readKeyFile(init.operatorKey), 8);
      const factory = new TxFactory(new RpcClient(node.rpc));
      await factory.refresh();
      const digest = createHash('sha256').update('bench document').digest();
      for (let i = 0; i < WARMUP_TXS + TXS; i++) txs.push(await factory.tx(partners[i % 8]!, 'evidence', 'register', [`floor/${i}/${Date.now()}`, digest, '{"kind":"invoice"}', null, null], 900));
    } finally {
      node.child.kill('SIGTERM');
      await node.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = fork(new URL(import.meta.url).pathname, ['serve'], { execArgv: process.execArgv });
  try {
    const { port } = await new Promise<{ port: number }>((resolve) => server.once('message', resolve));
    const url = `http://127.0.0.1:${port}/`;
    const verifyBefore = await verifyRate();
    await sendBatches([url], txSendBatches(txs.slice(0, WARMUP_TXS)));
    const timed = txSendBatches(txs.slice(WARMUP_TXS)); // bodies built before timing, as chain.tps_1v's
    const start = performance.now(), serverCpu0 = processCpuSeconds(server.pid!) ?? NaN, threads0 = [threadCpuSeconds(server.pid!)], clientCpu0 = process.cpuUsage();
    await sendBatches([url], timed);
    const seconds = (performance.now() - start) / 1000;
    const serverCpu = (processCpuSeconds(server.pid!) ?? NaN) - serverCpu0, byThread = perTxByThread(threadCpuSince([server.pid!], threads0), TXS), clientCpu = process.cpuUsage(clientCpu0);
    const verifyAfter = await verifyRate();
    server.send('count');
    const { checked } = await new Promise<{ checked: number }>((resolve) => server.once('message', resolve));
    if (checked !== WARMUP_TXS + TXS) throw new Error(`the floor server checked ${checked} of ${WARMUP_TXS + TXS} signatures`);
    const verifyPerS = Math.max(verifyBefore, verifyAfter), tps = TXS / seconds;
    console.log(JSON.stringify({
      bench: 'chain.rpc_floor', tps: Math.round(tps), verify_per_s: Math.round(verifyPerS), verify_samples: [Math.round(verifyBefore), Math.round(verifyAfter)], ratio: Number((tps / verifyPerS).toFixed(3)),
      server_cpu_us_per_tx: Math.round((serverCpu * 1e6) / TXS), client_cpu_us_per_tx: Math.round((clientCpu.user + clientCpu.system) / TXS), txs: TXS,
      server_cpu_us_per_tx_by_thread: byThread,
    }));
  } finally {
    server.kill();
  }
}

if (process.argv[2] === 'serve') serve();
