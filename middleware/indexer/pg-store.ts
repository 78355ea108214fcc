/**
 * The PostgreSQL index, for operators at scale: many readers, a server they already run, back up and
 * watch. Same contract as the embedded LevelDB store (both pass store-conformance.ts): one table per
 * record kind with indexes matching the queries, keyset paging, a block's rows and the new indexed height
 * in one transaction. Derived data: the schema can be dropped and the index rebuilt from the chain.
 */
import { Pool, type PoolClient, escapeIdentifier } from 'pg';
import {
  type CertificationRow, type Cursor, type EvidenceQuery, type EvidenceRow, type HoldingRow, type IdentityQuery, type IdentityRow,
  type IndexBatch, type IndexStore, type ItemRow, type Page, type PageOptions, type StreamFilter, type StreamItem, type TxRow,
  type VoucherRow, QueryError, pageLimit, parseCursor,
} from './types.ts';

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

export interface PgIndexStoreOptions {
  /** The PostgreSQL schema holding the tables: this option, else `?schema=` in the URL, else `brop_index`. */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How many stream items one replay call looks at, matching or not (default 20,000, as the LevelDB store). */
  streamScan?: number;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
}

export const SCHEMA_VERSION = 1;
export const DEFAULT_SCHEMA = 'brop_index';
const DEFAULT_POOL = 10;
const STREAM_SCAN = 20_000;

/**
 * PostgreSQL text cannot hold U+0000, and chain strings (evidence keys, names, symbols) may. Stored,
 * U+0000 becomes U+0001 U+0001 and U+0001 becomes U+0001 U+0002: every other string is stored as it is,
 * and the mapping keeps the byte order that keys sort by (as in LevelDB).
 */
const enc = (s: string): string => (/[\u0000\u0001]/.test(s) ? s.replace(/[\u0000\u0001]/g, (c) => (c === '\u0000' ? '\u0001\u0001' : '\u0001\u0002')) : s);
const dec = (s: string): string => (s.includes('\u0001') ? s.replace(/\u0001([\u0001\u0002])/g, (_, c: string) => (c === '\u0001' ? '\u0000' : '\u0001')) : s);
const encN = (s: string | null): string | null => (s === null ? null : enc(s));
const decN = (s: string | null): string | null => (s === null ? null : dec(s));

/** Keys and index columns sort by bytes, as LevelDB keys do, whatever the database's locale. */
const TEXT = 'text COLLATE "C"';

function migrations(s: string): string[][] {
  return [
    [
      `CREATE TABLE ${s}.index_state (id boolean PRIMARY KEY DEFAULT true CHECK (id), height bigint NOT NULL)`,
      `INSERT INTO ${s}.index_state (id, height) VALUES (true, -1)`,
      `CREATE TABLE ${s}.blocks (height bigint PRIMARY KEY, hash ${TEXT} NOT NULL, time_ms bigint NOT NULL)`,
      `CREATE TABLE ${s}.stream (height bigint NOT NULL, tx integer NOT NULL, slot integer NOT NULL, kind ${TEXT} NOT NULL,
        contract ${TEXT}, sender ${TEXT}, name ${TEXT}, topics text[] COLLATE "C" NOT NULL, item json NOT NULL, PRIMARY KEY (height, tx, slot))`,
      `CREATE TABLE ${s}.transactions (hash ${TEXT} PRIMARY KEY, height bigint NOT NULL, tx_index integer NOT NULL, time_ms bigint NOT NULL,
        sender ${TEXT} NOT NULL, contract ${TEXT} NOT NULL, method ${TEXT} NOT NULL, ok boolean NOT NULL, error ${TEXT})`,
      `CREATE INDEX transactions_sender ON ${s}.transactions (sender, height, tx_index)`,
      `CREATE TABLE ${s}.evidence (key ${TEXT} PRIMARY KEY, digest ${TEXT} NOT NULL, registrant ${TEXT} NOT NULL, meta ${TEXT} NOT NULL,
        status ${TEXT} NOT NULL, height bigint NOT NULL, time_ms bigint NOT NULL, tx_hash ${TEXT} NOT NULL, chain ${TEXT}, chain_index bigint,
        prev ${TEXT}, custody ${TEXT}, timestamp_token ${TEXT}, parties text[] COLLATE "C" NOT NULL)`,
      `CREATE INDEX evidence_digest ON ${s}.evidence (digest, key)`,
      `CREATE INDEX evidence_registrant ON ${s}.evidence (registrant, time_ms, key)`,
      `CREATE INDEX evidence_time ON ${s}.evidence (time_ms, key)`,
      `CREATE INDEX evidence_chain ON ${s}.evidence (chain, chain_index, key) WHERE chain IS NOT NULL AND chain_index IS NOT NULL`,
      `CREATE TABLE ${s}.identities (address ${TEXT} PRIMARY KEY, id bigint NOT NULL, name ${TEXT}, registered_by ${TEXT} NOT NULL,
        user_partner ${TEXT} NOT NULL, created_at bigint NOT NULL, frozen boolean NOT NULL)`,
      `CREATE INDEX identities_name ON ${s}.identities (name, address) WHERE name IS NOT NULL AND name <> ''`,
      `CREATE TABLE ${s}.certifications (address ${TEXT} NOT NULL, partner ${TEXT} NOT NULL, level integer NOT NULL,
        identity_digest ${TEXT} NOT NULL, certified_at bigint NOT NULL, revoked boolean NOT NULL, PRIMARY KEY (address, partner))`,
      `CREATE INDEX certifications_partner ON ${s}.certifications (partner, level, address) WHERE NOT revoked`,
      `CREATE TABLE ${s}.vouchers (symbol ${TEXT} PRIMARY KEY, id bigint NOT NULL, name ${TEXT} NOT NULL, issuer ${TEXT} NOT NULL,
        divisible boolean NOT NULL, created_at bigint NOT NULL)`,
      `CREATE INDEX vouchers_issuer ON ${s}.vouchers (issuer, symbol)`,
      // 78 digits hold any 256-bit amount; balances are 128-bit.
      `CREATE TABLE ${s}.holdings (symbol ${TEXT} NOT NULL, holder ${TEXT} NOT NULL, balance numeric(78, 0) NOT NULL, PRIMARY KEY (symbol, holder))`,
      `CREATE INDEX holdings_holder ON ${s}.holdings (holder, symbol)`,
      `CREATE TABLE ${s}.items (symbol ${TEXT} NOT NULL, item_id ${TEXT} NOT NULL, owner ${TEXT} NOT NULL, redeemed boolean NOT NULL,
        PRIMARY KEY (symbol, item_id))`,
      `CREATE INDEX items_owner ON ${s}.items (owner, symbol, item_id) WHERE NOT redeemed`,
    ],
  ];
}

/** Column types of a bulk upsert: each column travels as one array parameter through unnest(). */
type ColType = 'text' | 'bigint' | 'integer' | 'boolean' | 'numeric' | 'json' | 'text[]';

function bulkValue(col: string, type: ColType): string {
  // json and text[] travel as JSON text (unnest cannot take jagged arrays of arrays).
  if (type === 'json') return `u.${col}::json`;
  if (type === 'text[]') return `ARRAY(SELECT x FROM json_array_elements_text(u.${col}::json) WITH ORDINALITY AS a(x, n) ORDER BY n)`;
  return `u.${col}`;
}

function paramType(type: ColType): string {
  return type === 'json' || type === 'text[]' ? 'text[]' : `${type}[]`;
}

/** A page token: the query's scope, then the ordering values of the last row. */
function encodeAfter(scope: unknown[], keys: unknown[]): string {
  return Buffer.from(JSON.stringify([...scope, ...keys]), 'utf8').toString('base64url');
}

function decodeAfter(after: string | undefined, scope: unknown[], types: Array<'text' | 'int'>): unknown[] | undefined {
  if (after === undefined) return undefined;
  const bad = () => new QueryError('BAD_CURSOR', 'the page cursor is not from this query');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== scope.length + types.length) throw bad();
  if (scope.some((s, i) => v[i] !== s)) throw bad();
  const keys = v.slice(scope.length);
  if (keys.some((k, i) => (types[i] === 'text' ? typeof k !== 'string' : !Number.isSafeInteger(k)))) throw bad();
  return keys;
}

function intArg(v: number | undefined, name: string): number | undefined {
  if (v !== undefined && !Number.isSafeInteger(v)) throw new QueryError('BAD_QUERY', `${name} must be an integer`);
  return v;
}

/** Socket errors, and the SQLSTATEs of a server that is down, starting, full, or refuses the login. */
function connectionLost(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (/^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ENOENT)$/.test(code)) return true;
    if (/^(08...|57P0[123]|53300|3D000|28000|28P01)$/.test(code)) return true;
  }
  const message = e instanceof Error ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i.test(message);
}

function storeError(e: unknown): Error {
  if (e instanceof QueryError || e instanceof IndexStoreError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const sqlstate = typeof (e as { code?: unknown })?.code === 'string' ? ` (${(e as { code: string }).code})` : '';
  // The URL is parsed when the first connection is made; the message names no part of it.
  if ((e as { code?: unknown })?.code === 'ERR_INVALID_URL') return new IndexStoreError('INDEX_STORE_CONFIG', `bad PostgreSQL URL: ${message}`, { cause: e });
  if (connectionLost(e)) return new IndexStoreError('INDEX_STORE_UNAVAILABLE', `PostgreSQL unavailable: ${message}${sqlstate}`, { cause: e });
  return new IndexStoreError('INDEX_STORE_FAILED', `PostgreSQL: ${message}${sqlstate}`, { cause: e });
}

function schemaFromUrl(url: string): string | undefined {
  const m = /[?&]schema=([^&#]*)/.exec(url);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    throw new IndexStoreError('INDEX_STORE_CONFIG', 'the schema in the PostgreSQL URL is badly encoded');
  }
}

type Row = Record<string, any>;

const evidenceRow = (r: Row): EvidenceRow => ({
  key: dec(r.key), digest: dec(r.digest), registrant: dec(r.registrant), meta: dec(r.meta), status: r.status,
  height: Number(r.height), time: Number(r.time_ms), txHash: dec(r.tx_hash), chain: decN(r.chain),
  index: r.chain_index === null ? null : Number(r.chain_index), prev: decN(r.prev), custody: decN(r.custody),
  timestampToken: decN(r.timestamp_token), parties: (r.parties as string[]).map(dec),
});

const identityRow = (r: Row): IdentityRow => ({
  address: dec(r.address), id: Number(r.id), name: decN(r.name), registeredBy: dec(r.registered_by),
  userPartner: dec(r.user_partner), createdAt: Number(r.created_at), frozen: r.frozen,
});

const certificationRow = (r: Row): CertificationRow => ({
  address: dec(r.address), partner: dec(r.partner), level: r.level, identityDigest: dec(r.identity_digest),
  certifiedAt: Number(r.certified_at), revoked: r.revoked,
});

const voucherRow = (r: Row): VoucherRow => ({
  id: Number(r.id), symbol: dec(r.symbol), name: dec(r.name), issuer: dec(r.issuer), divisible: r.divisible, createdAt: Number(r.created_at),
});

const holdingRow = (r: Row): HoldingRow => ({ symbol: dec(r.symbol), holder: dec(r.holder), balance: r.balance });

const itemRow = (r: Row): ItemRow => ({ symbol: dec(r.symbol), itemId: dec(r.item_id), owner: dec(r.owner), redeemed: r.redeemed });

const txRow = (r: Row): TxRow => ({
  hash: dec(r.hash), height: Number(r.height), index: r.tx_index, time: Number(r.time_ms), sender: dec(r.sender),
  contract: dec(r.contract), method: dec(r.method), ok: r.ok, error: decN(r.error),
});

/** One keyset-paged query: fixed conditions, then rows after the token's position in `order`. */
interface PagedQuery {
  /** What a token must carry to be accepted here (the query kind and its equality filters). */
  scope: unknown[];
  /** SELECT ... FROM ... (no WHERE). */
  select: string;
  where: string[];
  params: unknown[];
  /** Ordering columns, unique together within the scope, with what a token keeps of each. */
  order: Array<{ col: string; type: 'text' | 'int'; of: (r: Row) => unknown }>;
}

export class PgIndexStore implements IndexStore {
  private readonly pool: Pool;
  private readonly s: string;
  private readonly streamScan: number;
  private closed = false;

  private constructor(pool: Pool, schema: string, streamScan: number) {
    this.pool = pool;
    this.s = escapeIdentifier(schema);
    this.streamScan = streamScan;
  }

  /** Connects (`postgres://user:password@host:port/database[?schema=name]`) and creates or checks the schema. */
  static async open(url: string, opts: PgIndexStoreOptions = {}): Promise<PgIndexStore> {
    const schema = opts.schema ?? schemaFromUrl(url) ?? DEFAULT_SCHEMA;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new IndexStoreError('INDEX_STORE_CONFIG', `schema names are lower-case letters, digits and _ (got ${JSON.stringify(schema)})`);
    const poolSize = opts.poolSize ?? DEFAULT_POOL;
    if (!Number.isInteger(poolSize) || poolSize < 1) throw new IndexStoreError('INDEX_STORE_CONFIG', 'poolSize must be a positive integer');
    const streamScan = opts.streamScan ?? STREAM_SCAN;
    if (!Number.isInteger(streamScan) || streamScan < 1) throw new IndexStoreError('INDEX_STORE_CONFIG', 'streamScan must be a positive integer');
    let pool: Pool;
    try {
      pool = new Pool({
        connectionString: url, max: poolSize, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000, idleTimeoutMillis: 30_000,
        keepAlive: true, application_name: 'brop-index',
      });
    } catch (e) {
      throw new IndexStoreError('INDEX_STORE_CONFIG', `bad PostgreSQL URL: ${(e as Error).message}`);
    }
    // An idle connection that dies (server restart) is only dropped from the pool; the next query gets a
    // fresh one or fails with INDEX_STORE_UNAVAILABLE. Unhandled, this event would end the process.
    pool.on('error', () => undefined);
    const store = new PgIndexStore(pool, schema, streamScan);
    try {
      await store.migrate(schema);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw storeError(e);
    }
    return store;
  }

  /** Creates the schema, or brings it up to SCHEMA_VERSION; safe when several processes open at once. */
  private async migrate(schema: string): Promise<void> {
    await this.inTransaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`brop-index:${schema}`]);
      // Checked first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists.
      const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${this.s}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.s}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const at = Number((await c.query(`SELECT coalesce(max(version), 0) AS v FROM ${this.s}.schema_version`)).rows[0].v);
      if (at > SCHEMA_VERSION) {
        throw new IndexStoreError('INDEX_SCHEMA_MISMATCH', `schema ${schema} is at version ${at}, newer than this store's ${SCHEMA_VERSION}`);
      }
      const steps = migrations(this.s);
      for (let v = at + 1; v <= SCHEMA_VERSION; v++) {
        for (const sql of steps[v - 1]!) await c.query(sql);
        await c.query(`INSERT INTO ${this.s}.schema_version (version) VALUES ($1)`, [v]);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new IndexStoreError('INDEX_STORE_UNAVAILABLE', 'the index store is closed');
    try {
      return await fn();
    } catch (e) {
      throw storeError(e);
    }
  }

  private async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows;
  }

  private async inTransaction<T>(fn: (c: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const c = await this.pool.connect();
    // The pool listens for errors on idle connections only; a checked-out one that dies would otherwise
    // throw an unhandled 'error' event. Its statements fail on their own.
    const ignore = () => undefined;
    c.on('error', ignore);
    try {
      await c.query(begin);
      const result = await fn(c);
      await c.query('COMMIT');
      c.off('error', ignore);
      c.release();
      return result;
    } catch (e) {
      // A connection that cannot even roll back is broken: the pool drops it instead of reusing it.
      const broken = await c.query('ROLLBACK').then(() => undefined, (re: Error) => re);
      c.off('error', ignore);
      c.release(broken);
      throw e;
    }
  }

  indexedHeight(): Promise<number> {
    return this.guard(async () => Number((await this.query(`SELECT height FROM ${this.s}.index_state`))[0]!.height));
  }

  balance(symbol: string, holder: string): Promise<bigint> {
    return this.guard(async () => {
      const rows = await this.query(`SELECT balance::text AS balance FROM ${this.s}.holdings WHERE symbol = $1 AND holder = $2`, [enc(symbol), enc(holder)]);
      return rows.length === 0 ? 0n : BigInt(rows[0]!.balance);
    });
  }

  apply(b: IndexBatch): Promise<void> {
    return this.guard(() => this.inTransaction(async (c) => {
      // The row lock also makes a second writer on the same schema wait, then find the height moved.
      const known = Number((await c.query(`SELECT height FROM ${this.s}.index_state FOR UPDATE`)).rows[0].height);
      if (b.height !== known + 1) throw new IndexStoreError('INDEX_HEIGHT_MISMATCH', `index is at ${known}; block ${b.height} does not follow`);
      const upsert = (table: string, cols: Array<[string, ColType]>, key: string[], rows: unknown[][]) => this.upsert(c, table, cols, key, rows);

      await upsert('stream', [['height', 'bigint'], ['tx', 'integer'], ['slot', 'integer'], ['kind', 'text'], ['contract', 'text'], ['sender', 'text'], ['name', 'text'], ['topics', 'text[]'], ['item', 'json']],
        ['height', 'tx', 'slot'], b.stream.map((i) => {
          const at = parseCursor(i.cursor);
          if (!at) throw new IndexStoreError('INDEX_STORE_FAILED', `stream item with a bad cursor ${JSON.stringify(i.cursor)}`);
          const ev = i.kind === 'event';
          return [at.height, at.tx, at.slot, i.kind, i.kind === 'block' ? null : enc(i.contract), i.kind === 'block' ? null : enc(i.sender),
            ev ? enc(i.name) : null, JSON.stringify(ev ? i.topics.map(enc) : []), JSON.stringify(i)];
        }));
      await upsert('transactions', [['hash', 'text'], ['height', 'bigint'], ['tx_index', 'integer'], ['time_ms', 'bigint'], ['sender', 'text'], ['contract', 'text'], ['method', 'text'], ['ok', 'boolean'], ['error', 'text']],
        ['hash'], b.txs.map((t) => [enc(t.hash), t.height, t.index, t.time, enc(t.sender), enc(t.contract), enc(t.method), t.ok, encN(t.error)]));
      await upsert('evidence', [['key', 'text'], ['digest', 'text'], ['registrant', 'text'], ['meta', 'text'], ['status', 'text'], ['height', 'bigint'], ['time_ms', 'bigint'], ['tx_hash', 'text'], ['chain', 'text'], ['chain_index', 'bigint'], ['prev', 'text'], ['custody', 'text'], ['timestamp_token', 'text'], ['parties', 'text[]']],
        ['key'], b.evidence.map((e) => [enc(e.key), enc(e.digest), enc(e.registrant), enc(e.meta), e.status, e.height, e.time, enc(e.txHash), encN(e.chain), e.index,
          encN(e.prev), encN(e.custody), encN(e.timestampToken), JSON.stringify(e.parties.map(enc))]));
      await upsert('identities', [['address', 'text'], ['id', 'bigint'], ['name', 'text'], ['registered_by', 'text'], ['user_partner', 'text'], ['created_at', 'bigint'], ['frozen', 'boolean']],
        ['address'], b.identities.map((i) => [enc(i.address), i.id, encN(i.name), enc(i.registeredBy), enc(i.userPartner), i.createdAt, i.frozen]));
      // Revocations first: a certification in the same batch renews one.
      if (b.revocations.length > 0) {
        await c.query(`UPDATE ${this.s}.certifications c SET revoked = true FROM unnest($1::text[], $2::text[]) AS r(address, partner)
          WHERE c.address = r.address AND c.partner = r.partner`, [b.revocations.map((r) => enc(r.address)), b.revocations.map((r) => enc(r.partner))]);
      }
      await upsert('certifications', [['address', 'text'], ['partner', 'text'], ['level', 'integer'], ['identity_digest', 'text'], ['certified_at', 'bigint'], ['revoked', 'boolean']],
        ['address', 'partner'], b.certifications.map((x) => [enc(x.address), enc(x.partner), x.level, enc(x.identityDigest), x.certifiedAt, x.revoked]));
      await upsert('vouchers', [['symbol', 'text'], ['id', 'bigint'], ['name', 'text'], ['issuer', 'text'], ['divisible', 'boolean'], ['created_at', 'bigint']],
        ['symbol'], b.vouchers.map((v) => [enc(v.symbol), v.id, enc(v.name), enc(v.issuer), v.divisible, v.createdAt]));
      // A holding at zero is no holding (it leaves the holder's and the symbol's lists); the last one of a pair wins.
      const holdings = new Map(b.holdings.map((h) => [JSON.stringify([h.symbol, h.holder]), h]));
      const gone = [...holdings.values()].filter((h) => h.balance === '0');
      if (gone.length > 0) {
        await c.query(`DELETE FROM ${this.s}.holdings h USING unnest($1::text[], $2::text[]) AS z(symbol, holder) WHERE h.symbol = z.symbol AND h.holder = z.holder`,
          [gone.map((h) => enc(h.symbol)), gone.map((h) => enc(h.holder))]);
      }
      await upsert('holdings', [['symbol', 'text'], ['holder', 'text'], ['balance', 'numeric']],
        ['symbol', 'holder'], [...holdings.values()].filter((h) => h.balance !== '0').map((h) => [enc(h.symbol), enc(h.holder), h.balance]));
      await upsert('items', [['symbol', 'text'], ['item_id', 'text'], ['owner', 'text'], ['redeemed', 'boolean']],
        ['symbol', 'item_id'], b.items.map((it) => [enc(it.symbol), enc(it.itemId), enc(it.owner), it.redeemed]));
      await upsert('blocks', [['height', 'bigint'], ['hash', 'text'], ['time_ms', 'bigint']], ['height'], [[b.height, enc(b.hash), b.time]]);
      await c.query(`UPDATE ${this.s}.index_state SET height = $1`, [b.height]);
    }));
  }

  /** INSERT ... ON CONFLICT DO UPDATE of many rows in one statement; a later row of the same key wins, as a later put does. */
  private async upsert(c: PoolClient, table: string, cols: Array<[string, ColType]>, key: string[], rows: unknown[][]): Promise<void> {
    if (rows.length === 0) return;
    const keyAt = key.map((k) => cols.findIndex(([name]) => name === k));
    const last = new Map<string, unknown[]>();
    for (const r of rows) last.set(JSON.stringify(keyAt.map((i) => r[i])), r);
    const unique = [...last.values()];
    const names = cols.map(([name]) => name);
    const rest = names.filter((n) => !key.includes(n));
    const sql = `INSERT INTO ${this.s}.${table} (${names.join(', ')})
      SELECT ${cols.map(([name, type]) => bulkValue(name, type)).join(', ')}
      FROM unnest(${cols.map(([, type], i) => `$${i + 1}::${paramType(type)}`).join(', ')}) AS u(${names.join(', ')})
      ON CONFLICT (${key.join(', ')}) DO ${rest.length === 0 ? 'NOTHING' : `UPDATE SET ${rest.map((n) => `${n} = EXCLUDED.${n}`).join(', ')}`}`;
    await c.query(sql, cols.map((_, i) => unique.map((r) => r[i])));
  }

  /** One page of a keyset query: rows after the token, in order, and a token for the next page. */
  private paged<T>(q: PagedQuery, opts: PageOptions, map: (r: Row) => T): Promise<Page<T>> {
    return this.guard(async () => {
      const limit = pageLimit(opts.limit);
      const after = decodeAfter(opts.after, q.scope, q.order.map((o) => o.type));
      const where = [...q.where];
      const params = [...q.params];
      if (after) {
        const at = after.map((v, i) => `$${params.push(q.order[i]!.type === 'text' ? enc(v as string) : v)}`);
        where.push(`(${q.order.map((o) => o.col).join(', ')}) > (${at.join(', ')})`);
      }
      params.push(limit + 1);
      const rows = await this.query(`${q.select} WHERE ${where.join(' AND ')} ORDER BY ${q.order.map((o) => o.col).join(', ')} LIMIT $${params.length}`, params);
      const more = rows.length > limit;
      if (more) rows.length = limit;
      const lastRow = rows[rows.length - 1];
      return { items: rows.map(map), ...(more && lastRow ? { next: encodeAfter(q.scope, q.order.map((o) => o.of(lastRow))) } : {}) };
    });
  }

  evidenceByKey(key: string): Promise<EvidenceRow | undefined> {
    return this.guard(async () => {
      const rows = await this.query(`SELECT * FROM ${this.s}.evidence WHERE key = $1`, [enc(key)]);
      return rows.length === 0 ? undefined : evidenceRow(rows[0]!);
    });
  }

  evidence(q: EvidenceQuery): Promise<Page<EvidenceRow>> {
    const select = `SELECT * FROM ${this.s}.evidence`;
    const key = { col: 'key', type: 'text' as const, of: (r: Row) => dec(r.key) };
    const time = { col: 'time_ms', type: 'int' as const, of: (r: Row) => Number(r.time_ms) };
    // As in the LevelDB store, a token is bound to the query's kind and equality filter, not to its time range.
    if ('digest' in q) return this.paged({ scope: ['e:d', q.digest], select, where: ['digest = $1'], params: [enc(q.digest)], order: [key] }, q, evidenceRow);
    if ('chain' in q) {
      return this.paged({ scope: ['e:c', q.chain], select, where: ['chain = $1', 'chain_index IS NOT NULL'], params: [enc(q.chain)],
        order: [{ col: 'chain_index', type: 'int', of: (r) => Number(r.chain_index) }, key] }, q, evidenceRow);
    }
    return this.guard(async () => {
      const from = intArg(q.from, 'from') ?? 0, to = intArg(q.to, 'to');
      const where: string[] = [], params: unknown[] = [];
      const p = (v: unknown) => `$${params.push(v)}`;
      if ('registrant' in q) where.push(`registrant = ${p(enc(q.registrant))}`);
      where.push(`time_ms >= ${p(from)}`);
      if (to !== undefined) where.push(`time_ms <= ${p(to)}`);
      const scope = 'registrant' in q ? ['e:r', q.registrant] : ['e:t'];
      return this.paged({ scope, select, where, params, order: [time, key] }, q, evidenceRow);
    });
  }

  identity(address: string): Promise<(IdentityRow & { certifications: CertificationRow[] }) | undefined> {
    return this.guard(async () => {
      const rows = await this.query(`SELECT * FROM ${this.s}.identities WHERE address = $1`, [enc(address)]);
      if (rows.length === 0) return undefined;
      const certs = await this.query(`SELECT * FROM ${this.s}.certifications WHERE address = $1 ORDER BY partner`, [enc(address)]);
      return { ...identityRow(rows[0]!), certifications: certs.map(certificationRow) };
    });
  }

  identities(q: IdentityQuery): Promise<Page<IdentityRow & { level?: number }>> {
    const address = { col: 'address', type: 'text' as const, of: (r: Row) => dec(r.address) };
    if ('name' in q) {
      // Unnamed identities (null or empty name) are not listed under any name, as in the LevelDB store.
      return this.paged({ scope: ['i:n', q.name], select: `SELECT * FROM ${this.s}.identities`, where: ['name = $1', "name <> ''"], params: [enc(q.name)], order: [address] }, q, identityRow);
    }
    return this.guard(async () => {
      const level = intArg(q.level, 'level');
      const where = ['c.partner = $1', 'NOT c.revoked'], params: unknown[] = [enc(q.partner)];
      if (level !== undefined) where.push(`c.level = $${params.push(level)}`);
      return this.paged({
        scope: ['c:p', q.partner],
        select: `SELECT i.*, c.level FROM ${this.s}.certifications c JOIN ${this.s}.identities i ON i.address = c.address`,
        where, params,
        order: [{ col: 'c.level', type: 'int', of: (r) => r.level }, { col: 'c.address', type: 'text', of: (r) => dec(r.address) }],
      }, q, (r) => ({ ...identityRow(r), level: r.level as number }));
    });
  }

  vouchers(q: PageOptions & { issuer?: string }): Promise<Page<VoucherRow>> {
    const symbol = { col: 'symbol', type: 'text' as const, of: (r: Row) => dec(r.symbol) };
    const select = `SELECT * FROM ${this.s}.vouchers`;
    if (q.issuer === undefined) return this.paged({ scope: ['v:s'], select, where: ['true'], params: [], order: [symbol] }, q, voucherRow);
    return this.paged({ scope: ['v:i', q.issuer], select, where: ['issuer = $1'], params: [enc(q.issuer)], order: [symbol] }, q, voucherRow);
  }

  holdings(q: PageOptions & ({ holder: string } | { symbol: string })): Promise<Page<HoldingRow>> {
    const select = `SELECT symbol, holder, balance::text AS balance FROM ${this.s}.holdings`;
    if ('holder' in q) {
      return this.paged({ scope: ['h:h', q.holder], select, where: ['holder = $1'], params: [enc(q.holder)], order: [{ col: 'symbol', type: 'text', of: (r) => dec(r.symbol) }] }, q, holdingRow);
    }
    return this.paged({ scope: ['h:s', q.symbol], select, where: ['symbol = $1'], params: [enc(q.symbol)], order: [{ col: 'holder', type: 'text', of: (r) => dec(r.holder) }] }, q, holdingRow);
  }

  items(q: PageOptions & ({ owner: string } | { symbol: string })): Promise<Page<ItemRow>> {
    const select = `SELECT * FROM ${this.s}.items`;
    const itemId = { col: 'item_id', type: 'text' as const, of: (r: Row) => dec(r.item_id) };
    // By symbol: every item, redeemed ones too; by owner: what the owner still holds.
    if ('symbol' in q) return this.paged({ scope: ['it:s', q.symbol], select, where: ['symbol = $1'], params: [enc(q.symbol)], order: [itemId] }, q, itemRow);
    return this.paged({ scope: ['it:o', q.owner], select, where: ['owner = $1', 'NOT redeemed'], params: [enc(q.owner)],
      order: [{ col: 'symbol', type: 'text', of: (r) => dec(r.symbol) }, itemId] }, q, itemRow);
  }

  transaction(hash: string): Promise<TxRow | undefined> {
    return this.guard(async () => {
      const rows = await this.query(`SELECT * FROM ${this.s}.transactions WHERE hash = $1`, [enc(hash)]);
      return rows.length === 0 ? undefined : txRow(rows[0]!);
    });
  }

  transactions(q: PageOptions & { account: string }): Promise<Page<TxRow>> {
    return this.paged({
      scope: ['t:a', q.account], select: `SELECT * FROM ${this.s}.transactions`, where: ['sender = $1'], params: [enc(q.account)],
      order: [{ col: 'height', type: 'int', of: (r) => Number(r.height) }, { col: 'tx_index', type: 'int', of: (r) => r.tx_index }],
    }, q, txRow);
  }

  stream(after: Cursor, limit: number, filter: StreamFilter): Promise<{ items: StreamItem[]; scannedTo: Cursor | undefined; exhausted: boolean }> {
    return this.guard(async () => {
      // The same test as matches() in types.ts, in SQL, so that only matching items leave the server.
      const params: unknown[] = [after.height, after.tx, after.slot, this.streamScan];
      const p = (v: unknown) => `$${params.push(v)}`;
      const where: string[] = ['true'];
      if (filter.kinds) where.push(`kind = ANY(${p([...filter.kinds])}::text[])`);
      if (filter.contract !== undefined) where.push(`kind <> 'block' AND contract = ${p(enc(filter.contract))}`);
      if (filter.topic !== undefined) {
        const t = p(enc(filter.topic));
        where.push(`kind = 'event' AND (name = ${t} OR ${t} = ANY(topics))`);
      }
      if (filter.account !== undefined) {
        const a = p(enc(filter.account));
        where.push(`kind <> 'block' AND (sender = ${a} OR (kind = 'event' AND EXISTS (SELECT 1 FROM unnest(topics) AS t WHERE t = ${a} OR '0x' || t = ${a})))`);
      }
      // As the LevelDB store: at least one item, and a fractional limit rounds up.
      const want = Number.isFinite(limit) ? Math.max(1, Math.ceil(limit)) : this.streamScan;
      const window = `SELECT * FROM ${this.s}.stream WHERE (height, tx, slot) > ($1::bigint, $2::bigint, $3::bigint) ORDER BY height, tx, slot LIMIT $4`;
      // Both reads see one snapshot: where the scan ended must not include a block applied in between.
      return this.inTransaction(async (c) => {
        const matched = (await c.query(`SELECT item FROM (${window}) AS w WHERE ${where.join(' AND ')} ORDER BY height, tx, slot LIMIT ${p(want)}`, params)).rows;
        const items = matched.map((r) => r.item as StreamItem);
        if (items.length >= want) return { items, scannedTo: parseCursor(items[items.length - 1]!.cursor), exhausted: false };
        const end = (await c.query(`SELECT count(*)::int AS n, max(ARRAY[height, tx, slot]) AS last FROM (${window}) AS w`, params.slice(0, 4))).rows[0]!;
        const last = end.last as Array<string | number> | null;
        return {
          items,
          scannedTo: last ? { height: Number(last[0]), tx: Number(last[1]), slot: Number(last[2]) } : undefined,
          exhausted: end.n < this.streamScan,
        };
      }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    });
  }
}
