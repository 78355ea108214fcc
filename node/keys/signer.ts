/**
 * What signs for a validator (SPEC C2): its public key and a sign operation. Consensus and block
 * certificates only ever see this interface, so the key may live in a key file, an encrypted keystore
 * (both held in memory once opened) or a hardware security module over PKCS#11 (never leaves it).
 */
import { signEd25519 } from '../crypto/ed25519.ts';
import type { KeyPair } from './key-file.ts';

export interface Signer {
  readonly publicKey: Uint8Array;
  /** An Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

export function keyPairSigner(k: KeyPair): Signer {
  return { publicKey: k.publicKey, sign: (message) => signEd25519(k.privateKey, message) };
}
