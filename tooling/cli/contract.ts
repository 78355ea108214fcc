/** `brop contract build DIR` and `brop contract test DIR`. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildContract } from '../build/contract.ts';
import { CompileError } from '../build/assemblyscript.ts';
import { runTests } from '../test/runner.ts';
import { CliError, toJson } from './output.ts';

async function build(dir: string) {
  if (!existsSync(dir)) throw new CliError('CLI_FILE', `no such folder: ${dir}`);
  try {
    return await buildContract(dir);
  } catch (e) {
    if (e instanceof CompileError) throw new CliError('BUILD_COMPILE_ERROR', e.message);
    throw e;
  }
}

export async function runContractCommand(argv: string[]): Promise<number> {
  const [sub, dirArg, ...rest] = argv;
  if ((sub !== 'build' && sub !== 'test') || !dirArg) throw new CliError('CLI_USAGE', 'usage: brop contract build DIR | brop contract test DIR [PATTERN]');
  const dir = resolve(dirArg);
  const r = await build(dir);
  if (sub === 'build') {
    process.stdout.write(`${toJson({ ok: true, name: r.abi.name, codeHash: r.abi.codeHash, bytes: r.wasm.length, wasm: r.wasmPath, abi: r.abiPath, methods: r.abi.methods.map((m) => m.name) })}\n`);
    return 0;
  }
  const testDir = join(dir, 'test');
  if (!existsSync(testDir)) throw new CliError('CLI_FILE', `no test folder: ${testDir}`);
  const { failed } = await runTests(testDir, rest[0]);
  return failed > 0 ? 1 : 0;
}
