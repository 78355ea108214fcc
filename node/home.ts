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
import { ParamsError, DEFAULT_CHAIN_PARAMS, checkParams } from './chain/params.ts';
import { DEFAULT_MEMPOOL_LIMITS } from './mempool/mempool.ts';
import { type KeyPair, newKeyPair, readKeyFile, writeKeyFile } from './keys/key-file.ts';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdOfAddress } from './p2p/network.ts';

export interface NodeConfig {
  /** RPC address and limits (requests per second and burst per client address; false: no limit). */
  rpc: {
    host: string;
    port: number;
    rateLimit?: { perSecond: number; burst: number } | false;
    maxBatch?: number;
    /** Browser origins the RPC answers (CORS); '*' for all; default none (clients without an Origin always pass). */
    allowedOrigins?: string[] | '*';
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
    /** Browser origins the middleware's API and custody answer (CORS), as `rpc.allowedOrigins`. */
    allowedOrigins?: string[] | '*';
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
  const chainId = opts.chainId ?? `brop-local-${Date.now().toString(36)}`;
  checkParams({ ...DEFAULT_CHAIN_PARAMS, ...opts.params, chainId }); // what start would refuse is refused before anything is written
  const operator = newKeyPair(), validator = newKeyPair();
  const operatorKey = join(home, 'keys', 'operator.json'), validatorKey = join(home, 'keys', 'validator.json');
  writeKeyFile(operatorKey, operator, { overwrite: true });
  writeKeyFile(validatorKey, validator, { overwrite: true });
  const built = await buildSystemContracts();
  writeContracts(home, built);
  const contracts = built.map((b) => ({ name: b.name, wasm: b.wasm }));
  const genesis = makeGenesis({
    chainId,
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
  const config = checkConfig(readJson<unknown>(join(home, 'config.json')));
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

/**
 * config.json, checked field by field before anything starts: a misspelt field or a value of the wrong
 * type or range would otherwise be dropped for its default, or fail later with a stack trace.
 * HOME_INVALID names the field.
 */
export function checkConfig(config: unknown): NodeConfig {
  const fail = (path: string, want: string): never => {
    throw new HomeError('HOME_INVALID', `config.json: ${path} must be ${want}`);
  };
  const obj = (v: unknown, path: string, fields: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path || 'the file', 'an object');
    for (const k of Object.keys(v as object)) if (!fields.includes(k)) throw new HomeError('HOME_INVALID', `config.json: unknown field ${path ? `${path}.` : ''}${k} (known: ${fields.join(', ')})`);
    return v as Record<string, unknown>;
  };
  const str = (v: unknown, path: string): void => { if (typeof v !== 'string' || v.length === 0) fail(path, 'a non-empty string'); };
  const int = (v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) fail(path, `an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}`);
  };
  const positive = (v: unknown, path: string): void => { if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(path, 'a positive number'); };
  const bool = (v: unknown, path: string): void => { if (typeof v !== 'boolean') fail(path, 'true or false'); };
  const strings = (v: unknown, path: string): void => { if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length === 0)) fail(path, 'a list of strings'); };
  const opt = (o: Record<string, unknown>, k: string, check: (v: unknown, path: string) => void, path: string): void => { if (o[k] !== undefined) check(o[k], `${path}.${k}`); };
  const apiKeys = (v: unknown, path: string): void => {
    if (!Array.isArray(v)) fail(path, 'a list of {name, keyHash, perSecond, burst}');
    (v as unknown[]).forEach((e, i) => {
      const k = obj(e, `${path}[${i}]`, ['name', 'keyHash', 'perSecond', 'burst']);
      str(k.name, `${path}[${i}].name`);
      if (typeof k.keyHash !== 'string' || !/^[0-9a-f]{64}$/.test(k.keyHash)) fail(`${path}[${i}].keyHash`, 'a sha256 as 64 lowercase hex digits');
      positive(k.perSecond, `${path}[${i}].perSecond`);
      int(k.burst, `${path}[${i}].burst`, 1);
    });
  };
  const c = obj(config, '', ['rpc', 'mempool', 'validatorKey', 'validatorHsm', 'p2p', 'middleware']);
  const origins = (v: unknown, path: string): void => { if (v !== '*') strings(v, path); };
  const rpc = obj(c.rpc, 'rpc', ['host', 'port', 'rateLimit', 'maxBatch', 'allowedOrigins', 'apiKeys']);
  str(rpc.host, 'rpc.host');
  int(rpc.port, 'rpc.port', 0, 65535);
  if (rpc.rateLimit !== undefined && rpc.rateLimit !== false) {
    const r = obj(rpc.rateLimit, 'rpc.rateLimit', ['perSecond', 'burst']);
    positive(r.perSecond, 'rpc.rateLimit.perSecond');
    int(r.burst, 'rpc.rateLimit.burst', 1);
  }
  opt(rpc, 'maxBatch', (v, p) => int(v, p, 1), 'rpc');
  opt(rpc, 'allowedOrigins', origins, 'rpc');
  opt(rpc, 'apiKeys', apiKeys, 'rpc');
  if (c.mempool !== undefined) {
    const m = obj(c.mempool, 'mempool', Object.keys(DEFAULT_MEMPOOL_LIMITS));
    // maxNewcomerTxs 0 turns self-registration by new keys off (always BUSY); the other bounds need room for one.
    for (const k of Object.keys(m)) int(m[k], `mempool.${k}`, k === 'maxNewcomerTxs' ? 0 : 1);
  }
  if (c.validatorKey !== null && c.validatorKey !== undefined) str(c.validatorKey, 'validatorKey');
  if (c.validatorHsm !== undefined) {
    const h = obj(c.validatorHsm, 'validatorHsm', ['module', 'token', 'keyLabel', 'pinEnv']);
    for (const k of ['module', 'token', 'keyLabel']) str(h[k], `validatorHsm.${k}`);
    opt(h, 'pinEnv', str, 'validatorHsm');
  }
  if (c.p2p !== undefined) {
    const p = obj(c.p2p, 'p2p', ['listen', 'peers', 'denyPeers']);
    strings(p.listen, 'p2p.listen');
    strings(p.peers, 'p2p.peers');
    (p.listen as string[]).forEach((a, i) => { if (!isMultiaddr(a)) fail(`p2p.listen[${i}]`, 'a multiaddr (e.g. /ip4/0.0.0.0/tcp/26700)'); });
    (p.peers as string[]).forEach((a, i) => { if (!peerIdOfAddress(a)) fail(`p2p.peers[${i}]`, 'a multiaddr ending in /p2p/PEER_ID'); });
  }
  if (c.middleware !== undefined) {
    const m = obj(c.middleware, 'middleware', ['host', 'port', 'postgres', 'allowedOrigins', 'site', 'custody']);
    str(m.host, 'middleware.host');
    int(m.port, 'middleware.port', 0, 65535);
    opt(m, 'postgres', str, 'middleware');
    opt(m, 'allowedOrigins', origins, 'middleware');
    opt(m, 'site', bool, 'middleware');
    if (m.custody !== undefined) {
      const cu = obj(m.custody, 'middleware.custody', ['dir', 'publicUrl', 'maxBytes', 'allowedTypes', 'publicDownloads', 'uploadTimeoutMs', 'apiKeys']);
      opt(cu, 'dir', str, 'middleware.custody');
      opt(cu, 'publicUrl', str, 'middleware.custody');
      opt(cu, 'maxBytes', (v, p) => int(v, p, 1), 'middleware.custody');
      opt(cu, 'allowedTypes', strings, 'middleware.custody');
      opt(cu, 'publicDownloads', bool, 'middleware.custody');
      opt(cu, 'uploadTimeoutMs', (v, p) => int(v, p, 1), 'middleware.custody');
      opt(cu, 'apiKeys', apiKeys, 'middleware.custody');
    }
  }
  return config as NodeConfig;
}

function isMultiaddr(address: string): boolean {
  try {
    multiaddr(address);
    return true;
  } catch {
    return false;
  }
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
  return checkDenyPeers(checkConfig(readJson<unknown>(join(resolve(dir), 'config.json'))));
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
  for (const p of opts.peers) if (!peerIdOfAddress(p)) throw new HomeError('HOME_INVALID', `peer ${p} is not a multiaddr ending in /p2p/PEER_ID`);
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
  const chainId = opts.chainId ?? `brop-net-${Date.now().toString(36)}`;
  checkParams({ ...DEFAULT_CHAIN_PARAMS, ...opts.params, chainId });
  const basePort = opts.basePort ?? 26_600;
  // RPC on base + i, the middleware on base + 50, p2p on base + 100 + i (i up to N, the full node).
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + 100 + opts.validators > 65_535) {
    throw new HomeError('HOME_INVALID', `base port ${basePort}: the network's ports run to base + ${100 + opts.validators}, which must be at most 65535`);
  }
  mkdirSync(root, { recursive: true });
  const operator = newKeyPair();
  const operatorKey = join(root, 'operator.json');
  writeKeyFile(operatorKey, operator, { overwrite: true });
  const built = await buildSystemContracts();
  const names = [...Array.from({ length: opts.validators }, (_, i) => `validator-${i + 1}`), 'full-node'];
  const validatorKeys = names.slice(0, -1).map(() => newKeyPair());
  const peerKeys = await Promise.all(names.map(() => generateKeyPair('Ed25519')));
  const p2pAddress = (i: number) => `/ip4/127.0.0.1/tcp/${basePort + 100 + i}/p2p/${peerIdFromPrivateKey(peerKeys[i]!).toString()}`;
  const genesis = makeGenesis({
    chainId,
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
