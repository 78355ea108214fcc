/**
 * The documented operator and partner commands against a real node process: init, start, status,
 * keys, tx (submit and wait), call, and a clean stop on SIGTERM.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROP, freeBasePort, startNode } from '../../tooling/nodes/processes.ts';
import { RpcClient } from '../../node/rpc/client.ts';

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
  // Homes made with other RPC ports get their middleware's 5 above it, not all the default 8650.
  assert.is(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).middleware.port, 8650);
  assert.is(brop('init', '--home', join(dir, 'other-port'), '--rpc-port', '18645').status, 0);
  assert.equal(JSON.parse(readFileSync(join(dir, 'other-port', 'config.json'), 'utf8')).middleware.port, 18650);
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
    assert.match(bad.err.error.message, /^admission\.admitPartner: expected 4 values, got 1/);
    const badField = brop('tx', 'admission', 'admitPartner', '--args', JSON.stringify([1, 'Partner', 7, `0x${'ab'.repeat(32)}`]), '--key', init.json.operatorKey, '--rpc', node.rpc);
    assert.match(badField.err.error.message, /^admission\.admitPartner\.\w+/);
    // No node there: the error says where it tried and why.
    const closed = await freePort();
    assert.match(brop('status', '--rpc', `http://127.0.0.1:${closed}/`).err.error.message, new RegExp(`http://127\\.0\\.0\\.1:${closed}/ failed: ECONNREFUSED`));
    const unauthorised = brop('tx', 'admission', 'roleOf', '--args', JSON.stringify([key.json.address]), '--key', join(dir, 'partner.json'), '--rpc', node.rpc);
    assert.is(unauthorised.err.error.code, 'TX_UNAUTHORISED_KEY');
  } finally {
    node.child.kill('SIGTERM');
    assert.is(await node.exited, 0);
  }
  assert.is(node.lines.at(-1)!.event, 'stopped');
});

test('a validator key in an encrypted keystore: the node starts with the password (file or env), refuses without or with a wrong one', async () => {
  const home2 = join(dir, 'home2');
  assert.is(brop('init', '--home', home2, '--chain-id', 'brop-ks', '--rpc-port', '0').status, 0);
  const pw = join(dir, 'pw'), wrong = join(dir, 'wrong-pw');
  writeFileSync(pw, 'validator secret\n');
  writeFileSync(wrong, 'guess\n');
  // The validator's plain key file becomes an encrypted keystore of the same key, in place.
  const validatorKey = join(home2, 'keys', 'validator.json');
  const plain = JSON.parse(readFileSync(validatorKey, 'utf8'));
  const encrypted = brop('keys', 'encrypt', validatorKey, '--password-file', pw);
  assert.is(encrypted.status, 0, encrypted.stderr);
  assert.equal([encrypted.json.address, encrypted.json.encrypted], [plain.address, true]);
  assert.not.match(readFileSync(validatorKey, 'utf8'), plain.privateKey.replace(/^0x/, ''), 'the plain key is gone');
  assert.is(brop('keys', 'encrypt', validatorKey, '--password-file', pw).err.error.code, 'KEYSTORE_ALREADY_ENCRYPTED', 'a keystore is not encrypted twice');
  const shown = brop('keys', 'show', validatorKey, '--password-file', pw);
  assert.is(shown.json.address, plain.address);
  assert.is(shown.json.encrypted, true);
  assert.is(brop('keys', 'show', validatorKey).err.error.code, 'KEYSTORE_NO_PASSWORD');
  const refusal = (e: Error) => /KEYSTORE_NO_PASSWORD|KEYSTORE_BAD_PASSWORD/.exec(e.message)?.[0] ?? e.message;
  assert.is(await startNode(home2).then(() => 'started', refusal), 'KEYSTORE_NO_PASSWORD');
  assert.is(await startNode(home2, ['--password-file', wrong]).then(() => 'started', refusal), 'KEYSTORE_BAD_PASSWORD');
  const node = await startNode(home2, ['--password-file', pw]);
  try {
    assert.is(node.lines.find((l) => l.event === 'started')!.role, 'validator');
    // A second node on the same home is refused with a reason, not LevelDB's "failed to open".
    assert.match(await startNode(home2, ['--password-file', pw]).then(() => 'started', (e: Error) => e.message), /STORE_LOCKED/);
  } finally {
    node.child.kill('SIGTERM');
    await node.exited;
  }
  process.env.BROP_KEY_PASSWORD = 'validator secret';
  try {
    const again = await startNode(home2);
    assert.is(again.lines.find((l) => l.event === 'started')!.role, 'validator');
    again.child.kill('SIGTERM');
    await again.exited;
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

test('brop tx waits through a node killed (SIGKILL) and restarted: it says so on stderr, and ends with the receipt', async () => {
  const home3 = join(dir, 'home-wait');
  // Blocks far apart: the kill must come between acceptance and the block (a block time of 1.5 s lost that race ~4% of runs).
  const init = brop('init', '--home', home3, '--chain-id', 'brop-wait', '--block-time', '6000');
  assert.is(init.status, 0, init.stderr);
  // Below the ephemeral range: brop tx reconnects to this port while the node is down (see freeBasePort).
  const port = await freeBasePort(1);
  let node = await startNode(home3, ['--rpc-port', String(port)]);
  const rpc = `http://127.0.0.1:${port}/`;
  const tx = spawn(process.execPath, [BROP, 'tx', 'admission', 'roleOf', '--args', JSON.stringify([readKeyAddress(init.json.operatorKey)]), '--key', init.json.operatorKey, '--rpc', rpc], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  tx.stdout!.on('data', (d) => (stdout += d));
  tx.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => tx.once('exit', (code) => r(code)));
  try {
    // Accepted (pending, on disk; brop tx says so with the hash), then the node dies before its block.
    await until(async () => stderr.includes('"accepted"'), 10_000);
    assert.is((await new RpcClient(rpc).call<{ pendingTxs: number }>('chain_status')).pendingTxs, 1);
    node.child.kill('SIGKILL');
    await node.exited;
    await until(async () => stderr.includes('connection-lost'), 10_000).catch((e) => { throw new Error(`${e.message}: stderr ${stderr} stdout ${stdout}`); });
    node = await startNode(home3, ['--rpc-port', String(port)]);
    assert.is(await exited, 0, stderr);
    const final = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal([final.status, final.receipt.status], ['committed', 'ok']);
  } finally {
    tx.kill();
    node.child.kill('SIGTERM');
    await node.exited;
  }
});

function readKeyAddress(file: string): string {
  return JSON.parse(readFileSync(file, 'utf8')).address;
}

test('a port already taken: start names it (RPC_LISTEN_FAILED, P2P_LISTEN_FAILED) instead of failing with a stack', async () => {
  const net = join(dir, 'net');
  const base = 33_000 + Math.floor(Math.random() * 5000);
  assert.is(brop('init', '--home', net, '--validators', '1', '--base-port', String(base)).status, 0);
  const occupy = (port: number) => new Promise<ReturnType<typeof createServer>>((r) => { const srv = createServer().listen(port, '127.0.0.1', () => r(srv)); });
  for (const [port, code] of [[base, 'RPC_LISTEN_FAILED'], [base + 100, 'P2P_LISTEN_FAILED']] as const) {
    const srv = await occupy(port);
    try {
      const r = brop('start', '--home', join(net, 'validator-1'), '--no-progress');
      assert.is(r.status, 1, r.stderr);
      assert.is(r.err.error.code, code, r.stderr);
    } finally {
      srv.close();
    }
  }
});

async function freePort(): Promise<number> {
  return new Promise<number>((r) => { const srv = createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as AddressInfo).port; srv.close(() => r(p)); }); });
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
