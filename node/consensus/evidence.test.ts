import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { accountAddress } from '../../contracts/system/index.ts';
import { newKeyPair, type KeyPair } from '../keys/key-file.ts';
import { signEd25519 } from '../crypto/ed25519.ts';
import { hex } from '../chain/hash.ts';
import { type Equivocation, type SignedStatement, evidenceFromJson, evidenceJson, statementPayload, verifyEquivocation } from './evidence.ts';

const CHAIN = 'brop-evidence-test';
const alice = newKeyPair(), bob = newKeyPair();
const A = hex(randomBytes(32)), B = hex(randomBytes(32));

type Says = { type: 'prevote' | 'precommit' } | { type: 'proposal'; validRound: number };
function statement(k: KeyPair, says: Says, block: string | null, at: { height?: bigint; round?: number } = {}): SignedStatement {
  const unsigned = { ...says, height: at.height ?? 7n, round: at.round ?? 1, block, validator: hex(accountAddress(k.publicKey)), publicKey: hex(k.publicKey), signature: '' } as SignedStatement;
  return { ...unsigned, signature: hex(signEd25519(k.privateKey, statementPayload(CHAIN, unsigned))) };
}
const prevote = (k: KeyPair, block: string | null, at?: { height?: bigint; round?: number }) => statement(k, { type: 'prevote' }, block, at);

test('two signed votes of one validator for one height, round and type naming different blocks prove equivocation', () => {
  assert.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: prevote(alice, B) }));
  assert.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: prevote(alice, null) }), 'a block and nil');
  const pc = (block: string) => statement(alice, { type: 'precommit' }, block);
  assert.ok(verifyEquivocation(CHAIN, { first: pc(A), second: pc(B) }));
  const proposal = (block: string, validRound: number) => statement(alice, { type: 'proposal', validRound }, block);
  assert.ok(verifyEquivocation(CHAIN, { first: proposal(A, -1), second: proposal(B, 0) }));
});

test('anything less is no proof: the same block, another round, height, type or signer, a forged or borrowed signature, another chain', () => {
  const ok: Equivocation = { first: prevote(alice, A), second: prevote(alice, B) };
  assert.ok(verifyEquivocation(CHAIN, ok));
  assert.not.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: prevote(alice, A) }), 'the same statement twice');
  assert.not.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: prevote(alice, B, { round: 2 }) }), 'two rounds');
  assert.not.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: prevote(alice, B, { height: 8n }) }), 'two heights');
  assert.not.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: statement(alice, { type: 'precommit' }, B) }), 'a prevote and a precommit');
  assert.not.ok(verifyEquivocation(CHAIN, { first: prevote(alice, A), second: prevote(bob, B) }), 'two validators');
  // The statement claims another block than the one signed.
  assert.not.ok(verifyEquivocation(CHAIN, { ...ok, second: { ...ok.second, block: hex(randomBytes(32)) } }));
  // Bob's signature presented as Alice's: her address is not his key's.
  const bobs = prevote(bob, B);
  assert.not.ok(verifyEquivocation(CHAIN, { ...ok, second: { ...ok.second, publicKey: bobs.publicKey, signature: bobs.signature } }));
  assert.not.ok(verifyEquivocation(CHAIN, { ...ok, second: { ...ok.second, signature: hex(randomBytes(64)) } }));
  assert.not.ok(verifyEquivocation(CHAIN, { ...ok, second: { ...ok.second, signature: 'zz' } }), 'malformed hex');
  assert.not.ok(verifyEquivocation('another-chain', ok));
  // One honest vote, respelt, is not a second statement: it must not frame its signer.
  const honest = prevote(alice, A);
  for (const block of [A.toUpperCase(), `0x${A}`, `0X${A}`]) assert.not.ok(verifyEquivocation(CHAIN, { first: honest, second: { ...honest, block } }), block);
  const nil = prevote(alice, null);
  assert.not.ok(verifyEquivocation(CHAIN, { first: nil, second: { ...nil, block: '00'.repeat(32) } }), 'nil as zeros');
  const proposal = statement(alice, { type: 'proposal', validRound: -1 }, A);
  assert.not.ok(verifyEquivocation(CHAIN, { first: proposal, second: { ...proposal, block: null } }), 'a proposal of no block');
  assert.not.ok(verifyEquivocation(CHAIN, { first: { ...proposal, block: null }, second: proposal }), 'a proposal of no block, first');
});

test('evidence as served and filed reads back to the same proof; malformed entries are RangeErrors', () => {
  const e: Equivocation = { first: statement(alice, { type: 'proposal', validRound: -1 }, A), second: statement(alice, { type: 'proposal', validRound: -1 }, B) };
  const back = evidenceFromJson(JSON.parse(JSON.stringify(evidenceJson(e))));
  assert.equal(back, e);
  assert.ok(verifyEquivocation(CHAIN, back));
  // Files written with heights as decimal strings read too.
  const asStrings = JSON.parse(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
  assert.equal(evidenceFromJson(asStrings), e);
  for (const bad of [null, {}, { first: {}, second: {} }, { ...asStrings, first: { ...asStrings.first, type: 'vote' } }, { ...asStrings, first: { ...asStrings.first, validRound: undefined } }, { ...asStrings, second: { ...asStrings.second, height: '-1' } }]) {
    assert.throws(() => evidenceFromJson(bad), (err: unknown) => err instanceof RangeError);
  }
});

test.run();
