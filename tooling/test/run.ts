/**
 * Runs every `*.test.ts` in the project with uvu (one process, suites in path order) and ends with
 * the plain summary line `N passed, N failed` that CI reads. `npm test -- PATTERN` filters by path.
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const filter = process.argv[2];
const { suites } = await parse(root, /\.test\.ts$/, { ignore: ['node_modules', 'scratch', 'build', '^examples/.*/node_modules'] });
const selected = filter ? suites.filter((s) => s.name.includes(filter)) : suites;
if (selected.length === 0) {
  console.error(`no test files match ${filter ?? '*.test.ts'}`);
  process.exit(1);
}

// uvu prints its totals; keep a copy of the output to turn them into the summary line.
let seen = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  seen += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  if (seen.length > 1 << 16) seen = seen.slice(-4096);
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

await run(selected, { bail: false });

const plain = seen.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
process.stdout.write = write;
if (Number.isNaN(total) || Number.isNaN(passed)) {
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
} else {
  console.log(`${passed} passed, ${total - passed} failed`);
  if (total - passed > 0) process.exitCode = 1;
}
