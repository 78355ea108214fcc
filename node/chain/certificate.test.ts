import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accountAddress } from '../../contracts/system/index.ts';
import { newKeyPair } from '../keys/key-file.ts';
import { keyPairSigner } from '../keys/signer.ts';
import { BROWSER_CRYPTO } from '../../middleware/proofs/crypto.ts';
import { type BlockHeader, type Commit, headerHash, precommitPayload, validatorSetHash } from './block.ts';
import { CommitError, addressOf, checkCommit, headerHashWith, validatorSetHashWith } from './certificate.ts';
import { NODE_CRYPTO, signPrecommit, verifyCommit } from './commit.ts';
import { signEd25519 } from '../crypto/ed25519.ts';

const keys = [newKeyPair(), newKeyPair(), newKeyPair(), newKeyPair()];
const set = keys.map((k) => accountAddress(k.publicKey));
const header: BlockHeader = {
  chainId: 'brop-cert', height: 7n, time: 1_700_000_000_000n, prevHash: new Uint8Array(32).fill(1), txRoot: new Uint8Array(32).fill(2),
  stateRoot: new Uint8Array(32).fill(3), receiptsRoot: new Uint8Array(32).fill(4), proposer: set[0]!,
  validatorSetHash: validatorSetHash(set), lastCommitHash: new Uint8Array(32), nextValidatorSetHash: validatorSetHash(set),
};
const commitOf = (signers: typeof keys, round = 0): Commit => ({ height: header.height, round, blockHash: headerHash(header), signatures: signers.map((k) => signPrecommit(header, round, keyPairSigner(k))) });

/** The reason each crypto gives, or 'ok': both must always agree. */
function outcomes(h: BlockHeader, c: Commit, validators: Uint8Array[]): string[] {
  return [NODE_CRYPTO, BROWSER_CRYPTO].map((crypto) => {
    try {
      checkCommit(crypto, h, c, validators);
      return 'ok';
    } catch (e) {
      assert.instance(e, CommitError);
      return (e as Error).message;
    }
  });
}

test('node (OpenSSL) and browser (@noble) crypto hash headers, sets and addresses alike', () => {
  assert.equal(headerHashWith(BROWSER_CRYPTO, header), headerHash(header));
  assert.equal(validatorSetHashWith(BROWSER_CRYPTO, [...set].reverse()), validatorSetHash(set));
  for (const k of keys) assert.equal(addressOf(BROWSER_CRYPTO, k.publicKey), accountAddress(k.publicKey));
});

test('one commit check, same answer with either crypto: quorum, membership, duplicates, signatures, heights, sets', () => {
  assert.equal(outcomes(header, commitOf(keys), set), ['ok', 'ok']);
  assert.equal(outcomes(header, commitOf(keys.slice(0, 3), 2), set), ['ok', 'ok'], '3 of 4 in round 2');
  const cases: Array<[string, BlockHeader, Commit, Uint8Array[], RegExp]> = [
    ['two of four', header, commitOf(keys.slice(0, 2)), set, /more than 2\/3/],
    ['a stranger', header, commitOf([...keys.slice(0, 2), newKeyPair()]), set, /not a validator/],
    ['a validator twice', header, commitOf([keys[0]!, keys[1]!, keys[0]!]), set, /signed twice/],
    ['another round than signed', header, { ...commitOf(keys), round: 1 }, set, /bad signature/],
    ['another height', header, { ...commitOf(keys), height: 8n }, set, /height/],
    ['another block', { ...header, time: header.time + 1n }, commitOf(keys), set, /another block/],
    ['another set', header, commitOf(keys), set.slice(0, 3), /validator set given/],
  ];
  for (const [what, h, c, v, reason] of cases) {
    const [a, b] = outcomes(h, c, v);
    assert.is(a, b, what);
    assert.match(a!, reason, what);
  }
  assert.throws(() => verifyCommit(header, commitOf(keys.slice(0, 2)), set), (e: unknown) => e instanceof CommitError && e.code === 'COMMIT_INVALID');
});

test('a signature made malleable (S + L) or on another payload is refused by both', () => {
  const c = commitOf(keys);
  const payload = precommitPayload(header.chainId, header.height, 0, headerHash(header));
  const sig = signEd25519(keys[0]!.privateKey, payload);
  // S + L (the group order) verifies under lax rules; RFC 8032 (OpenSSL, noble with zip215 off) refuses it.
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
  const t = s + L;
  const malleable = sig.slice();
  for (let i = 0; i < 32; i++) malleable[32 + i] = Number((t >> BigInt(8 * i)) & 0xffn);
  c.signatures[0] = { publicKey: keys[0]!.publicKey, signature: malleable };
  assert.equal(outcomes(header, c, set).map((m) => /bad signature/.test(m)), [true, true]);
  c.signatures[0] = { publicKey: keys[0]!.publicKey, signature: signEd25519(keys[0]!.privateKey, new Uint8Array([1, 2, 3])) };
  assert.equal(outcomes(header, c, set).map((m) => /bad signature/.test(m)), [true, true]);
});

test.run();
