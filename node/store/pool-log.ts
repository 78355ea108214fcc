/**
 * The pool's durable record (SPEC C4: a transaction the node accepted is never lost): the bytes of each
 * transaction a client sent here, appended to segment files and synced before the client is answered.
 *
 * Nothing is removed record by record. A segment file goes whole once the chain is past the
 * validUntilBlock of every transaction in it: each is then committed or expired, and the node has
 * recorded which. (The records used to be LevelDB entries, put on acceptance and deleted at commit: that
 * cost ~10-15% of the node's CPU outside signature checks.)
 *
 * Appends are one at a time, each a group of transactions (those accepted in one turn of the event loop)
 * in one frame, written whole and synced before the next: a crash can only cut the last frame of the
 * last segment, whose transactions no client was answered for. Opening cuts such a frame off (so that
 * every segment but the one being written is whole). Any other bad frame is damage: STORE_CORRUPT,
 * naming the file and offset; so is a bad last frame with an intact frame where it says it ends.
 * Frames, little-endian: u32 body length ‖ u32 CRC-32 of the body ‖ body; the body is, per
 * transaction, its validUntilBlock (u64), its length (u32) and its bytes.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StoreError } from './chain-store.ts';

const HEAD = 8;
/** Per transaction in a frame's body: validUntilBlock, then the length of its bytes. */
const ENTRY = 12;
const SEGMENT = /^pool-(\d{8})\.log$/;

export interface PoolLogOptions {
  /** A segment is closed, and a new one started, once it holds this many bytes (default 8 MiB). */
  segmentBytes?: number;
}

interface Segment { n: number; path: string; maxValidUntil: bigint }

export interface LoggedTx { validUntilBlock: bigint; bytes: Uint8Array }

export class PoolLog {
  private readonly dir: string;
  private readonly segmentBytes: number;
  /** Closed segments, oldest first. */
  private readonly closed: Segment[];
  private current: (Segment & { file: FileHandle; size: number }) | undefined;
  private nextN: number;
  private queue: Array<{ entries: readonly LoggedTx[]; resolve: () => void; reject: (e: Error) => void }> = [];
  private writing: Promise<void> | undefined;
  private isClosed = false;

  private constructor(dir: string, closed: Segment[], nextN: number, opts: PoolLogOptions) {
    this.dir = dir;
    this.closed = closed;
    this.nextN = nextN;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
  }

  /** Opens the log in `dir` (made if missing) with every transaction it holds, oldest first. */
  static open(dir: string, opts: PoolLogOptions = {}): { log: PoolLog; txs: LoggedTx[] } {
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir).filter((f) => SEGMENT.test(f)).sort();
    const txs: LoggedTx[] = [];
    const closed: Segment[] = [];
    for (const [i, name] of names.entries()) {
      const path = join(dir, name);
      const last = i === names.length - 1;
      const read = readSegment(path, last);
      // A frame a crash cut short goes now, before any later segment exists: then only the last
      // segment can ever end in one.
      if (read.cutAt !== undefined) truncateDurably(path, read.cutAt);
      let maxValidUntil = 0n;
      for (const t of read.txs) {
        txs.push(t);
        if (t.validUntilBlock > maxValidUntil) maxValidUntil = t.validUntilBlock;
      }
      closed.push({ n: Number(SEGMENT.exec(name)![1]), path, maxValidUntil });
    }
    // Appends always go to a new segment: one a crash cut short is only ever read.
    return { log: new PoolLog(dir, closed, (closed.at(-1)?.n ?? 0) + 1, opts), txs };
  }

  /** Appends a transaction; resolves once it is on disk (with the others of the same turn, in one write and sync). */
  append(entry: LoggedTx): Promise<void> {
    return this.appendAll([entry]);
  }

  /** Appends transactions (one request's, say) with one promise for them all; as append otherwise. */
  appendAll(entries: readonly LoggedTx[]): Promise<void> {
    if (this.isClosed) return Promise.reject(new StoreError('the pool log is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      this.writing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.drainQueue());
    });
  }

  /** Writes what is queued, a group at a time, until nothing is. */
  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        await this.write(group.flatMap((g) => g.entries));
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e as Error);
      }
    }
    this.writing = undefined;
  }

  private async write(entries: readonly LoggedTx[]): Promise<void> {
    let size = HEAD;
    for (const e of entries) size += ENTRY + e.bytes.length;
    const out = Buffer.allocUnsafe(size);
    out.writeUInt32LE(size - HEAD, 0);
    let at = HEAD;
    let maxValidUntil = 0n;
    for (const e of entries) {
      out.writeBigUInt64LE(e.validUntilBlock, at);
      out.writeUInt32LE(e.bytes.length, at + 8);
      out.set(e.bytes, at + ENTRY);
      at += ENTRY + e.bytes.length;
      if (e.validUntilBlock > maxValidUntil) maxValidUntil = e.validUntilBlock;
    }
    out.writeUInt32LE(crc32(out.subarray(HEAD)), 4);
    const seg = await this.segment();
    try {
      // write(2) may write less than asked (a full disk): the rest, or an error, until it is all there.
      for (let done = 0; done < size;) {
        const { bytesWritten } = await seg.file.write(out, done, size - done, seg.size + done);
        if (bytesWritten <= 0) throw new StoreError(`pool log ${seg.path}: the write stopped after ${done} of ${size} bytes`);
        done += bytesWritten;
      }
      await seg.file.datasync();
    } catch (e) {
      // Not acknowledged: the next group is written over it. Cut it off too, if the disk lets us, so that
      // a restart does not read back what the clients were told failed.
      await seg.file.truncate(seg.size).then(() => seg.file.datasync()).catch(() => undefined);
      throw e;
    }
    seg.size += size;
    if (maxValidUntil > seg.maxValidUntil) seg.maxValidUntil = maxValidUntil;
    if (seg.size >= this.segmentBytes) {
      this.current = undefined;
      await this.closeSegment(seg);
    }
  }

  /**
   * Closes a segment: no more appends. It is cut to what was acknowledged first, in case a failed
   * group was left past it (the cut after the failure failed too): only the last segment may end in
   * anything but whole frames. The groups in it are synced already and stand whatever this says.
   */
  private async closeSegment(seg: Segment & { file: FileHandle; size: number }): Promise<void> {
    await seg.file.truncate(seg.size).then(() => seg.file.datasync()).catch(() => undefined);
    await seg.file.close().catch(() => undefined);
    this.closed.push({ n: seg.n, path: seg.path, maxValidUntil: seg.maxValidUntil });
  }

  private async segment(): Promise<Segment & { file: FileHandle; size: number }> {
    if (this.current) return this.current;
    const n = this.nextN++;
    const path = join(this.dir, `pool-${String(n).padStart(8, '0')}.log`);
    const file = await open(path, 'wx');
    try {
      // The new file's directory entry must survive a crash too (off the main thread: a directory sync can be slow).
      const d = await open(this.dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      await file.close().catch(() => undefined);
      throw e;
    }
    this.current = { n, path, maxValidUntil: 0n, file, size: 0 };
    return this.current;
  }

  /**
   * Deletes the closed segments whose every transaction has validUntilBlock <= `height`: call it once
   * each of those is committed or its expiry recorded. Returns how many went.
   */
  retire(height: bigint): number {
    let n = 0;
    for (let i = 0; i < this.closed.length;) {
      const s = this.closed[i]!;
      if (s.maxValidUntil <= height) {
        try {
          unlinkSync(s.path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // gone already: what was asked
        }
        this.closed.splice(i, 1);
        n++;
      } else i++;
    }
    return n;
  }

  /** Waits for queued appends, then closes the current segment. */
  async close(): Promise<void> {
    this.isClosed = true;
    while (this.writing) await this.writing;
    const seg = this.current;
    this.current = undefined;
    if (seg) await this.closeSegment(seg);
  }
}

/**
 * The transactions of a segment file. In the last segment, a bad last frame (a crash cut it short) ends
 * the file: `cutAt` says where. Any other bad frame is STORE_CORRUPT: anywhere in another segment, and
 * in the last one a bad frame with an intact frame where its length says it ends. (Only that one place
 * is looked at: a frame cut short holds transaction bytes, which anyone can fill with lookalike frames.)
 */
function readSegment(path: string, last: boolean): { txs: LoggedTx[]; cutAt?: number } {
  const data = readFileSync(path);
  const txs: LoggedTx[] = [];
  let at = 0;
  while (at < data.length) {
    const body = frameAt(data, at);
    if (body === undefined) {
      const declaredEnd = at + HEAD <= data.length ? at + HEAD + data.readUInt32LE(at) : data.length;
      if (!last || (declaredEnd < data.length && frameAt(data, declaredEnd) !== undefined)) {
        throw new StoreError(`pool log ${path}: damaged frame at byte ${at}`);
      }
      return { txs, cutAt: at }; // an append a crash cut short: never acknowledged
    }
    for (let e = 0; e < body.length;) {
      if (e + ENTRY > body.length || e + ENTRY + body.readUInt32LE(e + 8) > body.length) throw new StoreError(`pool log ${path}: malformed frame at byte ${at}`);
      const end = e + ENTRY + body.readUInt32LE(e + 8);
      txs.push({ validUntilBlock: body.readBigUInt64LE(e), bytes: new Uint8Array(body.subarray(e + ENTRY, end)) });
      e = end;
    }
    at += HEAD + body.length;
  }
  return { txs };
}

function truncateDurably(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function frameAt(data: Buffer, at: number): Buffer | undefined {
  if (at + HEAD > data.length) return undefined;
  const len = data.readUInt32LE(at);
  if (len === 0 || at + HEAD + len > data.length) return undefined;
  const body = data.subarray(at + HEAD, at + HEAD + len);
  return crc32(body) === data.readUInt32LE(at + 4) ? body : undefined;
}
