/**
 * Blocks, headers, receipts and commit certificates: their canonical encodings (the contract codec's
 * layout, in encoding.ts, shared with the browser-side proof verifier) and hashes. A header commits to
 * everything a verifier needs: the previous block, the transactions, the state after executing them,
 * the receipts, the validator set that signs it and the one that signs the next.
 */
import { type Block, type BlockHeader, type Commit, type Receipt, encodeCommit, encodeHeader, encodeReceipt, planPayload, validatorSetEncoding } from './encoding.ts';
import { merkleRoot } from './merkle.ts';
import { equalBytes, sha256 } from './hash.ts';

export * from './encoding.ts';

export function headerHash(h: BlockHeader): Uint8Array {
  return sha256(encodeHeader(h));
}

/** What a header names as the carried parent commit (lastCommitHash). */
export function commitHash(c: Commit): Uint8Array {
  return sha256(encodeCommit(c));
}

/**
 * Whether a block's body is the one its header names: the transactions (txRoot) and the carried
 * commit (lastCommitHash). The proposal's signature covers the header only; this binds the rest.
 */
export function bodyMatchesHeader(block: Block): boolean {
  return body(block).matches;
}

/** The hashes of a block's transactions, in block order. */
export function blockTxHashes(block: Block): readonly Uint8Array[] {
  return body(block).txHashes;
}

/**
 * Both computed once per block object (blocks are not changed once made or decoded): a proposal's body is
 * checked as it arrives, and its hashes are used again to find its transactions in the pool.
 */
const bodies = new WeakMap<Block, { txHashes: Uint8Array[]; matches: boolean }>();

function body(block: Block): { txHashes: Uint8Array[]; matches: boolean } {
  let b = bodies.get(block);
  if (!b) {
    const txHashes = block.txs.map((t) => sha256(t));
    b = { txHashes, matches: equalBytes(txRootOf(txHashes), block.header.txRoot) && equalBytes(commitHash(block.lastCommit), block.header.lastCommitHash) };
    bodies.set(block, b);
  }
  return b;
}

/** A header's txRoot: the Merkle root of the transactions' hashes, in block order. */
export function txRootOf(txHashes: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(txHashes);
}

/** The genesis block carries no parent's commit: this empty one stands in its place. */
export const GENESIS_LAST_COMMIT: Commit = { height: 0n, round: 0, blockHash: new Uint8Array(32), signatures: [] };

export function receiptsRoot(receipts: readonly Receipt[]): Uint8Array {
  return merkleRoot(receipts.map((r) => encodeReceipt(r)));
}

/** receiptsRoot from the receipts' encodings (encodeReceipt of each), when the caller keeps them. */
export function receiptsRootOf(encoded: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(encoded);
}

/** The hash of a validator set: its addresses, sorted bytewise, so that order of listing does not matter. */
export function validatorSetHash(addresses: readonly Uint8Array[]): Uint8Array {
  return sha256(validatorSetEncoding(addresses));
}

/** The bytes a proposer signs for a block plan: planPayload of the plan's fields (`lastCommit` encoded). */
export function planSigningPayload(chainId: string, plan: { height: bigint; round: number; time: bigint; txHashes: readonly Uint8Array[]; lastCommit: Uint8Array }): Uint8Array {
  const hashes = new Uint8Array(plan.txHashes.length * 32);
  plan.txHashes.forEach((h, i) => hashes.set(h, i * 32));
  return planPayload(chainId, plan.height, plan.round, plan.time, sha256(hashes), sha256(plan.lastCommit));
}
