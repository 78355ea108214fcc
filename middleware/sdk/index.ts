/**
 * The BROP partner SDK (`brop/sdk`): wallet, client, contract wrappers, submit-and-wait. Browser-safe:
 * nothing here imports Node modules or uses Node globals (loading key files from disk is in
 * `brop/sdk/node`). Guide: docs/sdk.md.
 */
export {
  BropClient, type CallOptions, type CallResult, type ClientOptions, type PendingTx, type ResolvedContract, type StreamOptions, type SubmitOptions, type TxOptions, type WaitOptions,
} from './client.ts';
export { ContractClient, contractProxy, type ContractOptions, type ContractProxy } from './contract.ts';
export { Wallet, addressOf, type SignedTransaction, type TxSigner, type WalletOptions } from './wallet.ts';
export { type ConnectionState, type Gap, type HubOptions, type LiveSubscription, type SubscribeOptions, SubscriptionHub } from './subscriptions.ts';
export {
  CallFailedError, RpcError, SdkError, TxExpiredError, TxFailedError, errorCode, parseFailure,
  type Failure, type SdkErrorCode,
} from './errors.ts';
export { StateError } from '../../node/state/errors.ts';
export {
  type AbiEvent, type AbiField, type AbiMethod, type AbiType, type ContractAbi, type ContractInterface, type DecodedEvent,
  decodeEvent, decodeReturn, decodeValue, encodeArgs, methodOf, sameInterface,
} from './abi.ts';
export { type Bytes, bytesOf, equalBytes, fromHex, randomNonce, storageKey, toHex } from './bytes.ts';
export type * from './types.ts';
export type { StreamFilter, StreamItem } from '../indexer/types.ts';
export { EventStream, type EventStreamOptions } from '../events/client.ts';
// Proof bundles (SPEC M4): built by client.proofBundle, checked offline by anyone.
export {
  ProofError, trustFromGenesis, verifyBundle, verifyDocument, verifyHoldingProof,
  type Trust, type VerifiedBundle, type VerifiedRecord, type VerifyOptions,
} from '../proofs/browser.ts';
export type { BuiltBundle } from '../proofs/build.ts';
export type { RecordParams } from '../proofs/records.ts';
// Custody (SPEC E5): keep a file with the custody service, register its digest and custody address.
export { uploadToCustody, evidenceRegisterArgs, downloadFromCustody, hashFile, type CustodyReceipt, type CustodyFile } from '../custody/client.ts';
export { custodyDigest, parseCustodyAddress } from '../custody/address.ts';
export { CustodyError } from '../custody/errors.ts';
