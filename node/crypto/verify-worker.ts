/** Worker thread of SignatureVerifier: checks batches of Ed25519 signatures. */
import { parentPort } from 'node:worker_threads';
import { verifyEd25519 } from './ed25519.ts';
import { unpackChecks } from './verify-pool.ts';

parentPort!.on('message', (m: { id: number; packed: Uint8Array }) => {
  const checks = unpackChecks(m.packed);
  const results = new Uint8Array(checks.length);
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i]!;
    results[i] = verifyEd25519(c.publicKey, c.message, c.signature) ? 1 : 0;
  }
  parentPort!.postMessage({ id: m.id, results }, [results.buffer]);
});
