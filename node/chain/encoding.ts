/**
 * The chain's canonical encodings, without hashing: headers, blocks, receipts, commit certificates,
 * validator sets and the payloads validators sign. Browser-safe (no node: imports, no Buffer), so the
 * offline proof verifier (middleware/proofs) encodes exactly what the node encodes. block.ts adds the
 * hashes (node:crypto); certificate.ts checks commit certificates with injected crypto.
 */
import { type AbiType, type StructTable, CodecError, decode, encode } from '../../contracts/sdk/codec.ts';

export interface BlockHeader {
  chainId: string;
  height: bigint;
  /** Milliseconds since the epoch, as the proposer's clock gave it (never below the previous block's). */
  time: bigint;
  prevHash: Uint8Array;
  /**
   * Merkle root (merkle.ts) of the transactions' hashes (sha256 of each one's canonical bytes), so that
   * a list of hashes is checked against it without the transactions (compact proposals).
   */
  txRoot: Uint8Array;
  /** Root of the authenticated state after executing this block. */
  stateRoot: Uint8Array;
  /** Merkle root of the receipts' canonical bytes. */
  receiptsRoot: Uint8Array;
  /** Address of the validator that proposed the block. */
  proposer: Uint8Array;
  /** validatorSetHash() of the validators that sign this block. */
  validatorSetHash: Uint8Array;
  /**
   * validatorSetHash() of the validators that sign the next block (governance may change the set in
   * this block): a verifier holding this block's set follows changes from certified headers alone.
   */
  nextValidatorSetHash: Uint8Array;
  /** sha256 of the encoding of the parent's commit the block carries (Block.lastCommit). */
  lastCommitHash: Uint8Array;
}

export interface ReceiptEvent {
  contract: Uint8Array;
  topics: Uint8Array[];
  data: Uint8Array;
}

export const RECEIPT_OK = 1;
export const RECEIPT_FAILED = 0;

/** What executing a transaction did. Everything in it is deterministic: it is hashed into the header. */
export interface Receipt {
  txHash: Uint8Array;
  status: number;
  /** "" on success; else the error code, with the contract's own words for a revert or abort. */
  error: string;
  gasUsed: bigint;
  quotaCharged: bigint;
  events: ReceiptEvent[];
}

export interface CommitSignature {
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/** More than 2/3 of the validators' signatures on the block's hash: finality, checkable from the block alone. */
export interface Commit {
  height: bigint;
  round: number;
  blockHash: Uint8Array;
  signatures: CommitSignature[];
}

export interface Block {
  header: BlockHeader;
  /** Canonical transaction bytes. */
  txs: Uint8Array[];
  /**
   * The parent block's commit as this block's proposer gathered it (a valid certificate, checked by
   * every node; block 1 carries genesis's, which has no signatures): whose precommits it holds is what
   * governance judges validators' liveness by.
   */
  lastCommit: Commit;
}

const b32: AbiType = 'bytes32';
export const CHAIN_STRUCTS: StructTable = {
  BlockHeader: [
    { name: 'chainId', type: 'string' }, { name: 'height', type: 'u64' }, { name: 'time', type: 'u64' },
    { name: 'prevHash', type: b32 }, { name: 'txRoot', type: b32 }, { name: 'stateRoot', type: b32 },
    { name: 'receiptsRoot', type: b32 }, { name: 'proposer', type: b32 }, { name: 'validatorSetHash', type: b32 },
    { name: 'nextValidatorSetHash', type: b32 }, { name: 'lastCommitHash', type: b32 },
  ],
  Block: [{ name: 'header', type: { struct: 'BlockHeader' } }, { name: 'txs', type: { array: 'bytes' } }, { name: 'lastCommit', type: { struct: 'Commit' } }],
  ReceiptEvent: [{ name: 'contract', type: b32 }, { name: 'topics', type: { array: 'bytes' } }, { name: 'data', type: 'bytes' }],
  Receipt: [
    { name: 'txHash', type: b32 }, { name: 'status', type: 'u8' }, { name: 'error', type: 'string' },
    { name: 'gasUsed', type: 'u64' }, { name: 'quotaCharged', type: 'u64' }, { name: 'events', type: { array: { struct: 'ReceiptEvent' } } },
  ],
  CommitSignature: [{ name: 'publicKey', type: 'bytes' }, { name: 'signature', type: 'bytes' }],
  Commit: [
    { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'blockHash', type: b32 },
    { name: 'signatures', type: { array: { struct: 'CommitSignature' } } },
  ],
  Receipts: [{ name: 'items', type: { array: { struct: 'Receipt' } } }],
  ValidatorSet: [{ name: 'addresses', type: { array: b32 } }],
};

const enc = (name: string, v: unknown) => encode({ struct: name }, v, CHAIN_STRUCTS);
const dec = <T>(name: string, bytes: Uint8Array) => decode({ struct: name }, bytes, CHAIN_STRUCTS) as T;

export const encodeHeader = (h: BlockHeader) => enc('BlockHeader', h);
export const decodeHeader = (b: Uint8Array) => dec<BlockHeader>('BlockHeader', b);
export const encodeBlock = (b: Block) => enc('Block', b);
export const decodeBlock = (b: Uint8Array) => dec<Block>('Block', b);
const utf8 = new TextEncoder();
const U64_END = 1n << 64n;
const EMPTY_BYTES = new Uint8Array(0);

/**
 * enc('Receipt', r), written out: every block encodes each of its receipts, and the generic codec's
 * walk over the struct table cost several times this (a test compares the two on random receipts).
 */
export function encodeReceipt(r: Receipt, alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n)): Uint8Array {
  const error = r.error === '' ? EMPTY_BYTES : utf8.encode(r.error);
  let n = 32 + 1 + 4 + error.length + 16 + 4;
  for (const e of r.events) {
    n += 32 + 4 + 4 + e.data.length;
    for (const t of e.topics) n += 4 + t.length;
  }
  const out = alloc(n);
  let at = bytes32Into(out, 0, r.txHash, 'txHash');
  if (!Number.isInteger(r.status) || r.status < 0 || r.status > 255) throw new CodecError(`Receipt.status: ${r.status} is out of range for u8`);
  out[at++] = r.status;
  at = sizedInto(out, at, error);
  at = u64Into(out, at, r.gasUsed, 'gasUsed');
  at = u64Into(out, at, r.quotaCharged, 'quotaCharged');
  at = u32Into(out, at, r.events.length);
  for (const e of r.events) {
    at = bytes32Into(out, at, e.contract, 'events.contract');
    at = u32Into(out, at, e.topics.length);
    for (const t of e.topics) at = sizedInto(out, at, t);
    at = sizedInto(out, at, e.data);
  }
  return out;
}

function u32Into(out: Uint8Array, at: number, v: number): number {
  out[at] = v;
  out[at + 1] = v >>> 8;
  out[at + 2] = v >>> 16;
  out[at + 3] = v >>> 24;
  return at + 4;
}

function u64Into(out: Uint8Array, at: number, v: bigint, what: string): number {
  if (typeof v !== 'bigint' || v < 0n || v >= U64_END) throw new CodecError(`Receipt.${what}: ${String(v)} is out of range for u64`);
  // Below 2^53 (every gas and quota figure in practice) without BigInt arithmetic.
  if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const x = Number(v);
    u32Into(out, at, x >>> 0);
    return u32Into(out, at + 4, Math.floor(x / 2 ** 32));
  }
  u32Into(out, at, Number(v & 0xffffffffn));
  return u32Into(out, at + 4, Number(v >> 32n));
}

function bytes32Into(out: Uint8Array, at: number, b: Uint8Array, what: string): number {
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new CodecError(`Receipt.${what}: expected 32 bytes`);
  out.set(b, at);
  return at + 32;
}

function sizedInto(out: Uint8Array, at: number, b: Uint8Array): number {
  at = u32Into(out, at, b.length);
  out.set(b, at);
  return at + b.length;
}

/** encodeReceipt through the generic codec: what the written-out encoder must equal. */
export const encodeReceiptByCodec = (r: Receipt) => enc('Receipt', r);
export const decodeReceipt = (b: Uint8Array) => dec<Receipt>('Receipt', b);
export const encodeReceipts = (items: Receipt[]) => enc('Receipts', { items });
export const decodeReceipts = (b: Uint8Array) => dec<{ items: Receipt[] }>('Receipts', b).items;
/** encodeReceipts(items) from the items' own encodings (the Receipts struct: a u32 count, then each Receipt's encoding). */
export function joinReceipts(encoded: readonly Uint8Array[]): Uint8Array {
  let n = 4;
  for (const e of encoded) n += e.length;
  const out = new Uint8Array(n);
  new DataView(out.buffer).setUint32(0, encoded.length, true);
  let at = 4;
  for (const e of encoded) {
    out.set(e, at);
    at += e.length;
  }
  return out;
}
/**
 * Where each receipt of a Receipts record (joinReceipts) starts, and last where the record ends: one
 * receipt is then decoded without the others (decodeReceipt of its range). CodecError if the record
 * does not parse as receipts.
 */
export function receiptOffsets(joined: Uint8Array): Uint32Array {
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > joined.length) throw new CodecError('Receipts: truncated');
    const v = (joined[at]! | (joined[at + 1]! << 8) | (joined[at + 2]! << 16)) + joined[at + 3]! * 0x1000000;
    at += 4;
    return v;
  };
  const skip = (n: number): void => {
    if (n > joined.length - at) throw new CodecError('Receipts: truncated');
    at += n;
  };
  const count = u32();
  if (count > joined.length) throw new CodecError(`Receipts: ${count} receipts cannot fit in ${joined.length} bytes`);
  const starts = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    skip(32 + 1); // txHash, status
    skip(u32()); // error
    skip(16); // gasUsed, quotaCharged
    for (let e = u32(); e > 0; e--) {
      skip(32); // contract
      for (let t = u32(); t > 0; t--) skip(u32());
      skip(u32()); // data
    }
  }
  if (at !== joined.length) throw new CodecError('Receipts: trailing bytes');
  starts[count] = at;
  return starts;
}
export const encodeCommit = (c: Commit) => enc('Commit', c);
export const decodeCommit = (b: Uint8Array) => dec<Commit>('Commit', b);

/** Bytewise order (shorter first on a common prefix), as Buffer.compare orders. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * What a validator set's hash is taken over: its addresses, sorted bytewise, so that the order of
 * listing does not matter (validatorSetHash = sha256 of this).
 */
export function validatorSetEncoding(addresses: readonly Uint8Array[]): Uint8Array {
  return enc('ValidatorSet', { addresses: [...addresses].sort(compareBytes) });
}

export const VOTE_DOMAIN = new TextEncoder().encode('brop:vote:v1\0');
export const PROPOSAL_DOMAIN = new TextEncoder().encode('brop:proposal:v1\0');
export const PLAN_DOMAIN = new TextEncoder().encode('brop:plan:v1\0');
export const PREVOTE = 1;
export const PRECOMMIT = 2;
/** The block hash a vote for no block ("nil") carries. */
export const NIL_BLOCK = new Uint8Array(32);

function domainPayload(domain: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(domain.length + body.length);
  out.set(domain);
  out.set(body, domain.length);
  return out;
}

/**
 * The bytes a validator signs to vote: domain, chain id, vote type (1 prevote, 2 precommit), height,
 * round and block hash (zeros: no block). A commit certificate is a quorum of precommit signatures.
 */
export function votePayload(chainId: string, type: number, height: bigint, round: number, blockHash: Uint8Array): Uint8Array {
  return domainPayload(VOTE_DOMAIN, encode({ struct: 'Vote' }, { chainId, type, height, round, blockHash }, VOTE_STRUCTS));
}

export function precommitPayload(chainId: string, height: bigint, round: number, blockHash: Uint8Array): Uint8Array {
  return votePayload(chainId, PRECOMMIT, height, round, blockHash);
}

/** The bytes a proposer signs for a proposal: domain, chain id, height, round, valid round (-1: none) and block hash. */
export function proposalPayload(chainId: string, height: bigint, round: number, validRound: number, blockHash: Uint8Array): Uint8Array {
  return domainPayload(PROPOSAL_DOMAIN, encode({ struct: 'ProposalSig' }, { chainId, height, round, validRound, blockHash }, VOTE_STRUCTS));
}

/**
 * The bytes a proposer signs for a block plan (what it is about to execute into its proposal): domain,
 * chain id, height, round, block time, the hash of the planned transactions' hashes (concatenated, in
 * order) and the hash of the encoded commit the block will carry. See planSigningPayload (block.ts).
 */
export function planPayload(chainId: string, height: bigint, round: number, time: bigint, txListHash: Uint8Array, lastCommitHash: Uint8Array): Uint8Array {
  return domainPayload(PLAN_DOMAIN, encode({ struct: 'PlanSig' }, { chainId, height, round, time, txListHash, lastCommitHash }, VOTE_STRUCTS));
}

const VOTE_STRUCTS: StructTable = {
  PlanSig: [{ name: 'chainId', type: 'string' }, { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'time', type: 'u64' }, { name: 'txListHash', type: b32 }, { name: 'lastCommitHash', type: b32 }],
  ProposalSig: [{ name: 'chainId', type: 'string' }, { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'validRound', type: 'i32' }, { name: 'blockHash', type: b32 }],
  Vote: [{ name: 'chainId', type: 'string' }, { name: 'type', type: 'u8' }, { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'blockHash', type: b32 }],
};
