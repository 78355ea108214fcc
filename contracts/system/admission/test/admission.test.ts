import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkMatrix, world, type World } from '../../test-helpers.ts';
import { documentDigest } from '../../../../tooling/sim/system.ts';
import { PERM, ROLE } from '../../index.ts';

const w = await world();
const { sim } = w;
const admission = (x: World) => x.sys.admission;
const zero = new Uint8Array(32);

function pendingCommand(x: World, action: string, target = x.roles.partner.address): bigint {
  return x.sys.admission.call('issueCommand', [target, action, documentDigest('order')], { as: x.roles.regulator }).expectOk().value as bigint;
}

test('permission matrix: who may call each state-changing method', () => {
  let n = 0;
  const fresh = () => sim.account(`fresh-${n++}`).address;
  checkMatrix(w, [
    { contract: admission, method: 'init', args: (x) => [x.roles.user.address, documentDigest('x')], allowed: [], denied: 'ALREADY_INITIALISED' },
    { contract: admission, method: 'transferOperator', args: (x) => [x.roles.user.address, documentDigest('new operator')], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: admission, method: 'admitPartner', args: () => [fresh(), 'p2', PERM.evidence, documentDigest('p2')], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: admission, method: 'setPermissions', args: (x) => [x.roles.partner.address, PERM.evidence], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: admission, method: 'registerRegulator', args: () => [fresh(), 'r2', documentDigest('r2')], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: admission, method: 'removeRegulator', args: (x) => [x.roles.regulator.address], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: admission, method: 'issueCommand', args: (x) => [x.roles.partner.address, 'suspend-partner', documentDigest('order')], allowed: ['regulator'], denied: 'NOT_REGULATOR' },
    { contract: admission, method: 'executeCommand', args: (x) => [pendingCommand(x, 'suspend-partner'), documentDigest('proof')], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: admission, method: 'recordExecution', args: (x) => [pendingCommand(x, 'freeze-account', x.roles.user.address), x.roles.partner.address, documentDigest('proof')], allowed: [], denied: 'NOT_SYSTEM' },
  ]);
});

test('roles and permissions are visible to everyone', () => {
  const a = w.sys.admission;
  assert.is(a.view('roleOf', [w.roles.operator.address]).value, ROLE.operator);
  assert.is(a.view('roleOf', [w.roles.partner.address]).value, ROLE.partner);
  assert.is(a.view('roleOf', [w.roles.regulator.address]).value, ROLE.regulator);
  assert.is(a.view('roleOf', [w.roles.user.address]).value, ROLE.none);
  assert.is(a.view('hasPermission', [w.roles.partner.address, PERM.evidence | PERM.voucher]).value, true);
  assert.is(a.view('hasPermission', [w.roles.user.address, PERM.evidence]).value, false);
  const p = a.view('getPartner', [w.roles.partner.address]).value as Record<string, unknown>;
  assert.is(p.name, 'partner-a');
  assert.equal(p.legalDigest, documentDigest('partner-a admission agreement')); // SPEC L1
  assert.equal((a.view('getOperator').value as Record<string, unknown>).legalDigest, documentDigest('operator agreement'));
});

test('a regulator command suspends a partner only when the operator executes it with a legal proof (S1)', () => {
  const snap = sim.snapshot();
  const a = w.sys.admission;
  const id = pendingCommand(w, 'suspend-partner');
  assert.is(a.view('hasPermission', [w.roles.partner.address, PERM.evidence]).value, true); // not yet executed
  a.call('executeCommand', [id, zero], { as: w.roles.operator }).expectError('MISSING_DIGEST');
  const r = a.call('executeCommand', [id, documentDigest('court order 7')], { as: w.roles.operator }).expectOk();
  assert.is(r.eventsNamed('command-executed').length, 1);
  assert.is(a.view('hasPermission', [w.roles.partner.address, PERM.evidence]).value, false);
  const c = a.view('getCommand', [id]).value as Record<string, unknown>;
  assert.equal(c.proofDigest, documentDigest('court order 7'));
  assert.equal(c.executedBy, w.roles.operator.address);
  assert.equal(c.regulator, w.roles.regulator.address);
  a.call('executeCommand', [id, documentDigest('again')], { as: w.roles.operator }).expectError('COMMAND_NOT_PENDING');
  const back = pendingCommand(w, 'reinstate-partner');
  a.call('executeCommand', [back, documentDigest('lifted')], { as: w.roles.operator }).expectOk();
  assert.is(a.view('hasPermission', [w.roles.partner.address, PERM.evidence]).value, true);
  sim.revert(snap);
});

test('a removed regulator\'s pending commands can no longer be executed', () => {
  const snap = sim.snapshot();
  const id = pendingCommand(w, 'suspend-partner');
  w.sys.admission.call('removeRegulator', [w.roles.regulator.address], { as: w.roles.operator }).expectOk();
  w.sys.admission.call('executeCommand', [id, documentDigest('p')], { as: w.roles.operator }).expectError('REGULATOR_REMOVED');
  sim.revert(snap);
});

test('commands against accounts are not the operator\'s to execute', () => {
  const id = pendingCommand(w, 'freeze-account', w.roles.user.address);
  w.sys.admission.call('executeCommand', [id, documentDigest('p')], { as: w.roles.operator }).expectError('WRONG_EXECUTOR');
});

test('bad input is refused with a clear code', () => {
  const a = w.sys.admission;
  const op = { as: w.roles.operator };
  const u = sim.account('new-one').address;
  a.call('admitPartner', [u, '', PERM.evidence, documentDigest('x')], op).expectError('BAD_NAME');
  a.call('admitPartner', [u, 'n', 0, documentDigest('x')], op).expectError('BAD_PERMISSIONS');
  a.call('admitPartner', [u, 'n', 8, documentDigest('x')], op).expectError('BAD_PERMISSIONS');
  a.call('admitPartner', [u, 'n', PERM.evidence, zero], op).expectError('MISSING_DIGEST');
  a.call('admitPartner', [w.roles.partner.address, 'n', PERM.evidence, documentDigest('x')], op).expectError('ALREADY_ADMITTED');
  a.call('admitPartner', [w.roles.regulator.address, 'n', PERM.evidence, documentDigest('x')], op).expectError('ROLE_CONFLICT');
  a.call('registerRegulator', [w.roles.partner.address, 'n', documentDigest('x')], op).expectError('ROLE_CONFLICT');
  a.call('issueCommand', [w.roles.user.address, 'suspend-partner', documentDigest('o')], { as: w.roles.regulator }).expectError('UNKNOWN_PARTNER');
  a.call('issueCommand', [w.roles.user.address, 'explode', documentDigest('o')], { as: w.roles.regulator }).expectError('UNKNOWN_ACTION');
  a.call('executeCommand', [999n, documentDigest('p')], op).expectError('UNKNOWN_COMMAND');
  a.call('registerRegulator', [w.roles.operator.address, 'self', documentDigest('x')], op).expectError('ROLE_CONFLICT');
  a.call('transferOperator', [w.roles.partner.address, documentDigest('x')], op).expectError('ROLE_CONFLICT');
  a.call('issueCommand', [w.roles.user.address, 'freeze-holder', documentDigest('o')], { as: w.roles.regulator }).expectError('UNKNOWN_ACTION');
});

test('the operator role can be handed over, and only then the new operator acts', () => {
  const snap = sim.snapshot();
  const a = w.sys.admission;
  const next = sim.account('operator-2');
  a.call('transferOperator', [next.address, documentDigest('op2')], { as: w.roles.operator }).expectOk();
  a.call('admitPartner', [sim.account('x').address, 'x', PERM.evidence, documentDigest('x')], { as: w.roles.operator }).expectError('NOT_OPERATOR');
  a.call('admitPartner', [sim.account('x').address, 'x', PERM.evidence, documentDigest('x')], { as: next }).expectOk();
  sim.revert(snap);
});

test.run();
