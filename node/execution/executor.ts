/**
 * Executes transactions in the VM against the system contracts, deterministically: the same block on
 * the same state gives the same writes and receipts on every node. Per transaction: the sender's key
 * must be authorised by the identity contract, the call runs with the chain's per-transaction gas, and
 * the quota contract charges the sender (SPEC Q3). A transaction that cannot be authorised or paid for
 * leaves no writes; its receipt says why.
 */
import { Vm, type CallResult } from '../../vm/vm.ts';
import { Journal, type StateView, type StorageWrite, latin1 } from '../../vm/state.ts';
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

export class Executor {
  readonly vm: Vm;
  readonly contracts: ContractRegistry;
  readonly params: ChainParams;

  constructor(vm: Vm, contracts: ContractRegistry, params: ChainParams) {
    this.vm = vm;
    this.contracts = contracts;
    this.params = params;
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
    const { tx } = stx;
    if (tx.publicKey.length !== 32) return undefined;
    const listed = cache ? cache.lookup(tx.sender, tx.publicKey, () => this.keyListed(state, tx.sender, tx.publicKey, ctx)) : this.keyListed(state, tx.sender, tx.publicKey, ctx);
    if (listed) return 'listed';
    return equalBytes(tx.contract, IDENTITY) && tx.method === 'register' && equalBytes(tx.sender, accountAddress(tx.publicKey)) ? 'self-registration' : undefined;
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
    const block = new Journal(state);
    const receipts: Receipt[] = [];
    let gasUsed = 0n;
    const budget = BigInt(this.params.maxBlockGas - this.params.maxTxGas);
    // Answers for the state the block starts from stay good until a transaction writes to identity.
    const auth = opts.auth?.copy() ?? new AuthorisationCache();
    const exhausted = new Set<string>();
    for (const stx of txs) {
      if (opts.fill && gasUsed > budget) break;
      // A proposal past the gas limit is invalid: no need to run the rest of it.
      if (!opts.fill && gasUsed > BigInt(this.params.maxBlockGas)) break;
      const receipt = this.executeTx(block, ctx, stx, auth, exhausted);
      gasUsed += receipt.gasUsed;
      receipts.push(receipt);
    }
    const end = this.endBlock(block, ctx, opts.proposer, opts.signers ?? []);
    return { receipts, writes: block.toWrites(), gasUsed, ...end };
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
    const { tx } = stx;
    const refused = (error: string, gasUsed = 0n, quotaCharged = 0n): Receipt => ({ txHash: stx.hash, status: RECEIPT_FAILED, error, gasUsed, quotaCharged, events: [] });
    if (!this.isAuthorised(block, stx, ctx, auth)) return refused('TX_UNAUTHORISED_KEY');
    // A payer whose points ran out earlier in this block gets nothing more executed in it.
    const payer = latin1(tx.sender);
    if (exhausted.has(payer)) return refused('TX_INSUFFICIENT_QUOTA');
    const r = this.vm.call({
      contract: tx.contract, method: tx.method, input: tx.args, caller: tx.sender, txHash: stx.hash,
      gasLimit: this.params.maxTxGas, blockHeight: ctx.height, blockTime: ctx.time,
    }, { state: block, code: this.contracts.codeOf });
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
      return refused('TX_INSUFFICIENT_QUOTA', gasUsed, charge.charged);
    }
    for (const w of charge.writes) txJournal.set(w.contract, w.key, w.value);
    txJournal.commitInto(block);
    auth.forgetIfTouched(r.writes);
    return {
      txHash: stx.hash,
      status: r.ok ? RECEIPT_OK : RECEIPT_FAILED,
      error: r.ok ? '' : deterministicErrorText(r.error),
      gasUsed,
      quotaCharged: charge.charged,
      events: r.events.map((e) => ({ contract: e.contract, topics: e.topics, data: e.data })),
    };
  }

  /** quota.charge for the transaction, as the system; `{cost, charged}` and its writes. */
  private charge(state: StateView, ctx: BlockContext, stx: SignedTx, gasUsed: bigint): { cost: bigint; charged: bigint; writes: StorageWrite[] } {
    const c = this.vm.call({
      contract: QUOTA, method: 'charge', input: encodeValues(['bytes32', 'u64', 'u64'], [stx.tx.sender, BigInt(stx.bytes.length), gasUsed]),
      caller: SYSTEM, txHash: stx.hash, gasLimit: SYSTEM_CALL_GAS, blockHeight: ctx.height, blockTime: ctx.time,
    }, { state, code: this.contracts.codeOf });
    // A charge cannot fail but for a broken quota contract: then nothing is paid and nothing applied.
    if (!c.ok || c.output.length !== 16) return { cost: 1n, charged: 0n, writes: [] };
    const dv = new DataView(c.output.buffer, c.output.byteOffset, 16);
    return { cost: dv.getBigUint64(0, true), charged: dv.getBigUint64(8, true), writes: c.writes };
  }
}

/**
 * Answers of identity.isAuthorisedKey(sender, key) for one state. That method reads identity's storage
 * only, so an answer stays true to its state until something writes to identity: `forgetIfTouched`
 * drops every answer then. Most blocks carry thousands of transactions from a few senders, and this
 * saves a contract call for each but the first.
 */
export class AuthorisationCache {
  private answers = new Map<string, boolean>();

  lookup(sender: Uint8Array, key: Uint8Array, compute: () => boolean): boolean {
    const k = latin1(sender) + latin1(key);
    let v = this.answers.get(k);
    if (v === undefined) {
      v = compute();
      if (this.answers.size >= 100_000) this.answers.clear();
      this.answers.set(k, v);
    }
    return v;
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

