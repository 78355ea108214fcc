import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wat } from './fixtures.ts';
import { Vm } from '../vm.ts';
import { VmError } from '../errors.ts';

const vm = new Vm();

function refused(bytes: Uint8Array, code: string, message?: RegExp): void {
  try {
    vm.prepare(bytes);
  } catch (e) {
    assert.instance(e, VmError);
    assert.is((e as VmError).code, code, (e as Error).message);
    if (message) assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`module was accepted, expected ${code}`);
}

test('accepts a module that uses only the host API', () => {
  const p = vm.prepare(wat(`(module (import "brop" "input_len" (func (result i32))) (import "env" "abort" (func (param i32 i32 i32 i32))) (memory 1) (func (export "f")))`));
  assert.ok(p.exports.has('f'));
});

test('refuses imports outside the host API', () => {
  refused(wat(`(module (import "env" "seed" (func (result f64))))`), 'VM_MODULE_FORBIDDEN_IMPORT', /env\.seed/);
  refused(wat(`(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))`), 'VM_MODULE_FORBIDDEN_IMPORT');
  refused(wat(`(module (import "brop" "toString" (func)))`), 'VM_MODULE_FORBIDDEN_IMPORT');
});

test('refuses a host import with the wrong signature', () => {
  refused(wat(`(module (import "brop" "input_len" (func (result i64))))`), 'VM_MODULE_FORBIDDEN_IMPORT', /signature/);
});

test('refuses imported memories, tables and globals', () => {
  refused(wat(`(module (import "env" "memory" (memory 1)))`), 'VM_MODULE_FORBIDDEN_IMPORT');
  refused(wat(`(module (import "env" "t" (table 1 funcref)))`), 'VM_MODULE_FORBIDDEN_IMPORT');
  refused(wat(`(module (import "env" "g" (global i32)))`), 'VM_MODULE_FORBIDDEN_IMPORT');
});

test('refuses a start function', () => {
  refused(wat(`(module (func $s) (start $s))`), 'VM_MODULE_FORBIDDEN', /start/);
});

test('refuses threads: shared memory and atomics', () => {
  refused(wat(`(module (memory 1 1 shared))`, { validate: false }), 'VM_MODULE_UNSUPPORTED', /threads/);
  refused(wat(`(module (memory 1 1 shared) (func (result i32) (i32.atomic.load (i32.const 0))))`, { validate: false }), 'VM_MODULE_UNSUPPORTED', /threads/);
});

test('refuses SIMD', () => {
  refused(wat(`(module (func (result i32) (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))`), 'VM_MODULE_UNSUPPORTED', /SIMD/);
  refused(wat(`(module (func (param v128)))`), 'VM_MODULE_UNSUPPORTED');
});

test('refuses memory and tables above the limits, and oversized code', () => {
  const small = new Vm({ limits: { ...vm.config.limits, maxMemoryPages: 4, maxTableElements: 10, maxCodeBytes: 200 } });
  const expect = (src: string, re: RegExp) => {
    try { small.prepare(wat(src)); assert.unreachable('accepted'); } catch (e) {
      assert.is((e as VmError).code, 'VM_MODULE_LIMIT');
      assert.match((e as Error).message, re);
    }
  };
  expect(`(module (memory 5))`, /memory/);
  expect(`(module (table 11 funcref))`, /table/);
  expect(`(module (func ${'(nop)'.repeat(300)}))`, /code/);
});

test('refuses too many locals in a function', () => {
  const small = new Vm({ limits: { ...vm.config.limits, maxFunctionLocals: 100 } });
  try { small.prepare(wat(`(module (func (local ${'i64 '.repeat(101)})))`)); assert.unreachable('accepted'); } catch (e) {
    assert.is((e as VmError).code, 'VM_MODULE_LIMIT');
  }
});

test('refuses instructions that mutate tables or segments at run time', () => {
  refused(wat(`(module (table 1 funcref) (func (table.set 0 (i32.const 0) (ref.null func))))`), 'VM_MODULE_FORBIDDEN', /table\.set/);
  refused(wat(`(module (memory 1) (data "x") (func (data.drop 0)))`), 'VM_MODULE_FORBIDDEN', /data\.drop/);
  refused(wat(`(module (table 1 funcref) (func (drop (table.grow 0 (ref.null func) (i32.const 1)))))`), 'VM_MODULE_FORBIDDEN');
});

test('refuses reserved export names and a malformed _initialize', () => {
  refused(wat(`(module (func (export "__brop_reset")))`), 'VM_MODULE_RESERVED_NAME');
  refused(wat(`(module (func (export "_initialize") (param i32)))`), 'VM_MODULE_FORBIDDEN');
});

test('a failing _initialize refuses the module at preparation', () => {
  refused(wat(`(module (func (export "_initialize") unreachable))`), 'VM_MODULE_INIT_FAILED', /VM_TRAP/);
  refused(wat(`(module (func (export "_initialize") (loop (br 0))))`), 'VM_MODULE_INIT_FAILED', /VM_OUT_OF_GAS/);
});

test('malformed bytes get VM_MODULE_MALFORMED, type errors VM_MODULE_INVALID', () => {
  refused(new Uint8Array([1, 2, 3]), 'VM_MODULE_MALFORMED');
  refused(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]), 'VM_MODULE_MALFORMED');
  refused(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 0xff]), 'VM_MODULE_MALFORMED');
  // (func (result i32)) with an empty body: structurally fine, but a type error.
  refused(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 10, 4, 1, 2, 0, 0x0b]), 'VM_MODULE_INVALID');
});

function leb(n: number): number[] {
  const o: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n);
  return o;
}
const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];

test('refuses typed-function-reference encodings that would make the decoder see other code than the engine', () => {
  // block (result (ref null 2)) hides a loop from the metering: the engine runs it, the decoder would see a load.
  const types = [41, ...Array(41).fill([0x60, 0, 0]).flat()];
  const body = [0, 0x02, 0x63, 0x02, 0x01, 0x02, 0x63, 0x28, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0xd0, 0x28, 0x0b, 0x1a, 0xd0, 0x02, 0x0b, 0x1a, 0x0b];
  const hiddenLoop = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, types), ...section(3, [1, 0]), ...section(5, [1, 0, 1]),
    ...section(7, [1, 1, 0x66, 0, 0]), ...section(10, [1, ...leb(body.length), ...body])]);
  assert.ok(WebAssembly.validate(hiddenLoop), 'the engine accepts it');
  refused(hiddenLoop, 'VM_MODULE_UNSUPPORTED', /typed function references/);
  // select (result (ref null 32)) hides a table.set from the deployment rules.
  const t2 = [33, ...Array(33).fill([0x60, 0, 0]).flat()];
  const f = [0, 0x41, 0x00, 0xd0, 0x20, 0xd0, 0x20, 0x41, 0x01, 0x1c, 0x01, 0x63, 0x20, 0x26, 0x00, 0x0b];
  const hiddenTableSet = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, t2), ...section(3, [1, 0]),
    ...section(4, [1, 0x70, 0x00, 0x01]), ...section(7, [1, 1, 0x66, 0, 0]), ...section(10, [1, ...leb(f.length), ...f])]);
  assert.ok(WebAssembly.validate(hiddenTableSet), 'the engine accepts it');
  refused(hiddenTableSet, 'VM_MODULE_UNSUPPORTED');
});

test('fuzz: truncated and mutated modules never crash the decoder, only typed errors', async () => {
  const { asFixture } = await import('./fixtures.ts');
  const base = await asFixture('storage');
  let seed = 42;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const fuzzVm = new Vm({ cacheSize: 1 });
  let typed = 0, accepted = 0;
  for (let i = 0; i < 600; i++) {
    let bytes: Uint8Array;
    if (i % 3 === 0) bytes = base.slice(0, rand(base.length));
    else {
      bytes = base.slice();
      for (let k = 0, n = 1 + rand(4); k < n; k++) bytes[rand(bytes.length)] = rand(256);
    }
    try {
      fuzzVm.prepare(bytes);
      accepted++;
    } catch (e) {
      if (!(e instanceof VmError)) throw new Error(`iteration ${i}: untyped error ${(e as Error)?.stack}`);
      typed++;
    }
  }
  assert.ok(typed > 100, `typed ${typed}, accepted ${accepted}`);
});

test.run();
