/**
 * The VM: prepares contract code (validate, instrument, compile, cache by code hash) and runs calls.
 *
 * Isolation without instantiation cost: instances are pooled per code hash. Before an instance is
 * reused its linear memory is restored from the snapshot taken right after instantiation and its
 * globals are reset by the injected `__brop_reset`; an instance whose memory grew is discarded, so
 * `memory.size` is always what a fresh instance would see. Validation forbids every other kind of
 * instance state (table mutation, dropped segments), so nothing leaks from one call to the next.
 */
import { createHash, getHashes } from 'node:crypto';
import { type CostTable, COST_TABLE_V1 } from './costs.ts';
import { VmError } from './errors.ts';
import { type ContractEvent, type Frame, type HostInstance, type HostLimits, DEFAULT_HOST_LIMITS, hostImports } from './host.ts';
import { EXPORT_GAS, EXPORT_HOST_GAS, EXPORT_MEMORY, EXPORT_RESET, EXPORT_SAVE, EXPORT_STACK, type InstrumentOptions, RESERVED_PREFIX, instrument } from './instrument.ts';
import { Journal, type StateView, type StorageWrite } from './state.ts';
import { type ModuleLimits, DEFAULT_MODULE_LIMITS, validateModule } from './validate.ts';
import { type FuncType, type WasmModule, funcTypeOf, parseModule } from './wasm/module.ts';

export interface VmConfig {
  limits: ModuleLimits;
  host: HostLimits;
  costs: CostTable;
  /** Summed WebAssembly frame size allowed across the whole call tree, in 8-byte slots. */
  stackLimit: number;
  /** Maximum nesting of cross-contract calls (the top-level call is depth 0). */
  maxCallDepth: number;
  /** Prepared contracts kept compiled. */
  cacheSize: number;
  /** Idle instances kept per contract. */
  poolSize: number;
  /** Memory held by idle instances across all contracts, in bytes. */
  poolBytesLimit: number;
  /** Gas for a module's `_initialize` export, run once per instance before its memory is snapshotted. */
  initGasLimit: number;
}

export const DEFAULT_VM_CONFIG: VmConfig = {
  limits: DEFAULT_MODULE_LIMITS,
  host: DEFAULT_HOST_LIMITS,
  costs: COST_TABLE_V1,
  stackLimit: 24 * 1024,
  maxCallDepth: 8,
  cacheSize: 256,
  poolSize: 4,
  poolBytesLimit: 256 * 1024 * 1024,
  initGasLimit: 10_000_000,
};

/**
 * The initialiser export (the WASI reactor convention; AssemblyScript's `--exportStart _initialize`).
 * Start sections are refused because they run implicitly; this runs explicitly, metered, once per
 * instance, and the state it leaves is what every call starts from. It is not callable as a method.
 */
export const INITIALIZE_EXPORT = '_initialize';

/** Stack slots charged for the host's own frames on every cross-contract call. */
export const HOST_CALL_STACK_SLOTS = 512;
/** Gas limits are JS numbers; this keeps every gas sum exact. */
export const MAX_GAS = Number.MAX_SAFE_INTEGER;
export const ADDRESS_BYTES = 32;

export interface CallRequest {
  /** Address of the called contract (32 bytes): its storage namespace. */
  contract: Uint8Array;
  /** The contract's code; when absent it is looked up with `env.code(contract)`. */
  code?: Uint8Array;
  method: string;
  input?: Uint8Array;
  gasLimit: number;
  caller: Uint8Array;
  txHash?: Uint8Array;
  blockHeight?: number | bigint;
  blockTime?: number | bigint;
  /** Storage writes and events are refused (queries). */
  readOnly?: boolean;
}

export interface HostEnvironment {
  state: StateView;
  /** Code deployed at an address: needed for cross-contract calls. */
  code?: (address: Uint8Array) => Uint8Array | undefined;
}

export interface CallResult {
  ok: boolean;
  /** The export's own numeric return value, if it has one. */
  result: number | bigint | undefined;
  /** Return data set through the `output` host call. */
  output: Uint8Array;
  gasUsed: number;
  error: VmError | null;
  /** Empty unless ok: a failed call has no effects. */
  events: ContractEvent[];
  writes: StorageWrite[];
  /** Debug lines from the `log` host call, kept even when the call fails. Not part of consensus. */
  logs: string[];
}

export interface PreparedContract {
  codeHash: string;
  /** Callable exports and their types (reserved instrumentation exports excluded). */
  exports: ReadonlyMap<string, FuncType>;
  /** The instrumented module bytes, exactly as run. */
  instrumented: Uint8Array;
  readonly module: WebAssembly.Module;
  readonly pool: LiveInstance[];
  readonly initializes: boolean;
  /**
   * Gas `_initialize` used (measured once: it is deterministic). Every call pays it, since whether a
   * call meets a fresh instance that re-runs it depends on pool state, which differs between nodes.
   */
  initGasUsed: number;
}

class LiveInstance implements HostInstance {
  current: Frame | null = null;
  /** i64: the counter between WebAssembly functions. */
  gas!: WebAssembly.Global;
  /** f64: the counter host functions charge. */
  hostGas!: WebAssembly.Global;
  stack!: WebAssembly.Global;
  memory: WebAssembly.Memory | undefined;
  reset!: () => void;
  exports!: WebAssembly.Exports;
  /** Memory contents right after instantiation. */
  snapshot: Uint8Array | undefined;
  used = false;
}

const ZERO_HASH = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

export function codeHash(code: Uint8Array): string {
  return createHash('sha256').update(code).digest('hex');
}

function asModuleError(e: unknown): VmError {
  if (e instanceof VmError) return e;
  // The decoder is written to throw only VmError; anything else still means the bytes are bad.
  return new VmError('VM_MODULE_MALFORMED', `cannot decode module: ${(e as Error)?.message ?? String(e)}`);
}

/** Structural decoding, then the engine's own validation of the original module. */
export function decodeModule(code: Uint8Array, maxCodeBytes = Infinity): WasmModule {
  if (code.length > maxCodeBytes) throw new VmError('VM_MODULE_LIMIT', `code of ${code.length} bytes exceeds the limit of ${maxCodeBytes}`);
  let m: WasmModule;
  try {
    m = parseModule(code);
  } catch (e) {
    throw asModuleError(e);
  }
  if (!WebAssembly.validate(code)) {
    let message = 'rejected by the WebAssembly validator';
    try {
      new WebAssembly.Module(code);
    } catch (e) {
      message = (e as Error).message;
    }
    throw new VmError('VM_MODULE_INVALID', message);
  }
  return m;
}

export class Vm {
  readonly config: VmConfig;
  private readonly cache = new Map<string, PreparedContract>();
  /** The same code object again skips hashing (a node hands out one object per deployed contract). */
  private readonly byObject = new WeakMap<Uint8Array, PreparedContract>();
  private pooledBytes = 0;

  constructor(config: Partial<VmConfig> = {}) {
    this.config = { ...DEFAULT_VM_CONFIG, ...config };
    // The host API promises SM3; a Node built without it must not run contracts (results would differ).
    if (!getHashes().includes('sm3')) throw new Error('this Node.js build has no SM3 hash (OpenSSL without SM3): BROP cannot run contracts on it');
  }

  /** The instrumentation this VM applies; `gasLimit` is only the counter's initial value. */
  instrumentOptions(gasLimit: number): InstrumentOptions {
    const { stackLimit, costs, limits } = this.config;
    return { gasLimit, stackLimit, maxMemoryPages: limits.maxMemoryPages, costs };
  }

  /**
   * Validates, instruments and compiles code; cached by code hash (and by the code object itself, so
   * code handed to the VM must not be changed in place afterwards). Throws VmError for a bad module.
   */
  prepare(code: Uint8Array): PreparedContract {
    const known = this.byObject.get(code);
    if (known && this.cache.get(known.codeHash) === known) return known;
    const hash = codeHash(code);
    const hit = this.cache.get(hash);
    if (hit) {
      this.byObject.set(code, hit);
      this.cache.delete(hash);
      this.cache.set(hash, hit);
      return hit;
    }
    const { limits } = this.config;
    const m = decodeModule(code, limits.maxCodeBytes);
    try {
      validateModule(m, limits);
    } catch (e) {
      throw asModuleError(e);
    }
    let instrumented: Uint8Array;
    try {
      instrumented = instrument(m, this.instrumentOptions(0)).bytes;
    } catch (e) {
      throw asModuleError(e);
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(instrumented);
    } catch (e) {
      throw new VmError('VM_MODULE_INVALID', `instrumented module rejected by the engine: ${(e as Error).message}`);
    }
    const exports = new Map<string, FuncType>();
    for (const e of m.exports) {
      if (e.kind === 'func' && !e.name.startsWith(RESERVED_PREFIX) && e.name !== INITIALIZE_EXPORT) {
        const type = funcTypeAt(m, e.index);
        if (type) exports.set(e.name, type);
      }
    }
    const initType = m.exports.find((e) => e.kind === 'func' && e.name === INITIALIZE_EXPORT);
    if (initType) {
      const t = funcTypeAt(m, initType.index);
      if (!t || t.params.length > 0 || t.results.length > 0) throw new VmError('VM_MODULE_FORBIDDEN', `${INITIALIZE_EXPORT} must take no parameters and return nothing`);
    }
    const prepared: PreparedContract = { codeHash: hash, exports, instrumented, module, pool: [], initializes: initType !== undefined, initGasUsed: 0 };
    this.cache.set(hash, prepared);
    this.byObject.set(code, prepared);
    // Instantiate once now, so that a module whose initialiser fails is refused at deployment.
    try {
      this.release(prepared, this.acquire(prepared));
    } catch (e) {
      this.cache.delete(hash);
      this.byObject.delete(code);
      throw e;
    }
    if (this.cache.size > this.config.cacheSize) {
      const [oldest, evicted] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      for (const live of evicted.pool) this.pooledBytes -= memoryBytes(live);
      evicted.pool.length = 0;
    }
    return prepared;
  }

  /** Runs one contract call. Never throws for anything the contract or its input does. */
  call(req: CallRequest, env: HostEnvironment): CallResult {
    const fail = (error: VmError): CallResult => ({ ok: false, result: undefined, output: EMPTY, gasUsed: 0, error, events: [], writes: [], logs: [] });
    const bad = checkRequest(req, this.config.host);
    if (bad) return fail(bad);
    const prepared = this.load(req.code ?? env.code?.(req.contract), req.contract);
    if (prepared instanceof VmError) return fail(prepared);
    const frame: Frame = {
      contract: req.contract,
      caller: req.caller,
      input: req.input ?? EMPTY,
      output: EMPTY,
      txHash: req.txHash ?? ZERO_HASH,
      blockHeight: BigInt(req.blockHeight ?? 0),
      blockTime: BigInt(req.blockTime ?? 0),
      readOnly: req.readOnly ?? false,
      depth: 0,
      journal: new Journal(env.state),
      events: [],
      eventCount: { n: 0 },
      logs: [],
      lastResult: EMPTY,
    };
    const r = this.invoke(prepared, req.method, frame, req.gasLimit, 0, env);
    return {
      ok: r.error === null,
      result: r.result,
      output: r.error === null ? frame.output : EMPTY,
      gasUsed: r.gasUsed,
      error: r.error,
      events: r.error === null ? frame.events : [],
      writes: r.error === null ? frame.journal.toWrites() : [],
      logs: frame.logs,
    };
  }

  /** The prepared contract for code found at an address, or why there is none. */
  private load(code: Uint8Array | undefined, address: Uint8Array): PreparedContract | VmError {
    if (!code) return new VmError('VM_NO_SUCH_CONTRACT', `no contract at ${Buffer.from(address).toString('hex')}`);
    try {
      return this.prepare(code);
    } catch (e) {
      return asModuleError(e);
    }
  }

  /** A clean instance; a fresh one runs `_initialize` on top of the caller's stack use (`stackBase`). */
  private acquire(prepared: PreparedContract, stackBase = 0): LiveInstance {
    const pooled = prepared.pool.pop();
    if (pooled) {
      this.pooledBytes -= memoryBytes(pooled);
      return pooled;
    }
    const live = new LiveInstance();
    const imports = hostImports(live, this.config.costs, this.config.host, (f, inst, address, method, input, gas) =>
      this.nestedCall(f, inst, address, method, input, gas));
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(prepared.module, imports);
    } catch (e) {
      // e.g. an active data or element segment outside its memory or table
      throw new VmError('VM_MODULE_INVALID', `instantiation failed: ${(e as Error).message}`);
    }
    const ex = instance.exports;
    live.exports = ex;
    live.gas = ex[EXPORT_GAS] as WebAssembly.Global;
    live.hostGas = ex[EXPORT_HOST_GAS] as WebAssembly.Global;
    live.stack = ex[EXPORT_STACK] as WebAssembly.Global;
    live.reset = ex[EXPORT_RESET] as () => void;
    live.memory = ex[EXPORT_MEMORY] as WebAssembly.Memory | undefined;
    if (prepared.initializes) {
      setGas(live, this.config.initGasLimit);
      live.stack.value = stackBase;
      try {
        (ex[INITIALIZE_EXPORT] as () => void)();
      } catch (e) {
        const why = e instanceof VmError ? e : this.classify(e, live);
        throw new VmError('VM_MODULE_INIT_FAILED', `${INITIALIZE_EXPORT} failed: ${why.code}: ${why.message}`);
      }
      if (gasLeft(live) < 0) throw new VmError('VM_MODULE_INIT_FAILED', `${INITIALIZE_EXPORT} failed: VM_OUT_OF_GAS: out of gas`);
      prepared.initGasUsed = this.config.initGasLimit - gasLeft(live);
      (ex[EXPORT_SAVE] as () => void)();
    }
    if (live.memory && live.memory.buffer.byteLength > 0) live.snapshot = new Uint8Array(live.memory.buffer).slice();
    return live;
  }

  private release(prepared: PreparedContract, live: LiveInstance): void {
    // An evicted contract's instances are not kept (its pool is gone from the accounting).
    if (this.cache.get(prepared.codeHash) !== prepared) return;
    // An instance whose memory grew cannot be shrunk back: drop it.
    const bytes = memoryBytes(live);
    if (bytes !== (live.snapshot?.length ?? 0)) return;
    if (prepared.pool.length >= this.config.poolSize || this.pooledBytes + bytes > this.config.poolBytesLimit) return;
    prepared.pool.push(live);
    this.pooledBytes += bytes;
  }

  private invoke(prepared: PreparedContract, method: string, frame: Frame, gasLimit: number, stackBase: number, env: HostEnvironment):
    { result: number | bigint | undefined; gasUsed: number; error: VmError | null } {
    const type = prepared.exports.get(method);
    if (!type) return { result: undefined, gasUsed: 0, error: new VmError('VM_NO_SUCH_EXPORT', `the contract exports no method "${method}"`) };
    if (type.params.length > 0 || type.results.length > 1) {
      return { result: undefined, gasUsed: 0, error: new VmError('VM_BAD_EXPORT_SIGNATURE', `method "${method}" must take no parameters and return at most one value (arguments travel as input bytes)`) };
    }
    let live: LiveInstance;
    try {
      live = this.acquire(prepared, stackBase);
    } catch (e) {
      return { result: undefined, gasUsed: 0, error: asModuleError(e) };
    }
    // Every call pays for the state it starts from: its initial memory (restored in place for a reused
    // instance) and the initialiser that produced it.
    const setup = ((live.snapshot?.length ?? 0) / 65536) * this.config.costs.callMemoryPerPage + prepared.initGasUsed;
    if (setup > gasLimit) {
      this.release(prepared, live);
      return { result: undefined, gasUsed: gasLimit, error: new VmError('VM_OUT_OF_GAS', 'out of gas before the call started: not enough for its initial memory') };
    }
    if (live.used) {
      if (live.snapshot) new Uint8Array(live.memory!.buffer).set(live.snapshot);
      live.reset();
    }
    live.used = true;
    setGas(live, gasLimit - setup);
    live.stack.value = stackBase;
    live.current = frame;
    this.envs.push(env);
    let result: number | bigint | undefined;
    let error: VmError | null = null;
    try {
      result = (live.exports[method] as () => number | bigint | undefined)();
    } catch (e) {
      error = this.classify(e, live);
    } finally {
      live.current = null;
      this.envs.pop();
    }
    const left = gasLeft(live);
    // Forward-only code may leave the counter negative without a test before returning: still out of gas.
    if (left < 0 && error === null) error = new VmError('VM_OUT_OF_GAS', 'out of gas');
    // Traps end the call where the counter was not published: they consume the whole limit.
    const consumesAll = error !== null && (error.code === 'VM_OUT_OF_GAS' || error.code === 'VM_TRAP' || error.code === 'VM_STACK_OVERFLOW');
    const gasUsed = consumesAll ? gasLimit : gasLimit - left;
    this.release(prepared, live);
    return { result: error ? undefined : result, gasUsed, error };
  }

  /** The host environment of the innermost running top-level call (nested calls share it). */
  private readonly envs: HostEnvironment[] = [];

  private classify(e: unknown, live: LiveInstance): VmError {
    if (gasLeft(live) < 0) return new VmError('VM_OUT_OF_GAS', 'out of gas');
    if (e instanceof VmError) return e;
    if (e instanceof WebAssembly.RuntimeError) {
      if ((live.stack.value as number) >>> 0 > this.config.stackLimit) {
        return new VmError('VM_STACK_OVERFLOW', `stack limit of ${this.config.stackLimit} slots exceeded`);
      }
      return new VmError('VM_TRAP', e.message);
    }
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      // Must not happen: the instrumented stack limit is set well below the engine's. Reported, not hidden.
      return new VmError('VM_STACK_OVERFLOW', `host engine stack exhausted before the VM limit (configuration error): ${e.message}`);
    }
    throw e;
  }

  private nestedCall(caller: Frame, inst: HostInstance, address: Uint8Array, method: string, input: Uint8Array, gas: number) {
    const env = this.envs[this.envs.length - 1]!;
    const failed = (error: VmError) => ({ ok: false, output: EMPTY, gasUsed: 0, error });
    if (caller.depth + 1 > this.config.maxCallDepth) {
      return failed(new VmError('VM_CALL_DEPTH', `cross-contract call depth above ${this.config.maxCallDepth}`));
    }
    const prepared = this.load(env.code?.(address), address);
    if (prepared instanceof VmError) return failed(prepared);
    const frame: Frame = {
      ...caller,
      contract: address,
      caller: caller.contract,
      input,
      output: EMPTY,
      depth: caller.depth + 1,
      journal: new Journal(caller.journal),
      events: [],
      logs: caller.logs,
      lastResult: EMPTY,
    };
    const stackBase = ((inst.stack.value as number) >>> 0) + HOST_CALL_STACK_SLOTS;
    const r = this.invoke(prepared, method, frame, gas, stackBase, env);
    if (r.error === null) {
      frame.journal.commitInto(caller.journal);
      for (const e of frame.events) caller.events.push(e); // no spread: event lists can be long
    }
    return { ok: r.error === null, output: r.error === null ? frame.output : EMPTY, gasUsed: r.gasUsed, error: r.error };
  }
}

function setGas(live: LiveInstance, gas: number): void {
  live.gas.value = BigInt(gas);
  live.hostGas.value = gas;
}

/**
 * Gas left after a call: the i64 global holds it when WebAssembly returned normally; a host function
 * that failed has lowered only the f64 copy. Both only ever go down, so the lower one is current.
 */
function gasLeft(live: LiveInstance): number {
  return Math.min(Number(live.gas.value as bigint), live.hostGas.value as number);
}

function memoryBytes(live: LiveInstance): number {
  return live.memory?.buffer.byteLength ?? 0;
}

function funcTypeAt(m: WasmModule, index: number): FuncType | undefined {
  try {
    return funcTypeOf(m, index);
  } catch {
    return undefined;
  }
}

function checkRequest(req: CallRequest, limits: HostLimits): VmError | null {
  const bad = (m: string) => new VmError('VM_BAD_REQUEST', m);
  if (!(req.contract instanceof Uint8Array) || req.contract.length !== ADDRESS_BYTES) return bad('contract address must be 32 bytes');
  if (!(req.caller instanceof Uint8Array) || req.caller.length !== ADDRESS_BYTES) return bad('caller address must be 32 bytes');
  if (req.txHash !== undefined && req.txHash.length !== 32) return bad('transaction hash must be 32 bytes');
  if (!Number.isSafeInteger(req.gasLimit) || req.gasLimit < 0 || req.gasLimit > MAX_GAS) return bad('gas limit must be a non-negative safe integer');
  if (typeof req.method !== 'string' || req.method.length === 0) return bad('method must be a non-empty string');
  if (req.method.startsWith(RESERVED_PREFIX)) return bad(`method names starting with ${RESERVED_PREFIX} are reserved`);
  if (req.input !== undefined && !(req.input instanceof Uint8Array)) return bad('input must be bytes');
  if ((req.input?.length ?? 0) > limits.maxInputBytes) return bad(`input exceeds ${limits.maxInputBytes} bytes`);
  if (!isBlockNumber(req.blockHeight)) return bad('block height must be a non-negative integer');
  if (!isBlockNumber(req.blockTime)) return bad('block time must be a non-negative integer');
  return null;
}

const I64_LIMIT = 2n ** 63n;

function isBlockNumber(v: number | bigint | undefined): boolean {
  return v === undefined || (typeof v === 'bigint' ? v >= 0n && v < I64_LIMIT : Number.isSafeInteger(v) && v >= 0);
}
