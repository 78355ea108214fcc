/**
 * Differential run of a real program: wabt (C++ compiled to a 600 KB WebAssembly module by Emscripten)
 * assembles the WAT fixtures, once as shipped and once instrumented by the VM (huge gas and stack
 * limits). Run as a child process by instrument.test.ts with `raw` or `metered`; prints one hash per fixture.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { instrument } from '../instrument.ts';
import { parseModule } from '../wasm/module.ts';
import { Vm } from '../vm.ts';

const mode = process.argv[2];
let instrumentedFunctions = 0;
if (mode === 'metered') {
  const original = WebAssembly.instantiate;
  const options = { ...new Vm().instrumentOptions(Number.MAX_SAFE_INTEGER), stackLimit: 2 ** 30 };
  (WebAssembly as { instantiate: unknown }).instantiate = (source: unknown, imports: WebAssembly.Imports) => {
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
      const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
      const m = parseModule(bytes);
      instrumentedFunctions += m.bodies.length;
      return original(instrument(m, options).bytes as unknown as WebAssembly.Module, imports);
    }
    return original(source as WebAssembly.Module, imports);
  };
}
const wabt = await (await import('wabt')).default();
const dir = fileURLToPath(new URL('./fixtures/wat/', import.meta.url));
for (const f of readdirSync(dir).filter((n) => n.endsWith('.wat')).sort()) {
  const m = wabt.parseWat(f, readFileSync(join(dir, f), 'utf8'), { bulk_memory: true, multi_value: true });
  m.validate();
  const { buffer, log } = m.toBinary({ log: true, write_debug_names: true });
  console.log(f, createHash('sha256').update(buffer).update(log).digest('hex'));
  m.destroy();
}
if (mode === 'metered') console.log('instrumented functions', instrumentedFunctions);
