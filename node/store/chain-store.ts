/**
 * The node's LevelDB: blocks, commits, receipts, the transaction index, the flat contract state, the
 * state tree's nodes, and which accepted transactions expired (the pool itself is in pool-log.ts). A block is
 * committed in one atomic, synced batch together with the new head, so a node killed at any moment
 * restarts at its last committed block with everything of that block and nothing of the next.
 *
 * Keys start with one byte naming the record kind; heights are 8-byte big-endian (so blocks iterate
 * in order).
 */
import { Level } from 'level';
import type { StorageWrite } from '../../vm/state.ts';
import { pooledBytes } from '../../vm/bytes.ts';
import { StateError, type NodeRef, type NodeStore, type PersistableUpdate } from '../state/index.ts';

const K = {
  head: 0x48,        // 'H' → height ‖ block hash
  block: 0x42,       // 'B' height → encoded block
  commit: 0x43,      // 'C' height → encoded commit
  receipts: 0x52,    // 'R' height → encoded receipts
  blockHash: 0x49,   // 'I' block hash → height
  tx: 0x54,          // 'T' tx hash → height ‖ index
  state: 0x53,       // 'S' contract ‖ key → value
  node: 0x4e,        // 'N' node hash → encoded state tree node (stores written before node groups; read only)
  nodeGroup: 0x47,   // 'G' version ‖ u32 group → a group of state tree nodes (node/state/nodes.ts)
  stateRoot: 0x51,   // 'Q' state root hash → u64 version ‖ u32 slot: where the root node is
  pending: 0x50,     // 'P' tx hash → seq ‖ tx bytes: the pool before the pool log (read once, moved, deleted)
  expired: 0x58,     // 'X' tx hash → validUntilBlock, accepted and expired
  meta: 0x4d,        // 'M' name → bytes (genesis, ...)
} as const;

/** A record's key; pooled memory, since LevelDB copies keys as a batch takes them. */
function key(kind: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 1;
  for (const p of parts) n += p.length;
  const out = pooledBytes(n);
  out[0] = kind;
  let at = 1;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/** A state update's node groups, and where its root node is (one small record a block). */
function putStateUpdate(b: Batch, u: PersistableUpdate): void {
  const version = u64be(BigInt(u.version));
  u.groups.forEach((g, i) => b.put(key(K.nodeGroup, version, u32be(i)), g));
  if (u.rootRef) b.put(key(K.stateRoot, u.root), refBytes(u.rootRef));
}

function refBytes(ref: NodeRef): Uint8Array {
  const v = new Uint8Array(12);
  const dv = new DataView(v.buffer);
  dv.setBigUint64(0, BigInt(ref.at));
  dv.setUint32(8, ref.slot);
  return v;
}

export function u64be(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
}

function readU64be(b: Uint8Array, at = 0): bigint {
  return new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0);
}

const utf8 = new TextEncoder();

/** LevelDB hands out Buffers; callers get plain Uint8Arrays (the same memory), so comparisons and encodings behave alike everywhere. */
function plain(v: Uint8Array): Uint8Array;
function plain(v: Uint8Array | undefined): Uint8Array | undefined;
function plain(v: Uint8Array | undefined): Uint8Array | undefined {
  return v === undefined || Object.getPrototypeOf(v) === Uint8Array.prototype ? v : new Uint8Array(v.buffer, v.byteOffset, v.length);
}

export interface BlockRecord {
  height: bigint;
  hash: Uint8Array;
  block: Uint8Array;
  commit: Uint8Array;
  receipts: Uint8Array;
  txHashes: Uint8Array[];
  /** Flat state changes of the block. */
  writes: readonly StorageWrite[];
  /** The block's state tree update: its new nodes (stored in groups under its version) and its root's ref. */
  stateUpdate: PersistableUpdate;
}

export interface Head {
  height: bigint;
  hash: Uint8Array;
}

export class StoreError extends Error {
  /** STORE_CORRUPT: what is stored does not read back; STORE_LOCKED: another process has the data directory open. */
  readonly code: 'STORE_CORRUPT' | 'STORE_LOCKED';
  constructor(message: string, code: 'STORE_CORRUPT' | 'STORE_LOCKED' = 'STORE_CORRUPT') {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** The part of a chained batch the store fills. */
interface Batch { put(key: Uint8Array, value: Uint8Array): unknown; del(key: Uint8Array): unknown }

export class ChainStore {
  private readonly db: Level<Uint8Array, Uint8Array>;

  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.db = db;
  }

  private getSync(k: Uint8Array): Uint8Array | undefined {
    return plain(this.db.getSync(k));
  }

  static async open(dir: string): Promise<ChainStore> {
    // State tree nodes are keyed by hash, so their writes land all over the key space: a larger
    // memtable and larger tables mean far fewer compactions (a third of the compaction CPU of LevelDB's
    // 4 MB / 2 MB defaults at 72,000 transactions in `bench -- chain`).
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: 64 * 1024 * 1024, maxFileSize: 16 * 1024 * 1024 });
    try {
      await db.open();
    } catch (e) {
      // LevelDB's lock file: the usual cause is a second `brop start` on a home whose node is running.
      if ((e as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') {
        throw new StoreError(`${dir} is in use by another running process (a node started on this home already?): stop it first, or give this node a home of its own`, 'STORE_LOCKED');
      }
      throw e;
    }
    return new ChainStore(db);
  }

  get isOpen(): boolean {
    return this.db.status === 'open';
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  head(): Head | undefined {
    const v = this.getSync(key(K.head));
    if (!v) return undefined;
    if (v.length !== 40) throw new StoreError('head record is not 40 bytes');
    return { height: readU64be(v), hash: v.slice(8) };
  }

  block(height: bigint): Uint8Array | undefined {
    return this.getSync(key(K.block, u64be(height)));
  }

  commit(height: bigint): Uint8Array | undefined {
    return this.getSync(key(K.commit, u64be(height)));
  }

  receipts(height: bigint): Uint8Array | undefined {
    return this.getSync(key(K.receipts, u64be(height)));
  }

  heightOf(blockHash: Uint8Array): bigint | undefined {
    const v = this.getSync(key(K.blockHash, blockHash));
    return v ? readU64be(v) : undefined;
  }

  /** Where a committed transaction is: its block's height and hash, and its index in the block. */
  txLocation(txHash: Uint8Array): { height: bigint; index: number; blockHash: Uint8Array } | undefined {
    const v = this.getSync(key(K.tx, txHash));
    if (!v) return undefined;
    if (v.length !== 44) throw new StoreError('transaction index record is not 44 bytes');
    return { height: readU64be(v), index: new DataView(v.buffer, v.byteOffset + 8, 4).getUint32(0), blockHash: v.slice(12) };
  }

  /** The state tree's node store (node/state reads nodes synchronously). */
  stateNodes(): NodeStore {
    return {
      group: (version, group) => this.getSync(key(K.nodeGroup, u64be(BigInt(version)), u32be(group))),
      root: (hash) => {
        const v = this.getSync(key(K.stateRoot, hash));
        if (!v) return undefined;
        const at = v.length === 12 ? readU64be(v) : -1n;
        // A root read like any node: damage is the state's typed error (hasRoot answers false on it).
        if (at < 0n || at > BigInt(Number.MAX_SAFE_INTEGER)) throw new StateError('STATE_NODE_CORRUPT', `the ref of state root ${Buffer.from(hash).toString('hex')} is not a 12-byte ref`);
        return { at: Number(at), slot: new DataView(v.buffer, v.byteOffset + 8, 4).getUint32(0) };
      },
      byHash: (hash) => this.getSync(key(K.node, hash)),
    };
  }

  meta(name: string): Uint8Array | undefined {
    return this.getSync(key(K.meta, utf8.encode(name)));
  }

  /** Every flat state entry, in key order (loaded into memory at start). */
  async *stateEntries(): AsyncGenerator<StorageWrite> {
    for await (const [k, v] of this.db.iterator({ gte: key(K.state), lt: key(K.state + 1) })) {
      if (k.length < 33) throw new StoreError('state key shorter than a contract address');
      yield { contract: plain(k.slice(1, 33)), key: plain(k.slice(33)), value: plain(v) };
    }
  }

  /**
   * Pool records of versions before the pool log (node/store/pool-log.ts), in the order they were
   * accepted, with their keys' hashes: the node moves them into the log at start, then deletes them.
   */
  async pendingTxs(): Promise<{ txs: Uint8Array[]; hashes: Uint8Array[] }> {
    const found: Array<{ seq: bigint; bytes: Uint8Array; hash: Uint8Array }> = [];
    for await (const [k, v] of this.db.iterator({ gte: key(K.pending), lt: key(K.pending + 1) })) {
      if (v.length < 8) throw new StoreError('pending transaction record shorter than its sequence number');
      found.push({ seq: readU64be(v), bytes: plain(v).slice(8), hash: plain(k).slice(1) });
    }
    found.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
    return { txs: found.map((f) => f.bytes), hashes: found.map((f) => f.hash) };
  }

  /** Removes pool records of versions before the pool log (see pendingTxs). */
  async deletePending(hashes: readonly Uint8Array[]): Promise<void> {
    await this.write({ sync: true }, (b) => {
      for (const h of hashes) b.del(key(K.pending, h));
    });
  }

  /**
   * Pool entries that expired, remembered as expired (so a status query answers). Synced: the pool log
   * deletes their records once this is written.
   */
  async markExpired(txs: ReadonlyArray<{ hash: Uint8Array; validUntilBlock: bigint }>): Promise<void> {
    await this.write({ sync: true }, (b) => {
      for (const t of txs) b.put(key(K.expired, t.hash), u64be(t.validUntilBlock));
    });
  }

  /** validUntilBlock of a transaction this node accepted and that expired, if any. */
  expiredAt(txHash: Uint8Array): bigint | undefined {
    const v = this.getSync(key(K.expired, txHash));
    return v ? readU64be(v) : undefined;
  }

  /** Remembers a small named value (the genesis file's hash, say), synced. */
  async putMeta(name: string, value: Uint8Array): Promise<void> {
    await this.db.put(key(K.meta, utf8.encode(name)), value, { sync: true } as object);
  }

  /** One atomic, synced batch: the block and everything derived from it, then the new head. */
  async commitBlock(r: BlockRecord): Promise<void> {
    const h = u64be(r.height);
    await this.write({ sync: true }, (b) => {
      b.put(key(K.block, h), r.block);
      b.put(key(K.commit, h), r.commit);
      b.put(key(K.receipts, h), r.receipts);
      b.put(key(K.blockHash, r.hash), h);
      // Every transaction's location (height ‖ index ‖ block hash) in one buffer: one allocation a block.
      const locs = new Uint8Array(44 * r.txHashes.length);
      const locView = new DataView(locs.buffer);
      r.txHashes.forEach((t, i) => {
        const loc = locs.subarray(44 * i, 44 * (i + 1));
        loc.set(h);
        locView.setUint32(44 * i + 8, i);
        loc.set(r.hash, 12);
        b.put(key(K.tx, t), loc);
      });
      for (const w of r.writes) {
        const k = key(K.state, w.contract, w.key);
        if (w.value === null) b.del(k);
        else b.put(k, w.value);
      }
      putStateUpdate(b, r.stateUpdate);
      const head = new Uint8Array(40);
      head.set(h);
      head.set(r.hash, 8);
      b.put(key(K.head), head);
    });
  }

  /**
   * One atomic batch, filled by `fill`. A chained batch rather than an array of operations:
   * classic-level reads an array's operations field by field through N-API, which measured about
   * twice the cost per operation (a block writes ~7 per transaction).
   */
  private async write(options: { sync: boolean }, fill: (batch: Batch) => void): Promise<void> {
    const batch = this.db.batch();
    try {
      fill(batch);
    } catch (e) {
      await batch.close();
      throw e;
    }
    await batch.write(options as object);
  }
}
