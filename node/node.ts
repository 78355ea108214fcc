/**
 * A chain node: admits transactions into its pool, makes blocks from them (when it is the proposer),
 * executes and commits blocks, and answers queries. Consensus decides which block is final; this class
 * makes, checks, executes, stores and serves blocks, so the consensus protocol plugs in through
 * `proposeBlock`, `checkProposal` and `commitBlock` without rework. The single-validator chain drives
 * those from a timer (node/consensus/solo.ts).
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Vm } from '../vm/vm.ts';
import { accountAddress } from '../contracts/system/index.ts';
import { MemoryState, type StorageWrite } from '../vm/state.ts';
import { COMMITTED_TX_LIMITS, SignedTx } from './tx/transaction.ts';
import { TxError } from './tx/errors.ts';
import { SignatureVerifier } from './crypto/verify-pool.ts';
import { CommittedWindow } from './mempool/committed-window.ts';
import { Mempool, type MempoolLimits } from './mempool/mempool.ts';
import { AuthorisationCache, Executor, type BlockContext } from './execution/executor.ts';
import { QuotaAdmission } from './execution/quota-admission.ts';
import { ContractRegistry, type DeployedContract } from './execution/contracts.ts';
import { ChainStore } from './store/chain-store.ts';
import { PoolLog } from './store/pool-log.ts';
import {
  type Block, type BlockHeader, type Commit, type Receipt, decodeBlock, decodeCommit, decodeReceipt, decodeReceipts, receiptOffsets,
  encodeBlock, encodeCommit, encodeReceipt, headerHash, joinReceipts, receiptsRootOf, validatorSetHash, commitHash, GENESIS_LAST_COMMIT, txRootOf,
  blockTxHashes, bodyMatchesHeader,
} from './chain/block.ts';
import type { ChainParams } from './chain/params.ts';
import { equalBytes, hex } from './chain/hash.ts';
import { verifyCommit } from './chain/commit.ts';
import { type GenesisFile, chainParams, genesisHash, genesisHeader, genesisWrites } from './genesis.ts';
import { MemoryNodeStore, StateTree, type StateProof, type StateUpdate } from './state/index.ts';
import { pooledBytes } from '../vm/bytes.ts';

export interface NodeOptions {
  /** LevelDB folder. */
  dataDir: string;
  genesis: GenesisFile;
  contracts: DeployedContract[];
  mempool?: Partial<MempoolLimits>;
  /** Worker threads for signature checks (default: one per core; 0: on the main thread). */
  verifierWorkers?: number;
  /** Clock for block times (tests). */
  now?: () => number;
  /** Where problems that do not stop the node are reported (default: stderr). */
  warn?: (message: string) => void;
}

export interface CommittedBlock {
  header: BlockHeader;
  hash: Uint8Array;
  txs: SignedTx[];
  receipts: Receipt[];
  commit: Commit;
}

export type TxStatus =
  | { status: 'pending'; validUntilBlock: bigint }
  | { status: 'committed'; height: bigint; index: number; blockHash: Uint8Array; receipt: Receipt }
  | { status: 'expired'; validUntilBlock: bigint }
  | { status: 'unknown' };

/** A block made by the proposer, executed, waiting for its commit certificate. */
export interface Proposal {
  block: Block;
  header: BlockHeader;
  hash: Uint8Array;
  txs: SignedTx[];
  receipts: Receipt[];
  /** encodeReceipt of each receipt: hashed into receiptsRoot, and stored (joined) at commit. */
  receiptBytes: Uint8Array[];
  writes: StorageWrite[];
  /** The state tree's update: persisted with the block, adopted by the tree once committed. */
  stateUpdate: StateUpdate;
  /** The set that signs the block after this one. */
  nextValidators: Uint8Array[];
}

/**
 * What a proposer is about to execute into a block (see planBlock): sent ahead of its proposal, so
 * that the other validators execute the same block meanwhile (checkPlan) instead of after it.
 */
export interface BlockPlan { height: bigint; time: bigint; proposer: Uint8Array; txs: readonly SignedTx[]; lastCommit: Commit }

/** How far ahead of a validator's clock a proposed block's time may be. */
export const MAX_CLOCK_DRIFT_MS = 10_000;

/** A set that keeps at least the last `capacity / 2` additions (two generations: cheap, no per-entry bookkeeping). */
class RecentSet {
  private young = new Set<string>();
  private old = new Set<string>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(1, capacity >> 1);
  }

  has(k: string): boolean {
    return this.young.has(k) || this.old.has(k);
  }

  add(k: string): void {
    this.young.add(k);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Set();
    }
  }
}

function duplicate(): TxError {
  return new TxError('TX_DUPLICATE', 'the transaction is already pending or committed');
}

function threadCpuUs(): number {
  const { user, system } = process.threadCpuUsage();
  return user + system;
}

/** A budgeted block still takes at least this many transactions (and blocks this small are not timed). */
const MIN_BUDGETED_TXS = 64;

export class NodeError extends Error {
  readonly code: 'BLOCK_INVALID' | 'GENESIS_MISMATCH' | 'NOT_FOUND' | 'NODE_CLOSED';
  constructor(code: NodeError['code'], message: string) {
    super(message);
    this.name = 'NodeError';
    this.code = code;
  }
}

export class ChainNode extends EventEmitter<{ block: [CommittedBlock]; accepted: [SignedTx]; validators: [Uint8Array[], bigint] }> {
  readonly params: ChainParams;
  readonly genesis: GenesisFile;
  readonly contracts: ContractRegistry;
  readonly executor: Executor;
  readonly mempool: Mempool;
  /** The validator set that signs the next block (governance changes it; see endBlock). */
  private validatorSet: Uint8Array[];
  /** The set before the last change: its votes for the height just committed may still be arriving. */
  private previousValidatorSet: Uint8Array[];
  private readonly store: ChainStore;
  private readonly verifier: SignatureVerifier;
  /** Transactions clients sent here, on disk until committed or expired (opened with the pool at start). */
  private poolLog: PoolLog | undefined;
  private state: MemoryState;
  private tree: StateTree;
  private headHeader: BlockHeader;
  private headHash: Uint8Array;
  private readonly now: () => number;
  private readonly warn: (message: string) => void;
  private closed = false;
  /**
   * Set by block sync while the node catches up with the network: it cannot judge validUntilBlock or
   * duplicates against a stale head, so admission answers NODE_BEHIND meanwhile.
   */
  behind = false;
  /** Key authorisation answers for the committed state (admission, and each block's starting point). */
  private readonly auth = new AuthorisationCache();
  private readonly quota: QuotaAdmission;
  /**
   * Hashes of committed transactions that are not yet expired (validUntilBlock above the head), with
   * their validUntilBlock: the duplicate check, in memory. Older ones cannot come back anyway (they
   * would be expired), so the window is all a duplicate check needs; rebuilt from the last W blocks at start.
   */
  private readonly recent = new CommittedWindow();
  /** Transactions in the block being committed: still answered as pending, never as unknown. */
  private committing = new Map<string, SignedTx>();
  /** Transactions evicted as expired whose record is not written yet (being written, or tried again after the next block). */
  private readonly expiring = new Map<string, { hash: Uint8Array; validUntilBlock: bigint }>();
  /** Transactions whose signature is being checked (admission awaits it): a second copy is a duplicate. */
  private readonly admitting = new Set<string>();
  /** A commit in progress: commits are one at a time, each on top of the one before. */
  private commitInProgress = false;
  /** Commits begun: admission checks again for a commit of its transaction only when one began during its wait. */
  private commitsBegun = 0;
  /**
   * Receipts records of recent blocks (status queries ask about recent transactions), as stored: one
   * buffer per block, each receipt decoded when asked for (decoded, thousands of small objects per block
   * would outlive several young-generation collections).
   */
  private readonly receiptCache = new Map<bigint, { joined: Uint8Array; starts: Uint32Array | undefined }>();
  /**
   * Transactions whose signature this node checked and found good but did not pool (refused for another
   * reason, or met in another validator's proposal): not checked again (a hash covers the signature).
   */
  private readonly verified = new RecentSet(200_000);
  /** Measured CPU time of executing a transaction (with its share of the state tree update), µs; 0 until measured. */
  private executionUsPerTx = 0;
  /** The chain id as UTF-8, compared with each admitted transaction's. */
  private readonly chainIdUtf8: Uint8Array;

  private constructor(opts: NodeOptions, store: ChainStore, state: MemoryState, tree: StateTree, head: BlockHeader) {
    super();
    this.genesis = opts.genesis;
    this.params = chainParams(opts.genesis);
    this.chainIdUtf8 = new TextEncoder().encode(this.params.chainId);
    this.contracts = new ContractRegistry(opts.contracts);
    this.executor = new Executor(new Vm(), this.contracts, this.params);
    this.mempool = new Mempool(opts.mempool);
    this.store = store;
    this.verifier = new SignatureVerifier({ workers: opts.verifierWorkers });
    this.quota = new QuotaAdmission(this.executor);
    this.state = state;
    this.tree = tree;
    this.headHeader = head;
    this.headHash = headerHash(head);
    this.validatorSet = this.executor.validators(state, this.context());
    this.previousValidatorSet = this.validatorSet;
    this.now = opts.now ?? Date.now;
    this.warn = opts.warn ?? ((m) => console.error(`warning: ${m}`));
  }

  /** Opens (or, on first start, creates from genesis) the chain in `dataDir`. */
  static async open(opts: NodeOptions): Promise<ChainNode> {
    const store = await ChainStore.open(opts.dataDir);
    try {
      const contracts = new ContractRegistry(opts.contracts);
      // A block of 2,000 writes makes ~16,000 tree nodes: the cache keeps those of the last ten blocks or
      // so, which new keys' paths mostly meet. At 50,000 every new key read ~2 nodes back from LevelDB.
      const tree = new StateTree(store.stateNodes(), { cacheNodes: 400_000 });
      // A data folder belongs to one genesis file: opening it with another would change the chain's rules under it.
      const gHash = genesisHash(opts.genesis);
      const known = store.meta('genesis-hash');
      if (known && !equalBytes(known, gHash)) throw new NodeError('GENESIS_MISMATCH', 'genesis.json differs from the one this data folder was created with');
      if (!known) await store.putMeta('genesis-hash', gHash);
      let head = store.head();
      if (!head) {
        // First start: the genesis block, committed like any other (without a commit certificate).
        const writes = genesisWrites(opts.genesis, contracts);
        const stateUpdate = tree.update(writes.map(stateEntry), { version: 0 });
        const header = genesisHeader(opts.genesis, stateUpdate.root);
        const hash = headerHash(header);
        await store.commitBlock({
          height: 0n, hash, block: encodeBlock({ header, txs: [], lastCommit: GENESIS_LAST_COMMIT }),
          commit: encodeCommit({ height: 0n, round: 0, blockHash: hash, signatures: [] }),
          receipts: joinReceipts([]), txHashes: [], writes, stateUpdate,
        });
        head = { height: 0n, hash };
      }
      const headBlock = store.block(head.height);
      if (!headBlock) throw new NodeError('BLOCK_INVALID', `the store's head block ${head.height} is missing`);
      const header = decodeBlock(headBlock).header;
      if (header.chainId !== opts.genesis.chainId) throw new NodeError('GENESIS_MISMATCH', `the data folder holds chain ${header.chainId}, the genesis file is for ${opts.genesis.chainId}`);
      const state = new MemoryState();
      const entries: StorageWrite[] = [];
      for await (const e of store.stateEntries()) entries.push(e);
      state.apply(entries);
      tree.setRoot(header.stateRoot);
      const node = new ChainNode(opts, store, state, tree, header);
      try {
        node.rebuildRecent();
        await node.reloadPending(join(opts.dataDir, 'pool'));
      } catch (e) {
        await node.close();
        throw e;
      }
      return node;
    } catch (e) {
      if (store.isOpen) await store.close();
      throw e;
    }
  }

  /** The duplicate window: transactions of the last W blocks that are not expired yet. */
  private rebuildRecent(): void {
    const from = this.height > BigInt(this.params.validityWindow) ? this.height - BigInt(this.params.validityWindow) : 1n;
    for (let h = from; h <= this.height; h++) {
      const b = this.store.block(h);
      if (!b) continue;
      for (const bytes of decodeBlock(b).txs) {
        const stx = SignedTx.decode(bytes, COMMITTED_TX_LIMITS);
        if (stx.validUntilBlock > this.height) this.recent.add(stx.hash, stx.validUntilBlock, this.height);
      }
    }
  }

  private isCommitted(stx: SignedTx): boolean {
    return this.recent.has(stx.hash, this.height);
  }

  /**
   * Transactions accepted before a restart go back into the pool, in their order (those still valid);
   * those that expired meanwhile are recorded as expired. Records of versions before the pool log (in
   * LevelDB) move into the log first.
   */
  private async reloadPending(poolDir: string): Promise<void> {
    const { log, txs } = PoolLog.open(poolDir);
    this.poolLog = log;
    const legacy = await this.store.pendingTxs();
    const expired: SignedTx[] = [];
    const moved: Array<Promise<void>> = [];
    let undecodable = 0;
    for (const [bytes, isLegacy] of [...legacy.txs.map((b) => [b, true] as const), ...txs.map((t) => [t.bytes, false] as const)]) {
      let stx: SignedTx;
      try {
        stx = SignedTx.decode(bytes, this.txLimits());
      } catch {
        // Admission decoded these under the same chain parameters, so only damage that the frame's
        // CRC did not catch gets here: said, not silently dropped.
        undecodable++;
        continue;
      }
      if (this.store.txLocation(stx.hash) || this.mempool.has(stx.hashHex)) continue;
      if (stx.validUntilBlock <= this.height) expired.push(stx);
      else {
        this.mempool.add(stx, { force: true }); // accepted once: kept even if the pool is smaller now
        if (isLegacy) moved.push(log.append({ validUntilBlock: stx.validUntilBlock, bytes: stx.bytes }));
      }
    }
    await Promise.all(moved);
    if (undecodable > 0) this.warn(`${undecodable} transaction${undecodable === 1 ? '' : 's'} in the pool log could not be decoded and ${undecodable === 1 ? 'was' : 'were'} left out of the pool`);
    if (expired.length > 0) await this.store.markExpired(expired.map((t) => ({ hash: t.hash, validUntilBlock: t.validUntilBlock })));
    if (legacy.hashes.length > 0) await this.store.deletePending(legacy.hashes);
    this.retirePoolLog();
  }

  /**
   * Deletes the pool log's segments whose every transaction is committed or recorded as expired: the
   * chain is past their validUntilBlock, and no expiry among them is still unwritten (see `expiring`).
   */
  private retirePoolLog(): void {
    let through = this.height;
    for (const { validUntilBlock } of this.expiring.values()) if (validUntilBlock - 1n < through) through = validUntilBlock - 1n;
    try {
      this.poolLog?.retire(through);
    } catch (e) {
      this.warn(`could not delete an old pool log segment (tried again after the next block): ${(e as Error).message}`);
    }
  }

  get height(): bigint {
    return this.headHeader.height;
  }

  /** The validator set that signs the next block. */
  get validators(): readonly Uint8Array[] {
    return this.validatorSet;
  }

  /** The validator set that signed block `height` (or signs it, for the next one). */
  validatorsAt(height: bigint): readonly Uint8Array[] {
    return height > this.height ? this.validatorSet : this.executor.validators(this.state, this.context(), height);
  }

  /** Whether `address` (hex) signs the next block or signed the last one (its late votes are still news). */
  isRecentValidator(address: string): boolean {
    return this.validatorSet.some((v) => hex(v) === address) || this.previousValidatorSet.some((v) => hex(v) === address);
  }

  get head(): { header: BlockHeader; hash: Uint8Array } {
    return { header: this.headHeader, hash: this.headHash };
  }

  /** The committed state (for read-only calls). */
  get committedState(): MemoryState {
    return this.state;
  }

  private txLimits() {
    return { maxTxBytes: this.params.maxTxBytes, maxMethodBytes: 128, maxChainIdBytes: 64 };
  }

  private context(): BlockContext {
    return { height: this.headHeader.height, time: this.headHeader.time };
  }

  /**
   * Admission (SPEC C4): decodes and checks a transaction, and once it is pending (durably, for one a
   * client sent here) resolves with it. Throws TxError with the reason otherwise. A gossiped copy of a
   * transaction this node already has resolves with it at once: copies are gossip's normal business,
   * not worth an error each.
   */
  async submit(bytes: Uint8Array, opts: { gossiped?: boolean } = {}): Promise<SignedTx> {
    const stx = this.decodeForAdmission(bytes);
    if (opts.gossiped && this.isKnown(stx)) return stx;
    this.checkBeforeSignature(stx);
    // Another copy arriving while this one's signature is checked is a duplicate at once.
    this.admitting.add(stx.hashHex);
    const commitsBefore = this.commitsBegun;
    let signed: boolean;
    try {
      // A transaction of a proposal that did not make it is checked once, not again when gossip brings it.
      signed = this.verified.has(stx.hashHex) || await this.verifier.verify(stx.signatureCheck()!);
    } catch (e) {
      throw this.closedOr(e as Error);
    } finally {
      this.admitting.delete(stx.hashHex);
    }
    this.admitSigned(stx, signed, this.commitsBegun !== commitsBefore);
    // Sent by a client here (not gossiped by a peer): durably pending before the answer, and the
    // network passes it on.
    if (!opts.gossiped) await this.logAccepted([stx]);
    return stx;
  }

  /**
   * Admission of the transactions of one client request (a JSON-RPC batch of tx_send), each exactly as
   * submit would judge it, in order (a second copy in the same request is a duplicate): each entry's
   * pending transaction or its error. Their signatures go to the workers together and their pool log
   * records in one write, with one promise for each instead of one per transaction. The bytes are
   * decoded (copied) before this returns: the caller need not keep them.
   */
  async submitAll(list: readonly Uint8Array[]): Promise<Array<SignedTx | Error>> {
    const out = new Array<SignedTx | Error>(list.length);
    // `signed`: known good already (checked before), or once the workers say so.
    const started: Array<{ i: number; stx: SignedTx; signed: boolean }> = [];
    let decoded: Array<SignedTx | Error>;
    try {
      this.checkOpen();
      decoded = SignedTx.decodeAll(list, this.txLimits());
    } catch (e) {
      return out.fill(e as Error);
    }
    for (let i = 0; i < list.length; i++) {
      try {
        const stx = decoded[i]!;
        if (stx instanceof Error) throw stx;
        this.checkChain(stx);
        this.checkBeforeSignature(stx);
        this.admitting.add(stx.hashHex);
        started.push({ i, stx, signed: this.verified.has(stx.hashHex) });
      } catch (e) {
        out[i] = e as Error;
      }
    }
    const unchecked = started.filter((s) => !s.signed);
    const commitsBefore = this.commitsBegun;
    let outcomes: boolean[];
    try {
      // The checks are made for the hand-off only (the verifier keeps copies of the bytes): none is
      // held here while the workers get to it.
      outcomes = await this.verifier.verifyAll(unchecked.map((s) => s.stx.signatureCheck()!));
    } catch (e) {
      // The verifier closed (the node is shutting down): the entries that got this far fail with it;
      // those refused before keep their own answers.
      for (const s of started) out[s.i] = this.closedOr(e as Error);
      return out;
    } finally {
      for (const s of started) this.admitting.delete(s.stx.hashHex);
    }
    unchecked.forEach((s, k) => { s.signed = outcomes[k]!; });
    const accepted: typeof started = [];
    for (const s of started) {
      try {
        this.admitSigned(s.stx, s.signed, this.commitsBegun !== commitsBefore);
        accepted.push(s);
      } catch (e) {
        out[s.i] = e as Error;
      }
    }
    try {
      if (accepted.length > 0) await this.logAccepted(accepted.map((s) => s.stx));
      for (const s of accepted) out[s.i] = s.stx;
    } catch (e) {
      for (const s of accepted) out[s.i] = e as Error;
    }
    return out;
  }

  /** A failure of admission's asynchronous steps: NODE_CLOSED when the node is closing (the cause), else itself. */
  private closedOr(e: Error): Error {
    return this.closed ? new NodeError('NODE_CLOSED', 'the node is shutting down') : e;
  }

  /** The first checks of admission: the node can take transactions, and these bytes are one for this chain. */
  private decodeForAdmission(bytes: Uint8Array): SignedTx {
    this.checkOpen();
    const stx = SignedTx.decode(bytes, this.txLimits());
    this.checkChain(stx);
    return stx;
  }

  /** The node takes transactions: it is not closing, nor catching up. */
  private checkOpen(): void {
    if (this.closed) throw new NodeError('NODE_CLOSED', 'the node is shutting down');
    if (this.behind) throw new TxError('NODE_BEHIND', `this node is catching up (at height ${this.height}): send to another node or retry later`);
  }

  private checkChain(stx: SignedTx): void {
    // As bytes (the same answer as the strings'): decoding the string per transaction costs more than the rest of this check.
    if (!stx.chainIdBytesAre(this.chainIdUtf8)) throw new TxError('TX_WRONG_CHAIN', `signed for chain ${stx.chainId}, this is ${this.params.chainId}`);
  }

  /** Admission's checks before the signature's (cheap ones first): after them, stx.signatureCheck() is defined. */
  private checkBeforeSignature(stx: SignedTx): void {
    this.checkValidity(stx.validUntilBlock);
    this.checkNotKnown(stx);
    if (!this.contracts.at(stx.contract)) throw new TxError('TX_NO_SUCH_CONTRACT', `no contract at 0x${hex(stx.contract)}`);
    if (!stx.checkable) throw new TxError('TX_UNSUPPORTED_SCHEME', `signature scheme ${stx.scheme} is not supported by this node`);
  }

  /**
   * Admission's checks once the signature's outcome is known; a transaction that passes is in the pool.
   * While the signature was checked, no other copy could be admitted (this one was `admitting`), and the
   * pool refuses a duplicate itself: what may have changed is a block committing it (`committedMeanwhile`:
   * a commit began during the wait).
   */
  private admitSigned(stx: SignedTx, signed: boolean, committedMeanwhile: boolean): void {
    if (!signed) throw new TxError('TX_BAD_SIGNATURE', 'the signature does not match the transaction and public key');
    try {
      this.admitVerified(stx, committedMeanwhile);
    } catch (e) {
      // Refused with a good signature (BUSY, quota, ...): sent again, it is not checked again. One that
      // is pooled needs no entry: the pool vouches for it, then the committed window or its expiry.
      this.verified.add(stx.hashHex);
      throw e;
    }
  }

  private admitVerified(stx: SignedTx, committedMeanwhile: boolean): void {
    // The chain may have moved on while the signature was checked: judge again at the current head.
    this.checkValidity(stx.validUntilBlock);
    if (committedMeanwhile && (this.committing.has(stx.hashHex) || this.isCommitted(stx))) throw duplicate();
    const ctx = this.context();
    const authorisation = this.executor.authorisation(this.state, stx, ctx, this.auth);
    if (!authorisation) throw new TxError('TX_UNAUTHORISED_KEY', 'the identity contract does not authorise this key for the sender (or the account is frozen)');
    const pendingOfSender = () => { const sender = stx.sender; return [...this.mempool.ofSender(sender), ...[...this.committing.values()].filter((t) => equalBytes(t.sender, sender))]; };
    if (!this.quota.reserve(this.state, ctx, stx, pendingOfSender)) {
      throw new TxError('TX_INSUFFICIENT_QUOTA', 'the sender\'s quota points this period do not cover this transaction and its other pending ones');
    }
    try {
      // New keys cost nothing to make: their registrations get a small share of the pool (see Mempool).
      this.mempool.add(stx, { newcomer: authorisation === 'self-registration' }); // throws BUSY or TX_DUPLICATE
    } catch (e) {
      this.quota.release(stx);
      throw e;
    }
  }

  /** Client-sent transactions now in the pool: on disk before anyone is told, then passed on (the network gossips them). */
  private async logAccepted(stxs: readonly SignedTx[]): Promise<void> {
    try {
      await this.poolLog!.appendAll(stxs.map((s) => ({ validUntilBlock: s.validUntilBlock, bytes: s.bytes })));
    } catch (e) {
      this.mempool.remove(stxs.map((s) => s.hashHex));
      for (const s of stxs) this.quota.release(s);
      throw this.closedOr(e as Error);
    }
    for (const s of stxs) this.emit('accepted', s);
  }

  private isKnown(stx: SignedTx): boolean {
    return this.admitting.has(stx.hashHex) || this.mempool.has(stx.hashHex) || this.committing.has(stx.hashHex) || this.isCommitted(stx);
  }

  private checkNotKnown(stx: SignedTx): void {
    if (this.isKnown(stx)) throw duplicate();
  }

  private checkValidity(validUntilBlock: bigint): void {
    const h = this.height;
    if (validUntilBlock <= h) throw new TxError('TX_EXPIRED', `validUntilBlock ${validUntilBlock} is not above the current height ${h}`);
    if (validUntilBlock > h + BigInt(this.params.validityWindow)) {
      throw new TxError('TX_VALIDITY_TOO_LONG', `validUntilBlock ${validUntilBlock} is more than ${this.params.validityWindow} blocks above the current height ${h}`);
    }
  }

  /**
   * Makes the next block from the pool, executed on the current state (the proposer's job): its plan,
   * then the plan executed. See planBlock.
   */
  proposeBlock(proposer: Uint8Array, opts: { budgetMs?: number; lastCommit?: Commit } = {}): Proposal {
    return this.makeBlock(this.planBlock(proposer, opts));
  }

  /**
   * What the next block will hold, from the pool, before it is executed. With `budgetMs`, the block
   * holds no more transactions than this node executes in that much CPU time (as measured on recent blocks):
   * under a flood, blocks stop growing with the pool, so that the other validators receive, check and
   * vote on a proposal within their timeout. The chain's limits still apply. `lastCommit`: the head's
   * commit as consensus gathered it (default: the one stored with the head).
   */
  planBlock(proposer: Uint8Array, opts: { budgetMs?: number; lastCommit?: Commit } = {}): BlockPlan {
    const height = this.height + 1n;
    const prevTime = this.headHeader.time;
    const time = BigInt(Math.max(this.now(), Number(prevTime) + 1));
    let maxTxs = this.params.maxBlockTxs;
    // Until a block has been timed, a cautious guess of the execution time.
    if (opts.budgetMs !== undefined) maxTxs = Math.min(maxTxs, Math.max(MIN_BUDGETED_TXS, Math.floor((opts.budgetMs * 1000) / (this.executionUsPerTx || 250))));
    const txs = this.mempool.reap(maxTxs, this.params.maxBlockBytes).filter((t) => t.validUntilBlock >= height && !this.isCommitted(t));
    const stored = () => decodeCommit(this.store.commit(this.height)!);
    let lastCommit = opts.lastCommit ?? stored();
    if (opts.lastCommit) {
      // What consensus gathered must be a certificate (after a restart its replayed precommits carry
      // no signatures): else the one stored with the head.
      try {
        this.checkLastCommit(opts.lastCommit);
      } catch {
        lastCommit = stored();
      }
    }
    return { height, time, proposer, txs, lastCommit };
  }

  /**
   * A plan executed into a block. The gas limit may cut its transaction list short; every node
   * executing the plan cuts it at the same place.
   */
  makeBlock(plan: BlockPlan): Proposal {
    return this.execute({ ...plan, txs: [...plan.txs] }, true);
  }

  /**
   * Another validator's plan (see planBlock), checked as its block will be and executed: the block its
   * proposal will carry, if the proposer keeps to its plan, made while the proposer makes it (the
   * proposal's check is then a comparison of hashes). NOT_FOUND if a planned transaction is not in
   * this node's pool.
   */
  async checkPlan(plan: { height: bigint; time: bigint; proposer: Uint8Array; txHashes: readonly Uint8Array[]; lastCommit: Commit }): Promise<Proposal> {
    const txs: SignedTx[] = [];
    let bytes = 0;
    for (const h of plan.txHashes) {
      const t = this.mempool.get(hex(h));
      if (!t) throw new NodeError('NOT_FOUND', `planned transaction ${hex(h)} is not in the pool`);
      txs.push(t);
      bytes += t.bytes.length;
    }
    this.checkBlockFrame(plan.height, plan.time, plan.proposer, txs.length, bytes, plan.lastCommit);
    await this.checkBlockTxs(plan.height, txs);
    return this.execute({ height: plan.height, time: plan.time, proposer: plan.proposer, txs, lastCommit: plan.lastCommit }, true);
  }

  /** A block carries its parent's commit: genesis's (no signatures) for block 1, else a valid certificate of the head. */
  private checkLastCommit(c: Commit): void {
    if (c.height !== this.height || !equalBytes(c.blockHash, this.headHash)) throw new NodeError('BLOCK_INVALID', `the carried commit is not the head's (height ${c.height})`);
    if (this.height === 0n) {
      if (c.signatures.length > 0) throw new NodeError('BLOCK_INVALID', 'the genesis block has no commit signatures to carry');
      return;
    }
    try {
      verifyCommit(this.headHeader, c, this.validatorsAt(this.height));
    } catch (e) {
      throw new NodeError('BLOCK_INVALID', `the carried commit of the head: ${(e as Error).message}`);
    }
  }

  /** Executes a proposed block and checks that its header says what executing it gives (a validator's check). */
  async checkProposal(block: Block): Promise<Proposal> {
    const { header } = block;
    if (header.chainId !== this.params.chainId) throw new NodeError('BLOCK_INVALID', 'wrong chain id');
    // (A wrong height is reported as such by the frame's check.)
    if (header.height === this.height + 1n && !equalBytes(header.prevHash, this.headHash)) throw new NodeError('BLOCK_INVALID', 'prevHash is not the head');
    this.checkBlockFrame(header.height, header.time, header.proposer, block.txs.length, block.txs.reduce((n, t) => n + t.length, 0), block.lastCommit);
    if (!bodyMatchesHeader(block)) throw new NodeError('BLOCK_INVALID', 'the transactions or the carried commit are not the ones the header names');
    const txHashes = blockTxHashes(block);
    const txs = block.txs.map((bytes, i) => {
      // Most of a proposal's transactions are in the pool already, decoded when they were admitted.
      const pooled = this.mempool.get(hex(txHashes[i]!));
      if (pooled) return pooled;
      try {
        return SignedTx.decode(bytes, this.txLimits());
      } catch (e) {
        throw new NodeError('BLOCK_INVALID', `a transaction is invalid: ${(e as Error).message}`);
      }
    });
    await this.checkBlockTxs(header.height, txs);
    // The header's txRoot is the root of these transactions' hashes (the body matches it): not computed again.
    const mine = this.execute({ height: header.height, time: header.time, proposer: header.proposer, txs, lastCommit: block.lastCommit, txRoot: header.txRoot });
    if (!equalBytes(mine.hash, headerHash(header))) throw new NodeError('BLOCK_INVALID', 'the header does not match what executing the block gives (state, receipts or roots differ)');
    return mine;
  }

  /** What a block's header fields other than its roots must be, and its size: checked for proposals and plans alike. */
  private checkBlockFrame(height: bigint, time: bigint, proposer: Uint8Array, txCount: number, txBytes: number, lastCommit: Commit): void {
    if (height !== this.height + 1n) throw new NodeError('BLOCK_INVALID', `height ${height}, expected ${this.height + 1n}`);
    if (time <= this.headHeader.time) throw new NodeError('BLOCK_INVALID', 'time does not advance');
    if (time > BigInt(this.now() + MAX_CLOCK_DRIFT_MS)) throw new NodeError('BLOCK_INVALID', `time ${time} is ahead of this node's clock by more than ${MAX_CLOCK_DRIFT_MS} ms`);
    if (!this.validators.some((v) => equalBytes(v, proposer))) throw new NodeError('BLOCK_INVALID', 'the proposer is not a validator');
    if (txCount > this.params.maxBlockTxs) throw new NodeError('BLOCK_INVALID', `${txCount} transactions, above the limit of ${this.params.maxBlockTxs}`);
    if (txBytes > this.params.maxBlockBytes) throw new NodeError('BLOCK_INVALID', `${txBytes} bytes of transactions, above the limit of ${this.params.maxBlockBytes}`);
    this.checkLastCommit(lastCommit);
  }

  /** A block's transactions: valid at `height`, none twice or committed before, signatures good (on the worker threads, all at once). */
  private async checkBlockTxs(height: bigint, txs: readonly SignedTx[]): Promise<void> {
    const seen = new Set<string>();
    for (const stx of txs) {
      if (!stx.chainIdBytesAre(this.chainIdUtf8) || stx.validUntilBlock < height || stx.validUntilBlock >= height + BigInt(this.params.validityWindow)) {
        throw new NodeError('BLOCK_INVALID', `transaction ${stx.hashHex} is not valid at height ${height}`);
      }
      if (seen.has(stx.hashHex) || this.isCommitted(stx)) throw new NodeError('BLOCK_INVALID', `transaction ${stx.hashHex} is a duplicate`);
      seen.add(stx.hashHex);
    }
    // The pool already checked the signatures of those it holds.
    const checks = txs.filter((t) => !this.mempool.has(t.hashHex) && !this.verified.has(t.hashHex)).map((t) => {
      const check = t.signatureCheck();
      if (!check) throw new NodeError('BLOCK_INVALID', `transaction ${t.hashHex} uses an unsupported signature scheme`);
      return { t, check };
    });
    const valid = await this.verifier.verifyAll(checks.map((c) => c.check));
    const bad = valid.indexOf(false);
    if (bad >= 0) throw new NodeError('BLOCK_INVALID', `transaction ${checks[bad]!.t.hashHex} has a bad signature`);
    for (const c of checks) this.verified.add(c.t.hashHex);
  }

  private execute(b: { height: bigint; time: bigint; proposer: Uint8Array; txs: SignedTx[]; lastCommit: Commit; txRoot?: Uint8Array }, fill = false): Proposal {
    // This thread's CPU time, not the clock's: on a busy machine (validators sharing cores, the others
    // executing a plan while this one does) the clock counts other processes' turns, and blocks shrank.
    const started = threadCpuUs();
    const signers = b.lastCommit.signatures.map((s) => accountAddress(s.publicKey));
    const result = this.executor.executeBlock(this.state, { height: b.height, time: b.time }, b.txs, { proposer: b.proposer, signers, fill, auth: this.auth });
    if (fill) b.txs = b.txs.slice(0, result.receipts.length); // the gas limit cut the list: the rest wait
    else if (result.gasUsed > BigInt(this.params.maxBlockGas)) throw new NodeError('BLOCK_INVALID', `the block uses ${result.gasUsed} gas, above the limit of ${this.params.maxBlockGas}`);
    const stateUpdate = this.tree.update(result.writes.map(stateEntry), { commit: false, version: Number(b.height) });
    if (b.txs.length >= MIN_BUDGETED_TXS) {
      const us = (threadCpuUs() - started) / b.txs.length;
      this.executionUsPerTx = this.executionUsPerTx === 0 ? us : 0.7 * this.executionUsPerTx + 0.3 * us;
    }
    const nextValidators = result.nextValidators ?? this.validatorSet;
    if (result.endBlockError) this.warn(`governance.endBlock failed at height ${b.height} (no validator change or liveness noted): ${result.endBlockError}`);
    const txBytes = b.txs.map((t) => t.bytes);
    const receiptBytes = result.receipts.map((r) => encodeReceipt(r, pooledBytes)); // joined into the block's record at commit
    const header: BlockHeader = {
      chainId: this.params.chainId, height: b.height, time: b.time, prevHash: this.headHash,
      txRoot: !fill && b.txRoot ? b.txRoot : txRootOf(b.txs.map((t) => t.hash)), stateRoot: stateUpdate.root, receiptsRoot: receiptsRootOf(receiptBytes),
      proposer: b.proposer, validatorSetHash: validatorSetHash(this.validatorSet), nextValidatorSetHash: validatorSetHash(nextValidators),
      lastCommitHash: commitHash(b.lastCommit),
    };
    return { block: { header, txs: txBytes, lastCommit: b.lastCommit }, header, hash: headerHash(header), txs: b.txs, receipts: result.receipts, receiptBytes, writes: result.writes, stateUpdate, nextValidators };
  }

  /** Persists a block with its commit certificate (one atomic batch), then makes it the head. */
  async commitBlock(p: Proposal, commit: Commit): Promise<CommittedBlock> {
    if (this.commitInProgress) throw new NodeError('BLOCK_INVALID', 'another block is being committed');
    if (!equalBytes(commit.blockHash, p.hash)) throw new NodeError('BLOCK_INVALID', 'the commit is for another block');
    if (p.header.height !== this.height + 1n || !equalBytes(p.header.prevHash, this.headHash)) throw new NodeError('BLOCK_INVALID', 'the block does not extend the head');
    try {
      verifyCommit(p.header, commit, this.validators);
    } catch (e) {
      throw new NodeError('BLOCK_INVALID', (e as Error).message);
    }
    this.commitInProgress = true;
    this.commitsBegun++;
    for (const t of p.txs) this.committing.set(t.hashHex, t);
    this.mempool.remove(p.txs.map((t) => t.hashHex));
    const receipts = joinReceipts(p.receiptBytes);
    try {
      await this.store.commitBlock({
        height: p.header.height, hash: p.hash, block: encodeBlock(p.block), commit: encodeCommit(commit),
        receipts, txHashes: p.txs.map((t) => t.hash), writes: p.writes, stateUpdate: p.stateUpdate,
      });
    } catch (e) {
      // Not committed: its transactions are pending again (their records in the pool log stay).
      for (const t of p.txs) this.mempool.add(t, { force: true });
      throw e;
    } finally {
      this.committing.clear();
      this.commitInProgress = false;
    }
    this.state.apply(p.writes);
    this.auth.forgetIfTouched(p.writes);
    // In the window until the head reaches their validUntilBlock (those valid until this height: never).
    for (const t of p.txs) this.recent.add(t.hash, t.validUntilBlock, p.header.height);
    this.tree.adopt(p.stateUpdate);
    this.headHeader = p.header;
    this.headHash = p.hash;
    this.cacheReceipts(p.header.height, receipts);
    const changed = p.nextValidators !== this.validatorSet;
    this.previousValidatorSet = this.validatorSet;
    this.validatorSet = p.nextValidators;
    if (changed) this.emit('validators', p.nextValidators, p.header.height + 1n);
    // Answered as expired from the moment they leave the pool, not only once the store has them.
    for (const t of this.mempool.evictExpired(this.height)) this.expiring.set(t.hashHex, { hash: t.hash, validUntilBlock: t.validUntilBlock });
    if (this.expiring.size > 0) {
      // Best effort: the block is committed whatever happens here. What fails is tried again after the
      // next block, and a restart finds these expired anyway: their pool log segment stays until then.
      const marking = [...this.expiring];
      await this.store.markExpired(marking.map(([, t]) => t))
        .then(() => { for (const [h] of marking) this.expiring.delete(h); })
        .catch((e: Error) => this.warn(`could not record ${marking.length} expired transactions (tried again after the next block): ${e.message}`));
    }
    this.retirePoolLog();
    const done: CommittedBlock = { header: p.header, hash: p.hash, txs: p.txs, receipts: p.receipts, commit };
    this.emit('block', done);
    return done;
  }

  private cacheReceipts(height: bigint, joined: Uint8Array): { joined: Uint8Array; starts: Uint32Array | undefined } {
    const entry = { joined, starts: undefined };
    this.receiptCache.set(height, entry);
    if (this.receiptCache.size > 4) this.receiptCache.delete(this.receiptCache.keys().next().value!);
    return entry;
  }

  private receiptAt(height: bigint, index: number): Receipt {
    const r = this.receiptCache.get(height) ?? this.cacheReceipts(height, this.store.receipts(height)!);
    const starts = r.starts ??= receiptOffsets(r.joined);
    return decodeReceipt(r.joined.subarray(starts[index], starts[index + 1]));
  }

  txStatus(hash: Uint8Array): TxStatus {
    const h = hex(hash);
    const loc = this.store.txLocation(hash);
    if (loc) return { status: 'committed', height: loc.height, index: loc.index, blockHash: loc.blockHash, receipt: this.receiptAt(loc.height, loc.index) };
    const pending = this.mempool.get(h) ?? this.committing.get(h);
    if (pending) return { status: 'pending', validUntilBlock: pending.validUntilBlock };
    const expiredAt = this.expiring.get(h)?.validUntilBlock ?? this.store.expiredAt(hash);
    if (expiredAt !== undefined) return { status: 'expired', validUntilBlock: expiredAt };
    return { status: 'unknown' };
  }

  block(height: bigint): { block: Block; commit: Commit; hash: Uint8Array; receipts: Receipt[] } | undefined {
    const b = this.store.block(height);
    if (!b) return undefined;
    const block = decodeBlock(b);
    return { block, commit: decodeCommit(this.store.commit(height)!), hash: headerHash(block.header), receipts: decodeReceipts(this.store.receipts(height)!) };
  }

  blockByHash(hash: Uint8Array): ReturnType<ChainNode['block']> {
    const height = this.store.heightOf(hash);
    return height === undefined ? undefined : this.block(height);
  }

  /** A read-only contract call at the head. */
  call(contract: Uint8Array, method: string, input: Uint8Array, caller?: Uint8Array) {
    return this.executor.query(this.state, contract, method, input, this.context(), caller, this.params.maxTxGas);
  }

  /** A Merkle proof of a contract storage entry (or its absence) at a retained height, with the header it is anchored in. */
  stateProof(contract: Uint8Array, key: Uint8Array, height = this.height): { proof: StateProof; value: Uint8Array | null; header: BlockHeader; commit: Commit } {
    const found = this.block(height);
    if (!found) throw new NodeError('NOT_FOUND', `no block at height ${height}`);
    const k = stateKey(contract, key);
    const proof = this.tree.prove(k, found.block.header.stateRoot);
    return { proof, value: this.tree.get(k, found.block.header.stateRoot) ?? null, header: found.block.header, commit: found.commit };
  }

  /**
   * Recomputes the state root from the flat state and compares it with the head block's: the check
   * that the state and the blocks on disk agree (after a crash, say). Costs a pass over all state.
   */
  checkIntegrity(): { ok: boolean; stateRoot: Uint8Array; computedRoot: Uint8Array; entries: number } {
    const tree = new StateTree(new MemoryNodeStore());
    const entries: Array<{ key: Uint8Array; value: Uint8Array }> = [];
    for (const c of this.contracts.all()) for (const e of this.state.entriesOf(c.address)) entries.push({ key: stateKey(c.address, e.key), value: e.value });
    const { root } = tree.update(entries);
    return { ok: equalBytes(root, this.headHeader.stateRoot), stateRoot: this.headHeader.stateRoot, computedRoot: root, entries: entries.length };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.verifier.close();
    await this.poolLog?.close();
    await this.store.close();
  }
}

/** A contract storage entry as the state tree keys it: contract address ‖ storage key. */
export function stateKey(contract: Uint8Array, key: Uint8Array): Uint8Array {
  const k = pooledBytes(32 + key.length);
  k.set(contract);
  k.set(key, 32);
  return k;
}

function stateEntry(w: StorageWrite): { key: Uint8Array; value: Uint8Array | null } {
  return { key: stateKey(w.contract, w.key), value: w.value };
}

