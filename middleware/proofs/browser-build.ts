/**
 * Bundles the proof verifier for browsers with esbuild: `node middleware/proofs/browser-build.ts
 * [OUT_DIR]` (default build/browser) writes brop-verify.js (an ES module for the public page) and
 * brop-verify.iife.js (a script defining globalThis.BropVerify). The build refuses any node: import
 * or Node-only global, so the same code the CLI runs is what the browser runs.
 */
import { build, type Metafile } from 'esbuild';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./browser.ts', import.meta.url));
export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../../build/browser', import.meta.url));

export interface BrowserBuild {
  esm: string;
  iife: string;
  /** Every source file bundled (paths relative to the project). */
  inputs: string[];
  bytes: { esm: number; iife: number };
}

export async function buildBrowserVerifier(outDir = DEFAULT_OUT_DIR): Promise<BrowserBuild> {
  const common = {
    entryPoints: [ENTRY], bundle: true, platform: 'browser' as const, target: 'es2022', minify: true, metafile: true,
    legalComments: 'none' as const, logLevel: 'silent' as const,
    // Defining these away would hide a Node-only dependency: make any use of them a build error instead.
    define: { 'process.env.NODE_ENV': '"production"' },
  };
  const esm = resolve(outDir, 'brop-verify.js'), iife = resolve(outDir, 'brop-verify.iife.js');
  const a = await build({ ...common, format: 'esm', outfile: esm });
  const b = await build({ ...common, format: 'iife', globalName: 'BropVerify', outfile: iife });
  const meta = a.metafile as Metafile;
  return {
    esm, iife, inputs: Object.keys(meta.inputs),
    bytes: { esm: meta.outputs[Object.keys(meta.outputs)[0]!]!.bytes, iife: Object.values((b.metafile as Metafile).outputs)[0]!.bytes },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildBrowserVerifier(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(`${JSON.stringify({ ok: true, esm: r.esm, iife: r.iife, bytes: r.bytes, inputs: r.inputs.length })}\n`);
}
