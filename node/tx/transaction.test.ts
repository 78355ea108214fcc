import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { SignedTx, signTransaction, signingPayload, encodeTransaction, type UnsignedTransaction } from './transaction.ts';
import { TxError } from './errors.ts';
import { TX_STRUCTS } from './encoding.ts';
import { CodecError, decode } from '../../contracts/sdk/codec.ts';
import { generateEd25519 } from '../crypto/ed25519.ts';
import { SignatureVerifier, type SignatureCheck } from '../crypto/verify-pool.ts';

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

test('the written-out decoder accepts exactly what the codec accepts, with the same values', () => {
  const bytes = encodeTransaction(signTransaction(body({ method: 'register-é', args: randomBytes(40) }), keys.privateKey));
  const viaCodec = (b: Uint8Array) => {
    try {
      return decode({ struct: 'Transaction' }, b, TX_STRUCTS) as Record<string, unknown>;
    } catch (e) {
      if (e instanceof CodecError) return undefined;
      throw e;
    }
  };
  const inputs: Uint8Array[] = [bytes];
  for (let n = 0; n < bytes.length; n++) inputs.push(bytes.subarray(0, n));
  for (let i = 0; i < 3000; i++) {
    const m = bytes.slice();
    for (let k = 0; k <= i % 3; k++) m[Math.floor(Math.random() * m.length)] = i % 5 === 0 ? 0xff : Math.floor(Math.random() * 256);
    inputs.push(m);
  }
  // Length fields and UTF-8 bytes are where the two could part: hit them directly.
  for (const at of [0, 1, 2, 3, 4, 5]) for (const v of [0, 1, 0x7f, 0x80, 0xc0, 0xed, 0xff]) {
    const m = bytes.slice();
    m[at] = v;
    inputs.push(m);
  }
  for (const b of inputs) {
    const expected = viaCodec(b);
    let got: SignedTx | undefined;
    const c = code(() => { got = SignedTx.decode(b); });
    if (expected === undefined) {
      assert.is(c, 'TX_MALFORMED');
    } else if (c === undefined) {
      assert.equal({ ...got!.tx }, expected);
    } else {
      // The codec decodes it; only the method/chain-id limits may refuse it.
      assert.is(c, 'TX_MALFORMED');
      assert.ok((expected.method as string).length === 0 || Buffer.byteLength(expected.method as string) > 128 || Buffer.byteLength(expected.chainId as string) > 64);
    }
  }
});

test('property: the accessors admission and execution read give the decoded fields, before and after they are built', () => {
  for (let i = 0; i < 200; i++) {
    const tx = {
      ...body({
        chainId: 'c'.repeat(i % 7) + (i % 3 === 0 ? 'é' : ''), sender: new Uint8Array(randomBytes(32)), nonce: (BigInt(i) << BigInt(i % 60)) % 2n ** 64n,
        validUntilBlock: i % 4 === 0 ? 2n ** 64n - 1n - BigInt(i) : i % 4 === 1 ? 2n ** 32n + BigInt(i) : BigInt(i * 1000),
        contract: new Uint8Array(randomBytes(32)), method: 'm'.repeat(1 + (i % 9)) + (i % 5 === 0 ? '额' : ''), args: new Uint8Array(randomBytes(i % 50)),
      }),
      scheme: i % 3, publicKey: new Uint8Array(randomBytes(i % 40)), signature: new Uint8Array(randomBytes(i % 70)),
    };
    const fields = (s: SignedTx) => ({ chainId: s.chainId, sender: s.sender, validUntilBlock: s.validUntilBlock, contract: s.contract, method: s.method, args: s.args, scheme: s.scheme, publicKey: s.publicKey, signature: s.signature });
    const decoded = SignedTx.decode(encodeTransaction(tx));
    const before = fields(decoded);
    assert.equal({ ...decoded.tx }, tx);
    assert.equal(before, fields(decoded));
    assert.equal(before, fields(SignedTx.from(tx)));
    const { chainId, sender, validUntilBlock, contract, method, args, scheme, publicKey, signature } = tx;
    assert.equal(before, { chainId, sender, validUntilBlock, contract, method, args, scheme, publicKey, signature });
    const check = decoded.signatureCheck();
    if (tx.scheme === 1) assert.equal(check, { publicKey, signature, message: signingPayload(tx) });
    else assert.is(check, undefined);
  }
});

test('a leading byte order mark is a character like any other: kept in the string, counted in the limit', () => {
  const decodes = (over: Partial<UnsignedTransaction>) => code(() => SignedTx.decode(encodeTransaction(signTransaction(body(over), keys.privateKey))));
  assert.is(decodes({ method: '\uFEFF' }), undefined); // 3 bytes: a method name, if an odd one
  assert.is(decodes({ method: '\uFEFF' + 'a'.repeat(125) }), undefined); // 128 bytes
  assert.is(decodes({ method: '\uFEFF' + 'a'.repeat(126) }), 'TX_MALFORMED');
  assert.is(decodes({ chainId: '\uFEFF' + 'c'.repeat(61) }), undefined); // 64 bytes
  assert.is(decodes({ chainId: '\uFEFF' + 'c'.repeat(62) }), 'TX_MALFORMED');
  const s = SignedTx.decode(encodeTransaction(signTransaction(body({ method: '\uFEFFregister' }), keys.privateKey)));
  assert.is(s.method, '\uFEFFregister'); // not `register`: two byte strings never decode to one method
  assert.is(s.tx.method, '\uFEFFregister');
});

test('decodeAll gives what decode gives, entry by entry, with each bad entry its own error', () => {
  const good = Array.from({ length: 300 }, (_, i) => encodeTransaction(signTransaction(body({ nonce: BigInt(i), args: new Uint8Array(randomBytes(i % 90)) }), keys.privateKey)));
  const list: Uint8Array[] = good.map((b, i) => (i % 7 === 3 ? b.subarray(0, b.length - 1) : i % 11 === 5 ? new Uint8Array(70_000) : b));
  list.push(new Uint8Array(0), new Uint8Array(randomBytes(300)));
  const all = SignedTx.decodeAll(list);
  assert.is(all.length, list.length);
  list.forEach((bytes, i) => {
    const one = code(() => SignedTx.decode(bytes));
    const got = all[i]!;
    if (one !== undefined) {
      assert.ok(got instanceof TxError, `entry ${i}`);
      assert.is((got as TxError).code, one);
    } else {
      const s = SignedTx.decode(bytes);
      assert.ok(got instanceof SignedTx);
      assert.equal((got as SignedTx).hash, s.hash);
      assert.is((got as SignedTx).hashHex, s.hashHex);
      assert.equal((got as SignedTx).bytes, bytes);
      assert.equal({ ...(got as SignedTx).tx }, { ...s.tx });
    }
  });
});

test('settle moves a transaction out of its shared memory, unchanged; the chain id is compared as bytes', () => {
  const stxs = Array.from({ length: 3 }, (_, i) => SignedTx.decode(encodeTransaction(signTransaction(body({ nonce: BigInt(i) }), keys.privateKey))));
  assert.is(stxs[0]!.bytes.buffer, stxs[1]!.bytes.buffer); // small transactions share a slab
  const before = { bytes: stxs[1]!.bytes.slice(), hash: stxs[1]!.hash.slice(), tx: { ...stxs[1]!.tx } };
  stxs[1]!.settle();
  assert.is.not(stxs[1]!.bytes.buffer, stxs[0]!.bytes.buffer);
  assert.is(stxs[1]!.bytes.buffer.byteLength, stxs[1]!.bytes.length + 32);
  assert.equal({ bytes: stxs[1]!.bytes, hash: stxs[1]!.hash, tx: { ...stxs[1]!.tx } }, before);
  const settled = stxs[1]!.bytes;
  stxs[1]!.settle(); // once is enough
  assert.is(stxs[1]!.bytes, settled);
  assert.ok(stxs[0]!.chainIdBytesAre(new TextEncoder().encode('brop-test')));
  assert.not.ok(stxs[0]!.chainIdBytesAre(new TextEncoder().encode('brop-tess')));
  assert.not.ok(stxs[0]!.chainIdBytesAre(new TextEncoder().encode('brop-test2')));
  const bom = SignedTx.decode(encodeTransaction(signTransaction(body({ chainId: '\uFEFFbrop-test' }), keys.privateKey)));
  assert.not.ok(bom.chainIdBytesAre(new TextEncoder().encode('brop-test')));
  assert.is(bom.chainId, '\uFEFFbrop-test');
});

/** The signature checks of `n` signed transactions, every `every`-th (from the first) spoiled by `spoil`. */
function signedChecks(n: number, every: number, spoil: (c: SignatureCheck) => SignatureCheck): SignatureCheck[] {
  return Array.from({ length: n }, (_, i) => {
    const c = SignedTx.from(signTransaction(body({ nonce: BigInt(i) }), keys.privateKey)).signatureCheck()!;
    return i % every === 0 ? spoil(c) : c;
  });
}

test('the worker pool agrees with inline verification, batch after batch', async () => {
  const verifier = new SignatureVerifier({ workers: 2 });
  try {
    // More than the workers take in one hand-off (2 × 256): the group spans several batches.
    const checks = signedChecks(1300, 7, (c) => ({ ...c, signature: c.signature.map((b, j) => (j === 0 ? b ^ 1 : b)) }));
    const [results, one, none] = await Promise.all([verifier.verifyAll(checks), verifier.verify(checks[0]!), verifier.verifyAll([])]);
    results.forEach((ok, i) => assert.is(ok, i % 7 !== 0, `check ${i}`));
    assert.is(one, false);
    assert.equal(none, []);
    // Checks still queued when the verifier closes fail (once, as one group) instead of hanging.
    const waiting = verifier.verifyAll(checks.slice(0, 600)).then(() => 'resolved', (e: Error) => e.message);
    await verifier.close();
    assert.match(await waiting, /closed/);
  } finally {
    await verifier.close();
  }
});

test('checks at a worker that dies are done again from their bytes, and the worker is replaced', async () => {
  const verifier = new SignatureVerifier({ workers: 1 });
  try {
    const checks = signedChecks(1500, 5, (c) => ({ ...c, message: c.message.map((b, j) => (j === c.message.length - 1 ? b ^ 1 : b)) }));
    const results = verifier.verifyAll(checks);
    // Once the batches have gone to the worker (the hand-off waits a turn), and long before it is through them.
    await new Promise((w) => setImmediate(w));
    const slot = (verifier as unknown as { slots: Array<{ worker: { terminate(): Promise<number> }; inFlight: Map<number, unknown> }> }).slots[0]!;
    assert.ok(slot.inFlight.size > 0);
    await slot.worker.terminate();
    (await results).forEach((ok, i) => assert.is(ok, i % 5 !== 0, `check ${i}`));
    assert.is(await verifier.verify(checks[1]!), true);
  } finally {
    await verifier.close();
  }
});

test.run();
