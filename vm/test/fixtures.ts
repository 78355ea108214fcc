/** Test modules: AssemblyScript contracts compiled with the project's flags (cached), and WAT via wabt. */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { compileCached } from '../../tooling/build/assemblyscript.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const asDir = join(here, 'fixtures', 'assembly');
const watDir = join(here, 'fixtures', 'wat');
const cacheDir = fileURLToPath(new URL('../../build/test-fixtures', import.meta.url));

export async function asFixture(name: string): Promise<Uint8Array> {
  const sources = readdirSync(asDir).map((f) => join(asDir, f));
  return compileCached(join(asDir, `${name}.ts`), sources, cacheDir);
}

const wabt = await wabtInit();
const FEATURES = { bulk_memory: true, multi_value: true, sign_extension: true, sat_float_to_int: true, mutable_globals: true, reference_types: true, simd: true, threads: true };

/** Assembles WAT; `validate: false` for modules that are meant to be refused. */
export function wat(source: string, opts: { validate?: boolean } = {}): Uint8Array {
  const m = wabt.parseWat('inline.wat', source, FEATURES);
  try {
    if (opts.validate !== false) m.validate();
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

export function watFixtureNames(): string[] {
  return readdirSync(watDir).filter((f) => f.endsWith('.wat')).map((f) => f.slice(0, -4)).sort();
}

export async function watFixture(name: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  return wat(await readFile(join(watDir, `${name}.wat`), 'utf8'));
}
