import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asFixture, wat } from './fixtures.ts';
import { Vm, type CallResult } from '../vm.ts';
import { MemoryState } from '../state.ts';

const A = new Uint8Array(32).fill(0xaa);
const hostile = await asFixture('hostile');
const GAS = 50_000_000;
/** A hang guard, not a speed target: a hostile call must end, and quickly. */
const WALL_LIMIT_MS = 10_000;

function runTwice(code: Uint8Array, method: string, input = new Uint8Array(0), gasLimit = GAS): CallResult {
  const results: CallResult[] = [];
  for (const vm of [new Vm(), new Vm()]) {
    const state = new MemoryState();
    const env = { state, code: () => code };
    const t = performance.now();
    results.push(vm.call({ contract: A, caller: A, method, input, gasLimit }, env));
    results.push(vm.call({ contract: A, caller: A, method, input, gasLimit }, env)); // reused instance
    assert.ok(performance.now() - t < 2 * WALL_LIMIT_MS, `${method} took ${performance.now() - t} ms`);
  }
  const first = results[0]!;
  for (const r of results) {
    assert.is(r.gasUsed, first.gasUsed, `${method}: gasUsed differs between runs`);
    assert.is(r.error?.code, first.error?.code);
    assert.equal(r.output, first.output);
  }
  return first;
}

function expectError(r: CallResult, code: string, gasLimit = GAS) {
  assert.not.ok(r.ok);
  assert.is(r.error!.code, code, r.error!.message);
  assert.not.match(r.error!.message, /host engine/);
  if (code === 'VM_OUT_OF_GAS') assert.is(r.gasUsed, gasLimit);
  assert.equal(r.writes, []);
}

test('infinite loop: out of gas with gasUsed equal to the limit', () => {
  expectError(runTwice(hostile, 'spin'), 'VM_OUT_OF_GAS');
});

test('unbounded recursion: the VM stack limit stops it, not the engine', () => {
  const r = runTwice(hostile, 'recurse');
  expectError(r, 'VM_STACK_OVERFLOW');
  assert.is(r.gasUsed, GAS); // a trap consumes the whole limit
});

test('unbounded recursion with big frames and deep operand stacks', () => {
  const locals = Array(1900).fill('i64').join(' ');
  const pushes = '(i64.const 1) '.repeat(60) + '(i64.add) '.repeat(59);
  const code = wat(`(module (func $f (export "f") (result i64) (local ${locals})
    (local.set 1899 (i64.const 3))
    ${pushes}
    (call $f) (i64.add) (i64.add (local.get 1899))))`);
  expectError(runTwice(code, 'f'), 'VM_STACK_OVERFLOW');
});

test('recursion at the bottom of nested cross-contract calls still meets the VM limit', () => {
  const r = runTwice(hostile, 'nestedRecurse', new Uint8Array([8]));
  assert.ok(r.ok, r.error?.message);
  assert.match(new TextDecoder().decode(r.output), /VM_STACK_OVERFLOW/);
  assert.not.match(new TextDecoder().decode(r.output), /host engine/);
});

test('deep cross-contract recursion: refused past the call depth limit', () => {
  const r = runTwice(hostile, 'selfCall');
  assert.ok(r.ok, r.error?.message);
  assert.match(new TextDecoder().decode(r.output), /VM_CALL_DEPTH/);
});

test('memory bomb: memory.grow fails at the page limit, memory stays bounded', () => {
  const r = runTwice(hostile, 'memoryBomb', undefined, 1e10);
  assert.ok(r.ok, r.error?.message);
  const vm = new Vm();
  const limit = vm.config.limits.maxMemoryPages;
  assert.ok((r.result as number) <= limit && (r.result as number) >= limit - 16, `grew ${r.result} pages`);
});

test('allocation bomb: stops with a typed error', () => {
  const r = runTwice(hostile, 'allocBomb', undefined, 1e10);
  assert.not.ok(r.ok);
  assert.ok(['VM_ABORT', 'VM_TRAP', 'VM_OUT_OF_GAS'].includes(r.error!.code), r.error!.code);
});

test('huge storage value: refused by the host limit', () => {
  expectError(runTwice(hostile, 'hugeValue'), 'VM_HOST_LIMIT');
});

test('storage write spam, host-call spam, hash spam, bulk-memory spam: out of gas', () => {
  for (const m of ['writeSpam', 'hostSpam', 'hashSpam', 'fillSpam']) expectError(runTwice(hostile, m), 'VM_OUT_OF_GAS');
});

test('iterating over many pending deletions is paid for per deletion stepped over', () => {
  expectError(runTwice(hostile, 'removeThenScan', undefined, 500_000_000), 'VM_OUT_OF_GAS', 500_000_000);
});

test('the event limit counts the whole call tree, nested calls included', () => {
  const r = runTwice(hostile, 'emitMany', new Uint8Array([1]));
  assert.ok(r.ok, r.error?.message);
  assert.is(r.result, 1); // the nested call failed at the limit...
  assert.is(r.events.length, 600); // ...and its events were dropped with it
});

test('every call pays for its contract\'s initialiser, fresh instance or not', () => {
  const code = (n: number) => wat(`(module (global $g (mut i32) (i32.const 0))
    (func (export "_initialize") (local $i i32) (loop $l (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const ${n})))))
    (func (export "f")))`);
  const small = runTwice(code(10), 'f').gasUsed, big = runTwice(code(1010), 'f').gasUsed;
  assert.is(big - small, 7000); // 1,000 more loop iterations of 7 instructions
});

test('pointers outside memory: VM_HOST_BAD_ARGUMENT', () => {
  expectError(runTwice(hostile, 'badPointer'), 'VM_HOST_BAD_ARGUMENT');
});

test('straight-line code that overruns the limit between counter tests still ends out of gas, without effects', () => {
  const body = '(drop (i32.const 1)) '.repeat(50); // 100 gas after the entry test
  const code = wat(`(module (import "brop" "storage_set" (func $set (param i32 i32 i32 i32))) (memory 1)
    (func (export "f") (block) ${body})
    (func (export "g") (block) ${body} (call $set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))))`);
  expectError(runTwice(code, 'f', undefined, 50), 'VM_OUT_OF_GAS', 50);
  expectError(runTwice(code, 'g', undefined, 50), 'VM_OUT_OF_GAS', 50);
  assert.ok(runTwice(code, 'g', undefined, 10_000).ok);
});

test('engine traps are typed: unreachable, division by zero, out-of-bounds access', () => {
  const code = wat(`(module (memory 1)
    (func (export "u") unreachable)
    (func (export "d") (result i32) (i32.div_u (i32.const 1) (i32.const 0)))
    (func (export "m") (result i32) (i32.load (i32.const 70000))))`);
  for (const m of ['u', 'd', 'm']) expectError(runTwice(code, m), 'VM_TRAP');
});



test('the VM\'s worst-case stack use fits in a third of the engine\'s default stack', async () => {
  // Node's default V8 stack is 984 KB; with 300 KB every worst case must still end on the VM's own limit.
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const probe = fileURLToPath(new URL('./stack-probe.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--stack-size=300', probe], { encoding: 'utf8', timeout: 120_000 });
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 4, r.stdout + r.stderr);
  for (const l of lines) assert.match(l, /^OK /, l);
});
test.run();
