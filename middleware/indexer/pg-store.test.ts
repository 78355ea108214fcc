/**
 * The PostgreSQL index store against a throwaway server (tooling/test/postgres.ts; each store in a
 * schema of its own): the conformance suite every store passes, then what a server database adds:
 * atomic blocks when a statement fails or the connection dies midway, resuming after a reopen,
 * idempotent and versioned schema creation, typed connection errors, strings PostgreSQL text cannot
 * hold, the bounded stream scan, and the `postgres://` spec of openIndexStore. If no server can be
 * started, one test fails saying why.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { createServer } from 'node:net';
import { startPostgres, type TestPostgres } from '../../tooling/test/postgres.ts';
import { IndexStoreError, PgIndexStore, type PgIndexStoreOptions } from './pg-store.ts';
import { ALICE, BOB, CAROL, PARTNER, applyBlocks, sampleBlocks, storeConformance } from './store-conformance.ts';
import { project } from './projection.ts';
import { openIndexStore } from '../service.ts';
import { BLOCK_SLOT_TX, type ChainBlock, type IndexBatch, type IndexStore, type StreamItem, QueryError, matches } from './types.ts';

let server: TestPostgres | undefined;
let failure: unknown;
try {
  server = await startPostgres();
} catch (e) {
  failure = e;
}

const A = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped ${(e as Error).message}`;
  }
  return undefined;
}

/** The batch the indexer would apply for `block` (balances resolved against the store). */
async function batchFor(store: IndexStore, block: ChainBlock): Promise<IndexBatch> {
  const { batch, deltas } = project(block);
  const holdings = [];
  for (const [k, d] of deltas) {
    const [symbol, holder] = k.split('\u0000') as [string, string];
    holdings.push({ symbol, holder, balance: String((await store.balance(symbol, holder)) + d) });
  }
  return { ...batch, holdings };
}

async function everything(store: IndexStore): Promise<StreamItem[]> {
  const out: StreamItem[] = [];
  for (let after = { height: 0, tx: 0, slot: 0 }; ;) {
    const r = await store.stream(after, 1000, {});
    out.push(...r.items);
    if (r.exhausted) return out;
    after = r.scannedTo!;
  }
}

if (!server) {
  const s = suite('index store (PostgreSQL)');
  s('a throwaway PostgreSQL server starts', () => {
    throw failure;
  });
  s.run();
} else {
  const db = server;
  let schemas = 0;
  const fresh = (opts: PgIndexStoreOptions = {}) => PgIndexStore.open(db.url, { schema: `test_${++schemas}`, ...opts });
  let adminClient: pg.Client | undefined;
  const admin = async () => {
    if (!adminClient) {
      adminClient = new pg.Client({ connectionString: db.url });
      adminClient.on('error', () => undefined); // its queries fail on their own
      await adminClient.connect();
    }
    return adminClient;
  };

  storeConformance('PostgreSQL', () => fresh());

  const s = suite('PostgreSQL index store');
  s.after(async () => {
    await adminClient?.end().catch(() => undefined);
    db.stop();
  });

  s('apply is atomic: a block refused by the database midway leaves the height and every row as before', async () => {
    const store = await fresh();
    const blocks = sampleBlocks();
    await applyBlocks(store, blocks.slice(0, 3));
    const good = await batchFor(store, blocks[3]!);
    // Holdings go in after the stream, transactions and evidence: the bad balance fails the block late.
    const bad = { ...good, holdings: [...good.holdings, { symbol: 'TEA', holder: CAROL, balance: 'not a number' }] };
    const refused = await store.apply(bad).catch((e: unknown) => e);
    assert.instance(refused, IndexStoreError);
    assert.is((refused as IndexStoreError).code, 'INDEX_STORE_FAILED');
    assert.is(await store.indexedHeight(), 2);
    assert.is(await store.evidenceByKey('batch-1'), undefined);
    assert.is(await store.transaction(A(0x1009)), undefined);
    assert.equal((await store.holdings({ holder: ALICE })).items, [{ symbol: 'TEA', holder: ALICE, balance: '1000000000000000000000' }]);
    assert.equal((await store.items({ symbol: 'ART' })).items, []);
    const r = await store.stream({ height: 2, tx: BLOCK_SLOT_TX, slot: 0 }, 100, {});
    assert.equal([r.items, r.exhausted], [[], true]);
    // The same connection pool goes on: the right block applies.
    await store.apply(good);
    assert.is(await store.indexedHeight(), 3);
    assert.is((await store.evidenceByKey('batch-1'))!.chain, 'farm');
    await store.close();
  });

  s('apply is atomic: a connection killed midway leaves the height and every row as before', async () => {
    const store = await fresh();
    const schema = `test_${schemas}`;
    const blocks = sampleBlocks();
    await applyBlocks(store, blocks.slice(0, 2));
    const batch = await batchFor(store, blocks[2]!);
    const a = await admin();
    // The block's writer waits on this lock when it reaches the holdings; then its connection is killed.
    await a.query('BEGIN');
    let applying: Promise<string | undefined>;
    try {
      await a.query(`LOCK TABLE ${schema}.holdings IN EXCLUSIVE MODE`);
      applying = code(store.apply(batch));
      let pid: number | undefined;
      for (let i = 0; i < 400 && pid === undefined; i++) {
        // Statistics views are read once per transaction unless told otherwise.
        await a.query('SELECT pg_stat_clear_snapshot()');
        const rows = (await a.query(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`INSERT INTO "${schema}".holdings%`])).rows;
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(pid !== undefined, 'the block never reached the holdings');
      // Midway indeed: it has written to the stream, transactions, evidence and vouchers.
      const written = (await a.query(`SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = $1 AND l.mode = 'RowExclusiveLock' AND l.granted AND c.relkind = 'r' ORDER BY c.relname`, [pid])).rows.map((r) => r.relname);
      for (const t of ['evidence', 'stream', 'transactions', 'vouchers']) assert.ok(written.includes(t), `not written yet: ${t} (${written})`);
      await a.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await a.query('ROLLBACK');
    }
    assert.is(await applying, 'INDEX_STORE_UNAVAILABLE');
    assert.is(await store.indexedHeight(), 1);
    assert.is(await store.evidenceByKey('contract-002'), undefined);
    assert.is(await store.transaction(A(0x1005)), undefined);
    assert.equal((await store.vouchers({})).items, []);
    assert.is(await store.balance('TEA', ALICE), 0n);
    assert.equal((await store.stream({ height: 1, tx: BLOCK_SLOT_TX, slot: 0 }, 100, {})).items, []);
    // Retried on a new connection, the block goes in whole.
    await store.apply(batch);
    assert.is(await store.indexedHeight(), 2);
    assert.is(await store.balance('TEA', ALICE), 1000000000000000000000n);
    await store.close();
  });

  s('a reopened database resumes at its indexed height', async () => {
    const blocks = sampleBlocks();
    const first = await PgIndexStore.open(db.url, { schema: 'resume' });
    await applyBlocks(first, blocks.slice(0, 3));
    await first.close();
    const again = await PgIndexStore.open(db.url, { schema: 'resume' });
    assert.is(await again.indexedHeight(), 2);
    assert.is(await code(again.apply(await batchFor(again, blocks[2]!))), 'INDEX_HEIGHT_MISMATCH');
    await applyBlocks(again, blocks.slice(3));
    assert.is(await again.indexedHeight(), 4);
    assert.equal((await again.holdings({ symbol: 'TEA' })).items, [{ symbol: 'TEA', holder: ALICE, balance: '599999999999999999900' }]);
    assert.is((await again.evidence({ from: 0 })).items.length, 6);
    await again.close();
  });

  s('the schema is created once, also by several processes at once; a newer schema is refused', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => PgIndexStore.open(db.url, { schema: 'race' })));
    const a = await admin();
    assert.equal((await a.query('SELECT version FROM race.schema_version')).rows, [{ version: 1 }]);
    const tables = (await a.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'race' ORDER BY 1`)).rows.map((r) => r.table_name);
    assert.equal(tables, ['blocks', 'certifications', 'evidence', 'holdings', 'identities', 'index_state', 'items', 'schema_version', 'stream', 'transactions', 'vouchers']);
    await applyBlocks(stores[0]!, sampleBlocks().slice(0, 1));
    assert.equal(await Promise.all(stores.map((st) => st.indexedHeight())), [0, 0, 0, 0]);
    await Promise.all(stores.map((st) => st.close()));
    const reopened = await PgIndexStore.open(db.url, { schema: 'race' });
    assert.is(await reopened.indexedHeight(), 0);
    await reopened.close();
    assert.equal((await a.query('SELECT version FROM race.schema_version')).rows, [{ version: 1 }]);
    await a.query('INSERT INTO race.schema_version (version) VALUES (2)');
    assert.is(await code(PgIndexStore.open(db.url, { schema: 'race' })), 'INDEX_SCHEMA_MISMATCH');
  });

  s('connection failures are typed; killed idle connections are replaced', async () => {
    const url = new URL(db.url);
    const closed = new URL(db.url);
    // A port nobody listens on: bound, read, released.
    closed.port = String(await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    }));
    assert.is(await code(PgIndexStore.open(closed.href, { connectTimeoutMs: 2000 })), 'INDEX_STORE_UNAVAILABLE');
    const wrongPassword = new URL(db.url);
    wrongPassword.password = 'wrong';
    assert.is(await code(PgIndexStore.open(wrongPassword.href)), 'INDEX_STORE_UNAVAILABLE');
    url.pathname = '/no_such_database';
    assert.is(await code(PgIndexStore.open(url.href)), 'INDEX_STORE_UNAVAILABLE');
    assert.is(await code(PgIndexStore.open(db.url, { schema: 'Robert"; DROP' })), 'INDEX_STORE_CONFIG');
    assert.is(await code(PgIndexStore.open('postgres://[::1')), 'INDEX_STORE_CONFIG');

    const store = await PgIndexStore.open(db.url, { schema: 'idle', poolSize: 2 });
    await Promise.all([store.indexedHeight(), store.indexedHeight()]);
    const a = await admin();
    const killed = (await a.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'brop-index' AND state = 'idle'`)).rowCount;
    assert.ok(killed! >= 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.is(await store.indexedHeight(), -1);
    await store.close();
    assert.is(await code(store.indexedHeight()), 'INDEX_STORE_UNAVAILABLE');
    await store.close(); // twice is fine
  });

  s('strings PostgreSQL text cannot hold (U+0000) round-trip, and keys sort by their bytes', async () => {
    const store = await fresh();
    const keys = ['k\u0001b', 'k', 'ka', 'k\u0000a', 'k\u0001', 'k\u0000'];
    const registered = (key: string) => ({ contract: 'evidence', name: 'registered', topics: [key, PARTNER.slice(2)],
      data: { key, digest: A(0xd0), registrant: PARTNER, meta: `meta\u0000${key}`, timestampToken: null, custody: null, height: '0', time: '5', chain: null, index: '0', prev: null } });
    const block: ChainBlock = { height: 0, hash: A(0xb0), time: 5, proposer: A(9), txs: [
      { hash: A(0x1001), sender: PARTNER, contract: 'evidence', method: 'register', ok: true, error: null, gasUsed: 1, events: keys.map(registered) },
      { hash: A(0x1002), sender: ALICE, contract: 'identity', method: 'register', ok: true, error: null, gasUsed: 1, events: [
        { contract: 'identity', name: 'account-created', topics: [ALICE.slice(2)], data: { id: '1', address: ALICE, name: 'al\u0000ice', registeredBy: ALICE, userPartner: A(0), createdAt: '1', frozen: false } },
        { contract: 'identity', name: 'account-created', topics: [BOB.slice(2)], data: { id: '2', address: BOB, name: 'al', registeredBy: BOB, userPartner: A(0), createdAt: '1', frozen: false } },
      ] },
    ] };
    await applyBlocks(store, [block]);
    assert.is((await store.evidenceByKey('k\u0000a'))!.meta, 'meta\u0000k\u0000a');
    assert.is(await store.evidenceByKey('k\u0001\u0001a'), undefined);
    const byDigest = (await store.evidence({ digest: A(0xd0) })).items.map((e) => e.key);
    assert.equal(byDigest, [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    const paged: string[] = [];
    for (let after: string | undefined; ;) {
      const p = await store.evidence({ digest: A(0xd0), limit: 1, ...(after ? { after } : {}) });
      paged.push(...p.items.map((e) => e.key));
      if (!(after = p.next)) break;
    }
    assert.equal(paged, byDigest);
    assert.equal((await store.identities({ name: 'al\u0000ice' })).items.map((i) => [i.address, i.name]), [[ALICE, 'al\u0000ice']]);
    assert.equal((await store.identities({ name: 'al' })).items.map((i) => i.address), [BOB]);
    const events = (await store.stream({ height: 0, tx: 0, slot: 0 }, 100, { topic: 'k\u0000a' })).items;
    assert.equal(events.map((e) => e.kind === 'event' && (e.data as { meta: string }).meta), ['meta\u0000k\u0000a']);
    await store.close();
  });

  s('stream replay looks at a bounded number of items per call', async () => {
    const store = await fresh({ streamScan: 5 });
    await applyBlocks(store, sampleBlocks());
    const all = await everything(store);
    assert.is(all.length, 41);
    // Nothing matches: each call still ends, saying how far it looked.
    const seen: string[] = [];
    let r = await store.stream({ height: 0, tx: 0, slot: 0 }, 100, { contract: 'nobody' });
    for (; !r.exhausted; r = await store.stream(r.scannedTo!, 100, { contract: 'nobody' })) {
      assert.equal(r.items, []);
      seen.push(`${r.scannedTo!.height}.${r.scannedTo!.tx}.${r.scannedTo!.slot}`);
    }
    assert.equal(seen, all.filter((_, i) => i % 5 === 4).map((i) => i.cursor));
    assert.equal(r.scannedTo && `${r.scannedTo.height}.${r.scannedTo.tx}.${r.scannedTo.slot}`, all[all.length - 1]!.cursor);
    // Enough matches: the call stops at the last one it returns.
    const two = await store.stream({ height: 0, tx: 0, slot: 0 }, 2, { kinds: ['event'] });
    const events = all.filter((i) => matches(i, { kinds: ['event'] }));
    assert.equal(two.items, events.slice(0, 2));
    assert.equal([`${two.scannedTo!.height}.${two.scannedTo!.tx}.${two.scannedTo!.slot}`, two.exhausted], [events[1]!.cursor, false]);
    await store.close();
  });

  s('page tokens are checked: garbage and tokens of other queries are BAD_CURSOR', async () => {
    const store = await fresh();
    await applyBlocks(store, sampleBlocks());
    const next = (await store.holdings({ holder: ALICE, limit: 1 })).next;
    assert.is(next, undefined);
    const token = (await store.transactions({ account: BOB, limit: 1 })).next!;
    assert.equal((await store.transactions({ account: BOB, limit: 1, after: token })).items.map((t) => [t.height, t.index]), [[1, 3]]);
    for (const after of ['garbage', token.slice(0, -2), Buffer.from('["t:a","x",1]').toString('base64url')]) {
      const e = await store.transactions({ account: BOB, after }).catch((x: unknown) => x);
      assert.instance(e, QueryError);
      assert.is((e as QueryError).code, 'BAD_CURSOR');
    }
    assert.is(await code(store.transactions({ account: ALICE, after: token })), 'BAD_CURSOR');
    assert.is(await code(store.transactions({ account: BOB, limit: 0 })), 'BAD_QUERY');
    await store.close();
  });

  s('openIndexStore takes a postgres:// URL, with the schema in it, over TCP or the unix socket', async () => {
    const store = await openIndexStore({ postgres: `${db.url}?schema=by_url` });
    assert.instance(store, PgIndexStore);
    await applyBlocks(store, sampleBlocks().slice(0, 2));
    await store.close();
    const overSocket = await openIndexStore({ postgres: `${db.socketUrl}&schema=by_url` });
    assert.is(await overSocket.indexedHeight(), 1);
    await overSocket.close();
    const a = await admin();
    assert.equal((await a.query('SELECT height FROM by_url.index_state')).rows, [{ height: '1' }]);
  });

  s.run();
}
