/**
 * Transactions (SPEC C4): one canonical binary encoding (the contract codec's layout, decoded
 * strictly, so a transaction has exactly one encoding), hash = sha256 of that encoding, and a
 * signature over a domain-separated payload of every field but the signature itself. The format
 * itself is in encoding.ts (browser-safe, shared with the partner SDK); this file adds Node's fast
 * crypto and strict decoding.
 */
import { hash } from 'node:crypto';
import { ed25519PublicKey, signEd25519, verifyEd25519 } from '../crypto/ed25519.ts';
import { TxError } from './errors.ts';
import { pooledBytes } from '../../vm/bytes.ts';
import { hex } from '../chain/hash.ts';
import { SCHEME_ED25519, TX_DOMAIN, encodeTransaction, signingPayload, type Transaction, type UnsignedTransaction } from './encoding.ts';

export {
  SCHEME_ED25519, SCHEME_SM2, TX_DOMAIN, encodeTransaction, signingPayload,
  type Transaction, type UnsignedTransaction,
} from './encoding.ts';

export interface TxLimits {
  maxTxBytes: number;
  maxMethodBytes: number;
  maxChainIdBytes: number;
}

export const DEFAULT_TX_LIMITS: TxLimits = { maxTxBytes: 64 * 1024, maxMethodBytes: 128, maxChainIdBytes: 64 };

/** For transactions read back from committed blocks: admission checked their limits already (under the chain's parameters then). */
export const COMMITTED_TX_LIMITS: TxLimits = { maxTxBytes: Number.MAX_SAFE_INTEGER, maxMethodBytes: 1 << 20, maxChainIdBytes: 1 << 20 };

export function signTransaction(body: UnsignedTransaction, privateKey: Uint8Array): Transaction {
  return signTransactionWith(body, { publicKey: ed25519PublicKey(privateKey), sign: (m) => signEd25519(privateKey, m) });
}

/** Signs with any Ed25519 signer (a key in memory, or one in an HSM that never leaves it). */
export function signTransactionWith(body: UnsignedTransaction, signer: { publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array }): Transaction {
  const unsigned = { ...body, scheme: SCHEME_ED25519, publicKey: signer.publicKey };
  return { ...unsigned, signature: signer.sign(signingPayload(unsigned)) };
}

/** A decoded transaction with its canonical bytes and hash, computed once. */
export class SignedTx {
  readonly tx: Transaction;
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  readonly hashHex: string;
  /** `hashSlot`: 32 bytes to hold the hash (decode passes those beside its copy of the bytes). */
  constructor(tx: Transaction, bytes: Uint8Array, hashSlot: Uint8Array = new Uint8Array(32)) {
    this.tx = tx;
    this.bytes = bytes;
    // A string digest: a Buffer one would get a backing store of its own.
    const digest = hash('sha256', bytes, 'binary'); // 'binary' is latin1
    for (let i = 0; i < 32; i++) hashSlot[i] = digest.charCodeAt(i);
    this.hash = hashSlot;
    this.hashHex = hex(hashSlot);
  }

  static from(tx: Transaction): SignedTx {
    return new SignedTx(tx, encodeTransaction(tx));
  }

  /**
   * Strict decoding: anything but the one canonical encoding of a well-formed transaction is TX_MALFORMED.
   * The codec's rules for the Transaction struct (encoding.ts), written out: the bytes are copied once
   * and the byte fields are views into that copy (no allocation per field on the admission path).
   */
  static decode(bytes: Uint8Array, limits: TxLimits = DEFAULT_TX_LIMITS): SignedTx {
    if (bytes.length > limits.maxTxBytes) throw new TxError('TX_TOO_LARGE', `transaction of ${bytes.length} bytes exceeds ${limits.maxTxBytes}`);
    // The copy and the hash in one allocation of their own, not pooled memory (vm/bytes.ts): a pending
    // transaction may stay for its whole validity window, keeping a pooled slab alive all that time.
    const own = new Uint8Array(bytes.length + 32);
    own.set(bytes);
    const copy = own.subarray(0, bytes.length);
    const tx = decodeTransaction(copy);
    if (Buffer.byteLength(tx.method) > limits.maxMethodBytes || tx.method.length === 0) throw new TxError('TX_MALFORMED', `method must be 1 to ${limits.maxMethodBytes} bytes`);
    if (Buffer.byteLength(tx.chainId) > limits.maxChainIdBytes) throw new TxError('TX_MALFORMED', `chain id above ${limits.maxChainIdBytes} bytes`);
    return new SignedTx(tx, copy, own.subarray(bytes.length));
  }

  /** The (public key, message, signature) a verifier checks; undefined for a scheme this node does not run. */
  signatureCheck(): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } | undefined {
    if (this.tx.scheme !== SCHEME_ED25519) return undefined;
    return { publicKey: this.tx.publicKey, message: this.signedBytes(), signature: this.tx.signature };
  }

  /**
   * signingPayload(tx), taken from the canonical bytes: the signature is the last field (u32 length,
   * then its bytes), so everything before it is exactly the encoded payload fields.
   */
  private signedBytes(): Uint8Array {
    const body = this.bytes.subarray(0, this.bytes.length - 4 - this.tx.signature.length);
    const out = pooledBytes(TX_DOMAIN.length + body.length);
    out.set(TX_DOMAIN);
    out.set(body, TX_DOMAIN.length);
    return out;
  }

  /** Checks the signature inline (the node batches checks over worker threads instead). */
  verifySignature(): void {
    const check = this.signatureCheck();
    if (!check) throw new TxError('TX_UNSUPPORTED_SCHEME', `signature scheme ${this.tx.scheme} is not supported by this node`);
    if (!verifyEd25519(check.publicKey, check.message, check.signature)) throw new TxError('TX_BAD_SIGNATURE', 'the signature does not match the transaction and public key');
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A cursor over the transaction being decoded. Decoding is synchronous and not re-entrant, so one
 * module-level reader serves every call (no closures or DataView per transaction).
 */
const rd: { b: Uint8Array; at: number } = { b: new Uint8Array(0), at: 0 };

function need(n: number, field: string): void {
  if (n > rd.b.length - rd.at) throw new TxError('TX_MALFORMED', `${field}: unexpected end of data`);
}

function take(n: number, field: string): Uint8Array {
  need(n, field);
  rd.at += n;
  return rd.b.subarray(rd.at - n, rd.at);
}

function u32(field: string): number {
  need(4, field);
  const { b, at } = rd;
  rd.at += 4;
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

function u64(field: string): bigint {
  const lo = u32(field), hi = u32(field);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function text(field: string): string {
  const raw = take(u32(field), field);
  try {
    return strictUtf8.decode(raw);
  } catch {
    throw new TxError('TX_MALFORMED', `${field}: string is not valid UTF-8`);
  }
}

/**
 * The Transaction struct of encoding.ts read from `b` (byte fields are views into it), with the
 * codec's strictness: u32 lengths that must fit, UTF-8 that must be valid, no trailing bytes.
 */
function decodeTransaction(b: Uint8Array): Transaction {
  rd.b = b;
  rd.at = 0;
  try {
    const chainId = text('chainId');
    const sender = take(32, 'sender');
    const nonce = u64('nonce');
    const validUntilBlock = u64('validUntilBlock');
    const contract = take(32, 'contract');
    const method = text('method');
    const args = take(u32('args'), 'args');
    need(1, 'scheme');
    const scheme = b[rd.at++]!;
    const publicKey = take(u32('publicKey'), 'publicKey');
    const signature = take(u32('signature'), 'signature');
    if (rd.at !== b.length) throw new TxError('TX_MALFORMED', `${b.length - rd.at} trailing bytes after the last value`);
    return { chainId, sender, nonce, validUntilBlock, contract, method, args, scheme, publicKey, signature };
  } finally {
    rd.b = EMPTY_BYTES; // holds no transaction after the call
  }
}

const EMPTY_BYTES = new Uint8Array(0);
