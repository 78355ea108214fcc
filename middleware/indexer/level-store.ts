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
  type VoucherRow, QueryError, matches, pageLimit, parseCursor,
} from './types.ts';

const SEP = '\u0000';
const END = '\uffff';
const pad = (n: number, width = 15) => String(n).padStart(width, '0');
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

  private async get<T>(key: string): Promise<T | undefined> {
    const v = await this.db.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async indexedHeight(): Promise<number> {
    return (await this.get<number>('m:height')) ?? -1;
  }

  async balance(symbol: string, holder: string): Promise<bigint> {
    const v = await this.get<string>(`h:s:${symbol}${SEP}${holder}`);
    return v === undefined ? 0n : BigInt(v);
  }

  async apply(b: IndexBatch): Promise<void> {
    const ops: Op[] = [];
    const put = (key: string, value: unknown) => ops.push({ type: 'put', key, value: JSON.stringify(value) });
    const del = (key: string) => ops.push({ type: 'del', key });
    const known = await this.indexedHeight();
    if (b.height !== known + 1) throw new Error(`index is at ${known}; block ${b.height} does not follow`);
    for (const item of b.stream) put(streamKey(parseCursor(item.cursor)!), item);
    for (const t of b.txs) {
      put(`t:h:${t.hash}`, t);
      put(`t:a:${t.sender}${SEP}${pad(t.height)}${pad(t.index, 10)}`, t.hash);
    }
    for (const e of b.evidence) {
      const old = await this.get<EvidenceRow>(`e:k:${e.key}`);
      if (old) for (const k of evidenceIndexKeys(old)) del(k);
      put(`e:k:${e.key}`, e);
      for (const k of evidenceIndexKeys(e)) put(k, e.key);
    }
    for (const i of b.identities) {
      const old = await this.get<IdentityRow>(`i:a:${i.address}`);
      if (old?.name) del(`i:n:${old.name}${SEP}${old.address}`);
      put(`i:a:${i.address}`, i);
      if (i.name) put(`i:n:${i.name}${SEP}${i.address}`, i.address);
    }
    const certs = new Map<string, CertificationRow>();
    for (const r of b.revocations) {
      const old = await this.get<CertificationRow>(`c:a:${r.address}${SEP}${r.partner}`);
      if (old) certs.set(`${r.address}${SEP}${r.partner}`, { ...old, revoked: true });
    }
    for (const c of b.certifications) certs.set(`${c.address}${SEP}${c.partner}`, c);
    for (const [k, c] of certs) {
      const old = await this.get<CertificationRow>(`c:a:${k}`);
      if (old) del(`c:p:${old.partner}${SEP}${pad(old.level, 3)}${SEP}${old.address}`);
      put(`c:a:${k}`, c);
      if (!c.revoked) put(`c:p:${c.partner}${SEP}${pad(c.level, 3)}${SEP}${c.address}`, c.address);
    }
    for (const v of b.vouchers) {
      put(`v:s:${v.symbol}`, v);
      put(`v:i:${v.issuer}${SEP}${v.symbol}`, v.symbol);
    }
    for (const h of b.holdings) {
      if (h.balance === '0') {
        del(`h:s:${h.symbol}${SEP}${h.holder}`);
        del(`h:h:${h.holder}${SEP}${h.symbol}`);
      } else {
        put(`h:s:${h.symbol}${SEP}${h.holder}`, h.balance);
        put(`h:h:${h.holder}${SEP}${h.symbol}`, h.balance);
      }
    }
    for (const it of b.items) {
      const old = await this.get<ItemRow>(`it:s:${it.symbol}${SEP}${it.itemId}`);
      if (old) del(`it:o:${old.owner}${SEP}${old.symbol}${SEP}${old.itemId}`);
      put(`it:s:${it.symbol}${SEP}${it.itemId}`, it);
      if (!it.redeemed) put(`it:o:${it.owner}${SEP}${it.symbol}${SEP}${it.itemId}`, it.itemId);
    }
    put('m:height', b.height);
    put(`b:${pad(b.height)}`, { height: b.height, hash: b.hash, time: b.time });
    await this.db.batch(ops);
  }

  /** Keys in [gte, lte] after `after`, up to `limit`, and whether more follow. */
  private async scan(gte: string, lte: string, opts: PageOptions, prefix: string): Promise<{ entries: Array<[string, string]>; next?: string }> {
    const limit = pageLimit(opts.limit);
    const after = decodeAfter(opts.after, prefix);
    const entries: Array<[string, string]> = [];
    const range = after !== undefined ? { gt: after > gte ? after : gte, lte } : { gte, lte };
    for await (const [k, v] of this.db.iterator({ ...range, limit: limit + 1 })) entries.push([k, v]);
    const more = entries.length > limit;
    if (more) entries.length = limit;
    return { entries, ...(more ? { next: encodeAfter(entries[entries.length - 1]![0]) } : {}) };
  }

  private async rows<T>(keys: string[]): Promise<T[]> {
    if (keys.length === 0) return [];
    const values = await this.db.getMany(keys);
    return values.filter((v): v is string => v !== undefined).map((v) => JSON.parse(v) as T);
  }

  async evidenceByKey(key: string): Promise<EvidenceRow | undefined> {
    return this.get<EvidenceRow>(`e:k:${key}`);
  }

  async evidence(q: EvidenceQuery): Promise<Page<EvidenceRow>> {
    let prefix: string, gte: string, lte: string;
    if ('digest' in q) {
      prefix = `e:d:${q.digest}${SEP}`;
      [gte, lte] = [prefix, prefix + END];
    } else if ('registrant' in q) {
      prefix = `e:r:${q.registrant}${SEP}`;
      [gte, lte] = [prefix + pad(q.from ?? 0), q.to === undefined ? prefix + END : prefix + pad(q.to) + END];
    } else if ('chain' in q) {
      prefix = `e:c:${q.chain}${SEP}`;
      [gte, lte] = [prefix, prefix + END];
    } else {
      prefix = 'e:t:';
      [gte, lte] = [prefix + pad(q.from ?? 0), q.to === undefined ? prefix + END : prefix + pad(q.to) + END];
    }
    const { entries, next } = await this.scan(gte, lte, q, prefix);
    return { items: await this.rows<EvidenceRow>(entries.map(([, key]) => `e:k:${JSON.parse(key)}`)), ...(next ? { next } : {}) };
  }

  async identity(address: string): Promise<(IdentityRow & { certifications: CertificationRow[] }) | undefined> {
    const row = await this.get<IdentityRow>(`i:a:${address}`);
    if (!row) return undefined;
    const certifications: CertificationRow[] = [];
    for await (const [, v] of this.db.iterator({ gte: `c:a:${address}${SEP}`, lte: `c:a:${address}${SEP}${END}` })) certifications.push(JSON.parse(v) as CertificationRow);
    return { ...row, certifications };
  }

  async identities(q: IdentityQuery): Promise<Page<IdentityRow & { level?: number }>> {
    if ('name' in q) {
      const prefix = `i:n:${q.name}${SEP}`;
      const { entries, next } = await this.scan(prefix, prefix + END, q, prefix);
      return { items: await this.rows<IdentityRow>(entries.map(([, a]) => `i:a:${JSON.parse(a)}`)), ...(next ? { next } : {}) };
    }
    const prefix = `c:p:${q.partner}${SEP}`;
    const lvl = q.level === undefined ? '' : `${pad(q.level, 3)}${SEP}`;
    const { entries, next } = await this.scan(prefix + lvl, prefix + lvl + END, q, prefix);
    const levels = entries.map(([k]) => Number(k.slice(prefix.length, prefix.length + 3)));
    const rows = await this.db.getMany(entries.map(([, a]) => `i:a:${JSON.parse(a)}`));
    const items = rows.flatMap((v, i) => (v === undefined ? [] : [{ ...(JSON.parse(v) as IdentityRow), level: levels[i]! }]));
    return { items, ...(next ? { next } : {}) };
  }

  async vouchers(q: PageOptions & { issuer?: string }): Promise<Page<VoucherRow>> {
    if (q.issuer === undefined) {
      const { entries, next } = await this.scan('v:s:', `v:s:${END}`, q, 'v:s:');
      return { items: entries.map(([, v]) => JSON.parse(v) as VoucherRow), ...(next ? { next } : {}) };
    }
    const prefix = `v:i:${q.issuer}${SEP}`;
    const { entries, next } = await this.scan(prefix, prefix + END, q, prefix);
    return { items: await this.rows<VoucherRow>(entries.map(([, s]) => `v:s:${JSON.parse(s)}`)), ...(next ? { next } : {}) };
  }

  async holdings(q: PageOptions & ({ holder: string } | { symbol: string })): Promise<Page<HoldingRow>> {
    const byHolder = 'holder' in q;
    const prefix = byHolder ? `h:h:${q.holder}${SEP}` : `h:s:${q.symbol}${SEP}`;
    const { entries, next } = await this.scan(prefix, prefix + END, q, prefix);
    const items = entries.map(([k, v]) => {
      const other = k.slice(prefix.length);
      return byHolder ? { symbol: other, holder: q.holder, balance: JSON.parse(v) as string } : { symbol: q.symbol, holder: other, balance: JSON.parse(v) as string };
    });
    return { items, ...(next ? { next } : {}) };
  }

  async items(q: PageOptions & ({ owner: string } | { symbol: string })): Promise<Page<ItemRow>> {
    if ('symbol' in q) {
      const prefix = `it:s:${q.symbol}${SEP}`;
      const { entries, next } = await this.scan(prefix, prefix + END, q, prefix);
      return { items: entries.map(([, v]) => JSON.parse(v) as ItemRow), ...(next ? { next } : {}) };
    }
    const prefix = `it:o:${q.owner}${SEP}`;
    const { entries, next } = await this.scan(prefix, prefix + END, q, prefix);
    return { items: await this.rows<ItemRow>(entries.map(([k]) => `it:s:${k.slice(prefix.length)}`)), ...(next ? { next } : {}) };
  }

  async transaction(hash: string): Promise<TxRow | undefined> {
    return this.get<TxRow>(`t:h:${hash}`);
  }

  async transactions(q: PageOptions & { account: string }): Promise<Page<TxRow>> {
    const prefix = `t:a:${q.account}${SEP}`;
    const { entries, next } = await this.scan(prefix, prefix + END, q, prefix);
    return { items: await this.rows<TxRow>(entries.map(([, h]) => `t:h:${JSON.parse(h)}`)), ...(next ? { next } : {}) };
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
  const keys = [`e:d:${e.digest}${SEP}${e.key}`, `e:r:${e.registrant}${SEP}${pad(e.time)}${SEP}${e.key}`, `e:t:${pad(e.time)}${SEP}${e.key}`];
  if (e.chain !== null && e.index !== null) keys.push(`e:c:${e.chain}${SEP}${pad(e.index)}`);
  return keys;
}
