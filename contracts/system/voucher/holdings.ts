/**
 * Merkle sum trees for proofs of holdings (SPEC V5), TypeScript side; the voucher contract's
 * `verifyHolding` checks the same hashes. A custodian builds the tree over (holder digest, amount)
 * leaves, commits the root and total on chain, and hands each holder its proof.
 *
 *   leaf = sha256(0x00 || holderDigest(32) || amount(u128 LE))          sum = amount
 *   node = sha256(0x01 || leftHash || leftSum || rightHash || rightSum)  sum = leftSum + rightSum
 * An odd node at the end of a level moves up unchanged.
 */
import { createHash } from 'node:crypto';

export interface HoldingLeaf { holder: Uint8Array; amount: bigint }
export interface ProofStep { hash: Uint8Array; sum: bigint; left: boolean }
interface Node { hash: Uint8Array; sum: bigint }

const U128_MAX = (1n << 128n) - 1n;

function u128(v: bigint): Buffer {
  if (v < 0n || v > U128_MAX) throw new RangeError('amounts are unsigned 128-bit integers');
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(v & 0xffffffffffffffffn, 0);
  b.writeBigUInt64LE(v >> 64n, 8);
  return b;
}

export function leafHash(holder: Uint8Array, amount: bigint): Uint8Array {
  return createHash('sha256').update(Buffer.from([0])).update(holder).update(u128(amount)).digest();
}

function parent(l: Node, r: Node): Node {
  const hash = createHash('sha256').update(Buffer.from([1])).update(l.hash).update(u128(l.sum)).update(r.hash).update(u128(r.sum)).digest();
  return { hash, sum: l.sum + r.sum };
}

/** The digest under which a holder appears: the custodian's salt keeps account ids private. */
export function holderDigest(salt: string, accountId: string): Uint8Array {
  return createHash('sha256').update(salt).update('\u0000').update(accountId).digest();
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

/** Offline verification, as a holder would do it against the committed root and total. */
export function verifyHolding(root: Uint8Array, total: bigint, leaf: HoldingLeaf, proof: readonly ProofStep[]): boolean {
  let node: Node = { hash: leafHash(leaf.holder, leaf.amount), sum: leaf.amount };
  for (const s of proof) node = s.left ? parent({ hash: s.hash, sum: s.sum }, node) : parent(node, { hash: s.hash, sum: s.sum });
  return Buffer.from(node.hash).equals(Buffer.from(root)) && node.sum === total;
}
