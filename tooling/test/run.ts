/** `npm test [-- PATTERN]`: every `*.test.ts` of the project (files whose path contains PATTERN). */
import { fileURLToPath } from 'node:url';
import { runTests } from './runner.ts';

const { failed } = await runTests(fileURLToPath(new URL('../..', import.meta.url)), process.argv[2]);
if (failed > 0) process.exitCode = 1;
