/**
 * The verifier's crypto in JavaScript (@noble), for browsers and offline checks: sha256 and strict
 * RFC 8032 Ed25519 verification (zip215 off: the same acceptance rule as OpenSSL on the node).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { CertificateCrypto } from '../../node/chain/certificate.ts';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return nobleSha256(parts[0]!);
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

export const BROWSER_CRYPTO: CertificateCrypto = { sha256, verifyEd25519 };
