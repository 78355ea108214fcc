import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { generateEd25519, signEd25519, verifyEd25519 } from './ed25519.ts';
import { COFACTORED_BACKENDS, cofactoredBackend, isAllowedPointEncoding, verifyEd25519Cofactored, verifyEd25519CofactoredAll, type SignatureCheck } from './ed25519-cofactored.ts';
import { SignatureVerifier } from './verify-pool.ts';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const P = Point.Fp.ORDER;
const backends = [COFACTORED_BACKENDS.portable, ...(COFACTORED_BACKENDS.libtorsion ? [COFACTORED_BACKENDS.libtorsion] : [])];
/** A point of order 8. */
const T8 = Point.fromBytes(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex'));
const SMALL_ORDER = Array.from({ length: 8 }, (_, i) => T8.multiplyUnsafe(BigInt(i)));

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const challenge = (R: Uint8Array, A: Uint8Array, m: Uint8Array) => mod(bytesToNumberLE(createHash('sha512').update(R).update(A).update(m).digest()), L);

/** Signs as RFC 8032 does, but with the nonce point and the key point given a chosen small-order part. */
function craft(opts: { torsionR?: number; torsionA?: number }): SignatureCheck {
  const seed = randomBytes(32);
  const { scalar: a } = ed25519.utils.getExtendedPublicKey(seed);
  const A = Point.BASE.multiply(a).add(SMALL_ORDER[opts.torsionA ?? 0]!);
  const r = mod(bytesToNumberLE(randomBytes(64)), L);
  const R = Point.BASE.multiply(r).add(SMALL_ORDER[opts.torsionR ?? 0]!);
  const message = randomBytes(100);
  const k = challenge(R.toBytes(), A.toBytes(), message);
  const s = mod(r + k * a, L);
  return { publicKey: A.toBytes(), message, signature: Buffer.concat([R.toBytes(), numberToBytesLE(s, 32)]) };
}

function honest(): SignatureCheck {
  const k = generateEd25519();
  const message = randomBytes(1 + (randomBytes(1)[0]! % 200));
  return { publicKey: k.publicKey, message, signature: signEd25519(k.privateKey, message) };
}

const answers = (checks: SignatureCheck[]) => backends.map((b) => Array.from(verifyEd25519CofactoredAll(checks, b)));

test('libtorsion is used wherever npm install built bcrypto', () => {
  let built = false;
  try {
    built = existsSync(join(dirname(createRequire(import.meta.url).resolve('bcrypto/package.json')), 'build/Release/bcrypto.node'));
  } catch { /* not installed: an optional dependency */ }
  assert.is(cofactoredBackend, built && process.env.BROP_NATIVE !== '0' ? 'libtorsion' : 'openssl+noble');
});

test('every signature the strict RFC 8032 check accepts is accepted; spoiled ones are refused by every backend', () => {
  for (let i = 0; i < 40; i++) {
    const c = honest();
    assert.ok(verifyEd25519(c.publicKey, c.message, c.signature));
    const sPlusL = Buffer.from(c.signature);
    sPlusL.set(numberToBytesLE(bytesToNumberLE(c.signature.subarray(32)) + L, 32), 32); // same s mod L, not canonical
    const spoiled: SignatureCheck[] = [
      { ...c, message: Buffer.concat([c.message, Buffer.of(0)]) },
      { ...c, signature: Buffer.from(c.signature).fill(c.signature[5]! ^ 4, 5, 6) }, // in R
      { ...c, signature: Buffer.from(c.signature).fill(c.signature[40]! ^ 1, 40, 41) }, // in s
      { ...c, publicKey: honest().publicKey },
      { ...c, signature: sPlusL },
      { ...c, signature: c.signature.subarray(0, 63) },
      { ...c, publicKey: c.publicKey.subarray(1) },
      { ...c, signature: new Uint8Array(64) },
    ];
    for (const got of answers([c, ...spoiled])) assert.equal(got, [1, 0, 0, 0, 0, 0, 0, 0, 0], `round ${i}`);
  }
});

test('a small-order part in R or in the key: accepted by the cofactored equation (not by the strict one), alike in every backend', () => {
  for (let i = 1; i < 8; i++) {
    for (const c of [craft({ torsionR: i }), craft({ torsionA: i }), craft({ torsionR: i, torsionA: 8 - i })]) {
      for (const got of answers([c])) assert.equal(got, [1], `small-order part ${i}`);
    }
  }
  // OpenSSL's strict equation refuses the crafted nonce (whatever the challenge), which is why a batch cannot use it.
  assert.not.ok(verifyEd25519(...(Object.values(craft({ torsionR: 1 })) as [Uint8Array, Uint8Array, Uint8Array])));
});

test('small-order keys and nonces are refused, whatever the signature: such a key would verify forgeries', () => {
  const m = randomBytes(32);
  for (const T of SMALL_ORDER) {
    for (const sign of [0, 0x80]) {
      const t = T.toBytes();
      t[31]! |= sign; // both signs of x (x = 0 with the sign bit set is a second encoding)
      // s = 0, R = -kA or R = identity: the forgeries small-order keys allow.
      const forged = [{ publicKey: t, message: m, signature: new Uint8Array(64) }];
      for (const R of SMALL_ORDER) forged.push({ publicKey: t, message: m, signature: Buffer.concat([R.toBytes(), new Uint8Array(32)]) });
      for (const got of answers(forged)) assert.ok(got.every((x) => x === 0));
      const c = honest();
      for (const got of answers([{ ...c, signature: Buffer.concat([t, c.signature.subarray(32)]) }])) assert.equal(got, [0]);
    }
  }
});

test('isAllowedPointEncoding: canonical y (< p) and not small order, against @noble over random and edge encodings', () => {
  const edges: Uint8Array[] = [0n, 1n, 2n, 18n, P - 1n, P, P + 1n, P + 18n, 2n ** 255n - 1n].map((y) => numberToBytesLE(y, 32));
  for (const T of SMALL_ORDER) edges.push(T.toBytes());
  const samples: Uint8Array[] = [...edges, ...edges.map((b) => { const s = Uint8Array.from(b); s[31]! ^= 0x80; return s; })];
  for (let i = 0; i < 3000; i++) samples.push(i % 2 ? randomBytes(32) : Point.BASE.multiply(1n + mod(bytesToNumberLE(randomBytes(40)), L - 1n)).toBytes());
  for (const b of samples.map((x) => Uint8Array.from(x))) {
    const y = bytesToNumberLE(b) & ((1n << 255n) - 1n);
    let point;
    try { point = Point.fromBytes(b, true); } catch { point = undefined; }
    const expected = y < P && !(point && point.isSmallOrder());
    assert.is(isAllowedPointEncoding(b), expected, Buffer.from(b).toString('hex'));
  }
});

test('the encoding rules are the module\'s own, applied before any backend: s < L, canonical non-small-order A and R, lengths', () => {
  const acceptsAll = { name: 'accepts-all', verify: (_c: readonly SignatureCheck[], results: Uint8Array, indices: readonly number[]) => { for (const i of indices) results[i] = 1; } };
  const c = honest();
  const withS = (s: bigint) => ({ ...c, signature: Buffer.concat([c.signature.subarray(0, 32), numberToBytesLE(s, 32)]) });
  const checks: Array<[SignatureCheck, number]> = [
    [c, 1], [withS(0n), 1], [withS(L - 1n), 1], [withS(L), 0], [withS(L + 1n), 0], [withS(2n ** 256n - 1n), 0], [withS(2n ** 253n), 0],
    [{ ...c, publicKey: SMALL_ORDER[3]!.toBytes() }, 0], [{ ...c, signature: Buffer.concat([SMALL_ORDER[6]!.toBytes(), c.signature.subarray(32)]) }, 0],
    [{ ...c, publicKey: numberToBytesLE(P + 5n, 32) }, 0], [{ ...c, signature: c.signature.subarray(0, 63) }, 0], [{ ...c, publicKey: new Uint8Array(33) }, 0],
  ];
  assert.equal(Array.from(verifyEd25519CofactoredAll(checks.map(([x]) => x), acceptsAll)), checks.map(([, want]) => want));
});

test('a batch answers each check exactly as checking it alone does, in every backend and through the worker threads', async () => {
  const kinds = [honest, () => craft({ torsionR: 3 }), () => craft({ torsionA: 5 }), () => ({ ...honest(), message: randomBytes(10) })];
  const checks: SignatureCheck[] = [];
  for (let i = 0; i < 300; i++) checks.push(kinds[i % 7 === 0 ? 1 + (i % 3) : 0]!());
  const alone = checks.map((c) => (verifyEd25519Cofactored(c.publicKey, c.message, c.signature) ? 1 : 0));
  assert.ok(alone.includes(0) && alone.includes(1));
  for (const size of [1, 2, 63, 64, 65, 300]) {
    for (const got of answers(checks.slice(0, size))) assert.equal(got, alone.slice(0, size), `batch of ${size}`);
  }
  const allGood = checks.filter((_, i) => alone[i] === 1);
  for (const got of answers(allGood)) assert.ok(got.every((x) => x === 1));
  const verifier = new SignatureVerifier({ workers: 2 });
  try {
    assert.equal((await verifier.verifyAll(checks)).map((ok) => (ok ? 1 : 0)), alone);
  } finally {
    await verifier.close();
  }
});

test.run();
