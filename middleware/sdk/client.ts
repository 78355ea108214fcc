/**
 * The partner client: the node's RPC over HTTP (RpcClient) for calls, and one WebSocket, reopened
 * whenever it drops, for subscriptions and for waiting on transactions. Web globals only: runs in
 * Node 24 and in browsers.
 */
import { RpcClient } from '../../node/rpc/client.ts';
import { decode } from '../../contracts/sdk/codec.ts';
import { TX_STRUCTS, transactionHash, type Transaction } from '../../node/tx/encoding.ts';
import { proofFromJSON, verifyProof } from '../../node/state/proof.ts';
import { type ContractAbi, decodeReturn, encodeArgs } from './abi.ts';
import { type Bytes, bytesOf, equalBytes, fromHex, randomNonce, toHex } from './bytes.ts';
import { CallFailedError, SdkError, TxExpiredError, TxFailedError, errorCode } from './errors.ts';
import { ContractClient, type ContractOptions, type ContractProxy, contractProxy } from './contract.ts';
import { type ConnectionState, type LiveSubscription, type SubscribeOptions, SubscriptionHub } from './subscriptions.ts';
import { TxTracker, aborted, type TrackOptions } from './tracker.ts';
import { BLOCK_SLOT_TX, cursorText, type StreamFilter, type StreamItem } from '../indexer/types.ts';
import { EventStream, pauseUnless } from '../events/client.ts';
import { type BuiltBundle, buildBundle } from '../proofs/build.ts';
import type { RecordParams } from '../proofs/records.ts';
import type { Trust } from '../proofs/verify.ts';
import type {
  Block, BlockItem, ChainStatus, ContractInfo, EventItem, StateProof, TxCommitted, TxFinal, TxItem, TxStatus,
} from './types.ts';
import type { SignedTransaction, Wallet } from './wallet.ts';

export interface ClientOptions {
  /** The node's RPC URL, e.g. http://127.0.0.1:8645/ */
  url: string;
  /** The WebSocket URL; default: the RPC URL with ws(s):// and /ws. false: HTTP only (waiting polls tx_get). */
  wsUrl?: string | false;
  /** A proxy node's API key: sent as x-api-key over HTTP and ?api_key= on the WebSocket URL (browsers cannot set its headers). */
  apiKey?: string;
  /** Per RPC call. Default 30 s. */
  timeoutMs?: number;
  /** Signs transactions unless a call names another wallet. */
  wallet?: Wallet;
  /** Blocks a transaction stays valid for (SPEC C4), capped by the chain's validity window. Default 20. */
  validFor?: number;
  /** How often tx_get is polled while there is no WebSocket. Default: half the block time, 100 ms to 1 s. */
  pollIntervalMs?: number;
  /** Reconnection and keep-alive of the WebSocket (see SubscriptionHub). */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  keepAliveMs?: number;
  /** tx_send retries on BUSY, rate limits, NODE_BEHIND and transport failures (the same bytes, so never twice). Default 3. */
  sendRetries?: number;
  /**
   * The middleware service's RPC URL (its index and query API): needed by `waitForIndexer`, and
   * reachable as `client.index` for queries. Sent the same API key.
   */
  indexUrl?: string;
}

export interface StreamOptions {
  /** Start after this cursor (an item's `cursor`): the middleware replays everything since. Default: from the call. */
  after?: string;
  /** Silence longer than this (no item, no heartbeat) counts as a dead connection. Default 35 s. */
  quietMs?: number;
  /** Each (re)connection and loss, for logs. */
  onState?: (state: { connected: boolean; cursor: string | undefined; reason?: string }) => void;
}

export interface WaitOptions extends TrackOptions {
  /**
   * Also wait until the middleware's index holds the block of a committed transaction, so that
   * queries through it read this write (SPEC M3). Needs ClientOptions.indexUrl.
   */
  waitForIndexer?: boolean;
}

export interface TxOptions {
  /** Default: the client's wallet. */
  wallet?: Wallet;
  /** Blocks from the current head the transaction stays valid for. */
  validFor?: number;
  /** An exact validUntilBlock instead of validFor. */
  validUntilBlock?: number;
  /** Default: random (SPEC C4). */
  nonce?: bigint;
}

export interface SubmitOptions extends TxOptions, WaitOptions {}

export interface CallOptions {
  /** The caller the view sees (Context.caller()); default none. */
  caller?: Bytes;
}

export interface CallResult {
  /** The contract's name. */
  contract: string;
  ok: boolean;
  /** The result decoded through the ABI (bigint, Uint8Array, ...); undefined when the call failed. */
  value: unknown;
  /** The same as JSON, as the node gave it (bytes as 0x-hex, big integers as numbers or decimal strings). */
  result: unknown;
  /** The raw output, 0x-hex. */
  output: string;
  gasUsed: number;
  /** The deterministic failure text (see parseFailure), or null. */
  error: string | null;
  /** Whether the method is a view (otherwise this was a dry run, and any write failed it). */
  readOnly: boolean;
}

/** A transaction the node accepted: pending until its final answer. */
export interface PendingTx {
  hash: string;
  validUntilBlock: number;
  /** The sender, 0x-hex, when known: waiting then uses its transactions' subscription. */
  sender: string | undefined;
  /** The committed answer of a successful transaction; throws TxFailedError (committed, failed) or TxExpiredError. */
  wait(options?: WaitOptions): Promise<TxCommitted>;
  /** The final answer, whatever it is: committed (check receipt.status) or expired. */
  outcome(options?: WaitOptions): Promise<TxFinal>;
}

export interface ResolvedContract {
  name: string;
  address: Uint8Array;
  addressHex: string;
  abi: ContractAbi;
}

const RETRYABLE_SEND = new Set(['BUSY', 'NODE_BEHIND', 'RPC_RATE_LIMITED', 'RPC_TIMEOUT', 'RPC_TRANSPORT_ERROR', 'RPC_SHUTTING_DOWN', 'RPC_TOO_MANY_CONNECTIONS']);

export class BropClient {
  readonly rpc: RpcClient;
  /** The middleware's query API (ClientOptions.indexUrl), if given: `client.index.call('evidence_get', { key })`. */
  readonly index: RpcClient | undefined;
  readonly wallet: Wallet | undefined;
  private readonly hub: SubscriptionHub | undefined;
  private readonly streams = new Set<EventStream>();
  private readonly apiKey: string | undefined;
  private readonly minReconnectDelayMs: number | undefined;
  private readonly maxReconnectDelayMs: number | undefined;
  private readonly tracker: TxTracker;
  private readonly validFor: number;
  private readonly sendRetries: number;
  private readonly abis = new Map<string, Promise<ResolvedContract>>();
  private chain: { chainId: string; validityWindow: number; blockTimeMs: number } | undefined;
  private readonly pollIntervalMs: number | undefined;
  private readonly timeoutMs: number;
  private closed = false;
  /** Aborted by close(): ends waits that are in a call or a pause at once. */
  private readonly closing = new AbortController();

  constructor(options: ClientOptions) {
    const headers = options.apiKey ? { 'x-api-key': options.apiKey } : undefined;
    this.rpc = new RpcClient(options.url, { timeoutMs: options.timeoutMs, headers });
    this.index = options.indexUrl === undefined ? undefined : new RpcClient(options.indexUrl, { timeoutMs: options.timeoutMs, headers });
    this.wallet = options.wallet;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.validFor = options.validFor ?? 20;
    this.sendRetries = options.sendRetries ?? 3;
    this.pollIntervalMs = options.pollIntervalMs;
    const ws = options.wsUrl === false ? undefined : withApiKey(options.wsUrl ?? wsUrlOf(options.url), options.apiKey);
    this.apiKey = options.apiKey;
    this.minReconnectDelayMs = options.minReconnectDelayMs;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs;
    this.hub = ws === undefined ? undefined : new SubscriptionHub(ws, {
      timeoutMs: options.timeoutMs, minReconnectDelayMs: options.minReconnectDelayMs, maxReconnectDelayMs: options.maxReconnectDelayMs, keepAliveMs: options.keepAliveMs,
    });
    this.tracker = new TxTracker(this.rpc, this.hub, () => this.pollIntervalMs ?? Math.min(1000, Math.max(100, (this.chain?.blockTimeMs ?? 1000) / 2)));
  }

  /** The WebSocket's state: what subscriptions and waits are running on. */
  get connection(): ConnectionState {
    return this.hub?.state ?? 'closed';
  }

  /**
   * Tells `listener` of each change of the WebSocket's state ('reconnecting' when the node went away,
   * 'open' once it is back): for a program to say so; subscriptions and waits resume by themselves.
   * Returns the function that stops it. A client without a WebSocket never calls it.
   */
  onConnection(listener: (state: ConnectionState) => void): () => void {
    return this.hub?.onState(listener) ?? (() => undefined);
  }

  /** Ends subscriptions and waits (SDK_CLOSED) and the WebSocket. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    this.tracker.close();
    await Promise.all([this.hub?.close(), ...[...this.streams].map((s) => s.close())]);
  }

  // ---- reading the chain ----

  async status(): Promise<ChainStatus> {
    const s = await this.rpc.call<ChainStatus>('chain_status');
    this.chain = { chainId: s.chainId, validityWindow: s.validityWindow, blockTimeMs: s.blockTimeMs };
    return s;
  }

  /** A block by height or hash (default: the head); `full` adds decoded transactions and receipts. */
  block(ref?: number | string, options: { full?: boolean } = {}): Promise<Block> {
    const at = ref === undefined ? {} : typeof ref === 'number' ? { height: ref } : { hash: ref };
    return this.rpc.call<Block>('chain_block', { ...at, ...(options.full ? { full: true } : {}) });
  }

  getTx(hash: string): Promise<TxStatus> {
    return this.rpc.call<TxStatus>('tx_get', { hash });
  }

  contracts(): Promise<ContractInfo[]> {
    return this.rpc.call<ContractInfo[]>('contract_list');
  }

  /** A contract's name, address and ABI (by name or 0x-address), fetched once per client. */
  resolveContract(contract: string | ResolvedContract): Promise<ResolvedContract> {
    if (typeof contract !== 'string') return Promise.resolve(contract);
    let r = this.abis.get(contract);
    if (!r) {
      r = this.rpc.call<{ name: string; address: string; abi: ContractAbi }>('contract_abi', { contract })
        .then((c) => ({ name: c.name, address: fromHex(c.address, 32, 'contract address'), addressHex: c.address, abi: c.abi }));
      this.abis.set(contract, r);
      r.catch(() => this.abis.delete(contract)); // a failure is not remembered
    }
    return r;
  }

  /**
   * A read-only call at the head. Arguments are encoded and the result decoded here, through the ABI
   * (u64 as bigint, bytes as Uint8Array). A failing call throws CallFailedError with the chain's code.
   */
  async call(contract: string | ResolvedContract, method: string, args: readonly unknown[] | Record<string, unknown> = [], options: CallOptions = {}): Promise<unknown> {
    const r = await this.callResult(contract, method, args, options);
    if (!r.ok) throw new CallFailedError(r.contract, method, r.error, r.gasUsed);
    return r.value;
  }

  /** call() with a failure as data instead of an error: the node's whole answer, and the decoded value. */
  async callResult(contract: string | ResolvedContract, method: string, args: readonly unknown[] | Record<string, unknown> = [], options: CallOptions = {}): Promise<CallResult> {
    const c = await this.resolveContract(contract);
    const input = encodeArgs(c.abi, method, args);
    const r = await this.rpc.call<Omit<CallResult, 'value' | 'contract'>>('contract_call', {
      contract: c.addressHex, method, input: toHex(input), ...(options.caller === undefined ? {} : { caller: toHex(bytesOf(options.caller, 32, 'caller')) }),
    });
    return { ...r, contract: c.name, value: r.ok ? decodeReturn(c.abi, method, fromHex(r.output)) : undefined };
  }

  /**
   * A self-contained proof bundle of a registry record (SPEC M4; docs/proofs.md): an evidence record,
   * an account, a certification, a voucher balance or item, a holdings commitment. Built from the
   * node's state proofs and certified validator-set changes, and verified before it is returned (with
   * `trust`, against the chain's genesis validator set). Anyone checks its `text` offline with
   * `verifyBundle` (here, in a browser, or `brop verify`). Failures are ProofErrors (`PROOF_*`).
   */
  proofBundle(record: RecordParams, options: { height?: number; trust?: Trust } = {}): Promise<BuiltBundle> {
    return buildBundle(this.rpc, record, options);
  }

  /**
   * A contract storage entry (or its absence) with its proof, checked here against the header's state
   * root (STATE_PROOF_INVALID otherwise). The commit certificate is returned, not checked: for a record
   * proven from the genesis validator set, use `proofBundle`.
   */
  async stateProof(contract: string | ResolvedContract, key: Bytes, options: { height?: number } = {}): Promise<StateProof> {
    const c = await this.resolveContract(contract);
    const k = bytesOf(key, undefined, 'key');
    const r = await this.rpc.call<Omit<StateProof, 'value'> & { value: string | null }>('state_proof', {
      contract: c.addressHex, key: toHex(k), ...(options.height === undefined ? {} : { height: options.height }),
    });
    const stateKey = new Uint8Array(32 + k.length);
    stateKey.set(c.address);
    stateKey.set(k, 32);
    if (r.stateKey !== toHex(stateKey)) throw new SdkError('SDK_BAD_RESPONSE', 'the node proved another state key');
    const proven = verifyProof(fromHex(r.header.stateRoot, 32, 'stateRoot'), stateKey, proofFromJSON(r.proof));
    const claimed = r.value === null ? null : fromHex(r.value);
    if ((proven === null) !== (claimed === null) || (proven && claimed && !equalBytes(proven, claimed))) {
      throw new SdkError('SDK_BAD_RESPONSE', 'the node\'s value differs from what its proof proves');
    }
    return { ...r, value: proven };
  }

  // ---- transactions ----

  /** Builds and signs a call of `method` (arguments through the ABI) without sending it. */
  async buildTx(contract: string | ResolvedContract, method: string, args: readonly unknown[] | Record<string, unknown>, options: TxOptions = {}): Promise<SignedTransaction> {
    const wallet = options.wallet ?? this.wallet;
    if (!wallet) throw new SdkError('SDK_NO_WALLET', `${typeof contract === 'string' ? contract : contract.name}.${method} is a transaction: give the client or the call a wallet`);
    const c = await this.resolveContract(contract);
    const encoded = encodeArgs(c.abi, method, args); // before any other round trip: bad arguments fail fast
    let validUntilBlock = options.validUntilBlock;
    let chainId: string;
    if (validUntilBlock === undefined) {
      // The head now: a transaction is valid while height < validUntilBlock <= height + window.
      const s = await this.status();
      chainId = s.chainId;
      validUntilBlock = s.height + Math.max(1, Math.min(options.validFor ?? this.validFor, s.validityWindow));
    } else {
      chainId = (await this.chainInfo()).chainId;
    }
    return wallet.signTransaction({ chainId, nonce: options.nonce ?? randomNonce(), validUntilBlock: BigInt(validUntilBlock), contract: c.address, method, args: encoded });
  }

  /**
   * Sends a signed transaction (built here, or signed elsewhere: its canonical bytes or hex).
   * Node refusals throw the node's RpcError unchanged (TX_*, BUSY, NODE_BEHIND). Transient failures are
   * retried with the same bytes: a transaction is never accepted twice, so a retry after a lost answer
   * either is accepted or answers TX_DUPLICATE, which then means that the first attempt was.
   */
  async sendTx(signed: SignedTransaction | Uint8Array | string): Promise<PendingTx> {
    const s = typeof signed === 'string' || signed instanceof Uint8Array ? readSigned(signed) : signed;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.rpc.call('tx_send', { tx: s.raw });
        break;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'TX_DUPLICATE' && attempt > 0) break;
        if (!RETRYABLE_SEND.has(code ?? '') || attempt >= this.sendRetries) throw e;
        await sleep(Math.min(2000, 200 * 2 ** attempt));
      }
    }
    return this.pending(s.hash, Number(s.tx.validUntilBlock), toHex(s.tx.sender));
  }

  /** A handle on a transaction already sent (by hash and validUntilBlock), e.g. after a restart of the application. */
  pending(hash: string, validUntilBlock: number, sender?: string): PendingTx {
    const outcome = async (options: WaitOptions = {}) => {
      const final = await this.tracker.wait(hash, validUntilBlock, sender, options);
      if (options.waitForIndexer && final.status === 'committed') await this.indexed(final.height, hash, options.signal);
      return final;
    };
    return {
      hash, validUntilBlock, sender,
      outcome,
      wait: async (options?: WaitOptions) => {
        const final = await outcome(options);
        if (final.status === 'expired') throw new TxExpiredError(final.hash, final.validUntilBlock, final.height);
        if (final.receipt.status !== 'ok') throw new TxFailedError(final);
        return final;
      },
    };
  }

  /** Builds, signs and sends a call; returns once the node has accepted it. */
  async send(contract: string | ResolvedContract, method: string, args: readonly unknown[] | Record<string, unknown>, options: TxOptions = {}): Promise<PendingTx> {
    return this.sendTx(await this.buildTx(contract, method, args, options));
  }

  /**
   * SPEC M3 in one call: build, sign, send, and wait for the final answer. Resolves with the committed
   * answer (receipt with events, gas, quota) of a successful transaction; throws TxFailedError if it
   * was committed but failed, TxExpiredError if the chain passed validUntilBlock without it, and the
   * node's RpcError if it was refused.
   */
  async submitAndWait(contract: string | ResolvedContract, method: string, args: readonly unknown[] | Record<string, unknown>, options: SubmitOptions = {}): Promise<TxCommitted> {
    this.checkWait(options);
    const pending = await this.send(contract, method, args, options);
    return pending.wait(options);
  }

  /** submitAndWait for a transaction signed elsewhere. */
  async submitSignedAndWait(signed: SignedTransaction | Uint8Array | string, options: WaitOptions = {}): Promise<TxCommitted> {
    this.checkWait(options);
    return (await this.sendTx(signed)).wait(options);
  }

  /** Refuses, before anything is sent, a wait that could only fail after the transaction committed. */
  checkWait(options: WaitOptions): void {
    if (options.waitForIndexer && !this.index) throw new SdkError('SDK_NO_INDEXER', 'waitForIndexer needs the middleware service\'s URL (ClientOptions.indexUrl)');
  }

  // ---- contracts ----

  /**
   * A contract as an object whose methods are the ABI's: views return their decoded result, calls are
   * submitted and waited for (a trailing extra argument is SubmitOptions). `$send.method(...)` only
   * sends; `$` is the underlying ContractClient. Generated wrappers (`brop sdk generate`) type the same.
   */
  contract(contract: string, options: ContractOptions = {}): ContractProxy {
    return contractProxy(new ContractClient(this, contract, options));
  }

  // ---- subscriptions ----

  /** Every committed block. */
  async subscribeBlocks(onBlock: (block: BlockItem) => void, options?: SubscribeOptions): Promise<LiveSubscription> {
    return this.requireHub().subscribe<BlockItem>('blocks', {}, onBlock, (b) => ({ height: b.header.height }), options);
  }

  /** Committed transactions, optionally of one sender (0x-address) or contract (name or address). */
  async subscribeTxs(filter: { sender?: string; contract?: string }, onTx: (tx: TxItem) => void, options?: SubscribeOptions): Promise<LiveSubscription> {
    return this.requireHub().subscribe<TxItem>('txs', clean(filter), onTx, (t) => ({ height: t.height, tx: t.index }), options);
  }

  /** Contract events of committed transactions, optionally of one contract and with one topic (the event name is topic 0). */
  async subscribeEvents(filter: { contract?: string; topic?: string }, onEvent: (event: EventItem) => void, options?: SubscribeOptions): Promise<LiveSubscription> {
    return this.requireHub().subscribe<EventItem>('events', clean({ contract: filter.contract, eventTopic: filter.topic }), onEvent, (e) => ({ ...e.cursor }), options);
  }

  /**
   * Resolves once the middleware's index holds block `height`. A middleware that restarts or catches
   * up is waited for; one unreachable for the client's `timeoutMs` on end is SDK_NO_INDEXER, whose
   * `data` says the transaction is committed (`hash`, `height`), so that nobody sends it again. The
   * caller's signal and close() end the wait at once, a call in flight included.
   */
  private async indexed(height: number, hash: string, signal: AbortSignal | undefined): Promise<void> {
    const committed = { hash, height };
    if (!this.index) throw new SdkError('SDK_NO_INDEXER', `waitForIndexer needs the middleware service's URL (ClientOptions.indexUrl); transaction ${hash} is committed at height ${height}`, committed);
    const stop = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    const stopped = (): Error | undefined => {
      if (this.closed) return new SdkError('SDK_CLOSED', `the client was closed while waiting for the index to hold transaction ${hash} (committed at height ${height})`, committed);
      if (signal?.aborted) return aborted(hash);
      return undefined;
    };
    let failingSince: number | undefined;
    let pause = 50;
    for (;;) {
      const early = stopped();
      if (early) throw early;
      // A middleware that stopped answering gets what is left of timeoutMs, not a whole timeoutMs per call.
      const left = failingSince === undefined ? this.timeoutMs : failingSince + this.timeoutMs - Date.now();
      try {
        const status = await this.index.call<{ indexedHeight: number }>('index_status', undefined, { signal: AbortSignal.any([stop, AbortSignal.timeout(Math.max(1, left))]) });
        if (status.indexedHeight >= height) return;
        failingSince = undefined;
        pause = 50;
      } catch (e) {
        const late = stopped();
        if (late) throw late;
        const code = errorCode(e);
        // Not a middleware service at all: waiting would never end.
        if (code === 'RPC_METHOD_NOT_FOUND') throw new SdkError('SDK_NO_INDEXER', `${this.index.url} has no index_status: is indexUrl the middleware service? (transaction ${hash} is committed at height ${height})`, committed);
        failingSince ??= Date.now();
        if (Date.now() - failingSince >= this.timeoutMs) {
          throw new SdkError('SDK_NO_INDEXER', `the middleware at ${this.index.url} did not answer for ${this.timeoutMs} ms (${code}); transaction ${hash} is committed at height ${height}`, committed);
        }
        pause = Math.min(1000, pause * 2);
      }
      await pauseUnless(stop, pause);
    }
  }

  /**
   * The middleware's event stream (SPEC M2; needs indexUrl): blocks, transactions and events as
   * indexed, filtered by kind, contract, topic and account, exactly once across reconnects (the
   * middleware's EventStream: it resumes after the last cursor it got). `stream.cursor` is that
   * cursor: keep it to resume after a restart of the application (`after`). Closed with the client.
   */
  async stream(filter: StreamFilter, onItem: (item: StreamItem) => void, options: StreamOptions = {}): Promise<EventStream> {
    if (!this.index) throw new SdkError('SDK_NO_INDEXER', 'the event stream is the middleware service\'s: give ClientOptions.indexUrl');
    if (this.closed) throw new SdkError('SDK_CLOSED', 'the client is closed');
    const notIndexer = (e: unknown) => errorCode(e) === 'RPC_METHOD_NOT_FOUND' ? new SdkError('SDK_NO_INDEXER', `${this.index!.url} has no event stream: is indexUrl the middleware service?`) : e;
    // "From now" means from this call (EventStream alone pins it when it connects): after the block the index holds now.
    const indexed = options.after === undefined ? (await this.index.call<{ indexedHeight: number }>('index_status').catch((e) => { throw notIndexer(e); })).indexedHeight : 0;
    const after = options.after ?? (indexed < 0 ? '0.0.0' : cursorText({ height: indexed, tx: BLOCK_SLOT_TX, slot: 0 }));
    // The first subscription is waited for: a filter or cursor the middleware refuses, or a middleware
    // that cannot be reached, is this call's error; after that the stream reconnects by itself.
    const s = new EventStream(withApiKey(wsUrlOf(this.index.url), this.apiKey), onItem, {
      ...filter, after, quietMs: options.quietMs, onState: options.onState, backoffMs: this.minReconnectDelayMs, maxBackoffMs: this.maxReconnectDelayMs, failFirst: true, timeoutMs: this.timeoutMs,
    });
    this.streams.add(s);
    try {
      await s.ready;
    } catch (e) {
      this.streams.delete(s);
      throw this.closed ? new SdkError('SDK_CLOSED', 'the client was closed before the stream was subscribed') : notIndexer(e);
    }
    if (this.closed) throw new SdkError('SDK_CLOSED', 'the client was closed before the stream was subscribed');
    return s;
  }

  private requireHub(): SubscriptionHub {
    if (!this.hub) throw new SdkError('SDK_CLOSED', 'this client has no WebSocket (wsUrl: false): subscriptions need one');
    return this.hub;
  }

  private async chainInfo(): Promise<{ chainId: string; validityWindow: number; blockTimeMs: number }> {
    return this.chain ?? (await this.status());
  }
}

/** A signed transaction from its canonical bytes (or hex): what sendTx needs to know of it. */
function readSigned(raw: Uint8Array | string): SignedTransaction {
  const bytes = typeof raw === 'string' ? fromHex(raw, undefined, 'transaction') : raw;
  let tx: Transaction;
  try {
    tx = decode({ struct: 'Transaction' }, bytes, TX_STRUCTS) as Transaction;
  } catch (e) {
    throw new SdkError('BAD_ARGUMENTS', `not a transaction's canonical encoding: ${(e as Error).message}`);
  }
  return { tx, bytes, raw: toHex(bytes), hash: toHex(transactionHash(bytes)) };
}

function wsUrlOf(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  return u.toString();
}

function withApiKey(wsUrl: string, apiKey: string | undefined): string {
  if (!apiKey) return wsUrl;
  const u = new URL(wsUrl);
  u.searchParams.set('api_key', apiKey);
  return u.toString();
}

function clean(filter: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
