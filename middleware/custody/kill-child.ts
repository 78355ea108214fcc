/**
 * A process that uploads into a custody store until it is killed (for kill.test.ts):
 *   kill-child.ts DIR slow   one 8 MiB file, 64 KiB every 20 ms
 *   kill-child.ts DIR many   file after file of random sizes; prints {"stored": hex} once each is stored
 */
import { randomBytes } from 'node:crypto';
import { FsContentStore } from './store.ts';

const [dir, mode] = process.argv.slice(2);
const store = await FsContentStore.open(dir!);
process.stdout.write(`${JSON.stringify({ event: 'open' })}\n`);

async function* slowly(total: number, piece: number, delayMs: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += piece) {
    yield new Uint8Array(piece).fill(sent / piece);
    await new Promise((r) => setTimeout(r, delayMs));
  }
}

if (mode === 'slow') {
  await store.put(slowly(8 << 20, 64 << 10, 20), { type: 'application/pdf', maxBytes: 16 << 20 });
  process.stdout.write(`${JSON.stringify({ event: 'finished' })}\n`);
} else {
  for (;;) {
    const data = randomBytes(1 + Math.floor(Math.random() * 300_000));
    const r = await store.put((async function* () { for (let i = 0; i < data.length; i += 32_768) yield data.subarray(i, i + 32_768); })(), { type: 'image/png', maxBytes: 1 << 20 });
    process.stdout.write(`${JSON.stringify({ stored: r.hex })}\n`);
  }
}
