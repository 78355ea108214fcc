/**
 * The chain's authenticated state: a binary sparse Merkle tree over sha256(key) with the compact rule
 * (hashes and proofs: proof.ts; stored nodes: nodes.ts; docs/state.md).
 *
 * Nodes are immutable and content-addressed: an update writes new nodes beside the old ones, so every
 * earlier root stays readable and provable for as long as the store keeps its nodes. The compact rule
 * makes a root a function of the key/value set alone, whatever the order of the writes that built it.
 */
import { StateError } from './errors.ts';
import { EMPTY_ID, GROUP_NODES, INTERNAL, LEAF, LEGACY, type LeafNode, type TreeNode, bytesOfId, decodeNode, decodeOwnGroupMember, encodeGroups, groupMember, hashOfId, idBit, idOf, keyPathIdOf, newNodeHashes, leafKey, leafValue, newInternal, newLeaf, sha256, writeId } from './nodes.ts';
import { HashBatch } from '../crypto/sha256-many.ts';
import { HASH_BYTES, MAX_DEPTH, MAX_KEY_BYTES, MAX_VALUE_BYTES, type StateProof } from './proof.ts';
import type { NodeRef, NodeStore, PersistableUpdate } from './store.ts';

/** One write of a block's write set. */
export interface StateWrite {
  key: Uint8Array;
  /** null: delete the key. */
  value: Uint8Array | null;
}

/** An update's result: the new root, where it is, and the nodes it created (PersistableUpdate: what a store keeps). */
export interface StateUpdate extends PersistableUpdate {
  /** The nodes this update created, in slot order (nodes.ts). */
  nodes: readonly TreeNode[];
  /**
   * Their group records: persist them under `version`, with the root's ref, before relying on `root`
   * beyond this tree's memory (`MemoryNodeStore.putUpdate` shows what to keep).
   */
  groups: readonly Buffer[];
  /** Its internal nodes in the upper UPPER_DEPTH levels, by slot (the rest are holes): see RecentVersions. */
  upperNodes: readonly (TreeNode | undefined)[];
  /** The new nodes' ids back to back, in slot order. */
  ids: string;
}

/**
 * The levels whose nodes the tree keeps as objects after an update: a block's writes share the upper
 * ~log2(writes) levels, and the next block's writes walk them again; below, each node lies on about one
 * write's path and is read (decoded from its group) once if ever.
 */
const UPPER_DEPTH = 12;

/** The update in progress: its version and what it has created so far (slot = index). */
interface Building {
  readonly at: number;
  readonly nodes: TreeNode[];
  readonly upper: TreeNode[];
}

export interface StateTreeOptions {
  /** The current root; the empty tree's when omitted. */
  root?: Uint8Array;
  /**
   * Decoded nodes kept in memory (default 500,000; a tree of 100,000 keys has ~270,000 nodes): the
   * nodes of the last versions adopted, up to this many, and up to a quarter as many read back from the store.
   */
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

/**
 * The nodes of the versions adopted last, whole and encoded: a version is its group records (as
 * stored) and its nodes' hashes, one Map entry and a few byte arrays, not ~10,000 objects. A node is
 * decoded when a read meets it (~0.3 µs; a leaf also hashes its key); those decoded objects die young,
 * where a cache of decoded nodes was most of the heap every major GC had to mark. The oldest versions
 * leave once they hold more than `capacity` nodes; the newest always stays.
 */
class RecentVersions {
  /** `ids`: the nodes' ids back to back (one string: a slot's id is checked with startsWith, no copy). */
  private readonly versions = new Map<number, { groups: readonly Buffer[]; ids: string; keyPaths: Buffer | undefined; count: number }>();
  /**
   * The newest version's upper nodes also as the objects its update made (by slot, with holes): the
   * upper levels of the tree are rewritten by every block and read by the next one, so they are met far
   * more often than the rest. The others would outlive young-generation collections for nothing.
   */
  private newest: { version: number; nodes: readonly (TreeNode | undefined)[] } | undefined;
  private nodes = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  add(version: number, nodes: readonly TreeNode[], groups: readonly Buffer[], upperNodes: readonly (TreeNode | undefined)[], ids: string): void {
    const before = this.versions.get(version);
    if (before !== undefined) {
      this.versions.delete(version);
      this.nodes -= before.count;
    }
    // Leaves' key paths too (sha256 of the key), so that reading a leaf back does not hash its key again.
    let keyPaths: Buffer | undefined;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (n.type === LEAF) writeId(keyPaths ??= Buffer.alloc(nodes.length * HASH_BYTES), n.keyPath, i * HASH_BYTES);
    }
    this.versions.set(version, { groups, ids, keyPaths, count: nodes.length });
    this.nodes += nodes.length;
    if (this.newest === undefined || version >= this.newest.version) this.newest = { version, nodes: upperNodes };
    for (const [v, kept] of this.versions) {
      if (this.nodes <= this.capacity || this.versions.size === 1) break;
      this.versions.delete(v);
      this.nodes -= kept.count;
    }
  }

  /** The node `id` at (at, slot), if that version is here and the slot holds it. */
  get(id: string, at: number, slot: number): TreeNode | undefined {
    if (this.newest !== undefined && this.newest.version === at) {
      const n = this.newest.nodes[slot];
      if (n !== undefined && n.id === id) return n;
    }
    const v = this.versions.get(at);
    if (v === undefined || slot >= v.count) return undefined;
    if (!v.ids.startsWith(id, slot * HASH_BYTES)) return undefined;
    // Memory this tree wrote itself, its hash just compared: no need to check it again.
    return decodeOwnGroupMember(id, v.groups[Math.floor(slot / GROUP_NODES)]!, slot % GROUP_NODES, at, slot, v.keyPaths);
  }

  get size(): number {
    return this.nodes;
  }
}

/** Roots adopted last and where their nodes are: a root found here needs no store lookup. */
const ROOT_REFS = 256;

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
  /**
   * Make the result the current root (default true); false computes a proposal's root and leaves the
   * tree where it was (`adopt` makes it current later).
   */
  commit?: boolean;
  /**
   * The version the new nodes are stored under. Two updates whose nodes are both persisted (or both
   * adopted) need versions of their own: the node uses heights. Default, for a tree created empty
   * only: one above the highest this tree has used.
   */
  version?: number;
}

/** The key paths of an update's writes, hashed in one batch (updates are synchronous: one batch serves all trees). */
const keyPathBatch = new HashBatch();

export class StateTree {
  private readonly store: NodeStore;
  /** Nodes read back from the store. */
  private readonly cache: NodeCache;
  private readonly recent: RecentVersions;
  private readonly rootRefs = new Map<string, NodeRef>();
  private readonly verifyNodes: boolean;
  private currentRootId: string;
  private lastVersion = -1;
  private openedAtRoot: boolean;

  constructor(store: NodeStore, options: StateTreeOptions = {}) {
    this.store = store;
    this.openedAtRoot = options.root !== undefined;
    const capacity = options.cacheNodes ?? 500_000;
    this.recent = new RecentVersions(capacity);
    this.cache = new NodeCache(Math.ceil(capacity / 4));
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
    this.openedAtRoot = true;
  }

  /** Decoded nodes in memory (for metrics). */
  get cachedNodes(): number {
    return this.recent.size + this.cache.size;
  }

  /**
   * Applies a write set (null value: delete; a key written twice: the last write wins) to the current
   * root (or `options.base`), makes the result the current root (unless `options.commit` is false) and
   * returns it with the new nodes. Each node above the writes is hashed once per batch, however many
   * writes lie under it. Validates every write before changing anything.
   */
  update(writes: Iterable<StateWrite>, options: UpdateOptions = {}): StateUpdate {
    const baseId = options.base === undefined ? this.currentRootId : rootId(options.base);
    // A tree opened at a stored root cannot know which versions its store holds: the caller names them.
    if (options.version === undefined && this.openedAtRoot) throw new StateError('STATE_VERSION_INVALID', 'a tree opened at an existing root needs each update\'s version (one its store does not hold yet)');
    const version = options.version ?? this.lastVersion + 1;
    if (!Number.isSafeInteger(version) || version < 0) throw new StateError('STATE_VERSION_INVALID', `a version is an integer from 0 to 2^53, not ${String(version)}`);
    const checked: StateWrite[] = [];
    keyPathBatch.reset(); // an update that threw halfway left its inputs
    for (const w of writes) {
      if (typeof w !== 'object' || w === null) throw new StateError('STATE_KEY_INVALID', 'a write is { key, value }');
      checkKey(w.key);
      checkValue(w.value);
      const at = keyPathBatch.add(w.key.length);
      keyPathBatch.data.set(w.key, at);
      checked.push(w);
    }
    keyPathBatch.digest();
    const byPath = new Map<string, PendingWrite>();
    for (let i = 0; i < checked.length; i++) {
      const keyPath = keyPathBatch.id(i);
      byPath.set(keyPath, { type: WRITE, keyPath, key: checked[i]!.key, value: checked[i]!.value });
    }
    keyPathBatch.reset();
    const pending = [...byPath.values()].sort((a, b) => (a.keyPath < b.keyPath ? -1 : 1));
    const b: Building = { at: version, nodes: [], upper: [] };
    newNodeHashes.begin();
    const before = this.loadRoot(baseId);
    const after = pending.length === 0 ? before : this.apply(before, 0, pending, 0, pending.length, b);
    const ids = newNodeHashes.finish(b.nodes);
    if (version > this.lastVersion) this.lastVersion = version;
    const u: StateUpdate = {
      root: bytesOfId(after === null ? EMPTY_ID : after.id),
      rootRef: after === null || after.at === LEGACY ? null : { at: after.at, slot: after.slot },
      version,
      nodes: b.nodes,
      groups: encodeGroups(b.nodes),
      upperNodes: b.upper,
      ids,
    };
    if (options.commit !== false) this.adopt(u);
    return u;
  }

  /**
   * Makes an update's root the current one and its nodes readable from the cache. Only updates whose
   * nodes are persisted (or about to be) may be adopted: nodes of proposals that lose never enter the
   * cache, where a later update could meet them by hash and follow refs to slots never written.
   */
  adopt(u: StateUpdate): void {
    if (u.nodes.length > 0) this.recent.add(u.version, u.nodes, u.groups, u.upperNodes, u.ids);
    this.currentRootId = rootId(u.root);
    if (u.rootRef !== null) {
      this.rootRefs.delete(this.currentRootId);
      this.rootRefs.set(this.currentRootId, u.rootRef);
      if (this.rootRefs.size > ROOT_REFS) this.rootRefs.delete(this.rootRefs.keys().next().value!);
    }
  }

  /** The value of `key` under `root` (default: the current root); undefined when absent. A copy. */
  get(key: Uint8Array, root?: Uint8Array): Uint8Array | undefined {
    checkKey(key);
    const keyPath = keyPathIdOf(key);
    let node = this.loadRoot(root === undefined ? this.currentRootId : rootId(root));
    for (let depth = 0; node !== null; depth++) {
      if (node.type === LEAF) return node.keyPath === keyPath ? new Uint8Array(leafValue(node)) : undefined;
      node = idBit(keyPath, depth) ? this.load(node.rightId, node.rightAt, node.rightSlot) : this.load(node.leftId, node.leftAt, node.leftSlot);
    }
    return undefined;
  }

  /** A proof of `key`'s value, or of its absence, under `root` (default: the current root). */
  prove(key: Uint8Array, root?: Uint8Array): StateProof {
    checkKey(key);
    const keyPath = keyPathIdOf(key);
    const siblings: (Uint8Array | null)[] = [];
    let node = this.loadRoot(root === undefined ? this.currentRootId : rootId(root));
    for (let depth = 0; node !== null && node.type === INTERNAL; depth++) {
      const right = idBit(keyPath, depth) === 1;
      const sibling = right ? node.leftId : node.rightId;
      siblings.push(sibling === EMPTY_ID ? null : bytesOfId(sibling));
      node = right ? this.load(node.rightId, node.rightAt, node.rightSlot) : this.load(node.leftId, node.leftAt, node.leftSlot);
    }
    if (node === null) return { siblings, end: { type: 'empty' } };
    if (node.keyPath === keyPath) return { siblings, end: { type: 'value', value: new Uint8Array(leafValue(node)) } };
    return { siblings, end: { type: 'leaf', keyPath: bytesOfId(node.keyPath), valueHash: new Uint8Array(sha256(leafValue(node))) } };
  }

  /** Whether `root`'s top node is available (cached or stored): a quick check before serving a height. */
  hasRoot(root: Uint8Array): boolean {
    try {
      this.loadRoot(rootId(root));
      return true;
    } catch (e) {
      if (e instanceof StateError && e.code !== 'STATE_ROOT_INVALID') return false;
      throw e;
    }
  }

  /** A root node: where an adopted update or the store's root record says, or (stores written before groups) by hash. */
  private loadRoot(id: string): TreeNode | null {
    if (id === EMPTY_ID) return null;
    const ref = this.rootRefs.get(id) ?? this.store.root(hashOfId(id));
    return ref === undefined ? this.load(id, LEGACY, 0) : this.load(id, ref.at, ref.slot);
  }

  /** The node `id`, stored at (at, slot). */
  private load(id: string, at: number, slot: number): TreeNode | null {
    if (id === EMPTY_ID) return null;
    const recent = this.recent.get(id, at, slot);
    if (recent !== undefined) return recent;
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    let stored: Uint8Array | undefined;
    if (at === LEGACY) {
      stored = this.store.byHash(hashOfId(id));
    } else {
      const group = this.store.group(at, Math.floor(slot / GROUP_NODES));
      if (group !== undefined) stored = groupMember(id, group, slot % GROUP_NODES);
    }
    if (stored === undefined) throw new StateError('STATE_NODE_MISSING', `node ${hashOfId(id).toString('hex')} is not in the store${at === LEGACY ? '' : ` (version ${at}, slot ${slot})`}`);
    const node = decodeNode(id, stored, this.verifyNodes, at, slot);
    this.cache.set(id, node);
    return node;
  }

  /** The subtree `node` at `depth` with the writes [lo, hi) applied (all under this subtree). */
  private apply(node: TreeNode | null, depth: number, writes: PendingWrite[], lo: number, hi: number, b: Building): TreeNode | null {
    if (node === null) {
      const entries: Entry[] = [];
      for (let i = lo; i < hi; i++) if (writes[i]!.value !== null) entries.push(writes[i]!);
      return this.build(depth, entries, 0, entries.length, b);
    }
    if (node.type === LEAF) return this.applyToLeaf(node, depth, writes, lo, hi, b);

    const m = splitIndex(writes, lo, hi, depth);
    // undefined: that side has no writes (or they changed nothing).
    let left: TreeNode | null | undefined;
    let right: TreeNode | null | undefined;
    if (m > lo) {
      const before = this.load(node.leftId, node.leftAt, node.leftSlot);
      left = this.apply(before, depth + 1, writes, lo, m, b);
      if (left === before) left = undefined;
    }
    if (hi > m) {
      const before = this.load(node.rightId, node.rightAt, node.rightSlot);
      right = this.apply(before, depth + 1, writes, m, hi, b);
      if (right === before) right = undefined;
    }
    if (left === undefined && right === undefined) return node;
    // Compact rule: a subtree left holding one leaf (or none) is that leaf (or empty).
    if (left === null || (left === undefined && node.leftId === EMPTY_ID)) {
      const other = right === undefined ? this.load(node.rightId, node.rightAt, node.rightSlot) : right;
      if (other === null || other.type === LEAF) return other;
    }
    if (right === null || (right === undefined && node.rightId === EMPTY_ID)) {
      const other = left === undefined ? this.load(node.leftId, node.leftAt, node.leftSlot) : left;
      if (other === null || other.type === LEAF) return other;
    }
    return this.internal(
      left === undefined ? node.leftId : left === null ? EMPTY_ID : left.id,
      left === undefined ? node.leftAt : left === null ? 0 : left.at,
      left === undefined ? node.leftSlot : left === null ? 0 : left.slot,
      right === undefined ? node.rightId : right === null ? EMPTY_ID : right.id,
      right === undefined ? node.rightAt : right === null ? 0 : right.at,
      right === undefined ? node.rightSlot : right === null ? 0 : right.slot,
      depth, b,
    );
  }

  private applyToLeaf(leaf: LeafNode, depth: number, writes: PendingWrite[], lo: number, hi: number, b: Building): TreeNode | null {
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
    return this.build(depth, entries, 0, entries.length, b);
  }

  /** The compact subtree at `depth` holding exactly entries [lo, hi) (ordered, sharing `depth` bits). */
  private build(depth: number, entries: Entry[], lo: number, hi: number, b: Building): TreeNode | null {
    if (hi === lo) return null;
    if (hi - lo === 1) {
      const e = entries[lo]!;
      if (e.type === LEAF) return e;
      const leaf = newLeaf(e.keyPath, e.key, e.value!, b.at, b.nodes.length);
      b.nodes.push(leaf);
      newNodeHashes.leaf(leaf);
      return leaf;
    }
    // Distinct keyPaths differ within 256 bits.
    if (depth >= MAX_DEPTH) throw new Error('sha256 collision between two state keys');
    const m = splitIndex(entries, lo, hi, depth);
    const left = this.build(depth + 1, entries, lo, m, b);
    const right = this.build(depth + 1, entries, m, hi, b);
    return this.internal(
      left === null ? EMPTY_ID : left.id, left === null ? 0 : left.at, left === null ? 0 : left.slot,
      right === null ? EMPTY_ID : right.id, right === null ? 0 : right.at, right === null ? 0 : right.slot,
      depth, b,
    );
  }

  /** A new internal node at `depth`, in the next slot (hashed with the update's other new nodes, by newNodeHashes). */
  private internal(leftId: string, leftAt: number, leftSlot: number, rightId: string, rightAt: number, rightSlot: number, depth: number, b: Building): TreeNode {
    const node = newInternal(leftId, leftAt, leftSlot, rightId, rightAt, rightSlot, b.at, b.nodes.length);
    if (depth < UPPER_DEPTH) b.upper[b.nodes.length] = node;
    b.nodes.push(node);
    newNodeHashes.internal(node);
    return node;
  }
}
