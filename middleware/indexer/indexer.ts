/**
 * Follows the chain into the index: for each committed block after the indexed height, in order, its
 * projection (with voucher balances resolved against the index) goes into the store in one batch, and
 * then out to listeners (the event hub). Restarted, it resumes after the last block the store holds.
 */
import { EventEmitter } from 'node:events';
import type { BlockSource } from './source.ts';
import { project } from './projection.ts';
import type { ChainBlock, HoldingRow, IndexBatch, IndexStore } from './types.ts';

/** A block's projection with voucher balances resolved against what the store holds before it. */
export async function prepareBatch(store: IndexStore, block: ChainBlock): Promise<IndexBatch> {
  const { batch, deltas } = project(block);
  const holdings: HoldingRow[] = [];
  for (const { symbol, holder, by } of deltas.values()) holdings.push({ symbol, holder, balance: String((await store.balance(symbol, holder)) + by) });
  return { ...batch, holdings };
}

export class Indexer extends EventEmitter<{ indexed: [IndexBatch]; error: [Error] }> {
  readonly source: BlockSource;
  readonly store: IndexStore;
  private running: Promise<void> | undefined;
  private again = false;
  /** After a failure: read where the store is before going on (runs are one at a time, so no race). */
  private resync = false;
  private stopped = false;
  private head = -1;
  private indexed = -1;

  constructor(source: BlockSource, store: IndexStore) {
    super();
    this.source = source;
    this.store = store;
  }

  /** Catches up and keeps following until stop(). */
  async start(): Promise<void> {
    this.indexed = await this.store.indexedHeight();
    this.source.watch((h) => {
      this.head = Math.max(this.head, h);
      this.kick();
    });
    this.head = await this.source.head();
    this.kick();
  }

  /** The last block in the index, and the chain's head as last seen. */
  status(): { indexedHeight: number; chainHeight: number } {
    return { indexedHeight: this.indexed, chainHeight: Math.max(this.head, this.indexed) };
  }

  /** Resolves once the index holds block `height` (read-your-writes for queries). */
  async waitFor(height: number, timeoutMs = 30_000): Promise<void> {
    if (this.indexed >= height) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.off('indexed', on); reject(new Error(`the index did not reach height ${height} in ${timeoutMs} ms`)); }, timeoutMs);
      const on = (b: IndexBatch) => {
        if (b.height < height) return;
        clearTimeout(timer);
        this.off('indexed', on);
        resolve();
      };
      this.on('indexed', on);
    });
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async run(): Promise<void> {
    try {
      if (this.resync) {
        this.indexed = await this.store.indexedHeight();
        this.resync = false;
      }
      while (!this.stopped && this.indexed < this.head) {
        const block = await this.source.block(this.indexed + 1);
        const batch = await prepareBatch(this.store, block);
        await this.store.apply(batch);
        this.indexed = batch.height;
        this.emit('indexed', batch);
      }
    } catch (e) {
      this.emit('error', e as Error);
      // The source or store failed (node restarting, a lost database connection): try again shortly,
      // from where the store is (a commit whose answer was lost may have gone through).
      if (!this.stopped) {
        this.resync = true;
        setTimeout(() => this.kick(), 1000);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.source.close();
  }
}
