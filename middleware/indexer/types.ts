/**
 * What the indexer reads and what it keeps. A ChainBlock is a committed block as any source gives it
 * (in-process node or RPC); rows are the indexed records the query API and the event stream serve.
 * Addresses and hashes are lower-case 0x-hex; amounts are decimal strings (they exceed 2^53).
 */

export interface ChainEvent {
  /** Contract name (system contracts) or 0x-address. */
  contract: string;
  name: string;
  /** Topics after the name, as text. */
  topics: string[];
  /** The data decoded through the contract's ABI, as JSON (bytes 0x-hex, 64/128-bit integers decimal strings). */
  data: unknown;
}

export interface ChainTx {
  hash: string;
  sender: string;
  contract: string;
  method: string;
  ok: boolean;
  error: string | null;
  gasUsed: number;
  events: ChainEvent[];
}

export interface ChainBlock {
  height: number;
  hash: string;
  /** Milliseconds since the epoch. */
  time: number;
  proposer: string;
  txs: ChainTx[];
}

/**
 * A place in the chain's stream of items: block `height`, transaction `tx`, and `slot` (0 the
 * transaction itself, 1.. its events). A block's own item comes after all of its transactions.
 */
export interface Cursor { height: number; tx: number; slot: number }

export const BLOCK_SLOT_TX = 0x3fffffff;

export function cursorText(c: Cursor): string {
  return `${c.height}.${c.tx}.${c.slot}`;
}

export function parseCursor(s: string): Cursor | undefined {
  const m = /^(\d{1,15})\.(\d{1,10})\.(\d{1,10})$/.exec(s);
  if (!m) return undefined;
  const c = { height: Number(m[1]), tx: Number(m[2]), slot: Number(m[3]) };
  return c.tx <= BLOCK_SLOT_TX && c.slot <= BLOCK_SLOT_TX ? c : undefined;
}

export function compareCursors(a: Cursor, b: Cursor): number {
  return a.height - b.height || a.tx - b.tx || a.slot - b.slot;
}

/** One item of the stream subscribers follow: a committed block, a transaction, or a contract event. */
export type StreamItem =
  | { kind: 'block'; cursor: string; height: number; hash: string; time: number; txCount: number }
  | { kind: 'tx'; cursor: string; height: number; index: number; time: number; hash: string; sender: string; contract: string; method: string; ok: boolean; error: string | null }
  | { kind: 'event'; cursor: string; height: number; index: number; time: number; txHash: string; sender: string; contract: string; name: string; topics: string[]; data: unknown };

/** Sent on the stream every few seconds and through a replay's skipped items: everything up to `cursor` has been sent. */
export interface Heartbeat { kind: 'heartbeat'; cursor: string; height: number }

export interface EvidenceRow {
  key: string;
  digest: string;
  registrant: string;
  meta: string;
  /** 'registered' (single), 'pending' / 'effective' / 'revoked' (multi-party records). */
  status: 'registered' | 'pending' | 'effective' | 'revoked';
  height: number;
  time: number;
  txHash: string;
  chain: string | null;
  index: number | null;
  prev: string | null;
  custody: string | null;
  timestampToken: string | null;
  parties: string[];
}

export interface IdentityRow {
  address: string;
  id: number;
  name: string | null;
  registeredBy: string;
  userPartner: string;
  createdAt: number;
  frozen: boolean;
}

export interface CertificationRow {
  address: string;
  partner: string;
  level: number;
  identityDigest: string;
  certifiedAt: number;
  revoked: boolean;
}

export interface VoucherRow {
  id: number;
  symbol: string;
  name: string;
  issuer: string;
  divisible: boolean;
  createdAt: number;
}

export interface HoldingRow {
  symbol: string;
  holder: string;
  /** Decimal string. */
  balance: string;
}

export interface ItemRow {
  symbol: string;
  itemId: string;
  owner: string;
  redeemed: boolean;
}

export interface TxRow {
  hash: string;
  height: number;
  index: number;
  time: number;
  sender: string;
  contract: string;
  method: string;
  ok: boolean;
  error: string | null;
}

/** Everything one block changes in the index, applied atomically with the indexed height. */
export interface IndexBatch {
  height: number;
  hash: string;
  time: number;
  stream: StreamItem[];
  txs: TxRow[];
  evidence: EvidenceRow[];
  identities: IdentityRow[];
  certifications: CertificationRow[];
  /** Certifications revoked in the block (applied before `certifications`, which may renew one). */
  revocations: Array<{ address: string; partner: string }>;
  vouchers: VoucherRow[];
  /** Balances after the block, for every holding it touched. */
  holdings: HoldingRow[];
  items: ItemRow[];
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

export interface PageOptions {
  limit?: number;
  after?: string;
}

export type EvidenceQuery = PageOptions & ({ digest: string } | { registrant: string; from?: number; to?: number } | { chain: string } | { from?: number; to?: number });

export type IdentityQuery = PageOptions & ({ name: string } | { partner: string; level?: number });

export interface StreamFilter {
  kinds?: ReadonlyArray<StreamItem['kind']>;
  contract?: string;
  /** Matches an event's name or any of its topics. */
  topic?: string;
  /** Matches a transaction's sender, or an event of a transaction sent by it or naming it in a topic. */
  account?: string;
}

/** Where the index is kept: embedded (LevelDB) or PostgreSQL. One interface, one conformance test. */
export interface IndexStore {
  /** The last block applied (-1 before the first). */
  indexedHeight(): Promise<number>;
  apply(batch: IndexBatch): Promise<void>;
  balance(symbol: string, holder: string): Promise<bigint>;
  evidenceByKey(key: string): Promise<EvidenceRow | undefined>;
  evidence(q: EvidenceQuery): Promise<Page<EvidenceRow>>;
  identity(address: string): Promise<(IdentityRow & { certifications: CertificationRow[] }) | undefined>;
  identities(q: IdentityQuery): Promise<Page<IdentityRow & { level?: number }>>;
  vouchers(q: PageOptions & { issuer?: string }): Promise<Page<VoucherRow>>;
  holdings(q: PageOptions & ({ holder: string } | { symbol: string })): Promise<Page<HoldingRow>>;
  items(q: PageOptions & ({ owner: string } | { symbol: string })): Promise<Page<ItemRow>>;
  transaction(hash: string): Promise<TxRow | undefined>;
  transactions(q: PageOptions & { account: string }): Promise<Page<TxRow>>;
  /**
   * Stream items after `after`, in order, matching `filter`: up to `limit` of them, looking at a bounded
   * number of items. `scannedTo`: the last position looked at; `exhausted`: nothing is stored beyond it.
   */
  stream(after: Cursor, limit: number, filter: StreamFilter): Promise<{ items: StreamItem[]; scannedTo: Cursor | undefined; exhausted: boolean }>;
  close(): Promise<void>;
}

export class QueryError extends Error {
  readonly code: string;
  constructor(code: 'BAD_QUERY' | 'NOT_FOUND' | 'BAD_CURSOR', message: string) {
    super(message);
    this.name = 'QueryError';
    this.code = code;
  }
}

export type IndexStoreErrorCode =
  | 'INDEX_STORE_UNAVAILABLE' // cannot reach or log in to the database (or the store is closed)
  | 'INDEX_STORE_FAILED' // the database refused a statement
  | 'INDEX_STORE_CONFIG' // a bad URL or option
  | 'INDEX_SCHEMA_MISMATCH' // the schema was written by a newer version of this store
  | 'INDEX_HEIGHT_MISMATCH'; // a block that does not follow the indexed height

export class IndexStoreError extends Error {
  readonly code: IndexStoreErrorCode;
  constructor(code: IndexStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IndexStoreError';
    this.code = code;
  }
}

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new QueryError('BAD_QUERY', `limit must be 1 to ${MAX_PAGE}`);
  return limit;
}

/** Whether a stream item passes a filter (the store's replay and the live hub use the same test). */
export function matches(item: StreamItem, f: StreamFilter): boolean {
  if (f.kinds && !f.kinds.includes(item.kind)) return false;
  if (f.contract !== undefined) {
    if (item.kind === 'block' || item.contract !== f.contract) return false;
  }
  if (f.topic !== undefined) {
    if (item.kind !== 'event' || (item.name !== f.topic && !item.topics.includes(f.topic))) return false;
  }
  if (f.account !== undefined) {
    if (item.kind === 'block') return false;
    if (item.sender !== f.account && !(item.kind === 'event' && item.topics.some((t) => `0x${t}` === f.account || t === f.account))) return false;
  }
  return true;
}
