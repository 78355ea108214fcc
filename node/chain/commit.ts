/**
 * Making and checking commit certificates. A block is final when more than 2/3 of the validator set
 * that its header names have signed its precommit payload; anyone holding the block, its commit and
 * that validator set can check it, trusting no node.
 */
import { accountAddress } from '../../contracts/system/index.ts';
import { verifyEd25519 } from '../crypto/ed25519.ts';
import type { Signer } from '../keys/signer.ts';
import { type BlockHeader, type Commit, type CommitSignature, headerHash, precommitPayload, validatorSetHash } from './block.ts';
import { equalBytes, hex } from './hash.ts';

export class CommitError extends Error {
  readonly code = 'COMMIT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CommitError';
  }
}

export function signPrecommit(header: BlockHeader, round: number, signer: Signer): CommitSignature {
  return { publicKey: signer.publicKey, signature: signer.sign(precommitPayload(header.chainId, header.height, round, headerHash(header))) };
}

/** Throws CommitError unless `commit` finalises `header` under the validator set of `validators` (addresses). */
export function verifyCommit(header: BlockHeader, commit: Commit, validators: readonly Uint8Array[]): void {
  const hash = headerHash(header);
  if (commit.height !== header.height) throw new CommitError(`commit is for height ${commit.height}, the block is ${header.height}`);
  if (!equalBytes(commit.blockHash, hash)) throw new CommitError('commit is for another block');
  if (!equalBytes(validatorSetHash(validators), header.validatorSetHash)) throw new CommitError('the validator set given is not the one the header names');
  const members = new Set(validators.map(hex));
  const signers = new Set<string>();
  const payload = precommitPayload(header.chainId, header.height, commit.round, hash);
  for (const s of commit.signatures) {
    const who = hex(accountAddress(s.publicKey));
    if (!members.has(who)) throw new CommitError(`signer ${who} is not a validator`);
    if (signers.has(who)) throw new CommitError(`validator ${who} signed twice`);
    if (!verifyEd25519(s.publicKey, payload, s.signature)) throw new CommitError(`bad signature from validator ${who}`);
    signers.add(who);
  }
  if (signers.size * 3 <= members.size * 2) throw new CommitError(`${signers.size} of ${members.size} validators signed: more than 2/3 are needed`);
}
