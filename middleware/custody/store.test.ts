/**
 * The filesystem content store: files under their SHA-256, stored once, visible only whole; uploads
 * that fail (over the limit, aborted, disk full) leave nothing; damaged files are never read out whole;
 * a store folder is one process's and never a folder of something else.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { getEventListeners } from 'node:events';
import { FsContentStore } from './store.ts';
import { CustodyError } from './errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-custody-store-'));
let n = 0;
const fresh = () => join(dir, `s${n++}`);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function* chunks(data: Uint8Array, size = 64 * 1024, fail?: { after: number; error: Error }): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    if (fail && i >= fail.after) throw fail.error;
    yield data.subarray(i, i + size);
    await new Promise((r) => setImmediate(r));
  }
}

/** Every file under sha256/ (content and records). */
function storedFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : out.push(e.name));
  };
  walk(join(root, 'sha256'));
  return out.sort();
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: CustodyError) => e.code);

test('a file is stored under its SHA-256 with its type, and read back checked', async () => {
  const root = fresh();
  const store = await FsContentStore.open(root);
  try {
    const data = randomBytes(300_000);
    const r = await store.put(chunks(data), { type: 'application/pdf', maxBytes: 1 << 20 });
    assert.equal([r.hex, r.size, r.type, r.created], [sha(data), data.length, 'application/pdf', true]);
    const path = store.pathOf(r.hex);
    assert.ok(path.endsWith(join('sha256', r.hex.slice(0, 2), r.hex.slice(2, 4), r.hex)));
    assert.equal(readFileSync(path), data);
    assert.equal(JSON.parse(readFileSync(`${path}.json`, 'utf8')).type, 'application/pdf');
    assert.equal((await store.stat(r.hex))?.size, data.length);
    const opened = (await store.open(r.hex))!;
    assert.is(opened.file.type, 'application/pdf');
    assert.equal(await readAll(opened.stream), data);
    // The empty file is a file too.
    const empty = await store.put(chunks(new Uint8Array(0)), { type: 'text/plain', maxBytes: 10 });
    assert.equal([empty.hex, empty.size], [sha(new Uint8Array(0)), 0]);
    assert.equal(await readAll((await store.open(empty.hex))!.stream), Buffer.alloc(0));
    assert.is(await store.stat('0'.repeat(64)), undefined);
    assert.is(await store.open('0'.repeat(64)), undefined);
    assert.is(await codeOf(store.stat('../../etc/passwd')), 'CUSTODY_BAD_ADDRESS');
    assert.is(await codeOf(store.open('A'.repeat(64))), 'CUSTODY_BAD_ADDRESS');
    assert.equal(readdirSync(join(root, 'tmp')), []);
  } finally {
    await store.close();
  }
});

test('identical content is stored once, also when uploaded concurrently; the first type stays', async () => {
  const root = fresh();
  const store = await FsContentStore.open(root);
  try {
    const data = randomBytes(200_000);
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => store.put(chunks(data, 10_000 + i * 1000), { type: i === 0 ? 'image/png' : 'application/octet-stream', maxBytes: 1 << 20 })));
    assert.is(results.filter((r) => r.created).length, 1, 'exactly one upload created the file');
    assert.ok(results.every((r) => r.hex === sha(data)));
    const type = (await store.stat(sha(data)))!.type;
    assert.ok(results.every((r) => r.type === type), 'every uploader is told the recorded type');
    const again = await store.put(chunks(data), { type: 'text/plain', maxBytes: 1 << 20 });
    assert.equal([again.created, again.type], [false, type]);
    assert.equal(storedFiles(root), [sha(data), `${sha(data)}.json`]);
    assert.equal(readdirSync(join(root, 'tmp')), []);
  } finally {
    await store.close();
  }
});

test('an upload over the limit, aborted or failing leaves no file and no temporary file', async () => {
  const root = fresh();
  const store = await FsContentStore.open(root);
  try {
    const data = randomBytes(500_000);
    assert.is(await codeOf(store.put(chunks(data), { type: 'application/pdf', maxBytes: 499_999 })), 'CUSTODY_TOO_LARGE');
    const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    assert.is(await codeOf(store.put(chunks(data, 64 * 1024, { after: 200_000, error: reset }), { type: 'application/pdf', maxBytes: 1 << 20 })), 'CUSTODY_ABORTED');
    const ac = new AbortController();
    const aborted = store.put((async function* () {
      yield data.subarray(0, 1000);
      ac.abort();
      yield data.subarray(1000);
    })(), { type: 'application/pdf', maxBytes: 1 << 20, signal: ac.signal });
    assert.is(await codeOf(aborted), 'CUSTODY_ABORTED');
    assert.equal(storedFiles(root), []);
    assert.equal(readdirSync(join(root, 'tmp')), []);
    // Exactly at the limit is fine.
    assert.is((await store.put(chunks(data), { type: 'application/pdf', maxBytes: 500_000 })).size, 500_000);
  } finally {
    await store.close();
  }
});

test('closing the store ends an upload waiting for bytes that never come; many uploads leave no listeners behind', async () => {
  const root = fresh();
  const store = await FsContentStore.open(root);
  try {
    for (let i = 0; i < 30; i++) await store.put(chunks(randomBytes(100)), { type: 'text/plain', maxBytes: 1000 });
    const ac = new AbortController();
    for (let i = 0; i < 30; i++) await store.put(chunks(randomBytes(100)), { type: 'text/plain', maxBytes: 1000, signal: ac.signal });
    const closer = (store as unknown as { closer: AbortController }).closer;
    assert.equal([getEventListeners(closer.signal, 'abort').length, getEventListeners(ac.signal, 'abort').length], [0, 0], 'no listener left per upload');
    const stuck = store.put((async function* () {
      yield randomBytes(1000);
      await new Promise(() => undefined); // a client that never sends the rest
    })(), { type: 'application/pdf', maxBytes: 1 << 20 });
    await until(() => readdirSync(join(root, 'tmp')).length === 1);
    const started = Date.now();
    await store.close();
    assert.is(await codeOf(stuck), 'CUSTODY_UNAVAILABLE');
    assert.ok(Date.now() - started < 1000, 'close did not wait for the body');
    assert.equal(readdirSync(join(root, 'tmp')), []);
    assert.equal(storedFiles(root).length, 120);
  } finally {
    await store.close();
  }
});

test('a full disk fails the upload with CUSTODY_UNAVAILABLE and leaves nothing behind (tmpfs of 1 MiB)', async () => {
  const mount = join(dir, 'small-disk');
  mkdirSync(mount);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount], { stdio: 'ignore' });
  } catch {
    console.log('  (skipped: mounting a tmpfs needs root)');
    return;
  }
  try {
    const store = await FsContentStore.open(join(mount, 'store'));
    try {
      assert.is(await codeOf(store.put(chunks(randomBytes(2 << 20)), { type: 'application/pdf', maxBytes: 10 << 20 })), 'CUSTODY_UNAVAILABLE');
      assert.equal(storedFiles(join(mount, 'store')), []);
      assert.equal(readdirSync(join(mount, 'store', 'tmp')), []);
      // The space came back: a file that fits is stored.
      const small = randomBytes(100_000);
      assert.is((await store.put(chunks(small), { type: 'application/pdf', maxBytes: 10 << 20 })).hex, sha(small));
    } finally {
      await store.close();
    }
  } finally {
    execFileSync('umount', [mount]);
  }
});

test('a damaged file is never read out whole: the stream fails before its last chunk; the file is quarantined and a re-upload restores it', async () => {
  const root = fresh();
  const quarantined: string[] = [];
  const store = await FsContentStore.open(root, { onCorrupt: (e) => quarantined.push(e.hex) });
  try {
    const damages: Array<[string, (path: string, size: number) => void]> = [
      ['a byte in the middle', (p, size) => flip(p, Math.floor(size / 2))],
      ['the last byte', (p, size) => flip(p, size - 1)],
      ['truncated', (p, size) => truncateSync(p, size - 10)],
      ['extended', (p) => appendFileSync(p, 'x')],
    ];
    for (const [what, damage] of damages) {
      for (const size of [1000, 700_000]) { // one read chunk, several
        const data = randomBytes(size);
        const hex = (await store.put(chunks(data), { type: 'application/pdf', maxBytes: 1 << 20 })).hex;
        chmodSync(store.pathOf(hex), 0o644);
        damage(store.pathOf(hex), size);
        const opened = (await store.open(hex))!;
        let got = 0;
        let error: unknown;
        try {
          for await (const c of opened.stream) got += (c as Buffer).length;
        } catch (e) {
          error = e;
        }
        assert.is((error as CustodyError | undefined)?.code, 'CUSTODY_CORRUPT', `${what}, ${size} bytes: the stream fails`);
        assert.ok(got < size, `${what}, ${size} bytes: ${got} bytes came out before the failure`);
        await until(() => !existsSync(store.pathOf(hex)));
        assert.is(await store.stat(hex), undefined, `${what}: quarantined`);
        const back = await store.put(chunks(data), { type: 'application/pdf', maxBytes: 1 << 20 });
        assert.ok(back.created, `${what}: the re-upload stores it again`);
        assert.equal(await readAll((await store.open(hex))!.stream), data);
      }
    }
    assert.is(quarantined.length, 8);
    assert.is(readdirSync(join(root, 'quarantine')).length, 8);
  } finally {
    await store.close();
  }
});

test('a file of the wrong size at its address is replaced by a verified upload', async () => {
  const root = fresh();
  const store = await FsContentStore.open(root);
  try {
    const data = randomBytes(5000);
    const hex = (await store.put(chunks(data), { type: 'image/png', maxBytes: 1 << 20 })).hex;
    chmodSync(store.pathOf(hex), 0o644);
    truncateSync(store.pathOf(hex), 100);
    const again = await store.put(chunks(data), { type: 'application/pdf', maxBytes: 1 << 20 });
    assert.equal([again.created, again.type], [true, 'image/png']);
    assert.equal(readFileSync(store.pathOf(hex)), data);
  } finally {
    await store.close();
  }
});

test('opening: leftover temporary files are removed; one process per store; never a folder that is not a store', async () => {
  const root = fresh();
  await (await FsContentStore.open(root)).close();
  writeFileSync(join(root, 'tmp', 'abc.part'), randomBytes(1000));
  writeFileSync(join(root, 'tmp', 'abc.part.json'), '{');
  const store = await FsContentStore.open(root);
  try {
    assert.is(store.removedTemps, 2);
    assert.equal(readdirSync(join(root, 'tmp')), []);
    assert.is(await codeOf(FsContentStore.open(root)), 'CUSTODY_STORE_LOCKED');
  } finally {
    await store.close();
  }
  const other = fresh();
  mkdirSync(join(other, 'tmp'), { recursive: true });
  writeFileSync(join(other, 'tmp', 'precious.txt'), 'not ours');
  assert.is(await codeOf(FsContentStore.open(other)), 'CUSTODY_BAD_CONFIG');
  assert.ok(existsSync(join(other, 'tmp', 'precious.txt')), 'nothing in a foreign folder is touched');
  writeFileSync(join(other, 'custody-store.json'), '{"format":"something-else"}');
  assert.is(await codeOf(FsContentStore.open(other)), 'CUSTODY_BAD_CONFIG');
  const closed = await FsContentStore.open(fresh());
  await closed.close();
  assert.is(await codeOf(closed.put(chunks(randomBytes(10)), { type: 'text/plain', maxBytes: 100 })), 'CUSTODY_UNAVAILABLE');
});

function flip(path: string, at: number): void {
  const b = readFileSync(path);
  b[at] = b[at]! ^ 0x01;
  writeFileSync(path, b);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
