/**
 * Custody over HTTP, on the middleware's RpcServer beside JSON-RPC (SPEC E5):
 *
 *   PUT|POST /custody              body = the file; answers {digest, address, custodyDigest, size, type, created}
 *   GET|HEAD /custody/sha256/<hex> the file, checked against <hex> while it streams (cut short if it does not match)
 *
 * Uploads need an API key when the server has keys; downloads too, unless `publicDownloads`. The server
 * has already checked origin, key and rate limit; a thrown CustodyError becomes a JSON error with the
 * status its code implies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { RpcServer } from '../../node/rpc/server.ts';
import { toRpcError } from '../../node/rpc/errors.ts';
import { RateLimiter, type RateLimit } from '../../node/rpc/rate-limit.ts';
import { canonicalBaseUrl, custodyDigest, downloadUrl, formatCustodyAddress } from './address.ts';
import { CustodyError } from './errors.ts';
import type { ContentStore } from './store.ts';

/** Documents, images, archives and plain bytes; no type a browser would run (HTML, SVG, XML, scripts). */
export const DEFAULT_ALLOWED_TYPES: readonly string[] = [
  'application/octet-stream',
  'application/pdf', 'application/rtf', 'text/plain', 'text/csv', 'application/json',
  'application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text', 'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.oasis.opendocument.presentation', 'application/ofd',
  'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/tiff', 'image/bmp', 'image/heic', 'image/avif',
  'application/zip', 'application/gzip', 'application/x-tar', 'application/x-7z-compressed', 'application/vnd.rar',
  'application/x-xz', 'application/x-bzip2', 'application/zstd',
];

export const CUSTODY_DEFAULTS = {
  maxBytes: 100 * 1024 * 1024,
  /** An upload that sends nothing for this long is cut. */
  idleTimeoutMs: 30_000,
  /** The longest an upload may take in all (the HTTP server's whole-request deadline when custody is on). */
  uploadTimeoutMs: 15 * 60_000,
} as const;

export interface CustodyHttpOptions {
  store: ContentStore;
  /**
   * The base URL that addresses name and files are downloaded under, as the public reaches this service
   * (e.g. https://registry.example.org/). Default: the server's own URL.
   */
  publicUrl?: string;
  maxBytes?: number;
  /** Media types accepted for upload: "type/subtype" or "type/*". */
  allowedTypes?: readonly string[];
  /** Downloads without an API key even when the server has keys (a public registry's files). */
  publicDownloads?: boolean;
  idleTimeoutMs?: number;
  /**
   * Partners' upload keys, checked by custody itself (each key's sha256 hex, as the server's apiKeys):
   * when given, an upload needs one (x-api-key, or Authorization: Bearer) whether or not the server has
   * keys of its own, while the rest of the server (queries, a public page) stays as open as it is.
   */
  uploadKeys?: ReadonlyArray<{ name: string; keyHash: string; rateLimit?: RateLimit }>;
  /** Stored files, rejected uploads, corrupt files. */
  log?: (event: Record<string, unknown>) => void;
}

const TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
const DOWNLOAD = /^\/custody\/sha256\/([0-9a-f]{64})$/;

export function registerCustodyRoutes(server: RpcServer, opts: CustodyHttpOptions): void {
  const store = opts.store;
  const log = opts.log ?? (() => undefined);
  const maxBytes = opts.maxBytes ?? CUSTODY_DEFAULTS.maxBytes;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new CustodyError('CUSTODY_BAD_CONFIG', 'custody maxBytes must be a positive integer');
  const idleTimeoutMs = opts.idleTimeoutMs ?? CUSTODY_DEFAULTS.idleTimeoutMs;
  const allowed = (opts.allowedTypes ?? DEFAULT_ALLOWED_TYPES).map((t) => {
    const type = t.trim().toLowerCase();
    if (!TYPE.test(type) && !/^[a-z0-9][a-z0-9!#$&^_.+-]*\/\*$/.test(type)) throw new CustodyError('CUSTODY_BAD_CONFIG', `not a media type: ${JSON.stringify(t)}`);
    return type;
  });
  let configuredBase: string | undefined;
  if (opts.publicUrl !== undefined) {
    try {
      configuredBase = canonicalBaseUrl(opts.publicUrl);
    } catch (e) {
      throw new CustodyError('CUSTODY_BAD_CONFIG', `custody publicUrl: ${(e as Error).message}`);
    }
  }
  const baseUrl = (): string => {
    if (configuredBase !== undefined) return configuredBase;
    const url = server.url;
    if (url === undefined) throw new CustodyError('CUSTODY_UNAVAILABLE', 'the server is not listening');
    if (isWildcard(new URL(url).hostname)) throw new CustodyError('CUSTODY_UNAVAILABLE', 'the service listens on every interface: configure custody publicUrl, the address files are downloaded from');
    return canonicalBaseUrl(url);
  };
  const cacheControl = opts.publicDownloads ? 'public, max-age=31536000, immutable' : 'private, max-age=31536000, immutable';
  const uploadKeys = new Map<string, { name: string; limiter: RateLimiter | undefined }>();
  for (const k of opts.uploadKeys ?? []) {
    if (!/^[0-9a-fA-F]{64}$/.test(k.keyHash)) throw new CustodyError('CUSTODY_BAD_CONFIG', `upload key ${k.name}: keyHash is the key's sha256, 64 hex digits`);
    uploadKeys.set(k.keyHash.toLowerCase(), { name: k.name, limiter: k.rateLimit ? new RateLimiter(k.rateLimit) : undefined });
  }

  server.route('/custody', ['PUT', 'POST'], async (req, res, ctx) => {
    const path = pathOf(req);
    if (path !== '/custody' && path !== '/custody/') throw new CustodyError('CUSTODY_NOT_FOUND', `upload a file with ${req.method} /custody (the body is the file)`);
    let uploader: string | undefined;
    if (uploadKeys.size > 0) {
      const key = keyOf(req);
      const hash = key === undefined ? undefined : createHash('sha256').update(key).digest('hex');
      const holder = hash === undefined ? undefined : uploadKeys.get(hash);
      if (holder === undefined) {
        log({ event: 'custody-rejected', remote: ctx.remote, code: 'RPC_UNAUTHORIZED' });
        return answerWhileDraining(req, res, 401, new CustodyError('RPC_UNAUTHORIZED', 'uploads need a custody API key (x-api-key header, or Authorization: Bearer)'));
      }
      if (holder.limiter !== undefined && !holder.limiter.take(hash!)) {
        const retry = Math.max(1, Math.ceil(holder.limiter.retryAfterMs(hash!) / 1000));
        return answerWhileDraining(req, res, 429, new CustodyError('RPC_RATE_LIMITED', 'rate limit exceeded'), { 'Retry-After': String(retry) });
      }
      uploader = holder.name;
    }
    const base = baseUrl();
    let type: string;
    try {
      type = acceptedType(req.headers['content-type'], allowed);
      // The digest is of the bytes as sent: a compressed body would be kept compressed under another digest.
      const coding = req.headers['content-encoding'];
      if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') throw new CustodyError('CUSTODY_UNSUPPORTED_TYPE', `Content-Encoding ${coding} is not accepted: upload the file as it is`);
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > maxBytes) throw new CustodyError('CUSTODY_TOO_LARGE', `the file is over the limit of ${maxBytes} bytes`, { data: { maxBytes } });
    } catch (e) {
      log({ event: 'custody-rejected', remote: ctx.remote, code: (e as CustodyError).code });
      throw e;
    }
    // A client that stops sending is cut after idleTimeoutMs (the server's whole-request deadline is far longer).
    req.setTimeout(idleTimeoutMs, () => req.destroy(new CustodyError('CUSTODY_TIMEOUT', `the upload sent nothing for ${idleTimeoutMs} ms`)));
    req.once('end', () => req.setTimeout(0)); // storing it (fsyncs) is not the client being idle
    let stored;
    try {
      // Not destroyed when put stops early (over the limit): the request must stay answerable with a 413.
      stored = await store.put(req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>, { type, maxBytes });
    } catch (e) {
      log({ event: 'custody-rejected', remote: ctx.remote, code: (e as { code?: string }).code ?? 'INTERNAL' });
      if ((e as CustodyError).code === 'CUSTODY_TOO_LARGE' && !req.destroyed) return answerWhileDraining(req, res, 413, e as CustodyError);
      throw e;
    } finally {
      req.setTimeout(0);
    }
    const address = formatCustodyAddress(stored.hex, base);
    log({ event: 'custody-stored', digest: `0x${stored.hex}`, size: stored.size, type: stored.type, created: stored.created, remote: ctx.remote, ...(uploader ? { uploader } : {}) });
    sendJson(res, stored.created ? 201 : 200, {
      digest: `0x${stored.hex}`, address, custodyDigest: custodyDigest(address), size: stored.size, type: stored.type, created: stored.created,
    }, stored.created ? { Location: downloadUrl(address) } : {});
  }, { public: uploadKeys.size > 0 }); // custody's own keys: checked above

  server.route('/custody', ['GET', 'HEAD'], async (req, res) => {
    const path = pathOf(req);
    if (path === '/custody' || path === '/custody/') throw new CustodyError('CUSTODY_NOT_FOUND', 'download a file at /custody/sha256/<64 lower-case hex digits>');
    // Matched on the raw path, before any decoding: "..", "%2e%2e" and the like never reach the store.
    const m = DOWNLOAD.exec(path);
    if (m === null) throw new CustodyError('CUSTODY_BAD_ADDRESS', 'a file is downloaded at /custody/sha256/<64 lower-case hex digits of its SHA-256>');
    const hex = m[1]!;
    const opened = await store.open(hex);
    if (opened === undefined) throw new CustodyError('CUSTODY_NOT_FOUND', `no file sha256:${hex} in custody`);
    const { file, stream } = opened;
    const etag = `"0x${hex}"`;
    const headers: Record<string, string | number> = {
      ETag: etag,
      'Cache-Control': cacheControl,
      'Repr-Digest': `sha-256=:${Buffer.from(hex, 'hex').toString('base64')}:`,
      'X-Content-Type-Options': 'nosniff',
      'Accept-Ranges': 'none',
      'Access-Control-Expose-Headers': 'ETag, Repr-Digest, Content-Length',
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      stream.destroy();
      res.writeHead(304, headers).end();
      return;
    }
    // Uploaded content never runs as a page of this origin (whatever types an operator allows); PDFs are
    // spared only because browsers' PDF viewers refuse to open in a sandboxed document.
    if (file.type !== 'application/pdf') headers['Content-Security-Policy'] = 'sandbox';
    res.writeHead(200, { ...headers, 'Content-Type': file.type, 'Content-Length': file.size });
    if (req.method === 'HEAD') {
      stream.destroy();
      res.end();
      return;
    }
    // The status and length go out at once: a download cut short is then seen as one (not as a refused connection).
    res.flushHeaders();
    try {
      await pipeline(stream, res);
    } catch (e) {
      // pipeline has destroyed the response: short of its Content-Length, the client sees an error.
      if ((e as CustodyError).code === 'CUSTODY_CORRUPT') log({ event: 'custody-corrupt', digest: `0x${hex}` });
      else if (!res.destroyed || (e as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
    }
  }, { public: opts.publicDownloads === true });

  // CORS preflights carry no API key; the server has already checked the Origin against its allowlist.
  server.route('/custody', ['OPTIONS'], (_req, res) => {
    res.writeHead(204, {
      Allow: 'GET, HEAD, PUT, POST, OPTIONS',
      'Access-Control-Allow-Methods': 'GET, HEAD, PUT, POST',
      'Access-Control-Allow-Headers': 'content-type, x-api-key, authorization, if-none-match',
      'Access-Control-Max-Age': '600',
    }).end();
  }, { public: true });
}

/**
 * The type recorded for an upload: its Content-Type's media type (lower case; a text type keeps its
 * charset), which must be on the allowlist. No Content-Type means application/octet-stream (RFC 9110).
 */
export function acceptedType(header: string | undefined, allowed: readonly string[]): string {
  const raw = header ?? 'application/octet-stream';
  const [essencePart, ...params] = raw.split(';');
  const essence = essencePart!.trim().toLowerCase();
  const refuse = () => new CustodyError('CUSTODY_UNSUPPORTED_TYPE', `Content-Type ${JSON.stringify(raw.slice(0, 100))} is not accepted for custody`, { data: { allowed } });
  if (!TYPE.test(essence)) throw refuse();
  const major = essence.slice(0, essence.indexOf('/'));
  if (!allowed.includes(essence) && !allowed.includes(`${major}/*`)) throw refuse();
  if (major !== 'text') return essence;
  for (const p of params) {
    const m = /^\s*charset\s*=\s*"?([A-Za-z0-9._:-]{1,40})"?\s*$/i.exec(p);
    if (m) return `${essence}; charset=${m[1]!.toLowerCase()}`;
  }
  return essence;
}

/** How long a client still sending a refused upload gets to finish before its connection is cut. */
const LINGER_MS = 5_000;

/**
 * Answers an upload refused before or in the middle of its body while reading and discarding the rest
 * of it for a while (a lingering close): a client that writes its whole body before reading (fetch with
 * a stream body) then sees the 401 or 413, where closing at once would have shown it a broken pipe.
 */
function answerWhileDraining(req: IncomingMessage, res: ServerResponse, status: number, error: CustodyError, headers: Record<string, string> = {}): void {
  const cut = setTimeout(() => req.socket.destroy(), LINGER_MS);
  const stop = () => clearTimeout(cut);
  req.once('end', stop);
  req.once('close', stop);
  req.resume();
  const json = JSON.stringify({ jsonrpc: '2.0', id: null, error: toRpcError(error).error.toJSON() });
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store' });
  res.end(json);
}

function keyOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const key = (req.headers['x-api-key'] as string | undefined) ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
  return key === '' ? undefined : key;
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?', 1)[0]!;
}

function isWildcard(hostname: string): boolean {
  return hostname === '0.0.0.0' || hostname === '[::]' || hostname === '::';
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store' });
  res.end(json);
}
