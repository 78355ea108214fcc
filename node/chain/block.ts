/**
 * Blocks, headers, receipts and commit certificates: their canonical encodings (the contract codec's
 * layout, in encoding.ts, shared with the browser-side proof verifier) and hashes. A header commits to
 * everything a verifier needs: the previous block, the transactions, the state after executing them,
 * the receipts, the validator set that signs it and the one that signs the next.
 */
import { type BlockHeader, type Receipt, encodeHeader, encodeReceipt, validatorSetEncoding } from './encoding.ts';
import { merkleRoot } from './merkle.ts';
import { sha256 } from './hash.ts';

export * from './encoding.ts';

export function headerHash(h: BlockHeader): Uint8Array {
  return sha256(encodeHeader(h));
}

export function receiptsRoot(receipts: readonly Receipt[]): Uint8Array {
  return merkleRoot(receipts.map(encodeReceipt));
}

/** receiptsRoot from the receipts' encodings (encodeReceipt of each), when the caller keeps them. */
export function receiptsRootOf(encoded: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(encoded);
}

/** The hash of a validator set: its addresses, sorted bytewise, so that order of listing does not matter. */
export function validatorSetHash(addresses: readonly Uint8Array[]): Uint8Array {
  return sha256(validatorSetEncoding(addresses));
}
