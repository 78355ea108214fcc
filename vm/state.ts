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

/** Index of the first key in a sorted array that is > `after` (or >= `lo` when `after` sorts before `lo`). */
function firstInRange(sorted: readonly string[], lo: string, after: string | undefined): number {
  const useAfter = after !== undefined && after >= lo;
  let a = 0, b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    const k = sorted[mid]!;
    if (useAfter ? k <= after! : k < lo) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * Writes of one call frame over a parent view (committed state, or the caller's journal).
 * A nested call gets a child journal; `commitInto` folds it into its parent on success.
 * Keys are kept sorted as they are written, so prefix iteration costs a binary search per level.
 */
export class Journal implements StateView {
  readonly parent: StateView;
  private readonly writes = new Map<string, Uint8Array | null>();
  private readonly sortedKeys: string[] = [];

  constructor(parent: StateView) {
    this.parent = parent;
  }

  /** undefined: no journal in the chain has a write for the key. */
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
    this.put(compositeKey(contract, key), value);
  }

  private put(ck: string, value: Uint8Array | null): void {
    if (!this.writes.has(ck)) this.sortedKeys.splice(firstInRange(this.sortedKeys, ck, undefined), 0, ck);
    this.writes.set(ck, value);
  }

  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    const base = this.committed();
    const lo = compositeKey(contract, prefix);
    let cursor = after ? compositeKey(contract, after) : undefined;
    let cursorKey = after;
    for (;;) {
      // The smallest pending key in range, over this journal and its journal ancestors...
      let pending: string | undefined;
      for (let j: StateView = this; j instanceof Journal; j = j.parent) {
        const k = j.sortedKeys[firstInRange(j.sortedKeys, lo, cursor)];
        if (k !== undefined && k.startsWith(lo) && (pending === undefined || k < pending)) pending = k;
      }
      // ...and the smallest committed one.
      const stored = base.next(contract, prefix, cursorKey);
      const storedCk = stored ? compositeKey(contract, stored.key) : undefined;
      const pick = pending === undefined ? storedCk : storedCk === undefined || pending < storedCk ? pending : storedCk;
      if (pick === undefined) return undefined;
      const value = this.lookup(pick);
      if (value === undefined) return stored; // not written in this call: the committed entry
      const key = splitComposite(pick).key;
      if (value !== null) return { key, value };
      cursor = pick; // removed in this call: skip it
      cursorKey = key;
    }
  }

  commitInto(parent: Journal): void {
    for (const [k, v] of this.writes) parent.put(k, v);
  }

  /** This journal's writes in key order: the deterministic write set of a call. */
  toWrites(): StorageWrite[] {
    return this.sortedKeys.map((ck) => ({ ...splitComposite(ck), value: this.writes.get(ck)! }));
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
    const ck = this.sorted[firstInRange(this.sorted, lo, after ? compositeKey(contract, after) : undefined)];
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
