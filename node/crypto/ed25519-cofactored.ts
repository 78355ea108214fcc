/**
 * The chain's rule for transaction signatures: Ed25519 (RFC 8032 signing, unchanged) checked with the
 * cofactored equation [8]sB = [8]R + [8]kA, k = SHA-512(R || A || M) mod L, s < L, and strict
 * encodings: A and R canonical (y < p) and not one of the eight points of small order.
 *
 * Why cofactored: it is the one equation a batch check agrees with exactly. A batch of n signatures
 * (one multi-scalar multiplication) costs ~0.7 of n single checks by the same library here, ~0.4 of n
 * OpenSSL checks; but the batch equation sums
 * random multiples of each signature's equation; with the cofactorless equation (OpenSSL's, RFC 8032's
 * "may") a signature whose R carries a small-order component passes a batch with probability 1/8 and
 * never passes alone, so validators grouping differently would disagree on a block. Every signature
 * RFC 8032's strict check accepts is accepted here too; what differs are signatures crafted with
 * small-order components, which honest signers never produce. Small-order keys and nonces are refused
 * outright: a small-order key verifies forged messages under either equation.
 *
 * Backends, same answers: libtorsion through bcrypto (optional dependency, built by npm install:
 * single ~0.57 and batch ~0.40 of OpenSSL's cost here) or, where it is not built, OpenSSL's strict check
 * (its acceptance implies this rule's) with @noble's cofactored check (ZIP-215 equation) deciding what
 * OpenSSL refuses. Contracts' host function and consensus messages keep RFC 8032's strict check
 * (ed25519.ts): they are not batched.
 */
import { createRequire } from 'node:module';
import { ed25519 } from '@noble/curves/ed25519.js';
import { verifyEd25519 } from './ed25519.ts';

export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** y of the eight points of small order, sign bit clear (y = 1 and y = -1 are one point each, the others two). */
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
].map((h) => Buffer.from(h, 'hex'));

/** Whether the 32 bytes at `at` encode a point this rule takes: y < p, y not a small-order point's. */
export function isAllowedPointEncoding(b: Uint8Array, at = 0): boolean {
  const top = b[at + 31]! & 0x7f;
  if (top === 0x7f && b[at]! >= 0xed) {
    let i = 1;
    while (i < 31 && b[at + i] === 0xff) i++;
    if (i === 31) return false; // y >= p = 2^255 - 19: a second encoding of y - p
  }
  outer: for (const y of SMALL_ORDER_Y) {
    if (b[at] !== y[0] || top !== y[31]) continue;
    for (let i = 1; i < 31; i++) if (b[at + i] !== y[i]) continue outer;
    return false;
  }
  return true;
}

/** L, the group order, little-endian: s must be below it. */
const L_BYTES = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** Whether the 32 bytes at `at` are a canonical scalar (little-endian, below L). */
function canonicalScalar(b: Uint8Array, at: number): boolean {
  for (let i = 31; i >= 0; i--) {
    if (b[at + i] !== L_BYTES[i]) return b[at + i]! < L_BYTES[i]!;
  }
  return false; // s = L
}

/**
 * The encoding rules, before any curve arithmetic: checked here once for every backend, so that none
 * depends on its library's own (they agree today, tested, but a library update should not change the rule).
 */
function encodingsAllowed(c: SignatureCheck): boolean {
  return c.publicKey.length === 32 && c.signature.length === 64 && isAllowedPointEncoding(c.publicKey) &&
    isAllowedPointEncoding(c.signature) && canonicalScalar(c.signature, 32);
}

export interface Backend {
  name: string;
  /** Checks whose encodings are allowed; 1 valid, 0 not, per check. */
  verify(checks: readonly SignatureCheck[], results: Uint8Array, indices: readonly number[]): void;
}

interface TorsionEd25519 {
  native: number;
  verifySingle(msg: Buffer, sig: Buffer, key: Buffer): boolean;
  verifyBatch(batch: Buffer[][]): boolean;
}

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length));

/** Past ~32 signatures a batch gains nothing more here; a failed batch is redone one by one. */
const BATCH = 64;

function torsionBackend(ed: TorsionEd25519): Backend {
  return {
    name: 'libtorsion',
    verify(checks, results, indices) {
      for (let from = 0; from < indices.length; from += BATCH) {
        const part = indices.slice(from, from + BATCH);
        const items = part.map((i) => [asBuffer(checks[i]!.message), asBuffer(checks[i]!.signature), asBuffer(checks[i]!.publicKey)]);
        if (items.length > 1 && ed.verifyBatch(items)) {
          for (const i of part) results[i] = 1;
          continue;
        }
        part.forEach((i, j) => { results[i] = ed.verifySingle(items[j]![0]!, items[j]![1]!, items[j]![2]!) ? 1 : 0; });
      }
    },
  };
}

const portableBackend: Backend = {
  name: 'openssl+noble',
  verify(checks, results, indices) {
    for (const i of indices) {
      const c = checks[i]!;
      let ok = verifyEd25519(c.publicKey, c.message, c.signature);
      if (!ok) {
        try {
          ok = ed25519.verify(c.signature, c.message, c.publicKey, { zip215: true });
        } catch {
          ok = false;
        }
      }
      results[i] = ok ? 1 : 0;
    }
  },
};

// RFC 8032's first test vector: trusted only if the library gives its known answers.
const RFC8032_KEY = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
const RFC8032_SIG = Buffer.from('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b', 'hex');

function loadTorsion(): Backend | undefined {
  if (process.env.BROP_NATIVE === '0') return undefined;
  try {
    const ed = createRequire(import.meta.url)('bcrypto/lib/ed25519.js') as TorsionEd25519;
    if (ed.native !== 2) return undefined; // bcrypto's JavaScript fallback: slower than the portable path
    const bad = Buffer.from(RFC8032_SIG);
    bad[0]! ^= 1;
    const empty = Buffer.alloc(0);
    if (!ed.verifySingle(empty, RFC8032_SIG, RFC8032_KEY) || ed.verifySingle(empty, bad, RFC8032_KEY)) return undefined;
    return torsionBackend(ed);
  } catch {
    return undefined;
  }
}

const torsion = loadTorsion();
const backend = torsion ?? portableBackend;

/** Which implementation checks transaction signatures here: 'libtorsion' (fast) or 'openssl+noble'. */
export const cofactoredBackend = backend.name;

/** Each check's outcome under the chain's transaction-signature rule: 1 valid, 0 not. Never throws on bad input. */
export function verifyEd25519CofactoredAll(checks: readonly SignatureCheck[], use: Backend = backend): Uint8Array {
  const results = new Uint8Array(checks.length);
  const allowed: number[] = [];
  for (let i = 0; i < checks.length; i++) if (encodingsAllowed(checks[i]!)) allowed.push(i);
  if (allowed.length > 0) use.verify(checks, results, allowed);
  return results;
}

export function verifyEd25519Cofactored(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyEd25519CofactoredAll([{ publicKey, message, signature }])[0] === 1;
}

/** Both implementations, for tests that hold them to the same answers. */
export const COFACTORED_BACKENDS: { libtorsion: Backend | undefined; portable: Backend } = { libtorsion: torsion, portable: portableBackend };
