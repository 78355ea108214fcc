// The notary's own tests, run with `brop contract test examples/notary` (or `npm test`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Simulation } from 'brop/sim';

const project = fileURLToPath(new URL('..', import.meta.url));
const digestOf = (text: string) => new Uint8Array(createHash('sha256').update(text).digest());

const sim = new Simulation();
const notary = await sim.deploy(project);
const alice = sim.account('alice');
const bob = sim.account('bob');
const carol = sim.account('carol');

test('register records owner, digest, height and time, and emits an event', () => {
  sim.advance(5);
  const r = notary.call('register', ['contract-001', digestOf('the contract'), 'signed copy'], { as: alice }).expectOk();
  assert.is(r.value, sim.height);
  assert.is(r.eventsNamed('registered').length, 1);
  assert.equal(r.events[0]!.topics, ['registered', 'contract-001']);
  const n = notary.view('get', ['contract-001']).value as Record<string, unknown>;
  assert.equal(n.owner, alice.address);
  assert.equal(n.digest, digestOf('the contract'));
  assert.is(n.height, sim.height);
  assert.is(n.time, sim.time);
  assert.is(n.note, 'signed copy');
  assert.is(notary.view('countOf', [alice.address]).value, 1);
});

test('a key cannot be registered twice', () => {
  notary.call('register', ['contract-001', digestOf('other'), null], { as: bob }).expectError('ALREADY_REGISTERED');
  notary.call('register', ['', digestOf('x'), null], { as: bob }).expectError('BAD_KEY');
});

test('verify tells a matching document from an altered one', () => {
  assert.is(notary.view('verify', ['contract-001', digestOf('the contract')]).value, true);
  assert.is(notary.view('verify', ['contract-001', digestOf('the contract, altered')]).value, false);
  assert.is(notary.view('verify', ['missing', digestOf('x')]).value, false);
});

test('witnesses: anyone but the owner, once each', () => {
  assert.is(notary.call('witness', ['contract-001'], { as: bob }).expectOk().value, 1);
  assert.is(notary.call('witness', { key: 'contract-001' }, { as: carol }).expectOk().value, 2);
  notary.call('witness', ['contract-001'], { as: bob }).expectError('ALREADY_WITNESSED');
  notary.call('witness', ['contract-001'], { as: alice }).expectError('OWNER_CANNOT_WITNESS');
  notary.call('witness', ['missing'], { as: bob }).expectError('NOT_FOUND');
});

test('snapshots: what happens after one can be undone', () => {
  const snap = sim.snapshot();
  notary.call('register', ['temp', digestOf('temp'), null], { as: bob }).expectOk();
  assert.ok(notary.view('get', ['temp']).value);
  sim.revert(snap);
  assert.is(notary.view('get', ['temp']).value, null);
});

test('views cannot change state, and every call is in the gas report', () => {
  const before = sim.state.size;
  notary.view('register', ['via-view', digestOf('v'), null]).expectError('VM_HOST_BAD_ARGUMENT');
  assert.is(sim.state.size, before);
  const register = sim.gasSummary().find((g) => g.method === 'register')!;
  assert.ok(register.calls >= 3 && register.mean > 0);
});

test.run();
