/** Block sync progress: the bar's text, its throttling, the log lines, and log lines printed around the bar. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StatusLine, SyncProgress, formatEta, formatProgress } from './sync-progress.ts';

class FakeTerminal {
  out = '';
  columns: number | undefined = 120;
  write(s: string): void {
    this.out += s;
  }
  /** What the terminal shows on its current line: the text after the last carriage return, clears removed. */
  get current(): string {
    const last = this.out.slice(this.out.lastIndexOf('\r') + 1);
    return last.replaceAll('\x1b[K', '');
  }
  get draws(): number {
    return this.out.split('\r').length - 1;
  }
}

test('formatEta', () => {
  assert.is(formatEta(0), '0:00');
  assert.is(formatEta(12.4), '0:12');
  assert.is(formatEta(61), '1:01');
  assert.is(formatEta(3725), '1:02:05');
  assert.is(formatEta(NaN), '--:--');
  assert.is(formatEta(Infinity), '--:--');
});

test('formatProgress: height/target, percent of this sync, rate, time left', () => {
  assert.is(formatProgress({ height: 1200n, target: 5000n, from: 0n, blocksPerSecond: 310 }),
    'sync [######..................] 1200/5000   24.0%  310 blocks/s  ETA 0:12');
  // The percentage counts the blocks this sync fetches, not the chain's height.
  assert.is(formatProgress({ height: 1500n, target: 2000n, from: 1000n, blocksPerSecond: 2.5 }),
    'sync [############............] 1500/2000   50.0%  2.5 blocks/s  ETA 3:20');
  assert.is(formatProgress({ height: 2000n, target: 2000n, from: 1000n, blocksPerSecond: 0 }),
    'sync [########################] 2000/2000  100.0%  0.0 blocks/s  ETA 0:00');
  assert.is(formatProgress({ height: 10n, target: 20n, from: 0n, blocksPerSecond: 0 }).endsWith('ETA --:--'), true);
});

test('SyncProgress: at most one redraw per 100 ms, a log line every 3 s, the rate over recent blocks', () => {
  let now = 1_000_000;
  const term = new FakeTerminal();
  const logs: Array<Record<string, unknown>> = [];
  const p = new SyncProgress({ from: 100n, line: new StatusLine(term), log: (e) => logs.push(e), now: () => now });
  // 10 blocks per 10 ms for 10 s: 1,000 blocks a second, 10,000 updates.
  for (let i = 1; i <= 1000; i++) {
    now += 10;
    p.update(100n + BigInt(i * 10), 20_000n);
  }
  assert.is(term.draws, 100, '10 s at most ten a second');
  assert.is(logs.length, 3, 'at 3, 6 and 9 s');
  assert.equal(logs[0], { event: 'sync-progress', height: 3100n, target: 20_000n, from: 100n, blocksPerSecond: 1000 });
  assert.is(term.current, 'sync [############............] 10100/20000   50.3%  1000 blocks/s  ETA 0:10');
  // It slows down: the rate follows within the window (5 s), not the average since the start.
  for (let i = 1; i <= 100; i++) {
    now += 100;
    p.update(10_100n + BigInt(i), 20_000n);
  }
  assert.ok(p.blocksPerSecond() === 10, String(p.blocksPerSecond()));
  // A target that rises as the chain goes on is followed; a lower one reported later is not.
  p.update(10_201n, 30_000n);
  p.update(10_202n, 25_000n);
  assert.is(p.target, 30_000n);
  p.finish();
  assert.is(term.current, '', 'the bar is erased at the end');
});

test('a short catch-up shows and logs nothing', () => {
  let now = 0;
  const term = new FakeTerminal();
  const logs: unknown[] = [];
  const p = new SyncProgress({ from: 5n, line: new StatusLine(term), log: (e) => logs.push(e), now: () => now });
  now += 30;
  p.update(6n, 6n);
  p.finish();
  assert.is(term.out, '');
  assert.is(logs.length, 0);
});

test('StatusLine: log lines go above the bar; text longer than the terminal is cut (no wrapping)', () => {
  const term = new FakeTerminal();
  const line = new StatusLine(term);
  line.around(() => term.write('plain\n'));
  assert.is(term.out, 'plain\n', 'nothing shown: nothing to erase');
  line.show('sync [##..] 1/2');
  line.around(() => term.write('{"event":"block"}\n'));
  assert.is(term.out, 'plain\n\rsync [##..] 1/2\x1b[K\r\x1b[K{"event":"block"}\n\rsync [##..] 1/2\x1b[K');
  term.columns = 10;
  line.show('0123456789abcdef');
  assert.is(term.current, '012345678');
});

test.run();
