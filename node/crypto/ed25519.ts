/**
 * Ed25519 through node:crypto (OpenSSL: ~15x faster here than a JavaScript implementation): signing,
 * and RFC 8032's strict check for consensus messages (transactions have a rule of their own, checked
 * in batches: ed25519-cofactored.ts). Keys are
 * handled as raw bytes at the edges (32-byte public keys, 32-byte private seeds) and as cached
 * KeyObjects inside, since building a KeyObject costs more than a verification.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface Ed25519KeyPair {
  publicKey: Uint8Array;
  /** The 32-byte private seed. */
  privateKey: Uint8Array;
}

export function generateEd25519(): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)),
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length)),
  };
}

/** The public key of a private seed. */
export function ed25519PublicKey(privateKey: Uint8Array): Uint8Array {
  const pub = createPublicKey(privateKeyObject(privateKey));
  return new Uint8Array(pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

const privateKeys = new Map<string, KeyObject>();

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError('an Ed25519 private key is 32 bytes');
  const id = Buffer.from(seed).toString('latin1');
  let k = privateKeys.get(id);
  if (!k) {
    k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    if (privateKeys.size >= 64) privateKeys.clear();
    privateKeys.set(id, k);
  }
  return k;
}

export function signEd25519(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyObject(privateKey)));
}

const publicKeys = new Map<string, KeyObject | null>();
const PUBLIC_KEY_CACHE = 65_536;

/** null: the bytes are not a valid Ed25519 public key. */
function publicKeyObject(publicKey: Uint8Array): KeyObject | null {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('latin1');
  let k = publicKeys.get(id);
  if (k === undefined) {
    try {
      k = publicKey.length === 32 ? createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }) : null;
    } catch {
      k = null;
    }
    if (publicKeys.size >= PUBLIC_KEY_CACHE) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(id, k);
  }
  return k;
}

/** Never throws: a malformed key or signature is simply not a valid signature. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = publicKeyObject(publicKey);
  if (!key) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

const verifiedStatements = new Set<string>();
const VERIFIED_KEPT = 8192;

/**
 * verifyEd25519 that remembers good signatures: for consensus messages, which the gossip layer checks
 * before they spread and consensus checks again, and which validators send more than once. The key is a
 * hash of key, message and signature together, so no other message can borrow a remembered answer.
 */
export function verifyEd25519Remembered(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const lengths = new Uint8Array(new Uint32Array([publicKey.length, message.length, signature.length]).buffer);
  const id = createHash('sha256').update(lengths).update(publicKey).update(message).update(signature).digest('base64');
  if (verifiedStatements.has(id)) return true;
  if (!verifyEd25519(publicKey, message, signature)) return false;
  if (verifiedStatements.size >= VERIFIED_KEPT) verifiedStatements.delete(verifiedStatements.values().next().value!);
  verifiedStatements.add(id);
  return true;
}
