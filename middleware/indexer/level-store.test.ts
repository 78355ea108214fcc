import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelIndexStore } from './level-store.ts';
import { storeConformance } from './store-conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-index-'));
storeConformance('LevelDB', () => LevelIndexStore.open(join(dir, 'index')));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
