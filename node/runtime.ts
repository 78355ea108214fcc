/**
 * A running node from its home folder: the chain node, its RPC server, and its consensus. A home
 * without a p2p section is a single-validator chain (SoloConsensus). With one, the node joins the
 * peer-to-peer network and runs the BFT protocol: as a validator when its key is in the genesis
 * validator set, else as a full node (it follows, verifies and serves every block, and never votes).
 * Transactions accepted over RPC are gossiped to the other nodes' pools.
 */
import { join } from 'node:path';
import { accountAddress } from '../contracts/system/index.ts';
import { ChainNode, type CommittedBlock } from './node.ts';
import { nativeHashing } from './crypto/sha256-many.ts';
import { cofactoredBackend } from './crypto/ed25519-cofactored.ts';
import { RpcServer, type RpcLogEvent } from './rpc/server.ts';
import { RpcError } from './rpc/errors.ts';
import { obj, registerChainApi } from './api.ts';
import { SoloConsensus } from './consensus/solo.ts';
import { JoinAnnouncer } from './consensus/joining.ts';
import { BftConsensus } from './consensus/bft.ts';
import { ConsensusWal } from './consensus/wal.ts';
import { evidenceJson } from './consensus/evidence.ts';
import { P2pNetwork } from './p2p/network.ts';
import { hex } from './chain/hash.ts';
import { type LoadedHome, readDenyPeers } from './home.ts';
import { type PasswordSource, readKeystore, readPassword } from './keys/keystore.ts';
import { type Signer, keyPairSigner } from './keys/signer.ts';
import { Pkcs11Signer } from './keys/pkcs11.ts';
import type { StatusLine } from './consensus/sync-progress.ts';

export interface RuntimeOptions {
  rpcPort?: number;
  /** Where the validator keystore's password comes from (default: BROP_KEY_PASSWORD, then the terminal). */
  password?: PasswordSource;
  log?: (event: Record<string, unknown>) => void;
  /** The terminal's status line (stderr is a terminal): block sync draws its progress bar there. */
  statusLine?: StatusLine;
}

export interface NodeRuntime {
  node: ChainNode;
  rpc: { url: string; wsUrl: string };
  role: 'validator' | 'full-node';
  network: P2pNetwork | undefined;
  stop(): Promise<void>;
}

export async function startRuntime(home: LoadedHome, opts: RuntimeOptions = {}): Promise<NodeRuntime> {
  const log = opts.log ?? (() => undefined);
  if (!nativeHashing) log({ event: 'warning', message: 'the native hashing addon is not loaded (npm install builds it; BROP_NATIVE=0 turns it off): blocks are hashed through node:crypto, slower' });
  if (cofactoredBackend !== 'libtorsion') log({ event: 'warning', message: 'libtorsion (the optional dependency bcrypto, built by npm install) is not loaded: transaction signatures are checked one by one through OpenSSL and @noble, ~2.5x the CPU a signature and ~20x for a bad one (give validators libtorsion)' });
  const signer = await validatorSigner(home, opts);
  const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, mempool: home.config.mempool, warn: (message) => log({ event: 'warning', message }) });
  const server = new RpcServer({
    host: home.config.rpc.host, port: opts.rpcPort ?? home.config.rpc.port,
    ...(home.config.rpc.rateLimit !== undefined ? { rateLimit: home.config.rpc.rateLimit } : {}),
    ...(home.config.rpc.maxBatch !== undefined ? { maxBatch: home.config.rpc.maxBatch } : {}),
    ...(home.config.rpc.allowedOrigins !== undefined ? { allowedOrigins: home.config.rpc.allowedOrigins } : {}),
    ...(home.config.rpc.apiKeys?.length ? { apiKeys: home.config.rpc.apiKeys.map((k) => ({ name: k.name, keyHash: k.keyHash, rateLimit: { perSecond: k.perSecond, burst: k.burst } })) } : {}),
    // Into the node's log: a handler's failure, and a WebSocket the server cut (a slow consumer, say).
    // Refused requests are the clients' to see (each gets its typed error), not lines here.
    ...(opts.log ? {
      log: (e: RpcLogEvent) => {
        if (e.type === 'internal_error') log({ event: 'error', code: 'RPC_INTERNAL_ERROR', method: e.method, remote: e.remote, message: (e.error as Error)?.message ?? String(e.error) });
        else if (e.type === 'ws_disconnect') log({ event: 'ws-disconnect', remote: e.remote, reason: e.reason });
      },
    } : {}),
  });
  let network: P2pNetwork | undefined;
  let consensus: SoloConsensus | BftConsensus | undefined;
  const onError = (e: Error) => log({ event: 'error', code: (e as { code?: string }).code ?? 'INTERNAL', message: e.message });
  try {
    registerChainApi(server, node);
    const rpc = await server.listen();
    const key = signer && node.validators.some((v) => hex(v) === hex(accountAddress(signer.publicKey))) ? signer : undefined;
    if (home.config.p2p) {
      network = await P2pNetwork.start({
        chainId: node.params.chainId, listen: home.config.p2p.listen, peers: home.config.p2p.peers,
        peerKeyFile: join(home.home, 'keys', 'peer.key'), isValidator: (a) => node.isRecentValidator(a), maxBlockBytes: node.params.maxBlockBytes,
        pooledTx: (h) => node.mempool.get(h)?.bytes, height: () => node.height,
        maxBlockTxs: node.params.maxBlockTxs, maxTxBytes: node.params.maxTxBytes,
        denyPeers: home.config.p2p.denyPeers, log,
      });
      const net = network;
      // Gossip: what clients send here reaches the other pools; what peers gossip enters this one.
      node.on('accepted', (stx) => net.publishTx(stx.bytes));
      net.onTx((bytes) => void node.submit(bytes, { gossiped: true }).catch(() => undefined));
      // What the pool held at start came back from disk: the other pools (which keep gossip in memory
      // only) may have lost it in a restart of their own.
      setTimeout(() => { for (const stx of node.mempool.all()) net.publishTx(stx.bytes); }, 3000).unref();
      const t = node.params.blockTimeMs;
      // Any configured key: a node voted into the set by governance starts voting at the height it joins.
      const bft = new BftConsensus(node, signer, net, ConsensusWal.open(join(home.dataDir, 'consensus.wal')), {
        // Propose: three block times, within 1-3 s: a downed proposer's turn waits at most 3 s for a proposal
        // (then the nil votes' timeouts), not 9 s at the 3 s default.
        timeouts: { proposeMs: Math.max(1000, Math.min(3 * t, 3000)), prevoteMs: Math.max(200, t / 2), precommitMs: Math.max(200, t / 2), deltaMs: Math.max(200, t / 2) },
        onError, log, evidenceFile: join(home.dataDir, 'evidence.jsonl'), statusLine: opts.statusLine,
      });
      consensus = bft;
      server.method('consensus_status', (params) => {
        obj(params, []);
        const st = bft.status();
        return { ...st, height: Number(st.height), peers: net.connectedPeers(), addresses: net.addresses(), peerId: net.peerId, deniedPeers: net.deniedPeers(), penalisedPeers: net.penalisedPeers() };
      });
      // The newest `limit` (default 100), oldest first; the evidence file keeps every one.
      server.method('consensus_evidence', (params) => {
        const limit = obj(params, ['limit']).limit ?? 100;
        if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > 10_000) throw RpcError.invalidParams('limit must be an integer from 1 to 10000');
        return bft.evidence.slice(-(limit as number)).map(evidenceJson);
      });
    } else if (key) {
      consensus = new SoloConsensus(node, key, { onError });
    }
    if (network && signer) {
      const joining = new JoinAnnouncer(node, signer, log);
      node.on('block', () => void joining.onBlock());
    }
    node.on('validators', (set, from) => log({ event: 'validators-changed', from: Number(from), validators: set.map((v) => `0x${hex(v)}`) }));
    node.on('block', (b: CommittedBlock) => {
      if (b.txs.length > 0 || b.header.height % 60n === 0n) log({ event: 'block', height: b.header.height, hash: `0x${hex(b.hash)}`, txs: b.txs.length, pending: node.mempool.size });
    });
    consensus?.start();
    return {
      node, rpc, network, role: key ? 'validator' : 'full-node',
      stop: async () => {
        await consensus?.stop();
        await server.close();
        await network?.stop();
        await node.close();
        if (signer instanceof Pkcs11Signer) signer.close();
      },
    };
  } catch (e) {
    await consensus?.stop();
    await server.close();
    await network?.stop();
    await node.close();
    if (signer instanceof Pkcs11Signer) signer.close();
    throw e;
  }
}

/** The validator's signer: a key in an HSM (PKCS#11), an encrypted keystore, or a key file. */
async function validatorSigner(home: LoadedHome, opts: RuntimeOptions): Promise<Signer | undefined> {
  const hsm = home.config.validatorHsm;
  if (hsm) {
    const pin = process.env[hsm.pinEnv ?? 'BROP_HSM_PIN'] ?? await readPassword({ prompt: true }, `token ${hsm.token}`);
    return Pkcs11Signer.open({ module: hsm.module, token: hsm.token, keyLabel: hsm.keyLabel, pin });
  }
  const key = home.validatorKey ?? (home.validatorKeystore ? await readKeystore(home.validatorKeystore, opts.password ?? { env: 'BROP_KEY_PASSWORD', prompt: true }) : undefined);
  return key ? keyPairSigner(key) : undefined;
}

/**
 * Applies the deny list config.json holds now to a running node's network (the CLI calls it on
 * SIGHUP), and logs what changed. A malformed list is logged and changes nothing.
 */
export async function reloadDenyPeers(home: LoadedHome, runtime: NodeRuntime, log: (event: Record<string, unknown>) => void): Promise<void> {
  if (!runtime.network) return;
  try {
    const r = await runtime.network.setDeniedPeers(readDenyPeers(home.home));
    log({ event: 'deny-peers', denyPeers: r.denied, disconnected: r.disconnected, allowed: r.allowed });
  } catch (e) {
    log({ event: 'error', code: (e as { code?: string }).code ?? 'INTERNAL', message: `p2p.denyPeers not reloaded: ${(e as Error).message}` });
  }
}
