/**
 * Stored tree nodes: their encoding, their hashes (node:crypto, the node's hot path), and decoding
 * with integrity checks. Hashes are the rules of proof.ts; tests check both give the same bytes.
 *
 * Stored encodings (the store maps a node's hash to these bytes):
 *   leaf     = 0x00 ‖ u16 key length ‖ key ‖ value      (hash: sha256(0x00 ‖ sha256(key) ‖ sha256(value)))
 *   internal = 0x01 ‖ left hash ‖ right hash            (hash: sha256 of exactly these 65 bytes)
 * The empty subtree (hash 32 zero bytes) is never stored.
 *
 * Decoded nodes name hashes by their `latin1` strings ("ids"): cheap Map keys, cheap to compare and to
 * order bytewise, and much lighter than a Uint8Array view per hash in a cache of many nodes.
 */
import { hash } from 'node:crypto';
import { StateError } from './errors.ts';
import { HASH_BYTES, INTERNAL_PREFIX, LEAF_PREFIX, MAX_KEY_BYTES, MAX_VALUE_BYTES } from './proof.ts';

export const LEAF = 0;
export const INTERNAL = 1;

export interface LeafNode {
  readonly type: typeof LEAF;
  /** The node's hash as a latin1 string. */
  readonly id: string;
  /** sha256(key) as a latin1 string: orders like the bytes, and bits read with charCodeAt. */
  readonly keyPath: string;
  /** The stored encoding; the key and value are read from it (see leafKey, leafValue). */
  readonly bytes: Buffer;
  readonly keyLength: number;
}

export interface InternalNode {
  readonly type: typeof INTERNAL;
  readonly id: string;
  readonly leftId: string;
  readonly rightId: string;
}

/** A non-empty subtree; the empty subtree is null. */
export type TreeNode = LeafNode | InternalNode;

/** The empty subtree's hash as an id. */
export const EMPTY_ID = '\0'.repeat(HASH_BYTES);

// Node's own latin1 decoder, applicable to any Uint8Array without wrapping it in a Buffer.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

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

const hexScratch = Buffer.alloc(HASH_BYTES);
const hexSlice = (Buffer.prototype as unknown as { hexSlice: (this: Uint8Array, start: number, end: number) => string }).hexSlice;

/** An id as lowercase hex (the form updates hand out node hashes in): one flat string, no Buffer per call. */
export function hexOfId(id: string): string {
  hexScratch.write(id, 0, HASH_BYTES, 'latin1');
  return hexSlice.call(hexScratch, 0, HASH_BYTES);
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
  leafPreimage.write(keyPath, 1, HASH_BYTES, 'latin1');
  leafPreimage.write(sha256Id(value), 1 + HASH_BYTES, HASH_BYTES, 'latin1');
  return sha256Id(leafPreimage);
}

/** A new leaf; key and value are copied into its encoding. */
export function makeLeaf(keyPath: string, key: Uint8Array, value: Uint8Array): LeafNode {
  const bytes = Buffer.allocUnsafe(3 + key.length + value.length);
  bytes[0] = LEAF_PREFIX;
  bytes.writeUInt16BE(key.length, 1);
  bytes.set(key, 3);
  bytes.set(value, 3 + key.length);
  return { type: LEAF, id: leafHashId(keyPath, value), keyPath, bytes, keyLength: key.length };
}

/** The 65 bytes that are both an internal node's encoding and its hash's preimage. */
export function internalBytes(leftId: string, rightId: string): Buffer {
  const bytes = Buffer.allocUnsafe(1 + 2 * HASH_BYTES);
  bytes[0] = INTERNAL_PREFIX;
  bytes.write(leftId, 1, HASH_BYTES, 'latin1');
  bytes.write(rightId, 1 + HASH_BYTES, HASH_BYTES, 'latin1');
  return bytes;
}

function corrupt(id: string, why: string): never {
  throw new StateError('STATE_NODE_CORRUPT', `stored node ${hashOfId(id).toString('hex')}: ${why}`);
}

/**
 * Decodes the bytes stored under `id`. With `verify`, also checks that they hash to `id`, so a
 * damaged store yields STATE_NODE_CORRUPT instead of wrong values or unverifiable proofs.
 */
export function decodeNode(id: string, stored: Uint8Array, verify: boolean): TreeNode {
  if (!(stored instanceof Uint8Array) || stored.length === 0) corrupt(id, 'empty or not bytes');
  const bytes = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.length);
  if (bytes[0] === INTERNAL_PREFIX) {
    if (bytes.length !== 1 + 2 * HASH_BYTES) corrupt(id, `internal node of ${bytes.length} bytes`);
    const leftId = latin1Slice.call(bytes, 1, 1 + HASH_BYTES);
    const rightId = latin1Slice.call(bytes, 1 + HASH_BYTES, 1 + 2 * HASH_BYTES);
    if (leftId === EMPTY_ID && rightId === EMPTY_ID) corrupt(id, 'internal node with two empty children');
    if (verify && sha256Id(bytes) !== id) corrupt(id, 'hash mismatch');
    return { type: INTERNAL, id, leftId, rightId };
  }
  if (bytes[0] === LEAF_PREFIX) {
    if (bytes.length < 3) corrupt(id, 'truncated leaf');
    const keyLength = bytes.readUInt16BE(1);
    if (keyLength > MAX_KEY_BYTES || bytes.length < 3 + keyLength) corrupt(id, `leaf key length ${keyLength}`);
    if (bytes.length - 3 - keyLength > MAX_VALUE_BYTES) corrupt(id, 'leaf value above MAX_VALUE_BYTES');
    const keyPath = keyPathIdOf(bytes.subarray(3, 3 + keyLength));
    if (verify && leafHashId(keyPath, bytes.subarray(3 + keyLength)) !== id) corrupt(id, 'hash mismatch');
    return { type: LEAF, id, keyPath, bytes, keyLength };
  }
  return corrupt(id, `unknown node tag ${bytes[0]}`);
}
