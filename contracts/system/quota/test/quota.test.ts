import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkMatrix, world, type World } from '../../test-helpers.ts';
import { SYSTEM_CALLER } from '../../../../tooling/sim/system.ts';

const w = await world();
const { sim, sys } = w;
const quota = (x: World) => x.sys.quota;
const schedule = { base: 100n, perByte: 1n, perKiloGas: 1n, periodBlocks: 1200n, operatorAllowance: 100_000_000n, partnerAllowance: 10_000_000n, regulatorAllowance: 1_000_000n, userAllowance: 100_000n };

test('permission matrix: the operator sets schedules and allowances; only the system charges', () => {
  checkMatrix(w, [
    { contract: quota, method: 'setSchedule', args: () => [schedule], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: quota, method: 'setAllowance', args: (x) => [x.roles.user.address, 5000n], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: quota, method: 'charge', args: (x) => [x.roles.user.address, 100n, 1000n], allowed: [], denied: 'NOT_SYSTEM' },
  ]);
});

test('Q1, Q3: a transaction costs base + per byte + per 1,000 gas; the payer is charged by role allowance', () => {
  const snap = sim.snapshot();
  assert.is(sys.quota.view('cost', [200n, 5500n]).value, 100n + 200n + 6n);
  // Saturating, not wrapping: a huge request costs everything and nobody can pay it.
  const max = (1n << 64n) - 1n;
  assert.is(sys.quota.view('cost', [max, max]).value, max);
  assert.is(sys.quota.view('cost', [0n, max]).value, 100n + (max + 999n) / 1000n);
  assert.is(sys.quota.view('canPay', [w.roles.operator.address, max, 0n]).value, false);
  const u = w.roles.user.address;
  assert.is(sys.quota.view('balanceOf', [u]).value, 100_000n);
  assert.is(sys.quota.view('balanceOf', [w.roles.partner.address]).value, 10_000_000n);
  assert.equal(sys.quota.call('charge', [u, 200n, 5500n], { as: SYSTEM_CALLER }).expectOk().value, { cost: 306n, charged: 306n });
  assert.is(sys.quota.view('balanceOf', [u]).value, 100_000n - 306n);
  assert.is(sys.quota.view('canPay', [u, 99_000n, 0n]).value, true);
  assert.is(sys.quota.view('canPay', [u, 100_000n, 0n]).value, false);
  // More than is left: what is left is taken, and the node learns it fell short.
  assert.equal(sys.quota.call('charge', [u, 100_000n, 0n], { as: SYSTEM_CALLER }).expectOk().value, { cost: 100_100n, charged: 100_000n - 306n });
  assert.is(sys.quota.view('balanceOf', [u]).value, 0n);
  assert.equal(sys.quota.call('charge', [u, 10n, 0n], { as: SYSTEM_CALLER }).expectOk().value, { cost: 110n, charged: 0n });
  sim.revert(snap);
});

test('chargeAll: the same charges and balances as one charge per transaction, shortfalls included', () => {
  const snap = sim.snapshot();
  const u = w.roles.user.address, p = w.roles.partner.address;
  sys.quota.call('setAllowance', [u, 1000n], { as: w.roles.operator }).expectOk();
  const requests: Array<[Uint8Array, bigint, bigint]> = [[u, 200n, 5500n], [p, 100n, 0n], [u, 500n, 0n], [p, 0n, 2001n], [u, 200n, 0n], [u, 10n, 0n]];
  const before = sim.snapshot();
  const one = requests.map((r) => sys.quota.call('charge', r, { as: SYSTEM_CALLER }).expectOk().value);
  const balances = [sys.quota.view('balanceOf', [u]).value, sys.quota.view('balanceOf', [p]).value];
  sim.revert(before);
  const all = sys.quota.call('chargeAll', [requests.map(([payer, bytes, gas]) => ({ payer, bytes, gas }))], { as: SYSTEM_CALLER }).expectOk().value;
  assert.equal(all, one);
  assert.equal(one.at(-2), { cost: 300n, charged: 1000n - 306n - 600n }); // fell short: what was left
  assert.equal([sys.quota.view('balanceOf', [u]).value, sys.quota.view('balanceOf', [p]).value], balances);
  sys.quota.call('chargeAll', [[{ payer: u, bytes: 1n, gas: 0n }]], { as: w.roles.operator }).expectError('NOT_SYSTEM');
  sim.revert(snap);
});

test('Q2: points refill every period and do not accumulate', () => {
  const snap = sim.snapshot();
  const u = w.roles.user.address;
  sys.quota.call('setSchedule', [{ ...schedule, periodBlocks: 10n, userAllowance: 1000n }], { as: w.roles.operator }).expectOk();
  sys.quota.call('charge', [u, 800n, 0n], { as: SYSTEM_CALLER }).expectOk();
  assert.is(sys.quota.view('balanceOf', [u]).value, 100n);
  assert.equal(sys.quota.call('charge', [u, 200n, 0n], { as: SYSTEM_CALLER }).expectOk().value, { cost: 300n, charged: 100n });
  sim.advance(10);
  assert.is(sys.quota.view('balanceOf', [u]).value, 1000n);
  sim.advance(30); // idle periods do not pile up
  assert.is(sys.quota.view('balanceOf', [u]).value, 1000n);
  sim.revert(snap);
});

test('the simulation kit reports the quota points of every call', () => {
  const before = sim.gasReport.length;
  sys.evidence.call('register', ['quota-report-doc', new Uint8Array(32).fill(7), '', null, null], { as: w.roles.partner }).expectOk();
  const report = sim.quotaReport().slice(before);
  assert.is(report.length, 1);
  const r = report[0]!;
  assert.is(r.points, 100n + BigInt(r.inputBytes) + BigInt(Math.ceil(r.gasUsed / 1000)));
});

test('per-account allowances override the role; points cannot be transferred', () => {
  const snap = sim.snapshot();
  sys.quota.call('setAllowance', [w.roles.user.address, 7n], { as: w.roles.operator }).expectOk();
  assert.is(sys.quota.view('balanceOf', [w.roles.user.address]).value, 7n);
  sys.quota.call('setAllowance', [w.roles.user.address, 0n], { as: w.roles.operator }).expectOk();
  assert.is(sys.quota.view('balanceOf', [w.roles.user.address]).value, 100_000n);
  assert.not.ok(sys.quota.abi.methods.some((m) => /transfer|send|give/i.test(m.name)), 'no method moves points between accounts');
  sys.quota.call('setSchedule', [{ ...schedule, periodBlocks: 0n }], { as: w.roles.operator }).expectError('BAD_SCHEDULE');
  sim.revert(snap);
});

test.run();
