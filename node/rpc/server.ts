/**
 * JSON-RPC 2.0 over HTTP (POST /) and WebSocket (/ or /ws) on one port, with the protections a public
 * endpoint needs: size, batch, rate, connection and subscription limits, handler timeouts, bounded
 * buffering for slow WebSocket consumers and keep-alive pings. Knows nothing about the chain: the node
 * registers methods and topics and publishes items.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { RpcError, toRpcError, type RpcErrorCode } from './errors.ts';
import { RateLimiter, type RateLimit } from './rate-limit.ts';

export interface HandlerContext {
  transport: 'http' | 'ws';
  /** The peer's IP address (IPv4-mapped IPv6 addresses unwrapped). */
  remote: string;
  /** Aborted on timeout (reason: RpcError RPC_TIMEOUT), client disconnect or server close. */
  signal: AbortSignal;
}

/** Returns a JSON-serialisable result (undefined becomes null). Throw RpcError, or any error with a stable string `code`, for typed failures. */
export type Handler = (params: unknown, ctx: HandlerContext) => unknown;

/**
 * Serves every entry of one batch that calls this method at once: each entry's params in, each entry's
 * outcome out, in the same order (an error is the same as a Handler throwing it). For methods whose
 * entries are cheaper together (tx_send: one signature hand-off and one pool log write per request).
 */
export type BatchHandler = (paramsList: readonly unknown[], ctx: HandlerContext) => Promise<ReadonlyArray<{ result: unknown } | { error: unknown }>>;

/** Validates a subscription's filter (the subscribe params without `topic`); throw RpcError.invalidParams for bad ones. */
export type FilterParser<F> = (params: Record<string, unknown>) => F;

export interface RpcServerOptions {
  /** Interface to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Port; 0 picks a free one (see the URLs `listen()` returns). */
  port?: number;
  /** Largest HTTP body or WebSocket message, bytes. */
  maxBodyBytes?: number;
  /** Most entries in one batch. */
  maxBatch?: number;
  /** Per-remote-address token bucket, one token per request (each batch entry counts); false disables it. */
  rateLimit?: RateLimit | false;
  /** Open TCP connections (HTTP and WebSocket together); beyond it, 503 / RPC_TOO_MANY_CONNECTIONS. */
  maxConnections?: number;
  maxSubscriptionsPerConnection?: number;
  /** Handler deadline; on expiry its signal aborts and the caller gets RPC_TIMEOUT. */
  requestTimeoutMs?: number;
  /** Deadline for receiving a whole HTTP request, body included (408 and the connection closed); longer for file uploads. */
  httpRequestTimeoutMs?: number;
  /** A WebSocket whose unsent bytes exceed this is closed (1008 RPC_SLOW_CONSUMER) instead of buffering more. */
  wsMaxBufferedBytes?: number;
  /** Ping period; 0 disables keep-alive. */
  wsPingIntervalMs?: number;
  /** A connection that does not answer a ping within this is terminated. */
  wsPongTimeoutMs?: number;
  /** How long closing connections (shutdown, slow consumers) get to finish before they are cut. */
  closeGraceMs?: number;
  /** Browser origins allowed to call (the Origin header); requests without Origin (non-browser clients) always pass. */
  allowedOrigins?: readonly string[] | '*';
  /** Receives internal errors (with stack) and disconnects; default: internal errors to stderr. */
  log?: (event: RpcLogEvent) => void;
  /** Clock for the rate limiter (tests). */
  now?: () => number;
  /**
   * API keys (a proxy node open to partners): when given, every request must carry one (header
   * `x-api-key` or `Authorization: Bearer`, or `?api_key=` on a WebSocket URL), and each key has its
   * own rate limit instead of the per-address one. Keys are stored as sha256 hex digests.
   */
  apiKeys?: ReadonlyArray<{ name: string; keyHash: string; rateLimit: RateLimit }>;
}

export type RpcLogEvent =
  | { type: 'internal_error'; remote: string; method: string | undefined; error: unknown }
  | { type: 'rejected'; remote: string; code: RpcErrorCode }
  | { type: 'ws_disconnect'; remote: string; reason: WsCloseReason };

export const RPC_DEFAULTS = {
  host: '127.0.0.1',
  port: 8645,
  maxBodyBytes: 1 << 20,
  maxBatch: 100,
  rateLimit: { perSecond: 200, burst: 400 } as RateLimit,
  maxConnections: 256,
  maxSubscriptionsPerConnection: 64,
  requestTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  wsMaxBufferedBytes: 4 << 20,
  wsPingIntervalMs: 30_000,
  wsPongTimeoutMs: 10_000,
  closeGraceMs: 2_000,
} as const;

/** Close codes and reasons (the reason is a stable string code) the server uses on WebSockets. */
const KEY_PREFIX = 'key:';

export const WS_CLOSE = {
  shuttingDown: { code: 1001, reason: 'RPC_SHUTTING_DOWN' },
  slowConsumer: { code: 1008, reason: 'RPC_SLOW_CONSUMER' },
  /** Sent by `ws` itself for a message over maxBodyBytes. */
  messageTooLarge: { code: 1009, reason: 'Max payload size exceeded' },
} as const;
export type WsCloseReason = 'RPC_SLOW_CONSUMER' | 'RPC_PING_TIMEOUT';

export interface RpcServerStats {
  connections: number;
  websockets: number;
  subscriptions: number;
  inFlight: number;
}

const RESERVED_METHODS = new Set(['subscribe', 'unsubscribe']);

type RequestId = string | number | null;

/** A batch entry batchedMethod accepted. */
interface BatchedRequest { id: RequestId; params: unknown }

/**
 * What a JSON-RPC request is: its id for the reply (null when absent or not a valid id), whether it
 * has one (no id: a notification), and whether it is a valid request at all.
 */
function requestShape(request: unknown): { isObject: boolean; hasId: boolean; id: RequestId; valid: boolean; method: string; params: unknown } {
  const req = request as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  const isObject = typeof request === 'object' && request !== null && !Array.isArray(request);
  const hasId = isObject && Object.hasOwn(req, 'id');
  const idOk = !hasId || req.id === null || typeof req.id === 'string' || (typeof req.id === 'number' && Number.isFinite(req.id));
  const valid = isObject && idOk && req.jsonrpc === '2.0' && typeof req.method === 'string' &&
    (req.params === undefined || (typeof req.params === 'object' && req.params !== null));
  return { isObject, hasId, id: hasId && idOk ? req.id as RequestId : null, valid, method: valid ? req.method as string : '', params: valid ? req.params : undefined };
}

function resultReply(id: RequestId, result: unknown): { json: string; limited: false } {
  return { json: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${JSON.stringify(result) ?? 'null'}}`, limited: false };
}
/** Sockets over the connection cap still get a polite 503; this many more are dropped at accept. */
const OVERFLOW_ALLOWANCE = 32;
/** How long, and for how many bytes, a connection closed on an unread body keeps reading before it is cut. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 4 * 1024 * 1024;
const LINGER_CHECK_MS = 50;

/**
 * Serves plain HTTP under a path prefix beside JSON-RPC (file uploads, a web page): the server has
 * already checked the connection cap, the origin and (unless the route is public) the API key, and
 * taken a rate-limit token for the request. Throw an error with a stable `code` for a JSON error.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, ctx: { remote: string }) => void | Promise<void>;

interface Route { prefix: string; methods: readonly string[]; handler: RouteHandler; public: boolean }

/** One subscription, to send to it alone (a replay from a cursor, say). */
export interface SubscriptionChannel {
  /** Delivers an item; false once the subscription can take no more (unsubscribed, closed, cut as a slow consumer). */
  send(item: unknown): boolean;
  /** Whether the subscription is still there. */
  open(): boolean;
  /** The connection's unsent bytes: a long replay waits for the client instead of being cut off as slow. */
  buffered(): number;
}

/** Called once a subscription is active (its id sent to the client). */
export type SubscribeHook<F> = (filter: F, channel: SubscriptionChannel) => void;

interface Topic {
  parse: FilterParser<unknown>;
  subs: Set<Subscription>;
  onSubscribe?: SubscribeHook<unknown>;
}

interface Subscription {
  id: string;
  topic: string;
  filter: unknown;
  conn: WsConnection;
  /** False until the subscribe response is sent, so no notification overtakes it. */
  active: boolean;
}

interface WsConnection {
  ws: WebSocket;
  remote: string;
  subs: Map<string, Subscription>;
  inFlight: Set<AbortController>;
  closing: boolean;
  awaitingPong: boolean;
  pingTimer: NodeJS.Timeout | undefined;
  pongTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
}

/** Where one HTTP body or WebSocket message came from. */
interface Caller {
  transport: 'http' | 'ws';
  remote: string;
  inFlight: Set<AbortController>;
  conn?: WsConnection;
  /** Subscriptions created by this message, activated once its response is sent. */
  created: Subscription[];
  /** The message's handler calls in progress (see scopeOf). */
  scope?: CallScope;
}

interface CallScope {
  ac: AbortController;
  /** Whether the deadline passed (the abort's reason then is an RPC_TIMEOUT); each call's caller gets one naming its method. */
  timedOut: boolean;
  timer: NodeJS.Timeout;
  /** Rejects each call in progress (when the signal aborts). */
  stops: Set<(reason: unknown) => void>;
  pending: number;
}

interface Reply {
  /** Serialised response; undefined for notifications. */
  json: string | undefined;
  limited: boolean;
}

export class RpcServer {
  private readonly opts: Required<Omit<RpcServerOptions, 'rateLimit' | 'now' | 'allowedOrigins' | 'apiKeys'>>;
  private readonly origins: ReadonlySet<string> | '*';
  private readonly limiter: RateLimiter | undefined;
  /** sha256 hex of a key → its holder's name and rate limiter. */
  private readonly apiKeys = new Map<string, { name: string; limiter: RateLimiter }>();
  private readonly methods = new Map<string, Handler>();
  private readonly batchHandlers = new Map<string, BatchHandler>();
  private readonly topics = new Map<string, Topic>();
  private readonly routes: Route[] = [];
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<Socket>();
  private readonly overflow = new WeakSet<Duplex>();
  /** Sockets with an HTTP request being answered, or upgraded to WebSocket: not idle at shutdown. */
  private readonly busy = new WeakMap<Duplex, number>();
  private readonly websockets = new Set<WsConnection>();
  private readonly inFlight = new Set<AbortController>();
  private closing = false;
  private closed: Promise<void> | undefined;
  private urls: { url: string; wsUrl: string } | undefined;

  constructor(options: RpcServerOptions = {}) {
    this.opts = {
      host: options.host ?? RPC_DEFAULTS.host,
      port: options.port ?? RPC_DEFAULTS.port,
      maxBodyBytes: options.maxBodyBytes ?? RPC_DEFAULTS.maxBodyBytes,
      maxBatch: options.maxBatch ?? RPC_DEFAULTS.maxBatch,
      maxConnections: options.maxConnections ?? RPC_DEFAULTS.maxConnections,
      maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection ?? RPC_DEFAULTS.maxSubscriptionsPerConnection,
      requestTimeoutMs: options.requestTimeoutMs ?? RPC_DEFAULTS.requestTimeoutMs,
      httpRequestTimeoutMs: options.httpRequestTimeoutMs ?? RPC_DEFAULTS.httpRequestTimeoutMs,
      wsMaxBufferedBytes: options.wsMaxBufferedBytes ?? RPC_DEFAULTS.wsMaxBufferedBytes,
      wsPingIntervalMs: options.wsPingIntervalMs ?? RPC_DEFAULTS.wsPingIntervalMs,
      wsPongTimeoutMs: options.wsPongTimeoutMs ?? RPC_DEFAULTS.wsPongTimeoutMs,
      closeGraceMs: options.closeGraceMs ?? RPC_DEFAULTS.closeGraceMs,
      log: options.log ?? defaultLog,
    };
    const allowed = options.allowedOrigins ?? [];
    this.origins = allowed === '*' ? '*' : new Set(allowed);
    const rateLimit = options.rateLimit ?? RPC_DEFAULTS.rateLimit;
    this.limiter = rateLimit === false ? undefined : new RateLimiter(rateLimit, options.now);
    for (const k of options.apiKeys ?? []) this.apiKeys.set(k.keyHash.toLowerCase(), { name: k.name, limiter: new RateLimiter(k.rateLimit, options.now) });

    this.http = http.createServer();
    // Slow-loris bounds: a request must arrive whole within these, whatever the handlers do.
    this.http.headersTimeout = 10_000;
    this.http.requestTimeout = this.opts.httpRequestTimeoutMs;
    this.http.keepAliveTimeout = 5_000;
    this.http.maxConnections = this.opts.maxConnections + OVERFLOW_ALLOWANCE;
    this.http.on('connection', (socket: Socket) => this.onConnection(socket));
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
      res.once('close', () => this.busy.set(socket, this.busy.get(socket)! - 1));
      this.onRequest(req, res).catch((err) => {
        this.opts.log({ type: 'internal_error', remote: remoteOf(req.socket), method: undefined, error: err });
        if (!res.headersSent) this.sendError(req, res, 500, new RpcError('RPC_INTERNAL_ERROR', 'Internal error'));
        else res.destroy();
      });
    });
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: this.opts.maxBodyBytes });
  }

  /**
   * Registers a method. `subscribe` and `unsubscribe` are the server's own. With `batch`, a JSON-RPC
   * batch's entries calling it (with ids) are served by one call of `batch` instead of one each.
   */
  method(name: string, handler: Handler, opts: { batch?: BatchHandler } = {}): void {
    if (RESERVED_METHODS.has(name) || name.startsWith('rpc.')) throw new Error(`method name ${name} is reserved`);
    if (this.methods.has(name)) throw new Error(`method ${name} is already registered`);
    this.methods.set(name, handler);
    if (opts.batch) this.batchHandlers.set(name, opts.batch);
  }

  /**
   * Serves `methods` on paths under `prefix` (e.g. "/custody") with `handler`; POST / stays JSON-RPC.
   * `public`: no API key needed even when keys are configured (a public web page), rate limits still apply.
   */
  route(prefix: string, methods: readonly string[], handler: RouteHandler, opts: { public?: boolean } = {}): void {
    if (!prefix.startsWith('/')) throw new Error('a route prefix starts with /');
    this.routes.push({ prefix: prefix.replace(/\/+$/, ''), methods, handler, public: opts.public === true });
  }

  private routeFor(method: string | undefined, path: string): Route | undefined {
    if (method === 'POST' && path === '/') return undefined;
    // The longest matching prefix wins: "/" (a page) does not shadow "/custody".
    let best: Route | undefined;
    for (const r of this.routes) {
      if (!r.methods.includes(method ?? '') || !(r.prefix === '' || path === r.prefix || path.startsWith(`${r.prefix}/`))) continue;
      if (!best || r.prefix.length > best.prefix.length) best = r;
    }
    return best;
  }

  /** Declares a subscribable topic; `parse` validates the filter (default: the topic takes no filter). */
  topic<F>(name: string, parse?: FilterParser<F>, onSubscribe?: SubscribeHook<F>): void {
    if (this.topics.has(name)) throw new Error(`topic ${name} is already declared`);
    this.topics.set(name, { parse: parse ?? noFilter, subs: new Set(), ...(onSubscribe ? { onSubscribe: onSubscribe as SubscribeHook<unknown> } : {}) });
  }

  /**
   * Sends `item` to every active subscriber of `topic` whose filter `matches` (all when omitted);
   * returns how many got it. Never blocks: a subscriber over its buffer limit is disconnected instead.
   */
  publish<F>(topic: string, item: unknown, matches?: (filter: F) => boolean): number {
    const t = this.topics.get(topic);
    if (t === undefined) throw new Error(`topic ${topic} is not declared`);
    if (t.subs.size === 0) return 0;
    const itemJson = JSON.stringify(item) ?? 'null'; // once, however many subscribers
    let delivered = 0;
    for (const sub of t.subs) { // a slow consumer dropped mid-loop is simply not visited again
      if (!sub.active) continue;
      if (matches !== undefined) {
        let ok: boolean;
        try {
          ok = matches(sub.filter as F);
        } catch (error) {
          this.opts.log({ type: 'internal_error', remote: sub.conn.remote, method: `publish ${topic}`, error });
          continue;
        }
        if (!ok) continue;
      }
      if (this.sendWs(sub.conn, subscriptionJson(sub.id, itemJson))) delivered++;
    }
    return delivered;
  }

  async listen(): Promise<{ url: string; wsUrl: string }> {
    if (this.urls !== undefined || this.closing) throw new Error('RpcServer.listen: already listening or closed');
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.urls = { url: `http://${host}:${addr.port}/`, wsUrl: `ws://${host}:${addr.port}/ws` };
    return this.urls;
  }

  get url(): string | undefined {
    return this.urls?.url;
  }

  get wsUrl(): string | undefined {
    return this.urls?.wsUrl;
  }

  /** Whether anyone is subscribed to `topic`: publishers skip building items nobody receives. */
  hasSubscribers(topic: string): boolean {
    return (this.topics.get(topic)?.subs.size ?? 0) > 0;
  }

  stats(): RpcServerStats {
    let subscriptions = 0;
    for (const conn of this.websockets) subscriptions += conn.subs.size;
    return { connections: this.sockets.size, websockets: this.websockets.size, subscriptions, inFlight: this.inFlight.size };
  }

  /**
   * Stops accepting, aborts running handlers (their callers get RPC_SHUTTING_DOWN), closes WebSockets
   * with 1001, and cuts whatever is still open after closeGraceMs.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const listening = this.http.listening;
    const stopped = new Promise<void>((resolve) => (listening ? this.http.close(() => resolve()) : resolve()));
    const reason = new RpcError('RPC_SHUTTING_DOWN', 'the server is shutting down');
    for (const ac of this.inFlight) ac.abort(reason);
    await new Promise((resolve) => setImmediate(resolve)); // lets the aborted calls' answers go out before the close frames
    for (const conn of this.websockets) this.closeWs(conn, WS_CLOSE.shuttingDown);
    for (const socket of this.sockets) if (!this.busy.get(socket)) socket.destroy(); // idle keep-alive, or never sent a request
    const cut = setTimeout(() => {
      for (const conn of this.websockets) conn.ws.terminate();
      this.http.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    }, this.opts.closeGraceMs);
    // ws reports a WebSocket closed a little after its TCP socket (which is all the HTTP server waits for).
    const wsGone = [...this.websockets].map((conn) => new Promise<void>((resolve) => conn.ws.once('close', () => resolve())));
    await Promise.all([stopped, ...wsGone]);
    clearTimeout(cut);
    this.wss.close();
  }

  // ---- connections -------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    if (this.sockets.size >= this.opts.maxConnections) {
      // Answered with a 503 by onRequest/onUpgrade; must not linger.
      this.overflow.add(socket);
      socket.setTimeout(this.opts.closeGraceMs, () => socket.destroy());
      this.opts.log({ type: 'rejected', remote: remoteOf(socket), code: 'RPC_TOO_MANY_CONNECTIONS' });
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    // Same-origin requests (a page this server serves, see route) are the server's own.
    const own = req.headers.host !== undefined && (origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`);
    return origin === undefined || own || this.origins === '*' || this.origins.has(origin);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = remoteOf(req.socket);
    if (this.overflow.has(req.socket)) return this.sendError(req, res, 503, new RpcError('RPC_TOO_MANY_CONNECTIONS', 'too many connections'));
    if (this.closing) return this.sendError(req, res, 503, new RpcError('RPC_SHUTTING_DOWN', 'the server is shutting down'));
    if (!this.originAllowed(req)) {
      this.opts.log({ type: 'rejected', remote, code: 'RPC_FORBIDDEN_ORIGIN' });
      return this.sendError(req, res, 403, new RpcError('RPC_FORBIDDEN_ORIGIN', 'origin not allowed'));
    }
    if (req.headers.origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', req.headers.origin);
      res.setHeader('Vary', 'Origin');
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET' && path === '/health') return this.sendJson(req, res, 200, '{"ok":true}');
    const keyHolder = this.authenticate(req);
    const route = this.routeFor(req.method, path);
    if (route && (keyHolder !== null || route.public)) return this.serveRoute(route, req, res, keyHolder ?? remote);
    if (keyHolder === null && req.method !== 'OPTIONS') {
      this.opts.log({ type: 'rejected', remote, code: 'RPC_UNAUTHORIZED' });
      return this.sendError(req, res, 401, new RpcError('RPC_UNAUTHORIZED', 'an API key is required (x-api-key header, or Authorization: Bearer)'));
    }
    if (req.method === 'OPTIONS' && req.headers.origin !== undefined) {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'POST', 'Access-Control-Allow-Headers': 'content-type', 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    if (path !== '/' && path !== '/health') return this.sendError(req, res, 404, new RpcError('RPC_NOT_FOUND', `no such path ${path}: POST JSON-RPC to /`));
    if (path === '/health') {
      res.setHeader('Allow', 'GET');
      return this.sendError(req, res, 405, new RpcError('RPC_HTTP_METHOD_NOT_ALLOWED', `HTTP ${req.method} not allowed on /health: GET it`));
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return this.sendError(req, res, 405, new RpcError('RPC_HTTP_METHOD_NOT_ALLOWED', `HTTP ${req.method} not allowed: POST JSON-RPC to /`));
    }
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
    if (type !== 'application/json') {
      return this.sendError(req, res, 415, new RpcError('RPC_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'));
    }
    const tooLarge = new RpcError('RPC_REQUEST_TOO_LARGE', `request body over ${this.opts.maxBodyBytes} bytes`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.opts.maxBodyBytes) {
      this.opts.log({ type: 'rejected', remote, code: 'RPC_REQUEST_TOO_LARGE' });
      return this.sendError(req, res, 413, tooLarge);
    }
    let body = await this.readBody(req);
    if (body === undefined) {
      this.opts.log({ type: 'rejected', remote, code: 'RPC_REQUEST_TOO_LARGE' });
      return this.sendError(req, res, 413, tooLarge);
    }
    if (body === null) return; // the client went away mid-body

    const caller: Caller = { transport: 'http', remote: keyHolder ?? remote, inFlight: new Set(), created: [] };
    res.once('close', () => {
      if (!res.writableFinished) for (const ac of caller.inFlight) ac.abort(new RpcError('RPC_CLIENT_CLOSED', 'the client went away'));
    });
    const replying = this.handleText(body, caller);
    // Bodies of 100 transactions are ~70 KB: not kept (and copied by the young GC) while they are admitted.
    body = null;
    const out = await replying;
    if (res.destroyed) return;
    if (this.closing) res.setHeader('Connection', 'close');
    if (out.json === undefined) {
      res.writeHead(204).end();
      return;
    }
    if (out.limited) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(this.limiterFor(caller.remote)!.retryAfterMs(caller.remote) / 1000))));
    this.sendJson(req, res, out.limited ? 429 : 200, out.json);
  }

  private async serveRoute(route: Route, req: IncomingMessage, res: ServerResponse, caller: string): Promise<void> {
    if (!this.take(caller)) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil((this.limiterFor(caller)?.retryAfterMs(caller) ?? 1000) / 1000))));
      return this.sendError(req, res, 429, rateLimited());
    }
    try {
      await route.handler(req, res, { remote: caller });
    } catch (err) {
      const { error, typed } = toRpcError(err);
      if (!typed) this.opts.log({ type: 'internal_error', remote: caller, method: `${req.method} ${route.prefix}`, error: err });
      if (!res.headersSent) this.sendError(req, res, typed ? httpStatusOf(error.code) : 500, error);
      else res.destroy(); // mid-body: the client must not take a truncated answer for a whole one
    }
  }

  /** The body as text; undefined if over the limit (reading stops at once), null if the client aborted. */
  private readBody(req: IncomingMessage): Promise<string | undefined | null> {
    return new Promise((resolve) => {
      let chunks: Buffer[] = [];
      let size = 0;
      // The listeners stay on `req` until the reply is sent. Once settled they hold neither the chunks
      // nor `resolve` (whose promise holds the text): a batch's ~70 KB body would otherwise stay alive,
      // copied by every young-generation collection, while its transactions are admitted.
      let settle: ((body: string | undefined | null) => void) | undefined = resolve;
      const done = (body: string | undefined | null) => {
        const s = settle;
        settle = undefined;
        chunks = [];
        s?.(body);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.opts.maxBodyBytes) {
          req.off('data', onData);
          req.pause();
          done(undefined);
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => done(Buffer.concat(chunks).toString('utf8')));
      req.once('error', () => done(null));
      req.once('close', () => done(null)); // no-op after 'end' or the size cut-off
    });
  }

  private sendJson(req: IncomingMessage, res: ServerResponse, status: number, json: string): void {
    // A body we did not read (rejected early, or over the limit) is not drained: the connection ends instead.
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    const unread = hasBody && !req.complete;
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(json),
      'Cache-Control': 'no-store',
      ...(unread || this.closing ? { Connection: 'close' } : {}),
    });
    if (unread) lingerOnClose(req);
    res.end(json);
  }

  private sendError(req: IncomingMessage, res: ServerResponse, status: number, error: RpcError): void {
    this.sendJson(req, res, status, errorJson(null, error));
  }

  // ---- JSON-RPC --------------------------------------------------------------------------------

  private async handleText(text: string, caller: Caller): Promise<Reply> {
    let message: unknown;
    try {
      message = JSON.parse(text);
      text = '';
    } catch {
      if (!this.take(caller.remote)) return { json: errorJson(null, rateLimited()), limited: true };
      return { json: errorJson(null, new RpcError('RPC_PARSE_ERROR', 'Parse error: the request is not valid JSON')), limited: false };
    }
    if (!Array.isArray(message)) return this.dispatch(message, caller);
    if (message.length === 0) return { json: errorJson(null, new RpcError('RPC_INVALID_REQUEST', 'Invalid request: empty batch')), limited: false };
    if (message.length > this.opts.maxBatch) {
      if (!this.take(caller.remote)) return { json: errorJson(null, rateLimited()), limited: true };
      return { json: errorJson(null, new RpcError('RPC_BATCH_TOO_LARGE', `batch of ${message.length} over the limit of ${this.opts.maxBatch}`)), limited: false };
    }
    const replies = new Array<Reply>(message.length);
    const together = new Map<string, number[]>();
    const waits: Promise<void>[] = [];
    message.forEach((entry: unknown, i) => {
      const method = this.batchedMethod(entry);
      if (method === undefined) waits.push(this.dispatch(entry, caller).then((r) => { replies[i] = r; }));
      // Tokens in the batch's order, whichever way an entry is served.
      else if (!this.take(caller.remote)) replies[i] = { json: errorJson((entry as BatchedRequest).id, rateLimited()), limited: true };
      else if (together.has(method)) together.get(method)!.push(i);
      else together.set(method, [i]);
    });
    for (const [method, at] of together) {
      waits.push(this.dispatchTogether(method, at.map((i) => (message as unknown[])[i] as BatchedRequest), caller).then((rs) => rs.forEach((r, k) => { replies[at[k]!] = r; })));
    }
    // The parsed requests are in the entries' hands now: not kept here while they run.
    message = undefined;
    await Promise.all(waits);
    const parts = replies.flatMap((r) => (r.json === undefined ? [] : [r.json]));
    return { json: parts.length === 0 ? undefined : `[${parts.join(',')}]`, limited: replies.every((r) => r.limited) };
  }

  private async dispatch(request: unknown, caller: Caller): Promise<Reply> {
    const r = requestShape(request);
    if (!this.take(caller.remote)) return { json: r.isObject && !r.hasId ? undefined : errorJson(r.id, rateLimited()), limited: true };
    if (!r.valid) {
      return { json: errorJson(r.id, new RpcError('RPC_INVALID_REQUEST', 'Invalid request: expected {"jsonrpc":"2.0","method":string,"params"?:object|array,"id"?:string|number|null}')), limited: false };
    }
    try {
      const result = await this.invoke(r.method, r.params, caller);
      return r.hasId ? resultReply(r.id, result) : { json: undefined, limited: false };
    } catch (err) {
      const reply = this.errorReply(r.id, err, r.method, caller);
      return r.hasId ? reply : { json: undefined, limited: false };
    }
  }

  /** An error's reply (typed errors keep their code; anything else is logged and answered as internal). */
  private errorReply(id: RequestId, err: unknown, method: string, caller: Caller): Reply {
    const { error, typed } = toRpcError(err);
    if (!typed) this.opts.log({ type: 'internal_error', remote: caller.remote, method, error: err });
    return { json: errorJson(id, error), limited: false };
  }

  /** The method of a batch entry that a BatchHandler serves: a well-formed request with an id (not a notification). */
  private batchedMethod(entry: unknown): string | undefined {
    const r = requestShape(entry);
    return r.valid && r.hasId && this.batchHandlers.has(r.method) ? r.method : undefined;
  }

  /**
   * Entries of one batch calling a method with a BatchHandler (their rate-limit tokens taken): answered
   * as dispatch would answer each.
   */
  private async dispatchTogether(method: string, requests: readonly BatchedRequest[], caller: Caller): Promise<Reply[]> {
    const out = new Array<Reply>(requests.length);
    // Ids only from here on: the requests (and their params) are the handler's, not kept while it runs.
    const ids = requests.map((r) => r.id);
    let params: unknown[] | undefined = requests.map((r) => r.params);
    requests = [];
    const failed = (k: number, err: unknown) => { out[k] = this.errorReply(ids[k]!, err, method, caller); };
    let outcomes: ReadonlyArray<{ result: unknown } | { error: unknown }>;
    try {
      const batch = this.batchHandlers.get(method)!;
      outcomes = await this.scoped(method, caller, (ctx) => {
        const list = params!;
        params = undefined;
        return batch(list, ctx);
      });
    } catch (err) {
      for (let k = 0; k < ids.length; k++) failed(k, err);
      return out;
    }
    for (let k = 0; k < ids.length; k++) {
      // Each entry alone, as dispatch: one bad outcome (or one that does not serialise) fails only its entry.
      try {
        const o = outcomes[k];
        if (typeof o !== 'object' || o === null) throw new Error(`the batch handler of ${method} gave no outcome for entry ${k} of ${ids.length}`);
        if ('error' in o) failed(k, o.error);
        else out[k] = resultReply(ids[k]!, o.result);
      } catch (err) {
        failed(k, err);
      }
    }
    return out;
  }

  private async invoke(method: string, params: unknown, caller: Caller): Promise<unknown> {
    if (RESERVED_METHODS.has(method)) {
      if (caller.conn === undefined) throw new RpcError('RPC_WS_ONLY', `${method} needs a WebSocket connection`);
      return method === 'subscribe' ? this.subscribe(caller.conn, params, caller) : this.unsubscribe(caller.conn, params);
    }
    const handler = this.methods.get(method);
    if (handler === undefined) throw new RpcError('RPC_METHOD_NOT_FOUND', `Method not found: ${method}`);
    return this.scoped(method, caller, (ctx) => handler(params, ctx));
  }

  /** Runs a handler call under the message's scope: its deadline, and aborts by the client or the server. */
  private async scoped<T>(method: string, caller: Caller, run: (ctx: HandlerContext) => T | Promise<T>): Promise<T> {
    if (this.closing) throw new RpcError('RPC_SHUTTING_DOWN', 'the server is shutting down');
    const scope = this.scopeOf(caller);
    scope.pending++;
    let stop: ((reason: unknown) => void) | undefined;
    try {
      // Answer on abort even if the handler ignores its signal.
      return await new Promise<T>((resolve, reject) => {
        stop = (reason) => reject(scope.timedOut ? new RpcError('RPC_TIMEOUT', `${method} did not finish within ${this.opts.requestTimeoutMs} ms`) : reason);
        scope.stops.add(stop);
        Promise.resolve()
          .then(() => run({ transport: caller.transport, remote: caller.remote, signal: scope.ac.signal }))
          .then(resolve, reject);
      });
    } finally {
      scope.stops.delete(stop!);
      if (--scope.pending === 0) this.endScope(caller, scope);
    }
  }

  /**
   * The abort signal and deadline shared by the handler calls of one message (a batch's entries start
   * together, so one timer serves them all; aborts come per message, connection or server anyway).
   */
  private scopeOf(caller: Caller): CallScope {
    if (caller.scope !== undefined && !caller.scope.ac.signal.aborted) return caller.scope;
    const ac = new AbortController();
    // The timeout's error is made when it fires: an Error records a stack trace, ~100 µs here, per message.
    const scope: CallScope = {
      ac, timedOut: false, stops: new Set(), pending: 0,
      timer: setTimeout(() => {
        scope.timedOut = true;
        ac.abort(new RpcError('RPC_TIMEOUT', `the call did not finish within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs),
    };
    ac.signal.addEventListener('abort', () => { for (const stop of scope.stops) stop(ac.signal.reason); }, { once: true });
    caller.scope = scope;
    caller.inFlight.add(ac);
    this.inFlight.add(ac);
    return scope;
  }

  private endScope(caller: Caller, scope: CallScope): void {
    clearTimeout(scope.timer);
    caller.inFlight.delete(scope.ac);
    this.inFlight.delete(scope.ac);
    if (caller.scope === scope) caller.scope = undefined;
  }

  /** A key holder's own limiter; anyone else (no keys configured, or a public route) the per-address one. */
  private limiterFor(remote: string): RateLimiter | undefined {
    return remote.startsWith(KEY_PREFIX) ? this.apiKeys.get(remote.slice(KEY_PREFIX.length))?.limiter : this.limiter;
  }

  private take(remote: string): boolean {
    const l = this.limiterFor(remote);
    return l === undefined || l.take(remote);
  }

  /**
   * undefined: no API keys are configured (anyone may call). null: keys are required and this request
   * has none that is known. Otherwise the caller's identity for rate limiting ("key:" + key hash).
   */
  private authenticate(req: IncomingMessage): string | null | undefined {
    if (this.apiKeys.size === 0) return undefined;
    const auth = req.headers.authorization;
    // In the URL only for WebSocket upgrades (browsers cannot set headers there); elsewhere it would end up in logs.
    const fromQuery = req.headers.upgrade ? new URL(req.url ?? '/', 'http://x').searchParams.get('api_key') : null;
    const key = (req.headers['x-api-key'] as string | undefined) ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined) ?? fromQuery ?? undefined;
    if (!key) return null;
    const hash = createHash('sha256').update(key).digest('hex');
    return this.apiKeys.has(hash) ? `${KEY_PREFIX}${hash}` : null;
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  private subscribe(conn: WsConnection, params: unknown, caller: Caller): string {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw RpcError.invalidParams('subscribe takes {"topic": string, ...filter}');
    }
    const { topic, ...filter } = params as Record<string, unknown>;
    if (typeof topic !== 'string') throw RpcError.invalidParams('subscribe takes {"topic": string, ...filter}');
    const t = this.topics.get(topic);
    if (t === undefined) throw new RpcError('RPC_UNKNOWN_TOPIC', `unknown topic ${topic}`, { data: { topics: [...this.topics.keys()] } });
    if (conn.subs.size >= this.opts.maxSubscriptionsPerConnection) {
      throw new RpcError('RPC_SUBSCRIPTION_LIMIT', `at most ${this.opts.maxSubscriptionsPerConnection} subscriptions per connection`);
    }
    const parsed = t.parse(filter);
    if (conn.closing) throw new RpcError('RPC_SHUTTING_DOWN', 'the connection is closing');
    let id = randomBytes(8).toString('hex');
    while (conn.subs.has(id)) id = randomBytes(8).toString('hex');
    const sub: Subscription = { id, topic, filter: parsed, conn, active: false };
    conn.subs.set(id, sub);
    t.subs.add(sub);
    caller.created.push(sub);
    return id;
  }

  private unsubscribe(conn: WsConnection, params: unknown): boolean {
    const id = Array.isArray(params) ? params[0] : (params as { subscription?: unknown } | undefined)?.subscription;
    if (typeof id !== 'string') throw RpcError.invalidParams('unsubscribe takes {"subscription": id} or [id]');
    const sub = conn.subs.get(id);
    if (sub === undefined) return false;
    conn.subs.delete(id);
    this.topics.get(sub.topic)?.subs.delete(sub);
    return true;
  }

  private dropSubscriptions(conn: WsConnection): void {
    for (const sub of conn.subs.values()) this.topics.get(sub.topic)?.subs.delete(sub);
    conn.subs.clear();
  }

  // ---- WebSocket -------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const remote = remoteOf(socket);
    socket.on('error', () => socket.destroy());
    if (this.overflow.has(socket)) return rejectUpgrade(socket, 503, new RpcError('RPC_TOO_MANY_CONNECTIONS', 'too many connections'));
    if (this.closing) return rejectUpgrade(socket, 503, new RpcError('RPC_SHUTTING_DOWN', 'the server is shutting down'));
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/' && path !== '/ws') return rejectUpgrade(socket, 404, new RpcError('RPC_NOT_FOUND', `no WebSocket endpoint at ${path}: use /ws`));
    if (!this.originAllowed(req)) {
      this.opts.log({ type: 'rejected', remote, code: 'RPC_FORBIDDEN_ORIGIN' });
      return rejectUpgrade(socket, 403, new RpcError('RPC_FORBIDDEN_ORIGIN', 'origin not allowed'));
    }
    const keyHolder = this.authenticate(req);
    if (keyHolder === null) {
      this.opts.log({ type: 'rejected', remote, code: 'RPC_UNAUTHORIZED' });
      return rejectUpgrade(socket, 401, new RpcError('RPC_UNAUTHORIZED', 'an API key is required'));
    }
    this.busy.set(socket, 1);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, keyHolder ?? remote));
  }

  private onWebSocket(ws: WebSocket, remote: string): void {
    const conn: WsConnection = {
      ws, remote, subs: new Map(), inFlight: new Set(), closing: false, awaitingPong: false,
      pingTimer: undefined, pongTimer: undefined, killTimer: undefined,
    };
    if (this.closing) {
      ws.close(WS_CLOSE.shuttingDown.code, WS_CLOSE.shuttingDown.reason);
      return;
    }
    this.websockets.add(conn);
    ws.on('message', (data: RawData) => this.onWsMessage(conn, data));
    ws.on('error', () => {}); // e.g. an oversized message: ws closes with 1009 by itself
    ws.on('close', () => this.onWsClosed(conn));
    ws.on('pong', () => {
      conn.awaitingPong = false;
      clearTimeout(conn.pongTimer);
    });
    if (this.opts.wsPingIntervalMs > 0) {
      conn.pingTimer = setInterval(() => {
        if (conn.awaitingPong || ws.readyState !== ws.OPEN) return;
        conn.awaitingPong = true;
        ws.ping();
        conn.pongTimer = setTimeout(() => {
          this.opts.log({ type: 'ws_disconnect', remote, reason: 'RPC_PING_TIMEOUT' });
          ws.terminate();
        }, this.opts.wsPongTimeoutMs);
      }, this.opts.wsPingIntervalMs);
    }
  }

  private onWsMessage(conn: WsConnection, data: RawData): void {
    if (conn.closing) return;
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    const caller: Caller = { transport: 'ws', remote: conn.remote, inFlight: conn.inFlight, conn, created: [] };
    this.handleText(text, caller).then(
      (out) => {
        if (out.json !== undefined) this.sendWs(conn, out.json);
        for (const sub of caller.created) {
          sub.active = true;
          const t = this.topics.get(sub.topic);
          t?.onSubscribe?.(sub.filter, {
            send: (item) => t.subs.has(sub) && this.sendWs(conn, subscriptionJson(sub.id, JSON.stringify(item) ?? 'null')),
            open: () => t.subs.has(sub) && !conn.closing,
            buffered: () => conn.ws.bufferedAmount,
          });
        }
      },
      (error) => this.opts.log({ type: 'internal_error', remote: conn.remote, method: undefined, error }),
    );
  }

  /** Sends unless the peer is not keeping up, in which case the connection is closed instead. */
  private sendWs(conn: WsConnection, json: string): boolean {
    if (conn.closing || conn.ws.readyState !== conn.ws.OPEN) return false;
    if (conn.ws.bufferedAmount > this.opts.wsMaxBufferedBytes) {
      this.opts.log({ type: 'ws_disconnect', remote: conn.remote, reason: 'RPC_SLOW_CONSUMER' });
      this.closeWs(conn, WS_CLOSE.slowConsumer);
      return false;
    }
    conn.ws.send(json);
    return true;
  }

  /** Stops all traffic but the close frame; a peer that does not complete the close in time is cut. */
  private closeWs(conn: WsConnection, how: { code: number; reason: string }): void {
    if (conn.closing) return;
    conn.closing = true;
    this.dropSubscriptions(conn);
    const reason = new RpcError(how.reason, 'the connection is closing');
    for (const ac of conn.inFlight) ac.abort(reason);
    conn.ws.close(how.code, how.reason);
    conn.killTimer = setTimeout(() => conn.ws.terminate(), this.opts.closeGraceMs);
  }

  private onWsClosed(conn: WsConnection): void {
    conn.closing = true;
    this.websockets.delete(conn);
    clearInterval(conn.pingTimer);
    clearTimeout(conn.pongTimer);
    clearTimeout(conn.killTimer);
    this.dropSubscriptions(conn);
    const reason = new RpcError('RPC_CLIENT_CLOSED', 'the connection closed');
    for (const ac of conn.inFlight) ac.abort(reason);
  }
}

/** HTTP status for a typed error from a route: not found, too large, bad input, else 400. */
function httpStatusOf(code: string): number {
  if (/NOT_FOUND$/.test(code)) return 404;
  if (/TOO_LARGE$/.test(code)) return 413;
  if (/UNSUPPORTED_MEDIA_TYPE$|UNSUPPORTED_TYPE$/.test(code)) return 415;
  if (/UNAVAILABLE$|SHUTTING_DOWN$/.test(code)) return 503;
  return 400;
}

function subscriptionJson(id: string, itemJson: string): string {
  return `{"jsonrpc":"2.0","method":"subscription","params":{"subscription":"${id}","result":${itemJson}}}`;
}

function noFilter(params: Record<string, unknown>): undefined {
  const keys = Object.keys(params);
  if (keys.length > 0) throw RpcError.invalidParams(`this topic takes no filter (got ${keys.join(', ')})`);
  return undefined;
}

function rateLimited(): RpcError {
  return new RpcError('RPC_RATE_LIMITED', 'rate limit exceeded');
}

function errorJson(id: unknown, error: RpcError): string {
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: error.toJSON() });
}

function remoteOf(socket: Duplex): string {
  const address = (socket as Socket).remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function rejectUpgrade(socket: Duplex, status: number, error: RpcError): void {
  const body = errorJson(null, error);
  socket.write(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  (socket as Socket).destroySoon();
}

function defaultLog(event: RpcLogEvent): void {
  if (event.type === 'internal_error') console.error(`rpc: internal error in ${event.method ?? 'request'} from ${event.remote}:`, event.error);
}

/**
 * Closes a connection whose request body was left unread without losing the response. Node ends a
 * `Connection: close` response with `destroySoon`, and closing a socket with unread input makes the kernel
 * send a reset that can discard the response before the client has read it (a client still uploading sees
 * ECONNRESET instead of the 413). So half-close instead, discard what still arrives, and cut the connection
 * once the client closes its side, or after LINGER_MS or LINGER_BYTES (nginx's lingering close).
 */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket;
  socket.destroySoon = () => {
    // Counted on the socket: a body Node's parser discards itself (one never read) emits no data events.
    const from = socket.bytesRead;
    const cut = setTimeout(() => socket.destroy(), LINGER_MS);
    const watch = setInterval(() => {
      if (socket.bytesRead - from > LINGER_BYTES) socket.destroy();
    }, LINGER_CHECK_MS);
    cut.unref();
    watch.unref();
    socket.once('close', () => {
      clearTimeout(cut);
      clearInterval(watch);
    });
    req.resume();
    socket.end();
  };
}
