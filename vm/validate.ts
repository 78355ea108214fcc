/**
 * Deployment rules: what a module must satisfy before the VM will ever run it. Together with the
 * instrumentation they make execution deterministic and bounded. Each violation is a typed VmError.
 */
import { VmError } from './errors.ts';
import { HOST_API } from './host-api.ts';
import { RESERVED_PREFIX } from './instrument.ts';
import { Reader } from './wasm/bytes.ts';
import { OP, newInstr, readInstr } from './wasm/instructions.ts';
import type { WasmModule } from './wasm/module.ts';

export interface ModuleLimits {
  maxCodeBytes: number;
  maxMemoryPages: number;
  maxTableElements: number;
  maxFunctions: number;
  maxFunctionLocals: number;
  maxGlobals: number;
}

export const DEFAULT_MODULE_LIMITS: ModuleLimits = {
  maxCodeBytes: 1024 * 1024,
  maxMemoryPages: 256, // 16 MiB
  maxTableElements: 10_000,
  maxFunctions: 20_000,
  maxFunctionLocals: 2_000,
  maxGlobals: 1_000,
};

/**
 * Instructions that change instance state other than linear memory and globals. The VM restores
 * memory and globals between calls; refusing these keeps that restore complete and cheap.
 */
const INSTANCE_MUTATING: ReadonlyMap<number, string> = new Map([
  [OP.table_set, 'table.set'], [OP.table_grow, 'table.grow'], [OP.table_fill, 'table.fill'],
  [OP.table_copy, 'table.copy'], [OP.table_init, 'table.init'], [OP.elem_drop, 'elem.drop'],
  [OP.memory_init, 'memory.init'], [OP.data_drop, 'data.drop'],
]);

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, k) => x === b[k]);

export function validateModule(m: WasmModule, limits: ModuleLimits): void {
  for (const imp of m.imports) {
    const where = `${imp.module}.${imp.name}`;
    if (imp.desc.kind !== 'func') {
      throw new VmError('VM_MODULE_FORBIDDEN_IMPORT', `import ${where}: only host functions may be imported, not a ${imp.desc.kind}`);
    }
    const expected = HOST_API[imp.module]?.[imp.name];
    if (!expected || !Object.hasOwn(HOST_API[imp.module]!, imp.name)) {
      throw new VmError('VM_MODULE_FORBIDDEN_IMPORT', `import ${where} is not part of the host API`);
    }
    const t = m.types[imp.desc.typeIndex];
    if (!t || !same(t.params, expected.params) || !same(t.results, expected.results)) {
      throw new VmError('VM_MODULE_FORBIDDEN_IMPORT', `import ${where} has the wrong signature`);
    }
  }
  if (m.start !== undefined) {
    throw new VmError('VM_MODULE_FORBIDDEN', 'start functions are not allowed: a contract runs only when called');
  }
  if (m.memories.length > 1) throw new VmError('VM_MODULE_UNSUPPORTED', 'the VM does not support multiple memories');
  for (const mem of m.memories) {
    if (mem.shared) throw new VmError('VM_MODULE_UNSUPPORTED', 'the VM does not support threads (shared memory)');
    if (mem.min > limits.maxMemoryPages) {
      throw new VmError('VM_MODULE_LIMIT', `initial memory of ${mem.min} pages exceeds the limit of ${limits.maxMemoryPages}`);
    }
  }
  for (const t of m.tables) {
    if (t.limits.min > limits.maxTableElements) {
      throw new VmError('VM_MODULE_LIMIT', `table of ${t.limits.min} elements exceeds the limit of ${limits.maxTableElements}`);
    }
  }
  if (m.functions.length > limits.maxFunctions) {
    throw new VmError('VM_MODULE_LIMIT', `${m.functions.length} functions exceed the limit of ${limits.maxFunctions}`);
  }
  if (m.globals.length > limits.maxGlobals) {
    throw new VmError('VM_MODULE_LIMIT', `${m.globals.length} globals exceed the limit of ${limits.maxGlobals}`);
  }
  for (const e of m.exports) {
    if (e.name.startsWith(RESERVED_PREFIX)) throw new VmError('VM_MODULE_RESERVED_NAME', `export "${e.name}" uses the reserved prefix ${RESERVED_PREFIX}`);
  }
  const ins = newInstr();
  m.bodies.forEach((body, f) => {
    let locals = 0;
    for (const [n] of body.locals) locals += n;
    if (locals > limits.maxFunctionLocals) {
      throw new VmError('VM_MODULE_LIMIT', `function ${f} declares ${locals} locals, above the limit of ${limits.maxFunctionLocals}`);
    }
    const r = new Reader(body.code);
    while (!r.eof()) {
      readInstr(r, ins);
      const name = INSTANCE_MUTATING.get(ins.op);
      if (name) throw new VmError('VM_MODULE_FORBIDDEN', `function ${f} uses ${name}: contracts may not change tables or segments at run time`);
    }
  });
}
