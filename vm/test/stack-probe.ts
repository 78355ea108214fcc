/**
 * Run in a child process with a reduced engine stack (--stack-size) by hostile.test.ts: the VM's
 * worst cases must still stop on the VM's own stack limit. Prints OK or FAIL and the outcome.
 */
import { asFixture, wat } from './fixtures.ts';
import { Vm, type CallResult } from '../vm.ts';
import { MemoryState } from '../state.ts';
const hostile = await asFixture('hostile');
const A = new Uint8Array(32).fill(0xaa);
const locals = Array(1900).fill('i64').join(' ');
const pushes = '(i64.const 1) '.repeat(60) + '(i64.add) '.repeat(59);
const big = wat(`(module (func $f (export "f") (result i64) (local ${locals}) (local.set 1899 (i64.const 3)) ${pushes} (call $f) (i64.add) (i64.add (local.get 1899))))`);
const small = wat(`(module (func $f (export "f") (result i32) (call $f)))`);
const vm = new Vm();
const fmt = (r: CallResult) => `${r.error?.code}:${r.error?.message}:${new TextDecoder().decode(r.output)}`;
const cases: Record<string, () => string> = {
  nested8: () => fmt(vm.call({ contract: A, caller: A, method: 'nestedRecurse', input: new Uint8Array([8]), gasLimit: 1e9 }, { state: new MemoryState(), code: () => hostile })),
  recurse: () => fmt(vm.call({ contract: A, caller: A, method: 'recurse', gasLimit: 1e9 }, { state: new MemoryState(), code: () => hostile })),
  big: () => fmt(vm.call({ contract: A, caller: A, method: 'f', gasLimit: 1e9, code: big }, { state: new MemoryState() })),
  small: () => fmt(vm.call({ contract: A, caller: A, method: 'f', gasLimit: 1e9, code: small }, { state: new MemoryState() })),
};
// Repeated so that the engine's optimising tier, whose frames differ, is covered too.
for (const [name, run] of Object.entries(cases)) {
  let s = '';
  try {
    for (let i = 0; i < 30; i++) {
      s = run();
      if (!/VM_STACK_OVERFLOW/.test(s) || /host engine/.test(s)) break;
    }
  } catch (e) {
    s = `THROWN ${(e as Error).message}`;
  }
  console.log(/VM_STACK_OVERFLOW/.test(s) && !/host engine/.test(s) ? `OK ${name}` : `FAIL ${name} ${s.slice(0, 160)}`);
}
