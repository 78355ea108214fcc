/** Real node processes for tests and benchmarks: start one, wait for its "started" line, stop or kill it; sign calls against it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KeyPair } from '../../node/keys/key-file.ts';
import type { RpcClient } from '../../node/rpc/client.ts';
import { BropClient, type Wallet } from '../../middleware/sdk/index.ts';
import { walletOf } from '../../middleware/sdk/node.ts';

export const BROP = fileURLToPath(new URL('../../bin/brop.js', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  rpc: string;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Calls `onLine` with each line of `stream` that is a JSON object (the CLI's output format); other lines are skipped. */
export function onJsonLines(stream: NodeJS.ReadableStream, onLine: (line: Record<string, unknown>) => void): void {
  let buf = '';
  stream.on('data', (d) => {
    buf += String(d);
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let j: unknown;
      try {
        j = JSON.parse(line);
      } catch {
        continue; // not a JSON line
      }
      if (j !== null && typeof j === 'object') onLine(j as Record<string, unknown>);
    }
  });
}

/** Starts `brop start --home DIR --rpc-port 0` and resolves once it prints its RPC URL. */
export function startNode(home: string, extra: string[] = []): Promise<NodeProcess> {
  // BROP_NODE_FLAGS: extra Node flags for the node process (e.g. --cpu-prof when profiling a benchmark).
  const flags = process.env.BROP_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, BROP, 'start', '--home', home, '--rpc-port', '0', '--middleware-port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in 60 s: ${stderr}`)), 60_000);
    // BROP_NODE_LOG: a file that gets everything the node prints (profiling, GC traces).
    const log = process.env.BROP_NODE_LOG;
    child.stderr!.on('data', (d) => { stderr += String(d); if (log) appendFileSync(log, d); });
    if (log) child.stdout!.on('data', (d) => appendFileSync(log, d));
    onJsonLines(child.stdout!, (j) => {
      lines.push(j);
      if (j.event === 'started') {
        clearTimeout(timer);
        resolve({ child, rpc: String(j.rpc), lines, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before starting: ${stderr}`));
    });
  });
}

/**
 * Signs calls for `client`'s chain, through the partner SDK; the caller sends them with tx_send. The
 * head height is read by refresh() only, so that benchmarks can sign many transactions without a
 * round trip each.
 */
export class TxFactory {
  private readonly sdk: BropClient;
  private readonly wallets = new Map<KeyPair, Wallet>();
  private height: number | undefined;
  constructor(client: RpcClient) {
    this.sdk = new BropClient({ url: client.url, wsUrl: false });
  }
  async refresh(): Promise<void> {
    this.height = (await this.sdk.status()).height;
  }
  async tx(key: KeyPair, contract: string, method: string, args: unknown[], validFor = 20): Promise<string> {
    if (this.height === undefined) await this.refresh();
    let wallet = this.wallets.get(key);
    if (!wallet) this.wallets.set(key, (wallet = walletOf(key)));
    return (await this.sdk.buildTx(contract, method, args, { wallet, validUntilBlock: this.height! + validFor })).raw;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A base port for `brop init --validators N` homes (RPC on base+i, p2p on base+100+i, i < count; the
 * full node's middleware on base+50)
 * whose ports are all free now: test suites running side by side must not pick the same ones.
 * Below Linux's ephemeral range (32768 and up): a node killed and restarted on its port could otherwise
 * find it taken by an outgoing connection, even by a client reconnecting to that very port (a socket
 * connected to itself), as a CI run once did.
 */
export async function freeBasePort(count: number, from = 20_000, span = 12_000): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = from + Math.floor(Math.random() * span);
    let free = true;
    for (let i = 0; i < count && free; i++) free = (await portFree(base + i)) && (await portFree(base + 100 + i));
    if (free) free = await portFree(base + 50); // the full node's middleware
    if (free) return base;
  }
  throw new Error('no free range of ports found');
}
