import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { checkMatrix, world, type World } from '../../test-helpers.ts';
import { PERM } from '../../index.ts';

const w = await world();
const { sim } = w;
const evidence = (x: World) => x.sys.evidence;
const digestOf = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
let n = 0;
const key = () => `key-${n++}`;
const fresh32 = () => sim.account(`writer-${n++}`).address;

test('permission matrix: who may register, append, propose, confirm and revoke', () => {
  let pending = '';
  checkMatrix(w, [
    { contract: evidence, method: 'register', args: () => [key(), digestOf('doc'), '{}', null, null], allowed: ['partner', 'user'], denied: 'NOT_PERMITTED' },
    { contract: evidence, method: 'append', args: () => [`chain-${n++}`, key(), digestOf('lot'), null, ''], allowed: ['partner', 'user'], denied: 'NOT_PERMITTED' },
    { contract: evidence, method: 'setChainWriters', args: () => ['shared-chain', [fresh32()]], allowed: ['partner'], denied: 'NOT_CREATOR',
      setup: (x) => { x.sys.evidence.call('append', ['shared-chain', key(), digestOf('first'), null, ''], { as: x.roles.partner }).expectOk(); } },
    { contract: evidence, method: 'propose', args: (x) => [key(), digestOf('deal'), [x.roles.partner.address, x.roles.user.address], ''], allowed: ['partner', 'user'], denied: 'NOT_PERMITTED' },
    { contract: evidence, method: 'confirm', args: () => [pending], allowed: ['partner', 'user'], denied: 'NOT_A_PARTY',
      setup: (x) => { pending = key(); x.sys.evidence.call('propose', [pending, digestOf('deal'), [x.roles.partner.address, x.roles.user.address], ''], { as: x.roles.partner }).expectOk(); } },
    { contract: evidence, method: 'revoke', args: () => [pending], allowed: ['partner', 'user'], denied: 'NOT_A_PARTY',
      setup: (x) => { pending = key(); x.sys.evidence.call('propose', [pending, digestOf('deal'), [x.roles.partner.address, x.roles.user.address], ''], { as: x.roles.partner }).expectOk(); } },
  ]);
});

test('E1, E2, E5: a digest with block time, time-stamp token and custody digests; anyone verifies a document', () => {
  sim.advance(3);
  const tsa = digestOf('rfc3161 token');
  const custody = digestOf('oss://operator-bucket/contracts/2026/001.pdf');
  const h = w.sys.evidence.call('register', ['contract-2026-001', digestOf('the pdf'), '{"type":"contract"}', tsa, custody], { as: w.roles.partner }).expectOk();
  assert.is(h.value, sim.height);
  assert.equal(h.events[0]!.topics, ['registered', 'contract-2026-001', w.roles.partner.hex]);
  const r = w.sys.evidence.view('get', ['contract-2026-001']).value as Record<string, unknown>;
  assert.is(r.time, sim.time);
  assert.equal(r.timestampToken, tsa);
  assert.equal(r.custody, custody);
  assert.equal(r.registrant, w.roles.partner.address);
  assert.is(w.sys.evidence.view('verify', ['contract-2026-001', digestOf('the pdf')]).value, true);
  assert.is(w.sys.evidence.view('verify', ['contract-2026-001', digestOf('the pdf, edited')]).value, false);
  w.sys.evidence.call('register', ['contract-2026-001', digestOf('again'), '', null, null], { as: w.roles.partner }).expectError('KEY_TAKEN');
  w.sys.evidence.call('register', ['', digestOf('x'), '', null, null], { as: w.roles.partner }).expectError('BAD_KEY');
  w.sys.evidence.call('register', ['z', new Uint8Array(32), '', null, null], { as: w.roles.partner }).expectError('BAD_DIGEST');
});

test('E3: linked records; a missing, altered or reordered record fails verification', () => {
  const lots = ['farm: harvest', 'factory: processed', 'truck: shipped', 'shop: received'].map(digestOf);
  let prev: Uint8Array | null = null;
  lots.forEach((d, i) => {
    const idx = w.sys.evidence.call('append', ['pork-lot-77', `pork-lot-77/${i}`, d, prev, ''], { as: w.roles.partner }).expectOk().value;
    assert.is(idx, BigInt(i));
    prev = d;
  });
  w.sys.evidence.call('append', ['pork-lot-77', 'pork-lot-77/x', digestOf('forged'), lots[1]!, ''], { as: w.roles.partner }).expectError('BROKEN_LINK');
  w.sys.evidence.call('append', ['pork-lot-77', 'pork-lot-77/y', digestOf('forged'), null, ''], { as: w.roles.partner }).expectError('BROKEN_LINK');
  // Only the creator and the writers it names append.
  w.sys.evidence.call('append', ['pork-lot-77', 'pork-lot-77/z', digestOf('intruder'), lots[3]!, ''], { as: w.roles.user }).expectError('NOT_A_WRITER');
  const verify = (ds: Uint8Array[]) => w.sys.evidence.view('verifyChain', ['pork-lot-77', ds]).value;
  assert.is(verify(lots), true);
  assert.is(verify([lots[0]!, lots[2]!, lots[3]!]), false); // a gap
  assert.is(verify([lots[0]!, digestOf('factory: processed (edited)'), lots[2]!, lots[3]!]), false); // altered
  assert.is(verify([lots[1]!, lots[0]!, lots[2]!, lots[3]!]), false); // reordered
  assert.is(verify([...lots, digestOf('extra')]), false);
  const head = w.sys.evidence.view('chainHead', ['pork-lot-77']).value as Record<string, unknown>;
  assert.is(head.length, 4n);
  assert.equal(head.head, lots[3]);
  const second = w.sys.evidence.view('chainRecord', ['pork-lot-77', 1]).value as Record<string, unknown>;
  assert.equal(second.prev, lots[0]);
});

test('E4: a multi-party record takes effect only when all parties confirm; any may revoke before', () => {
  const a = w.roles.partner, b = w.roles.user, c = w.sys.enrolUser('party-c', a);
  const parties = [a.address, b.address, c.address];
  w.sys.evidence.call('propose', ['lease-9', digestOf('lease'), parties, 'lease'], { as: a }).expectOk();
  assert.is(w.sys.evidence.view('get', ['lease-9']).value, null);
  assert.is(w.sys.evidence.call('confirm', ['lease-9'], { as: a }).expectOk().value, false);
  w.sys.evidence.call('confirm', ['lease-9'], { as: a }).expectError('ALREADY_CONFIRMED');
  assert.is(w.sys.evidence.call('confirm', ['lease-9'], { as: b }).expectOk().value, false);
  assert.is(w.sys.evidence.view('verify', ['lease-9', digestOf('lease')]).value, false);
  const done = w.sys.evidence.call('confirm', ['lease-9'], { as: c }).expectOk();
  assert.is(done.value, true);
  assert.is(done.eventsNamed('effective').length, 1);
  assert.is(w.sys.evidence.view('verify', ['lease-9', digestOf('lease')]).value, true);
  w.sys.evidence.call('revoke', ['lease-9'], { as: a }).expectError('NOT_PENDING');

  w.sys.evidence.call('propose', ['lease-10', digestOf('lease 2'), parties, ''], { as: a }).expectOk();
  w.sys.evidence.call('confirm', ['lease-10'], { as: a }).expectOk();
  w.sys.evidence.call('revoke', ['lease-10'], { as: c }).expectOk();
  w.sys.evidence.call('confirm', ['lease-10'], { as: b }).expectError('NOT_PENDING');
  assert.is((w.sys.evidence.view('getMultiParty', ['lease-10']).value as Record<string, unknown>).status, 3);
  assert.is(w.sys.evidence.view('get', ['lease-10']).value, null);
  w.sys.evidence.call('propose', ['x', digestOf('x'), [a.address], ''], { as: a }).expectError('BAD_PARTIES');
  // A party frozen by a regulator command can neither confirm nor revoke.
  const snap = sim.snapshot();
  w.sys.evidence.call('propose', ['lease-11', digestOf('lease 3'), parties, ''], { as: a }).expectOk();
  const cmd = w.sys.admission.call('issueCommand', [c.address, 'freeze-account', digestOf('order')], { as: w.roles.regulator }).expectOk().value;
  w.sys.identity.call('executeCommand', [c.address, cmd, digestOf('proof')], { as: a }).expectOk();
  w.sys.evidence.call('confirm', ['lease-11'], { as: c }).expectError('ACCOUNT_FROZEN');
  w.sys.evidence.call('revoke', ['lease-11'], { as: c }).expectError('ACCOUNT_FROZEN');
  sim.revert(snap);
  w.sys.evidence.call('propose', ['x', digestOf('x'), [a.address, a.address], ''], { as: a }).expectError('BAD_PARTIES');
});

test('users register evidence by their identity standing (SPEC I3); suspended partners cannot', () => {
  const snap = sim.snapshot();
  const anon = w.sys.enrolUser('anon-e', w.roles.partner, 2);
  const vouched = w.sys.enrolUser('anon-v', w.roles.partner, 2, { vouchesEvidence: true });
  w.sys.evidence.call('register', [key(), digestOf('a'), '', null, null], { as: anon }).expectError('NOT_PERMITTED');
  w.sys.evidence.call('register', [key(), digestOf('a'), '', null, null], { as: vouched }).expectOk();
  const evidenceOnly = w.sys.admitPartner('evidence-only', PERM.evidence);
  w.sys.evidence.call('register', [key(), digestOf('b'), '', null, null], { as: evidenceOnly }).expectOk();
  const cmd = w.sys.admission.call('issueCommand', [evidenceOnly.address, 'suspend-partner', digestOf('order')], { as: w.roles.regulator }).expectOk().value;
  w.sys.admission.call('executeCommand', [cmd, digestOf('proof')], { as: w.roles.operator }).expectOk();
  w.sys.evidence.call('register', [key(), digestOf('c'), '', null, null], { as: evidenceOnly }).expectError('NOT_PERMITTED');
  sim.revert(snap);
});

test.run();
