/**
 * A chain in the test's own process: a ChainNode with single-validator consensus and the RPC server,
 * for client-side tests (the partner SDK, examples). Building the system contracts is the slow part
 * of a new home (seconds), so one home is built per process and every chain opens its own data
 * folder on it, with its own parameters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainNode } from '../../node/node.ts';
import { SoloConsensus } from '../../node/consensus/solo.ts';
import { initHome, loadHome, type LoadedHome } from '../../node/home.ts';
import { RpcServer, type RpcServerOptions } from '../../node/rpc/server.ts';
import { registerChainApi } from '../../node/api.ts';
import { keyPairSigner } from '../../node/keys/signer.ts';
import { readKeyFile, type KeyPair } from '../../node/keys/key-file.ts';
import type { ChainParams } from '../../node/chain/params.ts';
import { randomBytes } from 'node:crypto';
import { accountAddress } from '../../contracts/system/index.ts';
import { type SignedTx, encodeTransaction, signTransaction } from '../../node/tx/transaction.ts';
import { encodeArgs } from '../../node/execution/contracts.ts';

export interface TestChainOptions {
  params?: Partial<Omit<ChainParams, 'chainId'>>;
  /** Make blocks on a timer this often (ms); without it, blocks are made only by produce(). */
  blockTimeMs?: number;
  rpc?: RpcServerOptions;
}

/** A contract call to sign and submit: [key, contract, method, args]. */
export type Call = [KeyPair, string, string, unknown[]];

/** Signs `call` for `node`'s chain and submits it (valid for the next `validFor` blocks); the accepted transaction. */
export async function submitCall(node: ChainNode, [key, contract, method, args]: Call, validFor = 10n): Promise<SignedTx> {
  const c = node.contracts.named(contract);
  if (!c) throw new Error(`no contract ${contract}`);
  return node.submit(encodeTransaction(signTransaction({
    chainId: node.params.chainId, sender: accountAddress(key.publicKey), nonce: randomBytes(8).readBigUInt64BE(),
    validUntilBlock: node.height + validFor, contract: c.address, method, args: encodeArgs(c, method, args),
  }, key.privateKey)));
}

export interface TestChain {
  node: ChainNode;
  url: string;
  wsUrl: string;
  operator: KeyPair;
  /** The operator's key file. */
  operatorKeyFile: string;
  home: LoadedHome;
  /** Makes and commits one block now. */
  produce(): Promise<void>;
  /** Signs each call with its key, submits them all, then makes one block with them. */
  block(...calls: Call[]): Promise<void>;
  /** Closes the RPC server (every WebSocket with it) and serves again on the same port: what a client sees of a node restart. */
  restartRpc(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

let template: Promise<{ home: LoadedHome; operatorKeyFile: string; dir: string }> | undefined;

function builtHome() {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brop-inproc-home-'));
    const init = await initHome(dir, { chainId: 'brop-inproc' });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return { home: loadHome(dir), operatorKeyFile: init.operatorKey, dir };
  })();
  return template;
}

export async function startTestChain(options: TestChainOptions = {}): Promise<TestChain> {
  const { home, operatorKeyFile } = await builtHome();
  const dataDir = mkdtempSync(join(tmpdir(), 'brop-inproc-data-'));
  const genesis = { ...home.genesis, params: { ...home.genesis.params, ...options.params } };
  const node = await ChainNode.open({ dataDir, genesis, contracts: home.contracts, verifierWorkers: 0, warn: () => undefined });
  const consensus = new SoloConsensus(node, keyPairSigner(home.validatorKey!), {
    blockTimeMs: options.blockTimeMs,
    onError: (e) => { throw e; },
  });
  const serve = async (port: number) => {
    const server = new RpcServer({ rateLimit: false, ...options.rpc, port });
    registerChainApi(server, node);
    return { server, ...(await server.listen()) };
  };
  let rpc = await serve(options.rpc?.port ?? 0);
  const port = Number(new URL(rpc.url).port);
  if (options.blockTimeMs !== undefined) consensus.start();
  return {
    node, url: rpc.url, wsUrl: rpc.wsUrl, operator: readKeyFile(operatorKeyFile), operatorKeyFile, home,
    produce: () => consensus.produce(),
    block: async (...calls) => {
      for (const call of calls) await submitCall(node, call);
      await consensus.produce();
    },
    restartRpc: async (downMs = 0) => {
      await rpc.server.close();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      rpc = await serve(port);
    },
    close: async () => {
      await consensus.stop();
      await rpc.server.close();
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
