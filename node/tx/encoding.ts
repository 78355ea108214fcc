/**
 * The transaction format (SPEC C4) without Node: field layout, canonical encoding, the signed payload
 * and the hash. The node (transaction.ts) and the partner SDK, which also runs in browsers, build
 * transactions with this one file, so there is a single definition of what gets signed.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { AbiType, StructTable } from '../../contracts/sdk/codec.ts';
import { encode } from '../../contracts/sdk/codec.ts';

/** Signature schemes. SM2 (with SM3) is reserved for the national-crypto suite. */
export const SCHEME_ED25519 = 1;
export const SCHEME_SM2 = 2;

export interface UnsignedTransaction {
  chainId: string;
  /** The account that sends (and pays quota for) the transaction. */
  sender: Uint8Array;
  /** Random: makes otherwise identical transactions distinct. */
  nonce: bigint;
  /** Valid while the chain's height is below this, and at most the validity window above it. */
  validUntilBlock: bigint;
  contract: Uint8Array;
  method: string;
  /** ABI-encoded arguments. */
  args: Uint8Array;
}

export interface Transaction extends UnsignedTransaction {
  scheme: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

const FIELDS: ReadonlyArray<{ name: keyof Transaction; type: AbiType }> = [
  { name: 'chainId', type: 'string' },
  { name: 'sender', type: 'bytes32' },
  { name: 'nonce', type: 'u64' },
  { name: 'validUntilBlock', type: 'u64' },
  { name: 'contract', type: 'bytes32' },
  { name: 'method', type: 'string' },
  { name: 'args', type: 'bytes' },
  { name: 'scheme', type: 'u8' },
  { name: 'publicKey', type: 'bytes' },
  { name: 'signature', type: 'bytes' },
];

/** `Transaction` and `SigningPayload` (every field but the signature) in codec terms. */
export const TX_STRUCTS: StructTable = {
  Transaction: FIELDS,
  SigningPayload: FIELDS.filter((f) => f.name !== 'signature'),
};

export const TX_DOMAIN = new TextEncoder().encode('brop:tx:v1\0');

export function encodeTransaction(tx: Transaction): Uint8Array {
  return encode({ struct: 'Transaction' }, tx, TX_STRUCTS);
}

/** The bytes a signature covers: the domain tag, then every field but the signature. */
export function signingPayload(tx: UnsignedTransaction & { scheme: number; publicKey: Uint8Array }): Uint8Array {
  const { signature: _omit, ...body } = tx as Transaction;
  const fields = encode({ struct: 'SigningPayload' }, body, TX_STRUCTS);
  const out = new Uint8Array(TX_DOMAIN.length + fields.length);
  out.set(TX_DOMAIN);
  out.set(fields, TX_DOMAIN.length);
  return out;
}

/** A transaction's hash: sha256 of its canonical encoding. */
export function transactionHash(encoded: Uint8Array): Uint8Array {
  return sha256(encoded);
}
