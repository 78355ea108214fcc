import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptKey, encryptKey, readKeystore, writeKeystore } from './keystore.ts';
import { newKeyPair } from './key-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-keystore-'));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped ${(e as Error).message}`;
  }
  return undefined;
}

test('a keystore opens with its password only; the file holds no plain key', async () => {
  const k = newKeyPair();
  const path = join(dir, 'validator.keystore.json');
  writeKeystore(path, k, 'correct horse');
  const text = readFileSync(path, 'utf8');
  assert.not.ok(text.includes(Buffer.from(k.privateKey).toString('hex')));
  assert.equal(await readKeystore(path, { env: 'NO_SUCH_VAR_FOR_TEST', file: undefined, prompt: false }).catch((e) => e.code), 'KEYSTORE_NO_PASSWORD');
  process.env.BROP_TEST_PASSWORD = 'correct horse';
  assert.equal((await readKeystore(path, { env: 'BROP_TEST_PASSWORD' })).privateKey, k.privateKey);
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, 'correct horse\n');
  assert.equal((await readKeystore(path, { file: pwFile })).publicKey, k.publicKey);
  assert.is(code(() => decryptKey(JSON.parse(text), 'wrong')), 'KEYSTORE_BAD_PASSWORD');
});

test('any changed byte of the ciphertext, tag, iv or salt fails; malformed parameters are refused before any work', () => {
  const k = newKeyPair();
  const f = encryptKey(k, 'pw');
  for (const field of ['ciphertext', 'tag', 'iv', 'salt'] as const) {
    const v = f.crypto[field];
    const flipped = (parseInt(v[0]!, 16) ^ 1).toString(16) + v.slice(1);
    assert.is(code(() => decryptKey({ ...f, crypto: { ...f.crypto, [field]: flipped } }, 'pw')), 'KEYSTORE_BAD_PASSWORD', field);
  }
  assert.is(code(() => decryptKey({ ...f, crypto: { ...f.crypto, n: 2 ** 30 } }, 'pw')), 'KEYSTORE_INVALID');
  assert.is(code(() => decryptKey({ ...f, crypto: { ...f.crypto, n: 1000 } }, 'pw')), 'KEYSTORE_INVALID');
  assert.is(code(() => decryptKey({ ...f, publicKey: `0x${'00'.repeat(32)}` }, 'pw')), 'KEYSTORE_INVALID');
  assert.is(code(() => decryptKey({ type: 'other' }, 'pw')), 'KEYSTORE_INVALID');
  assert.is(code(() => encryptKey(k, '')), 'KEYSTORE_NO_PASSWORD');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
