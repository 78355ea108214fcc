/**
 * The browser build of the verifier: esbuild bundles it for the browser platform (which refuses node:
 * modules), and the bundle verifies a real proof bundle inside a bare JavaScript context that has none
 * of Node's globals (no Buffer, process, require), as well as when imported as an ES module.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { buildBrowserVerifier } from './browser-build.ts';
import { buildBundle } from './build.ts';
import { holdingText } from './holding.ts';
import { buildHoldings } from './custodian.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { startWorld } from './testing.ts';

const out = mkdtempSync(join(tmpdir(), 'brop-browser-'));
const w = await startWorld('brop-browser-test');
const { chain } = w;
const custodian = accountAddress(w.custodian.publicKey);
const holdings = buildHoldings([{ account: 'alice', amount: 30n }, { account: 'bob', amount: 12n }], { voucher: w.voucher, custodian });
await chain.tx(w.custodian, 'voucher', 'commitHoldings', [w.voucher, holdings.root, holdings.total, BigInt(holdings.leafCount)]);
const evidence = (await buildBundle(chain.client, { kind: 'evidence', key: w.evidenceKey })).text;
const commitment = (await buildBundle(chain.client, { kind: 'holdings-commitment', voucher: w.voucher, custodian })).text;
const genesis = JSON.stringify(chain.genesis);
const build = await buildBrowserVerifier(out);

test('the build bundles no node: module and nothing from the node\'s own code but the shared pure parts', () => {
  assert.not.ok(build.inputs.some((i) => i.startsWith('node:')), build.inputs.join(', '));
  const ours = build.inputs.filter((i) => !i.startsWith('node_modules/'));
  for (const i of ours) assert.ok(/^(middleware\/proofs\/[a-z-]+|node\/chain\/(encoding|certificate)|node\/state\/(proof|errors)|node\/rpc\/(client|errors)|contracts\/sdk\/codec|contracts\/system\/voucher\/holdings)\.ts$/.test(i), i);
  const code = readFileSync(build.esm, 'utf8');
  assert.not.match(code, /\bnode:/);
  assert.ok(build.bytes.esm < 200_000, `${build.bytes.esm} bytes`);
});

test('it verifies in a bare context with no Node globals (as a page script would)', () => {
  const context = vm.createContext({ TextEncoder, TextDecoder });
  vm.runInContext(readFileSync(build.iife, 'utf8'), context);
  for (const name of ['Buffer', 'process', 'require']) assert.is(vm.runInContext(`typeof ${name}`, context), 'undefined');
  const run = (code: string) => JSON.parse(vm.runInContext(code, context) as string);
  Object.assign(context, { evidence, commitment, genesis, holding: holdingText(holdings.proofs.find((p) => p.account === 'bob')!), doc: w.document });
  const r = run(`(() => {
    const trust = BropVerify.trustFromGenesis(JSON.parse(genesis));
    const v = BropVerify.verifyBundle(evidence, { trust });
    const d = BropVerify.verifyDocument(v, doc);
    const c = BropVerify.verifyBundle(commitment, { trust });
    const h = BropVerify.verifyHoldingProof(holding, c);
    let tampered;
    try { BropVerify.verifyBundle(evidence.replace('"invoice-42"', '"invoice-43"'), { trust }); } catch (e) { tampered = e.code; }
    return JSON.stringify({ kind: v.kind, trust: v.trust, changes: v.setChanges.length, digest: d.digest, sha: BropVerify.sha256Hex(doc), total: c.holdings.total, amount: h.amount, tampered });
  })()`);
  assert.equal(r, { kind: 'evidence', trust: 'given', changes: 2, digest: r.sha, sha: r.sha, total: '42', amount: '12', tampered: 'PROOF_RECORD' });
});

test('the ES module build verifies too', async () => {
  const m = await import(pathToFileURL(build.esm).href);
  const v = m.verifyBundle(evidence, { trust: m.trustFromGenesis(chain.genesis) });
  assert.is(v.records[0].value.key, w.evidenceKey);
  assert.throws(() => m.verifyBundle(evidence.replace('"kind": "evidence",', '"kind": "voucher-item",')), (e: { code?: string }) => e.code === 'PROOF_RECORD');
});

test.after(async () => {
  await chain.close();
  rmSync(out, { recursive: true, force: true });
});
test.run();
