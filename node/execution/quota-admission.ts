/**
 * Quota at admission (SPEC Q3): a sender's transaction is accepted only if its points left this
 * period cover the least it can cost plus the least its other pending transactions can cost. Balances
 * are read from the quota contract once per sender per head (not once per transaction), and the
 * pending total is kept as transactions come and go; a new head starts afresh from the pool.
 */
import { systemAddress } from '../../contracts/system/index.ts';
import { encodeValues } from '../../contracts/sdk/codec.ts';
import { latin1, type StateView } from '../../vm/state.ts';
import type { SignedTx } from '../tx/transaction.ts';
import type { BlockContext, Executor } from './executor.ts';
import { decodeResult, type DeployedContract } from './contracts.ts';

const QUOTA = systemAddress('quota');

interface Account { balance: bigint; pending: bigint }

export class QuotaAdmission {
  private readonly executor: Executor;
  private height = -1n;
  private schedule: { base: bigint; perByte: bigint } | undefined;
  private readonly accounts = new Map<string, Account>();

  constructor(executor: Executor) {
    this.executor = executor;
  }

  private quota(): DeployedContract {
    return this.executor.contracts.at(QUOTA)!;
  }

  /** The least a transaction of this size can cost (no gas used). */
  private minCost(stx: SignedTx): bigint {
    return this.schedule!.base + this.schedule!.perByte * BigInt(stx.bytes.length);
  }

  private refresh(state: StateView, ctx: BlockContext): void {
    if (this.height === ctx.height) return;
    this.height = ctx.height;
    this.accounts.clear();
    const r = this.executor.query(state, QUOTA, 'getSchedule', new Uint8Array(0), ctx);
    const s = r.ok ? decodeResult(this.quota(), 'getSchedule', r.output) as { base: bigint; perByte: bigint } : undefined;
    this.schedule = s ?? { base: 0n, perByte: 0n };
  }

  /**
   * Reserves the transaction's least cost against its sender's points; false if they do not cover it.
   * `pendingOfSender` lists the sender's transactions already in the pool (counted on first sight per head).
   */
  reserve(state: StateView, ctx: BlockContext, stx: SignedTx, pendingOfSender: () => readonly SignedTx[]): boolean {
    this.refresh(state, ctx);
    const key = latin1(stx.sender);
    let a = this.accounts.get(key);
    if (!a) {
      const r = this.executor.query(state, QUOTA, 'balanceOf', encodeValues(['bytes32'], [stx.sender]), ctx);
      const balance = r.ok ? decodeResult(this.quota(), 'balanceOf', r.output) as bigint : 0n;
      let pending = 0n;
      for (const t of pendingOfSender()) pending += this.minCost(t);
      a = { balance, pending };
      this.accounts.set(key, a);
    }
    const cost = this.minCost(stx);
    if (a.balance < a.pending + cost) return false;
    a.pending += cost;
    return true;
  }

  /** A reserved transaction did not make it into the pool after all. */
  release(stx: SignedTx): void {
    const a = this.accounts.get(latin1(stx.sender));
    if (a && this.schedule) a.pending -= this.minCost(stx);
  }
}
