/**
 * Waiting for a transaction's final answer (SPEC C4, M3): committed with its receipt, or definitively
 * expired. Subscriptions do the waiting when the WebSocket is up: the sender's committed
 * transactions (`txs` filtered by sender) bring the receipt, and each new block checks the waiters it
 * may have expired. Whenever the socket is down (or there is none) the tracker polls `tx_get`
 * instead, and after a reconnect it asks once for every waiter, since notifications may have been
 * missed. Each wait starts with one `tx_get`, so a transaction that is already final answers at once.
 */
import type { RpcClient } from '../../node/rpc/client.ts';
import { SdkError } from './errors.ts';
import type { LiveSubscription, SubscriptionHub } from './subscriptions.ts';
import type { BlockItem, TxFinal, TxItem, TxStatus } from './types.ts';

export interface TrackOptions {
  /** Stop waiting (SDK_ABORTED). The transaction is not withdrawn: it may still commit until validUntilBlock. */
  signal?: AbortSignal;
}

interface Waiter {
  hash: string;
  /** The sender's address, 0x-hex, when known: its txs subscription brings the receipt. */
  sender: string | undefined;
  validUntilBlock: number;
  /** Subscriptions could not be made for it: polled. */
  polled: boolean;
  settle: (final: TxFinal) => void;
  fail: (error: Error) => void;
}

interface Shared {
  sub: Promise<LiveSubscription | undefined>;
  refs: number;
  linger: ReturnType<typeof setTimeout> | undefined;
}

/** How long an unused subscription is kept, so that a loop of submit-and-wait does not resubscribe each time. */
const LINGER_MS = 3000;
/** Block hashes remembered for receipts that arrive through the txs subscription. */
const BLOCK_HASHES = 64;

export class TxTracker {
  private readonly rpc: RpcClient;
  private readonly hub: SubscriptionHub | undefined;
  private readonly pollIntervalMs: () => number;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly shared = new Map<string, Shared>();
  private readonly blockHashes = new Map<number, string>();
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private stopListening: (() => void) | undefined;
  private closed = false;

  constructor(rpc: RpcClient, hub: SubscriptionHub | undefined, pollIntervalMs: () => number) {
    this.rpc = rpc;
    this.hub = hub;
    this.pollIntervalMs = pollIntervalMs;
    // Back online after a drop: whatever was committed meanwhile was not notified.
    this.stopListening = hub?.onState((state) => {
      if (state === 'open') this.checkAll();
      else this.schedulePoll();
    });
  }

  /** The final answer for `hash`, valid until `validUntilBlock`. Never rejects for a failed receipt: that is an answer too. */
  wait(hash: string, validUntilBlock: number, sender: string | undefined, options: TrackOptions = {}): Promise<TxFinal> {
    if (this.closed) return Promise.reject(new SdkError('SDK_CLOSED', 'the client is closed'));
    if (options.signal?.aborted) return Promise.reject(aborted(hash));
    return new Promise<TxFinal>((resolve, reject) => {
      const onAbort = () => waiter.fail(aborted(hash));
      const done = () => {
        options.signal?.removeEventListener('abort', onAbort);
        this.forget(waiter);
      };
      const waiter: Waiter = {
        hash: hash.toLowerCase(), sender: sender?.toLowerCase(), validUntilBlock, polled: this.hub === undefined,
        settle: (final) => { done(); resolve(final); },
        fail: (error) => { done(); reject(error); },
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let set = this.waiters.get(waiter.hash);
      if (!set) this.waiters.set(waiter.hash, (set = new Set()));
      set.add(waiter);
      void this.start(waiter);
    });
  }

  /** Rejects every wait with SDK_CLOSED and drops the subscriptions. */
  close(): void {
    this.closed = true;
    clearTimeout(this.pollTimer);
    this.stopListening?.();
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.fail(new SdkError('SDK_CLOSED', `the client was closed while waiting for ${w.hash}`));
    for (const [key, s] of this.shared) {
      clearTimeout(s.linger);
      void s.sub.then((sub) => sub?.close());
      this.shared.delete(key);
    }
  }

  private async start(w: Waiter): Promise<void> {
    if (this.hub) {
      // acquire() counts the references at once (forget() gives them back, whenever the wait ends).
      const subs = Promise.all([this.acquire('blocks'), w.sender ? this.acquire(`txs:${w.sender}`) : undefined]);
      // Until the socket is open the wait is polled, so a WebSocket that hangs does not hold up the answer.
      this.schedulePoll();
      const [blocks, txs] = await subs;
      if (!this.isWaiting(w)) return;
      if (blocks === undefined || (w.sender && txs === undefined)) w.polled = true;
    }
    // After the subscriptions: a commit just before them is found here, any later one is notified.
    await this.check(w);
    this.schedulePoll();
  }

  private isWaiting(w: Waiter): boolean {
    return this.waiters.get(w.hash)?.has(w) === true;
  }

  private forget(w: Waiter): void {
    const set = this.waiters.get(w.hash);
    if (!set?.delete(w)) return;
    if (set.size === 0) this.waiters.delete(w.hash);
    if (this.hub && !this.closed) {
      this.release('blocks');
      if (w.sender) this.release(`txs:${w.sender}`);
    }
  }

  /** A shared subscription by key ('blocks' or 'txs:SENDER'); resolves undefined if it cannot be made (then: polling). */
  private acquire(key: string): Promise<LiveSubscription | undefined> {
    let s = this.shared.get(key);
    if (!s) {
      const hub = this.hub!;
      const created: Shared = { sub: Promise.resolve(undefined), refs: 0, linger: undefined };
      // Ended by the node after a reconnect (refused): nothing notifies its waiters any more, so poll them all.
      const onError = () => {
        if (this.shared.get(key) === created) this.shared.delete(key);
        for (const set of this.waiters.values()) for (const w of set) w.polled = true;
        this.schedulePoll();
      };
      const sub = key === 'blocks'
        ? hub.subscribe<BlockItem>('blocks', {}, (b) => this.onBlock(b), (b) => ({ height: b.header.height }), { onGap: () => this.checkAll(), onError })
        : hub.subscribe<TxItem>('txs', { sender: key.slice(4) }, (t) => this.onTx(t), (t) => ({ height: t.height, tx: t.index }), { onGap: () => this.checkAll(), onError });
      created.sub = sub.catch(() => undefined);
      s = created;
      this.shared.set(key, s);
      // A subscription that could not be made is not kept: the next waiter tries again.
      void s.sub.then((made) => { if (!made && this.shared.get(key) === s) this.shared.delete(key); });
    }
    clearTimeout(s.linger);
    s.linger = undefined;
    s.refs++;
    return s.sub;
  }

  private release(key: string): void {
    const s = this.shared.get(key);
    if (!s || --s.refs > 0) return;
    s.linger = setTimeout(() => {
      if (this.shared.get(key) !== s || s.refs > 0) return;
      this.shared.delete(key);
      void s.sub.then((sub) => sub?.close());
    }, LINGER_MS);
  }

  private onBlock(b: BlockItem): void {
    const height = b.header.height;
    this.blockHashes.set(height, b.hash);
    if (this.blockHashes.size > BLOCK_HASHES) this.blockHashes.delete(this.blockHashes.keys().next().value!);
    for (const set of this.waiters.values()) {
      for (const w of set) {
        // At validUntilBlock the transaction is either in this block or can never be: ask. Without a
        // sender subscription nothing else brings the receipt: ask at every block.
        if (height >= w.validUntilBlock || !w.sender) void this.check(w);
      }
    }
  }

  private onTx(t: TxItem): void {
    const set = this.waiters.get(t.hash.toLowerCase());
    if (!set) return;
    const blockHash = this.blockHashes.get(t.height);
    for (const w of [...set]) {
      if (blockHash === undefined) void this.check(w);
      else w.settle({ hash: w.hash, status: 'committed', height: t.height, index: t.index, blockHash, receipt: t.receipt });
    }
  }

  private checkAll(): void {
    for (const set of this.waiters.values()) for (const w of set) void this.check(w);
  }

  /** One tx_get; settles the waiter when the answer is final. Failures are left to the next trigger. */
  private async check(w: Waiter): Promise<void> {
    let r: TxStatus;
    try {
      r = await this.rpc.call<TxStatus>('tx_get', { hash: w.hash });
    } catch {
      return; // a node catching up (NODE_BEHIND) or unreachable: ask again on the next block or poll
    }
    if (!this.isWaiting(w)) return;
    if (r.status === 'committed') w.settle(r);
    else if (r.status === 'expired') w.settle({ hash: w.hash, status: 'expired', validUntilBlock: r.validUntilBlock, height: r.height });
    // Not known to this node (sent through another, or it is between dropping an expired transaction
    // from its pool and recording it), and the chain is past the last block that could include it.
    else if (r.status === 'unknown' && r.height >= w.validUntilBlock) w.settle({ hash: w.hash, status: 'expired', validUntilBlock: w.validUntilBlock, height: r.height });
  }

  /** Polls while some waiter has no subscriptions or the socket is down. */
  private schedulePoll(): void {
    if (this.pollTimer || this.closed || !this.anyPolled()) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      for (const set of [...this.waiters.values()]) for (const w of [...set]) if (this.isPolled(w)) void this.check(w);
      this.schedulePoll();
    }, this.pollIntervalMs());
  }

  private isPolled(w: Waiter): boolean {
    return w.polled || this.hub?.state !== 'open';
  }

  private anyPolled(): boolean {
    for (const set of this.waiters.values()) for (const w of set) if (this.isPolled(w)) return true;
    return false;
  }
}

export function aborted(hash: string): SdkError {
  return new SdkError('SDK_ABORTED', `stopped waiting for ${hash}: it may still be committed until its validUntilBlock`, { hash });
}
