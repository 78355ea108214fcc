/**
 * The proof commands end to end as processes against an in-process chain: `brop proof` fetches
 * bundles, `brop verify` checks them offline (with a document, with a holder's proof, as JSON), with
 * exit status 0 only when everything holds; `brop holdings build|commit` publish a custodian's tree.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accountAddress } from '../../contracts/system/index.ts';
import { toHex } from '../../middleware/proofs/json.ts';
import { startWorld } from '../../middleware/proofs/testing.ts';

const bin = fileURLToPath(new URL('../../bin/brop.js', import.meta.url));
const w = await startWorld('brop-cli-proofs-test');
const { chain } = w;
const dir = chain.dir;
const path = (name: string) => join(dir, name);

/** Runs brop without blocking this process (it serves the RPC the command talks to). */
function brop(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      done({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('brop proof evidence → brop verify with the document and the genesis file', async () => {
  const p = await brop('proof', 'evidence', w.evidenceKey, '--out', path('evidence.json'), '--rpc', chain.url, '--genesis', chain.genesisPath);
  assert.is(p.status, 0, p.stderr);
  assert.equal({ ...JSON.parse(p.stdout), out: undefined, height: undefined }, { ok: true, out: undefined, kind: 'evidence', chainId: 'brop-cli-proofs-test', height: undefined, exists: true });
  writeFileSync(path('invoice.txt'), w.document);
  const v = await brop('verify', path('evidence.json'), path('invoice.txt'), '--genesis', chain.genesisPath);
  assert.is(v.status, 0, v.stderr);
  assert.match(v.stdout, /^VERIFIED: evidence "invoice-42" on chain "brop-cli-proofs-test"/);
  assert.match(v.stdout, /invoice\.txt: its sha256 0x[0-9a-f]{64} is the record's digest/);
  assert.match(v.stdout, /through 2 changes \(after blocks \d+, \d+\)/);
  assert.match(v.stdout, /Trust: the genesis validator set of/);
  const j = await brop('verify', path('evidence.json'), path('invoice.txt'), '--genesis', chain.genesisPath, '--json');
  const r = JSON.parse(j.stdout);
  assert.equal([r.ok, r.trust, r.document.field, r.records[0].value.key], [true, 'given', 'digest', w.evidenceKey]);
  const own = await brop('verify', path('evidence.json'));
  assert.is(own.status, 0);
  assert.match(own.stdout, /Trust: only the bundle's own genesis validator set 0x[0-9a-f]{64}/);
});

test('brop verify fails (exit 1) on another document, a tampered bundle or another chain\'s genesis; usage errors exit 2', async () => {
  writeFileSync(path('other.txt'), 'not the invoice');
  const doc = await brop('verify', path('evidence.json'), path('other.txt'), '--genesis', chain.genesisPath, '--json');
  assert.is(doc.status, 1);
  assert.is(JSON.parse(doc.stdout).error.code, 'PROOF_DIGEST_MISMATCH');
  writeFileSync(path('tampered.json'), readFileSync(path('evidence.json'), 'utf8').replace(/"time": (\d+)/, (_, t) => `"time": ${Number(t) + 1}`));
  const t = await brop('verify', path('tampered.json'));
  assert.is(t.status, 1);
  assert.match(t.stderr, /^NOT VERIFIED: PROOF_(CERTIFICATE|VALIDATOR_SETS): /);
  writeFileSync(path('other-genesis.json'), JSON.stringify({ ...chain.genesis, chainId: 'brop-elsewhere' }));
  const g = await brop('verify', path('evidence.json'), '--genesis', path('other-genesis.json'), '--json');
  assert.equal([g.status, JSON.parse(g.stdout).error.code], [1, 'PROOF_CHAIN_ID']);
  assert.is((await brop('verify')).status, 2);
  assert.is((await brop('proof', 'evidence')).status, 2);
  assert.is((await brop('proof', 'balance', 'x', toHex(accountAddress(w.user.publicKey)), '--rpc', chain.url)).status, 2);
  const item = await brop('proof', 'item', w.ticket.toString(), 'A-1', '--out', path('item.json'), '--rpc', chain.url);
  assert.is(item.status, 0, item.stderr);
  const noDigest = await brop('verify', path('item.json'), path('invoice.txt'));
  assert.equal([noDigest.status, JSON.parse(noDigest.stderr).error.code], [2, 'CLI_USAGE']);
});

test('brop holdings build and commit; brop proof holdings; a holder verifies its inclusion with brop verify --holding', async () => {
  writeFileSync(path('holders.csv'), 'account,amount\nalice@exchange,400\nbob@exchange,250\ncarol@exchange,100\n');
  const key = chain.writeKey('custodian', w.custodian);
  const b = await brop('holdings', 'build', '--voucher', w.voucher.toString(), '--key', key, '--holders', path('holders.csv'), '--out', path('h'));
  assert.is(b.status, 0, b.stderr);
  const built = JSON.parse(b.stdout);
  assert.equal([built.total, built.leafCount, built.custodian], ['750', 3, toHex(accountAddress(w.custodian.publicKey))]);
  chain.startProducing(30);
  const c = await brop('holdings', 'commit', '--dir', path('h'), '--key', key, '--rpc', chain.url);
  await chain.stopProducing();
  assert.is(c.status, 0, c.stderr);
  const p = await brop('proof', 'holdings', w.voucher.toString(), built.custodian, '--out', path('commitment.json'), '--rpc', chain.url);
  assert.is(p.status, 0, p.stderr);
  const v = await brop('verify', path('commitment.json'), '--holding', built.holders['bob@exchange'], '--genesis', chain.genesisPath);
  assert.is(v.status, 0, v.stderr);
  assert.match(v.stdout, /full reserve: the custodian held 1000 at this block, at least the committed total 750 \(3 holders/);
  assert.match(v.stdout, /holding: account "bob@exchange" holds 250 of the committed 750/);
  writeFileSync(path('bob-lies.json'), readFileSync(built.holders['bob@exchange'], 'utf8').replace('"amount": "250"', '"amount": "260"'));
  const lie = await brop('verify', path('commitment.json'), '--holding', path('bob-lies.json'), '--json');
  assert.equal([lie.status, JSON.parse(lie.stdout).error.code], [1, 'PROOF_HOLDING']);
});

test.after(() => chain.close());
test.run();
