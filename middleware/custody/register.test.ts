/**
 * Custody end to end (SPEC E5): a partner uploads a file to the middleware's custody service, registers
 * its evidence on a real in-process node with its own key (digest and custody digest from the upload),
 * and anyone then finds the record in the index, downloads the file by its custody address and checks
 * it against the record. Then the same through `brop start` with the config `brop init` writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountAddress, PERM } from '../../contracts/system/index.ts';
import { ChainNode } from '../../node/node.ts';
import { SoloConsensus } from '../../node/consensus/solo.ts';
import { initHome, loadHome } from '../../node/home.ts';
import { keyPairSigner } from '../../node/keys/signer.ts';
import { newKeyPair, readKeyFile } from '../../node/keys/key-file.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { hex0x } from '../../node/json.ts';
import { BROP, startNode } from '../../tooling/nodes/processes.ts';
import { submitCall, type Call } from '../../tooling/nodes/in-process.ts';
import { NodeSource } from '../indexer/source.ts';
import { LevelIndexStore } from '../indexer/level-store.ts';
import { startMiddleware } from '../service.ts';
import { custodyDigest, parseCustodyAddress } from './address.ts';
import { downloadFromCustody, evidenceRegisterArgs, uploadToCustody } from './client.ts';
import { FsContentStore } from './store.ts';
import type { CustodyError } from './errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-custody-e2e-'));

test('a partner uploads a file, registers its evidence with its own key; the record and the file by its address agree', async () => {
  const init = await initHome(join(dir, 'home'), { chainId: 'brop-custody' });
  const home = loadHome(join(dir, 'home'));
  const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  const consensus = new SoloConsensus(node, keyPairSigner(home.validatorKey!), { onError: (e) => { throw e; } });
  const operator = readKeyFile(init.operatorKey);
  const partner = newKeyPair();
  const send = async (...call: Call) => { await submitCall(node, call); };
  // On every interface without publicUrl, the addresses would name 0.0.0.0: refused, nothing left open.
  const refused = await startMiddleware({
    source: new NodeSource(node), store: await LevelIndexStore.open(join(dir, 'index')),
    rpc: { port: 0, host: '0.0.0.0' }, custody: { dir: join(dir, 'custody') },
  }).then(async (m) => { await m.stop(); return 'started'; }, (e: CustodyError) => e.code);
  assert.is(refused, 'CUSTODY_BAD_CONFIG');
  const mw = await startMiddleware({
    source: new NodeSource(node), store: await LevelIndexStore.open(join(dir, 'index')),
    rpc: { port: 0 }, custody: { dir: join(dir, 'custody'), publicDownloads: true },
  });
  try {
    // The operator admits the partner; the partner registers its identity and gets quota.
    await send(operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Certificates Ltd', PERM.all, randomBytes(32)]);
    await send(partner, 'identity', 'register', [partner.publicKey, null]);
    await consensus.produce();
    await send(operator, 'quota', 'setAllowance', [accountAddress(partner.publicKey), 1n << 40n]);
    await consensus.produce();

    // The partner uploads the certificate and registers it, signing with its own key.
    const file = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(250_000)]);
    const receipt = await uploadToCustody(mw.url, new Blob([file], { type: 'application/pdf' }));
    assert.is(receipt.digest, hex0x(createHash('sha256').update(file).digest()));
    assert.is(parseCustodyAddress(receipt.address).base, mw.url);
    await send(partner, 'evidence', 'register', evidenceRegisterArgs('certificate-2024-0017', receipt, { meta: '{"kind":"diploma"}' }));
    await consensus.produce();
    await mw.indexer.waitFor(Number(node.height));

    // Anyone: the record from the index, then the file by its custody address.
    const rpc = new RpcClient(mw.url);
    const record = await rpc.call<{ key: string; digest: string; custody: string | null; registrant: string; status: string; txHash: string }>('evidence_get', { key: 'certificate-2024-0017' });
    assert.equal([record.digest, record.custody, record.registrant, record.status],
      [receipt.digest, receipt.custodyDigest, hex0x(accountAddress(partner.publicKey)), 'registered']);
    assert.ok((await rpc.call<{ ok: boolean }>('tx_lookup', { hash: record.txHash })).ok);
    // The address is what the record's custody digest commits to; the file is what its digest commits to.
    assert.is(custodyDigest(receipt.address), record.custody);
    const got = await downloadFromCustody(receipt.address, { expectedDigest: record.digest });
    assert.equal(Buffer.from(got.bytes), file);
    assert.is(got.digest, record.digest);
    assert.is(got.type, 'application/pdf');
    // A second partner's upload of the same file is the same address: stored once.
    const again = await uploadToCustody(mw.url, file, { type: 'application/pdf' });
    assert.equal([again.address, again.created], [receipt.address, false]);
  } finally {
    await mw.stop();
    await node.close();
  }
});

test('brop start runs custody with the config brop init writes, with upload keys; a second store user is refused while it runs', async () => {
  const homeDir = join(dir, 'started');
  await initHome(homeDir, { chainId: 'brop-custody-start' });
  const configFile = join(homeDir, 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { middleware: { custody?: Record<string, unknown> } };
  assert.equal(config.middleware.custody, {});
  // A partner's key for the middleware (the CLI), and public downloads (the config).
  const made = spawnSync(process.execPath, [BROP, 'apikey', 'new', '--home', homeDir, '--name', 'partner', '--custody'], { encoding: 'utf8' });
  const apiKey = (JSON.parse(made.stdout) as { apiKey: string }).apiKey;
  const withKey = JSON.parse(readFileSync(configFile, 'utf8')) as { middleware: { custody: Record<string, unknown> } };
  withKey.middleware.custody.publicDownloads = true;
  writeFileSync(configFile, JSON.stringify(withKey));
  const p = await startNode(homeDir);
  try {
    const started = p.lines.find((l) => l.event === 'started') as { middleware: { rpc: string; custody: string } };
    assert.is(started.middleware.custody, `${started.middleware.rpc}custody`);
    const data = randomBytes(10_000);
    const anonymous = await uploadToCustody(started.middleware.rpc, data, { type: 'image/png' }).then(() => 'stored', (e: CustodyError) => e.code);
    assert.is(anonymous, 'RPC_UNAUTHORIZED');
    // Upload keys are custody's own: queries (and the public page) need none.
    assert.ok((await new RpcClient(started.middleware.rpc).call<{ indexedHeight: number }>('index_status')).indexedHeight >= 0);
    const r = await uploadToCustody(started.middleware.rpc, data, { type: 'image/png', apiKey });
    assert.ok(existsSync(join(homeDir, 'custody', 'sha256', r.digest.slice(2, 4), r.digest.slice(4, 6), r.digest.slice(2))), 'kept in the home\'s custody folder');
    assert.equal(Buffer.from((await downloadFromCustody(r.address)).bytes), data, 'downloaded without a key');
    // Another process opening the same store (which would empty its tmp/ under running uploads) is refused.
    const code = await FsContentStore.open(join(homeDir, 'custody')).then(async (s) => { await s.close(); return 'opened'; }, (e: CustodyError) => e.code);
    assert.is(code, 'CUSTODY_STORE_LOCKED');
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
