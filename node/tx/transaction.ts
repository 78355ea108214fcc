/**
 * Transactions (SPEC C4): one canonical binary encoding (the contract codec's layout, decoded
 * strictly, so a transaction has exactly one encoding), hash = sha256 of that encoding, and a
 * signature over a domain-separated payload of every field but the signature itself. The format
 * itself is in encoding.ts (browser-safe, shared with the partner SDK); this file adds Node's fast
 * crypto and strict decoding.
 */
import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { ed25519PublicKey, signEd25519 } from '../crypto/ed25519.ts';
import { verifyEd25519Cofactored } from '../crypto/ed25519-cofactored.ts';
import { TxError } from './errors.ts';
import { pooledBytes } from '../../vm/bytes.ts';
import { hex } from '../chain/hash.ts';
import { HashBatch } from '../crypto/sha256-many.ts';
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

/**
 * A checked transaction: its canonical bytes and hash, computed once. The decoded fields (`tx`) are
 * built when first asked for; admission reads what it needs through the accessors below instead, so a
 * transaction waiting for its signature check or in the pool is a few objects, not ~15 (a node holds
 * thousands of them, and each outlived young-generation collections).
 */
export class SignedTx {
  /** The canonical encoding (read-only: `settle` may move it, never change it). */
  bytes: Uint8Array;
  /** sha256(bytes) (read-only, moved with the bytes). */
  hash: Uint8Array;
  readonly hashHex: string;
  /** The shared slab the bytes were decoded into (undefined: memory of their own). */
  private slab: TxSlab | undefined;
  /** In a pool: counted in its slab's pooledBytes. */
  private inPool = false;
  /** Byte lengths of the variable fields (the layout in decodeLayout); everything else follows from them. */
  private readonly chainIdLength: number;
  private readonly methodLength: number;
  private readonly argsLength: number;
  private readonly publicKeyLength: number;
  private decoded: Transaction | undefined;

  /** `hashSlot`: 32 bytes holding the hash (decode passes those beside its copy of the bytes). */
  private constructor(bytes: Uint8Array, layout: Layout, hashSlot: Uint8Array, tx: Transaction | undefined, slab?: TxSlab) {
    this.bytes = bytes;
    this.slab = slab;
    this.hash = hashSlot;
    this.hashHex = hex(hashSlot);
    this.chainIdLength = layout.chainId;
    this.methodLength = layout.method;
    this.argsLength = layout.args;
    this.publicKeyLength = layout.publicKey;
    this.decoded = tx;
  }

  static from(tx: Transaction): SignedTx {
    const bytes = encodeTransaction(tx);
    const hashSlot = new Uint8Array(32);
    writeDigest(hashSlot, 0, hash('sha256', bytes, 'binary'));
    return new SignedTx(bytes, decodeLayout(bytes), hashSlot, tx);
  }

  /**
   * Strict decoding: anything but the one canonical encoding of a well-formed transaction is TX_MALFORMED.
   * The codec's rules for the Transaction struct (encoding.ts), written out: the bytes are copied once
   * and the fields are read from that copy.
   */
  static decode(bytes: Uint8Array, limits: TxLimits = DEFAULT_TX_LIMITS): SignedTx {
    const { copy, layout, slab } = checkedCopy(bytes, limits);
    const hashSlot = copy.subarray(bytes.length);
    writeDigest(hashSlot, 0, hash('sha256', copy.subarray(0, bytes.length), 'binary'));
    return new SignedTx(copy.subarray(0, bytes.length), layout, hashSlot, undefined, slab);
  }

  /** `decode` of each, a TxError in the place of each that fails; the hashes are computed in one batch. */
  static decodeAll(list: readonly Uint8Array[], limits: TxLimits = DEFAULT_TX_LIMITS): Array<SignedTx | TxError> {
    const checked = list.map((bytes) => {
      try {
        return checkedCopy(bytes, limits);
      } catch (e) {
        if (e instanceof TxError) return e;
        throw e;
      }
    });
    hashes.reset();
    for (const c of checked) {
      if (c instanceof TxError) continue;
      const at = hashes.add(c.length); // first: adding may replace hashes.data
      hashes.data.set(c.copy.subarray(0, c.length), at);
    }
    const digests = hashes.digest();
    let k = 0;
    return checked.map((c) => {
      if (c instanceof TxError) return c;
      const hashSlot = c.copy.subarray(c.length);
      digests.copy(hashSlot, 0, 32 * k, 32 * ++k);
      return new SignedTx(c.copy.subarray(0, c.length), c.layout, hashSlot, undefined, c.slab);
    });
  }

  /**
   * Whether the transaction is in a pool (the pool says so as it takes it in and lets it go): its slab
   * counts the bytes pooled transactions hold, so the pool can tell a slab that is mostly dead.
   */
  pooled(inPool: boolean): void {
    if (inPool === this.inPool) return;
    this.inPool = inPool;
    if (this.slab) this.slab.pooledBytes += (inPool ? 1 : -1) * (this.bytes.length + 32);
  }

  /**
   * Whether the bytes sit in a slab that pooled transactions hold less than a quarter of (not the slab
   * being filled): kept alive mostly for them, a waste the pool ends with `settle`.
   */
  get inSparseSlab(): boolean {
    return this.slab !== undefined && this.slab !== currentSlab && this.slab.pooledBytes * 4 < SLAB_BYTES;
  }

  /** Moves the bytes (and hash) out of their shared slab to memory of their own; the same values. */
  settle(): void {
    if (!this.slab) return;
    const own = new Uint8Array(this.bytes.length + 32);
    own.set(this.bytes);
    own.set(this.hash, this.bytes.length);
    if (this.inPool) this.slab.pooledBytes -= this.bytes.length + 32;
    this.slab = undefined;
    // The decoded fields are views of the old bytes: rebuilt from the new ones when next asked for.
    this.decoded = undefined;
    this.bytes = own.subarray(0, this.bytes.length);
    this.hash = own.subarray(this.bytes.length);
  }

  /** The decoded fields (byte fields are views into `bytes`). */
  get tx(): Transaction {
    return (this.decoded ??= this.decodeFields());
  }

  // Offsets, from the layout: chainId ‖ sender ‖ nonce ‖ validUntilBlock ‖ contract ‖ method ‖ args ‖ scheme ‖ publicKey ‖ signature.
  private get senderAt(): number { return 4 + this.chainIdLength; }
  private get methodAt(): number { return this.senderAt + 84; }
  private get schemeAt(): number { return this.methodAt + this.methodLength + 4 + this.argsLength; }
  private get signatureLengthAt(): number { return this.schemeAt + 5 + this.publicKeyLength; }

  /** Whether the chain id's bytes are exactly `utf8` (no decoding: the same answer as comparing the decoded string). */
  chainIdBytesAre(utf8: Uint8Array): boolean {
    if (this.chainIdLength !== utf8.length) return false;
    for (let i = 0; i < utf8.length; i++) if (this.bytes[4 + i] !== utf8[i]) return false;
    return true;
  }

  get chainId(): string { return this.decoded?.chainId ?? utf8At(this.bytes, 4, this.chainIdLength); }
  get sender(): Uint8Array { return this.decoded?.sender ?? this.bytes.subarray(this.senderAt, this.senderAt + 32); }
  get validUntilBlock(): bigint { return this.decoded?.validUntilBlock ?? u64At(this.bytes, this.senderAt + 40); }
  get contract(): Uint8Array { return this.decoded?.contract ?? this.bytes.subarray(this.senderAt + 48, this.senderAt + 80); }
  get method(): string { return this.decoded?.method ?? utf8At(this.bytes, this.methodAt, this.methodLength); }
  get args(): Uint8Array { return this.decoded?.args ?? this.bytes.subarray(this.methodAt + this.methodLength + 4, this.schemeAt); }
  get scheme(): number { return this.bytes[this.schemeAt]!; }
  get publicKey(): Uint8Array { return this.decoded?.publicKey ?? this.bytes.subarray(this.schemeAt + 5, this.signatureLengthAt); }
  get signature(): Uint8Array { return this.decoded?.signature ?? this.bytes.subarray(this.signatureLengthAt + 4); }

  private decodeFields(): Transaction {
    const b = this.bytes, s = this.senderAt, m = this.methodAt, k = this.schemeAt;
    return {
      chainId: utf8At(b, 4, this.chainIdLength), sender: b.subarray(s, s + 32), nonce: u64At(b, s + 32), validUntilBlock: u64At(b, s + 40),
      contract: b.subarray(s + 48, s + 80), method: utf8At(b, m, this.methodLength), args: b.subarray(m + this.methodLength + 4, k),
      scheme: b[k]!, publicKey: b.subarray(k + 5, this.signatureLengthAt), signature: b.subarray(this.signatureLengthAt + 4),
    };
  }

  /** Whether this node runs the transaction's signature scheme (signatureCheck is defined). */
  get checkable(): boolean {
    return this.scheme === SCHEME_ED25519;
  }

  /** The (public key, message, signature) a verifier checks; undefined for a scheme this node does not run. */
  signatureCheck(): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } | undefined {
    if (!this.checkable) return undefined;
    return { publicKey: this.publicKey, message: this.signedBytes(), signature: this.signature };
  }

  /**
   * signingPayload(tx), taken from the canonical bytes: the signature is the last field (u32 length,
   * then its bytes), so everything before it is exactly the encoded payload fields.
   */
  private signedBytes(): Uint8Array {
    const body = this.bytes.subarray(0, this.signatureLengthAt);
    const out = pooledBytes(TX_DOMAIN.length + body.length);
    out.set(TX_DOMAIN);
    out.set(body, TX_DOMAIN.length);
    return out;
  }

  /** Checks the signature inline (the node batches checks over worker threads instead). */
  verifySignature(): void {
    const check = this.signatureCheck();
    if (!check) throw new TxError('TX_UNSUPPORTED_SCHEME', `signature scheme ${this.scheme} is not supported by this node`);
    if (!verifyEd25519Cofactored(check.publicKey, check.message, check.signature)) throw new TxError('TX_BAD_SIGNATURE', 'the signature does not match the transaction and public key');
  }
}

/**
 * Memory for decoded transactions: 64 KiB slabs carved in order, ~150 transactions each. A typed array
 * with a backing store of its own costs ~1.3 µs here to allocate and collect; a view of a slab ~0.05.
 * A slab stays alive while any transaction in it does: the pool settles (copies out) the transactions
 * of slabs it holds little of (SignedTx.inSparseSlab), so pooled bytes pin at most ~4x their size.
 * Large transactions get memory of their own.
 */
const SLAB_BYTES = 64 << 10;

class TxSlab {
  readonly memory = new Uint8Array(SLAB_BYTES);
  used = 0;
  /** Bytes of this slab that pooled transactions hold. */
  pooledBytes = 0;
}

let currentSlab: TxSlab | undefined;

function txMemory(n: number): { memory: Uint8Array; slab: TxSlab | undefined } {
  if (n > SLAB_BYTES >> 4) return { memory: new Uint8Array(n), slab: undefined };
  if (currentSlab === undefined || currentSlab.used + n > SLAB_BYTES) currentSlab = new TxSlab();
  const slab = currentSlab;
  const memory = slab.memory.subarray(slab.used, slab.used + n);
  slab.used += (n + 7) & ~7;
  return { memory, slab };
}

/** A transaction's bytes checked and copied, with 32 bytes after them for its hash. */
function checkedCopy(bytes: Uint8Array, limits: TxLimits): { copy: Uint8Array; length: number; layout: Layout; slab: TxSlab | undefined } {
  if (bytes.length > limits.maxTxBytes) throw new TxError('TX_TOO_LARGE', `transaction of ${bytes.length} bytes exceeds ${limits.maxTxBytes}`);
  const { memory: copy, slab } = txMemory(bytes.length + 32);
  copy.set(bytes);
  const layout = decodeLayout(copy.subarray(0, bytes.length));
  if (layout.method > limits.maxMethodBytes || layout.method === 0) throw new TxError('TX_MALFORMED', `method must be 1 to ${limits.maxMethodBytes} bytes`);
  if (layout.chainId > limits.maxChainIdBytes) throw new TxError('TX_MALFORMED', `chain id above ${limits.maxChainIdBytes} bytes`);
  return { copy, length: bytes.length, layout, slab };
}

/** A 'binary' (latin1) digest string's bytes at `at`. */
function writeDigest(out: Uint8Array, at: number, digest: string): void {
  for (let i = 0; i < 32; i++) out[at + i] = digest.charCodeAt(i);
}

const hashes = new HashBatch();

/** The byte lengths of a transaction's variable fields. */
interface Layout { chainId: number; method: number; args: number; publicKey: number }

/** ignoreBOM: a leading U+FEFF is a character of the string like any other (by default it is dropped, and two byte strings would decode to one string). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes checked to be UTF-8 by decodeLayout, as a string: exactly the bytes' characters. */
function utf8At(b: Uint8Array, at: number, length: number): string {
  return strictUtf8.decode(b.subarray(at, at + length));
}

function u32At(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

function u64At(b: Uint8Array, at: number): bigint {
  const lo = u32At(b, at), hi = u32At(b, at + 4);
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * A cursor over the transaction being checked. Checking is synchronous and not re-entrant, so one
 * module-level cursor serves every call (no closures per transaction).
 */
const cursor: { b: Uint8Array; at: number } = { b: new Uint8Array(0), at: 0 };

function need(n: number, field: string): void {
  if (n > cursor.b.length - cursor.at) throw new TxError('TX_MALFORMED', `${field}: unexpected end of data`);
}

function skip(n: number, field: string): void {
  need(n, field);
  cursor.at += n;
}

/** A u32 length and that many bytes; returns the length. */
function sized(field: string): number {
  need(4, field);
  const n = u32At(cursor.b, cursor.at);
  cursor.at += 4;
  skip(n, field);
  return n;
}

function text(field: string): number {
  const n = sized(field);
  if (!isUtf8(cursor.b.subarray(cursor.at - n, cursor.at))) throw new TxError('TX_MALFORMED', `${field}: string is not valid UTF-8`);
  return n;
}

/**
 * Checks that `b` is the Transaction struct of encoding.ts, with the codec's strictness (u32 lengths
 * that must fit, UTF-8 that must be valid, no trailing bytes), and returns its layout.
 */
function decodeLayout(b: Uint8Array): Layout {
  cursor.b = b;
  cursor.at = 0;
  try {
    const chainId = text('chainId');
    skip(32, 'sender');
    skip(8, 'nonce');
    skip(8, 'validUntilBlock');
    skip(32, 'contract');
    const method = text('method');
    const args = sized('args');
    skip(1, 'scheme');
    const publicKey = sized('publicKey');
    sized('signature');
    if (cursor.at !== b.length) throw new TxError('TX_MALFORMED', `${b.length - cursor.at} trailing bytes after the last value`);
    return { chainId, method, args, publicKey };
  } finally {
    cursor.b = EMPTY_BYTES; // holds no transaction after the call
  }
}

const EMPTY_BYTES = new Uint8Array(0);
