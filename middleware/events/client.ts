/**
 * A subscriber that never silently dies: follows the middleware's `stream` topic, remembers the cursor
 * of the last item (or heartbeat) it got, and when the connection drops (network, server restart,
 * disconnected as a slow consumer) or goes quiet for too long, reconnects and resumes after that
 * cursor. Items arrive once each, in chain order. Web globals only: runs in browsers too.
 */
import { RpcWsClient } from '../../node/rpc/client.ts';
import type { Heartbeat, StreamFilter, StreamItem } from '../indexer/types.ts';
import { BLOCK_SLOT_TX, compareCursors, cursorText, parseCursor } from '../indexer/types.ts';

export interface EventStreamOptions extends StreamFilter {
  /** Resume after this cursor (as items carry it); without it, only what is indexed from now on. */
  after?: string;
  /** Silence longer than this (no item, no heartbeat) counts as a dead connection. Default 35 s. */
  quietMs?: number;
  /** Wait before reconnecting, doubling up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Told of each (re)connection and loss, for logs; `ended` once the stream has stopped for good (a refusal). */
  onState?: (state: { connected: boolean; cursor: string | undefined; reason?: string; ended?: boolean }) => void;
  /** A failure before the first subscription ends the stream (`ready` rejects) instead of retrying. */
  failFirst?: boolean;
  /** How long opening the WebSocket and each call on it may take (default 30 s). */
  timeoutMs?: number;
}

/** Failures of the connection or of a busy server: the stream reconnects. Any other error is the server's refusal. */
const TRANSIENT = new Set(['RPC_TRANSPORT_ERROR', 'RPC_TIMEOUT', 'RPC_CLIENT_CLOSED', 'RPC_SHUTTING_DOWN', 'RPC_RATE_LIMITED', 'RPC_TOO_MANY_CONNECTIONS', 'RPC_INTERNAL_ERROR']);

/** `ms`, or less if `signal` aborts meanwhile (its listener is removed either way: long-lived signals must not collect them). */
export function pauseUnless(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class EventStream {
  private readonly wsUrl: string;
  private readonly opts: EventStreamOptions;
  private readonly onItem: (item: StreamItem) => void;
  private ws: RpcWsClient | undefined;
  private last: string | undefined;
  private stopped = false;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private loop: Promise<void>;
  /** Aborted by close(): ends a connection attempt or a back-off pause at once. */
  private readonly stopping = new AbortController();
  private settleReady!: (error?: Error) => void;
  /**
   * Resolves once the first subscription is in place (or the stream is closed before); rejects with
   * the server's refusal (a filter or cursor it does not take: RPC_INVALID_PARAMS, BAD_CURSOR; a server without
   * the stream: RPC_METHOD_NOT_FOUND), and with `failFirst`, with the first connection's failure. The
   * stream has then stopped.
   */
  readonly ready: Promise<void>;

  constructor(wsUrl: string, onItem: (item: StreamItem) => void, opts: EventStreamOptions = {}) {
    this.wsUrl = wsUrl;
    this.onItem = onItem;
    this.opts = opts;
    this.last = opts.after;
    let settled = false;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
    });
    this.ready.catch(() => undefined); // told through `ready` and onState; never an unhandled rejection
    this.loop = this.run();
  }

  /** The cursor to resume from: the last item or heartbeat received. */
  get cursor(): string | undefined {
    return this.last;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.watchdog);
    await this.ws?.close();
    await this.loop;
    this.settleReady();
  }

  private async run(): Promise<void> {
    let backoff = this.opts.backoffMs ?? 250;
    let subscribed = false;
    while (!this.stopped) {
      let reason = 'closed';
      let refusal: Error | undefined;
      try {
        const ws = await RpcWsClient.connect(this.wsUrl, { timeoutMs: this.opts.timeoutMs, signal: this.stopping.signal });
        this.ws = ws;
        if (this.stopped) {
          await ws.close();
          break;
        }
        const { after: _after, quietMs: _q, backoffMs: _b, maxBackoffMs: _m, onState: _s, failFirst: _f, timeoutMs: _t, ...filter } = this.opts;
        if (this.last === undefined) {
          // "From now on" is pinned to a cursor at once, so a reconnect before the first item loses nothing.
          const { indexedHeight } = await ws.call<{ indexedHeight: number }>('index_status');
          this.last = indexedHeight < 0 ? '0.0.0' : cursorText({ height: indexedHeight, tx: BLOCK_SLOT_TX, slot: 0 });
        }
        this.arm();
        const { topic: eventTopic, ...rest } = filter;
        await ws.subscribe<StreamItem | Heartbeat>('stream', { ...rest, ...(eventTopic === undefined ? {} : { eventTopic }), after: this.last }, (item) => this.receive(item));
        subscribed = true;
        this.settleReady();
        this.opts.onState?.({ connected: true, cursor: this.last });
        backoff = this.opts.backoffMs ?? 250;
        const info = await ws.closed;
        reason = info.reason || `close ${info.code}`;
      } catch (e) {
        reason = (e as Error).message;
        const code = (e as { code?: unknown }).code;
        if (!TRANSIENT.has(typeof code === 'string' ? code : '') || (this.opts.failFirst && !subscribed)) refusal = e as Error;
      }
      clearTimeout(this.watchdog);
      // A socket left open by a refusal or a quiet server would outlive this attempt.
      await this.ws?.close();
      if (this.stopped) break;
      if (refusal) {
        this.stopped = true;
        this.settleReady(refusal);
        this.opts.onState?.({ connected: false, cursor: this.last, reason, ended: true });
        break;
      }
      this.opts.onState?.({ connected: false, cursor: this.last, reason });
      await pauseUnless(this.stopping.signal, backoff);
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 10_000);
    }
  }

  private arm(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => void this.ws?.close(), this.opts.quietMs ?? 35_000);
  }

  private receive(item: StreamItem | Heartbeat): void {
    this.arm();
    const at = parseCursor(item.cursor);
    if (!at) return;
    const last = this.last ? parseCursor(this.last) : undefined;
    if (last && compareCursors(at, last) <= 0) return; // already had it (a resend after a reconnect)
    this.last = item.cursor;
    if (item.kind !== 'heartbeat') this.onItem(item);
  }
}
