/**
 * Contract storage as the VM sees it: a synchronous read view of committed state, and journals
 * that collect a call's writes so that they are committed or discarded as a whole.
 * Keys are namespaced by contract address; within a contract they order bytewise.
 */

import { type SortedMap, sortedMap } from './sorted-map.ts';

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

/** The first key in `map` that is > `after` (or >= `lo` when `after` sorts before `lo`) and starts with `lo`. */
function firstInRange(map: SortedMap<unknown>, lo: string, after: string | undefined): string | undefined {
  const k = after !== undefined && after >= lo ? map.nextHigherKey(after) : map.getPairOrNextHigher(lo)?.[0];
  return k !== undefined && k.startsWith(lo) ? k : undefined;
}

/**
 * Writes of one call frame over a parent view (committed state, or the caller's journal).
 * A nested call gets a child journal; `commitInto` folds it into its parent on success.
 * Writes are kept in an ordered map, so prefix iteration costs one search per journal level.
 */
export class Journal implements StateView {
  readonly parent: StateView;
  private readonly writes = sortedMap<Uint8Array | null>();

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
    this.writes.set(compositeKey(contract, key), value);
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
        const k = firstInRange(j.writes, lo, cursor);
        if (k !== undefined && (pending === undefined || k < pending)) pending = k;
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
    this.writes.forEachPair((k, v) => { parent.writes.set(k, v); });
  }

  /** This journal's writes in key order: the deterministic write set of a call. */
  toWrites(): StorageWrite[] {
    const out: StorageWrite[] = [];
    this.writes.forEachPair((ck, value) => { out.push({ ...splitComposite(ck), value }); });
    return out;
  }

  get size(): number {
    return this.writes.size;
  }
}

/** An in-memory committed state: the `vm exec` CLI, simulations and tests use it. */
export class MemoryState implements StateView {
  private entries = sortedMap<Uint8Array>();

  /** A copy that shares structure until either side changes (copy-on-write): cheap snapshots. */
  clone(): MemoryState {
    const c = new MemoryState();
    c.entries = this.entries.clone();
    return c;
  }

  /** Every entry of a contract, in key order. */
  entriesOf(contract: Uint8Array): StorageEntry[] {
    const out: StorageEntry[] = [];
    for (let e = this.next(contract, new Uint8Array(0), undefined); e; e = this.next(contract, new Uint8Array(0), e.key)) out.push(e);
    return out;
  }

  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(compositeKey(contract, key));
  }

  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    const ck = firstInRange(this.entries, compositeKey(contract, prefix), after ? compositeKey(contract, after) : undefined);
    return ck === undefined ? undefined : { key: splitComposite(ck).key, value: this.entries.get(ck)! };
  }

  apply(writes: Iterable<StorageWrite>): void {
    for (const w of writes) {
      const ck = compositeKey(w.contract, w.key);
      if (w.value === null) this.entries.delete(ck);
      else this.entries.set(ck, w.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
