import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asFixture } from './fixtures.ts';
import { Vm, type CallResult } from '../vm.ts';
import { MemoryState } from '../state.ts';

const A = new Uint8Array(32).fill(0xaa);
const compute = await asFixture('compute');
const storage = await asFixture('storage');

const snapshot = (r: CallResult) => JSON.stringify({ ...r, result: String(r.result), error: r.error?.toJSON() ?? null },
  (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

test('the same call gives identical result, gasUsed, events and writes on every run and every VM', () => {
  const calls: Array<[Uint8Array, string, Uint8Array]> = [
    [compute, 'mix', new Uint8Array(0)], [compute, 'sortNumbers', new Uint8Array(0)], [compute, 'floats', new Uint8Array(0)],
    [storage, 'increment', new Uint8Array(0)], [storage, 'writeMany', new Uint8Array([50, 0, 0, 0])],
    [storage, 'fail', new Uint8Array(0)],
  ];
  for (const [code, method, input] of calls) {
    const seen = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const vm = new Vm();
      for (let k = 0; k < 3; k++) seen.add(snapshot(vm.call({ contract: A, caller: A, method, input, gasLimit: 100_000_000, code }, { state: new MemoryState() })));
    }
    assert.is(seen.size, 1, `${method} gave ${seen.size} different outcomes`);
  }
});

test('isolation: every call starts from fresh globals and memory, even after traps and memory growth', () => {
  const vm = new Vm();
  const env = { state: new MemoryState() };
  const call = (method: string, gasLimit = 100_000_000) => vm.call({ contract: A, caller: A, method, gasLimit, code: compute }, env);
  for (let i = 0; i < 5; i++) assert.is(call('counter').result, 1);
  assert.is(call('mix', 1000).error!.code, 'VM_OUT_OF_GAS'); // interrupted mid-call
  assert.is(call('counter').result, 1);
  assert.ok(call('bulk').ok); // grows memory: that instance is dropped
  assert.is(call('counter').result, 1);
});

test('gas figures do not depend on instance reuse', () => {
  const vm = new Vm();
  const env = { state: new MemoryState() };
  const used = () => vm.call({ contract: A, caller: A, method: 'sieve', gasLimit: 100_000_000, code: compute }, env).gasUsed;
  const first = used();
  for (let i = 0; i < 5; i++) assert.is(used(), first);
});

test.run();
