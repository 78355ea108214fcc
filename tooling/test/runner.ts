/**
 * Runs `*.test.ts` files under a folder with uvu (one process, files in path order) and returns the
 * counts; prints uvu's report and then the plain line `N passed, N failed` that CI reads.
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

export interface TestCounts { passed: number; failed: number }

export async function runTests(root: string, filter?: string): Promise<TestCounts> {
  const { suites } = await parse(root, /\.test\.ts$/, { ignore: ['node_modules', 'scratch', '^build'] });
  const selected = filter ? suites.filter((s) => s.name.includes(filter)) : suites;
  if (selected.length === 0) {
    console.log(`no test files under ${root}${filter ? ` matching ${filter}` : ''}`);
    console.log('0 passed, 1 failed');
    return { passed: 0, failed: 1 };
  }
  // uvu prints its totals; keep a copy of the output to turn them into the summary line.
  let seen = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    seen += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    if (seen.length > 1 << 16) seen = seen.slice(-4096);
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    await run(selected, { bail: false });
  } finally {
    process.stdout.write = write;
  }
  const plain = seen.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const counts = Number.isNaN(total) || Number.isNaN(passed) ? { passed: 0, failed: 1 } : { passed, failed: total - passed };
  console.log(`${counts.passed} passed, ${counts.failed} failed`);
  return counts;
}
