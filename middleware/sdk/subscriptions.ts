/**
 * Subscriptions that survive reconnects: one WebSocket per client (RpcWsClient), reopened with
 * back-off whenever it closes or stops answering keep-alive probes, and every subscription
 * re-established on the new socket.
 *
 * Items arrive in order while connected; a subscription never dies silently (it is re-made after
 * every reconnect, or ends with `onError` if the node refuses it). The node's topics are live only:
 * after a reconnect each subscription that was live gets a `Gap` naming the last position it
 * delivered and the head height once it was live again; items in between may be missing. Catch up
 * with `client.block(height, {full: true})`, or use the middleware's event stream, which replays from
 * a cursor (`client.stream`, middleware/events/client.ts).
 */
import { RpcWsClient, type Subscription } from '../../node/rpc/client.ts';
import { RpcError } from '../../node/rpc/errors.ts';
import { SdkError } from './errors.ts';
import type { Position } from './types.ts';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Items after `after` (all items, if null) up to and including block `upTo` may have been missed. */
export interface Gap {
  after: Position | null;
  upTo: number;
}

export interface SubscribeOptions {
  /** After a reconnect: what may have been missed while disconnected. */
  onGap?: (gap: Gap) => void;
  /** The node refused to re-make the subscription (it has ended), or the item handler threw. */
  onError?: (error: Error) => void;
}

export interface LiveSubscription {
  readonly topic: string;
  readonly filter: Record<string, unknown>;
  /** Where the last delivered item sits; null before the first. */
  readonly position: Position | null;
  /** live: the node has it; reconnecting: the socket is being reopened; closed: ended for good. */
  readonly state: 'live' | 'reconnecting' | 'closed';
  close(): Promise<void>;
}

export interface HubOptions {
  /** Per call on the socket, and for opening it. Default 30 s. */
  timeoutMs?: number;
  /** First reconnect delay, doubled per failed attempt up to maxReconnectDelayMs, with jitter. Defaults 250 ms, 10 s. */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /**
   * A probe on the socket this often; no answer within the same time means the connection is dead
   * (a vanished peer sends no close frame) and it is reopened. Default 15 s; 0 disables.
   */
  keepAliveMs?: number;
}

/** Any answer, even an error, shows the connection is alive: the probe's method need not exist. */
const PROBE_METHOD = 'chain_status';

class Entry implements LiveSubscription {
  readonly topic: string;
  readonly filter: Record<string, unknown>;
  readonly onItem: (item: unknown) => void;
  readonly positionOf: (item: unknown) => Position;
  readonly options: SubscribeOptions;
  position: Position | null = null;
  state: 'live' | 'reconnecting' | 'closed' = 'reconnecting';
  /** The socket generation the server-side subscription belongs to (0: none). */
  gen = 0;
  attaching = 0;
  sub: Subscription | undefined;
  /** Set when a live subscription lost its socket: it is to be made again on the next one. */
  lost = false;
  /** Set when it is made again: a Gap is owed. */
  owesGap = false;
  private readonly hub: SubscriptionHub;

  constructor(hub: SubscriptionHub, topic: string, filter: Record<string, unknown>, onItem: (item: unknown) => void, positionOf: (item: unknown) => Position, options: SubscribeOptions) {
    this.hub = hub;
    this.topic = topic;
    this.filter = filter;
    this.onItem = onItem;
    this.positionOf = positionOf;
    this.options = options;
  }

  close(): Promise<void> {
    return this.hub.remove(this);
  }

  /** A method, not a field read, so that checks after an await are not narrowed away. */
  ended(): boolean {
    return this.state === 'closed';
  }
}

export class SubscriptionHub {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly keepAliveMs: number;
  private readonly entries = new Set<Entry>();
  private readonly listeners = new Set<(state: ConnectionState) => void>();
  private ws: RpcWsClient | undefined;
  /** Generation of the current socket; every socket gets a new one, so events of a replaced socket are ignored. */
  private gen = 0;
  private connecting: Promise<RpcWsClient> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  private probing = false;
  private attempts = 0;
  private closed = false;
  state: ConnectionState = 'idle';

  constructor(wsUrl: string, options: HubOptions = {}) {
    this.url = wsUrl;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.minDelay = options.minReconnectDelayMs ?? 250;
    this.maxDelay = options.maxReconnectDelayMs ?? 10_000;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
  }

  /** Calls `listener` on every connection state change; returns a function that stops it. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once the node has the subscription (items published from then on are delivered).
   * Rejects if it cannot be made now: the socket does not open, or the node refuses the topic or filter.
   */
  async subscribe<T>(topic: string, filter: Record<string, unknown>, onItem: (item: T) => void, positionOf: (item: T) => Position, options: SubscribeOptions = {}): Promise<LiveSubscription> {
    if (this.closed) throw new SdkError('SDK_CLOSED', 'the client is closed');
    const entry = new Entry(this, topic, filter, onItem as (item: unknown) => void, positionOf as (item: unknown) => Position, options);
    this.entries.add(entry);
    try {
      const ws = await this.connection();
      await this.attach(entry, ws, this.gen);
      if (entry.gen === 0) throw new RpcError('RPC_CLIENT_CLOSED', 'the WebSocket closed while subscribing');
    } catch (e) {
      this.entries.delete(entry);
      entry.state = 'closed';
      if (this.entries.size === 0 && !this.closed) {
        // Nothing left to reconnect for: a failed first subscribe must not leave a retry loop behind.
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = undefined;
        if (!this.ws) this.setState('idle');
      }
      throw e;
    }
    this.startKeepAlive();
    return entry;
  }

  async remove(entry: Entry): Promise<void> {
    if (entry.state === 'closed') return;
    const live = entry.sub !== undefined && entry.gen === this.gen;
    entry.state = 'closed';
    this.entries.delete(entry);
    if (live) await entry.sub!.unsubscribe().catch(() => false); // the socket may be gone already: nothing to undo then
    if (this.entries.size === 0) this.stopKeepAlive();
  }

  /** Ends every subscription and the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stopKeepAlive();
    for (const e of this.entries) e.state = 'closed';
    this.entries.clear();
    const ws = this.ws;
    this.ws = undefined;
    this.gen++;
    this.setState('closed');
    // A dead peer never completes the close handshake: do not wait for it long.
    if (ws) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([ws.close(), new Promise((r) => { timer = setTimeout(r, 1000); })]);
      clearTimeout(timer);
    }
    this.listeners.clear();
  }

  /** The open socket, opening one (now, cancelling a pending back-off) if there is none. */
  private connection(): Promise<RpcWsClient> {
    if (this.closed) return Promise.reject(new SdkError('SDK_CLOSED', 'the client is closed'));
    if (this.ws) return Promise.resolve(this.ws);
    if (!this.connecting) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.setState(this.state === 'idle' || this.state === 'connecting' ? 'connecting' : 'reconnecting');
      this.connecting = this.open().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async open(): Promise<RpcWsClient> {
    let ws: RpcWsClient;
    try {
      ws = await RpcWsClient.connect(this.url, { timeoutMs: this.timeoutMs });
    } catch (e) {
      this.scheduleReconnect();
      throw e;
    }
    if (this.closed) {
      void ws.close();
      throw new SdkError('SDK_CLOSED', 'the client is closed');
    }
    const gen = ++this.gen;
    this.ws = ws;
    void ws.closed.then(() => this.lost(gen));
    this.attempts = 0;
    this.setState('open');
    if (this.entries.size > 0) this.startKeepAlive();
    // Entries that lost their subscription with the previous socket (new ones attach themselves).
    const stale = [...this.entries].filter((e) => e.lost && e.attaching !== gen);
    await Promise.all(stale.map((e) => this.attach(e, ws, gen).catch((err: Error) => this.refused(e, err))));
    if (stale.some((e) => e.owesGap) && gen === this.gen) void this.reportGaps(ws, gen);
    return ws;
  }

  private async attach(entry: Entry, ws: RpcWsClient, gen: number): Promise<void> {
    if (entry.state === 'closed' || entry.gen === gen || entry.attaching === gen) return;
    entry.attaching = gen;
    try {
      const sub = await ws.subscribe(entry.topic, entry.filter, (item) => this.deliver(entry, gen, item));
      if (entry.ended() || gen !== this.gen) {
        void sub.unsubscribe().catch(() => false);
        return;
      }
      entry.sub = sub;
      entry.gen = gen;
      entry.state = 'live';
      if (entry.lost) entry.owesGap = true;
      entry.lost = false;
    } finally {
      if (entry.attaching === gen) entry.attaching = 0;
    }
  }

  private deliver(entry: Entry, gen: number, item: unknown): void {
    if (entry.state === 'closed' || gen !== this.gen) return;
    try {
      entry.position = entry.positionOf(item);
      entry.onItem(item);
    } catch (e) {
      // A throwing handler must not break the socket's message loop (it would drop the rest of the batch).
      this.report(entry, e as Error);
    }
  }

  /** A failed re-subscribe: transport failures wait for the next socket; a refusal by the node ends the subscription. */
  private refused(entry: Entry, error: Error): void {
    const code = (error as { code?: string }).code;
    if (code === 'RPC_CLIENT_CLOSED' || code === 'RPC_TIMEOUT' || code === 'RPC_TRANSPORT_ERROR') return;
    entry.state = 'closed';
    this.entries.delete(entry);
    this.report(entry, error);
  }

  private async reportGaps(ws: RpcWsClient, gen: number): Promise<void> {
    let height: number;
    try {
      height = (await ws.call<{ height: number }>('chain_status')).height;
    } catch {
      // The gap stays owed: it is reported after the next reconnect (with an entry lost again, or never if the server has no chain_status).
      return; // the socket went again: the gap is still owed, reported after the next reconnect
    }
    if (gen !== this.gen) return;
    for (const e of this.entries) {
      if (!e.owesGap || e.gen !== gen) continue;
      e.owesGap = false;
      try {
        e.options.onGap?.({ after: e.position, upTo: height });
      } catch (err) {
        this.report(e, err as Error);
      }
    }
  }

  private report(entry: Entry, error: Error): void {
    try {
      entry.options.onError?.(error);
    } catch {
      // an error handler that throws has nowhere further to go
    }
  }

  /** The socket of generation `gen` closed (or stopped answering): every live subscription now owes a gap. */
  private lost(gen: number): void {
    if (gen !== this.gen || this.closed) return;
    const ws = this.ws;
    this.ws = undefined;
    this.gen++;
    this.stopKeepAlive();
    void ws?.close();
    for (const e of this.entries) {
      if (e.gen !== 0) e.lost = true;
      e.gen = 0;
      e.sub = undefined;
      if (e.state === 'live') e.state = 'reconnecting';
    }
    if (this.entries.size === 0) {
      this.setState('idle');
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.entries.size === 0) {
      if (!this.closed && this.entries.size === 0) this.setState('idle');
      return;
    }
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempts++, 16));
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connection().catch(() => undefined); // open() has scheduled the next attempt
    }, base * (0.5 + Math.random() / 2));
  }

  private startKeepAlive(): void {
    if (this.keepAliveMs <= 0 || this.keepAliveTimer) return;
    this.keepAliveTimer = setInterval(() => void this.probe(), this.keepAliveMs);
  }

  private stopKeepAlive(): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  private async probe(): Promise<void> {
    const ws = this.ws, gen = this.gen;
    if (!ws || this.probing) return;
    this.probing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        ws.call(PROBE_METHOD).catch((e: RpcError) => {
          if (e.code === 'RPC_TIMEOUT' || e.code === 'RPC_CLIENT_CLOSED') throw e; // no answer: dead
        }),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('keep-alive timeout')), this.keepAliveMs); }),
      ]);
    } catch {
      this.lost(gen);
    } finally {
      clearTimeout(timer);
      this.probing = false;
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const l of this.listeners) l(state);
  }
}
