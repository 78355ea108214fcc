#!/usr/bin/env node
// The `brop` command. BROP runs on Node >= 24 (TypeScript type stripping, libp2p 3). When started by an
// older Node, it re-runs itself with the Node 24 that `npm install` put in node_modules (the `node` package).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../tooling/cli/main.ts', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import(main);
} else {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    console.error(`brop needs Node.js 24 or newer (this is ${process.version}); run 'npm install' in the BROP folder first.`);
    process.exit(2);
  }
  const r = spawnSync(bundled, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
