/**
 * The SDK's typed errors. Every error a partner sees has a stable string `code` to branch on:
 * - refusals by the node and transport failures arrive as the node's own RpcError, code unchanged
 *   (`TX_DUPLICATE`, `TX_INSUFFICIENT_QUOTA`, `BUSY`, `RPC_TIMEOUT`, ...);
 * - a committed transaction whose execution failed is a TxFailedError, a failed view a CallFailedError,
 *   both with the chain's failure code (`VM_REVERT` with the contract's `revertCode`, `VM_OUT_OF_GAS`, ...);
 * - a transaction the chain can no longer include is a TxExpiredError (`TX_EXPIRED`);
 * - mistakes caught before anything is sent are SdkErrors (`BAD_ARGUMENTS`, `SDK_NO_WALLET`, ...).
 */
import type { TxCommitted } from './types.ts';

export { RpcError } from '../../node/rpc/errors.ts';

export type SdkErrorCode =
  | 'SDK_BAD_BYTES'      // not hex, or the wrong length
  | 'SDK_BAD_KEY'        // a key or key file that is not a usable Ed25519 key
  | 'SDK_BAD_SIGNATURE'  // a signer returned something that is not a 64-byte signature
  | 'SDK_NO_WALLET'      // a transaction without a wallet to sign it
  | 'SDK_ABI_MISMATCH'   // a generated wrapper's ABI differs from the contract the node runs
  | 'SDK_BAD_RESPONSE'   // the node's answer does not say what it must (e.g. a proof for another key)
  | 'SDK_UNKNOWN_EVENT'  // an event name the contract's ABI does not declare
  | 'SDK_NO_INDEXER'     // waitForIndexer without the middleware's URL (ClientOptions.indexUrl)
  | 'SDK_ABORTED'        // the caller's AbortSignal fired while waiting (the transaction may still commit)
  | 'SDK_CLOSED'         // the client was closed while waiting
  | 'METHOD_NOT_FOUND'   // the contract has no such method (same code as the node's)
  | 'BAD_ARGUMENTS'      // arguments that do not encode under the method's ABI (same code as the node's)
  | 'TX_EXPIRED';        // see TxExpiredError

export class SdkError extends Error {
  /** Stable: an SdkErrorCode, or the chain's failure code for TxFailedError and CallFailedError. */
  readonly code: string;
  readonly data: Record<string, unknown> | undefined;
  constructor(code: SdkErrorCode | string, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = 'SdkError';
    this.code = code;
    this.data = data;
  }
}

/**
 * The definitive expiry (SPEC C4): the chain passed `validUntilBlock` without including the
 * transaction, so it can never be committed; sending a new one is safe. The same answer whether the
 * node had the transaction (`expired`) or never saw it (`unknown` once past validUntilBlock, e.g. it
 * was sent through another node): either way no block can include it any more.
 */
export class TxExpiredError extends SdkError {
  readonly hash: string;
  readonly validUntilBlock: number;
  readonly height: number;
  constructor(hash: string, validUntilBlock: number, height: number) {
    super('TX_EXPIRED', `transaction ${hash} expired: the chain passed block ${validUntilBlock} without it (head ${height})`, { hash, validUntilBlock, height });
    this.name = 'TxExpiredError';
    this.hash = hash;
    this.validUntilBlock = validUntilBlock;
    this.height = height;
  }
}

/** What a failure text of a receipt or a call means: the chain's code, and the contract's own code for a revert. */
export interface Failure {
  code: string;
  revertCode?: string;
  message: string;
}

/**
 * Reads a receipt's (or contract_call's) deterministic failure text: `CODE: message` for a contract
 * revert, `VM_ABORT: message`, or a bare code (`VM_OUT_OF_GAS`, `TX_INSUFFICIENT_QUOTA`, ...).
 */
export function parseFailure(text: string | null): Failure {
  if (!text) return { code: 'VM_TRAP', message: 'failed without an error text' };
  const abort = /^VM_ABORT: ([\s\S]*)$/.exec(text);
  if (abort) return { code: 'VM_ABORT', message: abort[1]! };
  const revert = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/.exec(text);
  if (revert) return { code: 'VM_REVERT', revertCode: revert[1]!, message: revert[2]! };
  return { code: text, message: text };
}

/** A transaction that was committed (final, charged) but whose execution failed: nothing it wrote stayed. */
export class TxFailedError extends SdkError {
  readonly revertCode: string | undefined;
  /** The committed answer, with the receipt (gas used, quota charged). */
  readonly result: TxCommitted;
  constructor(result: TxCommitted) {
    const f = parseFailure(result.receipt.error);
    super(f.code, `transaction ${result.hash} failed in block ${result.height}: ${result.receipt.error}`, { hash: result.hash, revertCode: f.revertCode });
    this.name = 'TxFailedError';
    this.revertCode = f.revertCode;
    this.result = result;
  }
}

/** A read-only call that failed (a view reverting with NOT_FOUND, running out of gas, ...). */
export class CallFailedError extends SdkError {
  readonly revertCode: string | undefined;
  readonly gasUsed: number;
  constructor(contract: string, method: string, error: string | null, gasUsed: number) {
    const f = parseFailure(error);
    super(f.code, `${contract}.${method} failed: ${error}`, { revertCode: f.revertCode, gasUsed });
    this.name = 'CallFailedError';
    this.revertCode = f.revertCode;
    this.gasUsed = gasUsed;
  }
}

/** The stable code of any error (SDK, RPC, chain), or undefined for an untyped one. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
