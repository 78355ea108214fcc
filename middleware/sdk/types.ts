/** The node's answers as the SDK returns them (docs/rpc.md): bytes as 0x-hex, heights and times as numbers. */

export interface ChainStatus {
  chainId: string;
  height: number;
  headHash: string;
  headTime: number;
  stateRoot: string;
  validators: string[];
  validityWindow: number;
  blockTimeMs: number;
  pendingTxs: number;
  behind: boolean;
}

export interface BlockHeader {
  chainId: string;
  height: number;
  time: number;
  prevHash: string;
  txRoot: string;
  stateRoot: string;
  receiptsRoot: string;
  proposer: string;
  validatorSetHash: string;
  /** The set that signs the next block (differs from validatorSetHash when a governance change takes effect). */
  nextValidatorSetHash: string;
  /** sha256 of the parent's commit the block carries (chain_block's lastCommit). */
  lastCommitHash: string;
}

export interface CommitCertificate {
  height: number;
  round: number;
  blockHash: string;
  signatures: Array<{ publicKey: string; signature: string }>;
}

export interface ChainEvent {
  /** The emitting contract's address. */
  contract: string;
  /** The event name first, then its topics (text when UTF-8, else 0x-hex). */
  topics: string[];
  /** The event's value in the codec encoding, 0x-hex. */
  data: string;
}

export interface Receipt {
  txHash: string;
  status: 'ok' | 'failed';
  /** null when ok; else the deterministic failure text (see parseFailure). */
  error: string | null;
  gasUsed: number;
  quotaCharged: number;
  events: ChainEvent[];
}

export interface DecodedTx {
  hash: string;
  chainId: string;
  sender: string;
  nonce: string;
  validUntilBlock: number;
  contract: string;
  method: string;
  args: string;
  scheme: number;
  publicKey: string;
  signature: string;
}

export interface Block {
  hash: string;
  header: BlockHeader;
  commit: CommitCertificate;
  txCount: number;
  /** Hashes, or the decoded transactions when fetched with `full`. */
  txs: string[] | DecodedTx[];
  receipts?: Receipt[];
  validators: string[];
}

/** In a final block: never reverted (SPEC C5). */
export interface TxCommitted {
  hash: string;
  status: 'committed';
  height: number;
  index: number;
  blockHash: string;
  receipt: Receipt;
}

/** The chain passed validUntilBlock without it: it can never be committed. */
export interface TxExpired {
  hash: string;
  status: 'expired';
  validUntilBlock: number;
  /** The node's head when it answered. */
  height: number;
}

/** A final answer: one of the two a transaction always ends with. */
export type TxFinal = TxCommitted | TxExpired;

/** tx_get as the node answers it. */
export type TxStatus =
  | TxCommitted
  | { hash: string; status: 'pending'; validUntilBlock: number; height: number }
  | { hash: string; status: 'expired'; validUntilBlock: number; height: number }
  | { hash: string; status: 'unknown'; height: number };

export interface ContractInfo {
  name: string;
  address: string;
  codeHash: string;
}

/** Where an item of a node subscription sits in the chain: its block, transaction and event. */
export interface Position {
  height: number;
  tx?: number;
  event?: number;
}

export interface BlockItem {
  hash: string;
  header: BlockHeader;
  txCount: number;
}

export interface TxItem {
  hash: string;
  height: number;
  index: number;
  sender: string;
  contract: string;
  method: string;
  receipt: Receipt;
}

export interface EventItem extends ChainEvent {
  cursor: { height: number; tx: number; event: number };
  txHash: string;
}

export interface StateProof {
  contract: string;
  key: string;
  stateKey: string;
  /** The entry's bytes, or null when absent; checked against `header.stateRoot` by the SDK. */
  value: Uint8Array | null;
  height: number;
  header: BlockHeader;
  commit: CommitCertificate;
  validators: string[];
  /** The proof as the node sent it (docs/state.md), for handing on to others. */
  proof: unknown;
}
