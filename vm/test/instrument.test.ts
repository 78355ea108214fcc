import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { asFixture, wat, watFixture, watFixtureNames } from './fixtures.ts';
import { instrument } from '../instrument.ts';
import { parseModule } from '../wasm/module.ts';
import { Vm } from '../vm.ts';
import { MemoryState } from '../state.ts';

const UNLIMITED = new Vm().instrumentOptions(Number.MAX_SAFE_INTEGER);
const NAN_EXPORTS = new Set(['nanBits32', 'nanBits64', 'payloadAdd', 'negNaN', 'storeNaN']);
const abortImports = { env: { abort: () => { throw new Error('abort'); } } };

interface Outcome { value: unknown; trap: string | undefined; memory: string | undefined }

/** Runs every parameterless export on a fresh instance; records the value or trap and the memory afterwards. */
function runExports(bytes: Uint8Array, names: string[]): Map<string, Outcome> {
  const module = new WebAssembly.Module(bytes);
  const out = new Map<string, Outcome>();
  for (const name of names) {
    const inst = new WebAssembly.Instance(module, abortImports);
    const ex = inst.exports;
    (ex._initialize as (() => void) | undefined)?.();
    let value: unknown, trap: string | undefined;
    try {
      value = (ex[name] as () => unknown)();
    } catch (e) {
      trap = (e as Error).message;
    }
    const mem = ex.memory as WebAssembly.Memory | undefined;
    out.set(name, { value, trap, memory: mem ? createHash('sha256').update(new Uint8Array(mem.buffer)).digest('hex') : undefined });
  }
  return out;
}

function callableExports(bytes: Uint8Array): string[] {
  const m = parseModule(bytes);
  return m.exports
    .filter((e) => e.kind === 'func' && e.name !== '_initialize')
    .filter((e) => {
      const imported = m.imports.filter((i) => i.desc.kind === 'func').length;
      return m.types[m.functions[e.index - imported]!]!.params.length === 0;
    })
    .map((e) => e.name);
}

async function corpus(): Promise<Array<[string, Uint8Array]>> {
  const list: Array<[string, Uint8Array]> = [['as:compute', await asFixture('compute')]];
  for (const n of watFixtureNames()) list.push([`wat:${n}`, await watFixture(n)]);
  return list;
}

test('differential: every corpus module gives the same results instrumented (unlimited gas) and raw', async () => {
  let compared = 0;
  for (const [label, bytes] of await corpus()) {
    const names = callableExports(bytes);
    const raw = runExports(bytes, names);
    const metered = runExports(instrument(parseModule(bytes), UNLIMITED).bytes, names);
    for (const name of names) {
      const r = raw.get(name)!, m = metered.get(name)!;
      if (NAN_EXPORTS.has(name)) continue; // compared bit-exactly against the canonical NaN below
      assert.equal(m.trap, r.trap, `${label} ${name}: trap`);
      assert.equal(typeof m.value === 'number' && Number.isNaN(m.value) ? 'NaN' : m.value, typeof r.value === 'number' && Number.isNaN(r.value) ? 'NaN' : r.value, `${label} ${name}: value`);
      assert.equal(m.memory, r.memory, `${label} ${name}: memory`);
      compared++;
    }
  }
  assert.ok(compared >= 30, `compared ${compared} exports`);
});

test('differential on a real program: wabt (600 KB of compiled C++) gives identical output instrumented', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const probe = fileURLToPath(new URL('./wabt-probe.ts', import.meta.url));
  const run = (mode: string) => {
    const r = spawnSync(process.execPath, [probe, mode], { encoding: 'utf8', timeout: 120_000 });
    assert.is(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n');
  };
  const raw = run('raw');
  const metered = run('metered');
  assert.ok(raw.length >= 3);
  assert.equal(metered.slice(0, raw.length), raw);
  assert.match(metered[raw.length]!, /^instrumented functions [1-9]\d{2,}$/);
});

test('differential with host imports: contracts behave the same raw (host bound directly) and in the VM', async () => {
  const { hostImports, DEFAULT_HOST_LIMITS } = await import('../host.ts');
  const { Journal } = await import('../state.ts');
  const { COST_TABLE_V1 } = await import('../costs.ts');
  const A = new Uint8Array(32).fill(0xaa);
  const enc = (x: string) => new TextEncoder().encode(x);
  const seed = () => {
    const state = new MemoryState();
    state.apply(['a1', 'b1', 'b2', 'n'].map((k) => ({ contract: A, key: enc(k), value: k === 'n' ? new Uint8Array(8).fill(1) : enc(`v-${k}`) })));
    return state;
  };
  const runRaw = (code: Uint8Array, method: string, input: Uint8Array) => {
    const inst = {
      current: null as null | import('../host.ts').Frame,
      hostGas: new WebAssembly.Global({ value: 'f64', mutable: true }, 2 ** 52),
      stack: new WebAssembly.Global({ value: 'i32', mutable: true }, 0),
      memory: undefined as WebAssembly.Memory | undefined,
    };
    const instance = new WebAssembly.Instance(new WebAssembly.Module(code), hostImports(inst, COST_TABLE_V1, DEFAULT_HOST_LIMITS, () => { throw new Error('no nested calls here'); }));
    inst.memory = instance.exports.memory as WebAssembly.Memory;
    (instance.exports._initialize as () => void)();
    const frame = { contract: A, caller: A, input, output: new Uint8Array(0), txHash: new Uint8Array(32).fill(3), blockHeight: 5n, blockTime: 6n,
      readOnly: false, depth: 0, journal: new Journal(seed()), events: [], eventCount: { n: 0 }, logs: [], lastResult: new Uint8Array(0) };
    inst.current = frame;
    let result: unknown, error: string | undefined;
    try { result = (instance.exports[method] as () => unknown)(); } catch (e) { error = (e as { code?: string }).code ?? 'TRAP'; }
    return { result, error, output: error ? new Uint8Array(0) : frame.output, events: error ? [] : frame.events, writes: error ? [] : frame.journal.toWrites() };
  };
  const vm = new Vm();
  const cases: Array<[string, string, Uint8Array]> = [
    ['storage', 'put', new Uint8Array([2, ...enc('b3'), ...enc('x')])], ['storage', 'get', enc('b2')], ['storage', 'get', enc('zz')],
    ['storage', 'remove', enc('a1')], ['storage', 'has', enc('n')], ['storage', 'list', enc('b')], ['storage', 'increment', new Uint8Array(0)],
    ['storage', 'context', new Uint8Array(0)], ['storage', 'hashes', enc('abc')], ['storage', 'echo', enc('echo')],
    ['storage', 'fail', new Uint8Array(0)], ['storage', 'assertFails', new Uint8Array(0)], ['storage', 'writeMany', new Uint8Array([30, 0, 0, 0])],
    ['hostile', 'hugeValue', new Uint8Array(0)], ['hostile', 'badPointer', new Uint8Array(0)],
  ];
  for (const [fixture, method, input] of cases) {
    const code = await asFixture(fixture);
    const raw = runRaw(code, method, input);
    const r = vm.call({ contract: A, caller: A, method, input, gasLimit: 1e9, code, txHash: new Uint8Array(32).fill(3), blockHeight: 5, blockTime: 6 }, { state: seed() });
    const label = `${fixture}.${method}`;
    assert.is(r.error?.code, raw.error, `${label}: error`);
    assert.equal(r.result, raw.result, `${label}: result`);
    assert.equal(r.output, raw.output, `${label}: output`);
    assert.equal(r.events, raw.events, `${label}: events`);
    assert.equal(r.writes, raw.writes, `${label}: writes`);
  }
});

test('NaN results are canonical after instrumentation, whatever the engine produced', async () => {
  const bytes = await watFixture('floats');
  const metered = runExports(instrument(parseModule(bytes), UNLIMITED).bytes, [...NAN_EXPORTS]);
  assert.is(metered.get('nanBits32')!.value, 0x7fc00000);
  assert.is(metered.get('negNaN')!.value, 0x7fc00000);
  assert.is(metered.get('storeNaN')!.value, 0x7fc00000);
  assert.is(metered.get('nanBits64')!.value, 0x7ff8000000000000n);
  assert.is(metered.get('payloadAdd')!.value, 0x7ff8000000000000n);
});

test('the instrumented module runs in a plain engine with the original imports and starts with the given gas', () => {
  const bytes = wat(`(module (func (export "f") (result i32) (i32.add (i32.const 1) (i32.const 2))))`);
  const out = instrument(parseModule(bytes), new Vm().instrumentOptions(1234));
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), {});
  const gas = inst.exports.__brop_gas as WebAssembly.Global;
  assert.is(gas.value, 1234n);
  assert.is((inst.exports.f as () => number)(), 3);
  assert.is(gas.value, 1234n - 3n); // const, const, add; end is free
});

test('the instrumented module is exactly what the VM runs', async () => {
  const code = await asFixture('storage');
  const vm = new Vm();
  assert.equal(instrument(parseModule(code), vm.instrumentOptions(0)).bytes, vm.prepare(code).instrumented);
});

test('gas is charged per basic block: a loop pays for each iteration', () => {
  const vm = new Vm();
  const state = new MemoryState();
  const a = new Uint8Array(32);
  const loop = (n: number) => wat(`(module (func (export "run") (local $i i32)
    (loop $l (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const ${n}))))))`);
  // per iteration: local.get, i32.const, i32.add, local.tee, i32.const, i32.lt_u, br_if = 7
  const g10 = vm.call({ contract: a, caller: a, method: 'run', gasLimit: 1e6, code: loop(10) }, { state }).gasUsed;
  const g20 = vm.call({ contract: a, caller: a, method: 'run', gasLimit: 1e6, code: loop(20) }, { state }).gasUsed;
  assert.is(g20 - g10, 70);
  assert.is(g10, 70);
});

test('the stack counter is back to zero after every way out of a function', () => {
  const bytes = wat(`(module
    (func $a (result i32) (block (result i32) (return (i32.const 1))))
    (func $b (result i32) (block (br 1 (i32.const 2))) (i32.const 0))
    (func $c (result i32) (i32.const 3) (br_if 0 (i32.const 1)))
    (func $d (param i32) (result i32) (block (block (br_table 0 1 (local.get 0)))) (i32.const 5))
    (func $e (param i32) (result i32) (block (result i32) (br_table 0 1 (i32.const 7) (local.get 0))) (drop) (i32.const 6))
    (func (export "all") (result i32)
      (i32.add (i32.add (call $a) (call $b)) (i32.add (call $c) (i32.add (call $d (i32.const 2)) (call $d (i32.const 0)))))
      (i32.add (call $e (i32.const 0)) (call $e (i32.const 1))) (i32.add)))`);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(parseModule(bytes), UNLIMITED).bytes), {});
  assert.is((inst.exports.all as () => number)(), 1 + 2 + 3 + 5 + 5 + 6 + 7);
  assert.is((inst.exports.__brop_stack as WebAssembly.Global).value, 0);
});

test('frame cost counts params, locals and operand stack height', () => {
  const bytes = wat(`(module
    (func (param i64 i64) (local i32 i32 i32))
    (func (result i32) (i32.add (i32.add (i32.const 1) (i32.const 2)) (i32.add (i32.const 3) (i32.const 4)))))`);
  const { frameCosts } = instrument(parseModule(bytes), UNLIMITED);
  assert.ok(frameCosts[1]! - frameCosts[0]! === 3 - 5, `got ${frameCosts}`); // max height 3 vs 5 params+locals
});

test('memory.grow beyond the page limit returns -1 instead of growing', () => {
  const bytes = wat(`(module (memory 1) (func (export "g") (result i32) (memory.grow (i32.const 10))) (func (export "s") (result i32) (memory.size)))`);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(parseModule(bytes), { ...UNLIMITED, maxMemoryPages: 8 }).bytes), {});
  assert.is((inst.exports.g as () => number)(), -1);
  assert.is((inst.exports.s as () => number)(), 1);
});

test('bulk memory operations are charged by length', () => {
  const fill = (n: number) => wat(`(module (memory 1) (func (export "f") (memory.fill (i32.const 0) (i32.const 1) (i32.const ${n}))))`);
  const used = (n: number) => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(parseModule(fill(n)), UNLIMITED).bytes), {});
    (inst.exports.f as () => void)();
    return Number(BigInt(Number.MAX_SAFE_INTEGER) - ((inst.exports.__brop_gas as WebAssembly.Global).value as bigint));
  };
  assert.is(used(16000) - used(0), 1000); // 16 bytes per gas
});

test('instrumentation refuses exports that use the reserved prefix', () => {
  const bytes = wat(`(module (func (export "__brop_gas")))`);
  assert.throws(() => instrument(parseModule(bytes), UNLIMITED), (e: { code: string }) => e.code === 'VM_MODULE_RESERVED_NAME');
});

test.run();
