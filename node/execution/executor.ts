/**
 * Executes transactions in the VM against the system contracts, deterministically: the same block on
 * the same state gives the same writes and receipts on every node. Per transaction: the sender's key
 * must be authorised by the identity contract, the call runs with the chain's per-transaction gas, and
 * the quota contract charges the sender (SPEC Q3). A transaction that cannot be authorised or paid for
 * leaves no writes; its receipt says why.
 */
import { Vm, type CallResult, type CallRequest } from '../../vm/vm.ts';
import { Journal, type StateView, type StorageWrite, type StorageEntry, latin1 } from '../../vm/state.ts';
import { deterministicErrorText } from '../../vm/errors.ts';
import { accountAddress, systemAddress } from '../../contracts/system/index.ts';
import { decode, encodeValues } from '../../contracts/sdk/codec.ts';
import type { SignedTx } from '../tx/transaction.ts';
import { type Receipt, RECEIPT_FAILED, RECEIPT_OK } from '../chain/block.ts';
import type { ChainParams } from '../chain/params.ts';
import { equalBytes } from '../chain/hash.ts';
import type { ContractRegistry } from './contracts.ts';

export interface BlockContext {
  height: bigint;
  time: bigint;
}

export interface BlockResult {
  receipts: Receipt[];
  /** The block's state changes, in (contract, key) order. */
  writes: StorageWrite[];
  gasUsed: bigint;
  /** The validator set that signs the next block, if governance changed it in this block. */
  nextValidators?: Uint8Array[];
  /** Why governance.endBlock failed, if it did (the same on every node; the operator must hear of it). */
  endBlockError?: string;
}

const SYSTEM = new Uint8Array(32);
const IDENTITY = systemAddress('identity');
const QUOTA = systemAddress('quota');
const GOVERNANCE = systemAddress('governance');
const ADDRESS_LIST = { array: 'bytes32' } as const;
/** Gas for the node's own checks and charges (small, bounded system methods). */
const SYSTEM_CALL_GAS = 10_000_000;

/** Requests per quota.chargeAll call: its input (48 bytes each) stays far below the VM's input limit. */
const CHARGE_CHUNK = 2048;
/** Gas for a chargeAll call: a system call's, plus this per request (a request uses 7,000-17,000). */
const CHARGE_GAS_PER_REQUEST = 200_000;

/** The first transactions of a block, run without charges between them (see executeCallsThenCharge). */
interface CallsRun {
  block: Journal;
  receipts: Receipt[];
  gasUsed: bigint;
  auth: AuthorisationCache;
  /** The calls that ran, each with its receipt's place. */
  calls: Array<{ at: number; stx: SignedTx; r: CallResult }>;
}

export interface ExecutorOptions {
  /**
   * Charge a block's transactions with one quota.chargeAll call after their calls where that gives the
   * same result as one quota.charge after each (default true; false: always one at a time).
   */
  batchCharges?: boolean;
}

export class Executor {
  readonly vm: Vm;
  readonly contracts: ContractRegistry;
  readonly params: ChainParams;
  private readonly batchCharges: boolean;

  constructor(vm: Vm, contracts: ContractRegistry, params: ChainParams, opts: ExecutorOptions = {}) {
    this.vm = vm;
    this.contracts = contracts;
    this.params = params;
    this.batchCharges = opts.batchCharges ?? true;
  }

  /** A read-only call (queries, and the node's own checks): never changes state. */
  query(state: StateView, contract: Uint8Array, method: string, input: Uint8Array, ctx: BlockContext, caller: Uint8Array = SYSTEM, gasLimit = SYSTEM_CALL_GAS): CallResult {
    return this.vm.call({ contract, method, input, caller, gasLimit, blockHeight: ctx.height, blockTime: ctx.time, readOnly: true }, { state, code: this.contracts.codeOf });
  }

  /** The validator set that signs the block after `state` (governance's active set), or the one that signed block `height`. */
  validators(state: StateView, ctx: BlockContext, height?: bigint): Uint8Array[] {
    const r = height === undefined
      ? this.query(state, GOVERNANCE, 'validators', new Uint8Array(0), ctx)
      : this.query(state, GOVERNANCE, 'validatorsAtHeight', encodeValues(['u64'], [height]), ctx);
    if (!r.ok) throw new Error(`governance validator set query failed: ${deterministicErrorText(r.error)}`);
    return decode(ADDRESS_LIST, r.output) as Uint8Array[];
  }

  /**
   * Whether the transaction's key may sign for its sender: listed by the identity contract for a live
   * account, or a new key registering itself (its own derived address, calling identity.register).
   */
  isAuthorised(state: StateView, stx: SignedTx, ctx: BlockContext, cache?: AuthorisationCache): boolean {
    return this.authorisation(state, stx, ctx, cache) !== undefined;
  }

  /** isAuthorised, saying how: a listed key, or a new key's self-registration (the pool limits those). */
  authorisation(state: StateView, stx: SignedTx, ctx: BlockContext, cache?: AuthorisationCache): 'listed' | 'self-registration' | undefined {
    // Through the accessors: at admission, the transaction's decoded fields are not built.
    const publicKey = stx.publicKey, sender = stx.sender;
    if (publicKey.length !== 32) return undefined;
    let listed = cache?.lookup(sender, publicKey);
    if (listed === undefined) {
      listed = this.keyListed(state, sender, publicKey, ctx);
      cache?.remember(sender, publicKey, listed);
    }
    if (listed) return 'listed';
    return equalBytes(stx.contract, IDENTITY) && stx.method === 'register' && equalBytes(sender, accountAddress(publicKey)) ? 'self-registration' : undefined;
  }

  private keyListed(state: StateView, sender: Uint8Array, publicKey: Uint8Array, ctx: BlockContext): boolean {
    const r = this.query(state, IDENTITY, 'isAuthorisedKey', encodeValues(['bytes32', 'bytes32'], [sender, publicKey]), ctx);
    return r.ok && r.output[0] === 1;
  }

  /**
   * Executes `txs` in order. With `fill` (the proposer), stops before a transaction could take the
   * block past its gas limit (it waits for the next block): `receipts.length` says how many went in.
   * Without it (a validator checking a proposal), every transaction runs and the caller checks the total.
   */
  executeBlock(state: StateView, ctx: BlockContext, txs: readonly SignedTx[], opts: { proposer: Uint8Array; signers?: readonly Uint8Array[]; fill?: boolean; auth?: AuthorisationCache }): BlockResult {
    // The transactions up to the first one whose call touches quota's storage, charged together; the
    // rest (all of them if that cannot give the one-at-a-time result) one at a time.
    const run: Omit<CallsRun, 'calls'> = (this.batchCharges ? this.executeCallsThenCharge(state, ctx, txs, opts) : undefined) ?? {
      block: new Journal(state), receipts: [], gasUsed: 0n,
      // Answers for the state the block starts from stay good until a transaction writes to identity.
      auth: opts.auth?.copy() ?? new AuthorisationCache(),
    };
    const { block, receipts, auth } = run;
    let gasUsed = run.gasUsed;
    const exhausted = new Set<string>();
    for (let i = receipts.length; i < txs.length; i++) {
      if (this.blockFull(gasUsed, opts.fill)) break;
      const receipt = this.executeTx(block, ctx, txs[i]!, auth, exhausted);
      gasUsed += receipt.gasUsed;
      receipts.push(receipt);
    }
    const end = this.endBlock(block, ctx, opts.proposer, opts.signers ?? []);
    return { receipts, writes: block.toWrites(), gasUsed, ...end };
  }

  /**
   * With `fill` (the proposer), a block is full once one more transaction could take it past its gas
   * limit (it waits for the next block). Without it (a proposal being checked), once it is past the
   * limit: the proposal is invalid, and the rest need not run.
   */
  private blockFull(gasUsed: bigint, fill: boolean | undefined): boolean {
    return fill ? gasUsed > BigInt(this.params.maxBlockGas - this.params.maxTxGas) : gasUsed > BigInt(this.params.maxBlockGas);
  }

  /**
   * The first transactions of a block run one call after another with no charge between them, then
   * quota.chargeAll charges them all at once. That is the one-at-a-time result exactly when no call
   * read or wrote quota's storage (charges write nothing else), the charges read nothing the calls
   * wrote, and every charge was paid in full (else that transaction's effects must go). The calls stop
   * before the first one that touched quota's storage. A charge that falls short keeps the calls before
   * it (they ran on the state they see one at a time) and the rest run one at a time from it; when a
   * charge read what a call wrote, nothing is kept (undefined) and the whole block runs one at a time.
   */
  private executeCallsThenCharge(state: StateView, ctx: BlockContext, txs: readonly SignedTx[], opts: { fill?: boolean; auth?: AuthorisationCache }): CallsRun | undefined {
    const watched = new QuotaReads(state);
    const run: CallsRun = { block: new Journal(watched), receipts: [], gasUsed: 0n, auth: opts.auth?.copy() ?? new AuthorisationCache(), calls: [] };
    for (const stx of txs) {
      if (this.blockFull(run.gasUsed, opts.fill)) break;
      if (!this.isAuthorised(run.block, stx, ctx, run.auth)) {
        run.receipts.push(refusedReceipt(stx, 'TX_UNAUTHORISED_KEY'));
        continue;
      }
      watched.touched = false;
      const r = this.vm.call(this.txCall(stx, ctx), { state: run.block, code: this.contracts.codeOf });
      if (watched.touched || r.writes.some((w) => equalBytes(w.contract, QUOTA))) break; // from here, one at a time
      for (const w of r.writes) run.block.set(w.contract, w.key, w.value);
      run.auth.forgetIfTouched(r.writes);
      run.gasUsed += BigInt(r.gasUsed);
      run.calls.push({ at: run.receipts.length, stx, r });
      run.receipts.push(refusedReceipt(stx, '')); // replaced once charged
    }
    const charged = this.chargeCalls(run, ctx);
    if (charged === 'all') return run;
    if (charged === 'conflict') return undefined;
    // The call at `charged` could not be paid in full: the ones before it stand, charged anew on their own.
    const prefix: CallsRun = {
      block: new Journal(state), receipts: run.receipts.slice(0, run.calls[charged]!.at), gasUsed: 0n,
      auth: opts.auth?.copy() ?? new AuthorisationCache(), calls: run.calls.slice(0, charged),
    };
    for (const { r } of prefix.calls) {
      for (const w of r.writes) prefix.block.set(w.contract, w.key, w.value);
      prefix.auth.forgetIfTouched(r.writes);
      prefix.gasUsed += BigInt(r.gasUsed);
    }
    // The same charges as before for these (each depends on the ones before it only): all paid.
    return this.chargeCalls(prefix, ctx) === 'all' ? prefix : undefined;
  }

  /**
   * Charges `run`'s calls with quota.chargeAll (in chunks: its input stays well below the VM's limit),
   * fills in their receipts and adds the charges' writes to the block. Says 'all' when every charge was
   * paid in full, else the index of the first call that was not (the run's block then holds garbage),
   * or 'conflict' when a charge read something a call wrote, or chargeAll failed.
   */
  private chargeCalls(run: CallsRun, ctx: BlockContext): 'all' | 'conflict' | number {
    for (let from = 0; from < run.calls.length; from += CHARGE_CHUNK) {
      const chunk = run.calls.slice(from, from + CHARGE_CHUNK);
      // Reads that meet a write of the calls (quota's own are the earlier chunks' charges).
      const reads = new ConflictingReads(run.block, QUOTA);
      const c = this.vm.call({
        contract: QUOTA, method: 'chargeAll', input: chargeRequests(chunk), caller: SYSTEM,
        gasLimit: SYSTEM_CALL_GAS + CHARGE_GAS_PER_REQUEST * chunk.length, blockHeight: ctx.height, blockTime: ctx.time,
      }, { state: reads, code: this.contracts.codeOf });
      if (!c.ok || reads.conflict || c.output.length !== 4 + 16 * chunk.length) return 'conflict';
      const dv = new DataView(c.output.buffer, c.output.byteOffset, c.output.length);
      if (dv.getUint32(0, true) !== chunk.length) return 'conflict';
      for (let i = 0; i < chunk.length; i++) {
        const cost = dv.getBigUint64(4 + 16 * i, true), charged = dv.getBigUint64(12 + 16 * i, true);
        if (charged < cost) return from + i;
        const { at, stx, r } = chunk[i]!;
        run.receipts[at] = callReceipt(stx, r, charged);
      }
      for (const w of c.writes) run.block.set(w.contract, w.key, w.value);
    }
    return 'all';
  }

  private txCall(stx: SignedTx, ctx: BlockContext): CallRequest {
    // Fields read one by one, not `stx.tx`: that object stays with the transaction, which the pool and
    // a waiting client request may hold for a while after its block executes.
    const contract = stx.contract;
    // The registry's own address object, not the transaction's view of it: the VM remembers each
    // address object's string in a WeakMap, and a new key there per transaction is GC work.
    const deployed = this.contracts.at(contract);
    return {
      contract: deployed?.address ?? contract, code: deployed?.wasm, method: stx.method, input: stx.args, caller: stx.sender, txHash: stx.hash,
      gasLimit: this.params.maxTxGas, blockHeight: ctx.height, blockTime: ctx.time,
    };
  }

  /**
   * governance.endBlock(proposer, signers), as the system, after the block's transactions: it notes the
   * proposer and the signers of the parent's commit the block carries as live and applies the
   * validator-set changes that are due and safe, returning the new set. A failure (only a broken
   * governance contract could fail) changes nothing, on every node alike.
   */
  private endBlock(block: Journal, ctx: BlockContext, proposer: Uint8Array, signers: readonly Uint8Array[]): { nextValidators?: Uint8Array[]; endBlockError?: string } {
    const r = this.vm.call({
      contract: GOVERNANCE, method: 'endBlock', input: encodeValues(['bytes32', ADDRESS_LIST], [proposer, signers]),
      caller: SYSTEM, gasLimit: SYSTEM_CALL_GAS, blockHeight: ctx.height, blockTime: ctx.time,
    }, { state: block, code: this.contracts.codeOf });
    if (!r.ok) return { endBlockError: deterministicErrorText(r.error) };
    for (const w of r.writes) block.set(w.contract, w.key, w.value);
    const set = decode(ADDRESS_LIST, r.output) as Uint8Array[];
    return set.length > 0 ? { nextValidators: set } : {};
  }

  private executeTx(block: Journal, ctx: BlockContext, stx: SignedTx, auth: AuthorisationCache, exhausted: Set<string>): Receipt {
    if (!this.isAuthorised(block, stx, ctx, auth)) return refusedReceipt(stx, 'TX_UNAUTHORISED_KEY');
    // A payer whose points ran out earlier in this block gets nothing more executed in it.
    const payer = latin1(stx.sender);
    if (exhausted.has(payer)) return refusedReceipt(stx, 'TX_INSUFFICIENT_QUOTA');
    const r = this.vm.call(this.txCall(stx, ctx), { state: block, code: this.contracts.codeOf });
    // The call's writes go into a transaction journal first: if the sender cannot pay, none of them stay.
    const txJournal = new Journal(block);
    for (const w of r.writes) txJournal.set(w.contract, w.key, w.value);
    const gasUsed = BigInt(r.gasUsed);
    let charge = this.charge(txJournal, ctx, stx, gasUsed);
    if (charge.charged < charge.cost) {
      // Not paid in full: the transaction's effects go, and what the payer has left pays for the work,
      // charged against the state without them.
      exhausted.add(payer);
      charge = this.charge(block, ctx, stx, gasUsed);
      for (const w of charge.writes) block.set(w.contract, w.key, w.value);
      return refusedReceipt(stx, 'TX_INSUFFICIENT_QUOTA', gasUsed, charge.charged);
    }
    for (const w of charge.writes) txJournal.set(w.contract, w.key, w.value);
    txJournal.commitInto(block);
    auth.forgetIfTouched(r.writes);
    return callReceipt(stx, r, charge.charged);
  }

  /** quota.charge for the transaction, as the system; `{cost, charged}` and its writes. */
  private charge(state: StateView, ctx: BlockContext, stx: SignedTx, gasUsed: bigint): { cost: bigint; charged: bigint; writes: StorageWrite[] } {
    const c = this.vm.call({
      contract: QUOTA, method: 'charge', input: encodeValues(['bytes32', 'u64', 'u64'], [stx.sender, BigInt(stx.bytes.length), gasUsed]),
      caller: SYSTEM, txHash: stx.hash, gasLimit: SYSTEM_CALL_GAS, blockHeight: ctx.height, blockTime: ctx.time,
    }, { state, code: this.contracts.codeOf });
    // A charge cannot fail but for a broken quota contract: then nothing is paid and nothing applied.
    if (!c.ok || c.output.length !== 16) return { cost: 1n, charged: 0n, writes: [] };
    const dv = new DataView(c.output.buffer, c.output.byteOffset, 16);
    return { cost: dv.getBigUint64(0, true), charged: dv.getBigUint64(8, true), writes: c.writes };
  }
}

function refusedReceipt(stx: SignedTx, error: string, gasUsed = 0n, quotaCharged = 0n): Receipt {
  return { txHash: stx.hash, status: RECEIPT_FAILED, error, gasUsed, quotaCharged, events: [] };
}

function callReceipt(stx: SignedTx, r: CallResult, quotaCharged: bigint): Receipt {
  return {
    txHash: stx.hash,
    status: r.ok ? RECEIPT_OK : RECEIPT_FAILED,
    error: r.ok ? '' : deterministicErrorText(r.error),
    gasUsed: BigInt(r.gasUsed),
    quotaCharged,
    events: r.events.map((e) => ({ contract: e.contract, topics: e.topics, data: e.data })),
  };
}

/** quota.chargeAll's argument: u32 count, then per call payer ‖ u64 bytes ‖ u64 gas (little-endian). */
function chargeRequests(calls: ReadonlyArray<{ stx: SignedTx; r: CallResult }>): Uint8Array {
  const out = new Uint8Array(4 + 48 * calls.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, calls.length, true);
  calls.forEach(({ stx, r }, i) => {
    out.set(stx.sender, 4 + 48 * i);
    dv.setBigUint64(36 + 48 * i, BigInt(stx.bytes.length), true);
    dv.setBigUint64(44 + 48 * i, BigInt(r.gasUsed), true);
  });
  return out;
}

const QUOTA_KEY = latin1(QUOTA);

/** Committed state, noting whether anything read quota's storage since `touched` was last cleared. */
class QuotaReads implements StateView {
  touched = false;
  private readonly state: StateView;
  constructor(state: StateView) {
    this.state = state;
  }
  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    if (equalBytes(contract, QUOTA)) this.touched = true;
    return this.state.get(contract, key);
  }
  getByStrings(a: string, k: string): Uint8Array | undefined {
    if (a === QUOTA_KEY) this.touched = true;
    return this.state.getByStrings ? this.state.getByStrings(a, k) : this.state.get(Buffer.from(a, 'latin1'), Buffer.from(k, 'latin1'));
  }
  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    if (equalBytes(contract, QUOTA)) this.touched = true;
    return this.state.next(contract, prefix, after);
  }
}

/**
 * A block's journal as one call reads it, noting a conflict when the call reads a key the block wrote
 * (outside the `own` contract's storage) or iterates storage at all: reads the block's calls could
 * have answered differently.
 */
class ConflictingReads implements StateView {
  conflict = false;
  private readonly block: Journal;
  private readonly own: string;
  constructor(block: Journal, own: Uint8Array) {
    this.block = block;
    this.own = latin1(own);
  }
  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.getByStrings(latin1(contract), latin1(key));
  }
  getByStrings(a: string, k: string): Uint8Array | undefined {
    if (a !== this.own && this.block.wrote(a, k)) this.conflict = true;
    return this.block.getByStrings(a, k);
  }
  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    this.conflict = true;
    return this.block.next(contract, prefix, after);
  }
}

/**
 * Answers of identity.isAuthorisedKey(sender, key) for one state. That method reads identity's storage
 * only, so an answer stays true to its state until something writes to identity: `forgetIfTouched`
 * drops every answer then. Most blocks carry thousands of transactions from a few senders, and this
 * saves a contract call for each but the first.
 */
export class AuthorisationCache {
  /** By key (latin1), the answers for the senders it was asked about: a key is rarely another account's too. */
  private answers = new Map<string, Array<{ sender: Uint8Array; listed: boolean }>>();

  lookup(sender: Uint8Array, key: Uint8Array): boolean | undefined {
    const forKey = this.answers.get(latin1(key));
    if (forKey !== undefined) for (const a of forKey) if (equalBytes(a.sender, sender)) return a.listed;
    return undefined;
  }

  remember(sender: Uint8Array, key: Uint8Array, listed: boolean): void {
    if (this.answers.size >= 100_000) this.answers.clear();
    const k = latin1(key);
    const forKey = this.answers.get(k);
    const answer = { sender: sender.slice(), listed };
    // A new array, not a push: copies of this cache share the arrays.
    if (forKey === undefined) this.answers.set(k, [answer]);
    else if (forKey.length < 64) this.answers.set(k, [...forKey, answer]);
  }

  forgetIfTouched(writes: readonly StorageWrite[]): void {
    if (this.answers.size === 0) return;
    for (const w of writes) {
      if (equalBytes(w.contract, IDENTITY)) {
        this.answers.clear();
        return;
      }
    }
  }

  copy(): AuthorisationCache {
    const c = new AuthorisationCache();
    c.answers = new Map(this.answers);
    return c;
  }
}

