/**
 * Making and checking commit certificates on the node. The check itself is certificate.ts, shared
 * with the browser-side proof verifier; here it runs with node:crypto (OpenSSL), the node's hot path.
 */
import { verifyEd25519Remembered } from '../crypto/ed25519.ts';
import type { Signer } from '../keys/signer.ts';
import { type BlockHeader, type Commit, type CommitSignature, headerHash, precommitPayload } from './block.ts';
import { type CertificateCrypto, checkCommit } from './certificate.ts';
import { sha256 } from './hash.ts';

export { CommitError } from './certificate.ts';

// Remembered: a commit's precommits are mostly the votes this node checked when gossip brought them,
// and a block's commit is checked again when the next block carries it.
export const NODE_CRYPTO: CertificateCrypto = { sha256, verifyEd25519: verifyEd25519Remembered };

export function signPrecommit(header: BlockHeader, round: number, signer: Signer): CommitSignature {
  return { publicKey: signer.publicKey, signature: signer.sign(precommitPayload(header.chainId, header.height, round, headerHash(header))) };
}

/** Throws CommitError unless `commit` finalises `header` under the validator set of `validators` (addresses). */
export function verifyCommit(header: BlockHeader, commit: Commit, validators: readonly Uint8Array[]): void {
  checkCommit(NODE_CRYPTO, header, commit, validators);
}
