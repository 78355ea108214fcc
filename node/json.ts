/**
 * The chain's records as JSON, as RPC and the CLI show them: bytes as 0x-hex, heights, times and gas
 * as numbers, nonces as decimal strings, event topics as text when they are UTF-8 (else 0x-hex).
 */
import { hex } from './chain/hash.ts';
import type { BlockHeader, Commit, Receipt, ReceiptEvent } from './chain/block.ts';
import type { Transaction } from './tx/transaction.ts';

export const hex0x = (b: Uint8Array): string => `0x${hex(b)}`;

/** A value decoded through a contract ABI, as JSON: bytes as 0x-hex, 64- and 128-bit integers as decimal strings (JSON numbers would lose digits). */
export function abiValueJson(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return hex0x(v);
  if (Array.isArray(v)) return v.map(abiValueJson);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, abiValueJson(x)]));
  return v;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function topicText(t: Uint8Array): string {
  try {
    const s = strictUtf8.decode(t);
    if (!/[\u0000-\u001f]/.test(s) && !s.startsWith('0x')) return s;
  } catch {
    // not text
  }
  return hex0x(t);
}

export function headerJson(h: BlockHeader) {
  return {
    chainId: h.chainId, height: Number(h.height), time: Number(h.time), prevHash: hex0x(h.prevHash), txRoot: hex0x(h.txRoot),
    stateRoot: hex0x(h.stateRoot), receiptsRoot: hex0x(h.receiptsRoot), proposer: hex0x(h.proposer), validatorSetHash: hex0x(h.validatorSetHash),
    nextValidatorSetHash: hex0x(h.nextValidatorSetHash), lastCommitHash: hex0x(h.lastCommitHash),
  };
}

export function commitJson(c: Commit) {
  return { height: Number(c.height), round: c.round, blockHash: hex0x(c.blockHash), signatures: c.signatures.map((s) => ({ publicKey: hex0x(s.publicKey), signature: hex0x(s.signature) })) };
}

export function eventJson(e: ReceiptEvent) {
  return { contract: hex0x(e.contract), topics: e.topics.map(topicText), data: hex0x(e.data) };
}

export function receiptJson(r: Receipt) {
  return {
    txHash: hex0x(r.txHash), status: r.status === 1 ? 'ok' : 'failed', error: r.error || null,
    gasUsed: Number(r.gasUsed), quotaCharged: Number(r.quotaCharged), events: r.events.map(eventJson),
  };
}

export function txJson(tx: Transaction, hash: Uint8Array) {
  return {
    hash: hex0x(hash), chainId: tx.chainId, sender: hex0x(tx.sender), nonce: tx.nonce.toString(), validUntilBlock: Number(tx.validUntilBlock),
    contract: hex0x(tx.contract), method: tx.method, args: hex0x(tx.args), scheme: tx.scheme, publicKey: hex0x(tx.publicKey), signature: hex0x(tx.signature),
  };
}
