/**
 * The embedded index: LevelDB, no server. Each record under its primary key (JSON), plus secondary
 * keys that order it by what queries ask (digest, registrant and time, chain position, partner and
 * level, holder, ...). A block's changes and the new indexed height go in one atomic batch, so after a
 * kill the index resumes at a block boundary. Not synced to disk per block: everything here can be
 * re-derived from the chain, and a killed process (not a lost machine) loses nothing LevelDB wrote.
 */
import { Level } from 'level';
import {
  type CertificationRow, type Cursor, type EvidenceQuery, type EvidenceRow, type HoldingRow, type IdentityQuery, type IdentityRow,
  type IndexBatch, type IndexStore, type ItemRow, type Page, type PageOptions, type StreamFilter, type StreamItem, type TxRow,
  type VoucherRow, IndexStoreError, QueryError, matches, pageLimit, parseCursor,
} from './types.ts';

const SEP = '\u0000';
const pad = (n: number, width = 15) => String(n).padStart(width, '0');
/** A text component of a key: U+0000 (the separator) and U+0001 are escaped, so no name runs into the next and order is kept. */
const esc = (s: string) => (/[\u0000\u0001]/.test(s) ? s.replace(/\u0001/g, '\u0001\u0002').replace(/\u0000/g, '\u0001\u0001') : s);
const unesc = (s: string) => s.replace(/\u0001([\u0001\u0002])/g, (_m, c: string) => (c === '\u0001' ? '\u0000' : '\u0001'));
/** A key prefix: its components escaped, each followed by the separator. */
const key = (tag: string, ...parts: string[]) => tag + parts.map((p) => esc(p) + SEP).join('');
/** The first key after every key starting with `prefix` (bytewise, whatever characters follow). */
const upper = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
const streamKey = (c: Cursor) => `s:${pad(c.height)}${pad(c.tx, 10)}${pad(c.slot, 10)}`;
/** How many stream items one replay call looks at, matching or not (a narrow filter over a long gap). */
const STREAM_SCAN = 20_000;

type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

function encodeAfter(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeAfter(after: string | undefined, prefix: string): string | undefined {
  if (after === undefined) return undefined;
  const key = Buffer.from(after, 'base64url').toString('utf8');
  if (!key.startsWith(prefix)) throw new QueryError('BAD_CURSOR', 'the page cursor is not from this query');
  return key;
}

export class LevelIndexStore implements IndexStore {
  private readonly db: Level<string, string>;

  private constructor(db: Level<string, string>) {
    this.db = db;
  }

  static async open(dir: string): Promise<LevelIndexStore> {
    const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    return new LevelIndexStore(db);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** A point read, synchronous: tens of microseconds from LevelDB's cache, cheaper than a trip through its thread pool. */
  private async get<T>(k: string): Promise<T | undefined> {
    const v = this.db.getSync(k);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async indexedHeight(): Promise<number> {
    return (await this.get<number>('m:height')) ?? -1;
  }

  async balance(symbol: string, holder: string): Promise<bigint> {
    const v = await this.get<string>(key('h:s:', symbol, holder));
    return v === undefined ? 0n : BigInt(v);
  }

  async apply(b: IndexBatch): Promise<void> {
    const ops: Op[] = [];
    const put = (k: string, value: unknown) => ops.push({ type: 'put', key: k, value: JSON.stringify(value) });
    const del = (k: string) => ops.push({ type: 'del', key: k });
    const known = await this.indexedHeight();
    if (b.height !== known + 1) throw new IndexStoreError('INDEX_HEIGHT_MISMATCH', `index is at ${known}; block ${b.height} does not follow`);
    for (const item of b.stream) put(streamKey(parseCursor(item.cursor)!), item);
    for (const t of b.txs) {
      put(key('t:h:', t.hash), t);
      put(key('t:a:', t.sender, pad(t.height) + pad(t.index, 10)), t.hash);
    }
    // Records a block replaces, read in one go (a block registers thousands).
    const oldEvidence = b.evidence.length === 0 ? [] : await this.db.getMany(b.evidence.map((e) => key('e:k:', e.key)));
    for (const [i, e] of b.evidence.entries()) {
      const stored = oldEvidence[i];
      const old = stored === undefined ? undefined : (JSON.parse(stored) as EvidenceRow);
      if (old) for (const k of evidenceIndexKeys(old)) del(k);
      put(key('e:k:', e.key), e);
      for (const k of evidenceIndexKeys(e)) put(k, e.key);
    }
    for (const i of b.identities) {
      const old = await this.get<IdentityRow>(key('i:a:', i.address));
      if (old?.name) del(key('i:n:', old.name, old.address));
      put(key('i:a:', i.address), i);
      if (i.name) put(key('i:n:', i.name, i.address), i.address);
    }
    const certs = new Map<string, CertificationRow>();
    for (const r of b.revocations) {
      const old = await this.get<CertificationRow>(key('c:a:', r.address, r.partner));
      if (old) certs.set(key('c:a:', r.address, r.partner), { ...old, revoked: true });
    }
    for (const c of b.certifications) certs.set(key('c:a:', c.address, c.partner), c);
    for (const [k, c] of certs) {
      const old = await this.get<CertificationRow>(k);
      if (old) del(key('c:p:', old.partner, pad(old.level, 3), old.address));
      put(k, c);
      if (!c.revoked) put(key('c:p:', c.partner, pad(c.level, 3), c.address), c.address);
    }
    for (const v of b.vouchers) {
      put(key('v:s:', v.symbol), v);
      put(key('v:i:', v.issuer, v.symbol), v.symbol);
    }
    for (const h of b.holdings) {
      if (h.balance === '0') {
        del(key('h:s:', h.symbol, h.holder));
        del(key('h:h:', h.holder, h.symbol));
      } else {
        put(key('h:s:', h.symbol, h.holder), h.balance);
        put(key('h:h:', h.holder, h.symbol), h.balance);
      }
    }
    for (const it of b.items) {
      const old = await this.get<ItemRow>(key('it:s:', it.symbol, it.itemId));
      if (old) del(key('it:o:', old.owner, old.symbol, old.itemId));
      put(key('it:s:', it.symbol, it.itemId), it);
      if (!it.redeemed) put(key('it:o:', it.owner, it.symbol, it.itemId), it.itemId);
    }
    put('m:height', b.height);
    put(`b:${pad(b.height)}`, { height: b.height, hash: b.hash, time: b.time });
    await this.db.batch(ops);
  }

  /** Keys in [gte, lt) after `after` (a key this query returned), up to the page limit, and whether more follow. */
  private async scan(gte: string, lt: string, opts: PageOptions, prefix: string): Promise<{ entries: Array<[string, string]>; next?: string }> {
    const limit = pageLimit(opts.limit);
    const after = decodeAfter(opts.after, prefix);
    const entries: Array<[string, string]> = [];
    const range = after !== undefined && after >= gte ? { gt: after, lt } : { gte, lt };
    for await (const [k, v] of this.db.iterator({ ...range, limit: limit + 1 })) entries.push([k, v]);
    const more = entries.length > limit;
    if (more) entries.length = limit;
    return { entries, ...(more ? { next: encodeAfter(entries[entries.length - 1]![0]) } : {}) };
  }

  /** Every key starting with `prefix`, paged. */
  private scanPrefix(prefix: string, opts: PageOptions, queryPrefix = prefix) {
    return this.scan(prefix, upper(prefix), opts, queryPrefix);
  }

  private async rows<T>(keys: string[]): Promise<T[]> {
    if (keys.length === 0) return [];
    const values = await this.db.getMany(keys);
    return values.filter((v): v is string => v !== undefined).map((v) => JSON.parse(v) as T);
  }

  async evidenceByKey(k: string): Promise<EvidenceRow | undefined> {
    return this.get<EvidenceRow>(key('e:k:', k));
  }

  async evidence(q: EvidenceQuery): Promise<Page<EvidenceRow>> {
    let r: { entries: Array<[string, string]>; next?: string };
    if ('digest' in q) r = await this.scanPrefix(key('e:d:', q.digest), q);
    else if ('chain' in q) r = await this.scanPrefix(key('e:c:', q.chain), q);
    else {
      // By time, for one registrant or for everyone: keys carry the time, padded, then the record key.
      const prefix = 'registrant' in q ? key('e:r:', q.registrant) : 'e:t:';
      const lt = q.to === undefined ? upper(prefix) : upper(prefix + pad(q.to) + SEP);
      r = await this.scan(prefix + pad(q.from ?? 0), lt, q, prefix);
    }
    return { items: await this.rows<EvidenceRow>(r.entries.map(([, k]) => key('e:k:', JSON.parse(k) as string))), ...(r.next ? { next: r.next } : {}) };
  }

  async identity(address: string): Promise<(IdentityRow & { certifications: CertificationRow[] }) | undefined> {
    const row = await this.get<IdentityRow>(key('i:a:', address));
    if (!row) return undefined;
    const certifications: CertificationRow[] = [];
    const prefix = key('c:a:', address);
    for await (const [, v] of this.db.iterator({ gte: prefix, lt: upper(prefix) })) certifications.push(JSON.parse(v) as CertificationRow);
    return { ...row, certifications };
  }

  async identities(q: IdentityQuery): Promise<Page<IdentityRow & { level?: number }>> {
    if ('name' in q) {
      const { entries, next } = await this.scanPrefix(key('i:n:', q.name), q);
      return { items: await this.rows<IdentityRow>(entries.map(([, a]) => key('i:a:', JSON.parse(a) as string))), ...(next ? { next } : {}) };
    }
    const prefix = key('c:p:', q.partner);
    const { entries, next } = await this.scanPrefix(q.level === undefined ? prefix : key('c:p:', q.partner, pad(q.level, 3)), q, prefix);
    const levels = entries.map(([k]) => Number(k.slice(prefix.length, prefix.length + 3)));
    const rows = await this.db.getMany(entries.map(([, a]) => key('i:a:', JSON.parse(a) as string)));
    const items = rows.flatMap((v, i) => (v === undefined ? [] : [{ ...(JSON.parse(v) as IdentityRow), level: levels[i]! }]));
    return { items, ...(next ? { next } : {}) };
  }

  async vouchers(q: PageOptions & { issuer?: string }): Promise<Page<VoucherRow>> {
    if (q.issuer === undefined) {
      const { entries, next } = await this.scanPrefix('v:s:', q);
      return { items: entries.map(([, v]) => JSON.parse(v) as VoucherRow), ...(next ? { next } : {}) };
    }
    const { entries, next } = await this.scanPrefix(key('v:i:', q.issuer), q);
    return { items: await this.rows<VoucherRow>(entries.map(([, sym]) => key('v:s:', JSON.parse(sym) as string))), ...(next ? { next } : {}) };
  }

  async holdings(q: PageOptions & ({ holder: string } | { symbol: string })): Promise<Page<HoldingRow>> {
    const byHolder = 'holder' in q;
    const prefix = byHolder ? key('h:h:', q.holder) : key('h:s:', q.symbol);
    const { entries, next } = await this.scanPrefix(prefix, q);
    const items = entries.map(([k, v]) => {
      const other = unesc(k.slice(prefix.length, -1));
      return byHolder ? { symbol: other, holder: q.holder, balance: JSON.parse(v) as string } : { symbol: q.symbol, holder: other, balance: JSON.parse(v) as string };
    });
    return { items, ...(next ? { next } : {}) };
  }

  async items(q: PageOptions & ({ owner: string } | { symbol: string })): Promise<Page<ItemRow>> {
    if ('symbol' in q) {
      const { entries, next } = await this.scanPrefix(key('it:s:', q.symbol), q);
      return { items: entries.map(([, v]) => JSON.parse(v) as ItemRow), ...(next ? { next } : {}) };
    }
    const prefix = key('it:o:', q.owner);
    const { entries, next } = await this.scanPrefix(prefix, q);
    // it:o:owner|symbol|item| -> it:s:symbol|item|
    return { items: await this.rows<ItemRow>(entries.map(([k]) => 'it:s:' + k.slice(prefix.length))), ...(next ? { next } : {}) };
  }

  async transaction(hash: string): Promise<TxRow | undefined> {
    return this.get<TxRow>(key('t:h:', hash));
  }

  async transactions(q: PageOptions & { account: string }): Promise<Page<TxRow>> {
    const { entries, next } = await this.scanPrefix(key('t:a:', q.account), q);
    return { items: await this.rows<TxRow>(entries.map(([, h]) => key('t:h:', JSON.parse(h) as string))), ...(next ? { next } : {}) };
  }

  async stream(after: Cursor, limit: number, filter: StreamFilter): Promise<{ items: StreamItem[]; scannedTo: Cursor | undefined; exhausted: boolean }> {
    const items: StreamItem[] = [];
    let scannedTo: Cursor | undefined;
    let scanned = 0;
    let stopped = false;
    for await (const [, v] of this.db.iterator({ gt: streamKey(after), lt: 's;', limit: STREAM_SCAN })) {
      const item = JSON.parse(v) as StreamItem;
      scannedTo = parseCursor(item.cursor);
      scanned++;
      if (matches(item, filter)) {
        items.push(item);
        if (items.length >= limit) {
          stopped = true;
          break;
        }
      }
    }
    return { items, scannedTo, exhausted: !stopped && scanned < STREAM_SCAN };
  }
}

function evidenceIndexKeys(e: EvidenceRow): string[] {
  const keys = [key('e:d:', e.digest, e.key), key('e:r:', e.registrant, pad(e.time), e.key), key('e:t:', pad(e.time), e.key)];
  if (e.chain !== null && e.index !== null) keys.push(key('e:c:', e.chain, pad(e.index)));
  return keys;
}
