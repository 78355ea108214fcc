import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { Simulation } from '../../tooling/sim/index.ts';

const sim = new Simulation();
const c = await sim.deploy(fileURLToPath(new URL('./test/collections', import.meta.url)), { name: 'collections' });
const alice = sim.account('alice');

test('PersistentVector: push, get, set, pop, length; typed errors past the end', () => {
  assert.is(c.call('push', ['first', 3]).expectOk().value, 0);
  assert.is(c.call('push', ['second', 5]).expectOk().value, 1);
  assert.is(c.view('count').value, 2);
  c.call('setNote', [1, 'second, edited']).expectOk();
  assert.equal(c.view('noteAt', [1]).value, { text: 'second, edited', stars: 5 });
  assert.equal(c.call('pop').expectOk().value, { text: 'second, edited', stars: 5 });
  assert.is(c.view('count').value, 1);
  c.view('noteAt', [1]).expectError('INDEX_OUT_OF_RANGE');
  c.call('pop').expectOk();
  c.call('pop').expectError('EMPTY');
});

test('PersistentMap: get with fallback, set, delete, and paging in numeric key order', () => {
  assert.is(c.call('score', ['ann', 5n]).expectOk().value, 5n);
  assert.is(c.call('score', ['ann', 2n]).expectOk().value, 7n);
  assert.is(c.view('scoreOf', ['bob']).value, 0n);
  for (const name of ['bo', 'carla', 'di']) { sim.advance(1); c.call('score', [name, 1n]).expectOk(); }
  // byHeight keys are height*1000 + name length, stored big-endian: values come back in numeric order.
  assert.equal(c.view('page', [10, new Uint8Array(0)]).value, ['ann', 'bo', 'carla', 'di']);
  const firstTwo = c.view('pageKeys', [2, new Uint8Array(0)]).value as Uint8Array[];
  assert.equal(c.view('page', [10, firstTwo[1]!]).value, ['carla', 'di']);
  assert.is(c.call('removeScore', ['ann']).expectOk().value, true);
  assert.is(c.call('removeScore', ['ann']).expectOk().value, false);
  assert.is(c.view('scoreOf', ['ann']).value, 0n);
});

test('Singleton, U128 and logs', () => {
  assert.is(c.view('ownerOf').value, null);
  const r = c.call('claim', [], { as: alice }).expectOk();
  assert.equal(r.logs, [`claimed by ${alice.hex}`]);
  c.call('claim').expectError('TAKEN');
  assert.equal(c.view('ownerOf').value, alice.address);
  assert.is(c.call('add', [2n ** 100n]).expectOk().value, 2n ** 100n);
  assert.is(c.call('add', [1n]).expectOk().value, 2n ** 100n + 1n);
  c.call('add', [2n ** 128n - 1n]).expectError('AMOUNT_OVERFLOW');
});

test('every storage write lands under the contract\'s own address', () => {
  const entries = sim.state.entriesOf(c.address);
  assert.ok(entries.length > 5);
  assert.is(sim.state.entriesOf(sim.account('nobody').address).length, 0);
});

test.run();
