/**
 * The PKCS#11 signer against SoftHSM2, which the test installs (scripts/setup-softhsm.sh) and
 * initialises itself: a token in a temporary folder, an Ed25519 key made on it, signatures that
 * node:crypto verifies, typed errors, and a block certified by the HSM-held validator key.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pkcs11Signer } from './pkcs11.ts';
import { verifyEd25519 } from '../crypto/ed25519.ts';
import { SYSTEM_CONTRACTS, buildSystemContract, systemAddress } from '../../contracts/system/index.ts';
import { makeGenesis } from '../genesis.ts';
import { ChainNode } from '../node.ts';
import { SoloConsensus } from '../consensus/solo.ts';
import { verifyCommit } from '../chain/commit.ts';
import { newKeyPair } from './key-file.ts';
import type { DeployedContract } from '../execution/contracts.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-hsm-'));
const module = execFileSync(fileURLToPath(new URL('../../scripts/setup-softhsm.sh', import.meta.url)), { encoding: 'utf8' }).trim();
mkdirSync(join(dir, 'tokens'));
writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'brop-validators', '--so-pin', '10203040', '--pin', '1234'], { stdio: 'ignore' });
const options = { module, token: 'brop-validators', pin: '1234', keyLabel: 'validator-1' };

function code(fn: () => unknown): string | undefined {
  try {
    (fn() as { close?: () => void })?.close?.();
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped ${(e as Error).message}`;
  }
  return undefined;
}

test('a key made on the token signs what node:crypto verifies; it is found again by label; errors are typed', () => {
  const signer = Pkcs11Signer.open(options, { create: true });
  const message = new TextEncoder().encode('brop:vote:v1 something to sign');
  const signature = signer.sign(message);
  assert.ok(verifyEd25519(signer.publicKey, message, signature));
  const publicKey = signer.publicKey;
  signer.close();
  const again = Pkcs11Signer.open(options);
  assert.equal(again.publicKey, publicKey);
  again.close();
  assert.is(code(() => Pkcs11Signer.open({ ...options, keyLabel: 'nobody' })), 'HSM_KEY_NOT_FOUND');
  assert.is(code(() => Pkcs11Signer.open({ ...options, token: 'no-such-token' })), 'HSM_TOKEN_NOT_FOUND');
  assert.is(code(() => Pkcs11Signer.open({ ...options, pin: 'wrong' })), 'HSM_FAILED');
  assert.is(code(() => Pkcs11Signer.open({ ...options, module: '/no/such/module.so' })), 'HSM_UNAVAILABLE');
});

test('a validator whose key never leaves the HSM certifies blocks', async () => {
  const signer = Pkcs11Signer.open(options);
  const contracts: DeployedContract[] = [];
  for (const name of SYSTEM_CONTRACTS) {
    const built = await buildSystemContract(name);
    contracts.push({ name, address: systemAddress(name), wasm: built.wasm, abi: built.abi });
  }
  const genesis = makeGenesis({
    chainId: 'brop-hsm', operator: { name: 'operator', publicKey: newKeyPair().publicKey },
    validators: [{ name: 'validator-1', publicKey: signer.publicKey }], contracts: contracts.map((c) => ({ name: c.name, wasm: c.wasm })),
  });
  const node = await ChainNode.open({ dataDir: join(dir, 'data'), genesis, contracts, verifierWorkers: 0 });
  try {
    const solo = new SoloConsensus(node, signer, { onError: (e) => { throw e; } });
    await solo.produce();
    await solo.produce();
    const b = node.block(2n)!;
    verifyCommit(b.block.header, b.commit, node.validators);
  } finally {
    await node.close();
    signer.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
