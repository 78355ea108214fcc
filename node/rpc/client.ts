/**
 * A small JSON-RPC client: HTTP calls and batches through `fetch`, calls and subscriptions over the
 * standard `WebSocket`. Only web globals, so it runs in Node 24 and in browsers. Server errors surface
 * as RpcError carrying the server's string code. No reconnection: a closed socket stays closed.
 */
import { RpcError } from './errors.ts';

export interface RpcClientOptions {
  /** Per call; on expiry the call fails with RPC_TIMEOUT. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface BatchCall {
  method: string;
  params?: unknown;
  /** Send as a notification: no answer expected, its result is always `{ ok: true, result: undefined }`. */
  notify?: boolean;
}

export type BatchResult<T = unknown> = { ok: true; result: T } | { ok: false; error: RpcError };

interface WireResponse {
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class RpcClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private nextId = 1;

  constructor(url: string, options: RpcClientOptions = {}) {
    this.url = url;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.headers = { ...options.headers, 'content-type': 'application/json' };
  }

  /** `options.signal` abandons the call early (it then fails as its abort reason says, or RPC_TIMEOUT for a timeout signal). */
  async call<T = unknown>(method: string, params?: unknown, options: { signal?: AbortSignal } = {}): Promise<T> {
    const id = this.nextId++;
    const body = await this.post({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }, options.signal);
    return settle(single(body)) as T;
  }

  async notify(method: string, params?: unknown): Promise<void> {
    await this.post({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
  }

  /** One round trip; results in call order. A failure of the whole batch (e.g. too large, rate limited) throws. */
  async batch(calls: readonly BatchCall[]): Promise<BatchResult[]> {
    const ids = calls.map((c) => (c.notify ? undefined : this.nextId++));
    const body = await this.post(calls.map((c, i) => ({
      jsonrpc: '2.0', method: c.method,
      ...(c.params === undefined ? {} : { params: c.params }),
      ...(ids[i] === undefined ? {} : { id: ids[i] }),
    })));
    if (body !== undefined && !Array.isArray(body)) settle(single(body)); // a single error for the whole batch
    const byId = new Map<unknown, WireResponse>();
    for (const r of (body ?? []) as WireResponse[]) byId.set(r?.id, r);
    return ids.map((id): BatchResult => {
      if (id === undefined) return { ok: true, result: undefined };
      const r = byId.get(id);
      if (r === undefined) return { ok: false, error: new RpcError('RPC_TRANSPORT_ERROR', `no response for batch entry ${id}`) };
      try {
        return { ok: true, result: settle(r) };
      } catch (error) {
        return { ok: false, error: error as RpcError };
      }
    });
  }

  /** The parsed response body, or undefined for 204 (notifications only). */
  private async post(payload: unknown, signal?: AbortSignal): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(payload),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw transportError(err, this.timeoutMs, this.url);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw transportError(err, this.timeoutMs, this.url);
    }
    if (res.status === 204) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new RpcError('RPC_TRANSPORT_ERROR', `HTTP ${res.status}: response is not JSON`, { data: { status: res.status } });
    }
  }
}

export interface Subscription {
  readonly id: string;
  readonly topic: string;
  /** Resolves true if the server still had the subscription. */
  unsubscribe(): Promise<boolean>;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

/** JSON-RPC over one WebSocket: calls and subscriptions. */
export class RpcWsClient {
  /** Resolves when the socket closes, with the server's close code and reason (e.g. 1008 RPC_SLOW_CONSUMER). */
  readonly closed: Promise<CloseInfo>;
  private readonly ws: WebSocket;
  private readonly timeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Map<string, (item: unknown) => void>();
  private nextId = 1;
  private closeInfo: CloseInfo | undefined;

  private constructor(ws: WebSocket, timeoutMs: number) {
    this.ws = ws;
    this.timeoutMs = timeoutMs;
    this.closed = new Promise((resolve) => {
      ws.addEventListener('close', (event) => {
        this.closeInfo = { code: event.code, reason: event.reason };
        const error = new RpcError('RPC_CLIENT_CLOSED', `WebSocket closed (${event.code} ${event.reason})`, { data: { closeCode: event.code, closeReason: event.reason } });
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(error);
        }
        this.pending.clear();
        this.subs.clear();
        resolve(this.closeInfo);
      });
    });
    ws.addEventListener('message', (event) => this.onMessage(event.data));
  }

  /** Opens a WebSocket; `signal` abandons the attempt (RPC_CLIENT_CLOSED), closing the socket. */
  static connect(wsUrl: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RpcWsClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new RpcError('RPC_CLIENT_CLOSED', 'the WebSocket connection was abandoned'));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abandon);
      };
      // Rejected before the socket is closed: closing a connecting socket fires its 'error' event.
      const abandon = () => {
        done();
        reject(new RpcError('RPC_CLIENT_CLOSED', 'the WebSocket connection was abandoned'));
        ws.close();
      };
      const timer = setTimeout(() => {
        done();
        reject(new RpcError('RPC_TIMEOUT', `WebSocket not open within ${timeoutMs} ms`));
        ws.close();
      }, timeoutMs);
      signal?.addEventListener('abort', abandon, { once: true });
      ws.addEventListener('open', () => {
        done();
        resolve(new RpcWsClient(ws, timeoutMs));
      }, { once: true });
      // Browsers do not expose why a handshake failed (e.g. 503 too many connections, 403 origin).
      ws.addEventListener('error', () => {
        done();
        reject(new RpcError('RPC_TRANSPORT_ERROR', `WebSocket connection to ${wsUrl} failed`));
      }, { once: true });
    });
  }

  call<T = unknown>(method: string, params?: unknown): Promise<T> {
    return this.send(method, params) as Promise<T>;
  }

  /** Subscribes to `topic` with `filter`; `onItem` gets each published item until unsubscribe or close. */
  async subscribe<T = unknown>(topic: string, filter: Record<string, unknown> | undefined, onItem: (item: T) => void): Promise<Subscription> {
    // The filter's fields sit beside `topic` in the request: one named so would be silently replaced.
    if (filter !== undefined && Object.hasOwn(filter, 'topic')) throw RpcError.invalidParams('a subscription filter has no field "topic" (that is the subscription\'s; events filter by eventTopic)');
    // Registered as the response is read, not after the await: a notification may follow in the same chunk.
    const id = await this.send('subscribe', { ...filter, topic }, (result) => {
      if (typeof result === 'string') this.subs.set(result, onItem as (item: unknown) => void);
    }) as string;
    return {
      id,
      topic,
      unsubscribe: async () => {
        this.subs.delete(id);
        return this.call<boolean>('unsubscribe', { subscription: id });
      },
    };
  }

  private send(method: string, params: unknown, onResult?: (result: unknown) => void): Promise<unknown> {
    if (this.closeInfo !== undefined || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RpcError('RPC_CLIENT_CLOSED', 'WebSocket is closed'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError('RPC_TIMEOUT', `${method}: no response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, onResult });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    });
  }

  /** Closes (code 1000) and waits for the close to complete. */
  close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    return this.closed;
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return; // the server sends text frames only
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    for (const m of (Array.isArray(message) ? message : [message]) as Array<WireResponse & { method?: unknown; params?: { subscription?: unknown; result?: unknown } }>) {
      if (m?.method === 'subscription') {
        const onItem = typeof m.params?.subscription === 'string' ? this.subs.get(m.params.subscription) : undefined;
        onItem?.(m.params!.result);
        continue;
      }
      const p = typeof m?.id === 'number' ? this.pending.get(m.id) : undefined;
      if (p === undefined) continue;
      this.pending.delete(m.id as number);
      clearTimeout(p.timer);
      let result: unknown;
      try {
        result = settle(m);
      } catch (error) {
        p.reject(error as RpcError);
        continue;
      }
      p.onResult?.(result);
      p.resolve(result);
    }
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: RpcError) => void;
  timer: ReturnType<typeof setTimeout>;
  onResult: ((result: unknown) => void) | undefined;
}

function single(body: unknown): WireResponse {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RpcError('RPC_TRANSPORT_ERROR', 'expected a single JSON-RPC response');
  }
  return body as WireResponse;
}

/** The result of a response, or its error thrown as RpcError. */
function settle(r: WireResponse): unknown {
  if (r.error !== undefined) throw RpcError.fromWire(r.error);
  if (!Object.hasOwn(r, 'result')) throw new RpcError('RPC_TRANSPORT_ERROR', 'response has neither result nor error');
  return r.result;
}

/** A URL as errors show it: without credentials or query (an api_key may be there). */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

function transportError(err: unknown, timeoutMs: number, rawUrl: string): RpcError {
  const url = shownUrl(rawUrl);
  const name = (err as { name?: unknown })?.name;
  if (name === 'TimeoutError') return new RpcError('RPC_TIMEOUT', `no response from ${url} within ${timeoutMs} ms`);
  // fetch says only "fetch failed": the reason (ECONNREFUSED, a bad scheme, a TLS error) is its cause.
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const why = (typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (err as Error)?.message ?? String(err)).replaceAll(rawUrl, url);
  return new RpcError('RPC_TRANSPORT_ERROR', `request to ${url} failed: ${why}`, {
    data: typeof cause?.code === 'string' ? { cause: cause.code } : undefined,
  });
}
