/**
 * The consensus write-ahead log of one validator: what it has signed at the current height (so a
 * restart never signs a second, different vote or proposal for the same height and round: that is
 * equivocation), every event its state machine saw at that height (replayed at restart, so locks
 * and rounds come back exactly as they were), and the blocks of the proposals it took (so that after
 * a restart it still has the block it may be locked on: if every validator restarted mid-height, nobody
 * else would, and the height could never be committed).
 *
 * One JSON line per record, appended. A signature record is synced to disk before the signature may
 * leave the node; events are not (losing the last few is like losing network messages). A line torn
 * by a crash is cut off at the next open. Starting a height rewrites the file (temp file, then rename) without the
 * records of earlier heights.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConsensusEvent, Vote, VoteType } from './tendermint.ts';

type SignedRecord =
  | { sign: 'vote'; height: string; round: number; type: VoteType; block: string | null }
  | { sign: 'proposal'; height: string; round: number; block: string; validRound?: number };
type EventRecord = { height: string; event: unknown };
/** A proposed block this validator made or found valid (id: its hash, hex), base64. */
type BlockRecord = { height: string; id: string; block: string };
/** A verified precommit for a block: its signature, for the commit certificate. */
type PrecommitRecord = { height: string; precommit: { round: number; block: string; validator: string; publicKey: string; signature: string } };
export interface PrecommitSignature { round: number; block: string; validator: string; publicKey: Uint8Array; signature: Uint8Array }
/** Distinct blocks kept per height: a round proposes at most one, and a height rarely needs more than a few rounds. */
const MAX_BLOCKS_PER_HEIGHT = 16;

export class WalError extends Error {
  readonly code = 'WAL_CORRUPT';
  constructor(message: string) {
    super(message);
    this.name = 'WalError';
  }
}

/** Events as JSON: bigints as strings. */
function toJson(e: ConsensusEvent): unknown {
  return JSON.parse(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
}

function fromJson(j: unknown): ConsensusEvent {
  return JSON.parse(JSON.stringify(j), (_k, v) => (typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as ConsensusEvent;
}

export class ConsensusWal {
  private readonly file: string;
  private readonly signed = new Map<string, SignedRecord>();
  private events: EventRecord[] = [];
  private blocks: BlockRecord[] = [];
  private precommits: PrecommitRecord[] = [];

  private constructor(file: string) {
    this.file = file;
  }

  static open(file: string): ConsensusWal {
    const wal = new ConsensusWal(file);
    if (existsSync(file)) {
      // A line torn by a crash is cut off now, so the next record starts on a line of its own.
      const text = readFileSync(file, 'utf8');
      const end = text.lastIndexOf('\n') + 1;
      if (end < text.length) {
        truncateSync(file, Buffer.byteLength(text.slice(0, end)));
        const fd = openSync(file, 'r+');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      const lines = text.slice(0, end).split('\n');
      lines.forEach((line, i) => {
        if (line === '') return;
        let r: SignedRecord | EventRecord | BlockRecord | PrecommitRecord;
        try {
          r = JSON.parse(line) as SignedRecord | EventRecord | BlockRecord | PrecommitRecord;
        } catch {
          throw new WalError(`${file}: line ${i + 1} is not JSON`);
        }
        if ('sign' in r) wal.signed.set(signKey(r.sign, r.height, r.round, r.sign === 'vote' ? r.type : undefined), r);
        else if ('block' in r) wal.blocks.push(r);
        else if ('precommit' in r) wal.precommits.push(r);
        else wal.events.push(r);
      });
    }
    return wal;
  }

  /** Events recorded at `height`, in order: replay them into a fresh state machine at restart. */
  eventsAt(height: bigint): ConsensusEvent[] {
    const h = String(height);
    return this.events.filter((r) => r.height === h).map((r) => fromJson(r.event));
  }

  /** Proposed blocks recorded at `height` (encoded), to execute again at restart. */
  blocksAt(height: bigint): Uint8Array[] {
    const h = String(height);
    return this.blocks.filter((r) => r.height === h).map((r) => new Uint8Array(Buffer.from(r.block, 'base64')));
  }

  /**
   * Keeps a proposal's block, once per block (not synced, like events, but appended before the next
   * signature record, whose sync carries it to disk: a validator's vote never outlives the block it is for).
   */
  recordBlock(height: bigint, id: string, block: Uint8Array): void {
    const h = String(height);
    const same = this.blocks.filter((r) => r.height === h);
    if (same.length >= MAX_BLOCKS_PER_HEIGHT || same.some((r) => r.id === id)) return;
    const r: BlockRecord = { height: h, id, block: Buffer.from(block.buffer, block.byteOffset, block.length).toString('base64') };
    this.blocks.push(r);
    appendFileSync(this.file, `${JSON.stringify(r)}\n`);
  }

  /** Keeps a verified precommit's signature (not synced, like events). */
  recordPrecommit(height: bigint, p: PrecommitSignature): void {
    const r: PrecommitRecord = { height: String(height), precommit: { round: p.round, block: p.block, validator: p.validator, publicKey: Buffer.from(p.publicKey).toString('hex'), signature: Buffer.from(p.signature).toString('hex') } };
    this.precommits.push(r);
    appendFileSync(this.file, `${JSON.stringify(r)}\n`);
  }

  /** Precommit signatures recorded at `height`. */
  precommitsAt(height: bigint): PrecommitSignature[] {
    const h = String(height);
    return this.precommits.filter((r) => r.height === h).map(({ precommit: p }) => ({
      round: p.round, block: p.block, validator: p.validator, publicKey: new Uint8Array(Buffer.from(p.publicKey, 'hex')), signature: new Uint8Array(Buffer.from(p.signature, 'hex')),
    }));
  }

  /** This validator's signed proposal for a height and round, if it made one: the block hash (hex) and its validRound. */
  proposalAt(height: bigint, round: number): { block: string; validRound: number } | undefined {
    const r = this.signed.get(signKey('proposal', String(height), round));
    return r?.sign === 'proposal' && r.validRound !== undefined ? { block: r.block, validRound: r.validRound } : undefined;
  }

  record(height: bigint, event: ConsensusEvent): void {
    const r: EventRecord = { height: String(height), event: toJson(event) };
    this.events.push(r);
    appendFileSync(this.file, `${JSON.stringify(r)}\n`);
  }

  /**
   * The vote this validator may sign: `vote` itself the first time, durably recorded; the same vote
   * again after a restart; and `undefined` if it already signed a different one for that height, round
   * and type (signing this one would be equivocation).
   */
  claimVote(vote: Vote): Vote | undefined {
    const k = signKey('vote', String(vote.height), vote.round, vote.type);
    const known = this.signed.get(k);
    if (known) return known.sign === 'vote' && known.block === vote.block ? vote : undefined;
    this.durable({ sign: 'vote', height: String(vote.height), round: vote.round, type: vote.type, block: vote.block }, k);
    return vote;
  }

  /** Like claimVote, for this validator's proposal of a round (`validRound` kept to send it again exactly). */
  claimProposal(height: bigint, round: number, block: string, validRound: number): boolean {
    const k = signKey('proposal', String(height), round);
    const known = this.signed.get(k);
    if (known) return known.sign === 'proposal' && known.block === block && known.validRound === validRound;
    this.durable({ sign: 'proposal', height: String(height), round, block, validRound }, k);
    return true;
  }

  private durable(r: SignedRecord, k: string): void {
    const fd = openSync(this.file, 'a');
    try {
      appendFileSync(fd, `${JSON.stringify(r)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.signed.set(k, r);
  }

  /** A new height: the records of earlier ones are dropped (atomically: temp file, then rename). */
  startHeight(height: bigint): void {
    const keep = (h: string) => BigInt(h) >= height;
    const signed = [...this.signed.values()].filter((r) => keep(r.height));
    this.events = this.events.filter((r) => keep(r.height));
    this.blocks = this.blocks.filter((r) => keep(r.height));
    this.precommits = this.precommits.filter((r) => keep(r.height));
    this.signed.clear();
    for (const r of signed) this.signed.set(signKey(r.sign, r.height, r.round, r.sign === 'vote' ? r.type : undefined), r);
    const text = [...signed, ...this.blocks, ...this.precommits, ...this.events].map((r) => `${JSON.stringify(r)}\n`).join('');
    const fd = openSync(`${this.file}.tmp`, 'w');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${this.file}.tmp`, this.file);
    // The rename itself must survive a crash: sync the directory.
    const dir = openSync(dirname(this.file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

function signKey(kind: string, height: string, round: number, type?: string): string {
  return `${kind}|${height}|${round}|${type ?? ''}`;
}
