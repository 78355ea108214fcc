/**
 * AssemblyScript compilation with the project's fixed flags. The same source and flags give the same
 * bytes (asc and binaryen are deterministic), so a contract's code hash is reproducible.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';

/**
 * - stub runtime: contracts are short-lived calls; memory is reset after every call, so a GC is dead weight.
 * - `_initialize` instead of a start section: the VM refuses start sections and runs `_initialize`
 *   explicitly, once per instance, before snapshotting memory.
 * - SIMD, threads and reference types stay disabled (asc's defaults), as the VM refuses them.
 */
export const ASC_FLAGS = ['--runtime', 'stub', '-O3', '--exportStart', '_initialize', '--noColors'] as const;

/** The part of asc's API used here. Its own typings declare AssemblyScript globals (console, ...) that clash with Node's. */
export interface Asc {
  main(argv: string[], options: {
    readFile?: (name: string, baseDir: string) => string | null;
    writeFile: (name: string, contents: Uint8Array | string) => void;
    listFiles?: (dir: string, baseDir: string) => string[] | null;
    stdout: { write(s: string | Uint8Array): boolean };
    stderr: { write(s: string | Uint8Array): boolean };
  }): Promise<{ error: Error | null }>;
}

const ascModule = 'assemblyscript/asc';
const asModule = 'assemblyscript';
const nativeSort = Array.prototype.sort;
let loading: Promise<{ asc: Asc; parser: unknown; ascSort: typeof nativeSort }> | undefined;

/**
 * Runs `fn` with the compiler (`asc`) and its parser module. They are loaded on first use only (a node
 * that does not build never loads them), and loading them replaces the global Array.prototype.sort
 * with AssemblyScript's own: the native one is put back at once, and theirs is in place only while
 * `fn` runs.
 */
export async function withAsc<T>(fn: (tools: { asc: Asc; parser: unknown }) => Promise<T> | T): Promise<T> {
  loading ??= (async () => {
    const asc = ((await import(ascModule)) as { default: Asc }).default;
    const parser = await import(asModule);
    const ascSort = Array.prototype.sort;
    Array.prototype.sort = nativeSort;
    return { asc, parser, ascSort };
  })();
  const { asc, parser, ascSort } = await loading;
  Array.prototype.sort = ascSort;
  try {
    return await fn({ asc, parser });
  } finally {
    Array.prototype.sort = nativeSort;
  }
}

const ascVersion: string = createRequire(import.meta.url)('assemblyscript/package.json').version;

export class CompileError extends Error {
  readonly code = 'BUILD_COMPILE_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'CompileError';
  }
}

export interface CompileResult { wasm: Uint8Array; text: string }

/** Compiles `entry` (a .ts file). Extra flags are appended to ASC_FLAGS. */
export async function compileAssemblyScript(entry: string, extraFlags: string[] = []): Promise<CompileResult> {
  const outputs = new Map<string, Uint8Array | string>();
  let stderrText = '';
  const stderr = { write(s: string | Uint8Array) { stderrText += typeof s === 'string' ? s : Buffer.from(s).toString(); return true; } };
  const { error } = await withAsc(({ asc }) => asc.main([resolve(entry), ...ASC_FLAGS, ...extraFlags, '--outFile', 'out.wasm', '--textFile', 'out.wat'], {
    writeFile: (name: string, contents: Uint8Array | string) => { outputs.set(name.replace(/^.*[\\/]/, ''), contents); },
    stderr,
    stdout: { write: () => true },
  }));
  const wasm = outputs.get('out.wasm');
  if (error || !(wasm instanceof Uint8Array)) throw new CompileError(`asc failed for ${entry}:\n${stderrText || error?.message}`);
  return { wasm, text: String(outputs.get('out.wat') ?? '') };
}

/**
 * Compiles with a cache under `cacheDir`, keyed by the sources' contents, flags and compiler version.
 * `sources` lists every file the entry imports, so that a change to any of them rebuilds.
 */
export async function compileCached(entry: string, sources: string[], cacheDir: string, extraFlags: string[] = []): Promise<Uint8Array> {
  const h = createHash('sha256').update(ascVersion).update(JSON.stringify([...ASC_FLAGS, ...extraFlags]));
  for (const f of [entry, ...sources]) h.update(f).update(readFileSync(f));
  const file = join(cacheDir, `${h.digest('hex').slice(0, 32)}.wasm`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const { wasm } = await compileAssemblyScript(entry, extraFlags);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, wasm);
  return wasm;
}
