/**
 * The middleware service: follows a node into the index and serves the query API and the event
 * stream over JSON-RPC (HTTP and WebSocket), with the same server, limits and API keys as a node's RPC.
 * Runs beside a node in its process (`npm start`) or on its own against a node's RPC (`brop middleware`).
 */
import { RpcServer, type RpcServerOptions } from '../node/rpc/server.ts';
import { Indexer } from './indexer/indexer.ts';
import type { BlockSource } from './indexer/source.ts';
import { LevelIndexStore } from './indexer/level-store.ts';
import { PgIndexStore } from './indexer/pg-store.ts';
import type { IndexStore } from './indexer/types.ts';
import { EventHub } from './events/hub.ts';
import { registerQueryApi } from './query/api.ts';
import { CUSTODY_DEFAULTS, type CustodyHttpOptions, registerCustodyRoutes } from './custody/http.ts';
import { type ContentStore, FsContentStore } from './custody/store.ts';
import { CustodyError } from './custody/errors.ts';
import { RpcClient } from '../node/rpc/client.ts';
import { serveSite } from './site/serve.ts';

/** The node's read-only methods the middleware answers by asking the node. */
export const FORWARDED_NODE_METHODS = ['chain_status', 'chain_block', 'chain_validatorSets', 'state_proof', 'contract_call', 'contract_list', 'contract_abi'] as const;

function forwardNodeReads(server: RpcServer, node: RpcClient): void {
  for (const m of FORWARDED_NODE_METHODS) server.method(m, (params) => node.call(m, params));
}

export interface MiddlewareOptions {
  source: BlockSource;
  store: IndexStore;
  rpc?: RpcServerOptions;
  /**
   * The node's RPC, for what only the node can answer (state proofs, certified validator sets, views):
   * forwarded read-only, so proof bundles and the public page need only the middleware's address.
   */
  nodeRpc?: { url: string; headers?: Record<string, string> };
  /** Serve the public verification page at / (SPEC E6). */
  site?: boolean;
  /** Index progress and errors. */
  log?: (event: Record<string, unknown>) => void;
  heartbeatMs?: number;
  /** Custody (SPEC E5, docs/custody.md): file uploads and downloads on the same server. Off when omitted. */
  custody?: CustodyOptions;
}

/** Custody's store (a folder, or a store of another kind) and its HTTP options. */
export type CustodyOptions = ({ dir: string } | { store: ContentStore }) & Omit<CustodyHttpOptions, 'store' | 'log'> & {
  /** The longest one upload may take (the HTTP server's whole-request deadline); default 15 minutes. */
  uploadTimeoutMs?: number;
};

export interface Middleware {
  url: string;
  wsUrl: string;
  indexer: Indexer;
  /** The custody store, when custody is on. */
  custody: ContentStore | undefined;
  stop(): Promise<void>;
}

/** Where the index lives: a LevelDB folder (embedded), or a PostgreSQL database. */
export type IndexStoreSpec = { dir: string } | { postgres: string };

export async function openIndexStore(spec: IndexStoreSpec): Promise<IndexStore> {
  if ('dir' in spec) return LevelIndexStore.open(spec.dir);
  // postgres://user:password@host:port/database[?schema=name]; the tables go in schema brop_index by default.
  return PgIndexStore.open(spec.postgres);
}

export async function startMiddleware(opts: MiddlewareOptions): Promise<Middleware> {
  const log = opts.log ?? (() => undefined);
  const custody = opts.custody;
  if (custody && custody.publicUrl === undefined && ['0.0.0.0', '::'].includes(opts.rpc?.host ?? '')) {
    await opts.store.close();
    throw new CustodyError('CUSTODY_BAD_CONFIG', 'the middleware listens on every interface: custody needs publicUrl, the base URL its addresses name (on chain, for good)');
  }
  let custodyStore: ContentStore | undefined;
  try {
    custodyStore = custody === undefined ? undefined : 'store' in custody ? custody.store : await FsContentStore.open(custody.dir, {
      onCorrupt: (e) => log({ event: 'custody-quarantined', digest: `0x${e.hex}`, to: e.quarantined ?? null }),
    });
  } catch (e) {
    await opts.store.close();
    throw e;
  }
  if (custodyStore instanceof FsContentStore && custodyStore.removedTemps > 0) log({ event: 'custody-temp-removed', files: custodyStore.removedTemps });
  const indexer = new Indexer(opts.source, opts.store);
  // Uploads of large files take longer than the usual whole-request deadline (an idle upload is still cut early).
  const uploadTimeoutMs = custody === undefined ? undefined : custody.uploadTimeoutMs ?? CUSTODY_DEFAULTS.uploadTimeoutMs;
  const server = new RpcServer({ port: 8650, ...(uploadTimeoutMs ? { httpRequestTimeoutMs: uploadTimeoutMs } : {}), ...opts.rpc });
  try {
    // First, so that no route registered later under a wider prefix (a web page at "/") shadows these.
    if (custody !== undefined) registerCustodyRoutes(server, { ...custody, store: custodyStore!, log });
  } catch (e) {
    await opts.store.close();
    await custodyStore?.close();
    throw e;
  }
  registerQueryApi(server, indexer);
  if (opts.nodeRpc) forwardNodeReads(server, new RpcClient(opts.nodeRpc.url, { headers: opts.nodeRpc.headers }));
  if (opts.site) serveSite(server);
  const hub = new EventHub(server, indexer, { heartbeatMs: opts.heartbeatMs });
  let lastLogged = 0;
  indexer.on('indexed', (b) => {
    // Catching up logs a line every few seconds; following, every 100 blocks.
    const now = Date.now();
    if (now - lastLogged > 5000 && b.height % 100 === 0) {
      lastLogged = now;
      log({ event: 'indexed', height: b.height, chainHeight: indexer.status().chainHeight });
    }
  });
  indexer.on('error', (e) => log({ event: 'index-error', code: (e as { code?: string }).code ?? 'INTERNAL', message: e.message }));
  try {
    const { url, wsUrl } = await server.listen();
    await indexer.start();
    return {
      url, wsUrl, indexer, custody: custodyStore,
      stop: async () => {
        hub.stop();
        await server.close();
        await indexer.stop();
        await opts.store.close();
        await custodyStore?.close();
      },
    };
  } catch (e) {
    hub.stop();
    await server.close();
    await indexer.stop();
    await opts.store.close();
    await custodyStore?.close();
    throw e;
  }
}
