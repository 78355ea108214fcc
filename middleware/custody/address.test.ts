/**
 * The custody address: one canonical string per file and service, strict reading, its digest (what
 * evidence.register keeps); and the client bundled for browsers, run in a context with web globals only.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { build } from 'esbuild';
import { canonicalBaseUrl, custodyDigest, digestHex, downloadUrl, formatCustodyAddress, parseCustodyAddress } from './address.ts';
import { CustodyError } from './errors.ts';
import { RpcServer } from '../../node/rpc/server.ts';
import { FsContentStore } from './store.ts';
import { registerCustodyRoutes } from './http.ts';

const HEX = createHash('sha256').update('a document').digest('hex');
const badAddress = (f: () => unknown, what: string) => assert.throws(f, (e: CustodyError) => e.code === 'CUSTODY_BAD_ADDRESS', what);

test('format: the digest in lower case, then @ and the canonical base URL; its digest is SHA-256 of its UTF-8 bytes', () => {
  const a = formatCustodyAddress(`0x${HEX.toUpperCase()}`, 'HTTPS://Registry.Example.ORG:443/files');
  assert.is(a, `brop-custody:sha256:${HEX}@https://registry.example.org/files/`);
  assert.equal(parseCustodyAddress(a), { algorithm: 'sha256', hex: HEX, base: 'https://registry.example.org/files/' });
  assert.is(custodyDigest(a), `0x${createHash('sha256').update(Buffer.from(a, 'utf8')).digest('hex')}`);
  assert.is(downloadUrl(a), `https://registry.example.org/files/custody/sha256/${HEX}`);
  // A fixed vector, so the definition cannot drift unnoticed.
  const fixed = formatCustodyAddress('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'http://127.0.0.1:8650/');
  assert.is(fixed, 'brop-custody:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08@http://127.0.0.1:8650/');
  assert.is(custodyDigest(fixed), `0x${createHash('sha256').update(fixed).digest('hex')}`);
  // Non-ASCII hosts and paths are written as the URL standard writes them (punycode, percent-encoding).
  assert.is(canonicalBaseUrl('https://例え.jp/文書'), 'https://xn--r8jz45g.jp/%E6%96%87%E6%9B%B8/');
  assert.is(canonicalBaseUrl('http://example.org'), 'http://example.org/');
  assert.is(canonicalBaseUrl('http://example.org:80/a/b/'), 'http://example.org/a/b/');
});

test('reading is strict: anything but the canonical form is CUSTODY_BAD_ADDRESS', () => {
  const base = 'https://registry.example.org/';
  for (const [bad, what] of [
    [`brop-custody:sha256:${HEX}@${base}`.replace('brop-custody', 'BROP-CUSTODY'), 'scheme case'],
    [`brop-custody:sha512:${HEX}@${base}`, 'another algorithm'],
    [`brop-custody:sha256:${HEX.slice(1)}@${base}`, '63 digits'],
    [`brop-custody:sha256:${HEX}0@${base}`, '65 digits'],
    [`brop-custody:sha256:${HEX.toUpperCase()}@${base}`, 'upper case'],
    [`brop-custody:sha256:0x${HEX.slice(2)}@${base}`, '0x'],
    [`brop-custody:sha256:${'../'.repeat(21)}x@${base}`, 'traversal'],
    [`brop-custody:sha256:${HEX}`, 'no base'],
    [`brop-custody:sha256:${HEX}@`, 'empty base'],
    [`brop-custody:sha256:${HEX}@https://Registry.example.org/`, 'host case'],
    [`brop-custody:sha256:${HEX}@https://registry.example.org`, 'no final slash'],
    [`brop-custody:sha256:${HEX}@https://registry.example.org:443/`, 'default port'],
    [`brop-custody:sha256:${HEX}@https://registry.example.org/?x=1`, 'query'],
    [`brop-custody:sha256:${HEX}@https://registry.example.org/#x`, 'fragment'],
    [`brop-custody:sha256:${HEX}@https://user:pw@registry.example.org/`, 'credentials'],
    [`brop-custody:sha256:${HEX}@ftp://registry.example.org/`, 'not http'],
    [`brop-custody:sha256:${HEX}@javascript:alert(1)//`, 'javascript'],
    [`brop-custody:sha256:${HEX}@https://registry.example.org/${'a'.repeat(600)}/`, 'too long'],
    [` brop-custody:sha256:${HEX}@${base}`, 'leading space'],
    [`brop-custody:sha256:${HEX}@${base} `, 'trailing space'],
  ] as const) {
    badAddress(() => parseCustodyAddress(bad), what);
    badAddress(() => custodyDigest(bad), what);
  }
  badAddress(() => parseCustodyAddress(42), 'not a string');
  badAddress(() => digestHex('xyz'), 'digest');
  badAddress(() => formatCustodyAddress(HEX, 'not a url'), 'base');
});

test('the client bundles for browsers and uploads, checks and downloads with web globals only (no Buffer, process, require)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'brop-custody-browser-'));
  const store = await FsContentStore.open(join(out, 'store'));
  const server = new RpcServer({ port: 0 });
  registerCustodyRoutes(server, { store });
  const { url } = await server.listen();
  try {
    const r = await build({
      entryPoints: [fileURLToPath(new URL('./client.ts', import.meta.url))], bundle: true, platform: 'browser', format: 'iife',
      globalName: 'BropCustody', write: false, metafile: true, logLevel: 'silent', target: 'es2022',
    });
    const inputs = Object.keys(r.metafile!.inputs);
    assert.not.ok(inputs.some((i) => i.startsWith('node:') || (!i.startsWith('node_modules/') && !i.startsWith('middleware/custody/'))), inputs.join(', '));
    const code = r.outputFiles[0]!.text;
    assert.not.match(code, /\bnode:/);
    const context = vm.createContext({ fetch, Blob, URL, TextEncoder, TextDecoder, Response });
    vm.runInContext(code, context);
    for (const name of ['Buffer', 'process', 'require']) assert.is(vm.runInContext(`typeof ${name}`, context), 'undefined');
    Object.assign(context, { serviceUrl: url, seed: [...randomBytes(32)] });
    const result = await (vm.runInContext(`(async () => {
      const bytes = new Uint8Array(100000).map((_, i) => seed[i % 32] ^ (i & 255));
      const receipt = await BropCustody.uploadToCustody(serviceUrl, new Blob([bytes], { type: 'application/pdf' }));
      const args = BropCustody.evidenceRegisterArgs('doc-1', receipt, { meta: 'm' });
      const back = await BropCustody.downloadFromCustody(receipt.address, { expectedDigest: receipt.digest });
      const same = back.bytes.length === bytes.length && back.bytes.every((b, i) => b === bytes[i]);
      return JSON.stringify({ receipt, args, same, hex: (await BropCustody.hashFile(bytes)).hex });
    })()`, context) as Promise<string>);
    const { receipt, args, same, hex } = JSON.parse(result) as { receipt: { digest: string; custodyDigest: string; address: string }; args: unknown[]; same: boolean; hex: string };
    assert.ok(same, 'the downloaded bytes are the uploaded ones');
    assert.is(receipt.digest, `0x${hex}`);
    assert.ok(await store.stat(hex), 'the service stored it');
    assert.equal(args, ['doc-1', receipt.digest, 'm', null, receipt.custodyDigest]);
    assert.is(receipt.custodyDigest, custodyDigest(receipt.address));
  } finally {
    await server.close();
    await store.close();
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
