/**
 * The consensus write-ahead log of one validator: what it has signed at the current height (so a
 * restart never signs a second, different vote or proposal for the same height and round: that is
 * equivocation), every event its state machine saw at that height (replayed at restart, so locks
 * and rounds come back exactly as they were), and the blocks of the proposals it took (so that after
 * a restart it still has the block it may be locked on: if every validator restarted mid-height, nobody
 * else would, and the height could never be committed).
 *
 * Binary frames, appended: u32 length ‖ u32 crc32 ‖ body, where the body is a kind byte and then
 * JSON, or for a block a short JSON header and the block's bytes as they are (a block is most of what
 * a height writes: as base64 in a JSON line it cost a validator several copies of it as large strings).
 * A signature record is synced to disk before the signature may leave the node; events are not
 * (losing the last few is like losing network messages). At open, a bad frame (cut short, failing its
 * checksum, zeros) is what a crash left of records never synced, and is cut off with everything after
 * it, unless a whole signature record follows it: that one was synced, and everything written before it
 * with it, so the bad frame is damage (WAL_CORRUPT, for an operator to look at). A frame whose checksum
 * holds but that cannot be read is WAL_CORRUPT too. Starting a height rewrites the file (temp file, then
 * rename) without the records of earlier heights. A log in the JSON-lines form of earlier versions is
 * read and rewritten as frames.
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, truncateSync, writeSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ConsensusEvent, Vote, VoteType } from './tendermint.ts';

type SignedRecord =
  | { sign: 'vote'; height: string; round: number; type: VoteType; block: string | null }
  | { sign: 'proposal'; height: string; round: number; block: string; validRound?: number };
type EventRecord = { height: string; event: unknown };
/** A proposed block this validator made or found valid (id: its hash, hex). */
type BlockRecord = { height: string; id: string; block: Uint8Array; own?: true };
/** A verified precommit for a block: its signature, for the commit certificate. */
type PrecommitRecord = { height: string; precommit: { round: number; block: string; validator: string; publicKey: string; signature: string } };
export interface PrecommitSignature { round: number; block: string; validator: string; publicKey: Uint8Array; signature: Uint8Array }
/** Others' distinct blocks kept per height: a round proposes at most one, and a height rarely needs more than a few rounds. */
const MAX_BLOCKS_PER_HEIGHT = 16;

/** The file's first bytes; a log without them is one of the JSON-lines form. */
const MAGIC = Buffer.from('brop-wal/2\n');
const SIGNED = 1, EVENT = 2, BLOCK = 3, PRECOMMIT = 4;
const FRAME_HEAD = 8;
/** Larger than any record: a length above it is damage, not a record. */
const MAX_FRAME = 1 << 30;

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

/** A record's frame: head (length, checksum) and body, the body possibly in two pieces (a block's bytes kept as they are). */
function frame(kind: number, json: string, tail?: Uint8Array): Buffer[] {
  const text = Buffer.from(json);
  const body = Buffer.allocUnsafe(1 + (tail ? 4 : 0) + text.length);
  body[0] = kind;
  if (tail) body.writeUInt32LE(text.length, 1);
  text.copy(body, tail ? 5 : 1);
  const length = body.length + (tail?.length ?? 0);
  // Refused here rather than written and then refused at the next start.
  if (length > MAX_FRAME) throw new WalError(`a record of ${length} bytes is above the log's limit of ${MAX_FRAME}`);
  const head = Buffer.allocUnsafe(FRAME_HEAD);
  head.writeUInt32LE(length, 0);
  head.writeUInt32LE(tail ? crc32(tail, crc32(body)) : crc32(body), 4);
  return tail ? [head, body, Buffer.from(tail.buffer, tail.byteOffset, tail.length)] : [head, body];
}

/** A record of the log, as read back (for inspecting a log, and for tests that damage one). */
export type WalRecord = SignedRecord | EventRecord | BlockRecord | PrecommitRecord;

function frameOf(r: WalRecord): Buffer[] {
  if ('sign' in r) return frame(SIGNED, JSON.stringify(r));
  if ('precommit' in r) return frame(PRECOMMIT, JSON.stringify(r));
  if ('block' in r && r.block instanceof Uint8Array) return frame(BLOCK, JSON.stringify({ height: r.height, id: r.id, ...(r.own ? { own: true } : {}) }), r.block);
  return frame(EVENT, JSON.stringify(r));
}

/** The records of a log file (binary frames or the older JSON lines) and where its intact part ends. */
function readLog(file: string, data: Buffer): { records: WalRecord[]; end: number; legacy: boolean } {
  // A new log, or one torn while it was being created: written afresh.
  if (data.length < MAGIC.length && MAGIC.subarray(0, data.length).equals(data)) return { records: [], end: 0, legacy: false };
  if (data.subarray(0, MAGIC.length).equals(MAGIC)) return readFrames(file, data);
  if (data[0] === 0x7b) return readLines(file, data.toString('utf8')); // '{': the JSON lines of earlier versions
  throw new WalError(`${file}: neither a consensus log nor one of an earlier version (damaged header?)`);
}

/** The frame at `at`, if it is whole and its checksum holds (its body), else undefined. */
function intactFrame(data: Buffer, at: number): Buffer | undefined {
  if (data.length - at < FRAME_HEAD) return undefined;
  const length = data.readUInt32LE(at);
  if (length === 0 || length > MAX_FRAME || length > data.length - at - FRAME_HEAD) return undefined;
  const body = data.subarray(at + FRAME_HEAD, at + FRAME_HEAD + length);
  return crc32(body) === data.readUInt32LE(at + 4) ? body : undefined;
}

/**
 * Is there a whole signature record anywhere after `from`? Each one was synced, and with it everything
 * written before it: a bad frame before one is damage, not a crash. (Records after the last signature
 * record were never synced, and a crash may leave any part of them missing, zeroed or out of order.)
 */
function syncedRecordAfter(data: Buffer, from: number): boolean {
  for (let at = from; at + FRAME_HEAD < data.length; at++) {
    if (data[at + FRAME_HEAD] === SIGNED && intactFrame(data, at)) return true;
  }
  return false;
}

function readFrames(file: string, data: Buffer): { records: WalRecord[]; end: number; legacy: boolean } {
  const records: WalRecord[] = [];
  let at = MAGIC.length;
  while (at < data.length) {
    const body = intactFrame(data, at);
    if (!body) {
      if (syncedRecordAfter(data, at + 1)) throw new WalError(`${file}: the record at byte ${at} is damaged, and synced records follow it`);
      return { records, end: at, legacy: false }; // torn by a crash: cut off
    }
    // A frame whose checksum holds was written whole: one that cannot be read is damage (or a newer version's).
    records.push(parseBody(body, (why) => {
      throw new WalError(`${file}: the record at byte ${at} ${why}`);
    }));
    at += FRAME_HEAD + body.length;
  }
  return { records, end: at, legacy: false };
}

function parseBody(body: Buffer, bad: (why: string) => never): WalRecord {
  const kind = body[0];
  let r: unknown;
  try {
    if (kind === BLOCK) {
      const n = body.readUInt32LE(1);
      const h = JSON.parse(body.toString('utf8', 5, 5 + n)) as { height: string; id: string; own?: unknown };
      if (typeof h.height !== 'string' || typeof h.id !== 'string') return bad('is not readable');
      // A copy: the record outlives the file's buffer, which holds every other record too.
      return { height: h.height, id: h.id, block: new Uint8Array(body.subarray(5 + n)), ...(h.own === true ? { own: true as const } : {}) };
    }
    r = JSON.parse(body.toString('utf8', 1));
  } catch {
    return bad('is not readable');
  }
  if (typeof r !== 'object' || r === null) return bad('is not readable');
  if ((kind === SIGNED && 'sign' in r) || (kind === PRECOMMIT && 'precommit' in r) || (kind === EVENT && 'event' in r)) return r as WalRecord;
  return bad(`is of an unknown kind ${kind}`);
}

/** The JSON-lines form of earlier versions (block records base64): a torn last line is cut off. */
function readLines(file: string, text: string): { records: WalRecord[]; end: number; legacy: boolean } {
  const end = text.lastIndexOf('\n') + 1;
  const records: WalRecord[] = [];
  text.slice(0, end).split('\n').forEach((line, i) => {
    if (line === '') return;
    let r: WalRecord | { height: string; id: string; block: string };
    try {
      r = JSON.parse(line) as WalRecord | { height: string; id: string; block: string };
    } catch {
      throw new WalError(`${file}: line ${i + 1} is not JSON`);
    }
    if ('block' in r && typeof r.block === 'string' && 'id' in r) records.push({ height: r.height, id: r.id, block: new Uint8Array(Buffer.from(r.block, 'base64')) });
    else records.push(r as WalRecord);
  });
  return { records, end: Buffer.byteLength(text.slice(0, end)), legacy: true };
}

/** The records of a log file in their order (read only: the file is not repaired). */
export function readWalRecords(file: string): WalRecord[] {
  return readLog(file, readFileSync(file)).records;
}

/** Writes a log of exactly these records (atomically), as a validator would have left it. */
export function writeWalRecords(file: string, records: WalRecord[]): void {
  writeAtomically(file, Buffer.concat([MAGIC, ...records.flatMap(frameOf)]));
}

/** Writes every byte of `parts`, in order: writev and write may each write less than asked (a full disk ends it with an error). */
function writeAll(fd: number, parts: Uint8Array[]): void {
  let done = writevSync(fd, parts);
  for (const b of parts) {
    if (done >= b.length) {
      done -= b.length;
      continue;
    }
    for (let at = done; at < b.length;) at += writeSync(fd, b, at);
    done = 0;
  }
}

function writeAtomically(file: string, data: Buffer): void {
  const fd = openSync(`${file}.tmp`, 'w');
  try {
    writeAll(fd, [data]);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${file}.tmp`, file);
  // The rename itself must survive a crash: sync the directory.
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class ConsensusWal {
  private readonly file: string;
  private readonly signed = new Map<string, SignedRecord>();
  private events: EventRecord[] = [];
  private blocks: BlockRecord[] = [];
  private precommits: PrecommitRecord[] = [];
  /** Open for appending; opened again after a height's rewrite replaced the file. */
  private fd: number | undefined;
  /** The file's length after the last complete record. */
  private size = 0;

  private constructor(file: string) {
    this.file = file;
  }

  static open(file: string): ConsensusWal {
    const wal = new ConsensusWal(file);
    const data = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
    const { records, end, legacy } = readLog(file, data);
    for (const r of records) {
      if ('sign' in r) wal.signed.set(signKey(r.sign, r.height, r.round, r.sign === 'vote' ? r.type : undefined), r);
      else if ('precommit' in r) wal.precommits.push(r);
      else if ('block' in r) wal.blocks.push(r);
      else wal.events.push(r);
    }
    // A new file, an older version's log, or a created file torn before its header: written afresh
    // (atomically). A torn last record is cut off, so the next record starts where it began.
    if (legacy || end < MAGIC.length) wal.rewrite();
    else if (end < data.length) {
      truncateSync(file, end);
      syncFile(file);
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
    return this.blocks.filter((r) => r.height === h).map((r) => r.block);
  }

  /**
   * Keeps a proposal's block, once per block (not synced, like events, but appended before the next
   * signature record, whose sync carries it to disk: a validator's vote never outlives the block it is for).
   * Others' blocks stop being kept at MAX_BLOCKS_PER_HEIGHT; this validator's own (`own`) always are, or
   * a proposer restarted in a long height would hold its claim without the block to send again.
   */
  recordBlock(height: bigint, id: string, block: Uint8Array, own = false): void {
    const h = String(height);
    const same = this.blocks.filter((r) => r.height === h);
    if ((!own && same.filter((r) => !r.own).length >= MAX_BLOCKS_PER_HEIGHT) || same.some((r) => r.id === id)) return;
    const r: BlockRecord = { height: h, id, block, ...(own ? { own: true as const } : {}) };
    this.blocks.push(r);
    this.append(r);
  }

  /** Keeps a verified precommit's signature (not synced, like events). */
  recordPrecommit(height: bigint, p: PrecommitSignature): void {
    const r: PrecommitRecord = { height: String(height), precommit: { round: p.round, block: p.block, validator: p.validator, publicKey: Buffer.from(p.publicKey).toString('hex'), signature: Buffer.from(p.signature).toString('hex') } };
    this.precommits.push(r);
    this.append(r);
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
    this.append(r);
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

  /** Closes the file (a later record opens it again). */
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * One record at the end of the file. A write that fails part-way (a full disk) is cut off again, so
   * that the next record does not land after a torn one (which the next start would call damage).
   */
  private append(r: WalRecord): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.file, 'a');
      this.size = fstatSync(this.fd).size;
    }
    const parts = frameOf(r);
    const total = parts.reduce((n, b) => n + b.length, 0);
    try {
      writeAll(this.fd, parts);
    } catch (e) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // the next start cuts a torn last record off anyway
      }
      this.close();
      throw e;
    }
    this.size += total;
    return this.fd;
  }

  private durable(r: SignedRecord, k: string): void {
    fdatasyncSync(this.append(r));
    this.signed.set(k, r);
  }

  /** A new height: the records of earlier ones are dropped (atomically: temp file, then rename). */
  startHeight(height: bigint): void {
    const keep = (h: string) => BigInt(h) >= height;
    for (const [k, r] of this.signed) if (!keep(r.height)) this.signed.delete(k);
    this.events = this.events.filter((r) => keep(r.height));
    this.blocks = this.blocks.filter((r) => keep(r.height));
    this.precommits = this.precommits.filter((r) => keep(r.height));
    this.rewrite();
  }

  /** The file written afresh with the records held (few outlive their height: one write). */
  private rewrite(): void {
    this.close();
    writeWalRecords(this.file, [...this.signed.values(), ...this.blocks, ...this.precommits, ...this.events]);
  }
}

function signKey(kind: string, height: string, round: number, type?: string): string {
  return `${kind}|${height}|${round}|${type ?? ''}`;
}
