/**
 * Follows the chain into the index: for each committed block after the indexed height, in order, its
 * projection (with voucher balances resolved against the index) goes into the store in one batch, and
 * then out to listeners (the event hub). Restarted, it resumes after the last block the store holds.
 */
import { EventEmitter } from 'node:events';
import type { BlockSource } from './source.ts';
import { project } from './projection.ts';
import type { HoldingRow, IndexBatch, IndexStore } from './types.ts';

export class Indexer extends EventEmitter<{ indexed: [IndexBatch]; error: [Error] }> {
  readonly source: BlockSource;
  readonly store: IndexStore;
  private running: Promise<void> | undefined;
  private again = false;
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
      while (!this.stopped && this.indexed < this.head) {
        const block = await this.source.block(this.indexed + 1);
        const batch = await this.prepare(block);
        await this.store.apply(batch);
        this.indexed = batch.height;
        this.emit('indexed', batch);
      }
    } catch (e) {
      this.emit('error', e as Error);
      // The source or store failed (node restarting, say): try again shortly, from where the store is.
      if (!this.stopped) setTimeout(() => this.kick(), 1000);
    }
  }

  private async prepare(block: Parameters<typeof project>[0]): Promise<IndexBatch> {
    const { batch, deltas } = project(block);
    const holdings: HoldingRow[] = [];
    for (const [k, d] of deltas) {
      const [symbol, holder] = k.split('\u0000') as [string, string];
      holdings.push({ symbol, holder, balance: String((await this.store.balance(symbol, holder)) + d) });
    }
    return { ...batch, holdings };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.source.close();
  }
}
