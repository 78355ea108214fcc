/**
 * The state tree's hashing rules and its proofs: encoding, JSON form and verification.
 * Runs in browsers as well as in Node (no `node:` imports, no Buffer): partners and light clients
 * verify proofs with this file alone (plus errors.ts and @noble/hashes).
 *
 * The tree (see docs/state.md): a binary sparse Merkle tree over keyPath = sha256(key), read most
 * significant bit first; a subtree holding no leaf is the empty hash, a subtree holding exactly one
 * leaf is that leaf, anything else is an internal node.
 *   leaf     = sha256(0x00 ‖ keyPath ‖ sha256(value))
 *   internal = sha256(0x01 ‖ left ‖ right)
 *   empty    = 32 zero bytes
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { StateError } from './errors.ts';

export const HASH_BYTES = 32;
export const LEAF_PREFIX = 0x00;
export const INTERNAL_PREFIX = 0x01;
/** Keys are a 32-byte contract address and a storage key the VM caps at 1 KiB: 2 KiB leaves headroom. */
export const MAX_KEY_BYTES = 2048;
/** Four times the VM's storage value limit (256 KiB). */
export const MAX_VALUE_BYTES = 1 << 20;
/** Two distinct keyPaths differ within 256 bits, so no leaf lies deeper than this. */
export const MAX_DEPTH = 256;
/** First byte of an encoded proof; a new hash suite or layout gets a new version. */
export const PROOF_VERSION = 1;
/** The root of the empty tree (and the hash of every empty subtree), as 0x-hex. */
export const EMPTY_ROOT_HEX = `0x${'00'.repeat(HASH_BYTES)}`;

const ZERO = new Uint8Array(HASH_BYTES);

/** A fresh copy of the empty tree's root (32 zero bytes). */
export function emptyRoot(): Uint8Array {
  return new Uint8Array(HASH_BYTES);
}

/** The key's path in the tree. */
export function keyPathOf(key: Uint8Array): Uint8Array {
  return sha256(key);
}

export function leafHash(keyPath: Uint8Array, valueHash: Uint8Array): Uint8Array {
  const b = new Uint8Array(1 + 2 * HASH_BYTES);
  b[0] = LEAF_PREFIX;
  b.set(keyPath, 1);
  b.set(valueHash, 1 + HASH_BYTES);
  return sha256(b);
}

export function internalHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const b = new Uint8Array(1 + 2 * HASH_BYTES);
  b[0] = INTERNAL_PREFIX;
  b.set(left, 1);
  b.set(right, 1 + HASH_BYTES);
  return sha256(b);
}

/** Bit `depth` of a keyPath, most significant bit of byte 0 first: 0 = left, 1 = right. */
export function pathBit(keyPath: Uint8Array, depth: number): number {
  return (keyPath[depth >> 3]! >> (7 - (depth & 7))) & 1;
}

/** What the key's path ends in. */
export type ProofEnd =
  /** An empty subtree: the key is absent. */
  | { type: 'empty' }
  /** The key's own leaf: the key is present with this value. */
  | { type: 'value'; value: Uint8Array }
  /** Another key's leaf, alone in the subtree the key would be in: the key is absent. */
  | { type: 'leaf'; keyPath: Uint8Array; valueHash: Uint8Array };

/**
 * A proof that a key has a value, or is absent, under a root. `siblings[d]` is the hash of the
 * subtree beside the path at depth d (root first), null when that subtree is empty.
 */
export interface StateProof {
  siblings: (Uint8Array | null)[];
  end: ProofEnd;
}

/** The JSON form: bytes as 0x-hex. */
export interface StateProofJSON {
  siblings: (string | null)[];
  end: { type: 'empty' } | { type: 'value'; value: string } | { type: 'leaf'; keyPath: string; valueHash: string };
}

const END_CODE = { empty: 0, value: 1, leaf: 2 } as const;

function malformed(message: string): never {
  throw new StateError('STATE_PROOF_MALFORMED', message);
}

function invalid(message: string): never {
  throw new StateError('STATE_PROOF_INVALID', message);
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_BYTES;
}

/** Checks a proof object's shape (it may come from anywhere): the same rules decodeProof enforces. */
export function checkProof(proof: unknown): StateProof {
  if (typeof proof !== 'object' || proof === null) malformed('a proof is an object');
  const { siblings, end } = proof as Partial<StateProof>;
  if (!Array.isArray(siblings) || siblings.length > MAX_DEPTH) malformed(`siblings must be an array of at most ${MAX_DEPTH}`);
  for (const s of siblings) {
    // An empty sibling is written null, never as zero bytes: one statement, one encoding.
    if (s !== null && (!isHash(s) || isZero(s))) malformed('a sibling is null or a non-zero 32-byte hash');
  }
  if (typeof end !== 'object' || end === null) malformed('a proof has an end');
  switch (end.type) {
    case 'empty': break;
    case 'value':
      if (!(end.value instanceof Uint8Array) || end.value.length > MAX_VALUE_BYTES) malformed('the proven value must be bytes within MAX_VALUE_BYTES');
      break;
    case 'leaf':
      if (!isHash(end.keyPath) || !isHash(end.valueHash)) malformed('a leaf end has a 32-byte keyPath and valueHash');
      break;
    default: malformed('unknown end type');
  }
  return proof as StateProof;
}

/**
 * The canonical binary encoding:
 *   u8 version (1) ‖ u8 end type (0 empty, 1 value, 2 leaf) ‖ u16 depth
 *   ‖ bitmap: ceil(depth / 8) bytes, bit d (MSB first) set when sibling d is non-empty, padding bits zero
 *   ‖ the non-empty siblings, 32 bytes each, root first
 *   ‖ end: nothing | u32 value length ‖ value | keyPath ‖ valueHash
 * Integers are big-endian.
 */
export function encodeProof(proof: StateProof): Uint8Array {
  const { siblings, end } = checkProof(proof);
  const depth = siblings.length;
  const bitmapBytes = (depth + 7) >> 3;
  const present = siblings.reduce((n, s) => n + (s === null ? 0 : 1), 0);
  const endBytes = end.type === 'empty' ? 0 : end.type === 'value' ? 4 + end.value.length : 2 * HASH_BYTES;
  const out = new Uint8Array(4 + bitmapBytes + present * HASH_BYTES + endBytes);
  out[0] = PROOF_VERSION;
  out[1] = END_CODE[end.type];
  out[2] = depth >> 8;
  out[3] = depth & 0xff;
  let pos = 4 + bitmapBytes;
  for (let d = 0; d < depth; d++) {
    const s = siblings[d]!;
    if (s === null) continue;
    out[4 + (d >> 3)]! |= 0x80 >> (d & 7);
    out.set(s, pos);
    pos += HASH_BYTES;
  }
  if (end.type === 'value') {
    const n = end.value.length;
    out[pos] = n >>> 24; out[pos + 1] = (n >>> 16) & 0xff; out[pos + 2] = (n >>> 8) & 0xff; out[pos + 3] = n & 0xff;
    out.set(end.value, pos + 4);
  } else if (end.type === 'leaf') {
    out.set(end.keyPath, pos);
    out.set(end.valueHash, pos + HASH_BYTES);
  }
  return out;
}

/** Decodes the canonical encoding; anything else (trailing bytes, stray padding bits, ...) is malformed. */
export function decodeProof(bytes: Uint8Array): StateProof {
  if (!(bytes instanceof Uint8Array)) malformed('an encoded proof is a Uint8Array');
  if (bytes.length < 4) malformed('truncated proof header');
  if (bytes[0] !== PROOF_VERSION) malformed(`unknown proof version ${bytes[0]}`);
  const type = bytes[1]!;
  const depth = (bytes[2]! << 8) | bytes[3]!;
  if (depth > MAX_DEPTH) malformed(`proof depth ${depth} above ${MAX_DEPTH}`);
  const bitmapBytes = (depth + 7) >> 3;
  if (bytes.length < 4 + bitmapBytes) malformed('truncated sibling bitmap');
  for (let d = depth; d < bitmapBytes * 8; d++) {
    if ((bytes[4 + (d >> 3)]! >> (7 - (d & 7))) & 1) malformed('padding bits of the sibling bitmap must be zero');
  }
  let pos = 4 + bitmapBytes;
  const take = (n: number, what: string): Uint8Array => {
    if (pos + n > bytes.length) malformed(`truncated ${what}`);
    const b = bytes.slice(pos, pos + n);
    pos += n;
    return b;
  };
  const siblings: (Uint8Array | null)[] = [];
  for (let d = 0; d < depth; d++) {
    if ((bytes[4 + (d >> 3)]! >> (7 - (d & 7))) & 1) {
      const s = take(HASH_BYTES, 'sibling');
      if (isZero(s)) malformed('an empty sibling must be marked in the bitmap, not written as zeros');
      siblings.push(s);
    } else {
      siblings.push(null);
    }
  }
  let end: ProofEnd;
  switch (type) {
    case 0: end = { type: 'empty' }; break;
    case 1: {
      const l = take(4, 'value length');
      const n = ((l[0]! << 24) | (l[1]! << 16) | (l[2]! << 8) | l[3]!) >>> 0;
      if (n > MAX_VALUE_BYTES) malformed(`value length ${n} above ${MAX_VALUE_BYTES}`);
      end = { type: 'value', value: take(n, 'value') };
      break;
    }
    case 2: end = { type: 'leaf', keyPath: take(HASH_BYTES, 'leaf keyPath'), valueHash: take(HASH_BYTES, 'leaf valueHash') }; break;
    default: malformed(`unknown proof end type ${type}`);
  }
  if (pos !== bytes.length) malformed(`${bytes.length - pos} trailing bytes after the proof`);
  return { siblings, end };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes as 0x-prefixed lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = '0x';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

/** 0x-prefixed hex (either case) as bytes; anything else is malformed. */
export function fromHex(hex: unknown, what = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(hex)) malformed(`${what} must be 0x-prefixed hex of whole bytes`);
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

export function proofToJSON(proof: StateProof): StateProofJSON {
  const { siblings, end } = checkProof(proof);
  return {
    siblings: siblings.map((s) => (s === null ? null : toHex(s))),
    end: end.type === 'empty' ? { type: 'empty' }
      : end.type === 'value' ? { type: 'value', value: toHex(end.value) }
        : { type: 'leaf', keyPath: toHex(end.keyPath), valueHash: toHex(end.valueHash) },
  };
}

export function proofFromJSON(json: unknown): StateProof {
  if (typeof json !== 'object' || json === null) malformed('a proof is an object');
  const { siblings, end } = json as Partial<StateProofJSON>;
  if (!Array.isArray(siblings)) malformed('siblings must be an array');
  if (typeof end !== 'object' || end === null) malformed('a proof has an end');
  const proof: StateProof = {
    siblings: siblings.map((s) => (s === null ? null : fromHex(s, 'a sibling'))),
    end: end.type === 'empty' ? { type: 'empty' }
      : end.type === 'value' ? { type: 'value', value: fromHex(end.value, 'the value') }
        : end.type === 'leaf' ? { type: 'leaf', keyPath: fromHex(end.keyPath, 'keyPath'), valueHash: fromHex(end.valueHash, 'valueHash') }
          : malformed('unknown end type'),
  };
  return checkProof(proof);
}

function checkRoot(root: unknown): asserts root is Uint8Array {
  if (!isHash(root)) throw new StateError('STATE_ROOT_INVALID', 'a state root is 32 bytes');
}

function checkKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length > MAX_KEY_BYTES) throw new StateError('STATE_KEY_INVALID', `a key is at most ${MAX_KEY_BYTES} bytes`);
}

/**
 * Checks that `proof` (an object or its binary encoding) proves something about `key` under `root`:
 * returns the key's value, or null when the proof shows the key is absent. Throws
 * STATE_PROOF_MALFORMED for an undecodable proof, STATE_PROOF_INVALID for one that does not
 * lead to `root`.
 */
export function verifyProof(root: Uint8Array, key: Uint8Array, proof: StateProof | Uint8Array): Uint8Array | null {
  checkRoot(root);
  checkKey(key);
  const { siblings, end } = proof instanceof Uint8Array ? decodeProof(proof) : checkProof(proof);
  const depth = siblings.length;
  const keyPath = keyPathOf(key);
  // In a compact tree a single leaf or an empty subtree never has an empty sibling: it would have
  // been merged into its parent. Such a proof cannot match a real root; say why early.
  if (depth > 0 && siblings[depth - 1] === null) invalid('the path ends beside an empty subtree: not a compact tree');
  let h: Uint8Array;
  let proven: Uint8Array | null = null;
  if (end.type === 'empty') {
    h = ZERO;
  } else if (end.type === 'value') {
    h = leafHash(keyPath, sha256(end.value));
    proven = end.value;
  } else {
    if (equalBytes(end.keyPath, keyPath)) invalid("the leaf at the key's path is the key's own: its value must be shown");
    for (let d = 0; d < depth; d++) {
      if (pathBit(end.keyPath, d) !== pathBit(keyPath, d)) invalid("the leaf shown does not lie on the key's path");
    }
    h = leafHash(end.keyPath, end.valueHash);
  }
  for (let d = depth - 1; d >= 0; d--) {
    const s = siblings[d] ?? ZERO;
    h = pathBit(keyPath, d) ? internalHash(s, h) : internalHash(h, s);
  }
  if (!equalBytes(h, root)) invalid('the proof does not lead to the root');
  return proven;
}
