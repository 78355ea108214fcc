import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { SignedTx, signTransaction, signingPayload, encodeTransaction, type UnsignedTransaction } from './transaction.ts';
import { TxError } from './errors.ts';
import { generateEd25519 } from '../crypto/ed25519.ts';
import { SignatureVerifier } from '../crypto/verify-pool.ts';

const keys = generateEd25519();
const body = (over: Partial<UnsignedTransaction> = {}): UnsignedTransaction => ({
  chainId: 'brop-test', sender: new Uint8Array(32).fill(1), nonce: 42n, validUntilBlock: 100n,
  contract: new Uint8Array(32).fill(2), method: 'register', args: new Uint8Array([1, 2, 3]), ...over,
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof TxError ? e.code : `untyped: ${(e as Error).message}`;
  }
  return undefined;
}

test('a signed transaction round-trips through its one encoding, and its hash is that of the bytes', () => {
  const tx = signTransaction(body(), keys.privateKey);
  const s = SignedTx.from(tx);
  const back = SignedTx.decode(s.bytes);
  assert.equal(back.tx, tx);
  assert.equal(back.hash, s.hash);
  assert.is(code(() => back.verifySignature()), undefined);
});

test('the signed bytes taken from the encoding are exactly the signing payload', () => {
  const tx = signTransaction(body({ args: new Uint8Array(300), method: 'a-longer-method-name' }), keys.privateKey);
  assert.equal(SignedTx.from(tx).signatureCheck()!.message, signingPayload(tx));
});

test('every field is covered by the signature', () => {
  const tx = signTransaction(body(), keys.privateKey);
  const changes: Array<Partial<UnsignedTransaction>> = [
    { chainId: 'other' }, { sender: new Uint8Array(32).fill(9) }, { nonce: 43n }, { validUntilBlock: 101n },
    { contract: new Uint8Array(32).fill(3) }, { method: 'append' }, { args: new Uint8Array([1, 2, 4]) },
  ];
  for (const c of changes) assert.is(code(() => SignedTx.from({ ...tx, ...c }).verifySignature()), 'TX_BAD_SIGNATURE', JSON.stringify(Object.keys(c)));
  assert.is(code(() => SignedTx.from({ ...tx, publicKey: generateEd25519().publicKey }).verifySignature()), 'TX_BAD_SIGNATURE');
  assert.is(code(() => SignedTx.from({ ...tx, scheme: 2 }).verifySignature()), 'TX_UNSUPPORTED_SCHEME');
});

test('malformed bytes: truncations, trailing bytes and random garbage are TX_MALFORMED, never a crash', () => {
  const bytes = encodeTransaction(signTransaction(body(), keys.privateKey));
  for (let n = 0; n < bytes.length; n++) assert.is(code(() => SignedTx.decode(bytes.subarray(0, n))), 'TX_MALFORMED', `truncated at ${n}`);
  assert.is(code(() => SignedTx.decode(new Uint8Array([...bytes, 0]))), 'TX_MALFORMED');
  for (let i = 0; i < 500; i++) {
    const c = code(() => SignedTx.decode(randomBytes(1 + (i % 300))));
    assert.ok(c === 'TX_MALFORMED' || c === undefined, String(c));
  }
  assert.is(code(() => SignedTx.decode(new Uint8Array(70_000))), 'TX_TOO_LARGE');
  assert.is(code(() => SignedTx.decode(encodeTransaction(signTransaction(body({ method: '' }), keys.privateKey)))), 'TX_MALFORMED');
});

test('the worker pool agrees with inline verification, batch after batch', async () => {
  const verifier = new SignatureVerifier({ workers: 2 });
  try {
    const txs = Array.from({ length: 300 }, (_, i) => SignedTx.from(signTransaction(body({ nonce: BigInt(i) }), keys.privateKey)));
    const checks = txs.map((t, i) => {
      const c = t.signatureCheck()!;
      return i % 7 === 0 ? { ...c, signature: c.signature.map((b, j) => (j === 0 ? b ^ 1 : b)) } : c;
    });
    const results = await verifier.verifyAll(checks);
    results.forEach((ok, i) => assert.is(ok, i % 7 !== 0, `check ${i}`));
  } finally {
    await verifier.close();
  }
});

test.run();
