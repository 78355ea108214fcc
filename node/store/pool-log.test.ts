import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
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
