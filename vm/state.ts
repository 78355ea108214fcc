/**
 * Contract storage as the VM sees it: a synchronous read view of committed state, and journals
 * that collect a call's writes so that they are committed or discarded as a whole.
 * Keys are namespaced by contract address; within a contract they order bytewise.
 */

export interface StorageEntry { key: Uint8Array; value: Uint8Array }

/** Read access to committed contract storage. Host calls are synchronous, so this is too. */
export interface StateView {
  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined;
  /** The entry with the smallest key that starts with `prefix` and is greater than `after` (if given). */
  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined;
}

export interface StorageWrite {
  contract: Uint8Array;
  key: Uint8Array;
  /** null: the key was removed. */
  value: Uint8Array | null;
}

/** Bytes as a JS string of char codes 0..255: a Map key that sorts bytewise. */
export function latin1(bytes: Uint8Array): string {
  if (bytes.length <= 64) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

export function fromLatin1(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

const ADDRESS_CHARS = 32;

function compositeKey(contract: Uint8Array, key: Uint8Array): string {
  return latin1(contract) + latin1(key);
}

function splitComposite(ck: string): { contract: Uint8Array; key: Uint8Array } {
  return { contract: fromLatin1(ck.slice(0, ADDRESS_CHARS)), key: fromLatin1(ck.slice(ADDRESS_CHARS)) };
}

/**
 * Writes of one call frame over a parent view (committed state, or the caller's journal).
 * A nested call gets a child journal; `commitInto` folds it into its parent on success.
 */
export class Journal implements StateView {
  readonly parent: StateView;
  private readonly writes = new Map<string, Uint8Array | null>();

  constructor(parent: StateView) {
    this.parent = parent;
  }

  /** undefined: this journal (and its journal ancestors) has no write for the key. */
  private lookup(ck: string): Uint8Array | null | undefined {
    const own = this.writes.get(ck);
    if (own !== undefined) return own;
    return this.parent instanceof Journal ? this.parent.lookup(ck) : undefined;
  }

  private committed(): StateView {
    let p: StateView = this.parent;
    while (p instanceof Journal) p = p.parent;
    return p;
  }

  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    const w = this.lookup(compositeKey(contract, key));
    if (w !== undefined) return w ?? undefined;
    return this.committed().get(contract, key);
  }

  set(contract: Uint8Array, key: Uint8Array, value: Uint8Array | null): void {
    this.writes.set(compositeKey(contract, key), value);
  }

  /** All pending writes of this journal and its journal ancestors, the nearest winning. */
  private overlay(): Map<string, Uint8Array | null> {
    const chain: Journal[] = [];
    for (let j: StateView = this; j instanceof Journal; j = j.parent) chain.unshift(j);
    const merged = new Map<string, Uint8Array | null>();
    for (const j of chain) for (const [k, v] of j.writes) merged.set(k, v);
    return merged;
  }

  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    const overlay = this.overlay();
    const base = this.committed();
    const lo = compositeKey(contract, prefix);
    const afterCk = after ? compositeKey(contract, after) : undefined;
    // Smallest committed entry not shadowed by a pending write.
    let fromStore: StorageEntry | undefined;
    let cursor = after;
    for (;;) {
      const e = base.next(contract, prefix, cursor);
      if (!e) break;
      if (!overlay.has(compositeKey(contract, e.key))) { fromStore = e; break; }
      cursor = e.key;
    }
    // Smallest pending (non-deleted) write in range.
    let best: string | undefined;
    for (const [ck, v] of overlay) {
      if (v === null || !ck.startsWith(lo)) continue;
      if (afterCk !== undefined && ck <= afterCk) continue;
      if (best === undefined || ck < best) best = ck;
    }
    if (best !== undefined && (!fromStore || best < compositeKey(contract, fromStore.key))) {
      return { key: splitComposite(best).key, value: overlay.get(best)! };
    }
    return fromStore;
  }

  commitInto(parent: Journal): void {
    for (const [k, v] of this.writes) parent.writes.set(k, v);
  }

  /** This journal's writes in key order: the deterministic write set of a call. */
  toWrites(): StorageWrite[] {
    return [...this.writes.keys()].sort().map((ck) => ({ ...splitComposite(ck), value: this.writes.get(ck)! }));
  }

  get size(): number {
    return this.writes.size;
  }
}

/** An in-memory committed state: the `vm exec` CLI, simulations and tests use it. */
export class MemoryState implements StateView {
  private readonly entries = new Map<string, Uint8Array>();
  private sorted: string[] | undefined = [];

  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(compositeKey(contract, key));
  }

  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    this.sorted ??= [...this.entries.keys()].sort();
    const lo = compositeKey(contract, prefix);
    const from = after ? compositeKey(contract, after) : undefined;
    // Binary search for the first key > from (or >= lo when `after` sorts before the prefix).
    const useFrom = from !== undefined && from >= lo;
    let a = 0, b = this.sorted.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const k = this.sorted[mid]!;
      if (useFrom ? k <= from! : k < lo) a = mid + 1;
      else b = mid;
    }
    const ck = this.sorted[a];
    if (ck === undefined || !ck.startsWith(lo)) return undefined;
    return { key: splitComposite(ck).key, value: this.entries.get(ck)! };
  }

  apply(writes: Iterable<StorageWrite>): void {
    for (const w of writes) {
      const ck = compositeKey(w.contract, w.key);
      if (w.value === null) this.entries.delete(ck);
      else this.entries.set(ck, w.value);
    }
    this.sorted = undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
