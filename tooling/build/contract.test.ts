import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContract } from './contract.ts';
import { CompileError } from './assemblyscript.ts';
import { Vm } from '../../vm/vm.ts';

const example = fileURLToPath(new URL('../../examples/notary', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'brop-build-'));

function project(name: string, index: string, extra: Record<string, string> = {}): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'assembly'), { recursive: true });
  writeFileSync(join(dir, 'assembly', 'index.ts'), index);
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, 'assembly', f), text);
  return dir;
}

async function buildError(dir: string): Promise<string> {
  try {
    await buildContract(dir, { outDir: join(dir, 'out'), cache: false });
  } catch (e) {
    assert.instance(e, CompileError);
    return (e as Error).message;
  }
  assert.unreachable('the build succeeded');
  return '';
}

test('reproducible: the same sources build to the same code hash, wherever the project lives', async () => {
  const a = await buildContract(example, { outDir: join(tmp, 'a'), cache: false });
  const copy = join(tmp, 'copy-of-notary');
  cpSync(example, copy, { recursive: true, filter: (p) => !p.includes('/build') });
  const b = await buildContract(copy, { outDir: join(tmp, 'b'), cache: false });
  assert.is(a.abi.codeHash, b.abi.codeHash);
  assert.equal(a.wasm, b.wasm);
});

test('the ABI is generated from the source: methods, kinds, parameter and return types, structs', async () => {
  const { abi } = await buildContract(example, { outDir: join(tmp, 'abi') });
  assert.is(abi.name, 'notary');
  const register = abi.methods.find((m) => m.name === 'register')!;
  assert.equal(register, { name: 'register', kind: 'call', params: [{ name: 'key', type: 'string' }, { name: 'digest', type: 'bytes32' }, { name: 'note', type: { option: 'string' } }], returns: 'u64' });
  assert.is(abi.methods.find((m) => m.name === 'get')!.kind, 'view');
  assert.equal(abi.methods.find((m) => m.name === 'get')!.returns, { option: { struct: 'Notarisation' } });
  assert.equal(abi.structs.Notarisation!.map((f) => f.name), ['owner', 'digest', 'height', 'time', 'note', 'witnesses']);
  assert.equal(abi.structs.Notarisation![5]!.type, { array: 'bytes32' });
});

test('built modules pass the VM\'s validation and export exactly the methods', async () => {
  const { wasm, abi } = await buildContract(example, { outDir: join(tmp, 'vm') });
  const p = new Vm().prepare(wasm);
  assert.equal([...p.exports.keys()].sort(), abi.methods.map((m) => m.name).sort());
  for (const t of p.exports.values()) assert.is(t.params.length, 0);
});

test('unsupported types are refused with the place they appear', async () => {
  assert.match(await buildError(project('float', 'export function f(x: f64): void {}\n')), /index\.ts:1: method f, parameter x: type "f64" is not supported.*integers/);
  assert.match(await buildError(project('usize', '\nexport function f(): usize { return 0; }\n')), /index\.ts:2: method f, return type: type "usize"/);
  assert.match(await buildError(project('plain-class', 'class P { a: u8 = 0; }\nexport function f(p: P): void {}\n')), /type "P" is not supported.*@serializable/);
  assert.match(await buildError(project('nullable-int', 'export function f(x: u64 | null): void {}\n')), /only reference types can be null/);
});

test('reserved names, missing entry and empty contracts are refused', async () => {
  assert.match(await buildError(project('reserved', 'export function __brop_x(): void {}\n')), /reserved/);
  assert.match(await buildError(project('none', 'function f(): void {}\n')), /exports no methods/);
  const empty = join(tmp, 'empty');
  mkdirSync(empty, { recursive: true });
  assert.match(await buildError(empty), /assembly\/index\.ts not found/);
});

test('compiler errors point at the author\'s own lines', async () => {
  const msg = await buildError(project('typo', 'import { Context } from "@brop/sdk";\n\nexport function f(): u64 {\n  return Context.blockHeigth();\n}\n'));
  assert.match(msg, /blockHeigth/);
  assert.match(msg, /index\.ts\(4,/);
});

test('events: every emit<T>(name) is in the ABI with its data type; names must be literals and T explicit', async () => {
  const ok = project('events-ok', `import { emit, emitEncoded, Bytes32 } from "@brop/sdk";
@serializable class Thing { id: u64 = 0; owner: Bytes32 = Bytes32.zero(); }
export function make(open: bool): void {
  const t = new Thing();
  emit<Thing>("made", t, ["x"]);
  emit<u64>(open ? "opened" : "closed", 7);
  emitEncoded<Array<Bytes32>>("listed", new Uint8Array(4));
}`);
  const built = await buildContract(ok, { outDir: join(ok, 'out'), cache: false });
  assert.equal(built.abi.events, [
    { name: 'closed', data: 'u64' }, { name: 'listed', data: { array: 'bytes32' } },
    { name: 'made', data: { struct: 'Thing' } }, { name: 'opened', data: 'u64' },
  ]);
  const untyped = project('events-untyped', `import { emit } from "@brop/sdk";
export function f(): void { emit("x", <u64>1); }`);
  assert.match(await buildError(untyped), /write emit<T>/);
  const computed = project('events-computed', `import { emit } from "@brop/sdk";
export function f(n: string): void { emit<u64>(n, 1); }`);
  assert.match(await buildError(computed), /string literal/);
  const clash = project('events-clash', `import { emit } from "@brop/sdk";
export function f(): void { emit<u64>("x", 1); emit<string>("x", "a"); }`);
  assert.match(await buildError(clash), /two different data types/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
