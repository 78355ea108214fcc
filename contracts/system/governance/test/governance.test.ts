import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { world } from '../../test-helpers.ts';
import { documentDigest } from '../../../../tooling/sim/system.ts';
import { systemAddress } from '../../index.ts';

const w = await world();
const { sim, sys } = w;
const [v1, v2, v3, v4] = sys.validators as [typeof w.roles.user, typeof w.roles.user, typeof w.roles.user, typeof w.roles.user];
const g = sys.governance;
const KIND = { add: 1, remove: 2, upgrade: 3 };
const newCode = new Uint8Array(createHash('sha256').update('evidence v2 wasm').digest());
const hexes = (xs: Uint8Array[]) => xs.map((x) => Buffer.from(x).toString('hex'));

test('permission: only validators propose and vote; init happens once', () => {
  for (const role of ['operator', 'partner', 'regulator', 'user'] as const) {
    g.call('propose', [KIND.add, w.roles.user.address, new Uint8Array(32), 100n, documentDigest('p')], { as: w.roles[role] }).expectError('NOT_VALIDATOR');
  }
  const id = g.call('propose', [KIND.add, sim.account('validator-5').address, new Uint8Array(32), 100n, documentDigest('add v5')], { as: v1 }).expectOk().value;
  g.call('vote', [id, true], { as: w.roles.operator }).expectError('NOT_VALIDATOR');
  g.call('init', [[w.roles.user.address]], { as: w.roles.operator }).expectError('ALREADY_INITIALISED');
});

test('C7: a validator joins with more than 2/3 of the votes, at the stated height', () => {
  const snap = sim.snapshot();
  const v5 = sim.account('validator-5');
  const at = sim.height + 10n;
  const id = g.call('propose', [KIND.add, v5.address, new Uint8Array(32), at, documentDigest('add v5')], { as: v1 }).expectOk().value;
  assert.is(g.call('vote', [id, true], { as: v1 }).expectOk().value, 1); // 1 of 4: open
  g.call('vote', [id, true], { as: v1 }).expectError('ALREADY_VOTED');
  assert.is(g.call('vote', [id, true], { as: v2 }).expectOk().value, 1); // 2 of 4 = 1/2: open
  assert.is(g.call('vote', [id, true], { as: v3 }).expectOk().value, 2); // 3 of 4 > 2/3: passed
  g.call('vote', [id, true], { as: v4 }).expectError('NOT_OPEN');
  assert.is((g.view('validators').value as unknown[]).length, 4); // not before the height
  sim.advance(10);
  assert.equal(hexes(g.view('validators').value as Uint8Array[]), hexes([v1, v2, v3, v4, v5].map((v) => v.address)));
  assert.is((g.view('validatorsAtHeight', [at - 1n]).value as unknown[]).length, 4);
  sim.revert(snap);
});

test('C7: two of four against means a proposal can no longer pass', () => {
  const snap = sim.snapshot();
  const id = g.call('propose', [KIND.remove, v4.address, new Uint8Array(32), sim.height + 5n, documentDigest('remove v4')], { as: v1 }).expectOk().value;
  assert.is(g.call('vote', [id, false], { as: v2 }).expectOk().value, 1);
  assert.is(g.call('vote', [id, false], { as: v3 }).expectOk().value, 3);
  sim.revert(snap);
});

test('C7: removals passed side by side never empty the validator set', () => {
  const snap = sim.snapshot();
  const at = sim.height + 10n;
  const ids = [v1, v2, v3, v4].map((v) => g.call('propose', [KIND.remove, v.address, new Uint8Array(32), at, documentDigest(`remove ${v.name}`)], { as: v1 }).expectOk().value);
  const outcomes = ids.map((id) => { let status = 0; for (const v of [v1, v2, v3]) status = g.call('vote', [id, true], { as: v }).expectOk().value as number; return status; });
  assert.equal(outcomes, [2, 2, 2, 3]); // the fourth would leave nobody: rejected
  assert.is((g.view('validatorsAtHeight', [at]).value as unknown[]).length, 1);
  sim.revert(snap);
});

test('S2: system-contract upgrades are decided by vote and recorded for the node to apply', () => {
  const snap = sim.snapshot();
  const evidence = systemAddress('evidence');
  const at = sim.height + 20n;
  g.call('propose', [KIND.upgrade, evidence, new Uint8Array(32), at, documentDigest('fix')], { as: v2 }).expectError('BAD_CODE_HASH');
  const id = g.call('propose', [KIND.upgrade, evidence, newCode, at, documentDigest('emergency patch')], { as: v2 }).expectOk().value;
  for (const v of [v1, v2, v3]) g.call('vote', [id, true], { as: v }).expectOk();
  assert.is(g.view('codeHashAt', [evidence, at - 1n]).value, null);
  assert.equal(g.view('codeHashAt', [evidence, at]).value, newCode);
  assert.is((g.view('passedChanges').value as unknown[]).length, 1);
  sim.revert(snap);
});

test('proposals are checked: kinds, heights, subjects, deadlines', () => {
  const snap = sim.snapshot();
  g.call('propose', [9, v4.address, new Uint8Array(32), sim.height + 5n, documentDigest('x')], { as: v1 }).expectError('BAD_KIND');
  g.call('propose', [KIND.add, v4.address, new Uint8Array(32), sim.height + 5n, documentDigest('x')], { as: v1 }).expectError('ALREADY_VALIDATOR');
  g.call('propose', [KIND.remove, w.roles.user.address, new Uint8Array(32), sim.height + 5n, documentDigest('x')], { as: v1 }).expectError('NOT_VALIDATOR');
  g.call('propose', [KIND.add, w.roles.user.address, new Uint8Array(32), sim.height, documentDigest('x')], { as: v1 }).expectError('BAD_HEIGHT');
  g.call('propose', [KIND.add, w.roles.user.address, new Uint8Array(32), sim.height + 5n, new Uint8Array(32)], { as: v1 }).expectError('MISSING_DIGEST');
  const id = g.call('propose', [KIND.add, w.roles.user.address, new Uint8Array(32), sim.height + 5000n, documentDigest('x')], { as: v1 }).expectOk().value;
  sim.advance(1201);
  g.call('vote', [id, true], { as: v1 }).expectError('EXPIRED');
  sim.revert(snap);
});

test.run();
