/**
 * The genesis file and the state it starts the chain with. `brop init` writes the file; every node
 * of the chain computes the same genesis block from it: the system contracts at their addresses (by
 * code hash), the operator set in admission, the validators in governance, the genesis accounts
 * self-registered in identity, and the quota schedule if the file gives one.
 */
import { createHash } from 'node:crypto';
import { Vm } from '../vm/vm.ts';
import { Journal, type StorageWrite, MemoryState } from '../vm/state.ts';
import { deterministicErrorText } from '../vm/errors.ts';
import { accountAddress, systemAddress, SYSTEM_CONTRACTS } from '../contracts/system/index.ts';
import type { ContractAbi } from '../tooling/build/contract.ts';
import { type ChainParams, DEFAULT_CHAIN_PARAMS, ParamsError, checkParams } from './chain/params.ts';
import { type BlockHeader, GENESIS_LAST_COMMIT, commitHash, validatorSetHash } from './chain/block.ts';
import { EMPTY_LIST_ROOT } from './chain/merkle.ts';
import { fromHex, hex } from './chain/hash.ts';
import { ContractRegistry, type DeployedContract, encodeArgs } from './execution/contracts.ts';

export interface GenesisAccount {
  name: string;
  /** 0x-hex Ed25519 public key; the address derives from it. */
  publicKey: string;
}

export interface GenesisContract {
  name: string;
  address: string;
  /** 0x-hex sha256 of the wasm; the node refuses code that does not match. */
  codeHash: string;
}

export interface GenesisFile {
  chainId: string;
  /** Milliseconds since the epoch: the genesis block's time. */
  genesisTime: number;
  params: Omit<ChainParams, 'chainId'>;
  operator: GenesisAccount & { legalDigest: string };
  validators: GenesisAccount[];
  /** Registered in identity at genesis (operator and validators are always). */
  accounts: GenesisAccount[];
  contracts: GenesisContract[];
  /** Overrides the quota contract's default schedule (decimal strings). */
  quotaSchedule?: Record<string, string>;
}

export interface GenesisInput {
  chainId: string;
  genesisTime?: number;
  params?: Partial<Omit<ChainParams, 'chainId'>>;
  operator: { name: string; publicKey: Uint8Array };
  validators: Array<{ name: string; publicKey: Uint8Array }>;
  accounts?: Array<{ name: string; publicKey: Uint8Array }>;
  contracts: Array<{ name: string; wasm: Uint8Array }>;
  quotaSchedule?: Record<string, bigint | number>;
}

export function codeHashOf(wasm: Uint8Array): string {
  return `0x${createHash('sha256').update(wasm).digest('hex')}`;
}

export function makeGenesis(input: GenesisInput): GenesisFile {
  const acct = (a: { name: string; publicKey: Uint8Array }): GenesisAccount => ({ name: a.name, publicKey: `0x${hex(a.publicKey)}` });
  return {
    chainId: input.chainId,
    genesisTime: input.genesisTime ?? Date.now(),
    params: { ...DEFAULT_CHAIN_PARAMS, ...input.params },
    operator: { ...acct(input.operator), legalDigest: `0x${createHash('sha256').update(`operator agreement of ${input.chainId}`).digest('hex')}` },
    validators: input.validators.map(acct),
    accounts: (input.accounts ?? []).map(acct),
    contracts: input.contracts.map((c) => ({ name: c.name, address: `0x${hex(systemAddress(c.name))}`, codeHash: codeHashOf(c.wasm) })),
    quotaSchedule: input.quotaSchedule ? Object.fromEntries(Object.entries(input.quotaSchedule).map(([k, v]) => [k, String(v)])) : undefined,
  };
}

export function chainParams(g: GenesisFile): ChainParams {
  return checkParams({ ...DEFAULT_CHAIN_PARAMS, ...g.params, chainId: g.chainId });
}

function publicKeyOf(a: GenesisAccount, what: string): Uint8Array {
  const k = typeof a?.publicKey === 'string' ? fromHex(a.publicKey, 32) : undefined;
  if (!k) throw new ParamsError(`${what}: publicKey must be 32 bytes of hex`);
  return k;
}

export function validatorAddresses(g: GenesisFile): Uint8Array[] {
  return g.validators.map((v, i) => accountAddress(publicKeyOf(v, `validators[${i}]`)));
}

/** Checks the file's shape and that every system contract is there with code matching its hash. */
export function checkGenesis(g: GenesisFile, load: (name: string, codeHash: string) => { wasm: Uint8Array; abi: ContractAbi } | undefined): DeployedContract[] {
  chainParams(g);
  if (!Number.isSafeInteger(g.genesisTime) || g.genesisTime < 0) throw new ParamsError('genesisTime must be milliseconds since the epoch');
  if (!Array.isArray(g.validators) || g.validators.length === 0) throw new ParamsError('at least one validator');
  publicKeyOf(g.operator, 'operator');
  validatorAddresses(g);
  (g.accounts ?? []).forEach((a, i) => publicKeyOf(a, `accounts[${i}]`));
  const out: DeployedContract[] = [];
  for (const name of SYSTEM_CONTRACTS) {
    const c = g.contracts?.find((x) => x.name === name);
    if (!c) throw new ParamsError(`system contract ${name} missing`);
    if (c.address.toLowerCase() !== `0x${hex(systemAddress(name))}`) throw new ParamsError(`system contract ${name} must be at its well-known address`);
    const found = load(name, c.codeHash.toLowerCase());
    if (!found || codeHashOf(found.wasm) !== c.codeHash.toLowerCase()) throw new ParamsError(`code of ${name} (${c.codeHash}) is missing or does not match its hash`);
    out.push({ name, address: systemAddress(name), wasm: found.wasm, abi: found.abi });
  }
  return out;
}

/**
 * The genesis state's writes: the calls that set the chain up, run as the system (or as each genesis
 * account registering itself) at height 0. Deterministic: every node gets the same writes.
 */
export function genesisWrites(g: GenesisFile, contracts: ContractRegistry, vm: Vm = new Vm()): StorageWrite[] {
  const state = new Journal(new MemoryState());
  const ctx = { blockHeight: 0n, blockTime: BigInt(g.genesisTime) };
  const run = (contractName: string, method: string, args: unknown[], caller: Uint8Array) => {
    const c = contracts.named(contractName)!;
    const r = vm.call({ contract: c.address, method, input: encodeArgs(c, method, args), caller, gasLimit: 100_000_000, ...ctx }, { state, code: contracts.codeOf });
    if (!r.ok) throw new ParamsError(`genesis call ${contractName}.${method} failed: ${deterministicErrorText(r.error)}`);
    for (const w of r.writes) state.set(w.contract, w.key, w.value);
  };
  const system = new Uint8Array(32);
  const operatorKey = publicKeyOf(g.operator, 'operator');
  const operator = accountAddress(operatorKey);
  run('admission', 'init', [operator, fromHex(g.operator.legalDigest, 32) ?? new Uint8Array(32).fill(1)], system);
  run('governance', 'init', [validatorAddresses(g)], system);
  const seen = new Set<string>();
  for (const a of [{ ...g.operator }, ...g.validators, ...(g.accounts ?? [])]) {
    const key = publicKeyOf(a, a.name);
    if (seen.has(hex(key))) continue;
    seen.add(hex(key));
    run('identity', 'register', [key, null], accountAddress(key));
  }
  if (g.quotaSchedule) {
    const quota = contracts.named('quota')!;
    const fields = quota.abi.structs.Schedule!.map((f) => f.name);
    const schedule = Object.fromEntries(fields.map((f) => {
      const v = g.quotaSchedule![f];
      if (v === undefined || !/^\d+$/.test(v)) throw new ParamsError(`quotaSchedule.${f} must be a decimal integer`);
      return [f, BigInt(v)];
    }));
    run('quota', 'setSchedule', [schedule], operator);
  }
  return state.toWrites();
}

/** The genesis block's header: height 0, no transactions, the genesis state's root. It has no commit. */
export function genesisHeader(g: GenesisFile, stateRoot: Uint8Array): BlockHeader {
  return {
    chainId: g.chainId, height: 0n, time: BigInt(g.genesisTime), prevHash: new Uint8Array(32),
    txRoot: EMPTY_LIST_ROOT, stateRoot, receiptsRoot: EMPTY_LIST_ROOT, proposer: new Uint8Array(32),
    validatorSetHash: validatorSetHash(validatorAddresses(g)), nextValidatorSetHash: validatorSetHash(validatorAddresses(g)),
    lastCommitHash: commitHash(GENESIS_LAST_COMMIT),
  };
}

/** sha256 of the genesis file's content (keys sorted, so formatting does not matter): what a data folder belongs to. */
export function genesisHash(g: GenesisFile): Uint8Array {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical)
      : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return new Uint8Array(createHash('sha256').update(JSON.stringify(canonical(g))).digest());
}
