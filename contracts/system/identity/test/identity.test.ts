import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { checkMatrix, world, type World } from '../../test-helpers.ts';
import { documentDigest, identityDigest } from '../../../../tooling/sim/system.ts';
import { PERM } from '../../index.ts';

const w = await world();
const { sim } = w;
const identity = (x: World) => x.sys.identity;
const keyOf = (s: string) => new Uint8Array(createHash('sha256').update(`key:${s}`).digest());
const LEVEL = { registered: 1, anonymous: 2, phone: 3, realName: 4, certificate: 5 };
let n = 0;
const fresh = () => sim.account(`someone-${n++}`).address;

function freezeCommand(x: World, action = 'freeze-account'): bigint {
  return x.sys.admission.call('issueCommand', [x.roles.user.address, action, documentDigest('freeze order')], { as: x.roles.regulator }).expectOk().value as bigint;
}

test('permission matrix: who may call each state-changing method', () => {
  let grantId = 0n;
  checkMatrix(w, [
    { contract: identity, method: 'createAccount', args: () => [keyOf(`k-${n++}`), null], allowed: ['partner'], denied: 'NOT_PERMITTED' },
    { contract: identity, method: 'register', args: (x, role) => [x.roles[role].key, null], allowed: ['operator', 'partner', 'regulator'], denied: 'ACCOUNT_EXISTS' },
    { contract: identity, method: 'setUserPartner', args: (x) => [x.roles.partner.address], allowed: ['user'], denied: 'UNKNOWN_ACCOUNT' },
    { contract: identity, method: 'addKey', args: () => [keyOf('extra')], allowed: ['user'], denied: 'UNKNOWN_ACCOUNT' },
    { contract: identity, method: 'removeKey', args: () => [keyOf('extra')], allowed: ['user'], denied: 'UNKNOWN_ACCOUNT',
      setup: (x) => { x.sys.identity.call('addKey', [keyOf('extra')], { as: x.roles.user }).expectOk(); } },
    { contract: identity, method: 'certify', args: (x) => [x.roles.user.address, LEVEL.phone, identityDigest('u', 's'), false], allowed: ['partner'], denied: 'NOT_PERMITTED' },
    { contract: identity, method: 'revokeCertification', args: (x) => [x.roles.user.address], allowed: ['partner'], denied: 'NOT_PERMITTED' },
    { contract: identity, method: 'setAccepted', args: () => [[fresh()]], allowed: ['partner'], denied: 'NOT_PERMITTED' },
    { contract: identity, method: 'resetKeys', args: (x) => [x.roles.user.address, [keyOf('new')], documentDigest('materials')], allowed: ['partner'], denied: 'NOT_PERMITTED' },
    { contract: identity, method: 'grant', args: () => [fresh(), fresh(), 'records', 0], allowed: ['user'], denied: 'UNKNOWN_ACCOUNT' },
    { contract: identity, method: 'revokeGrant', args: () => [grantId], allowed: ['user'], denied: 'NOT_GRANTOR',
      setup: (x) => { grantId = x.sys.identity.call('grant', [fresh(), fresh(), 'records', 0], { as: x.roles.user }).expectOk().value as bigint; } },
    { contract: identity, method: 'executeCommand', args: (x) => [x.roles.user.address, freezeCommand(x), documentDigest('proof')], allowed: ['partner'], denied: 'NOT_PERMITTED' },
  ]);
});

test('I1: an account\'s address derives from its key; it has a system id, an optional unique name, and keys', () => {
  const snap = sim.snapshot();
  const p = w.roles.partner;
  const zs = sim.account('zhang-san');
  assert.equal(w.sys.identity.view('addressOfKey', [zs.key]).value, zs.address);
  const id = w.sys.identity.call('createAccount', [zs.key, 'zhangsan'], { as: p }).expectOk().value as bigint;
  const acc = w.sys.identity.view('getAccount', [zs.address]).value as Record<string, unknown>;
  assert.is(acc.id, id);
  assert.is(acc.name, 'zhangsan');
  assert.equal(acc.userPartner, p.address);
  assert.equal((w.sys.identity.view('accountById', [id]).value as Record<string, unknown>).address, zs.address);
  assert.equal((w.sys.identity.view('accountByName', ['zhangsan']).value as Record<string, unknown>).address, zs.address);
  w.sys.identity.call('createAccount', [sim.account('other').key, 'zhangsan'], { as: p }).expectError('NAME_TAKEN');
  w.sys.identity.call('createAccount', [zs.key, null], { as: p }).expectError('ACCOUNT_EXISTS');
  w.sys.identity.call('createAccount', [new Uint8Array(32), null], { as: p }).expectError('BAD_KEYS');
  w.sys.identity.call('register', [sim.account('someone-else').key, null], { as: sim.account('mallory') }).expectError('KEY_MISMATCH');
  assert.is(w.sys.identity.view('isAuthorisedKey', [zs.address, zs.key]).value, true);
  assert.is(w.sys.identity.view('isAuthorisedKey', [zs.address, keyOf('z2')]).value, false);
  w.sys.identity.call('addKey', [keyOf('z2')], { as: zs }).expectOk();
  w.sys.identity.call('addKey', [keyOf('z2')], { as: zs }).expectError('BAD_KEYS');
  w.sys.identity.call('removeKey', [zs.key], { as: zs }).expectOk();
  w.sys.identity.call('removeKey', [keyOf('z2')], { as: zs }).expectError('LAST_KEY');
  assert.is(w.sys.identity.view('isAuthorisedKey', [zs.address, zs.key]).value, false);
  // The address stays the same after the key that made it is gone.
  assert.equal((w.sys.identity.view('getAccount', [zs.address]).value as Record<string, unknown>).address, zs.address);
  sim.revert(snap);
});

test('I1: nobody can open an account at an address whose key they do not hold (the operator\'s, say)', () => {
  const snap = sim.snapshot();
  // A partner creating an account with its own key gets its own address, never the operator's.
  w.sys.identity.call('createAccount', [w.roles.partner.key, null], { as: w.roles.partner }).expectOk();
  assert.is(w.sys.identity.view('getAccount', [w.roles.operator.address]).value, null);
  // An account at the operator's address exists only with the operator's key.
  w.sys.identity.call('createAccount', [w.roles.operator.key, null], { as: w.roles.partner }).expectOk();
  assert.is(w.sys.identity.view('isAuthorisedKey', [w.roles.operator.address, w.roles.partner.key]).value, false);
  assert.is(w.sys.identity.view('isAuthorisedKey', [w.roles.operator.address, w.roles.operator.key]).value, true);
  sim.revert(snap);
});

test('I2, I6: only a salted digest is on chain; a verifier or regulator recomputes it from the plaintext', () => {
  const u = w.roles.user.address;
  assert.is(w.sys.identity.view('verifyIdentity', [u, w.roles.partner.address, identityDigest('user-u', 'salt')]).value, true);
  assert.is(w.sys.identity.view('verifyIdentity', [u, w.roles.partner.address, identityDigest('user-u (forged)', 'salt')]).value, false);
  const certs = w.sys.identity.view('certifications', [u]).value as Array<Record<string, unknown>>;
  assert.is(certs.length, 1);
  assert.is(certs[0]!.level, LEVEL.realName);
});

test('I3, I4: several certifiers; a partner sees levels certified by itself and the partners it accepts', () => {
  const snap = sim.snapshot();
  const p2 = w.sys.admitPartner('partner-b', PERM.identity);
  const p3 = w.sys.admitPartner('partner-c', PERM.identity);
  const u = w.roles.user.address;
  w.sys.identity.call('certify', [u, LEVEL.certificate, identityDigest('user-u', 'b'), false], { as: p2 }).expectOk();
  const seenBy = (viewer: Uint8Array) => (w.sys.identity.view('standingFor', [u, viewer]).value as Record<string, unknown>).level;
  assert.is(seenBy(p3.address), 1); // p3 trusts nobody yet: registration only
  assert.is(seenBy(w.roles.partner.address), LEVEL.realName);
  w.sys.identity.call('setAccepted', [[p2.address]], { as: p3 }).expectOk();
  assert.is(seenBy(p3.address), LEVEL.certificate);
  assert.is(seenBy(new Uint8Array(32)), LEVEL.certificate); // any certifier
  assert.is((w.sys.identity.view('certifications', [u]).value as unknown[]).length, 2);
  w.sys.identity.call('revokeCertification', [u], { as: p2 }).expectOk();
  assert.is(seenBy(p3.address), 1);
  w.sys.identity.call('revokeCertification', [u], { as: p2 }).expectError('NOT_CERTIFIED');
  w.sys.identity.call('certify', [u, 6, identityDigest('u', 's'), false], { as: p2 }).expectError('BAD_LEVEL');
  sim.revert(snap);
});

test('a suspended partner\'s certifications stop counting, and count again on reinstatement', () => {
  const snap = sim.snapshot();
  const q = w.sys.admitPartner('partner-q', PERM.identity);
  const u = w.roles.user.address;
  w.sys.identity.call('certify', [u, LEVEL.certificate, identityDigest('user-u', 'q'), false], { as: q }).expectOk();
  const level = () => (w.sys.identity.view('standingWith', [u, [q.address]]).value as Record<string, unknown>).level;
  assert.is(level(), LEVEL.certificate);
  const order = (action: string) => w.sys.admission.call('issueCommand', [q.address, action, documentDigest('order')], { as: w.roles.regulator }).expectOk().value;
  w.sys.admission.call('executeCommand', [order('suspend-partner'), documentDigest('proof')], { as: w.roles.operator }).expectOk();
  assert.is(level(), 1);
  w.sys.admission.call('executeCommand', [order('reinstate-partner'), documentDigest('proof')], { as: w.roles.operator }).expectOk();
  assert.is(level(), LEVEL.certificate);
  sim.revert(snap);
});

test('I3: evidence is allowed from phone-verified users, and from anonymous ones only when a partner vouches', () => {
  const snap = sim.snapshot();
  const anon = w.sys.enrolUser('anon-1', w.roles.partner, LEVEL.anonymous);
  const vouched = w.sys.enrolUser('anon-2', w.roles.partner, LEVEL.anonymous, { vouchesEvidence: true });
  const allowed = (a: Uint8Array) => (w.sys.identity.view('standingFor', [a, new Uint8Array(32)]).value as Record<string, unknown>).evidenceAllowed;
  assert.is(allowed(anon.address), false);
  assert.is(allowed(vouched.address), true);
  assert.is(allowed(w.roles.user.address), true);
  assert.is(allowed(sim.account('nobody').address), false);
  sim.revert(snap);
});

test('I5: a certifying partner resets lost keys, registering the materials digest; address stays', () => {
  const snap = sim.snapshot();
  const u = w.roles.user.address;
  const other = w.sys.admitPartner('partner-x', PERM.identity);
  w.sys.identity.call('resetKeys', [u, [keyOf('new')], documentDigest('m')], { as: other }).expectError('NOT_USERS_PARTNER');
  // Certifying the account does not make a partner the user's partner: no takeover by certification.
  w.sys.identity.call('certify', [u, 1, identityDigest('x', 'y'), false], { as: other }).expectOk();
  w.sys.identity.call('resetKeys', [u, [keyOf('evil')], documentDigest('m')], { as: other }).expectError('NOT_USERS_PARTNER');
  w.sys.identity.call('resetKeys', [u, [keyOf('new')], new Uint8Array(32)], { as: w.roles.partner }).expectError('MISSING_DIGEST');
  w.sys.identity.call('resetKeys', [u, [keyOf('new')], documentDigest('application + id scan')], { as: w.roles.partner }).expectOk();
  assert.is(w.sys.identity.view('isAuthorisedKey', [u, w.roles.user.key]).value, false);
  assert.is(w.sys.identity.view('isAuthorisedKey', [u, keyOf('new')]).value, true);
  // The user may choose another partner that certified it as its user partner.
  w.sys.identity.call('setUserPartner', [sim.account('nobody').address], { as: w.roles.user }).expectError('NOT_CERTIFIER');
  w.sys.identity.call('setUserPartner', [other.address], { as: w.roles.user }).expectOk();
  w.sys.identity.call('resetKeys', [u, [keyOf('newer')], documentDigest('m2')], { as: other }).expectOk();
  const history = w.sys.identity.view('keyResets', [u]).value as Array<Record<string, unknown>>;
  assert.equal(history[0]!.materialsDigest, documentDigest('application + id scan'));
  assert.equal((w.sys.identity.view('getAccount', [u]).value as Record<string, unknown>).address, u);
  sim.revert(snap);
});

test('I7: a user grants an institution access to data another party holds; revocable, with expiry', () => {
  const snap = sim.snapshot();
  const u = w.roles.user;
  const hospital = sim.account('hospital-b').address;
  const records = sim.account('hospital-a').address;
  const g = (scope = 'medical-records') => w.sys.identity.view('isGranted', [u.address, hospital, records, scope]).value;
  assert.is(g(), false);
  const id = w.sys.identity.call('grant', [hospital, records, 'medical-records', sim.time + 3_600_000n], { as: u }).expectOk().value;
  assert.is(g(), true);
  assert.is(g('billing'), false);
  sim.advance(1, 3_600_001);
  assert.is(g(), false); // expired
  const id2 = w.sys.identity.call('grant', [hospital, records, 'medical-records', 0], { as: u }).expectOk().value;
  assert.is(g(), true);
  w.sys.identity.call('revokeGrant', [id2], { as: u }).expectOk();
  assert.is(g(), false);
  w.sys.identity.call('revokeGrant', [id2], { as: u }).expectError('ALREADY_REVOKED');
  w.sys.identity.call('grant', [hospital, records, 'x', sim.time - 1n], { as: u }).expectError('BAD_EXPIRY');
  assert.ok(id);
  sim.revert(snap);
});

test('S3: a regulator command against a user is executed by the user\'s partner, with proof recorded', () => {
  const snap = sim.snapshot();
  const u = w.roles.user.address;
  const id = freezeCommand(w);
  const stranger = w.sys.admitPartner('partner-s', PERM.identity);
  w.sys.identity.call('executeCommand', [u, id, documentDigest('p')], { as: stranger }).expectError('NOT_USERS_PARTNER');
  w.sys.identity.call('executeCommand', [u, id, new Uint8Array(32)], { as: w.roles.partner }).expectError('COMMAND_REFUSED');
  w.sys.identity.call('executeCommand', [u, id, documentDigest('execution record')], { as: w.roles.partner }).expectOk();
  assert.is((w.sys.identity.view('getAccount', [u]).value as Record<string, unknown>).frozen, true);
  assert.is(w.sys.identity.view('isAuthorisedKey', [u, w.roles.user.key]).value, false);
  w.sys.identity.call('addKey', [keyOf('sneaky')], { as: w.roles.user }).expectError('ACCOUNT_FROZEN');
  const c = w.sys.admission.view('getCommand', [id]).value as Record<string, unknown>;
  assert.equal(c.executedBy, w.roles.partner.address);
  assert.equal(c.proofDigest, documentDigest('execution record'));
  w.sys.identity.call('grant', [sim.account('h').address, sim.account('r').address, 's', 0], { as: w.roles.user }).expectError('ACCOUNT_FROZEN');
  w.sys.identity.call('executeCommand', [u, id, documentDigest('again')], { as: w.roles.partner }).expectError('COMMAND_REFUSED');
  const lift = freezeCommand(w, 'unfreeze-account');
  w.sys.identity.call('executeCommand', [u, lift, documentDigest('lifted')], { as: w.roles.partner }).expectOk();
  assert.is((w.sys.identity.view('getAccount', [u]).value as Record<string, unknown>).frozen, false);
  sim.revert(snap);
});

test.run();
