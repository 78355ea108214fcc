/**
 * `npm install` runs this: builds the node's native hashing addon (node/crypto/native, one C file
 * against the Node headers, with node-gyp as npm ships it). A machine that cannot build it still
 * installs and runs: node/crypto/sha256-many.ts then hashes through node:crypto, slower, and the node
 * says so when it starts. BROP_NATIVE=0 skips the build.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../node/crypto/native/', import.meta.url));
const gyp = process.env.npm_config_node_gyp;

if (process.env.BROP_NATIVE === '0') {
  console.log('brop: native hashing addon not built (BROP_NATIVE=0)');
} else if (!gyp) {
  console.log('brop: native hashing addon not built (run through npm install, which provides node-gyp)');
} else {
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--directory', dir], { encoding: 'utf8' });
  if (r.status === 0) {
    console.log('brop: native hashing addon built');
  } else {
    // Not fatal: the fallback is correct, only slower. The output says why (no compiler, no headers).
    console.warn(`brop: native hashing addon not built; the node will hash through node:crypto (slower)\n${(r.stderr || r.error?.message || '').split('\n').slice(-15).join('\n')}`);
  }
}
