/**
 * The Merkle tree of a block's transactions and receipts: RFC 6962's shape (leaf = H(0x00 ‖ data),
 * node = H(0x01 ‖ left ‖ right), split at the largest power of two below n), so a list of any length
 * has one root and an inclusion proof of ⌈log2 n⌉ hashes.
 */
import { HashBatch } from '../crypto/sha256-many.ts';
import { equalBytes, sha256 } from './hash.ts';

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

export const EMPTY_LIST_ROOT = sha256();

function leafHash(data: Uint8Array): Uint8Array {
  return sha256(LEAF, data);
}

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function rootOfLeaves(leaves: Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leaves[lo]!;
  const k = split(hi - lo);
  return sha256(NODE, rootOfLeaves(leaves, lo, lo + k), rootOfLeaves(leaves, lo + k, hi));
}

// merkleRoot runs on every block's transactions and receipts: each level is hashed in one batch
// (node:crypto's per-call cost was most of it). Level by level, pairing neighbours and carrying an odd
// last node up unchanged, gives RFC 6962's tree: its left subtrees are the perfect ones of that walk.
const batch = new HashBatch();
let level = Buffer.allocUnsafeSlow(32 * 1024);

export function merkleRoot(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return EMPTY_LIST_ROOT;
  batch.reset();
  for (const item of items) {
    const at = batch.add(1 + item.length);
    batch.data[at] = 0;
    batch.data.set(item, at + 1);
  }
  let n = items.length;
  if (level.length < 32 * n) level = Buffer.allocUnsafeSlow(32 * n);
  batch.digest().copy(level, 0, 0, 32 * n);
  while (n > 1) {
    batch.reset();
    const pairs = n >> 1;
    for (let i = 0; i < pairs; i++) {
      const at = batch.add(65);
      batch.data[at] = 1;
      level.copy(batch.data, at + 1, 64 * i, 64 * i + 64);
    }
    batch.digest().copy(level, 0, 0, 32 * pairs);
    if (n & 1) level.copy(level, 32 * pairs, 32 * (n - 1), 32 * n);
    n = pairs + (n & 1);
  }
  batch.reset();
  if (level.length > 32 * 65536) level = Buffer.allocUnsafeSlow(32 * 1024); // one huge block's levels are not kept
  return new Uint8Array(level.subarray(0, 32));
}

/** Sibling hashes from the leaf up to the root. */
export function merkleProof(items: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= items.length) throw new RangeError(`no item ${index} in a list of ${items.length}`);
  const leaves = items.map(leafHash);
  const path: Uint8Array[] = [];
  let lo = 0, hi = items.length;
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      path.push(rootOfLeaves(leaves, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(rootOfLeaves(leaves, lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/** Whether `item` is at `index` of a list of `count` items with this root. */
export function verifyMerkleProof(root: Uint8Array, item: Uint8Array, index: number, count: number, proof: readonly Uint8Array[]): boolean {
  if (!Number.isInteger(index) || index < 0 || index >= count) return false;
  // The shape of the path is fixed by (index, count): replay the descent to know each sibling's side.
  const sides: boolean[] = []; // true: the sibling is on the right
  let lo = 0, hi = count;
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      sides.push(true);
      hi = lo + k;
    } else {
      sides.push(false);
      lo += k;
    }
  }
  if (sides.length !== proof.length) return false;
  let h = leafHash(item);
  for (let i = 0; i < proof.length; i++) {
    const right = sides[sides.length - 1 - i]!;
    h = right ? sha256(NODE, h, proof[i]!) : sha256(NODE, proof[i]!, h);
  }
  return equalBytes(h, root);
}
