/**
 * A holder's proof of inclusion in a custodian's holdings commitment (SPEC V5): the file a custodian
 * hands each holder, and its offline check against a verified holdings-commitment bundle. The tree is
 * the voucher contract's (contracts/system/voucher/holdings.ts); a holder appears under
 * holderDigest(salt, account), the salt being the holder's own, so the published tree reveals no
 * account and no holder can test guesses about the others. Browser-safe.
 */
import { type ProofStep, holderDigest, holdingRoot } from '../../contracts/system/voucher/holdings.ts';
import { ProofError } from './errors.ts';
import { type Json, array, bad, boolean, bytes, decimal, equalBytes, object, string, toHex } from './json.ts';
import type { VerifiedBundle } from './verify.ts';

export const HOLDING_FORMAT = 'brop-holding-proof';
export const HOLDING_VERSION = 1;

export interface HoldingProof {
  voucher: bigint;
  custodian: Uint8Array;
  /** The holder's account with the custodian (its own id, never published) and its salt. */
  account: string;
  salt: string;
  amount: bigint;
  steps: ProofStep[];
  root: Uint8Array;
  total: bigint;
  leafCount: bigint;
}

export function holdingJson(h: HoldingProof): { [k: string]: Json } {
  return {
    format: HOLDING_FORMAT, version: HOLDING_VERSION, voucher: h.voucher.toString(), custodian: toHex(h.custodian),
    holder: { account: h.account, salt: h.salt, digest: toHex(holderDigest(h.salt, h.account)) },
    amount: h.amount.toString(),
    steps: h.steps.map((s) => ({ hash: toHex(s.hash), sum: s.sum.toString(), left: s.left })),
    root: toHex(h.root), total: h.total.toString(), leafCount: h.leafCount.toString(),
  };
}

export function holdingText(h: HoldingProof): string {
  return `${JSON.stringify(holdingJson(h), null, 2)}\n`;
}

function parseHolding(v: unknown): HoldingProof {
  const top = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || top.format !== HOLDING_FORMAT) bad('format', `not a ${HOLDING_FORMAT}`, 'PROOF_MALFORMED');
  if (top.version !== HOLDING_VERSION) throw new ProofError('PROOF_VERSION', `holding proof version ${JSON.stringify(top.version)} is not supported`, 'version');
  const o = object(v, '', ['format', 'version', 'voucher', 'custodian', 'holder', 'amount', 'steps', 'root', 'total', 'leafCount']);
  const holder = object(o.holder, 'holder', ['account', 'salt', 'digest']);
  const account = string(holder.account, 'holder.account', 1024), salt = string(holder.salt, 'holder.salt', 1024);
  if (!equalBytes(bytes(holder.digest, 'holder.digest', 32), holderDigest(salt, account))) bad('holder.digest', 'not the digest of this account and salt', 'PROOF_HOLDING');
  return {
    voucher: decimal(o.voucher, 'voucher', 64), custodian: bytes(o.custodian, 'custodian', 32), account, salt,
    amount: decimal(o.amount, 'amount', 128),
    steps: array(o.steps, 'steps', 128).map((s, i) => {
      const so = object(s, `steps[${i}]`, ['hash', 'sum', 'left']);
      return { hash: bytes(so.hash, `steps[${i}].hash`, 32), sum: decimal(so.sum, `steps[${i}].sum`, 128), left: boolean(so.left, `steps[${i}].left`) };
    }),
    root: bytes(o.root, 'root', 32), total: decimal(o.total, 'total', 128), leafCount: decimal(o.leafCount, 'leafCount', 64),
  };
}

export interface VerifiedHolding {
  ok: true;
  voucher: string;
  custodian: string;
  account: string;
  digest: string;
  amount: string;
  /** The committed total and root the holding is part of, and the block that proves them. */
  total: string;
  root: string;
  height: number;
}

/**
 * Checks a holder's inclusion proof (its text or parsed JSON) against a verified holdings-commitment
 * bundle: the same voucher and custodian, and the leaf with its steps leads to the committed root and
 * total. PROOF_HOLDING when it does not.
 */
export function verifyHoldingProof(input: string | object, commitment: VerifiedBundle): VerifiedHolding {
  let v: unknown = input;
  if (typeof input === 'string') {
    try {
      v = JSON.parse(input);
    } catch (e) {
      bad('', `not JSON: ${(e as Error).message}`, 'PROOF_MALFORMED');
    }
  }
  const h = parseHolding(v);
  const c = commitment.holdings;
  if (commitment.kind !== 'holdings-commitment' || !c) bad('', 'a holding is checked against a holdings-commitment bundle', 'PROOF_HOLDING');
  if (h.voucher.toString() !== c.voucher) bad('voucher', `the holding is in voucher ${h.voucher}, the commitment in ${c.voucher}`, 'PROOF_HOLDING');
  if (toHex(h.custodian) !== c.custodian) bad('custodian', 'the holding is with another custodian than the commitment\'s', 'PROOF_HOLDING');
  if (toHex(h.root) !== c.root || h.total.toString() !== c.total || h.leafCount.toString() !== c.leafCount) {
    bad('root', 'the holding was made for another tree than the one committed on chain (root, total or leaf count differ)', 'PROOF_HOLDING');
  }
  const digest = holderDigest(h.salt, h.account);
  let got: { root: Uint8Array; total: bigint };
  try {
    got = holdingRoot({ holder: digest, amount: h.amount }, h.steps);
  } catch (e) {
    if (e instanceof RangeError) bad('steps', e.message, 'PROOF_HOLDING');
    throw e;
  }
  if (!equalBytes(got.root, h.root) || got.total !== h.total) bad('steps', 'the leaf and its steps do not lead to the committed root and total', 'PROOF_HOLDING');
  if (typeof input === 'string' && input !== holdingText(h)) bad('', 'the text is not the holding proof\'s canonical form', 'PROOF_NOT_CANONICAL');
  return { ok: true, voucher: c.voucher, custodian: c.custodian, account: h.account, digest: toHex(digest), amount: h.amount.toString(), total: c.total, root: c.root, height: commitment.block.height };
}
