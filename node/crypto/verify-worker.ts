/** Worker thread of SignatureVerifier: checks batches of transaction signatures (batched again inside, see ed25519-cofactored.ts). */
import { parentPort } from 'node:worker_threads';
import { verifyEd25519CofactoredAll } from './ed25519-cofactored.ts';
import { unpackChecks } from './verify-pool.ts';

parentPort!.on('message', (m: { id: number; packed: Uint8Array }) => {
  const results = verifyEd25519CofactoredAll(unpackChecks(m.packed));
  parentPort!.postMessage({ id: m.id, results }, [results.buffer as ArrayBuffer]);
});
