/**
 * A home's files as `init` writes them and `start` reads them: what init would leave unstartable is
 * refused before anything is written, and config.json is checked field by field (HOME_INVALID naming
 * the field) instead of misspelt fields falling back to defaults or bad values failing later.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, initNetwork, loadHome, readDenyPeers } from './home.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-home-test-'));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
  return 'accepted';
}

test('init refuses a chain id (or parameters) that start would refuse, before writing anything', async () => {
  for (const chainId of ['', 'x'.repeat(65)]) {
    const home = join(dir, `bad-${chainId.length}`);
    assert.match(await codeOf(initHome(home, { chainId })), /^GENESIS_INVALID: chainId must be 1 to 64 bytes/);
    assert.not.ok(existsSync(home));
  }
  assert.match(await codeOf(initHome(join(dir, 'bad-window'), { params: { validityWindow: 0 } })), /^GENESIS_INVALID: validityWindow/);
  assert.match(await codeOf(initNetwork(join(dir, 'bad-net'), { validators: 2, chainId: 'x'.repeat(65) })), /^GENESIS_INVALID/);
  assert.match(await codeOf(initNetwork(join(dir, 'bad-net'), { validators: 4, basePort: 65_500 })), /^HOME_INVALID: base port 65500/);
  assert.not.ok(existsSync(join(dir, 'bad-net')));
});

test('config.json: every field checked, unknown ones named', async () => {
  const home = join(dir, 'ok');
  await initHome(home, { chainId: 'brop-home-test' });
  const file = join(home, 'config.json');
  const good = JSON.parse(readFileSync(file, 'utf8'));
  const withConfig = (edit: (c: any) => void) => {
    const c = structuredClone(good);
    edit(c);
    writeFileSync(file, JSON.stringify(c));
    return codeOf(() => loadHome(home));
  };
  assert.is(await withConfig(() => undefined), 'accepted');
  assert.is(await withConfig((c) => { c.rpc.maxBatch = 50; c.rpc.allowedOrigins = ['https://app.example']; c.rpc.rateLimit = false; c.mempool = { maxTxs: 10 }; }), 'accepted');
  assert.is(await withConfig((c) => { c.rpc.maxbatch = 5; }), 'HOME_INVALID: config.json: unknown field rpc.maxbatch (known: host, port, rateLimit, maxBatch, allowedOrigins, apiKeys)');
  assert.match(await withConfig((c) => { c.mempol = {}; }), /^HOME_INVALID: config.json: unknown field mempol /);
  assert.is(await withConfig((c) => { c.rpc.maxBatch = 'abc'; }), 'HOME_INVALID: config.json: rpc.maxBatch must be an integer from 1');
  assert.is(await withConfig((c) => { c.rpc.maxBatch = 0; }), 'HOME_INVALID: config.json: rpc.maxBatch must be an integer from 1');
  assert.is(await withConfig((c) => { c.rpc.rateLimit = { perSecond: -5, burst: 10 }; }), 'HOME_INVALID: config.json: rpc.rateLimit.perSecond must be a positive number');
  assert.is(await withConfig((c) => { c.rpc.port = 'abc'; }), 'HOME_INVALID: config.json: rpc.port must be an integer from 0 to 65535');
  assert.is(await withConfig((c) => { delete c.rpc.host; }), 'HOME_INVALID: config.json: rpc.host must be a non-empty string');
  assert.is(await withConfig((c) => { c.mempool = { maxTxs: -1 }; }), 'HOME_INVALID: config.json: mempool.maxTxs must be an integer from 1');
  assert.is(await withConfig((c) => { c.rpc.apiKeys = [{ name: 'p', keyHash: 'xyz', perSecond: 1, burst: 1 }]; }), 'HOME_INVALID: config.json: rpc.apiKeys[0].keyHash must be a sha256 as 64 lowercase hex digits');
  assert.is(await withConfig((c) => { c.middleware.custody = { maxBytes: '1MB' }; }), 'HOME_INVALID: config.json: middleware.custody.maxBytes must be an integer from 1');
  assert.is(await withConfig((c) => { c.p2p = { listen: ['/ip4/127.0.0.1/tcp/1'] }; }), 'HOME_INVALID: config.json: p2p.peers must be a list of strings');
  assert.is(await withConfig((c) => { c.mempool = { maxNewcomerTxs: 0 }; }), 'accepted'); // new keys' self-registrations off
  assert.is(await withConfig((c) => { c.p2p = { listen: ['garbage'], peers: [] }; }), 'HOME_INVALID: config.json: p2p.listen[0] must be a multiaddr (e.g. /ip4/0.0.0.0/tcp/26700)');
  assert.is(await withConfig((c) => { c.p2p = { listen: ['/ip4/127.0.0.1/tcp/65600'], peers: [] }; }), 'HOME_INVALID: config.json: p2p.listen[0] must be a multiaddr (e.g. /ip4/0.0.0.0/tcp/26700)');
  assert.is(await withConfig((c) => { c.p2p = { listen: [], peers: ['/ip4/127.0.0.1/tcp/1'] }; }), 'HOME_INVALID: config.json: p2p.peers[0] must be a multiaddr ending in /p2p/PEER_ID');
  // The SIGHUP reload of the deny list reads the file the same way.
  await withConfig((c) => { c.p2p = { listen: [], peers: [], denyPeers: [] }; c.rpc.maxbatch = 5; });
  assert.match(await codeOf(() => readDenyPeers(home)), /^HOME_INVALID: config.json: unknown field rpc.maxbatch/);
  writeFileSync(file, JSON.stringify(good));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
