/**
 * Checking commit certificates, with the hash and signature functions injected: the node passes
 * node:crypto (commit.ts), the offline proof verifier passes @noble (middleware/proofs/crypto.ts), and
 * both run this one check. Browser-safe: no node: imports, no Buffer.
 *
 * A block is final when more than 2/3 of the validator set its header names have signed its
 * precommit payload; anyone holding the header, its commit and that set can check it, trusting no node.
 */
import { type BlockHeader, type Commit, encodeHeader, precommitPayload, validatorSetEncoding } from './encoding.ts';

export interface CertificateCrypto {
  /** sha256 of the concatenation of the parts. */
  sha256(...parts: Uint8Array[]): Uint8Array;
  /** Never throws: a malformed key or signature is simply not valid. */
  verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

export class CommitError extends Error {
  readonly code = 'COMMIT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CommitError';
  }
}

const ADDRESS_DOMAIN = new TextEncoder().encode('brop:address:');

/** An account's address from its public key, as the identity contract derives it (contracts/system accountAddress). */
export function addressOf(crypto: CertificateCrypto, publicKey: Uint8Array): Uint8Array {
  return crypto.sha256(ADDRESS_DOMAIN, publicKey);
}

export function headerHashWith(crypto: CertificateCrypto, header: BlockHeader): Uint8Array {
  return crypto.sha256(encodeHeader(header));
}

export function validatorSetHashWith(crypto: CertificateCrypto, addresses: readonly Uint8Array[]): Uint8Array {
  return crypto.sha256(validatorSetEncoding(addresses));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hexOf(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Throws CommitError unless `commit` finalises `header` under the validator set of `validators` (addresses). */
export function checkCommit(crypto: CertificateCrypto, header: BlockHeader, commit: Commit, validators: readonly Uint8Array[]): void {
  const hash = headerHashWith(crypto, header);
  if (commit.height !== header.height) throw new CommitError(`commit is for height ${commit.height}, the block is ${header.height}`);
  if (!sameBytes(commit.blockHash, hash)) throw new CommitError('commit is for another block');
  if (!sameBytes(validatorSetHashWith(crypto, validators), header.validatorSetHash)) throw new CommitError('the validator set given is not the one the header names');
  const members = new Set(validators.map(hexOf));
  const signers = new Set<string>();
  const payload = precommitPayload(header.chainId, header.height, commit.round, hash);
  for (const s of commit.signatures) {
    const who = hexOf(addressOf(crypto, s.publicKey));
    if (!members.has(who)) throw new CommitError(`signer ${who} is not a validator`);
    if (signers.has(who)) throw new CommitError(`validator ${who} signed twice`);
    if (!crypto.verifyEd25519(s.publicKey, payload, s.signature)) throw new CommitError(`bad signature from validator ${who}`);
    signers.add(who);
  }
  if (signers.size * 3 <= members.size * 2) throw new CommitError(`${signers.size} of ${members.size} validators signed: more than 2/3 are needed`);
}
