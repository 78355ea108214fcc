/**
 * The content-addressed file store behind custody. `ContentStore` is the small interface the HTTP
 * service needs; `FsContentStore` keeps files in a folder:
 *
 *   custody-store.json          marks the folder as a store (a folder that is not one is never touched)
 *   lock/                       a LevelDB used only for its lock file: one process per store
 *   tmp/                        uploads in progress (emptied at open: leftovers of a killed process)
 *   sha256/ab/cd/<hex>          the file whose SHA-256 is <hex> (ab, cd: its first two bytes)
 *   sha256/ab/cd/<hex>.json     its record: {v, type, size, storedAt}
 *   quarantine/<hex>.<ms>       files found not to hash to their address any more (moved aside, kept)
 *
 * A file becomes visible only by the rename of a complete, fsynced temporary file to its address (its
 * record renamed into place before it), followed by an fsync of the directory: a process killed at any
 * moment leaves either no file at the address or the whole file, and an upload that fails for any reason
 * (client gone, over the limit, disk full) leaves nothing but a temporary file that it removes itself
 * or the next open does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Level } from 'level';
import { CustodyError } from './errors.ts';

export interface StoredFile {
  /** SHA-256, 64 lower-case hex digits. */
  hex: string;
  size: number;
  /** The Content-Type recorded when it was first stored. */
  type: string;
  /** When it was first stored (ms since the epoch). */
  storedAt: number;
}

export interface PutOptions {
  /** Recorded with a file stored for the first time; a file already kept keeps its own. */
  type: string;
  /** The upload fails with CUSTODY_TOO_LARGE as soon as it passes this many bytes. */
  maxBytes: number;
  signal?: AbortSignal;
}

export interface ContentStore {
  /**
   * Stores the bytes `body` yields under their SHA-256; `created` is false when the file was already
   * kept. Nothing becomes visible unless the whole body arrived and was stored.
   */
  put(body: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<StoredFile & { created: boolean }>;
  /** The file kept under `hex`, if any. */
  stat(hex: string): Promise<StoredFile | undefined>;
  /**
   * The file's bytes, checked while they stream: if they do not hash to `hex` (or are not `size` bytes)
   * the stream fails with CUSTODY_CORRUPT before it gives out its last chunk, so a reader never takes
   * an altered file for a whole one. The caller consumes or destroys the stream.
   */
  open(hex: string): Promise<{ file: StoredFile; stream: Readable } | undefined>;
  close(): Promise<void>;
}

const MARKER = 'custody-store.json';
const FORMAT = 'brop-custody-fs/1';
const HEX64 = /^[0-9a-f]{64}$/;
const READ_CHUNK = 256 * 1024;

export interface FsStoreOptions {
  /** Told when a stored file fails its check on reading (it is moved to quarantine/). */
  onCorrupt?: (event: { hex: string; quarantined: string | undefined }) => void;
}

export class FsContentStore implements ContentStore {
  readonly root: string;
  /** Temporary files removed at open: uploads cut short by the end of a previous process. */
  readonly removedTemps: number;
  private readonly lock: Level<string, string>;
  private readonly opts: FsStoreOptions;
  private readonly knownDirs = new Set<string>();
  /** Per-digest queue: the commit of a file, its replacement and its quarantine never interleave. */
  private readonly digestLocks = new Map<string, Promise<unknown>>();
  private readonly running = new Set<Promise<unknown>>();
  /** Aborted by close(): uploads waiting for their next bytes stop at once. */
  private readonly closer = new AbortController();
  private closed = false;

  private constructor(root: string, lock: Level<string, string>, removedTemps: number, opts: FsStoreOptions) {
    this.root = root;
    this.lock = lock;
    this.removedTemps = removedTemps;
    this.opts = opts;
  }

  /**
   * Opens (or creates, in a missing or empty folder) the store in `dir`: takes its lock
   * (CUSTODY_STORE_LOCKED if another process has it) and removes leftover temporary files.
   */
  static async open(dir: string, opts: FsStoreOptions = {}): Promise<FsContentStore> {
    await mkdir(dir, { recursive: true });
    await claimFolder(dir);
    const lock = new Level<string, string>(join(dir, 'lock'));
    try {
      await lock.open();
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code;
      if (code === 'LEVEL_LOCKED') throw new CustodyError('CUSTODY_STORE_LOCKED', `another process has the custody store ${dir} open`);
      throw e;
    }
    try {
      for (const sub of ['tmp', 'sha256', 'quarantine']) await mkdirSynced(join(dir, sub));
      // No upload survives its process: whatever is in tmp/ is a partial file nobody will finish.
      const leftovers = await readdir(join(dir, 'tmp'));
      for (const name of leftovers) await rm(join(dir, 'tmp', name), { recursive: true, force: true });
      if (leftovers.length > 0) await fsyncDir(join(dir, 'tmp'));
      return new FsContentStore(dir, lock, leftovers.length, opts);
    } catch (e) {
      await lock.close();
      throw e;
    }
  }

  put(body: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<StoredFile & { created: boolean }> {
    return this.track(this.putNow(body, opts));
  }

  private async putNow(body: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<StoredFile & { created: boolean }> {
    this.assertOpen();
    const tmp = join(this.root, 'tmp', `${randomBytes(12).toString('hex')}.part`);
    let fh: FileHandle | undefined;
    let size = 0;
    const hash = createHash('sha256');
    // Waiting for the body's next bytes ends on the caller's abort or the store's close, whatever the body does.
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closer.signal]) : this.closer.signal;
    let onAbort: () => void = () => undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    stopped.catch(() => undefined);
    const it = body[Symbol.asyncIterator]();
    let ended = false;
    try {
      fh = await open(tmp, 'wx', 0o444);
      for (;;) {
        const next = await Promise.race([it.next(), stopped]);
        if (next.done) break;
        const chunk = next.value;
        size += chunk.length;
        if (size > opts.maxBytes) throw new CustodyError('CUSTODY_TOO_LARGE', `the file is over the limit of ${opts.maxBytes} bytes`, { data: { maxBytes: opts.maxBytes } });
        hash.update(chunk);
        await writeAll(fh, chunk);
      }
      ended = true;
      signal.throwIfAborted();
      await fh.sync();
      await fh.close();
      fh = undefined;
    } catch (e) {
      // The body is let go of, not awaited (a generator stuck in its own await would hold us here).
      if (!ended) void Promise.resolve().then(() => it.return?.()).catch(() => undefined);
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw storeError(e);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    const hex = hash.digest('hex');
    try {
      return await this.withDigest(hex, () => this.commit(hex, tmp, size, opts.type));
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      await rm(`${tmp}.json`, { force: true }).catch(() => undefined);
      throw storeError(e);
    }
  }

  private async commit(hex: string, tmp: string, size: number, type: string): Promise<StoredFile & { created: boolean }> {
    const path = this.pathOf(hex);
    const existing = await lstatOrUndefined(path);
    // Same digest, same size: the same bytes (what is on disk is checked again whenever it is read).
    if (existing?.isFile() && existing.size === size) {
      await rm(tmp, { force: true });
      return { ...(await this.recordOf(hex, existing.size, existing.mtimeMs)), created: false };
    }
    // Nothing there, or a damaged file of the wrong size, which the verified new copy replaces.
    await this.ensureDir(dirname(path));
    let record = await this.readRecord(hex);
    if (record === undefined || record.size !== size) {
      record = { hex, size, type, storedAt: Date.now() };
      const recTmp = `${tmp}.json`;
      await writeSynced(recTmp, `${JSON.stringify({ v: 1, type, size, storedAt: record.storedAt })}\n`);
      await rename(recTmp, `${path}.json`);
      // The record is durable before the file: a visible file always has its record.
      await fsyncDir(dirname(path));
    }
    await rename(tmp, path);
    await fsyncDir(dirname(path));
    return { ...record, created: true };
  }

  async stat(hex: string): Promise<StoredFile | undefined> {
    this.assertOpen();
    checkHex(hex);
    const st = await lstatOrUndefined(this.pathOf(hex));
    if (!st?.isFile()) return undefined;
    return this.recordOf(hex, st.size, st.mtimeMs);
  }

  async open(hex: string): Promise<{ file: StoredFile; stream: Readable } | undefined> {
    this.assertOpen();
    checkHex(hex);
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(hex), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storeError(e);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        return undefined;
      }
      const file = await this.recordOf(hex, st.size, st.mtimeMs);
      const check = new VerifyingStream(hex, file.size, () => void this.quarantine(hex, st.ino));
      const raw = fh.createReadStream({ highWaterMark: READ_CHUNK });
      raw.on('error', (e) => check.destroy(storeError(e) as Error));
      check.on('close', () => raw.destroy());
      raw.pipe(check);
      return { file, stream: check };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw storeError(e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closer.abort(new CustodyError('CUSTODY_UNAVAILABLE', 'the custody store is closing'));
    await Promise.allSettled([...this.running]);
    await this.lock.close();
  }

  /** Where the file with digest `hex` lives. */
  pathOf(hex: string): string {
    return join(this.root, 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
  }

  /** Moves a file that failed its check aside (only if it is still the file that failed), so a re-upload can restore it. */
  private quarantine(hex: string, ino: number): Promise<void> {
    const path = this.pathOf(hex);
    const to = join(this.root, 'quarantine', `${hex}.${Date.now()}`);
    return this.track(this.withDigest(hex, async () => {
      const st = await lstatOrUndefined(path);
      if (st?.ino !== ino) return undefined;
      await rename(path, to);
      await fsyncDir(dirname(path));
      await fsyncDir(dirname(to));
      return to;
    }).then(
      (moved) => this.opts.onCorrupt?.({ hex, quarantined: moved }),
      () => this.opts.onCorrupt?.({ hex, quarantined: undefined }),
    ));
  }

  /** The file's record, with its size as it is on disk: any change to the bytes fails the digest check anyway. */
  private async recordOf(hex: string, size: number, mtimeMs: number): Promise<StoredFile> {
    const record = await this.readRecord(hex);
    // A missing or unreadable record only costs the type; the bytes are still checked against the digest.
    return record ? { ...record, size } : { hex, size, type: 'application/octet-stream', storedAt: Math.floor(mtimeMs) };
  }

  private async readRecord(hex: string): Promise<StoredFile | undefined> {
    let text: string;
    try {
      text = await readFile(`${this.pathOf(hex)}.json`, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const r = JSON.parse(text) as { v?: unknown; type?: unknown; size?: unknown; storedAt?: unknown };
      if (r.v !== 1 || typeof r.type !== 'string' || !Number.isSafeInteger(r.size) || !Number.isSafeInteger(r.storedAt)) return undefined;
      return { hex, type: r.type, size: r.size as number, storedAt: r.storedAt as number };
    } catch {
      return undefined;
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const parent = dirname(dir);
    if (parent !== dir && !this.knownDirs.has(parent) && parent.length > this.root.length) await this.ensureDir(parent);
    await mkdirSynced(dir);
    this.knownDirs.add(dir);
  }

  private withDigest<T>(hex: string, fn: () => Promise<T>): Promise<T> {
    const before = this.digestLocks.get(hex) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(() => undefined, () => undefined);
    this.digestLocks.set(hex, settled);
    void settled.then(() => {
      if (this.digestLocks.get(hex) === settled) this.digestLocks.delete(hex);
    });
    return run;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const done = () => this.running.delete(p);
    p.then(done, done);
    return p;
  }

  private assertOpen(): void {
    if (this.closed) throw new CustodyError('CUSTODY_UNAVAILABLE', 'the custody store is closed');
  }
}

/**
 * Passes a stored file's bytes through while hashing and counting them, always holding back the latest
 * chunk: the last one goes out only once the whole file is known to match, so a mismatch cuts the
 * stream short of its end whatever byte was altered.
 */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private readonly hex: string;
  private readonly size: number;
  private readonly onMismatch: () => void;
  private count = 0;
  private held: Buffer | undefined;

  constructor(hex: string, size: number, onMismatch: () => void) {
    super();
    this.hex = hex;
    this.size = size;
    this.onMismatch = onMismatch;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.size) return done(this.corrupt());
    this.hash.update(chunk);
    if (this.held !== undefined) this.push(this.held);
    this.held = chunk;
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.count !== this.size || this.hash.digest('hex') !== this.hex) return done(this.corrupt());
    if (this.held !== undefined) this.push(this.held);
    done();
  }

  private corrupt(): CustodyError {
    this.onMismatch();
    return new CustodyError('CUSTODY_CORRUPT', `the stored file sha256:${this.hex} does not match its address`);
  }
}

/** Makes `dir` a store: an existing marker, or a new one in a missing or empty folder. */
async function claimFolder(dir: string): Promise<void> {
  const marker = join(dir, MARKER);
  let text: string | undefined;
  try {
    text = await readFile(marker, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    let format: unknown;
    try {
      format = (JSON.parse(text) as { format?: unknown }).format;
    } catch {
      format = undefined;
    }
    if (format !== FORMAT) throw new CustodyError('CUSTODY_BAD_CONFIG', `${marker} is not a ${FORMAT} store marker`);
    return;
  }
  // Opening a store removes files in it (tmp/): never in a folder that holds something else.
  // (A marker being written when a previous process was killed does not count.)
  const entries = (await readdir(dir)).filter((e) => e !== `${MARKER}.tmp`);
  if (entries.length > 0) throw new CustodyError('CUSTODY_BAD_CONFIG', `${dir} is not empty and not a custody store (no ${MARKER}): choose an empty or new folder`);
  await writeSynced(`${marker}.tmp`, `${JSON.stringify({ format: FORMAT })}\n`);
  await rename(`${marker}.tmp`, marker);
  await fsyncDir(dir);
}

function checkHex(hex: string): void {
  if (!HEX64.test(hex)) throw new CustodyError('CUSTODY_BAD_ADDRESS', 'a file is named by 64 lower-case hex digits of its SHA-256');
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

async function writeSynced(path: string, text: string): Promise<void> {
  const fh = await open(path, 'w', 0o444);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir, with the new entry made durable in its parent. */
async function mkdirSynced(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw e;
  }
  await fsyncDir(dirname(dir));
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Typed errors for what can go wrong with an upload or a read that is not the program's fault. */
function storeError(e: unknown): unknown {
  if (e instanceof CustodyError) return e;
  const err = e as { code?: string; name?: string };
  if (err.name === 'AbortError' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error).message === 'aborted') {
    return new CustodyError('CUSTODY_ABORTED', 'the upload ended before the file did', { cause: e });
  }
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT' || err.code === 'EROFS' || err.code === 'EIO') {
    return new CustodyError('CUSTODY_UNAVAILABLE', `the custody store cannot write (${err.code})`, { cause: e });
  }
  return e;
}
