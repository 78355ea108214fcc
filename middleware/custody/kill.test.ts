/**
 * kill -9 during uploads: a process writing into a custody store is SIGKILLed mid-upload, and at random
 * moments while it stores file after file. After every kill the store, reopened, shows no partial file:
 * its temporary files are gone, every file at an address hashes to it and has its record, and every file
 * the process had reported stored is there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsContentStore } from './store.ts';

const CHILD = fileURLToPath(new URL('./kill-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'brop-custody-kill-'));

function child(store: string, mode: 'slow' | 'many') {
  const p = spawn(process.execPath, [CHILD, store, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buf = '';
  p.stdout!.on('data', (d) => {
    buf += String(d);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  p.stderr!.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => p.once('exit', (_code, signal) => resolve(signal)));
  return { p, lines, exited, stderr: () => stderr };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every content file hashes to its name and has its record; returns their digests. */
function checkStored(root: string): string[] {
  const hexes: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (!e.name.endsWith('.json')) {
        assert.is(createHash('sha256').update(readFileSync(path)).digest('hex'), e.name, `${path} holds exactly its content`);
        const record = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { size: number };
        assert.is(record.size, statSync(path).size, `${path} has its record`);
        hexes.push(e.name);
      }
    }
  };
  walk(join(root, 'sha256'));
  return hexes;
}

test('SIGKILL mid-upload: reopened, the store shows no partial file and the temporary file is gone', async () => {
  const root = join(dir, 'slow');
  const c = child(root, 'slow');
  await until(() => c.lines.length > 0, 30_000, `the child to open the store: ${c.stderr()}`);
  const tmp = join(root, 'tmp');
  // Well into the upload: a temporary file of several pieces.
  await until(() => readdirSync(tmp).some((f) => statSync(join(tmp, f)).size >= 512 << 10), 10_000, 'the upload to be under way');
  c.p.kill('SIGKILL');
  assert.is(await c.exited, 'SIGKILL');
  assert.ok(!c.lines.some((l) => l.event === 'finished'));
  assert.is(readdirSync(tmp).length, 1, 'the partial upload is on disk after the kill');
  const store = await FsContentStore.open(root);
  try {
    assert.is(store.removedTemps, 1);
    assert.equal(readdirSync(tmp), []);
    assert.equal(checkStored(root), [], 'nothing at any address');
  } finally {
    await store.close();
  }
});

test('SIGKILL at random moments while files are stored one after another: every stored file whole, every reported one there', async () => {
  const root = join(dir, 'many');
  const reported = new Set<string>();
  let removed = 0;
  for (let round = 0; round < 6; round++) {
    const c = child(root, 'many');
    await until(() => c.lines.length > 0, 30_000, `the child to open the store: ${c.stderr()}`);
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
    c.p.kill('SIGKILL');
    assert.is(await c.exited, 'SIGKILL');
    for (const l of c.lines) if (typeof l.stored === 'string') reported.add(l.stored);
    const store = await FsContentStore.open(root);
    try {
      removed += store.removedTemps;
      assert.equal(readdirSync(join(root, 'tmp')), []);
      const stored = new Set(checkStored(root));
      for (const hex of reported) assert.ok(stored.has(hex), `reported ${hex} is there`);
      for (const hex of reported) assert.ok((await store.stat(hex)) !== undefined);
    } finally {
      await store.close();
    }
  }
  assert.ok(reported.size >= 12, `only ${reported.size} files were stored`);
  assert.ok(removed >= 1, 'some kill landed mid-upload');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
