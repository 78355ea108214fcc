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
  /**
   * Optional fast path: `get` with the address and key already converted by `latin1` (the journal has
   * them). A view keyed by such strings saves converting again.
   */
  getByStrings?(a: string, k: string): Uint8Array | undefined;
  /** The entry with the smallest key that starts with `prefix` and is greater than `after` (if given). */
  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined;
}

export interface StorageWrite {
  contract: Uint8Array;
  key: Uint8Array;
  /** null: the key was removed. */
  value: Uint8Array | null;
  /** `latin1(key)` when the producer had it (the journal does): saves a state keyed that way converting again. */
  keyString?: string;
}

// Node's own latin1 decoder, applicable to any Uint8Array without wrapping it in a Buffer.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** Bytes as a JS string of char codes 0..255: a Map key that sorts bytewise. */
export function latin1(bytes: Uint8Array): string {
  return latin1Range(bytes, 0, bytes.length);
}

/** `latin1` of bytes[start, end), with no intermediate view (host calls read keys straight from memory). */
export function latin1Range(bytes: Uint8Array, start: number, end: number): string {
  if (latin1Slice) return latin1Slice.call(bytes, start, end);
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Contract addresses recur on every host call of a frame: convert each address object once. */
const addressStrings = new WeakMap<Uint8Array, string>();
function addressString(contract: Uint8Array): string {
  let s = addressStrings.get(contract);
  if (s === undefined) {
    s = latin1(contract);
    addressStrings.set(contract, s);
  }
  return s;
}

/** The first key in `map` that is > `after` (or >= `lo` when `after` sorts before `lo`) and starts with `lo`. */
function firstInRange(map: SortedMap<unknown>, lo: string, after: string | undefined): string | undefined {
  const k = after !== undefined && after >= lo ? map.nextHigherKey(after) : map.getPairOrNextHigher(lo)?.[0];
  return k !== undefined && k.startsWith(lo) ? k : undefined;
}

/** One contract's pending writes in a journal, keyed by the key's byte string. */
interface ContractWrites {
  writes: Map<string, StorageWrite>;
  /** Built on the first prefix iteration, then kept up to date: most calls never iterate. */
  ordered: SortedMap<StorageWrite> | undefined;
}

/**
 * Writes of one call frame over a parent view (committed state, or the caller's journal).
 * A nested call gets a child journal; `commitInto` folds it into its parent on success.
 * Writes are kept per contract (so keys are hashed without the 32-byte address in front) and, once
 * a call iterates, ordered, so prefix iteration costs one search per journal level.
 */
export class Journal implements StateView {
  readonly parent: StateView;
  /** The entry keeps the bytes, so the write set needs no decoding. */
  private readonly contracts = new Map<string, ContractWrites>();
  private count = 0;

  constructor(parent: StateView) {
    this.parent = parent;
  }

  /** undefined: no journal in the chain has a write for the key. */
  private lookup(a: string, k: string): StorageWrite | undefined {
    for (let j: StateView = this; j instanceof Journal; j = j.parent) {
      const w = j.contracts.get(a)?.writes.get(k);
      if (w !== undefined) return w;
    }
    return undefined;
  }

  private committed(): StateView {
    let p: StateView = this.parent;
    while (p instanceof Journal) p = p.parent;
    return p;
  }

  private static index(cw: ContractWrites): SortedMap<StorageWrite> {
    if (!cw.ordered) {
      cw.ordered = sortedMap<StorageWrite>();
      for (const [k, v] of cw.writes) cw.ordered.set(k, v);
    }
    return cw.ordered;
  }

  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.getByString(contract, latin1(key), key);
  }

  /** `get` by the key's `latin1` string; `key` (its bytes) only saves converting back for some views. */
  getByString(contract: Uint8Array, k: string, key?: Uint8Array): Uint8Array | undefined {
    return this.read(addressString(contract), k, contract, key);
  }

  /** `get` by the address's and the key's `latin1` strings. */
  getByStrings(a: string, k: string): Uint8Array | undefined {
    return this.read(a, k);
  }

  private read(a: string, k: string, contract?: Uint8Array, key?: Uint8Array): Uint8Array | undefined {
    const w = this.lookup(a, k);
    if (w !== undefined) return w.value ?? undefined;
    const base = this.committed();
    if (base.getByStrings) return base.getByStrings(a, k);
    return base.get(contract ?? Buffer.from(a, 'latin1'), key ?? Buffer.from(k, 'latin1'));
  }

  /** Whether this journal or a journal under it holds a write (or removal) of the key, by `latin1` strings. */
  wrote(a: string, k: string): boolean {
    return this.lookup(a, k) !== undefined;
  }

  set(contract: Uint8Array, key: Uint8Array, value: Uint8Array | null): void {
    const k = latin1(key);
    this.put(addressString(contract), k, { contract, key, value, keyString: k });
  }

  private put(a: string, k: string, w: StorageWrite): void {
    let cw = this.contracts.get(a);
    if (cw === undefined) {
      cw = { writes: new Map(), ordered: undefined };
      this.contracts.set(a, cw);
    }
    const before = cw.writes.size;
    cw.writes.set(k, w);
    this.count += cw.writes.size - before;
    cw.ordered?.set(k, w);
  }

  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    return this.nextCounting(contract, prefix, after).entry;
  }

  /**
   * `next`, also counting the pending deletions it stepped over: the host charges for them, since a
   * contract could otherwise make every step walk the same long run of removed keys.
   */
  nextCounting(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): { entry: StorageEntry | undefined; skipped: number } {
    let skipped = 0;
    const base = this.committed();
    const a = addressString(contract);
    const lo = latin1(prefix);
    let cursor = after ? latin1(after) : undefined;
    let cursorKey = after;
    for (;;) {
      // The smallest pending key in range, over this journal and its journal ancestors...
      let pending: string | undefined;
      for (let j: StateView = this; j instanceof Journal; j = j.parent) {
        const cw = j.contracts.get(a);
        if (cw === undefined) continue;
        const k = firstInRange(Journal.index(cw), lo, cursor);
        if (k !== undefined && (pending === undefined || k < pending)) pending = k;
      }
      // ...and the smallest committed one.
      const stored = base.next(contract, prefix, cursorKey);
      const storedK = stored ? latin1(stored.key) : undefined;
      const pick = pending === undefined ? storedK : storedK === undefined || pending < storedK ? pending : storedK;
      if (pick === undefined) return { entry: undefined, skipped };
      const w = this.lookup(a, pick);
      if (w === undefined) return { entry: stored, skipped }; // not written in this call: the committed entry
      if (w.value !== null) return { entry: { key: w.key, value: w.value }, skipped };
      cursor = pick; // removed in this call: skip it
      cursorKey = w.key;
      skipped++;
    }
  }

  commitInto(parent: Journal): void {
    for (const [a, cw] of this.contracts) for (const [k, w] of cw.writes) parent.put(a, k, w);
  }

  /** This journal's writes in (contract, key) order: the deterministic write set of a call. */
  toWrites(): StorageWrite[] {
    const out: StorageWrite[] = [];
    for (const a of [...this.contracts.keys()].sort()) {
      const writes = this.contracts.get(a)!.writes;
      for (const k of [...writes.keys()].sort()) out.push(writes.get(k)!);
    }
    return out;
  }

  get size(): number {
    return this.count;
  }
}

/**
 * Committed values copied into large append-only chunks, each found by one number: a state of
 * millions of entries is then a few large buffers to the GC, where an object and a buffer per value
 * would be traced by every major collection (at 40,000 entries that was half of a full collection's
 * work). A location is chunk index × CHUNK_BYTES + the offset of a u32 length, then the value's bytes.
 * Chunks are never written again, so a value handed out stays valid after it is overwritten.
 */
class ValueArena {
  static readonly CHUNK_BYTES = 1 << 20;
  /** Larger values get a chunk of their own. */
  private static readonly OWN_CHUNK_FROM = ValueArena.CHUNK_BYTES >> 3;
  private readonly chunks: Uint8Array[] = [];
  /** The chunk small values go to, and its index. */
  private chunk = new Uint8Array(0);
  private chunkIndex = -1;
  private at = 0;
  /** Bytes appended so far (live or not). */
  bytes = 0;

  put(value: Uint8Array): number {
    const n = 4 + value.length;
    let chunk = this.chunk, at = this.at, index = this.chunkIndex;
    if (n >= ValueArena.OWN_CHUNK_FROM) {
      chunk = new Uint8Array(n);
      at = 0;
      index = this.chunks.push(chunk) - 1;
    } else if (at + n > chunk.length) {
      chunk = this.chunk = new Uint8Array(ValueArena.CHUNK_BYTES);
      at = 0;
      index = this.chunkIndex = this.chunks.push(chunk) - 1;
    }
    const loc = index * ValueArena.CHUNK_BYTES + at;
    const len = value.length;
    chunk[at] = len;
    chunk[at + 1] = len >>> 8;
    chunk[at + 2] = len >>> 16;
    chunk[at + 3] = len >>> 24;
    chunk.set(value, at + 4);
    if (chunk === this.chunk) this.at = at + n;
    this.bytes += n;
    return loc;
  }

  get(loc: number): Uint8Array {
    const chunk = this.chunks[Math.floor(loc / ValueArena.CHUNK_BYTES)]!;
    const at = loc % ValueArena.CHUNK_BYTES;
    return chunk.subarray(at + 4, at + 4 + ValueArena.length(chunk, at));
  }

  /** The arena bytes a value takes (its length and itself). */
  sizeAt(loc: number): number {
    return 4 + ValueArena.length(this.chunks[Math.floor(loc / ValueArena.CHUNK_BYTES)]!, loc % ValueArena.CHUNK_BYTES);
  }

  private static length(chunk: Uint8Array, at: number): number {
    return (chunk[at]! | (chunk[at + 1]! << 8) | (chunk[at + 2]! << 16)) + chunk[at + 3]! * 0x1000000;
  }
}

/** Bytes of a `latin1` string (a key kept as its string). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** One contract's storage in MemoryState: value locations by key, and in key order once iterated. */
interface ContractStore {
  lookup: Map<string, number>;
  /** Built on the contract's first iteration, then kept up to date: most contracts are never iterated. */
  ordered: SortedMap<number> | undefined;
}

/**
 * An in-memory committed state: the node's, the `vm exec` CLI's, simulations' and tests'. Storage is
 * split per contract, so ordered keys are short (no shared 32-byte address prefix to compare); values
 * live in a ValueArena, copied in by `apply`.
 */
export class MemoryState implements StateView {
  private contracts = new Map<string, ContractStore>();
  private count = 0;
  private arena = new ValueArena();
  /** Arena bytes the current entries use: the arena is compacted when it holds much more. */
  private liveBytes = 0;

  /** A copy: the ordered trees are shared copy-on-write, the hash maps copied, the arena shared (append-only). */
  clone(): MemoryState {
    const c = new MemoryState();
    for (const [a, cs] of this.contracts) c.contracts.set(a, { lookup: new Map(cs.lookup), ordered: cs.ordered?.clone() });
    c.count = this.count;
    c.arena = this.arena;
    c.liveBytes = this.liveBytes;
    return c;
  }

  /** Every entry of a contract, in key order. */
  entriesOf(contract: Uint8Array): StorageEntry[] {
    const out: StorageEntry[] = [];
    const cs = this.contracts.get(addressString(contract));
    if (cs) MemoryState.ordered(cs).forEachPair((k, loc) => { out.push({ key: latin1Bytes(k), value: this.arena.get(loc) }); });
    return out;
  }

  get(contract: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    const loc = this.contracts.get(addressString(contract))?.lookup.get(latin1(key));
    return loc === undefined ? undefined : this.arena.get(loc);
  }

  /** Read by the journal's key strings (address, key), saving a conversion. */
  getByStrings(a: string, k: string): Uint8Array | undefined {
    const loc = this.contracts.get(a)?.lookup.get(k);
    return loc === undefined ? undefined : this.arena.get(loc);
  }

  next(contract: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): StorageEntry | undefined {
    const cs = this.contracts.get(addressString(contract));
    if (!cs) return undefined;
    const ordered = MemoryState.ordered(cs);
    const k = firstInRange(ordered, latin1(prefix), after ? latin1(after) : undefined);
    return k === undefined ? undefined : { key: latin1Bytes(k), value: this.arena.get(ordered.get(k)!) };
  }

  private static ordered(cs: ContractStore): SortedMap<number> {
    if (!cs.ordered) {
      cs.ordered = sortedMap<number>();
      for (const k of [...cs.lookup.keys()].sort()) cs.ordered.set(k, cs.lookup.get(k)!);
    }
    return cs.ordered;
  }

  apply(writes: Iterable<StorageWrite>): void {
    for (const w of writes) {
      const a = addressString(w.contract);
      const k = w.keyString ?? latin1(w.key);
      let cs = this.contracts.get(a);
      const old = cs?.lookup.get(k);
      if (old !== undefined) this.liveBytes -= this.arena.sizeAt(old);
      if (w.value === null) {
        if (old !== undefined) {
          cs!.lookup.delete(k);
          cs!.ordered?.delete(k);
          this.count--;
        }
        continue;
      }
      if (!cs) {
        cs = { lookup: new Map(), ordered: undefined };
        this.contracts.set(a, cs);
      }
      const loc = this.arena.put(w.value);
      this.liveBytes += 4 + w.value.length;
      if (old === undefined) this.count++;
      cs.lookup.set(k, loc);
      cs.ordered?.set(k, loc);
    }
    if (this.arena.bytes > 2 * this.liveBytes + MemoryState.COMPACT_SLACK) this.compact();
  }

  /** Overwritten and removed values stay in the arena until this: live values are copied to a new one. */
  private static readonly COMPACT_SLACK = 32 << 20;
  private compact(): void {
    const from = this.arena, to = new ValueArena();
    for (const cs of this.contracts.values()) {
      for (const [k, loc] of cs.lookup) {
        const moved = to.put(from.get(loc));
        cs.lookup.set(k, moved);
        cs.ordered?.set(k, moved);
      }
    }
    this.arena = to;
  }

  get size(): number {
    return this.count;
  }
}
