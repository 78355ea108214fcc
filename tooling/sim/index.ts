/**
 * The simulation kit for contract authors: an in-process chain with the real VM. Deploy contracts,
 * call them as any account through their ABI, advance blocks and time, snapshot and revert, inspect
 * events and storage, and read a gas report. Works in any test runner (the project uses uvu).
 *
 *   const sim = new Simulation();
 *   const notary = await sim.deploy('examples/notary');
 *   const alice = sim.account('alice');
 *   notary.call('register', ['doc-1', digest, null], { as: alice }).expectOk();
 */
import { createHash } from 'node:crypto';
import { type AbiType, type StructTable, decode, encodeValues } from '../../contracts/sdk/codec.ts';
import { type AbiMethod, type ContractAbi, buildContract } from '../build/contract.ts';
import { type ContractEvent } from '../../vm/host.ts';
import { MemoryState, type StorageWrite, latin1 } from '../../vm/state.ts';
import { Vm, type CallResult } from '../../vm/vm.ts';
import type { VmError } from '../../vm/errors.ts';
import { accountAddress } from '../../contracts/system/index.ts';

export interface Account {
  name: string;
  /** A stand-in public key (the simulation does not sign); the address derives from it. */
  key: Uint8Array;
  address: Uint8Array;
  /** Lower-case hex of the address. */
  hex: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** An account's address: sha256("brop:address:" || public key), as the identity contract derives it. */
export { accountAddress };

/** The deterministic stand-in public key of a named test account, so tests read well and reproduce. */
export function testKey(name: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`brop:test-key:${name}`).digest());
}

/** Where the simulation deploys a contract that has no well-known address. */
export function contractAddress(name: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`brop:contract:${name}`).digest());
}

export class SimulationError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SimulationError';
    this.code = code;
  }
}

export interface SimEvent {
  contract: string;
  /** Topics as text (topic 0 is the event name). */
  name: string;
  topics: string[];
  data: Uint8Array;
}

/** The outcome of one call, with assertion helpers that fail with the contract's own error code. */
export class Outcome {
  readonly ok: boolean;
  /** The decoded return value (undefined for void methods and failures). */
  readonly value: unknown;
  readonly gasUsed: number;
  readonly error: VmError | null;
  readonly writes: StorageWrite[];
  private readonly rawEvents: ContractEvent[];
  private decodedEvents: SimEvent[] | undefined;
  readonly logs: string[];
  readonly method: string;
  constructor(method: string, r: CallResult, value: unknown) {
    this.method = method;
    this.ok = r.ok;
    this.value = value;
    this.gasUsed = r.gasUsed;
    this.error = r.error;
    this.rawEvents = r.events;
    this.writes = r.writes;
    this.logs = r.logs;
  }
  /** Events in emission order, topics as text (decoded on first use). */
  get events(): SimEvent[] {
    this.decodedEvents ??= this.rawEvents.map(toSimEvent);
    return this.decodedEvents;
  }
  /** The error code a test asserts on: the contract's own code for a revert, else the VM's. */
  get errorCode(): string | undefined {
    return this.error ? this.error.revertCode ?? this.error.code : undefined;
  }
  expectOk(): this {
    if (!this.ok) throw new SimulationError('EXPECTED_SUCCESS', `${this.method} failed with ${this.errorCode}: ${this.error!.message}${this.logs.length ? `\nlogs:\n${this.logs.join('\n')}` : ''}`);
    return this;
  }
  expectError(code: string): this {
    if (this.ok) throw new SimulationError('EXPECTED_FAILURE', `${this.method} succeeded, expected ${code}`);
    if (this.errorCode !== code) throw new SimulationError('WRONG_ERROR', `${this.method} failed with ${this.errorCode} (${this.error!.message}), expected ${code}`);
    return this;
  }
  /** Events named `name`, in emission order. */
  eventsNamed(name: string): SimEvent[] {
    return this.events.filter((e) => e.name === name);
  }
}

function toSimEvent(e: ContractEvent): SimEvent {
  const topics = e.topics.map((t) => Buffer.from(t).toString('utf8'));
  return { contract: hex(e.contract), name: topics[0] ?? '', topics, data: e.data };
}

export interface CallOptions {
  /** Caller account (default: the simulation's `deployer`). */
  as?: Account;
  gas?: number;
}

export interface GasRecord { contract: string; method: string; gasUsed: number; ok: boolean; inputBytes: number }

interface MethodPlan { method: AbiMethod; types: AbiType[]; names: string[] }

export class Contract {
  readonly sim: Simulation;
  readonly name: string;
  readonly address: Uint8Array;
  readonly abi: ContractAbi;
  readonly wasm: Uint8Array;
  private readonly plans = new Map<string, MethodPlan>();
  constructor(sim: Simulation, name: string, address: Uint8Array, wasm: Uint8Array, abi: ContractAbi) {
    this.sim = sim;
    this.name = name;
    this.address = address;
    this.wasm = wasm;
    this.abi = abi;
  }

  method(name: string): AbiMethod {
    return this.plan(name).method;
  }

  /** A method with its parameter types and names, worked out once. */
  private plan(name: string): MethodPlan {
    let p = this.plans.get(name);
    if (p === undefined) {
      const m = this.abi.methods.find((x) => x.name === name);
      if (!m) throw new SimulationError('NO_SUCH_METHOD', `${this.name} has no method "${name}" (it has: ${this.abi.methods.map((x) => x.name).join(', ')})`);
      p = { method: m, types: m.params.map((x) => x.type), names: m.params.map((x) => `${name}.${x.name}`) };
      this.plans.set(name, p);
    }
    return p;
  }

  /** Encodes arguments given positionally or by parameter name. */
  encodeArgs(method: string, args: readonly unknown[] | Record<string, unknown> = []): Uint8Array {
    const { method: m, types, names } = this.plan(method);
    const values = Array.isArray(args) ? args : m.params.map((p) => (args as Record<string, unknown>)[p.name]);
    return encodeValues(types, values, this.abi.structs, names);
  }

  /** A state-changing call: committed when it succeeds. */
  call(method: string, args?: readonly unknown[] | Record<string, unknown>, opts: CallOptions = {}): Outcome {
    return this.sim.invoke(this, method, this.encodeArgs(method, args), opts, false);
  }

  /** A read-only query: never changes state. */
  view(method: string, args?: readonly unknown[] | Record<string, unknown>, opts: CallOptions = {}): Outcome {
    return this.sim.invoke(this, method, this.encodeArgs(method, args), opts, true);
  }

  /** Decodes data of the contract's types (an event's data, say). */
  decode(type: AbiType, data: Uint8Array): unknown {
    return decode(type, data, this.abi.structs);
  }
}

export interface SimulationOptions {
  /** Gas limit of each call unless a call says otherwise. */
  gasLimit?: number;
  /** Milliseconds between blocks (SPEC C3: about 3 s). */
  blockIntervalMs?: number;
  startTime?: number;
}

export class Simulation {
  readonly vm = new Vm();
  state = new MemoryState();
  height = 1n;
  time: bigint;
  readonly blockIntervalMs: bigint;
  readonly gasLimit: number;
  readonly deployer: Account;
  readonly gasReport: GasRecord[] = [];
  private readonly contracts = new Map<string, Contract>();
  private readonly snapshots = new Map<number, { state: MemoryState; height: bigint; time: bigint; contracts: Map<string, Contract> }>();
  private nextSnapshot = 1;
  private txCounter = 0;
  private readonly codeOf = (a: Uint8Array) => this.contracts.get(latin1(a))?.wasm;

  constructor(opts: SimulationOptions = {}) {
    this.gasLimit = opts.gasLimit ?? 100_000_000;
    this.blockIntervalMs = BigInt(opts.blockIntervalMs ?? 3000);
    this.time = BigInt(opts.startTime ?? Date.UTC(2026, 0, 1));
    this.deployer = this.account('deployer');
  }

  account(name: string): Account {
    const key = testKey(name);
    const address = accountAddress(key);
    return { name, key, address, hex: hex(address) };
  }

  /** Builds (if given a project folder) and deploys a contract at a deterministic (or the given) address. */
  async deploy(source: string | { wasm: Uint8Array; abi: ContractAbi }, opts: { name?: string; address?: Uint8Array } = {}): Promise<Contract> {
    const { wasm, abi } = typeof source === 'string' ? await buildContract(source) : source;
    this.vm.prepare(wasm); // refuses invalid modules now, with the VM's typed error
    const name = opts.name ?? abi.name;
    if ([...this.contracts.values()].some((c) => c.name === name)) throw new SimulationError('ALREADY_DEPLOYED', `a contract named ${name} is already deployed`);
    const address = opts.address ?? contractAddress(name);
    if (this.contracts.has(latin1(address))) throw new SimulationError('ALREADY_DEPLOYED', `a contract is already deployed at ${hex(address)}`);
    const c = new Contract(this, name, address, wasm, abi);
    this.contracts.set(latin1(address), c);
    return c;
  }

  contractAt(address: Uint8Array): Contract | undefined {
    return this.contracts.get(latin1(address));
  }

  /** Moves to a later block: `blocks` heights and blocks × interval (or `ms`) of time. */
  advance(blocks = 1, ms?: number): void {
    this.height += BigInt(blocks);
    this.time += ms !== undefined ? BigInt(ms) : this.blockIntervalMs * BigInt(blocks);
  }

  snapshot(): number {
    const id = this.nextSnapshot++;
    this.snapshots.set(id, { state: this.state.clone(), height: this.height, time: this.time, contracts: new Map(this.contracts) });
    return id;
  }

  /** Back to a snapshot (which stays usable for later reverts). */
  revert(id: number): void {
    const s = this.snapshots.get(id);
    if (!s) throw new SimulationError('NO_SUCH_SNAPSHOT', `no snapshot ${id}`);
    this.state = s.state.clone();
    this.height = s.height;
    this.time = s.time;
    this.contracts.clear();
    for (const [k, v] of s.contracts) this.contracts.set(k, v);
  }

  invoke(contract: Contract, method: string, input: Uint8Array, opts: CallOptions, readOnly: boolean, record = true): Outcome {
    const m = contract.method(method);
    if (!readOnly && m.kind === 'view') readOnly = true;
    const caller = (opts.as ?? this.deployer).address;
    // A unique, deterministic stand-in for the transaction hash: "sim" and a counter.
    let txHash: Uint8Array | undefined;
    if (!readOnly) {
      txHash = new Uint8Array(32);
      txHash[0] = 0x73;
      txHash[1] = 0x69;
      txHash[2] = 0x6d;
      const n = ++this.txCounter;
      for (let i = 0; i < 6; i++) txHash[31 - i] = Math.floor(n / 2 ** (8 * i)) & 0xff; // big-endian, below 2^48
    }
    const r = this.vm.call({
      contract: contract.address, method, input, caller, txHash, readOnly,
      gasLimit: opts.gas ?? this.gasLimit, blockHeight: this.height, blockTime: this.time,
    }, { state: this.state, code: this.codeOf });
    if (r.ok && !readOnly) this.state.apply(r.writes);
    if (record) this.gasReport.push({ contract: contract.name, method, gasUsed: r.gasUsed, ok: r.ok, inputBytes: input.length });
    const value = r.ok && m.returns !== null ? decode(m.returns, r.output, contract.abi.structs) : undefined;
    return new Outcome(method, r, value);
  }

  /**
   * Quota points per call (SPEC Q3), as the deployed quota system contract prices them: each
   * recorded call with its points. Without a quota contract, points are not known (undefined).
   */
  quotaReport(): Array<GasRecord & { points: bigint | undefined }> {
    const quota = [...this.contracts.values()].find((c) => c.name === 'quota' && c.abi.methods.some((m) => m.name === 'cost'));
    return this.gasReport.map((g) => ({
      ...g,
      points: quota ? (this.invoke(quota, 'cost', quota.encodeArgs('cost', [g.inputBytes, g.gasUsed]), {}, true, false).value as bigint) : undefined,
    }));
  }

  /** Gas per contract method: calls, mean and max. */
  gasSummary(): Array<{ contract: string; method: string; calls: number; mean: number; max: number }> {
    const groups = new Map<string, GasRecord[]>();
    for (const g of this.gasReport) {
      const k = `${g.contract}.${g.method}`;
      groups.set(k, [...(groups.get(k) ?? []), g]);
    }
    return [...groups.values()].map((gs) => ({
      contract: gs[0]!.contract, method: gs[0]!.method, calls: gs.length,
      mean: Math.round(gs.reduce((s, g) => s + g.gasUsed, 0) / gs.length), max: Math.max(...gs.map((g) => g.gasUsed)),
    }));
  }
}

export type { ContractAbi, AbiMethod, StructTable };
