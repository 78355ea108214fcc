/**
 * Transactions accepted and waiting for a block. Bounded by count and bytes, and per sender: when a
 * bound is reached, `add` throws BUSY at once (back-pressure; nothing queues without bound and nothing
 * is dropped silently). Blocks take transactions round-robin across senders, oldest first within a
 * sender, so one account flooding the pool delays only itself. Accounts are cheap to make, though: a new
 * key's self-registration (the one transaction a key no identity lists may send) is a newcomer, one per
 * sender at a time and `maxNewcomerTxs` in all, so many fresh keys cannot fill the pool either.
 */
import type { SignedTx } from '../tx/transaction.ts';
import { TxError } from '../tx/errors.ts';
import { latin1 } from '../../vm/state.ts';

export interface MempoolLimits {
  maxTxs: number;
  maxBytes: number;
  /** At most this many pending transactions per sender. */
  maxPerSender: number;
  /** At most this many pending self-registrations of new keys (newcomers), one per sender. */
  maxNewcomerTxs: number;
}

export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = { maxTxs: 50_000, maxBytes: 64 * 1024 * 1024, maxPerSender: 20_000, maxNewcomerTxs: 500 };

/**
 * `until`: validUntilBlock as a number (heights stay below 2^53; a larger one compares as larger
 * still), so that the sweep of every entry each block makes no BigInt.
 */
interface Entry { stx: SignedTx; senderKey: string; until: number }

export class Mempool {
  readonly limits: MempoolLimits;
  private readonly byHash = new Map<string, Entry>();
  /** Each sender's transactions in arrival order; a Map iterates senders in first-arrival order. */
  private readonly bySender = new Map<string, SignedTx[]>();
  /** Hashes of the newcomers' transactions pending (see add). */
  private readonly newcomers = new Set<string>();
  private bytes = 0;

  constructor(limits: Partial<MempoolLimits> = {}) {
    this.limits = { ...DEFAULT_MEMPOOL_LIMITS, ...limits };
  }

  get size(): number {
    return this.byHash.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  has(hashHex: string): boolean {
    return this.byHash.has(hashHex);
  }

  get(hashHex: string): SignedTx | undefined {
    return this.byHash.get(hashHex)?.stx;
  }

  /**
   * Throws TX_DUPLICATE or BUSY; otherwise the transaction is pending. `force` skips the bounds: for
   * transactions the node had already accepted (back from a failed commit, or from disk at restart).
   */
  add(stx: SignedTx, opts: { force?: boolean; newcomer?: boolean } = {}): void {
    if (this.byHash.has(stx.hashHex)) throw new TxError('TX_DUPLICATE', 'the transaction is already pending');
    if (!opts.force && (this.byHash.size >= this.limits.maxTxs || this.bytes + stx.bytes.length > this.limits.maxBytes)) {
      throw new TxError('BUSY', `the pool is full (${this.byHash.size} transactions, ${this.bytes} bytes): retry later`);
    }
    const senderKey = latin1(stx.sender);
    let queue = this.bySender.get(senderKey);
    if (!opts.force && queue && queue.length >= this.limits.maxPerSender) {
      throw new TxError('BUSY', `the sender has ${queue.length} pending transactions, the most allowed: retry later`);
    }
    if (!opts.force && opts.newcomer) {
      if (queue) throw new TxError('BUSY', 'this new key has a transaction pending already: one at a time until its registration is committed');
      if (this.newcomers.size >= this.limits.maxNewcomerTxs) throw new TxError('BUSY', `${this.newcomers.size} registrations of new keys are pending, the most allowed: retry later`);
    }
    if (opts.newcomer) this.newcomers.add(stx.hashHex);
    if (!queue) {
      queue = [];
      this.bySender.set(senderKey, queue);
    }
    queue.push(stx);
    this.byHash.set(stx.hashHex, { stx, senderKey, until: Number(stx.validUntilBlock) });
    stx.pooled(true);
    this.bytes += stx.bytes.length;
  }

  /** Removes transactions (committed in a block, say); unknown hashes are ignored. */
  remove(hashesHex: Iterable<string>): void {
    const touched = new Set<string>();
    for (const h of hashesHex) {
      const e = this.byHash.get(h);
      if (!e) continue;
      this.byHash.delete(h);
      this.newcomers.delete(h);
      this.bytes -= e.stx.bytes.length;
      e.stx.pooled(false);
      touched.add(e.senderKey);
    }
    for (const s of touched) {
      const rest = this.bySender.get(s)!.filter((t) => this.byHash.has(t.hashHex));
      if (rest.length === 0) this.bySender.delete(s);
      else this.bySender.set(s, rest);
    }
  }

  /**
   * Removes and returns the transactions that can no longer be committed at `height` (validUntilBlock
   * <= height). Called once a block: it also moves the bytes of entries out of slabs the pool holds
   * little of (SignedTx.inSparseSlab), so that they do not keep mostly dead memory alive.
   */
  evictExpired(height: bigint): SignedTx[] {
    const expired: SignedTx[] = [];
    const h = Number(height);
    for (const e of this.byHash.values()) {
      if (e.until <= h) expired.push(e.stx);
      else if (e.stx.inSparseSlab) e.stx.settle();
    }
    this.remove(expired.map((t) => t.hashHex));
    return expired;
  }

  /**
   * Transactions for a block, within its limits: one from each sender in turn (senders in order of
   * their oldest pending transaction), each sender's in arrival order. They stay pending until removed.
   */
  reap(maxTxs: number, maxBytes: number): SignedTx[] {
    const out: SignedTx[] = [];
    let bytes = 0;
    const cursors = [...this.bySender.values()].map((q) => ({ q, i: 0 }));
    let active = cursors;
    while (out.length < maxTxs && active.length > 0) {
      const next: typeof cursors = [];
      for (const c of active) {
        if (out.length >= maxTxs) break;
        const stx = c.q[c.i]!;
        if (bytes + stx.bytes.length > maxBytes) continue; // this sender's next does not fit: it waits
        out.push(stx);
        bytes += stx.bytes.length;
        if (++c.i < c.q.length) next.push(c);
      }
      active = next;
    }
    return out;
  }

  /** The sender's pending transactions, oldest first. */
  ofSender(sender: Uint8Array): readonly SignedTx[] {
    return this.bySender.get(latin1(sender)) ?? [];
  }

  all(): SignedTx[] {
    return [...this.byHash.values()].map((e) => e.stx);
  }
}
