import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asFixture, wat } from '../../vm/test/fixtures.ts';

const brop = fileURLToPath(new URL('../../bin/brop.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'brop-cli-'));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [brop, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()!) : undefined };
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('vm exec prints one JSON line with result, output, gas, events and writes', async () => {
  const storage = file('storage.wasm', await asFixture('storage'));
  const r = run('vm', 'exec', storage, 'increment');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim().split('\n').length, 1);
  assert.is(r.json.ok, true);
  assert.is(r.json.result, 1);
  assert.ok(r.json.gasUsed > 0);
  assert.is(r.json.error, null);
  assert.is(r.json.events.length, 1);
  assert.is(r.json.writes[0].key, Buffer.from('n').toString('hex'));
  const echo = run('vm', 'exec', storage, 'echo', '--input', 'deadbeef');
  assert.is(echo.json.output, 'deadbeef');
});

test('vm exec reports contract failures as typed errors with exit status 1', async () => {
  const hostile = file('hostile.wasm', await asFixture('hostile'));
  const r = run('vm', 'exec', hostile, 'spin', '--gas', '5000');
  assert.is(r.status, 1);
  assert.equal(r.json.error.code, 'VM_OUT_OF_GAS');
  assert.is(r.json.gasUsed, 5000);
  const bad = run('vm', 'exec', file('bad.wasm', new Uint8Array([0, 1, 2])), 'f');
  assert.is(bad.json.error.code, 'VM_MODULE_MALFORMED');
  const start = run('vm', 'exec', file('start.wasm', wat('(module (func $s) (start $s) (func (export "f")))')), 'f');
  assert.is(start.json.error.code, 'VM_MODULE_FORBIDDEN');
});

test('vm exec rejects bad arguments with a usage error', async () => {
  const r = run('vm', 'exec', 'nope.wasm', 'f', '--input', 'xyz');
  assert.is(r.status, 2);
  assert.is(JSON.parse(r.stderr).error.code, 'CLI_USAGE');
  const missing = run('vm', 'exec', join(dir, 'missing.wasm'), 'f');
  assert.is(missing.status, 1);
  assert.is(JSON.parse(missing.stderr).error.code, 'CLI_FILE');
  assert.is(run('vm', 'exec', 'x.wasm', 'f', '--gas', '-5').status, 2);
});

test('vm instrument writes a module any engine runs with the original imports, gas counter preset', async () => {
  const src = file('compute.wasm', await asFixture('compute'));
  const out = join(dir, 'compute.metered.wasm');
  const r = run('vm', 'instrument', src, out, '--gas', '777777');
  assert.is(r.status, 0, r.stderr);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { abort: () => { throw new Error('abort'); } } });
  assert.is((inst.exports.__brop_gas as WebAssembly.Global).value, 777777n);
  (inst.exports._initialize as () => void)();
  const before = (inst.exports.__brop_gas as WebAssembly.Global).value as bigint;
  assert.is((inst.exports.fib as () => bigint)(), 23416728348467685n);
  assert.ok(((inst.exports.__brop_gas as WebAssembly.Global).value as bigint) < before);
  // The same module through exec: identical code hash reported.
  assert.match(r.json.codeHash, /^[0-9a-f]{64}$/);
});

test('vm instrument accepts any valid module, even one the VM would refuse to deploy', () => {
  const src = file('start2.wasm', wat('(module (import "env" "seed" (func (result f64))) (func $s) (start $s))'));
  const r = run('vm', 'instrument', src, join(dir, 'start2.out.wasm'));
  assert.is(r.status, 0, r.stderr);
  const invalid = run('vm', 'instrument', file('inv.wasm', new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 10, 4, 1, 2, 0, 0x0b])), join(dir, 'x.wasm'));
  assert.is(invalid.status, 1);
  assert.is(JSON.parse(invalid.stderr).error.code, 'VM_MODULE_INVALID');
});

test('contract build prints the code hash and writes the module and its ABI', () => {
  const example = fileURLToPath(new URL('../../examples/notary', import.meta.url));
  const r = run('contract', 'build', example);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.json.name, 'notary');
  assert.match(r.json.codeHash, /^[0-9a-f]{64}$/);
  assert.equal(JSON.parse(readFileSync(r.json.abi, 'utf8')).codeHash, r.json.codeHash);
  assert.ok(readFileSync(r.json.wasm).length > 0);
  const bad = run('contract', 'build', join(dir, 'nowhere'));
  assert.is(bad.status, 1);
  assert.is(JSON.parse(bad.stderr).error.code, 'CLI_FILE');
});

test('contract test builds and runs the project\'s tests, with the summary line', () => {
  const example = fileURLToPath(new URL('../../examples/notary', import.meta.url));
  const r = spawnSync(process.execPath, [brop, 'contract', 'test', example], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
