/**
 * The chain's authenticated state: a binary sparse Merkle tree over sha256(key) with the compact rule
 * (hashes and proofs: proof.ts; stored nodes: nodes.ts; docs/state.md).
 *
 * Nodes are immutable and content-addressed: an update writes new nodes beside the old ones, so every
 * earlier root stays readable and provable for as long as the store keeps its nodes. The compact rule
 * makes a root a function of the key/value set alone, whatever the order of the writes that built it.
 */
import { StateError } from './errors.ts';
import { EMPTY_ID, INTERNAL, LEAF, type LeafNode, type TreeNode, bytesOfId, decodeNode, hashOfId, hexOfId, idBit, idOf, internalBytes, keyPathIdOf, leafKey, leafValue, makeLeaf, sha256, sha256Id } from './nodes.ts';
import { HASH_BYTES, MAX_DEPTH, MAX_KEY_BYTES, MAX_VALUE_BYTES, type StateProof } from './proof.ts';
import type { NodeStore } from './store.ts';

/** One write of a block's write set. */
export interface StateWrite {
  key: Uint8Array;
  /** null: delete the key. */
  value: Uint8Array | null;
}

export interface StateUpdate {
  /** The root after the writes. */
  root: Uint8Array;
  /**
   * The nodes this update created, by hash (lowercase hex, no 0x) to encoding: persist them all before
   * relying on `root` beyond this tree's cache. Some may already be stored (a value set back to an
   * earlier one): writing them again is harmless.
   */
  nodes: Map<string, Uint8Array>;
}

export interface StateTreeOptions {
  /** The current root; the empty tree's when omitted. */
  root?: Uint8Array;
  /** Decoded nodes kept in memory (default 500,000; a tree of 100,000 keys has ~270,000 nodes). */
  cacheNodes?: number;
  /** Check that every node read from the store hashes to its key (default true). */
  verifyNodes?: boolean;
}

const WRITE = 2;

/** A write with its keyPath, deduplicated and ordered by keyPath for the batch. */
interface PendingWrite {
  readonly type: typeof WRITE;
  readonly keyPath: string;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** What a subtree is rebuilt from: new writes and old leaves that stay. */
type Entry = PendingWrite | LeafNode;

/**
 * A bounded map approximating LRU at the cost of two Map operations: when the young generation fills
 * half the capacity it becomes the old one and the previous old one is dropped; a hit in the old
 * generation moves the node back to the young one. Hot upper nodes never leave.
 */
class NodeCache {
  private young = new Map<string, TreeNode>();
  private old = new Map<string, TreeNode>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get(id: string): TreeNode | undefined {
    const n = this.young.get(id);
    if (n !== undefined) return n;
    const o = this.old.get(id);
    if (o !== undefined) this.set(id, o);
    return o;
  }

  set(id: string, node: TreeNode): void {
    this.young.set(id, node);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

function checkKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new StateError('STATE_KEY_INVALID', 'a key is a Uint8Array');
  if (key.length > MAX_KEY_BYTES) throw new StateError('STATE_KEY_INVALID', `key of ${key.length} bytes above ${MAX_KEY_BYTES}`);
}

function checkValue(value: unknown): asserts value is Uint8Array | null {
  if (value === null) return;
  if (!(value instanceof Uint8Array)) throw new StateError('STATE_VALUE_INVALID', 'a value is a Uint8Array, or null to delete');
  if (value.length > MAX_VALUE_BYTES) throw new StateError('STATE_VALUE_INVALID', `value of ${value.length} bytes above ${MAX_VALUE_BYTES}`);
}

function rootId(root: unknown): string {
  if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) throw new StateError('STATE_ROOT_INVALID', 'a state root is 32 bytes');
  return idOf(root);
}

/** The first index in [lo, hi) whose keyPath has bit `depth` set; entries share their first `depth` bits and are ordered. */
function splitIndex(entries: readonly { keyPath: string }[], lo: number, hi: number, depth: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idBit(entries[mid]!.keyPath, depth)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

export interface UpdateOptions {
  /** The root to apply the writes to (default: the current root). */
  base?: Uint8Array;
  /** Make the result the current root (default true); false computes a proposal's root and leaves the tree where it was. */
  commit?: boolean;
}

export class StateTree {
  private readonly store: NodeStore;
  private readonly cache: NodeCache;
  private readonly verifyNodes: boolean;
  private currentRootId: string;

  constructor(store: NodeStore, options: StateTreeOptions = {}) {
    this.store = store;
    this.cache = new NodeCache(options.cacheNodes ?? 500_000);
    this.verifyNodes = options.verifyNodes ?? true;
    this.currentRootId = options.root === undefined ? EMPTY_ID : rootId(options.root);
  }

  /** The current root (a copy): the default for reads, proofs and updates. */
  get root(): Uint8Array {
    return bytesOfId(this.currentRootId);
  }

  /** Moves the current root to any root whose nodes are kept (e.g. a block committed elsewhere). */
  setRoot(root: Uint8Array): void {
    this.currentRootId = rootId(root);
  }

  /** Decoded nodes in the cache (for metrics). */
  get cachedNodes(): number {
    return this.cache.size;
  }

  /**
   * Applies a write set (null value: delete; a key written twice: the last write wins) to the current
   * root (or `options.base`), makes the result the current root (unless `options.commit` is false) and
   * returns it with the new nodes. Each node above the writes is hashed once per batch, however many
   * writes lie under it. Validates every write before changing anything.
   */
  update(writes: Iterable<StateWrite>, options: UpdateOptions = {}): StateUpdate {
    const baseId = options.base === undefined ? this.currentRootId : rootId(options.base);
    const byPath = new Map<string, PendingWrite>();
    for (const w of writes) {
      if (typeof w !== 'object' || w === null) throw new StateError('STATE_KEY_INVALID', 'a write is { key, value }');
      checkKey(w.key);
      checkValue(w.value);
      const keyPath = keyPathIdOf(w.key);
      byPath.set(keyPath, { type: WRITE, keyPath, key: w.key, value: w.value });
    }
    const pending = [...byPath.values()].sort((a, b) => (a.keyPath < b.keyPath ? -1 : 1));
    const nodes = new Map<string, Uint8Array>();
    const before = this.load(baseId);
    const after = pending.length === 0 ? before : this.apply(before, 0, pending, 0, pending.length, nodes);
    const afterId = after === null ? EMPTY_ID : after.id;
    if (options.commit !== false) this.currentRootId = afterId;
    return { root: bytesOfId(afterId), nodes };
  }

  /** The value of `key` under `root` (default: the current root); undefined when absent. A copy. */
  get(key: Uint8Array, root?: Uint8Array): Uint8Array | undefined {
    checkKey(key);
    const keyPath = keyPathIdOf(key);
    let node = this.load(root === undefined ? this.currentRootId : rootId(root));
    for (let depth = 0; node !== null; depth++) {
      if (node.type === LEAF) return node.keyPath === keyPath ? new Uint8Array(leafValue(node)) : undefined;
      node = this.load(idBit(keyPath, depth) ? node.rightId : node.leftId);
    }
    return undefined;
  }

  /** A proof of `key`'s value, or of its absence, under `root` (default: the current root). */
  prove(key: Uint8Array, root?: Uint8Array): StateProof {
    checkKey(key);
    const keyPath = keyPathIdOf(key);
    const siblings: (Uint8Array | null)[] = [];
    let node = this.load(root === undefined ? this.currentRootId : rootId(root));
    for (let depth = 0; node !== null && node.type === INTERNAL; depth++) {
      const right = idBit(keyPath, depth) === 1;
      const sibling = right ? node.leftId : node.rightId;
      siblings.push(sibling === EMPTY_ID ? null : bytesOfId(sibling));
      node = this.load(right ? node.rightId : node.leftId);
    }
    if (node === null) return { siblings, end: { type: 'empty' } };
    if (node.keyPath === keyPath) return { siblings, end: { type: 'value', value: new Uint8Array(leafValue(node)) } };
    return { siblings, end: { type: 'leaf', keyPath: bytesOfId(node.keyPath), valueHash: new Uint8Array(sha256(leafValue(node))) } };
  }

  /** Whether `root`'s top node is available (cached or stored): a quick check before serving a height. */
  hasRoot(root: Uint8Array): boolean {
    try {
      this.load(rootId(root));
      return true;
    } catch (e) {
      if (e instanceof StateError && e.code !== 'STATE_ROOT_INVALID') return false;
      throw e;
    }
  }

  private load(id: string): TreeNode | null {
    if (id === EMPTY_ID) return null;
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    const stored = this.store.get(hashOfId(id));
    if (stored === undefined) throw new StateError('STATE_NODE_MISSING', `node ${hashOfId(id).toString('hex')} is not in the store`);
    const node = decodeNode(id, stored, this.verifyNodes);
    this.cache.set(id, node);
    return node;
  }

  /** The subtree `node` at `depth` with the writes [lo, hi) applied (all under this subtree). */
  private apply(node: TreeNode | null, depth: number, writes: PendingWrite[], lo: number, hi: number, out: Map<string, Uint8Array>): TreeNode | null {
    if (node === null) {
      const entries: Entry[] = [];
      for (let i = lo; i < hi; i++) if (writes[i]!.value !== null) entries.push(writes[i]!);
      return this.build(depth, entries, 0, entries.length, out);
    }
    if (node.type === LEAF) return this.applyToLeaf(node, depth, writes, lo, hi, out);

    const m = splitIndex(writes, lo, hi, depth);
    // undefined: that side has no writes (or they changed nothing).
    let left: TreeNode | null | undefined;
    let right: TreeNode | null | undefined;
    if (m > lo) {
      const before = this.load(node.leftId);
      left = this.apply(before, depth + 1, writes, lo, m, out);
      if (left === before) left = undefined;
    }
    if (hi > m) {
      const before = this.load(node.rightId);
      right = this.apply(before, depth + 1, writes, m, hi, out);
      if (right === before) right = undefined;
    }
    if (left === undefined && right === undefined) return node;
    // Compact rule: a subtree left holding one leaf (or none) is that leaf (or empty).
    if (left === null || (left === undefined && node.leftId === EMPTY_ID)) {
      const other = right === undefined ? this.load(node.rightId) : right;
      if (other === null || other.type === LEAF) return other;
    }
    if (right === null || (right === undefined && node.rightId === EMPTY_ID)) {
      const other = left === undefined ? this.load(node.leftId) : left;
      if (other === null || other.type === LEAF) return other;
    }
    const leftId = left === undefined ? node.leftId : left === null ? EMPTY_ID : left.id;
    const rightId = right === undefined ? node.rightId : right === null ? EMPTY_ID : right.id;
    return this.internal(leftId, rightId, out);
  }

  private applyToLeaf(leaf: LeafNode, depth: number, writes: PendingWrite[], lo: number, hi: number, out: Map<string, Uint8Array>): TreeNode | null {
    const entries: Entry[] = [];
    let kept = true;
    for (let i = lo; i < hi; i++) {
      const w = writes[i]!;
      if (w.keyPath === leaf.keyPath) {
        kept = false;
        if (!sameBytes(w.key, leafKey(leaf))) throw new Error('sha256 collision between two state keys');
        if (w.value !== null) entries.push(sameBytes(w.value, leafValue(leaf)) ? leaf : w);
      } else if (w.value !== null) {
        entries.push(w);
      }
    }
    if (kept) {
      let at = 0;
      while (at < entries.length && entries[at]!.keyPath < leaf.keyPath) at++;
      entries.splice(at, 0, leaf);
    }
    if (entries.length === 1 && entries[0] === leaf) return leaf;
    return this.build(depth, entries, 0, entries.length, out);
  }

  /** The compact subtree at `depth` holding exactly entries [lo, hi) (ordered, sharing `depth` bits). */
  private build(depth: number, entries: Entry[], lo: number, hi: number, out: Map<string, Uint8Array>): TreeNode | null {
    if (hi === lo) return null;
    if (hi - lo === 1) {
      const e = entries[lo]!;
      if (e.type === LEAF) return e;
      const leaf = makeLeaf(e.keyPath, e.key, e.value!);
      this.cache.set(leaf.id, leaf);
      out.set(hexOfId(leaf.id), leaf.bytes);
      return leaf;
    }
    // Distinct keyPaths differ within 256 bits.
    if (depth >= MAX_DEPTH) throw new Error('sha256 collision between two state keys');
    const m = splitIndex(entries, lo, hi, depth);
    const left = this.build(depth + 1, entries, lo, m, out);
    const right = this.build(depth + 1, entries, m, hi, out);
    return this.internal(left === null ? EMPTY_ID : left.id, right === null ? EMPTY_ID : right.id, out);
  }

  private internal(leftId: string, rightId: string, out: Map<string, Uint8Array>): TreeNode {
    const bytes = internalBytes(leftId, rightId);
    const node: TreeNode = { type: INTERNAL, id: sha256Id(bytes), leftId, rightId };
    this.cache.set(node.id, node);
    out.set(hexOfId(node.id), bytes);
    return node;
  }
}
