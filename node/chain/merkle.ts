/**
 * The Merkle tree of a block's transactions and receipts: RFC 6962's shape (leaf = H(0x00 ‖ data),
 * node = H(0x01 ‖ left ‖ right), split at the largest power of two below n), so a list of any length
 * has one root and an inclusion proof of ⌈log2 n⌉ hashes.
 */
import { hash } from 'node:crypto';
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

// merkleRoot runs on every block's transactions and receipts (a tenth of executing a block went here):
// digests as latin1 strings ('binary') and joins in scratch buffers cost a fraction of byte arrays.
const leafScratch = Buffer.alloc(4097);
const nodeScratch = Buffer.alloc(65);
nodeScratch[0] = 1;

function leafId(data: Uint8Array): string {
  if (data.length >= leafScratch.length) return hash('sha256', Buffer.concat([LEAF, data]), 'binary');
  leafScratch[0] = 0;
  leafScratch.set(data, 1);
  return hash('sha256', leafScratch.subarray(0, data.length + 1), 'binary');
}

function rootOfIds(ids: string[], lo: number, hi: number): string {
  if (hi - lo === 1) return ids[lo]!;
  const k = split(hi - lo);
  const left = rootOfIds(ids, lo, lo + k), right = rootOfIds(ids, lo + k, hi);
  nodeScratch.write(left, 1, 'latin1');
  nodeScratch.write(right, 33, 'latin1');
  return hash('sha256', nodeScratch, 'binary');
}

export function merkleRoot(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return EMPTY_LIST_ROOT;
  return new Uint8Array(Buffer.from(rootOfIds(items.map(leafId), 0, items.length), 'latin1'));
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
