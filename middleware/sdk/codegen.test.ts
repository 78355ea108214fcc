/**
 * Generated wrappers: for every system contract, `brop sdk generate` output typechecks under the
 * project's strict settings (and rejects wrongly typed calls), and works against a node; a wrapper
 * whose interface the node's contract no longer has refuses to run; the committed example wrapper is
 * what the generator makes today.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { SYSTEM_CONTRACTS, PERM } from '../../contracts/system/index.ts';
import { BROP } from '../../tooling/nodes/processes.ts';
import { startTestChain } from '../../tooling/nodes/in-process.ts';
import { BropClient, Wallet, errorCode, toHex, type ContractAbi } from './index.ts';
import { walletOf } from './node.ts';
import { generateWrapper } from './codegen.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SDK_ENTRY = fileURLToPath(new URL('./index.ts', import.meta.url));
const chain = await startTestChain({ blockTimeMs: 100 });
const operator = walletOf(chain.operator);
const client = new BropClient({ url: chain.url, wallet: operator });
const dir = mkdtempSync(join(tmpdir(), 'brop-sdk-codegen-'));
// Like a partner's project: ES modules.
writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');

/** Runs a command without blocking the event loop (the node under test lives in this process). */
function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function abiOf(name: string): Promise<ContractAbi> {
  return (await client.resolveContract(name)).abi;
}

test('brop sdk generate writes a wrapper from the node (--contract) and from an ABI file (--abi)', async () => {
  const fromNode = await run(process.execPath, [BROP, 'sdk', 'generate', '--contract', 'evidence', '--rpc', chain.url, '--out', join(dir, 'evidence.ts'), '--import', SDK_ENTRY]);
  assert.is(fromNode.code, 0, fromNode.out);
  assert.equal(JSON.parse(fromNode.out), { ok: true, out: join(dir, 'evidence.ts'), contract: 'evidence', methods: (await abiOf('evidence')).methods.length, structs: Object.keys((await abiOf('evidence')).structs).length });
  assert.is(readFileSync(join(dir, 'evidence.ts'), 'utf8'), generateWrapper(await abiOf('evidence'), { importFrom: SDK_ENTRY }));
  writeFileSync(join(dir, 'quota.abi.json'), JSON.stringify(await abiOf('quota')));
  const fromFile = await run(process.execPath, [BROP, 'sdk', 'generate', '--abi', join(dir, 'quota.abi.json'), '--out', join(dir, 'quota.ts'), '--import', SDK_ENTRY]);
  assert.is(fromFile.code, 0, fromFile.out);
  assert.is(readFileSync(join(dir, 'quota.ts'), 'utf8'), generateWrapper(await abiOf('quota'), { importFrom: SDK_ENTRY }));
  const usage = await run(process.execPath, [BROP, 'sdk', 'generate', '--contract', 'evidence', '--abi', join(dir, 'quota.abi.json'), '--out', join(dir, 'x.ts')]);
  assert.is(usage.code, 2);
  assert.is(JSON.parse(usage.out).error.code, 'CLI_USAGE');
});

test('the wrappers of all six system contracts typecheck strictly, and a wrongly typed call does not', async () => {
  for (const name of SYSTEM_CONTRACTS) writeFileSync(join(dir, `${name}.ts`), generateWrapper(await abiOf(name), { importFrom: SDK_ENTRY }));
  // Typed use: results have the contract's types; a wrong argument type is a compile error (so the types are not `any`).
  writeFileSync(join(dir, 'use.ts'), `
import type { BropClient, TxCommitted } from ${JSON.stringify(SDK_ENTRY)};
import { EvidenceContract, type Evidence, type EvidenceContractEvent } from './evidence.ts';
import { QuotaContract, type Schedule } from './quota.ts';
export async function use(client: BropClient, committed: TxCommitted): Promise<bigint> {
  const evidence = new EvidenceContract(client);
  const record: Evidence | null = await evidence.get('k');
  const ok: boolean = await evidence.verify('k', '0x00');
  const schedule: Schedule = await new QuotaContract(client).getSchedule();
  for (const e of await evidence.$events(committed)) {
    // The union narrows on the name: a registration carries the record.
    if (e.name === 'registered') { const r: Evidence = e.value; void r; }
    // @ts-expect-error: a confirmation carries an address, not a record
    if (e.name === 'confirmed') { const r: Evidence = e.value; void r; }
  }
  const none: EvidenceContractEvent[] = [];
  void none;
  // @ts-expect-error: a key is a string
  await evidence.get(42);
  // @ts-expect-error: register takes five arguments (and options)
  await evidence.register('k');
  return (record?.height ?? 0n) + schedule.base + (ok ? 1n : 0n);
}
`);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { typeRoots: [join(ROOT, 'node_modules', '@types')], noUnusedLocals: true },
    include: [join(dir, '*.ts')],
  }));
  const tsc = await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', join(dir, 'tsconfig.json')]);
  assert.is(tsc.code, 0, tsc.out);
  // The same check fails when the generated types are broken: it is not vacuous.
  writeFileSync(join(dir, 'broken.ts'), generateWrapper(await abiOf('evidence'), { importFrom: SDK_ENTRY }).replace('get(key: string, options?: sdk.CallOptions): Promise<Evidence | null>', 'get(key: string, options?: sdk.CallOptions): Promise<number>'));
  const broken = await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', join(dir, 'tsconfig.json')]);
  assert.is.not(broken.code, 0);
  rmSync(join(dir, 'broken.ts'));
});

test('the generated wrappers work against a node: views of every system contract, and a transaction', async () => {
  for (const name of SYSTEM_CONTRACTS) writeFileSync(join(dir, `${name}.ts`), generateWrapper(await abiOf(name), { importFrom: SDK_ENTRY }));
  const load = (name: string) => import(pathToFileURL(join(dir, `${name}.ts`)).href);
  const [{ AdmissionContract }, { IdentityContract }, { EvidenceContract }, { VoucherContract }, { QuotaContract }, { GovernanceContract }] = await Promise.all(SYSTEM_CONTRACTS.map(load));
  const partner = Wallet.fromPrivateKey(randomBytes(32));
  const admission = new AdmissionContract(client);
  assert.is((await admission.admitPartner(partner.address, 'Typed Partner', PERM.all, randomBytes(32))).receipt.status, 'ok');
  assert.is(await admission.roleOf(partner.address), 2);
  assert.is((await admission.getPartner(partner.address)).name, 'Typed Partner');
  const identity = new IdentityContract(client, { wallet: partner });
  assert.is(toHex(await identity.addressOfKey(partner.publicKey)), partner.addressHex);
  await identity.register(partner.publicKey, null);
  const evidence = new EvidenceContract(client, { wallet: partner });
  const digest = randomBytes(32);
  const pending = await evidence.$send.register('typed/1', digest, '', null, null);
  const committed = await pending.wait();
  const record = await evidence.get('typed/1');
  assert.is(record.height, BigInt(committed.height));
  const events = await evidence.$events(committed);
  assert.equal(events.map((e: { name: string }) => e.name), ['registered']);
  assert.equal(events[0].value, record);
  assert.is(await evidence.verify('typed/1', digest), true);
  assert.is(await new VoucherContract(client).getVoucher(1n), null);
  assert.is(typeof (await new QuotaContract(client).getSchedule()).periodBlocks, 'bigint');
  assert.equal((await new GovernanceContract(client).validators()).map(toHex), (await client.status()).validators);
});

test('a wrapper generated for another interface refuses to run (SDK_ABI_MISMATCH) instead of encoding wrong calls', async () => {
  const abi = structuredClone(await abiOf('evidence'));
  abi.methods.find((m) => m.name === 'register')!.params.pop();
  writeFileSync(join(dir, 'stale.ts'), generateWrapper(abi, { importFrom: SDK_ENTRY }));
  const { EvidenceContract } = await import(pathToFileURL(join(dir, 'stale.ts')).href);
  const stale = new EvidenceContract(client);
  assert.is(await stale.get('typed/1').then(() => 'ran', (e: unknown) => errorCode(e)), 'SDK_ABI_MISMATCH');
});

test('names that cannot be wrapper members are refused; parameters named like reserved words are renamed', async () => {
  const base = { name: 'odd', structs: {} };
  assert.throws(() => generateWrapper({ ...base, methods: [{ name: 'constructor', kind: 'call', params: [], returns: null }] }), /cannot be a wrapper method/);
  const src = generateWrapper({ ...base, methods: [{ name: 'put', kind: 'call', params: [{ name: 'class', type: 'u8' }, { name: 'options', type: 'string' }], returns: null }] });
  assert.match(src, /put\(class_: number, options_: string, options\?: sdk\.SubmitOptions\)/);
});

test('examples/sdk/evidence.ts is what `brop sdk generate --contract evidence` makes today', async () => {
  const committed = readFileSync(join(ROOT, 'examples', 'sdk', 'evidence.ts'), 'utf8');
  assert.is(committed, generateWrapper(await abiOf('evidence')), 'regenerate: brop sdk generate --contract evidence --out examples/sdk/evidence.ts');
});

test.after(async () => {
  await client.close();
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
