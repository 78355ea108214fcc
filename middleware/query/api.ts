/**
 * The query API (SPEC M1): JSON-RPC methods over the index, with filters and paging. Every list answer
 * is `{items, next?}`; pass `next` back as `after` for the following page. Addresses and digests are
 * 0x-hex; times are milliseconds since the epoch.
 */
import type { RpcServer } from '../../node/rpc/server.ts';
import { RpcError } from '../../node/rpc/errors.ts';
import type { Indexer } from '../indexer/indexer.ts';
import { type EvidenceQuery, type IdentityQuery, type PageOptions, QueryError } from '../indexer/types.ts';

type Params = Record<string, unknown>;

function obj(p: unknown): Params {
  if (p === undefined) return {};
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw RpcError.invalidParams('params must be an object');
  return p as Params;
}

function only(p: Params, allowed: string[]): void {
  const unknown = Object.keys(p).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw RpcError.invalidParams(`unknown parameters: ${unknown.join(', ')} (accepted: ${allowed.join(', ')})`);
}

function text(p: Params, name: string, max = 256): string | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw RpcError.invalidParams(`${name} must be a string of 1 to ${max} characters`);
  return v;
}

function hex32(p: Params, name: string): string | undefined {
  const v = text(p, name, 66);
  if (v === undefined) return undefined;
  if (!/^0x[0-9a-fA-F]{64}$/.test(v)) throw RpcError.invalidParams(`${name} must be 0x and 64 hex digits`);
  return v.toLowerCase();
}

function int(p: Params, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw RpcError.invalidParams(`${name} must be an integer from 0 to ${max}`);
  return v;
}

function page(p: Params): PageOptions {
  const limit = int(p, 'limit', 1000);
  const after = text(p, 'after', 2048);
  return { ...(limit !== undefined ? { limit } : {}), ...(after !== undefined ? { after } : {}) };
}

function found<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new QueryError('NOT_FOUND', `no ${what}`);
  return v;
}

export function registerQueryApi(server: RpcServer, indexer: Indexer): void {
  const store = indexer.store;

  server.method('index_status', () => indexer.status());

  server.method('evidence_get', async (params) => {
    const p = obj(params);
    only(p, ['key']);
    const key = text(p, 'key') ?? (() => { throw RpcError.invalidParams('key is required'); })();
    return found(await store.evidenceByKey(key), `evidence under ${key}`);
  });

  server.method('evidence_find', async (params) => {
    const p = obj(params);
    only(p, ['digest', 'registrant', 'chain', 'from', 'to', 'limit', 'after']);
    const digest = hex32(p, 'digest'), registrant = hex32(p, 'registrant'), chain = text(p, 'chain');
    const from = int(p, 'from'), to = int(p, 'to');
    const range = { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
    const by = [digest, registrant, chain].filter((x) => x !== undefined).length;
    if (by > 1) throw new QueryError('BAD_QUERY', 'filter by one of digest, registrant (with an optional time range) or chain');
    if ((digest !== undefined || chain !== undefined) && (from !== undefined || to !== undefined)) throw new QueryError('BAD_QUERY', 'a time range goes with registrant, or alone');
    let q: EvidenceQuery;
    if (digest !== undefined) q = { digest, ...page(p) };
    else if (registrant !== undefined) q = { registrant, ...range, ...page(p) };
    else if (chain !== undefined) q = { chain, ...page(p) };
    else q = { ...range, ...page(p) };
    return store.evidence(q);
  });

  server.method('identity_get', async (params) => {
    const p = obj(params);
    only(p, ['address']);
    const address = hex32(p, 'address') ?? (() => { throw RpcError.invalidParams('address is required'); })();
    return found(await store.identity(address), `identity ${address}`);
  });

  server.method('identity_find', async (params) => {
    const p = obj(params);
    only(p, ['name', 'partner', 'level', 'limit', 'after']);
    const name = text(p, 'name'), partner = hex32(p, 'partner'), level = int(p, 'level', 255);
    let q: IdentityQuery;
    if (name !== undefined && partner === undefined && level === undefined) q = { name, ...page(p) };
    else if (partner !== undefined && name === undefined) q = { partner, ...(level !== undefined ? { level } : {}), ...page(p) };
    else throw new QueryError('BAD_QUERY', 'filter by name, or by partner (with an optional level)');
    return store.identities(q);
  });

  server.method('voucher_find', async (params) => {
    const p = obj(params);
    only(p, ['issuer', 'limit', 'after']);
    const issuer = hex32(p, 'issuer');
    return store.vouchers({ ...(issuer !== undefined ? { issuer } : {}), ...page(p) });
  });

  server.method('holding_find', async (params) => {
    const p = obj(params);
    only(p, ['holder', 'symbol', 'limit', 'after']);
    const holder = hex32(p, 'holder'), symbol = text(p, 'symbol', 64);
    if ((holder === undefined) === (symbol === undefined)) throw new QueryError('BAD_QUERY', 'filter by holder or by symbol');
    return store.holdings(holder !== undefined ? { holder, ...page(p) } : { symbol: symbol!, ...page(p) });
  });

  server.method('item_find', async (params) => {
    const p = obj(params);
    only(p, ['owner', 'symbol', 'limit', 'after']);
    const owner = hex32(p, 'owner'), symbol = text(p, 'symbol', 64);
    if ((owner === undefined) === (symbol === undefined)) throw new QueryError('BAD_QUERY', 'filter by owner or by symbol');
    return store.items(owner !== undefined ? { owner, ...page(p) } : { symbol: symbol!, ...page(p) });
  });

  server.method('tx_lookup', async (params) => {
    const p = obj(params);
    only(p, ['hash']);
    const hash = hex32(p, 'hash') ?? (() => { throw RpcError.invalidParams('hash is required'); })();
    return found(await store.transaction(hash), `indexed transaction ${hash}`);
  });

  server.method('tx_find', async (params) => {
    const p = obj(params);
    only(p, ['account', 'limit', 'after']);
    const account = hex32(p, 'account') ?? (() => { throw RpcError.invalidParams('account is required'); })();
    return store.transactions({ account, ...page(p) });
  });
}
