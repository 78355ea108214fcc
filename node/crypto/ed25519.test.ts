import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateEd25519, signEd25519, verifyEd25519Remembered } from './ed25519.ts';

test('a remembered good signature answers for its own message only; a bad one is never remembered as good', () => {
  const k = generateEd25519(), other = generateEd25519();
  const msg = new TextEncoder().encode('vote 1'), msg2 = new TextEncoder().encode('vote 2');
  const sig = signEd25519(k.privateKey, msg);
  assert.ok(verifyEd25519Remembered(k.publicKey, msg, sig));
  assert.ok(verifyEd25519Remembered(k.publicKey, msg, sig)); // from memory
  assert.not.ok(verifyEd25519Remembered(k.publicKey, msg2, sig));
  assert.not.ok(verifyEd25519Remembered(other.publicKey, msg, sig));
  const bad = sig.slice();
  bad[0]! ^= 1;
  assert.not.ok(verifyEd25519Remembered(k.publicKey, msg, bad));
  assert.not.ok(verifyEd25519Remembered(k.publicKey, msg, bad));
});

test.run();
