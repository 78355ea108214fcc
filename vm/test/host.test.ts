import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { asFixture } from './fixtures.ts';
import { Vm, type CallRequest, type CallResult } from '../vm.ts';
import { MemoryState } from '../state.ts';

const A = new Uint8Array(32).fill(0xaa);
const B = new Uint8Array(32).fill(0xbb);
const USER = new Uint8Array(32).fill(0x11);
const storage = await asFixture('storage');
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function setup() {
  const vm = new Vm();
  const state = new MemoryState();
  const codes = new Map<string, Uint8Array>([[hex(A), storage], [hex(B), storage]]);
  const env = { state, code: (a: Uint8Array) => codes.get(hex(a)) };
  const call = (method: string, input: Uint8Array = new Uint8Array(0), extra: Partial<CallRequest> = {}): CallResult => {
    const r = vm.call({ contract: A, caller: USER, method, input, gasLimit: 10_000_000, ...extra }, env);
    if (r.ok) state.apply(r.writes);
    return r;
  };
  return { vm, state, call, env };
}

const putInput = (key: string, value: string) => new Uint8Array([key.length, ...enc(key), ...enc(value)]);

test('storage: set, get, has, remove through the journal, committed by the caller', () => {
  const { call } = setup();
  const r = call('put', putInput('color', 'blue'));
  assert.ok(r.ok, r.error?.message);
  assert.is(r.writes.length, 1);
  assert.equal(r.writes[0]!.key, enc('color'));
  assert.equal(r.writes[0]!.value, enc('blue'));
  assert.is(new TextDecoder().decode(call('get', enc('color')).output), 'blue');
  assert.is(call('has', enc('color')).result, 1);
  assert.is(call('has', enc('size')).result, 0);
  assert.is(call('remove', enc('color')).result, 1);
  assert.is(call('get', enc('color')).output.length, 0);
  assert.is(call('remove', enc('color')).result, 0);
});

test('storage_get with a small buffer reports the full length so the contract can retry', () => {
  const { call } = setup();
  const long = 'x'.repeat(100);
  call('put', putInput('k', long));
  assert.is(new TextDecoder().decode(call('get', enc('k')).output), long);
});

test('storage_next iterates a prefix in key order, seeing the call\'s own pending writes', () => {
  const { call } = setup();
  for (const k of ['b2', 'a1', 'b1', 'c1', 'b3']) call('put', putInput(k, 'v'));
  call('remove', enc('b2'));
  const out = call('list', enc('b')).output;
  const keys: string[] = [];
  for (let i = 0; i < out.length;) { keys.push(new TextDecoder().decode(out.subarray(i + 1, i + 1 + out[i]!))); i += 1 + out[i]!; }
  assert.equal(keys, ['b1', 'b3']);
});

test('storage is namespaced by contract address', () => {
  const { call } = setup();
  call('put', putInput('k', 'from A'));
  assert.is(call('get', enc('k'), { contract: B }).output.length, 0);
});

test('storage_get_at reads another contract\'s storage, pending writes of the call tree included', () => {
  const { call, vm, env } = setup();
  call('put', putInput('color', 'blue'));
  const at = (address: Uint8Array, key: string) => new Uint8Array([...address, ...enc(key)]);
  // B reads A's committed entry, read-only calls included; its own storage has no such key.
  const r = call('getAt', at(A, 'color'), { contract: B, readOnly: true });
  assert.ok(r.ok, r.error?.message);
  assert.is(new TextDecoder().decode(r.output), 'blue');
  assert.is(call('getAt', at(B, 'color'), { contract: B }).result, -1);
  // A writes "before", then calls B, which sees A's pending write.
  const method = enc('getAt');
  const fwd = new Uint8Array([...B, method.length, ...method, ...new Uint8Array(new BigInt64Array([-1n]).buffer), ...at(A, 'before')]);
  const f = call('forward', fwd);
  assert.ok(f.ok, f.error?.message);
  assert.is(new TextDecoder().decode(f.output), 'before');
  // A read costs at least as much as reading one's own storage.
  const own = vm.call({ contract: A, caller: USER, method: 'get', input: enc('color'), gasLimit: 1e7 }, env);
  const other = vm.call({ contract: B, caller: USER, method: 'getAt', input: at(A, 'color'), gasLimit: 1e7 }, env);
  assert.ok(other.gasUsed > own.gasUsed);
  // An address outside memory is the contract's mistake, reported as such.
  const bad = call('getAtPointer', new Uint8Array(new Uint32Array([0xfffffff0]).buffer));
  assert.is(bad.error?.code, 'VM_HOST_BAD_ARGUMENT');
});

test('events carry topics and data; a failed call has no writes and no events', () => {
  const { call } = setup();
  const r = call('increment');
  assert.is(r.result, 1n);
  assert.is(r.events.length, 1);
  assert.equal(r.events[0]!.topics, [enc('incremented')]);
  assert.equal(r.events[0]!.contract, A);
  assert.is(call('increment').result, 2n);
  const f = call('fail');
  assert.not.ok(f.ok);
  assert.is(f.error!.code, 'VM_REVERT');
  assert.is(f.error!.revertCode, 'COUNTER_LOCKED');
  assert.is(f.error!.message, 'the counter is locked');
  assert.equal(f.writes, []);
  assert.equal(f.events, []);
  assert.is(call('increment').result, 3n); // the revert's write never landed
});

test('AssemblyScript assertions surface as VM_ABORT with message and location', () => {
  const { call } = setup();
  const r = call('assertFails');
  assert.is(r.error!.code, 'VM_ABORT');
  assert.match(r.error!.message, /input too short at .*storage\.ts:\d+:\d+/);
});

test('context: caller, own address, transaction hash, block height and time', () => {
  const { call } = setup();
  const tx = createHash('sha256').update('tx').digest();
  const r = call('context', undefined, { txHash: tx, blockHeight: 77, blockTime: 1_700_000_000_123 });
  const o = r.output;
  assert.equal(o.subarray(0, 32), USER);
  assert.equal(o.subarray(32, 64), A);
  assert.equal(o.subarray(64, 96), new Uint8Array(tx));
  const dv = new DataView(o.buffer, o.byteOffset);
  assert.is(dv.getBigInt64(96, true), 77n);
  assert.is(dv.getBigInt64(104, true), 1_700_000_000_123n);
});

test('sha256 and sm3 match node:crypto; ed25519 verification accepts good and refuses bad signatures', () => {
  const { call } = setup();
  const msg = enc('abc');
  const h = call('hashes', msg).output;
  assert.is(hex(h.subarray(0, 32)), createHash('sha256').update(msg).digest('hex'));
  assert.is(hex(h.subarray(32)), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pk = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const m = enc('register evidence #1');
  const sig = sign(null, m, privateKey);
  assert.is(call('verify', new Uint8Array([...sig, ...pk, ...m])).result, 1);
  const bad = new Uint8Array([...sig, ...pk, ...m]);
  bad[bad.length - 1] ^= 1;
  assert.is(call('verify', bad).result, 0);
  assert.is(call('verify', new Uint8Array([...sig, ...new Uint8Array(32).fill(0xff), ...m])).result, 0);
});

function forwardInput(to: Uint8Array, method: string, gas: bigint, input: Uint8Array): Uint8Array {
  const g = new Uint8Array(8);
  new DataView(g.buffer).setBigInt64(0, gas, true);
  return new Uint8Array([...to, method.length, ...enc(method), ...g, ...input]);
}

test('cross-contract call: the callee sees the caller, its writes and events join the caller\'s', () => {
  const { call } = setup();
  const r = call('forward', forwardInput(B, 'increment', 1_000_000n, new Uint8Array(0)));
  assert.ok(r.ok, r.error?.message);
  assert.is(r.result, 0);
  assert.is(r.events.length, 1);
  assert.equal(r.events[0]!.contract, B);
  assert.equal(r.writes.map((w) => [hex(w.contract), new TextDecoder().decode(w.key)]), [[hex(A), 'before'], [hex(B), 'n']]);
  const ctx = call('forward', forwardInput(B, 'context', 1_000_000n, new Uint8Array(0))).output;
  assert.equal(ctx.subarray(0, 32), A); // the callee's caller is the calling contract
});

test('cross-contract call: a failing callee is reverted atomically and the caller learns why', () => {
  const { call } = setup();
  const r = call('forward', forwardInput(B, 'fail', 1_000_000n, new Uint8Array(0)));
  assert.ok(r.ok);
  assert.is(r.result, 1);
  assert.match(new TextDecoder().decode(r.output), /COUNTER_LOCKED/);
  assert.equal(r.writes.map((w) => hex(w.contract)), [hex(A)]); // B's write is gone, A's stays
  assert.is(r.events.length, 0);
});

test('cross-contract call: gas is forwarded and the caller pays what the callee used', () => {
  const { call } = setup();
  const little = call('forward', forwardInput(B, 'increment', 100n, new Uint8Array(0)));
  assert.ok(little.ok);
  assert.is(little.result, 1);
  assert.match(new TextDecoder().decode(little.output), /VM_OUT_OF_GAS/);
  const direct = call('increment', undefined, { contract: B }).gasUsed;
  const viaA = call('forward', forwardInput(B, 'increment', 1_000_000n, new Uint8Array(0))).gasUsed;
  assert.ok(viaA > direct, `${viaA} > ${direct}`);
  const unknown = call('forward', forwardInput(new Uint8Array(32).fill(9), 'x', 1000n, new Uint8Array(0)));
  assert.match(new TextDecoder().decode(unknown.output), /VM_NO_SUCH_CONTRACT/);
});

test('read-only calls refuse state changes', () => {
  const { call } = setup();
  const r = call('put', putInput('a', 'b'), { readOnly: true });
  assert.is(r.error!.code, 'VM_HOST_BAD_ARGUMENT');
  assert.match(r.error!.message, /read-only/);
  assert.ok(call('get', enc('a'), { readOnly: true }).ok);
});

test('every call pays for the initial memory it starts from', async () => {
  const { wat } = await import('./fixtures.ts');
  const vm = new Vm();
  const env = { state: new MemoryState() };
  const gas = (pages: number) => vm.call({ contract: A, caller: USER, method: 'f', gasLimit: 1e6, code: wat(`(module (memory ${pages}) (func (export "f")))`) }, env).gasUsed;
  assert.is(gas(4) - gas(1), 3 * vm.config.costs.callMemoryPerPage);
  const r = vm.call({ contract: A, caller: USER, method: 'f', gasLimit: 100, code: wat(`(module (memory 1) (func (export "f")))`) }, env);
  assert.is(r.error!.code, 'VM_OUT_OF_GAS');
  assert.is(r.gasUsed, 100);
});

test('bad requests get VM_BAD_REQUEST or VM_NO_SUCH_EXPORT, never an exception', () => {
  const { call, vm, env } = setup();
  assert.is(call('nope').error!.code, 'VM_NO_SUCH_EXPORT');
  assert.is(call('_initialize').error!.code, 'VM_NO_SUCH_EXPORT');
  assert.is(call('__brop_reset').error!.code, 'VM_BAD_REQUEST');
  assert.is(call('put', undefined, { gasLimit: -1 }).error!.code, 'VM_BAD_REQUEST');
  assert.is(call('put', undefined, { caller: new Uint8Array(3) }).error!.code, 'VM_BAD_REQUEST');
  assert.is(call('context', undefined, { blockHeight: 1.5 }).error!.code, 'VM_BAD_REQUEST');
  assert.is(call('context', undefined, { blockTime: -1n }).error!.code, 'VM_BAD_REQUEST');
  assert.is(vm.call({ contract: new Uint8Array(32), caller: USER, method: 'x', gasLimit: 1 }, env).error!.code, 'VM_NO_SUCH_CONTRACT');
  assert.is(vm.call({ contract: A, caller: USER, method: 'x', gasLimit: 1, code: new Uint8Array([1, 2]) }, env).error!.code, 'VM_MODULE_MALFORMED');
});

test.run();
