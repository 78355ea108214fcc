/**
 * The public verification page end to end, in headless Chromium (Debian's, installed by
 * scripts/setup-chromium.sh) against a real node and the middleware: a visitor drops a registered file
 * and sees when and by which partner it was registered, its linked chain, and the proof verified in the
 * browser; the file's bytes never leave the page; an unknown file has no record; blocks, transactions
 * and a voucher's holders can be browsed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { accountAddress, PERM } from '../../contracts/system/index.ts';
import { newKeyPair } from '../../node/keys/key-file.ts';
import { startTestChain } from '../../tooling/nodes/in-process.ts';
import { NodeSource } from '../indexer/source.ts';
import { LevelIndexStore } from '../indexer/level-store.ts';
import { startMiddleware } from '../service.ts';

const setup = spawnSync('bash', [new URL('../../scripts/setup-chromium.sh', import.meta.url).pathname], { encoding: 'utf8' });
if (setup.status !== 0) throw new Error(`Chromium could not be installed: ${setup.stderr}`);
const executablePath = setup.stdout.trim();

const dir = mkdtempSync(join(tmpdir(), 'brop-site-'));
const chain = await startTestChain();
const { node, operator, block } = chain;
const mw = await startMiddleware({ source: new NodeSource(node), store: await LevelIndexStore.open(join(dir, 'index')), rpc: { port: 0 }, nodeRpc: { url: chain.url }, site: true });
const partner = newKeyPair(), holder = newKeyPair();
const sha = (b: Uint8Array | string) => `0x${createHash('sha256').update(b).digest('hex')}`;

const contractFile = Buffer.from(`Sales contract no. 4711\nbetween A and B\n${randomBytes(8).toString('hex')}\n`);
const step1 = Buffer.from(`harvest ${randomBytes(4).toString('hex')}`), step2 = Buffer.from(`shipment ${randomBytes(4).toString('hex')}`);
await block([operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Acme Notary', PERM.all, randomBytes(32)]],
  [partner, 'identity', 'register', [partner.publicKey, null]], [holder, 'identity', 'register', [holder.publicKey, null]]);
await block([partner, 'evidence', 'register', ['contract-4711', sha(contractFile), '{"type":"sales contract"}', null, null]],
  [partner, 'identity', 'certify', [accountAddress(holder.publicKey), 4, randomBytes(32), false]]);
await block([partner, 'evidence', 'append', ['tea-lot-9', 'lot-9/harvest', sha(step1), null, '']]);
await block([partner, 'evidence', 'append', ['tea-lot-9', 'lot-9/shipment', sha(step2), sha(step1), '']]);
await block([operator, 'voucher', 'createVoucher', ['TEA', 'Tea coupon', 'tea', true, 1_000_000n, accountAddress(partner.publicKey)]]);
await block([partner, 'voucher', 'issue', [1n, accountAddress(holder.publicKey), 250n]]);
await mw.indexer.waitFor(Number(node.height));

let browser: Browser;
test.before(async () => {
  browser = await chromium.launch({
    executablePath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

test('a registered file: when, by whom, the proof verified in the browser; its bytes never leave the page', async () => {
  const page = await browser.newPage();
  const bodies: string[] = [];
  page.on('request', (r) => bodies.push(r.postData() ?? ''));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(mw.url);
  await page.setInputFiles('#file', { name: 'contract.txt', mimeType: 'text/plain', buffer: contractFile });
  await page.locator('.proof.ok').waitFor({ timeout: 20_000 });
  const card = await page.locator('.record').innerText();
  assert.match(card, /Registered under contract-4711/);
  assert.match(card, /Acme Notary/);
  assert.match(card, /Proof verified: block #\d+ is final \(signed by 1 of its 1 validators\)/);
  assert.is(await page.locator('#digest').innerText(), sha(contractFile));
  assert.ok(bodies.every((b) => !b.includes('Sales contract')), 'the file itself was never sent');
  assert.equal(errors, []);
  await page.close();
});

test('a file of a linked chain shows the chain; an unknown file has no record', async () => {
  const page = await browser.newPage();
  await page.goto(mw.url);
  await page.setInputFiles('#file', { name: 'shipment.txt', mimeType: 'text/plain', buffer: step2 });
  await page.locator('.proof.ok').waitFor({ timeout: 20_000 });
  const chain = await page.locator('.chain').innerText();
  assert.match(chain, /tea-lot-9/);
  assert.match(chain, /lot-9\/harvest/);
  assert.is(await page.locator('tr.here').innerText().then((t) => t.includes('lot-9/shipment')), true);
  await page.setInputFiles('#file', { name: 'other.txt', mimeType: 'text/plain', buffer: Buffer.from('never registered') });
  await page.locator('#verdict').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('#verdict').innerText(), /No record/);
  await page.close();
});

test('browse: the latest blocks, a block\'s transactions, a transaction by hash, a voucher\'s holders', async () => {
  const page = await browser.newPage();
  await page.goto(`${mw.url}#blocks`);
  await page.locator('#block-list').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('#block-list').innerText(), new RegExp(`#${node.height}`));
  await page.getByRole('button', { name: `#${node.height}` }).click();
  await page.locator('#block .card').waitFor();
  assert.match(await page.locator('#block').innerText(), /issue/);
  const tx = node.block(node.height)!;
  const hash = `0x${createHash('sha256').update(tx.block.txs[0]!).digest('hex')}`;
  await page.fill('#tx-hash', hash);
  await page.click('#tx-form button');
  await page.locator('#tx .card').waitFor();
  assert.match(await page.locator('#tx').innerText(), /voucher\.issue in block/);
  await page.goto(`${mw.url}#vouchers`);
  await page.getByRole('button', { name: 'TEA' }).click();
  await page.locator('#voucher-report').waitFor();
  assert.match(await page.locator('#voucher-report').innerText(), /1 holders, 250 in circulation/);
  await page.close();
});

test.after(async () => {
  await browser?.close();
  await mw.stop();
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
