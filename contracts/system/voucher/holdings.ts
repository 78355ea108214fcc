/**
 * Merkle sum trees for proofs of holdings (SPEC V5), TypeScript side; the voucher contract's
 * `verifyHolding` checks the same hashes. A custodian builds the tree over (holder digest, amount)
 * leaves, commits the root and total on chain, and hands each holder its proof.
 *
 *   leaf = sha256(0x00 || holderDigest(32) || amount(u128 LE))          sum = amount
 *   node = sha256(0x01 || leftHash || leftSum || rightHash || rightSum)  sum = leftSum + rightSum
 * An odd node at the end of a level moves up unchanged.
 *
 * Browser-safe (@noble/hashes, no Buffer): holders check their inclusion in the browser too.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export interface HoldingLeaf { holder: Uint8Array; amount: bigint }
export interface ProofStep { hash: Uint8Array; sum: bigint; left: boolean }
interface Node { hash: Uint8Array; sum: bigint }

export const U128_MAX = (1n << 128n) - 1n;

function putU128(out: Uint8Array, at: number, v: bigint): void {
  if (v < 0n || v > U128_MAX) throw new RangeError('amounts are unsigned 128-bit integers');
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigUint64(at, v & 0xffffffffffffffffn, true);
  view.setBigUint64(at + 8, v >> 64n, true);
}

export function leafHash(holder: Uint8Array, amount: bigint): Uint8Array {
  if (holder.length !== 32) throw new RangeError('a holder digest is 32 bytes');
  const b = new Uint8Array(1 + 32 + 16);
  b[0] = 0;
  b.set(holder, 1);
  putU128(b, 33, amount);
  return sha256(b);
}

function parent(l: Node, r: Node): Node {
  if (l.hash.length !== 32 || r.hash.length !== 32) throw new RangeError('node hashes are 32 bytes');
  const b = new Uint8Array(1 + 48 + 48);
  b[0] = 1;
  b.set(l.hash, 1);
  putU128(b, 33, l.sum);
  b.set(r.hash, 49);
  putU128(b, 81, r.sum);
  const sum = l.sum + r.sum;
  // The contract reverts (AMOUNT_OVERFLOW) on a sum above u128: no such tree can be committed.
  if (sum > U128_MAX) throw new RangeError('the sum of amounts exceeds 128 bits');
  return { hash: sha256(b), sum };
}

const utf8 = new TextEncoder();

/** The digest under which a holder appears: the custodian's salt keeps account ids private. */
export function holderDigest(salt: string, accountId: string): Uint8Array {
  const s = utf8.encode(salt), a = utf8.encode(accountId);
  const b = new Uint8Array(s.length + 1 + a.length);
  b.set(s, 0);
  b.set(a, s.length + 1);
  return sha256(b);
}

export class HoldingsTree {
  readonly levels: Node[][];
  constructor(leaves: readonly HoldingLeaf[]) {
    if (leaves.length === 0) throw new RangeError('a holdings tree needs at least one leaf');
    let level: Node[] = leaves.map((l) => ({ hash: leafHash(l.holder, l.amount), sum: l.amount }));
    this.levels = [level];
    while (level.length > 1) {
      const next: Node[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? parent(level[i]!, level[i + 1]!) : level[i]!);
      this.levels.push(next);
      level = next;
    }
  }
  get root(): Uint8Array { return this.levels[this.levels.length - 1]![0]!.hash; }
  get total(): bigint { return this.levels[this.levels.length - 1]![0]!.sum; }
  get leafCount(): number { return this.levels[0]!.length; }

  proof(index: number): ProofStep[] {
    const steps: ProofStep[] = [];
    for (let d = 0; d < this.levels.length - 1; d++) {
      const level = this.levels[d]!;
      const sibling = index ^ 1;
      if (sibling < level.length) steps.push({ hash: level[sibling]!.hash, sum: level[sibling]!.sum, left: sibling < index });
      index >>= 1;
    }
    return steps;
  }
}

/** The root and total a leaf and its proof lead to (as the contract computes them); throws RangeError on out-of-range amounts. */
export function holdingRoot(leaf: HoldingLeaf, proof: readonly ProofStep[]): { root: Uint8Array; total: bigint } {
  let node: Node = { hash: leafHash(leaf.holder, leaf.amount), sum: leaf.amount };
  for (const s of proof) node = s.left ? parent({ hash: s.hash, sum: s.sum }, node) : parent(node, { hash: s.hash, sum: s.sum });
  return { root: node.hash, total: node.sum };
}

/** Offline verification, as a holder would do it against the committed root and total. */
export function verifyHolding(root: Uint8Array, total: bigint, leaf: HoldingLeaf, proof: readonly ProofStep[]): boolean {
  let got: { root: Uint8Array; total: bigint };
  try {
    got = holdingRoot(leaf, proof);
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
  if (got.total !== total || got.root.length !== root.length) return false;
  for (let i = 0; i < root.length; i++) if (got.root[i] !== root[i]) return false;
  return true;
}
