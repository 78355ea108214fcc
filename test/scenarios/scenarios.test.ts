// The SPEC's end-to-end scenarios, each through the real system contracts in the simulation kit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Simulation } from '../../tooling/sim/index.ts';
import { deploySystem, identityDigest } from '../../tooling/sim/system.ts';
import { PERM } from '../../contracts/system/index.ts';
import { HoldingsTree, holderDigest, verifyHolding } from '../../contracts/system/voucher/holdings.ts';

const sha = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const sim = new Simulation();
const sys = await deploySystem(sim);
const regulator = sys.registerRegulator('market-regulator');

test('food traceability (E3): every stage appends a linked record; a consumer detects tampering', () => {
  const farm = sys.admitPartner('green-farm', PERM.evidence);
  const factory = sys.admitPartner('meat-factory', PERM.evidence);
  const shop = sys.admitPartner('fresh-shop', PERM.evidence);
  const stages: Array<[typeof farm, string]> = [[farm, 'slaughter 2026-11-01 pig #8812'], [factory, 'cut and packed, batch B-77'], [shop, 'on shelf, store 12']];
  const digests: Uint8Array[] = [];
  // The farm starts the chain and names who may append to it.
  sys.evidence.call('append', ['pork/B-77', 'pork/B-77/start', sha('pig #8812 born 2026-05-01'), null, ''], { as: farm }).expectOk();
  digests.push(sha('pig #8812 born 2026-05-01'));
  sys.evidence.call('setChainWriters', ['pork/B-77', [factory.address, shop.address]], { as: farm }).expectOk();
  for (const [who, what] of stages) {
    const d = sha(what);
    sys.evidence.call('append', ['pork/B-77', `pork/B-77/${digests.length}`, d, digests.at(-1) ?? null, what], { as: who }).expectOk();
    digests.push(d);
    sim.advance(100);
  }
  // The consumer scans the pack and checks the story it is told against the chain.
  assert.is(sys.evidence.view('verifyChain', ['pork/B-77', digests]).value, true);
  assert.is(sys.evidence.view('verifyChain', ['pork/B-77', [digests[0]!, digests[1]!, sha('cut and packed, batch B-78'), digests[3]!]]).value, false);
  assert.is(sys.evidence.view('verifyChain', ['pork/B-77', [digests[0]!, digests[1]!, digests[3]!]]).value, false);
});

test('government and enterprise disclosure (E2, E6): a notice is registered; the public checks any copy', () => {
  const agency = sys.admitPartner('city-planning-office', PERM.evidence);
  const notice = 'Zoning notice 2026-41: parcel 7 rezoned for a school';
  sys.evidence.call('register', ['notice/2026-41', sha(notice), '{"published":"2026-11-20"}', null, null], { as: agency }).expectOk();
  const anyone = sim.account('citizen');
  assert.is(sys.evidence.view('verify', ['notice/2026-41', sha(notice)], { as: anyone }).value, true);
  assert.is(sys.evidence.view('verify', ['notice/2026-41', sha(notice.replace('school', 'mall'))], { as: anyone }).value, false);
});

test('certificate registration with custody and trading (E2, E5, V): registered, kept off chain, traded as an item', () => {
  const gallery = sys.admitPartner('art-gallery', PERM.evidence | PERM.voucher | PERM.identity);
  const alice = sys.enrolUser('collector-alice', gallery);
  const bob = sys.enrolUser('collector-bob', gallery);
  const certificate = 'Certificate of authenticity: "River at Dawn", oil, 2019';
  sys.evidence.call('register', ['cert/river-at-dawn', sha(certificate), '{"kind":"artwork"}', null, sha('vault://operator/certs/river-at-dawn.pdf')], { as: gallery }).expectOk();
  const artworks = sys.voucher.call('createVoucher', ['ART', 'Registered artworks', 'ownership', false, 1000n, gallery.address], { as: sys.operator }).expectOk().value as bigint;
  sys.voucher.call('issueItem', [artworks, alice.address, 'river-at-dawn', 'cert/river-at-dawn'], { as: gallery }).expectOk();
  sys.voucher.call('transferItem', [artworks, bob.address, 'river-at-dawn'], { as: alice }).expectOk();
  const item = sys.voucher.view('getItem', [artworks, 'river-at-dawn']).value as Record<string, unknown>;
  assert.equal(item.owner, bob.address);
  const rec = sys.evidence.view('get', [item.meta as string]).value as Record<string, unknown>;
  assert.equal(rec.custody, sha('vault://operator/certs/river-at-dawn.pdf'));
  assert.is(sys.evidence.view('verify', ['cert/river-at-dawn', sha(certificate)]).value, true);
});

test('charity with proof of full funds (E3, V5): donations held in full, each donor verifies theirs', () => {
  const fund = sys.admitPartner('hope-foundation', PERM.evidence | PERM.voucher | PERM.identity);
  const charity = sys.enrolUser('hope-foundation-account', fund);
  const rmb = sys.voucher.call('createVoucher', ['DRMB', 'Donation yuan', 'charity funds', true, 10_000_000n, fund.address], { as: sys.operator }).expectOk().value as bigint;
  const donors = [['donor-li', 500n], ['donor-wang', 300n], ['donor-zhao', 200n]] as const;
  for (const [name, amount] of donors) {
    const d = sys.enrolUser(name, fund);
    sys.voucher.call('issue', [rmb, d.address, amount], { as: fund }).expectOk();
    sys.voucher.call('transfer', [rmb, charity.address, amount], { as: d }).expectOk();
    sys.evidence.call('append', ['hope/ledger', `hope/ledger/${name}`, sha(`${name} donated ${amount}`), (sys.evidence.view('chainHead', ['hope/ledger']).value as Record<string, Uint8Array> | null)?.head ?? null, ''], { as: fund }).expectOk();
  }
  const tree = new HoldingsTree(donors.map(([name, amount]) => ({ holder: holderDigest('hope-salt', name), amount })));
  sys.voucher.call('commitHoldings', [rmb, tree.root, tree.total, tree.leafCount], { as: charity }).expectOk();
  donors.forEach(([name, amount], i) => {
    const leaf = { holder: holderDigest('hope-salt', name), amount };
    assert.ok(verifyHolding(tree.root, tree.total, leaf, tree.proof(i)));
    assert.is(sys.voucher.view('verifyHolding', [rmb, charity.address, leaf.holder, leaf.amount, tree.proof(i)]).value, true);
  });
  assert.is(sys.voucher.view('balanceOf', [rmb, charity.address]).value, 1000n);
  assert.is((sys.evidence.view('chainHead', ['hope/ledger']).value as Record<string, unknown>).length, 3n);
});

test('unified identity (I2, I4): certified once by a bank, accepted by a telecom, verified from plaintext', () => {
  const bank = sys.admitPartner('bank-of-east', PERM.identity);
  const telecom = sys.admitPartner('east-telecom', PERM.identity);
  const wang = sys.sim.account('wang-wu');
  sys.identity.call('createAccount', [wang.key, 'wangwu'], { as: bank }).expectOk();
  const plaintext = 'Wang Wu|ID 110101199001011234';
  sys.identity.call('certify', [wang.address, 4, identityDigest(plaintext, 'bank-salt-88'), false], { as: bank }).expectOk();
  const seenByTelecom = () => (sys.identity.view('standingFor', [wang.address, telecom.address]).value as Record<string, unknown>).level;
  assert.is(seenByTelecom(), 1);
  sys.identity.call('setAccepted', [[bank.address]], { as: telecom }).expectOk();
  assert.is(seenByTelecom(), 4);
  // A verifier (or a regulator, SPEC I6) is shown the plaintext and salt by the user or bank and checks it.
  assert.is(sys.identity.view('verifyIdentity', [wang.address, bank.address, identityDigest(plaintext, 'bank-salt-88')]).value, true);
  assert.is(sys.identity.view('verifyIdentity', [wang.address, bank.address, identityDigest('Wang Wu|ID 110101199001019999', 'bank-salt-88')]).value, false);
});

test('medical data sharing (I7): a patient grants one hospital access to another\'s records, then revokes', () => {
  const clinic = sys.admitPartner('city-clinic', PERM.identity);
  const patient = sys.enrolUser('patient-chen', clinic);
  const hospitalA = sim.account('hospital-a'), hospitalB = sim.account('hospital-b');
  const mayRelease = () => sys.identity.view('isGranted', [patient.address, hospitalB.address, hospitalA.address, 'imaging']).value;
  assert.is(mayRelease(), false);
  const id = sys.identity.call('grant', [hospitalB.address, hospitalA.address, 'imaging', sim.time + 7n * 86_400_000n], { as: patient }).expectOk().value;
  assert.is(mayRelease(), true); // hospital A checks this before sending the scans
  sys.identity.call('revokeGrant', [id], { as: patient }).expectOk();
  assert.is(mayRelease(), false);
});

test('coupons (V2, V3): a merchant issues, users pass them on, a shop redeems; uncertified users cannot hold', () => {
  const cafe = sys.admitPartner('cafe-chain', PERM.voucher | PERM.identity);
  const partnerBank = sys.admitPartner('partner-bank', PERM.identity);
  const amy = sys.enrolUser('amy', cafe), ben = sys.enrolUser('ben', partnerBank), anon = sys.enrolUser('anon-c', cafe, 2);
  const cpn = sys.voucher.call('createVoucher', ['CAFE', 'Cafe coupon', 'a latte', true, 100_000n, cafe.address], { as: sys.operator }).expectOk().value as bigint;
  sys.voucher.call('issue', [cpn, amy.address, 10n], { as: cafe }).expectOk();
  sys.voucher.call('transfer', [cpn, ben.address, 2n], { as: amy }).expectError('NOT_ELIGIBLE'); // ben certified by a partner the cafe does not accept
  sys.voucher.call('setCertifiers', [cpn, [partnerBank.address]], { as: cafe }).expectOk();
  sys.voucher.call('transfer', [cpn, ben.address, 2n], { as: amy }).expectOk();
  sys.voucher.call('transfer', [cpn, anon.address, 1n], { as: amy }).expectError('NOT_ELIGIBLE'); // anonymous users cannot hold vouchers
  sys.voucher.call('redeem', [cpn, 1n], { as: ben }).expectOk();
  const v = sys.voucher.view('getVoucher', [cpn]).value as Record<string, unknown>;
  assert.is(v.supply, 9n);
  assert.is(v.transferCount, 1n);
});

test('tickets (V1 indivisible, V4): seats are unique items; a regulator curbs scalping; used at the gate', () => {
  const venue = sys.admitPartner('grand-arena', PERM.voucher | PERM.identity);
  const fan = sys.enrolUser('fan-1', venue), scalper = sys.enrolUser('scalper-1', venue), friend = sys.enrolUser('friend-1', venue);
  const tkt = sys.voucher.call('createVoucher', ['GA26', 'Arena 2026-12-31', 'concert seat', false, 2n, venue.address], { as: sys.operator }).expectOk().value as bigint;
  sys.voucher.call('issueItem', [tkt, fan.address, 'A-12', 'row A seat 12'], { as: venue }).expectOk();
  sys.voucher.call('issueItem', [tkt, scalper.address, 'A-13', 'row A seat 13'], { as: venue }).expectOk();
  sys.voucher.call('issueItem', [tkt, scalper.address, 'A-14', ''], { as: venue }).expectError('CAP_EXCEEDED');
  sys.voucher.call('setTransferLimit', [tkt, 1n, 1_000_000n], { as: regulator }).expectOk();
  sys.voucher.call('freezeHolder', [tkt, scalper.address, true], { as: regulator }).expectOk();
  sys.voucher.call('transferItem', [tkt, friend.address, 'A-13'], { as: scalper }).expectError('HOLDER_FROZEN');
  sys.voucher.call('transferItem', [tkt, friend.address, 'A-12'], { as: fan }).expectOk();
  sys.voucher.call('transferItem', [tkt, fan.address, 'A-12'], { as: friend }).expectOk();
  sys.voucher.call('transferItem', [tkt, friend.address, 'A-12'], { as: fan }).expectError('TRANSFER_LIMIT');
  sys.voucher.call('redeemItem', [tkt, 'A-12'], { as: fan }).expectOk();
  assert.is((sys.voucher.view('getItem', [tkt, 'A-12']).value as Record<string, unknown>).redeemed, true);
});

test.run();
