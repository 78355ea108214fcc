/**
 * Stored tree nodes: their encoding, their hashes (node:crypto, the node's hot path), and decoding
 * with integrity checks. Hashes are the rules of proof.ts; tests check both give the same bytes.
 *
 * Node encodings:
 *   leaf     = 0x00 ‖ u16 key length ‖ key ‖ value      (hash: sha256(0x00 ‖ sha256(key) ‖ sha256(value)))
 *   internal = 0x01 ‖ left hash ‖ right hash ‖ left ref ‖ right ref
 *              (hash: sha256 of the first 65 bytes; a ref is where that child is stored, below)
 * The empty subtree (hash 32 zero bytes) is never stored.
 *
 * Where nodes are stored: an update (one version: a block's height) lists the nodes it creates in the
 * order it creates them, children before parents; a node's **slot** is its place in that list. The
 * list is stored in **groups** of GROUP_NODES consecutive slots, one store record each, keyed by
 * (version, slot / GROUP_NODES): a block's nodes are a few records under keys that grow with the
 * height, instead of one record per node under a random hash (LevelDB's inserts of random keys cost
 * ~3x those of ordered ones, and ~5 a transaction). A parent names each child by hash and by
 * **ref** = u64 version ‖ u32 slot, so a read goes from the root down without an index.
 *
 * Stores written before groups hold nodes by hash: 65-byte internal nodes without refs, whose children
 * are found by hash too (version LEGACY).
 *
 * Decoded nodes name hashes by their `latin1` strings ("ids"): cheap Map keys, cheap to compare and to
 * order bytewise, and much lighter than a Uint8Array view per hash in a cache of many nodes.
 */
import { hash } from 'node:crypto';
import { HashBatch, LinkedRecords } from '../crypto/sha256-many.ts';
import { StateError } from './errors.ts';
import { HASH_BYTES, INTERNAL_PREFIX, LEAF_PREFIX, MAX_KEY_BYTES, MAX_VALUE_BYTES } from './proof.ts';

export const LEAF = 0;
export const INTERNAL = 1;

/** The version of a node stored by hash (a store written before node groups). */
export const LEGACY = -1;
/** Consecutive slots stored together in one record. */
export const GROUP_NODES = 16;
/** An internal node's encoding: tag, two hashes, two refs. */
const INTERNAL_BYTES = 1 + 2 * HASH_BYTES + 2 * 12;

/** Where a node is stored: the version that created it (LEGACY: by hash) and its slot there. */
interface Located {
  readonly at: number;
  readonly slot: number;
}

export interface LeafNode extends Located {
  readonly type: typeof LEAF;
  /** The node's hash as a latin1 string. */
  readonly id: string;
  /** sha256(key) as a latin1 string: orders like the bytes, and bits read with charCodeAt. */
  readonly keyPath: string;
  /** The stored encoding; the key and value are read from it (see leafKey, leafValue). */
  readonly bytes: Buffer;
  readonly keyLength: number;
}

export interface InternalNode extends Located {
  readonly type: typeof INTERNAL;
  readonly id: string;
  readonly leftId: string;
  readonly rightId: string;
  readonly leftAt: number;
  readonly leftSlot: number;
  readonly rightAt: number;
  readonly rightSlot: number;
}

/** A non-empty subtree; the empty subtree is null. */
export type TreeNode = LeafNode | InternalNode;

/** The empty subtree's hash as an id. */
export const EMPTY_ID = '\0'.repeat(HASH_BYTES);

// Node's own latin1 decoder, applicable to any Uint8Array without wrapping it in a Buffer.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** Writes an id's 32 bytes at `offset` (Buffer's own latin1 writer: ~3x faster than write(..., 'latin1')). */
export function writeId(out: Buffer, id: string, offset: number): void {
  (out as unknown as { latin1Write(s: string, offset: number, length: number): number }).latin1Write(id, offset, HASH_BYTES);
}

export function idOf(bytes: Uint8Array): string {
  return latin1Slice.call(bytes, 0, bytes.length);
}

export function hashOfId(id: string): Buffer {
  return Buffer.from(id, 'latin1');
}

/** An id's bytes as a plain Uint8Array of its own, for callers (a Buffer would share Node's pool). */
export function bytesOfId(id: string): Uint8Array {
  const out = new Uint8Array(id.length);
  for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i);
  return out;
}

export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/**
 * sha256 as an id. A string digest is 3-4x faster than a Buffer one here (no backing store to
 * allocate per hash), and ids are what the tree works with.
 */
export function sha256Id(data: Uint8Array): string {
  return hash('sha256', data, 'binary'); // 'binary' is latin1
}

/** The key's path in the tree, as an id-style string. */
export function keyPathIdOf(key: Uint8Array): string {
  return sha256Id(key);
}

export function idBit(id: string, depth: number): number {
  return (id.charCodeAt(depth >> 3) >> (7 - (depth & 7))) & 1;
}

export function leafKey(leaf: LeafNode): Buffer {
  return leaf.bytes.subarray(3, 3 + leaf.keyLength);
}

export function leafValue(leaf: LeafNode): Buffer {
  return leaf.bytes.subarray(3 + leaf.keyLength);
}

// One preimage buffer for every leaf hash: hashing is synchronous, so it is never shared.
const leafPreimage = Buffer.alloc(1 + 2 * HASH_BYTES);

function leafHashId(keyPath: string, value: Uint8Array): string {
  leafPreimage[0] = LEAF_PREFIX;
  writeId(leafPreimage, keyPath, 1);
  writeId(leafPreimage, sha256Id(value), 1 + HASH_BYTES);
  return sha256Id(leafPreimage);
}

/**
 * The id of a node made by newLeaf or newInternal until newNodeHashes sets it; also a new internal
 * node's child id while that child (a node of the same update, at the child's slot) has none yet.
 */
export const PENDING_ID = '';

/** A new leaf at (at, slot), key and value copied into its encoding; its id is PENDING_ID until newNodeHashes sets it. */
export function newLeaf(keyPath: string, key: Uint8Array, value: Uint8Array, at: number, slot: number): LeafNode {
  const bytes = Buffer.allocUnsafe(3 + key.length + value.length);
  bytes[0] = LEAF_PREFIX;
  bytes.writeUInt16BE(key.length, 1);
  bytes.set(key, 3);
  bytes.set(value, 3 + key.length);
  return { type: LEAF, id: PENDING_ID, keyPath, bytes, keyLength: key.length, at, slot };
}

const TWO_32 = 2 ** 32;

/** A ref (u64 version ‖ u32 slot) at `offset`; versions are below 2^53, so no BigInt is needed. */
function writeRef(out: Buffer, offset: number, at: number, slot: number): void {
  if (at === LEGACY) {
    out.writeUInt32BE(0xffffffff, offset);
    out.writeUInt32BE(0xffffffff, offset + 4);
  } else {
    out.writeUInt32BE(Math.floor(at / TWO_32), offset);
    out.writeUInt32BE(at >>> 0, offset + 4);
  }
  out.writeUInt32BE(slot, offset + 8);
}

const u32At = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * The version of the ref at `o`; NaN when it is above 2^53 (never written). Below 2^32 it is `lo`
 * itself: arithmetic would make a heap number of it, and a node's fields that ever hold one are boxed
 * in every node (three more objects per node for the GC).
 */
function refAtOf(b: Uint8Array, o: number): number {
  const hi = u32At(b, o), lo = u32At(b, o + 4);
  if (hi === 0) return lo;
  if (hi === 0xffffffff && lo === 0xffffffff) return LEGACY;
  return hi < 0x200000 ? hi * TWO_32 + lo : NaN;
}

/** A new internal node at (at, slot) over two children named by id and ref (a child of the same update: PENDING_ID and its slot); its id is PENDING_ID until newNodeHashes sets it. */
export function newInternal(leftId: string, leftAt: number, leftSlot: number, rightId: string, rightAt: number, rightSlot: number, at: number, slot: number): InternalNode {
  return { type: INTERNAL, id: PENDING_ID, leftId, rightId, leftAt, leftSlot, rightAt, rightSlot, at, slot };
}

/**
 * An update's new nodes, hashed together (`newNodeHashes`): each node's preimage is written when the
 * node is made, a new child's hash left to be filled in; `finish` hashes every leaf's value in one
 * batch, then every node in creation order in one more (LinkedRecords: a child's digest lands in its
 * parent's preimage), and sets the ids. About 0.2 µs a node instead of a node:crypto call (~0.6 µs)
 * and an id write per hash.
 */
class NewNodeHashes {
  private readonly values = new HashBatch();
  private readonly preimages = new LinkedRecords(1 + 2 * HASH_BYTES);
  private readonly leafSlots: number[] = [];

  /** Forgets any nodes of an update that did not finish (one that threw halfway). */
  begin(): void {
    this.values.reset();
    this.preimages.reset();
    this.leafSlots.length = 0;
  }

  /** A leaf from newLeaf, just given the next slot. */
  leaf(leaf: LeafNode): void {
    const at = this.record(leaf);
    this.preimages.records[at] = LEAF_PREFIX;
    writeId(this.preimages.records, leaf.keyPath, at + 1);
    const valueAt = 3 + leaf.keyLength;
    const v = this.values.add(leaf.bytes.length - valueAt); // before reading .data: add may replace it
    leaf.bytes.copy(this.values.data, v, valueAt);
    this.leafSlots.push(leaf.slot);
  }

  /** An internal node from newInternal, just given the next slot; a PENDING_ID child is the node at its slot. */
  internal(n: InternalNode): void {
    const at = this.record(n);
    this.preimages.records[at] = INTERNAL_PREFIX;
    if (n.leftId === PENDING_ID) this.preimages.link(n.leftSlot, at + 1);
    else writeId(this.preimages.records, n.leftId, at + 1);
    if (n.rightId === PENDING_ID) this.preimages.link(n.rightSlot, at + 1 + HASH_BYTES);
    else writeId(this.preimages.records, n.rightId, at + 1 + HASH_BYTES);
  }

  private record(n: TreeNode): number {
    const at = this.preimages.add();
    if (at !== n.slot * this.preimages.size) throw new Error(`new node at slot ${n.slot} hashed as node ${this.preimages.count - 1}`);
    return at;
  }

  /**
   * Sets the ids of the update's new nodes (`nodes[i]` at slot i), and their PENDING_ID child ids;
   * returns them all back to back, one string (each node's id is a slice of it: no copy).
   */
  finish(nodes: readonly TreeNode[]): string {
    if (nodes.length !== this.preimages.count) throw new Error(`${nodes.length} new nodes, ${this.preimages.count} hashed`);
    const valueHashes = this.values.digest();
    for (let i = 0; i < this.leafSlots.length; i++) {
      valueHashes.copy(this.preimages.records, this.leafSlots[i]! * this.preimages.size + 1 + HASH_BYTES, i * HASH_BYTES, (i + 1) * HASH_BYTES);
    }
    const digests = this.preimages.digest();
    const ids = latin1Slice.call(digests, 0, nodes.length * HASH_BYTES);
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as TreeNode & { id: string; leftId: string; rightId: string };
      n.id = ids.slice(i * HASH_BYTES, (i + 1) * HASH_BYTES);
      if (n.type === INTERNAL) {
        if (n.leftId === PENDING_ID) n.leftId = nodes[n.leftSlot]!.id;
        if (n.rightId === PENDING_ID) n.rightId = nodes[n.rightSlot]!.id;
      }
    }
    this.begin();
    return ids;
  }
}

/** Updates are synchronous: one instance serves every tree. */
export const newNodeHashes = new NewNodeHashes();

function encodedLength(n: TreeNode): number {
  return n.type === LEAF ? n.bytes.length : INTERNAL_BYTES;
}

/** Writes a node's encoding at `offset` of `out`. */
function writeNode(out: Buffer, offset: number, n: TreeNode): void {
  if (n.type === LEAF) {
    out.set(n.bytes, offset);
    return;
  }
  out[offset] = INTERNAL_PREFIX;
  writeId(out, n.leftId, offset + 1);
  writeId(out, n.rightId, offset + 1 + HASH_BYTES);
  writeRef(out, offset + 1 + 2 * HASH_BYTES, n.leftAt, n.leftSlot);
  writeRef(out, offset + 13 + 2 * HASH_BYTES, n.rightAt, n.rightSlot);
}

/** A node's encoding (the form it is stored in). */
export function encodeNode(n: TreeNode): Uint8Array {
  const out = Buffer.alloc(encodedLength(n));
  writeNode(out, 0, n);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * An update's new nodes, in slot order, as group records: group g holds slots
 * [g·GROUP_NODES, (g+1)·GROUP_NODES), each as u32 length ‖ encoding. Written straight from the
 * decoded nodes: an update allocates no encoding per internal node.
 */
export function encodeGroups(nodes: readonly TreeNode[]): Buffer[] {
  // One allocation for the whole update (a new backing store costs ~1-2 µs each), every byte written;
  // the groups are views of it, kept (or dropped) together.
  let total = 0;
  for (const node of nodes) total += 4 + encodedLength(node);
  const out = Buffer.allocUnsafeSlow(total);
  const groups: Buffer[] = [];
  let at = 0;
  for (let g = 0; g < nodes.length; g += GROUP_NODES) {
    const start = at;
    for (let i = g; i < Math.min(nodes.length, g + GROUP_NODES); i++) {
      const node = nodes[i]!;
      const len = encodedLength(node);
      out.writeUInt32BE(len, at);
      writeNode(out, at + 4, node);
      at += 4 + len;
    }
    groups.push(out.subarray(start, at));
  }
  return groups;
}

/**
 * The node at `index` of a group record this process encoded itself (encodeGroups), decoded without
 * checks or copies: the tree's own memory of recent versions, read on the hot path. A leaf's bytes are
 * a view into the group.
 */
export function decodeOwnGroupMember(id: string, group: Buffer, index: number, at: number, slot: number, keyPaths?: Buffer): TreeNode {
  let o = 0;
  for (let i = 0; i < index; i++) o += 4 + u32At(group, o);
  const n = u32At(group, o);
  o += 4;
  if (group[o] === INTERNAL_PREFIX) {
    const r = o + 1 + 2 * HASH_BYTES;
    return {
      type: INTERNAL, id,
      leftId: latin1Slice.call(group, o + 1, o + 1 + HASH_BYTES), rightId: latin1Slice.call(group, o + 1 + HASH_BYTES, r),
      leftAt: refAtOf(group, r), leftSlot: u32At(group, r + 8), rightAt: refAtOf(group, r + 12), rightSlot: u32At(group, r + 20), at, slot,
    };
  }
  const keyLength = (group[o + 1]! << 8) | group[o + 2]!;
  // `keyPaths`: the version's key paths by slot, written when it was made (else the key is hashed).
  const keyPath = keyPaths ? latin1Slice.call(keyPaths, slot * HASH_BYTES, (slot + 1) * HASH_BYTES) : keyPathIdOf(group.subarray(o + 3, o + 3 + keyLength));
  return { type: LEAF, id, keyPath, bytes: group.subarray(o, o + n), keyLength, at, slot };
}

function corrupt(id: string, why: string): never {
  throw new StateError('STATE_NODE_CORRUPT', `stored node ${hashOfId(id).toString('hex')}: ${why}`);
}

/**
 * The encoding at `index` of a group record, for the node `id`. A group shorter than the index, or
 * that does not parse, is STATE_NODE_CORRUPT: refs are only ever written to slots that exist.
 */
export function groupMember(id: string, group: Uint8Array, index: number): Uint8Array {
  let at = 0;
  for (let i = 0; ; i++) {
    if (at + 4 > group.length) return corrupt(id, at === group.length ? `its group holds ${i} nodes, not slot ${index} of it` : 'truncated node group');
    const n = u32At(group, at);
    if (at + 4 + n > group.length) corrupt(id, 'truncated node group');
    if (i === index) return group.subarray(at + 4, at + 4 + n);
    at += 4 + n;
  }
}

/**
 * Decodes a node's stored bytes, found at (at, slot) (or by hash: LEGACY) as the node `id`. With
 * `verify`, also checks that they hash to `id`, so a damaged store yields STATE_NODE_CORRUPT instead of
 * wrong values or unverifiable proofs. A leaf read from a group copies its bytes: it may be cached,
 * and a view would keep the whole group alive.
 */
export function decodeNode(id: string, stored: Uint8Array, verify: boolean, at: number, slot: number): TreeNode {
  if (!(stored instanceof Uint8Array) || stored.length === 0) corrupt(id, 'empty or not bytes');
  const bytes = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.length);
  if (bytes[0] === INTERNAL_PREFIX) {
    // Nodes stored by hash have no refs; nodes stored in groups always do.
    if (bytes.length !== (at === LEGACY ? 1 + 2 * HASH_BYTES : INTERNAL_BYTES)) corrupt(id, `internal node of ${bytes.length} bytes`);
    const leftId = latin1Slice.call(bytes, 1, 1 + HASH_BYTES);
    const rightId = latin1Slice.call(bytes, 1 + HASH_BYTES, 1 + 2 * HASH_BYTES);
    if (leftId === EMPTY_ID && rightId === EMPTY_ID) corrupt(id, 'internal node with two empty children');
    if (verify && sha256Id(bytes.subarray(0, 1 + 2 * HASH_BYTES)) !== id) corrupt(id, 'hash mismatch');
    if (at === LEGACY) return { type: INTERNAL, id, leftId, rightId, leftAt: LEGACY, leftSlot: 0, rightAt: LEGACY, rightSlot: 0, at, slot };
    const leftAt = refAtOf(bytes, 1 + 2 * HASH_BYTES), rightAt = refAtOf(bytes, 13 + 2 * HASH_BYTES);
    if (Number.isNaN(leftAt) || Number.isNaN(rightAt)) corrupt(id, 'child version above 2^53');
    return { type: INTERNAL, id, leftId, rightId, leftAt, leftSlot: bytes.readUInt32BE(9 + 2 * HASH_BYTES), rightAt, rightSlot: bytes.readUInt32BE(21 + 2 * HASH_BYTES), at, slot };
  }
  if (bytes[0] === LEAF_PREFIX) {
    if (bytes.length < 3) corrupt(id, 'truncated leaf');
    const keyLength = bytes.readUInt16BE(1);
    if (keyLength > MAX_KEY_BYTES || bytes.length < 3 + keyLength) corrupt(id, `leaf key length ${keyLength}`);
    if (bytes.length - 3 - keyLength > MAX_VALUE_BYTES) corrupt(id, 'leaf value above MAX_VALUE_BYTES');
    const keyPath = keyPathIdOf(bytes.subarray(3, 3 + keyLength));
    if (verify && leafHashId(keyPath, bytes.subarray(3 + keyLength)) !== id) corrupt(id, 'hash mismatch');
    return { type: LEAF, id, keyPath, bytes: at === LEGACY ? bytes : Buffer.from(bytes), keyLength, at, slot };
  }
  return corrupt(id, `unknown node tag ${bytes[0]}`);
}
