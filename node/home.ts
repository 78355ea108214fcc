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

export interface NodeConfig {
  /** RPC address and limits (requests per second and burst per client address; false: no limit). */
  rpc: { host: string; port: number; rateLimit?: { perSecond: number; burst: number } | false; maxBatch?: number };
  mempool?: Partial<MempoolLimits>;
  /** Key file (relative to the home) of the validator this node runs; null: not a validator. */
  validatorKey: string | null;
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

/** Creates a single-validator chain's home: keys, system contracts, genesis and config. */
export async function initHome(dir: string, opts: InitOptions = {}): Promise<InitResult> {
  const home = resolve(dir);
  if (existsSync(join(home, 'genesis.json'))) throw new HomeError('HOME_EXISTS', `${home} already holds a chain (genesis.json): refusing to overwrite it`);
  mkdirSync(join(home, 'contracts'), { recursive: true });
  const operator = newKeyPair(), validator = newKeyPair();
  const operatorKey = join(home, 'keys', 'operator.json'), validatorKey = join(home, 'keys', 'validator.json');
  writeKeyFile(operatorKey, operator, { overwrite: true });
  writeKeyFile(validatorKey, validator, { overwrite: true });
  const contracts = [];
  for (const name of SYSTEM_CONTRACTS) {
    const built = await buildSystemContract(name);
    writeFileSync(join(home, 'contracts', `${name}.wasm`), built.wasm);
    writeJson(join(home, 'contracts', `${name}.abi.json`), built.abi);
    contracts.push({ name, wasm: built.wasm });
  }
  const genesis = makeGenesis({
    chainId: opts.chainId ?? `brop-local-${Date.now().toString(36)}`,
    params: opts.params,
    operator: { name: 'operator', publicKey: operator.publicKey },
    validators: [{ name: 'validator-1', publicKey: validator.publicKey }],
    contracts,
    quotaSchedule: opts.quotaSchedule,
  });
  const config: NodeConfig = { rpc: { host: '127.0.0.1', port: opts.rpcPort ?? DEFAULT_RPC_PORT, ...opts.rpc }, validatorKey: 'keys/validator.json' };
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
  dataDir: string;
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
  const validatorKey = config.validatorKey ? readKeyFile(join(home, config.validatorKey)) : undefined;
  return { home, genesis, config, contracts, validatorKey, dataDir: join(home, 'data') };
}
