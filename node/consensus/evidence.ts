/**
 * Evidence of equivocation: two statements one validator signed for one height and round (two votes
 * of one type, or two proposals) that name different blocks. Each statement carries its public key and
 * signature, so anyone holding the chain id can check the pair without trusting the node that kept it
 * (verifyEquivocation): what a governance vote to remove the validator, or a regulator, relies on.
 */
import { accountAddress } from '../../contracts/system/index.ts';
import { verifyEd25519 } from '../crypto/ed25519.ts';
import { NIL_BLOCK, PRECOMMIT, PREVOTE, proposalPayload, votePayload } from '../chain/block.ts';
import { equalBytes, fromHex, hex } from '../chain/hash.ts';

/** A signed statement of a validator: a vote (block null: a vote for no block), or a proposal of a block. */
export type SignedStatement = {
  height: bigint;
  round: number;
  /** The block's hash (hex, no 0x); null for a nil vote. */
  block: string | null;
  /** The validator's account address (hex, no 0x). */
  validator: string;
  /** Ed25519 public key and signature (hex, no 0x). */
  publicKey: string;
  signature: string;
} & ({ type: 'prevote' | 'precommit' } | { type: 'proposal'; validRound: number });

/** Two conflicting statements of one validator for one height and round (and vote type). */
export interface Equivocation { first: SignedStatement; second: SignedStatement }

/** A block as statements name it: 64 lower-case hex digits, no 0x (null, not zeros, is the nil vote). */
const BLOCK_ID = /^[0-9a-f]{64}$/;

/** The bytes the validator signed for `s` (the payloads of chain/block.ts). */
export function statementPayload(chainId: string, s: SignedStatement): Uint8Array {
  const blockHash = s.block === null ? NIL_BLOCK : BLOCK_ID.test(s.block) ? fromHex(s.block, 32) : undefined;
  if (!blockHash || (s.block !== null && equalBytes(blockHash, NIL_BLOCK))) throw new RangeError('a statement\'s block is 64 lower-case hex digits (not all zero), or null for a nil vote');
  if (s.type === 'proposal') return proposalPayload(chainId, s.height, s.round, s.validRound, blockHash);
  return votePayload(chainId, s.type === 'prevote' ? PREVOTE : PRECOMMIT, s.height, s.round, blockHash);
}

/**
 * Whether `e` proves equivocation on chain `chainId`: one validator (its address is its key's), one
 * height, round and kind of statement, two different blocks, and both signatures valid. Whether the
 * validator was in the validator set at that height is for the caller to check against the chain.
 */
export function verifyEquivocation(chainId: string, e: Equivocation): boolean {
  const { first: a, second: b } = e;
  if (a.type !== b.type || a.height !== b.height || a.round !== b.round || a.validator !== b.validator || a.block === b.block) return false;
  if (a.type === 'proposal' && (a.block === null || b.block === null)) return false;
  const payloads: Uint8Array[] = [];
  for (const s of [a, b]) {
    const publicKey = fromHex(s.publicKey, 32), signature = fromHex(s.signature, 64);
    if (!publicKey || !signature || hex(accountAddress(publicKey)) !== s.validator) return false;
    let payload: Uint8Array;
    try {
      payload = statementPayload(chainId, s);
    } catch {
      return false;
    }
    if (!verifyEd25519(publicKey, payload, signature)) return false;
    payloads.push(payload);
  }
  // Two spellings of one statement are not two statements: what was signed must differ.
  return !equalBytes(payloads[0]!, payloads[1]!);
}

/** Evidence as JSON (RPC, the evidence file): heights as numbers, as everywhere in the RPC. */
export function evidenceJson(e: Equivocation): unknown {
  return JSON.parse(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
}

/** The inverse of evidenceJson, for evidence read back (a file, an RPC answer; heights as numbers or decimal strings); throws RangeError on a malformed entry. */
export function evidenceFromJson(j: unknown): Equivocation {
  const statement = (s: unknown): SignedStatement => {
    const o = s as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw new RangeError('a statement is an object');
    const height = typeof o.height === 'string' && /^\d{1,20}$/.test(o.height) ? BigInt(o.height) : typeof o.height === 'number' && Number.isSafeInteger(o.height) ? BigInt(o.height) : undefined;
    if (height === undefined || !Number.isSafeInteger(o.round) || (o.block !== null && typeof o.block !== 'string')) throw new RangeError('a statement has a height, a round and a block');
    for (const f of ['validator', 'publicKey', 'signature'] as const) if (typeof o[f] !== 'string') throw new RangeError(`a statement's ${f} is hex`);
    const base = { height, round: o.round as number, block: o.block as string | null, validator: o.validator as string, publicKey: o.publicKey as string, signature: o.signature as string };
    if (o.type === 'proposal') {
      if (!Number.isSafeInteger(o.validRound)) throw new RangeError('a proposal has a validRound');
      return { ...base, type: 'proposal', validRound: o.validRound as number };
    }
    if (o.type !== 'prevote' && o.type !== 'precommit') throw new RangeError('a statement is a prevote, a precommit or a proposal');
    return { ...base, type: o.type };
  };
  const o = j as { first?: unknown; second?: unknown };
  if (typeof o !== 'object' || o === null) throw new RangeError('evidence is {first, second}');
  return { first: statement(o.first), second: statement(o.second) };
}
