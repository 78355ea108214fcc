/**
 * Event push (SPEC M2): the `stream` subscription topic. A subscriber names what it wants (kinds,
 * contract, topic, account) and, when resuming, the cursor of the last item it got. It first gets
 * everything after that cursor from the index, then live items as blocks are indexed: never an item
 * twice, never a gap, because each subscriber only takes items past the last position it was given,
 * and the switch from replay to live happens when the replay has read everything the index holds.
 * Heartbeats every few seconds carry the current position (so a quiet filter still moves its cursor
 * forward, and a client can tell a live stream from a dead one). Publishing never waits for anyone: the
 * RPC server disconnects a consumer that falls too far behind, and it resumes from its cursor.
 */
import type { RpcServer, SubscriptionChannel } from '../../node/rpc/server.ts';
import { RpcError } from '../../node/rpc/errors.ts';
import type { Indexer } from '../indexer/indexer.ts';
import { BLOCK_SLOT_TX, type Cursor, type Heartbeat, type StreamFilter, type StreamItem, compareCursors, cursorText, matches, parseCursor } from '../indexer/types.ts';

export const STREAM_TOPIC = 'stream';
const KINDS = new Set(['block', 'tx', 'event']);
const REPLAY_BATCH = 500;
/** A replay pauses while this much is unsent on the socket (the server cuts a consumer at 4 MiB). */
const REPLAY_MAX_BUFFERED = 1 << 20;


class Subscriber {
  readonly filter: StreamFilter;
  lastSent: Cursor;
  live: boolean;
  constructor(filter: StreamFilter, after: Cursor | undefined, tip: Cursor) {
    this.filter = filter;
    this.lastSent = after ?? tip;
    this.live = after === undefined;
  }

  /** Whether a live item goes to this subscriber (and if so, it is now the last sent). */
  take(item: StreamItem, at: Cursor): boolean {
    if (!this.live || compareCursors(at, this.lastSent) <= 0) return false;
    if (!matches(item, this.filter)) {
      this.lastSent = at; // looked at: a replay after a reconnect need not look again
      return false;
    }
    this.lastSent = at;
    return true;
  }
}

export class EventHub {
  private readonly indexer: Indexer;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(server: RpcServer, indexer: Indexer, opts: { heartbeatMs?: number } = {}) {
    this.indexer = indexer;
    server.topic<Subscriber>(STREAM_TOPIC, (p) => this.parse(p), (sub, channel) => {
      // A subscription "from now" pinned to the tip when its request was read, and activated only once
      // its whole batch was answered, may have missed a block indexed meanwhile: it replays that.
      if (sub.live && compareCursors(this.tip(), sub.lastSent) > 0) sub.live = false;
      if (!sub.live) void this.replay(sub, channel);
    });
    indexer.on('indexed', (batch) => {
      if (!server.hasSubscribers(STREAM_TOPIC)) return;
      for (const item of batch.stream) {
        const at = parseCursor(item.cursor)!;
        server.publish<Subscriber>(STREAM_TOPIC, item, (s) => s.take(item, at));
      }
    });
    this.heartbeat = setInterval(() => {
      if (!server.hasSubscribers(STREAM_TOPIC)) return;
      const tip = this.tip();
      const beat: Heartbeat = { kind: 'heartbeat', cursor: cursorText(tip), height: tip.height };
      server.publish<Subscriber>(STREAM_TOPIC, beat, (s) => {
        if (!s.live) return false;
        if (compareCursors(tip, s.lastSent) > 0) s.lastSent = tip;
        return true;
      });
    }, opts.heartbeatMs ?? 10_000);
    this.heartbeat.unref();
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }

  /** The position of the last indexed block's own item: everything up to it is in the index. */
  private tip(): Cursor {
    return { height: this.indexer.status().indexedHeight, tx: BLOCK_SLOT_TX, slot: 0 };
  }

  private parse(p: Record<string, unknown>): Subscriber {
    const filter: StreamFilter = {};
    if (p.kinds !== undefined) {
      if (!Array.isArray(p.kinds) || p.kinds.length === 0 || !p.kinds.every((k) => typeof k === 'string' && KINDS.has(k))) {
        throw RpcError.invalidParams('kinds is a non-empty list of "block", "tx", "event"');
      }
      filter.kinds = p.kinds as StreamFilter['kinds'];
    }
    // On the wire the topic filter is eventTopic: `topic` is the subscription's own field.
    for (const [wire, name] of [['contract', 'contract'], ['eventTopic', 'topic'], ['account', 'account']] as const) {
      const v = p[wire];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw RpcError.invalidParams(`${wire} is a string of 1 to 256 characters`);
      filter[name] = name === 'account' ? v.toLowerCase() : v;
    }
    if (filter.account !== undefined && !/^0x[0-9a-f]{64}$/.test(filter.account)) throw RpcError.invalidParams('account is a 0x-hex address (32 bytes)');
    let after: Cursor | undefined;
    if (p.after !== undefined) {
      after = typeof p.after === 'string' ? parseCursor(p.after) : undefined;
      if (!after) throw new RpcError('BAD_CURSOR', 'after is a cursor as items carry it ("height.tx.slot")');
    }
    const unknown = Object.keys(p).filter((k) => !['kinds', 'contract', 'eventTopic', 'account', 'after'].includes(k));
    if (unknown.length > 0) throw RpcError.invalidParams(`unknown filter fields: ${unknown.join(', ')}`);
    return new Subscriber(filter, after, this.tip());
  }

  /** Everything after the subscriber's cursor from the index, then it goes live. */
  private async replay(sub: Subscriber, channel: SubscriptionChannel): Promise<void> {
    const store = this.indexer.store;
    for (;;) {
      if (!channel.open()) return; // gone: stop scanning for it
      const height = this.indexer.status().indexedHeight;
      const { items, scannedTo, exhausted } = await store.stream(sub.lastSent, REPLAY_BATCH, sub.filter);
      for (const item of items) {
        if (!channel.send(item)) return; // gone
        sub.lastSent = parseCursor(item.cursor)!;
      }
      if (scannedTo && compareCursors(scannedTo, sub.lastSent) > 0) {
        sub.lastSent = scannedTo;
        // Progress through items the filter skips: the client's cursor moves on (a reconnect does not
        // scan them again) and its connection is not silent during a long, sparse replay.
        const beat: Heartbeat = { kind: 'heartbeat', cursor: cursorText(scannedTo), height: scannedTo.height };
        if (!channel.send(beat)) return;
      }
      // Nothing more stored, and no block indexed meanwhile: from here, live items carry on.
      if (exhausted && this.indexer.status().indexedHeight === height) {
        sub.live = true;
        return;
      }
      while (channel.buffered() > REPLAY_MAX_BUFFERED) {
        await new Promise((r) => setTimeout(r, 20));
        if (!channel.open()) return;
      }
    }
  }
}
