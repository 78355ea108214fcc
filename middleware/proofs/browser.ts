/**
 * The browser build's entry (esbuild, browser-build.ts): everything a page needs to check proofs
 * with nothing but the bundle and the chain's genesis: verify a bundle, a document against it, a
 * holder's inclusion proof; and fetch bundles from a node over RPC. No node: imports anywhere below.
 */
export { verifyBundle, verifyDocument, documentDigestField, trustFromGenesis, type Trust, type VerifiedBundle, type VerifiedRecord, type VerifyOptions } from './verify.ts';
export { verifyHoldingProof, type VerifiedHolding } from './holding.ts';
export { buildBundle, type RpcLike } from './build.ts';
export { bundleText, readBundleText, BUNDLE_FORMAT, BUNDLE_VERSION } from './bundle.ts';
export { ProofError, type ProofErrorCode } from './errors.ts';
export { RECORD_KINDS, storageKeyOf, systemContractAddress } from './records.ts';
export { RpcClient } from '../../node/rpc/client.ts';
import { sha256 } from './crypto.ts';
import { toHex } from './json.ts';

/** sha256 of a file's bytes as 0x-hex: the page hashes a dropped file locally with this. */
export function sha256Hex(bytes: Uint8Array): string {
  return toHex(sha256(bytes));
}
