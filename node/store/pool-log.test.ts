import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PoolLog, type LoggedTx } from './pool-log.ts';
import { StoreError } from './chain-store.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'brop-poollog-'));
  dirs.push(d);
  return d;
}

const entry = (validUntilBlock: bigint, size = 50 + Math.floor(Math.random() * 300)): LoggedTx => ({ validUntilBlock, bytes: new Uint8Array(randomBytes(size)) });
const same = (a: LoggedTx[], b: LoggedTx[]) => assert.equal(a.map((t) => [t.validUntilBlock, Buffer.from(t.bytes).toString('hex')]), b.map((t) => [t.validUntilBlock, Buffer.from(t.bytes).toString('hex')]));

test('what was appended comes back in order after a restart, across segments; one frame per turn of the event loop', async () => {
  const dir = tempDir();
  const { log } = PoolLog.open(dir, { segmentBytes: 2000 });
  const written: LoggedTx[] = [];
  for (let turn = 0; turn < 12; turn++) {
    const group = Array.from({ length: 1 + (turn % 4) }, (_, i) => entry(BigInt(100 + turn * 10 + i)));
    written.push(...group);
    await Promise.all(group.map((e) => log.append(e)));
  }
  await log.close();
  assert.ok(readdirSync(dir).length > 2, 'the small segment size rotated the files');
  // The first segment's first frame holds exactly the first turn's one transaction.
  const first = readFileSync(join(dir, 'pool-00000001.log'));
  assert.is(first.readUInt32LE(0), 12 + written[0]!.bytes.length);
  const { log: again, txs } = PoolLog.open(dir, { segmentBytes: 2000 });
  same(txs, written);
  await again.close();
});

test('a last frame cut short by a crash is dropped, as is garbage after it; a bad frame before a good one is STORE_CORRUPT', async () => {
  const dir = tempDir();
  const { log } = PoolLog.open(dir);
  const a = [entry(10n), entry(11n)], b = [entry(12n)];
  await Promise.all(a.map((e) => log.append(e)));
  await Promise.all(b.map((e) => log.append(e)));
  await log.close();
  const file = join(dir, 'pool-00000001.log');
  const whole = readFileSync(file);
  truncateSync(file, statSync(file).size - 5);
  let opened = PoolLog.open(dir);
  same(opened.txs, a);
  await opened.log.close();
  appendFileSync(file, Buffer.alloc(300));
  opened = PoolLog.open(dir);
  same(opened.txs, a);
  await opened.log.close();
  // Damage inside the first frame, the second intact: not a crash's doing.
  const damaged = Buffer.from(whole);
  damaged[20] = damaged[20]! ^ 0xff;
  writeFileSync(file, damaged);
  try {
    PoolLog.open(dir);
    assert.unreachable('damage must be reported');
  } catch (e) {
    assert.instance(e, StoreError);
    assert.match((e as Error).message, /damaged frame at byte 0/);
  }
});

test('a frame cut short is cut off at open, whatever lookalike frames its transaction bytes hold; damage in an earlier segment is STORE_CORRUPT', async () => {
  const dir = tempDir();
  const { log } = PoolLog.open(dir);
  const a = entry(10n, 200);
  await log.append(a);
  // Transaction bytes (a client chooses them) holding a valid-looking 9-byte frame: length 1, its CRC, 1 byte.
  const fake = Buffer.alloc(9);
  fake.writeUInt32LE(1, 0);
  fake.writeUInt32LE(crc32(Buffer.from([0x42])), 4);
  fake[8] = 0x42;
  await log.append({ validUntilBlock: 11n, bytes: Buffer.concat([randomBytes(100), fake, randomBytes(60_000)]) });
  await log.close();
  const file = join(dir, 'pool-00000001.log');
  const firstFrame = 8 + 12 + 200;
  truncateSync(file, firstFrame + 4096); // a crash: only the first page of the second frame reached the disk
  const opened = PoolLog.open(dir, { segmentBytes: 1 });
  same(opened.txs, [a]);
  assert.is(statSync(file).size, firstFrame, 'the cut-off frame is gone from the file');
  await opened.log.append(entry(12n)); // a second segment: the first is no longer the last
  await opened.log.close();
  assert.is(PoolLog.open(dir).txs.length, 2);
  // One bit flipped in the (whole) first segment's last frame: not something a crash does.
  const damaged = readFileSync(file);
  damaged[damaged.length - 10] = damaged[damaged.length - 10]! ^ 1;
  writeFileSync(file, damaged);
  assert.throws(() => PoolLog.open(dir), (e: Error) => e instanceof StoreError && /pool-00000001.log: damaged frame at byte 0/.test(e.message));
});

test('a short write (a full disk) is finished before the group is acknowledged', async () => {
  const dir = tempDir();
  const { log } = PoolLog.open(dir);
  const handle = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(handle) as { write: (b: Buffer, o: number, l: number, p: number) => Promise<{ bytesWritten: number }> };
  await handle.close();
  const write = proto.write;
  let short = true;
  proto.write = function (this: unknown, b, o, l, p) {
    if (short && l > 1000) {
      short = false;
      return write.call(this, b, o, 500, p); // write(2) returning early
    }
    return write.call(this, b, o, l, p);
  };
  const written = [entry(10n, 100), entry(11n, 2000), entry(12n, 100)];
  try {
    for (const e of written) await log.append(e);
  } finally {
    proto.write = write;
  }
  await log.close();
  assert.is(short, false, 'the short write happened');
  same(PoolLog.open(dir).txs, written);
});

test('retire deletes the closed segments whose every transaction is past validUntilBlock, never the one being written', async () => {
  const dir = tempDir();
  const { log } = PoolLog.open(dir, { segmentBytes: 1 }); // every append closes its segment
  await log.append(entry(5n));
  await Promise.all([log.append(entry(3n)), log.append(entry(8n))]);
  await log.append(entry(6n));
  assert.is(log.retire(5n), 1); // the first (5); the second holds an 8
  assert.equal(readdirSync(dir), ['pool-00000002.log', 'pool-00000003.log']);
  assert.is(log.retire(7n), 1);
  assert.equal(readdirSync(dir), ['pool-00000002.log']);
  unlinkSync(join(dir, 'pool-00000002.log')); // removed by hand: retiring it is still no error
  assert.is(log.retire(8n), 1);
  const open = PoolLog.open(tempDir(), { segmentBytes: 1 << 20 }).log;
  await open.append(entry(1n));
  assert.is(open.retire(100n), 0, 'the segment being written stays');
  await open.close();
  assert.is(open.retire(100n), 1, 'once closed, it goes');
  await log.close();
});

test('close waits for appends already queued; appends after close are refused', async () => {
  const dir = tempDir();
  const { log } = PoolLog.open(dir);
  const pending = Array.from({ length: 50 }, (_, i) => log.append(entry(BigInt(i))));
  await log.close();
  await Promise.all(pending);
  assert.is(PoolLog.open(dir).txs.length, 50);
  assert.is(await log.append(entry(1n)).then(() => 'appended', (e: Error) => e.message), 'the pool log is closed');
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
test.run();
