/**
 * Wallets: the same transactions (bytes and hash) as the node's own signing, keys from key files and
 * keystores with the key modules' error codes, accounts whose key is not their first, and the
 * browser-safe entry point (no Node modules or globals anywhere in its import graph).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import vm from 'node:vm';
import { build } from 'esbuild';
import { accountAddress } from '../../contracts/system/index.ts';
import { SignedTx, signTransaction } from '../../node/tx/transaction.ts';
import { newKeyPair, writeKeyFile } from '../../node/keys/key-file.ts';
import { writeKeystore } from '../../node/keys/keystore.ts';
import { Wallet, addressOf, toHex, fromHex, errorCode } from './index.ts';
import { loadWallet, walletOf } from './node.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-sdk-wallet-'));

const body = () => ({
  chainId: 'brop-test', nonce: 12345678901234567n, validUntilBlock: 42n, contract: randomBytes(32), method: 'register', args: randomBytes(70),
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return errorCode(e) ?? `untyped: ${(e as Error).message}`;
  }
  return undefined;
}

test('a wallet from a private key signs exactly what the node signs: same bytes, same hash; the node accepts the signature', async () => {
  const key = newKeyPair();
  const b = body();
  const mine = await Wallet.fromPrivateKey(key.privateKey).signTransaction(b);
  const nodes = SignedTx.from(signTransaction({ ...b, sender: accountAddress(key.publicKey) }, key.privateKey));
  assert.is(mine.raw, toHex(nodes.bytes));
  assert.is(mine.hash, `0x${nodes.hashHex}`);
  SignedTx.decode(mine.bytes).verifySignature();
  // The node-only wallet (node:crypto) gives the same transaction.
  assert.is((await walletOf(key).signTransaction(b)).raw, mine.raw);
  assert.equal(addressOf(key.publicKey), accountAddress(key.publicKey));
  assert.is(Wallet.fromPrivateKey(toHex(key.privateKey)).addressHex, toHex(accountAddress(key.publicKey)));
});

test('an account whose signing key was added later signs for its own address', async () => {
  const key = newKeyPair(), account = randomBytes(32);
  const w = Wallet.fromPrivateKey(key.privateKey, { account });
  assert.is(w.addressHex, toHex(account));
  const s = await w.signTransaction(body());
  assert.is(toHex(s.tx.sender), toHex(account));
  assert.is(toHex(s.tx.publicKey), toHex(key.publicKey));
  SignedTx.decode(s.bytes).verifySignature();
});

test('any signer plugs in (asynchronous ones too); one that returns a bad signature is SDK_BAD_SIGNATURE', async () => {
  const key = newKeyPair();
  const node = walletOf(key);
  const remote = Wallet.fromSigner({ publicKey: key.publicKey, sign: async (m) => node.signer.sign(m) });
  assert.is((await remote.signTransaction(body())).tx.signature.length, 64);
  const broken = Wallet.fromSigner({ publicKey: key.publicKey, sign: () => new Uint8Array(10) });
  assert.is(await codeOf(broken.signTransaction(body())), 'SDK_BAD_SIGNATURE');
  assert.is(await codeOf(() => Wallet.fromSigner({ publicKey: new Uint8Array(5), sign: () => new Uint8Array(64) })), 'SDK_BAD_KEY');
  assert.is(await codeOf(() => Wallet.fromPrivateKey('0x1234')), 'SDK_BAD_KEY');
});

test('key files and keystores load with their own error codes; the password comes from the option, a file or the environment', async () => {
  const key = newKeyPair();
  const plain = join(dir, 'plain.json'), sealed = join(dir, 'sealed.json'), pwFile = join(dir, 'pw');
  const file = writeKeyFile(plain, key);
  writeKeystore(sealed, key, 'open sesame');
  writeFileSync(pwFile, 'open sesame\n');
  assert.is((await loadWallet(plain)).addressHex, file.address);
  assert.is(Wallet.fromKeyFile(JSON.parse(readFileSync(plain, 'utf8'))).addressHex, file.address);
  assert.is((await loadWallet(sealed, { password: 'open sesame' })).addressHex, file.address);
  assert.is((await loadWallet(sealed, { passwordFile: pwFile })).addressHex, file.address);
  process.env.BROP_SDK_TEST_PW = 'open sesame';
  try {
    assert.is((await loadWallet(sealed, { passwordEnv: 'BROP_SDK_TEST_PW' })).addressHex, file.address);
  } finally {
    delete process.env.BROP_SDK_TEST_PW;
  }
  assert.is(await codeOf(loadWallet(sealed, { password: 'wrong' })), 'KEYSTORE_BAD_PASSWORD');
  assert.is(await codeOf(loadWallet(sealed, { passwordEnv: 'BROP_SDK_TEST_UNSET' })), 'KEYSTORE_NO_PASSWORD');
  assert.is(await codeOf(loadWallet(join(dir, 'missing.json'))), 'KEY_FILE_MISSING');
  writeFileSync(join(dir, 'bad.json'), '{"type":"ed25519","privateKey":"0x12"}');
  assert.is(await codeOf(loadWallet(join(dir, 'bad.json'))), 'KEY_FILE_INVALID');
  assert.is(await codeOf(() => Wallet.fromKeyFile(JSON.parse(readFileSync(sealed, 'utf8')))), 'SDK_BAD_KEY');
  const other = JSON.parse(readFileSync(plain, 'utf8'));
  other.publicKey = toHex(newKeyPair().publicKey);
  assert.is(await codeOf(() => Wallet.fromKeyFile(other)), 'SDK_BAD_KEY');
  assert.is(await codeOf(() => fromHex('0xzz')), 'SDK_BAD_BYTES');
});

// ---- browser safety ----

const SDK_DIR = dirname(fileURLToPath(import.meta.url));

/** The modules `entry` loads at run time (type-only imports are erased), transitively, as absolute paths and bare specifiers. */
function runtimeImports(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>(), packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) {
      if (m[2]) continue; // `import type` / `export type`: erased
      const spec = m[3]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files: [...files], packages: [...packages] };
}

test('the SDK entry point loads no Node module and uses no Node global (the key-file loaders are in node.ts)', () => {
  const { files, packages } = runtimeImports(join(SDK_DIR, 'index.ts'));
  assert.ok(files.length > 8, files.join(', '));
  assert.ok(!files.some((f) => f.endsWith('/node.ts') && f.startsWith(SDK_DIR)), 'index.ts must not load node.ts');
  assert.equal(packages.filter((p) => !p.startsWith('@noble/')), [], `packages: ${packages.join(', ')}`);
  for (const f of files) {
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').replace(/'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, "''");
    assert.not.match(code, /\bBuffer\b|\bprocess\.|\brequire\(|\b__dirname\b/, `${f} uses a Node global`);
  }
});

test('with Node\'s globals removed, the SDK still loads, builds a wallet and signs the same transaction', () => {
  const key = newKeyPair();
  const b = { ...body(), contract: toHex(randomBytes(32)), args: toHex(randomBytes(20)) };
  const expected = SignedTx.from(signTransaction({ ...b, contract: fromHex(b.contract), args: fromHex(b.args), sender: accountAddress(key.publicKey) }, key.privateKey));
  const script = `
    const [keyHex, bodyJson] = process.argv.slice(1), out = process.stdout;
    delete globalThis.process; delete globalThis.Buffer; delete globalThis.require; delete globalThis.global;
    const sdk = await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});
    const b = JSON.parse(bodyJson);
    const s = await sdk.Wallet.fromPrivateKey(keyHex).signTransaction({ ...b, nonce: BigInt(b.nonce), validUntilBlock: BigInt(b.validUntilBlock), contract: sdk.fromHex(b.contract), args: sdk.fromHex(b.args) });
    out.write(JSON.stringify({ buffer: typeof Buffer, hash: s.hash, raw: s.raw }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, toHex(key.privateKey), JSON.stringify({ ...b, nonce: String(b.nonce), validUntilBlock: String(b.validUntilBlock) })], { encoding: 'utf8' });
  assert.is(r.stderr, '');
  assert.equal(JSON.parse(r.stdout), { buffer: 'undefined', hash: `0x${expected.hashHex}`, raw: toHex(expected.bytes) });
});

test('esbuild bundles brop/sdk for browsers (which refuses node: modules), and the bundle signs in a context without Node globals', async () => {
  const r = await build({
    entryPoints: [join(SDK_DIR, 'index.ts')], bundle: true, platform: 'browser', format: 'iife', globalName: 'BropSdk',
    target: 'es2022', write: false, metafile: true, logLevel: 'silent', minify: true,
  });
  const inputs = Object.keys(r.metafile!.inputs);
  assert.not.ok(inputs.some((i) => i.startsWith('node:') || i.endsWith('middleware/sdk/node.ts')), inputs.join(', '));
  const code = r.outputFiles![0]!.text;
  assert.ok(code.length < 400_000, `${code.length} bytes`);
  const context = vm.createContext({ TextEncoder, TextDecoder, URL, crypto: globalThis.crypto });
  vm.runInContext(code, context);
  for (const name of ['Buffer', 'process', 'require']) assert.is(vm.runInContext(`typeof ${name}`, context), 'undefined');
  const key = newKeyPair(), b = body();
  const expected = SignedTx.from(signTransaction({ ...b, sender: accountAddress(key.publicKey) }, key.privateKey));
  Object.assign(context, { keyHex: toHex(key.privateKey), contract: toHex(b.contract), args: toHex(b.args) });
  const signed = await vm.runInContext(`BropSdk.Wallet.fromPrivateKey(keyHex).signTransaction({
    chainId: ${JSON.stringify(b.chainId)}, nonce: ${b.nonce}n, validUntilBlock: ${b.validUntilBlock}n,
    contract: BropSdk.fromHex(contract), method: ${JSON.stringify(b.method)}, args: BropSdk.fromHex(args),
  }).then((s) => s.raw)`, context);
  assert.is(signed, toHex(expected.bytes));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
