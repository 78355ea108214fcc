import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkMatrix, world, type World } from '../../test-helpers.ts';
import { documentDigest } from '../../../../tooling/sim/system.ts';
import { PERM } from '../../index.ts';
import { HoldingsTree, holderDigest, verifyHolding } from '../holdings.ts';

const w = await world();
const { sim, sys } = w;
const voucher = (x: World) => x.sys.voucher;
const P = w.roles.partner, U = w.roles.user, OP = w.roles.operator, REG = w.roles.regulator;
const bob = sys.enrolUser('bob', P);

const coupon = sys.voucher.call('createVoucher', ['CPN', 'Coffee coupon', 'one coffee', true, 1_000_000n, P.address], { as: OP }).expectOk().value as bigint;
const ticket = sys.voucher.call('createVoucher', ['TKT', 'Concert ticket', 'seat', false, 3n, P.address], { as: OP }).expectOk().value as bigint;
sys.voucher.call('issue', [coupon, U.address, 100n], { as: P }).expectOk();
const bal = (id: bigint, a: Uint8Array) => sys.voucher.view('balanceOf', [id, a]).value as bigint;
const info = (id: bigint) => sys.voucher.view('getVoucher', [id]).value as Record<string, unknown>;

test('permission matrix: operator creates, issuer issues, holders transfer, regulators supervise', () => {
  let n = 0;
  checkMatrix(w, [
    { contract: voucher, method: 'createVoucher', args: (x) => [`S${n++}`, 'n', 'p', true, 10n, x.roles.partner.address], allowed: ['operator'], denied: 'NOT_OPERATOR' },
    { contract: voucher, method: 'setCertifiers', args: () => [coupon, []], allowed: ['partner'], denied: 'NOT_ISSUER' },
    { contract: voucher, method: 'issue', args: (x) => [coupon, x.roles.user.address, 1n], allowed: ['partner'], denied: 'NOT_ISSUER' },
    { contract: voucher, method: 'issueItem', args: (x) => [ticket, x.roles.user.address, `seat-${n++}`, ''], allowed: ['partner'], denied: 'NOT_ISSUER' },
    { contract: voucher, method: 'transfer', args: () => [coupon, bob.address, 1n], allowed: ['user'], denied: 'NOT_ELIGIBLE' },
    { contract: voucher, method: 'redeem', args: () => [coupon, 1n], allowed: ['user'], denied: 'INSUFFICIENT_BALANCE' },
    { contract: voucher, method: 'transferItem', args: () => [ticket, bob.address, 'M-1'], allowed: ['user'], denied: 'NOT_OWNER',
      setup: (x) => { x.sys.voucher.call('issueItem', [ticket, x.roles.user.address, 'M-1', ''], { as: x.roles.partner }).expectOk(); } },
    { contract: voucher, method: 'redeemItem', args: () => [ticket, 'M-1'], allowed: ['user'], denied: 'NOT_OWNER',
      setup: (x) => { x.sys.voucher.call('issueItem', [ticket, x.roles.user.address, 'M-1', ''], { as: x.roles.partner }).expectOk(); } },
    { contract: voucher, method: 'commitHoldings', args: () => [coupon, new Uint8Array(32).fill(1), 50n, 2n], allowed: ['user'], denied: 'UNDER_RESERVED' },
    { contract: voucher, method: 'setCap', args: () => [coupon, 2_000_000n], allowed: ['regulator'], denied: 'NOT_REGULATOR' },
    { contract: voucher, method: 'restrictIssuance', args: () => [coupon, true], allowed: ['regulator'], denied: 'NOT_REGULATOR' },
    { contract: voucher, method: 'freezeVoucher', args: () => [coupon, true], allowed: ['regulator'], denied: 'NOT_REGULATOR' },
    { contract: voucher, method: 'freezeHolder', args: (x) => [coupon, x.roles.user.address, true], allowed: ['regulator'], denied: 'NOT_REGULATOR' },
    { contract: voucher, method: 'setTransferLimit', args: () => [coupon, 5n, 10n], allowed: ['regulator'], denied: 'NOT_REGULATOR' },
  ]);
});

test('V1, V2: issue within the cap; transfers move balances; supply, holders and transfers are reported', () => {
  const snap = sim.snapshot();
  assert.is(bal(coupon, U.address), 100n);
  sys.voucher.call('transfer', [coupon, bob.address, 30n], { as: U }).expectOk();
  assert.is(bal(coupon, U.address), 70n);
  assert.is(bal(coupon, bob.address), 30n);
  sys.voucher.call('transfer', [coupon, bob.address, 71n], { as: U }).expectError('INSUFFICIENT_BALANCE');
  sys.voucher.call('transfer', [coupon, U.address, 1n], { as: U }).expectError('SELF_TRANSFER');
  sys.voucher.call('issue', [coupon, U.address, 999_901n], { as: P }).expectError('CAP_EXCEEDED');
  const v = info(coupon);
  assert.is(v.supply, 100n);
  assert.is(v.holderCount, 2n);
  assert.is(v.transferCount, 1n);
  sys.voucher.call('redeem', [coupon, 30n], { as: bob }).expectOk();
  assert.is(info(coupon).supply, 70n);
  assert.is(info(coupon).holderCount, 1n);
  sim.revert(snap);
});

test('V1: indivisible vouchers are unique items; transfer, redeem, and the cap counts items', () => {
  const snap = sim.snapshot();
  sys.voucher.call('issueItem', [ticket, U.address, 'A-1', 'row A seat 1'], { as: P }).expectOk();
  sys.voucher.call('issueItem', [ticket, U.address, 'A-1', ''], { as: P }).expectError('ITEM_EXISTS');
  sys.voucher.call('issue', [ticket, U.address, 1n], { as: P }).expectError('NOT_DIVISIBLE');
  sys.voucher.call('transferItem', [ticket, bob.address, 'A-1'], { as: U }).expectOk();
  assert.equal((sys.voucher.view('getItem', [ticket, 'A-1']).value as Record<string, unknown>).owner, bob.address);
  sys.voucher.call('transferItem', [ticket, U.address, 'A-1'], { as: U }).expectError('NOT_OWNER');
  sys.voucher.call('redeemItem', [ticket, 'A-1'], { as: bob }).expectOk();
  sys.voucher.call('transferItem', [ticket, U.address, 'A-1'], { as: bob }).expectError('REDEEMED');
  sys.voucher.call('issueItem', [ticket, U.address, 'A-2', ''], { as: P }).expectOk();
  sys.voucher.call('issueItem', [ticket, U.address, 'A-3', ''], { as: P }).expectOk();
  // For unique items the cap bounds what was ever issued: a redeemed seat does not free a new one.
  sys.voucher.call('issueItem', [ticket, U.address, 'A-4', ''], { as: P }).expectError('CAP_EXCEEDED');
  const t = info(ticket);
  assert.is(t.issued, 3n);
  assert.is(t.supply, 2n);
  sim.revert(snap);
});

test('V2, V3: only real-name-or-better accounts certified by partners the issuer accepts may hold', () => {
  const snap = sim.snapshot();
  const other = sys.admitPartner('other-partner', PERM.identity);
  const phoneOnly = sys.enrolUser('phone-only', P, 3);
  const elsewhere = sys.enrolUser('certified-elsewhere', other, 4);
  sys.voucher.call('issue', [coupon, phoneOnly.address, 1n], { as: P }).expectError('NOT_ELIGIBLE');
  sys.voucher.call('transfer', [coupon, elsewhere.address, 1n], { as: U }).expectError('NOT_ELIGIBLE');
  sys.voucher.call('transfer', [coupon, sim.account('no-account').address, 1n], { as: U }).expectError('NOT_ELIGIBLE');
  sys.voucher.call('setCertifiers', [coupon, [other.address]], { as: P }).expectOk();
  sys.voucher.call('transfer', [coupon, elsewhere.address, 1n], { as: U }).expectOk();
  sim.revert(snap);
});

test('V4: regulators change the cap, restrict issuance, freeze vouchers and holders, limit transfers', () => {
  const snap = sim.snapshot();
  sys.voucher.call('setCap', [coupon, 50n], { as: REG }).expectError('BAD_CAP');
  sys.voucher.call('setCap', [coupon, 150n], { as: REG }).expectOk();
  sys.voucher.call('issue', [coupon, U.address, 51n], { as: P }).expectError('CAP_EXCEEDED');
  sys.voucher.call('restrictIssuance', [coupon, true], { as: REG }).expectOk();
  sys.voucher.call('issue', [coupon, U.address, 1n], { as: P }).expectError('ISSUANCE_RESTRICTED');
  sys.voucher.call('restrictIssuance', [coupon, false], { as: REG }).expectOk();
  sys.voucher.call('freezeHolder', [coupon, U.address, true], { as: REG }).expectOk();
  sys.voucher.call('transfer', [coupon, bob.address, 1n], { as: U }).expectError('HOLDER_FROZEN');
  sys.voucher.call('freezeHolder', [coupon, U.address, false], { as: REG }).expectOk();
  sys.voucher.call('freezeVoucher', [coupon, true], { as: REG }).expectOk();
  sys.voucher.call('transfer', [coupon, bob.address, 1n], { as: U }).expectError('VOUCHER_FROZEN');
  sys.voucher.call('freezeVoucher', [coupon, false], { as: REG }).expectOk();
  sys.voucher.call('setTransferLimit', [coupon, 10n, 100n], { as: REG }).expectOk();
  sys.voucher.call('transfer', [coupon, bob.address, 8n], { as: U }).expectOk();
  sys.voucher.call('transfer', [coupon, bob.address, 3n], { as: U }).expectError('TRANSFER_LIMIT');
  sim.advance(100);
  sys.voucher.call('transfer', [coupon, bob.address, 3n], { as: U }).expectOk(); // a new period
  sim.revert(snap);
});

test('V2: a frozen account (regulator command executed by its partner) can neither send, receive, redeem nor commit', () => {
  const snap = sim.snapshot();
  const freeze = (who: typeof bob) => {
    const cmd = sys.admission.call('issueCommand', [who.address, 'freeze-account', documentDigest('order')], { as: REG }).expectOk().value;
    sys.identity.call('executeCommand', [who.address, cmd, documentDigest('proof')], { as: P }).expectOk();
  };
  freeze(bob);
  sys.voucher.call('transfer', [coupon, bob.address, 1n], { as: U }).expectError('ACCOUNT_FROZEN');
  freeze(U);
  sys.voucher.call('redeem', [coupon, 1n], { as: U }).expectError('ACCOUNT_FROZEN');
  sys.voucher.call('commitHoldings', [coupon, new Uint8Array(32).fill(1), 1n, 1n], { as: U }).expectError('ACCOUNT_FROZEN');
  sim.revert(snap);
});

test('V4: nothing is issued to a holder a regulator has frozen', () => {
  const snap = sim.snapshot();
  sys.voucher.call('freezeHolder', [coupon, bob.address, true], { as: REG }).expectOk();
  sys.voucher.call('issue', [coupon, bob.address, 1n], { as: P }).expectError('HOLDER_FROZEN');
  sys.voucher.call('issueItem', [ticket, bob.address, 'Z-1', ''], { as: P }).expectOk(); // the freeze is per voucher
  sim.revert(snap);
});

test('V5: a custodian proves full reserve; each holder verifies inclusion, anyone the total', () => {
  const snap = sim.snapshot();
  const exchange = U; // holds 100 coupons for its clients
  const clients = [['alice', 40n], ['bob', 25n], ['carol', 20n], ['dave', 10n], ['erin', 5n]] as const;
  const leaves = clients.map(([name, amount]) => ({ holder: holderDigest('exchange-salt', name), amount }));
  const tree = new HoldingsTree(leaves);
  assert.is(tree.total, 100n);
  sys.voucher.call('commitHoldings', [coupon, tree.root, tree.total + 1n, tree.leafCount], { as: exchange }).expectError('UNDER_RESERVED');
  sys.voucher.call('commitHoldings', [coupon, tree.root, tree.total, tree.leafCount], { as: exchange }).expectOk();
  leaves.forEach((leaf, i) => {
    const proof = tree.proof(i);
    assert.ok(verifyHolding(tree.root, tree.total, leaf, proof), `offline ${i}`);
    assert.is(sys.voucher.view('verifyHolding', [coupon, exchange.address, leaf.holder, leaf.amount, proof]).value, true, `on chain ${i}`);
  });
  const cheat = { ...leaves[0]!, amount: 41n };
  assert.is(sys.voucher.view('verifyHolding', [coupon, exchange.address, cheat.holder, cheat.amount, tree.proof(0)]).value, false);
  assert.not.ok(verifyHolding(tree.root, tree.total, cheat, tree.proof(0)));
  assert.is((sys.voucher.view('holdingsCommitment', [coupon, exchange.address]).value as Record<string, unknown>).total, 100n);
  // The proof stands only while the custodian still holds the total.
  sys.voucher.call('transfer', [coupon, bob.address, 1n], { as: exchange }).expectOk();
  assert.is(sys.voucher.view('verifyHolding', [coupon, exchange.address, leaves[0]!.holder, leaves[0]!.amount, tree.proof(0)]).value, false);
  sim.revert(snap);
});

test.run();
