/**
 * The documented operator and partner commands against a real node process: init, start, status,
 * keys, tx (submit and wait), call, and a clean stop on SIGTERM.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROP, startNode } from '../../tooling/nodes/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-cli-chain-'));
const home = join(dir, 'home');

function brop(...args: string[]) {
  const r = spawnSync(process.execPath, [BROP, ...args], { encoding: 'utf8', timeout: 60_000 });
  const last = r.stdout.trim().split('\n').pop();
  return { status: r.status, stderr: r.stderr, json: last ? JSON.parse(last) : undefined, err: r.stderr.trim() ? JSON.parse(r.stderr.trim().split('\n').pop()!) : undefined };
}

test('init, start, status, keys, tx, call, stop', async () => {
  const init = brop('init', '--home', home, '--chain-id', 'brop-cli', '--block-time', '200');
  assert.is(init.status, 0, init.stderr);
  assert.is(init.json.chainId, 'brop-cli');
  assert.is(brop('init', '--home', home).err.error.code, 'HOME_EXISTS');
  const node = await startNode(home);
  try {
    const status = brop('status', '--rpc', node.rpc);
    assert.is(status.json.chainId, 'brop-cli');
    const key = brop('keys', 'new', '--out', join(dir, 'partner.json'));
    assert.match(key.json.address, /^0x[0-9a-f]{64}$/);
    assert.is(brop('keys', 'show', join(dir, 'partner.json')).json.address, key.json.address);
    const admit = brop('tx', 'admission', 'admitPartner', '--args', JSON.stringify([key.json.address, 'Partner', 7, `0x${'ab'.repeat(32)}`]),
      '--key', init.json.operatorKey, '--rpc', node.rpc);
    assert.is(admit.status, 0, admit.stderr);
    assert.is(admit.json.status, 'committed');
    assert.is(admit.json.receipt.status, 'ok');
    const role = brop('call', 'admission', 'roleOf', '--args', JSON.stringify([key.json.address]), '--rpc', node.rpc);
    assert.is(role.json.result, 2);
    // A failing transaction still ends with its receipt (and a non-zero exit status).
    const again = brop('tx', 'admission', 'admitPartner', '--args', JSON.stringify([key.json.address, 'Partner', 7, `0x${'ab'.repeat(32)}`]),
      '--key', init.json.operatorKey, '--rpc', node.rpc);
    assert.is(again.status, 1);
    assert.match(again.json.receipt.error, /^ALREADY_PARTNER|^PARTNER_EXISTS|^[A-Z_]+:/);
    const bad = brop('tx', 'admission', 'admitPartner', '--args', '[1]', '--key', init.json.operatorKey, '--rpc', node.rpc);
    assert.is(bad.err.error.code, 'BAD_ARGUMENTS');
    const unauthorised = brop('tx', 'admission', 'roleOf', '--args', JSON.stringify([key.json.address]), '--key', join(dir, 'partner.json'), '--rpc', node.rpc);
    assert.is(unauthorised.err.error.code, 'TX_UNAUTHORISED_KEY');
  } finally {
    node.child.kill('SIGTERM');
    assert.is(await node.exited, 0);
  }
  assert.is(node.lines.at(-1)!.event, 'stopped');
});

test('a validator key in an encrypted keystore: the node starts with the password, refuses without', async () => {
  const home2 = join(dir, 'home2');
  assert.is(brop('init', '--home', home2, '--chain-id', 'brop-ks').status, 0);
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'validator secret\n');
  // The validator's plain key file becomes an encrypted keystore of the same key.
  const plain = JSON.parse(readFileSync(join(home2, 'keys', 'validator.json'), 'utf8'));
  const { writeKeystore } = await import('../../node/keys/keystore.ts');
  const { readKeyFile } = await import('../../node/keys/key-file.ts');
  writeKeystore(join(home2, 'keys', 'validator.json'), readKeyFile(join(home2, 'keys', 'validator.json')), 'validator secret', { overwrite: true });
  const shown = brop('keys', 'show', join(home2, 'keys', 'validator.json'), '--password-file', pw);
  assert.is(shown.json.address, plain.address);
  assert.is(shown.json.encrypted, true);
  assert.is(brop('keys', 'show', join(home2, 'keys', 'validator.json')).err.error.code, 'KEYSTORE_NO_PASSWORD');
  assert.is(await startNode(home2).then(() => 'started', (e: Error) => e.message.includes('KEYSTORE_NO_PASSWORD') ? 'refused' : e.message), 'refused');
  process.env.BROP_KEY_PASSWORD = 'validator secret';
  try {
    const node = await startNode(home2);
    assert.is(node.lines.find((l) => l.event === 'started')!.role, 'validator');
    node.child.kill('SIGTERM');
    await node.exited;
  } finally {
    delete process.env.BROP_KEY_PASSWORD;
  }
});

test('a proxy node: partners call with their API key; without one they are refused', async () => {
  const home3 = join(dir, 'home3');
  assert.is(brop('init', '--home', home3, '--chain-id', 'brop-proxy').status, 0);
  const created = brop('apikey', 'new', '--home', home3, '--name', 'partner-a', '--per-second', '20');
  assert.match(created.json.apiKey, /^[A-Za-z0-9_-]{32}$/);
  const node = await startNode(home3);
  try {
    assert.is(brop('status', '--rpc', node.rpc).err.error.code, 'RPC_UNAUTHORIZED');
    assert.is(brop('status', '--rpc', node.rpc, '--api-key', 'wrong').err.error.code, 'RPC_UNAUTHORIZED');
    assert.is(brop('status', '--rpc', node.rpc, '--api-key', created.json.apiKey).json.chainId, 'brop-proxy');
  } finally {
    node.child.kill('SIGTERM');
    await node.exited;
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
