/** Worker thread of SignatureVerifier: checks batches of Ed25519 signatures. */
import { parentPort } from 'node:worker_threads';
import { verifyEd25519 } from './ed25519.ts';
import type { SignatureCheck } from './verify-pool.ts';

parentPort!.on('message', (m: { id: number; checks: SignatureCheck[] }) => {
  const results = new Uint8Array(m.checks.length);
  for (let i = 0; i < m.checks.length; i++) {
    const c = m.checks[i]!;
    results[i] = verifyEd25519(c.publicKey, c.message, c.signature) ? 1 : 0;
  }
  parentPort!.postMessage({ id: m.id, results }, [results.buffer]);
});
