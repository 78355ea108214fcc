/**
 * A node's home folder:
 *   genesis.json          the chain (shared by every node of it)
 *   config.json           this node: RPC address, pool limits, which key validates
 *   contracts/NAME.wasm   system contract code (genesis names it by hash), with NAME.abi.json
 *   keys/*.json           key files (operator, validator)
 *   data/                 LevelDB
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SYSTEM_CONTRACTS, buildSystemContract } from '../contracts/system/index.ts';
import type { ContractAbi } from '../tooling/build/contract.ts';
import { type GenesisFile, checkGenesis, codeHashOf, makeGenesis } from './genesis.ts';
import type { DeployedContract } from './execution/contracts.ts';
import type { MempoolLimits } from './mempool/mempool.ts';
import type { ChainParams } from './chain/params.ts';
import { ParamsError } from './chain/params.ts';
import { type KeyPair, newKeyPair, readKeyFile, writeKeyFile } from './keys/key-file.ts';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr';

export interface NodeConfig {
  /** RPC address and limits (requests per second and burst per client address; false: no limit). */
  rpc: {
    host: string;
    port: number;
    rateLimit?: { perSecond: number; burst: number } | false;
    maxBatch?: number;
    /** A proxy node open to partners: each partner's key (sha256 hex) with its own rate limit; see `brop apikey`. */
    apiKeys?: Array<{ name: string; keyHash: string; perSecond: number; burst: number }>;
  };
  mempool?: Partial<MempoolLimits>;
  /** Key file or encrypted keystore (relative to the home) of the validator this node runs; null: not a validator. */
  validatorKey: string | null;
  /** The validator's key in an HSM instead (PKCS#11); its PIN comes from `pinEnv` (default BROP_HSM_PIN) or the terminal. */
  validatorHsm?: { module: string; token: string; keyLabel: string; pinEnv?: string };
  /**
   * The peer-to-peer network (chains of several validators): where to listen, which peers to keep
   * connected to (multiaddrs ending in /p2p/ID). The peer identity is keys/peer.key. `denyPeers`:
   * peer ids this node refuses to connect to or take gossip from (re-read on SIGHUP).
   */
  p2p?: { listen: string[]; peers: string[]; denyPeers?: string[] };
  /**
   * The middleware (index, query API, event stream) that `brop start` runs beside this node, reading
   * it in process: its RPC address, and a PostgreSQL URL for the index (default: LevelDB in data/index).
   * `custody`: file custody on the same server (docs/custody.md); off when absent.
   */
  middleware?: {
    host: string; port: number; postgres?: string;
    /** The public verification page at / (default on). */
    site?: boolean;
    custody?: CustodyConfig;
  };
}

/** File custody (SPEC E5, docs/custody.md). Every field is optional: `{}` turns it on with the defaults. */
export interface CustodyConfig {
  /** The store's folder, relative to the home; default `custody` (not under data/: files are not derived data). */
  dir?: string;
  /** The base URL the public downloads files from, which custody addresses name (on chain, for good). Default: the middleware's URL. */
  publicUrl?: string;
  /** Largest file, bytes; default 100 MiB. */
  maxBytes?: number;
  /** Accepted media types ("type/subtype" or "type/*"); default: documents, images, archives, application/octet-stream. */
  allowedTypes?: string[];
  /** Downloads need no API key (default false). */
  publicDownloads?: boolean;
  /** The longest one upload may take, ms (default 15 minutes); one that sends nothing for 30 s is cut anyway. */
  uploadTimeoutMs?: number;
  /**
   * Partners' upload keys (sha256 hex, as `rpc.apiKeys`; `brop apikey new --custody`): uploads need one,
   * while the rest of the middleware (queries, the public page) stays open.
   */
  apiKeys?: Array<{ name: string; keyHash: string; perSecond: number; burst: number }>;
}

/** The folder custody keeps files in for a home's config. */
export function custodyDir(home: string, config: CustodyConfig): string {
  return resolve(home, config.dir ?? 'custody');
}

export const DEFAULT_MIDDLEWARE_PORT = 8650;

/**
 * The middleware's port beside a node RPC port chosen at init: 5 above it, as the defaults are (8645,
 * 8650), so that homes made with different RPC ports do not also clash on the middleware's.
 */
function middlewarePortFor(rpcPort: number | undefined): number {
  return rpcPort === undefined || rpcPort === 0 || rpcPort + 5 > 65535 ? DEFAULT_MIDDLEWARE_PORT : rpcPort + 5;
}

export const DEFAULT_RPC_PORT = 8645;

export class HomeError extends Error {
  readonly code: 'HOME_EXISTS' | 'HOME_INVALID';
  constructor(code: HomeError['code'], message: string) {
    super(message);
    this.name = 'HomeError';
    this.code = code;
  }
}

export interface InitOptions {
  chainId?: string;
  rpc?: Partial<NodeConfig['rpc']>;
  params?: Partial<Omit<ChainParams, 'chainId'>>;
  rpcPort?: number;
  quotaSchedule?: Record<string, bigint | number>;
  /** false: no middleware beside the node (a validator as deployed, where the middleware runs beside a full node). */
  middleware?: false;
}

export interface InitResult {
  home: string;
  genesis: GenesisFile;
  operatorKey: string;
  validatorKey: string;
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

type BuiltContract = { name: string; wasm: Uint8Array; abi: ContractAbi };

/** The system contracts, built from this checkout's source. */
async function buildSystemContracts(): Promise<BuiltContract[]> {
  const built: BuiltContract[] = [];
  for (const name of SYSTEM_CONTRACTS) built.push({ name, ...(await buildSystemContract(name)) });
  return built;
}

/** A home's contracts/ folder: each module and its ABI, which `start` checks against genesis. */
function writeContracts(home: string, built: readonly BuiltContract[]): void {
  mkdirSync(join(home, 'contracts'), { recursive: true });
  for (const b of built) {
    writeFileSync(join(home, 'contracts', `${b.name}.wasm`), b.wasm);
    writeJson(join(home, 'contracts', `${b.name}.abi.json`), b.abi);
  }
}

/** Creates a single-validator chain's home: keys, system contracts, genesis and config. */
export async function initHome(dir: string, opts: InitOptions = {}): Promise<InitResult> {
  const home = resolve(dir);
  if (existsSync(join(home, 'genesis.json'))) throw new HomeError('HOME_EXISTS', `${home} already holds a chain (genesis.json): refusing to overwrite it`);
  const operator = newKeyPair(), validator = newKeyPair();
  const operatorKey = join(home, 'keys', 'operator.json'), validatorKey = join(home, 'keys', 'validator.json');
  writeKeyFile(operatorKey, operator, { overwrite: true });
  writeKeyFile(validatorKey, validator, { overwrite: true });
  const built = await buildSystemContracts();
  writeContracts(home, built);
  const contracts = built.map((b) => ({ name: b.name, wasm: b.wasm }));
  const genesis = makeGenesis({
    chainId: opts.chainId ?? `brop-local-${Date.now().toString(36)}`,
    params: opts.params,
    operator: { name: 'operator', publicKey: operator.publicKey },
    validators: [{ name: 'validator-1', publicKey: validator.publicKey }],
    contracts,
    quotaSchedule: opts.quotaSchedule,
  });
  const config: NodeConfig = {
    rpc: { host: '127.0.0.1', port: opts.rpcPort ?? DEFAULT_RPC_PORT, ...opts.rpc }, validatorKey: 'keys/validator.json',
    ...(opts.middleware === false ? {} : { middleware: { host: '127.0.0.1', port: middlewarePortFor(opts.rpcPort), custody: {} } }),
  };
  writeJson(join(home, 'config.json'), config);
  // genesis.json last: its presence marks a complete home.
  writeJson(join(home, 'genesis.json'), genesis);
  return { home, genesis, operatorKey, validatorKey };
}

export interface LoadedHome {
  home: string;
  genesis: GenesisFile;
  config: NodeConfig;
  contracts: DeployedContract[];
  validatorKey: KeyPair | undefined;
  /** The validator's encrypted keystore, when its key is kept in one (opened with a password at start). */
  validatorKeystore: string | undefined;
  dataDir: string;
}

function isKeystore(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { type?: string }).type === 'brop-keystore';
  } catch {
    return false;
  }
}

function readJson<T>(path: string): T {
  if (!existsSync(path)) throw new HomeError('HOME_INVALID', `${path} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new HomeError('HOME_INVALID', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function loadHome(dir: string): LoadedHome {
  const home = resolve(dir);
  const genesis = readJson<GenesisFile>(join(home, 'genesis.json'));
  const config = readJson<NodeConfig>(join(home, 'config.json'));
  if (!config?.rpc || typeof config.rpc.host !== 'string' || !Number.isInteger(config.rpc.port)) throw new HomeError('HOME_INVALID', 'config.json: rpc.host and rpc.port are required');
  checkDenyPeers(config);
  let contracts: DeployedContract[];
  try {
    contracts = checkGenesis(genesis, (name, codeHash) => {
      const wasmPath = join(home, 'contracts', `${name}.wasm`);
      if (!existsSync(wasmPath)) return undefined;
      const wasm = new Uint8Array(readFileSync(wasmPath));
      if (codeHashOf(wasm) !== codeHash) return undefined;
      return { wasm, abi: readJson<ContractAbi>(join(home, 'contracts', `${name}.abi.json`)) };
    });
  } catch (e) {
    if (e instanceof ParamsError) throw new HomeError('HOME_INVALID', `genesis.json: ${e.message}`);
    throw e;
  }
  // An encrypted keystore needs its password: the runtime opens it (startRuntime); plain key files open here.
  const keyPath = config.validatorKey ? join(home, config.validatorKey) : undefined;
  const validatorKey = keyPath && !isKeystore(keyPath) ? readKeyFile(keyPath) : undefined;
  return { home, genesis, config, contracts, validatorKey, validatorKeystore: keyPath && isKeystore(keyPath) ? keyPath : undefined, dataDir: join(home, 'data') };
}

function checkDenyPeers(config: NodeConfig): string[] {
  const list: unknown = config.p2p?.denyPeers ?? [];
  if (!Array.isArray(list)) throw new HomeError('HOME_INVALID', 'config.json: p2p.denyPeers must be a list of peer ids');
  for (const id of list) {
    let ok = typeof id === 'string';
    try {
      if (ok) peerIdFromString(id as string);
    } catch {
      ok = false;
    }
    if (!ok) throw new HomeError('HOME_INVALID', `config.json: p2p.denyPeers: ${JSON.stringify(id)} is not a peer id`);
  }
  return list as string[];
}

/** The deny list as the home's config.json says now (a running node re-reads it on SIGHUP). HOME_INVALID if it is malformed. */
export function readDenyPeers(dir: string): string[] {
  return checkDenyPeers(readJson<NodeConfig>(join(resolve(dir), 'config.json')));
}

export interface NodeInitOptions {
  /** The chain's genesis file, as every node of it has. */
  genesisFile: string;
  /** Nodes to connect to: multiaddrs ending in /p2p/PEER_ID (the validators', say). */
  peers: string[];
  /** Default DEFAULT_RPC_PORT; the middleware (on unless false) listens 5 above it. */
  rpcPort?: number;
  /** The p2p listen address (default /ip4/0.0.0.0/tcp/26700: peers may dial this node too). */
  p2pListen?: string;
  middleware?: false;
}

/**
 * A full node's home for a chain that runs already (a proxy node is one with API keys, `brop apikey`):
 * the chain's genesis file, the system contracts built here and checked against it, and a config that
 * peers with `peers`. It has no validator key (a validator-to-be adds its own, docs/consensus.md); its
 * peer identity is made at its first start.
 */
export async function initNodeHome(dir: string, opts: NodeInitOptions): Promise<{ home: string; genesis: GenesisFile; config: NodeConfig }> {
  const home = resolve(dir);
  if (existsSync(join(home, 'genesis.json'))) throw new HomeError('HOME_EXISTS', `${home} already holds a chain (genesis.json): refusing to overwrite it`);
  const genesis = readJson<GenesisFile>(resolve(opts.genesisFile));
  if (opts.peers.length === 0) throw new HomeError('HOME_INVALID', 'at least one peer: a node of the chain to connect to (a multiaddr ending in /p2p/PEER_ID)');
  for (const p of opts.peers) {
    let id: string | undefined;
    try {
      const value = multiaddr(p).getComponents().findLast((c) => c.code === CODE_P2P)?.value;
      id = value === undefined ? undefined : peerIdFromString(value).toString();
    } catch {
      id = undefined;
    }
    if (!id) throw new HomeError('HOME_INVALID', `peer ${p} is not a multiaddr ending in /p2p/PEER_ID`);
  }
  if (opts.p2pListen !== undefined) {
    try {
      multiaddr(opts.p2pListen);
    } catch (e) {
      throw new HomeError('HOME_INVALID', `--p2p-listen ${opts.p2pListen}: ${(e as Error).message}`);
    }
  }
  const built = await buildSystemContracts();
  try {
    // This build's contracts must be the chain's: a node whose code differs would compute other states.
    checkGenesis(genesis, (name, codeHash) => {
      const b = built.find((x) => x.name === name);
      return b && codeHashOf(b.wasm) === codeHash ? b : undefined;
    });
  } catch (e) {
    if (e instanceof ParamsError) throw new HomeError('HOME_INVALID', `${opts.genesisFile}: ${e.message} (is this BROP the version the chain runs?)`);
    throw e;
  }
  writeContracts(home, built);
  mkdirSync(join(home, 'keys'), { recursive: true });
  const rpcPort = opts.rpcPort ?? DEFAULT_RPC_PORT;
  const config: NodeConfig = {
    rpc: { host: '127.0.0.1', port: rpcPort },
    validatorKey: null,
    p2p: { listen: [opts.p2pListen ?? '/ip4/0.0.0.0/tcp/26700'], peers: opts.peers },
    ...(opts.middleware === false ? {} : { middleware: { host: '127.0.0.1', port: middlewarePortFor(opts.rpcPort), custody: {} } }),
  };
  writeJson(join(home, 'config.json'), config);
  // genesis.json last: its presence marks a complete home.
  writeJson(join(home, 'genesis.json'), genesis);
  return { home, genesis, config };
}

export interface NetworkInitOptions {
  validators: number;
  chainId?: string;
  params?: Partial<Omit<ChainParams, 'chainId'>>;
  /** RPC ports are basePort + i, p2p ports basePort + 100 + i (validators first, then the full node). */
  basePort?: number;
  quotaSchedule?: Record<string, bigint | number>;
  /** RPC settings for every node (rate limits, batch size). */
  rpc?: Partial<Pick<NodeConfig['rpc'], 'rateLimit' | 'maxBatch'>>;
}

export interface NetworkInitResult {
  dir: string;
  genesis: GenesisFile;
  operatorKey: string;
  /** The validators' homes, then the full node's. */
  homes: Array<{ name: string; home: string; rpc: string; validator: boolean }>;
}

/**
 * A chain of `validators` validators and one full node, each in its own home under `dir`
 * (validator-1 .. validator-N, full-node), sharing one genesis file, each knowing the others as peers.
 */
export async function initNetwork(dir: string, opts: NetworkInitOptions): Promise<NetworkInitResult> {
  const root = resolve(dir);
  if (!Number.isInteger(opts.validators) || opts.validators < 1 || opts.validators > 100) throw new HomeError('HOME_INVALID', 'validators: 1 to 100');
  if (existsSync(join(root, 'operator.json'))) throw new HomeError('HOME_EXISTS', `${root} already holds a network: refusing to overwrite it`);
  mkdirSync(root, { recursive: true });
  const basePort = opts.basePort ?? 26_600;
  const operator = newKeyPair();
  const operatorKey = join(root, 'operator.json');
  writeKeyFile(operatorKey, operator, { overwrite: true });
  const built = await buildSystemContracts();
  const names = [...Array.from({ length: opts.validators }, (_, i) => `validator-${i + 1}`), 'full-node'];
  const validatorKeys = names.slice(0, -1).map(() => newKeyPair());
  const peerKeys = await Promise.all(names.map(() => generateKeyPair('Ed25519')));
  const p2pAddress = (i: number) => `/ip4/127.0.0.1/tcp/${basePort + 100 + i}/p2p/${peerIdFromPrivateKey(peerKeys[i]!).toString()}`;
  const genesis = makeGenesis({
    chainId: opts.chainId ?? `brop-net-${Date.now().toString(36)}`,
    params: opts.params,
    operator: { name: 'operator', publicKey: operator.publicKey },
    validators: validatorKeys.map((k, i) => ({ name: names[i]!, publicKey: k.publicKey })),
    contracts: built.map((b) => ({ name: b.name, wasm: b.wasm })),
    quotaSchedule: opts.quotaSchedule,
  });
  const homes = [];
  for (const [i, name] of names.entries()) {
    const home = join(root, name);
    writeContracts(home, built);
    mkdirSync(join(home, 'keys'), { recursive: true });
    const validator = i < opts.validators;
    if (validator) writeKeyFile(join(home, 'keys', 'validator.json'), validatorKeys[i]!, { overwrite: true });
    writeFileSync(join(home, 'keys', 'peer.key'), privateKeyToProtobuf(peerKeys[i]!), { mode: 0o600 });
    const config: NodeConfig = {
      rpc: { host: '127.0.0.1', port: basePort + i, ...opts.rpc },
      validatorKey: validator ? 'keys/validator.json' : null,
      p2p: { listen: [`/ip4/127.0.0.1/tcp/${basePort + 100 + i}`], peers: names.map((_, j) => j).filter((j) => j !== i).map(p2pAddress) },
      // The middleware (index, queries, events, custody, the public page) runs beside the full node, not a validator.
      ...(validator ? {} : { middleware: { host: '127.0.0.1', port: basePort + 50, custody: {} } }),
    };
    writeJson(join(home, 'config.json'), config);
    writeJson(join(home, 'genesis.json'), genesis);
    homes.push({ name, home, rpc: `http://127.0.0.1:${basePort + i}/`, validator });
  }
  return { dir: root, genesis, operatorKey, homes };
}
