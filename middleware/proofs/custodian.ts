/**
 * Proof of holdings for a custodian (SPEC V5), node side: from a list of holders and amounts, build
 * the holdings tree exactly as the voucher contract's verifyHolding checks it (each holder under its
 * own salted digest, leaves in digest order so the tree leaks no sign-up order), write each holder's
 * inclusion proof, and publish the commitment with a commitHoldings transaction.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HoldingsTree, holderDigest, U128_MAX } from '../../contracts/system/voucher/holdings.ts';
import { encodeValues, type AbiType, type StructTable } from '../../contracts/sdk/codec.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { encodeTransaction, signTransaction } from '../../node/tx/transaction.ts';
import type { KeyPair } from '../../node/keys/key-file.ts';
import type { ContractAbi } from '../../tooling/build/contract.ts';
import { type HoldingProof, holdingText } from './holding.ts';
import { bytes, toHex, type Json } from './json.ts';
import type { RpcLike } from './build.ts';

export class CustodianError extends Error {
  readonly code: 'HOLDINGS_INPUT' | 'HOLDINGS_TX_FAILED';
  constructor(code: CustodianError['code'], message: string) {
    super(message);
    this.name = 'CustodianError';
    this.code = code;
  }
}

export interface HolderEntry { account: string; amount: bigint }

/** A holders list: a JSON array of {account, amount} or CSV lines `account,amount` (an `account,amount` header is allowed). */
export function parseHolders(text: string): HolderEntry[] {
  const trimmed = text.trim();
  let rows: Array<{ account: unknown; amount: unknown }>;
  if (trimmed.startsWith('[')) {
    try {
      rows = JSON.parse(trimmed);
    } catch (e) {
      throw new CustodianError('HOLDINGS_INPUT', `holders list is not JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new CustodianError('HOLDINGS_INPUT', 'a JSON holders list is an array of {account, amount}');
  } else {
    rows = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '').map((l) => {
      const i = l.lastIndexOf(',');
      return i < 0 ? { account: l, amount: undefined } : { account: l.slice(0, i).trim(), amount: l.slice(i + 1).trim() };
    });
    if (rows[0]?.account === 'account' && rows[0]?.amount === 'amount') rows.shift();
  }
  const seen = new Set<string>();
  return rows.map((r, i) => {
    const account = r?.account, amount = r?.amount;
    if (typeof account !== 'string' || account.length === 0 || account.length > 1024) throw new CustodianError('HOLDINGS_INPUT', `holder ${i + 1}: account must be 1 to 1024 characters`);
    if (seen.has(account)) throw new CustodianError('HOLDINGS_INPUT', `holder ${i + 1}: account ${JSON.stringify(account)} is listed twice`);
    seen.add(account);
    const text = typeof amount === 'number' && Number.isSafeInteger(amount) ? String(amount) : amount;
    if (typeof text !== 'string' || !/^(0|[1-9][0-9]*)$/.test(text) || BigInt(text) > U128_MAX) throw new CustodianError('HOLDINGS_INPUT', `holder ${i + 1}: amount must be a whole number of at most 128 bits`);
    return { account, amount: BigInt(text) };
  });
}

export interface BuiltHoldings {
  voucher: bigint;
  custodian: Uint8Array;
  root: Uint8Array;
  total: bigint;
  leafCount: number;
  /** One per holder, in tree order. */
  proofs: HoldingProof[];
}

/** Builds the tree and every holder's proof; `salt` makes each holder's salt (default: 16 random bytes as hex). */
export function buildHoldings(holders: readonly HolderEntry[], opts: { voucher: bigint; custodian: Uint8Array; salt?: () => string }): BuiltHoldings {
  if (holders.length === 0) throw new CustodianError('HOLDINGS_INPUT', 'a holdings commitment needs at least one holder');
  const salt = opts.salt ?? (() => randomBytes(16).toString('hex'));
  const leaves = holders.map((h) => {
    const s = salt();
    return { ...h, salt: s, digest: holderDigest(s, h.account) };
  }).sort((a, b) => Buffer.compare(a.digest, b.digest));
  let tree: HoldingsTree;
  try {
    tree = new HoldingsTree(leaves.map((l) => ({ holder: l.digest, amount: l.amount })));
  } catch (e) {
    throw new CustodianError('HOLDINGS_INPUT', (e as Error).message);
  }
  const proofs = leaves.map((l, i): HoldingProof => ({
    voucher: opts.voucher, custodian: opts.custodian, account: l.account, salt: l.salt, amount: l.amount,
    steps: tree.proof(i), root: tree.root, total: tree.total, leafCount: BigInt(tree.leafCount),
  }));
  return { voucher: opts.voucher, custodian: opts.custodian, root: tree.root, total: tree.total, leafCount: tree.leafCount, proofs };
}

export function commitmentJson(h: BuiltHoldings): { [k: string]: Json } {
  return { voucher: h.voucher.toString(), custodian: toHex(h.custodian), root: toHex(h.root), total: h.total.toString(), leafCount: h.leafCount };
}

function writeAtomic(path: string, text: string, mode?: number): void {
  writeFileSync(`${path}.tmp`, text, { mode });
  renameSync(`${path}.tmp`, path);
}

/**
 * Writes DIR/commitment.json (public: what goes on chain), DIR/holders/NAME.json (one per holder, to
 * hand to that holder only) and DIR/holders.private.json (every account, salt and amount: the
 * custodian's own record, mode 0600). Returns the holder files by account.
 */
export function writeHoldings(dir: string, h: BuiltHoldings): Map<string, string> {
  mkdirSync(join(dir, 'holders'), { recursive: true });
  const files = new Map<string, string>();
  const used = new Set<string>();
  h.proofs.forEach((p, i) => {
    let name = p.account.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'holder';
    if (used.has(name.toLowerCase())) name = `${name}-${i}`;
    used.add(name.toLowerCase());
    const file = join(dir, 'holders', `${name}.json`);
    writeAtomic(file, holdingText(p));
    files.set(p.account, file);
  });
  writeAtomic(join(dir, 'holders.private.json'), `${JSON.stringify(h.proofs.map((p) => ({ account: p.account, salt: p.salt, amount: p.amount.toString() })), null, 2)}\n`, 0o600);
  writeAtomic(join(dir, 'commitment.json'), `${JSON.stringify(commitmentJson(h), null, 2)}\n`);
  return files;
}

/** Reads DIR/commitment.json's values back (for the commit transaction). */
export function parseCommitment(json: unknown): { voucher: bigint; custodian: Uint8Array; root: Uint8Array; total: bigint; leafCount: number } {
  const o = json as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o.voucher !== 'string' || typeof o.total !== 'string' || !Number.isSafeInteger(o.leafCount)) {
    throw new CustodianError('HOLDINGS_INPUT', 'commitment.json must hold voucher, custodian, root, total and leafCount');
  }
  return { voucher: BigInt(o.voucher), custodian: bytes(o.custodian, 'custodian', 32), root: bytes(o.root, 'root', 32), total: BigInt(o.total), leafCount: o.leafCount as number };
}

/**
 * Publishes the commitment: voucher.commitHoldings(voucher, root, total, leafCount) signed by the
 * custodian's key, and waits for the receipt (or the transaction's definitive expiry).
 */
export async function commitHoldings(client: RpcLike, key: KeyPair, c: { voucher: bigint; custodian: Uint8Array; root: Uint8Array; total: bigint; leafCount: number }, opts: { validFor?: number; pollMs?: number } = {}): Promise<{ hash: string; height: number }> {
  const sender = accountAddress(key.publicKey);
  if (toHex(sender) !== toHex(c.custodian)) throw new CustodianError('HOLDINGS_INPUT', `the key is ${toHex(sender)}'s, the commitment is for custodian ${toHex(c.custodian)}`);
  const status = await client.call<{ chainId: string; height: number; validityWindow: number }>('chain_status');
  const { address, abi } = await client.call<{ address: string; abi: ContractAbi }>('contract_abi', { contract: 'voucher' });
  const m = abi.methods.find((x) => x.name === 'commitHoldings');
  if (!m) throw new CustodianError('HOLDINGS_TX_FAILED', 'the voucher contract has no commitHoldings method');
  const args = encodeValues(m.params.map((p) => p.type as AbiType), [c.voucher, c.root, c.total, BigInt(c.leafCount)], abi.structs as StructTable);
  const validUntilBlock = BigInt(status.height + Math.min(opts.validFor ?? 20, status.validityWindow));
  const tx = signTransaction({ chainId: status.chainId, sender, nonce: randomBytes(8).readBigUInt64BE(), validUntilBlock, contract: bytes(address, 'address', 32), method: 'commitHoldings', args }, key.privateKey);
  const sent = await client.call<{ hash: string }>('tx_send', { tx: toHex(encodeTransaction(tx)) });
  for (;;) {
    const r = await client.call<{ status: string; height: number; receipt?: { status: string; error: string | null } }>('tx_get', { hash: sent.hash });
    if (r.status === 'committed') {
      if (r.receipt!.status !== 'ok') throw new CustodianError('HOLDINGS_TX_FAILED', `commitHoldings failed: ${r.receipt!.error}`);
      return { hash: sent.hash, height: r.height };
    }
    if (r.status === 'expired') throw new CustodianError('HOLDINGS_TX_FAILED', `commitHoldings expired at height ${validUntilBlock} without being included`);
    await new Promise((w) => setTimeout(w, opts.pollMs ?? 200));
  }
}
