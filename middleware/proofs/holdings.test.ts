/**
 * Proof of holdings (SPEC V5) against the real voucher contract: a custodian builds the tree from its
 * holders list, commits it on chain, and every holder's proof is accepted by the contract's own
 * verifyHolding and offline against a bundle of the on-chain commitment; anyone reads the total and
 * the full reserve from the bundle; altered, foreign or stale holdings fail.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountAddress } from '../../contracts/system/index.ts';
import { holderDigest } from '../../contracts/system/voucher/holdings.ts';
import { buildBundle } from './build.ts';
import { CustodianError, buildHoldings, commitHoldings, parseCommitment, parseHolders, writeHoldings } from './custodian.ts';
import { ProofError } from './errors.ts';
import { holdingText, verifyHoldingProof } from './holding.ts';
import { toHex } from './json.ts';
import { startWorld } from './testing.ts';
import { trustFromGenesis } from './verify.ts';

const w = await startWorld('brop-holdings-test');
const { chain } = w;
const trust = trustFromGenesis(chain.genesis);
const custodian = accountAddress(w.custodian.publicKey);
const params = { kind: 'holdings-commitment' as const, voucher: w.voucher, custodian };

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ProofError || e instanceof CustodianError) return e.code;
    throw e;
  }
  return 'OK';
}

test('holders lists: JSON or CSV; duplicates, bad amounts and empty lists are refused', () => {
  assert.equal(parseHolders('[{"account":"alice","amount":"40"},{"account":"bob","amount":25}]'), [{ account: 'alice', amount: 40n }, { account: 'bob', amount: 25n }]);
  assert.equal(parseHolders('account,amount\nalice, 40\r\nbob,25\n\n'), [{ account: 'alice', amount: 40n }, { account: 'bob', amount: 25n }]);
  assert.equal(parseHolders('a,b,c,7'), [{ account: 'a,b,c', amount: 7n }], 'the last comma separates the amount');
  for (const bad of ['alice,1\nalice,2', 'alice,-1', 'alice,1.5', `alice,${1n << 128n}`, '[{"account":"","amount":"1"}]', '[1', 'alice']) {
    assert.is(codeOf(() => parseHolders(bad)), 'HOLDINGS_INPUT', bad);
  }
  assert.is(codeOf(() => buildHoldings([], { voucher: 1n, custodian })), 'HOLDINGS_INPUT');
});

const holders = parseHolders(Array.from({ length: 11 }, (_, i) => `client-${i},${(i + 1) * 10}`).join('\n'));
const built = buildHoldings(holders, { voucher: w.voucher, custodian });
const dir = join(chain.dir, 'holdings');
const files = writeHoldings(dir, built);

test('the tree: total, leaf count, digest order, one file per holder, private salts', () => {
  assert.is(built.total, 660n);
  assert.is(built.leafCount, 11);
  assert.is(files.size, 11);
  const digests = built.proofs.map((p) => toHex(holderDigest(p.salt, p.account)));
  assert.equal(digests, [...digests].sort(), 'leaves in digest order, not in the list\'s order');
  assert.is.not(built.proofs.map((p) => p.account).join(), holders.map((h) => h.account).join());
  const salts = new Set(built.proofs.map((p) => p.salt));
  assert.is(salts.size, 11, 'each holder has its own salt');
  const committed = parseCommitment(JSON.parse(readFileSync(join(dir, 'commitment.json'), 'utf8')));
  assert.equal([committed.root, committed.total, committed.leafCount], [built.root, built.total, 11]);
  assert.is(readFileSync(files.get('client-3')!, 'utf8'), holdingText(built.proofs.find((p) => p.account === 'client-3')!));
});

test('committed on chain; the contract\'s verifyHolding accepts every holder\'s proof; offline verification agrees', async () => {
  chain.startProducing(20);
  const r = await commitHoldings(chain.client, w.custodian, parseCommitment(JSON.parse(readFileSync(join(dir, 'commitment.json'), 'utf8'))), { pollMs: 20 });
  await chain.stopProducing();
  assert.ok(r.height > 0);
  const bundle = await buildBundle(chain.client, params, { trust });
  const h = bundle.verified.holdings!;
  assert.equal([h.total, h.leafCount, h.root, h.custodianBalance], ['660', '11', toHex(built.root), '1000']);
  for (const p of built.proofs) {
    const onChain = await chain.client.call<{ result: boolean }>('contract_call', {
      contract: 'voucher', method: 'verifyHolding',
      args: [w.voucher.toString(), toHex(custodian), JSON.parse(holdingText(p)).holder.digest, p.amount.toString(), p.steps.map((s) => ({ hash: toHex(s.hash), sum: s.sum.toString(), left: s.left }))],
    });
    assert.is(onChain.result, true, `contract: ${p.account}`);
    const v = verifyHoldingProof(readFileSync(files.get(p.account)!, 'utf8'), bundle.verified);
    assert.equal([v.account, v.amount, v.total], [p.account, p.amount.toString(), '660']);
  }
});

test('altered, foreign and stale holdings fail', async () => {
  const bundle = (await buildBundle(chain.client, params, { trust })).verified;
  const text = readFileSync(files.get('client-0')!, 'utf8');
  const edit = (f: (x: any) => void) => { const x = JSON.parse(text); f(x); return `${JSON.stringify(x, null, 2)}\n`; };
  const cases: Array<[string, string, string]> = [
    ['PROOF_HOLDING', 'a larger amount', edit((x) => { x.amount = '11'; })],
    ['PROOF_HOLDING', 'another account with its digest', edit((x) => { x.holder.account = 'client-1'; })],
    ['PROOF_HOLDING', 'a step\'s sum lowered', edit((x) => { x.steps[0].sum = '0'; })],
    ['PROOF_HOLDING', 'a step moved to the other side', edit((x) => { x.steps[0].left = !x.steps[0].left; })],
    ['PROOF_HOLDING', 'another voucher', edit((x) => { x.voucher = '2'; })],
    ['PROOF_HOLDING', 'a claimed total that is not the committed one', edit((x) => { x.total = '661'; })],
    ['PROOF_NOT_CANONICAL', 'reformatted', JSON.stringify(JSON.parse(text))],
    ['PROOF_MALFORMED', 'a field added', edit((x) => { x.note = 1; })],
  ];
  for (const [code, what, t] of cases) assert.is(codeOf(() => verifyHoldingProof(t, bundle)), code, what);
  const evidence = (await buildBundle(chain.client, { kind: 'evidence', key: w.evidenceKey }, { trust })).verified;
  assert.is(codeOf(() => verifyHoldingProof(text, evidence)), 'PROOF_HOLDING', 'checked against a bundle of another kind');

  // The custodian commits a new tree: holdings of the old one no longer match the chain.
  const next = buildHoldings([...holders, { account: 'client-new', amount: 5n }], { voucher: w.voucher, custodian });
  chain.startProducing(20);
  await commitHoldings(chain.client, w.custodian, next, { pollMs: 20 });
  await chain.stopProducing();
  const fresh = (await buildBundle(chain.client, params, { trust })).verified;
  assert.is(codeOf(() => verifyHoldingProof(text, fresh)), 'PROOF_HOLDING', 'stale');
  assert.is(verifyHoldingProof(holdingText(next.proofs[0]!), fresh).total, '665');
});

test('full reserve: committing more than held is refused on chain; holding less later breaks the commitment bundle', async () => {
  const tooMuch = buildHoldings([{ account: 'whale', amount: 1001n }], { voucher: w.voucher, custodian });
  chain.startProducing(20);
  const refused = await commitHoldings(chain.client, w.custodian, tooMuch, { pollMs: 20 }).then(() => 'committed', (e: CustodianError) => `${e.code} ${e.message}`);
  assert.match(refused, /HOLDINGS_TX_FAILED.*UNDER_RESERVED/);
  await chain.stopProducing();
  await chain.tx(w.custodian, 'voucher', 'transfer', [w.voucher, accountAddress(w.user.publicKey), 400n]);
  const err = await buildBundle(chain.client, params, { trust }).then(() => undefined, (e) => e);
  assert.instance(err, ProofError);
  assert.is(err.code, 'PROOF_RESERVE');
  assert.match(err.message, /holds 600, less than the committed total 665/);
  // The key must be the custodian's.
  assert.is(await commitHoldings(chain.client, w.user, next(), { pollMs: 20 }).then(() => 'OK', (e) => e.code), 'HOLDINGS_INPUT');
  function next() { return buildHoldings([{ account: 'x', amount: 1n }], { voucher: w.voucher, custodian }); }
});

test.after(() => chain.close());
test.run();
