/**
 * Progress of block sync, for operators watching a new or lagging node catch up: a bar redrawn in
 * place on a terminal (height/target, percent, blocks per second, time left) and, for logs, a
 * `sync-progress` JSON line every few seconds. Both are throttled: syncing runs at thousands of blocks
 * a second, and neither a terminal nor a log needs a line per block.
 */

/** A line at the bottom of a terminal that log lines go above (see StatusLine.around). */
export interface StatusTerminal {
  write(text: string): unknown;
  columns?: number;
}

/**
 * The status line of a terminal (stderr): shown text is redrawn in place; anything printed to the
 * same terminal while it is shown goes through `around`, which erases the line first and redraws it
 * after, so log lines and the bar never end up on one line.
 */
export class StatusLine {
  private readonly terminal: StatusTerminal;
  private text = '';

  constructor(terminal: StatusTerminal) {
    this.terminal = terminal;
  }

  show(text: string): void {
    const width = this.terminal.columns ?? 0;
    // Longer than the terminal, it would wrap, and "\r" would only go back to the start of its last row.
    this.text = width > 1 && text.length >= width ? text.slice(0, width - 1) : text;
    this.terminal.write(`\r${this.text}\x1b[K`);
  }

  clear(): void {
    if (this.text === '') return;
    this.text = '';
    this.terminal.write('\r\x1b[K');
  }

  /** Runs `print` (a write to the same terminal) with the line out of the way. */
  around(print: () => void): void {
    if (this.text === '') {
      print();
      return;
    }
    const text = this.text;
    this.clear();
    print();
    this.show(text);
  }
}

export interface ProgressFigures {
  height: bigint;
  target: bigint;
  /** Where this sync started: the percentage is of the blocks this sync has to fetch. */
  from: bigint;
  blocksPerSecond: number;
}

/** `m:ss` or `h:mm:ss`; `--:--` when unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

const BAR_WIDTH = 24;

/** One line: `sync [#####...] 1200/5000  24.0%  310 blocks/s  ETA 0:12`. */
export function formatProgress(p: ProgressFigures): string {
  const total = p.target - p.from, done = p.height - p.from;
  const fraction = total > 0n ? Math.min(1, Math.max(0, Number(done) / Number(total))) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const left = p.target > p.height ? Number(p.target - p.height) : 0;
  const rate = p.blocksPerSecond >= 100 ? p.blocksPerSecond.toFixed(0) : p.blocksPerSecond.toFixed(1);
  const eta = left === 0 ? formatEta(0) : p.blocksPerSecond > 0 ? formatEta(left / p.blocksPerSecond) : formatEta(NaN);
  return `sync [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${p.height}/${p.target}  ${(fraction * 100).toFixed(1).padStart(5)}%  ${rate} blocks/s  ETA ${eta}`;
}

export interface SyncProgressOptions {
  /** The height the sync starts from. */
  from: bigint;
  /** The terminal's status line: none when stderr is not a terminal (then only log lines). */
  line?: StatusLine;
  log?: (event: Record<string, unknown>) => void;
  now?: () => number;
  /** Least time between redraws of the bar (default 100 ms: at most ten a second). */
  drawEveryMs?: number;
  /** Least time between `sync-progress` log lines (default 3 s; the first after that long too, so a short catch-up logs only its final `sync` line). */
  logEveryMs?: number;
  /** The blocks per second are measured over this much recent time (default 5 s). */
  windowMs?: number;
}

/** One sync's progress: `update` after every block, `finish` at the end (erases the bar). */
export class SyncProgress {
  private readonly from: bigint;
  private readonly line: StatusLine | undefined;
  private readonly log: (event: Record<string, unknown>) => void;
  private readonly now: () => number;
  private readonly drawEveryMs: number;
  private readonly logEveryMs: number;
  private readonly windowMs: number;
  private lastDraw: number;
  private lastLog: number;
  /** Recent (time, height) samples, oldest first: the rate is measured across them. */
  private samples: Array<{ t: number; height: bigint }>;
  target: bigint;

  constructor(opts: SyncProgressOptions) {
    this.from = opts.from;
    this.line = opts.line;
    this.log = opts.log ?? (() => undefined);
    this.now = opts.now ?? Date.now;
    this.drawEveryMs = opts.drawEveryMs ?? 100;
    this.logEveryMs = opts.logEveryMs ?? 3000;
    this.windowMs = opts.windowMs ?? 5000;
    const t = this.now();
    // Nothing is shown in the first interval: most catch-ups are a block or two and would only flicker.
    this.lastDraw = t;
    this.lastLog = t;
    this.samples = [{ t, height: opts.from }];
    this.target = opts.from;
  }

  /** Blocks per second over the recent window (0 until time has passed). */
  blocksPerSecond(): number {
    const first = this.samples[0]!, last = this.samples[this.samples.length - 1]!;
    const dt = last.t - first.t;
    return dt > 0 ? (Number(last.height - first.height) * 1000) / dt : 0;
  }

  update(height: bigint, target: bigint): void {
    if (target > this.target) this.target = target;
    if (height > this.target) this.target = height;
    const t = this.now();
    this.samples.push({ t, height });
    // Keep one sample at or before the window's start, so the rate always spans the whole window.
    while (this.samples.length > 2 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
    const figures = { height, target: this.target, from: this.from, blocksPerSecond: this.blocksPerSecond() };
    if (this.line && t - this.lastDraw >= this.drawEveryMs) {
      this.lastDraw = t;
      this.line.show(formatProgress(figures));
    }
    if (t - this.lastLog >= this.logEveryMs) {
      this.lastLog = t;
      this.log({ event: 'sync-progress', height, target: this.target, from: this.from, blocksPerSecond: Math.round(figures.blocksPerSecond * 10) / 10 });
    }
  }

  finish(): void {
    this.line?.clear();
  }
}
